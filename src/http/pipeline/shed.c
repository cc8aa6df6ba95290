#include "http/pipeline/shed.h"

#include <stdio.h>

/* Answers the call at once with code and Retry-After: retry_s; the job planned for it goes. */
static hp_step_result_t refuse(hp_call_t *call, hp_errcode_t code, uint64_t retry_s,
                               const char *message)
{
    hp_http_loop_t *loop = call->loop;
    if (call->cache_key.base != NULL)
        hp_cache_tier_abandon(loop->caching->tier, call->cache_key.base, call->cache_key.len);
    char *value = h2o_mem_alloc_pool(call->pool, 24);
    int len = snprintf(value, 24, "%llu", (unsigned long long)retry_s);
    hp_cache_header_t retry_after = {"retry-after", sizeof("retry-after") - 1, value, (size_t)len};
    hp_error_t err = {0};
    hp_error_set(&err, call->pool, code, "%s", message);
    hp_db_job_t *job = call->job;
    call->job = NULL;
    call->plan = NULL;
    if (call->sink != NULL)
        call->sink->error(call, &err, &retry_after, 1);
    hp_db_job_destroy(job);
    return HP_STEP_DONE;
}

hp_step_result_t hp_step_shed(hp_call_t *call)
{
    hp_http_loop_t *loop = call->loop;
    call->shed_held = 0;
    /* A read of one row by a unique key that the batcher may coalesce is the cheapest work
     * there is, and the batcher bounds what it costs the database (one query per shape in
     * flight per loop, however many requests wait for it): never refused, never counted. */
    if (call->plan->batch.tree != NULL && loop->conf->batch == 0 /* "on" */)
        return HP_STEP_NEXT;
    if (loop->clients != NULL && call->req != NULL) {
        call->shed_client = hp_pipeline_peer_hash(call);
        if (hp_overload_clients_acquire(loop->clients, call->shed_client) != 0) {
            hp_metrics_client_denied(loop->metrics);
            return refuse(call, HP_ERR_CLIENT_BUSY, 1,
                          "Too many database queries in flight for this client "
                          "(db-client-max-jobs); retry after one finishes");
        }
        call->shed_held |= HP_SHED_HOLDS_CLIENT;
    }
    uint64_t wait_ns;
    if (loop->limiter != NULL && hp_overload_limiter_acquire(loop->limiter, &wait_ns) != 0) {
        if (call->shed_held & HP_SHED_HOLDS_CLIENT)
            hp_overload_clients_release(loop->clients, call->shed_client);
        call->shed_held = 0;
        hp_metrics_shed(loop->metrics);
        return refuse(call, HP_ERR_OVERLOADED, (wait_ns + 999999999) / 1000000000,
                      "The database is overloaded: the request could not be answered within "
                      "server-request-timeout-ms; retry later");
    }
    if (loop->limiter != NULL)
        call->shed_held |= HP_SHED_HOLDS_LIMIT;
    return HP_STEP_NEXT;
}

void hp_step_shed_release(hp_http_loop_t *loop, uint64_t client, unsigned held, uint64_t latency_ns)
{
    if (held & HP_SHED_HOLDS_CLIENT)
        hp_overload_clients_release(loop->clients, client);
    if (held & HP_SHED_HOLDS_LIMIT)
        hp_overload_limiter_release(loop->limiter, latency_ns);
}
