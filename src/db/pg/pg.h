/*
 * The PostgreSQL backend's private parts (src/db/pg only).
 *
 * libpq runs in non-blocking pipeline mode on the event loops themselves: each loop that
 * attaches (hp_db_attach_thread) owns its own connections, watches their sockets with h2o
 * (H2O_SOCKET_FLAG_DONT_READ: h2o only reports readiness, libpq reads), and runs the jobs it
 * submits on them, so a job does not change thread and no thread blocks on the network. The
 * one exception is lending (pool.c): a loop that may open no connection of its own hands its
 * jobs to a loop that has one.
 *
 *   hp_pg__backend_t  one per database handle: URIs, limits, the count of connections open per
 *                 server across all loops (db-pool is a total), the NOTIFY listener thread
 *   hp_pg__loop_t     one per attached loop: its servers (hp_pg__target_t: the primary, then each
 *                 replica), the FIFO of jobs waiting for a connection
 *   hp_pg__conn_t     one libpq connection: connecting or ready, the calls in its pipeline in
 *                 order, its named prepared statements
 *   hp_pg__call_t     one job on its way through a connection (allocated in the job's pool)
 *
 * A streamed read (stream.c) holds a connection alone while its owner sends the pieces: it
 * comes back to on_done once per piece, the last time through hp_pg__finish().
 *
 * Every job ends in exactly one hp_pg__finish(), which calls its on_done on the loop that
 * submitted it (directly, or posted there when the job was lent): with the result, or with an
 * error (503 when the server cannot be reached, 504 when no connection could be had within
 * db-pool-acquire-ms).
 */
#ifndef HP_DB_PG_PG_H
#define HP_DB_PG_PG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>
#include <libpq-fe.h>
#include <h2o.h>
#include "db/backend.h"

#define HP_PG_MAX_TARGETS 9 /* the primary and up to 8 replicas */
#define HP_PG_MAX_LOOPS 256

typedef struct st_hp_pg__backend_t hp_pg__backend_t;
typedef struct st_hp_pg__loop_t hp_pg__loop_t;
typedef struct st_hp_pg__target_t hp_pg__target_t;
typedef struct st_hp_pg__conn_t hp_pg__conn_t;
typedef struct st_hp_pg__call_t hp_pg__call_t;
typedef struct st_hp_pg__stmts_t hp_pg__stmts_t;

struct st_hp_pg__backend_t {
    hp_db_t *db;
    hp_db_options_t opts;
    char *uris[HP_PG_MAX_TARGETS]; /* [0] the primary */
    size_t target_count;
    unsigned pool_max; /* connections per server, over all loops */
    unsigned pool_min; /* per server, over all loops */
    unsigned pipeline; /* most calls in flight per connection (1: no pipelining) */
    char options[64];  /* libpq "options" for the pool's connections ("" for none) */
    atomic_uint open[HP_PG_MAX_TARGETS];    /* connections open or opening, per server */
    atomic_uint streams[HP_PG_MAX_TARGETS]; /* connections a streamed read holds, per server */
    atomic_uint busy;                       /* calls in flight, all loops */
    atomic_uint waiting;                    /* jobs waiting for a connection, all loops */
    atomic_uint_fast64_t acquire_ns;        /* total time jobs waited for a connection */
    atomic_uint_fast64_t acquired;          /* jobs that got one */
    atomic_uint loops;
    atomic_uint_fast64_t connected_ms[HP_PG_MAX_TARGETS]; /* a loop's last successful connect */
    atomic_int primary_down; /* a loop failed to connect to the primary, none has since */
    /* The attached loops, for lending: a loop that may open no connection of its own (the
     * pool's total is reached) hands its jobs to a loop that has one. */
    pthread_mutex_t loops_lock;
    hp_pg__loop_t *loop_list[HP_PG_MAX_LOOPS];
    size_t loop_count;
    struct st_hp_pg__listener_t *listener;
};

typedef enum { HP_PG_CONN_CONNECTING, HP_PG_CONN_READY } hp_pg__conn_state_t;

struct st_hp_pg__target_t {
    hp_pg__loop_t *loop;
    size_t index; /* 0: the primary */
    hp_pg__conn_t *conns;
    unsigned conn_count, ready_count, connecting_count;
    unsigned outstanding; /* calls in flight on its connections */
    uint64_t retry_at_ms; /* after a failed connect: no attempt before this */
    unsigned backoff_ms;  /* doubles per failure, up to HP_PG_BACKOFF_MAX_MS */
    int is_down;          /* the last attempt failed and no connection is ready */
    uint64_t failed_ms;   /* when it went down */
    char last_error[160];
};

