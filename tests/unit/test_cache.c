/* Tests for src/cache: hits and misses, key equality, the byte bound, SIEVE under a scan,
 * version invalidation, single-flight, stale windows, variants, entry lifetime, and a
 * multi-threaded run that must end with every entry freed. Time is a parameter: no sleeps. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sched.h>
#include <cmocka.h>
#include <xxhash.h>
#include "cache/cache.h"
#include "cache/cache_internal.h"

/* Codings as the cache indexes its variants: compress.h's hp_encoding_t values. */
enum { IDENTITY = HP_CACHE_IDENTITY, GZIP = 1, BR = 2, ZSTD = 3 };

/* The cache does not include compress.h (neither module depends on the other), so this is
 * where the two are held to the same numbering. */
#if defined(__has_include)
#if __has_include("compress/compress.h")
#include "compress/compress.h"
_Static_assert(HP_ENCODING__COUNT == HP_CACHE_ENCODINGS, "variant slots match the codings");
_Static_assert((int)HP_ENCODING_IDENTITY == IDENTITY && (int)HP_ENCODING_GZIP == GZIP &&
                   (int)HP_ENCODING_BR == BR && (int)HP_ENCODING_ZSTD == ZSTD,
               "variant indexes are the codings");
#endif
#endif

/* --- helpers --- */

static hp_cache_t *make_cache(size_t max_bytes, unsigned shards,
                              uint64_t (*hash)(const void *, size_t))
{
    hp_cache_options_t opts = {.max_bytes = max_bytes, .shards = shards, .hash = hash};
    hp_cache_t *cache = hp_cache_create(&opts);
    assert_non_null(cache);
    return cache;
}

typedef struct {
    uint64_t fresh, stale, error; /* absolute ms */
    const uint32_t *slots;
    size_t count;
} times_t;

/* Publishes body under key as the leader would, the versions read just before. */
static hp_cache_entry_t *publish_with(hp_cache_t *cache, const char *key, const char *body,
                                      size_t body_len, times_t t)
{
    uint64_t versions[HP_CACHE_MAX_TABLES + 4];
    uint64_t epoch = hp_cache_table_versions(cache, t.slots, t.count, versions);
    hp_cache_header_t headers[] = {{"content-type", 12, "application/json", 16}};
    hp_cache_fill_t fill = {.status = 200,
                            .headers = headers,
                            .header_count = 1,
                            .body = body,
                            .body_len = body_len,
                            .now_ms = 1,
                            .fresh_until_ms = t.fresh,
                            .stale_until_ms = t.stale,
                            .error_until_ms = t.error,
                            .table_slots = t.slots,
                            .table_count = t.count,
                            .table_versions = versions,
                            .epoch = epoch};
    return hp_cache_publish(cache, key, strlen(key), &fill);
}

static hp_cache_entry_t *publish(hp_cache_t *cache, const char *key, const char *body)
{
    return publish_with(cache, key, body, strlen(body), (times_t){1000, 1000, 1000, NULL, 0});
}

/* Looks key up at now with no waiter, no revalidation duty wanted. */
static hp_cache_result_t lookup(hp_cache_t *cache, const char *key, uint64_t now,
                                hp_cache_entry_t **entry)
{
    return hp_cache_lookup(cache, key, strlen(key), now, NULL, entry, NULL);
}

/* A hit's body, or NULL on a miss (a LEAD is abandoned again). */
static int is_hit_with(hp_cache_t *cache, const char *key, const char *body)
{
    hp_cache_entry_t *e;
    hp_cache_result_t r = lookup(cache, key, 0, &e);
    int ok = r == HP_CACHE_HIT && e->body.len == strlen(body) &&
             memcmp(e->body.base, body, e->body.len) == 0;
    if (r == HP_CACHE_LEAD)
        hp_cache_abandon(cache, key, strlen(key));
    hp_cache_entry_unref(e);
    return ok;
}

static int is_miss(hp_cache_t *cache, const char *key)
{
    hp_cache_entry_t *e;
    hp_cache_result_t r = lookup(cache, key, 0, &e);
    hp_cache_entry_unref(e);
    if (r == HP_CACHE_LEAD)
        hp_cache_abandon(cache, key, strlen(key));
    return r == HP_CACHE_LEAD;
}

typedef struct {
    hp_cache_waiter_t w; /* first: the callback converts back by a cast */
    int calls;
    hp_cache_entry_t *got;
} test_waiter_t;

static void on_wake(hp_cache_waiter_t *w, hp_cache_entry_t *entry)
{
    test_waiter_t *t = (test_waiter_t *)w;
    t->calls++;
    t->got = entry;
}

/* Checks the accounting of every shard against its queue: the sum of resident charges equals
 * bytes, bytes stay under the shard's share, and the shares stay under max_bytes. */
static void check_accounting(hp_cache_t *cache, size_t max_bytes)
{
    size_t total = 0;
    for (uint32_t i = 0; i <= cache->shard_mask; i++) {
        hp_cache__shard_t *s = &cache->shards[i];
        size_t sum = 0, count = 0;
        for (hp_cache__entry_t *e = s->head; e != NULL; e = e->qnext) {
            assert_true(e->is_resident);
            sum += e->charge;
            count++;
        }
        assert_int_equal(sum, s->bytes);
        assert_int_equal(count, s->entries.count);
        assert_true(s->bytes <= s->cap);
        total += s->bytes;
    }
    assert_true(total <= max_bytes);
    hp_cache_stats_t st;
    hp_cache_stats(cache, &st);
    assert_int_equal(st.bytes, total);
}

static long alive(void)
{
    return atomic_load(&hp_cache__entries_alive);
}

static int teardown_check_alive(void **state)
{
    (void)state;
    /* Every test releases what it took and destroys its cache: nothing may be left. */
    assert_int_equal(alive(), 0);
    return 0;
}

