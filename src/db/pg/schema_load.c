/*
 * PostgreSQL's catalog -> an hp_schema_t snapshot (schema_load.h). One query per kind, not
 * one per table:
 *
 *   columns  every relation of the schema with its columns in attnum order (a relation with
 *            no columns still gives one row), each with format_type() as its declared type,
 *            the format_type() of its base type when it is a domain (which decides how values
 *            render: hp_schema_pg_type_of), NOT NULL, the DEFAULT expression (pg_get_expr; none
 *            for generated columns, whose expression is not a default; for an identity column,
 *            which has none in pg_attrdef, nextval() of its sequence, so Prefer: missing=default
 *            can fill it), and the position in the primary key.
 *   fkeys    every foreign key between two relations of the schema, one row per column pair
 *            in key order (unnest(conkey, confkey) WITH ORDINALITY), with its constraint name.
 *            Keys a partition inherits from its parent (conparentid <> 0) are left out: they
 *            repeat the parent's key under the same name.
 *
 * Views have no primary key and no foreign keys here (PostgREST infers them from the view's
 * base columns; we do not yet). Privileges are not consulted: a relation the role cannot read
 * is in the snapshot, and reading it fails with PostgreSQL's 42501.
 */
#include "db/pg/schema_load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/* The exposed schema, evaluated inside each query (both see the same search_path). */
#define EXPOSED_SCHEMA "coalesce((pg_catalog.current_schemas(false))[1], 'public')"

static const char sql_columns[] =
    "WITH RECURSIVE domains(oid, base, typmod) AS ("
    " SELECT t.oid, t.typbasetype, t.typtypmod FROM pg_catalog.pg_type t WHERE t.typtype = 'd'"
    " UNION ALL"
    " SELECT d.oid, t.typbasetype, t.typtypmod FROM domains d"
    " JOIN pg_catalog.pg_type t ON t.oid = d.base WHERE t.typtype = 'd'"
    "), bases AS ("
    " SELECT d.oid, d.base, d.typmod FROM domains d"
    " JOIN pg_catalog.pg_type t ON t.oid = d.base WHERE t.typtype <> 'd')"
    " SELECT c.relname, c.relkind IN ('v', 'm'), a.attname,"
    " pg_catalog.format_type(a.atttypid, a.atttypmod),"
    " pg_catalog.format_type(coalesce(b.base, a.atttypid),"
    " CASE WHEN b.oid IS NULL THEN a.atttypmod ELSE b.typmod END),"
    " a.attnotnull,"
    " CASE WHEN a.attidentity <> '' THEN 'nextval(' || pg_catalog.quote_literal("
    " pg_catalog.pg_get_serial_sequence(pg_catalog.quote_ident(n.nspname) || '.' ||"
    " pg_catalog.quote_ident(c.relname), a.attname)) || '::regclass)'"
    " WHEN a.attgenerated = '' THEN pg_catalog.pg_get_expr(d.adbin, d.adrelid) END,"
    " coalesce(pg_catalog.array_position(pk.conkey, a.attnum), 0)"
    " FROM pg_catalog.pg_class c"
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " LEFT JOIN pg_catalog.pg_attribute a"
    " ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
    " LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum"
    " LEFT JOIN pg_catalog.pg_constraint pk ON pk.conrelid = c.oid AND pk.contype = 'p'"
    " LEFT JOIN bases b ON b.oid = a.atttypid"
    " WHERE n.nspname = " EXPOSED_SCHEMA " AND c.relkind IN ('r', 'p', 'f', 'v', 'm')"
    " ORDER BY c.relname COLLATE \"C\", a.attnum";

/* Single-column unique indexes (UNIQUE constraints and primary keys make them too), not
 * partial, not on an expression. */
static const char sql_unique[] =
    "SELECT c.relname, a.attname FROM pg_catalog.pg_index i"
    " JOIN pg_catalog.pg_class c ON c.oid = i.indrelid"
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]"
    " WHERE i.indisunique AND i.indnatts = 1 AND i.indpred IS NULL AND i.indexprs IS NULL"
    " AND n.nspname = " EXPOSED_SCHEMA;

