#include <stdio.h>
#include "core/time.h"
#include "http/access_log.h"
#include "http/api.h"
#include "http/loop.h"
#include "http/pipeline/pipeline.h"
#include "http/respond.h"

static void send_representation(hp_call_t *call, const hp_http_representation_t *rep)
{
    hp_http_caching_send(call->loop->caching, call->req, rep);
}

static void send_write(hp_call_t *call, const hp_plan_t *plan, hp_exec_result_t *result,
                       uint64_t db_ns)
{
    h2o_req_t *req = call->req;
    char *timing = h2o_mem_alloc_pool(&req->pool, 32);
    int len = snprintf(timing, 32, "db;dur=%.3f", db_ns / 1e6);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("server-timing"), 0, NULL,
                          timing, (size_t)len);
    hp_http_respond_write(req, plan, call->r.method, result);
}

static void send_error(hp_call_t *call, const hp_error_t *err, const hp_cache_header_t *headers,
                       size_t header_count)
{
    h2o_req_t *req = call->req;
    for (size_t i = 0; i != header_count; ++i)
        h2o_add_header_by_str(&req->pool, &req->res.headers, headers[i].name, headers[i].name_len,
                              0, NULL, headers[i].value, headers[i].value_len);
    hp_http_respond_error(req, err);
}

static const hp_call_sink_t http_sink = {
    .representation = send_representation,
    .write = send_write,
    .error = send_error,
};

/* An API request: its call and its deadline (server-request-timeout-ms). */
typedef struct {
    hp_call_t call;
    h2o_timeout_entry_t deadline;
} http_call_t;

/* The request was not answered in time: whatever it waits for (the database, another
 * request's cache fill) goes on without it, and it gets a 504 now. */
static void on_deadline(h2o_timeout_entry_t *entry)
{
    http_call_t *hc = H2O_STRUCT_FROM_MEMBER(http_call_t, deadline, entry);
    h2o_req_t *req = hc->call.req;
    if (req->res.status != 0) /* answered (or answering) already */
        return;
    hp_pipeline_call_gone(&hc->call);
    hp_http_respond_errorf(req, HP_ERR_DEADLINE,
                           "The request was not answered within server-request-timeout-ms (%lld)",
                           (long long)hc->call.loop->conf->server_request_timeout_ms);
}

/* The one place every API request ends, whichever way it was answered (or abandoned). */
static void on_call_dispose(void *p)
{
    http_call_t *hc = p;
    hp_call_t *call = &hc->call;
    hp_http_loop_t *loop = call->loop;
    if (h2o_timeout_is_linked(&hc->deadline))
        h2o_timeout_unlink(&hc->deadline);
    --loop->in_flight;
    hp_metrics_request_done(loop->metrics,
                            hp_metrics_method_class(call->req->method.base, call->req->method.len),
                            call->req->res.status, hp_time_mono_ns() - call->started_ns);
    hp_pipeline_call_gone(call);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    hp_http_loop_t *loop = hp_http_loop_of(req->conn->ctx);
    http_call_t *hc = h2o_mem_alloc_shared(&req->pool, sizeof(*hc), on_call_dispose);
    hp_call_t *call = &hc->call;
    hp_pipeline_call_init(call, loop, &req->pool, &http_sink, NULL);
    hc->deadline = (h2o_timeout_entry_t){.cb = on_deadline};
    call->req = req;
    call->started_ns = hp_time_mono_ns();
    ++loop->in_flight;
    hp_metrics_request_started(loop->metrics);
    hp_http_access_log_begin(loop->access_log, req, call->started_ns);
    hp_pipeline_run(call);
    /* Still waiting (for the database or another request's fill): the deadline runs. */
    if (req->res.status == 0 && loop->conf->server_request_timeout_ms > 0)
        h2o_timeout_link(loop->ctx.loop, &loop->deadline_timeout, &hc->deadline);
    return 0;
}

void hp_http_api_register(h2o_hostconf_t *hostconf, const char *path)
{
    h2o_pathconf_t *pathconf = h2o_config_register_path(hostconf, path, 0);
    h2o_handler_t *handler = h2o_create_handler(pathconf, sizeof(*handler));
    handler->on_req = on_req;
}
