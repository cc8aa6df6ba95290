/*
 * bench/loadgen: an open-loop HTTP/1.1 load generator, so that latency figures include the
 * queueing a slow server causes (no coordinated omission).
 *
 *   loadgen -r RATE -d SECONDS -f PATHS [-c CONNECTIONS] [-H 'Name: value']... [-R] [-s SEED]
 *           [-t TIMEOUT] [-q] http://HOST:PORT
 *
 * Request i is due at start + i / RATE, whatever happened to earlier requests. It goes out on
 * a free keep-alive connection (one request in flight on each) as soon as it is due; when all
 * CONNECTIONS are busy it waits, and its latency still counts from the time it was due. So a
 * server that stalls for a second shows a second of latency on every request due during the
 * stall, not on one (a closed-loop client such as wrk waits before sending and hides it). The
 * time from the actual send is kept too ("service time"); the difference is the queueing.
 *
 * Paths come from the file PATHS, one per line (empty lines skipped), used round-robin from
 * the first, or at random with -R (seeded by -s, default 1). Every request is a GET with a
 * Host header and the -H headers. Responses may be framed by Content-Length, chunked, or the
 * end of the connection. After SECONDS no more requests are due; loadgen waits for those in
 * flight or still queued, at most TIMEOUT (default 10 s), and counts what did not finish.
 *
 * Output: a short human-readable report, then one line "HPLOADGEN {json}" (flat, numbers
 * only) for scripts; -q prints only that line. Exit status 0, 1 when no connection could be
 * made, 2 on bad arguments. Single-threaded: epoll, non-blocking sockets, a timerfd for the
 * schedule.
 */
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "loadgen_hist.h"
#include "loadgen_http.h"

#define MAX_HEADERS 32
#define READ_BUF_LEN 65536
#define TICK_NS 50000000ull /* timeouts and reconnects are checked this often */
#define CONNECT_PHASE_NS 5000000000ull
#define TIMER_TAG UINT64_MAX /* epoll data of the timerfd; connections use their index */
#define NS_PER_MS 1e6

typedef struct {
    char *ptr;
    size_t len;
} request_t;

typedef enum { CONN_DOWN, CONN_CONNECTING, CONN_IDLE, CONN_BUSY } conn_state_t;

typedef struct {
    int fd;
    conn_state_t state;
    int wants_out;     /* EPOLLOUT is registered */
    size_t idle_pos;   /* position in the idle stack while IDLE */
    uint64_t index;    /* the request in flight (BUSY) */
    uint64_t since_ns; /* BUSY: when the request was sent; CONNECTING: when connect began */
    const request_t *req;
    size_t written;
    lg_http_response_t resp;
} conn_t;

/* Every scheduled request ends as exactly one of: a response, a failure (read, write,
 * timeout, protocol) or unsent. Connect errors belong to connections, not requests. */
typedef struct {
    uint64_t scheduled, responses, non2xx, bytes, body_bytes;
    uint64_t err_read, err_write, err_timeout, err_protocol, unsent, err_connect;
    uint64_t max_backlog, last_done_ns;
    lg_hist_t latency; /* from the time the request was due */
    lg_hist_t service; /* from the time it was sent */
    lg_hist_t ok;      /* from the due time, 2xx responses only (admitted, under overload) */
} results_t;

typedef struct {
    /* options */
    double rate, seconds, timeout_s;
    size_t conn_count, header_count;
    const char *paths_file, *url, *headers[MAX_HEADERS];
    int is_random, is_quiet;
    uint64_t seed;
    /* set up */
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char host[256];
    request_t *requests;
    size_t request_count;
    conn_t *conns;
    size_t *idle;
    size_t idle_count;
    int epfd, timerfd;
    /* the schedule */
    uint64_t start_ns, total, next, done, timer_at, timeout_ns;
    double ns_per_request;
    uint64_t rng;
    results_t res;
} loadgen_t;