static uint64_t constant_hash(const void *key, size_t len)
{
    (void)key;
    (void)len;
    return 0x1234567800000042ull;
}

/* --- hit and miss --- */

static void test_miss_leads_then_publish_hits(void **state)
{
    (void)state;
    hp_cache_t *cache = make_cache(1 << 20, 0, NULL);
    hp_cache_entry_t *e;
    int revalidate = 7;
    assert_int_equal(hp_cache_lookup(cache, "/users?id=eq.1", 14, 10, NULL, &e, &revalidate),
                     HP_CACHE_LEAD);
    assert_null(e);
    assert_int_equal(revalidate, 0);
    hp_cache_entry_t *mine = publish(cache, "/users?id=eq.1", "[{\"id\":1}]");
    assert_non_null(mine);
    assert_int_equal(mine->status, 200);
    assert_int_equal(mine->header_count, 1);
    assert_memory_equal(mine->headers[0].name, "content-type", 12);
    assert_int_equal(mine->etag, XXH3_64bits("[{\"id\":1}]", 10));
    assert_int_equal(mine->created_ms, 1);

    assert_int_equal(hp_cache_lookup(cache, "/users?id=eq.1", 14, 10, NULL, &e, &revalidate),
                     HP_CACHE_HIT);
    assert_ptr_equal(e, mine);
    assert_int_equal(revalidate, 0);
    assert_memory_equal(e->body.base, "[{\"id\":1}]", 10);
    hp_cache_entry_unref(e);
    hp_cache_entry_unref(mine);
    assert_true(is_miss(cache, "/users?id=eq.2"));

    hp_cache_stats_t st;
    hp_cache_stats(cache, &st);
    assert_int_equal(st.hits, 1);
    assert_int_equal(st.misses, 2);
    assert_int_equal(st.publishes, 1);
    assert_int_equal(st.entries, 1);
    assert_true(st.bytes > 10);
    hp_cache_destroy(cache);
}

static void test_keys_with_equal_hash_stay_apart(void **state)
{
    (void)state;
    /* Every key hashes alike: one shard, one bucket; only the key bytes tell them apart. */
    hp_cache_t *cache = make_cache(1 << 20, 8, constant_hash);
    const char *keys[] = {"a", "ab", "abc", "abd", "b"};
    for (size_t i = 0; i < 5; i++) {
        assert_true(is_miss(cache, keys[i]));
        hp_cache_entry_unref(publish(cache, keys[i], keys[i]));
    }
    for (size_t i = 0; i < 5; i++)
        assert_true(is_hit_with(cache, keys[i], keys[i]));
    assert_true(is_miss(cache, "abe"));
    assert_true(is_miss(cache, ""));
    assert_true(is_miss(cache, "abcd"));
    /* Keys are bytes, not strings: an embedded NUL is part of the key. */
    hp_cache_entry_t *e;
    assert_int_equal(hp_cache_lookup(cache, "ab\0x", 4, 0, NULL, &e, NULL), HP_CACHE_LEAD);
    hp_cache_abandon(cache, "ab\0x", 4);
    hp_cache_stats_t st;
    hp_cache_stats(cache, &st);
    assert_int_equal(st.entries, 5);
    hp_cache_destroy(cache);
}

/* --- the byte bound --- */

static void test_byte_bound_holds_far_past_max_bytes(void **state)
{
    (void)state;
    static char body[64 * 1024];
    memset(body, 'x', sizeof(body));
    const size_t bounds[] = {0, 1, 1000, 4096, 100000, 1 << 20, (1 << 20) + 12345};
    const unsigned shard_counts[] = {1, 4, 64};
    uint64_t rng = 1;
    for (size_t b = 0; b < sizeof(bounds) / sizeof(bounds[0]); b++) {
        for (size_t s = 0; s < 3; s++) {
            size_t max_bytes = bounds[b];
            hp_cache_t *cache = make_cache(max_bytes, shard_counts[s], NULL);
            size_t share = max_bytes / (cache->shard_mask + 1);
            size_t too_big = 0;
            for (int i = 0; i < 3000; i++) {
                rng = rng * 6364136223846793005ull + 1442695040888963407ull;
                /* Sizes from 0 up to three shares (capped by the buffer): many fit, some not. */
                size_t limit = share * 3 + 1 < sizeof(body) ? share * 3 + 1 : sizeof(body);
                size_t len = (size_t)(rng >> 33) % limit;
                char key[32];
                snprintf(key, sizeof(key), "k%d", i % 700);
                hp_cache_entry_t *e =
                    publish_with(cache, key, body, len, (times_t){1000, 1000, 1000, NULL, 0});
                assert_non_null(e);
                if (hp_cache__entry_of(e)->charge > share)
                    too_big++;
                /* An entry over its shard's share is handed out but never stored. */
                assert_int_equal(hp_cache__entry_of(e)->is_resident,
                                 hp_cache__entry_of(e)->charge <= share);
                hp_cache_entry_unref(e);
                if (i % 50 == 0)
                    check_accounting(cache, max_bytes);
            }
            check_accounting(cache, max_bytes);
            hp_cache_stats_t st;
            hp_cache_stats(cache, &st);
            assert_int_equal(st.rejected, too_big);
            assert_int_equal(st.publishes, 3000);
            assert_true(st.bytes <= max_bytes);
            hp_cache_destroy(cache);
        }
    }
}

/* --- eviction --- */

/* Hot keys are hit between bursts of one-off keys, each burst (with the hot set) bigger than
 * the cache: LRU would push the oldest hot keys out every burst; SIEVE keeps them all. */
