#include "http/pipeline/cache_step.h"

#include <stdlib.h>
#include <string.h>
#include "core/time.h"
#include "http/pipeline/respond.h"
#include "http/respond.h"

/* A call waiting for another request's fill of the same key. Apart from the call (the cache
 * calls it back on the leader's thread even if the call is gone) and recycled on its loop. */
struct st_hp_pipeline_waiter_t {
    hp_cache_waiter_t super;
    h2o_multithread_message_t message;
    h2o_multithread_receiver_t *reply_to;
    hp_cache_entry_t *entry;
    hp_call_t *call;                 /* NULL once the call is gone */
    hp_pipeline_waiter_t *next_free; /* in the loop's free list */
};

/* Called by the cache on the leader's thread, after its shard lock is released. */
static void on_waiter_called(hp_cache_waiter_t *waiter, hp_cache_entry_t *entry)
{
    hp_pipeline_waiter_t *w = H2O_STRUCT_FROM_MEMBER(hp_pipeline_waiter_t, super, waiter);
    w->entry = entry;
    h2o_multithread_send_message(w->reply_to, &w->message);
}

static hp_pipeline_waiter_t *take_waiter(hp_http_loop_t *loop)
{
    hp_pipeline_waiter_t *w = loop->free_waiters;
    if (w != NULL)
        loop->free_waiters = w->next_free;
    else if ((w = malloc(sizeof(*w))) == NULL)
        h2o_fatal("out of memory");
    *w = (hp_pipeline_waiter_t){.super = {.cb = on_waiter_called},
                                .reply_to = &loop->cache_receiver};
    return w;
}

static void give_back_waiter(hp_http_loop_t *loop, hp_pipeline_waiter_t *w)
{
    w->next_free = loop->free_waiters;
    loop->free_waiters = w;
}

void hp_cache_step_dispose_loop(hp_http_loop_t *loop)
{
    while (loop->free_waiters != NULL) {
        hp_pipeline_waiter_t *w = loop->free_waiters;
        loop->free_waiters = w->next_free;
        free(w);
    }
}

void hp_cache_step_detach(hp_call_t *call)
{
    if (call->waiter != NULL)
        call->waiter->call = NULL;
    call->waiter = NULL;
}

/* The leader's fill of the key was published or abandoned; runs on the waiter's own loop. */
void hp_cache_step_on_messages(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    hp_http_loop_t *loop = H2O_STRUCT_FROM_MEMBER(hp_http_loop_t, cache_receiver, receiver);
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *m =
            H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&m->link);
        hp_pipeline_waiter_t *w = H2O_STRUCT_FROM_MEMBER(hp_pipeline_waiter_t, message, m);
        hp_call_t *call = w->call;
        hp_cache_entry_t *entry = w->entry;
        give_back_waiter(loop, w);
        --loop->jobs_in_flight;
        if (call == NULL) {
            hp_cache_entry_unref(entry);
            continue;
        }
        call->waiter = NULL;
        if (entry != NULL) {
            hp_respond_entry(call, entry, "hotpath; fwd=miss; collapsed", 0, 1);
        } else {
            /* The leader failed or raced a write: query without the cache. */
            call->cache_key = h2o_iovec_init(NULL, 0);
            hp_pipeline_run(call);
        }
    }
}

/* Request Cache-Control: no-cache (or Pragma: no-cache): the client wants the database's
 * answer, not a stored one (RFC 9111 5.2.1.4). */
static int client_wants_fresh(h2o_req_t *req)
{
    if (req == NULL)
        return 0;
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_CACHE_CONTROL, -1);
    if (i != -1) {
        h2o_iovec_t v = req->headers.entries[i].value;
        if (memmem(v.base, v.len, "no-cache", 8) != NULL)
            return 1;
    }
    i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("pragma"), -1);
    return i != -1 && memmem(req->headers.entries[i].value.base, req->headers.entries[i].value.len,
                             "no-cache", 8) != NULL;
}

/* A background refresh of a stale entry: a call of its own, with no sink, living in its job's
 * pool, run from the plan step. */
static void start_refresh(hp_call_t *call)
{
    hp_db_job_t *job = hp_db_job_create();
    hp_call_t *refresh = h2o_mem_alloc_pool(&job->pool, sizeof(*refresh));
    hp_pipeline_call_init(refresh, call->loop, &job->pool, NULL, NULL);
    refresh->r = call->r; /* borrowed: the plan step copies what it keeps */
    refresh->caller = call->caller;
    refresh->r.caller = &refresh->caller;
    refresh->policy = call->policy;
    refresh->cache_key = call->cache_key;
    refresh->job = job;
    refresh->next_step = HP_STEP_PLAN;
    hp_pipeline_run(refresh);
}

/* "hotpath; hit; ttl=N" with N the seconds of freshness left, rounded down (so a stale entry's
 * is negative), in the call's pool. */
static const char *hit_status(hp_call_t *call, const hp_cache_entry_t *entry, uint64_t now_ms)
{
    int64_t left_ms = (int64_t)entry->fresh_until_ms - (int64_t)now_ms;
    char *status = h2o_mem_alloc_pool(call->pool, 64), *p = status;
    if (left_ms >= 0) {
        memcpy(p, "hotpath; hit; ttl=", 18);
        p = hp_http_put_uint(p + 18, (uint64_t)left_ms / 1000);
    } else {
        memcpy(p, "hotpath; hit; fwd=stale; ttl=-", 30);
        p = hp_http_put_uint(p + 30, ((uint64_t)-left_ms + 999) / 1000);
    }
    *p = '\0';
    return status;
}

hp_step_result_t hp_step_cache(hp_call_t *call)
{
    hp_http_loop_t *loop = call->loop;
    const hp_request_t *r = &call->r;
    if (r->method != HP_METHOD_GET && r->method != HP_METHOD_HEAD)
        return HP_STEP_NEXT;
    if ((call->policy = hp_http_caching_policy(loop->caching, r->resource)) == NULL)
        return HP_STEP_NEXT;

    uint64_t start = hp_time_mono_ns(), now_ms = hp_time_real_ms();
    call->cache_key = hp_http_caching_key(call->pool, r);
    if (client_wants_fresh(call->req)) {
        /* Query, and store the fresh answer for everyone else. */
        call->cache_ns = hp_time_mono_ns() - start;
        call->is_forced_fresh = 1;
        return HP_STEP_NEXT;
    }
    hp_pipeline_waiter_t *w = take_waiter(loop);
    w->call = call;
    hp_cache_entry_t *entry = NULL;
    int should_revalidate = 0;
    hp_cache_result_t res =
        hp_cache_tier_lookup(loop->caching->tier, call->cache_key.base, call->cache_key.len, now_ms,
                             &w->super, &entry, &should_revalidate);
    call->cache_ns = hp_time_mono_ns() - start;
    if (res == HP_CACHE_WAIT) {
        call->waiter = w;
        ++loop->jobs_in_flight; /* the loop outlives the message the waiter will get */
        call->fallback = entry;
        return HP_STEP_PENDING;
    }
    give_back_waiter(loop, w);
    if (res == HP_CACHE_HIT) {
        if (should_revalidate)
            start_refresh(call);
        hp_respond_entry(call, entry, hit_status(call, entry, now_ms), 0, 1);
        return HP_STEP_DONE;
    }
    call->fallback = entry; /* an expired entry inside its stale-if-error window, or NULL */
    return HP_STEP_NEXT;
}
