#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "compress/compress.h"
#include "http/loop.h"
#include "core/log.h"
#include "core/time.h"
#include "http/caching.h"
#include "http/respond.h"

/* Appends a duration in nanoseconds as milliseconds with 3 decimals ("0.042"). */
static char *put_ms(char *p, uint64_t ns)
{
    uint64_t us = ns / 1000;
    p = hp_http_put_uint(p, us / 1000);
    *p++ = '.';
    *p++ = (char)('0' + us / 100 % 10);
    *p++ = (char)('0' + us / 10 % 10);
    *p++ = (char)('0' + us % 10);
    return p;
}

/* The time a change is recorded at: the start of the next second. HTTP dates have whole
 * seconds; rounding up makes every change later than any Last-Modified or Date sent before
 * it, so If-Modified-Since can never confirm a copy older than a change. Last-Modified is sent
 * capped at the current time (never in the future) and compared as recorded. */
static uint64_t change_time_ms(void)
{
    return (hp_time_real_ms() / 1000 + 1) * 1000;
}

hp_http_caching_t *hp_http_caching_create(const hp_config_t *conf, char *errbuf, size_t errlen)
{
    char why[256];
    hp_http_caching_t *c = calloc(1, sizeof(*c));
    if ((c->policies = hp_cache_policies_parse(conf->cache_policy, why, sizeof(why))) == NULL) {
        snprintf(errbuf, errlen, "cache-policy: %s", why);
        free(c);
        return NULL;
    }
    if (conf->cache == 0 /* "on" */) {
        /* Each shard holds max_bytes / shards and no entry larger than that: keep shards at
         * 4 MiB or more (64 of them from 256 MiB up), so a small cache still stores large
         * responses. */
        unsigned shards = 1;
        while (shards < HP_CACHE_DEFAULT_SHARDS &&
               (uint64_t)conf->cache_max_bytes / (shards * 2) >= (4u << 20))
            shards *= 2;
        hp_cache_options_t opts = {.max_bytes = (size_t)conf->cache_max_bytes, .shards = shards};
        if ((c->cache = hp_cache_create(&opts)) == NULL) {
            snprintf(errbuf, errlen, "cache-max-bytes: cannot allocate the cache");
            hp_cache_policies_destroy(c->policies);
            free(c);
            return NULL;
        }
        hp_cache_tier_init_l1(&c->l1_tier, c->cache);
        c->tier = &c->l1_tier;
    }
    c->is_compress_enabled = conf->compress == 0 /* "on" */;
    c->compress_min_bytes = (size_t)conf->compress_min_bytes;
    c->levels[HP_ENCODING_GZIP] = (int)conf->compress_gzip_level;
    c->levels[HP_ENCODING_BR] = (int)conf->compress_br_level;
    c->levels[HP_ENCODING_ZSTD] = (int)conf->compress_zstd_level;
    c->started_ms = change_time_ms();
    atomic_store(&c->all_changed_ms, c->started_ms);
    return c;
}

void hp_http_caching_destroy(hp_http_caching_t *c)
{
    if (c == NULL)
        return;
    if (c->cache != NULL)
        hp_cache_destroy(c->cache);
    hp_cache_policies_destroy(c->policies);
    free(c);
}

const hp_cache_policy_t *hp_http_caching_policy(hp_http_caching_t *c, h2o_iovec_t resource)
{
    if (c->cache == NULL)
        return NULL;
    const hp_cache_policy_t *p = hp_cache_policies_find(c->policies, resource.base, resource.len);
    return p->is_enabled ? p : NULL;
}

static int compare_params(const void *a, const void *b)
{
    const h2o_iovec_t *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int r = memcmp(x->base, y->base, n);
    return r != 0 ? r : (x->len > y->len) - (x->len < y->len);
}

