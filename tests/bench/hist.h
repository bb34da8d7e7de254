/* A latency histogram for the benchmark tools (tests/bench/waitgen.c).
 *
 * Log-linear buckets over microseconds, like HdrHistogram with two
 * significant binary digits more than a decade: values below 128 us have a
 * bucket each (exact); above, every power of two is split into 64 equal
 * buckets, so a percentile read from a bucket's upper bound is at most 1/64
 * (1.6%) above the true sample. Constant memory (HIST_BUCKETS counters) for
 * any number of samples; recording is O(1). Values above HIST_MAX_US are
 * clamped (the exact maximum is still kept in max_us). */
#ifndef RAFTKV_BENCH_HIST_H
#define RAFTKV_BENCH_HIST_H

#include <stdint.h>
#include <string.h>

#define HIST_EXACT 128u /* values below have a bucket of their own */
#define HIST_SUB 64u    /* buckets per power of two above HIST_EXACT */
#define HIST_MAX_SHIFT 34u
#define HIST_MAX_US ((UINT64_C(1) << (HIST_MAX_SHIFT + 7)) - 1) /* ~25 days */
#define HIST_BUCKETS (HIST_EXACT + HIST_MAX_SHIFT * HIST_SUB)

typedef struct hist {
    uint64_t counts[HIST_BUCKETS];
    uint64_t n;      /* samples */
    uint64_t sum_us; /* for the mean */
    uint64_t min_us;
    uint64_t max_us; /* exact, not clamped */
} hist;

static inline void hist_init(hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min_us = UINT64_MAX;
}

/* The bucket of a value (clamped to HIST_MAX_US). */
static inline unsigned hist_index(uint64_t v)
{
    if (v > HIST_MAX_US) v = HIST_MAX_US;
    if (v < HIST_EXACT) return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v); /* >= 7 */
    unsigned shift = msb - 6u;                         /* v >> shift is in [64, 128) */
    unsigned sub = (unsigned)(v >> shift);
    return HIST_EXACT + (shift - 1u) * HIST_SUB + (sub - HIST_SUB);
}

/* The smallest and the largest value of bucket i. */
static inline uint64_t hist_lower(unsigned i)
{
    if (i < HIST_EXACT) return i;
    unsigned shift = (i - HIST_EXACT) / HIST_SUB + 1u;
    uint64_t sub = HIST_SUB + (i - HIST_EXACT) % HIST_SUB;
    return sub << shift;
}

static inline uint64_t hist_upper(unsigned i)
{
    if (i < HIST_EXACT) return i;
    unsigned shift = (i - HIST_EXACT) / HIST_SUB + 1u;
    uint64_t sub = HIST_SUB + (i - HIST_EXACT) % HIST_SUB;
    return ((sub + 1u) << shift) - 1u;
}

static inline void hist_record(hist *h, uint64_t us)
{
    h->counts[hist_index(us)]++;
    h->n++;
    h->sum_us += us;
    if (us < h->min_us) h->min_us = us;
    if (us > h->max_us) h->max_us = us;
}

/* The p-th percentile (0 < p <= 100) in microseconds: the upper bound of the
 * bucket holding the ceil(p/100 * n)-th smallest sample, never above the
 * exact maximum nor below the exact minimum; 0 when empty. */
static inline uint64_t hist_percentile(const hist *h, double p)
{
    if (h->n == 0) return 0;
    if (p >= 100.0) return h->max_us;
    double want = p / 100.0 * (double)h->n;
    uint64_t rank = (uint64_t)want;
    if ((double)rank < want) rank++;
    if (rank < 1) rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = hist_upper(i);
            if (v > h->max_us) v = h->max_us;
            if (v < h->min_us) v = h->min_us;
            return v;
        }
    }
    return h->max_us;
}

/* Samples in the buckets above the one holding v: those certainly above v,
 * and none more than 1/64 of v below it. */
static inline uint64_t hist_count_above(const hist *h, uint64_t v)
{
    uint64_t n = 0;
    for (unsigned i = hist_index(v) + 1u; i < HIST_BUCKETS; i++)
        n += h->counts[i];
    return n;
}

static inline void hist_merge(hist *into, const hist *from)
{
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        into->counts[i] += from->counts[i];
    into->n += from->n;
    into->sum_us += from->sum_us;
    if (from->min_us < into->min_us) into->min_us = from->min_us;
    if (from->max_us > into->max_us) into->max_us = from->max_us;
}

#endif
