/*
 * The query string, read into a tree of unresolved nodes (see ast.h) by the grammar alone.
 *
 * The string is split on '&' into key=value pairs and each side is percent-decoded once, into
 * one pool buffer, so every slice of it below is pool-owned text. `select` is read first
 * (filters on embeds need to know the embeds, which only takes their names), then every other
 * pair in order. hp_query__parse looks nothing up in the schema: names are kept as written and
 * resolve.c resolves them once the whole query string has parsed, so a grammar error in any of
 * these parameters is a PGRST100 whatever the names are (PostgREST parses every parameter
 * before it plans). columns= and on_conflict= are only kept here; body.c reads them later with
 * hp_query__parse_column_list, which parses and resolves in one go. Caps from limits.h are
 * checked before the allocation they guard.
 */
#include <string.h>
#include <strings.h>
#include "core/limits.h"
#include "query/ast.h"

typedef struct {
    h2o_iovec_t key;
    h2o_iovec_t value;
    int has_value;
} pair_t;

typedef struct {
    hp_error_t *err;
    h2o_mem_pool_t *pool;
    size_t terms; /* filters, order terms, select items so far (HP_MAX_QUERY_TERMS) */
    unsigned next_alias;
} parser_t;

/* A cursor over one parameter value. `expect` says what the grammar wanted where it failed. */
typedef struct {
    const char *p;
    const char *end;
    const char *expect;
} scan_t;

/* --- percent-decoding --- */

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes src into dst (room for src.len bytes); returns the decoded length or -1. */
static long decode_into(const char *src, size_t len, char *dst)
{
    char *out = dst;
    for (size_t i = 0; i != len; ++i) {
        char c = src[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi, lo;
            if (len - i < 3 || (hi = hex_value(src[i + 1])) < 0 || (lo = hex_value(src[i + 2])) < 0)
                return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        *out++ = c;
    }
    return out - dst;
}

int hp_query_percent_decode(h2o_iovec_t src, h2o_iovec_t *out, h2o_mem_pool_t *pool)
{
    char *dst = h2o_mem_alloc_pool(pool, src.len + 1);
    long len = decode_into(src.base, src.len, dst);
    if (len < 0)
        return -1;
    dst[len] = '\0';
    *out = h2o_iovec_init(dst, (size_t)len);
    return 0;
}

/* --- small helpers --- */

static int equals(h2o_iovec_t s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.base, lit, n) == 0;
}

static int equals_nocase(h2o_iovec_t s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && strncasecmp(s.base, lit, n) == 0;
}

static int at(const scan_t *s, char c)
{
    return s->p < s->end && *s->p == c;
}

/* After a list item: "," (another follows: 1), ")" (the list ends: 0), else an error (-1). */
static int list_continues(scan_t *s)
{
    if (at(s, ',')) {
        ++s->p;
        return 1;
    }
    if (at(s, ')')) {
        ++s->p;
        return 0;
    }
    s->expect = "\",\" or \")\"";
    return -1;
}

static int at_str(const scan_t *s, const char *lit)
{
    size_t n = strlen(lit);
    return (size_t)(s->end - s->p) >= n && memcmp(s->p, lit, n) == 0;
}

static void skip_spaces(scan_t *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t'))
        ++s->p;
}

/* PARSE: `failed to parse <what> (<whole>)`, details saying where and what was expected. */
static int grammar_error(parser_t *ps, const char *what, h2o_iovec_t whole, const scan_t *s)
{
    hp_error_set(ps->err, ps->pool, HP_ERR_PARSE, "failed to parse %s (%.*s)", what, (int)whole.len,
                 whole.base);
    const char *expect = s->expect != NULL ? s->expect : "more input";
    if (s->p >= s->end) {
        hp_error_details(ps->err, ps->pool, "unexpected end of input expecting %s", expect);
    } else {
        unsigned char c = (unsigned char)*s->p;
        if (c < 0x20 || c >= 0x7f)
            hp_error_details(ps->err, ps->pool, "unexpected byte 0x%02x at offset %zu expecting %s",
                             c, (size_t)(s->p - whole.base), expect);
        else
            hp_error_details(ps->err, ps->pool, "unexpected \"%c\" at offset %zu expecting %s", c,
                             (size_t)(s->p - whole.base), expect);
    }
    return -1;
}

static int count_term(parser_t *ps)
{
    if (++ps->terms > HP_MAX_QUERY_TERMS)
        return hp_error_set(ps->err, ps->pool, HP_ERR_LIMIT,
                            "too many filters, order terms or select items (more than %d)",
                            HP_MAX_QUERY_TERMS);
    return 0;
}

static void *alloc_zero(parser_t *ps, size_t size)
{
    void *p = h2o_mem_alloc_pool(ps->pool, size);
    memset(p, 0, size);
    return p;
}

/* --- names and fields --- */

