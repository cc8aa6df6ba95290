/* Streamed reads on PostgreSQL (src/db/pg/stream.c, db.h "Streamed results") against a live
 * server: HP_TEST_PG is the URI of a role that may create databases (scripts/test-unit.sh starts
 * a cluster and sets it). Each run makes its own database, opens it with hp_db_open, attaches
 * an h2o event loop and drives jobs planned by src/query through hp_db_submit,
 * hp_db_stream_next and hp_db_stream_cancel, as the HTTP layer does. The pieces of a streamed
 * read, concatenated, must be byte for byte the body of the same read unstreamed
 * (stream_after_bytes 0: the json_agg statement). Without HP_TEST_PG every test is skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <libpq-fe.h>
#include "test_pg_fixture.h"
#include "test_query_fixture.h"

#include "core/time.h"
#include "db/db.h"

#define ITEMS 5000
#define DEADLINE_NS (20ull * 1000000000ull) /* any one read ends within this, or fails */

static const char fixture_sql[] =
    "CREATE TABLE owners (id int PRIMARY KEY, name text NOT NULL);"
    "INSERT INTO owners SELECT g, 'owner ' || g FROM generate_series(1, 50) g;"
    "CREATE TABLE items (id int PRIMARY KEY, owner_id int REFERENCES owners(id), name text,"
    "  price numeric(10,2), at timestamptz, tags jsonb, flag boolean, note text, ratio float8);"
    "INSERT INTO items SELECT g, 1 + g % 50, 'item \"' || g || '\", with comma', g * 1.25,"
    "  timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute 1.5 seconds',"
    "  jsonb_build_object('g', g, 'l', jsonb_build_array(g, 'x')), g % 3 = 0,"
    "  CASE WHEN g % 7 = 0 THEN NULL ELSE E'line\\nbreak ' || g END, g / 3.0"
    "  FROM generate_series(1, 5000) g;"
    "CREATE TABLE parts (id int PRIMARY KEY, item_id int REFERENCES items(id), label text);"
    "INSERT INTO parts SELECT g, 1 + g % 5000, 'p' || g FROM generate_series(1, 8000) g;"
    "CREATE TABLE nothing (id int PRIMARY KEY, v text);"
    /* Fails at its 4000th row: after the first pieces of a stream. */
    "CREATE VIEW failing AS SELECT g AS id, 100 / (g - 4000) AS v, repeat('x', 40) AS pad"
    "  FROM generate_series(1, 5000) g;";

typedef struct {
    test_pg_db_t pg;
    char uri[512];
    h2o_evloop_t *loop;
    h2o_multithread_queue_t *queue;
    h2o_multithread_receiver_t receiver;
    hp_db_t *db; /* opened per test: each test chooses its pool */
} fixture_t;

/* What a read brought back, piece by piece. */
typedef struct {
    hp_db_t *db;
    hp_buf_t body; /* the pieces concatenated */
    size_t pieces;
    size_t max_piece;
    int streamed;       /* some piece came with is_streaming */
    int is_paused;      /* a piece is with us: the driver calls next or cancel */
    int is_done;        /* the last piece (or the whole body) came */
    unsigned callbacks; /* on_done calls */
    hp_errcode_t code;
    char sqlstate[6];
    char message[256];
    int64_t first_total; /* result.total with the first piece */
    int64_t total;
    uint64_t rows;
} outcome_t;

static void on_done(hp_db_job_t *job)
{
    outcome_t *o = job->data;
    hp_exec_result_t *r = &job->result;
    ++o->callbacks;
    if (o->callbacks == 1)
        o->first_total = r->total;
    size_t len;
    char *bytes = hp_buf_take(&r->body, &len);
    if (len != 0)
        hp_buf_append(&o->body, bytes, len);
    free(bytes);
    ++o->pieces;
    if (len > o->max_piece)
        o->max_piece = len;
    o->streamed |= r->is_streaming;
    if (r->error.code != HP_OK || !r->is_streaming || r->is_last) {
        o->is_done = 1;
        o->code = r->error.code;
        memcpy(o->sqlstate, r->error.sqlstate, sizeof(o->sqlstate));
        snprintf(o->message, sizeof(o->message), "%s",
                 r->error.message != NULL ? r->error.message : "");
        o->total = r->total;
        o->rows = r->row_count;
        return;
    }
    o->is_paused = 1;
}

