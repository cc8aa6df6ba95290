/*
 * The SQLite backend's threads and queues, and its hp_db__backend_t.
 *
 * Readers share one FIFO queue: a mutex, a condition variable, and a count of waiting workers
 * so a submit signals only when someone sleeps (under load the workers never sleep and a
 * submit costs one uncontended lock). The writer has a queue of its own, so writes are applied
 * in submission order by the only read-write connection and never queue behind reads.
 *
 * Shutdown: the queue is marked closing under its lock, which refuses new jobs (the front
 * answers those with DB_BUSY) and wakes every worker; workers keep taking jobs until the queue
 * is empty, then exit. Every job taken before the close is therefore answered.
 *
 * Streamed reads (stream.c): a reader whose job parked after its first piece lets the job take
 * its connection along and takes another, from a small list of spare read connections (opened
 * on demand; at most SPARE_CONNS kept, the rest closed). The job comes back through the same
 * FIFO for each further piece (hp_db_stream_next), and any reader continues it on the job's own
 * connection; its last piece gives the connection back to the spares. So a reader thread is
 * never held by a client draining a piece, and parked streams cost a connection each (their
 * snapshots hold back WAL checkpoints while they last). Live streams are listed, so shutdown
 * closes those whose owner never came back.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "core/log.h"
#include "db/backend.h"
#include "db/sqlite/sqlite.h"

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t nonempty;
    hp_db_job_t *head;
    hp_db_job_t **tail;
    unsigned waiting; /* workers asleep in pop */
    int is_closing;
} job_queue_t;

typedef struct st_sqlite_backend_t sqlite_backend_t;

typedef struct {
    sqlite_backend_t *backend;
    job_queue_t *queue;
    hp_sqlite__conn_t *conn; /* a reader's changes when a streamed read takes it along */
    pthread_t thread;
    int is_started;
} worker_t;

struct st_sqlite_backend_t {
    hp_db_t *db;
    char *path;
    unsigned busy_timeout_ms;
    uint64_t inline_budget_ns;
    unsigned statement_timeout_ms; /* 0: none; every connection that runs jobs enforces it */
    hp_sqlite__shared_t shared;
    uint64_t watch_ns;    /* how often the writer looks for external writes; 0: never */
    int64_t data_version; /* the writer connection's last PRAGMA data_version */
    job_queue_t reads;
    job_queue_t writes;
    worker_t writer;
    worker_t *readers;
    size_t reader_count;
    /* Streamed reads: spare read connections and the live streams, under conn_lock. */
    pthread_mutex_t conn_lock;
    hp_sqlite__conn_t *spare[8];
    size_t spare_count;
    h2o_linklist_t streams;
};

/* Spare read connections kept for streams (the rest are closed when given back). */
#define SPARE_CONNS (sizeof(((sqlite_backend_t *)0)->spare) / sizeof(hp_sqlite__conn_t *))

static void queue_init(job_queue_t *q)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* timed waits use hp_time_mono_ns */
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->nonempty, &attr);
    pthread_condattr_destroy(&attr);
    q->head = NULL;
    q->tail = &q->head;
    q->waiting = 0;
    q->is_closing = 0;
}

static void queue_dispose(job_queue_t *q)
{
    pthread_cond_destroy(&q->nonempty);
    pthread_mutex_destroy(&q->lock);
}

static int queue_push(job_queue_t *q, hp_db_job_t *job)
{
    job->_next = NULL;
    pthread_mutex_lock(&q->lock);
    if (q->is_closing) {
        pthread_mutex_unlock(&q->lock);
        return -1;
    }
    *q->tail = job;
    q->tail = &job->_next;
    int wake = q->waiting != 0;
    pthread_mutex_unlock(&q->lock);
    if (wake)
        pthread_cond_signal(&q->nonempty);
    return 0;
}

/* Blocks for the next job; NULL once the queue is closing and empty, or (wake_at_ns != 0)
 * when CLOCK_MONOTONIC reaches wake_at_ns first. Before sleeping, the worker's read snapshot
 * is dropped (an idle snapshot would hold back WAL checkpoints). */
