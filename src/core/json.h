/*
 * The JSON writer: appends JSON tokens to an hp_buf_t. Our own, because output is written
 * straight from database rows and must be fast and exact.
 *
 * Strings are escaped per RFC 8259: '"', '\\' and control characters (U+0000..U+001F, and DEL
 * for safety in HTML contexts is NOT escaped), with the short forms \b \f \n \r \t and \u00XX
 * for the rest. Invalid UTF-8 is never passed through: each invalid byte sequence becomes
 * U+FFFD (the replacement character), so output is always valid UTF-8. Thread-safe (no state).
 */
#ifndef HP_CORE_JSON_H
#define HP_CORE_JSON_H

#include <stdint.h>
#include "core/buf.h"

/* Appends `"..."` with escaping and UTF-8 repair. */
void hp_json_string(hp_buf_t *buf, const char *s, size_t len);
/* Appends the escaped content of a string without the surrounding quotes. */
void hp_json_string_body(hp_buf_t *buf, const char *s, size_t len);
void hp_json_int(hp_buf_t *buf, int64_t v);
/* Shortest text that reads back as the same double; NaN and infinities become null. */
void hp_json_double(hp_buf_t *buf, double v);
static inline void hp_json_null(hp_buf_t *buf)
{
    hp_buf_append_lit(buf, "null");
}
static inline void hp_json_bool(hp_buf_t *buf, int v)
{
    if (v)
        hp_buf_append_lit(buf, "true");
    else
        hp_buf_append_lit(buf, "false");
}
/* Returns 1 when s[0..len) is valid UTF-8. */
int hp_utf8_is_valid(const char *s, size_t len);

#endif
