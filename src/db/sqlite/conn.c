/*
 * One SQLite connection: how it is opened, how its errors become hp_error_t records (one
 * table, hp_sqlite__error_rows, from result code to PostgREST's status and code), and the
 * progress handler that enforces its two deadlines (statement timeout, inline time budget).
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

/* SQLite's result codes as answers: PostgREST's status and code for the PostgreSQL error that
 * means the same (docs/sqlite.md has this table in prose). Rows are tried in order and the
 * first that matches wins, so an extended code stands before its primary code: a row whose
 * rc is a primary code (at most 0xff) matches every extended code of it. A row with errmsg
 * applies only when SQLite's message is exactly that, or, for an errmsg starting with '*',
 * ends with the rest (SQLite raises some errors, such as a JSON function's, with the plain
 * SQLITE_ERROR). A row with a message answers with it and
 * keeps SQLite's own as details; else SQLite's message is the message. A code no row matches
 * is HP_ERR_DB (500): something we did not expect. */
const hp_sqlite__error_row_t hp_sqlite__error_rows[] = {
    /* Constraints: 23xxx, as PostgreSQL names them. */
    {SQLITE_CONSTRAINT_UNIQUE, NULL, HP_ERR_UNIQUE, NULL, NULL},
    {SQLITE_CONSTRAINT_PRIMARYKEY, NULL, HP_ERR_UNIQUE, NULL, NULL},
    {SQLITE_CONSTRAINT_ROWID, NULL, HP_ERR_UNIQUE, NULL, NULL},
    {SQLITE_CONSTRAINT_NOTNULL, NULL, HP_ERR_NOT_NULL, NULL, NULL},
    {SQLITE_CONSTRAINT_FOREIGNKEY, NULL, HP_ERR_FOREIGN_KEY, NULL, NULL},
    {SQLITE_CONSTRAINT_CHECK, NULL, HP_ERR_CHECK, NULL, NULL},
    /* A STRICT table refusing a value of the wrong type: PostgreSQL's input error. */
    {SQLITE_CONSTRAINT_DATATYPE, NULL, HP_ERR_INVALID_TEXT, NULL, NULL},
    /* RAISE(ABORT, ...) in a trigger: PostgreSQL's RAISE EXCEPTION (P0001, 400). */
    {SQLITE_CONSTRAINT_TRIGGER, NULL, HP_ERR_RAISE, NULL, NULL},
    {SQLITE_CONSTRAINT, NULL, HP_ERR_CONSTRAINT, NULL, NULL},
    /* A non-integer for an INTEGER PRIMARY KEY (the body reader refuses most of these first,
     * with the value in the message; see src/query/body.c). */
    {SQLITE_MISMATCH, NULL, HP_ERR_INVALID_TEXT, "invalid input syntax for type bigint", NULL},
    /* -> / ->> (json_extract) on text that is not JSON: PostgreSQL's 'x'::json. */
    {SQLITE_ERROR, "malformed JSON", HP_ERR_INVALID_TEXT, "invalid input syntax for type json",
     "-> and ->> read JSON: this column holds text that is not JSON"},
    /* A write to a view: SQLite's views are read-only unless INSTEAD OF triggers make them
     * writable ("cannot modify v because it is a view", "cannot UPSERT a view"). */
    {SQLITE_ERROR, "*because it is a view", HP_ERR_METHOD, NULL,
     "SQLite views are read-only unless INSTEAD OF triggers make them writable"},
    {SQLITE_ERROR, "cannot UPSERT a view", HP_ERR_METHOD, NULL,
     "SQLite views are read-only unless INSTEAD OF triggers make them writable"},
    /* The progress handler stopped the statement: db-statement-timeout-ms (an inline read
     * interrupted at its time budget also ends here, but that result is never answered: the
     * read runs again on a reader thread, see pool.c). */
    {SQLITE_INTERRUPT, NULL, HP_ERR_STATEMENT_TIMEOUT,
     "canceling statement due to statement timeout", NULL},
    /* A string or blob, or a row, past SQLITE_MAX_LENGTH: a cap (PostgreSQL's 54000). */
    {SQLITE_TOOBIG, NULL, HP_ERR_LIMIT, "value too large", NULL},
    /* Locks, and the resources PostgreSQL's class 53 stands for: retry later (503). */
    {SQLITE_BUSY, NULL, HP_ERR_DB_BUSY, NULL, NULL},
    {SQLITE_LOCKED, NULL, HP_ERR_DB_BUSY, NULL, NULL},
    {SQLITE_FULL, NULL, HP_ERR_DB_BUSY, NULL, NULL},
    {SQLITE_NOMEM, NULL, HP_ERR_DB_BUSY, NULL, NULL},
    /* A bind index out of range: never the client's input, always a planner bug. */
    {SQLITE_RANGE, NULL, HP_ERR_INTERNAL, NULL, NULL},
};
const size_t hp_sqlite__error_row_count =
    sizeof(hp_sqlite__error_rows) / sizeof(hp_sqlite__error_rows[0]);

