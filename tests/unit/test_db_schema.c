/* Tests for src/db/schema.c: building, lookups, types and relationships. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "db/schema.h"

#define S(lit) (lit), (sizeof(lit) - 1)

/* users(id PK) <- orders(user_id), products(id) <- product_details(product_id PK),
 * employees(id, manager_id -> employees.id), messages(sender_id, receiver_id -> users). */
static hp_schema_t *build_demo(void)
{
    hp_schema_t *s = hp_schema_create();
    hp_table_t *t = hp_schema_add_table(s, "users", 0, 1);
    hp_schema_add_column(s, t, "id", "INTEGER", 1, 1, NULL);
    hp_schema_add_column(s, t, "email", "TEXT", 1, 0, NULL);
    hp_schema_add_column(s, t, "active", "BOOLEAN", 0, 0, "1");

    t = hp_schema_add_table(s, "orders", 0, 1);
    hp_schema_add_column(s, t, "id", "INTEGER", 1, 1, NULL);
    hp_schema_add_column(s, t, "user_id", "INTEGER", 1, 0, NULL);
    hp_schema_add_column(s, t, "total", "REAL", 0, 0, NULL);

    t = hp_schema_add_table(s, "products", 0, 1);
    hp_schema_add_column(s, t, "id", "INTEGER", 1, 1, NULL);
    hp_schema_add_column(s, t, "name", "TEXT", 0, 0, NULL);

    t = hp_schema_add_table(s, "product_details", 0, 0);
    hp_schema_add_column(s, t, "product_id", "INTEGER", 1, 1, NULL);
    hp_schema_add_column(s, t, "description", "TEXT", 0, 0, NULL);

    t = hp_schema_add_table(s, "employees", 0, 1);
    hp_schema_add_column(s, t, "id", "INTEGER", 1, 1, NULL);
    hp_schema_add_column(s, t, "manager_id", "INTEGER", 0, 0, NULL);

    t = hp_schema_add_table(s, "messages", 0, 1);
    hp_schema_add_column(s, t, "id", "INTEGER", 1, 1, NULL);
    hp_schema_add_column(s, t, "sender_id", "INTEGER", 1, 0, NULL);
    hp_schema_add_column(s, t, "receiver_id", "INTEGER", 1, 0, NULL);

    hp_schema_add_table(s, "active_users", 1, 0);

    const char *uid[] = {"user_id"}, *id[] = {"id"}, *pid[] = {"product_id"};
    const char *mid[] = {"manager_id"}, *sid[] = {"sender_id"}, *rid[] = {"receiver_id"};
    assert_int_equal(hp_schema_add_fkey(s, NULL, "orders", uid, "users", id, 1), 0);
    assert_int_equal(hp_schema_add_fkey(s, NULL, "product_details", pid, "products", id, 1), 0);
    assert_int_equal(hp_schema_add_fkey(s, NULL, "employees", mid, "employees", id, 1), 0);
    assert_int_equal(hp_schema_add_fkey(s, "msg_sender", "messages", sid, "users", id, 1), 0);
    assert_int_equal(hp_schema_add_fkey(s, "msg_receiver", "messages", rid, "users", id, 1), 0);
    hp_schema_finalize(s);
    return s;
}

static void test_tables_found_by_exact_name(void **state)
{
    (void)state;
    hp_schema_t *s = build_demo();
    assert_int_equal(hp_schema_table_count(s), 7);
    const hp_table_t *t = hp_schema_find_table(s, S("orders"));
    assert_non_null(t);
    assert_string_equal(t->name, "orders");
    assert_ptr_equal(hp_schema_table_at(s, 1), t);
    assert_null(hp_schema_find_table(s, S("Orders")));
    assert_null(hp_schema_find_table(s, S("order")));
    assert_non_null(hp_schema_find_table(s, "ordersX", 6)); /* length decides, not NUL */
    assert_null(hp_schema_table_at(s, 7));
    const hp_table_t *v = hp_schema_find_table(s, S("active_users"));
    assert_non_null(v);
    assert_true(v->is_view);
    assert_int_equal(v->column_count, 0);
    assert_int_equal(v->pk_count, 0);
    hp_schema_unref(s);
}

