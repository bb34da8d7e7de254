/* test_log.c -- kvlog: append, get, term, truncation at both ends,
 * hard state, metadata, and what survives a close and reopen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "kvtest.h"

typedef struct fx {
    char *dir;
    kvlog *l;
} fx;

static kvlog *open_log(const char *dir)
{
    kvlog *l = NULL;
    char err[256];
    assert_int_equal(kvlog_open(&l, dir, KVT_MAP, err, sizeof(err)), 0);
    return l;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    f->dir = kvt_mkdtemp();
    f->l = open_log(f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    kvlog_close(f->l);
    kvt_rmrf(f->dir);
    free(f);
    return 0;
}

static void reopen(fx *f)
{
    kvlog_close(f->l);
    f->l = open_log(f->dir);
}

static void append_n(kvlog *l, uint64_t from, uint64_t to, uint64_t term)
{
    char buf[64];
    for (uint64_t i = from; i <= to; i++) {
        int n = snprintf(buf, sizeof(buf), "entry-%llu-%llu", (unsigned long long)i,
                         (unsigned long long)term);
        assert_int_equal(kvlog_append(l, i, term, (uint8_t)(i % 3), buf, (size_t)n), 0);
    }
}

static void check_entry(kvlog *l, uint64_t i, uint64_t term)
{
    char want[64];
    uint64_t t;
    uint8_t type;
    void *data;
    size_t len;
    int n = snprintf(want, sizeof(want), "entry-%llu-%llu", (unsigned long long)i,
                     (unsigned long long)term);
    assert_int_equal(kvlog_get(l, i, &t, &type, &data, &len), 0);
    assert_int_equal(t, term);
    assert_int_equal(type, i % 3);
    assert_int_equal(len, (size_t)n);
    assert_memory_equal(data, want, len);
    free(data);
    assert_int_equal(kvlog_term(l, i, &t), 0);
    assert_int_equal(t, term);
}

static void new_log_is_empty(void **state)
{
    fx *f = *state;
    kvlog_hardstate hs = {1, 2, 3};
    uint64_t t = 99;
    void *d;
    size_t n;
    assert_int_equal(kvlog_first_index(f->l), 1);
    assert_int_equal(kvlog_last_index(f->l), 0);
    assert_int_equal(kvlog_get_hardstate(f->l, &hs), 0);
    assert_int_equal(hs.term + hs.vote + hs.commit, 0);
    assert_int_equal(kvlog_term(f->l, 0, &t), 0);
    assert_int_equal(t, 0);
    assert_int_equal(kvlog_term(f->l, 1, &t), KV_ENOTFOUND);
    assert_int_equal(kvlog_get(f->l, 1, NULL, NULL, &d, &n), KV_ENOTFOUND);
    assert_int_equal(kvlog_get_meta(f->l, "cluster-id", &d, &n), KV_ENOTFOUND);
    int pct = kvlog_used_pct(f->l);
    assert_true(pct >= 0 && pct <= 100);
}

static void appended_entries_read_back_before_and_after_sync(void **state)
{
    fx *f = *state;
    append_n(f->l, 1, 100, 2);
    assert_int_equal(kvlog_last_index(f->l), 100);
    for (uint64_t i = 1; i <= 100; i++)
        check_entry(f->l, i, 2);
    assert_int_equal(kvlog_sync(f->l), 0);
    assert_int_equal(kvlog_sync(f->l), 0); /* nothing pending: a no-op */
    reopen(f);
    assert_int_equal(kvlog_first_index(f->l), 1);
    assert_int_equal(kvlog_last_index(f->l), 100);
    for (uint64_t i = 1; i <= 100; i++)
        check_entry(f->l, i, 2);
}

static void append_must_follow_the_last_index(void **state)
{
    fx *f = *state;
    assert_int_equal(kvlog_append(f->l, 2, 1, 0, "x", 1), KV_EINVAL);
    assert_int_equal(kvlog_append(f->l, 0, 1, 0, "x", 1), KV_EINVAL);
    append_n(f->l, 1, 3, 1);
    assert_int_equal(kvlog_append(f->l, 3, 1, 0, "x", 1), KV_EINVAL);
    assert_int_equal(kvlog_append(f->l, 5, 1, 0, "x", 1), KV_EINVAL);
    assert_int_equal(kvlog_append(f->l, 4, 1, 0, NULL, 0), 0); /* empty entry */
    void *d;
    size_t n;
    assert_int_equal(kvlog_get(f->l, 4, NULL, NULL, &d, &n), 0);
    assert_int_equal(n, 0);
    free(d);
}

static void truncate_suffix_replaces_a_conflicting_tail(void **state)
{
    fx *f = *state;
    append_n(f->l, 1, 50, 1);
    assert_int_equal(kvlog_sync(f->l), 0);
    assert_int_equal(kvlog_truncate_suffix(f->l, 30), 0);
    assert_int_equal(kvlog_last_index(f->l), 29);
    uint64_t t;
    assert_int_equal(kvlog_term(f->l, 30, &t), KV_ENOTFOUND);
    append_n(f->l, 30, 40, 3);
    assert_int_equal(kvlog_sync(f->l), 0);
    reopen(f);
    assert_int_equal(kvlog_last_index(f->l), 40);
    for (uint64_t i = 1; i < 30; i++)
        check_entry(f->l, i, 1);
    for (uint64_t i = 30; i <= 40; i++)
        check_entry(f->l, i, 3);
    /* Past the end: nothing to do. Everything: an empty log. */
    assert_int_equal(kvlog_truncate_suffix(f->l, 41), 0);
    assert_int_equal(kvlog_truncate_suffix(f->l, 1), 0);
    assert_int_equal(kvlog_last_index(f->l), 0);
    append_n(f->l, 1, 2, 4);
    check_entry(f->l, 2, 4);
}

