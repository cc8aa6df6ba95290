#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include "core/limits.h"
#include "core/log.h"
#include "core/time.h"
#include "http/affinity.h"
#include "http/api.h"
#include "http/bulk.h"
#include "http/caching.h"
#include "http/loop.h"
#include "http/respond.h"
#include "http/stream.h"
#include "query/query.h"

/*
 * A read of a cacheable table goes: cache lookup (a hit answers at once; a miss whose key is
 * being filled by another request waits for it; else this request leads the fill), then plan,
 * then the database job, then publish and answer. A leader's duty to publish or abandon its
 * key lives in the job (job_ctx_t.fill), so it is done even when the client has gone away.
 */

typedef struct st_api_call_t api_call_t;

/* The cache fill a job owes (in the job's pool). */
typedef struct {
    h2o_iovec_t key;
    uint32_t *slots;
    uint64_t *versions;
    size_t slot_count;
    uint64_t epoch;
    const hp_cache_policy_t *policy;
} cache_fill_t;

/* What a database job carries besides its exec (in the job's pool). */
typedef struct {
    api_call_t *call;   /* NULL once the request is gone, or for a background refresh */
    cache_fill_t *fill; /* NULL when the result is not to be published */
    uint64_t submitted_ns;
} job_ctx_t;

/* A request waiting for another request's fill of the same key. Allocated apart from the
 * request: the cache calls it back (on the leader's thread) even if the request is gone. */
typedef struct {
    hp_cache_waiter_t super;
    h2o_multithread_message_t message;
    h2o_multithread_receiver_t *reply_to;
    hp_cache_entry_t *entry;
    api_call_t *call; /* NULL once the request is gone */
} cache_waiter_t;

/* The per-request state, on the request's pool. Its dispose callback runs when h2o is done
 * with the request (answered, or the client went away): it detaches whatever still points
 * back at the request. */
struct st_api_call_t {
    h2o_req_t *req;
    hp_http_loop_t *loop;
    hp_request_t r;
    job_ctx_t *job_ctx;              /* a job in flight for this request, or NULL */
    cache_waiter_t *waiter;          /* waiting on another request's fill, or NULL */
    const hp_cache_policy_t *policy; /* non-NULL: a cacheable read */
    hp_cache_entry_t *fallback;      /* stale-if-error candidate (a reference), or NULL */
    int is_forced_fresh;             /* the client sent Cache-Control: no-cache */
    uint64_t cache_ns;
    uint64_t started_ns; /* when the handler took the request (for the duration metric) */
};

static void on_call_dispose(void *p)
{
    api_call_t *call = p;
    --call->loop->in_flight;
    /* The one place every API request ends, whichever way it was answered (or abandoned). */
    hp_metrics_request_done(call->loop->metrics,
                            hp_metrics_method_class(call->req->method.base, call->req->method.len),
                            call->req->res.status, hp_time_mono_ns() - call->started_ns);
    if (call->job_ctx != NULL)
        call->job_ctx->call = NULL;
    if (call->waiter != NULL)
        call->waiter->call = NULL;
    hp_cache_entry_release(call->fallback);
}

static void on_schema_ref_dispose(void *p)
{
    hp_schema_unref(*(hp_schema_t **)p);
}

static void on_entry_ref_dispose(void *p)
{
    hp_cache_entry_release(*(hp_cache_entry_t **)p);
}

/* Answers from a cache entry; takes the reference (released with the request). */
static void respond_entry(api_call_t *call, hp_cache_entry_t *entry, const char *cache_status,
                          uint64_t db_ns, uint32_t batch_size)
{
    hp_cache_entry_t **ref =
        h2o_mem_alloc_shared(&call->req->pool, sizeof(*ref), on_entry_ref_dispose);
    *ref = entry;
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
        .cache_ns = call->cache_ns,
        .db_ns = db_ns,
        .batch_size = batch_size,
    };
    hp_http_caching_send(call->loop->caching, call->req, &rep);
}

static void submit_read_or_respond(api_call_t *call, hp_http_loop_t *loop, const hp_request_t *r,
                                   h2o_iovec_t key, const hp_cache_policy_t *policy);

