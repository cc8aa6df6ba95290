/*
 * The caller step: who is asking, into call->caller (which call->r.caller points to). Every
 * caller is anonymous until authentication exists; the JWT check goes here, and what it fills
 * in reaches the cache key and Vary, batch grouping and the database session without any other
 * change. A sub-request of /_/batch is asked by the caller of its envelope.
 */
#ifndef HP_HTTP_PIPELINE_CALLER_H
#define HP_HTTP_PIPELINE_CALLER_H

#include "http/pipeline/pipeline.h"

hp_step_result_t hp_step_caller(hp_call_t *call);

#endif
