/*
 * Streamed reads on PostgreSQL (db.h, "Streamed results"; docs/postgres.md, "Streaming").
 *
 * A read whose exec has the streamed shape (exec.h, stream: one rendered row per result row)
 * and whose owner allows streaming is first a probe, unless it counts: the streamed shape with
 * LIMIT stream_after_bytes / PG_STREAM_PROBE_ROW_BYTES + 2, run like any other statement
 * (pipelined, prepared, in the implicit transaction of its Sync). When no more than the first
 * stream_after_bytes / PG_STREAM_PROBE_ROW_BYTES + 1 rows come back, that is the whole result:
 * it is joined and answered at once, in one round trip, as cheaply as the json_agg statement
 * (most reads without a limit are small). Otherwise it is thrown away and the read starts over
 * as a stream (a read that counts starts there: its total must share the cursor's snapshot).
 *
 * A stream runs through a cursor on a connection it holds alone, in rounds that each end at a
 * Sync:
 *
 *   round 1   BEGIN [ISOLATION LEVEL REPEATABLE READ]; SET LOCAL cursor_tuple_fraction = 1;
 *             [stream_count]; DECLARE "hp_stream" NO SCROLL CURSOR FOR <stream>;
 *             FETCH FORWARD n FROM "hp_stream"; Sync
 *   round k   FETCH FORWARD n FROM "hp_stream"; Sync
 *   end       COMMIT (or ROLLBACK after an error or a cancel); Sync, "trailing": the job is
 *             handed back at once and the connection is free when that Sync comes back
 *
 * The count runs first in the same REPEATABLE READ snapshot as the cursor, so the total is
 * known with the first piece and agrees with the rows. cursor_tuple_fraction = 1 plans the
 * cursor for all of its rows, as the unstreamed statement is planned, so both walk the rows in
 * the same order where ORDER BY leaves ties.
 *
 * Rows are joined as main's aggregate joins them (json_agg: "[" a ", \n " b "]", "[]" for none;
 * CSV: the header, then lines joined by "\n"), so the pieces concatenated are main's body byte
 * for byte. When the rendered body passes job->stream_after_bytes before the cursor is
 * exhausted, it goes to the owner as a piece and nothing more is fetched until
 * hp_db_stream_next (backpressure). A result that never passes it comes back whole, once.
 *
 * Each FETCH asks for about as many rows as fill what is left of stream_after_bytes at the
 * average row size seen so far (the first one guesses PG_STREAM_GUESS_ROW_BYTES a row), and at
 * most twice as many as the FETCH before (an average of a few rows can be far off), so a piece
 * is about stream_after_bytes, plus at worst one FETCH's overshoot; libpq holds at most one
 * FETCH's rows at a time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/time.h"
#include "db/pg/pg.h"

#define PG_STREAM_GUESS_ROW_BYTES 4096 /* the first FETCH's guess of a row's size */
#define PG_STREAM_PROBE_ROW_BYTES 1024 /* the probe's: it takes stream_after_bytes / this rows */
#define PG_STREAM_MAX_FETCH 10000u     /* rows one FETCH asks for at most */
#define PG_STREAM_CURSOR "\"hp_stream\""

int hp_pg__stream_wanted(const hp_db_job_t *job)
{
    const hp_exec_t *e = job->exec;
    return job->stream_after_bytes != 0 && e->kind == HP_EXEC_READ && e->stream.sql != NULL &&
           (e->format == HP_FORMAT_JSON || e->format == HP_FORMAT_CSV);
}

static int send_params(hp_pg__conn_t *c, hp_db_job_t *job, const char *prefix,
                       const hp_stmt_t *stmt)
{
    const char *sql = stmt->sql;
    if (prefix != NULL) {
        size_t plen = strlen(prefix);
        char *p = h2o_mem_alloc_pool(&job->pool, plen + stmt->sql_len + 1);
        memcpy(p, prefix, plen);
        memcpy(p + plen, stmt->sql, stmt->sql_len + 1);
        sql = p;
    }
    return PQsendQueryParams(c->pg, sql, (int)stmt->bind_count, NULL,
                             hp_pg__conn_param_values(job, stmt), NULL, NULL, 0)
               ? 0
               : -1;
}

