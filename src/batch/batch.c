#include "batch/batch.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define SHAPE_BUCKETS 256

typedef struct st_shape_t shape_t;
typedef struct st_group_t group_t;

/* A shape seen on this loop: its queries in flight and the group collecting for it. */
struct st_shape_t {
    uint64_t hash;
    unsigned in_flight;
    group_t *open;
    shape_t *next;
};

struct st_group_t {
    hp_batcher_t *b;
    shape_t *shape;
    hp_db_job_t **jobs;
    hp_plan_t **plans;
    size_t count, cap;
    h2o_timeout_entry_t timer;
};

/* A read sent alone, remembered in its job's pool so its shape is told when it is back. */
typedef struct {
    hp_batcher_t *b;
    shape_t *shape;
    hp_db_job_cb on_done;
} single_t;

struct st_hp_batcher_t {
    hp_db_t *db;
    h2o_loop_t *loop;
    hp_batch_options_t opts;
    hp_metrics_slot_t *metrics;
    shape_t *shapes[SHAPE_BUCKETS];
    h2o_timeout_t now_timeout;    /* 0 ms: runs at the end of this loop iteration */
    h2o_timeout_t window_timeout; /* batch-window-us, rounded up to whole milliseconds */
};

hp_batcher_t *hp_batcher_create(hp_db_t *db, h2o_loop_t *loop, const hp_batch_options_t *opts,
                                hp_metrics_slot_t *metrics)
{
    hp_batcher_t *b = calloc(1, sizeof(*b));
    if (b == NULL)
        h2o_fatal("out of memory");
    b->db = db;
    b->loop = loop;
    b->opts = *opts;
    if (b->opts.max_reads < 1)
        b->opts.max_reads = 1;
    b->metrics = metrics;
    h2o_timeout_init(loop, &b->now_timeout, 0);
    h2o_timeout_init(loop, &b->window_timeout, (opts->window_us + 999) / 1000);
    return b;
}

void hp_batcher_destroy(hp_batcher_t *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i != SHAPE_BUCKETS; ++i) {
        while (b->shapes[i] != NULL) {
            shape_t *s = b->shapes[i];
            b->shapes[i] = s->next;
            free(s);
        }
    }
    h2o_timeout_dispose(b->loop, &b->now_timeout);
    h2o_timeout_dispose(b->loop, &b->window_timeout);
    free(b);
}

/* --- shapes --- */

static uint64_t shape_hash(const hp_plan_t *plan)
{
    const hp_stmt_t *st = &plan->exec.main;
    /* Reads of different callers never share a query: the caller's partition is part of the
     * shape (same_shape checks it too). */
    uint64_t h = XXH3_64bits_withSeed(
        st->sql, st->sql_len, (uint64_t)(uintptr_t)plan->table ^ plan->exec.caller->partition);
    for (size_t i = 0; i != st->bind_count; ++i) {
        const hp_bind_t *bd = &st->binds[i];
        if (i == plan->batch.key_bind)
            continue;
        uint64_t part = bd->kind == HP_BIND_TEXT ? XXH3_64bits(bd->text.base, bd->text.len)
                                                 : (uint64_t)bd->i ^ (uint64_t)bd->d;
        h = XXH3_64bits_withSeed(&part, sizeof(part), h + i);
    }
    return h;
}

static int same_bind(const hp_bind_t *x, const hp_bind_t *y)
{
    if (x->kind != y->kind)
        return 0;
    switch (x->kind) {
    case HP_BIND_NULL: return 1;
    case HP_BIND_INT: return x->i == y->i;
    case HP_BIND_REAL: return x->d == y->d;
    case HP_BIND_TEXT: return h2o_memis(x->text.base, x->text.len, y->text.base, y->text.len);
    }
    return 0;
}

