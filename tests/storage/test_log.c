/* test_log.c -- kvlog: append, get, term, truncation at both ends,
 * hard state, metadata, and what survives a close and reopen; segment
 * files rolled and deleted, torn and corrupt files, a crash with unsynced
 * writes, and random operations checked against a model across reopens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

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

/* ------------------------------------------------------------ segment files */

#define SMALL_SEGMENT "8192"

static int setup_small(void **state)
{
    setenv("RAFTKV_LOG_SEGMENT_BYTES", SMALL_SEGMENT, 1);
    return setup(state);
}

static int teardown_small(void **state)
{
    unsetenv("RAFTKV_LOG_SEGMENT_BYTES");
    return teardown(state);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The segment files, sorted (oldest first); returns how many. */
static int segments(const char *dir, char names[][512], int max)
{
    char path[512];
    char *v[256];
    int n = 0;
    snprintf(path, sizeof(path), "%s/log", dir);
    DIR *d = opendir(path);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < 256) {
        size_t len = strlen(de->d_name);
        if (len > 4 && strcmp(de->d_name + len - 4, ".wal") == 0) v[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(v, (size_t)n, sizeof(*v), cmp_str);
    for (int i = 0; i < n; i++) {
        if (i < max) snprintf(names[i], 512, "%s/%s", path, v[i]);
        free(v[i]);
    }
    return n;
}

static long file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (long)st.st_size;
}

static void patch_file(const char *path, long off, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, p, n, off), (ssize_t)n);
    close(fd);
}

static unsigned char read_byte(const char *path, long off)
{
    unsigned char c;
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &c, 1, off), 1);
    close(fd);
    return c;
}

/* Offset just past the last non-zero byte (the end of a pre-zeroed
 * segment's data). */
static long data_end(const char *path)
{
    long n = file_size(path);
    while (n > 0 && read_byte(path, n - 1) == 0)
        n--;
    return n;
}

static void append_synced(kvlog *l, uint64_t from, uint64_t to, uint64_t term)
{
    for (uint64_t i = from; i <= to; i++) {
        append_n(l, i, i, term);
        assert_int_equal(kvlog_sync(l), 0);
    }
}

typedef struct range_ctx {
    uint64_t next, term_lo_until, term_lo, term_hi;
} range_ctx;

static int check_one(void *ctx, uint64_t index, uint64_t term, uint8_t type, const void *data,
                     size_t len)
{
    range_ctx *c = ctx;
    char want[64];
    uint64_t t = index < c->term_lo_until ? c->term_lo : c->term_hi;
    int n = snprintf(want, sizeof(want), "entry-%llu-%llu", (unsigned long long)index,
                     (unsigned long long)t);
    assert_int_equal(index, c->next);
    assert_int_equal(term, t);
    assert_int_equal(type, index % 3);
    assert_int_equal(len, (size_t)n);
    assert_memory_equal(data, want, len);
    c->next++;
    return 0;
}

static void check_range(kvlog *l, uint64_t lo, uint64_t hi, uint64_t term)
{
    range_ctx c = {lo, 0, 0, term};
    assert_int_equal(kvlog_range(l, lo, hi, check_one, &c), 0);
    assert_int_equal(c.next, hi);
}

static void segments_roll_and_prefix_gc_deletes_their_files(void **state)
{
    fx *f = *state;
    char names[64][512];
    append_synced(f->l, 1, 2000, 3);
    int n = segments(f->dir, names, 64);
    assert_true(n >= 5);
    /* Every segment after the first is pre-zeroed to the segment size. */
    assert_int_equal(file_size(names[n - 1]), atol(SMALL_SEGMENT));
    /* Entries are read across segments and from the pending batch. */
    append_n(f->l, 2001, 2010, 3);
    check_range(f->l, 1, 2011, 3);
    assert_int_equal(kvlog_sync(f->l), 0);
    reopen(f);
    assert_int_equal(kvlog_last_index(f->l), 2010);
    check_range(f->l, 1, 2011, 3);
    uint64_t before = kvlog_bytes(f->l);
    assert_int_equal(kvlog_truncate_prefix(f->l, 1990), 0);
    assert_true(kvlog_bytes(f->l) < before / 50);
    /* Not durable yet: the files stay. */
    assert_int_equal(segments(f->dir, names, 64), n);
    assert_int_equal(kvlog_sync(f->l), 0);
    int m = segments(f->dir, names, 64);
    assert_true(m <= 2);
    reopen(f);
    assert_int_equal(kvlog_first_index(f->l), 1990);
    assert_int_equal(kvlog_last_index(f->l), 2010);
    check_range(f->l, 1990, 2011, 3);
    uint64_t t;
    assert_int_equal(kvlog_term(f->l, 1989, &t), 0);
    assert_int_equal(t, 3);
    append_synced(f->l, 2011, 2020, 3);
    check_entry(f->l, 2020, 3);
}

