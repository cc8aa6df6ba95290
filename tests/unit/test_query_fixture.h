/*
 * Shared by the tests of src/query: a fixed schema built with the schema builder, a request
 * helper, and a compact text form of binds for table-driven comparisons
 * ("i:123|t:abc|r:1.5|n"). Header-only (static inline) so each test file stays one binary.
 */
#ifndef HP_TEST_QUERY_FIXTURE_H
#define HP_TEST_QUERY_FIXTURE_H

#include <stdio.h>
#include <string.h>
#include "query/query.h"

/*
 * users(id PK, username NOT NULL, email, active BOOLEAN, created_at, bio, manager_id -> users,
 *       data JSON, score REAL, amount NUMERIC, avatar BLOB)
 * orders(id PK, user_id -> users, status, total REAL, created_at NOT NULL)
 * products(id PK, name, price REAL, category_id), product_details(product_id PK -> products,
 *       description, specifications)
 * devices(id PK, name, status), readings(id PK, device_id -> devices, temperature REAL,
 *       ts NOT NULL)
 * messages(id PK, sender_id -> users, receiver_id -> users)   (two ways to reach users)
 * nopk(a, b)                                                   (no primary key)
 * we"ird(co"l PK)                                              (quotes in names)
 * v_users: a view (id, username)
 * defaults(id PK, name DEFAULT 'anon', n INTEGER DEFAULT 7)
 * items(order_id, line, qty; PK (order_id, line), order_id -> orders)
 * wide(id PK, user_id -> users, c2..c129 alternating TEXT / BOOLEAN)   (130 columns)
 * notes(id PK, "display name")                                 (a space in a column name)
 */
