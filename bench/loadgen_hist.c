/*
 * bench/loadgen_hist: the log-linear histogram of loadgen_hist.h.
 *
 * Layout: buckets 0 .. 2 x SUB - 1 count the values 0 .. 2 x SUB - 1 one each. A larger value
 * has its highest set bit at position msb >= SUB_BITS + 1; shifted right by
 * shift = msb - SUB_BITS it lies in SUB .. 2 x SUB - 1, and its bucket is
 * SUB x (shift + 1) + (value >> shift) - SUB. Each shift so owns SUB consecutive buckets,
 * each 2^shift values wide.
 */
#include "loadgen_hist.h"

#include <string.h>

void lg_hist_init(lg_hist_t *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

size_t lg_hist_bucket_of(uint64_t value)
{
    if (value < 2 * (uint64_t)LG_HIST_SUB)
        return (size_t)value;
    unsigned msb = 63u - (unsigned)__builtin_clzll(value);
    unsigned shift = msb - LG_HIST_SUB_BITS;
    return (size_t)LG_HIST_SUB * (shift + 1) + (size_t)(value >> shift) - LG_HIST_SUB;
}

uint64_t lg_hist_bucket_low(size_t bucket)
{
    if (bucket < 2 * (size_t)LG_HIST_SUB)
        return bucket;
    unsigned shift = (unsigned)(bucket / LG_HIST_SUB) - 1;
    uint64_t top = (uint64_t)(bucket % LG_HIST_SUB) + LG_HIST_SUB;
    return top << shift;
}

uint64_t lg_hist_bucket_high(size_t bucket)
{
    if (bucket < 2 * (size_t)LG_HIST_SUB)
        return bucket;
    unsigned shift = (unsigned)(bucket / LG_HIST_SUB) - 1;
    /* The width is 2^shift; for the very last bucket low + width - 1 is UINT64_MAX, no wrap. */
    return lg_hist_bucket_low(bucket) + ((uint64_t)1 << shift) - 1;
}

void lg_hist_record(lg_hist_t *h, uint64_t value)
{
    ++h->counts[lg_hist_bucket_of(value)];
    ++h->count;
    h->sum += (double)value;
    if (value < h->min)
        h->min = value;
    if (value > h->max)
        h->max = value;
}

/* The rank (1-based) of the value at `percent`: ceil(count x percent / 100), at least 1. */
static uint64_t rank_of(uint64_t count, double percent)
{
    if (percent <= 0)
        return 1;
    if (percent >= 100)
        return count;
    double exact = (double)count * percent / 100.0;
    uint64_t rank = (uint64_t)exact;
    if ((double)rank < exact)
        ++rank;
    return rank < 1 ? 1 : rank;
}

uint64_t lg_hist_percentile(const lg_hist_t *h, double percent)
{
    if (h->count == 0)
        return 0;
    if (percent <= 0)
        return h->min;
    uint64_t rank = rank_of(h->count, percent), seen = 0;
    for (size_t b = 0; b != LG_HIST_BUCKETS; ++b) {
        seen += h->counts[b];
        if (seen >= rank) {
            uint64_t high = lg_hist_bucket_high(b);
            return high < h->max ? high : h->max;
        }
    }
    return h->max;
}

double lg_hist_mean(const lg_hist_t *h)
{
    return h->count == 0 ? 0.0 : h->sum / (double)h->count;
}
