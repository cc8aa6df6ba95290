/*
 * The response cache (L1, in process): whole GET responses keyed by the normalized request,
 * bounded in bytes, shared by every event-loop thread, never stale after a write.
 *
 * Threads: every function may be called from any thread. The table is split into shards,
 * each with its own lock, so threads do not serialize on one lock; a hit takes one shard lock
 * for a hash probe and a reference-count increment, nothing else. No function calls back into
 * the caller while it holds a lock (waiter callbacks run after the shard lock is released).
 *
 * Entries are immutable once published and reference-counted: a hit returns a reference
 * (hp_cache_entry_unref when done), so eviction never frees bytes a response still sends.
 * The cache holds one reference of its own on each entry it stores (a "resident" entry).
 * Eviction and invalidation drop that reference and take the entry's bytes out of the
 * accounting at once; an entry still referenced by a response in flight stays alive, outside
 * the bound, until its last unref. So max_bytes bounds what the cache keeps, not what
 * responses in flight hold (that is bounded by the requests in flight).
 * The only thing added to a published entry later is a compressed variant of its body
 * (hp_cache_entry_set_variant), made once on first demand and published with an atomic
 * compare-and-swap.
 *
 * Eviction is SIEVE (one FIFO queue per shard, a visited bit, a hand): a hit only sets the bit,
 * under the shard lock it already holds; a one-off scan of new keys passes through without
 * pushing the hot set out as it would with LRU. docs/cache.md has the measurements.
 *
 * Invalidation is by version, not by scanning: every table has a version counter (a slot in
 * a fixed array, chosen by hashing the table's name; two tables sharing a slot only cost an
 * extra miss), and one epoch covers everything. An entry records the versions of every table
 * its response read (the table and each embedded one), and the epoch, as they were before its
 * query started; it is valid while all of them are unchanged. hp_cache_bump_table (after a
 * write to a table) and hp_cache_bump_all (after a write by another program, or a schema
 * reload) are O(1) and lock-free, so a write invalidates before its response is sent. A
 * stale-by-version entry is never served, not even as stale-while-revalidate or stale-if-error;
 * it is freed from its shard when a lookup or the eviction hand meets it.
 *
 * Single-flight: hp_cache_lookup on a miss makes the caller the leader for that key and records
 * later callers as waiters; the leader fills the entry (hp_cache_publish) or gives up
 * (hp_cache_abandon), and each waiter's callback is called with the result, on the leader's
 * thread, after the shard lock is released (the callback forwards to the waiter's own loop).
 * A leader must always do one of the two (hang the duty on its request's pool with a dispose
 * callback that abandons), or its waiters wait forever.
 */
#ifndef HP_CACHE_CACHE_H
#define HP_CACHE_CACHE_H

#include <stddef.h>
#include <stdint.h>

/* Variants: an entry holds its identity body plus at most one body per content coding. A
 * coding is an index below HP_CACHE_ENCODINGS, 0 being identity: the values of hp_encoding_t in
 * compress/compress.h, which owns the enum (the cache does not include it, so that neither
 * module depends on the other; tests/unit/test_cache.c asserts that the two agree). */
#define HP_CACHE_ENCODINGS 4
#define HP_CACHE_IDENTITY 0

/* Table version slots; a power of two. */
#define HP_CACHE_TABLE_SLOTS 1024
/* Most tables one entry can depend on (a response reading more is not stored). */
#define HP_CACHE_MAX_TABLES 16
/* Shards used when hp_cache_options_t.shards is 0, and the most allowed. */
#define HP_CACHE_DEFAULT_SHARDS 64
#define HP_CACHE_MAX_SHARDS 4096

typedef struct {
    /* Bound on the bytes held: bodies, variants, headers, keys, table versions and a fixed
     * per-entry overhead (the entry struct and its hash-table slot). Each shard may hold
     * max_bytes / shards; an entry bigger than that is never stored. */
    size_t max_bytes;
    unsigned shards; /* rounded up to a power of two, at most HP_CACHE_MAX_SHARDS; 0 picks 64 */
    /* The key hash; NULL picks xxh3 (64 bits). Tests set it to force collisions. */
    uint64_t (*hash)(const void *key, size_t len);
} hp_cache_options_t;

/* A body (identity or compressed): immutable, reference-counted through its entry. */
typedef struct {
    const char *base;
    size_t len;
} hp_cache_bytes_t;

/* One response header kept with the entry. */
typedef struct {
    const char *name; /* lowercase */
    size_t name_len;
    const char *value;
    size_t value_len;
} hp_cache_header_t;

