/*
 * Fair sharing of the database: each client may have at most max_jobs database jobs in
 * flight, so one client's slow queries cannot take every SQLite reader thread or PostgreSQL
 * connection. A client is a 64-bit key (http/pipeline/shed.c: a hash of the peer address).
 *
 * A job past the client's share is refused at once (429, Retry-After: 1), not queued: the
 * client already has max_jobs jobs running, and a queue per client shared by every loop would
 * need cross-loop wake-ups for a client that is, by then, asking for more than its share.
 *
 * One fixed table of atomic counters, shared by every loop, indexed by a hash of the key: no
 * lock, no allocation per client, nothing to expire. Two clients that share a slot share one
 * budget (the safe direction: both are limited, neither gets more); with 4096 slots that
 * takes many concurrent clients. Any thread.
 */
#ifndef HP_OVERLOAD_CLIENTS_H
#define HP_OVERLOAD_CLIENTS_H

#include <stdint.h>

typedef struct st_hp_overload_clients_t hp_overload_clients_t;

/* NULL when max_jobs is 0 (no per-client limit). Aborts when out of memory. */
hp_overload_clients_t *hp_overload_clients_create(unsigned max_jobs);
/* NULL is fine. */
void hp_overload_clients_destroy(hp_overload_clients_t *c);

/* One more job for client: 0 (it counts until hp_overload_clients_release) or -1 (the client
 * has max_jobs in flight already; nothing counted). */
int hp_overload_clients_acquire(hp_overload_clients_t *c, uint64_t client);
void hp_overload_clients_release(hp_overload_clients_t *c, uint64_t client);
/* The jobs counted in client's slot. */
unsigned hp_overload_clients_jobs(hp_overload_clients_t *c, uint64_t client);

#endif
