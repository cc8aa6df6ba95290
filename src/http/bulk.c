#include "http/bulk.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include "core/json.h"
#include "http/respond.h"
#include "query/query.h"

/* One sub-request: a call of the pipeline with its own pool, and its answer, kept until every
 * sub-request is done. */
typedef struct {
    hp_call_t call;
    h2o_mem_pool_t pool;
    struct st_bulk_t *bulk;
    int return_stated; /* its Prefer said return=... */
    int status;
    hp_buf_t headers; /* a JSON object */
    hp_buf_t body;    /* a JSON value */
} answer_t;

typedef struct st_bulk_t bulk_t;

/* Lives in the envelope request's pool: tells the bulk when the request goes away. */
typedef struct {
    bulk_t *bulk;
} link_t;

struct st_bulk_t {
    h2o_req_t *req; /* NULL once the client has gone */
    link_t *link;
    size_t count, pending;
    answer_t *answers;
};

static void on_link_dispose(void *p)
{
    link_t *link = p;
    if (link->bulk != NULL) {
        link->bulk->req = NULL;
        link->bulk->link = NULL;
    }
}

static void bulk_free(bulk_t *b)
{
    for (size_t i = 0; i != b->count; ++i) {
        hp_pipeline_call_gone(&b->answers[i].call);
        h2o_mem_clear_pool(&b->answers[i].pool);
        hp_buf_dispose(&b->answers[i].headers);
        hp_buf_dispose(&b->answers[i].body);
    }
    free(b->answers);
    if (b->link != NULL)
        b->link->bulk = NULL;
    free(b);
}

/* --- answers --- */

static void answer_headers(answer_t *a, const hp_cache_header_t *headers, size_t count)
{
    hp_buf_putc(&a->headers, '{');
    for (size_t i = 0; i != count; ++i) {
        if (i != 0)
            hp_buf_putc(&a->headers, ',');
        hp_json_string(&a->headers, headers[i].name, headers[i].name_len);
        hp_buf_putc(&a->headers, ':');
        hp_json_string(&a->headers, headers[i].value, headers[i].value_len);
    }
    hp_buf_putc(&a->headers, '}');
}

static void answer_error(answer_t *a, const hp_error_t *err)
{
    a->status = hp_error_http_status(err);
    static const hp_cache_header_t type = {"content-type", 12, "application/json; charset=utf-8",
                                           31};
    answer_headers(a, &type, 1);
    hp_error_render(err, &a->body);
}

/* The body as a JSON value: JSON as it is, anything else (CSV) as a string, nothing as null. */
static void answer_body(answer_t *a, hp_format_t format, h2o_iovec_t body, int has_body)
{
    if (!has_body || body.len == 0)
        hp_buf_append_lit(&a->body, "null");
    else if (format == HP_FORMAT_CSV)
        hp_json_string(&a->body, body.base, body.len);
    else
        hp_buf_append(&a->body, body.base, body.len);
}

static void respond(bulk_t *b)
{
    h2o_req_t *req = b->req;
    hp_buf_t out;
    hp_buf_init(&out);
    hp_buf_putc(&out, '[');
    for (size_t i = 0; i != b->count; ++i) {
        answer_t *a = &b->answers[i];
        if (i != 0)
            hp_buf_putc(&out, ',');
        hp_buf_appendf(&out, "{\"status\":%d,\"headers\":", a->status);
        hp_buf_append(&out, a->headers.ptr, a->headers.len);
        hp_buf_append_lit(&out, ",\"body\":");
        hp_buf_append(&out, a->body.ptr, a->body.len);
        hp_buf_putc(&out, '}');
    }
    hp_buf_putc(&out, ']');
    req->res.status = 200;
    req->res.reason = "OK";
    hp_http_add_header(req, H2O_TOKEN_CONTENT_TYPE, H2O_STRLIT("application/json; charset=utf-8"));
    hp_http_add_header_str(req, H2O_STRLIT("cache-status"), H2O_STRLIT("hotpath; fwd=method"));
    size_t len;
    char *p = hp_buf_take(&out, &len);
    hp_http_own(req, p);
    h2o_send_inline(req, p, len);
}

