/*
 * bench/loadgen_http: an incremental parser for one HTTP/1.x response, as bench/loadgen reads
 * it from a socket in pieces of any size. It finds where the response ends (Content-Length,
 * chunked transfer coding, or the end of the connection), the status, whether the server will
 * close the connection, and counts the bytes: on the wire (status line, headers, body and
 * chunk framing) and of the body alone. It keeps no body bytes and no headers.
 *
 * One parser per connection, reused (init) for each response; no allocation.
 */
#ifndef HP_BENCH_LOADGEN_HTTP_H
#define HP_BENCH_LOADGEN_HTTP_H

#include <stddef.h>
#include <stdint.h>

/* The longest status line, header line or chunk-size line accepted. */
#define LG_HTTP_LINE_MAX 8192

typedef enum {
    LG_HTTP_STATUS_LINE,
    LG_HTTP_HEADERS,
    LG_HTTP_BODY,        /* Content-Length bytes */
    LG_HTTP_BODY_TO_EOF, /* neither length nor chunked: the body ends with the connection */
    LG_HTTP_CHUNK_SIZE,
    LG_HTTP_CHUNK_DATA,
    LG_HTTP_CHUNK_END, /* the CRLF after a chunk's data */
    LG_HTTP_TRAILERS,
    LG_HTTP_DONE,
    LG_HTTP_ERROR
} lg_http_state_t;

typedef struct {
    lg_http_state_t state;
    int status;      /* of the final (non-1xx) response */
    int is_head;     /* the request was HEAD: no body, whatever the headers say */
    int is_chunked;  /* Transfer-Encoding ends in chunked */
    int has_length;  /* a Content-Length header was seen */
    int wants_close; /* Connection: close, HTTP/1.0 without keep-alive, or a body to EOF */
    int is_http10;
    uint64_t content_length;
    uint64_t remaining; /* body or chunk bytes still to come */
    uint64_t body_len;  /* body bytes (chunk data only, for chunked) */
    uint64_t wire_len;  /* every byte consumed for this response */
    const char *error;  /* a static description when state is LG_HTTP_ERROR */
    size_t line_len;
    char line[LG_HTTP_LINE_MAX];
} lg_http_response_t;

/* Prepares r for the next response; is_head says whether it answers a HEAD request. */
void lg_http_response_init(lg_http_response_t *r, int is_head);
/* Consumes up to len bytes of the response and returns how many it took. It takes fewer only
 * when the response ended (state LG_HTTP_DONE: the rest belongs to whatever comes next) or is
 * malformed (LG_HTTP_ERROR, with r->error set); once in either state it takes nothing more. */
size_t lg_http_response_feed(lg_http_response_t *r, const char *data, size_t len);
/* The peer closed the connection. Returns 0 if that completes the response (a body delimited
 * by the close, or a response already done); otherwise the response is truncated: the state
 * becomes LG_HTTP_ERROR and it returns -1. */
int lg_http_response_eof(lg_http_response_t *r);

#endif