/* quoted := '"' ([^"\\] | '\\' any)* '"'   The text without quotes and escapes (PostgREST's
 * pQuotedValue: a backslash takes the next byte as it is). Copies only when there are
 * escapes. Returns 0, or -1 with s->expect set. */
static int scan_quoted(parser_t *ps, scan_t *s, h2o_iovec_t *out)
{
    const char *start = ++s->p;
    size_t escapes = 0;
    while (s->p < s->end && *s->p != '"') {
        if (*s->p == '\\' && s->p + 1 < s->end) {
            ++s->p;
            ++escapes;
        }
        ++s->p;
    }
    if (s->p == s->end) {
        s->expect = "closing quote";
        return -1;
    }
    size_t len = (size_t)(s->p - start);
    ++s->p;
    if (escapes == 0) {
        *out = h2o_iovec_init(start, len);
        return 0;
    }
    char *dst = h2o_mem_alloc_pool(ps->pool, len - escapes), *d = dst;
    for (size_t i = 0; i != len; ++i) {
        if (start[i] == '\\')
            ++i;
        *d++ = start[i];
    }
    *out = h2o_iovec_init(dst, (size_t)(d - dst));
    return 0;
}

/* PostgREST's identifier characters (pIdentifier: letters, digits, '_', '$' and the space;
 * here every byte of a multi-byte UTF-8 sequence counts as a letter), plus '-' which joins
 * words ("first-name") unless it starts an arrow. */
static int is_ident_byte(const scan_t *s, const char *p)
{
    unsigned char c = (unsigned char)*p;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
        c == '$' || c == ' ' || c >= 0x80)
        return 1;
    return c == '-' && !(p + 1 < s->end && p[1] == '>');
}

/* name := quoted | identbyte+   An unquoted name loses its leading and trailing spaces, as
 * PostgREST strips them ("display name" and " id " are names; "x;y" is not). Returns 0, -1
 * for a grammar error (s->expect set), or -2 with err set (LIMIT). */
static int scan_name(parser_t *ps, scan_t *s, h2o_iovec_t *out)
{
    if (at(s, '"')) {
        if (scan_quoted(ps, s, out) != 0)
            return -1;
    } else {
        const char *start = s->p;
        while (s->p < s->end && is_ident_byte(s, s->p))
            ++s->p;
        const char *first = start, *last = s->p;
        while (first < last && *first == ' ')
            ++first;
        while (last > first && last[-1] == ' ')
            --last;
        if (first == last) {
            s->p = first;
            s->expect = "a name ([a-z0-9_$] or a \"quoted name\")";
            return -1;
        }
        *out = h2o_iovec_init(first, (size_t)(last - first));
    }
    if (out->len > HP_MAX_IDENT_BYTES) {
        hp_error_set(ps->err, ps->pool, HP_ERR_LIMIT, "identifier longer than %d bytes",
                     HP_MAX_IDENT_BYTES);
        return -2;
    }
    return 0;
}

static int is_index(h2o_iovec_t key)
{
    if (key.len == 0 || key.len > 9)
        return 0;
    for (size_t i = 0; i != key.len; ++i)
        if (key.base[i] < '0' || key.base[i] > '9')
            return 0;
    return 1;
}

/* One element of a PostgreSQL text[] literal: "key" with " and \ escaped, after a comma
 * unless it is the first. Writes at most 2 * key.len + 3 bytes. */
static char *append_pg_path_element(char *dst, h2o_iovec_t key, int is_first)
{
    if (!is_first)
        *dst++ = ',';
    *dst++ = '"';
    for (size_t i = 0; i != key.len; ++i) {
        if (key.base[i] == '"' || key.base[i] == '\\')
            *dst++ = '\\';
        *dst++ = key.base[i];
    }
    *dst++ = '"';
    return dst;
}

/* After a column name: ( ("->" | "->>") key )*, key := name. Builds the SQLite JSON path
 * ('$."a"[0]') in two passes: one to check and measure, one to write. */
