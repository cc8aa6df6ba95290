#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <h2o/memory.h>
#include "core/buf.h"

void hp_buf_init(hp_buf_t *buf)
{
    buf->ptr = NULL;
    buf->len = 0;
    buf->cap = 0;
}

void hp_buf_dispose(hp_buf_t *buf)
{
    free(buf->ptr);
    hp_buf_init(buf);
}

char *hp_buf_reserve(hp_buf_t *buf, size_t extra)
{
    if (buf->cap - buf->len < extra) {
        size_t cap = buf->cap < 256 ? 256 : buf->cap;
        while (cap - buf->len < extra)
            cap *= 2;
        buf->ptr = h2o_mem_realloc(buf->ptr, cap);
        buf->cap = cap;
    }
    return buf->ptr + buf->len;
}

char *hp_buf_take(hp_buf_t *buf, size_t *len)
{
    char *p = buf->ptr;
    *len = buf->len;
    hp_buf_init(buf);
    return p;
}

int hp_buf_appendf(hp_buf_t *buf, const char *fmt, ...)
{
    va_list ap;
    char small[256];

    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n < sizeof(small)) {
        hp_buf_append(buf, small, (size_t)n);
        return 0;
    }
    char *dst = hp_buf_reserve(buf, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(dst, (size_t)n + 1, fmt, ap);
    va_end(ap);
    buf->len += (size_t)n;
    return 0;
}
