/*
 * hotpath: argv -> config -> server run. Subcommands: serve (default), demo, setup-triggers,
 * version, help.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "config/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/version.h"
#include "db/db.h"
#include "db/pg/triggers.h"
#include "demo/demo.h"
#include "http/server.h"

extern char **environ;

static void print_usage(FILE *out)
{
    fprintf(out,
            "hotpath %s: a PostgREST-compatible REST API over a SQL database\n\n"
            "Usage:\n"
            "  hotpath [serve] [--config FILE] [--KEY VALUE ...]   serve the API\n"
            "  hotpath demo [--scale F] [--out FILE] [--force]    write the demo database\n"
            "  hotpath setup-triggers [--db-uri postgres://...]   NOTIFY hotpath on writes made\n"
            "                                                       outside hotpath (PostgreSQL)\n"
            "  hotpath version                                      print the version\n"
            "  hotpath help | --help                                this text\n\n",
            HP_VERSION);
    hp_config_print_help(out);
}

static int setup_triggers(int argc, char **argv)
{
    hp_config_t conf;
    char err[512];
    int status = 2;
    if (hp_config_load(&conf, argc, argv, environ, err, sizeof(err)) != 0) {
        fprintf(stderr, "hotpath: %s\n", err);
    } else if (strncmp(conf.db_uri, "postgres://", 11) != 0 &&
               strncmp(conf.db_uri, "postgresql://", 13) != 0) {
        fprintf(stderr, "hotpath setup-triggers: db-uri must be a postgres:// URI (SQLite's "
                        "writes by other programs are seen without triggers)\n");
    } else {
        int count = hp_pg_setup_triggers(conf.db_uri, err, sizeof(err));
        if (count < 0) {
            fprintf(stderr, "hotpath setup-triggers: %s\n", err);
            status = 1;
        } else {
            printf("hotpath setup-triggers: %d tables notify hotpath of their writes\n", count);
            status = 0;
        }
    }
    hp_config_dispose(&conf);
    return status;
}

static int serve(int argc, char **argv)
{
    hp_config_t conf;
    char err[512];
    if (hp_config_load(&conf, argc, argv, environ, err, sizeof(err)) != 0) {
        fprintf(stderr, "hotpath: %s\n", err);
        hp_config_dispose(&conf);
        return 2;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    hp_config_resolve_auto(&conf, cores > 0 ? (unsigned)cores : 1);
    hp_log_set_level((hp_log_level_t)conf.log_level);

    int status = 1;
    hp_server_t *server = NULL;
    hp_db_options_t db_opts = {.uri = conf.db_uri,
                               .pool = (unsigned)conf.db_pool,
                               .busy_timeout_ms = (unsigned)conf.db_busy_timeout_ms,
                               .inline_budget_us = (unsigned)conf.db_inline_budget_us,
                               .snapshot_ms = (unsigned)conf.db_snapshot_ms,
                               .watch_ms = (unsigned)conf.db_watch_ms,
                               .pool_min = (unsigned)conf.db_pool_min,
                               .pool_idle_ms = (unsigned)conf.db_pool_idle_ms,
                               .pool_lifetime_ms = (unsigned)conf.db_pool_lifetime_ms,
                               .pool_acquire_ms = (unsigned)conf.db_pool_acquire_ms,
                               .pipeline = (unsigned)conf.db_pipeline,
                               .statement_timeout_ms = (unsigned)conf.db_statement_timeout_ms,
                               .replicas = conf.db_replicas,
                               .loops = (unsigned)conf.server_threads};
    hp_server_block_signals(); /* before hp_db_open starts the database's threads */
    hp_db_t *db = hp_db_open(&db_opts, err, sizeof(err));
    if (db == NULL) {
        hp_log_error("db-uri %s: %s", conf.db_uri, err);
        goto exit;
    }
    if ((server = hp_server_create(&conf, db, err, sizeof(err))) == NULL) {
        hp_log_error("%s", err);
        goto exit;
    }
    status = hp_server_run(server);
exit:
    if (server != NULL)
        hp_server_destroy(server);
    if (db != NULL)
        hp_db_close(db);
    hp_config_dispose(&conf);
    return status;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "serve";
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("hotpath %s\n", HP_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        print_usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "docs") == 0) {
        const char *what = argc > 2 ? argv[2] : "";
        if (strcmp(what, "config") == 0)
            hp_config_print_markdown(stdout);
        else if (strcmp(what, "errors") == 0)
            hp_error_print_markdown(stdout);
        else {
            fprintf(stderr, "hotpath docs: say which: config | errors\n");
            return 2;
        }
        return 0;
    }
    if (strcmp(cmd, "setup-triggers") == 0)
        return setup_triggers(argc - 2, argv + 2);
    if (strcmp(cmd, "demo") == 0)
        return hp_demo_command(argc - 1, argv + 1);
    if (strcmp(cmd, "serve") == 0)
        return serve(argc - 2, argv + 2);
    if (strncmp(cmd, "--", 2) == 0)
        return serve(argc - 1, argv + 1);
    fprintf(stderr, "hotpath: unknown command '%s' (try hotpath --help)\n", cmd);
    return 2;
}
