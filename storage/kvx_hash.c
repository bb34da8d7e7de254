/* kvx_hash.c -- the hash commands (Redis 7.0's t_hash.c), on the typed key
 * space (kvks.h): each field is an element record (field -> value) of the
 * hash's version, so HSET, HGET and HDEL cost one B-tree operation at any
 * size, and the fields come back ordered by their bytes (Redis: insertion
 * order for a small hash, hash order for a large one).
 *
 * OBJECT ENCODING follows Redis's defaults: listpack while the hash has at
 * most 512 fields and no field or value longer than 64 bytes, then
 * hashtable for good. */
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

#define LP_ENTRIES 512 /* hash-max-listpack-entries (redis-server 7.0.15 says 512) */
#define LP_VALUE 64    /* hash-max-listpack-value */

/* The hash at key for a write, created empty (not stored) when missing.
 * 1 existing, 0 new, -1 stop (WRONGTYPE replied or an error set). */
static int lookup_or_create(kv_ctx *c, const char *key, size_t keylen, kv_val *v)
{
    int found = kv_lookup_type(c, key, keylen, KV_TYPE_HASH, v);
    if (found != 0) return found;
    return kv_coll_new(c, KV_TYPE_HASH, KV_ENC_LISTPACK, v) == 0 ? 0 : -1;
}

static void grow_encoding(kv_val *v, size_t flen, size_t vlen)
{
    if (v->enc == KV_ENC_LISTPACK && (flen > LP_VALUE || vlen > LP_VALUE))
        v->enc = KV_ENC_HASHTABLE;
}

static void check_count(kv_val *v)
{
    if (v->enc == KV_ENC_LISTPACK && v->count > LP_ENTRIES) v->enc = KV_ENC_HASHTABLE;
}

/* Sets one field; counts it in v when new. 1 new, 0 updated, -1 error. */
static int hset_one(kv_ctx *c, kv_val *v, const char *f, size_t flen, const char *val, size_t vlen)
{
    int created;
    if (kv_elem_put(c, v->ver, f, flen, val, vlen, &created) != 0) return -1;
    if (created) v->count++;
    return created;
}

/* ------------------------------------------------------------ writes */

KV_CHECK(ck_hset)
{
    (void)argv, (void)argvlen;
    if (argc % 2 == 1) {
        resp_add_errorf(err, "ERR wrong number of arguments for '%s' command",
                        kv_streqci(argv[0], argvlen[0], "hmset") ? "hmset" : "hset");
        return -1;
    }
    return 0;
}

static void hset_generic(ARGS, int is_hmset)
{
    kv_val v;
    if (ck_hset(argc, argv, argvlen, c->reply) != 0) return;
    int found = lookup_or_create(c, argv[1], argvlen[1], &v);
    if (found < 0) return;
    for (int i = 2; i < argc; i++) /* Redis converts before inserting */
        grow_encoding(&v, argvlen[i], 0);
    long long created = 0;
    for (int i = 2; i < argc; i += 2) {
        int r = hset_one(c, &v, argv[i], argvlen[i], argv[i + 1], argvlen[i + 1]);
        if (r < 0) return;
        created += r;
    }
    check_count(&v);
    if (kv_coll_save(c, argv[1], argvlen[1], &v) != 0) return;
    kv_notify(c, KV_NOTIFY_HASH, "hset", argv[1], argvlen[1]);
    if (is_hmset)
        resp_add_ok(c->reply);
    else
        resp_add_int(c->reply, created);
}

static void kvx_hset(ARGS)
{
    hset_generic(c, argc, argv, argvlen, 0);
}

static void kvx_hmset(ARGS)
{
    hset_generic(c, argc, argv, argvlen, 1);
}

static void kvx_hsetnx(ARGS)
{
    kv_val v;
    const char *old;
    size_t oldlen;
    UNUSED_ARGS;
    int found = lookup_or_create(c, argv[1], argvlen[1], &v);
    if (found < 0) return;
    grow_encoding(&v, argvlen[2], argvlen[3]);
    if (found) {
        int r = kv_elem_get(c, v.ver, argv[2], argvlen[2], &old, &oldlen);
        if (r < 0) return;
        if (r == 1) {
            resp_add_int(c->reply, 0);
            return;
        }
    }
    if (hset_one(c, &v, argv[2], argvlen[2], argv[3], argvlen[3]) < 0) return;
    check_count(&v);
    if (kv_coll_save(c, argv[1], argvlen[1], &v) != 0) return;
    kv_notify(c, KV_NOTIFY_HASH, "hset", argv[1], argvlen[1]);
    resp_add_int(c->reply, 1);
}