static hp_db_job_t *queue_pop(job_queue_t *q, hp_sqlite__conn_t *conn, uint64_t wake_at_ns,
                              int *timed_out)
{
    *timed_out = 0;
    pthread_mutex_lock(&q->lock);
    if (q->head == NULL && !sqlite3_get_autocommit(conn->handle)) {
        pthread_mutex_unlock(&q->lock);
        hp_sqlite__end_snapshot(conn, 0);
        pthread_mutex_lock(&q->lock);
    }
    while (q->head == NULL && !q->is_closing) {
        q->waiting++;
        if (wake_at_ns == 0) {
            pthread_cond_wait(&q->nonempty, &q->lock);
        } else {
            struct timespec at = {(time_t)(wake_at_ns / 1000000000u),
                                  (long)(wake_at_ns % 1000000000u)};
            int rc = pthread_cond_timedwait(&q->nonempty, &q->lock, &at);
            if (rc == ETIMEDOUT) {
                q->waiting--;
                *timed_out = q->head == NULL;
                break;
            }
        }
        q->waiting--;
    }
    hp_db_job_t *job = q->head;
    if (job != NULL) {
        q->head = job->_next;
        if (q->head == NULL)
            q->tail = &q->head;
        job->_next = NULL;
    }
    pthread_mutex_unlock(&q->lock);
    return job;
}

static void queue_close(job_queue_t *q)
{
    pthread_mutex_lock(&q->lock);
    q->is_closing = 1;
    pthread_mutex_unlock(&q->lock);
    pthread_cond_broadcast(&q->nonempty);
}

static void run_job(worker_t *w, hp_db_job_t *job)
{
    uint64_t n = hp_sqlite__run(w->conn, job);
    if (n != 0)
        hp_db__count_queries(w->backend->db, n);
    hp_db__reply(job);
}

/* A read connection of the backend's (malloc'd), or NULL with a reason in errbuf. */
static hp_sqlite__conn_t *open_read_conn(sqlite_backend_t *b, char *errbuf, size_t errlen)
{
    hp_sqlite__conn_t *conn = malloc(sizeof(*conn));
    if (conn == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    if (hp_sqlite__conn_open(conn, b->path, 0, b->busy_timeout_ms, errbuf, errlen) != 0) {
        free(conn);
        return NULL;
    }
    conn->shared = &b->shared;
    conn->can_stream = 1;
    hp_sqlite__conn_set_statement_timeout(conn, b->statement_timeout_ms);
    return conn;
}

static void close_conn(hp_sqlite__conn_t *conn)
{
    if (conn == NULL)
        return;
    hp_sqlite__conn_close(conn);
    free(conn);
}

/* A spare connection, or a new one; NULL (logged) when none can be opened. */
static hp_sqlite__conn_t *take_spare(sqlite_backend_t *b)
{
    hp_sqlite__conn_t *conn = NULL;
    pthread_mutex_lock(&b->conn_lock);
    if (b->spare_count != 0)
        conn = b->spare[--b->spare_count];
    pthread_mutex_unlock(&b->conn_lock);
    if (conn == NULL) {
        char err[256];
        if ((conn = open_read_conn(b, err, sizeof(err))) == NULL)
            hp_log_warn("SQLite: no connection to replace one a streamed read took: %s", err);
    }
    return conn;
}

/* Takes a finished stream out of the list and keeps its connection as a spare (or closes it).
 * Any thread. */
static void end_stream(sqlite_backend_t *b, hp_db_job_t *job)
{
    hp_sqlite__stream_t *s = job->_backend;
    job->_backend = NULL;
    hp_sqlite__stream_end(s);
    hp_sqlite__conn_t *conn = s->conn;
    pthread_mutex_lock(&b->conn_lock);
    h2o_linklist_unlink(&s->link);
    if (b->spare_count < SPARE_CONNS) {
        b->spare[b->spare_count++] = conn;
        conn = NULL;
    }
    pthread_mutex_unlock(&b->conn_lock);
    close_conn(conn);
    free(s);
}

/* A read, or the next piece of a streamed one. */
static void run_read(worker_t *w, hp_db_job_t *job)
{
    sqlite_backend_t *b = w->backend;
    if (job->_backend != NULL) {
        hp_sqlite__stream_resume(job->_backend, job);
        if (job->result.is_last)
            end_stream(b, job);
        hp_db__reply(job);
        return;
    }
    uint64_t n = hp_sqlite__run(w->conn, job);
    if (n != 0)
        hp_db__count_queries(b->db, n);
    if (job->result.is_streaming) {
        /* Parked after its first piece: the job keeps this connection, the thread another. */
        hp_sqlite__stream_t *s = job->_backend;
        hp_sqlite__conn_t *fresh = take_spare(b);
        if (fresh == NULL) {
            hp_sqlite__stream_end(s);
            free(s);
            job->_backend = NULL;
            hp_exec_result_dispose(&job->result);
            hp_exec_result_init(&job->result);
            hp_error_set(&job->result.error, &job->pool, HP_ERR_DB_BUSY,
                         "No database connection is free for a streamed read");
        } else {
            pthread_mutex_lock(&b->conn_lock);
            h2o_linklist_insert(&b->streams, &s->link);
            pthread_mutex_unlock(&b->conn_lock);
            w->conn = fresh;
        }
    }
    hp_db__reply(job);
}

static void *reader_main(void *arg)
{
    worker_t *w = arg;
    hp_db_job_t *job;
    int timed_out;
    while ((job = queue_pop(w->queue, w->conn, 0, &timed_out)) != NULL)
        run_read(w, job);
    return NULL;
}

/* Commits by other programs: PRAGMA data_version on the writer's connection changes exactly
 * when another connection committed, and only our writer writes in this process, so a change
 * is an external write. It then counts as a write of ours would: every read snapshot is
 * refreshed before its next read, and the front is told (the cache drops what it holds). */
static void watch_external_writes(sqlite_backend_t *b)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(b->writer.conn->handle, "PRAGMA data_version", -1, &st, NULL) !=
        SQLITE_OK)
        return;
    if (sqlite3_step(st) == SQLITE_ROW) {
        int64_t version = sqlite3_column_int64(st, 0);
        if (b->data_version != 0 && version != b->data_version) {
            atomic_fetch_add_explicit(&b->shared.write_generation, 1, memory_order_release);
            hp_db__external_change(b->db, NULL, 0);
        }
        b->data_version = version;
    }
    sqlite3_finalize(st);
}