static fixture_t *fixture_or_skip(void **state)
{
    return test_pg_fixture_or_skip(state);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    if (test_pg_db_create(&f->pg, "hp_unit_stream") != 0) {
        free(f);
        *state = NULL;
        return 0;
    }
    test_pg_exec_ok(f->pg.conn, fixture_sql);
    snprintf(f->uri, sizeof(f->uri), "postgres://%s@%s:%s/%s", PQuser(f->pg.admin),
             PQhost(f->pg.admin), PQport(f->pg.admin), f->pg.dbname);
    f->loop = h2o_evloop_create();
    f->queue = h2o_multithread_create_queue(f->loop);
    h2o_multithread_register_receiver(f->queue, &f->receiver, hp_db_on_replies);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    if (f == NULL)
        return 0;
    h2o_multithread_unregister_receiver(f->queue, &f->receiver);
    h2o_multithread_destroy_queue(f->queue);
    test_pg_db_drop(&f->pg);
    free(f);
    return 0;
}

static void open_db_with(fixture_t *f, unsigned pool, const char *replicas)
{
    hp_db_options_t opts = {0};
    opts.uri = f->uri;
    opts.replicas = replicas;
    opts.pool = pool;
    opts.pool_acquire_ms = 10000;
    opts.pipeline = 4;
    opts.loops = 1;
    char err[256] = "";
    f->db = hp_db_open(&opts, err, sizeof(err));
    if (f->db == NULL)
        fail_msg("hp_db_open: %s", err);
    if (hp_db_attach_thread(f->db, f->loop, err, sizeof(err)) != 0)
        fail_msg("attach: %s", err);
}

static void open_db(fixture_t *f, unsigned pool)
{
    open_db_with(f, pool, NULL);
}

static void close_db(fixture_t *f)
{
    hp_db_detach_thread(f->db);
    hp_db_close(f->db);
    f->db = NULL;
}

/* Plans GET /resource?query into a new job (format JSON or CSV, Prefer: count=exact when
 * counted) and submits it. */
static hp_db_job_t *submit(fixture_t *f, const char *resource, const char *query,
                           hp_format_t format, int counted, size_t stream_after_bytes, outcome_t *o)
{
    memset(o, 0, sizeof(*o));
    hp_buf_init(&o->body);
    o->db = f->db;
    hp_db_job_t *job = hp_db_job_create();
    hp_request_t req = test_query_request(HP_METHOD_GET, resource, query, NULL);
    req.format = format;
    if (counted)
        req.prefer.count = HP_COUNT_EXACT;
    hp_plan_t *plan = h2o_mem_alloc_pool(&job->pool, sizeof(*plan));
    hp_error_t err = {0};
    hp_query_options_t qopts = {-1};
    hp_schema_t *schema = hp_db_schema(f->db);
    int rc = hp_query_plan(&req, schema, HP_DIALECT_POSTGRES, &qopts, plan, &err, &job->pool);
    hp_schema_unref(schema);
    if (rc != 0)
        fail_msg("plan %s?%s: %s", resource, query, err.message);
    job->exec = &plan->exec;
    job->reply_to = &f->receiver;
    job->on_done = on_done;
    job->data = o;
    job->stream_after_bytes = stream_after_bytes;
    hp_db_submit(f->db, job);
    return job;
}

/* Runs the loop until cond(o) holds (or the deadline: the test fails). */
static void run_until(fixture_t *f, int (*cond)(const outcome_t *), const outcome_t *o)
{
    uint64_t deadline = hp_time_mono_ns() + DEADLINE_NS;
    while (!cond(o)) {
        if (hp_time_mono_ns() > deadline)
            fail_msg("timed out");
        h2o_evloop_run(f->loop, 5);
        hp_db_thread_tick(f->db);
    }
}

static int is_paused_or_done(const outcome_t *o)
{
    return o->is_paused || o->is_done;
}

/* Drives a read to its end, asking for every next piece; cancel_after > 0 cancels instead
 * once that many pieces came. */
static void drive(fixture_t *f, hp_db_job_t *job, outcome_t *o, size_t cancel_after)
{
    for (;;) {
        run_until(f, is_paused_or_done, o);
        if (o->is_done)
            break;
        o->is_paused = 0;
        if (cancel_after != 0 && o->pieces >= cancel_after)
            hp_db_stream_cancel(f->db, job);
        else
            hp_db_stream_next(f->db, job);
    }
    hp_db_job_destroy(job);
}

