/*
 * The backend-neutral front of db.h: picks the backend from the URI, owns the current schema
 * snapshot (a mutex-protected pointer; readers take a reference under the mutex, so a reload
 * can swap it at any time) and the statement counter, and moves jobs between the loops and
 * the backend.
 */
#include "db/db.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "db/backend.h"

struct st_hp_db_t {
    const hp_db__backend_t *backend;
    void *state;
    pthread_mutex_t schema_lock;
    hp_schema_t *schema; /* guarded by schema_lock */
    atomic_uint_fast64_t queries;
    atomic_int is_closing;
    /* The change listener: arg is written before cb is published (release), read after cb
     * (acquire), so a database thread never sees a callback without its argument. */
    void *_Atomic change_arg;
    _Atomic hp_db_change_cb change_cb;
};

static int has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

hp_db_t *hp_db_open(const hp_db_options_t *opts, char *errbuf, size_t errlen)
{
    const char *uri = opts->uri != NULL ? opts->uri : "";
    const hp_db__backend_t *backend;
    const char *location;

    backend = &hp_db__sqlite_backend;
    if (has_prefix(uri, "postgres://") || has_prefix(uri, "postgresql://")) {
        backend = &hp_db__pg_backend;
        location = uri;
    } else if (has_prefix(uri, "sqlite://")) {
        location = uri + strlen("sqlite://");
    } else if (strstr(uri, "://") != NULL) {
        snprintf(errbuf, errlen,
                 "unsupported db-uri scheme: %s (use a file path, sqlite://PATH "
                 "or postgres://...)",
                 uri);
        return NULL;
    } else {
        location = uri;
    }
    if (location[0] == '\0') {
        snprintf(errbuf, errlen, "db-uri is empty: give the path of a SQLite database file");
        return NULL;
    }

    hp_db_t *db = calloc(1, sizeof(*db));
    if (db == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    db->backend = backend;
    pthread_mutex_init(&db->schema_lock, NULL);
    atomic_init(&db->queries, 0);
    atomic_init(&db->is_closing, 0);
    if ((db->state = backend->open(db, location, opts, errbuf, errlen)) == NULL)
        goto fail;
    if ((db->schema = backend->load_schema(db->state, errbuf, errlen)) == NULL) {
        backend->close(db->state);
        goto fail;
    }
    return db;
fail:
    pthread_mutex_destroy(&db->schema_lock);
    free(db);
    return NULL;
}

void hp_db_close(hp_db_t *db)
{
    if (db == NULL)
        return;
    atomic_store(&db->is_closing, 1);
    db->backend->close(db->state);
    hp_schema_unref(db->schema);
    pthread_mutex_destroy(&db->schema_lock);
    free(db);
}

hp_dialect_t hp_db_dialect(const hp_db_t *db)
{
    return db->backend->dialect;
}

hp_schema_t *hp_db_schema(hp_db_t *db)
{
    pthread_mutex_lock(&db->schema_lock);
    hp_schema_t *s = db->schema;
    hp_schema_ref(s);
    pthread_mutex_unlock(&db->schema_lock);
    return s;
}

int hp_db_reload_schema(hp_db_t *db, char *errbuf, size_t errlen)
{
    /* Built outside the lock: readers keep getting the old snapshot meanwhile. */
    hp_schema_t *fresh = db->backend->load_schema(db->state, errbuf, errlen);
    if (fresh == NULL)
        return -1;
    pthread_mutex_lock(&db->schema_lock);
    hp_schema_t *old = db->schema;
    db->schema = fresh;
    pthread_mutex_unlock(&db->schema_lock);
    hp_schema_unref(old);
    return 0;
}

hp_db_job_t *hp_db_job_create(void)
{
    hp_db_job_t *job = h2o_mem_alloc(sizeof(*job));
    memset(job, 0, sizeof(*job));
    h2o_mem_init_pool(&job->pool);
    hp_exec_result_init(&job->result);
    return job;
}

void hp_db_job_destroy(hp_db_job_t *job)
{
    if (job == NULL)
        return;
    hp_exec_result_dispose(&job->result);
    h2o_mem_clear_pool(&job->pool);
    free(job);
}

int hp_db_attach_thread(hp_db_t *db, h2o_loop_t *loop, char *errbuf, size_t errlen)
{
    return db->backend->attach_thread(db->state, loop, errbuf, errlen);
}

int hp_db_is_reachable(const hp_db_t *db)
{
    return db->backend->is_reachable == NULL || db->backend->is_reachable(db->state);
}

void hp_db_pool_stats(const hp_db_t *db, hp_db_pool_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    if (db->backend->pool_stats != NULL)
        db->backend->pool_stats(db->state, out);
}

void hp_db_detach_thread(hp_db_t *db)
{
    db->backend->detach_thread(db->state);
}

void hp_db_thread_tick(hp_db_t *db)
{
    db->backend->thread_tick(db->state);
}

void hp_db_submit(hp_db_t *db, hp_db_job_t *job)
{
    assert(job->exec != NULL && job->reply_to != NULL && job->on_done != NULL);
    job->_next = NULL;
    job->_message = (h2o_multithread_message_t){{NULL, NULL}};
    if (atomic_load_explicit(&db->is_closing, memory_order_relaxed) ||
        db->backend->submit(db->state, job) != 0) {
        hp_error_set(&job->result.error, &job->pool, HP_ERR_DB_BUSY,
                     "The database is shutting down");
        hp_db__reply(job);
    }
}

void hp_db_stream_next(hp_db_t *db, hp_db_job_t *job)
{
    assert(job->result.is_streaming && !job->result.is_last && db->backend->stream_next != NULL);
    job->_message = (h2o_multithread_message_t){{NULL, NULL}};
    db->backend->stream_next(db->state, job);
}

void hp_db_stream_cancel(hp_db_t *db, hp_db_job_t *job)
{
    assert(job->result.is_streaming && !job->result.is_last && db->backend->stream_cancel != NULL);
    job->_message = (h2o_multithread_message_t){{NULL, NULL}};
    db->backend->stream_cancel(db->state, job);
}

void hp_db_on_replies(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    (void)receiver;
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *m =
            H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&m->link);
        hp_db_job_t *job = H2O_STRUCT_FROM_MEMBER(hp_db_job_t, _message, m);
        job->on_done(job);
    }
}

uint64_t hp_db_query_count(const hp_db_t *db)
{
    return atomic_load_explicit(&db->queries, memory_order_relaxed);
}

void hp_db__count_queries(hp_db_t *db, uint64_t n)
{
    atomic_fetch_add_explicit(&db->queries, n, memory_order_relaxed);
}

void hp_db__reply(hp_db_job_t *job)
{
    h2o_multithread_send_message(job->reply_to, &job->_message);
}

void hp_db_set_change_listener(hp_db_t *db, hp_db_change_cb cb, void *arg)
{
    atomic_store_explicit(&db->change_arg, arg, memory_order_relaxed);
    atomic_store_explicit(&db->change_cb, cb, memory_order_release);
}

void hp_db__external_change(hp_db_t *db, const char *table, size_t table_len)
{
    hp_db_change_cb cb = atomic_load_explicit(&db->change_cb, memory_order_acquire);
    if (cb != NULL)
        cb(atomic_load_explicit(&db->change_arg, memory_order_relaxed), table, table_len);
}
