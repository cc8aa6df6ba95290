/*
 * The JSON writer (json.h). Strings are the hot path (every text value of every row passes
 * through here), so they are written straight into reserved buffer space: eight bytes at a time
 * while no byte needs attention, a 256-entry class table otherwise, and a UTF-8 decoder that
 * follows Unicode's "maximal subpart" practice (Unicode 15, 3.9, U+FFFD substitution): each
 * maximal prefix of a valid sequence that is cut short, and each byte that can start nothing,
 * becomes one U+FFFD. Overlong forms, surrogates (ED A0..BF) and code points above U+10FFFF are
 * rejected by the second-byte ranges below, exactly as the Unicode table of well-formed byte
 * sequences (table 3-7) lists them.
 */
#include "core/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Byte classes. */
enum {
    C_PLAIN = 0, /* copied as is */
    C_ESC,       /* '"', '\\' or a control character */
    C_HIGH,      /* 0x80..0xFF: the start (or not) of a UTF-8 sequence */
};

/* clang-format off */
static const unsigned char byte_class[256] = {
    /* 0x00..0x1F: control characters. */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0x20..0x7F: '"' (0x22) and '\\' (0x5C). */
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0x80..0xFF. */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};
/* clang-format on */

/* The escape written for each C_ESC byte: the second character of a short form, or 'u'. */
static const char short_escape[0x60] = {
    ['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n',  ['\r'] = 'r',
    ['\t'] = 't', ['"'] = '"',  ['\\'] = '\\',
};

static const char hex_lower[] = "0123456789abcdef";

/* True when any of the 8 bytes is < 0x20, '"', '\\' or >= 0x80 (the classic SWAR tests). */
static inline int word_needs_attention(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t lt20 = (x - ones * 0x20) & ~x;
    uint64_t q = x ^ (ones * '"');
    uint64_t has_q = (q - ones) & ~q;
    uint64_t b = x ^ (ones * '\\');
    uint64_t has_b = (b - ones) & ~b;
    return ((lt20 | has_q | has_b | x) & highs) != 0;
}

/* Length of the valid UTF-8 sequence starting at s[0] (a byte >= 0x80), or 0 when it is
 * ill-formed; then *bad is the length of its maximal subpart (1..3), which becomes one U+FFFD. */
static inline size_t utf8_sequence(const unsigned char *s, size_t avail, size_t *bad)
{
    unsigned char b0 = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF; /* the allowed range of the second byte */
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 3;
        if (b0 == 0xE0)
            lo = 0xA0; /* no overlongs */
        else if (b0 == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 4;
        if (b0 == 0xF0)
            lo = 0x90; /* no overlongs */
        else if (b0 == 0xF4)
            hi = 0x8F; /* nothing above U+10FFFF */
    } else {
        *bad = 1; /* a continuation byte, C0, C1 or F5..FF: starts nothing */
        return 0;
    }
    if (avail < 2 || s[1] < lo || s[1] > hi) {
        *bad = 1;
        return 0;
    }
    for (size_t k = 2; k < need; k++) {
        if (k >= avail || (s[k] & 0xC0) != 0x80) {
            *bad = k;
            return 0;
        }
    }
    return need;
}

/* Writes the escaped body of s[0..len) at o, which has room for 6 bytes per input byte plus 3;
 * returns the new end. Stops at `stop` (<= len), or up to 3 bytes past it to finish a sequence. */
static char *escape_into(char *o, const unsigned char *s, size_t *pos, size_t stop, size_t len)
{
    size_t i = *pos;
    while (i < stop) {
        /* Eight plain bytes at a time. */
        while (i + 8 <= stop) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (word_needs_attention(w))
                break;
            memcpy(o, &w, 8);
            o += 8;
            i += 8;
        }
        if (i >= stop)
            break;
        unsigned char c = s[i];
        switch (byte_class[c]) {
        case C_PLAIN:
            *o++ = (char)c;
            i++;
            break;
        case C_ESC:
            *o++ = '\\';
            if (short_escape[c]) {
                *o++ = short_escape[c];
            } else {
                memcpy(o, "u00", 3);
                o[3] = hex_lower[c >> 4];
                o[4] = hex_lower[c & 15];
                o += 5;
            }
            i++;
            break;
        default: {
            size_t bad = 0, n = utf8_sequence(s + i, len - i, &bad);
            if (n) {
                memcpy(o, s + i, n);
                o += n;
                i += n;
            } else {
                memcpy(o, "\xEF\xBF\xBD", 3);
                o += 3;
                i += bad;
            }
            break;
        }
        }
    }
    *pos = i;
    return o;
}

/* Input bytes handled per reservation: bounds the worst-case (6x) reservation for long text. */
#define ESCAPE_CHUNK 16384

void hp_json_string_body(hp_buf_t *buf, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        size_t stop = len - i > ESCAPE_CHUNK ? i + ESCAPE_CHUNK : len;
        char *o = hp_buf_reserve(buf, (stop - i) * 6 + 3);
        char *end = escape_into(o, u, &i, stop, len);
        buf->len += (size_t)(end - o);
    }
}

