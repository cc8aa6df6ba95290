/*
 * Named prepared statements of one connection, by SQL text: an open-addressed table of
 * PG_STMTS_SLOTS slots that never deletes (a connection prepares each query shape once and
 * keeps it for its life). When the table is full, new shapes run as unnamed statements, which
 * cost a parse each time but are otherwise the same.
 */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <xxhash.h>
#include "db/pg/pg.h"

#define PG_STMTS_SLOTS 1024 /* a power of two */
#define PG_STMTS_MAX (PG_STMTS_SLOTS * 3 / 4)

typedef struct {
    uint64_t hash;
    char *sql; /* NULL: free */
    size_t len;
    hp_pg__stmt_state_t state;
} slot_t;

struct st_hp_pg__stmts_t {
    slot_t slots[PG_STMTS_SLOTS];
    size_t used;
};

hp_pg__stmts_t *hp_pg__stmts_create(void)
{
    hp_pg__stmts_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        h2o_fatal("out of memory");
    return s;
}

void hp_pg__stmts_destroy(hp_pg__stmts_t *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i != PG_STMTS_SLOTS; ++i)
        free(s->slots[i].sql);
    free(s);
}

hp_pg__stmt_state_t hp_pg__stmts_find(hp_pg__stmts_t *s, const char *sql, size_t len, long *slot)
{
    uint64_t hash = XXH3_64bits(sql, len);
    for (size_t i = hash & (PG_STMTS_SLOTS - 1);; i = (i + 1) & (PG_STMTS_SLOTS - 1)) {
        slot_t *e = &s->slots[i];
        if (e->sql == NULL) {
            *slot = s->used < PG_STMTS_MAX ? (long)i : -1;
            return HP_PG_STMT_NONE;
        }
        if (e->hash == hash && e->len == len && memcmp(e->sql, sql, len) == 0) {
            *slot = (long)i;
            return e->state;
        }
    }
}

void hp_pg__stmts_begin(hp_pg__stmts_t *s, long slot, const char *sql, size_t len)
{
    slot_t *e = &s->slots[slot];
    e->state = HP_PG_STMT_PREPARING;
    if (e->sql != NULL)
        return; /* the same text, whose earlier prepare failed */
    e->hash = XXH3_64bits(sql, len);
    e->sql = malloc(len + 1);
    if (e->sql == NULL)
        h2o_fatal("out of memory");
    memcpy(e->sql, sql, len);
    e->sql[len] = '\0';
    e->len = len;
    ++s->used;
}

void hp_pg__stmts_end(hp_pg__stmts_t *s, long slot, int ok)
{
    /* A failed prepare keeps its slot, marked NONE-like by READY never being set: the name is
     * free on the server, so the next call with this text prepares it again under it. */
    s->slots[slot].state = ok ? HP_PG_STMT_READY : HP_PG_STMT_NONE;
}

void hp_pg__stmts_name(long slot, char *buf, size_t len)
{
    snprintf(buf, len, "hp%ld", slot);
}
