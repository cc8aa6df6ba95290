/*
 * One libpq connection on an event loop: asynchronous connect (PQconnectStart/Poll), then
 * pipeline mode. h2o watches the socket (H2O_SOCKET_FLAG_DONT_READ: it reports readiness and
 * never reads), libpq does all the I/O. h2o is given a dup() of libpq's socket: libpq closes
 * its own descriptor whenever it drops a connection (EOF, errors, a new address while
 * connecting), and the loop's epoll registration must stay on a descriptor we close.
 *
 * A call in the pipeline is, in order:
 *   [BEGIN]                                    singular writes only (in_tx)
 *   [Parse "hpN"]                              first use of this SQL text on the connection
 *   Bind/Execute "hpN" (or the unnamed statement when the table of names is full or another
 *   call is preparing the same text right now)
 *   Sync
 * A streamed read is instead BEGIN ... DECLARE ... FETCH + Sync, then FETCH + Sync per round,
 * on a connection it holds alone (stream.c); its COMMIT or ROLLBACK + Sync trails after the call
 * has left, and the connection takes nothing else until that Sync is back.
 * Each call ends at its Sync, so an error in one call never aborts the next. A singular write
 * ends in two steps: at its first Sync it is known whether exactly one row was written, and
 * COMMIT or ROLLBACK + Sync follow; the connection takes no other call meanwhile.
 *
 * Ownership: a connection's socket callbacks may finish calls, whose on_done may submit new
 * jobs. So results are collected first, the connection is left alone, and only then are the
 * calls finished and the loop dispatched.
 */
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include "db/pg/pg.h"

static void on_readable(h2o_socket_t *sock, const char *err);
static void on_writable(h2o_socket_t *sock, const char *err);

static void want_write(hp_pg__conn_t *c)
{
    if (c->wants_write)
        return;
    c->wants_write = 1;
    h2o_socket_notify_write(c->sock, on_writable);
}

/* Closes h2o's duplicate of the socket (libpq's own stays libpq's). */
static void release_socket(hp_pg__conn_t *c)
{
    if (c->sock == NULL)
        return;
    h2o_socket_read_stop(c->sock);
    h2o_socket_close(c->sock);
    c->sock = NULL;
    c->wants_write = 0;
}

/* The identity of libpq's current socket (its inode): a descriptor number can be reused. */
static ino_t socket_id(PGconn *pg)
{
    struct stat st;
    int fd = PQsocket(pg);
    return fd >= 0 && fstat(fd, &st) == 0 ? st.st_ino : 0;
}

static int watch_socket(hp_pg__conn_t *c)
{
    int fd = dup(PQsocket(c->pg));
    if (fd < 0)
        return -1;
    c->socket_id = socket_id(c->pg);
    c->sock = h2o_evloop_socket_create(c->target->loop->loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    c->sock->data = c;
    h2o_socket_read_start(c->sock, on_readable);
    return 0;
}

static void unlink_conn(hp_pg__conn_t *c)
{
    hp_pg__target_t *t = c->target;
    for (hp_pg__conn_t **p = &t->conns; *p != NULL; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            break;
        }
    }
    --t->conn_count;
    if (c->state == HP_PG_CONN_READY)
        --t->ready_count;
    else
        --t->connecting_count;
    atomic_store(&t->loop->ready[t->index], t->ready_count);
    atomic_fetch_sub(&t->loop->be->open[t->index], 1);
}

void hp_pg__conn_close(hp_pg__conn_t *c)
{
    if (c->holds_stream)
        atomic_fetch_sub(&c->target->loop->be->streams[c->target->index], 1);
    unlink_conn(c);
    release_socket(c);
    PQfinish(c->pg);
    hp_pg__stmts_destroy(c->stmts);
    free(c);
}

/* The connection is gone: every call in it fails with 503 (a read could be retried, but a
 * write may or may not have committed; the client decides). */
void hp_pg__conn_fail(hp_pg__conn_t *c, const char *reason)
{
    /* The reason may be libpq's buffer, which dies with the connection. */
    char why[256];
    hp_pg__copy_message(why, sizeof(why), reason);
    hp_pg__target_t *t = c->target;
    hp_pg__call_t *calls = c->head;
    unsigned lost = c->depth;
    c->head = NULL;
    c->depth = 0;
    t->outstanding -= lost;
    atomic_fetch_sub(&t->loop->be->busy, lost);
    hp_pg__conn_close(c);
    hp_pg__target_conn_event(t, 0, why);
    while (calls != NULL) {
        hp_pg__call_t *next = calls->next;
        calls->conn = NULL;
        hp_error_set(&calls->job->result.error, &calls->job->pool, HP_ERR_DB_BUSY,
                     "The connection to the database was lost");
        hp_error_details(&calls->job->result.error, &calls->job->pool, "%s", why);
        hp_pg__finish(calls);
        calls = next;
    }
}

