/* The in-process cache (cache.h) as the first cache tier (tier.h): each operation is its
 * namesake. */
#include "cache/tier.h"

static hp_cache_result_t l1_lookup(hp_cache_tier_t *t, const void *key, size_t key_len,
                                   uint64_t now_ms, hp_cache_waiter_t *waiter,
                                   hp_cache_entry_t **entry, int *should_revalidate)
{
    return hp_cache_lookup(t->l1, key, key_len, now_ms, waiter, entry, should_revalidate);
}

static hp_cache_entry_t *l1_publish(hp_cache_tier_t *t, const void *key, size_t key_len,
                                    const hp_cache_fill_t *fill)
{
    return hp_cache_publish(t->l1, key, key_len, fill);
}

static void l1_abandon(hp_cache_tier_t *t, const void *key, size_t key_len)
{
    hp_cache_abandon(t->l1, key, key_len);
}

static uint64_t l1_versions(hp_cache_tier_t *t, const uint32_t *slots, size_t count, uint64_t *out)
{
    return hp_cache_table_versions(t->l1, slots, count, out);
}

static void l1_invalidate_table(hp_cache_tier_t *t, uint32_t slot)
{
    hp_cache_bump_table(t->l1, slot);
}

static void l1_invalidate_all(hp_cache_tier_t *t)
{
    hp_cache_bump_all(t->l1);
}

static const hp_cache_tier_ops_t l1_ops = {
    .lookup = l1_lookup,
    .publish = l1_publish,
    .abandon = l1_abandon,
    .versions = l1_versions,
    .invalidate_table = l1_invalidate_table,
    .invalidate_all = l1_invalidate_all,
};

void hp_cache_tier_init_l1(hp_cache_tier_t *out, hp_cache_t *cache)
{
    *out = (hp_cache_tier_t){.ops = &l1_ops, .l1 = cache, .state = NULL};
}
