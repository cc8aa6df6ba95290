/* Tests for the pure parts of src/http/caching.c: cache keys, validators (If-None-Match,
 * If-Modified-Since) and the choice of content coding. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "config/config.h"
#include "http/caching.h"

static h2o_iovec_t iov(const char *s)
{
    return s != NULL ? h2o_iovec_init(s, strlen(s)) : h2o_iovec_init(NULL, 0);
}

static h2o_iovec_t key_of(h2o_mem_pool_t *pool, const char *resource, const char *query,
                          const hp_request_t *base)
{
    hp_request_t r = base != NULL ? *base : (hp_request_t){0};
    r.resource = iov(resource);
    r.query = iov(query);
    return hp_http_caching_key(pool, &r);
}

static int same_key(h2o_iovec_t a, h2o_iovec_t b)
{
    return h2o_memis(a.base, a.len, b.base, b.len);
}

static void test_key_ignores_parameter_order(void **state)
{
    (void)state;
    h2o_mem_pool_t pool;
    h2o_mem_init_pool(&pool);
    h2o_iovec_t a = key_of(&pool, "users", "id=eq.1&select=id,name", NULL);
    h2o_iovec_t b = key_of(&pool, "users", "select=id,name&id=eq.1", NULL);
    h2o_iovec_t c = key_of(&pool, "users", "select=id,name&&id=eq.1&", NULL);
    assert_true(same_key(a, b));
    assert_true(same_key(a, c));
    h2o_mem_clear_pool(&pool);
}

static void test_key_separates_what_changes_the_answer(void **state)
{
    (void)state;
    h2o_mem_pool_t pool;
    h2o_mem_init_pool(&pool);
    h2o_iovec_t plain = key_of(&pool, "users", "id=eq.1", NULL);
    assert_false(same_key(plain, key_of(&pool, "orders", "id=eq.1", NULL)));
    assert_false(same_key(plain, key_of(&pool, "users", "id=eq.2", NULL)));
    /* The resource and the query never run together: "users?" + "x" is not "usersx?". */
    assert_false(
        same_key(key_of(&pool, "ab", "c=eq.1", NULL), key_of(&pool, "a", "bc=eq.1", NULL)));
    hp_request_t csv = {.format = HP_FORMAT_CSV};
    assert_false(same_key(plain, key_of(&pool, "users", "id=eq.1", &csv)));
    hp_request_t counted = {.prefer = {.count = HP_COUNT_EXACT}};
    assert_false(same_key(plain, key_of(&pool, "users", "id=eq.1", &counted)));
    hp_request_t ranged = {.range = {.is_set = 1, .first = 0, .last = 9}};
    hp_request_t ranged2 = {.range = {.is_set = 1, .first = 0, .last = 19}};
    assert_false(same_key(plain, key_of(&pool, "users", "id=eq.1", &ranged)));
    assert_false(same_key(key_of(&pool, "users", "id=eq.1", &ranged),
                          key_of(&pool, "users", "id=eq.1", &ranged2)));
    h2o_mem_clear_pool(&pool);
}

static void test_key_separates_callers_but_not_anonymous_ones(void **state)
{
    (void)state;
    h2o_mem_pool_t pool;
    h2o_mem_init_pool(&pool);
    hp_caller_t alice = {
        .role = iov("web_user"), .claims = iov("{\"sub\":\"alice\"}"), .partition = 11};
    hp_caller_t bob = {
        .role = iov("web_user"), .claims = iov("{\"sub\":\"bob\"}"), .partition = 12};
    hp_request_t anon = {.caller = &hp_caller_anonymous}, none = {0};
    hp_request_t a = {.caller = &alice}, b = {.caller = &bob};
    h2o_iovec_t k_anon = key_of(&pool, "users", "id=eq.1", &anon);
    assert_true(same_key(k_anon, key_of(&pool, "users", "id=eq.1", &none)));
    assert_false(same_key(k_anon, key_of(&pool, "users", "id=eq.1", &a)));
    assert_false(
        same_key(key_of(&pool, "users", "id=eq.1", &a), key_of(&pool, "users", "id=eq.1", &b)));
    assert_true(
        same_key(key_of(&pool, "users", "id=eq.1", &a), key_of(&pool, "users", "id=eq.1", &a)));
    h2o_mem_clear_pool(&pool);
}

