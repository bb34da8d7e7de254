/* kvx_string.c -- the string commands (Redis's t_string.c): GET, SET and its
 * variants, MGET/MSET, the counters, APPEND, STRLEN, GETRANGE, SETRANGE, LCS,
 * and the helpers the other families that write strings share.
 *
 * Every function runs after kv_exec() checked arity and ran the command's
 * check; each still parses its own arguments and never trusts them.
 * Pointers returned by a lookup point into the map and are valid only
 * until the next write, so a value is copied (or replied) before any write.
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

void kvx_oom(kv_ctx *c)
{
    if (c->rc == 0) c->rc = KV_ENOMEM;
}

char *kvx_dup(kv_ctx *c, const char *p, size_t n, size_t cap)
{
    char *b = kv_malloc(cap ? cap : 1);
    if (!b) {
        kvx_oom(c);
        return NULL;
    }
    if (n) memcpy(b, p, n);
    return b;
}

/* Rewrites key's string as nlen bytes: the old value (olen <= nlen bytes,
 * none when old is NULL), then zeros. Returns where the new value lives in
 * the map, for the caller to write its part, or NULL with the error set.
 * The new bytes are written once, in place: a 512 MB SETBIT used to go
 * through a malloc, a memset and a copy of its own, which held the event
 * loop seconds on every node. The old value is copied out first, as
 * replacing a record may free its pages. */
char *kvx_rewrite_string(kv_ctx *c, const char *key, size_t keylen, const kv_val *old, size_t nlen,
                         int64_t expiry)
{
    size_t olen = old ? old->len : 0;
    char *copy = NULL, *dst;
    if (olen && !(copy = kvx_dup(c, old->p, olen, olen))) return NULL;
    if (kv_store_reserve_raw(c, key, keylen, nlen, expiry, 1, &dst) != 0) {
        free(copy);
        return NULL;
    }
    if (olen) memcpy(dst, copy, olen);
    if (nlen > olen) memset(dst + olen, 0, nlen - olen);
    free(copy);
    return dst;
}

/* A relative expiry becomes absolute against tau; overflow is Redis's
 * "invalid expire time". */
static int abs_expire(kv_ctx *c, const kv_setopts *o, const char *cmdname, long long *ms)
{
    long long when = o->when;
    if (o->flags & (SET_EX | SET_PX)) {
        if (when > LLONG_MAX - c->tau) {
            resp_add_errorf(c->reply, "ERR invalid expire time in '%s' command", cmdname);
            return -1;
        }
        when += c->tau;
    }
    *ms = when;
    return 0;
}

/* ------------------------------------------------------------ strings */

static void kvx_get(ARGS)
{
    kv_val v;
    UNUSED_ARGS;
    int found = kv_lookup_str(c, argv[1], argvlen[1], &v);
    if (found == 1)
        resp_add_bulk(c->reply, v.p, v.len);
    else if (found == 0)
        resp_add_null(c->reply);
}

