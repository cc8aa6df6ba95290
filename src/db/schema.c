/*
 * The schema snapshot (schema.h). Tables live in individually allocated records so that the
 * pointers handed out by hp_schema_add_table (and kept in foreign keys and relationships) stay
 * valid while more tables are added. Each public hp_table_t is the first member of a private
 * record that also holds its column index and the foreign keys that start or end at it, so
 * hp_table_find_column and hp_schema_find_relationships need nothing but the table pointer.
 *
 * Lookups after hp_schema_finalize: tables by an open-addressing hash (xxh3 of the name, linear
 * probing, table size a power of two at least twice the count); columns the same way when a
 * table has more than a handful of them, by a linear scan otherwise (faster for short rows).
 * Before finalize, table lookups and hp_schema_table_at also work (by a scan), which the
 * loaders use to resolve the names in foreign keys.
 */
#include "db/schema.h"

#include <assert.h>
#include <ctype.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* Tables with at most this many columns are searched linearly. */
#define LINEAR_COLUMN_MAX 8

typedef struct {
    hp_table_t pub; /* first: a hp_table_t * is a table_impl_t * */
    size_t column_cap;
    int *pk_positions;   /* 1-based position in the primary key per column, 0 when not */
    uint32_t *col_slots; /* column index + 1 per slot, 0 empty; NULL when scanned linearly */
    size_t col_mask;
    size_t *fkeys_from; /* indexes into schema->fkeys of keys whose from_table is this */
    size_t fkeys_from_count;
    size_t *fkeys_to; /* indexes into schema->fkeys of keys whose to_table is this */
    size_t fkeys_to_count;
} table_impl_t;

struct st_hp_schema_t {
    atomic_size_t refs;
    int is_final;
    table_impl_t **tables;
    size_t table_count;
    size_t table_cap;
    hp_fkey_t *fkeys;
    size_t fkey_count;
    size_t fkey_cap;
    uint32_t *table_slots; /* table index + 1 per slot, 0 empty */
    size_t table_mask;
};

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL) {
        fputs("hotpath: out of memory\n", stderr);
        abort();
    }
    return p;
}

static void *xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (p == NULL) {
        fputs("hotpath: out of memory\n", stderr);
        abort();
    }
    return p;
}

static void *xrealloc(void *old, size_t n)
{
    void *p = realloc(old, n ? n : 1);
    if (p == NULL) {
        fputs("hotpath: out of memory\n", stderr);
        abort();
    }
    return p;
}

static char *xstrdup(const char *s)
{
    size_t len = strlen(s);
    char *p = xmalloc(len + 1);
    memcpy(p, s, len + 1);
    return p;
}

static inline table_impl_t *impl_of(const hp_table_t *t)
{
    return (table_impl_t *)t;
}

static uint64_t hash_name(const char *name, size_t len)
{
    return XXH3_64bits(name, len);
}

static size_t slots_for(size_t count)
{
    size_t n = 8;
    while (n < count * 2)
        n <<= 1;
    return n;
}

/* --- building --- */

hp_schema_t *hp_schema_create(void)
{
    hp_schema_t *s = xcalloc(1, sizeof(*s));
    atomic_init(&s->refs, 1);
    return s;
}

hp_table_t *hp_schema_add_table(hp_schema_t *s, const char *name, int is_view, int has_rowid)
{
    assert(!s->is_final);
    if (s->table_count == s->table_cap) {
        s->table_cap = s->table_cap ? s->table_cap * 2 : 16;
        s->tables = xrealloc(s->tables, s->table_cap * sizeof(*s->tables));
    }
    table_impl_t *t = xcalloc(1, sizeof(*t));
    t->pub.name = xstrdup(name);
    t->pub.name_len = strlen(name);
    t->pub.is_view = is_view != 0;
    t->pub.has_rowid = has_rowid != 0;
    s->tables[s->table_count++] = t;
    return &t->pub;
}