/* Runs on the loop that submitted the job (inside hp_db_submit for an inline read). */
static void on_job_done(hp_db_job_t *job)
{
    hp_http_loop_t *loop = H2O_STRUCT_FROM_MEMBER(hp_http_loop_t, db_receiver, job->reply_to);
    --loop->jobs_in_flight;
    job_ctx_t *ctx = job->data;
    api_call_t *call = ctx->call;
    hp_plan_t *plan = H2O_STRUCT_FROM_MEMBER(hp_plan_t, exec, job->exec);
    hp_exec_result_t *result = &job->result;
    uint64_t db_ns = hp_time_mono_ns() - ctx->submitted_ns;
    hp_metrics_db_wait(loop->metrics, db_ns);
    /* STREAMING HOOK (src/http/stream.c, docs/streaming.md): a large read came back as its
     * first piece. The stream takes the job over (it destroys it); a streamed body is never
     * cached, so a fill this job led is abandoned (its waiters query for themselves). */
    if (result->is_streaming) {
        if (ctx->fill != NULL)
            hp_cache_abandon(loop->caching->cache, ctx->fill->key.base, ctx->fill->key.len);
        hp_http_stream_info_t info = {NULL, "hotpath; fwd=bypass", 0, db_ns};
        if (call != NULL) {
            call->job_ctx = NULL;
            info.cache_ns = call->cache_ns;
            if ((info.policy = call->policy) != NULL)
                info.cache_status = "hotpath; fwd=miss; detail=streamed";
        }
        hp_http_stream_start(call != NULL ? call->req : NULL, job, plan, &info);
        return;
    }
    /* A read's status and representation headers, in the request's pool, or the job's for a
     * background refresh (publish copies them). */
    h2o_mem_pool_t *pool = call != NULL ? &call->req->pool : &job->pool;
    int status = 0;
    hp_cache_header_t headers[3];
    size_t header_count = 0;
    hp_error_t meta_err = {0};
    if (result->error.code == HP_OK && !plan->is_write &&
        hp_http_read_meta(pool, plan, result, &status, headers, &header_count, &meta_err) != 0)
        result->error = meta_err;

    /* A write invalidates what read its table before anyone hears of it. */
    if (result->error.code == HP_OK && plan->is_write) {
        hp_http_caching_table_written(loop->caching, plan->table->name, plan->table->name_len);
        if (call != NULL)
            hp_http_affinity_wrote(loop->affinity, hp_http_affinity_client(call->req));
    }

    hp_cache_entry_t *entry = NULL;
    cache_fill_t *fill = ctx->fill;
    if (fill != NULL) {
        hp_cache_t *cache = loop->caching->cache;
        if (result->error.code == HP_OK && (status == 200 || status == 206)) {
            uint64_t now = hp_time_real_ms();
            const hp_cache_policy_t *pol = fill->policy;
            hp_cache_fill_t f = {
                .status = status,
                .headers = headers,
                .header_count = header_count,
                .body = result->body.ptr,
                .body_len = result->body.len,
                .now_ms = now,
                .fresh_until_ms = now + (uint64_t)pol->ttl_s * 1000,
                .stale_until_ms = now + ((uint64_t)pol->ttl_s + pol->swr_s) * 1000,
                .error_until_ms = now + ((uint64_t)pol->ttl_s + pol->sie_s) * 1000,
                .last_modified_ms =
                    hp_http_caching_last_changed(loop->caching, fill->slots, fill->slot_count),
                .table_slots = fill->slots,
                .table_count = fill->slot_count,
                .table_versions = fill->versions,
                .epoch = fill->epoch,
            };
            entry = hp_cache_publish(cache, fill->key.base, fill->key.len, &f);
        } else {
            /* An error: waiters query for themselves. */
            hp_cache_abandon(cache, fill->key.base, fill->key.len);
        }
    }

    if (call != NULL) {
        call->job_ctx = NULL;
        if (result->error.code != HP_OK) {
            if (call->fallback != NULL && hp_error_http_status(&result->error) >= 500) {
                hp_cache_entry_t *stale = call->fallback;
                call->fallback = NULL;
                respond_entry(call, stale, "hotpath; hit; fwd=stale; detail=stale-if-error", db_ns,
                              1);
            } else {
                if (status == 416)
                    h2o_add_header(&call->req->pool, &call->req->res.headers,
                                   H2O_TOKEN_CONTENT_RANGE, NULL, headers[0].value,
                                   headers[0].value_len);
                hp_http_respond_error(call->req, &result->error);
            }
        } else if (plan->is_write) {
            char *timing = h2o_mem_alloc_pool(&call->req->pool, 32);
            int len = snprintf(timing, 32, "db;dur=%.3f", db_ns / 1e6);
            h2o_add_header_by_str(&call->req->pool, &call->req->res.headers,
                                  H2O_STRLIT("server-timing"), 0, NULL, timing, (size_t)len);
            hp_http_respond_write(call->req, plan, call->r.method, result);
        } else if (entry != NULL) {
            const char *fwd =
                call->is_forced_fresh
                    ? (entry->is_stored ? "hotpath; fwd=request; stored" : "hotpath; fwd=request")
                    : (entry->is_stored ? "hotpath; fwd=miss; stored" : "hotpath; fwd=miss");
            respond_entry(call, entry, fwd, db_ns, result->batch_size);
            entry = NULL;
        } else {
            /* Not cached: answer straight from the result, with the same validators. */
            size_t len;
            char *body = hp_buf_release(&result->body, &len);
            hp_http_own(call->req, body);
            uint32_t slots[HP_CACHE_MAX_TABLES];
            size_t n =
                plan->table_count < HP_CACHE_MAX_TABLES ? plan->table_count : HP_CACHE_MAX_TABLES;
            for (size_t i = 0; i != n; ++i)
                slots[i] = hp_cache_table_slot(plan->tables[i]->name, plan->tables[i]->name_len);
            hp_http_representation_t rep = {
                .status = status,
                .headers = headers,
                .header_count = header_count,
                .body = h2o_iovec_init(body, len),
                .etag = XXH3_64bits(body, len),
                .last_modified_ms = hp_http_caching_last_changed(loop->caching, slots, n),
                .policy = NULL,
                .cache_status = call->policy != NULL ? "hotpath; fwd=miss" : "hotpath; fwd=bypass",
                .cache_ns = call->cache_ns,
                .db_ns = db_ns,
                .batch_size = result->batch_size,
            };
            hp_http_caching_send(loop->caching, call->req, &rep);
        }
    }
    hp_cache_entry_release(entry);
    hp_db_job_destroy(job);
}

