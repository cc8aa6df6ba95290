/*
 * Configuration: one immutable hp_config_t built at start-up from, in rising precedence,
 * built-in defaults, an INI file (--config FILE or HOTPATH_CONFIG), the environment and
 * command-line flags. One naming rule for every key: key `db-uri` is `db-uri = ...` in the
 * file (or `uri = ...` under a `[db]` section), HOTPATH_DB_URI in the environment, and
 * `--db-uri VALUE` / `--db-uri=VALUE` on the command line.
 *
 * Every key is declared once in HP_CONFIG_KEYS; the struct, the parser, the --help text and
 * docs/config.md all come from that table. Defaults are parsed by the same code as user
 * values. A wrong key or value is reported with where it came from (file:line, the variable,
 * or the flag), the key and why. Single-threaded: build it before starting threads.
 */
#ifndef HP_CONFIG_CONFIG_H
#define HP_CONFIG_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* X(field, "key", kind, "default", min, max, "help") — min/max bound INT and BYTES values;
 * CHOICE keys list their choices in the default's place after a '|': "info|error|warn|...".
 * An INT default of 0 documented as "auto" is resolved by hp_config_resolve_auto(). */
#define HP_CONFIG_KEYS(X)                                                                          \
    X(db_uri, "db-uri", STR, "demo.db", 0, 0,                                                      \
      "database: a SQLite file path, sqlite://PATH, or postgres://... (libpq's URI)")              \
    X(db_pool, "db-pool", INT, "0", 0, 1024,                                                       \
      "SQLite: reader threads; PostgreSQL: most connections per server over all loops; "           \
      "0 = 2 x cores")                                                                             \
    X(db_pool_min, "db-pool-min", INT, "1", 0, 1024,                                               \
      "PostgreSQL: connections kept open per server (shared among the loops)")                     \
    X(db_pool_idle_ms, "db-pool-idle-ms", INT, "30000", 0, 86400000,                               \
      "PostgreSQL: an idle connection beyond db-pool-min closes after this; 0 = never")            \
    X(db_pool_lifetime_ms, "db-pool-lifetime-ms", INT, "1800000", 0, 86400000,                     \
      "PostgreSQL: a connection is replaced once idle after this age; 0 = never")                  \
    X(db_pool_acquire_ms, "db-pool-acquire-ms", INT, "10000", 1, 3600000,                          \
      "PostgreSQL: a request waits this long for a connection, then answers 504 (PGRST003)")       \
    X(db_statement_timeout_ms, "db-statement-timeout-ms", INT, "0", 0, 86400000,                   \
      "a statement running longer is cancelled: 500 57014 (PostgreSQL: statement_timeout of the "  \
      "pool's connections, an options= in db-uri wins; SQLite: reads and writes); 0 = none "       \
      "(PostgreSQL: the server's own)")                                                            \
    X(db_pipeline, "db-pipeline", INT, "16", 1, 1024,                                              \
      "PostgreSQL: most queries in flight on one connection (libpq pipeline mode); 1 = off")       \
    X(db_replicas, "db-replicas", STR, "", 0, 0,                                                   \
      "PostgreSQL: read replicas, uri,uri: reads go to the least busy one, writes to db-uri")      \
    X(batch, "batch", CHOICE, "on|on|off", 0, 0,                                                   \
      "coalesce concurrent primary-key reads of the same shape into one database query")           \
    X(batch_max, "batch-max", INT, "500", 1, 10000, "most reads one batched query answers")        \
    X(batch_max_requests, "batch-max-requests", INT, "100", 1, 10000,                              \
      "most sub-requests one POST /_/batch may carry")                                             \
    X(batch_window_us, "batch-window-us", INT, "0", 0, 1000000,                                    \
      "how long a batch may wait to fill (rounded up to ms); 0 = only while a query of its "       \
      "shape is in flight, and to the end of the event-loop iteration")                            \
    X(db_primary_after_write_ms, "db-primary-after-write-ms", INT, "5000", 0, 3600000,             \
      "with db-replicas: a client's reads go to the primary for this long after it writes")        \
    X(db_max_rows, "db-max-rows", INT, "0", 0, INT64_MAX,                                          \
      "most rows a read returns (a hard limit added to every read); 0 = no cap")                   \
    X(db_inline_budget_us, "db-inline-budget-us", INT, "500", 0, 1000000,                          \
      "reads run on the event loop when they finish within this (microseconds); slower ones "      \
      "move to the db-pool threads; 0 = always use the pool")                                      \
    X(db_snapshot_ms, "db-snapshot-ms", INT, "20", 0, 60000,                                       \
      "a read connection reuses its database snapshot for up to this long; writes through "        \
      "hotpath are seen at once, writes by other programs within this time; 0 = never reuse")      \
    X(db_watch_ms, "db-watch-ms", INT, "10", 0, 60000,                                             \
      "how often to look for writes made by other programs (they invalidate snapshots and "        \
      "cached responses); 0 = never")                                                              \
    X(db_busy_timeout_ms, "db-busy-timeout-ms", INT, "5000", 0, 600000,                            \
      "how long a statement waits for a database lock before answering 503")                       \
    X(db_max_jobs, "db-max-jobs", INT, "0", 0, 1000000,                                            \
      "overload admission: ceiling of an adaptive limit on database jobs in flight (AIMD); past "  \
      "it a job that could not finish soon (two rounds, server-request-timeout-ms) gets 503 at "   \
      "once; 0 = off (1000 lets the limit find its level)")                                        \
    X(db_client_max_jobs, "db-client-max-jobs", INT, "0", 0, 1000000,                              \
      "fair sharing: most database jobs one client (peer address) has in flight; more get 429 "    \
      "at once (point lookups by a unique key are not counted); 0 = off")                          \
    X(server_host, "server-host", STR, "127.0.0.1", 0, 0, "address to listen on")                  \
    X(server_port, "server-port", INT, "3000", 1, 65535, "port to listen on")                      \
    X(admin_server_port, "admin-server-port", INT, "0", 0, 65535,                                  \
      "port of the admin listener on server-host (/live, /ready, /metrics, /dashboard); 0 = off")  \
    X(server_threads, "server-threads", INT, "0", 0, 256, "event-loop threads; 0 = one per core")  \
    X(server_shutdown_timeout_ms, "server-shutdown-timeout-ms", INT, "10000", 0, 3600000,          \
      "on SIGTERM/SIGINT, how long in-flight requests may take before exit")                       \
    X(server_request_timeout_ms, "server-request-timeout-ms", INT, "60000", 0, 86400000,           \
      "a request still waiting for the database or a cache fill after this long gets 504; 0 = no " \
      "limit")                                                                                     \
    X(server_send_timeout_ms, "server-send-timeout-ms", INT, "30000", 0, 3600000,                  \
      "a client that reads nothing of a streamed response for this long is disconnected and "      \
      "its result released; 0 = never")                                                            \
    X(stream_after_bytes, "stream-after-bytes", BYTES, "1M", 0, (int64_t)1 << 40,                  \
      "a read whose body grows past this is sent in pieces as it is read (bounded memory, no "     \
      "ETag or Content-Length, not cached); 0 = never stream")                                     \
    X(max_body_bytes, "max-body-bytes", BYTES, "10M", 1, (int64_t)1 << 40,                         \
      "largest request body accepted (413 beyond); suffixes k, M, G")                              \
    X(cache, "cache", CHOICE, "on|on|off", 0, 0, "the built-in response cache")                    \
    X(cache_max_bytes, "cache-max-bytes", BYTES, "256M", 0, (int64_t)1 << 40,                      \
      "most bytes the response cache holds (bodies, variants, keys)")                              \
    X(cache_policy, "cache-policy", STR, "", 0, 0,                                                 \
      "per-table caching: TABLE=OPTS;... with OPTS off, ttl=S, swr=S, sie=S, max-age=S, "          \
      "s-maxage=S; * sets the defaults (ttl=300,swr=60,sie=600, clients told no-cache)")           \
    X(rate_limit, "rate-limit", STR, "", 0, 0,                                                     \
      "per-client rate limit on every API request: RATE/s or RATE/min, then ,burst=N (most "       \
      "at once; default RATE); 429 beyond (docs/limits.md); empty = off")                          \
    X(rate_limit_key, "rate-limit-key", STR, "ip", 0, 0,                                           \
      "what tells clients apart for rate limits: ip, or header:NAME (an API-key header; "          \
      "requests without it count by ip)")                                                          \
    X(rate_limit_rules, "rate-limit-rules", STR, "", 0, 0,                                         \
      "more rate limits by table and class: SELECTOR=RATE/UNIT[,burst=N];... with SELECTOR "       \
      "TABLE, TABLE:CLASS, *:CLASS or _/batch, CLASS reads, writes or bulk (docs/limits.md)")      \
    X(rate_limit_max_keys, "rate-limit-max-keys", INT, "100000", 64, 100000000,                    \
      "clients x rules whose rate-limit state is kept (16 bytes each); idle ones are forgotten")   \
    X(compress, "compress", CHOICE, "on|on|off", 0, 0,                                             \
      "gzip/br/zstd response compression by Accept-Encoding")                                      \
    X(compress_min_bytes, "compress-min-bytes", BYTES, "1k", 0, (int64_t)1 << 40,                  \
      "smallest body that is compressed")                                                          \
    X(compress_gzip_level, "compress-gzip-level", INT, "6", 1, 9, "gzip level")                    \
    X(compress_br_level, "compress-br-level", INT, "5", 0, 11, "brotli level")                     \
    X(compress_zstd_level, "compress-zstd-level", INT, "3", 1, 19, "zstd level")                   \
    X(log_level, "log-level", CHOICE, "info|error|warn|info|debug", 0, 0, "log verbosity")         \
    X(log_access, "log-access", CHOICE, "off|off|combined|json", 0, 0,                             \
      "access log, one line per API request: Apache combined (plus request id, duration, cache "   \
      "status, traceparent) or JSON lines")                                                        \
    X(log_access_file, "log-access-file", STR, "-", 0, 0,                                          \
      "where the access log goes: a file path (opened for appending) or - for stderr")