static void hardstate_and_meta_survive_reopen(void **state)
{
    fx *f = *state;
    kvlog_hardstate hs = {7, 3, 42}, got;
    assert_int_equal(kvlog_set_hardstate(f->l, &hs), 0);
    assert_int_equal(kvlog_set_meta(f->l, "cluster-id", "abc", 3), 0);
    assert_int_equal(kvlog_set_meta(f->l, "node-id", "\0\1", 2), 0);
    assert_int_equal(kvlog_get_hardstate(f->l, &got), 0); /* pending, visible */
    assert_int_equal(got.term, 7);
    assert_int_equal(kvlog_sync(f->l), 0);
    reopen(f);
    assert_int_equal(kvlog_get_hardstate(f->l, &got), 0);
    assert_int_equal(got.term, 7);
    assert_int_equal(got.vote, 3);
    assert_int_equal(got.commit, 42);
    void *v;
    size_t n;
    assert_int_equal(kvlog_get_meta(f->l, "cluster-id", &v, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(v, "abc", 3);
    free(v);
    assert_int_equal(kvlog_get_meta(f->l, "node-id", &v, &n), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(v, "\0\1", 2);
    free(v);
    /* Names do not collide with the log's own keys. */
    assert_int_equal(kvlog_get_meta(f->l, "hardstate", &v, &n), KV_ENOTFOUND);
}

static void truncate_prefix_keeps_the_term_before_the_first_entry(void **state)
{
    fx *f = *state;
    append_n(f->l, 1, 10, 1);
    append_n(f->l, 11, 20, 2);
    assert_int_equal(kvlog_truncate_prefix(f->l, 12), 0);
    assert_int_equal(kvlog_first_index(f->l), 12);
    assert_int_equal(kvlog_last_index(f->l), 20);
    assert_int_equal(kvlog_sync(f->l), 0);
    reopen(f);
    assert_int_equal(kvlog_first_index(f->l), 12);
    assert_int_equal(kvlog_snapshot_index(f->l), 11);
    uint64_t t;
    assert_int_equal(kvlog_term(f->l, 11, &t), 0);
    assert_int_equal(t, 2);
    assert_int_equal(kvlog_term(f->l, 10, &t), KV_ENOTFOUND);
    void *d;
    size_t n;
    assert_int_equal(kvlog_get(f->l, 11, NULL, NULL, &d, &n), KV_ENOTFOUND);
    check_entry(f->l, 12, 2);
    assert_int_equal(kvlog_truncate_suffix(f->l, 5), KV_EINVAL);
    /* Compacting everything leaves an empty log after index 20. */
    assert_int_equal(kvlog_truncate_prefix(f->l, 21), 0);
    assert_int_equal(kvlog_first_index(f->l), 21);
    assert_int_equal(kvlog_last_index(f->l), 20);
    assert_int_equal(kvlog_term(f->l, 20, &t), 0);
    assert_int_equal(t, 2);
    append_n(f->l, 21, 21, 5);
    check_entry(f->l, 21, 5);
}

static void reset_starts_the_log_after_a_snapshot(void **state)
{
    fx *f = *state;
    append_n(f->l, 1, 5, 1);
    assert_int_equal(kvlog_reset(f->l, 1000, 9), 0);
    assert_int_equal(kvlog_sync(f->l), 0);
    reopen(f);
    assert_int_equal(kvlog_first_index(f->l), 1001);
    assert_int_equal(kvlog_last_index(f->l), 1000);
    uint64_t t;
    assert_int_equal(kvlog_term(f->l, 1000, &t), 0);
    assert_int_equal(t, 9);
    assert_int_equal(kvlog_append(f->l, 1, 1, 0, "x", 1), KV_EINVAL);
    append_n(f->l, 1001, 1003, 9);
    check_entry(f->l, 1003, 9);
}

static void large_entries_round_trip(void **state)
{
    fx *f = *state;
    size_t n = 3 << 20;
    char *big = malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)(i * 31);
    assert_int_equal(kvlog_append(f->l, 1, 1, 1, big, n), 0);
    assert_int_equal(kvlog_sync(f->l), 0);
    reopen(f);
    void *d;
    size_t len;
    assert_int_equal(kvlog_get(f->l, 1, NULL, NULL, &d, &len), 0);
    assert_int_equal(len, n);
    assert_memory_equal(d, big, n);
    free(d);
    free(big);
    int pct = kvlog_used_pct(f->l);
    assert_true(pct >= 1 && pct <= 100);
}

static void a_full_map_is_reported(void **state)
{
    (void)state;
    char *dir = kvt_mkdtemp();
    kvlog *l = NULL;
    char err[256];
    assert_int_equal(kvlog_open(&l, dir, 1 << 20, err, sizeof(err)), 0);
    char buf[4096] = {0};
    int rc = 0;
    uint64_t i;
    for (i = 1; i < 10000 && rc == 0; i++) {
        rc = kvlog_append(l, i, 1, 0, buf, sizeof(buf));
        if (rc == 0 && i % 16 == 0) rc = kvlog_sync(l);
    }
    assert_int_equal(rc, KV_EFULL);
    assert_string_equal(kv_strerror(KV_EFULL), "storage map full");
    kvlog_close(l);
    kvt_rmrf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(new_log_is_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(appended_entries_read_back_before_and_after_sync, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(append_must_follow_the_last_index, setup, teardown),
        cmocka_unit_test_setup_teardown(truncate_suffix_replaces_a_conflicting_tail, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(hardstate_and_meta_survive_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(truncate_prefix_keeps_the_term_before_the_first_entry,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(reset_starts_the_log_after_a_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(large_entries_round_trip, setup, teardown),
        cmocka_unit_test(a_full_map_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