void hp_json_string(hp_buf_t *buf, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    if (len <= ESCAPE_CHUNK) {
        /* One reservation for the quotes and the body. */
        char *o = hp_buf_reserve(buf, len * 6 + 5);
        char *p = o;
        size_t i = 0;
        *p++ = '"';
        p = escape_into(p, u, &i, len, len);
        *p++ = '"';
        buf->len += (size_t)(p - o);
        return;
    }
    hp_buf_putc(buf, '"');
    hp_json_string_body(buf, s, len);
    hp_buf_putc(buf, '"');
}

int hp_utf8_is_valid(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        while (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, u + i, 8);
            if (w & 0x8080808080808080ull)
                break;
            i += 8;
        }
        if (i >= len)
            break;
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        size_t bad, n = utf8_sequence(u + i, len - i, &bad);
        if (n == 0)
            return 0;
        i += n;
    }
    return 1;
}

/* --- numbers --- */

static const char digit_pairs[201] = "00010203040506070809"
                                     "10111213141516171819"
                                     "20212223242526272829"
                                     "30313233343536373839"
                                     "40414243444546474849"
                                     "50515253545556575859"
                                     "60616263646566676869"
                                     "70717273747576777879"
                                     "80818283848586878889"
                                     "90919293949596979899";

/* Writes v in decimal ending just before `end`; returns the first character. */
static char *format_u64_backwards(char *end, uint64_t v)
{
    char *p = end;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        p -= 2;
        memcpy(p, digit_pairs + r * 2, 2);
    }
    if (v >= 10) {
        p -= 2;
        memcpy(p, digit_pairs + v * 2, 2);
    } else {
        *--p = (char)('0' + v);
    }
    return p;
}

void hp_json_int(hp_buf_t *buf, int64_t v)
{
    char tmp[24];
    char *end = tmp + sizeof(tmp);
    /* Negate in unsigned arithmetic so INT64_MIN works. */
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    char *p = format_u64_backwards(end, mag);
    if (v < 0)
        *--p = '-';
    hp_buf_append(buf, p, (size_t)(end - p));
}

/* Powers of ten that are exact doubles. */
static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* The fast path for the common "few decimals" value (a price, a temperature): the smallest k
 * such that m = round(|v| * 10^k) < 2^53 and m / 10^k == |v|. Both that division and strtod
 * of the text "m with k decimals" are the correctly rounded value of the same rational m/10^k,
 * so the text reads back exactly, and no shorter fixed-point text does (a smaller k failed).
 * Returns the length written to out (at least 40 bytes), or 0 when no such k exists. */
static size_t format_fixed_short(char *out, double v)
{
    double a = fabs(v);
    if (a < 1e-4 || a >= 1e15)
        return 0; /* %g territory: exponent forms are shorter there */
    for (int k = 1; k <= 17; k++) {
        double scaled = a * pow10_exact[k];
        if (scaled >= 9007199254740992.0)
            return 0;
        double m = nearbyint(scaled);
        if (m / pow10_exact[k] != a)
            continue;
        char digits[24];
        char *end = digits + sizeof(digits);
        char *p = format_u64_backwards(end, (uint64_t)m);
        size_t n = (size_t)(end - p), o = 0;
        if (signbit(v))
            out[o++] = '-';
        if (n <= (size_t)k) {
            /* 0.000ddd */
            out[o++] = '0';
            out[o++] = '.';
            for (size_t z = n; z < (size_t)k; z++)
                out[o++] = '0';
            memcpy(out + o, p, n);
            o += n;
        } else {
            memcpy(out + o, p, n - (size_t)k);
            o += n - (size_t)k;
            out[o++] = '.';
            memcpy(out + o, p + n - (size_t)k, (size_t)k);
            o += (size_t)k;
        }
        return o;
    }
    return 0;
}

/* Integral doubles below 2^53 are exact integers: printed as such ("3", not "3.0"), as
 * PostgreSQL prints float8. Then the fixed-point fast path above. Everything else: the fewest
 * of 15, 16 or 17 significant digits that strtod reads back to the same bits (17 always
 * does). */
void hp_json_double(hp_buf_t *buf, double v)
{
    if (!isfinite(v)) {
        hp_json_null(buf);
        return;
    }
    if (v == 0) {
        if (signbit(v))
            hp_buf_append_lit(buf, "-0");
        else
            hp_buf_putc(buf, '0');
        return;
    }
    if (v == trunc(v) && fabs(v) < 9007199254740992.0) {
        hp_json_int(buf, (int64_t)v);
        return;
    }
    char tmp[48];
    size_t fixed = format_fixed_short(tmp, v);
    if (fixed != 0) {
        hp_buf_append(buf, tmp, fixed);
        return;
    }
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
        if (prec == 17 || strtod(tmp, NULL) == v)
            break;
    }
    hp_buf_append(buf, tmp, (size_t)n);
}
