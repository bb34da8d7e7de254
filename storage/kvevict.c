/* kvevict.c -- maxmemory decided once, applied identically on every node
 * (kvstate.h "maxmemory").
 *
 * Accounting. The accounted size is a function of the key space alone:
 * per key record KV_ACCT_KEY + key bytes (+ a string's bytes), per
 * collection element KV_ACCT_ELEM + name + value bytes (a zset member
 * counts its 8 score bytes once; the score index is not counted). kvks.c
 * keeps it exact at every put and delete: a record's share at put_record
 * and delete_key, an element's at kv_elem_put / kv_elem_del /
 * kv_iter_del_current, and a collection's elements by version in the
 * pair's ACCT table, so dropping a collection (DEL, overwrite, expiry,
 * FLUSHDB: the elements go to the cleanup queue) takes its bytes out in
 * O(1), whenever the node-local cleanup runs. The total lives in the pair's
 * metadata, so snapshots carry it.
 *
 * Settings: RAFT.MEMCONF <maxmemory> <policy> <samples> <lfu-log-factor>
 * <lfu-decay-time>, an internal entry (CONFIG SET proposes it).
 *
 * Eviction: RAFT.EVICT2 (<physical db> <key> <stamp>)...: each key is
 * deleted only if its record's change stamp (the index of the entry that
 * last changed it, kept for WATCH: kvint.h KV_REC_STAMP) is still the one
 * the leader sampled, so a key changed in any way after the leader chose
 * it survives, as an expire entry spares a key whose expiry changed. Every
 * change after the sample is made by a later entry, so it leaves a larger
 * stamp: put_record() stamps what it writes, and kv_touch() (beside every
 * keyspace event, as Redis's signalModifiedKey()) restamps a record whose
 * change did not rewrite it (an element of a collection).
 *
 * RAFT.EVICT (<physical db> <key> <digest>)... is the form the previous
 * version wrote: a digest of the record (kv_record_digest), which misses a
 * same-length rewrite inside a string over 8 KB and an element change that
 * keeps a collection's count and bounds. It still applies exactly as it
 * did, so a log written before the change replays to the same state; the
 * leader proposes only the new form, under a new name so that a node of
 * the previous version stops on it (KV_ENEWER) rather than diverging.
 *
 * The victims come from the leader's sampling (kvstate_evict_sample),
 * which is the only place randomness and access data enter; the entry
 * carries the outcome. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/kvcmd.h"
#include "storage/kvcmd_int.h"
#include "storage/kverr.h"
#include "storage/kvks.h"

/* ------------------------------------------------------------ accounting */

uint64_t kv_acct_record(size_t keylen, int type, size_t vlen)
{
    return KV_ACCT_KEY + keylen + (type == KV_TYPE_STRING ? vlen : 0);
}

static int accounting(const kv_ctx *c)
{
    return c->st && c->writable;
}

void kv_acct_add(kv_ctx *c, int64_t delta)
{
    if (!accounting(c) || delta == 0) return;
    struct kvstate *s = c->st;
    /* Saturates: a state written before accounting existed starts from a
     * recount (kvstate_open), so this never happens in a consistent one. */
    if (delta < 0 && (uint64_t)-delta > s->acct)
        s->acct = 0;
    else
        s->acct += (uint64_t)delta;
    s->pmeta_dirty = 1;
}

static MDB_dbi acct_dbi(kv_ctx *c)
{
    return c->st->dbi[c->st->live][KV_SLOT_ACCT];
}

uint64_t kv_acct_ver_get(kv_ctx *c, uint64_t ver)
{
    if (!c->st) return 0;
    unsigned char kb[8];
    kv_put_be64(kb, ver);
    MDB_val k = {8, kb}, d;
    if (mdb_get(c->txn, acct_dbi(c), &k, &d) != 0 || d.mv_size != 8) return 0;
    return kv_get_be64(d.mv_data);
}

