/* Tests for src/demo/dataset.c (determinism, distributions, foreign keys) and
 * src/db/sqlite/demo_load.c (a small file loads, with its indexes, and is never half written). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "db/sqlite/demo_load.h"
#include "demo/dataset.h"

/* FNV-1a over the generic values of rows 1..n of every table. Doubles enter by their bit
 * pattern and integers byte by byte from the low end, so the sum is the same on every
 * machine. */
static uint64_t fnv_byte(uint64_t h, unsigned char b)
{
    return (h ^ b) * 0x100000001b3u;
}

static uint64_t fnv_u64(uint64_t h, uint64_t v)
{
    for (int k = 0; k < 8; k++)
        h = fnv_byte(h, (unsigned char)(v >> (8 * k)));
    return h;
}

static uint64_t checksum_first_rows(const hp_demo_t *demo, int64_t n)
{
    uint64_t h = 0xcbf29ce484222325u;
    hp_demo_row_t row;
    for (int t = 0; t < HP_DEMO_TABLE_COUNT; t++) {
        const hp_demo_table_t *table = hp_demo_table((hp_demo_table_id_t)t);
        for (int64_t id = 1; id <= n && id <= demo->row_count[t]; id++) {
            hp_demo_row(demo, (hp_demo_table_id_t)t, id, &row);
            for (size_t c = 0; c < table->column_count; c++) {
                const hp_demo_value_t *v = &row.values[c];
                uint64_t bits;
                h = fnv_byte(h, (unsigned char)v->type);
                switch (v->type) {
                case HP_DEMO_INTEGER:
                case HP_DEMO_BOOLEAN: h = fnv_u64(h, (uint64_t)v->i); break;
                case HP_DEMO_REAL:
                    memcpy(&bits, &v->r, sizeof(bits));
                    h = fnv_u64(h, bits);
                    break;
                default:
                    for (size_t k = 0; k < v->len; k++)
                        h = fnv_byte(h, (unsigned char)v->s[k]);
                    h = fnv_byte(h, 0);
                    break;
                }
            }
        }
    }
    return h;
}

static void init_or_fail(hp_demo_t *demo, double scale, uint64_t seed)
{
    assert_int_equal(hp_demo_init(demo, scale, seed), 0);
}

/* --- determinism --- */

static void test_same_seed_gives_same_rows(void **state)
{
    (void)state;
    hp_demo_t a, b;
    init_or_fail(&a, 1.0, 42);
    init_or_fail(&b, 1.0, 42);
    assert_int_equal(checksum_first_rows(&a, 500), checksum_first_rows(&b, 500));

    /* Rows are a function of their id alone: generating out of order changes nothing. */
    hp_demo_order_t first, again, other;
    hp_demo_order(&a, 777, &first);
    hp_demo_order(&a, 3, &other);
    hp_demo_order(&b, 777, &again);
    assert_int_equal(first.user_id, again.user_id);
    assert_string_equal(first.status, again.status);
    assert_true(first.total == again.total);
    assert_string_equal(first.created_at, again.created_at);
}

static void test_checksum_of_first_rows_is_fixed(void **state)
{
    (void)state;
    hp_demo_t demo;
    init_or_fail(&demo, 1.0, HP_DEMO_DEFAULT_SEED);
    /* Pinned: a change here changes every demo database and every published figure. Update it
     * only on purpose, together with docs/workload.md's description of the data. */
    uint64_t got = checksum_first_rows(&demo, 100);
    if (got != UINT64_C(0xebd8ed473f8fb843))
        fail_msg("checksum of the first 100 rows is 0x%016llx", (unsigned long long)got);

    hp_demo_user_t u;
    hp_demo_user(&demo, 1, &u);
    assert_string_equal(u.username, "crisp_nebula1");
    assert_string_equal(u.email, "crisp_nebula1@example.com");
}

