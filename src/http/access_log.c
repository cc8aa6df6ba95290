#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "core/log.h"
#include "core/time.h"
#include "http/access_log.h"
#include "http/respond.h"

/* Each loop's buffer. A line is formatted straight into it, so at least MAX_LINE bytes must
 * be free first: fields a client controls are cut at the lengths below, and escaping makes
 * at most six bytes of one. */
#define BUF_CAP (64 * 1024)
#define MAX_PATH_LOGGED 2048
#define MAX_HEADER_LOGGED 512
#define MAX_METHOD_LOGGED 32
#define MAX_LINE                                                                                 \
    (6 * (MAX_PATH_LOGGED + 2 * MAX_HEADER_LOGGED + MAX_METHOD_LOGGED + HP_REQUEST_ID_MAX_LEN) + \
     512)
/* A made id: 12 hex digits of the loop's random prefix, '-', the loop's counter in hex. */
#define ID_PREFIX_LEN 13
#define TRACEPARENT_LEN 55

struct st_hp_http_access_log_t {
    hp_access_log_format_t format;
    int fd;       /* -1 when off */
    int is_owned; /* we opened fd (else it is stderr's) */
    int is_pipe;  /* written PIPE_BUF bytes of whole lines at a time: atomic, never torn */
};

struct st_hp_http_access_log_loop_t {
    hp_http_access_log_t *log;
    char *buf;
    size_t len;
    char id_prefix[ID_PREFIX_LEN];
    uint64_t id_count;
    uint64_t dropped; /* lines lost to a full pipe or a failed write */
    /* The timestamp's text up to the seconds, redone when the second changes. */
    time_t time_sec;
    char time_text[40];
    size_t time_len;
};

/* A request whose line is owed: a prefilter (it sees the response's headers as the response
 * starts) in the request's pool, written out by a dispose callback. */
typedef struct {
    h2o_req_prefilter_t super;
    hp_http_access_log_loop_t *loop;
    h2o_req_t *req;
    h2o_iovec_t request_id;
    const char *cache; /* from Cache-Status, NULL when the response had none */
    uint64_t started_ns;
    /* The client's address, read as the request starts: by the time a request whose client
     * went away is disposed, its socket may be gone. h2o caches it per connection. */
    struct sockaddr_storage peer;
    socklen_t peer_len;
} pending_t;

static const char hex[] = "0123456789abcdef";

/* --- validation --- */

int hp_http_request_id_is_valid(const char *s, size_t len)
{
    if (len == 0 || len > HP_REQUEST_ID_MAX_LEN)
        return 0;
    for (size_t i = 0; i != len; ++i)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

static int is_lower_hex(const char *s, size_t len, int may_be_zero)
{
    int is_zero = 1;
    for (size_t i = 0; i != len; ++i) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
        is_zero &= s[i] == '0';
    }
    return may_be_zero || !is_zero;
}

/* version "-" trace-id "-" parent-id "-" trace-flags: 2, 32, 16 and 2 lowercase hex digits. */
int hp_http_traceparent_is_valid(const char *s, size_t len)
{
    if (len < TRACEPARENT_LEN || s[2] != '-' || s[35] != '-' || s[52] != '-')
        return 0;
    if (!is_lower_hex(s, 2, 1) || memcmp(s, "ff", 2) == 0 || !is_lower_hex(s + 3, 32, 0) ||
        !is_lower_hex(s + 36, 16, 0) || !is_lower_hex(s + 53, 2, 1))
        return 0;
    if (memcmp(s, "00", 2) == 0)
        return len == TRACEPARENT_LEN;
    return len == TRACEPARENT_LEN || s[TRACEPARENT_LEN] == '-';
}

/* --- lifecycle --- */

/* Our own open file description of stderr when it is a pipe, so it can be non-blocking
 * without changing the one the parent process shares; else stderr itself. */
