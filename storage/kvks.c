/* kvks.c -- the typed key space (kvks.h): key records, collections and
 * their element records, databases, the cleanup queue.
 *
 * Key layout. A key k lives in its database's key table as
 * [u64 big-endian kv_keyhash(k)][k], so the key space is ordered by hash:
 * SCAN's cursor is the next hash to visit (stateless, and every key present
 * for the whole scan is returned even under inserts and deletes), and
 * RANDOMKEY seeks to a random hash. The expiry index holds
 * [u64 big-endian expiry ms][k] -> empty, changed in the same transaction
 * as the record it indexes.
 *
 * A record's value: u8 type (| KV_REC_LONGKEY | KV_REC_RAW | KV_REC_STAMP), i64 BE
 * expiry, [u64 BE change stamp: KV_REC_STAMP], [u32 BE length, key: long keys only], then a
 * string's bytes or a collection's body: u64 BE version, count, head, tail, u8 encoding. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "storage/kverr.h"
#include "storage/kvint.h"
#include "storage/kvks.h"

#define COLL_BODY 33
/* A stream's body: the collection's, then its stream metadata (kvks.h).
 * A record written before the tail node's listpack size was kept is 8
 * bytes shorter (STREAM_BODY_V1): it loads with that size unknown (0). */
#define STREAM_BODY (COLL_BODY + 104)
#define STREAM_BODY_V1 (COLL_BODY + 96)

static size_t body_len(uint8_t type)
{
    return type == KV_TYPE_STREAM ? STREAM_BODY : COLL_BODY;
}

_Static_assert(sizeof(((kv_ctx *)0)->stamped) == sizeof(((kv_skey *)0)->b),
               "kv_ctx.stamped holds a stored key");

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

static int is_coll(uint8_t type)
{
    return type == KV_TYPE_LIST || type == KV_TYPE_SET || type == KV_TYPE_ZSET ||
           type == KV_TYPE_HASH || type == KV_TYPE_STREAM;
}

int kv_rec_parse(const MDB_val *k, const MDB_val *d, kv_rec *r)
{
    const unsigned char *p = d->mv_data;
    size_t n = d->mv_size;
    if (k->mv_size < 8 || n < KV_REC_HDR) return -1;
    r->hash = kv_get_be64(k->mv_data);
    r->type = p[0] & ~(KV_REC_LONGKEY | KV_REC_RAW | KV_REC_STAMP);
    r->raw = (p[0] & KV_REC_RAW) != 0;
    r->expiry = (int64_t)kv_get_be64(p + 1);
    r->stamp = 0;
    p += KV_REC_HDR;
    n -= KV_REC_HDR;
    if (((const unsigned char *)d->mv_data)[0] & KV_REC_STAMP) {
        if (n < 8) return -1;
        r->stamp = kv_get_be64(p);
        p += 8;
        n -= 8;
    }
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
    if (r->type != KV_TYPE_STRING && (!is_coll(r->type) || n != body_len(r->type)) &&
        !(r->type == KV_TYPE_STREAM && n == STREAM_BODY_V1))
        return -1;
    r->val = (const char *)p;
    r->vlen = n;
    return 0;
}

static void coll_parse(const char *body, size_t n, kv_val *v)
{
    const unsigned char *b = (const unsigned char *)body;
    v->ver = kv_get_be64(b);
    v->count = kv_get_be64(b + 8);
    v->head = kv_get_be64(b + 16);
    v->tail = kv_get_be64(b + 24);
    v->enc = b[32];
    if (v->type == KV_TYPE_STREAM) {
        b += COLL_BODY;
        v->last_ms = kv_get_be64(b);
        v->last_seq = kv_get_be64(b + 8);
        v->maxdel_ms = kv_get_be64(b + 16);
        v->maxdel_seq = kv_get_be64(b + 24);
        v->added = kv_get_be64(b + 32);
        v->tail_ms = kv_get_be64(b + 40);
        v->tail_seq = kv_get_be64(b + 48);
        v->gver = kv_get_be64(b + 56);
        v->tail_live = kv_get_be64(b + 64);
        v->tail_deleted = kv_get_be64(b + 72);
        v->tail_last_ms = kv_get_be64(b + 80);
        v->tail_last_seq = kv_get_be64(b + 88);
        v->tail_base = n == STREAM_BODY ? kv_get_be64(b + 96) : 0;
    }
}

static void coll_body(unsigned char *b, const kv_val *v)
{
    kv_put_be64(b, v->ver);
    kv_put_be64(b + 8, v->count);
    kv_put_be64(b + 16, v->head);
    kv_put_be64(b + 24, v->tail);
    b[32] = v->enc;
    if (v->type == KV_TYPE_STREAM) {
        b += COLL_BODY;
        kv_put_be64(b, v->last_ms);
        kv_put_be64(b + 8, v->last_seq);
        kv_put_be64(b + 16, v->maxdel_ms);
        kv_put_be64(b + 24, v->maxdel_seq);
        kv_put_be64(b + 32, v->added);
        kv_put_be64(b + 40, v->tail_ms);
        kv_put_be64(b + 48, v->tail_seq);
        kv_put_be64(b + 56, v->gver);
        kv_put_be64(b + 64, v->tail_live);
        kv_put_be64(b + 72, v->tail_deleted);
        kv_put_be64(b + 80, v->tail_last_ms);
        kv_put_be64(b + 88, v->tail_last_seq);
        kv_put_be64(b + 96, v->tail_base);
    }
}

