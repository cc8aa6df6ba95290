/* Tests for src/compress/negotiate.c: Accept-Encoding values and the coding each one gets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "compress/compress.h"

#define ALL HP_ENCODING_ALL_BITS
#define GZ HP_ENCODING_BIT(HP_ENCODING_GZIP)
#define BR HP_ENCODING_BIT(HP_ENCODING_BR)
#define ZS HP_ENCODING_BIT(HP_ENCODING_ZSTD)

#define IDENTITY HP_ENCODING_IDENTITY
#define GZIP HP_ENCODING_GZIP
#define BROTLI HP_ENCODING_BR
#define ZSTD HP_ENCODING_ZSTD
#define REFUSED HP_ENCODING_NOT_ACCEPTABLE

typedef struct {
    const char *header;
    unsigned allowed;
    hp_encoding_t want;
} case_t;

static const char *name_of(hp_encoding_t enc)
{
    return enc == REFUSED ? "406" : hp_compress_token(enc);
}

static void run_table(const case_t *cases, size_t count)
{
    int failures = 0;
    for (size_t i = 0; i < count; i++) {
        const case_t *c = &cases[i];
        hp_encoding_t got = hp_compress_negotiate(c->header, strlen(c->header), c->allowed);
        if (got != c->want) {
            print_error("[%s] allowed=%#x: got %s, want %s\n", c->header, c->allowed, name_of(got),
                        name_of(c->want));
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

#define RUN_TABLE(cases) run_table((cases), sizeof(cases) / sizeof((cases)[0]))

static void test_absent_or_empty_header_gets_identity(void **state)
{
    (void)state;
    assert_int_equal(hp_compress_negotiate(NULL, 0, ALL), IDENTITY);
    assert_int_equal(hp_compress_negotiate("gzip", 0, ALL), IDENTITY);
    static const case_t cases[] = {
        {"", ALL, IDENTITY},
        {" ", ALL, IDENTITY},
        {",", ALL, IDENTITY},
    };
    RUN_TABLE(cases);
}

static void test_single_codings(void **state)
{
    (void)state;
    static const case_t cases[] = {
        {"gzip", ALL, GZIP},
        {"br", ALL, BROTLI},
        {"zstd", ALL, ZSTD},
        {"identity", ALL, IDENTITY},
        {"x-gzip", ALL, GZIP},
        {"deflate", ALL, IDENTITY},
        {"compress, deflate", ALL, IDENTITY},
    };
    RUN_TABLE(cases);
}

static void test_equal_q_goes_to_server_preference(void **state)
{
    (void)state;
    static const case_t cases[] = {
        {"gzip, deflate, br", ALL, BROTLI}, /* what browsers send */
        {"gzip, deflate, br, zstd", ALL, BROTLI},
        {"zstd, gzip", ALL, ZSTD},
        {"gzip, zstd", ALL, ZSTD},
        {"identity, gzip", ALL, GZIP},
        {"identity, br", ALL, BROTLI},
        {"gzip;q=0.5, identity;q=0.5", ALL, GZIP},
        {"gzip;q=0.5, br;q=0.5, zstd;q=0.5", ALL, BROTLI},
    };
    RUN_TABLE(cases);
}

static void test_highest_q_wins(void **state)
{
    (void)state;
    static const case_t cases[] = {
        {"br;q=0.5, gzip", ALL, GZIP},
        {"br;q=0.8, gzip;q=0.9", ALL, GZIP},
        {"gzip;q=1.0, br;q=0.999", ALL, GZIP},
        {"br;q=0.001, zstd;q=0.002", ALL, ZSTD},
        {"identity, gzip;q=0.5", ALL, IDENTITY},
        {"*;q=0.5, identity;q=0.6, br;q=0.5", ALL, IDENTITY},
        /* A named coding with any q > 0 beats identity left implicit. */
        {"gzip;q=0.001", ALL, GZIP},
        {"br;q=0", ALL, IDENTITY},
        {"gzip;q=0, br;q=0, zstd;q=0", ALL, IDENTITY},
    };
    RUN_TABLE(cases);
}

