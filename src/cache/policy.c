#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cache/policy.h"

/* The defaults when the setting says nothing: hotpath's own cache keeps entries 5 minutes
 * (writes invalidate them at once, so this only bounds memory churn), refreshes in the
 * background for one more minute, and falls back to them for 10 minutes when the database
 * fails; clients are told to revalidate. */
static const hp_cache_policy_t builtin_default = {1, 300, 60, 600, -1, -1, ""};

typedef struct {
    char *table;
    hp_cache_policy_t policy;
} named_policy_t;

struct st_hp_cache_policies_t {
    hp_cache_policy_t fallback;
    named_policy_t *named;
    size_t count;
};

static void make_cache_control(hp_cache_policy_t *p)
{
    if (p->max_age_s < 0 && p->s_maxage_s < 0) {
        snprintf(p->cache_control, sizeof(p->cache_control), "no-cache");
        return;
    }
    size_t n = 0;
    if (p->max_age_s >= 0)
        n += (size_t)snprintf(p->cache_control + n, sizeof(p->cache_control) - n, "max-age=%d",
                              (int)p->max_age_s);
    if (p->s_maxage_s >= 0)
        n += (size_t)snprintf(p->cache_control + n, sizeof(p->cache_control) - n, "%ss-maxage=%d",
                              n ? ", " : "", (int)p->s_maxage_s);
    if (p->swr_s != 0)
        n += (size_t)snprintf(p->cache_control + n, sizeof(p->cache_control) - n,
                              ", stale-while-revalidate=%u", (unsigned)p->swr_s);
    if (p->sie_s != 0)
        snprintf(p->cache_control + n, sizeof(p->cache_control) - n, ", stale-if-error=%u",
                 (unsigned)p->sie_s);
}

static int parse_seconds(const char *s, size_t len, uint32_t *out)
{
    if (len == 0 || len > 9)
        return -1;
    uint32_t v = 0;
    for (size_t i = 0; i != len; ++i) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

static const char *trim(const char *s, const char *end, size_t *len)
{
    while (s < end && (*s == ' ' || *s == '\t'))
        ++s;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        --end;
    *len = (size_t)(end - s);
    return s;
}

/* Applies "opt,opt,..." to p. */
static int parse_options(const char *s, const char *end, hp_cache_policy_t *p, char *errbuf,
                         size_t errlen)
{
    while (s < end) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        if (comma == NULL)
            comma = end;
        size_t len;
        const char *opt = trim(s, comma, &len);
        const char *eq = memchr(opt, '=', len);
        size_t name_len = eq ? (size_t)(eq - opt) : len;
        uint32_t v = 0;
        int has_value = eq != NULL && parse_seconds(eq + 1, len - name_len - 1, &v) == 0;
#define IS(lit) (name_len == sizeof(lit) - 1 && memcmp(opt, lit, name_len) == 0)
        if (len == 0) {
            /* an empty option (",,"): nothing to do */
        } else if (IS("off") && eq == NULL) {
            p->is_enabled = 0;
        } else if (IS("on") && eq == NULL) {
            p->is_enabled = 1;
        } else if (has_value && IS("ttl")) {
            p->ttl_s = v;
        } else if (has_value && IS("swr")) {
            p->swr_s = v;
        } else if (has_value && IS("sie")) {
            p->sie_s = v;
        } else if (has_value && IS("max-age")) {
            p->max_age_s = (int32_t)v;
        } else if (has_value && IS("s-maxage")) {
            p->s_maxage_s = (int32_t)v;
        } else {
            snprintf(
                errbuf, errlen,
                "'%.*s' is not an option (off, on, ttl=S, swr=S, sie=S, max-age=S, s-maxage=S)",
                (int)len, opt);
            return -1;
        }
#undef IS
        s = comma + 1;
    }
    return 0;
}

hp_cache_policies_t *hp_cache_policies_parse(const char *text, char *errbuf, size_t errlen)
{
    hp_cache_policies_t *p = calloc(1, sizeof(*p));
    p->fallback = builtin_default;
    const char *s = text != NULL ? text : "", *end = s + strlen(s);
    /* Two passes: `*` first (wherever it stands), then the tables, which start from it. */
    for (int pass = 0; pass != 2; ++pass) {
        for (const char *cur = s; cur < end;) {
            const char *semi = memchr(cur, ';', (size_t)(end - cur));
            if (semi == NULL)
                semi = end;
            size_t len;
            const char *entry = trim(cur, semi, &len);
            cur = semi + 1;
            if (len == 0)
                continue;
            const char *eq = memchr(entry, '=', len);
            size_t name_len;
            const char *name = eq ? trim(entry, eq, &name_len) : entry;
            if (eq == NULL || name_len == 0) {
                snprintf(errbuf, errlen, "'%.*s' is not TABLE=OPTIONS", (int)len, entry);
                goto fail;
            }
            int is_default = name_len == 1 && name[0] == '*';
            if (is_default != (pass == 0))
                continue;
            hp_cache_policy_t *target = &p->fallback;
            if (!is_default) {
                p->named = realloc(p->named, (p->count + 1) * sizeof(*p->named));
                named_policy_t *np = &p->named[p->count++];
                np->table = strndup(name, name_len);
                np->policy = p->fallback;
                target = &np->policy;
            }
            if (parse_options(eq + 1, entry + len, target, errbuf, errlen) != 0)
                goto fail;
        }
    }
    make_cache_control(&p->fallback);
    for (size_t i = 0; i != p->count; ++i)
        make_cache_control(&p->named[i].policy);
    return p;
fail:
    hp_cache_policies_destroy(p);
    return NULL;
}

void hp_cache_policies_destroy(hp_cache_policies_t *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i != p->count; ++i)
        free(p->named[i].table);
    free(p->named);
    free(p);
}

const hp_cache_policy_t *hp_cache_policies_find(const hp_cache_policies_t *p, const char *table,
                                                size_t len)
{
    for (size_t i = 0; i != p->count; ++i)
        if (strlen(p->named[i].table) == len && memcmp(p->named[i].table, table, len) == 0)
            return &p->named[i].policy;
    return &p->fallback;
}
