/* test_zset.c -- sorted sets at a size cases_zset.txt cannot reach: a
 * 100,000-member zset works, and the single-member commands cost about
 * what they cost on a small zset (no work proportional to the zset). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>

#include <cmocka.h>

#include "kvtest.h"

#define BIG 100000
#define BATCH 1000

#include "kvtest_cmd.h"

/* Members "m00000042": distinct first 8 bytes for every 10 members. */
static void fill_big(kvstate *s, resp_buf *out)
{
    static cmd c;
    for (int b = 0; b < BIG / BATCH; b++) {
        cmd_reset(&c);
        cmd_arg(&c, "ZADD");
        cmd_arg(&c, "big");
        for (int i = b * BATCH; i < (b + 1) * BATCH; i++) {
            cmd_arg(&c, "%d", i);
            cmd_arg(&c, "m%08d", i);
        }
        char want[32];
        snprintf(want, sizeof(want), ":%d\r\n", BATCH);
        assert_string_equal(run(s, &c, out), want);
        assert_int_equal(kvstate_commit(s), 0);
    }
}

/* Seconds for n single-member ZADDs of new members into key, then as many
 * ZSCOREs and ZREMs of them. */
static double time_point_ops(kvstate *s, resp_buf *out, const char *key, int n, int base)
{
    double t0 = now_s();
    for (int i = 0; i < n; i++)
        assert_string_equal(run1(s, out, "ZADD %s %d n%08d", key, base + i, base + i), ":1\r\n");
    for (int i = 0; i < n; i++)
        assert_non_null(strstr(run1(s, out, "ZSCORE %s n%08d", key, base + i), "$"));
    for (int i = 0; i < n; i++)
        assert_string_equal(run1(s, out, "ZREM %s n%08d", key, base + i), ":1\r\n");
    double t = now_s() - t0;
    assert_int_equal(kvstate_commit(s), 0);
    return t;
}

static void a_100k_member_zset_works_and_point_ops_do_not_grow_with_it(void **state)
{
    (void)state;
    char *dir = kvt_mkdtemp();
    kvstate *s = kvt_open_state(dir);
    resp_buf out;
    resp_buf_init(&out, 2);

    fill_big(s, &out);
    assert_string_equal(run1(s, &out, "ZCARD big"), ":100000\r\n");
    assert_string_equal(run1(s, &out, "OBJECT ENCODING big"), "$8\r\nskiplist\r\n");

    /* Point operations: the same work into the big zset as into a
     * one-member one, best of three rounds each, within a generous
     * factor (an O(n) step would be ~1000x). */
    assert_string_equal(run1(s, &out, "ZADD small 1 x"), ":1\r\n");
    double big = 1e9, small = 1e9;
    for (int round = 0; round < 3; round++) {
        double t = time_point_ops(s, &out, "small", 1000, 200000 + round * 1000);
        if (t < small) small = t;
        t = time_point_ops(s, &out, "big", 1000, 200000 + round * 1000);
        if (t < big) big = t;
    }
    fprintf(stderr, "1000 ZADD+ZSCORE+ZREM: small zset %.3f s, 100k zset %.3f s\n", small, big);
    assert_true(big < small * 8 + 0.05);
    assert_string_equal(run1(s, &out, "ZCARD big"), ":100000\r\n");

    /* Ranges and ranks in the middle. */
    assert_string_equal(
        run1(s, &out, "ZRANGEBYSCORE big (50000 50002 WITHSCORES"),
        "*4\r\n$9\r\nm00050001\r\n$5\r\n50001\r\n$9\r\nm00050002\r\n$5\r\n50002\r\n");
    assert_string_equal(run1(s, &out, "ZRANGE big 99998 -1"),
                        "*2\r\n$9\r\nm00099998\r\n$9\r\nm00099999\r\n");
    assert_string_equal(run1(s, &out, "ZRANK big m00070000"), ":70000\r\n");
    assert_string_equal(run1(s, &out, "ZREVRANK big m00000001"), ":99998\r\n");
    assert_string_equal(run1(s, &out, "ZCOUNT big 1000 (2000"), ":1000\r\n");
    assert_string_equal(run1(s, &out, "ZCOUNT big -inf +inf"), ":100000\r\n");
    /* A deliberate difference: repeats are bounded (kvx_zset.c). */
    assert_string_equal(run1(s, &out, "ZRANDMEMBER big -4194305"),
                        "-ERR value is out of range\r\n");
    assert_string_equal(run1(s, &out, "ZCOUNT big (10 99990"), ":99980\r\n");
    assert_string_equal(run1(s, &out, "ZPOPMAX big"), "*2\r\n$9\r\nm00099999\r\n$5\r\n99999\r\n");
    assert_string_equal(run1(s, &out, "ZADD big 99999 m00099999"), ":1\r\n");

    /* ZSCAN visits every member once with batches near COUNT. */
    long long seen = 0, calls = 0;
    char cursor[32] = "0";
    do {
        const char *r = run1(s, &out, "ZSCAN big %s COUNT 100", cursor);
        unsigned len;
        assert_int_equal(sscanf(r, "*2\r\n$%u\r\n", &len), 1);
        const char *p = strstr(r, "\r\n") + 2;
        p = strstr(p, "\r\n") + 2;
        memcpy(cursor, p, len);
        cursor[len] = 0;
        long long n;
        assert_int_equal(sscanf(p + len + 2, "*%lld", &n), 1);
        seen += n / 2;
        calls++;
    } while (strcmp(cursor, "0") != 0);
    assert_int_equal(seen, BIG);
    assert_true(calls >= BIG / 110 && calls <= BIG / 90 + 1);

    /* Removing a whole range goes in bounded batches. */
    assert_string_equal(run1(s, &out, "ZREMRANGEBYSCORE big -inf (50000"), ":50000\r\n");
    assert_string_equal(run1(s, &out, "ZREMRANGEBYRANK big 0 24999"), ":25000\r\n");
    assert_string_equal(run1(s, &out, "ZRANGE big 0 0"), "*1\r\n$9\r\nm00075000\r\n");
    assert_string_equal(run1(s, &out, "ZREMRANGEBYLEX big - +"), ":25000\r\n");
    assert_string_equal(run1(s, &out, "EXISTS big"), ":0\r\n");

    resp_buf_free(&out);
    kvstate_close(s);
    kvt_rmrf(dir);
}

