/* Tests for src/compress/encode.c: every coding round-trips through the real decoders (zlib
 * inflate, BrotliDecoderDecompress, ZSTD_decompress) byte for byte, on empty, small, large
 * JSON-like and binary input; invalid levels fail without touching the output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>
#include <zlib.h>
#include <brotli/decode.h>
#include <zstd.h>

#include "compress/compress.h"

static const hp_encoding_t codings[] = {HP_ENCODING_GZIP, HP_ENCODING_BR, HP_ENCODING_ZSTD};
#define CODING_COUNT (sizeof(codings) / sizeof(codings[0]))

/* --- inputs --- */

static uint64_t rng_next(uint64_t *s)
{
    /* splitmix64: deterministic, so a failure reproduces. */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A JSON array of rows like the ones hotpath renders, at least len bytes long. */
static void make_json(hp_buf_t *b, size_t len, uint64_t seed)
{
    static const char *const names[] = {"alice", "bob", "carol", "dave", "eve", "mallory"};
    static const char *const statuses[] = {"pending", "shipped", "delivered", "cancelled"};
    hp_buf_putc(b, '[');
    for (unsigned id = 1; b->len < len; id++) {
        uint64_t r = rng_next(&seed);
        hp_buf_appendf(b,
                       "%s{\"id\":%u,\"username\":\"%s%u\",\"status\":\"%s\",\"active\":%s,"
                       "\"score\":%u.%02u,\"created_at\":\"2024-%02u-%02uT%02u:%02u:00Z\"}",
                       id == 1 ? "" : ",", id, names[r % 6], (unsigned)(r >> 8) % 10000,
                       statuses[(r >> 24) % 4], (r >> 26) & 1 ? "true" : "false",
                       (unsigned)(r >> 32) % 1000, (unsigned)(r >> 40) % 100,
                       1 + (unsigned)(r >> 44) % 12, 1 + (unsigned)(r >> 48) % 28,
                       (unsigned)(r >> 52) % 24, (unsigned)(r >> 58) % 60);
    }
    hp_buf_putc(b, ']');
}

static void make_binary(hp_buf_t *b, size_t len, uint64_t seed)
{
    char *p = hp_buf_reserve(b, len);
    for (size_t i = 0; i < len; i++)
        p[i] = (char)(rng_next(&seed) >> 56);
    b->len += len;
}

/* --- decoders --- */

static void gunzip(const char *src, size_t len, hp_buf_t *out)
{
    z_stream zs = {0};
    assert_int_equal(inflateInit2(&zs, 16 + MAX_WBITS), Z_OK); /* gzip only, not zlib */
    zs.next_in = (Bytef *)(uintptr_t)src;
    zs.avail_in = (uInt)len;
    int ret;
    do {
        char *dst = hp_buf_reserve(out, 64 * 1024);
        zs.next_out = (Bytef *)dst;
        zs.avail_out = (uInt)(out->cap - out->len);
        ret = inflate(&zs, Z_NO_FLUSH);
        out->len += (size_t)((char *)zs.next_out - dst);
    } while (ret == Z_OK);
    assert_int_equal(ret, Z_STREAM_END);
    assert_int_equal(zs.avail_in, 0); /* one member, nothing after it */
    inflateEnd(&zs);
}

static void unbrotli(const char *src, size_t len, size_t expected_len, hp_buf_t *out)
{
    /* One byte more than expected, so output that is too long is caught. */
    size_t n = expected_len + 1;
    uint8_t *dst = (uint8_t *)hp_buf_reserve(out, n);
    assert_int_equal(BrotliDecoderDecompress(len, (const uint8_t *)src, &n, dst),
                     BROTLI_DECODER_RESULT_SUCCESS);
    out->len += n;
}

static void unzstd(const char *src, size_t len, size_t expected_len, hp_buf_t *out)
{
    /* The frame records the content size. */
    assert_int_equal(ZSTD_getFrameContentSize(src, len), expected_len);
    size_t cap = expected_len + 1;
    char *dst = hp_buf_reserve(out, cap);
    size_t n = ZSTD_decompress(dst, cap, src, len);
    assert_false(ZSTD_isError(n));
    out->len += n;
}

static void decompress(hp_encoding_t enc, const char *src, size_t len, size_t expected_len,
                       hp_buf_t *out)
{
    switch (enc) {
    case HP_ENCODING_GZIP: gunzip(src, len, out); break;
    case HP_ENCODING_BR: unbrotli(src, len, expected_len, out); break;
    case HP_ENCODING_ZSTD: unzstd(src, len, expected_len, out); break;
    default: fail_msg("no decoder for %d", (int)enc);
    }
}

/* Compresses src after a prefix already in the output buffer, checks the prefix is kept and
 * the rest decompresses to src exactly. Returns the compressed size. */
static size_t round_trip(hp_encoding_t enc, int level, const char *src, size_t len)
{
    static const char prefix[] = "prefix";
    hp_buf_t packed, unpacked;
    hp_buf_init(&packed);
    hp_buf_init(&unpacked);
    hp_buf_append_lit(&packed, prefix);

    assert_int_equal(hp_compress(enc, level, src, len, &packed), 0);
    assert_true(packed.len > sizeof(prefix) - 1);
    assert_memory_equal(packed.ptr, prefix, sizeof(prefix) - 1);
    const char *body = packed.ptr + sizeof(prefix) - 1;
    size_t body_len = packed.len - (sizeof(prefix) - 1);
    if (enc == HP_ENCODING_GZIP) {
        assert_int_equal((unsigned char)body[0], 0x1f); /* the gzip magic */
        assert_int_equal((unsigned char)body[1], 0x8b);
    }

    decompress(enc, body, body_len, len, &unpacked);
    if (unpacked.len != len || (len != 0 && memcmp(unpacked.ptr, src, len) != 0))
        fail_msg("%s level %d: %zu bytes came back as %zu different ones", hp_compress_token(enc),
                 level, len, unpacked.len);
    hp_buf_dispose(&packed);
    hp_buf_dispose(&unpacked);
    return body_len;
}

/* --- tests --- */

static void test_empty_input_round_trips(void **state)
{
    (void)state;
    for (size_t i = 0; i < CODING_COUNT; i++)
        round_trip(codings[i], hp_compress_default_level(codings[i]), "", 0);
    /* No source pointer at all is fine for zero bytes. */
    for (size_t i = 0; i < CODING_COUNT; i++)
        round_trip(codings[i], hp_compress_default_level(codings[i]), NULL, 0);
}

static void test_small_input_round_trips_at_every_level(void **state)
{
    (void)state;
    static const char small[] = "[{\"id\":1,\"name\":\"a\"}]";
    for (size_t i = 0; i < CODING_COUNT; i++) {
        hp_encoding_t enc = codings[i];
        for (int level = -1; level <= 23; level++) {
            if (hp_compress_level_is_valid(enc, level))
                round_trip(enc, level, small, sizeof(small) - 1);
        }
        round_trip(enc, hp_compress_default_level(enc), "x", 1);
    }
}

static void test_large_json_round_trips_and_shrinks(void **state)
{
    (void)state;
    hp_buf_t json;
    hp_buf_init(&json);
    make_json(&json, 1024 * 1024, 42);
    for (size_t i = 0; i < CODING_COUNT; i++) {
        hp_encoding_t enc = codings[i];
        size_t packed = round_trip(enc, hp_compress_default_level(enc), json.ptr, json.len);
        /* Rows of repeated keys compress at least 3:1 with any of them. */
        if (packed * 3 > json.len)
            fail_msg("%s: %zu -> %zu bytes", hp_compress_token(enc), json.len, packed);
        /* The fastest level too. */
        round_trip(enc, enc == HP_ENCODING_BR ? 0 : 1, json.ptr, json.len);
    }
    hp_buf_dispose(&json);
}

static void test_binary_round_trips(void **state)
{
    (void)state;
    hp_buf_t bin;
    hp_buf_init(&bin);
    /* Incompressible bytes: the output grows past the input, within each coder's bound. */
    make_binary(&bin, 256 * 1024 + 7, 7);
    for (size_t i = 0; i < CODING_COUNT; i++)
        round_trip(codings[i], hp_compress_default_level(codings[i]), bin.ptr, bin.len);
    /* Every byte value, runs of NUL and a random tail. */
    hp_buf_dispose(&bin);
    for (int c = 0; c < 256; c++)
        hp_buf_putc(&bin, (char)c);
    char zeros[4096] = {0};
    hp_buf_append(&bin, zeros, sizeof(zeros));
    make_binary(&bin, 1000, 3);
    for (size_t i = 0; i < CODING_COUNT; i++)
        round_trip(codings[i], hp_compress_default_level(codings[i]), bin.ptr, bin.len);
    hp_buf_dispose(&bin);
}

/* Brotli's window is sized to the body (2^bits - 16 bytes): lengths on either side of a step. */
static void test_brotli_window_steps_round_trip(void **state)
{
    (void)state;
    static const size_t lens[] = {1007, 1008, 1009, 65519, 65520, 65521, 4194288, 4194289};
    hp_buf_t json;
    hp_buf_init(&json);
    make_json(&json, 4194289, 11);
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
        round_trip(HP_ENCODING_BR, 1, json.ptr, lens[i]);
    hp_buf_dispose(&json);
}

static void test_identity_appends_the_input(void **state)
{
    (void)state;
    hp_buf_t b;
    hp_buf_init(&b);
    hp_buf_append_lit(&b, "ab");
    assert_int_equal(hp_compress(HP_ENCODING_IDENTITY, 0, "cd", 2, &b), 0);
    assert_int_equal(hp_compress(HP_ENCODING_IDENTITY, 99, NULL, 0, &b), 0);
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.ptr, "abcd", 4);
    hp_buf_dispose(&b);
}