static int set_err(kv_ctx *c, int rc)
{
    if (rc < 0 && c->rc == 0) c->rc = rc;
    return rc;
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
    v->raw = r.raw;
    v->expiry = r.expiry;
    v->stamp = r.stamp;
    v->p = r.val;
    v->len = r.vlen;
    if (r.type != KV_TYPE_STRING) coll_parse(r.val, r.vlen, v);
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

/* Queues one version's records for kvstate_gc(). */
static int gc_queue_ver(kv_ctx *c, uint64_t ver, uint8_t type)
{
    unsigned char kb[8], t = type;
    kv_put_be64(kb, ver);
    MDB_val k = {8, kb}, d = {1, &t};
    return kv_map_err(mdb_put(c->txn, c->st->dbi[c->st->live][KV_SLOT_GC], &k, &d, 0));
}

/* Queues a dropped collection's elements for kvstate_gc() (a stream's
 * consumer groups too: their records have a version of their own). */
static int gc_queue(kv_ctx *c, const kv_val *v)
{
    if (!c->st) return 0;
    int rc = kv_acct_ver_drop(c, v->ver);
    if (rc == 0 && v->type == KV_TYPE_STREAM && v->gver) {
        rc = kv_acct_ver_drop(c, v->gver);
        if (rc == 0) rc = gc_queue_ver(c, v->gver, v->type);
    }
    if (rc != 0 || (v->count == 0 && v->type != KV_TYPE_STREAM)) return rc;
    return gc_queue_ver(c, v->ver, v->type);
}

static int bucket_bump(kv_ctx *c, const kv_skey *sk, uint64_t stamp);
static int phys_of_kv(kv_ctx *c, MDB_dbi kv);
static int tomb_put(kv_ctx *c, int phys, const unsigned char *sk, size_t sklen, uint64_t stamp,
                    uint64_t gone);

static int delete_key(kv_ctx *c, const char *key, size_t keylen, int drop_elems)
{
    kv_skey sk;
    kv_val v;
    kv_skey_make(&sk, key, keylen);
    int rc = raw_get(c, &sk, &v);
    if (rc <= 0) return set_err(c, rc);
    /* WATCH of an absent key: the key's bucket remembers when a key in it
     * stopped existing. A record already expired stopped existing at its
     * expiry, not now: it bumps the bucket only to when it came into being
     * (Redis 7.0 does not abort an EXEC watching an expired key when that
     * key is then deleted). */
    uint64_t gone = v.expiry != 0 && v.expiry <= c->tau ? v.stamp : c->index;
    /* A client blocked in XREADGROUP on a stream that goes is answered
     * (Redis's signalDeletedKeyAsReady). */
    if (v.type == KV_TYPE_STREAM) kv_signal_ready(c, key, keylen);
    if ((rc = bucket_bump(c, &sk, gone)) != 0) return set_err(c, rc);
    if (c->st && (rc = tomb_put(c, phys_of_kv(c, c->kv), sk.b, sk.len, v.stamp, gone)) != 0)
        return set_err(c, rc);
    if (v.expiry != 0 && (rc = exp_put(c, &sk, v.expiry, 1)) != 0) return set_err(c, rc);
    if (drop_elems && v.type != KV_TYPE_STRING && (rc = gc_queue(c, &v)) != 0)
        return set_err(c, rc);
    MDB_val k = {sk.len, sk.b};
    rc = mdb_del(c->txn, c->kv, &k, NULL);
    if (rc != 0) return set_err(c, kv_map_err(rc));
    kv_acct_add(c, -(int64_t)kv_acct_record(keylen, v.type, v.len));
    return 1;
}

int kv_delete(kv_ctx *c, const char *key, size_t keylen)
{
    return delete_key(c, key, keylen, 1);
}

int kv_delete_record(kv_ctx *c, const char *key, size_t keylen)
{
    return delete_key(c, key, keylen, 0);
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
        if (c->writable) {
            if ((rc = kv_delete(c, key, keylen)) < 0) return rc;
            kv_notify(c, KV_NOTIFY_EXPIRED, "expired", key, keylen);
        }
        memset(v, 0, sizeof(*v));
        return 0;
    }
    return 1;
}

int kv_lookup_type(kv_ctx *c, const char *key, size_t keylen, int type, kv_val *v)
{
    int rc = kv_lookup(c, key, keylen, v);
    if (rc < 0) return -1;
    if (rc == 1 && v->type != type) {
        resp_add_error(c->reply, ERR_WRONGTYPE);
        return -1;
    }
    return rc;
}

/* Writes key's record: type, expiry and a body of blen bytes to fill at
 * *dst. A collection it replaces (a string over a hash, or another
 * version) goes to the cleanup queue. */
static int put_record(kv_ctx *c, const char *key, size_t keylen, uint8_t type, uint64_t ver,
                      size_t blen, int64_t expiry, int raw, char **dst)
{
    kv_skey sk;
    MDB_cursor *cur;
    int rc, found;
    int64_t old_expiry = 0;
    uint64_t stamp = c->index;

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
        if (c->no_signal) stamp = r.stamp; /* no change Redis would signal */
        kv_acct_add(c, -(int64_t)kv_acct_record(keylen, r.type, r.vlen));
        if (r.type != KV_TYPE_STRING) {
            kv_val old = {0};
            old.type = r.type;
            coll_parse(r.val, r.vlen, &old);
            if ((type == KV_TYPE_STRING || old.ver != ver) && (rc = gc_queue(c, &old)) != 0)
                goto out;
            if (old.type == KV_TYPE_STREAM && (type != KV_TYPE_STREAM || old.ver != ver))
                kv_signal_ready(c, key, keylen); /* a stream replaced (see delete_key) */
        }
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
    size_t hdr = KV_REC_HDR + 8 + (longkey ? 4 + keylen : 0);
    k = (MDB_val){sk.len, sk.b};
    d = (MDB_val){hdr + blen, NULL};
    rc = mdb_cursor_put(cur, &k, &d, MDB_RESERVE | (found ? MDB_CURRENT : 0));
    if (rc != 0) {
        rc = kv_map_err(rc);
        goto out;
    }
    kv_acct_add(c, (int64_t)kv_acct_record(keylen, type, blen));
    unsigned char *p = d.mv_data;
    p[0] = type | KV_REC_STAMP | (longkey ? KV_REC_LONGKEY : 0) | (raw ? KV_REC_RAW : 0);
    kv_put_be64(p + 1, (uint64_t)expiry);
    kv_put_be64(p + 9, stamp);
    if (longkey) {
        p[17] = (unsigned char)(keylen >> 24);
        p[18] = (unsigned char)(keylen >> 16);
        p[19] = (unsigned char)(keylen >> 8);
        p[20] = (unsigned char)keylen;
        memcpy(p + 21, key, keylen);
    }
    *dst = (char *)p + hdr;
    if (stamp == c->index) {
        c->stamped_kv = c->kv;
        c->stamped_len = sk.len;
        memcpy(c->stamped, sk.b, sk.len);
    }
    /* Redis's dbAdd(): a key comes into being. A record still there past
     * its expiry is gone, as Redis's lookupKeyWrite() would have deleted
     * it first ("expired"). */
    if (found && old_expiry != 0 && old_expiry <= c->tau) {
        kv_notify(c, KV_NOTIFY_EXPIRED, "expired", key, keylen);
        found = 0;
    }
    if (!found) kv_notify(c, KV_NOTIFY_NEW, "new", key, keylen);
out:
    mdb_cursor_close(cur);
    return rc ? set_err(c, rc) : 0;
}

int kv_store_reserve(kv_ctx *c, const char *key, size_t keylen, size_t vlen, int64_t expiry,
                     char **dst)
{
    return put_record(c, key, keylen, KV_TYPE_STRING, 0, vlen, expiry, 0, dst);
}

int kv_store_reserve_raw(kv_ctx *c, const char *key, size_t keylen, size_t vlen, int64_t expiry,
                         int raw, char **dst)
{
    return put_record(c, key, keylen, KV_TYPE_STRING, 0, vlen, expiry, raw, dst);
}

static int store_raw(kv_ctx *c, const char *key, size_t keylen, const void *val, size_t vlen,
                     int64_t expiry, int raw)
{
    char *dst;
    int rc = kv_store_reserve_raw(c, key, keylen, vlen, expiry, raw, &dst);
    if (rc == 0 && vlen) memcpy(dst, val, vlen);
    return rc;
}

int kv_store(kv_ctx *c, const char *key, size_t keylen, const void *val, size_t vlen,
             int64_t expiry)
{
    char *dst;
    int rc = kv_store_reserve(c, key, keylen, vlen, expiry, &dst);
    if (rc == 0 && vlen) memcpy(dst, val, vlen);
    return rc;
}

