/*
 * Prepared statements cached per connection, keyed by their SQL text: the planner writes the
 * same text for every request of one shape (values are binds), so after warm-up a request
 * prepares nothing. Lookup hashes the text with xxh3 and confirms with a full compare against
 * sqlite3_sql() (the text SQLite keeps anyway, so the cache stores no copy). Entries sit in a
 * chained hash table and an LRU list; past HP_SQLITE_STMT_CACHE_CAP the least recently used
 * idle statement is finalized. Statements are prepared with SQLITE_PREPARE_PERSISTENT, which
 * tells SQLite they live long. A statement already lent out (the same SQL twice in one job)
 * is not shared: the second user gets a one-off statement.
 */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include "db/sqlite/sqlite.h"

struct st_hp_sqlite__stmt_entry_t {
    uint64_t hash;
    size_t sql_len;
    sqlite3_stmt *stmt;
    hp_sqlite__stmt_entry_t *bucket_next;
    hp_sqlite__stmt_entry_t *lru_prev;
    hp_sqlite__stmt_entry_t *lru_next;
    int is_busy;
    unsigned offload_left; /* inline connections: run this many more on the pool first */
};

void hp_sqlite__stmt_cache_init(hp_sqlite__stmt_cache_t *cache)
{
    memset(cache, 0, sizeof(*cache));
}

static void lru_unlink(hp_sqlite__stmt_cache_t *c, hp_sqlite__stmt_entry_t *e)
{
    if (e->lru_prev)
        e->lru_prev->lru_next = e->lru_next;
    else
        c->lru_head = e->lru_next;
    if (e->lru_next)
        e->lru_next->lru_prev = e->lru_prev;
    else
        c->lru_tail = e->lru_prev;
    e->lru_prev = e->lru_next = NULL;
}

static void lru_push_front(hp_sqlite__stmt_cache_t *c, hp_sqlite__stmt_entry_t *e)
{
    e->lru_prev = NULL;
    e->lru_next = c->lru_head;
    if (c->lru_head)
        c->lru_head->lru_prev = e;
    c->lru_head = e;
    if (c->lru_tail == NULL)
        c->lru_tail = e;
}

static hp_sqlite__stmt_entry_t **bucket_of(hp_sqlite__stmt_cache_t *c, uint64_t hash)
{
    return &c->buckets[hash & (HP_SQLITE_STMT_CACHE_BUCKETS - 1)];
}

static void remove_entry(hp_sqlite__stmt_cache_t *c, hp_sqlite__stmt_entry_t *e)
{
    hp_sqlite__stmt_entry_t **p = bucket_of(c, e->hash);
    while (*p != e)
        p = &(*p)->bucket_next;
    *p = e->bucket_next;
    lru_unlink(c, e);
    sqlite3_finalize(e->stmt);
    free(e);
    c->count--;
}

void hp_sqlite__stmt_cache_dispose(hp_sqlite__stmt_cache_t *cache)
{
    while (cache->lru_head != NULL)
        remove_entry(cache, cache->lru_head);
}

/* Evicts idle statements from the cold end until there is room for one more. */
static void make_room(hp_sqlite__stmt_cache_t *c)
{
    hp_sqlite__stmt_entry_t *e = c->lru_tail;
    while (c->count >= HP_SQLITE_STMT_CACHE_CAP && e != NULL) {
        hp_sqlite__stmt_entry_t *prev = e->lru_prev;
        if (!e->is_busy)
            remove_entry(c, e);
        e = prev;
    }
}

static int prepare(sqlite3 *h, const char *sql, size_t sql_len, unsigned flags, sqlite3_stmt **out)
{
    const char *tail = NULL;
    /* nByte includes the NUL terminator: SQLite then need not copy the text. */
    int rc = sqlite3_prepare_v3(h, sql, (int)sql_len + 1, flags, out, &tail);
    if (rc != SQLITE_OK)
        return rc;
    if (*out == NULL)
        return SQLITE_MISUSE; /* only whitespace or comments */
    while (*tail == ' ' || *tail == '\n' || *tail == '\t' || *tail == '\r' || *tail == ';')
        tail++;
    if (*tail != '\0') {
        /* One statement per hp_stmt_t: the rest would be silently ignored. */
        sqlite3_finalize(*out);
        *out = NULL;
        return SQLITE_MISUSE;
    }
    return SQLITE_OK;
}

static hp_sqlite__stmt_entry_t *find_entry(hp_sqlite__stmt_cache_t *c, const char *sql,
                                           size_t sql_len, uint64_t hash)
{
    for (hp_sqlite__stmt_entry_t *e = *bucket_of(c, hash); e != NULL; e = e->bucket_next)
        if (e->hash == hash && e->sql_len == sql_len &&
            memcmp(sqlite3_sql(e->stmt), sql, sql_len) == 0)
            return e;
    return NULL;
}

unsigned *hp_sqlite__stmt_offload_hint(hp_sqlite__conn_t *conn, const char *sql, size_t sql_len)
{
    hp_sqlite__stmt_entry_t *e = find_entry(&conn->cache, sql, sql_len, XXH3_64bits(sql, sql_len));
    return e != NULL ? &e->offload_left : NULL;
}

int hp_sqlite__stmt_acquire(hp_sqlite__conn_t *conn, const char *sql, size_t sql_len,
                            hp_sqlite__stmt_t *out)
{
    hp_sqlite__stmt_cache_t *c = &conn->cache;
    uint64_t hash = XXH3_64bits(sql, sql_len);
    out->stmt = NULL;
    out->entry = NULL;
    hp_sqlite__stmt_entry_t *e = find_entry(c, sql, sql_len, hash);
    if (e != NULL) {
        if (e->is_busy)
            return prepare(conn->handle, sql, sql_len, 0, &out->stmt);
        e->is_busy = 1;
        lru_unlink(c, e);
        lru_push_front(c, e);
        out->stmt = e->stmt;
        out->entry = e;
        return SQLITE_OK;
    }
    sqlite3_stmt *stmt;
    int rc = prepare(conn->handle, sql, sql_len, SQLITE_PREPARE_PERSISTENT, &stmt);
    if (rc != SQLITE_OK)
        return rc;
    make_room(c);
    e = malloc(sizeof(*e));
    if (e == NULL) {
        /* Serve it uncached rather than fail the request. */
        out->stmt = stmt;
        return SQLITE_OK;
    }
    /* The key is the text SQLite kept (it may drop trailing blanks): comparing sql_len bytes of
     * it is then always in bounds, and such text merely never hits. */
    *e = (hp_sqlite__stmt_entry_t){hash, strlen(sqlite3_sql(stmt)), stmt, NULL, NULL, NULL, 1, 0};
    hp_sqlite__stmt_entry_t **b = bucket_of(c, hash);
    e->bucket_next = *b;
    *b = e;
    lru_push_front(c, e);
    c->count++;
    out->stmt = stmt;
    out->entry = e;
    return SQLITE_OK;
}

void hp_sqlite__stmt_release(hp_sqlite__conn_t *conn, hp_sqlite__stmt_t *st)
{
    (void)conn;
    if (st->stmt == NULL)
        return;
    if (st->entry == NULL) {
        sqlite3_finalize(st->stmt);
    } else {
        sqlite3_reset(st->stmt);
        sqlite3_clear_bindings(st->stmt);
        st->entry->is_busy = 0;
    }
    st->stmt = NULL;
    st->entry = NULL;
}
