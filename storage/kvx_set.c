/* kvx_set.c -- the set commands (Redis's t_set.c), on the typed key space
 * (kvks.h).
 *
 * A set is a collection whose element records are its members with an
 * empty value, in the order of their bytes (a member longer than
 * KV_ELEM_INLINE sorts by its first bytes, then by hash: elem_cmp()).
 * SMEMBERS, SUNION and the others therefore answer in that order, where
 * Redis answers in its hash table's (or an intset's numeric) order.
 *
 * Encoding. OBJECT ENCODING says "intset" while every member is an integer
 * by Redis's string2ll rule and there are at most 512 of them
 * (set-max-intset-entries), "hashtable" once either stops holding; as in
 * Redis it never goes back. The storage is the same for both.
 *
 * Random members (SRANDMEMBER, SPOP). The records have no rank, so a
 * member cannot be drawn uniformly in less than O(n). A pick descends the
 * members as a trie: at the first byte where the range's first and last
 * member differ it draws a byte value between theirs and narrows the range
 * to the members with that byte there, until one member is left (two
 * seeks a level, so O(length * log n)). Every byte value present at a
 * level is equally likely, not every member as in Redis: a member in a
 * sparse branch is drawn more often. Distinct picks (a positive count)
 * draw that many keys, sort them and take, for each, the first member
 * after the one taken before; when few enough remain (count * 3 > size
 * for SRANDMEMBER, count * 5 > size for SPOP, Redis's thresholds) one pass
 * of selection sampling over the whole set is exactly uniform. At apply
 * kv_rand() is seeded from the entry, so every node pops the same members.
 *
 * SSCAN. A set of the intset encoding is returned whole with cursor 0, as
 * Redis does. Otherwise the cursor is the first 8 bytes of the next
 * member to return (big-endian, zero-padded), and a batch never ends
 * between two members with the same first 8 bytes: the scan is stateless
 * and every member present for the whole scan is returned, whatever is
 * added or removed meanwhile (members sharing their first 8 bytes come in
 * one batch, however many). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/kvcmd.h"
#include "storage/kvcmd_int.h"
#include "storage/kverr.h"
#include "storage/kvint.h"
#include "storage/kvks.h"

#define SET_MAX_INTSET 512

/* ------------------------------------------------------------ helpers */

static int is_int(const char *s, size_t n)
{
    long long v;
    return n <= 20 && kv_string2ll(s, n, &v);
}

/* Adds m to set v (new or looked up), keeping count and encoding in step.
 * 1 added, 0 already there, -1 error. m must not point into the map: the
 * write may move the page it lives on. */
static int set_add(kv_ctx *c, kv_val *v, const char *m, size_t mlen)
{
    int created;
    if (kv_elem_put(c, v->ver, m, mlen, "", 0, &created) != 0) return -1;
    if (!created) return 0;
    v->count++;
    if (v->enc == KV_ENC_INTSET && (v->count > SET_MAX_INTSET || !is_int(m, mlen)))
        v->enc = KV_ENC_HASHTABLE;
    return 1;
}

/* A growable copy of one member: pointers the iterator returns are valid
 * only until the next write. */
typedef struct mbuf {
    char *p;
    size_t len, cap;
} mbuf;

static int mbuf_set(kv_ctx *c, mbuf *b, const char *p, size_t n)
{
    if (n > b->cap || !b->p) {
        size_t cap = n < 64 ? 64 : n;
        char *q = kv_malloc(cap);
        if (!q) {
            kvx_oom(c);
            return -1;
        }
        free(b->p);
        b->p = q;
        b->cap = cap;
    }
    if (n) memcpy(b->p, p, n);
    b->len = n;
    return 0;
}

/* The stored form of a member, as kvks.c builds it: itself, or for a long
 * one its first 424 bytes, both hashes and its length. */
#define FORM_PREFIX 424
#define FORM_LONG (FORM_PREFIX + 24)

static const unsigned char *form(const char *m, size_t n, unsigned char *buf, size_t *flen)
{
    if (n <= KV_ELEM_INLINE) {
        *flen = n;
        return (const unsigned char *)m;
    }
    memcpy(buf, m, FORM_PREFIX);
    kv_put_be64(buf + FORM_PREFIX, kv_keyhash(m, n));
    kv_put_be64(buf + FORM_PREFIX + 8, kv_keyhash2(m, n));
    kv_put_be64(buf + FORM_PREFIX + 16, (uint64_t)n);
    *flen = FORM_LONG;
    return buf;
}

/* The order members are iterated in (<0, 0, >0). */
static int elem_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned char ba[FORM_LONG], bb[FORM_LONG];
    size_t fa, fb;
    const unsigned char *pa = form(a, alen, ba, &fa), *pb = form(b, blen, bb, &fb);
    int r = memcmp(pa, pb, fa < fb ? fa : fb);
    if (r) return r;
    return fa < fb ? -1 : fa > fb;
}

static int same_key(char **argv, size_t *argvlen, int a, int b)
{
    return argvlen[a] == argvlen[b] && memcmp(argv[a], argv[b], argvlen[a]) == 0;
}

