#include <string.h>
#include "core/time.h"
#include "http/admin.h"
#include "http/dashboard.h"
#include "http/loop.h"

typedef struct {
    h2o_handler_t super;
    hp_db_t *db;
    hp_http_caching_t *caching;
    hp_metrics_t *metrics;
    hp_overload_limiter_t *limiter; /* NULL without admission control */
} admin_handler_t;

static void send_text(h2o_req_t *req, int status, const char *reason, const char *type,
                      const char *body, size_t len)
{
    req->res.status = status;
    req->res.reason = reason;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, type, strlen(type));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                   H2O_STRLIT("no-store"));
    h2o_send_inline(req, body, len);
}

#define JSON_OK "{\"status\":\"ok\"}"

/* Ready once a schema snapshot is loaded (it always is after a successful start; the check
 * keeps /ready honest should loading ever become asynchronous) and the database answers
 * (PostgreSQL: not while the primary cannot be reached). */
static int is_ready(hp_db_t *db)
{
    if (!hp_db_is_reachable(db))
        return 0;
    hp_schema_t *schema = hp_db_schema(db);
    if (schema == NULL)
        return 0;
    hp_schema_unref(schema);
    return 1;
}

/* /metrics (Prometheus text) or /metrics.json (the same figures for the dashboard). */
static void send_metrics(admin_handler_t *h, h2o_req_t *req, int is_json)
{
    hp_cache_stats_t stats;
    hp_metrics_extra_t extra = {.db_statements = hp_db_query_count(h->db), .cache = NULL};
    hp_db_pool_stats_t ps;
    hp_metrics_pool_t pool;
    hp_db_pool_stats(h->db, &ps);
    if (ps.max != 0) {
        pool =
            (hp_metrics_pool_t){ps.open, ps.max, ps.busy, ps.waiting, ps.acquired, ps.acquire_ns};
        extra.pool = &pool;
    }
    hp_metrics_admission_t admission;
    if (h->limiter != NULL) {
        hp_overload_limiter_stats_t ls;
        hp_overload_limiter_stats(h->limiter, &ls);
        admission = (hp_metrics_admission_t){ls.limit, ls.max, ls.in_flight, ls.mean_ns};
        extra.admission = &admission;
    }
    if (h->caching->cache != NULL) {
        hp_cache_stats(h->caching->cache, &stats);
        extra.cache = &stats;
    }
    hp_buf_t buf;
    hp_buf_init(&buf);
    if (is_json)
        hp_metrics_render_json(h->metrics, &extra, hp_time_mono_ns() / 1000000, &buf);
    else
        hp_metrics_render(h->metrics, &extra, &buf);
    /* h2o_send_inline copies the body into the request's pool. */
    send_text(req, 200, "OK",
              is_json ? "application/json" : "text/plain; version=0.0.4; charset=utf-8", buf.ptr,
              buf.len);
    hp_buf_dispose(&buf);
}

/* The page loads nothing from elsewhere and talks only to this listener. */
#define DASHBOARD_CSP                                                             \
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; " \
    "connect-src 'self'; img-src 'self' data:"

static void send_dashboard(h2o_req_t *req)
{
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("content-security-policy"), 0,
                          NULL, H2O_STRLIT(DASHBOARD_CSP));
    send_text(req, 200, "OK", "text/html; charset=utf-8", (const char *)dashboard_html,
              dashboard_html_len);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    admin_handler_t *h = (admin_handler_t *)self;
    hp_http_access_log_tag(hp_http_loop_of(req->conn->ctx)->access_log, req);
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
        !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL,
                       H2O_STRLIT("GET, HEAD"));
        send_text(req, 405, "Method Not Allowed", "application/json",
                  H2O_STRLIT("{\"status\":\"method not allowed\"}"));
        return 0;
    }
    h2o_iovec_t path = req->path_normalized; /* without the query string */
    if (h2o_memis(path.base, path.len, H2O_STRLIT("/live")))
        send_text(req, 200, "OK", "application/json", H2O_STRLIT(JSON_OK));
    else if (h2o_memis(path.base, path.len, H2O_STRLIT("/ready"))) {
        if (is_ready(h->db))
            send_text(req, 200, "OK", "application/json", H2O_STRLIT(JSON_OK));
        else
            send_text(req, 503, "Service Unavailable", "application/json",
                      H2O_STRLIT("{\"status\":\"not ready\"}"));
    } else if (h2o_memis(path.base, path.len, H2O_STRLIT("/metrics")))
        send_metrics(h, req, 0);
    else if (h2o_memis(path.base, path.len, H2O_STRLIT("/metrics.json")))
        send_metrics(h, req, 1);
    else if (h2o_memis(path.base, path.len, H2O_STRLIT("/dashboard")))
        send_dashboard(req);
    else
        send_text(req, 404, "Not Found", "application/json",
                  H2O_STRLIT("{\"status\":\"not found\"}"));
    return 0;
}

void hp_http_admin_register(h2o_hostconf_t *hostconf, hp_db_t *db, hp_http_caching_t *caching,
                            hp_metrics_t *metrics, hp_overload_limiter_t *limiter)
{
    h2o_pathconf_t *pathconf = h2o_config_register_path(hostconf, "/", 0);
    admin_handler_t *h = (admin_handler_t *)h2o_create_handler(pathconf, sizeof(*h));
    h->super.on_req = on_req;
    h->db = db;
    h->caching = caching;
    h->metrics = metrics;
    h->limiter = limiter;
}