static int send_fetch(hp_pg__conn_t *c, hp_pg__call_t *call, unsigned rows)
{
    char sql[64];
    snprintf(sql, sizeof(sql), "FETCH FORWARD %u FROM " PG_STREAM_CURSOR, rows);
    call->fetch_rows = rows;
    call->got_rows = 0;
    if (!PQsendQueryParams(c->pg, sql, 0, NULL, NULL, NULL, NULL, 0) || !PQpipelineSync(c->pg))
        return -1;
    return 0;
}

static unsigned clamp_rows(uint64_t rows, unsigned lo)
{
    return rows < lo ? lo : rows > PG_STREAM_MAX_FETCH ? PG_STREAM_MAX_FETCH : (unsigned)rows;
}

/* Rows that fill what is left of the piece at the average row size so far. */
static unsigned next_fetch(const hp_pg__call_t *call)
{
    size_t limit = call->job->stream_after_bytes, have = call->job->result.body.len;
    size_t left = have < limit ? limit - have : 1;
    uint64_t avg = call->rows != 0 ? call->bytes / call->rows : PG_STREAM_GUESS_ROW_BYTES;
    if (avg == 0)
        avg = 1;
    /* At most twice the last FETCH: an average from a few rows may be far off. */
    uint64_t rows = left / avg + 1, most = 2 * (uint64_t)call->fetch_rows;
    return clamp_rows(rows < most ? rows : most, 1);
}

int hp_pg__stream_send(hp_pg__conn_t *c, hp_pg__call_t *call)
{
    hp_db_job_t *job = call->job;
    const hp_exec_t *exec = job->exec;
    int counted = exec->stream_count.sql != NULL;
    const char *begin = counted ? "BEGIN ISOLATION LEVEL REPEATABLE READ" : "BEGIN";
    if (!PQsendQueryParams(c->pg, begin, 0, NULL, NULL, NULL, NULL, 0) ||
        !PQsendQueryParams(c->pg, "SET LOCAL cursor_tuple_fraction = 1", 0, NULL, NULL, NULL, NULL,
                           0))
        goto broken;
    if (counted && send_params(c, job, NULL, &exec->stream_count) != 0)
        goto broken;
    if (send_params(c, job, "DECLARE " PG_STREAM_CURSOR " NO SCROLL CURSOR FOR ", &exec->stream) !=
        0)
        goto broken;
    unsigned first = clamp_rows(job->stream_after_bytes / PG_STREAM_GUESS_ROW_BYTES + 1, 1);
    if (send_fetch(c, call, first) != 0)
        goto broken;
    call->phase = HP_PG_CALL_SENT;
    call->next = NULL;
    call->conn = c;
    call->has_total = !counted;
    *c->tail = call;
    c->tail = &call->next;
    ++c->depth;
    ++c->target->outstanding;
    atomic_fetch_add(&c->target->loop->be->busy, 1);
    c->is_exclusive = 1;
    if (exec->format == HP_FORMAT_CSV)
        hp_exec_append_csv_header(&job->result.body, exec);
    if (hp_pg__conn_flush(c) != 0) {
        hp_pg__conn_fail(c, PQerrorMessage(c->pg));
        return 0; /* the call was failed with the connection */
    }
    return 0;
broken:
    hp_pg__conn_fail(c, PQerrorMessage(c->pg));
    return -1;
}

/* Appends the FETCH's rows to the body, joined as main's aggregate joins them. */
static void append_rows(hp_pg__call_t *call, const PGresult *r)
{
    hp_db_job_t *job = call->job;
    hp_buf_t *body = &job->result.body;
    int is_csv = job->exec->format == HP_FORMAT_CSV;
    int n = PQntuples(r);
    size_t before = body->len;
    for (int i = 0; i != n; ++i) {
        if (is_csv) {
            if (call->rows != 0)
                hp_buf_putc(body, '\n');
        } else if (call->rows == 0) {
            hp_buf_putc(body, '[');
        } else {
            hp_buf_append_lit(body, ", \n ");
        }
        hp_buf_append(body, PQgetvalue(r, i, 0), (size_t)PQgetlength(r, i, 0));
        ++call->rows;
    }
    call->got_rows += (unsigned)n;
    call->bytes += body->len - before;
}

