#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include "ratelimit/store.h"

#define BUCKET_SLOTS 8
#define SHARDS 64

typedef struct {
    uint64_t key; /* 0: empty */
    uint64_t tat_ns;
} slot_t;

typedef struct {
    slot_t slots[BUCKET_SLOTS];
} bucket_t;

/* A shard on cache lines of its own, so loops locking different shards never share one. */
typedef struct {
    alignas(64) pthread_mutex_t lock;
    bucket_t *buckets;
    size_t bucket_mask;
} shard_t;

typedef struct {
    hp_ratelimit_store_t super;
    shard_t shards[SHARDS];
    size_t capacity;
    _Atomic uint64_t evicted_live;
} local_store_t;

/* The key's slot in its bucket: its own, else an empty or expired one, else the live key
 * closest to expiry (*is_evicting set). */
static slot_t *find_slot(bucket_t *b, uint64_t key, uint64_t now_ns, int *is_evicting)
{
    slot_t *free_slot = NULL, *oldest = &b->slots[0];
    *is_evicting = 0;
    for (size_t i = 0; i != BUCKET_SLOTS; ++i) {
        slot_t *s = &b->slots[i];
        if (s->key == key)
            return s;
        if (free_slot == NULL && (s->key == 0 || s->tat_ns <= now_ns))
            free_slot = s;
        if (s->tat_ns < oldest->tat_ns)
            oldest = s;
    }
    if (free_slot != NULL) {
        free_slot->key = 0;
        return free_slot;
    }
    *is_evicting = 1;
    return oldest;
}

static int local_decide(hp_ratelimit_store_t *super, uint64_t key, const hp_gcra_t *g,
                        uint64_t now_ns, int is_dry_run, hp_gcra_decision_t *out)
{
    local_store_t *s = (local_store_t *)super;
    /* The low bits pick the shard, the next ones the bucket. */
    shard_t *shard = &s->shards[key & (SHARDS - 1)];
    pthread_mutex_lock(&shard->lock);
    bucket_t *b = &shard->buckets[(key / SHARDS) & shard->bucket_mask];
    int is_evicting;
    slot_t *slot = find_slot(b, key, now_ns, &is_evicting);
    uint64_t tat = slot->key == key ? slot->tat_ns : 0;
    uint64_t next = hp_gcra_decide(g, tat, now_ns, out);
    if (!is_dry_run && out->is_allowed) {
        if (is_evicting && slot->key != key)
            atomic_fetch_add_explicit(&s->evicted_live, 1, memory_order_relaxed);
        slot->key = key;
        slot->tat_ns = next;
    }
    pthread_mutex_unlock(&shard->lock);
    return 0;
}

static void local_destroy(hp_ratelimit_store_t *super)
{
    local_store_t *s = (local_store_t *)super;
    for (size_t i = 0; i != SHARDS; ++i) {
        pthread_mutex_destroy(&s->shards[i].lock);
        free(s->shards[i].buckets);
    }
    free(s);
}

static const hp_ratelimit_store_ops_t local_ops = {local_decide, local_destroy};

hp_ratelimit_store_t *hp_ratelimit_store_local_create(size_t max_keys)
{
    local_store_t *s = aligned_alloc(alignof(local_store_t), sizeof(local_store_t));
    if (s == NULL)
        return NULL;
    *s = (local_store_t){.super = {&local_ops}};
    size_t per_shard = (max_keys + SHARDS - 1) / SHARDS, buckets = 1;
    while (buckets * BUCKET_SLOTS < per_shard)
        buckets *= 2;
    for (size_t i = 0; i != SHARDS; ++i) {
        pthread_mutex_init(&s->shards[i].lock, NULL);
        s->shards[i].bucket_mask = buckets - 1;
        if ((s->shards[i].buckets = calloc(buckets, sizeof(bucket_t))) == NULL) {
            for (size_t j = i + 1; j != SHARDS; ++j)
                pthread_mutex_init(&s->shards[j].lock, NULL);
            local_destroy(&s->super);
            return NULL;
        }
    }
    s->capacity = SHARDS * buckets * BUCKET_SLOTS;
    return &s->super;
}

void hp_ratelimit_store_local_stats(hp_ratelimit_store_t *super, hp_ratelimit_store_stats_t *out)
{
    local_store_t *s = (local_store_t *)super;
    out->capacity = s->capacity;
    out->evicted_live = atomic_load_explicit(&s->evicted_live, memory_order_relaxed);
}