static char read_buf[READ_BUF_LEN];

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("loadgen: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static void *xrealloc(void *ptr, size_t len)
{
    ptr = realloc(ptr, len);
    if (ptr == NULL)
        die("out of memory");
    return ptr;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* When request i is due. */
static uint64_t due_ns(const loadgen_t *lg, uint64_t i)
{
    return lg->start_ns + (uint64_t)((double)i * lg->ns_per_request);
}

/* xorshift64*: a small seeded generator for -R. */
static uint64_t next_random(loadgen_t *lg)
{
    lg->rng ^= lg->rng >> 12;
    lg->rng ^= lg->rng << 25;
    lg->rng ^= lg->rng >> 27;
    return lg->rng * 2685821657736338717ull;
}

/* ---- arguments, paths and requests ---- */

static double parse_number(const char *s, const char *what, double min)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= min) || !isfinite(v))
        die("%s: not a number >= %g: %s", what, min, s);
    return v;
}

static void usage(void)
{
    fputs("usage: loadgen -r RATE -d SECONDS -f PATHS [-c CONNECTIONS] [-H 'Name: value']...\n"
          "               [-R] [-s SEED] [-t TIMEOUT] [-q] http://HOST:PORT\n",
          stderr);
    exit(2);
}

static void parse_args(loadgen_t *lg, int argc, char **argv)
{
    lg->conn_count = 16;
    lg->seconds = 10;
    lg->timeout_s = 10;
    lg->seed = 1;
    int opt;
    while ((opt = getopt(argc, argv, "r:d:f:c:H:Rs:t:q")) != -1) {
        switch (opt) {
        case 'r': lg->rate = parse_number(optarg, "-r", 0.001); break;
        case 'd': lg->seconds = parse_number(optarg, "-d", 0.001); break;
        case 'f': lg->paths_file = optarg; break;
        case 'c': lg->conn_count = (size_t)parse_number(optarg, "-c", 1); break;
        case 'H':
            if (lg->header_count == MAX_HEADERS)
                die("at most %d -H headers", MAX_HEADERS);
            if (strchr(optarg, ':') == NULL || strpbrk(optarg, "\r\n") != NULL)
                die("-H wants 'Name: value': %s", optarg);
            lg->headers[lg->header_count++] = optarg;
            break;
        case 'R': lg->is_random = 1; break;
        case 's': lg->seed = (uint64_t)parse_number(optarg, "-s", 0); break;
        case 't': lg->timeout_s = parse_number(optarg, "-t", 0.001); break;
        case 'q': lg->is_quiet = 1; break;
        default: usage();
        }
    }
    if (optind != argc - 1 || lg->rate == 0 || lg->paths_file == NULL)
        usage();
    lg->url = argv[optind];
    lg->rng = lg->seed * 0x9E3779B97F4A7C15ull + 1;
}

