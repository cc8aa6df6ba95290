/*
 * The HTTP server: h2o event loops, one per thread (server-threads), each with its own
 * SO_REUSEPORT listener so the kernel spreads connections across loops; keep-alive, HTTP/1.1
 * and HTTP/2 (h2c upgrade) from h2o.
 *
 * The thread that calls hp_server_run handles signals: SIGTERM/SIGINT start a graceful
 * shutdown (each loop accepts what its listener's accept queue holds and closes it, idle
 * connections close, every request read is answered with Connection: close, then the loops
 * exit, bounded by server-shutdown-timeout-ms); SIGUSR1 reloads the schema cache.
 */
#ifndef HP_HTTP_SERVER_H
#define HP_HTTP_SERVER_H

#include <stddef.h>
#include "config/config.h"
#include "db/db.h"

typedef struct st_hp_server_t hp_server_t;

/* Binds the listening sockets (so a busy port fails here, before any thread starts). The
 * config and db are borrowed and must outlive the server. NULL with a reason on failure. */
hp_server_t *hp_server_create(const hp_config_t *conf, hp_db_t *db, char *errbuf, size_t errlen);
/* Blocks the signals hp_server_run waits for in the calling thread. Call before any thread is
 * started (the database's included): threads inherit the mask, and a SIGTERM that a thread
 * without it happened to take would kill the process instead of shutting it down. */
void hp_server_block_signals(void);
/* Starts the loops and blocks, handling signals, until a shutdown completes. Returns the
 * process exit code: 0 after a graceful shutdown, 1 if requests were cut off by the timeout. */
int hp_server_run(hp_server_t *server);
/* Frees what create made; call after hp_server_run returned. */
void hp_server_destroy(hp_server_t *server);

#endif
