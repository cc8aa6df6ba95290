/* Tests for src/core/json.c: string escaping, UTF-8 repair, integers and doubles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "core/json.h"

#define FFFD "\xEF\xBF\xBD"

static void check_string(const char *in, size_t len, const char *want)
{
    hp_buf_t b;
    hp_buf_init(&b);
    hp_json_string(&b, in, len);
    if (b.len != strlen(want) || memcmp(b.ptr, want, b.len) != 0)
        fail_msg("got [%.*s], want [%s]", (int)b.len, b.ptr, want);
    assert_true(hp_utf8_is_valid(b.ptr, b.len));
    hp_buf_dispose(&b);
}

#define CHECK_STRING(lit, want) check_string((lit), sizeof(lit) - 1, (want))

static void test_plain_and_short_escapes(void **state)
{
    (void)state;
    CHECK_STRING("", "\"\"");
    CHECK_STRING("hello world, plain ascii text", "\"hello world, plain ascii text\"");
    CHECK_STRING("a\"b\\c/d", "\"a\\\"b\\\\c/d\"");
    CHECK_STRING("\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\"");
    CHECK_STRING("x\x01y\x1f\x7f", "\"x\\u0001y\\u001f\x7f\"");
    CHECK_STRING("nul\0inside", "\"nul\\u0000inside\"");
    /* An escape at every offset of an 8-byte word. */
    CHECK_STRING("0123456\"89abcdef\n", "\"0123456\\\"89abcdef\\n\"");
    CHECK_STRING("01234567\\", "\"01234567\\\\\"");
}

static void test_valid_utf8_passes_through(void **state)
{
    (void)state;
    CHECK_STRING("caf\xC3\xA9", "\"caf\xC3\xA9\"");           /* U+00E9 */
    CHECK_STRING("\xE2\x82\xAC 100", "\"\xE2\x82\xAC 100\""); /* U+20AC */
    CHECK_STRING("\xF0\x9F\x98\x80", "\"\xF0\x9F\x98\x80\""); /* U+1F600 */
    CHECK_STRING("\xF4\x8F\xBF\xBF", "\"\xF4\x8F\xBF\xBF\""); /* U+10FFFF */
    CHECK_STRING("\xEF\xBF\xBF", "\"\xEF\xBF\xBF\"");         /* U+FFFF */
    CHECK_STRING("\xED\x9F\xBF", "\"\xED\x9F\xBF\"");         /* U+D7FF */
    CHECK_STRING("\xEE\x80\x80", "\"\xEE\x80\x80\"");         /* U+E000 */
    CHECK_STRING("\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82",
                 "\"\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82\"");
}

static void test_invalid_utf8_becomes_replacement(void **state)
{
    (void)state;
    CHECK_STRING("a\x80z", "\"a" FFFD "z\"");      /* lone continuation */
    CHECK_STRING("\xC0\xAF", "\"" FFFD FFFD "\""); /* overlong '/' */
    CHECK_STRING("\xC1\xBF", "\"" FFFD FFFD "\"");
    CHECK_STRING("\xE0\x80\xAF", "\"" FFFD FFFD FFFD "\"");          /* overlong 3-byte */
    CHECK_STRING("\xF0\x80\x80\xAF", "\"" FFFD FFFD FFFD FFFD "\""); /* overlong 4-byte */
    CHECK_STRING("\xED\xA0\x80", "\"" FFFD FFFD FFFD "\"");          /* surrogate U+D800 */
    CHECK_STRING("\xED\xBF\xBF", "\"" FFFD FFFD FFFD "\"");          /* surrogate U+DFFF */
    CHECK_STRING("\xF4\x90\x80\x80", "\"" FFFD FFFD FFFD FFFD "\""); /* U+110000 */
    CHECK_STRING("\xF5\x80", "\"" FFFD FFFD "\"");
    CHECK_STRING("\xFF\xFE", "\"" FFFD FFFD "\"");
    /* Truncated sequences: the maximal subpart is one U+FFFD. */
    CHECK_STRING("\xE2\x82", "\"" FFFD "\"");
    CHECK_STRING("\xE2\x82z", "\"" FFFD "z\"");
    CHECK_STRING("\xF0\x9F\x98", "\"" FFFD "\"");
    CHECK_STRING("\xF0\x9F\x98\"", "\"" FFFD "\\\"\"");
    CHECK_STRING("\xC3", "\"" FFFD "\"");
    CHECK_STRING("\xC3\xC3\xA9", "\"" FFFD "\xC3\xA9\"");
}