/* ------------------------------------------------------------ random picks */

/* Random picks (see the top of the file) work on the members' first
 * PICK_KEY bytes, the most a seek key needs (longer members are stored by
 * their first bytes and a hash). */
#define PICK_KEY 408
#define PICK_DEPTH 32

typedef struct pkey {
    unsigned char b[PICK_KEY];
    size_t n;
} pkey;

typedef struct picker {
    pkey first, last;
    kv_iter it; /* every seek of the picks, and the member pick_one() read */
} picker;

static void pkey_set(pkey *k, const char *p, size_t n)
{
    k->n = n < PICK_KEY ? n : PICK_KEY;
    memcpy(k->b, p, k->n);
}

/* *d = *s, copying only the bytes in use (a pkey is 416 bytes, a member's
 * first bytes are usually a few dozen). */
static void pkey_copy(pkey *d, const pkey *s)
{
    d->n = s->n;
    memcpy(d->b, s->b, s->n);
}

/* The member at the first record >= from (reverse: the last <= from) of
 * the picker's set, its first bytes into out: 1, 0 (none), -1. */
static int seek_member(picker *p, const unsigned char *from, size_t fromlen, int reverse, pkey *out)
{
    const char *f, *val;
    size_t flen, vlen;
    kv_iter_seek(&p->it, from, fromlen, reverse);
    int r = kv_iter_next(&p->it, &f, &flen, &val, &vlen);
    if (r == 1) pkey_set(out, f, flen);
    return r;
}

/* A picker of set v, its cursor open until picker_close() (which may be
 * called again, and after a failure here, which closed it). */
static int picker_init(kv_ctx *c, const kv_val *v, picker *p)
{
    if (kv_iter_open(c, &p->it, KV_T_ELEM, v->ver, NULL, 0, 0) != 0) return -1;
    if (seek_member(p, NULL, 0, 0, &p->first) != 1 || seek_member(p, NULL, 0, 1, &p->last) != 1) {
        if (c->rc == 0) c->rc = KV_ECORRUPT; /* count says not empty */
        kv_iter_close(&p->it);
        return -1;
    }
    return 0;
}

static void picker_close(picker *p)
{
    kv_iter_close(&p->it);
}

/* A random seek key, by descent: the range [lo, hi] of members starts as
 * the whole set; at the first byte where lo and hi differ a byte value is
 * drawn between theirs, and the range narrows to the members with that
 * byte there (an empty one ends the descent at the next member). Each
 * level costs two seeks; the result is the range's first member. */
static int picker_key(kv_ctx *c, picker *p, pkey *key)
{
    pkey lo, hi, x;
    pkey_copy(&lo, &p->first);
    pkey_copy(&hi, &p->last);
    unsigned char probe[PICK_KEY + 1];
    size_t n = 0; /* lo and hi share their first n bytes: it only grows */
    for (int depth = 0; depth < PICK_DEPTH; depth++) {
        size_t max = lo.n < hi.n ? lo.n : hi.n;
        while (n < max && lo.b[n] == hi.b[n])
            n++;
        if (n == hi.n || n >= PICK_KEY - 1) break; /* one member, or too long */
        unsigned blo = n < lo.n ? lo.b[n] : 0, bhi = hi.b[n];
        if (n == lo.n && kv_rand(c) % (bhi + 2) == 0) break; /* lo, a prefix of the rest */
        unsigned byte = blo + (unsigned)(kv_rand(c) % (bhi - blo + 1));
        memcpy(probe, lo.b, n);
        probe[n] = (unsigned char)byte;
        int r = seek_member(p, probe, n + 1, 0, &x);
        if (r < 0) return -1;
        if (r == 0) break;
        if (x.n <= n || x.b[n] != byte || memcmp(x.b, lo.b, n) != 0) {
            pkey_copy(&lo, &x); /* no member with that byte: the next one */
            break;
        }
        pkey_copy(&lo, &x);
        if (byte < 255) { /* the last member below prefix + (byte + 1) */
            probe[n] = (unsigned char)(byte + 1);
            pkey y;
            r = seek_member(p, probe, n + 1, 1, &y);
            if (r < 0) return -1;
            if (r == 1 && y.n == n + 1 && memcmp(y.b, probe, n + 1) == 0) {
                /* the bound itself is a member: the one before it */
                const char *f, *val;
                size_t flen, vlen;
                r = kv_iter_next(&p->it, &f, &flen, &val, &vlen);
                if (r == 1) pkey_set(&y, f, flen);
                if (r < 0) return -1;
            }
            if (r == 1) pkey_copy(&hi, &y);
        }
    }
    pkey_copy(key, &lo);
    return 0;
}

/* Reads a random member with the picker's iterator (kv_iter_del_current
 * on p->it deletes it): 1, or -1. The set must not be empty. */