static void test_invalid_level_or_coding_fails_and_leaves_output(void **state)
{
    (void)state;
    static const struct {
        hp_encoding_t enc;
        int level;
    } bad[] = {
        {HP_ENCODING_GZIP, 0},   {HP_ENCODING_GZIP, 10}, {HP_ENCODING_GZIP, -1},
        {HP_ENCODING_BR, -1},    {HP_ENCODING_BR, 12},   {HP_ENCODING_ZSTD, 0},
        {HP_ENCODING_ZSTD, 20},  {HP_ENCODING_ZSTD, 22}, {HP_ENCODING_ZSTD, -5},
        {HP_ENCODING__COUNT, 1},
    };
    hp_buf_t b;
    hp_buf_init(&b);
    hp_buf_append_lit(&b, "keep");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(hp_compress_level_is_valid(bad[i].enc, bad[i].level));
        assert_int_equal(hp_compress(bad[i].enc, bad[i].level, "data", 4, &b), -1);
        assert_int_equal(b.len, 4);
    }
    assert_memory_equal(b.ptr, "keep", 4);
    hp_buf_dispose(&b);
}

static void test_default_levels_are_valid(void **state)
{
    (void)state;
    assert_int_equal(hp_compress_default_level(HP_ENCODING_GZIP), 6);
    assert_int_equal(hp_compress_default_level(HP_ENCODING_BR), 5);
    assert_int_equal(hp_compress_default_level(HP_ENCODING_ZSTD), 3);
    assert_int_equal(hp_compress_default_level(HP_ENCODING_IDENTITY), 0);
    for (int e = 0; e < HP_ENCODING__COUNT; e++)
        assert_true(hp_compress_level_is_valid((hp_encoding_t)e,
                                               hp_compress_default_level((hp_encoding_t)e)));
}

