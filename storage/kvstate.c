/* kvstate.c -- the state environment (kvstate.h): the key space, its
 * expiry index, the applied index and tau, and the apply loop.
 *
 * Key layout. A key k lives in kvN as [u64 big-endian kv_keyhash(k)][k], so
 * the key space is ordered by hash: SCAN's cursor is the next hash to visit
 * (stateless, and every key present for the whole scan is returned even
 * under inserts and deletes), and RANDOMKEY seeks to a random hash. The
 * expiry index expN holds [u64 big-endian expiry ms][k] -> empty, changed in
 * the same transaction as the record it indexes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "storage/kvcmd.h"
#include "storage/kventry.h"
#include "storage/kverr.h"
#include "storage/kvint.h"
#include "storage/kvstate.h"

/* ------------------------------------------------------------ records */

void kv_skey_make(kv_skey *sk, const char *key, size_t keylen)
{
    uint64_t h = kv_keyhash(key, keylen);
    kv_put_be64(sk->b, h);
    if (keylen <= KV_INLINE_KEYLEN) {
        memcpy(sk->b + 8, key, keylen);
        sk->len = 8 + keylen;
        return;
    }
    /* A long key: its first bytes, both hashes and its length. The full
     * key is kept in the record. Inline keys are never this long, so the
     * two forms cannot meet. */
    unsigned char *p = sk->b + 8;
    memcpy(p, key, KV_LONG_PREFIX);
    kv_put_be64(p + KV_LONG_PREFIX, h);
    kv_put_be64(p + KV_LONG_PREFIX + 8, kv_keyhash2(key, keylen));
    kv_put_be64(p + KV_LONG_PREFIX + 16, (uint64_t)keylen);
    sk->len = 8 + KV_SKEY_LONG;
}

int kv_rec_parse(const MDB_val *k, const MDB_val *d, kv_rec *r)
{
    const unsigned char *p = d->mv_data;
    size_t n = d->mv_size;
    if (k->mv_size < 8 || n < KV_REC_HDR) return -1;
    r->hash = kv_get_be64(k->mv_data);
    r->type = p[0] & ~KV_REC_LONGKEY;
    r->expiry = (int64_t)kv_get_be64(p + 1);
    p += KV_REC_HDR;
    n -= KV_REC_HDR;
    if (((const unsigned char *)d->mv_data)[0] & KV_REC_LONGKEY) {
        if (n < 4) return -1;
        size_t kl = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
        if (kl > n - 4) return -1;
        r->key = (const char *)p + 4;
        r->keylen = kl;
        p += 4 + kl;
        n -= 4 + kl;
    } else {
        r->key = (const char *)k->mv_data + 8;
        r->keylen = k->mv_size - 8;
    }
    r->val = (const char *)p;
    r->vlen = n;
    return 0;
}

/* The raw record, expired or not. 1 found, 0 not, <0 KV_E*. */
static int raw_get(kv_ctx *c, const kv_skey *sk, kv_val *v)
{
    MDB_val k = {sk->len, (void *)sk->b}, d;
    kv_rec r;

    memset(v, 0, sizeof(*v));
    int rc = mdb_get(c->txn, c->kv, &k, &d);
    if (rc == MDB_NOTFOUND) return 0;
    if (rc != 0) return kv_map_err(rc);
    if (kv_rec_parse(&k, &d, &r) != 0) return KV_ECORRUPT;
    v->found = 1;
    v->type = r.type;
    v->expiry = r.expiry;
    v->p = r.val;
    v->len = r.vlen;
    return 1;
}

/* The expiry index key: [expiry][stored key]. */
static int exp_put(kv_ctx *c, const kv_skey *sk, int64_t expiry, int del)
{
    unsigned char kb[sizeof(sk->b)];
    kv_put_be64(kb, (uint64_t)expiry);
    memcpy(kb + 8, sk->b + 8, sk->len - 8);
    MDB_val k = {sk->len, kb}, d = {0, NULL};
    int rc = del ? mdb_del(c->txn, c->exp, &k, NULL) : mdb_put(c->txn, c->exp, &k, &d, 0);
    if (del && rc == MDB_NOTFOUND) rc = 0;
    return kv_map_err(rc);
}

static int set_err(kv_ctx *c, int rc)
{
    if (rc < 0 && c->rc == 0) c->rc = rc;
    return rc;
}

