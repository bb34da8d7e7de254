/* test_stream.c -- streams where cases_stream.txt cannot reach: ids `*`
 * come from the entry's time (never a clock), so two states applying the
 * same entries agree whatever their clocks say; a 100,000-entry stream
 * costs XADD, XDEL and a point XRANGE what a small one does, and its DEL
 * goes to the cleanup queue; random XADD/XDEL/XTRIM (exact and `~`)
 * against a model of the live ids; a snapshot carries a stream whole
 * (entries, nodes, last id, deleted id, entries added). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "kvtest.h"
#include "storage/kvsnap.h"

#define BIG 100000
#define BATCH 8

#include "kvtest_cmd.h"

static void star_ids_come_from_the_entry_time(void **state)
{
    (void)state;
    char *dir = kvt_mkdtemp();
    kvstate *s = kvt_open_state(dir);
    resp_buf out;
    resp_buf_init(&out, 2);
#define XADD(tau, line, want)                                                                      \
    do {                                                                                           \
        resp_buf_reset(&out);                                                                      \
        assert_int_equal(kvt_runs(s, tau, line, &out), 0);                                         \
        resp_add_raw(&out, "", 1);                                                                 \
        assert_string_equal(out.p, want);                                                          \
    } while (0)
    XADD(1000, "XADD s * f v", "$6\r\n1000-0\r\n");
    XADD(1000, "XADD s * f v", "$6\r\n1000-1\r\n");
    XADD(500, "XADD s * f v", "$6\r\n1000-2\r\n"); /* an older entry time: still after */
    XADD(2000, "XADD s * f v", "$6\r\n2000-0\r\n");
    XADD(2000, "XADD s 2000-* f v", "$6\r\n2000-1\r\n");
    XADD(2000, "XADD s 3000-* f v", "$6\r\n3000-0\r\n");
    XADD(2500, "XADD s * f v", "$6\r\n3000-1\r\n"); /* the last id is ahead of tau */
    XADD(2500, "XSETID s 5000-5", "+OK\r\n");
    XADD(2600, "XADD s * f v", "$6\r\n5000-6\r\n");
    XADD(9000, "XADD s MAXLEN 2 * f v", "$6\r\n9000-0\r\n");
    XADD(9000, "XLEN s", ":2\r\n");
#undef XADD
    resp_buf_free(&out);
    kvstate_close(s);
    kvt_rmrf(dir);
}

/* Two states given the same entries and different clocks (the read's
 * wall, the write's tau being the entry's) hold the same stream. */
static void two_states_with_different_clocks_agree(void **state)
{
    (void)state;
    char *d1 = kvt_mkdtemp(), *d2 = kvt_mkdtemp();
    kvstate *a = kvt_open_state(d1), *b = kvt_open_state(d2);
    resp_buf ra, rb;
    resp_buf_init(&ra, 2);
    resp_buf_init(&rb, 2);
    char *argv[] = {"XADD", "s", "MAXLEN", "~", "150", "*", "f", "v"};
    size_t argvlen[] = {4, 1, 6, 1, 3, 1, 1, 1};
    int64_t tau = 1700000000000;
    for (int i = 0; i < 400; i++) {
        tau += i % 3 == 0; /* several entries per millisecond */
        resp_buf_reset(&ra);
        resp_buf_reset(&rb);
        assert_int_equal(kvt_run(a, tau, tau + 12345, 8, argv, argvlen, &ra), 0);
        assert_int_equal(kvt_run(b, tau, tau - 777, 8, argv, argvlen, &rb), 0);
        assert_int_equal(ra.len, rb.len);
        assert_memory_equal(ra.p, rb.p, ra.len);
    }
    char *rv[] = {"XRANGE", "s", "-", "+"};
    size_t rl[] = {6, 1, 1, 1};
    resp_buf_reset(&ra);
    resp_buf_reset(&rb);
    assert_int_equal(kvt_run(a, tau, tau + 99999, 4, rv, rl, &ra), 0);
    assert_int_equal(kvt_run(b, tau, tau - 99999, 4, rv, rl, &rb), 0);
    assert_int_equal(ra.len, rb.len);
    assert_memory_equal(ra.p, rb.p, ra.len);
    /* 400 entries, trimmed by whole nodes of 100 while above 150. */
    assert_memory_equal(ra.p, "*200\r\n", 6);
    resp_buf_free(&ra);
    resp_buf_free(&rb);
    kvstate_close(a);
    kvstate_close(b);
    kvt_rmrf(d1);
    kvt_rmrf(d2);
}