/* http://HOST:PORT[/] -> lg->addr and the Host header value. */
static void resolve_url(loadgen_t *lg)
{
    const char *p = lg->url;
    if (strncmp(p, "http://", 7) != 0)
        die("the URL must be http://HOST:PORT: %s", lg->url);
    p += 7;
    size_t len = strcspn(p, "/");
    if (len == 0 || len >= sizeof(lg->host) || (p[len] != '\0' && strcmp(p + len, "/") != 0))
        die("the URL must be http://HOST:PORT with no path: %s", lg->url);
    memcpy(lg->host, p, len);
    lg->host[len] = '\0';
    char name[256];
    memcpy(name, lg->host, len + 1);
    char *colon = strrchr(name, ':');
    const char *port = "80";
    if (colon != NULL) {
        *colon = '\0';
        port = colon + 1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
    int rc = getaddrinfo(name, port, &hints, &ai);
    if (rc != 0)
        die("%s: %s", lg->host, gai_strerror(rc));
    memcpy(&lg->addr, ai->ai_addr, ai->ai_addrlen);
    lg->addr_len = ai->ai_addrlen;
    freeaddrinfo(ai);
}

/* "GET PATH HTTP/1.1", Host, the -H headers and the empty line, in one malloc'd string. */
static request_t build_request(const loadgen_t *lg, const char *path, size_t path_len)
{
    size_t cap = path_len + strlen(lg->host) + 64;
    for (size_t i = 0; i != lg->header_count; ++i)
        cap += strlen(lg->headers[i]) + 2;
    request_t r = {.ptr = xrealloc(NULL, cap)};
    int n =
        snprintf(r.ptr, cap, "GET %.*s HTTP/1.1\r\nHost: %s\r\n", (int)path_len, path, lg->host);
    for (size_t i = 0; i != lg->header_count; ++i)
        n += snprintf(r.ptr + n, cap - (size_t)n, "%s\r\n", lg->headers[i]);
    n += snprintf(r.ptr + n, cap - (size_t)n, "\r\n");
    r.len = (size_t)n;
    return r;
}

static char *read_file(const char *name, size_t *len)
{
    FILE *f = fopen(name, "rb");
    if (f == NULL)
        die("%s: %s", name, strerror(errno));
    size_t cap = 1 << 16, used = 0, n;
    char *text = xrealloc(NULL, cap);
    while ((n = fread(text + used, 1, cap - used - 1, f)) > 0) {
        used += n;
        if (cap - used - 1 == 0)
            text = xrealloc(text, cap *= 2);
    }
    fclose(f);
    text[used] = '\0';
    *len = used;
    return text;
}

/* One request per non-empty line of the paths file. */
static void load_requests(loadgen_t *lg)
{
    size_t len, cap = 1024;
    char *text = read_file(lg->paths_file, &len);
    lg->requests = xrealloc(NULL, cap * sizeof(*lg->requests));
    for (char *line = text, *end; line < text + len; line = end + 1) {
        end = memchr(line, '\n', (size_t)(text + len - line));
        if (end == NULL)
            end = text + len;
        size_t line_len = (size_t)(end - line);
        if (line_len != 0 && line[line_len - 1] == '\r')
            --line_len;
        if (line_len == 0)
            continue;
        if (line[0] != '/')
            die("%s: a path must start with '/': %.*s", lg->paths_file, (int)line_len, line);
        if (lg->request_count == cap)
            lg->requests = xrealloc(lg->requests, (cap *= 2) * sizeof(*lg->requests));
        lg->requests[lg->request_count++] = build_request(lg, line, line_len);
    }
    if (lg->request_count == 0)
        die("%s: no paths", lg->paths_file);
    free(text);
}

/* ---- connections ---- */

static void watch(loadgen_t *lg, conn_t *c, int op, int wants_out)
{
    struct epoll_event ev = {.events = EPOLLIN | (wants_out ? EPOLLOUT : 0),
                             .data.u64 = (uint64_t)(c - lg->conns)};
    if (epoll_ctl(lg->epfd, op, c->fd, &ev) != 0)
        die("epoll_ctl: %s", strerror(errno));
    c->wants_out = wants_out;
}

static void push_idle(loadgen_t *lg, conn_t *c)
{
    c->state = CONN_IDLE;
    c->idle_pos = lg->idle_count;
    lg->idle[lg->idle_count++] = (size_t)(c - lg->conns);
}

static void remove_idle(loadgen_t *lg, conn_t *c)
{
    size_t last = lg->idle[--lg->idle_count];
    lg->idle[c->idle_pos] = last;
    lg->conns[last].idle_pos = c->idle_pos;
}

/* Closes the socket (also leaving the idle stack); the connection is DOWN until reconnected. */
static void close_conn(loadgen_t *lg, conn_t *c)
{
    if (c->state == CONN_IDLE)
        remove_idle(lg, c);
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->state = CONN_DOWN;
}

/* Starts a non-blocking connect; on loopback it often completes at once. */
static void open_conn(loadgen_t *lg, conn_t *c, uint64_t now)
{
    c->fd = socket(lg->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        die("socket: %s", strerror(errno));
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->since_ns = now;
    if (connect(c->fd, (struct sockaddr *)&lg->addr, lg->addr_len) == 0) {
        watch(lg, c, EPOLL_CTL_ADD, 0);
        push_idle(lg, c);
    } else if (errno == EINPROGRESS) {
        watch(lg, c, EPOLL_CTL_ADD, 1);
        c->state = CONN_CONNECTING;
    } else {
        ++lg->res.err_connect;
        close_conn(lg, c);
    }
}

static void finish_connect(loadgen_t *lg, conn_t *c)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
        ++lg->res.err_connect;
        close_conn(lg, c);
        return;
    }
    watch(lg, c, EPOLL_CTL_MOD, 0);
    push_idle(lg, c);
}

