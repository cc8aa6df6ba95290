/*
 * Streamed reads (db.h "Streamed results", docs/streaming.md): a read whose body grows past
 * job->stream_after_bytes is handed back in pieces. The row loop of exec.c parks the stepping
 * statement here; the job then carries its connection, its open read transaction (one
 * snapshot for every piece, and for the count, which exec.c runs first) and the renderer's
 * state, and whichever reader thread takes the job back from the queue continues it. SQLite's
 * multi-thread mode allows that: a connection may move between threads as long as one thread
 * at a time uses it, and the queue's mutex orders the hand-overs.
 */
#include <stdlib.h>
#include "db/sqlite/sqlite.h"

int hp_sqlite__stream_park(hp_sqlite__conn_t *conn, hp_db_job_t *job, hp_sqlite__stmt_t *st,
                           hp_sqlite__render_t *r)
{
    hp_sqlite__stream_t *s = conn->can_stream ? malloc(sizeof(*s)) : NULL;
    if (s == NULL) {
        /* A loop's inline connection must not leave with the job: the read is redone by a
         * reader thread, whose connection can (pool.c's run_inline sees is_over_budget). */
        hp_sqlite__render_abort(r);
        hp_sqlite__stmt_release(conn, st);
        conn->is_over_budget = 1;
        return hp_error_set(&job->result.error, &job->pool, HP_ERR_INTERNAL,
                            "A streamed read cannot park on this connection");
    }
    *s = (hp_sqlite__stream_t){.conn = conn, .st = *st, .render = *r};
    st->stmt = NULL;
    st->entry = NULL;
    job->_backend = s;
    job->result.is_streaming = 1;
    job->result.is_last = 0;
    return 1;
}

void hp_sqlite__stream_resume(hp_sqlite__stream_t *s, hp_db_job_t *job)
{
    hp_exec_result_t *res = &job->result;
    int rc;
    while ((rc = sqlite3_step(s->st.stmt)) == SQLITE_ROW) {
        if (hp_sqlite__render_row(&s->render, s->st.stmt) != 0)
            goto fail;
        if (hp_sqlite__stream_is_due(job))
            return; /* the next piece; the statement stays where it is */
    }
    if (rc != SQLITE_DONE) {
        hp_sqlite__set_error(&res->error, &job->pool, s->conn->handle, rc);
        goto fail;
    }
    hp_sqlite__render_end(&s->render);
    hp_sqlite__stmt_release(s->conn, &s->st);
    hp_sqlite__end_snapshot(s->conn, 0);
    res->is_last = 1;
    return;

fail:
    hp_sqlite__stream_end(s);
    hp_buf_dispose(&res->body);
    res->is_last = 1;
}

void hp_sqlite__stream_end(hp_sqlite__stream_t *s)
{
    if (s->st.stmt == NULL)
        return; /* already ended */
    hp_sqlite__render_abort(&s->render);
    hp_sqlite__stmt_release(s->conn, &s->st);
    hp_sqlite__end_snapshot(s->conn, 0);
}
