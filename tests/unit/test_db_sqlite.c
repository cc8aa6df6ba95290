/*
 * Tests for src/db/db.c and src/db/sqlite/: a real SQLite file per test, a real h2o event
 * loop whose receiver gets the finished jobs (as a server loop would), hand-written
 * hp_exec_t jobs, and exact rendered bodies. (The test includes sqlite3.h to build its fixture
 * file, and the backend's internal header for the time-budget tests, which drive one
 * connection directly.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdatomic.h>

#include "db/db.h"
#include "db/sqlite/sqlite.h"

static const char fixture_sql[] =
    "CREATE TABLE users (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  email TEXT NOT NULL UNIQUE CHECK (length(email) > 3),\n"
    "  name TEXT,\n"
    "  active BOOLEAN NOT NULL DEFAULT 1,\n"
    "  score REAL,\n"
    "  avatar BLOB,\n"
    "  prefs JSON\n"
    ");\n"
    "CREATE TABLE orders (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  user_id INTEGER NOT NULL REFERENCES USERS,\n"
    "  status TEXT NOT NULL DEFAULT 'pending',\n"
    "  total NUMERIC\n"
    ");\n"
    "CREATE TABLE profiles (user_id INTEGER PRIMARY KEY REFERENCES users(id), bio TEXT);\n"
    "CREATE TABLE tags (k TEXT, v TEXT, PRIMARY KEY (v, k)) WITHOUT ROWID;\n"
    "CREATE VIEW active_users AS SELECT id, email FROM users WHERE active;\n"
    "INSERT INTO users VALUES (1, 'ann@example.com', 'Ann', 1, 1.5, x'00ff10', "
    "'{\"theme\":\"dark\"}');\n"
    "INSERT INTO users VALUES (2, 'bob@example.com', 'Bob \"B\", Jr.', 0, 0.1, NULL, 'not json');\n"
    "INSERT INTO users VALUES (3, 'cy@example.com', NULL, 1, NULL, x'', '[1,2]');\n"
    "INSERT INTO orders VALUES (10, 1, 'completed', 9.99), (11, 1, 'pending', 20), (12, 2, "
    "'completed', 5);\n"
    "INSERT INTO tags VALUES ('color', 'red');\n";

typedef struct {
    char dir[64];
    char path[96];
    h2o_evloop_t *loop;
    h2o_multithread_queue_t *queue;
    h2o_multithread_receiver_t receiver;
    hp_db_t *db;
    size_t done;
} fixture_t;

static void create_fixture_file(const char *path, const char *sql)
{
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("fixture: %s", msg);
    sqlite3_close(h);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/hp_test_sqlite_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/test.db", f->dir);
    create_fixture_file(f->path, fixture_sql);

    f->loop = h2o_evloop_create();
    f->queue = h2o_multithread_create_queue(f->loop);
    h2o_multithread_register_receiver(f->queue, &f->receiver, hp_db_on_replies);

    char err[256] = "";
    hp_db_options_t opts = {.uri = f->path, .pool = 2, .busy_timeout_ms = 1000};
    f->db = hp_db_open(&opts, err, sizeof(err));
    if (f->db == NULL)
        fail_msg("hp_db_open: %s", err);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    hp_db_close(f->db);
    h2o_multithread_unregister_receiver(f->queue, &f->receiver);
    h2o_multithread_destroy_queue(f->queue);
    free(f->queue);             /* h2o 2.2.5's evloop variant does not free it */
    h2o_evloop_run(f->loop, 0); /* lets the queue's pipe socket finish closing */
    h2o_evloop_destroy(f->loop);
    char p[128];
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s%s", f->path, suffixes[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* --- building and running jobs --- */

typedef struct {
    const char *name;
    hp_render_t render;
} col_t;

#define NO_COLS NULL, 0
#define COLS(...) (col_t[]){__VA_ARGS__}, sizeof((col_t[]){__VA_ARGS__}) / sizeof(col_t)
#define NO_BINDS NULL, 0
#define BINDS(...) \
    (hp_bind_t[]){__VA_ARGS__}, sizeof((hp_bind_t[]){__VA_ARGS__}) / sizeof(hp_bind_t)
#define INT(v) ((hp_bind_t){.kind = HP_BIND_INT, .i = (v)})
#define REAL(v) ((hp_bind_t){.kind = HP_BIND_REAL, .d = (v)})
#define TEXT(s) ((hp_bind_t){.kind = HP_BIND_TEXT, .text = {(char *)(s), sizeof(s) - 1}})

static void set_stmt(hp_db_job_t *job, hp_stmt_t *st, const char *sql, const hp_bind_t *binds,
                     size_t count)
{
    st->sql = h2o_strdup(&job->pool, sql, SIZE_MAX).base;
    st->sql_len = strlen(sql);
    st->binds = h2o_mem_alloc_pool(&job->pool, sizeof(hp_bind_t) * (count + 1));
    if (count)
        memcpy(st->binds, binds, sizeof(hp_bind_t) * count);
    st->bind_count = count;
}

static hp_db_job_t *make_job(hp_exec_kind_t kind, hp_format_t format, const char *sql,
                             const hp_bind_t *binds, size_t bind_count, const col_t *cols,
                             size_t col_count)
{
    hp_db_job_t *job = hp_db_job_create();
    hp_exec_t *e = h2o_mem_alloc_pool(&job->pool, sizeof(*e));
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    e->format = format;
    e->returns_rows = 1;
    set_stmt(job, &e->main, sql, binds, bind_count);
    e->cols = h2o_mem_alloc_pool(&job->pool, sizeof(hp_outcol_t) * (col_count + 1));
    for (size_t i = 0; i < col_count; i++) {
        e->cols[i].name = h2o_strdup(&job->pool, cols[i].name, SIZE_MAX);
        e->cols[i].render = cols[i].render;
    }
    e->col_count = col_count;
    job->exec = e;
    return job;
}

static void on_done(hp_db_job_t *job)
{
    fixture_t *f = job->data;
    f->done++;
}

/* Submits the jobs and runs the loop until every one came back (10 s at most). */
static void run_all(fixture_t *f, hp_db_job_t **jobs, size_t count)
{
    f->done = 0;
    for (size_t i = 0; i < count; i++) {
        jobs[i]->reply_to = &f->receiver;
        jobs[i]->on_done = on_done;
        jobs[i]->data = f;
        hp_db_submit(f->db, jobs[i]);
    }
    time_t deadline = time(NULL) + 10;
    while (f->done < count) {
        h2o_evloop_run(f->loop, 100);
        if (time(NULL) > deadline)
            fail_msg("timed out: %zu of %zu jobs came back", f->done, count);
    }
}

