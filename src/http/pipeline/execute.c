#include "http/pipeline/execute.h"
#include "http/pipeline/shed.h"

#include "core/time.h"
#include "http/affinity.h"
#include "http/respond.h"
#include "http/stream.h"

/* What a running job carries besides its exec (in the job's pool). */
struct st_hp_pipeline_job_t {
    hp_call_t *call; /* NULL once the call is gone */
    hp_plan_t *plan;
    /* The cache fill the job owes (fill_key.base NULL: none). */
    h2o_iovec_t fill_key;
    const hp_cache_policy_t *fill_policy;
    uint32_t *slots;
    uint64_t *versions;
    size_t slot_count;
    uint64_t epoch;
    uint64_t submitted_ns;
    uint64_t shed_client; /* what the shed step admitted the job with, given back when done */
    unsigned shed_held;
};

/* With read replicas: a read goes to the primary when its client wrote lately (it must read
 * its own writes), or when a table it reads changed lately (a replica may not have replayed
 * that yet, and what the read returns may be cached for everyone). */
static int reads_from_primary(hp_call_t *call, const hp_plan_t *plan, const uint32_t *slots,
                              size_t slot_count)
{
    hp_http_loop_t *loop = call->loop;
    if (loop->affinity == NULL || plan->is_write)
        return 0;
    if (call->sink != NULL &&
        hp_http_affinity_prefers_primary(loop->affinity, call->affinity_client))
        return 1;
    uint64_t changed = hp_http_caching_last_written(loop->caching, slots, slot_count);
    return changed + (uint64_t)loop->conf->db_primary_after_write_ms > hp_time_real_ms();
}

/* Publishes the fill a job owes (or abandons it); returns the entry to answer with, or NULL. */
static hp_cache_entry_t *settle_fill(hp_http_loop_t *loop, hp_pipeline_job_t *pj,
                                     const hp_exec_result_t *result, const hp_call_outcome_t *o)
{
    hp_cache_tier_t *tier = loop->caching->tier;
    if (result->error.code != HP_OK || (o->status != 200 && o->status != 206)) {
        hp_cache_tier_abandon(tier, pj->fill_key.base, pj->fill_key.len); /* waiters query */
        return NULL;
    }
    uint64_t now = hp_time_real_ms();
    const hp_cache_policy_t *pol = pj->fill_policy;
    hp_cache_fill_t f = {
        .status = o->status,
        .headers = o->headers,
        .header_count = o->header_count,
        .body = result->body.ptr,
        .body_len = result->body.len,
        .now_ms = now,
        .fresh_until_ms = now + (uint64_t)pol->ttl_s * 1000,
        .stale_until_ms = now + ((uint64_t)pol->ttl_s + pol->swr_s) * 1000,
        .error_until_ms = now + ((uint64_t)pol->ttl_s + pol->sie_s) * 1000,
        .last_modified_ms = hp_http_caching_last_changed(loop->caching, pj->slots, pj->slot_count),
        .table_slots = pj->slots,
        .table_count = pj->slot_count,
        .table_versions = pj->versions,
        .epoch = pj->epoch,
    };
    return hp_cache_tier_publish(tier, pj->fill_key.base, pj->fill_key.len, &f);
}

