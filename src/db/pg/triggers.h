/*
 * `hotpath setup-triggers`: makes writes done outside hotpath visible to it. Installs one
 * function, hotpath_notify(), and on every table of the schema an AFTER INSERT/UPDATE/DELETE/
 * TRUNCATE statement trigger that runs pg_notify('hotpath', <table name>). The listener
 * (listen.c) drops the cached responses that read that table. Idempotent: run it again after
 * adding tables.
 */
#ifndef HP_DB_PG_TRIGGERS_H
#define HP_DB_PG_TRIGGERS_H

#include <stddef.h>

/* Returns the number of tables given a trigger, or -1 with a reason in errbuf. */
int hp_pg_setup_triggers(const char *uri, char *errbuf, size_t errlen);

#endif