int kv_delete(kv_ctx *c, const char *key, size_t keylen)
{
    kv_skey sk;
    kv_val v;
    kv_skey_make(&sk, key, keylen);
    int rc = raw_get(c, &sk, &v);
    if (rc <= 0) return set_err(c, rc);
    if (v.expiry != 0 && (rc = exp_put(c, &sk, v.expiry, 1)) != 0) return set_err(c, rc);
    MDB_val k = {sk.len, sk.b};
    rc = mdb_del(c->txn, c->kv, &k, NULL);
    if (rc != 0) return set_err(c, kv_map_err(rc));
    return 1;
}

int kv_lookup(kv_ctx *c, const char *key, size_t keylen, kv_val *v)
{
    kv_skey sk;
    kv_skey_make(&sk, key, keylen);
    int rc = raw_get(c, &sk, v);
    if (rc <= 0) return set_err(c, rc);
    if (v->expiry != 0 && v->expiry <= c->tau) {
        /* Expired at tau: it does not exist. A write removes it now, which
         * every node does at the same tau. */
        if (c->writable && (rc = kv_delete(c, key, keylen)) < 0) return rc;
        memset(v, 0, sizeof(*v));
        return 0;
    }
    return 1;
}

int kv_store_reserve(kv_ctx *c, const char *key, size_t keylen, size_t vlen, int64_t expiry,
                     char **dst)
{
    kv_skey sk;
    MDB_cursor *cur;
    int rc, found;
    int64_t old_expiry = 0;

    *dst = NULL;
    kv_skey_make(&sk, key, keylen);
    int longkey = keylen > KV_INLINE_KEYLEN;
    /* One search: the cursor finds the old record, and an existing key is
     * then replaced where it is (MDB_CURRENT: in place when the size is the
     * same). The cursor is tracked by the write transaction, so the expiry
     * index changes in between do not invalidate it. */
    if ((rc = mdb_cursor_open(c->txn, c->kv, &cur)) != 0) return set_err(c, kv_map_err(rc));
    MDB_val k = {sk.len, sk.b}, d;
    rc = mdb_cursor_get(cur, &k, &d, MDB_SET_KEY);
    if (rc == 0) {
        kv_rec r;
        if (kv_rec_parse(&k, &d, &r) != 0) {
            rc = KV_ECORRUPT;
            goto out;
        }
        found = 1;
        old_expiry = r.expiry;
    } else if (rc == MDB_NOTFOUND) {
        found = 0;
    } else {
        rc = kv_map_err(rc);
        goto out;
    }
    if (found && old_expiry != 0 && old_expiry != expiry &&
        (rc = exp_put(c, &sk, old_expiry, 1)) != 0)
        goto out;
    if (expiry != 0 && (!found || old_expiry != expiry) && (rc = exp_put(c, &sk, expiry, 0)) != 0)
        goto out;
    size_t hdr = KV_REC_HDR + (longkey ? 4 + keylen : 0);
    k = (MDB_val){sk.len, sk.b};
    d = (MDB_val){hdr + vlen, NULL};
    rc = mdb_cursor_put(cur, &k, &d, MDB_RESERVE | (found ? MDB_CURRENT : 0));
    if (rc != 0) {
        rc = kv_map_err(rc);
        goto out;
    }
    unsigned char *p = d.mv_data;
    p[0] = KV_TYPE_STRING | (longkey ? KV_REC_LONGKEY : 0);
    kv_put_be64(p + 1, (uint64_t)expiry);
    if (longkey) {
        p[9] = (unsigned char)(keylen >> 24);
        p[10] = (unsigned char)(keylen >> 16);
        p[11] = (unsigned char)(keylen >> 8);
        p[12] = (unsigned char)keylen;
        memcpy(p + 13, key, keylen);
    }
    *dst = (char *)p + hdr;
out:
    mdb_cursor_close(cur);
    return rc ? set_err(c, rc) : 0;
}

int kv_store(kv_ctx *c, const char *key, size_t keylen, const void *val, size_t vlen,
             int64_t expiry)
{
    char *dst;
    int rc = kv_store_reserve(c, key, keylen, vlen, expiry, &dst);
    if (rc == 0 && vlen) memcpy(dst, val, vlen);
    return rc;
}

