/* test_watch.c -- WATCH's change records (storage/kvks.c "watch"): every
 * write path stamps what it changes, a watched MULTI entry aborts (null
 * reply, nothing applied) exactly when a watched key changed or expired,
 * and the records travel with the state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "kvtest_fx.h"
#include "storage/kvint.h"

#define T0 1000000

/* Runs a command line in db at tau and returns its reply (valid until the
 * next call). */
static const char *run(fx *f, int db, int64_t tau, const char *line)
{
    resp_buf_reset(&f->r);
    kvt_db = db;
    assert_int_equal(kvt_runs(f->s, tau, line, &f->r), 0);
    kvt_db = 0;
    resp_add_raw(&f->r, "", 1);
    return f->r.p;
}

typedef struct token {
    char t[48];
    const char *key;
} token;

/* WATCH key in db, as the server records it. */
static token watch(fx *f, int db, const char *key)
{
    token w;
    int present, phys;
    uint64_t applied;
    assert_int_equal(kvstate_watch_probe(f->s, db, key, strlen(key), &present, &applied, &phys), 0);
    snprintf(w.t, sizeof(w.t), "%d:%d:%llu:%d", db, present, (unsigned long long)applied, phys);
    w.key = key;
    return w;
}

/* EXEC of "SET out 1" in db 0 under the watch w, at tau: 1 committed, 0
 * aborted (null reply). */
static int exec_watched(fx *f, int64_t tau, token w)
{
    char *wv[3] = {"raft.watch", w.t, (char *)w.key};
    size_t wl[3] = {10, strlen(w.t), strlen(w.key)};
    char *cv[3] = {"SET", "out", "1"};
    size_t cl[3] = {3, 3, 1};
    resp_buf e;
    resp_buf_init(&e, 2);
    kventry_begin_multi(&e, tau, 0, 2);
    kventry_add_cmd(&e, 3, wv, wl);
    kventry_add_cmd(&e, 3, cv, cl);
    resp_buf_reset(&f->r);
    assert_int_equal(kvstate_apply(f->s, kvstate_applied_index(f->s) + 1, e.p, e.len, &f->r), 0);
    resp_buf_free(&e);
    if (f->r.len == 5 && !memcmp(f->r.p, "*-1\r\n", 5)) return 0;
    assert_int_equal(f->r.len, 9);
    assert_memory_equal(f->r.p, "*1\r\n+OK\r\n", 9);
    return 1;
}

typedef struct wcase {
    const char *setup; /* NULL: none; "a;b": two commands */
    int wdb;           /* the watched key's database */
    const char *write; /* run in db wrdb */
    int wrdb;
    int aborts;
} wcase;

static void run_lines(fx *f, int db, int64_t tau, const char *lines)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", lines);
    char *save = NULL;
    for (char *l = strtok_r(buf, ";", &save); l; l = strtok_r(NULL, ";", &save))
        run(f, db, tau, l);
}

