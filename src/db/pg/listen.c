/*
 * LISTEN hotpath on a dedicated connection, on its own thread (it only waits: poll() on the
 * connection and on a pipe that stops it). Payloads:
 *   "reload schema"   rebuild the schema snapshot (as SIGUSR1 does), then drop cached responses
 *   anything else     a write made outside hotpath (the triggers of `hotpath setup-triggers`
 *                     send the table's name): drop cached responses
 * While the connection is down, notifications may be missed, so a reconnect counts as a change.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/log.h"
#include "db/pg/pg.h"

typedef struct st_hp_pg__listener_t {
    hp_pg__backend_t *be;
    pthread_t thread;
    int stop_pipe[2];
} hp_pg__listener_t;

/* Sleeps ms, or less when asked to stop. Returns 1 when asked to stop. */
static int nap(hp_pg__listener_t *l, int ms)
{
    struct pollfd p = {.fd = l->stop_pipe[0], .events = POLLIN};
    return poll(&p, 1, ms) > 0;
}

static PGconn *listen_connect(hp_pg__listener_t *l)
{
    static const char *const keys[] = {"dbname", "fallback_application_name", NULL};
    const char *const values[] = {l->be->uris[0], "hotpath-listen", NULL};
    PGconn *pg = PQconnectdbParams(keys, values, 1);
    if (PQstatus(pg) != CONNECTION_OK) {
        PQfinish(pg);
        return NULL;
    }
    PGresult *r = PQexec(pg, "LISTEN hotpath");
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
        PQfinish(pg);
        return NULL;
    }
    return pg;
}

static void handle(hp_pg__listener_t *l, const PGnotify *n)
{
    if (strcmp(n->extra, "reload schema") == 0) {
        char err[256];
        if (hp_db_reload_schema(l->be->db, err, sizeof(err)) != 0)
            hp_log_warn("schema reload on NOTIFY failed: %s", err);
        else
            hp_log_info("schema reloaded (NOTIFY hotpath, 'reload schema')");
        hp_db__external_change(l->be->db, NULL, 0);
        return;
    }
    /* The payload names the table written (or is empty: anything may have changed). */
    if (n->extra[0] == '\0')
        hp_db__external_change(l->be->db, NULL, 0);
    else
        hp_db__external_change(l->be->db, n->extra, strlen(n->extra));
}

/* Serves one connection until it breaks (returns 0) or stop is asked (returns 1). */
static int serve(hp_pg__listener_t *l, PGconn *pg)
{
    for (;;) {
        struct pollfd p[2] = {{.fd = PQsocket(pg), .events = POLLIN},
                              {.fd = l->stop_pipe[0], .events = POLLIN}};
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            return 0;
        if (p[1].revents != 0)
            return 1;
        if (p[0].revents == 0)
            continue;
        if (!PQconsumeInput(pg))
            return 0;
        PGnotify *n;
        while ((n = PQnotifies(pg)) != NULL) {
            handle(l, n);
            PQfreemem(n);
        }
    }
}

static void *run(void *arg)
{
    hp_pg__listener_t *l = arg;
    int backoff = 50, first = 1;
    for (;;) {
        PGconn *pg = listen_connect(l);
        if (pg == NULL) {
            if (nap(l, backoff))
                return NULL;
            backoff = backoff * 2 > 2000 ? 2000 : backoff * 2;
            continue;
        }
        backoff = 50;
        if (!first)
            hp_db__external_change(l->be->db, NULL, 0); /* notifications may have been missed */
        first = 0;
        int stop = serve(l, pg);
        PQfinish(pg);
        if (stop)
            return NULL;
    }
}

int hp_pg__listener_start(hp_pg__backend_t *be, char *errbuf, size_t errlen)
{
    hp_pg__listener_t *l = calloc(1, sizeof(*l));
    if (l == NULL || pipe(l->stop_pipe) != 0) {
        snprintf(errbuf, errlen, "cannot start the NOTIFY listener: %s", strerror(errno));
        free(l);
        return -1;
    }
    l->be = be;
    if (pthread_create(&l->thread, NULL, run, l) != 0) {
        snprintf(errbuf, errlen, "cannot start the NOTIFY listener thread");
        close(l->stop_pipe[0]);
        close(l->stop_pipe[1]);
        free(l);
        return -1;
    }
    be->listener = l;
    return 0;
}

void hp_pg__listener_stop(hp_pg__backend_t *be)
{
    hp_pg__listener_t *l = be->listener;
    if (l == NULL)
        return;
    ssize_t w = write(l->stop_pipe[1], "x", 1);
    (void)w;
    pthread_join(l->thread, NULL);
    close(l->stop_pipe[0]);
    close(l->stop_pipe[1]);
    free(l);
    be->listener = NULL;
}