int kv_acct_ver_add(kv_ctx *c, uint64_t ver, int64_t delta)
{
    if (!accounting(c) || delta == 0) return 0;
    /* One search (once per element written): the cursor finds the row and
     * the new count replaces it where it is. */
    unsigned char kb[8], vb[8];
    kv_put_be64(kb, ver);
    MDB_val k = {8, kb}, d;
    MDB_cursor *mc;
    int rc = mdb_cursor_open(c->txn, acct_dbi(c), &mc);
    if (rc != 0) {
        if (c->rc == 0) c->rc = kv_map_err(rc);
        return -1;
    }
    rc = mdb_cursor_get(mc, &k, &d, MDB_SET_KEY);
    int found = rc == 0;
    uint64_t cur = found && d.mv_size == 8 ? kv_get_be64(d.mv_data) : 0, nv;
    nv = delta < 0 && (uint64_t)-delta > cur ? 0 : cur + (uint64_t)delta;
    kv_put_be64(vb, nv);
    k = (MDB_val){8, kb};
    d = (MDB_val){8, vb};
    if (rc == 0 || rc == MDB_NOTFOUND) {
        if (nv)
            rc = mdb_cursor_put(mc, &k, &d, found ? MDB_CURRENT : 0);
        else
            rc = found ? mdb_cursor_del(mc, 0) : 0;
    }
    mdb_cursor_close(mc);
    if (rc != 0) {
        if (c->rc == 0) c->rc = kv_map_err(rc);
        return -1;
    }
    kv_acct_add(c, (int64_t)nv - (int64_t)cur);
    return 0;
}

int kv_acct_ver_drop(kv_ctx *c, uint64_t ver)
{
    if (!accounting(c)) return 0;
    uint64_t cur = kv_acct_ver_get(c, ver);
    if (!cur) return 0;
    return kv_acct_ver_add(c, ver, -(int64_t)cur) ? c->rc : 0;
}

uint64_t kv_record_digest(const void *rec, size_t len)
{
    /* The header (type, expiry, a long key) and the value's length, its
     * first and last 4 KB: a rewrite of the middle of a large string alone
     * is not seen (documented), and no digest costs more than 8 KB. */
    const unsigned char *p = rec;
    uint64_t h = kv_keyhash(&len, sizeof(len));
    if (len <= 8192) return h ^ kv_keyhash(p, len);
    return h ^ kv_keyhash(p, 4096) ^ (kv_keyhash(p + len - 4096, 4096) * 31);
}

/* ------------------------------------------------------------ settings */

static const char *const policy_names[KV_MAXMEM_NPOLICIES] = {
    "noeviction",   "allkeys-lru",  "allkeys-lfu",     "allkeys-random",
    "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"};

const char *kv_policy_name(int policy)
{
    return policy >= 0 && policy < KV_MAXMEM_NPOLICIES ? policy_names[policy] : "noeviction";
}

int kv_policy_parse(const char *s, size_t len)
{
    for (int i = 0; i < KV_MAXMEM_NPOLICIES; i++)
        if (kv_streqci(s, len, policy_names[i])) return i;
    return -1;
}

static int memconf_valid(const kv_memconf *m)
{
    return m->policy >= 0 && m->policy < KV_MAXMEM_NPOLICIES && m->samples >= 1 &&
           m->lfu_log_factor >= 0 && m->lfu_decay_time >= 0 && m->maxmemory <= (uint64_t)INT64_MAX;
}

