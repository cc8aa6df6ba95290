/*
 * Result rows -> the response body, while the statement steps (exec.h has the rules). Object
 * keys are escaped once per job into `{"k0":` / `,"k1":` prefixes, so a row costs one append
 * per key plus its values. Values go by SQLite storage class and the column's hp_render_t.
 * JSON text (HP_RENDER_JSON) is inlined only after a linear validity check (the header's
 * contract: invalid JSON renders as a string), which also keeps the output valid UTF-8.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/json.h"
#include "core/limits.h"
#include "db/sqlite/sqlite.h"

static const char hex_digits[] = "0123456789abcdef";

/* --- a JSON validity check (RFC 8259), for values inlined raw --- */

/* Deeper nesting than this is treated as invalid (and rendered as a string). */
#define JSON_MAX_DEPTH 512

typedef struct {
    const unsigned char *p, *end;
} json_scan_t;

static void skip_ws(json_scan_t *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_hex(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* string = '"' *( unescaped / '\' escape ) '"'; bytes >= 0x80 were checked as UTF-8 upfront. */
static int scan_string(json_scan_t *s)
{
    s->p++; /* the opening quote */
    while (s->p < s->end) {
        unsigned char c = *s->p++;
        if (c == '"')
            return 1;
        if (c < 0x20)
            return 0;
        if (c == '\\') {
            if (s->p >= s->end)
                return 0;
            c = *s->p++;
            if (c == 'u') {
                if (s->end - s->p < 4 || !is_hex(s->p[0]) || !is_hex(s->p[1]) || !is_hex(s->p[2]) ||
                    !is_hex(s->p[3]))
                    return 0;
                s->p += 4;
            } else if (!strchr("\"\\/bfnrt", c) || c == '\0') {
                return 0;
            }
        }
    }
    return 0;
}

/* number = [ '-' ] int [ frac ] [ exp ] */
static int scan_number(json_scan_t *s)
{
    if (s->p < s->end && *s->p == '-')
        s->p++;
    if (s->p >= s->end || !is_digit(*s->p))
        return 0;
    if (*s->p == '0')
        s->p++;
    else
        while (s->p < s->end && is_digit(*s->p))
            s->p++;
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (s->p >= s->end || !is_digit(*s->p))
            return 0;
        while (s->p < s->end && is_digit(*s->p))
            s->p++;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (s->p >= s->end || !is_digit(*s->p))
            return 0;
        while (s->p < s->end && is_digit(*s->p))
            s->p++;
    }
    return 1;
}

static int scan_literal(json_scan_t *s, const char *lit, size_t len)
{
    if ((size_t)(s->end - s->p) < len || memcmp(s->p, lit, len) != 0)
        return 0;
    s->p += len;
    return 1;
}

/* value = object / array / string / number / true / false / null */
static int scan_value(json_scan_t *s, int depth)
{
    skip_ws(s);
    if (s->p >= s->end)
        return 0;
    switch (*s->p) {
    case '{':
    case '[': {
        unsigned char close = *s->p == '{' ? '}' : ']';
        int is_object = close == '}';
        if (depth >= JSON_MAX_DEPTH)
            return 0;
        s->p++;
        skip_ws(s);
        if (s->p < s->end && *s->p == close) {
            s->p++;
            return 1;
        }
        for (;;) {
            if (is_object) {
                skip_ws(s);
                if (s->p >= s->end || *s->p != '"' || !scan_string(s))
                    return 0;
                skip_ws(s);
                if (s->p >= s->end || *s->p++ != ':')
                    return 0;
            }
            if (!scan_value(s, depth + 1))
                return 0;
            skip_ws(s);
            if (s->p >= s->end)
                return 0;
            unsigned char c = *s->p++;
            if (c == close)
                return 1;
            if (c != ',')
                return 0;
        }
    }
    case '"': return scan_string(s);
    case 't': return scan_literal(s, "true", 4);
    case 'f': return scan_literal(s, "false", 5);
    case 'n': return scan_literal(s, "null", 4);
    default: return scan_number(s);
    }
}

static int json_is_valid(const char *text, size_t len)
{
    if (!hp_utf8_is_valid(text, len))
        return 0;
    json_scan_t s = {(const unsigned char *)text, (const unsigned char *)text + len};
    if (!scan_value(&s, 0))
        return 0;
    skip_ws(&s);
    return s.p == s.end;
}

/* --- values --- */

static void append_hex(hp_buf_t *buf, const unsigned char *p, size_t len)
{
    char *o = hp_buf_reserve(buf, len * 2);
    for (size_t i = 0; i < len; i++) {
        o[2 * i] = hex_digits[p[i] >> 4];
        o[2 * i + 1] = hex_digits[p[i] & 15];
    }
    buf->len += len * 2;
}

static void render_json_auto(hp_buf_t *buf, sqlite3_stmt *stmt, int i, int type)
{
    switch (type) {
    case SQLITE_INTEGER: hp_json_int(buf, sqlite3_column_int64(stmt, i)); break;
    case SQLITE_FLOAT: hp_json_double(buf, sqlite3_column_double(stmt, i)); break;
    case SQLITE_TEXT: {
        const char *text = (const char *)sqlite3_column_text(stmt, i);
        hp_json_string(buf, text, (size_t)sqlite3_column_bytes(stmt, i));
        break;
    }
    case SQLITE_BLOB: {
        /* PostgreSQL's bytea hex form, as PostgREST sends it: the JSON string "\\x0a1b". */
        const void *blob = sqlite3_column_blob(stmt, i);
        size_t len = (size_t)sqlite3_column_bytes(stmt, i);
        hp_buf_append_lit(buf, "\"\\\\x");
        append_hex(buf, blob, len);
        hp_buf_putc(buf, '"');
        break;
    }
    default: hp_json_null(buf); break;
    }
}

static void render_json_value(hp_buf_t *buf, sqlite3_stmt *stmt, int i, hp_render_t render)
{
    int type = sqlite3_column_type(stmt, i);
    if (render == HP_RENDER_BOOL) {
        if (type == SQLITE_INTEGER) {
            hp_json_bool(buf, sqlite3_column_int64(stmt, i) != 0);
            return;
        }
        if (type == SQLITE_FLOAT) {
            hp_json_bool(buf, sqlite3_column_double(stmt, i) != 0.0);
            return;
        }
    } else if (render == HP_RENDER_JSON && type == SQLITE_TEXT) {
        const char *text = (const char *)sqlite3_column_text(stmt, i);
        size_t len = (size_t)sqlite3_column_bytes(stmt, i);
        if (json_is_valid(text, len)) {
            hp_buf_append(buf, text, len);
            return;
        }
    }
    render_json_auto(buf, stmt, i, type);
}

static void append_double_text(hp_buf_t *buf, double v)
{
    if (isnan(v))
        hp_buf_append_lit(buf, "NaN");
    else if (isinf(v))
        hp_buf_append(buf, v < 0 ? "-Infinity" : "Infinity", v < 0 ? 9 : 8);
    else
        hp_json_double(buf, v);
}

/* A CSV value: numbers as JSON writes them, text raw, blobs as \x<hex>, NULL empty, and
 * booleans as PostgreSQL's t/f (what PostgREST's CSV shows). */
static void render_csv_value(hp_buf_t *buf, sqlite3_stmt *stmt, int i, hp_render_t render)
{
    int type = sqlite3_column_type(stmt, i);
    switch (type) {
    case SQLITE_INTEGER:
        if (render == HP_RENDER_BOOL)
            hp_buf_putc(buf, sqlite3_column_int64(stmt, i) != 0 ? 't' : 'f');
        else
            hp_json_int(buf, sqlite3_column_int64(stmt, i));
        break;
    case SQLITE_FLOAT:
        if (render == HP_RENDER_BOOL)
            hp_buf_putc(buf, sqlite3_column_double(stmt, i) != 0.0 ? 't' : 'f');
        else
            append_double_text(buf, sqlite3_column_double(stmt, i));
        break;
    case SQLITE_TEXT:
        hp_exec_append_csv_field(buf, (const char *)sqlite3_column_text(stmt, i),
                                 (size_t)sqlite3_column_bytes(stmt, i));
        break;
    case SQLITE_BLOB:
        hp_buf_append_lit(buf, "\\x");
        append_hex(buf, sqlite3_column_blob(stmt, i), (size_t)sqlite3_column_bytes(stmt, i));
        break;
    default: break;
    }
}

/* "k1=eq.v1&k2=eq.v2" from the location columns of the current row. */
static void render_location(hp_buf_t *buf, const hp_exec_t *exec, sqlite3_stmt *stmt)
{
    hp_buf_t text;
    hp_buf_init(&text);
    for (size_t k = 0; k < exec->location_col_count; k++) {
        int i = (int)(exec->col_count + k);
        if (k > 0)
            hp_buf_putc(buf, '&');
        hp_exec_append_percent_encoded(buf, exec->location_names[k].base,
                                       exec->location_names[k].len);
        text.len = 0;
        switch (sqlite3_column_type(stmt, i)) {
        case SQLITE_NULL: hp_buf_append_lit(buf, "=is.null"); continue;
        case SQLITE_INTEGER: hp_json_int(&text, sqlite3_column_int64(stmt, i)); break;
        case SQLITE_FLOAT: append_double_text(&text, sqlite3_column_double(stmt, i)); break;
        case SQLITE_BLOB:
            hp_buf_append_lit(&text, "\\x");
            append_hex(&text, sqlite3_column_blob(stmt, i), (size_t)sqlite3_column_bytes(stmt, i));
            break;
        default:
            hp_buf_append(&text, sqlite3_column_text(stmt, i),
                          (size_t)sqlite3_column_bytes(stmt, i));
            break;
        }
        hp_buf_append_lit(buf, "=eq.");
        hp_exec_append_percent_encoded(buf, text.ptr, text.len);
    }
    hp_buf_dispose(&text);
}

/* --- rows --- */

void hp_sqlite__render_begin(hp_sqlite__render_t *r, const hp_exec_t *exec,
                             hp_exec_result_t *result, h2o_mem_pool_t *pool)
{
    r->exec = exec;
    r->result = result;
    r->pool = pool;
    r->keys = NULL;
    hp_buf_init(&r->location);
    hp_buf_t *body = &result->body;

    if (exec->format == HP_FORMAT_CSV) {
        hp_exec_append_csv_header(body, exec);
        return;
    }
    if (exec->format == HP_FORMAT_BATCH)
        return;
    /* Keys escaped once into one buffer, then copied into the job's pool. */
    hp_buf_t text;
    hp_buf_init(&text);
    size_t *ends = h2o_mem_alloc_pool(pool, sizeof(*ends) * (exec->col_count + 1));
    for (size_t i = 0; i < exec->col_count; i++) {
        hp_buf_putc(&text, i == 0 ? '{' : ',');
        hp_json_string(&text, exec->cols[i].name.base, exec->cols[i].name.len);
        hp_buf_putc(&text, ':');
        ends[i] = text.len;
    }
    char *base = h2o_mem_alloc_pool(pool, text.len + 1);
    if (text.len != 0)
        memcpy(base, text.ptr, text.len);
    hp_buf_dispose(&text);
    r->keys = h2o_mem_alloc_pool(pool, sizeof(*r->keys) * (exec->col_count + 1));
    for (size_t i = 0, start = 0; i < exec->col_count; start = ends[i], i++)
        r->keys[i] = h2o_iovec_init(base + start, ends[i] - start);
    if (exec->format == HP_FORMAT_JSON)
        hp_buf_putc(body, '[');
}

int hp_sqlite__render_row(hp_sqlite__render_t *r, sqlite3_stmt *stmt)
{
    const hp_exec_t *exec = r->exec;
    hp_exec_result_t *result = r->result;
    hp_buf_t *body = &result->body;

    ++result->row_count;
    if (exec->location_col_count != 0) {
        /* Only a single-row result gets a Location: keep the first row's, drop it on the next. */
        r->location.len = 0;
        if (result->row_count == 1)
            render_location(&r->location, exec, stmt);
    }
    switch (exec->format) {
    case HP_FORMAT_OBJECT:
        /* Only the first row can be the answer; later ones are counted for the error. */
        if (result->row_count > 1)
            return 0;
        /* fallthrough */
    case HP_FORMAT_JSON:
        if (result->row_count > 1)
            hp_buf_putc(body, ',');
        if (exec->col_count == 0) {
            hp_buf_append_lit(body, "{}");
            break;
        }
        for (size_t i = 0; i < exec->col_count; i++) {
            hp_buf_append(body, r->keys[i].base, r->keys[i].len);
            render_json_value(body, stmt, (int)i, exec->cols[i].render);
        }
        hp_buf_putc(body, '}');
        break;
    case HP_FORMAT_BATCH:
        if (result->row_count > 1)
            hp_buf_putc(body, HP_BATCH_SEPARATOR);
        hp_json_int(body, sqlite3_column_int64(stmt, 0));
        hp_buf_putc(body, ':');
        hp_buf_append(body, sqlite3_column_text(stmt, 1), (size_t)sqlite3_column_bytes(stmt, 1));
        break;
    case HP_FORMAT_CSV:
        for (size_t i = 0; i < exec->col_count; i++) {
            if (i > 0)
                hp_buf_putc(body, ',');
            render_csv_value(body, stmt, (int)i, exec->cols[i].render);
        }
        hp_buf_putc(body, '\n');
        break;
    }
    if (body->len > HP_MAX_RESPONSE_BYTES)
        return hp_error_set(&result->error, r->pool, HP_ERR_INTERNAL,
                            "The response is larger than %u bytes", HP_MAX_RESPONSE_BYTES);
    return 0;
}

void hp_sqlite__render_end(hp_sqlite__render_t *r)
{
    if (r->exec->format == HP_FORMAT_JSON)
        hp_buf_putc(&r->result->body, ']');
    if (r->exec->location_col_count != 0 && r->result->row_count == 1 && r->location.len != 0) {
        size_t len;
        char *p = hp_buf_take(&r->location, &len);
        r->result->location = h2o_iovec_init(p, len);
    }
    hp_buf_dispose(&r->location);
}

void hp_sqlite__render_abort(hp_sqlite__render_t *r)
{
    hp_buf_dispose(&r->location);
}
