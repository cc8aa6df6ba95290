/* The cache's chained hash tables (one for entries, one for pending fills, per shard). Keys
 * are compared in full: two keys with the same 64-bit hash are still two keys. */
#include <stdlib.h>
#include <string.h>
#include "cache/cache_internal.h"

int hp_cache__table_init(hp_cache__table_t *t, size_t nbuckets)
{
    t->buckets = calloc(nbuckets, sizeof(*t->buckets));
    if (t->buckets == NULL)
        return -1;
    t->mask = nbuckets - 1;
    t->count = 0;
    return 0;
}

void hp_cache__table_dispose(hp_cache__table_t *t)
{
    free(t->buckets);
    t->buckets = NULL;
}

hp_cache__node_t *hp_cache__table_find(const hp_cache__table_t *t, uint64_t hash, const void *key,
                                       size_t key_len)
{
    for (hp_cache__node_t *n = t->buckets[hash & t->mask]; n != NULL; n = n->next)
        if (n->hash == hash && n->key_len == key_len && memcmp(n->key, key, key_len) == 0)
            return n;
    return NULL;
}

/* Doubles the bucket array. Runs under the shard lock; O(count), amortized over the inserts
 * that filled the table. On allocation failure the table keeps its size. */
static void grow(hp_cache__table_t *t)
{
    size_t nbuckets = (t->mask + 1) * 2;
    hp_cache__node_t **buckets = calloc(nbuckets, sizeof(*buckets));
    if (buckets == NULL)
        return;
    for (size_t i = 0; i <= t->mask; i++) {
        hp_cache__node_t *n = t->buckets[i];
        while (n != NULL) {
            hp_cache__node_t *next = n->next;
            size_t b = n->hash & (nbuckets - 1);
            n->next = buckets[b];
            buckets[b] = n;
            n = next;
        }
    }
    free(t->buckets);
    t->buckets = buckets;
    t->mask = nbuckets - 1;
}

void hp_cache__table_insert(hp_cache__table_t *t, hp_cache__node_t *node)
{
    if (t->count >= t->mask + 1)
        grow(t);
    hp_cache__node_t **b = &t->buckets[node->hash & t->mask];
    node->next = *b;
    *b = node;
    t->count++;
}

void hp_cache__table_remove(hp_cache__table_t *t, hp_cache__node_t *node)
{
    hp_cache__node_t **p = &t->buckets[node->hash & t->mask];
    while (*p != node)
        p = &(*p)->next;
    *p = node->next;
    node->next = NULL;
    t->count--;
}
