/*
 * src/query/parse.c: the query-string grammar, as tables of {query, SQL, binds} and
 * {query, error code, message}. Reads on the fixture schema (test_query_fixture.h).
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
    const char *resource;
    const char *query;
    const char *sql;
    const char *binds;
} read_case_t;

#define USERS_STAR                                                                                \
    "\"id\", \"username\", \"email\", \"active\", \"created_at\", \"bio\", \"manager_id\", CASE " \
    "WHEN json_valid(\"data\") THEN json(\"data\") ELSE json_quote(\"data\") END, \"score\", "    \
    "\"amount\", \"avatar\""

static const read_case_t read_cases[] = {
    /* S1u, the hot path */
    {"users", "id=eq.123&select=id,username,email",
     "SELECT \"id\", \"username\", \"email\" FROM \"users\" WHERE \"id\" = ?1", "i:123"},
    {"users", "select=id&id=eq.123", "SELECT \"id\" FROM \"users\" WHERE \"id\" = ?1", "i:123"},
    {"users", "", "SELECT " USERS_STAR " FROM \"users\"", ""},
    {"users", "select=*", "SELECT " USERS_STAR " FROM \"users\"", ""},
    {"users", "select=", "SELECT " USERS_STAR " FROM \"users\"", ""},
    {"users", "select=*,*", "SELECT " USERS_STAR " FROM \"users\"", ""},
    {"users", "select=id,%20username%20", "SELECT \"id\", \"username\" FROM \"users\"", ""},
    {"users", "select=n:id,u:username", "SELECT \"id\", \"username\" FROM \"users\"", ""},
    {"users", "select=%22id%22", "SELECT \"id\" FROM \"users\"", ""},
    {"users", "&&select=id&&", "SELECT \"id\" FROM \"users\"", ""},
    /* operators */
    {"users", "select=id&id=neq.1", "SELECT \"id\" FROM \"users\" WHERE \"id\" <> ?1", "i:1"},
    {"users", "select=id&id=gt.1&id=lte.9",
     "SELECT \"id\" FROM \"users\" WHERE \"id\" > ?1 AND \"id\" <= ?2", "i:1|i:9"},
    {"users", "select=id&id=gte.-5&id=lt.%2B7",
     "SELECT \"id\" FROM \"users\" WHERE \"id\" >= ?1 AND \"id\" < ?2", "i:-5|i:7"},
    {"users", "select=id&username=like.*bob*",
     "SELECT \"id\" FROM \"users\" WHERE \"username\" LIKE ?1", "t:%bob%"},
    {"users", "select=id&username=ilike.B*",
     "SELECT \"id\" FROM \"users\" WHERE lower(\"username\") LIKE lower(?1)", "t:B%"},
    {"users", "select=id&username=eq.a+b%26c",
     "SELECT \"id\" FROM \"users\" WHERE \"username\" = ?1", "t:a b&c"},
    {"users", "select=id&username=eq.", "SELECT \"id\" FROM \"users\" WHERE \"username\" = ?1",
     "t:"},
    {"users", "select=id&username=eq.x.y", "SELECT \"id\" FROM \"users\" WHERE \"username\" = ?1",
     "t:x.y"},
    {"users", "select=id&username=eq.\"q\"", "SELECT \"id\" FROM \"users\" WHERE \"username\" = ?1",
     "t:\"q\""},
    {"users", "select=id&id=not.eq.1", "SELECT \"id\" FROM \"users\" WHERE NOT (\"id\" = ?1)",
     "i:1"},
    {"users", "select=id&id=isdistinct.3", "SELECT \"id\" FROM \"users\" WHERE \"id\" IS NOT ?1",
     "i:3"},
    /* in */
    {"users", "select=id&id=in.(1,2,3)",
     "SELECT \"id\" FROM \"users\" WHERE \"id\" IN (?1, ?2, ?3)", "i:1|i:2|i:3"},
    {"users", "select=id&username=in.(a,\"b,c\",\"d)\",\"e\\\"f\")",
     "SELECT \"id\" FROM \"users\" WHERE \"username\" IN (?1, ?2, ?3, ?4)",
     "t:a|t:b,c|t:d)|t:e\"f"},
    {"users", "select=id&id=in.()", "SELECT \"id\" FROM \"users\" WHERE 1 = 0", ""},
    {"users", "select=id&id=not.in.()", "SELECT \"id\" FROM \"users\" WHERE NOT (1 = 0)", ""},
    {"users", "select=id&id=in.(1,x)", "SELECT \"id\" FROM \"users\" WHERE \"id\" IN (?1, ?2)",
     "i:1|t:x"},
    /* is */
    {"users", "select=id&email=is.null", "SELECT \"id\" FROM \"users\" WHERE \"email\" IS NULL",
     ""},
    {"users", "select=id&email=is.NULL", "SELECT \"id\" FROM \"users\" WHERE \"email\" IS NULL",
     ""},
    {"users", "select=id&email=is.not_null",
     "SELECT \"id\" FROM \"users\" WHERE \"email\" IS NOT NULL", ""},
    {"users", "select=id&email=not.is.null",
     "SELECT \"id\" FROM \"users\" WHERE NOT (\"email\" IS NULL)", ""},
    {"users", "select=id&active=is.true", "SELECT \"id\" FROM \"users\" WHERE \"active\" IS TRUE",
     ""},
    {"users", "select=id&active=is.false", "SELECT \"id\" FROM \"users\" WHERE \"active\" IS FALSE",
     ""},
    {"users", "select=id&active=is.unknown",
     "SELECT \"id\" FROM \"users\" WHERE \"active\" IS NULL", ""},
    /* logic trees */
    {"users", "select=id&or=(id.eq.1,id.eq.2)",
     "SELECT \"id\" FROM \"users\" WHERE (\"id\" = ?1 OR \"id\" = ?2)", "i:1|i:2"},
    {"users", "select=id&or=(id.eq.1,and(score.gt.2.5,not.email.is.null))",
     "SELECT \"id\" FROM \"users\" WHERE (\"id\" = ?1 OR (\"score\" > ?2 AND NOT (\"email\" IS "
     "NULL)))",
     "i:1|r:2.5"},
    {"users", "select=id&not.and=(id.gt.1,id.lt.5)",
     "SELECT \"id\" FROM \"users\" WHERE NOT ((\"id\" > ?1 AND \"id\" < ?2))", "i:1|i:5"},
    {"users", "select=id&and=(id.not.eq.1,not.or(id.eq.2,id.eq.3))",
     "SELECT \"id\" FROM \"users\" WHERE (NOT (\"id\" = ?1) AND NOT ((\"id\" = ?2 OR \"id\" = "
     "?3)))",
     "i:1|i:2|i:3"},
    {"users", "select=id&or=(username.eq.\"a,b)\",username.in.(c,\"d,e\"),email.is.null)",
     "SELECT \"id\" FROM \"users\" WHERE (\"username\" = ?1 OR \"username\" IN (?2, ?3) OR "
     "\"email\" IS NULL)",
     "t:a,b)|t:c|t:d,e"},
    {"users", "select=id&or=(username.like.*a*)&id=eq.1",
     "SELECT \"id\" FROM \"users\" WHERE (\"username\" LIKE ?1) AND \"id\" = ?2", "t:%a%|i:1"},
    /* order */
    {"users", "select=id&order=id.desc", "SELECT \"id\" FROM \"users\" ORDER BY \"id\" DESC", ""},
    {"users", "select=id&order=email", "SELECT \"id\" FROM \"users\" ORDER BY \"email\" NULLS LAST",
     ""},
    {"users", "select=id&order=email.asc",
     "SELECT \"id\" FROM \"users\" ORDER BY \"email\" NULLS LAST", ""},
    {"users", "select=id&order=email.desc",
     "SELECT \"id\" FROM \"users\" ORDER BY \"email\" DESC NULLS FIRST", ""},
    {"users", "select=id&order=email.desc.nullslast,bio.nullsfirst,username.desc",
     "SELECT \"id\" FROM \"users\" ORDER BY \"email\" DESC, \"bio\", \"username\" DESC", ""},
    {"users", "select=id&order=email.nullslast",
     "SELECT \"id\" FROM \"users\" ORDER BY \"email\" NULLS LAST", ""},
    {"users", "select=id&order=bio&order=email.asc.nullsfirst",
     "SELECT \"id\" FROM \"users\" ORDER BY \"email\"", ""},
    /* limit / offset */
    {"users", "select=id&limit=10", "SELECT \"id\" FROM \"users\" LIMIT ?1", "i:10"},
    {"users", "select=id&limit=10&offset=20", "SELECT \"id\" FROM \"users\" LIMIT ?1 OFFSET ?2",
     "i:10|i:20"},
    {"users", "select=id&offset=5", "SELECT \"id\" FROM \"users\" LIMIT -1 OFFSET ?1", "i:5"},
    {"users", "select=id&offset=0", "SELECT \"id\" FROM \"users\"", ""},
    {"users", "select=id&limit=0", "SELECT \"id\" FROM \"users\" LIMIT ?1", "i:0"},
    /* the other docs/workload.md scenarios */
    {"readings", "device_id=eq.42&select=temperature,ts&order=ts.desc&limit=100",
     "SELECT \"temperature\", \"ts\" FROM \"readings\" WHERE \"device_id\" = ?1 ORDER BY \"ts\" "
     "DESC LIMIT ?2",
     "i:42|i:100"},
    {"orders", "user_id=eq.7&status=eq.completed&order=created_at.desc&limit=20",
     "SELECT \"id\", \"user_id\", \"status\", \"total\", \"created_at\" FROM \"orders\" WHERE "
     "\"user_id\" = ?1 AND \"status\" = ?2 ORDER BY \"created_at\" DESC LIMIT ?3",
     "i:7|t:completed|i:20"},
    /* JSON paths and casts */
    {"users", "select=data->a->>b", "SELECT (\"data\" ->> ?1) FROM \"users\"", "t:$.\"a\".\"b\""},
    {"users", "select=x:data->0&data->>k=eq.5",
     "SELECT (\"data\" -> ?1) FROM \"users\" WHERE (\"data\" ->> ?2) = ?3", "t:$[0]|t:$.\"k\"|i:5"},
    {"users", "select=id::text,active::boolean,score::double%20precision",
     "SELECT CAST(\"id\" AS TEXT), CAST(\"active\" AS INTEGER), CAST(\"score\" AS REAL) FROM "
     "\"users\"",
     ""},
    {"users", "select=id&order=data->>k.desc",
     "SELECT \"id\" FROM \"users\" ORDER BY (\"data\" ->> ?1) DESC NULLS FIRST", "t:$.\"k\""},
    /* names: spaces inside an unquoted name belong to it, spaces around it do not
     * (PostgREST's pIdentifier); a backslash in a quoted name takes the next byte as it is */
    {"notes", "select=id,display%20name&display%20name=eq.x",
     "SELECT \"id\", \"display name\" FROM \"notes\" WHERE \"display name\" = ?1", "t:x"},
    {"notes", "select=%20id%20,%20%20display%20name%20&%20id%20=eq.1",
     "SELECT \"id\", \"display name\" FROM \"notes\" WHERE \"id\" = ?1", "i:1"},
    {"notes", "select=id&order=display%20name.desc,%20id",
     "SELECT \"id\" FROM \"notes\" ORDER BY \"display name\" DESC NULLS FIRST, \"id\"", ""},
    {"notes", "select=id&or=(display%20name.eq.a,%20id.eq.1)",
     "SELECT \"id\" FROM \"notes\" WHERE (\"display name\" = ?1 OR \"id\" = ?2)", "t:a|i:1"},
    {"users", "select=my%20id%20:%20id%20::%20text%20,%20data%20->%20a",
     "SELECT CAST(\"id\" AS TEXT), (\"data\" -> ?1) FROM \"users\"", "t:$.\"a\""},
    {"users", "select=%22user%5Cname%22&%22e%5Cmail%22=eq.x",
     "SELECT \"username\" FROM \"users\" WHERE \"email\" = ?1", "t:x"},
};