static void test_columns_and_primary_key(void **state)
{
    (void)state;
    hp_schema_t *s = build_demo();
    const hp_table_t *t = hp_schema_find_table(s, S("users"));
    assert_int_equal(hp_table_find_column(t, S("email")), 1);
    assert_int_equal(hp_table_find_column(t, S("id")), 0);
    assert_int_equal(hp_table_find_column(t, S("nope")), -1);
    assert_int_equal(t->pk_count, 1);
    assert_int_equal(t->pk_cols[0], 0);
    assert_true(t->columns[0].is_pk);
    assert_true(t->columns[1].not_null);
    assert_int_equal(t->columns[2].type, HP_COLTYPE_BOOLEAN);
    assert_string_equal(t->columns[2].default_sql, "1");
    assert_null(t->columns[1].default_sql);
    assert_string_equal(t->columns[1].decl_type, "TEXT");
    assert_false(hp_schema_find_table(s, S("product_details"))->has_rowid);
    hp_schema_unref(s);
}

static void test_wide_table_uses_hash_lookup(void **state)
{
    (void)state;
    hp_schema_t *s = hp_schema_create();
    hp_table_t *t = hp_schema_add_table(s, "wide", 0, 1);
    char name[32];
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof(name), "c%d", i);
        /* A composite key in reverse column order: c9 first, then c3. */
        int pk = i == 9 ? 1 : i == 3 ? 2 : 0;
        hp_schema_add_column(s, t, name, NULL, 0, pk, NULL);
    }
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof(name), "t%d", i);
        hp_schema_add_table(s, name, 0, 1);
    }
    hp_schema_finalize(s);
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof(name), "c%d", i);
        assert_int_equal(hp_table_find_column(t, name, strlen(name)), i);
    }
    assert_int_equal(hp_table_find_column(t, S("c100")), -1);
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof(name), "t%d", i);
        const hp_table_t *x = hp_schema_find_table(s, name, strlen(name));
        assert_non_null(x);
        assert_string_equal(x->name, name);
    }
    assert_int_equal(t->pk_count, 2);
    assert_int_equal(t->pk_cols[0], 9);
    assert_int_equal(t->pk_cols[1], 3);
    assert_int_equal(t->columns[0].type, HP_COLTYPE_BLOB);
    assert_string_equal(t->columns[0].decl_type, "");
    hp_schema_unref(s);
}

static void test_type_affinity_rules(void **state)
{
    (void)state;
    static const struct {
        const char *decl;
        hp_coltype_t want;
    } cases[] = {
        {"INTEGER", HP_COLTYPE_INTEGER},
        {"int", HP_COLTYPE_INTEGER},
        {"BIGINT", HP_COLTYPE_INTEGER},
        {"UNSIGNED BIG INT", HP_COLTYPE_INTEGER},
        {"POINT", HP_COLTYPE_INTEGER}, /* contains "INT": SQLite's rule, not ours */
        {"VARCHAR(255)", HP_COLTYPE_TEXT},
        {"NCHAR(5)", HP_COLTYPE_TEXT},
        {"text", HP_COLTYPE_TEXT},
        {"CLOB", HP_COLTYPE_TEXT},
        {"CHARINT", HP_COLTYPE_INTEGER}, /* INT wins over CHAR */
        {"BLOB", HP_COLTYPE_BLOB},
        {"", HP_COLTYPE_BLOB},
        {NULL, HP_COLTYPE_BLOB},
        {"  ", HP_COLTYPE_BLOB},
        {"REAL", HP_COLTYPE_REAL},
        {"DOUBLE PRECISION", HP_COLTYPE_REAL},
        {"FLOAT", HP_COLTYPE_REAL},
        {"NUMERIC", HP_COLTYPE_NUMERIC},
        {"DECIMAL(10,5)", HP_COLTYPE_NUMERIC},
        {"DATE", HP_COLTYPE_NUMERIC},
        {"DATETIME", HP_COLTYPE_NUMERIC},
        {"TIMESTAMP", HP_COLTYPE_NUMERIC},
        {"BOOLEAN", HP_COLTYPE_BOOLEAN},
        {"bool", HP_COLTYPE_BOOLEAN},
        {"Boolean", HP_COLTYPE_BOOLEAN},
        {"JSON", HP_COLTYPE_JSON},
        {"jsonb", HP_COLTYPE_JSON},
        {"JSONTEXT", HP_COLTYPE_TEXT},
        {"BOOLEANS", HP_COLTYPE_NUMERIC},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        hp_coltype_t got = hp_schema_type_of(cases[i].decl);
        if (got != cases[i].want)
            fail_msg("type of '%s': got %d, want %d", cases[i].decl ? cases[i].decl : "(null)",
                     (int)got, (int)cases[i].want);
    }
}