/* ---- requests and responses ---- */

/* The request in flight on c ended without a response; *counter says how. */
static void fail_request(loadgen_t *lg, conn_t *c, uint64_t *counter, uint64_t now)
{
    ++*counter;
    ++lg->done;
    lg->res.last_done_ns = now;
    close_conn(lg, c);
}

static void complete_response(loadgen_t *lg, conn_t *c, uint64_t now)
{
    results_t *res = &lg->res;
    lg_hist_record(&res->latency, now - due_ns(lg, c->index));
    lg_hist_record(&res->service, now - c->since_ns);
    ++res->responses;
    if (c->resp.status < 200 || c->resp.status > 299)
        ++res->non2xx;
    else
        lg_hist_record(&res->ok, now - due_ns(lg, c->index));
    res->bytes += c->resp.wire_len;
    res->body_bytes += c->resp.body_len;
    res->last_done_ns = now;
    ++lg->done;
    if (c->resp.wants_close) {
        close_conn(lg, c);
        open_conn(lg, c, now);
    } else {
        push_idle(lg, c);
    }
}

/* Writes what is left of the request; waits for EPOLLOUT when the socket buffer is full. */
static void write_request(loadgen_t *lg, conn_t *c, uint64_t now)
{
    while (c->written != c->req->len) {
        ssize_t n = send(c->fd, c->req->ptr + c->written, c->req->len - c->written, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            if (!c->wants_out)
                watch(lg, c, EPOLL_CTL_MOD, 1);
            return;
        }
        if (n < 0) {
            fail_request(lg, c, &lg->res.err_write, now);
            return;
        }
        c->written += (size_t)n;
    }
    if (c->wants_out)
        watch(lg, c, EPOLL_CTL_MOD, 0);
}

static void send_request(loadgen_t *lg, conn_t *c, uint64_t index, uint64_t now)
{
    size_t pick = lg->is_random ? (size_t)(next_random(lg) % lg->request_count)
                                : (size_t)(index % lg->request_count);
    remove_idle(lg, c);
    c->state = CONN_BUSY;
    c->index = index;
    c->since_ns = now;
    c->req = &lg->requests[pick];
    c->written = 0;
    lg_http_response_init(&c->resp, 0);
    write_request(lg, c, now);
}

/* Feeds bytes read on a BUSY connection to its parser. */
static void feed_response(loadgen_t *lg, conn_t *c, size_t len, uint64_t now)
{
    size_t used = lg_http_response_feed(&c->resp, read_buf, len);
    if (c->resp.state == LG_HTTP_ERROR) {
        fail_request(lg, c, &lg->res.err_protocol, now);
    } else if (c->resp.state == LG_HTTP_DONE) {
        /* Bytes after the response, with nothing asked: the connection can't be trusted. */
        if (used != len)
            c->resp.wants_close = 1;
        complete_response(lg, c, now);
    }
}

/* The peer closed the connection (n == 0) or reading failed (n < 0). */
static void end_of_stream(loadgen_t *lg, conn_t *c, ssize_t n, uint64_t now)
{
    if (c->state != CONN_BUSY) {
        close_conn(lg, c); /* an idle keep-alive connection the server let go */
        open_conn(lg, c, now);
    } else if (n == 0 && lg_http_response_eof(&c->resp) == 0) {
        c->resp.wants_close = 1;
        complete_response(lg, c, now);
    } else {
        fail_request(lg, c, &lg->res.err_read, now);
    }
}

static void read_conn(loadgen_t *lg, conn_t *c, uint64_t now)
{
    for (;;) {
        ssize_t n = recv(c->fd, read_buf, sizeof(read_buf), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            end_of_stream(lg, c, n, now);
            return;
        }
        if (c->state != CONN_BUSY) {
            close_conn(lg, c); /* bytes nobody asked for */
            return;
        }
        feed_response(lg, c, (size_t)n, now);
        if (c->state != CONN_BUSY)
            return;
    }
}