static int scan_path(parser_t *ps, scan_t *s, hp_query__field_t *f)
{
    scan_t probe = *s;
    size_t path_len = 1, elements = 0;
    h2o_iovec_t key = {NULL, 0};
    int is_text = 0;
    while (at_str(&probe, "->")) {
        probe.p += 2;
        is_text = at(&probe, '>');
        if (is_text)
            ++probe.p;
        int rc = scan_name(ps, &probe, &key);
        if (rc != 0) {
            s->p = probe.p;
            s->expect = probe.expect;
            return rc;
        }
        path_len += is_index(key) ? key.len + 2 : key.len + 3;
        ++elements;
        if (is_text)
            break; /* ->> yields an SQL value: nothing can follow */
    }
    if (elements == 0)
        return 0;
    char *path = h2o_mem_alloc_pool(ps->pool, path_len + 1), *dst = path;
    char *pg = h2o_mem_alloc_pool(ps->pool, 2 * (size_t)(probe.p - s->p) + 3), *pg_dst = pg;
    *pg_dst++ = '{';
    *dst++ = '$';
    while (at_str(s, "->")) {
        s->p += 2;
        if (at(s, '>'))
            ++s->p;
        scan_name(ps, s, &key);
        pg_dst = append_pg_path_element(pg_dst, key, pg_dst == pg + 1);
        if (is_index(key)) {
            *dst++ = '[';
            memcpy(dst, key.base, key.len);
            dst += key.len;
            *dst++ = ']';
        } else {
            *dst++ = '.';
            *dst++ = '"';
            memcpy(dst, key.base, key.len);
            dst += key.len;
            *dst++ = '"';
        }
        if (s->p == probe.p)
            break;
    }
    *dst = '\0';
    *pg_dst++ = '}';
    f->path = h2o_iovec_init(path, path_len);
    f->pg_path = h2o_iovec_init(pg, (size_t)(pg_dst - pg));
    f->path_is_text = is_text;
    f->key = key;
    return 0;
}

/* field := name path   (the name is resolved later, against the node's table) */
static int scan_field(parser_t *ps, scan_t *s, hp_query__field_t *f)
{
    int rc;
    memset(f, 0, sizeof(*f));
    if ((rc = scan_name(ps, s, &f->name)) != 0)
        return rc;
    return scan_path(ps, s, f);
}

/* --- select --- */

static hp_query__sel_t *add_sel(parser_t *ps, hp_query__node_t *n, hp_query__sel_t ***tail)
{
    hp_query__sel_t *sel = alloc_zero(ps, sizeof(*sel));
    **tail = sel;
    *tail = &sel->next;
    ++n->sel_count;
    return sel;
}

/* The whitelist of casts: PostgreSQL type names to SQLite storage types. */
static int resolve_cast(h2o_iovec_t type, hp_query__field_t *f)
{
    static const struct {
        const char *name;
        const char *sql;
        int is_bool;
    } casts[] = {
        {"text", "TEXT", 0},       {"varchar", "TEXT", 0},
        {"integer", "INTEGER", 0}, {"int", "INTEGER", 0},
        {"int2", "INTEGER", 0},    {"int4", "INTEGER", 0},
        {"int8", "INTEGER", 0},    {"smallint", "INTEGER", 0},
        {"bigint", "INTEGER", 0},  {"real", "REAL", 0},
        {"float", "REAL", 0},      {"float4", "REAL", 0},
        {"float8", "REAL", 0},     {"double precision", "REAL", 0},
        {"numeric", "NUMERIC", 0}, {"decimal", "NUMERIC", 0},
        {"boolean", "INTEGER", 1}, {"bool", "INTEGER", 1},
        {"json", "TEXT", 0},       {"jsonb", "TEXT", 0},
    };
    for (size_t i = 0; i != sizeof(casts) / sizeof(casts[0]); ++i) {
        if (equals_nocase(type, casts[i].name)) {
            f->cast = casts[i].sql;
            f->cast_pg = casts[i].name; /* a PostgreSQL type name as listed: safe SQL */
            f->cast_is_bool = casts[i].is_bool;
            return 0;
        }
    }
    return -1;
}

static int parse_select_list(parser_t *ps, scan_t *s, hp_query__node_t *n, int nested);

/* embed := target ("!" hint | "!inner" | "!left")* "(" [select] ")"     (target already read;
 * at most one hint) */
static int parse_embed(parser_t *ps, scan_t *s, hp_query__node_t *parent, hp_query__sel_t *sel,
                       h2o_iovec_t alias, h2o_iovec_t target)
{
    h2o_iovec_t hint = {NULL, 0};
    int is_inner = 0, rc;
    while (at(s, '!')) {
        ++s->p;
        h2o_iovec_t word;
        if ((rc = scan_name(ps, s, &word)) != 0)
            return rc;
        if (equals(word, "inner")) {
            is_inner = 1;
        } else if (equals(word, "left")) {
            is_inner = 0;
        } else if (hint.base == NULL) {
            hint = word;
        } else {
            s->expect = "one hint only";
            return -1;
        }
    }
    if (!at(s, '(')) {
        s->expect = "\"(\"";
        return -1;
    }
    ++s->p;
    if (parent->depth + 1 > HP_MAX_QUERY_DEPTH) {
        hp_error_set(ps->err, ps->pool, HP_ERR_LIMIT, "embeds nested deeper than %d",
                     HP_MAX_QUERY_DEPTH);
        return -2;
    }

    hp_query__node_t *child = alloc_zero(ps, sizeof(*child));
    child->target = target;
    child->hint = hint;
    child->is_inner = is_inner;
    child->alias_no = ++ps->next_alias;
    child->depth = parent->depth + 1;
    child->ref_name = alias.base != NULL ? alias : target;
    sel->kind = HP_QUERY__SEL_EMBED;
    sel->embed = child;
    if (alias.base != NULL) {
        sel->name = alias;
        sel->name_is_client = 1;
    }

    skip_spaces(s);
    if (!at(s, ')') && (rc = parse_select_list(ps, s, child, 1)) != 0)
        return rc;
    if (!at(s, ')')) {
        s->expect = "\",\" or \")\"";
        return -1;
    }
    ++s->p;
    return 0;
}

