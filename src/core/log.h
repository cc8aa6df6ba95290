/*
 * Logging to stderr, one line per call, with a level filter set once at start-up. Thread-safe
 * (each line is one write(2)).
 */
#ifndef HP_CORE_LOG_H
#define HP_CORE_LOG_H

typedef enum { HP_LOG_ERROR, HP_LOG_WARN, HP_LOG_INFO, HP_LOG_DEBUG } hp_log_level_t;

void hp_log_set_level(hp_log_level_t level);
void hp_log(hp_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define hp_log_error(...) hp_log(HP_LOG_ERROR, __VA_ARGS__)
#define hp_log_warn(...) hp_log(HP_LOG_WARN, __VA_ARGS__)
#define hp_log_info(...) hp_log(HP_LOG_INFO, __VA_ARGS__)
#define hp_log_debug(...) hp_log(HP_LOG_DEBUG, __VA_ARGS__)

#endif