static int pick_one(kv_ctx *c, picker *p, const char **m, size_t *mlen)
{
    pkey key;
    const char *val;
    size_t vlen;
    if (picker_key(c, p, &key) != 0) return -1;
    kv_iter_seek(&p->it, key.b, key.n, 0);
    int r = kv_iter_next(&p->it, m, mlen, &val, &vlen);
    if (r == 0) { /* past the last: wrap to the first */
        kv_iter_seek(&p->it, NULL, 0, 0);
        r = kv_iter_next(&p->it, m, mlen, &val, &vlen);
    }
    if (r != 1) {
        if (r == 0 && c->rc == 0) c->rc = KV_ECORRUPT; /* count says not empty */
        return -1;
    }
    return 1;
}

static int cmp_pkey(const void *a, const void *b)
{
    const pkey *x = a, *y = b;
    return elem_cmp((const char *)x->b, x->n, (const char *)y->b, y->n);
}

/* What to do with each member a sampler takes: reply it, and for SPOP
 * delete it (through the iterator). */
typedef struct taker {
    int pop;
    uint64_t taken;
    mbuf *list; /* SRANDMEMBER: copies, in order, to skip on a second pass */
    size_t nlist;
} taker;

static int take(kv_ctx *c, taker *t, kv_iter *it, const char *m, size_t mlen)
{
    resp_add_bulk(c->reply, m, mlen);
    if (t->list) {
        t->list[t->nlist] = (mbuf){0};
        if (mbuf_set(c, &t->list[t->nlist], m, mlen) != 0) return -1;
        t->nlist++;
    }
    t->taken++;
    if (t->pop && kv_iter_del_current(it) != 0) return -1;
    return 0;
}

/* count distinct members, 0 < count < size, each passed to take() (the
 * reply header is the caller's). Selection sampling over the whole set
 * when dense, sorted random points otherwise. */
static int sample_distinct(kv_ctx *c, const kv_val *v, uint64_t count, int dense, taker *t)
{
    kv_iter it;
    const char *m, *val;
    size_t mlen, vlen;
    int r;

    if (dense) {
        uint64_t left = v->count, need = count;
        if (kv_iter_open(c, &it, KV_T_ELEM, v->ver, NULL, 0, 0) != 0) return -1;
        while (need > 0 && (r = kv_iter_next(&it, &m, &mlen, &val, &vlen)) == 1) {
            if (kv_rand(c) % left < need) {
                if (take(c, t, &it, m, mlen) != 0) break;
                need--;
            }
            left--;
        }
        kv_iter_close(&it);
        if (c->rc == 0 && need > 0) c->rc = KV_ECORRUPT;
        return c->rc ? -1 : 0;
    }

    picker p;
    if (picker_init(c, v, &p) != 0) return -1;
    pkey *pts = kv_malloc(count * sizeof(pkey));
    if (!pts) {
        picker_close(&p);
        kvx_oom(c);
        return -1;
    }
    for (uint64_t i = 0; i < count; i++)
        if (picker_key(c, &p, &pts[i]) != 0) {
            picker_close(&p);
            free(pts);
            return -1;
        }
    picker_close(&p);
    qsort(pts, count, sizeof(pkey), cmp_pkey);

    /* Each point takes the first member at or after it and after the last
     * one taken. */
    mbuf last = {0};
    int open = 0, have_last = 0, rc = -1;
    uint64_t i = 0;
    for (; i < count; i++) {
        const unsigned char *key = pts[i].b;
        size_t klen = pts[i].n;
        if (!have_last || elem_cmp((const char *)key, klen, last.p, last.len) > 0) {
            if (open) kv_iter_close(&it);
            open = 0;
            if (kv_iter_open(c, &it, KV_T_ELEM, v->ver, key, klen, 0) != 0) goto out;
            open = 1;
        }
        r = kv_iter_next(&it, &m, &mlen, &val, &vlen);
        if (r < 0) goto out;
        if (r == 0) break;
        if (mbuf_set(c, &last, m, mlen) != 0 || take(c, t, &it, m, mlen) != 0) goto out;
        have_last = 1;
    }
    if (open) kv_iter_close(&it);
    open = 0;
    /* The points ran past the last member: the rest are the first members
     * not taken yet (a popped one is gone; SRANDMEMBER skips its list,
     * which is in the same order). */
    if (i < count) {
        size_t skip = 0;
        if (kv_iter_open(c, &it, KV_T_ELEM, v->ver, NULL, 0, 0) != 0) goto out;
        open = 1;
        while (t->taken < count && (r = kv_iter_next(&it, &m, &mlen, &val, &vlen)) == 1) {
            if (t->list && skip < t->nlist && t->list[skip].len == mlen &&
                memcmp(t->list[skip].p, m, mlen) == 0) {
                skip++;
                continue;
            }
            if (take(c, t, &it, m, mlen) != 0) goto out;
        }
        if (c->rc == 0 && t->taken < count) c->rc = KV_ECORRUPT;
        if (c->rc) goto out;
    }
    rc = 0;
out:
    if (open) kv_iter_close(&it);
    free(last.p);
    free(pts);
    return rc;
}

/* ------------------------------------------------------------ commands */

/* Redis's events for members leaving key: event, then "del" once the set
 * is gone. */
static void emptied(kv_ctx *c, const char *event, const char *key, size_t keylen, const kv_val *v)
{
    kv_notify(c, KV_NOTIFY_SET, event, key, keylen);
    if (v->count == 0) kv_notify(c, KV_NOTIFY_GENERIC, "del", key, keylen);
}

