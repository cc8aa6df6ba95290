/*
 * src/query/plan.c: the read window (limit/offset x Range x db-max-rows), the count statement,
 * format and prefer as applied, and the entry checks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "core/limits.h"
#include "test_query_fixture.h"

TEST_QUERY_SCHEMA_FIXTURE

typedef struct {
    const char *query;
    int range_set;
    uint64_t first;
    uint64_t last;
    int64_t max_rows;
    const char *sql_tail; /* what follows FROM "users" */
    const char *binds;
    uint64_t offset;
    int has_limit;
} window_case_t;

static const window_case_t window_cases[] = {
    {"", 0, 0, 0, -1, "", "", 0, 0},
    {"limit=10", 0, 0, 0, -1, " LIMIT ?1", "i:10", 0, 1},
    {"offset=5", 0, 0, 0, -1, " LIMIT -1 OFFSET ?1", "i:5", 5, 1},
    {"", 1, 0, 24, -1, " LIMIT ?1", "i:25", 0, 1},
    {"", 1, 5, UINT64_MAX, -1, " LIMIT -1 OFFSET ?1", "i:5", 5, 1},
    {"limit=10", 1, 0, 24, -1, " LIMIT ?1", "i:10", 0, 1},
    {"limit=100&offset=10", 1, 0, 24, -1, " LIMIT ?1 OFFSET ?2", "i:15|i:10", 10, 1},
    {"limit=5&offset=10", 1, 12, 30, -1, " LIMIT ?1 OFFSET ?2", "i:3|i:12", 12, 1},
    {"offset=50", 1, 0, 24, -1, " LIMIT ?1 OFFSET ?2", "i:0|i:50", 50, 1},
    {"", 0, 0, 0, 100, " LIMIT ?1", "i:100", 0, 1},
    {"limit=500", 0, 0, 0, 100, " LIMIT ?1", "i:100", 0, 1},
    {"limit=5", 0, 0, 0, 100, " LIMIT ?1", "i:5", 0, 1},
    {"", 0, 0, 0, 0, " LIMIT ?1", "i:0", 0, 1},
    {"limit=9223372036854775807&offset=9223372036854775807", 0, 0, 0, -1, " LIMIT ?1 OFFSET ?2",
     "i:9223372036854775807|i:9223372036854775807", 9223372036854775807ull, 1},
};

static void test_read_window(void **state)
{
    (void)state;
    for (size_t i = 0; i != sizeof(window_cases) / sizeof(window_cases[0]); ++i) {
        const window_case_t *c = window_cases + i;
        char query[256], expected[256], binds[256];
        snprintf(query, sizeof(query), "select=id%s%s", c->query[0] ? "&" : "", c->query);
        hp_request_t req = test_query_request(HP_METHOD_GET, "users", query, NULL);
        req.range.is_set = c->range_set;
        req.range.first = c->first;
        req.range.last = c->last;
        hp_query_options_t opts = {c->max_rows};
        h2o_mem_pool_t pool;
        h2o_mem_init_pool(&pool);
        hp_error_t err = {0};
        hp_plan_t plan;
        int rc = hp_query_plan(&req, schema, HP_DIALECT_SQLITE, &opts, &plan, &err, &pool);
        snprintf(expected, sizeof(expected), "SELECT \"id\" FROM \"users\"%s", c->sql_tail);
        test_query_binds(&plan.exec.main, binds, sizeof(binds));
        if (rc != 0 || strcmp(plan.exec.main.sql, expected) != 0 || strcmp(binds, c->binds) != 0)
            print_error("case %zu: %s\n  got %s | %s\n", i, query,
                        rc == 0 ? plan.exec.main.sql : err.message, binds);
        assert_int_equal(rc, 0);
        assert_string_equal(plan.exec.main.sql, expected);
        assert_int_equal(plan.exec.main.sql_len, strlen(expected));
        assert_string_equal(binds, c->binds);
        assert_true(plan.offset == c->offset);
        assert_int_equal(plan.has_limit, c->has_limit);
        h2o_mem_clear_pool(&pool);
    }
}