struct st_hp_pg__loop_t {
    hp_pg__backend_t *be;
    h2o_loop_t *loop;
    hp_pg__target_t targets[HP_PG_MAX_TARGETS];
    hp_pg__call_t *queue_head, **queue_tail; /* jobs waiting for a connection, FIFO */
    unsigned min_share;                      /* connections this loop keeps open to each server */
    atomic_uint ready[HP_PG_MAX_TARGETS];    /* targets[i].ready_count, for other loops to read */
    h2o_multithread_queue_t *queue;          /* jobs other loops hand to this one */
    h2o_multithread_receiver_t inbox;
    /* hp_pg__loop_dispatch is running: a dispatch asked for meanwhile (by a callback it caused)
     * runs after it, from the head of the queue, instead of inside it. */
    int is_dispatching, wants_dispatch;
};

struct st_hp_pg__conn_t {
    hp_pg__target_t *target;
    hp_pg__conn_t *next;
    PGconn *pg;
    h2o_socket_t *sock; /* watches a dup() of libpq's socket */
    ino_t socket_id;    /* which socket that is */
    hp_pg__conn_state_t state;
    int wants_write;  /* waiting for the socket to take more of libpq's output */
    int is_exclusive; /* a transaction is open on it: nothing else may join the pipeline */
    int holds_stream; /* a streamed read holds it (counted in be->streams) until its COMMIT or
                         ROLLBACK comes back, or the connection closes */
    unsigned trailing_syncs; /* a finished stream's COMMIT/ROLLBACK + Sync still to come back,
                                ahead of every call in the pipeline */
    uint64_t created_ms, last_used_ms;
    hp_pg__call_t *head, **tail; /* calls in flight, in pipeline order */
    unsigned depth;
    hp_pg__stmts_t *stmts;
};

typedef enum {
    HP_PG_CALL_QUEUED,
    HP_PG_CALL_SENT,     /* the statement (and its Sync) are in the pipeline */
    HP_PG_CALL_DECIDING, /* a singular write: BEGIN + statement came back; COMMIT/ROLLBACK sent */
} hp_pg__call_phase_t;

struct st_hp_pg__call_t {
    hp_db_job_t *job;
    hp_pg__backend_t *be;
    hp_pg__loop_t *home; /* the loop that submitted it (it may run on another: lending) */
    hp_pg__call_t *next;
    hp_pg__call_phase_t phase;
    uint64_t queued_ns;
    int in_tx;        /* BEGIN ... COMMIT/ROLLBACK around the statement (singular writes) */
    long stmt_slot;   /* the statement table slot this call prepares, or -1 */
    unsigned results; /* results received so far (not counting Syncs) */
    PGresult *result; /* the statement's rows (TUPLES_OK), kept until the Sync */
    PGresult *error;  /* the first error, kept until the Sync */
    /* A streamed read (stream.c): exec->stream through a cursor, in rounds that each end at a
     * Sync; the call stays at the head of its connection's pipeline between rounds. */
    int is_stream;
    /* A read that may be streamed, first tried as a pipelined statement: the streamed shape
     * with LIMIT of a few more rows than a piece probably holds (stream.c). When all its rows
     * came, it is answered whole; else it goes on as a stream (is_stream). */
    int is_probe;
    hp_stmt_t *probe;    /* the probe's statement, built once (in the job's pool) */
    int is_paused;       /* a piece is with the owner: nothing is fetched until stream_next */
    int is_deferred;     /* inside stream_next / stream_cancel: on_done is posted, not called */
    int has_total;       /* stream_count's answer came */
    hp_pg__conn_t *conn; /* the connection it holds, while it does */
    unsigned fetch_rows; /* what the FETCH in flight asks for */
    unsigned got_rows;   /* what it returned so far */
    uint64_t rows;       /* rows rendered, over all pieces */
    uint64_t bytes;      /* bytes rendered, over all pieces (the average row size) */
};

/* backend.c */
uint64_t hp_pg__now_ms(void);
/* Copies a libpq message into dst without its trailing newline (libpq ends them with one). */
void hp_pg__copy_message(char *dst, size_t cap, const char *msg);
/* pool.c: the backend.h entry points that run on a loop. */
int hp_pg__attach(void *state, h2o_loop_t *loop, char *errbuf, size_t errlen);
void hp_pg__detach(void *state);
void hp_pg__tick(void *state);

/* pool.c: the per-loop side. */
hp_pg__loop_t *hp_pg__loop_current(void);
int hp_pg__loop_submit(hp_pg__loop_t *pl, hp_db_job_t *job);
void hp_pg__loop_dispatch(hp_pg__loop_t *pl);
void hp_pg__finish(hp_pg__call_t *call);
/* A connection finished connecting (ok) or failed / broke (!ok; it is already unlinked). */
void hp_pg__target_conn_event(hp_pg__target_t *t, int ok, const char *why);

/* conn.c: one connection. The caller has reserved its slot in be->open[]: the connection
 * gives it back when it closes, or before returning NULL. */
hp_pg__conn_t *hp_pg__conn_start(hp_pg__target_t *t, const char *uri, char *errbuf, size_t errlen);
/* Puts the call into the connection's pipeline. Returns 0, or -1 when the connection broke
 * (the call is untouched; the connection is closed and the target told). */
