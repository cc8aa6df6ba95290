/*
 * src/query/body.c: writes. Tables of {method, query, body, Prefer, SQL, binds} and
 * {..., error code, message}.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "test_query_fixture.h"

TEST_QUERY_SCHEMA_FIXTURE

typedef struct {
    hp_method_t method;
    const char *resource;
    const char *query;
    const char *body;
    const char *prefer;
    const char *sql;
    const char *binds;
    const char *cols;     /* "name:render,..." */
    const char *location; /* location column names */
    int returns_rows;
} write_case_t;

#define POST HP_METHOD_POST
#define PATCH HP_METHOD_PATCH
#define DELETE HP_METHOD_DELETE
#define REP "return=representation"
#define JX(k) "json_extract(value, ?" #k ")"
#define DEF(k, d) "CASE WHEN json_type(value, ?" #k ") IS NULL THEN " d " ELSE " JX(k) " END"

static const write_case_t write_cases[] = {
    {POST, "users", "", "{\"id\":1,\"username\":\"a\"}", NULL,
     "INSERT INTO \"users\" (\"id\", \"username\") SELECT " JX(2) ", " JX(
         3) " FROM json_each(?1) WHERE true RETURNING \"id\"",
     "t:[{\"id\":1,\"username\":\"a\"}]|t:$.\"id\"|t:$.\"username\"", "", "id", 1},
    {POST, "users", "", "[{\"id\":1,\"username\":\"a\"},{\"username\":\"b\",\"id\":2}]", NULL,
     "INSERT INTO \"users\" (\"id\", \"username\") SELECT " JX(2) ", " JX(
         3) " FROM json_each(?1) WHERE true RETURNING \"id\"",
     "t:[{\"id\":1,\"username\":\"a\"},{\"username\":\"b\",\"id\":2}]|t:$.\"id\"|t:$."
     "\"username\"",
     "", "id", 1},
    {POST, "users", "select=id,active", " {\"username\":\"a\"} ", REP,
     "INSERT INTO \"users\" (\"username\") SELECT " JX(
         2) " FROM json_each(?1) WHERE true RETURNING \"id\", \"active\", \"id\"",
     "t:[ {\"username\":\"a\"} ]|t:$.\"username\"", "id:a,active:b", "id", 1},
    {POST, "users", "columns=id,bio", "[{\"id\":1,\"x\":2},{}]", NULL,
     "INSERT INTO \"users\" (\"id\", \"bio\") SELECT " JX(2) ", " JX(
         3) " FROM json_each(?1) WHERE true RETURNING \"id\"",
     "t:[{\"id\":1,\"x\":2},{}]|t:$.\"id\"|t:$.\"bio\"", "", "id", 1},
    {POST, "defaults", "", "{\"name\":\"x\"}", "missing=default",
     "INSERT INTO \"defaults\" (\"name\") SELECT " DEF(
         2, "('anon')") " FROM json_each(?1) WHERE true RETURNING \"id\"",
     "t:[{\"name\":\"x\"}]|t:$.\"name\"", "", "id", 1},
    {POST, "defaults", "columns=name,n", "[{\"name\":\"x\"}]", "missing=default",
     "INSERT INTO \"defaults\" (\"name\", \"n\") SELECT " DEF(2, "('anon')") ", " DEF(
         3, "(7)") " FROM json_each(?1) WHERE true RETURNING \"id\"",
     "t:[{\"name\":\"x\"}]|t:$.\"name\"|t:$.\"n\"", "", "id", 1},
    {POST, "defaults", "", "[{},{}]", NULL,
     "INSERT INTO \"defaults\" (\"id\") SELECT " DEF(
         2, "NULL") " FROM json_each(?1) WHERE true RETURNING \"id\"",
     "t:[{},{}]|t:$.\"id\"", "", "id", 1},
    {POST, "defaults", "", "[]", NULL,
     "INSERT INTO \"defaults\" (\"id\") SELECT " DEF(
         2, "NULL") " FROM json_each(?1) WHERE true RETURNING \"id\"",
     "t:[]|t:$.\"id\"", "", "id", 1},
    {POST, "nopk", "", "{\"a\":1}", NULL,
     "INSERT INTO \"nopk\" (\"a\") SELECT " JX(2) " FROM json_each(?1) WHERE true",
     "t:[{\"a\":1}]|t:$.\"a\"", "", "", 0},
    {POST, "items", "", "{\"order_id\":1,\"line\":2}", NULL,
     "INSERT INTO \"items\" (\"order_id\", \"line\") SELECT " JX(2) ", " JX(
         3) " FROM json_each(?1) WHERE true RETURNING \"order_id\", \"line\"",
     "t:[{\"order_id\":1,\"line\":2}]|t:$.\"order_id\"|t:$.\"line\"", "", "order_id,line", 1},
    /* upserts */
    {POST, "users", "", "{\"id\":1,\"username\":\"a\"}", "resolution=merge-duplicates",
     "INSERT INTO \"users\" (\"id\", \"username\") SELECT " JX(2) ", " JX(
         3) " FROM json_each(?1) WHERE true ON CONFLICT (\"id\") DO UPDATE SET \"id\" = "
            "excluded.\"id\", "
            "\"username\" = excluded.\"username\" RETURNING \"id\"",
     "t:[{\"id\":1,\"username\":\"a\"}]|t:$.\"id\"|t:$.\"username\"", "", "id", 1},
    {POST, "users", "", "{\"id\":1}", "resolution=ignore-duplicates",
     "INSERT INTO \"users\" (\"id\") SELECT " JX(
         2) " FROM json_each(?1) WHERE true ON CONFLICT (\"id\") DO NOTHING RETURNING \"id\"",
     "t:[{\"id\":1}]|t:$.\"id\"", "", "id", 1},
    {POST, "nopk", "on_conflict=a", "{\"a\":1,\"b\":\"x\"}", "resolution=merge-duplicates",
     "INSERT INTO \"nopk\" (\"a\", \"b\") SELECT " JX(2) ", " JX(
         3) " FROM json_each(?1) WHERE true ON CONFLICT (\"a\") DO UPDATE SET \"a\" = "
            "excluded.\"a\", "
            "\"b\" = excluded.\"b\"",
     "t:[{\"a\":1,\"b\":\"x\"}]|t:$.\"a\"|t:$.\"b\"", "", "", 0},
    {POST, "nopk", "", "{\"a\":1}", "resolution=ignore-duplicates",
     "INSERT INTO \"nopk\" (\"a\") SELECT " JX(
         2) " FROM json_each(?1) WHERE true ON CONFLICT DO NOTHING",
     "t:[{\"a\":1}]|t:$.\"a\"", "", "", 0},
    /* PATCH */
    {PATCH, "users", "id=eq.5", "{\"bio\":\"x\"}", NULL,
     "UPDATE \"users\" SET \"bio\" = json_extract(?1, ?2) WHERE \"id\" = ?3",
     "t:{\"bio\":\"x\"}|t:$.\"bio\"|i:5", "", "", 0},
    {PATCH, "users", "select=id,bio&id=eq.5", "{\"bio\":\"x\",\"active\":true}", REP,
     "UPDATE \"users\" SET \"bio\" = json_extract(?1, ?2), \"active\" = json_extract(?1, ?3) "
     "WHERE \"id\" = ?4 RETURNING \"id\", \"bio\"",
     "t:{\"bio\":\"x\",\"active\":true}|t:$.\"bio\"|t:$.\"active\"|i:5", "id:a,bio:a", "", 1},
    {PATCH, "users", "id=eq.5", "{}", NULL, "UPDATE \"users\" SET \"id\" = \"id\" WHERE false", "",
     "", "", 0},
    {PATCH, "users", "id=eq.5", "{\"bio\":1}", "resolution=merge-duplicates",
     "UPDATE \"users\" SET \"bio\" = json_extract(?1, ?2) WHERE \"id\" = ?3",
     "t:{\"bio\":1}|t:$.\"bio\"|i:5", "", "", 0},
    /* DELETE */
    {DELETE, "users", "id=gt.5", NULL, NULL, "DELETE FROM \"users\" WHERE \"id\" > ?1", "i:5", "",
     "", 0},
    {DELETE, "users", "select=id&id=gt.5", "ignored", REP,
     "DELETE FROM \"users\" WHERE \"id\" > ?1 RETURNING \"id\"", "i:5", "id:a", "", 1},
    {DELETE, "users", "", NULL, NULL, "DELETE FROM \"users\"", "", "", "", 0},
    /* !inner embeds shape only the representation */
    {DELETE, "users", "select=id,orders!inner(id)&id=eq.1", NULL, REP,
     "DELETE FROM \"users\" WHERE \"id\" = ?1 RETURNING \"id\", (SELECT "
     "json_group_array(json_object('id', CASE WHEN typeof(\"_hp1\".\"id\") = 'blob' THEN '\\x' "
     "|| lower(hex(\"_hp1\".\"id\")) ELSE \"_hp1\".\"id\" END)) FROM \"orders\" AS \"_hp1\" WHERE "
     "\"_hp1\".\"user_id\" = \"users\".\"id\")",
     "i:1", "id:a,orders:j", "", 1},
    /* a JSON column takes its value's JSON text (JSON null as NULL): a string stays a string */
    {POST, "users", "", "{\"data\":\"[1]\"}", NULL,
     "INSERT INTO \"users\" (\"data\") SELECT nullif(value -> ?2, 'null') FROM json_each(?1) "
     "WHERE true RETURNING \"id\"",
     "t:[{\"data\":\"[1]\"}]|t:$.\"data\"", "", "id", 1},
    {POST, "users", "", "{\"data\":null}", "missing=default",
     "INSERT INTO \"users\" (\"data\") SELECT CASE WHEN json_type(value, ?2) IS NULL THEN NULL "
     "ELSE nullif(value -> ?2, 'null') END FROM json_each(?1) WHERE true RETURNING \"id\"",
     "t:[{\"data\":null}]|t:$.\"data\"", "", "id", 1},
    {PATCH, "users", "id=eq.5", "{\"data\":{\"a\":1},\"bio\":\"x\"}", NULL,
     "UPDATE \"users\" SET \"data\" = nullif(?1 -> ?2, 'null'), \"bio\" = json_extract(?1, ?3) "
     "WHERE \"id\" = ?4",
     "t:{\"data\":{\"a\":1},\"bio\":\"x\"}|t:$.\"data\"|t:$.\"bio\"|i:5", "", "", 0},
    /* a view is passed through */
    {POST, "v_users", "", "{\"username\":\"a\"}", NULL,
     "INSERT INTO \"v_users\" (\"username\") SELECT " JX(2) " FROM json_each(?1) WHERE true",
     "t:[{\"username\":\"a\"}]|t:$.\"username\"", "", "", 0},
};

