/*
 * The query module's private parts, shared by its files and by nothing else.
 *
 * Two steps turn the query string into a tree of hp_query__node_t (one per resource level: the
 * table being read, then one per embed), as PostgREST does (QueryParams, then Plan):
 * parse.c reads the whole query string by the grammar alone, leaving names as the client
 * wrote them, so every grammar error (PGRST100) comes before any schema error; resolve.c then
 * resolves every name against the schema (columns, '*', relationships), so after it the tree
 * holds column pointers and the SQL writer never sees a client identifier. sql.c writes SQL
 * from the resolved tree; plan.c decides limits, ranges and the read statement; body.c plans
 * writes. Everything here lives in the request's pool and is never freed by hand. Not
 * thread-affine: one request at a time per tree.
 */
#ifndef HP_QUERY_AST_H
#define HP_QUERY_AST_H

#include <stdint.h>
#include <h2o/memory.h>
#include "core/error.h"
#include "db/exec.h"
#include "db/schema.h"
#include "query/query.h"

/* --- the tree --- */

/* A value position on a column: the column itself, or a JSON path into it (`data->a->>b`),
 * optionally cast (`::text`). */
typedef struct {
    h2o_iovec_t name;       /* the column as the client wrote it (parse) */
    const hp_column_t *col; /* the column it names (resolve); NULL before */
    h2o_iovec_t path;       /* SQLite JSON path text ('$."a"[0]'), bound as a value; len 0: none */
    h2o_iovec_t pg_path;    /* the same path as a PostgreSQL text[] literal ('{"a","0"}') for #>
                               and #>>; len 0: none */
    int path_is_text;       /* the last arrow was ->> (an SQL value), not -> (JSON) */
    const char *cast;       /* SQLite type for CAST(... AS type), NULL for none */
    const char *cast_pg;    /* the PostgreSQL type of the same cast */
    int cast_is_bool;       /* ::boolean: render as a boolean */
    h2o_iovec_t key;        /* default output key: the column name (set by resolve), or the last
                               path element (set by parse) */
} hp_query__field_t;

/* A select item. STAR ('*') exists only between parse and resolve, which replaces it by one
 * FIELD per column. */
typedef enum { HP_QUERY__SEL_FIELD, HP_QUERY__SEL_EMBED, HP_QUERY__SEL_STAR } hp_query__sel_kind_t;

typedef struct st_hp_query__node_t hp_query__node_t;

typedef struct st_hp_query__sel_t {
    hp_query__sel_kind_t kind;
    h2o_iovec_t name;   /* output key: the alias (parse), else set by resolve */
    int name_is_client; /* the key is client text (an alias or path element): bind it in SQL */
    hp_query__field_t field;
    hp_query__node_t *embed;
    struct st_hp_query__sel_t *next;
} hp_query__sel_t;

typedef enum {
    HP_QUERY__OP_EQ,
    HP_QUERY__OP_NEQ,
    HP_QUERY__OP_GT,
    HP_QUERY__OP_GTE,
    HP_QUERY__OP_LT,
    HP_QUERY__OP_LTE,
    HP_QUERY__OP_LIKE,
    HP_QUERY__OP_ILIKE,
    HP_QUERY__OP_IN,
    HP_QUERY__OP_IS,
    HP_QUERY__OP_ISDISTINCT,
} hp_query__op_t;

typedef enum {
    HP_QUERY__IS_NULL,
    HP_QUERY__IS_NOT_NULL,
    HP_QUERY__IS_TRUE,
    HP_QUERY__IS_FALSE,
    HP_QUERY__IS_UNKNOWN,
} hp_query__is_t;

typedef enum { HP_QUERY__COND_FILTER, HP_QUERY__COND_AND, HP_QUERY__COND_OR } hp_query__cond_kind_t;

/* One condition: a filter, or an and/or of conditions. Values are decoded, pool-owned text;
 * they become binds only when SQL is written (typed from the column then). */
typedef struct st_hp_query__cond_t {
    hp_query__cond_kind_t kind;
    int negate;
    hp_query__field_t field;
    hp_query__op_t op;
    hp_query__is_t is;
    h2o_iovec_t value;   /* eq..ilike, isdistinct */
    h2o_iovec_t *values; /* in */
    size_t value_count;
    struct st_hp_query__cond_t *children; /* and/or */
    struct st_hp_query__cond_t *next;
} hp_query__cond_t;

typedef enum {
    HP_QUERY__NULLS_DEFAULT,
    HP_QUERY__NULLS_FIRST,
    HP_QUERY__NULLS_LAST
} hp_query__nulls_t;

typedef struct st_hp_query__order_t {
    hp_query__field_t field;
    int is_desc;
    hp_query__nulls_t nulls;
    struct st_hp_query__order_t *next;
} hp_query__order_t;

/* One resource level. The root is the table of the URL (alias_no 0, referenced by its name);
 * every embed gets alias "_hp<alias_no>" in SQL, numbered in select order. table, rel and
 * is_to_many are set by resolve. */
struct st_hp_query__node_t {
    const hp_table_t *table;
    hp_relationship_t rel; /* embeds only */
    /* Embeds only, as written in `target!hint(...)`: the target names a table, a foreign key or
     * a column; the hint (base NULL when none) narrows it. */
    h2o_iovec_t target;
    h2o_iovec_t hint;
    h2o_iovec_t ref_name; /* alias, else target: what `ref.col=` filters name */
    int is_inner;         /* !inner: the parent keeps only rows that have a match */
    int is_to_many;       /* embeds as an array */
    unsigned alias_no;
    unsigned depth;
    hp_query__sel_t *sel; /* in select order */
    size_t sel_count;
    hp_query__cond_t *conds; /* ANDed */
    hp_query__cond_t *conds_tail;
    hp_query__order_t *order;
    int has_limit;
    uint64_t limit;
    uint64_t offset;
};