int kvstate_read_pmeta_mem(struct kvstate *s, MDB_txn *txn, int pair, uint64_t *acct,
                           uint64_t *evicted, kv_memconf *mem, int *has_acct)
{
    MDB_dbi dbi = s->dbi[pair][KV_SLOT_PMETA];
    const kv_memconf def = KV_MEMCONF_DEFAULT;
    MDB_val k = {strlen(PMETA_ACCT), PMETA_ACCT}, d;
    *acct = *evicted = 0;
    *mem = def;
    *has_acct = 0;
    int rc = mdb_get(txn, dbi, &k, &d);
    if (rc == 0) {
        if (d.mv_size != 8) return KV_ECORRUPT;
        *acct = kv_get_be64(d.mv_data);
        *has_acct = 1;
    } else if (rc != MDB_NOTFOUND) {
        return kv_map_err(rc);
    }
    k = (MDB_val){strlen(PMETA_EVICTED), PMETA_EVICTED};
    rc = mdb_get(txn, dbi, &k, &d);
    if (rc == 0) {
        if (d.mv_size != 8) return KV_ECORRUPT;
        *evicted = kv_get_be64(d.mv_data);
    } else if (rc != MDB_NOTFOUND) {
        return kv_map_err(rc);
    }
    k = (MDB_val){strlen(PMETA_MEMCONF), PMETA_MEMCONF};
    rc = mdb_get(txn, dbi, &k, &d);
    if (rc == 0) {
        const unsigned char *p = d.mv_data;
        if (d.mv_size != 40) return KV_ECORRUPT;
        uint64_t v[5];
        for (int i = 0; i < 5; i++)
            v[i] = kv_get_be64(p + 8 * i);
        if (v[1] >= KV_MAXMEM_NPOLICIES || v[2] > INT32_MAX || v[3] > INT32_MAX || v[4] > INT32_MAX)
            return KV_ECORRUPT;
        kv_memconf m = {v[0], (int)v[1], (int)v[2], (int)v[3], (int)v[4]};
        if (!memconf_valid(&m)) return KV_ECORRUPT;
        *mem = m;
    } else if (rc != MDB_NOTFOUND) {
        return kv_map_err(rc);
    }
    return 0;
}

int kvstate_save_pmeta_mem(struct kvstate *s)
{
    MDB_dbi dbi = s->dbi[s->live][KV_SLOT_PMETA];
    unsigned char ab[8], eb[8], mb[40];
    kv_put_be64(ab, s->acct);
    kv_put_be64(eb, s->evicted);
    const uint64_t v[5] = {s->mem.maxmemory, (uint64_t)s->mem.policy, (uint64_t)s->mem.samples,
                           (uint64_t)s->mem.lfu_log_factor, (uint64_t)s->mem.lfu_decay_time};
    for (int i = 0; i < 5; i++)
        kv_put_be64(mb + 8 * i, v[i]);
    MDB_val k = {strlen(PMETA_ACCT), PMETA_ACCT}, d = {8, ab};
    int rc = mdb_put(s->wtxn, dbi, &k, &d, 0);
    if (rc == 0 && s->evicted) {
        k = (MDB_val){strlen(PMETA_EVICTED), PMETA_EVICTED};
        d = (MDB_val){8, eb};
        rc = mdb_put(s->wtxn, dbi, &k, &d, 0);
    }
    const kv_memconf def = KV_MEMCONF_DEFAULT;
    if (rc == 0 && memcmp(&s->mem, &def, sizeof(def))) {
        k = (MDB_val){strlen(PMETA_MEMCONF), PMETA_MEMCONF};
        d = (MDB_val){40, mb};
        rc = mdb_put(s->wtxn, dbi, &k, &d, 0);
    }
    return rc ? kv_map_err(rc) : 0;
}

const kv_memconf *kvstate_memconf(kvstate *s)
{
    return &s->mem;
}

uint64_t kvstate_accounted(kvstate *s)
{
    return s->acct;
}

uint64_t kvstate_evicted(kvstate *s)
{
    return s->evicted;
}

void kvstate_set_access(kvstate *s, kvstate_access_fn *fn, void *ctx)
{
    s->access = fn;
    s->access_ctx = ctx;
}

/* ------------------------------------------------------------ -OOM at apply */