/* SET and its variants: setGenericCommand. */
static void set_generic(kv_ctx *c, const char *key, size_t keylen, const char *val, size_t vlen,
                        const kv_setopts *o, const char *cmdname, int reply_int)
{
    kv_val v;
    long long when = 0;
    int found;

    if (o->has_expire && abs_expire(c, o, cmdname, &when) != 0) return;
    if (!(o->flags & (SET_GET | SET_NX | SET_XX | SET_KEEPTTL)) &&
        (!o->has_expire || when > c->tau)) {
        /* A plain SET does not need the old value: kv_store() replaces the
         * record (expired or not) and its expiry index entry in one search. */
        if (kv_store(c, key, keylen, val, vlen, o->has_expire ? when : 0) != 0) return;
        kv_notify(c, KV_NOTIFY_STRING, "set", key, keylen);
        if (o->has_expire) kv_notify(c, KV_NOTIFY_GENERIC, "expire", key, keylen);
        if (reply_int)
            resp_add_int(c->reply, 1);
        else
            resp_add_ok(c->reply);
        return;
    }
    found = kv_lookup(c, key, keylen, &v);
    if (found < 0) return;
    if ((o->flags & SET_GET) && found && v.type != KV_TYPE_STRING) {
        resp_add_error(c->reply, ERR_WRONGTYPE);
        return;
    }
    if (o->flags & SET_GET) {
        if (found)
            resp_add_bulk(c->reply, v.p, v.len);
        else
            resp_add_null(c->reply);
    }
    if (((o->flags & SET_NX) && found) || ((o->flags & SET_XX) && !found)) {
        if (reply_int)
            resp_add_int(c->reply, 0);
        else if (!(o->flags & SET_GET))
            resp_add_null(c->reply);
        return;
    }
    int64_t expiry = 0;
    if (o->has_expire)
        expiry = when;
    else if ((o->flags & SET_KEEPTTL) && found)
        expiry = v.expiry;
    int gone = expiry != 0 && expiry <= c->tau;
    if (gone) {
        /* Already in the past at tau (EXAT/PXAT): set and gone at once. */
        if (found) kv_delete(c, key, keylen);
    } else {
        kv_store(c, key, keylen, val, vlen, expiry);
    }
    if (c->rc != 0) return;
    /* Redis 7.0 stores the key and expires it later: the same events, the
     * "expired" at once. */
    if (gone && !found) kv_notify(c, KV_NOTIFY_NEW, "new", key, keylen);
    kv_notify(c, KV_NOTIFY_STRING, "set", key, keylen);
    if (o->has_expire) kv_notify(c, KV_NOTIFY_GENERIC, "expire", key, keylen);
    if (gone) kv_notify(c, KV_NOTIFY_EXPIRED, "expired", key, keylen);
    if (reply_int)
        resp_add_int(c->reply, 1);
    else if (!(o->flags & SET_GET))
        resp_add_ok(c->reply);
}

static void kvx_set(ARGS)
{
    kv_setopts o;
    if (kv_parse_set(argc, argv, argvlen, 3, 0, "set", &o, c->reply) != 0) return;
    set_generic(c, argv[1], argvlen[1], argv[2], argvlen[2], &o, "set", 0);
}

static void kvx_setnx(ARGS)
{
    kv_setopts o = {.flags = SET_NX};
    UNUSED_ARGS;
    set_generic(c, argv[1], argvlen[1], argv[2], argvlen[2], &o, "setnx", 1);
}

static void setex_generic(ARGS, int seconds, const char *name)
{
    kv_setopts o = {.flags = seconds ? SET_EX : SET_PX, .has_expire = 1};
    UNUSED_ARGS;
    if (kv_parse_expire_value(argv[2], argvlen[2], seconds, name, &o.when, c->reply) != 0) return;
    set_generic(c, argv[1], argvlen[1], argv[3], argvlen[3], &o, name, 0);
}

static void kvx_setex(ARGS)
{
    setex_generic(c, argc, argv, argvlen, 1, "setex");
}

static void kvx_psetex(ARGS)
{
    setex_generic(c, argc, argv, argvlen, 0, "psetex");
}

static void kvx_getset(ARGS)
{
    kv_setopts o = {.flags = SET_GET};
    UNUSED_ARGS;
    set_generic(c, argv[1], argvlen[1], argv[2], argvlen[2], &o, "getset", 0);
}

static void kvx_getdel(ARGS)
{
    kv_val v;
    UNUSED_ARGS;
    int found = kv_lookup_str(c, argv[1], argvlen[1], &v);
    if (found < 0) return;
    if (!found) {
        resp_add_null(c->reply);
        return;
    }
    resp_add_bulk(c->reply, v.p, v.len);
    if (kv_delete(c, argv[1], argvlen[1]) == 1)
        kv_notify(c, KV_NOTIFY_GENERIC, "del", argv[1], argvlen[1]);
}

static void kvx_getex(ARGS)
{
    kv_setopts o;
    kv_val v;
    long long when = 0;

    if (kv_parse_set(argc, argv, argvlen, 2, 1, "getex", &o, c->reply) != 0) return;
    int found = kv_lookup_str(c, argv[1], argvlen[1], &v);
    if (found < 0) return;
    if (!found) {
        resp_add_null(c->reply);
        return;
    }
    if (o.has_expire) {
        int seconds = (o.flags & (SET_EX | SET_EXAT)) != 0;
        if (kv_parse_expire_value(o.expire, o.expirelen, seconds, "getex", &o.when, c->reply))
            return;
        if (abs_expire(c, &o, "getex", &when) != 0) return;
    }
    resp_add_bulk(c->reply, v.p, v.len);
    if (o.has_expire) {
        if (when <= c->tau) {
            if (kv_delete(c, argv[1], argvlen[1]) == 1)
                kv_notify(c, KV_NOTIFY_GENERIC, "del", argv[1], argvlen[1]);
        } else if (kv_set_expiry(c, argv[1], argvlen[1], when) == 0) {
            kv_notify(c, KV_NOTIFY_GENERIC, "expire", argv[1], argvlen[1]);
        }
    } else if ((o.flags & SET_PERSIST) && v.expiry != 0) {
        if (kv_set_expiry(c, argv[1], argvlen[1], 0) == 0)
            kv_notify(c, KV_NOTIFY_GENERIC, "persist", argv[1], argvlen[1]);
    }
}

