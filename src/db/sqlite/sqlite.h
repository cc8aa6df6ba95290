/*
 * The SQLite backend's internals, shared by the files of src/db/sqlite/ and by nothing else
 * (the rest of hotpath sees it only through db/backend.h).
 *
 * Threads: `pool` reader threads, each owning one read-only connection, take jobs from one
 * FIFO queue; one writer thread owns the only read-write connection and has its own queue.
 * A connection (and its statement cache) is used by exactly one thread at a time: the one
 * that opened it until the threads start, then its worker; a streamed read's connection
 * travels with its job between pieces (stream.c), and any reader may continue it.
 *
 *   pool.c        queues, threads, open/close, the backend vtable
 *   conn.c        opening a connection with its PRAGMAs; SQLite errors -> hp_error_t
 *   stmt_cache.c  prepared statements per connection, keyed by SQL text, LRU-bounded
 *   exec.c        running one job: transaction, binds, count, singular check
 *   render.c      result rows -> JSON / CSV, and the Location query
 *   stream.c      a large read's rows in pieces: parking and resuming its statement
 *   schema_load.c the catalog -> an hp_schema_t snapshot
 */
#ifndef HP_DB_SQLITE_SQLITE_H
#define HP_DB_SQLITE_SQLITE_H

#include <sqlite3.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "core/time.h"
#include "db/db.h"

/* --- statement cache (stmt_cache.c) --- */

/* Statements kept per connection; the least recently used is finalized beyond this. */
#define HP_SQLITE_STMT_CACHE_CAP 256
/* Hash buckets per cache (a power of two, about twice the cap). */
#define HP_SQLITE_STMT_CACHE_BUCKETS 512

typedef struct st_hp_sqlite__stmt_entry_t hp_sqlite__stmt_entry_t;

typedef struct {
    hp_sqlite__stmt_entry_t *buckets[HP_SQLITE_STMT_CACHE_BUCKETS];
    hp_sqlite__stmt_entry_t *lru_head; /* most recently used */
    hp_sqlite__stmt_entry_t *lru_tail; /* least recently used: evicted first */
    size_t count;
} hp_sqlite__stmt_cache_t;

/* A statement lent out by the cache; give it back with hp_sqlite__stmt_release. */
typedef struct {
    sqlite3_stmt *stmt;
    hp_sqlite__stmt_entry_t *entry; /* NULL for a one-off statement (finalized on release) */
} hp_sqlite__stmt_t;

/* --- read snapshots (exec.c) --- */

/* What every connection of one database shares. Reads keep their read transaction (their
 * snapshot of the database) open from one job to the next, which saves the lock and file
 * checks SQLite does at every transaction start (about 3.7 us of a 5.6 us point lookup). A
 * snapshot is dropped before the next read when the writer has committed since it was taken
 * (so a client always reads its own writes, on any thread), when it is older than
 * snapshot_max_age_ns (so writes by other programs show within that time), and when its
 * thread goes idle (so it never holds back WAL checkpoints). */
typedef struct {
    _Atomic uint64_t write_generation; /* bumped by the writer after each COMMIT */
    uint64_t snapshot_max_age_ns;      /* 0: a transaction per read, no reuse */
} hp_sqlite__shared_t;

/* --- a connection (conn.c) --- */

typedef struct {
    sqlite3 *handle;
    hp_sqlite__stmt_cache_t cache;
    int is_writer;
    /* A reader thread's connection: a read may park on it (stream.c) and take it along. */
    int can_stream;
    /* Time budget (inline connections, see pool.c): while deadline_ns is non-zero, a
     * statement still running at that CLOCK_MONOTONIC time is interrupted and
     * is_over_budget set. */
    uint64_t deadline_ns;
    int is_over_budget;
    /* Statement timeout (db-statement-timeout-ms; 0: none): exec.c arms timeout_at_ns for
     * the plan's statements of each job (not BEGIN/COMMIT/ROLLBACK); a statement still
     * running then is interrupted and is_timed_out set (the job answers 57014). */
    uint64_t statement_timeout_ns;
    uint64_t timeout_at_ns;
    int is_timed_out;
    /* Read snapshot kept open between jobs (see hp_sqlite__shared_t). has_snapshot says the
     * open transaction is such a snapshot; whether one is open at all is SQLite's to say
     * (sqlite3_get_autocommit). Between jobs the two agree: exec.c leaves every job so. */
    hp_sqlite__shared_t *shared;
    int has_snapshot;
    uint64_t snapshot_generation;
    uint64_t snapshot_taken_ns;
} hp_sqlite__conn_t;