static void answered(bulk_t *b)
{
    if (--b->pending != 0)
        return;
    if (b->req != NULL && b->req->res.status == 0) /* not answered by the deadline */
        respond(b);
    bulk_free(b);
}

/* --- the sub-requests' sink --- */

static void answer_representation(hp_call_t *call, const hp_http_representation_t *rep)
{
    answer_t *a = call->sink_data;
    a->status = rep->status;
    answer_headers(a, rep->headers, rep->header_count);
    answer_body(a, call->r.format, rep->body, call->r.method != HP_METHOD_HEAD);
    answered(a->bulk);
}

static void answer_write(hp_call_t *call, const hp_plan_t *plan, hp_exec_result_t *result,
                         uint64_t db_ns)
{
    (void)db_ns;
    answer_t *a = call->sink_data;
    hp_cache_header_t headers[HP_HTTP_WRITE_HEADERS + 1];
    size_t count = 0;
    int has_body = hp_http_write_meta(call->pool, plan, call->r.method, a->return_stated, result,
                                      &a->status, headers, &count);
    answer_headers(a, headers, count);
    answer_body(a, plan->exec.format, h2o_iovec_init(result->body.ptr, result->body.len), has_body);
    answered(a->bulk);
}

static void answer_failure(hp_call_t *call, const hp_error_t *err, const hp_cache_header_t *headers,
                           size_t header_count)
{
    (void)headers;
    (void)header_count;
    answer_t *a = call->sink_data;
    answer_error(a, err);
    answered(a->bulk);
}

static const hp_call_sink_t answer_sink = {
    .representation = answer_representation,
    .write = answer_write,
    .error = answer_failure,
};

/* --- reading sub-requests --- */

static const char *header_of(json_t *headers, const char *name)
{
    const char *key;
    json_t *value;
    json_object_foreach(headers, key, value)
    {
        if (strcasecmp(key, name) == 0 && json_is_string(value))
            return json_string_value(value);
    }
    return NULL;
}

static h2o_iovec_t iov(const char *s)
{
    return s != NULL ? h2o_iovec_init(s, strlen(s)) : h2o_iovec_init(NULL, 0);
}

/* The request a sub-request describes, everything copied into pool: the route step of a
 * sub-request. Returns 0, or -1 with err set (the sub-request's own error). *return_stated:
 * its Prefer said return=. */
static int read_sub(json_t *item, hp_request_t *r, int *return_stated, hp_error_t *err,
                    h2o_mem_pool_t *pool)
{
    memset(r, 0, sizeof(*r));
    json_t *m = json_object_get(item, "method"), *p = json_object_get(item, "path");
    json_t *headers = json_object_get(item, "headers"), *body = json_object_get(item, "body");
    if (!json_is_object(item) || (m != NULL && !json_is_string(m)) || !json_is_string(p) ||
        (headers != NULL && !json_is_object(headers)))
        return hp_error_set(err, pool, HP_ERR_INVALID_BODY,
                            "A sub-request is {\"method\": string, \"path\": string, "
                            "\"headers\": object, \"body\": any}");
    if (hp_query_parse_method(iov(m != NULL ? json_string_value(m) : "GET"), &r->method) != 0)
        return hp_error_set(err, pool, HP_ERR_METHOD, "Unsupported HTTP method: %s",
                            json_string_value(m));
    const char *path = json_string_value(p);
    const char *q = strchr(path, '?');
    size_t path_len = q != NULL ? (size_t)(q - path) : strlen(path);
    h2o_iovec_t name = h2o_iovec_init(path + 1, path_len > 0 ? path_len - 1 : 0);
    if (path[0] != '/' || name.len == 0 || memchr(name.base, '/', name.len) != NULL ||
        hp_query_percent_decode(name, &r->resource, pool) != 0)
        return hp_error_set(err, pool, HP_ERR_BAD_PATH, "Invalid path specified in request URL");
    r->query = q != NULL ? h2o_strdup(pool, q + 1, SIZE_MAX) : h2o_iovec_init("", 0);
    const char *prefer = headers != NULL ? header_of(headers, "prefer") : NULL;
    if (prefer != NULL)
        hp_query_parse_prefer(iov(prefer), &r->prefer);
    *return_stated = prefer != NULL && strstr(prefer, "return=") != NULL;
    if (hp_query_read_accept_and_range(
            r, iov(headers != NULL ? header_of(headers, "accept") : NULL),
            iov(headers != NULL ? header_of(headers, "range") : NULL), err, pool) != 0)
        return -1;
    if (body == NULL || json_is_null(body)) {
        r->body = h2o_iovec_init("", 0);
    } else if (json_is_string(body)) {
        r->body = h2o_strdup(pool, json_string_value(body), json_string_length(body));
    } else {
        char *text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
        r->body = h2o_strdup(pool, text, SIZE_MAX);
        free(text);
    }
    return 0;
}

