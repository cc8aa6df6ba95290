/*
 * SQL text from a resolved query tree. Identifiers come only from the schema snapshot and are
 * double-quoted; values, JSON paths and client-chosen keys are binds. Numbering of binds follows
 * the order they are added, so a statement can be written in any order of its parts.
 *
 * Shapes (SQLite dialect):
 *   top level   SELECT <list> FROM "t" WHERE <conds> ORDER BY ... LIMIT ?n OFFSET ?m
 *               (columns of "t" unqualified; subqueries name it "t")
 *   to-one      (SELECT json_object('k', v, ...) FROM "c" AS "_hpN" WHERE <join> AND <conds>)
 *   to-many     (SELECT json_group_array(json_object(...)) FROM "c" AS "_hpN" WHERE ...)
 *               or, when the embed has order/limit/offset, over a derived table that orders
 *               and limits first: (SELECT json_group_array(json_object('k', "_hpN"."c0", ...))
 *               FROM (SELECT <raw values> AS "c0", ... FROM "c" AS "_hpN" WHERE ... ORDER BY
 *               ... LIMIT ...) AS "_hpN")
 *   !inner      EXISTS (SELECT 1 FROM "c" AS "_hpN" WHERE <join> AND <conds>) in the parent
 * Values inside json_object are made JSON-typed (booleans, JSON columns, nested embeds) because
 * a JSON subtype does not survive a derived table and text would be quoted as a string.
 * The PostgreSQL dialect would change the function names, placeholders and NULLS handling
 * only; those choices are kept in the small helpers marked "dialect".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "query/ast.h"

/* --- the growable string and the binds --- */

void hp_query__gen_init(hp_query__gen_t *g, hp_dialect_t dialect, h2o_mem_pool_t *pool)
{
    memset(g, 0, sizeof(*g));
    g->pool = pool;
    g->dialect = dialect;
}

void hp_query__gen_finish(hp_query__gen_t *g, hp_stmt_t *out)
{
    if (g->ptr == NULL)
        hp_query__gen_append(g, "", 0);
    out->sql = g->ptr;
    out->sql_len = g->len;
    out->binds = g->binds;
    out->bind_count = g->bind_count;
    hp_query__gen_init(g, g->dialect, g->pool);
}

static void reserve(hp_query__gen_t *g, size_t extra)
{
    if (g->cap - g->len > extra)
        return;
    size_t cap = g->cap == 0 ? 256 : g->cap * 2;
    while (cap - g->len <= extra)
        cap *= 2;
    char *p = h2o_mem_alloc_pool(g->pool, cap);
    if (g->len != 0)
        memcpy(p, g->ptr, g->len);
    g->ptr = p;
    g->cap = cap;
}

void hp_query__gen_append(hp_query__gen_t *g, const char *s, size_t len)
{
    reserve(g, len);
    memcpy(g->ptr + g->len, s, len);
    g->len += len;
    g->ptr[g->len] = '\0';
}

static void append_uint(hp_query__gen_t *g, uint64_t v)
{
    /* Every placeholder number comes through here: a digit loop, not printf. */
    char tmp[24];
    size_t n = sizeof(tmp);
    do
        tmp[--n] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    hp_query__gen_append(g, tmp + n, sizeof(tmp) - n);
}

void hp_query__gen_ident(hp_query__gen_t *g, const char *name, size_t len)
{
    reserve(g, len * 2 + 2);
    char *dst = g->ptr + g->len;
    *dst++ = '"';
    for (size_t i = 0; i != len; ++i) {
        if (name[i] == '"')
            *dst++ = '"';
        *dst++ = name[i];
    }
    *dst++ = '"';
    g->len = (size_t)(dst - g->ptr);
    g->ptr[g->len] = '\0';
}

/* A string literal for text that comes from the schema (never from the client). */
static void append_literal(hp_query__gen_t *g, const char *s, size_t len)
{
    reserve(g, len * 2 + 2);
    char *dst = g->ptr + g->len;
    *dst++ = '\'';
    for (size_t i = 0; i != len; ++i) {
        if (s[i] == '\'')
            *dst++ = '\'';
        *dst++ = s[i];
    }
    *dst++ = '\'';
    g->len = (size_t)(dst - g->ptr);
    g->ptr[g->len] = '\0';
}

/* dialect: ?N for SQLite, $N for PostgreSQL. */
void hp_query__gen_placeholder(hp_query__gen_t *g, size_t number)
{
    hp_query__gen_append(g, g->dialect == HP_DIALECT_POSTGRES ? "$" : "?", 1);
    append_uint(g, number);
}

static hp_bind_t *new_bind(hp_query__gen_t *g)
{
    if (g->bind_count == g->bind_cap) {
        size_t cap = g->bind_cap == 0 ? 8 : g->bind_cap * 2;
        hp_bind_t *b = h2o_mem_alloc_pool(g->pool, cap * sizeof(*b));
        if (g->bind_count != 0)
            memcpy(b, g->binds, g->bind_count * sizeof(*b));
        g->binds = b;
        g->bind_cap = cap;
    }
    hp_bind_t *b = g->binds + g->bind_count++;
    memset(b, 0, sizeof(*b));
    return b;
}

