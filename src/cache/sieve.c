/*
 * SIEVE eviction (Zhang et al., NSDI'24), one queue per shard, in bytes.
 *
 * New entries go in at the head with their visited bit clear; a hit sets the bit (under the
 * shard lock the lookup holds anyway, so no extra atomic). To make room, the hand walks from
 * where it last stopped toward the head (wrapping to the tail): a visited entry has its bit
 * cleared and stays where it is, the first unvisited one is evicted and the hand stays at
 * its neighbour. Unlike LRU, a hit never moves an entry, and entries seen once (a scan) are
 * evicted the first time the hand reaches them, so they cannot push out the hot set.
 */
#include "cache/cache_internal.h"

void hp_cache__sieve_insert(hp_cache__shard_t *shard, hp_cache__entry_t *e)
{
    e->visited = 0;
    e->qprev = NULL;
    e->qnext = shard->head;
    if (shard->head != NULL)
        shard->head->qprev = e;
    shard->head = e;
    if (shard->tail == NULL)
        shard->tail = e;
}

void hp_cache__sieve_unlink(hp_cache__shard_t *shard, hp_cache__entry_t *e)
{
    if (shard->hand == e)
        shard->hand = e->qprev;
    if (e->qprev != NULL)
        e->qprev->qnext = e->qnext;
    else
        shard->head = e->qnext;
    if (e->qnext != NULL)
        e->qnext->qprev = e->qprev;
    else
        shard->tail = e->qprev;
    e->qprev = e->qnext = NULL;
}

int hp_cache__sieve_make_room(hp_cache_t *cache, hp_cache__shard_t *shard, size_t need,
                              const hp_cache__entry_t *keep, hp_cache__entry_t **dead)
{
    size_t kept = keep != NULL && keep->is_resident ? keep->charge : 0;
    if (need > shard->cap || need > shard->cap - kept)
        return -1;
    /* While it does not fit, bytes > cap - need >= kept: some entry other than keep is
     * resident, so the first lap clears its bit and the second finds it: the walk ends. */
    while (need > shard->cap - shard->bytes) {
        hp_cache__entry_t *p = shard->hand != NULL ? shard->hand : shard->tail;
        for (;;) {
            if (p != keep) {
                if (!hp_cache__is_current(cache, p)) {
                    shard->counters.invalidated++;
                    break;
                }
                if (!p->visited) {
                    shard->counters.evictions++;
                    break;
                }
                p->visited = 0;
            }
            p = p->qprev != NULL ? p->qprev : shard->tail;
        }
        shard->hand = p->qprev;
        hp_cache__shard_detach(shard, p, dead);
    }
    return 0;
}