static void on_conn_event(loadgen_t *lg, conn_t *c, uint32_t events, uint64_t now)
{
    if (c->state == CONN_CONNECTING) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            finish_connect(lg, c);
        return;
    }
    if (c->state == CONN_BUSY && (events & EPOLLOUT))
        write_request(lg, c, now);
    if (c->state != CONN_DOWN && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        read_conn(lg, c, now);
}

/* ---- the schedule ---- */

/* Sends every due request that a free connection can take; notes the backlog left. */
static void dispatch(loadgen_t *lg, uint64_t now)
{
    while (lg->next != lg->total && lg->idle_count != 0 && due_ns(lg, lg->next) <= now) {
        conn_t *c = &lg->conns[lg->idle[lg->idle_count - 1]];
        send_request(lg, c, lg->next++, now);
    }
    if (lg->next != lg->total && now >= lg->start_ns) {
        uint64_t due = (uint64_t)((double)(now - lg->start_ns) / lg->ns_per_request) + 1;
        if (due > lg->total)
            due = lg->total;
        if (due > lg->next && due - lg->next > lg->res.max_backlog)
            lg->res.max_backlog = due - lg->next;
    }
}

/* Arms the timerfd for the next due request when a connection is free to take it. A busy
 * moment needs no timer: the next response frees a connection and dispatches. */
static void arm_timer(loadgen_t *lg)
{
    uint64_t at = 0;
    if (lg->next != lg->total && lg->idle_count != 0)
        at = due_ns(lg, lg->next);
    if (at == lg->timer_at)
        return;
    struct itimerspec its = {.it_value = {.tv_sec = (time_t)(at / 1000000000ull),
                                          .tv_nsec = (long)(at % 1000000000ull)}};
    if (timerfd_settime(lg->timerfd, TFD_TIMER_ABSTIME, &its, NULL) != 0)
        die("timerfd_settime: %s", strerror(errno));
    lg->timer_at = at;
}

/* Every TICK_NS: requests and connects past the timeout fail; DOWN connections reconnect. */
static void check_connections(loadgen_t *lg, uint64_t now)
{
    for (size_t i = 0; i != lg->conn_count; ++i) {
        conn_t *c = &lg->conns[i];
        if (c->state == CONN_BUSY && now - c->since_ns > lg->timeout_ns) {
            fail_request(lg, c, &lg->res.err_timeout, now);
        } else if (c->state == CONN_CONNECTING && now - c->since_ns > lg->timeout_ns) {
            ++lg->res.err_connect;
            close_conn(lg, c);
        }
        if (c->state == CONN_DOWN)
            open_conn(lg, c, now);
    }
}