static void test_write_table(void **state)
{
    (void)state;
    for (size_t i = 0; i != sizeof(write_cases) / sizeof(write_cases[0]); ++i) {
        const write_case_t *c = write_cases + i;
        test_query_outcome_t out;
        test_query_run(schema, c->method, c->resource, c->query, c->body, c->prefer, &out);
        if (out.rc != 0 || strcmp(out.sql, c->sql) != 0 || strcmp(out.binds, c->binds) != 0 ||
            strcmp(out.cols, c->cols) != 0 || strcmp(out.location, c->location) != 0)
            print_error("case %zu: %s?%s\n  got rc=%d %s %s\n  sql %s\n  binds %s\n  cols %s "
                        "loc %s\n",
                        i, c->resource, c->query, out.rc, out.message, out.details, out.sql,
                        out.binds, out.cols, out.location);
        assert_int_equal(out.rc, 0);
        assert_string_equal(out.sql, c->sql);
        assert_string_equal(out.binds, c->binds);
        assert_string_equal(out.cols, c->cols);
        assert_string_equal(out.location, c->location);
        assert_int_equal(out.plan.exec.kind, HP_EXEC_WRITE);
        assert_int_equal(out.plan.exec.returns_rows, c->returns_rows);
        assert_int_equal(out.plan.is_write, 1);
        assert_null(out.plan.exec.count.sql);
    }
}

