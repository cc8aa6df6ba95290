/*
 * Who is asking: the caller a request carries from the pipeline's caller step to everything
 * that must not mix callers (the cache key and Vary, batch grouping, the database session).
 * Pure data, immutable once the caller step set it; any thread.
 *
 * Today every caller is anonymous. Authentication (a JWT) fills in a role and the claims; the
 * cache key, batch grouping and session setup already read them from here.
 */
#ifndef HP_CORE_CALLER_H
#define HP_CORE_CALLER_H

#include <stdint.h>
#include <h2o/memory.h>

typedef struct {
    /* The database role the request runs as; {NULL, 0} for the anonymous caller. */
    h2o_iovec_t role;
    /* The claims as one JSON object's text; {NULL, 0} when there are none. */
    h2o_iovec_t claims;
    /* What separates this caller's cached answers and batch groups from everyone else's: 0
     * for the anonymous caller (answers are shared by all anonymous callers), else a hash of
     * role and the claims that matter. */
    uint64_t partition;
} hp_caller_t;

/* The caller of a request that says nothing about who it is. */
extern const hp_caller_t hp_caller_anonymous;

static inline int hp_caller_is_anonymous(const hp_caller_t *c)
{
    return c->partition == 0;
}

/* Whether two callers may share an answer (cache entry, batched query). */
static inline int hp_caller_same(const hp_caller_t *a, const hp_caller_t *b)
{
    return a == b || a->partition == b->partition;
}

#endif