static void kvx_hdel(ARGS)
{
    kv_val v;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_HASH, &v);
    if (found < 0) return;
    if (!found) {
        resp_add_int(c->reply, 0);
        return;
    }
    long long deleted = 0;
    for (int i = 2; i < argc; i++) {
        int r = kv_elem_del(c, v.ver, argv[i], argvlen[i]);
        if (r < 0) return;
        if (r == 1) {
            deleted++;
            v.count--;
        }
        if (v.count == 0) break; /* Redis stops once the hash is gone */
    }
    if (deleted) {
        if (kv_coll_save(c, argv[1], argvlen[1], &v) != 0) return;
        kv_notify(c, KV_NOTIFY_HASH, "hdel", argv[1], argvlen[1]);
        if (v.count == 0) kv_notify(c, KV_NOTIFY_GENERIC, "del", argv[1], argvlen[1]);
    }
    resp_add_int(c->reply, deleted);
}

KV_CHECK(ck_hincrby)
{
    long long incr;
    (void)argc;
    return kv_getll(argv[3], argvlen[3], &incr, err);
}

static void kvx_hincrby(ARGS)
{
    kv_val v;
    long long incr, value = 0;
    const char *old;
    size_t oldlen;
    UNUSED_ARGS;
    if (kv_getll(argv[3], argvlen[3], &incr, c->reply) != 0) return;
    int found = lookup_or_create(c, argv[1], argvlen[1], &v);
    if (found < 0) return;
    int r = found ? kv_elem_get(c, v.ver, argv[2], argvlen[2], &old, &oldlen) : 0;
    if (r < 0) return;
    if (r == 1 && !kv_string2ll(old, oldlen, &value)) {
        resp_add_error(c->reply, "ERR hash value is not an integer");
        return;
    }
    if ((incr < 0 && value < 0 && incr < LLONG_MIN - value) ||
        (incr > 0 && value > 0 && incr > LLONG_MAX - value)) {
        resp_add_error(c->reply, "ERR increment or decrement would overflow");
        return;
    }
    value += incr;
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%lld", value);
    grow_encoding(&v, argvlen[2], (size_t)n);
    if (hset_one(c, &v, argv[2], argvlen[2], buf, (size_t)n) < 0) return;
    check_count(&v);
    if (kv_coll_save(c, argv[1], argvlen[1], &v) != 0) return;
    kv_notify(c, KV_NOTIFY_HASH, "hincrby", argv[1], argvlen[1]);
    resp_add_int(c->reply, value);
}

KV_CHECK(ck_hincrbyfloat)
{
    long double incr;
    (void)argc;
    if (!kv_string2ld(argv[3], argvlen[3], &incr)) {
        resp_add_error(err, ERR_NOTFLOAT);
        return -1;
    }
    if (isnan(incr) || isinf(incr)) {
        resp_add_error(err, "ERR value is NaN or Infinity");
        return -1;
    }
    return 0;
}

