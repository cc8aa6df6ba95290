/*
 * One SQLite connection: how it is opened, and how its errors become hp_error_t records.
 *
 * Every connection: NOMUTEX (one thread uses it at a time, see sqlite.h), foreign_keys=ON,
 * case_sensitive_like=ON (PostgreSQL's LIKE is case-sensitive; ilike is planned separately),
 * and the busy timeout from the options. The writer also puts the file in WAL mode with
 * synchronous=NORMAL (durable across crashes of the process, one fsync per checkpoint rather
 * than per commit), which lets readers run alongside it. Readers are read-only and get a
 * larger page cache and memory-mapped I/O, since they do all the reading.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "core/log.h"
#include "db/sqlite/sqlite.h"

/* Per reader: 256 MiB of address space for mmap, 16 MiB of page cache. */
#define READER_MMAP_BYTES "268435456"
#define READER_CACHE_KIB "-16384"

static int exec_pragma(sqlite3 *h, const char *sql, char *errbuf, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(errbuf, errlen, "%s: %s", sql, msg ? msg : sqlite3_errmsg(h));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int read_journal_mode(void *ctx, int ncols, char **values, char **names)
{
    (void)names;
    if (ncols > 0 && values[0] != NULL)
        snprintf(ctx, 16, "%s", values[0]);
    return 0;
}

int hp_sqlite__conn_open(hp_sqlite__conn_t *conn, const char *path, int is_writer,
                         unsigned busy_timeout_ms, char *errbuf, size_t errlen)
{
    int flags = SQLITE_OPEN_NOMUTEX | (is_writer ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY);
    memset(conn, 0, sizeof(*conn));
    conn->is_writer = is_writer;
    hp_sqlite__stmt_cache_init(&conn->cache);
    /* Without SQLITE_OPEN_CREATE a missing file is an error: never serve an empty database. */
    int rc = sqlite3_open_v2(path, &conn->handle, flags, NULL);
    if (rc != SQLITE_OK) {
        snprintf(errbuf, errlen, "cannot open SQLite database %s%s: %s", path,
                 is_writer ? " for writing" : "",
                 conn->handle ? sqlite3_errmsg(conn->handle) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_extended_result_codes(conn->handle, 1);
    sqlite3_busy_timeout(conn->handle, (int)busy_timeout_ms);
    if (exec_pragma(conn->handle, "PRAGMA foreign_keys=ON", errbuf, errlen) != 0 ||
        exec_pragma(conn->handle, "PRAGMA case_sensitive_like=ON", errbuf, errlen) != 0)
        goto fail;
    if (is_writer) {
        char mode[16] = "";
        char *msg = NULL;
        if (sqlite3_exec(conn->handle, "PRAGMA journal_mode=WAL", read_journal_mode, mode, &msg) !=
            SQLITE_OK) {
            snprintf(errbuf, errlen, "cannot use SQLite database %s: %s", path,
                     msg ? msg : sqlite3_errmsg(conn->handle));
            sqlite3_free(msg);
            goto fail;
        }
        if (strcmp(mode, "wal") != 0)
            hp_log_warn("SQLite database %s stays in journal mode '%s' (not WAL): readers will "
                        "wait for writers",
                        path, mode);
        if (exec_pragma(conn->handle, "PRAGMA synchronous=NORMAL", errbuf, errlen) != 0)
            goto fail;
    } else {
        if (exec_pragma(conn->handle, "PRAGMA mmap_size=" READER_MMAP_BYTES, errbuf, errlen) != 0 ||
            exec_pragma(conn->handle, "PRAGMA cache_size=" READER_CACHE_KIB, errbuf, errlen) != 0)
            goto fail;
    }
    return 0;
fail:
    sqlite3_close_v2(conn->handle);
    conn->handle = NULL;
    return -1;
}

void hp_sqlite__conn_close(hp_sqlite__conn_t *conn)
{
    if (conn->handle == NULL)
        return;
    hp_sqlite__stmt_cache_dispose(&conn->cache);
    int rc = sqlite3_close(conn->handle);
    if (rc != SQLITE_OK)
        hp_log_warn("closing a SQLite connection: %s", sqlite3_errstr(rc));
    conn->handle = NULL;
}

int hp_sqlite__set_error(hp_error_t *err, h2o_mem_pool_t *pool, sqlite3 *handle, int rc)
{
    const char *msg = handle != NULL ? sqlite3_errmsg(handle) : sqlite3_errstr(rc);
    hp_errcode_t code;
    switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY: code = HP_ERR_UNIQUE; break;
    case SQLITE_CONSTRAINT_FOREIGNKEY: code = HP_ERR_FOREIGN_KEY; break;
    case SQLITE_CONSTRAINT_NOTNULL: code = HP_ERR_NOT_NULL; break;
    case SQLITE_CONSTRAINT_CHECK: code = HP_ERR_CHECK; break;
    default:
        switch (rc & 0xff) {
        case SQLITE_CONSTRAINT: code = HP_ERR_CONSTRAINT; break;
        case SQLITE_BUSY:
        case SQLITE_LOCKED: code = HP_ERR_DB_BUSY; break;
        default: code = HP_ERR_DB; break;
        }
    }
    return hp_error_set(err, pool, code, "%s", msg);
}

/* Called by SQLite every few hundred VM steps; a non-zero return interrupts the statement. */
static int on_progress(void *arg)
{
    hp_sqlite__conn_t *conn = arg;
    /* Once over, let the statement's own failure path (ROLLBACK) run uninterrupted. */
    if (conn->deadline_ns == 0 || conn->is_over_budget || hp_time_mono_ns() < conn->deadline_ns)
        return 0;
    conn->is_over_budget = 1;
    return 1;
}

void hp_sqlite__conn_enable_budget(hp_sqlite__conn_t *conn)
{
    sqlite3_progress_handler(conn->handle, 500, on_progress, conn);
}
