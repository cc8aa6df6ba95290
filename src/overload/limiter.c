#include "overload/limiter.h"

#include <h2o.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

/* A decrease keeps this much of the limit. */
#define DECREASE 0.9
#define INITIAL 20      /* the limit to start from (at most max) */
#define MIN_WINDOW 32   /* the fewest jobs a window has (fewer: means too noisy to compare) */
#define QUEUE_FACTOR 2  /* a window mean this many times the normal one is a queue */
#define DROP_DRIFT 1000 /* a drop window raises the normal mean by 1/DROP_DRIFT */

struct st_hp_overload_limiter_t {
    uint64_t budget_ns;
    _Atomic unsigned in_flight;
    _Atomic unsigned limit;   /* floor of aimd.limit, published for admission */
    _Atomic uint64_t mean_ns; /* aimd.mean_ns, published for admission */
    pthread_mutex_t mutex;    /* guards aimd */
    hp_overload_aimd_t aimd;
};

void hp_overload_aimd_init(hp_overload_aimd_t *a, unsigned max, uint64_t target_ns)
{
    *a = (hp_overload_aimd_t){
        .limit = max < INITIAL ? max : INITIAL, .max = max, .target_ns = target_ns};
}

/* The window is over: one AIMD step. */
static void end_window(hp_overload_aimd_t *a)
{
    uint64_t mean = a->window_sum_ns / a->window_count;
    int is_drop = a->window_max_ns > a->target_ns ||
                  (a->normal_mean_ns != 0 && mean > QUEUE_FACTOR * a->normal_mean_ns);
    /* The normal mean follows windows that were not drops (a queue does not become normal);
     * a drop nudges it up, so a lasting change of the work does, after a while. */
    if (a->normal_mean_ns == 0)
        a->normal_mean_ns = mean;
    else if (!is_drop)
        a->normal_mean_ns = (uint64_t)((int64_t)a->normal_mean_ns +
                                       ((int64_t)mean - (int64_t)a->normal_mean_ns) / 16);
    else
        a->normal_mean_ns += a->normal_mean_ns / DROP_DRIFT + 1;
    if (is_drop) {
        a->limit *= DECREASE;
        if (a->limit < 1)
            a->limit = 1;
    } else if (a->window_busy) {
        a->limit += 1;
        if (a->limit > a->max)
            a->limit = a->max;
    }
    a->window_count = 0;
    a->window_sum_ns = a->window_max_ns = 0;
    a->window_busy = 0;
}

void hp_overload_aimd_sample(hp_overload_aimd_t *a, uint64_t latency_ns, unsigned in_flight)
{
    if (a->mean_ns == 0)
        a->mean_ns = latency_ns;
    else
        a->mean_ns =
            (uint64_t)((int64_t)a->mean_ns + ((int64_t)latency_ns - (int64_t)a->mean_ns) / 8);
    ++a->window_count;
    a->window_sum_ns += latency_ns;
    if (latency_ns > a->window_max_ns)
        a->window_max_ns = latency_ns;
    if ((double)in_flight * 2 >= a->limit)
        a->window_busy = 1;
    unsigned window = a->limit > MIN_WINDOW ? (unsigned)a->limit : MIN_WINDOW;
    if (a->window_count >= window)
        end_window(a);
}

int hp_overload_should_shed(unsigned ahead, unsigned limit, uint64_t mean_ns, uint64_t budget_ns,
                            uint64_t *wait_ns)
{
    *wait_ns = 0;
    if (ahead < limit || mean_ns == 0)
        return 0;
    /* The job is (ahead - limit + 1)-th past the limit: it starts after that many jobs have
     * gone through `limit` at a time, and then runs for about the mean itself. */
    uint64_t rounds = (ahead - limit) / limit + 1;
    *wait_ns = rounds * mean_ns;
    return rounds > HP_OVERLOAD_QUEUE_ROUNDS || *wait_ns + mean_ns > budget_ns;
}

hp_overload_limiter_t *hp_overload_limiter_create(unsigned max, uint64_t budget_ns)
{
    if (max == 0)
        return NULL;
    hp_overload_limiter_t *l = calloc(1, sizeof(*l));
    if (l == NULL)
        h2o_fatal("out of memory");
    l->budget_ns = budget_ns;
    pthread_mutex_init(&l->mutex, NULL);
    hp_overload_aimd_init(&l->aimd, max, budget_ns / 2);
    atomic_init(&l->limit, (unsigned)l->aimd.limit);
    return l;
}

void hp_overload_limiter_destroy(hp_overload_limiter_t *l)
{
    if (l == NULL)
        return;
    pthread_mutex_destroy(&l->mutex);
    free(l);
}

int hp_overload_limiter_acquire(hp_overload_limiter_t *l, uint64_t *wait_ns)
{
    unsigned ahead = atomic_fetch_add_explicit(&l->in_flight, 1, memory_order_relaxed);
    unsigned limit = atomic_load_explicit(&l->limit, memory_order_relaxed);
    uint64_t mean = atomic_load_explicit(&l->mean_ns, memory_order_relaxed);
    if (hp_overload_should_shed(ahead, limit, mean, l->budget_ns, wait_ns)) {
        atomic_fetch_sub_explicit(&l->in_flight, 1, memory_order_relaxed);
        return -1;
    }
    return 0;
}

void hp_overload_limiter_release(hp_overload_limiter_t *l, uint64_t latency_ns)
{
    unsigned in_flight = atomic_fetch_sub_explicit(&l->in_flight, 1, memory_order_relaxed);
    if (pthread_mutex_trylock(&l->mutex) != 0)
        return;
    hp_overload_aimd_sample(&l->aimd, latency_ns, in_flight);
    atomic_store_explicit(&l->limit, (unsigned)l->aimd.limit, memory_order_relaxed);
    atomic_store_explicit(&l->mean_ns, l->aimd.mean_ns, memory_order_relaxed);
    pthread_mutex_unlock(&l->mutex);
}

void hp_overload_limiter_stats(hp_overload_limiter_t *l, hp_overload_limiter_stats_t *out)
{
    *out = (hp_overload_limiter_stats_t){
        .limit = atomic_load_explicit(&l->limit, memory_order_relaxed),
        .max = l->aimd.max,
        .in_flight = atomic_load_explicit(&l->in_flight, memory_order_relaxed),
        .mean_ns = atomic_load_explicit(&l->mean_ns, memory_order_relaxed),
    };
}