static void *writer_main(void *arg)
{
    worker_t *w = arg;
    sqlite_backend_t *b = w->backend;
    /* The watch runs from the start, between jobs and while idle: its first look only
     * records data_version, later ones compare. */
    uint64_t next_watch = b->watch_ns != 0 ? hp_time_mono_ns() : 0;
    for (;;) {
        int timed_out;
        hp_db_job_t *job = queue_pop(w->queue, w->conn, next_watch, &timed_out);
        if (job != NULL)
            run_job(w, job);
        else if (!timed_out)
            break; /* closing, and every job is done */
        if (b->watch_ns != 0) {
            uint64_t now = hp_time_mono_ns();
            if (now >= next_watch) {
                watch_external_writes(b);
                next_watch = now + b->watch_ns;
            }
        }
    }
    return NULL;
}

static void stop_and_free(sqlite_backend_t *b)
{
    queue_close(&b->reads);
    queue_close(&b->writes);
    for (size_t i = 0; i < b->reader_count; i++)
        if (b->readers[i].is_started)
            pthread_join(b->readers[i].thread, NULL);
    if (b->writer.is_started)
        pthread_join(b->writer.thread, NULL);
    /* Streams whose owner never asked for their end (the loops are gone by now), and the
     * spares. Then the readers: the writer's close, as the last connection, checkpoints the
     * WAL. */
    while (!h2o_linklist_is_empty(&b->streams)) {
        hp_sqlite__stream_t *s = H2O_STRUCT_FROM_MEMBER(hp_sqlite__stream_t, link, b->streams.next);
        h2o_linklist_unlink(&s->link);
        hp_sqlite__stream_end(s);
        close_conn(s->conn);
        free(s);
    }
    while (b->spare_count != 0)
        close_conn(b->spare[--b->spare_count]);
    for (size_t i = 0; i < b->reader_count; i++)
        close_conn(b->readers[i].conn);
    close_conn(b->writer.conn);
    queue_dispose(&b->reads);
    queue_dispose(&b->writes);
    pthread_mutex_destroy(&b->conn_lock);
    free(b->readers);
    free(b->path);
    free(b);
}

static int start_worker(worker_t *w, void *(*main)(void *), char *errbuf, size_t errlen)
{
    int rc = pthread_create(&w->thread, NULL, main, w);
    if (rc != 0) {
        snprintf(errbuf, errlen, "cannot start a database thread: %s", strerror(rc));
        return -1;
    }
    w->is_started = 1;
    return 0;
}