/* item := "*" | [alias ":"] name path ["::" type] | [alias ":"] embed */
static int parse_select_item(parser_t *ps, scan_t *s, hp_query__node_t *n, hp_query__sel_t ***tail,
                             int *has_star)
{
    int rc;
    if (at(s, '*')) {
        ++s->p;
        if (*has_star)
            return 0; /* a second '*' at one level would only repeat keys */
        *has_star = 1;
        if (count_term(ps) != 0)
            return -2;
        add_sel(ps, n, tail)->kind = HP_QUERY__SEL_STAR;
        return 0;
    }
    if (count_term(ps) != 0)
        return -2;
    h2o_iovec_t alias = {NULL, 0}, name;
    if ((rc = scan_name(ps, s, &name)) != 0)
        return rc;
    if (at(s, ':') && !at_str(s, "::")) {
        ++s->p;
        alias = name;
        if ((rc = scan_name(ps, s, &name)) != 0)
            return rc;
    }
    hp_query__sel_t *sel = add_sel(ps, n, tail);
    if (at(s, '!') || at(s, '('))
        return parse_embed(ps, s, n, sel, alias, name);

    sel->kind = HP_QUERY__SEL_FIELD;
    if ((rc = scan_path(ps, s, &sel->field)) != 0)
        return rc;
    sel->field.name = name;
    if (at_str(s, "::")) {
        s->p += 2;
        const char *start = s->p;
        while (s->p < s->end && ((*s->p >= 'a' && *s->p <= 'z') || (*s->p >= 'A' && *s->p <= 'Z') ||
                                 (*s->p >= '0' && *s->p <= '9') || *s->p == ' '))
            ++s->p;
        h2o_iovec_t type = h2o_iovec_init(start, (size_t)(s->p - start));
        while (type.len != 0 && type.base[0] == ' ') {
            ++type.base;
            --type.len;
        }
        while (type.len != 0 && type.base[type.len - 1] == ' ')
            --type.len;
        if (resolve_cast(type, &sel->field) != 0) {
            s->p = start;
            s->expect = "a cast to one of text, integer, bigint, smallint, real, double "
                        "precision, numeric, boolean, json";
            return -1;
        }
    }
    if (alias.base != NULL) {
        sel->name = alias;
        sel->name_is_client = 1;
    }
    return 0;
}

/* select := item ("," item)*     (inside an embed, ends at ")") */
static int parse_select_list(parser_t *ps, scan_t *s, hp_query__node_t *n, int nested)
{
    hp_query__sel_t **tail = &n->sel;
    int has_star = 0, rc;
    for (;;) {
        skip_spaces(s);
        if ((rc = parse_select_item(ps, s, n, &tail, &has_star)) != 0)
            return rc;
        skip_spaces(s);
        if (at(s, ',')) {
            ++s->p;
            continue;
        }
        if ((nested && at(s, ')')) || (!nested && s->p == s->end))
            return 0;
        s->expect = nested ? "\",\" or \")\"" : "\",\" or end of input";
        return -1;
    }
}

/* An empty or absent select is "*". */
static int parse_select(parser_t *ps, h2o_iovec_t value, hp_query__node_t *root)
{
    scan_t s = {value.base, value.base + value.len, NULL};
    skip_spaces(&s);
    if (s.p == s.end) {
        hp_query__sel_t **tail = &root->sel;
        add_sel(ps, root, &tail)->kind = HP_QUERY__SEL_STAR;
        return 0;
    }
    int rc = parse_select_list(ps, &s, root, 0);
    if (rc == -1)
        return grammar_error(ps, "select parameter", value, &s);
    return rc == 0 ? 0 : -1;
}

/* --- filters --- */

static const struct {
    const char *name;
    hp_query__op_t op;
} operators[] = {
    {"eq", HP_QUERY__OP_EQ},
    {"neq", HP_QUERY__OP_NEQ},
    {"gt", HP_QUERY__OP_GT},
    {"gte", HP_QUERY__OP_GTE},
    {"lt", HP_QUERY__OP_LT},
    {"lte", HP_QUERY__OP_LTE},
    {"like", HP_QUERY__OP_LIKE},
    {"ilike", HP_QUERY__OP_ILIKE},
    {"in", HP_QUERY__OP_IN},
    {"is", HP_QUERY__OP_IS},
    {"isdistinct", HP_QUERY__OP_ISDISTINCT},
};

