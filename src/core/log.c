#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include "core/log.h"

static hp_log_level_t max_level = HP_LOG_INFO;

void hp_log_set_level(hp_log_level_t level)
{
    max_level = level;
}

void hp_log(hp_log_level_t level, const char *fmt, ...)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    if (level > max_level)
        return;

    char line[2048];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t len = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    len += (size_t)snprintf(line + len, sizeof(line) - len, ".%03ldZ %s ", now.tv_nsec / 1000000,
                            names[level]);

    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line + len, sizeof(line) - len - 1, fmt, ap);
    va_end(ap);
    if (n > 0)
        len += (size_t)n < sizeof(line) - len - 1 ? (size_t)n : sizeof(line) - len - 2;
    line[len++] = '\n';
    /* One write per line so lines from different threads never interleave. */
    ssize_t r = write(STDERR_FILENO, line, len);
    (void)r;
}
