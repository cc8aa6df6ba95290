/*
 * The database: one handle over a backend, SQLite (a file path or sqlite://) or PostgreSQL
 * (postgres:// or postgresql://), chosen from the URI. It owns the connections, the threads or
 * sockets that drive them, and the current schema snapshot.
 *
 * Requests reach it as jobs. An event-loop thread creates a job, lets the planner fill
 * job->exec in job->pool, and submits it; the backend runs it (SQLite: on its threads, or
 * inline on the loop within a time budget; PostgreSQL: on the submitting loop's own
 * connections, asynchronously) and hands the job back to the submitting loop through that
 * loop's receiver (h2o_multithread), or directly when it ran inline, where job->on_done runs.
 * on_done owns the job from then on and destroys it. The loop never blocks on the database.
 *
 * hp_db_submit, hp_db_schema and hp_db_reload_schema may be called from any thread.
 */
#ifndef HP_DB_DB_H
#define HP_DB_DB_H

#include <h2o.h>
#include "db/exec.h"
#include "db/schema.h"

typedef struct {
    const char *uri;           /* a SQLite file path or sqlite://PATH, or postgres://... */
    unsigned pool;             /* read connections (worker threads for SQLite) */
    unsigned busy_timeout_ms;  /* how long a statement waits on a lock before DB_BUSY */
    unsigned inline_budget_us; /* reads may run on the submitting loop for this long (see
                                  hp_db_attach_thread); 0 sends every read to the pool */
    unsigned snapshot_ms;      /* a read connection may keep its snapshot of the database this
                                  long between reads (0: a new one for every read); writes
                                  made through this handle are seen at once regardless */
    unsigned watch_ms;         /* how often to look for writes by other programs (0: never) */
    /* PostgreSQL only (pool is then the most connections per server, over all loops). */
    unsigned pool_min;         /* connections kept open per server */
    unsigned pool_idle_ms;     /* an idle connection beyond pool_min closes after this; 0 never */
    unsigned pool_lifetime_ms; /* a connection closes once idle after this age; 0 never */
    unsigned pool_acquire_ms;  /* a job waits this long for a connection, then 504 */
    unsigned pipeline;         /* most queries in flight per connection (1: no pipelining) */
    unsigned statement_timeout_ms; /* a statement running longer fails (57014); 0: none (PostgreSQL:
                                      the server's own). SQLite: reads and writes alike */
    const char *replicas;          /* "uri,uri": read replicas, or NULL / "" */
    unsigned loops;                /* event loops that will attach (to share pool_min among) */
} hp_db_options_t;

/* The connection pool's state, summed over loops (PostgreSQL; zeros for SQLite). */
typedef struct {
    unsigned open;       /* connections open or opening */
    unsigned max;        /* the most that may be open */
    unsigned busy;       /* queries in flight */
    unsigned waiting;    /* jobs waiting for a connection */
    uint64_t acquired;   /* jobs that got a connection, since start */
    uint64_t acquire_ns; /* their total wait */
} hp_db_pool_stats_t;

typedef struct st_hp_db_t hp_db_t;
typedef struct st_hp_db_job_t hp_db_job_t;

typedef void (*hp_db_job_cb)(hp_db_job_t *job);

struct st_hp_db_job_t {
    /* Filled by the caller before hp_db_submit. */
    hp_exec_t *exec;                      /* allocated in pool */
    h2o_multithread_receiver_t *reply_to; /* the submitting loop's receiver (hp_db_on_replies) */
    hp_db_job_cb on_done;                 /* runs on reply_to's loop */
    void *data;                           /* the caller's; the backend never touches it */
    int prefers_primary; /* a read that must see this client's recent writes: not a replica */
    /* A read whose rendered body grows past this many bytes is streamed (see "Streamed
     * results" below); 0: never, the whole body comes back at once as before. */
    size_t stream_after_bytes;
    /* Owned by the job: everything the exec points to. */
    h2o_mem_pool_t pool;
    /* Filled by the backend. */
    hp_exec_result_t result;
    /* Internal. */
    h2o_multithread_message_t _message;
    hp_db_job_t *_next;
    void *_backend;
    void *_batch; /* src/batch's, while it holds the job */
};

/* Opens the database, loads the schema, starts the backend's threads. Returns NULL and writes
 * a one-line reason to errbuf on failure. */
hp_db_t *hp_db_open(const hp_db_options_t *opts, char *errbuf, size_t errlen);
/* Waits for submitted jobs to finish, stops the threads, closes every connection. */
void hp_db_close(hp_db_t *db);

hp_dialect_t hp_db_dialect(const hp_db_t *db);