#define OPERATOR_EXPECT                                                                         \
    "\"not.\" or an operator (eq, neq, gt, gte, lt, lte, like, ilike, in, is, isdistinct) and " \
    "\".\""

/* op := ["not."] name "."    Returns 0 and sets c->op / c->negate, or -1. */
static int scan_operator(scan_t *s, hp_query__cond_t *c)
{
    if (at_str(s, "not.")) {
        s->p += 4;
        c->negate ^= 1;
    }
    const char *start = s->p;
    while (s->p < s->end && *s->p >= 'a' && *s->p <= 'z')
        ++s->p;
    h2o_iovec_t name = h2o_iovec_init(start, (size_t)(s->p - start));
    for (size_t i = 0; i != sizeof(operators) / sizeof(operators[0]); ++i) {
        if (equals(name, operators[i].name) && at(s, '.')) {
            ++s->p;
            c->op = operators[i].op;
            return 0;
        }
    }
    s->p = start;
    s->expect = OPERATOR_EXPECT;
    return -1;
}

/* list := "(" [item ("," item)*] ")"    item := quoted | [^,)]* */
static int scan_in_list(parser_t *ps, scan_t *s, hp_query__cond_t *c)
{
    if (!at(s, '(')) {
        s->expect = "\"(\"";
        return -1;
    }
    ++s->p;
    if (at(s, ')')) {
        ++s->p;
        return 0;
    }
    size_t cap = 0;
    for (;;) {
        h2o_iovec_t v;
        if (at(s, '"')) {
            if (scan_quoted(ps, s, &v) != 0)
                return -1;
        } else {
            const char *start = s->p;
            while (s->p < s->end && *s->p != ',' && *s->p != ')')
                ++s->p;
            v = h2o_iovec_init(start, (size_t)(s->p - start));
        }
        if (c->value_count == cap) {
            if (cap == HP_MAX_IN_VALUES) {
                hp_error_set(ps->err, ps->pool, HP_ERR_LIMIT, "more than %d values in an in list",
                             HP_MAX_IN_VALUES);
                return -2;
            }
            cap = cap == 0 ? 8 : cap * 2;
            if (cap > HP_MAX_IN_VALUES)
                cap = HP_MAX_IN_VALUES;
            h2o_iovec_t *values = h2o_mem_alloc_pool(ps->pool, cap * sizeof(*values));
            if (c->value_count != 0)
                memcpy(values, c->values, c->value_count * sizeof(*values));
            c->values = values;
        }
        c->values[c->value_count++] = v;
        int more = list_continues(s);
        if (more <= 0)
            return more;
    }
}

static int scan_is_value(scan_t *s, hp_query__cond_t *c, int in_tree)
{
    static const struct {
        const char *word;
        hp_query__is_t is;
    } words[] = {{"null", HP_QUERY__IS_NULL},
                 {"not_null", HP_QUERY__IS_NOT_NULL},
                 {"true", HP_QUERY__IS_TRUE},
                 {"false", HP_QUERY__IS_FALSE},
                 {"unknown", HP_QUERY__IS_UNKNOWN}};
    const char *start = s->p;
    while (s->p < s->end && !(in_tree && (*s->p == ',' || *s->p == ')')))
        ++s->p;
    h2o_iovec_t word = h2o_iovec_init(start, (size_t)(s->p - start));
    for (size_t i = 0; i != sizeof(words) / sizeof(words[0]); ++i) {
        if (equals_nocase(word, words[i].word)) {
            c->is = words[i].is;
            return 0;
        }
    }
    s->p = start;
    s->expect = "null, not_null, true, false or unknown";
    return -1;
}

/* The operand after "op.": in a plain parameter everything that is left; in a logic tree a
 * quoted value or everything up to "," or ")". */
static int scan_operand(parser_t *ps, scan_t *s, hp_query__cond_t *c, int in_tree)
{
    if (c->op == HP_QUERY__OP_IN)
        return scan_in_list(ps, s, c);
    if (c->op == HP_QUERY__OP_IS)
        return scan_is_value(s, c, in_tree);
    if (!in_tree) {
        c->value = h2o_iovec_init(s->p, (size_t)(s->end - s->p));
        s->p = s->end;
        return 0;
    }
    if (at(s, '"'))
        return scan_quoted(ps, s, &c->value);
    const char *start = s->p;
    while (s->p < s->end && *s->p != ',' && *s->p != ')')
        ++s->p;
    c->value = h2o_iovec_init(start, (size_t)(s->p - start));
    return 0;
}

static void append_cond(hp_query__node_t *n, hp_query__cond_t *c)
{
    if (n->conds_tail != NULL)
        n->conds_tail->next = c;
    else
        n->conds = c;
    n->conds_tail = c;
}

