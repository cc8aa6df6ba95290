/* Tests for src/db/pg/demo_load.c against a live PostgreSQL: HP_TEST_PG is the URI of a role
 * that may create databases (scripts/pg-cluster.sh start prints one). The run creates its own
 * database and drops it at the end. Without HP_TEST_PG every test is skipped. */
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

#include "db/pg/demo_load.h"
#include "db/pg/schema_load.h"

#define S(lit) (lit), (sizeof(lit) - 1)
#define SCALE 0.001 /* 100 users, 20 products, 1000 orders, 10 devices, 2000 readings */

typedef struct {
    test_pg_db_t db;
    hp_demo_t demo;
} fixture_t;

/* The single value of a query, as text (static storage, valid until the next call). */
static const char *value_of(PGconn *conn, const char *sql)
{
    static char value[1024];
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
        fail_msg("%s: %s", sql, PQerrorMessage(conn));
    snprintf(value, sizeof(value), "%s", PQgetisnull(res, 0, 0) ? "(null)" : PQgetvalue(res, 0, 0));
    PQclear(res);
    return value;
}

static long long count_of(PGconn *conn, const char *table)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
    return strtoll(value_of(conn, sql), NULL, 10);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    if (test_pg_db_create(&f->db, "hp_unit_demo") != 0) {
        free(f);
        *state = NULL;
        return 0;
    }
    assert_int_equal(hp_demo_init(&f->demo, SCALE, HP_DEMO_DEFAULT_SEED), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    if (f == NULL)
        return 0;
    test_pg_db_drop(&f->db);
    free(f);
    return 0;
}

static fixture_t *fixture_or_skip(void **state)
{
    return test_pg_fixture_or_skip(state);
}

typedef struct {
    char steps[16][32];
    size_t count;
    int64_t rows;
} progress_t;

static void on_progress(void *ctx, const char *step, int64_t rows, double seconds)
{
    progress_t *p = ctx;
    assert_true(seconds >= 0);
    if (p->count < 16)
        snprintf(p->steps[p->count++], sizeof(p->steps[0]), "%s", step);
    if (rows > 0)
        p->rows += rows;
}

static void load_ok(fixture_t *f, const char *conninfo, int overwrite, progress_t *progress)
{
    char err[512] = "";
    if (hp_demo_pg_load(&f->demo, conninfo, overwrite, progress ? on_progress : NULL, progress, err,
                        sizeof(err)) != 0)
        fail_msg("hp_demo_pg_load: %s", err);
}

static void test_load_writes_every_row_and_step(void **state)
{
    fixture_t *f = fixture_or_skip(state);
    progress_t p = {0};
    load_ok(f, f->db.conninfo, 0, &p);
    static const char *const steps[] = {"users",   "products", "product_details",
                                        "orders",  "devices",  "readings",
                                        "indexes", "analyze",  "finish"};
    assert_int_equal(p.count, 9);
    for (size_t i = 0; i < 9; i++)
        assert_string_equal(p.steps[i], steps[i]);
    int64_t total = 0;
    for (int id = 0; id < HP_DEMO_TABLE_COUNT; id++) {
        const char *name = hp_demo_table((hp_demo_table_id_t)id)->name;
        assert_int_equal(count_of(f->db.conn, name), f->demo.row_count[id]);
        total += f->demo.row_count[id];
    }
    assert_int_equal(p.rows, total);
}

static void test_rows_match_the_generator(void **state)
{
    fixture_t *f = fixture_or_skip(state);
    hp_demo_user_t u;
    hp_demo_user(&f->demo, 7, &u);
    char want[1024];
    snprintf(want, sizeof(want), "%s|%s|%s|%s|%s", u.username, u.email, u.active ? "t" : "f",
             u.created_at, u.bio);
    assert_string_equal(value_of(f->db.conn, "SELECT concat_ws('|', username, email, active,"
                                             " created_at, bio) FROM users WHERE id = 7"),
                        want);

    /* Doubles arrive exactly: PostgreSQL prints the shortest text that reads back the same. */
    for (int64_t id = 1; id <= f->demo.row_count[HP_DEMO_PRODUCTS]; id++) {
        hp_demo_product_t p;
        hp_demo_product(&f->demo, id, &p);
        char sql[128];
        snprintf(sql, sizeof(sql), "SELECT price FROM products WHERE id = %lld", (long long)id);
        assert_true(strtod(value_of(f->db.conn, sql), NULL) == p.price);
    }
    hp_demo_reading_t r;
    hp_demo_reading(&f->demo, 1999, &r);
    snprintf(want, sizeof(want), "%lld|%.2f|%s", (long long)r.device_id, r.temperature, r.ts);
    assert_string_equal(value_of(f->db.conn, "SELECT concat_ws('|', device_id,"
                                             " to_char(temperature, 'FM990.00'), ts)"
                                             " FROM readings WHERE id = 1999"),
                        want);
}

