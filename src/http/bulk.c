#include "http/bulk.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include "core/json.h"
#include "core/limits.h"
#include "http/affinity.h"
#include "http/respond.h"
#include "query/query.h"

/* One sub-request's answer, kept until every sub-request is done. */
typedef struct {
    int status;
    hp_buf_t headers; /* a JSON object */
    hp_buf_t body;    /* a JSON value */
} answer_t;

typedef struct st_bulk_t bulk_t;

/* Lives in the request's pool: tells the bulk when the request goes away. */
typedef struct {
    bulk_t *bulk;
} link_t;

struct st_bulk_t {
    h2o_req_t *req; /* NULL once the client has gone */
    link_t *link;
    hp_http_loop_t *loop;
    size_t count, pending;
    answer_t *answers;
};

/* What a sub-request's job carries (in the job's pool). */
typedef struct {
    bulk_t *bulk;
    size_t index;
    hp_plan_t *plan;
    hp_method_t method;
    int return_stated;
    hp_schema_t *schema;
} sub_t;

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
static void answer_body(answer_t *a, const hp_exec_t *exec, const hp_buf_t *body, int has_body)
{
    if (!has_body || body->len == 0)
        hp_buf_append_lit(&a->body, "null");
    else if (exec->format == HP_FORMAT_CSV)
        hp_json_string(&a->body, body->ptr, body->len);
    else
        hp_buf_append(&a->body, body->ptr, body->len);
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
    char *p = hp_buf_release(&out, &len);
    hp_http_own(req, p);
    h2o_send_inline(req, p, len);
}

static void sub_finished(bulk_t *b)
{
    if (--b->pending != 0)
        return;
    if (b->req != NULL)
        respond(b);
    bulk_free(b);
}

static void on_sub_done(hp_db_job_t *job)
{
    sub_t *sub = job->data;
    bulk_t *b = sub->bulk;
    hp_http_loop_t *loop = b->loop;
    answer_t *a = &b->answers[sub->index];
    hp_exec_result_t *result = &job->result;
    hp_plan_t *plan = sub->plan;
    --loop->jobs_in_flight;
    hp_cache_header_t headers[HP_HTTP_WRITE_HEADERS + 1];
    size_t count = 0;
    hp_error_t err = {0};
    if (result->error.code != HP_OK) {
        answer_error(a, &result->error);
    } else if (plan->is_write) {
        hp_http_caching_table_written(loop->caching, plan->table->name, plan->table->name_len);
        if (b->req != NULL)
            hp_http_affinity_wrote(loop->affinity, hp_http_affinity_client(b->req));
        int has_body = hp_http_write_meta(&job->pool, plan, sub->method, sub->return_stated, result,
                                          &a->status, headers, &count);
        answer_headers(a, headers, count);
        answer_body(a, &plan->exec, &result->body, has_body);
    } else if (hp_http_read_meta(&job->pool, plan, result, &a->status, headers, &count, &err) !=
               0) {
        answer_error(a, &err);
    } else {
        answer_headers(a, headers, count);
        answer_body(a, &plan->exec, &result->body, sub->method != HP_METHOD_HEAD);
    }
    hp_schema_unref(sub->schema);
    hp_db_job_destroy(job);
    sub_finished(b);
}

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

/* The request a sub-request describes, everything copied into pool. Returns 0, or -1 with err
 * set (the sub-request's own error). *return_stated: its Prefer said return=. */
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
    if (r->query.len > HP_MAX_QUERY_BYTES)
        return hp_error_set(err, pool, HP_ERR_URI_TOO_LONG,
                            "The query string is longer than %u bytes", HP_MAX_QUERY_BYTES);
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

/* Plans sub-request i and submits it; a sub-request that cannot be planned is answered at
 * once. */