static void test_threshold(void **state)
{
    (void)state;
    assert_false(hp_compress_is_worth(0, HP_COMPRESS_DEFAULT_MIN_BYTES));
    assert_false(hp_compress_is_worth(1023, HP_COMPRESS_DEFAULT_MIN_BYTES));
    assert_true(hp_compress_is_worth(1024, HP_COMPRESS_DEFAULT_MIN_BYTES));
    assert_true(hp_compress_is_worth(0, 0));
}

/* The reused per-thread zstd context must not carry one call's level into the next: each
 * frame is byte for byte what a fresh context makes. */
static void test_zstd_context_reuse_matches_fresh_context(void **state)
{
    (void)state;
    hp_buf_t json, ours;
    hp_buf_init(&json);
    hp_buf_init(&ours);
    make_json(&json, 20 * 1024, 9);
    static const int levels[] = {19, 1, 3, 12, 3};
    size_t cap = ZSTD_compressBound(json.len);
    char *fresh = malloc(cap);
    assert_non_null(fresh);
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        ours.len = 0;
        assert_int_equal(hp_compress(HP_ENCODING_ZSTD, levels[i], json.ptr, json.len, &ours), 0);
        size_t n = ZSTD_compress(fresh, cap, json.ptr, json.len, levels[i]);
        assert_false(ZSTD_isError(n));
        assert_int_equal(ours.len, n);
        assert_memory_equal(ours.ptr, fresh, n);
    }
    free(fresh);
    hp_buf_dispose(&ours);
    hp_buf_dispose(&json);
    hp_compress_thread_dispose();
    hp_compress_thread_dispose(); /* twice is harmless */
}