static void kvx_mget(ARGS)
{
    kv_val v;
    resp_add_array(c->reply, argc - 1);
    for (int j = 1; j < argc && c->rc == 0; j++) {
        if (kv_lookup(c, argv[j], argvlen[j], &v) == 1 && v.type == KV_TYPE_STRING)
            resp_add_bulk(c->reply, v.p, v.len);
        else
            resp_add_null(c->reply);
    }
}

static int mset_args_ok(kv_ctx *c, int argc, const char *name)
{
    if (argc % 2 == 0) {
        resp_add_errorf(c->reply, "ERR wrong number of arguments for '%s' command", name);
        return 0;
    }
    return 1;
}

static void kvx_mset(ARGS)
{
    if (!mset_args_ok(c, argc, "mset")) return;
    for (int j = 1; j < argc && c->rc == 0; j += 2)
        if (kv_store(c, argv[j], argvlen[j], argv[j + 1], argvlen[j + 1], 0) == 0)
            kv_notify(c, KV_NOTIFY_STRING, "set", argv[j], argvlen[j]);
    if (c->rc == 0) resp_add_ok(c->reply);
}

static void kvx_msetnx(ARGS)
{
    kv_val v;
    if (!mset_args_ok(c, argc, "msetnx")) return;
    for (int j = 1; j < argc; j += 2) {
        int found = kv_lookup(c, argv[j], argvlen[j], &v);
        if (found < 0) return;
        if (found) {
            resp_add_int(c->reply, 0);
            return;
        }
    }
    for (int j = 1; j < argc && c->rc == 0; j += 2)
        if (kv_store(c, argv[j], argvlen[j], argv[j + 1], argvlen[j + 1], 0) == 0)
            kv_notify(c, KV_NOTIFY_STRING, "set", argv[j], argvlen[j]);
    if (c->rc == 0) resp_add_int(c->reply, 1);
}

static void incrdecr(kv_ctx *c, const char *key, size_t keylen, long long incr)
{
    kv_val v;
    long long value = 0;
    char buf[32];

    int found = kv_lookup_str(c, key, keylen, &v);
    if (found < 0) return;
    if (found && !kv_string2ll(v.p, v.len, &value)) {
        resp_add_error(c->reply, ERR_NOTINT);
        return;
    }
    if ((incr < 0 && value < 0 && incr < (LLONG_MIN - value)) ||
        (incr > 0 && value > 0 && incr > (LLONG_MAX - value))) {
        resp_add_error(c->reply, "ERR increment or decrement would overflow");
        return;
    }
    value += incr;
    int n = snprintf(buf, sizeof(buf), "%lld", value);
    if (kv_store(c, key, keylen, buf, (size_t)n, found ? v.expiry : 0) == 0) {
        kv_notify(c, KV_NOTIFY_STRING, "incrby", key, keylen);
        resp_add_int(c->reply, value);
    }
}

static void kvx_incr(ARGS)
{
    UNUSED_ARGS;
    incrdecr(c, argv[1], argvlen[1], 1);
}

static void kvx_decr(ARGS)
{
    UNUSED_ARGS;
    incrdecr(c, argv[1], argvlen[1], -1);
}

static void kvx_incrby(ARGS)
{
    long long incr;
    UNUSED_ARGS;
    if (kv_getll(argv[2], argvlen[2], &incr, c->reply) == 0) incrdecr(c, argv[1], argvlen[1], incr);
}

static void kvx_decrby(ARGS)
{
    long long incr;
    UNUSED_ARGS;
    if (kv_getll(argv[2], argvlen[2], &incr, c->reply) != 0) return;
    if (incr == LLONG_MIN) {
        resp_add_error(c->reply, "ERR decrement would overflow");
        return;
    }
    incrdecr(c, argv[1], argvlen[1], -incr);
}