static void test_count_has_the_same_filters_and_its_own_binds(void **state)
{
    (void)state;
    test_query_outcome_t out;
    test_query_run(schema, HP_METHOD_GET, "users",
                   "select=id,orders!inner(id)&orders.status=eq.x&id=gt.3&limit=2&order=id", NULL,
                   "count=exact", &out);
    assert_int_equal(out.rc, 0);
    assert_string_equal(out.count_sql,
                        "SELECT count(*) FROM \"users\" WHERE \"id\" > ?1 AND EXISTS (SELECT 1 "
                        "FROM \"orders\" AS \"_hp1\" WHERE \"_hp1\".\"user_id\" = \"users\".\"id\" "
                        "AND \"_hp1\".\"status\" = ?2)");
    assert_string_equal(out.count_binds, "i:3|t:x");
    assert_string_equal(out.binds, "t:x|i:3|t:x|i:2");

    test_query_run(schema, HP_METHOD_GET, "users", "select=id", NULL, "count=planned", &out);
    assert_string_equal(out.count_sql, "SELECT count(*) FROM \"users\"");
    assert_string_equal(out.count_binds, "");

    test_query_run(schema, HP_METHOD_GET, "users", "select=id", NULL, NULL, &out);
    assert_string_equal(out.count_sql, "");
}

static void test_format_and_prefer_as_applied(void **state)
{
    (void)state;
    hp_request_t req = test_query_request(HP_METHOD_HEAD, "users", "select=id", NULL);
    req.format = HP_FORMAT_CSV;
    hp_query_options_t opts = {-1};
    h2o_mem_pool_t pool;
    h2o_mem_init_pool(&pool);
    hp_error_t err = {0};
    hp_plan_t plan;
    assert_int_equal(hp_query_plan(&req, schema, HP_DIALECT_SQLITE, &opts, &plan, &err, &pool), 0);
    assert_int_equal(plan.exec.format, HP_FORMAT_CSV);
    assert_int_equal(plan.exec.kind, HP_EXEC_READ);
    assert_int_equal(plan.is_write, 0);
    assert_int_equal(plan.prefer.ret, HP_RETURN_REPRESENTATION);
    assert_ptr_equal(plan.table, hp_schema_find_table(schema, "users", 5));
    assert_string_equal(plan.exec.main.sql, "SELECT \"id\" FROM \"users\"");

    /* NULL options: no cap */
    req.method = HP_METHOD_GET;
    assert_int_equal(hp_query_plan(&req, schema, HP_DIALECT_SQLITE, NULL, &plan, &err, &pool), 0);
    assert_int_equal(plan.has_limit, 0);
    h2o_mem_clear_pool(&pool);
}

static void test_entry_errors(void **state)
{
    (void)state;
    h2o_mem_pool_t pool;
    h2o_mem_init_pool(&pool);
    hp_plan_t plan;
    hp_query_options_t opts = {-1};

    hp_error_t err = {0};
    hp_request_t req;
    static char long_name[HP_MAX_IDENT_BYTES + 2];
    memset(long_name, 'a', sizeof(long_name) - 1);
    err = (hp_error_t){0};
    req = test_query_request(HP_METHOD_GET, long_name, "", NULL);
    assert_int_equal(hp_query_plan(&req, schema, HP_DIALECT_SQLITE, &opts, &plan, &err, &pool), -1);
    assert_int_equal(err.code, HP_ERR_UNKNOWN_TABLE);

    err = (hp_error_t){0};
    req = test_query_request(HP_METHOD_GET, "Users", "", NULL);
    assert_int_equal(hp_query_plan(&req, schema, HP_DIALECT_SQLITE, &opts, &plan, &err, &pool), -1);
    assert_string_equal(err.message, "Could not find the table 'Users' in the schema cache");
    h2o_mem_clear_pool(&pool);
}

static void test_view_reads_like_a_table(void **state)
{
    (void)state;
    test_query_outcome_t out;
    test_query_run(schema, HP_METHOD_GET, "v_users", "username=eq.a&order=id.desc", NULL, NULL,
                   &out);
    assert_int_equal(out.rc, 0);
    assert_string_equal(out.sql, "SELECT \"id\", \"username\" FROM \"v_users\" WHERE \"username\" "
                                 "= ?1 ORDER BY \"id\" DESC NULLS FIRST");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_window),
        cmocka_unit_test(test_count_has_the_same_filters_and_its_own_binds),
        cmocka_unit_test(test_format_and_prefer_as_applied),
        cmocka_unit_test(test_entry_errors),
        cmocka_unit_test(test_view_reads_like_a_table),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