static void kvx_hincrbyfloat(ARGS)
{
    kv_val v;
    long double incr, value = 0;
    const char *old;
    size_t oldlen;
    if (ck_hincrbyfloat(argc, argv, argvlen, c->reply) != 0) return;
    kv_string2ld(argv[3], argvlen[3], &incr);
    int found = lookup_or_create(c, argv[1], argvlen[1], &v);
    if (found < 0) return;
    int r = found ? kv_elem_get(c, v.ver, argv[2], argvlen[2], &old, &oldlen) : 0;
    if (r < 0) return;
    if (r == 1 && !kv_string2ld(old, oldlen, &value)) {
        resp_add_error(c->reply, "ERR hash value is not a float");
        return;
    }
    value += incr;
    if (isnan(value) || isinf(value)) {
        resp_add_error(c->reply, "ERR increment would produce NaN or Infinity");
        return;
    }
    char buf[5600];
    int n = kv_ld2string(buf, sizeof(buf), value);
    if (n <= 0) {
        resp_add_error(c->reply, "ERR increment would produce NaN or Infinity");
        return;
    }
    grow_encoding(&v, argvlen[2], (size_t)n);
    if (hset_one(c, &v, argv[2], argvlen[2], buf, (size_t)n) < 0) return;
    check_count(&v);
    if (kv_coll_save(c, argv[1], argvlen[1], &v) != 0) return;
    kv_notify(c, KV_NOTIFY_HASH, "hincrbyfloat", argv[1], argvlen[1]);
    resp_add_bulk(c->reply, buf, (size_t)n);
}

/* ------------------------------------------------------------ reads */

static void kvx_hget(ARGS)
{
    kv_val v;
    const char *val = NULL;
    size_t vlen = 0;
    UNUSED_ARGS;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_HASH, &v);
    if (found < 0) return;
    int r = found ? kv_elem_get(c, v.ver, argv[2], argvlen[2], &val, &vlen) : 0;
    if (r < 0) return;
    if (r == 1)
        resp_add_bulk(c->reply, val, vlen);
    else
        resp_add_null(c->reply);
}

static void kvx_hmget(ARGS)
{
    kv_val v;
    const char *val = NULL;
    size_t vlen = 0;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_HASH, &v);
    if (found < 0) return;
    resp_add_array(c->reply, argc - 2);
    for (int i = 2; i < argc; i++) {
        int r = found ? kv_elem_get(c, v.ver, argv[i], argvlen[i], &val, &vlen) : 0;
        if (r < 0) return;
        if (r == 1)
            resp_add_bulk(c->reply, val, vlen);
        else
            resp_add_null(c->reply);
    }
}

static void kvx_hlen(ARGS)
{
    kv_val v;
    UNUSED_ARGS;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_HASH, &v);
    if (found >= 0) resp_add_int(c->reply, found ? (int64_t)v.count : 0);
}

static void kvx_hstrlen(ARGS)
{
    kv_val v;
    const char *val;
    size_t vlen = 0;
    UNUSED_ARGS;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_HASH, &v);
    if (found < 0) return;
    int r = found ? kv_elem_get(c, v.ver, argv[2], argvlen[2], &val, &vlen) : 0;
    if (r < 0) return;
    resp_add_int(c->reply, r == 1 ? (int64_t)vlen : 0);
}

static void kvx_hexists(ARGS)
{
    kv_val v;
    const char *val;
    size_t vlen;
    UNUSED_ARGS;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_HASH, &v);
    if (found < 0) return;
    int r = found ? kv_elem_get(c, v.ver, argv[2], argvlen[2], &val, &vlen) : 0;
    if (r >= 0) resp_add_int(c->reply, r);
}

enum { WANT_KEYS = 1, WANT_VALS = 2 };

static void getall_generic(ARGS, int want)
{
    kv_val v;
    kv_iter it;
    const char *f, *val;
    size_t flen, vlen;
    UNUSED_ARGS;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_HASH, &v);
    if (found < 0) return;
    if (!found) {
        if (want == (WANT_KEYS | WANT_VALS))
            resp_add_map(c->reply, 0);
        else
            resp_add_array(c->reply, 0);
        return;
    }
    if (want == (WANT_KEYS | WANT_VALS))
        resp_add_map(c->reply, (int64_t)v.count);
    else
        resp_add_array(c->reply, (int64_t)v.count);
    if (kv_iter_open(c, &it, KV_T_ELEM, v.ver, NULL, 0, 0) != 0) return;
    uint64_t n = 0;
    int r;
    while (n < v.count && (r = kv_iter_next(&it, &f, &flen, &val, &vlen)) == 1) {
        if (want & WANT_KEYS) resp_add_bulk(c->reply, f, flen);
        if (want & WANT_VALS) resp_add_bulk(c->reply, val, vlen);
        n++;
    }
    kv_iter_close(&it);
    if (c->rc == 0 && n != v.count) c->rc = KV_ECORRUPT; /* the count and the records disagree */
}

