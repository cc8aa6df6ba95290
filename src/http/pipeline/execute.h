/*
 * The execute step: the planned job goes to the database through the loop's batcher
 * (src/batch: a read by a unique key may wait to join others of its shape and be answered by
 * one query; everything else is submitted at once). PENDING until the job comes back to this
 * loop (at once, for a SQLite read run inline). Then the duties the job owes whether or not
 * anyone still waits for it are done here: the database-time metric, a write's invalidation
 * (after COMMIT, before any answer) and read-your-writes mark, and the cache fill the call
 * led, published or abandoned. The call, if still there, goes on to the respond step with
 * call->outcome.
 */
#ifndef HP_HTTP_PIPELINE_EXECUTE_H
#define HP_HTTP_PIPELINE_EXECUTE_H

#include "http/pipeline/pipeline.h"

hp_step_result_t hp_step_execute(hp_call_t *call);

/* The call is gone: its running job finishes its duties and answers nobody. */
void hp_execute_detach(hp_call_t *call);

#endif
