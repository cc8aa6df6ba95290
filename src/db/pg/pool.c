/*
 * The per-loop side of the pool: which server a job goes to, which connection takes it, when
 * to open or close connections, and what a job that cannot be served is told.
 *
 *   Routing      writes, and reads of a client that wrote recently (job->prefers_primary),
 *                go to the primary; other reads to the healthy replica with the fewest calls
 *                in flight from this loop (the primary when there is none).
 *   Connections  a job joins the ready connection with the shortest pipeline, up to
 *                db-pipeline calls deep. When every connection is busy and the server's total
 *                (db-pool, over all loops) allows, one more connection is opened; meanwhile the
 *                job still pipelines. With no connection free, jobs wait in a FIFO, each up to
 *                db-pool-acquire-ms (then 504 PGRST003, Retry-After).
 *   Failures     a failed connect marks the server down and retries with doubling backoff (50
 *                ms to 2 s); while it is down and no connection is ready, its jobs fail at
 *                once with 503 + Retry-After rather than wait. A replica that is down is skipped.
 *   Idle         connections idle longer than db-pool-idle-ms beyond this loop's share of
 *                db-pool-min, and connections older than db-pool-lifetime-ms once idle, close.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/log.h"
#include "core/time.h"
#include "db/pg/pg.h"

#define PG_BACKOFF_MIN_MS 50
#define HP_PG_BACKOFF_MAX_MS 2000

static __thread hp_pg__loop_t *current_loop;

hp_pg__loop_t *hp_pg__loop_current(void)
{
    return current_loop;
}

/* --- finishing --- */

void hp_pg__finish(hp_pg__call_t *call)
{
    hp_db_job_t *job = call->job;
    hp_pg__backend_t *be = call->be;
    if (call->is_stream) { /* never lent: it runs on the loop that submitted it */
        hp_pg__stream_deliver(call);
        return;
    }
    if (call->is_probe && hp_pg__stream_after_probe(call))
        return;
    if (job->result.error.code == HP_OK) {
        if (call->error != NULL)
            hp_pg__result_error(job, call->error);
        else if (call->result != NULL)
            hp_pg__result_fill(job, call->result);
        else
            hp_error_set(&job->result.error, &job->pool, HP_ERR_DB,
                         "The database returned no result");
    }
    if (call->result != NULL || call->error != NULL) {
        job->result.db_queries = 1;
        hp_db__count_queries(be->db, 1);
    }
    PQclear(call->result);
    PQclear(call->error);
    call->result = call->error = NULL;
    if (call->home != current_loop)
        hp_db__reply(job); /* lent to this loop: on_done runs on the loop that submitted it */
    else
        job->on_done(job);
}

static void fail_call(hp_pg__call_t *call, hp_errcode_t code, const char *message, const char *why)
{
    hp_error_set(&call->job->result.error, &call->job->pool, code, "%s", message);
    if (why != NULL && *why != '\0')
        hp_error_details(&call->job->result.error, &call->job->pool, "%s", why);
    hp_pg__finish(call);
}

/* --- the queue --- */

static void push_front(hp_pg__loop_t *pl, hp_pg__call_t *call)
{
    call->next = pl->queue_head;
    if (pl->queue_head == NULL)
        pl->queue_tail = &call->next;
    pl->queue_head = call;
    atomic_fetch_add(&pl->be->waiting, 1);
}

void hp_pg__loop_requeue(hp_pg__call_t *call)
{
    push_front(call->home, call);
    hp_pg__loop_dispatch(call->home);
}

static void push_back(hp_pg__loop_t *pl, hp_pg__call_t *call)
{
    call->next = NULL;
    *pl->queue_tail = call;
    pl->queue_tail = &call->next;
    atomic_fetch_add(&pl->be->waiting, 1);
}

/* Takes the call *link (a link of the queue) out of the queue. */
static hp_pg__call_t *take(hp_pg__loop_t *pl, hp_pg__call_t **link)
{
    hp_pg__call_t *call = *link;
    *link = call->next;
    if (*link == NULL)
        pl->queue_tail = link;
    call->next = NULL;
    atomic_fetch_sub(&pl->be->waiting, 1);
    return call;
}

static hp_pg__call_t *pop_front(hp_pg__loop_t *pl)
{
    return take(pl, &pl->queue_head);
}

