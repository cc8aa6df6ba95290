/* Cache entries: one allocation each (struct, versions, headers, key, body), reference
 * counted; compressed variants hang off atomic pointers, set once. */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include "cache/cache_internal.h"

atomic_long hp_cache__entries_alive;

/* acc += n, or -1 on overflow. */
static int add_size(size_t *acc, size_t n)
{
    return __builtin_add_overflow(*acc, n, acc) ? -1 : 0;
}

/* acc += count * size, or -1 on overflow. */
static int add_array(size_t *acc, size_t count, size_t size)
{
    size_t n;
    if (__builtin_mul_overflow(count, size, &n))
        return -1;
    return add_size(acc, n);
}

static char *copy_bytes(char **cursor, const void *src, size_t len)
{
    char *dst = *cursor;
    if (len != 0)
        memcpy(dst, src, len);
    *cursor += len;
    return dst;
}

hp_cache__entry_t *hp_cache__entry_create(const void *key, size_t key_len, uint64_t hash,
                                          const hp_cache_fill_t *fill)
{
    /* Layout, largest alignment first: the struct, versions (8), headers (8), slots (4), then
     * the bytes: key, header names and values, body. */
    size_t tables = fill->table_count, nheaders = fill->header_count;
    size_t versions_off = sizeof(hp_cache__entry_t), headers_off = versions_off;
    if (add_array(&headers_off, tables, sizeof(uint64_t)) != 0)
        return NULL;
    size_t slots_off = headers_off;
    if (add_array(&slots_off, nheaders, sizeof(hp_cache_header_t)) != 0)
        return NULL;
    size_t bytes_off = slots_off;
    if (add_array(&bytes_off, tables, sizeof(uint32_t)) != 0)
        return NULL;
    size_t total = bytes_off;
    if (add_size(&total, key_len) != 0 || add_size(&total, fill->body_len) != 0)
        return NULL;
    for (size_t i = 0; i < nheaders; i++)
        if (add_size(&total, fill->headers[i].name_len) != 0 ||
            add_size(&total, fill->headers[i].value_len) != 0)
            return NULL;
    size_t charge = total;
    if (add_size(&charge, HP_CACHE__ENTRY_OVERHEAD) != 0)
        return NULL;

    char *mem = malloc(total);
    if (mem == NULL)
        return NULL;
    hp_cache__entry_t *e = (hp_cache__entry_t *)mem;
    memset(e, 0, sizeof(*e));
    uint64_t *versions = (uint64_t *)(mem + versions_off);
    hp_cache_header_t *headers = (hp_cache_header_t *)(mem + headers_off);
    uint32_t *slots = (uint32_t *)(mem + slots_off);
    char *cursor = mem + bytes_off;

    for (size_t i = 0; i < tables; i++) {
        versions[i] = fill->table_versions[i];
        slots[i] = fill->table_slots[i] & (HP_CACHE_TABLE_SLOTS - 1);
    }
    e->node.key = copy_bytes(&cursor, key, key_len);
    e->node.key_len = key_len;
    e->node.hash = hash;
    for (size_t i = 0; i < nheaders; i++) {
        const hp_cache_header_t *h = &fill->headers[i];
        headers[i].name = copy_bytes(&cursor, h->name, h->name_len);
        headers[i].name_len = h->name_len;
        headers[i].value = copy_bytes(&cursor, h->value, h->value_len);
        headers[i].value_len = h->value_len;
    }
    e->pub.body.base = copy_bytes(&cursor, fill->body, fill->body_len);
    e->pub.body.len = fill->body_len;
    e->pub.status = fill->status;
    e->pub.headers = headers;
    e->pub.header_count = nheaders;
    e->pub.etag = XXH3_64bits(e->pub.body.base, e->pub.body.len);
    e->pub.fresh_until_ms = fill->fresh_until_ms;
    e->pub.stale_until_ms = fill->stale_until_ms;
    e->pub.error_until_ms = fill->error_until_ms;
    e->pub.last_modified_ms = fill->last_modified_ms;
    e->pub.created_ms = fill->now_ms;
    e->epoch = fill->epoch;
    e->table_count = tables;
    e->slots = slots;
    e->versions = versions;
    e->charge = charge;
    atomic_init(&e->refcount, 1);
    for (int i = 0; i < HP_CACHE_ENCODINGS; i++)
        atomic_init(&e->variants[i], NULL);
    atomic_fetch_add_explicit(&hp_cache__entries_alive, 1, memory_order_relaxed);
    return e;
}