static void read_all(fixture_t *f, const char *resource, const char *query, hp_format_t format,
                     int counted, size_t stream_after_bytes, outcome_t *o)
{
    hp_db_job_t *job = submit(f, resource, query, format, counted, stream_after_bytes, o);
    drive(f, job, o, 0);
}

/* The same read unstreamed and streamed: the same bytes, rows and total. Returns the
 * streamed pieces' count. */
static size_t check_identical(fixture_t *f, const char *resource, const char *query,
                              hp_format_t format, int counted, size_t stream_after_bytes)
{
    outcome_t whole, streamed;
    read_all(f, resource, query, format, counted, 0, &whole);
    read_all(f, resource, query, format, counted, stream_after_bytes, &streamed);
    assert_int_equal(whole.code, HP_OK);
    assert_int_equal(streamed.code, HP_OK);
    assert_int_equal(whole.pieces, 1);
    assert_false(whole.streamed);
    if (whole.body.len != streamed.body.len ||
        memcmp(whole.body.ptr, streamed.body.ptr, whole.body.len) != 0) {
        size_t at = 0;
        while (at < whole.body.len && at < streamed.body.len &&
               whole.body.ptr[at] == streamed.body.ptr[at])
            ++at;
        fail_msg("%s?%s: %zu bytes whole, %zu streamed, first difference at %zu: ...%.40s... vs "
                 "...%.40s...",
                 resource, query, whole.body.len, streamed.body.len, at,
                 whole.body.ptr + (at > 20 ? at - 20 : 0),
                 streamed.body.ptr + (at > 20 ? at - 20 : 0));
    }
    assert_int_equal(whole.rows, streamed.rows);
    assert_int_equal(whole.total, streamed.total);
    assert_int_equal(streamed.first_total, streamed.total);
    /* The bound on memory: no piece much past stream_after_bytes. */
    if (streamed.streamed && streamed.max_piece > 2 * stream_after_bytes)
        fail_msg("%s?%s: a piece of %zu bytes (stream_after_bytes %zu)", resource, query,
                 streamed.max_piece, stream_after_bytes);
    size_t pieces = streamed.pieces;
    hp_buf_dispose(&whole.body);
    hp_buf_dispose(&streamed.body);
    return pieces;
}

static void test_json_streams_the_bytes_json_agg_renders(void **state)
{
    fixture_t *f = fixture_or_skip(state);
    open_db(f, 4);
    /* numeric, timestamptz, jsonb, booleans, NULLs, quotes and newlines in text, float8 */
    size_t pieces = check_identical(f, "items", "order=id", HP_FORMAT_JSON, 0, 8192);
    assert_true(pieces > 20);
    /* a threshold larger than the result: one piece, unstreamed, the same bytes */
    assert_int_equal(check_identical(f, "items", "order=id", HP_FORMAT_JSON, 0, 64 << 20), 1);
    close_db(f);
}

static void test_csv_streams_header_and_lines(void **state)
{
    fixture_t *f = fixture_or_skip(state);
    open_db(f, 4);
    assert_true(check_identical(f, "items", "order=id.desc", HP_FORMAT_CSV, 0, 4096) > 20);
    assert_true(check_identical(f, "items", "select=id,note&note=is.null&order=id", HP_FORMAT_CSV,
                                0, 1024) > 1);
    close_db(f);
}

static void test_embeds_render_per_row_as_in_the_aggregate(void **state)
{
    fixture_t *f = fixture_or_skip(state);
    open_db(f, 4);
    assert_true(check_identical(f, "items",
                                "select=id,name,owners(name),parts(id,label)&order=id&parts.order="
                                "id.desc",
                                HP_FORMAT_JSON, 0, 16384) > 10);
    assert_true(check_identical(f, "owners", "select=*,items(id,price)&order=id", HP_FORMAT_JSON, 0,
                                4096) > 10);
    close_db(f);
}

static void test_count_exact_is_known_with_the_first_piece(void **state)
{
    fixture_t *f = fixture_or_skip(state);
    open_db(f, 4);
    assert_true(
        check_identical(f, "items", "id=gt.100&order=id&offset=10", HP_FORMAT_JSON, 1, 4096) > 10);
    outcome_t o;
    read_all(f, "items", "id=gt.100&order=id&offset=10", HP_FORMAT_JSON, 1, 4096, &o);
    assert_true(o.streamed);
    assert_int_equal(o.first_total, ITEMS - 100);
    assert_int_equal(o.rows, ITEMS - 110);
    hp_buf_dispose(&o.body);
    close_db(f);
}

