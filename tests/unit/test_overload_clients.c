/* Tests for src/overload/clients.c: the per-client job table. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "overload/clients.h"

static void test_zero_means_no_table(void **state)
{
    (void)state;
    assert_null(hp_overload_clients_create(0));
    hp_overload_clients_destroy(NULL);
}

/* A client gets max_jobs, the next is refused (and not counted), a release frees one; another
 * client is not affected. */
static void test_a_client_is_held_to_its_jobs(void **state)
{
    (void)state;
    hp_overload_clients_t *c = hp_overload_clients_create(3);
    const uint64_t a = 0x1234567890abcdefull, b = 0xfedcba0987654321ull;
    for (int i = 0; i != 3; ++i)
        assert_int_equal(hp_overload_clients_acquire(c, a), 0);
    assert_int_equal(hp_overload_clients_acquire(c, a), -1);
    assert_int_equal(hp_overload_clients_jobs(c, a), 3);
    assert_int_equal(hp_overload_clients_acquire(c, b), 0);
    assert_int_equal(hp_overload_clients_jobs(c, b), 1);
    hp_overload_clients_release(c, a);
    assert_int_equal(hp_overload_clients_acquire(c, a), 0);
    assert_int_equal(hp_overload_clients_acquire(c, a), -1);
    for (int i = 0; i != 3; ++i)
        hp_overload_clients_release(c, a);
    hp_overload_clients_release(c, b);
    assert_int_equal(hp_overload_clients_jobs(c, a), 0);
    assert_int_equal(hp_overload_clients_jobs(c, b), 0);
    hp_overload_clients_destroy(c);
}

/* Threads racing for one client's slots never get more than max_jobs at once. */
#define RACERS 4
#define ROUNDS 20000

typedef struct {
    hp_overload_clients_t *c;
    unsigned over; /* times the count was seen above max */
} racer_t;

static void *race(void *p)
{
    racer_t *r = p;
    for (int i = 0; i != ROUNDS; ++i) {
        if (hp_overload_clients_acquire(r->c, 42) != 0)
            continue;
        if (hp_overload_clients_jobs(r->c, 42) > 2)
            ++r->over;
        hp_overload_clients_release(r->c, 42);
    }
    return NULL;
}

static void test_racing_threads_never_exceed_the_limit(void **state)
{
    (void)state;
    hp_overload_clients_t *c = hp_overload_clients_create(2);
    racer_t r[RACERS];
    pthread_t t[RACERS];
    for (int i = 0; i != RACERS; ++i) {
        r[i] = (racer_t){c, 0};
        assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
    }
    for (int i = 0; i != RACERS; ++i) {
        pthread_join(t[i], NULL);
        assert_int_equal(r[i].over, 0);
    }
    assert_int_equal(hp_overload_clients_jobs(c, 42), 0);
    hp_overload_clients_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zero_means_no_table),
        cmocka_unit_test(test_a_client_is_held_to_its_jobs),
        cmocka_unit_test(test_racing_threads_never_exceed_the_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
