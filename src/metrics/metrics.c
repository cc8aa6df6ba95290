#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "core/json.h"
#include "metrics/metrics.h"

/* One loop's counters, alone on its cache lines so loops never share one. Only the owner
 * writes; a scrape reads with relaxed loads. Buckets are not cumulative here (the render
 * makes them so); the last one is +Inf. */
struct st_hp_metrics_slot_t {
    alignas(64) _Atomic uint64_t requests[HP_METRICS_METHODS][HP_METRICS_STATUSES];
    _Atomic uint64_t not_modified;
    _Atomic uint64_t buckets[HP_METRICS_DURATION_BUCKETS + 1];
    _Atomic uint64_t duration_sum_ns;
    _Atomic uint64_t started, done; /* in flight = started - done, over all slots */
    _Atomic uint64_t batch_buckets[HP_METRICS_BATCH_BUCKETS + 1];
    _Atomic uint64_t batch_sum; /* requests answered by batches */
    _Atomic uint64_t db_buckets[HP_METRICS_DURATION_BUCKETS + 1];
    _Atomic uint64_t db_sum_ns;
    _Atomic uint64_t compressed, compress_in, compress_out;
    /* rate limits: decisions by rule, [0] allowed, [1] limited */
    _Atomic uint64_t ratelimit[HP_METRICS_RATELIMIT_RULES][2];
    _Atomic uint64_t shed, client_denied; /* database admission (src/overload) */
};

/* Requests per coalesced database query (src/batch): 1 is a query of its own. */
static const uint64_t batch_bounds[HP_METRICS_BATCH_BUCKETS] = {1,  2,  4,   8,   16,
                                                                32, 64, 128, 256, 512};
static const char *const batch_labels[HP_METRICS_BATCH_BUCKETS + 1] = {
    "1", "2", "4", "8", "16", "32", "64", "128", "256", "512", "+Inf"};

struct st_hp_metrics_t {
    size_t slot_count;
    uint64_t start_time_s;
    hp_metrics_slot_t *slots;
    char *ratelimit_rules[HP_METRICS_RATELIMIT_RULES]; /* the `rule` labels; NULL: unused */
    int has_ratelimit;
};

/* From 10 us: a cached response takes tens of microseconds, and p50/p99 read from buckets
 * that start at 100 us would say nothing about it. */
static const uint64_t bucket_bounds_ns[HP_METRICS_DURATION_BUCKETS] = {
    10000,    25000,    50000,    100000,    250000,    500000,    1000000,    2500000,    5000000,
    10000000, 25000000, 50000000, 100000000, 250000000, 500000000, 1000000000, 2500000000u};
static const char *const bucket_labels[HP_METRICS_DURATION_BUCKETS + 1] = {
    "0.00001", "0.000025", "0.00005", "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005",
    "0.01",    "0.025",    "0.05",    "0.1",    "0.25",    "0.5",    "1",     "2.5",    "+Inf"};
static const char *const method_labels[HP_METRICS_METHODS] = {"GET", "POST", "PATCH", "DELETE",
                                                              "other"};
static const char *const status_labels[HP_METRICS_STATUSES] = {"2xx", "3xx", "4xx", "5xx", "other"};

hp_metrics_t *hp_metrics_create(size_t slot_count, uint64_t start_time_s)
{
    hp_metrics_t *m = calloc(1, sizeof(*m));
    size_t bytes = (slot_count != 0 ? slot_count : 1) * sizeof(hp_metrics_slot_t);
    if (m == NULL || (m->slots = aligned_alloc(alignof(hp_metrics_slot_t), bytes)) == NULL)
        abort();
    memset(m->slots, 0, bytes);
    m->slot_count = slot_count;
    m->start_time_s = start_time_s;
    return m;
}

void hp_metrics_destroy(hp_metrics_t *m)
{
    if (m == NULL)
        return;
    free(m->slots);
    for (size_t i = 0; i != HP_METRICS_RATELIMIT_RULES; ++i)
        free(m->ratelimit_rules[i]);
    free(m);
}

hp_metrics_slot_t *hp_metrics_slot(hp_metrics_t *m, size_t i)
{
    return m->slots + i;
}

