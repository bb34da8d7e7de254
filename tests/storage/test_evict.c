/* test_evict.c -- maxmemory as replicated state (storage/kvevict.c): the
 * accounted size kept exact by every kind of write, the eviction entry's
 * rule (a key rewritten after it was chosen survives) and -OOM decided at
 * apply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "kvtest.h"
#include "storage/kvint.h"

#define TAU 1000000

typedef struct fx {
    char *dir;
    kvstate *s;
    resp_buf r;
    int64_t tau;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    f->dir = kvt_mkdtemp();
    f->s = kvt_open_state(f->dir);
    resp_buf_init(&f->r, 2);
    f->tau = TAU;
    kvt_db = 0;
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

/* Runs a command line and returns its reply (valid until the next run). */
static const char *run(fx *f, const char *line)
{
    resp_buf_reset(&f->r);
    assert_int_equal(kvt_runs(f->s, f->tau, line, &f->r), 0);
    resp_add_raw(&f->r, "", 1);
    return f->r.p;
}

static void assert_exact(fx *f, const char *after)
{
    uint64_t total;
    assert_int_equal(kvstate_acct_recount(f->s, &total), 0);
    if (total != kvstate_accounted(f->s))
        fail_msg("after '%s': incremental %llu, recount %llu", after,
                 (unsigned long long)kvstate_accounted(f->s), (unsigned long long)total);
}

static void accounting_is_exact_after_every_kind_of_write(void **state)
{
    fx *f = *state;
    static const char *const cmds[] = {"SET s1 hello",
                                       "SET s1 a-longer-value",
                                       "APPEND s1 more",
                                       "SETRANGE s1 40 x",
                                       "INCR n",
                                       "INCRBY n 1000000",
                                       "SETBIT b 1000 1",
                                       "GETSET s1 short",
                                       "SETEX t1 100 v",
                                       "PEXPIRE s1 50",
                                       "PERSIST s1",
                                       "DEL n",
                                       "MSET a 1 b 22 c 333",
                                       "HSET h f1 v1 f2 v2",
                                       "HSET h f1 longer-value",
                                       "HSET h f1 longer-value f3 v3",
                                       "HDEL h f2",
                                       "HINCRBY h cnt 5",
                                       "SADD st a b c d e",
                                       "SREM st a",
                                       "SADD st b c x",
                                       "SPOP st 2",
                                       "SMOVE st st2 b",
                                       "ZADD z 1 a 2 b 3 c 4 d",
                                       "ZADD z 10 a",
                                       "ZADD z 10 a 7 e",
                                       "ZADD z NX 3 a 8 f",
                                       "ZADD z GT CH 20 a 1 e",
                                       "ZINCRBY z 1 b",
                                       "ZREM z c",
                                       "ZREMRANGEBYRANK z 0 0",
                                       "ZPOPMIN z",
                                       "RPUSH l a b c d e f",
                                       "LPUSH l x y",
                                       "LPOP l",
                                       "RPOP l 2",
                                       "LSET l 0 replaced",
                                       "LTRIM l 0 2",
                                       "LREM l 0 b",
                                       "LINSERT l BEFORE replaced ins",
                                       "LMOVE l l2 LEFT RIGHT",
                                       "RENAME h h2",
                                       "COPY h2 h3",
                                       "COPY st st3",
                                       "MOVE z 1",
                                       "SWAPDB 0 1",
                                       "SUNIONSTORE su st st3",
                                       "ZUNIONSTORE zu 1 z",
                                       "SORT l STORE sorted",
                                       "SET h2 string-over-hash",
                                       "DEL h3 st3",
                                       "EXPIRE su 1",
                                       "SET s1 x",
                                       "XADD x 1-1 f v",
                                       "XADD x MAXLEN 1 1-2 g w",
                                       "XGROUP CREATE x g 0",
                                       "XREADGROUP GROUP g c STREAMS x >",
                                       "XACK x g 1-2",
                                       "XADD x 1-3 a b",
                                       "XREADGROUP GROUP g c STREAMS x >",
                                       "XCLAIM x g d 0 1-3",
                                       "XGROUP CREATECONSUMER x g e",
                                       "COPY x x2",
                                       "XDEL x 1-3",
                                       "XTRIM x MAXLEN 0",
                                       "XGROUP DELCONSUMER x2 g d",
                                       "XGROUP DESTROY x2 g",
                                       "DEL x",
                                       "FLUSHDB",
                                       "SWAPDB 0 1",
                                       "SADD big 1 2 3 4 5 6 7 8 9 10",
                                       "HSET hh a 1",
                                       "UNLINK hh",
                                       "PFADD hll a b c",
                                       "GETDEL s1",
                                       "FLUSHALL",
                                       "SET after flushall"};
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        run(f, cmds[i]);
        assert_exact(f, cmds[i]);
        /* The node-local cleanup of dropped collections changes nothing. */
        assert_true(kvstate_gc(f->s, 3) >= 0);
        assert_exact(f, "gc");
        f->tau += 10;
    }
    /* An expired key met by a write, then by an expire entry. */
    run(f, "SET e1 v PX 5");
    run(f, "HSET e2 f v");
    run(f, "PEXPIRE e2 5");
    f->tau += 100;
    run(f, "SET e1 new");
    assert_exact(f, "write over an expired key");
    resp_buf e;
    resp_buf_init(&e, 2);
    assert_int_equal(kvstate_collect_expired(f->s, f->tau, 10, &e), 1);
    assert_int_equal(kvstate_apply(f->s, kvstate_applied_index(f->s) + 1, e.p, e.len, NULL), 0);
    resp_buf_free(&e);
    assert_exact(f, "expire entry");
    /* Carried by the state across a restart. */
    uint64_t before = kvstate_accounted(f->s);
    assert_true(before > 0);
    kvstate_close(f->s);
    f->s = kvt_open_state(f->dir);
    assert_int_equal(kvstate_accounted(f->s), before);
    assert_exact(f, "restart");
}

