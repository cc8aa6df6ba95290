/* Tests for src/db/pg/schema_load.c against a live PostgreSQL: HP_TEST_PG is the URI of a
 * role that may create databases (scripts/pg-cluster.sh start prints one). Each run creates its
 * own database, loads tests/spec/fixture.pg.sql (run from the repository root, as make does)
 * and drops the database at the end. Without HP_TEST_PG every test is skipped. */
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

#include "db/pg/schema_load.h"

#define S(lit) (lit), (sizeof(lit) - 1)
#define FIXTURE "tests/spec/fixture.pg.sql"

typedef struct {
    test_pg_db_t db;
} fixture_t;

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)len + 1);
    if (text != NULL && fread(text, 1, (size_t)len, f) == (size_t)len) {
        text[len] = '\0';
    } else {
        free(text);
        text = NULL;
    }
    fclose(f);
    return text;
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    if (test_pg_db_create(&f->db, "hp_unit_schema") != 0) {
        free(f);
        *state = NULL;
        return 0;
    }
    char *script = read_file(FIXTURE);
    if (script == NULL)
        fail_msg("cannot read %s (run from the repository root)", FIXTURE);
    test_pg_exec_ok(f->db.conn, script);
    free(script);
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

static hp_schema_t *load_ok(PGconn *conn)
{
    char err[256] = "";
    hp_schema_t *s = hp_pg_load_schema(conn, err, sizeof(err));
    if (s == NULL)
        fail_msg("hp_pg_load_schema: %s", err);
    return s;
}

static const hp_table_t *table(const hp_schema_t *s, const char *name)
{
    const hp_table_t *t = hp_schema_find_table(s, name, strlen(name));
    if (t == NULL)
        fail_msg("no table %s", name);
    return t;
}

static const hp_column_t *column(const hp_table_t *t, const char *name)
{
    int i = hp_table_find_column(t, name, strlen(name));
    if (i < 0)
        fail_msg("no column %s.%s", t->name, name);
    return &t->columns[i];
}

static void test_fixture_tables_in_name_order(void **state)
{
    fixture_t *f = fixture_or_skip(state);
    hp_schema_t *s = load_ok(f->db.conn);
    static const char *const names[] = {"active_users", "items",  "messages", "notes",
                                        "order_lines",  "orders", "pg_types", "product_details",
                                        "products",     "users"};
    assert_int_equal(hp_schema_table_count(s), 10);
    for (size_t i = 0; i < 10; i++) {
        const hp_table_t *t = hp_schema_table_at(s, i);
        assert_string_equal(t->name, names[i]);
        assert_false(t->has_rowid);
        assert_int_equal(t->is_view, strcmp(names[i], "active_users") == 0);
    }
    hp_schema_unref(s);
}

static void test_fixture_columns_types_and_defaults(void **state)
{
    fixture_t *f = fixture_or_skip(state);
    hp_schema_t *s = load_ok(f->db.conn);
    const hp_table_t *users = table(s, "users");
    assert_int_equal(users->column_count, 7);
    static const char *const order[] = {"id",    "name", "email",     "active",
                                        "score", "meta", "created_at"};
    for (size_t i = 0; i < 7; i++)
        assert_string_equal(users->columns[i].name, order[i]);
    const hp_column_t *id = column(users, "id");
    assert_string_equal(id->decl_type, "integer");
    assert_int_equal(id->type, HP_COLTYPE_INTEGER);
    assert_true(id->not_null);
    assert_string_equal(id->default_sql, "nextval('users_id_seq'::regclass)");
    assert_int_equal(column(users, "active")->type, HP_COLTYPE_BOOLEAN);
    assert_string_equal(column(users, "score")->decl_type, "double precision");
    assert_int_equal(column(users, "score")->type, HP_COLTYPE_REAL);
    assert_int_equal(column(users, "meta")->type, HP_COLTYPE_JSON);
    assert_int_equal(column(users, "created_at")->type, HP_COLTYPE_TEXT);
    assert_false(column(users, "email")->not_null);
    assert_true(column(users, "name")->not_null);
    assert_null(column(users, "name")->default_sql);

    const hp_table_t *orders = table(s, "orders");
    assert_string_equal(column(orders, "status")->default_sql, "'new'::text");
    assert_string_equal(column(orders, "created_at")->default_sql, "'2024-01-01'::text");

    const hp_table_t *notes = table(s, "notes");
    assert_string_equal(column(notes, "n")->decl_type, "bigint");
    assert_int_equal(column(notes, "display name")->type, HP_COLTYPE_TEXT);

    const hp_table_t *view = table(s, "active_users");
    assert_int_equal(view->column_count, 3);
    assert_int_equal(view->pk_count, 0);
    assert_int_equal(column(view, "id")->type, HP_COLTYPE_INTEGER);
    hp_schema_unref(s);
}