static void test_hot_set_survives_a_scan(void **state)
{
    (void)state;
    char key[32], body[100];
    memset(body, 'h', sizeof(body));
    hp_cache_t *cache = make_cache(SIZE_MAX / 2, 1, NULL);
    /* Size the single shard to exactly 100 entries (all entries are the same size). */
    hp_cache_entry_t *probe =
        publish_with(cache, "h000000", body, sizeof(body), (times_t){1000, 1000, 1000, NULL, 0});
    size_t charge = hp_cache__entry_of(probe)->charge;
    hp_cache_entry_unref(probe);
    hp_cache_destroy(cache);
    cache = make_cache(100 * charge, 1, NULL);

    enum { HOT = 50, BURST = 60, ROUNDS = 40 };
    for (int h = 0; h < HOT; h++) {
        snprintf(key, sizeof(key), "h%06d", h);
        hp_cache_entry_unref(
            publish_with(cache, key, body, sizeof(body), (times_t){1000, 1000, 1000, NULL, 0}));
    }
    int scan = 0, hot_misses = 0;
    for (int round = 0; round < ROUNDS; round++) {
        for (int h = 0; h < HOT; h++) {
            snprintf(key, sizeof(key), "h%06d", h);
            hp_cache_entry_t *e;
            if (lookup(cache, key, 0, &e) == HP_CACHE_HIT) {
                hp_cache_entry_unref(e);
            } else {
                hot_misses++;
                hp_cache_entry_unref(e);
                hp_cache_entry_unref(publish_with(cache, key, body, sizeof(body),
                                                  (times_t){1000, 1000, 1000, NULL, 0}));
            }
        }
        for (int i = 0; i < BURST; i++, scan++) {
            snprintf(key, sizeof(key), "s%06d", scan);
            hp_cache_entry_unref(
                publish_with(cache, key, body, sizeof(body), (times_t){1000, 1000, 1000, NULL, 0}));
        }
        check_accounting(cache, 100 * charge);
    }
    /* The hand needs one lap to learn which keys are hot; after that no hot key misses. */
    assert_true(hot_misses <= HOT / 5);
    for (int h = 0; h < HOT; h++) {
        snprintf(key, sizeof(key), "h%06d", h);
        hp_cache_entry_t *e;
        assert_int_equal(lookup(cache, key, 0, &e), HP_CACHE_HIT);
        hp_cache_entry_unref(e);
    }
    hp_cache_stats_t st;
    hp_cache_stats(cache, &st);
    assert_int_equal(st.entries, 100);
    assert_true(st.evictions >= (uint64_t)(ROUNDS * BURST - 50));
    hp_cache_destroy(cache);
}

/* --- versions --- */

static void test_bump_table_invalidates_its_readers_only(void **state)
{
    (void)state;
    hp_cache_t *cache = make_cache(1 << 20, 4, NULL);
    uint32_t users = hp_cache_table_slot("users", 5), orders = hp_cache_table_slot("orders", 6);
    if (users == orders)
        orders = (users + 1) & (HP_CACHE_TABLE_SLOTS - 1);
    uint32_t both[] = {users, orders};
    hp_cache_entry_unref(publish_with(cache, "u", "u", 1, (times_t){1000, 1000, 1000, &users, 1}));
    hp_cache_entry_unref(publish_with(cache, "o", "o", 1, (times_t){1000, 1000, 1000, &orders, 1}));
    hp_cache_entry_unref(publish_with(cache, "uo", "uo", 2, (times_t){1000, 1000, 1000, both, 2}));
    hp_cache_entry_unref(publish_with(cache, "none", "n", 1, (times_t){1000, 1000, 1000, NULL, 0}));

    hp_cache_bump_table(cache, users);
    assert_true(is_miss(cache, "u"));
    assert_true(is_miss(cache, "uo"));
    assert_true(is_hit_with(cache, "o", "o"));
    assert_true(is_hit_with(cache, "none", "n"));
    hp_cache_stats_t st;
    hp_cache_stats(cache, &st);
    assert_int_equal(st.invalidated, 2);
    assert_int_equal(st.entries, 2);

    /* A fill that read the new version is valid again. */
    hp_cache_entry_unref(publish_with(cache, "u", "u2", 2, (times_t){1000, 1000, 1000, &users, 1}));
    assert_true(is_hit_with(cache, "u", "u2"));
    hp_cache_destroy(cache);
}

static void test_bump_all_invalidates_every_entry(void **state)
{
    (void)state;
    hp_cache_t *cache = make_cache(1 << 20, 4, NULL);
    uint32_t slot = hp_cache_table_slot("users", 5);
    hp_cache_entry_unref(publish_with(cache, "t", "t", 1, (times_t){1000, 1000, 1000, &slot, 1}));
    hp_cache_entry_unref(publish_with(cache, "none", "n", 1, (times_t){1000, 1000, 1000, NULL, 0}));
    hp_cache_bump_all(cache);
    assert_true(is_miss(cache, "t"));
    assert_true(is_miss(cache, "none"));
    hp_cache_stats_t st;
    hp_cache_stats(cache, &st);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.bytes, 0);
    hp_cache_destroy(cache);
}

static void test_invalidated_entry_is_not_served_in_any_window(void **state)
{
    (void)state;
    hp_cache_t *cache = make_cache(1 << 20, 1, NULL);
    uint32_t slot = 3;
    hp_cache_entry_unref(publish_with(cache, "k", "v", 1, (times_t){100, 200, 300, &slot, 1}));
    hp_cache_bump_table(cache, slot);
    hp_cache_entry_t *e;
    int revalidate;
    assert_int_equal(hp_cache_lookup(cache, "k", 1, 150, NULL, &e, &revalidate), HP_CACHE_LEAD);
    assert_null(e); /* not as stale */
    assert_int_equal(revalidate, 0);
    hp_cache_abandon(cache, "k", 1);
    hp_cache_entry_unref(publish_with(cache, "k", "v", 1, (times_t){100, 200, 300, &slot, 1}));
    hp_cache_bump_all(cache);
    assert_int_equal(lookup(cache, "k", 250, &e), HP_CACHE_LEAD);
    assert_null(e); /* nor as stale-if-error */
    hp_cache_abandon(cache, "k", 1);
    hp_cache_destroy(cache);
}