hp_metrics_method_t hp_metrics_method_class(const char *method, size_t len)
{
    switch (len) {
    case 3: return memcmp(method, "GET", 3) == 0 ? HP_METRICS_GET : HP_METRICS_OTHER_METHOD;
    case 4:
        if (memcmp(method, "HEAD", 4) == 0)
            return HP_METRICS_GET;
        return memcmp(method, "POST", 4) == 0 ? HP_METRICS_POST : HP_METRICS_OTHER_METHOD;
    case 5: return memcmp(method, "PATCH", 5) == 0 ? HP_METRICS_PATCH : HP_METRICS_OTHER_METHOD;
    case 6: return memcmp(method, "DELETE", 6) == 0 ? HP_METRICS_DELETE : HP_METRICS_OTHER_METHOD;
    default: return HP_METRICS_OTHER_METHOD;
    }
}

/* The owner is the only writer, so a relaxed load and store is an exact increment without a
 * locked read-modify-write; readers on other threads still never see a torn value. */
static inline void add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static inline uint64_t get(const _Atomic uint64_t *c)
{
    return atomic_load_explicit((_Atomic uint64_t *)c, memory_order_relaxed);
}

void hp_metrics_ratelimit_rule(hp_metrics_t *m, size_t i, const char *name)
{
    if (i >= HP_METRICS_RATELIMIT_RULES || name == NULL)
        return;
    free(m->ratelimit_rules[i]);
    m->ratelimit_rules[i] = strdup(name);
    m->has_ratelimit = 1;
}

void hp_metrics_ratelimit(hp_metrics_slot_t *slot, size_t rule, int is_allowed)
{
    if (rule < HP_METRICS_RATELIMIT_RULES)
        add(&slot->ratelimit[rule][is_allowed ? 0 : 1], 1);
}

static size_t duration_bucket(uint64_t ns)
{
    size_t b = 0;
    while (b != HP_METRICS_DURATION_BUCKETS && ns > bucket_bounds_ns[b])
        ++b;
    return b;
}

void hp_metrics_request_started(hp_metrics_slot_t *slot)
{
    add(&slot->started, 1);
}

void hp_metrics_request_done(hp_metrics_slot_t *slot, hp_metrics_method_t method, int status,
                             uint64_t duration_ns)
{
    hp_metrics_status_t s = status >= 200 && status < 600 ? (hp_metrics_status_t)(status / 100 - 2)
                                                          : HP_METRICS_OTHER_STATUS;
    if ((unsigned)method >= HP_METRICS_METHODS)
        method = HP_METRICS_OTHER_METHOD;
    add(&slot->requests[method][s], 1);
    if (status == 304)
        add(&slot->not_modified, 1);
    add(&slot->buckets[duration_bucket(duration_ns)], 1);
    add(&slot->duration_sum_ns, duration_ns);
    add(&slot->done, 1);
}

void hp_metrics_batch(hp_metrics_slot_t *slot, size_t requests)
{
    size_t b = 0;
    while (b != HP_METRICS_BATCH_BUCKETS && requests > batch_bounds[b])
        ++b;
    add(&slot->batch_buckets[b], 1);
    add(&slot->batch_sum, requests);
}

void hp_metrics_db_wait(hp_metrics_slot_t *slot, uint64_t ns)
{
    add(&slot->db_buckets[duration_bucket(ns)], 1);
    add(&slot->db_sum_ns, ns);
}

void hp_metrics_compressed(hp_metrics_slot_t *slot, size_t original, size_t sent)
{
    add(&slot->compressed, 1);
    add(&slot->compress_in, original);
    add(&slot->compress_out, sent);
}

void hp_metrics_shed(hp_metrics_slot_t *slot)
{
    add(&slot->shed, 1);
}

void hp_metrics_client_denied(hp_metrics_slot_t *slot)
{
    add(&slot->client_denied, 1);
}

/* Sums one counter over every slot; `field` is its byte offset in a slot. */
static uint64_t sum(const hp_metrics_t *m, size_t field)
{
    uint64_t total = 0;
    for (size_t i = 0; i != m->slot_count; ++i)
        total += get((const _Atomic uint64_t *)((const char *)(m->slots + i) + field));
    return total;
}

#define SUM(m, member) sum((m), offsetof(hp_metrics_slot_t, member))

