/* Tests for src/cache/policy.c: the cache-policy setting. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "cache/policy.h"

static const hp_cache_policy_t *find(const hp_cache_policies_t *p, const char *table)
{
    return hp_cache_policies_find(p, table, strlen(table));
}

static void test_defaults_when_empty(void **state)
{
    (void)state;
    char err[256];
    hp_cache_policies_t *p = hp_cache_policies_parse("", err, sizeof(err));
    assert_non_null(p);
    const hp_cache_policy_t *d = find(p, "users");
    assert_true(d->is_enabled);
    assert_int_equal(d->ttl_s, 300);
    assert_int_equal(d->swr_s, 60);
    assert_int_equal(d->sie_s, 600);
    assert_string_equal(d->cache_control, "no-cache");
    hp_cache_policies_destroy(p);
}

static void test_tables_start_from_star_wherever_it_stands(void **state)
{
    (void)state;
    char err[256];
    hp_cache_policies_t *p = hp_cache_policies_parse(
        " users = max-age=10, s-maxage=20 ; *=ttl=5,swr=30,sie=40 ; audit=off", err, sizeof(err));
    assert_non_null(p);
    const hp_cache_policy_t *u = find(p, "users");
    assert_int_equal(u->ttl_s, 5);
    assert_string_equal(u->cache_control,
                        "max-age=10, s-maxage=20, stale-while-revalidate=30, stale-if-error=40");
    assert_false(find(p, "audit")->is_enabled);
    assert_true(find(p, "orders")->is_enabled);
    assert_int_equal(find(p, "orders")->ttl_s, 5);
    assert_string_equal(find(p, "orders")->cache_control, "no-cache");
    /* a name is matched whole, not as a prefix */
    assert_true(find(p, "use")->is_enabled);
    assert_int_equal(find(p, "use")->ttl_s, 5);
    hp_cache_policies_destroy(p);
}

static void test_errors_name_the_bad_part(void **state)
{
    (void)state;
    static const struct {
        const char *text, *error;
    } cases[] = {
        {"users", "'users' is not TABLE=OPTIONS"},
        {"=ttl=1", "'=ttl=1' is not TABLE=OPTIONS"},
        {"users=ttl=x",
         "'ttl=x' is not an option (off, on, ttl=S, swr=S, sie=S, max-age=S, s-maxage=S)"},
        {"users=ttl",
         "'ttl' is not an option (off, on, ttl=S, swr=S, sie=S, max-age=S, s-maxage=S)"},
        {"users=forever",
         "'forever' is not an option (off, on, ttl=S, swr=S, sie=S, max-age=S, s-maxage=S)"},
        {"users=ttl=-1",
         "'ttl=-1' is not an option (off, on, ttl=S, swr=S, sie=S, max-age=S, s-maxage=S)"},
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        char err[256] = "";
        assert_null(hp_cache_policies_parse(cases[i].text, err, sizeof(err)));
        assert_string_equal(err, cases[i].error);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_when_empty),
        cmocka_unit_test(test_tables_start_from_star_wherever_it_stands),
        cmocka_unit_test(test_errors_name_the_bad_part),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