/* What parsing the query string yields beside the tree. */
typedef struct {
    hp_query__node_t *root;
    h2o_iovec_t columns;     /* columns= (decoded), base NULL when absent */
    h2o_iovec_t on_conflict; /* on_conflict= (decoded), base NULL when absent */
} hp_query__parsed_t;

/* Parses req->query into `out` by the grammar alone (see parse.c): names stay unresolved.
 * Returns 0, or -1 with err set (PARSE, LIMIT, URI_TOO_LONG). */
int hp_query__parse(const hp_request_t *req, hp_query__parsed_t *out, hp_error_t *err,
                    h2o_mem_pool_t *pool);

/* Resolves the names in a parsed tree against `schema`, its root reading `table` (see
 * resolve.c): columns, '*', embeds. Returns 0, or -1 with err set (UNDEFINED_COLUMN,
 * NO_RELATIONSHIP, AMBIGUOUS_EMBED, LIMIT). */
int hp_query__resolve(const hp_schema_t *schema, const hp_table_t *table, hp_query__parsed_t *q,
                      hp_error_t *err, h2o_mem_pool_t *pool);

/* Splits a comma-separated list of column names of `table` (columns=, on_conflict=) into
 * column pointers. Unknown names: UNKNOWN_BODY_COLUMN when is_body, else UNDEFINED_COLUMN.
 * Returns the count, or -1 with err set. */
int hp_query__parse_column_list(h2o_iovec_t list, const hp_table_t *table, int is_body,
                                const hp_column_t ***out, hp_error_t *err, h2o_mem_pool_t *pool);

/* --- writing SQL (sql.c) --- */

/* A growable string in a pool: growth copies into a larger pool block (the old one dies with
 * the pool), so the total waste is bounded by the final size. Always NUL-terminated. */
typedef struct {
    h2o_mem_pool_t *pool;
    hp_dialect_t dialect;
    char *ptr;
    size_t len;
    size_t cap;
    hp_bind_t *binds;
    size_t bind_count;
    size_t bind_cap;
} hp_query__gen_t;

void hp_query__gen_init(hp_query__gen_t *g, hp_dialect_t dialect, h2o_mem_pool_t *pool);
/* Moves the text and binds into `out`; the generator starts over, empty. */
void hp_query__gen_finish(hp_query__gen_t *g, hp_stmt_t *out);
void hp_query__gen_append(hp_query__gen_t *g, const char *s, size_t len);
/* lit must be a string literal ("" lit does not compile otherwise, so sizeof is its length). */
#define hp_query__gen_lit(g, lit) hp_query__gen_append((g), "" lit, sizeof(lit) - 1)
/* Appends "name" with embedded double quotes doubled. */
void hp_query__gen_ident(hp_query__gen_t *g, const char *name, size_t len);
/* Adds a bind and appends its placeholder. */
void hp_query__gen_bind_text(hp_query__gen_t *g, h2o_iovec_t text);
void hp_query__gen_bind_int(hp_query__gen_t *g, int64_t v);
/* Adds a text bind without writing its placeholder; returns its number (from 1). */
size_t hp_query__gen_add_text(hp_query__gen_t *g, h2o_iovec_t text);
/* Appends the placeholder of bind `number` (from 1), for a value placed or used later. */
void hp_query__gen_placeholder(hp_query__gen_t *g, size_t number);

/* The list of values of a read (or a RETURNING): one per select item of `root`, filling
 * cols[0..root->sel_count). Top-level columns are written unqualified. */
void hp_query__gen_select_list(hp_query__gen_t *g, const hp_query__node_t *root, hp_outcol_t *cols);
/* PostgreSQL: the aggregate over the derived table "_hp_r" (the rows) that renders the body
 * text in `format` (JSON array, the first row as an object, or CSV lines without header). */
void hp_query__gen_pg_body(hp_query__gen_t *g, hp_format_t format);
/* PostgreSQL: one row of the derived table "_hp_r" rendered as its element of the body
 * hp_query__gen_pg_body writes (JSON: the object; CSV: the line without "\n"), for the
 * streamed shape (exec.h, stream). */
void hp_query__gen_pg_row(hp_query__gen_t *g, hp_format_t format);
/* The root's row as one JSON object, in SQL (the object the read puts in its array). */
void hp_query__gen_row_json(hp_query__gen_t *g, const hp_query__node_t *root);
/* A PostgreSQL array literal {"v1","v2"} of the values (" and \ escaped). */
h2o_iovec_t hp_query__array_literal(const h2o_iovec_t *values, size_t count, h2o_mem_pool_t *pool);
/* " WHERE ..." for the root's filters (and its !inner embeds when with_inner), or nothing. */
void hp_query__gen_where(hp_query__gen_t *g, const hp_query__node_t *root, int with_inner);
/* " ORDER BY ..." for the root, or nothing. */
void hp_query__gen_order(hp_query__gen_t *g, const hp_query__node_t *root);
/* " LIMIT ... OFFSET ..." as binds; has_limit 0 for none; offset 0 is left out. */
void hp_query__gen_limit(hp_query__gen_t *g, int has_limit, uint64_t limit, uint64_t offset);

/* --- writes (body.c) --- */

/* Plans POST / PATCH / DELETE into plan->exec. Returns 0, or -1 with err set. */
int hp_query__plan_write(const hp_request_t *req, const hp_query__parsed_t *q, hp_dialect_t dialect,
                         hp_plan_t *plan, hp_error_t *err, h2o_mem_pool_t *pool);

#endif