/* Seconds for n XADDs of new ids after base, a point XRANGE of each, and
 * an XDEL of each. */
static double time_point_ops(kvstate *s, resp_buf *out, const char *key, int n, long base)
{
    char want[64];
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        snprintf(want, sizeof(want), "$%d\r\n%ld-0\r\n", (int)snprintf(NULL, 0, "%ld-0", base + i),
                 base + i);
        assert_string_equal(run1(s, out, "XADD %s %ld f v%d", key, base + i, i), want);
    }
    for (int i = 0; i < n; i++)
        assert_memory_equal(run1(s, out, "XRANGE %s %ld %ld", key, base + i, base + i), "*1\r\n",
                            4);
    for (int i = 0; i < n; i++)
        assert_string_equal(run1(s, out, "XDEL %s %ld", key, base + i), ":1\r\n");
    double t = now_s() - t0;
    assert_int_equal(kvstate_commit(s), 0);
    return t;
}

static void a_100k_entry_stream_costs_what_a_small_one_does(void **state)
{
    (void)state;
    char *dir = kvt_mkdtemp();
    kvstate *s = kvt_open_state(dir);
    resp_buf out;
    resp_buf_init(&out, 2);
    for (int i = 1; i <= BIG; i++) {
        run1(s, &out, "XADD big %d-1 f %d", i, i);
        if (i % 10000 == 0) assert_int_equal(kvstate_commit(s), 0);
    }
    assert_string_equal(run1(s, &out, "XLEN big"), ":100000\r\n");
    assert_string_equal(run1(s, &out, "XRANGE big 54321 + COUNT 1"),
                        "*1\r\n*2\r\n$7\r\n54321-1\r\n*2\r\n$1\r\nf\r\n$5\r\n54321\r\n");
    assert_string_equal(run1(s, &out, "XREVRANGE big (54321-1 - COUNT 1"),
                        "*1\r\n*2\r\n$7\r\n54320-1\r\n*2\r\n$1\r\nf\r\n$5\r\n54320\r\n");
    assert_string_equal(run1(s, &out, "XRANGE small - +"), "*0\r\n");
    assert_string_equal(run1(s, &out, "XADD small 1-1 f v"), "$3\r\n1-1\r\n");

    double big = 1e9, small = 1e9;
    for (int round = 0; round < 3; round++) {
        double t = time_point_ops(s, &out, "small", 1000, 200000 + round * 1000);
        if (t < small) small = t;
        t = time_point_ops(s, &out, "big", 1000, 200000 + round * 1000);
        if (t < big) big = t;
    }
    fprintf(stderr, "1000 XADD+XRANGE+XDEL: small stream %.3f s, 100k stream %.3f s\n", small, big);
    assert_true(big < small * 8 + 0.05);

    /* Approximate trimming removes whole nodes of 100 from the head, at
     * most LIMIT entries (by default 100 nodes' worth). */
    assert_string_equal(run1(s, &out, "XTRIM big MAXLEN ~ 50050"), ":10000\r\n");
    assert_string_equal(run1(s, &out, "XTRIM big MAXLEN ~ 50050 LIMIT 50000"), ":39900\r\n");
    assert_string_equal(run1(s, &out, "XLEN big"), ":50100\r\n");
    assert_string_equal(run1(s, &out, "XTRIM big MAXLEN ~ 10 LIMIT 250"), ":200\r\n");
    assert_string_equal(run1(s, &out, "XTRIM big MINID 50102"), ":1\r\n");
    assert_memory_equal(run1(s, &out, "XRANGE big - + COUNT 1"), "*1\r\n*2\r\n$7\r\n50102-1", 19);
    assert_string_equal(run1(s, &out, "XLEN big"), ":49899\r\n");
    assert_int_equal(kvstate_commit(s), 0);

    /* DEL: the entries go to the cleanup queue, not the command. */
    double t0 = now_s();
    assert_string_equal(run1(s, &out, "DEL big"), ":1\r\n");
    double del = now_s() - t0;
    fprintf(stderr, "DEL of a 49,899-entry stream: %.4f s\n", del);
    assert_true(kvstate_gc_pending(s) >= 1);
    assert_string_equal(run1(s, &out, "XLEN big"), ":0\r\n");
    while (kvstate_gc(s, 10000) > 0)
        assert_int_equal(kvstate_commit(s), 0);
    assert_int_equal(kvstate_gc_pending(s), 0);

    resp_buf_free(&out);
    kvstate_close(s);
    kvt_rmrf(dir);
}

