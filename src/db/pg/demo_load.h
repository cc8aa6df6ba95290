/*
 * Writes the demo data set (demo/dataset.h) into a PostgreSQL database: the same tables,
 * columns, keys and indexes as the SQLite loader's, in PostgreSQL's types (bigint, text,
 * boolean, double precision; timestamps as the same ISO text, so both backends return the same
 * JSON), every row through COPY, then ANALYZE.
 *
 * The tables go into the first schema of the connection's search_path that exists (the schema
 * db/pg/schema_load.c exposes). Everything happens in one transaction: readers see the old
 * tables (if any) until it commits, and an error or a cancel leaves the database as it was.
 * Single-threaded and blocking; call from the main thread of a command, never from a server
 * thread (it runs for seconds).
 */
#ifndef HP_DB_PG_DEMO_LOAD_H
#define HP_DB_PG_DEMO_LOAD_H

#include <stddef.h>
#include "demo/dataset.h"

/* Loads `demo` into the database at `uri` (a libpq connection string or URI). When any of the
 * six demo tables already exists there, the call fails unless `overwrite` is set, in which case
 * they are dropped with CASCADE (so views on them go too) and made anew. `progress` may be NULL.
 * Returns 0, or -1 with a one-line reason in errbuf (passwords in `uri` are not repeated). */
int hp_demo_pg_load(const hp_demo_t *demo, const char *uri, int overwrite,
                    hp_demo_progress_cb progress, void *ctx, char *errbuf, size_t errlen);

/* Makes a running hp_demo_pg_load() stop within milliseconds (a statement running on the server
 * is cancelled), roll back and fail with "interrupted"; a load started later fails at once.
 * Async-signal-safe: it is meant to be called from a SIGINT/SIGTERM handler. */
void hp_demo_pg_cancel(void);

#endif