static void test_postgres_type_names(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        hp_coltype_t want;
    } cases[] = {
        {"smallint", HP_COLTYPE_INTEGER},
        {"integer", HP_COLTYPE_INTEGER},
        {"bigint", HP_COLTYPE_INTEGER},
        {"boolean", HP_COLTYPE_BOOLEAN},
        {"json", HP_COLTYPE_JSON},
        {"jsonb", HP_COLTYPE_JSON},
        {"numeric", HP_COLTYPE_NUMERIC},
        {"numeric(10,2)", HP_COLTYPE_NUMERIC},
        {"real", HP_COLTYPE_REAL},
        {"double precision", HP_COLTYPE_REAL},
        {"text", HP_COLTYPE_TEXT},
        {"character varying(20)", HP_COLTYPE_TEXT},
        {"character varying", HP_COLTYPE_TEXT},
        {"character(5)", HP_COLTYPE_TEXT},
        {"timestamp with time zone", HP_COLTYPE_TEXT},
        {"timestamp(3) without time zone", HP_COLTYPE_TEXT},
        {"date", HP_COLTYPE_TEXT},
        {"uuid", HP_COLTYPE_TEXT},
        {"bytea", HP_COLTYPE_BLOB},
        {"integer[]", HP_COLTYPE_TEXT}, /* arrays are not JSON: {1,2} */
        {"numeric(10,2)[]", HP_COLTYPE_TEXT},
        {"jsonb[]", HP_COLTYPE_TEXT},
        {"interval", HP_COLTYPE_TEXT}, /* contains INT: SQLite's rule would say INTEGER */
        {"point", HP_COLTYPE_TEXT},
        {"int4range", HP_COLTYPE_TEXT},
        {"mood", HP_COLTYPE_TEXT},        /* an enum */
        {"\"Integer\"", HP_COLTYPE_TEXT}, /* a user type that only looks like one */
        {"INTEGER", HP_COLTYPE_TEXT},     /* format_type() never writes upper case */
        {"numeric(10", HP_COLTYPE_TEXT},  /* malformed: no crash */
        {"", HP_COLTYPE_TEXT},
        {NULL, HP_COLTYPE_TEXT},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        hp_coltype_t got = hp_schema_pg_type_of(cases[i].name);
        if (got != cases[i].want)
            fail_msg("type of '%s': got %d, want %d", cases[i].name ? cases[i].name : "(null)",
                     (int)got, (int)cases[i].want);
    }
}

static void test_sqlite_rules_unchanged_for_postgres_names(void **state)
{
    (void)state;
    /* SQLite columns keep SQLite's affinity even when declared with PostgreSQL's names. */
    assert_int_equal(hp_schema_type_of("integer[]"), HP_COLTYPE_INTEGER);
    assert_int_equal(hp_schema_type_of("interval"), HP_COLTYPE_INTEGER);
    assert_int_equal(hp_schema_type_of("date"), HP_COLTYPE_NUMERIC);
    assert_int_equal(hp_schema_type_of("timestamp with time zone"), HP_COLTYPE_NUMERIC);
    assert_int_equal(hp_schema_type_of("uuid"), HP_COLTYPE_NUMERIC);
}