static void test_qvalue_grammar(void **state)
{
    (void)state;
    static const case_t cases[] = {
        {"gzip;q=1", ALL, GZIP},
        {"gzip;q=1.", ALL, GZIP},
        {"gzip;q=1.000", ALL, GZIP},
        {"gzip;q=0.", ALL, IDENTITY},
        {"gzip;q=0.000", ALL, IDENTITY},
        {"gzip;q=0.001", ALL, GZIP},
        /* Malformed q: the element is ignored, as if gzip were not named. */
        {"gzip;q=1.001", ALL, IDENTITY},
        {"gzip;q=1.0000", ALL, IDENTITY},
        {"gzip;q=0.0001", ALL, IDENTITY},
        {"gzip;q=0.5555", ALL, IDENTITY},
        {"gzip;q=2", ALL, IDENTITY},
        {"gzip;q=.5", ALL, IDENTITY},
        {"gzip;q=-0", ALL, IDENTITY},
        {"gzip;q=", ALL, IDENTITY},
        {"gzip;q", ALL, IDENTITY},
        {"gzip;q=0.5x", ALL, IDENTITY},
        {"gzip;q=0,5", ALL, IDENTITY},
        {"gzip;q=\"0.5\"", ALL, IDENTITY},
        {"br;q=abc, gzip", ALL, GZIP},
        /* A malformed refusal does not refuse. */
        {"identity;q=x", 0, IDENTITY},
    };
    RUN_TABLE(cases);
}

static void test_star_covers_codings_not_named(void **state)
{
    (void)state;
    static const case_t cases[] = {
        {"*", ALL, BROTLI},       {"*", GZ, GZIP},
        {"*", 0, IDENTITY},       {"*;q=0.5, gzip", ALL, GZIP},
        {"*, br;q=0", ALL, ZSTD}, {"*, br;q=0, zstd;q=0", ALL, GZIP},
        {"*;q=0.1", 0, IDENTITY}, {"*;q=0, gzip", ALL, GZIP},
    };
    RUN_TABLE(cases);
}

static void test_refused_identity_is_not_acceptable(void **state)
{
    (void)state;
    static const case_t cases[] = {
        {"identity;q=0", ALL, REFUSED},
        {"identity;q=0", 0, REFUSED},
        {"*;q=0", ALL, REFUSED},
        {"*;q=0, identity;q=0", ALL, REFUSED},
        {"identity;q=0, *", ALL, BROTLI},
        {"identity;q=0, *", 0, REFUSED},
        {"*;q=0, identity", ALL, IDENTITY},
        {"*;q=0, identity;q=0.1", 0, IDENTITY},
        {"gzip, identity;q=0", ALL, GZIP},
        {"gzip, identity;q=0", BR | ZS, REFUSED},
        {"br, identity;q=0", GZ, REFUSED},
        {"gzip;q=0, identity;q=0", ALL, REFUSED},
    };
    RUN_TABLE(cases);
}

static void test_allowed_mask_limits_the_choice(void **state)
{
    (void)state;
    static const case_t cases[] = {
        {"br, gzip", GZ, GZIP},
        {"br, gzip", ZS, IDENTITY},
        {"br", GZ, IDENTITY},
        {"gzip", 0, IDENTITY},
        {"gzip, br, zstd", GZ | ZS, ZSTD},
        {"gzip;q=0.9, br, zstd;q=0.8", GZ | ZS, GZIP},
        /* Bits beyond the codings are ignored. */
        {"gzip", ~0u, GZIP},
        {"identity;q=0", ~0u, REFUSED},
    };
    RUN_TABLE(cases);
}

static void test_case_insensitive_names(void **state)
{
    (void)state;
    static const case_t cases[] = {
        {"GZIP", ALL, GZIP},   {"Br", ALL, BROTLI},          {"ZStd;Q=0.5, gzip;q=0.4", ALL, ZSTD},
        {"X-GZIP", ALL, GZIP}, {"IDENTITY;Q=0", 0, REFUSED},
    };
    RUN_TABLE(cases);
}

static void test_whitespace_around_everything(void **state)
{
    (void)state;
    static const case_t cases[] = {
        {"  gzip  ;  q=0.5  ,  br ; q = 0.4 ", ALL, GZIP},
        {"gzip\t;\tq=0.2,\tbr;q=0.1", ALL, GZIP},
        {"   br   ", ALL, BROTLI},
        {", , gzip , ,", ALL, GZIP},
        {"gzip,br", ALL, BROTLI},
    };
    RUN_TABLE(cases);
}

