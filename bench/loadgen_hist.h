/*
 * bench/loadgen_hist: an HDR-style log-linear histogram of 64-bit values (bench/loadgen records
 * nanoseconds). Values below 2 x LG_HIST_SUB are counted exactly; above, every power-of-two
 * range is split into LG_HIST_SUB equal buckets, so a reported value is never more than
 * 1/LG_HIST_SUB (0.4%) above the true one, whatever its magnitude, and the whole uint64_t
 * range fits in a fixed table (no allocation, no overflow bucket).
 *
 * Single-threaded: one owner records into it. The struct is about 115 KiB: allocate it, or
 * keep it static, rather than on a small stack.
 */
#ifndef HP_BENCH_LOADGEN_HIST_H
#define HP_BENCH_LOADGEN_HIST_H

#include <stddef.h>
#include <stdint.h>

#define LG_HIST_SUB_BITS 8
#define LG_HIST_SUB (1u << LG_HIST_SUB_BITS)
/* Exact buckets 0 .. 2 x SUB - 1, then SUB buckets for each shift 1 .. 64 - SUB_BITS - 1. */
#define LG_HIST_BUCKETS ((size_t)LG_HIST_SUB * (64 - LG_HIST_SUB_BITS + 1))

typedef struct {
    uint64_t counts[LG_HIST_BUCKETS];
    uint64_t count; /* values recorded */
    uint64_t min, max;
    double sum; /* for the mean; a double keeps it from overflowing */
} lg_hist_t;

/* Empties the histogram. */
void lg_hist_init(lg_hist_t *h);
/* Counts one value. */
void lg_hist_record(lg_hist_t *h, uint64_t value);
/* The value at or below which `percent` (0..100) of the recorded values lie: the highest value
 * of the bucket that holds that rank, never above the largest value recorded. percent 0 gives
 * the smallest value, 100 the largest; an empty histogram gives 0. */
uint64_t lg_hist_percentile(const lg_hist_t *h, double percent);
/* The arithmetic mean of the recorded values (exact, not bucketed); 0 when empty. */
double lg_hist_mean(const lg_hist_t *h);

/* The bucket that counts `value`, and the lowest and highest value that bucket counts (exposed
 * for the unit tests). */
size_t lg_hist_bucket_of(uint64_t value);
uint64_t lg_hist_bucket_low(size_t bucket);
uint64_t lg_hist_bucket_high(size_t bucket);

#endif
