/*
 * The respond step: a finished job's outcome (call->outcome) -> the call's sink. A database
 * error is answered as such, or with a stale cache entry inside its stale-if-error window; a
 * write with PostgREST's status and headers; a read from the cache entry its job published,
 * or straight from the result with the same validators when it was not cacheable.
 */
#ifndef HP_HTTP_PIPELINE_RESPOND_H
#define HP_HTTP_PIPELINE_RESPOND_H

#include "http/pipeline/pipeline.h"

hp_step_result_t hp_step_respond(hp_call_t *call);

/* Answers the call from a cache entry (also the cache step's hits); takes the reference, which
 * is released with call->pool. cache_status is the Cache-Status value (borrowed: static or in
 * call->pool). */
void hp_respond_entry(hp_call_t *call, hp_cache_entry_t *entry, const char *cache_status,
                      uint64_t db_ns, uint32_t batch_size);

#endif