/* Exactly the same statement but for the key. */
static int same_shape(const hp_plan_t *x, const hp_plan_t *y)
{
    const hp_stmt_t *a = &x->exec.main, *c = &y->exec.main;
    if (x->table != y->table || !hp_caller_same(x->exec.caller, y->exec.caller) ||
        x->batch.key != y->batch.key || x->batch.key_bind != y->batch.key_bind ||
        a->bind_count != c->bind_count || a->sql_len != c->sql_len ||
        memcmp(a->sql, c->sql, a->sql_len) != 0)
        return 0;
    for (size_t i = 0; i != a->bind_count; ++i)
        if (i != x->batch.key_bind && !same_bind(&a->binds[i], &c->binds[i]))
            return 0;
    return 1;
}

static shape_t *find_shape(hp_batcher_t *b, uint64_t hash)
{
    shape_t **head = &b->shapes[hash % SHAPE_BUCKETS];
    for (shape_t *s = *head; s != NULL; s = s->next)
        if (s->hash == hash)
            return s;
    shape_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        h2o_fatal("out of memory");
    s->hash = hash;
    s->next = *head;
    *head = s;
    return s;
}

static void forget_shape_if_idle(hp_batcher_t *b, shape_t *s)
{
    if (s->in_flight != 0 || s->open != NULL)
        return;
    for (shape_t **p = &b->shapes[s->hash % SHAPE_BUCKETS]; *p != NULL; p = &(*p)->next) {
        if (*p == s) {
            *p = s->next;
            free(s);
            return;
        }
    }
}

/* --- sending --- */

static void free_group(group_t *g)
{
    free(g->jobs);
    free(g->plans);
    free(g);
}

static void flush(group_t *g);

/* A query of the shape came back: the group that gathered meanwhile goes now. */
static void shape_done(hp_batcher_t *b, shape_t *s)
{
    --s->in_flight;
    /* A group on a timer goes when it fires; one without was waiting for this. */
    if (s->open != NULL && !h2o_timeout_is_linked(&s->open->timer))
        flush(s->open);
    else
        forget_shape_if_idle(b, s);
}

static void on_single_done(hp_db_job_t *job)
{
    single_t *one = job->_batch;
    hp_batcher_t *b = one->b;
    shape_t *s = one->shape;
    job->on_done = one->on_done;
    job->_batch = NULL;
    job->on_done(job);
    shape_done(b, s);
}

static void send_single(hp_batcher_t *b, shape_t *s, hp_db_job_t *job)
{
    single_t *one = h2o_mem_alloc_pool(&job->pool, sizeof(*one));
    *one = (single_t){b, s, job->on_done};
    job->_batch = one;
    job->on_done = on_single_done;
    hp_db_submit(b->db, job);
}

/* Finds "<index>:" segments in the batch body and hands each read its row. */
static void answer_members(group_t *g, const hp_exec_result_t *res)
{
    h2o_iovec_t *rows = calloc(g->count, sizeof(*rows));
    if (rows == NULL)
        h2o_fatal("out of memory");
    const char *p = res->body.ptr, *end = p + res->body.len;
    while (p < end) {
        const char *stop = memchr(p, HP_BATCH_SEPARATOR, (size_t)(end - p));
        if (stop == NULL)
            stop = end;
        size_t index = 0;
        const char *q = p;
        while (q < stop && *q >= '0' && *q <= '9')
            index = index * 10 + (size_t)(*q++ - '0');
        if (q < stop && *q == ':' && index < g->count && rows[index].base == NULL)
            rows[index] = h2o_iovec_init(q + 1, (size_t)(stop - q - 1));
        p = stop + 1;
    }
    for (size_t i = 0; i != g->count; ++i) {
        hp_db_job_t *job = g->jobs[i];
        hp_exec_result_t *r = &job->result;
        r->batch_size = (uint32_t)g->count;
        r->db_queries = i == 0 ? 1 : 0;
        r->row_count = rows[i].base != NULL;
        if (job->exec->format == HP_FORMAT_OBJECT) {
            if (rows[i].base == NULL)
                hp_exec_singular_error(&r->error, &job->pool, 0);
            else
                hp_buf_append(&r->body, rows[i].base, rows[i].len);
        } else {
            hp_buf_putc(&r->body, '[');
            if (rows[i].base != NULL)
                hp_buf_append(&r->body, rows[i].base, rows[i].len);
            hp_buf_putc(&r->body, ']');
        }
    }
    free(rows);
}

