/*
 * The SQLite demo loader. Speed comes from what SQLite does not have to do while loading:
 * no journal and no fsync (journal_mode=OFF, synchronous=OFF: a crash only loses the temporary
 * file), rows appended in rowid order inside one transaction, and the secondary indexes built
 * once at the end from sorted input instead of being updated row by row.
 */
#include "db/sqlite/demo_load.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

/* Longest target path accepted; the names derived from it (temporary file, -wal, -shm) fit in
 * DERIVED_CAP. */
#define PATH_CAP 4096
#define DERIVED_CAP (PATH_CAP + 64)
/* Enough for the longest CREATE TABLE or INSERT the demo tables produce. */
#define SQL_CAP 1024

/* Set by hp_demo_sqlite_cancel() (from a signal handler); polled between rows and, through
 * SQLite's progress handler, inside long statements (CREATE INDEX, ANALYZE). */
static volatile sig_atomic_t cancelled;

void hp_demo_sqlite_cancel(void)
{
    cancelled = 1;
}

static int interrupt_if_cancelled(void *unused)
{
    (void)unused;
    return cancelled != 0;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void set_error(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_error(char *errbuf, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
}

/* Appends formatted text to sql[*len]; returns -1 when it does not fit. */
static int sql_append(char *sql, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int sql_append(char *sql, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(sql + *len, SQL_CAP - *len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= SQL_CAP - *len)
        return -1;
    *len += (size_t)n;
    return 0;
}

static const char *sqlite_type(hp_demo_coltype_t type)
{
    switch (type) {
    case HP_DEMO_INTEGER: return "INTEGER";
    case HP_DEMO_REAL: return "REAL";
    case HP_DEMO_BOOLEAN: return "BOOLEAN";
    case HP_DEMO_TEXT:
    case HP_DEMO_TIMESTAMP: break;
    }
    return "TEXT";
}

/* CREATE TABLE t (id INTEGER PRIMARY KEY, col TYPE NOT NULL [REFERENCES p(id)], ...).
 * An INTEGER PRIMARY KEY is the rowid, so appending rows in id order is a cheap b-tree append. */
static int build_create_table(const hp_demo_table_t *t, char *sql)
{
    size_t len = 0;
    if (sql_append(sql, &len, "CREATE TABLE %s (", t->name) != 0)
        return -1;
    for (size_t c = 0; c < t->column_count; c++) {
        const hp_demo_column_t *col = &t->columns[c];
        if (sql_append(sql, &len, "%s%s %s %s", c ? ", " : "", col->name, sqlite_type(col->type),
                       col->is_pk ? "PRIMARY KEY" : "NOT NULL") != 0)
            return -1;
        if (col->references != NULL &&
            sql_append(sql, &len, " REFERENCES %s(id)", col->references) != 0)
            return -1;
    }
    return sql_append(sql, &len, ")");
}

static int build_insert(const hp_demo_table_t *t, char *sql)
{
    size_t len = 0;
    if (sql_append(sql, &len, "INSERT INTO %s (", t->name) != 0)
        return -1;
    for (size_t c = 0; c < t->column_count; c++)
        if (sql_append(sql, &len, "%s%s", c ? ", " : "", t->columns[c].name) != 0)
            return -1;
    if (sql_append(sql, &len, ") VALUES (") != 0)
        return -1;
    for (size_t c = 0; c < t->column_count; c++)
        if (sql_append(sql, &len, "%s?", c ? ", " : "") != 0)
            return -1;
    return sql_append(sql, &len, ")");
}

static int exec_sql(sqlite3 *db, const char *sql, char *errbuf, size_t errlen)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc == SQLITE_INTERRUPT && cancelled) {
        set_error(errbuf, errlen, "interrupted");
        sqlite3_free(msg);
        return -1;
    }
    if (rc != SQLITE_OK) {
        set_error(errbuf, errlen, "%s: %s", sql, msg != NULL ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int bind_row(sqlite3_stmt *stmt, const hp_demo_row_t *row, size_t column_count)
{
    for (size_t c = 0; c < column_count; c++) {
        const hp_demo_value_t *v = &row->values[c];
        int slot = (int)c + 1, rc;
        switch (v->type) {
        case HP_DEMO_INTEGER:
        case HP_DEMO_BOOLEAN: rc = sqlite3_bind_int64(stmt, slot, v->i); break;
        case HP_DEMO_REAL: rc = sqlite3_bind_double(stmt, slot, v->r); break;
        default:
            /* The row outlives the step that reads it, so SQLite need not copy the text. */
            rc = sqlite3_bind_text(stmt, slot, v->s, (int)v->len, SQLITE_STATIC);
            break;
        }
        if (rc != SQLITE_OK)
            return rc;
    }
    return SQLITE_OK;
}

static int load_table(sqlite3 *db, const hp_demo_t *demo, hp_demo_table_id_t id, char *errbuf,
                      size_t errlen)
{
    const hp_demo_table_t *t = hp_demo_table(id);
    char sql[SQL_CAP];
    sqlite3_stmt *stmt = NULL;
    hp_demo_row_t row;

    if (build_insert(t, sql) != 0) {
        set_error(errbuf, errlen, "INSERT for %s does not fit in %d bytes", t->name, SQL_CAP);
        return -1;
    }
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        set_error(errbuf, errlen, "%s: %s", sql, sqlite3_errmsg(db));
        return -1;
    }
    for (int64_t rowid = 1; rowid <= demo->row_count[id]; rowid++) {
        if ((rowid & 4095) == 0 && cancelled) {
            set_error(errbuf, errlen, "interrupted");
            sqlite3_finalize(stmt);
            return -1;
        }
        hp_demo_row(demo, id, rowid, &row);
        int rc = bind_row(stmt, &row, t->column_count);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(stmt);
        if (rc != SQLITE_DONE) {
            if (rc == SQLITE_INTERRUPT && cancelled)
                set_error(errbuf, errlen, "interrupted");
            else
                set_error(errbuf, errlen, "inserting %s row %lld: %s", t->name, (long long)rowid,
                          sqlite3_errmsg(db));
            sqlite3_finalize(stmt);
            return -1;
        }
        sqlite3_reset(stmt);
    }
    sqlite3_finalize(stmt);
    return 0;
}

/* fsync()s a file or a directory by path. */
static int sync_path(const char *path, int is_dir)
{
    int fd = open(path, O_RDONLY | (is_dir ? O_DIRECTORY : 0));
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static void report(hp_demo_progress_cb progress, void *ctx, const char *step, int64_t rows,
                   double *since)
{
    double now = now_seconds();
    if (progress != NULL)
        progress(ctx, step, rows, now - *since);
    *since = now;
}

/* Builds every table, row and index into the open (empty) database. */
static int fill(sqlite3 *db, const hp_demo_t *demo, hp_demo_progress_cb progress, void *ctx,
                char *errbuf, size_t errlen)
{
    char sql[SQL_CAP];
    double t0 = now_seconds();

    /* threads=2 lets CREATE INDEX sort on both cores. The page cache stays at SQLite's small
     * default on purpose: a big cache (or temp_store=MEMORY) makes the sorter build one huge
     * in-memory run, which measured 3x slower than many cache-sized runs merged in parallel. */
    if (exec_sql(db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA threads=2; BEGIN",
                 errbuf, errlen) != 0)
        return -1;
    for (int id = 0; id < HP_DEMO_TABLE_COUNT; id++) {
        const hp_demo_table_t *t = hp_demo_table((hp_demo_table_id_t)id);
        if (build_create_table(t, sql) != 0) {
            set_error(errbuf, errlen, "CREATE TABLE %s does not fit in %d bytes", t->name, SQL_CAP);
            return -1;
        }
        if (exec_sql(db, sql, errbuf, errlen) != 0)
            return -1;
    }
    for (int id = 0; id < HP_DEMO_TABLE_COUNT; id++) {
        if (load_table(db, demo, (hp_demo_table_id_t)id, errbuf, errlen) != 0)
            return -1;
        report(progress, ctx, hp_demo_table((hp_demo_table_id_t)id)->name, demo->row_count[id],
               &t0);
    }

    size_t index_count;
    const hp_demo_index_t *indexes = hp_demo_indexes(&index_count);
    for (size_t i = 0; i < index_count; i++) {
        snprintf(sql, sizeof(sql), "CREATE INDEX %s ON %s (%s)", indexes[i].name, indexes[i].table,
                 indexes[i].columns);
        if (exec_sql(db, sql, errbuf, errlen) != 0)
            return -1;
    }
    if (exec_sql(db, "COMMIT", errbuf, errlen) != 0)
        return -1;
    report(progress, ctx, "indexes", -1, &t0);

    /* The planner needs the statistics to pick the composite indexes over a scan. */
    if (exec_sql(db, "ANALYZE", errbuf, errlen) != 0)
        return -1;
    /* WAL is persistent in the file header, so the server opens it in WAL mode; the switch also
     * leaves no -wal file behind once the connection closes. */
    if (exec_sql(db, "PRAGMA journal_mode=WAL", errbuf, errlen) != 0)
        return -1;
    report(progress, ctx, "analyze", -1, &t0);
    return 0;
}

/* Removes `base` and its -journal/-wal/-shm companions, ignoring the ones that do not exist. */
static void remove_db_files(const char *base)
{
    static const char *const suffixes[] = {"", "-journal", "-wal", "-shm"};
    char path[DERIVED_CAP + 16];
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        snprintf(path, sizeof(path), "%s%s", base, suffixes[i]);
        unlink(path);
    }
}

/* Moves tmp to path. Without overwrite, link() refuses atomically when path already exists. */
static int move_into_place(const char *tmp, const char *path, int overwrite, char *errbuf,
                           size_t errlen)
{
    if (!overwrite) {
        if (link(tmp, path) == 0) {
            unlink(tmp);
            return 0;
        }
        if (errno == EEXIST) {
            set_error(errbuf, errlen, "%s already exists", path);
            return -1;
        }
        /* A file system without hard links: check, then rename (not atomic, but close). */
        struct stat st;
        if (stat(path, &st) == 0) {
            set_error(errbuf, errlen, "%s already exists", path);
            return -1;
        }
    } else {
        /* A stale -wal beside the old file would be replayed into the new one. */
        char side[DERIVED_CAP];
        snprintf(side, sizeof(side), "%s-wal", path);
        unlink(side);
        snprintf(side, sizeof(side), "%s-shm", path);
        unlink(side);
    }
    if (rename(tmp, path) != 0) {
        set_error(errbuf, errlen, "rename %s -> %s: %s", tmp, path, strerror(errno));
        return -1;
    }
    return 0;
}

int hp_demo_sqlite_load(const hp_demo_t *demo, const char *path, int overwrite,
                        hp_demo_progress_cb progress, void *ctx, char *errbuf, size_t errlen)
{
    char tmp[DERIVED_CAP], dir[PATH_CAP];
    sqlite3 *db = NULL;
    struct stat st;
    double t0 = now_seconds();

    if (strlen(path) >= PATH_CAP || path[0] == '\0') {
        set_error(errbuf, errlen, "bad output path");
        return -1;
    }
    if (!overwrite && stat(path, &st) == 0) {
        set_error(errbuf, errlen, "%s already exists", path);
        return -1;
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp-%ld", path, (long)getpid());
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == path)
        snprintf(dir, sizeof(dir), "/");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);

    remove_db_files(tmp);
    if (sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        set_error(errbuf, errlen, "cannot create %s: %s", tmp,
                  db != NULL ? sqlite3_errmsg(db) : "out of memory");
        goto fail;
    }
    sqlite3_progress_handler(db, 100000, interrupt_if_cancelled, NULL);
    if (fill(db, demo, progress, ctx, errbuf, errlen) != 0)
        goto fail;
    if (sqlite3_close(db) != SQLITE_OK) {
        set_error(errbuf, errlen, "closing %s: %s", tmp, sqlite3_errmsg(db));
        goto fail;
    }
    db = NULL;
    /* Loading skipped every fsync; one here makes the renamed file whole after a power loss. */
    if (sync_path(tmp, 0) != 0) {
        set_error(errbuf, errlen, "fsync %s: %s", tmp, strerror(errno));
        goto fail;
    }
    if (cancelled) {
        set_error(errbuf, errlen, "interrupted");
        goto fail;
    }
    if (move_into_place(tmp, path, overwrite, errbuf, errlen) != 0)
        goto fail;
    sync_path(dir, 1); /* best effort: some file systems refuse fsync on a directory */
    report(progress, ctx, "finish", -1, &t0);
    return 0;

fail:
    if (db != NULL)
        sqlite3_close(db);
    remove_db_files(tmp);
    return -1;
}
