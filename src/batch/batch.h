/*
 * Query batching across requests: concurrent reads of the same shape that each look one row
 * up by primary key (hp_plan_t.batch: same table, select, embeds and format family, only the
 * key differs) are answered by one database query for all of them (hp_query_plan_batch).
 *
 * Per event loop, per shape: a read joins the group that is collecting for its shape. A group
 * is sent
 *   - at the end of the current loop iteration when no query of its shape is in flight (so a
 *     read alone waits for nothing: no added latency at low load), or after batch-window-us
 *     when that is set;
 *   - when a query of its shape in flight comes back (while one is out, the next wave gathers);
 *   - at once when it holds batch-max reads.
 * A group of one runs the read's own statement. A group of more runs the batched statement
 * and hands each read exactly its own row (an empty array, or 406 for a singular read with no
 * row), then each read's on_done runs as if it had run alone. If the batched statement fails,
 * every read runs again alone, so one bad key never fails the others.
 *
 * Everything here runs on its loop's thread. Reads answered from the cache never get here.
 */
#ifndef HP_BATCH_BATCH_H
#define HP_BATCH_BATCH_H

#include <h2o.h>
#include "db/db.h"
#include "metrics/metrics.h"
#include "query/query.h"

typedef struct {
    int enabled;        /* batch = on */
    unsigned max_reads; /* batch-max */
    unsigned window_us; /* batch-window-us (0: the end of the loop iteration) */
} hp_batch_options_t;

typedef struct st_hp_batcher_t hp_batcher_t;

/* For the calling loop. metrics may be NULL. */
hp_batcher_t *hp_batcher_create(hp_db_t *db, h2o_loop_t *loop, const hp_batch_options_t *opts,
                                hp_metrics_slot_t *metrics);
/* On the loop's thread, once every job submitted through it has come back. */
void hp_batcher_destroy(hp_batcher_t *b);

/* Submits a planned job (job->exec == &plan->exec): a batchable read may wait to join others;
 * anything else goes to hp_db_submit at once. job->on_done runs on this loop either way, and
 * job->result.batch_size says how many reads its query answered. */
void hp_batcher_submit(hp_batcher_t *b, hp_db_job_t *job, hp_plan_t *plan);

#endif