static int open_stderr(hp_http_access_log_t *log)
{
    struct stat st;
    if (fstat(STDERR_FILENO, &st) == 0 && S_ISFIFO(st.st_mode)) {
        int fd = open("/proc/self/fd/2", O_WRONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd != -1) {
            log->is_owned = 1;
            return fd;
        }
    }
    return STDERR_FILENO;
}

hp_http_access_log_t *hp_http_access_log_create(hp_access_log_format_t format, const char *path,
                                                char *errbuf, size_t errlen)
{
    hp_http_access_log_t *log = calloc(1, sizeof(*log));
    if (log == NULL)
        abort();
    log->format = format;
    log->fd = -1;
    if (format == HP_ACCESS_LOG_OFF)
        return log;
    if (strcmp(path, "-") == 0) {
        log->fd = open_stderr(log);
    } else {
        /* O_NONBLOCK: a FIFO without a reader is an error now, and a full one never blocks a
         * loop; a regular file does not care. */
        log->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0644);
        if (log->fd == -1) {
            snprintf(errbuf, errlen, "log-access-file %s: %s", path, strerror(errno));
            free(log);
            return NULL;
        }
        log->is_owned = 1;
    }
    struct stat st;
    log->is_pipe = fstat(log->fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
    return log;
}

void hp_http_access_log_destroy(hp_http_access_log_t *log)
{
    if (log == NULL)
        return;
    if (log->is_owned)
        close(log->fd);
    free(log);
}

/* 48 random bits per loop keep made ids apart across loops and restarts. */
static void make_id_prefix(char *out)
{
    uint64_t r;
    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
        r = hp_time_mono_ns() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)out;
    for (int i = 0; i != 12; ++i)
        out[i] = hex[(r >> (4 * i)) & 0xf];
    out[12] = '-';
}

hp_http_access_log_loop_t *hp_http_access_log_loop_create(hp_http_access_log_t *log)
{
    hp_http_access_log_loop_t *l = calloc(1, sizeof(*l));
    if (l == NULL)
        abort();
    l->log = log;
    l->time_sec = -1;
    make_id_prefix(l->id_prefix);
    if (log->format != HP_ACCESS_LOG_OFF && (l->buf = malloc(BUF_CAP)) == NULL)
        abort();
    return l;
}

/* --- writing --- */

static size_t count_lines(const char *s, size_t len)
{
    size_t n = 0;
    for (const char *end = s + len; (s = memchr(s, '\n', (size_t)(end - s))) != NULL; ++s)
        ++n;
    return n;
}

static void drop(hp_http_access_log_loop_t *l, size_t lines, const char *why)
{
    if (l->dropped == 0)
        hp_log_warn("access log: dropping lines: %s", why);
    l->dropped += lines;
}

/* How much of buf to hand to one write(2): all of it for a file; for a pipe at most PIPE_BUF
 * bytes ending with a whole line, so the write is atomic (a line longer than that goes alone). */
static size_t chunk_len(const hp_http_access_log_loop_t *l, const char *buf, size_t len)
{
    if (!l->log->is_pipe || len <= PIPE_BUF)
        return len;
    for (size_t n = PIPE_BUF; n != 0; --n)
        if (buf[n - 1] == '\n')
            return n;
    const char *nl = memchr(buf, '\n', len);
    return nl != NULL ? (size_t)(nl - buf) + 1 : len;
}

void hp_http_access_log_flush(hp_http_access_log_loop_t *l)
{
    if (l->len == 0)
        return;
    size_t done = 0;
    while (done != l->len) {
        ssize_t w = write(l->log->fd, l->buf + done, chunk_len(l, l->buf + done, l->len - done));
        if (w > 0) {
            done += (size_t)w;
        } else if (w == -1 && errno == EINTR) {
            continue;
        } else if (w == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break; /* a full pipe: the rest waits for the next tick */
        } else {
            drop(l, count_lines(l->buf + done, l->len - done),
                 w == -1 ? strerror(errno) : "short write");
            done = l->len;
        }
    }
    memmove(l->buf, l->buf + done, l->len - done);
    l->len -= done;
}