int kv_set_expiry(kv_ctx *c, const char *key, size_t keylen, int64_t expiry)
{
    kv_val v;
    kv_skey sk;
    kv_skey_make(&sk, key, keylen);
    int rc = raw_get(c, &sk, &v);
    if (rc <= 0) return set_err(c, rc == 0 ? KV_EINVAL : rc);
    if (v.expiry == expiry) return 0;
    /* The record is rewritten in place: copy the value out first, as the
     * put may move the page it lives on. */
    char *copy = kv_malloc(v.len ? v.len : 1);
    if (!copy) return set_err(c, KV_ENOMEM);
    memcpy(copy, v.p, v.len);
    rc = kv_store(c, key, keylen, copy, v.len, expiry);
    free(copy);
    return rc;
}

int kv_flush(kv_ctx *c)
{
    int rc = mdb_drop(c->txn, c->kv, 0);
    if (rc == 0) rc = mdb_drop(c->txn, c->exp, 0);
    return set_err(c, kv_map_err(rc));
}

/* ------------------------------------------------------------ env */

int kvstate_meta_put(kvstate *s, const char *name, uint64_t v)
{
    unsigned char b[8];
    kv_put_be64(b, v);
    MDB_val k = {strlen(name), (void *)name}, d = {8, b};
    return kv_map_err(mdb_put(s->wtxn, s->meta, &k, &d, 0));
}

int kvstate_meta_get(kvstate *s, MDB_txn *txn, const char *name, uint64_t *v)
{
    MDB_val k = {strlen(name), (void *)name}, d;
    int rc = mdb_get(txn, s->meta, &k, &d);
    if (rc == MDB_NOTFOUND) {
        *v = 0;
        return 0;
    }
    if (rc != 0) return kv_map_err(rc);
    if (d.mv_size != 8) return KV_ECORRUPT;
    *v = kv_get_be64(d.mv_data);
    return 0;
}

static int load_meta(kvstate *s, MDB_txn *txn)
{
    uint64_t live = 0, applied = 0, tau = 0; /* gcc -O3 cannot see meta_get_u64 sets them */
    int rc;
    if ((rc = kvstate_meta_get(s, txn, META_LIVE, &live)) != 0 ||
        (rc = kvstate_meta_get(s, txn, META_APPLIED, &applied)) != 0 ||
        (rc = kvstate_meta_get(s, txn, META_TAU, &tau)) != 0 ||
        (rc = kvstate_meta_get(s, txn, META_SNAP_INDEX, &s->snap_index)) != 0 ||
        (rc = kvstate_meta_get(s, txn, META_SNAP_TERM, &s->snap_term)) != 0)
        return rc;
    if (live > 1) return KV_ECORRUPT;
    s->live = (int)live;
    s->applied = s->durable = applied;
    s->tau = s->durable_tau = (int64_t)tau;
    return 0;
}