/* Some key has an expiry (volatile-* have something to evict). */
static int any_volatile(struct kvstate *s, MDB_txn *txn)
{
    for (int p = 0; p < KV_MAX_DBS; p++) {
        MDB_stat st;
        if (mdb_stat(txn, s->dbi[s->live][KV_SLOT_EXP(p)], &st) == 0 && st.ms_entries > 0) return 1;
    }
    return 0;
}

/* Above maxmemory with nothing the policy may evict: an eviction policy
 * lets writes in while it has something to evict (the leader's eviction
 * entries follow). */
static int oom_refuses(struct kvstate *s, MDB_txn *txn)
{
    const kv_memconf *m = &s->mem;
    if (!m->maxmemory || s->acct <= m->maxmemory) return 0;
    if (m->policy == KV_MAXMEM_NOEVICTION) return 1;
    if (kv_policy_volatile(m->policy)) return !any_volatile(s, txn);
    return 0;
}

int kvstate_oom_refuses(kvstate *s)
{
    const kv_memconf *m = &s->mem;
    if (!m->maxmemory || s->acct <= m->maxmemory) return 0;
    MDB_txn *txn;
    int own;
    if (kvstate_txn_for_read(s, &txn, &own) != 0) return 1; /* as Redis: refuse */
    int r = oom_refuses(s, txn);
    if (own) mdb_txn_abort(txn);
    return r;
}

int kv_oom_at_apply(kv_ctx *c, const kv_command *cmd)
{
    /* Inside a script, redis.call decides (kv_oom_for_script). */
    if (!(cmd->flags & KV_CMD_DENYOOM) || !accounting(c) || !c->st->applying || c->in_script)
        return 0;
    return oom_refuses(c->st, c->txn);
}

int kv_oom_for_script(kv_ctx *c)
{
    if (!c->st) return 0;
    /* Applying: the replicated count, the same on every node. A read
     * (EVAL_RO) looks at this node's, as Redis looks at its own. */
    if (c->writable && (!accounting(c) || !c->st->applying)) return 0;
    return oom_refuses(c->st, c->txn);
}

/* ------------------------------------------------------------ RAFT.MEMCONF */

static int parse_u64(const char *s, size_t len, uint64_t *v, long long max)
{
    long long ll;
    if (!kv_string2ll(s, len, &ll) || ll < 0 || ll > max) return -1;
    *v = (uint64_t)ll;
    return 0;
}

static int memconf_parse(char **argv, size_t *argvlen, kv_memconf *m)
{
    uint64_t v[4];
    int pol = kv_policy_parse(argv[2], argvlen[2]);
    if (parse_u64(argv[1], argvlen[1], &v[0], INT64_MAX) || pol < 0 ||
        parse_u64(argv[3], argvlen[3], &v[1], INT32_MAX) || v[1] < 1 ||
        parse_u64(argv[4], argvlen[4], &v[2], INT32_MAX) ||
        parse_u64(argv[5], argvlen[5], &v[3], INT32_MAX))
        return -1;
    *m = (kv_memconf){v[0], pol, (int)v[1], (int)v[2], (int)v[3]};
    return 0;
}

KV_CHECK(memconf_check)
{
    (void)argc;
    kv_memconf m;
    if (memconf_parse(argv, argvlen, &m)) {
        resp_add_error(err, "ERR Invalid maxmemory settings");
        return -1;
    }
    return 0;
}

static void kvx_memconf(ARGS)
{
    kv_memconf m;
    if (memconf_check(argc, argv, argvlen, c->reply)) return;
    memconf_parse(argv, argvlen, &m);
    if (!c->st || !c->writable) {
        resp_add_error(c->reply, "ERR RAFT.MEMCONF is applied only");
        return;
    }
    c->st->mem = m;
    c->st->pmeta_dirty = 1;
    resp_add_ok(c->reply);
}

/* ------------------------------------------------------------ RAFT.EVICT */