static void kvx_hgetall(ARGS)
{
    getall_generic(c, argc, argv, argvlen, WANT_KEYS | WANT_VALS);
}

static void kvx_hkeys(ARGS)
{
    getall_generic(c, argc, argv, argvlen, WANT_KEYS);
}

static void kvx_hvals(ARGS)
{
    getall_generic(c, argc, argv, argvlen, WANT_VALS);
}

/* A field at a random place of the hash: the first at or after 8 random
 * bytes, wrapping to the first: one seek at any size, but not uniform (it
 * favours fields after wide gaps in byte order), so it serves only a
 * hashtable-encoded hash; a listpack one is picked from uniformly. */
static int random_field(kv_ctx *c, const kv_val *v, const char **f, size_t *flen, const char **val,
                        size_t *vlen, kv_iter *it)
{
    unsigned char from[8];
    kv_put_be64(from, kv_rand(c));
    if (kv_iter_open(c, it, KV_T_ELEM, v->ver, from, sizeof(from), 0) != 0) return -1;
    int r = kv_iter_next(it, f, flen, val, vlen);
    if (r == 0) {
        kv_iter_close(it);
        if (kv_iter_open(c, it, KV_T_ELEM, v->ver, NULL, 0, 0) != 0) return -1;
        r = kv_iter_next(it, f, flen, val, vlen);
    }
    if (r <= 0) kv_iter_close(it);
    if (r == 0 && c->rc == 0) c->rc = KV_ECORRUPT; /* a live hash has a field */
    return r == 1 ? 0 : -1;
}

static void pair_or_field(kv_ctx *c, int withvalues, const char *f, size_t flen, const char *val,
                          size_t vlen)
{
    if (withvalues && c->reply->proto > 2) resp_add_array(c->reply, 2);
    resp_add_bulk(c->reply, f, flen);
    if (withvalues) resp_add_bulk(c->reply, val, vlen);
}

/* A listpack hash (at most LP_ENTRIES fields and values of at most
 * LP_VALUE bytes) copied out, so picks from it are uniform, as Redis's are.
 * small_load: 0 loaded, 1 a field or value is longer (nothing loaded), -1
 * error. */
typedef struct small_hash {
    uint64_t n;
    size_t *off; /* per field: field, then value, in buf */
    uint32_t *flen, *vlen;
    char *buf;
} small_hash;

static void small_free(small_hash *h)
{
    free(h->off);
    free(h->flen);
    free(h->vlen);
    free(h->buf);
}

static int small_load(kv_ctx *c, const kv_val *v, small_hash *h)
{
    kv_iter it;
    const char *f, *val;
    size_t flen, vlen, used = 0;
    uint64_t n = v->count;
    int r;
    memset(h, 0, sizeof(*h));
    h->off = kv_calloc(n, sizeof(*h->off));
    h->flen = kv_calloc(n, sizeof(*h->flen));
    h->vlen = kv_calloc(n, sizeof(*h->vlen));
    h->buf = kv_malloc(n * 2 * LP_VALUE + 1);
    if (!h->off || !h->flen || !h->vlen || !h->buf) goto oom;
    if (kv_iter_open(c, &it, KV_T_ELEM, v->ver, NULL, 0, 0) != 0) goto fail;
    while (h->n < n && (r = kv_iter_next(&it, &f, &flen, &val, &vlen)) == 1) {
        if (flen > LP_VALUE || vlen > LP_VALUE) break; /* too long: the caller seeks */
        h->off[h->n] = used;
        h->flen[h->n] = (uint32_t)flen;
        h->vlen[h->n] = (uint32_t)vlen;
        memcpy(h->buf + used, f, flen);
        memcpy(h->buf + used + flen, val, vlen);
        used += flen + vlen;
        h->n++;
    }
    kv_iter_close(&it);
    if (h->n == n) return 0;
    small_free(h);
    return c->rc == 0 ? 1 : -1;
oom:
    kvx_oom(c);
fail:
    small_free(h);
    return -1;
}

static void small_emit(kv_ctx *c, const small_hash *h, uint64_t i, int withvalues)
{
    const char *f = h->buf + h->off[i];
    pair_or_field(c, withvalues, f, h->flen[i], f + h->flen[i], h->vlen[i]);
}

