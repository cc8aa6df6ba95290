#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <xxhash.h>
#include "core/json.h"
#include "core/log.h"
#include "core/version.h"
#include "http/respond.h"

static const char *reason_of(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 300: return "Multiple Choices";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 429: return "Too Many Requests";
    case 503: return "Service Unavailable";
    default: return status < 500 ? "Client Error" : "Internal Server Error";
    }
}

void hp_http_add_header(h2o_req_t *req, const h2o_token_t *token, const char *value, size_t len)
{
    h2o_add_header(&req->pool, &req->res.headers, token, NULL, value, len);
}

void hp_http_add_header_str(h2o_req_t *req, const char *name, size_t name_len, const char *value,
                            size_t len)
{
    h2o_add_header_by_str(&req->pool, &req->res.headers, name, name_len, 0, NULL, value, len);
}

h2o_iovec_t hp_http_header_value(h2o_req_t *req, const h2o_token_t *token)
{
    ssize_t i = h2o_find_header(&req->headers, token, -1);
    return i == -1 ? h2o_iovec_init(NULL, 0) : req->headers.entries[i].value;
}

static void free_owned(void *p)
{
    free(*(char **)p);
}

void hp_http_own(h2o_req_t *req, void *p)
{
    void **slot = h2o_mem_alloc_shared(&req->pool, sizeof(*slot), free_owned);
    *slot = p;
}

