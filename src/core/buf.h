/*
 * hp_buf_t: a growable byte buffer owned by whoever called hp_buf_init().
 *
 * Used for response bodies built off the event loop (a worker thread renders rows into one,
 * then hands the whole buffer to the loop that answers the client). Not thread-safe: one
 * thread at a time. Growth never fails silently: on allocation failure the process aborts,
 * as h2o_mem_alloc does, because every size that reaches here was capped in limits.h first.
 */
#ifndef HP_CORE_BUF_H
#define HP_CORE_BUF_H

#include <stddef.h>
#include <string.h>

typedef struct {
    char *ptr;  /* malloc'd; NULL while cap == 0 */
    size_t len; /* bytes used */
    size_t cap; /* bytes allocated */
} hp_buf_t;

/* Starts empty; allocates nothing. */
void hp_buf_init(hp_buf_t *buf);
/* Frees the storage and leaves an empty buffer. */
void hp_buf_dispose(hp_buf_t *buf);
/* Makes room for at least `extra` more bytes; returns a pointer to the first free byte. */
char *hp_buf_reserve(hp_buf_t *buf, size_t extra);
/* Takes ownership of the storage away from the buffer (the caller frees ptr with free()). */
char *hp_buf_take(hp_buf_t *buf, size_t *len);

static inline void hp_buf_append(hp_buf_t *buf, const void *src, size_t len)
{
    if (buf->cap - buf->len < len)
        hp_buf_reserve(buf, len);
    memcpy(buf->ptr + buf->len, src, len);
    buf->len += len;
}

static inline void hp_buf_putc(hp_buf_t *buf, char c)
{
    if (buf->cap == buf->len)
        hp_buf_reserve(buf, 1);
    buf->ptr[buf->len++] = c;
}

#define hp_buf_append_lit(buf, lit) hp_buf_append((buf), (lit), sizeof(lit) - 1)

/* printf-style append; returns 0, or -1 on a format error (nothing appended). */
int hp_buf_appendf(hp_buf_t *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