static void test_typed_column_keeps_the_given_type(void **state)
{
    (void)state;
    hp_schema_t *s = hp_schema_create();
    hp_table_t *t = hp_schema_add_table(s, "events", 0, 0);
    hp_schema_add_typed_column(s, t, "id", "bigint", HP_COLTYPE_INTEGER, 1, 1,
                               "nextval('events_id_seq'::regclass)");
    hp_schema_add_typed_column(s, t, "at", "date", HP_COLTYPE_TEXT, 0, 0, NULL);
    hp_schema_add_column(s, t, "day", "date", 0, 0, NULL);
    hp_schema_finalize(s);
    assert_int_equal(t->columns[0].type, HP_COLTYPE_INTEGER);
    assert_string_equal(t->columns[0].default_sql, "nextval('events_id_seq'::regclass)");
    assert_int_equal(t->columns[1].type, HP_COLTYPE_TEXT);
    assert_string_equal(t->columns[1].decl_type, "date");
    assert_int_equal(t->columns[2].type, HP_COLTYPE_NUMERIC);
    assert_int_equal(t->pk_count, 1);
    assert_int_equal(t->pk_cols[0], 0);
    hp_schema_unref(s);
}

static void test_many_to_one_and_one_to_many(void **state)
{
    (void)state;
    hp_schema_t *s = build_demo();
    const hp_table_t *users = hp_schema_find_table(s, S("users"));
    const hp_table_t *orders = hp_schema_find_table(s, S("orders"));
    hp_relationship_t rel[4];

    assert_int_equal(hp_schema_find_relationships(s, orders, S("users"), NULL, 0, rel, 4), 1);
    assert_int_equal(rel[0].kind, HP_REL_MANY_TO_ONE);
    assert_ptr_equal(rel[0].parent, orders);
    assert_ptr_equal(rel[0].child, users);
    assert_string_equal(rel[0].fkey->name, "orders_user_id_fkey");
    assert_int_equal(rel[0].fkey->from_cols[0], 1);
    assert_int_equal(rel[0].fkey->to_cols[0], 0);

    assert_int_equal(hp_schema_find_relationships(s, users, S("orders"), NULL, 0, rel, 4), 1);
    assert_int_equal(rel[0].kind, HP_REL_ONE_TO_MANY);
    assert_ptr_equal(rel[0].parent, users);
    assert_ptr_equal(rel[0].child, orders);

    assert_int_equal(hp_schema_find_relationships(s, users, S("products"), NULL, 0, rel, 4), 0);
    assert_int_equal(hp_schema_find_relationships(s, users, S("nosuch"), NULL, 0, rel, 4), 0);
    hp_schema_unref(s);
}

static void test_one_to_one_when_fkey_is_child_pk(void **state)
{
    (void)state;
    hp_schema_t *s = build_demo();
    const hp_table_t *products = hp_schema_find_table(s, S("products"));
    const hp_table_t *details = hp_schema_find_table(s, S("product_details"));
    hp_relationship_t rel[2];
    assert_int_equal(
        hp_schema_find_relationships(s, products, S("product_details"), NULL, 0, rel, 2), 1);
    assert_int_equal(rel[0].kind, HP_REL_ONE_TO_ONE);
    assert_ptr_equal(rel[0].child, details);
    assert_int_equal(hp_schema_find_relationships(s, details, S("products"), NULL, 0, rel, 2), 1);
    assert_int_equal(rel[0].kind, HP_REL_MANY_TO_ONE);
    hp_schema_unref(s);
}

