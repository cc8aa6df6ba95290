/*
 * Overload admission in front of the database: an adaptive limit on the database jobs in
 * flight in this process (all loops together), and the decision to answer 503 at once rather
 * than queue a job that could not finish within the request deadline.
 *
 * The limit moves by AIMD (additive increase, multiplicative decrease, as TCP's congestion
 * window and Netflix's concurrency-limits AIMDLimit), once per window of max(limit, 32) jobs.
 * A window is a drop signal when its mean latency is more than twice the normal mean (the
 * database's latency when nothing queues: a queue shows as a longer mean for the same work),
 * or when a job in it took more than half the budget (the request deadline: the queue is
 * eating the time requests have). A drop cuts the limit by a tenth; a window with no drop, in
 * which the limit was at least half used, raises it by one. The limit stays in [1, max] and
 * starts at min(max, 20). The normal mean is the first window's, then follows the windows
 * that were not drops (1/16 of the way each); each drop nudges it up by 1/1000, so a lasting
 * change of the work (slower queries) becomes the new normal, while a queue, which the cuts
 * drain, does not.
 *
 * Why AIMD on window means rather than a gradient limit on single samples: a REST API's jobs
 * range from a 20 us point lookup to seconds of embeds, so a single "no-load latency" to
 * compare one sample against does not exist; the mean of a window of jobs of a steady mix
 * does, and AIMD's fixed steps are easy to reason about (and to test) where a gradient's
 * proportional moves over-react to one slow query.
 *
 * Past the limit a job is not refused outright: the database has a queue of its own (SQLite's
 * reader FIFO, the PostgreSQL pool), and a job may wait in it when the wait still fits the
 * budget. Jobs past the limit run in rounds of `limit` jobs of mean latency each; a job whose
 * round would end past the budget, or that would wait more than HP_OVERLOAD_QUEUE_ROUNDS
 * rounds, is shed (503, Retry-After: the wait, rounded up to seconds). The second bound keeps
 * an admitted request's latency within a small multiple of the mean under any overload: a
 * queue as long as the deadline allows would make every admitted request as slow as that.
 *
 * Threads: one limiter shared by every loop. Admission reads the published limit and mean
 * latency and changes the in-flight count with atomics (no lock); feedback takes a mutex with
 * trylock, so a loop never waits for another: a sample that finds it taken is dropped (the
 * limit moves on the next one).
 */
#ifndef HP_OVERLOAD_LIMITER_H
#define HP_OVERLOAD_LIMITER_H

#include <stdint.h>

/* Most rounds of `limit` jobs a job past the limit may wait for. */
#define HP_OVERLOAD_QUEUE_ROUNDS 2

/* The AIMD arithmetic alone, single-threaded (the limiter's, exposed for unit tests). */
typedef struct {
    double limit;
    unsigned max;
    uint64_t target_ns; /* a slower job is a drop signal */
    uint64_t mean_ns;   /* exponentially weighted mean job latency (1/8 per sample); 0 none */
    /* the current window */
    unsigned window_count;
    uint64_t window_sum_ns, window_max_ns;
    int window_busy;         /* a job in it came back with the limit at least half used */
    uint64_t normal_mean_ns; /* the window mean when nothing queues; 0 none yet */
} hp_overload_aimd_t;

/* Starts at min(max, 20). */
void hp_overload_aimd_init(hp_overload_aimd_t *a, unsigned max, uint64_t target_ns);
/* One job came back after latency_ns with in_flight jobs (itself included) outstanding. */
void hp_overload_aimd_sample(hp_overload_aimd_t *a, uint64_t latency_ns, unsigned in_flight);

/* The shed rule: `ahead` jobs in flight, limit, mean latency and budget. Returns 1 to shed
 * (*wait_ns: the expected wait in the database's queue), 0 to admit. No latency seen yet
 * (mean_ns 0) admits. */
int hp_overload_should_shed(unsigned ahead, unsigned limit, uint64_t mean_ns, uint64_t budget_ns,
                            uint64_t *wait_ns);

typedef struct st_hp_overload_limiter_t hp_overload_limiter_t;

typedef struct {
    unsigned limit;     /* the current concurrency limit */
    unsigned max;       /* its ceiling (db-max-jobs) */
    unsigned in_flight; /* jobs admitted and not back */
    uint64_t mean_ns;   /* mean job latency */
} hp_overload_limiter_stats_t;

/* NULL when max is 0 (no admission control). budget_ns: the request deadline. Aborts when out
 * of memory. */
hp_overload_limiter_t *hp_overload_limiter_create(unsigned max, uint64_t budget_ns);
/* After every job admitted has been released. NULL is fine. */
void hp_overload_limiter_destroy(hp_overload_limiter_t *l);

/* Admits one job (0: it counts in flight until hp_overload_limiter_release) or sheds it (-1,
 * *wait_ns the expected wait that did not fit the budget). */
int hp_overload_limiter_acquire(hp_overload_limiter_t *l, uint64_t *wait_ns);
/* An admitted job came back (or gave its first piece) after latency_ns. */
void hp_overload_limiter_release(hp_overload_limiter_t *l, uint64_t latency_ns);
void hp_overload_limiter_stats(hp_overload_limiter_t *l, hp_overload_limiter_stats_t *out);

#endif