static int fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int kvstate_open(kvstate **out, const char *dir, uint64_t mapsize, char *err, size_t errlen)
{
    char path[4096];
    kvstate *s;
    MDB_txn *txn = NULL;
    int rc;

    *out = NULL;
    if (snprintf(path, sizeof(path), "%s/state", dir) >= (int)sizeof(path)) {
        snprintf(err, errlen, "state path too long");
        return KV_EINVAL;
    }
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "mkdir %s: %s", path, strerror(errno));
        return KV_EIO;
    }
    s = kv_calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return KV_ENOMEM;
    }
    s->pages_at_commit = UINT64_MAX;
    snprintf(s->path, sizeof(s->path), "%s", path);
    if ((rc = mdb_env_create(&s->env)) != 0) {
        snprintf(err, errlen, "%s: %s", path, mdb_strerror(rc));
        free(s);
        return kv_map_err(rc);
    }
    if ((rc = mdb_env_set_mapsize(s->env, mapsize)) != 0 ||
        (rc = mdb_env_set_maxdbs(s->env, 8)) != 0 ||
        /* No MDB_NOMETASYNC: the log is compacted against
         * kvstate_durable_index(), so the meta page holding it must be on
         * disk when the commit returns, not at the next commit. */
        (rc = mdb_env_open(s->env, path, MDB_NOTLS, 0644)) != 0 ||
        (rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
        goto err_after_env;
    if ((rc = mdb_dbi_open(txn, "kv0", MDB_CREATE, &s->kv[0])) != 0 ||
        (rc = mdb_dbi_open(txn, "kv1", MDB_CREATE, &s->kv[1])) != 0 ||
        (rc = mdb_dbi_open(txn, "exp0", MDB_CREATE, &s->exp[0])) != 0 ||
        (rc = mdb_dbi_open(txn, "exp1", MDB_CREATE, &s->exp[1])) != 0 ||
        (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta)) != 0)
        goto err_after_txn;
    if ((rc = load_meta(s, txn)) != 0) {
        mdb_txn_abort(txn);
        snprintf(err, errlen, "%s: %s", path, kv_strerror(rc));
        mdb_env_close(s->env);
        free(s);
        return rc;
    }
    if ((rc = mdb_txn_commit(txn)) != 0) goto err_after_env;
    /* LMDB never fsyncs a directory: until state/ and its data.mdb are
     * durable names, a power loss can take the whole state while the log,
     * compacted against it, lives on. Every open, since a crash may have
     * come between the mkdir and here. */
    if (fsync_dir(path) != 0 || fsync_dir(dir) != 0) {
        snprintf(err, errlen, "fsync of %s or its parent: %s", path, strerror(errno));
        mdb_env_close(s->env);
        free(s);
        return KV_EIO;
    }
    s->used_pct = -1;
    s->read_rng = ((uint64_t)random() << 32) ^ (uint64_t)random();
    *out = s;
    return 0;

err_after_txn:
    mdb_txn_abort(txn);
err_after_env:
    snprintf(err, errlen, "%s: %s", path, mdb_strerror(rc));
    mdb_env_close(s->env);
    free(s);
    return kv_map_err(rc);
}

void kvstate_close(kvstate *s)
{
    if (!s) return;
    kvstate_commit(s);
    if (s->rtxn) mdb_txn_abort(s->rtxn);
    mdb_env_close(s->env);
    free(s);
}

uint64_t kvstate_applied_index(kvstate *s)
{
    return s->applied;
}

static uint64_t db_pages(MDB_txn *txn, MDB_dbi dbi)
{
    MDB_stat st;
    if (mdb_stat(txn, dbi, &st) != 0) return 0;
    return (uint64_t)st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
}

uint64_t kvstate_pending_bytes(kvstate *s)
{
    return s->pending_bytes;
}

uint64_t kvstate_pages(kvstate *s)
{
    if (s->pages_at_commit == UINT64_MAX) {
        MDB_txn *txn;
        if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0) return UINT64_MAX;
        s->pages_at_commit = db_pages(txn, s->kv[s->live]) + db_pages(txn, s->exp[s->live]);
        mdb_txn_abort(txn);
    }
    return s->pages_at_commit;
}

uint64_t kvstate_durable_index(kvstate *s)
{
    return s->durable;
}

int64_t kvstate_tau(kvstate *s)
{
    return s->tau;
}

static void rollback(kvstate *s)
{
    if (s->wtxn) mdb_txn_abort(s->wtxn);
    s->wtxn = NULL;
    s->applied = s->durable;
    s->pending_bytes = 0;
    s->tau = s->durable_tau;
}

int kvstate_commit(kvstate *s)
{
    if (!s->wtxn) return 0;
    /* kvstate_apply() leaves the applied index and tau to here: two meta
     * puts per commit instead of per entry. */
    int rc = 0;
    if (s->applied != s->durable || s->tau != s->durable_tau) {
        if ((rc = kvstate_meta_put(s, META_APPLIED, s->applied)) == 0)
            rc = kvstate_meta_put(s, META_TAU, (uint64_t)s->tau);
        if (rc != 0) {
            rollback(s);
            return rc;
        }
    }
    rc = mdb_txn_commit(s->wtxn);
    s->wtxn = NULL;
    s->used_pct = -1;
    if (rc != 0) {
        /* LMDB answers a failed write or fsync with its errno, but a short
         * write (a full disk, often) as EIO: say when the disk is full. */
        struct statvfs fs;
        int full = statvfs(s->path, &fs) == 0 && fs.f_bavail < 16;
        snprintf(s->errmsg, sizeof(s->errmsg), "committing %s/data.mdb: %s%s", s->path,
                 mdb_strerror(rc), full && rc != ENOSPC ? " (No space left on device)" : "");
        s->applied = s->durable;
        s->tau = s->durable_tau;
        return kv_map_err(rc);
    }
    s->durable = s->applied;
    s->durable_tau = s->tau;
    s->pages_at_commit = UINT64_MAX; /* recomputed when asked */
    s->pending_bytes = 0;
    return 0;
}

