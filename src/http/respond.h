/*
 * Turning results into HTTP responses: status codes, PostgREST's headers (Content-Range,
 * Location, Preference-Applied, Content-Type) and bodies. Every error response is written by
 * hp_http_respond_error. Event-loop threads only.
 */
#ifndef HP_HTTP_RESPOND_H
#define HP_HTTP_RESPOND_H

#include <h2o.h>
#include "core/error.h"
#include "db/exec.h"
#include "query/query.h"

/* Answers with the PostgREST-shaped error body and the error's status. */
void hp_http_respond_error(h2o_req_t *req, const hp_error_t *err);
/* Sets err (allocated in req->pool) and answers with it. */
void hp_http_respond_errorf(h2o_req_t *req, hp_errcode_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Answers a finished plan. Takes the result's body (result->body is left empty). */
void hp_http_respond_result(h2o_req_t *req, const hp_plan_t *plan, hp_exec_result_t *result,
                            int is_head);
/* GET /: an OpenAPI 2.0 description of the tables and their columns. */
void hp_http_respond_root(h2o_req_t *req, const hp_schema_t *schema);

#endif