static void test_publish_after_racing_bump_is_not_stored(void **state)
{
    (void)state;
    hp_cache_t *cache = make_cache(1 << 20, 4, NULL);
    uint32_t slot = hp_cache_table_slot("users", 5);
    hp_cache_entry_t *e;
    assert_int_equal(lookup(cache, "k", 0, &e), HP_CACHE_LEAD);
    uint64_t version;
    uint64_t epoch = hp_cache_table_versions(cache, &slot, 1, &version);
    hp_cache_bump_table(cache, slot); /* a write lands while the query runs */
    hp_cache_fill_t fill = {.status = 200,
                            .body = "old",
                            .body_len = 3,
                            .fresh_until_ms = 1000,
                            .table_slots = &slot,
                            .table_count = 1,
                            .table_versions = &version,
                            .epoch = epoch};
    hp_cache_entry_t *mine = hp_cache_publish(cache, "k", 1, &fill);
    assert_non_null(mine); /* the leader still answers with it */
    assert_memory_equal(mine->body.base, "old", 3);
    assert_false(hp_cache__entry_of(mine)->is_resident);
    hp_cache_entry_unref(mine);
    assert_true(is_miss(cache, "k"));

    /* The same with the epoch. */
    epoch = hp_cache_table_versions(cache, &slot, 1, &version);
    hp_cache_bump_all(cache);
    fill.epoch = epoch;
    hp_cache_entry_unref(hp_cache_publish(cache, "k", 1, &fill));
    assert_true(is_miss(cache, "k"));
    hp_cache_stats_t st;
    hp_cache_stats(cache, &st);
    assert_int_equal(st.invalidated, 2);
    assert_int_equal(st.entries, 0);
    hp_cache_destroy(cache);
}

/* A waiter that joined before the racing write may get the leader's response (they were
 * concurrent); one that joined after it must not (read-your-writes). */
static void test_waiter_after_racing_bump_gets_null(void **state)
{
    (void)state;
    hp_cache_t *cache = make_cache(1 << 20, 4, NULL);
    uint32_t slot = 9;
    hp_cache_entry_t *e;
    test_waiter_t before = {.w.cb = on_wake}, after = {.w.cb = on_wake};
    assert_int_equal(lookup(cache, "k", 0, &e), HP_CACHE_LEAD);
    uint64_t version;
    uint64_t epoch = hp_cache_table_versions(cache, &slot, 1, &version);
    assert_int_equal(hp_cache_lookup(cache, "k", 1, 0, &before.w, &e, NULL), HP_CACHE_WAIT);
    hp_cache_bump_table(cache, slot);
    assert_int_equal(hp_cache_lookup(cache, "k", 1, 0, &after.w, &e, NULL), HP_CACHE_WAIT);
    hp_cache_fill_t fill = {.status = 200,
                            .body = "old",
                            .body_len = 3,
                            .fresh_until_ms = 1000,
                            .table_slots = &slot,
                            .table_count = 1,
                            .table_versions = &version,
                            .epoch = epoch};
    hp_cache_entry_t *mine = hp_cache_publish(cache, "k", 1, &fill);
    assert_int_equal(before.calls, 1);
    assert_ptr_equal(before.got, mine);
    assert_int_equal(after.calls, 1);
    assert_null(after.got);
    hp_cache_entry_unref(before.got);
    hp_cache_entry_unref(mine);

    /* Without a race, an unrelated bump does not matter. */
    test_waiter_t w = {.w.cb = on_wake};
    assert_int_equal(lookup(cache, "k", 0, &e), HP_CACHE_LEAD);
    epoch = hp_cache_table_versions(cache, &slot, 1, &version);
    hp_cache_bump_table(cache, slot + 1);
    assert_int_equal(hp_cache_lookup(cache, "k", 1, 0, &w.w, &e, NULL), HP_CACHE_WAIT);
    fill.table_versions = &version;
    fill.epoch = epoch;
    mine = hp_cache_publish(cache, "k", 1, &fill);
    assert_ptr_equal(w.got, mine);
    assert_true(hp_cache__entry_of(mine)->is_resident);
    hp_cache_entry_unref(w.got);
    hp_cache_entry_unref(mine);
    hp_cache_destroy(cache);
}

/* --- single-flight --- */

static void test_leader_and_three_waiters_share_one_entry(void **state)
{
    (void)state;
    hp_cache_t *cache = make_cache(1 << 20, 64, NULL);
    hp_cache_entry_t *e;
    test_waiter_t w[3];
    assert_int_equal(hp_cache_lookup(cache, "k", 1, 0, NULL, &e, NULL), HP_CACHE_LEAD);
    for (int i = 0; i < 3; i++) {
        w[i] = (test_waiter_t){.w.cb = on_wake};
        assert_int_equal(hp_cache_lookup(cache, "k", 1, 0, &w[i].w, &e, NULL), HP_CACHE_WAIT);
        assert_null(e);
        assert_int_equal(w[i].calls, 0);
    }
    hp_cache_entry_t *mine = publish(cache, "k", "body");
    for (int i = 0; i < 3; i++) {
        assert_int_equal(w[i].calls, 1);
        assert_ptr_equal(w[i].got, mine);
    }
    /* Leader, three waiters and the cache itself. */
    assert_int_equal(atomic_load(&hp_cache__entry_of(mine)->refcount), 5);
    for (int i = 0; i < 3; i++)
        hp_cache_entry_unref(w[i].got);
    hp_cache_entry_unref(mine);
    hp_cache_stats_t st;
    hp_cache_stats(cache, &st);
    assert_int_equal(st.misses, 1);
    assert_int_equal(st.waits, 3);
    /* The pending record is gone: the next lookup hits. */
    assert_true(is_hit_with(cache, "k", "body"));
    hp_cache_destroy(cache);
}

