/*
 * One-shot compression into an hp_buf_t. Each coder is given the worst-case output size up
 * front (deflateBound, BrotliEncoderMaxCompressedSize, ZSTD_compressBound), so one call
 * compresses the whole body and incompressible input cannot overflow.
 */
#include <limits.h>
#include <stdint.h>
#define ZLIB_CONST /* next_in is const: src stays borrowed and unmodified */
#include <zlib.h>
#include <brotli/encode.h>
#include <zstd.h>
#include "compress/compress.h"

/* The largest brotli window we use: 4 MB, brotli's default, which every browser decodes. */
#define BR_MAX_WINDOW_BITS 22
/* Above this level zstd uses a window over 8 MB, which HTTP decoders may refuse (RFC 9659). */
#define ZSTD_MAX_HTTP_LEVEL 19

/* Reused across calls on one thread: setting a context up again costs about a quarter of the
 * time of compressing a 20 KB body at level 3 (150 us fresh, 117 us reused). It keeps its
 * tables between calls: about 1.3 MB after a 1 MB body at level 3, 17 MB at level 19 (zstd
 * shrinks a workspace that stays oversized). Freed by hp_compress_thread_dispose(). zlib
 * and brotli get a fresh state per call: deflateInit2 + deflateEnd cost 2.5 us. */
static __thread ZSTD_CCtx *zstd_cctx;

static int compress_gzip(int level, const char *src, size_t len, hp_buf_t *out)
{
    z_stream zs = {0};
    /* 16 + MAX_WBITS: a gzip header and trailer instead of a zlib one. */
    if (deflateInit2(&zs, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;

    size_t out_left = deflateBound(&zs, (uLong)len);
    char *dst = hp_buf_reserve(out, out_left);
    zs.next_out = (Bytef *)dst;
    size_t in_left = len;
    zs.next_in = (const Bytef *)src;
    int ret = Z_STREAM_ERROR;
    /* zlib counts in uInt, so a body over 4 GB goes in and out in pieces; the output never
     * needs more than deflateBound, as no flush happens before the end. */
    do {
        if (zs.avail_in == 0 && in_left > 0) {
            zs.avail_in = in_left > UINT_MAX ? UINT_MAX : (uInt)in_left;
            in_left -= zs.avail_in;
        }
        if (zs.avail_out == 0) {
            if (out_left == 0)
                break;
            zs.avail_out = out_left > UINT_MAX ? UINT_MAX : (uInt)out_left;
            out_left -= zs.avail_out;
        }
        ret = deflate(&zs, in_left == 0 ? Z_FINISH : Z_NO_FLUSH);
    } while (ret == Z_OK);

    int ok = ret == Z_STREAM_END;
    if (ok)
        out->len += (size_t)((char *)zs.next_out - dst);
    deflateEnd(&zs);
    return ok ? 0 : -1;
}

/* The smallest window that holds the whole body (brotli's window is 2^bits - 16 bytes), at
 * most 4 MB. A window past the body's end finds nothing more, and at level 9 its bigger
 * match finder costs time: 11 ms instead of under 1 ms for a 20 KB body. */
static int br_window_bits(size_t len)
{
    int bits = BROTLI_MIN_WINDOW_BITS;
    while (bits < BR_MAX_WINDOW_BITS && ((size_t)1 << bits) - 16 < len)
        bits++;
    return bits;
}

static int compress_br(int level, const char *src, size_t len, hp_buf_t *out)
{
    size_t cap = BrotliEncoderMaxCompressedSize(len);
    if (cap == 0) /* the bound overflowed */
        return -1;
    uint8_t *dst = (uint8_t *)hp_buf_reserve(out, cap);
    if (!BrotliEncoderCompress(level, br_window_bits(len), BROTLI_MODE_TEXT, len,
                               (const uint8_t *)src, &cap, dst))
        return -1;
    out->len += cap;
    return 0;
}

static int compress_zstd(int level, const char *src, size_t len, hp_buf_t *out)
{
    if (zstd_cctx == NULL && (zstd_cctx = ZSTD_createCCtx()) == NULL)
        return -1;
    size_t cap = ZSTD_compressBound(len);
    if (ZSTD_isError(cap))
        return -1;
    char *dst = hp_buf_reserve(out, cap);
    /* ZSTD_compressCCtx resets every parameter to those of level, so nothing carries over
     * from the previous call on this thread. The frame records the content size. */
    size_t n = ZSTD_compressCCtx(zstd_cctx, dst, cap, src, len, level);
    if (ZSTD_isError(n))
        return -1;
    out->len += n;
    return 0;
}

int hp_compress(hp_encoding_t enc, int level, const char *src, size_t len, hp_buf_t *out)
{
    if (!hp_compress_level_is_valid(enc, level))
        return -1;
    switch (enc) {
    case HP_ENCODING_IDENTITY:
        if (len != 0)
            hp_buf_append(out, src, len);
        return 0;
    case HP_ENCODING_GZIP: return compress_gzip(level, src, len, out);
    case HP_ENCODING_BR: return compress_br(level, src, len, out);
    case HP_ENCODING_ZSTD: return compress_zstd(level, src, len, out);
    default: return -1;
    }
}

int hp_compress_default_level(hp_encoding_t enc)
{
    switch (enc) {
    case HP_ENCODING_GZIP: return HP_COMPRESS_GZIP_DEFAULT_LEVEL;
    case HP_ENCODING_BR: return HP_COMPRESS_BR_DEFAULT_LEVEL;
    case HP_ENCODING_ZSTD: return HP_COMPRESS_ZSTD_DEFAULT_LEVEL;
    default: return 0;
    }
}

int hp_compress_level_is_valid(hp_encoding_t enc, int level)
{
    switch (enc) {
    case HP_ENCODING_IDENTITY: return 1;
    case HP_ENCODING_GZIP: return level >= 1 && level <= 9;
    case HP_ENCODING_BR: return level >= BROTLI_MIN_QUALITY && level <= BROTLI_MAX_QUALITY;
    case HP_ENCODING_ZSTD: return level >= 1 && level <= ZSTD_MAX_HTTP_LEVEL;
    default: return 0;
    }
}

int hp_compress_is_worth(size_t len, size_t min_bytes)
{
    return len >= min_bytes;
}

const char *hp_compress_token(hp_encoding_t enc)
{
    switch (enc) {
    case HP_ENCODING_IDENTITY: return "identity";
    case HP_ENCODING_GZIP: return "gzip";
    case HP_ENCODING_BR: return "br";
    case HP_ENCODING_ZSTD: return "zstd";
    default: return NULL;
    }
}

void hp_compress_thread_dispose(void)
{
    ZSTD_freeCCtx(zstd_cctx);
    zstd_cctx = NULL;
}
