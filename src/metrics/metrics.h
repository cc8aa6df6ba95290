/*
 * Metrics: HTTP request counters, a request duration histogram and the requests in flight,
 * kept per event-loop thread with no lock on the request path, and their rendering in the
 * Prometheus text exposition format (version 0.0.4), or as JSON for the dashboard, together
 * with figures other modules keep (database statements, cache statistics), which the caller
 * passes in.
 *
 * Threads: each loop owns one slot (hp_metrics_slot) and is the only thread that writes it;
 * a write is a relaxed load and store of the owner's own cache line, so loops never contend
 * and no locked instruction is needed. hp_metrics_render may run on any thread: it sums the
 * slots with relaxed loads, so a scrape sees each counter at some recent value (counters
 * never go backwards; a scrape taken mid-request may see its count before its bucket).
 * The hp_metrics_t is created before the loops start and destroyed after they have stopped.
 */
#ifndef HP_METRICS_METRICS_H
#define HP_METRICS_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include "cache/cache.h"
#include "core/buf.h"

/* Method classes, the `method` label. HEAD counts as GET. */
typedef enum {
    HP_METRICS_GET,
    HP_METRICS_POST,
    HP_METRICS_PATCH,
    HP_METRICS_DELETE,
    HP_METRICS_OTHER_METHOD,
    HP_METRICS_METHODS
} hp_metrics_method_t;

/* Status classes, the `code` label: 2xx..5xx, and "other" for a request that got no final
 * status (the client went away first) or an unusual one. */
typedef enum {
    HP_METRICS_2XX,
    HP_METRICS_3XX,
    HP_METRICS_4XX,
    HP_METRICS_5XX,
    HP_METRICS_OTHER_STATUS,
    HP_METRICS_STATUSES
} hp_metrics_status_t;

/* Upper bounds of the duration histogram's finite buckets, in nanoseconds; one more bucket
 * (+Inf) follows them. */
#define HP_METRICS_DURATION_BUCKETS 17
/* Finite buckets of the batch-size histogram (1, 2, 4 ... 512). */
#define HP_METRICS_BATCH_BUCKETS 10

/* Rate-limit rules counted (src/ratelimit: the `rate-limit` rule and rate-limit-rules). */
#define HP_METRICS_RATELIMIT_RULES 33

typedef struct st_hp_metrics_t hp_metrics_t;
typedef struct st_hp_metrics_slot_t hp_metrics_slot_t;

/* A database connection pool's state (PostgreSQL's; see hp_db_pool_stats). */
typedef struct {
    unsigned open, max;  /* connections open (or opening), and the most allowed */
    unsigned busy;       /* queries in flight (several per connection with pipelining) */
    unsigned waiting;    /* database jobs waiting for a connection (a batch counts once) */
    uint64_t acquired;   /* requests that got one, since start */
    uint64_t acquire_ns; /* their total wait */
} hp_metrics_pool_t;

/* Database admission's state (src/overload's limiter), read at scrape time. */
typedef struct {
    unsigned limit, max; /* the adaptive concurrency limit and its ceiling (db-max-jobs) */
    unsigned in_flight;  /* jobs admitted and not back */
    uint64_t mean_ns;    /* the mean job latency the shed decision uses */
} hp_metrics_admission_t;

/* What the rendered text includes besides the HTTP metrics (all borrowed for the call). */
typedef struct {
    uint64_t db_statements;                  /* hp_db_query_count */
    const hp_cache_stats_t *cache;           /* NULL when the cache is off: no cache metrics */
    const hp_metrics_pool_t *pool;           /* NULL when the backend has no pool (SQLite) */
    const hp_metrics_admission_t *admission; /* NULL without admission control (db-max-jobs 0) */
} hp_metrics_extra_t;

/* --- lifecycle --- */

/* slot_count slots (one per loop thread), all zero. start_time_s is the process start time
 * (Unix seconds), rendered as process_start_time_seconds. Aborts when out of memory. */
hp_metrics_t *hp_metrics_create(size_t slot_count, uint64_t start_time_s);
/* Call once no thread uses the metrics or a slot of them. */
void hp_metrics_destroy(hp_metrics_t *m);

/* Slot i (i < slot_count), owned by the thread that writes it. */
hp_metrics_slot_t *hp_metrics_slot(hp_metrics_t *m, size_t i);

/* Names rate-limit rule i (< HP_METRICS_RATELIMIT_RULES), its `rule` label (copied); NULL
 * leaves it out. Rate-limit metrics are rendered only when some rule is named. Call before the
 * loops start. */
void hp_metrics_ratelimit_rule(hp_metrics_t *m, size_t i, const char *name);

/* --- counting (owner thread only) --- */

/* A rate-limit decision by rule i: allowed, or limited (429). */
void hp_metrics_ratelimit(hp_metrics_slot_t *slot, size_t rule, int is_allowed);

/* One database query answered `requests` API reads (src/batch). */
void hp_metrics_batch(hp_metrics_slot_t *slot, size_t requests);
/* A request waited `ns` for the database (submitted to answered, queueing included). */
void hp_metrics_db_wait(hp_metrics_slot_t *slot, uint64_t ns);
/* A request was answered 503 at once: the database's queue would not finish in time. */
void hp_metrics_shed(hp_metrics_slot_t *slot);
/* A request was answered 429 at once: its client had db-client-max-jobs jobs in flight. */
void hp_metrics_client_denied(hp_metrics_slot_t *slot);
/* A response went out compressed: `original` bytes sent as `sent`. */
void hp_metrics_compressed(hp_metrics_slot_t *slot, size_t original, size_t sent);

hp_metrics_method_t hp_metrics_method_class(const char *method, size_t len);
/* A request was accepted: one more in flight. */
void hp_metrics_request_started(hp_metrics_slot_t *slot);
/* A request started with hp_metrics_request_started is done: one fewer in flight, and it is
 * counted by method and status (HTTP status, or 0 when none was sent) and its duration. */
void hp_metrics_request_done(hp_metrics_slot_t *slot, hp_metrics_method_t method, int status,
                             uint64_t duration_ns);

/* --- scraping (any thread) --- */

/* Appends every metric in the text exposition format to out. */
void hp_metrics_render(hp_metrics_t *m, const hp_metrics_extra_t *extra, hp_buf_t *out);
/* Appends the same figures as one JSON object (and a newline), for the admin dashboard:
 *   {"monotonic_ms", "start_time_seconds", "requests_by_status": {"2xx"..."other"},
 *    "requests", "not_modified", "in_flight",
 *    "duration_seconds": {"bounds": [finite upper bounds], "cumulative": [one more, +Inf],
 *                         "sum", "count"},
 *    "ratelimit": {RULE: {"allowed", "limited"}, ...} or null (rate limiting off),
 *    "db_statements", "cache": {hits, stale_hits, misses, waits, evictions, invalidated,
 *                               rejected, bytes, entries} or null,
 *    "admission": {shed, client_denied, limit, max, in_flight (these three null without
 *                  admission control)},
 *    "pool": {in_use, size, max, busy, waiting} or null}
 * monotonic_ms (CLOCK_MONOTONIC) lets a client turn two scrapes into rates. "pool" is null
 * when the backend has no connection pool (SQLite); in_use is min(busy, size). */
void hp_metrics_render_json(hp_metrics_t *m, const hp_metrics_extra_t *extra, uint64_t monotonic_ms,
                            hp_buf_t *out);

#endif