static void start_sub(bulk_t *b, json_t *item, size_t index)
{
    hp_http_loop_t *loop = b->loop;
    hp_db_job_t *job = hp_db_job_create();
    sub_t *sub = h2o_mem_alloc_pool(&job->pool, sizeof(*sub));
    *sub = (sub_t){.bulk = b, .index = index};
    hp_request_t r;
    hp_error_t err = {0};
    sub->plan = h2o_mem_alloc_pool(&job->pool, sizeof(*sub->plan));
    if (read_sub(item, &r, &sub->return_stated, &err, &job->pool) != 0) {
        answer_error(&b->answers[index], &err);
        hp_db_job_destroy(job);
        sub_finished(b);
        return;
    }
    sub->method = r.method;
    sub->schema = hp_db_schema(loop->db);
    hp_query_options_t opts = {.max_rows =
                                   loop->conf->db_max_rows > 0 ? loop->conf->db_max_rows : -1};
    if (hp_query_plan(&r, sub->schema, hp_db_dialect(loop->db), &opts, sub->plan, &err,
                      &job->pool) != 0) {
        answer_error(&b->answers[index], &err);
        hp_schema_unref(sub->schema);
        hp_db_job_destroy(job);
        sub_finished(b);
        return;
    }
    job->exec = &sub->plan->exec;
    job->reply_to = &loop->db_receiver;
    job->on_done = on_sub_done;
    job->data = sub;
    ++loop->jobs_in_flight;
    hp_batcher_submit(loop->batcher, job, sub->plan);
}

void hp_http_bulk(h2o_req_t *req, hp_http_loop_t *loop)
{
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"))) {
        hp_http_respond_errorf(req, HP_ERR_METHOD, "%s takes POST", HP_HTTP_BULK_PATH);
        return;
    }
    if (req->entity.len > (size_t)loop->conf->max_body_bytes) {
        hp_http_respond_errorf(req, HP_ERR_BODY_TOO_LARGE,
                               "The request body is %zu bytes; max-body-bytes is %lld",
                               req->entity.len, (long long)loop->conf->max_body_bytes);
        return;
    }
    json_error_t jerr;
    json_t *doc = req->entity.base != NULL
                      ? json_loadb(req->entity.base, req->entity.len, JSON_DECODE_ANY, &jerr)
                      : NULL;
    if (!json_is_array(doc)) {
        hp_error_t err = {0};
        hp_error_set(&err, &req->pool, HP_ERR_INVALID_BODY, "Empty or invalid json");
        hp_error_details(&err, &req->pool, "%s takes a JSON array of sub-requests%s%s",
                         HP_HTTP_BULK_PATH, doc == NULL && req->entity.len != 0 ? ": " : "",
                         doc == NULL && req->entity.len != 0 ? jerr.text : "");
        json_decref(doc);
        hp_http_respond_error(req, &err);
        return;
    }
    size_t count = json_array_size(doc);
    if (count > (size_t)loop->conf->batch_max_requests) {
        json_decref(doc);
        hp_http_respond_errorf(req, HP_ERR_LIMIT, "%zu sub-requests; batch-max-requests is %lld",
                               count, (long long)loop->conf->batch_max_requests);
        return;
    }
    bulk_t *b = calloc(1, sizeof(*b));
    if (b == NULL || (b->answers = calloc(count + 1, sizeof(*b->answers))) == NULL)
        h2o_fatal("out of memory");
    b->req = req;
    b->loop = loop;
    b->count = count;
    b->pending = count + 1; /* one more, dropped below, so no sub-request answers too early */
    for (size_t i = 0; i != count + 1; ++i) {
        hp_buf_init(&b->answers[i].headers);
        hp_buf_init(&b->answers[i].body);
    }
    b->link = h2o_mem_alloc_shared(&req->pool, sizeof(*b->link), on_link_dispose);
    b->link->bulk = b;
    for (size_t i = 0; i != count; ++i)
        start_sub(b, json_array_get(doc, i), i);
    json_decref(doc);
    sub_finished(b);
}