/* The ids "N-0" a reply of XRANGE s - + holds, in order (every entry is
 * "f v"); returns how many. */
static int parse_ids(const char *r, long *ids, int cap)
{
    int n;
    assert_int_equal(sscanf(r, "*%d", &n), 1);
    assert_true(n <= cap);
    const char *p = r;
    for (int i = 0; i < n; i++) {
        p = strstr(p, "*2\r\n$");
        assert_non_null(p);
        p = strstr(p + 4, "\r\n") + 2;
        ids[i] = strtol(p, NULL, 10);
        p = strstr(p, "v\r\n") + 3; /* past the entry's fields */
    }
    return n;
}

#define MODEL 3000

static void random_operations_match_a_model(void **state)
{
    (void)state;
    char *dir = kvt_mkdtemp();
    kvstate *s = kvt_open_state(dir);
    resp_buf out;
    resp_buf_init(&out, 2);
    static long model[MODEL], got[MODEL];
    int n = 0;
    long next = 1;
    uint64_t rng = 88172645463325252ull;
    for (int step = 0; step < 4000; step++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        int op = (int)(rng % 100);
        if (op < 60 && n < MODEL - 1) {
            run1(s, &out, "XADD s %ld f v", next);
            model[n++] = next++;
        } else if (op < 85) {
            if (n == 0) continue;
            int k = (int)((rng >> 20) % (uint64_t)n);
            assert_string_equal(run1(s, &out, "XDEL s %ld", model[k]), ":1\r\n");
            memmove(model + k, model + k + 1, (size_t)(n - k - 1) * sizeof(long));
            n--;
        } else if (op < 90) {
            int keep = (int)((rng >> 20) % 300);
            char want[32];
            snprintf(want, sizeof(want), ":%d\r\n", n > keep ? n - keep : 0);
            assert_string_equal(run1(s, &out, "XTRIM s MAXLEN %d", keep), want);
            if (n > keep) {
                memmove(model, model + n - keep, (size_t)keep * sizeof(long));
                n = keep;
            }
        } else if (op < 93 && n > 0) {
            long minid = model[(rng >> 20) % (uint64_t)n];
            int k = 0;
            while (k < n && model[k] < minid)
                k++;
            char want[32];
            snprintf(want, sizeof(want), ":%d\r\n", k);
            assert_string_equal(run1(s, &out, "XTRIM s MINID %ld", minid), want);
            memmove(model, model + k, (size_t)(n - k) * sizeof(long));
            n -= k;
        } else {
            /* `~`: never below the threshold, and what stays is a suffix. */
            int keep = (int)((rng >> 20) % 400);
            run1(s, &out, "XTRIM s MAXLEN ~ %d", keep);
            int left = parse_ids(run1(s, &out, "XRANGE s - +"), got, MODEL);
            assert_true(left >= (n < keep ? n : keep));
            assert_true(left <= n);
            assert_memory_equal(got, model + (n - left), (size_t)left * sizeof(long));
            memmove(model, model + (n - left), (size_t)left * sizeof(long));
            n = left;
        }
        if (step % 50 == 0 || step == 3999) {
            char want[32];
            snprintf(want, sizeof(want), ":%d\r\n", n);
            assert_string_equal(run1(s, &out, "XLEN s"), want);
            assert_int_equal(parse_ids(run1(s, &out, "XRANGE s - +"), got, MODEL), n);
            assert_memory_equal(got, model, (size_t)n * sizeof(long));
            assert_int_equal(kvstate_commit(s), 0);
        }
    }
    resp_buf_free(&out);
    kvstate_close(s);
    kvt_rmrf(dir);
}

