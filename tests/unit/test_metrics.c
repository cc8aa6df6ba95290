/* Tests for src/metrics/metrics.c: counting on several slots and the rendered text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "metrics/metrics.h"

static char *render(hp_metrics_t *m, const hp_metrics_extra_t *extra)
{
    hp_buf_t b;
    hp_buf_init(&b);
    hp_metrics_render(m, extra, &b);
    hp_buf_putc(&b, '\0');
    size_t len;
    return hp_buf_take(&b, &len);
}

/* Fails unless `line` is one whole line of text. */
static void assert_line(const char *text, const char *line)
{
    size_t len = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; ++p)
        if ((p == text || p[-1] == '\n') && p[len] == '\n')
            return;
    fail_msg("no line [%s] in:\n%s", line, text);
}

static void test_method_classes(void **state)
{
    (void)state;
    assert_int_equal(hp_metrics_method_class("GET", 3), HP_METRICS_GET);
    assert_int_equal(hp_metrics_method_class("HEAD", 4), HP_METRICS_GET);
    assert_int_equal(hp_metrics_method_class("POST", 4), HP_METRICS_POST);
    assert_int_equal(hp_metrics_method_class("PATCH", 5), HP_METRICS_PATCH);
    assert_int_equal(hp_metrics_method_class("DELETE", 6), HP_METRICS_DELETE);
    assert_int_equal(hp_metrics_method_class("OPTIONS", 7), HP_METRICS_OTHER_METHOD);
    assert_int_equal(hp_metrics_method_class("PUT", 3), HP_METRICS_OTHER_METHOD);
    assert_int_equal(hp_metrics_method_class("", 0), HP_METRICS_OTHER_METHOD);
}

