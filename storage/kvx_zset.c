/* kvx_zset.c -- the zset commands (Redis's t_zset.c), on the typed key space
 * (kvks.h).
 *
 * A member lives twice: in the element table (member -> its score, 8
 * bytes) and in the score index ((score, member) -> empty). Every change
 * writes both, so a member is found by name in O(log n) and a score range
 * is a seek and a walk.
 *
 * Ranks have no index: ZRANK, ZRANGE by index, ZREMRANGEBYRANK and ZCOUNT
 * walk the score index from the nearer end, O(min(rank, n - rank)) where
 * Redis is O(log n).
 *
 * Lex ranges assume, as Redis does, that the members share one score: then
 * the walk starts at a seek. With mixed scores Redis's answer depends on
 * its encoding; this is its listpack's (a linear walk in score order).
 *
 * ZSCAN: a listpack-sized zset is returned whole with cursor 0, in score
 * order, as Redis does. A larger one is walked in member order; the cursor
 * is the next member's first 8 bytes (big-endian, zero-padded), and a batch
 * ends only where those change, so a scan returns every member present
 * throughout exactly once, but members sharing their first 8 bytes come in
 * one batch whatever COUNT says.
 *
 * Scores are replied as Redis 7.0 does (addReplyDouble: "%.17g", inf and
 * -inf spelled out; RESP3 doubles). -0 is kept as Redis keeps it: a
 * listpack stores 0, a skiplist the double (zenc).
 *
 * OBJECT ENCODING follows Redis's thresholds: listpack while the zset has
 * at most 128 members of at most 64 bytes, then skiplist for good.
 *
 * Members longer than KV_ELEM_INLINE bytes are ordered, among equal scores,
 * by their stored form (first bytes, then a hash), not by all their bytes.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/kvcmd.h"
#include "storage/kvcmd_int.h"
#include "storage/kverr.h"
#include "storage/kvint.h"
#include "storage/kvks.h"

#define ZSET_LP_ENTRIES 128
#define ZSET_LP_VALUE 64
/* The most members ZRANDMEMBER with a negative count returns. */
#define ZRAND_MAX_REPEATS (1 << 22)

#define ERR_MINMAX "ERR min or max is not a float"
#define ERR_LEXRANGE "ERR min or max not valid string range item"
#define ERR_NAN "ERR resulting score is not a number (NaN)"

/* ------------------------------------------------------------ parsing */

/* Redis's getDoubleFromObject: the whole argument, no leading space, no
 * overflow, no NaN (inf, -inf and hex floats are accepted, as strtod
 * takes them). */
static int parse_double(const char *s, size_t n, double *d)
{
    char *eptr;
    if (n == 0 || s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r')) return -1;
    errno = 0;
    double v = strtod(s, &eptr);
    if ((size_t)(eptr - s) != n ||
        (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || fpclassify(v) == FP_ZERO)) ||
        isnan(v))
        return -1;
    *d = v;
    return 0;
}

typedef struct zrange {
    double min, max;
    int minex, maxex;
} zrange;

/* Redis's zslParseRange: "(" makes a bound exclusive; strtod up to the
 * argument's NUL (so "" is 0), NaN refused. */
static int parse_bound(const char *s, double *d, int *ex)
{
    char *eptr;
    *ex = s[0] == '(';
    if (*ex) s++;
    *d = strtod(s, &eptr);
    return eptr[0] != '\0' || isnan(*d) ? -1 : 0;
}

static int parse_range(const char *min, const char *max, zrange *r)
{
    if (parse_bound(min, &r->min, &r->minex) != 0 || parse_bound(max, &r->max, &r->maxex) != 0)
        return -1;
    return 0;
}

static int gte_min(double s, const zrange *r)
{
    return r->minex ? s > r->min : s >= r->min;
}

static int lte_max(double s, const zrange *r)
{
    return r->maxex ? s < r->max : s <= r->max;
}

/* A lex bound: "-" (before everything), "+" (after everything), or a
 * member with "[" (inclusive) or "(" (exclusive). */
enum { LEX_STR = 0, LEX_MINUS, LEX_PLUS };

typedef struct zlex {
    int mink, maxk;
    const char *min, *max;
    size_t minlen, maxlen;
    int minex, maxex;
} zlex;

static int parse_lex_item(const char *s, size_t n, int *kind, const char **p, size_t *len, int *ex)
{
    *p = NULL;
    *len = 0;
    *ex = 0;
    switch (n ? s[0] : 0) {
    case '+':
    case '-':
        if (n != 1) return -1;
        *kind = s[0] == '+' ? LEX_PLUS : LEX_MINUS;
        *ex = 1;
        return 0;
    case '(':
    case '[':
        *kind = LEX_STR;
        *ex = s[0] == '(';
        *p = s + 1;
        *len = n - 1;
        return 0;
    }
    return -1;
}

static int parse_lex(const char *min, size_t minlen, const char *max, size_t maxlen, zlex *r)
{
    if (parse_lex_item(min, minlen, &r->mink, &r->min, &r->minlen, &r->minex) != 0 ||
        parse_lex_item(max, maxlen, &r->maxk, &r->max, &r->maxlen, &r->maxex) != 0)
        return -1;
    return 0;
}

/* Redis's sdscmp: bytes, then length. */
static int cmplex(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c) return c;
    return alen < blen ? -1 : alen > blen;
}

static int lex_gte_min(const char *m, size_t n, const zlex *r)
{
    if (r->mink != LEX_STR) return r->mink == LEX_MINUS;
    int c = cmplex(m, n, r->min, r->minlen);
    return r->minex ? c > 0 : c >= 0;
}

static int lex_lte_max(const char *m, size_t n, const zlex *r)
{
    if (r->maxk != LEX_STR) return r->maxk == LEX_PLUS;
    int c = cmplex(m, n, r->max, r->maxlen);
    return r->maxex ? c < 0 : c <= 0;
}

/* Redis's getLongFromObjectOrReply with its message (NULL: the usual
 * "not an integer"). */
static int get_long(const char *s, size_t n, long long *v, const char *msg, resp_buf *err)
{
    if (!kv_string2ll(s, n, v)) {
        resp_add_error(err, msg ? msg : ERR_NOTINT);
        return -1;
    }
    return 0;
}

/* getRangeLongFromObjectOrReply. */
static int get_range_long(const char *s, size_t n, long long min, long long max, long long *v,
                          const char *msg, resp_buf *err)
{
    if (get_long(s, n, v, msg, err) != 0) return -1;
    if (*v < min || *v > max) {
        if (msg)
            resp_add_error(err, msg);
        else
            resp_add_errorf(err, "ERR value is out of range, value must between %lld and %lld", min,
                            max);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ members */

static int zscore_get(kv_ctx *c, const kv_val *v, const char *m, size_t mlen, double *score)
{
    const char *val;
    size_t vlen;
    int rc = kv_elem_get(c, v->ver, m, mlen, &val, &vlen);
    if (rc != 1) return rc;
    if (vlen != 8) {
        if (c->rc == 0) c->rc = KV_ECORRUPT;
        return -1;
    }
    *score = kv_score_dec((const unsigned char *)val);
    return 1;
}

/* A score's element record: a skiplist zset keeps -0 (Redis's skiplist
 * holds the double), a listpack one stores it as 0 (as Redis's listpack
 * does). kv_score_dec() reads either. */
static void zenc(const kv_val *v, double score, unsigned char out[8])
{
    if (score == 0 && signbit(score) && v->enc == KV_ENC_SKIPLIST)
        kv_put_be64(out, ~((uint64_t)1 << 63));
    else
        kv_score_enc(score, out);
}

/* Redis converts a listpack when an insert would pass either threshold. */
static void zadd_encoding(kv_val *v, size_t mlen)
{
    if (v->enc == KV_ENC_LISTPACK && (v->count + 1 > ZSET_LP_ENTRIES || mlen > ZSET_LP_VALUE))
        v->enc = KV_ENC_SKIPLIST;
}

/* A new member: both records, the count, and the encoding. */
static int zinsert(kv_ctx *c, kv_val *v, const char *m, size_t mlen, double score)
{
    unsigned char sb[8];
    zadd_encoding(v, mlen);
    zenc(v, score, sb);
    if (kv_elem_put(c, v->ver, m, mlen, sb, 8, NULL) != 0) return -1;
    if (kv_zidx_put(c, v->ver, score, m, mlen) != 0) return -1;
    v->count++;
    return 0;
}

static int zupdate(kv_ctx *c, kv_val *v, const char *m, size_t mlen, double old, double score)
{
    unsigned char sb[8];
    zenc(v, score, sb);
    if (kv_zidx_del(c, v->ver, old, m, mlen) != 0) return -1;
    if (kv_elem_put(c, v->ver, m, mlen, sb, 8, NULL) != 0) return -1;
    return kv_zidx_put(c, v->ver, score, m, mlen);
}

static int zremove(kv_ctx *c, kv_val *v, const char *m, size_t mlen, double score)
{
    if (kv_elem_del(c, v->ver, m, mlen) < 0) return -1;
    if (kv_zidx_del(c, v->ver, score, m, mlen) != 0) return -1;
    v->count--;
    return 0;
}

/* ------------------------------------------------------------ result lists */

typedef struct zitem {
    char *m;
    size_t mlen;
    double score;
} zitem;

typedef struct zlist {
    zitem *a;
    size_t n, cap;
    size_t maxlen; /* longest member */
} zlist;

static int zl_push(kv_ctx *c, zlist *l, const char *m, size_t mlen, double score)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        zitem *a = kv_malloc(cap * sizeof(*a));
        if (!a) goto oom;
        if (l->n) memcpy(a, l->a, l->n * sizeof(*a));
        free(l->a);
        l->a = a;
        l->cap = cap;
    }
    char *copy = kv_malloc(mlen ? mlen : 1);
    if (!copy) goto oom;
    if (mlen) memcpy(copy, m, mlen);
    l->a[l->n++] = (zitem){copy, mlen, score};
    if (mlen > l->maxlen) l->maxlen = mlen;
    return 0;
oom:
    kvx_oom(c);
    return -1;
}

static void zl_free(zlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->a[i].m);
    free(l->a);
    memset(l, 0, sizeof(*l));
}

static void zl_reverse(zlist *l)
{
    for (size_t i = 0, j = l->n; i + 1 < j; i++, j--) {
        zitem t = l->a[i];
        l->a[i] = l->a[j - 1];
        l->a[j - 1] = t;
    }
}