/* Runs on the loop that submitted the job (inside hp_db_submit for an inline read). */
static void on_job_done(hp_db_job_t *job)
{
    hp_http_loop_t *loop = H2O_STRUCT_FROM_MEMBER(hp_http_loop_t, db_receiver, job->reply_to);
    --loop->jobs_in_flight;
    hp_pipeline_job_t *pj = job->data;
    hp_call_t *call = pj->call;
    hp_exec_result_t *result = &job->result;
    hp_call_outcome_t *o = h2o_mem_alloc_pool(&job->pool, sizeof(*o));
    *o = (hp_call_outcome_t){
        .job = job, .plan = pj->plan, .slots = pj->slots, .slot_count = pj->slot_count};
    o->db_ns = hp_time_mono_ns() - pj->submitted_ns;
    hp_metrics_db_wait(loop->metrics, o->db_ns);
    /* The database is done with it (a streamed read: its first piece is here). */
    hp_step_shed_release(loop, pj->shed_client, pj->shed_held, o->db_ns);
    if (call != NULL) {
        call->job_ref = NULL;
        call->job = NULL;
    }

    /* A large read came back as its first piece (docs/streaming.md): the stream takes the job
     * over and destroys it. A streamed body is never cached: a fill this job led is abandoned
     * (its waiters query for themselves). */
    if (result->is_streaming) {
        if (pj->fill_key.base != NULL)
            hp_cache_tier_abandon(loop->caching->tier, pj->fill_key.base, pj->fill_key.len);
        hp_http_stream_info_t info = {
            .cache_status = "hotpath; fwd=bypass",
            .db_ns = o->db_ns,
            .last_modified_ms =
                hp_http_caching_last_changed(loop->caching, pj->slots, pj->slot_count),
        };
        h2o_req_t *req = NULL;
        if (call != NULL) {
            info.cache_ns = call->cache_ns;
            if ((info.policy = call->policy) != NULL)
                info.cache_status = "hotpath; fwd=miss; detail=streamed";
            req = call->req;
        }
        hp_http_stream_start(req, job, pj->plan, &info);
        return;
    }

    /* A read's status and representation headers, in the call's pool (publish copies them). */
    h2o_mem_pool_t *pool = call != NULL ? call->pool : &job->pool;
    hp_error_t meta_err = {0};
    if (result->error.code == HP_OK && !pj->plan->is_write &&
        hp_http_read_meta(pool, pj->plan, result, &o->status, o->headers, &o->header_count,
                          &meta_err) != 0)
        result->error = meta_err;

    /* A write invalidates what read its table before anyone hears of it. */
    if (result->error.code == HP_OK && pj->plan->is_write) {
        const hp_table_t *t = pj->plan->table;
        hp_http_caching_table_written(loop->caching, t->name, t->name_len);
        if (call != NULL && call->sink != NULL)
            hp_http_affinity_wrote(loop->affinity, call->affinity_client);
    }
    if (pj->fill_key.base != NULL)
        o->entry = settle_fill(loop, pj, result, o);

    if (call != NULL) {
        call->outcome = o;
        hp_pipeline_run(call); /* the respond step */
    }
    hp_cache_entry_unref(o->entry);
    hp_db_job_destroy(job);
}

hp_step_result_t hp_step_execute(hp_call_t *call)
{
    hp_http_loop_t *loop = call->loop;
    hp_db_job_t *job = call->job;
    hp_plan_t *plan = call->plan;
    hp_pipeline_job_t *pj = h2o_mem_alloc_pool(&job->pool, sizeof(*pj));
    *pj = (hp_pipeline_job_t){
        .call = call, .plan = plan, .shed_client = call->shed_client, .shed_held = call->shed_held};
    call->shed_held = 0;
    size_t n = plan->table_count;
    pj->slots = h2o_mem_alloc_pool(&job->pool, sizeof(*pj->slots) * (n + 1));
    for (size_t i = 0; i != n; ++i)
        pj->slots[i] = hp_cache_table_slot(plan->tables[i]->name, plan->tables[i]->name_len);
    pj->slot_count = n;
    if (call->cache_key.base != NULL) {
        pj->fill_key = h2o_strdup(&job->pool, call->cache_key.base, call->cache_key.len);
        pj->fill_policy = call->policy;
        pj->versions = h2o_mem_alloc_pool(&job->pool, sizeof(*pj->versions) * (n + 1));
        /* Versions are read before the query takes its snapshot: a write that lands while it
         * runs moves them, and the publish is refused. */
        pj->epoch = hp_cache_tier_versions(loop->caching->tier, pj->slots, n, pj->versions);
    }
    job->exec = &plan->exec;
    job->prefers_primary = reads_from_primary(call, plan, pj->slots, n);
    /* A large read answering an HTTP request comes back in pieces (http/stream.h). Not a
     * /_/batch sub-request (its body is part of one JSON answer) nor a background refresh. */
    if (call->req != NULL && !plan->is_write)
        job->stream_after_bytes = (size_t)loop->conf->stream_after_bytes;
    job->reply_to = &loop->db_receiver;
    job->on_done = on_job_done;
    job->data = pj;
    call->job_ref = pj;
    pj->submitted_ns = hp_time_mono_ns();
    ++loop->jobs_in_flight;
    hp_batcher_submit(loop->batcher, job, plan);
    return HP_STEP_PENDING;
}

void hp_execute_detach(hp_call_t *call)
{
    if (call->job_ref != NULL)
        call->job_ref->call = NULL;
    call->job_ref = NULL;
}