static void every_write_path_marks_the_key_changed(void **state)
{
    fx *f = *state;
    static const wcase cases[] = {
        {"SET k v", 0, "SET k v", 0, 1}, /* same value: Redis touches too */
        {"SET k v", 0, "SET k w NX", 0, 0},
        {NULL, 0, "SET k w XX", 0, 0},
        {NULL, 0, "SET k w", 0, 1},
        {"SET k v", 0, "APPEND k x", 0, 1},
        {"SET k v", 0, "SETRANGE k 0 w", 0, 1},
        {"SET k 1", 0, "INCR k", 0, 1},
        {"SET k v", 0, "INCR k", 0, 0},    /* fails */
        {"SET k v", 0, "LPUSH k x", 0, 0}, /* WRONGTYPE */
        {"SET k v", 0, "DEL k", 0, 1},
        {NULL, 0, "DEL k", 0, 0},
        {"SET k v", 0, "EXPIRE k 100", 0, 1},
        {"SET k v", 0, "PERSIST k", 0, 0},
        {"SET k v EX 100", 0, "PERSIST k", 0, 1},
        {"SET k v", 0, "SETBIT k 1 1", 0, 1},
        {"HSET k f v", 0, "HSET k f v", 0, 1},
        {"HSET k f v", 0, "HDEL k nof", 0, 0},
        {"HSET k f v", 0, "HDEL k f", 0, 1},
        {"RPUSH k a", 0, "LSET k 0 b", 0, 1},
        {"RPUSH k a", 0, "RPUSH k b", 0, 1},
        {"RPUSH k a", 0, "LREM k 0 zz", 0, 0},
        {"RPUSH k a", 0, "LPOP k", 0, 1},
        {"SADD k a", 0, "SADD k a", 0, 0},
        {"SADD k a", 0, "SADD k b", 0, 1},
        {"SADD k a", 0, "SREM k a", 0, 1},
        {"ZADD k 1 m", 0, "ZADD k 1 m", 0, 0},
        {"ZADD k 1 m", 0, "ZINCRBY k 1 m", 0, 1},
        {"SADD s a", 0, "SUNIONSTORE k s", 0, 1},
        {"SET k v", 0, "RENAME k k2", 0, 1},
        {"SET k2 v", 0, "RENAME k2 k", 0, 1},
        {"SET k v", 0, "MOVE k 1", 0, 1},
        {"SET k v", 1, "MOVE k 1", 0, 1}, /* watched in the target */
        {"SET k2 v", 0, "COPY k2 k", 0, 1},
        {"SET k v", 0, "FLUSHDB", 0, 1},
        {"SET k v", 0, "FLUSHALL", 1, 1},
        {"SET k v", 0, "SWAPDB 0 1", 0, 1},
        {"SET k v", 0, "SET k v", 1, 0}, /* another database */
        {"SET k v", 0, "SET k2 v", 0, 0},
        {"SET k v", 0, "GET k", 0, 0},
        /* Streams: Redis signals XADD, XDEL and XTRIM that remove
         * something, not consumer groups nor XSETID. */
        {"XADD k 1-1 f v", 0, "XADD k 1-2 f v", 0, 1},
        {"XADD k 1-1 f v", 0, "XDEL k 1-1", 0, 1},
        {"XADD k 1-1 f v", 0, "XDEL k 9-9", 0, 0},
        {"XADD k 1-1 f v", 0, "XTRIM k MAXLEN 0", 0, 1},
        {"XADD k 1-1 f v", 0, "XGROUP CREATE k g $", 0, 0},
        {"XADD k 1-1 f v;XGROUP CREATE k g 0", 0, "XREADGROUP GROUP g c STREAMS k >", 0, 0},
        {"XADD k 1-1 f v", 0, "XSETID k 5-5", 0, 0},
        {NULL, 0, "XGROUP CREATE k g $ MKSTREAM", 0, 1},
    };
    int64_t tau = T0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const wcase *c = &cases[i];
        run(f, 0, tau, "FLUSHALL");
        run(f, 1, tau, "FLUSHDB");
        /* A later index than the flush's marks. */
        run(f, 0, tau, "SET pad 1");
        if (c->setup)
            run_lines(f, c->write && !strncmp(c->write, "MOVE", 4) ? 0 : c->wdb, tau, c->setup);
        token w = watch(f, c->wdb, "k");
        run_lines(f, c->wrdb, tau, c->write);
        int committed = exec_watched(f, tau, w);
        if (committed == c->aborts) {
            fprintf(stderr, "case %zu: %s then %s (db %d, watched db %d): %s\n", i,
                    c->setup ? c->setup : "-", c->write, c->wrdb, c->wdb,
                    committed ? "committed" : "aborted");
            fail();
        }
        tau += 10;
    }
}

static void an_aborted_exec_applies_nothing(void **state)
{
    fx *f = *state;
    run(f, 0, T0, "SET k v");
    token w = watch(f, 0, "k");
    run(f, 0, T0, "SET k v2");
    assert_int_equal(exec_watched(f, T0, w), 0);
    assert_string_equal(run(f, 0, T0, "EXISTS out"), ":0\r\n");
    /* Watched afresh: unchanged since, it commits. */
    w = watch(f, 0, "k");
    assert_int_equal(exec_watched(f, T0, w), 1);
    assert_string_equal(run(f, 0, T0, "GET out"), "$1\r\n1\r\n");
}

static void a_key_that_expires_after_watch_aborts(void **state)
{
    fx *f = *state;
    run(f, 0, T0, "SET k v PX 100");
    token w = watch(f, 0, "k");
    assert_int_equal(exec_watched(f, T0 + 99, w), 1);
    w = watch(f, 0, "k");
    assert_int_equal(exec_watched(f, T0 + 100, w), 0); /* tau reached its expiry */
}