/* Redis's skiplist order: score, then member bytes. */
static int zitem_cmp(const void *x, const void *y)
{
    const zitem *a = x, *b = y;
    if (a->score < b->score) return -1;
    if (a->score > b->score) return 1;
    return cmplex(a->m, a->mlen, b->m, b->mlen);
}

/* An array of members, with scores when asked: RESP2 flat, RESP3 pairs. */
static void reply_list(kv_ctx *c, const zlist *l, int withscores)
{
    int pairs = withscores && c->reply->proto > 2;
    resp_add_array(c->reply, (int64_t)(withscores && !pairs ? 2 * l->n : l->n));
    for (size_t i = 0; i < l->n; i++) {
        if (pairs) resp_add_array(c->reply, 2);
        resp_add_bulk(c->reply, l->a[i].m, l->a[i].mlen);
        if (withscores) resp_add_double(c->reply, l->a[i].score);
    }
}

/* Stores l (sorted, distinct members) as a new zset under key, replacing
 * whatever was there (and its expiry); an empty l deletes key. Replies the
 * count. */
enum { STORE_WHOLE, STORE_SIZED, STORE_INSERTS };

/* Emits event once the zset is stored, or "del" when an empty result
 * deleted an existing key (Redis's zrangeResultFinalizeStore and
 * zunionInterDiffGenericCommand). */
static void store_list(kv_ctx *c, const char *key, size_t keylen, const zlist *l, int mode,
                       const char *event)
{
    kv_val v;
    if (l->n == 0) {
        int r = kv_delete(c, key, keylen);
        if (r == 1) kv_notify(c, KV_NOTIFY_GENERIC, "del", key, keylen);
        if (r >= 0 && c->rc == 0) resp_add_int(c->reply, 0);
        return;
    }
    /* How Redis builds the result decides where -0 survives (zenc).
     * ZUNIONSTORE and co. build a skiplist and convert the whole to a
     * listpack when it fits. ZRANGESTORE creates the zset for the number
     * of members it knows (by rank; by score or lex it knows none), then
     * inserts in order, converting when an insert passes a threshold. */
    int enc = KV_ENC_LISTPACK;
    if (mode == STORE_WHOLE && (l->n > ZSET_LP_ENTRIES || l->maxlen > ZSET_LP_VALUE))
        enc = KV_ENC_SKIPLIST;
    if (mode == STORE_SIZED && l->n > ZSET_LP_ENTRIES) enc = KV_ENC_SKIPLIST;
    if (kv_coll_new(c, KV_TYPE_ZSET, enc, &v) != 0) return;
    for (size_t i = 0; i < l->n; i++)
        if (zinsert(c, &v, l->a[i].m, l->a[i].mlen, l->a[i].score) != 0) return;
    if (kv_coll_save(c, key, keylen, &v) != 0) return;
    kv_notify(c, KV_NOTIFY_ZSET, event, key, keylen);
    if (c->rc == 0) resp_add_int(c->reply, (int64_t)l->n);
}

/* ------------------------------------------------------------ walking */

/* The next record of a walk. The score index holds -0 as 0; a skiplist
 * zset keeps -0 (Redis's skiplist stores the double), so a zero read from
 * the index of one is taken from the element table. */
static int iter_item(kv_iter *it, const kv_val *v, const char **m, size_t *mlen, double *score)
{
    const char *val;
    size_t vlen;
    int rc = kv_iter_next(it, m, mlen, &val, &vlen);
    if (rc != 1) return rc;
    if (vlen != 8) {
        if (it->c->rc == 0) it->c->rc = KV_ECORRUPT;
        return -1;
    }
    *score = kv_score_dec((const unsigned char *)val);
    if (*score == 0 && it->table == KV_T_ZIDX && v && v->enc == KV_ENC_SKIPLIST &&
        zscore_get(it->c, v, *m, *mlen, score) != 1)
        return -1;
    return 1;
}

/* A walk of the score index over a score range or a lex range, as Redis's
 * range functions do it: find the first member in range (reverse: the
 * last), skip offset members unchecked, then visit members while they are
 * within the other bound, up to limit (< 0: no limit). */
typedef int zvisit_fn(kv_ctx *c, void *arg, const char *m, size_t mlen, double score);

typedef struct zwalk {
    const zrange *score; /* one of score / lex */
    const zlex *lex;
    long long offset, limit;
    int reverse;
    const zitem *resume; /* forward only: continue after this (deleted) member, in range */
} zwalk;

static int in_first(const zwalk *w, const char *m, size_t mlen, double s)
{
    if (w->score) return w->reverse ? lte_max(s, w->score) : gte_min(s, w->score);
    return w->reverse ? lex_lte_max(m, mlen, w->lex) : lex_gte_min(m, mlen, w->lex);
}

static int in_last(const zwalk *w, const char *m, size_t mlen, double s)
{
    if (w->score) return w->reverse ? gte_min(s, w->score) : lte_max(s, w->score);
    return w->reverse ? lex_gte_min(m, mlen, w->lex) : lex_lte_max(m, mlen, w->lex);
}

/* Opens the score index at (score bytes, member), any member length. */
static int open_at(kv_ctx *c, kv_iter *it, const kv_val *v, const unsigned char score[8],
                   const char *m, size_t mlen, int reverse)
{
    unsigned char buf[8 + 64], *from = buf;
    if (8 + mlen > sizeof(buf) && !(from = kv_malloc(8 + mlen))) {
        kvx_oom(c);
        return -1;
    }
    memcpy(from, score, 8);
    if (mlen) memcpy(from + 8, m, mlen);
    int rc = kv_iter_open(c, it, KV_T_ZIDX, v->ver, from, 8 + mlen, reverse);
    if (from != buf) free(from);
    return rc;
}

/* The score of the first (last) record of the index, as its 8 bytes. */
static int edge_score(kv_ctx *c, const kv_val *v, int last, unsigned char out[8], const char **m,
                      size_t *mlen, char **copy)
{
    kv_iter it;
    const char *val;
    size_t vlen;
    if (kv_iter_open(c, &it, KV_T_ZIDX, v->ver, NULL, 0, last) != 0) return -1;
    int rc = kv_iter_next(&it, m, mlen, &val, &vlen);
    if (rc == 1 && vlen == 8) {
        memcpy(out, val, 8);
        *copy = kv_malloc(*mlen ? *mlen : 1);
        if (!*copy) {
            kvx_oom(c);
            rc = -1;
        } else {
            memcpy(*copy, *m, *mlen);
            *m = *copy;
        }
    } else if (rc == 1) {
        c->rc = c->rc ? c->rc : KV_ECORRUPT;
        rc = -1;
    }
    kv_iter_close(&it);
    return rc;
}

/* Positions it for a lex walk. Redis's lex ranges assume one score; when
 * the first and last members share it, the range starts at a seek. With
 * mixed scores the walk is Redis's listpack one: linear, in score order,
 * from the end (after the same emptiness test on the end members). Returns
 * 1 when the range is empty, 0 opened, -1 error. */
static int open_lex(kv_ctx *c, kv_iter *it, const kv_val *v, const zlex *r, int reverse)
{
    unsigned char lo[8], hi[8];
    const char *fm, *lm;
    size_t fmlen, lmlen;
    char *fcopy = NULL, *lcopy = NULL;
    int rc = 1;
    if (r->mink == LEX_PLUS || r->maxk == LEX_MINUS) return 1;
    if (r->mink == LEX_STR && r->maxk == LEX_STR) {
        int cmp = cmplex(r->min, r->minlen, r->max, r->maxlen);
        if (cmp > 0 || (cmp == 0 && (r->minex || r->maxex))) return 1;
    }
    if (edge_score(c, v, 0, lo, &fm, &fmlen, &fcopy) != 1) goto out;
    if (edge_score(c, v, 1, hi, &lm, &lmlen, &lcopy) != 1) goto out;
    if (!lex_gte_min(lm, lmlen, r) || !lex_lte_max(fm, fmlen, r)) goto out;
    rc = -1;
    const char *b = reverse ? r->max : r->min;
    size_t blen = reverse ? r->maxlen : r->minlen;
    int kind = reverse ? r->maxk : r->mink;
    if (memcmp(lo, hi, 8) == 0 && kind == LEX_STR) {
        if (open_at(c, it, v, lo, b, blen, reverse) == 0) rc = 0;
    } else if (kv_iter_open(c, it, KV_T_ZIDX, v->ver, NULL, 0, reverse) == 0) {
        rc = 0;
    }
out:
    free(fcopy);
    free(lcopy);
    return c->rc ? -1 : rc;
}

/* Opens the score index at the first member of r (reverse: the last). 1
 * when r is empty. */
static int open_score(kv_ctx *c, kv_iter *it, const kv_val *v, const zrange *r, int reverse)
{
    unsigned char from[8];
    if (r->min > r->max || (r->min == r->max && (r->minex || r->maxex))) return 1;
    if (!reverse) {
        double s = r->min;
        if (r->minex) s = nextafter(s, INFINITY);
        if (s == -INFINITY) return kv_iter_open(c, it, KV_T_ZIDX, v->ver, NULL, 0, 0);
        kv_score_enc(s, from);
        return kv_iter_open(c, it, KV_T_ZIDX, v->ver, from, 8, 0);
    }
    /* The last record <= (s, "") has a score < s (or is exactly (s, "")). */
    double s = r->max;
    if (!r->maxex) {
        if (s == INFINITY) return kv_iter_open(c, it, KV_T_ZIDX, v->ver, NULL, 0, 1);
        s = nextafter(s, INFINITY);
    }
    kv_score_enc(s, from);
    return kv_iter_open(c, it, KV_T_ZIDX, v->ver, from, 8, 1);
}