static void test_read_table(void **state)
{
    (void)state;
    for (size_t i = 0; i != sizeof(read_cases) / sizeof(read_cases[0]); ++i) {
        const read_case_t *c = read_cases + i;
        test_query_outcome_t out;
        test_query_run(schema, HP_METHOD_GET, c->resource, c->query, NULL, NULL, &out);
        if (out.rc != 0 || strcmp(out.sql, c->sql) != 0 || strcmp(out.binds, c->binds) != 0)
            print_error("case %zu: %s?%s\n  got rc=%d %s %s\n  sql %s\n  binds %s\n", i,
                        c->resource, c->query, out.rc, out.message, out.details, out.sql,
                        out.binds);
        assert_int_equal(out.rc, 0);
        assert_string_equal(out.sql, c->sql);
        assert_string_equal(out.binds, c->binds);
    }
}

typedef struct {
    const char *resource;
    const char *query;
    hp_errcode_t code;
    const char *message; /* NULL: not compared */
} error_case_t;

static const error_case_t error_cases[] = {
    {"nope", "", HP_ERR_UNKNOWN_TABLE, "Could not find the table 'nope' in the schema cache"},
    {"users", "select=nope", HP_ERR_UNDEFINED_COLUMN, "column users.nope does not exist"},
    {"users", "nope=eq.1", HP_ERR_UNDEFINED_COLUMN, "column users.nope does not exist"},
    {"users", "order=nope", HP_ERR_UNDEFINED_COLUMN, "column users.nope does not exist"},
    {"users", "or=(nope.eq.1)", HP_ERR_UNDEFINED_COLUMN, "column users.nope does not exist"},
    {"users", "select=id,orders(nope)", HP_ERR_UNDEFINED_COLUMN,
     "column orders.nope does not exist"},
    {"users", "id=eq5", HP_ERR_PARSE, "failed to parse filter (eq5)"},
    {"users", "id=foo.5", HP_ERR_PARSE, "failed to parse filter (foo.5)"},
    {"users", "id=fts.5", HP_ERR_PARSE, "failed to parse filter (fts.5)"},
    {"users", "id", HP_ERR_PARSE, "failed to parse filter ()"},
    {"users", "id=", HP_ERR_PARSE, "failed to parse filter ()"},
    {"users", "id=in.1,2", HP_ERR_PARSE, "failed to parse filter (in.1,2)"},
    {"users", "id=in.(1,2", HP_ERR_PARSE, "failed to parse filter (in.(1,2)"},
    {"users", "id=in.(1)x", HP_ERR_PARSE, "failed to parse filter (in.(1)x)"},
    {"users", "id=is.maybe", HP_ERR_PARSE, "failed to parse filter (is.maybe)"},
    {"users", "id=in.(\"a)", HP_ERR_PARSE, NULL},
    {"users", "select=id,", HP_ERR_PARSE, "failed to parse select parameter (id,)"},
    {"users", "select=id)", HP_ERR_PARSE, "failed to parse select parameter (id))"},
    {"users", "select=orders(id", HP_ERR_PARSE, "failed to parse select parameter (orders(id)"},
    {"users", "select=id::nosuchtype", HP_ERR_PARSE,
     "failed to parse select parameter (id::nosuchtype)"},
    {"users", "select=id::text;drop", HP_ERR_PARSE, NULL},
    {"users", "select=...orders(id)", HP_ERR_PARSE, NULL},
    {"users", "select=\"id", HP_ERR_PARSE, NULL},
    {"users", "order=id.sideways", HP_ERR_PARSE, "failed to parse order (id.sideways)"},
    {"users", "order=id.desc.asc", HP_ERR_PARSE, NULL},
    {"users", "order=", HP_ERR_PARSE, "failed to parse order ()"},
    {"users", "or=id.eq.1", HP_ERR_PARSE, "failed to parse logic tree (id.eq.1)"},
    {"users", "or=(id.eq.1", HP_ERR_PARSE, "failed to parse logic tree ((id.eq.1)"},
    {"users", "or=(id.eq.1))", HP_ERR_PARSE, NULL},
    {"users", "or=(id)", HP_ERR_PARSE, NULL},
    {"users", "or=()", HP_ERR_PARSE, NULL},
    {"users", "limit=-1", HP_ERR_PARSE, "failed to parse limit parameter (-1)"},
    {"users", "limit=ten", HP_ERR_PARSE, NULL},
    {"users", "offset=1.5", HP_ERR_PARSE, "failed to parse offset parameter (1.5)"},
    {"users", "limit=99999999999999999999", HP_ERR_PARSE, NULL},
    {"users", "id=eq.%zz", HP_ERR_PARSE, "failed to parse query string"},
    {"users", "id=eq.%4", HP_ERR_PARSE, NULL},
    {"users", "orders.status=eq.x", HP_ERR_PARSE,
     "Cannot apply filter because 'orders' is not an embedded resource in this request"},
    {"users", "select=id,nope(id)", HP_ERR_NO_RELATIONSHIP,
     "Could not find a relationship between 'users' and 'nope' in the schema cache"},
    {"users", "select=id,devices(id)", HP_ERR_NO_RELATIONSHIP, NULL},
    {"users", "select=id,messages(id)", HP_ERR_AMBIGUOUS_EMBED,
     "Could not embed because more than one relationship was found for 'users' and 'messages'"},
    {"users", "select=id,orders!a!b(id)", HP_ERR_PARSE, NULL},
    /* the whole query string parses before any name is looked up, as in PostgREST: a grammar
     * error wins over an unknown column or table, wherever each is */
    {"users", "select=x;DROP%20TABLE%20users:id", HP_ERR_PARSE,
     "failed to parse select parameter (x;DROP TABLE users:id)"},
    {"users", "select=id,orders;DROP%20TABLE%20users(id)", HP_ERR_PARSE, NULL},
    {"users", "select=nope,id;x", HP_ERR_PARSE, NULL},
    {"users", "select=nope&id=eq5", HP_ERR_PARSE, "failed to parse filter (eq5)"},
    {"users", "select=nope(id)&order=id.sideways", HP_ERR_PARSE, NULL},
    {"nope", "select=id;x", HP_ERR_PARSE, NULL},
    /* names */
    {"users", "select=user%20name", HP_ERR_UNDEFINED_COLUMN,
     "column users.user name does not exist"},
    {"users", "%20%20=eq.1", HP_ERR_PARSE, "failed to parse filter (  )"},
    {"users", "select=%22a%5C%22", HP_ERR_PARSE, NULL},
    /* a self-referencing key (users.manager_id): a hint must be its referencing column */
    {"users", "select=id,users!id(id)", HP_ERR_NO_RELATIONSHIP, NULL},
    {"users", "select=id,users!users_manager_id_fkey(id)", HP_ERR_NO_RELATIONSHIP, NULL},
    {"users", "select=id,manager_id!manager_id(id)", HP_ERR_NO_RELATIONSHIP, NULL},
    /* a parent's column as the target names every single-column key using it: users.id is
     * referenced by four */
    {"users", "select=id,id(id)", HP_ERR_AMBIGUOUS_EMBED, NULL},
    {"orders", "select=id,status(id)", HP_ERR_NO_RELATIONSHIP, NULL},
};