static hp_db_job_t *run(fixture_t *f, hp_db_job_t *job)
{
    run_all(f, &job, 1);
    return job;
}

static void assert_body(const hp_db_job_t *job, const char *want)
{
    if (job->result.error.code != HP_OK)
        fail_msg("unexpected error %s: %s", hp_error_code_text(job->result.error.code),
                 job->result.error.message);
    const hp_buf_t *b = &job->result.body;
    if (b->len != strlen(want) || (b->len != 0 && memcmp(b->ptr, want, b->len) != 0))
        fail_msg("body:\n  got  [%.*s]\n  want [%s]", (int)b->len, b->ptr ? b->ptr : "", want);
}

static void assert_error(const hp_db_job_t *job, hp_errcode_t code, const char *message)
{
    if (job->result.error.code != code)
        fail_msg("error: got %s (%s), want %s", hp_error_code_text(job->result.error.code),
                 job->result.error.message ? job->result.error.message : "",
                 hp_error_code_text(code));
    if (message != NULL)
        assert_string_equal(job->result.error.message, message);
    assert_int_equal(job->result.body.len, 0);
    assert_null(job->result.location.base);
}

/* A read of all users' names (to check what a write did or did not change). */
static void assert_names(fixture_t *f, const char *want)
{
    hp_db_job_t *job =
        run(f, make_job(HP_EXEC_READ, HP_FORMAT_JSON, "SELECT id, name FROM users ORDER BY id",
                        NO_BINDS, COLS({"id", HP_RENDER_AUTO}, {"name", HP_RENDER_AUTO})));
    assert_body(job, want);
    hp_db_job_destroy(job);
}

/* --- reads --- */

static void test_read_renders_every_storage_class(void **state)
{
    fixture_t *f = *state;
    hp_db_job_t *job =
        run(f, make_job(HP_EXEC_READ, HP_FORMAT_JSON,
                        "SELECT id, name, active, score, avatar, prefs FROM users ORDER BY id",
                        NO_BINDS,
                        COLS({"id", HP_RENDER_AUTO}, {"the \"name\"", HP_RENDER_AUTO},
                             {"active", HP_RENDER_BOOL}, {"score", HP_RENDER_AUTO},
                             {"avatar", HP_RENDER_AUTO}, {"prefs", HP_RENDER_JSON})));
    assert_body(job, "["
                     "{\"id\":1,\"the \\\"name\\\"\":\"Ann\",\"active\":true,\"score\":1.5,"
                     "\"avatar\":\"\\\\x00ff10\",\"prefs\":{\"theme\":\"dark\"}},"
                     "{\"id\":2,\"the \\\"name\\\"\":\"Bob \\\"B\\\", Jr.\",\"active\":false,"
                     "\"score\":0.1,\"avatar\":null,\"prefs\":\"not json\"},"
                     "{\"id\":3,\"the \\\"name\\\"\":null,\"active\":true,\"score\":null,"
                     "\"avatar\":\"\\\\x\",\"prefs\":[1,2]}"
                     "]");
    assert_int_equal(job->result.row_count, 3);
    assert_int_equal(job->result.total, -1);
    assert_int_equal(job->result.db_queries, 1);
    assert_null(job->result.location.base);
    hp_db_job_destroy(job);
}

static void test_read_empty_result_is_empty_array(void **state)
{
    fixture_t *f = *state;
    hp_db_job_t *job =
        run(f, make_job(HP_EXEC_READ, HP_FORMAT_JSON, "SELECT id FROM users WHERE id = ?1",
                        BINDS(INT(99)), COLS({"id", HP_RENDER_AUTO})));
    assert_body(job, "[]");
    assert_int_equal(job->result.row_count, 0);
    hp_db_job_destroy(job);
}

static void test_read_text_is_escaped_and_repaired(void **state)
{
    fixture_t *f = *state;
    hp_db_job_t *job =
        run(f, make_job(HP_EXEC_READ, HP_FORMAT_JSON,
                        "SELECT ?1 AS a, CAST(x'41c3' AS TEXT) AS b, CAST(x'eda080' AS TEXT) AS c, "
                        "'{\"x\":' AS d, ?2 AS e, 1e400 AS f",
                        BINDS(TEXT("tab\there\nnl \xe2\x82\xac"), INT(-9223372036854775807 - 1)),
                        COLS({"a", HP_RENDER_AUTO}, {"b", HP_RENDER_AUTO}, {"c", HP_RENDER_AUTO},
                             {"d", HP_RENDER_JSON}, {"e", HP_RENDER_AUTO}, {"f", HP_RENDER_AUTO})));
    assert_body(job, "[{\"a\":\"tab\\there\\nnl \xe2\x82\xac\",\"b\":\"A\xef\xbf\xbd\","
                     "\"c\":\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\",\"d\":\"{\\\"x\\\":\","
                     "\"e\":-9223372036854775808,\"f\":null}]");
    hp_db_job_destroy(job);
}

static void test_read_with_count_in_one_snapshot(void **state)
{
    fixture_t *f = *state;
    uint64_t before = hp_db_query_count(f->db);
    hp_db_job_t *job =
        make_job(HP_EXEC_READ, HP_FORMAT_JSON,
                 "SELECT id, total FROM orders WHERE user_id = ?1 ORDER BY id "
                 "LIMIT ?2",
                 BINDS(INT(1), INT(1)), COLS({"id", HP_RENDER_AUTO}, {"total", HP_RENDER_AUTO}));
    set_stmt(job, &job->exec->count, "SELECT count(*) FROM orders WHERE user_id = ?1",
             BINDS(INT(1)));
    run(f, job);
    assert_body(job, "[{\"id\":10,\"total\":9.99}]");
    assert_int_equal(job->result.row_count, 1);
    assert_int_equal(job->result.total, 2);
    assert_int_equal(job->result.db_queries, 2);
    assert_int_equal(hp_db_query_count(f->db) - before, 2);
    hp_db_job_destroy(job);
}

