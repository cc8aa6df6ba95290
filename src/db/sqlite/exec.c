/*
 * Running one job on one connection (on that connection's worker thread).
 *
 * A read runs in the connection's open read snapshot (see hp_sqlite__shared_t), so main and
 * count see the same data; without snapshot reuse it is one statement, or, with a count,
 * BEGIN; count; main; COMMIT. A write runs in BEGIN IMMEDIATE ... COMMIT on the writer
 * connection (IMMEDIATE takes the write lock up front, so the transaction cannot fail half-way
 * on a lock upgrade); any error, and a singular (OBJECT) request that did not touch exactly one
 * row, rolls it back. Transaction-control statements run outside the inline time budget, and
 * a job that fails leaves no transaction open (see "Transaction state" below).
 *
 * result.db_queries counts the statements of the plan (main and count), not BEGIN/COMMIT: it
 * is the figure the N+1 and batching tests pin, and it is the same whichever backend runs it.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "core/log.h"
#include "db/sqlite/sqlite.h"

/* Runs a transaction-control statement (cached like any other), outside the time budget and
 * the statement timeout: both are for the plan's statements, and an interrupted BEGIN, COMMIT or
 * ROLLBACK would leave the transaction state unknown. SQLite calls the progress handler also once a
 * statement has done its work (when its VM-step count, which a cached statement keeps across runs,
 * crosses the handler's interval at the last opcode), so a BEGIN "interrupted" that way
 * returns SQLITE_INTERRUPT with its transaction already open. Returns 0, or -1 with err
 * (when job is not NULL; the first error wins). */
static int control(hp_sqlite__conn_t *conn, hp_db_job_t *job, const char *sql, size_t len)
{
    uint64_t deadline = conn->deadline_ns, timeout_at = conn->timeout_at_ns;
    conn->deadline_ns = 0;
    conn->timeout_at_ns = 0;
    hp_sqlite__stmt_t st;
    int rc = hp_sqlite__stmt_acquire(conn, sql, len, &st);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st.stmt);
        if (rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK && job != NULL)
        hp_sqlite__set_error(&job->result.error, &job->pool, conn->handle, rc);
    hp_sqlite__stmt_release(conn, &st);
    conn->deadline_ns = deadline;
    conn->timeout_at_ns = timeout_at;
    return rc == SQLITE_OK ? 0 : -1;
}

#define CONTROL(conn, job, lit) control((conn), (job), (lit), sizeof(lit) - 1)

/* Prepares (or finds) the statement and binds its values. */
static int prepare_bound(hp_sqlite__conn_t *conn, hp_db_job_t *job, const hp_stmt_t *s,
                         hp_sqlite__stmt_t *st)
{
    size_t len = s->sql_len != 0 ? s->sql_len : strlen(s->sql);
    int rc = hp_sqlite__stmt_acquire(conn, s->sql, len, st);
    if (rc == SQLITE_MISUSE)
        return hp_error_set(&job->result.error, &job->pool, HP_ERR_INTERNAL,
                            "The planned SQL is not exactly one statement");
    if (rc != SQLITE_OK)
        return hp_sqlite__set_error(&job->result.error, &job->pool, conn->handle, rc);
    for (size_t k = 0; k < s->bind_count; k++) {
        const hp_bind_t *b = &s->binds[k];
        int idx = (int)k + 1;
        switch (b->kind) {
        case HP_BIND_INT: rc = sqlite3_bind_int64(st->stmt, idx, b->i); break;
        case HP_BIND_REAL: rc = sqlite3_bind_double(st->stmt, idx, b->d); break;
        case HP_BIND_TEXT:
            /* The bytes live in the job's pool until the job is destroyed: no copy. */
            rc = sqlite3_bind_text64(st->stmt, idx, b->text.base ? b->text.base : "", b->text.len,
                                     SQLITE_STATIC, SQLITE_UTF8);
            break;
        default: rc = sqlite3_bind_null(st->stmt, idx); break;
        }
        if (rc != SQLITE_OK) {
            hp_sqlite__set_error(&job->result.error, &job->pool, conn->handle, rc);
            hp_sqlite__stmt_release(conn, st);
            return -1;
        }
    }
    return 0;
}

/* The main statement: rendered row by row, or (a write without RETURNING) stepped to the end
 * with the affected count taken from the connection. Returns 0, -1 with the error set, or 1
 * when a streamed read parked after its first piece (stream.c). */