static void kvx_sadd(ARGS)
{
    kv_val v;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_SET, &v);
    if (found < 0) return;
    if (!found && kv_coll_new(c, KV_TYPE_SET, KV_ENC_INTSET, &v) != 0) return;
    long long added = 0;
    for (int j = 2; j < argc; j++) {
        int r = set_add(c, &v, argv[j], argvlen[j]);
        if (r < 0) return;
        added += r;
    }
    if (added) {
        if (kv_coll_save(c, argv[1], argvlen[1], &v) != 0) return;
        kv_notify(c, KV_NOTIFY_SET, "sadd", argv[1], argvlen[1]);
    }
    resp_add_int(c->reply, added);
}

static void kvx_srem(ARGS)
{
    kv_val v;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_SET, &v);
    if (found <= 0) {
        if (found == 0) resp_add_int(c->reply, 0);
        return;
    }
    long long removed = 0;
    for (int j = 2; j < argc && v.count > 0; j++) {
        int r = kv_elem_del(c, v.ver, argv[j], argvlen[j]);
        if (r < 0) return;
        removed += r;
        v.count -= (uint64_t)r;
    }
    if (removed) {
        if (kv_coll_save(c, argv[1], argvlen[1], &v) != 0) return;
        emptied(c, "srem", argv[1], argvlen[1], &v);
    }
    resp_add_int(c->reply, removed);
}

static void kvx_scard(ARGS)
{
    kv_val v;
    UNUSED_ARGS;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_SET, &v);
    if (found >= 0) resp_add_int(c->reply, found ? (int64_t)v.count : 0);
}

static int is_member(kv_ctx *c, const kv_val *v, const char *m, size_t mlen)
{
    const char *val;
    size_t vlen;
    return kv_elem_get(c, v->ver, m, mlen, &val, &vlen);
}

static void kvx_sismember(ARGS)
{
    kv_val v;
    UNUSED_ARGS;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_SET, &v);
    if (found < 0) return;
    int r = found ? is_member(c, &v, argv[2], argvlen[2]) : 0;
    if (r >= 0) resp_add_int(c->reply, r);
}

static void kvx_smismember(ARGS)
{
    kv_val v;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_SET, &v);
    if (found < 0) return;
    resp_add_array(c->reply, argc - 2);
    for (int j = 2; j < argc; j++) {
        int r = found ? is_member(c, &v, argv[j], argvlen[j]) : 0;
        if (r < 0) return;
        resp_add_int(c->reply, r);
    }
}

/* Replies every member of v (as a set or an array), streamed. */
static void reply_all(kv_ctx *c, const kv_val *v, int as_set)
{
    kv_iter it;
    const char *m, *val;
    size_t mlen, vlen;
    uint64_t n = 0;
    int r;
    if (as_set)
        resp_add_set(c->reply, (int64_t)v->count);
    else
        resp_add_array(c->reply, (int64_t)v->count);
    if (kv_iter_open(c, &it, KV_T_ELEM, v->ver, NULL, 0, 0) != 0) return;
    while (n < v->count && (r = kv_iter_next(&it, &m, &mlen, &val, &vlen)) == 1) {
        resp_add_bulk(c->reply, m, mlen);
        n++;
    }
    kv_iter_close(&it);
    if (c->rc == 0 && n != v->count) c->rc = KV_ECORRUPT;
}

static void kvx_smembers(ARGS)
{
    kv_val v;
    UNUSED_ARGS;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_SET, &v);
    if (found < 0) return;
    if (!found)
        resp_add_set(c->reply, 0);
    else
        reply_all(c, &v, 1);
}

#define ERR_RANGE_POSITIVE "ERR value is out of range, must be positive"
#define ERR_SRAND_RANGE                                                                            \
    "ERR value is out of range, value must between -9223372036854775807 and "                      \
    "9223372036854775807"

static void kvx_srandmember(ARGS)
{
    kv_val v;
    long long l = 0;
    if (argc > 3) {
        resp_add_error(c->reply, ERR_SYNTAX);
        return;
    }
    if (argc == 3) {
        if (kv_getll(argv[2], argvlen[2], &l, c->reply) != 0) return;
        if (l == LLONG_MIN) {
            resp_add_error(c->reply, ERR_SRAND_RANGE);
            return;
        }
    }
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_SET, &v);
    if (found < 0) return;
    if (argc == 2) {
        picker p;
        const char *m;
        size_t mlen;
        if (!found) {
            resp_add_null(c->reply);
            return;
        }
        if (picker_init(c, &v, &p) == 0 && pick_one(c, &p, &m, &mlen) == 1)
            resp_add_bulk(c->reply, m, mlen);
        picker_close(&p);
        return;
    }
    if (!found || l == 0) {
        resp_add_array(c->reply, 0);
        return;
    }
    if (l < 0) {
        /* -count independent picks, repeats allowed. */
        picker p;
        if (picker_init(c, &v, &p) != 0) return;
        resp_add_array(c->reply, -l);
        for (long long i = 0; i < -l; i++) {
            const char *m;
            size_t mlen;
            if (pick_one(c, &p, &m, &mlen) != 1) break;
            resp_add_bulk(c->reply, m, mlen);
        }
        picker_close(&p);
        return;
    }
    uint64_t count = (uint64_t)l;
    if (count >= v.count) {
        reply_all(c, &v, 0);
        return;
    }
    taker t = {0};
    t.list = kv_calloc(count, sizeof(mbuf));
    if (!t.list) {
        kvx_oom(c);
        return;
    }
    resp_add_array(c->reply, (int64_t)count);
    sample_distinct(c, &v, count, count * 3 > v.count, &t);
    for (size_t i = 0; i < t.nlist; i++)
        free(t.list[i].p);
    free(t.list);
}