/* Opens `path` (which must exist) read-only, or read-write for the writer, and sets the
 * connection's PRAGMAs (see conn.c). Returns 0, or -1 with a reason in errbuf. */
int hp_sqlite__conn_open(hp_sqlite__conn_t *conn, const char *path, int is_writer,
                         unsigned busy_timeout_ms, char *errbuf, size_t errlen);
/* Finalizes the cached statements and closes the connection. */
void hp_sqlite__conn_close(hp_sqlite__conn_t *conn);
/* Installs the progress handler that enforces conn->deadline_ns. */
void hp_sqlite__conn_enable_budget(hp_sqlite__conn_t *conn);
/* Sets the statement timeout (0: none) and, unless 0, installs the same progress handler. */
void hp_sqlite__conn_set_statement_timeout(hp_sqlite__conn_t *conn, unsigned timeout_ms);

/* One row of the table from SQLite result codes to answers (conn.c, docs/sqlite.md). */
typedef struct {
    int rc;              /* an extended result code, or a primary one (matches all of its kind) */
    const char *errmsg;  /* NULL, or the one SQLite message the row applies to */
    hp_errcode_t code;   /* the answer: HTTP status and code from HP_ERRORS */
    const char *message; /* NULL: SQLite's message; else this, with SQLite's as details */
    const char *hint;    /* NULL, or the hint the answer carries */
} hp_sqlite__error_row_t;

extern const hp_sqlite__error_row_t hp_sqlite__error_rows[];
extern const size_t hp_sqlite__error_row_count;
/* The first row matching the result code and SQLite's message (may be NULL), or NULL when
 * none does (the error is then HP_ERR_DB, 500). */
const hp_sqlite__error_row_t *hp_sqlite__error_row(int rc, const char *errmsg);

/* Sets `err` (text in pool) from the connection's last error through hp_sqlite__error_rows.
 * `rc` is the (extended) result code the failing call returned; handle may be NULL (the
 * message is then SQLite's text for rc). Returns -1. */
int hp_sqlite__set_error(hp_error_t *err, h2o_mem_pool_t *pool, sqlite3 *handle, int rc);

/* --- statement cache --- */

void hp_sqlite__stmt_cache_init(hp_sqlite__stmt_cache_t *cache);
/* Finalizes every cached statement. */
void hp_sqlite__stmt_cache_dispose(hp_sqlite__stmt_cache_t *cache);
/* Looks up or prepares `sql` (NUL-terminated, sql_len bytes). Returns SQLITE_OK, or the
 * SQLite error code (the connection's errmsg says why; out->stmt is NULL). */
int hp_sqlite__stmt_acquire(hp_sqlite__conn_t *conn, const char *sql, size_t sql_len,
                            hp_sqlite__stmt_t *out);
/* The cached statement's offload counter for `sql` (inline connections: how many more runs
 * go to the reader threads before trying inline again), or NULL when it is not cached. */
unsigned *hp_sqlite__stmt_offload_hint(hp_sqlite__conn_t *conn, const char *sql, size_t sql_len);
/* Resets the statement, clears its bindings and gives it back (or finalizes a one-off). */
void hp_sqlite__stmt_release(hp_sqlite__conn_t *conn, hp_sqlite__stmt_t *st);

/* --- running jobs (exec.c) --- */

/* Runs job->exec on the connection and fills job->result. Returns the number of statements
 * executed (for the database-wide counter). */
