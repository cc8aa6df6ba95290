/* Tests for bench/loadgen_http.c: how a response's end is found, in pieces of any size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "loadgen_http.h"

static lg_http_response_t *new_response(void)
{
    lg_http_response_t *r = malloc(sizeof(*r));
    lg_http_response_init(r, 0);
    return r;
}

/* Feeds `text` in pieces of `piece` bytes; returns the bytes consumed. */
static size_t feed_in_pieces(lg_http_response_t *r, const char *text, size_t piece)
{
    size_t len = strlen(text), used = 0;
    while (used != len) {
        size_t n = len - used < piece ? len - used : piece;
        size_t took = lg_http_response_feed(r, text + used, n);
        used += took;
        if (took != n)
            break;
    }
    return used;
}

static const char content_length_response[] = "HTTP/1.1 200 OK\r\n"
                                              "Content-Type: application/json\r\n"
                                              "content-length: 11\r\n"
                                              "\r\n"
                                              "[{\"id\":42}]";

static void test_content_length_in_any_pieces(void **state)
{
    (void)state;
    static const size_t pieces[] = {1, 2, 3, 7, 64, 4096};
    for (size_t i = 0; i != sizeof(pieces) / sizeof(pieces[0]); ++i) {
        lg_http_response_t *r = new_response();
        size_t used = feed_in_pieces(r, content_length_response, pieces[i]);
        assert_int_equal(used, strlen(content_length_response));
        assert_int_equal(r->state, LG_HTTP_DONE);
        assert_int_equal(r->status, 200);
        assert_int_equal(r->body_len, 11);
        assert_int_equal(r->wire_len, strlen(content_length_response));
        assert_false(r->wants_close);
        free(r);
    }
}

static const char chunked_response[] = "HTTP/1.1 200 OK\r\n"
                                       "Transfer-Encoding: gzip, chunked\r\n"
                                       "Content-Length: 999\r\n"
                                       "\r\n"
                                       "5;name=value\r\nhello\r\n"
                                       "1A\r\nabcdefghijklmnopqrstuvwxyz\r\n"
                                       "0\r\n"
                                       "X-Trailer: yes\r\n"
                                       "\r\n";

/* Chunked beats Content-Length; extensions and trailers are skipped. */
static void test_chunked_with_extension_and_trailer(void **state)
{
    (void)state;
    static const size_t pieces[] = {1, 5, 4096};
    for (size_t i = 0; i != sizeof(pieces) / sizeof(pieces[0]); ++i) {
        lg_http_response_t *r = new_response();
        size_t used = feed_in_pieces(r, chunked_response, pieces[i]);
        assert_int_equal(used, strlen(chunked_response));
        assert_int_equal(r->state, LG_HTTP_DONE);
        assert_int_equal(r->body_len, 5 + 26);
        assert_int_equal(r->wire_len, strlen(chunked_response));
        free(r);
    }
}

/* Bytes after the end of a response are left for the caller. */
static void test_stops_at_the_end_of_the_response(void **state)
{
    (void)state;
    char two[512];
    snprintf(two, sizeof(two), "%s%s", content_length_response, content_length_response);
    lg_http_response_t *r = new_response();
    assert_int_equal(lg_http_response_feed(r, two, strlen(two)), strlen(content_length_response));
    assert_int_equal(r->state, LG_HTTP_DONE);
    assert_int_equal(lg_http_response_feed(r, "x", 1), 0);
    free(r);
}

static void test_connection_close_and_http10(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int wants_close;
    } cases[] = {
        {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 1},
        {"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", 0},
        {"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 1},
        {"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", 0},
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        lg_http_response_t *r = new_response();
        feed_in_pieces(r, cases[i].text, 4096);
        assert_int_equal(r->state, LG_HTTP_DONE);
        assert_int_equal(r->wants_close, cases[i].wants_close);
        free(r);
    }
}

/* Neither length nor chunked: the body runs to the end of the connection. */
static void test_body_delimited_by_close(void **state)
{
    (void)state;
    lg_http_response_t *r = new_response();
    feed_in_pieces(r, "HTTP/1.1 200 OK\r\n\r\nall of this", 3);
    assert_int_equal(r->state, LG_HTTP_BODY_TO_EOF);
    assert_true(r->wants_close);
    assert_int_equal(lg_http_response_eof(r), 0);
    assert_int_equal(r->state, LG_HTTP_DONE);
    assert_int_equal(r->body_len, 11);
    free(r);
}

static void test_truncated_body_is_an_error(void **state)
{
    (void)state;
    lg_http_response_t *r = new_response();
    feed_in_pieces(r, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", 4096);
    assert_int_equal(r->state, LG_HTTP_BODY);
    assert_int_equal(lg_http_response_eof(r), -1);
    assert_int_equal(r->state, LG_HTTP_ERROR);
    assert_non_null(r->error);
    free(r);
}

/* 204, 304 and answers to HEAD have no body whatever their headers say. */
static void test_responses_without_body(void **state)
{
    (void)state;
    lg_http_response_t *r = new_response();
    feed_in_pieces(r, "HTTP/1.1 304 Not Modified\r\nContent-Length: 75\r\n\r\n", 4096);
    assert_int_equal(r->state, LG_HTTP_DONE);
    assert_int_equal(r->status, 304);
    assert_int_equal(r->body_len, 0);
    lg_http_response_init(r, 1);
    feed_in_pieces(r, "HTTP/1.1 200 OK\r\nContent-Length: 75\r\n\r\n", 4096);
    assert_int_equal(r->state, LG_HTTP_DONE);
    free(r);
}

/* A 100 Continue is skipped; its bytes still count on the wire. */
static void test_interim_response_is_skipped(void **state)
{
    (void)state;
    const char *text =
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}";
    lg_http_response_t *r = new_response();
    assert_int_equal(feed_in_pieces(r, text, 4096), strlen(text));
    assert_int_equal(r->state, LG_HTTP_DONE);
    assert_int_equal(r->status, 404);
    assert_int_equal(r->wire_len, strlen(text));
    free(r);
}

static void test_malformed_responses(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "HTTP/2 200 OK\r\n\r\n",
        "HTTP/1.1 2x0 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n",
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        lg_http_response_t *r = new_response();
        feed_in_pieces(r, cases[i], 4096);
        assert_int_equal(r->state, LG_HTTP_ERROR);
        assert_non_null(r->error);
        free(r);
    }
}

static void test_overlong_line_is_an_error(void **state)
{
    (void)state;
    lg_http_response_t *r = new_response();
    feed_in_pieces(r, "HTTP/1.1 200 OK\r\nX-Long: ", 4096);
    char *filler = malloc(LG_HTTP_LINE_MAX);
    memset(filler, 'a', LG_HTTP_LINE_MAX);
    assert_int_equal(lg_http_response_feed(r, filler, LG_HTTP_LINE_MAX), 0);
    assert_int_equal(r->state, LG_HTTP_ERROR);
    free(filler);
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_length_in_any_pieces),
        cmocka_unit_test(test_chunked_with_extension_and_trailer),
        cmocka_unit_test(test_stops_at_the_end_of_the_response),
        cmocka_unit_test(test_connection_close_and_http10),
        cmocka_unit_test(test_body_delimited_by_close),
        cmocka_unit_test(test_truncated_body_is_an_error),
        cmocka_unit_test(test_responses_without_body),
        cmocka_unit_test(test_interim_response_is_skipped),
        cmocka_unit_test(test_malformed_responses),
        cmocka_unit_test(test_overlong_line_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
