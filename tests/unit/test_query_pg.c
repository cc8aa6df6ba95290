/*
 * The PostgreSQL dialect: the statements the planner writes, checked as text. The statements
 * themselves run against a real PostgreSQL in the spec suite (scripts/test-spec-pg.sh); these
 * pin their shapes: one statement per request, the body rendered by the database, every value
 * a bind, every name quoted and qualified.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "test_query_fixture.h"

static hp_schema_t *schema;

static void run(hp_method_t m, const char *resource, const char *query, const char *body,
                const char *prefer, test_query_outcome_t *out)
{
    test_query_run_in(schema, HP_DIALECT_POSTGRES, m, resource, query, body, prefer, out);
    assert_int_equal(out->rc, 0);
    assert_int_equal(out->plan.exec.renders_in_db, 1);
    assert_string_equal(out->count_sql, ""); /* the total is in the same statement */
}

static void test_read_is_one_statement_rendering_json(void **state)
{
    (void)state;
    static test_query_outcome_t out;
    run(HP_METHOD_GET, "users",
        "select=id,name:username&id=in.(1,2,\"a,b\")&order=username&limit=5", NULL, NULL, &out);
    assert_string_equal(out.sql,
                        "SELECT coalesce(json_agg(\"_hp_r\"), '[]')::text, count(*), NULL::int8 "
                        "FROM (SELECT \"users\".\"id\" AS \"id\", \"users\".\"username\" AS "
                        "\"name\" FROM \"users\" WHERE \"users\".\"id\" = ANY($1) ORDER BY "
                        "\"users\".\"username\" LIMIT $2) AS \"_hp_r\"");
    assert_string_equal(out.binds, "t:{\"1\",\"2\",\"a,b\"}|i:5");
}

static void test_filters_bind_text_and_use_postgres_operators(void **state)
{
    (void)state;
    static test_query_outcome_t out;
    run(HP_METHOD_GET, "users",
        "select=id&username=ilike.*an*&email=isdistinct.x&data->a->>b=eq.1&offset=3", NULL, NULL,
        &out);
    assert_string_equal(out.sql,
                        "SELECT coalesce(json_agg(\"_hp_r\"), '[]')::text, count(*), NULL::int8 "
                        "FROM (SELECT \"users\".\"id\" AS \"id\" FROM \"users\" WHERE "
                        "\"users\".\"username\" ILIKE $1 AND \"users\".\"email\" IS DISTINCT FROM "
                        "$2 AND (\"users\".\"data\" #>> $3) = $4 OFFSET $5) AS \"_hp_r\"");
    assert_string_equal(out.binds, "t:%an%|t:x|t:{\"a\",\"b\"}|t:1|i:3");
}

static void test_count_and_embeds_in_the_same_statement(void **state)
{
    (void)state;
    static test_query_outcome_t out;
    test_query_run_in(schema, HP_DIALECT_POSTGRES, HP_METHOD_GET, "users",
                      "select=id,orders(id)&orders.order=id.desc&orders.limit=2", NULL, NULL, &out);
    assert_int_equal(out.rc, 0);
    assert_string_equal(out.sql,
                        "SELECT coalesce(json_agg(\"_hp_r\"), '[]')::text, count(*), NULL::int8 "
                        "FROM (SELECT \"users\".\"id\" AS \"id\", (SELECT coalesce(json_agg("
                        "\"_hp1_r\"), '[]') FROM (SELECT \"_hp1\".\"id\" AS \"id\" FROM "
                        "\"orders\" AS \"_hp1\" WHERE \"_hp1\".\"user_id\" = \"users\".\"id\" "
                        "ORDER BY \"_hp1\".\"id\" DESC LIMIT $1) AS \"_hp1_r\") AS \"orders\" "
                        "FROM \"users\") AS \"_hp_r\"");

    hp_request_t req =
        test_query_request(HP_METHOD_GET, "orders", "select=id,users(id)&id=gt.1", NULL);
    req.prefer.count = HP_COUNT_EXACT;
    req.format = HP_FORMAT_OBJECT;
    h2o_mem_pool_t pool;
    h2o_mem_init_pool(&pool);
    hp_plan_t plan;
    hp_error_t err = {0};
    assert_int_equal(hp_query_plan(&req, schema, HP_DIALECT_POSTGRES, NULL, &plan, &err, &pool), 0);
    assert_string_equal(plan.exec.main.sql,
                        "SELECT (json_agg(\"_hp_r\") -> 0)::text, count(*), (SELECT count(*) FROM "
                        "\"orders\" WHERE \"orders\".\"id\" > $1) FROM (SELECT \"orders\".\"id\" "
                        "AS \"id\", (SELECT row_to_json(\"_hp1_r\") FROM (SELECT \"_hp1\".\"id\" "
                        "AS \"id\" FROM \"users\" AS \"_hp1\" WHERE \"_hp1\".\"id\" = "
                        "\"orders\".\"user_id\") AS \"_hp1_r\") AS \"users\" FROM \"orders\" "
                        "WHERE \"orders\".\"id\" > $2) AS \"_hp_r\"");
    h2o_mem_clear_pool(&pool);
}