/* Returns the number of members visited, or -1. */
static long long walk(kv_ctx *c, const kv_val *v, const zwalk *w, zvisit_fn *fn, void *arg)
{
    kv_iter it;
    const char *m;
    size_t mlen;
    double s = 0;
    long long n = 0, offset = w->offset, limit = w->limit;
    int rc, started = 0;
    if (w->resume) {
        unsigned char sb[8];
        kv_score_enc(w->resume->score, sb);
        rc = open_at(c, &it, v, sb, w->resume->m, w->resume->mlen, 0);
        started = 1;
    } else {
        rc = w->score ? open_score(c, &it, v, w->score, w->reverse)
                      : open_lex(c, &it, v, w->lex, w->reverse);
    }
    if (rc != 0) return rc < 0 ? -1 : 0;
    while (limit != 0 && (rc = iter_item(&it, v, &m, &mlen, &s)) == 1) {
        if (!started) {
            if (!in_first(w, m, mlen, s)) continue;
            started = 1;
            /* Redis's zslFirstIn*Range / zzlFirstIn*Range: the first member
             * past the start must also be before the end, or the range is
             * empty, whatever an offset would skip (mixed-score lex ranges). */
            if (!in_last(w, m, mlen, s)) break;
        }
        if (offset > 0) {
            offset--;
            continue;
        }
        if (!in_last(w, m, mlen, s)) break;
        if (fn && fn(c, arg, m, mlen, s) != 0) {
            rc = -1;
            break;
        }
        n++;
        if (limit > 0) limit--;
    }
    kv_iter_close(&it);
    return rc < 0 || c->rc ? -1 : n;
}

static long long walk_score(kv_ctx *c, const kv_val *v, const zrange *r, long long offset,
                            long long limit, int reverse, zvisit_fn *fn, void *arg)
{
    zwalk w = {r, NULL, offset, limit, reverse, NULL};
    return walk(c, v, &w, fn, arg);
}

static long long walk_lex(kv_ctx *c, const kv_val *v, const zlex *r, long long offset,
                          long long limit, int reverse, zvisit_fn *fn, void *arg)
{
    zwalk w = {NULL, r, offset, limit, reverse, NULL};
    return walk(c, v, &w, fn, arg);
}

static int visit_push(kv_ctx *c, void *arg, const char *m, size_t mlen, double score)
{
    return zl_push(c, arg, m, mlen, score);
}

/* Members of forward ranks [fs, fe] (0 <= fs <= fe < count) into l, in
 * forward order, walking from the nearer end. */
static int collect_ranks(kv_ctx *c, const kv_val *v, long long fs, long long fe, zlist *l)
{
    kv_iter it;
    const char *m;
    size_t mlen;
    double s = 0;
    long long n = (long long)v->count;
    int back = n - 1 - fe < fs;
    long long skip = back ? n - 1 - fe : fs, want = fe - fs + 1;
    if (kv_iter_open(c, &it, KV_T_ZIDX, v->ver, NULL, 0, back) != 0) return -1;
    while (want > 0 && iter_item(&it, v, &m, &mlen, &s) == 1) {
        if (skip > 0) {
            skip--;
            continue;
        }
        if (zl_push(c, l, m, mlen, s) != 0) break;
        want--;
    }
    kv_iter_close(&it);
    if (c->rc) return -1;
    if (back) zl_reverse(l);
    return 0;
}

/* The k members after (from->score, from->m) into l, in order. */
static int collect_after(kv_ctx *c, const kv_val *v, const zitem *from, long long k, zlist *l)
{
    kv_iter it;
    const char *m;
    size_t mlen;
    double s = 0;
    unsigned char sb[8];
    kv_score_enc(from->score, sb);
    if (open_at(c, &it, v, sb, from->m, from->mlen, 0) != 0) return -1;
    while (k > 0 && iter_item(&it, v, &m, &mlen, &s) == 1) {
        if (zl_push(c, l, m, mlen, s) != 0) break;
        k--;
    }
    kv_iter_close(&it);
    return c->rc ? -1 : 0;
}

/* Redis's rank sanitizing; 0 with forward ranks [*fs, *fe] of the range
 * (reverse ranks count from the end), 1 when it is empty. */
static int sanitize_ranks(long long start, long long end, long long llen, int reverse,
                          long long *fs, long long *fe)
{
    if (start < 0) start = llen + start;
    if (end < 0) end = llen + end;
    if (start < 0) start = 0;
    if (start > end || start >= llen) return 1;
    if (end >= llen) end = llen - 1;
    *fs = reverse ? llen - 1 - end : start;
    *fe = reverse ? llen - 1 - start : end;
    return 0;
}

/* ------------------------------------------------------------ ZADD */

enum {
    ZADD_NX = 1 << 0,
    ZADD_XX = 1 << 1,
    ZADD_GT = 1 << 2,
    ZADD_LT = 1 << 3,
    ZADD_INCR = 1 << 4,
    ZADD_CH = 1 << 5,
};

/* zaddGenericCommand's parsing: options, then score-member pairs whose
 * scores must all parse before anything is written. */
static int zadd_parse(int argc, char **argv, size_t *argvlen, int flags, int *outflags,
                      int *scoreidx, resp_buf *err)
{
    int j = 2;
    for (; j < argc; j++) {
        if (kv_streqci(argv[j], argvlen[j], "nx"))
            flags |= ZADD_NX;
        else if (kv_streqci(argv[j], argvlen[j], "xx"))
            flags |= ZADD_XX;
        else if (kv_streqci(argv[j], argvlen[j], "ch"))
            flags |= ZADD_CH;
        else if (kv_streqci(argv[j], argvlen[j], "incr"))
            flags |= ZADD_INCR;
        else if (kv_streqci(argv[j], argvlen[j], "gt"))
            flags |= ZADD_GT;
        else if (kv_streqci(argv[j], argvlen[j], "lt"))
            flags |= ZADD_LT;
        else
            break;
    }
    int elements = argc - j;
    if (elements % 2 || !elements) {
        resp_add_error(err, ERR_SYNTAX);
        return -1;
    }
    elements /= 2;
    if ((flags & ZADD_NX) && (flags & ZADD_XX)) {
        resp_add_error(err, "ERR XX and NX options at the same time are not compatible");
        return -1;
    }
    if (((flags & ZADD_GT) && (flags & ZADD_NX)) || ((flags & ZADD_LT) && (flags & ZADD_NX)) ||
        ((flags & ZADD_GT) && (flags & ZADD_LT))) {
        resp_add_error(err, "ERR GT, LT, and/or NX options at the same time are not compatible");
        return -1;
    }
    if ((flags & ZADD_INCR) && elements > 1) {
        resp_add_error(err, "ERR INCR option supports a single increment-element pair");
        return -1;
    }
    for (int i = j; i < argc; i += 2) {
        double d;
        if (parse_double(argv[i], argvlen[i], &d) != 0) {
            resp_add_error(err, ERR_NOTFLOAT);
            return -1;
        }
    }
    *outflags = flags;
    *scoreidx = j;
    return 0;
}

enum { ZOUT_NOP = 1, ZOUT_ADDED = 2, ZOUT_UPDATED = 4, ZOUT_NAN = 8 };

/* Redis's zsetAdd. Returns ZOUT_* or -1 on a storage error. */
static int zadd_one(kv_ctx *c, kv_val *v, int flags, double score, const char *m, size_t mlen,
                    double *newscore)
{
    double cur;
    if (isnan(score)) return ZOUT_NAN;
    int rc;
    if (!(flags & (ZADD_XX | ZADD_INCR))) {
        /* A new member (the common case) is inserted by the same search
         * that looks for it; only the score index is left to write. */
        unsigned char sb[8];
        const char *old;
        size_t oldlen;
        uint8_t enc = v->enc;
        zadd_encoding(v, mlen); /* as the insert would leave it */
        zenc(v, score, sb);
        if ((rc = kv_elem_add(c, v->ver, m, mlen, sb, 8, &old, &oldlen)) < 0) return -1;
        if (rc == 0) v->enc = enc; /* not inserted */
        if (rc == 1) {
            if (kv_zidx_put(c, v->ver, score, m, mlen) != 0) return -1;
            v->count++;
            *newscore = score;
            return ZOUT_ADDED;
        }
        if (oldlen != 8) {
            if (c->rc == 0) c->rc = KV_ECORRUPT;
            return -1;
        }
        cur = kv_score_dec((const unsigned char *)old);
        rc = 1;
    } else if ((rc = zscore_get(c, v, m, mlen, &cur)) < 0) {
        return -1;
    }
    if (rc == 1) {
        if (flags & ZADD_NX) return ZOUT_NOP;
        if (flags & ZADD_INCR) {
            score += cur;
            if (isnan(score)) return ZOUT_NAN;
        }
        if (((flags & ZADD_LT) && score >= cur) || ((flags & ZADD_GT) && score <= cur))
            return ZOUT_NOP;
        *newscore = score;
        if (score != cur) {
            if (zupdate(c, v, m, mlen, cur, score) != 0) return -1;
            return ZOUT_UPDATED;
        }
        return 0;
    }
    if (flags & ZADD_XX) return ZOUT_NOP;
    if (zinsert(c, v, m, mlen, score) != 0) return -1;
    *newscore = score;
    return ZOUT_ADDED;
}

static void zadd_generic(ARGS, int flags)
{
    int scoreidx;
    kv_val v;
    if (zadd_parse(argc, argv, argvlen, flags, &flags, &scoreidx, c->reply) != 0) return;
    int incr = (flags & ZADD_INCR) != 0;
    int elements = (argc - scoreidx) / 2;
    long long added = 0, updated = 0, processed = 0;
    double score = 0;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_ZSET, &v);
    if (found < 0) return;
    if (!found) {
        if (flags & ZADD_XX) goto reply;
        /* Redis 7.0 starts a listpack unless the first member is too long
         * for one; the inserts convert it as they go. */
        int enc = argvlen[scoreidx + 1] > ZSET_LP_VALUE ? KV_ENC_SKIPLIST : KV_ENC_LISTPACK;
        if (kv_coll_new(c, KV_TYPE_ZSET, enc, &v) != 0) return;
    }
    int nan = 0;
    for (int j = 0; j < elements; j++) {
        double d, newscore = 0;
        parse_double(argv[scoreidx + 2 * j], argvlen[scoreidx + 2 * j], &d);
        int out = zadd_one(c, &v, flags, d, argv[scoreidx + 2 * j + 1],
                           argvlen[scoreidx + 2 * j + 1], &newscore);
        if (out < 0) return;
        if (out & ZOUT_NAN) {
            nan = 1;
            break;
        }
        if (out & ZOUT_ADDED) added++;
        if (out & ZOUT_UPDATED) updated++;
        if (!(out & ZOUT_NOP)) processed++;
        score = newscore;
    }
    if (added || updated) {
        if (kv_coll_save(c, argv[1], argvlen[1], &v) != 0) return;
        kv_notify(c, KV_NOTIFY_ZSET, incr ? "zincr" : "zadd", argv[1], argvlen[1]);
    }
    if (c->rc) return;
    if (nan) {
        resp_add_error(c->reply, ERR_NAN);
        return;
    }