void hp_schema_add_column(hp_schema_t *s, hp_table_t *table, const char *name,
                          const char *decl_type, int not_null, int pk_position,
                          const char *default_sql)
{
    hp_schema_add_typed_column(s, table, name, decl_type, hp_schema_type_of(decl_type), not_null,
                               pk_position, default_sql);
}

void hp_schema_add_typed_column(hp_schema_t *s, hp_table_t *table, const char *name,
                                const char *decl_type, hp_coltype_t type, int not_null,
                                int pk_position, const char *default_sql)
{
    table_impl_t *t = impl_of(table);
    assert(!s->is_final);
    (void)s;
    if (table->column_count == t->column_cap) {
        t->column_cap = t->column_cap ? t->column_cap * 2 : 8;
        table->columns = xrealloc(table->columns, t->column_cap * sizeof(*table->columns));
        t->pk_positions = xrealloc(t->pk_positions, t->column_cap * sizeof(*t->pk_positions));
    }
    hp_column_t *c = &table->columns[table->column_count];
    c->name = xstrdup(name);
    c->name_len = strlen(name);
    c->decl_type = xstrdup(decl_type ? decl_type : "");
    c->type = type;
    c->is_pk = pk_position > 0;
    c->is_unique = 0;
    c->not_null = not_null != 0;
    c->default_sql = default_sql ? xstrdup(default_sql) : NULL;
    t->pk_positions[table->column_count] = pk_position > 0 ? pk_position : 0;
    table->column_count++;
}