/* Rewrites a record as it is but for its expiry (any type). */
int kv_set_expiry(kv_ctx *c, const char *key, size_t keylen, int64_t expiry)
{
    kv_val v;
    kv_skey sk;
    kv_skey_make(&sk, key, keylen);
    int rc = raw_get(c, &sk, &v);
    if (rc <= 0) return set_err(c, rc == 0 ? KV_EINVAL : rc);
    if (v.expiry == expiry) return 0;
    if (v.type != KV_TYPE_STRING) {
        v.expiry = expiry;
        char *dst;
        if (put_record(c, key, keylen, v.type, v.ver, body_len(v.type), expiry, 0, &dst) != 0)
            return -1;
        coll_body((unsigned char *)dst, &v);
        return 0;
    }
    /* The record is rewritten in place: copy the value out first, as the
     * put may move the page it lives on. */
    char *copy = kv_malloc(v.len ? v.len : 1);
    if (!copy) return set_err(c, KV_ENOMEM);
    memcpy(copy, v.p, v.len);
    rc = store_raw(c, key, keylen, copy, v.len, expiry, v.raw);
    free(copy);
    return rc;
}

/* A list or sorted set with elements was stored under key in c->db (pushed,
 * created, renamed, moved or copied in): it may serve a client blocked on
 * it (kvstate.h "key_ready"). Every path that stores a collection record
 * with elements comes here, so no command can miss the signal. */
static void coll_stored(kv_ctx *c, const char *key, size_t keylen, const kv_val *v)
{
    if (v->count > 0 &&
        (v->type == KV_TYPE_LIST || v->type == KV_TYPE_ZSET || v->type == KV_TYPE_STREAM))
        kv_signal_ready(c, key, keylen);
}

int kv_put_val(kv_ctx *c, const char *key, size_t keylen, const kv_val *v)
{
    if (v->type == KV_TYPE_STRING)
        return store_raw(c, key, keylen, v->p, v->len, v->expiry, v->raw);
    char *dst;
    if (put_record(c, key, keylen, v->type, v->ver, body_len(v->type), v->expiry, 0, &dst) != 0)
        return -1;
    coll_body((unsigned char *)dst, v);
    coll_stored(c, key, keylen, v);
    return 0;
}

/* ------------------------------------------------------------ collections */

const char *kv_enc_name(int enc)
{
    static const char *names[] = {"listpack", "hashtable", "intset",
                                  "skiplist", "quicklist", "stream"};
    return enc >= 0 && enc < (int)(sizeof(names) / sizeof(names[0])) ? names[enc] : "unknown";
}

int kv_coll_new(kv_ctx *c, int type, int enc, kv_val *v)
{
    memset(v, 0, sizeof(*v));
    if (!c->st || !c->writable) {
        set_err(c, KV_EINVAL);
        return -1;
    }
    v->found = 1;
    v->type = (uint8_t)type;
    v->ver = c->st->next_ver++;
    c->st->pmeta_dirty = 1;
    v->head = v->tail = KV_LIST_MID;
    v->enc = (uint8_t)enc;
    return 0;
}

int kv_coll_save(kv_ctx *c, const char *key, size_t keylen, const kv_val *v)
{
    /* A stream stays when empty (Redis keeps it, with its last id). */
    if (v->count == 0 && v->type != KV_TYPE_STREAM) return kv_delete(c, key, keylen) < 0 ? -1 : 0;
    char *dst;
    if (put_record(c, key, keylen, v->type, v->ver, body_len(v->type), v->expiry, 0, &dst) != 0)
        return -1;
    coll_body((unsigned char *)dst, v);
    coll_stored(c, key, keylen, v);
    return 0;
}

uint64_t kv_new_version(kv_ctx *c)
{
    c->st->pmeta_dirty = 1;
    return c->st->next_ver++;
}

/* Copies every record of version from (elements, score index) to version
 * to, and its accounted bytes. 0 or -1. */
static int copy_ver(kv_ctx *c, uint64_t from, uint64_t to)
{
    const int slots[2] = {KV_SLOT_ELEM, KV_SLOT_ZIDX};
    unsigned char sv[8], kb[512];
    kv_put_be64(sv, from);
    if (kv_acct_ver_add(c, to, (int64_t)kv_acct_ver_get(c, from)) != 0) return -1;
    for (int t = 0; t < 2; t++) {
        MDB_dbi dbi = c->st->dbi[c->st->live][slots[t]];
        MDB_cursor *cur;
        int rc = mdb_cursor_open(c->txn, dbi, &cur);
        if (rc != 0) {
            set_err(c, kv_map_err(rc));
            return -1;
        }
        MDB_val k = {8, sv}, d;
        for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
             rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
            if (k.mv_size < 8 || k.mv_size > sizeof(kb) || memcmp(k.mv_data, sv, 8) != 0) break;
            memcpy(kb, k.mv_data, k.mv_size);
            kv_put_be64(kb, to);
            MDB_val nk = {k.mv_size, kb}, nd = {d.mv_size, NULL};
            /* d points into the map; reserve, then copy from a record
             * the put does not move (a new key after every source one). */
            const void *src = d.mv_data;
            size_t n = d.mv_size;
            void *copy = NULL;
            if (n && !(copy = kv_malloc(n))) {
                rc = KV_ENOMEM;
                break;
            }
            if (n) memcpy(copy, src, n);
            rc = mdb_put(c->txn, dbi, &nk, &nd, MDB_RESERVE);
            if (rc == 0 && n) memcpy(nd.mv_data, copy, n);
            free(copy);
            if (rc != 0) break;
        }
        mdb_cursor_close(cur);
        if (rc != 0 && rc != MDB_NOTFOUND) {
            set_err(c, rc < 0 ? rc : kv_map_err(rc));
            return -1;
        }
    }
    return 0;
}