reply:
    if (incr) {
        if (processed)
            resp_add_double(c->reply, score);
        else
            resp_add_null(c->reply);
    } else {
        resp_add_int(c->reply, (flags & ZADD_CH) ? added + updated : added);
    }
}

static void kvx_zadd(ARGS)
{
    zadd_generic(c, argc, argv, argvlen, 0);
}

static void kvx_zincrby(ARGS)
{
    zadd_generic(c, argc, argv, argvlen, ZADD_INCR);
}

KV_CHECK(ck_zadd)
{
    int f, idx;
    return zadd_parse(argc, argv, argvlen, 0, &f, &idx, err);
}

KV_CHECK(ck_zincrby)
{
    int f, idx;
    return zadd_parse(argc, argv, argvlen, ZADD_INCR, &f, &idx, err);
}

/* ------------------------------------------------------------ point reads */

/* Redis's events for members leaving key: event, then "del" once the
 * zset is gone. */
static void zemptied(kv_ctx *c, const char *event, const char *key, size_t keylen, const kv_val *v)
{
    kv_notify(c, KV_NOTIFY_ZSET, event, key, keylen);
    if (v->count == 0) kv_notify(c, KV_NOTIFY_GENERIC, "del", key, keylen);
}

static void kvx_zrem(ARGS)
{
    kv_val v;
    long long deleted = 0;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_ZSET, &v);
    if (found < 0) return;
    for (int j = 2; found && j < argc && v.count > 0; j++) {
        double s = 0;
        int rc = zscore_get(c, &v, argv[j], argvlen[j], &s);
        if (rc < 0) return;
        if (rc == 1) {
            if (zremove(c, &v, argv[j], argvlen[j], s) != 0) return;
            deleted++;
        }
    }
    if (deleted) {
        if (kv_coll_save(c, argv[1], argvlen[1], &v) != 0) return;
        zemptied(c, "zrem", argv[1], argvlen[1], &v);
    }
    if (c->rc == 0) resp_add_int(c->reply, deleted);
}

static void kvx_zcard(ARGS)
{
    kv_val v;
    UNUSED_ARGS;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_ZSET, &v);
    if (found >= 0) resp_add_int(c->reply, found ? (int64_t)v.count : 0);
}

static void kvx_zscore(ARGS)
{
    kv_val v;
    double s = 0;
    UNUSED_ARGS;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_ZSET, &v);
    if (found < 0) return;
    if (found) found = zscore_get(c, &v, argv[2], argvlen[2], &s);
    if (found < 0) return;
    if (found)
        resp_add_double(c->reply, s);
    else
        resp_add_null(c->reply);
}

static void kvx_zmscore(ARGS)
{
    kv_val v;
    double s = 0;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_ZSET, &v);
    if (found < 0) return;
    resp_add_array(c->reply, argc - 2);
    for (int j = 2; j < argc; j++) {
        int rc = found ? zscore_get(c, &v, argv[j], argvlen[j], &s) : 0;
        if (rc < 0) return;
        if (rc)
            resp_add_double(c->reply, s);
        else
            resp_add_null(c->reply);
    }
}

/* The rank of (score, m): walks from both ends at once, so the cost is
 * that of the nearer one. */
static long long zrank_of(kv_ctx *c, const kv_val *v, const char *m, size_t mlen, double score)
{
    kv_iter fw, bw;
    unsigned char want[8];
    kv_score_enc(score, want);
    if (kv_iter_open(c, &fw, KV_T_ZIDX, v->ver, NULL, 0, 0) != 0) return -1;
    if (kv_iter_open(c, &bw, KV_T_ZIDX, v->ver, NULL, 0, 1) != 0) {
        kv_iter_close(&fw);
        return -1;
    }
    long long rank = -1;
    for (long long i = 0; i < (long long)v->count && rank < 0; i++) {
        for (int side = 0; side < 2; side++) {
            const char *f, *val;
            size_t flen, vlen;
            if (kv_iter_next(side ? &bw : &fw, &f, &flen, &val, &vlen) != 1) {
                i = (long long)v->count;
                break;
            }
            if (vlen == 8 && memcmp(val, want, 8) == 0 && flen == mlen && memcmp(f, m, mlen) == 0) {
                rank = side ? (long long)v->count - 1 - i : i;
                break;
            }
        }
    }
    kv_iter_close(&fw);
    kv_iter_close(&bw);
    if (rank < 0 && c->rc == 0) c->rc = KV_ECORRUPT; /* the member is in the element table */
    return rank;
}

static void zrank_generic(ARGS, int reverse)
{
    kv_val v;
    double s = 0;
    UNUSED_ARGS;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_ZSET, &v);
    if (found < 0) return;
    if (found) found = zscore_get(c, &v, argv[2], argvlen[2], &s);
    if (found < 0) return;
    if (!found) {
        resp_add_null(c->reply);
        return;
    }
    long long rank = zrank_of(c, &v, argv[2], argvlen[2], s);
    if (rank < 0) return;
    resp_add_int(c->reply, reverse ? (long long)v.count - 1 - rank : rank);
}

static void kvx_zrank(ARGS)
{
    zrank_generic(c, argc, argv, argvlen, 0);
}

static void kvx_zrevrank(ARGS)
{
    zrank_generic(c, argc, argv, argvlen, 1);
}

/* The members of v in r. Three walks go in step: the range itself, the
 * members below it and those above it; the count is known as soon as the
 * range, or both outsides, are walked: O(min(in range, outside)). */
static long long count_score(kv_ctx *c, const kv_val *v, const zrange *r)
{
    kv_iter in, lo, hi;
    const char *m;
    size_t mlen;
    double s = 0;
    long long nin = 0, nlo = 0, nhi = 0;
    int rc = open_score(c, &in, v, r, 0);
    if (rc != 0) return rc < 0 ? -1 : 0;
    if (kv_iter_open(c, &lo, KV_T_ZIDX, v->ver, NULL, 0, 0) != 0) {
        kv_iter_close(&in);
        return -1;
    }
    if (kv_iter_open(c, &hi, KV_T_ZIDX, v->ver, NULL, 0, 1) != 0) {
        kv_iter_close(&in);
        kv_iter_close(&lo);
        return -1;
    }
    int din = 0, dlo = 0, dhi = 0, started = 0;
    long long n = -1;
    while (c->rc == 0) {
        if (!din) {
            rc = iter_item(&in, NULL, &m, &mlen, &s);
            if (rc == 1 && !started && !gte_min(s, r)) continue; /* the seek's edge */
            started = 1;
            if (rc != 1 || !lte_max(s, r))
                din = 1;
            else
                nin++;
        }
        if (din) {
            n = nin;
            break;
        }
        if (!dlo) {
            rc = iter_item(&lo, NULL, &m, &mlen, &s);
            if (rc != 1 || gte_min(s, r))
                dlo = 1;
            else
                nlo++;
        }
        if (!dhi) {
            rc = iter_item(&hi, NULL, &m, &mlen, &s);
            if (rc != 1 || lte_max(s, r))
                dhi = 1;
            else
                nhi++;
        }
        if (dlo && dhi) {
            n = (long long)v->count - nlo - nhi;
            break;
        }
    }
    kv_iter_close(&in);
    kv_iter_close(&lo);
    kv_iter_close(&hi);
    return c->rc ? -1 : n;
}

static void kvx_zcount(ARGS)
{
    kv_val v;
    zrange r;
    UNUSED_ARGS;
    if (parse_range(argv[2], argv[3], &r) != 0) {
        resp_add_error(c->reply, ERR_MINMAX);
        return;
    }
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_ZSET, &v);
    if (found < 0) return;
    long long n = found ? count_score(c, &v, &r) : 0;
    if (n >= 0) resp_add_int(c->reply, n);
}

static void kvx_zlexcount(ARGS)
{
    kv_val v;
    zlex r;
    UNUSED_ARGS;
    if (parse_lex(argv[2], argvlen[2], argv[3], argvlen[3], &r) != 0) {
        resp_add_error(c->reply, ERR_LEXRANGE);
        return;
    }
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_ZSET, &v);
    if (found < 0) return;
    long long n = found ? walk_lex(c, &v, &r, 0, -1, 0, NULL, NULL) : 0;
    if (n >= 0) resp_add_int(c->reply, n);
}

/* ------------------------------------------------------------ ZRANGE family */

enum { RT_AUTO = 0, RT_RANK, RT_SCORE, RT_LEX };
enum { DIR_AUTO = 0, DIR_FWD, DIR_REV };

typedef struct zrange_args {
    int type, dir, withscores;
    long long start, end, offset, limit;
    zrange score;
    zlex lex;
    int src; /* argv index of the source key */
} zrange_args;

/* zrangeGenericCommand's steps 1 and 2: every error it can give comes
 * before the key is looked up. */
static int zrange_parse(int argc, char **argv, size_t *argvlen, int src, int store, int type,
                        int dir, zrange_args *a, resp_buf *err)
{
    int minidx = src + 1, maxidx = src + 2;
    memset(a, 0, sizeof(*a));
    a->limit = -1;
    a->src = src;
    for (int j = src + 3; j < argc; j++) {
        int left = argc - j - 1;
        if (!store && kv_streqci(argv[j], argvlen[j], "withscores")) {
            a->withscores = 1;
        } else if (kv_streqci(argv[j], argvlen[j], "limit") && left >= 2) {
            if (get_long(argv[j + 1], argvlen[j + 1], &a->offset, NULL, err) != 0 ||
                get_long(argv[j + 2], argvlen[j + 2], &a->limit, NULL, err) != 0)
                return -1;
            j += 2;
        } else if (dir == DIR_AUTO && kv_streqci(argv[j], argvlen[j], "rev")) {
            dir = DIR_REV;
        } else if (type == RT_AUTO && kv_streqci(argv[j], argvlen[j], "bylex")) {
            type = RT_LEX;
        } else if (type == RT_AUTO && kv_streqci(argv[j], argvlen[j], "byscore")) {
            type = RT_SCORE;
        } else {
            resp_add_error(err, ERR_SYNTAX);
            return -1;
        }
    }
    if (dir == DIR_AUTO) dir = DIR_FWD;
    if (type == RT_AUTO) type = RT_RANK;
    if (a->limit != -1 && type == RT_RANK) {
        resp_add_error(err, "ERR syntax error, LIMIT is only supported in combination with either "
                            "BYSCORE or BYLEX");
        return -1;
    }
    if (a->withscores && type == RT_LEX) {
        resp_add_error(err, "ERR syntax error, WITHSCORES not supported in combination with BYLEX");
        return -1;
    }
    if (dir == DIR_REV && (type == RT_SCORE || type == RT_LEX)) {
        int t = maxidx;
        maxidx = minidx;
        minidx = t;
    }
    switch (type) {
    case RT_RANK:
        if (get_long(argv[minidx], argvlen[minidx], &a->start, NULL, err) != 0 ||
            get_long(argv[maxidx], argvlen[maxidx], &a->end, NULL, err) != 0)
            return -1;
        break;
    case RT_SCORE:
        if (parse_range(argv[minidx], argv[maxidx], &a->score) != 0) {
            resp_add_error(err, ERR_MINMAX);
            return -1;
        }
        break;
    case RT_LEX:
        if (parse_lex(argv[minidx], argvlen[minidx], argv[maxidx], argvlen[maxidx], &a->lex) != 0) {
            resp_add_error(err, ERR_LEXRANGE);
            return -1;
        }
        break;
    }
    a->type = type;
    a->dir = dir;
    return 0;
}