h2o_iovec_t hp_http_caching_key(h2o_mem_pool_t *pool, const hp_request_t *r)
{
    /* Parameters are ANDed filters and independent settings: their order never changes the
     * answer, so a canonical order lets equivalent URLs share one entry. */
    size_t count = 1;
    for (size_t i = 0; i != r->query.len; ++i)
        count += r->query.base[i] == '&';
    h2o_iovec_t *params = h2o_mem_alloc_pool(pool, count * sizeof(*params));
    size_t n = 0;
    for (const char *p = r->query.base, *end = p + r->query.len; p < end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        if (amp == NULL)
            amp = end;
        if (amp != p)
            params[n++] = h2o_iovec_init(p, (size_t)(amp - p));
        p = amp + 1;
    }
    qsort(params, n, sizeof(*params), compare_params);

    char tail[96], *t = tail;
    *t++ = '\n';
    *t++ = (char)('0' + r->format);
    *t++ = (char)('0' + r->prefer.count);
    if (r->caller != NULL && !hp_caller_is_anonymous(r->caller)) {
        /* Callers who may see different rows never share an entry. */
        memcpy(t, " p", 2);
        t = hp_http_put_uint(t + 2, r->caller->partition);
    }
    if (r->range.is_set) {
        *t++ = ' ';
        t = hp_http_put_uint(t, r->range.first);
        *t++ = '-';
        t = hp_http_put_uint(t, r->range.last);
    }
    int tail_len = (int)(t - tail);
    size_t len = r->resource.len + 1 + r->query.len + (size_t)tail_len;
    char *key = h2o_mem_alloc_pool(pool, len), *w = key;
    memcpy(w, r->resource.base, r->resource.len);
    w += r->resource.len;
    *w++ = '?';
    for (size_t i = 0; i != n; ++i) {
        if (i != 0)
            *w++ = '&';
        memcpy(w, params[i].base, params[i].len);
        w += params[i].len;
    }
    memcpy(w, tail, (size_t)tail_len);
    w += tail_len;
    return h2o_iovec_init(key, (size_t)(w - key));
}

void hp_http_caching_table_written(hp_http_caching_t *c, const char *table, size_t len)
{
    uint32_t slot = hp_cache_table_slot(table, len);
    atomic_store_explicit(&c->slot_changed_ms[slot], change_time_ms(), memory_order_relaxed);
    if (c->tier != NULL)
        c->tier->ops->invalidate_table(c->tier, slot);
}

void hp_http_caching_all_changed(hp_http_caching_t *c)
{
    atomic_store_explicit(&c->all_changed_ms, change_time_ms(), memory_order_relaxed);
    if (c->tier != NULL)
        c->tier->ops->invalidate_all(c->tier);
}

void hp_http_caching_on_external_change(void *c, const char *table, size_t table_len)
{
    if (table != NULL)
        hp_http_caching_table_written(c, table, table_len);
    else
        hp_http_caching_all_changed(c);
}

uint64_t hp_http_caching_last_written(hp_http_caching_t *c, const uint32_t *slots, size_t count)
{
    uint64_t all = atomic_load_explicit(&c->all_changed_ms, memory_order_relaxed);
    uint64_t t = all == c->started_ms ? 0 : all;
    for (size_t i = 0; i != count; ++i) {
        uint64_t s = atomic_load_explicit(&c->slot_changed_ms[slots[i]], memory_order_relaxed);
        if (s > t)
            t = s;
    }
    return t;
}

uint64_t hp_http_caching_last_changed(hp_http_caching_t *c, const uint32_t *slots, size_t count)
{
    uint64_t t = atomic_load_explicit(&c->all_changed_ms, memory_order_relaxed);
    for (size_t i = 0; i != count; ++i) {
        uint64_t s = atomic_load_explicit(&c->slot_changed_ms[slots[i]], memory_order_relaxed);
        if (s > t)
            t = s;
    }
    return t;
}

/* --- sending --- */

/* If-None-Match: "*" or a list of entity tags; weak ones (W/"...") match by the weak rule,
 * which is what a GET uses. Our tags are "<hash>" for identity and "<hash>-<coding>" for a
 * coded body (one strong tag per representation, RFC 9110 8.8.3): a client holding any of them
 * has the current data, so the hash decides. `base` is `"<hash>` (no closing quote). */
int hp_http_caching_etag_matches(h2o_iovec_t inm, const char *base, size_t base_len)
{
    for (const char *p = inm.base, *end = p + inm.len; p < end;) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            ++p;
        if (p < end && *p == '*')
            return 1;
        if (end - p >= 2 && p[0] == 'W' && p[1] == '/')
            p += 2;
        const char *start = p;
        while (p < end && *p != ',')
            ++p;
        const char *stop = p;
        while (stop > start && (stop[-1] == ' ' || stop[-1] == '\t'))
            --stop;
        if ((size_t)(stop - start) > base_len && memcmp(start, base, base_len) == 0 &&
            (start[base_len] == '"' || start[base_len] == '-'))
            return 1;
    }
    return 0;
}