/* SPOP's optional count: positive, and no more arguments. */
static int spop_count(int argc, char **argv, size_t *argvlen, long long *count, resp_buf *err)
{
    *count = -1;
    if (argc > 3) {
        resp_add_error(err, ERR_SYNTAX);
        return -1;
    }
    if (argc == 3 && (!kv_string2ll(argv[2], argvlen[2], count) || *count < 0)) {
        resp_add_error(err, ERR_RANGE_POSITIVE);
        return -1;
    }
    return 0;
}

KV_CHECK(ck_spop)
{
    long long count;
    return spop_count(argc, argv, argvlen, &count, err);
}

static void kvx_spop(ARGS)
{
    kv_val v;
    long long l;
    if (spop_count(argc, argv, argvlen, &l, c->reply) != 0) return;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_SET, &v);
    if (found < 0) return;
    if (l < 0) {
        /* One member. */
        picker p;
        const char *m;
        size_t mlen;
        mbuf copy = {0};
        if (!found) {
            resp_add_null(c->reply);
            return;
        }
        if (picker_init(c, &v, &p) != 0 || pick_one(c, &p, &m, &mlen) != 1) {
            picker_close(&p);
            return;
        }
        int rc = mbuf_set(c, &copy, m, mlen);
        if (rc == 0) rc = kv_iter_del_current(&p.it);
        picker_close(&p);
        v.count--;
        if (rc == 0 && kv_coll_save(c, argv[1], argvlen[1], &v) == 0) {
            emptied(c, "spop", argv[1], argvlen[1], &v);
            resp_add_bulk(c->reply, copy.p, copy.len);
        }
        free(copy.p);
        return;
    }
    if (!found || l == 0) {
        resp_add_set(c->reply, 0);
        return;
    }
    uint64_t count = (uint64_t)l;
    if (count >= v.count) {
        /* The whole set: reply it, then drop the key. */
        reply_all(c, &v, 1);
        if (c->rc == 0 && kv_delete(c, argv[1], argvlen[1]) >= 0) {
            v.count = 0;
            emptied(c, "spop", argv[1], argvlen[1], &v);
        }
        return;
    }
    taker t = {0};
    t.pop = 1;
    resp_add_set(c->reply, (int64_t)count);
    if (sample_distinct(c, &v, count, count * 5 > v.count, &t) != 0) return;
    v.count -= count;
    if (kv_coll_save(c, argv[1], argvlen[1], &v) == 0) emptied(c, "spop", argv[1], argvlen[1], &v);
}

static void kvx_smove(ARGS)
{
    kv_val src, dst;
    UNUSED_ARGS;
    int sf = kv_lookup(c, argv[1], argvlen[1], &src);
    if (sf < 0) return;
    int df = kv_lookup(c, argv[2], argvlen[2], &dst);
    if (df < 0) return;
    if (!sf) {
        resp_add_int(c->reply, 0);
        return;
    }
    if (src.type != KV_TYPE_SET || (df && dst.type != KV_TYPE_SET)) {
        resp_add_error(c->reply, ERR_WRONGTYPE);
        return;
    }
    if (same_key(argv, argvlen, 1, 2)) {
        int r = is_member(c, &src, argv[3], argvlen[3]);
        if (r >= 0) resp_add_int(c->reply, r);
        return;
    }
    int r = kv_elem_del(c, src.ver, argv[3], argvlen[3]);
    if (r <= 0) {
        if (r == 0) resp_add_int(c->reply, 0);
        return;
    }
    src.count--;
    if (kv_coll_save(c, argv[1], argvlen[1], &src) != 0) return;
    emptied(c, "srem", argv[1], argvlen[1], &src);
    if (!df && kv_coll_new(c, KV_TYPE_SET, KV_ENC_INTSET, &dst) != 0) return;
    if ((r = set_add(c, &dst, argv[3], argvlen[3])) < 0) return;
    if (r) {
        if (kv_coll_save(c, argv[2], argvlen[2], &dst) != 0) return;
        kv_notify(c, KV_NOTIFY_SET, "sadd", argv[2], argvlen[2]);
    }
    resp_add_int(c->reply, 1);
}

/* ------------------------------------------------------------ algebra */

enum { OP_REPLY, OP_CARD, OP_STORE };
enum { OP_INTER, OP_UNION, OP_DIFF };

