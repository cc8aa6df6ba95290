#include <string.h>
#include "core/limits.h"
#include "core/log.h"
#include "http/api.h"
#include "http/loop.h"
#include "http/respond.h"
#include "query/query.h"

/* The per-request state, on the request's pool. Its dispose callback runs when h2o is done
 * with the request (answered, or the client went away), which is how an in-flight database
 * job learns that nobody waits for it any more. */
typedef struct {
    h2o_req_t *req;
    hp_http_loop_t *loop;
    hp_db_job_t *job; /* in flight, or NULL */
    hp_plan_t *plan;  /* in job->pool */
    int is_head;
} api_call_t;

static void on_call_dispose(void *p)
{
    api_call_t *call = p;
    --call->loop->in_flight;
    if (call->job != NULL)
        call->job->data = NULL;
}

static void on_schema_ref_dispose(void *p)
{
    hp_schema_unref(*(hp_schema_t **)p);
}

/* Runs on the loop that submitted the job. */
static void on_job_done(hp_db_job_t *job)
{
    hp_http_loop_t *loop = H2O_STRUCT_FROM_MEMBER(hp_http_loop_t, db_receiver, job->reply_to);
    --loop->jobs_in_flight;
    api_call_t *call = job->data;
    if (call != NULL) {
        call->job = NULL;
        if (job->result.error.code != HP_OK)
            hp_http_respond_error(call->req, &job->result.error);
        else
            hp_http_respond_result(call->req, call->plan, &job->result, call->is_head);
    }
    hp_db_job_destroy(job);
}

static int parse_method(h2o_iovec_t m, hp_method_t *out)
{
    static const struct {
        const char *name;
        size_t len;
        hp_method_t method;
    } methods[] = {{H2O_STRLIT("GET"), HP_METHOD_GET},
                   {H2O_STRLIT("HEAD"), HP_METHOD_HEAD},
                   {H2O_STRLIT("POST"), HP_METHOD_POST},
                   {H2O_STRLIT("PATCH"), HP_METHOD_PATCH},
                   {H2O_STRLIT("DELETE"), HP_METHOD_DELETE}};
    for (size_t i = 0; i != sizeof(methods) / sizeof(methods[0]); ++i) {
        if (h2o_memis(m.base, m.len, methods[i].name, methods[i].len)) {
            *out = methods[i].method;
            return 0;
        }
    }
    return -1;
}

static h2o_iovec_t header_value(h2o_req_t *req, const h2o_token_t *token)
{
    ssize_t i = h2o_find_header(&req->headers, token, -1);
    return i == -1 ? h2o_iovec_init(NULL, 0) : req->headers.entries[i].value;
}

/* Reads the headers that change what the query means into r. */
static int read_headers_or_respond(h2o_req_t *req, hp_request_t *r)
{
    hp_error_t err = {0};
    if (hp_query_parse_accept(header_value(req, H2O_TOKEN_ACCEPT), &r->format, &err, &req->pool) !=
        0)
        goto fail;
    for (ssize_t i = -1;
         (i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("prefer"), i)) != -1;)
        hp_query_parse_prefer(req->headers.entries[i].value, &r->prefer);
    if (r->method == HP_METHOD_GET || r->method == HP_METHOD_HEAD) {
        /* PostgREST ignores a Range header it cannot read (RFC 9110 allows that), but answers
         * 416 to one it can read whose end is before its start. */
        h2o_iovec_t range = header_value(req, H2O_TOKEN_RANGE);
        if (range.base != NULL && hp_query_parse_range(range, &r->range, &err, &req->pool) != 0) {
            if (err.code != HP_ERR_INVALID_RANGE)
                goto fail;
            err = (hp_error_t){0};
            r->range.is_set = 0;
        }
    } else {
        h2o_iovec_t type = header_value(req, H2O_TOKEN_CONTENT_TYPE);
        if (type.base != NULL && req->entity.len != 0 &&
            !(type.len >= 16 && h2o_memis(type.base, 16, H2O_STRLIT("application/json")))) {
            hp_error_set(&err, &req->pool, HP_ERR_UNSUPPORTED_MEDIA,
                         "Content-Type %.*s is not supported; send application/json", (int)type.len,
                         type.base);
            goto fail;
        }
    }
    return 0;
