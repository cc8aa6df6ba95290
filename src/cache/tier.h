/*
 * A cache tier: what the request pipeline's cache step talks to. The pipeline holds one tier
 * (the top of a chain) and never knows what is behind it; today's in-process cache (cache.h)
 * is the first tier (hp_cache_tier_l1). A shared tier (Redis) is added by writing a tier whose
 * lookup asks L1 first and itself on a miss (answering asynchronously through the waiter, as
 * single-flight already does), whose publish fills both, and whose invalidation bumps both:
 * the pipeline stays as it is.
 *
 * Entries are always L1's (hp_cache_entry_t): a lower tier hands back what it found as an L1
 * entry, so compressed variants (hp_cache_entry_set_variant on the L1 cache) work the same
 * whichever tier answered. Every operation has the contract of its namesake in cache.h, and
 * may be called from any thread.
 */
#ifndef HP_CACHE_TIER_H
#define HP_CACHE_TIER_H

#include "cache/cache.h"

typedef struct st_hp_cache_tier_t hp_cache_tier_t;

typedef struct {
    /* hp_cache_lookup: HIT, LEAD or WAIT (the waiter's callback runs later, on any thread). */
    hp_cache_result_t (*lookup)(hp_cache_tier_t *tier, const void *key, size_t key_len,
                                uint64_t now_ms, hp_cache_waiter_t *waiter,
                                hp_cache_entry_t **entry, int *should_revalidate);
    /* hp_cache_publish / hp_cache_abandon: the leader's duty after a LEAD. */
    hp_cache_entry_t *(*publish)(hp_cache_tier_t *tier, const void *key, size_t key_len,
                                 const hp_cache_fill_t *fill);
    void (*abandon)(hp_cache_tier_t *tier, const void *key, size_t key_len);
    /* hp_cache_table_versions: read before a fill's query starts. */
    uint64_t (*versions)(hp_cache_tier_t *tier, const uint32_t *slots, size_t count, uint64_t *out);
    /* hp_cache_bump_table / hp_cache_bump_all: after a write, before its response. */
    void (*invalidate_table)(hp_cache_tier_t *tier, uint32_t slot);
    void (*invalidate_all)(hp_cache_tier_t *tier);
} hp_cache_tier_ops_t;

struct st_hp_cache_tier_t {
    const hp_cache_tier_ops_t *ops;
    hp_cache_t *l1; /* the in-process cache entries live in (variants are made there) */
    void *state;    /* the tier's own */
};

/* The in-process cache as a tier. `out` is the caller's storage; cache is borrowed. */
void hp_cache_tier_init_l1(hp_cache_tier_t *out, hp_cache_t *cache);

static inline hp_cache_result_t
hp_cache_tier_lookup(hp_cache_tier_t *t, const void *key, size_t key_len, uint64_t now_ms,
                     hp_cache_waiter_t *waiter, hp_cache_entry_t **entry, int *should_revalidate)
{
    return t->ops->lookup(t, key, key_len, now_ms, waiter, entry, should_revalidate);
}

static inline hp_cache_entry_t *hp_cache_tier_publish(hp_cache_tier_t *t, const void *key,
                                                      size_t key_len, const hp_cache_fill_t *fill)
{
    return t->ops->publish(t, key, key_len, fill);
}

static inline void hp_cache_tier_abandon(hp_cache_tier_t *t, const void *key, size_t key_len)
{
    t->ops->abandon(t, key, key_len);
}

static inline uint64_t hp_cache_tier_versions(hp_cache_tier_t *t, const uint32_t *slots,
                                              size_t count, uint64_t *out)
{
    return t->ops->versions(t, slots, count, out);
}

#endif
