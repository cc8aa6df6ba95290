/* Tests for src/ratelimit/gcra.c and store_local.c: the GCRA arithmetic (burst, steady rate,
 * Retry-After) and the local store's bounded table (eviction of keys with no state). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "ratelimit/gcra.h"
#include "ratelimit/store.h"

#define S HP_GCRA_NS_PER_S
#define MS (S / 1000)

/* Starts far from 0, as the monotonic clock does, so "TAT 0 = unknown" is never mistaken. */
#define T0 (1000 * S)

static void test_interval_and_tolerance(void **state)
{
    (void)state;
    static const struct {
        uint32_t rate, window_s, burst;
        uint64_t interval_ns, tolerance_ns;
    } cases[] = {
        {200, 1, 50, 5 * MS, 49 * 5 * MS}, {20, 1, 5, 50 * MS, 4 * 50 * MS},
        {60, 60, 60, S, 59 * S},           {1, 60, 1, 60 * S, 0},
        {3, 1, 1, 333333333, 0}, /* rounded down: never stricter than the rule */
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        hp_gcra_t g;
        hp_gcra_init(&g, cases[i].rate, cases[i].window_s, cases[i].burst);
        assert_int_equal(g.interval_ns, cases[i].interval_ns);
        assert_int_equal(g.tolerance_ns, cases[i].tolerance_ns);
    }
}

/* From idle, exactly `burst` requests at one instant are admitted, with remaining counting
 * down to 0; the next is denied with Retry-After = one interval. */
static void test_burst_at_once_then_denied(void **state)
{
    (void)state;
    hp_gcra_t g;
    hp_gcra_init(&g, 20, 1, 5);
    uint64_t tat = 0;
    hp_gcra_decision_t d;
    for (uint32_t i = 0; i != 5; ++i) {
        tat = hp_gcra_decide(&g, tat, T0, &d);
        assert_true(d.is_allowed);
        assert_int_equal(d.remaining, 4 - i);
        assert_int_equal(d.reset_ns, (i + 1) * 50 * MS);
    }
    uint64_t before = tat;
    tat = hp_gcra_decide(&g, tat, T0, &d);
    assert_false(d.is_allowed);
    assert_int_equal(tat, before); /* a denial changes nothing */
    assert_int_equal(d.retry_after_ns, 50 * MS);
    assert_int_equal(hp_gcra_ceil_s(d.retry_after_ns), 1);
    assert_int_equal(d.remaining, 0);
}

/* A client sending faster than the rate for a long time gets burst + rate * elapsed. */
static void test_steady_rate_admits_rate_times_elapsed(void **state)
{
    (void)state;
    hp_gcra_t g;
    hp_gcra_init(&g, 200, 1, 50);
    uint64_t tat = 0, admitted = 0;
    hp_gcra_decision_t d;
    /* one request every 1 ms (1000/s, 5x the rate) for 60 s */
    for (uint64_t t = 0; t <= 60 * S; t += MS) {
        tat = hp_gcra_decide(&g, tat, T0 + t, &d);
        admitted += (uint64_t)d.is_allowed;
    }
    assert_int_equal(admitted, 50 + 200 * 60);
}

/* A client below the rate is never denied, and its allowance stays full. */
static void test_below_rate_never_denied(void **state)
{
    (void)state;
    hp_gcra_t g;
    hp_gcra_init(&g, 10, 1, 1);
    uint64_t tat = 0;
    hp_gcra_decision_t d;
    for (uint64_t t = 0; t <= 10 * S; t += 100 * MS) {
        tat = hp_gcra_decide(&g, tat, T0 + t, &d);
        assert_true(d.is_allowed);
    }
}

