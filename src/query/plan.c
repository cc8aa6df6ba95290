/*
 * hp_query_plan: the query string is parsed (parse.c), the resource looked up, the tree's names
 * resolved against it (resolve.c), then a read is written here and a write in body.c. That
 * order is PostgREST's: a malformed query string is a 400 even on an unknown table. The read's
 * window of rows is PostgREST's too: limit/offset and the Range header intersected, then capped
 * by db-max-rows.
 */
#include <string.h>
#include "core/limits.h"
#include "query/ast.h"

/* Rows [offset, offset + count) with count UINT64_MAX for "no end". */
typedef struct {
    uint64_t offset;
    uint64_t count;
} window_t;

static uint64_t end_of(window_t w)
{
    return w.count == UINT64_MAX || w.count > UINT64_MAX - w.offset ? UINT64_MAX
                                                                    : w.offset + w.count;
}

static window_t intersect(window_t a, window_t b)
{
    uint64_t start = a.offset > b.offset ? a.offset : b.offset;
    uint64_t end_a = end_of(a), end_b = end_of(b);
    uint64_t end = end_a < end_b ? end_a : end_b;
    window_t w = {start, 0};
    if (end == UINT64_MAX)
        w.count = UINT64_MAX;
    else if (end > start)
        w.count = end - start;
    return w;
}

static void plan_window(const hp_request_t *req, const hp_query__node_t *root,
                        const hp_query_options_t *opts, window_t *out)
{
    window_t w = {root->offset, root->has_limit ? root->limit : UINT64_MAX};
    if (req->range.is_set) {
        window_t r = {req->range.first, req->range.last == UINT64_MAX
                                            ? UINT64_MAX
                                            : req->range.last - req->range.first + 1};
        w = intersect(w, r);
    }
    if (opts != NULL && opts->max_rows >= 0 && (uint64_t)opts->max_rows < w.count)
        w.count = (uint64_t)opts->max_rows;
    *out = w;
}

static void gen_pg_rows(const hp_query__node_t *root, const hp_table_t *t, const window_t *w,
                        hp_query__gen_t *g, hp_outcol_t *cols, size_t *key_bind);

/* PostgreSQL: one statement renders the body and counts, as PostgREST's does:
 *   SELECT <body of "_hp_r">, count(*), (SELECT count(*) FROM "t" WHERE ...) | NULL
 *   FROM (SELECT <list> FROM "t" WHERE ... ORDER BY ... LIMIT ... OFFSET ...) AS "_hp_r" */
static void plan_read_pg(const hp_request_t *req, const hp_query__node_t *root, const hp_table_t *t,
                         const window_t *w, hp_query__gen_t *g, hp_exec_t *exec, size_t *key_bind)
{
    exec->renders_in_db = 1;
    hp_query__gen_lit(g, "SELECT ");
    hp_query__gen_pg_body(g, exec->format);
    hp_query__gen_lit(g, ", count(*), ");
    if (req->prefer.count != HP_COUNT_NONE) {
        hp_query__gen_lit(g, "(SELECT count(*) FROM ");
        hp_query__gen_ident(g, t->name, t->name_len);
        hp_query__gen_where(g, root, 1);
        hp_query__gen_lit(g, ")");
    } else {
        hp_query__gen_lit(g, "NULL::int8");
    }
    gen_pg_rows(root, t, w, g, exec->cols, key_bind);
    hp_query__gen_finish(g, &exec->main);
}

/* The derived table of a PostgreSQL read: " FROM (SELECT <list> FROM "t" WHERE ... ORDER BY
 * ... LIMIT ... OFFSET ...) AS "_hp_r"". cols may be NULL (already filled). */
static void gen_pg_rows(const hp_query__node_t *root, const hp_table_t *t, const window_t *w,
                        hp_query__gen_t *g, hp_outcol_t *cols, size_t *key_bind)
{
    hp_query__gen_lit(g, " FROM (SELECT ");
    hp_query__gen_select_list(g, root, cols);
    hp_query__gen_lit(g, " FROM ");
    hp_query__gen_ident(g, t->name, t->name_len);
    if (key_bind != NULL)
        *key_bind = g->bind_count;
    hp_query__gen_where(g, root, 1);
    hp_query__gen_order(g, root);
    hp_query__gen_limit(g, w->count != UINT64_MAX, w->count, w->offset);
    hp_query__gen_lit(g, ") AS \"_hp_r\"");
}