uint64_t hp_http_peer_hash(h2o_req_t *req)
{
    struct sockaddr_storage ss = {0};
    socklen_t len = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    uint64_t h;
    if (ss.ss_family == AF_INET)
        h = XXH3_64bits(&((struct sockaddr_in *)&ss)->sin_addr, 4);
    else if (ss.ss_family == AF_INET6)
        h = XXH3_64bits(&((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
    else
        h = XXH3_64bits(&ss, len);
    return h != 0 ? h : 1;
}

char *hp_http_put_uint(char *p, uint64_t n)
{
    char digits[20];
    size_t k = 0;
    do
        digits[k++] = (char)('0' + n % 10);
    while ((n /= 10) != 0);
    while (k != 0)
        *p++ = digits[--k];
    return p;
}

/* Sends `body` (malloc'd, ownership taken) without copying: it is freed with the request. */
static void send_owned(h2o_req_t *req, char *body, size_t len)
{
    static h2o_generator_t generator = {NULL, NULL};
    hp_http_own(req, body);
    h2o_iovec_t chunk = h2o_iovec_init(body, len);
    req->res.content_length = len;
    h2o_start_response(req, &generator);
    /* h2o sends what it is given, HEAD or not: a body after a HEAD's headers would be read as
     * the next response on a kept connection. */
    int is_head = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    h2o_send(req, &chunk, body != NULL && !is_head, 1);
}

void hp_http_respond_error(h2o_req_t *req, const hp_error_t *err)
{
    hp_buf_t body;
    hp_buf_init(&body);
    hp_error_render(err, &body);
    req->res.status = hp_error_http_status(err);
    req->res.reason = reason_of(req->res.status);
    /* A 5xx is ours to look at, not the client's mistake: say so in the log. */
    if (req->res.status >= 500)
        hp_log_warn("%d %s on %.*s %.*s: %s", req->res.status, hp_error_code_text(err->code),
                    (int)req->method.len, req->method.base, (int)req->path.len, req->path.base,
                    err->message != NULL ? err->message : "");
    hp_http_add_header(req, H2O_TOKEN_CONTENT_TYPE, H2O_STRLIT("application/json; charset=utf-8"));
    /* Errors are never stored; say so unless the caller already said why. */
    if (h2o_find_header_by_str(&req->res.headers, H2O_STRLIT("cache-status"), -1) == -1)
        hp_http_add_header_str(req, H2O_STRLIT("cache-status"), H2O_STRLIT("hotpath; fwd=miss"));
    if (h2o_find_header_by_str(&req->res.headers, H2O_STRLIT("server-timing"), -1) == -1)
        hp_http_add_header_str(req, H2O_STRLIT("server-timing"), H2O_STRLIT("cache;dur=0"));
    if (err->code == HP_ERR_DB_BUSY || err->code == HP_ERR_POOL_TIMEOUT)
        hp_http_add_header(req, H2O_TOKEN_RETRY_AFTER, H2O_STRLIT("1"));
    size_t len;
    char *p = hp_buf_take(&body, &len);
    send_owned(req, p, len);
}

void hp_http_respond_errorf(h2o_req_t *req, hp_errcode_t code, const char *fmt, ...)
{
    hp_error_t err = {0};
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    hp_error_set(&err, &req->pool, code, "%s", message);
    hp_http_respond_error(req, &err);
}

static h2o_iovec_t content_type_of(hp_format_t format)
{
    switch (format) {
    case HP_FORMAT_OBJECT:
        return h2o_iovec_init(H2O_STRLIT("application/vnd.pgrst.object+json; charset=utf-8"));
    case HP_FORMAT_CSV: return h2o_iovec_init(H2O_STRLIT("text/csv; charset=utf-8"));
    default: return h2o_iovec_init(H2O_STRLIT("application/json; charset=utf-8"));
    }
}

/* "first-last/total" or "* /total" (no space), total "*" when unknown. */
static h2o_iovec_t content_range(h2o_mem_pool_t *pool, uint64_t first, uint64_t rows, int64_t total)
{
    char *s = h2o_mem_alloc_pool(pool, 64), *p = s;
    if (rows != 0) {
        p = hp_http_put_uint(p, first);
        *p++ = '-';
        p = hp_http_put_uint(p, first + rows - 1);
    } else {
        *p++ = '*';
    }
    *p++ = '/';
    if (total >= 0)
        p = hp_http_put_uint(p, (uint64_t)total);
    else
        *p++ = '*';
    return h2o_iovec_init(s, (size_t)(p - s));
}

/* Whether a Prefer header of the request names `token` (e.g. "return="): PostgREST reports
 * only the preferences the client stated. */
static int client_prefers(h2o_req_t *req, const char *token)
{
    for (ssize_t i = -1;
         (i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("prefer"), i)) != -1;) {
        h2o_iovec_t v = req->headers.entries[i].value;
        if (memmem(v.base, v.len, token, strlen(token)) != NULL)
            return 1;
    }
    return 0;
}

/* Preference-Applied's value, or len 0 when nothing is to be said. return_stated: the client
 * said return=... (the default is not reported). */
static h2o_iovec_t preference_applied(h2o_mem_pool_t *pool, const hp_plan_t *plan,
                                      int return_stated)
{
    char text[160];
    size_t len = 0;
#define APPLIED(s)                                                                           \
    do {                                                                                     \
        len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%s", len ? ", " : "", s); \
    } while (0)
    if (plan->is_write) {
        if (!return_stated)
            ; /* the default, not stated: nothing to report */
        else if (plan->prefer.ret == HP_RETURN_REPRESENTATION)
            APPLIED("return=representation");
        else if (plan->prefer.ret == HP_RETURN_HEADERS_ONLY)
            APPLIED("return=headers-only");
        else if (plan->prefer.ret == HP_RETURN_MINIMAL)
            APPLIED("return=minimal");
        if (plan->prefer.resolution == HP_RESOLUTION_MERGE)
            APPLIED("resolution=merge-duplicates");
        else if (plan->prefer.resolution == HP_RESOLUTION_IGNORE)
            APPLIED("resolution=ignore-duplicates");
        if (plan->prefer.missing == HP_MISSING_DEFAULT)
            APPLIED("missing=default");
    }
    if (plan->prefer.count == HP_COUNT_EXACT)
        APPLIED("count=exact");
#undef APPLIED
    return len != 0 ? h2o_strdup(pool, text, len) : h2o_iovec_init(NULL, 0);
}

int hp_http_read_meta(h2o_mem_pool_t *pool, const hp_plan_t *plan, const hp_exec_result_t *result,
                      int *status, hp_cache_header_t *headers, size_t *header_count,
                      hp_error_t *err)
{
    uint64_t lower = plan->offset;
    int64_t total = result->total;
    size_t n = 0;
    /* PostgREST's rule: only a known total makes a range partial or unsatisfiable. */
    int is_unsatisfiable = total >= 0 && lower > (uint64_t)total;
    h2o_iovec_t range = content_range(pool, lower, is_unsatisfiable ? 0 : result->row_count, total);
    headers[n++] = (hp_cache_header_t){"content-range", 13, range.base, range.len};
    if (is_unsatisfiable) {
        *status = 416;
        *header_count = n;
        hp_error_set(err, pool, HP_ERR_RANGE, "Requested range not satisfiable");
        hp_error_details(err, pool,
                         "An offset of %" PRIu64 " was requested, but there are only %" PRId64
                         " rows.",
                         lower, total);
        return -1;
    }
    *status = total >= 0 && result->row_count < (uint64_t)total ? 206 : 200;
    h2o_iovec_t type = content_type_of(plan->exec.format);
    headers[n++] = (hp_cache_header_t){"content-type", 12, type.base, type.len};
    if (plan->prefer.count == HP_COUNT_EXACT)
        headers[n++] = (hp_cache_header_t){"preference-applied", 18, "count=exact", 11};
    *header_count = n;
    return 0;
}

int hp_http_write_meta(h2o_mem_pool_t *pool, const hp_plan_t *plan, hp_method_t method,
                       int return_stated, const hp_exec_result_t *result, int *status,
                       hp_cache_header_t *headers, size_t *header_count)
{
    size_t n = 0;
    int has_body = plan->exec.returns_rows && plan->exec.col_count != 0;
    /* As PostgREST: an update reports the range it touched, an insert or delete only the
     * count ("* /n", no space), each with the total only when a count was asked for. */
    int64_t total = plan->prefer.count == HP_COUNT_NONE ? -1 : (int64_t)result->row_count;
    h2o_iovec_t range =
        content_range(pool, 0, method == HP_METHOD_PATCH ? result->row_count : 0, total);
    if (method == HP_METHOD_POST)
        *status =
            plan->prefer.resolution == HP_RESOLUTION_MERGE && !result->inserted_any ? 200 : 201;
    else
        *status = has_body ? 200 : 204;
    if (result->location.base != NULL && plan->prefer.ret == HP_RETURN_HEADERS_ONLY) {
        size_t name_len = plan->table->name_len, len = name_len + result->location.len + 2;
        char *loc = h2o_mem_alloc_pool(pool, len);
        loc[0] = '/';
        memcpy(loc + 1, plan->table->name, name_len);
        loc[name_len + 1] = '?';
        memcpy(loc + name_len + 2, result->location.base, result->location.len);
        headers[n++] = (hp_cache_header_t){"location", 8, loc, len};
    }
    headers[n++] = (hp_cache_header_t){"content-range", 13, range.base, range.len};
    h2o_iovec_t applied = preference_applied(pool, plan, return_stated);
    if (applied.len != 0)
        headers[n++] = (hp_cache_header_t){"preference-applied", 18, applied.base, applied.len};
    if (has_body) {
        h2o_iovec_t type = content_type_of(plan->exec.format);
        headers[n++] = (hp_cache_header_t){"content-type", 12, type.base, type.len};
    }
    *header_count = n;
    return has_body;
}

void hp_http_respond_write(h2o_req_t *req, const hp_plan_t *plan, hp_method_t method,
                           hp_exec_result_t *result)
{
    int status;
    hp_cache_header_t headers[HP_HTTP_WRITE_HEADERS];
    size_t count;
    int has_body = hp_http_write_meta(&req->pool, plan, method, client_prefers(req, "return="),
                                      result, &status, headers, &count);
    req->res.status = status;
    req->res.reason = reason_of(status);
    for (size_t i = 0; i != count; ++i)
        h2o_add_header_by_str(&req->pool, &req->res.headers, headers[i].name, headers[i].name_len,
                              0, NULL, headers[i].value, headers[i].value_len);
    hp_http_add_header_str(req, H2O_STRLIT("cache-status"), H2O_STRLIT("hotpath; fwd=method"));
    if (!has_body) {
        h2o_send_inline(req, NULL, 0);
        return;
    }
    size_t len;
    char *body = hp_buf_take(&result->body, &len);
    send_owned(req, body, len);
}

static const char *openapi_type(hp_coltype_t type)
{
    switch (type) {
    case HP_COLTYPE_INTEGER: return "integer";
    case HP_COLTYPE_REAL:
    case HP_COLTYPE_NUMERIC: return "number";
    case HP_COLTYPE_BOOLEAN: return "boolean";
    default: return "string";
    }
}

void hp_http_respond_root(h2o_req_t *req, const hp_schema_t *schema)
{
    hp_buf_t b;
    hp_buf_init(&b);
    hp_buf_append_lit(
        &b, "{\"swagger\":\"2.0\",\"info\":{\"title\":\"hotpath\",\"version\":\"" HP_VERSION "\"},"
            "\"consumes\":[\"application/json\"],\"produces\":[\"application/json\",\"text/csv\"],"
            "\"paths\":{\"/\":{}");
    size_t count = hp_schema_table_count(schema);
    for (size_t i = 0; i != count; ++i) {
        const hp_table_t *t = hp_schema_table_at(schema, i);
        hp_buf_putc(&b, ',');
        hp_buf_putc(&b, '"');
        hp_buf_putc(&b, '/');
        hp_json_string_body(&b, t->name, t->name_len);
        hp_buf_append_lit(&b, "\":{}");
    }
    hp_buf_append_lit(&b, "},\"definitions\":{");
    for (size_t i = 0; i != count; ++i) {
        const hp_table_t *t = hp_schema_table_at(schema, i);
        if (i != 0)
            hp_buf_putc(&b, ',');
        hp_json_string(&b, t->name, t->name_len);
        hp_buf_append_lit(&b, ":{\"type\":\"object\",\"properties\":{");
        for (size_t c = 0; c != t->column_count; ++c) {
            const hp_column_t *col = t->columns + c;
            if (c != 0)
                hp_buf_putc(&b, ',');
            hp_json_string(&b, col->name, col->name_len);
            hp_buf_append_lit(&b, ":{\"type\":\"");
            hp_buf_append(&b, openapi_type(col->type), strlen(openapi_type(col->type)));
            hp_buf_append_lit(&b, "\",\"format\":");
            hp_json_string(&b, col->decl_type, strlen(col->decl_type));
            hp_buf_putc(&b, '}');
        }
        hp_buf_append_lit(&b, "}}");
    }
    hp_buf_append_lit(&b, "}}");
    req->res.status = 200;
    req->res.reason = "OK";
    hp_http_add_header(req, H2O_TOKEN_CONTENT_TYPE,
                       H2O_STRLIT("application/openapi+json; charset=utf-8"));
    size_t len;
    char *body = hp_buf_take(&b, &len);
    send_owned(req, body, len);
}