/* cmocka's assertions only work on the test's own thread, so the threads compress and the
 * test checks what they made after joining them. */
typedef struct {
    const hp_buf_t *json;
    hp_buf_t packed[3][CODING_COUNT];
    int failures;
} thread_work_t;

static void *compress_on_thread(void *arg)
{
    thread_work_t *w = arg;
    for (size_t round = 0; round < 3; round++) {
        for (size_t i = 0; i < CODING_COUNT; i++) {
            hp_buf_init(&w->packed[round][i]);
            if (hp_compress(codings[i], hp_compress_default_level(codings[i]), w->json->ptr,
                            w->json->len, &w->packed[round][i]) != 0)
                w->failures++;
        }
    }
    hp_compress_thread_dispose();
    return NULL;
}

static void test_threads_compress_at_once(void **state)
{
    (void)state;
    hp_buf_t json;
    hp_buf_init(&json);
    make_json(&json, 64 * 1024, 5);
    thread_work_t work[4];
    pthread_t threads[4];
    for (size_t t = 0; t < 4; t++) {
        work[t].json = &json;
        work[t].failures = 0;
        assert_int_equal(pthread_create(&threads[t], NULL, compress_on_thread, &work[t]), 0);
    }
    for (size_t t = 0; t < 4; t++)
        assert_int_equal(pthread_join(threads[t], NULL), 0);
    for (size_t t = 0; t < 4; t++) {
        assert_int_equal(work[t].failures, 0);
        for (size_t round = 0; round < 3; round++) {
            for (size_t i = 0; i < CODING_COUNT; i++) {
                hp_buf_t *packed = &work[t].packed[round][i], unpacked;
                hp_buf_init(&unpacked);
                decompress(codings[i], packed->ptr, packed->len, json.len, &unpacked);
                assert_int_equal(unpacked.len, json.len);
                assert_memory_equal(unpacked.ptr, json.ptr, json.len);
                hp_buf_dispose(&unpacked);
                hp_buf_dispose(packed);
            }
        }
    }
    hp_buf_dispose(&json);
}

static int teardown(void **state)
{
    (void)state;
    hp_compress_thread_dispose();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_input_round_trips),
        cmocka_unit_test(test_small_input_round_trips_at_every_level),
        cmocka_unit_test(test_large_json_round_trips_and_shrinks),
        cmocka_unit_test(test_binary_round_trips),
        cmocka_unit_test(test_brotli_window_steps_round_trip),
        cmocka_unit_test(test_identity_appends_the_input),
        cmocka_unit_test(test_invalid_level_or_coding_fails_and_leaves_output),
        cmocka_unit_test(test_default_levels_are_valid),
        cmocka_unit_test(test_threshold),
        cmocka_unit_test(test_zstd_context_reuse_matches_fresh_context),
        cmocka_unit_test(test_threads_compress_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
