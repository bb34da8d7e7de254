/* test_set.c -- the set family (kvx_set.c) beyond the differential cases:
 * a set of 100,000 members, where adding costs what it costs in a small
 * set, random picks stay members and distinct, SPOP with a count removes
 * exactly what it returns, and a whole SSCAN returns every member once;
 * SPOP at apply is the same on every node. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>

#include <cmocka.h>

#include "kvtest.h"

#include "kvtest_fx.h"

/* 1000 single-member SADDs of new members into key; seconds taken. */
static double add_1000(fx *f, const char *key, int round)
{
    char m[32];
    char *argv[3] = {"sadd", (char *)key, m};
    double t0 = now_s();
    for (int i = 0; i < 1000; i++) {
        snprintf(m, sizeof(m), "n%d-%06d", round, i);
        runv(f, 3, argv);
    }
    double t = now_s() - t0;
    assert_int_equal(kvstate_commit(f->s), 0);
    return t;
}

/* The bulk strings of a flat array reply, counted into seen[] by their
 * number ("m%06d"); returns how many. */
static long count_members(const char *p, size_t n, unsigned char *seen, long nseen)
{
    long got = 0;
    const char *end = p + n;
    while ((p = memchr(p, '$', (size_t)(end - p))) != NULL) {
        const char *nl = strstr(p, "\r\n");
        p = nl + 2;
        if (*p == 'm') {
            long i = atol(p + 1);
            assert_true(i >= 0 && i < nseen);
            seen[i]++;
        }
        got++;
    }
    return got;
}

