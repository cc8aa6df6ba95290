/*
 * The schema cache: tables, views, their columns (with declared types), primary keys and
 * foreign keys, as one immutable snapshot. A backend builds a snapshot with the builder
 * functions below (db/sqlite from sqlite_schema and PRAGMAs, db/pg from pg_catalog),
 * then publishes it. Readers hold a reference (hp_schema_ref/unref) for as long as they use
 * it, so a reload (SIGUSR1) can swap in a new snapshot while old requests finish on the old one.
 *
 * Pure data: includes no database header, so src/query can use it. Lookups are read-only and
 * safe from any thread; building is single-threaded; ref/unref are atomic.
 */
#ifndef HP_DB_SCHEMA_H
#define HP_DB_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

/* How values of a column are typed, from its declared type (SQLite affinity rules, plus the
 * declared names BOOLEAN/BOOL and JSON/JSONB which change how values render; PostgreSQL's
 * types map by name, see hp_schema_pg_type_of). */
typedef enum {
    HP_COLTYPE_INTEGER, /* INT affinity: renders as a number */
    HP_COLTYPE_REAL,    /* REAL affinity */
    HP_COLTYPE_NUMERIC, /* NUMERIC affinity (DECIMAL, NUMERIC, DATE...) */
    HP_COLTYPE_TEXT,    /* TEXT affinity */
    HP_COLTYPE_BOOLEAN, /* declared BOOLEAN/BOOL: 0/1 render as false/true */
    HP_COLTYPE_JSON,    /* declared JSON/JSONB: valid JSON text renders inline */
    HP_COLTYPE_BLOB,    /* BLOB affinity (or no declared type): blobs render as "\\x..." hex */
} hp_coltype_t;

typedef struct {
    char *name; /* as declared; NUL-terminated */
    size_t name_len;
    char *decl_type; /* declared type text, "" when none (PostgreSQL: format_type()) */
    hp_coltype_t type;
    int is_pk;     /* part of the primary key */
    int is_unique; /* no two rows share a non-NULL value: a single-column UNIQUE constraint or
                      index (not partial, not on an expression), or a one-column primary key */
    int not_null;
    char *default_sql; /* DEFAULT expression as SQL text from the database itself, or NULL */
} hp_column_t;

typedef struct st_hp_table_t hp_table_t;

/* A foreign key: from_table(from_cols...) REFERENCES to_table(to_cols...). */
typedef struct {
    char *name; /* constraint name, or "<from>_<col>_fkey" when it has none */
    const hp_table_t *from_table;
    const hp_table_t *to_table;
    size_t col_count;
    size_t *from_cols; /* column indexes in from_table */
    size_t *to_cols;   /* column indexes in to_table */
} hp_fkey_t;

struct st_hp_table_t {
    char *name;
    size_t name_len;
    int is_view;
    int has_rowid; /* SQLite: a rowid table, not WITHOUT ROWID (which key columns may be NULL) */
    hp_column_t *columns;
    size_t column_count;
    size_t *pk_cols; /* indexes into columns, in key order */
    size_t pk_count;
};

typedef struct st_hp_schema_t hp_schema_t;

/* The kinds of relationship an embed can follow, seen from the parent table. */
typedef enum {
    HP_REL_MANY_TO_ONE, /* parent has the fkey: embeds one object (or null) */
    HP_REL_ONE_TO_MANY, /* child has the fkey: embeds an array */
    HP_REL_ONE_TO_ONE,  /* child has the fkey and it is the child's primary key: one object */
} hp_rel_kind_t;

typedef struct {
    hp_rel_kind_t kind;
    const hp_fkey_t *fkey;
    const hp_table_t *parent; /* the table being read */
    const hp_table_t *child;  /* the table being embedded */
} hp_relationship_t;

/* --- building (single thread; the backend that loads the schema) --- */

/* Creates an empty snapshot with a reference count of 1. Aborts on allocation failure. */
hp_schema_t *hp_schema_create(void);
/* Adds a table; the name is copied. Returns the table, to which columns are then added. */
hp_table_t *hp_schema_add_table(hp_schema_t *s, const char *name, int is_view, int has_rowid);
/* Adds a column (strings copied); type is derived from decl_type by SQLite's rules
 * (hp_schema_type_of). pk_position is the 1-based position in the primary key, or 0.
 * default_sql may be NULL. */
void hp_schema_add_column(hp_schema_t *s, hp_table_t *t, const char *name, const char *decl_type,
                          int not_null, int pk_position, const char *default_sql);
/* The same with the type decided by the backend (PostgreSQL: hp_schema_pg_type_of of the
 * column's base type), for databases whose type names SQLite's rules do not fit. */
void hp_schema_add_typed_column(hp_schema_t *s, hp_table_t *t, const char *name,
                                const char *decl_type, hp_coltype_t type, int not_null,
                                int pk_position, const char *default_sql);
/* Adds a foreign key by names; returns -1 (and adds nothing) when a table or column is unknown.
 * Call after every table and column is added. `name` may be NULL. */
int hp_schema_add_fkey(hp_schema_t *s, const char *name, const char *from_table,
                       const char **from_cols, const char *to_table, const char **to_cols,
                       size_t col_count);
/* Marks a column unique (see hp_column_t.is_unique); returns -1 when either name is unknown. */
int hp_schema_set_unique(hp_schema_t *s, const char *table, const char *column);
/* Builds the lookup indexes; call once, after which the snapshot is immutable. */
void hp_schema_finalize(hp_schema_t *s);

/* Maps a declared SQL type to an hp_coltype_t (SQLite's affinity rules plus BOOLEAN/JSON). */
hp_coltype_t hp_schema_type_of(const char *decl_type);
/* Maps a PostgreSQL type name as format_type() writes it ("integer", "double precision",
 * "numeric(10,2)", "integer[]"...) to an hp_coltype_t: the integer types INTEGER, real and
 * double precision REAL, numeric NUMERIC, boolean BOOLEAN, json and jsonb JSON, bytea BLOB, and
 * everything else TEXT (character types, dates and times, uuid, enums, arrays, ranges...), as
 * PostgREST's JSON writes them as strings. Exact names: a domain must be resolved to its base
 * type first. NULL is TEXT. */
hp_coltype_t hp_schema_pg_type_of(const char *type_name);

/* --- reading (any thread, on a finalized snapshot) --- */

void hp_schema_ref(hp_schema_t *s);
/* Drops a reference; the last one frees the snapshot. */
void hp_schema_unref(hp_schema_t *s);

size_t hp_schema_table_count(const hp_schema_t *s);
const hp_table_t *hp_schema_table_at(const hp_schema_t *s, size_t index);
/* Exact (case-sensitive) name lookup; NULL when absent. */
const hp_table_t *hp_schema_find_table(const hp_schema_t *s, const char *name, size_t len);
/* Column index, or -1 when absent. */
int hp_table_find_column(const hp_table_t *t, const char *name, size_t len);

/* Finds the relationships by which `parent` can embed `target`, following PostgREST's rules
 * (see schema.c): target is a table name, a foreign key name, or the parent's column of a
 * single-column key; hint (hint_len 0 for none) is a constraint name or a single-column key's
 * column on either side; for a self-referencing key the table name means the children and the
 * referencing column means the parent. Writes up to `cap` matches to `out` and returns how
 * many exist (which may exceed cap: the embed is then ambiguous). */
size_t hp_schema_find_relationships(const hp_schema_t *s, const hp_table_t *parent,
                                    const char *target, size_t target_len, const char *hint,
                                    size_t hint_len, hp_relationship_t *out, size_t cap);

#endif
