/* test_list.c -- the list family (kvx_list.c) beyond the differential
 * cases: a list of 100,000 elements, where adding costs what it costs in an
 * empty list and ranges, pops and trims cross many LMDB pages; and random
 * operations (the middle inserts and removals that shift records, both
 * ends, rotation) against an in-memory model of the list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>

#include <cmocka.h>

#include "kvtest.h"

#include "kvtest_fx.h"

/* 1000 single-element LPUSHes into key; seconds taken. */
static double push_1000(fx *f, const char *key)
{
    char *argv[3] = {"lpush", (char *)key, "pushed"};
    double t0 = now_s();
    for (int i = 0; i < 1000; i++)
        runv(f, 3, argv);
    double t = now_s() - t0;
    assert_int_equal(kvstate_commit(f->s), 0);
    return t;
}

static void
a_list_of_100k_elements_works_and_pushing_costs_what_it_does_in_a_small_one(void **state)
{
    fx *f = *state;
    static char names[1000][16];
    char *argv[1002];
    argv[0] = "rpush";
    argv[1] = "big";
    for (int b = 0; b < 100; b++) {
        for (int i = 0; i < 1000; i++) {
            snprintf(names[i], sizeof(names[i]), "e%06d", b * 1000 + i);
            argv[2 + i] = names[i];
        }
        runv(f, 1002, argv);
        assert_int_equal(kvstate_commit(f->s), 0);
    }
    expect(f, "LLEN big", ":100000\r\n");
    expect(f, "LINDEX big 0", "$7\r\ne000000\r\n");
    expect(f, "LINDEX big 50000", "$7\r\ne050000\r\n");
    expect(f, "LINDEX big -1", "$7\r\ne099999\r\n");
    expect(f, "LSET big 50000 middle", "+OK\r\n");
    expect(f, "LRANGE big 49999 50001", "*3\r\n$7\r\ne049999\r\n$6\r\nmiddle\r\n$7\r\ne050001\r\n");

    /* Pushing into the big list against pushing into a small one, the best
     * of three rounds each (the machine is shared): a cost growing with the
     * list's size would be 100x here, log-depth growth is well inside 5x. */
    double small = 1e9, big = 1e9;
    for (int round = 0; round < 3; round++) {
        char key[16];
        snprintf(key, sizeof(key), "small%d", round);
        double s = push_1000(f, key), b = push_1000(f, "big");
        if (s < small) small = s;
        if (b < big) big = b;
    }
    fprintf(stderr, "1000 LPUSH: small list %.3f s, 100k list %.3f s\n", small, big);
    assert_true(big < 5 * small + 0.02);
    expect(f, "LLEN big", ":103000\r\n");

    /* Pops and trims that cross pages, from both ends. */
    runv(f, 3, (char *[]){"rpop", "big", "1000"});
    const char *first = "*1000\r\n$7\r\ne099999\r\n$7\r\ne099998\r\n";
    assert_true(f->r.len > strlen(first) && memcmp(f->r.p, first, strlen(first)) == 0);
    assert_true(memcmp(f->r.p + f->r.len - 13, "$7\r\ne099000\r\n", 13) == 0);
    runv(f, 3, (char *[]){"lpop", "big", "3000"});
    assert_true(memcmp(f->r.p + f->r.len - 12, "$6\r\npushed\r\n", 12) == 0);
    expect(f, "LINDEX big 0", "$7\r\ne000000\r\n");
    expect(f, "LTRIM big 1000 -1001", "+OK\r\n");
    expect(f, "LLEN big", ":97000\r\n");
    expect(f, "LINDEX big 0", "$7\r\ne001000\r\n");
    expect(f, "LINDEX big -1", "$7\r\ne097999\r\n");
    expect(f, "LPOS big e097999", ":96999\r\n");
    expect(f, "LPOS big e001000 RANK -1", ":0\r\n");
    /* A middle insert shifts the shorter side only, in either direction. */
    expect(f, "LINSERT big BEFORE e001010 near-head", ":97001\r\n");
    expect(f, "LINSERT big AFTER e097990 near-tail", ":97002\r\n");
    expect(f, "LINDEX big 10", "$9\r\nnear-head\r\n");
    expect(f, "LINDEX big -10", "$9\r\nnear-tail\r\n");
    expect(f, "LREM big 0 near-head", ":1\r\n");
    expect(f, "LREM big -1 near-tail", ":1\r\n");
    expect(f, "LINDEX big 10", "$7\r\ne001010\r\n");
    expect(f, "LINDEX big -10", "$7\r\ne097990\r\n");
    expect(f, "LTRIM big 1 0", "+OK\r\n");
    expect(f, "EXISTS big", ":0\r\n");
    assert_int_equal(kvstate_commit(f->s), 0);
}

/* ------------------------------------------------------------ model */

#define MAXN 512

typedef struct model {
    char *e[MAXN * 2];
    int n;
} model;

static const char *pick(void)
{
    static char longs[2][600];
    if (!longs[0][0]) {
        memset(longs[0], 'L', 599);
        memset(longs[1], 'L', 599);
        longs[1][598] = 'M';
    }
    static const char *small[] = {"a", "b", "c", "d", ""};
    int r = rand() % 12;
    return r < 10 ? small[r % 5] : longs[r - 10];
}

static void m_insert(model *m, int pos, const char *s)
{
    memmove(m->e + pos + 1, m->e + pos, (size_t)(m->n - pos) * sizeof(char *));
    m->e[pos] = strdup(s);
    m->n++;
}

