#include "http/pipeline/plan.h"

static void on_schema_ref_dispose(void *p)
{
    hp_schema_unref(*(hp_schema_t **)p);
}

hp_step_result_t hp_step_plan(hp_call_t *call)
{
    hp_http_loop_t *loop = call->loop;
    if (call->job == NULL)
        call->job = hp_db_job_create();
    hp_db_job_t *job = call->job;
    hp_schema_t **schema_ref =
        h2o_mem_alloc_shared(&job->pool, sizeof(*schema_ref), on_schema_ref_dispose);
    *schema_ref = hp_db_schema(loop->db);
    hp_plan_t *plan = h2o_mem_alloc_pool(&job->pool, sizeof(*plan));
    hp_query_options_t opts = {.max_rows =
                                   loop->conf->db_max_rows > 0 ? loop->conf->db_max_rows : -1};
    hp_error_t err = {0};
    if (hp_query_plan(&call->r, *schema_ref, hp_db_dialect(loop->db), &opts, plan, &err,
                      &job->pool) != 0) {
        if (call->cache_key.base != NULL)
            hp_cache_tier_abandon(loop->caching->tier, call->cache_key.base, call->cache_key.len);
        /* The error's text is in the job's pool: answer before it goes. The call may be gone
         * once answered (a /_/batch sub-request), so the job is taken off it first. */
        call->job = NULL;
        hp_pipeline_fail(call, &err);
        hp_db_job_destroy(job);
        return HP_STEP_DONE;
    }
    call->plan = plan;
    return HP_STEP_NEXT;
}