/* Retry-After is the wait until one more request fits, rounded up to whole seconds. */
static void test_retry_after_values(void **state)
{
    (void)state;
    static const struct {
        uint32_t rate, window_s, burst;
        uint64_t after_ns; /* time since the burst was used up */
        uint64_t retry_after_ns, retry_after_s;
    } cases[] = {
        {1, 60, 1, 0, 60 * S, 60}, {1, 60, 1, 59 * S + 1, S - 1, 1},      {2, 1, 2, 0, 500 * MS, 1},
        {10, 60, 10, 0, 6 * S, 6}, {10, 60, 10, 2500 * MS, 3500 * MS, 4},
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        hp_gcra_t g;
        hp_gcra_init(&g, cases[i].rate, cases[i].window_s, cases[i].burst);
        uint64_t tat = 0;
        hp_gcra_decision_t d;
        for (uint32_t j = 0; j != cases[i].burst; ++j)
            tat = hp_gcra_decide(&g, tat, T0, &d);
        hp_gcra_decide(&g, tat, T0 + cases[i].after_ns, &d);
        assert_false(d.is_allowed);
        assert_int_equal(d.retry_after_ns, cases[i].retry_after_ns);
        assert_int_equal(hp_gcra_ceil_s(d.retry_after_ns), cases[i].retry_after_s);
        /* and exactly then, it is admitted */
        hp_gcra_decide(&g, tat, T0 + cases[i].after_ns + d.retry_after_ns, &d);
        assert_true(d.is_allowed);
    }
}

/* The store keeps one TAT per key: keys do not share an allowance. */
static void test_store_keys_are_independent(void **state)
{
    (void)state;
    hp_ratelimit_store_t *s = hp_ratelimit_store_local_create(1024);
    hp_gcra_t g;
    hp_gcra_init(&g, 1, 60, 2);
    hp_gcra_decision_t d;
    for (int i = 0; i != 2; ++i) {
        assert_int_equal(hp_ratelimit_store_decide(s, 11, &g, T0, 0, &d), 0);
        assert_true(d.is_allowed);
    }
    hp_ratelimit_store_decide(s, 11, &g, T0, 0, &d);
    assert_false(d.is_allowed);
    hp_ratelimit_store_decide(s, 12, &g, T0, 0, &d);
    assert_true(d.is_allowed);
    /* a dry run records nothing */
    for (int i = 0; i != 3; ++i) {
        hp_ratelimit_store_decide(s, 13, &g, T0, 1, &d);
        assert_true(d.is_allowed);
    }
    hp_ratelimit_store_destroy(s);
}

/* Far more keys than the capacity: memory stays fixed; keys whose TAT has passed are reused
 * without losing anyone's state, and a live key is evicted only when its bucket is full. */
static void test_store_is_bounded_and_evicts_expired_keys(void **state)
{
    (void)state;
    hp_ratelimit_store_t *s = hp_ratelimit_store_local_create(64);
    hp_ratelimit_store_stats_t st;
    hp_ratelimit_store_local_stats(s, &st);
    size_t cap = st.capacity;
    assert_true(cap >= 64);
    hp_gcra_t g;
    hp_gcra_init(&g, 1, 1, 1); /* a key's state lasts 1 s */
    hp_gcra_decision_t d;
    /* 100 rounds of cap keys each, 2 s apart: every key of a round has expired by the next */
    for (uint64_t round = 0; round != 100; ++round)
        for (uint64_t k = 1; k <= cap; ++k) {
            hp_ratelimit_store_decide(s, round * 1000003 + k * 7919, &g, T0 + round * 2 * S, 0, &d);
            assert_true(d.is_allowed);
        }
    hp_ratelimit_store_local_stats(s, &st);
    assert_int_equal(st.capacity, cap);
    /* Live keys past a bucket's 8 slots: the table forgets some (counted), never grows. */
    for (uint64_t k = 1; k <= 4 * cap; ++k)
        hp_ratelimit_store_decide(s, 0x5555 + k, &g, T0 + 1000 * S, 0, &d);
    hp_ratelimit_store_local_stats(s, &st);
    assert_true(st.evicted_live >= 3 * cap);
    /* A key that was kept is still limited. */
    size_t limited = 0;
    for (uint64_t k = 1; k <= 4 * cap; ++k) {
        hp_ratelimit_store_decide(s, 0x5555 + k, &g, T0 + 1000 * S, 1, &d);
        limited += !d.is_allowed;
    }
    assert_true(limited >= cap / 2);
    assert_true(limited <= cap);
    hp_ratelimit_store_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interval_and_tolerance),
        cmocka_unit_test(test_burst_at_once_then_denied),
        cmocka_unit_test(test_steady_rate_admits_rate_times_elapsed),
        cmocka_unit_test(test_below_rate_never_denied),
        cmocka_unit_test(test_retry_after_values),
        cmocka_unit_test(test_store_keys_are_independent),
        cmocka_unit_test(test_store_is_bounded_and_evicts_expired_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