/* A digest or a stamp: the decimal digits of a u64. */
static int parse_digest(const char *s, size_t len, uint64_t *v)
{
    uint64_t x = 0;
    if (len == 0 || len > 20) return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (x > (UINT64_MAX - d) / 10) return -1;
        x = x * 10 + d;
    }
    *v = x;
    return 0;
}

/* Both forms: (<phys> <key> <u64>) triples. */
static int evict_args_check(int argc, char **argv, size_t *argvlen, resp_buf *err, const char *name)
{
    if ((argc - 1) % 3 != 0) {
        resp_add_errorf(err, "ERR wrong number of arguments for '%s' command", name);
        return -1;
    }
    for (int i = 1; i < argc; i += 3) {
        uint64_t v;
        if (parse_u64(argv[i], argvlen[i], &v, KV_MAX_DBS - 1) ||
            parse_digest(argv[i + 2], argvlen[i + 2], &v)) {
            resp_add_error(err, "ERR Invalid eviction entry");
            return -1;
        }
    }
    return 0;
}

KV_CHECK(evict_check)
{
    return evict_args_check(argc, argv, argvlen, err, "raft.evict");
}

KV_CHECK(evict2_check)
{
    return evict_args_check(argc, argv, argvlen, err, "raft.evict2");
}

/* Deletes key of physical database phys if its record is still the one
 * the leader chose: by stamp (by_stamp: the record's change stamp is
 * want) or by the previous version's digest (kv_record_digest is want).
 * 1 evicted, 0 spared, <0 error. */
static int evict_one(kv_ctx *c, int phys, const char *key, size_t keylen, uint64_t want,
                     int by_stamp)
{
    struct kvstate *s = c->st;
    kv_skey sk;
    kv_skey_make(&sk, key, keylen);
    MDB_val k = {sk.len, sk.b}, d;
    MDB_dbi kvd = s->dbi[s->live][KV_SLOT_KV(phys)];
    int rc = mdb_get(c->txn, kvd, &k, &d);
    if (rc == MDB_NOTFOUND) return 0;
    if (rc != 0) return kv_map_err(rc);
    kv_rec r;
    if (kv_rec_parse(&k, &d, &r) != 0) return KV_ECORRUPT;
    if (r.keylen != keylen || memcmp(r.key, key, keylen) != 0) return 0;
    if ((by_stamp ? r.stamp : kv_record_digest(d.mv_data, d.mv_size)) != want) return 0;
    int db = kv_db_logical(c, phys);
    if (db < 0) return 0;
    int odb = c->db;
    kv_use_db(c, db);
    /* An expired key is deleted as expired, as a write meeting it would. */
    int expired = r.expiry != 0 && r.expiry <= c->tau;
    rc = kv_delete(c, key, keylen);
    if (rc == 1) {
        if (expired) {
            kv_notify(c, KV_NOTIFY_EXPIRED, "expired", key, keylen);
        } else {
            s->evicted++;
            s->pmeta_dirty = 1;
            kv_notify(c, KV_NOTIFY_EVICTED, "evicted", key, keylen);
        }
        kv_key_written(c, db, key, keylen);
    }
    kv_use_db(c, odb);
    return rc < 0 ? rc : rc == 1 && !expired;
}

static void evict_apply(ARGS, int by_stamp)
{
    if (evict_args_check(argc, argv, argvlen, c->reply, by_stamp ? "raft.evict2" : "raft.evict"))
        return;
    if (!c->st || !c->writable) {
        resp_add_error(c->reply, "ERR RAFT.EVICT is applied only");
        return;
    }
    long long n = 0;
    for (int i = 1; i < argc && c->rc == 0; i += 3) {
        uint64_t phys;
        parse_u64(argv[i], argvlen[i], &phys, KV_MAX_DBS - 1);
        uint64_t want = 0;
        parse_digest(argv[i + 2], argvlen[i + 2], &want);
        int rc = evict_one(c, (int)phys, argv[i + 1], argvlen[i + 1], want, by_stamp);
        if (rc < 0) {
            if (c->rc == 0) c->rc = rc;
            return;
        }
        n += rc;
    }
    resp_add_int(c->reply, n);
}

