#include "http/affinity.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <xxhash.h>
#include "core/time.h"
#include "http/respond.h"

#define AFFINITY_SLOTS 4096 /* a power of two */

struct st_hp_http_affinity_t {
    unsigned window_ms;
    atomic_uint_fast64_t until_ms[AFFINITY_SLOTS];
};

hp_http_affinity_t *hp_http_affinity_create(unsigned window_ms)
{
    if (window_ms == 0)
        return NULL;
    hp_http_affinity_t *a = calloc(1, sizeof(*a));
    if (a == NULL)
        h2o_fatal("out of memory");
    a->window_ms = window_ms;
    return a;
}

void hp_http_affinity_destroy(hp_http_affinity_t *a)
{
    free(a);
}

uint64_t hp_http_affinity_client(h2o_req_t *req)
{
    uint64_t h = hp_http_peer_hash(req);
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (i != -1)
        h = XXH3_64bits_withSeed(req->headers.entries[i].value.base,
                                 req->headers.entries[i].value.len, h);
    return h;
}

void hp_http_affinity_wrote(hp_http_affinity_t *a, uint64_t client)
{
    if (a == NULL)
        return;
    uint64_t until = hp_time_mono_ns() / 1000000 + a->window_ms;
    atomic_store_explicit(&a->until_ms[client & (AFFINITY_SLOTS - 1)], until, memory_order_relaxed);
}

int hp_http_affinity_prefers_primary(hp_http_affinity_t *a, uint64_t client)
{
    if (a == NULL)
        return 0;
    uint64_t until =
        atomic_load_explicit(&a->until_ms[client & (AFFINITY_SLOTS - 1)], memory_order_relaxed);
    return until > hp_time_mono_ns() / 1000000;
}
