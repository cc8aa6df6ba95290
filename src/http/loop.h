/*
 * One event-loop thread's state (private to src/http). Everything here is touched only by
 * its own thread, except `control`, which other threads post messages to.
 */
#ifndef HP_HTTP_LOOP_H
#define HP_HTTP_LOOP_H

#include <pthread.h>
#include <semaphore.h>
#include <h2o.h>
#include "batch/batch.h"
#include "config/config.h"
#include "db/db.h"
#include "http/access_log.h"
#include "http/affinity.h"
#include "http/caching.h"
#include "metrics/metrics.h"
#include "overload/clients.h"
#include "overload/limiter.h"

/* How often a loop lets its database connection drop a stale read snapshot (and writes its
 * buffered access log lines). */
#define HP_HTTP_TICK_MS 10

typedef struct {
    h2o_context_t ctx; /* first, so a request's conn->ctx leads back here */
    h2o_accept_ctx_t accept_ctx;
    h2o_socket_t *listener;
    int listen_fd;
    h2o_hostconf_t **hosts; /* what the API listener serves (NULL-terminated) */
    /* Loop 0 alone also serves the admin listener when admin-server-port is set; elsewhere
     * admin_fd is -1. */
    h2o_accept_ctx_t admin_accept_ctx;
    h2o_socket_t *admin_listener;
    int admin_fd;
    h2o_hostconf_t **admin_hosts;
    h2o_multithread_receiver_t db_receiver;    /* database jobs come back here */
    h2o_multithread_receiver_t control;        /* shutdown requests from the signal thread */
    h2o_multithread_receiver_t cache_receiver; /* fills this loop's requests waited for */
    h2o_multithread_message_t shutdown_message;
    h2o_timeout_t tick_timeout; /* every HP_HTTP_TICK_MS: database and access log housekeeping */
    h2o_timeout_entry_t tick;
    h2o_timeout_t deadline_timeout; /* server-request-timeout-ms, for every API request */
    size_t in_flight;               /* requests accepted and not yet disposed */
    size_t jobs_in_flight; /* database jobs submitted and not yet back, and cache waits not yet
                              answered (their replies are posted to this loop, so it outlives
                              them) */
    int is_stopping;
    pthread_t tid;
    h2o_globalconf_t *globalconf;
    sem_t *ready; /* posted once the loop's context exists */
    const hp_config_t *conf;
    hp_http_caching_t *caching;
    hp_db_t *db;
    hp_http_affinity_t *affinity; /* read-your-writes routing; NULL without replicas */
    hp_batcher_t *batcher;        /* this loop's query batching (made on the loop's thread) */
    hp_metrics_slot_t *metrics;   /* this loop's own counters */
    hp_http_access_log_loop_t *access_log; /* this loop's request ids and access log buffer */
    struct st_hp_pipeline_waiter_t
        *free_waiters;                   /* recycled cache waiters (pipeline/cache_step.c) */
    struct st_hp_ratelimit_t *ratelimit; /* rate limits (shared by the loops); NULL when off */
    /* Database admission (src/overload), shared by every loop; NULL when off (db-max-jobs 0,
     * db-client-max-jobs 0). */
    hp_overload_limiter_t *limiter;
    hp_overload_clients_t *clients;
} hp_http_loop_t;

static inline hp_http_loop_t *hp_http_loop_of(h2o_context_t *ctx)
{
    return (hp_http_loop_t *)ctx;
}

#endif