/* kvlog_write/kvlog_synced (the fdatasync on another thread): written
 * entries are readable at once; segments go only once the record that
 * frees them is declared durable; rolling happens in kvlog_synced. */
static void async_write_then_synced(void **state)
{
    fx *f = *state;
    char names[64][512];
    uint64_t pos = 0, prev = 0;
    for (uint64_t i = 1; i <= 2000; i += 10) {
        append_n(f->l, i, i + 9, 2);
        assert_int_equal(kvlog_write(f->l, &pos), 0);
        assert_true(pos > prev);
        prev = pos;
        check_entry(f->l, i + 9, 2);
        if (i % 100 == 1) { /* the other thread's fdatasync, then: */
            assert_int_equal(fdatasync(kvlog_sync_fd(f->l)), 0);
            assert_int_equal(kvlog_synced(f->l, pos), 0);
        }
    }
    assert_int_equal(fdatasync(kvlog_sync_fd(f->l)), 0);
    assert_int_equal(kvlog_synced(f->l, pos), 0);
    int n = segments(f->dir, names, 64);
    assert_true(n >= 5); /* rolled */
    /* Nothing pending: a write changes nothing. */
    uint64_t same = 0;
    assert_int_equal(kvlog_write(f->l, &same), 0);
    assert_true(same == pos);
    /* A prefix truncation, written but not declared durable: files stay. */
    assert_int_equal(kvlog_truncate_prefix(f->l, 1990), 0);
    assert_int_equal(kvlog_write(f->l, &pos), 0);
    assert_int_equal(kvlog_synced(f->l, same), 0); /* an older position */
    assert_int_equal(segments(f->dir, names, 64), n);
    assert_int_equal(fdatasync(kvlog_sync_fd(f->l)), 0);
    assert_int_equal(kvlog_synced(f->l, pos), 0);
    assert_true(segments(f->dir, names, 64) <= 2);
    reopen(f);
    assert_int_equal(kvlog_first_index(f->l), 1990);
    assert_int_equal(kvlog_last_index(f->l), 2000);
    check_range(f->l, 1990, 2001, 2);
}

static void reset_deletes_every_older_segment_and_survives_reopen(void **state)
{
    fx *f = *state;
    char names[64][512];
    append_synced(f->l, 1, 500, 1);
    assert_true(segments(f->dir, names, 64) >= 2);
    assert_int_equal(kvlog_reset(f->l, 300, 7), 0); /* below last: still drops everything */
    assert_int_equal(kvlog_last_index(f->l), 300);
    assert_int_equal(kvlog_sync(f->l), 0);
    assert_int_equal(segments(f->dir, names, 64), 1);
    reopen(f);
    assert_int_equal(kvlog_first_index(f->l), 301);
    assert_int_equal(kvlog_last_index(f->l), 300);
    assert_int_equal(kvlog_bytes(f->l), 0);
    uint64_t t;
    assert_int_equal(kvlog_term(f->l, 300, &t), 0);
    assert_int_equal(t, 7);
    append_synced(f->l, 301, 310, 8);
    reopen(f);
    check_range(f->l, 301, 311, 8);
}

static void suffix_truncation_into_an_older_segment_survives_reopen(void **state)
{
    fx *f = *state;
    char names[64][512];
    append_synced(f->l, 1, 600, 1);
    assert_true(segments(f->dir, names, 64) >= 3);
    assert_int_equal(kvlog_truncate_suffix(f->l, 50), 0);
    append_synced(f->l, 50, 700, 2);
    reopen(f);
    assert_int_equal(kvlog_last_index(f->l), 700);
    range_ctx c = {1, 50, 1, 2};
    assert_int_equal(kvlog_range(f->l, 1, 701, check_one, &c), 0);
    assert_int_equal(c.next, 701);
    /* The old tail's segments hold no live entry once GC passes 50. */
    assert_int_equal(kvlog_truncate_prefix(f->l, 60), 0);
    assert_int_equal(kvlog_sync(f->l), 0);
    reopen(f);
    check_range(f->l, 60, 701, 2);
}