static void an_expired_key_deleted_after_watch_is_no_change(void **state)
{
    fx *f = *state;
    run(f, 0, T0, "SET k v PX 100");
    run(f, 0, T0 + 200, "SET other 1"); /* tau moves past k's expiry */
    token w = watch(f, 0, "k");         /* absent (expired) */
    /* The expire entry deletes k's record. */
    resp_buf e;
    resp_buf_init(&e, 2);
    assert_int_equal(kvstate_collect_expired(f->s, T0 + 300, 100, &e), 1);
    assert_int_equal(kvstate_apply(f->s, kvstate_applied_index(f->s) + 1, e.p, e.len, NULL), 0);
    resp_buf_free(&e);
    assert_int_equal(kvstate_dbsize(f->s, 0), 1);
    assert_int_equal(exec_watched(f, T0 + 300, w), 1);
    /* An absent key created and deleted again after WATCH: changed. */
    w = watch(f, 0, "k");
    run(f, 0, T0 + 300, "SET k v");
    run(f, 0, T0 + 300, "DEL k");
    assert_int_equal(exec_watched(f, T0 + 300, w), 0);
    /* An expiring key written and expired after WATCH: changed. */
    w = watch(f, 0, "k");
    run(f, 0, T0 + 300, "SET k v PX 10");
    assert_int_equal(exec_watched(f, T0 + 400, w), 0);
}

static void a_malformed_watch_list_aborts(void **state)
{
    fx *f = *state;
    token w = {"0:1", "k"};
    assert_int_equal(exec_watched(f, T0, w), 0);
    token w2 = {"99:0:1", "k"};
    assert_int_equal(exec_watched(f, T0, w2), 0);
    token w3 = {"0:2:1", "k"};
    assert_int_equal(exec_watched(f, T0, w3), 0);
    token ok = {"0:0:18446744073709551615", "k"};
    assert_int_equal(exec_watched(f, T0, ok), 1);
}

static void the_records_survive_a_restart(void **state)
{
    fx *f = *state;
    run(f, 0, T0, "SET k v");
    run(f, 0, T0, "DEL k");
    token w = watch(f, 0, "k");
    run(f, 0, T0, "SET k v");
    token w2 = watch(f, 0, "k");
    assert_int_equal(kvstate_commit(f->s), 0);
    kvstate_close(f->s);
    f->s = kvt_open_state(f->dir);
    assert_int_equal(exec_watched(f, T0, w), 0);
    assert_int_equal(exec_watched(f, T0, w2), 1);
}

/* A key absent when watched changes only by existing since (Redis 7.0's
 * touchAllWatchedKeysInDb touches watched keys that exist in a flushed or
 * swapped db; deleting another key touches nothing), whatever bucket the
 * other keys share with it. */
static void absent_keys_change_only_by_existing(void **state)
{
    fx *f = *state;
    int64_t tau = T0;
    /* "o<n>": a key of k's deletion bucket (the key hash's top 16 bits). */
    char same[32];
    uint64_t hk = kv_keyhash("k", 1) >> 48;
    for (int n = 0;; n++) {
        snprintf(same, sizeof(same), "o%d", n);
        if (kv_keyhash(same, strlen(same)) >> 48 == hk) break;
    }
    struct {
        const char *before;  /* run in db 0 before WATCH k (db 0) */
        const char *before1; /* ... in db 1 */
        const char *after;   /* run in db 0 after it */
        int aborts;
    } cases[] = {
        {"SET o v", NULL, "FLUSHDB", 0},
        {NULL, "SET o v", "SWAPDB 0 1", 0},
        {NULL, "SET k v", "SWAPDB 0 1", 1},
        {"SET o v", NULL, "SET k v;FLUSHDB", 1},
        {NULL, NULL, "SET k v;DEL k", 1},
        {NULL, NULL, "SET k v;SWAPDB 0 1", 1},
        {"SET o v", NULL, "DEL o", 0},
        {"SET o v", NULL, "SET o w;EXPIRE o 100;DEL o", 0},
        {NULL, NULL, "SET k v;MOVE k 1", 1},
        {NULL, "SET k v", "SWAPDB 0 1;DEL k;SWAPDB 0 1", 1},
        {NULL, NULL, "SWAPDB 0 1;SWAPDB 0 1", 1}, /* two swaps: not followed, aborts */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run(f, 0, tau, "FLUSHALL");
        run(f, 0, tau, "SET pad 1");
        if (cases[i].before) run_lines(f, 0, tau, cases[i].before);
        if (cases[i].before1) run_lines(f, 1, tau, cases[i].before1);
        token w = watch(f, 0, "k");
        run_lines(f, 0, tau, cases[i].after);
        int committed = exec_watched(f, tau, w);
        if (committed == cases[i].aborts) {
            fprintf(stderr, "case %zu: %s / %s, then %s: %s\n", i,
                    cases[i].before ? cases[i].before : "-",
                    cases[i].before1 ? cases[i].before1 : "-", cases[i].after,
                    committed ? "committed" : "aborted");
            fail();
        }
        tau += 10;
    }
    /* Another key of k's bucket deleted: no change; under a token of the
     * older form (no physical db) the bucket decides, and aborts. */
    char line[64];
    run(f, 0, tau, "FLUSHALL");
    snprintf(line, sizeof(line), "SET %s v", same);
    run(f, 0, tau, line);
    token w = watch(f, 0, "k");
    token old = w;
    *strrchr(old.t, ':') = '\0';
    snprintf(line, sizeof(line), "DEL %s", same);
    assert_string_equal(run(f, 0, tau, line), ":1\r\n");
    assert_int_equal(exec_watched(f, tau, w), 1);
    assert_int_equal(exec_watched(f, tau, old), 0);
}

