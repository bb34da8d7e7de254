/* test_hash.c -- hashes at a size cases_hash.txt cannot reach, and what a
 * single reply cannot show: a 100,000-field hash works, the single-field
 * commands cost about what they cost on a small hash, HSCAN returns every
 * field present for the whole scan while the hash changes, and HRANDFIELD
 * picks uniformly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>

#include <cmocka.h>

#include "kvtest.h"

#define BIG 100000
#define BATCH 1000

#include "kvtest_cmd.h"

/* Fields "f00000042" (values "v42"): distinct first 8 bytes for every 10
 * fields. */
static void fill_big(kvstate *s, resp_buf *out)
{
    static cmd c;
    for (int b = 0; b < BIG / BATCH; b++) {
        cmd_reset(&c);
        cmd_arg(&c, "HSET");
        cmd_arg(&c, "big");
        for (int i = b * BATCH; i < (b + 1) * BATCH; i++) {
            cmd_arg(&c, "f%08d", i);
            cmd_arg(&c, "v%d", i);
        }
        char want[32];
        snprintf(want, sizeof(want), ":%d\r\n", BATCH);
        assert_string_equal(run(s, &c, out), want);
        assert_int_equal(kvstate_commit(s), 0);
    }
}

/* Seconds for n single-field HSETs of new fields into key, then as many
 * HGETs and HDELs of them. */
static double time_point_ops(kvstate *s, resp_buf *out, const char *key, int n, int base)
{
    double t0 = now_s();
    for (int i = 0; i < n; i++)
        assert_string_equal(run1(s, out, "HSET %s n%08d %d", key, base + i, i), ":1\r\n");
    for (int i = 0; i < n; i++)
        assert_non_null(strstr(run1(s, out, "HGET %s n%08d", key, base + i), "$"));
    for (int i = 0; i < n; i++)
        assert_string_equal(run1(s, out, "HDEL %s n%08d", key, base + i), ":1\r\n");
    double t = now_s() - t0;
    assert_int_equal(kvstate_commit(s), 0);
    return t;
}

/* The next bulk string of a flat RESP2 reply at *p: its bytes in buf. */
static void next_bulk(const char **p, char *buf, size_t cap)
{
    unsigned len;
    assert_int_equal(sscanf(*p, "$%u\r\n", &len), 1);
    assert_true(len < cap);
    const char *d = strstr(*p, "\r\n") + 2;
    memcpy(buf, d, len);
    buf[len] = 0;
    *p = d + len + 2;
}

static void a_100k_field_hash_works_and_point_ops_do_not_grow_with_it(void **state)
{
    (void)state;
    char *dir = kvt_mkdtemp();
    kvstate *s = kvt_open_state(dir);
    resp_buf out;
    resp_buf_init(&out, 2);

    fill_big(s, &out);
    assert_string_equal(run1(s, &out, "HLEN big"), ":100000\r\n");
    assert_string_equal(run1(s, &out, "OBJECT ENCODING big"), "$9\r\nhashtable\r\n");
    assert_string_equal(run1(s, &out, "HGET big f00054321"), "$6\r\nv54321\r\n");

    /* Point operations: the same work into the big hash as into a
     * one-field one, best of three rounds each, within a generous factor
     * (an O(n) step would be ~1000x). */
    assert_string_equal(run1(s, &out, "HSET small x 1"), ":1\r\n");
    double big = 1e9, small = 1e9;
    for (int round = 0; round < 3; round++) {
        double t = time_point_ops(s, &out, "small", 1000, 200000 + round * 1000);
        if (t < small) small = t;
        t = time_point_ops(s, &out, "big", 1000, 200000 + round * 1000);
        if (t < big) big = t;
    }
    fprintf(stderr, "1000 HSET+HGET+HDEL: small hash %.3f s, 100k hash %.3f s\n", small, big);
    assert_true(big < small * 8 + 0.05);
    assert_string_equal(run1(s, &out, "HLEN big"), ":100000\r\n");
    assert_string_equal(run1(s, &out, "HINCRBY big counter 5"), ":5\r\n");
    assert_string_equal(run1(s, &out, "HINCRBYFLOAT big counter 0.5"), "$3\r\n5.5\r\n");
    assert_string_equal(run1(s, &out, "HDEL big counter"), ":1\r\n");

    /* HSCAN while the hash changes: every field present for the whole scan
     * (here the odd ones) is returned, batches stay near COUNT. Between
     * calls an even field is deleted and a new "g" field added. */
    static unsigned char seen[BIG];
    memset(seen, 0, sizeof(seen));
    long long calls = 0, extra = 0;
    char cursor[32] = "0", f[64], v[64];
    do {
        const char *r = run1(s, &out, "HSCAN big %s COUNT 100", cursor);
        assert_memory_equal(r, "*2\r\n", 4);
        r += 4;
        next_bulk(&r, cursor, sizeof(cursor));
        long long n;
        assert_int_equal(sscanf(r, "*%lld", &n), 1);
        r = strstr(r, "\r\n") + 2;
        assert_true(n % 2 == 0);
        for (long long i = 0; i < n / 2; i++) {
            next_bulk(&r, f, sizeof(f));
            next_bulk(&r, v, sizeof(v));
            if (f[0] == 'f') {
                int idx = atoi(f + 1);
                assert_true(idx >= 0 && idx < BIG);
                seen[idx]++;
            } else {
                extra++;
            }
        }
        assert_true(n / 2 <= 100 + 10);
        int del = (int)(calls * 2 * 37 % BIG) & ~1;
        run1(s, &out, "HDEL big f%08d", del);
        run1(s, &out, "HSET big g%08lld x", calls);
        calls++;
    } while (strcmp(cursor, "0") != 0);
    for (int i = 1; i < BIG; i += 2)
        assert_int_equal(seen[i], 1); /* present throughout: exactly once */
    assert_true(calls >= BIG / 110 && calls <= BIG / 90 + 1);
    fprintf(stderr, "HSCAN COUNT 100: %lld calls, %lld added fields seen\n", calls, extra);

    assert_string_equal(run1(s, &out, "DEL big"), ":1\r\n");
    assert_string_equal(run1(s, &out, "HLEN big"), ":0\r\n");

    resp_buf_free(&out);
    kvstate_close(s);
    kvt_rmrf(dir);
}