static void test_empty_and_small_results_come_back_whole(void **state)
{
    fixture_t *f = fixture_or_skip(state);
    open_db(f, 4);
    outcome_t o;
    read_all(f, "nothing", "", HP_FORMAT_JSON, 1, 16, &o);
    assert_int_equal(o.code, HP_OK);
    assert_false(o.streamed);
    assert_int_equal(o.body.len, 2);
    assert_memory_equal(o.body.ptr, "[]", 2);
    assert_int_equal(o.total, 0);
    hp_buf_dispose(&o.body);
    read_all(f, "nothing", "", HP_FORMAT_CSV, 0, 16, &o);
    assert_false(o.streamed);
    assert_int_equal(o.body.len, 5);
    assert_memory_equal(o.body.ptr, "id,v\n", 5);
    hp_buf_dispose(&o.body);
    assert_int_equal(check_identical(f, "nothing", "", HP_FORMAT_JSON, 1, 16), 1);
    assert_int_equal(check_identical(f, "nothing", "", HP_FORMAT_CSV, 1, 16), 1);
    assert_int_equal(check_identical(f, "items", "id=lt.4&order=id", HP_FORMAT_JSON, 0, 1 << 20),
                     1);
    close_db(f);
}

/* A read without a limit is first a pipelined probe of stream_after_bytes / 1024 + 1 rows
 * (5 here): when they are all, it is answered whole at once, even past stream_after_bytes;
 * one row more and it starts over as a stream. Errors are the json_agg statement's. */
static void test_small_reads_are_answered_by_the_probe(void **state)
{
    fixture_t *f = fixture_or_skip(state);
    open_db(f, 4);
    assert_int_equal(check_identical(f, "items", "id=lt.6&order=id", HP_FORMAT_JSON, 0, 4096), 1);
    assert_int_equal(check_identical(f, "items", "id=lt.7&order=id", HP_FORMAT_JSON, 0, 4096), 1);
    assert_int_equal(check_identical(f, "items", "id=lt.6&order=id", HP_FORMAT_CSV, 0, 4096), 1);
    assert_int_equal(check_identical(f, "items", "id=lt.600&order=id", HP_FORMAT_CSV, 0, 1 << 20),
                     1);
    /* 4 rows of about 2.5 KB each: more than stream_after_bytes, answered whole */
    outcome_t o;
    read_all(f, "owners", "select=*,items(id,price)&id=lt.5&order=id", HP_FORMAT_JSON, 0, 4096, &o);
    assert_int_equal(o.code, HP_OK);
    assert_false(o.streamed);
    assert_true(o.body.len > 4096);
    hp_buf_dispose(&o.body);
    assert_int_equal(check_identical(f, "owners", "select=*,items(id,price)&id=lt.5&order=id",
                                     HP_FORMAT_JSON, 0, 4096),
                     1);
    /* the same error as the json_agg statement's */
    outcome_t whole, probed;
    read_all(f, "items", "price=gt.abc", HP_FORMAT_JSON, 0, 0, &whole);
    read_all(f, "items", "price=gt.abc", HP_FORMAT_JSON, 0, 4096, &probed);
    assert_int_equal(whole.code, HP_ERR_DB_STATE);
    assert_int_equal(probed.code, HP_ERR_DB_STATE);
    assert_string_equal(whole.sqlstate, "22P02");
    assert_string_equal(probed.sqlstate, "22P02");
    assert_string_equal(whole.message, probed.message);
    assert_int_equal(probed.body.len, 0);
    hp_buf_dispose(&whole.body);
    hp_buf_dispose(&probed.body);
    close_db(f);
}

/* While a piece is with the owner nothing more is fetched (no on_done), and the other reads
 * of the pool go on meanwhile on another connection. */