static void test_read_object_is_the_single_row(void **state)
{
    fixture_t *f = *state;
    hp_db_job_t *job =
        run(f, make_job(HP_EXEC_READ, HP_FORMAT_OBJECT, "SELECT id, email FROM users WHERE id = ?1",
                        BINDS(INT(2)), COLS({"id", HP_RENDER_AUTO}, {"email", HP_RENDER_AUTO})));
    assert_body(job, "{\"id\":2,\"email\":\"bob@example.com\"}");
    hp_db_job_destroy(job);

    job = run(f, make_job(HP_EXEC_READ, HP_FORMAT_OBJECT, "SELECT id FROM users WHERE id > ?1",
                          BINDS(INT(0)), COLS({"id", HP_RENDER_AUTO})));
    assert_error(job, HP_ERR_SINGULAR, "JSON object requested, multiple (or no) rows returned");
    assert_string_equal(job->result.error.details, "The result contains 3 rows");
    hp_db_job_destroy(job);

    job = run(f, make_job(HP_EXEC_READ, HP_FORMAT_OBJECT, "SELECT id FROM users WHERE id > ?1",
                          BINDS(INT(10)), COLS({"id", HP_RENDER_AUTO})));
    assert_error(job, HP_ERR_SINGULAR, NULL);
    assert_string_equal(job->result.error.details, "The result contains 0 rows");
    hp_db_job_destroy(job);
}

static void test_read_csv_quotes_fields(void **state)
{
    fixture_t *f = *state;
    hp_db_job_t *job =
        run(f, make_job(HP_EXEC_READ, HP_FORMAT_CSV,
                        "SELECT id, name, active, score, avatar, 'a\nb' FROM users ORDER BY id",
                        NO_BINDS,
                        COLS({"id", HP_RENDER_AUTO}, {"na,me", HP_RENDER_AUTO},
                             {"active", HP_RENDER_BOOL}, {"score", HP_RENDER_AUTO},
                             {"avatar", HP_RENDER_AUTO}, {"multi", HP_RENDER_AUTO})));
    assert_body(job, "id,\"na,me\",active,score,avatar,multi\n"
                     "1,Ann,t,1.5,\\x00ff10,\"a\nb\"\n"
                     "2,\"Bob \"\"B\"\", Jr.\",f,0.1,,\"a\nb\"\n"
                     "3,,t,,\\x,\"a\nb\"\n");
    assert_int_equal(job->result.row_count, 3);
    hp_db_job_destroy(job);
}

static void test_read_sql_error_is_db_error(void **state)
{
    fixture_t *f = *state;
    hp_db_job_t *job = run(f, make_job(HP_EXEC_READ, HP_FORMAT_JSON, "SELECT nope FROM users",
                                       NO_BINDS, COLS({"nope", HP_RENDER_AUTO})));
    assert_error(job, HP_ERR_DB, "no such column: nope");
    hp_db_job_destroy(job);

    job = run(f, make_job(HP_EXEC_READ, HP_FORMAT_JSON, "SELECT 1; SELECT 2", NO_BINDS,
                          COLS({"x", HP_RENDER_AUTO})));
    assert_error(job, HP_ERR_INTERNAL, NULL);
    hp_db_job_destroy(job);

    job = run(f, make_job(HP_EXEC_READ, HP_FORMAT_JSON, "SELECT 1", NO_BINDS,
                          COLS({"x", HP_RENDER_AUTO}, {"y", HP_RENDER_AUTO})));
    assert_error(job, HP_ERR_INTERNAL, NULL);
    hp_db_job_destroy(job);

    /* A read-only connection refuses writes even if one is planned as a read. */
    job = run(f, make_job(HP_EXEC_READ, HP_FORMAT_JSON, "DELETE FROM orders RETURNING id", NO_BINDS,
                          COLS({"id", HP_RENDER_AUTO})));
    assert_error(job, HP_ERR_DB, "attempt to write a readonly database");
    hp_db_job_destroy(job);
}

/* --- writes --- */

static void test_insert_returning_with_location(void **state)
{
    fixture_t *f = *state;
    hp_db_job_t *job = make_job(
        HP_EXEC_WRITE, HP_FORMAT_JSON,
        "INSERT INTO users (email, name) VALUES (?1, ?2) "
        "RETURNING id, email, active, email, id",
        BINDS(TEXT("dee@example.com"), TEXT("Dee")),
        COLS({"id", HP_RENDER_AUTO}, {"email", HP_RENDER_AUTO}, {"active", HP_RENDER_BOOL}));
    job->exec->location_col_count = 2;
    job->exec->location_names = h2o_mem_alloc_pool(&job->pool, 2 * sizeof(h2o_iovec_t));
    job->exec->location_names[0] = h2o_iovec_init(H2O_STRLIT("email"));
    job->exec->location_names[1] = h2o_iovec_init(H2O_STRLIT("id"));
    run(f, job);
    assert_body(job, "[{\"id\":4,\"email\":\"dee@example.com\",\"active\":true}]");
    assert_int_equal(job->result.row_count, 1);
    assert_int_equal(job->result.db_queries, 1);
    assert_non_null(job->result.location.base);
    assert_int_equal(job->result.location.len, strlen("email=eq.dee%40example.com&id=eq.4"));
    assert_memory_equal(job->result.location.base, "email=eq.dee%40example.com&id=eq.4",
                        job->result.location.len);
    hp_db_job_destroy(job);
    /* Read after write: a reader sees the committed row. */
    assert_names(f, "[{\"id\":1,\"name\":\"Ann\"},{\"id\":2,\"name\":\"Bob \\\"B\\\", Jr.\"},"
                    "{\"id\":3,\"name\":null},{\"id\":4,\"name\":\"Dee\"}]");
}

static void test_location_only_for_a_single_row(void **state)
{
    fixture_t *f = *state;
    hp_db_job_t *job = make_job(HP_EXEC_WRITE, HP_FORMAT_JSON,
                                "UPDATE orders SET status = ?1 WHERE user_id = ?2 RETURNING id",
                                BINDS(TEXT("shipped"), INT(1)), NO_COLS);
    job->exec->location_col_count = 1;
    job->exec->location_names = h2o_mem_alloc_pool(&job->pool, sizeof(h2o_iovec_t));
    job->exec->location_names[0] = h2o_iovec_init(H2O_STRLIT("id"));
    run(f, job);
    assert_body(job, "[{},{}]");
    assert_int_equal(job->result.row_count, 2);
    assert_null(job->result.location.base);
    hp_db_job_destroy(job);
}

static void test_write_without_returning_counts_changes(void **state)
{
    fixture_t *f = *state;
    hp_db_job_t *job = make_job(HP_EXEC_WRITE, HP_FORMAT_JSON,
                                "DELETE FROM orders WHERE user_id = ?1", BINDS(INT(1)), NO_COLS);
    job->exec->returns_rows = 0;
    run(f, job);
    assert_body(job, "");
    assert_int_equal(job->result.row_count, 2);
    assert_int_equal(job->result.db_queries, 1);
    hp_db_job_destroy(job);
}

