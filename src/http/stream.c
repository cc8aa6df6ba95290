/*
 * Streamed responses (stream.h; the design is docs/streaming.md).
 *
 * A stream_t lives from hp_http_stream_start until both its job is destroyed (after the
 * database's last piece) and its request is gone (disposed by h2o); whichever happens second
 * frees it. In between, exactly one of three things holds the next move:
 *   - the database (is_at_db): a piece, or the confirmation of a cancel, is being made; its
 *     on_done (on_piece) comes next, on this loop;
 *   - h2o (is_sending): a piece is being written; proceed comes next, or the request's end;
 *   - nobody: only between a piece's arrival and its hand-off, inside one callback.
 * While a piece is with the database the loop counts the job in jobs_in_flight (its reply is
 * posted to this loop, which must outlive it); while it is with h2o it does not (a stalled
 * client must not hold up shutdown beyond server-shutdown-timeout-ms).
 */
#include "http/stream.h"

#include <inttypes.h>
#include <linux/sockios.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <xxhash.h>
#include "core/time.h"
#include "http/loop.h"
#include "http/respond.h"

typedef struct {
    h2o_generator_t generator; /* handed to h2o_start_response */
    h2o_req_t *req;            /* NULL once the request is gone */
    hp_http_loop_t *loop;
    hp_db_job_t *job; /* NULL once destroyed */
    const hp_plan_t *plan;
    hp_http_stream_info_t info;
    int is_head;
    int is_at_db;
    int is_cancelled; /* the query was told to stop: its next piece is its last, unsent */
    int is_sending;
    char *piece; /* the bytes h2o is writing (malloc'd), freed at proceed */
    /* HEAD: the identity body's length and hash, for Content-Length and ETag. */
    uint64_t body_len;
    XXH3_state_t *hash;
    /* Send timeout: while a piece is being written, the socket's unsent byte count is looked
     * at every 100 ms; the client counts as reading while it changes. */
    h2o_timeout_entry_t timer;
    uint64_t idle_since_ns;
    int last_outq;
} stream_t;

static void on_piece(hp_db_job_t *job);

/* Frees the stream once neither its job nor its request needs it. */
static void release_if_done(stream_t *s)
{
    if (s->job != NULL || s->req != NULL)
        return;
    if (h2o_timeout_is_linked(&s->timer))
        h2o_timeout_unlink(&s->timer);
    free(s->piece);
    if (s->hash != NULL)
        XXH3_freeState(s->hash);
    free(s);
}

static void destroy_job(stream_t *s)
{
    hp_db_job_destroy(s->job);
    s->job = NULL;
}

static void ask_db(stream_t *s, int is_cancel)
{
    s->is_at_db = 1;
    ++s->loop->jobs_in_flight;
    s->is_cancelled |= is_cancel;
    if (is_cancel)
        hp_db_stream_cancel(s->loop->db, s->job);
    else
        hp_db_stream_next(s->loop->db, s->job);
}

/* --- the request going away --- */

static void on_req_dispose(void *p)
{
    stream_t *s = *(stream_t **)p;
    s->req = NULL;
    s->is_sending = 0;
    if (h2o_timeout_is_linked(&s->timer))
        h2o_timeout_unlink(&s->timer);
    free(s->piece); /* h2o is done with it */
    s->piece = NULL;
    if (s->job != NULL && !s->is_at_db)
        ask_db(s, 1); /* parked with us: end the query now */
    release_if_done(s);
}

/* --- the send timeout --- */

static int socket_fd(h2o_req_t *req)
{
    h2o_socket_t *sock = req->conn->callbacks->get_socket != NULL
                             ? req->conn->callbacks->get_socket(req->conn)
                             : NULL;
    return sock != NULL ? h2o_socket_get_fd(sock) : -1;
}

/* Bytes the kernel has not yet had acknowledged by the client, or -1. */
static int unsent_bytes(h2o_req_t *req)
{
    int fd = socket_fd(req), n;
    return fd != -1 && ioctl(fd, SIOCOUTQ, &n) == 0 ? n : -1;
}

/* Drops the connection under h2o: its pending write then fails, h2o closes the connection
 * and disposes the request (which cancels the stream). Linger 0: the close resets the
 * connection rather than keeping the unread bytes queued for the client. */
static void disconnect(h2o_req_t *req)
{
    int fd = socket_fd(req);
    if (fd == -1)
        return;
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    shutdown(fd, SHUT_RDWR);
}