static void test_abandon_wakes_waiters_with_null(void **state)
{
    (void)state;
    hp_cache_t *cache = make_cache(1 << 20, 64, NULL);
    hp_cache_entry_t *e;
    test_waiter_t w[3];
    assert_int_equal(lookup(cache, "k", 0, &e), HP_CACHE_LEAD);
    for (int i = 0; i < 3; i++) {
        w[i] = (test_waiter_t){.w.cb = on_wake};
        assert_int_equal(hp_cache_lookup(cache, "k", 1, 0, &w[i].w, &e, NULL), HP_CACHE_WAIT);
    }
    hp_cache_abandon(cache, "k", 1);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(w[i].calls, 1);
        assert_null(w[i].got);
    }
    /* The next caller leads afresh; an abandon without a fill in flight is harmless. */
    test_waiter_t late = {.w.cb = on_wake};
    assert_int_equal(hp_cache_lookup(cache, "k", 1, 0, &late.w, &e, NULL), HP_CACHE_LEAD);
    hp_cache_abandon(cache, "k", 1);
    hp_cache_abandon(cache, "k", 1);
    assert_int_equal(late.calls, 0);
    hp_cache_destroy(cache);
}

static void test_lookup_without_waiter_leads_too(void **state)
{
    (void)state;
    hp_cache_t *cache = make_cache(1 << 20, 64, NULL);
    hp_cache_entry_t *e;
    test_waiter_t w = {.w.cb = on_wake};
    assert_int_equal(lookup(cache, "k", 0, &e), HP_CACHE_LEAD);
    assert_int_equal(hp_cache_lookup(cache, "k", 1, 0, &w.w, &e, NULL), HP_CACHE_WAIT);
    assert_int_equal(lookup(cache, "k", 0, &e), HP_CACHE_LEAD); /* a second leader */
    /* Whichever leader publishes first wakes the waiters; the other's publish stores anew. */
    hp_cache_entry_t *second = publish(cache, "k", "two");
    assert_ptr_equal(w.got, second);
    hp_cache_entry_t *first = publish(cache, "k", "one");
    assert_true(is_hit_with(cache, "k", "one"));
    hp_cache_entry_unref(w.got);
    hp_cache_entry_unref(second);
    hp_cache_entry_unref(first);
    hp_cache_destroy(cache);
}

/* --- windows --- */

static void test_stale_entry_revalidates_once(void **state)
{
    (void)state;
    hp_cache_t *cache = make_cache(1 << 20, 4, NULL);
    hp_cache_entry_unref(publish_with(cache, "k", "v1", 2, (times_t){100, 200, 200, NULL, 0}));
    hp_cache_entry_t *e;
    int revalidate;
    assert_int_equal(hp_cache_lookup(cache, "k", 1, 99, NULL, &e, &revalidate), HP_CACHE_HIT);
    assert_int_equal(revalidate, 0);
    hp_cache_entry_unref(e);

    int leaders = 0;
    test_waiter_t w = {.w.cb = on_wake};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(hp_cache_lookup(cache, "k", 1, 150, &w.w, &e, &revalidate), HP_CACHE_HIT);
        assert_memory_equal(e->body.base, "v1", 2);
        leaders += revalidate;
        hp_cache_entry_unref(e);
    }
    assert_int_equal(leaders, 1);
    assert_int_equal(w.calls, 0); /* stale hits never wait */
    /* The refresh is abandoned: the next stale lookup gets the duty again, once. */
    hp_cache_abandon(cache, "k", 1);
    leaders = 0;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(hp_cache_lookup(cache, "k", 1, 160, NULL, &e, &revalidate), HP_CACHE_HIT);
        leaders += revalidate;
        hp_cache_entry_unref(e);
    }
    assert_int_equal(leaders, 1);
    /* The refresh publishes: fresh again, nobody revalidates. */
    hp_cache_entry_unref(publish_with(cache, "k", "v2", 2, (times_t){300, 400, 400, NULL, 0}));
    assert_int_equal(hp_cache_lookup(cache, "k", 1, 160, NULL, &e, &revalidate), HP_CACHE_HIT);
    assert_int_equal(revalidate, 0);
    assert_memory_equal(e->body.base, "v2", 2);
    hp_cache_entry_unref(e);
    /* Without a should_revalidate pointer a caller never takes the duty. */
    assert_int_equal(hp_cache_lookup(cache, "k", 1, 350, NULL, &e, NULL), HP_CACHE_HIT);
    hp_cache_entry_unref(e);
    assert_int_equal(hp_cache_lookup(cache, "k", 1, 350, NULL, &e, &revalidate), HP_CACHE_HIT);
    assert_int_equal(revalidate, 1);
    hp_cache_entry_unref(e);
    hp_cache_abandon(cache, "k", 1);

    hp_cache_stats_t st;
    hp_cache_stats(cache, &st);
    assert_int_equal(st.hits, 2);
    assert_int_equal(st.stale_hits, 12);
    hp_cache_destroy(cache);
}

