/*
 * GCRA, the generic cell rate algorithm: the arithmetic of one rate-limit decision.
 *
 * A rule "RATE per UNIT, burst B" admits a request every `interval` = UNIT / RATE on average
 * and up to B at once after a quiet spell. Each key keeps one number, its theoretical arrival
 * time (TAT, nanoseconds on the monotonic clock): the time at which it would have used none of
 * its allowance. A request at `now` is admitted when TAT - now <= tolerance, where
 * tolerance = (B - 1) * interval; it then moves the TAT to max(TAT, now) + interval. A TAT in
 * the past is the same as no state at all, which is what lets a store forget such keys.
 *
 * Pure functions on plain values: any thread, no allocation.
 */
#ifndef HP_RATELIMIT_GCRA_H
#define HP_RATELIMIT_GCRA_H

#include <stdint.h>

#define HP_GCRA_NS_PER_S 1000000000ull

typedef struct {
    uint64_t interval_ns;  /* UNIT / RATE: the time one request uses up */
    uint64_t tolerance_ns; /* (burst - 1) * interval_ns */
    uint32_t rate;         /* RATE, as configured (the RateLimit-Policy quota) */
    uint32_t window_s;     /* UNIT in seconds: 1 or 60 (the policy's window) */
    uint32_t burst;        /* B: the most requests admitted at once */
} hp_gcra_t;

/* What one decision says, for the answer's headers. */
typedef struct {
    int is_allowed;
    uint64_t tat_ns;         /* the key's TAT after the decision (unchanged when denied) */
    uint32_t remaining;      /* requests that would be admitted right now, after this one */
    uint64_t retry_after_ns; /* denied: how long until one request would be admitted; else 0 */
    uint64_t reset_ns;       /* how long until the whole burst is available again */
} hp_gcra_decision_t;

/* Sets g for RATE per window_s seconds with burst B (B >= 1, rate >= 1). */
void hp_gcra_init(hp_gcra_t *g, uint32_t rate, uint32_t window_s, uint32_t burst);

/* Decides a request at now_ns for a key whose TAT is tat_ns (0: unknown key); fills out.
 * Returns the TAT to store (tat_ns itself when denied). With is_dry_run the answer is what
 * the request would get, and the caller stores nothing. */
uint64_t hp_gcra_decide(const hp_gcra_t *g, uint64_t tat_ns, uint64_t now_ns,
                        hp_gcra_decision_t *out);

/* Whole seconds, rounded up (Retry-After and the RateLimit header's t). */
static inline uint64_t hp_gcra_ceil_s(uint64_t ns)
{
    return (ns + HP_GCRA_NS_PER_S - 1) / HP_GCRA_NS_PER_S;
}

#endif