static void kvx_evict(ARGS)
{
    evict_apply(c, argc, argv, argvlen, 0);
}

static void kvx_evict2(ARGS)
{
    evict_apply(c, argc, argv, argvlen, 1);
}

/* ------------------------------------------------------------ sampling */

static int sample_record(struct kvstate *s, MDB_txn *txn, int phys, const MDB_val *k,
                         const MDB_val *d, kv_evict_sample *out)
{
    kv_rec r;
    if (kv_rec_parse(k, d, &r) != 0) return 0; /* not ours to judge here */
    int db = -1;
    for (int i = 0; i < KV_MAX_DBS; i++)
        if (s->dbmap[i] == phys) db = i;
    if (db < 0) return 0;
    char *key = malloc(r.keylen ? r.keylen : 1);
    if (!key) return KV_ENOMEM;
    memcpy(key, r.key, r.keylen);
    uint64_t bytes = kv_acct_record(r.keylen, r.type, r.vlen);
    if (r.type != KV_TYPE_STRING && r.vlen >= 8) {
        kv_ctx c = {0};
        c.st = s;
        c.txn = txn;
        bytes += kv_acct_ver_get(&c, kv_get_be64((const unsigned char *)r.val));
    }
    *out = (kv_evict_sample){db, phys, key, r.keylen, r.expiry, bytes, r.stamp};
    return 1;
}

static uint64_t next_rand(uint64_t *rng)
{
    uint64_t z = (*rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* n records of one database's table at random positions (a random hash
 * for the key table; for the expiry index a random time between its first
 * and last expiry), or its first n (nearest). */
static int sample_db(struct kvstate *s, MDB_txn *txn, int phys, int n, int volatile_only,
                     int nearest, uint64_t *rng, kv_evict_sample *out, int max)
{
    MDB_dbi kvd = s->dbi[s->live][KV_SLOT_KV(phys)];
    MDB_dbi expd = s->dbi[s->live][KV_SLOT_EXP(phys)];
    MDB_cursor *cur;
    MDB_val k, d;
    int got = 0, rc;
    if (mdb_cursor_open(txn, volatile_only ? expd : kvd, &cur) != 0) return 0;
    uint64_t lo = 0, hi = UINT64_MAX;
    if (volatile_only) {
        if (mdb_cursor_get(cur, &k, &d, MDB_FIRST) != 0 || k.mv_size < 8) goto out;
        lo = kv_get_be64(k.mv_data);
        if (mdb_cursor_get(cur, &k, &d, MDB_LAST) != 0 || k.mv_size < 8) goto out;
        hi = kv_get_be64(k.mv_data);
    }
    kv_skey sk;
    for (int i = 0; i < n * 2 && got < n && got < max; i++) {
        unsigned char seek[8];
        if (nearest) {
            rc = mdb_cursor_get(cur, &k, &d, i == 0 ? MDB_FIRST : MDB_NEXT);
        } else {
            uint64_t r = next_rand(rng);
            kv_put_be64(seek, hi > lo && hi - lo < UINT64_MAX ? lo + r % (hi - lo + 1) : r);
            k = (MDB_val){8, seek};
            rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
            if (rc == MDB_NOTFOUND) rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST);
        }
        if (rc != 0) break;
        if (volatile_only) {
            /* [expiry][stored key without its hash] -> the key table's
             * record ([hash][same]); a long key's form holds its hash. */
            if (k.mv_size < 9 || k.mv_size - 8 > KV_SKEY_LONG) continue;
            const unsigned char *rest = (const unsigned char *)k.mv_data + 8;
            size_t restlen = k.mv_size - 8;
            kv_put_be64(sk.b, restlen == KV_SKEY_LONG ? kv_get_be64(rest + KV_LONG_PREFIX)
                                                      : kv_keyhash(rest, restlen));
            memcpy(sk.b + 8, rest, restlen);
            MDB_val rk = {8 + restlen, sk.b}, rd;
            if (mdb_get(txn, kvd, &rk, &rd) != 0) continue;
            k = rk;
            d = rd;
        }
        int dup = 0;
        for (int j = 0; j < got && !dup; j++)
            dup = out[j].keylen == k.mv_size - 8; /* cheap filter, exact below */
        if (dup) {
            kv_rec r;
            if (kv_rec_parse(&k, &d, &r) != 0) continue;
            for (int j = 0, seen = 0; j < got && !seen; j++)
                if (out[j].keylen == r.keylen && !memcmp(out[j].key, r.key, r.keylen)) {
                    seen = 1;
                    dup = 2;
                }
            if (dup == 2) continue;
        }
        rc = sample_record(s, txn, phys, &k, &d, &out[got]);
        if (rc < 0) {
            mdb_cursor_close(cur);
            return rc;
        }
        got += rc;
    }
out:
    mdb_cursor_close(cur);
    return got;
}

