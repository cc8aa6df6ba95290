/*
 * The admin handler: what monitoring asks a running server, on its own listener
 * (admin-server-port on server-host, served by loop 0), never on the API's port:
 *   GET /live          200 {"status":"ok"} while the process answers at all
 *   GET /ready         200 {"status":"ok"} when the schema snapshot is loaded, else 503
 *   GET /metrics       the Prometheus text exposition format (src/metrics)
 *   GET /metrics.json  the same figures as one JSON object (hp_metrics_render_json)
 *   GET /dashboard     a self-contained page charting /metrics.json live (dashboard.html)
 * Anything else is 404; a method other than GET or HEAD is 405. Every answer carries an
 * X-Request-Id (http/access_log.h); admin requests are not access-logged or counted.
 * Runs on a loop thread; never blocks (a scrape sums the metrics slots and takes each cache
 * shard's lock in turn, briefly).
 */
#ifndef HP_HTTP_ADMIN_H
#define HP_HTTP_ADMIN_H

#include <h2o.h>
#include "db/db.h"
#include "http/caching.h"
#include "metrics/metrics.h"
#include "overload/limiter.h"

/* Registers the admin handler on "/" of hostconf. db, caching, metrics and limiter (NULL
 * without admission control) are borrowed: they must outlive every context that serves the
 * hostconf. */
void hp_http_admin_register(h2o_hostconf_t *hostconf, hp_db_t *db, hp_http_caching_t *caching,
                            hp_metrics_t *metrics, hp_overload_limiter_t *limiter);

#endif