/* Streams a's state into b in small chunks and installs it. */
static void transfer(kvstate *a, kvstate *b)
{
    kvsnap_reader *r;
    assert_int_equal(kvsnap_reader_open(a, &r), 0);
    uint64_t index = kvsnap_reader_index(r), off = 0, staged;
    int64_t tau = kvsnap_reader_tau(r);
    int last = 0;
    while (!last) {
        const uint8_t *d;
        size_t l;
        assert_int_equal(kvsnap_reader_next(r, 4096, &d, &l, &last), 0);
        assert_int_equal(kvsnap_stage(b, index, 3, off, d, l, last, &staged), 0);
        off += l;
    }
    kvsnap_reader_close(r);
    assert_int_equal(kvsnap_install(b, index, 3, tau), 0);
}

static void a_snapshot_carries_streams(void **state)
{
    (void)state;
    char *da = kvt_mkdtemp(), *db = kvt_mkdtemp();
    kvstate *a = kvt_open_state(da), *b = kvt_open_state(db);
    resp_buf ra, rb;
    resp_buf_init(&ra, 2);
    resp_buf_init(&rb, 2);
    for (int i = 1; i <= 450; i++)
        run1(a, &ra, "XADD s %d-%d f%d v", i, i % 3, i % 7);
    run1(a, &ra, "XDEL s 5-2 450-0 300-0");
    assert_string_equal(run1(a, &ra, "XSETID s 900-9 ENTRIESADDED 1000"), "+OK\r\n");
    run1(a, &ra, "XADD empty MAXLEN 0 1-1 f v");
    assert_int_equal(kvstate_commit(a), 0);
    run1(b, &rb, "XADD s 1-1 stale v");
    assert_int_equal(kvstate_commit(b), 0);
    transfer(a, b);
    /* The same replies from both, to reads and to writes that depend on
     * the metadata (next id) and the nodes (approximate trimming). */
    static const char *const lines[] = {
        "XRANGE s - +",
        "XLEN s",
        "XLEN empty",
        "TYPE empty",
        "XADD s 900-* f v",
        "XADD empty 1-1 f v",
        "XTRIM s MAXLEN ~ 120",
        "XRANGE s - + COUNT 3",
        "XDEL s 449-2",
        "XTRIM s MINID ~ 420",
        "XREVRANGE s + - COUNT 5",
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        const char *x = run1(a, &ra, "%s", lines[i]);
        const char *y = run1(b, &rb, "%s", lines[i]);
        assert_int_equal(ra.len, rb.len);
        assert_memory_equal(x, y, ra.len);
    }
    assert_string_equal(run1(b, &rb, "XLEN empty"), ":0\r\n");
    resp_buf_free(&ra);
    resp_buf_free(&rb);
    kvstate_close(a);
    kvstate_close(b);
    kvt_rmrf(da);
    kvt_rmrf(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(star_ids_come_from_the_entry_time),
        cmocka_unit_test(two_states_with_different_clocks_agree),
        cmocka_unit_test(a_100k_entry_stream_costs_what_a_small_one_does),
        cmocka_unit_test(random_operations_match_a_model),
        cmocka_unit_test(a_snapshot_carries_streams),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