/* Puts the call back where it was taken from (*link). */
static void put_back(hp_pg__loop_t *pl, hp_pg__call_t **link, hp_pg__call_t *call)
{
    call->next = *link;
    if (*link == NULL)
        pl->queue_tail = &call->next;
    *link = call;
    atomic_fetch_add(&pl->be->waiting, 1);
}

/* --- connections --- */

static int reserve_slot(hp_pg__backend_t *be, size_t index)
{
    unsigned open = atomic_load(&be->open[index]);
    while (open < be->pool_max)
        if (atomic_compare_exchange_weak(&be->open[index], &open, open + 1))
            return 1;
    return 0;
}

/* Whether t is down here and backing off: not once another loop has connected to it since. */
static int is_backing_off(hp_pg__target_t *t)
{
    if (!t->is_down)
        return 0;
    if (atomic_load(&t->loop->be->connected_ms[t->index]) >= t->failed_ms)
        t->retry_at_ms = 0; /* it is back: try at once */
    return hp_pg__now_ms() < t->retry_at_ms;
}

/* Opens one more connection to t unless one is already being opened, the server's total is
 * reached, or a failed attempt is still backing off. */
static void grow(hp_pg__target_t *t)
{
    hp_pg__backend_t *be = t->loop->be;
    if (t->connecting_count != 0 || is_backing_off(t))
        return;
    if (!reserve_slot(be, t->index))
        return;
    char err[256];
    if (hp_pg__conn_start(t, be->uris[t->index], err, sizeof(err)) == NULL)
        hp_pg__target_conn_event(t, 0, err); /* the slot was given back */
}

void hp_pg__target_conn_event(hp_pg__target_t *t, int ok, const char *why)
{
    atomic_store(&t->loop->ready[t->index], t->ready_count);
    if (ok) {
        atomic_store(&t->loop->be->connected_ms[t->index], hp_pg__now_ms());
        if (t->index == 0)
            atomic_store(&t->loop->be->primary_down, 0);
        t->is_down = 0;
        t->backoff_ms = 0;
        hp_pg__loop_dispatch(t->loop);
        return;
    }
    if (t->ready_count != 0)
        return; /* one connection broke; the others serve */
    if (!t->is_down) {
        hp_log_warn("database server %zu unreachable: %s", t->index, why != NULL ? why : "");
        t->failed_ms = hp_pg__now_ms();
    }
    t->is_down = 1;
    if (t->index == 0)
        atomic_store(&t->loop->be->primary_down, 1);
    t->backoff_ms =
        t->backoff_ms == 0
            ? PG_BACKOFF_MIN_MS
            : (t->backoff_ms * 2 > HP_PG_BACKOFF_MAX_MS ? HP_PG_BACKOFF_MAX_MS : t->backoff_ms * 2);
    t->retry_at_ms = hp_pg__now_ms() + t->backoff_ms;
    hp_pg__copy_message(t->last_error, sizeof(t->last_error), why != NULL ? why : "");
    hp_pg__loop_dispatch(t->loop);
}

static hp_pg__target_t *choose_target(hp_pg__loop_t *pl, const hp_db_job_t *job)
{
    hp_pg__target_t *best = &pl->targets[0];
    if (pl->be->target_count == 1 || job->exec->kind != HP_EXEC_READ || job->prefers_primary)
        return best;
    hp_pg__target_t *replica = NULL;
    for (size_t i = 1; i != pl->be->target_count; ++i) {
        hp_pg__target_t *t = &pl->targets[i];
        if (t->is_down && t->ready_count == 0)
            continue;
        if (replica == NULL || t->outstanding < replica->outstanding)
            replica = t;
    }
    return replica != NULL ? replica : best;
}

/* A streamed read holds a connection alone for as long as its owner takes to send it, so
 * streams may hold at most db-pool - 1 connections of a server (over all loops): one is
 * always left for the pipelined queries of everyone else. Returns 1 with a slot reserved. */
static int reserve_stream(hp_pg__backend_t *be, size_t index)
{
    unsigned n = atomic_load(&be->streams[index]);
    while (n + 1 < be->pool_max)
        if (atomic_compare_exchange_weak(&be->streams[index], &n, n + 1))
            return 1;
    return 0;
}

/* A ready connection with nothing in flight, for a streamed read, or NULL. */
static hp_pg__conn_t *idle_conn(hp_pg__target_t *t)
{
    for (hp_pg__conn_t *c = t->conns; c != NULL; c = c->next)
        if (c->state == HP_PG_CONN_READY && !c->is_exclusive && c->depth == 0)
            return c;
    return NULL;
}