/* Returns a new reference to the current schema snapshot (hp_schema_unref when done). */
hp_schema_t *hp_db_schema(hp_db_t *db);
/* Loads a fresh snapshot and publishes it; the old one lives on while referenced.
 * Returns 0, or -1 with a reason in errbuf (the old snapshot stays). */
int hp_db_reload_schema(hp_db_t *db, char *errbuf, size_t errlen);

/* Gives the calling thread (an event loop) a read connection of its own, so reads submitted
 * from it run right there, with no thread hand-off, when they finish within
 * opts.inline_budget_us. A read still running at the budget is interrupted and handed to the
 * reader threads, and its statement then runs there for a while before it is tried inline
 * again: a loop never stalls behind a slow query for longer than the budget. Without this call
 * (or with a budget of 0) every read goes to the reader threads. Returns 0, or -1 with a
 * reason. Detach on the same thread before it exits. */
int hp_db_attach_thread(hp_db_t *db, h2o_loop_t *loop, char *errbuf, size_t errlen);
void hp_db_detach_thread(hp_db_t *db);
/* Call every few milliseconds on an attached thread: lets its connection drop a snapshot that
 * has grown stale while the thread was idle (an old snapshot holds back WAL checkpoints). */
void hp_db_thread_tick(hp_db_t *db);

/* Registers the one function called when another program wrote to the database (SQLite:
 * seen within opts.watch_ms; PostgreSQL: the NOTIFY of `hotpath setup-triggers`). `table` names
 * the table written (not NUL-terminated), or is NULL when it is not known (anything may have
 * changed). It runs on a database thread: it must be quick and thread-safe. */
typedef void (*hp_db_change_cb)(void *arg, const char *table, size_t table_len);
void hp_db_set_change_listener(hp_db_t *db, hp_db_change_cb cb, void *arg);

/* Job lifecycle: create (malloc + pool init), submit, and destroy in on_done. */
hp_db_job_t *hp_db_job_create(void);
void hp_db_job_destroy(hp_db_job_t *job);
/* Queues the job (READ jobs to the readers, WRITE jobs to the writer), or runs a READ inline
 * (see hp_db_attach_thread), in which case job->on_done runs before this returns. Never
 * blocks on I/O for longer than the inline budget. */
void hp_db_submit(hp_db_t *db, hp_db_job_t *job);

/* Streamed results. A READ job submitted with stream_after_bytes > 0 whose format is JSON or
 * CSV may come back in pieces. When its rendered body passes stream_after_bytes, the backend
 * sets result.is_streaming and hands the job back (on_done runs on the submitting loop, as
 * always) with the first piece in result.body and result.is_last == 0. The owner takes the
 * bytes (hp_buf_take, or copies them), sends them, and when it can take more (the client's
 * socket drained) calls hp_db_stream_next(db, job): on_done runs again with the next piece.
 * The last piece has is_last == 1 and the final row_count / total; an error after the first
 * piece comes back as a piece with result.error set and is_last == 1 (the owner aborts the
 * response: the status is long gone). The owner destroys the job only after on_done saw
 * is_last. hp_db_stream_cancel(db, job) instead of hp_db_stream_next ends the statement early
 * (client gone, send timeout): on_done runs once more with is_last == 1 and error
 * HP_ERR_CANCELLED, then the owner destroys the job as usual. While a piece is with the owner,
 * the backend holds the statement open and does nothing else on its behalf (backpressure: no
 * more than about stream_after_bytes per stream is ever buffered). A job that never passes
 * the threshold comes back once, whole, exactly as without streaming. Pieces concatenated are
 * byte for byte the body the unstreamed job would have rendered. on_done never runs inside
 * hp_db_stream_next or hp_db_stream_cancel: every piece, and the end of a cancelled stream, is
 * posted to the job's loop (so an owner may cancel from a dispose callback). */
void hp_db_stream_next(hp_db_t *db, hp_db_job_t *job);
void hp_db_stream_cancel(hp_db_t *db, hp_db_job_t *job);

/* The receiver callback each loop registers on its h2o_context_t queue for db replies:
 *     h2o_multithread_register_receiver(ctx->queue, &receiver, hp_db_on_replies);
 * It calls job->on_done for every job in `messages`. */
void hp_db_on_replies(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages);

/* Statements executed since start, over all connections (for tests and metrics). */
uint64_t hp_db_query_count(const hp_db_t *db);
/* The pool's state now (any thread). */
void hp_db_pool_stats(const hp_db_t *db, hp_db_pool_stats_t *out);
/* Whether the database answers, as far as the backend knows now (any thread): PostgreSQL is
 * unreachable from the first failed connect until a connection succeeds again; SQLite always
 * answers once open. */
int hp_db_is_reachable(const hp_db_t *db);

#endif
