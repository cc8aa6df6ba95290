/*
 * The `hotpath demo` command: writes the shopiot demo data set (docs/workload.md) into a new SQLite
 * file, or into a PostgreSQL database given as a postgres:// URI, for `make run`, `make bench`
 * and the docs.
 *
 *     hotpath demo [--scale F] [--out FILE|URI] [--force] [--seed N]
 *
 * Called from main() on the main thread before anything else starts.
 */
#ifndef HP_DEMO_DEMO_H
#define HP_DEMO_DEMO_H

/* Runs the command; argv[0] is "demo". Prints each table's row count and the time taken to
 * stdout, errors to stderr. Returns the process exit code: 0 on success, 1 when the database
 * could not be written (an existing file, or existing demo tables, without --force included), 2
 * for bad arguments, 130 after SIGINT/SIGTERM (handled while loading: the partial file is
 * removed, a PostgreSQL load rolled back). */
int hp_demo_command(int argc, char **argv);

#endif