static hp_bind_t *add_bind(hp_query__gen_t *g)
{
    hp_bind_t *b = new_bind(g);
    hp_query__gen_placeholder(g, g->bind_count);
    return b;
}

size_t hp_query__gen_add_text(hp_query__gen_t *g, h2o_iovec_t text)
{
    hp_bind_t *b = new_bind(g);
    b->kind = HP_BIND_TEXT;
    b->text = text;
    return g->bind_count;
}

void hp_query__gen_bind_text(hp_query__gen_t *g, h2o_iovec_t text)
{
    hp_bind_t *b = add_bind(g);
    b->kind = HP_BIND_TEXT;
    b->text = text;
}

void hp_query__gen_bind_int(hp_query__gen_t *g, int64_t v)
{
    hp_bind_t *b = add_bind(g);
    b->kind = HP_BIND_INT;
    b->i = v;
}

static void bind_real(hp_query__gen_t *g, double v)
{
    hp_bind_t *b = add_bind(g);
    b->kind = HP_BIND_REAL;
    b->d = v;
}

/* --- typing filter values --- */

/* The whole of s is a decimal int64 ("-12", "+7"). */
static int parse_int64(h2o_iovec_t s, int64_t *out)
{
    size_t i = 0;
    int neg = 0;
    if (s.len != 0 && (s.base[0] == '-' || s.base[0] == '+')) {
        neg = s.base[0] == '-';
        i = 1;
    }
    if (i == s.len || s.len - i > 19)
        return 0;
    uint64_t v = 0;
    for (; i != s.len; ++i) {
        if (s.base[i] < '0' || s.base[i] > '9')
            return 0;
        v = v * 10 + (uint64_t)(s.base[i] - '0');
    }
    if (neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX)
        return 0;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 1;
}

/* The whole of s is a finite decimal number: [+-](d+[.d*]|.d+)([eE][+-]d+)? */
static int parse_real(h2o_iovec_t s, double *out)
{
    size_t i = 0, digits = 0;
    char tmp[64];
    if (s.len == 0 || s.len >= sizeof(tmp))
        return 0;
    if (s.base[i] == '-' || s.base[i] == '+')
        ++i;
    for (; i < s.len && s.base[i] >= '0' && s.base[i] <= '9'; ++i)
        ++digits;
    if (i < s.len && s.base[i] == '.')
        for (++i; i < s.len && s.base[i] >= '0' && s.base[i] <= '9'; ++i)
            ++digits;
    if (digits == 0)
        return 0;
    if (i < s.len && (s.base[i] == 'e' || s.base[i] == 'E')) {
        ++i;
        if (i < s.len && (s.base[i] == '-' || s.base[i] == '+'))
            ++i;
        size_t exp_start = i;
        for (; i < s.len && s.base[i] >= '0' && s.base[i] <= '9'; ++i)
            ;
        if (i == exp_start)
            return 0;
    }
    if (i != s.len)
        return 0;
    memcpy(tmp, s.base, s.len);
    tmp[s.len] = '\0';
    double d = strtod(tmp, NULL);
    if (d != d || d > 1.7976931348623157e308 || d < -1.7976931348623157e308)
        return 0;
    *out = d;
    return 1;
}

static int parse_bool(h2o_iovec_t s, int *out)
{
    static const struct {
        const char *text;
        int value;
    } words[] = {{"true", 1}, {"false", 0}, {"t", 1}, {"f", 0}, {"1", 1}, {"0", 0}};
    for (size_t w = 0; w != sizeof(words) / sizeof(words[0]); ++w) {
        if (strlen(words[w].text) == s.len && strncasecmp(words[w].text, s.base, s.len) == 0) {
            *out = words[w].value;
            return 1;
        }
    }
    return 0;
}

typedef enum {
    TYPE_INTEGER,
    TYPE_REAL,
    TYPE_NUMERIC,
    TYPE_TEXT,
    TYPE_BOOLEAN,
    TYPE_GUESS
} value_type_t;

static value_type_t type_of_field(const hp_query__field_t *f)
{
    if (f->cast != NULL) {
        if (f->cast_is_bool)
            return TYPE_BOOLEAN;
        if (strcmp(f->cast, "INTEGER") == 0)
            return TYPE_INTEGER;
        if (strcmp(f->cast, "REAL") == 0)
            return TYPE_REAL;
        if (strcmp(f->cast, "NUMERIC") == 0)
            return TYPE_NUMERIC;
        return TYPE_TEXT;
    }
    if (f->path.len != 0)
        return f->path_is_text ? TYPE_GUESS : TYPE_TEXT;
    switch (f->col->type) {
    case HP_COLTYPE_INTEGER: return TYPE_INTEGER;
    case HP_COLTYPE_REAL: return TYPE_REAL;
    case HP_COLTYPE_NUMERIC: return TYPE_NUMERIC;
    case HP_COLTYPE_BOOLEAN: return TYPE_BOOLEAN;
    default: return TYPE_TEXT;
    }
}

