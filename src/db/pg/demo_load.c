/*
 * The PostgreSQL demo loader. Speed comes from COPY and from doing the expensive work once:
 *   - tables are created bare (NOT NULL only) and filled with COPY ... FREEZE, in text format,
 *     from a buffer flushed every BUF_FLUSH bytes, so the server parses rows while we make the
 *     next ones; FREEZE (the tables are new in this transaction) writes the rows already frozen
 *     and visible, so no VACUUM has to rewrite them before index-only scans work;
 *   - primary keys, foreign keys and indexes come after the rows, each built by one sort (and
 *     each foreign key checked by one join) instead of row by row;
 *   - ANALYZE runs in the same transaction, so the data and its statistics appear together.
 * Every id column but product_details' (which names its product) is bigserial, so a row
 * inserted without an id gets the next one as in SQLite; the sequences are set past the loaded
 * ids. Text columns use the "C" collation: they sort bytewise, as SQLite's BINARY does.
 */
#include "db/pg/demo_load.h"

#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

/* COPY data is sent in chunks of about this size; a row never exceeds ROW_MAX bytes. */
#define BUF_CAP (256 * 1024)
#define ROW_MAX (8 * 1024)
#define BUF_FLUSH (BUF_CAP - ROW_MAX)
/* Enough for the longest statement the demo tables produce. */
#define SQL_CAP 1024

/* A row's text lives in its hp_demo_row_t and at worst doubles when escaped; a number takes
 * at most 32 bytes, a separator one. */
_Static_assert(2 * sizeof(hp_demo_row_t) + 33 * HP_DEMO_MAX_COLUMNS <= ROW_MAX,
               "ROW_MAX is too small for the longest demo row");

/* Set by hp_demo_pg_cancel() (from a signal handler) and polled between rows; the cancel
 * handle lets the handler interrupt a statement running on the server (PQcancel is
 * async-signal-safe). */
static volatile sig_atomic_t cancelled;
static PGcancel *volatile cancel_handle;

void hp_demo_pg_cancel(void)
{
    char ignored[256];
    cancelled = 1;
    PGcancel *c = cancel_handle;
    if (c != NULL)
        PQcancel(c, ignored, sizeof(ignored));
}