static void hardstate_and_meta_outlive_the_segments_they_were_written_in(void **state)
{
    fx *f = *state;
    char names[64][512], first[512];
    kvlog_hardstate hs = {9, 2, 5}, got;
    assert_int_equal(kvlog_set_hardstate(f->l, &hs), 0);
    assert_int_equal(kvlog_set_meta(f->l, "identity", "node-1", 6), 0);
    assert_int_equal(kvlog_set_meta(f->l, "identity", "node-2", 6), 0); /* replaced */
    assert_int_equal(kvlog_set_meta(f->l, "cluster-id", "c", 1), 0);
    append_synced(f->l, 1, 1000, 9);
    segments(f->dir, names, 64);
    strcpy(first, names[0]);
    assert_int_equal(kvlog_truncate_prefix(f->l, 1001), 0);
    assert_int_equal(kvlog_sync(f->l), 0);
    assert_int_equal(segments(f->dir, names, 64), 1);
    assert_string_not_equal(names[0], first);
    reopen(f);
    assert_int_equal(kvlog_get_hardstate(f->l, &got), 0);
    assert_memory_equal(&got, &hs, sizeof(hs));
    void *v;
    size_t n;
    assert_int_equal(kvlog_get_meta(f->l, "identity", &v, &n), 0);
    assert_int_equal(n, 6);
    assert_memory_equal(v, "node-2", 6);
    free(v);
    assert_int_equal(kvlog_get_meta(f->l, "cluster-id", &v, &n), 0);
    assert_int_equal(n, 1);
    free(v);
    assert_int_equal(kvlog_first_index(f->l), 1001);
    assert_int_equal(kvlog_snapshot_term(f->l), 9);
}

static void a_torn_tail_is_cut_off_and_appends_continue(void **state)
{
    fx *f = *state;
    char names[4][512];
    append_synced(f->l, 1, 10, 1);
    kvlog_close(f->l);
    f->l = NULL;
    assert_int_equal(segments(f->dir, names, 4), 1);
    /* A crash in the middle of the last batch, then junk after it. */
    long size = file_size(names[0]);
    assert_int_equal(truncate(names[0], size - 5), 0);
    char junk[100];
    memset(junk, 'j', sizeof(junk));
    patch_file(names[0], size - 5, junk, sizeof(junk));
    f->l = open_log(f->dir);
    assert_int_equal(kvlog_last_index(f->l), 9);
    check_range(f->l, 1, 10, 1);
    /* Opening changes nothing; settling cuts the tail and says what it cut:
     * its size, where, and in which file. */
    assert_int_equal(file_size(names[0]), size - 5 + (long)sizeof(junk));
    assert_int_equal(kvlog_settle(f->l), 0);
    const char *notes = kvlog_open_notes(f->l);
    assert_non_null(strstr(notes, "cut "));
    assert_non_null(strstr(notes, strrchr(names[0], '/') + 1));
    assert_int_equal(file_size(names[0]), size - 5 - (long)(26 + strlen("entry-10-1")) - 17 + 5);
    append_synced(f->l, 10, 12, 2);
    reopen(f);
    assert_int_equal(kvlog_last_index(f->l), 12);
    check_entry(f->l, 9, 1);
    check_entry(f->l, 12, 2);
    /* Junk after a clean end is cut off too. */
    kvlog_close(f->l);
    f->l = NULL;
    size = file_size(names[0]);
    patch_file(names[0], size, junk, sizeof(junk));
    f->l = open_log(f->dir);
    assert_int_equal(kvlog_settle(f->l), 0);
    assert_int_equal(kvlog_last_index(f->l), 12);
    assert_int_equal(file_size(names[0]), size);
}