static void test_insert_is_a_cte_with_location_and_inserted_flag(void **state)
{
    (void)state;
    static test_query_outcome_t out;
    run(HP_METHOD_POST, "orders", "", "{\"user_id\":1,\"status\":\"new\"}", "return=representation",
        &out);
    assert_string_equal(
        out.sql,
        "WITH \"_hp_w\" AS (INSERT INTO \"orders\" (\"user_id\", \"status\") SELECT "
        "\"_hp_b\".\"user_id\", \"_hp_b\".\"status\" FROM json_array_elements($1::json) AS "
        "\"_hp_e\"(\"v\"), json_populate_record(NULL::\"orders\", \"_hp_e\".\"v\") AS \"_hp_b\" "
        "RETURNING \"orders\".*, (xmax = 0) AS \"_hp_ins\") SELECT (SELECT coalesce(json_agg("
        "\"_hp_r\"), '[]')::text FROM (SELECT \"orders\".\"id\" AS \"id\", \"orders\".\"user_id\" "
        "AS \"user_id\", \"orders\".\"status\" AS \"status\", \"orders\".\"total\" AS \"total\", "
        "\"orders\".\"created_at\" AS \"created_at\" FROM \"_hp_w\" AS \"orders\") AS \"_hp_r\"), "
        "(SELECT count(*) FROM \"_hp_w\"), NULL::int8, (SELECT coalesce(bool_or(\"_hp_ins\"), "
        "false) FROM \"_hp_w\"), (SELECT \"id\"::text FROM \"_hp_w\" LIMIT 1)");
    assert_string_equal(out.binds, "t:[{\"user_id\":1,\"status\":\"new\"}]");
    assert_string_equal(out.location, "id");
}

static void test_update_and_delete(void **state)
{
    (void)state;
    static test_query_outcome_t out;
    run(HP_METHOD_PATCH, "orders", "id=eq.4", "{\"status\":\"paid\"}", NULL, &out);
    assert_string_equal(out.sql,
                        "WITH \"_hp_w\" AS (UPDATE \"orders\" SET (\"status\") = (SELECT "
                        "\"status\" FROM json_populate_record(NULL::\"orders\", $1::json)) WHERE "
                        "\"orders\".\"id\" = $2 RETURNING \"orders\".*, false AS \"_hp_ins\") "
                        "SELECT NULL::text, (SELECT count(*) FROM \"_hp_w\"), NULL::int8, "
                        "(SELECT coalesce(bool_or(\"_hp_ins\"), false) FROM \"_hp_w\")");
    assert_string_equal(out.binds, "t:{\"status\":\"paid\"}|t:4");
    run(HP_METHOD_DELETE, "orders", "status=eq.x", NULL, NULL, &out);
    assert_string_equal(out.sql,
                        "WITH \"_hp_w\" AS (DELETE FROM \"orders\" WHERE \"orders\".\"status\" = "
                        "$1 RETURNING \"orders\".*, false AS \"_hp_ins\") SELECT NULL::text, "
                        "(SELECT count(*) FROM \"_hp_w\"), NULL::int8, (SELECT coalesce(bool_or("
                        "\"_hp_ins\"), false) FROM \"_hp_w\")");
}

/* Plans GET resource?query in `format` (count=exact when counted, db-max-rows max_rows) in
 * pool; fails the test on an error. */
static void plan_read(const char *resource, const char *query, hp_format_t format, int counted,
                      int64_t max_rows, hp_plan_t *plan, h2o_mem_pool_t *pool)
{
    hp_request_t req = test_query_request(HP_METHOD_GET, resource, query, NULL);
    req.format = format;
    if (counted)
        req.prefer.count = HP_COUNT_EXACT;
    hp_query_options_t opts = {max_rows};
    hp_error_t err = {0};
    assert_int_equal(hp_query_plan(&req, schema, HP_DIALECT_POSTGRES, &opts, plan, &err, pool), 0);
}

/* A read that may be large also gets the streamed shape: the same derived table, one row
 * rendered per result row (to_json of the record: json_agg's element), and the total alone.
 * main is unchanged. */