static void *sqlite_open(hp_db_t *db, const char *location, const hp_db_options_t *opts,
                         char *errbuf, size_t errlen)
{
    struct stat st;
    if (stat(location, &st) != 0) {
        snprintf(errbuf, errlen, "SQLite database %s: %s (create it first, e.g. hotpath demo)",
                 location, strerror(errno));
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(errbuf, errlen, "SQLite database %s is not a regular file", location);
        return NULL;
    }

    sqlite_backend_t *b = calloc(1, sizeof(*b));
    if (b == NULL || (b->path = strdup(location)) == NULL)
        goto oom;
    b->db = db;
    b->busy_timeout_ms = opts->busy_timeout_ms;
    b->inline_budget_ns = (uint64_t)opts->inline_budget_us * 1000;
    b->statement_timeout_ms = opts->statement_timeout_ms;
    atomic_init(&b->shared.write_generation, 0);
    b->shared.snapshot_max_age_ns = (uint64_t)opts->snapshot_ms * 1000000;
    b->watch_ns = (uint64_t)opts->watch_ms * 1000000;
    b->reader_count = opts->pool != 0 ? opts->pool : 1;
    queue_init(&b->reads);
    queue_init(&b->writes);
    pthread_mutex_init(&b->conn_lock, NULL);
    h2o_linklist_init_anchor(&b->streams);
    if ((b->readers = calloc(b->reader_count, sizeof(*b->readers))) == NULL) {
        queue_dispose(&b->reads);
        queue_dispose(&b->writes);
        pthread_mutex_destroy(&b->conn_lock);
        goto oom;
    }

    /* The writer first: it switches the file to WAL before any reader opens it. */
    b->writer.backend = b;
    b->writer.queue = &b->writes;
    if ((b->writer.conn = malloc(sizeof(*b->writer.conn))) == NULL) {
        snprintf(errbuf, errlen, "out of memory opening %s", location);
        goto fail;
    }
    if (hp_sqlite__conn_open(b->writer.conn, location, 1, b->busy_timeout_ms, errbuf, errlen) !=
        0) {
        free(b->writer.conn);
        b->writer.conn = NULL;
        goto fail;
    }
    b->writer.conn->shared = &b->shared;
    hp_sqlite__conn_set_statement_timeout(b->writer.conn, b->statement_timeout_ms);
    for (size_t i = 0; i < b->reader_count; i++) {
        worker_t *w = &b->readers[i];
        w->backend = b;
        w->queue = &b->reads;
        if ((w->conn = open_read_conn(b, errbuf, errlen)) == NULL)
            goto fail;
    }
    if (start_worker(&b->writer, writer_main, errbuf, errlen) != 0)
        goto fail;
    for (size_t i = 0; i < b->reader_count; i++)
        if (start_worker(&b->readers[i], reader_main, errbuf, errlen) != 0)
            goto fail;
    return b;

fail:
    stop_and_free(b);
    return NULL;
oom:
    if (b != NULL)
        free(b->path);
    free(b);
    snprintf(errbuf, errlen, "out of memory opening %s", location);
    return NULL;
}

/* Loads over a connection of its own, so it neither waits for nor races the workers. */
static hp_schema_t *sqlite_load_schema(void *state, char *errbuf, size_t errlen)
{
    sqlite_backend_t *b = state;
    hp_sqlite__conn_t conn;
    if (hp_sqlite__conn_open(&conn, b->path, 0, b->busy_timeout_ms, errbuf, errlen) != 0)
        return NULL;
    hp_schema_t *s = hp_sqlite__load_schema(conn.handle, errbuf, errlen);
    hp_sqlite__conn_close(&conn);
    return s;
}

/* A loop thread's own read connection (hp_db_attach_thread). Reads run on it first, under
 * the time budget; the hand-off to a reader thread and back costs two wake-ups, which for a
 * point lookup is far more than the query itself. */
typedef struct {
    sqlite_backend_t *owner;
    hp_sqlite__conn_t conn;
} inline_conn_t;

static __thread inline_conn_t *tls_inline;

/* After a statement overran the budget, this many of its next runs go to the reader threads
 * before it is tried inline again (its cost depends on the values bound, which change). */
#define OFFLOAD_RUNS 64