static void test_counts_summed_over_slots(void **state)
{
    (void)state;
    hp_metrics_t *m = hp_metrics_create(2, 1700000000);
    hp_metrics_slot_t *a = hp_metrics_slot(m, 0), *b = hp_metrics_slot(m, 1);
    for (int i = 0; i != 6; ++i)
        hp_metrics_request_started(i % 2 ? a : b);
    hp_metrics_request_done(a, HP_METRICS_GET, 200, 50000);        /* exactly 0.00005: le */
    hp_metrics_request_done(b, HP_METRICS_GET, 200, 100000);       /* exactly 0.0001: le */
    hp_metrics_request_done(b, HP_METRICS_GET, 304, 300000);       /* 0.0005 bucket */
    hp_metrics_request_done(a, HP_METRICS_POST, 404, 2000000);     /* 0.0025 bucket */
    hp_metrics_request_done(a, HP_METRICS_DELETE, 0, 3000000000u); /* +Inf, no status */
    hp_metrics_batch(a, 1);
    hp_metrics_batch(b, 37); /* the 64 bucket */
    hp_metrics_db_wait(a, 40000);
    hp_metrics_db_wait(b, 2000000);
    hp_metrics_compressed(a, 1000, 300);
    hp_metrics_compressed(b, 500, 200);
    hp_cache_stats_t cs = {.hits = 3,
                           .stale_hits = 1,
                           .misses = 2,
                           .waits = 4,
                           .publishes = 9,
                           .evictions = 5,
                           .invalidated = 6,
                           .rejected = 7,
                           .expired = 8,
                           .bytes = 1234,
                           .entries = 2};
    hp_metrics_pool_t pool = {
        .open = 3, .max = 8, .busy = 5, .waiting = 1, .acquired = 9, .acquire_ns = 1500000};
    hp_metrics_extra_t extra = {.db_statements = 42, .cache = &cs, .pool = &pool};
    char *text = render(m, &extra);

    assert_line(text, "# HELP hotpath_http_requests_total API requests answered, by method (HEAD "
                      "counts as GET) and status class (other: no status was sent)");
    assert_line(text, "# TYPE hotpath_http_requests_total counter");
    assert_line(text, "hotpath_http_requests_total{method=\"GET\",code=\"2xx\"} 2");
    assert_line(text, "hotpath_http_requests_total{method=\"GET\",code=\"3xx\"} 1");
    assert_line(text, "hotpath_http_requests_total{method=\"GET\",code=\"4xx\"} 0");
    assert_line(text, "hotpath_http_requests_total{method=\"POST\",code=\"4xx\"} 1");
    assert_line(text, "hotpath_http_requests_total{method=\"DELETE\",code=\"other\"} 1");
    assert_line(text, "hotpath_http_requests_total{method=\"other\",code=\"5xx\"} 0");
    assert_line(text, "hotpath_http_not_modified_total 1");
    assert_line(text, "# TYPE hotpath_http_requests_in_flight gauge");
    assert_line(text, "hotpath_http_requests_in_flight 1");
    assert_line(text, "# TYPE hotpath_http_request_duration_seconds histogram");
    assert_line(text, "hotpath_http_request_duration_seconds_bucket{le=\"0.00001\"} 0");
    assert_line(text, "hotpath_http_request_duration_seconds_bucket{le=\"0.000025\"} 0");
    assert_line(text, "hotpath_http_request_duration_seconds_bucket{le=\"0.00005\"} 1");
    assert_line(text, "hotpath_http_request_duration_seconds_bucket{le=\"0.0001\"} 2");
    assert_line(text, "hotpath_http_request_duration_seconds_bucket{le=\"0.00025\"} 2");
    assert_line(text, "hotpath_http_request_duration_seconds_bucket{le=\"0.0005\"} 3");
    assert_line(text, "hotpath_http_request_duration_seconds_bucket{le=\"0.001\"} 3");
    assert_line(text, "hotpath_http_request_duration_seconds_bucket{le=\"0.0025\"} 4");
    assert_line(text, "hotpath_http_request_duration_seconds_bucket{le=\"2.5\"} 4");
    assert_line(text, "hotpath_http_request_duration_seconds_bucket{le=\"+Inf\"} 5");
    assert_line(text, "hotpath_http_request_duration_seconds_sum 3.002450000");
    assert_line(text, "hotpath_http_request_duration_seconds_count 5");
    assert_line(text, "# TYPE hotpath_db_statements_total counter");
    assert_line(text, "hotpath_db_statements_total 42");
    assert_line(text, "hotpath_cache_hits_total 3");
    assert_line(text, "hotpath_cache_stale_hits_total 1");
    assert_line(text, "hotpath_cache_misses_total 2");
    assert_line(text, "hotpath_cache_waits_total 4");
    assert_line(text, "hotpath_cache_evictions_total 5");
    assert_line(text, "hotpath_cache_invalidated_total 6");
    assert_line(text, "hotpath_cache_rejected_total 7");
    assert_line(text, "# TYPE hotpath_cache_bytes gauge");
    assert_line(text, "hotpath_cache_bytes 1234");
    assert_line(text, "hotpath_cache_entries 2");
    assert_line(text, "# TYPE process_start_time_seconds gauge");
    assert_line(text, "process_start_time_seconds 1700000000");
    assert_line(text, "# TYPE hotpath_db_batch_size histogram");
    assert_line(text, "hotpath_db_batch_size_bucket{le=\"1\"} 1");
    assert_line(text, "hotpath_db_batch_size_bucket{le=\"32\"} 1");
    assert_line(text, "hotpath_db_batch_size_bucket{le=\"64\"} 2");
    assert_line(text, "hotpath_db_batch_size_sum 38");
    assert_line(text, "hotpath_db_batch_size_count 2");
    assert_line(text, "hotpath_db_duration_seconds_bucket{le=\"0.00005\"} 1");
    assert_line(text, "hotpath_db_duration_seconds_bucket{le=\"0.0025\"} 2");
    assert_line(text, "hotpath_db_duration_seconds_count 2");
    assert_line(text, "hotpath_compressed_responses_total 2");
    assert_line(text, "hotpath_compression_original_bytes_total 1500");
    assert_line(text, "hotpath_compression_sent_bytes_total 500");
    assert_line(text, "hotpath_db_pool_connections 3");
    assert_line(text, "hotpath_db_pool_max_connections 8");
    assert_line(text, "hotpath_db_pool_busy 5");
    assert_line(text, "hotpath_db_pool_waiting 1");
    assert_line(text, "hotpath_db_pool_acquired_total 9");
    assert_line(text, "hotpath_db_pool_acquire_seconds_total 0.001500");
    /* 25 request series, 18 buckets, and every line ends with a newline. */
    size_t series = 0, buckets = 0;
    for (const char *p = text; (p = strstr(p, "hotpath_http_requests_total{")) != NULL; ++p)
        ++series;
    for (const char *p = text; (p = strstr(p, "request_duration_seconds_bucket{le=")) != NULL; ++p)
        ++buckets;
    assert_int_equal(series, 25);
    assert_int_equal(buckets, 18);
    assert_int_equal(text[strlen(text) - 1], '\n');
    free(text);
    hp_metrics_destroy(m);
}

static void test_no_cache_metrics_when_cache_is_off(void **state)
{
    (void)state;
    hp_metrics_t *m = hp_metrics_create(1, 0);
    hp_metrics_extra_t extra = {.db_statements = 0, .cache = NULL};
    char *text = render(m, &extra);
    assert_null(strstr(text, "hotpath_cache_"));
    assert_line(text, "hotpath_http_requests_in_flight 0");
    assert_line(text, "hotpath_http_request_duration_seconds_sum 0.000000000");
    assert_line(text, "hotpath_http_request_duration_seconds_count 0");
    assert_line(text, "hotpath_db_statements_total 0");
    free(text);
    hp_metrics_destroy(m);
}