static int run_main(hp_sqlite__conn_t *conn, hp_db_job_t *job)
{
    const hp_exec_t *exec = job->exec;
    hp_exec_result_t *res = &job->result;
    hp_sqlite__stmt_t st;
    int rc;

    if (prepare_bound(conn, job, &exec->main, &st) != 0)
        return -1;
    ++res->db_queries;
    /* An INSERT (also the insert half of an upsert) moves last_insert_rowid; an upsert that
     * only updated does not. The sentinel tells the two apart (rowid tables only). */
    if (exec->kind == HP_EXEC_WRITE)
        sqlite3_set_last_insert_rowid(conn->handle, INT64_MIN);
    if (exec->kind == HP_EXEC_WRITE && !exec->returns_rows) {
        while ((rc = sqlite3_step(st.stmt)) == SQLITE_ROW)
            ;
        if (rc != SQLITE_DONE)
            goto db_error;
        res->row_count = (uint64_t)sqlite3_changes64(conn->handle);
        res->inserted_any = sqlite3_last_insert_rowid(conn->handle) != INT64_MIN;
        hp_sqlite__stmt_release(conn, &st);
        return 0;
    }

    size_t want = exec->col_count + exec->location_col_count;
    if ((size_t)sqlite3_column_count(st.stmt) < want) {
        hp_error_set(&res->error, &job->pool, HP_ERR_INTERNAL,
                     "The planned statement returns %d columns, %zu expected",
                     sqlite3_column_count(st.stmt), want);
        hp_sqlite__stmt_release(conn, &st);
        return -1;
    }
    hp_sqlite__render_t r;
    hp_sqlite__render_begin(&r, exec, res, &job->pool);
    while ((rc = sqlite3_step(st.stmt)) == SQLITE_ROW) {
        if (hp_sqlite__render_row(&r, st.stmt) != 0) {
            hp_sqlite__render_abort(&r);
            hp_sqlite__stmt_release(conn, &st);
            return -1;
        }
        /* A large read goes on in pieces (stream.c): 1 = parked with the statement. */
        if (hp_sqlite__stream_is_due(job))
            return hp_sqlite__stream_park(conn, job, &st, &r);
    }
    if (rc != SQLITE_DONE) {
        hp_sqlite__render_abort(&r);
        goto db_error;
    }
    hp_sqlite__render_end(&r);
    if (exec->kind == HP_EXEC_WRITE)
        res->inserted_any = sqlite3_last_insert_rowid(conn->handle) != INT64_MIN;
    hp_sqlite__stmt_release(conn, &st);
    return 0;

db_error:
    /* Read the message before the reset in release. */
    hp_sqlite__set_error(&res->error, &job->pool, conn->handle, rc);
    hp_sqlite__stmt_release(conn, &st);
    return -1;
}

/* The count statement: one row, one integer. */
static int run_count(hp_sqlite__conn_t *conn, hp_db_job_t *job)
{
    hp_sqlite__stmt_t st;
    if (prepare_bound(conn, job, &job->exec->count, &st) != 0)
        return -1;
    ++job->result.db_queries;
    int rc = sqlite3_step(st.stmt);
    if (rc == SQLITE_ROW) {
        job->result.total = sqlite3_column_int64(st.stmt, 0);
    } else if (rc == SQLITE_DONE) {
        job->result.total = 0;
    } else {
        hp_sqlite__set_error(&job->result.error, &job->pool, conn->handle, rc);
        hp_sqlite__stmt_release(conn, &st);
        return -1;
    }
    hp_sqlite__stmt_release(conn, &st);
    return 0;
}

/* Transaction state. Whether a connection is inside a transaction is SQLite's to say
 * (sqlite3_get_autocommit), never has_snapshot's alone: between jobs a connection is in a
 * transaction exactly when has_snapshot is set (a read snapshot kept for the next read), and
 * every job leaves it that way, whatever failed. */

/* Rolls back whatever transaction is open (SQLite may have ended it already, e.g. on
 * SQLITE_FULL). For a read snapshot that is how it ends: a read-only transaction has nothing
 * to undo, and ROLLBACK, unlike COMMIT, cannot fail on a busy database. */
static void leave_txn(hp_sqlite__conn_t *conn, hp_db_job_t *job)
{
    if (!sqlite3_get_autocommit(conn->handle) && CONTROL(conn, job, "ROLLBACK") != 0 &&
        !sqlite3_get_autocommit(conn->handle))
        hp_log_warn("SQLite: ROLLBACK failed, the connection stays in a transaction: %s",
                    sqlite3_errmsg(conn->handle));
    conn->has_snapshot = 0;
}

/* Before a job: repairs a state the invariant above does not allow (nothing known leads
 * there now), rather than failing every later BEGIN with "cannot start a transaction within
 * a transaction". */
static void settle_txn(hp_sqlite__conn_t *conn)
{
    if (sqlite3_get_autocommit(conn->handle)) {
        conn->has_snapshot = 0; /* SQLite ended it on its own */
    } else if (!conn->has_snapshot) {
        hp_log_warn("SQLite: a connection was left in a transaction; rolling it back");
        leave_txn(conn, NULL);
    }
}