/* Applies no-op entries until the next index is at. */
static void skip_to(fx *f, uint64_t at)
{
    while (kvstate_applied_index(f->s) + 1 < at)
        assert_int_equal(kvstate_apply(f->s, kvstate_applied_index(f->s) + 1, NULL, 0, NULL), 0);
}

/* Tombstones of generation gen (of 65,536 indexes) in the WATCH slot. */
static int tombstones(fx *f, uint64_t gen)
{
    assert_int_equal(kvstate_commit(f->s), 0);
    MDB_txn *txn;
    MDB_cursor *cur;
    assert_int_equal(mdb_txn_begin(f->s->env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_cursor_open(txn, f->s->dbi[f->s->live][KV_SLOT_WATCH], &cur), 0);
    unsigned char first = 0xfe;
    MDB_val k = {1, &first}, d;
    int n = 0;
    for (int rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        const unsigned char *kb = k.mv_data;
        if (kb[0] != 0xfe) break;
        if (kv_get_be64(kb + 1) == gen) n++;
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return n;
}

/* Across generations: a WATCH of the previous generation is still judged
 * exactly; tombstones older than that are pruned; an older WATCH falls
 * back to the buckets (a key of k's bucket deleted since aborts it). */
static void tombstones_across_generations(void **state)
{
    fx *f = *state;
    const uint64_t G = 65536;
    run(f, 0, T0, "SET x v");
    run(f, 0, T0, "DEL x");
    assert_int_equal(tombstones(f, 0), 1);
    skip_to(f, G - 10);
    token w = watch(f, 0, "k");
    skip_to(f, G + 10);
    run(f, 0, T0, "SET o v");
    run(f, 0, T0, "DEL o");
    assert_int_equal(exec_watched(f, T0, w), 1);
    w = watch(f, 0, "k");
    token w_old = watch(f, 0, "k");
    run(f, 0, T0, "SET k v");
    run(f, 0, T0, "DEL k");
    assert_int_equal(exec_watched(f, T0, w), 0);
    assert_int_equal(tombstones(f, 0), 1); /* generation 0 is still kept */
    skip_to(f, 2 * G + 10);
    run(f, 0, T0, "SET y v");
    run(f, 0, T0, "DEL y"); /* a tombstone written prunes two older ones */
    assert_int_equal(tombstones(f, 0), 0);
    assert_int_equal(tombstones(f, 1), 2);
    /* w_old (generation 1, now the previous one) saw k created and gone. */
    assert_int_equal(exec_watched(f, T0, w_old), 0);
    /* A WATCH older than the horizon: the bucket decides. */
    char same[32];
    uint64_t hk = kv_keyhash("k", 1) >> 48;
    for (int n = 0;; n++) {
        snprintf(same, sizeof(same), "o%d", n);
        if (kv_keyhash(same, strlen(same)) >> 48 == hk) break;
    }
    char line[64];
    snprintf(line, sizeof(line), "SET %s v", same);
    run(f, 0, T0, line);
    w = watch(f, 0, "k");
    token w2 = watch(f, 0, "k2");
    skip_to(f, 4 * G + 10);
    assert_int_equal(exec_watched(f, T0, w2), 1); /* untouched */
    snprintf(line, sizeof(line), "DEL %s", same);
    run(f, 0, T0, line);
    assert_int_equal(exec_watched(f, T0, w), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(every_write_path_marks_the_key_changed, setup, teardown),
        cmocka_unit_test_setup_teardown(an_aborted_exec_applies_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(a_key_that_expires_after_watch_aborts, setup, teardown),
        cmocka_unit_test_setup_teardown(an_expired_key_deleted_after_watch_is_no_change, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_malformed_watch_list_aborts, setup, teardown),
        cmocka_unit_test_setup_teardown(the_records_survive_a_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(absent_keys_change_only_by_existing, setup, teardown),
        cmocka_unit_test_setup_teardown(tombstones_across_generations, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
