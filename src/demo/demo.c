/*
 * `hotpath demo`: argument parsing and progress output around the loaders:
 * hp_demo_sqlite_load() for a file, hp_demo_pg_load() for a postgres:// or postgresql:// URI.
 */
#include "demo/demo.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "db/pg/demo_load.h"
#include "db/sqlite/demo_load.h"
#include "demo/dataset.h"

static const char usage[] =
    "usage: hotpath demo [--scale F] [--out FILE|URI] [--force] [--seed N]\n"
    "  --scale F   fraction of the full data set (1.0 = 3.15 M rows; default 1.0)\n"
    "  --out FILE  SQLite file to create (default demo.db)\n"
    "  --out URI   postgres://... or postgresql://...: load into that PostgreSQL database\n"
    "  --force     replace FILE when it already exists, or the demo tables in the database\n"
    "              (DROP TABLE ... CASCADE)\n"
    "  --seed N    generator seed (default 1); the same seed gives the same rows\n";

typedef struct {
    double scale;
    unsigned long long seed;
    const char *out;
    int force;
} options_t;

typedef struct {
    int64_t rows;   /* rows written so far, over all tables */
    double seconds; /* the whole load, set by the "finish" step */
} progress_t;

/* Takes the value of `--name V` or `--name=V`; advances *i past what it used. Returns NULL
 * (and prints why) when the option has no value. */
static const char *take_value(int argc, char **argv, int *i, const char *name)
{
    const char *arg = argv[*i];
    size_t n = strlen(name);
    if (arg[n] == '=')
        return arg + n + 1;
    if (*i + 1 >= argc) {
        fprintf(stderr, "hotpath demo: %s needs a value\n%s", name, usage);
        return NULL;
    }
    return argv[++*i];
}

/* Matches `--name` and `--name=...`. */
static int is_option(const char *arg, const char *name)
{
    size_t n = strlen(name);
    return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

/* Returns 0, 1 after --help (exit 0), or 2 for bad arguments (already reported). */
static int parse_args(int argc, char **argv, options_t *opts)
{
    opts->scale = 1.0;
    opts->seed = HP_DEMO_DEFAULT_SEED;
    opts->out = "demo.db";
    opts->force = 0;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value;
        char *end;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(usage, stdout);
            return 1;
        } else if (strcmp(arg, "--force") == 0) {
            opts->force = 1;
        } else if (is_option(arg, "--scale")) {
            if ((value = take_value(argc, argv, &i, "--scale")) == NULL)
                return 2;
            errno = 0;
            opts->scale = strtod(value, &end);
            if (errno != 0 || end == value || *end != '\0' || !isfinite(opts->scale) ||
                opts->scale <= 0 || opts->scale > HP_DEMO_MAX_SCALE) {
                fprintf(stderr, "hotpath demo: --scale wants a number in (0, %g], not \"%s\"\n",
                        HP_DEMO_MAX_SCALE, value);
                return 2;
            }
        } else if (is_option(arg, "--seed")) {
            if ((value = take_value(argc, argv, &i, "--seed")) == NULL)
                return 2;
            errno = 0;
            opts->seed = strtoull(value, &end, 10);
            if (errno != 0 || end == value || *end != '\0' || value[0] == '-') {
                fprintf(stderr, "hotpath demo: --seed wants a non-negative integer, not \"%s\"\n",
                        value);
                return 2;
            }
        } else if (is_option(arg, "--out")) {
            if ((value = take_value(argc, argv, &i, "--out")) == NULL)
                return 2;
            if (value[0] == '\0') {
                fprintf(stderr, "hotpath demo: --out wants a file name\n");
                return 2;
            }
            opts->out = value;
        } else {
            fprintf(stderr, "hotpath demo: unknown argument \"%s\"\n%s", arg, usage);
            return 2;
        }
    }
    return 0;
}

static volatile sig_atomic_t interrupted;

/* Ctrl-C stops the load, which then removes its temporary file: no half file is left. */
static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
    hp_demo_sqlite_cancel();
    hp_demo_pg_cancel();
}

static int is_postgres_uri(const char *out)
{
    return strncmp(out, "postgres://", 11) == 0 || strncmp(out, "postgresql://", 13) == 0;
}

/* The URI as it may be printed: a password in its user info becomes "***". */
static void describe_target(const char *out, char *buf, size_t cap)
{
    const char *host = is_postgres_uri(out) ? strstr(out, "://") + 3 : NULL;
    size_t authority_len = host != NULL ? strcspn(host, "/?#") : 0;
    const char *at = host != NULL ? memchr(host, '@', authority_len) : NULL;
    const char *colon = at != NULL ? memchr(host, ':', (size_t)(at - host)) : NULL;
    if (colon == NULL)
        snprintf(buf, cap, "%s", out);
    else
        snprintf(buf, cap, "%.*s:***%s", (int)(colon - out), out, at);
}

static void on_progress(void *ctx, const char *step, int64_t rows, double seconds)
{
    progress_t *p = ctx;
    if (rows >= 0) {
        p->rows += rows;
        printf("  %-16s %10lld rows %7.2f s\n", step, (long long)rows, seconds);
    } else if (strcmp(step, "finish") == 0) {
        p->seconds = seconds;
    } else {
        printf("  %-16s %15s %7.2f s\n", step, "", seconds);
    }
    fflush(stdout);
}

int hp_demo_command(int argc, char **argv)
{
    options_t opts;
    progress_t progress = {0};
    hp_demo_t demo;
    char err[512];
    struct stat st;

    int rc = parse_args(argc, argv, &opts);
    if (rc != 0)
        return rc == 1 ? 0 : 2;
    int to_postgres = is_postgres_uri(opts.out);
    if (!to_postgres && !opts.force && stat(opts.out, &st) == 0) {
        fprintf(stderr, "hotpath demo: %s already exists (use --force to replace it)\n", opts.out);
        return 1;
    }
    if (hp_demo_init(&demo, opts.scale, opts.seed) != 0) {
        fprintf(stderr, "hotpath demo: bad scale %g\n", opts.scale);
        return 2;
    }

    char target[512];
    describe_target(opts.out, target, sizeof(target));
    printf("hotpath demo: writing %s (scale %g, seed %llu)\n", target, opts.scale, opts.seed);
    fflush(stdout);
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    if (to_postgres)
        rc = hp_demo_pg_load(&demo, opts.out, opts.force, on_progress, &progress, err, sizeof(err));
    else
        rc = hp_demo_sqlite_load(&demo, opts.out, opts.force, on_progress, &progress, err,
                                 sizeof(err));
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (rc != 0) {
        fprintf(stderr, "hotpath demo: %s\n", err);
        return interrupted ? 130 : 1;
    }
    if (to_postgres) {
        printf("%s: %lld rows in %.2f s\n", target, (long long)progress.rows, progress.seconds);
        return 0;
    }
    double mib = stat(opts.out, &st) == 0 ? (double)st.st_size / (1024.0 * 1024.0) : 0;
    printf("%s: %lld rows in %.2f s, %.1f MiB\n", opts.out, (long long)progress.rows,
           progress.seconds, mib);
    return 0;
}