/* What a leader hands to hp_cache_publish; everything is copied into the entry (the fill and
 * what it points to are borrowed for the call only). */
typedef struct {
    int status;
    const hp_cache_header_t *headers;
    size_t header_count;
    const char *body;
    size_t body_len;
    uint64_t now_ms;         /* the time of publishing (CLOCK_REALTIME ms): becomes created_ms */
    uint64_t fresh_until_ms; /* serve as fresh until this time (CLOCK_REALTIME ms) */
    uint64_t stale_until_ms; /* then serve stale (while revalidating) until this time */
    uint64_t error_until_ms; /* and serve stale instead of a database error until this time */
    uint64_t last_modified_ms;
    const uint32_t *table_slots;    /* the tables the response read (hp_cache_table_slot) */
    size_t table_count;             /* more than HP_CACHE_MAX_TABLES: handed out, not stored */
    const uint64_t *table_versions; /* their versions as read by hp_cache_table_versions()
                                       BEFORE the query started (before its read snapshot) */
    uint64_t epoch;                 /* what that same hp_cache_table_versions() call returned */
} hp_cache_fill_t;

/* A published entry; all fields read-only. */
typedef struct st_hp_cache_entry_t {
    int status;
    const hp_cache_header_t *headers;
    size_t header_count;
    hp_cache_bytes_t body; /* identity */
    uint64_t etag;         /* xxh3 of the identity body: the strong ETag is its hex */
    uint64_t fresh_until_ms, stale_until_ms, error_until_ms, last_modified_ms;
    uint64_t created_ms;
    int is_stored; /* hp_cache_publish kept it (it may have been evicted since); set before
                      publish returns, never changed after */
} hp_cache_entry_t;

typedef struct st_hp_cache_t hp_cache_t;

/* A request waiting on another's fill of the same key (single-flight). The waiter's memory is
 * the caller's; it must stay valid until its callback ran (the cache does not touch it after
 * calling cb, so cb may free it). `entry` is a new reference the callback owns, or NULL when
 * the leader abandoned, could not allocate, or published a response that a write raced and
 * that write was already visible when this waiter arrived. On NULL the waiter is not a leader:
 * it looks the key up again (and may lead) or queries without the cache. */
typedef struct st_hp_cache_waiter_t hp_cache_waiter_t;
struct st_hp_cache_waiter_t {
    void (*cb)(hp_cache_waiter_t *waiter, hp_cache_entry_t *entry);
    hp_cache_waiter_t *_next; /* private to the cache */
    uint64_t _seq;            /* private to the cache: the bump sequence when it joined */
};

typedef enum {
    HP_CACHE_HIT,  /* *entry is set (fresh, or stale within its windows: check the times) */
    HP_CACHE_LEAD, /* a miss: the caller must hp_cache_publish or hp_cache_abandon the key */
    HP_CACHE_WAIT, /* a miss being filled by another request: the waiter's callback will run */
} hp_cache_result_t;

/* --- lifecycle --- */

/* Returns NULL when out of memory. opts is borrowed. */
hp_cache_t *hp_cache_create(const hp_cache_options_t *opts);
/* Drops the cache's reference on every entry (entries a response still holds live on until
 * their last unref, which does not touch the cache) and frees the rest. Call when no thread
 * uses the cache any more and no fill is pending (pending waiters are dropped uncalled). */
void hp_cache_destroy(hp_cache_t *cache);

/* --- table versions --- */

/* The version slot of a table name (a hash; needs no cache). */
uint32_t hp_cache_table_slot(const char *name, size_t len);
/* Reads the current versions of `count` slots into out and returns the epoch: both go into
 * the hp_cache_fill_t. Call before the query starts (before it takes its read snapshot). */
uint64_t hp_cache_table_versions(hp_cache_t *cache, const uint32_t *slots, size_t count,
                                 uint64_t *out);
/* Invalidates every entry that read the table. Call once the write is visible to every query
 * that starts later (after COMMIT, and after the database layer's snapshot generation moved, so
 * no reused read snapshot predates it), and before the write's response is sent. Lock-free. */
void hp_cache_bump_table(hp_cache_t *cache, uint32_t slot);
/* Invalidates every entry (a schema reload, or a write by another program: call it once reused
 * read snapshots can no longer predate that write). Lock-free. */
void hp_cache_bump_all(hp_cache_t *cache);

/* --- lookup and fill --- */