typedef struct {
    hp_method_t method;
    const char *resource;
    const char *query;
    const char *body;
    const char *prefer;
    hp_errcode_t code;
    const char *message;
} write_error_t;

static const write_error_t write_errors[] = {
    {POST, "users", "", "", NULL, HP_ERR_INVALID_BODY, "Empty or invalid json"},
    {POST, "users", "", NULL, NULL, HP_ERR_INVALID_BODY, "Empty or invalid json"},
    {POST, "users", "", "{\"id\":", NULL, HP_ERR_INVALID_BODY, "Empty or invalid json"},
    {POST, "users", "", "nope", NULL, HP_ERR_INVALID_BODY, "Empty or invalid json"},
    {POST, "users", "", "1", NULL, HP_ERR_INVALID_BODY, "Empty or invalid json"},
    {POST, "users", "", "\"x\"", NULL, HP_ERR_INVALID_BODY, "Empty or invalid json"},
    {POST, "users", "", "[1]", NULL, HP_ERR_INVALID_BODY, "Empty or invalid json"},
    {POST, "users", "", "[{\"id\":1},[]]", NULL, HP_ERR_INVALID_BODY, "Empty or invalid json"},
    {POST, "users", "", "{\"id\":1} x", NULL, HP_ERR_INVALID_BODY, "Empty or invalid json"},
    {POST, "users", "", "[{\"id\":1},{\"username\":\"b\"}]", NULL, HP_ERR_INVALID_BODY,
     "All object keys must match"},
    {POST, "users", "", "[{\"id\":1},{\"id\":2,\"bio\":\"b\"}]", NULL, HP_ERR_INVALID_BODY,
     "All object keys must match"},
    {POST, "users", "", "{\"nope\":1}", NULL, HP_ERR_UNKNOWN_BODY_COLUMN,
     "Could not find the 'nope' column of 'users' in the schema cache"},
    {POST, "users", "columns=id,nope", "{\"id\":1}", NULL, HP_ERR_UNKNOWN_BODY_COLUMN,
     "Could not find the 'nope' column of 'users' in the schema cache"},
    {POST, "users", "columns=id,", "{\"id\":1}", NULL, HP_ERR_PARSE,
     "failed to parse columns parameter (id,)"},
    {POST, "users", "on_conflict=nope", "{\"id\":1}", "resolution=merge-duplicates",
     HP_ERR_UNDEFINED_COLUMN, "column users.nope does not exist"},
    {POST, "nopk", "", "{\"a\":1}", "resolution=merge-duplicates", HP_ERR_PARSE, NULL},
    {PATCH, "users", "", "[{\"id\":1}]", NULL, HP_ERR_INVALID_BODY, "Empty or invalid json"},
    {PATCH, "users", "", "", NULL, HP_ERR_INVALID_BODY, "Empty or invalid json"},
    {PATCH, "users", "limit=1", "{\"bio\":\"x\"}", NULL, HP_ERR_PARSE, NULL},
    {DELETE, "users", "limit=1", NULL, NULL, HP_ERR_PARSE, NULL},
    {DELETE, "users", "offset=1", NULL, NULL, HP_ERR_PARSE, NULL},
    {DELETE, "users", "nope=eq.1", NULL, NULL, HP_ERR_UNDEFINED_COLUMN, NULL},
    {POST, "we\"ird", "", "{\"co\\\"l\":\"x\"}", NULL, HP_ERR_INVALID_BODY, NULL},
    /* an INTEGER PRIMARY KEY (the rowid) takes integers only: 22P02 with the value */
    {POST, "users", "", "{\"id\":\"x\"}", NULL, HP_ERR_INVALID_TEXT,
     "invalid input syntax for type bigint: \"x\""},
    {POST, "users", "", "{\"id\":1.5}", NULL, HP_ERR_INVALID_TEXT,
     "invalid input syntax for type bigint: \"1.5\""},
    {POST, "users", "", "{\"id\":[]}", NULL, HP_ERR_INVALID_TEXT,
     "invalid input syntax for type bigint: \"[]\""},
    {POST, "users", "", "{\"id\":{}}", NULL, HP_ERR_INVALID_TEXT,
     "invalid input syntax for type bigint: \"{}\""},
    {POST, "users", "", "{\"id\":\"\"}", NULL, HP_ERR_INVALID_TEXT,
     "invalid input syntax for type bigint: \"\""},
    {POST, "users", "", "{\"id\":true}", NULL, HP_ERR_INVALID_TEXT,
     "invalid input syntax for type bigint: \"true\""},
    {POST, "users", "", "{\"id\":\"1.0\"}", NULL, HP_ERR_INVALID_TEXT, NULL},
    {POST, "users", "", "{\"id\":\"0x10\"}", NULL, HP_ERR_INVALID_TEXT, NULL},
    {POST, "users", "", "{\"id\":\"9223372036854775808\"}", NULL, HP_ERR_INVALID_TEXT, NULL},
    {POST, "users", "", "{\"id\":\"-9223372036854775809\"}", NULL, HP_ERR_INVALID_TEXT, NULL},
    {POST, "users", "", "{\"id\":1e19}", NULL, HP_ERR_INVALID_TEXT, NULL},
    {POST, "users", "", "{\"id\":\"- 1\"}", NULL, HP_ERR_INVALID_TEXT, NULL},
    {POST, "users", "", "[{\"id\":1},{\"id\":\"2x\"}]", NULL, HP_ERR_INVALID_TEXT,
     "invalid input syntax for type bigint: \"2x\""},
    {POST, "users", "columns=id", "[{\"id\":1},{\"id\":\"x\"}]", NULL, HP_ERR_INVALID_TEXT, NULL},
    {PATCH, "users", "id=eq.1", "{\"id\":\"x\"}", NULL, HP_ERR_INVALID_TEXT,
     "invalid input syntax for type bigint: \"x\""},
    /* U+0000 anywhere in the body (text cannot hold it): 22P05, as PostgreSQL answers */
    {POST, "users", "", "{\"bio\":\"a\\u0000b\"}", NULL, HP_ERR_UNTRANSLATABLE,
     "unsupported Unicode escape sequence"},
    {PATCH, "users", "id=eq.1", "{\"bio\":\"\\u0000\"}", NULL, HP_ERR_UNTRANSLATABLE, NULL},
    {POST, "users", "", "[{\"data\":{\"k\":[\"x\\u0000\"]}}]", NULL, HP_ERR_UNTRANSLATABLE, NULL},
    /* jansson refuses it in a key itself */
    {POST, "users", "", "{\"data\":{\"k\\u0000\":1}}", NULL, HP_ERR_INVALID_BODY, NULL},
};

