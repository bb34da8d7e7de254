/* test_crash.c -- crash consistency. A child process runs the server's
 * storage loop (append to the log, sync, apply the synced entries, commit
 * the state now and then) and dies at a chosen point, by SIGKILL or
 * _exit(). The parent reopens both environments and checks that:
 *   - every entry the child reported synced is in the log, intact;
 *   - the state's applied index is at least the last one it reported
 *     committed, and at most the log's last index;
 *   - the key space agrees with the applied index (a counter INCRed by
 *     every fourth entry, an APPEND journal);
 *   - replaying the log from applied + 1 gives a state byte-identical to
 *     one built by applying the whole log to a fresh state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <lmdb.h>
#include <signal.h>
#include <sys/wait.h>

#include "kvtest.h"

#define N 1200

enum { DIE_AFTER_LOG_SYNC, DIE_MID_APPLY, DIE_WITH_UNSYNCED_APPENDS, DIE_AFTER_COMMIT, DIE_AT_END };

typedef struct crash_case {
    int where;
    int after_syncs;
    int sigkill; /* else _exit(0) */
} crash_case;

static void payload(uint64_t i, resp_buf *out)
{
    char a1[32], a2[32];
    char *argv[6];
    size_t argvlen[6];
    int argc;
    switch (i % 4) {
    case 0:
        argv[0] = "INCR", argv[1] = "counter", argc = 2;
        break;
    case 1:
        snprintf(a1, sizeof(a1), "k%llu", (unsigned long long)(i % 64));
        snprintf(a2, sizeof(a2), "v%llu", (unsigned long long)i);
        argv[0] = "SET", argv[1] = a1, argv[2] = a2, argc = 3;
        break;
    case 2:
        snprintf(a1, sizeof(a1), "%llu,", (unsigned long long)i);
        argv[0] = "APPEND", argv[1] = "journal", argv[2] = a1, argc = 3;
        break;
    default:
        snprintf(a1, sizeof(a1), "t%llu", (unsigned long long)(i % 16));
        argv[0] = "SET", argv[1] = a1, argv[2] = "x", argv[3] = "PX", argv[4] = "40", argc = 5;
        break;
    }
    for (int j = 0; j < argc; j++)
        argvlen[j] = strlen(argv[j]);
    kventry_encode_cmd(out, 1000 + 10 * (int64_t)i, 0, argc, argv, argvlen);
}

static void die(const crash_case *cc)
{
    if (cc->sigkill) raise(SIGKILL);
    _exit(0);
}

static void report(int fd, char kind, uint64_t v)
{
    char buf[64];
    int n = snprintf(buf, sizeof(buf), "%c %llu\n", kind, (unsigned long long)v);
    if (write(fd, buf, (size_t)n) != n) _exit(3);
}

static void apply_from_log(kvlog *l, kvstate *s, uint64_t upto, const crash_case *cc, int die_mid)
{
    uint64_t from = kvstate_applied_index(s) + 1;
    for (uint64_t j = from; j <= upto; j++) {
        uint64_t term;
        uint8_t type;
        void *d;
        size_t n;
        if (kvlog_get(l, j, &term, &type, &d, &n) != 0 || kvstate_apply(s, j, d, n, NULL) != 0)
            _exit(4);
        free(d);
        if (die_mid && j == (from + upto) / 2) die(cc);
    }
}

static void child(const char *dir, const crash_case *cc, int fd)
{
    char err[256];
    kvlog *l;
    kvstate *s;
    if (kvlog_open(&l, dir, KVT_MAP, err, sizeof(err)) != 0 ||
        kvstate_open(&s, dir, KVT_MAP, err, sizeof(err)) != 0)
        _exit(2);
    int syncs = 0;
    resp_buf e;
    resp_buf_init(&e, 2);
    for (uint64_t i = 1; i <= N; i++) {
        resp_buf_reset(&e);
        payload(i, &e);
        if (kvlog_append(l, i, 1, 0, e.p, e.len) != 0) _exit(5);
        if (cc->where == DIE_WITH_UNSYNCED_APPENDS && syncs == cc->after_syncs && i % 8 == 5)
            die(cc);
        if (i % 8 != 0) continue;
        if (kvlog_sync(l) != 0) _exit(6);
        syncs++;
        report(fd, 'L', i);
        if (cc->where == DIE_AFTER_LOG_SYNC && syncs == cc->after_syncs) die(cc);
        apply_from_log(l, s, i, cc, cc->where == DIE_MID_APPLY && syncs == cc->after_syncs);
        if (syncs % 3 == 0) {
            if (kvstate_commit(s) != 0) _exit(7);
            report(fd, 'S', kvstate_durable_index(s));
            if (cc->where == DIE_AFTER_COMMIT && syncs == cc->after_syncs) die(cc);
        }
    }
    die(cc);
}

static void dump_state(const char *dir, resp_buf *out)
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

static void get(kvstate *s, const char *key, resp_buf *out)
{
    char *argv[] = {"GET", (char *)key};
    size_t argvlen[] = {3, strlen(key)};
    resp_buf_reset(out);
    assert_int_equal(kvstate_read(s, 0, NULL, 2, argv, argvlen, 0, out), 0);
}

