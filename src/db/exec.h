/*
 * What the query planner hands to a database backend, and what the backend hands back:
 * SQL statements with bound values, how to render result rows, and the rendered result.
 *
 * Pure data (no database header): src/query builds an hp_exec_t, src/db/<backend> runs it.
 * Everything in an hp_exec_t lives in the pool it was built in (the job's pool, see db.h);
 * the backend only reads it. Rendering rules, shared by every backend:
 *   - HP_FORMAT_JSON: `[` rows as objects `]`, keys in column order, values by hp_render_t.
 *   - HP_FORMAT_OBJECT: the single row as an object; any other row count is the error
 *     SINGULAR (406) with details "The result contains N rows", and a write is rolled back.
 *   - HP_FORMAT_CSV: a header line of column names, then one line per row, RFC 4180 quoting
 *     (a field with , " CR or LF is quoted; " doubled); NULL is an empty field; lines end "\n".
 */
#ifndef HP_DB_EXEC_H
#define HP_DB_EXEC_H

#include <stdint.h>
#include <h2o/memory.h>
#include "core/buf.h"
#include "core/caller.h"
#include "core/error.h"

typedef enum { HP_DIALECT_SQLITE, HP_DIALECT_POSTGRES } hp_dialect_t;

typedef enum { HP_BIND_NULL, HP_BIND_INT, HP_BIND_REAL, HP_BIND_TEXT } hp_bind_kind_t;

typedef struct {
    hp_bind_kind_t kind;
    int64_t i;
    double d;
    h2o_iovec_t text; /* HP_BIND_TEXT: bytes, not NUL-terminated */
} hp_bind_t;

/* One SQL statement. Placeholders are numbered from 1 in the backend's dialect (SQLite "?1",
 * PostgreSQL "$1"); binds[k] is placeholder k+1. sql == NULL means "no statement". */
typedef struct {
    const char *sql; /* NUL-terminated */
    size_t sql_len;
    hp_bind_t *binds;
    size_t bind_count;
} hp_stmt_t;

/* How one result column becomes a JSON value. */
typedef enum {
    HP_RENDER_AUTO, /* by the value's storage class: integer/real -> number, text -> string,
                       NULL -> null, blob -> "\\x<hex>" */
    HP_RENDER_BOOL, /* integer 0 -> false, other numbers -> true, NULL -> null, else AUTO */
    HP_RENDER_JSON, /* text that is valid JSON is inlined as is (embedded resources, JSON
                       columns); NULL -> null; invalid JSON text renders as a string */
} hp_render_t;

typedef struct {
    h2o_iovec_t name; /* the key in the output (alias or column name), raw, not escaped */
    hp_render_t render;
} hp_outcol_t;

/* HP_FORMAT_BATCH (src/batch): rows of (member index, the row as JSON text); the body is
 * "<index>:<json>" per row, separated by 0x1e (which JSON text never holds unescaped). */
typedef enum { HP_FORMAT_JSON, HP_FORMAT_OBJECT, HP_FORMAT_CSV, HP_FORMAT_BATCH } hp_format_t;
#define HP_BATCH_SEPARATOR '\x1e'

typedef enum {
    HP_EXEC_READ,  /* runs on a read connection */
    HP_EXEC_WRITE, /* runs on the writer connection inside one transaction */
} hp_exec_kind_t;

typedef struct {
    hp_exec_kind_t kind;
    /* Who the statements run for (never NULL; in the job's pool or static). The database
     * session is to be set up as this caller before `main` runs: the backends need nothing
     * for the anonymous caller, the only one there is until authentication exists. */
    const hp_caller_t *caller;
    /* READ: the SELECT whose columns are cols[0..col_count) followed by location_col_count
     * more. WRITE: the INSERT/UPDATE/DELETE; when returns_rows it has a RETURNING clause with
     * the same column layout, else it returns nothing and the affected count comes from the
     * database. */
    hp_stmt_t main;
    /* Optional (sql == NULL for none): a SELECT returning one integer, the total row count
     * (Prefer: count=exact). Run in the same transaction / snapshot as main. */
    hp_stmt_t count;
    int returns_rows;
    hp_outcol_t *cols;
    size_t col_count;
    /* Columns after cols[] that hold the primary key of each row, named in location_names.
     * For a write that affects exactly one row the backend renders them into
     * hp_exec_result_t.location as "k1=eq.v1&k2=eq.v2" (values percent-encoded). */
    size_t location_col_count;
    h2o_iovec_t *location_names;
    hp_format_t format;
    /* PostgreSQL: the database renders the body itself, as PostgREST has it do (json_agg, so
     * every type renders as PostgreSQL's to_json does), and `main` returns exactly one row:
     *   body text (NULL for none; CSV lines without the header, which the backend writes from
     *   cols), row count, total (NULL unless counted), inserted_any (writes), then
     *   location_col_count key values as text (the first row's; used when the count is 1).
     * `count` is unused (the total is computed in the same statement). */
    int renders_in_db;
    /* PostgreSQL, a read that may be large (renders_in_db; see hp_query_plan): the same rows
     * as main, one result row each, rendered by the database (JSON: the row's object as
     * to_json writes it; CSV: the row's line without "\n"), and, when a total is asked,
     * stream_count returning it alone. A backend that streams runs these instead of main
     * (db.h, "Streamed results"; PostgreSQL: a probe, then a cursor) and joins the rows as main
     * would. sql == NULL: run main. */
    hp_stmt_t stream;
    hp_stmt_t stream_count;
} hp_exec_t;

typedef struct {
    hp_error_t error;     /* code != HP_OK: nothing else below is meaningful */
    hp_buf_t body;        /* rendered rows (empty when !returns_rows) */
    uint64_t row_count;   /* rows rendered, or rows affected by a write */
    int64_t total;        /* result of exec.count, or -1 when not asked */
    h2o_iovec_t location; /* see location_col_count; .base is malloc'd, NULL when none */
    uint64_t db_queries;  /* statements executed for this result (for metrics and tests) */
    int inserted_any;     /* a write inserted at least one row (an upsert that only updated
                             answers 200, not 201) */
    uint32_t batch_size;  /* reads answered by the query that answered this one (src/batch) */
    int is_streaming;     /* the body comes in pieces (db.h, "Streamed results") */
    int is_last;          /* streaming: this is the last piece */
} hp_exec_result_t;

void hp_exec_result_init(hp_exec_result_t *r);
/* Helpers shared by the backends' renderers. */
/* The singular media type's error (406 PGRST116) for a result of `rows` rows. */
void hp_exec_singular_error(hp_error_t *err, h2o_mem_pool_t *pool, uint64_t rows);
/* A CSV field (RFC 4180): quoted when it holds , " CR or LF, with " doubled. */
void hp_exec_append_csv_field(hp_buf_t *buf, const char *s, size_t len);
/* The CSV header line (column names, then "\n"). */
void hp_exec_append_csv_header(hp_buf_t *buf, const hp_exec_t *exec);
/* Percent-encodes everything but RFC 3986's unreserved characters. */
void hp_exec_append_percent_encoded(hp_buf_t *buf, const char *s, size_t len);
/* Frees body and location. */
void hp_exec_result_dispose(hp_exec_result_t *r);

#endif
