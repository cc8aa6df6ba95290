/*
 * Response compression: choosing a content coding from Accept-Encoding (RFC 9110 12.5.3) and
 * compressing a whole body in one call with gzip (zlib), br (libbrotlienc) or zstd (libzstd).
 *
 * Pure: no socket or database header, no global mutable state except one zstd context per
 * thread. Every function may be called from any thread. A body is compressed once, when a
 * cached entry is first asked for that coding, so these calls favour ratio at a moderate speed;
 * see docs/compression.md for the measured levels.
 *
 * Owns nothing the caller sees: output goes into the caller's hp_buf_t. The per-thread zstd
 * context is created on first use and kept until hp_compress_thread_dispose().
 */
#ifndef HP_COMPRESS_COMPRESS_H
#define HP_COMPRESS_COMPRESS_H

#include <stddef.h>
#include "core/buf.h"

/* The content codings hotpath can send. The values index arrays: the cache keeps one variant
 * per coding in HP_CACHE_ENCODINGS slots (src/cache/cache.h), which must equal
 * HP_ENCODING__COUNT (tests/unit/test_cache.c asserts it). HP_ENCODING__COUNT is never a
 * valid coding. */
typedef enum {
    HP_ENCODING_IDENTITY,
    HP_ENCODING_GZIP,
    HP_ENCODING_BR,
    HP_ENCODING_ZSTD,
    HP_ENCODING__COUNT
} hp_encoding_t;

/* What hp_compress_negotiate returns when the client refused identity (identity;q=0, or *;q=0
 * without an identity entry) and accepts none of the allowed codings: answer 406, or ignore
 * the refusal and send identity, as RFC 9110 permits. Not an index: check before using one. */
#define HP_ENCODING_NOT_ACCEPTABLE HP_ENCODING__COUNT

/* Bits for the allowed_mask of hp_compress_negotiate. Identity needs no bit: it is always
 * available. */
#define HP_ENCODING_BIT(enc) (1u << (enc))
#define HP_ENCODING_ALL_BITS                                               \
    (HP_ENCODING_BIT(HP_ENCODING_GZIP) | HP_ENCODING_BIT(HP_ENCODING_BR) | \
     HP_ENCODING_BIT(HP_ENCODING_ZSTD))

/* Bodies shorter than this are sent as they are by default: below about 1 KB the bytes saved
 * do not pay for the header and the CPU. */
#define HP_COMPRESS_DEFAULT_MIN_BYTES 1024

/* Default levels (docs/compression.md has the measurements behind them). */
#define HP_COMPRESS_GZIP_DEFAULT_LEVEL 6
#define HP_COMPRESS_BR_DEFAULT_LEVEL 5
#define HP_COMPRESS_ZSTD_DEFAULT_LEVEL 3

/* --- negotiation --- */

/* Picks the coding for a response from the Accept-Encoding value (not NUL-terminated; NULL or
 * len 0 when the header is absent or empty: identity). The highest q among the codings in
 * allowed_mask (HP_ENCODING_BIT) and identity wins; equal q goes to br, then zstd, then gzip,
 * then identity. q=0 means "not acceptable". "x-gzip" counts as gzip. Malformed elements are
 * ignored, as are unknown codings; never fails. Returns HP_ENCODING_NOT_ACCEPTABLE only when
 * identity was refused and nothing allowed is acceptable. */
hp_encoding_t hp_compress_negotiate(const char *accept_encoding, size_t len, unsigned allowed_mask);

/* --- compression --- */

/* Compresses len bytes of src with enc at level, appending one complete gzip member, brotli
 * stream or zstd frame to out (identity appends src unchanged; level is then ignored). Returns
 * 0, or -1 on an invalid enc or level or a library error, with out->len as before (its
 * capacity may have grown). src is borrowed. */
int hp_compress(hp_encoding_t enc, int level, const char *src, size_t len, hp_buf_t *out);

/* The default level for enc (0 for identity). */
int hp_compress_default_level(hp_encoding_t enc);
/* Whether hp_compress accepts level for enc: gzip 1-9, br 0-11, zstd 1-19 (20-22 need a window
 * over the 8 MB that HTTP zstd decoders must support, RFC 9659); any level for identity. */
int hp_compress_level_is_valid(hp_encoding_t enc, int level);

/* Whether a body of len bytes is worth compressing: len >= min_bytes (the operator's setting,
 * HP_COMPRESS_DEFAULT_MIN_BYTES by default). Whether the result came out smaller is a separate
 * check the caller makes after hp_compress. */
int hp_compress_is_worth(size_t len, size_t min_bytes);

/* The Content-Encoding token for enc: "gzip", "br", "zstd", or "identity" (which is never sent
 * as a header: an identity response has no Content-Encoding). NULL for a value out of range.
 * Static storage. */
const char *hp_compress_token(hp_encoding_t enc);

/* --- per-thread state --- */

/* Frees the calling thread's zstd context, if hp_compress made one. Call before a thread that
 * compressed exits; calling it again, or on a thread that never compressed, does nothing. */
void hp_compress_thread_dispose(void);

#endif