static void a_torn_batch_in_a_prezeroed_segment_is_zeroed(void **state)
{
    fx *f = *state;
    char names[64][512];
    append_synced(f->l, 1, 300, 1);
    int n = segments(f->dir, names, 64);
    assert_true(n >= 2);
    uint64_t last = kvlog_last_index(f->l);
    kvlog_close(f->l);
    f->l = NULL;
    const char *cur = names[n - 1];
    long end = data_end(cur);
    long size = file_size(cur);
    assert_true(end < size);
    unsigned char c = read_byte(cur, end - 3) ^ 0x40; /* in the last entry's data */
    patch_file(cur, end - 3, &c, 1);
    f->l = open_log(f->dir);
    assert_int_equal(kvlog_settle(f->l), 0);
    assert_int_equal(kvlog_last_index(f->l), last - 1);
    /* The torn batch is zeroed, not truncated: the space stays allocated. */
    assert_int_equal(file_size(cur), size);
    assert_true(data_end(cur) < end - 20);
    /* A shorter batch where the torn one was must not be followed by its
     * leftovers at the next open. */
    assert_int_equal(kvlog_append(f->l, last, 2, 0, "x", 1), 0);
    assert_int_equal(kvlog_sync(f->l), 0);
    reopen(f);
    assert_int_equal(kvlog_last_index(f->l), last);
    uint64_t t;
    assert_int_equal(kvlog_term(f->l, last, &t), 0);
    assert_int_equal(t, 2);
}

static void corrupt_record_in_an_older_segment_is_reported(void **state)
{
    fx *f = *state;
    char names[64][512], err[256];
    append_synced(f->l, 1, 800, 1);
    assert_true(segments(f->dir, names, 64) >= 3);
    kvlog_close(f->l);
    f->l = NULL;
    long mid = file_size(names[1]) / 2; /* a pre-zeroed one: inside its data */
    unsigned char c = read_byte(names[1], mid) ^ 1;
    assert_true(mid < data_end(names[1]));
    patch_file(names[1], mid, &c, 1);
    kvlog *l = NULL;
    assert_int_equal(kvlog_open(&l, f->dir, KVT_MAP, err, sizeof(err)), KV_ECORRUPT);
    assert_null(l);
    assert_non_null(strstr(err, "not the last"));
}

static void corrupt_record_followed_by_good_batches_is_reported(void **state)
{
    fx *f = *state;
    char names[4][512], err[256];
    append_synced(f->l, 1, 20, 1);
    kvlog_close(f->l);
    f->l = NULL;
    assert_int_equal(segments(f->dir, names, 4), 1);
    long off = file_size(names[0]) / 2;
    unsigned char c = read_byte(names[0], off) ^ 0x80;
    patch_file(names[0], off, &c, 1);
    kvlog *l = NULL;
    assert_int_equal(kvlog_open(&l, f->dir, KVT_MAP, err, sizeof(err)), KV_ECORRUPT);
    assert_non_null(strstr(err, "followed by valid"));
}

/* Start-up changes nothing in a log it then refuses: a torn last
 * segment keeps its bytes and a leftover .tmp file stays. */
static void a_refused_log_is_left_as_it_was(void **state)
{
    fx *f = *state;
    char names[64][512], err[256], tmp[600];
    append_synced(f->l, 1, 800, 1);
    int n = segments(f->dir, names, 64);
    assert_true(n >= 3);
    kvlog_close(f->l);
    f->l = NULL;
    long size = file_size(names[n - 1]);
    char junk[100];
    memset(junk, 'j', sizeof(junk));
    patch_file(names[n - 1], size - 200, junk, sizeof(junk)); /* a torn tail */
    snprintf(tmp, sizeof(tmp), "%.*s/00000000000000ff.tmp",
             (int)(strrchr(names[0], '/') - names[0]), names[0]);
    FILE *t = fopen(tmp, "w");
    assert_non_null(t);
    fclose(t);
    assert_int_equal(unlink(names[1]), 0); /* and a lost segment: refused */
    struct stat before, after;
    assert_int_equal(stat(names[n - 1], &before), 0);
    char *image = kvt_read_file(names[n - 1], NULL);
    kvlog *l = NULL;
    assert_int_equal(kvlog_open(&l, f->dir, KVT_MAP, err, sizeof(err)), KV_ECORRUPT);
    assert_int_equal(stat(names[n - 1], &after), 0);
    assert_int_equal(after.st_size, before.st_size);
    char *image2 = kvt_read_file(names[n - 1], NULL);
    assert_memory_equal(image, image2, (size_t)before.st_size);
    assert_int_equal(access(tmp, F_OK), 0);
    free(image);
    free(image2);
}

/* A failed write names its file and the system's error. */
static void a_failed_write_names_the_file_and_errno(void **state)
{
    fx *f = *state;
    append_synced(f->l, 1, 10, 1);
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 4096; /* below the segment's write position: EFBIG */
    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    for (uint64_t i = 11; i <= 2000; i++) {
        char buf[64];
        int len = snprintf(buf, sizeof(buf), "entry-%llu", (unsigned long long)i);
        assert_int_equal(kvlog_append(f->l, i, 1, 0, buf, (size_t)len), 0);
    }
    int rc = kvlog_sync(f->l);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, SIG_DFL);
    assert_int_equal(rc, KV_EIO);
    const char *e = kvlog_last_error(f->l);
    assert_non_null(strstr(e, ".wal"));
    assert_non_null(strstr(e, strerror(EFBIG)));
    assert_int_equal(kvlog_last_index(f->l), 10); /* what the files hold */
}

