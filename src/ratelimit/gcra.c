#include "ratelimit/gcra.h"

void hp_gcra_init(hp_gcra_t *g, uint32_t rate, uint32_t window_s, uint32_t burst)
{
    g->rate = rate;
    g->window_s = window_s;
    g->burst = burst;
    /* Rounded down: at most one nanosecond per request in the client's favour. */
    g->interval_ns = (uint64_t)window_s * HP_GCRA_NS_PER_S / rate;
    if (g->interval_ns == 0)
        g->interval_ns = 1;
    g->tolerance_ns = (uint64_t)(burst - 1) * g->interval_ns;
}

uint64_t hp_gcra_decide(const hp_gcra_t *g, uint64_t tat_ns, uint64_t now_ns,
                        hp_gcra_decision_t *out)
{
    uint64_t tat = tat_ns > now_ns ? tat_ns : now_ns;
    if (tat - now_ns > g->tolerance_ns) {
        /* Admitted again once TAT - now has come down to the tolerance. */
        *out = (hp_gcra_decision_t){.is_allowed = 0,
                                    .tat_ns = tat_ns,
                                    .remaining = 0,
                                    .retry_after_ns = tat - now_ns - g->tolerance_ns,
                                    .reset_ns = tat - now_ns};
        return tat_ns;
    }
    uint64_t next = tat + g->interval_ns;
    /* The allowance left is tolerance + interval - (next - now), in whole requests. */
    uint64_t used = next - now_ns, room = g->tolerance_ns + g->interval_ns;
    *out = (hp_gcra_decision_t){.is_allowed = 1,
                                .tat_ns = next,
                                .remaining = (uint32_t)((room - used) / g->interval_ns),
                                .retry_after_ns = 0,
                                .reset_ns = used};
    return next;
}