int hp_pg__conn_send(hp_pg__conn_t *c, hp_pg__call_t *call);
void hp_pg__conn_close(hp_pg__conn_t *c);
/* The connection is gone: closes it and fails every call in its pipeline (503). */
void hp_pg__conn_fail(hp_pg__conn_t *c, const char *reason);
/* PQflush, asking for writability when libpq has more to send. Returns 0, or -1 (broken). */
int hp_pg__conn_flush(hp_pg__conn_t *c);
/* Unlinks the call at the head of c's pipeline (its Sync came back). */
void hp_pg__conn_pop_head(hp_pg__conn_t *c);
/* Sends a statement (a stream's COMMIT / ROLLBACK) + Sync that belongs to no call: its results
 * are dropped, and the connection takes nothing else until its Sync is back (is_exclusive
 * stays set by the caller). Returns 0, or -1 when the connection broke. */
int hp_pg__conn_send_trailing(hp_pg__conn_t *c, const char *sql);
/* The statement's binds as libpq's NUL-terminated texts, allocated in the job's pool. */
const char **hp_pg__conn_param_values(hp_db_job_t *job, const hp_stmt_t *stmt);

/* stmts.c: per-connection names of prepared statements, by SQL text. */
hp_pg__stmts_t *hp_pg__stmts_create(void);
void hp_pg__stmts_destroy(hp_pg__stmts_t *s);
typedef enum { HP_PG_STMT_NONE, HP_PG_STMT_PREPARING, HP_PG_STMT_READY } hp_pg__stmt_state_t;
/* Looks the text up. For READY / PREPARING, *slot is its slot; for NONE, *slot is a free slot
 * to prepare it in (then hp_pg__stmts_begin), or -1 when the table is full (run it unnamed). */
hp_pg__stmt_state_t hp_pg__stmts_find(hp_pg__stmts_t *s, const char *sql, size_t len, long *slot);
void hp_pg__stmts_begin(hp_pg__stmts_t *s, long slot, const char *sql, size_t len);
void hp_pg__stmts_end(hp_pg__stmts_t *s, long slot, int ok);
/* "hp<slot>" */
void hp_pg__stmts_name(long slot, char *buf, size_t len);

/* result.c: PGresult -> hp_exec_result_t. */
void hp_pg__result_fill(hp_db_job_t *job, const PGresult *res);
void hp_pg__result_error(hp_db_job_t *job, const PGresult *res);
/* Whether a singular write's statement result may be committed (exactly one row). */
int hp_pg__result_is_singular_ok(const PGresult *res);

/* stream.c: streamed reads (db.h, "Streamed results"). */
/* Whether the job may be streamed (its exec has the streamed shape and its owner allows). */
int hp_pg__stream_wanted(const hp_db_job_t *job);
/* Puts the first round (BEGIN, count, DECLARE, FETCH, Sync) in the connection's pipeline;
 * the connection must have no call in flight. Returns 0 or -1 as hp_pg__conn_send. */
int hp_pg__stream_send(hp_pg__conn_t *c, hp_pg__call_t *call);
/* A result of the stream call at the head of c (not its Sync). */
void hp_pg__stream_on_result(hp_pg__conn_t *c, hp_pg__call_t *call, PGresult *r);
/* The round ended: returns the call to hand back to its owner (a piece, or the end, in which
 * case it is unlinked from c and its COMMIT/ROLLBACK is trailing), NULL when the next FETCH
 * went out, (hp_pg__call_t *)-1 when the connection broke. */
hp_pg__call_t *hp_pg__stream_on_sync(hp_pg__conn_t *c, hp_pg__call_t *call);
/* Hands the call's job back (hp_pg__finish for a stream call). */
void hp_pg__stream_deliver(hp_pg__call_t *call);
/* The probe's statement (is_probe). */
const hp_stmt_t *hp_pg__stream_probe_stmt(hp_pg__call_t *call);
/* A probe's Sync came back (hp_pg__finish): returns 1 when it answered the job whole, or sent it
 * on as a stream (queued again on this loop); 0 when hp_pg__finish renders its error as usual. */
int hp_pg__stream_after_probe(hp_pg__call_t *call);
/* pool.c: queues a call again at the head of this loop's queue (a probe going on as a stream)
 * and dispatches. */
void hp_pg__loop_requeue(hp_pg__call_t *call);
/* backend.h's stream_next / stream_cancel. */
void hp_db__pg_stream_next(void *state, hp_db_job_t *job);
void hp_db__pg_stream_cancel(void *state, hp_db_job_t *job);

/* listen.c: LISTEN hotpath on its own connection and thread. */
int hp_pg__listener_start(hp_pg__backend_t *be, char *errbuf, size_t errlen);
void hp_pg__listener_stop(hp_pg__backend_t *be);

#endif
