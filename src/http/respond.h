/*
 * Turning results into HTTP responses: status codes, PostgREST's headers (Content-Range,
 * Location, Preference-Applied, Content-Type) and bodies. Every error response is written by
 * hp_http_respond_error. Event-loop threads only.
 */
#ifndef HP_HTTP_RESPOND_H
#define HP_HTTP_RESPOND_H

#include <h2o.h>
#include "cache/cache.h"
#include "core/error.h"
#include "db/exec.h"
#include "query/query.h"

/* --- building blocks (also for http/caching.c and http/api.c) --- */

/* The request header's first value, or {NULL, 0}. */
h2o_iovec_t hp_http_header_value(h2o_req_t *req, const h2o_token_t *token);
/* Adds a response header; name and value are borrowed (they must live as long as the request). */
void hp_http_add_header(h2o_req_t *req, const h2o_token_t *token, const char *value, size_t len);
void hp_http_add_header_str(h2o_req_t *req, const char *name, size_t name_len, const char *value,
                            size_t len);
/* Hands malloc'd memory to the request: it is freed when the request is disposed. */
void hp_http_own(h2o_req_t *req, void *p);
/* A hash of the client's address without the port (a client's connections share it, on
 * whichever loop they landed), never 0: the one client key the per-client features start from
 * (read-your-writes routing, rate limits, the per-client job count). */
uint64_t hp_http_peer_hash(h2o_req_t *req);
/* Writes n in decimal at p (at most 20 bytes, no NUL); returns the end. Used instead of printf
 * for the numbers in every response's headers. */
char *hp_http_put_uint(char *p, uint64_t n);

/* --- answers --- */

/* Answers with the PostgREST-shaped error body and the error's status. */
void hp_http_respond_error(h2o_req_t *req, const hp_error_t *err);
/* Sets err (allocated in req->pool) and answers with it. */
void hp_http_respond_errorf(h2o_req_t *req, hp_errcode_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A successful read's status (200 or 206) and the headers of its representation
 * (content-range, content-type, preference-applied; at most 3, values in pool). A range
 * past a known total: status 416, headers = content-range only, err set, returns -1. */
int hp_http_read_meta(h2o_mem_pool_t *pool, const hp_plan_t *plan, const hp_exec_result_t *result,
                      int *status, hp_cache_header_t *headers, size_t *header_count,
                      hp_error_t *err);
/* A finished write's status and headers, PostgREST's (location, content-range,
 * preference-applied, content-type: at most HP_HTTP_WRITE_HEADERS, values in pool).
 * return_stated: the client's Prefer said return=... Returns whether it has a body. */
#define HP_HTTP_WRITE_HEADERS 4
int hp_http_write_meta(h2o_mem_pool_t *pool, const hp_plan_t *plan, hp_method_t method,
                       int return_stated, const hp_exec_result_t *result, int *status,
                       hp_cache_header_t *headers, size_t *header_count);
/* Answers a finished write. Takes the result's body (result->body is left empty). */
void hp_http_respond_write(h2o_req_t *req, const hp_plan_t *plan, hp_method_t method,
                           hp_exec_result_t *result);
/* GET /: an OpenAPI 2.0 description of the tables and their columns. */
void hp_http_respond_root(h2o_req_t *req, const hp_schema_t *schema);

#endif