static void test_ambiguous_embed_narrowed_by_hint(void **state)
{
    (void)state;
    hp_schema_t *s = build_demo();
    const hp_table_t *users = hp_schema_find_table(s, S("users"));
    const hp_table_t *messages = hp_schema_find_table(s, S("messages"));
    hp_relationship_t rel[1];
    /* Two keys: the count exceeds cap, only the first is written. */
    assert_int_equal(hp_schema_find_relationships(s, users, S("messages"), NULL, 0, rel, 1), 2);
    assert_string_equal(rel[0].fkey->name, "msg_sender");
    assert_int_equal(
        hp_schema_find_relationships(s, users, S("messages"), S("msg_receiver"), rel, 1), 1);
    assert_string_equal(rel[0].fkey->name, "msg_receiver");
    assert_int_equal(hp_schema_find_relationships(s, users, S("messages"), S("sender_id"), rel, 1),
                     1);
    assert_string_equal(rel[0].fkey->name, "msg_sender");
    assert_int_equal(
        hp_schema_find_relationships(s, messages, S("users"), S("receiver_id"), rel, 1), 1);
    assert_int_equal(rel[0].kind, HP_REL_MANY_TO_ONE);
    assert_string_equal(rel[0].fkey->name, "msg_receiver");
    /* "id" is a column on the users side of both keys. */
    assert_int_equal(hp_schema_find_relationships(s, messages, S("users"), S("id"), rel, 0), 2);
    assert_int_equal(hp_schema_find_relationships(s, messages, S("users"), S("nope"), rel, 1), 0);
    hp_schema_unref(s);
}

/* PostgREST's rules for what `target!hint` names (findRel in src/PostgREST/Plan.hs), as
 * {parent, target, hint, count, first kind, first constraint}. */
static const struct {
    const char *parent;
    const char *target;
    const char *hint; /* NULL: none */
    size_t count;
    hp_rel_kind_t kind; /* of the first match, when count != 0 */
    const char *fkey;   /* of the first match, when count != 0 */
} target_rules[] = {
    /* a self-referencing key: the table's name embeds the referencing rows (one-to-many), so
     * does the table hinted by the referencing column; the referencing column itself embeds the
     * referenced row (many-to-one); nothing else names it */
    {"employees", "employees", NULL, 1, HP_REL_ONE_TO_MANY, "employees_manager_id_fkey"},
    {"employees", "employees", "manager_id", 1, HP_REL_ONE_TO_MANY, "employees_manager_id_fkey"},
    {"employees", "manager_id", NULL, 1, HP_REL_MANY_TO_ONE, "employees_manager_id_fkey"},
    {"employees", "employees", "id", 0, 0, NULL},
    {"employees", "employees", "employees_manager_id_fkey", 0, 0, NULL},
    {"employees", "manager_id", "manager_id", 0, 0, NULL},
    {"employees", "id", NULL, 0, 0, NULL},
    {"employees", "employees_manager_id_fkey", NULL, 0, 0, NULL},
    /* without a hint: the table, the constraint, or the parent's column of the key */
    {"orders", "users", NULL, 1, HP_REL_MANY_TO_ONE, "orders_user_id_fkey"},
    {"orders", "orders_user_id_fkey", NULL, 1, HP_REL_MANY_TO_ONE, "orders_user_id_fkey"},
    {"orders", "user_id", NULL, 1, HP_REL_MANY_TO_ONE, "orders_user_id_fkey"},
    {"users", "orders_user_id_fkey", NULL, 1, HP_REL_ONE_TO_MANY, "orders_user_id_fkey"},
    {"users", "id", NULL, 3, HP_REL_ONE_TO_MANY, "orders_user_id_fkey"},
    {"orders", "total", NULL, 0, 0, NULL},
    {"orders", "id", NULL, 0, 0, NULL},
    /* with a hint: the table, and the constraint or a column of the key on either side */
    {"orders", "users", "orders_user_id_fkey", 1, HP_REL_MANY_TO_ONE, "orders_user_id_fkey"},
    {"orders", "users", "user_id", 1, HP_REL_MANY_TO_ONE, "orders_user_id_fkey"},
    {"orders", "users", "id", 1, HP_REL_MANY_TO_ONE, "orders_user_id_fkey"},
    {"orders", "users", "total", 0, 0, NULL},
    {"orders", "user_id", "orders_user_id_fkey", 0, 0, NULL},
    {"messages", "users", NULL, 2, HP_REL_MANY_TO_ONE, "msg_sender"},
    {"messages", "users", "receiver_id", 1, HP_REL_MANY_TO_ONE, "msg_receiver"},
    {"messages", "msg_receiver", NULL, 1, HP_REL_MANY_TO_ONE, "msg_receiver"},
    {"users", "messages", "sender_id", 1, HP_REL_ONE_TO_MANY, "msg_sender"},
    {"products", "product_details", NULL, 1, HP_REL_ONE_TO_ONE, "product_details_product_id_fkey"},
    {"products", "product_id", NULL, 0, 0, NULL},
    {"users", "", NULL, 0, 0, NULL},
};