/* A filter parameter: key `field`, value `[not.]op.operand`. */
static int parse_filter(parser_t *ps, hp_query__node_t *n, h2o_iovec_t field_text,
                        const pair_t *pair)
{
    if (count_term(ps) != 0)
        return -1;
    hp_query__cond_t *c = alloc_zero(ps, sizeof(*c));
    c->kind = HP_QUERY__COND_FILTER;
    scan_t fs = {field_text.base, field_text.base + field_text.len, NULL};
    int rc = scan_field(ps, &fs, &c->field);
    if (rc == 0 && fs.p != fs.end) {
        fs.expect = "\"->\", \"->>\" or \"=\"";
        rc = -1;
    }
    if (rc == -1)
        return grammar_error(ps, "filter", pair->key, &fs);
    if (rc != 0)
        return -1;
    scan_t s = {pair->value.base, pair->value.base + pair->value.len, NULL};
    if (scan_operator(&s, c) != 0)
        return grammar_error(ps, "filter", pair->value, &s);
    rc = scan_operand(ps, &s, c, 0);
    if (rc == 0 && s.p != s.end) {
        s.expect = "end of input";
        rc = -1;
    }
    if (rc == -1)
        return grammar_error(ps, "filter", pair->value, &s);
    if (rc != 0)
        return -1;
    append_cond(n, c);
    return 0;
}

/*
 * logic := "(" term ("," term)* ")"
 * term  := ["not."] ("or" | "and") logic  |  ["not."] field "." ["not."] op "." operand
 */
static int scan_logic(parser_t *ps, scan_t *s, hp_query__node_t *n, hp_query__cond_t *group,
                      unsigned depth)
{
    if (depth > HP_MAX_QUERY_DEPTH) {
        hp_error_set(ps->err, ps->pool, HP_ERR_LIMIT, "logic trees nested deeper than %d",
                     HP_MAX_QUERY_DEPTH);
        return -2;
    }
    if (!at(s, '(')) {
        s->expect = "\"(\"";
        return -1;
    }
    ++s->p;
    hp_query__cond_t **tail = &group->children;
    int rc;
    for (;;) {
        if (count_term(ps) != 0)
            return -2;
        hp_query__cond_t *c = alloc_zero(ps, sizeof(*c));
        if (at_str(s, "not.")) {
            s->p += 4;
            c->negate = 1;
        }
        if (at_str(s, "or(") || at_str(s, "and(")) {
            c->kind = *s->p == 'o' ? HP_QUERY__COND_OR : HP_QUERY__COND_AND;
            s->p += c->kind == HP_QUERY__COND_OR ? 2 : 3;
            if ((rc = scan_logic(ps, s, n, c, depth + 1)) != 0)
                return rc;
        } else {
            c->kind = HP_QUERY__COND_FILTER;
            if ((rc = scan_field(ps, s, &c->field)) != 0)
                return rc;
            if (!at(s, '.')) {
                s->expect = "\".\" after the column";
                return -1;
            }
            ++s->p;
            if (scan_operator(s, c) != 0)
                return -1;
            if ((rc = scan_operand(ps, s, c, 1)) != 0)
                return rc;
        }
        *tail = c;
        tail = &c->next;
        int more = list_continues(s);
        if (more <= 0)
            return more;
    }
}

static int parse_logic_param(parser_t *ps, hp_query__node_t *n, hp_query__cond_kind_t kind,
                             int negate, h2o_iovec_t value)
{
    hp_query__cond_t *c = alloc_zero(ps, sizeof(*c));
    c->kind = kind;
    c->negate = negate;
    scan_t s = {value.base, value.base + value.len, NULL};
    int rc = scan_logic(ps, &s, n, c, 1);
    if (rc == 0 && s.p != s.end) {
        s.expect = "end of input";
        rc = -1;
    }
    if (rc == -1)
        return grammar_error(ps, "logic tree", value, &s);
    if (rc != 0)
        return -1;
    append_cond(n, c);
    return 0;
}

/* --- order, limit, offset --- */

/* order := term ("," term)*    term := field ["." ("asc" | "desc")] ["." ("nullsfirst" |
 * "nullslast")] */