static void test_error_table(void **state)
{
    (void)state;
    for (size_t i = 0; i != sizeof(error_cases) / sizeof(error_cases[0]); ++i) {
        const error_case_t *c = error_cases + i;
        test_query_outcome_t out;
        test_query_run(schema, HP_METHOD_GET, c->resource, c->query, NULL, NULL, &out);
        if (out.rc != -1 || out.code != c->code ||
            (c->message != NULL && strcmp(out.message, c->message) != 0))
            print_error("case %zu: %s?%s\n  got rc=%d code=%d %s | %s\n  sql %s\n", i, c->resource,
                        c->query, out.rc, (int)out.code, out.message, out.details, out.sql);
        assert_int_equal(out.rc, -1);
        assert_int_equal(out.code, c->code);
        if (c->message != NULL)
            assert_string_equal(out.message, c->message);
    }
}

static void test_parse_error_has_details(void **state)
{
    (void)state;
    test_query_outcome_t out;
    test_query_run(schema, HP_METHOD_GET, "users", "id=eq5", NULL, NULL, &out);
    assert_non_null(strstr(out.details, "expecting"));
    test_query_run(schema, HP_METHOD_GET, "users", "select=id,", NULL, NULL, &out);
    assert_string_equal(out.details, "unexpected end of input expecting a name ([a-z0-9_$] or a "
                                     "\"quoted name\")");
}