static void test_fixture_primary_keys(void **state)
{
    fixture_t *f = fixture_or_skip(state);
    hp_schema_t *s = load_ok(f->db.conn);
    const hp_table_t *lines = table(s, "order_lines");
    /* Unique: a one-column primary key and a UNIQUE column; not a column of a two-column key. */
    assert_true(column(table(s, "users"), "id")->is_unique);
    assert_true(column(table(s, "users"), "email")->is_unique);
    assert_false(column(table(s, "users"), "name")->is_unique);
    assert_false(column(lines, "order_id")->is_unique);
    assert_int_equal(lines->pk_count, 2);
    assert_string_equal(lines->columns[lines->pk_cols[0]].name, "order_id");
    assert_string_equal(lines->columns[lines->pk_cols[1]].name, "product_id");
    assert_false(column(lines, "qty")->is_pk);
    const hp_table_t *details = table(s, "product_details");
    assert_int_equal(details->pk_count, 1);
    assert_string_equal(details->columns[details->pk_cols[0]].name, "product_id");
    hp_schema_unref(s);
}

static void test_fixture_foreign_keys(void **state)
{
    fixture_t *f = fixture_or_skip(state);
    hp_schema_t *s = load_ok(f->db.conn);
    hp_relationship_t rels[4];

    /* Two keys from messages to users: ambiguous until a hint names one. */
    const hp_table_t *messages = table(s, "messages");
    assert_int_equal(hp_schema_find_relationships(s, messages, S("users"), NULL, 0, rels, 4), 2);
    assert_int_equal(hp_schema_find_relationships(s, messages, S("users"),
                                                  S("messages_sender_id_fkey"), rels, 4),
                     1);
    assert_string_equal(rels[0].fkey->name, "messages_sender_id_fkey");
    assert_int_equal(rels[0].kind, HP_REL_MANY_TO_ONE);

    const hp_table_t *orders = table(s, "orders");
    assert_int_equal(hp_schema_find_relationships(s, orders, S("users"), NULL, 0, rels, 4), 1);
    assert_string_equal(rels[0].fkey->name, "orders_user_id_fkey");
    assert_int_equal(hp_schema_find_relationships(s, orders, S("order_lines"), NULL, 0, rels, 4),
                     1);
    assert_int_equal(rels[0].kind, HP_REL_ONE_TO_MANY);

    const hp_table_t *products = table(s, "products");
    assert_int_equal(
        hp_schema_find_relationships(s, products, S("product_details"), NULL, 0, rels, 4), 1);
    assert_int_equal(rels[0].kind, HP_REL_ONE_TO_ONE);

    const hp_table_t *items = table(s, "items");
    assert_int_equal(hp_schema_find_relationships(s, items, S("items"), NULL, 0, rels, 4), 1);
    assert_int_equal(rels[0].kind, HP_REL_ONE_TO_MANY);
    assert_string_equal(rels[0].fkey->name, "items_parent_id_fkey");
    hp_schema_unref(s);
}

/* A schema of its own, first in search_path: multi-column keys in key order (not column
 * order), domains, enums, arrays, generated and identity columns, a column-less table, a
 * materialized view and a partitioned table whose partitions inherit its foreign key. */
static const char extra_schema[] =
    "CREATE SCHEMA extra;"
    "SET search_path = extra, public;"
    "CREATE DOMAIN extra.cents AS numeric(12,2);"
    "CREATE DOMAIN extra.positive AS integer CHECK (VALUE > 0);"
    "CREATE DOMAIN extra.small_positive AS extra.positive CHECK (VALUE < 100);"
    "CREATE TYPE extra.mood AS ENUM ('happy', 'sad');"
    "CREATE TABLE parent (a integer, b integer, label text, PRIMARY KEY (b, a));"
    "CREATE TABLE child (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, x integer,"
    " y integer, price cents, n small_positive, feeling mood, tags text[],"
    " doubled integer GENERATED ALWAYS AS (x * 2) STORED, at timestamptz DEFAULT now(),"
    " CONSTRAINT child_parent FOREIGN KEY (y, x) REFERENCES parent (b, a));"
    "CREATE TABLE nothing ();"
    "CREATE MATERIALIZED VIEW totals AS SELECT x, count(*) AS n FROM child GROUP BY x;"
    "CREATE TABLE events (id integer, pid integer, day date,"
    " CONSTRAINT events_to_parent FOREIGN KEY (pid, id) REFERENCES parent (b, a))"
    " PARTITION BY RANGE (day);"
    "CREATE TABLE events_2024 PARTITION OF events"
    " FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');";