/* The ready connection with the shortest pipeline that can take the call, or NULL. */
static hp_pg__conn_t *pick_conn(hp_pg__target_t *t, const hp_pg__call_t *call)
{
    hp_pg__conn_t *best = NULL;
    for (hp_pg__conn_t *c = t->conns; c != NULL; c = c->next) {
        if (c->state != HP_PG_CONN_READY || c->is_exclusive)
            continue;
        if (call->in_tx && c->depth != 0)
            continue;
        if (best == NULL || c->depth < best->depth)
            best = c;
    }
    return best;
}

static int lend(hp_pg__loop_t *pl, hp_pg__call_t **link, size_t index);
static void dispatch_once(hp_pg__loop_t *pl);

void hp_pg__loop_dispatch(hp_pg__loop_t *pl)
{
    if (pl->is_dispatching) {
        pl->wants_dispatch = 1;
        return;
    }
    pl->is_dispatching = 1;
    do {
        pl->wants_dispatch = 0;
        dispatch_once(pl);
    } while (pl->wants_dispatch);
    pl->is_dispatching = 0;
}

/* A streamed read at *link: 1 when it went (or failed), 0 when it waits for the connection
 * being opened for it (the queue goes on past it), -1 when it runs as an unstreamed read
 * instead: when streams already hold db-pool - 1 of the server's connections (db-pool 1: any),
 * or no connection is idle and none can be opened. Rather than wait behind slow clients' streams
 * or for a pipeline to drain under load, it is then rendered whole, as before streaming. */
static int dispatch_stream(hp_pg__loop_t *pl, hp_pg__target_t *t, hp_pg__call_t **link)
{
    hp_pg__backend_t *be = pl->be;
    hp_pg__call_t *call = *link;
    if (atomic_load(&be->streams[t->index]) + 1 >= be->pool_max)
        return -1;
    hp_pg__conn_t *c = idle_conn(t);
    if (c == NULL) {
        grow(t);
        return t->connecting_count != 0 ? 0 : -1;
    }
    if (!reserve_stream(be, t->index))
        return -1;
    take(pl, link);
    c->holds_stream = 1;
    uint64_t waited = hp_time_mono_ns() - call->queued_ns;
    if (hp_pg__conn_send(c, call) != 0) { /* the connection broke (its slot went with it) */
        put_back(pl, link, call);
        return 1;
    }
    atomic_fetch_add(&be->acquire_ns, waited);
    atomic_fetch_add(&be->acquired, 1);
    return 1;
}

/* One walk of the queue. A step that sends or fails a call may run on_done, which may submit
 * (appending to the queue; its dispatch is deferred, see hp_pg__loop_dispatch): after one, the
 * walk starts over from the head. Only streamed reads are passed over (they wait for the
 * connection being opened for them); any other call that cannot go stops the walk. */
static void dispatch_once(hp_pg__loop_t *pl)
{
    hp_pg__backend_t *be = pl->be;
    hp_pg__call_t **link = &pl->queue_head;
    while (*link != NULL) {
        hp_pg__call_t *call = *link;
        hp_pg__target_t *t = choose_target(pl, call->job);
        if (t->is_down && t->ready_count == 0) {
            if (is_backing_off(t)) {
                take(pl, link);
                fail_call(call, HP_ERR_DB_BUSY, "The database is not reachable", t->last_error);
                link = &pl->queue_head;
                continue;
            }
            grow(t);
            break;
        }
        if (call->is_stream) {
            int went = dispatch_stream(pl, t, link);
            if (went > 0) {
                link = &pl->queue_head;
                continue;
            }
            if (went == 0) {
                link = &call->next;
                continue;
            }
            call->is_stream = 0; /* main, unstreamed */
        }
        hp_pg__conn_t *c = pick_conn(t, call);
        if (c == NULL || c->depth >= be->pipeline) {
            grow(t);
            if (t->conn_count == 0) {
                /* Lent, it runs main there (a stream cannot change loops). Set before it goes:
                 * once lent, the call is the other loop's. */
                int was_probe = call->is_probe;
                call->is_probe = 0;
                if (lend(pl, link, t->index)) {
                    link = &pl->queue_head;
                    continue;
                }
                call->is_probe = was_probe;
            }
            break;
        }
        if (c->depth != 0)
            grow(t); /* busy: open another connection if the pool allows */
        take(pl, link);
        uint64_t waited = hp_time_mono_ns() - call->queued_ns;
        if (hp_pg__conn_send(c, call) != 0) {
            put_back(pl, link, call);
            link = &pl->queue_head;
            continue;
        }
        atomic_fetch_add(&be->acquire_ns, waited);
        atomic_fetch_add(&be->acquired, 1);
        link = &pl->queue_head;
    }
}