/* Fields of uneven gaps in byte order: "a", "b", "f1".."f9", "zzzzzzzz". A
 * pick that seeks to random bytes would almost never land on most of them;
 * Redis picks uniformly. 12,000 repeats: each field expects 1000. */
static void hrandfield_picks_every_field_of_a_small_hash_uniformly(void **state)
{
    (void)state;
    char *dir = kvt_mkdtemp();
    kvstate *s = kvt_open_state(dir);
    resp_buf out;
    resp_buf_init(&out, 2);
    static const char *fields[] = {"a",  "b",  "f1", "f2", "f3", "f4",
                                   "f5", "f6", "f7", "f8", "f9", "zzzzzzzz"};
    enum { NF = 12, DRAWS = 12000 };
    for (int i = 0; i < NF; i++)
        assert_string_equal(run1(s, &out, "HSET h %s %d", fields[i], i), ":1\r\n");
    assert_string_equal(run1(s, &out, "OBJECT ENCODING h"), "$8\r\nlistpack\r\n");

    int hits[NF] = {0};
    const char *r = run1(s, &out, "HRANDFIELD h -%d", DRAWS);
    char f[32];
    int n;
    assert_int_equal(sscanf(r, "*%d", &n), 1);
    assert_int_equal(n, DRAWS);
    r = strstr(r, "\r\n") + 2;
    for (int i = 0; i < DRAWS; i++) {
        next_bulk(&r, f, sizeof(f));
        int k = 0;
        while (k < NF && strcmp(fields[k], f) != 0)
            k++;
        assert_true(k < NF);
        hits[k]++;
    }
    /* The single-pick form, one command each. */
    int single[NF] = {0};
    for (int i = 0; i < 1200; i++) {
        r = run1(s, &out, "HRANDFIELD h");
        next_bulk(&r, f, sizeof(f));
        for (int k = 0; k < NF; k++)
            if (strcmp(fields[k], f) == 0) single[k]++;
    }
    for (int k = 0; k < NF; k++) {
        fprintf(stderr, "%s: %d of %d, %d of 1200\n", fields[k], hits[k], DRAWS, single[k]);
        assert_true(hits[k] > 800 && hits[k] < 1200); /* ~6 sigma */
        assert_true(single[k] > 40 && single[k] < 170);
    }
    resp_buf_free(&out);
    kvstate_close(s);
    kvt_rmrf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_100k_field_hash_works_and_point_ops_do_not_grow_with_it),
        cmocka_unit_test(hrandfield_picks_every_field_of_a_small_hash_uniformly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