/* The leader's fill of `key` was published or abandoned; runs on the waiter's own loop. */
static void on_waiter_message(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    hp_http_loop_t *loop = H2O_STRUCT_FROM_MEMBER(hp_http_loop_t, cache_receiver, receiver);
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *m =
            H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&m->link);
        cache_waiter_t *w = H2O_STRUCT_FROM_MEMBER(cache_waiter_t, message, m);
        api_call_t *call = w->call;
        hp_cache_entry_t *entry = w->entry;
        free(w);
        --loop->jobs_in_flight;
        if (call == NULL) {
            hp_cache_entry_release(entry);
            continue;
        }
        call->waiter = NULL;
        if (entry != NULL)
            respond_entry(call, entry, "hotpath; fwd=miss; collapsed", 0, 1);
        else /* the leader failed or raced a write: query without the cache */
            submit_read_or_respond(call, loop, &call->r, h2o_iovec_init(NULL, 0), NULL);
    }
}

/* Called by the cache on the leader's thread, after its shard lock is released. */
static void on_waiter_called(hp_cache_waiter_t *waiter, hp_cache_entry_t *entry)
{
    cache_waiter_t *w = H2O_STRUCT_FROM_MEMBER(cache_waiter_t, super, waiter);
    w->entry = entry;
    h2o_multithread_send_message(w->reply_to, &w->message);
}

/* With read replicas: a read goes to the primary when its client wrote lately (it must read
 * its own writes), or when a table it reads changed lately (a replica may not have replayed
 * that yet, and what the read returns may be cached for everyone). */
static int reads_from_primary(api_call_t *call, hp_http_loop_t *loop, const hp_plan_t *plan)
{
    if (loop->affinity == NULL || plan->is_write)
        return 0;
    if (call != NULL &&
        hp_http_affinity_prefers_primary(loop->affinity, hp_http_affinity_client(call->req)))
        return 1;
    uint32_t slots[16];
    size_t count = plan->table_count < 16 ? plan->table_count : 16;
    for (size_t i = 0; i != count; ++i)
        slots[i] = hp_cache_table_slot(plan->tables[i]->name, plan->tables[i]->name_len);
    uint64_t changed = hp_http_caching_last_written(loop->caching, slots, count);
    return changed + (uint64_t)loop->conf->db_primary_after_write_ms > hp_time_real_ms();
}

/* Plans the request and submits it. call may be NULL (a background refresh of `key`); a
 * non-empty key makes the job publish its result under it (or abandon it on failure). */