/* Binds a filter value typed for the column it is compared with: a number for a numeric
 * column when the whole text is one, 1/0 for a boolean word, else text (SQLite then applies
 * the column's affinity, as it would to a literal). */
static void bind_value(hp_query__gen_t *g, const hp_query__field_t *f, h2o_iovec_t v)
{
    int64_t i;
    double d;
    int b;
    /* dialect: PostgreSQL types an untyped parameter from its context, as it would a literal,
     * and refuses text that is not a value of the column's type (22P02), as PostgREST does. */
    if (g->dialect == HP_DIALECT_POSTGRES)
        return hp_query__gen_bind_text(g, v);
    switch (type_of_field(f)) {
    case TYPE_INTEGER:
        if (parse_int64(v, &i))
            return hp_query__gen_bind_int(g, i);
        break;
    case TYPE_REAL:
        if (parse_real(v, &d))
            return bind_real(g, d);
        break;
    case TYPE_NUMERIC:
        if (parse_int64(v, &i))
            return hp_query__gen_bind_int(g, i);
        if (parse_real(v, &d))
            return bind_real(g, d);
        break;
    case TYPE_BOOLEAN:
        if (parse_bool(v, &b))
            return hp_query__gen_bind_int(g, b);
        break;
    case TYPE_GUESS:
        if (parse_int64(v, &i))
            return hp_query__gen_bind_int(g, i);
        if (parse_real(v, &d))
            return bind_real(g, d);
        if (v.len == 4 && memcmp(v.base, "true", 4) == 0)
            return hp_query__gen_bind_int(g, 1);
        if (v.len == 5 && memcmp(v.base, "false", 5) == 0)
            return hp_query__gen_bind_int(g, 0);
        break;
    case TYPE_TEXT: break;
    }
    hp_query__gen_bind_text(g, v);
}

/* PostgREST's LIKE pattern uses '*' for '%' (a literal '%' is awkward in a URL). */
static h2o_iovec_t like_pattern(h2o_iovec_t v, h2o_mem_pool_t *pool)
{
    if (v.len == 0 || memchr(v.base, '*', v.len) == NULL)
        return v;
    char *p = h2o_mem_alloc_pool(pool, v.len);
    for (size_t i = 0; i != v.len; ++i)
        p[i] = v.base[i] == '*' ? '%' : v.base[i];
    return h2o_iovec_init(p, v.len);
}

/* A PostgreSQL array literal of the values: {"v1","v2"} with " and \ escaped. */
h2o_iovec_t hp_query__array_literal(const h2o_iovec_t *values, size_t count, h2o_mem_pool_t *pool)
{
    size_t cap = 2;
    for (size_t i = 0; i != count; ++i)
        cap += 2 * values[i].len + 3;
    char *p = h2o_mem_alloc_pool(pool, cap), *d = p;
    *d++ = '{';
    for (size_t i = 0; i != count; ++i) {
        if (i != 0)
            *d++ = ',';
        *d++ = '"';
        for (size_t k = 0; k != values[i].len; ++k) {
            if (values[i].base[k] == '"' || values[i].base[k] == '\\')
                *d++ = '\\';
            *d++ = values[i].base[k];
        }
        *d++ = '"';
    }
    *d++ = '}';
    return h2o_iovec_init(p, (size_t)(d - p));
}

/* --- column references and values --- */

/* The name a node has in SQL: the table's own name at the root, "_hpN" below. */
static void append_node_name(hp_query__gen_t *g, const hp_query__node_t *n)
{
    if (n->alias_no == 0) {
        hp_query__gen_ident(g, n->table->name, n->table->name_len);
    } else {
        char tmp[24];
        int len = snprintf(tmp, sizeof(tmp), "\"_hp%u\"", n->alias_no);
        hp_query__gen_append(g, tmp, (size_t)len);
    }
}

static void append_column(hp_query__gen_t *g, const hp_query__node_t *n, int unqualified,
                          const hp_column_t *c)
{
    if (!unqualified) {
        append_node_name(g, n);
        hp_query__gen_lit(g, ".");
    }
    hp_query__gen_ident(g, c->name, c->name_len);
}

/* dialect: PostgreSQL follows a path with #> / #>> and a text[] of its keys. */
static void append_field_pg(hp_query__gen_t *g, const hp_query__node_t *n,
                            const hp_query__field_t *f)
{
    if (f->cast_pg != NULL)
        hp_query__gen_lit(g, "CAST(");
    if (f->pg_path.len != 0)
        hp_query__gen_lit(g, "(");
    append_column(g, n, 0, f->col);
    if (f->pg_path.len != 0) {
        if (f->path_is_text)
            hp_query__gen_lit(g, " #>> ");
        else
            hp_query__gen_lit(g, " #> ");
        hp_query__gen_bind_text(g, f->pg_path);
        hp_query__gen_lit(g, ")");
    }
    if (f->cast_pg != NULL) {
        hp_query__gen_lit(g, " AS ");
        hp_query__gen_append(g, f->cast_pg, strlen(f->cast_pg));
        hp_query__gen_lit(g, ")");
    }
}