static void a_set_of_100k_members_works_and_adding_costs_what_it_does_in_a_small_one(void **state)
{
    fx *f = *state;
    enum { N = 100000 };
    static char names[1000][16];
    char *argv[1002];
    argv[0] = "sadd";
    argv[1] = "big";
    for (int b = 0; b < N / 1000; b++) {
        for (int i = 0; i < 1000; i++) {
            snprintf(names[i], sizeof(names[i]), "m%06d", b * 1000 + i);
            argv[2 + i] = names[i];
        }
        runv(f, 1002, argv);
        assert_int_equal(kvstate_commit(f->s), 0);
    }
    expect(f, "SCARD big", ":100000\r\n");
    expect(f, "OBJECT ENCODING big", "$9\r\nhashtable\r\n");
    expect(f, "SISMEMBER big m050000", ":1\r\n");
    expect(f, "SISMEMBER big m100000", ":0\r\n");
    expect(f, "SINTERCARD 1 big LIMIT 10", ":10\r\n");

    /* Adding to the big set against adding to a small one, best of three
     * rounds (the machine is shared): a cost growing with the set's size
     * would be 100x here, log-depth growth is well inside 5x. */
    double small = 1e9, big = 1e9;
    for (int round = 0; round < 3; round++) {
        char key[16];
        snprintf(key, sizeof(key), "small%d", round);
        double s = add_1000(f, key, round), b = add_1000(f, "big", round);
        if (s < small) small = s;
        if (b < big) big = b;
    }
    fprintf(stderr, "1000 SADD: small set %.3f s, 100k set %.3f s\n", small, big);
    assert_true(big < 5 * small + 0.02);
    expect(f, "SCARD big", ":103000\r\n");
    char *rem[] = {"srem", "big", names[0]};
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 1000; i++) {
            snprintf(names[0], sizeof(names[0]), "n%d-%06d", round, i);
            runv(f, 3, rem);
        }
    expect(f, "SCARD big", ":100000\r\n");

    /* A whole SSCAN returns every member exactly once. */
    unsigned char *seen = calloc(N, 1);
    char cursor[32] = "0";
    long total = 0;
    int batches = 0;
    do {
        runv(f, 5, (char *[]){"sscan", "big", cursor, "count", "1000"});
        /* *2 $len cursor *n ... */
        const char *p = strstr(f->r.p, "\r\n") + 2;
        p = strstr(p, "\r\n") + 2;
        const char *e = strstr(p, "\r\n");
        snprintf(cursor, sizeof(cursor), "%.*s", (int)(e - p), p);
        e += 2;
        total += count_members(e, f->r.len - (size_t)(e - f->r.p), seen, N);
        batches++;
    } while (strcmp(cursor, "0") != 0 && batches < 100000);
    assert_int_equal(total, N);
    for (long i = 0; i < N; i++)
        assert_int_equal(seen[i], 1);
    fprintf(stderr, "SSCAN: %d batches\n", batches);
    assert_true(batches > 10);

    /* Random picks: distinct for a positive count, members always. */
    memset(seen, 0, N);
    runv(f, 3, (char *[]){"srandmember", "big", "500"});
    assert_int_equal(count_members(f->r.p, f->r.len, seen, N), 500);
    for (long i = 0; i < N; i++)
        assert_true(seen[i] <= 1);
    memset(seen, 0, N);
    runv(f, 3, (char *[]){"srandmember", "big", "-500"});
    assert_int_equal(count_members(f->r.p, f->r.len, seen, N), 500);
    long distinct = 0;
    for (long i = 0; i < N; i++)
        distinct += seen[i] > 0;
    assert_true(distinct > 100); /* spread, not one member */

    /* SPOP with a count removes exactly the members it returns. */
    memset(seen, 0, N);
    runv(f, 3, (char *[]){"spop", "big", "2000"});
    assert_int_equal(count_members(f->r.p, f->r.len, seen, N), 2000);
    expect(f, "SCARD big", ":98000\r\n");
    long gone = 0;
    for (long i = 0; i < N; i++) {
        char m[16];
        snprintf(m, sizeof(m), "m%06d", (int)i);
        runv(f, 3, (char *[]){"sismember", "big", m});
        int in = f->r.p[1] == '1';
        assert_true(seen[i] <= 1);
        assert_int_equal(in, !seen[i]);
        gone += !in;
    }
    assert_int_equal(gone, 2000);
    runv(f, 2, (char *[]){"spop", "big"});
    expect(f, "SCARD big", ":97999\r\n");
    /* Most of what is left (selection sampling), then the rest. */
    runv(f, 3, (char *[]){"spop", "big", "90000"});
    expect(f, "SCARD big", ":7999\r\n");
    runv(f, 3, (char *[]){"spop", "big", "10000"});
    expect(f, "EXISTS big", ":0\r\n");
    assert_int_equal(kvstate_commit(f->s), 0);
    free(seen);
}

/* SPOP and SRANDMEMBER at apply draw from kv_rand(), seeded from the entry:
 * two nodes applying the same entries pop the same members. */
static void spop_at_apply_is_the_same_on_every_node(void **state)
{
    (void)state;
    char *dirs[2];
    kvstate *s[2];
    resp_buf r[2];
    for (int n = 0; n < 2; n++) {
        dirs[n] = kvt_mkdtemp();
        s[n] = kvt_open_state(dirs[n]);
        resp_buf_init(&r[n], 2);
        assert_int_equal(kvt_runs(s[n], 1000, "SADD k a b c d e f g h i j k l m n o p", &r[n]), 0);
        assert_int_equal(kvt_runs(s[n], 1001, "SPOP k 3", &r[n]), 0);
        assert_int_equal(kvt_runs(s[n], 1002, "SPOP k", &r[n]), 0);
        assert_int_equal(kvt_runs(s[n], 1003, "SPOP k 11", &r[n]), 0);
    }
    assert_int_equal(r[0].len, r[1].len);
    assert_memory_equal(r[0].p, r[1].p, r[0].len);
    for (int n = 0; n < 2; n++) {
        resp_buf_free(&r[n]);
        kvstate_close(s[n]);
        kvt_rmrf(dirs[n]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            a_set_of_100k_members_works_and_adding_costs_what_it_does_in_a_small_one, setup,
            teardown),
        cmocka_unit_test(spop_at_apply_is_the_same_on_every_node),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