static int parse_order(parser_t *ps, hp_query__node_t *n, h2o_iovec_t value)
{
    scan_t s = {value.base, value.base + value.len, NULL};
    hp_query__order_t **tail = &n->order;
    int rc;
    *tail = NULL; /* a repeated order parameter replaces the earlier one */
    for (;;) {
        if (count_term(ps) != 0)
            return -1;
        hp_query__order_t *o = alloc_zero(ps, sizeof(*o));
        if ((rc = scan_field(ps, &s, &o->field)) != 0)
            goto fail;
        int has_dir = 0;
        while (at(&s, '.')) {
            ++s.p;
            if (!has_dir && o->nulls == HP_QUERY__NULLS_DEFAULT && at_str(&s, "asc")) {
                s.p += 3;
                has_dir = 1;
            } else if (!has_dir && o->nulls == HP_QUERY__NULLS_DEFAULT && at_str(&s, "desc")) {
                s.p += 4;
                o->is_desc = has_dir = 1;
            } else if (o->nulls == HP_QUERY__NULLS_DEFAULT && at_str(&s, "nullsfirst")) {
                s.p += 10;
                o->nulls = HP_QUERY__NULLS_FIRST;
            } else if (o->nulls == HP_QUERY__NULLS_DEFAULT && at_str(&s, "nullslast")) {
                s.p += 9;
                o->nulls = HP_QUERY__NULLS_LAST;
            } else {
                s.expect =
                    has_dir ? "nullsfirst or nullslast" : "asc, desc, nullsfirst or nullslast";
                rc = -1;
                goto fail;
            }
        }
        *tail = o;
        tail = &o->next;
        if (at(&s, ',')) {
            ++s.p;
            continue;
        }
        if (s.p == s.end)
            return 0;
        s.expect = "\".\", \",\" or end of input";
        rc = -1;
        goto fail;
    }
fail:
    if (rc == -1)
        return grammar_error(ps, "order", value, &s);
    return -1;
}

static int parse_count(parser_t *ps, const char *what, h2o_iovec_t value, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;
    for (; i != value.len && value.base[i] >= '0' && value.base[i] <= '9' && i < 19; ++i)
        v = v * 10 + (uint64_t)(value.base[i] - '0');
    if (i != value.len || i == 0) {
        hp_error_set(ps->err, ps->pool, HP_ERR_PARSE, "failed to parse %s parameter (%.*s)", what,
                     (int)value.len, value.base);
        hp_error_details(ps->err, ps->pool, "expected a non-negative integer below 10^19");
        return -1;
    }
    *out = v;
    return 0;
}

/* --- pairs --- */

static hp_query__node_t *find_embed(hp_query__node_t *n, const char *name, size_t len)
{
    for (hp_query__sel_t *s = n->sel; s != NULL; s = s->next)
        if (s->kind == HP_QUERY__SEL_EMBED && s->embed->ref_name.len == len &&
            memcmp(s->embed->ref_name.base, name, len) == 0)
            return s->embed;
    return NULL;
}

/* key := (embed ".")* (field | "order" | "limit" | "offset" | "or" | "and" | "not.or" |
 * "not.and") */
static int parse_pair(parser_t *ps, hp_query__node_t *root, const pair_t *pair)
{
    hp_query__node_t *n = root;
    h2o_iovec_t last = pair->key;
    for (;;) {
        const char *dot = last.len != 0 ? memchr(last.base, '.', last.len) : NULL;
        if (dot == NULL)
            break;
        h2o_iovec_t seg = h2o_iovec_init(last.base, (size_t)(dot - last.base));
        h2o_iovec_t after = h2o_iovec_init(dot + 1, last.len - seg.len - 1);
        if (equals(seg, "not") && (equals(after, "or") || equals(after, "and")))
            break;
        hp_query__node_t *child = find_embed(n, seg.base, seg.len);
        if (child == NULL) {
            hp_error_set(ps->err, ps->pool, HP_ERR_PARSE,
                         "Cannot apply filter because '%.*s' is not an embedded resource in this "
                         "request",
                         (int)seg.len, seg.base);
            hp_error_hint(ps->err, ps->pool,
                          "Verify that '%.*s' is included in the 'select' query parameter.",
                          (int)seg.len, seg.base);
            return -1;
        }
        n = child;
        last = after;
    }
    if (equals(last, "order"))
        return parse_order(ps, n, pair->value);
    if (equals(last, "limit")) {
        n->has_limit = 1;
        return parse_count(ps, "limit", pair->value, &n->limit);
    }
    if (equals(last, "offset"))
        return parse_count(ps, "offset", pair->value, &n->offset);
    if (equals(last, "or") || equals(last, "and") || equals(last, "not.or") ||
        equals(last, "not.and")) {
        int negate = last.base[0] == 'n';
        hp_query__cond_kind_t kind =
            last.base[last.len - 1] == 'r' ? HP_QUERY__COND_OR : HP_QUERY__COND_AND;
        if (count_term(ps) != 0)
            return -1;
        return parse_logic_param(ps, n, kind, negate, pair->value);
    }
    return parse_filter(ps, n, last, pair);
}

