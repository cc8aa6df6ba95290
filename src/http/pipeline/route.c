#include "http/pipeline/route.h"

#include <string.h>
#include "http/affinity.h"
#include "http/bulk.h"
#include "http/pipeline/admission.h"
#include "http/pipeline/caller.h"
#include "http/pipeline/limit.h"
#include "http/respond.h"

/* The headers that change what the query means, into r. */
static int read_headers(h2o_req_t *req, hp_request_t *r, hp_error_t *err)
{
    for (ssize_t i = -1;
         (i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("prefer"), i)) != -1;)
        hp_query_parse_prefer(req->headers.entries[i].value, &r->prefer);
    if (hp_query_read_accept_and_range(r, hp_http_header_value(req, H2O_TOKEN_ACCEPT),
                                       hp_http_header_value(req, H2O_TOKEN_RANGE), err,
                                       &req->pool) != 0)
        return -1;
    if (r->method != HP_METHOD_GET && r->method != HP_METHOD_HEAD) {
        h2o_iovec_t type = hp_http_header_value(req, H2O_TOKEN_CONTENT_TYPE);
        if (type.base != NULL && req->entity.len != 0 &&
            !(type.len >= 16 && h2o_memis(type.base, 16, H2O_STRLIT("application/json"))))
            return hp_error_set(err, &req->pool, HP_ERR_UNSUPPORTED_MEDIA,
                                "Content-Type %.*s is not supported; send application/json",
                                (int)type.len, type.base);
    }
    return 0;
}

static int is_method(h2o_req_t *req, const char *name, size_t len)
{
    return h2o_memis(req->method.base, req->method.len, name, len);
}

hp_route_t hp_route_path(h2o_iovec_t path, h2o_iovec_t *resource, h2o_mem_pool_t *pool)
{
    if (path.len <= 1)
        return HP_ROUTE_ROOT;
    if (h2o_memis(path.base, path.len, H2O_STRLIT(HP_HTTP_BULK_PATH)))
        return HP_ROUTE_BULK;
    /* "/users" -> "users"; a deeper path names nothing (there is no /rpc yet). */
    h2o_iovec_t raw_name = h2o_iovec_init(path.base + 1, path.len - 1);
    if (raw_name.len != 0 && raw_name.base[raw_name.len - 1] == '/')
        --raw_name.len;
    if (raw_name.len == 0 || memchr(raw_name.base, '/', raw_name.len) != NULL ||
        hp_query_percent_decode(raw_name, resource, pool) != 0)
        return HP_ROUTE_NONE;
    return HP_ROUTE_TABLE;
}

hp_step_result_t hp_step_route(hp_call_t *call)
{
    h2o_req_t *req = call->req;
    hp_http_loop_t *loop = call->loop;
    hp_request_t *r = &call->r;
    size_t path_len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    r->query = req->query_at != SIZE_MAX ? h2o_iovec_init(req->path.base + req->query_at + 1,
                                                          req->path.len - req->query_at - 1)
                                         : h2o_iovec_init("", 0);
    hp_route_t route =
        hp_route_path(h2o_iovec_init(req->path.base, path_len), &r->resource, &req->pool);
    if (route == HP_ROUTE_ROOT) {
        if (!is_method(req, H2O_STRLIT("GET")) && !is_method(req, H2O_STRLIT("HEAD")))
            return hp_pipeline_failf(call, HP_ERR_METHOD, "Unsupported HTTP method: %.*s",
                                     (int)req->method.len, req->method.base);
        hp_schema_t *schema = hp_db_schema(loop->db);
        hp_http_respond_root(req, schema);
        hp_schema_unref(schema);
        return HP_STEP_DONE;
    }
    if (route == HP_ROUTE_BULK) {
        /* The envelope passes the caller, admission and limit steps itself (the limit counts
         * it once); then each sub-request runs the sequence from the caller step on (bulk.h). */
        r->body = req->entity.base != NULL ? req->entity : h2o_iovec_init("", 0);
        if (hp_step_caller(call) == HP_STEP_NEXT && hp_step_admission(call) == HP_STEP_NEXT &&
            hp_step_limit(call) == HP_STEP_NEXT)
            hp_http_bulk(call);
        return HP_STEP_DONE;
    }
    if (is_method(req, H2O_STRLIT("OPTIONS"))) {
        req->res.status = 200;
        req->res.reason = "OK";
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL,
                       H2O_STRLIT("OPTIONS,GET,HEAD,POST,PATCH,DELETE"));
        h2o_send_inline(req, NULL, 0);
        return HP_STEP_DONE;
    }
    if (hp_query_parse_method(req->method, &r->method) != 0)
        return hp_pipeline_failf(call, HP_ERR_METHOD, "Unsupported HTTP method: %.*s",
                                 (int)req->method.len, req->method.base);
    if (route == HP_ROUTE_NONE)
        return hp_pipeline_failf(call, HP_ERR_BAD_PATH, "Invalid path specified in request URL");
    r->body = req->entity.base != NULL ? req->entity : h2o_iovec_init("", 0);
    hp_error_t err = {0};
    if (read_headers(req, r, &err) != 0)
        return hp_pipeline_fail(call, &err);
    if (loop->affinity != NULL)
        call->affinity_client = hp_http_affinity_client(req);
    return HP_STEP_NEXT;
}