int kvstate_evict_sample(kvstate *s, int n, int volatile_only, int nearest_expiry, uint64_t *rng,
                         kv_evict_sample *out, int max)
{
    MDB_txn *txn;
    int own, got = 0;
    int wrc = kvstate_txn_for_read(s, &txn, &own);
    if (wrc) return wrc;
    for (int p = 0; p < KV_MAX_DBS && got < max; p++) {
        MDB_stat st;
        MDB_dbi dbi = s->dbi[s->live][volatile_only ? KV_SLOT_EXP(p) : KV_SLOT_KV(p)];
        if (mdb_stat(txn, dbi, &st) != 0 || st.ms_entries == 0) continue;
        int rc = sample_db(s, txn, p, n, volatile_only, nearest_expiry, rng, out + got, max - got);
        if (rc < 0) {
            got = rc;
            break;
        }
        got += rc;
    }
    if (own) mdb_txn_abort(txn);
    return got;
}

int kvstate_evict_current(kvstate *s, const kv_evict_sample *v)
{
    if (v->phys < 0 || v->phys >= KV_MAX_DBS) return 0;
    MDB_txn *txn;
    int own;
    int wrc = kvstate_txn_for_read(s, &txn, &own);
    if (wrc) return wrc;
    kv_skey sk;
    kv_skey_make(&sk, v->key, v->keylen);
    MDB_val k = {sk.len, sk.b}, d;
    int rc = mdb_get(txn, s->dbi[s->live][KV_SLOT_KV(v->phys)], &k, &d);
    if (rc == 0) {
        kv_rec r;
        if (kv_rec_parse(&k, &d, &r) != 0)
            rc = KV_ECORRUPT;
        else
            rc = r.keylen == v->keylen && !memcmp(r.key, v->key, v->keylen) && r.stamp == v->stamp;
    } else {
        rc = rc == MDB_NOTFOUND ? 0 : kv_map_err(rc);
    }
    if (own) mdb_txn_abort(txn);
    return rc;
}

/* ------------------------------------------------------------ recount */

/* The accounted bytes of version ver's element records. 0 or KV_E*. */
static int count_ver(kv_ctx *c, uint64_t ver, uint64_t *elems)
{
    kv_iter it;
    const char *f, *v;
    size_t flen, vlen;
    int more;
    *elems = 0;
    if (kv_iter_open(c, &it, KV_T_ELEM, ver, NULL, 0, 0) != 0) return c->rc ? c->rc : KV_EIO;
    while ((more = kv_iter_next(&it, &f, &flen, &v, &vlen)) == 1)
        *elems += kv_acct_elem(flen, vlen);
    kv_iter_close(&it);
    return more < 0 ? (c->rc ? c->rc : KV_EIO) : 0;
}

