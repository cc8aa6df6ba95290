/*
 * Every cap on a size the client controls, in one place (as curl keeps its limits). Input is
 * checked against these before anything is allocated for it; going past one is a 400 or 413
 * with a clear error, never an unbounded allocation. The request body's cap is a setting
 * (max-body-bytes, default in src/config/config.h). scripts/lint.sh fails on a cap here that
 * nothing else in src/ uses.
 */
#ifndef HP_CORE_LIMITS_H
#define HP_CORE_LIMITS_H

/* Longest query string accepted (bytes); longer gets 414. */
#define HP_MAX_QUERY_BYTES (64u * 1024)
/* Most filters, order terms or select items in one request (all levels together). Filters
 * joined by AND nest one level each in SQLite's expression tree, which refuses depths past
 * 1000 (SQLITE_MAX_EXPR_DEPTH): this cap keeps a request under it, embeds included. */
#define HP_MAX_QUERY_TERMS 512
/* Deepest nesting of or=()/and=() and of embedded resources. */
#define HP_MAX_QUERY_DEPTH 16
/* Most values in one in.(...) list. */
#define HP_MAX_IN_VALUES 10000
/* Longest identifier (table, column, alias) accepted. */
#define HP_MAX_IDENT_BYTES 256
/* Most bytes one response body may grow to before the request fails with 500 (a safety net
 * beside db-max-rows, which the operator sets). */
#define HP_MAX_RESPONSE_BYTES (1024u * 1024 * 1024)

#endif
