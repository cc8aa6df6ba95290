/*
 * bench/hello: the ceiling for a cached response. A bare h2o (2.2.5, evloop) server that answers
 * every GET with the same bytes, so that `make bench` can put hotpath's S1z (cache hits) beside
 * the fastest a handler on the same library, threads and machine can be.
 *
 *   hello -p PORT [-t THREADS] [-T CONTENT-TYPE] (-b BODY | -f FILE)
 *
 * It listens on 127.0.0.1:PORT only. Each of THREADS (default 2, as hotpath's default on this
 * 2-core machine) runs its own event loop with its own SO_REUSEPORT listener, as hotpath does,
 * so the kernel spreads connections over the loops and no lock is shared between them. The body
 * is sent from one static buffer without copying; h2o adds Date, Server, Connection and
 * Content-Length, and keeps connections alive. Other methods get h2o's 404. SIGTERM or SIGINT
 * stops it (exit status 0).
 *
 * Build (the Makefile's build/release/bench/hello rule does the same):
 *   cc -std=c11 -D_GNU_SOURCE -DH2O_USE_LIBUV=0 -O2 bench/hello.c -o hello \
 *      $(pkg-config --cflags --libs libh2o-evloop openssl) -lpthread
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <h2o.h>

/* A body larger than this is surely the wrong file. */
#define MAX_BODY_LEN (64u << 20)
#define MAX_THREADS 64

/* One event loop and everything only its thread touches. */
typedef struct {
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    int listen_fd;
    pthread_t tid;
} loop_t;

static h2o_globalconf_t globalconf;

/* The response, fixed before the first loop starts and only read afterwards. */
static h2o_iovec_t body;
static const char *content_type = "application/json; charset=utf-8";

/* Set by the signal handler; every loop looks at it at least every STOP_POLL_MS. */
static atomic_int is_stop_requested;
#define STOP_POLL_MS 100

static void usage(FILE *out)
{
    fputs("usage: hello -p PORT [-t THREADS] [-T CONTENT-TYPE] (-b BODY | -f FILE)\n"
          "  answers every GET on 127.0.0.1:PORT with BODY (or FILE's bytes), keep-alive;\n"
          "  THREADS event loops (default 2), each with its own SO_REUSEPORT listener\n",
          out);
}

static void on_stop_signal(int sig)
{
    (void)sig;
    atomic_store(&is_stop_requested, 1);
}

/* Reads a whole file into memory that lives until exit. Returns 0, or -1 with a message. */
static int read_body_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        fprintf(stderr, "hello: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    if (buf == NULL)
        goto fail;
    for (;;) {
        if (len == cap) {
            if (cap >= MAX_BODY_LEN) {
                fprintf(stderr, "hello: %s: larger than %u bytes\n", path, MAX_BODY_LEN);
                goto fail;
            }
            cap *= 2;
            char *grown = realloc(buf, cap);
            if (grown == NULL)
                goto fail;
            buf = grown;
        }
        size_t n = fread(buf + len, 1, cap - len, fp);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(fp)) {
        fprintf(stderr, "hello: %s: read error\n", path);
        goto fail;
    }
    fclose(fp);
    body = h2o_iovec_init(buf, len);
    return 0;
fail:
    free(buf);
    fclose(fp);
    return -1;
}

/* Opens one listening socket on 127.0.0.1:port. Returns the descriptor, or -1 with a message. */
static int open_listener(int port)
{
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1;
    if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) != 0 ||
        bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, SOMAXCONN) != 0) {
        fprintf(stderr, "hello: cannot listen on 127.0.0.1:%d: %s\n", port, strerror(errno));
        if (fd != -1)
            close(fd);
        return -1;
    }
    return fd;
}

/* The whole server: the same status, Content-Type and body for every GET. The generator has no
 * callbacks because the one h2o_send is final and its buffer outlives every request. */
static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    static h2o_generator_t generator = {NULL, NULL};
    (void)self;
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")))
        return -1;
    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = body.len; /* or h2o would answer chunked */
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type,
                   strlen(content_type));
    h2o_start_response(req, &generator);
    h2o_iovec_t buf = body;
    h2o_send(req, &buf, 1, H2O_SEND_STATE_FINAL);
    return 0;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    if (err != NULL)
        return;
    loop_t *loop = listener->data;
    h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
    if (sock != NULL)
        h2o_accept(&loop->accept_ctx, sock);
}

/* A loop's thread. Open connections are not drained on stop: the process exits right after,
 * and h2o 2.2.5 cannot dispose a context whose connections still hold timers, so the context
 * and its loop are left to the exit as well. */
static void *run_loop(void *arg)
{
    loop_t *loop = arg;
    h2o_evloop_t *evloop = h2o_evloop_create();
    h2o_context_init(&loop->ctx, evloop, &globalconf);
    loop->accept_ctx.ctx = &loop->ctx;
    loop->accept_ctx.hosts = globalconf.hosts;
    h2o_socket_t *listener =
        h2o_evloop_socket_create(evloop, loop->listen_fd, H2O_SOCKET_FLAG_DONT_READ);
    listener->data = loop;
    h2o_socket_read_start(listener, on_accept);
    while (!atomic_load(&is_stop_requested))
        h2o_evloop_run(evloop, STOP_POLL_MS);
    h2o_socket_read_stop(listener);
    h2o_socket_close(listener);
    return NULL;
}

int main(int argc, char **argv)
{
    int port = 0, thread_count = 2, opt;
    const char *body_arg = NULL, *body_path = NULL;
    while ((opt = getopt(argc, argv, "p:t:T:b:f:h")) != -1) {
        switch (opt) {
        case 'p': port = (int)strtol(optarg, NULL, 10); break;
        case 't': thread_count = (int)strtol(optarg, NULL, 10); break;
        case 'T': content_type = optarg; break;
        case 'b': body_arg = optarg; break;
        case 'f': body_path = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || port < 1 || port > 65535 || thread_count < 1 ||
        thread_count > MAX_THREADS || (body_arg == NULL) == (body_path == NULL)) {
        usage(stderr);
        return 2;
    }
    if (body_path != NULL) {
        if (read_body_file(body_path) != 0)
            return 1;
    } else {
        body = h2o_iovec_init(body_arg, strlen(body_arg));
    }

    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_stop_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    h2o_config_init(&globalconf);
    h2o_hostconf_t *hostconf =
        h2o_config_register_host(&globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pathconf = h2o_config_register_path(hostconf, "/", 0);
    h2o_create_handler(pathconf, sizeof(h2o_handler_t))->on_req = on_req;

    /* Every listener is open before the first loop starts, so a port in use fails at once. */
    static loop_t loops[MAX_THREADS];
    for (int i = 0; i != thread_count; ++i) {
        if ((loops[i].listen_fd = open_listener(port)) == -1)
            return 1;
    }
    for (int i = 0; i != thread_count; ++i) {
        if (pthread_create(&loops[i].tid, NULL, run_loop, loops + i) != 0) {
            fprintf(stderr, "hello: cannot start a thread\n");
            return 1;
        }
    }
    fprintf(stderr, "hello: %zu bytes of %s on 127.0.0.1:%d, %d threads\n", body.len, content_type,
            port, thread_count);
    for (int i = 0; i != thread_count; ++i)
        pthread_join(loops[i].tid, NULL);
    return 0;
}
