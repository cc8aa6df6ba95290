/*
 * Writes the demo data set (demo/dataset.h) into a new SQLite database file: the tables with
 * declared types and foreign keys, every row in one transaction through prepared statements,
 * then the indexes of docs/workload.md, ANALYZE, and WAL mode.
 *
 * The file is built beside the target under a temporary name, synced, and renamed into place,
 * so a crash or an error never leaves a partial database at the target path. Single-threaded;
 * call from the main thread of a command, never from a server thread (it runs for seconds).
 */
#ifndef HP_DB_SQLITE_DEMO_LOAD_H
#define HP_DB_SQLITE_DEMO_LOAD_H

#include <stddef.h>
#include <stdint.h>
#include "demo/dataset.h"

/* Creates the SQLite file `path` holding `demo`'s rows. An existing file at `path` is replaced
 * only when `overwrite` is set (together with any -wal/-shm files beside it); otherwise the
 * call fails and the file is left alone. `progress` (demo/dataset.h) may be NULL. Returns 0, or
 * -1 with a one-line reason in errbuf; on failure the temporary file is removed and `path`
 * untouched. */
int hp_demo_sqlite_load(const hp_demo_t *demo, const char *path, int overwrite,
                        hp_demo_progress_cb progress, void *ctx, char *errbuf, size_t errlen);

/* Makes a running hp_demo_sqlite_load() stop within milliseconds, remove its temporary file and
 * fail with "interrupted"; a load started later fails at once. Async-signal-safe: it is meant
 * to be called from a SIGINT/SIGTERM handler. */
void hp_demo_sqlite_cancel(void);

#endif