static void test_a_held_piece_fetches_nothing_and_blocks_no_one(void **state)
{
    fixture_t *f = fixture_or_skip(state);
    open_db(f, 2);
    outcome_t s, other;
    hp_db_job_t *job = submit(f, "items", "order=id", HP_FORMAT_JSON, 0, 4096, &s);
    run_until(f, is_paused_or_done, &s);
    assert_true(s.is_paused);
    unsigned calls = s.callbacks;
    for (int i = 0; i != 5; ++i) {
        hp_db_job_t *j = submit(f, "owners", "id=lt.10", HP_FORMAT_JSON, 0, 4096, &other);
        drive(f, j, &other, 0);
        if (other.code != HP_OK)
            fail_msg("a read beside the held stream failed: %s %s", other.sqlstate, other.message);
        assert_false(other.streamed);
        hp_buf_dispose(&other.body);
    }
    assert_int_equal(s.callbacks, calls); /* nothing was fetched for the held stream */
    assert_true(s.body.len <= 2 * 4096);
    s.is_paused = 0;
    hp_db_stream_next(f->db, job);
    drive(f, job, &s, 0);
    assert_int_equal(s.code, HP_OK);
    assert_int_equal(s.rows, ITEMS);
    hp_buf_dispose(&s.body);
    close_db(f);
}

/* Cancel mid-stream: the owner hears HP_ERR_CANCELLED once, and the connection goes back to
 * the pool healthy (more streams and reads run on it). Meanwhile (db-pool 2: streams may hold
 * one connection, the other is kept for everyone else) a second large read is not streamed but
 * rendered whole, the same bytes. */
static void test_cancel_frees_the_connection(void **state)
{
    fixture_t *f = fixture_or_skip(state);
    open_db(f, 2);
    outcome_t a, b;
    hp_db_job_t *ja = submit(f, "items", "order=id", HP_FORMAT_JSON, 0, 4096, &a);
    run_until(f, is_paused_or_done, &a);
    assert_true(a.is_paused);
    assert_int_equal(check_identical(f, "items", "order=id", HP_FORMAT_CSV, 1, 4096), 1);
    a.is_paused = 0;
    hp_db_stream_cancel(f->db, ja);
    assert_false(a.is_done); /* never inside the call: on_done comes from the loop */
    run_until(f, is_paused_or_done, &a);
    assert_true(a.is_done);
    assert_int_equal(a.code, HP_ERR_CANCELLED);
    hp_db_job_destroy(ja);
    /* The stream's connection is free again once its ROLLBACK came back (a read or two
     * later): then the next large read streams again. */
    int attempts = 0;
    do {
        if (attempts++ != 0)
            hp_buf_dispose(&b.body);
        hp_db_job_t *jb = submit(f, "items", "order=id", HP_FORMAT_CSV, 0, 4096, &b);
        drive(f, jb, &b, 3);
    } while (!b.streamed && attempts < 100);
    assert_true(b.streamed);
    assert_int_equal(b.pieces, 4);
    assert_int_equal(b.code, HP_ERR_CANCELLED);
    hp_buf_dispose(&a.body);
    hp_buf_dispose(&b.body);
    /* and again after that cancel: identical bytes, streamed again once its ROLLBACK is back */
    size_t pieces = 0;
    for (int i = 0; i != 100 && pieces < 2; ++i)
        pieces = check_identical(f, "items", "order=id&select=id,name", HP_FORMAT_JSON, 1, 4096);
    assert_true(pieces > 1);
    hp_db_pool_stats_t st;
    hp_db_pool_stats(f->db, &st);
    assert_int_equal(st.busy, 0);
    assert_int_equal(st.waiting, 0);
    assert_true(st.open <= 2);
    close_db(f);
}

static void test_an_error_after_the_first_piece_is_the_last_piece(void **state)
{
    fixture_t *f = fixture_or_skip(state);
    open_db(f, 2);
    outcome_t whole, s;
    read_all(f, "failing", "", HP_FORMAT_JSON, 0, 0, &whole);
    assert_int_equal(whole.code, HP_ERR_DB_STATE);
    assert_string_equal(whole.sqlstate, "22012");
    read_all(f, "failing", "", HP_FORMAT_JSON, 0, 4096, &s);
    assert_true(s.streamed);
    assert_true(s.pieces > 2);
    assert_int_equal(s.code, HP_ERR_DB_STATE);
    assert_string_equal(s.sqlstate, "22012");
    hp_buf_dispose(&whole.body);
    hp_buf_dispose(&s.body);
    /* the connection is fine afterwards */
    check_identical(f, "items", "order=id", HP_FORMAT_JSON, 0, 4096);
    close_db(f);
}

