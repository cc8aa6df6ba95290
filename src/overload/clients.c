#include "overload/clients.h"

#include <h2o.h>
#include <stdatomic.h>
#include <stdlib.h>

#define CLIENT_SLOTS 4096 /* a power of two */

struct st_hp_overload_clients_t {
    unsigned max_jobs;
    _Atomic unsigned jobs[CLIENT_SLOTS];
};

hp_overload_clients_t *hp_overload_clients_create(unsigned max_jobs)
{
    if (max_jobs == 0)
        return NULL;
    hp_overload_clients_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        h2o_fatal("out of memory");
    c->max_jobs = max_jobs;
    return c;
}

void hp_overload_clients_destroy(hp_overload_clients_t *c)
{
    free(c);
}

static _Atomic unsigned *slot_of(hp_overload_clients_t *c, uint64_t client)
{
    /* The key is a hash already; fold its high bits in so a key with poor low bits spreads. */
    return &c->jobs[(client ^ (client >> 32)) & (CLIENT_SLOTS - 1)];
}

int hp_overload_clients_acquire(hp_overload_clients_t *c, uint64_t client)
{
    _Atomic unsigned *slot = slot_of(c, client);
    unsigned n = atomic_load_explicit(slot, memory_order_relaxed);
    do {
        if (n >= c->max_jobs)
            return -1;
    } while (!atomic_compare_exchange_weak_explicit(slot, &n, n + 1, memory_order_relaxed,
                                                    memory_order_relaxed));
    return 0;
}

void hp_overload_clients_release(hp_overload_clients_t *c, uint64_t client)
{
    atomic_fetch_sub_explicit(slot_of(c, client), 1, memory_order_relaxed);
}

unsigned hp_overload_clients_jobs(hp_overload_clients_t *c, uint64_t client)
{
    return atomic_load_explicit(slot_of(c, client), memory_order_relaxed);
}
