/*
 * The query module: turns one API request (method, resource, query string, the headers that
 * matter, body) into an hp_exec_t for the database, in PostgREST's grammar, checked against a
 * schema snapshot. Pure: no sockets, no database headers; everything it allocates comes from
 * the pool it is given, so it dies with the job. Every identifier in the SQL it writes comes
 * from the schema snapshot and is double-quoted; every value is a bind.
 *
 * Grammar handled (PostgREST):
 *   select=a,alias:b,c::text,*,rel(cols),alias:rel!hint(cols),rel!inner(cols)   (nested)
 *   col=op.value  with op in eq neq gt gte lt lte like ilike in is isdistinct, prefixed by not.
 *   or=(f,f,and(f,f))  and=(...)  not.or=(...)   (nested)
 *   order=a.desc.nullslast,b   limit=n   offset=n
 *   rel.col=op.value  rel.order=...  rel.limit=n  rel.offset=n  rel.or=(...)  (embedded)
 *   columns=a,b  on_conflict=a,b   (writes)
 * Names are "quoted" (backslash escapes the next byte) or unquoted, where spaces inside a name
 * belong to it and spaces around it do not (`display name`). An embed's target is a table, a
 * foreign key's name or the parent's column of a single-column key, with PostgREST's own rules
 * for a self-referencing key (items(*) the children, parent_id(*) the parent).
 * The whole query string is parsed before any name is looked up, so a grammar error is PARSE
 * whatever else is wrong (PostgREST's order).
 * Thread-safe: no global state.
 */
#ifndef HP_QUERY_QUERY_H
#define HP_QUERY_QUERY_H

#include <stdint.h>
#include <h2o/memory.h>
#include "core/error.h"
#include "db/exec.h"
#include "db/schema.h"

typedef enum {
    HP_METHOD_GET,
    HP_METHOD_HEAD,
    HP_METHOD_POST,
    HP_METHOD_PATCH,
    HP_METHOD_DELETE
} hp_method_t;

typedef enum {
    HP_RETURN_DEFAULT,
    HP_RETURN_MINIMAL,
    HP_RETURN_REPRESENTATION,
    HP_RETURN_HEADERS_ONLY
} hp_prefer_return_t;
typedef enum {
    HP_COUNT_NONE,
    HP_COUNT_EXACT,
    HP_COUNT_PLANNED,
    HP_COUNT_ESTIMATED
} hp_prefer_count_t;
typedef enum {
    HP_RESOLUTION_NONE,
    HP_RESOLUTION_MERGE,
    HP_RESOLUTION_IGNORE
} hp_prefer_resolution_t;
typedef enum { HP_MISSING_NULL, HP_MISSING_DEFAULT } hp_prefer_missing_t;

/* The Prefer header(s), parsed. Unknown preferences are ignored (PostgREST's lenient mode). */
typedef struct {
    hp_prefer_return_t ret;
    hp_prefer_count_t count;
    hp_prefer_resolution_t resolution;
    hp_prefer_missing_t missing;
} hp_prefer_t;

/* The Range request header, parsed: items first..last inclusive; last == UINT64_MAX for an
 * open range ("5-"). */
typedef struct {
    int is_set;
    uint64_t first;
    uint64_t last;
} hp_range_t;

typedef struct {
    hp_method_t method;
    h2o_iovec_t resource;      /* the table or view name, already percent-decoded */
    h2o_iovec_t query;         /* the raw query string without '?', percent-encoded as sent */
    h2o_iovec_t body;          /* request body (writes) */
    hp_format_t format;        /* from hp_query_parse_accept */
    hp_prefer_t prefer;        /* from hp_query_parse_prefer */
    hp_range_t range;          /* from hp_query_parse_range */
    const hp_caller_t *caller; /* who is asking (NULL: the anonymous caller); borrowed */
} hp_request_t;

typedef struct {
    int64_t max_rows; /* db-max-rows: cap on rows a read returns; -1 for none */
} hp_query_options_t;

/* PostgreSQL: a JSON or CSV read whose window may hold more rows than this (no limit, or a
 * larger one) also gets the streamed shape (exec.h, stream), which a backend may run instead
 * of main when the caller allows streaming. Smaller reads fit in memory whatever they embed
 * far more often than not, and keep main's single pipelined statement. */