typedef struct {
    PGconn *conn;
    char *errbuf;
    size_t errlen;
    hp_demo_progress_cb progress;
    void *ctx;
    double step_start;
    char *buf; /* BUF_CAP bytes of COPY data */
    size_t len;
} loader_t;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(loader_t *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(loader_t *l, const char *fmt, ...)
{
    va_list ap;
    if (l->errlen == 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(l->errbuf, l->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* The first line of libpq's message for a failed result (or of the connection's). */
static int fail_pq(loader_t *l, const char *what, const PGresult *res)
{
    if (cancelled)
        return fail(l, "interrupted");
    const char *msg = res != NULL ? PQresultErrorMessage(res) : "";
    if (msg[0] == '\0')
        msg = PQerrorMessage(l->conn);
    return fail(l, "%s: %.*s", what, (int)strcspn(msg, "\n"), msg);
}

static int exec_sql(loader_t *l, const char *sql)
{
    PGresult *res = PQexec(l->conn, sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : fail_pq(l, sql, res);
    PQclear(res);
    return rc;
}

/* Runs a query returning one value; copies it (NULL: "") into out[cap]. */
static int query_value(loader_t *l, const char *sql, char *out, size_t cap)
{
    PGresult *res = PQexec(l->conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        fail_pq(l, sql, res);
        PQclear(res);
        return -1;
    }
    snprintf(out, cap, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

static void report(loader_t *l, const char *step, int64_t rows)
{
    double now = now_seconds();
    if (l->progress != NULL)
        l->progress(l->ctx, step, rows, now - l->step_start);
    l->step_start = now;
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

/* --- schema --- */

static const char *pg_type(const hp_demo_column_t *col)
{
    switch (col->type) {
    case HP_DEMO_INTEGER: return col->is_pk && col->references == NULL ? "bigserial" : "bigint";
    case HP_DEMO_REAL: return "double precision";
    case HP_DEMO_BOOLEAN: return "boolean";
    case HP_DEMO_TEXT:
    case HP_DEMO_TIMESTAMP: break;
    }
    return "text COLLATE \"C\"";
}

/* CREATE TABLE t (id bigserial, col type NOT NULL, ...): keys come after the rows. */
static int build_create_table(const hp_demo_table_t *t, char *sql)
{
    size_t len = 0;
    if (sql_append(sql, &len, "CREATE TABLE %s (", t->name) != 0)
        return -1;
    for (size_t c = 0; c < t->column_count; c++)
        if (sql_append(sql, &len, "%s%s %s NOT NULL", c ? ", " : "", t->columns[c].name,
                       pg_type(&t->columns[c])) != 0)
            return -1;
    return sql_append(sql, &len, ")");
}

static int build_copy(const hp_demo_table_t *t, char *sql)
{
    size_t len = 0;
    if (sql_append(sql, &len, "COPY %s (", t->name) != 0)
        return -1;
    for (size_t c = 0; c < t->column_count; c++)
        if (sql_append(sql, &len, "%s%s", c ? ", " : "", t->columns[c].name) != 0)
            return -1;
    return sql_append(sql, &len, ") FROM STDIN WITH (FREEZE)");
}

/* Primary key, sequence position and foreign keys of one table, with PostgreSQL's default
 * constraint names (users_pkey, orders_user_id_fkey), which are also the names the SQLite
 * loader's keys get in the schema cache. */
static int add_keys(loader_t *l, const hp_demo_t *demo, hp_demo_table_id_t id)
{
    const hp_demo_table_t *t = hp_demo_table(id);
    char sql[SQL_CAP];
    for (size_t c = 0; c < t->column_count; c++) {
        const hp_demo_column_t *col = &t->columns[c];
        if (col->is_pk) {
            snprintf(sql, sizeof(sql), "ALTER TABLE %s ADD PRIMARY KEY (%s)", t->name, col->name);
            if (exec_sql(l, sql) != 0)
                return -1;
        }
        if (col->is_pk && col->references == NULL) {
            snprintf(sql, sizeof(sql), "SELECT setval(pg_get_serial_sequence('%s', '%s'), %lld)",
                     t->name, col->name, (long long)demo->row_count[id]);
            if (exec_sql(l, sql) != 0)
                return -1;
        }
        if (col->references != NULL) {
            snprintf(sql, sizeof(sql), "ALTER TABLE %s ADD FOREIGN KEY (%s) REFERENCES %s (id)",
                     t->name, col->name, col->references);
            if (exec_sql(l, sql) != 0)
                return -1;
        }
    }
    return 0;
}

/* --- COPY rows --- */

static void put(loader_t *l, const char *s, size_t n)
{
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void put_int(loader_t *l, int64_t v)
{
    char tmp[24];
    size_t n = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        l->buf[l->len++] = '-';
    while (n > 0)
        l->buf[l->len++] = tmp[--n];
}

/* A double as text that reads back as the same double. The demo's values are whole cents
 * (x / 100.0, correctly rounded), written exactly as "d.cc" by hand; anything else goes
 * through %.17g. */
static void put_real(loader_t *l, double v)
{
    if (fabs(v) < 1e15) {
        double cents = nearbyint(v * 100.0);
        if (cents / 100.0 == v) {
            int64_t c = (int64_t)cents;
            if (c < 0) {
                l->buf[l->len++] = '-';
                c = -c;
            }
            put_int(l, c / 100);
            char frac[3] = {'.', (char)('0' + c % 100 / 10), (char)('0' + c % 10)};
            put(l, frac, sizeof(frac));
            return;
        }
    }
    l->len += (size_t)snprintf(l->buf + l->len, 32, "%.17g", v);
}

/* COPY's text format: backslash, tab, newline and carriage return are escaped. */
static void put_text(loader_t *l, const char *s, size_t n)
{
    char *out = l->buf + l->len;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        switch (ch) {
        case '\\':
            *out++ = '\\';
            *out++ = '\\';
            break;
        case '\t':
            *out++ = '\\';
            *out++ = 't';
            break;
        case '\n':
            *out++ = '\\';
            *out++ = 'n';
            break;
        case '\r':
            *out++ = '\\';
            *out++ = 'r';
            break;
        default: *out++ = ch; break;
        }
    }
    l->len = (size_t)(out - l->buf);
}

static void put_row(loader_t *l, const hp_demo_row_t *row, size_t column_count)
{
    for (size_t c = 0; c < column_count; c++) {
        const hp_demo_value_t *v = &row->values[c];
        if (c > 0)
            l->buf[l->len++] = '\t';
        switch (v->type) {
        case HP_DEMO_INTEGER: put_int(l, v->i); break;
        case HP_DEMO_BOOLEAN: l->buf[l->len++] = v->i ? 't' : 'f'; break;
        case HP_DEMO_REAL: put_real(l, v->r); break;
        case HP_DEMO_TEXT:
        case HP_DEMO_TIMESTAMP: put_text(l, v->s, v->len); break;
        }
    }
    l->buf[l->len++] = '\n';
}

static int flush(loader_t *l)
{
    if (l->len == 0)
        return 0;
    if (PQputCopyData(l->conn, l->buf, (int)l->len) != 1)
        return fail_pq(l, "COPY", NULL);
    l->len = 0;
    return 0;
}

/* Reads the results of a finished (or aborted) COPY; the first failure is reported. */
static int end_copy(loader_t *l, const char *abort_reason, const char *table)
{
    int rc = 0;
    if (PQputCopyEnd(l->conn, abort_reason) != 1)
        rc = fail_pq(l, table, NULL);
    PGresult *res;
    while ((res = PQgetResult(l->conn)) != NULL) {
        if (rc == 0 && PQresultStatus(res) != PGRES_COMMAND_OK)
            rc = fail_pq(l, table, res);
        PQclear(res);
    }
    return rc;
}

static int copy_table(loader_t *l, const hp_demo_t *demo, hp_demo_table_id_t id)
{
    const hp_demo_table_t *t = hp_demo_table(id);
    char sql[SQL_CAP];
    hp_demo_row_t row;

    if (build_copy(t, sql) != 0)
        return fail(l, "COPY for %s does not fit in %d bytes", t->name, SQL_CAP);
    PGresult *res = PQexec(l->conn, sql);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        fail_pq(l, sql, res);
        PQclear(res);
        return -1;
    }
    PQclear(res);
    for (int64_t rowid = 1; rowid <= demo->row_count[id]; rowid++) {
        if ((rowid & 4095) == 0 && cancelled) {
            end_copy(l, "interrupted", t->name);
            return fail(l, "interrupted");
        }
        hp_demo_row(demo, id, rowid, &row);
        put_row(l, &row, t->column_count);
        if (l->len >= BUF_FLUSH && flush(l) != 0) {
            end_copy(l, "client error", t->name);
            return -1;
        }
    }
    if (flush(l) != 0) {
        end_copy(l, "client error", t->name);
        return -1;
    }
    return end_copy(l, NULL, t->name);
}

/* --- the load --- */

/* Fails when a demo table exists already and may not be replaced. */
static int check_existing(loader_t *l, int overwrite)
{
    char sql[SQL_CAP], found[SQL_CAP];
    size_t len = 0;
    sql_append(sql, &len,
               "SELECT coalesce(string_agg(c.relname, ', ' ORDER BY c.relname), '')"
               " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n"
               " ON n.oid = c.relnamespace AND n.nspname = pg_catalog.current_schema()"
               " WHERE c.relname IN (");
    for (int id = 0; id < HP_DEMO_TABLE_COUNT; id++)
        if (sql_append(sql, &len, "%s'%s'", id ? ", " : "",
                       hp_demo_table((hp_demo_table_id_t)id)->name) != 0)
            return fail(l, "the existing-table query does not fit in %d bytes", SQL_CAP);
    if (sql_append(sql, &len, ")") != 0)
        return fail(l, "the existing-table query does not fit in %d bytes", SQL_CAP);
    if (query_value(l, sql, found, sizeof(found)) != 0)
        return -1;
    if (found[0] != '\0' && !overwrite)
        return fail(l, "the database already has demo tables (%s); --force replaces them", found);
    return 0;
}

/* Session settings, and the one schema every statement works in: the first of search_path
 * that exists, alone, so DROP cannot find a same-named table further along the path. */
static int prepare_session(loader_t *l)
{
    char schema[256], sql[SQL_CAP];
    if (exec_sql(l, "SET client_min_messages = warning; SET synchronous_commit = off;"
                    " SET maintenance_work_mem = '256MB'; SET statement_timeout = 0;"
                    " SET lock_timeout = '10s'") != 0)
        return -1;
    if (query_value(l, "SELECT coalesce((pg_catalog.current_schemas(false))[1], '')", schema,
                    sizeof(schema)) != 0)
        return -1;
    if (schema[0] == '\0')
        return fail(l, "no schema of the search_path exists: nowhere to create the tables");
    char *quoted = PQescapeIdentifier(l->conn, schema, strlen(schema));
    if (quoted == NULL)
        return fail_pq(l, "quoting the schema name", NULL);
    snprintf(sql, sizeof(sql), "SET search_path = %s", quoted);
    PQfreemem(quoted);
    return exec_sql(l, sql);
}

/* prefix, the demo tables' names separated by ", ", suffix. */
static int build_table_list(char *sql, const char *prefix, const char *suffix)
{
    size_t len = 0;
    if (sql_append(sql, &len, "%s", prefix) != 0)
        return -1;
    for (int id = 0; id < HP_DEMO_TABLE_COUNT; id++)
        if (sql_append(sql, &len, "%s%s", id ? ", " : "",
                       hp_demo_table((hp_demo_table_id_t)id)->name) != 0)
            return -1;
    return sql_append(sql, &len, "%s", suffix);
}

static int create_tables(loader_t *l)
{
    char sql[SQL_CAP];
    if (build_table_list(sql, "DROP TABLE IF EXISTS ", " CASCADE") != 0 || exec_sql(l, sql) != 0)
        return -1;
    for (int id = 0; id < HP_DEMO_TABLE_COUNT; id++) {
        const hp_demo_table_t *t = hp_demo_table((hp_demo_table_id_t)id);
        if (build_create_table(t, sql) != 0)
            return fail(l, "CREATE TABLE %s does not fit in %d bytes", t->name, SQL_CAP);
        if (exec_sql(l, sql) != 0)
            return -1;
    }
    return 0;
}

static int create_indexes(loader_t *l, const hp_demo_t *demo)
{
    char sql[SQL_CAP];
    /* Parents first: a foreign key needs the referenced table's primary key. */
    for (int id = 0; id < HP_DEMO_TABLE_COUNT; id++)
        if (add_keys(l, demo, (hp_demo_table_id_t)id) != 0)
            return -1;
    size_t count;
    const hp_demo_index_t *indexes = hp_demo_indexes(&count);
    for (size_t i = 0; i < count; i++) {
        snprintf(sql, sizeof(sql), "CREATE INDEX %s ON %s (%s)", indexes[i].name, indexes[i].table,
                 indexes[i].columns);
        if (exec_sql(l, sql) != 0)
            return -1;
    }
    return 0;
}

/* Everything between BEGIN and COMMIT. */
static int fill(loader_t *l, const hp_demo_t *demo, int overwrite)
{
    char sql[SQL_CAP];
    if (check_existing(l, overwrite) != 0 || create_tables(l) != 0)
        return -1;
    for (int id = 0; id < HP_DEMO_TABLE_COUNT; id++) {
        if (copy_table(l, demo, (hp_demo_table_id_t)id) != 0)
            return -1;
        report(l, hp_demo_table((hp_demo_table_id_t)id)->name, demo->row_count[id]);
    }
    if (create_indexes(l, demo) != 0)
        return -1;
    report(l, "indexes", -1);
    /* The planner needs the statistics to pick the composite indexes over a scan. */
    if (build_table_list(sql, "ANALYZE ", "") != 0 || exec_sql(l, sql) != 0)
        return -1;
    report(l, "analyze", -1);
    return 0;
}

/* Publishes (or withdraws) the handle hp_demo_pg_cancel() uses, with the signals it may come
 * from blocked, so the handler never sees a handle being freed. */
static void set_cancel_handle(PGcancel *c)
{
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &old);
    PGcancel *prev = cancel_handle;
    cancel_handle = c;
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (prev != NULL)
        PQfreeCancel(prev);
}

static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

int hp_demo_pg_load(const hp_demo_t *demo, const char *uri, int overwrite,
                    hp_demo_progress_cb progress, void *ctx, char *errbuf, size_t errlen)
{
    loader_t l = {.errbuf = errbuf, .errlen = errlen, .progress = progress, .ctx = ctx};
    double t0 = now_seconds();
    int rc = -1;

    l.step_start = t0;
    l.conn = PQconnectdb(uri);
    if (PQstatus(l.conn) != CONNECTION_OK) {
        fail_pq(&l, "connecting", NULL);
        goto done;
    }
    PQsetNoticeProcessor(l.conn, ignore_notice, NULL);
    set_cancel_handle(PQgetCancel(l.conn));
    l.buf = malloc(BUF_CAP);
    if (l.buf == NULL) {
        fail(&l, "out of memory");
        goto done;
    }
    if (cancelled) {
        fail(&l, "interrupted");
        goto done;
    }
    if (prepare_session(&l) != 0 || exec_sql(&l, "BEGIN") != 0)
        goto done;
    if (fill(&l, demo, overwrite) != 0 || cancelled) {
        if (cancelled)
            fail(&l, "interrupted");
        PQclear(PQexec(l.conn, "ROLLBACK"));
        goto done;
    }
    if (exec_sql(&l, "COMMIT") != 0)
        goto done;
    l.step_start = t0;
    report(&l, "finish", -1);
    rc = 0;
done:
    set_cancel_handle(NULL);
    free(l.buf);
    PQfinish(l.conn);
    return rc;
}
