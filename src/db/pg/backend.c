/*
 * The PostgreSQL backend's entry points (backend.h): options, the servers (the primary and
 * db-replicas), the schema snapshot from pg_catalog on a short-lived blocking connection
 * (start-up and reloads run off the loops), and the NOTIFY listener.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/time.h"
#include "db/pg/pg.h"
#include "db/pg/schema_load.h"

uint64_t hp_pg__now_ms(void)
{
    return hp_time_mono_ns() / 1000000;
}

void hp_pg__copy_message(char *dst, size_t cap, const char *msg)
{
    size_t len = strlen(msg);
    while (len != 0 && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
        --len;
    snprintf(dst, cap, "%.*s", (int)len, msg);
}

static void free_backend(hp_pg__backend_t *be)
{
    pthread_mutex_destroy(&be->loops_lock);
    for (size_t i = 0; i != be->target_count; ++i)
        free(be->uris[i]);
    free(be);
}

/* "uri,uri" -> be->uris[1..] */
static int add_replicas(hp_pg__backend_t *be, const char *list, char *errbuf, size_t errlen)
{
    const char *p = list;
    while (p != NULL && *p != '\0') {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        while (len != 0 && (*p == ' ' || *p == '\t'))
            ++p, --len;
        while (len != 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            --len;
        if (len != 0) {
            if (be->target_count == HP_PG_MAX_TARGETS) {
                snprintf(errbuf, errlen, "db-replicas: at most %d replicas", HP_PG_MAX_TARGETS - 1);
                return -1;
            }
            be->uris[be->target_count++] = strndup(p, len);
        }
        p = comma != NULL ? comma + 1 : NULL;
    }
    return 0;
}

/* One blocking connection, for the schema and for the check at start-up. */
static PGconn *connect_blocking(const char *uri, char *errbuf, size_t errlen)
{
    PGconn *pg = PQconnectdb(uri);
    if (pg == NULL || PQstatus(pg) != CONNECTION_OK) {
        hp_pg__copy_message(errbuf, errlen, pg != NULL ? PQerrorMessage(pg) : "out of memory");
        PQfinish(pg);
        return NULL;
    }
    return pg;
}

static void *pg_open(hp_db_t *db, const char *location, const hp_db_options_t *opts, char *errbuf,
                     size_t errlen)
{
    (void)location; /* libpq takes the whole URI */
    hp_pg__backend_t *be = calloc(1, sizeof(*be));
    if (be == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&be->loops_lock, NULL);
    be->db = db;
    be->opts = *opts;
    be->uris[0] = strdup(opts->uri);
    be->target_count = 1;
    if (add_replicas(be, opts->replicas, errbuf, errlen) != 0) {
        free_backend(be);
        return NULL;
    }
    be->pool_max = opts->pool != 0 ? opts->pool : 10;
    be->pool_min = opts->pool_min < be->pool_max ? opts->pool_min : be->pool_max;
    be->pipeline = opts->pipeline != 0 ? opts->pipeline : 1;
    if (opts->statement_timeout_ms != 0)
        snprintf(be->options, sizeof(be->options), "-c statement_timeout=%u",
                 opts->statement_timeout_ms);
    for (size_t i = 0; i != HP_PG_MAX_TARGETS; ++i) {
        atomic_init(&be->open[i], 0);
        atomic_init(&be->streams[i], 0);
    }
    /* Fail at start-up, clearly, when the primary cannot be reached at all. */
    PGconn *probe = connect_blocking(be->uris[0], errbuf, errlen);
    if (probe == NULL) {
        free_backend(be);
        return NULL;
    }
    int version = PQserverVersion(probe);
    PQfinish(probe);
    if (version < 120000) {
        snprintf(errbuf, errlen, "PostgreSQL %d.%d is too old (12 or later is needed)",
                 version / 10000, version % 10000);
        free_backend(be);
        return NULL;
    }
    if (hp_pg__listener_start(be, errbuf, errlen) != 0) {
        free_backend(be);
        return NULL;
    }
    return be;
}

static hp_schema_t *pg_load_schema(void *state, char *errbuf, size_t errlen)
{
    hp_pg__backend_t *be = state;
    PGconn *pg = connect_blocking(be->uris[0], errbuf, errlen);
    if (pg == NULL)
        return NULL;
    hp_schema_t *s = hp_pg_load_schema(pg, errbuf, errlen);
    PQfinish(pg);
    return s;
}

static int pg_submit(void *state, hp_db_job_t *job)
{
    (void)state;
    hp_pg__loop_t *pl = hp_pg__loop_current();
    if (pl == NULL) {
        hp_error_set(&job->result.error, &job->pool, HP_ERR_INTERNAL,
                     "PostgreSQL jobs must be submitted from an event loop");
        hp_db__reply(job);
        return 0;
    }
    return hp_pg__loop_submit(pl, job);
}

static void pg_close(void *state)
{
    hp_pg__backend_t *be = state;
    hp_pg__listener_stop(be);
    free_backend(be);
}

static void pg_stats(void *state, hp_db_pool_stats_t *out)
{
    hp_pg__backend_t *be = state;
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i != be->target_count; ++i)
        out->open += atomic_load(&be->open[i]);
    out->max = be->pool_max * (unsigned)be->target_count;
    out->busy = atomic_load(&be->busy);
    out->waiting = atomic_load(&be->waiting);
    out->acquired = atomic_load(&be->acquired);
    out->acquire_ns = atomic_load(&be->acquire_ns);
}

static int pg_is_reachable(void *state)
{
    hp_pg__backend_t *be = state;
    return !atomic_load(&be->primary_down);
}

const hp_db__backend_t hp_db__pg_backend = {
    .dialect = HP_DIALECT_POSTGRES,
    .open = pg_open,
    .load_schema = pg_load_schema,
    .submit = pg_submit,
    .attach_thread = hp_pg__attach,
    .detach_thread = hp_pg__detach,
    .thread_tick = hp_pg__tick,
    .close = pg_close,
    .pool_stats = pg_stats,
    .is_reachable = pg_is_reachable,
    .stream_next = hp_db__pg_stream_next,
    .stream_cancel = hp_db__pg_stream_cancel,
};
