/*
 * Errors: one table defines every error hotpath can answer with (HP_ERRORS below), generating
 * the enum, the HTTP status and the stable code. Codes are PostgREST's where PostgREST has
 * one (PGRSTnnn, or the SQLSTATE it passes through); ours are HPnnn.
 *
 * An error travels as an hp_error_t record: the first error set wins (later ones are usually
 * knock-on effects). Text is allocated from the pool given to hp_error_set(), so the record
 * lives exactly as long as that pool. hp_error_render() is the only place that writes error
 * JSON. Thread-safe: no global state.
 */
#ifndef HP_CORE_ERROR_H
#define HP_CORE_ERROR_H

#include <stdio.h>
#include <h2o/memory.h>
#include "core/buf.h"

/* X(name, http status, code) */
#define HP_ERRORS(X)                                                                            \
    X(PARSE, 400, "PGRST100")           /* query string grammar */                              \
    X(INVALID_BODY, 400, "PGRST102")    /* request body is not valid JSON of the right shape */ \
    X(RANGE, 416, "PGRST103")           /* Range / offset past the end */                       \
    X(INVALID_RANGE, 400, "PGRST103")   /* Range header malformed */                            \
    X(NOT_ACCEPTABLE, 406, "PGRST107")  /* no media type in Accept that we can produce */       \
    X(SINGULAR, 406, "PGRST116")        /* object requested but not exactly one row */          \
    X(METHOD, 405, "PGRST117")          /* method not supported on this resource */             \
    X(BAD_PATH, 404, "PGRST125")        /* URL path does not name a resource */                 \
    X(NO_RELATIONSHIP, 400, "PGRST200") /* embed names no related table */                      \
    X(AMBIGUOUS_EMBED, 300, "PGRST201") /* several relationships match an embed */              \
    X(UNKNOWN_BODY_COLUMN, 400, "PGRST204") /* a JSON key names no column */                    \
    X(UNKNOWN_TABLE, 404, "PGRST205")       /* no such table or view */                         \
    X(UNDEFINED_COLUMN, 400, "42703")       /* select/filter/order names no column */           \
    X(NOT_NULL, 400, "23502")                                                                   \
    X(FOREIGN_KEY, 409, "23503")                                                                \
    X(UNIQUE, 409, "23505")                                                                     \
    X(CHECK, 400, "23514")                                                                      \
    X(CONSTRAINT, 409, "HP409")        /* another constraint failed */                          \
    X(INVALID_TEXT, 400, "22P02")      /* a value that does not read as its type (SQLite) */    \
    X(UNTRANSLATABLE, 400, "22P05")    /* a body string holds U+0000, which text cannot hold */ \
    X(RAISE, 400, "P0001")             /* a trigger's RAISE(ABORT/FAIL, ...) (SQLite) */        \
    X(STATEMENT_TIMEOUT, 500, "57014") /* db-statement-timeout-ms passed (SQLite) */            \
    X(BODY_TOO_LARGE, 413, "HP413")                                                             \
    X(URI_TOO_LONG, 414, "HP414")                                                               \
    X(LIMIT, 400, "HP400")             /* a cap in limits.h exceeded */                         \
    X(UNSUPPORTED_MEDIA, 415, "HP415") /* request Content-Type we cannot read */                \
    X(RATE_LIMITED, 429, "HP429")      /* a rate limit (rate-limit, rate-limit-rules) */        \
    X(DB_BUSY, 503, "HP503")           /* database locked or unavailable: retry */              \
    X(POOL_TIMEOUT, 504, "PGRST003")   /* no database connection within db-pool-acquire-ms */   \
    X(DEADLINE, 504, "HP504")          /* not answered within server-request-timeout-ms */      \
    X(DB_STATE, 400, "HP400db") /* PostgreSQL refused: code = its SQLSTATE, status by class */  \
    X(DB, 500, "HP500")         /* the database failed in a way we did not expect */            \
    X(INTERNAL, 500, "HP501")                                                                   \
    /* the database's queue would not finish in time (http/pipeline/shed.c) */                  \
    X(OVERLOADED, 503, "HP503load")                                                             \
    /* the client has db-client-max-jobs database jobs in flight */                             \
    X(CLIENT_BUSY, 429, "HP429jobs")                                                            \
    X(BAD_HTTP, 400, "HP400http") /* HTTP framing h2o refused (Content-Length, chunks) */       \
    X(EXPECTATION, 417, "HP417")  /* an Expect other than 100-continue */                       \
    X(CANCELLED, 499, "HP499")    /* a streamed read its owner stopped (never sent) */

typedef enum {
    HP_OK = 0,
#define HP__ERROR_ENUM(name, status, code) HP_ERR_##name,
    HP_ERRORS(HP__ERROR_ENUM)
#undef HP__ERROR_ENUM
        HP_ERR__COUNT
} hp_errcode_t;

typedef struct {
    hp_errcode_t code;   /* HP_OK while no error is set */
    const char *message; /* always set with code */
    const char *details; /* NULL renders as null */
    const char *hint;    /* NULL renders as null */
    int details_is_json; /* details is one JSON value, rendered as it is (not as a string) */
    /* DB_STATE only: the database's SQLSTATE (rendered as the code) and the HTTP status that
     * PostgREST gives that SQLSTATE. */
    char sqlstate[6];
    int status;
} hp_error_t;

/* The HTTP status of an error: the table's, or DB_STATE's own. */
int hp_error_http_status(const hp_error_t *err);

int hp_error_status(hp_errcode_t code);
const char *hp_error_code_text(hp_errcode_t code);

/* Sets the error unless one is already set (the first error wins). The message is formatted
 * into `pool`. Returns -1 so callers can write `return hp_error_set(...)`. */
int hp_error_set(hp_error_t *err, h2o_mem_pool_t *pool, hp_errcode_t code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Sets details / hint of the error already set (no effect when none is set or it is taken). */
void hp_error_details(hp_error_t *err, h2o_mem_pool_t *pool, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void hp_error_hint(hp_error_t *err, h2o_mem_pool_t *pool, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Sets details to a structured value (PostgREST gives some errors an array of objects there):
 * `json` must be one valid JSON value; it is copied into `pool` and rendered verbatim. Same
 * rules as hp_error_details otherwise. */
void hp_error_details_json(hp_error_t *err, h2o_mem_pool_t *pool, const char *json, size_t len);

/* Writes the error table (name, status, code) as Markdown (docs/errors.md). */
void hp_error_print_markdown(FILE *out);

/* Appends {"code":...,"details":...,"hint":...,"message":...} (PostgREST's shape). */
void hp_error_render(const hp_error_t *err, hp_buf_t *out);

#endif