static void test_write_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i != sizeof(write_errors) / sizeof(write_errors[0]); ++i) {
        const write_error_t *c = write_errors + i;
        test_query_outcome_t out;
        test_query_run(schema, c->method, c->resource, c->query, c->body, c->prefer, &out);
        if (out.rc != -1 || out.code != c->code ||
            (c->message != NULL && strcmp(out.message, c->message) != 0))
            print_error("case %zu: %s?%s body %s\n  got rc=%d code=%d %s | %s\n  sql %s\n", i,
                        c->resource, c->query, c->body ? c->body : "(none)", out.rc, (int)out.code,
                        out.message, out.details, out.sql);
        assert_int_equal(out.rc, -1);
        assert_int_equal(out.code, c->code);
        if (c->message != NULL)
            assert_string_equal(out.message, c->message);
    }
}

/* Values the checks above must let through (SQLite stores each as sent, or as the integer a
 * decimal string spells, as PostgreSQL does). */
static void test_accepted_values(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        "{\"id\":7}",
        "{\"id\":-7}",
        "{\"id\":7.0}",
        "{\"id\":null}",
        "{\"id\":\" 7 \"}",
        "{\"id\":\"+7\"}",
        "{\"id\":\"9223372036854775807\"}",
        "{\"id\":\"-9223372036854775808\"}",
        "{\"id\":9223372036854775807}",
        "{\"id\":-9223372036854775808}",
        "{\"manager_id\":\"x\"}",       /* not the rowid: SQLite's flexible typing */
        "{\"bio\":\"a\\\\u0000\"}",     /* an escaped backslash, then u0000 */
        "{\"bio\":\"\\u0001\\u001f\"}", /* other control characters are text */
    };
    for (size_t i = 0; i != sizeof(bodies) / sizeof(bodies[0]); ++i) {
        test_query_outcome_t out;
        test_query_run(schema, POST, "users", "", bodies[i], NULL, &out);
        if (out.rc != 0)
            print_error("body %s: %s | %s\n", bodies[i], out.message, out.details);
        assert_int_equal(out.rc, 0);
    }
}

