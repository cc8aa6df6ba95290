#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include "ratelimit/ratelimit.h"

#define MAX_VALUE 1000000000u

struct st_hp_ratelimit_t {
    hp_ratelimit_key_kind_t key_kind;
    char key_header[HP_RATELIMIT_MAX_NAME];                /* lower case */
    hp_ratelimit_rule_t rules[HP_RATELIMIT_MAX_RULES + 1]; /* [0]: rate-limit */
    size_t rule_count;
    hp_ratelimit_store_t *store;
};

static const char *trim(const char *s, const char *end, size_t *len)
{
    while (s < end && isspace((unsigned char)*s))
        ++s;
    while (end > s && isspace((unsigned char)end[-1]))
        --end;
    *len = (size_t)(end - s);
    return s;
}

/* A decimal count in 1..MAX_VALUE. */
static int parse_count(const char *s, size_t len, uint32_t *out)
{
    if (len == 0 || len > 10)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i != len; ++i) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v == 0 || v > MAX_VALUE)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* rule  := RATE "/" ("s" | "min") [ "," "burst=" N ]     (spaces allowed around the parts) */
int hp_ratelimit_parse_rule(const char *text, size_t len, hp_gcra_t *out, char *errbuf,
                            size_t errlen)
{
    const char *end = text + len, *comma = memchr(text, ',', len);
    size_t rate_len;
    const char *rate = trim(text, comma != NULL ? comma : end, &rate_len);
    const char *slash = memchr(rate, '/', rate_len);
    uint32_t count, window_s, burst;
    if (slash == NULL || parse_count(rate, (size_t)(slash - rate), &count) != 0) {
        snprintf(errbuf, errlen, "'%.*s' is not RATE/s or RATE/min (RATE a whole number 1-%u)",
                 (int)rate_len, rate, MAX_VALUE);
        return -1;
    }
    size_t unit_len = rate_len - (size_t)(slash + 1 - rate);
    if (unit_len == 1 && slash[1] == 's') {
        window_s = 1;
    } else if (unit_len == 3 && memcmp(slash + 1, "min", 3) == 0) {
        window_s = 60;
    } else {
        snprintf(errbuf, errlen, "'%.*s' has unit '%.*s'; use /s or /min", (int)rate_len, rate,
                 (int)unit_len, slash + 1);
        return -1;
    }
    burst = count;
    if (comma != NULL) {
        size_t opt_len;
        const char *opt = trim(comma + 1, end, &opt_len);
        if (opt_len < 6 || memcmp(opt, "burst=", 6) != 0 ||
            parse_count(opt + 6, opt_len - 6, &burst) != 0) {
            snprintf(errbuf, errlen, "'%.*s' is not burst=N (N a whole number 1-%u)", (int)opt_len,
                     opt, MAX_VALUE);
            return -1;
        }
    }
    hp_gcra_init(out, count, window_s, burst);
    return 0;
}

/* key := "ip" | "header:" NAME | "claim:" PATH (refused until authentication exists) */
static int parse_key(hp_ratelimit_t *rl, const char *text, char *errbuf, size_t errlen)
{
    size_t len;
    text = trim(text, text + strlen(text), &len);
    if (len == 2 && memcmp(text, "ip", 2) == 0) {
        rl->key_kind = HP_RATELIMIT_KEY_IP;
        return 0;
    }
    if (len > 7 && memcmp(text, "header:", 7) == 0 && len - 7 < sizeof(rl->key_header)) {
        rl->key_kind = HP_RATELIMIT_KEY_HEADER;
        for (size_t i = 7; i != len; ++i) {
            unsigned char c = (unsigned char)text[i];
            if (!(isalnum(c) || c == '-' || c == '_')) {
                snprintf(errbuf, errlen, "rate-limit-key: '%.*s' is not a header name",
                         (int)(len - 7), text + 7);
                return -1;
            }
            rl->key_header[i - 7] = (char)tolower(c);
        }
        return 0;
    }
    if (len >= 6 && memcmp(text, "claim:", 6) == 0) {
        snprintf(errbuf, errlen,
                 "rate-limit-key: '%.*s': claim keys need authentication (JWT), which this "
                 "server does not have yet; use ip or header:NAME",
                 (int)len, text);
        return -1;
    }
    snprintf(errbuf, errlen, "rate-limit-key: '%.*s' is not ip, header:NAME or claim:PATH",
             (int)len, text);
    return -1;
}

