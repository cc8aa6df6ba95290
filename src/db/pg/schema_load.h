/*
 * PostgreSQL's catalog -> an hp_schema_t snapshot (schema.h), through libpq's blocking API on a
 * connection the caller opened and keeps. One schema is exposed: the first schema of the
 * connection's search_path that exists (current_schemas(false)[1]; "public" by default, or a
 * schema named like the connecting role when there is one, as PostgreSQL itself resolves
 * unqualified names). Its tables, partitioned and foreign tables, views and materialized views
 * become the snapshot's tables, in name order (bytewise, as SQLite's loader orders them).
 *
 * Call from a thread that may block (startup, a schema reload): it runs three catalog queries
 * in one REPEATABLE READ READ ONLY transaction, so they see one state of the catalog.
 */
#ifndef HP_DB_PG_SCHEMA_LOAD_H
#define HP_DB_PG_SCHEMA_LOAD_H

#include <stddef.h>
#include <libpq-fe.h>
#include "db/schema.h"

/* Builds and finalizes a snapshot (reference count 1) from the catalog, or returns NULL with a
 * one-line reason in errbuf. conn is borrowed: it must be open and idle (no query running);
 * when it is outside a transaction the load wraps itself in one and leaves it outside again,
 * and inside one (the caller's) it reads in that transaction and neither commits nor aborts. */
hp_schema_t *hp_pg_load_schema(PGconn *conn, char *errbuf, size_t errlen);

#endif
