/* Tests for src/overload/limiter.c: the AIMD steps, the shed rule, the shared limiter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "overload/limiter.h"

#define MS 1000000ull

/* Feeds one window of `count` jobs of latency_ns each with in_flight outstanding. */
static void feed(hp_overload_aimd_t *a, unsigned count, uint64_t latency_ns, unsigned in_flight)
{
    for (unsigned i = 0; i != count; ++i)
        hp_overload_aimd_sample(a, latency_ns, in_flight);
}

static void test_starts_at_twenty_or_max(void **state)
{
    (void)state;
    hp_overload_aimd_t a;
    hp_overload_aimd_init(&a, 1000, 500 * MS);
    assert_float_equal(a.limit, 20, 1e-9);
    hp_overload_aimd_init(&a, 2, 500 * MS);
    assert_float_equal(a.limit, 2, 1e-9);
}

/* A steady window with the limit at least half used adds one, at the window's end only
 * (windows are max(limit, 32) jobs); an idle one (the limit is not what holds jobs back) adds
 * nothing. */
static void test_busy_windows_add_one(void **state)
{
    (void)state;
    hp_overload_aimd_t a;
    hp_overload_aimd_init(&a, 33, 500 * MS);
    feed(&a, 31, 1 * MS, 10);
    assert_float_equal(a.limit, 20, 1e-9);
    feed(&a, 1, 1 * MS, 10); /* the 32nd job ends the window */
    assert_float_equal(a.limit, 21, 1e-9);
    feed(&a, 32, 1 * MS, 5); /* 5 * 2 < 21: idle */
    assert_float_equal(a.limit, 21, 1e-9);
    for (int i = 0; i != 20; ++i)
        feed(&a, 33, 1 * MS, 33);
    assert_float_equal(a.limit, 33, 1e-9); /* capped at max */
}

/* A window whose mean is more than twice the normal one is a queue: the limit loses a tenth,
 * and the queue does not become the normal mean. */
static void test_queueing_window_cuts_a_tenth(void **state)
{
    (void)state;
    hp_overload_aimd_t a;
    hp_overload_aimd_init(&a, 100, 500 * MS);
    feed(&a, 32, 1 * MS, 20); /* normal mean 1 ms; +1 */
    assert_float_equal(a.limit, 21, 1e-9);
    assert_int_equal(a.normal_mean_ns, 1 * MS);
    feed(&a, 32, 2 * MS, 21); /* twice: not a queue; the normal mean moves 1/16 of the way */
    assert_float_equal(a.limit, 22, 1e-9);
    assert_int_equal(a.normal_mean_ns, 1 * MS + MS / 16);
    feed(&a, 32, 3 * MS, 22); /* nearly three times: a queue */
    assert_float_equal(a.limit, 19.8, 1e-9);
    assert_int_equal(a.normal_mean_ns, 1 * MS + MS / 16 + (1 * MS + MS / 16) / 1000 + 1);
}

/* A job past half the budget is a drop signal whatever the means say. */
static void test_a_job_past_half_the_budget_cuts(void **state)
{
    (void)state;
    hp_overload_aimd_t a;
    hp_overload_aimd_init(&a, 100, 500 * MS);
    feed(&a, 31, 600 * MS, 20); /* the first window sets the normal mean: all slow alike */
    feed(&a, 1, 600 * MS, 20);
    assert_float_equal(a.limit, 18, 1e-9);
}

static void test_limit_never_below_one(void **state)
{
    (void)state;
    hp_overload_aimd_t a;
    hp_overload_aimd_init(&a, 2, 10 * MS);
    for (int i = 0; i != 100; ++i)
        feed(&a, 32, 1000 * MS, 50);
    assert_float_equal(a.limit, 1, 1e-9);
}

/* The mean starts at the first sample and moves an eighth of the way to each next one. */
static void test_mean_is_weighted_by_an_eighth(void **state)
{
    (void)state;
    hp_overload_aimd_t a;
    hp_overload_aimd_init(&a, 10, 500 * MS);
    hp_overload_aimd_sample(&a, 80 * MS, 1);
    assert_int_equal(a.mean_ns, 80 * MS);
    hp_overload_aimd_sample(&a, 160 * MS, 1);
    assert_int_equal(a.mean_ns, 90 * MS);
    hp_overload_aimd_sample(&a, 10 * MS, 1);
    assert_int_equal(a.mean_ns, 80 * MS);
}