static void test_ambiguous_embed_hint_lists_choices(void **state)
{
    (void)state;
    test_query_outcome_t out;
    test_query_run(schema, HP_METHOD_GET, "users", "select=id,messages(id)", NULL, NULL, &out);
    assert_int_equal(out.code, HP_ERR_AMBIGUOUS_EMBED);
    assert_non_null(strstr(out.hint, "'messages!messages_sender_id_fkey'"));
    assert_non_null(strstr(out.hint, "'messages!messages_receiver_id_fkey'"));
}

/* PGRST201's details are an array of {cardinality, embedding, relationship} objects, each
 * side's key columns named as PostgREST names them (Error.hs, compressedRel). */
static void test_ambiguous_embed_details_are_json(void **state)
{
    (void)state;
    static const struct {
        const char *resource;
        const char *query;
        const char *details;
    } cases[] = {
        {"users", "select=id,messages(id)",
         "[{\"cardinality\":\"one-to-many\",\"embedding\":\"users with messages\","
         "\"relationship\":\"messages_sender_id_fkey using users(id) and messages(sender_id)\"},"
         "{\"cardinality\":\"one-to-many\",\"embedding\":\"users with messages\","
         "\"relationship\":\"messages_receiver_id_fkey using users(id) and "
         "messages(receiver_id)\"}]"},
        {"messages", "select=users(id)",
         "[{\"cardinality\":\"many-to-one\",\"embedding\":\"messages with users\","
         "\"relationship\":\"messages_sender_id_fkey using messages(sender_id) and users(id)\"},"
         "{\"cardinality\":\"many-to-one\",\"embedding\":\"messages with users\","
         "\"relationship\":\"messages_receiver_id_fkey using messages(receiver_id) and "
         "users(id)\"}]"},
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        test_query_outcome_t out;
        test_query_run(schema, HP_METHOD_GET, cases[i].resource, cases[i].query, NULL, NULL, &out);
        assert_int_equal(out.code, HP_ERR_AMBIGUOUS_EMBED);
        assert_true(out.details_is_json);
        assert_string_equal(out.details, cases[i].details);
    }

    /* hp_error_render writes them as a JSON value, not as a string. */
    h2o_mem_pool_t pool;
    h2o_mem_init_pool(&pool);
    hp_error_t err = {0};
    hp_error_set(&err, &pool, HP_ERR_AMBIGUOUS_EMBED, "m");
    static const char details[] = "[{\"a\":\"b\"}]";
    hp_error_details_json(&err, &pool, details, sizeof(details) - 1);
    hp_buf_t buf;
    hp_buf_init(&buf);
    hp_error_render(&err, &buf);
    hp_buf_putc(&buf, '\0');
    assert_string_equal(buf.ptr, "{\"code\":\"PGRST201\",\"details\":[{\"a\":\"b\"}],\"hint\":null,"
                                 "\"message\":\"m\"}");
    hp_buf_dispose(&buf);
    h2o_mem_clear_pool(&pool);
}

