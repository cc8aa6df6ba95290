/*
 * src/query/sql.c: embeds, JSON-typing inside json_object, value typing of binds, NULLS
 * ordering, and injection attempts in every position (the SQL text must never carry client
 * text).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "test_query_fixture.h"

TEST_QUERY_SCHEMA_FIXTURE

/* The JSON value of a plain column inside json_object (blobs become "\x..." text). */
#define PLAIN(ref) \
    "CASE WHEN typeof(" ref ") = 'blob' THEN '\\x' || lower(hex(" ref ")) ELSE " ref " END"
#define BOOL(ref) \
    "CASE WHEN " ref " IS NULL THEN NULL WHEN " ref " THEN json('true') ELSE json('false') END"
#define JCOL(ref) "CASE WHEN json_valid(" ref ") THEN json(" ref ") ELSE json_quote(" ref ") END"
#define H1(c) "\"_hp1\".\"" c "\""
#define H2(c) "\"_hp2\".\"" c "\""

typedef struct {
    const char *resource;
    const char *query;
    const char *sql;
    const char *binds;
    const char *cols;
} case_t;

static const case_t
    cases
        [] =
            {
                /* S2: to-one (child key is its primary key) */
                {"products",
                 "category_id=eq.7&select=id,name,price,product_details(description)&order=id&"
                 "limit=50",
                 "SELECT \"id\", \"name\", \"price\", (SELECT json_object('description', " PLAIN(H1(
                     "description")) ") FROM \"product_details\" AS \"_hp1\" WHERE " H1("product_"
                                                                                        "id") " = "
                                                                                              "\"pr"
                                                                                              "oduc"
                                                                                              "ts\""
                                                                                              ".\"i"
                                                                                              "d\")"
                                                                                              " FRO"
                                                                                              "M "
                                                                                              "\"pr"
                                                                                              "oduc"
                                                                                              "ts\""
                                                                                              " WHE"
                                                                                              "RE "
                                                                                              "\"ca"
                                                                                              "tego"
                                                                                              "ry_"
                                                                                              "id\""
                                                                                              " = "
                                                                                              "?1 "
                                                                                              "ORDE"
                                                                                              "R "
                                                                                              "BY "
                                                                                              "\"id"
                                                                                              "\" "
                                                                                              "LIMI"
                                                                                              "T "
                                                                                              "?2",
                 "i:7|i:50", "id:a,name:a,price:a,product_details:j"},
                /* many-to-one */
                {"orders", "select=id,users(username)",
                 "SELECT \"id\", (SELECT json_object('username', " PLAIN(
                     H1("username")) ") FROM \"users\" AS "
                                     "\"_hp1\" WHERE " H1(
                                         "id") " = \"orders\".\"user_id\") FROM \"orders\"",
                 "", "id:a,users:j"},
                /* one-to-many, with an alias (bound as the key) and embedded filter */
                {"users", "select=id,o:orders(id)&o.status=eq.x",
                 "SELECT \"id\", (SELECT json_group_array(json_object('id', " PLAIN(
                     H1("id")) ")) FROM "
                               "\"orders\" AS \"_hp1\" WHERE " H1(
                                   "user_id") " = \"users\".\"id\" AND " H1("status") " = ?1) FROM "
                                                                                      "\"users\"",
                 "t:x", "id:a,o:j"},
                /* one-to-many with order/limit/offset: a derived table orders and limits first */
                {"users",
                 "select=id,orders(id,total)&orders.order=total.desc&orders.limit=2&orders.offset="
                 "1",
                 "SELECT \"id\", (SELECT json_group_array(json_object('id', " PLAIN(H1(
                     "c0")) ", 'total', " PLAIN(H1("c1")) ")) FROM (SELECT " H1("id") " AS "
                                                                                      "\"c0\","
                                                                                      " " H1(
                                                                                          "to"
                                                                                          "ta"
                                                                                          "l") " AS"
                                                                                               " \""
                                                                                               "c1"
                                                                                               "\" "
                                                                                               "FRO"
                                                                                               "M "
                                                                                               "\"o"
                                                                                               "rde"
                                                                                               "rs"
                                                                                               "\" "
                                                                                               "AS "
                                                                                               "\"_"
                                                                                               "hp1"
                                                                                               "\" "
                                                                                               "WHE"
                                                                                               "RE"
                                                                                               " " H1("user_id") " = \"users\".\"id\" ORDER BY " H1(
                                                                                                   "total") " DESC NULLS FIRST LIMIT ?1 OFFSET ?2) AS \"_hp1\") FROM \"users\"",
                 "i:2|i:1", "id:a,orders:j"},
                /* booleans and JSON columns inside json_object; self reference both ways, as
                 * PostgREST names them: the referencing column embeds the referenced row, the table
                 * (hinted by the referencing column, or not) the referencing rows */
                {"users", "select=mgr:manager_id(active,data),reports:users!manager_id(id)",
                 "SELECT (SELECT json_object('active', " BOOL(H1("active")) ", 'data', " JCOL(
                     H1("data")) ") FROM "
                                 "\"users\" AS \"_hp1\" WHERE " H1(
                                     "id") " = \"users\".\"manager_id\"), (SELECT "
                                           "json_group_array(json_object('id', " PLAIN(
                                               H2("id")) ")) FROM \"users\" AS \"_hp2\" "
                                                         "WHERE " H2("manager_id") " = "
                                                                                   "\"users\"."
                                                                                   "\"id\") FROM "
                                                                                   "\"users\"",
                 "", "mgr:j,reports:j"},
                /* nested embeds stay JSON (json(...)); !inner adds EXISTS to the parent,
                   recursively */
                {
                    "users", "select=id,orders!inner(id,items!inner(qty))&orders.status=eq.x",
                    "SELECT \"id\", (SELECT json_group_array(json_object('id', " PLAIN(
                        H1(
                            "id")) ", 'items', "
                                   "json((SELECT json_group_array(json_object('qty', " PLAIN(
                                       H2(
                                           "qty")) ")) FROM \"items\" AS "
                                                   "\"_hp2\" WHERE " H2("order_id") " = " H1("id") ")))) FROM \"orders\" AS \"_hp1\" WHERE " H1("user_id") " = \"users\".\"id\" AND " H1(
                                                       "status") " = ?1 AND EXISTS (SELECT 1 FROM "
                                                                 "\"items\" AS \"_hp2\" WHERE " H2("order_id") " = " H1(
                                                                     "id") ")) FROM \"users\" "
                                                                           "WHERE EXISTS "
                                                                           "(SELECT 1 FROM "
                                                                           "\"orders\" AS \"_hp1\" "
                                                                           "WHERE " H1("user_id") " = \"users\".\"id\" AND " H1(
                                                                               "status") " = ?2 "
                                                                                         "AND "
                                                                                         "EXISTS "
                                                                                         "(SELECT "
                                                                                         "1 FROM "
                                                                                         "\"items\""
                                                                                         " AS "
                                                                                         "\"_hp2\" "
                                                                                         "WHERE"
                                                                                         " " H2(
                                                                                             "or"
                                                                                             "de"
                                                                                             "r_"
                                                                                             "i"
                                                                                             "d") " = " H1("id") "))",
                    "t:x|t:x", "id:a,orders:j"},
                {"users", "select=id,messages!sender_id(id)",
                 "SELECT \"id\", (SELECT json_group_array(json_object('id', " PLAIN(
                     H1("id")) ")) FROM "
                               "\"messages\" AS \"_hp1\" WHERE " H1(
                                   "sender_id") " = \"users\".\"id\") FROM \"users\"",
                 "", "id:a,messages:j"},
                {"users", "select=id,messages!messages_receiver_id_fkey!left(id)",
                 "SELECT \"id\", (SELECT json_group_array(json_object('id', " PLAIN(
                     H1("id")) ")) FROM "
                               "\"messages\" AS \"_hp1\" WHERE " H1(
                                   "receiver_id") " = \"users\".\"id\") FROM \"users\"",
                 "", "id:a,messages:j"},
                {"users", "select=id,orders()",
                 "SELECT \"id\", (SELECT json_group_array(json_object()) FROM \"orders\" AS "
                 "\"_hp1\" WHERE " H1("user_id") " = \"users\".\"id\") FROM \"users\"",
                 "", "id:a,orders:j"},
                {"users", "select=id,users(id)",
                 "SELECT \"id\", (SELECT json_group_array(json_object('id', " PLAIN(
                     H1("id")) ")) FROM "
                               "\"users\" AS \"_hp1\" WHERE " H1(
                                   "manager_id") " = \"users\".\"id\") FROM \"users\"",
                 "", "id:a,users:j"},
                {"users", "select=manager_id(id)&manager_id.id=gt.1",
                 "SELECT (SELECT json_object('id', " PLAIN(
                     H1("id")) ") FROM \"users\" AS \"_hp1\" WHERE " H1("id") " = "
                                                                              "\"users\"."
                                                                              "\"manager_id\" "
                                                                              "AND " H1("id") " > "
                                                                                              "?1)"
                                                                                              " FR"
                                                                                              "OM "
                                                                                              "\"u"
                                                                                              "ser"
                                                                                              "s"
                                                                                              "\"",
                 "i:1", "manager_id:j"},
                /* a constraint or column name as the target: it is the key, so a bind in
                   json_object */
                {"users", "select=orders(id,user_id(username))",
                 "SELECT (SELECT json_group_array(json_object('id', " PLAIN(H1(
                     "id")) ", ?1, json((SELECT "
                            "json_object('username', " PLAIN(H2(
                                "username")) ") FROM \"users\" "
                                             "AS \"_hp2\" "
                                             "WHERE " H2("id") " = " H1(
                                                 "user_id") ")))"
                                                            ") "
                                                            "FRO"
                                                            "M "
                                                            "\"o"
                                                            "rde"
                                                            "rs"
                                                            "\" "
                                                            "AS "
                                                            "\"_"
                                                            "hp1"
                                                            "\" "
                                                            "WHE"
                                                            "RE"
                                                            " " H1(
                                                                "user_id") " = \"users\".\"id\") "
                                                                           "FROM \"users\"",
                 "t:user_id", "orders:j"},
                {"users", "select=id,orders_user_id_fkey(id)&orders_user_id_fkey.status=eq.x",
                 "SELECT \"id\", (SELECT json_group_array(json_object('id', " PLAIN(
                     H1("id")) ")) FROM "
                               "\"orders\" AS \"_hp1\" WHERE " H1(
                                   "user_id") " = \"users\".\"id\" AND " H1("status") " = ?1) FROM "
                                                                                      "\"users\"",
                 "t:x", "id:a,orders_user_id_fkey:j"},
                /* a quoted alias keeps its escaped quote, as a key only */
                {"users", "select=%22a%5C%22b%22:id", "SELECT \"id\" FROM \"users\"", "", "a\"b:a"},
                /* top-level render kinds */
                {"users", "select=active,data,x:data->a,data->>b,active::text",
                 "SELECT \"active\", " JCOL(
                     "\"data\"") ", (\"data\" -> ?1), (\"data\" ->> ?2), CAST(\"active\" "
                                 "AS TEXT) FROM \"users\"",
                 "t:$.\"a\"|t:$.\"b\"", "active:b,data:j,x:j,b:a,active:a"},
                /* value typing from the column */
                {"users",
                 "select=id&score=eq.1.5&amount=eq.3&amount=eq.2.5&active=eq.true&active=eq.F"
                 "&username=eq.12&manager_id=eq.1e3&score=eq.abc&id=eq.99999999999999999999",
                 "SELECT \"id\" FROM \"users\" WHERE \"score\" = ?1 AND \"amount\" = ?2 AND "
                 "\"amount\" = ?3 "
                 "AND \"active\" = ?4 AND \"active\" = ?5 AND \"username\" = ?6 AND \"manager_id\" "
                 "= ?7 AND "
                 "\"score\" = ?8 AND \"id\" = ?9",
                 "r:1.5|i:3|r:2.5|i:1|i:0|t:12|t:1e3|t:abc|t:99999999999999999999", "id:a"},
                {"users", "select=id&score=eq.nan&score=eq.inf&score=eq.0x10&score=eq.-2e-3",
                 "SELECT \"id\" FROM \"users\" WHERE \"score\" = ?1 AND \"score\" = ?2 AND "
                 "\"score\" = ?3 AND "
                 "\"score\" = ?4",
                 "t:nan|t:inf|t:0x10|r:-0.002", "id:a"},
                /* NOT NULL / primary-key columns keep SQLite's NULLS order (index-friendly) */
                {"orders", "select=id&order=created_at.desc,id.desc,status.desc,total",
                 "SELECT \"id\" FROM \"orders\" ORDER BY \"created_at\" DESC, \"id\" DESC, "
                 "\"status\" DESC "
                 "NULLS FIRST, \"total\" NULLS LAST",
                 "", "id:a"},
                {"orders",
                 "select=id&order=status.nullsfirst,total.desc.nullslast,created_at.nullsfirst",
                 "SELECT \"id\" FROM \"orders\" ORDER BY \"status\", \"total\" DESC, "
                 "\"created_at\"",
                 "", "id:a"},
                /* identifiers with quotes are doubled */
                {"we\"ird", "", "SELECT \"co\"\"l\" FROM \"we\"\"ird\"", "", "co\"l:a"},
};