/* The range's members into l, in reply order. */
static int zrange_collect(kv_ctx *c, const kv_val *v, const zrange_args *a, zlist *l)
{
    int rev = a->dir == DIR_REV;
    if (a->type == RT_RANK) {
        long long fs, fe;
        if (sanitize_ranks(a->start, a->end, (long long)v->count, rev, &fs, &fe)) return 0;
        if (collect_ranks(c, v, fs, fe, l) != 0) return -1;
        if (rev) zl_reverse(l);
        return 0;
    }
    /* A negative offset skips everything in Redis (its loop counts down
     * past zero); an offset past the end finds nothing. */
    if (a->offset < 0 || (a->offset > 0 && a->offset >= (long long)v->count)) return 0;
    long long n = a->type == RT_SCORE
                      ? walk_score(c, v, &a->score, a->offset, a->limit, rev, visit_push, l)
                      : walk_lex(c, v, &a->lex, a->offset, a->limit, rev, visit_push, l);
    return n < 0 ? -1 : 0;
}

static void zrange_generic(ARGS, int store, int type, int dir)
{
    zrange_args a;
    kv_val v;
    zlist l = {0};
    int src = store ? 2 : 1;
    if (zrange_parse(argc, argv, argvlen, src, store, type, dir, &a, c->reply) != 0) return;
    int found = kv_lookup_type(c, argv[src], argvlen[src], KV_TYPE_ZSET, &v);
    if (found < 0) return;
    if (found && zrange_collect(c, &v, &a, &l) != 0) goto out;
    if (store)
        store_list(c, argv[1], argvlen[1], &l, a.type == RT_RANK ? STORE_SIZED : STORE_INSERTS,
                   "zrangestore");
    else
        reply_list(c, &l, a.withscores);
out:
    zl_free(&l);
}

static void kvx_zrange(ARGS)
{
    zrange_generic(c, argc, argv, argvlen, 0, RT_AUTO, DIR_AUTO);
}

static void kvx_zrangestore(ARGS)
{
    zrange_generic(c, argc, argv, argvlen, 1, RT_AUTO, DIR_AUTO);
}

static void kvx_zrevrange(ARGS)
{
    zrange_generic(c, argc, argv, argvlen, 0, RT_RANK, DIR_REV);
}

static void kvx_zrangebyscore(ARGS)
{
    zrange_generic(c, argc, argv, argvlen, 0, RT_SCORE, DIR_FWD);
}

static void kvx_zrevrangebyscore(ARGS)
{
    zrange_generic(c, argc, argv, argvlen, 0, RT_SCORE, DIR_REV);
}

static void kvx_zrangebylex(ARGS)
{
    zrange_generic(c, argc, argv, argvlen, 0, RT_LEX, DIR_FWD);
}

static void kvx_zrevrangebylex(ARGS)
{
    zrange_generic(c, argc, argv, argvlen, 0, RT_LEX, DIR_REV);
}

KV_CHECK(ck_zrangestore)
{
    zrange_args a;
    return zrange_parse(argc, argv, argvlen, 2, 1, RT_AUTO, DIR_AUTO, &a, err);
}

/* ------------------------------------------------------------ removal */

/* Removes up to this many members per walk: the walk collects a batch,
 * closes, deletes it and resumes after the last one, so memory stays
 * bounded however large the range is. */
#define REM_BATCH 256

typedef struct rem_batch {
    zlist l;
    long long max;
} rem_batch;

static int visit_batch(kv_ctx *c, void *arg, const char *m, size_t mlen, double score)
{
    rem_batch *b = arg;
    return zl_push(c, &b->l, m, mlen, score);
}

static int remove_list(kv_ctx *c, kv_val *v, const zlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        if (zremove(c, v, l->a[i].m, l->a[i].mlen, l->a[i].score) != 0) return -1;
    return 0;
}

enum { REM_RANK, REM_SCORE, REM_LEX };

static void zremrange_generic(ARGS, int type)
{
    kv_val v;
    long long start = 0, end = 0, removed = 0;
    zrange r;
    zlex lx;
    UNUSED_ARGS;
    if (type == REM_RANK) {
        if (get_long(argv[2], argvlen[2], &start, NULL, c->reply) != 0 ||
            get_long(argv[3], argvlen[3], &end, NULL, c->reply) != 0)
            return;
    } else if (type == REM_SCORE) {
        if (parse_range(argv[2], argv[3], &r) != 0) {
            resp_add_error(c->reply, ERR_MINMAX);
            return;
        }
    } else if (parse_lex(argv[2], argvlen[2], argv[3], argvlen[3], &lx) != 0) {
        resp_add_error(c->reply, ERR_LEXRANGE);
        return;
    }
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_ZSET, &v);
    if (found <= 0) {
        if (found == 0) resp_add_int(c->reply, 0);
        return;
    }
    if (type == REM_RANK) {
        long long fs, fe;
        if (sanitize_ranks(start, end, (long long)v.count, 0, &fs, &fe)) {
            resp_add_int(c->reply, 0);
            return;
        }
        /* The first batch is found by rank; each next one resumes after
         * the last member removed, so the walk to rank fs is done once. */
        long long left = fe - fs + 1;
        zitem last = {0};
        while (left > 0) {
            zlist l = {0};
            long long k = left < REM_BATCH ? left : REM_BATCH;
            int rc = last.m ? collect_after(c, &v, &last, k, &l)
                            : collect_ranks(c, &v, fs, fs + k - 1, &l);
            if (rc == 0 && (long long)l.n != k && c->rc == 0) c->rc = KV_ECORRUPT;
            if (rc == 0 && c->rc == 0) rc = remove_list(c, &v, &l);
            free(last.m);
            last.m = NULL;
            if (rc == 0 && c->rc == 0 && l.n) {
                last = l.a[l.n - 1];
                l.a[l.n - 1].m = NULL;
            }
            zl_free(&l);
            if (rc != 0 || c->rc) {
                free(last.m);
                return;
            }
            removed += k;
            left -= k;
        }
        free(last.m);
    } else {
        /* Each batch resumes after the last member removed, still in
         * range, as Redis's single deleting walk goes on from there. */
        zitem last = {0};
        for (;;) {
            rem_batch b = {{0}, REM_BATCH};
            zwalk w = {type == REM_SCORE ? &r : NULL, type == REM_LEX ? &lx : NULL, 0, REM_BATCH, 0,
                       last.m ? &last : NULL};
            long long n = walk(c, &v, &w, visit_batch, &b);
            int rc = n < 0 ? -1 : remove_list(c, &v, &b.l);
            free(last.m);
            last.m = NULL;
            if (rc == 0 && n == REM_BATCH) {
                last = b.l.a[b.l.n - 1];
                b.l.a[b.l.n - 1].m = NULL;
            }
            zl_free(&b.l);
            if (rc != 0) return;
            removed += n;
            if (n < REM_BATCH) break;
        }
    }
    if (removed) {
        if (kv_coll_save(c, argv[1], argvlen[1], &v) != 0) return;
        zemptied(c,
                 type == REM_RANK    ? "zremrangebyrank"
                 : type == REM_SCORE ? "zremrangebyscore"
                                     : "zremrangebylex",
                 argv[1], argvlen[1], &v);
    }
    if (c->rc == 0) resp_add_int(c->reply, removed);
}

static void kvx_zremrangebyrank(ARGS)
{
    zremrange_generic(c, argc, argv, argvlen, REM_RANK);
}

static void kvx_zremrangebyscore(ARGS)
{
    zremrange_generic(c, argc, argv, argvlen, REM_SCORE);
}

static void kvx_zremrangebylex(ARGS)
{
    zremrange_generic(c, argc, argv, argvlen, REM_LEX);
}

KV_CHECK(ck_zremrangebyrank)
{
    long long x;
    (void)argc;
    if (get_long(argv[2], argvlen[2], &x, NULL, err) != 0) return -1;
    return get_long(argv[3], argvlen[3], &x, NULL, err);
}

KV_CHECK(ck_zremrangebyscore)
{
    zrange r;
    (void)argc;
    (void)argvlen;
    if (parse_range(argv[2], argv[3], &r) != 0) {
        resp_add_error(err, ERR_MINMAX);
        return -1;
    }
    return 0;
}

