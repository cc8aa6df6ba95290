/*
 * Clocks, one place for the whole program: a monotonic clock for durations and deadlines,
 * and the wall clock (CLOCK_REALTIME) for what is shown to clients (HTTP dates, TTLs).
 * Thread-safe (vDSO calls, no state).
 */
#ifndef HP_CORE_TIME_H
#define HP_CORE_TIME_H

#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t hp_time_mono_ns(void);
/* CLOCK_REALTIME in milliseconds since the epoch. */
uint64_t hp_time_real_ms(void);

#endif
