/*
 * Internals of the response cache shared by its files (cache.c: lookup, publish and the
 * version counters; entry.c: building, reference counting and variants; table.c: the hash
 * tables; sieve.c: the eviction queue). Nothing outside src/cache includes this, except the
 * cache's own unit tests.
 *
 * Locking: every field of a shard, and the queue, table and accounting fields of the entries
 * resident in it (node, qprev, qnext, visited, is_resident, charge), are guarded by the
 * shard's lock. An entry's public part, key, versions and body never change after it is built.
 * Its refcount and variant pointers are atomics touched without the lock.
 */
#ifndef HP_CACHE_CACHE_INTERNAL_H
#define HP_CACHE_CACHE_INTERNAL_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "cache/cache.h"

/* The shard lock: a pthread mutex by default. bench/cache_bench.c measures both; build with
 * -DHP_CACHE_SPINLOCK to get a pthread spinlock instead (docs/cache.md says why not). */
#ifdef HP_CACHE_SPINLOCK
typedef pthread_spinlock_t hp_cache__lock_t;
static inline int hp_cache__lock_init(hp_cache__lock_t *l)
{
    return pthread_spin_init(l, PTHREAD_PROCESS_PRIVATE);
}
static inline void hp_cache__lock_dispose(hp_cache__lock_t *l)
{
    pthread_spin_destroy(l);
}
static inline void hp_cache__lock(hp_cache__lock_t *l)
{
    pthread_spin_lock(l);
}
static inline void hp_cache__unlock(hp_cache__lock_t *l)
{
    pthread_spin_unlock(l);
}
#else
typedef pthread_mutex_t hp_cache__lock_t;
static inline int hp_cache__lock_init(hp_cache__lock_t *l)
{
    return pthread_mutex_init(l, NULL);
}
static inline void hp_cache__lock_dispose(hp_cache__lock_t *l)
{
    pthread_mutex_destroy(l);
}
static inline void hp_cache__lock(hp_cache__lock_t *l)
{
    pthread_mutex_lock(l);
}
static inline void hp_cache__unlock(hp_cache__lock_t *l)
{
    pthread_mutex_unlock(l);
}
#endif

/* --- hash tables (table.c) --- */

/* A chained hash-table node embedded in what it indexes; the key bytes are not owned. */
typedef struct hp_cache__node {
    struct hp_cache__node *next;
    uint64_t hash;
    const char *key;
    size_t key_len;
} hp_cache__node_t;

/* Power-of-two bucket array indexed by the low bits of the hash; grows (doubling) when the
 * count passes the bucket count, never shrinks. */
typedef struct {
    hp_cache__node_t **buckets;
    size_t mask;
    size_t count;
} hp_cache__table_t;

/* Returns 0, or -1 when out of memory. nbuckets is a power of two. */
int hp_cache__table_init(hp_cache__table_t *t, size_t nbuckets);
/* Frees the bucket array only (the nodes belong to their owners). */
void hp_cache__table_dispose(hp_cache__table_t *t);
/* The node whose hash, length and key bytes all equal these, or NULL. */
hp_cache__node_t *hp_cache__table_find(const hp_cache__table_t *t, uint64_t hash, const void *key,
                                       size_t key_len);
/* Links node (its hash and key set; no equal key present). Growth failing only lengthens the
 * chains, so this cannot fail. */
void hp_cache__table_insert(hp_cache__table_t *t, hp_cache__node_t *node);
/* Unlinks node, which must be in t. */
void hp_cache__table_remove(hp_cache__table_t *t, hp_cache__node_t *node);

/* --- entries (entry.c) --- */

typedef struct {
    size_t len;
    char data[];
} hp_cache__variant_t;

/* Bytes charged for each entry besides its allocation: its share of the bucket array (at most
 * two pointers per entry, since the load factor stays between 1/2 and 1 once grown) and the
 * allocator's header. */
#define HP_CACHE__ENTRY_OVERHEAD (2 * sizeof(void *) + 16)
/* Bytes charged for a variant besides its length. */
#define HP_CACHE__VARIANT_OVERHEAD (sizeof(hp_cache__variant_t) + 16)

typedef struct hp_cache__entry {
    hp_cache_entry_t pub; /* first: a public pointer converts by a cast */
    atomic_size_t refcount;
    hp_cache__node_t node;         /* in the shard's entry table (while resident) */
    struct hp_cache__entry *qprev; /* SIEVE queue: toward the head (newer) */
    struct hp_cache__entry *qnext; /* toward the tail (older) */
    uint8_t visited;               /* SIEVE bit, set by a hit */
    uint8_t is_resident;           /* linked in the shard and counted in its bytes */
    size_t charge;                 /* bytes counted while resident, variants included */
    uint64_t epoch;
    size_t table_count;
    const uint32_t *slots;
    const uint64_t *versions;
    _Atomic(hp_cache__variant_t *) variants[HP_CACHE_ENCODINGS]; /* [IDENTITY] unused */
} hp_cache__entry_t;