static void append_field(hp_query__gen_t *g, const hp_query__node_t *n, int unqualified,
                         const hp_query__field_t *f)
{
    /* PostgreSQL: always qualified, so an output alias in ORDER BY never shadows a column. */
    if (g->dialect == HP_DIALECT_POSTGRES)
        return append_field_pg(g, n, f);
    if (f->cast != NULL)
        hp_query__gen_lit(g, "CAST(");
    if (f->path.len != 0)
        hp_query__gen_lit(g, "(");
    append_column(g, n, unqualified, f->col);
    if (f->path.len != 0) {
        if (f->path_is_text)
            hp_query__gen_lit(g, " ->> ");
        else
            hp_query__gen_lit(g, " -> ");
        hp_query__gen_bind_text(g, f->path);
        hp_query__gen_lit(g, ")");
    }
    if (f->cast != NULL) {
        hp_query__gen_lit(g, " AS ");
        hp_query__gen_append(g, f->cast, strlen(f->cast));
        hp_query__gen_lit(g, ")");
    }
}

/* How a value has to be wrapped to keep its JSON meaning inside json_object / the renderer. */
typedef enum { VALUE_PLAIN, VALUE_BOOL, VALUE_JSON_COLUMN, VALUE_JSON } value_class_t;

static value_class_t class_of_sel(const hp_query__sel_t *s)
{
    if (s->kind == HP_QUERY__SEL_EMBED)
        return VALUE_JSON;
    const hp_query__field_t *f = &s->field;
    if (f->cast != NULL)
        return f->cast_is_bool ? VALUE_BOOL : VALUE_PLAIN;
    if (f->path.len != 0)
        return f->path_is_text ? VALUE_PLAIN : VALUE_JSON;
    if (f->col->type == HP_COLTYPE_BOOLEAN)
        return VALUE_BOOL;
    if (f->col->type == HP_COLTYPE_JSON)
        return VALUE_JSON_COLUMN;
    return VALUE_PLAIN;
}

static void append_embed(hp_query__gen_t *g, const hp_query__node_t *parent,
                         const hp_query__node_t *e);
static void append_conds(hp_query__gen_t *g, const hp_query__node_t *n, int unqualified,
                         const hp_query__cond_t *c, const char *joiner);

/* The raw value of a select item at node n (qualified): column, path, cast or embed. */
static void append_raw(hp_query__gen_t *g, const hp_query__node_t *n, const hp_query__sel_t *s)
{
    if (s->kind == HP_QUERY__SEL_EMBED)
        append_embed(g, n, s->embed);
    else
        append_field(g, n, 0, &s->field);
}

/* The value of select item `s` as one source expression: the raw value, or, in the derived
 * form, the derived table's column "c<index>". */
static void append_source(hp_query__gen_t *g, const hp_query__node_t *n, const hp_query__sel_t *s,
                          long index)
{
    if (index < 0) {
        append_raw(g, n, s);
        return;
    }
    append_node_name(g, n);
    char tmp[32];
    int len = snprintf(tmp, sizeof(tmp), ".\"c%ld\"", index);
    hp_query__gen_append(g, tmp, (size_t)len);
}

/* dialect: a value made JSON-typed for json_object. */
static void append_json_value(hp_query__gen_t *g, const hp_query__node_t *n,
                              const hp_query__sel_t *s, long index)
{
    switch (class_of_sel(s)) {
    case VALUE_JSON:
        hp_query__gen_lit(g, "json(");
        append_source(g, n, s, index);
        hp_query__gen_lit(g, ")");
        break;
    case VALUE_BOOL:
        hp_query__gen_lit(g, "CASE WHEN ");
        append_source(g, n, s, index);
        hp_query__gen_lit(g, " IS NULL THEN NULL WHEN ");
        append_source(g, n, s, index);
        hp_query__gen_lit(g, " THEN json('true') ELSE json('false') END");
        break;
    case VALUE_JSON_COLUMN:
        hp_query__gen_lit(g, "CASE WHEN json_valid(");
        append_source(g, n, s, index);
        hp_query__gen_lit(g, ") THEN json(");
        append_source(g, n, s, index);
        hp_query__gen_lit(g, ") ELSE json_quote(");
        append_source(g, n, s, index);
        hp_query__gen_lit(g, ") END");
        break;
    case VALUE_PLAIN:
        hp_query__gen_lit(g, "CASE WHEN typeof(");
        append_source(g, n, s, index);
        hp_query__gen_lit(g, ") = 'blob' THEN '\\x' || lower(hex(");
        append_source(g, n, s, index);
        hp_query__gen_lit(g, ")) ELSE ");
        append_source(g, n, s, index);
        hp_query__gen_lit(g, " END");
        break;
    }
}

static void append_key(hp_query__gen_t *g, const hp_query__sel_t *s)
{
    if (s->name_is_client)
        hp_query__gen_bind_text(g, s->name);
    else
        append_literal(g, s->name.base, s->name.len);
}

/* SQLite takes at most 127 arguments per function (SQLITE_MAX_FUNCTION_ARG's default), so an
 * object of more than 63 keys is built as json_object(first 63) then json_insert(..., 63 more)
 * as often as needed. */
#define OBJECT_PAIRS_PER_CALL 63