static void test_error_window_entry_comes_with_lead(void **state)
{
    (void)state;
    hp_cache_t *cache = make_cache(1 << 20, 4, NULL);
    hp_cache_entry_unref(publish_with(cache, "k", "old", 3, (times_t){100, 200, 500, NULL, 0}));
    hp_cache_entry_t *e, *e2;
    int revalidate;
    assert_int_equal(hp_cache_lookup(cache, "k", 1, 300, NULL, &e, &revalidate), HP_CACHE_LEAD);
    assert_non_null(e);
    assert_memory_equal(e->body.base, "old", 3);
    assert_int_equal(revalidate, 0);
    test_waiter_t w = {.w.cb = on_wake};
    assert_int_equal(hp_cache_lookup(cache, "k", 1, 300, &w.w, &e2, NULL), HP_CACHE_WAIT);
    assert_ptr_equal(e2, e);
    /* The query failed: the leader serves e, and gives up; the waiter gets NULL and keeps e2. */
    hp_cache_abandon(cache, "k", 1);
    assert_int_equal(w.calls, 1);
    assert_null(w.got);
    hp_cache_entry_unref(e);
    hp_cache_entry_unref(e2);
    /* Past every window the entry is dropped. */
    assert_int_equal(lookup(cache, "k", 500, &e), HP_CACHE_LEAD);
    assert_null(e);
    hp_cache_abandon(cache, "k", 1);
    hp_cache_stats_t st;
    hp_cache_stats(cache, &st);
    assert_int_equal(st.expired, 1);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.bytes, 0);
    hp_cache_destroy(cache);
}

/* --- variants --- */

static void test_variant_is_set_once_and_counted(void **state)
{
    (void)state;
    hp_cache_t *cache = make_cache(1 << 20, 4, NULL);
    hp_cache_entry_t *e = publish(cache, "k", "identity body");
    hp_cache_stats_t before, after;
    hp_cache_stats(cache, &before);
    hp_cache_bytes_t v = hp_cache_entry_variant(e, GZIP);
    assert_null(v.base);
    char gz[] = "gzipped";
    v = hp_cache_entry_set_variant(cache, e, GZIP, gz, 7);
    assert_ptr_not_equal(v.base, gz); /* kept: a copy inside the entry */
    assert_memory_equal(v.base, "gzipped", 7);
    hp_cache_stats(cache, &after);
    assert_int_equal(after.bytes, before.bytes + 7 + HP_CACHE__VARIANT_OVERHEAD);
    hp_cache_bytes_t again = hp_cache_entry_set_variant(cache, e, GZIP, "other", 5);
    assert_ptr_equal(again.base, v.base);
    assert_int_equal(again.len, 7);
    assert_ptr_equal(hp_cache_entry_variant(e, GZIP).base, v.base);
    assert_null(hp_cache_entry_variant(e, BR).base);
    hp_cache_bytes_t id = hp_cache_entry_set_variant(cache, e, IDENTITY, "x", 1);
    assert_ptr_equal(id.base, e->body.base);
    assert_ptr_equal(hp_cache_entry_variant(e, IDENTITY).base, e->body.base);
    check_accounting(cache, 1 << 20);
    hp_cache_entry_unref(e);
    hp_cache_destroy(cache);
}

static void test_variant_not_kept_returns_the_callers_bytes(void **state)
{
    (void)state;
    /* One shard with room for about one entry. */
    hp_cache_t *cache = make_cache(400, 1, NULL);
    hp_cache_entry_t *e = publish(cache, "k", "body");
    assert_true(hp_cache__entry_of(e)->is_resident);
    static char big[400];
    hp_cache_bytes_t v = hp_cache_entry_set_variant(cache, e, BR, big, sizeof(big));
    assert_ptr_equal(v.base, big); /* would not fit with its entry */
    assert_int_equal(v.len, sizeof(big));
    assert_null(hp_cache_entry_variant(e, BR).base);
    /* Evicted by a newer entry: no variant is attached to an entry that left the cache. */
    hp_cache_entry_unref(publish(cache, "k2", "body"));
    assert_false(hp_cache__entry_of(e)->is_resident);
    char gz[] = "gz";
    v = hp_cache_entry_set_variant(cache, e, GZIP, gz, 2);
    assert_ptr_equal(v.base, gz);
    assert_null(hp_cache_entry_variant(e, GZIP).base);
    check_accounting(cache, 400);
    hp_cache_entry_unref(e);
    hp_cache_destroy(cache);
}

static void test_variant_evicts_others_to_fit(void **state)
{
    (void)state;
    char key[16];
    hp_cache_t *cache = make_cache(4000, 1, NULL);
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        hp_cache_entry_unref(publish(cache, key, "0123456789"));
    }
    hp_cache_entry_t *e;
    assert_int_equal(lookup(cache, "k19", 0, &e), HP_CACHE_HIT);
    static char gz[2000];
    hp_cache_bytes_t v = hp_cache_entry_set_variant(cache, e, ZSTD, gz, sizeof(gz));
    assert_ptr_not_equal(v.base, gz);
    check_accounting(cache, 4000);
    hp_cache_stats_t st;
    hp_cache_stats(cache, &st);
    assert_true(st.evictions > 0);
    assert_true(hp_cache__entry_of(e)->is_resident);
    hp_cache_entry_unref(e);
    hp_cache_destroy(cache);
}

typedef struct {
    hp_cache_t *cache;
    hp_cache_entry_t *entry;
    char bytes[64];
    hp_cache_bytes_t got;
    pthread_barrier_t *barrier;
} variant_arg_t;

static void *set_variant_thread(void *p)
{
    variant_arg_t *a = p;
    pthread_barrier_wait(a->barrier);
    a->got = hp_cache_entry_set_variant(a->cache, a->entry, GZIP, a->bytes, sizeof(a->bytes));
    return NULL;
}

static void test_variant_set_once_under_concurrency(void **state)
{
    (void)state;
    enum { THREADS = 8, ROUNDS = 50 };
    hp_cache_t *cache = make_cache(1 << 20, 4, NULL);
    for (int round = 0; round < ROUNDS; round++) {
        char key[16];
        snprintf(key, sizeof(key), "k%d", round);
        hp_cache_entry_t *e = publish(cache, key, "identity");
        pthread_barrier_t barrier;
        pthread_barrier_init(&barrier, NULL, THREADS);
        pthread_t tids[THREADS];
        variant_arg_t args[THREADS];
        for (int i = 0; i < THREADS; i++) {
            args[i] = (variant_arg_t){.cache = cache, .entry = e, .barrier = &barrier};
            memset(args[i].bytes, 'a' + i, sizeof(args[i].bytes));
            assert_int_equal(pthread_create(&tids[i], NULL, set_variant_thread, &args[i]), 0);
        }
        for (int i = 0; i < THREADS; i++)
            pthread_join(tids[i], NULL);
        pthread_barrier_destroy(&barrier);
        hp_cache_bytes_t held = hp_cache_entry_variant(e, GZIP);
        assert_non_null(held.base);
        for (int i = 0; i < THREADS; i++)
            assert_ptr_equal(args[i].got.base, held.base); /* everyone sends the one copy */
        hp_cache_entry_unref(e);
    }
    check_accounting(cache, 1 << 20);
    hp_cache_destroy(cache);
}

