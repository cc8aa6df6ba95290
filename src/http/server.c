#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "compress/compress.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "http/admin.h"
#include "http/api.h"
#include "http/loop.h"
#include "http/pipeline/cache_step.h"
#include "http/server.h"
#include "ratelimit/ratelimit.h"

/* How long a stopping loop still waits for the request of a connection it has accepted (at
 * most half of server-shutdown-timeout-ms). */
#define HP_HTTP_SHUTDOWN_GRACE_MS 250

struct st_hp_server_t {
    const hp_config_t *conf;
    hp_db_t *db;
    hp_http_caching_t *caching;
    hp_metrics_t *metrics;
    hp_http_access_log_t *access_log;
    hp_http_affinity_t *affinity;
    hp_ratelimit_t *ratelimit; /* NULL when rate limiting is off */
    hp_overload_limiter_t *limiter;
    hp_overload_clients_t *clients;
    h2o_globalconf_t globalconf;
    /* Each listener serves one host whatever the Host header says: h2o picks the only
     * hostconf of a single-entry list. */
    h2o_hostconf_t *api_hosts[2], *admin_hosts[2];
    size_t loop_count;
    hp_http_loop_t *loops;
};

/* Opens one listening socket; SO_REUSEPORT lets every loop have its own on the same port. */
static int open_listener(const char *host, int port, int reuse_port, char *errbuf, size_t errlen)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res;
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    int r = getaddrinfo(host, portstr, &hints, &res);
    if (r != 0) {
        snprintf(errbuf, errlen, "server-host %s: %s", host, gai_strerror(r));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1;
    if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0) ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
        snprintf(errbuf, errlen, "cannot listen on %s:%d: %s", host, port, strerror(errno));
        if (fd != -1)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    if (err != NULL)
        return;
    hp_http_loop_t *loop = listener->data;
    /* Drain the backlog a few at a time so one loop does not starve its other work. */
    for (int i = 0; i != 16; ++i) {
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (sock == NULL)
            break;
        h2o_accept(&loop->accept_ctx, sock);
    }
}

static void on_admin_accept(h2o_socket_t *listener, const char *err)
{
    if (err != NULL)
        return;
    hp_http_loop_t *loop = listener->data;
    h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
    if (sock != NULL)
        h2o_accept(&loop->admin_accept_ctx, sock);
}

/* --- h2o's own error responses ---------------------------------------------------------
 *
 * h2o answers some requests itself, before any handler sees them: a body larger than
 * globalconf.max_request_entity_size (413), a broken Content-Length or chunked encoding or an
 * unknown Transfer-Encoding (400), an Expect other than 100-continue (417), an HTTP/2 header
 * with a forbidden character (400), and a 404 when no handler's path matches (never, while
 * the API is on "/": h2o normalizes every path to start with it). All of them go through
 * h2o_send_error_generic, which binds the request to its host's fallback path (no handler matched
 * it) and sends text/plain through that path's filters. The filter below, on the fallback path
 * alone, swaps that body for a PostgREST-shaped one (code, message, details, hint), keeping h2o's
 * status. What h2o writes to the socket directly, with no request to filter (a request line or
 * header block it cannot parse, more than H2O_MAX_HEADERS headers, a head longer than
 * H2O_MAX_REQLEN), stays plain text: see docs/http-errors.md. */

