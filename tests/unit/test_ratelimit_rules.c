/* Tests for src/ratelimit/ratelimit.c: the rate-limit, rate-limit-key and rate-limit-rules
 * settings (values and errors), and which rules a request is charged against. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "ratelimit/ratelimit.h"

#define T0 (1000 * HP_GCRA_NS_PER_S)

static void test_rule_values(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint32_t rate, window_s, burst;
    } cases[] = {
        {"200/s,burst=50", 200, 1, 50},
        {" 200/s , burst=50 ", 200, 1, 50},
        {"20/s", 20, 1, 20}, /* burst defaults to one window's worth */
        {"30/min", 30, 60, 30},
        {"1/min,burst=1", 1, 60, 1},
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        hp_gcra_t g;
        char err[256];
        assert_int_equal(
            hp_ratelimit_parse_rule(cases[i].text, strlen(cases[i].text), &g, err, sizeof(err)), 0);
        assert_int_equal(g.rate, cases[i].rate);
        assert_int_equal(g.window_s, cases[i].window_s);
        assert_int_equal(g.burst, cases[i].burst);
    }
}

/* Every bad setting fails with the key and the bad part named. */
static void test_errors_name_the_key_and_the_bad_part(void **state)
{
    (void)state;
    static const struct {
        const char *rate_limit, *key, *rules, *error;
    } cases[] = {
        {"200", "ip", "",
         "rate-limit: '200' is not RATE/s or RATE/min (RATE a whole number 1-1000000000)"},
        {"0/s", "ip", "",
         "rate-limit: '0/s' is not RATE/s or RATE/min (RATE a whole number 1-1000000000)"},
        {"10/h", "ip", "", "rate-limit: '10/h' has unit 'h'; use /s or /min"},
        {"10/s,burst=0", "ip", "",
         "rate-limit: 'burst=0' is not burst=N (N a whole number 1-1000000000)"},
        {"10/s,brust=5", "ip", "",
         "rate-limit: 'brust=5' is not burst=N (N a whole number 1-1000000000)"},
        {"10/s", "claim:sub", "",
         "rate-limit-key: 'claim:sub': claim keys need authentication (JWT), which this server "
         "does not have yet; use ip or header:NAME"},
        {"10/s", "cookie", "", "rate-limit-key: 'cookie' is not ip, header:NAME or claim:PATH"},
        {"10/s", "header:X Key", "", "rate-limit-key: 'X Key' is not a header name"},
        {"", "ip", "users", "rate-limit-rules: 'users' is not SELECTOR=RATE/UNIT[,burst=N]"},
        {"", "ip", "users:write=1/s",
         "rate-limit-rules: 'users:write=1/s': 'write' is not a class (reads, writes, bulk, *)"},
        {"", "ip", "users=fast",
         "rate-limit-rules: 'users=fast': 'fast' is not RATE/s or RATE/min (RATE a whole number "
         "1-1000000000)"},
        {"", "ip", ":reads=1/s",
         "rate-limit-rules: ':reads=1/s': ':reads' is not TABLE, TABLE:CLASS, *:CLASS or _/batch"},
        {"", "ip", "a/b=1/s", "rate-limit-rules: 'a/b=1/s': 'a/b' is not a table name"},
        {"", "ip", "users=1/s; users:*=2/s", "rate-limit-rules: 'users:*=2/s' repeats 'users'"},
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        char err[512];
        hp_ratelimit_t *rl = hp_ratelimit_create(cases[i].rate_limit, cases[i].key, cases[i].rules,
                                                 1000, err, sizeof(err));
        assert_null(rl);
        assert_string_equal(err, cases[i].error);
    }
}

static void test_off_when_nothing_is_set(void **state)
{
    (void)state;
    char err[256];
    assert_null(hp_ratelimit_create("", "ip", "", 1000, err, sizeof(err)));
    assert_string_equal(err, "");
    assert_null(hp_ratelimit_create(NULL, NULL, " ; ", 1000, err, sizeof(err)));
    assert_string_equal(err, "");
}

/* Which rules a request is charged against: the default (not for a sub-request) and the most
 * specific entry. */
