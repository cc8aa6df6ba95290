/*
 * The request pipeline: the one path every API request takes, as a sequence of steps
 *
 *     route -> caller -> admission -> limit -> cache -> plan -> shed -> execute -> respond
 *
 * each a module of its own in this folder (route.h, caller.h, ...). A request is an hp_call_t;
 * hp_pipeline_run runs its steps in order from call->next_step. A step either goes on (NEXT),
 * has answered (DONE: the rest is skipped), or waits for something (PENDING: whatever it
 * waits for calls hp_pipeline_run again later, on the call's loop). A new capability (a rate
 * limit, an authentication check, a second cache tier) is a new step module and one line in
 * the sequence (pipeline.c), or a new tier behind the cache step.
 *
 * Where an answer goes is the call's sink: the HTTP request itself (api.c), or one entry of a
 * POST /_/batch answer (bulk.c), whose sub-requests run the same steps from `caller` on, so
 * they read and fill the cache like any read. A background refresh of a stale cache entry is
 * a call with no sink, run from `plan` on.
 *
 * Threads: a call lives on one event loop and every step runs on that loop's thread.
 * Memory: the call and everything it points to live in call->pool (the request's pool, or the
 * sub-request's own); what must outlive the request (a job, a cache waiter) holds a pointer
 * back that the call's end clears (hp_pipeline_call_gone).
 */
#ifndef HP_HTTP_PIPELINE_PIPELINE_H
#define HP_HTTP_PIPELINE_PIPELINE_H

#include <h2o.h>
#include "core/caller.h"
#include "http/caching.h"
#include "http/loop.h"
#include "query/query.h"

typedef struct st_hp_call_t hp_call_t;

typedef enum {
    HP_STEP_NEXT,    /* go on with the next step */
    HP_STEP_DONE,    /* the call has been answered (or handed elsewhere): stop */
    HP_STEP_PENDING, /* waiting: hp_pipeline_run continues later */
} hp_step_result_t;

typedef hp_step_result_t (*hp_step_fn)(hp_call_t *call);

/* The steps, by position in the sequence. */
typedef enum {
    HP_STEP_ROUTE,
    HP_STEP_CALLER,
    HP_STEP_ADMISSION,
    HP_STEP_LIMIT,
    HP_STEP_CACHE,
    HP_STEP_PLAN,
    HP_STEP_SHED,
    HP_STEP_EXECUTE,
    HP_STEP_RESPOND,
    HP_STEP__COUNT
} hp_step_t;

/* Where a call's answer goes. Each function answers exactly once per call. */
typedef struct {
    /* A successful read: from a cache entry or straight from a result. */
    void (*representation)(hp_call_t *call, const hp_http_representation_t *rep);
    /* A finished write; may take the result's body. db_ns is the database's time. */
    void (*write)(hp_call_t *call, const hp_plan_t *plan, hp_exec_result_t *result, uint64_t db_ns);
    /* An error, with extra headers (a 416's content-range) or none. */
    void (*error)(hp_call_t *call, const hp_error_t *err, const hp_cache_header_t *headers,
                  size_t header_count);
} hp_call_sink_t;

/* What a finished database job left for the respond step (in the job's pool). */
typedef struct {
    hp_db_job_t *job;
    hp_plan_t *plan;
    int status; /* a read's 200/206 (or 416 with err) */
    hp_cache_header_t headers[4];
    size_t header_count;
    hp_cache_entry_t *entry; /* the published cache entry (a reference), or NULL */
    const uint32_t *slots;   /* the version slots of the tables the plan reads */
    size_t slot_count;
    uint64_t db_ns;
} hp_call_outcome_t;

typedef struct st_hp_pipeline_job_t hp_pipeline_job_t;
typedef struct st_hp_pipeline_waiter_t hp_pipeline_waiter_t;

struct st_hp_call_t {
    hp_http_loop_t *loop;
    h2o_req_t *req;       /* the HTTP request; NULL for a sub-request or a background refresh */
    h2o_mem_pool_t *pool; /* what dies with the call */
    const hp_call_sink_t *sink; /* NULL: nobody to answer (a background refresh) */
    void *sink_data;            /* the sink's (bulk.c: the answer slot) */
    unsigned next_step;
    hp_request_t r;           /* what is asked: filled by route (or bulk.c for a sub-request) */
    hp_caller_t caller;       /* who asks: filled by the caller step; r.caller points here */
    uint64_t peer_hash;       /* hp_pipeline_peer_hash's, once asked (0 before) */
    uint64_t affinity_client; /* read-your-writes routing key (http/affinity.h); 0 without */
    uint64_t limit_client;    /* rate-limit client key (limit.h); a sub-request: its envelope's */
    uint64_t started_ns;
    /* cache step */
    const hp_cache_policy_t *policy; /* non-NULL: a cacheable read */
    h2o_iovec_t cache_key;           /* non-empty: the job publishes its result under it */
    hp_cache_entry_t *fallback;      /* stale-if-error candidate (a reference), or NULL */
    int is_forced_fresh;             /* the client sent Cache-Control: no-cache */
    uint64_t cache_ns;
    hp_pipeline_waiter_t *waiter; /* waiting on another request's fill, or NULL */
    const char *cache_status;     /* set with a hit entry waiting for the respond step */
    /* plan and execute steps */
    hp_db_job_t *job;           /* planned or running, or NULL */
    hp_plan_t *plan;            /* in job->pool */
    hp_pipeline_job_t *job_ref; /* the running job's pointer back to this call */
    hp_call_outcome_t *outcome; /* set when the job came back */
    /* shed step (shed.h): what the call holds of the database's admission, which its job
     * gives back when it comes back */
    uint64_t shed_client; /* the client's key in the per-client job table */
    unsigned shed_held;   /* HP_SHED_HOLDS_* */
};

/* Runs the call's steps from call->next_step until one is DONE or PENDING; also how a call
 * whose step returned PENDING continues (at the step after it). */
void hp_pipeline_run(hp_call_t *call);

/* Sets up a call (zeroed) on loop, answering into sink; pool must outlive every use. */
void hp_pipeline_call_init(hp_call_t *call, hp_http_loop_t *loop, h2o_mem_pool_t *pool,
                           const hp_call_sink_t *sink, void *sink_data);
/* The call's answer is no longer wanted (its request was disposed): detaches the job and the
 * cache waiter that point back at it, and drops its references. */
void hp_pipeline_call_gone(hp_call_t *call);

/* Answers the call with err through its sink (nothing when it has none); returns DONE, so a
 * step can `return hp_pipeline_fail(call, &err);`. */
hp_step_result_t hp_pipeline_fail(hp_call_t *call, const hp_error_t *err);
/* The same with an error made here (in call->pool). */
hp_step_result_t hp_pipeline_failf(hp_call_t *call, hp_errcode_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The hash of the client's address (hp_http_peer_hash), taken once per call; call->req must be
 * set. */
uint64_t hp_pipeline_peer_hash(hp_call_t *call);

/* Hands memory malloc'd elsewhere to the call: freed when call->pool is cleared. */
void hp_pipeline_own(hp_call_t *call, void *p);

#endif