static void test_singular_write_of_many_rows_rolls_back(void **state)
{
    fixture_t *f = *state;
    hp_db_job_t *job =
        run(f, make_job(HP_EXEC_WRITE, HP_FORMAT_OBJECT,
                        "UPDATE users SET name = ?1 RETURNING id, name", BINDS(TEXT("X")),
                        COLS({"id", HP_RENDER_AUTO}, {"name", HP_RENDER_AUTO})));
    assert_error(job, HP_ERR_SINGULAR, "JSON object requested, multiple (or no) rows returned");
    assert_string_equal(job->result.error.details, "The result contains 3 rows");
    assert_int_equal(hp_error_status(job->result.error.code), 406);
    hp_db_job_destroy(job);
    assert_names(f, "[{\"id\":1,\"name\":\"Ann\"},{\"id\":2,\"name\":\"Bob \\\"B\\\", Jr.\"},"
                    "{\"id\":3,\"name\":null}]");

    /* Without RETURNING the affected count decides. */
    job = make_job(HP_EXEC_WRITE, HP_FORMAT_OBJECT, "UPDATE users SET name = 'Y' WHERE id > 1",
                   NO_BINDS, NO_COLS);
    job->exec->returns_rows = 0;
    run(f, job);
    assert_error(job, HP_ERR_SINGULAR, NULL);
    assert_string_equal(job->result.error.details, "The result contains 2 rows");
    hp_db_job_destroy(job);

    job = run(f, make_job(HP_EXEC_WRITE, HP_FORMAT_OBJECT,
                          "UPDATE users SET name = ?1 WHERE id = ?2 RETURNING id, name",
                          BINDS(TEXT("Cy"), INT(3)),
                          COLS({"id", HP_RENDER_AUTO}, {"name", HP_RENDER_AUTO})));
    assert_body(job, "{\"id\":3,\"name\":\"Cy\"}");
    hp_db_job_destroy(job);
    assert_names(f, "[{\"id\":1,\"name\":\"Ann\"},{\"id\":2,\"name\":\"Bob \\\"B\\\", Jr.\"},"
                    "{\"id\":3,\"name\":\"Cy\"}]");
}