static inline hp_schema_t *test_query_schema(void)
{
    hp_schema_t *s = hp_schema_create();
    hp_table_t *t = hp_schema_add_table(s, "users", 0, 1);
    hp_schema_add_column(s, t, "id", "INTEGER", 0, 1, NULL);
    hp_schema_add_column(s, t, "username", "TEXT", 1, 0, NULL);
    hp_schema_add_column(s, t, "email", "TEXT", 0, 0, NULL);
    hp_schema_add_column(s, t, "active", "BOOLEAN", 0, 0, NULL);
    hp_schema_add_column(s, t, "created_at", "TEXT", 0, 0, NULL);
    hp_schema_add_column(s, t, "bio", "TEXT", 0, 0, NULL);
    hp_schema_add_column(s, t, "manager_id", "INTEGER", 0, 0, NULL);
    hp_schema_add_column(s, t, "data", "JSON", 0, 0, NULL);
    hp_schema_add_column(s, t, "score", "REAL", 0, 0, NULL);
    hp_schema_add_column(s, t, "amount", "NUMERIC", 0, 0, NULL);
    hp_schema_add_column(s, t, "avatar", "BLOB", 0, 0, NULL);
    t = hp_schema_add_table(s, "orders", 0, 1);
    hp_schema_add_column(s, t, "id", "INTEGER", 0, 1, NULL);
    hp_schema_add_column(s, t, "user_id", "INTEGER", 0, 0, NULL);
    hp_schema_add_column(s, t, "status", "TEXT", 0, 0, NULL);
    hp_schema_add_column(s, t, "total", "REAL", 0, 0, NULL);
    hp_schema_add_column(s, t, "created_at", "TEXT", 1, 0, NULL);
    t = hp_schema_add_table(s, "products", 0, 1);
    hp_schema_add_column(s, t, "id", "INTEGER", 0, 1, NULL);
    hp_schema_add_column(s, t, "name", "TEXT", 0, 0, NULL);
    hp_schema_add_column(s, t, "price", "REAL", 0, 0, NULL);
    hp_schema_add_column(s, t, "category_id", "INTEGER", 0, 0, NULL);
    t = hp_schema_add_table(s, "product_details", 0, 1);
    hp_schema_add_column(s, t, "product_id", "INTEGER", 0, 1, NULL);
    hp_schema_add_column(s, t, "description", "TEXT", 0, 0, NULL);
    hp_schema_add_column(s, t, "specifications", "TEXT", 0, 0, NULL);
    t = hp_schema_add_table(s, "devices", 0, 1);
    hp_schema_add_column(s, t, "id", "INTEGER", 0, 1, NULL);
    hp_schema_add_column(s, t, "name", "TEXT", 0, 0, NULL);
    hp_schema_add_column(s, t, "status", "TEXT", 0, 0, NULL);
    t = hp_schema_add_table(s, "readings", 0, 1);
    hp_schema_add_column(s, t, "id", "INTEGER", 0, 1, NULL);
    hp_schema_add_column(s, t, "device_id", "INTEGER", 0, 0, NULL);
    hp_schema_add_column(s, t, "temperature", "REAL", 0, 0, NULL);
    hp_schema_add_column(s, t, "ts", "TEXT", 1, 0, NULL);
    t = hp_schema_add_table(s, "messages", 0, 1);
    hp_schema_add_column(s, t, "id", "INTEGER", 0, 1, NULL);
    hp_schema_add_column(s, t, "sender_id", "INTEGER", 0, 0, NULL);
    hp_schema_add_column(s, t, "receiver_id", "INTEGER", 0, 0, NULL);
    t = hp_schema_add_table(s, "nopk", 0, 1);
    hp_schema_add_column(s, t, "a", "INTEGER", 0, 0, NULL);
    hp_schema_add_column(s, t, "b", "TEXT", 0, 0, NULL);
    t = hp_schema_add_table(s, "we\"ird", 0, 1);
    hp_schema_add_column(s, t, "co\"l", "TEXT", 0, 1, NULL);
    t = hp_schema_add_table(s, "v_users", 1, 0);
    hp_schema_add_column(s, t, "id", "INTEGER", 0, 0, NULL);
    hp_schema_add_column(s, t, "username", "TEXT", 0, 0, NULL);
    t = hp_schema_add_table(s, "defaults", 0, 1);
    hp_schema_add_column(s, t, "id", "INTEGER", 0, 1, NULL);
    hp_schema_add_column(s, t, "name", "TEXT", 0, 0, "'anon'");
    hp_schema_add_column(s, t, "n", "INTEGER", 0, 0, "7");
    t = hp_schema_add_table(s, "items", 0, 1);
    hp_schema_add_column(s, t, "order_id", "INTEGER", 0, 1, NULL);
    hp_schema_add_column(s, t, "line", "INTEGER", 0, 2, NULL);
    hp_schema_add_column(s, t, "qty", "INTEGER", 0, 0, NULL);
    t = hp_schema_add_table(s, "wide", 0, 1);
    hp_schema_add_column(s, t, "id", "INTEGER", 0, 1, NULL);
    hp_schema_add_column(s, t, "user_id", "INTEGER", 0, 0, NULL);
    for (int i = 2; i < 130; ++i) {
        char name[16];
        snprintf(name, sizeof(name), "c%d", i);
        hp_schema_add_column(s, t, name, i % 2 ? "BOOLEAN" : "TEXT", 0, 0, NULL);
    }
    t = hp_schema_add_table(s, "notes", 0, 1);
    hp_schema_add_column(s, t, "id", "INTEGER", 0, 1, NULL);
    hp_schema_add_column(s, t, "display name", "TEXT", 0, 0, NULL);

    const char *user_id[] = {"user_id"}, *id[] = {"id"}, *manager_id[] = {"manager_id"};
    const char *product_id[] = {"product_id"}, *device_id[] = {"device_id"};
    const char *sender_id[] = {"sender_id"}, *receiver_id[] = {"receiver_id"};
    const char *order_id[] = {"order_id"};
    hp_schema_add_fkey(s, "orders_user_id_fkey", "orders", user_id, "users", id, 1);
    hp_schema_add_fkey(s, "users_manager_id_fkey", "users", manager_id, "users", id, 1);
    hp_schema_add_fkey(s, "product_details_product_id_fkey", "product_details", product_id,
                       "products", id, 1);
    hp_schema_add_fkey(s, "readings_device_id_fkey", "readings", device_id, "devices", id, 1);
    hp_schema_add_fkey(s, "messages_sender_id_fkey", "messages", sender_id, "users", id, 1);
    hp_schema_add_fkey(s, "messages_receiver_id_fkey", "messages", receiver_id, "users", id, 1);
    hp_schema_add_fkey(s, "items_order_id_fkey", "items", order_id, "orders", id, 1);
    hp_schema_add_fkey(s, "wide_user_id_fkey", "wide", user_id, "users", id, 1);
    hp_schema_finalize(s);
    return s;
}

/* The fixture schema as a cmocka group fixture: `schema`, setup() and teardown(). */
#define TEST_QUERY_SCHEMA_FIXTURE     \
    static hp_schema_t *schema;       \
    static int setup(void **state)    \
    {                                 \
        (void)state;                  \
        schema = test_query_schema(); \
        return 0;                     \
    }                                 \
    static int teardown(void **state) \
    {                                 \
        (void)state;                  \
        hp_schema_unref(schema);      \
        return 0;                     \
    }

static inline hp_request_t test_query_request(hp_method_t method, const char *resource,
                                              const char *query, const char *body)
{
    hp_request_t req;
    memset(&req, 0, sizeof(req));
    req.method = method;
    req.resource = h2o_iovec_init(resource, strlen(resource));
    req.query = h2o_iovec_init(query, strlen(query));
    if (body != NULL)
        req.body = h2o_iovec_init(body, strlen(body));
    req.format = HP_FORMAT_JSON;
    return req;
}