static void test_sql_table(void **state)
{
    (void)state;
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        const case_t *c = cases + i;
        test_query_outcome_t out;
        test_query_run(schema, HP_METHOD_GET, c->resource, c->query, NULL, NULL, &out);
        if (out.rc != 0 || strcmp(out.sql, c->sql) != 0 || strcmp(out.binds, c->binds) != 0 ||
            strcmp(out.cols, c->cols) != 0)
            print_error("case %zu: %s?%s\n  got rc=%d %s %s\n  sql %s\n  binds %s\n  cols %s\n", i,
                        c->resource, c->query, out.rc, out.message, out.details, out.sql, out.binds,
                        out.cols);
        assert_int_equal(out.rc, 0);
        assert_string_equal(out.sql, c->sql);
        assert_string_equal(out.binds, c->binds);
        assert_string_equal(out.cols, c->cols);
    }
}

/* Each attack either fails to plan or plans SQL without the marker; the marker may only
 * travel as a bind. */
static const struct {
    hp_method_t method;
    const char *resource;
    const char *query;
    const char *body;
} attacks[] = {
    {HP_METHOD_GET, "users", "username=eq.x');DROP%20TABLE%20users;--", NULL},
    {HP_METHOD_GET, "users", "username=eq.x\"%20OR%201=1;DROP", NULL},
    {HP_METHOD_GET, "users", "username=like.*DROP*&username=ilike.DROP", NULL},
    {HP_METHOD_GET, "users", "username=in.(DROP,\"DROP,x\",'DROP')", NULL},
    {HP_METHOD_GET, "users", "or=(username.eq.DROP,username.eq.\"x)DROP\")", NULL},
    {HP_METHOD_GET, "users", "id=isdistinct.DROP", NULL},
    {HP_METHOD_GET, "users", "select=id;DROP%20TABLE%20users", NULL},
    {HP_METHOD_GET, "users", "select=\"id\"\"DROP\"", NULL},
    {HP_METHOD_GET, "users", "select=\"id\";DROP", NULL},
    {HP_METHOD_GET, "users", "select=\"x');DROP%20TABLE%20users;--\":id", NULL},
    {HP_METHOD_GET, "users", "select=DROP:id,orders(\"DROP')--\":id)", NULL},
    {HP_METHOD_GET, "users", "select=\"DROP\":orders(id)", NULL},
    {HP_METHOD_GET, "users", "select=orders!DROP(id)", NULL},
    {HP_METHOD_GET, "users", "select=DROP(id)", NULL},
    {HP_METHOD_GET, "users", "select=\"DROP')--\"(id)", NULL},
    {HP_METHOD_GET, "users", "select=\"x\\\"DROP\":id", NULL},
    {HP_METHOD_GET, "users", "select=x;DROP%20TABLE%20users:id", NULL},
    {HP_METHOD_GET, "users", "select=data->\"');DROP\"->>DROP", NULL},
    {HP_METHOD_GET, "users", "select=orders(x:id)&orders.status=eq.DROP", NULL},
    {HP_METHOD_GET, "users", "select=id::text);DROP", NULL},
    {HP_METHOD_GET, "users", "data->DROP=eq.DROP", NULL},
    {HP_METHOD_GET, "users", "order=id;DROP", NULL},
    {HP_METHOD_GET, "users", "order=data->>DROP.desc", NULL},
    {HP_METHOD_GET, "users", "order=\"id\";DROP", NULL},
    {HP_METHOD_GET, "users", "limit=1;DROP", NULL},
    {HP_METHOD_GET, "users", "DROP=eq.1", NULL},
    {HP_METHOD_GET, "users\";DROP", "", NULL},
    {HP_METHOD_POST, "users", "", "{\"DROP\":1}"},
    {HP_METHOD_POST, "users", "", "{\"id\":\"');DROP TABLE users;--\"}"},
    {HP_METHOD_POST, "users", "columns=id,DROP", "{\"id\":1}"},
    {HP_METHOD_POST, "users", "on_conflict=DROP", "{\"id\":1}"},
    {HP_METHOD_POST, "users", "select=DROP:id", "{\"id\":1}"},
    {HP_METHOD_PATCH, "users", "username=eq.DROP", "{\"bio\":\"DROP\"}"},
    {HP_METHOD_PATCH, "users", "", "{\"bio\\\"DROP\":1}"},
    {HP_METHOD_DELETE, "users", "username=eq.DROP", NULL},
};