static void test_garbage_is_ignored(void **state)
{
    (void)state;
    static const case_t cases[] = {
        {",,,", ALL, IDENTITY},
        {";;;", ALL, IDENTITY},
        {";q=0", ALL, IDENTITY},
        {"\"gzip\"", ALL, IDENTITY},
        {"gzip br", ALL, IDENTITY},
        {"gzip br, zstd", ALL, ZSTD},
        {"gzip;;q=0.5", ALL, IDENTITY},
        {"gzip;=1", ALL, IDENTITY},
        {"gz\x01ip, br", ALL, BROTLI},
        {"gzip\xff, br", ALL, BROTLI},
        {"\xc3\xa9, gzip", ALL, GZIP},
        {"gzip, *gzip, br*", ALL, GZIP},
        {"**", ALL, IDENTITY},
        {"gzip;q=0.5;", ALL, IDENTITY},
        /* Parameters other than q are tolerated and skipped. */
        {"gzip;level=9", ALL, GZIP},
        {"gzip;foo=bar;q=0.1, br;q=0.05", ALL, GZIP},
        {"gzip;foo;q=0.1, br;q=0.05", ALL, GZIP},
    };
    RUN_TABLE(cases);
}

static void test_first_mention_of_a_coding_counts(void **state)
{
    (void)state;
    static const case_t cases[] = {
        {"gzip;q=0, gzip", ALL, IDENTITY},
        {"br, br;q=0", ALL, BROTLI},
        {"gzip;q=9, gzip;q=0.3", ALL, GZIP}, /* the malformed first one does not count */
        {"gzip, x-gzip;q=0", ALL, GZIP},
    };
    RUN_TABLE(cases);
}

static void test_reads_only_len_bytes(void **state)
{
    (void)state;
    const char header[] = "gzip, br";
    assert_int_equal(hp_compress_negotiate(header, 4, ALL), GZIP);
    assert_int_equal(hp_compress_negotiate(header, 3, ALL), IDENTITY);     /* "gzi" */
    assert_int_equal(hp_compress_negotiate("br;q=0.5", 6, ALL), IDENTITY); /* "br;q=0" */
    const char nul[] = "gz\0ip, zstd";
    assert_int_equal(hp_compress_negotiate(nul, sizeof(nul) - 1, ALL), ZSTD);
}

static void test_tokens(void **state)
{
    (void)state;
    assert_string_equal(hp_compress_token(HP_ENCODING_IDENTITY), "identity");
    assert_string_equal(hp_compress_token(HP_ENCODING_GZIP), "gzip");
    assert_string_equal(hp_compress_token(HP_ENCODING_BR), "br");
    assert_string_equal(hp_compress_token(HP_ENCODING_ZSTD), "zstd");
    assert_null(hp_compress_token(HP_ENCODING__COUNT));
    /* Each token negotiates back to its own coding. */
    for (int e = HP_ENCODING_IDENTITY; e < HP_ENCODING__COUNT; e++) {
        const char *t = hp_compress_token((hp_encoding_t)e);
        assert_int_equal(hp_compress_negotiate(t, strlen(t), ALL), e);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_absent_or_empty_header_gets_identity),
        cmocka_unit_test(test_single_codings),
        cmocka_unit_test(test_equal_q_goes_to_server_preference),
        cmocka_unit_test(test_highest_q_wins),
        cmocka_unit_test(test_qvalue_grammar),
        cmocka_unit_test(test_star_covers_codings_not_named),
        cmocka_unit_test(test_refused_identity_is_not_acceptable),
        cmocka_unit_test(test_allowed_mask_limits_the_choice),
        cmocka_unit_test(test_case_insensitive_names),
        cmocka_unit_test(test_whitespace_around_everything),
        cmocka_unit_test(test_garbage_is_ignored),
        cmocka_unit_test(test_first_mention_of_a_coding_counts),
        cmocka_unit_test(test_reads_only_len_bytes),
        cmocka_unit_test(test_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