/* Where the members of an operation go: the reply (a set of a length
 * known at the end), a count (SINTERCARD, up to limit), or a new set
 * stored under a key. */
typedef struct sink {
    int mode;
    uint64_t n, limit;
    size_t mark;
    kv_val dst;
    mbuf copy;
    const char *event; /* OP_STORE: "sinterstore", "sunionstore", "sdiffstore" */
} sink;

static int sink_open(kv_ctx *c, sink *s, int mode, uint64_t limit)
{
    memset(s, 0, sizeof(*s));
    s->mode = mode;
    s->limit = limit;
    if (mode == OP_REPLY) s->mark = resp_add_deferred(c->reply);
    if (mode == OP_STORE) return kv_coll_new(c, KV_TYPE_SET, KV_ENC_INTSET, &s->dst);
    return 0;
}

/* 1: more wanted, 0: enough (SINTERCARD's limit), -1: error. */
static int sink_put(kv_ctx *c, sink *s, const char *m, size_t mlen)
{
    switch (s->mode) {
    case OP_REPLY:
        resp_add_bulk(c->reply, m, mlen);
        s->n++;
        return 1;
    case OP_CARD:
        s->n++;
        return s->limit == 0 || s->n < s->limit;
    default:
        if (mbuf_set(c, &s->copy, m, mlen) != 0) return -1;
        int r = set_add(c, &s->dst, s->copy.p, s->copy.len);
        if (r < 0) return -1;
        s->n += (uint64_t)r;
        return 1;
    }
}

/* Finishes the reply: the set, the count, or the stored set's size (an
 * empty result deletes dst, as Redis does). */
static void sink_close(kv_ctx *c, sink *s, const char *dst, size_t dstlen)
{
    free(s->copy.p);
    if (c->rc) return;
    switch (s->mode) {
    case OP_REPLY:
        resp_set_deferred_set(c->reply, s->mark, (int64_t)s->n);
        break;
    case OP_CARD:
        resp_add_int(c->reply, (int64_t)s->n);
        break;
    default:
        if (s->dst.count == 0) {
            int r = kv_delete(c, dst, dstlen);
            if (r < 0) return;
            if (r == 1) kv_notify(c, KV_NOTIFY_GENERIC, "del", dst, dstlen);
        } else if (kv_coll_save(c, dst, dstlen, &s->dst) != 0) {
            return;
        } else {
            kv_notify(c, KV_NOTIFY_SET, s->event, dst, dstlen);
        }
        resp_add_int(c->reply, (int64_t)s->dst.count);
    }
}

/* The members of the intersection: the smallest set's members found in
 * every other one. */
static int do_inter(kv_ctx *c, kv_val *sets, int n, sink *s)
{
    int small = 0;
    for (int j = 1; j < n; j++)
        if (sets[j].count < sets[small].count) small = j;
    kv_iter it;
    const char *m, *val;
    size_t mlen, vlen;
    int r, more = 1;
    if (kv_iter_open(c, &it, KV_T_ELEM, sets[small].ver, NULL, 0, 0) != 0) return -1;
    while (more > 0 && (r = kv_iter_next(&it, &m, &mlen, &val, &vlen)) == 1) {
        int in = 1;
        for (int j = 0; j < n && in == 1; j++)
            if (sets[j].ver != sets[small].ver) in = is_member(c, &sets[j], m, mlen);
        if (in < 0) break;
        if (in) more = sink_put(c, s, m, mlen);
    }
    kv_iter_close(&it);
    return c->rc ? -1 : 0;
}

/* The members of the first set in no other one. */
static int do_diff(kv_ctx *c, kv_val *sets, int n, sink *s)
{
    for (int j = 1; j < n; j++)
        if (sets[j].found && sets[j].ver == sets[0].ver) return 0; /* A - A */
    kv_iter it;
    const char *m, *val;
    size_t mlen, vlen;
    int r;
    if (kv_iter_open(c, &it, KV_T_ELEM, sets[0].ver, NULL, 0, 0) != 0) return -1;
    while ((r = kv_iter_next(&it, &m, &mlen, &val, &vlen)) == 1) {
        int in = 0;
        for (int j = 1; j < n && in == 0; j++)
            if (sets[j].found) in = is_member(c, &sets[j], m, mlen);
        if (in < 0) break;
        if (!in && sink_put(c, s, m, mlen) < 0) break;
    }
    kv_iter_close(&it);
    return c->rc ? -1 : 0;
}

/* The union: a merge of the sets' iterators, which all run in the same
 * order, so each member comes once and nothing is materialized. Each
 * iterator's current member is copied, as storing writes. */
