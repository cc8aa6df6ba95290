/*
 * SQLite's catalog -> an hp_schema_t snapshot (schema.h).
 *
 * Tables and views come from PRAGMA table_list (which also says which tables are WITHOUT
 * ROWID), internal sqlite_% objects skipped, in name order; columns from PRAGMA table_xinfo
 * (so generated columns are seen; columns hidden in virtual tables are not); foreign keys
 * from PRAGMA foreign_key_list, one key per id, a missing parent column list meaning the
 * parent's primary key. SQLite matches identifiers case-insensitively, so names written in a
 * REFERENCES clause are resolved to the declared spelling before they go into the snapshot
 * (whose lookups are exact). SQLite keeps no names for foreign keys: they get PostgreSQL's
 * default, <table>_<cols>_fkey, which is what a `!hint` written for PostgreSQL names.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "core/log.h"
#include "db/sqlite/sqlite.h"

static const char sql_tables[] =
    "SELECT name, type, wr FROM pragma_table_list WHERE schema = 'main' AND type IN ('table', "
    "'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name";
static const char sql_columns[] =
    "SELECT name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo(?1) "
    "ORDER BY cid";
static const char sql_fkeys[] = "SELECT id, seq, \"table\", \"from\", \"to\" FROM "
                                "pragma_foreign_key_list(?1) ORDER BY id, seq";

typedef struct {
    sqlite3 *h;
    char *errbuf;
    size_t errlen;
} loader_t;

static int fail_sql(loader_t *l, const char *what)
{
    snprintf(l->errbuf, l->errlen, "loading the schema (%s): %s", what, sqlite3_errmsg(l->h));
    return -1;
}

static const char *text_or(sqlite3_stmt *st, int i, const char *fallback)
{
    const char *t = (const char *)sqlite3_column_text(st, i);
    return t != NULL ? t : fallback;
}

static int load_columns(loader_t *l, hp_schema_t *s, hp_table_t *t, sqlite3_stmt *cols)
{
    int rc;
    sqlite3_bind_text(cols, 1, t->name, (int)t->name_len, SQLITE_STATIC);
    while ((rc = sqlite3_step(cols)) == SQLITE_ROW) {
        if (sqlite3_column_int(cols, 5) == 1)
            continue; /* hidden column of a virtual table */
        const char *dflt = (const char *)sqlite3_column_text(cols, 3);
        hp_schema_add_column(s, t, text_or(cols, 0, ""), text_or(cols, 1, ""),
                             sqlite3_column_int(cols, 2), sqlite3_column_int(cols, 4), dflt);
    }
    sqlite3_reset(cols);
    sqlite3_clear_bindings(cols);
    return rc == SQLITE_DONE ? 0 : fail_sql(l, t->name);
}

static const hp_table_t *find_table_ci(const hp_schema_t *s, const char *name)
{
    const hp_table_t *t = hp_schema_find_table(s, name, strlen(name));
    for (size_t i = 0; t == NULL && i < hp_schema_table_count(s); i++) {
        const hp_table_t *c = hp_schema_table_at(s, i);
        if (strcasecmp(c->name, name) == 0)
            t = c;
    }
    return t;
}

static const char *column_name_ci(const hp_table_t *t, const char *name)
{
    for (size_t i = 0; i < t->column_count; i++)
        if (strcasecmp(t->columns[i].name, name) == 0)
            return t->columns[i].name;
    return NULL;
}

/* The parent's primary-key column names in key order (the `to` list of REFERENCES p). Before
 * finalize pk_cols is not built yet, so the positions are read back from the catalog. */