/* Whether a PostgreSQL read gets the streamed shape besides main (exec.h, stream): JSON or
 * CSV (a singular read is one row), and a window that may hold more than
 * HP_QUERY_STREAM_MIN_ROWS rows. A batchable read looks one row up by a unique key. */
static int pg_streamable(const hp_request_t *req, const window_t *w, const hp_plan_t *plan)
{
    if (req->format != HP_FORMAT_JSON && req->format != HP_FORMAT_CSV)
        return 0;
    return w->count > HP_QUERY_STREAM_MIN_ROWS && plan->batch.tree == NULL;
}

/* The streamed shape: the same derived table, one rendered row per result row
 *   SELECT to_json("_hp_r")::text FROM (SELECT <list> FROM "t" ...) AS "_hp_r"
 * and the total alone (Prefer: count), which the backend runs first in the same snapshot:
 *   SELECT count(*) FROM "t" WHERE ... */
static void plan_stream_pg(const hp_request_t *req, const hp_query__node_t *root,
                           const hp_table_t *t, const window_t *w, hp_query__gen_t *g,
                           hp_exec_t *exec)
{
    hp_query__gen_lit(g, "SELECT ");
    hp_query__gen_pg_row(g, exec->format);
    gen_pg_rows(root, t, w, g, NULL, NULL);
    hp_query__gen_finish(g, &exec->stream);
    if (req->prefer.count != HP_COUNT_NONE) {
        hp_query__gen_lit(g, "SELECT count(*) FROM ");
        hp_query__gen_ident(g, t->name, t->name_len);
        hp_query__gen_where(g, root, 1);
        hp_query__gen_finish(g, &exec->stream_count);
    }
}

/* See hp_plan_t.batch: one filter, column = value, on a unique column (a one-column primary
 * key or UNIQUE); the window may only be a cap of at least one row (db-max-rows). */
static int batchable(const hp_request_t *req, const hp_query__node_t *root, const window_t *w)
{
    const hp_query__cond_t *c = root->conds;
    if (c == NULL || c->next != NULL || c->kind != HP_QUERY__COND_FILTER || c->negate ||
        c->op != HP_QUERY__OP_EQ || c->field.path.len != 0 || c->field.cast != NULL)
        return 0;
    if (!c->field.col->is_unique)
        return 0;
    if (root->order != NULL || w->offset != 0 || w->count == 0 || req->range.is_set ||
        req->prefer.count != HP_COUNT_NONE)
        return 0;
    if (req->format != HP_FORMAT_JSON && req->format != HP_FORMAT_OBJECT)
        return 0;
    for (const hp_query__sel_t *s = root->sel; s != NULL; s = s->next)
        if (s->kind == HP_QUERY__SEL_EMBED && s->embed->is_inner)
            return 0;
    return 1;
}

static int plan_read(const hp_request_t *req, const hp_query__parsed_t *q,
                     const hp_query_options_t *opts, hp_dialect_t dialect, hp_plan_t *plan,
                     h2o_mem_pool_t *pool)
{
    const hp_query__node_t *root = q->root;
    const hp_table_t *t = plan->table;
    hp_exec_t *exec = &plan->exec;
    window_t w;
    plan_window(req, root, opts, &w);
    plan->offset = w.offset;
    plan->has_limit = w.count != UINT64_MAX || w.offset != 0;
    plan->prefer.ret = HP_RETURN_REPRESENTATION;

    hp_query__gen_t g;
    hp_query__gen_init(&g, dialect, pool);
    exec->kind = HP_EXEC_READ;
    exec->returns_rows = 1;
    exec->col_count = root->sel_count;
    exec->cols = h2o_mem_alloc_pool(pool, (root->sel_count + 1) * sizeof(*exec->cols));
    size_t key_bind = 0;
    if (batchable(req, root, &w)) {
        plan->batch.tree = root;
        plan->batch.key = root->conds->field.col;
    }
    if (dialect == HP_DIALECT_POSTGRES) {
        plan_read_pg(req, root, t, &w, &g, exec, &key_bind);
        plan->batch.key_bind = key_bind;
        if (pg_streamable(req, &w, plan))
            plan_stream_pg(req, root, t, &w, &g, exec);
        return 0;
    }
    hp_query__gen_lit(&g, "SELECT ");
    hp_query__gen_select_list(&g, root, exec->cols);
    hp_query__gen_lit(&g, " FROM ");
    hp_query__gen_ident(&g, t->name, t->name_len);
    plan->batch.key_bind = g.bind_count;
    hp_query__gen_where(&g, root, 1);
    hp_query__gen_order(&g, root);
    hp_query__gen_limit(&g, w.count != UINT64_MAX, w.count, w.offset);
    hp_query__gen_finish(&g, &exec->main);

    if (req->prefer.count != HP_COUNT_NONE) {
        hp_query__gen_lit(&g, "SELECT count(*) FROM ");
        hp_query__gen_ident(&g, t->name, t->name_len);
        hp_query__gen_where(&g, root, 1);
        hp_query__gen_finish(&g, &exec->count);
    }
    return 0;
}