static int do_union(kv_ctx *c, kv_val *sets, int n, sink *s)
{
    kv_iter *its = kv_calloc((size_t)n, sizeof(kv_iter));
    mbuf *cur = kv_calloc((size_t)n, sizeof(mbuf));
    int *live = kv_calloc((size_t)n, sizeof(int));
    int k = 0, rc = -1;
    const char *m, *val;
    size_t mlen, vlen;
    if (!its || !cur || !live) {
        kvx_oom(c);
        goto out;
    }
    for (int j = 0; j < n; j++) {
        if (!sets[j].found) continue;
        int dup = 0;
        for (int i = 0; i < j; i++)
            if (sets[i].found && sets[i].ver == sets[j].ver) dup = 1;
        if (dup) continue;
        if (kv_iter_open(c, &its[k], KV_T_ELEM, sets[j].ver, NULL, 0, 0) != 0) goto out;
        int r = kv_iter_next(&its[k], &m, &mlen, &val, &vlen);
        live[k] = r == 1;
        k++;
        if (r < 0 || (r == 1 && mbuf_set(c, &cur[k - 1], m, mlen) != 0)) goto out;
    }
    for (;;) {
        int min = -1;
        for (int i = 0; i < k; i++)
            if (live[i] &&
                (min < 0 || elem_cmp(cur[i].p, cur[i].len, cur[min].p, cur[min].len) < 0))
                min = i;
        if (min < 0) break;
        if (sink_put(c, s, cur[min].p, cur[min].len) < 0) goto out;
        /* Advance every iterator standing on that member, min last. */
        for (int i = 0; i < k; i++) {
            if (i == min || !live[i] || cur[i].len != cur[min].len ||
                memcmp(cur[i].p, cur[min].p, cur[i].len) != 0)
                continue;
            int r = kv_iter_next(&its[i], &m, &mlen, &val, &vlen);
            live[i] = r == 1;
            if (r < 0 || (r == 1 && mbuf_set(c, &cur[i], m, mlen) != 0)) goto out;
        }
        int r = kv_iter_next(&its[min], &m, &mlen, &val, &vlen);
        live[min] = r == 1;
        if (r < 0 || (r == 1 && mbuf_set(c, &cur[min], m, mlen) != 0)) goto out;
    }
    rc = 0;
out:
    for (int i = 0; its && i < k; i++)
        kv_iter_close(&its[i]);
    for (int i = 0; cur && i < n; i++)
        free(cur[i].p);
    free(its);
    free(cur);
    free(live);
    return rc;
}

/* SINTER/SUNION/SDIFF and their STORE forms and SINTERCARD: the keys are
 * argv[first .. first + n), dst (STORE) the key to write. */
static void set_op(kv_ctx *c, char **argv, size_t *argvlen, int first, int n, int op, int mode,
                   uint64_t limit, int dst)
{
    kv_val *sets = kv_calloc((size_t)n, sizeof(kv_val));
    int missing = 0;
    sink s;
    if (!sets) {
        kvx_oom(c);
        return;
    }
    for (int j = 0; j < n; j++) {
        int r = kv_lookup_type(c, argv[first + j], argvlen[first + j], KV_TYPE_SET, &sets[j]);
        if (r < 0) goto out;
        if (r == 0) missing++;
    }
    if (sink_open(c, &s, mode, limit) != 0) goto out;
    s.event = op == OP_INTER ? "sinterstore" : op == OP_UNION ? "sunionstore" : "sdiffstore";
    if ((op == OP_INTER && missing == 0) || (op == OP_DIFF && sets[0].found)) {
        if ((op == OP_INTER ? do_inter(c, sets, n, &s) : do_diff(c, sets, n, &s)) != 0) {
            free(s.copy.p);
            goto out;
        }
    } else if (op == OP_UNION && do_union(c, sets, n, &s) != 0) {
        free(s.copy.p);
        goto out;
    }
    sink_close(c, &s, dst ? argv[dst] : NULL, dst ? argvlen[dst] : 0);
out:
    free(sets);
}

static void kvx_sinter(ARGS)
{
    set_op(c, argv, argvlen, 1, argc - 1, OP_INTER, OP_REPLY, 0, 0);
}

static void kvx_sinterstore(ARGS)
{
    set_op(c, argv, argvlen, 2, argc - 2, OP_INTER, OP_STORE, 0, 1);
}

static void kvx_sunion(ARGS)
{
    set_op(c, argv, argvlen, 1, argc - 1, OP_UNION, OP_REPLY, 0, 0);
}

static void kvx_sunionstore(ARGS)
{
    set_op(c, argv, argvlen, 2, argc - 2, OP_UNION, OP_STORE, 0, 1);
}

static void kvx_sdiff(ARGS)
{
    set_op(c, argv, argvlen, 1, argc - 1, OP_DIFF, OP_REPLY, 0, 0);
}

static void kvx_sdiffstore(ARGS)
{
    set_op(c, argv, argvlen, 2, argc - 2, OP_DIFF, OP_STORE, 0, 1);
}

/* SINTERCARD numkeys key [key ...] [LIMIT limit]. */
static int sintercard_args(int argc, char **argv, size_t *argvlen, long long *numkeys,
                           long long *limit, resp_buf *err)
{
    if (!kv_string2ll(argv[1], argvlen[1], numkeys) || *numkeys < 1) {
        resp_add_error(err, "ERR numkeys should be greater than 0");
        return -1;
    }
    if (*numkeys > (long long)argc - 2) {
        resp_add_error(err, "ERR Number of keys can't be greater than number of args");
        return -1;
    }
    *limit = 0;
    for (int j = 2 + (int)*numkeys; j < argc; j++) {
        if (kv_streqci(argv[j], argvlen[j], "limit") && j + 1 < argc) {
            if (!kv_string2ll(argv[j + 1], argvlen[j + 1], limit) || *limit < 0) {
                resp_add_error(err, "ERR LIMIT can't be negative");
                return -1;
            }
            j++;
        } else {
            resp_add_error(err, ERR_SYNTAX);
            return -1;
        }
    }
    return 0;
}