static size_t parent_pk_names(loader_t *l, const hp_table_t *parent, const char **out, size_t cap)
{
    sqlite3_stmt *st = NULL;
    size_t n = 0;
    if (sqlite3_prepare_v2(l->h, "SELECT name FROM pragma_table_info(?1) WHERE pk > 0 ORDER BY pk",
                           -1, &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_text(st, 1, parent->name, (int)parent->name_len, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW && n < cap)
        out[n++] = column_name_ci(parent, text_or(st, 0, ""));
    sqlite3_finalize(st);
    for (size_t i = 0; i < n; i++)
        if (out[i] == NULL)
            return 0;
    return n;
}

/* Adds one grouped key; a key the snapshot cannot hold (unknown table or column) is skipped. */
static void add_fkey(loader_t *l, hp_schema_t *s, const hp_table_t *child, const char *parent_name,
                     char **from, char **to, size_t count)
{
    const hp_table_t *parent = find_table_ci(s, parent_name);
    const char **from_names = calloc(count, sizeof(*from_names));
    const char **to_names = calloc(count, sizeof(*to_names));
    if (parent == NULL || from_names == NULL || to_names == NULL)
        goto skip;
    int to_is_pk = 1;
    for (size_t i = 0; i < count; i++)
        to_is_pk &= to[i] == NULL;
    if (to_is_pk) {
        if (parent_pk_names(l, parent, to_names, count) != count)
            goto skip;
    }
    for (size_t i = 0; i < count; i++) {
        from_names[i] = column_name_ci(child, from[i]);
        if (!to_is_pk)
            to_names[i] = to[i] ? column_name_ci(parent, to[i]) : NULL;
        if (from_names[i] == NULL || to_names[i] == NULL)
            goto skip;
    }
    if (hp_schema_add_fkey(s, NULL, child->name, from_names, parent->name, to_names, count) != 0)
        goto skip;
    free(from_names);
    free(to_names);
    return;
skip:
    hp_log_debug("schema: skipping a foreign key of %s to %s (unknown table or column)",
                 child->name, parent_name);
    free(from_names);
    free(to_names);
}

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
}

static char *dup_column(sqlite3_stmt *st, int i)
{
    const char *t = (const char *)sqlite3_column_text(st, i);
    return t != NULL ? strdup(t) : NULL;
}

/* Foreign keys with at most this many columns are loaded (more is not a real schema). */
#define MAX_FKEY_COLUMNS 32

static int load_fkeys(loader_t *l, hp_schema_t *s, const hp_table_t *child, sqlite3_stmt *fks)
{
    char *from[MAX_FKEY_COLUMNS], *to[MAX_FKEY_COLUMNS], *parent = NULL;
    size_t n = 0;
    int id = -1, rc;
    sqlite3_bind_text(fks, 1, child->name, (int)child->name_len, SQLITE_STATIC);
    while ((rc = sqlite3_step(fks)) == SQLITE_ROW) {
        int row_id = sqlite3_column_int(fks, 0);
        if (row_id != id) {
            if (parent != NULL)
                add_fkey(l, s, child, parent, from, to, n);
            free_strings(from, n);
            free_strings(to, n);
            free(parent);
            n = 0;
            id = row_id;
            parent = dup_column(fks, 2);
        }
        if (n < MAX_FKEY_COLUMNS) {
            from[n] = dup_column(fks, 3);
            to[n] = dup_column(fks, 4);
            n++;
        }
    }
    if (rc == SQLITE_DONE && parent != NULL)
        add_fkey(l, s, child, parent, from, to, n);
    free_strings(from, n);
    free_strings(to, n);
    free(parent);
    sqlite3_reset(fks);
    sqlite3_clear_bindings(fks);
    return rc == SQLITE_DONE ? 0 : fail_sql(l, child->name);
}

/* Single-column UNIQUE indexes (constraints make them too), not partial, not on expressions. */
static const char sql_unique[] =
    "SELECT ii.name FROM pragma_index_list(?1) AS il, pragma_index_info(il.name) AS ii "
    "WHERE il.\"unique\" = 1 AND il.partial = 0 GROUP BY il.name "
    "HAVING count(*) = 1 AND ii.name IS NOT NULL";

static int load_unique(loader_t *l, hp_schema_t *s, const hp_table_t *t)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(l->h, sql_unique, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, t->name, (int)t->name_len, SQLITE_STATIC);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            hp_schema_set_unique(s, t->name, text_or(st, 0, ""));
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : fail_sql(l, t->name);
}

hp_schema_t *hp_sqlite__load_schema(sqlite3 *h, char *errbuf, size_t errlen)
{
    loader_t l = {h, errbuf, errlen};
    sqlite3_stmt *tables = NULL, *cols = NULL, *fks = NULL;
    hp_schema_t *s = hp_schema_create();
    int rc;

    if (sqlite3_prepare_v2(h, sql_tables, -1, &tables, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(h, sql_columns, -1, &cols, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(h, sql_fkeys, -1, &fks, NULL) != SQLITE_OK) {
        fail_sql(&l, "catalog queries");
        goto fail;
    }
    while ((rc = sqlite3_step(tables)) == SQLITE_ROW) {
        int is_view = strcmp(text_or(tables, 1, ""), "view") == 0;
        int has_rowid = !is_view && sqlite3_column_int(tables, 2) == 0;
        hp_table_t *t = hp_schema_add_table(s, text_or(tables, 0, ""), is_view, has_rowid);
        if (load_columns(&l, s, t, cols) != 0)
            goto fail;
    }
    if (rc != SQLITE_DONE) {
        fail_sql(&l, "tables");
        goto fail;
    }
    /* Keys last: every table they name must be in the snapshot already. */
    for (size_t i = 0; i < hp_schema_table_count(s); i++) {
        const hp_table_t *t = hp_schema_table_at(s, i);
        if (!t->is_view && (load_fkeys(&l, s, t, fks) != 0 || load_unique(&l, s, t) != 0))
            goto fail;
    }
    sqlite3_finalize(tables);
    sqlite3_finalize(cols);
    sqlite3_finalize(fks);
    hp_schema_finalize(s);
    return s;
fail:
    sqlite3_finalize(tables);
    sqlite3_finalize(cols);
    sqlite3_finalize(fks);
    hp_schema_unref(s);
    return NULL;
}