static void test_injection_never_reaches_sql(void **state)
{
    (void)state;
    for (size_t i = 0; i != sizeof(attacks) / sizeof(attacks[0]); ++i) {
        test_query_outcome_t out;
        test_query_run(schema, attacks[i].method, attacks[i].resource, attacks[i].query,
                       attacks[i].body, "return=representation, count=exact", &out);
        if (out.rc == 0 && (strstr(out.sql, "DROP") != NULL || strstr(out.count_sql, "DROP")))
            print_error("attack %zu: %s?%s\n  sql %s\n", i, attacks[i].resource, attacks[i].query,
                        out.sql);
        assert_null(strstr(out.sql, "DROP"));
        assert_null(strstr(out.count_sql, "DROP"));
        if (out.rc != 0)
            assert_int_not_equal(out.code, HP_OK);
    }
}

static void test_hot_path_is_one_statement_with_one_bind(void **state)
{
    (void)state;
    test_query_outcome_t out;
    test_query_run(schema, HP_METHOD_GET, "users", "id=eq.123&select=id,username,email", NULL, NULL,
                   &out);
    assert_int_equal(out.rc, 0);
    assert_string_equal(out.binds, "i:123");
    assert_int_equal(out.plan.exec.kind, HP_EXEC_READ);
    assert_int_equal(out.plan.exec.returns_rows, 1);
    assert_int_equal(out.plan.exec.col_count, 3);
    assert_null(out.plan.exec.count.sql);
}

static void test_wide_embed_is_built_in_chunks_of_63_keys(void **state)
{
    (void)state;
    test_query_outcome_t out;
    test_query_run(schema, HP_METHOD_GET, "users", "select=id,w:wide(*,a:c2)", NULL, NULL, &out);
    assert_int_equal(out.rc, 0);
    /* 131 keys: json_object(63) + json_insert(63) + json_insert(5) */
    assert_non_null(strstr(out.sql, "(SELECT json_group_array(json_insert(json_insert(json_object("
                                    "'id', "));
    assert_non_null(strstr(out.sql, "), '$.\"c63\"', "));
    assert_non_null(strstr(out.sql, "), '$.\"c126\"', "));
    assert_string_equal(out.binds, "t:$.\"a\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sql_table),
        cmocka_unit_test(test_injection_never_reaches_sql),
        cmocka_unit_test(test_hot_path_is_one_statement_with_one_bind),
        cmocka_unit_test(test_wide_embed_is_built_in_chunks_of_63_keys),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
