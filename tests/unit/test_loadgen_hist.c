/* Tests for bench/loadgen_hist.c: bucket layout, error bound, percentiles and mean. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "loadgen_hist.h"

static void test_small_values_have_exact_buckets(void **state)
{
    (void)state;
    for (uint64_t v = 0; v != 2 * LG_HIST_SUB; ++v) {
        size_t b = lg_hist_bucket_of(v);
        assert_int_equal(b, v);
        assert_int_equal(lg_hist_bucket_low(b), v);
        assert_int_equal(lg_hist_bucket_high(b), v);
    }
}

/* Consecutive buckets tile the value range with no gap and no overlap. */
static void test_buckets_are_contiguous(void **state)
{
    (void)state;
    for (size_t b = 0; b + 1 != LG_HIST_BUCKETS; ++b)
        assert_true(lg_hist_bucket_high(b) + 1 == lg_hist_bucket_low(b + 1));
    assert_int_equal(lg_hist_bucket_of(UINT64_MAX), LG_HIST_BUCKETS - 1);
    assert_true(lg_hist_bucket_high(LG_HIST_BUCKETS - 1) == UINT64_MAX);
}

/* Every value lies in its bucket, whose width is at most value / SUB. */
static void test_relative_error_is_bounded(void **state)
{
    (void)state;
    for (uint64_t v = 1; v < UINT64_MAX / 2; v += v / 97 + 1) {
        size_t b = lg_hist_bucket_of(v);
        uint64_t low = lg_hist_bucket_low(b), high = lg_hist_bucket_high(b);
        assert_true(low <= v && v <= high);
        assert_true(high - low <= v / LG_HIST_SUB);
    }
}

static void test_empty_histogram_reports_zero(void **state)
{
    (void)state;
    lg_hist_t *h = malloc(sizeof(*h));
    lg_hist_init(h);
    assert_int_equal(lg_hist_percentile(h, 50), 0);
    assert_int_equal(lg_hist_percentile(h, 100), 0);
    assert_true(lg_hist_mean(h) == 0.0);
    free(h);
}

/* 1..10000 once each: percentiles within the bucket error of the exact rank. */
static void test_percentiles_of_a_uniform_run(void **state)
{
    (void)state;
    lg_hist_t *h = malloc(sizeof(*h));
    lg_hist_init(h);
    for (uint64_t v = 1; v <= 10000; ++v)
        lg_hist_record(h, v * 1000);
    static const struct {
        double percent;
        uint64_t exact;
    } cases[] = {{50, 5000000}, {90, 9000000}, {95, 9500000}, {99, 9900000}, {99.9, 9990000}};
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        uint64_t got = lg_hist_percentile(h, cases[i].percent);
        assert_true(got >= cases[i].exact);
        assert_true(got <= cases[i].exact + cases[i].exact / LG_HIST_SUB);
    }
    assert_int_equal(lg_hist_percentile(h, 0), 1000);
    assert_int_equal(lg_hist_percentile(h, 100), 10000000);
    assert_true(lg_hist_mean(h) == 5000500.0);
    assert_int_equal(h->count, 10000);
    free(h);
}

/* A rare large value shows at the top percentiles only, capped at the recorded maximum. */
static void test_tail_and_max(void **state)
{
    (void)state;
    lg_hist_t *h = malloc(sizeof(*h));
    lg_hist_init(h);
    for (int i = 0; i != 999; ++i)
        lg_hist_record(h, 100);
    lg_hist_record(h, 123456789);
    assert_int_equal(lg_hist_percentile(h, 99), 100);
    assert_int_equal(lg_hist_percentile(h, 99.9), 100);
    assert_int_equal(lg_hist_percentile(h, 99.95), 123456789);
    assert_int_equal(lg_hist_percentile(h, 100), 123456789);
    assert_int_equal(h->min, 100);
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_values_have_exact_buckets),
        cmocka_unit_test(test_buckets_are_contiguous),
        cmocka_unit_test(test_relative_error_is_bounded),
        cmocka_unit_test(test_empty_histogram_reports_zero),
        cmocka_unit_test(test_percentiles_of_a_uniform_run),
        cmocka_unit_test(test_tail_and_max),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