void hp_http_access_log_loop_destroy(hp_http_access_log_loop_t *l)
{
    if (l == NULL)
        return;
    hp_http_access_log_flush(l);
    if (l->len != 0) /* a pipe still full at exit: not waited for */
        drop(l, count_lines(l->buf, l->len), "the output is full at exit");
    if (l->dropped != 0)
        hp_log_warn("access log: %llu lines were dropped", (unsigned long long)l->dropped);
    free(l->buf);
    free(l);
}

/* Where the next line goes, with MAX_LINE bytes free, or NULL (the line is dropped). */
static char *reserve_line(hp_http_access_log_loop_t *l)
{
    if (BUF_CAP - l->len < MAX_LINE)
        hp_http_access_log_flush(l);
    if (BUF_CAP - l->len < MAX_LINE) {
        drop(l, 1, "the output does not keep up");
        return NULL;
    }
    return l->buf + l->len;
}

/* --- fields --- */

static char *put(char *p, const char *s, size_t len)
{
    memcpy(p, s, len);
    return p + len;
}

#define PUT_LIT(p, s) put((p), (s), sizeof(s) - 1)

/* Up to cap bytes of s ("..." marks a cut) as the inside of a JSON string: '"', '\' and every
 * byte outside 0x20..0x7e escaped, so a line is valid JSON whatever the client sent. */
static char *put_json_chars(char *p, const char *s, size_t len, size_t cap)
{
    size_t n = len < cap ? len : cap;
    for (size_t i = 0; i != n; ++i) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = (char)c;
        } else if (c < 0x20 || c > 0x7e) {
            p = PUT_LIT(p, "\\u00");
            *p++ = hex[c >> 4];
            *p++ = hex[c & 0xf];
        } else {
            *p++ = (char)c;
        }
    }
    return n != len ? PUT_LIT(p, "...") : p;
}

/* A JSON string, or null when s is NULL. */
static char *put_json_string(char *p, const char *s, size_t len, size_t cap)
{
    if (s == NULL)
        return PUT_LIT(p, "null");
    *p++ = '"';
    p = put_json_chars(p, s, len, cap);
    *p++ = '"';
    return p;
}

/* The same for a quoted field of the combined format, as Apache escapes: \" \\ and \xhh. */
static char *put_log_chars(char *p, const char *s, size_t len, size_t cap)
{
    size_t n = len < cap ? len : cap;
    for (size_t i = 0; i != n; ++i) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = (char)c;
        } else if (c < 0x20 || c > 0x7e) {
            p = PUT_LIT(p, "\\x");
            *p++ = hex[c >> 4];
            *p++ = hex[c & 0xf];
        } else {
            *p++ = (char)c;
        }
    }
    return n != len ? PUT_LIT(p, "...") : p;
}

/* A quoted combined-format field, "-" when s is NULL. */
static char *put_log_quoted(char *p, const char *s, size_t len, size_t cap)
{
    *p++ = '"';
    p = s != NULL ? put_log_chars(p, s, len, cap) : PUT_LIT(p, "-");
    *p++ = '"';
    return p;
}

