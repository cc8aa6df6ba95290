/*
 * bench/loadgen_http: the HTTP/1.x response parser of loadgen_http.h (RFC 9112). Line-based
 * parts (status line, header fields, chunk sizes, trailers) are gathered into r->line, which
 * may span any number of reads; bodies and chunk data are only counted.
 */
#include "loadgen_http.h"

#include <string.h>
#include <strings.h>

void lg_http_response_init(lg_http_response_t *r, int is_head)
{
    memset(r, 0, offsetof(lg_http_response_t, line));
    r->state = LG_HTTP_STATUS_LINE;
    r->is_head = is_head;
}

static void fail(lg_http_response_t *r, const char *why)
{
    r->state = LG_HTTP_ERROR;
    r->error = why;
}

/* status-line = "HTTP/1." DIGIT SP 3DIGIT [ SP reason-phrase ] */
static void parse_status_line(lg_http_response_t *r, const char *line)
{
    if (strncmp(line, "HTTP/1.", 7) != 0 || line[7] < '0' || line[7] > '9' || line[8] != ' ') {
        fail(r, "not an HTTP/1.x status line");
        return;
    }
    const char *code = line + 9;
    for (int i = 0; i != 3; ++i)
        if (code[i] < '0' || code[i] > '9') {
            fail(r, "bad status code");
            return;
        }
    if (code[3] != '\0' && code[3] != ' ') {
        fail(r, "bad status code");
        return;
    }
    r->status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
    r->is_http10 = line[7] == '0';
    r->state = LG_HTTP_HEADERS;
}

/* Content-Length = 1*DIGIT; a repeated header must repeat the same value. */
static void parse_content_length(lg_http_response_t *r, const char *value)
{
    uint64_t n = 0;
    size_t digits = 0;
    for (; *value >= '0' && *value <= '9'; ++value, ++digits) {
        if (digits == 18) {
            fail(r, "Content-Length too large");
            return;
        }
        n = n * 10 + (uint64_t)(*value - '0');
    }
    if (digits == 0 || *value != '\0' || (r->has_length && r->content_length != n)) {
        fail(r, "bad Content-Length");
        return;
    }
    r->has_length = 1;
    r->content_length = n;
}

/* Whether a comma-separated list ends in `token` (case-insensitive): chunked must be the last
 * transfer coding. */
static int list_ends_with(const char *value, const char *token)
{
    size_t len = strlen(value), token_len = strlen(token);
    return len >= token_len && strcasecmp(value + len - token_len, token) == 0 &&
           (len == token_len || value[len - token_len - 1] == ' ' ||
            value[len - token_len - 1] == ',');
}

/* header-field = field-name ":" OWS field-value OWS. Only the fields that frame the body or
 * the connection matter here; the rest are skipped. */
static void parse_header(lg_http_response_t *r, char *line)
{
    char *colon = strchr(line, ':');
    if (colon == NULL || colon == line) {
        fail(r, "bad header line");
        return;
    }
    size_t name_len = (size_t)(colon - line);
    char *value = colon + 1;
    while (*value == ' ' || *value == '\t')
        ++value;
    char *end = value + strlen(value);
    while (end != value && (end[-1] == ' ' || end[-1] == '\t'))
        *--end = '\0';
#define NAME_IS(lit) (name_len == sizeof(lit) - 1 && strncasecmp(line, lit, name_len) == 0)
    if (NAME_IS("content-length"))
        parse_content_length(r, value);
    else if (NAME_IS("transfer-encoding"))
        r->is_chunked = list_ends_with(value, "chunked");
    else if (NAME_IS("connection") && strcasestr(value, "close") != NULL)
        r->wants_close = 1;
    else if (NAME_IS("connection") && strcasestr(value, "keep-alive") != NULL && r->is_http10)
        r->is_http10 = 0; /* an HTTP/1.0 response that keeps the connection open */
#undef NAME_IS
}

/* The empty line after the header fields: decides how the body is delimited (RFC 9112 6.3). */
static void end_headers(lg_http_response_t *r)
{
    if (r->status >= 100 && r->status < 200 && r->status != 101) {
        /* An interim response (100 Continue, 103 Early Hints): the real one follows. */
        uint64_t wire_len = r->wire_len;
        lg_http_response_init(r, r->is_head);
        r->wire_len = wire_len;
        return;
    }
    if (r->is_http10)
        r->wants_close = 1;
    if (r->is_head || r->status == 204 || r->status == 304 || r->status == 101) {
        r->state = LG_HTTP_DONE;
    } else if (r->is_chunked) {
        r->state = LG_HTTP_CHUNK_SIZE;
    } else if (r->has_length) {
        r->remaining = r->content_length;
        r->state = r->remaining == 0 ? LG_HTTP_DONE : LG_HTTP_BODY;
    } else {
        r->state = LG_HTTP_BODY_TO_EOF;
        r->wants_close = 1;
    }
}

