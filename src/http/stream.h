/*
 * Streamed responses: a read whose body the database hands back in pieces (db.h, "Streamed
 * results") is sent as it comes, so a response of any size costs the server about one piece
 * (stream-after-bytes) plus the socket's buffers, whatever the client's speed.
 *
 * The status and headers go first, with the first piece: those of the unstreamed response
 * where they can be known up front (Content-Type, Preference-Applied, Last-Modified, Vary,
 * Content-Location, Server-Timing to the first piece), and no Content-Length, ETag or
 * Content-Encoding (the body is sent identity); Content-Range and the status follow the rules
 * of docs/streaming.md. Cache-Status says "detail=streamed", and nothing is cached. Each piece
 * is handed to h2o as it comes; the next is asked of the database only when h2o has written
 * the last one to the socket (backpressure: a slow client slows the query, never grows the
 * server). A client that reads nothing for server-send-timeout-ms is disconnected. An error
 * after the first piece aborts the connection (the status is long gone). HEAD runs the stream
 * with the pieces discarded and answers at its end with the exact headers of the unstreamed
 * HEAD (Content-Length and ETag of the identity body included).
 *
 * The stream owns the job from hp_http_stream_start on: it destroys it exactly once, after
 * the database's last piece, and cancels the query when the request goes away first.
 * Event-loop threads only (the job's loop).
 */
#ifndef HP_HTTP_STREAM_H
#define HP_HTTP_STREAM_H

#include <h2o.h>
#include "cache/policy.h"
#include "db/db.h"
#include "query/query.h"

/* What the answer's Cache-Status and Server-Timing report. */
typedef struct {
    const hp_cache_policy_t *policy; /* the table's caching policy (Cache-Control, Vary), or NULL */
    const char *cache_status;        /* the Cache-Status value (borrowed: a literal) */
    uint64_t cache_ns;               /* time spent on the cache lookup */
    uint64_t db_ns;                  /* from submit to the first piece */
    uint64_t last_modified_ms;       /* when the tables read last changed (Last-Modified) */
} hp_http_stream_info_t;

/* Takes over `job`, which came back to its loop with result.is_streaming set and its first
 * piece, and answers `req` with it. req NULL (the request is gone, or a background refresh):
 * the stream is cancelled and the job destroyed once the database confirms. `plan` is the
 * job's (it lives in the job's pool). The job's on_done and data are the stream's from now on. */
void hp_http_stream_start(h2o_req_t *req, hp_db_job_t *job, const hp_plan_t *plan,
                          const hp_http_stream_info_t *info);

#endif