static const char *const months[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* The loop's cached time text for now_ms's second (UTC): 2006-01-02T15:04:05 for JSON,
 * 02/Jan/2006:15:04:05 +0000 for the combined format. */
static void refresh_time(hp_http_access_log_loop_t *l, uint64_t now_ms)
{
    time_t sec = (time_t)(now_ms / 1000);
    if (sec == l->time_sec)
        return;
    struct tm tm;
    gmtime_r(&sec, &tm);
    int n = l->log->format == HP_ACCESS_LOG_JSON
                ? snprintf(l->time_text, sizeof(l->time_text), "%04d-%02d-%02dT%02d:%02d:%02d",
                           tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                           tm.tm_sec)
                : snprintf(l->time_text, sizeof(l->time_text), "%02d/%s/%04d:%02d:%02d:%02d +0000",
                           tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                           tm.tm_sec);
    l->time_len = n > 0 ? (size_t)n : 0;
    l->time_sec = sec;
}

/* The client's address as text, "-" when unknown. */
static char *put_peer(char *p, const pending_t *pd)
{
    const struct sockaddr_storage *ss = &pd->peer;
    const void *addr = NULL;
    if (pd->peer_len != 0 && ss->ss_family == AF_INET)
        addr = &((const struct sockaddr_in *)ss)->sin_addr;
    else if (pd->peer_len != 0 && ss->ss_family == AF_INET6)
        addr = &((const struct sockaddr_in6 *)ss)->sin6_addr;
    char text[INET6_ADDRSTRLEN];
    if (addr == NULL || inet_ntop(ss->ss_family, addr, text, sizeof(text)) == NULL)
        return PUT_LIT(p, "-");
    return put(p, text, strlen(text));
}

/* "HTTP/1.1" or "HTTP/2" */
static char *put_protocol(char *p, int version)
{
    p = PUT_LIT(p, "HTTP/");
    *p++ = (char)('0' + ((version >> 8) & 0xf));
    if (version < 0x200) {
        *p++ = '.';
        *p++ = (char)('0' + (version & 0xf));
    }
    return p;
}

/* The request header's first value, or {NULL, 0}. */
static h2o_iovec_t header_of(h2o_req_t *req, const h2o_token_t *token)
{
    ssize_t i = h2o_find_header(&req->headers, token, -1);
    return i != -1 ? req->headers.entries[i].value : h2o_iovec_init(NULL, 0);
}

/* The request's valid traceparent (its first 55 bytes, the part every version shares), or
 * {NULL, 0}. */
static h2o_iovec_t traceparent_of(h2o_req_t *req)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("traceparent"), -1);
    if (i == -1)
        return h2o_iovec_init(NULL, 0);
    h2o_iovec_t v = req->headers.entries[i].value;
    if (!hp_http_traceparent_is_valid(v.base, v.len))
        return h2o_iovec_init(NULL, 0);
    return h2o_iovec_init(v.base, TRACEPARENT_LEN);
}

/* What the response's Cache-Status says, in one word: hit, stale, collapsed, or its fwd
 * parameter (miss, request, bypass, method). NULL when there is none. */
static const char *cache_word(h2o_iovec_t v)
{
    static const char *const fwds[] = {"miss", "request", "bypass", "method"};
    if (h2o_strstr(v.base, v.len, H2O_STRLIT("fwd=stale")) != SIZE_MAX)
        return "stale";
    if (h2o_strstr(v.base, v.len, H2O_STRLIT("; hit")) != SIZE_MAX)
        return "hit";
    if (h2o_strstr(v.base, v.len, H2O_STRLIT("collapsed")) != SIZE_MAX)
        return "collapsed";
    size_t at = h2o_strstr(v.base, v.len, H2O_STRLIT("fwd="));
    for (size_t i = 0; at != SIZE_MAX && i != sizeof(fwds) / sizeof(fwds[0]); ++i) {
        size_t n = strlen(fwds[i]);
        if (v.len - (at + 4) >= n && memcmp(v.base + at + 4, fwds[i], n) == 0)
            return fwds[i];
    }
    return NULL;
}

/* --- lines --- */

typedef struct {
    uint64_t now_ms, duration_us;
    h2o_iovec_t traceparent, user_agent;
} line_facts_t;

