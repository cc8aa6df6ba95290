#include "http/pipeline/caller.h"

hp_step_result_t hp_step_caller(hp_call_t *call)
{
    /* No authentication yet: call->caller stays what hp_pipeline_call_init set (anonymous),
     * or, for a /_/batch sub-request, its envelope's caller (set by bulk.c). */
    call->r.caller = &call->caller;
    return HP_STEP_NEXT;
}