static int sqlite_attach_thread(void *state, h2o_loop_t *loop, char *errbuf, size_t errlen)
{
    (void)loop;
    sqlite_backend_t *b = state;
    if (b->inline_budget_ns == 0 || tls_inline != NULL)
        return 0;
    inline_conn_t *ic = calloc(1, sizeof(*ic));
    if (ic == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    ic->owner = b;
    if (hp_sqlite__conn_open(&ic->conn, b->path, 0, b->busy_timeout_ms, errbuf, errlen) != 0) {
        free(ic);
        return -1;
    }
    ic->conn.shared = &b->shared;
    hp_sqlite__conn_enable_budget(&ic->conn);
    hp_sqlite__conn_set_statement_timeout(&ic->conn, b->statement_timeout_ms);
    tls_inline = ic;
    return 0;
}

static void sqlite_thread_tick(void *state)
{
    inline_conn_t *ic = tls_inline;
    if (ic != NULL && ic->owner == state)
        hp_sqlite__end_snapshot(&ic->conn, 1);
}

static void sqlite_detach_thread(void *state)
{
    inline_conn_t *ic = tls_inline;
    if (ic == NULL || ic->owner != state)
        return;
    hp_sqlite__conn_close(&ic->conn);
    free(ic);
    tls_inline = NULL;
}

/* Runs a read on the calling thread's connection. Returns 1 when the job is finished, 0 when
 * it must go to the reader threads instead (its result is then reset). */
static int run_inline(sqlite_backend_t *b, inline_conn_t *ic, hp_db_job_t *job)
{
    const hp_stmt_t *main = &job->exec->main;
    size_t sql_len = main->sql_len != 0 ? main->sql_len : strlen(main->sql);
    unsigned *offload = hp_sqlite__stmt_offload_hint(&ic->conn, main->sql, sql_len);
    if (offload != NULL && *offload != 0) {
        --*offload;
        return 0;
    }
    ic->conn.is_over_budget = 0;
    ic->conn.deadline_ns = hp_time_mono_ns() + b->inline_budget_ns;
    uint64_t n = hp_sqlite__run(&ic->conn, job);
    ic->conn.deadline_ns = 0;
    /* Past the budget (and not the statement timeout, which the handler checks first): run it
     * again on a reader thread, whose statement timeout starts afresh. The inline attempt
     * took at most the budget, so a read may run up to budget + timeout in all. */
    if (ic->conn.is_over_budget) {
        hp_exec_result_dispose(&job->result);
        hp_exec_result_init(&job->result);
        if ((offload = hp_sqlite__stmt_offload_hint(&ic->conn, main->sql, sql_len)) != NULL)
            *offload = OFFLOAD_RUNS;
        return 0;
    }
    if (n != 0)
        hp_db__count_queries(b->db, n);
    return 1;
}

static int sqlite_submit(void *state, hp_db_job_t *job)
{
    sqlite_backend_t *b = state;
    if (job->exec->kind == HP_EXEC_WRITE)
        return queue_push(&b->writes, job);
    inline_conn_t *ic = tls_inline;
    if (ic != NULL && ic->owner == b && run_inline(b, ic, job)) {
        job->on_done(job);
        return 0;
    }
    return queue_push(&b->reads, job);
}

static void sqlite_close(void *state)
{
    stop_and_free(state);
}

/* The owner drained a piece: any reader continues the job on its own connection. */
static void sqlite_stream_next(void *state, hp_db_job_t *job)
{
    sqlite_backend_t *b = state;
    if (queue_push(&b->reads, job) == 0)
        return;
    end_stream(b, job); /* shutting down */
    hp_buf_dispose(&job->result.body);
    hp_error_set(&job->result.error, &job->pool, HP_ERR_DB_BUSY, "The database is shutting down");
    job->result.is_last = 1;
    hp_db__reply(job);
}

/* Ends the stream right here (a reset and a ROLLBACK: no queue, no reader needed). */
static void sqlite_stream_cancel(void *state, hp_db_job_t *job)
{
    end_stream(state, job);
    hp_buf_dispose(&job->result.body);
    hp_error_set(&job->result.error, &job->pool, HP_ERR_CANCELLED, "The streamed read was stopped");
    job->result.is_last = 1;
    hp_db__reply(job);
}

const hp_db__backend_t hp_db__sqlite_backend = {
    .dialect = HP_DIALECT_SQLITE,
    .open = sqlite_open,
    .load_schema = sqlite_load_schema,
    .submit = sqlite_submit,
    .attach_thread = sqlite_attach_thread,
    .detach_thread = sqlite_detach_thread,
    .thread_tick = sqlite_thread_tick,
    .close = sqlite_close,
    .stream_next = sqlite_stream_next,
    .stream_cancel = sqlite_stream_cancel,
};