/* Every HTTP counter summed over the slots, read once for one rendering. */
typedef struct {
    uint64_t requests[HP_METRICS_METHODS][HP_METRICS_STATUSES];
    uint64_t not_modified, in_flight, duration_sum_ns;
    uint64_t cumulative[HP_METRICS_DURATION_BUCKETS + 1]; /* the last is +Inf, i.e. the count */
    uint64_t batch_cumulative[HP_METRICS_BATCH_BUCKETS + 1], batch_sum;
    uint64_t db_cumulative[HP_METRICS_DURATION_BUCKETS + 1], db_sum_ns;
    uint64_t compressed, compress_in, compress_out;
    uint64_t shed, client_denied;
} totals_t;

static void read_totals(const hp_metrics_t *m, totals_t *t)
{
    for (size_t i = 0; i != HP_METRICS_METHODS; ++i)
        for (size_t j = 0; j != HP_METRICS_STATUSES; ++j)
            t->requests[i][j] = SUM(m, requests[i][j]);
    t->not_modified = SUM(m, not_modified);
    /* Each slot's two counters only grow, but a scrape reads `done` and `started` at slightly
     * different times: never report a negative gauge. */
    uint64_t done = SUM(m, done), started = SUM(m, started);
    t->in_flight = started > done ? started - done : 0;
    uint64_t cumulative = 0;
    for (size_t b = 0; b != HP_METRICS_DURATION_BUCKETS + 1; ++b) {
        cumulative += SUM(m, buckets[b]);
        t->cumulative[b] = cumulative;
    }
    t->duration_sum_ns = SUM(m, duration_sum_ns);
    cumulative = 0;
    for (size_t b = 0; b != HP_METRICS_BATCH_BUCKETS + 1; ++b) {
        cumulative += SUM(m, batch_buckets[b]);
        t->batch_cumulative[b] = cumulative;
    }
    t->batch_sum = SUM(m, batch_sum);
    cumulative = 0;
    for (size_t b = 0; b != HP_METRICS_DURATION_BUCKETS + 1; ++b) {
        cumulative += SUM(m, db_buckets[b]);
        t->db_cumulative[b] = cumulative;
    }
    t->db_sum_ns = SUM(m, db_sum_ns);
    t->compressed = SUM(m, compressed);
    t->compress_in = SUM(m, compress_in);
    t->compress_out = SUM(m, compress_out);
    t->shed = SUM(m, shed);
    t->client_denied = SUM(m, client_denied);
}