static void test_caps_are_enforced(void **state)
{
    (void)state;
    static char q[HP_MAX_QUERY_BYTES + 64];
    test_query_outcome_t out;

    /* too many in values */
    size_t len = (size_t)snprintf(q, sizeof(q), "id=in.(");
    for (int i = 0; i <= HP_MAX_IN_VALUES; ++i)
        len += (size_t)snprintf(q + len, sizeof(q) - len, "%s1", i != 0 ? "," : "");
    snprintf(q + len, sizeof(q) - len, ")");
    test_query_run(schema, HP_METHOD_GET, "users", q, NULL, NULL, &out);
    assert_int_equal(out.code, HP_ERR_LIMIT);

    /* too many filters */
    len = 0;
    for (int i = 0; i <= HP_MAX_QUERY_TERMS; ++i)
        len += (size_t)snprintf(q + len, sizeof(q) - len, "%sid=eq.1", i != 0 ? "&" : "");
    test_query_run(schema, HP_METHOD_GET, "users", q, NULL, NULL, &out);
    assert_int_equal(out.code, HP_ERR_LIMIT);

    /* logic nested too deep */
    len = (size_t)snprintf(q, sizeof(q), "or=");
    for (int i = 0; i <= HP_MAX_QUERY_DEPTH; ++i)
        len += (size_t)snprintf(q + len, sizeof(q) - len, "%s", i == 0 ? "(" : "or(");
    len += (size_t)snprintf(q + len, sizeof(q) - len, "id.eq.1");
    for (int i = 0; i <= HP_MAX_QUERY_DEPTH; ++i)
        len += (size_t)snprintf(q + len, sizeof(q) - len, ")");
    test_query_run(schema, HP_METHOD_GET, "users", q, NULL, NULL, &out);
    assert_int_equal(out.code, HP_ERR_LIMIT);

    /* embeds nested too deep */
    len = (size_t)snprintf(q, sizeof(q), "select=id");
    for (int i = 0; i <= HP_MAX_QUERY_DEPTH; ++i)
        len +=
            (size_t)snprintf(q + len, sizeof(q) - len, ",%s(id", i % 2 == 0 ? "orders" : "users");
    for (int i = 0; i <= HP_MAX_QUERY_DEPTH; ++i)
        len += (size_t)snprintf(q + len, sizeof(q) - len, ")");
    test_query_run(schema, HP_METHOD_GET, "users", q, NULL, NULL, &out);
    assert_int_equal(out.code, HP_ERR_LIMIT);

    /* identifier too long */
    len = (size_t)snprintf(q, sizeof(q), "select=");
    memset(q + len, 'a', HP_MAX_IDENT_BYTES + 1);
    q[len + HP_MAX_IDENT_BYTES + 1] = '\0';
    test_query_run(schema, HP_METHOD_GET, "users", q, NULL, NULL, &out);
    assert_int_equal(out.code, HP_ERR_LIMIT);

    /* query string too long */
    memset(q, 'a', HP_MAX_QUERY_BYTES + 1);
    q[HP_MAX_QUERY_BYTES + 1] = '\0';
    test_query_run(schema, HP_METHOD_GET, "users", q, NULL, NULL, &out);
    assert_int_equal(out.code, HP_ERR_URI_TOO_LONG);
}