static void test_string_body_and_long_input(void **state)
{
    (void)state;
    hp_buf_t b;
    hp_buf_init(&b);
    hp_json_string_body(&b, "a\"b", 3);
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.ptr, "a\\\"b", 4);
    hp_buf_dispose(&b);

    /* Longer than one escape chunk, with a multi-byte character straddling chunk edges and an
     * escape every 1000 bytes. */
    size_t n = 100000;
    char *in = malloc(n);
    for (size_t i = 0; i < n; i++)
        in[i] = (char)('a' + i % 26);
    for (size_t i = 999; i < n; i += 1000)
        in[i] = '\n';
    for (size_t i = 16383; i + 1 < n; i += 16384) {
        in[i] = '\xC3';
        in[i + 1] = '\xA9';
    }
    hp_json_string(&b, in, n);
    size_t escapes = n / 1000;
    assert_int_equal(b.len, n + escapes + 2);
    assert_true(hp_utf8_is_valid(b.ptr, b.len));
    hp_buf_dispose(&b);
    in[n - 1] = '\x80'; /* was the last '\n' */
    hp_json_string_body(&b, in, n);
    assert_int_equal(b.len, n + (escapes - 1) + 2); /* the 1-byte 0x80 became 3 bytes */
    assert_memory_equal(b.ptr + b.len - 3, FFFD, 3);
    hp_buf_dispose(&b);
    free(in);
}

static void test_utf8_is_valid(void **state)
{
    (void)state;
    assert_true(hp_utf8_is_valid("", 0));
    assert_true(hp_utf8_is_valid("plain ascii, longer than eight", 30));
    assert_true(hp_utf8_is_valid("caf\xC3\xA9", 5));
    assert_true(hp_utf8_is_valid("\xF0\x9F\x98\x80", 4));
    assert_false(hp_utf8_is_valid("caf\xC3", 4));
    assert_false(hp_utf8_is_valid("\xED\xA0\x80", 3));
    assert_false(hp_utf8_is_valid("\xC0\x80", 2));
    assert_false(hp_utf8_is_valid("\xF4\x90\x80\x80", 4));
    assert_false(hp_utf8_is_valid("abcdefgh\xFF", 9));
}

static void check_int(int64_t v, const char *want)
{
    hp_buf_t b;
    hp_buf_init(&b);
    hp_json_int(&b, v);
    if (b.len != strlen(want) || memcmp(b.ptr, want, b.len) != 0)
        fail_msg("got [%.*s], want [%s]", (int)b.len, b.ptr, want);
    hp_buf_dispose(&b);
}

static void test_integers(void **state)
{
    (void)state;
    check_int(0, "0");
    check_int(7, "7");
    check_int(-7, "-7");
    check_int(10, "10");
    check_int(99, "99");
    check_int(100, "100");
    check_int(-1234567, "-1234567");
    check_int(INT64_MAX, "9223372036854775807");
    check_int(INT64_MIN, "-9223372036854775808");
    char want[32];
    for (int64_t v = 1; v < INT64_MAX / 7; v = v * 7 + 3) {
        snprintf(want, sizeof(want), "%lld", (long long)v);
        check_int(v, want);
    }
}

static void check_double(double v, const char *want)
{
    hp_buf_t b;
    hp_buf_init(&b);
    hp_json_double(&b, v);
    if (b.len != strlen(want) || memcmp(b.ptr, want, b.len) != 0)
        fail_msg("got [%.*s], want [%s]", (int)b.len, b.ptr, want);
    hp_buf_dispose(&b);
}

