/* The response cache: shards, version counters, lookup with single-flight, publish, stats.
 * The design and its measurements are in docs/cache.md. */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include "cache/cache_internal.h"

/* Initial bucket counts; tables double as they fill. Pending fills are few per shard. */
#define ENTRY_BUCKETS 16
#define PENDING_BUCKETS 8

static uint64_t hash_xxh3(const void *key, size_t len)
{
    return XXH3_64bits(key, len);
}

/* --- lifecycle --- */

static void dispose_shard(hp_cache__shard_t *shard)
{
    hp_cache__entry_t *e = shard->head;
    while (e != NULL) {
        hp_cache__entry_t *next = e->qnext;
        e->is_resident = 0;
        hp_cache_entry_unref(&e->pub);
        e = next;
    }
    if (shard->pendings.buckets != NULL) {
        for (size_t i = 0; i <= shard->pendings.mask; i++) {
            hp_cache__node_t *n = shard->pendings.buckets[i];
            while (n != NULL) {
                hp_cache__node_t *next = n->next;
                free((char *)n - offsetof(hp_cache__pending_t, node));
                n = next;
            }
        }
    }
    hp_cache__table_dispose(&shard->entries);
    hp_cache__table_dispose(&shard->pendings);
    hp_cache__lock_dispose(&shard->lock);
}

static int init_shard(hp_cache__shard_t *shard, size_t cap)
{
    shard->cap = cap;
    if (hp_cache__lock_init(&shard->lock) != 0)
        return -1;
    if (hp_cache__table_init(&shard->entries, ENTRY_BUCKETS) != 0 ||
        hp_cache__table_init(&shard->pendings, PENDING_BUCKETS) != 0) {
        hp_cache__table_dispose(&shard->entries);
        hp_cache__table_dispose(&shard->pendings);
        hp_cache__lock_dispose(&shard->lock);
        return -1;
    }
    return 0;
}

hp_cache_t *hp_cache_create(const hp_cache_options_t *opts)
{
    unsigned want = opts->shards != 0 ? opts->shards : HP_CACHE_DEFAULT_SHARDS, n = 1;
    if (want > HP_CACHE_MAX_SHARDS)
        want = HP_CACHE_MAX_SHARDS;
    while (n < want)
        n *= 2;

    /* aligned_alloc wants a size that is a multiple of the alignment; both structs are
     * 64-aligned, so their sizes are. */
    hp_cache_t *cache = aligned_alloc(alignof(hp_cache_t), sizeof(hp_cache_t));
    if (cache == NULL)
        return NULL;
    memset(cache, 0, sizeof(*cache));
    cache->shards = aligned_alloc(alignof(hp_cache__shard_t), n * sizeof(hp_cache__shard_t));
    if (cache->shards == NULL) {
        free(cache);
        return NULL;
    }
    memset(cache->shards, 0, n * sizeof(hp_cache__shard_t));
    cache->shard_mask = n - 1;
    cache->hash = opts->hash != NULL ? opts->hash : hash_xxh3;
    atomic_init(&cache->seq, 0);
    atomic_init(&cache->epoch, 0);
    for (size_t i = 0; i < HP_CACHE_TABLE_SLOTS; i++)
        atomic_init(&cache->versions[i], 0);
    for (unsigned i = 0; i < n; i++) {
        if (init_shard(&cache->shards[i], opts->max_bytes / n) != 0) {
            while (i-- > 0)
                dispose_shard(&cache->shards[i]);
            free(cache->shards);
            free(cache);
            return NULL;
        }
    }
    return cache;
}

void hp_cache_destroy(hp_cache_t *cache)
{
    if (cache == NULL)
        return;
    for (uint32_t i = 0; i <= cache->shard_mask; i++)
        dispose_shard(&cache->shards[i]);
    free(cache->shards);
    free(cache);
}

/* --- table versions --- */

uint32_t hp_cache_table_slot(const char *name, size_t len)
{
    return (uint32_t)(XXH3_64bits(name, len) & (HP_CACHE_TABLE_SLOTS - 1));
}

uint64_t hp_cache_table_versions(hp_cache_t *cache, const uint32_t *slots, size_t count,
                                 uint64_t *out)
{
    for (size_t i = 0; i < count; i++)
        out[i] = atomic_load_explicit(&cache->versions[slots[i] & (HP_CACHE_TABLE_SLOTS - 1)],
                                      memory_order_acquire);
    return atomic_load_explicit(&cache->epoch, memory_order_acquire);
}

/* Raises *v to s unless a later bump already raised it further: versions never go back. */
static void store_max(_Atomic uint64_t *v, uint64_t s)
{
    uint64_t cur = atomic_load_explicit(v, memory_order_relaxed);
    while (cur < s && !atomic_compare_exchange_weak(v, &cur, s))
        ;
}