int kv_coll_copy(kv_ctx *c, const kv_val *src, kv_val *dst)
{
    *dst = *src;
    dst->ver = kv_new_version(c);
    if (copy_ver(c, src->ver, dst->ver) != 0) return -1;
    if (src->type == KV_TYPE_STREAM && src->gver) {
        dst->gver = kv_new_version(c);
        if (copy_ver(c, src->gver, dst->gver) != 0) return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ elements */

/* An element's stored name: itself, or for a long one its first bytes,
 * both hashes and its length (longer than any inline name, so the two
 * forms cannot meet). */
#define ELEM_PREFIX 424
#define ELEM_LONG (ELEM_PREFIX + 24)

static size_t elem_form(unsigned char *out, const void *f, size_t flen)
{
    if (flen <= KV_ELEM_INLINE) {
        memcpy(out, f, flen);
        return flen;
    }
    memcpy(out, f, ELEM_PREFIX);
    kv_put_be64(out + ELEM_PREFIX, kv_keyhash(f, flen));
    kv_put_be64(out + ELEM_PREFIX + 8, kv_keyhash2(f, flen));
    kv_put_be64(out + ELEM_PREFIX + 16, (uint64_t)flen);
    return ELEM_LONG;
}

static MDB_dbi table_dbi(kv_ctx *c, int table)
{
    return c->st->dbi[c->st->live][table == KV_T_ZIDX ? KV_SLOT_ZIDX : KV_SLOT_ELEM];
}

static int elem_key(unsigned char *kb, uint64_t ver, const void *f, size_t flen)
{
    kv_put_be64(kb, ver);
    return 8 + (int)elem_form(kb + 8, f, flen);
}

/* A long element's record value: u32 BE name length, name, value. */
static int long_split(const MDB_val *d, const char **name, size_t *nlen, const char **val,
                      size_t *vlen)
{
    const unsigned char *p = d->mv_data;
    if (d->mv_size < 4) return -1;
    size_t n = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
    if (n > d->mv_size - 4) return -1;
    *name = (const char *)p + 4;
    *nlen = n;
    *val = (const char *)p + 4 + n;
    *vlen = d->mv_size - 4 - n;
    return 0;
}

int kv_elem_get(kv_ctx *c, uint64_t ver, const void *f, size_t flen, const char **val, size_t *vlen)
{
    unsigned char kb[8 + ELEM_LONG];
    MDB_val k = {(size_t)elem_key(kb, ver, f, flen), kb}, d;
    int rc = mdb_get(c->txn, table_dbi(c, KV_T_ELEM), &k, &d);
    if (rc == MDB_NOTFOUND) return 0;
    if (rc != 0) {
        set_err(c, kv_map_err(rc));
        return -1;
    }
    if (flen > KV_ELEM_INLINE) {
        const char *name;
        size_t nlen;
        if (long_split(&d, &name, &nlen, val, vlen) != 0) {
            set_err(c, KV_ECORRUPT);
            return -1;
        }
        return nlen == flen && memcmp(name, f, flen) == 0;
    }
    *val = d.mv_data;
    *vlen = d.mv_size;
    return 1;
}

/* kv_elem_put() and kv_elem_add(): one search. A new element (the common
 * case) is inserted by it; an existing one leaves the cursor on its record
 * (MDB_KEYEXIST, d its value), which is then kept (add, or the same bytes:
 * no page dirtied) or replaced where it is (MDB_CURRENT). Returns 1 written
 * new, 0 present (*old / *oldlen its value when asked), -1 error. */
static int elem_write(kv_ctx *c, uint64_t ver, const void *f, size_t flen, const void *val,
                      size_t vlen, int keep, const char **old, size_t *oldlen)
{
    unsigned char kb[8 + ELEM_LONG];
    MDB_cursor *cur;
    int rc;
    MDB_val k = {(size_t)elem_key(kb, ver, f, flen), kb}, d;
    if ((rc = mdb_cursor_open(c->txn, table_dbi(c, KV_T_ELEM), &cur)) != 0) {
        set_err(c, kv_map_err(rc));
        return -1;
    }
    int longf = flen > KV_ELEM_INLINE;
    int64_t delta = (int64_t)kv_acct_elem(flen, vlen);
    size_t total = (longf ? 4 + flen : 0) + vlen;
    d = (MDB_val){total, NULL};
    rc = mdb_cursor_put(cur, &k, &d, MDB_RESERVE | MDB_NOOVERWRITE);
    int found = rc == MDB_KEYEXIST;
    if (rc != 0 && !found) goto fail;
    if (found) {
        const char *ov = d.mv_data, *name = f;
        size_t ovlen = d.mv_size, nlen = flen;
        if (longf && long_split(&d, &name, &nlen, &ov, &ovlen) != 0) {
            ov = d.mv_data; /* unreadable: replaced below */
            ovlen = d.mv_size;
            nlen = 0;
        }
        /* A long name's record under another name with the same hashes
         * is not this element (kv_elem_get's rule): added over it. */
        int same = nlen == flen && memcmp(name, f, flen) == 0;
        if (same && (keep || (ovlen == vlen && memcmp(ov, val, vlen) == 0))) {
            if (old) *old = ov, *oldlen = ovlen;
            mdb_cursor_close(cur);
            return 0;
        }
        delta -= (int64_t)kv_acct_elem(longf ? nlen : flen, ovlen);
        k = (MDB_val){(size_t)elem_key(kb, ver, f, flen), kb};
        d = (MDB_val){total, NULL};
        if ((rc = mdb_cursor_put(cur, &k, &d, MDB_RESERVE | MDB_CURRENT)) != 0) goto fail;
        found = same;
    }
    unsigned char *p = d.mv_data;
    if (longf) {
        p[0] = (unsigned char)(flen >> 24);
        p[1] = (unsigned char)(flen >> 16);
        p[2] = (unsigned char)(flen >> 8);
        p[3] = (unsigned char)flen;
        memcpy(p + 4, f, flen);
        p += 4 + flen;
    }
    if (vlen) memcpy(p, val, vlen);
    mdb_cursor_close(cur);
    if (delta && kv_acct_ver_add(c, ver, delta)) return -1;
    return !found;
fail:
    mdb_cursor_close(cur);
    set_err(c, kv_map_err(rc));
    return -1;
}

int kv_elem_put(kv_ctx *c, uint64_t ver, const void *f, size_t flen, const void *val, size_t vlen,
                int *created)
{
    int rc = elem_write(c, ver, f, flen, val, vlen, 0, NULL, NULL);
    if (rc < 0) return -1;
    if (created) *created = rc;
    return 0;
}

int kv_elem_add(kv_ctx *c, uint64_t ver, const void *f, size_t flen, const void *val, size_t vlen,
                const char **old, size_t *oldlen)
{
    return elem_write(c, ver, f, flen, val, vlen, 1, old, oldlen);
}

int kv_elem_del(kv_ctx *c, uint64_t ver, const void *f, size_t flen)
{
    unsigned char kb[8 + ELEM_LONG];
    MDB_val k = {(size_t)elem_key(kb, ver, f, flen), kb}, d;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(c->txn, table_dbi(c, KV_T_ELEM), &cur);
    if (rc == 0) rc = mdb_cursor_get(cur, &k, &d, MDB_SET_KEY);
    size_t vlen = rc == 0 ? d.mv_size : 0;
    if (rc == 0) rc = mdb_cursor_del(cur, 0);
    if (cur) mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND) return 0;
    if (rc != 0) {
        set_err(c, kv_map_err(rc));
        return -1;
    }
    if (flen > KV_ELEM_INLINE && vlen >= 4 + flen) vlen -= 4 + flen;
    return kv_acct_ver_add(c, ver, -(int64_t)kv_acct_elem(flen, vlen)) ? -1 : 1;
}

void kv_score_enc(double d, unsigned char out[8])
{
    uint64_t u;
    if (d == 0) d = 0; /* -0.0 sorts with 0.0 */
    memcpy(&u, &d, 8);
    u = (u & ((uint64_t)1 << 63)) ? ~u : u | ((uint64_t)1 << 63);
    kv_put_be64(out, u);
}

double kv_score_dec(const unsigned char in[8])
{
    uint64_t u = kv_get_be64(in);
    u = (u & ((uint64_t)1 << 63)) ? u & ~((uint64_t)1 << 63) : ~u;
    double d;
    memcpy(&d, &u, 8);
    return d;
}

void kv_seq_enc(uint64_t seq, unsigned char out[8])
{
    kv_put_be64(out, seq);
}

uint64_t kv_seq_dec(const unsigned char in[8])
{
    return kv_get_be64(in);
}

static int zidx_key(unsigned char *kb, uint64_t ver, double score, const void *m, size_t mlen)
{
    kv_put_be64(kb, ver);
    kv_score_enc(score, kb + 8);
    return 16 + (int)elem_form(kb + 16, m, mlen);
}

int kv_zidx_put(kv_ctx *c, uint64_t ver, double score, const void *m, size_t mlen)
{
    unsigned char kb[16 + ELEM_LONG];
    MDB_val k = {(size_t)zidx_key(kb, ver, score, m, mlen), kb};
    /* A long member's whole name is the value, for iteration. */
    MDB_val d = {mlen > KV_ELEM_INLINE ? mlen : 0, (void *)m};
    int rc = mdb_put(c->txn, table_dbi(c, KV_T_ZIDX), &k, &d, 0);
    if (rc != 0) {
        set_err(c, kv_map_err(rc));
        return -1;
    }
    return 0;
}

int kv_zidx_del(kv_ctx *c, uint64_t ver, double score, const void *m, size_t mlen)
{
    unsigned char kb[16 + ELEM_LONG];
    MDB_val k = {(size_t)zidx_key(kb, ver, score, m, mlen), kb};
    int rc = mdb_del(c->txn, table_dbi(c, KV_T_ZIDX), &k, NULL);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        set_err(c, kv_map_err(rc));
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ iteration */

void kv_iter_seek(kv_iter *it, const void *from, size_t fromlen, int reverse)
{
    int table = it->table;
    it->reverse = reverse;
    it->started = it->done = 0;
    it->has_from = 0;
    kv_put_be64(it->from, it->ver);
    it->fromlen = 8;
    if (from) {
        it->has_from = 1;
        const unsigned char *f = from;
        if (table == KV_T_ZIDX && fromlen >= 8) {
            memcpy(it->from + 8, f, 8);
            it->fromlen = 16 + elem_form(it->from + 16, f + 8, fromlen - 8);
        } else if (table == KV_T_ZIDX) {
            memcpy(it->from + 8, f, fromlen);
            it->fromlen = 8 + fromlen;
        } else {
            it->fromlen = 8 + elem_form(it->from + 8, f, fromlen);
        }
    }
}

int kv_iter_open(kv_ctx *c, kv_iter *it, int table, uint64_t ver, const void *from, size_t fromlen,
                 int reverse)
{
    it->c = c;
    it->cur = NULL;
    it->table = table;
    it->ver = ver;
    kv_iter_seek(it, from, fromlen, reverse);
    MDB_cursor *cur;
    int rc = mdb_cursor_open(c->txn, table_dbi(c, table), &cur);
    if (rc != 0) {
        set_err(c, kv_map_err(rc));
        return -1;
    }
    it->cur = cur;
    return 0;
}

static int iter_pos(kv_iter *it, MDB_val *k, MDB_val *d)
{
    MDB_cursor *cur = it->cur;
    if (it->started) return mdb_cursor_get(cur, k, d, it->reverse ? MDB_PREV : MDB_NEXT);
    it->started = 1;
    if (!it->reverse) {
        *k = (MDB_val){it->fromlen, it->from};
        return mdb_cursor_get(cur, k, d, MDB_SET_RANGE);
    }
    unsigned char seek[sizeof(it->from)];
    size_t n = it->fromlen;
    memcpy(seek, it->from, n);
    if (!it->has_from) { /* the last record of ver: seek ver + 1, step back */
        if (it->ver == UINT64_MAX) return mdb_cursor_get(cur, k, d, MDB_LAST);
        kv_put_be64(seek, it->ver + 1);
        n = 8;
    }
    *k = (MDB_val){n, seek};
    int rc = mdb_cursor_get(cur, k, d, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND) return mdb_cursor_get(cur, k, d, MDB_LAST);
    if (rc != 0) return rc;
    if (it->has_from && k->mv_size == n && memcmp(k->mv_data, seek, n) == 0) return 0;
    return mdb_cursor_get(cur, k, d, MDB_PREV);
}

int kv_iter_next(kv_iter *it, const char **f, size_t *flen, const char **val, size_t *vlen)
{
    MDB_val k, d;
    if (it->done) return 0;
    int rc = iter_pos(it, &k, &d);
    if (rc == MDB_NOTFOUND) {
        it->done = 1;
        return 0;
    }
    if (rc != 0) {
        set_err(it->c, kv_map_err(rc));
        return -1;
    }
    const unsigned char *kp = k.mv_data;
    size_t hdr = it->table == KV_T_ZIDX ? 16 : 8;
    if (k.mv_size < hdr || kv_get_be64(kp) != it->ver) {
        it->done = 1;
        return 0;
    }
    size_t formlen = k.mv_size - hdr;
    if (it->table == KV_T_ZIDX) {
        *val = (const char *)kp + 8;
        *vlen = 8;
        if (formlen == ELEM_LONG && d.mv_size > KV_ELEM_INLINE) {
            *f = d.mv_data;
            *flen = d.mv_size;
        } else {
            *f = (const char *)kp + 16;
            *flen = formlen;
        }
        return 1;
    }
    if (formlen == ELEM_LONG) {
        if (long_split(&d, f, flen, val, vlen) != 0) {
            set_err(it->c, KV_ECORRUPT);
            return -1;
        }
        return 1;
    }
    *f = (const char *)kp + 8;
    *flen = formlen;
    *val = d.mv_data;
    *vlen = d.mv_size;
    return 1;
}

int kv_iter_del_current(kv_iter *it)
{
    MDB_val k, d;
    int64_t bytes = 0;
    int rc = 0;
    if (it->table == KV_T_ELEM) {
        /* What the element counted, before it goes. */
        rc = mdb_cursor_get(it->cur, &k, &d, MDB_GET_CURRENT);
        if (rc == 0 && k.mv_size >= 8) {
            const char *f, *v;
            size_t flen = k.mv_size - 8, vlen = d.mv_size;
            if (flen == ELEM_LONG && long_split(&d, &f, &flen, &v, &vlen) != 0) flen = ELEM_LONG;
            bytes = (int64_t)kv_acct_elem(flen, vlen);
        }
    }
    if (rc == 0) rc = mdb_cursor_del(it->cur, 0);
    if (rc != 0) {
        set_err(it->c, kv_map_err(rc));
        return -1;
    }
    return bytes ? kv_acct_ver_add(it->c, it->ver, -bytes) : 0;
}

void kv_iter_close(kv_iter *it)
{
    if (it->cur) mdb_cursor_close(it->cur);
    it->cur = NULL;
}

/* ------------------------------------------------------------ misc */

static void watch_swapped(kv_ctx *c, int db);
static void watch_flushed_all(kv_ctx *c);

uint64_t kv_rand(kv_ctx *c)
{
    /* splitmix64 */
    uint64_t z = (c->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void kv_swap_db(kv_ctx *c, int a, int b)
{
    uint8_t t = c->st->dbmap[a];
    c->st->dbmap[a] = c->st->dbmap[b];
    c->st->dbmap[b] = t;
    c->st->pmeta_dirty = 1;
    kv_use_db(c, c->db);
    kv_watch_mark(c, a);
    kv_watch_mark(c, b);
    watch_swapped(c, a);
    if (b != a) watch_swapped(c, b);
}

int kv_db_phys(kv_ctx *c, int db)
{
    if (!c->st || db < 0 || db >= KV_MAX_DBS) return -1;
    return c->st->dbmap[db];
}

void kv_use_db(kv_ctx *c, int db)
{
    c->db = db;
    if (!c->st) return;
    int p = c->st->dbmap[db];
    c->kv = c->st->dbi[c->st->live][KV_SLOT_KV(p)];
    c->exp = c->st->dbi[c->st->live][KV_SLOT_EXP(p)];
}

int kv_flush(kv_ctx *c)
{
    int rc = mdb_drop(c->txn, c->kv, 0);
    if (rc == 0) rc = mdb_drop(c->txn, c->exp, 0);
    return set_err(c, kv_map_err(rc));
}

int kv_flush_db(kv_ctx *c)
{
    /* The collections' elements go to the cleanup queue first. */
    MDB_cursor *cur;
    MDB_val k, d;
    int rc = mdb_cursor_open(c->txn, c->kv, &cur);
    if (rc != 0) return set_err(c, kv_map_err(rc));
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        kv_rec r;
        if (kv_rec_parse(&k, &d, &r) != 0) {
            rc = KV_ECORRUPT;
            break;
        }
        kv_acct_add(c, -(int64_t)kv_acct_record(r.keylen, r.type, r.vlen));
        /* A watched key that existed here changed (Redis's
         * touchAllWatchedKeysInDb); an absent one did not. */
        uint64_t gone = r.expiry != 0 && r.expiry <= c->tau ? r.stamp : c->index;
        if (c->st &&
            (rc = tomb_put(c, phys_of_kv(c, c->kv), k.mv_data, k.mv_size, r.stamp, gone)) != 0)
            break;
        if (r.type == KV_TYPE_STRING) continue;
        kv_val v = {0};
        v.type = r.type;
        coll_parse(r.val, r.vlen, &v);
        if ((rc = gc_queue(c, &v)) != 0) break;
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND && rc != 0) return set_err(c, rc < 0 ? rc : kv_map_err(rc));
    kv_watch_mark(c, c->db);
    if (c->rc) return c->rc;
    /* Its streams went: blocked XREADGROUP clients are answered (Redis's
     * scanDatabaseForDeletedStreams); other waiters just look again. */
    kv_signal_ready(c, NULL, 0);
    return kv_flush(c);
}

int kv_flush_all(kv_ctx *c)
{
    struct kvstate *s = c->st;
    for (int i = 0; i < KV_NSLOTS; i++) {
        /* FLUSHALL leaves the script cache and the function libraries
         * alone, as Redis's does. */
        if (i == KV_SLOT_PMETA || i == KV_SLOT_WATCH || i == KV_SLOT_SCRIPTS ||
            i == KV_SLOT_FUNCTIONS)
            continue;
        int rc = mdb_drop(c->txn, s->dbi[s->live][i], 0);
        if (rc != 0) return set_err(c, kv_map_err(rc));
    }
    s->acct = 0;
    s->pmeta_dirty = 1;
    kv_watch_mark(c, -1);
    watch_flushed_all(c);
    int db = c->db; /* every database's streams went (see kv_flush_db) */
    for (c->db = 0; c->db < KV_MAX_DBS; c->db++)
        kv_signal_ready(c, NULL, 0);
    c->db = db;
    return c->rc;
}

int kv_expire_one(kv_ctx *c, int phys, const char *key, size_t keylen, int64_t expiry)
{
    kv_val v;
    kv_skey sk;
    if (phys < 0 || phys >= KV_MAX_DBS) return 0;
    MDB_dbi okv = c->kv, oexp = c->exp;
    c->kv = c->st->dbi[c->st->live][KV_SLOT_KV(phys)];
    c->exp = c->st->dbi[c->st->live][KV_SLOT_EXP(phys)];
    /* Only the exact expiry the leader saw, and only once it has passed at
     * this entry's tau: a newer write (other value or expiry) survives. */
    kv_skey_make(&sk, key, keylen);
    int rc = raw_get(c, &sk, &v);
    if (rc < 0)
        set_err(c, rc);
    else if (rc == 1 && v.expiry != 0 && v.expiry == expiry && v.expiry <= c->tau &&
             kv_delete(c, key, keylen) == 1)
        kv_notify_db(c, kv_db_logical(c, phys), KV_NOTIFY_EXPIRED, "expired", key, keylen);
    c->kv = okv;
    c->exp = oexp;
    return c->rc;
}

/* ------------------------------------------------------------ watch
 *
 * WATCH asks, at EXEC's apply, "did this key change after index W?".
 * A key with a record answers with the record's stamp (put_record writes
 * the entry's index into every record it writes; kv_touch restamps a
 * record whose change did not rewrite it, e.g. an element of a hash). A
 * key without a record answers with its bucket's (KV_WATCH_BUCKETS per
 * physical database, by the top bits of the key hash): the last index at
 * which a live key of that bucket was deleted. A bucket is shared, so an
 * absent watched key can look changed when another key of its bucket was
 * deleted meanwhile (a spurious abort, never a missed one). Both are
 * raised to the database's mark, the last FLUSHDB, FLUSHALL or SWAPDB.
 * The slot's keys: [u8 physical db][u16 BE bucket] and [0xff][u8
 * logical db], each -> u64 BE index. */

#define WATCH_MARK 0xff
/* Exact answers for absent keys (Redis touches a watched key only when it
 * exists: a delete, FLUSHDB or SWAPDB of other keys is no change):
 *  - a tombstone per deleted key, [0xfe][u64 BE generation][u8 physical
 *    db][stored key] -> u64 BE index it stopped existing at, written when
 *    the key was written in this generation or the one before (an absent
 *    watched key that was deleted was created after the WATCH, so after
 *    the horizon); generations of WATCH_GEN_BITS indexes, the older ones
 *    pruned two at a time as tombstones are written;
 *  - per logical database the last two SWAPDBs ([0xfd][db], [0xfc][db]),
 *    and the last FLUSHALL ([0xfb][0]).
 * A WATCH at an index at or past the horizon (the start of the previous
 * generation) whose token names the physical database is judged by those
 * (kv_watch_changed); an older one, or an old token, by the buckets. */
#define WATCH_TOMB 0xfe
#define WATCH_SWAP 0xfd
#define WATCH_SWAP_PREV 0xfc
#define WATCH_FLUSHALL 0xfb
#define WATCH_GEN_BITS 16

static uint64_t watch_gen(uint64_t index)
{
    return index >> WATCH_GEN_BITS;
}

/* The first index whose absent keys the tombstones answer for at index. */
static uint64_t watch_horizon(uint64_t index)
{
    uint64_t g = watch_gen(index);
    return g ? (g - 1) << WATCH_GEN_BITS : 0;
}

static MDB_dbi watch_dbi(kv_ctx *c)
{
    return c->st->dbi[c->st->live][KV_SLOT_WATCH];
}

static int phys_of_kv(kv_ctx *c, MDB_dbi kv)
{
    for (int p = 0; p < KV_MAX_DBS; p++)
        if (c->st->dbi[c->st->live][KV_SLOT_KV(p)] == kv) return p;
    return -1;
}

static int watch_get(kv_ctx *c, const unsigned char *kb, size_t kl, uint64_t *v)
{
    MDB_val k = {kl, (void *)kb}, d;
    *v = 0;
    int rc = mdb_get(c->txn, watch_dbi(c), &k, &d);
    if (rc == MDB_NOTFOUND) return 0;
    if (rc != 0) return kv_map_err(rc);
    if (d.mv_size != 8) return KV_ECORRUPT;
    *v = kv_get_be64(d.mv_data);
    return 0;
}

/* Raises a watch record to v. */
static int watch_raise(kv_ctx *c, const unsigned char *kb, size_t kl, uint64_t v)
{
    uint64_t old;
    int rc = watch_get(c, kb, kl, &old);
    if (rc != 0 || old >= v) return rc;
    unsigned char vb[8];
    kv_put_be64(vb, v);
    MDB_val k = {kl, (void *)kb}, d = {8, vb};
    return kv_map_err(mdb_put(c->txn, watch_dbi(c), &k, &d, 0));
}

static int watch_put(kv_ctx *c, const unsigned char *kb, size_t kl, uint64_t v)
{
    unsigned char vb[8];
    kv_put_be64(vb, v);
    MDB_val k = {kl, (void *)kb}, d = {8, vb};
    return kv_map_err(mdb_put(c->txn, watch_dbi(c), &k, &d, 0));
}

static void bucket_key(unsigned char kb[3], int phys, const kv_skey *sk)
{
    kb[0] = (unsigned char)phys;
    kb[1] = sk->b[0]; /* the key hash's top 16 bits */
    kb[2] = sk->b[1];
}

static int bucket_bump(kv_ctx *c, const kv_skey *sk, uint64_t stamp)
{
    if (!c->st || !c->writable || stamp == 0) return 0;
    int phys = phys_of_kv(c, c->kv);
    if (phys < 0) return 0;
    unsigned char kb[3];
    bucket_key(kb, phys, sk);
    /* This entry's index is the largest any record holds: no need to read. */
    if (stamp == c->index) return watch_put(c, kb, sizeof(kb), stamp);
    return watch_raise(c, kb, sizeof(kb), stamp);
}

static size_t tomb_key(unsigned char *kb, uint64_t gen, int phys, const unsigned char *sk,
                       size_t sklen)
{
    kb[0] = WATCH_TOMB;
    kv_put_be64(kb + 1, gen);
    kb[9] = (unsigned char)phys;
    memcpy(kb + 10, sk, sklen);
    return 10 + sklen;
}

/* Drops up to two tombstones older than the horizon (the oldest first:
 * the generation leads the key). */
static int tomb_prune(kv_ctx *c)
{
    uint64_t keep = watch_gen(c->index);
    keep = keep ? keep - 1 : 0;
    /* Known to hold none older (the same outcome as looking, cheaper). */
    if (c->st->tomb_floor >= keep) return 0;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(c->txn, watch_dbi(c), &cur);
    if (rc != 0) return kv_map_err(rc);
    unsigned char first = WATCH_TOMB;
    int more = 0; /* an older one is left after this call's two */
    for (int n = 0; rc == 0; n++) {
        MDB_val k = {1, &first}, d;
        if ((rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE)) != 0) break;
        const unsigned char *kb = k.mv_data;
        if (k.mv_size < 10 || kb[0] != WATCH_TOMB || kv_get_be64(kb + 1) >= keep) break;
        if (n == 2) {
            more = 1;
            break;
        }
        rc = mdb_cursor_del(cur, 0);
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND) return kv_map_err(rc);
    if (!more) c->st->tomb_floor = keep;
    return 0;
}

/* Key sk of physical database phys, last written at stamp, stopped
 * existing at gone (this entry, or its expiry's stamp). */
static int tomb_put(kv_ctx *c, int phys, const unsigned char *sk, size_t sklen, uint64_t stamp,
                    uint64_t gone)
{
    if (!c->st || !c->writable || c->index == 0 || gone == 0 || phys < 0 ||
        stamp < watch_horizon(c->index) || sklen > 8 + KV_SKEY_LONG)
        return 0;
    unsigned char kb[10 + 8 + KV_SKEY_LONG];
    size_t kl = tomb_key(kb, watch_gen(c->index), phys, sk, sklen);
    /* A key's gone indexes only grow (it is created again in between): a
     * put, not a raise. */
    int rc = watch_put(c, kb, kl, gone);
    return rc ? rc : tomb_prune(c);
}

/* The latest index key sk of physical database phys stopped existing at,
 * among the tombstones kept at index (0: none). */
static int tomb_get(kv_ctx *c, int phys, const kv_skey *sk, uint64_t *gone)
{
    unsigned char kb[10 + 8 + KV_SKEY_LONG];
    uint64_t g = watch_gen(c->index);
    *gone = 0;
    for (uint64_t gen = g ? g - 1 : 0; gen <= g; gen++) {
        uint64_t v;
        size_t kl = tomb_key(kb, gen, phys, sk->b, sk->len);
        int rc = watch_get(c, kb, kl, &v);
        if (rc != 0) return rc;
        if (v > *gone) *gone = v;
    }
    return 0;
}

void kv_watch_mark(kv_ctx *c, int db)
{
    if (!c->st || !c->writable || c->index == 0 || c->rc) return;
    for (int d = db < 0 ? 0 : db; d < (db < 0 ? KV_MAX_DBS : db + 1); d++) {
        unsigned char kb[2] = {WATCH_MARK, (unsigned char)d};
        int rc = watch_raise(c, kb, sizeof(kb), c->index);
        if (rc != 0) {
            set_err(c, rc);
            return;
        }
    }
}

/* SWAPDB touched logical db: its last two swaps. */
static void watch_swapped(kv_ctx *c, int db)
{
    if (!c->st || !c->writable || c->index == 0 || c->rc) return;
    unsigned char last[2] = {WATCH_SWAP, (unsigned char)db},
                  prev[2] = {WATCH_SWAP_PREV, (unsigned char)db};
    uint64_t v;
    int rc = watch_get(c, last, sizeof(last), &v);
    if (rc == 0 && v != c->index) rc = watch_put(c, prev, sizeof(prev), v);
    if (rc == 0) rc = watch_put(c, last, sizeof(last), c->index);
    if (rc != 0) set_err(c, rc);
}

static void watch_flushed_all(kv_ctx *c)
{
    if (!c->st || !c->writable || c->index == 0 || c->rc) return;
    unsigned char kb[2] = {WATCH_FLUSHALL, 0};
    int rc = watch_put(c, kb, sizeof(kb), c->index);
    if (rc != 0) set_err(c, rc);
}

/* Whether key, absent from logical db when watched at index w (physical
 * database pw then), may have existed there since: Redis touches a
 * watched key only when it exists (created, moved or swapped in, flushed
 * or swapped out while there). Conservative (1) past one SWAPDB of db or
 * a FLUSHALL. 0 or 1, or -1 on a storage error (c->rc). */
static int absent_key_changed(kv_ctx *c, int db, int pw, const char *key, size_t keylen, uint64_t w)
{
    unsigned char kb[2] = {WATCH_FLUSHALL, 0};
    uint64_t v;
    int rc = watch_get(c, kb, sizeof(kb), &v);
    if (rc == 0 && v > w) return 1;
    kb[0] = WATCH_SWAP_PREV;
    kb[1] = (unsigned char)db;
    if (rc == 0) rc = watch_get(c, kb, sizeof(kb), &v);
    if (rc == 0 && v > w) return 1; /* two swaps: the key may have passed through a third db */
    uint64_t swapped = 0;
    kb[0] = WATCH_SWAP;
    if (rc == 0) rc = watch_get(c, kb, sizeof(kb), &swapped);
    if (rc != 0) {
        set_err(c, rc);
        return -1;
    }
    int pnow = c->st->dbmap[db];
    if (swapped > w && pnow == pw) return 1;
    if (swapped <= w && pnow != pw) return 1; /* not the db it was watched in */
    kv_skey sk;
    kv_skey_make(&sk, key, keylen);
    /* Where it was watched and where db's keys are now (after one swap,
     * the other db's: a key there at the swap is one swapped in). */
    for (int i = 0; i < (pnow == pw ? 1 : 2); i++) {
        int p = i ? pnow : pw;
        MDB_dbi okv = c->kv;
        kv_val r;
        c->kv = c->st->dbi[c->st->live][KV_SLOT_KV(p)];
        rc = raw_get(c, &sk, &r);
        c->kv = okv;
        if (rc < 0) {
            set_err(c, rc);
            return -1;
        }
        if (rc == 1 && r.stamp > w) return 1; /* written since: created after the WATCH */
        if ((rc = tomb_get(c, p, &sk, &v)) != 0) {
            set_err(c, rc);
            return -1;
        }
        if (v > w) return 1; /* existed since, then went */
    }
    return 0;
}

void kv_touch(kv_ctx *c, int db, const char *key, size_t keylen)
{
    if (!c->st || !c->writable || c->index == 0 || c->rc || db < 0 || db >= KV_MAX_DBS) return;
    int phys = c->st->dbmap[db];
    MDB_dbi kv = c->st->dbi[c->st->live][KV_SLOT_KV(phys)];
    kv_skey sk;
    kv_skey_make(&sk, key, keylen);
    if (c->stamped_len == sk.len && c->stamped_kv == kv && !memcmp(c->stamped, sk.b, sk.len))
        return; /* put_record() just stamped it */
    MDB_dbi okv = c->kv, oexp = c->exp;
    c->kv = kv;
    c->exp = c->st->dbi[c->st->live][KV_SLOT_EXP(phys)];
    kv_val v;
    int rc = raw_get(c, &sk, &v);
    if (rc < 0) {
        set_err(c, rc);
    } else if (rc == 1 && v.stamp != c->index && !(v.expiry != 0 && v.expiry <= c->tau)) {
        if (v.type != KV_TYPE_STRING) {
            char *dst;
            if (put_record(c, key, keylen, v.type, v.ver, body_len(v.type), v.expiry, 0, &dst) == 0)
                coll_body((unsigned char *)dst, &v);
        } else {
            /* The put may move the page the value lives on: copy it first. */
            char *copy = kv_malloc(v.len ? v.len : 1);
            if (!copy) {
                set_err(c, KV_ENOMEM);
            } else {
                memcpy(copy, v.p, v.len);
                store_raw(c, key, keylen, copy, v.len, v.expiry, v.raw);
                free(copy);
            }
        }
    }
    c->kv = okv;
    c->exp = oexp;
}

int kv_watch_probe(kv_ctx *c, int db, const char *key, size_t keylen, int *present, uint64_t *stamp)
{
    *present = 0;
    *stamp = 0;
    if (!c->st || db < 0 || db >= KV_MAX_DBS) return KV_EINVAL;
    int phys = c->st->dbmap[db];
    MDB_dbi okv = c->kv;
    c->kv = c->st->dbi[c->st->live][KV_SLOT_KV(phys)];
    kv_skey sk;
    kv_val v;
    kv_skey_make(&sk, key, keylen);
    int rc = raw_get(c, &sk, &v);
    c->kv = okv;
    if (rc < 0) return rc;
    if (rc == 1) {
        *present = !(v.expiry != 0 && v.expiry <= c->tau);
        *stamp = v.stamp;
    } else {
        unsigned char kb[3];
        bucket_key(kb, phys, &sk);
        if ((rc = watch_get(c, kb, sizeof(kb), stamp)) != 0) return rc;
    }
    unsigned char mk[2] = {WATCH_MARK, (unsigned char)db};
    uint64_t mark;
    if ((rc = watch_get(c, mk, sizeof(mk), &mark)) != 0) return rc;
    if (mark > *stamp) *stamp = mark;
    return 0;
}

/* "<db>:<0|1>:<index>[:<physical db>]", each a plain decimal (*phys -1
 * without the fourth: a token of an older version). */
static int watch_token(const char *s, size_t n, int *db, int *present, uint64_t *index, int *phys)
{
    const char *end = s + n, *p = s;
    uint64_t f[4];
    int i;
    for (i = 0; i < 4; i++) {
        if (p >= end || *p < '0' || *p > '9') return -1;
        uint64_t v = 0;
        for (; p < end && *p >= '0' && *p <= '9'; p++) {
            uint64_t d = (uint64_t)(*p - '0');
            if (v > (UINT64_MAX - d) / 10) return -1;
            v = v * 10 + d;
        }
        f[i] = v;
        if (p == end) break;
        if (i == 3 || *p++ != ':') return -1;
    }
    if (i < 2 || f[0] >= KV_MAX_DBS || f[1] > 1 || (i == 3 && f[3] >= KV_MAX_DBS)) return -1;
    *db = (int)f[0];
    *present = (int)f[1];
    *index = f[2];
    *phys = i == 3 ? (int)f[3] : -1;
    return 0;
}

int kv_watch_changed(kv_ctx *c, int argc, char **argv, size_t *argvlen)
{
    if (argc < 1 || (argc - 1) % 2 != 0) return 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        int db, was_present, present, phys;
        uint64_t watched, stamp;
        if (watch_token(argv[i], argvlen[i], &db, &was_present, &watched, &phys) != 0) return 1;
        int rc = kv_watch_probe(c, db, argv[i + 1], argvlen[i + 1], &present, &stamp);
        if (rc != 0) {
            set_err(c, rc);
            return -1;
        }
        if (!was_present && phys >= 0 && watched >= watch_horizon(c->index)) {
            /* Absent when watched, recently: exactly as Redis. */
            if (present) return 1;
            rc = absent_key_changed(c, db, phys, argv[i + 1], argvlen[i + 1], watched);
            if (rc != 0) return rc;
            continue;
        }
        /* Changed after the index it was watched at; or it existed then and
         * has expired since (Redis 7.0's isWatchedKeyExpired()). */
        if (stamp > watched || present != was_present) return 1;
    }
    return 0;
}