static void accounted_size_counts_keys_values_and_elements(void **state)
{
    fx *f = *state;
    run(f, "SET k 12345");
    assert_int_equal(kvstate_accounted(f->s), KV_ACCT_KEY + 1 + 5);
    run(f, "SADD s ab");
    assert_int_equal(kvstate_accounted(f->s),
                     KV_ACCT_KEY + 1 + 5 + KV_ACCT_KEY + 1 + KV_ACCT_ELEM + 2);
    run(f, "DEL k s");
    assert_int_equal(kvstate_accounted(f->s), 0);
}

/* The change stamp a sample reports for key (volatile_only 0). */
static uint64_t stamp_of(fx *f, const char *key)
{
    kv_evict_sample s[64 * KV_MAX_DBS];
    uint64_t rng = 1, d = 0;
    int found = 0;
    for (int tries = 0; tries < 200 && !found; tries++) {
        int n = kvstate_evict_sample(f->s, 5, 0, 0, &rng, s, 64 * KV_MAX_DBS);
        assert_true(n >= 0);
        for (int i = 0; i < n; i++) {
            if (!found && s[i].keylen == strlen(key) && !memcmp(s[i].key, key, s[i].keylen)) {
                d = s[i].stamp;
                found = 1;
            }
            free(s[i].key);
        }
    }
    assert_true(found);
    return d;
}