static const char sql_fkeys[] =
    "SELECT k.oid, k.conname, cf.relname, ct.relname, af.attname, at.attname"
    " FROM pg_catalog.pg_constraint k"
    " JOIN pg_catalog.pg_class cf ON cf.oid = k.conrelid"
    " JOIN pg_catalog.pg_namespace nf ON nf.oid = cf.relnamespace"
    " JOIN pg_catalog.pg_class ct ON ct.oid = k.confrelid"
    " JOIN pg_catalog.pg_namespace nt ON nt.oid = ct.relnamespace"
    " CROSS JOIN LATERAL unnest(k.conkey, k.confkey) WITH ORDINALITY AS cols(f, t, pos)"
    " JOIN pg_catalog.pg_attribute af ON af.attrelid = k.conrelid AND af.attnum = cols.f"
    " JOIN pg_catalog.pg_attribute at ON at.attrelid = k.confrelid AND at.attnum = cols.t"
    " WHERE k.contype = 'f' AND k.conparentid = 0"
    " AND nf.nspname = " EXPOSED_SCHEMA " AND nt.nspname = " EXPOSED_SCHEMA
    " ORDER BY cf.relname COLLATE \"C\", k.conname COLLATE \"C\", k.oid, cols.pos";

/* Columns of the two results above. */
enum {
    COL_TABLE,
    COL_IS_VIEW,
    COL_NAME,
    COL_TYPE,
    COL_BASE_TYPE,
    COL_NOT_NULL,
    COL_DEFAULT,
    COL_PK_POSITION
};
enum { FK_OID, FK_NAME, FK_FROM_TABLE, FK_TO_TABLE, FK_FROM_COL, FK_TO_COL };

/* Foreign keys with more columns are skipped (PostgreSQL allows 32). */
#define MAX_FKEY_COLUMNS 32

typedef struct {
    PGconn *conn;
    char *errbuf;
    size_t errlen;
} loader_t;

static int fail(loader_t *l, const char *what, const PGresult *res)
{
    const char *msg = res != NULL ? PQresultErrorMessage(res) : "";
    if (msg[0] == '\0')
        msg = PQerrorMessage(l->conn);
    /* libpq's messages end with a newline (and may span lines): keep the first line. */
    snprintf(l->errbuf, l->errlen, "loading the schema (%s): %.*s", what, (int)strcspn(msg, "\n"),
             msg);
    return -1;
}

/* Runs a command that returns no rows. */
static int run_command(loader_t *l, const char *sql)
{
    PGresult *res = PQexec(l->conn, sql);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : fail(l, sql, res);
    PQclear(res);
    return rc;
}

/* Runs a query; returns its rows (PQclear them), or NULL with the reason in errbuf. */
static PGresult *run_query(loader_t *l, const char *what, const char *sql)
{
    PGresult *res = PQexec(l->conn, sql);
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        return res;
    fail(l, what, res);
    PQclear(res);
    return NULL;
}

static int is_true(const PGresult *res, int row, int col)
{
    return PQgetvalue(res, row, col)[0] == 't';
}