static const char *pq_error(hp_pg__conn_t *c)
{
    const char *m = PQerrorMessage(c->pg);
    return m != NULL && *m != '\0' ? m : "connection failed";
}

hp_pg__conn_t *hp_pg__conn_start(hp_pg__target_t *t, const char *uri, char *errbuf, size_t errlen)
{
    /* The URI is expanded as dbname, and what it sets wins over the keywords before it (the
     * statement timeout); the application name shows in pg_stat_activity unless the URI sets
     * its own. */
    const char *keys[4], *values[4];
    size_t n = 0;
    if (t->loop->be->options[0] != '\0') {
        keys[n] = "options";
        values[n++] = t->loop->be->options;
    }
    keys[n] = "dbname";
    values[n++] = uri;
    keys[n] = "fallback_application_name";
    values[n++] = "hotpath";
    keys[n] = values[n] = NULL;
    PGconn *pg = PQconnectStartParams(keys, values, 1);
    if (pg == NULL || PQstatus(pg) == CONNECTION_BAD) {
        hp_pg__copy_message(errbuf, errlen, pg != NULL ? PQerrorMessage(pg) : "out of memory");
        PQfinish(pg);
        atomic_fetch_sub(&t->loop->be->open[t->index], 1);
        return NULL;
    }
    hp_pg__conn_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        h2o_fatal("out of memory");
    c->target = t;
    c->pg = pg;
    c->state = HP_PG_CONN_CONNECTING;
    c->tail = &c->head;
    c->created_ms = c->last_used_ms = hp_pg__now_ms();
    c->stmts = hp_pg__stmts_create();
    c->next = t->conns;
    t->conns = c;
    ++t->conn_count;
    ++t->connecting_count;
    if (watch_socket(c) != 0) {
        snprintf(errbuf, errlen, "dup: out of descriptors");
        hp_pg__conn_close(c); /* gives the slot back */
        return NULL;
    }
    want_write(c); /* PQconnectStart: poll as if PQconnectPoll had said WRITING */
    return c;
}

static void became_ready(hp_pg__conn_t *c)
{
    hp_pg__target_t *t = c->target;
    if (PQsetnonblocking(c->pg, 1) != 0 || PQenterPipelineMode(c->pg) != 1) {
        hp_pg__conn_fail(c, pq_error(c));
        return;
    }
    c->state = HP_PG_CONN_READY;
    --t->connecting_count;
    ++t->ready_count;
    c->last_used_ms = hp_pg__now_ms();
    hp_pg__target_conn_event(t, 1, NULL);
}

static void continue_connect(hp_pg__conn_t *c)
{
    PostgresPollingStatusType st = PQconnectPoll(c->pg);
    if (st != PGRES_POLLING_FAILED && socket_id(c->pg) != c->socket_id) {
        /* libpq opened a new socket (another address, or a retry without SSL). */
        release_socket(c);
        if (watch_socket(c) != 0) {
            hp_pg__conn_fail(c, "dup: out of descriptors");
            return;
        }
    }
    switch (st) {
    case PGRES_POLLING_OK: became_ready(c); break;
    case PGRES_POLLING_FAILED: hp_pg__conn_fail(c, pq_error(c)); break;
    case PGRES_POLLING_WRITING: want_write(c); break;
    default: /* READING: the socket is always watched for reading */ break;
    }
}

/* --- sending --- */

static void int_text(char *buf, size_t len, const hp_bind_t *b)
{
    if (b->kind == HP_BIND_INT)
        snprintf(buf, len, "%" PRId64, b->i);
    else
        snprintf(buf, len, "%.17g", b->d);
}

/* libpq takes text parameters as NUL-terminated strings: copy them into the job's pool. */
const char **hp_pg__conn_param_values(hp_db_job_t *job, const hp_stmt_t *stmt)
{
    const char **values = h2o_mem_alloc_pool(&job->pool, (stmt->bind_count + 1) * sizeof(*values));
    for (size_t i = 0; i != stmt->bind_count; ++i) {
        const hp_bind_t *b = &stmt->binds[i];
        char *p;
        switch (b->kind) {
        case HP_BIND_NULL: values[i] = NULL; break;
        case HP_BIND_INT:
        case HP_BIND_REAL:
            p = h2o_mem_alloc_pool(&job->pool, 32);
            int_text(p, 32, b);
            values[i] = p;
            break;
        case HP_BIND_TEXT:
            p = h2o_mem_alloc_pool(&job->pool, b->text.len + 1);
            memcpy(p, b->text.base, b->text.len);
            p[b->text.len] = '\0';
            values[i] = p;
            break;
        }
    }
    return values;
}