static void test_constraint_errors_map_to_codes(void **state)
{
    fixture_t *f = *state;
    static const struct {
        const char *sql;
        hp_errcode_t code;
        int status;
        const char *message;
    } cases[] = {
        {"INSERT INTO users (email) VALUES ('ann@example.com') RETURNING id", HP_ERR_UNIQUE, 409,
         "UNIQUE constraint failed: users.email"},
        {"INSERT INTO users (id, email) VALUES (1, 'new@example.com') RETURNING id", HP_ERR_UNIQUE,
         409, "UNIQUE constraint failed: users.id"},
        {"INSERT INTO orders (user_id) VALUES (999) RETURNING id", HP_ERR_FOREIGN_KEY, 409,
         "FOREIGN KEY constraint failed"},
        {"INSERT INTO users (email) VALUES (NULL) RETURNING id", HP_ERR_NOT_NULL, 400,
         "NOT NULL constraint failed: users.email"},
        {"INSERT INTO users (email) VALUES ('a') RETURNING id", HP_ERR_CHECK, 400,
         "CHECK constraint failed: length(email) > 3"},
        {"INSERT INTO tags VALUES ('color', 'red') RETURNING k", HP_ERR_UNIQUE, 409,
         "UNIQUE constraint failed: tags.v, tags.k"},
        {"DELETE FROM users WHERE id = 1 RETURNING id", HP_ERR_FOREIGN_KEY, 409,
         "FOREIGN KEY constraint failed"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        hp_db_job_t *job = run(f, make_job(HP_EXEC_WRITE, HP_FORMAT_JSON, cases[i].sql, NO_BINDS,
                                           COLS({"id", HP_RENDER_AUTO})));
        assert_error(job, cases[i].code, cases[i].message);
        assert_int_equal(hp_error_status(job->result.error.code), cases[i].status);
        hp_db_job_destroy(job);
    }
    /* Nothing was committed, and the writer is usable afterwards. */
    assert_names(f, "[{\"id\":1,\"name\":\"Ann\"},{\"id\":2,\"name\":\"Bob \\\"B\\\", Jr.\"},"
                    "{\"id\":3,\"name\":null}]");
}

/* The table from SQLite result codes to answers: every row is reachable (no row above it
 * matches first), and the codes the API's contract names answer as PostgREST answers the
 * PostgreSQL error that means the same. */
static void test_error_table_maps_as_postgrest(void **state)
{
    (void)state;
    h2o_mem_pool_t pool;
    h2o_mem_init_pool(&pool);
    for (size_t i = 0; i != hp_sqlite__error_row_count; ++i) {
        const hp_sqlite__error_row_t *row = &hp_sqlite__error_rows[i];
        if (hp_sqlite__error_row(row->rc, row->errmsg) != row)
            fail_msg("row %zu (rc %d) is shadowed by an earlier row", i, row->rc);
        hp_error_t err = {0};
        hp_sqlite__set_error(&err, &pool, NULL, row->rc);
        if (row->errmsg == NULL)
            assert_int_equal(err.code, row->code);
        assert_true(hp_error_http_status(&err) >= 400);
    }
    static const struct {
        int rc;
        const char *errmsg;
        int status;
        const char *code;
    } want[] = {
        {SQLITE_CONSTRAINT_UNIQUE, NULL, 409, "23505"},
        {SQLITE_CONSTRAINT_PRIMARYKEY, NULL, 409, "23505"},
        {SQLITE_CONSTRAINT_ROWID, NULL, 409, "23505"},
        {SQLITE_CONSTRAINT_NOTNULL, NULL, 400, "23502"},
        {SQLITE_CONSTRAINT_FOREIGNKEY, NULL, 409, "23503"},
        {SQLITE_CONSTRAINT_CHECK, NULL, 400, "23514"},
        {SQLITE_CONSTRAINT_DATATYPE, NULL, 400, "22P02"},
        {SQLITE_CONSTRAINT_TRIGGER, NULL, 400, "P0001"},
        {SQLITE_CONSTRAINT_COMMITHOOK, NULL, 409, "HP409"}, /* another constraint */
        {SQLITE_CONSTRAINT, NULL, 409, "HP409"},
        {SQLITE_MISMATCH, NULL, 400, "22P02"},
        {SQLITE_ERROR, "malformed JSON", 400, "22P02"},
        {SQLITE_ERROR, "no such column: x", 500, "HP500"}, /* the message decides */
        {SQLITE_ERROR, "cannot modify active_users because it is a view", 405, "PGRST117"},
        {SQLITE_ERROR, "cannot UPSERT a view", 405, "PGRST117"},
        {SQLITE_ERROR, "because it is a view, or not", 500, "HP500"}, /* a suffix, not a part */
        {SQLITE_INTERRUPT, NULL, 500, "57014"},
        {SQLITE_TOOBIG, NULL, 400, "HP400"},
        {SQLITE_BUSY, NULL, 503, "HP503"},
        {SQLITE_BUSY_SNAPSHOT, NULL, 503, "HP503"},
        {SQLITE_BUSY_TIMEOUT, NULL, 503, "HP503"},
        {SQLITE_LOCKED, NULL, 503, "HP503"},
        {SQLITE_LOCKED_SHAREDCACHE, NULL, 503, "HP503"},
        {SQLITE_FULL, NULL, 503, "HP503"},
        {SQLITE_NOMEM, NULL, 503, "HP503"},
        {SQLITE_RANGE, NULL, 500, "HP501"},
        {SQLITE_IOERR_READ, NULL, 500, "HP500"},
        {SQLITE_CORRUPT, NULL, 500, "HP500"},
        {SQLITE_READONLY, NULL, 500, "HP500"},
    };
    for (size_t i = 0; i != sizeof(want) / sizeof(want[0]); ++i) {
        const hp_sqlite__error_row_t *row = hp_sqlite__error_row(want[i].rc, want[i].errmsg);
        hp_errcode_t code = row != NULL ? row->code : HP_ERR_DB;
        if (hp_error_status(code) != want[i].status ||
            strcmp(hp_error_code_text(code), want[i].code) != 0)
            fail_msg("rc %d (%s): %d %s, want %d %s", want[i].rc,
                     want[i].errmsg ? want[i].errmsg : "-", hp_error_status(code),
                     hp_error_code_text(code), want[i].status, want[i].code);
    }
    /* A row with a message of its own keeps SQLite's as details; the first error wins. */
    hp_error_t err = {0};
    hp_sqlite__set_error(&err, &pool, NULL, SQLITE_MISMATCH);
    assert_string_equal(err.message, "invalid input syntax for type bigint");
    assert_string_equal(err.details, sqlite3_errstr(SQLITE_MISMATCH));
    hp_sqlite__set_error(&err, &pool, NULL, SQLITE_BUSY);
    assert_int_equal(err.code, HP_ERR_INVALID_TEXT);
    h2o_mem_clear_pool(&pool);
}

/* The same table on real statements: what SQLite raises for bad values and JSON. */
static void test_value_errors_map_to_codes(void **state)
{
    fixture_t *f = *state;
    hp_db_job_t *job = make_job(HP_EXEC_WRITE, HP_FORMAT_JSON,
                                "CREATE TABLE strict_t (id INTEGER PRIMARY KEY, n INTEGER) STRICT",
                                NO_BINDS, NO_COLS);
    job->exec->returns_rows = 0;
    run(f, job);
    assert_int_equal(job->result.error.code, HP_OK);
    hp_db_job_destroy(job);
    job = make_job(HP_EXEC_WRITE, HP_FORMAT_JSON,
                   "CREATE TRIGGER no_red BEFORE INSERT ON strict_t WHEN new.n = 13 "
                   "BEGIN SELECT RAISE(ABORT, 'unlucky'); END",
                   NO_BINDS, NO_COLS);
    job->exec->returns_rows = 0;
    run(f, job);
    assert_int_equal(job->result.error.code, HP_OK);
    hp_db_job_destroy(job);

    static const struct {
        hp_exec_kind_t kind;
        const char *sql;
        hp_errcode_t code;
        int status;
        const char *message;
    } cases[] = {
        {HP_EXEC_WRITE, "INSERT INTO users (id, email) VALUES ('x', 'x@example.com') RETURNING id",
         HP_ERR_INVALID_TEXT, 400, "invalid input syntax for type bigint"},
        {HP_EXEC_WRITE, "INSERT INTO users (id, email) VALUES (1.5, 'x@example.com') RETURNING id",
         HP_ERR_INVALID_TEXT, 400, "invalid input syntax for type bigint"},
        {HP_EXEC_WRITE, "UPDATE users SET id = 'x' WHERE id = 1 RETURNING id", HP_ERR_INVALID_TEXT,
         400, "invalid input syntax for type bigint"},
        {HP_EXEC_WRITE, "INSERT INTO strict_t (n) VALUES ('x') RETURNING id", HP_ERR_INVALID_TEXT,
         400, "cannot store TEXT value in INTEGER column strict_t.n"},
        {HP_EXEC_WRITE, "INSERT INTO strict_t (n) VALUES (13) RETURNING id", HP_ERR_RAISE, 400,
         "unlucky"},
        {HP_EXEC_READ, "SELECT name ->> '$.x' AS id FROM users WHERE id = 2", HP_ERR_INVALID_TEXT,
         400, "invalid input syntax for type json"},
        {HP_EXEC_READ, "SELECT id FROM users WHERE prefs ->> '$.theme' = 'dark'",
         HP_ERR_INVALID_TEXT, 400, "invalid input syntax for type json"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        job = run(f, make_job(cases[i].kind, HP_FORMAT_JSON, cases[i].sql, NO_BINDS,
                              COLS({"id", HP_RENDER_AUTO})));
        assert_error(job, cases[i].code, cases[i].message);
        assert_int_equal(hp_error_status(job->result.error.code), cases[i].status);
        hp_db_job_destroy(job);
    }
    /* Nothing was committed, and the writer is usable afterwards. */
    assert_names(f, "[{\"id\":1,\"name\":\"Ann\"},{\"id\":2,\"name\":\"Bob \\\"B\\\", Jr.\"},"
                    "{\"id\":3,\"name\":null}]");
}

/* --- the statement timeout --- */

/* A statement that never ends by itself: only the timeout can stop it, however fast the
 * machine (the test waits for the answer, it does not time it). */
#define FOREVER                                                                                   \
    "(WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c WHERE x = " \
    "0)"

/* Reopens the fixture's database with a statement timeout (and an inline budget, used when
 * the test thread attaches). */
static void reopen_with_timeout(fixture_t *f, unsigned timeout_ms, unsigned inline_budget_us)
{
    hp_db_close(f->db);
    char err[256] = "";
    hp_db_options_t opts = {.uri = f->path,
                            .pool = 2,
                            .busy_timeout_ms = 1000,
                            .inline_budget_us = inline_budget_us,
                            .statement_timeout_ms = timeout_ms};
    f->db = hp_db_open(&opts, err, sizeof(err));
    if (f->db == NULL)
        fail_msg("hp_db_open: %s", err);
}

static void assert_timed_out(hp_db_job_t *job)
{
    assert_error(job, HP_ERR_STATEMENT_TIMEOUT, "canceling statement due to statement timeout");
    assert_int_equal(hp_error_http_status(&job->result.error), 500);
    assert_string_equal(hp_error_code_text(job->result.error.code), "57014");
}

/* Reads (on the reader threads, and inline on an attached loop whether the budget or the
 * timeout comes first) and writes are stopped at the timeout with 57014; the write is rolled
 * back; every connection serves the next job. */
static void check_statement_timeout(fixture_t *f, unsigned inline_budget_us, int attach)
{
    reopen_with_timeout(f, 30, inline_budget_us);
    char err[256] = "";
    if (attach && hp_db_attach_thread(f->db, (h2o_loop_t *)f->loop, err, sizeof(err)) != 0)
        fail_msg("attach: %s", err);
    for (int round = 0; round < 3; round++) {
        hp_db_job_t *job = run(f, make_job(HP_EXEC_READ, HP_FORMAT_JSON, "SELECT " FOREVER " AS x",
                                           NO_BINDS, COLS({"x", HP_RENDER_AUTO})));
        assert_timed_out(job);
        hp_db_job_destroy(job);
        job = run(f, make_job(HP_EXEC_READ, HP_FORMAT_JSON, "SELECT id FROM users WHERE id = 2",
                              NO_BINDS, COLS({"id", HP_RENDER_AUTO})));
        assert_body(job, "[{\"id\":2}]");
        hp_db_job_destroy(job);
    }
    hp_db_job_t *job = run(
        f, make_job(HP_EXEC_WRITE, HP_FORMAT_JSON,
                    "UPDATE users SET name = 'gone' WHERE id = 1 OR id = " FOREVER " RETURNING id",
                    NO_BINDS, COLS({"id", HP_RENDER_AUTO})));
    assert_timed_out(job);
    hp_db_job_destroy(job);
    assert_names(f, "[{\"id\":1,\"name\":\"Ann\"},{\"id\":2,\"name\":\"Bob \\\"B\\\", Jr.\"},"
                    "{\"id\":3,\"name\":null}]");
    job = run(f, make_job(HP_EXEC_WRITE, HP_FORMAT_JSON,
                          "UPDATE users SET name = 'Cy' WHERE id = 3 RETURNING id", NO_BINDS,
                          COLS({"id", HP_RENDER_AUTO})));
    assert_body(job, "[{\"id\":3}]");
    hp_db_job_destroy(job);
    if (attach)
        hp_db_detach_thread(f->db);
}

static void test_statement_timeout_on_reader_threads(void **state)
{
    check_statement_timeout(*state, 0, 0);
}

static void test_statement_timeout_inline_past_the_budget(void **state)
{
    check_statement_timeout(*state, 500, 1); /* the budget first: then a reader times out */
}

static void test_statement_timeout_inline_within_the_budget(void **state)
{
    check_statement_timeout(*state, 1000000, 1); /* the timeout first, inline */
}

static void test_write_with_count(void **state)
{
    fixture_t *f = *state;
    hp_db_job_t *job = make_job(HP_EXEC_WRITE, HP_FORMAT_JSON,
                                "UPDATE orders SET total = total + ?1 WHERE status = ?2 "
                                "RETURNING id, total",
                                BINDS(REAL(0.5), TEXT("completed")),
                                COLS({"id", HP_RENDER_AUTO}, {"total", HP_RENDER_AUTO}));
    set_stmt(job, &job->exec->count, "SELECT count(*) FROM orders", NO_BINDS);
    run(f, job);
    assert_body(job, "[{\"id\":10,\"total\":10.49},{\"id\":12,\"total\":5.5}]");
    assert_int_equal(job->result.total, 3);
    assert_int_equal(job->result.db_queries, 2);
    hp_db_job_destroy(job);
}

/* --- the pool, the statement cache, the schema --- */

static void test_many_jobs_at_once(void **state)
{
    fixture_t *f = *state;
    enum { N = 400 };
    hp_db_job_t *jobs[N];
    char sql[96];
    for (size_t i = 0; i < N; i++) {
        if (i % 10 == 9) {
            jobs[i] = make_job(HP_EXEC_WRITE, HP_FORMAT_JSON,
                               "UPDATE users SET score = coalesce(score, 0) + 1 WHERE id = 3 "
                               "RETURNING id",
                               NO_BINDS, COLS({"id", HP_RENDER_AUTO}));
        } else {
            /* 300 distinct texts: more than one connection's cache holds. */
            snprintf(sql, sizeof(sql), "SELECT id, %zu AS n FROM users WHERE id = ?1", i % 300);
            jobs[i] = make_job(HP_EXEC_READ, HP_FORMAT_JSON, sql, BINDS(INT(1)),
                               COLS({"id", HP_RENDER_AUTO}, {"n", HP_RENDER_AUTO}));
        }
    }
    run_all(f, jobs, N);
    for (size_t i = 0; i < N; i++) {
        char want[64];
        if (i % 10 == 9)
            snprintf(want, sizeof(want), "[{\"id\":3}]");
        else
            snprintf(want, sizeof(want), "[{\"id\":1,\"n\":%zu}]", i % 300);
        assert_body(jobs[i], want);
        hp_db_job_destroy(jobs[i]);
    }
    hp_db_job_t *job =
        run(f, make_job(HP_EXEC_READ, HP_FORMAT_JSON, "SELECT score FROM users WHERE id = 3",
                        NO_BINDS, COLS({"score", HP_RENDER_AUTO})));
    assert_body(job, "[{\"score\":40}]");
    hp_db_job_destroy(job);
}

static void test_same_statement_reused(void **state)
{
    fixture_t *f = *state;
    for (int round = 0; round < 50; round++) {
        hp_db_job_t *job =
            run(f, make_job(HP_EXEC_READ, HP_FORMAT_JSON, "SELECT email FROM users WHERE id = ?1",
                            BINDS(INT(round % 3 + 1)), COLS({"email", HP_RENDER_AUTO})));
        static const char *const want[] = {"[{\"email\":\"ann@example.com\"}]",
                                           "[{\"email\":\"bob@example.com\"}]",
                                           "[{\"email\":\"cy@example.com\"}]"};
        assert_body(job, want[round % 3]);
        hp_db_job_destroy(job);
    }
}

/* --- the inline time budget and the transaction state (one connection, driven directly) --- */

/* A fixed pseudo-random sequence: the same pattern on every run. */
static unsigned next_bit(uint32_t *seed)
{
    *seed = *seed * 1664525u + 1013904223u;
    return (*seed >> 16) & 1;
}

/* Regression (500 "cannot start a transaction within a transaction" under load). SQLite calls
 * the progress handler also after a statement's last opcode when its VM-step count, which a
 * cached statement keeps across runs, crosses the handler's interval there. A cached BEGIN run
 * past an inline deadline (a loop that lost the CPU) then returned SQLITE_INTERRUPT with its
 * transaction open while the connection believed it had none, and every later read on that
 * connection failed at BEGIN. Here half the reads (in a fixed pattern) start already past
 * their deadline, each with a fresh BEGIN (the write generation moves, or there is no
 * snapshot reuse), for far more runs than it takes the cached BEGIN to cross the interval at
 * each of its opcodes. After every run the connection must be in a transaction exactly when it
 * holds a snapshot, and a read within budget must succeed. */
static void check_budget_keeps_txn_state(fixture_t *f, uint64_t snapshot_max_age_ns, int with_count)
{
    hp_sqlite__shared_t shared = {.snapshot_max_age_ns = snapshot_max_age_ns};
    atomic_init(&shared.write_generation, 0);
    hp_sqlite__conn_t conn;
    char err[256] = "";
    if (hp_sqlite__conn_open(&conn, f->path, 0, 1000, err, sizeof(err)) != 0)
        fail_msg("open: %s", err);
    conn.shared = &shared;
    hp_sqlite__conn_enable_budget(&conn);

    uint32_t seed = 1;
    unsigned over_budget = 0;
    for (int i = 0; i < 6000; i++) {
        atomic_fetch_add(&shared.write_generation, 1); /* as after a write: a fresh snapshot */
        hp_db_job_t *job =
            make_job(HP_EXEC_READ, HP_FORMAT_JSON, "SELECT id FROM users WHERE id = ?1",
                     BINDS(INT(2)), COLS({"id", HP_RENDER_AUTO}));
        if (with_count)
            set_stmt(job, &job->exec->count, "SELECT count(*) FROM users", NO_BINDS);
        int late = next_bit(&seed);
        conn.is_over_budget = 0;
        conn.deadline_ns = late ? 1 : 0; /* 1: long past; 0: no budget */
        hp_sqlite__run(&conn, job);
        conn.deadline_ns = 0;
        if (conn.is_over_budget) {
            over_budget++;
        } else {
            if (job->result.error.code != HP_OK)
                fail_msg("run %d (%s): %s", i, late ? "late" : "in budget",
                         job->result.error.message);
            assert_body(job, "[{\"id\":2}]");
            if (with_count)
                assert_int_equal(job->result.total, 3);
        }
        hp_db_job_destroy(job);
        if (sqlite3_get_autocommit(conn.handle) != !conn.has_snapshot)
            fail_msg("after run %d (%s%s): in a transaction %d, has_snapshot %d", i,
                     late ? "late" : "in budget", conn.is_over_budget ? ", interrupted" : "",
                     !sqlite3_get_autocommit(conn.handle), conn.has_snapshot);
    }
    assert_true(over_budget > 0); /* the budget did interrupt */
    hp_sqlite__end_snapshot(&conn, 0);
    assert_int_equal(sqlite3_get_autocommit(conn.handle), 1);
    hp_sqlite__conn_close(&conn);
}

static void test_budget_interrupt_keeps_snapshot_state(void **state)
{
    check_budget_keeps_txn_state(*state, (uint64_t)60 * 1000000000u, 0);
}

static void test_budget_interrupt_keeps_txn_state_without_snapshots(void **state)
{
    check_budget_keeps_txn_state(*state, 0, 1);
}

/* A transaction left open behind the connection's back (however it got there) is rolled back
 * before the next job, which then succeeds instead of failing at BEGIN. */
static void test_stray_transaction_is_repaired(void **state)
{
    fixture_t *f = *state;
    hp_sqlite__shared_t shared = {.snapshot_max_age_ns = (uint64_t)60 * 1000000000u};
    atomic_init(&shared.write_generation, 0);
    hp_sqlite__conn_t conn;
    char err[256] = "";
    if (hp_sqlite__conn_open(&conn, f->path, 0, 1000, err, sizeof(err)) != 0)
        fail_msg("open: %s", err);
    conn.shared = &shared;
    for (int round = 0; round < 2; round++) {
        hp_sqlite__end_snapshot(&conn, 0);
        assert_int_equal(sqlite3_exec(conn.handle, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
        conn.has_snapshot = 0;
        if (round == 1) { /* the idle path ends it too */
            hp_sqlite__end_snapshot(&conn, 1);
            assert_int_equal(sqlite3_get_autocommit(conn.handle), 1);
            continue;
        }
        hp_db_job_t *job =
            make_job(HP_EXEC_READ, HP_FORMAT_JSON, "SELECT id FROM users WHERE id = ?1",
                     BINDS(INT(3)), COLS({"id", HP_RENDER_AUTO}));
        hp_sqlite__run(&conn, job);
        assert_body(job, "[{\"id\":3}]");
        hp_db_job_destroy(job);
        assert_int_equal(conn.has_snapshot, 1);
        assert_int_equal(sqlite3_get_autocommit(conn.handle), 0);
    }
    hp_sqlite__conn_close(&conn);
}

static void test_schema_loaded_from_catalog(void **state)
{
    fixture_t *f = *state;
    hp_schema_t *s = hp_db_schema(f->db);
    assert_int_equal(hp_db_dialect(f->db), HP_DIALECT_SQLITE);
    assert_int_equal(hp_schema_table_count(s), 5);
    /* Name order. */
    assert_string_equal(hp_schema_table_at(s, 0)->name, "active_users");
    assert_string_equal(hp_schema_table_at(s, 4)->name, "users");

    const hp_table_t *users = hp_schema_find_table(s, "users", 5);
    assert_non_null(users);
    assert_true(users->has_rowid);
    assert_false(users->is_view);
    assert_int_equal(users->column_count, 7);
    assert_int_equal(users->pk_count, 1);
    assert_string_equal(users->columns[users->pk_cols[0]].name, "id");
    int active = hp_table_find_column(users, "active", 6);
    assert_int_equal(users->columns[active].type, HP_COLTYPE_BOOLEAN);
    assert_string_equal(users->columns[active].default_sql, "1");
    assert_true(users->columns[active].not_null);
    assert_int_equal(users->columns[hp_table_find_column(users, "prefs", 5)].type, HP_COLTYPE_JSON);
    assert_int_equal(users->columns[hp_table_find_column(users, "avatar", 6)].type,
                     HP_COLTYPE_BLOB);

    const hp_table_t *tags = hp_schema_find_table(s, "tags", 4);
    assert_false(tags->has_rowid);
    assert_int_equal(tags->pk_count, 2);
    assert_string_equal(tags->columns[tags->pk_cols[0]].name, "v");
    assert_string_equal(tags->columns[tags->pk_cols[1]].name, "k");

    const hp_table_t *view = hp_schema_find_table(s, "active_users", 12);
    assert_true(view->is_view);
    assert_int_equal(view->column_count, 2);

    const hp_table_t *orders = hp_schema_find_table(s, "orders", 6);
    assert_string_equal(orders->columns[hp_table_find_column(orders, "status", 6)].default_sql,
                        "'pending'");
    hp_relationship_t rel[4];
    /* "REFERENCES USERS" (other case, no column list): resolved to users(id). */
    assert_int_equal(hp_schema_find_relationships(s, users, "orders", 6, NULL, 0, rel, 4), 1);
    assert_int_equal(rel[0].kind, HP_REL_ONE_TO_MANY);
    assert_string_equal(rel[0].fkey->name, "orders_user_id_fkey");
    assert_int_equal(rel[0].fkey->to_cols[0], 0);
    assert_int_equal(hp_schema_find_relationships(s, users, "profiles", 8, NULL, 0, rel, 4), 1);
    assert_int_equal(rel[0].kind, HP_REL_ONE_TO_ONE);
    assert_int_equal(hp_schema_find_relationships(s, orders, "users", 5, NULL, 0, rel, 4), 1);
    assert_int_equal(rel[0].kind, HP_REL_MANY_TO_ONE);
    hp_schema_unref(s);
}

static void test_reload_swaps_snapshot(void **state)
{
    fixture_t *f = *state;
    hp_schema_t *old = hp_db_schema(f->db);
    hp_db_job_t *job = make_job(HP_EXEC_WRITE, HP_FORMAT_JSON,
                                "CREATE TABLE extra (id INTEGER PRIMARY KEY, "
                                "user_id INTEGER REFERENCES users(id))",
                                NO_BINDS, NO_COLS);
    job->exec->returns_rows = 0;
    run(f, job);
    assert_int_equal(job->result.error.code, HP_OK);
    hp_db_job_destroy(job);

    char err[256];
    assert_int_equal(hp_db_reload_schema(f->db, err, sizeof(err)), 0);
    hp_schema_t *fresh = hp_db_schema(f->db);
    assert_ptr_not_equal(fresh, old);
    assert_non_null(hp_schema_find_table(fresh, "extra", 5));
    assert_null(hp_schema_find_table(old, "extra", 5)); /* the old one lives on, unchanged */
    hp_schema_unref(old);
    hp_schema_unref(fresh);

    /* Readers see the new table. */
    job = run(f, make_job(HP_EXEC_READ, HP_FORMAT_JSON, "SELECT count(*) FROM extra", NO_BINDS,
                          COLS({"n", HP_RENDER_AUTO})));
    assert_body(job, "[{\"n\":0}]");
    hp_db_job_destroy(job);
}

/* --- opening --- */

static void test_open_refuses_missing_file_and_absent_postgres(void **state)
{
    (void)state;
    char err[256] = "";
    hp_db_options_t opts = {.uri = "/nonexistent/dir/none.db", .pool = 1, .busy_timeout_ms = 100};
    assert_null(hp_db_open(&opts, err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent/dir/none.db"));
    assert_non_null(strstr(err, "No such file"));
    assert_int_equal(access("/nonexistent/dir/none.db", F_OK), -1);

    opts.uri = "sqlite:///nonexistent/other.db";
    assert_null(hp_db_open(&opts, err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent/other.db"));

    /* PostgreSQL URIs go to libpq: a server that is not there is a clear error at start. */
    opts.uri = "postgres://nobody@127.0.0.1:1/db";
    assert_null(hp_db_open(&opts, err, sizeof(err)));
    assert_non_null(strstr(err, "127.0.0.1"));
    assert_non_null(strstr(err, "refused"));
    opts.uri = "postgresql://nobody@127.0.0.1:1/db";
    assert_null(hp_db_open(&opts, err, sizeof(err)));
    assert_non_null(strstr(err, "refused"));

    opts.uri = "mysql://x";
    assert_null(hp_db_open(&opts, err, sizeof(err)));
    opts.uri = "";
    assert_null(hp_db_open(&opts, err, sizeof(err)));
}

static void test_open_with_sqlite_scheme(void **state)
{
    fixture_t *f = *state;
    char uri[128], err[256] = "";
    snprintf(uri, sizeof(uri), "sqlite://%s", f->path);
    hp_db_options_t opts = {.uri = uri, .pool = 1, .busy_timeout_ms = 100};
    hp_db_t *db = hp_db_open(&opts, err, sizeof(err));
    if (db == NULL)
        fail_msg("%s", err);
    hp_schema_t *s = hp_db_schema(db);
    assert_non_null(hp_schema_find_table(s, "users", 5));
    hp_schema_unref(s);
    hp_db_close(db);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_read_renders_every_storage_class),
        T(test_read_empty_result_is_empty_array),
        T(test_read_text_is_escaped_and_repaired),
        T(test_read_with_count_in_one_snapshot),
        T(test_read_object_is_the_single_row),
        T(test_read_csv_quotes_fields),
        T(test_read_sql_error_is_db_error),
        T(test_insert_returning_with_location),
        T(test_location_only_for_a_single_row),
        T(test_write_without_returning_counts_changes),
        T(test_singular_write_of_many_rows_rolls_back),
        T(test_constraint_errors_map_to_codes),
        T(test_error_table_maps_as_postgrest),
        T(test_value_errors_map_to_codes),
        T(test_statement_timeout_on_reader_threads),
        T(test_statement_timeout_inline_past_the_budget),
        T(test_statement_timeout_inline_within_the_budget),
        T(test_write_with_count),
        T(test_many_jobs_at_once),
        T(test_same_statement_reused),
        T(test_budget_interrupt_keeps_snapshot_state),
        T(test_budget_interrupt_keeps_txn_state_without_snapshots),
        T(test_stray_transaction_is_repaired),
        T(test_schema_loaded_from_catalog),
        T(test_reload_swaps_snapshot),
        cmocka_unit_test(test_open_refuses_missing_file_and_absent_postgres),
        T(test_open_with_sqlite_scheme),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