static const char *value_or_null(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

static int int_value(const PGresult *res, int row, int col)
{
    return (int)strtol(PQgetvalue(res, row, col), NULL, 10);
}

/* One row per column, consecutive rows of one relation; a row with a NULL column name is a
 * relation without columns. */
static void add_tables(hp_schema_t *s, const PGresult *res)
{
    hp_table_t *t = NULL;
    for (int row = 0; row < PQntuples(res); row++) {
        const char *name = PQgetvalue(res, row, COL_TABLE);
        if (t == NULL || strcmp(t->name, name) != 0)
            t = hp_schema_add_table(s, name, is_true(res, row, COL_IS_VIEW), 0);
        if (PQgetisnull(res, row, COL_NAME))
            continue;
        hp_coltype_t type = hp_schema_pg_type_of(PQgetvalue(res, row, COL_BASE_TYPE));
        hp_schema_add_typed_column(
            s, t, PQgetvalue(res, row, COL_NAME), PQgetvalue(res, row, COL_TYPE), type,
            is_true(res, row, COL_NOT_NULL), int_value(res, row, COL_PK_POSITION),
            value_or_null(res, row, COL_DEFAULT));
    }
}

/* Adds the key whose column pairs are rows [first, end). A key the snapshot cannot hold is
 * skipped (and logged): too many columns, or a name the snapshot does not know. */
static void add_fkey(hp_schema_t *s, const PGresult *res, int first, int end)
{
    const char *from[MAX_FKEY_COLUMNS], *to[MAX_FKEY_COLUMNS];
    const char *name = PQgetvalue(res, first, FK_NAME);
    size_t count = (size_t)(end - first);
    if (count <= MAX_FKEY_COLUMNS) {
        for (size_t i = 0; i < count; i++) {
            from[i] = PQgetvalue(res, first + (int)i, FK_FROM_COL);
            to[i] = PQgetvalue(res, first + (int)i, FK_TO_COL);
        }
        if (hp_schema_add_fkey(s, name, PQgetvalue(res, first, FK_FROM_TABLE), from,
                               PQgetvalue(res, first, FK_TO_TABLE), to, count) == 0)
            return;
    }
    hp_log_debug("schema: skipping foreign key %s of %s", name,
                 PQgetvalue(res, first, FK_FROM_TABLE));
}

/* Rows of one key are consecutive (ordered by key, then column position). */
static void add_fkeys(hp_schema_t *s, const PGresult *res)
{
    int rows = PQntuples(res);
    for (int first = 0, end; first < rows; first = end) {
        const char *oid = PQgetvalue(res, first, FK_OID);
        for (end = first + 1; end < rows; end++)
            if (strcmp(PQgetvalue(res, end, FK_OID), oid) != 0)
                break;
        add_fkey(s, res, first, end);
    }
}

/* The catalog queries, inside whatever transaction the connection is in. */
static hp_schema_t *load(loader_t *l)
{
    PGresult *columns = run_query(l, "columns", sql_columns);
    if (columns == NULL)
        return NULL;
    PGresult *fkeys = run_query(l, "foreign keys", sql_fkeys);
    if (fkeys == NULL) {
        PQclear(columns);
        return NULL;
    }
    PGresult *unique = run_query(l, "unique indexes", sql_unique);
    if (unique == NULL) {
        PQclear(columns);
        PQclear(fkeys);
        return NULL;
    }
    hp_schema_t *s = hp_schema_create();
    add_tables(s, columns);
    add_fkeys(s, fkeys); /* after every table and column: keys name them */
    for (int i = 0; i != PQntuples(unique); ++i)
        hp_schema_set_unique(s, PQgetvalue(unique, i, 0), PQgetvalue(unique, i, 1));
    PQclear(columns);
    PQclear(fkeys);
    PQclear(unique);
    hp_schema_finalize(s);
    return s;
}

hp_schema_t *hp_pg_load_schema(PGconn *conn, char *errbuf, size_t errlen)
{
    loader_t l = {conn, errbuf, errlen};
    if (PQstatus(conn) != CONNECTION_OK)
        return fail(&l, "connection", NULL), NULL;
    if (PQpipelineStatus(conn) != PQ_PIPELINE_OFF) {
        snprintf(errbuf, errlen, "loading the schema: the connection is in pipeline mode");
        return NULL;
    }
    PGTransactionStatusType tx = PQtransactionStatus(conn);
    if (tx != PQTRANS_IDLE && tx != PQTRANS_INTRANS && tx != PQTRANS_INERROR) {
        snprintf(errbuf, errlen, "loading the schema: the connection is busy");
        return NULL;
    }
    int own_tx = tx == PQTRANS_IDLE;
    if (own_tx && run_command(&l, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") != 0)
        return NULL;
    hp_schema_t *s = load(&l);
    if (own_tx) {
        /* A read-only transaction: COMMIT and ROLLBACK are the same, but only COMMIT reports
         * a connection that broke after the last query. */
        if (s != NULL && run_command(&l, "COMMIT") != 0) {
            hp_schema_unref(s);
            s = NULL;
        }
        if (s == NULL && PQtransactionStatus(conn) != PQTRANS_IDLE)
            PQclear(PQexec(conn, "ROLLBACK"));
    }
    return s;
}