static void test_percent_decode(void **state)
{
    (void)state;
    h2o_mem_pool_t pool;
    h2o_mem_init_pool(&pool);
    h2o_iovec_t out;
    assert_int_equal(hp_query_percent_decode(h2o_iovec_init("a%20b+c%2B%2c", 13), &out, &pool), 0);
    assert_int_equal(out.len, 7);
    assert_memory_equal(out.base, "a b c+,", 7);
    assert_int_equal(hp_query_percent_decode(h2o_iovec_init("%00", 3), &out, &pool), 0);
    assert_int_equal(out.len, 1);
    assert_int_equal(out.base[0], '\0');
    assert_int_equal(hp_query_percent_decode(h2o_iovec_init("%", 1), &out, &pool), -1);
    assert_int_equal(hp_query_percent_decode(h2o_iovec_init("%2", 2), &out, &pool), -1);
    assert_int_equal(hp_query_percent_decode(h2o_iovec_init("%g0", 3), &out, &pool), -1);
    assert_int_equal(hp_query_percent_decode(h2o_iovec_init("", 0), &out, &pool), 0);
    assert_int_equal(out.len, 0);
    h2o_mem_clear_pool(&pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_table),
        cmocka_unit_test(test_error_table),
        cmocka_unit_test(test_parse_error_has_details),
        cmocka_unit_test(test_ambiguous_embed_hint_lists_choices),
        cmocka_unit_test(test_ambiguous_embed_details_are_json),
        cmocka_unit_test(test_caps_are_enforced),
        cmocka_unit_test(test_percent_decode),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
