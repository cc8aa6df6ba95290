/*
 * src/query/headers.c: Accept, Prefer and Range, as tables.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "test_query_fixture.h"

static h2o_iovec_t iov(const char *s)
{
    return h2o_iovec_init(s, strlen(s));
}

typedef struct {
    const char *value;
    int rc;
    hp_format_t format;
} accept_case_t;

static const accept_case_t accept_cases[] = {
    {"", 0, HP_FORMAT_JSON},
    {"   ", 0, HP_FORMAT_JSON},
    {"application/json", 0, HP_FORMAT_JSON},
    {"*/*", 0, HP_FORMAT_JSON},
    {"application/*", 0, HP_FORMAT_JSON},
    {"Application/JSON", 0, HP_FORMAT_JSON},
    {"application/json; charset=utf-8", 0, HP_FORMAT_JSON},
    {"application/vnd.pgrst.object+json", 0, HP_FORMAT_OBJECT},
    {"application/vnd.pgrst.object+json;nulls=stripped", 0, HP_FORMAT_OBJECT},
    {"application/vnd.pgrst.object", 0, HP_FORMAT_OBJECT},
    {"text/csv", 0, HP_FORMAT_CSV},
    {"text/html, text/csv", 0, HP_FORMAT_CSV},
    {"text/csv;q=0.5, application/json", 0, HP_FORMAT_JSON},
    {"application/json;q=0.2, text/csv;q=0.9", 0, HP_FORMAT_CSV},
    {"text/csv, application/json", 0, HP_FORMAT_CSV},
    {"text/csv;q=0, */*;q=0.1", 0, HP_FORMAT_JSON},
    {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", 0, HP_FORMAT_JSON},
    {"text/csv , , application/json", 0, HP_FORMAT_CSV},
    {"text/html", -1, HP_FORMAT_JSON},
    {"application/json;q=0", -1, HP_FORMAT_JSON},
    {"image/png, text/plain", -1, HP_FORMAT_JSON},
};

static void test_accept_table(void **state)
{
    (void)state;
    for (size_t i = 0; i != sizeof(accept_cases) / sizeof(accept_cases[0]); ++i) {
        const accept_case_t *c = accept_cases + i;
        h2o_mem_pool_t pool;
        h2o_mem_init_pool(&pool);
        hp_error_t err = {0};
        hp_format_t format = HP_FORMAT_JSON;
        int rc = hp_query_parse_accept(iov(c->value), &format, &err, &pool);
        if (rc != c->rc || (rc == 0 && format != c->format))
            print_error("case %zu: '%s' rc=%d format=%d\n", i, c->value, rc, (int)format);
        assert_int_equal(rc, c->rc);
        if (rc == 0) {
            assert_int_equal(format, c->format);
        } else {
            assert_int_equal(err.code, HP_ERR_NOT_ACCEPTABLE);
            char expected[256];
            snprintf(expected, sizeof(expected), "None of these media types are available: %s",
                     c->value);
            assert_string_equal(err.message, expected);
        }
        h2o_mem_clear_pool(&pool);
    }
}

static void test_prefer_tokens(void **state)
{
    (void)state;
    hp_prefer_t p;
    memset(&p, 0, sizeof(p));
    hp_query_parse_prefer(iov("return=representation, count=exact"), &p);
    assert_int_equal(p.ret, HP_RETURN_REPRESENTATION);
    assert_int_equal(p.count, HP_COUNT_EXACT);
    assert_int_equal(p.resolution, HP_RESOLUTION_NONE);
    hp_query_parse_prefer(iov("resolution=merge-duplicates,missing=default,tx=commit"), &p);
    assert_int_equal(p.resolution, HP_RESOLUTION_MERGE);
    assert_int_equal(p.missing, HP_MISSING_DEFAULT);
    assert_int_equal(p.ret, HP_RETURN_REPRESENTATION); /* a second header adds, never resets */

    memset(&p, 0, sizeof(p));
    hp_query_parse_prefer(iov("return=minimal;x=y , count=planned, resolution=ignore-duplicates"),
                          &p);
    assert_int_equal(p.ret, HP_RETURN_MINIMAL);
    assert_int_equal(p.count, HP_COUNT_PLANNED);
    assert_int_equal(p.resolution, HP_RESOLUTION_IGNORE);
    hp_query_parse_prefer(iov("return=headers-only, count=estimated"), &p);
    assert_int_equal(p.ret, HP_RETURN_HEADERS_ONLY);
    assert_int_equal(p.count, HP_COUNT_ESTIMATED);

    memset(&p, 0, sizeof(p));
    hp_query_parse_prefer(iov("return=bogus, count, =, ,,, handling=strict, timezone=UTC"), &p);
    assert_int_equal(p.ret, HP_RETURN_DEFAULT);
    assert_int_equal(p.count, HP_COUNT_NONE);
    hp_query_parse_prefer(iov(""), &p);
    assert_int_equal(p.ret, HP_RETURN_DEFAULT);
}

typedef struct {
    const char *value;
    int rc;
    uint64_t first;
    uint64_t last;
    hp_errcode_t code;
} range_case_t;

static const range_case_t range_cases[] = {
    {"items=0-24", 0, 0, 24, HP_OK},
    {"0-24", 0, 0, 24, HP_OK},
    {"5-", 0, 5, UINT64_MAX, HP_OK},
    {"items=5-", 0, 5, UINT64_MAX, HP_OK},
    {" items=3-3 ", 0, 3, 3, HP_OK},
    {"items=", -1, 0, 0, HP_ERR_INVALID_RANGE},
    {"", -1, 0, 0, HP_ERR_INVALID_RANGE},
    {"-5", -1, 0, 0, HP_ERR_INVALID_RANGE},
    {"a-b", -1, 0, 0, HP_ERR_INVALID_RANGE},
    {"bytes=0-1", -1, 0, 0, HP_ERR_INVALID_RANGE},
    {"1-2-3", -1, 0, 0, HP_ERR_INVALID_RANGE},
    {"99999999999999999999-", -1, 0, 0, HP_ERR_INVALID_RANGE},
    {"9223372036854775808-", -1, 0, 0, HP_ERR_INVALID_RANGE},
    {"5-2", -1, 0, 0, HP_ERR_RANGE},
};

static void test_range_table(void **state)
{
    (void)state;
    for (size_t i = 0; i != sizeof(range_cases) / sizeof(range_cases[0]); ++i) {
        const range_case_t *c = range_cases + i;
        h2o_mem_pool_t pool;
        h2o_mem_init_pool(&pool);
        hp_error_t err = {0};
        hp_range_t r = {0, 0, 0};
        int rc = hp_query_parse_range(iov(c->value), &r, &err, &pool);
        if (rc != c->rc)
            print_error("case %zu: '%s' rc=%d\n", i, c->value, rc);
        assert_int_equal(rc, c->rc);
        if (rc == 0) {
            assert_int_equal(r.is_set, 1);
            assert_true(r.first == c->first);
            assert_true(r.last == c->last);
        } else {
            assert_int_equal(err.code, c->code);
            assert_int_equal(r.is_set, 0);
        }
        h2o_mem_clear_pool(&pool);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_table),
        cmocka_unit_test(test_prefer_tokens),
        cmocka_unit_test(test_range_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
