/*
 * The limit step: per-client rate limits (src/ratelimit, docs/limits.md), right after
 * admission, so a request over its limit costs no cache lookup, plan or query.
 *
 * With rate limiting on (rate-limit or rate-limit-rules set), every request to a table, every
 * POST /_/batch envelope (route.c calls this step for it, once) and every sub-request of one is
 * decided against the rules that apply to it; requests to `/` and OPTIONS are never limited.
 * An HTTP request gets the IETF RateLimit-Policy and RateLimit headers (draft-ietf-httpapi-
 * ratelimit-headers) on its answer whatever it is (a cache hit, an error, a 429); one over its
 * limit gets 429 (HP429) with Retry-After in whole seconds, rounded up. A sub-request over its
 * limit gets a 429 entry of its own; the others in the envelope go on.
 *
 * Who the client is: rate-limit-key (ip, or header:NAME, falling back to the address when the
 * header is absent), read from the HTTP request and kept in call->limit_client; a sub-request
 * inherits its envelope's (bulk.c copies it).
 *
 * Threads: the call's loop; the decision itself may touch state shared with other loops
 * (src/ratelimit/store.h).
 */
#ifndef HP_HTTP_PIPELINE_LIMIT_H
#define HP_HTTP_PIPELINE_LIMIT_H

#include "http/pipeline/pipeline.h"

hp_step_result_t hp_step_limit(hp_call_t *call);

#endif