static int send_statement(hp_pg__conn_t *c, hp_pg__call_t *call)
{
    const hp_stmt_t *stmt =
        call->is_probe ? hp_pg__stream_probe_stmt(call) : &call->job->exec->main;
    const char **values = hp_pg__conn_param_values(call->job, stmt);
    int n = (int)stmt->bind_count;
    long slot;
    char name[24];
    switch (hp_pg__stmts_find(c->stmts, stmt->sql, stmt->sql_len, &slot)) {
    case HP_PG_STMT_READY:
        hp_pg__stmts_name(slot, name, sizeof(name));
        return PQsendQueryPrepared(c->pg, name, n, values, NULL, NULL, 0) ? 0 : -1;
    case HP_PG_STMT_NONE:
        if (slot < 0)
            break;
        hp_pg__stmts_name(slot, name, sizeof(name));
        if (!PQsendPrepare(c->pg, name, stmt->sql, n, NULL))
            return -1;
        hp_pg__stmts_begin(c->stmts, slot, stmt->sql, stmt->sql_len);
        call->stmt_slot = slot;
        return PQsendQueryPrepared(c->pg, name, n, values, NULL, NULL, 0) ? 0 : -1;
    case HP_PG_STMT_PREPARING: break;
    }
    return PQsendQueryParams(c->pg, stmt->sql, n, NULL, values, NULL, NULL, 0) ? 0 : -1;
}

int hp_pg__conn_flush(hp_pg__conn_t *c)
{
    int rc = PQflush(c->pg);
    if (rc < 0)
        return -1;
    if (rc == 1)
        want_write(c);
    return 0;
}

int hp_pg__conn_send(hp_pg__conn_t *c, hp_pg__call_t *call)
{
    call->stmt_slot = -1;
    call->results = 0; /* a probe that goes on as a stream is sent a second time */
    if (call->is_stream)
        return hp_pg__stream_send(c, call);
    if (call->in_tx && !PQsendQueryParams(c->pg, "BEGIN", 0, NULL, NULL, NULL, NULL, 0))
        goto broken;
    if (send_statement(c, call) != 0 || !PQpipelineSync(c->pg))
        goto broken;
    call->phase = HP_PG_CALL_SENT;
    call->next = NULL;
    *c->tail = call;
    c->tail = &call->next;
    ++c->depth;
    ++c->target->outstanding;
    atomic_fetch_add(&c->target->loop->be->busy, 1);
    c->is_exclusive = call->in_tx;
    if (hp_pg__conn_flush(c) != 0) {
        hp_pg__conn_fail(c, pq_error(c));
        return 0; /* the call was failed with the others */
    }
    return 0;
broken:
    if (call->stmt_slot >= 0)
        hp_pg__stmts_end(c->stmts, call->stmt_slot, 0);
    hp_pg__conn_fail(c, pq_error(c));
    return -1;
}

/* --- receiving --- */

/* A singular write came back from its first Sync: commit it if it wrote exactly one row. */
static int decide(hp_pg__conn_t *c, hp_pg__call_t *call)
{
    int ok =
        call->error == NULL && call->result != NULL && hp_pg__result_is_singular_ok(call->result);
    call->phase = HP_PG_CALL_DECIDING;
    if (!PQsendQueryParams(c->pg, ok ? "COMMIT" : "ROLLBACK", 0, NULL, NULL, NULL, NULL, 0) ||
        !PQpipelineSync(c->pg) || hp_pg__conn_flush(c) != 0)
        return -1;
    return 0;
}

void hp_pg__conn_pop_head(hp_pg__conn_t *c)
{
    hp_pg__call_t *call = c->head;
    c->head = call->next;
    if (c->head == NULL)
        c->tail = &c->head;
    --c->depth;
    --c->target->outstanding;
    atomic_fetch_sub(&c->target->loop->be->busy, 1);
    if (call->in_tx)
        c->is_exclusive = 0;
    c->last_used_ms = hp_pg__now_ms();
    call->next = NULL;
}

int hp_pg__conn_send_trailing(hp_pg__conn_t *c, const char *sql)
{
    if (!PQsendQueryParams(c->pg, sql, 0, NULL, NULL, NULL, NULL, 0) || !PQpipelineSync(c->pg))
        return -1;
    ++c->trailing_syncs;
    return hp_pg__conn_flush(c);
}

/* The call at the head reached its Sync: the statement's prepare (if any) is settled. Returns
 * the call when it is complete (unlinked), NULL when it goes on, (hp_pg__call_t *)-1 on error. A
 * stream's call may also come back still linked, with a piece (stream.c). */
