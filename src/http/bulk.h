/*
 * POST /_/batch: many API requests in one round trip.
 *
 * The body is a JSON array (at most batch-max-requests) of sub-requests:
 *     {"method": "GET", "path": "/users?id=eq.1", "headers": {"Accept": "..."}, "body": ...}
 * (method defaults to GET; headers and body are optional; a body that is not a string is sent
 * as its JSON text). The answer is 200 with a JSON array, in the same order, of
 *     {"status": 200, "headers": {"content-type": ..., "content-range": ...}, "body": ...}
 * where body is the sub-response's JSON inline, a string for CSV, or null when empty.
 * Sub-requests go through the same planner, batching and database as requests of their own
 * and run concurrently (no order among them, as for separate requests); so 100 primary-key
 * reads of one shape cost one query. A bad sub-request gets its own error entry (PostgREST's
 * error body and status) and never fails the others; a malformed envelope is a 400.
 * Sub-requests read and fill the response cache like any request (a hit costs no query);
 * writes invalidate it as usual.
 */
#ifndef HP_HTTP_BULK_H
#define HP_HTTP_BULK_H

#include <h2o.h>
#include "http/pipeline/pipeline.h"

#define HP_HTTP_BULK_PATH "/_/batch"

/* Answers the envelope call (its path was HP_HTTP_BULK_PATH; it passed the caller and
 * admission steps): each sub-request runs the pipeline from the caller step on, as the
 * envelope's caller, with a sink that fills its entry of the answer. */
void hp_http_bulk(hp_call_t *envelope);

#endif