/* Looks `key` up at time now_ms (CLOCK_REALTIME ms). Entries whose table versions changed are
 * never returned. Outcomes:
 *   HIT, entry fresh (now < fresh_until): serve it.
 *   HIT, entry stale (fresh_until <= now < stale_until): serve it; when *should_revalidate
 *     is 1 the caller is also the leader of a background refresh of the key and must
 *     hp_cache_publish or hp_cache_abandon it (one caller per stale entry gets that, until
 *     that refresh publishes or abandons).
 *   LEAD: no entry to serve; the caller queries and then publishes or abandons. *entry may
 *     still be set to an expired entry inside its error window (now < error_until): serve it
 *     if the query fails (stale-if-error), else unref it.
 *   WAIT: another request is filling the key; waiter->cb will run (only when waiter != NULL;
 *     with waiter NULL the caller gets LEAD and queries too, see hp_cache_publish). *entry as
 *     for LEAD.
 * *entry is always a new reference or NULL. should_revalidate may be NULL: that caller never
 * leads a refresh. The key is borrowed. */
hp_cache_result_t hp_cache_lookup(hp_cache_t *cache, const void *key, size_t key_len,
                                  uint64_t now_ms, hp_cache_waiter_t *waiter,
                                  hp_cache_entry_t **entry, int *should_revalidate);
/* Publishes the leader's response for key (copying fill) and wakes the waiters with it.
 * Not stored (waiters may still get it) when it is over a shard's share of the byte bound or
 * reads more than HP_CACHE_MAX_TABLES tables (counted as rejected), or when any table version
 * or the epoch changed since fill->table_versions were read (a write raced the query; counted
 * as invalidated): then only waiters that arrived before any bump get it, the others get NULL.
 * A stored entry replaces the key's previous one. Returns a new reference to the entry for the
 * leader's own response, or NULL when out of memory (waiters then get NULL). A second leader
 * of the same key (one that looked up with waiter NULL while a fill was in flight) wakes the
 * first one's waiters when it publishes (or abandons: with NULL); the first leader's publish
 * then finds no waiters and just stores, its abandon does nothing. */
hp_cache_entry_t *hp_cache_publish(hp_cache_t *cache, const void *key, size_t key_len,
                                   const hp_cache_fill_t *fill);
/* The leader could not fill (an error response, not cacheable): waiters get NULL. A stale
 * entry stays, and the next lookup in its stale window may lead a refresh again. */
void hp_cache_abandon(hp_cache_t *cache, const void *key, size_t key_len);

/* --- entries --- */

void hp_cache_entry_ref(hp_cache_entry_t *entry);
/* Frees the entry when this was its last reference; NULL is ignored. */
void hp_cache_entry_unref(hp_cache_entry_t *entry);
/* The compressed variant, or {NULL, 0} when not made yet; HP_CACHE_IDENTITY gives the body. The
 * bytes live as long as the caller's reference on the entry. An encoding >= HP_CACHE_ENCODINGS is
 * treated as identity. */
hp_cache_bytes_t hp_cache_entry_variant(hp_cache_entry_t *entry, unsigned encoding);
/* Offers a compressed variant. If the entry holds one already (another thread was first),
 * returns that one and ignores `bytes`. Else, when the entry is resident and entry plus variant
 * fit its shard's share, copies bytes into the entry (evicting others as needed; counted in
 * the bound) and returns the copy, which lives as long as the entry. Else (the entry was
 * evicted, invalidated or never stored, it would not fit, or out of memory) keeps nothing and
 * returns {bytes, len} itself: the caller's own buffer, which it keeps alive while it sends
 * (a request-pool buffer does). HP_CACHE_IDENTITY (or >= HP_CACHE_ENCODINGS) returns the body
 * and ignores bytes. */
hp_cache_bytes_t hp_cache_entry_set_variant(hp_cache_t *cache, hp_cache_entry_t *entry,
                                            unsigned encoding, const char *bytes, size_t len);

/* --- accounting (for metrics and tests) --- */

/* Lookups = hits + stale_hits + misses (LEAD) + waits (WAIT). publishes counts every publish;
 * of those, rejected were too big or read too many tables. evictions are entries the SIEVE
 * hand removed to make room; invalidated are entries dropped (or publishes refused) because a
 * version moved; expired are entries dropped by a lookup after all their windows ended.
 * bytes and entries are what is resident now (bytes <= max_bytes always). */
typedef struct {
    uint64_t hits, stale_hits, misses, waits, publishes, evictions, invalidated, rejected, expired;
    size_t bytes, entries;
} hp_cache_stats_t;

/* Sums the per-shard counters, taking each shard's lock in turn (never all at once). */
void hp_cache_stats(hp_cache_t *cache, hp_cache_stats_t *out);

#endif