/* --- entry lifetime --- */

static void test_reference_keeps_entry_alive_past_eviction(void **state)
{
    (void)state;
    char key[16], body[200];
    memset(body, 'b', sizeof(body));
    hp_cache_t *cache = make_cache(2000, 1, NULL);
    hp_cache_entry_t *held =
        publish_with(cache, "held", body, sizeof(body), (times_t){1000, 1000, 1000, NULL, 0});
    hp_cache_entry_set_variant(cache, held, GZIP, "gz", 2);
    for (int i = 0; i < 50; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        hp_cache_entry_unref(
            publish_with(cache, key, body, 100, (times_t){1000, 1000, 1000, NULL, 0}));
    }
    assert_false(hp_cache__entry_of(held)->is_resident); /* evicted ... */
    assert_true(is_miss(cache, "held"));
    check_accounting(cache, 2000); /* ... and out of the accounting ... */
    /* ... yet its bytes are intact (ASan would catch a use after free). */
    assert_int_equal(held->body.len, sizeof(body));
    assert_memory_equal(held->body.base, body, sizeof(body));
    assert_memory_equal(hp_cache_entry_variant(held, GZIP).base, "gz", 2);
    /* Held across destroy, too: releasing after it needs no cache. */
    hp_cache_entry_t *kept;
    assert_int_equal(lookup(cache, "k49", 0, &kept), HP_CACHE_HIT);
    hp_cache_destroy(cache);
    assert_true(alive() >= 2);
    assert_memory_equal(kept->body.base, body, 100);
    hp_cache_entry_unref(kept);
    hp_cache_entry_unref(held);
}

static void test_too_many_tables_is_handed_out_not_stored(void **state)
{
    (void)state;
    hp_cache_t *cache = make_cache(1 << 20, 4, NULL);
    uint32_t slots[HP_CACHE_MAX_TABLES + 1];
    for (size_t i = 0; i <= HP_CACHE_MAX_TABLES; i++)
        slots[i] = (uint32_t)i;
    hp_cache_entry_t *e = publish_with(cache, "k", "v", 1,
                                       (times_t){1000, 1000, 1000, slots, HP_CACHE_MAX_TABLES + 1});
    assert_non_null(e);
    assert_true(is_miss(cache, "k"));
    hp_cache_stats_t st;
    hp_cache_stats(cache, &st);
    assert_int_equal(st.rejected, 1);
    hp_cache_entry_unref(e);
    hp_cache_destroy(cache);
}

/* --- threads --- */

enum { HAMMER_THREADS = 4, HAMMER_OPS = 20000, HAMMER_KEYS = 200 };

typedef struct {
    hp_cache_waiter_t w;
    _Atomic int is_done;
    hp_cache_entry_t *_Atomic got;
} hammer_waiter_t;

static void hammer_wake(hp_cache_waiter_t *w, hp_cache_entry_t *entry)
{
    hammer_waiter_t *hw = (hammer_waiter_t *)w;
    atomic_store(&hw->got, entry);
    atomic_store(&hw->is_done, 1);
}

typedef struct {
    hp_cache_t *cache;
    unsigned seed;
    long errors;
    long waits;
} hammer_arg_t;

static size_t hammer_len(unsigned k)
{
    return 16 + (k * 37) % 900;
}

/* A body is its key's id in every byte, so a torn or freed body shows. */
static int body_is_intact(const hp_cache_entry_t *e, unsigned k)
{
    if (e->body.len != hammer_len(k))
        return 0;
    for (size_t i = 0; i < e->body.len; i += 97)
        if ((unsigned char)e->body.base[i] != (unsigned char)k)
            return 0;
    return (unsigned char)e->body.base[e->body.len - 1] == (unsigned char)k;
}

static void hammer_fill(hammer_arg_t *a, const char *key, unsigned k, uint64_t now)
{
    const uint32_t slots[2] = {k % 4, 4 + k % 3};
    uint64_t versions[2];
    uint64_t epoch = hp_cache_table_versions(a->cache, slots, 2, versions);
    sched_yield(); /* the query: give other threads time to pile up as waiters */
    char body[1024];
    size_t len = hammer_len(k);
    memset(body, (int)(unsigned char)k, len);
    if (rand_r(&a->seed) % 10 == 0) {
        hp_cache_abandon(a->cache, key, strlen(key));
        return;
    }
    hp_cache_fill_t fill = {.status = 200,
                            .body = body,
                            .body_len = len,
                            .now_ms = now,
                            .fresh_until_ms = now + 20,
                            .stale_until_ms = now + 60,
                            .error_until_ms = now + 100,
                            .table_slots = slots,
                            .table_count = 1 + k % 2,
                            .table_versions = versions,
                            .epoch = epoch};
    hp_cache_entry_t *e = hp_cache_publish(a->cache, key, strlen(key), &fill);
    if (e == NULL || !body_is_intact(e, k))
        a->errors++;
    hp_cache_entry_unref(e);
}