void hp_pg__stream_on_result(hp_pg__conn_t *c, hp_pg__call_t *call, PGresult *r)
{
    (void)c;
    switch (PQresultStatus(r)) {
    case PGRES_TUPLES_OK:
        if (!call->has_total) { /* stream_count's one row comes before the first FETCH's */
            call->has_total = 1;
            if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
                call->job->result.total = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        } else if (call->error == NULL) {
            append_rows(call, r);
        }
        PQclear(r);
        break;
    case PGRES_COMMAND_OK:
    case PGRES_PIPELINE_ABORTED: PQclear(r); break;
    default:
        if (call->error == NULL)
            call->error = r;
        else
            PQclear(r);
        break;
    }
}

/* The stream is over (the end, an error, a cancel): COMMIT or ROLLBACK trails, the call leaves
 * the connection. Returns -1 when the connection broke (then the call is still at its head). */
static int end_on_conn(hp_pg__conn_t *c, hp_pg__call_t *call, int ok)
{
    if (hp_pg__conn_send_trailing(c, ok ? "COMMIT" : "ROLLBACK") != 0)
        return -1;
    hp_pg__conn_pop_head(c);
    c->is_exclusive = 1; /* until the trailing Sync (conn.c, on_trailing) */
    call->conn = NULL;
    return 0;
}

hp_pg__call_t *hp_pg__stream_on_sync(hp_pg__conn_t *c, hp_pg__call_t *call)
{
    hp_db_job_t *job = call->job;
    if (call->error != NULL) {
        if (end_on_conn(c, call, 0) != 0)
            return (hp_pg__call_t *)-1;
        return call; /* hp_pg__stream_deliver renders the error */
    }
    if (call->got_rows < call->fetch_rows) { /* the cursor is exhausted */
        if (job->exec->format == HP_FORMAT_JSON)
            hp_buf_append(&job->result.body, call->rows == 0 ? "[]" : "]", call->rows == 0 ? 2 : 1);
        if (end_on_conn(c, call, 1) != 0)
            return (hp_pg__call_t *)-1;
        job->result.is_last = 1;
        return call;
    }
    if (job->result.body.len >= job->stream_after_bytes) {
        job->result.is_streaming = 1;
        call->is_paused = 1;
        return call; /* a piece; the call stays at the head, the cursor open */
    }
    if (send_fetch(c, call, next_fetch(call)) != 0 || hp_pg__conn_flush(c) != 0)
        return (hp_pg__call_t *)-1;
    return NULL;
}

/* Rows the probe may bring back and still answer the read whole. */
static unsigned probe_rows(const hp_db_job_t *job)
{
    return clamp_rows(job->stream_after_bytes / PG_STREAM_PROBE_ROW_BYTES + 1, 1);
}

const hp_stmt_t *hp_pg__stream_probe_stmt(hp_pg__call_t *call)
{
    if (call->probe != NULL)
        return call->probe;
    hp_db_job_t *job = call->job;
    const hp_stmt_t *s = &job->exec->stream;
    hp_stmt_t *p = h2o_mem_alloc_pool(&job->pool, sizeof(*p));
    /* The streamed shape ends with its derived table's alias: a LIMIT fits after it. The
     * count is a bind, so the text (and its prepared statement) is the same for every job. */
    char suffix[32];
    size_t n = (size_t)snprintf(suffix, sizeof(suffix), " LIMIT $%zu", s->bind_count + 1);
    char *sql = h2o_mem_alloc_pool(&job->pool, s->sql_len + n + 1);
    memcpy(sql, s->sql, s->sql_len);
    memcpy(sql + s->sql_len, suffix, n + 1);
    p->sql = sql;
    p->sql_len = s->sql_len + n;
    p->binds = h2o_mem_alloc_pool(&job->pool, (s->bind_count + 1) * sizeof(*p->binds));
    if (s->bind_count != 0)
        memcpy(p->binds, s->binds, s->bind_count * sizeof(*p->binds));
    p->binds[s->bind_count] = (hp_bind_t){.kind = HP_BIND_INT, .i = (int64_t)probe_rows(job) + 1};
    p->bind_count = s->bind_count + 1;
    call->probe = p;
    return p;
}