static void test_different_seeds_give_different_rows(void **state)
{
    (void)state;
    hp_demo_t a, b;
    init_or_fail(&a, 1.0, 1);
    init_or_fail(&b, 1.0, 2);
    assert_true(checksum_first_rows(&a, 50) != checksum_first_rows(&b, 50));
}

/* --- scale --- */

static void test_row_counts_scale_linearly_with_at_least_one_row(void **state)
{
    (void)state;
    hp_demo_t d;
    init_or_fail(&d, 1.0, 1);
    assert_int_equal(d.row_count[HP_DEMO_USERS], 100000);
    assert_int_equal(d.row_count[HP_DEMO_PRODUCTS], 20000);
    assert_int_equal(d.row_count[HP_DEMO_PRODUCT_DETAILS], 20000);
    assert_int_equal(d.row_count[HP_DEMO_ORDERS], 1000000);
    assert_int_equal(d.row_count[HP_DEMO_DEVICES], 10000);
    assert_int_equal(d.row_count[HP_DEMO_READINGS], 2000000);

    init_or_fail(&d, 0.001, 1);
    assert_int_equal(d.row_count[HP_DEMO_USERS], 100);
    assert_int_equal(d.row_count[HP_DEMO_ORDERS], 1000);
    assert_int_equal(d.row_count[HP_DEMO_DEVICES], 10);
    assert_int_equal(d.row_count[HP_DEMO_READINGS], 2000);

    init_or_fail(&d, 1e-9, 1);
    for (int t = 0; t < HP_DEMO_TABLE_COUNT; t++)
        assert_int_equal(d.row_count[t], 1);
}

static void test_init_rejects_bad_scale(void **state)
{
    (void)state;
    hp_demo_t d;
    assert_int_equal(hp_demo_init(&d, 0, 1), -1);
    assert_int_equal(hp_demo_init(&d, -1, 1), -1);
    assert_int_equal(hp_demo_init(&d, NAN, 1), -1);
    assert_int_equal(hp_demo_init(&d, INFINITY, 1), -1);
    assert_int_equal(hp_demo_init(&d, HP_DEMO_MAX_SCALE * 2, 1), -1);
}

/* --- values --- */

static void test_timestamps_are_iso8601_utc(void **state)
{
    (void)state;
    char ts[HP_DEMO_TS_CAP];
    hp_demo_format_time(0, ts);
    assert_string_equal(ts, "1970-01-01T00:00:00Z");
    hp_demo_format_time(1741064767, ts);
    assert_string_equal(ts, "2025-03-04T05:06:07Z");
    hp_demo_format_time(946684799, ts);
    assert_string_equal(ts, "1999-12-31T23:59:59Z");
    hp_demo_format_time(1709208000, ts);
    assert_string_equal(ts, "2024-02-29T12:00:00Z");
}

/* |got - want| <= tol, reported with names. */
static void check_share(const char *what, double got, double want, double tol)
{
    if (fabs(got - want) > tol)
        fail_msg("%s: %.4f, want %.4f +- %.4f", what, got, want, tol);
}

