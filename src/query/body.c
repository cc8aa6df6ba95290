/*
 * Writes: POST (insert, optionally upsert), PATCH (update), DELETE.
 *
 * The body is parsed with jansson only to check its shape and learn its keys; the database
 * reads the values itself from the same text, bound once:
 *   INSERT INTO "t" ("a", "b") SELECT json_extract(value, ?2), json_extract(value, ?3)
 *     FROM json_each(?1) WHERE true [ON CONFLICT (...) DO UPDATE SET ... | DO NOTHING]
 *     [RETURNING <select list>, <primary key>]
 *   UPDATE "t" SET "a" = json_extract(?1, ?2), ... WHERE <filters> [RETURNING ...]
 *   DELETE FROM "t" WHERE <filters> [RETURNING ...]
 * ("WHERE true" keeps SQLite from reading ON CONFLICT as a join constraint.) Paths are binds
 * ('$."a"'), so body keys never reach the SQL text; they are matched to schema columns first.
 *
 * Decisions where PostgREST leaves room:
 *   - PATCH with {} (and no columns=) updates nothing: the statement is kept, with WHERE false,
 *     so it answers like a PATCH that matched no row.
 *   - limit/offset on a write are refused (PARSE): a limit silently ignored would update or
 *     delete more rows than asked.
 *   - Writes on a view are passed through: SQLite refuses them unless the view has INSTEAD OF
 *     triggers, and that error is the database's to report.
 *   - !inner embeds and embedded filters shape only the returned representation, never which
 *     rows are written.
 *   - A POST of [] or of {} objects inserts through the table's first column with its default,
 *     so [{}, {}] inserts two rows of defaults.
 *
 * What is refused before any SQL runs, so that no accepted write differs from what was sent:
 *   - A string holding U+0000 ("\u0000"), on either backend: PostgreSQL's text cannot hold it
 *     and refuses it (22P05); SQLite would store the string cut short at it. (In a key,
 *     jansson refuses it itself: PGRST102.)
 *   - SQLite: a value for an INTEGER PRIMARY KEY (the rowid) that is not an integer: a JSON
 *     number with a fraction, or out of the 64-bit range; a string that is not a decimal
 *     integer; true/false, an array or an object (22P02, the value and the column named, as
 *     PostgreSQL's invalid input syntax error does). SQLite would fail with "datatype
 *     mismatch"; the backend maps that too (a number at the very edge of the range, which
 *     jansson's double cannot tell from the next one, is left to it).
 * SQLite: a JSON column takes the JSON text of its value (`value -> path`, JSON null as SQL
 * NULL), so the string "[1,2]" stays a string and does not come back as an array.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include "core/limits.h"
#include "query/ast.h"

typedef struct {
    const hp_column_t **cols;
    size_t count;
    int use_default; /* a key missing from an object takes the column's default, not NULL */
} target_t;

/* '$."name"': the JSON path of a key. A name with '"' cannot be written in SQLite's path
 * syntax; such columns are refused rather than misread. */
static int path_of(const hp_column_t *c, h2o_iovec_t *out, hp_error_t *err, h2o_mem_pool_t *pool)
{
    if (memchr(c->name, '"', c->name_len) != NULL)
        return hp_error_set(err, pool, HP_ERR_INVALID_BODY,
                            "The column '%s' cannot be written from JSON (its name has a '\"')",
                            c->name);
    char *p = h2o_mem_alloc_pool(pool, c->name_len + 4);
    p[0] = '$';
    p[1] = '.';
    p[2] = '"';
    memcpy(p + 3, c->name, c->name_len);
    p[c->name_len + 3] = '"';
    *out = h2o_iovec_init(p, c->name_len + 4);
    return 0;
}

static int invalid_body(hp_error_t *err, h2o_mem_pool_t *pool, const char *details)
{
    hp_error_set(err, pool, HP_ERR_INVALID_BODY, "Empty or invalid json");
    hp_error_details(err, pool, "%s", details);
    return -1;
}

/* Whether a string anywhere in `v` holds U+0000 (jansson's JSON_ALLOW_NUL lets it through in
 * values, with the string's length past its first NUL; in keys jansson refuses it itself).
 * Recursion is bounded by jansson's own depth limit on what it parses. */