static inline hp_cache__entry_t *hp_cache__entry_of(hp_cache_entry_t *pub)
{
    return (hp_cache__entry_t *)pub;
}

static inline hp_cache__entry_t *hp_cache__entry_of_node(hp_cache__node_t *node)
{
    return (hp_cache__entry_t *)((char *)node - offsetof(hp_cache__entry_t, node));
}

/* Copies key and fill into one allocation with refcount 1 (the caller's), computes the ETag
 * and the charge. Returns NULL when out of memory or when the sizes overflow. */
hp_cache__entry_t *hp_cache__entry_create(const void *key, size_t key_len, uint64_t hash,
                                          const hp_cache_fill_t *fill);
/* Frees the entry and its variants (its refcount reached 0). */
void hp_cache__entry_free(hp_cache__entry_t *e);

/* Process-wide count of entries allocated and not yet freed, for tests (relaxed). */
extern atomic_long hp_cache__entries_alive;

/* --- shards and the cache --- */

/* A fill in flight for one key: its leader is querying; waiters hang here until it ends. */
typedef struct {
    hp_cache__node_t node; /* in the shard's pending table; node.key points at key[] */
    uint64_t seq;          /* the cache's bump sequence when the fill started */
    hp_cache_waiter_t *waiters, **waiters_tail;
    char key[];
} hp_cache__pending_t;

typedef struct {
    uint64_t hits, stale_hits, misses, waits, publishes, evictions, invalidated, rejected, expired;
} hp_cache__counters_t;

typedef struct {
    alignas(64) hp_cache__lock_t lock; /* one cache line (or more) per shard: no false sharing */
    hp_cache__table_t entries;
    hp_cache__table_t pendings;
    hp_cache__entry_t *head, *tail, *hand; /* SIEVE queue: insert at head, hand moves to head */
    size_t bytes, cap;
    hp_cache__counters_t counters;
} hp_cache__shard_t;

struct st_hp_cache_t {
    hp_cache__shard_t *shards;
    uint32_t shard_mask;
    uint64_t (*hash)(const void *key, size_t len);
    /* Every bump takes a number from seq and stores it (monotonically) into its slot or into
     * epoch, so a version never repeats a value it had: no ABA. seq sits on its own line since
     * bumps write it while lookups read epoch and versions. */
    alignas(64) _Atomic uint64_t seq;
    alignas(64) _Atomic uint64_t epoch;
    _Atomic uint64_t versions[HP_CACHE_TABLE_SLOTS];
};

/* Whether the entry's epoch and table versions are all still current. */
static inline int hp_cache__is_current(hp_cache_t *cache, const hp_cache__entry_t *e)
{
    if (atomic_load_explicit(&cache->epoch, memory_order_acquire) != e->epoch)
        return 0;
    for (size_t i = 0; i < e->table_count; i++)
        if (atomic_load_explicit(&cache->versions[e->slots[i]], memory_order_acquire) !=
            e->versions[i])
            return 0;
    return 1;
}

static inline hp_cache__shard_t *hp_cache__shard_of(hp_cache_t *cache, uint64_t hash)
{
    return &cache->shards[(uint32_t)(hash >> 32) & cache->shard_mask];
}

/* Unlinks a resident entry from its shard's table and queue and takes it out of the bytes;
 * pushes it on *dead (linked through node.next) so that the caller drops the cache's
 * reference after unlocking: freeing a large body under the lock would stall the shard. */
void hp_cache__shard_detach(hp_cache__shard_t *shard, hp_cache__entry_t *e,
                            hp_cache__entry_t **dead);
/* Drops the cache's reference on each entry of a *dead list. Call without the lock. */
void hp_cache__release_dead(hp_cache__entry_t *dead);

/* --- SIEVE (sieve.c) --- */

/* Links e at the head of the queue (newest) with its visited bit clear. */
void hp_cache__sieve_insert(hp_cache__shard_t *shard, hp_cache__entry_t *e);
/* Unlinks e, moving the hand off it first. */
void hp_cache__sieve_unlink(hp_cache__shard_t *shard, hp_cache__entry_t *e);
/* Evicts (detaches onto *dead) until `need` more bytes fit under the shard's cap, never
 * touching `keep` (may be NULL). Entries the hand finds invalidated go first, whatever their
 * bit. Returns 0, or -1 when need cannot fit even with everything else gone (nothing is
 * evicted then). */
int hp_cache__sieve_make_room(hp_cache_t *cache, hp_cache__shard_t *shard, size_t need,
                              const hp_cache__entry_t *keep, hp_cache__entry_t **dead);

#endif