static void test_embed_target_rules(void **state)
{
    (void)state;
    hp_schema_t *s = build_demo();
    for (size_t i = 0; i != sizeof(target_rules) / sizeof(target_rules[0]); ++i) {
        const hp_table_t *parent =
            hp_schema_find_table(s, target_rules[i].parent, strlen(target_rules[i].parent));
        const char *hint = target_rules[i].hint;
        hp_relationship_t rel[4];
        size_t count = hp_schema_find_relationships(s, parent, target_rules[i].target,
                                                    strlen(target_rules[i].target), hint,
                                                    hint != NULL ? strlen(hint) : 0, rel, 4);
        if (count != target_rules[i].count ||
            (count != 0 && (rel[0].kind != target_rules[i].kind ||
                            strcmp(rel[0].fkey->name, target_rules[i].fkey) != 0)))
            print_error("case %zu: %s -> %s!%s: %zu found, first %s (%d)\n", i,
                        target_rules[i].parent, target_rules[i].target, hint ? hint : "", count,
                        count ? rel[0].fkey->name : "-", count ? (int)rel[0].kind : -1);
        assert_int_equal(count, target_rules[i].count);
        if (count == 0)
            continue;
        assert_int_equal(rel[0].kind, target_rules[i].kind);
        assert_string_equal(rel[0].fkey->name, target_rules[i].fkey);
        assert_ptr_equal(rel[0].parent, parent);
        assert_ptr_equal(rel[0].child, rel[0].kind == HP_REL_MANY_TO_ONE ? rel[0].fkey->to_table
                                                                         : rel[0].fkey->from_table);
    }
    hp_schema_unref(s);
}

/* A view is embedded by its name only; a composite key by the table or constraint only (a
 * column names single-column keys). */
static void test_views_and_composite_keys_as_targets(void **state)
{
    (void)state;
    hp_schema_t *s = hp_schema_create();
    hp_table_t *a = hp_schema_add_table(s, "a", 0, 1);
    hp_schema_add_column(s, a, "id", "INTEGER", 1, 1, NULL);
    hp_schema_add_column(s, a, "v_id", "INTEGER", 0, 0, NULL);
    hp_schema_add_column(s, a, "b_x", "INTEGER", 0, 0, NULL);
    hp_schema_add_column(s, a, "b_y", "INTEGER", 0, 0, NULL);
    hp_table_t *v = hp_schema_add_table(s, "v", 1, 0);
    hp_schema_add_column(s, v, "id", "INTEGER", 0, 0, NULL);
    hp_table_t *b = hp_schema_add_table(s, "b", 0, 0);
    hp_schema_add_column(s, b, "x", "INTEGER", 1, 1, NULL);
    hp_schema_add_column(s, b, "y", "INTEGER", 1, 2, NULL);
    const char *vid[] = {"v_id"}, *id[] = {"id"}, *from[] = {"b_x", "b_y"}, *to[] = {"x", "y"};
    assert_int_equal(hp_schema_add_fkey(s, "a_v_fkey", "a", vid, "v", id, 1), 0);
    assert_int_equal(hp_schema_add_fkey(s, "a_b_fkey", "a", from, "b", to, 2), 0);
    hp_schema_finalize(s);
    hp_relationship_t rel[2];
    assert_int_equal(hp_schema_find_relationships(s, a, S("v"), NULL, 0, rel, 2), 1);
    assert_int_equal(hp_schema_find_relationships(s, a, S("v"), S("v_id"), rel, 2), 1);
    assert_int_equal(hp_schema_find_relationships(s, a, S("a_v_fkey"), NULL, 0, rel, 2), 0);
    assert_int_equal(hp_schema_find_relationships(s, a, S("v_id"), NULL, 0, rel, 2), 0);
    assert_int_equal(hp_schema_find_relationships(s, a, S("b"), NULL, 0, rel, 2), 1);
    assert_int_equal(hp_schema_find_relationships(s, a, S("a_b_fkey"), NULL, 0, rel, 2), 1);
    assert_int_equal(hp_schema_find_relationships(s, a, S("b"), S("a_b_fkey"), rel, 2), 1);
    assert_int_equal(hp_schema_find_relationships(s, a, S("b_x"), NULL, 0, rel, 2), 0);
    assert_int_equal(hp_schema_find_relationships(s, a, S("b"), S("b_x"), rel, 2), 0);
    assert_int_equal(hp_schema_find_relationships(s, a, S("b"), S("x"), rel, 2), 0);
    hp_schema_unref(s);
}