static void eviction_entry_spares_a_key_rewritten_after_it_was_chosen(void **state)
{
    fx *f = *state;
    char cmd[128];
    run(f, "SET victim one");
    run(f, "SET other x");
    uint64_t d = stamp_of(f, "victim");
    run(f, "SET victim two"); /* rewritten after it was chosen */
    snprintf(cmd, sizeof(cmd), "RAFT.EVICT2 0 victim %llu", (unsigned long long)d);
    assert_string_equal(run(f, cmd), ":0\r\n");
    assert_string_equal(run(f, "GET victim"), "$3\r\ntwo\r\n");
    assert_int_equal(kvstate_evicted(f->s), 0);
    d = stamp_of(f, "victim");
    assert_string_equal(run(f, cmd), ":0\r\n"); /* the old stamp still */
    snprintf(cmd, sizeof(cmd), "RAFT.EVICT2 0 victim %llu", (unsigned long long)d);
    assert_string_equal(run(f, cmd), ":1\r\n");
    assert_string_equal(run(f, "EXISTS victim"), ":0\r\n");
    assert_int_equal(kvstate_evicted(f->s), 1);
    assert_exact(f, "eviction");
    /* A collection: an element added changes its header, so it survives. */
    run(f, "RPUSH l a");
    d = stamp_of(f, "l");
    run(f, "RPUSH l b");
    snprintf(cmd, sizeof(cmd), "RAFT.EVICT2 0 l %llu", (unsigned long long)d);
    assert_string_equal(run(f, cmd), ":0\r\n");
    assert_string_equal(run(f, "LLEN l"), ":2\r\n");
    /* Malformed entries are refused, not applied, in both forms. */
    assert_string_equal(run(f, "RAFT.EVICT2 99 l 1"), "-ERR Invalid eviction entry\r\n");
    assert_string_equal(run(f, "RAFT.EVICT2 0 l -1"), "-ERR Invalid eviction entry\r\n");
    assert_string_equal(run(f, "RAFT.EVICT2 0 l 1 0"),
                        "-ERR wrong number of arguments for 'raft.evict2' command\r\n");
    assert_string_equal(run(f, "RAFT.EVICT 99 l 1"), "-ERR Invalid eviction entry\r\n");
    assert_string_equal(run(f, "RAFT.EVICT 0 l -1"), "-ERR Invalid eviction entry\r\n");
    assert_string_equal(run(f, "RAFT.EVICT 0 l 18446744073709551616"),
                        "-ERR Invalid eviction entry\r\n");
}

/* kv_record_digest of key's record in physical database 0, as a leader
 * of the previous version put it in a RAFT.EVICT entry; prestamp: of the
 * record as it was stored before records carried a change stamp (the
 * stamp taken out), where the digest's blind spots show. */
static uint64_t old_digest_of(fx *f, const char *key, size_t keylen, int prestamp)
{
    MDB_txn *txn;
    kv_skey sk;
    kv_skey_make(&sk, key, keylen);
    assert_int_equal(kvstate_commit(f->s), 0);
    assert_int_equal(mdb_txn_begin(f->s->env, NULL, MDB_RDONLY, &txn), 0);
    MDB_val k = {sk.len, sk.b}, d;
    assert_int_equal(mdb_get(txn, f->s->dbi[f->s->live][KV_SLOT_KV(0)], &k, &d), 0);
    const unsigned char *p = d.mv_data;
    uint64_t digest;
    if (prestamp) {
        assert_true(d.mv_size >= KV_REC_HDR + 8 && (p[0] & KV_REC_STAMP));
        unsigned char *old = malloc(d.mv_size - 8);
        memcpy(old, p, KV_REC_HDR);
        old[0] &= (unsigned char)~KV_REC_STAMP;
        memcpy(old + KV_REC_HDR, p + KV_REC_HDR + 8, d.mv_size - KV_REC_HDR - 8);
        digest = kv_record_digest(old, d.mv_size - 8);
        free(old);
    } else {
        digest = kv_record_digest(p, d.mv_size);
    }
    mdb_txn_abort(txn);
    return digest;
}

/* Runs an argv (binary arguments) and returns its reply. */
static const char *runv(fx *f, int argc, const char **argv, const size_t *lens)
{
    resp_buf_reset(&f->r);
    assert_int_equal(kvt_run(f->s, f->tau, f->tau, argc, (char **)argv, (size_t *)lens, &f->r), 0);
    resp_add_raw(&f->r, "", 1);
    return f->r.p;
}

/* Writes big (a 20 KB raw string) and h (a hash of three fields), and
 * returns their stamps in st[0..1]; then changes each in a way the
 * digest (of a record without a stamp) does not see: a same-length
 * rewrite inside the string's middle, and a field's new value of the same
 * length (the hash's count and header stay). */