/* Renders h2o's refusal (its status, its text in details) as PostgREST's error JSON. */
static h2o_iovec_t render_h2o_error(h2o_req_t *req, h2o_iovec_t text)
{
    hp_http_loop_t *loop = hp_http_loop_of(req->conn->ctx);
    int status = req->res.status;
    hp_error_t err = {0};
    if (status == 413)
        hp_error_set(&err, &req->pool, HP_ERR_BODY_TOO_LARGE,
                     "The request body is larger than max-body-bytes (%lld)",
                     (long long)loop->conf->max_body_bytes);
    else if (status == 404)
        hp_error_set(&err, &req->pool, HP_ERR_BAD_PATH, "Invalid path specified in request URL");
    else if (status == 417)
        hp_error_set(&err, &req->pool, HP_ERR_EXPECTATION,
                     "Only Expect: 100-continue is supported");
    else if (status >= 500)
        hp_error_set(&err, &req->pool, HP_ERR_INTERNAL, "The server could not answer");
    else
        hp_error_set(&err, &req->pool, HP_ERR_BAD_HTTP, "Malformed HTTP request");
    if (text.len != 0)
        hp_error_details(&err, &req->pool, "%.*s", (int)text.len, text.base);
    hp_buf_t json;
    hp_buf_init(&json);
    hp_error_render(&err, &json);
    h2o_iovec_t body = h2o_strdup(&req->pool, json.ptr, json.len);
    hp_buf_dispose(&json);
    return body;
}

/* h2o_send_inline sends its text in one final call (none for HEAD): the JSON goes in its
 * place, and the headers are not written before the next ostream's first send. */
static void on_h2o_error_send(h2o_ostream_t *ostream, h2o_req_t *req, h2o_iovec_t *bufs,
                              size_t bufcnt, h2o_send_state_t state)
{
    h2o_iovec_t text = bufcnt != 0 ? bufs[0] : h2o_iovec_init(NULL, 0);
    h2o_iovec_t body = render_h2o_error(req, text);
    req->res.content_length = body.len;
    int is_head = h2o_memis(req->input.method.base, req->input.method.len, H2O_STRLIT("HEAD"));
    h2o_ostream_send_next(ostream, req, &body, is_head ? 0 : 1, state);
}

static void on_h2o_error_setup(h2o_filter_t *filter, h2o_req_t *req, h2o_ostream_t **slot)
{
    (void)filter;
    h2o_ostream_t *ostream = h2o_add_ostream(req, sizeof(*ostream), slot);
    ostream->do_send = on_h2o_error_send;
    /* h2o_send_error_generic left one header, its text/plain Content-Type. */
    req->res.headers = (h2o_headers_t){NULL};
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("application/json; charset=utf-8"));
    hp_http_access_log_tag(hp_http_loop_of(req->conn->ctx)->access_log, req);
    h2o_setup_next_ostream(req, &ostream->next);
}

/* Makes h2o's own error responses on `hostconf` PostgREST-shaped JSON (see above). */
static void register_h2o_error_filter(h2o_hostconf_t *hostconf)
{
    h2o_filter_t *filter = h2o_create_filter(&hostconf->fallback_path, sizeof(*filter));
    filter->on_setup_ostream = on_h2o_error_setup;
}

/* Hands every connection already waiting in the listener's accept queue to h2o, then closes
 * the listener. The kernel completed those handshakes, so their clients have written requests
 * that must be answered: closing a listening socket resets whatever is still queued on it,
 * and with SO_REUSEPORT the kernel never moves a closed listener's queue to another loop's.
 * Accepting until EAGAIN and closing without returning to the loop in between leaves only
 * the handshakes that complete in those few microseconds, which no listener can keep: a
 * client connecting once the last listener is gone is refused. */
static void drain_and_close_listener(h2o_socket_t **listener, h2o_accept_ctx_t *accept_ctx)
{
    if (*listener == NULL)
        return;
    h2o_socket_read_stop(*listener);
    h2o_socket_t *sock;
    size_t count = 0;
    while ((sock = h2o_evloop_socket_accept(*listener)) != NULL) {
        h2o_accept(accept_ctx, sock);
        ++count;
    }
    if (count != 0)
        hp_log_info("shutdown: %zu connections taken from the accept queue", count);
    h2o_socket_close(*listener);
    *listener = NULL;
}