static void test_fkey_with_unknown_names_is_rejected(void **state)
{
    (void)state;
    hp_schema_t *s = hp_schema_create();
    hp_table_t *a = hp_schema_add_table(s, "a", 0, 1);
    hp_schema_add_column(s, a, "id", "INTEGER", 1, 1, NULL);
    hp_schema_add_column(s, a, "b_x", "INTEGER", 0, 0, NULL);
    hp_schema_add_column(s, a, "b_y", "INTEGER", 0, 0, NULL);
    hp_table_t *b = hp_schema_add_table(s, "b", 0, 0);
    hp_schema_add_column(s, b, "x", "INTEGER", 1, 1, NULL);
    hp_schema_add_column(s, b, "y", "INTEGER", 1, 2, NULL);
    const char *from[] = {"b_x", "b_y"}, *to[] = {"x", "y"}, *bad[] = {"x", "zz"};
    assert_int_equal(hp_schema_add_fkey(s, NULL, "a", from, "nosuch", to, 2), -1);
    assert_int_equal(hp_schema_add_fkey(s, NULL, "a", from, "b", bad, 2), -1);
    assert_int_equal(hp_schema_add_fkey(s, NULL, "a", from, "b", to, 2), 0);
    hp_schema_finalize(s);
    hp_relationship_t rel[2];
    assert_int_equal(hp_schema_find_relationships(s, a, S("b"), NULL, 0, rel, 2), 1);
    assert_string_equal(rel[0].fkey->name, "a_b_x_b_y_fkey");
    assert_int_equal(rel[0].fkey->col_count, 2);
    assert_int_equal(rel[0].fkey->to_cols[1], 1);
    hp_schema_unref(s);
}

static void test_references_keep_snapshot_alive(void **state)
{
    (void)state;
    hp_schema_t *s = build_demo();
    hp_schema_ref(s);
    hp_schema_unref(s);
    assert_non_null(hp_schema_find_table(s, S("users"))); /* still alive: one ref left */
    hp_schema_unref(s);
    hp_schema_unref(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tables_found_by_exact_name),
        cmocka_unit_test(test_columns_and_primary_key),
        cmocka_unit_test(test_wide_table_uses_hash_lookup),
        cmocka_unit_test(test_type_affinity_rules),
        cmocka_unit_test(test_postgres_type_names),
        cmocka_unit_test(test_sqlite_rules_unchanged_for_postgres_names),
        cmocka_unit_test(test_typed_column_keeps_the_given_type),
        cmocka_unit_test(test_many_to_one_and_one_to_many),
        cmocka_unit_test(test_one_to_one_when_fkey_is_child_pk),
        cmocka_unit_test(test_ambiguous_embed_narrowed_by_hint),
        cmocka_unit_test(test_embed_target_rules),
        cmocka_unit_test(test_views_and_composite_keys_as_targets),
        cmocka_unit_test(test_fkey_with_unknown_names_is_rejected),
        cmocka_unit_test(test_references_keep_snapshot_alive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