void hp_cache_bump_table(hp_cache_t *cache, uint32_t slot)
{
    store_max(&cache->versions[slot & (HP_CACHE_TABLE_SLOTS - 1)],
              atomic_fetch_add(&cache->seq, 1) + 1);
}

void hp_cache_bump_all(hp_cache_t *cache)
{
    store_max(&cache->epoch, atomic_fetch_add(&cache->seq, 1) + 1);
}

/* --- shards --- */

void hp_cache__shard_detach(hp_cache__shard_t *shard, hp_cache__entry_t *e,
                            hp_cache__entry_t **dead)
{
    hp_cache__table_remove(&shard->entries, &e->node);
    hp_cache__sieve_unlink(shard, e);
    shard->bytes -= e->charge;
    e->is_resident = 0;
    e->node.next = *dead != NULL ? &(*dead)->node : NULL;
    *dead = e;
}

void hp_cache__release_dead(hp_cache__entry_t *dead)
{
    while (dead != NULL) {
        hp_cache__node_t *next = dead->node.next;
        hp_cache_entry_unref(&dead->pub);
        dead = next != NULL ? hp_cache__entry_of_node(next) : NULL;
    }
}

static hp_cache__entry_t *find_entry(hp_cache__shard_t *shard, uint64_t hash, const void *key,
                                     size_t key_len)
{
    hp_cache__node_t *n = hp_cache__table_find(&shard->entries, hash, key, key_len);
    return n != NULL ? hp_cache__entry_of_node(n) : NULL;
}

static hp_cache__pending_t *find_pending(hp_cache__shard_t *shard, uint64_t hash, const void *key,
                                         size_t key_len)
{
    hp_cache__node_t *n = hp_cache__table_find(&shard->pendings, hash, key, key_len);
    return n != NULL ? (hp_cache__pending_t *)((char *)n - offsetof(hp_cache__pending_t, node))
                     : NULL;
}

/* Records a fill in flight for key (under the shard lock). NULL when out of memory: the
 * caller still leads, its fill is just not shared. */
static hp_cache__pending_t *add_pending(hp_cache_t *cache, hp_cache__shard_t *shard, uint64_t hash,
                                        const void *key, size_t key_len)
{
    hp_cache__pending_t *p = malloc(sizeof(*p) + key_len);
    if (p == NULL)
        return NULL;
    if (key_len != 0)
        memcpy(p->key, key, key_len);
    p->node.hash = hash;
    p->node.key = p->key;
    p->node.key_len = key_len;
    p->seq = atomic_load_explicit(&cache->seq, memory_order_acquire);
    p->waiters = NULL;
    p->waiters_tail = &p->waiters;
    hp_cache__table_insert(&shard->pendings, &p->node);
    return p;
}

/* Calls every waiter of a finished fill (without the lock) and frees the record. When the
 * entry was raced by a write, only waiters that joined before any bump get it. */
static void wake_waiters(hp_cache__pending_t *p, hp_cache__entry_t *e, int is_raced)
{
    hp_cache_waiter_t *w = p->waiters;
    while (w != NULL) {
        hp_cache_waiter_t *next = w->_next; /* cb may free w */
        hp_cache_entry_t *give = NULL;
        if (e != NULL && (!is_raced || w->_seq == p->seq)) {
            hp_cache_entry_ref(&e->pub);
            give = &e->pub;
        }
        w->cb(w, give);
        w = next;
    }
    free(p);
}

/* --- lookup and fill --- */

hp_cache_result_t hp_cache_lookup(hp_cache_t *cache, const void *key, size_t key_len,
                                  uint64_t now_ms, hp_cache_waiter_t *waiter,
                                  hp_cache_entry_t **entry, int *should_revalidate)
{
    uint64_t hash = cache->hash(key, key_len);
    hp_cache__shard_t *shard = hp_cache__shard_of(cache, hash);
    hp_cache__entry_t *dead = NULL;
    hp_cache_result_t result;
    *entry = NULL;
    if (should_revalidate != NULL)
        *should_revalidate = 0;

    hp_cache__lock(&shard->lock);
    hp_cache__entry_t *e = find_entry(shard, hash, key, key_len);
    if (e != NULL && !hp_cache__is_current(cache, e)) {
        shard->counters.invalidated++;
        hp_cache__shard_detach(shard, e, &dead);
        e = NULL;
    }
    if (e != NULL) {
        if (now_ms < e->pub.fresh_until_ms || now_ms < e->pub.stale_until_ms) {
            atomic_fetch_add_explicit(&e->refcount, 1, memory_order_relaxed);
            e->visited = 1;
            *entry = &e->pub;
            if (now_ms < e->pub.fresh_until_ms) {
                shard->counters.hits++;
            } else {
                shard->counters.stale_hits++;
                if (should_revalidate != NULL && find_pending(shard, hash, key, key_len) == NULL &&
                    add_pending(cache, shard, hash, key, key_len) != NULL)
                    *should_revalidate = 1;
            }
            hp_cache__unlock(&shard->lock);
            return HP_CACHE_HIT;
        }
        if (now_ms < e->pub.error_until_ms) {
            /* Past stale: not served unless the query fails (stale-if-error). */
            atomic_fetch_add_explicit(&e->refcount, 1, memory_order_relaxed);
            *entry = &e->pub;
        } else {
            shard->counters.expired++;
            hp_cache__shard_detach(shard, e, &dead);
        }
    }
    hp_cache__pending_t *p = find_pending(shard, hash, key, key_len);
    if (p != NULL && waiter != NULL) {
        waiter->_next = NULL;
        waiter->_seq = atomic_load_explicit(&cache->seq, memory_order_acquire);
        *p->waiters_tail = waiter;
        p->waiters_tail = &waiter->_next;
        shard->counters.waits++;
        result = HP_CACHE_WAIT;
    } else {
        if (p == NULL)
            add_pending(cache, shard, hash, key, key_len);
        shard->counters.misses++;
        result = HP_CACHE_LEAD;
    }
    hp_cache__unlock(&shard->lock);
    hp_cache__release_dead(dead);
    return result;
}