static void test_keys_indexes_and_sequences(void **state)
{
    fixture_t *f = fixture_or_skip(state);
    assert_string_equal(
        value_of(f->db.conn,
                 "SELECT string_agg(conname, ',' ORDER BY conname) FROM pg_constraint"
                 " WHERE contype IN ('p', 'f') AND connamespace = 'public'::regnamespace"),
        "devices_pkey,orders_pkey,orders_user_id_fkey,product_details_pkey,"
        "product_details_product_id_fkey,products_pkey,readings_device_id_fkey,readings_pkey,"
        "users_pkey");
    size_t count;
    const hp_demo_index_t *indexes = hp_demo_indexes(&count);
    for (size_t i = 0; i < count; i++) {
        char sql[256];
        snprintf(sql, sizeof(sql), "SELECT to_regclass('%s') IS NOT NULL", indexes[i].name);
        assert_string_equal(value_of(f->db.conn, sql), "t");
    }
    /* A row inserted without an id takes the next one, as in SQLite. */
    assert_string_equal(value_of(f->db.conn, "INSERT INTO devices (name, status)"
                                             " VALUES ('x', 'active') RETURNING id"),
                        "11");
    test_pg_exec_ok(f->db.conn, "DELETE FROM devices WHERE id = 11");
    /* Statistics are there for the planner. */
    assert_string_equal(value_of(f->db.conn, "SELECT count(*) > 0 FROM pg_stats"
                                             " WHERE tablename = 'readings'"),
                        "t");
}

static void test_schema_loader_sees_the_demo(void **state)
{
    fixture_t *f = fixture_or_skip(state);
    char err[256] = "";
    hp_schema_t *s = hp_pg_load_schema(f->db.conn, err, sizeof(err));
    if (s == NULL)
        fail_msg("%s", err);
    assert_int_equal(hp_schema_table_count(s), HP_DEMO_TABLE_COUNT);
    const hp_table_t *products = hp_schema_find_table(s, S("products"));
    assert_non_null(products);
    assert_int_equal(products->columns[2].type, HP_COLTYPE_REAL);
    assert_int_equal(products->columns[4].type, HP_COLTYPE_TEXT);
    hp_relationship_t rel;
    assert_int_equal(
        hp_schema_find_relationships(s, products, S("product_details"), NULL, 0, &rel, 1), 1);
    assert_int_equal(rel.kind, HP_REL_ONE_TO_ONE);
    const hp_table_t *users = hp_schema_find_table(s, S("users"));
    assert_int_equal(users->columns[3].type, HP_COLTYPE_BOOLEAN);
    hp_schema_unref(s);
}

static void test_existing_tables_need_overwrite(void **state)
{
    fixture_t *f = fixture_or_skip(state);
    char err[512] = "";
    test_pg_exec_ok(f->db.conn,
                    "CREATE VIEW busy_devices AS SELECT id FROM devices WHERE status = 'active'");
    assert_int_equal(hp_demo_pg_load(&f->demo, f->db.conninfo, 0, NULL, NULL, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "already has demo tables"));
    assert_string_equal(value_of(f->db.conn, "SELECT to_regclass('busy_devices') IS NOT NULL"),
                        "t");

    load_ok(f, f->db.conninfo, 1, NULL);
    assert_int_equal(count_of(f->db.conn, "orders"), f->demo.row_count[HP_DEMO_ORDERS]);
    /* CASCADE took the view that depended on a demo table. */
    assert_string_equal(value_of(f->db.conn, "SELECT to_regclass('busy_devices') IS NULL"), "t");
}

static void test_first_schema_of_search_path(void **state)
{
    fixture_t *f = fixture_or_skip(state);
    char conninfo[600];
    test_pg_exec_ok(f->db.conn, "CREATE SCHEMA \"Shop\"");
    snprintf(conninfo, sizeof(conninfo), "%s options='-c search_path=\"Shop\",public'",
             f->db.conninfo);
    /* public has the demo tables already; the first schema of the path has none. */
    load_ok(f, conninfo, 0, NULL);
    assert_int_equal(count_of(f->db.conn, "\"Shop\".readings"),
                     f->demo.row_count[HP_DEMO_READINGS]);
    assert_int_equal(count_of(f->db.conn, "public.readings"), f->demo.row_count[HP_DEMO_READINGS]);
    test_pg_exec_ok(f->db.conn, "DROP SCHEMA \"Shop\" CASCADE");
}

static void test_errors_are_one_line(void **state)
{
    fixture_t *f = fixture_or_skip(state);
    char err[512] = "", conninfo[600];
    snprintf(conninfo, sizeof(conninfo), "%s_nope", f->db.conninfo);
    assert_int_equal(hp_demo_pg_load(&f->demo, conninfo, 1, NULL, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "does not exist"));
    assert_null(strchr(err, '\n'));
}

/* Last: a cancel is permanent for the process. */
static void test_cancel_before_load_changes_nothing(void **state)
{
    fixture_t *f = fixture_or_skip(state);
    char err[512] = "";
    test_pg_exec_ok(f->db.conn, "DELETE FROM readings WHERE id > 10");
    hp_demo_pg_cancel();
    assert_int_equal(hp_demo_pg_load(&f->demo, f->db.conninfo, 1, NULL, NULL, err, sizeof(err)),
                     -1);
    assert_string_equal(err, "interrupted");
    assert_int_equal(count_of(f->db.conn, "readings"), 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_writes_every_row_and_step),
        cmocka_unit_test(test_rows_match_the_generator),
        cmocka_unit_test(test_keys_indexes_and_sequences),
        cmocka_unit_test(test_schema_loader_sees_the_demo),
        cmocka_unit_test(test_existing_tables_need_overwrite),
        cmocka_unit_test(test_first_schema_of_search_path),
        cmocka_unit_test(test_errors_are_one_line),
        cmocka_unit_test(test_cancel_before_load_changes_nothing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