static int column_index_linear(const hp_table_t *t, const char *name, size_t len)
{
    for (size_t i = 0; i < t->column_count; i++)
        if (t->columns[i].name_len == len && memcmp(t->columns[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

static table_impl_t *find_table_impl(const hp_schema_t *s, const char *name, size_t len)
{
    if (s->table_slots == NULL) {
        /* Still building: a scan is fine for the few fkey lookups the loader makes. */
        for (size_t i = 0; i < s->table_count; i++) {
            hp_table_t *t = &s->tables[i]->pub;
            if (t->name_len == len && memcmp(t->name, name, len) == 0)
                return s->tables[i];
        }
        return NULL;
    }
    size_t slot = (size_t)hash_name(name, len) & s->table_mask;
    for (;;) {
        uint32_t v = s->table_slots[slot];
        if (v == 0)
            return NULL;
        hp_table_t *t = &s->tables[v - 1]->pub;
        if (t->name_len == len && memcmp(t->name, name, len) == 0)
            return s->tables[v - 1];
        slot = (slot + 1) & s->table_mask;
    }
}

int hp_schema_add_fkey(hp_schema_t *s, const char *name, const char *from_table,
                       const char **from_cols, const char *to_table, const char **to_cols,
                       size_t col_count)
{
    assert(!s->is_final);
    if (col_count == 0)
        return -1;
    table_impl_t *from = find_table_impl(s, from_table, strlen(from_table));
    table_impl_t *to = find_table_impl(s, to_table, strlen(to_table));
    if (from == NULL || to == NULL)
        return -1;
    size_t *fc = xmalloc(col_count * sizeof(*fc));
    size_t *tc = xmalloc(col_count * sizeof(*tc));
    for (size_t i = 0; i < col_count; i++) {
        int a = column_index_linear(&from->pub, from_cols[i], strlen(from_cols[i]));
        int b = column_index_linear(&to->pub, to_cols[i], strlen(to_cols[i]));
        if (a < 0 || b < 0) {
            free(fc);
            free(tc);
            return -1;
        }
        fc[i] = (size_t)a;
        tc[i] = (size_t)b;
    }
    char *fname;
    if (name != NULL && name[0] != '\0') {
        fname = xstrdup(name);
    } else {
        /* PostgreSQL's default constraint name: <table>_<col>[_<col>...]_fkey. */
        size_t len = from->pub.name_len + sizeof("_fkey");
        for (size_t i = 0; i < col_count; i++)
            len += 1 + from->pub.columns[fc[i]].name_len;
        fname = xmalloc(len);
        size_t off = 0;
        memcpy(fname, from->pub.name, from->pub.name_len);
        off += from->pub.name_len;
        for (size_t i = 0; i < col_count; i++) {
            const hp_column_t *c = &from->pub.columns[fc[i]];
            fname[off++] = '_';
            memcpy(fname + off, c->name, c->name_len);
            off += c->name_len;
        }
        memcpy(fname + off, "_fkey", sizeof("_fkey"));
    }
    if (s->fkey_count == s->fkey_cap) {
        s->fkey_cap = s->fkey_cap ? s->fkey_cap * 2 : 16;
        s->fkeys = xrealloc(s->fkeys, s->fkey_cap * sizeof(*s->fkeys));
    }
    hp_fkey_t *k = &s->fkeys[s->fkey_count++];
    k->name = fname;
    k->from_table = &from->pub;
    k->to_table = &to->pub;
    k->col_count = col_count;
    k->from_cols = fc;
    k->to_cols = tc;
    return 0;
}

static void build_column_index(table_impl_t *t)
{
    hp_table_t *pub = &t->pub;
    if (pub->column_count <= LINEAR_COLUMN_MAX)
        return;
    size_t n = slots_for(pub->column_count);
    t->col_slots = xcalloc(n, sizeof(*t->col_slots));
    t->col_mask = n - 1;
    for (size_t i = 0; i < pub->column_count; i++) {
        size_t slot =
            (size_t)hash_name(pub->columns[i].name, pub->columns[i].name_len) & t->col_mask;
        while (t->col_slots[slot] != 0) {
            /* A duplicate name keeps its first column (SQLite rejects duplicates anyway). */
            const hp_column_t *o = &pub->columns[t->col_slots[slot] - 1];
            if (o->name_len == pub->columns[i].name_len &&
                memcmp(o->name, pub->columns[i].name, o->name_len) == 0)
                goto next;
            slot = (slot + 1) & t->col_mask;
        }
        t->col_slots[slot] = (uint32_t)(i + 1);
    next:;
    }
}

static void build_primary_key(table_impl_t *t)
{
    hp_table_t *pub = &t->pub;
    size_t count = 0;
    for (size_t i = 0; i < pub->column_count; i++)
        if (t->pk_positions[i] > 0)
            count++;
    pub->pk_cols = xmalloc(count * sizeof(*pub->pk_cols));
    pub->pk_count = count;
    /* Order by position (an insertion sort: keys have a few columns). */
    size_t n = 0;
    for (size_t i = 0; i < pub->column_count; i++) {
        if (t->pk_positions[i] <= 0)
            continue;
        size_t j = n++;
        while (j > 0 && t->pk_positions[pub->pk_cols[j - 1]] > t->pk_positions[i]) {
            pub->pk_cols[j] = pub->pk_cols[j - 1];
            j--;
        }
        pub->pk_cols[j] = i;
    }
}

int hp_schema_set_unique(hp_schema_t *s, const char *table, const char *column)
{
    assert(!s->is_final);
    table_impl_t *t = find_table_impl(s, table, strlen(table));
    if (t == NULL)
        return -1;
    int i = column_index_linear(&t->pub, column, strlen(column));
    if (i < 0)
        return -1;
    t->pub.columns[i].is_unique = 1;
    return 0;
}

void hp_schema_finalize(hp_schema_t *s)
{
    assert(!s->is_final);
    size_t n = slots_for(s->table_count);
    s->table_slots = xcalloc(n, sizeof(*s->table_slots));
    s->table_mask = n - 1;
    for (size_t i = 0; i < s->table_count; i++) {
        table_impl_t *t = s->tables[i];
        size_t slot = (size_t)hash_name(t->pub.name, t->pub.name_len) & s->table_mask;
        while (s->table_slots[slot] != 0)
            slot = (slot + 1) & s->table_mask;
        s->table_slots[slot] = (uint32_t)(i + 1);
        build_column_index(t);
        build_primary_key(t);
        if (t->pub.pk_count == 1)
            t->pub.columns[t->pub.pk_cols[0]].is_unique = 1;
    }
    for (size_t i = 0; i < s->fkey_count; i++) {
        table_impl_t *from = impl_of(s->fkeys[i].from_table);
        table_impl_t *to = impl_of(s->fkeys[i].to_table);
        from->fkeys_from =
            xrealloc(from->fkeys_from, (from->fkeys_from_count + 1) * sizeof(size_t));
        from->fkeys_from[from->fkeys_from_count++] = i;
        to->fkeys_to = xrealloc(to->fkeys_to, (to->fkeys_to_count + 1) * sizeof(size_t));
        to->fkeys_to[to->fkeys_to_count++] = i;
    }
    s->is_final = 1;
}

/* --- types --- */

static int contains_ci(const char *hay, size_t len, const char *needle)
{
    size_t nlen = strlen(needle);
    for (size_t i = 0; i + nlen <= len; i++) {
        size_t j = 0;
        while (j < nlen && toupper((unsigned char)hay[i + j]) == needle[j])
            j++;
        if (j == nlen)
            return 1;
    }
    return 0;
}

static int word_is_ci(const char *w, size_t len, const char *name)
{
    size_t nlen = strlen(name);
    if (len != nlen)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (toupper((unsigned char)w[i]) != name[i])
            return 0;
    return 1;
}

/* SQLite's column affinity rules (https://sqlite.org/datatype3.html, 3.1), in their order,
 * after two names of our own: a declared type whose first word is BOOLEAN/BOOL or JSON/JSONB. */
hp_coltype_t hp_schema_type_of(const char *decl_type)
{
    if (decl_type == NULL)
        return HP_COLTYPE_BLOB;
    size_t len = strlen(decl_type);
    const char *w = decl_type;
    while (w < decl_type + len && isspace((unsigned char)*w))
        w++;
    size_t wlen = 0;
    while (w + wlen < decl_type + len && (isalnum((unsigned char)w[wlen]) || w[wlen] == '_'))
        wlen++;
    if (word_is_ci(w, wlen, "BOOLEAN") || word_is_ci(w, wlen, "BOOL"))
        return HP_COLTYPE_BOOLEAN;
    if (word_is_ci(w, wlen, "JSON") || word_is_ci(w, wlen, "JSONB"))
        return HP_COLTYPE_JSON;
    if (contains_ci(decl_type, len, "INT"))
        return HP_COLTYPE_INTEGER;
    if (contains_ci(decl_type, len, "CHAR") || contains_ci(decl_type, len, "CLOB") ||
        contains_ci(decl_type, len, "TEXT"))
        return HP_COLTYPE_TEXT;
    if (wlen == 0 && w == decl_type + len)
        return HP_COLTYPE_BLOB; /* no declared type */
    if (contains_ci(decl_type, len, "BLOB"))
        return HP_COLTYPE_BLOB;
    if (contains_ci(decl_type, len, "REAL") || contains_ci(decl_type, len, "FLOA") ||
        contains_ci(decl_type, len, "DOUB"))
        return HP_COLTYPE_REAL;
    return HP_COLTYPE_NUMERIC;
}

/* PostgreSQL's names need no affinity rules: format_type() spells every built-in type one way,
 * in lower case. The typmod in parentheses ("numeric(10,2)") does not change the kind. A name
 * SQLite's rules would misread ("interval" and "point" contain INT, "date" would be NUMERIC)
 * falls through to TEXT here, and so do enums and other user-defined types. */
hp_coltype_t hp_schema_pg_type_of(const char *type_name)
{
    static const struct {
        const char *name;
        hp_coltype_t type;
    } names[] = {
        {"smallint", HP_COLTYPE_INTEGER},
        {"integer", HP_COLTYPE_INTEGER},
        {"bigint", HP_COLTYPE_INTEGER},
        {"real", HP_COLTYPE_REAL},
        {"double precision", HP_COLTYPE_REAL},
        {"numeric", HP_COLTYPE_NUMERIC},
        {"boolean", HP_COLTYPE_BOOLEAN},
        {"json", HP_COLTYPE_JSON},
        {"jsonb", HP_COLTYPE_JSON},
        {"bytea", HP_COLTYPE_BLOB},
    };
    if (type_name == NULL)
        return HP_COLTYPE_TEXT;
    size_t len = strcspn(type_name, "(");
    if (type_name[len] == '(') {
        /* Only a trailing typmod: "numeric(10,2)", not "numeric(10,2)[]" (an array). */
        const char *close = strchr(type_name + len, ')');
        if (close == NULL || close[1] != '\0')
            return HP_COLTYPE_TEXT;
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i].name) == len && memcmp(names[i].name, type_name, len) == 0)
            return names[i].type;
    return HP_COLTYPE_TEXT;
}

/* --- references --- */

void hp_schema_ref(hp_schema_t *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

static void free_schema(hp_schema_t *s)
{
    for (size_t i = 0; i < s->table_count; i++) {
        table_impl_t *t = s->tables[i];
        for (size_t c = 0; c < t->pub.column_count; c++) {
            free(t->pub.columns[c].name);
            free(t->pub.columns[c].decl_type);
            free(t->pub.columns[c].default_sql);
        }
        free(t->pub.columns);
        free(t->pub.pk_cols);
        free(t->pub.name);
        free(t->pk_positions);
        free(t->col_slots);
        free(t->fkeys_from);
        free(t->fkeys_to);
        free(t);
    }
    for (size_t i = 0; i < s->fkey_count; i++) {
        free(s->fkeys[i].name);
        free(s->fkeys[i].from_cols);
        free(s->fkeys[i].to_cols);
    }
    free(s->fkeys);
    free(s->tables);
    free(s->table_slots);
    free(s);
}

void hp_schema_unref(hp_schema_t *s)
{
    if (s == NULL)
        return;
    /* Release on every drop, acquire on the last: the freeing thread sees all prior uses. */
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
        free_schema(s);
}

/* --- reading --- */

size_t hp_schema_table_count(const hp_schema_t *s)
{
    return s->table_count;
}

const hp_table_t *hp_schema_table_at(const hp_schema_t *s, size_t index)
{
    return index < s->table_count ? &s->tables[index]->pub : NULL;
}

const hp_table_t *hp_schema_find_table(const hp_schema_t *s, const char *name, size_t len)
{
    table_impl_t *t = find_table_impl(s, name, len);
    return t ? &t->pub : NULL;
}

int hp_table_find_column(const hp_table_t *table, const char *name, size_t len)
{
    const table_impl_t *t = impl_of(table);
    if (t->col_slots == NULL)
        return column_index_linear(table, name, len);
    size_t slot = (size_t)hash_name(name, len) & t->col_mask;
    for (;;) {
        uint32_t v = t->col_slots[slot];
        if (v == 0)
            return -1;
        const hp_column_t *c = &table->columns[v - 1];
        if (c->name_len == len && memcmp(c->name, name, len) == 0)
            return (int)(v - 1);
        slot = (slot + 1) & t->col_mask;
    }
}

static int name_eq(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && memcmp(a, b, alen) == 0;
}

/* True when the key's columns are exactly the child's primary key (as a set). */
static int fkey_is_child_pk(const hp_fkey_t *k)
{
    const hp_table_t *child = k->from_table;
    if (child->pk_count == 0 || child->pk_count != k->col_count)
        return 0;
    for (size_t i = 0; i < k->col_count; i++)
        if (!child->columns[k->from_cols[i]].is_pk)
            return 0;
    /* Same count and every key column in the PK: equal sets unless a column repeats. */
    for (size_t i = 0; i < k->col_count; i++)
        for (size_t j = i + 1; j < k->col_count; j++)
            if (k->from_cols[i] == k->from_cols[j])
                return 0;
    return 1;
}

/* The key has one column, named `name`, on the side given by `cols` (from_cols or to_cols) of
 * table t. PostgREST matches embed targets and hints against single-column keys only. */
static int single_column_is(const hp_fkey_t *k, const hp_table_t *t, const size_t *cols,
                            const char *name, size_t len)
{
    if (k->col_count != 1)
        return 0;
    const hp_column_t *c = &t->columns[cols[0]];
    return name_eq(c->name, c->name_len, name, len);
}

/*
 * Whether key k, seen from the parent as a relationship, is the one `target!hint` names. These
 * are PostgREST's rules (findRel in src/PostgREST/Plan.hs). "origin" is the parent's side of
 * the key, "foreign" the embedded table's side: for a many-to-one the parent holds the key
 * (origin = from), otherwise the embedded table does (origin = to).
 *   Without a hint, the target names the embedded table; or, unless the embedded table is a
 *   view, the key's constraint name or the parent's column of a single-column key
 *   (/orders?select=users(*), orders_user_id_fkey(*), user_id(*)).
 *   With a hint, the target must name the embedded table and the hint the constraint or the
 *   column of a single-column key on either side (users!orders_user_id_fkey, users!user_id,
 *   users!id).
 *   A self-referencing key gives two relationships that the rules above would always find
 *   together, so it has its own: the table's name (with no hint, or with the referencing
 *   column as the hint) means the referencing rows, one-to-many (children:items(*),
 *   children:items!parent_id(*)); the referencing column as the target means the referenced
 *   row, many-to-one (parent:parent_id(*)).
 */
static int relationship_matches(const hp_fkey_t *k, int parent_holds_key, const char *target,
                                size_t target_len, const char *hint, size_t hint_len)
{
    const hp_table_t *origin = parent_holds_key ? k->from_table : k->to_table;
    const hp_table_t *foreign = parent_holds_key ? k->to_table : k->from_table;
    const size_t *origin_cols = parent_holds_key ? k->from_cols : k->to_cols;
    const size_t *foreign_cols = parent_holds_key ? k->to_cols : k->from_cols;
    int names_table = name_eq(foreign->name, foreign->name_len, target, target_len);
    if (k->from_table == k->to_table) {
        if (parent_holds_key)
            return hint_len == 0 && single_column_is(k, origin, origin_cols, target, target_len);
        return names_table &&
               (hint_len == 0 || single_column_is(k, foreign, foreign_cols, hint, hint_len));
    }
    if (hint_len == 0)
        return names_table || (!foreign->is_view &&
                               (name_eq(k->name, strlen(k->name), target, target_len) ||
                                single_column_is(k, origin, origin_cols, target, target_len)));
    return names_table && (name_eq(k->name, strlen(k->name), hint, hint_len) ||
                           single_column_is(k, origin, origin_cols, hint, hint_len) ||
                           single_column_is(k, foreign, foreign_cols, hint, hint_len));
}

size_t hp_schema_find_relationships(const hp_schema_t *s, const hp_table_t *parent,
                                    const char *target, size_t target_len, const char *hint,
                                    size_t hint_len, hp_relationship_t *out, size_t cap)
{
    if (parent == NULL || target_len == 0)
        return 0;
    const table_impl_t *p = impl_of(parent);
    size_t found = 0;
    /* Many-to-one: the parent holds the key. */
    for (size_t i = 0; i < p->fkeys_from_count; i++) {
        const hp_fkey_t *k = &s->fkeys[p->fkeys_from[i]];
        if (!relationship_matches(k, 1, target, target_len, hint, hint_len))
            continue;
        if (found < cap)
            out[found] = (hp_relationship_t){HP_REL_MANY_TO_ONE, k, parent, k->to_table};
        found++;
    }
    /* One-to-many / one-to-one: the embedded table holds a key to the parent. */
    for (size_t i = 0; i < p->fkeys_to_count; i++) {
        const hp_fkey_t *k = &s->fkeys[p->fkeys_to[i]];
        if (!relationship_matches(k, 0, target, target_len, hint, hint_len))
            continue;
        hp_rel_kind_t kind = fkey_is_child_pk(k) ? HP_REL_ONE_TO_ONE : HP_REL_ONE_TO_MANY;
        if (found < cap)
            out[found] = (hp_relationship_t){kind, k, parent, k->from_table};
        found++;
    }
    return found;
}
