/* Tests for src/http/access_log.c: which X-Request-Id and traceparent values are kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "http/access_log.h"

#define VALID_TP "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

static int id_ok(const char *s)
{
    return hp_http_request_id_is_valid(s, strlen(s));
}

static int tp_ok(const char *s)
{
    return hp_http_traceparent_is_valid(s, strlen(s));
}

static void test_request_id_visible_ascii_is_kept(void **state)
{
    (void)state;
    assert_true(id_ok("a"));
    assert_true(id_ok("f47ac10b-58cc-4372-a567-0e02b2c3d479"));
    assert_true(id_ok("req:42/\"quoted\"\\~!"));
    char longest[HP_REQUEST_ID_MAX_LEN + 1];
    memset(longest, 'x', HP_REQUEST_ID_MAX_LEN);
    longest[HP_REQUEST_ID_MAX_LEN] = '\0';
    assert_true(id_ok(longest));
}

static void test_request_id_empty_long_or_unprintable_is_replaced(void **state)
{
    (void)state;
    assert_false(hp_http_request_id_is_valid(NULL, 0));
    assert_false(id_ok(""));
    assert_false(id_ok("has space"));
    assert_false(id_ok("tab\there"));
    assert_false(id_ok("new\nline"));
    assert_false(id_ok("caf\xc3\xa9"));
    assert_false(id_ok("del\x7f"));
    char too_long[HP_REQUEST_ID_MAX_LEN + 2];
    memset(too_long, 'x', HP_REQUEST_ID_MAX_LEN + 1);
    too_long[HP_REQUEST_ID_MAX_LEN + 1] = '\0';
    assert_false(id_ok(too_long));
}

static void test_traceparent_version_00_is_exactly_55_bytes(void **state)
{
    (void)state;
    assert_true(tp_ok(VALID_TP));
    assert_true(tp_ok("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"));
    assert_false(tp_ok(VALID_TP "-extra"));
    assert_false(tp_ok("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1"));
}

static void test_traceparent_later_versions_may_go_on(void **state)
{
    (void)state;
    assert_true(tp_ok("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
    assert_true(tp_ok("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-follows"));
    assert_false(tp_ok("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x"));
    assert_false(tp_ok("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
}

static void test_traceparent_bad_fields_are_refused(void **state)
{
    (void)state;
    assert_false(tp_ok(""));
    assert_false(tp_ok("00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01")); /* upper case */
    assert_false(tp_ok("00-00000000000000000000000000000000-00f067aa0ba902b7-01")); /* zero trace */
    assert_false(
        tp_ok("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01")); /* zero parent */
    assert_false(tp_ok("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g"));
    assert_false(tp_ok("00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
    assert_false(tp_ok("00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_id_visible_ascii_is_kept),
        cmocka_unit_test(test_request_id_empty_long_or_unprintable_is_replaced),
        cmocka_unit_test(test_traceparent_version_00_is_exactly_55_bytes),
        cmocka_unit_test(test_traceparent_later_versions_may_go_on),
        cmocka_unit_test(test_traceparent_bad_fields_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