static void changes_the_digest_missed(fx *f, uint64_t st[2])
{
    static char big[20000];
    memset(big, 'a', sizeof(big));
    const char *set[] = {"SET", "big", big};
    const size_t setl[] = {3, 3, sizeof(big)};
    assert_string_equal(runv(f, 3, set, setl), "+OK\r\n");
    assert_string_equal(run(f, "SETRANGE big 0 a"), ":20000\r\n"); /* raw, as after */
    run(f, "HSET h f1 v1 f2 v2 f3 v3");
    uint64_t dg[2] = {old_digest_of(f, "big", 3, 1), old_digest_of(f, "h", 1, 1)};
    st[0] = stamp_of(f, "big");
    st[1] = stamp_of(f, "h");
    assert_string_equal(run(f, "SETRANGE big 10000 b"), ":20000\r\n");
    assert_string_equal(run(f, "HSET h f2 w2"), ":0\r\n");
    assert_true(old_digest_of(f, "big", 3, 1) == dg[0]);
    assert_true(old_digest_of(f, "h", 1, 1) == dg[1]);
}

static void eviction_by_stamp_spares_changes_the_digest_missed(void **state)
{
    fx *f = *state;
    char cmd[160];
    uint64_t st[2];
    changes_the_digest_missed(f, st);
    snprintf(cmd, sizeof(cmd), "RAFT.EVICT2 0 big %llu 0 h %llu", (unsigned long long)st[0],
             (unsigned long long)st[1]);
    assert_string_equal(run(f, cmd), ":0\r\n");
    assert_string_equal(run(f, "GETRANGE big 10000 10000"), "$1\r\nb\r\n");
    assert_string_equal(run(f, "HGET h f2"), "$2\r\nw2\r\n");
    assert_int_equal(kvstate_evicted(f->s), 0);
    /* Sampled again (the new stamps), they go. */
    snprintf(cmd, sizeof(cmd), "RAFT.EVICT2 0 big %llu 0 h %llu",
             (unsigned long long)stamp_of(f, "big"), (unsigned long long)stamp_of(f, "h"));
    assert_string_equal(run(f, cmd), ":2\r\n");
    assert_string_equal(run(f, "EXISTS big h"), ":0\r\n");
    assert_int_equal(kvstate_evicted(f->s), 2);
    assert_exact(f, "eviction by stamp");
}

/* A log written by the previous version holds RAFT.EVICT entries with
 * digests: they apply by the digest rule as they did then, so replaying
 * such a log gives the same state on every node. */
static void old_digest_entries_still_apply_as_before(void **state)
{
    fx *f = *state;
    char cmd[160];
    uint64_t st[2];
    changes_the_digest_missed(f, st);
    snprintf(cmd, sizeof(cmd), "RAFT.EVICT 0 big %llu 0 h %llu",
             (unsigned long long)old_digest_of(f, "big", 3, 0),
             (unsigned long long)old_digest_of(f, "h", 1, 0));
    assert_string_equal(run(f, cmd), ":2\r\n");
    assert_string_equal(run(f, "EXISTS big h"), ":0\r\n");
    assert_int_equal(kvstate_evicted(f->s), 2);
    assert_exact(f, "eviction by digest");
    /* ... and a digest that no longer matches spares the key, as before. */
    run(f, "SET k one");
    uint64_t d = old_digest_of(f, "k", 1, 0);
    run(f, "SET k two");
    snprintf(cmd, sizeof(cmd), "RAFT.EVICT 0 k %llu", (unsigned long long)d);
    assert_string_equal(run(f, cmd), ":0\r\n");
    assert_string_equal(run(f, "GET k"), "$3\r\ntwo\r\n");
    assert_string_equal(run(f, "RAFT.EVICT 0 k"),
                        "-ERR wrong number of arguments for 'raft.evict' command\r\n");
}

#define OOM "-OOM command not allowed when used memory > 'maxmemory'.\r\n"