/* The shed rule as a table: jobs ahead, limit, mean, budget -> shed?, expected wait. */
static void test_shed_rule(void **state)
{
    (void)state;
    static const struct {
        unsigned ahead, limit;
        uint64_t mean_ns, budget_ns;
        int shed;
        uint64_t wait_ns;
    } cases[] = {
        {0, 4, 100 * MS, 1000 * MS, 0, 0},        /* under the limit */
        {3, 4, 100 * MS, 1000 * MS, 0, 0},        /* the last slot */
        {4, 4, 100 * MS, 1000 * MS, 0, 100 * MS}, /* first past: one round, then itself */
        {7, 4, 100 * MS, 1000 * MS, 0, 100 * MS}, /* the same round */
        {8, 4, 100 * MS, 1000 * MS, 0, 200 * MS}, /* the second round */
        {11, 4, 100 * MS, 1000 * MS, 0, 200 * MS},
        {12, 4, 100 * MS, 1000 * MS, 1, 300 * MS}, /* a third round: past the queue bound */
        {8, 4, 400 * MS, 1000 * MS, 1, 800 * MS},  /* 800 + 400 > 1000: past the budget */
        {4, 4, 500 * MS, 1000 * MS, 0, 500 * MS},  /* 500 + 500 fits exactly */
        {4, 4, 600 * MS, 1000 * MS, 1, 600 * MS},  /* one slow round is too much */
        {1000, 4, 0, 1000 * MS, 0, 0},             /* no latency seen yet: admit */
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        uint64_t wait = 12345;
        int shed = hp_overload_should_shed(cases[i].ahead, cases[i].limit, cases[i].mean_ns,
                                           cases[i].budget_ns, &wait);
        if (shed != cases[i].shed || wait != cases[i].wait_ns)
            fail_msg("case %zu: shed %d wait %llu", i, shed, (unsigned long long)wait);
    }
}

/* The shared limiter: admits up to the limit with no latency known, then by the rule; a
 * release learns the latency and frees the slot. */
static void test_limiter_admits_sheds_and_releases(void **state)
{
    (void)state;
    assert_null(hp_overload_limiter_create(0, 1000 * MS));
    hp_overload_limiter_t *l = hp_overload_limiter_create(2, 1000 * MS);
    uint64_t wait;
    assert_int_equal(hp_overload_limiter_acquire(l, &wait), 0);
    assert_int_equal(hp_overload_limiter_acquire(l, &wait), 0);
    hp_overload_limiter_release(l, 800 * MS); /* mean 800 ms: a queued job would not fit */
    assert_int_equal(hp_overload_limiter_acquire(l, &wait), 0); /* back to 2 in flight */
    assert_int_equal(hp_overload_limiter_acquire(l, &wait), -1);
    assert_int_equal(wait, 800 * MS);
    hp_overload_limiter_stats_t st;
    hp_overload_limiter_stats(l, &st);
    assert_int_equal(st.in_flight, 2);
    assert_int_equal(st.limit, 2);
    assert_int_equal(st.max, 2);
    assert_int_equal(st.mean_ns, 800 * MS);
    hp_overload_limiter_release(l, 800 * MS);
    hp_overload_limiter_release(l, 800 * MS);
    hp_overload_limiter_stats(l, &st);
    assert_int_equal(st.in_flight, 0);
    hp_overload_limiter_destroy(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_starts_at_twenty_or_max),
        cmocka_unit_test(test_busy_windows_add_one),
        cmocka_unit_test(test_queueing_window_cuts_a_tenth),
        cmocka_unit_test(test_a_job_past_half_the_budget_cuts),
        cmocka_unit_test(test_limit_never_below_one),
        cmocka_unit_test(test_mean_is_weighted_by_an_eighth),
        cmocka_unit_test(test_shed_rule),
        cmocka_unit_test(test_limiter_admits_sheds_and_releases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