static void test_first_schema_of_search_path(void **state)
{
    fixture_t *f = fixture_or_skip(state);
    test_pg_exec_ok(f->db.conn, extra_schema);
    hp_schema_t *s = load_ok(f->db.conn);
    test_pg_exec_ok(f->db.conn, "RESET search_path");

    assert_int_equal(hp_schema_table_count(s), 6);    /* events_2024 is a table too */
    assert_null(hp_schema_find_table(s, S("users"))); /* public is not exposed */
    const hp_table_t *child = table(s, "child");
    assert_int_equal(column(child, "price")->type, HP_COLTYPE_NUMERIC);
    assert_string_equal(column(child, "price")->decl_type, "cents");
    assert_int_equal(column(child, "n")->type, HP_COLTYPE_INTEGER); /* a domain of a domain */
    assert_int_equal(column(child, "feeling")->type, HP_COLTYPE_TEXT);
    assert_string_equal(column(child, "tags")->decl_type, "text[]");
    assert_int_equal(column(child, "tags")->type, HP_COLTYPE_TEXT);
    assert_null(column(child, "doubled")->default_sql); /* generated, not a default */
    /* identity: none in pg_attrdef; nextval() of its sequence, for Prefer: missing=default */
    assert_non_null(strstr(column(child, "id")->default_sql, "nextval("));
    assert_string_equal(column(child, "at")->decl_type, "timestamp with time zone");
    assert_string_equal(column(child, "at")->default_sql, "now()");
    assert_true(column(child, "id")->is_pk);
    assert_true(column(child, "id")->is_unique); /* a one-column primary key */

    const hp_table_t *parent = table(s, "parent");
    assert_int_equal(parent->pk_count, 2);
    assert_string_equal(parent->columns[parent->pk_cols[0]].name, "b");
    assert_string_equal(parent->columns[parent->pk_cols[1]].name, "a");

    hp_relationship_t rels[4];
    assert_int_equal(hp_schema_find_relationships(s, child, S("parent"), NULL, 0, rels, 4), 1);
    const hp_fkey_t *k = rels[0].fkey;
    assert_string_equal(k->name, "child_parent");
    assert_int_equal(k->col_count, 2);
    assert_string_equal(child->columns[k->from_cols[0]].name, "y");
    assert_string_equal(parent->columns[k->to_cols[0]].name, "b");
    assert_string_equal(child->columns[k->from_cols[1]].name, "x");
    assert_string_equal(parent->columns[k->to_cols[1]].name, "a");

    /* The partition's copy of the key is not a second relationship. */
    assert_int_equal(hp_schema_find_relationships(s, parent, S("events"), NULL, 0, rels, 4), 1);
    assert_int_equal(hp_schema_find_relationships(s, parent, S("events_2024"), NULL, 0, rels, 4),
                     0);

    assert_int_equal(table(s, "nothing")->column_count, 0);
    assert_true(table(s, "totals")->is_view);
    hp_schema_unref(s);
    test_pg_exec_ok(f->db.conn, "DROP SCHEMA extra CASCADE");
}

static void test_transaction_state_is_kept(void **state)
{
    fixture_t *f = fixture_or_skip(state);
    hp_schema_t *s = load_ok(f->db.conn);
    assert_int_equal(PQtransactionStatus(f->db.conn), PQTRANS_IDLE);
    hp_schema_unref(s);

    /* Inside the caller's transaction: it sees the caller's uncommitted table and leaves the
     * transaction open. */
    test_pg_exec_ok(f->db.conn, "BEGIN; CREATE TABLE uncommitted (id integer)");
    s = load_ok(f->db.conn);
    assert_int_equal(PQtransactionStatus(f->db.conn), PQTRANS_INTRANS);
    assert_non_null(hp_schema_find_table(s, S("uncommitted")));
    hp_schema_unref(s);
    test_pg_exec_ok(f->db.conn, "ROLLBACK");
}

static void test_errors_are_reported(void **state)
{
    fixture_t *f = fixture_or_skip(state);
    char err[256] = "";
    test_pg_exec_ok(f->db.conn, "BEGIN");
    PQclear(PQexec(f->db.conn, "SELECT 1/0")); /* the transaction is now aborted */
    assert_null(hp_pg_load_schema(f->db.conn, err, sizeof(err)));
    assert_non_null(strstr(err, "loading the schema"));
    assert_null(strchr(err, '\n'));
    test_pg_exec_ok(f->db.conn, "ROLLBACK");

    assert_int_equal(PQenterPipelineMode(f->db.conn), 1);
    assert_null(hp_pg_load_schema(f->db.conn, err, sizeof(err)));
    assert_non_null(strstr(err, "pipeline"));
    assert_int_equal(PQexitPipelineMode(f->db.conn), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_tables_in_name_order),
        cmocka_unit_test(test_fixture_columns_types_and_defaults),
        cmocka_unit_test(test_fixture_primary_keys),
        cmocka_unit_test(test_fixture_foreign_keys),
        cmocka_unit_test(test_first_schema_of_search_path),
        cmocka_unit_test(test_transaction_state_is_kept),
        cmocka_unit_test(test_errors_are_reported),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