static void kvx_incrbyfloat(ARGS)
{
    kv_val v;
    long double value = 0, incr;
    char buf[5 * 1024];
    UNUSED_ARGS;

    int found = kv_lookup_str(c, argv[1], argvlen[1], &v);
    if (found < 0) return;
    if ((found && !kv_string2ld(v.p, v.len, &value)) || !kv_string2ld(argv[2], argvlen[2], &incr)) {
        resp_add_error(c->reply, ERR_NOTFLOAT);
        return;
    }
    value += incr;
    if (isnan(value) || isinf(value)) {
        resp_add_error(c->reply, "ERR increment would produce NaN or Infinity");
        return;
    }
    int n = kv_ld2string(buf, sizeof(buf), value);
    if (n <= 0) {
        resp_add_error(c->reply, ERR_NOTFLOAT);
        return;
    }
    if (kv_store(c, argv[1], argvlen[1], buf, (size_t)n, found ? v.expiry : 0) == 0) {
        kv_notify(c, KV_NOTIFY_STRING, "incrbyfloat", argv[1], argvlen[1]);
        resp_add_bulk(c->reply, buf, (size_t)n);
    }
}

static void kvx_append(ARGS)
{
    kv_val v;
    UNUSED_ARGS;
    int found = kv_lookup_str(c, argv[1], argvlen[1], &v);
    if (found < 0) return;
    if (!found) {
        if (kv_store(c, argv[1], argvlen[1], argv[2], argvlen[2], 0) == 0) {
            kv_notify(c, KV_NOTIFY_STRING, "append", argv[1], argvlen[1]);
            resp_add_int(c->reply, (int64_t)argvlen[2]);
        }
        return;
    }
    uint64_t total = (uint64_t)v.len + argvlen[2];
    if (total > KV_MAX_STRING_LEN) {
        resp_add_error(c->reply, ERR_STRLEN);
        return;
    }
    char *b = kvx_rewrite_string(c, argv[1], argvlen[1], &v, total, v.expiry);
    if (!b) return;
    memcpy(b + v.len, argv[2], argvlen[2]);
    kv_notify(c, KV_NOTIFY_STRING, "append", argv[1], argvlen[1]);
    resp_add_int(c->reply, (int64_t)total);
}

static void kvx_strlen(ARGS)
{
    kv_val v;
    UNUSED_ARGS;
    int found = kv_lookup_str(c, argv[1], argvlen[1], &v);
    if (found >= 0) resp_add_int(c->reply, found ? (int64_t)v.len : 0);
}

static void kvx_getrange(ARGS)
{
    kv_val v;
    long long start, end;
    UNUSED_ARGS;

    if (kv_getll(argv[2], argvlen[2], &start, c->reply) != 0 ||
        kv_getll(argv[3], argvlen[3], &end, c->reply) != 0)
        return;
    int found = kv_lookup_str(c, argv[1], argvlen[1], &v);
    if (found < 0) return;
    if (!found) {
        resp_add_bulk(c->reply, "", 0);
        return;
    }
    long long len = (long long)v.len;
    if (start < 0 && end < 0 && start > end) {
        resp_add_bulk(c->reply, "", 0);
        return;
    }
    if (start < 0) start = len + start;
    if (end < 0) end = len + end;
    if (start < 0) start = 0;
    if (end < 0) end = 0;
    if (end >= len) end = len - 1;
    if (start > end || len == 0)
        resp_add_bulk(c->reply, "", 0);
    else
        resp_add_bulk(c->reply, v.p + start, (size_t)(end - start + 1));
}

static void kvx_setrange(ARGS)
{
    kv_val v;
    long long off;
    size_t vlen = argvlen[3];
    UNUSED_ARGS;

    if (kv_getll(argv[2], argvlen[2], &off, c->reply) != 0) return;
    if (off < 0) {
        resp_add_error(c->reply, "ERR offset is out of range");
        return;
    }
    int found = kv_lookup_str(c, argv[1], argvlen[1], &v);
    if (found < 0) return;
    if (vlen == 0) {
        resp_add_int(c->reply, found ? (int64_t)v.len : 0);
        return;
    }
    if ((uint64_t)off + vlen > KV_MAX_STRING_LEN) {
        resp_add_error(c->reply, ERR_STRLEN);
        return;
    }
    size_t olen = found ? v.len : 0;
    size_t nlen = (size_t)off + vlen > olen ? (size_t)off + vlen : olen;
    char *b =
        kvx_rewrite_string(c, argv[1], argvlen[1], found ? &v : NULL, nlen, found ? v.expiry : 0);
    if (!b) return;
    memcpy(b + off, argv[3], vlen);
    kv_notify(c, KV_NOTIFY_STRING, "setrange", argv[1], argvlen[1]);
    resp_add_int(c->reply, (int64_t)nlen);
}