void hp_cache__entry_free(hp_cache__entry_t *e)
{
    for (int i = 0; i < HP_CACHE_ENCODINGS; i++)
        free(atomic_load_explicit(&e->variants[i], memory_order_relaxed));
    atomic_fetch_sub_explicit(&hp_cache__entries_alive, 1, memory_order_relaxed);
    free(e);
}

void hp_cache_entry_ref(hp_cache_entry_t *entry)
{
    atomic_fetch_add_explicit(&hp_cache__entry_of(entry)->refcount, 1, memory_order_relaxed);
}

void hp_cache_entry_unref(hp_cache_entry_t *entry)
{
    if (entry == NULL)
        return;
    hp_cache__entry_t *e = hp_cache__entry_of(entry);
    /* acq_rel rather than release plus a fence: the freeing thread must see every other
     * thread's last use, and ThreadSanitizer understands this form. */
    if (atomic_fetch_sub_explicit(&e->refcount, 1, memory_order_acq_rel) == 1)
        hp_cache__entry_free(e);
}

hp_cache_bytes_t hp_cache_entry_variant(hp_cache_entry_t *entry, unsigned encoding)
{
    if (encoding == HP_CACHE_IDENTITY || encoding >= HP_CACHE_ENCODINGS)
        return entry->body;
    hp_cache__variant_t *v =
        atomic_load_explicit(&hp_cache__entry_of(entry)->variants[encoding], memory_order_acquire);
    return v != NULL ? (hp_cache_bytes_t){v->data, v->len} : (hp_cache_bytes_t){NULL, 0};
}

hp_cache_bytes_t hp_cache_entry_set_variant(hp_cache_t *cache, hp_cache_entry_t *entry,
                                            unsigned encoding, const char *bytes, size_t len)
{
    hp_cache_bytes_t own = {bytes, len};
    if (encoding == HP_CACHE_IDENTITY || encoding >= HP_CACHE_ENCODINGS)
        return entry->body;
    hp_cache__entry_t *e = hp_cache__entry_of(entry);
    _Atomic(hp_cache__variant_t *) *slot = &e->variants[encoding];
    hp_cache__variant_t *held = atomic_load_explicit(slot, memory_order_acquire);
    if (held != NULL)
        return (hp_cache_bytes_t){held->data, held->len};

    /* Copy outside the lock; only the accounting and the pointer swap happen under it. */
    size_t charge = len;
    if (add_size(&charge, HP_CACHE__VARIANT_OVERHEAD) != 0)
        return own;
    hp_cache__variant_t *v = malloc(sizeof(*v) + len);
    if (v == NULL)
        return own;
    v->len = len;
    if (len != 0)
        memcpy(v->data, bytes, len);

    hp_cache__shard_t *shard = hp_cache__shard_of(cache, e->node.hash);
    hp_cache__entry_t *dead = NULL;
    hp_cache_bytes_t out = own;
    int is_kept = 0;
    hp_cache__lock(&shard->lock);
    /* Every setter holds this lock, so the CAS below cannot lose; it is a CAS anyway so that
     * "set once" holds by construction and readers never see a pointer change. */
    held = atomic_load_explicit(slot, memory_order_relaxed);
    if (held != NULL) {
        out = (hp_cache_bytes_t){held->data, held->len};
    } else if (e->is_resident && charge <= shard->cap - e->charge &&
               hp_cache__sieve_make_room(cache, shard, charge, e, &dead) == 0) {
        hp_cache__variant_t *expected = NULL;
        if (atomic_compare_exchange_strong_explicit(slot, &expected, v, memory_order_release,
                                                    memory_order_acquire)) {
            e->charge += charge;
            shard->bytes += charge;
            out = (hp_cache_bytes_t){v->data, v->len};
            is_kept = 1;
        } else {
            out = (hp_cache_bytes_t){expected->data, expected->len};
        }
    }
    hp_cache__unlock(&shard->lock);
    if (!is_kept)
        free(v);
    hp_cache__release_dead(dead);
    return out;
}