static void test_large_read_gets_the_streamed_shape(void **state)
{
    (void)state;
    h2o_mem_pool_t pool;
    h2o_mem_init_pool(&pool);
    hp_plan_t plan;
    char binds[256];
    plan_read("users", "select=id,orders(id)&id=gt.1&order=id&orders.limit=2", HP_FORMAT_JSON, 1,
              -1, &plan, &pool);
    assert_string_equal(plan.exec.main.sql,
                        "SELECT coalesce(json_agg(\"_hp_r\"), '[]')::text, count(*), (SELECT "
                        "count(*) FROM \"users\" WHERE \"users\".\"id\" > $1) FROM (SELECT "
                        "\"users\".\"id\" AS \"id\", (SELECT coalesce(json_agg(\"_hp1_r\"), "
                        "'[]') FROM (SELECT \"_hp1\".\"id\" AS \"id\" FROM \"orders\" AS "
                        "\"_hp1\" WHERE \"_hp1\".\"user_id\" = \"users\".\"id\" LIMIT $2) AS "
                        "\"_hp1_r\") AS \"orders\" FROM \"users\" WHERE \"users\".\"id\" > $3 "
                        "ORDER BY \"users\".\"id\") AS \"_hp_r\"");
    assert_string_equal(plan.exec.stream.sql,
                        "SELECT to_json(\"_hp_r\")::text FROM (SELECT \"users\".\"id\" AS "
                        "\"id\", (SELECT coalesce(json_agg(\"_hp1_r\"), '[]') FROM (SELECT "
                        "\"_hp1\".\"id\" AS \"id\" FROM \"orders\" AS \"_hp1\" WHERE "
                        "\"_hp1\".\"user_id\" = \"users\".\"id\" LIMIT $1) AS \"_hp1_r\") AS "
                        "\"orders\" FROM \"users\" WHERE \"users\".\"id\" > $2 ORDER BY "
                        "\"users\".\"id\") AS \"_hp_r\"");
    assert_string_equal(test_query_binds(&plan.exec.stream, binds, sizeof(binds)), "i:2|t:1");
    assert_string_equal(plan.exec.stream_count.sql,
                        "SELECT count(*) FROM \"users\" WHERE \"users\".\"id\" > $1");
    assert_string_equal(test_query_binds(&plan.exec.stream_count, binds, sizeof(binds)), "t:1");

    /* CSV: the record text without its parentheses, string_agg's element; no count asked */
    plan_read("orders", "select=id,status&offset=5", HP_FORMAT_CSV, 0, -1, &plan, &pool);
    assert_string_equal(plan.exec.stream.sql,
                        "SELECT substring(\"_hp_r\"::text, 2, length(\"_hp_r\"::text) - 2) FROM "
                        "(SELECT \"orders\".\"id\" AS \"id\", \"orders\".\"status\" AS "
                        "\"status\" FROM \"orders\" OFFSET $1) AS \"_hp_r\"");
    assert_string_equal(test_query_binds(&plan.exec.stream, binds, sizeof(binds)), "i:5");
    assert_null(plan.exec.stream_count.sql);
    h2o_mem_clear_pool(&pool);
}

/* Which reads get the streamed shape: JSON or CSV reads whose window may hold more than
 * HP_QUERY_STREAM_MIN_ROWS rows, not singular, not a lookup by a unique key. */
static void test_which_reads_may_stream(void **state)
{
    (void)state;
    static const struct {
        const char *resource, *query;
        hp_format_t format;
        int64_t max_rows;
        int streams;
    } cases[] = {
        {"orders", "", HP_FORMAT_JSON, -1, 1},
        {"orders", "status=eq.new", HP_FORMAT_CSV, -1, 1},
        {"orders", "limit=1001", HP_FORMAT_JSON, -1, 1},
        {"orders", "limit=1000", HP_FORMAT_JSON, -1, 0},
        {"orders", "limit=5&offset=100000", HP_FORMAT_JSON, -1, 0},
        {"orders", "", HP_FORMAT_JSON, 1000, 0}, /* db-max-rows caps the window */
        {"orders", "", HP_FORMAT_JSON, 5000, 1},
        {"orders", "", HP_FORMAT_OBJECT, -1, 0},      /* singular: one row */
        {"orders", "id=eq.3", HP_FORMAT_JSON, -1, 0}, /* by its key: at most one row */
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        h2o_mem_pool_t pool;
        h2o_mem_init_pool(&pool);
        hp_plan_t plan;
        plan_read(cases[i].resource, cases[i].query, cases[i].format, 0, cases[i].max_rows, &plan,
                  &pool);
        if ((plan.exec.stream.sql != NULL) != cases[i].streams)
            fail_msg("%s?%s (format %d, max-rows %lld): streamed shape %s", cases[i].resource,
                     cases[i].query, (int)cases[i].format, (long long)cases[i].max_rows,
                     plan.exec.stream.sql != NULL ? "planned" : "missing");
        assert_non_null(plan.exec.main.sql);
        h2o_mem_clear_pool(&pool);
    }
    /* writes never stream */
    static test_query_outcome_t out;
    run(HP_METHOD_DELETE, "orders", "status=eq.x", NULL, "return=representation", &out);
    assert_null(out.plan.exec.stream.sql);
}

static int setup(void **state)
{
    (void)state;
    schema = test_query_schema();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    hp_schema_unref(schema);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_is_one_statement_rendering_json),
        cmocka_unit_test(test_filters_bind_text_and_use_postgres_operators),
        cmocka_unit_test(test_count_and_embeds_in_the_same_statement),
        cmocka_unit_test(test_insert_is_a_cte_with_location_and_inserted_flag),
        cmocka_unit_test(test_update_and_delete),
        cmocka_unit_test(test_large_read_gets_the_streamed_shape),
        cmocka_unit_test(test_which_reads_may_stream),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