static char *put_json_line(char *p, hp_http_access_log_loop_t *l, const pending_t *pd,
                           const line_facts_t *f)
{
    h2o_req_t *req = pd->req;
    p = PUT_LIT(p, "{\"ts\":\"");
    p = put(p, l->time_text, l->time_len);
    *p++ = '.';
    *p++ = (char)('0' + f->now_ms % 1000 / 100);
    *p++ = (char)('0' + f->now_ms % 100 / 10);
    *p++ = (char)('0' + f->now_ms % 10);
    p = PUT_LIT(p, "Z\",\"request_id\":");
    p = put_json_string(p, pd->request_id.base, pd->request_id.len, HP_REQUEST_ID_MAX_LEN);
    p = PUT_LIT(p, ",\"remote_addr\":\"");
    p = put_peer(p, pd);
    p = PUT_LIT(p, "\",\"method\":");
    p = put_json_string(p, req->method.base, req->method.len, MAX_METHOD_LOGGED);
    p = PUT_LIT(p, ",\"path\":");
    p = put_json_string(p, req->path.base, req->path.len, MAX_PATH_LOGGED);
    p = PUT_LIT(p, ",\"protocol\":\"");
    p = put_protocol(p, req->version);
    p = PUT_LIT(p, "\",\"status\":");
    p = hp_http_put_uint(p, (uint64_t)(req->res.status > 0 ? req->res.status : 0));
    p = PUT_LIT(p, ",\"bytes\":");
    p = hp_http_put_uint(p, req->bytes_sent);
    p = PUT_LIT(p, ",\"duration_us\":");
    p = hp_http_put_uint(p, f->duration_us);
    p = PUT_LIT(p, ",\"cache\":");
    p = put_json_string(p, pd->cache, pd->cache != NULL ? strlen(pd->cache) : 0, 16);
    p = PUT_LIT(p, ",\"traceparent\":");
    p = put_json_string(p, f->traceparent.base, f->traceparent.len, TRACEPARENT_LEN);
    p = PUT_LIT(p, ",\"user_agent\":");
    p = put_json_string(p, f->user_agent.base, f->user_agent.len, MAX_HEADER_LOGGED);
    return PUT_LIT(p, "}\n");
}

/* Apache's combined format, then the request id, duration, cache word and traceparent:
 * 127.0.0.1 - - [02/Jan/2006:15:04:05 +0000] "GET /t?x=1 HTTP/1.1" 200 42 "-" "curl/8"
 *     rid="..." dur_us=57 cache=hit traceparent=- */
static char *put_combined_line(char *p, hp_http_access_log_loop_t *l, const pending_t *pd,
                               const line_facts_t *f)
{
    h2o_req_t *req = pd->req;
    h2o_iovec_t referer = header_of(req, H2O_TOKEN_REFERER);
    p = put_peer(p, pd);
    p = PUT_LIT(p, " - - [");
    p = put(p, l->time_text, l->time_len);
    p = PUT_LIT(p, "] \"");
    p = put_log_chars(p, req->method.base, req->method.len, MAX_METHOD_LOGGED);
    *p++ = ' ';
    p = put_log_chars(p, req->path.base, req->path.len, MAX_PATH_LOGGED);
    *p++ = ' ';
    p = put_protocol(p, req->version);
    p = PUT_LIT(p, "\" ");
    p = hp_http_put_uint(p, (uint64_t)(req->res.status > 0 ? req->res.status : 0));
    *p++ = ' ';
    p = req->bytes_sent != 0 ? hp_http_put_uint(p, req->bytes_sent) : PUT_LIT(p, "-");
    *p++ = ' ';
    p = put_log_quoted(p, referer.base, referer.len, MAX_HEADER_LOGGED);
    *p++ = ' ';
    p = put_log_quoted(p, f->user_agent.base, f->user_agent.len, MAX_HEADER_LOGGED);
    p = PUT_LIT(p, " rid=");
    p = put_log_quoted(p, pd->request_id.base, pd->request_id.len, HP_REQUEST_ID_MAX_LEN);
    p = PUT_LIT(p, " dur_us=");
    p = hp_http_put_uint(p, f->duration_us);
    p = PUT_LIT(p, " cache=");
    p = pd->cache != NULL ? put(p, pd->cache, strlen(pd->cache)) : PUT_LIT(p, "-");
    p = PUT_LIT(p, " traceparent=");
    p = f->traceparent.base != NULL ? put(p, f->traceparent.base, f->traceparent.len)
                                    : PUT_LIT(p, "-");
    return PUT_LIT(p, "\n");
}