/* '$."key"' for json_insert: a literal for schema names, a bind for client keys. */
static void append_key_path(hp_query__gen_t *g, const hp_query__sel_t *s)
{
    char *path = h2o_mem_alloc_pool(g->pool, s->name.len + 4);
    memcpy(path, "$.\"", 3);
    memcpy(path + 3, s->name.base, s->name.len);
    path[s->name.len + 3] = '"';
    if (s->name_is_client)
        hp_query__gen_bind_text(g, h2o_iovec_init(path, s->name.len + 4));
    else
        append_literal(g, path, s->name.len + 4);
}

/* dialect: json_object / json_build_object. */
static void append_json_object(hp_query__gen_t *g, const hp_query__node_t *e, int derived)
{
    size_t extra_calls =
        e->sel_count <= OBJECT_PAIRS_PER_CALL ? 0 : (e->sel_count - 1) / OBJECT_PAIRS_PER_CALL;
    for (size_t i = 0; i != extra_calls; ++i)
        hp_query__gen_lit(g, "json_insert(");
    hp_query__gen_lit(g, "json_object(");
    long index = 0;
    for (const hp_query__sel_t *s = e->sel; s != NULL; s = s->next, ++index) {
        size_t in_call = (size_t)index % OBJECT_PAIRS_PER_CALL;
        if (index != 0 && in_call == 0)
            hp_query__gen_lit(g, ")");
        if (index != 0)
            hp_query__gen_lit(g, ", ");
        if ((size_t)index < OBJECT_PAIRS_PER_CALL)
            append_key(g, s);
        else
            append_key_path(g, s);
        hp_query__gen_lit(g, ", ");
        append_json_value(g, e, s, derived ? index : -1);
    }
    hp_query__gen_lit(g, ")");
}

/* --- conditions --- */

static void append_filter(hp_query__gen_t *g, const hp_query__node_t *n, int unqualified,
                          const hp_query__cond_t *c)
{
    static const char *const comparisons[] = {
        [HP_QUERY__OP_EQ] = " = ",   [HP_QUERY__OP_NEQ] = " <> ", [HP_QUERY__OP_GT] = " > ",
        [HP_QUERY__OP_GTE] = " >= ", [HP_QUERY__OP_LT] = " < ",   [HP_QUERY__OP_LTE] = " <= ",
    };
    switch (c->op) {
    case HP_QUERY__OP_EQ:
    case HP_QUERY__OP_NEQ:
    case HP_QUERY__OP_GT:
    case HP_QUERY__OP_GTE:
    case HP_QUERY__OP_LT:
    case HP_QUERY__OP_LTE:
        append_field(g, n, unqualified, &c->field);
        hp_query__gen_append(g, comparisons[c->op], strlen(comparisons[c->op]));
        bind_value(g, &c->field, c->value);
        break;
    case HP_QUERY__OP_ISDISTINCT: /* dialect */
        append_field(g, n, unqualified, &c->field);
        if (g->dialect == HP_DIALECT_POSTGRES)
            hp_query__gen_lit(g, " IS DISTINCT FROM ");
        else
            hp_query__gen_lit(g, " IS NOT ");
        bind_value(g, &c->field, c->value);
        break;
    case HP_QUERY__OP_LIKE:
        append_field(g, n, unqualified, &c->field);
        hp_query__gen_lit(g, " LIKE ");
        hp_query__gen_bind_text(g, like_pattern(c->value, g->pool));
        break;
    case HP_QUERY__OP_ILIKE: /* dialect */
        if (g->dialect == HP_DIALECT_POSTGRES) {
            append_field(g, n, unqualified, &c->field);
            hp_query__gen_lit(g, " ILIKE ");
            hp_query__gen_bind_text(g, like_pattern(c->value, g->pool));
            break;
        }
        hp_query__gen_lit(g, "lower(");
        append_field(g, n, unqualified, &c->field);
        hp_query__gen_lit(g, ") LIKE lower(");
        hp_query__gen_bind_text(g, like_pattern(c->value, g->pool));
        hp_query__gen_lit(g, ")");
        break;
    case HP_QUERY__OP_IN:
        if (c->value_count == 0) {
            hp_query__gen_lit(g, "1 = 0");
            break;
        }
        append_field(g, n, unqualified, &c->field);
        if (g->dialect == HP_DIALECT_POSTGRES) { /* dialect: one bind however long the list */
            hp_query__gen_lit(g, " = ANY(");
            hp_query__gen_bind_text(g, hp_query__array_literal(c->values, c->value_count, g->pool));
            hp_query__gen_lit(g, ")");
            break;
        }
        hp_query__gen_lit(g, " IN (");
        for (size_t i = 0; i != c->value_count; ++i) {
            if (i != 0)
                hp_query__gen_lit(g, ", ");
            bind_value(g, &c->field, c->values[i]);
        }
        hp_query__gen_lit(g, ")");
        break;
    case HP_QUERY__OP_IS:
        append_field(g, n, unqualified, &c->field);
        switch (c->is) {
        case HP_QUERY__IS_NULL:
        case HP_QUERY__IS_UNKNOWN: hp_query__gen_lit(g, " IS NULL"); break;
        case HP_QUERY__IS_NOT_NULL: hp_query__gen_lit(g, " IS NOT NULL"); break;
        case HP_QUERY__IS_TRUE: hp_query__gen_lit(g, " IS TRUE"); break;
        case HP_QUERY__IS_FALSE: hp_query__gen_lit(g, " IS FALSE"); break;
        }
        break;
    }
}