static void test_invalid_json_details_come_from_the_parser(void **state)
{
    (void)state;
    test_query_outcome_t out;
    test_query_run(schema, POST, "users", "", "{\"id\":", NULL, &out);
    assert_int_equal(out.code, HP_ERR_INVALID_BODY);
    assert_true(out.details[0] != '\0');
}

static void test_return_default_means_minimal_for_writes(void **state)
{
    (void)state;
    test_query_outcome_t out;
    test_query_run(schema, PATCH, "users", "id=eq.1", "{\"bio\":\"x\"}", NULL, &out);
    assert_int_equal(out.plan.prefer.ret, HP_RETURN_MINIMAL);
    test_query_run(schema, POST, "users", "", "{\"id\":1}", "return=headers-only", &out);
    assert_int_equal(out.plan.prefer.ret, HP_RETURN_HEADERS_ONLY);
    assert_string_equal(out.cols, "");
    assert_string_equal(out.location, "id");
    test_query_run(schema, PATCH, "users", "", "{\"bio\":\"x\"}", "resolution=merge-duplicates",
                   &out);
    assert_int_equal(out.plan.prefer.resolution, HP_RESOLUTION_NONE);
}

static void test_get_ignores_the_body(void **state)
{
    (void)state;
    test_query_outcome_t out;
    test_query_run(schema, HP_METHOD_GET, "users", "select=id", "not json", NULL, &out);
    assert_int_equal(out.rc, 0);
    assert_string_equal(out.sql, "SELECT \"id\" FROM \"users\"");
    assert_int_equal(out.plan.is_write, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_table),
        cmocka_unit_test(test_write_errors),
        cmocka_unit_test(test_accepted_values),
        cmocka_unit_test(test_invalid_json_details_come_from_the_parser),
        cmocka_unit_test(test_return_default_means_minimal_for_writes),
        cmocka_unit_test(test_get_ignores_the_body),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