int hp_http_caching_is_not_modified(h2o_iovec_t inm, h2o_iovec_t ims, const char *etag_base,
                                    size_t base_len, uint64_t last_modified_ms)
{
    if (inm.base != NULL)
        return hp_http_caching_etag_matches(inm, etag_base, base_len);
    struct tm tm;
    if (ims.base == NULL || h2o_time_parse_rfc1123(ims.base, ims.len, &tm) != 0)
        return 0;
    /* Compared as recorded (see change_time_ms), not as sent. */
    return (int64_t)(last_modified_ms / 1000) <= (int64_t)timegm(&tm);
}

hp_encoding_t hp_http_caching_choose_coding(const hp_http_caching_t *c, h2o_iovec_t accept_encoding,
                                            size_t body_len)
{
    if (!c->is_compress_enabled || !hp_compress_is_worth(body_len, c->compress_min_bytes))
        return HP_ENCODING_IDENTITY;
    hp_encoding_t enc =
        hp_compress_negotiate(accept_encoding.base, accept_encoding.len, HP_ENCODING_ALL_BITS);
    /* A client that refuses identity and every coding we have gets identity anyway (RFC 9110
     * allows ignoring Accept-Encoding rather than answering 406). */
    return enc == HP_ENCODING_NOT_ACCEPTABLE ? HP_ENCODING_IDENTITY : enc;
}

/* Completes `"<hash>` (in a 32-byte buffer) with the coding's suffix and adds the header. */
static void add_etag(h2o_req_t *req, char *etag, int base_len, hp_encoding_t enc)
{
    char *p = etag + base_len;
    if (enc != HP_ENCODING_IDENTITY) {
        const char *token = hp_compress_token(enc); /* at most 8 bytes: "identity" */
        size_t token_len = strlen(token);
        *p++ = '-';
        memcpy(p, token, token_len);
        p += token_len;
    }
    *p++ = '"';
    hp_http_add_header(req, H2O_TOKEN_ETAG, etag, (size_t)(p - etag));
}

/* The HTTP date of `s` (seconds since the epoch) into out (H2O_TIMESTR_RFC1123_LEN bytes, no
 * NUL). Entries share few distinct Last-Modified seconds, so each thread keeps the last one
 * formatted instead of formatting per response. */
static void format_http_date(char *out, time_t s)
{
    static __thread time_t last_s = -1;
    static __thread char last[H2O_TIMESTR_RFC1123_LEN + 1];
    if (s != last_s) {
        struct tm gmt;
        gmtime_r(&s, &gmt);
        h2o_time2str_rfc1123(last, &gmt);
        last_s = s;
    }
    memcpy(out, last, H2O_TIMESTR_RFC1123_LEN);
}

/* The body in `enc` (its bytes live until the request is disposed), or identity when coding
 * does not make it smaller or fails. */
static h2o_iovec_t encode_body(hp_http_caching_t *c, h2o_req_t *req,
                               const hp_http_representation_t *rep, hp_encoding_t *enc)
{
    if (rep->entry != NULL) {
        hp_cache_bytes_t v = hp_cache_entry_variant(rep->entry, *enc);
        if (v.base != NULL)
            return h2o_iovec_init(v.base, v.len);
    }
    hp_buf_t out;
    hp_buf_init(&out);
    if (hp_compress(*enc, c->levels[*enc], rep->body.base, rep->body.len, &out) != 0 ||
        out.len >= rep->body.len) {
        hp_buf_dispose(&out);
        *enc = HP_ENCODING_IDENTITY;
        return rep->body;
    }
    hp_cache_bytes_t v = {out.ptr, out.len};
    if (rep->entry != NULL && c->cache != NULL)
        v = hp_cache_entry_set_variant(c->cache, rep->entry, *enc, out.ptr, out.len);
    if (v.base == out.ptr) {
        hp_http_own(req, out.ptr); /* our own buffer: freed with the request */
    } else {
        hp_buf_dispose(&out); /* the entry keeps its copy */
    }
    return h2o_iovec_init(v.base, v.len);
}

