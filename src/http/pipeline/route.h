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

#endif