static void test_distributions_within_tolerance(void **state)
{
    (void)state;
    hp_demo_t d;
    init_or_fail(&d, 0.1, HP_DEMO_DEFAULT_SEED);

    int64_t active = 0, bio_bytes = 0;
    for (int64_t id = 1; id <= d.row_count[HP_DEMO_USERS]; id++) {
        hp_demo_user_t u;
        hp_demo_user(&d, id, &u);
        active += u.active;
        bio_bytes += (int64_t)strlen(u.bio);
        assert_true(strcmp(u.created_at, "2022-01-01T00:00:00Z") >= 0);
        assert_true(strcmp(u.created_at, "2025-01-01T00:00:00Z") < 0);
    }
    double users = (double)d.row_count[HP_DEMO_USERS];
    check_share("users.active", (double)active / users, 0.80, 0.015);
    check_share("bio length", (double)bio_bytes / users, 200, 20);

    int64_t statuses[4] = {0};
    static const char *const names[] = {"completed", "pending", "processing", "cancelled"};
    for (int64_t id = 1; id <= d.row_count[HP_DEMO_ORDERS]; id++) {
        hp_demo_order_t o;
        hp_demo_order(&d, id, &o);
        int k = 0;
        while (k < 4 && strcmp(o.status, names[k]) != 0)
            k++;
        assert_true(k < 4);
        statuses[k]++;
        assert_true(o.total >= 5.0 && o.total <= 2000.0);
    }
    double orders = (double)d.row_count[HP_DEMO_ORDERS];
    check_share("orders completed", (double)statuses[0] / orders, 0.70, 0.01);
    for (int k = 1; k < 4; k++)
        check_share(names[k], (double)statuses[k] / orders, 0.10, 0.01);

    int64_t devices_active = 0;
    for (int64_t id = 1; id <= d.row_count[HP_DEMO_DEVICES]; id++) {
        hp_demo_device_t dev;
        hp_demo_device(&d, id, &dev);
        devices_active += strcmp(dev.status, "active") == 0;
    }
    check_share("devices active", (double)devices_active / (double)d.row_count[HP_DEMO_DEVICES],
                0.70, 0.05);

    int64_t desc_bytes = 0, spec_bytes = 0, categories_seen = 0;
    char seen[201] = {0};
    for (int64_t id = 1; id <= d.row_count[HP_DEMO_PRODUCTS]; id++) {
        hp_demo_product_t p;
        hp_demo_product_detail_t pd;
        hp_demo_product(&d, id, &p);
        hp_demo_product_detail(&d, id, &pd);
        assert_true(p.category_id >= 1 && p.category_id <= 200);
        assert_true(p.price >= 1.0 && p.price <= 999.99);
        if (!seen[p.category_id]++)
            categories_seen++;
        desc_bytes += (int64_t)strlen(pd.description);
        spec_bytes += (int64_t)strlen(pd.specifications);
    }
    double products = (double)d.row_count[HP_DEMO_PRODUCTS];
    assert_int_equal(categories_seen, 200);
    check_share("description length", (double)desc_bytes / products, 500, 30);
    check_share("specifications length", (double)spec_bytes / products, 300, 30);

    /* Readings: time never goes backwards and covers 400 days. */
    hp_demo_reading_t first, prev, r;
    hp_demo_reading(&d, 1, &first);
    prev = first;
    for (int64_t id = 2; id <= d.row_count[HP_DEMO_READINGS]; id++) {
        hp_demo_reading(&d, id, &r);
        assert_true(strcmp(prev.ts, r.ts) <= 0);
        assert_true(r.temperature >= 10.0 && r.temperature <= 34.0);
        prev = r;
    }
    assert_string_equal(first.ts, "2024-05-01T00:00:00Z");
    assert_true(strcmp(prev.ts, "2025-06-04T00:00:00Z") > 0);
    assert_true(strcmp(prev.ts, "2025-06-05T00:00:00Z") < 0);
}

