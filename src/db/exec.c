/*
 * The result record of exec.h. Its body and location are malloc'd (they are built on a
 * database thread and may outlive the job's pool when the HTTP layer takes the body over).
 */
#include "db/exec.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

void hp_exec_result_init(hp_exec_result_t *r)
{
    memset(r, 0, sizeof(*r));
    r->error.code = HP_OK;
    hp_buf_init(&r->body);
    r->total = -1;
    r->location = h2o_iovec_init(NULL, 0);
    r->batch_size = 1;
}

void hp_exec_result_dispose(hp_exec_result_t *r)
{
    hp_buf_dispose(&r->body);
    free(r->location.base);
    r->location = h2o_iovec_init(NULL, 0);
    r->row_count = 0;
    r->total = -1;
}

void hp_exec_append_csv_field(hp_buf_t *buf, const char *s, size_t len)
{
    int quote = 0;
    for (size_t k = 0; k < len && !quote; k++)
        quote = s[k] == ',' || s[k] == '"' || s[k] == '\r' || s[k] == '\n';
    if (!quote) {
        hp_buf_append(buf, s, len);
        return;
    }
    hp_buf_putc(buf, '"');
    size_t start = 0;
    for (size_t k = 0; k < len; k++) {
        if (s[k] == '"') {
            hp_buf_append(buf, s + start, k + 1 - start);
            hp_buf_putc(buf, '"');
            start = k + 1;
        }
    }
    hp_buf_append(buf, s + start, len - start);
    hp_buf_putc(buf, '"');
}

void hp_exec_append_csv_header(hp_buf_t *buf, const hp_exec_t *exec)
{
    for (size_t i = 0; i < exec->col_count; i++) {
        if (i > 0)
            hp_buf_putc(buf, ',');
        hp_exec_append_csv_field(buf, exec->cols[i].name.base, exec->cols[i].name.len);
    }
    hp_buf_putc(buf, '\n');
}

void hp_exec_append_percent_encoded(hp_buf_t *buf, const char *s, size_t len)
{
    static const char upper_hex[] = "0123456789ABCDEF";
    for (size_t k = 0; k < len; k++) {
        unsigned char c = (unsigned char)s[k];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            hp_buf_putc(buf, (char)c);
        } else {
            char esc[3] = {'%', upper_hex[c >> 4], upper_hex[c & 15]};
            hp_buf_append(buf, esc, 3);
        }
    }
}

void hp_exec_singular_error(hp_error_t *err, h2o_mem_pool_t *pool, uint64_t rows)
{
    hp_error_set(err, pool, HP_ERR_SINGULAR,
                 "JSON object requested, multiple (or no) rows returned");
    hp_error_details(err, pool, "The result contains %" PRIu64 " rows", rows);
}