static void on_batch_done(hp_db_job_t *bj)
{
    group_t *g = bj->data;
    hp_batcher_t *b = g->b;
    shape_t *s = g->shape;
    if (bj->result.error.code != HP_OK) {
        /* Run each read alone: its own error (or row) is then its own. */
        for (size_t i = 0; i != g->count; ++i)
            hp_db_submit(b->db, g->jobs[i]);
    } else {
        answer_members(g, &bj->result);
        for (size_t i = 0; i != g->count; ++i)
            g->jobs[i]->on_done(g->jobs[i]);
    }
    free_group(g);
    hp_db_job_destroy(bj);
    shape_done(b, s);
}

static void flush(group_t *g)
{
    hp_batcher_t *b = g->b;
    shape_t *s = g->shape;
    if (h2o_timeout_is_linked(&g->timer))
        h2o_timeout_unlink(&g->timer);
    s->open = NULL;
    ++s->in_flight;
    if (b->metrics != NULL)
        hp_metrics_batch(b->metrics, g->count);
    if (g->count == 1) {
        hp_db_job_t *job = g->jobs[0];
        free_group(g);
        send_single(b, s, job);
        return;
    }
    hp_db_job_t *bj = hp_db_job_create();
    bj->exec = h2o_mem_alloc_pool(&bj->pool, sizeof(*bj->exec));
    hp_query_plan_batch(g->plans, g->count, hp_db_dialect(b->db), bj->exec, &bj->pool);
    bj->reply_to = g->jobs[0]->reply_to;
    bj->on_done = on_batch_done;
    bj->data = g;
    hp_db_submit(b->db, bj);
}

static void on_timer(h2o_timeout_entry_t *entry)
{
    flush(H2O_STRUCT_FROM_MEMBER(group_t, timer, entry));
}

static group_t *open_group(hp_batcher_t *b, shape_t *s)
{
    group_t *g = calloc(1, sizeof(*g));
    if (g == NULL)
        h2o_fatal("out of memory");
    g->b = b;
    g->shape = s;
    g->cap = 8;
    g->jobs = malloc(g->cap * sizeof(*g->jobs));
    g->plans = malloc(g->cap * sizeof(*g->plans));
    if (g->jobs == NULL || g->plans == NULL)
        h2o_fatal("out of memory");
    g->timer.cb = on_timer;
    s->open = g;
    if (s->in_flight == 0 || b->opts.window_us != 0)
        h2o_timeout_link(b->loop, b->opts.window_us != 0 ? &b->window_timeout : &b->now_timeout,
                         &g->timer);
    return g;
}

static void add_member(group_t *g, hp_db_job_t *job, hp_plan_t *plan)
{
    if (g->count == g->cap) {
        g->cap *= 2;
        g->jobs = realloc(g->jobs, g->cap * sizeof(*g->jobs));
        g->plans = realloc(g->plans, g->cap * sizeof(*g->plans));
        if (g->jobs == NULL || g->plans == NULL)
            h2o_fatal("out of memory");
    }
    g->jobs[g->count] = job;
    g->plans[g->count] = plan;
    ++g->count;
}

void hp_batcher_submit(hp_batcher_t *b, hp_db_job_t *job, hp_plan_t *plan)
{
    if (!b->opts.enabled || plan->batch.tree == NULL) {
        hp_db_submit(b->db, job);
        return;
    }
    shape_t *s = find_shape(b, shape_hash(plan));
    group_t *g = s->open;
    if (g != NULL && !same_shape(g->plans[0], plan)) {
        hp_db_submit(b->db, job); /* two shapes with one hash: this one goes alone */
        return;
    }
    if (g == NULL)
        g = open_group(b, s);
    add_member(g, job, plan);
    if (g->count >= b->opts.max_reads)
        flush(g);
}