static void test_foreign_keys_point_at_existing_rows(void **state)
{
    (void)state;
    static const double scales[] = {1e-9, 0.0001, 0.01};
    for (size_t s = 0; s < sizeof(scales) / sizeof(scales[0]); s++) {
        hp_demo_t d;
        init_or_fail(&d, scales[s], 7);
        for (int64_t id = 1; id <= d.row_count[HP_DEMO_ORDERS]; id++) {
            hp_demo_order_t o;
            hp_demo_order(&d, id, &o);
            assert_in_range(o.user_id, 1, d.row_count[HP_DEMO_USERS]);
        }
        for (int64_t id = 1; id <= d.row_count[HP_DEMO_READINGS]; id++) {
            hp_demo_reading_t r;
            hp_demo_reading(&d, id, &r);
            assert_in_range(r.device_id, 1, d.row_count[HP_DEMO_DEVICES]);
        }
        assert_int_equal(d.row_count[HP_DEMO_PRODUCT_DETAILS], d.row_count[HP_DEMO_PRODUCTS]);
        for (int64_t id = 1; id <= d.row_count[HP_DEMO_PRODUCT_DETAILS]; id++) {
            hp_demo_product_detail_t pd;
            hp_demo_product_detail(&d, id, &pd);
            assert_int_equal(pd.product_id, id);
        }
    }
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void test_emails_and_usernames_are_unique(void **state)
{
    (void)state;
    hp_demo_t d;
    init_or_fail(&d, 0.2, HP_DEMO_DEFAULT_SEED);
    size_t n = (size_t)d.row_count[HP_DEMO_USERS];
    char **emails = calloc(n, sizeof(*emails)), **names = calloc(n, sizeof(*names));
    assert_non_null(emails);
    assert_non_null(names);
    for (size_t i = 0; i < n; i++) {
        hp_demo_user_t u;
        hp_demo_user(&d, (int64_t)i + 1, &u);
        emails[i] = strdup(u.email);
        names[i] = strdup(u.username);
        assert_non_null(emails[i]);
        assert_non_null(names[i]);
    }
    qsort(emails, n, sizeof(*emails), compare_strings);
    qsort(names, n, sizeof(*names), compare_strings);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(emails[i - 1], emails[i]) == 0)
            fail_msg("duplicate email %s", emails[i]);
        if (strcmp(names[i - 1], names[i]) == 0)
            fail_msg("duplicate username %s", names[i]);
    }
    for (size_t i = 0; i < n; i++) {
        free(emails[i]);
        free(names[i]);
    }
    free(emails);
    free(names);
}

static void test_generic_row_matches_column_list(void **state)
{
    (void)state;
    hp_demo_t d;
    hp_demo_row_t row;
    init_or_fail(&d, 0.01, 3);
    for (int t = 0; t < HP_DEMO_TABLE_COUNT; t++) {
        const hp_demo_table_t *table = hp_demo_table((hp_demo_table_id_t)t);
        assert_true(table->column_count <= HP_DEMO_MAX_COLUMNS);
        hp_demo_row(&d, (hp_demo_table_id_t)t, 5, &row);
        for (size_t c = 0; c < table->column_count; c++) {
            assert_int_equal(row.values[c].type, table->columns[c].type);
            if (table->columns[c].is_pk)
                assert_int_equal(row.values[c].i, 5);
            if (row.values[c].s != NULL)
                assert_int_equal(row.values[c].len, strlen(row.values[c].s));
        }
    }
}

/* --- the SQLite file --- */

static char tmpdir[256];

static int make_tmpdir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/hp-test-demo-XXXXXX");
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static void remove_file(const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    unlink(path);
}

static int remove_tmpdir(void **state)
{
    (void)state;
    DIR *dir = opendir(tmpdir);
    if (dir != NULL) {
        struct dirent *e;
        while ((e = readdir(dir)) != NULL)
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                remove_file(e->d_name);
        closedir(dir);
    }
    rmdir(tmpdir);
    return 0;
}

static int64_t query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    if (sqlite3_step(stmt) == SQLITE_ROW)
        v = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return v;
}

static size_t count_dir_entries(void)
{
    size_t n = 0;
    DIR *dir = opendir(tmpdir);
    assert_non_null(dir);
    struct dirent *e;
    while ((e = readdir(dir)) != NULL)
        n += e->d_name[0] != '.';
    closedir(dir);
    return n;
}

