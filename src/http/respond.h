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

/* Answers with the PostgREST-shaped error body and the error's status. */
void hp_http_respond_error(h2o_req_t *req, const hp_error_t *err);
/* Sets err (allocated in req->pool) and answers with it. */
void hp_http_respond_errorf(h2o_req_t *req, hp_errcode_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A successful read's status (200 or 206) and the headers of its representation
 * (content-range, content-type, preference-applied; at most 3, values in pool). A range
 * past a known total: status 416, headers = content-range only, err set, returns -1. */
int hp_http_read_meta(h2o_mem_pool_t *pool, const hp_plan_t *plan, const hp_exec_result_t *result,
                      int *status, hp_cache_header_t *headers, size_t *header_count, hp_error_t *err);
/* Answers a finished write. Takes the result's body (result->body is left empty). */
void hp_http_respond_write(h2o_req_t *req, const hp_plan_t *plan, hp_exec_result_t *result);
/* GET /: an OpenAPI 2.0 description of the tables and their columns. */
void hp_http_respond_root(h2o_req_t *req, const hp_schema_t *schema);

#endif