uint64_t hp_sqlite__run(hp_sqlite__conn_t *conn, hp_db_job_t *job);
/* Ends the connection's open read snapshot, or any transaction left open (when its thread
 * goes idle); with only_if_stale, a snapshot only when it is older than the maximum age. */
void hp_sqlite__end_snapshot(hp_sqlite__conn_t *conn, int only_if_stale);

/* --- rendering (render.c) --- */

/* Renders the rows of one statement into job->result while stepping it. */
typedef struct {
    const hp_exec_t *exec;
    hp_exec_result_t *result;
    h2o_mem_pool_t *pool;
    h2o_iovec_t *keys; /* JSON: `{"k0":`, `,"k1":`, ... pre-escaped once per job */
    hp_buf_t location; /* the first row's location query, kept while it is the only row */
} hp_sqlite__render_t;

void hp_sqlite__render_begin(hp_sqlite__render_t *r, const hp_exec_t *exec,
                             hp_exec_result_t *result, h2o_mem_pool_t *pool);
/* Renders the statement's current row. Returns 0, or -1 with result->error set (a cap). */
int hp_sqlite__render_row(hp_sqlite__render_t *r, sqlite3_stmt *stmt);
/* Closes the body (`]` for JSON, nothing for CSV; OBJECT unwraps to the one object) and moves
 * the location to the result when exactly one row was rendered. Frees what begin allocated. */
void hp_sqlite__render_end(hp_sqlite__render_t *r);
/* Frees what begin allocated without finishing the body (after an error). */
void hp_sqlite__render_abort(hp_sqlite__render_t *r);

/* --- streamed results (stream.c; db.h "Streamed results", docs/streaming.md) --- */

/* A read parked between pieces: the connection (with its read transaction) and the stepping
 * statement travel with the job (job->_backend) until the last piece, so no reader thread is
 * held while the client drains a piece. Malloc'd; pool.c links it into the backend's list of
 * live streams (closed at shutdown) and gives its connection back when it ends. */
typedef struct {
    hp_sqlite__conn_t *conn;
    hp_sqlite__stmt_t st;
    hp_sqlite__render_t render;
    h2o_linklist_t link; /* pool.c's list of live streams */
} hp_sqlite__stream_t;

/* Whether the job's body has grown past the point where it is handed back as a piece: a READ
 * in JSON or CSV submitted with stream_after_bytes (never OBJECT, BATCH or a write). */
static inline int hp_sqlite__stream_is_due(const hp_db_job_t *job)
{
    return job->stream_after_bytes != 0 && job->result.body.len >= job->stream_after_bytes &&
           job->exec->kind == HP_EXEC_READ &&
           (job->exec->format == HP_FORMAT_JSON || job->exec->format == HP_FORMAT_CSV);
}
/* Called from the row loop when hp_sqlite__stream_is_due: parks the statement (st and r are
 * taken over) and marks the result as the first piece; returns 1. On a connection that cannot
 * stream (a loop's inline one) it instead gives both up, sets conn->is_over_budget and an
 * error so the read is redone by a reader thread (as a budget overrun is); returns -1. */
int hp_sqlite__stream_park(hp_sqlite__conn_t *conn, hp_db_job_t *job, hp_sqlite__stmt_t *st,
                           hp_sqlite__render_t *r);
/* Renders the next piece of the parked job (on the thread that now holds its connection):
 * result.body gets the rows up to the threshold again; at the end (or on an error) the
 * statement is released, the read transaction ended and result.is_last set. */
void hp_sqlite__stream_resume(hp_sqlite__stream_t *s, hp_db_job_t *job);
/* Gives the statement back and ends the read transaction without finishing the body (cancel,
 * shutdown); the connection is then free for anyone. */
void hp_sqlite__stream_end(hp_sqlite__stream_t *s);

/* --- schema (schema_load.c) --- */

/* Builds a finalized snapshot of the main schema over `handle`. NULL with a reason on error. */
hp_schema_t *hp_sqlite__load_schema(sqlite3 *handle, char *errbuf, size_t errlen);

#endif
