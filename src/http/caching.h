/*
 * HTTP caching: the glue between the API handler and the response cache (src/cache) and
 * compression (src/compress). It owns the process-wide caching state, builds cache keys,
 * tracks when each table last changed (Last-Modified), and sends every successful read's
 * representation: conditional requests (ETag / If-None-Match, Last-Modified /
 * If-Modified-Since -> 304), content coding by Accept-Encoding (a cached entry's coded body is
 * made once and kept in the entry), Cache-Control, Vary, Cache-Status (RFC 9211) and
 * Server-Timing.
 *
 * Threads: the state is created before the loops start and read by all of them; bumps are
 * atomic. Sending runs on a loop thread.
 */
#ifndef HP_HTTP_CACHING_H
#define HP_HTTP_CACHING_H

#include <stdatomic.h>
#include <h2o.h>
#include "cache/cache.h"
#include "cache/policy.h"
#include "cache/tier.h"
#include "compress/compress.h"
#include "config/config.h"
#include "query/query.h"

typedef struct {
    hp_cache_t *cache;     /* the in-process cache; NULL when the cache is off */
    hp_cache_tier_t *tier; /* what the pipeline's cache step uses; NULL when the cache is off */
    hp_cache_tier_t l1_tier;
    hp_cache_policies_t *policies;
    int is_compress_enabled;
    size_t compress_min_bytes;
    int levels[4]; /* by hp_encoding_t */
    /* When each table version slot last changed, and when everything last did (start-up,
     * schema reload, a write by another program): CLOCK_REALTIME ms. */
    _Atomic uint64_t slot_changed_ms[HP_CACHE_TABLE_SLOTS];
    _Atomic uint64_t all_changed_ms;
    uint64_t started_ms; /* all_changed_ms's first value: the start, not a write */
} hp_http_caching_t;

/* Builds the state from the config. NULL with a reason ("cache-policy: ...") on a bad value. */
hp_http_caching_t *hp_http_caching_create(const hp_config_t *conf, char *errbuf, size_t errlen);
void hp_http_caching_destroy(hp_http_caching_t *c);

/* The policy for reads of `resource`, or NULL when such reads are not cached. */
const hp_cache_policy_t *hp_http_caching_policy(hp_http_caching_t *c, h2o_iovec_t resource);

/* The cache key of a read: resource, query parameters in a canonical order (so equivalent
 * URLs share an entry), and what else changes the output (format, count, range). In pool. */
h2o_iovec_t hp_http_caching_key(h2o_mem_pool_t *pool, const hp_request_t *r);

/* A write to `table` committed (call after the database made it visible to new reads, before
 * the write's response is sent): invalidates what read it. */
void hp_http_caching_table_written(hp_http_caching_t *c, const char *table, size_t len);
/* Everything may have changed (a write by another program, a schema reload). */
void hp_http_caching_all_changed(hp_http_caching_t *c);
/* For hp_db_set_change_listener. */
void hp_http_caching_on_external_change(void *c, const char *table, size_t table_len);

/* When the newest of `slots` last changed (CLOCK_REALTIME ms). */
uint64_t hp_http_caching_last_changed(hp_http_caching_t *c, const uint32_t *slots, size_t count);
/* The same, but only for writes seen since the start (0 when none). */
uint64_t hp_http_caching_last_written(hp_http_caching_t *c, const uint32_t *slots, size_t count);

/* What a successful read answers with, from a cache entry or straight from a result. */
typedef struct {
    int status;
    const hp_cache_header_t *headers; /* content-type, content-range, preference-applied */
    size_t header_count;
    h2o_iovec_t body;
    uint64_t etag;
    uint64_t last_modified_ms;
    const hp_cache_policy_t *policy; /* NULL: not cacheable (no Cache-Control/Vary from it) */
    hp_cache_entry_t *entry;         /* the source of coded variants, or NULL; the caller keeps
                                        its reference until the request is disposed */
    const char *cache_status;        /* the Cache-Status value */
    const hp_caller_t *caller;       /* who asked; NULL or anonymous: the answer is everyone's */
    uint64_t cache_ns, db_ns;        /* for Server-Timing; db_ns 0 when no query ran */
    uint32_t batch_size;             /* reads the query answered (Server-Timing desc when > 1) */
} hp_http_representation_t;

/* --- the pure parts of sending (unit-tested) --- */

/* If-None-Match (a list of entity tags, or "*") against our tag `base` (`"<hash>`, no closing
 * quote): weak comparison, any coding's tag of the same hash matches. */
int hp_http_caching_etag_matches(h2o_iovec_t if_none_match, const char *base, size_t base_len);
/* Whether the client's copy is current: If-None-Match when sent (it wins), else
 * If-Modified-Since against last_modified_ms. Headers not sent are {NULL, 0}. */
int hp_http_caching_is_not_modified(h2o_iovec_t if_none_match, h2o_iovec_t if_modified_since,
                                    const char *etag_base, size_t base_len,
                                    uint64_t last_modified_ms);
/* The content coding for a body of body_len bytes and the client's Accept-Encoding ({NULL, 0}
 * when absent): identity when compression is off, the body is too small to pay, or the client
 * accepts nothing we have. */
hp_encoding_t hp_http_caching_choose_coding(const hp_http_caching_t *c, h2o_iovec_t accept_encoding,
                                            size_t body_len);

/* Adds the headers every read's answer carries that do not depend on its body: Last-Modified,
 * Cache-Control and Vary (by rep->policy and rep->caller), Cache-Status, Server-Timing and
 * Content-Location (hp_http_caching_send adds them; so does a streamed response, whose body
 * comes later). Values are in req->pool or borrowed from rep's policy. */
void hp_http_caching_add_headers(hp_http_caching_t *c, h2o_req_t *req,
                                 const hp_http_representation_t *rep);
/* Answers with the representation: 304 when the request's validators match, else the body in
 * the best content coding the client accepts (made once per entry), with every caching header.
 * HEAD gets the headers only. The body bytes must live until the request is disposed. */
void hp_http_caching_send(hp_http_caching_t *c, h2o_req_t *req,
                          const hp_http_representation_t *rep);

#endif
