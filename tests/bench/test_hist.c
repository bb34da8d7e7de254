/* bench_waitgen_hist: the latency histogram of tests/bench/waitgen.c
 * (hist.h). Buckets tile the value range with no gap or overlap; small values
 * are exact; a percentile is never below the true one nor more than 1/64
 * above it (checked against a sort of the same random samples, of several
 * shapes); the maximum and minimum are exact; merging equals recording into
 * one histogram; the count above a threshold misses only samples in the
 * threshold's own bucket. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests/bench/hist.h"

static int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

static uint64_t rng = 88172645463325252ull;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The true percentile as hist_percentile defines it: the ceil(p/100*n)-th
 * smallest sample. */
static uint64_t exact_percentile(const uint64_t *sorted, size_t n, double p)
{
    double want = p / 100.0 * (double)n;
    size_t rank = (size_t)want;
    if ((double)rank < want) rank++;
    if (rank < 1) rank = 1;
    return sorted[rank - 1];
}

static void test_buckets(void)
{
    /* consecutive buckets tile [0, HIST_MAX_US] */
    CHECK(hist_lower(0) == 0, "first bucket starts at %" PRIu64, hist_lower(0));
    for (unsigned i = 0; i + 1 < HIST_BUCKETS; i++) {
        CHECK(hist_lower(i) <= hist_upper(i), "bucket %u: %" PRIu64 " > %" PRIu64, i, hist_lower(i),
              hist_upper(i));
        CHECK(hist_upper(i) + 1 == hist_lower(i + 1), "gap or overlap after bucket %u", i);
        CHECK(hist_index(hist_lower(i)) == i && hist_index(hist_upper(i)) == i,
              "bucket %u bounds map elsewhere", i);
    }
    CHECK(hist_upper(HIST_BUCKETS - 1) == HIST_MAX_US, "last bucket ends at %" PRIu64,
          hist_upper(HIST_BUCKETS - 1));
    CHECK(hist_index(UINT64_MAX) == HIST_BUCKETS - 1, "huge values are not clamped");
    for (uint64_t v = 0; v < HIST_EXACT; v++)
        CHECK(hist_lower(hist_index(v)) == v && hist_upper(hist_index(v)) == v,
              "%" PRIu64 " is not exact", v);
    /* the width of a bucket is at most 1/64 of its lower bound */
    for (unsigned i = HIST_EXACT; i < HIST_BUCKETS; i++) {
        uint64_t w = hist_upper(i) - hist_lower(i) + 1;
        CHECK(w * HIST_SUB <= hist_lower(i), "bucket %u is too wide (%" PRIu64 ")", i, w);
    }
}

static void test_empty_and_one(void)
{
    hist h;
    hist_init(&h);
    CHECK(hist_percentile(&h, 50) == 0 && hist_percentile(&h, 100) == 0, "empty histogram");
    hist_record(&h, 123456);
    for (double p = 1; p <= 100; p += 7)
        CHECK(hist_percentile(&h, p) == 123456, "one sample: p%.0f is %" PRIu64, p,
              hist_percentile(&h, p));
    CHECK(h.n == 1 && h.min_us == 123456 && h.max_us == 123456, "one sample: n/min/max");
}

static void test_against_sort(const char *shape, uint64_t (*gen)(void), size_t n)
{
    uint64_t *v = malloc(n * sizeof(*v));
    hist h, a, b;
    hist_init(&h);
    hist_init(&a);
    hist_init(&b);
    if (v == NULL) {
        failures++;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        v[i] = gen();
        hist_record(&h, v[i]);
        hist_record(i % 2 ? &a : &b, v[i]);
    }
    hist_merge(&a, &b);
    qsort(v, n, sizeof(*v), cmp_u64);
    static const double ps[] = {0.1, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100};
    for (size_t k = 0; k < sizeof(ps) / sizeof(ps[0]); k++) {
        uint64_t want = exact_percentile(v, n, ps[k]);
        uint64_t got = hist_percentile(&h, ps[k]);
        CHECK(got >= want, "%s p%g: %" PRIu64 " below the true %" PRIu64, shape, ps[k], got, want);
        CHECK(got - want <= want / HIST_SUB, "%s p%g: %" PRIu64 " more than 1/64 above %" PRIu64,
              shape, ps[k], got, want);
        CHECK(hist_percentile(&a, ps[k]) == got, "%s p%g: merged histogram differs", shape, ps[k]);
    }
    static const uint64_t thresholds[] = {0, 100, 1000, 10000, 250000};
    for (size_t k = 0; k < sizeof(thresholds) / sizeof(thresholds[0]); k++) {
        uint64_t t = thresholds[k], above = 0, near = 0, got = hist_count_above(&h, t);
        for (size_t i = 0; i < n; i++) {
            above += v[i] > t;
            near += v[i] > t && v[i] <= hist_upper(hist_index(t));
        }
        /* every sample counted is above t; the ones missed share t's bucket */
        CHECK(got <= above && above - got <= near,
              "%s: %" PRIu64 " above %" PRIu64 " us, true %" PRIu64, shape, got, t, above);
    }
    CHECK(h.max_us == v[n - 1] && h.min_us == v[0], "%s: min/max not exact", shape);
    CHECK(hist_percentile(&h, 100) == v[n - 1], "%s: p100 is not the maximum", shape);
    CHECK(h.n == n && a.n == n, "%s: count", shape);
    free(v);
}

static uint64_t gen_uniform_small(void)
{
    return rnd() % 200;
}
static uint64_t gen_uniform_ms(void)
{
    return 100 + rnd() % 5000;
}
static uint64_t gen_lognormal(void)
{ /* latency-like: a body near 1 ms and a long tail */
    double u1 = ((double)(rnd() >> 11) + 1.0) / 9007199254740993.0;
    double u2 = (double)(rnd() >> 11) / 9007199254740992.0;
    double z = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
    return (uint64_t)exp(6.9 + 1.2 * z);
}
static uint64_t gen_bimodal(void)
{
    return rnd() % 100 < 97 ? 300 + rnd() % 50 : 250000 + rnd() % 1000000;
}
static uint64_t gen_wide(void)
{
    return (rnd() >> 23) >> (rnd() % 41);
} /* up to HIST_MAX_US */

int main(void)
{
    test_buckets();
    test_empty_and_one();
    test_against_sort("uniform 0-200 us", gen_uniform_small, 100000);
    test_against_sort("uniform 0.1-5 ms", gen_uniform_ms, 200000);
    test_against_sort("log-normal", gen_lognormal, 300000);
    test_against_sort("bimodal", gen_bimodal, 100000);
    test_against_sort("every magnitude", gen_wide, 100000);
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("hist: all checks passed\n");
    return 0;
}