/* chunk-size = 1*HEXDIG [ chunk-ext ]; a zero size starts the trailers. */
static void parse_chunk_size(lg_http_response_t *r, const char *line)
{
    uint64_t n = 0;
    size_t digits = 0;
    for (;; ++line, ++digits) {
        int d;
        if (*line >= '0' && *line <= '9')
            d = *line - '0';
        else if ((*line | 0x20) >= 'a' && (*line | 0x20) <= 'f')
            d = (*line | 0x20) - 'a' + 10;
        else
            break;
        if (digits == 15) {
            fail(r, "chunk size too large");
            return;
        }
        n = n * 16 + (uint64_t)d;
    }
    if (digits == 0 || (*line != '\0' && *line != ';' && *line != ' ' && *line != '\t')) {
        fail(r, "bad chunk size");
        return;
    }
    r->remaining = n;
    r->state = n == 0 ? LG_HTTP_TRAILERS : LG_HTTP_CHUNK_DATA;
}

/* One complete line (CRLF or LF removed) in the state that expects it. */
static void process_line(lg_http_response_t *r, char *line)
{
    switch (r->state) {
    case LG_HTTP_STATUS_LINE: parse_status_line(r, line); break;
    case LG_HTTP_HEADERS:
        if (*line == '\0')
            end_headers(r);
        else
            parse_header(r, line);
        break;
    case LG_HTTP_CHUNK_SIZE: parse_chunk_size(r, line); break;
    case LG_HTTP_CHUNK_END:
        if (*line == '\0')
            r->state = LG_HTTP_CHUNK_SIZE;
        else
            fail(r, "no CRLF after chunk data");
        break;
    case LG_HTTP_TRAILERS:
        if (*line == '\0')
            r->state = LG_HTTP_DONE;
        break;
    default: fail(r, "internal: line in a body state"); break;
    }
}

/* Gathers bytes up to and including the next LF into r->line and processes the line once it is
 * complete. Returns the bytes taken (0 on error). */
static size_t take_line(lg_http_response_t *r, const char *data, size_t len)
{
    const char *lf = memchr(data, '\n', len);
    size_t n = lf != NULL ? (size_t)(lf - data) + 1 : len;
    if (r->line_len + n >= sizeof(r->line)) {
        fail(r, "line too long");
        return 0;
    }
    memcpy(r->line + r->line_len, data, n);
    r->line_len += n;
    if (lf == NULL)
        return n;
    size_t end = r->line_len - 1;
    if (end != 0 && r->line[end - 1] == '\r')
        --end;
    r->line[end] = '\0';
    r->line_len = 0;
    process_line(r, r->line);
    return n;
}

/* Counts body or chunk bytes against r->remaining. */
static size_t take_body(lg_http_response_t *r, size_t len)
{
    size_t n = r->remaining < len ? (size_t)r->remaining : len;
    r->remaining -= n;
    r->body_len += n;
    if (r->remaining == 0)
        r->state = r->state == LG_HTTP_BODY ? LG_HTTP_DONE : LG_HTTP_CHUNK_END;
    return n;
}

size_t lg_http_response_feed(lg_http_response_t *r, const char *data, size_t len)
{
    size_t used = 0;
    while (used != len && r->state != LG_HTTP_DONE && r->state != LG_HTTP_ERROR) {
        size_t n;
        if (r->state == LG_HTTP_BODY || r->state == LG_HTTP_CHUNK_DATA) {
            n = take_body(r, len - used);
        } else if (r->state == LG_HTTP_BODY_TO_EOF) {
            n = len - used;
            r->body_len += n;
        } else {
            n = take_line(r, data + used, len - used);
        }
        used += n;
        r->wire_len += n;
    }
    return used;
}

int lg_http_response_eof(lg_http_response_t *r)
{
    if (r->state == LG_HTTP_BODY_TO_EOF)
        r->state = LG_HTTP_DONE;
    if (r->state == LG_HTTP_DONE)
        return 0;
    if (r->state != LG_HTTP_ERROR)
        fail(r, "connection closed before the response ended");
    return -1;
}
