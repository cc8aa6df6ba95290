/*
 * The request headers the planner reads: Accept (which format to answer in), Prefer (how a
 * write returns, whether to count, how to resolve conflicts) and Range (which rows). Each
 * parser works on the raw header value, allocates nothing unless it reports an error, and
 * takes no lock.
 */
#include <string.h>
#include "query/query.h"

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

static h2o_iovec_t trim(const char *p, size_t len)
{
    while (len != 0 && is_space(*p)) {
        ++p;
        --len;
    }
    while (len != 0 && is_space(p[len - 1]))
        --len;
    return h2o_iovec_init(p, len);
}

static int equals_nocase(h2o_iovec_t s, const char *lit)
{
    size_t n = strlen(lit);
    if (s.len != n)
        return 0;
    for (size_t i = 0; i != n; ++i) {
        char c = s.base[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != lit[i])
            return 0;
    }
    return 1;
}

/* Splits s at the first `sep`: the head is returned, *rest keeps what follows (len 0 and base
 * NULL when there was no separator). */
static h2o_iovec_t split_at(h2o_iovec_t s, char sep, h2o_iovec_t *rest)
{
    const char *hit = s.len != 0 ? memchr(s.base, sep, s.len) : NULL;
    if (hit == NULL) {
        *rest = h2o_iovec_init(NULL, 0);
        return s;
    }
    *rest = h2o_iovec_init(hit + 1, s.len - (size_t)(hit + 1 - s.base));
    return h2o_iovec_init(s.base, (size_t)(hit - s.base));
}

/* q-value: "0", "0.5", "1", "1.000" (RFC 9110 qvalue) as thousandths; anything else counts as
 * 1000, so a malformed weight never hides a media type. */
static int parse_qvalue(h2o_iovec_t v)
{
    if (v.len == 0 || (v.base[0] != '0' && v.base[0] != '1'))
        return 1000;
    int q = (v.base[0] - '0') * 1000;
    if (v.len == 1)
        return q;
    if (v.base[1] != '.' || v.len > 5)
        return 1000;
    int scale = 100;
    for (size_t i = 2; i != v.len; ++i, scale /= 10) {
        if (v.base[i] < '0' || v.base[i] > '9')
            return 1000;
        q += (v.base[i] - '0') * scale;
    }
    return q > 1000 ? 1000 : q;
}

/* Which format a media range names, or -1 for one we cannot produce. */
static int format_of_media(h2o_iovec_t media)
{
    if (media.len == 0 || equals_nocase(media, "*/*") || equals_nocase(media, "application/*") ||
        equals_nocase(media, "application/json") ||
        equals_nocase(media, "application/vnd.pgrst.array+json"))
        return HP_FORMAT_JSON;
    if (equals_nocase(media, "application/vnd.pgrst.object+json") ||
        equals_nocase(media, "application/vnd.pgrst.object"))
        return HP_FORMAT_OBJECT;
    if (equals_nocase(media, "text/csv"))
        return HP_FORMAT_CSV;
    return -1;
}

/*
 * Accept := range ("," range)*
 * range  := type "/" subtype (";" param)*        with param q=<qvalue> or anything else
 * The acceptable range with the highest q wins; among equal q the first listed.
 */
int hp_query_parse_accept(h2o_iovec_t value, hp_format_t *out, hp_error_t *err,
                          h2o_mem_pool_t *pool)
{
    h2o_iovec_t rest = trim(value.base, value.len);
    if (rest.len == 0) {
        *out = HP_FORMAT_JSON;
        return 0;
    }
    int best_q = 0, best = -1;
    while (rest.base != NULL) {
        h2o_iovec_t range = split_at(rest, ',', &rest);
        h2o_iovec_t params;
        h2o_iovec_t media = split_at(range, ';', &params);
        media = trim(media.base, media.len);
        int q = 1000;
        while (params.base != NULL) {
            h2o_iovec_t param = split_at(params, ';', &params);
            h2o_iovec_t pval;
            h2o_iovec_t pname = split_at(param, '=', &pval);
            pname = trim(pname.base, pname.len);
            if (pval.base != NULL && equals_nocase(pname, "q"))
                q = parse_qvalue(trim(pval.base, pval.len));
        }
        if (media.len == 0)
            continue; /* "a, ,b": an empty element is skipped (RFC 9110 list rule) */
        int format = format_of_media(media);
        if (format >= 0 && q > best_q) {
            best_q = q;
            best = format;
        }
    }
    if (best < 0)
        return hp_error_set(err, pool, HP_ERR_NOT_ACCEPTABLE,
                            "None of these media types are available: %.*s", (int)value.len,
                            value.base);
    *out = (hp_format_t)best;
    return 0;
}

/*
 * Prefer := pref ("," pref)*      pref := token ["=" word] (";" parameter)*
 * Known: return=minimal|representation|headers-only, count=exact|planned|estimated,
 * resolution=merge-duplicates|ignore-duplicates, missing=default|null. Others are ignored.
 */