static int message_matches(const char *pattern, const char *msg)
{
    if (msg == NULL)
        return 0;
    if (pattern[0] != '*')
        return strcmp(pattern, msg) == 0;
    size_t len = strlen(pattern + 1), msg_len = strlen(msg);
    return msg_len >= len && memcmp(msg + msg_len - len, pattern + 1, len) == 0;
}

const hp_sqlite__error_row_t *hp_sqlite__error_row(int rc, const char *errmsg)
{
    for (size_t i = 0; i != hp_sqlite__error_row_count; ++i) {
        const hp_sqlite__error_row_t *row = &hp_sqlite__error_rows[i];
        int is_primary = row->rc == (row->rc & 0xff);
        if (row->rc != rc && !(is_primary && row->rc == (rc & 0xff)))
            continue;
        if (row->errmsg != NULL && !message_matches(row->errmsg, errmsg))
            continue;
        return row;
    }
    return NULL;
}

int hp_sqlite__set_error(hp_error_t *err, h2o_mem_pool_t *pool, sqlite3 *handle, int rc)
{
    const char *msg = handle != NULL ? sqlite3_errmsg(handle) : sqlite3_errstr(rc);
    const hp_sqlite__error_row_t *row = hp_sqlite__error_row(rc, msg);
    if (row == NULL)
        return hp_error_set(err, pool, HP_ERR_DB, "%s", msg);
    if (row->message == NULL) {
        if (err->code != HP_OK)
            return -1; /* the first error wins */
        hp_error_set(err, pool, row->code, "%s", msg);
        if (row->hint != NULL)
            hp_error_hint(err, pool, "%s", row->hint);
        return -1;
    }
    if (err->code != HP_OK)
        return -1; /* the first error wins */
    hp_error_set(err, pool, row->code, "%s", row->message);
    hp_error_details(err, pool, "%s", msg);
    if (row->hint != NULL)
        hp_error_hint(err, pool, "%s", row->hint);
    return -1;
}

/* Called by SQLite every few hundred VM steps; a non-zero return interrupts the statement.
 * Two deadlines, independent of each other: the statement timeout (whichever connection) and
 * the inline time budget. The timeout is checked first, so a read past both answers 57014
 * rather than being run again on a reader thread. */
static int on_progress(void *arg)
{
    hp_sqlite__conn_t *conn = arg;
    /* Once interrupted, let the statement's own failure path (ROLLBACK) run uninterrupted. */
    if (conn->is_over_budget || conn->is_timed_out ||
        (conn->deadline_ns == 0 && conn->timeout_at_ns == 0))
        return 0;
    uint64_t now = hp_time_mono_ns();
    if (conn->timeout_at_ns != 0 && now >= conn->timeout_at_ns) {
        conn->is_timed_out = 1;
        return 1;
    }
    if (conn->deadline_ns != 0 && now >= conn->deadline_ns) {
        conn->is_over_budget = 1;
        return 1;
    }
    return 0;
}

void hp_sqlite__conn_enable_budget(hp_sqlite__conn_t *conn)
{
    sqlite3_progress_handler(conn->handle, 500, on_progress, conn);
}

void hp_sqlite__conn_set_statement_timeout(hp_sqlite__conn_t *conn, unsigned timeout_ms)
{
    conn->statement_timeout_ns = (uint64_t)timeout_ms * 1000000;
    if (timeout_ms != 0)
        sqlite3_progress_handler(conn->handle, 500, on_progress, conn);
}