static void submit_read_or_respond(api_call_t *call, hp_http_loop_t *loop, const hp_request_t *r,
                                   h2o_iovec_t key, const hp_cache_policy_t *policy)
{
    hp_db_job_t *job = hp_db_job_create();
    hp_schema_t **schema_ref =
        h2o_mem_alloc_shared(&job->pool, sizeof(*schema_ref), on_schema_ref_dispose);
    *schema_ref = hp_db_schema(loop->db);
    hp_plan_t *plan = h2o_mem_alloc_pool(&job->pool, sizeof(*plan));
    hp_query_options_t opts = {.max_rows =
                                   loop->conf->db_max_rows > 0 ? loop->conf->db_max_rows : -1};
    hp_error_t err = {0};
    if (hp_query_plan(r, *schema_ref, hp_db_dialect(loop->db), &opts, plan, &err, &job->pool) !=
        0) {
        if (key.base != NULL)
            hp_cache_abandon(loop->caching->cache, key.base, key.len);
        if (call != NULL)
            hp_http_respond_error(call->req, &err);
        hp_db_job_destroy(job);
        return;
    }
    job_ctx_t *ctx = h2o_mem_alloc_pool(&job->pool, sizeof(*ctx));
    *ctx = (job_ctx_t){call, NULL, 0};
    if (key.base != NULL) {
        cache_fill_t *fill = h2o_mem_alloc_pool(&job->pool, sizeof(*fill));
        fill->key = h2o_strdup(&job->pool, key.base, key.len);
        fill->policy = policy;
        fill->slot_count = plan->table_count;
        fill->slots =
            h2o_mem_alloc_pool(&job->pool, sizeof(*fill->slots) * (plan->table_count + 1));
        fill->versions =
            h2o_mem_alloc_pool(&job->pool, sizeof(*fill->versions) * (plan->table_count + 1));
        for (size_t i = 0; i != plan->table_count; ++i)
            fill->slots[i] = hp_cache_table_slot(plan->tables[i]->name, plan->tables[i]->name_len);
        /* Versions are read before the query takes its snapshot: a write that lands while it
         * runs moves them, and the publish is refused. */
        fill->epoch = hp_cache_table_versions(loop->caching->cache, fill->slots, fill->slot_count,
                                              fill->versions);
        ctx->fill = fill;
    }
    job->exec = &plan->exec;
    job->prefers_primary = reads_from_primary(call, loop, plan);
    /* A large read comes back in pieces (src/http/stream.c); 0 = never. */
    job->stream_after_bytes = (size_t)loop->conf->stream_after_bytes;
    job->reply_to = &loop->db_receiver;
    job->on_done = on_job_done;
    job->data = ctx;
    if (call != NULL)
        call->job_ctx = ctx;
    ctx->submitted_ns = hp_time_mono_ns();
    ++loop->jobs_in_flight;
    hp_batcher_submit(loop->batcher, job, plan);
}

/* Request Cache-Control: no-cache (or Pragma: no-cache): the client wants the database's
 * answer, not a stored one (RFC 9111 5.2.1.4). */
static int client_wants_fresh(h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_CACHE_CONTROL, -1);
    if (i != -1) {
        h2o_iovec_t v = req->headers.entries[i].value;
        if (memmem(v.base, v.len, "no-cache", 8) != NULL)
            return 1;
    }
    i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("pragma"), -1);
    return i != -1 && memmem(req->headers.entries[i].value.base, req->headers.entries[i].value.len,
                             "no-cache", 8) != NULL;
}

/* A cacheable read: answers from the cache, waits for another request's fill, or leads. */
static void read_through_cache(api_call_t *call, hp_http_loop_t *loop)
{
    hp_cache_t *cache = loop->caching->cache;
    uint64_t start = hp_time_mono_ns(), now_ms = hp_time_real_ms();
    h2o_iovec_t key = hp_http_caching_key(&call->req->pool, &call->r);
    if (client_wants_fresh(call->req)) {
        /* Query, and store the fresh answer for everyone else. */
        call->cache_ns = hp_time_mono_ns() - start;
        call->is_forced_fresh = 1;
        submit_read_or_respond(call, loop, &call->r, key, call->policy);
        return;
    }
    cache_waiter_t *w = malloc(sizeof(*w));
    *w = (cache_waiter_t){
        .super = {.cb = on_waiter_called}, .reply_to = &loop->cache_receiver, .call = call};
    hp_cache_entry_t *entry = NULL;
    int should_revalidate = 0;
    hp_cache_result_t res =
        hp_cache_lookup(cache, key.base, key.len, now_ms, &w->super, &entry, &should_revalidate);
    call->cache_ns = hp_time_mono_ns() - start;
    if (res == HP_CACHE_WAIT) {
        call->waiter = w;
        ++loop->jobs_in_flight; /* the loop outlives the message the waiter will get */
        call->fallback = entry;
        return;
    }
    free(w);
    if (res == HP_CACHE_HIT) {
        if (should_revalidate)
            submit_read_or_respond(NULL, loop, &call->r, key, call->policy);
        /* Seconds of freshness left, rounded down (so a stale entry's is negative). */
        int64_t left_ms = (int64_t)entry->fresh_until_ms - (int64_t)now_ms;
        char *status = h2o_mem_alloc_pool(&call->req->pool, 64), *p = status;
        if (left_ms >= 0) {
            memcpy(p, "hotpath; hit; ttl=", 18);
            p = hp_http_put_uint(p + 18, (uint64_t)left_ms / 1000);
        } else {
            memcpy(p, "hotpath; hit; fwd=stale; ttl=-", 30);
            p = hp_http_put_uint(p + 30, ((uint64_t)-left_ms + 999) / 1000);
        }
        *p = '\0';
        respond_entry(call, entry, status, 0, 1);
        return;
    }
    call->fallback = entry; /* an expired entry inside its stale-if-error window, or NULL */
    submit_read_or_respond(call, loop, &call->r, key, call->policy);
}