static void append_cond(hp_query__gen_t *g, const hp_query__node_t *n, int unqualified,
                        const hp_query__cond_t *c)
{
    if (c->negate)
        hp_query__gen_lit(g, "NOT (");
    if (c->kind == HP_QUERY__COND_FILTER) {
        append_filter(g, n, unqualified, c);
    } else {
        hp_query__gen_lit(g, "(");
        append_conds(g, n, unqualified, c->children,
                     c->kind == HP_QUERY__COND_OR ? " OR " : " AND ");
        hp_query__gen_lit(g, ")");
    }
    if (c->negate)
        hp_query__gen_lit(g, ")");
}

static void append_conds(hp_query__gen_t *g, const hp_query__node_t *n, int unqualified,
                         const hp_query__cond_t *c, const char *joiner)
{
    for (int first = 1; c != NULL; c = c->next, first = 0) {
        if (!first)
            hp_query__gen_append(g, joiner, strlen(joiner));
        append_cond(g, n, unqualified, c);
    }
}

/* The join of embed e to its parent: child columns = parent columns. */
static void append_join(hp_query__gen_t *g, const hp_query__node_t *parent,
                        const hp_query__node_t *e)
{
    const hp_fkey_t *fk = e->rel.fkey;
    int child_has_fkey = e->rel.kind != HP_REL_MANY_TO_ONE;
    for (size_t i = 0; i != fk->col_count; ++i) {
        const size_t *child_cols = child_has_fkey ? fk->from_cols : fk->to_cols;
        const size_t *parent_cols = child_has_fkey ? fk->to_cols : fk->from_cols;
        if (i != 0)
            hp_query__gen_lit(g, " AND ");
        append_column(g, e, 0, &e->table->columns[child_cols[i]]);
        hp_query__gen_lit(g, " = ");
        append_column(g, parent, 0, &parent->table->columns[parent_cols[i]]);
    }
}

/* EXISTS (...) for each !inner embed of n, each preceded by " AND " unless it is the first of
 * the clause (*first). */
static void append_inner_exists(hp_query__gen_t *g, const hp_query__node_t *n, int *first);

/* " WHERE <join> AND <conds of e> AND <EXISTS of e's inner embeds>" */
static void append_embed_where(hp_query__gen_t *g, const hp_query__node_t *parent,
                               const hp_query__node_t *e)
{
    hp_query__gen_lit(g, " WHERE ");
    append_join(g, parent, e);
    if (e->conds != NULL) {
        hp_query__gen_lit(g, " AND ");
        append_conds(g, e, 0, e->conds, " AND ");
    }
    int first = 0;
    append_inner_exists(g, e, &first);
}

static void append_inner_exists(hp_query__gen_t *g, const hp_query__node_t *n, int *first)
{
    for (const hp_query__sel_t *s = n->sel; s != NULL; s = s->next) {
        if (s->kind != HP_QUERY__SEL_EMBED || !s->embed->is_inner)
            continue;
        if (!*first)
            hp_query__gen_lit(g, " AND ");
        *first = 0;
        hp_query__gen_lit(g, "EXISTS (SELECT 1 FROM ");
        hp_query__gen_ident(g, s->embed->table->name, s->embed->table->name_len);
        hp_query__gen_lit(g, " AS ");
        append_node_name(g, s->embed);
        append_embed_where(g, n, s->embed);
        hp_query__gen_lit(g, ")");
    }
}

/* --- order and limit --- */

/* Whether SQLite lets the column hold NULL: a NOT NULL column cannot, nor the rowid alias (a
 * lone INTEGER PRIMARY KEY), nor any key column of a WITHOUT ROWID table. Other PRIMARY KEY
 * columns of rowid tables can (a SQLite quirk kept for compatibility). */
static int column_cannot_be_null(const hp_table_t *t, const hp_column_t *c)
{
    if (c->not_null)
        return 1;
    if (!c->is_pk)
        return 0;
    return !t->has_rowid || (t->pk_count == 1 && strcasecmp(c->decl_type, "INTEGER") == 0);
}

/* dialect: SQLite puts NULLs first ascending and last descending, PostgreSQL the reverse. The
 * clause is left out when it changes nothing, so an index on the column can still serve. */