static int recount(kvstate *s, uint64_t *total, int rebuild)
{
    MDB_txn *txn;
    int own;
    uint64_t sum = 0;
    *total = 0;
    int rc = kvstate_txn_for_read(s, &txn, &own);
    if (rc) return rc;
    kv_ctx c = {0};
    c.st = s;
    c.txn = txn;
    for (int p = 0; p < KV_MAX_DBS && rc == 0; p++) {
        MDB_cursor *cur;
        MDB_val k, d;
        if ((rc = mdb_cursor_open(txn, s->dbi[s->live][KV_SLOT_KV(p)], &cur)) != 0) break;
        for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
            kv_rec r;
            if (kv_rec_parse(&k, &d, &r) != 0) {
                rc = KV_ECORRUPT;
                break;
            }
            sum += kv_acct_record(r.keylen, r.type, r.vlen);
            if (r.type == KV_TYPE_STRING) continue;
            /* Every element of the collection, from its records (a
             * stream's consumer groups too: a version of their own). */
            uint64_t vers[2] = {kv_get_be64((const unsigned char *)r.val), 0};
            if (r.type == KV_TYPE_STREAM && r.vlen >= 97)
                vers[1] = kv_get_be64((const unsigned char *)r.val + 89);
            for (int vi = 0; vi < 2 && rc == 0; vi++) {
                if (vi && !vers[vi]) break;
                uint64_t elems = 0;
                if ((rc = count_ver(&c, vers[vi], &elems)) != 0) break;
                sum += elems;
                if (rebuild && elems) {
                    unsigned char kb[8], vb[8];
                    kv_put_be64(kb, vers[vi]);
                    kv_put_be64(vb, elems);
                    MDB_val ak = {8, kb}, ad = {8, vb};
                    rc = mdb_put(txn, s->dbi[s->live][KV_SLOT_ACCT], &ak, &ad, 0);
                }
            }
            if (rc != 0) break;
        }
        mdb_cursor_close(cur);
        if (rc == MDB_NOTFOUND) rc = 0;
    }
    if (own) mdb_txn_abort(txn);
    if (rc > 0) rc = kv_map_err(rc);
    if (rc == 0) *total = sum;
    return rc;
}

int kvstate_acct_recount(kvstate *s, uint64_t *total)
{
    return recount(s, total, 0);
}

int kvstate_acct_rebuild(kvstate *s)
{
    uint64_t total = 0;
    int rc = 0;
    s->acct_missing = 0;
    if (kvstate_dbsize(s, -1) == 0) { /* a new state: nothing to count */
        s->acct = 0;
        return 0;
    }
    rc = kvstate_begin_write(s);
    if (rc == 0) rc = recount(s, &total, 1);
    if (rc != 0) return rc;
    s->acct = total;
    s->acct_missing = 0;
    s->pmeta_dirty = 1;
    return 0;
}

/* ------------------------------------------------------------ command table */

/* clang-format off */
const kv_command kvx_evict_commands[] = {
    {"raft.memconf", 6, KV_CMD_WRITE | KV_CMD_INTERNAL, 0, 0, 0, memconf_check, kvx_memconf,
     "server", "0.1.0", "Set maxmemory and its policy for the cluster (internal)"},
    {"raft.evict", -4, KV_CMD_WRITE | KV_CMD_INTERNAL, 0, 0, 0, evict_check, kvx_evict,
     "server", "0.1.0", "Delete keys the leader chose for eviction, by digest (internal, old logs)"},
    {"raft.evict2", -4, KV_CMD_WRITE | KV_CMD_INTERNAL, 0, 0, 0, evict2_check, kvx_evict2,
     "server", "0.1.0", "Delete keys the leader chose for eviction, by change stamp (internal)"},
};
/* clang-format on */
const size_t kvx_evict_ncommands = sizeof(kvx_evict_commands) / sizeof(kvx_evict_commands[0]);
