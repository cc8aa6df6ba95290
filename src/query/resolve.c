/*
 * A parsed tree's names, resolved against the schema snapshot (see ast.h): PostgREST's
 * planning step, after its query-string parse. Columns become pointers into the snapshot, each
 * '*' becomes one item per column of its level's table, and each embed `target!hint(...)`
 * becomes the one relationship it names (hp_schema_find_relationships holds PostgREST's rules
 * for which). A level's select items are resolved in order, an embed's whole level before the
 * next item, then the level's filters and order terms. The first error wins and stops the walk.
 * Recursion is bounded by HP_MAX_QUERY_DEPTH, which the parser enforced.
 */
#include <string.h>
#include "core/buf.h"
#include "core/json.h"
#include "core/limits.h"
#include "query/ast.h"

/* Most select items after expanding '*', all levels together. */
#define SEL_ITEMS_CAP (HP_MAX_QUERY_TERMS * 16)

/* Most relationships an ambiguous embed lists in its error. */
#define AMBIGUOUS_SHOWN 16

typedef struct {
    const hp_schema_t *schema;
    hp_error_t *err;
    h2o_mem_pool_t *pool;
    size_t sel_items; /* select items so far, '*' expanded (SEL_ITEMS_CAP) */
} resolver_t;

static int count_items(resolver_t *r, size_t count)
{
    r->sel_items += count;
    if (r->sel_items > SEL_ITEMS_CAP)
        return hp_error_set(r->err, r->pool, HP_ERR_LIMIT,
                            "too many selected columns (more than %d)", SEL_ITEMS_CAP);
    return 0;
}

/* --- columns --- */

/* Resolves f->name in t. The output key becomes the column's own name unless a JSON path
 * chose it. */
static int resolve_field(resolver_t *r, const hp_table_t *t, hp_query__field_t *f)
{
    int index = hp_table_find_column(t, f->name.base, f->name.len);
    if (index < 0)
        return hp_error_set(r->err, r->pool, HP_ERR_UNDEFINED_COLUMN,
                            "column %s.%.*s does not exist", t->name, (int)f->name.len,
                            f->name.base);
    f->col = &t->columns[index];
    if (f->path.len == 0)
        f->key = h2o_iovec_init(f->col->name, f->col->name_len);
    return 0;
}