/* selector := "_/batch" | ( TABLE | "*" ) [ ":" ( "reads" | "writes" | "bulk" | "*" ) ] */
static int parse_selector(hp_ratelimit_rule_t *r, const char *s, size_t len, char *errbuf,
                          size_t errlen)
{
    static const struct {
        const char *name;
        hp_ratelimit_class_t klass;
    } classes[] = {{"reads", HP_RATELIMIT_CLASS_READS},
                   {"writes", HP_RATELIMIT_CLASS_WRITES},
                   {"bulk", HP_RATELIMIT_CLASS_BULK},
                   {"*", HP_RATELIMIT_CLASS_ANY}};
    const char *colon = memchr(s, ':', len);
    size_t table_len = colon != NULL ? (size_t)(colon - s) : len;
    if (len >= sizeof(r->name) || table_len == 0) {
        snprintf(errbuf, errlen, "'%.*s' is not TABLE, TABLE:CLASS, *:CLASS or _/batch", (int)len,
                 s);
        return -1;
    }
    memcpy(r->name, s, len);
    r->name[len] = '\0';
    memcpy(r->table, s, table_len);
    r->table[table_len] = '\0';
    r->klass = HP_RATELIMIT_CLASS_ANY;
    if (strcmp(r->name, "_/batch") == 0)
        return 0;
    for (size_t i = 0; i != table_len; ++i)
        if (isspace((unsigned char)s[i]) ||
            ((unsigned char)s[i] < 0x80 && !isprint((unsigned char)s[i])) || s[i] == '/' ||
            s[i] == '"' || s[i] == '\\') {
            snprintf(errbuf, errlen, "'%.*s' is not a table name", (int)table_len, s);
            return -1;
        }
    if (colon == NULL)
        return 0;
    const char *k = colon + 1;
    size_t k_len = len - table_len - 1, i = 0, n = sizeof(classes) / sizeof(classes[0]);
    while (i != n && !(strlen(classes[i].name) == k_len && memcmp(classes[i].name, k, k_len) == 0))
        ++i;
    if (i == n) {
        snprintf(errbuf, errlen, "'%.*s' is not a class (reads, writes, bulk, *)", (int)k_len, k);
        return -1;
    }
    r->klass = classes[i].klass;
    return 0;
}

/* rules := entry { ";" entry }     entry := selector "=" rule     (empty entries are skipped) */
static int parse_rules(hp_ratelimit_t *rl, const char *text, char *errbuf, size_t errlen)
{
    char why[256];
    const char *p = text, *end = text + strlen(text);
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *stop = semi != NULL ? semi : end;
        size_t entry_len;
        const char *entry = trim(p, stop, &entry_len);
        p = stop + 1;
        if (entry_len == 0)
            continue;
        const char *eq = memchr(entry, '=', entry_len);
        if (eq == NULL) {
            snprintf(errbuf, errlen, "rate-limit-rules: '%.*s' is not SELECTOR=RATE/UNIT[,burst=N]",
                     (int)entry_len, entry);
            return -1;
        }
        if (rl->rule_count == HP_RATELIMIT_MAX_RULES + 1) {
            snprintf(errbuf, errlen, "rate-limit-rules: more than %d rules",
                     HP_RATELIMIT_MAX_RULES);
            return -1;
        }
        hp_ratelimit_rule_t *r = &rl->rules[rl->rule_count];
        size_t sel_len;
        const char *sel = trim(entry, eq, &sel_len);
        if (parse_selector(r, sel, sel_len, why, sizeof(why)) != 0 ||
            hp_ratelimit_parse_rule(eq + 1, (size_t)(entry + entry_len - eq - 1), &r->gcra, why,
                                    sizeof(why)) != 0) {
            snprintf(errbuf, errlen, "rate-limit-rules: '%.*s': %s", (int)entry_len, entry, why);
            return -1;
        }
        for (size_t i = 1; i != rl->rule_count; ++i)
            if (rl->rules[i].klass == r->klass && strcmp(rl->rules[i].table, r->table) == 0) {
                snprintf(errbuf, errlen, "rate-limit-rules: '%.*s' repeats '%s'", (int)entry_len,
                         entry, rl->rules[i].name);
                return -1;
            }
        ++rl->rule_count;
    }
    return 0;
}

hp_ratelimit_t *hp_ratelimit_create(const char *rate_limit, const char *key, const char *rules,
                                    size_t max_keys, char *errbuf, size_t errlen)
{
    char why[256];
    errbuf[0] = '\0';
    hp_ratelimit_t *rl = calloc(1, sizeof(*rl));
    if (rl == NULL) {
        snprintf(errbuf, errlen, "rate-limit: out of memory");
        return NULL;
    }
    snprintf(rl->rules[0].name, sizeof(rl->rules[0].name), "default");
    snprintf(rl->rules[0].table, sizeof(rl->rules[0].table), "*");
    rl->rule_count = 1;
    size_t len;
    const char *text = trim(rate_limit != NULL ? rate_limit : "",
                            rate_limit != NULL ? rate_limit + strlen(rate_limit) : "", &len);
    if (len != 0 && hp_ratelimit_parse_rule(text, len, &rl->rules[0].gcra, why, sizeof(why)) != 0) {
        snprintf(errbuf, errlen, "rate-limit: %s", why);
        goto fail;
    }
    if (parse_key(rl, key != NULL ? key : "ip", errbuf, errlen) != 0 ||
        parse_rules(rl, rules != NULL ? rules : "", errbuf, errlen) != 0)
        goto fail;
    if (len == 0 && rl->rule_count == 1)
        goto fail; /* off: no error */
    if ((rl->store = hp_ratelimit_store_local_create(max_keys)) == NULL) {
        snprintf(errbuf, errlen, "rate-limit-max-keys: cannot allocate %zu keys", max_keys);
        goto fail;
    }
    return rl;
fail:
    free(rl);
    return NULL;
}