/* db-pool 1 leaves no connection to hold: the read runs unstreamed, whole. Small limits keep
 * the single statement too. */
static void test_no_stream_without_a_spare_connection_or_with_a_small_limit(void **state)
{
    fixture_t *f = fixture_or_skip(state);
    open_db(f, 1);
    assert_int_equal(check_identical(f, "items", "order=id", HP_FORMAT_JSON, 0, 4096), 1);
    close_db(f);
    open_db(f, 4);
    assert_int_equal(check_identical(f, "items", "order=id&limit=1000", HP_FORMAT_JSON, 0, 4096),
                     1);
    assert_true(check_identical(f, "items", "order=id&limit=1001", HP_FORMAT_JSON, 0, 4096) > 1);
    close_db(f);
}

/* The server ends the connection of a stream whose piece is with its owner: the owner hears
 * it as an error piece when it asks for the next one, and the pool goes on. */
static void test_a_connection_lost_under_a_held_piece(void **state)
{
    fixture_t *f = fixture_or_skip(state);
    open_db(f, 3);
    outcome_t s;
    hp_db_job_t *job = submit(f, "items", "order=id", HP_FORMAT_JSON, 0, 4096, &s);
    run_until(f, is_paused_or_done, &s);
    assert_true(s.is_paused);
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s' AND "
             "state = 'idle in transaction'",
             f->pg.dbname);
    PGresult *r = PQexec(f->pg.conn, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_true(PQntuples(r) >= 1); /* ours, and perhaps a closing one of an earlier test */
    PQclear(r);
    /* The loop sees the connection go while the piece is still with us: no on_done yet. */
    unsigned calls = s.callbacks;
    uint64_t until = hp_time_mono_ns() + DEADLINE_NS;
    while (hp_db_is_reachable(f->db) && hp_time_mono_ns() < until)
        h2o_evloop_run(f->loop, 5);
    assert_false(hp_db_is_reachable(f->db));
    assert_int_equal(s.callbacks, calls);
    s.is_paused = 0;
    hp_db_stream_next(f->db, job);
    drive(f, job, &s, 0);
    assert_int_equal(s.callbacks, calls + 1);
    assert_int_not_equal(s.code, HP_OK);
    hp_buf_dispose(&s.body);
    /* The pool saw its only connection break (the server is down for it, retried with
     * backoff): reads answer again once it has reconnected. */
    uint64_t deadline = hp_time_mono_ns() + DEADLINE_NS;
    outcome_t probe;
    do {
        read_all(f, "owners", "id=eq.1", HP_FORMAT_JSON, 0, 0, &probe);
        hp_buf_dispose(&probe.body);
        h2o_evloop_run(f->loop, 5);
    } while (probe.code != HP_OK && hp_time_mono_ns() < deadline);
    assert_int_equal(probe.code, HP_OK);
    assert_true(check_identical(f, "items", "order=id", HP_FORMAT_CSV, 1, 4096) > 1);
    close_db(f);
}

/* Reads go to a replica (here the same server named again): streams run there the same. */
static void test_streams_on_a_replica(void **state)
{
    fixture_t *f = fixture_or_skip(state);
    open_db_with(f, 3, f->uri);
    assert_true(check_identical(f, "items", "order=id", HP_FORMAT_JSON, 1, 4096) > 1);
    assert_true(check_identical(f, "owners", "select=*,items(id,price)&order=id", HP_FORMAT_CSV, 0,
                                4096) > 1);
    close_db(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_streams_the_bytes_json_agg_renders),
        cmocka_unit_test(test_csv_streams_header_and_lines),
        cmocka_unit_test(test_embeds_render_per_row_as_in_the_aggregate),
        cmocka_unit_test(test_count_exact_is_known_with_the_first_piece),
        cmocka_unit_test(test_empty_and_small_results_come_back_whole),
        cmocka_unit_test(test_small_reads_are_answered_by_the_probe),
        cmocka_unit_test(test_a_held_piece_fetches_nothing_and_blocks_no_one),
        cmocka_unit_test(test_cancel_frees_the_connection),
        cmocka_unit_test(test_an_error_after_the_first_piece_is_the_last_piece),
        cmocka_unit_test(test_no_stream_without_a_spare_connection_or_with_a_small_limit),
        cmocka_unit_test(test_a_connection_lost_under_a_held_piece),
        cmocka_unit_test(test_streams_on_a_replica),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
