/*
 * From PostgreSQL's answer to hp_exec_result_t. The statement rendered the body itself (see
 * exec.h, renders_in_db), so this only copies it and reads the counts; errors carry the
 * server's SQLSTATE, message, detail and hint, with the HTTP status PostgREST gives them.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "db/pg/pg.h"

enum { COL_BODY, COL_ROWS, COL_TOTAL, COL_INSERTED, COL_LOCATION };

static uint64_t uint_value(const PGresult *res, int col)
{
    if (PQnfields(res) <= col || PQgetisnull(res, 0, col))
        return 0;
    return strtoull(PQgetvalue(res, 0, col), NULL, 10);
}

int hp_pg__result_is_singular_ok(const PGresult *res)
{
    return PQntuples(res) == 1 && uint_value(res, COL_ROWS) == 1;
}

/* "k1=eq.v1&k2=eq.v2" from the key columns (NULL: "k=is.null"). */
static void render_location(hp_exec_result_t *r, const hp_exec_t *exec, const PGresult *res)
{
    hp_buf_t buf;
    hp_buf_init(&buf);
    for (size_t k = 0; k != exec->location_col_count; ++k) {
        int col = COL_LOCATION + (int)k;
        if (k != 0)
            hp_buf_putc(&buf, '&');
        hp_exec_append_percent_encoded(&buf, exec->location_names[k].base,
                                       exec->location_names[k].len);
        if (col >= PQnfields(res) || PQgetisnull(res, 0, col)) {
            hp_buf_append_lit(&buf, "=is.null");
            continue;
        }
        hp_buf_append_lit(&buf, "=eq.");
        hp_exec_append_percent_encoded(&buf, PQgetvalue(res, 0, col),
                                       (size_t)PQgetlength(res, 0, col));
    }
    size_t len;
    char *p = hp_buf_take(&buf, &len);
    r->location = h2o_iovec_init(p, len);
}

void hp_pg__result_fill(hp_db_job_t *job, const PGresult *res)
{
    const hp_exec_t *exec = job->exec;
    hp_exec_result_t *r = &job->result;
    if (PQntuples(res) != 1 || PQnfields(res) < 3) {
        hp_error_set(&r->error, &job->pool, HP_ERR_DB, "unexpected result shape (%d rows)",
                     PQntuples(res));
        return;
    }
    r->row_count = uint_value(res, COL_ROWS);
    if (!PQgetisnull(res, 0, COL_TOTAL))
        r->total = (int64_t)uint_value(res, COL_TOTAL);
    if (PQnfields(res) > COL_INSERTED && !PQgetisnull(res, 0, COL_INSERTED))
        r->inserted_any = PQgetvalue(res, 0, COL_INSERTED)[0] == 't';
    if (exec->format == HP_FORMAT_OBJECT && r->row_count != 1) {
        hp_exec_singular_error(&r->error, &job->pool, r->row_count);
        return;
    }
    if (exec->returns_rows) {
        if (exec->format == HP_FORMAT_CSV)
            hp_exec_append_csv_header(&r->body, exec);
        if (!PQgetisnull(res, 0, COL_BODY))
            hp_buf_append(&r->body, PQgetvalue(res, 0, COL_BODY),
                          (size_t)PQgetlength(res, 0, COL_BODY));
        else if (exec->format == HP_FORMAT_JSON)
            hp_buf_append_lit(&r->body, "[]");
    }
    if (exec->location_col_count != 0 && r->row_count == 1)
        render_location(r, exec, res);
}

/* PostgREST's status for a SQLSTATE (its Error.hs), for the classes that reach us. */
static int status_of(const char *s)
{
    static const struct {
        const char *prefix;
        int status;
    } table[] = {
        {"23503", 409}, {"23505", 409}, {"25006", 405}, {"42883", 404}, {"42P01", 404},
        {"42501", 403}, {"08", 503},    {"09", 500},    {"0L", 403},    {"0P", 403},
        {"25", 500},    {"28", 403},    {"2D", 500},    {"38", 500},    {"39", 500},
        {"3B", 500},    {"40", 500},    {"53", 503},    {"54", 500},    {"55", 500},
        {"57", 500},    {"58", 500},    {"F0", 500},    {"HV", 500},    {"P0001", 400},
        {"P0", 500},    {"XX", 500},
    };
    for (size_t i = 0; i != sizeof(table) / sizeof(table[0]); ++i)
        if (strncmp(s, table[i].prefix, strlen(table[i].prefix)) == 0)
            return table[i].status;
    return 400;
}

static const char *field(const PGresult *res, int code)
{
    const char *v = PQresultErrorField(res, code);
    return v != NULL && *v != '\0' ? v : NULL;
}

void hp_pg__result_error(hp_db_job_t *job, const PGresult *res)
{
    hp_error_t *e = &job->result.error;
    const char *state = field(res, PG_DIAG_SQLSTATE);
    const char *message = field(res, PG_DIAG_MESSAGE_PRIMARY);
    if (message == NULL)
        message = PQresultErrorMessage(res);
    hp_error_set(e, &job->pool, HP_ERR_DB_STATE, "%s", message != NULL ? message : "error");
    if (state != NULL && strlen(state) == 5) {
        memcpy(e->sqlstate, state, 6);
        e->status = status_of(state);
    } else {
        memcpy(e->sqlstate, "XX000", 6);
        e->status = 500;
    }
    const char *detail = field(res, PG_DIAG_MESSAGE_DETAIL),
               *hint = field(res, PG_DIAG_MESSAGE_HINT);
    if (detail != NULL)
        hp_error_details(e, &job->pool, "%s", detail);
    if (hint != NULL)
        hp_error_hint(e, &job->pool, "%s", hint);
}
