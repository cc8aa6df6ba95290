/*
 * The REST API handler: maps an HTTP request to an hp_request_t, plans it (src/query),
 * submits it to the database as a job, and answers when the job comes back to the loop.
 * Runs on the event-loop threads only; never blocks.
 */
#ifndef HP_HTTP_API_H
#define HP_HTTP_API_H

#include <h2o.h>

/* Registers the API on `path` ("/") of hostconf. */
void hp_http_api_register(h2o_hostconf_t *hostconf, const char *path);
/* The receiver callback for cache waiters' messages (each loop registers it on its queue). */
void hp_http_api_on_cache_messages(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages);

#endif