KV_CHECK(ck_sintercard)
{
    long long numkeys, limit;
    return sintercard_args(argc, argv, argvlen, &numkeys, &limit, err);
}

static void kvx_sintercard(ARGS)
{
    long long numkeys, limit;
    if (sintercard_args(argc, argv, argvlen, &numkeys, &limit, c->reply) != 0) return;
    set_op(c, argv, argvlen, 2, (int)numkeys, OP_INTER, OP_CARD, (uint64_t)limit, 0);
}

/* ------------------------------------------------------------ SSCAN */

/* Redis's parseScanCursorOrReply: strtoul over the whole argument. */
static int sscan_emit(kv_ctx *c, resp_buf *out, const char *f, size_t flen, const char *val,
                      size_t vlen)
{
    (void)c, (void)val, (void)vlen;
    resp_add_bulk(out, f, flen);
    return 1;
}

static void kvx_sscan(ARGS)
{
    kv_val v;
    unsigned long long cursor;
    long long count = 10;
    const char *pat = NULL;
    size_t patlen = 0;

    if (kv_scan_cursor(argv[2], &cursor, c->reply) != 0) return;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_SET, &v);
    if (found < 0) return;
    if (!found) {
        kv_scan_reply_empty(c->reply);
        return;
    }
    if (kv_scan_opts(argc, argv, argvlen, 3, 0, &count, &pat, &patlen, NULL, NULL, c->reply) != 0)
        return;

    kv_scan_elements(c, &v, KV_T_ELEM, v.enc == KV_ENC_INTSET, cursor, count, pat, patlen,
                     sscan_emit);
}

/* ------------------------------------------------------------ table */

#define W KV_CMD_WRITE
#define R KV_CMD_READONLY
#define F KV_CMD_FAST
#define D KV_CMD_DENYOOM
/* clang-format off */
const kv_command kvx_set_commands[] = {
    {"sadd", -3, W | D | F, 1, 1, 1, NULL, kvx_sadd, "set", "1.0.0", "Add one or more members to a set"},
    {"srem", -3, W | F, 1, 1, 1, NULL, kvx_srem, "set", "1.0.0", "Remove one or more members from a set"},
    {"scard", 2, R | F, 1, 1, 1, NULL, kvx_scard, "set", "1.0.0", "Get the number of members in a set"},
    {"sismember", 3, R | F, 1, 1, 1, NULL, kvx_sismember, "set", "1.0.0", "Determine if a given value is a member of a set"},
    {"smismember", -3, R | F, 1, 1, 1, NULL, kvx_smismember, "set", "6.2.0", "Returns the membership associated with the given elements for a set"},
    {"smembers", 2, R, 1, 1, 1, NULL, kvx_smembers, "set", "1.0.0", "Get all the members in a set"},
    {"srandmember", -2, R, 1, 1, 1, NULL, kvx_srandmember, "set", "1.0.0", "Get one or multiple random members from a set"},
    {"spop", -2, W | F, 1, 1, 1, ck_spop, kvx_spop, "set", "1.0.0", "Remove and return one or multiple random members from a set"},
    {"smove", 4, W | F, 1, 2, 1, NULL, kvx_smove, "set", "1.0.0", "Move a member from one set to another"},
    {"sinter", -2, R, 1, -1, 1, NULL, kvx_sinter, "set", "1.0.0", "Intersect multiple sets"},
    {"sintercard", -3, R, 0, 0, 0, ck_sintercard, kvx_sintercard, "set", "7.0.0", "Intersect multiple sets and return the cardinality of the result"},
    {"sinterstore", -3, W | D, 1, -1, 1, NULL, kvx_sinterstore, "set", "1.0.0", "Intersect multiple sets and store the resulting set in a key"},
    {"sunion", -2, R, 1, -1, 1, NULL, kvx_sunion, "set", "1.0.0", "Add multiple sets"},
    {"sunionstore", -3, W | D, 1, -1, 1, NULL, kvx_sunionstore, "set", "1.0.0", "Add multiple sets and store the resulting set in a key"},
    {"sdiff", -2, R, 1, -1, 1, NULL, kvx_sdiff, "set", "1.0.0", "Subtract multiple sets"},
    {"sdiffstore", -3, W | D, 1, -1, 1, NULL, kvx_sdiffstore, "set", "1.0.0", "Subtract multiple sets and store the resulting set in a key"},
    {"sscan", -3, R, 1, 1, 1, NULL, kvx_sscan, "set", "2.8.0", "Incrementally iterate Set elements"},
};
/* clang-format on */
#undef W
#undef R
#undef F
#undef D
const size_t kvx_set_ncommands = sizeof(kvx_set_commands) / sizeof(kvx_set_commands[0]);