/* Writes the binds as "i:1|t:abc|r:1.5|n" into out (truncated to cap). */
static inline const char *test_query_binds(const hp_stmt_t *stmt, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i != stmt->bind_count && len < cap; ++i) {
        const hp_bind_t *b = stmt->binds + i;
        const char *sep = i != 0 ? "|" : "";
        int n = 0;
        switch (b->kind) {
        case HP_BIND_NULL: n = snprintf(out + len, cap - len, "%sn", sep); break;
        case HP_BIND_INT:
            n = snprintf(out + len, cap - len, "%si:%lld", sep, (long long)b->i);
            break;
        case HP_BIND_REAL: n = snprintf(out + len, cap - len, "%sr:%g", sep, b->d); break;
        case HP_BIND_TEXT:
            n = snprintf(out + len, cap - len, "%st:%.*s", sep, (int)b->text.len, b->text.base);
            break;
        }
        len += (size_t)n;
    }
    return out;
}

/* One planning run in its own pool: the case's outcome, kept as text so the pool can go. */
typedef struct {
    int rc;
    hp_errcode_t code;
    char message[512];
    char details[1024];
    int details_is_json; /* details holds a JSON value (hp_error_t.details_is_json) */
    char hint[512];
    char sql[32768];
    char binds[2048];
    char count_sql[2048];
    char count_binds[512];
    hp_plan_t plan;  /* pointers inside are dead after the run; scalars only */
    char cols[1024]; /* "name:render,..." with render a(uto) b(ool) j(son) */
    char location[256];
} test_query_outcome_t;

static inline void test_query_run_in(const hp_schema_t *schema, hp_dialect_t dialect,
                                     hp_method_t method, const char *resource, const char *query,
                                     const char *body, const char *prefer,
                                     test_query_outcome_t *out)
{
    hp_request_t req = test_query_request(method, resource, query, body);
    if (prefer != NULL)
        hp_query_parse_prefer(h2o_iovec_init(prefer, strlen(prefer)), &req.prefer);
    hp_query_options_t opts = {-1};
    h2o_mem_pool_t pool;
    hp_error_t err = {0};
    h2o_mem_init_pool(&pool);
    memset(out, 0, sizeof(*out));
    out->rc = hp_query_plan(&req, schema, dialect, &opts, &out->plan, &err, &pool);
    out->code = err.code;
    if (err.message != NULL)
        snprintf(out->message, sizeof(out->message), "%s", err.message);
    if (err.details != NULL)
        snprintf(out->details, sizeof(out->details), "%s", err.details);
    out->details_is_json = err.details_is_json;
    if (err.hint != NULL)
        snprintf(out->hint, sizeof(out->hint), "%s", err.hint);
    if (out->rc == 0) {
        const hp_exec_t *e = &out->plan.exec;
        snprintf(out->sql, sizeof(out->sql), "%s", e->main.sql);
        test_query_binds(&e->main, out->binds, sizeof(out->binds));
        if (e->count.sql != NULL) {
            snprintf(out->count_sql, sizeof(out->count_sql), "%s", e->count.sql);
            test_query_binds(&e->count, out->count_binds, sizeof(out->count_binds));
        }
        size_t len = 0;
        for (size_t i = 0; i != e->col_count && len < sizeof(out->cols); ++i)
            len += (size_t)snprintf(out->cols + len, sizeof(out->cols) - len, "%s%.*s:%c",
                                    i != 0 ? "," : "", (int)e->cols[i].name.len,
                                    e->cols[i].name.base, "abj"[e->cols[i].render]);
        len = 0;
        for (size_t i = 0; i != e->location_col_count && len < sizeof(out->location); ++i)
            len += (size_t)snprintf(out->location + len, sizeof(out->location) - len, "%s%.*s",
                                    i != 0 ? "," : "", (int)e->location_names[i].len,
                                    e->location_names[i].base);
    }
    /* Pointers die with the pool; the scalars stay for the tests. */
    memset(&out->plan.exec.main, 0, sizeof(out->plan.exec.main));
    memset(&out->plan.exec.count, 0, sizeof(out->plan.exec.count));
    out->plan.exec.cols = NULL;
    out->plan.exec.location_names = NULL;
    h2o_mem_clear_pool(&pool);
}

static inline void test_query_run(const hp_schema_t *schema, hp_method_t method,
                                  const char *resource, const char *query, const char *body,
                                  const char *prefer, test_query_outcome_t *out)
{
    test_query_run_in(schema, HP_DIALECT_SQLITE, method, resource, query, body, prefer, out);
}

#endif
