/*
 * The shed step, between plan and execute (so a cache hit never reaches it): whether the
 * database takes this job now (src/overload, docs/limits.md "Overload and fair sharing").
 *
 *   - Fair sharing (db-client-max-jobs): a client (its peer address) with that many database
 *     jobs in flight gets 429 HP429jobs with Retry-After: 1 at once.
 *   - Overload (db-max-jobs): past the adaptive concurrency limit, a job whose wait in the
 *     database's queue would not end within the request deadline gets 503 HP503load with
 *     Retry-After (that wait, in whole seconds, at least 1) at once.
 *
 * A read the batcher may coalesce (one row by a unique key, `batch` on) is neither refused
 * nor counted: it is the cheapest work, and the batcher already bounds its database cost.
 *
 * An admitted call holds its slots (call->shed_held) until its job comes back: the execute
 * step hands them to the job and gives them back with hp_step_shed_release (a streamed read
 * at its first piece). A shed call that led a cache fill abandons it (its waiters query for
 * themselves, and meet this step too). A /_/batch sub-request or a background refresh has no
 * peer of its own here: it counts against the overall limit only.
 * Threads: the call's loop; the tables it counts in are shared by every loop.
 */
#ifndef HP_HTTP_PIPELINE_SHED_H
#define HP_HTTP_PIPELINE_SHED_H

#include "http/pipeline/pipeline.h"

/* What a call (then its job) holds: bits of hp_call_t.shed_held. */
#define HP_SHED_HOLDS_CLIENT 1u /* a job in the client's count */
#define HP_SHED_HOLDS_LIMIT 2u  /* a job in the overall in-flight count */

hp_step_result_t hp_step_shed(hp_call_t *call);

/* A job admitted on loop came back after latency_ns (the limit learns from it): gives back
 * what `held` says it holds for client. */
void hp_step_shed_release(hp_http_loop_t *loop, uint64_t client, unsigned held,
                          uint64_t latency_ns);

#endif