hp_cache_entry_t *hp_cache_publish(hp_cache_t *cache, const void *key, size_t key_len,
                                   const hp_cache_fill_t *fill)
{
    uint64_t hash = cache->hash(key, key_len);
    hp_cache__shard_t *shard = hp_cache__shard_of(cache, hash);
    hp_cache__entry_t *dead = NULL;
    /* Built (copies and ETag) before taking the lock. */
    hp_cache__entry_t *e = hp_cache__entry_create(key, key_len, hash, fill);
    int is_current = 0;

    hp_cache__lock(&shard->lock);
    shard->counters.publishes++;
    hp_cache__pending_t *p = find_pending(shard, hash, key, key_len);
    if (p != NULL)
        hp_cache__table_remove(&shard->pendings, &p->node);
    if (e != NULL) {
        /* Checked under the lock, after the pending record is gone: no waiter can join after
         * this check, so "current now" means no relevant bump preceded any waiter. */
        is_current = hp_cache__is_current(cache, e);
        if (fill->table_count > HP_CACHE_MAX_TABLES || e->charge > shard->cap) {
            shard->counters.rejected++;
        } else if (!is_current) {
            shard->counters.invalidated++;
        } else {
            hp_cache__entry_t *old = find_entry(shard, hash, key, key_len);
            uint8_t was_visited = 0;
            if (old != NULL) {
                was_visited = old->visited; /* a refreshed hot key stays hot */
                hp_cache__shard_detach(shard, old, &dead);
            }
            if (hp_cache__sieve_make_room(cache, shard, e->charge, NULL, &dead) == 0) {
                hp_cache__table_insert(&shard->entries, &e->node);
                hp_cache__sieve_insert(shard, e);
                e->visited = was_visited;
                e->is_resident = 1;
                e->pub.is_stored = 1;
                shard->bytes += e->charge;
                atomic_fetch_add_explicit(&e->refcount, 1, memory_order_relaxed);
            }
        }
    }
    hp_cache__unlock(&shard->lock);
    if (p != NULL)
        wake_waiters(p, e, !is_current);
    hp_cache__release_dead(dead);
    return e != NULL ? &e->pub : NULL;
}

void hp_cache_abandon(hp_cache_t *cache, const void *key, size_t key_len)
{
    uint64_t hash = cache->hash(key, key_len);
    hp_cache__shard_t *shard = hp_cache__shard_of(cache, hash);
    hp_cache__lock(&shard->lock);
    hp_cache__pending_t *p = find_pending(shard, hash, key, key_len);
    if (p != NULL)
        hp_cache__table_remove(&shard->pendings, &p->node);
    hp_cache__unlock(&shard->lock);
    if (p != NULL)
        wake_waiters(p, NULL, 0);
}

/* --- accounting --- */

void hp_cache_stats(hp_cache_t *cache, hp_cache_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    for (uint32_t i = 0; i <= cache->shard_mask; i++) {
        hp_cache__shard_t *shard = &cache->shards[i];
        hp_cache__lock(&shard->lock);
        const hp_cache__counters_t *c = &shard->counters;
        out->hits += c->hits;
        out->stale_hits += c->stale_hits;
        out->misses += c->misses;
        out->waits += c->waits;
        out->publishes += c->publishes;
        out->evictions += c->evictions;
        out->invalidated += c->invalidated;
        out->rejected += c->rejected;
        out->expired += c->expired;
        out->bytes += shard->bytes;
        out->entries += shard->entries.count;
        hp_cache__unlock(&shard->lock);
    }
}