static void test_sqlite_file_loads_with_indexes(void **state)
{
    (void)state;
    char path[512], err[512], sql[256];
    hp_demo_t d;
    init_or_fail(&d, 0.001, HP_DEMO_DEFAULT_SEED);
    snprintf(path, sizeof(path), "%s/demo.db", tmpdir);

    if (hp_demo_sqlite_load(&d, path, 0, NULL, NULL, err, sizeof(err)) != 0)
        fail_msg("load: %s", err);
    /* Only the database itself: no temporary file, journal or -wal left behind. */
    assert_int_equal(count_dir_entries(), 1);

    /* Read-write: a read-only connection to a WAL file leaves -wal and -shm behind. */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    for (int t = 0; t < HP_DEMO_TABLE_COUNT; t++) {
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s",
                 hp_demo_table((hp_demo_table_id_t)t)->name);
        assert_int_equal(query_int(db, sql), d.row_count[t]);
    }
    size_t index_count;
    const hp_demo_index_t *indexes = hp_demo_indexes(&index_count);
    assert_int_equal(index_count, 3);
    for (size_t i = 0; i < index_count; i++) {
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = '%s' "
                 "AND tbl_name = '%s'",
                 indexes[i].name, indexes[i].table);
        assert_int_equal(query_int(db, sql), 1);
    }
    assert_int_equal(query_int(db, "SELECT count(*) FROM pragma_foreign_key_list('orders') "
                                   "WHERE \"table\" = 'users' AND \"from\" = 'user_id'"),
                     1);
    assert_int_equal(query_int(db, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
    assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_stat1"), 6);
    /* The file header says WAL (bytes 18 and 19 are 2). */
    assert_int_equal(query_int(db, "SELECT count(*) FROM pragma_journal_mode "
                                   "WHERE journal_mode = 'wal'"),
                     1);
    /* The stored rows are the generated ones. */
    hp_demo_user_t u;
    hp_demo_user(&d, 42, &u);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM users WHERE id = 42 AND email = '%s'",
             u.email);
    assert_int_equal(query_int(db, sql), 1);
    sqlite3_close(db);

    /* Without overwrite an existing file is refused and left alone. */
    struct stat before, after;
    assert_int_equal(stat(path, &before), 0);
    init_or_fail(&d, 0.0005, HP_DEMO_DEFAULT_SEED);
    assert_int_equal(hp_demo_sqlite_load(&d, path, 0, NULL, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "already exists"));
    assert_int_equal(stat(path, &after), 0);
    assert_int_equal(before.st_ino, after.st_ino);
    assert_int_equal(count_dir_entries(), 1);

    /* With overwrite it is replaced whole. */
    if (hp_demo_sqlite_load(&d, path, 1, NULL, NULL, err, sizeof(err)) != 0)
        fail_msg("reload: %s", err);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(query_int(db, "SELECT count(*) FROM orders"), d.row_count[HP_DEMO_ORDERS]);
    sqlite3_close(db);
    remove_file("demo.db");
}

static void test_sqlite_load_into_missing_directory_fails_cleanly(void **state)
{
    (void)state;
    char path[512], err[512] = "";
    hp_demo_t d;
    init_or_fail(&d, 0.0001, 1);
    snprintf(path, sizeof(path), "%s/no/such/dir/demo.db", tmpdir);
    assert_int_equal(hp_demo_sqlite_load(&d, path, 0, NULL, NULL, err, sizeof(err)), -1);
    assert_true(err[0] != '\0');
    assert_int_equal(count_dir_entries(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_gives_same_rows),
        cmocka_unit_test(test_checksum_of_first_rows_is_fixed),
        cmocka_unit_test(test_different_seeds_give_different_rows),
        cmocka_unit_test(test_row_counts_scale_linearly_with_at_least_one_row),
        cmocka_unit_test(test_init_rejects_bad_scale),
        cmocka_unit_test(test_timestamps_are_iso8601_utc),
        cmocka_unit_test(test_distributions_within_tolerance),
        cmocka_unit_test(test_foreign_keys_point_at_existing_rows),
        cmocka_unit_test(test_emails_and_usernames_are_unique),
        cmocka_unit_test(test_generic_row_matches_column_list),
        cmocka_unit_test(test_sqlite_file_loads_with_indexes),
        cmocka_unit_test(test_sqlite_load_into_missing_directory_fails_cleanly),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