/* HRANDFIELD key [count [WITHVALUES]]: the count is parsed before the
 * option, as hrandfieldCommand does, and WITHVALUES bounds it to half the
 * range (Redis 7.0.15: "value is out of range"). */
static void kvx_hrandfield(ARGS)
{
    kv_val v;
    kv_iter it;
    const char *f, *val;
    size_t flen, vlen;
    long long count = 0;
    int withvalues = 0, has_count = argc >= 3;

    if (has_count) {
        if (kv_getll(argv[2], argvlen[2], &count, c->reply) != 0) return;
        if (count < -LLONG_MAX) {
            resp_add_error(c->reply, "ERR value is out of range, value must between "
                                     "-9223372036854775807 and 9223372036854775807");
            return;
        }
    }
    if (argc >= 4) {
        if (argc > 4 || !kv_streqci(argv[3], argvlen[3], "withvalues")) {
            resp_add_error(c->reply, ERR_SYNTAX);
            return;
        }
        withvalues = 1;
        if (count < -LLONG_MAX / 2 || count > LLONG_MAX / 2) {
            resp_add_error(c->reply, "ERR value is out of range");
            return;
        }
    }
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_HASH, &v);
    if (found < 0) return;
    if (has_count && (!found || count == 0)) {
        resp_add_array(c->reply, 0);
        return;
    }
    if (!has_count && !found) {
        resp_add_null(c->reply);
        return;
    }
    int per = withvalues && c->reply->proto == 2 ? 2 : 1;
    unsigned long long n = 1; /* picks, for the forms that may repeat */
    if (count < 0) {
        n = (unsigned long long)(-(count + 1)) + 1;
        if (n > (1ull << 22)) { /* applied on every node inside MULTI: bounded */
            resp_add_error(c->reply, "ERR value is out of range");
            return;
        }
    }
    if (!has_count || count < 0) {
        if (v.enc == KV_ENC_LISTPACK && v.count <= LP_ENTRIES) {
            /* Uniform picks from a copy of the (small) hash. */
            small_hash h;
            int lr = small_load(c, &v, &h);
            if (lr < 0) return;
            if (lr == 0) {
                if (has_count) resp_add_array(c->reply, (int64_t)(n * (unsigned)per));
                for (unsigned long long i = 0; i < n; i++) {
                    uint64_t j = kv_rand(c) % h.n;
                    if (has_count)
                        small_emit(c, &h, j, withvalues);
                    else
                        resp_add_bulk(c->reply, h.buf + h.off[j], h.flen[j]);
                }
                small_free(&h);
                return;
            }
        }
        /* A large hash: each pick is one seek (see random_field). */
        if (has_count) resp_add_array(c->reply, (int64_t)(n * (unsigned)per));
        for (unsigned long long i = 0; i < n && c->rc == 0; i++) {
            if (random_field(c, &v, &f, &flen, &val, &vlen, &it) != 0) return;
            if (has_count)
                pair_or_field(c, withvalues, f, flen, val, vlen);
            else
                resp_add_bulk(c->reply, f, flen);
            kv_iter_close(&it);
        }
        return;
    }
    /* Distinct fields: all of them, or a selection sample in byte order
     * (Knuth's algorithm S: each field kept with probability
     * needed / remaining). */
    uint64_t want = (uint64_t)count >= v.count ? v.count : (uint64_t)count;
    resp_add_array(c->reply, (int64_t)(want * (unsigned)per));
    if (kv_iter_open(c, &it, KV_T_ELEM, v.ver, NULL, 0, 0) != 0) return;
    uint64_t left = v.count, need = want;
    int r;
    while (need > 0 && (r = kv_iter_next(&it, &f, &flen, &val, &vlen)) == 1) {
        if (kv_rand(c) % left < need) {
            pair_or_field(c, withvalues, f, flen, val, vlen);
            need--;
        }
        left--;
    }
    kv_iter_close(&it);
    if (c->rc == 0 && need != 0) c->rc = KV_ECORRUPT;
}