static void a_lost_segment_is_reported(void **state)
{
    fx *f = *state;
    char names[64][512], err[256];
    append_synced(f->l, 1, 800, 1);
    int n = segments(f->dir, names, 64);
    assert_true(n >= 3);
    kvlog_close(f->l);
    f->l = NULL;
    assert_int_equal(unlink(names[1]), 0); /* entries of [first, last] were in it */
    kvlog *l = NULL;
    assert_int_equal(kvlog_open(&l, f->dir, KVT_MAP, err, sizeof(err)), KV_ECORRUPT);
    assert_non_null(strstr(err, "missing"));
}

static void an_old_lmdb_log_is_refused(void **state)
{
    (void)state;
    char *dir = kvt_mkdtemp(), path[512], err[256];
    snprintf(path, sizeof(path), "%s/log", dir);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/log/data.mdb", dir);
    FILE *fp = fopen(path, "w");
    fclose(fp);
    kvlog *l = NULL;
    assert_int_equal(kvlog_open(&l, dir, KVT_MAP, err, sizeof(err)), KV_EINVAL);
    assert_non_null(strstr(err, "old LMDB format"));
    kvt_rmrf(dir);
}

static void a_second_open_of_the_same_log_is_refused(void **state)
{
    fx *f = *state;
    kvlog *l2 = NULL;
    char err[256];
    assert_int_equal(kvlog_open(&l2, f->dir, KVT_MAP, err, sizeof(err)), KV_EINVAL);
    assert_null(l2);
    assert_non_null(strstr(err, "in use by another process"));
    /* Closing the first releases it. */
    kvlog_close(f->l);
    assert_int_equal(kvlog_open(&f->l, f->dir, KVT_MAP, err, sizeof(err)), 0);
}

static void a_crash_loses_exactly_the_unsynced_writes(void **state)
{
    fx *f = *state;
    kvlog_close(f->l);
    f->l = NULL;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        kvlog *l = NULL;
        char err[256];
        kvlog_hardstate hs1 = {1, 1, 5}, hs2 = {2, 2, 8};
        if (kvlog_open(&l, f->dir, KVT_MAP, err, sizeof(err)) != 0) _exit(2);
        for (uint64_t i = 1; i <= 8; i++) {
            if (kvlog_append(l, i, 1, (uint8_t)(i % 3), "x", 1) != 0) _exit(3);
            if (i == 5 &&
                (kvlog_set_hardstate(l, &hs1) || kvlog_set_meta(l, "m", "a", 1) || kvlog_sync(l)))
                _exit(4);
        }
        if (kvlog_set_hardstate(l, &hs2) || kvlog_set_meta(l, "m", "b", 1) ||
            kvlog_truncate_prefix(l, 3))
            _exit(5);
        _exit(0); /* no close, no sync */
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    f->l = open_log(f->dir);
    assert_int_equal(kvlog_first_index(f->l), 1);
    assert_int_equal(kvlog_last_index(f->l), 5);
    kvlog_hardstate got;
    assert_int_equal(kvlog_get_hardstate(f->l, &got), 0);
    assert_int_equal(got.commit, 5);
    void *v;
    size_t n;
    assert_int_equal(kvlog_get_meta(f->l, "m", &v, &n), 0);
    assert_memory_equal(v, "a", 1);
    free(v);
}

/* ------------------------------------------------------------ model */

typedef struct model {
    uint64_t first, last, snap_term;
    uint64_t terms[4096]; /* by index */
    kvlog_hardstate hs;
} model;

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void check_model(kvlog *l, const model *m)
{
    assert_int_equal(kvlog_first_index(l), m->first);
    assert_int_equal(kvlog_last_index(l), m->last);
    uint64_t t;
    assert_int_equal(kvlog_term(l, m->first - 1, &t), 0);
    assert_int_equal(t, m->snap_term);
    for (uint64_t i = m->first; i <= m->last; i++)
        check_entry(l, i, m->terms[i]);
    kvlog_hardstate hs;
    assert_int_equal(kvlog_get_hardstate(l, &hs), 0);
    assert_memory_equal(&hs, &m->hs, sizeof(hs));
}