int hp_query__parse(const hp_request_t *req, hp_query__parsed_t *out, hp_error_t *err,
                    h2o_mem_pool_t *pool)
{
    parser_t ps = {err, pool, 0, 0};
    h2o_iovec_t q = req->query;
    memset(out, 0, sizeof(*out));
    if (q.len > HP_MAX_QUERY_BYTES)
        return hp_error_set(err, pool, HP_ERR_URI_TOO_LONG, "query string longer than %u bytes",
                            HP_MAX_QUERY_BYTES);

    size_t pair_cap = 1;
    for (size_t i = 0; i != q.len; ++i)
        pair_cap += q.base[i] == '&';
    if (pair_cap > HP_MAX_QUERY_TERMS)
        return hp_error_set(err, pool, HP_ERR_LIMIT, "more than %d query parameters",
                            HP_MAX_QUERY_TERMS);
    pair_t *pairs = h2o_mem_alloc_pool(pool, pair_cap * sizeof(*pairs));
    char *text = h2o_mem_alloc_pool(pool, q.len + 1);
    size_t pair_count = 0, used = 0;
    for (size_t start = 0; start <= q.len;) {
        const char *amp = start < q.len ? memchr(q.base + start, '&', q.len - start) : NULL;
        size_t end = amp != NULL ? (size_t)(amp - q.base) : q.len;
        if (end != start) {
            const char *eq = memchr(q.base + start, '=', end - start);
            size_t key_end = eq != NULL ? (size_t)(eq - q.base) : end;
            pair_t *p = pairs + pair_count++;
            long len = decode_into(q.base + start, key_end - start, text + used);
            if (len < 0)
                goto bad_escape;
            p->key = h2o_iovec_init(text + used, (size_t)len);
            used += (size_t)len;
            p->has_value = eq != NULL;
            p->value = h2o_iovec_init(text + used, 0);
            if (eq != NULL) {
                len = decode_into(eq + 1, end - key_end - 1, text + used);
                if (len < 0)
                    goto bad_escape;
                p->value.len = (size_t)len;
                used += (size_t)len;
            }
        }
        start = end + 1;
    }

    hp_query__node_t *root = alloc_zero(&ps, sizeof(*root));
    out->root = root;

    const pair_t *select = NULL;
    for (size_t i = 0; i != pair_count && select == NULL; ++i)
        if (equals(pairs[i].key, "select"))
            select = pairs + i;
    if (parse_select(&ps, select != NULL ? select->value : h2o_iovec_init("", 0), root) != 0)
        return -1;

    for (size_t i = 0; i != pair_count; ++i) {
        const pair_t *p = pairs + i;
        if (equals(p->key, "select"))
            continue;
        if (equals(p->key, "columns")) {
            if (out->columns.base == NULL)
                out->columns = p->value;
            continue;
        }
        if (equals(p->key, "on_conflict")) {
            if (out->on_conflict.base == NULL)
                out->on_conflict = p->value;
            continue;
        }
        if (parse_pair(&ps, root, p) != 0)
            return -1;
    }
    return 0;

bad_escape:
    hp_error_set(err, pool, HP_ERR_PARSE, "failed to parse query string");
    hp_error_details(err, pool, "invalid percent-encoding (expected %% and two hex digits)");
    return -1;
}

/* list := name ("," name)*    (names of columns of `table`) */
int hp_query__parse_column_list(h2o_iovec_t list, const hp_table_t *table, int is_body,
                                const hp_column_t ***out, hp_error_t *err, h2o_mem_pool_t *pool)
{
    parser_t ps = {err, pool, 0, 0};
    size_t cap = 1;
    for (size_t i = 0; i != list.len; ++i)
        cap += list.base[i] == ',';
    if (cap > HP_MAX_QUERY_TERMS)
        return hp_error_set(err, pool, HP_ERR_LIMIT, "more than %d columns", HP_MAX_QUERY_TERMS);
    const hp_column_t **cols = h2o_mem_alloc_pool(pool, cap * sizeof(*cols));
    scan_t s = {list.base, list.base + list.len, NULL};
    size_t count = 0;
    for (;;) {
        h2o_iovec_t name;
        skip_spaces(&s);
        int rc = scan_name(&ps, &s, &name);
        if (rc == -1) {
            grammar_error(&ps, is_body ? "columns parameter" : "on_conflict parameter", list, &s);
            return -1;
        }
        if (rc != 0)
            return -1;
        int index = hp_table_find_column(table, name.base, name.len);
        if (index < 0) {
            if (is_body)
                return hp_error_set(err, pool, HP_ERR_UNKNOWN_BODY_COLUMN,
                                    "Could not find the '%.*s' column of '%s' in the schema cache",
                                    (int)name.len, name.base, table->name);
            return hp_error_set(err, pool, HP_ERR_UNDEFINED_COLUMN, "column %s.%.*s does not exist",
                                table->name, (int)name.len, name.base);
        }
        cols[count++] = &table->columns[index];
        skip_spaces(&s);
        if (at(&s, ',')) {
            ++s.p;
            continue;
        }
        if (s.p == s.end)
            break;
        s.expect = "\",\" or end of input";
        grammar_error(&ps, is_body ? "columns parameter" : "on_conflict parameter", list, &s);
        return -1;
    }
    *out = cols;
    return (int)count;
}