/* One round: wait for events (or the timer, or the next tick) and handle them. */
static void run_once(loadgen_t *lg, uint64_t *next_tick)
{
    struct epoll_event events[64];
    uint64_t now = now_ns();
    int wait_ms = *next_tick > now ? (int)((*next_tick - now) / 1000000u) + 1 : 0;
    int n = epoll_wait(lg->epfd, events, 64, wait_ms);
    if (n < 0 && errno != EINTR)
        die("epoll_wait: %s", strerror(errno));
    now = now_ns();
    for (int i = 0; i < n; ++i) {
        if (events[i].data.u64 == TIMER_TAG) {
            uint64_t expirations;
            if (read(lg->timerfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
                die("timerfd read: %s", strerror(errno));
            lg->timer_at = 0;
        } else {
            on_conn_event(lg, &lg->conns[events[i].data.u64], events[i].events, now);
        }
    }
    if (now >= *next_tick) {
        check_connections(lg, now);
        *next_tick = now + TICK_NS;
    }
}

static void setup_loop(loadgen_t *lg)
{
    lg->epfd = epoll_create1(EPOLL_CLOEXEC);
    lg->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (lg->epfd < 0 || lg->timerfd < 0)
        die("epoll/timerfd: %s", strerror(errno));
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TIMER_TAG};
    if (epoll_ctl(lg->epfd, EPOLL_CTL_ADD, lg->timerfd, &ev) != 0)
        die("epoll_ctl: %s", strerror(errno));
    lg->conns = xrealloc(NULL, lg->conn_count * sizeof(*lg->conns));
    lg->idle = xrealloc(NULL, lg->conn_count * sizeof(*lg->idle));
    memset(lg->conns, 0, lg->conn_count * sizeof(*lg->conns));
    for (size_t i = 0; i != lg->conn_count; ++i)
        lg->conns[i].fd = -1;
}

/* Opens every connection before the clock starts, so connecting is not measured. */
static void connect_all(loadgen_t *lg)
{
    uint64_t now = now_ns(), deadline = now + CONNECT_PHASE_NS, next_tick = now + TICK_NS;
    for (size_t i = 0; i != lg->conn_count; ++i)
        open_conn(lg, &lg->conns[i], now);
    while (lg->idle_count != lg->conn_count && now_ns() < deadline)
        run_once(lg, &next_tick);
    if (lg->idle_count == 0) {
        fprintf(stderr, "loadgen: could not connect to %s\n", lg->host);
        exit(1);
    }
}

static void run_schedule(loadgen_t *lg)
{
    lg->ns_per_request = 1e9 / lg->rate;
    lg->total = (uint64_t)llround(lg->rate * lg->seconds);
    lg->timeout_ns = (uint64_t)(lg->timeout_s * 1e9);
    lg->start_ns = now_ns();
    lg->res.scheduled = lg->total;
    uint64_t drain_deadline = due_ns(lg, lg->total) + lg->timeout_ns;
    uint64_t next_tick = lg->start_ns + TICK_NS;
    while (lg->done != lg->total) {
        uint64_t now = now_ns();
        if (now >= drain_deadline)
            break;
        dispatch(lg, now);
        arm_timer(lg);
        run_once(lg, &next_tick);
        dispatch(lg, now_ns());
    }
    /* What is left at the deadline: requests never sent, and those still waiting. */
    lg->res.unsent = lg->total - lg->next;
    for (size_t i = 0; i != lg->conn_count; ++i)
        if (lg->conns[i].state == CONN_BUSY)
            fail_request(lg, &lg->conns[i], &lg->res.err_timeout, now_ns());
}

/* ---- the report ---- */

static double ms(uint64_t ns)
{
    return (double)ns / NS_PER_MS;
}

static uint64_t failed_requests(const results_t *r)
{
    return r->err_read + r->err_write + r->err_timeout + r->err_protocol + r->unsent;
}

static double achieved_rps(const loadgen_t *lg)
{
    uint64_t end = lg->res.last_done_ns, scheduled_end = due_ns(lg, lg->total);
    if (end < scheduled_end)
        end = scheduled_end;
    return end > lg->start_ns ? (double)lg->res.responses * 1e9 / (double)(end - lg->start_ns) : 0;
}

static double per_response(uint64_t total, uint64_t responses)
{
    return responses == 0 ? 0 : (double)total / (double)responses;
}

static void print_latency_line(const char *what, const lg_hist_t *h)
{
    printf("  %-28s mean %8.3f  p50 %8.3f  p90 %8.3f  p95 %8.3f  p99 %8.3f  p99.9 %8.3f  max "
           "%8.3f\n",
           what, lg_hist_mean(h) / NS_PER_MS, ms(lg_hist_percentile(h, 50)),
           ms(lg_hist_percentile(h, 90)), ms(lg_hist_percentile(h, 95)),
           ms(lg_hist_percentile(h, 99)), ms(lg_hist_percentile(h, 99.9)), ms(h->max));
}

static void print_human(const loadgen_t *lg)
{
    const results_t *r = &lg->res;
    printf("loadgen: %s, %zu connections, %.0f requests/s for %.1f s, open loop, %s over %zu "
           "paths\n",
           lg->host, lg->conn_count, lg->rate, lg->seconds,
           lg->is_random ? "random" : "round-robin", lg->request_count);
    printf("  scheduled %llu, responses %llu (non-2xx %llu), failed %llu (read %llu, write %llu, "
           "timeout %llu, protocol %llu, unsent %llu), connect errors %llu\n",
           (unsigned long long)r->scheduled, (unsigned long long)r->responses,
           (unsigned long long)r->non2xx, (unsigned long long)failed_requests(r),
           (unsigned long long)r->err_read, (unsigned long long)r->err_write,
           (unsigned long long)r->err_timeout, (unsigned long long)r->err_protocol,
           (unsigned long long)r->unsent, (unsigned long long)r->err_connect);
    printf("  achieved %.1f requests/s; largest backlog %llu requests due but not sent\n",
           achieved_rps(lg), (unsigned long long)r->max_backlog);
    printf("  latency in ms\n");
    print_latency_line("from the due time:", &r->latency);
    print_latency_line("from the send (service):", &r->service);
    printf("  bytes per response: %.0f on the wire, %.0f of body\n",
           per_response(r->bytes, r->responses), per_response(r->body_bytes, r->responses));
}

static void print_summary(const loadgen_t *lg)
{
    const results_t *r = &lg->res;
    const lg_hist_t *l = &r->latency, *s = &r->service;
    printf("HPLOADGEN {\"target_rps\":%.3f,\"connections\":%zu,\"seconds\":%.3f,"
           "\"scheduled\":%llu,\"responses\":%llu,\"non2xx\":%llu,\"failed\":%llu,"
           "\"errors_read\":%llu,\"errors_write\":%llu,\"errors_timeout\":%llu,"
           "\"errors_protocol\":%llu,\"unsent\":%llu,\"errors_connect\":%llu,"
           "\"achieved_rps\":%.1f,\"max_backlog\":%llu,",
           lg->rate, lg->conn_count, lg->seconds, (unsigned long long)r->scheduled,
           (unsigned long long)r->responses, (unsigned long long)r->non2xx,
           (unsigned long long)failed_requests(r), (unsigned long long)r->err_read,
           (unsigned long long)r->err_write, (unsigned long long)r->err_timeout,
           (unsigned long long)r->err_protocol, (unsigned long long)r->unsent,
           (unsigned long long)r->err_connect, achieved_rps(lg),
           (unsigned long long)r->max_backlog);
    printf("\"mean_ms\":%.3f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p95_ms\":%.3f,\"p99_ms\":%.3f,"
           "\"p999_ms\":%.3f,\"max_ms\":%.3f,\"service_mean_ms\":%.3f,\"service_p50_ms\":%.3f,"
           "\"service_p99_ms\":%.3f,\"bytes\":%llu,\"bytes_per_response\":%.1f,"
           "\"body_bytes_per_response\":%.1f,\"ok_p50_ms\":%.3f,\"ok_p99_ms\":%.3f}\n",
           lg_hist_mean(l) / NS_PER_MS, ms(lg_hist_percentile(l, 50)),
           ms(lg_hist_percentile(l, 90)), ms(lg_hist_percentile(l, 95)),
           ms(lg_hist_percentile(l, 99)), ms(lg_hist_percentile(l, 99.9)),
           ms(lg_hist_percentile(l, 100)), lg_hist_mean(s) / NS_PER_MS,
           ms(lg_hist_percentile(s, 50)), ms(lg_hist_percentile(s, 99)),
           (unsigned long long)r->bytes, per_response(r->bytes, r->responses),
           per_response(r->body_bytes, r->responses), ms(lg_hist_percentile(&r->ok, 50)),
           ms(lg_hist_percentile(&r->ok, 99)));
}

int main(int argc, char **argv)
{
    static loadgen_t lg; /* three histograms: too big for the stack */
    parse_args(&lg, argc, argv);
    resolve_url(&lg);
    load_requests(&lg);
    lg_hist_init(&lg.res.latency);
    lg_hist_init(&lg.res.service);
    lg_hist_init(&lg.res.ok);
    setup_loop(&lg);
    connect_all(&lg);
    run_schedule(&lg);
    if (!lg.is_quiet)
        print_human(&lg);
    print_summary(&lg);
    return 0;
}