/* ------------------------------------------------------------ expiry */

static void kvx_lcs(ARGS)
{
    kv_val va, vb;
    long long minmatchlen = 0;
    int getlen = 0, getidx = 0, withmatchlen = 0;
    char *a = NULL, *b = NULL;
    uint32_t *lcs = NULL;

    /* Redis 7.0 answers a non-string with its own error, not WRONGTYPE. */
    static const char notstr[] = "ERR The specified keys must contain string values";
    int fa = kv_lookup(c, argv[1], argvlen[1], &va);
    if (fa < 0) return;
    if (fa && va.type != KV_TYPE_STRING) {
        resp_add_error(c->reply, notstr);
        return;
    }
    size_t alen0 = fa ? va.len : 0;
    if (!(a = kvx_dup(c, fa ? va.p : NULL, alen0, alen0))) return;
    int fb = kv_lookup(c, argv[2], argvlen[2], &vb);
    if (fb < 0) goto cleanup;
    if (fb && vb.type != KV_TYPE_STRING) {
        resp_add_error(c->reply, notstr);
        goto cleanup;
    }
    size_t blen0 = fb ? vb.len : 0;
    if (!(b = kvx_dup(c, fb ? vb.p : NULL, blen0, blen0))) goto cleanup;

    for (int j = 3; j < argc; j++) {
        int moreargs = (argc - 1) - j;
        if (kv_streqci(argv[j], argvlen[j], "IDX")) {
            getidx = 1;
        } else if (kv_streqci(argv[j], argvlen[j], "LEN")) {
            getlen = 1;
        } else if (kv_streqci(argv[j], argvlen[j], "WITHMATCHLEN")) {
            withmatchlen = 1;
        } else if (kv_streqci(argv[j], argvlen[j], "MINMATCHLEN") && moreargs) {
            if (kv_getll(argv[j + 1], argvlen[j + 1], &minmatchlen, c->reply) != 0) goto cleanup;
            if (minmatchlen < 0) minmatchlen = 0;
            j++;
        } else {
            resp_add_error(c->reply, ERR_SYNTAX);
            goto cleanup;
        }
    }
    if (getidx && getlen) {
        resp_add_error(c->reply,
                       "ERR If you want both the length and indexes, please just use IDX.");
        goto cleanup;
    }
    if (alen0 >= UINT32_MAX - 1 || blen0 >= UINT32_MAX - 1) {
        resp_add_error(c->reply, "ERR String too long for LCS");
        goto cleanup;
    }
    uint32_t alen = (uint32_t)alen0, blen = (uint32_t)blen0;
    unsigned long long lcssize = (unsigned long long)(alen + 1) * (blen + 1);
    unsigned long long lcsalloc = lcssize * sizeof(uint32_t);
    if (lcsalloc > KV_MAX_STRING_LEN) {
        resp_add_error(c->reply, "ERR Insufficient memory, transient memory for LCS exceeds "
                                 "proto-max-bulk-len");
        goto cleanup;
    }
    lcs = kv_malloc(lcsalloc);
    if (!lcs) {
        resp_add_error(c->reply, "ERR Insufficient memory, failed allocating transient memory "
                                 "for LCS");
        goto cleanup;
    }
#define LCS(A, B) lcs[(B) + ((A) * (blen + 1))]
    for (uint32_t i = 0; i <= alen; i++) {
        for (uint32_t j = 0; j <= blen; j++) {
            if (i == 0 || j == 0)
                LCS(i, j) = 0;
            else if (a[i - 1] == b[j - 1])
                LCS(i, j) = LCS(i - 1, j - 1) + 1;
            else {
                uint32_t l1 = LCS(i - 1, j), l2 = LCS(i, j - 1);
                LCS(i, j) = l1 > l2 ? l1 : l2;
            }
        }
    }
    uint32_t idx = LCS(alen, blen);
    char *result = NULL;
    uint32_t arange_start = alen, arange_end = 0, brange_start = 0, brange_end = 0;
    int computelcs = getidx || !getlen;
    if (computelcs && !(result = kv_malloc(idx ? idx : 1))) {
        kvx_oom(c);
        goto cleanup;
    }
    size_t mark = 0;
    long long arraylen = 0;
    if (getidx) {
        resp_add_map(c->reply, 2);
        resp_add_bulk_str(c->reply, "matches");
        mark = resp_add_deferred(c->reply);
    }
    uint32_t i = alen, j = blen;
    while (computelcs && i > 0 && j > 0) {
        int emit_range = 0;
        if (a[i - 1] == b[j - 1]) {
            result[idx - 1] = a[i - 1];
            if (arange_start == alen) {
                arange_start = i - 1;
                arange_end = i - 1;
                brange_start = j - 1;
                brange_end = j - 1;
            } else if (arange_start == i && brange_start == j) {
                arange_start--;
                brange_start--;
            } else {
                emit_range = 1;
            }
            if (arange_start == 0 || brange_start == 0) emit_range = 1;
            idx--;
            i--;
            j--;
        } else {
            uint32_t l1 = LCS(i - 1, j), l2 = LCS(i, j - 1);
            if (l1 > l2)
                i--;
            else
                j--;
            if (arange_start != alen) emit_range = 1;
        }
        uint32_t match_len = arange_end - arange_start + 1;
        if (emit_range) {
            if ((minmatchlen == 0 || match_len >= minmatchlen) && getidx) {
                resp_add_array(c->reply, 2 + withmatchlen);
                resp_add_array(c->reply, 2);
                resp_add_int(c->reply, arange_start);
                resp_add_int(c->reply, arange_end);
                resp_add_array(c->reply, 2);
                resp_add_int(c->reply, brange_start);
                resp_add_int(c->reply, brange_end);
                if (withmatchlen) resp_add_int(c->reply, match_len);
                arraylen++;
            }
            arange_start = alen;
        }
    }
    if (getidx) {
        resp_set_deferred_array(c->reply, mark, arraylen);
        resp_add_bulk_str(c->reply, "len");
        resp_add_int(c->reply, LCS(alen, blen));
    } else if (getlen) {
        resp_add_int(c->reply, idx);
    } else {
        resp_add_bulk(c->reply, result, LCS(alen, blen));
    }
#undef LCS
    free(result);
cleanup:
    free(lcs);
    free(a);
    free(b);
}

