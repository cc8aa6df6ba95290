#include "http/pipeline/limit.h"

#include <stdio.h>
#include <string.h>
#include "core/time.h"
#include "ratelimit/ratelimit.h"

_Static_assert(HP_RATELIMIT_MAX_RULES + 1 <= HP_METRICS_RATELIMIT_RULES,
               "every rate-limit rule has its metrics slot");

/* The client key of an HTTP request: the rate-limit-key header's value when it has one, else
 * the peer address without the port (a client's connections share it). */
static uint64_t client_of(const hp_ratelimit_t *rl, hp_call_t *call)
{
    h2o_req_t *req = call->req;
    if (hp_ratelimit_key_kind(rl) == HP_RATELIMIT_KEY_HEADER) {
        const char *name = hp_ratelimit_key_header(rl);
        ssize_t i = h2o_find_header_by_str(&req->headers, name, strlen(name), -1);
        /* Offset, so a header value and an address of the same bytes are different keys. */
        if (i != -1)
            return hp_ratelimit_client(req->headers.entries[i].value.base,
                                       req->headers.entries[i].value.len) +
                   0x9e3779b97f4a7c15ull;
    }
    return hp_pipeline_peer_hash(call);
}

/* RateLimit-Policy: "default";q=200;w=1, "users:writes";q=10;w=1
 * RateLimit:        "default";r=42;t=1, "users:writes";r=0;t=1
 * q and w are the rule's RATE and window (1 or 60 s); r is how many more requests would be
 * admitted right now, t the seconds (rounded up) until the whole burst is available again. */
static void add_headers(h2o_req_t *req, const hp_ratelimit_verdict_t *v)
{
    char policy[2 * (HP_RATELIMIT_MAX_NAME + 40)], state[2 * (HP_RATELIMIT_MAX_NAME + 48)];
    size_t plen = 0, slen = 0;
    for (size_t i = 0; i != v->count; ++i) {
        const hp_ratelimit_rule_t *r = v->rule[i];
        const hp_gcra_decision_t *d = &v->decision[i];
        plen += (size_t)snprintf(policy + plen, sizeof(policy) - plen, "%s\"%s\";q=%u;w=%u",
                                 i ? ", " : "", r->name, r->gcra.rate, r->gcra.window_s);
        slen += (size_t)snprintf(state + slen, sizeof(state) - slen, "%s\"%s\";r=%u;t=%llu",
                                 i ? ", " : "", r->name, d->remaining,
                                 (unsigned long long)hp_gcra_ceil_s(d->reset_ns));
    }
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("ratelimit-policy"), 0, NULL,
                          h2o_strdup(&req->pool, policy, plen).base, plen);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("ratelimit"), 0, NULL,
                          h2o_strdup(&req->pool, state, slen).base, slen);
}

hp_step_result_t hp_step_limit(hp_call_t *call)
{
    hp_ratelimit_t *rl = call->loop->ratelimit;
    if (rl == NULL || call->sink == NULL) /* off, or a background refresh */
        return HP_STEP_NEXT;
    hp_ratelimit_kind_t kind;
    if (call->req == NULL) {
        kind = HP_RATELIMIT_SUB;
    } else {
        call->limit_client = client_of(rl, call);
        /* Only route.c's envelope path reaches here without a table. */
        kind = call->r.resource.len != 0 ? HP_RATELIMIT_REQUEST : HP_RATELIMIT_ENVELOPE;
    }
    hp_ratelimit_class_t klass = call->r.method == HP_METHOD_GET || call->r.method == HP_METHOD_HEAD
                                     ? HP_RATELIMIT_CLASS_READS
                                     : HP_RATELIMIT_CLASS_WRITES;
    hp_ratelimit_verdict_t v;
    hp_ratelimit_decide(rl, kind, call->r.resource.base, call->r.resource.len, klass,
                        call->limit_client, hp_time_mono_ns(), &v);
    if (v.count == 0)
        return HP_STEP_NEXT;
    /* Allowed: by every rule. Limited: by the rules that denied (the others were not
     * charged, so they decided nothing). */
    for (size_t i = 0; i != v.count; ++i)
        if (v.is_allowed || !v.decision[i].is_allowed)
            hp_metrics_ratelimit(call->loop->metrics, v.rule_index[i], v.is_allowed);
    if (call->req != NULL)
        add_headers(call->req, &v);
    if (v.is_allowed)
        return HP_STEP_NEXT;

    uint64_t retry_s = hp_gcra_ceil_s(v.retry_after_ns);
    if (retry_s == 0)
        retry_s = 1;
    const hp_ratelimit_rule_t *denied = NULL;
    for (size_t i = 0; i != v.count && denied == NULL; ++i)
        if (!v.decision[i].is_allowed)
            denied = v.rule[i];
    if (call->req != NULL) {
        char *value = h2o_mem_alloc_pool(&call->req->pool, 24);
        int n = snprintf(value, 24, "%llu", (unsigned long long)retry_s);
        h2o_add_header(&call->req->pool, &call->req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL,
                       value, (size_t)n);
    }
    hp_error_t err = {0};
    hp_error_set(&err, call->pool, HP_ERR_RATE_LIMITED,
                 "Rate limit exceeded: rule \"%s\" (%u/%s, burst %u)", denied->name,
                 denied->gcra.rate, denied->gcra.window_s == 1 ? "s" : "min", denied->gcra.burst);
    hp_error_details(&err, call->pool, "Retry after %llu s", (unsigned long long)retry_s);
    return hp_pipeline_fail(call, &err);
}