/* Our tag for identity is "<hash>", for a coding "<hash>-<coding>"; base is `"<hash>`. */
static void test_if_none_match(void **state)
{
    (void)state;
    const char *base = "\"00000000000000ab";
    size_t len = strlen(base);
    static const struct {
        const char *inm;
        int matches;
    } cases[] = {
        {"\"00000000000000ab\"", 1},
        {"W/\"00000000000000ab\"", 1},
        {"\"00000000000000ab-gzip\"", 1},
        {"\"00000000000000ab-br\"", 1},
        {"*", 1},
        {"\"x\", \"00000000000000ab\"", 1},
        {"\"x\" ,W/\"00000000000000ab-zstd\" ", 1},
        {"\"00000000000000ac\"", 0},
        {"\"00000000000000ab", 0},    /* no closing quote */
        {"\"00000000000000abc\"", 0}, /* a longer tag with our tag as its prefix */
        {"", 0},
        {",,,", 0},
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i)
        assert_int_equal(hp_http_caching_etag_matches(iov(cases[i].inm), base, len),
                         cases[i].matches);
}

static void test_if_none_match_wins_over_if_modified_since(void **state)
{
    (void)state;
    const char *base = "\"00000000000000ab";
    uint64_t lm_ms = 1700000000000ull; /* 2023-11-14T22:13:20Z */
    h2o_iovec_t later = iov("Wed, 15 Nov 2023 00:00:00 GMT");
    h2o_iovec_t same = iov("Tue, 14 Nov 2023 22:13:20 GMT");
    h2o_iovec_t earlier = iov("Tue, 14 Nov 2023 22:13:19 GMT");
    assert_true(hp_http_caching_is_not_modified(iov(NULL), later, base, strlen(base), lm_ms));
    assert_true(hp_http_caching_is_not_modified(iov(NULL), same, base, strlen(base), lm_ms));
    assert_false(hp_http_caching_is_not_modified(iov(NULL), earlier, base, strlen(base), lm_ms));
    assert_false(
        hp_http_caching_is_not_modified(iov(NULL), iov("yesterday"), base, strlen(base), lm_ms));
    assert_false(hp_http_caching_is_not_modified(iov(NULL), iov(NULL), base, strlen(base), lm_ms));
    /* A stale tag is not rescued by a date that would match. */
    assert_false(
        hp_http_caching_is_not_modified(iov("\"ffff\""), later, base, strlen(base), lm_ms));
    assert_true(hp_http_caching_is_not_modified(iov("\"00000000000000ab\""), earlier, base,
                                                strlen(base), lm_ms));
}

static void test_coding_choice(void **state)
{
    (void)state;
    hp_http_caching_t c = {.is_compress_enabled = 1, .compress_min_bytes = 1024};
    assert_int_equal(hp_http_caching_choose_coding(&c, iov("gzip"), 100000), HP_ENCODING_GZIP);
    assert_int_equal(hp_http_caching_choose_coding(&c, iov("gzip, br"), 100000), HP_ENCODING_BR);
    assert_int_equal(hp_http_caching_choose_coding(&c, iov("zstd;q=1, br;q=0.5"), 100000),
                     HP_ENCODING_ZSTD);
    /* Too small to pay, absent, or nothing we have: identity. */
    assert_int_equal(hp_http_caching_choose_coding(&c, iov("gzip"), 100), HP_ENCODING_IDENTITY);
    assert_int_equal(hp_http_caching_choose_coding(&c, iov(NULL), 100000), HP_ENCODING_IDENTITY);
    assert_int_equal(hp_http_caching_choose_coding(&c, iov("compress"), 100000),
                     HP_ENCODING_IDENTITY);
    /* A client refusing identity and all we have still gets identity (no 406). */
    assert_int_equal(hp_http_caching_choose_coding(&c, iov("identity;q=0, compress"), 100000),
                     HP_ENCODING_IDENTITY);
    c.is_compress_enabled = 0;
    assert_int_equal(hp_http_caching_choose_coding(&c, iov("gzip"), 100000), HP_ENCODING_IDENTITY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_ignores_parameter_order),
        cmocka_unit_test(test_key_separates_what_changes_the_answer),
        cmocka_unit_test(test_key_separates_callers_but_not_anonymous_ones),
        cmocka_unit_test(test_if_none_match),
        cmocka_unit_test(test_if_none_match_wins_over_if_modified_since),
        cmocka_unit_test(test_coding_choice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