static void denyoom_writes_get_oom_at_apply_when_nothing_is_evictable(void **state)
{
    fx *f = *state;
    run(f, "SET a 1");
    run(f, "XADD x 1-1 f v");
    run(f, "XGROUP CREATE x g0 0");
    assert_string_equal(run(f, "RAFT.MEMCONF 1 noeviction 5 10 1"), "+OK\r\n");
    /* Streams: XADD, XGROUP CREATE and CREATECONSUMER are denyoom, the
     * subcommands that free memory are not (Redis's xgroup|* flags). */
    assert_string_equal(run(f, "XADD x 1-2 f v"), OOM);
    assert_string_equal(run(f, "XGROUP CREATE x g $"), OOM);
    assert_string_equal(run(f, "XGROUP CREATECONSUMER x g0 c"), OOM);
    assert_string_equal(run(f, "XGROUP DESTROY x g0"), ":1\r\n");
    assert_string_equal(run(f, "XDEL x 1-1"), ":1\r\n");
    assert_string_equal(run(f, "DEL x"), ":1\r\n");
    assert_int_equal(kvstate_memconf(f->s)->maxmemory, 1);
    assert_string_equal(run(f, "SET b 2"), OOM);
    assert_string_equal(run(f, "RPUSH l x"), OOM);
    assert_string_equal(run(f, "GET a"), "$1\r\n1\r\n");   /* reads keep working */
    assert_string_equal(run(f, "INCR a"), OOM);            /* denyoom */
    assert_string_equal(run(f, "EXPIRE a 100"), ":1\r\n"); /* not denyoom */
    assert_string_equal(run(f, "DEL a"), ":1\r\n");
    assert_string_equal(run(f, "SET b 2"), "+OK\r\n"); /* back under */
    /* volatile-*: OOM only while no key has an expiry. */
    run(f, "RAFT.MEMCONF 1 volatile-lru 5 10 1");
    assert_string_equal(run(f, "SET c 3"), OOM);
    run(f, "RAFT.MEMCONF 0 volatile-lru 5 10 1");
    run(f, "SET t 1 EX 100");
    run(f, "RAFT.MEMCONF 1 volatile-lru 5 10 1");
    assert_string_equal(run(f, "SET c 3"), "+OK\r\n");
    /* allkeys-*: writes always get in, eviction follows. */
    run(f, "RAFT.MEMCONF 1 allkeys-lfu 5 10 1");
    assert_string_equal(run(f, "SET d 4"), "+OK\r\n");
    /* The settings survive a restart (pair metadata). */
    kvstate_close(f->s);
    f->s = kvt_open_state(f->dir);
    assert_int_equal(kvstate_memconf(f->s)->policy, KV_MAXMEM_ALLKEYS_LFU);
    assert_int_equal(kvstate_memconf(f->s)->maxmemory, 1);
    assert_string_equal(run(f, "RAFT.MEMCONF 1 bogus 5 10 1"),
                        "-ERR Invalid maxmemory settings\r\n");
    assert_string_equal(run(f, "RAFT.MEMCONF 1 noeviction 0 10 1"),
                        "-ERR Invalid maxmemory settings\r\n");
}

static char events[1024];
static size_t nevents;

static long long on_publish(void *ctx, int shard, const char *ch, size_t chlen, const char *msg,
                            size_t msglen)
{
    (void)ctx, (void)shard;
    int w = snprintf(events + nevents, sizeof(events) - nevents, "%.*s %.*s\n", (int)chlen, ch,
                     (int)msglen, msg);
    if (w > 0 && (size_t)w < sizeof(events) - nevents) nevents += (size_t)w;
    return 1;
}

static void an_eviction_emits_the_evicted_event_in_the_keys_logical_database(void **state)
{
    fx *f = *state;
    char cmd[128];
    kvstate_hooks h = {.publish = on_publish};
    kvstate_set_hooks(f->s, &h);
    kvt_db = 3;
    run(f, "SET k v");
    kvt_db = 0;
    run(f, "SWAPDB 3 5");          /* k now in logical db 5, physical db 3 */
    run(f, "RAFT.NOTIFYCONF 515"); /* K E e */
    uint64_t d = stamp_of(f, "k");
    nevents = 0;
    snprintf(cmd, sizeof(cmd), "RAFT.EVICT2 3 k %llu", (unsigned long long)d);
    assert_string_equal(run(f, cmd), ":1\r\n");
    assert_string_equal(events, "__keyspace@5__:k evicted\n__keyevent@5__:evicted k\n");
    kvstate_set_hooks(f->s, NULL);
}

