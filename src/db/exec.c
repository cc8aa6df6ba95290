/*
 * The result record of exec.h. Its body and location are malloc'd (they are built on a
 * database thread and may outlive the job's pool when the HTTP layer takes the body over).
 */
#include "db/exec.h"

#include <stdlib.h>
#include <string.h>

void hp_exec_result_init(hp_exec_result_t *r)
{
    memset(r, 0, sizeof(*r));
    r->error.code = HP_OK;
    hp_buf_init(&r->body);
    r->total = -1;
    r->location = h2o_iovec_init(NULL, 0);
}

void hp_exec_result_dispose(hp_exec_result_t *r)
{
    hp_buf_dispose(&r->body);
    free(r->location.base);
    r->location = h2o_iovec_init(NULL, 0);
    r->row_count = 0;
    r->total = -1;
}