static char *render_json(hp_metrics_t *m, const hp_metrics_extra_t *extra, uint64_t now_ms)
{
    hp_buf_t b;
    hp_buf_init(&b);
    hp_metrics_render_json(m, extra, now_ms, &b);
    hp_buf_putc(&b, '\0');
    size_t len;
    return hp_buf_take(&b, &len);
}

/* Fails unless `part` occurs in text. */
static void assert_has(const char *text, const char *part)
{
    if (strstr(text, part) == NULL)
        fail_msg("no [%s] in:\n%s", part, text);
}

static void test_json_has_the_same_figures(void **state)
{
    (void)state;
    hp_metrics_t *m = hp_metrics_create(2, 1700000000);
    hp_metrics_slot_t *a = hp_metrics_slot(m, 0), *b = hp_metrics_slot(m, 1);
    for (int i = 0; i != 4; ++i)
        hp_metrics_request_started(i % 2 ? a : b);
    hp_metrics_request_done(a, HP_METRICS_GET, 200, 20000);        /* 0.000025 bucket */
    hp_metrics_request_done(b, HP_METRICS_GET, 304, 20000);        /* 0.000025 bucket */
    hp_metrics_request_done(b, HP_METRICS_POST, 500, 3000000000u); /* +Inf */
    hp_cache_stats_t cs = {
        .hits = 3, .stale_hits = 1, .misses = 2, .waits = 4, .bytes = 9, .entries = 2};
    hp_metrics_extra_t extra = {.db_statements = 42, .cache = &cs};
    char *text = render_json(m, &extra, 12345);
    assert_has(text, "{\"monotonic_ms\":12345,\"start_time_seconds\":1700000000,");
    assert_has(text, "\"requests_by_status\":{\"2xx\":1,\"3xx\":1,\"4xx\":0,\"5xx\":1,"
                     "\"other\":0},\"requests\":3,\"not_modified\":1,\"in_flight\":1,");
    assert_has(text, "\"bounds\":[0.00001,0.000025,0.00005,0.0001,");
    assert_has(text, "\"cumulative\":[0,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,3],\"sum\":3.000040000,"
                     "\"count\":3}");
    assert_has(text, "\"db_statements\":42,\"cache\":{\"hits\":3,\"stale_hits\":1,\"misses\":2,"
                     "\"waits\":4,");
    assert_has(text, "\"pool\":null}\n");
    free(text);
    extra.cache = NULL;
    text = render_json(m, &extra, 0);
    assert_has(text, "\"cache\":null,\"admission\":{\"shed\":0,\"client_denied\":0,"
                     "\"limit\":null,\"max\":null,\"in_flight\":null},\"pool\":null}");
    free(text);
    hp_metrics_destroy(m);
}

/* Database admission: the refusals counted per loop and summed, the limiter's gauges when
 * there is one (text and JSON). */
static void test_admission_metrics(void **state)
{
    (void)state;
    hp_metrics_t *m = hp_metrics_create(2, 0);
    hp_metrics_shed(hp_metrics_slot(m, 0));
    hp_metrics_shed(hp_metrics_slot(m, 1));
    hp_metrics_client_denied(hp_metrics_slot(m, 1));
    hp_metrics_extra_t extra = {.db_statements = 0};
    char *text = render(m, &extra);
    assert_line(text, "hotpath_db_shed_total 2");
    assert_line(text, "hotpath_db_client_denied_total 1");
    assert_null(strstr(text, "hotpath_db_concurrency_limit"));
    free(text);
    hp_metrics_admission_t adm = {.limit = 17, .max = 1000, .in_flight = 5, .mean_ns = 1500000};
    extra.admission = &adm;
    text = render(m, &extra);
    assert_line(text, "hotpath_db_concurrency_limit 17");
    assert_line(text, "hotpath_db_concurrency_max 1000");
    assert_line(text, "hotpath_db_jobs_in_flight 5");
    assert_line(text, "hotpath_db_job_mean_seconds 0.001500");
    free(text);
    text = render_json(m, &extra, 0);
    assert_has(text, "\"admission\":{\"shed\":2,\"client_denied\":1,\"limit\":17,\"max\":1000,"
                     "\"in_flight\":5}");
    free(text);
    hp_metrics_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_method_classes),
        cmocka_unit_test(test_counts_summed_over_slots),
        cmocka_unit_test(test_no_cache_metrics_when_cache_is_off),
        cmocka_unit_test(test_json_has_the_same_figures),
        cmocka_unit_test(test_admission_metrics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