static hp_pg__call_t *on_sync(hp_pg__conn_t *c)
{
    hp_pg__call_t *call = c->head;
    if (call->stmt_slot >= 0) { /* its Parse never answered: aborted */
        hp_pg__stmts_end(c->stmts, call->stmt_slot, 0);
        call->stmt_slot = -1;
    }
    if (call->is_stream)
        return hp_pg__stream_on_sync(c, call);
    if (call->in_tx && call->phase == HP_PG_CALL_SENT)
        return decide(c, call) == 0 ? NULL : (hp_pg__call_t *)-1;
    hp_pg__conn_pop_head(c);
    return call;
}

/* The COMMIT / ROLLBACK of a stream that has ended came back (its Sync): the connection is
 * free again. Its errors mean nothing to anyone (the transaction ends either way). */
static void on_trailing(hp_pg__conn_t *c, PGresult *r)
{
    if (PQresultStatus(r) == PGRES_PIPELINE_SYNC && --c->trailing_syncs == 0) {
        c->is_exclusive = 0;
        if (c->holds_stream) {
            c->holds_stream = 0;
            atomic_fetch_sub(&c->target->loop->be->streams[c->target->index], 1);
        }
        c->last_used_ms = hp_pg__now_ms();
    }
    PQclear(r);
}

static void keep(PGresult **slot, PGresult *r)
{
    if (*slot == NULL)
        *slot = r;
    else
        PQclear(r);
}

/* Reads every result libpq has; the calls that completed are appended to *done. Returns -1
 * when the connection broke. */
static int drain(hp_pg__conn_t *c, hp_pg__call_t ***done)
{
    int nulls = 0;
    while ((c->head != NULL || c->trailing_syncs != 0) && !PQisBusy(c->pg)) {
        PGresult *r = PQgetResult(c->pg);
        if (r == NULL) {
            if (++nulls > 1)
                break; /* nothing more until more input arrives */
            continue;
        }
        nulls = 0;
        if (c->trailing_syncs != 0) {
            on_trailing(c, r);
            continue;
        }
        hp_pg__call_t *call = c->head, *complete;
        ExecStatusType status = PQresultStatus(r);
        if (call->is_stream && status != PGRES_PIPELINE_SYNC) {
            hp_pg__stream_on_result(c, call, r);
            continue;
        }
        if (status != PGRES_PIPELINE_SYNC) {
            /* The Parse's answer comes first (after BEGIN's): the name is now usable, or free. */
            if (call->stmt_slot >= 0 && call->results == (call->in_tx ? 1u : 0u)) {
                hp_pg__stmts_end(c->stmts, call->stmt_slot, status == PGRES_COMMAND_OK);
                call->stmt_slot = -1;
            }
            ++call->results;
        }
        switch (status) {
        case PGRES_PIPELINE_SYNC:
            PQclear(r);
            complete = on_sync(c);
            if (complete == (hp_pg__call_t *)-1)
                return -1;
            if (complete != NULL) {
                **done = complete;
                *done = &complete->next;
            }
            break;
        case PGRES_TUPLES_OK: keep(&call->result, r); break;
        case PGRES_COMMAND_OK:
        case PGRES_PIPELINE_ABORTED: PQclear(r); break;
        default: keep(&call->error, r); break;
        }
    }
    return 0;
}

static void finish_all(hp_pg__call_t *done)
{
    while (done != NULL) {
        hp_pg__call_t *next = done->next;
        hp_pg__finish(done);
        done = next;
    }
}

static void on_readable(h2o_socket_t *sock, const char *err)
{
    hp_pg__conn_t *c = sock->data;
    hp_pg__loop_t *pl = c->target->loop;
    if (err != NULL) {
        hp_pg__conn_fail(c, err);
        return;
    }
    if (c->state == HP_PG_CONN_CONNECTING) {
        continue_connect(c);
        return;
    }
    if (!PQconsumeInput(c->pg) || PQstatus(c->pg) == CONNECTION_BAD) {
        hp_pg__conn_fail(c, pq_error(c));
        return;
    }
    hp_pg__call_t *done = NULL, **tail = &done;
    if (drain(c, &tail) != 0 ||
        (c->wants_write == 0 && (c->head != NULL || c->trailing_syncs != 0) &&
         hp_pg__conn_flush(c) != 0)) {
        hp_pg__conn_fail(c, pq_error(c));
        finish_all(done);
        return;
    }
    /* Notifications and notices on a pool connection mean nothing here. */
    PGnotify *n;
    while ((n = PQnotifies(c->pg)) != NULL)
        PQfreemem(n);
    finish_all(done);
    hp_pg__loop_dispatch(pl);
}

static void on_writable(h2o_socket_t *sock, const char *err)
{
    hp_pg__conn_t *c = sock->data;
    c->wants_write = 0;
    if (err != NULL) {
        hp_pg__conn_fail(c, err);
        return;
    }
    if (c->state == HP_PG_CONN_CONNECTING) {
        continue_connect(c);
        return;
    }
    if (hp_pg__conn_flush(c) != 0)
        hp_pg__conn_fail(c, pq_error(c));
}
