/*
 * Per-table cache policy, from the cache-policy setting:
 *
 *     cache-policy = *=ttl=300,swr=60 ; users=ttl=30,max-age=5 ; audit_log=off
 *
 * `TABLE=OPTIONS` entries separated by ';', options separated by ','. `*` sets the defaults
 * that other entries start from. Options: off | ttl=S | swr=S | sie=S (the built-in cache's
 * freshness, stale-while-revalidate and stale-if-error windows, seconds) | max-age=S |
 * s-maxage=S (what Cache-Control tells clients and shared caches, which hotpath cannot
 * invalidate: by default they get "no-cache", i.e. revalidate with the ETag every time).
 * Pure data: parsed once at start-up, then read-only from any thread.
 */
#ifndef HP_CACHE_POLICY_H
#define HP_CACHE_POLICY_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int is_enabled;
    uint32_t ttl_s, swr_s, sie_s;
    int32_t max_age_s, s_maxage_s; /* -1: not sent */
    char cache_control[160];       /* the Cache-Control value these make */
} hp_cache_policy_t;

typedef struct st_hp_cache_policies_t hp_cache_policies_t;

/* Parses the setting (NULL or "" for defaults only). Returns NULL with a reason in errbuf. */
hp_cache_policies_t *hp_cache_policies_parse(const char *text, char *errbuf, size_t errlen);
void hp_cache_policies_destroy(hp_cache_policies_t *p);
/* The policy of a table (its own entry, else the `*` defaults). Never NULL. */
const hp_cache_policy_t *hp_cache_policies_find(const hp_cache_policies_t *p, const char *table,
                                                size_t len);

#endif