/* Starts sub-request i: routed here, then the pipeline from the caller step on. */
static void start_sub(bulk_t *b, hp_call_t *envelope, json_t *item, size_t index)
{
    answer_t *a = &b->answers[index];
    hp_call_t *call = &a->call;
    hp_pipeline_call_init(call, envelope->loop, &a->pool, &answer_sink, a);
    call->caller = envelope->caller;
    call->affinity_client = envelope->affinity_client;
    call->limit_client = envelope->limit_client;
    call->started_ns = envelope->started_ns;
    hp_error_t err = {0};
    if (read_sub(item, &call->r, &a->return_stated, &err, &a->pool) != 0) {
        answer_error(a, &err);
        answered(b);
        return;
    }
    call->next_step = HP_STEP_CALLER;
    hp_pipeline_run(call);
}

void hp_http_bulk(hp_call_t *envelope)
{
    h2o_req_t *req = envelope->req;
    hp_http_loop_t *loop = envelope->loop;
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"))) {
        hp_pipeline_failf(envelope, HP_ERR_METHOD, "%s takes POST", HP_HTTP_BULK_PATH);
        return;
    }
    json_error_t jerr;
    json_t *doc =
        envelope->r.body.len != 0
            ? json_loadb(envelope->r.body.base, envelope->r.body.len, JSON_DECODE_ANY, &jerr)
            : NULL;
    if (!json_is_array(doc)) {
        hp_error_t err = {0};
        hp_error_set(&err, &req->pool, HP_ERR_INVALID_BODY, "Empty or invalid json");
        hp_error_details(&err, &req->pool, "%s takes a JSON array of sub-requests%s%s",
                         HP_HTTP_BULK_PATH, doc == NULL && req->entity.len != 0 ? ": " : "",
                         doc == NULL && req->entity.len != 0 ? jerr.text : "");
        json_decref(doc);
        hp_pipeline_fail(envelope, &err);
        return;
    }
    size_t count = json_array_size(doc);
    if (count > (size_t)loop->conf->batch_max_requests) {
        json_decref(doc);
        hp_pipeline_failf(envelope, HP_ERR_LIMIT, "%zu sub-requests; batch-max-requests is %lld",
                          count, (long long)loop->conf->batch_max_requests);
        return;
    }
    bulk_t *b = calloc(1, sizeof(*b));
    if (b == NULL || (b->answers = calloc(count + 1, sizeof(*b->answers))) == NULL)
        h2o_fatal("out of memory");
    b->req = req;
    b->count = count;
    b->pending = count + 1; /* one more, dropped below, so no sub-request answers too early */
    for (size_t i = 0; i != count; ++i) {
        h2o_mem_init_pool(&b->answers[i].pool);
        b->answers[i].bulk = b;
        hp_buf_init(&b->answers[i].headers);
        hp_buf_init(&b->answers[i].body);
    }
    b->link = h2o_mem_alloc_shared(&req->pool, sizeof(*b->link), on_link_dispose);
    b->link->bulk = b;
    for (size_t i = 0; i != count; ++i)
        start_sub(b, envelope, json_array_get(doc, i), i);
    json_decref(doc);
    answered(b);
}
