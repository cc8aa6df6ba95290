/*
 * The cache step: a GET or HEAD of a table whose policy caches it (cache-policy) looks its key
 * up in the cache tier (cache/tier.h). A fresh or stale hit is answered at once (a stale one
 * may also start a background refresh, a call of its own with no sink); a miss whose key
 * another request is filling waits for that fill (single-flight: PENDING until the leader's
 * thread posts the result to this loop); any other miss leads: the call goes on to plan and
 * execute with call->cache_key set, and the execute step publishes or abandons the key.
 * Everything else passes through. Cache waiters are recycled per loop (no malloc per lookup).
 */
#ifndef HP_HTTP_PIPELINE_CACHE_STEP_H
#define HP_HTTP_PIPELINE_CACHE_STEP_H

#include "http/pipeline/pipeline.h"

hp_step_result_t hp_step_cache(hp_call_t *call);

/* The call is gone: a waiter it left answers nobody (hp_pipeline_call_gone). */
void hp_cache_step_detach(hp_call_t *call);
/* The receiver for cache waiters' messages (each loop registers it on its queue). */
void hp_cache_step_on_messages(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages);
/* Frees the loop's recycled waiters (when the loop stops, after every wait was answered). */
void hp_cache_step_dispose_loop(hp_http_loop_t *loop);

#endif