/* h2o is done with the request (answered, or the client went away): its line. Runs while
 * the request's pool is cleared; it reads only the request's own fields and headers, which
 * outlive everything allocated after pending_t was. */
static void on_request_disposed(void *ref)
{
    pending_t *pd = *(pending_t **)ref;
    hp_http_access_log_loop_t *l = pd->loop;
    uint64_t duration_ns = hp_time_mono_ns() - pd->started_ns;
    char *start = reserve_line(l);
    if (start == NULL)
        return;
    line_facts_t f = {.now_ms = hp_time_real_ms(),
                      .duration_us = duration_ns / 1000,
                      .traceparent = traceparent_of(pd->req),
                      .user_agent = header_of(pd->req, H2O_TOKEN_USER_AGENT)};
    refresh_time(l, f.now_ms);
    char *end = l->log->format == HP_ACCESS_LOG_JSON ? put_json_line(start, l, pd, &f)
                                                     : put_combined_line(start, l, pd, &f);
    l->len += (size_t)(end - start);
}

/* The response is starting: every header is set, none freed yet. */
static void on_response_start(h2o_req_prefilter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    pending_t *pd = (pending_t *)self;
    ssize_t i = h2o_find_header_by_str(&req->res.headers, H2O_STRLIT("cache-status"), -1);
    if (i != -1)
        pd->cache = cache_word(req->res.headers.entries[i].value);
    h2o_setup_next_prefilter(self, req, slot);
}

/* --- per request --- */

static h2o_iovec_t make_id(hp_http_access_log_loop_t *l, h2o_mem_pool_t *pool)
{
    char *s = h2o_mem_alloc_pool(pool, ID_PREFIX_LEN + 16);
    char *p = put(s, l->id_prefix, ID_PREFIX_LEN);
    uint64_t n = ++l->id_count;
    int digits = 1;
    while (digits != 16 && (n >> (4 * digits)) != 0)
        ++digits;
    while (digits-- != 0)
        *p++ = hex[(n >> (4 * digits)) & 0xf];
    return h2o_iovec_init(s, (size_t)(p - s));
}

h2o_iovec_t hp_http_access_log_tag(hp_http_access_log_loop_t *l, h2o_req_t *req)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-request-id"), -1);
    h2o_iovec_t id = i != -1 ? req->headers.entries[i].value : h2o_iovec_init(NULL, 0);
    if (!hp_http_request_id_is_valid(id.base, id.len))
        id = make_id(l, &req->pool);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL,
                          id.base, id.len);
    return id;
}

void hp_http_access_log_begin(hp_http_access_log_loop_t *l, h2o_req_t *req, uint64_t started_ns)
{
    h2o_iovec_t id = hp_http_access_log_tag(l, req);
    if (l->log->format == HP_ACCESS_LOG_OFF)
        return;
    pending_t *pd = (pending_t *)h2o_add_prefilter(req, sizeof(*pd));
    pd->super.on_setup_ostream = on_response_start;
    pd->loop = l;
    pd->req = req;
    pd->request_id = id;
    pd->cache = NULL;
    pd->started_ns = started_ns;
    pd->peer_len = req->conn->callbacks->get_peername != NULL
                       ? req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&pd->peer)
                       : 0;
    pending_t **ref = h2o_mem_alloc_shared(&req->pool, sizeof(*ref), on_request_disposed);
    *ref = pd;
}