/* The sample of key (volatile_only 0); its key is the caller's to free. */
static kv_evict_sample sample_of(fx *f, const char *key)
{
    kv_evict_sample s[64 * KV_MAX_DBS], out = {0};
    uint64_t rng = 3;
    for (int tries = 0; tries < 200 && !out.key; tries++) {
        int n = kvstate_evict_sample(f->s, 5, 0, 0, &rng, s, 64 * KV_MAX_DBS);
        assert_true(n >= 0);
        for (int i = 0; i < n; i++) {
            if (!out.key && s[i].keylen == strlen(key) && !memcmp(s[i].key, key, s[i].keylen))
                out = s[i];
            else
                free(s[i].key);
        }
    }
    assert_non_null(out.key);
    return out;
}

static void a_pool_candidate_is_current_only_while_its_record_is_unchanged(void **state)
{
    fx *f = *state;
    run(f, "SET a 1");
    run(f, "HSET h f v");
    run(f, "SET gone x");
    kv_evict_sample a = sample_of(f, "a"), h = sample_of(f, "h"), g = sample_of(f, "gone");
    assert_int_equal(kvstate_evict_current(f->s, &a), 1);
    assert_int_equal(kvstate_evict_current(f->s, &h), 1);
    assert_int_equal(kvstate_evict_current(f->s, &g), 1);
    run(f, "GET a"); /* a read changes nothing */
    assert_int_equal(kvstate_evict_current(f->s, &a), 1);
    run(f, "SET a 1"); /* the same value, rewritten */
    run(f, "HSET h f w");
    run(f, "DEL gone");
    assert_int_equal(kvstate_evict_current(f->s, &a), 0);
    assert_int_equal(kvstate_evict_current(f->s, &h), 0);
    assert_int_equal(kvstate_evict_current(f->s, &g), 0);
    run(f, "SET gone x"); /* back, but a later record */
    assert_int_equal(kvstate_evict_current(f->s, &g), 0);
    kv_evict_sample g2 = sample_of(f, "gone");
    assert_int_equal(kvstate_evict_current(f->s, &g2), 1);
    g2.phys = 1; /* another database holds no such key */
    assert_int_equal(kvstate_evict_current(f->s, &g2), 0);
    free(a.key);
    free(h.key);
    free(g.key);
    free(g2.key);
}

static void volatile_ttl_samples_the_nearest_expiries(void **state)
{
    fx *f = *state;
    run(f, "SET far v EX 1000");
    run(f, "SET near v EX 10");
    run(f, "SET mid v EX 100");
    run(f, "SET none v");
    kv_evict_sample s[64 * KV_MAX_DBS];
    uint64_t rng = 7;
    int n = kvstate_evict_sample(f->s, 2, 1, 1, &rng, s, 64 * KV_MAX_DBS);
    assert_int_equal(n, 2);
    assert_memory_equal(s[0].key, "near", 4);
    assert_memory_equal(s[1].key, "mid", 3);
    for (int i = 0; i < n; i++)
        free(s[i].key);
    /* volatile sampling never offers a key without an expiry. */
    for (int t = 0; t < 50; t++) {
        n = kvstate_evict_sample(f->s, 3, 1, 0, &rng, s, 64 * KV_MAX_DBS);
        for (int i = 0; i < n; i++) {
            assert_true(s[i].expiry != 0);
            free(s[i].key);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(accounting_is_exact_after_every_kind_of_write, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(accounted_size_counts_keys_values_and_elements, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(eviction_entry_spares_a_key_rewritten_after_it_was_chosen,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(eviction_by_stamp_spares_changes_the_digest_missed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(old_digest_entries_still_apply_as_before, setup, teardown),
        cmocka_unit_test_setup_teardown(denyoom_writes_get_oom_at_apply_when_nothing_is_evictable,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            an_eviction_emits_the_evicted_event_in_the_keys_logical_database, setup, teardown),
        cmocka_unit_test_setup_teardown(
            a_pool_candidate_is_current_only_while_its_record_is_unchanged, setup, teardown),
        cmocka_unit_test_setup_teardown(volatile_ttl_samples_the_nearest_expiries, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