static void *hammer_thread(void *p)
{
    hammer_arg_t *a = p;
    char key[32];
    for (uint64_t op = 0; op < HAMMER_OPS; op++) {
        unsigned r = (unsigned)rand_r(&a->seed);
        unsigned k = r % HAMMER_KEYS;
        uint64_t now = op;
        snprintf(key, sizeof(key), "/t?id=eq.%u", k);
        if (r % 1000 < 5) {
            hp_cache_bump_table(a->cache, (r >> 8) % 8);
            continue;
        }
        if (r % 1000 == 999) {
            hp_cache_bump_all(a->cache);
            continue;
        }
        if (r % 1000 == 998) {
            hp_cache_stats_t st;
            hp_cache_stats(a->cache, &st);
            continue;
        }
        hammer_waiter_t hw = {.w.cb = hammer_wake};
        hp_cache_entry_t *e;
        int revalidate;
        hp_cache_result_t res = hp_cache_lookup(a->cache, key, strlen(key), now,
                                                (r >> 12) % 2 ? &hw.w : NULL, &e, &revalidate);
        if (e != NULL && !body_is_intact(e, k))
            a->errors++;
        if (res == HP_CACHE_HIT && (r >> 16) % 8 == 0) {
            char gz[64];
            memset(gz, 'g', sizeof(gz));
            hp_cache_bytes_t v =
                hp_cache_entry_set_variant(a->cache, e, 1 + (r >> 20) % 3, gz, sizeof(gz));
            if (v.len != sizeof(gz) || v.base[0] != 'g')
                a->errors++;
        }
        hp_cache_entry_unref(e);
        if (res == HP_CACHE_LEAD || (res == HP_CACHE_HIT && revalidate))
            hammer_fill(a, key, k, now);
        if (res == HP_CACHE_WAIT) {
            a->waits++;
            /* The leader is another thread that never blocks: it publishes or abandons. */
            while (!atomic_load(&hw.is_done))
                sched_yield();
            hp_cache_entry_t *got = atomic_load(&hw.got);
            if (got != NULL && !body_is_intact(got, k))
                a->errors++;
            hp_cache_entry_unref(got);
        }
    }
    return NULL;
}

static void test_threads_hammering_end_with_every_entry_freed(void **state)
{
    (void)state;
    hp_cache_t *cache = make_cache(50 * 1000, 8, NULL);
    pthread_t tids[HAMMER_THREADS];
    hammer_arg_t args[HAMMER_THREADS];
    for (int i = 0; i < HAMMER_THREADS; i++) {
        args[i] = (hammer_arg_t){.cache = cache, .seed = 1000u + (unsigned)i};
        assert_int_equal(pthread_create(&tids[i], NULL, hammer_thread, &args[i]), 0);
    }
    for (int i = 0; i < HAMMER_THREADS; i++)
        pthread_join(tids[i], NULL);
    for (int i = 0; i < HAMMER_THREADS; i++)
        assert_int_equal(args[i].errors, 0);
    check_accounting(cache, 50 * 1000);
    hp_cache_stats_t st;
    hp_cache_stats(cache, &st);
    assert_true(st.hits + st.stale_hits > 0);
    assert_true(st.evictions > 0);
    assert_true(st.invalidated > 0);
    /* No pending fill is left behind, and every reference but the cache's was released. */
    for (uint32_t i = 0; i <= cache->shard_mask; i++) {
        assert_int_equal(cache->shards[i].pendings.count, 0);
        for (hp_cache__entry_t *e = cache->shards[i].head; e != NULL; e = e->qnext)
            assert_int_equal(atomic_load(&e->refcount), 1);
    }
    assert_int_equal(alive(), (long)st.entries);
    hp_cache_destroy(cache);
    assert_int_equal(alive(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_miss_leads_then_publish_hits, teardown_check_alive),
        cmocka_unit_test_teardown(test_keys_with_equal_hash_stay_apart, teardown_check_alive),
        cmocka_unit_test_teardown(test_byte_bound_holds_far_past_max_bytes, teardown_check_alive),
        cmocka_unit_test_teardown(test_hot_set_survives_a_scan, teardown_check_alive),
        cmocka_unit_test_teardown(test_bump_table_invalidates_its_readers_only,
                                  teardown_check_alive),
        cmocka_unit_test_teardown(test_bump_all_invalidates_every_entry, teardown_check_alive),
        cmocka_unit_test_teardown(test_invalidated_entry_is_not_served_in_any_window,
                                  teardown_check_alive),
        cmocka_unit_test_teardown(test_publish_after_racing_bump_is_not_stored,
                                  teardown_check_alive),
        cmocka_unit_test_teardown(test_waiter_after_racing_bump_gets_null, teardown_check_alive),
        cmocka_unit_test_teardown(test_leader_and_three_waiters_share_one_entry,
                                  teardown_check_alive),
        cmocka_unit_test_teardown(test_abandon_wakes_waiters_with_null, teardown_check_alive),
        cmocka_unit_test_teardown(test_lookup_without_waiter_leads_too, teardown_check_alive),
        cmocka_unit_test_teardown(test_stale_entry_revalidates_once, teardown_check_alive),
        cmocka_unit_test_teardown(test_error_window_entry_comes_with_lead, teardown_check_alive),
        cmocka_unit_test_teardown(test_variant_is_set_once_and_counted, teardown_check_alive),
        cmocka_unit_test_teardown(test_variant_not_kept_returns_the_callers_bytes,
                                  teardown_check_alive),
        cmocka_unit_test_teardown(test_variant_evicts_others_to_fit, teardown_check_alive),
        cmocka_unit_test_teardown(test_variant_set_once_under_concurrency, teardown_check_alive),
        cmocka_unit_test_teardown(test_reference_keeps_entry_alive_past_eviction,
                                  teardown_check_alive),
        cmocka_unit_test_teardown(test_too_many_tables_is_handed_out_not_stored,
                                  teardown_check_alive),
        cmocka_unit_test_teardown(test_threads_hammering_end_with_every_entry_freed,
                                  teardown_check_alive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