KV_CHECK(ck_zremrangebylex)
{
    zlex r;
    (void)argc;
    if (parse_lex(argv[2], argvlen[2], argv[3], argvlen[3], &r) != 0) {
        resp_add_error(err, ERR_LEXRANGE);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ pops */

/* Redis's genericZpopCommand over keys[0..nkeys): the first existing key
 * is popped (one of another type stops the scan with WRONGTYPE). The reply
 * is [m, s, ...], nested [[m, s], ...], or with emitkey [key, m, s]
 * (BZPOPMIN) or nested [key, [[m, s], ...]] (ZMPOP, BZMPOP). 1 when a key
 * was found, 0 when none exists (nothing replied: the caller says what
 * that is), -1 error (replied or c->rc). */
static int zpop_generic(kv_ctx *c, char **keys, size_t *keylens, int nkeys, int max, int emitkey,
                        long long count, int nested)
{
    kv_val v;
    int found = 0, k;
    for (k = 0; k < nkeys; k++) {
        found = kv_lookup_type(c, keys[k], keylens[k], KV_TYPE_ZSET, &v);
        if (found < 0) return -1;
        if (found) break;
    }
    if (!found) return 0;
    if (count == 0) {
        resp_add_array(c->reply, 0);
        return 1;
    }
    if (count == -1) count = 1;
    long long n = count > (long long)v.count ? (long long)v.count : count;
    zlist l = {0};
    if (collect_ranks(c, &v, max ? (long long)v.count - n : 0, max ? (long long)v.count - 1 : n - 1,
                      &l) != 0)
        goto out;
    if (max) zl_reverse(&l);
    if (remove_list(c, &v, &l) != 0 || kv_coll_save(c, keys[k], keylens[k], &v) != 0) goto out;
    if (!nested && !emitkey) {
        resp_add_array(c->reply, n * 2);
    } else if (nested && !emitkey) {
        resp_add_array(c->reply, n);
    } else if (!nested) {
        resp_add_array(c->reply, n * 2 + 1);
        resp_add_bulk(c->reply, keys[k], keylens[k]);
    } else {
        resp_add_array(c->reply, 2);
        resp_add_bulk(c->reply, keys[k], keylens[k]);
        resp_add_array(c->reply, n);
    }
    for (size_t i = 0; i < l.n; i++) {
        if (nested) resp_add_array(c->reply, 2);
        resp_add_bulk(c->reply, l.a[i].m, l.a[i].mlen);
        resp_add_double(c->reply, l.a[i].score);
    }
    kv_notify(c, KV_NOTIFY_ZSET, max ? "zpopmax" : "zpopmin", keys[k], keylens[k]);
    if (v.count == 0) kv_notify(c, KV_NOTIFY_GENERIC, "del", keys[k], keylens[k]);
out:
    zl_free(&l);
    return c->rc ? -1 : 1;
}

static int zpop_parse(int argc, char **argv, size_t *argvlen, long long *count, resp_buf *err)
{
    *count = -1;
    if (argc > 3) {
        resp_add_error(err, ERR_SYNTAX);
        return -1;
    }
    if (argc == 3)
        return get_range_long(argv[2], argvlen[2], 0, LLONG_MAX, count,
                              "ERR value is out of range, must be positive", err);
    return 0;
}

static void zpop_cmd(ARGS, int max)
{
    long long count;
    if (zpop_parse(argc, argv, argvlen, &count, c->reply) != 0) return;
    if (zpop_generic(c, argv + 1, argvlen + 1, 1, max, 0, count,
                     c->reply->proto > 2 && count != -1) == 0)
        resp_add_array(c->reply, 0);
}

static void kvx_zpopmin(ARGS)
{
    zpop_cmd(c, argc, argv, argvlen, 0);
}

static void kvx_zpopmax(ARGS)
{
    zpop_cmd(c, argc, argv, argvlen, 1);
}

KV_CHECK(ck_zpop)
{
    long long count;
    return zpop_parse(argc, argv, argvlen, &count, err);
}

/* ZMPOP numkeys key [key ...] MIN|MAX [COUNT count], numkeys at argv[idx]
 * (BZMPOP: 2, after the timeout; Redis parses these before the timeout). */
static int zmpop_parse(int argc, char **argv, size_t *argvlen, int idx, long long *numkeys,
                       int *max, long long *count, resp_buf *err)
{
    if (get_range_long(argv[idx], argvlen[idx], 1, LLONG_MAX, numkeys,
                       "ERR numkeys should be greater than 0", err) != 0)
        return -1;
    if (*numkeys > argc || idx + *numkeys + 1 >= argc) {
        resp_add_error(err, ERR_SYNTAX);
        return -1;
    }
    long long where = idx + *numkeys + 1;
    if (kv_streqci(argv[where], argvlen[where], "min")) {
        *max = 0;
    } else if (kv_streqci(argv[where], argvlen[where], "max")) {
        *max = 1;
    } else {
        resp_add_error(err, ERR_SYNTAX);
        return -1;
    }
    *count = -1;
    for (long long j = where + 1; j < argc; j++) {
        int more = argc - 1 - (int)j;
        if (*count == -1 && kv_streqci(argv[j], argvlen[j], "count") && more) {
            j++;
            if (get_range_long(argv[j], argvlen[j], 1, LLONG_MAX, count,
                               "ERR count should be greater than 0", err) != 0)
                return -1;
        } else {
            resp_add_error(err, ERR_SYNTAX);
            return -1;
        }
    }
    if (*count == -1) *count = 1;
    return 0;
}

static void kvx_zmpop(ARGS)
{
    long long numkeys, count;
    int max;
    if (zmpop_parse(argc, argv, argvlen, 1, &numkeys, &max, &count, c->reply) != 0) return;
    if (zpop_generic(c, argv + 2, argvlen + 2, (int)numkeys, max, 1, count, 1) == 0)
        resp_add_null_array(c->reply);
}

KV_CHECK(ck_zmpop)
{
    long long numkeys, count;
    int max;
    return zmpop_parse(argc, argv, argvlen, 1, &numkeys, &max, &count, err);
}

/* BZPOPMIN / BZPOPMAX key [key ...] timeout (Redis's
 * blockingGenericZpopCommand): ZPOPMIN's pop from the first existing key,
 * replied [key, member, score] in both protocols; when none exists the
 * null array (kvx_block_empty). */
static void bzpop_cmd(ARGS, int max)
{
    if (zpop_generic(c, argv + 1, argvlen + 1, argc - 2, max, 1, -1, 0) == 0) kvx_block_empty(c, 1);
}

static void kvx_bzpopmin(ARGS)
{
    bzpop_cmd(c, argc, argv, argvlen, 0);
}

static void kvx_bzpopmax(ARGS)
{
    bzpop_cmd(c, argc, argv, argvlen, 1);
}

KV_CHECK(ck_bzpop)
{
    int64_t ms;
    return kv_parse_timeout(argv[argc - 1], argvlen[argc - 1], &ms, err);
}

/* BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]: ZMPOP's. */
static void kvx_bzmpop(ARGS)
{
    long long numkeys, count;
    int max;
    if (zmpop_parse(argc, argv, argvlen, 2, &numkeys, &max, &count, c->reply) != 0) return;
    if (zpop_generic(c, argv + 3, argvlen + 3, (int)numkeys, max, 1, count, 1) == 0)
        kvx_block_empty(c, 1);
}

KV_CHECK(ck_bzmpop)
{
    long long numkeys, count;
    int max;
    int64_t ms;
    if (zmpop_parse(argc, argv, argvlen, 2, &numkeys, &max, &count, err) != 0) return -1;
    return kv_parse_timeout(argv[1], argvlen[1], &ms, err);
}

/* ------------------------------------------------------------ ZRANDMEMBER */

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

/* The members at the given ranks (any order, repeats allowed) into out[i],
 * in one walk of the score index. */
static int members_at(kv_ctx *c, const kv_val *v, const uint64_t *ranks, size_t n, zitem *out)
{
    /* Sort (rank << 32 | position) pairs, so positions follow their rank. */
    uint64_t *ord = kv_malloc((n ? n : 1) * sizeof(*ord));
    if (!ord) {
        kvx_oom(c);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        ord[i] = ranks[i] << 32 | i;
    qsort(ord, n, sizeof(*ord), cmp_u64);
    kv_iter it;
    const char *m;
    size_t mlen;
    double s = 0;
    int rc = kv_iter_open(c, &it, KV_T_ZIDX, v->ver, NULL, 0, 0);
    uint64_t pos = 0;
    size_t k = 0;
    while (rc == 0 && k < n && (rc = iter_item(&it, v, &m, &mlen, &s)) == 1) {
        rc = 0;
        for (; k < n && (ord[k] >> 32) == pos; k++) {
            zitem *z = &out[ord[k] & 0xffffffffu];
            if (!(z->m = kv_malloc(mlen ? mlen : 1))) {
                kvx_oom(c);
                rc = -1;
                break;
            }
            memcpy(z->m, m, mlen);
            z->mlen = mlen;
            z->score = s;
        }
        pos++;
    }
    if (rc == 0 || it.cur) kv_iter_close(&it);
    free(ord);
    return c->rc || k < n ? -1 : 0;
}

static void kvx_zrandmember(ARGS)
{
    kv_val v;
    long long l = 0;
    int withscores = 0;
    if (argc >= 3) {
        if (get_range_long(argv[2], argvlen[2], -LLONG_MAX, LLONG_MAX, &l, NULL, c->reply) != 0)
            return;
        if (argc > 4 || (argc == 4 && !kv_streqci(argv[3], argvlen[3], "withscores"))) {
            resp_add_error(c->reply, ERR_SYNTAX);
            return;
        }
        if (argc == 4) {
            withscores = 1;
            if (l < -LLONG_MAX / 2 || l > LLONG_MAX / 2) {
                resp_add_error(c->reply, "ERR value is out of range");
                return;
            }
        }
    }
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_ZSET, &v);
    if (found < 0) return;
    if (argc < 3) {
        if (!found) {
            resp_add_null(c->reply);
            return;
        }
        uint64_t r = kv_rand(c) % v.count;
        zitem z = {0};
        if (members_at(c, &v, &r, 1, &z) == 0) resp_add_bulk(c->reply, z.m, z.mlen);
        free(z.m);
        return;
    }
    if (!found || l == 0) {
        resp_add_array(c->reply, 0);
        return;
    }
    uint64_t size = v.count, count = l < 0 ? (uint64_t)-l : (uint64_t)l;
    int uniq = l > 0;
    zlist out = {0};
    if (uniq && count >= size) {
        /* The whole zset, from the highest score down, as Redis walks
         * its listpack. */
        if (collect_ranks(c, &v, 0, (long long)size - 1, &out) == 0) {
            zl_reverse(&out);
            reply_list(c, &out, withscores);
        }
        zl_free(&out);
        return;
    }
    /* Redis would try to build any reply; here a read inside MULTI is
     * applied from the log on every node, where running out of memory
     * stops the node, so repeats are bounded (an answer Redis gives for
     * out-of-range counts). */
    if (!uniq && count > ZRAND_MAX_REPEATS) {
        resp_add_error(c->reply, "ERR value is out of range");
        return;
    }
    uint64_t *ranks = kv_malloc(count * sizeof(*ranks));
    zitem *items = kv_calloc(count, sizeof(*items));
    if (!ranks || !items) {
        kvx_oom(c);
        goto out;
    }
    if (!uniq) {
        for (uint64_t i = 0; i < count; i++)
            ranks[i] = kv_rand(c) % size;
    } else {
        /* Selection sampling (Knuth's algorithm S): count distinct ranks,
         * then shuffled. */
        uint64_t k = 0;
        for (uint64_t i = 0; i < size && k < count; i++)
            if (kv_rand(c) % (size - i) < count - k) ranks[k++] = i;
        for (uint64_t i = count - 1; i > 0; i--) {
            uint64_t j = kv_rand(c) % (i + 1), t = ranks[i];
            ranks[i] = ranks[j];
            ranks[j] = t;
        }
    }
    if (members_at(c, &v, ranks, count, items) == 0) {
        out.a = items;
        out.n = out.cap = count;
        reply_list(c, &out, withscores);
        items = NULL;
    }
out:
    if (items) {
        for (uint64_t i = 0; i < count; i++)
            free(items[i].m);
        free(items);
    }
    zl_free(&out);
    free(ranks);
}

/* ------------------------------------------------------------ set operations */

enum { OP_UNION, OP_INTER, OP_DIFF };
enum { AGG_SUM, AGG_MIN, AGG_MAX };

typedef struct zsrc {
    kv_val v; /* found == 0: a missing key, an empty input */
    double weight;
    long long idx; /* argument order, for a stable sort */
} zsrc;

static void aggregate(double *target, double val, int agg)
{
    if (agg == AGG_SUM) {
        *target = *target + val;
        /* inf + -inf: Redis's convention is 0. */
        if (isnan(*target)) *target = 0.0;
    } else if (agg == AGG_MIN) {
        *target = val < *target ? val : *target;
    } else {
        *target = val > *target ? val : *target;
    }
}

/* A source's score for m: a set's members score 1. 1 found, 0, -1. */
static int src_score(kv_ctx *c, const zsrc *s, const char *m, size_t mlen, double *score)
{
    if (!s->v.found) return 0;
    if (s->v.type == KV_TYPE_ZSET) return zscore_get(c, &s->v, m, mlen, score);
    const char *val;
    size_t vlen;
    int rc = kv_elem_get(c, s->v.ver, m, mlen, &val, &vlen);
    if (rc == 1) *score = 1.0;
    return rc;
}

/* An open-addressing map member -> index in a zlist (the union's
 * accumulator). */
typedef struct zmap {
    uint32_t *slot; /* index + 1, 0 empty */
    size_t cap;
} zmap;

static int zmap_find(kv_ctx *c, zmap *map, zlist *l, const char *m, size_t mlen, int *created)
{
    if ((l->n + 1) * 2 > map->cap) {
        size_t cap = map->cap ? map->cap * 2 : 64;
        uint32_t *s = kv_calloc(cap, sizeof(*s));
        if (!s) {
            kvx_oom(c);
            return -1;
        }
        for (size_t i = 0; i < l->n; i++) {
            size_t h = kv_keyhash(l->a[i].m, l->a[i].mlen) & (cap - 1);
            while (s[h])
                h = (h + 1) & (cap - 1);
            s[h] = (uint32_t)i + 1;
        }
        free(map->slot);
        map->slot = s;
        map->cap = cap;
    }
    size_t h = kv_keyhash(m, mlen) & (map->cap - 1);
    for (; map->slot[h]; h = (h + 1) & (map->cap - 1)) {
        const zitem *z = &l->a[map->slot[h] - 1];
        if (z->mlen == mlen && memcmp(z->m, m, mlen) == 0) {
            *created = 0;
            return (int)(map->slot[h] - 1);
        }
    }
    if (l->n >= UINT32_MAX - 1 || zl_push(c, l, m, mlen, 0) != 0) {
        kvx_oom(c);
        return -1;
    }
    map->slot[h] = (uint32_t)l->n;
    *created = 1;
    return (int)(l->n - 1);
}

/* The checks before any key is read: numkeys. */
static int setop_numkeys(int argc, char **argv, size_t *argvlen, int numidx, long long *setnum,
                         resp_buf *err)
{
    const kv_command *cmd = kv_command_lookup(argv[0], argvlen[0]);
    if (get_long(argv[numidx], argvlen[numidx], setnum, NULL, err) != 0) return -1;
    if (*setnum < 1) {
        resp_add_errorf(err, "ERR at least 1 input key is needed for '%s' command",
                        cmd ? cmd->name : argv[0]);
        return -1;
    }
    if (*setnum > argc - (numidx + 1)) {
        resp_add_error(err, ERR_SYNTAX);
        return -1;
    }
    return 0;
}

/* By cardinality, equal ones in argument order (glibc's qsort is a merge
 * sort, so that is Redis's order, and with it the order of its floating
 * additions). */
static int cmp_src(const void *x, const void *y)
{
    const zsrc *a = x, *b = y;
    uint64_t ca = a->v.found ? a->v.count : 0, cb = b->v.found ? b->v.count : 0;
    if (ca != cb) return ca < cb ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static void zsetop_generic(kv_ctx *c, int argc, char **argv, size_t *argvlen, int dst, int numidx,
                           int op, int cardonly)
{
    long long setnum;
    int agg = AGG_SUM, withscores = 0;
    long long limit = 0;
    zlist l = {0};
    zmap map = {0};
    if (setop_numkeys(argc, argv, argvlen, numidx, &setnum, c->reply) != 0) return;
    zsrc *src = kv_calloc((size_t)setnum, sizeof(*src));
    if (!src) {
        kvx_oom(c);
        return;
    }
    int j = numidx + 1;
    for (long long i = 0; i < setnum; i++, j++) {
        int found = kv_lookup(c, argv[j], argvlen[j], &src[i].v);
        if (found < 0) goto out;
        if (found && src[i].v.type != KV_TYPE_ZSET && src[i].v.type != KV_TYPE_SET) {
            resp_add_error(c->reply, ERR_WRONGTYPE);
            goto out;
        }
        src[i].weight = 1.0;
        src[i].idx = i;
    }
    for (int remaining = argc - j; remaining > 0;) {
        if (op != OP_DIFF && !cardonly && remaining >= setnum + 1 &&
            kv_streqci(argv[j], argvlen[j], "weights")) {
            j++;
            remaining--;
            for (long long i = 0; i < setnum; i++, j++, remaining--) {
                if (parse_double(argv[j], argvlen[j], &src[i].weight) != 0) {
                    resp_add_error(c->reply, "ERR weight value is not a float");
                    goto out;
                }
            }
        } else if (op != OP_DIFF && !cardonly && remaining >= 2 &&
                   kv_streqci(argv[j], argvlen[j], "aggregate")) {
            j++;
            if (kv_streqci(argv[j], argvlen[j], "sum")) {
                agg = AGG_SUM;
            } else if (kv_streqci(argv[j], argvlen[j], "min")) {
                agg = AGG_MIN;
            } else if (kv_streqci(argv[j], argvlen[j], "max")) {
                agg = AGG_MAX;
            } else {
                resp_add_error(c->reply, ERR_SYNTAX);
                goto out;
            }
            j++;
            remaining -= 2;
        } else if (!dst && !cardonly && kv_streqci(argv[j], argvlen[j], "withscores")) {
            j++;
            remaining--;
            withscores = 1;
        } else if (cardonly && remaining >= 2 && kv_streqci(argv[j], argvlen[j], "limit")) {
            j++;
            if (get_range_long(argv[j], argvlen[j], 0, LLONG_MAX, &limit,
                               "ERR LIMIT can't be negative", c->reply) != 0)
                goto out;
            j++;
            remaining -= 2;
        } else {
            resp_add_error(c->reply, ERR_SYNTAX);
            goto out;
        }
    }
    if (op != OP_DIFF) qsort(src, (size_t)setnum, sizeof(*src), cmp_src);

    unsigned long long card = 0;
    kv_iter it;
    const char *m, *val;
    size_t mlen, vlen;
    int rc;
    if (op == OP_UNION) {
        for (long long i = 0; i < setnum; i++) {
            if (!src[i].v.found) continue;
            if (kv_iter_open(c, &it, KV_T_ELEM, src[i].v.ver, NULL, 0, 0) != 0) goto out;
            while ((rc = kv_iter_next(&it, &m, &mlen, &val, &vlen)) == 1) {
                double s = src[i].v.type == KV_TYPE_ZSET && vlen == 8
                               ? kv_score_dec((const unsigned char *)val)
                               : 1.0;
                s *= src[i].weight;
                if (isnan(s)) s = 0;
                int created;
                int k = zmap_find(c, &map, &l, m, mlen, &created);
                if (k < 0) break;
                if (created)
                    l.a[k].score = s;
                else
                    aggregate(&l.a[k].score, s, agg);
            }
            kv_iter_close(&it);
            if (c->rc) goto out;
        }
    } else if (src[0].v.found) {
        /* INTER walks the smallest input; DIFF the first. */
        if (kv_iter_open(c, &it, KV_T_ELEM, src[0].v.ver, NULL, 0, 0) != 0) goto out;
        while ((rc = kv_iter_next(&it, &m, &mlen, &val, &vlen)) == 1) {
            double s0 = src[0].v.type == KV_TYPE_ZSET && vlen == 8
                            ? kv_score_dec((const unsigned char *)val)
                            : 1.0;
            double score = s0;
            long long k;
            if (op == OP_INTER) {
                score = src[0].weight * s0;
                if (isnan(score)) score = 0;
            }
            for (k = 1; k < setnum; k++) {
                double value;
                int in = src_score(c, &src[k], m, mlen, &value);
                if (in < 0) break;
                if (op == OP_DIFF) {
                    if (in) break;
                    continue;
                }
                if (!in) break;
                aggregate(&score, value * src[k].weight, agg);
            }
            if (c->rc) break;
            if (k < setnum) continue;
            if (cardonly) {
                card++;
                if (limit && card >= (unsigned long long)limit) break;
            } else if (zl_push(c, &l, m, mlen, score) != 0) {
                break;
            }
        }
        kv_iter_close(&it);
        if (c->rc) goto out;
    }
    if (cardonly) {
        resp_add_int(c->reply, (int64_t)card);
        goto out;
    }
    if (l.n > 1) qsort(l.a, l.n, sizeof(*l.a), zitem_cmp);
    if (dst)
        store_list(c, argv[dst], argvlen[dst], &l, STORE_WHOLE,
                   op == OP_UNION   ? "zunionstore"
                   : op == OP_INTER ? "zinterstore"
                                    : "zdiffstore");
    else
        reply_list(c, &l, withscores);
out:
    free(map.slot);
    zl_free(&l);
    free(src);
}

static void kvx_zunion(ARGS)
{
    zsetop_generic(c, argc, argv, argvlen, 0, 1, OP_UNION, 0);
}

static void kvx_zinter(ARGS)
{
    zsetop_generic(c, argc, argv, argvlen, 0, 1, OP_INTER, 0);
}

static void kvx_zdiff(ARGS)
{
    zsetop_generic(c, argc, argv, argvlen, 0, 1, OP_DIFF, 0);
}

static void kvx_zintercard(ARGS)
{
    zsetop_generic(c, argc, argv, argvlen, 0, 1, OP_INTER, 1);
}

static void kvx_zunionstore(ARGS)
{
    zsetop_generic(c, argc, argv, argvlen, 1, 2, OP_UNION, 0);
}

static void kvx_zinterstore(ARGS)
{
    zsetop_generic(c, argc, argv, argvlen, 1, 2, OP_INTER, 0);
}

static void kvx_zdiffstore(ARGS)
{
    zsetop_generic(c, argc, argv, argvlen, 1, 2, OP_DIFF, 0);
}

/* Only numkeys is checked before proposing: Redis reads the keys (and may
 * answer WRONGTYPE) before it parses WEIGHTS and AGGREGATE. */
KV_CHECK(ck_zsetop_store)
{
    long long n;
    return setop_numkeys(argc, argv, argvlen, 2, &n, err);
}

/* ------------------------------------------------------------ ZSCAN */

/* A score as ZSCAN gives it: a bulk string in both protocols. */
/* ZSCAN's items: the member and its score as a bulk string (RESP3
 * too), as Redis sends them. */
static int zscan_emit(kv_ctx *c, resp_buf *out, const char *m, size_t mlen, const char *val,
                      size_t vlen)
{
    if (vlen != 8) {
        if (c->rc == 0) c->rc = KV_ECORRUPT;
        return -1;
    }
    double d = kv_score_dec((const unsigned char *)val);
    char buf[64];
    int n;
    if (isinf(d))
        n = snprintf(buf, sizeof(buf), "%s", d > 0 ? "inf" : "-inf");
    else
        n = snprintf(buf, sizeof(buf), "%.17g", d);
    resp_add_bulk(out, m, mlen);
    resp_add_bulk(out, buf, (size_t)n);
    return 2;
}

static void kvx_zscan(ARGS)
{
    kv_val v;
    unsigned long long cursor;
    long long count = 10;
    const char *pat = NULL;
    size_t patlen = 0;

    if (kv_scan_cursor(argv[2], &cursor, c->reply) != 0) return;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_ZSET, &v);
    if (found < 0) return;
    if (!found) {
        kv_scan_reply_empty(c->reply);
        return;
    }
    if (kv_scan_opts(argc, argv, argvlen, 3, 0, &count, &pat, &patlen, NULL, NULL, c->reply) != 0)
        return;
    /* A small zset (listpack) comes whole in score order, as Redis does;
     * a large one is walked in member order. */
    int small = v.enc == KV_ENC_LISTPACK;
    kv_scan_elements(c, &v, small ? KV_T_ZIDX : KV_T_ELEM, small, cursor, count, pat, patlen,
                     zscan_emit);
}

/* ------------------------------------------------------------ command table */

#define W KV_CMD_WRITE
#define R KV_CMD_READONLY
#define F KV_CMD_FAST
#define D KV_CMD_DENYOOM
#define B KV_CMD_BLOCKING
/* clang-format off */
const kv_command kvx_zset_commands[] = {
    {"zadd", -4, W | D | F, 1, 1, 1, ck_zadd, kvx_zadd, "sorted_set", "1.2.0", "Add one or more members to a sorted set, or update its score if it already exists"},
    {"zincrby", 4, W | D | F, 1, 1, 1, ck_zincrby, kvx_zincrby, "sorted_set", "1.2.0", "Increment the score of a member in a sorted set"},
    {"zrem", -3, W | F, 1, 1, 1, NULL, kvx_zrem, "sorted_set", "1.2.0", "Remove one or more members from a sorted set"},
    {"zcard", 2, R | F, 1, 1, 1, NULL, kvx_zcard, "sorted_set", "1.2.0", "Get the number of members in a sorted set"},
    {"zcount", 4, R | F, 1, 1, 1, NULL, kvx_zcount, "sorted_set", "2.0.0", "Count the members in a sorted set with scores within the given values"},
    {"zlexcount", 4, R | F, 1, 1, 1, NULL, kvx_zlexcount, "sorted_set", "2.8.9", "Count the number of members in a sorted set between a given lexicographical range"},
    {"zscore", 3, R | F, 1, 1, 1, NULL, kvx_zscore, "sorted_set", "1.2.0", "Get the score associated with the given member in a sorted set"},
    {"zmscore", -3, R | F, 1, 1, 1, NULL, kvx_zmscore, "sorted_set", "6.2.0", "Get the score associated with the given members in a sorted set"},
    {"zrank", 3, R | F, 1, 1, 1, NULL, kvx_zrank, "sorted_set", "2.0.0", "Determine the index of a member in a sorted set"},
    {"zrevrank", 3, R | F, 1, 1, 1, NULL, kvx_zrevrank, "sorted_set", "2.0.0", "Determine the index of a member in a sorted set, with scores ordered from high to low"},
    {"zrange", -4, R, 1, 1, 1, NULL, kvx_zrange, "sorted_set", "1.2.0", "Return a range of members in a sorted set"},
    {"zrangestore", -5, W | D, 1, 2, 1, ck_zrangestore, kvx_zrangestore, "sorted_set", "6.2.0", "Store a range of members from sorted set into another key"},
    {"zrevrange", -4, R, 1, 1, 1, NULL, kvx_zrevrange, "sorted_set", "1.2.0", "Return a range of members in a sorted set, by index, with scores ordered from high to low"},
    {"zrangebyscore", -4, R, 1, 1, 1, NULL, kvx_zrangebyscore, "sorted_set", "1.0.5", "Return a range of members in a sorted set, by score"},
    {"zrevrangebyscore", -4, R, 1, 1, 1, NULL, kvx_zrevrangebyscore, "sorted_set", "2.2.0", "Return a range of members in a sorted set, by score, with scores ordered from high to low"},
    {"zrangebylex", -4, R, 1, 1, 1, NULL, kvx_zrangebylex, "sorted_set", "2.8.9", "Return a range of members in a sorted set, by lexicographical range"},
    {"zrevrangebylex", -4, R, 1, 1, 1, NULL, kvx_zrevrangebylex, "sorted_set", "2.8.9", "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings."},
    {"zremrangebyrank", 4, W, 1, 1, 1, ck_zremrangebyrank, kvx_zremrangebyrank, "sorted_set", "2.0.0", "Remove all members in a sorted set within the given indexes"},
    {"zremrangebyscore", 4, W, 1, 1, 1, ck_zremrangebyscore, kvx_zremrangebyscore, "sorted_set", "1.2.0", "Remove all members in a sorted set within the given scores"},
    {"zremrangebylex", 4, W, 1, 1, 1, ck_zremrangebylex, kvx_zremrangebylex, "sorted_set", "2.8.9", "Remove all members in a sorted set between the given lexicographical range"},
    {"zpopmin", -2, W | F, 1, 1, 1, ck_zpop, kvx_zpopmin, "sorted_set", "5.0.0", "Remove and return members with the lowest scores in a sorted set"},
    {"zpopmax", -2, W | F, 1, 1, 1, ck_zpop, kvx_zpopmax, "sorted_set", "5.0.0", "Remove and return members with the highest scores in a sorted set"},
    {"zmpop", -4, W, 0, 0, 0, ck_zmpop, kvx_zmpop, "sorted_set", "7.0.0", "Remove and return members with scores in a sorted set"},
    {"bzpopmin", -3, W | F | B, 1, -2, 1, ck_bzpop, kvx_bzpopmin, "sorted_set", "5.0.0", "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available"},
    {"bzpopmax", -3, W | F | B, 1, -2, 1, ck_bzpop, kvx_bzpopmax, "sorted_set", "5.0.0", "Remove and return the member with the highest score from one or more sorted sets, or block until one is available"},
    {"bzmpop", -5, W | B, 0, 0, 0, ck_bzmpop, kvx_bzmpop, "sorted_set", "7.0.0", "Remove and return members with scores in a sorted set or block until one is available"},
    {"zrandmember", -2, R, 1, 1, 1, NULL, kvx_zrandmember, "sorted_set", "6.2.0", "Get one or multiple random elements from a sorted set"},
    {"zunion", -3, R, 0, 0, 0, NULL, kvx_zunion, "sorted_set", "6.2.0", "Add multiple sorted sets"},
    {"zunionstore", -4, W | D, 1, 1, 1, ck_zsetop_store, kvx_zunionstore, "sorted_set", "2.0.0", "Add multiple sorted sets and store the resulting sorted set in a new key"},
    {"zinter", -3, R, 0, 0, 0, NULL, kvx_zinter, "sorted_set", "6.2.0", "Intersect multiple sorted sets"},
    {"zinterstore", -4, W | D, 1, 1, 1, ck_zsetop_store, kvx_zinterstore, "sorted_set", "2.0.0", "Intersect multiple sorted sets and store the resulting sorted set in a new key"},
    {"zintercard", -3, R, 0, 0, 0, NULL, kvx_zintercard, "sorted_set", "7.0.0", "Intersect multiple sorted sets and return the cardinality of the result"},
    {"zdiff", -3, R, 0, 0, 0, NULL, kvx_zdiff, "sorted_set", "6.2.0", "Subtract multiple sorted sets"},
    {"zdiffstore", -4, W | D, 1, 1, 1, ck_zsetop_store, kvx_zdiffstore, "sorted_set", "6.2.0", "Subtract multiple sorted sets and store the resulting sorted set in a new key"},
    {"zscan", -3, R, 1, 1, 1, NULL, kvx_zscan, "sorted_set", "2.8.0", "Incrementally iterate sorted sets elements and associated scores"},
};
/* clang-format on */
#undef W
#undef R
#undef F
#undef D
#undef B
const size_t kvx_zset_ncommands = sizeof(kvx_zset_commands) / sizeof(kvx_zset_commands[0]);