/* Applies one MULTI entry of random reads at index idx of s; the reply. */
static char *apply_random_reads(kvstate *s, uint64_t idx)
{
    char *a1[] = {"zrandmember", "r", "-10", "withscores"};
    char *a2[] = {"zrandmember", "r", "5"};
    char *a3[] = {"zrandmember", "r"};
    size_t l1[] = {11, 1, 3, 10}, l2[] = {11, 1, 1}, l3[] = {11, 1};
    resp_buf e, out;
    resp_buf_init(&e, 2);
    resp_buf_init(&out, 2);
    kventry_begin_multi(&e, 1000, 0, 3);
    kventry_add_cmd(&e, 4, a1, l1);
    kventry_add_cmd(&e, 3, a2, l2);
    kventry_add_cmd(&e, 2, a3, l3);
    assert_int_equal(kvstate_apply(s, idx, e.p, e.len, &out), 0);
    resp_add_raw(&out, "", 1);
    char *r = strdup(out.p);
    resp_buf_free(&e);
    resp_buf_free(&out);
    return r;
}

static void random_members_in_the_log_are_the_same_on_every_node(void **state)
{
    (void)state;
    char *dirs[2] = {kvt_mkdtemp(), kvt_mkdtemp()};
    kvstate *s[2];
    char *replies[2];
    resp_buf out;
    resp_buf_init(&out, 2);
    fixed_tau = 1000;
    for (int n = 0; n < 2; n++) {
        s[n] = kvt_open_state(dirs[n]);
        for (int i = 0; i < 100; i++)
            run1(s[n], &out, "ZADD r %d m%d", i, i);
        replies[n] = apply_random_reads(s[n], kvstate_applied_index(s[n]) + 1);
    }
    assert_string_equal(replies[0], replies[1]);
    /* And they are drawn: another entry draws other members. */
    char *again = apply_random_reads(s[0], kvstate_applied_index(s[0]) + 1);
    assert_string_not_equal(again, replies[0]);
    free(again);
    for (int n = 0; n < 2; n++) {
        free(replies[n]);
        kvstate_close(s[n]);
        kvt_rmrf(dirs[n]);
    }
    resp_buf_free(&out);
    fixed_tau = 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_100k_member_zset_works_and_point_ops_do_not_grow_with_it),
        cmocka_unit_test(random_members_in_the_log_are_the_same_on_every_node),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