void hp_http_caching_add_headers(hp_http_caching_t *c, h2o_req_t *req,
                                 const hp_http_representation_t *rep)
{
    char *lm = h2o_mem_alloc_pool(&req->pool, H2O_TIMESTR_RFC1123_LEN);
    uint64_t now_ms = hp_time_real_ms();
    format_http_date(
        lm, (time_t)((rep->last_modified_ms < now_ms ? rep->last_modified_ms : now_ms) / 1000));
    hp_http_add_header(req, H2O_TOKEN_LAST_MODIFIED, lm, H2O_TIMESTR_RFC1123_LEN);
    if (rep->policy != NULL) {
        hp_http_add_header(req, H2O_TOKEN_CACHE_CONTROL, rep->policy->cache_control,
                           strlen(rep->policy->cache_control));
        if (rep->caller != NULL && !hp_caller_is_anonymous(rep->caller))
            hp_http_add_header(req, H2O_TOKEN_VARY,
                               H2O_STRLIT("Accept, Accept-Encoding, Prefer, Range, Authorization"));
        else
            hp_http_add_header(req, H2O_TOKEN_VARY,
                               H2O_STRLIT("Accept, Accept-Encoding, Prefer, Range"));
    } else if (c->is_compress_enabled) {
        hp_http_add_header(req, H2O_TOKEN_VARY, H2O_STRLIT("Accept-Encoding"));
    }
    hp_http_add_header_str(req, H2O_STRLIT("cache-status"), rep->cache_status,
                           strlen(rep->cache_status));
    char *timing = h2o_mem_alloc_pool(&req->pool, 120), *t = timing;
    memcpy(t, "cache;dur=", 10);
    t = put_ms(t + 10, rep->cache_ns);
    if (rep->db_ns != 0) {
        memcpy(t, ", db;dur=", 9);
        t = put_ms(t + 9, rep->db_ns);
        if (rep->batch_size > 1) {
            /* One query answered this read and batch_size - 1 others. */
            memcpy(t, ";desc=\"batch of ", 16);
            t = hp_http_put_uint(t + 16, rep->batch_size);
            *t++ = '"';
        }
    }
    size_t timing_len = (size_t)(t - timing);
    hp_http_add_header_str(req, H2O_STRLIT("server-timing"), timing, timing_len);
    hp_http_add_header(req, H2O_TOKEN_CONTENT_LOCATION, req->path.base, req->path.len);
}

void hp_http_caching_send(hp_http_caching_t *c, h2o_req_t *req, const hp_http_representation_t *rep)
{
    static h2o_generator_t generator = {NULL, NULL};

    /* The entity tag of the coding chosen for this client, decided first: a 304 carries it too. */
    hp_encoding_t enc = hp_http_caching_choose_coding(
        c, hp_http_header_value(req, H2O_TOKEN_ACCEPT_ENCODING), rep->body.len);
    static const char hex[] = "0123456789abcdef";
    char *etag = h2o_mem_alloc_pool(&req->pool, 32);
    int base_len = 17;
    etag[0] = '"';
    for (int i = 0; i != 16; ++i)
        etag[1 + i] = hex[(rep->etag >> (60 - 4 * i)) & 0xf];
    hp_http_caching_add_headers(c, req, rep);

    int is_head = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    if ((rep->status == 200 || rep->status == 206) &&
        hp_http_caching_is_not_modified(hp_http_header_value(req, H2O_TOKEN_IF_NONE_MATCH),
                                        hp_http_header_value(req, H2O_TOKEN_IF_MODIFIED_SINCE),
                                        etag, (size_t)base_len, rep->last_modified_ms)) {
        add_etag(req, etag, base_len, enc);
        req->res.status = 304;
        req->res.reason = "Not Modified";
        h2o_send_inline(req, NULL, 0);
        return;
    }

    req->res.status = rep->status;
    req->res.reason = rep->status == 206 ? "Partial Content" : "OK";
    for (size_t i = 0; i != rep->header_count; ++i) {
        const hp_cache_header_t *h = rep->headers + i;
        hp_http_add_header_str(req, h->name, h->name_len, h->value, h->value_len);
    }

    h2o_iovec_t body = rep->body;
    if (enc != HP_ENCODING_IDENTITY) {
        body = encode_body(c, req, rep, &enc); /* identity again if coding does not pay */
        if (enc != HP_ENCODING_IDENTITY) {
            const char *token = hp_compress_token(enc);
            hp_http_add_header(req, H2O_TOKEN_CONTENT_ENCODING, token, strlen(token));
            if (!is_head)
                hp_metrics_compressed(hp_http_loop_of(req->conn->ctx)->metrics, rep->body.len,
                                      body.len);
        }
    }
    add_etag(req, etag, base_len, enc);
    req->res.content_length = body.len;
    if (is_head) {
        h2o_send_inline(req, NULL, 0);
        return;
    }
    h2o_start_response(req, &generator);
    h2o_send(req, &body, 1, 1);
}
