/* Tests for src/config/config.c: defaults, file, environment and flags, and their errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "config/config.h"

static char *write_temp_ini(const char *text)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/hotpath-test-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_config_defaults_are_valid(void **state)
{
    (void)state;
    hp_config_t conf;
    char err[256] = "";
    char *env[] = {NULL};
    assert_int_equal(hp_config_load(&conf, 0, NULL, env, err, sizeof(err)), 0);
    assert_string_equal(conf.db_uri, "demo.db");
    assert_int_equal(conf.server_port, 3000);
    assert_int_equal(conf.max_body_bytes, 10 * 1024 * 1024);
    assert_int_equal(conf.log_level, 2); /* "info" is the third of error|warn|info|debug */
    hp_config_resolve_auto(&conf, 4);
    assert_int_equal(conf.server_threads, 4);
    assert_int_equal(conf.db_pool, 8);
    hp_config_dispose(&conf);
}

static void test_flags_beat_env_beat_file(void **state)
{
    (void)state;
    char *path =
        write_temp_ini("; comment\nserver-port = 4000\ndb-uri = file.db\n[db]\npool = 3\n");
    char file_flag[80];
    snprintf(file_flag, sizeof(file_flag), "--config=%s", path);
    char *argv[] = {file_flag, "--server-port", "6000"};
    char *env[] = {"HOTPATH_SERVER_PORT=5000", "HOTPATH_DB_URI=env.db", NULL};
    hp_config_t conf;
    char err[256] = "";
    assert_int_equal(hp_config_load(&conf, 3, argv, env, err, sizeof(err)), 0);
    assert_int_equal(conf.server_port, 6000);   /* flag */
    assert_string_equal(conf.db_uri, "env.db"); /* env over file */
    assert_int_equal(conf.db_pool, 3);          /* file, [db] section + "pool" */
    hp_config_dispose(&conf);
    unlink(path);
}

static void test_file_error_names_file_line_and_key(void **state)
{
    (void)state;
    char *path = write_temp_ini("server-port = 4000\n\nserver-port = 70000\n");
    char *argv[] = {"--config", path};
    char *env[] = {NULL};
    hp_config_t conf;
    char err[256] = "", expected[256];
    assert_int_equal(hp_config_load(&conf, 2, argv, env, err, sizeof(err)), -1);
    snprintf(expected, sizeof(expected), "%s:3: server-port: 70000 is out of range [1, 65535]",
             path);
    assert_string_equal(err, expected);
    hp_config_dispose(&conf);
    unlink(path);
}

static void test_unknown_key_in_file(void **state)
{
    (void)state;
    char *path = write_temp_ini("db-urii = x.db\n");
    char *argv[] = {"--config", path};
    char *env[] = {NULL};
    hp_config_t conf;
    char err[256] = "", expected[256];
    assert_int_equal(hp_config_load(&conf, 2, argv, env, err, sizeof(err)), -1);
    snprintf(expected, sizeof(expected), "%s:1: db-urii: unknown key (see hotpath --help)", path);
    assert_string_equal(err, expected);
    hp_config_dispose(&conf);
    unlink(path);
}

static void test_bad_env_and_flag_values(void **state)
{
    (void)state;
    hp_config_t conf;
    char err[256] = "";
    char *env[] = {"HOTPATH_DB_POOL=many", NULL};
    assert_int_equal(hp_config_load(&conf, 0, NULL, env, err, sizeof(err)), -1);
    assert_string_equal(err, "environment HOTPATH_DB_POOL: db-pool: 'many' is not an integer");
    hp_config_dispose(&conf);

    char *env2[] = {NULL};
    char *argv[] = {"--log-level", "loud"};
    assert_int_equal(hp_config_load(&conf, 2, argv, env2, err, sizeof(err)), -1);
    assert_string_equal(err, "--log-level: 'loud' is not one of error|warn|info|debug");
    hp_config_dispose(&conf);

    char *argv2[] = {"--no-such-key=1"};
    assert_int_equal(hp_config_load(&conf, 1, argv2, env2, err, sizeof(err)), -1);
    assert_string_equal(err, "--no-such-key: unknown option (see hotpath --help)");
    hp_config_dispose(&conf);

    char *argv3[] = {"--server-port"};
    assert_int_equal(hp_config_load(&conf, 1, argv3, env2, err, sizeof(err)), -1);
    assert_string_equal(err, "--server-port: missing value");
    hp_config_dispose(&conf);
}

static void test_byte_sizes_with_suffixes(void **state)
{
    (void)state;
    hp_config_t conf;
    char err[256] = "";
    char *env[] = {NULL};
    char *argv[] = {"--max-body-bytes=64k"};
    assert_int_equal(hp_config_load(&conf, 1, argv, env, err, sizeof(err)), 0);
    assert_int_equal(conf.max_body_bytes, 65536);
    hp_config_dispose(&conf);
    char *argv2[] = {"--max-body-bytes=2MB"};
    assert_int_equal(hp_config_load(&conf, 1, argv2, env, err, sizeof(err)), 0);
    assert_int_equal(conf.max_body_bytes, 2 * 1024 * 1024);
    hp_config_dispose(&conf);
    char *argv3[] = {"--max-body-bytes=12q"};
    assert_int_equal(hp_config_load(&conf, 1, argv3, env, err, sizeof(err)), -1);
    assert_string_equal(err, "--max-body-bytes: '12q' is not a size (like 512, 64k, 10M)");
    hp_config_dispose(&conf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults_are_valid),
        cmocka_unit_test(test_flags_beat_env_beat_file),
        cmocka_unit_test(test_file_error_names_file_line_and_key),
        cmocka_unit_test(test_unknown_key_in_file),
        cmocka_unit_test(test_bad_env_and_flag_values),
        cmocka_unit_test(test_byte_sizes_with_suffixes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