static void add_table(hp_plan_t *plan, const hp_table_t *t, size_t cap)
{
    for (size_t i = 0; i != plan->table_count; ++i)
        if (plan->tables[i] == t)
            return;
    if (plan->table_count < cap)
        plan->tables[plan->table_count++] = t;
}

static size_t count_nodes(const hp_query__node_t *node)
{
    size_t n = 1;
    for (const hp_query__sel_t *s = node->sel; s != NULL; s = s->next)
        if (s->kind == HP_QUERY__SEL_EMBED)
            n += count_nodes(s->embed);
    return n;
}

static void add_tables(const hp_query__node_t *node, hp_plan_t *plan, size_t cap)
{
    add_table(plan, node->table, cap);
    for (const hp_query__sel_t *s = node->sel; s != NULL; s = s->next)
        if (s->kind == HP_QUERY__SEL_EMBED)
            add_tables(s->embed, plan, cap);
}

/* Every table the response reads: the URL's table first, then each embedded one, once. */
static void collect_tables(const hp_query__node_t *root, hp_plan_t *plan, h2o_mem_pool_t *pool)
{
    size_t cap = count_nodes(root);
    plan->tables = h2o_mem_alloc_pool(pool, cap * sizeof(*plan->tables));
    plan->table_count = 0;
    add_tables(root, plan, cap);
}

static h2o_iovec_t copy_bytes(h2o_iovec_t v, h2o_mem_pool_t *pool)
{
    if (v.base == NULL)
        return v;
    char *p = h2o_mem_alloc_pool(pool, v.len + 1);
    memcpy(p, v.base, v.len);
    p[v.len] = '\0';
    return h2o_iovec_init(p, v.len);
}

/* The caller, kept as long as the plan (the request may go before its job is done). */
static const hp_caller_t *copy_caller(const hp_caller_t *c, h2o_mem_pool_t *pool)
{
    if (c == NULL || hp_caller_is_anonymous(c))
        return &hp_caller_anonymous;
    hp_caller_t *copy = h2o_mem_alloc_pool(pool, sizeof(*copy));
    copy->role = copy_bytes(c->role, pool);
    copy->claims = copy_bytes(c->claims, pool);
    copy->partition = c->partition;
    return copy;
}

int hp_query_plan(const hp_request_t *req, const hp_schema_t *schema, hp_dialect_t dialect,
                  const hp_query_options_t *opts, hp_plan_t *plan, hp_error_t *err,
                  h2o_mem_pool_t *pool)
{
    memset(plan, 0, sizeof(*plan));
    plan->exec.caller = copy_caller(req->caller, pool);
    plan->prefer = req->prefer;
    plan->exec.format = req->format;

    hp_query__parsed_t q;
    if (hp_query__parse(req, &q, err, pool) != 0)
        return -1;

    const hp_table_t *t = NULL;
    if (req->resource.len <= HP_MAX_IDENT_BYTES)
        t = hp_schema_find_table(schema, req->resource.base, req->resource.len);
    if (t == NULL)
        return hp_error_set(
            err, pool, HP_ERR_UNKNOWN_TABLE, "Could not find the table '%.*s' in the schema cache",
            (int)(req->resource.len > HP_MAX_IDENT_BYTES ? HP_MAX_IDENT_BYTES : req->resource.len),
            req->resource.base);
    plan->table = t;
    if (hp_query__resolve(schema, t, &q, err, pool) != 0)
        return -1;
    collect_tables(q.root, plan, pool);

    switch (req->method) {
    case HP_METHOD_GET:
    case HP_METHOD_HEAD: return plan_read(req, &q, opts, dialect, plan, pool);
    case HP_METHOD_POST:
    case HP_METHOD_PATCH:
    case HP_METHOD_DELETE:
        plan->is_write = 1;
        return hp_query__plan_write(req, &q, dialect, plan, err, pool);
    }
    return hp_error_set(err, pool, HP_ERR_METHOD, "method not supported");
}
