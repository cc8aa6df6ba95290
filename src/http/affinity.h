/*
 * Read-your-writes with read replicas: after a client writes, its reads go to the primary for
 * db-primary-after-write-ms, so it never reads a replica that has not replayed its write yet.
 * A client is its peer address plus its Authorization header. One fixed table of atomic slots,
 * shared by every loop, holds "primary until" times by a hash of the client; two clients that
 * share a slot only send each other's reads to the primary for a while (the safe direction).
 */
#ifndef HP_HTTP_AFFINITY_H
#define HP_HTTP_AFFINITY_H

#include <stdint.h>
#include <h2o.h>

typedef struct st_hp_http_affinity_t hp_http_affinity_t;

/* NULL when window_ms is 0 (no replicas: nothing to route). */
hp_http_affinity_t *hp_http_affinity_create(unsigned window_ms);
void hp_http_affinity_destroy(hp_http_affinity_t *a);
uint64_t hp_http_affinity_client(h2o_req_t *req);
/* The client wrote: its reads go to the primary for the window. */
void hp_http_affinity_wrote(hp_http_affinity_t *a, uint64_t client);
int hp_http_affinity_prefers_primary(hp_http_affinity_t *a, uint64_t client);

#endif
