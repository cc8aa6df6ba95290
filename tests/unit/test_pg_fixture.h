/*
 * A throwaway database for the unit tests that need a live PostgreSQL: HP_TEST_PG is the URI of
 * a role that may create databases (scripts/test-unit.sh starts a cluster and sets it). Each test
 * binary makes its own database, <prefix>_<pid> (UTF-8, C collation), and drops it at the end.
 * Without HP_TEST_PG the tests are skipped. Include after cmocka.h and libpq-fe.h.
 */
#ifndef TEST_PG_FIXTURE_H
#define TEST_PG_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct {
    PGconn *admin;
    PGconn *conn; /* to the test's own database */
    char dbname[64];
    char conninfo[512]; /* the same database, as a conninfo string */
} test_pg_db_t;

static inline void test_pg_ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* Runs SQL that must succeed (the last statement's result decides). */
static inline void test_pg_exec_ok(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fail_msg("%.60s...: %s", sql, PQerrorMessage(conn));
    PQclear(res);
}

/* Makes the database and connects to it. Returns 0 with db->conn set, or 1 (db untouched) when
 * HP_TEST_PG is not set; fails the test on any error. */
static inline int test_pg_db_create(test_pg_db_t *db, const char *prefix)
{
    const char *uri = getenv("HP_TEST_PG");
    if (uri == NULL || uri[0] == '\0')
        return 1;
    db->admin = PQconnectdb(uri);
    if (PQstatus(db->admin) != CONNECTION_OK)
        fail_msg("HP_TEST_PG=%s: %s", uri, PQerrorMessage(db->admin));
    PQsetNoticeProcessor(db->admin, test_pg_ignore_notice, NULL);
    snprintf(db->dbname, sizeof(db->dbname), "%s_%ld", prefix, (long)getpid());
    char sql[256];
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", db->dbname);
    test_pg_exec_ok(db->admin, sql);
    snprintf(sql, sizeof(sql),
             "CREATE DATABASE %s TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'",
             db->dbname);
    test_pg_exec_ok(db->admin, sql);
    snprintf(db->conninfo, sizeof(db->conninfo), "host=%s port=%s user=%s dbname=%s",
             PQhost(db->admin), PQport(db->admin), PQuser(db->admin), db->dbname);
    db->conn = PQconnectdb(db->conninfo);
    if (PQstatus(db->conn) != CONNECTION_OK)
        fail_msg("%s: %s", db->conninfo, PQerrorMessage(db->conn));
    PQsetNoticeProcessor(db->conn, test_pg_ignore_notice, NULL);
    return 0;
}

static inline void test_pg_db_drop(test_pg_db_t *db)
{
    PQfinish(db->conn);
    char sql[128];
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", db->dbname);
    test_pg_exec_ok(db->admin, sql);
    PQfinish(db->admin);
}

/* The fixture, or skips the test (saying why once) when there is none. */
static inline void *test_pg_fixture_or_skip(void **state)
{
    static int said;
    if (*state == NULL) {
        if (!said++)
            print_message("HP_TEST_PG is not set: skipped (scripts/pg-cluster.sh start DIR "
                          "prints a URI for it)\n");
        skip();
    }
    return *state;
}

#endif
