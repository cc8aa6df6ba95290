/*
 * libFuzzer target for src/compress/negotiate.c: arbitrary bytes as an Accept-Encoding value,
 * negotiated against every allowed mask. Besides crashes and sanitizer reports (libFuzzer's
 * buffer is exactly `size` bytes, so a read past the value is caught), it checks what must
 * hold for any input:
 *   - the result is identity, an allowed coding, or HP_ENCODING_NOT_ACCEPTABLE, and the
 *     identity bit of the mask changes nothing;
 *   - allowing more codings never turns an acceptable answer into 406, and the new answer is
 *     either the old one or a coding newly allowed;
 *   - a ',' always ends an element: appending ", deflate" (a coding we do not produce) or
 *     prepending "deflate, " changes nothing.
 *
 * Built from this file and the pure sources listed in scripts/fuzz.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "compress/compress.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MASK_COUNT (1u << HP_ENCODING__COUNT)

static int is_allowed(hp_encoding_t enc, unsigned mask)
{
    return enc == HP_ENCODING_IDENTITY || (mask & HP_ENCODING_BIT(enc)) != 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *value = (const char *)data;
    hp_encoding_t got[MASK_COUNT];

    for (unsigned mask = 0; mask < MASK_COUNT; mask++) {
        got[mask] = hp_compress_negotiate(value, size, mask);
        if (got[mask] != HP_ENCODING_NOT_ACCEPTABLE && !is_allowed(got[mask], mask))
            abort();
    }
    /* Identity's bit means nothing: it is always available. */
    for (unsigned mask = 0; mask < MASK_COUNT; mask++) {
        if (got[mask] != got[mask & ~HP_ENCODING_BIT(HP_ENCODING_IDENTITY)])
            abort();
    }
    for (unsigned mask = 0; mask < MASK_COUNT; mask++) {
        for (unsigned more = mask; more < MASK_COUNT; more = (more + 1) | mask) {
            /* More choice never makes an acceptable answer unacceptable. */
            if (got[mask] != HP_ENCODING_NOT_ACCEPTABLE && got[more] == HP_ENCODING_NOT_ACCEPTABLE)
                abort();
            /* The winner among fewer codings, still allowed, loses only to a newly allowed
             * coding; so if more's answer was allowed before, it was the answer before. */
            if (got[more] != HP_ENCODING_NOT_ACCEPTABLE && is_allowed(got[more], mask) &&
                got[more] != got[mask])
                abort();
        }
    }
    /* Elements are independent: an unknown coding before or after changes nothing. */
    static const char before[] = "deflate, ", after[] = ", deflate";
    size_t len = sizeof(before) - 1 + size + sizeof(after) - 1;
    char *framed = malloc(len);
    if (framed == NULL)
        return 0;
    memcpy(framed, before, sizeof(before) - 1);
    if (size > 0)
        memcpy(framed + sizeof(before) - 1, data, size);
    memcpy(framed + sizeof(before) - 1 + size, after, sizeof(after) - 1);
    if (hp_compress_negotiate(framed, len, HP_ENCODING_ALL_BITS) != got[HP_ENCODING_ALL_BITS] ||
        hp_compress_negotiate(framed + sizeof(before) - 1, len - (sizeof(before) - 1),
                              HP_ENCODING_ALL_BITS) != got[HP_ENCODING_ALL_BITS])
        abort();
    free(framed);
    return 0;
}