/* Runs on the loop's own thread when the signal thread asks for shutdown. */
static void on_control(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    hp_http_loop_t *loop = H2O_STRUCT_FROM_MEMBER(hp_http_loop_t, control, receiver);
    while (!h2o_linklist_is_empty(messages))
        h2o_linklist_unlink(messages->next);
    if (loop->is_stopping)
        return;
    loop->is_stopping = 1;
    drain_and_close_listener(&loop->listener, &loop->accept_ctx);
    drain_and_close_listener(&loop->admin_listener, &loop->admin_accept_ctx);
    /* From here h2o answers every request with Connection: close (HTTP/1) or GOAWAY (HTTP/2). */
    h2o_context_request_shutdown(&loop->ctx);
    /* h2o 2.2.5 has no shutdown hook for HTTP/1 idle connections; a short request timeout makes
     * its own timer close each of them properly (responses in progress finish first). It is
     * not zero: a connection just taken from the backlog is waiting for its request too, and
     * its bytes may still be on their way; any connection waiting longer than the grace
     * (an idle keep-alive one) closes at once. */
    uint64_t grace = (uint64_t)loop->conf->server_shutdown_timeout_ms / 2;
    loop->ctx.http1.req_timeout.timeout =
        grace < HP_HTTP_SHUTDOWN_GRACE_MS ? grace : HP_HTTP_SHUTDOWN_GRACE_MS;
}

static int has_connections(h2o_context_t *ctx)
{
    return !h2o_linklist_is_empty(&ctx->http1._conns) || !h2o_linklist_is_empty(&ctx->http2._conns);
}

static void on_tick(h2o_timeout_entry_t *entry)
{
    hp_http_loop_t *loop = H2O_STRUCT_FROM_MEMBER(hp_http_loop_t, tick, entry);
    hp_db_thread_tick(loop->db);
    hp_http_access_log_flush(loop->access_log);
    h2o_timeout_link(loop->ctx.loop, &loop->tick_timeout, &loop->tick);
}

static void *run_loop(void *arg)
{
    hp_http_loop_t *loop = arg;
    /* Everything h2o makes for this loop is made on this thread: h2o's sockets take their
     * buffers from the creating thread's (thread-local) buffer prototype, so a context made on
     * another thread would share that thread's free lists with this one, unlocked. */
    h2o_evloop_t *evloop = h2o_evloop_create();
    h2o_context_init(&loop->ctx, evloop, loop->globalconf);
    loop->accept_ctx.ctx = &loop->ctx;
    loop->accept_ctx.hosts = loop->hosts;
    loop->admin_accept_ctx.ctx = &loop->ctx;
    loop->admin_accept_ctx.hosts = loop->admin_hosts;
    h2o_multithread_register_receiver(loop->ctx.queue, &loop->db_receiver, hp_db_on_replies);
    h2o_multithread_register_receiver(loop->ctx.queue, &loop->control, on_control);
    h2o_multithread_register_receiver(loop->ctx.queue, &loop->cache_receiver,
                                      hp_cache_step_on_messages);
    sem_post(loop->ready);
    char err[256];
    if (hp_db_attach_thread(loop->db, evloop, err, sizeof(err)) != 0)
        hp_log_warn("reads from this loop go to the db-pool threads: %s", err);
    hp_batch_options_t batch = {.enabled = loop->conf->batch == 0 /* "on" */,
                                .max_reads = (unsigned)loop->conf->batch_max,
                                .window_us = (unsigned)loop->conf->batch_window_us};
    loop->batcher = hp_batcher_create(loop->db, evloop, &batch, loop->metrics);
    h2o_timeout_init(evloop, &loop->tick_timeout, HP_HTTP_TICK_MS);
    loop->tick.cb = on_tick;
    h2o_timeout_link(evloop, &loop->tick_timeout, &loop->tick);
    h2o_timeout_init(evloop, &loop->deadline_timeout,
                     (uint64_t)loop->conf->server_request_timeout_ms);

    loop->listener = h2o_evloop_socket_create(evloop, loop->listen_fd, H2O_SOCKET_FLAG_DONT_READ);
    loop->listener->data = loop;
    h2o_socket_read_start(loop->listener, on_accept);
    if (loop->admin_fd != -1) {
        loop->admin_listener =
            h2o_evloop_socket_create(evloop, loop->admin_fd, H2O_SOCKET_FLAG_DONT_READ);
        loop->admin_listener->data = loop;
        h2o_socket_read_start(loop->admin_listener, on_admin_accept);
    }

    while (!loop->is_stopping)
        h2o_evloop_run(evloop, INT32_MAX);

    /* Stopping: finish the requests in flight and let the connections close, within the
     * deadline. Database jobs always come back (the database answers every job it took), and
     * the loop must outlive them because their replies are posted to it. */
    uint64_t deadline =
        (hp_time_mono_ns() / 1000000) + (uint64_t)loop->conf->server_shutdown_timeout_ms;
    while ((loop->in_flight != 0 || has_connections(&loop->ctx)) &&
           (hp_time_mono_ns() / 1000000) < deadline)
        h2o_evloop_run(evloop, 10);
    int is_cut_off = loop->in_flight != 0;
    while (loop->jobs_in_flight != 0)
        h2o_evloop_run(evloop, 10);
    hp_http_access_log_flush(loop->access_log);
    h2o_timeout_unlink(&loop->tick);
    h2o_timeout_dispose(evloop, &loop->tick_timeout);
    /* Requests cut off by the shutdown deadline may still have theirs linked. */
    while (!h2o_linklist_is_empty(&loop->deadline_timeout._entries))
        h2o_timeout_unlink(H2O_STRUCT_FROM_MEMBER(h2o_timeout_entry_t, _link,
                                                  loop->deadline_timeout._entries.next));
    h2o_timeout_dispose(evloop, &loop->deadline_timeout);
    hp_batcher_destroy(loop->batcher);
    loop->batcher = NULL;
    hp_db_detach_thread(loop->db);
    hp_compress_thread_dispose();
    h2o_multithread_unregister_receiver(loop->ctx.queue, &loop->db_receiver);
    h2o_multithread_unregister_receiver(loop->ctx.queue, &loop->control);
    h2o_multithread_unregister_receiver(loop->ctx.queue, &loop->cache_receiver);
    hp_cache_step_dispose_loop(loop);
    if (!has_connections(&loop->ctx)) {
        /* request_shutdown armed HTTP/2's one-second GOAWAY timer even with no HTTP/2
         * connection; with none left it has nothing to do. */
        if (h2o_timeout_is_linked(&loop->ctx.http2._graceful_shutdown_timeout))
            h2o_timeout_unlink(&loop->ctx.http2._graceful_shutdown_timeout);
        h2o_context_dispose(&loop->ctx);
        h2o_evloop_destroy(evloop);
        loop->ctx.loop = NULL;
    }
    return (void *)(uintptr_t)is_cut_off;
}