void hp_sqlite__end_snapshot(hp_sqlite__conn_t *conn, int only_if_stale)
{
    if (sqlite3_get_autocommit(conn->handle)) {
        conn->has_snapshot = 0;
        return;
    }
    if (only_if_stale && conn->has_snapshot &&
        hp_time_mono_ns() - conn->snapshot_taken_ns < conn->shared->snapshot_max_age_ns)
        return;
    leave_txn(conn, NULL);
}

/* Makes sure a fresh read snapshot is open (see hp_sqlite__shared_t). The generation is read
 * before BEGIN: the snapshot SQLite takes at the first read is then at least that recent. */
static int use_snapshot(hp_sqlite__conn_t *conn, hp_db_job_t *job)
{
    uint64_t generation =
        atomic_load_explicit(&conn->shared->write_generation, memory_order_acquire);
    uint64_t now = hp_time_mono_ns();
    if (conn->has_snapshot) {
        if (generation == conn->snapshot_generation &&
            now - conn->snapshot_taken_ns < conn->shared->snapshot_max_age_ns)
            return 0;
        leave_txn(conn, NULL);
    }
    if (CONTROL(conn, job, "BEGIN") != 0)
        return -1; /* the caller's failure path rolls back whatever BEGIN left */
    conn->has_snapshot = 1;
    conn->snapshot_generation = generation;
    conn->snapshot_taken_ns = now;
    return 0;
}

uint64_t hp_sqlite__run(hp_sqlite__conn_t *conn, hp_db_job_t *job)
{
    const hp_exec_t *exec = job->exec;
    hp_exec_result_t *res = &job->result;
    uint64_t before = res->db_queries;
    int in_txn = 0;

    settle_txn(conn);
    if (exec->main.sql == NULL) {
        hp_error_set(&res->error, &job->pool, HP_ERR_INTERNAL, "The plan has no statement");
        goto fail;
    }
    if (exec->kind == HP_EXEC_WRITE) {
        if (!conn->is_writer) {
            hp_error_set(&res->error, &job->pool, HP_ERR_INTERNAL,
                         "A write reached a read-only connection");
            goto fail;
        }
        if (CONTROL(conn, job, "BEGIN IMMEDIATE") != 0)
            goto fail;
        in_txn = 1;
    } else if (conn->shared != NULL && conn->shared->snapshot_max_age_ns != 0) {
        if (use_snapshot(conn, job) != 0)
            goto fail;
    } else if (exec->count.sql != NULL) {
        if (CONTROL(conn, job, "BEGIN") != 0)
            goto fail;
        in_txn = 1;
    }
    /* The statement timeout covers the plan's statements together (main and count), as
     * PostgreSQL's covers the one statement that does both there. */
    conn->is_timed_out = 0;
    if (conn->statement_timeout_ns != 0)
        conn->timeout_at_ns = hp_time_mono_ns() + conn->statement_timeout_ns;
    /* A read counts first, so a streamed one knows its total by its first piece. */
    int count_first = exec->kind == HP_EXEC_READ;
    if (count_first && exec->count.sql != NULL && run_count(conn, job) != 0)
        goto fail;
    int main_rc = run_main(conn, job);
    if (main_rc < 0)
        goto fail;
    if (main_rc > 0) {
        /* Parked: its transaction travels with the job. A client's pace is not the
         * statement's time: the rest of a streamed read runs without the timeout. */
        conn->timeout_at_ns = 0;
        return res->db_queries - before;
    }
    if (!count_first && exec->count.sql != NULL && run_count(conn, job) != 0)
        goto fail;
    conn->timeout_at_ns = 0;
    if (exec->format == HP_FORMAT_OBJECT && res->row_count != 1) {
        hp_exec_singular_error(&res->error, &job->pool, res->row_count);
        goto fail;
    }
    if (in_txn && CONTROL(conn, job, "COMMIT") != 0)
        goto fail;
    if (exec->kind == HP_EXEC_WRITE && conn->shared != NULL)
        atomic_fetch_add_explicit(&conn->shared->write_generation, 1, memory_order_release);
    return res->db_queries - before;

fail:
    /* Whatever failed (also a BEGIN), the job leaves no transaction behind: a write is rolled
     * back, a read snapshot ends. A failing ROLLBACK leaves the first error in place. */
    conn->timeout_at_ns = 0;
    leave_txn(conn, job);
    hp_buf_dispose(&res->body);
    free(res->location.base);
    res->location = h2o_iovec_init(NULL, 0);
    return res->db_queries - before;
}