static void m_remove(model *m, int pos)
{
    free(m->e[pos]);
    memmove(m->e + pos, m->e + pos + 1, (size_t)(m->n - pos - 1) * sizeof(char *));
    m->n--;
}

static void check_model(fx *f, const model *m)
{
    resp_buf want;
    resp_buf_init(&want, 2);
    resp_add_array(&want, m->n);
    for (int i = 0; i < m->n; i++)
        resp_add_bulk(&want, m->e[i], strlen(m->e[i]));
    runv(f, 4, (char *[]){"lrange", "l", "0", "-1"});
    if (m->n == 0) {
        assert_int_equal(f->r.len, 4);
        assert_memory_equal(f->r.p, "*0\r\n", 4);
    } else {
        assert_int_equal(f->r.len, want.len);
        assert_memory_equal(f->r.p, want.p, want.len);
    }
    resp_buf_free(&want);
    char n[32];
    snprintf(n, sizeof(n), ":%d\r\n", m->n);
    expect(f, "LLEN l", n);
}

static void random_operations_match_a_model(void **state)
{
    fx *f = *state;
    model m = {.n = 0};
    srand(7);
    char a[32], b[32];
    for (int step = 0; step < 3000; step++) {
        int op = rand() % 9;
        const char *e = pick();
        if (m.n > MAXN) op = 2; /* keep it bounded: pop */
        switch (op) {
        case 0:
            runv(f, 3, (char *[]){"lpush", "l", (char *)e});
            m_insert(&m, 0, e);
            break;
        case 1:
            runv(f, 3, (char *[]){"rpush", "l", (char *)e});
            m_insert(&m, m.n, e);
            break;
        case 2: {
            int k = rand() % 4, left = rand() % 2;
            snprintf(a, sizeof(a), "%d", k);
            runv(f, 3, (char *[]){left ? "lpop" : "rpop", "l", a});
            for (int i = 0; i < k && m.n > 0; i++)
                m_remove(&m, left ? 0 : m.n - 1);
            break;
        }
        case 3: {
            const char *pivot = pick();
            int after = rand() % 2, pos = -1;
            runv(f, 5,
                 (char *[]){"linsert", "l", after ? "after" : "before", (char *)pivot, (char *)e});
            for (int i = 0; i < m.n; i++)
                if (strcmp(m.e[i], pivot) == 0) {
                    pos = i;
                    break;
                }
            if (pos >= 0) m_insert(&m, pos + after, e);
            break;
        }
        case 4: {
            int k = rand() % 7 - 3, removed = 0;
            snprintf(a, sizeof(a), "%d", k);
            runv(f, 4, (char *[]){"lrem", "l", a, (char *)e});
            if (k >= 0) {
                for (int i = 0; i < m.n && (k == 0 || removed < k);)
                    if (strcmp(m.e[i], e) == 0) {
                        m_remove(&m, i);
                        removed++;
                    } else {
                        i++;
                    }
            } else {
                for (int i = m.n - 1; i >= 0 && removed < -k; i--)
                    if (strcmp(m.e[i], e) == 0) {
                        m_remove(&m, i);
                        removed++;
                    }
            }
            char want[32];
            snprintf(want, sizeof(want), ":%d\r\n", removed);
            assert_int_equal(f->r.len, strlen(want));
            assert_memory_equal(f->r.p, want, f->r.len);
            break;
        }
        case 5:
            if (m.n > 0) {
                int i = rand() % m.n;
                snprintf(a, sizeof(a), "%d", i - (rand() % 2 ? m.n : 0));
                runv(f, 4, (char *[]){"lset", "l", a, (char *)e});
                free(m.e[i]);
                m.e[i] = strdup(e);
            }
            break;
        case 6:
            if (rand() % 4 == 0 && m.n > 0) {
                int s = rand() % (m.n + 1), t = s + rand() % (m.n + 1);
                snprintf(a, sizeof(a), "%d", s);
                snprintf(b, sizeof(b), "%d", t);
                runv(f, 4, (char *[]){"ltrim", "l", a, b});
                if (t > m.n - 1) t = m.n - 1;
                while (m.n > t + 1)
                    m_remove(&m, m.n - 1);
                for (int i = 0; i < s && m.n > 0; i++)
                    m_remove(&m, 0);
            }
            break;
        case 7:
            if (m.n > 0) {
                int from = rand() % 2, to = rand() % 2;
                runv(f, 5,
                     (char *[]){"lmove", "l", "l", from ? "right" : "left", to ? "right" : "left"});
                char *x = strdup(m.e[from ? m.n - 1 : 0]);
                m_remove(&m, from ? m.n - 1 : 0);
                m_insert(&m, to ? m.n : 0, x);
                free(x);
            }
            break;
        case 8: {
            /* through another key and back */
            if (m.n > 0) {
                runv(f, 3, (char *[]){"rpoplpush", "l", "other"});
                runv(f, 5, (char *[]){"lmove", "other", "l", "left", "left"});
                char *x = strdup(m.e[m.n - 1]);
                m_remove(&m, m.n - 1);
                m_insert(&m, 0, x);
                free(x);
                expect(f, "EXISTS other", ":0\r\n");
            }
            break;
        }
        }
        check_model(f, &m);
        if (step % 100 == 0) assert_int_equal(kvstate_commit(f->s), 0);
    }
    for (int i = 0; i < m.n; i++)
        free(m.e[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            a_list_of_100k_elements_works_and_pushing_costs_what_it_does_in_a_small_one, setup,
            teardown),
        cmocka_unit_test_setup_teardown(random_operations_match_a_model, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
