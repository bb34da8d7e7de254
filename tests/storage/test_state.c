/* test_state.c -- the state machine: time and expiry at tau boundaries,
 * TTL against the wall clock, MULTI, expire entries, applied and durable
 * indexes, SCAN completeness under concurrent writes, determinism, and
 * what must never crash. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

#include "kvtest.h"
#include "storage/kvint.h"

typedef struct fx {
    char *dir;
    kvstate *s;
    resp_buf r;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    f->dir = kvt_mkdtemp();
    f->s = kvt_open_state(f->dir);
    resp_buf_init(&f->r, 2);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    kvstate_close(f->s);
    kvt_rmrf(f->dir);
    resp_buf_free(&f->r);
    free(f);
    return 0;
}

/* Runs a command line at tau (writes) or at the state's tau with wall =
 * tau (reads) and checks the exact reply. */
#define RUN(f, tau, line, want)                                                                    \
    do {                                                                                           \
        resp_buf_reset(&(f)->r);                                                                   \
        assert_int_equal(kvt_runs((f)->s, (tau), (line), &(f)->r), 0);                             \
        if ((f)->r.len != strlen(want) || memcmp((f)->r.p, (want), (f)->r.len) != 0) {             \
            fprintf(stderr, "%s => %.*s (want %s)\n", (line), (int)(f)->r.len, (f)->r.p, (want));  \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

static void read_at(fx *f, int64_t wall, const char *line, const char *want)
{
    char *copy = strdup(line), *save = NULL, *argv[16];
    size_t argvlen[16];
    int argc = 0;
    for (char *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        argv[argc] = t;
        argvlen[argc++] = strlen(t);
    }
    resp_buf_reset(&f->r);
    assert_int_equal(kvstate_read(f->s, 0, NULL, argc, argv, argvlen, wall, &f->r), 0);
    if (f->r.len != strlen(want) || memcmp(f->r.p, want, f->r.len) != 0) {
        fprintf(stderr, "%s => %.*s (want %s)\n", line, (int)f->r.len, f->r.p, want);
        fail();
    }
    free(copy);
}

static void noop(fx *f, int64_t tau)
{
    /* Advances tau: an expire entry with no items. */
    resp_buf e;
    resp_buf_init(&e, 2);
    kventry_begin_expire(&e, tau, 0);
    assert_int_equal(kvstate_apply(f->s, kvstate_applied_index(f->s) + 1, e.p, e.len, NULL), 0);
    resp_buf_free(&e);
}

static void keys_expire_exactly_at_tau(void **state)
{
    fx *f = *state;
    RUN(f, 1000, "SET k v PX 100", "+OK\r\n");
    RUN(f, 1000, "PEXPIRETIME k", ":1100\r\n");
    noop(f, 1099);
    RUN(f, 0, "GET k", "$1\r\nv\r\n");
    RUN(f, 0, "EXISTS k", ":1\r\n");
    noop(f, 1100);
    RUN(f, 0, "GET k", "$-1\r\n");
    RUN(f, 0, "TTL k", ":-2\r\n");
    RUN(f, 0, "KEYS *", "*0\r\n");
    RUN(f, 0, "SCAN 0", "*2\r\n$1\r\n0\r\n*0\r\n");
    RUN(f, 0, "RANDOMKEY", "$-1\r\n");
    /* Still in the key space until a write touches it or an expire entry
     * removes it; a write at tau treats it as absent and deletes it. */
    assert_int_equal(kvstate_dbsize(f->s, 0), 1);
    assert_int_equal(kvstate_expires(f->s, 0), 1);
    RUN(f, 1100, "SET k w NX", "+OK\r\n");
    RUN(f, 1100, "PTTL k", ":-1\r\n");
    assert_int_equal(kvstate_expires(f->s, 0), 0);
    RUN(f, 1100, "INCR c", ":1\r\n");
    RUN(f, 1100, "PEXPIRE c 1", ":1\r\n");
    RUN(f, 1101, "INCR c", ":1\r\n"); /* expired at 1101: starts over */
}

static void relative_times_are_taken_against_the_entry_tau(void **state)
{
    fx *f = *state;
    RUN(f, 5000, "SET a 1 EX 10", "+OK\r\n");
    RUN(f, 5000, "PEXPIRETIME a", ":15000\r\n");
    RUN(f, 6000, "EXPIRE a 1", ":1\r\n");
    RUN(f, 6000, "PEXPIRETIME a", ":7000\r\n");
    RUN(f, 6500, "GETEX a PX 100", "$1\r\n1\r\n");
    RUN(f, 6500, "PEXPIRETIME a", ":6600\r\n");
    RUN(f, 6500, "SETEX b 2 x", "+OK\r\n");
    RUN(f, 6500, "PEXPIRETIME b", ":8500\r\n");
    RUN(f, 6500, "PEXPIREAT b 6500", ":1\r\n"); /* at tau: deleted */
    RUN(f, 6500, "EXISTS b", ":0\r\n");
    RUN(f, 6500, "SET c x PXAT 6501", "+OK\r\n");
    RUN(f, 6500, "EXISTS c", ":1\r\n");
    RUN(f, 6500, "SET c x PXAT 6500", "+OK\r\n");
    RUN(f, 6500, "EXISTS c", ":0\r\n");
    /* tau + relative time overflowing is Redis's "invalid expire time". */
    RUN(f, 6500, "PEXPIRE a 9223372036854775000",
        "-ERR invalid expire time in 'pexpire' command\r\n");
    RUN(f, 6500, "SET a 1 PX 9223372036854775000", "-ERR invalid expire time in 'set' command\r\n");
}

static void ttl_counts_from_the_wall_clock_and_never_goes_below_zero(void **state)
{
    fx *f = *state;
    RUN(f, 10000, "SET k v PX 2000", "+OK\r\n");
    read_at(f, 10000, "PTTL k", ":2000\r\n");
    read_at(f, 10400, "TTL k", ":2\r\n");
    read_at(f, 10600, "TTL k", ":1\r\n");
    read_at(f, 11999, "PTTL k", ":1\r\n");
    /* The wall clock is past the expiry but tau is not: the key still
     * exists, with no time left. */
    read_at(f, 12500, "PTTL k", ":0\r\n");
    read_at(f, 12500, "TTL k", ":0\r\n");
    read_at(f, 12500, "GET k", "$1\r\nv\r\n");
    read_at(f, 9000, "EXPIRETIME k", ":12\r\n");
}

static void tau_never_goes_backwards(void **state)
{
    fx *f = *state;
    RUN(f, 5000, "SET k v PX 100", "+OK\r\n");
    assert_int_equal(kvstate_tau(f->s), 5000);
    RUN(f, 4000, "SET j v", "+OK\r\n");
    assert_int_equal(kvstate_tau(f->s), 5000);
    RUN(f, 4000, "PEXPIRETIME k", ":5100\r\n");
    assert_int_equal(kvstate_commit(f->s), 0);
    kvstate_close(f->s);
    f->s = kvt_open_state(f->dir);
    assert_int_equal(kvstate_tau(f->s), 5000);
    assert_int_equal(kvstate_applied_index(f->s), 2);
}

static void multi_replies_with_an_array_and_does_not_roll_back(void **state)
{
    fx *f = *state;
    char *a1[] = {"SET", "s", "abc"}, *a2[] = {"INCR", "s"}, *a3[] = {"SET", "n", "1"},
         *a4[] = {"INCRBY", "n", "x"}, *a5[] = {"GET", "n"}, *a6[] = {"GETRANGE", "n", "x", "1"},
         *a7[] = {"GET"};
    size_t l1[] = {3, 1, 3}, l2[] = {4, 1}, l3[] = {3, 1, 1}, l4[] = {6, 1, 1}, l5[] = {3, 1},
           l6[] = {8, 1, 1, 1}, l7[] = {3};
    resp_buf e;
    resp_buf_init(&e, 2);
    kventry_begin_multi(&e, 100, 0, 7);
    kventry_add_cmd(&e, 3, a1, l1);
    kventry_add_cmd(&e, 2, a2, l2);
    kventry_add_cmd(&e, 3, a3, l3);
    kventry_add_cmd(&e, 3, a4, l4);
    kventry_add_cmd(&e, 2, a5, l5);
    kventry_add_cmd(&e, 4, a6, l6);
    kventry_add_cmd(&e, 1, a7, l7);
    resp_buf_reset(&f->r);
    assert_int_equal(kvstate_apply(f->s, 1, e.p, e.len, &f->r), 0);
    const char *want = "*7\r\n+OK\r\n-ERR value is not an integer or out of range\r\n+OK\r\n"
                       "-ERR value is not an integer or out of range\r\n$1\r\n1\r\n"
                       "-ERR value is not an integer or out of range\r\n"
                       "-ERR wrong number of arguments for 'get' command\r\n";
    assert_int_equal(f->r.len, strlen(want));
    assert_memory_equal(f->r.p, want, f->r.len);
    RUN(f, 100, "GET s", "$3\r\nabc\r\n");
    resp_buf_reset(&e);
    kventry_begin_multi(&e, 100, 0, 0);
    resp_buf_reset(&f->r);
    assert_int_equal(kvstate_apply(f->s, 2, e.p, e.len, &f->r), 0);
    assert_int_equal(f->r.len, 4);
    assert_memory_equal(f->r.p, "*0\r\n", 4);
    resp_buf_free(&e);
}

/* A command this binary does not know can only come from a newer leader:
 * the entry is refused (the node stops) rather than applied as an error,
 * and nothing of it is applied, the index included. */
static void an_unknown_command_stops_apply_instead_of_diverging(void **state)
{
    fx *f = *state;
    char *a1[] = {"SET", "k", "1"}, *a2[] = {"NOSUCH", "k"};
    size_t l1[] = {3, 1, 1}, l2[] = {6, 1};
    resp_buf e;
    resp_buf_init(&e, 2);
    kventry_encode_cmd(&e, 100, 0, 2, a2, l2);
    assert_int_equal(kvstate_apply(f->s, 1, e.p, e.len, &f->r), KV_ENEWER);
    assert_int_equal(kvstate_applied_index(f->s), 0);
    resp_buf_reset(&e);
    kventry_begin_multi(&e, 100, 0, 2);
    kventry_add_cmd(&e, 3, a1, l1);
    kventry_add_cmd(&e, 2, a2, l2);
    assert_int_equal(kvstate_apply(f->s, 1, e.p, e.len, &f->r), KV_ENEWER);
    assert_int_equal(kvstate_applied_index(f->s), 0);
    RUN(f, 100, "GET k", "$-1\r\n");
    resp_buf_free(&e);
}

static void expire_entries_remove_only_the_expiry_they_saw(void **state)
{
    fx *f = *state;
    RUN(f, 1000, "SET a 1 PX 10", "+OK\r\n");
    RUN(f, 1000, "SET b 1 PX 20", "+OK\r\n");
    RUN(f, 1000, "SET c 1 PX 5000", "+OK\r\n");
    RUN(f, 1000, "SET d 1", "+OK\r\n");
    assert_int_equal(kvstate_next_expiry(f->s), 1010);
    resp_buf e;
    resp_buf_init(&e, 2);
    assert_int_equal(kvstate_collect_expired(f->s, 1000, 10, &e), 0);
    assert_int_equal(e.len, 0);
    assert_int_equal(kvstate_collect_expired(f->s, 1020, 10, &e), 2);
    int kind;
    int64_t tau;
    assert_int_equal(kventry_peek(e.p, e.len, &kind, &tau), 0);
    assert_int_equal(kind, KV_ENTRY_EXPIRE);
    assert_int_equal(tau, 1020);
    /* b is written again before the expire entry applies: it survives. */
    RUN(f, 1005, "SET b 2 PX 100", "+OK\r\n");
    resp_buf_reset(&f->r);
    assert_int_equal(kvstate_apply(f->s, kvstate_applied_index(f->s) + 1, e.p, e.len, &f->r), 0);
    assert_int_equal(f->r.len, 0);
    assert_int_equal(kvstate_dbsize(f->s, 0), 3);
    RUN(f, 1020, "GET b", "$1\r\n2\r\n");
    RUN(f, 1020, "EXISTS a", ":0\r\n");
    assert_int_equal(kvstate_next_expiry(f->s), 1105);
    resp_buf_reset(&e);
    assert_int_equal(kvstate_collect_expired(f->s, 99999, 1, &e), 1);
    resp_buf_free(&e);
    RUN(f, 1020, "FLUSHALL", "+OK\r\n");
    assert_int_equal(kvstate_next_expiry(f->s), -1);
    assert_int_equal(kvstate_dbsize(f->s, 0), 0);
}

static void indexes_advance_one_at_a_time_and_replay_is_ignored(void **state)
{
    fx *f = *state;
    assert_int_equal(kvstate_applied_index(f->s), 0);
    assert_int_equal(kvstate_apply(f->s, 2, NULL, 0, NULL), KV_EINVAL);
    assert_int_equal(kvstate_apply(f->s, 1, NULL, 0, NULL), 0); /* no-op entry */
    assert_int_equal(kvstate_applied_index(f->s), 1);
    RUN(f, 10, "SET a 1", "+OK\r\n");
    assert_int_equal(kvstate_durable_index(f->s), 0);
    resp_buf_reset(&f->r);
    /* Replaying an applied index does nothing and answers nothing. */
    assert_int_equal(kvstate_apply(f->s, 2, "garbage", 7, &f->r), 0);
    assert_int_equal(f->r.len, 0);
    assert_int_equal(kvstate_apply(f->s, 3, "garbage", 7, &f->r), KV_ECORRUPT);
    assert_int_equal(kvstate_applied_index(f->s), 2);
    assert_int_equal(kvstate_commit(f->s), 0);
    assert_int_equal(kvstate_durable_index(f->s), 2);
    assert_int_equal(kvstate_commit(f->s), 0);
    int pct = kvstate_used_pct(f->s);
    assert_true(pct >= 0 && pct <= 100);
}

/* The configuration in force (raft.h "membership") is applied with its
 * index, in the same transaction, and survives a restart; replay of an
 * applied index changes nothing. */
static void membership_is_applied_with_its_index_and_survives_a_restart(void **state)
{
    fx *f = *state;
    uint64_t mi;
    size_t ml;
    assert_null(kvstate_members(f->s, &mi, &ml)); /* the bootstrap one */
    assert_int_equal(kvstate_apply(f->s, 1, NULL, 0, NULL), 0);
    assert_int_equal(kvstate_apply_members(f->s, 3, "conf-a", 6), KV_EINVAL); /* a gap */
    assert_int_equal(kvstate_apply_members(f->s, 2, "", 0), KV_EINVAL);
    static char big[KV_MEMBERS_MAX + 1];
    assert_int_equal(kvstate_apply_members(f->s, 2, big, sizeof big), KV_EINVAL);
    assert_int_equal(kvstate_applied_index(f->s), 1);
    assert_int_equal(kvstate_apply_members(f->s, 2, "conf-a", 6), 0);
    assert_int_equal(kvstate_applied_index(f->s), 2);
    const char *m = kvstate_members(f->s, &mi, &ml);
    assert_non_null(m);
    assert_int_equal(mi, 2);
    assert_int_equal(ml, 6);
    assert_memory_equal(m, "conf-a", 6);
    RUN(f, 10, "SET a 1", "+OK\r\n");
    assert_int_equal(kvstate_apply_members(f->s, 2, "conf-b", 6), 0); /* replay: ignored */
    assert_int_equal(kvstate_apply_members(f->s, 4, "conf-bb", 7), 0);
    kvstate_close(f->s); /* commits */
    f->s = kvt_open_state(f->dir);
    assert_int_equal(kvstate_applied_index(f->s), 4);
    m = kvstate_members(f->s, &mi, &ml);
    assert_non_null(m);
    assert_int_equal(mi, 4);
    assert_int_equal(ml, 7);
    assert_memory_equal(m, "conf-bb", 7);
}

static void uncommitted_applies_are_lost_on_abandon_but_close_commits(void **state)
{
    fx *f = *state;
    RUN(f, 10, "SET a 1", "+OK\r\n");
    kvstate_close(f->s);
    f->s = kvt_open_state(f->dir);
    assert_int_equal(kvstate_applied_index(f->s), 1);
    assert_int_equal(kvstate_durable_index(f->s), 1);
    RUN(f, 10, "GET a", "$1\r\n1\r\n");
}

static void reads_between_commits_see_every_applied_write(void **state)
{
    /* Reads with no write transaction open share one read transaction;
     * it must never serve a snapshot older than the last commit. */
    fx *f = *state;
    for (int i = 0; i < 50; i++) {
        char line[64], want[64];
        snprintf(line, sizeof(line), "SET k v%d", i);
        RUN(f, 10 + i, line, "+OK\r\n");
        snprintf(want, sizeof(want), "$%zu\r\nv%d\r\n", strlen("v") + (i < 10 ? 1 : 2), i);
        read_at(f, 10 + i, "GET k", want); /* in the write transaction */
        if (i % 3 == 0) {
            assert_int_equal(kvstate_commit(f->s), 0);
            read_at(f, 10 + i, "GET k", want); /* in the read transaction */
            read_at(f, 10 + i, "GET k", want); /* the same one again */
            read_at(f, 10 + i, "EXISTS nothing", ":0\r\n");
        }
    }
    assert_int_equal(kvstate_commit(f->s), 0);
    read_at(f, 100, "GET k", "$3\r\nv49\r\n");
    RUN(f, 100, "DEL k", ":1\r\n");
    read_at(f, 100, "GET k", "$-1\r\n");
    assert_int_equal(kvstate_commit(f->s), 0);
    read_at(f, 100, "GET k", "$-1\r\n");
}

static void a_started_commit_is_waited_for_by_whatever_uses_the_state(void **state)
{
    /* The commit runs on the state's commit thread, which begins and ends
     * every write transaction (LMDB's writer lock belongs to the thread
     * that took it): many cycles of begin, apply here, commit there. */
    fx *f = *state;
    /* The first cycles with each commit held 20 ms on the thread: what
     * did not wait for it would see the state before it. */
    setenv("RAFTKV_TEST_COMMIT_DELAY_MS", "20", 1);
    kvstate_close(f->s);
    f->s = kvt_open_state(f->dir);
    for (int i = 0; i < 200; i++) {
        char line[64], want[64];
        if (i == 30) {
            unsetenv("RAFTKV_TEST_COMMIT_DELAY_MS");
            kvstate_close(f->s);
            f->s = kvt_open_state(f->dir);
        }
        snprintf(line, sizeof(line), "SET k%d v%d", i % 7, i);
        RUN(f, 10 + i, line, "+OK\r\n");
        uint64_t applied = kvstate_applied_index(f->s), durable = kvstate_durable_index(f->s);
        uint64_t ends;
        if (read(kvstate_commit_fd(f->s), &ends, sizeof(ends)) < 0) /* the watcher's part */
            assert_int_equal(errno, EAGAIN);
        assert_int_equal(kvstate_commit_start(f->s), 0);
        assert_true(kvstate_committing(f->s));
        /* nothing moves until the commit ends */
        assert_int_equal(kvstate_applied_index(f->s), applied);
        assert_int_equal(kvstate_durable_index(f->s), durable);
        if (i % 3 == 0) { /* ended by its signal */
            struct pollfd p = {kvstate_commit_fd(f->s), POLLIN, 0};
            assert_int_equal(poll(&p, 1, 10000), 1);
            assert_true(kvstate_commit_done(f->s));
            assert_int_equal(kvstate_commit_wait(f->s), 0);
            assert_int_equal(kvstate_durable_index(f->s), applied);
        } else if (i % 3 == 1) { /* a read waits for it and sees the write */
            snprintf(line, sizeof(line), "GET k%d", i % 7);
            snprintf(want, sizeof(want), "$%d\r\nv%d\r\n", i < 10 ? 2 : i < 100 ? 3 : 4, i);
            read_at(f, 10 + i, line, want);
            assert_false(kvstate_committing(f->s));
            assert_int_equal(kvstate_durable_index(f->s), applied);
        } /* else the next write waits for it */
    }
    RUN(f, 300, "SET k3 last", "+OK\r\n");
    assert_int_equal(kvstate_commit_start(f->s), 0);
    assert_true(kvstate_committing(f->s));
    uint64_t applied = kvstate_applied_index(f->s);
    kvstate_close(f->s); /* waits, and the state is durable */
    f->s = kvt_open_state(f->dir);
    assert_int_equal(kvstate_durable_index(f->s), applied);
    read_at(f, 300, "GET k3", "$4\r\nlast\r\n");
    /* nothing to commit: nothing started */
    assert_int_equal(kvstate_commit_start(f->s), 0);
    assert_false(kvstate_committing(f->s));
}

/* A tiny RESP2 reader for SCAN replies. */
static uint64_t scan_parse(const char *p, size_t n, char keys[][16], int *nkeys)
{
    const char *end = p + n;
    assert_true(n > 4 && p[0] == '*');
    p = strchr(p, '\n') + 1; /* *2 */
    p = strchr(p, '\n') + 1; /* $len */
    uint64_t cursor = strtoull(p, NULL, 10);
    p = strchr(p, '\n') + 1;
    int cnt = atoi(p + 1);
    p = strchr(p, '\n') + 1;
    for (int i = 0; i < cnt; i++) {
        int len = atoi(p + 1);
        p = strchr(p, '\n') + 1;
        assert_true(len < 16);
        memcpy(keys[*nkeys], p, (size_t)len);
        keys[*nkeys][len] = 0;
        (*nkeys)++;
        p += len + 2;
    }
    assert_true(p == end);
    return cursor;
}

static void scan_returns_every_key_present_throughout_under_writes(void **state)
{
    fx *f = *state;
    char line[128];
    static char seen[20000][16];
    int nseen = 0;
    for (int i = 0; i < 2000; i++) {
        snprintf(line, sizeof(line), "SET stable%d v", i);
        RUN(f, 10, line, "+OK\r\n");
    }
    for (int i = 0; i < 500; i++) {
        snprintf(line, sizeof(line), "SET gone%d v", i);
        RUN(f, 10, line, "+OK\r\n");
    }
    uint64_t cursor = 0;
    int batches = 0, born = 0, killed = 0;
    do {
        snprintf(line, sizeof(line), "SCAN %llu COUNT 7", (unsigned long long)cursor);
        resp_buf_reset(&f->r);
        assert_int_equal(kvt_runs(f->s, 10, line, &f->r), 0);
        cursor = scan_parse(f->r.p, f->r.len, seen, &nseen);
        batches++;
        /* Between batches: new keys appear and some of the others go. */
        for (int j = 0; j < 3; j++) {
            snprintf(line, sizeof(line), "SET new%d v", born++);
            RUN(f, 10, line, "+OK\r\n");
        }
        if (killed < 500) {
            snprintf(line, sizeof(line), "DEL gone%d", killed++);
            RUN(f, 10, line, ":1\r\n");
        }
        assert_true(nseen < 19000);
    } while (cursor != 0);
    assert_true(batches > 100);
    static char found[2000];
    memset(found, 0, sizeof(found));
    for (int i = 0; i < nseen; i++)
        if (strncmp(seen[i], "stable", 6) == 0) found[atoi(seen[i] + 6)]++;
    for (int i = 0; i < 2000; i++)
        assert_int_equal(found[i], 1); /* every one, and only once */

    /* MATCH and TYPE filter, the cursor still walks everything. */
    cursor = 0;
    nseen = 0;
    do {
        snprintf(line, sizeof(line), "SCAN %llu MATCH stable1?? COUNT 50 TYPE string",
                 (unsigned long long)cursor);
        resp_buf_reset(&f->r);
        assert_int_equal(kvt_runs(f->s, 10, line, &f->r), 0);
        cursor = scan_parse(f->r.p, f->r.len, seen, &nseen);
    } while (cursor != 0);
    assert_int_equal(nseen, 100);
}

static void randomkey_finds_a_live_key(void **state)
{
    fx *f = *state;
    RUN(f, 10, "RANDOMKEY", "$-1\r\n");
    RUN(f, 10, "SET only 1", "+OK\r\n");
    RUN(f, 10, "SET dead 1 PX 5", "+OK\r\n");
    noop(f, 20);
    for (int i = 0; i < 50; i++)
        RUN(f, 20, "RANDOMKEY", "$4\r\nonly\r\n");
}

static void run_argv(fx *f, int64_t tau, int argc, char **argv, size_t *argvlen)
{
    resp_buf_reset(&f->r);
    assert_int_equal(kvt_run(f->s, tau, tau, argc, argv, argvlen, &f->r), 0);
}

static void expect(fx *f, const char *want, size_t n)
{
    if (f->r.len != n || memcmp(f->r.p, want, n) != 0) {
        fprintf(stderr, "got %.*s want %.*s\n", (int)f->r.len, f->r.p, (int)n, want);
        fail();
    }
}

static void long_keys_work_like_short_ones(void **state)
{
    fx *f = *state;
    size_t lens[] = {KV_INLINE_KEYLEN, KV_INLINE_KEYLEN + 1, KV_SKEY_LONG, 1000, 100000};
    const int nk = sizeof(lens) / sizeof(lens[0]);
    char *keys[6];
    size_t klen[6];
    for (int i = 0; i < nk; i++) {
        keys[i] = malloc(lens[i]);
        memset(keys[i], 'a' + i, lens[i]);
        klen[i] = lens[i];
    }
    /* Same length and the same first 999 bytes as keys[3]. */
    keys[5] = malloc(1000);
    memset(keys[5], 'a' + 3, 1000);
    keys[5][999] = 'z';
    klen[5] = 1000;
    for (int i = 0; i < 6; i++) {
        char val[16];
        int vl = snprintf(val, sizeof(val), "v%d", i);
        char *set[] = {"SET", keys[i], val, "PX", "100000"};
        size_t setl[] = {3, klen[i], (size_t)vl, 2, 6};
        run_argv(f, 1000, 5, set, setl);
        expect(f, "+OK\r\n", 5);
    }
    for (int i = 0; i < 6; i++) {
        char want[32];
        int wl = snprintf(want, sizeof(want), "$2\r\nv%d\r\n", i);
        char *get[] = {"GET", keys[i]};
        size_t getl[] = {3, klen[i]};
        run_argv(f, 1000, 2, get, getl);
        expect(f, want, (size_t)wl);
        char *pe[] = {"PEXPIRETIME", keys[i]};
        size_t pel[] = {11, klen[i]};
        run_argv(f, 1000, 2, pe, pel);
        expect(f, ":101000\r\n", 9);
        char *ap[] = {"APPEND", keys[i], "xyz"};
        size_t apl[] = {6, klen[i], 3};
        run_argv(f, 1000, 3, ap, apl);
        expect(f, ":5\r\n", 4);
    }
    assert_int_equal(kvstate_dbsize(f->s, 0), 6);
    /* KEYS and SCAN answer the full keys. */
    resp_buf_reset(&f->r);
    assert_int_equal(kvt_runs(f->s, 1000, "KEYS *", &f->r), 0);
    assert_memory_equal(f->r.p, "*6\r\n", 4);
    for (int i = 0; i < 6; i++) {
        char hdr[32];
        int hl = snprintf(hdr, sizeof(hdr), "$%zu\r\n", klen[i]);
        assert_non_null(memmem(f->r.p, f->r.len, hdr, (size_t)hl));
        assert_non_null(memmem(f->r.p, f->r.len, keys[i], klen[i]));
    }
    /* RENAME a long key to a short one and back. */
    char *rn[] = {"RENAME", keys[4], "short"};
    size_t rnl[] = {6, klen[4], 5};
    run_argv(f, 1000, 3, rn, rnl);
    expect(f, "+OK\r\n", 5);
    char *rb[] = {"RENAME", "short", keys[4]};
    size_t rbl[] = {6, 5, klen[4]};
    run_argv(f, 1000, 3, rb, rbl);
    expect(f, "+OK\r\n", 5);
    RUN(f, 1000, "EXISTS short", ":0\r\n");
    assert_int_equal(kvstate_expires(f->s, 0), 6);
    /* The expire cron hands out full keys, and applying removes them. */
    resp_buf e;
    resp_buf_init(&e, 2);
    assert_int_equal(kvstate_collect_expired(f->s, 200000, 100, &e), 6);
    kv_entry ent;
    assert_int_equal(kventry_decode(e.p, e.len, &ent), 0);
    for (uint32_t i = 0; i < ent.count; i++) {
        int matched = 0;
        for (int k = 0; k < 6; k++)
            matched +=
                ent.items[i].keylen == klen[k] && memcmp(ent.items[i].key, keys[k], klen[k]) == 0;
        assert_int_equal(matched, 1);
    }
    kventry_free(&ent);
    assert_int_equal(kvstate_apply(f->s, kvstate_applied_index(f->s) + 1, e.p, e.len, NULL), 0);
    assert_int_equal(kvstate_dbsize(f->s, 0), 0);
    assert_int_equal(kvstate_expires(f->s, 0), 0);
    resp_buf_free(&e);
    for (int i = 0; i < 6; i++)
        free(keys[i]);
}

static void used_pct_falls_again_after_a_flush(void **state)
{
    (void)state;
    char *dir = kvt_mkdtemp();
    kvstate *s = NULL;
    char err[256];
    assert_int_equal(kvstate_open(&s, dir, 8 << 20, err, sizeof(err)), 0);
    resp_buf r;
    resp_buf_init(&r, 2);
    char *argv[] = {"SET", NULL, NULL};
    size_t argvlen[] = {3, 0, 100000};
    char key[16];
    argv[2] = calloc(1, 100000);
    for (int i = 0; i < 40; i++) {
        argv[1] = key;
        argvlen[1] = (size_t)snprintf(key, sizeof(key), "big%d", i);
        resp_buf_reset(&r);
        assert_int_equal(kvt_run(s, 1, 1, 3, argv, argvlen, &r), 0);
    }
    assert_int_equal(kvstate_commit(s), 0);
    int full = kvstate_used_pct(s);
    assert_true(full >= 40);
    resp_buf_reset(&r);
    assert_int_equal(kvt_runs(s, 1, "FLUSHALL", &r), 0);
    assert_int_equal(kvstate_commit(s), 0);
    /* The freed pages are reusable once no reader holds them: one more
     * commit lets LMDB account them. */
    resp_buf_reset(&r);
    assert_int_equal(kvt_runs(s, 1, "SET a b", &r), 0);
    assert_int_equal(kvstate_commit(s), 0);
    assert_true(kvstate_used_pct(s) < full / 2);
    free(argv[2]);
    resp_buf_free(&r);
    kvstate_close(s);
    kvt_rmrf(dir);
}

static void fingerprint(kvstate *s, resp_buf *out)
{
    static const char *keys[] = {"a", "s", "b", "t", "f", "z", "n"};
    resp_buf_reset(out);
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        char *g[] = {"GET", (char *)keys[i]}, *p[] = {"PEXPIRETIME", (char *)keys[i]};
        size_t gl[] = {3, 1}, pl[] = {11, 1};
        assert_int_equal(kvstate_read(s, 0, NULL, 2, g, gl, 0, out), 0);
        assert_int_equal(kvstate_read(s, 0, NULL, 2, p, pl, 0, out), 0);
    }
    char *d[] = {"DBSIZE"};
    size_t dl[] = {6};
    assert_int_equal(kvstate_read(s, 0, NULL, 1, d, dl, 0, out), 0);
}

static void out_of_memory_at_any_allocation_rolls_back_to_the_last_commit(void **state)
{
    fx *f = *state;
    RUN(f, 100, "SET a 1", "+OK\r\n");
    RUN(f, 100, "SET s hello PX 5000", "+OK\r\n");
    RUN(f, 100, "SET n 10", "+OK\r\n");
    assert_int_equal(kvstate_commit(f->s), 0);
    const char *lines[] = {"APPEND s xyz",      "SETRANGE s 10 ab", "SETBIT b 100 1", "RENAME s t",
                           "INCRBYFLOAT f 1.5", "LCS a t IDX",      "EXPIRE a 100",   "PERSIST a",
                           "GETEX t PX 100",    "INCR n",           "SET z 1 EX 5",   "DEL n"};
    const int nl = sizeof(lines) / sizeof(lines[0]);
    resp_buf e, before, after, reply;
    resp_buf_init(&e, 2);
    resp_buf_init(&before, 2);
    resp_buf_init(&after, 2);
    resp_buf_init(&reply, 2);
    kventry_begin_multi(&e, 200, 0, (uint32_t)nl);
    for (int i = 0; i < nl; i++) {
        char *copy = strdup(lines[i]), *save = NULL, *argv[8];
        size_t argvlen[8];
        int argc = 0;
        for (char *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
            argv[argc] = t;
            argvlen[argc++] = strlen(t);
        }
        kventry_add_cmd(&e, argc, argv, argvlen);
        free(copy);
    }
    fingerprint(f->s, &before);
    uint64_t index = kvstate_applied_index(f->s) + 1;
    int failures = 0;
    for (long n = 1;; n++) {
        resp_buf_reset(&reply);
        kv_alloc_fail_after(n);
        int rc = kvstate_apply(f->s, index, e.p, e.len, &reply);
        kv_alloc_fail_after(0);
        if (rc == 0) break;
        failures++;
        assert_int_equal(rc, KV_ENOMEM);
        /* Nothing of the failed transaction is visible; the index did not
         * move; applying again works from the same point. */
        assert_int_equal(kvstate_applied_index(f->s), index - 1);
        assert_int_equal(kvstate_durable_index(f->s), index - 1);
        fingerprint(f->s, &after);
        assert_int_equal(after.len, before.len);
        assert_memory_equal(after.p, before.p, after.len);
        assert_true(n < 10000);
    }
    assert_true(failures > 10);
    assert_int_equal(kvstate_applied_index(f->s), index);
    RUN(f, 200, "STRLEN t", ":12\r\n");
    RUN(f, 200, "GETRANGE t 10 11", "$2\r\nab\r\n");
    RUN(f, 200, "EXISTS s n", ":0\r\n");
    resp_buf_free(&e);
    resp_buf_free(&before);
    resp_buf_free(&after);
    resp_buf_free(&reply);
}

/* The bound is Redis's default proto-max-bulk-len, a constant: checked
 * before anything is allocated. */
static void growing_strings_are_bounded_by_a_constant(void **state)
{
    fx *f = *state;
    RUN(f, 1, "SETRANGE k 536870908 abcde",
        "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n");
    RUN(f, 1, "SETBIT b 4294967296 1", "-ERR bit offset is not an integer or out of range\r\n");
    RUN(f, 1, "GETBIT b 4294967296", "-ERR bit offset is not an integer or out of range\r\n");
    RUN(f, 1, "GETBIT b 4294967295", ":0\r\n");
    RUN(f, 1, "EXISTS k b", ":0\r\n");
}

static void command_table_is_consistent(void **state)
{
    (void)state;
    size_t n = kv_command_count();
    assert_true(n >= 49);
    for (size_t i = 0; i < n; i++) {
        const kv_command *t = kv_command_at(i);
        assert_ptr_equal(kv_command_lookup(t->name, strlen(t->name)), t);
        assert_true(!!(t->flags & KV_CMD_WRITE) != !!(t->flags & KV_CMD_READONLY));
        assert_non_null(t->group);
        assert_non_null(t->since);
        assert_non_null(t->summary);
        assert_non_null(t->exec);
    }
    assert_null(kv_command_at(n));
    assert_ptr_equal(kv_command_lookup("GeT", 3), kv_command_lookup("get", 3));
    assert_null(kv_command_lookup("get", 2));
    assert_null(kv_command_lookup("ping", 4));
    const kv_command *c = kv_command_lookup("mset", 4);
    assert_int_equal(c->arity, -3);
    assert_int_equal(c->keystep, 2);
    assert_int_equal(c->lastkey, -1);
    assert_int_equal(kv_command_lookup("set", 3)->flags, KV_CMD_WRITE | KV_CMD_DENYOOM);
}

static void reads_refuse_write_commands(void **state)
{
    fx *f = *state;
    char *argv[] = {"SET", "a", "b"};
    size_t argvlen[] = {3, 1, 1};
    assert_int_equal(kvstate_read(f->s, 0, NULL, 3, argv, argvlen, 0, &f->r), KV_EINVAL);
    assert_int_equal(kvstate_read(f->s, 0, NULL, 0, argv, argvlen, 0, &f->r), KV_EINVAL);
}

/* Applies a seeded pseudo-random workload, the same on every call. */
static void workload(kvstate *s, uint64_t seed, int n)
{
    static const char *cmds[] = {
        "SET k%d v%d",      "SET k%d v%d PX 50", "INCR n%d",           "APPEND k%d x%d",
        "DEL k%d",          "EXPIRE k%d 1",      "SETBIT b%d %d 1",    "INCRBYFLOAT f%d 1.5",
        "GETSET k%d %d",    "RENAME k%d k%d",    "SETRANGE k%d %d ab", "PERSIST k%d",
        "MSET k%d 1 k%d 2", "GETEX k%d PX 30",   "RANDOMKEY",          "FLUSHDB %d",
    };
    char line[128];
    uint64_t x = seed;
    resp_buf r;
    resp_buf_init(&r, 2);
    for (int i = 0; i < n; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        int which = (int)((x >> 33) % 16);
        int a = (int)((x >> 20) % 40), b = (int)((x >> 8) % 97);
        if (which == 15 && (x & 0xff) != 0)
            which = 0; /* FLUSHDB rarely (and its argument makes it an error) */
        snprintf(line, sizeof(line), cmds[which], a, b);
        resp_buf_reset(&r);
        assert_int_equal(kvt_runs(s, 1000 + i * 3, line, &r), 0);
        if (i % 37 == 0) {
            resp_buf e;
            resp_buf_init(&e, 2);
            if (kvstate_collect_expired(s, 1000 + i * 3, 5, &e) > 0)
                assert_int_equal(kvstate_apply(s, kvstate_applied_index(s) + 1, e.p, e.len, &r), 0);
            resp_buf_free(&e);
        }
        if (i % 101 == 0) assert_int_equal(kvstate_commit(s), 0);
    }
    resp_buf_free(&r);
}

/* Every database of an environment, byte for byte. */
static void env_dump(const char *dir, resp_buf *out)
{
    char path[512];
    MDB_env *env;
    MDB_txn *txn;
    snprintf(path, sizeof(path), "%s/state", dir);
    assert_int_equal(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 8);
    assert_int_equal(mdb_env_open(env, path, MDB_RDONLY | MDB_NOTLS, 0644), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    const char *names[] = {"kv0", "kv1", "exp0", "exp1", "meta"};
    for (int i = 0; i < 5; i++) {
        MDB_dbi dbi;
        MDB_cursor *cur;
        MDB_val k, v;
        assert_int_equal(mdb_dbi_open(txn, names[i], 0, &dbi), 0);
        assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
        resp_add_raw(out, names[i], strlen(names[i]));
        while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0) {
            resp_add_raw(out, &k.mv_size, sizeof(size_t));
            resp_add_raw(out, k.mv_data, k.mv_size);
            resp_add_raw(out, &v.mv_size, sizeof(size_t));
            resp_add_raw(out, v.mv_data, v.mv_size);
        }
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    mdb_env_close(env);
}

static void same_entries_give_byte_identical_key_spaces(void **state)
{
    (void)state;
    char *d1 = kvt_mkdtemp(), *d2 = kvt_mkdtemp();
    kvstate *s1 = kvt_open_state(d1), *s2 = kvt_open_state(d2);
    workload(s1, 42, 3000);
    workload(s2, 42, 3000);
    assert_int_equal(kvstate_applied_index(s1), kvstate_applied_index(s2));
    assert_true(kvstate_dbsize(s1, 0) > 0);
    kvstate_close(s1);
    kvstate_close(s2);
    resp_buf a, b;
    resp_buf_init(&a, 2);
    resp_buf_init(&b, 2);
    env_dump(d1, &a);
    env_dump(d2, &b);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.p, b.p, a.len);
    resp_buf_free(&a);
    resp_buf_free(&b);
    kvt_rmrf(d1);
    kvt_rmrf(d2);
}

static void any_argv_is_answered_without_crashing(void **state)
{
    fx *f = *state;
    size_t n = kv_command_count();
    static const char *vals[] = {"",
                                 "0",
                                 "-1",
                                 "1",
                                 "9223372036854775807",
                                 "x",
                                 "EX",
                                 "PX",
                                 "NX",
                                 "XX",
                                 "GET",
                                 "KEEPTTL",
                                 "10",
                                 "-9223372036854775808",
                                 "BIT",
                                 "IDX",
                                 "LEN",
                                 "MINMATCHLEN",
                                 "COUNT",
                                 "MATCH",
                                 "*",
                                 "1.5",
                                 "inf",
                                 "USAGE",
                                 "SAMPLES",
                                 "PERSIST",
                                 "EXAT",
                                 "PXAT"};
    const int nv = sizeof(vals) / sizeof(vals[0]);
    uint64_t x = 7;
    for (size_t i = 0; i < n; i++) {
        const kv_command *t = kv_command_at(i);
        if (!strcmp(t->name, "flushdb") || !strcmp(t->name, "flushall")) continue;
        for (int rep = 0; rep < 300; rep++) {
            char *argv[8];
            size_t argvlen[8];
            int argc = 1 + rep % 7;
            argv[0] = (char *)t->name;
            argvlen[0] = strlen(t->name);
            for (int j = 1; j < argc; j++) {
                x = x * 6364136223846793005ull + 1442695040888963407ull;
                argv[j] = (char *)vals[(x >> 33) % nv];
                argvlen[j] = strlen(argv[j]);
            }
            resp_buf_reset(&f->r);
            /* Straight into the apply path (no server-side check). */
            resp_buf e;
            resp_buf_init(&e, 2);
            kventry_encode_cmd(&e, 1000, 0, argc, argv, argvlen);
            assert_int_equal(
                kvstate_apply(f->s, kvstate_applied_index(f->s) + 1, e.p, e.len, &f->r), 0);
            assert_true(f->r.len > 0);
            resp_buf_free(&e);
        }
    }
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(keys_expire_exactly_at_tau),
        T(membership_is_applied_with_its_index_and_survives_a_restart),
        T(relative_times_are_taken_against_the_entry_tau),
        T(ttl_counts_from_the_wall_clock_and_never_goes_below_zero),
        T(tau_never_goes_backwards),
        T(multi_replies_with_an_array_and_does_not_roll_back),
        T(an_unknown_command_stops_apply_instead_of_diverging),
        T(expire_entries_remove_only_the_expiry_they_saw),
        T(indexes_advance_one_at_a_time_and_replay_is_ignored),
        T(uncommitted_applies_are_lost_on_abandon_but_close_commits),
        T(reads_between_commits_see_every_applied_write),
        T(a_started_commit_is_waited_for_by_whatever_uses_the_state),
        T(scan_returns_every_key_present_throughout_under_writes),
        T(randomkey_finds_a_live_key),
        T(long_keys_work_like_short_ones),
        T(command_table_is_consistent),
        T(growing_strings_are_bounded_by_a_constant),
        T(out_of_memory_at_any_allocation_rolls_back_to_the_last_commit),
        cmocka_unit_test(used_pct_falls_again_after_a_flush),
        T(reads_refuse_write_commands),
        cmocka_unit_test(same_entries_give_byte_identical_key_spaces),
        T(any_argv_is_answered_without_crashing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