static void on_timer(h2o_timeout_entry_t *entry)
{
    stream_t *s = H2O_STRUCT_FROM_MEMBER(stream_t, timer, entry);
    if (s->req == NULL || !s->is_sending)
        return;
    uint64_t now = hp_time_mono_ns();
    int outq = unsent_bytes(s->req);
    if (outq != s->last_outq) {
        s->last_outq = outq;
        s->idle_since_ns = now;
    }
    if (now - s->idle_since_ns >= (uint64_t)s->loop->conf->server_send_timeout_ms * 1000000) {
        disconnect(s->req);
        return;
    }
    h2o_timeout_link(s->loop->ctx.loop, &s->loop->ctx.hundred_ms_timeout, &s->timer);
}

static void watch_send(stream_t *s)
{
    if (s->loop->conf->server_send_timeout_ms == 0)
        return;
    s->idle_since_ns = hp_time_mono_ns();
    s->last_outq = unsent_bytes(s->req);
    if (!h2o_timeout_is_linked(&s->timer))
        h2o_timeout_link(s->loop->ctx.loop, &s->loop->ctx.hundred_ms_timeout, &s->timer);
}

/* --- headers --- */

/* If-Modified-Since confirms the client's copy (and no If-None-Match, which takes precedence
 * and cannot match: a streamed body has no entity tag until its end). */
static int not_modified(h2o_req_t *req, uint64_t last_modified_ms)
{
    return hp_http_header_value(req, H2O_TOKEN_IF_NONE_MATCH).base == NULL &&
           hp_http_caching_is_not_modified(h2o_iovec_init(NULL, 0),
                                           hp_http_header_value(req, H2O_TOKEN_IF_MODIFIED_SINCE),
                                           NULL, 0, last_modified_ms);
}

/* The headers every answer of the stream has: those of any read that do not need the body. */
static void add_common_headers(stream_t *s)
{
    hp_http_representation_t rep = {
        .last_modified_ms = s->info.last_modified_ms,
        .policy = s->info.policy,
        .cache_status = s->info.cache_status,
        .cache_ns = s->info.cache_ns,
        .db_ns = s->info.db_ns,
    };
    hp_http_caching_add_headers(s->loop->caching, s->req, &rep);
}

/* The status and representation headers. Up front (GET) the row count is unknown: see
 * docs/streaming.md for Content-Range and the status; at the end (HEAD) they are exact. */
static int add_representation(stream_t *s, int is_final)
{
    h2o_req_t *req = s->req;
    const hp_exec_result_t *result = &s->job->result;
    hp_cache_header_t headers[3];
    size_t count = 0;
    int status = 200;
    hp_error_t err = {0};
    if (hp_http_read_meta(&req->pool, s->plan, result, &status, headers, &count, &err) != 0)
        return -1; /* only when the offset is past a known total: never for a stream */
    size_t first = 0;
    if (!is_final) {
        int64_t total = result->total;
        const char *range = NULL;
        status = 200;
        if (total >= 0 && s->plan->offset == 0 && !s->plan->has_limit) {
            /* Every row counted is sent: the range is known. */
            char *r = h2o_mem_alloc_pool(&req->pool, 48);
            snprintf(r, 48, "0-%" PRId64 "/%" PRId64, total - 1, total);
            range = r;
        } else if (total >= 0) {
            char *r = h2o_mem_alloc_pool(&req->pool, 24);
            snprintf(r, 24, "*/%" PRId64, total);
            range = r;
            status = 206; /* a window of the counted rows */
        }
        if (range != NULL)
            headers[0].value = range, headers[0].value_len = strlen(range);
        else
            first = 1; /* nothing the header's syntax can carry is known */
    }
    req->res.status = status;
    req->res.reason = status == 206 ? "Partial Content" : "OK";
    for (size_t i = first; i != count; ++i)
        hp_http_add_header_str(req, headers[i].name, headers[i].name_len, headers[i].value,
                               headers[i].value_len);
    return 0;
}

/* --- pieces --- */

/* GET: the piece in the job's result goes to h2o. The last one ends the response (and the
 * job); an error aborts it. */