int kvstate_begin_write(kvstate *s)
{
    if (s->wtxn) return 0;
    if (s->rtxn_live) { /* its snapshot is stale once this commits */
        mdb_txn_reset(s->rtxn);
        s->rtxn_live = 0;
    }
    int rc = mdb_txn_begin(s->env, NULL, 0, &s->wtxn);
    if (rc != 0) {
        s->wtxn = NULL;
        return kv_map_err(rc);
    }
    return 0;
}

/* A transaction for reading: the open write one, or else one read
 * transaction kept from read to read (a begin and an abort per GET were a
 * tenth of a leader's time under pipelined reads), renewed after each
 * write transaction: only kvstate_begin_write() starts one, and it resets
 * this. Callers never end it. */
static int begin_read(kvstate *s, MDB_txn **txn)
{
    if (s->wtxn) {
        *txn = s->wtxn;
        return 0;
    }
    if (!s->rtxn_live) {
        int rc =
            s->rtxn ? mdb_txn_renew(s->rtxn) : mdb_txn_begin(s->env, NULL, MDB_RDONLY, &s->rtxn);
        if (rc != 0) {
            if (s->rtxn) mdb_txn_abort(s->rtxn);
            s->rtxn = NULL;
            return kv_map_err(rc);
        }
        s->rtxn_live = 1;
    }
    *txn = s->rtxn;
    return 0;
}

static void ctx_init(kvstate *s, kv_ctx *c, MDB_txn *txn, int writable, resp_buf *reply)
{
    memset(c, 0, sizeof(*c));
    c->txn = txn;
    c->kv = s->kv[s->live];
    c->exp = s->exp[s->live];
    c->writable = writable;
    c->tau = s->tau;
    c->wall = s->tau;
    c->reply = reply;
}

static void apply_expire(kv_ctx *c, const kv_expire_item *it)
{
    kv_val v;
    kv_skey sk;
    /* Only the exact expiry the leader saw, and only once it has passed at
     * this entry's tau: a newer write (other value or expiry) survives. */
    kv_skey_make(&sk, it->key, it->keylen);
    int rc = raw_get(c, &sk, &v);
    if (rc < 0) {
        set_err(c, rc);
        return;
    }
    if (rc == 1 && v.expiry != 0 && v.expiry == it->expiry && v.expiry <= c->tau)
        kv_delete(c, it->key, it->keylen);
}

int kvstate_apply(kvstate *s, uint64_t index, const void *payload, size_t len, resp_buf *reply)
{
    kv_entry e;
    kv_ctx c;
    resp_buf scratch;
    int rc;

    if (index <= s->applied) return 0;
    if (index != s->applied + 1) return KV_EINVAL;
    if (len > 0) {
        rc = kventry_decode(payload, len, &e);
        if (rc != 0) return rc;
    } else {
        memset(&e, 0, sizeof(e));
    }
    if ((rc = kvstate_begin_write(s)) != 0) goto out;

    resp_buf_init(&scratch, reply ? reply->proto : 2);
    ctx_init(s, &c, s->wtxn, 1, reply ? reply : &scratch);
    if (len > 0 && e.tau > c.tau) c.tau = e.tau;
    c.wall = c.tau;
    /* Deterministic randomness (RANDOMKEY inside MULTI). */
    c.rng = kv_keyhash(&index, sizeof(index)) ^ (uint64_t)c.tau;

    if (len > 0) {
        switch (e.kind) {
        case KV_ENTRY_CMD:
            kv_exec(&c, NULL, e.cmds[0].argc, e.cmds[0].argv, e.cmds[0].argvlen);
            break;
        case KV_ENTRY_MULTI:
            resp_add_array(c.reply, e.count);
            for (uint32_t i = 0; i < e.count && c.rc == 0; i++)
                kv_exec(&c, NULL, e.cmds[i].argc, e.cmds[i].argv, e.cmds[i].argvlen);
            break;
        case KV_ENTRY_EXPIRE:
            for (uint32_t i = 0; i < e.count && c.rc == 0; i++)
                apply_expire(&c, &e.items[i]);
            break;
        }
    }
    resp_buf_free(&scratch);
    /* The applied index and tau go into meta once, at commit. */
    rc = c.rc;
    if (rc != 0) {
        /* The transaction is unusable: drop it, the node stops. */
        rollback(s);
        goto out;
    }
    s->applied = index;
    s->tau = c.tau;
    s->pending_bytes += len;
out:
    if (len > 0) kventry_free(&e);
    return rc;
}