static void random_operations_match_a_model_across_reopens(void **state)
{
    fx *f = *state;
    model *m = calloc(1, sizeof(*m)), *durable = calloc(1, sizeof(*m));
    m->first = 1;
    *durable = *m;
    uint64_t seed = 0x9E3779B97F4A7C15ull, term = 1;
    for (int step = 0; step < 3000; step++) {
        uint64_t r = rnd(&seed) % 100;
        if (r < 45 && m->last + 20 < 4096) { /* append a few */
            uint64_t k = 1 + rnd(&seed) % 8;
            if (rnd(&seed) % 10 == 0) term++;
            append_n(f->l, m->last + 1, m->last + k, term);
            for (uint64_t i = m->last + 1; i <= m->last + k; i++)
                m->terms[i] = term;
            m->last += k;
        } else if (r < 55 && m->last >= m->first) { /* conflict */
            uint64_t i = m->first + rnd(&seed) % (m->last - m->first + 1);
            assert_int_equal(kvlog_truncate_suffix(f->l, i), 0);
            m->last = i - 1;
            term++;
        } else if (r < 65 && m->last >= m->first) { /* GC */
            uint64_t i = m->first + 1 + rnd(&seed) % (m->last - m->first + 1);
            assert_int_equal(kvlog_truncate_prefix(f->l, i), 0);
            m->snap_term = m->terms[i - 1];
            m->first = i;
        } else if (r < 67 && m->last + 100 < 4096) { /* snapshot install */
            uint64_t si = m->last + rnd(&seed) % 50;
            assert_int_equal(kvlog_reset(f->l, si, ++term), 0);
            m->first = si + 1;
            m->last = si;
            m->snap_term = term;
        } else if (r < 75) {
            m->hs = (kvlog_hardstate){term, rnd(&seed) % 5, m->last};
            assert_int_equal(kvlog_set_hardstate(f->l, &m->hs), 0);
        } else if (r < 95) {
            assert_int_equal(kvlog_sync(f->l), 0);
            *durable = *m;
        } else {
            assert_int_equal(kvlog_sync(f->l), 0);
            reopen(f);
            *durable = *m;
            check_model(f->l, m);
        }
        if (m->last + 200 >= 4096) { /* keep indexes inside the model */
            assert_int_equal(kvlog_reset(f->l, 10, ++term), 0);
            m->first = 11, m->last = 10, m->snap_term = term;
        }
    }
    assert_int_equal(kvlog_sync(f->l), 0);
    reopen(f);
    check_model(f->l, m);
    free(m);
    free(durable);
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
        cmocka_unit_test_setup_teardown(segments_roll_and_prefix_gc_deletes_their_files,
                                        setup_small, teardown_small),
        cmocka_unit_test_setup_teardown(async_write_then_synced, setup_small, teardown_small),
        cmocka_unit_test_setup_teardown(reset_deletes_every_older_segment_and_survives_reopen,
                                        setup_small, teardown_small),
        cmocka_unit_test_setup_teardown(suffix_truncation_into_an_older_segment_survives_reopen,
                                        setup_small, teardown_small),
        cmocka_unit_test_setup_teardown(
            hardstate_and_meta_outlive_the_segments_they_were_written_in, setup_small,
            teardown_small),
        cmocka_unit_test_setup_teardown(a_torn_tail_is_cut_off_and_appends_continue, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_torn_batch_in_a_prezeroed_segment_is_zeroed, setup_small,
                                        teardown_small),
        cmocka_unit_test_setup_teardown(corrupt_record_in_an_older_segment_is_reported, setup_small,
                                        teardown_small),
        cmocka_unit_test_setup_teardown(corrupt_record_followed_by_good_batches_is_reported, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_lost_segment_is_reported, setup_small, teardown_small),
        cmocka_unit_test_setup_teardown(a_refused_log_is_left_as_it_was, setup_small,
                                        teardown_small),
        cmocka_unit_test_setup_teardown(a_failed_write_names_the_file_and_errno, setup, teardown),
        cmocka_unit_test(an_old_lmdb_log_is_refused),
        cmocka_unit_test_setup_teardown(a_second_open_of_the_same_log_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(a_crash_loses_exactly_the_unsynced_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(random_operations_match_a_model_across_reopens, setup_small,
                                        teardown_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
