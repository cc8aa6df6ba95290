/*
 * Where rate-limit state lives: one TAT (gcra.h) per key, behind a small interface so the
 * state can be kept locally (this instance only: hp_ratelimit_store_local_create, the first
 * implementation) or, later, shared by several instances (a Redis store: one atomic script per
 * decision; when Redis cannot be reached it falls back to a local store and counts it).
 *
 * Keys are 64-bit hashes of (rule, client key), never 0; two clients colliding would share an
 * allowance, with odds of 2^-64 per pair.
 *
 * The local store is one fixed-capacity table in shards (a power of two), each guarded by its
 * own mutex held for a few dozen instructions, so every event loop can decide for any key
 * (the same client may arrive on any loop). A shard is an array of 8-entry buckets; a key
 * lives in one bucket. A new key takes an empty slot or one whose TAT is in the past (such a
 * key carries no state: forgetting it changes no decision); when every slot of its bucket
 * holds a live key, the one closest to expiry is forgotten (that client gets a fresh
 * allowance a little early; counted in evicted_live). Memory is bounded by the capacity,
 * fixed at creation.
 *
 * Threads: decide may be called from any thread. create/destroy: one owner, outside the loops.
 */
#ifndef HP_RATELIMIT_STORE_H
#define HP_RATELIMIT_STORE_H

#include <stddef.h>
#include <stdint.h>
#include "ratelimit/gcra.h"

typedef struct st_hp_ratelimit_store_t hp_ratelimit_store_t;

typedef struct {
    /* Decides a request for key at now_ns under g (gcra.h) and records the new TAT unless
     * is_dry_run. Returns 0; -1 when the store could not decide (a remote store that is down:
     * the caller falls back). */
    int (*decide)(hp_ratelimit_store_t *s, uint64_t key, const hp_gcra_t *g, uint64_t now_ns,
                  int is_dry_run, hp_gcra_decision_t *out);
    void (*destroy)(hp_ratelimit_store_t *s);
} hp_ratelimit_store_ops_t;

struct st_hp_ratelimit_store_t {
    const hp_ratelimit_store_ops_t *ops;
};

/* Figures of the local store (relaxed reads; any thread). */
typedef struct {
    size_t capacity;       /* slots */
    uint64_t evicted_live; /* live keys forgotten because their bucket was full */
} hp_ratelimit_store_stats_t;

static inline int hp_ratelimit_store_decide(hp_ratelimit_store_t *s, uint64_t key,
                                            const hp_gcra_t *g, uint64_t now_ns, int is_dry_run,
                                            hp_gcra_decision_t *out)
{
    return s->ops->decide(s, key, g, now_ns, is_dry_run, out);
}

static inline void hp_ratelimit_store_destroy(hp_ratelimit_store_t *s)
{
    if (s != NULL)
        s->ops->destroy(s);
}

/* A local store holding at least max_keys keys (rounded up to whole buckets and shards).
 * Returns NULL when out of memory. */
hp_ratelimit_store_t *hp_ratelimit_store_local_create(size_t max_keys);
/* The local store's figures; s must come from hp_ratelimit_store_local_create. */
void hp_ratelimit_store_local_stats(hp_ratelimit_store_t *s, hp_ratelimit_store_stats_t *out);

#endif