/* Reads the headers that change what the query means into r. */
static int read_headers_or_respond(h2o_req_t *req, hp_request_t *r)
{
    hp_error_t err = {0};
    for (ssize_t i = -1;
         (i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("prefer"), i)) != -1;)
        hp_query_parse_prefer(req->headers.entries[i].value, &r->prefer);
    if (hp_query_read_accept_and_range(r, hp_http_header_value(req, H2O_TOKEN_ACCEPT),
                                       hp_http_header_value(req, H2O_TOKEN_RANGE), &err,
                                       &req->pool) != 0)
        goto fail;
    if (r->method != HP_METHOD_GET && r->method != HP_METHOD_HEAD) {
        h2o_iovec_t type = hp_http_header_value(req, H2O_TOKEN_CONTENT_TYPE);
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
    *call = (api_call_t){.req = req, .loop = loop, .started_ns = hp_time_mono_ns()};
    ++loop->in_flight;
    hp_metrics_request_started(loop->metrics);
    hp_http_access_log_begin(loop->access_log, req, call->started_ns);

    size_t path_len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    h2o_iovec_t path = h2o_iovec_init(req->path.base, path_len);
    hp_request_t *r = &call->r;
    r->query = req->query_at != SIZE_MAX ? h2o_iovec_init(req->path.base + req->query_at + 1,
                                                          req->path.len - req->query_at - 1)
                                         : h2o_iovec_init("", 0);
    if (r->query.len > HP_MAX_QUERY_BYTES) {
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
    if (h2o_memis(path.base, path.len, H2O_STRLIT(HP_HTTP_BULK_PATH))) {
        hp_http_bulk(req, loop);
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
    if (hp_query_parse_method(req->method, &r->method) != 0) {
        hp_http_respond_errorf(req, HP_ERR_METHOD, "Unsupported HTTP method: %.*s",
                               (int)req->method.len, req->method.base);
        return 0;
    }

    /* "/users" -> "users"; a deeper path names nothing (there is no /rpc yet). */
    h2o_iovec_t raw_name = h2o_iovec_init(path.base + 1, path.len - 1);
    if (raw_name.len != 0 && raw_name.base[raw_name.len - 1] == '/')
        --raw_name.len;
    if (memchr(raw_name.base, '/', raw_name.len) != NULL ||
        hp_query_percent_decode(raw_name, &r->resource, &req->pool) != 0) {
        hp_http_respond_errorf(req, HP_ERR_BAD_PATH, "Invalid path specified in request URL");
        return 0;
    }
    if (req->entity.len > (size_t)loop->conf->max_body_bytes) {
        hp_http_respond_errorf(req, HP_ERR_BODY_TOO_LARGE,
                               "The request body is %zu bytes; max-body-bytes is %lld",
                               req->entity.len, (long long)loop->conf->max_body_bytes);
        return 0;
    }
    r->body = req->entity.base != NULL ? req->entity : h2o_iovec_init("", 0);
    if (read_headers_or_respond(req, r) != 0)
        return 0;

    if (r->method == HP_METHOD_GET || r->method == HP_METHOD_HEAD)
        call->policy = hp_http_caching_policy(loop->caching, r->resource);
    if (call->policy != NULL)
        read_through_cache(call, loop);
    else
        submit_read_or_respond(call, loop, r, h2o_iovec_init(NULL, 0), NULL);
    return 0;
}

void hp_http_api_register(h2o_hostconf_t *hostconf, const char *path)
{
    h2o_pathconf_t *pathconf = h2o_config_register_path(hostconf, path, 0);
    h2o_handler_t *handler = h2o_create_handler(pathconf, sizeof(*handler));
    handler->on_req = on_req;
}

void hp_http_api_on_cache_messages(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    on_waiter_message(receiver, messages);
}