static void run_case(const crash_case *cc)
{
    char *dir = kvt_mkdtemp();
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        child(dir, cc, fds[1]);
        _exit(9);
    }
    close(fds[1]);
    uint64_t synced = 0, committed = 0;
    FILE *in = fdopen(fds[0], "r");
    char kind;
    unsigned long long v;
    while (fscanf(in, " %c %llu", &kind, &v) == 2) {
        if (kind == 'L')
            synced = v;
        else
            committed = v;
    }
    fclose(in);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (cc->sigkill)
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    else
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    char err[256];
    kvlog *l;
    kvstate *s;
    assert_int_equal(kvlog_open(&l, dir, KVT_MAP, err, sizeof(err)), 0);
    s = kvt_open_state(dir);
    uint64_t last = kvlog_last_index(l);
    assert_int_equal(last, synced); /* nothing unsynced survives, nothing synced is lost */
    resp_buf want, r;
    resp_buf_init(&want, 2);
    resp_buf_init(&r, 2);
    for (uint64_t i = 1; i <= last; i++) {
        void *d;
        size_t n;
        resp_buf_reset(&want);
        payload(i, &want);
        assert_int_equal(kvlog_get(l, i, NULL, NULL, &d, &n), 0);
        assert_int_equal(n, want.len);
        assert_memory_equal(d, want.p, n);
        free(d);
    }
    uint64_t applied = kvstate_applied_index(s);
    assert_true(applied >= committed);
    assert_true(applied <= last);
    assert_int_equal(kvstate_tau(s), applied ? 1000 + 10 * (int64_t)applied : 0);

    /* The key space is exactly the first `applied` entries. */
    get(s, "counter", &r);
    char buf[8192];
    if (applied >= 4)
        snprintf(buf, sizeof(buf), "$%d\r\n%llu\r\n",
                 snprintf(NULL, 0, "%llu", (unsigned long long)(applied / 4)),
                 (unsigned long long)(applied / 4));
    else
        snprintf(buf, sizeof(buf), "$-1\r\n");
    assert_int_equal(r.len, strlen(buf));
    assert_memory_equal(r.p, buf, r.len);
    resp_buf j;
    resp_buf_init(&j, 2);
    for (uint64_t i = 2; i <= applied; i += 4) {
        int n = snprintf(buf, sizeof(buf), "%llu,", (unsigned long long)i);
        resp_add_raw(&j, buf, (size_t)n);
    }
    get(s, "journal", &r);
    resp_buf_reset(&want);
    if (j.len)
        resp_add_bulk(&want, j.p, j.len);
    else
        resp_add_null(&want);
    assert_int_equal(r.len, want.len);
    assert_memory_equal(r.p, want.p, r.len);
    resp_buf_free(&j);

    /* Replay the rest, as the server does on start. */
    for (uint64_t i = applied + 1; i <= last; i++) {
        void *d;
        size_t n;
        assert_int_equal(kvlog_get(l, i, NULL, NULL, &d, &n), 0);
        assert_int_equal(kvstate_apply(s, i, d, n, NULL), 0);
        free(d);
    }
    kvstate_close(s);

    /* And a fresh state from the whole log. */
    char *fresh = kvt_mkdtemp();
    kvstate *f = kvt_open_state(fresh);
    for (uint64_t i = 1; i <= last; i++) {
        void *d;
        size_t n;
        assert_int_equal(kvlog_get(l, i, NULL, NULL, &d, &n), 0);
        assert_int_equal(kvstate_apply(f, i, d, n, NULL), 0);
        free(d);
        if (i % 50 == 0) assert_int_equal(kvstate_commit(f), 0);
    }
    kvstate_close(f);
    kvlog_close(l);
    resp_buf a, b;
    resp_buf_init(&a, 2);
    resp_buf_init(&b, 2);
    dump_state(dir, &a);
    dump_state(fresh, &b);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.p, b.p, a.len);
    resp_buf_free(&a);
    resp_buf_free(&b);
    resp_buf_free(&want);
    resp_buf_free(&r);
    kvt_rmrf(fresh);
    kvt_rmrf(dir);
}

#define CASE(name, where, after, sig)                                                              \
    static void name(void **state)                                                                 \
    {                                                                                              \
        (void)state;                                                                               \
        crash_case cc = {where, after, sig};                                                       \
        run_case(&cc);                                                                             \
    }

CASE(sigkill_right_after_a_log_sync_before_applying, DIE_AFTER_LOG_SYNC, 5, 1)
CASE(sigkill_in_the_middle_of_applying, DIE_MID_APPLY, 20, 1)
CASE(exit_in_the_middle_of_applying, DIE_MID_APPLY, 44, 0)
CASE(sigkill_with_unsynced_appends, DIE_WITH_UNSYNCED_APPENDS, 30, 1)
CASE(exit_with_unsynced_appends, DIE_WITH_UNSYNCED_APPENDS, 2, 0)
CASE(sigkill_right_after_a_state_commit, DIE_AFTER_COMMIT, 12, 1)
CASE(sigkill_before_anything_synced, DIE_WITH_UNSYNCED_APPENDS, 0, 1)
CASE(exit_at_the_end_without_closing, DIE_AT_END, 0, 0)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sigkill_right_after_a_log_sync_before_applying),
        cmocka_unit_test(sigkill_in_the_middle_of_applying),
        cmocka_unit_test(exit_in_the_middle_of_applying),
        cmocka_unit_test(sigkill_with_unsynced_appends),
        cmocka_unit_test(exit_with_unsynced_appends),
        cmocka_unit_test(sigkill_right_after_a_state_commit),
        cmocka_unit_test(sigkill_before_anything_synced),
        cmocka_unit_test(exit_at_the_end_without_closing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