static void test_doubles_shortest_round_trip(void **state)
{
    (void)state;
    check_double(0.0, "0");
    check_double(-0.0, "-0");
    check_double(1.0, "1");
    check_double(-3.0, "-3");
    check_double(0.1, "0.1");
    check_double(19.99, "19.99");
    check_double(0.1 + 0.2, "0.30000000000000004");
    check_double(1.0 / 3.0, "0.3333333333333333");
    check_double(1e300, "1e+300");
    check_double(1.5e-7, "1.5e-07");
    check_double(9007199254740992.0, "9007199254740992");
    check_double(123456789012.5, "123456789012.5");
    check_double(5e-324, "4.94065645841247e-324"); /* 15 digits read back */
    check_double(1.7976931348623157e308, "1.7976931348623157e+308");
    check_double(NAN, "null");
    check_double(INFINITY, "null");
    check_double(-INFINITY, "null");
}

/* The reference: the fewest of 15, 16, 17 significant digits that read back. */
static void reference_double(char *out, size_t cap, double v)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, cap, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

static void test_doubles_few_decimals_match_reference(void **state)
{
    (void)state;
    check_double(0.05, "0.05");
    check_double(-0.0001, "-0.0001");
    check_double(-23.7, "-23.7");
    check_double(1234.5678, "1234.5678");
    check_double(0.000123, "0.000123");
    hp_buf_t b;
    hp_buf_init(&b);
    char want[64];
    static const double scales[] = {1, 10, 100, 1000, 1e4, 1e6, 1e9};
    for (size_t s = 0; s < sizeof(scales) / sizeof(scales[0]); s++) {
        for (int64_t i = -20000; i <= 20000; i += 7) {
            double v = (double)i / scales[s];
            if (v == trunc(v))
                continue;
            b.len = 0;
            hp_json_double(&b, v);
            reference_double(want, sizeof(want), v);
            if (b.len != strlen(want) || memcmp(b.ptr, want, b.len) != 0)
                fail_msg("%lld/%g: got [%.*s], want [%s]", (long long)i, scales[s], (int)b.len,
                         b.ptr, want);
        }
    }
    hp_buf_dispose(&b);
}

static void test_doubles_read_back_exactly(void **state)
{
    (void)state;
    /* A deterministic spread of values: every output must parse back to the same bits. */
    uint64_t x = 0x9E3779B97F4A7C15ull;
    hp_buf_t b;
    hp_buf_init(&b);
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double v;
        memcpy(&v, &x, sizeof(v));
        if (!isfinite(v))
            continue;
        b.len = 0;
        hp_json_double(&b, v);
        hp_buf_putc(&b, '\0');
        double back = strtod(b.ptr, NULL);
        if (memcmp(&back, &v, sizeof(v)) != 0)
            fail_msg("%s does not read back as %.17g", b.ptr, v);
        /* And a value with a few random decimals, the fast path's domain. */
        double d = (double)(int64_t)(x % 2000000001) / pow(10, (double)(x % 9));
        b.len = 0;
        hp_json_double(&b, d);
        hp_buf_putc(&b, '\0');
        back = strtod(b.ptr, NULL);
        if (memcmp(&back, &d, sizeof(d)) != 0)
            fail_msg("%s does not read back as %.17g", b.ptr, d);
    }
    hp_buf_dispose(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_and_short_escapes),
        cmocka_unit_test(test_valid_utf8_passes_through),
        cmocka_unit_test(test_invalid_utf8_becomes_replacement),
        cmocka_unit_test(test_string_body_and_long_input),
        cmocka_unit_test(test_utf8_is_valid),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_doubles_shortest_round_trip),
        cmocka_unit_test(test_doubles_few_decimals_match_reference),
        cmocka_unit_test(test_doubles_read_back_exactly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
