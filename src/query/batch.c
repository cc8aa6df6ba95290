/*
 * One statement for many primary-key reads of the same shape (see hp_plan_t.batch), the keys
 * joined in as a list with each one's position, so every row comes back tagged with the read
 * it answers:
 *   PostgreSQL  SELECT string_agg(("_hp_k"."i" - 1)::text || ':' || <row json>, E'\x1e'),
 *                      count(*), NULL::int8
 *               FROM unnest(CAST($n AS <key type>[])) WITH ORDINALITY AS "_hp_k"("v", "i")
 *               JOIN "t" ON "t"."k" = "_hp_k"."v"
 *   SQLite      SELECT "_hp_k"."key", json_object(...) FROM json_each(?n) AS "_hp_k"
 *               JOIN "t" ON "t"."k" = "_hp_k"."value"
 * A key that appears twice gets its row twice, once per position. The select list (and its
 * embeds) are written from the first plan's tree; the shape guarantees the others' are equal.
 */
#include <string.h>
#include "core/json.h"
#include "query/ast.h"

/* SQLite: the keys as a JSON array, each typed as the plan bound it. */
static h2o_iovec_t json_keys(hp_plan_t *const *plans, size_t n, h2o_mem_pool_t *pool)
{
    hp_buf_t buf;
    hp_buf_init(&buf);
    hp_buf_putc(&buf, '[');
    for (size_t i = 0; i != n; ++i) {
        const hp_bind_t *b = &plans[i]->exec.main.binds[plans[i]->batch.key_bind];
        if (i != 0)
            hp_buf_putc(&buf, ',');
        switch (b->kind) {
        case HP_BIND_INT: hp_json_int(&buf, b->i); break;
        case HP_BIND_REAL: hp_json_double(&buf, b->d); break;
        case HP_BIND_TEXT: hp_json_string(&buf, b->text.base, b->text.len); break;
        case HP_BIND_NULL: hp_buf_append_lit(&buf, "null"); break;
        }
    }
    hp_buf_putc(&buf, ']');
    char *p = h2o_mem_alloc_pool(pool, buf.len);
    memcpy(p, buf.ptr, buf.len);
    h2o_iovec_t out = h2o_iovec_init(p, buf.len);
    hp_buf_dispose(&buf);
    return out;
}

/* PostgreSQL: the keys as an array literal of their text. */
static h2o_iovec_t array_keys(hp_plan_t *const *plans, size_t n, h2o_mem_pool_t *pool)
{
    h2o_iovec_t *values = h2o_mem_alloc_pool(pool, (n + 1) * sizeof(*values));
    for (size_t i = 0; i != n; ++i)
        values[i] = plans[i]->exec.main.binds[plans[i]->batch.key_bind].text;
    return hp_query__array_literal(values, n, pool);
}

static void append_join(hp_query__gen_t *g, const hp_table_t *t, const hp_column_t *key,
                        const char *value_col)
{
    hp_query__gen_lit(g, " JOIN ");
    hp_query__gen_ident(g, t->name, t->name_len);
    hp_query__gen_lit(g, " ON ");
    hp_query__gen_ident(g, t->name, t->name_len);
    hp_query__gen_lit(g, ".");
    hp_query__gen_ident(g, key->name, key->name_len);
    hp_query__gen_lit(g, " = \"_hp_k\".");
    hp_query__gen_append(g, value_col, strlen(value_col));
}

void hp_query_plan_batch(hp_plan_t *const *plans, size_t n, hp_dialect_t dialect, hp_exec_t *out,
                         h2o_mem_pool_t *pool)
{
    const hp_query__node_t *root = plans[0]->batch.tree;
    const hp_table_t *t = plans[0]->table;
    const hp_column_t *key = plans[0]->batch.key;
    memset(out, 0, sizeof(*out));
    out->kind = HP_EXEC_READ;
    out->caller = plans[0]->exec.caller; /* one group, one caller (src/batch) */
    out->returns_rows = 1;
    out->format = HP_FORMAT_BATCH;
    hp_query__gen_t g;
    hp_query__gen_init(&g, dialect, pool);
    if (dialect == HP_DIALECT_POSTGRES) {
        out->renders_in_db = 1;
        hp_query__gen_lit(&g, "SELECT string_agg((\"_hp_k\".\"i\" - 1)::text || ':' || ");
        hp_query__gen_row_json(&g, root);
        hp_query__gen_lit(&g, ", E'\\x1e'), count(*), NULL::int8 FROM unnest(CAST(");
        hp_query__gen_bind_text(&g, array_keys(plans, n, pool));
        hp_query__gen_lit(&g, " AS ");
        hp_query__gen_append(&g, key->decl_type, strlen(key->decl_type));
        hp_query__gen_lit(&g, "[])) WITH ORDINALITY AS \"_hp_k\"(\"v\", \"i\")");
        append_join(&g, t, key, "\"v\"");
    } else {
        hp_query__gen_lit(&g, "SELECT \"_hp_k\".\"key\", ");
        hp_query__gen_row_json(&g, root);
        hp_query__gen_lit(&g, " FROM json_each(");
        hp_query__gen_bind_text(&g, json_keys(plans, n, pool));
        hp_query__gen_lit(&g, ") AS \"_hp_k\"");
        append_join(&g, t, key, "\"value\"");
    }
    hp_query__gen_finish(&g, &out->main);
}