/* HSCAN: a small hash (listpack) comes whole, as in Redis; the walk is
 * kv_scan_elements(). */
static int hscan_emit(kv_ctx *c, resp_buf *out, const char *f, size_t flen, const char *val,
                      size_t vlen)
{
    (void)c;
    resp_add_bulk(out, f, flen);
    resp_add_bulk(out, val, vlen);
    return 2;
}

static void kvx_hscan(ARGS)
{
    kv_val v;
    unsigned long long cursor;
    long long count = 10;
    const char *pat = NULL;
    size_t patlen = 0;

    if (kv_scan_cursor(argv[2], &cursor, c->reply) != 0) return;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_HASH, &v);
    if (found < 0) return;
    if (!found) {
        kv_scan_reply_empty(c->reply);
        return;
    }
    if (kv_scan_opts(argc, argv, argvlen, 3, 0, &count, &pat, &patlen, NULL, NULL, c->reply) != 0)
        return;
    kv_scan_elements(c, &v, KV_T_ELEM, v.enc == KV_ENC_LISTPACK, cursor, count, pat, patlen,
                     hscan_emit);
}

/* ------------------------------------------------------------ command table */

#define W KV_CMD_WRITE
#define R KV_CMD_READONLY
#define F KV_CMD_FAST
#define D KV_CMD_DENYOOM
/* clang-format off */
const kv_command kvx_hash_commands[] = {
    {"hset", -4, W | D | F, 1, 1, 1, ck_hset, kvx_hset, "hash", "2.0.0", "Set the string value of a hash field"},
    {"hsetnx", 4, W | D | F, 1, 1, 1, NULL, kvx_hsetnx, "hash", "2.0.0", "Set the value of a hash field, only if the field does not exist"},
    {"hmset", -4, W | D | F, 1, 1, 1, ck_hset, kvx_hmset, "hash", "2.0.0", "Set multiple hash fields to multiple values"},
    {"hget", 3, R | F, 1, 1, 1, NULL, kvx_hget, "hash", "2.0.0", "Get the value of a hash field"},
    {"hmget", -3, R | F, 1, 1, 1, NULL, kvx_hmget, "hash", "2.0.0", "Get the values of all the given hash fields"},
    {"hgetall", 2, R, 1, 1, 1, NULL, kvx_hgetall, "hash", "2.0.0", "Get all the fields and values in a hash"},
    {"hdel", -3, W | F, 1, 1, 1, NULL, kvx_hdel, "hash", "2.0.0", "Delete one or more hash fields"},
    {"hlen", 2, R | F, 1, 1, 1, NULL, kvx_hlen, "hash", "2.0.0", "Get the number of fields in a hash"},
    {"hstrlen", 3, R | F, 1, 1, 1, NULL, kvx_hstrlen, "hash", "3.2.0", "Get the length of the value of a hash field"},
    {"hexists", 3, R | F, 1, 1, 1, NULL, kvx_hexists, "hash", "2.0.0", "Determine if a hash field exists"},
    {"hkeys", 2, R, 1, 1, 1, NULL, kvx_hkeys, "hash", "2.0.0", "Get all the fields in a hash"},
    {"hvals", 2, R, 1, 1, 1, NULL, kvx_hvals, "hash", "2.0.0", "Get all the values in a hash"},
    {"hincrby", 4, W | D | F, 1, 1, 1, ck_hincrby, kvx_hincrby, "hash", "2.0.0", "Increment the integer value of a hash field by the given number"},
    {"hincrbyfloat", 4, W | D | F, 1, 1, 1, ck_hincrbyfloat, kvx_hincrbyfloat, "hash", "2.6.0", "Increment the float value of a hash field by the given amount"},
    {"hrandfield", -2, R, 1, 1, 1, NULL, kvx_hrandfield, "hash", "6.2.0", "Get one or multiple random fields from a hash"},
    {"hscan", -3, R, 1, 1, 1, NULL, kvx_hscan, "hash", "2.8.0", "Incrementally iterate hash fields and associated values"},
};
/* clang-format on */
#undef W
#undef R
#undef F
#undef D
const size_t kvx_hash_ncommands = sizeof(kvx_hash_commands) / sizeof(kvx_hash_commands[0]);