hp_server_t *hp_server_create(const hp_config_t *conf, hp_db_t *db, char *errbuf, size_t errlen)
{
    hp_server_t *s = calloc(1, sizeof(*s));
    s->conf = conf;
    s->db = db;

    h2o_config_init(&s->globalconf);
    s->globalconf.server_name = h2o_iovec_init(H2O_STRLIT("hotpath"));
    /* h2o buffers a whole body before the handler sees it, so this bounds what one request
     * can make us hold: a Content-Length past it is refused before the body is read, and a
     * chunked body as soon as it grows past it (413, the connection closes; the filter below
     * makes it JSON). Up to 1 MiB past max-body-bytes the body is read and the API answers
     * its own 413 with the connection kept, so a client that writes its whole body before
     * reading gets the answer instead of a reset. */
    s->globalconf.max_request_entity_size = (size_t)conf->max_body_bytes + (1u << 20);
    h2o_hostconf_t *hostconf =
        h2o_config_register_host(&s->globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    hp_http_api_register(hostconf, "/");
    register_h2o_error_filter(hostconf);
    s->api_hosts[0] = hostconf;

    if ((s->caching = hp_http_caching_create(conf, errbuf, errlen)) == NULL) {
        h2o_config_dispose(&s->globalconf);
        free(s);
        return NULL;
    }
    s->ratelimit =
        hp_ratelimit_create(conf->rate_limit, conf->rate_limit_key, conf->rate_limit_rules,
                            (size_t)conf->rate_limit_max_keys, errbuf, errlen);
    if (s->ratelimit == NULL && errbuf[0] != '\0') {
        hp_http_caching_destroy(s->caching);
        h2o_config_dispose(&s->globalconf);
        free(s);
        return NULL;
    }
    hp_db_set_change_listener(db, hp_http_caching_on_external_change, s->caching);
    if (conf->db_replicas[0] != '\0')
        s->affinity = hp_http_affinity_create((unsigned)conf->db_primary_after_write_ms);
    if ((s->access_log = hp_http_access_log_create((hp_access_log_format_t)conf->log_access,
                                                   conf->log_access_file, errbuf, errlen)) ==
        NULL) {
        hp_http_caching_destroy(s->caching);
        hp_ratelimit_destroy(s->ratelimit);
        h2o_config_dispose(&s->globalconf);
        free(s);
        return NULL;
    }
    /* With no deadline, a job past the limit may still queue for up to 10 s. */
    uint64_t budget_ms =
        conf->server_request_timeout_ms > 0 ? (uint64_t)conf->server_request_timeout_ms : 10000;
    s->limiter = hp_overload_limiter_create((unsigned)conf->db_max_jobs, budget_ms * 1000000);
    s->clients = hp_overload_clients_create((unsigned)conf->db_client_max_jobs);
    s->loop_count = (size_t)conf->server_threads;
    s->metrics = hp_metrics_create(s->loop_count, (uint64_t)time(NULL));
    if (s->ratelimit != NULL) {
        size_t count;
        const hp_ratelimit_rule_t *rules = hp_ratelimit_rules(s->ratelimit, &count);
        for (size_t i = 0; i != count; ++i)
            hp_metrics_ratelimit_rule(s->metrics, i,
                                      rules[i].gcra.rate != 0 ? rules[i].name : NULL);
    }
    if (conf->admin_server_port != 0) {
        s->admin_hosts[0] = h2o_config_register_host(
            &s->globalconf, h2o_iovec_init(H2O_STRLIT("admin")), (uint16_t)conf->admin_server_port);
        hp_http_admin_register(s->admin_hosts[0], db, s->caching, s->metrics, s->limiter);
        register_h2o_error_filter(s->admin_hosts[0]);
    }

    /* SO_REUSEPORT would let a second hotpath share the port silently (and split the traffic
     * with it): bind once without it first, so a port in use is an error. */
    int probe = open_listener(conf->server_host, (int)conf->server_port, 0, errbuf, errlen);
    if (probe == -1) {
        hp_server_destroy(s);
        return NULL;
    }
    close(probe);
    s->loops = calloc(s->loop_count, sizeof(*s->loops));
    for (size_t i = 0; i != s->loop_count; ++i) {
        s->loops[i].listen_fd = s->loops[i].admin_fd = -1;
        s->loops[i].access_log = hp_http_access_log_loop_create(s->access_log);
    }
    for (size_t i = 0; i != s->loop_count; ++i) {
        hp_http_loop_t *loop = s->loops + i;
        if ((loop->listen_fd = open_listener(conf->server_host, (int)conf->server_port, 1, errbuf,
                                             errlen)) == -1) {
            hp_server_destroy(s);
            return NULL;
        }
        loop->conf = conf;
        loop->db = db;
        loop->caching = s->caching;
        loop->affinity = s->affinity;
        loop->ratelimit = s->ratelimit;
        loop->limiter = s->limiter;
        loop->clients = s->clients;
        loop->metrics = hp_metrics_slot(s->metrics, i);
        loop->hosts = s->api_hosts;
        loop->admin_hosts = s->admin_hosts;
    }
    if (conf->admin_server_port != 0 && s->loop_count != 0 &&
        (s->loops[0].admin_fd = open_listener(conf->server_host, (int)conf->admin_server_port, 0,
                                              errbuf, errlen)) == -1) {
        hp_server_destroy(s);
        return NULL;
    }
    return s;
}

static void server_signals(sigset_t *out)
{
    sigemptyset(out);
    sigaddset(out, SIGTERM);
    sigaddset(out, SIGINT);
    sigaddset(out, SIGUSR1);
    sigaddset(out, SIGHUP);
}

void hp_server_block_signals(void)
{
    sigset_t signals;
    server_signals(&signals);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
}

int hp_server_run(hp_server_t *s)
{
    sigset_t signals;
    server_signals(&signals);
    /* Blocked before any thread started (hp_server_block_signals), so every thread inherits the
     * mask and only sigwait below sees them. */
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* Each loop builds its own h2o context on its own thread; wait until all have, so the
     * shutdown messages below always find their receivers. */
    sem_t ready;
    sem_init(&ready, 0, 0);
    for (size_t i = 0; i != s->loop_count; ++i) {
        s->loops[i].globalconf = &s->globalconf;
        s->loops[i].ready = &ready;
        h2o_multithread_create_thread(&s->loops[i].tid, NULL, run_loop, s->loops + i);
    }
    for (size_t i = 0; i != s->loop_count; ++i)
        while (sem_wait(&ready) != 0)
            ;
    sem_destroy(&ready);
    hp_log_info("listening on http://%s:%lld with %zu threads", s->conf->server_host,
                (long long)s->conf->server_port, s->loop_count);
    if (s->conf->admin_server_port != 0)
        hp_log_info("admin (/live, /ready, /metrics, /dashboard) on http://%s:%lld",
                    s->conf->server_host, (long long)s->conf->admin_server_port);
    if (s->conf->log_access != HP_ACCESS_LOG_OFF)
        hp_log_info("access log (%s) to %s",
                    s->conf->log_access == HP_ACCESS_LOG_JSON ? "json" : "combined",
                    strcmp(s->conf->log_access_file, "-") == 0 ? "stderr"
                                                               : s->conf->log_access_file);

    for (;;) {
        int sig;
        if (sigwait(&signals, &sig) != 0)
            continue;
        if (sig == SIGUSR1 || sig == SIGHUP) {
            char err[256];
            if (hp_db_reload_schema(s->db, err, sizeof(err)) == 0) {
                hp_http_caching_all_changed(s->caching);
                hp_log_info("schema cache reloaded");
            } else
                hp_log_error("schema reload failed, keeping the old one: %s", err);
            continue;
        }
        hp_log_info("%s: shutting down gracefully", sig == SIGINT ? "SIGINT" : "SIGTERM");
        break;
    }

    for (size_t i = 0; i != s->loop_count; ++i)
        h2o_multithread_send_message(&s->loops[i].control, &s->loops[i].shutdown_message);
    int cut_off = 0;
    for (size_t i = 0; i != s->loop_count; ++i) {
        void *ret;
        pthread_join(s->loops[i].tid, &ret);
        cut_off |= ret != NULL;
    }
    if (cut_off)
        hp_log_warn("shutdown timeout: some requests were cut off");
    return cut_off;
}

void hp_server_destroy(hp_server_t *s)
{
    for (size_t i = 0; s->loops != NULL && i != s->loop_count; ++i) {
        hp_http_loop_t *loop = s->loops + i;
        /* A loop that never ran still owns its listening socket. A loop whose connections
         * outlived the shutdown deadline keeps its context: process exit reclaims it. */
        if (loop->listener == NULL && loop->ctx.queue == NULL && loop->listen_fd != -1)
            close(loop->listen_fd);
        if (loop->admin_listener == NULL && loop->ctx.queue == NULL && loop->admin_fd != -1)
            close(loop->admin_fd);
        hp_http_access_log_loop_destroy(loop->access_log);
    }
    hp_http_access_log_destroy(s->access_log);
    free(s->loops);
    /* No database thread may call the listener into freed state. */
    hp_db_set_change_listener(s->db, NULL, NULL);
    hp_http_caching_destroy(s->caching);
    hp_http_affinity_destroy(s->affinity);
    hp_ratelimit_destroy(s->ratelimit);
    hp_overload_limiter_destroy(s->limiter);
    hp_overload_clients_destroy(s->clients);
    hp_metrics_destroy(s->metrics);
    h2o_config_dispose(&s->globalconf);
    free(s);
}