/* ------------------------------------------------------------ checks */

KV_CHECK(ck_set)
{
    kv_setopts o;
    return kv_parse_set(argc, argv, argvlen, 3, 0, "set", &o, err);
}

KV_CHECK(ck_getex)
{
    kv_setopts o;
    return kv_parse_set(argc, argv, argvlen, 2, 1, "getex", &o, err);
}

KV_CHECK(ck_setex)
{
    long long ms;
    (void)argc;
    return kv_parse_expire_value(argv[2], argvlen[2], 1, "setex", &ms, err);
}

KV_CHECK(ck_psetex)
{
    long long ms;
    (void)argc;
    return kv_parse_expire_value(argv[2], argvlen[2], 0, "psetex", &ms, err);
}

static int ck_mset_generic(int argc, const char *name, resp_buf *err)
{
    if (argc % 2 == 0) {
        resp_add_errorf(err, "ERR wrong number of arguments for '%s' command", name);
        return -1;
    }
    return 0;
}

KV_CHECK(ck_mset)
{
    (void)argv;
    (void)argvlen;
    return ck_mset_generic(argc, "mset", err);
}

KV_CHECK(ck_msetnx)
{
    (void)argv;
    (void)argvlen;
    return ck_mset_generic(argc, "msetnx", err);
}

KV_CHECK(ck_incrby)
{
    long long v;
    (void)argc;
    return kv_getll(argv[2], argvlen[2], &v, err);
}

KV_CHECK(ck_decrby)
{
    long long v;
    if (ck_incrby(argc, argv, argvlen, err) != 0) return -1;
    kv_string2ll(argv[2], argvlen[2], &v);
    if (v == LLONG_MIN) {
        resp_add_error(err, "ERR decrement would overflow");
        return -1;
    }
    return 0;
}