int kvstate_read(kvstate *s, int argc, char **argv, size_t *argvlen, int64_t wall_ms,
                 resp_buf *reply)
{
    MDB_txn *txn = NULL;
    kv_ctx c;
    int rc;

    if (argc < 1) return KV_EINVAL;
    const kv_command *cmd = kv_command_lookup(argv[0], argvlen[0]);
    if (!cmd || !(cmd->flags & KV_CMD_READONLY)) return KV_EINVAL;
    if ((rc = begin_read(s, &txn)) != 0) return rc;
    ctx_init(s, &c, txn, 0, reply);
    c.wall = wall_ms;
    c.rng = (s->read_rng += 0x9e3779b97f4a7c15ull);
    kv_exec(&c, cmd, argc, argv, argvlen);
    return c.rc;
}

int64_t kvstate_next_expiry(kvstate *s)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur;
    MDB_val k, d;
    int64_t next = -1;

    if (begin_read(s, &txn) != 0) return -1;
    if (mdb_cursor_open(txn, s->exp[s->live], &cur) == 0) {
        if (mdb_cursor_get(cur, &k, &d, MDB_FIRST) == 0 && k.mv_size >= 8)
            next = (int64_t)kv_get_be64(k.mv_data);
        mdb_cursor_close(cur);
    }
    return next;
}

int kvstate_collect_expired(kvstate *s, int64_t now_ms, int max, resp_buf *out)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur;
    MDB_val k, d;
    int n = 0, rc;
    size_t start = out->len;

    if (max <= 0 || begin_read(s, &txn) != 0) return 0;
    if (mdb_cursor_open(txn, s->exp[s->live], &cur) != 0) goto out;
    rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST);
    while (rc == 0 && n < max && k.mv_size >= 8) {
        int64_t when = (int64_t)kv_get_be64(k.mv_data);
        if (when > now_ms) break;
        const char *key = (char *)k.mv_data + 8;
        size_t keylen = k.mv_size - 8;
        if (keylen == KV_SKEY_LONG) {
            /* A long key: its full form is in the record. */
            kv_skey sk;
            MDB_val rk, rd;
            kv_rec r;
            kv_put_be64(sk.b, kv_get_be64((unsigned char *)key + KV_LONG_PREFIX));
            memcpy(sk.b + 8, key, keylen);
            rk.mv_size = 8 + keylen;
            rk.mv_data = sk.b;
            if (mdb_get(txn, s->kv[s->live], &rk, &rd) != 0 || kv_rec_parse(&rk, &rd, &r) != 0) {
                rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT);
                continue;
            }
            key = r.key;
            keylen = r.keylen;
        }
        if (n == 0) kventry_begin_expire(out, now_ms > s->tau ? now_ms : s->tau, 0);
        kventry_add_expire(out, key, keylen, when);
        n++;
        rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (n > 0) kventry_set_expire_count(out, start, (uint32_t)n);
out:
    return n;
}

static uint64_t db_entries(kvstate *s, MDB_dbi dbi)
{
    MDB_txn *txn = NULL;
    MDB_stat st;
    uint64_t n = 0;
    if (begin_read(s, &txn) != 0) return 0;
    if (mdb_stat(txn, dbi, &st) == 0) n = st.ms_entries;
    return n;
}

uint64_t kvstate_dbsize(kvstate *s)
{
    return db_entries(s, s->kv[s->live]);
}

uint64_t kvstate_expires(kvstate *s)
{
    return db_entries(s, s->exp[s->live]);
}

int kvstate_used_pct(kvstate *s)
{
    /* Only a commit changes it: computed once per commit. */
    if (s->used_pct < 0) s->used_pct = kv_env_used_pct(s->env);
    return s->used_pct;
}

const char *kvstate_last_error(const kvstate *s)
{
    return s->errmsg;
}