static void put_header(hp_buf_t *out, const char *name, const char *type, const char *help)
{
    hp_buf_appendf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void put_one(hp_buf_t *out, const char *name, const char *type, const char *help,
                    uint64_t value)
{
    put_header(out, name, type, help);
    hp_buf_appendf(out, "%s %llu\n", name, (unsigned long long)value);
}

static void put_seconds(hp_buf_t *out, uint64_t ns)
{
    hp_buf_appendf(out, "%llu.%09llu", (unsigned long long)(ns / 1000000000u),
                   (unsigned long long)(ns % 1000000000u));
}

/* One histogram: buckets (cumulative, the last +Inf), _sum (nanoseconds written as seconds
 * when sum_is_ns, else as a count) and _count. */
static void put_histogram(hp_buf_t *out, const char *name, const char *help,
                          const char *const *labels, const uint64_t *cumulative, size_t finite,
                          uint64_t sum, int sum_is_ns)
{
    put_header(out, name, "histogram", help);
    for (size_t b = 0; b != finite + 1; ++b)
        hp_buf_appendf(out, "%s_bucket{le=\"%s\"} %llu\n", name, labels[b],
                       (unsigned long long)cumulative[b]);
    hp_buf_appendf(out, "%s_sum ", name);
    if (sum_is_ns)
        put_seconds(out, sum);
    else
        hp_buf_appendf(out, "%llu", (unsigned long long)sum);
    hp_buf_appendf(out, "\n%s_count %llu\n", name, (unsigned long long)cumulative[finite]);
}

static void render_batch(const totals_t *t, hp_buf_t *out)
{
    put_histogram(out, "hotpath_db_batch_size",
                  "API reads answered by one database query (1: a query of its own; more: "
                  "coalesced primary-key lookups)",
                  batch_labels, t->batch_cumulative, HP_METRICS_BATCH_BUCKETS, t->batch_sum, 0);
}

static void render_db_and_compression(const totals_t *t, hp_buf_t *out)
{
    put_histogram(out, "hotpath_db_duration_seconds",
                  "time an API request waited for the database (queueing included)", bucket_labels,
                  t->db_cumulative, HP_METRICS_DURATION_BUCKETS, t->db_sum_ns, 1);
    put_one(out, "hotpath_compressed_responses_total", "counter",
            "responses sent with a content coding (gzip, br, zstd)", t->compressed);
    put_one(out, "hotpath_compression_original_bytes_total", "counter",
            "bytes those responses had before compression", t->compress_in);
    put_one(out, "hotpath_compression_sent_bytes_total", "counter",
            "bytes those responses were sent as (original - sent = bytes saved)", t->compress_out);
}

/* Database admission (src/overload): the counters always, the limit when there is one. */
static void render_admission(const totals_t *t, const hp_metrics_admission_t *a, hp_buf_t *out)
{
    put_one(out, "hotpath_db_shed_total", "counter",
            "API requests answered 503 at once because the database's queue would not finish "
            "within the request deadline",
            t->shed);
    put_one(out, "hotpath_db_client_denied_total", "counter",
            "API requests answered 429 at once because their client had db-client-max-jobs "
            "database jobs in flight",
            t->client_denied);
    if (a == NULL)
        return;
    put_one(out, "hotpath_db_concurrency_limit", "gauge",
            "the adaptive limit on database jobs in flight (AIMD, at most db-max-jobs)", a->limit);
    put_one(out, "hotpath_db_concurrency_max", "gauge", "the limit's ceiling (db-max-jobs)",
            a->max);
    put_one(out, "hotpath_db_jobs_in_flight", "gauge", "database jobs admitted and not yet back",
            a->in_flight);
    put_header(out, "hotpath_db_job_mean_seconds", "gauge",
               "the mean database job latency the admission decision uses");
    hp_buf_appendf(out, "hotpath_db_job_mean_seconds %.6f\n", (double)a->mean_ns / 1e9);
}

static void render_http(const totals_t *t, hp_buf_t *out)
{
    put_header(out, "hotpath_http_requests_total", "counter",
               "API requests answered, by method (HEAD counts as GET) and status class "
               "(other: no status was sent)");
    for (size_t i = 0; i != HP_METRICS_METHODS; ++i)
        for (size_t j = 0; j != HP_METRICS_STATUSES; ++j)
            hp_buf_appendf(out, "hotpath_http_requests_total{method=\"%s\",code=\"%s\"} %llu\n",
                           method_labels[i], status_labels[j],
                           (unsigned long long)t->requests[i][j]);
    put_one(out, "hotpath_http_not_modified_total", "counter",
            "API requests answered 304 Not Modified (also counted as 3xx)", t->not_modified);
    put_one(out, "hotpath_http_requests_in_flight", "gauge",
            "API requests accepted and not yet finished", t->in_flight);

    put_histogram(out, "hotpath_http_request_duration_seconds",
                  "time from accepting an API request to being done with it", bucket_labels,
                  t->cumulative, HP_METRICS_DURATION_BUCKETS, t->duration_sum_ns, 1);
}

static void render_cache(const hp_cache_stats_t *c, hp_buf_t *out)
{
    put_one(out, "hotpath_cache_hits_total", "counter", "response cache lookups served fresh",
            c->hits);
    put_one(out, "hotpath_cache_stale_hits_total", "counter", "response cache lookups served stale",
            c->stale_hits);
    put_one(out, "hotpath_cache_misses_total", "counter", "response cache lookups that led a fill",
            c->misses);
    put_one(out, "hotpath_cache_waits_total", "counter",
            "response cache lookups that waited for another request's fill", c->waits);
    put_one(out, "hotpath_cache_evictions_total", "counter",
            "response cache entries evicted to make room", c->evictions);
    put_one(out, "hotpath_cache_invalidated_total", "counter",
            "response cache entries (or fills) dropped because a table changed", c->invalidated);
    put_one(out, "hotpath_cache_rejected_total", "counter",
            "responses too big (or reading too many tables) to cache", c->rejected);
    put_one(out, "hotpath_cache_bytes", "gauge", "bytes the response cache holds",
            (uint64_t)c->bytes);
    put_one(out, "hotpath_cache_entries", "gauge", "entries the response cache holds",
            (uint64_t)c->entries);
}

/* Rate-limit decisions by rule and outcome; only rules that are configured. */
static void render_ratelimit(const hp_metrics_t *m, hp_buf_t *out)
{
    put_header(out, "hotpath_ratelimit_decisions_total", "counter",
               "rate-limit decisions by rule (rate-limit: default; rate-limit-rules: the "
               "selector) and outcome (allowed, or limited: answered 429)");
    for (size_t i = 0; i != HP_METRICS_RATELIMIT_RULES; ++i) {
        if (m->ratelimit_rules[i] == NULL)
            continue;
        for (size_t o = 0; o != 2; ++o)
            hp_buf_appendf(out,
                           "hotpath_ratelimit_decisions_total{rule=\"%s\",outcome=\"%s\"} %llu\n",
                           m->ratelimit_rules[i], o == 0 ? "allowed" : "limited",
                           (unsigned long long)SUM(m, ratelimit[i][o]));
    }
}

static void render_json_ratelimit(const hp_metrics_t *m, hp_buf_t *out)
{
    if (!m->has_ratelimit) {
        hp_buf_appendf(out, ",\"ratelimit\":null");
        return;
    }
    hp_buf_appendf(out, ",\"ratelimit\":{");
    int is_first = 1;
    for (size_t i = 0; i != HP_METRICS_RATELIMIT_RULES; ++i) {
        if (m->ratelimit_rules[i] == NULL)
            continue;
        hp_buf_appendf(out, "%s", is_first ? "" : ",");
        hp_json_string(out, m->ratelimit_rules[i], strlen(m->ratelimit_rules[i]));
        hp_buf_appendf(out, ":{\"allowed\":%llu,\"limited\":%llu}",
                       (unsigned long long)SUM(m, ratelimit[i][0]),
                       (unsigned long long)SUM(m, ratelimit[i][1]));
        is_first = 0;
    }
    hp_buf_appendf(out, "}");
}

static void render_pool(const hp_metrics_pool_t *p, hp_buf_t *out)
{
    put_one(out, "hotpath_db_pool_connections", "gauge", "database connections open or opening",
            p->open);
    put_one(out, "hotpath_db_pool_max_connections", "gauge",
            "the most database connections allowed (db-pool per server)", p->max);
    put_one(out, "hotpath_db_pool_busy", "gauge",
            "database queries in flight (pipelined: several per connection)", p->busy);
    put_one(out, "hotpath_db_pool_waiting", "gauge",
            "database jobs waiting for a connection (a batch of reads counts once)", p->waiting);
    put_one(out, "hotpath_db_pool_acquired_total", "counter",
            "requests that got a database connection", p->acquired);
    put_header(out, "hotpath_db_pool_acquire_seconds_total", "counter",
               "time requests waited for a database connection");
    hp_buf_appendf(out, "hotpath_db_pool_acquire_seconds_total %.6f\n",
                   (double)p->acquire_ns / 1e9);
}

void hp_metrics_render(hp_metrics_t *m, const hp_metrics_extra_t *extra, hp_buf_t *out)
{
    totals_t t;
    read_totals(m, &t);
    render_http(&t, out);
    put_one(out, "hotpath_db_statements_total", "counter", "SQL statements executed",
            extra->db_statements);
    render_batch(&t, out);
    render_db_and_compression(&t, out);
    render_admission(&t, extra->admission, out);
    if (extra->cache != NULL)
        render_cache(extra->cache, out);
    if (extra->pool != NULL)
        render_pool(extra->pool, out);
    if (m->has_ratelimit)
        render_ratelimit(m, out);
    put_one(out, "process_start_time_seconds", "gauge",
            "start time of the process since the Unix epoch in seconds", m->start_time_s);
}

static void render_json_http(const totals_t *t, hp_buf_t *out)
{
    uint64_t by_status[HP_METRICS_STATUSES] = {0}, total = 0;
    for (size_t i = 0; i != HP_METRICS_METHODS; ++i)
        for (size_t j = 0; j != HP_METRICS_STATUSES; ++j)
            by_status[j] += t->requests[i][j];
    hp_buf_appendf(out, "\"requests_by_status\":{");
    for (size_t j = 0; j != HP_METRICS_STATUSES; ++j) {
        hp_buf_appendf(out, "%s\"%s\":%llu", j != 0 ? "," : "", status_labels[j],
                       (unsigned long long)by_status[j]);
        total += by_status[j];
    }
    hp_buf_appendf(out, "},\"requests\":%llu,\"not_modified\":%llu,\"in_flight\":%llu,",
                   (unsigned long long)total, (unsigned long long)t->not_modified,
                   (unsigned long long)t->in_flight);
    hp_buf_appendf(out, "\"duration_seconds\":{\"bounds\":[");
    for (size_t b = 0; b != HP_METRICS_DURATION_BUCKETS; ++b)
        hp_buf_appendf(out, "%s%s", b != 0 ? "," : "", bucket_labels[b]);
    hp_buf_appendf(out, "],\"cumulative\":[");
    for (size_t b = 0; b != HP_METRICS_DURATION_BUCKETS + 1; ++b)
        hp_buf_appendf(out, "%s%llu", b != 0 ? "," : "", (unsigned long long)t->cumulative[b]);
    hp_buf_appendf(out, "],\"sum\":");
    put_seconds(out, t->duration_sum_ns);
    hp_buf_appendf(out, ",\"count\":%llu}",
                   (unsigned long long)t->cumulative[HP_METRICS_DURATION_BUCKETS]);
}

static void render_json_cache(const hp_cache_stats_t *c, hp_buf_t *out)
{
    hp_buf_appendf(out,
                   "{\"hits\":%llu,\"stale_hits\":%llu,\"misses\":%llu,\"waits\":%llu,"
                   "\"evictions\":%llu,\"invalidated\":%llu,\"rejected\":%llu,\"bytes\":%llu,"
                   "\"entries\":%llu}",
                   (unsigned long long)c->hits, (unsigned long long)c->stale_hits,
                   (unsigned long long)c->misses, (unsigned long long)c->waits,
                   (unsigned long long)c->evictions, (unsigned long long)c->invalidated,
                   (unsigned long long)c->rejected, (unsigned long long)c->bytes,
                   (unsigned long long)c->entries);
}

void hp_metrics_render_json(hp_metrics_t *m, const hp_metrics_extra_t *extra, uint64_t monotonic_ms,
                            hp_buf_t *out)
{
    totals_t t;
    read_totals(m, &t);
    hp_buf_appendf(out, "{\"monotonic_ms\":%llu,\"start_time_seconds\":%llu,",
                   (unsigned long long)monotonic_ms, (unsigned long long)m->start_time_s);
    render_json_http(&t, out);
    render_json_ratelimit(m, out);
    hp_buf_appendf(out,
                   ",\"db_statements\":%llu,\"cache\":", (unsigned long long)extra->db_statements);
    if (extra->cache != NULL)
        render_json_cache(extra->cache, out);
    else
        hp_buf_appendf(out, "null");
    hp_buf_appendf(out, ",\"admission\":{\"shed\":%llu,\"client_denied\":%llu,",
                   (unsigned long long)t.shed, (unsigned long long)t.client_denied);
    const hp_metrics_admission_t *a = extra->admission;
    if (a != NULL)
        hp_buf_appendf(out, "\"limit\":%u,\"max\":%u,\"in_flight\":%u}", a->limit, a->max,
                       a->in_flight);
    else
        hp_buf_appendf(out, "\"limit\":null,\"max\":null,\"in_flight\":null}");
    if (extra->pool == NULL) {
        hp_buf_appendf(out, ",\"pool\":null}\n");
        return;
    }
    const hp_metrics_pool_t *p = extra->pool;
    hp_buf_appendf(out,
                   ",\"pool\":{\"in_use\":%u,\"size\":%u,\"max\":%u,\"busy\":%u,"
                   "\"waiting\":%u}}\n",
                   p->busy < p->open ? p->busy : p->open, p->open, p->max, p->busy, p->waiting);
}
