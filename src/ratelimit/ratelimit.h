/*
 * Rate limits: which rules apply to a request and whether it may go on, per client.
 *
 * Configured by three settings (docs/limits.md):
 *
 *     rate-limit       = 200/s,burst=50        the rule for every request ("default")
 *     rate-limit-key   = ip | header:NAME      what tells clients apart (claim:PATH: with auth)
 *     rate-limit-rules = users:writes=10/s,burst=5 ; _/batch=5/s ; *:reads=500/s
 *
 * A rule is RATE/s or RATE/min with an optional ",burst=N" (the most requests admitted at
 * once; by default RATE, i.e. one window's worth). A rules entry is SELECTOR=RULE, entries
 * separated by ';'. SELECTOR is TABLE, TABLE:CLASS, *, *:CLASS or _/batch (the POST /_/batch
 * envelope), CLASS one of reads (GET, HEAD), writes (POST, PATCH, PUT, DELETE) or bulk (a
 * sub-request of /_/batch). A request is charged against the `rate-limit` rule (when set) and
 * against the one most specific entry that matches it:
 *     a sub-request:  TABLE:bulk, *:bulk, then as a request of its own (below);
 *     a request:      TABLE:CLASS, TABLE, *:CLASS, *;
 *     an envelope:    _/batch.
 * A sub-request is not charged against `rate-limit` (its envelope was, once).
 *
 * Each rule keeps its own allowance per client (the key is a hash of the rule and the client
 * key) in a store (store.h): local to this instance today.
 *
 * Threads: built once at start-up (single-threaded), then read-only; hp_ratelimit_decide may
 * be called from any thread.
 */
#ifndef HP_RATELIMIT_RATELIMIT_H
#define HP_RATELIMIT_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>
#include "ratelimit/gcra.h"
#include "ratelimit/store.h"

/* Most rules in rate-limit-rules; the `rate-limit` rule is one more. */
#define HP_RATELIMIT_MAX_RULES 32
/* Longest selector (a table name and its class). */
#define HP_RATELIMIT_MAX_NAME 96

typedef enum {
    HP_RATELIMIT_CLASS_ANY,
    HP_RATELIMIT_CLASS_READS,
    HP_RATELIMIT_CLASS_WRITES,
    HP_RATELIMIT_CLASS_BULK,
} hp_ratelimit_class_t;

typedef enum {
    HP_RATELIMIT_KEY_IP,
    HP_RATELIMIT_KEY_HEADER,
} hp_ratelimit_key_kind_t;

typedef struct {
    char name[HP_RATELIMIT_MAX_NAME];  /* "default", or the selector as written ("users:writes") */
    char table[HP_RATELIMIT_MAX_NAME]; /* "*" for any; "_/batch" for the envelope */
    hp_ratelimit_class_t klass;
    hp_gcra_t gcra;
} hp_ratelimit_rule_t;

/* What a request is, for matching. */
typedef enum {
    HP_RATELIMIT_REQUEST,  /* a request to a table */
    HP_RATELIMIT_ENVELOPE, /* POST /_/batch */
    HP_RATELIMIT_SUB,      /* one sub-request of /_/batch */
} hp_ratelimit_kind_t;

typedef struct st_hp_ratelimit_t hp_ratelimit_t;

/* The rules that apply to one request: at most two, each with its decision. */
typedef struct {
    const hp_ratelimit_rule_t *rule[2];
    unsigned rule_index[2]; /* 0: the `rate-limit` rule, 1..: rate-limit-rules entries */
    hp_gcra_decision_t decision[2];
    size_t count;
    int is_allowed;
    uint64_t retry_after_ns; /* denied: the longest wait among the rules that denied */
} hp_ratelimit_verdict_t;

/* --- lifecycle --- */

/* Parses the settings (NULL or "" for rate_limit and rules: none). Returns NULL when no rule
 * is set at all (rate limiting off) with errbuf[0] == '\0', or NULL with "key: why" in errbuf
 * (the key named, the bad part quoted). max_keys sizes the local store. */
hp_ratelimit_t *hp_ratelimit_create(const char *rate_limit, const char *key, const char *rules,
                                    size_t max_keys, char *errbuf, size_t errlen);
void hp_ratelimit_destroy(hp_ratelimit_t *rl);

/* --- parsing (exposed for tests) --- */

/* "RATE/s" or "RATE/min", then ",burst=N". Returns 0, or -1 with the reason in errbuf. */
int hp_ratelimit_parse_rule(const char *text, size_t len, hp_gcra_t *out, char *errbuf,
                            size_t errlen);

/* --- use (any thread) --- */

hp_ratelimit_key_kind_t hp_ratelimit_key_kind(const hp_ratelimit_t *rl);
/* The header named by rate-limit-key = header:NAME (lower case); "" for ip. */
const char *hp_ratelimit_key_header(const hp_ratelimit_t *rl);
/* The rules, in index order (0 is the `rate-limit` rule; its gcra.rate is 0 when unset). */
const hp_ratelimit_rule_t *hp_ratelimit_rules(const hp_ratelimit_t *rl, size_t *count);

/* Hash of a client key's bytes (an address, a header value); never 0. */
uint64_t hp_ratelimit_client(const void *bytes, size_t len);

/* Decides a request of `kind` to table (NULL for the envelope) with class reads or writes,
 * for client (hp_ratelimit_client) at now_ns. A rule that denies leaves the other rules
 * uncharged (they are evaluated as a dry run). Fills v; v->count == 0: no rule applies. */
void hp_ratelimit_decide(hp_ratelimit_t *rl, hp_ratelimit_kind_t kind, const char *table,
                         size_t table_len, hp_ratelimit_class_t klass, uint64_t client,
                         uint64_t now_ns, hp_ratelimit_verdict_t *v);

/* The store, for its figures (hp_ratelimit_store_local_stats). */
hp_ratelimit_store_t *hp_ratelimit_store(hp_ratelimit_t *rl);

#endif
