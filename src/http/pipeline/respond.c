#include "http/pipeline/respond.h"

#include <xxhash.h>

static void on_entry_ref_dispose(void *p)
{
    hp_cache_entry_unref(*(hp_cache_entry_t **)p);
}

void hp_respond_entry(hp_call_t *call, hp_cache_entry_t *entry, const char *cache_status,
                      uint64_t db_ns, uint32_t batch_size)
{
    hp_cache_entry_t **ref = h2o_mem_alloc_shared(call->pool, sizeof(*ref), on_entry_ref_dispose);
    *ref = entry;
    if (call->sink == NULL)
        return;
    hp_http_representation_t rep = {
        .status = entry->status,
        .headers = entry->headers,
        .header_count = entry->header_count,
        .body = h2o_iovec_init(entry->body.base, entry->body.len),
        .etag = entry->etag,
        .last_modified_ms = entry->last_modified_ms,
        .policy = call->policy,
        .entry = entry,
        .cache_status = cache_status,
        .caller = &call->caller,
        .cache_ns = call->cache_ns,
        .db_ns = db_ns,
        .batch_size = batch_size,
    };
    call->sink->representation(call, &rep);
}

/* A read that was not published: answered from the result, with the same validators. */
static void respond_result(hp_call_t *call, hp_call_outcome_t *o)
{
    hp_exec_result_t *result = &o->job->result;
    size_t len;
    char *body = hp_buf_take(&result->body, &len);
    hp_pipeline_own(call, body);
    hp_http_representation_t rep = {
        .status = o->status,
        .headers = o->headers,
        .header_count = o->header_count,
        .body = h2o_iovec_init(body, len),
        .etag = XXH3_64bits(body, len),
        .last_modified_ms =
            hp_http_caching_last_changed(call->loop->caching, o->slots, o->slot_count),
        .policy = NULL,
        .cache_status = call->policy != NULL ? "hotpath; fwd=miss" : "hotpath; fwd=bypass",
        .caller = &call->caller,
        .cache_ns = call->cache_ns,
        .db_ns = o->db_ns,
        .batch_size = result->batch_size,
    };
    call->sink->representation(call, &rep);
}

hp_step_result_t hp_step_respond(hp_call_t *call)
{
    hp_call_outcome_t *o = call->outcome;
    hp_exec_result_t *result = &o->job->result;
    if (call->sink == NULL)
        return HP_STEP_DONE;
    if (result->error.code != HP_OK) {
        if (call->fallback != NULL && hp_error_http_status(&result->error) >= 500) {
            hp_cache_entry_t *stale = call->fallback;
            call->fallback = NULL;
            hp_respond_entry(call, stale, "hotpath; hit; fwd=stale; detail=stale-if-error",
                             o->db_ns, 1);
        } else {
            /* A 416 carries the content-range of the table's size. */
            call->sink->error(call, &result->error, o->headers, o->status == 416 ? 1 : 0);
        }
    } else if (o->plan->is_write) {
        call->sink->write(call, o->plan, result, o->db_ns);
    } else if (o->entry != NULL) {
        const char *fwd =
            call->is_forced_fresh
                ? (o->entry->is_stored ? "hotpath; fwd=request; stored" : "hotpath; fwd=request")
                : (o->entry->is_stored ? "hotpath; fwd=miss; stored" : "hotpath; fwd=miss");
        hp_respond_entry(call, o->entry, fwd, o->db_ns, result->batch_size);
        o->entry = NULL;
    } else {
        respond_result(call, o);
    }
    return HP_STEP_DONE;
}
