#include <stdarg.h>
#include <stdio.h>
#include "core/error.h"
#include "core/json.h"

static const struct {
    int status;
    const char *code;
} error_table[] = {{500, "HP501"}, /* HP_OK never renders; keeps indexes aligned */
#define HP__ERROR_ROW(name, status, code) {status, code},
                   HP_ERRORS(HP__ERROR_ROW)
#undef HP__ERROR_ROW
};

int hp_error_status(hp_errcode_t code)
{
    return code > HP_OK && code < HP_ERR__COUNT ? error_table[code].status : 500;
}

const char *hp_error_code_text(hp_errcode_t code)
{
    return code > HP_OK && code < HP_ERR__COUNT ? error_table[code].code : "HP501";
}

/* Formats into the pool; the result is NUL-terminated. */
__attribute__((format(printf, 2, 0))) static const char *format_in_pool(h2o_mem_pool_t *pool, const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0)
        return "(unformattable message)";
    char *s = h2o_mem_alloc_pool(pool, (size_t)n + 1);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

int hp_error_set(hp_error_t *err, h2o_mem_pool_t *pool, hp_errcode_t code, const char *fmt, ...)
{
    if (err->code != HP_OK)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    err->code = code;
    err->message = format_in_pool(pool, fmt, ap);
    err->details = NULL;
    err->hint = NULL;
    va_end(ap);
    return -1;
}

void hp_error_details(hp_error_t *err, h2o_mem_pool_t *pool, const char *fmt, ...)
{
    if (err->code == HP_OK || err->details != NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    err->details = format_in_pool(pool, fmt, ap);
    va_end(ap);
}

void hp_error_hint(hp_error_t *err, h2o_mem_pool_t *pool, const char *fmt, ...)
{
    if (err->code == HP_OK || err->hint != NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    err->hint = format_in_pool(pool, fmt, ap);
    va_end(ap);
}

static void render_nullable(hp_buf_t *out, const char *s)
{
    if (s == NULL)
        hp_json_null(out);
    else
        hp_json_string(out, s, strlen(s));
}

void hp_error_render(const hp_error_t *err, hp_buf_t *out)
{
    const char *code = hp_error_code_text(err->code);
    hp_buf_append_lit(out, "{\"code\":");
    hp_json_string(out, code, strlen(code));
    hp_buf_append_lit(out, ",\"details\":");
    render_nullable(out, err->details);
    hp_buf_append_lit(out, ",\"hint\":");
    render_nullable(out, err->hint);
    hp_buf_append_lit(out, ",\"message\":");
    render_nullable(out, err->message != NULL ? err->message : "");
    hp_buf_putc(out, '}');
}
