/*
 * The REST API handler: takes each HTTP request on the API listener, gives it a call on the
 * request's pool and runs the request pipeline (http/pipeline/pipeline.h) on it, answering
 * through the HTTP sink below (conditional requests, content coding and the caching headers by
 * http/caching.h). Counts the request out (metrics, in-flight) when h2o disposes of it.
 * Event-loop threads only; never blocks.
 */
#ifndef HP_HTTP_API_H
#define HP_HTTP_API_H

#include <h2o.h>

/* Registers the API on `path` ("/") of hostconf. */
void hp_http_api_register(h2o_hostconf_t *hostconf, const char *path);

#endif