#define HP_QUERY_STREAM_MIN_ROWS 1000

/* What the HTTP layer needs beside the exec to answer. */
typedef struct {
    hp_exec_t exec;
    const hp_table_t *table;
    /* Every table the response reads (table first, then each embedded table, once): what a
     * cached copy of it depends on. */
    const hp_table_t **tables;
    size_t table_count;
    uint64_t offset; /* first row's index, for Content-Range */
    int has_limit;   /* a limit or Range narrowed the read (for 206 decisions) */
    int is_write;
    int is_insert;      /* a POST */
    hp_prefer_t prefer; /* as applied: e.g. ret resolved from DEFAULT */
    /* A read that looks one row up by a unique column and nothing else (no order,
     * window, count, Range or !inner at the top): src/batch may answer many reads of the same
     * shape with one statement (hp_query_plan_batch). tree is NULL when it is not such a read;
     * key_bind is the index of the key's value in exec.main.binds (the other binds and the
     * SQL text make the shape). */
    struct {
        const void *tree;
        size_t key_bind;
        const hp_column_t *key; /* the unique column looked up */
    } batch;
} hp_plan_t;

/* --- headers (each returns 0, or -1 with err set) --- */

/* Accept: picks JSON (application/json, * / *, empty), OBJECT (application/vnd.pgrst.object+json,
 * with or without ;nulls=stripped) or CSV (text/csv), honouring q-values. None acceptable:
 * NOT_ACCEPTABLE. */
int hp_query_parse_accept(h2o_iovec_t value, hp_format_t *out, hp_error_t *err,
                          h2o_mem_pool_t *pool);
/* Adds the preferences of one Prefer header value (call once per header). */
void hp_query_parse_prefer(h2o_iovec_t value, hp_prefer_t *out);
/* Range: "items=0-24" / "0-24" / "5-". Malformed: INVALID_RANGE. */
int hp_query_parse_range(h2o_iovec_t value, hp_range_t *out, hp_error_t *err, h2o_mem_pool_t *pool);

/* The method by its name (GET HEAD POST PATCH DELETE); -1 for any other. */
int hp_query_parse_method(h2o_iovec_t name, hp_method_t *out);
/* Accept into r->format and, on reads (r->method set), Range into r->range, PostgREST's way: a
 * Range that cannot be read is ignored, one whose end is before its start is an error. range
 * .base NULL: no Range header. Returns 0, or -1 with err set. */
int hp_query_read_accept_and_range(hp_request_t *r, h2o_iovec_t accept, h2o_iovec_t range,
                                   hp_error_t *err, h2o_mem_pool_t *pool);

/* --- planning --- */

/* Builds the plan for `req` against `schema` in `dialect`, allocating in `pool`. Returns 0, or
 * -1 with err set (UNKNOWN_TABLE, PARSE, UNDEFINED_COLUMN, NO_RELATIONSHIP, INVALID_BODY,
 * UNKNOWN_BODY_COLUMN, AMBIGUOUS_EMBED, LIMIT, METHOD...). Nothing in `req` is kept: what the plan
 * needs is copied into `pool`. */
int hp_query_plan(const hp_request_t *req, const hp_schema_t *schema, hp_dialect_t dialect,
                  const hp_query_options_t *opts, hp_plan_t *plan, hp_error_t *err,
                  h2o_mem_pool_t *pool);

/* Writes into `out` one statement that answers every plan of plans[0..n) (each batchable, all
 * of the same shape): format HP_FORMAT_BATCH, a row (i, the row plans[i] reads as JSON text)
 * for each plan whose row exists. The JSON of a row is the object the plan itself would put in
 * its array. Allocates in `pool`, which must outlive the statement; the plans' trees must be
 * alive (they live in their jobs' pools). */
void hp_query_plan_batch(hp_plan_t *const *plans, size_t n, hp_dialect_t dialect, hp_exec_t *out,
                         h2o_mem_pool_t *pool);

/* Percent-decodes src into pool; '+' becomes a space (form encoding, as URLSearchParams in
 * postgrest-js sends it). Returns -1 on a bad escape. */
int hp_query_percent_decode(h2o_iovec_t src, h2o_iovec_t *out, h2o_mem_pool_t *pool);

#endif
