/*
 * Request ids and the access log.
 *
 * Every request the API or admin handler takes gets a request id: the client's X-Request-Id
 * when it is sane (1 to 128 visible ASCII characters), else one made here (a random prefix per
 * loop and that loop's counter), and every response carries it back in X-Request-Id. With
 * log-access on, each API request also leaves one line, written when h2o disposes of the
 * request (as the metrics count it): Apache's combined format followed by
 * `rid="..." dur_us=N cache=... traceparent=...`, or one JSON object per line (ts, request_id,
 * remote_addr, method, path, protocol, status, bytes, duration_us, cache, traceparent,
 * user_agent). A W3C traceparent request header is logged when its format is valid.
 *
 * Threads: the hp_http_access_log_t (the output file) is created before the loops start and
 * destroyed after they stop. Each loop owns one hp_http_access_log_loop_t (its line buffer and
 * its id counter), used only on that loop's thread. Lines are buffered per loop and written
 * with write(2), whole lines at a time, to a file opened O_APPEND, when the buffer fills, on
 * the loop's tick and when the loop stops; a pipe is written without blocking (a line that
 * finds the pipe full and the buffer full is dropped and counted, never waited for).
 */
#ifndef HP_HTTP_ACCESS_LOG_H
#define HP_HTTP_ACCESS_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <h2o.h>

/* The choices of log-access, in the config table's order. */
typedef enum {
    HP_ACCESS_LOG_OFF,
    HP_ACCESS_LOG_COMBINED,
    HP_ACCESS_LOG_JSON
} hp_access_log_format_t;

/* The longest client X-Request-Id kept (longer ones are replaced). */
#define HP_REQUEST_ID_MAX_LEN 128

typedef struct st_hp_http_access_log_t hp_http_access_log_t;
typedef struct st_hp_http_access_log_loop_t hp_http_access_log_loop_t;

/* --- lifecycle --- */

/* Opens the log: path "-" is stderr, anything else a file opened for appending (created
 * 0644). format HP_ACCESS_LOG_OFF opens nothing (request ids still work). Returns NULL with
 * "log-access-file PATH: why" in errbuf when the file cannot be opened. */
hp_http_access_log_t *hp_http_access_log_create(hp_access_log_format_t format, const char *path,
                                                char *errbuf, size_t errlen);
/* Call after every loop's buffer was destroyed. */
void hp_http_access_log_destroy(hp_http_access_log_t *log);

/* One loop's buffer and id generator; log is borrowed and must outlive it. Aborts when out
 * of memory. */
hp_http_access_log_loop_t *hp_http_access_log_loop_create(hp_http_access_log_t *log);
/* Writes what is still buffered, then frees. Call on the owning thread, or once it stopped. */
void hp_http_access_log_loop_destroy(hp_http_access_log_loop_t *l);

/* --- on the owning loop's thread --- */

/* Writes the buffered lines (cheap when there are none). Call every few milliseconds. */
void hp_http_access_log_flush(hp_http_access_log_loop_t *l);
/* Gives the request its id (adds the X-Request-Id response header) and returns it (in the
 * request's pool, or the request's own header). Call before anything is sent. */
h2o_iovec_t hp_http_access_log_tag(hp_http_access_log_loop_t *l, h2o_req_t *req);
/* hp_http_access_log_tag, and with log-access on, arranges the request's line: it is written
 * when the request is disposed, with its duration counted from started_ns (hp_time_mono_ns). */
void hp_http_access_log_begin(hp_http_access_log_loop_t *l, h2o_req_t *req, uint64_t started_ns);

/* --- validation (pure; any thread) --- */

/* Whether a client's X-Request-Id is kept: 1 to HP_REQUEST_ID_MAX_LEN bytes, each visible
 * ASCII (0x21 to 0x7e). */
int hp_http_request_id_is_valid(const char *s, size_t len);
/* Whether s is a W3C trace-context traceparent: version-traceid-parentid-flags in lowercase
 * hex, version not ff, ids not all zero; version 00 is exactly 55 bytes, a later version may
 * go on after a '-'. */
int hp_http_traceparent_is_valid(const char *s, size_t len);

#endif