fail:
    hp_http_respond_error(req, &err);
    return -1;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    hp_http_loop_t *loop = hp_http_loop_of(req->conn->ctx);
    api_call_t *call = h2o_mem_alloc_shared(&req->pool, sizeof(*call), on_call_dispose);
    *call = (api_call_t){req, loop, NULL, NULL, 0};
    ++loop->in_flight;

    size_t path_len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    h2o_iovec_t path = h2o_iovec_init(req->path.base, path_len);
    hp_request_t r = {0};
    r.query = req->query_at != SIZE_MAX ? h2o_iovec_init(req->path.base + req->query_at + 1,
                                                         req->path.len - req->query_at - 1)
                                        : h2o_iovec_init("", 0);
    if (r.query.len > HP_MAX_QUERY_BYTES) {
        hp_http_respond_errorf(req, HP_ERR_URI_TOO_LONG, "The query string is longer than %u bytes",
                               HP_MAX_QUERY_BYTES);
        return 0;
    }

    if (path.len <= 1) {
        if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
            !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
            hp_http_respond_errorf(req, HP_ERR_METHOD, "Unsupported HTTP method: %.*s",
                                   (int)req->method.len, req->method.base);
            return 0;
        }
        hp_schema_t *schema = hp_db_schema(loop->db);
        hp_http_respond_root(req, schema);
        hp_schema_unref(schema);
        return 0;
    }
    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("OPTIONS"))) {
        req->res.status = 200;
        req->res.reason = "OK";
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL,
                       H2O_STRLIT("OPTIONS,GET,HEAD,POST,PATCH,DELETE"));
        h2o_send_inline(req, NULL, 0);
        return 0;
    }
    if (parse_method(req->method, &r.method) != 0) {
        hp_http_respond_errorf(req, HP_ERR_METHOD, "Unsupported HTTP method: %.*s",
                               (int)req->method.len, req->method.base);
        return 0;
    }
    call->is_head = r.method == HP_METHOD_HEAD;

    /* "/users" -> "users"; a deeper path names nothing (there is no /rpc yet). */
    h2o_iovec_t raw_name = h2o_iovec_init(path.base + 1, path.len - 1);
    if (raw_name.len != 0 && raw_name.base[raw_name.len - 1] == '/')
        --raw_name.len;
    if (memchr(raw_name.base, '/', raw_name.len) != NULL ||
        hp_query_percent_decode(raw_name, &r.resource, &req->pool) != 0) {
        hp_http_respond_errorf(req, HP_ERR_BAD_PATH, "Invalid path specified in request URL");
        return 0;
    }
    if (req->entity.len > (size_t)loop->conf->max_body_bytes) {
        hp_http_respond_errorf(req, HP_ERR_BODY_TOO_LARGE,
                               "The request body is %zu bytes; max-body-bytes is %lld",
                               req->entity.len, (long long)loop->conf->max_body_bytes);
        return 0;
    }
    r.body = req->entity.base != NULL ? req->entity : h2o_iovec_init("", 0);
    if (read_headers_or_respond(req, &r) != 0)
        return 0;

    hp_db_job_t *job = hp_db_job_create();
    hp_schema_t **schema_ref =
        h2o_mem_alloc_shared(&job->pool, sizeof(*schema_ref), on_schema_ref_dispose);
    *schema_ref = hp_db_schema(loop->db);
    hp_plan_t *plan = h2o_mem_alloc_pool(&job->pool, sizeof(*plan));
    hp_query_options_t opts = {.max_rows =
                                   loop->conf->db_max_rows > 0 ? loop->conf->db_max_rows : -1};
    hp_error_t err = {0};
    if (hp_query_plan(&r, *schema_ref, hp_db_dialect(loop->db), &opts, plan, &err, &job->pool) !=
        0) {
        hp_http_respond_error(req, &err);
        hp_db_job_destroy(job);
        return 0;
    }
    job->exec = &plan->exec;
    job->reply_to = &loop->db_receiver;
    job->on_done = on_job_done;
    job->data = call;
    call->job = job;
    call->plan = plan;
    ++loop->jobs_in_flight;
    hp_db_submit(loop->db, job);
    return 0;
}

void hp_http_api_register(h2o_hostconf_t *hostconf, const char *path)
{
    h2o_pathconf_t *pathconf = h2o_config_register_path(hostconf, path, 0);
    h2o_handler_t *handler = h2o_create_handler(pathconf, sizeof(*handler));
    handler->on_req = on_req;
}