typedef enum { HP_CONFIG_STR, HP_CONFIG_INT, HP_CONFIG_BYTES, HP_CONFIG_CHOICE } hp_config_kind_t;

typedef struct {
#define HP__CONFIG_FIELD_STR(f) char *f;
#define HP__CONFIG_FIELD_INT(f) int64_t f;
#define HP__CONFIG_FIELD_BYTES(f) int64_t f;
#define HP__CONFIG_FIELD_CHOICE(f) int f; /* index into the key's choices */
#define HP__CONFIG_FIELD(field, key, kind, dflt, min, max, help) HP__CONFIG_FIELD_##kind(field)
    HP_CONFIG_KEYS(HP__CONFIG_FIELD)
#undef HP__CONFIG_FIELD
    char *config_file; /* the file read, or NULL */
} hp_config_t;

/* Builds the configuration from defaults, file, environment (envp, NULL-terminated
 * "NAME=value" strings) and flags (argv[0..argc), the arguments after the subcommand).
 * Returns 0, or -1 with a message "where: key: why" in errbuf; the caller exits 2.
 * Arguments that are not options (no leading "--") are an error. */
int hp_config_load(hp_config_t *conf, int argc, char **argv, char **envp, char *errbuf,
                   size_t errlen);
/* Frees the strings held by conf. */
void hp_config_dispose(hp_config_t *conf);
/* Replaces the "auto" zeros (db-pool, server-threads) with values from the core count. */
void hp_config_resolve_auto(hp_config_t *conf, unsigned cores);
/* Writes the option list (key, env name, default, help) for --help. */
void hp_config_print_help(FILE *out);
/* Writes the same list as a Markdown table (docs/config.md is generated from it). */
void hp_config_print_markdown(FILE *out);

#endif
