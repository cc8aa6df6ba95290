/*
 * The plan step: call->r -> an hp_plan_t (src/query) in a new database job's pool, against the
 * current schema snapshot (the job holds a reference to it). A request that cannot be planned
 * is answered with its error (and a cache key it led is abandoned). When the call leads a
 * cache fill, the versions of every table the plan reads are taken here, before the query
 * takes its snapshot, so a write racing the query makes the publish refuse.
 */
#ifndef HP_HTTP_PIPELINE_PLAN_H
#define HP_HTTP_PIPELINE_PLAN_H

#include "http/pipeline/pipeline.h"

hp_step_result_t hp_step_plan(hp_call_t *call);

#endif
