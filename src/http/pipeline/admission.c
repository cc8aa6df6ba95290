#include "http/pipeline/admission.h"

#include "core/limits.h"

hp_step_result_t hp_step_admission(hp_call_t *call)
{
    const hp_request_t *r = &call->r;
    if (r->query.len > HP_MAX_QUERY_BYTES)
        return hp_pipeline_failf(call, HP_ERR_URI_TOO_LONG,
                                 "The query string is longer than %u bytes", HP_MAX_QUERY_BYTES);
    long long max_body = call->loop->conf->max_body_bytes;
    if (r->body.len > (size_t)max_body)
        return hp_pipeline_failf(call, HP_ERR_BODY_TOO_LARGE,
                                 "The request body is %zu bytes; max-body-bytes is %lld",
                                 r->body.len, max_body);
    return HP_STEP_NEXT;
}