/* --- lending --- */

/* This loop has no connection to server `index` and may open none (the pool's total is
 * reached, say db-pool 1 with two loops): the waiting job at *link goes to the loop with the
 * most ready connections to that server, which runs it and posts the result back
 * (hp_pg__finish). Returns 1 when the job went. */
static int lend(hp_pg__loop_t *pl, hp_pg__call_t **link, size_t index)
{
    hp_pg__backend_t *be = pl->be;
    int lent = 0;
    pthread_mutex_lock(&be->loops_lock);
    hp_pg__loop_t *best = NULL;
    unsigned best_ready = 0;
    for (size_t i = 0; i != be->loop_count; ++i) {
        hp_pg__loop_t *other = be->loop_list[i];
        unsigned ready = atomic_load(&other->ready[index]);
        if (other != pl && ready > best_ready) {
            best = other;
            best_ready = ready;
        }
    }
    if (best != NULL) {
        hp_pg__call_t *call = take(pl, link);
        call->job->_message = (h2o_multithread_message_t){{NULL, NULL}};
        h2o_multithread_send_message(&best->inbox, &call->job->_message);
        lent = 1;
    }
    pthread_mutex_unlock(&be->loops_lock);
    return lent;
}

/* Jobs lent by other loops: they queue here like this loop's own. */
static void take_lent(hp_pg__loop_t *pl, h2o_linklist_t *messages)
{
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *m =
            H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&m->link);
        hp_db_job_t *job = H2O_STRUCT_FROM_MEMBER(hp_db_job_t, _message, m);
        push_back(pl, job->_backend);
    }
}

static void on_lent(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    hp_pg__loop_t *pl = H2O_STRUCT_FROM_MEMBER(hp_pg__loop_t, inbox, receiver);
    take_lent(pl, messages);
    hp_pg__loop_dispatch(pl);
}

/* --- submit, tick, attach --- */

/* PostgreSQL text cannot hold NUL; refuse it as the server would. */
static int has_nul(const hp_stmt_t *stmt)
{
    for (size_t i = 0; i != stmt->bind_count; ++i)
        if (stmt->binds[i].kind == HP_BIND_TEXT &&
            memchr(stmt->binds[i].text.base, '\0', stmt->binds[i].text.len) != NULL)
            return 1;
    return 0;
}

int hp_pg__loop_submit(hp_pg__loop_t *pl, hp_db_job_t *job)
{
    hp_pg__call_t *call = h2o_mem_alloc_pool(&job->pool, sizeof(*call));
    memset(call, 0, sizeof(*call));
    call->job = job;
    call->be = pl->be;
    call->home = pl;
    call->stmt_slot = -1;
    call->in_tx = job->exec->kind == HP_EXEC_WRITE && job->exec->format == HP_FORMAT_OBJECT;
    /* A read that may be streamed is first probed with a pipelined statement; with a total
     * to count (in the cursor's snapshot) it is a stream at once. */
    if (hp_pg__stream_wanted(job)) {
        call->is_stream = job->exec->stream_count.sql != NULL;
        call->is_probe = !call->is_stream;
    }
    call->queued_ns = hp_time_mono_ns();
    job->_backend = call;
    if (has_nul(&job->exec->main)) {
        hp_error_t *e = &job->result.error;
        hp_error_set(e, &job->pool, HP_ERR_DB_STATE,
                     "invalid byte sequence for encoding \"UTF8\": 0x00");
        memcpy(e->sqlstate, "22021", 6);
        e->status = 400;
        hp_pg__finish(call);
        return 0;
    }
    push_back(pl, call);
    hp_pg__loop_dispatch(pl);
    return 0;
}

static void expire_waiting(hp_pg__loop_t *pl, uint64_t now_ns)
{
    uint64_t limit = (uint64_t)pl->be->opts.pool_acquire_ms * 1000000;
    while (pl->queue_head != NULL && now_ns - pl->queue_head->queued_ns >= limit) {
        hp_pg__call_t *call = pop_front(pl);
        char why[64];
        snprintf(why, sizeof(why), "waited %u ms for a connection (db-pool %u)",
                 pl->be->opts.pool_acquire_ms, pl->be->pool_max);
        fail_call(call, HP_ERR_POOL_TIMEOUT, "Timed out acquiring connection from connection pool.",
                  why);
    }
}

