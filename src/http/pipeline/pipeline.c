#include "http/pipeline/pipeline.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "http/pipeline/admission.h"
#include "http/pipeline/cache_step.h"
#include "http/pipeline/caller.h"
#include "http/pipeline/execute.h"
#include "http/pipeline/limit.h"
#include "http/pipeline/plan.h"
#include "http/pipeline/respond.h"
#include "http/pipeline/route.h"
#include "http/pipeline/shed.h"
#include "http/respond.h"

/* The sequence. A new step is a module and one line here (and in hp_step_t). */
static const hp_step_fn steps[HP_STEP__COUNT] = {
    [HP_STEP_ROUTE] = hp_step_route,         /* what is asked */
    [HP_STEP_CALLER] = hp_step_caller,       /* who asks */
    [HP_STEP_ADMISSION] = hp_step_admission, /* sizes against their caps */
    [HP_STEP_LIMIT] = hp_step_limit,         /* rate limits per client */
    [HP_STEP_CACHE] = hp_step_cache,         /* a hit answers here */
    [HP_STEP_PLAN] = hp_step_plan,           /* the query */
    [HP_STEP_SHED] = hp_step_shed,           /* database admission: fair share, overload */
    [HP_STEP_EXECUTE] = hp_step_execute,     /* batched, then the database */
    [HP_STEP_RESPOND] = hp_step_respond,     /* the outcome to the sink */
};

void hp_pipeline_run(hp_call_t *call)
{
    while (call->next_step < HP_STEP__COUNT) {
        hp_step_fn step = steps[call->next_step++];
        if (step(call) != HP_STEP_NEXT)
            return;
    }
}

void hp_pipeline_call_init(hp_call_t *call, hp_http_loop_t *loop, h2o_mem_pool_t *pool,
                           const hp_call_sink_t *sink, void *sink_data)
{
    *call = (hp_call_t){.loop = loop, .pool = pool, .sink = sink, .sink_data = sink_data};
    call->caller = hp_caller_anonymous;
}

void hp_pipeline_call_gone(hp_call_t *call)
{
    hp_execute_detach(call);
    hp_cache_step_detach(call);
    hp_cache_entry_unref(call->fallback);
    call->fallback = NULL;
}

uint64_t hp_pipeline_peer_hash(hp_call_t *call)
{
    if (call->peer_hash == 0)
        call->peer_hash = hp_http_peer_hash(call->req);
    return call->peer_hash;
}

static void free_owned(void *p)
{
    free(*(void **)p);
}

void hp_pipeline_own(hp_call_t *call, void *p)
{
    void **slot = h2o_mem_alloc_shared(call->pool, sizeof(*slot), free_owned);
    *slot = p;
}

hp_step_result_t hp_pipeline_fail(hp_call_t *call, const hp_error_t *err)
{
    if (call->sink != NULL)
        call->sink->error(call, err, NULL, 0);
    return HP_STEP_DONE;
}

hp_step_result_t hp_pipeline_failf(hp_call_t *call, hp_errcode_t code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    hp_error_t err = {0};
    hp_error_set(&err, call->pool, code, "%s", msg);
    return hp_pipeline_fail(call, &err);
}
