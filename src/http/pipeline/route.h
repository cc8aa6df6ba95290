/*
 * The route step: an HTTP request -> what it asks (call->r). Answers by itself what is not a
 * table request: GET / (the OpenAPI description), OPTIONS, POST /_/batch (handed to bulk.h,
 * whose sub-requests enter the pipeline at the caller step), and a path or method that names
 * nothing. Reads the headers that change a request's meaning (Prefer, Accept, Range,
 * Content-Type). Sub-requests of /_/batch are routed by bulk.c instead.
 */
#ifndef HP_HTTP_PIPELINE_ROUTE_H
#define HP_HTTP_PIPELINE_ROUTE_H

#include "http/pipeline/pipeline.h"

hp_step_result_t hp_step_route(hp_call_t *call);

/* What a request path (without the query string) names. */
typedef enum {
    HP_ROUTE_ROOT,  /* "/" or "": the API's description */
    HP_ROUTE_BULK,  /* HP_HTTP_BULK_PATH */
    HP_ROUTE_TABLE, /* "/name" or "/name/": a table or view, *resource set (percent-decoded) */
    HP_ROUTE_NONE,  /* anything else (a deeper path, a bad escape): 404 */
} hp_route_t;

/* Pure (unit-tested): classifies path; the resource is allocated in pool. */
hp_route_t hp_route_path(h2o_iovec_t path, h2o_iovec_t *resource, h2o_mem_pool_t *pool);

#endif