static void retire_idle(hp_pg__target_t *t, uint64_t now)
{
    const hp_db_options_t *o = &t->loop->be->opts;
    hp_pg__conn_t *c = t->conns;
    while (c != NULL) {
        hp_pg__conn_t *next = c->next;
        if (c->state == HP_PG_CONN_READY && c->depth == 0 && !c->is_exclusive) {
            int idle = o->pool_idle_ms != 0 && now - c->last_used_ms >= o->pool_idle_ms &&
                       t->conn_count > t->loop->min_share;
            int old = o->pool_lifetime_ms != 0 && now - c->created_ms >= o->pool_lifetime_ms;
            if (idle || old)
                hp_pg__conn_close(c);
        }
        c = next;
    }
}

void hp_pg__tick(void *state)
{
    (void)state;
    hp_pg__loop_t *pl = current_loop;
    if (pl == NULL)
        return;
    uint64_t now = hp_pg__now_ms();
    expire_waiting(pl, hp_time_mono_ns());
    for (size_t i = 0; i != pl->be->target_count; ++i) {
        hp_pg__target_t *t = &pl->targets[i];
        retire_idle(t, now);
        if (t->conn_count < pl->min_share || (t->is_down && t->connecting_count == 0 && i != 0))
            grow(t); /* keep the minimum; probe a replica that is down */
    }
    hp_pg__loop_dispatch(pl);
}

int hp_pg__attach(void *state, h2o_loop_t *loop, char *errbuf, size_t errlen)
{
    (void)errbuf;
    (void)errlen;
    hp_pg__backend_t *be = state;
    hp_pg__loop_t *pl = calloc(1, sizeof(*pl));
    if (pl == NULL)
        h2o_fatal("out of memory");
    pl->be = be;
    pl->loop = loop;
    pl->queue_tail = &pl->queue_head;
    unsigned loops = be->opts.loops != 0 ? be->opts.loops : 1;
    pl->min_share = (be->pool_min + loops - 1) / loops;
    for (size_t i = 0; i != be->target_count; ++i) {
        pl->targets[i].loop = pl;
        pl->targets[i].index = i;
    }
    current_loop = pl;
    atomic_fetch_add(&be->loops, 1);
    pl->queue = h2o_multithread_create_queue(loop);
    h2o_multithread_register_receiver(pl->queue, &pl->inbox, on_lent);
    pthread_mutex_lock(&be->loops_lock);
    if (be->loop_count != HP_PG_MAX_LOOPS)
        be->loop_list[be->loop_count++] = pl;
    pthread_mutex_unlock(&be->loops_lock);
    for (size_t i = 0; i != be->target_count; ++i)
        grow(&pl->targets[i]);
    return 0;
}

void hp_pg__detach(void *state)
{
    hp_pg__backend_t *be = state;
    hp_pg__loop_t *pl = current_loop;
    if (pl == NULL)
        return;
    /* No loop lends to this one any more; what was lent and not yet taken is failed below. */
    pthread_mutex_lock(&be->loops_lock);
    for (size_t i = 0; i != be->loop_count; ++i) {
        if (be->loop_list[i] == pl) {
            be->loop_list[i] = be->loop_list[--be->loop_count];
            break;
        }
    }
    pthread_mutex_unlock(&be->loops_lock);
    take_lent(pl, &pl->inbox._messages);
    h2o_multithread_unregister_receiver(pl->queue, &pl->inbox);
    h2o_multithread_destroy_queue(pl->queue);
    while (pl->queue_head != NULL)
        fail_call(pop_front(pl), HP_ERR_DB_BUSY, "The server is shutting down", NULL);
    for (size_t i = 0; i != be->target_count; ++i) {
        hp_pg__target_t *t = &pl->targets[i];
        while (t->conns != NULL) {
            hp_pg__conn_t *c = t->conns;
            hp_pg__call_t *calls = c->head;
            t->outstanding -= c->depth;
            atomic_fetch_sub(&be->busy, c->depth);
            c->head = NULL;
            hp_pg__conn_close(c);
            while (calls != NULL) {
                hp_pg__call_t *next = calls->next;
                calls->conn = NULL;
                fail_call(calls, HP_ERR_DB_BUSY, "The server is shutting down", NULL);
                calls = next;
            }
        }
    }
    atomic_fetch_sub(&be->loops, 1);
    current_loop = NULL;
    free(pl);
}