static void send_piece(stream_t *s)
{
    h2o_req_t *req = s->req;
    hp_exec_result_t *result = &s->job->result;
    if (result->error.code != HP_OK) {
        destroy_job(s);
        h2o_send(req, NULL, 0, H2O_SEND_STATE_ERROR);
        return;
    }
    size_t len;
    char *piece = hp_buf_take(&result->body, &len);
    h2o_iovec_t buf = h2o_iovec_init(piece, len);
    if (result->is_last) {
        hp_http_own(req, piece);
        destroy_job(s);
        h2o_send(req, &buf, len != 0, H2O_SEND_STATE_FINAL);
        return;
    }
    s->piece = piece;
    s->is_sending = 1;
    watch_send(s);
    h2o_send(req, &buf, 1, H2O_SEND_STATE_IN_PROGRESS);
}

/* h2o wrote the last piece to the socket: ask for the next. */
static void on_proceed(h2o_generator_t *generator, h2o_req_t *req)
{
    (void)req;
    stream_t *s = H2O_STRUCT_FROM_MEMBER(stream_t, generator, generator);
    s->is_sending = 0;
    if (h2o_timeout_is_linked(&s->timer))
        h2o_timeout_unlink(&s->timer);
    free(s->piece);
    s->piece = NULL;
    ask_db(s, 0);
}

/* HEAD: the piece is counted and hashed, then dropped; at the end the exact headers go. */
static void take_head_piece(stream_t *s)
{
    h2o_req_t *req = s->req;
    hp_exec_result_t *result = &s->job->result;
    if (result->error.code == HP_OK) {
        XXH3_64bits_update(s->hash, result->body.ptr, result->body.len);
        s->body_len += result->body.len;
    }
    hp_buf_dispose(&result->body);
    if (!result->is_last) {
        ask_db(s, 0);
        return;
    }
    if (result->error.code != HP_OK) {
        hp_error_t err = result->error; /* its text lives in the job's pool: copy it */
        err.message = h2o_strdup(&req->pool, err.message, SIZE_MAX).base;
        err.details =
            err.details != NULL ? h2o_strdup(&req->pool, err.details, SIZE_MAX).base : NULL;
        err.hint = err.hint != NULL ? h2o_strdup(&req->pool, err.hint, SIZE_MAX).base : NULL;
        destroy_job(s);
        hp_http_respond_error(req, &err);
        return;
    }
    add_common_headers(s);
    add_representation(s, 1);
    char *etag = h2o_mem_alloc_pool(&req->pool, 20);
    snprintf(etag, 20, "\"%016" PRIx64 "\"", (uint64_t)XXH3_64bits_digest(s->hash));
    hp_http_add_header(req, H2O_TOKEN_ETAG, etag, 18);
    req->res.content_length = s->body_len;
    destroy_job(s);
    h2o_send_inline(req, NULL, 0);
}

/* The job's on_done from the first piece on: a piece, or a cancel's confirmation. */
static void on_piece(hp_db_job_t *job)
{
    stream_t *s = job->data;
    --s->loop->jobs_in_flight;
    s->is_at_db = 0;
    if (s->req == NULL || s->is_cancelled) {
        if (!job->result.is_last) {
            ask_db(s, 1);
            return;
        }
        destroy_job(s);
        release_if_done(s);
    } else if (s->is_head) {
        take_head_piece(s);
    } else {
        send_piece(s);
    }
}

void hp_http_stream_start(h2o_req_t *req, hp_db_job_t *job, const hp_plan_t *plan,
                          const hp_http_stream_info_t *info)
{
    hp_http_loop_t *loop = H2O_STRUCT_FROM_MEMBER(hp_http_loop_t, db_receiver, job->reply_to);
    stream_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        h2o_fatal("out of memory");
    s->generator.proceed = on_proceed;
    s->loop = loop;
    s->job = job;
    s->plan = plan;
    s->info = *info;
    s->timer.cb = on_timer;
    job->on_done = on_piece;
    job->data = s;
    if (req == NULL) {
        ask_db(s, 1);
        return;
    }
    s->req = req;
    *(stream_t **)h2o_mem_alloc_shared(&req->pool, sizeof(stream_t *), on_req_dispose) = s;
    s->is_head = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));

    if (not_modified(req, info->last_modified_ms)) {
        add_common_headers(s);
        req->res.status = 304;
        req->res.reason = "Not Modified";
        ask_db(s, 1);
        h2o_send_inline(req, NULL, 0);
        return;
    }
    if (s->is_head) {
        if ((s->hash = XXH3_createState()) == NULL)
            h2o_fatal("out of memory");
        XXH3_64bits_reset(s->hash);
        take_head_piece(s);
        return;
    }
    add_common_headers(s);
    add_representation(s, 0);
    h2o_start_response(req, &s->generator);
    send_piece(s);
}