void hp_query_parse_prefer(h2o_iovec_t value, hp_prefer_t *out)
{
    h2o_iovec_t rest = value;
    while (rest.base != NULL) {
        h2o_iovec_t params;
        h2o_iovec_t pref = split_at(split_at(rest, ',', &rest), ';', &params);
        h2o_iovec_t word;
        h2o_iovec_t name = split_at(pref, '=', &word);
        name = trim(name.base, name.len);
        word = trim(word.base, word.len);
        if (equals_nocase(name, "return")) {
            if (equals_nocase(word, "minimal"))
                out->ret = HP_RETURN_MINIMAL;
            else if (equals_nocase(word, "representation"))
                out->ret = HP_RETURN_REPRESENTATION;
            else if (equals_nocase(word, "headers-only"))
                out->ret = HP_RETURN_HEADERS_ONLY;
        } else if (equals_nocase(name, "count")) {
            if (equals_nocase(word, "exact"))
                out->count = HP_COUNT_EXACT;
            else if (equals_nocase(word, "planned"))
                out->count = HP_COUNT_PLANNED;
            else if (equals_nocase(word, "estimated"))
                out->count = HP_COUNT_ESTIMATED;
        } else if (equals_nocase(name, "resolution")) {
            if (equals_nocase(word, "merge-duplicates"))
                out->resolution = HP_RESOLUTION_MERGE;
            else if (equals_nocase(word, "ignore-duplicates"))
                out->resolution = HP_RESOLUTION_IGNORE;
        } else if (equals_nocase(name, "missing")) {
            if (equals_nocase(word, "default"))
                out->missing = HP_MISSING_DEFAULT;
            else if (equals_nocase(word, "null"))
                out->missing = HP_MISSING_NULL;
        }
    }
}

/* Reads a decimal number that fits in int64 (so it can be bound); -1 when s is not one. */
static int parse_index(h2o_iovec_t s, uint64_t *out)
{
    if (s.len == 0 || s.len > 19)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i != s.len; ++i) {
        if (s.base[i] < '0' || s.base[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s.base[i] - '0');
    }
    if (v > (uint64_t)INT64_MAX)
        return -1;
    *out = v;
    return 0;
}

/*
 * Range := ["items" "="] first "-" [last]
 * first > last is well-formed but unsatisfiable: RANGE (416), as PostgREST answers it.
 */
int hp_query_parse_range(h2o_iovec_t value, hp_range_t *out, hp_error_t *err, h2o_mem_pool_t *pool)
{
    h2o_iovec_t v = trim(value.base, value.len);
    if (v.len >= 6 && equals_nocase(h2o_iovec_init(v.base, 6), "items="))
        v = trim(v.base + 6, v.len - 6);
    h2o_iovec_t last_text;
    h2o_iovec_t first_text = split_at(v, '-', &last_text);
    uint64_t first, last = UINT64_MAX;
    if (last_text.base == NULL || parse_index(trim(first_text.base, first_text.len), &first) != 0)
        goto malformed;
    last_text = trim(last_text.base, last_text.len);
    if (last_text.len != 0 && parse_index(last_text, &last) != 0)
        goto malformed;
    if (first > last) {
        hp_error_set(err, pool, HP_ERR_RANGE, "Requested range not satisfiable");
        hp_error_details(err, pool,
                         "The lower boundary must be lower than or equal to the upper boundary");
        return -1;
    }
    out->is_set = 1;
    out->first = first;
    out->last = last;
    return 0;

malformed:
    hp_error_set(err, pool, HP_ERR_INVALID_RANGE, "Invalid Range header");
    hp_error_details(err, pool, "expected items=<first>-[<last>], got %.*s", (int)value.len,
                     value.base);
    return -1;
}

int hp_query_parse_method(h2o_iovec_t name, hp_method_t *out)
{
    static const struct {
        const char *name;
        hp_method_t method;
    } methods[] = {{"GET", HP_METHOD_GET},
                   {"HEAD", HP_METHOD_HEAD},
                   {"POST", HP_METHOD_POST},
                   {"PATCH", HP_METHOD_PATCH},
                   {"DELETE", HP_METHOD_DELETE}};
    for (size_t i = 0; i != sizeof(methods) / sizeof(methods[0]); ++i) {
        if (strlen(methods[i].name) == name.len &&
            memcmp(methods[i].name, name.base, name.len) == 0) {
            *out = methods[i].method;
            return 0;
        }
    }
    return -1;
}

int hp_query_read_accept_and_range(hp_request_t *r, h2o_iovec_t accept, h2o_iovec_t range,
                                   hp_error_t *err, h2o_mem_pool_t *pool)
{
    if (hp_query_parse_accept(accept, &r->format, err, pool) != 0)
        return -1;
    if (range.base == NULL || (r->method != HP_METHOD_GET && r->method != HP_METHOD_HEAD))
        return 0;
    /* PostgREST ignores a Range header it cannot read (RFC 9110 allows that), but answers 416
     * to one it can read whose end is before its start. */
    if (hp_query_parse_range(range, &r->range, err, pool) != 0) {
        if (err->code != HP_ERR_INVALID_RANGE)
            return -1;
        *err = (hp_error_t){0};
        r->range.is_set = 0;
    }
    return 0;
}
