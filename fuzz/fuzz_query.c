/*
 * libFuzzer target for src/query: arbitrary bytes as a query string (and, after a NUL, as a
 * write body) planned against a small fixed schema, plus the same bytes as Accept, Prefer and
 * Range header values. The first byte picks the method and the resource. Any crash, leak or
 * sanitizer report is a bug; errors are expected outcomes.
 *
 * Built from this file, every .c in src/query, and src/db/schema.c, src/core/error.c,
 * src/core/buf.c, src/core/json.c, linked with -ljansson -lh2o-evloop -lxxhash.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "query/query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static hp_schema_t *build_schema(void)
{
    hp_schema_t *s = hp_schema_create();
    hp_table_t *t = hp_schema_add_table(s, "users", 0, 1);
    hp_schema_add_column(s, t, "id", "INTEGER", 0, 1, NULL);
    hp_schema_add_column(s, t, "username", "TEXT", 1, 0, NULL);
    hp_schema_add_column(s, t, "active", "BOOLEAN", 0, 0, NULL);
    hp_schema_add_column(s, t, "data", "JSON", 0, 0, NULL);
    hp_schema_add_column(s, t, "score", "REAL", 0, 0, "0");
    hp_schema_add_column(s, t, "manager_id", "INTEGER", 0, 0, NULL);
    t = hp_schema_add_table(s, "orders", 0, 1);
    hp_schema_add_column(s, t, "id", "INTEGER", 0, 1, NULL);
    hp_schema_add_column(s, t, "user_id", "INTEGER", 0, 0, NULL);
    hp_schema_add_column(s, t, "status", "TEXT", 0, 0, NULL);
    t = hp_schema_add_table(s, "items", 0, 1);
    hp_schema_add_column(s, t, "order_id", "INTEGER", 0, 1, NULL);
    hp_schema_add_column(s, t, "line", "INTEGER", 0, 2, NULL);
    t = hp_schema_add_table(s, "nopk", 0, 1);
    hp_schema_add_column(s, t, "a", "NUMERIC", 0, 0, NULL);
    const char *user_id[] = {"user_id"}, *id[] = {"id"}, *manager_id[] = {"manager_id"};
    const char *order_id[] = {"order_id"};
    hp_schema_add_fkey(s, NULL, "orders", user_id, "users", id, 1);
    hp_schema_add_fkey(s, NULL, "users", manager_id, "users", id, 1);
    hp_schema_add_fkey(s, NULL, "items", order_id, "orders", id, 1);
    hp_schema_finalize(s);
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static hp_schema_t *schema;
    static const char *const resources[] = {"users", "orders", "items", "nopk"};
    static const hp_method_t methods[] = {HP_METHOD_GET, HP_METHOD_HEAD, HP_METHOD_POST,
                                          HP_METHOD_PATCH, HP_METHOD_DELETE};
    if (schema == NULL)
        schema = build_schema();
    if (size == 0)
        return 0;
    uint8_t selector = data[0];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    const char *nul = memchr(text, '\0', len);
    size_t query_len = nul != NULL ? (size_t)(nul - text) : len;

    h2o_mem_pool_t pool;
    h2o_mem_init_pool(&pool);
    hp_request_t req;
    memset(&req, 0, sizeof(req));
    req.method = methods[selector % 5];
    const char *resource = resources[(selector / 5) % 4];
    req.resource = h2o_iovec_init(resource, strlen(resource));
    req.query = h2o_iovec_init(text, query_len);
    if (nul != NULL)
        req.body = h2o_iovec_init(nul + 1, len - query_len - 1);
    if (selector & 0x80)
        req.prefer.ret = HP_RETURN_REPRESENTATION;
    if (selector & 0x40)
        req.prefer.resolution = HP_RESOLUTION_MERGE;
    if (selector & 0x20)
        req.prefer.missing = HP_MISSING_DEFAULT;
    req.prefer.count = (selector & 0x10) ? HP_COUNT_EXACT : HP_COUNT_NONE;

    hp_error_t err = {0};
    hp_format_t format;
    hp_range_t range = {0, 0, 0};
    hp_prefer_t prefer = req.prefer;
    hp_query_parse_accept(req.query, &format, &err, &pool);
    err.code = HP_OK;
    hp_query_parse_range(req.query, &range, &err, &pool);
    err.code = HP_OK;
    hp_query_parse_prefer(req.query, &prefer);
    if (range.is_set && (selector & 0x08))
        req.range = range;

    hp_plan_t plan;
    hp_query_options_t opts = {(selector & 0x04) ? 10 : -1};
    if (hp_query_plan(&req, schema, HP_DIALECT_SQLITE, &opts, &plan, &err, &pool) == 0) {
        /* Touch everything the backend would read. */
        const hp_exec_t *e = &plan.exec;
        size_t n = strlen(e->main.sql);
        if (n != e->main.sql_len)
            __builtin_trap();
        for (size_t i = 0; i != e->main.bind_count; ++i)
            if (e->main.binds[i].kind == HP_BIND_TEXT && e->main.binds[i].text.len != 0)
                n += (unsigned char)e->main.binds[i].text.base[e->main.binds[i].text.len - 1];
        for (size_t i = 0; i != e->col_count; ++i)
            n += e->cols[i].name.len;
        for (size_t i = 0; i != e->location_col_count; ++i)
            n += e->location_names[i].len;
        if (e->count.sql != NULL && strlen(e->count.sql) != e->count.sql_len)
            __builtin_trap();
        (void)n;
    } else if (err.code == HP_OK || err.message == NULL) {
        __builtin_trap(); /* a failure must always say why */
    }
    h2o_mem_clear_pool(&pool);
    return 0;
}