static int holds_nul(json_t *v)
{
    if (json_is_string(v))
        return memchr(json_string_value(v), '\0', json_string_length(v)) != NULL;
    if (json_is_array(v)) {
        for (size_t i = 0; i != json_array_size(v); ++i)
            if (holds_nul(json_array_get(v, i)))
                return 1;
        return 0;
    }
    if (json_is_object(v)) {
        const char *key;
        json_t *value;
        json_object_foreach(v, key, value)
        {
            if (holds_nul(value))
                return 1;
        }
    }
    return 0;
}

/* Whether SQLite stores column c of t as the rowid: INTEGER PRIMARY KEY, the type written
 * exactly so (any case), alone in the key of a rowid table. */
static int is_rowid_alias(const hp_table_t *t, const hp_column_t *c)
{
    return t->has_rowid && !t->is_view && t->pk_count == 1 && c->is_pk &&
           strcasecmp(c->decl_type, "INTEGER") == 0;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* [ \t\n\r]* [+-]? [0-9]+ [ \t\n\r]* within 64 bits: what PostgreSQL's bigint input takes. */
static int is_int64_text(const char *s, size_t len)
{
    size_t i = 0;
    while (i != len && is_space(s[i]))
        ++i;
    int negative = i != len && s[i] == '-';
    if (i != len && (s[i] == '-' || s[i] == '+'))
        ++i;
    uint64_t v = 0, max = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    size_t digits = 0;
    for (; i != len && s[i] >= '0' && s[i] <= '9'; ++i, ++digits) {
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (max - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    while (i != len && is_space(s[i]))
        ++i;
    return digits != 0 && i == len;
}

/* SQLite: refuses a value the rowid cannot take (see the top of this file). `v` is the
 * object's value for c, NULL when absent. */
static int check_rowid_value(const hp_table_t *t, const hp_column_t *c, json_t *v, hp_error_t *err,
                             h2o_mem_pool_t *pool)
{
    if (v == NULL || json_is_null(v))
        return 0;
    if (json_is_real(v)) {
        /* Numbers are decoded as doubles (JSON_DECODE_INT_AS_REAL): an integral one within
         * [-2^63, 2^63] is taken; the edge itself SQLite checks exactly. */
        double d = json_real_value(v);
        if ((d >= -9223372036854775808.0 && d < 9223372036854775808.0 && (double)(int64_t)d == d) ||
            d == 9223372036854775808.0)
            return 0;
    } else if (json_is_integer(v)) {
        return 0; /* (should the decoding flags ever keep integers as integers) */
    } else if (json_is_string(v) && is_int64_text(json_string_value(v), json_string_length(v))) {
        return 0;
    }
    const char *text;
    size_t len;
    char *dumped = NULL;
    if (json_is_string(v)) {
        text = json_string_value(v);
        len = json_string_length(v);
    } else {
        dumped = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(17));
        text = dumped != NULL ? dumped : "?";
        len = strlen(text);
    }
    /* The value is the client's: at most 200 bytes of it in the message. */
    hp_error_set(err, pool, HP_ERR_INVALID_TEXT, "invalid input syntax for type bigint: \"%.*s%s\"",
                 (int)(len > 200 ? 200 : len), text, len > 200 ? "..." : "");
    hp_error_details(err, pool,
                     "The column '%s' of '%s' is an INTEGER PRIMARY KEY: it holds 64-bit integers "
                     "only",
                     c->name, t->name);
    free(dumped);
    return -1;
}

/* SQLite: checks the rowid column's value in every object (see check_rowid_value). */
static int check_rowid_values(const hp_table_t *t, const target_t *target, json_t *const *objects,
                              size_t object_count, hp_error_t *err, h2o_mem_pool_t *pool)
{
    for (size_t k = 0; k != target->count; ++k) {
        const hp_column_t *c = target->cols[k];
        if (!is_rowid_alias(t, c))
            continue;
        for (size_t i = 0; i != object_count; ++i)
            if (check_rowid_value(t, c, json_object_getn(objects[i], c->name, c->name_len), err,
                                  pool) != 0)
                return -1;
    }
    return 0;
}

/* The columns a body writes: columns= when given, else the keys of the first object, which
 * every other object must repeat exactly. */
static int plan_target(const hp_query__parsed_t *q, const hp_table_t *t, json_t *const *objects,
                       size_t object_count, target_t *out, hp_error_t *err, h2o_mem_pool_t *pool)
{
    if (q->columns.base != NULL) {
        int count = hp_query__parse_column_list(q->columns, t, 1, &out->cols, err, pool);
        if (count < 0)
            return -1;
        out->count = (size_t)count;
        return 0;
    }
    if (object_count == 0)
        return 0;
    size_t key_count = json_object_size(objects[0]);
    out->cols = h2o_mem_alloc_pool(pool, (key_count + 1) * sizeof(*out->cols));
    const char *key;
    size_t len;
    json_t *value;
    json_object_keylen_foreach(objects[0], key, len, value)
    {
        int index = hp_table_find_column(t, key, len);
        if (index < 0)
            return hp_error_set(err, pool, HP_ERR_UNKNOWN_BODY_COLUMN,
                                "Could not find the '%.*s' column of '%s' in the schema cache",
                                (int)(len > HP_MAX_IDENT_BYTES ? HP_MAX_IDENT_BYTES : len), key,
                                t->name);
        out->cols[out->count++] = &t->columns[index];
    }
    for (size_t i = 1; i != object_count; ++i) {
        int same = json_object_size(objects[i]) == out->count;
        for (size_t k = 0; same && k != out->count; ++k)
            same = json_object_getn(objects[i], out->cols[k]->name, out->cols[k]->name_len) != NULL;
        if (!same)
            return hp_error_set(err, pool, HP_ERR_INVALID_BODY, "All object keys must match");
    }
    return 0;
}

/* PostgreSQL: the write is a data-modifying CTE and one SELECT renders what it returned:
 *   WITH "_hp_w" AS (<write> RETURNING "t".*, (xmax = 0) AS "_hp_ins")
 *   SELECT (SELECT <body> FROM (SELECT <list> FROM "_hp_w" AS "t") AS "_hp_r") | NULL,
 *          (SELECT count(*) FROM "_hp_w"), NULL,
 *          (SELECT coalesce(bool_or("_hp_ins"), false) FROM "_hp_w"),
 *          (SELECT "t"."k"::text FROM "_hp_w" AS "t" LIMIT 1), ...      (POST: the key)
 * xmax = 0 tells a row the statement inserted from one an upsert updated. */
static void append_returning_pg(hp_query__gen_t *g, const hp_query__parsed_t *q, hp_plan_t *plan,
                                int with_location, h2o_mem_pool_t *pool)
{
    hp_exec_t *exec = &plan->exec;
    const hp_table_t *t = plan->table;
    exec->renders_in_db = 1;
    exec->returns_rows = plan->prefer.ret == HP_RETURN_REPRESENTATION;
    hp_query__gen_lit(g, " RETURNING ");
    hp_query__gen_ident(g, t->name, t->name_len);
    hp_query__gen_lit(g, ".*, ");
    if (plan->is_insert && !t->is_view)
        hp_query__gen_lit(g, "(xmax = 0)");
    else
        hp_query__gen_lit(g, "false");
    hp_query__gen_lit(g, " AS \"_hp_ins\") SELECT ");
    if (exec->returns_rows) {
        exec->col_count = q->root->sel_count;
        exec->cols = h2o_mem_alloc_pool(pool, (q->root->sel_count + 1) * sizeof(*exec->cols));
        hp_query__gen_lit(g, "(SELECT ");
        hp_query__gen_pg_body(g, exec->format);
        hp_query__gen_lit(g, " FROM (SELECT ");
        hp_query__gen_select_list(g, q->root, exec->cols);
        hp_query__gen_lit(g, " FROM \"_hp_w\" AS ");
        hp_query__gen_ident(g, t->name, t->name_len);
        hp_query__gen_lit(g, ") AS \"_hp_r\")");
    } else {
        hp_query__gen_lit(g, "NULL::text");
    }
    hp_query__gen_lit(g, ", (SELECT count(*) FROM \"_hp_w\"), NULL::int8, "
                         "(SELECT coalesce(bool_or(\"_hp_ins\"), false) FROM \"_hp_w\")");
    if (!with_location || t->pk_count == 0)
        return;
    exec->location_col_count = t->pk_count;
    exec->location_names = h2o_mem_alloc_pool(pool, t->pk_count * sizeof(h2o_iovec_t));
    for (size_t i = 0; i != t->pk_count; ++i) {
        const hp_column_t *c = &t->columns[t->pk_cols[i]];
        hp_query__gen_lit(g, ", (SELECT ");
        hp_query__gen_ident(g, c->name, c->name_len);
        hp_query__gen_lit(g, "::text FROM \"_hp_w\" LIMIT 1)");
        exec->location_names[i] = h2o_iovec_init(c->name, c->name_len);
    }
}

/* RETURNING: the select list for return=representation, then (POST) the primary key, which the
 * backend turns into the Location header. */
static void append_returning(hp_query__gen_t *g, const hp_query__parsed_t *q, hp_plan_t *plan,
                             int with_location, h2o_mem_pool_t *pool)
{
    hp_exec_t *exec = &plan->exec;
    const hp_table_t *t = plan->table;
    if (g->dialect == HP_DIALECT_POSTGRES)
        return append_returning_pg(g, q, plan, with_location, pool);
    int representation = plan->prefer.ret == HP_RETURN_REPRESENTATION;
    with_location = with_location && t->pk_count != 0;
    if (!representation && !with_location)
        return;
    exec->returns_rows = 1;
    hp_query__gen_lit(g, " RETURNING ");
    if (representation) {
        exec->col_count = q->root->sel_count;
        exec->cols = h2o_mem_alloc_pool(pool, (q->root->sel_count + 1) * sizeof(*exec->cols));
        hp_query__gen_select_list(g, q->root, exec->cols);
    }
    if (with_location) {
        exec->location_col_count = t->pk_count;
        exec->location_names = h2o_mem_alloc_pool(pool, t->pk_count * sizeof(h2o_iovec_t));
        for (size_t i = 0; i != t->pk_count; ++i) {
            const hp_column_t *c = &t->columns[t->pk_cols[i]];
            if (i != 0 || representation)
                hp_query__gen_lit(g, ", ");
            hp_query__gen_ident(g, c->name, c->name_len);
            exec->location_names[i] = h2o_iovec_init(c->name, c->name_len);
        }
    }
}

static void append_default(hp_query__gen_t *g, const hp_column_t *c)
{
    if (c->default_sql != NULL) {
        /* SQL text from the database's own schema, not from the client. */
        hp_query__gen_lit(g, "(");
        hp_query__gen_append(g, c->default_sql, strlen(c->default_sql));
        hp_query__gen_lit(g, ")");
    } else {
        hp_query__gen_lit(g, "NULL");
    }
}

/* PostgreSQL: the value of column c in one object of the body ("_hp_e"."v"), typed by
 * json_populate_record ("_hp_b"); a key missing from the object takes the column's default
 * when use_default. */
static void append_insert_value_pg(hp_query__gen_t *g, const hp_column_t *c, int use_default)
{
    if (use_default) {
        hp_query__gen_lit(g, "CASE WHEN \"_hp_e\".\"v\" -> ");
        hp_query__gen_bind_text(g, h2o_iovec_init(c->name, c->name_len));
        hp_query__gen_lit(g, "::text IS NULL THEN ");
        append_default(g, c);
        hp_query__gen_lit(g, " ELSE ");
    }
    hp_query__gen_lit(g, "\"_hp_b\".");
    hp_query__gen_ident(g, c->name, c->name_len);
    if (use_default)
        hp_query__gen_lit(g, " END");
}

/* SQLite: the value for column c at the path bound as `path_bind` in a JSON text: json_each's
 * `value` (doc_bind 0) or the bind doc_bind. A JSON column takes the value's JSON text (JSON
 * null: NULL), any other its SQL value (json_extract: a string unquoted, true as 1). */
static void append_extract(hp_query__gen_t *g, const hp_column_t *c, size_t doc_bind,
                           size_t path_bind)
{
    int is_json = c->type == HP_COLTYPE_JSON;
    if (is_json)
        hp_query__gen_lit(g, "nullif(");
    else
        hp_query__gen_lit(g, "json_extract(");
    if (doc_bind == 0)
        hp_query__gen_lit(g, "value");
    else
        hp_query__gen_placeholder(g, doc_bind);
    if (is_json)
        hp_query__gen_lit(g, " -> ");
    else
        hp_query__gen_lit(g, ", ");
    hp_query__gen_placeholder(g, path_bind);
    if (is_json)
        hp_query__gen_lit(g, ", 'null')");
    else
        hp_query__gen_lit(g, ")");
}

/* The value inserted into column c from json_each's `value`, its path bound as `path_bind`. */
static void append_insert_value(hp_query__gen_t *g, const hp_column_t *c, size_t path_bind,
                                int use_default)
{
    if (g->dialect == HP_DIALECT_POSTGRES)
        return append_insert_value_pg(g, c, use_default);
    if (!use_default) {
        append_extract(g, c, 0, path_bind);
        return;
    }
    hp_query__gen_lit(g, "CASE WHEN json_type(value, ");
    hp_query__gen_placeholder(g, path_bind);
    hp_query__gen_lit(g, ") IS NULL THEN ");
    append_default(g, c);
    hp_query__gen_lit(g, " ELSE ");
    append_extract(g, c, 0, path_bind);
    hp_query__gen_lit(g, " END");
}

static int append_on_conflict(hp_query__gen_t *g, const hp_request_t *req,
                              const hp_query__parsed_t *q, const hp_table_t *t,
                              const target_t *target, hp_error_t *err, h2o_mem_pool_t *pool)
{
    const hp_column_t **keys = NULL;
    size_t key_count = 0;
    if (q->on_conflict.base != NULL) {
        int count = hp_query__parse_column_list(q->on_conflict, t, 0, &keys, err, pool);
        if (count < 0)
            return -1;
        key_count = (size_t)count;
    } else if (t->pk_count != 0) {
        keys = h2o_mem_alloc_pool(pool, t->pk_count * sizeof(*keys));
        for (size_t i = 0; i != t->pk_count; ++i)
            keys[i] = &t->columns[t->pk_cols[i]];
        key_count = t->pk_count;
    } else if (req->prefer.resolution == HP_RESOLUTION_MERGE) {
        return hp_error_set(err, pool, HP_ERR_PARSE,
                            "resolution=merge-duplicates needs on_conflict when '%s' has no "
                            "primary key",
                            t->name);
    }
    hp_query__gen_lit(g, " ON CONFLICT");
    if (key_count != 0) {
        hp_query__gen_lit(g, " (");
        for (size_t i = 0; i != key_count; ++i) {
            if (i != 0)
                hp_query__gen_lit(g, ", ");
            hp_query__gen_ident(g, keys[i]->name, keys[i]->name_len);
        }
        hp_query__gen_lit(g, ")");
    }
    if (req->prefer.resolution == HP_RESOLUTION_IGNORE) {
        hp_query__gen_lit(g, " DO NOTHING");
        return 0;
    }
    hp_query__gen_lit(g, " DO UPDATE SET ");
    for (size_t i = 0; i != target->count; ++i) {
        const hp_column_t *c = target->cols[i];
        if (i != 0)
            hp_query__gen_lit(g, ", ");
        hp_query__gen_ident(g, c->name, c->name_len);
        hp_query__gen_lit(g, " = excluded.");
        hp_query__gen_ident(g, c->name, c->name_len);
    }
    return 0;
}

/* Copies the body into the pool (a single object wrapped as "[...]" for json_each). */
static h2o_iovec_t copy_body(h2o_iovec_t body, int wrap, h2o_mem_pool_t *pool)
{
    size_t len = body.len + (wrap ? 2 : 0);
    char *p = h2o_mem_alloc_pool(pool, len + 1), *d = p;
    if (wrap)
        *d++ = '[';
    memcpy(d, body.base, body.len);
    d += body.len;
    if (wrap)
        *d++ = ']';
    *d = '\0';
    return h2o_iovec_init(p, len);
}

static int plan_insert(const hp_request_t *req, const hp_query__parsed_t *q, json_t *doc,
                       hp_query__gen_t *g, hp_plan_t *plan, hp_error_t *err, h2o_mem_pool_t *pool)
{
    const hp_table_t *t = plan->table;
    size_t object_count;
    json_t *const *objects;
    json_t *single = doc;
    if (json_is_object(doc)) {
        objects = &single;
        object_count = 1;
    } else if (json_is_array(doc)) {
        object_count = json_array_size(doc);
        json_t **list = h2o_mem_alloc_pool(pool, (object_count + 1) * sizeof(*list));
        for (size_t i = 0; i != object_count; ++i) {
            list[i] = json_array_get(doc, i);
            if (!json_is_object(list[i]))
                return invalid_body(err, pool, "expected an object or an array of objects");
        }
        objects = list;
    } else {
        return invalid_body(err, pool, "expected an object or an array of objects");
    }

    target_t target = {NULL, 0, req->prefer.missing == HP_MISSING_DEFAULT};
    if (plan_target(q, t, objects, object_count, &target, err, pool) != 0)
        return -1;
    if (target.count == 0) {
        if (t->column_count == 0)
            return invalid_body(err, pool, "the table has no columns");
        target.cols = h2o_mem_alloc_pool(pool, sizeof(*target.cols));
        target.cols[0] = &t->columns[0];
        target.count = 1;
        target.use_default = 1;
    }

    int pg = g->dialect == HP_DIALECT_POSTGRES;
    if (!pg && check_rowid_values(t, &target, objects, object_count, err, pool) != 0)
        return -1;
    hp_query__gen_add_text(g, copy_body(req->body, json_is_object(doc), pool));
    if (pg)
        hp_query__gen_lit(g, "WITH \"_hp_w\" AS (");
    hp_query__gen_lit(g, "INSERT INTO ");
    hp_query__gen_ident(g, t->name, t->name_len);
    hp_query__gen_lit(g, " (");
    for (size_t i = 0; i != target.count; ++i) {
        if (i != 0)
            hp_query__gen_lit(g, ", ");
        hp_query__gen_ident(g, target.cols[i]->name, target.cols[i]->name_len);
    }
    hp_query__gen_lit(g, ")");
    /* Defaults are written as their expressions; an identity column's is nextval() of its
     * own sequence, which GENERATED ALWAYS only takes with this clause. */
    if (pg && target.use_default)
        hp_query__gen_lit(g, " OVERRIDING SYSTEM VALUE");
    hp_query__gen_lit(g, " SELECT ");
    for (size_t i = 0; i != target.count; ++i) {
        h2o_iovec_t path;
        if (!pg && path_of(target.cols[i], &path, err, pool) != 0)
            return -1;
        if (i != 0)
            hp_query__gen_lit(g, ", ");
        append_insert_value(g, target.cols[i], pg ? 0 : hp_query__gen_add_text(g, path),
                            target.use_default);
    }
    if (pg) {
        hp_query__gen_lit(g, " FROM json_array_elements($1::json) AS \"_hp_e\"(\"v\"), "
                             "json_populate_record(NULL::");
        hp_query__gen_ident(g, t->name, t->name_len);
        hp_query__gen_lit(g, ", \"_hp_e\".\"v\") AS \"_hp_b\"");
    } else {
        hp_query__gen_lit(g, " FROM json_each(");
        hp_query__gen_placeholder(g, 1);
        hp_query__gen_lit(g, ") WHERE true");
    }
    if (req->prefer.resolution != HP_RESOLUTION_NONE &&
        append_on_conflict(g, req, q, t, &target, err, pool) != 0)
        return -1;
    append_returning(g, q, plan, 1, pool);
    return 0;
}

/* PostgreSQL: SET ("a", "b") = (SELECT "a", "b" FROM json_populate_record(NULL::"t", $1)) */
static void append_update_set_pg(hp_query__gen_t *g, const hp_table_t *t, const target_t *target,
                                 h2o_iovec_t body)
{
    for (int pass = 0; pass != 2; ++pass) {
        if (pass == 0)
            hp_query__gen_lit(g, "(");
        else
            hp_query__gen_lit(g, " = (SELECT ");
        for (size_t i = 0; i != target->count; ++i) {
            if (i != 0)
                hp_query__gen_lit(g, ", ");
            hp_query__gen_ident(g, target->cols[i]->name, target->cols[i]->name_len);
        }
        if (pass == 0)
            hp_query__gen_lit(g, ")");
    }
    hp_query__gen_lit(g, " FROM json_populate_record(NULL::");
    hp_query__gen_ident(g, t->name, t->name_len);
    hp_query__gen_lit(g, ", ");
    hp_query__gen_bind_text(g, body);
    hp_query__gen_lit(g, "::json))");
}

static int plan_update(const hp_request_t *req, const hp_query__parsed_t *q, json_t *doc,
                       hp_query__gen_t *g, hp_plan_t *plan, hp_error_t *err, h2o_mem_pool_t *pool)
{
    const hp_table_t *t = plan->table;
    if (!json_is_object(doc))
        return invalid_body(err, pool, "expected a JSON object");
    target_t target = {NULL, 0, 0};
    if (plan_target(q, t, &doc, 1, &target, err, pool) != 0)
        return -1;
    int pg = g->dialect == HP_DIALECT_POSTGRES;
    if (!pg && check_rowid_values(t, &target, &doc, 1, err, pool) != 0)
        return -1;

    if (pg)
        hp_query__gen_lit(g, "WITH \"_hp_w\" AS (");
    hp_query__gen_lit(g, "UPDATE ");
    hp_query__gen_ident(g, t->name, t->name_len);
    hp_query__gen_lit(g, " SET ");
    if (target.count == 0) {
        if (t->column_count == 0)
            return invalid_body(err, pool, "the table has no columns");
        const hp_column_t *c = &t->columns[0];
        hp_query__gen_ident(g, c->name, c->name_len);
        hp_query__gen_lit(g, " = ");
        hp_query__gen_ident(g, c->name, c->name_len);
        hp_query__gen_lit(g, " WHERE false");
    } else if (pg) {
        append_update_set_pg(g, t, &target, copy_body(req->body, 0, pool));
        hp_query__gen_where(g, q->root, 0);
    } else {
        size_t body_bind = hp_query__gen_add_text(g, copy_body(req->body, 0, pool));
        for (size_t i = 0; i != target.count; ++i) {
            const hp_column_t *c = target.cols[i];
            h2o_iovec_t path;
            if (path_of(c, &path, err, pool) != 0)
                return -1;
            if (i != 0)
                hp_query__gen_lit(g, ", ");
            hp_query__gen_ident(g, c->name, c->name_len);
            hp_query__gen_lit(g, " = ");
            append_extract(g, c, body_bind, hp_query__gen_add_text(g, path));
        }
        hp_query__gen_where(g, q->root, 0);
    }
    append_returning(g, q, plan, 0, pool);
    return 0;
}

int hp_query__plan_write(const hp_request_t *req, const hp_query__parsed_t *q, hp_dialect_t dialect,
                         hp_plan_t *plan, hp_error_t *err, h2o_mem_pool_t *pool)
{
    hp_exec_t *exec = &plan->exec;
    if (plan->prefer.ret == HP_RETURN_DEFAULT)
        plan->prefer.ret = HP_RETURN_MINIMAL;
    if (req->method != HP_METHOD_POST)
        plan->prefer.resolution = HP_RESOLUTION_NONE;
    exec->kind = HP_EXEC_WRITE;
    if (q->root->has_limit || q->root->offset != 0)
        return hp_error_set(err, pool, HP_ERR_PARSE,
                            "limit and offset are not supported on writes");

    hp_query__gen_t g;
    hp_query__gen_init(&g, dialect, pool);
    plan->is_insert = req->method == HP_METHOD_POST;
    if (req->method == HP_METHOD_DELETE) {
        if (dialect == HP_DIALECT_POSTGRES)
            hp_query__gen_lit(&g, "WITH \"_hp_w\" AS (");
        hp_query__gen_lit(&g, "DELETE FROM ");
        hp_query__gen_ident(&g, plan->table->name, plan->table->name_len);
        hp_query__gen_where(&g, q->root, 0);
        append_returning(&g, q, plan, 0, pool);
        hp_query__gen_finish(&g, &exec->main);
        return 0;
    }

    json_error_t jerr;
    json_t *doc = NULL;
    int rc = -1;
    if (req->body.len == 0) {
        invalid_body(err, pool, "the request body is empty");
        goto done;
    }
    doc = json_loadb(req->body.base, req->body.len,
                     JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &jerr);
    if (doc == NULL) {
        invalid_body(err, pool, jerr.text);
        goto done;
    }
    /* PostgreSQL's own words for it (json_populate_record refuses the same). */
    if (memmem(req->body.base, req->body.len, "u0000", 5) != NULL && holds_nul(doc)) {
        hp_error_set(err, pool, HP_ERR_UNTRANSLATABLE, "unsupported Unicode escape sequence");
        hp_error_details(err, pool, "\\u0000 cannot be converted to text.");
        goto done;
    }
    if (req->method == HP_METHOD_POST)
        rc = plan_insert(req, q, doc, &g, plan, err, pool);
    else
        rc = plan_update(req, q, doc, &g, plan, err, pool);
    if (rc == 0)
        hp_query__gen_finish(&g, &exec->main);

done:
    if (doc != NULL)
        json_decref(doc);
    return rc;
}