static void append_order_terms(hp_query__gen_t *g, const hp_query__node_t *n, int unqualified)
{
    if (n->order == NULL)
        return;
    hp_query__gen_lit(g, " ORDER BY ");
    for (const hp_query__order_t *o = n->order; o != NULL; o = o->next) {
        if (o != n->order)
            hp_query__gen_lit(g, ", ");
        append_field(g, n, unqualified, &o->field);
        if (o->is_desc)
            hp_query__gen_lit(g, " DESC");
        int nulls_first =
            o->nulls == HP_QUERY__NULLS_DEFAULT ? o->is_desc : o->nulls == HP_QUERY__NULLS_FIRST;
        int backend_nulls_first = g->dialect == HP_DIALECT_POSTGRES ? o->is_desc : !o->is_desc;
        int cannot_be_null = o->field.path.len == 0 && o->field.cast == NULL &&
                             column_cannot_be_null(n->table, o->field.col);
        if (nulls_first != backend_nulls_first && !cannot_be_null) {
            if (nulls_first)
                hp_query__gen_lit(g, " NULLS FIRST");
            else
                hp_query__gen_lit(g, " NULLS LAST");
        }
    }
}

void hp_query__gen_order(hp_query__gen_t *g, const hp_query__node_t *root)
{
    append_order_terms(g, root, 1);
}

/* dialect: SQLite needs a LIMIT before an OFFSET (-1 for none). */
void hp_query__gen_limit(hp_query__gen_t *g, int has_limit, uint64_t limit, uint64_t offset)
{
    if (has_limit) {
        hp_query__gen_lit(g, " LIMIT ");
        hp_query__gen_bind_int(g, limit > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)limit);
    } else if (offset != 0 && g->dialect == HP_DIALECT_SQLITE) {
        hp_query__gen_lit(g, " LIMIT -1");
    }
    if (offset != 0) {
        hp_query__gen_lit(g, " OFFSET ");
        hp_query__gen_bind_int(g, offset > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)offset);
    }
}

/* --- embeds --- */

/* PostgreSQL: the select items of n as `value AS "key"`, values qualified. The keys are
 * identifiers, so json_agg / row_to_json of the row use them as they are. */
static void append_pg_list(hp_query__gen_t *g, const hp_query__node_t *n, hp_outcol_t *cols)
{
    size_t i = 0;
    for (const hp_query__sel_t *s = n->sel; s != NULL; s = s->next, ++i) {
        if (i != 0)
            hp_query__gen_lit(g, ", ");
        append_raw(g, n, s);
        hp_query__gen_lit(g, " AS ");
        hp_query__gen_ident(g, s->name.base, s->name.len);
        if (cols != NULL) {
            cols[i].name = s->name;
            cols[i].render = HP_RENDER_AUTO;
        }
    }
}

/* The derived table's name of node n: "_hpN_r" ("_hp_r" for the root). */
static void append_row_name(hp_query__gen_t *g, const hp_query__node_t *n)
{
    char tmp[32];
    int len = n->alias_no == 0 ? snprintf(tmp, sizeof(tmp), "\"_hp_r\"")
                               : snprintf(tmp, sizeof(tmp), "\"_hp%u_r\"", n->alias_no);
    hp_query__gen_append(g, tmp, (size_t)len);
}

/* PostgreSQL (PostgREST's shape): the database renders the embed as JSON itself.
 *   to-many  (SELECT coalesce(json_agg("_hpN_r"), '[]') FROM (SELECT <list> FROM "c" AS "_hpN"
 *            WHERE <join> ... ORDER BY ... LIMIT ...) AS "_hpN_r")
 *   to-one   (SELECT row_to_json("_hpN_r") FROM (SELECT <list> FROM "c" AS "_hpN" WHERE ...)
 *            AS "_hpN_r") */
static void append_embed_pg(hp_query__gen_t *g, const hp_query__node_t *parent,
                            const hp_query__node_t *e)
{
    if (e->is_to_many)
        hp_query__gen_lit(g, "(SELECT coalesce(json_agg(");
    else
        hp_query__gen_lit(g, "(SELECT row_to_json(");
    append_row_name(g, e);
    if (e->is_to_many)
        hp_query__gen_lit(g, "), '[]') FROM (SELECT ");
    else
        hp_query__gen_lit(g, ") FROM (SELECT ");
    append_pg_list(g, e, NULL);
    hp_query__gen_lit(g, " FROM ");
    hp_query__gen_ident(g, e->table->name, e->table->name_len);
    hp_query__gen_lit(g, " AS ");
    append_node_name(g, e);
    append_embed_where(g, parent, e);
    if (e->is_to_many) {
        append_order_terms(g, e, 0);
        hp_query__gen_limit(g, e->has_limit, e->limit, e->offset);
    }
    hp_query__gen_lit(g, ") AS ");
    append_row_name(g, e);
    hp_query__gen_lit(g, ")");
}