int hp_pg__stream_after_probe(hp_pg__call_t *call)
{
    hp_db_job_t *job = call->job;
    if (job->result.error.code != HP_OK || call->error != NULL || call->result == NULL)
        return 0;
    PGresult *res = call->result;
    call->result = NULL;
    if ((unsigned)PQntuples(res) > probe_rows(job)) {
        /* More rows than the probe takes: again from the start, as a stream. */
        PQclear(res);
        call->is_probe = 0;
        call->is_stream = 1;
        call->queued_ns = hp_time_mono_ns();
        hp_pg__loop_requeue(call);
        return 1;
    }
    hp_exec_result_t *r = &job->result;
    if (job->exec->format == HP_FORMAT_CSV)
        hp_exec_append_csv_header(&r->body, job->exec);
    append_rows(call, res);
    PQclear(res);
    if (job->exec->format == HP_FORMAT_JSON)
        hp_buf_append(&r->body, call->rows == 0 ? "[]" : "]", call->rows == 0 ? 2 : 1);
    r->row_count = call->rows;
    r->db_queries = 1;
    hp_db__count_queries(call->be->db, 1);
    if (call->home != hp_pg__loop_current())
        hp_db__reply(job);
    else
        job->on_done(job);
    return 1;
}

void hp_pg__stream_deliver(hp_pg__call_t *call)
{
    hp_db_job_t *job = call->job;
    hp_exec_result_t *r = &job->result;
    if (call->is_paused && r->error.code != HP_OK)
        return; /* the connection failed under a piece the owner still has: told at next */
    if (call->error != NULL && r->error.code == HP_OK)
        hp_pg__result_error(job, call->error);
    PQclear(call->error);
    call->error = NULL;
    if (r->error.code != HP_OK) {
        r->is_last = 1;
        r->body.len = 0; /* a plain error, or the end of an aborted stream: no more rows */
    }
    r->row_count = call->rows;
    if (r->is_last) {
        r->db_queries = 1; /* one read, as the unstreamed statement is */
        hp_db__count_queries(call->be->db, 1);
    }
    if (call->is_deferred)
        hp_db__reply(job); /* never inside the owner's own call: after it, on the same loop */
    else
        job->on_done(job);
}

/* The owner has taken the piece: fetch on, or tell it what happened meanwhile. */
void hp_db__pg_stream_next(void *state, hp_db_job_t *job)
{
    (void)state;
    hp_pg__call_t *call = job->_backend;
    hp_pg__conn_t *c = call->conn;
    call->is_paused = 0;
    call->is_deferred = 1;
    job->result.body.len = 0; /* the owner copied or released it */
    if (c == NULL) {
        if (job->result.error.code == HP_OK)
            hp_error_set(&job->result.error, &job->pool, HP_ERR_DB_BUSY,
                         "The connection to the database was lost");
        hp_pg__stream_deliver(call);
    } else if (send_fetch(c, call, next_fetch(call)) != 0 || hp_pg__conn_flush(c) != 0) {
        hp_pg__conn_fail(c, PQerrorMessage(c->pg)); /* delivers the error through hp_pg__finish */
    }
    call->is_deferred = 0; /* alive: its on_done was at most posted */
}

void hp_db__pg_stream_cancel(void *state, hp_db_job_t *job)
{
    (void)state;
    hp_pg__call_t *call = job->_backend;
    hp_pg__conn_t *c = call->conn;
    call->is_paused = 0;
    call->is_deferred = 1;
    job->result.body.len = 0;
    /* The error the owner sees, whatever happened to the connection before (a loss while the
     * piece was with it) or happens below. */
    memset(&job->result.error, 0, sizeof(job->result.error));
    hp_error_set(&job->result.error, &job->pool, HP_ERR_CANCELLED,
                 "The streamed read was cancelled");
    if (c != NULL && end_on_conn(c, call, 0) != 0)
        hp_pg__conn_fail(c, PQerrorMessage(c->pg)); /* fails (and so delivers) the call with it */
    else
        hp_pg__stream_deliver(call);
    call->is_deferred = 0; /* alive: its on_done was only posted */
}