void hp_ratelimit_destroy(hp_ratelimit_t *rl)
{
    if (rl == NULL)
        return;
    hp_ratelimit_store_destroy(rl->store);
    free(rl);
}

hp_ratelimit_key_kind_t hp_ratelimit_key_kind(const hp_ratelimit_t *rl)
{
    return rl->key_kind;
}

const char *hp_ratelimit_key_header(const hp_ratelimit_t *rl)
{
    return rl->key_header;
}

const hp_ratelimit_rule_t *hp_ratelimit_rules(const hp_ratelimit_t *rl, size_t *count)
{
    *count = rl->rule_count;
    return rl->rules;
}

hp_ratelimit_store_t *hp_ratelimit_store(hp_ratelimit_t *rl)
{
    return rl->store;
}

uint64_t hp_ratelimit_client(const void *bytes, size_t len)
{
    uint64_t h = XXH3_64bits(bytes, len);
    return h != 0 ? h : 1;
}

/* The store key of (rule, client): a 64-bit mix (splitmix64's finalizer), never 0. */
static uint64_t store_key(unsigned rule_index, uint64_t client)
{
    uint64_t x = client + 0x9e3779b97f4a7c15ull * (rule_index + 1);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x != 0 ? x : 1;
}

static int find_rule(const hp_ratelimit_t *rl, const char *table, size_t table_len,
                     hp_ratelimit_class_t klass)
{
    for (size_t i = 1; i != rl->rule_count; ++i) {
        const hp_ratelimit_rule_t *r = &rl->rules[i];
        if (r->klass == klass && strlen(r->table) == table_len &&
            memcmp(r->table, table, table_len) == 0)
            return (int)i;
    }
    return -1;
}

/* The most specific rules-entry for the request, or -1. */
static int match(const hp_ratelimit_t *rl, hp_ratelimit_kind_t kind, const char *table,
                 size_t table_len, hp_ratelimit_class_t klass)
{
    int i = -1;
    if (kind == HP_RATELIMIT_ENVELOPE)
        return find_rule(rl, "_/batch", 7, HP_RATELIMIT_CLASS_ANY);
    if (kind == HP_RATELIMIT_SUB &&
        (i = find_rule(rl, table, table_len, HP_RATELIMIT_CLASS_BULK)) < 0)
        i = find_rule(rl, "*", 1, HP_RATELIMIT_CLASS_BULK);
    if (i < 0)
        i = find_rule(rl, table, table_len, klass);
    if (i < 0)
        i = find_rule(rl, table, table_len, HP_RATELIMIT_CLASS_ANY);
    if (i < 0)
        i = find_rule(rl, "*", 1, klass);
    if (i < 0)
        i = find_rule(rl, "*", 1, HP_RATELIMIT_CLASS_ANY);
    return i;
}

void hp_ratelimit_decide(hp_ratelimit_t *rl, hp_ratelimit_kind_t kind, const char *table,
                         size_t table_len, hp_ratelimit_class_t klass, uint64_t client,
                         uint64_t now_ns, hp_ratelimit_verdict_t *v)
{
    *v = (hp_ratelimit_verdict_t){.is_allowed = 1};
    if (kind != HP_RATELIMIT_SUB && rl->rules[0].gcra.rate != 0)
        v->rule_index[v->count++] = 0;
    int i = match(rl, kind, table, table_len, klass);
    if (i > 0)
        v->rule_index[v->count++] = (unsigned)i;
    /* Every rule is asked first without being charged, so a request one rule denies uses up
     * nothing of the others'; then, when all allow, each is charged. Another loop deciding
     * for the same client in between may make a charge deny: that request is denied too (the
     * rules charged before it keep the charge, a rare and conservative loss). */
    for (int pass = 0; pass != 2 && v->is_allowed; ++pass) {
        for (size_t j = 0; j != v->count; ++j) {
            v->rule[j] = &rl->rules[v->rule_index[j]];
            hp_gcra_decision_t *d = &v->decision[j];
            hp_ratelimit_store_decide(rl->store, store_key(v->rule_index[j], client),
                                      &v->rule[j]->gcra, now_ns, pass == 0, d);
            if (!d->is_allowed) {
                v->is_allowed = 0;
                if (d->retry_after_ns > v->retry_after_ns)
                    v->retry_after_ns = d->retry_after_ns;
            }
        }
    }
}
