/*
 * The seam between the backend-neutral front (db.c) and one backend (db/sqlite, db/pg).
 * Private to src/db: nothing outside it includes this header.
 *
 * A backend opens its connections and threads in open(), runs submitted jobs off the event
 * loops, and hands each finished job back with hp_db__reply(). The front owns the schema
 * snapshot pointer and the query counter; a backend only builds snapshots (load_schema) and
 * reports the statements it ran (hp_db__count_queries). Thread rules are those of db.h.
 */
#ifndef HP_DB_BACKEND_H
#define HP_DB_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include "db/db.h"

typedef struct st_hp_db__backend_t {
    hp_dialect_t dialect;
    /* Opens the database at `location` (the URI without its scheme) and starts the backend's
     * threads. Returns the backend's state, or NULL with a one-line reason in errbuf. */
    void *(*open)(hp_db_t *db, const char *location, const hp_db_options_t *opts, char *errbuf,
                  size_t errlen);
    /* Builds and finalizes a new snapshot (reference count 1), or NULL with a reason. Any
     * thread; may block for the time the catalog queries take. */
    hp_schema_t *(*load_schema)(void *state, char *errbuf, size_t errlen);
    /* Takes the job, or returns -1 when the backend is shutting down (the job is untouched).
     * It may run the job at once on the calling thread and call job->on_done before it
     * returns 0 (see hp_db_attach_thread). */
    int (*submit)(void *state, hp_db_job_t *job);
    /* hp_db_attach_thread / hp_db_detach_thread for the calling thread. */
    int (*attach_thread)(void *state, h2o_loop_t *loop, char *errbuf, size_t errlen);
    void (*detach_thread)(void *state);
    void (*thread_tick)(void *state);
    /* Finishes every job already taken, stops the threads, frees the state. */
    void (*close)(void *state);
    /* Optional: the pool's state (hp_db_pool_stats). */
    void (*pool_stats)(void *state, hp_db_pool_stats_t *out);
    /* Optional: hp_db_is_reachable (absent: always). */
    int (*is_reachable)(void *state);
    /* hp_db_stream_next / hp_db_stream_cancel for a job this backend handed back with
     * result.is_streaming set (db.h, "Streamed results"); called on the job's loop. A backend
     * that never streams leaves them NULL. */
    void (*stream_next)(void *state, hp_db_job_t *job);
    void (*stream_cancel)(void *state, hp_db_job_t *job);
} hp_db__backend_t;

extern const hp_db__backend_t hp_db__sqlite_backend;
extern const hp_db__backend_t hp_db__pg_backend;

/* Adds n to the database-wide statement counter (any thread). */
void hp_db__count_queries(hp_db_t *db, uint64_t n);
/* Reports a write by another program (any thread): calls the change listener. table: see
 * hp_db_set_change_listener. */
void hp_db__external_change(hp_db_t *db, const char *table, size_t table_len);
/* Hands a finished job back to the loop that submitted it (any thread). The job must not be
 * touched afterwards: it belongs to its on_done callback. */
void hp_db__reply(hp_db_job_t *job);

#endif