/* dialect: json_group_array / json_agg. */
static void append_embed(hp_query__gen_t *g, const hp_query__node_t *parent,
                         const hp_query__node_t *e)
{
    if (g->dialect == HP_DIALECT_POSTGRES)
        return append_embed_pg(g, parent, e);
    int derived = e->is_to_many && (e->order != NULL || e->has_limit || e->offset != 0);
    hp_query__gen_lit(g, "(SELECT ");
    if (e->is_to_many)
        hp_query__gen_lit(g, "json_group_array(");
    append_json_object(g, e, derived);
    if (e->is_to_many)
        hp_query__gen_lit(g, ")");
    hp_query__gen_lit(g, " FROM ");
    if (derived) {
        hp_query__gen_lit(g, "(SELECT ");
        long index = 0;
        for (const hp_query__sel_t *s = e->sel; s != NULL; s = s->next, ++index) {
            if (index != 0)
                hp_query__gen_lit(g, ", ");
            append_raw(g, e, s);
            char tmp[32];
            int len = snprintf(tmp, sizeof(tmp), " AS \"c%ld\"", index);
            hp_query__gen_append(g, tmp, (size_t)len);
        }
        if (index == 0)
            hp_query__gen_lit(g, "1");
        hp_query__gen_lit(g, " FROM ");
    }
    hp_query__gen_ident(g, e->table->name, e->table->name_len);
    hp_query__gen_lit(g, " AS ");
    append_node_name(g, e);
    append_embed_where(g, parent, e);
    if (derived) {
        append_order_terms(g, e, 0);
        hp_query__gen_limit(g, e->has_limit, e->limit, e->offset);
        hp_query__gen_lit(g, ") AS ");
        append_node_name(g, e);
    }
    hp_query__gen_lit(g, ")");
}

/* --- the top level --- */

void hp_query__gen_select_list(hp_query__gen_t *g, const hp_query__node_t *root, hp_outcol_t *cols)
{
    if (g->dialect == HP_DIALECT_POSTGRES)
        return append_pg_list(g, root, cols);
    size_t i = 0;
    for (const hp_query__sel_t *s = root->sel; s != NULL; s = s->next, ++i) {
        if (i != 0)
            hp_query__gen_lit(g, ", ");
        cols[i].name = s->name;
        switch (class_of_sel(s)) {
        case VALUE_JSON:
            cols[i].render = HP_RENDER_JSON;
            if (s->kind == HP_QUERY__SEL_EMBED)
                append_embed(g, root, s->embed);
            else
                append_field(g, root, 1, &s->field);
            break;
        case VALUE_JSON_COLUMN:
            /* Text that is not JSON becomes a JSON string here, in SQL; the renderer's own
             * validity check (render.c) is the second line of defence. */
            cols[i].render = HP_RENDER_JSON;
            hp_query__gen_lit(g, "CASE WHEN json_valid(");
            append_field(g, root, 1, &s->field);
            hp_query__gen_lit(g, ") THEN json(");
            append_field(g, root, 1, &s->field);
            hp_query__gen_lit(g, ") ELSE json_quote(");
            append_field(g, root, 1, &s->field);
            hp_query__gen_lit(g, ") END");
            break;
        case VALUE_BOOL:
            cols[i].render = HP_RENDER_BOOL;
            append_field(g, root, 1, &s->field);
            break;
        case VALUE_PLAIN:
            cols[i].render = HP_RENDER_AUTO;
            append_field(g, root, 1, &s->field);
            break;
        }
    }
}

void hp_query__gen_where(hp_query__gen_t *g, const hp_query__node_t *root, int with_inner)
{
    int has_inner = 0;
    if (with_inner)
        for (const hp_query__sel_t *s = root->sel; s != NULL; s = s->next)
            has_inner |= s->kind == HP_QUERY__SEL_EMBED && s->embed->is_inner;
    if (root->conds == NULL && !has_inner)
        return;
    hp_query__gen_lit(g, " WHERE ");
    append_conds(g, root, 1, root->conds, " AND ");
    if (has_inner) {
        int first = root->conds == NULL;
        append_inner_exists(g, root, &first);
    }
}

void hp_query__gen_pg_body(hp_query__gen_t *g, hp_format_t format)
{
    switch (format) {
    case HP_FORMAT_JSON:
    case HP_FORMAT_BATCH: /* written by batch.c, never planned from a request */
        hp_query__gen_lit(g, "coalesce(json_agg(\"_hp_r\"), '[]')::text");
        break;
    case HP_FORMAT_OBJECT: hp_query__gen_lit(g, "(json_agg(\"_hp_r\") -> 0)::text"); break;
    case HP_FORMAT_CSV:
        /* PostgREST's CSV: each row's record text without its parentheses. */
        hp_query__gen_lit(g, "coalesce(string_agg(substring(\"_hp_r\"::text, 2, "
                             "length(\"_hp_r\"::text) - 2), E'\\n'), '')");
        break;
    }
}

void hp_query__gen_pg_row(hp_query__gen_t *g, hp_format_t format)
{
    /* The elements json_agg / string_agg above join: to_json of a record is json_agg's own
     * rendering of each element (composite_to_json, no line feeds). */
    if (format == HP_FORMAT_CSV)
        hp_query__gen_lit(g, "substring(\"_hp_r\"::text, 2, length(\"_hp_r\"::text) - 2)");
    else
        hp_query__gen_lit(g, "to_json(\"_hp_r\")::text");
}

void hp_query__gen_row_json(hp_query__gen_t *g, const hp_query__node_t *root)
{
    if (g->dialect == HP_DIALECT_POSTGRES) {
        hp_query__gen_lit(g, "(SELECT row_to_json(\"_hp_r\") FROM (SELECT ");
        append_pg_list(g, root, NULL);
        hp_query__gen_lit(g, ") AS \"_hp_r\")::text");
        return;
    }
    append_json_object(g, root, 0);
}