KV_CHECK(ck_setrange)
{
    long long off;
    (void)argc;
    if (kv_getll(argv[2], argvlen[2], &off, err) != 0) return -1;
    if (off < 0) {
        resp_add_error(err, "ERR offset is out of range");
        return -1;
    }
    if (argvlen[3] > 0 && (uint64_t)off + argvlen[3] > KV_MAX_STRING_LEN) {
        resp_add_error(err, ERR_STRLEN);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ command table */

#define W KV_CMD_WRITE
#define R KV_CMD_READONLY
#define F KV_CMD_FAST
#define D KV_CMD_DENYOOM
/* clang-format off */
const kv_command kvx_string_commands[] = {
    {"get", 2, R | F, 1, 1, 1, NULL, kvx_get, "string", "1.0.0", "Get the value of a key"},
    {"set", -3, W | D, 1, 1, 1, ck_set, kvx_set, "string", "1.0.0", "Set the string value of a key"},
    {"setnx", 3, W | F | D, 1, 1, 1, NULL, kvx_setnx, "string", "1.0.0", "Set the value of a key, only if the key does not exist"},
    {"setex", 4, W | D, 1, 1, 1, ck_setex, kvx_setex, "string", "2.0.0", "Set the value and expiration of a key"},
    {"psetex", 4, W | D, 1, 1, 1, ck_psetex, kvx_psetex, "string", "2.6.0", "Set the value and expiration in milliseconds of a key"},
    {"getset", 3, W | F | D, 1, 1, 1, NULL, kvx_getset, "string", "1.0.0", "Set the string value of a key and return its old value"},
    {"getdel", 2, W | F, 1, 1, 1, NULL, kvx_getdel, "string", "6.2.0", "Get the value of a key and delete the key"},
    {"getex", -2, W | F, 1, 1, 1, ck_getex, kvx_getex, "string", "6.2.0", "Get the value of a key and optionally set its expiration"},
    {"mget", -2, R | F, 1, -1, 1, NULL, kvx_mget, "string", "1.0.0", "Get the values of all the given keys"},
    {"mset", -3, W | D, 1, -1, 2, ck_mset, kvx_mset, "string", "1.0.1", "Set multiple keys to multiple values"},
    {"msetnx", -3, W | D, 1, -1, 2, ck_msetnx, kvx_msetnx, "string", "1.0.1", "Set multiple keys to multiple values, only if none of the keys exist"},
    {"incr", 2, W | F | D, 1, 1, 1, NULL, kvx_incr, "string", "1.0.0", "Increment the integer value of a key by one"},
    {"decr", 2, W | F | D, 1, 1, 1, NULL, kvx_decr, "string", "1.0.0", "Decrement the integer value of a key by one"},
    {"incrby", 3, W | F | D, 1, 1, 1, ck_incrby, kvx_incrby, "string", "1.0.0", "Increment the integer value of a key by the given amount"},
    {"decrby", 3, W | F | D, 1, 1, 1, ck_decrby, kvx_decrby, "string", "1.0.0", "Decrement the integer value of a key by the given number"},
    {"incrbyfloat", 3, W | F | D, 1, 1, 1, NULL, kvx_incrbyfloat, "string", "2.6.0", "Increment the float value of a key by the given amount"},
    {"append", 3, W | F | D, 1, 1, 1, NULL, kvx_append, "string", "2.0.0", "Append a value to a key"},
    {"strlen", 2, R | F, 1, 1, 1, NULL, kvx_strlen, "string", "2.2.0", "Get the length of the value stored in a key"},
    {"getrange", 4, R, 1, 1, 1, NULL, kvx_getrange, "string", "2.4.0", "Get a substring of the string stored at a key"},
    {"substr", 4, R, 1, 1, 1, NULL, kvx_getrange, "string", "1.0.0", "Get a substring of the string stored at a key"},
    {"setrange", 4, W | D, 1, 1, 1, ck_setrange, kvx_setrange, "string", "2.2.0", "Overwrite part of a string at key starting at the specified offset"},
    {"lcs", -3, R, 1, 2, 1, NULL, kvx_lcs, "string", "7.0.0", "Find longest common substring"},
};
/* clang-format on */
#undef W
#undef R
#undef F
#undef D
const size_t kvx_string_ncommands = sizeof(kvx_string_commands) / sizeof(kvx_string_commands[0]);