static int resolve_conds(resolver_t *r, const hp_table_t *t, hp_query__cond_t *c)
{
    for (; c != NULL; c = c->next) {
        int rc = c->kind == HP_QUERY__COND_FILTER ? resolve_field(r, t, &c->field)
                                                  : resolve_conds(r, t, c->children);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* Replaces the '*' item at *link by one item per column of n's table, in column order.
 * Returns the link after them, or NULL with err set. */
static hp_query__sel_t **expand_star(resolver_t *r, hp_query__node_t *n, hp_query__sel_t **link)
{
    const hp_table_t *t = n->table;
    hp_query__sel_t *star = *link;
    if (count_items(r, t->column_count) != 0)
        return NULL;
    --n->sel_count;
    if (t->column_count == 0) {
        *link = star->next;
        return link;
    }
    hp_query__sel_t *sels = h2o_mem_alloc_pool(r->pool, t->column_count * sizeof(*sels));
    memset(sels, 0, t->column_count * sizeof(*sels));
    for (size_t i = 0; i != t->column_count; ++i) {
        hp_query__sel_t *sel = sels + i;
        sel->kind = HP_QUERY__SEL_FIELD;
        sel->field.col = &t->columns[i];
        sel->field.name = sel->field.key =
            h2o_iovec_init(t->columns[i].name, t->columns[i].name_len);
        sel->name = sel->field.key;
        sel->next = i + 1 != t->column_count ? sel + 1 : star->next;
    }
    *link = sels;
    n->sel_count += t->column_count;
    return &sels[t->column_count - 1].next;
}

/* --- embeds --- */

static int no_relationship(resolver_t *r, const hp_table_t *parent, const hp_query__node_t *e)
{
    hp_error_set(r->err, r->pool, HP_ERR_NO_RELATIONSHIP,
                 "Could not find a relationship between '%s' and '%.*s' in the schema cache",
                 parent->name, (int)e->target.len, e->target.base);
    if (e->hint.base != NULL)
        hp_error_details(r->err, r->pool,
                         "Searched for a foreign key relationship between '%s' and '%.*s' using "
                         "the hint '%.*s', but no matches were found.",
                         parent->name, (int)e->target.len, e->target.base, (int)e->hint.len,
                         e->hint.base);
    else
        hp_error_details(r->err, r->pool,
                         "Searched for a foreign key relationship between '%s' and '%.*s', but "
                         "no matches were found.",
                         parent->name, (int)e->target.len, e->target.base);
    return -1;
}

/* Appends `table(col, col...)`, JSON-escaped, for the columns `cols` of t. */
static void append_columns_escaped(hp_buf_t *b, const hp_table_t *t, const size_t *cols,
                                   size_t count)
{
    hp_json_string_body(b, t->name, t->name_len);
    hp_buf_putc(b, '(');
    for (size_t i = 0; i != count; ++i) {
        if (i != 0)
            hp_buf_append_lit(b, ", ");
        hp_json_string_body(b, t->columns[cols[i]].name, t->columns[cols[i]].name_len);
    }
    hp_buf_putc(b, ')');
}

/*
 * PGRST201 as PostgREST words it (Error.hs: AmbiguousRelBetween): the hint lists
 * 'table!constraint' choices, and details is an array with one object per relationship:
 *   {"cardinality": "many-to-one", "embedding": "<parent> with <table>",
 *    "relationship": "<constraint> using <parent>(<cols>) and <table>(<cols>)"}
 * where each side's columns are those of the key on that side. At most `shown` are listed.
 */
static int ambiguous_embed(resolver_t *r, const hp_table_t *parent, h2o_iovec_t target,
                           const hp_relationship_t *rels, size_t shown, size_t count)
{
    static const char *const kinds[] = {[HP_REL_MANY_TO_ONE] = "many-to-one",
                                        [HP_REL_ONE_TO_MANY] = "one-to-many",
                                        [HP_REL_ONE_TO_ONE] = "one-to-one"};
    hp_error_set(r->err, r->pool, HP_ERR_AMBIGUOUS_EMBED,
                 "Could not embed because more than one relationship was found for '%s' and "
                 "'%.*s'",
                 parent->name, (int)target.len, target.base);
    hp_buf_t hint, details;
    hp_buf_init(&hint);
    hp_buf_init(&details);
    hp_buf_putc(&details, '[');
    for (size_t i = 0; i != shown; ++i) {
        const hp_relationship_t *rel = rels + i;
        const hp_fkey_t *k = rel->fkey;
        int parent_holds_key = rel->kind == HP_REL_MANY_TO_ONE;
        hp_buf_appendf(&hint, "%s'%s!%s'", i != 0 ? ", " : "", rel->child->name, k->name);
        if (i != 0)
            hp_buf_putc(&details, ',');
        hp_buf_append_lit(&details, "{\"cardinality\":\"");
        hp_buf_append(&details, kinds[rel->kind], strlen(kinds[rel->kind]));
        hp_buf_append_lit(&details, "\",\"embedding\":\"");
        hp_json_string_body(&details, parent->name, parent->name_len);
        hp_buf_append_lit(&details, " with ");
        hp_json_string_body(&details, rel->child->name, rel->child->name_len);
        hp_buf_append_lit(&details, "\",\"relationship\":\"");
        hp_json_string_body(&details, k->name, strlen(k->name));
        hp_buf_append_lit(&details, " using ");
        append_columns_escaped(&details, parent, parent_holds_key ? k->from_cols : k->to_cols,
                               k->col_count);
        hp_buf_append_lit(&details, " and ");
        append_columns_escaped(&details, rel->child, parent_holds_key ? k->to_cols : k->from_cols,
                               k->col_count);
        hp_buf_append_lit(&details, "\"}");
    }
    hp_buf_putc(&details, ']');
    hp_error_hint(r->err, r->pool,
                  "Try changing '%.*s' to one of the following: %.*s%s. Find the desired "
                  "relationship in the 'details' key.",
                  (int)target.len, target.base, (int)hint.len, hint.ptr,
                  count > shown ? ", ..." : "");
    hp_error_details_json(r->err, r->pool, details.ptr, details.len);
    hp_buf_dispose(&hint);
    hp_buf_dispose(&details);
    return -1;
}

static int resolve_node(resolver_t *r, hp_query__node_t *n);

/* Finds the one relationship embed `sel` names from `parent`, then resolves its level. Without
 * an alias the output key is the target as written: the table's name, or the constraint or
 * column name that chose the relationship. */
static int resolve_embed(resolver_t *r, const hp_query__node_t *parent, hp_query__sel_t *sel)
{
    hp_query__node_t *e = sel->embed;
    hp_relationship_t rels[AMBIGUOUS_SHOWN];
    size_t count =
        hp_schema_find_relationships(r->schema, parent->table, e->target.base, e->target.len,
                                     e->hint.base, e->hint.len, rels, AMBIGUOUS_SHOWN);
    if (count == 0)
        return no_relationship(r, parent->table, e);
    if (count > 1)
        return ambiguous_embed(r, parent->table, e->target, rels,
                               count < AMBIGUOUS_SHOWN ? count : AMBIGUOUS_SHOWN, count);
    e->rel = rels[0];
    e->table = rels[0].child;
    e->is_to_many = rels[0].kind == HP_REL_ONE_TO_MANY;
    if (sel->name.base == NULL) {
        if (e->target.len == e->table->name_len &&
            memcmp(e->target.base, e->table->name, e->target.len) == 0) {
            sel->name = h2o_iovec_init(e->table->name, e->table->name_len);
        } else {
            sel->name = e->target;
            sel->name_is_client = 1;
        }
    }
    return resolve_node(r, e);
}

/* --- levels --- */

static int resolve_node(resolver_t *r, hp_query__node_t *n)
{
    hp_query__sel_t **link = &n->sel;
    while (*link != NULL) {
        hp_query__sel_t *sel = *link;
        switch (sel->kind) {
        case HP_QUERY__SEL_STAR:
            if ((link = expand_star(r, n, link)) == NULL)
                return -1;
            continue;
        case HP_QUERY__SEL_FIELD:
            if (count_items(r, 1) != 0 || resolve_field(r, n->table, &sel->field) != 0)
                return -1;
            if (sel->name.base == NULL) {
                sel->name = sel->field.key;
                sel->name_is_client = sel->field.path.len != 0;
            }
            break;
        case HP_QUERY__SEL_EMBED:
            if (count_items(r, 1) != 0 || resolve_embed(r, n, sel) != 0)
                return -1;
            break;
        }
        link = &sel->next;
    }
    if (resolve_conds(r, n->table, n->conds) != 0)
        return -1;
    for (hp_query__order_t *o = n->order; o != NULL; o = o->next)
        if (resolve_field(r, n->table, &o->field) != 0)
            return -1;
    return 0;
}

int hp_query__resolve(const hp_schema_t *schema, const hp_table_t *table, hp_query__parsed_t *q,
                      hp_error_t *err, h2o_mem_pool_t *pool)
{
    resolver_t r = {schema, err, pool, 0};
    q->root->table = table;
    return resolve_node(&r, q->root);
}
