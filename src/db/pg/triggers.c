#include "db/pg/triggers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>
#include "db/pg/pg.h"

/* One transaction: the function, then a trigger on each base table of the first schema in
 * the search path (the one hotpath serves, see schema_load.c). */
static const char setup_sql[] =
    "SET client_min_messages = warning;\n"
    "BEGIN;\n"
    "CREATE OR REPLACE FUNCTION hotpath_notify() RETURNS trigger LANGUAGE plpgsql AS $f$\n"
    "BEGIN\n"
    "  PERFORM pg_notify('hotpath', TG_TABLE_NAME);\n"
    "  RETURN NULL;\n"
    "END $f$;\n"
    "DO $d$\n"
    "DECLARE t record;\n"
    "BEGIN\n"
    "  FOR t IN SELECT c.relname FROM pg_class c\n"
    "           WHERE c.relnamespace = (current_schemas(false))[1]::regnamespace\n"
    "             AND c.relkind IN ('r', 'p') LOOP\n"
    "    EXECUTE format('DROP TRIGGER IF EXISTS hotpath_notify ON %I', t.relname);\n"
    "    EXECUTE format('CREATE TRIGGER hotpath_notify AFTER INSERT OR UPDATE OR DELETE OR '\n"
    "                   'TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION hotpath_notify()',\n"
    "                   t.relname);\n"
    "  END LOOP;\n"
    "END $d$;\n"
    "COMMIT;\n";

static const char count_sql[] =
    "SELECT count(*) FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid "
    "WHERE g.tgname = 'hotpath_notify' "
    "AND c.relnamespace = (current_schemas(false))[1]::regnamespace";

static int fail(PGconn *pg, PGresult *r, char *errbuf, size_t errlen)
{
    hp_pg__copy_message(errbuf, errlen, r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(pg));
    PQclear(r);
    PQfinish(pg);
    return -1;
}

int hp_pg_setup_triggers(const char *uri, char *errbuf, size_t errlen)
{
    PGconn *pg = PQconnectdb(uri);
    if (PQstatus(pg) != CONNECTION_OK)
        return fail(pg, NULL, errbuf, errlen);
    PGresult *r = PQexec(pg, setup_sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return fail(pg, r, errbuf, errlen);
    PQclear(r);
    r = PQexec(pg, count_sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        return fail(pg, r, errbuf, errlen);
    int count = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(pg);
    return count;
}