static void test_matching(void **state)
{
    (void)state;
    char err[256];
    hp_ratelimit_t *rl = hp_ratelimit_create(
        "1000/s", "header:X-API-Key",
        "users:writes=10/s,burst=5; users=50/s; *:reads=500/s; _/batch=5/s; *:bulk=100/s; "
        "orders:bulk=7/s",
        1000, err, sizeof(err));
    assert_non_null(rl);
    assert_int_equal(hp_ratelimit_key_kind(rl), HP_RATELIMIT_KEY_HEADER);
    assert_string_equal(hp_ratelimit_key_header(rl), "x-api-key");
    static const struct {
        hp_ratelimit_kind_t kind;
        const char *table;
        hp_ratelimit_class_t klass;
        const char *first, *second; /* NULL: none */
    } cases[] = {
        {HP_RATELIMIT_REQUEST, "users", HP_RATELIMIT_CLASS_WRITES, "default", "users:writes"},
        {HP_RATELIMIT_REQUEST, "users", HP_RATELIMIT_CLASS_READS, "default", "users"},
        {HP_RATELIMIT_REQUEST, "orders", HP_RATELIMIT_CLASS_READS, "default", "*:reads"},
        {HP_RATELIMIT_REQUEST, "orders", HP_RATELIMIT_CLASS_WRITES, "default", NULL},
        {HP_RATELIMIT_ENVELOPE, "", HP_RATELIMIT_CLASS_WRITES, "default", "_/batch"},
        {HP_RATELIMIT_SUB, "orders", HP_RATELIMIT_CLASS_READS, "orders:bulk", NULL},
        {HP_RATELIMIT_SUB, "users", HP_RATELIMIT_CLASS_WRITES, "*:bulk", NULL},
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        hp_ratelimit_verdict_t v;
        hp_ratelimit_decide(rl, cases[i].kind, cases[i].table, strlen(cases[i].table),
                            cases[i].klass, 42, T0, &v);
        assert_true(v.is_allowed);
        assert_int_equal(v.count, cases[i].second != NULL ? 2 : 1);
        assert_string_equal(v.rule[0]->name, cases[i].first);
        if (cases[i].second != NULL)
            assert_string_equal(v.rule[1]->name, cases[i].second);
    }
    hp_ratelimit_destroy(rl);
}

/* Without a bulk entry, a sub-request is charged as a request of its class would be (so a
 * batch cannot get around users:writes), but not against the default. */
static void test_sub_request_without_bulk_rule(void **state)
{
    (void)state;
    char err[256];
    hp_ratelimit_t *rl =
        hp_ratelimit_create("1000/s", "ip", "users:writes=1/min", 1000, err, sizeof(err));
    assert_non_null(rl);
    hp_ratelimit_verdict_t v;
    hp_ratelimit_decide(rl, HP_RATELIMIT_SUB, "users", 5, HP_RATELIMIT_CLASS_WRITES, 1, T0, &v);
    assert_true(v.is_allowed);
    assert_int_equal(v.count, 1);
    assert_string_equal(v.rule[0]->name, "users:writes");
    hp_ratelimit_decide(rl, HP_RATELIMIT_REQUEST, "users", 5, HP_RATELIMIT_CLASS_WRITES, 1, T0, &v);
    assert_false(v.is_allowed);
    assert_int_equal(hp_gcra_ceil_s(v.retry_after_ns), 60);
    hp_ratelimit_destroy(rl);
}

/* A request one rule denies uses up nothing of the other rule's allowance; clients are
 * separate. */
static void test_denial_charges_nothing_and_clients_are_separate(void **state)
{
    (void)state;
    char err[256];
    hp_ratelimit_t *rl = hp_ratelimit_create("3/min", "ip", "users=1/min", 1000, err, sizeof(err));
    assert_non_null(rl);
    hp_ratelimit_verdict_t v;
    hp_ratelimit_decide(rl, HP_RATELIMIT_REQUEST, "users", 5, HP_RATELIMIT_CLASS_READS, 7, T0, &v);
    assert_true(v.is_allowed);
    assert_int_equal(v.decision[0].remaining, 2);
    for (int i = 0; i != 5; ++i) {
        hp_ratelimit_decide(rl, HP_RATELIMIT_REQUEST, "users", 5, HP_RATELIMIT_CLASS_READS, 7, T0,
                            &v);
        assert_false(v.is_allowed);
    }
    /* the default still has 2 left for this client */
    hp_ratelimit_decide(rl, HP_RATELIMIT_REQUEST, "orders", 6, HP_RATELIMIT_CLASS_READS, 7, T0, &v);
    assert_true(v.is_allowed);
    assert_int_equal(v.decision[0].remaining, 1);
    /* another client has its own */
    hp_ratelimit_decide(rl, HP_RATELIMIT_REQUEST, "users", 5, HP_RATELIMIT_CLASS_READS, 8, T0, &v);
    assert_true(v.is_allowed);
    hp_ratelimit_destroy(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rule_values),
        cmocka_unit_test(test_errors_name_the_key_and_the_bad_part),
        cmocka_unit_test(test_off_when_nothing_is_set),
        cmocka_unit_test(test_matching),
        cmocka_unit_test(test_sub_request_without_bulk_rule),
        cmocka_unit_test(test_denial_charges_nothing_and_clients_are_separate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
