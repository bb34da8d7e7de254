/* kvexec.c -- the data commands, with redis-server 7.0's replies (its
 * t_string.c, db.c, expire.c, bitops.c are the reference for each rule).
 *
 * Every function runs after kv_exec() checked arity and ran the command's
 * check; each still parses its own arguments and never trusts them.
 * Pointers returned by kv_lookup() point into the map and are valid only
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

#define ARGS kv_ctx *c, int argc, char **argv, size_t *argvlen
#define UNUSED_ARGS                                                                                \
    (void)argc;                                                                                    \
    (void)argv;                                                                                    \
    (void)argvlen

static void oom(kv_ctx *c)
{
    if (c->rc == 0) c->rc = KV_ENOMEM;
}

static char *dup_bytes(kv_ctx *c, const char *p, size_t n, size_t cap)
{
    char *b = kv_malloc(cap ? cap : 1);
    if (!b) {
        oom(c);
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
static char *rewrite_string(kv_ctx *c, const char *key, size_t keylen, const kv_val *old,
                            size_t nlen, int64_t expiry)
{
    size_t olen = old ? old->len : 0;
    char *copy = NULL, *dst;
    if (olen && !(copy = dup_bytes(c, old->p, olen, olen))) return NULL;
    if (kv_store_reserve(c, key, keylen, nlen, expiry, &dst) != 0) {
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

void kvx_get(ARGS)
{
    kv_val v;
    UNUSED_ARGS;
    if (kv_lookup(c, argv[1], argvlen[1], &v) == 1)
        resp_add_bulk(c->reply, v.p, v.len);
    else if (c->rc == 0)
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
        if (reply_int)
            resp_add_int(c->reply, 1);
        else
            resp_add_ok(c->reply);
        return;
    }
    found = kv_lookup(c, key, keylen, &v);
    if (found < 0) return;
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
    if (expiry != 0 && expiry <= c->tau) {
        /* Already in the past at tau (EXAT/PXAT): set and gone at once. */
        if (found) kv_delete(c, key, keylen);
    } else {
        kv_store(c, key, keylen, val, vlen, expiry);
    }
    if (c->rc != 0) return;
    if (reply_int)
        resp_add_int(c->reply, 1);
    else if (!(o->flags & SET_GET))
        resp_add_ok(c->reply);
}

void kvx_set(ARGS)
{
    kv_setopts o;
    if (kv_parse_set(argc, argv, argvlen, 3, 0, "set", &o, c->reply) != 0) return;
    set_generic(c, argv[1], argvlen[1], argv[2], argvlen[2], &o, "set", 0);
}

void kvx_setnx(ARGS)
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

void kvx_setex(ARGS)
{
    setex_generic(c, argc, argv, argvlen, 1, "setex");
}

void kvx_psetex(ARGS)
{
    setex_generic(c, argc, argv, argvlen, 0, "psetex");
}

void kvx_getset(ARGS)
{
    kv_setopts o = {.flags = SET_GET};
    UNUSED_ARGS;
    set_generic(c, argv[1], argvlen[1], argv[2], argvlen[2], &o, "getset", 0);
}

void kvx_getdel(ARGS)
{
    kv_val v;
    UNUSED_ARGS;
    int found = kv_lookup(c, argv[1], argvlen[1], &v);
    if (found < 0) return;
    if (!found) {
        resp_add_null(c->reply);
        return;
    }
    resp_add_bulk(c->reply, v.p, v.len);
    kv_delete(c, argv[1], argvlen[1]);
}

void kvx_getex(ARGS)
{
    kv_setopts o;
    kv_val v;
    long long when = 0;

    if (kv_parse_set(argc, argv, argvlen, 2, 1, "getex", &o, c->reply) != 0) return;
    int found = kv_lookup(c, argv[1], argvlen[1], &v);
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
        if (when <= c->tau)
            kv_delete(c, argv[1], argvlen[1]);
        else
            kv_set_expiry(c, argv[1], argvlen[1], when);
    } else if ((o.flags & SET_PERSIST) && v.expiry != 0) {
        kv_set_expiry(c, argv[1], argvlen[1], 0);
    }
}

void kvx_mget(ARGS)
{
    kv_val v;
    resp_add_array(c->reply, argc - 1);
    for (int j = 1; j < argc && c->rc == 0; j++) {
        if (kv_lookup(c, argv[j], argvlen[j], &v) == 1)
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

void kvx_mset(ARGS)
{
    if (!mset_args_ok(c, argc, "mset")) return;
    for (int j = 1; j < argc && c->rc == 0; j += 2)
        kv_store(c, argv[j], argvlen[j], argv[j + 1], argvlen[j + 1], 0);
    if (c->rc == 0) resp_add_ok(c->reply);
}

void kvx_msetnx(ARGS)
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
        kv_store(c, argv[j], argvlen[j], argv[j + 1], argvlen[j + 1], 0);
    if (c->rc == 0) resp_add_int(c->reply, 1);
}

static void incrdecr(kv_ctx *c, const char *key, size_t keylen, long long incr)
{
    kv_val v;
    long long value = 0;
    char buf[32];

    int found = kv_lookup(c, key, keylen, &v);
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
    if (kv_store(c, key, keylen, buf, (size_t)n, found ? v.expiry : 0) == 0)
        resp_add_int(c->reply, value);
}

void kvx_incr(ARGS)
{
    UNUSED_ARGS;
    incrdecr(c, argv[1], argvlen[1], 1);
}

void kvx_decr(ARGS)
{
    UNUSED_ARGS;
    incrdecr(c, argv[1], argvlen[1], -1);
}

void kvx_incrby(ARGS)
{
    long long incr;
    UNUSED_ARGS;
    if (kv_getll(argv[2], argvlen[2], &incr, c->reply) == 0) incrdecr(c, argv[1], argvlen[1], incr);
}

void kvx_decrby(ARGS)
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

void kvx_incrbyfloat(ARGS)
{
    kv_val v;
    long double value = 0, incr;
    char buf[5 * 1024];
    UNUSED_ARGS;

    int found = kv_lookup(c, argv[1], argvlen[1], &v);
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
    if (kv_store(c, argv[1], argvlen[1], buf, (size_t)n, found ? v.expiry : 0) == 0)
        resp_add_bulk(c->reply, buf, (size_t)n);
}

void kvx_append(ARGS)
{
    kv_val v;
    UNUSED_ARGS;
    int found = kv_lookup(c, argv[1], argvlen[1], &v);
    if (found < 0) return;
    if (!found) {
        if (kv_store(c, argv[1], argvlen[1], argv[2], argvlen[2], 0) == 0)
            resp_add_int(c->reply, (int64_t)argvlen[2]);
        return;
    }
    uint64_t total = (uint64_t)v.len + argvlen[2];
    if (total > KV_MAX_STRING_LEN) {
        resp_add_error(c->reply, ERR_STRLEN);
        return;
    }
    char *b = rewrite_string(c, argv[1], argvlen[1], &v, total, v.expiry);
    if (!b) return;
    memcpy(b + v.len, argv[2], argvlen[2]);
    resp_add_int(c->reply, (int64_t)total);
}

void kvx_strlen(ARGS)
{
    kv_val v;
    UNUSED_ARGS;
    int found = kv_lookup(c, argv[1], argvlen[1], &v);
    if (found >= 0) resp_add_int(c->reply, found ? (int64_t)v.len : 0);
}

void kvx_getrange(ARGS)
{
    kv_val v;
    long long start, end;
    UNUSED_ARGS;

    if (kv_getll(argv[2], argvlen[2], &start, c->reply) != 0 ||
        kv_getll(argv[3], argvlen[3], &end, c->reply) != 0)
        return;
    int found = kv_lookup(c, argv[1], argvlen[1], &v);
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

void kvx_setrange(ARGS)
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
    int found = kv_lookup(c, argv[1], argvlen[1], &v);
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
    char *b = rewrite_string(c, argv[1], argvlen[1], found ? &v : NULL, nlen, found ? v.expiry : 0);
    if (!b) return;
    memcpy(b + off, argv[3], vlen);
    resp_add_int(c->reply, (int64_t)nlen);
}

/* ------------------------------------------------------------ expiry */

static void expire_generic(ARGS, int seconds, int absolute, const char *name)
{
    kv_val v;
    int flags;
    long long when;

    if (kv_parse_expire(argc, argv, argvlen, seconds, name, &flags, &when, c->reply) != 0) return;
    if (!absolute) {
        if (when > LLONG_MAX - c->tau) {
            resp_add_errorf(c->reply, "ERR invalid expire time in '%s' command", name);
            return;
        }
        when += c->tau;
    }
    int found = kv_lookup(c, argv[1], argvlen[1], &v);
    if (found < 0) return;
    if (!found) {
        resp_add_int(c->reply, 0);
        return;
    }
    long long cur = v.expiry ? v.expiry : -1;
    if (((flags & EXP_NX) && cur != -1) || ((flags & EXP_XX) && cur == -1) ||
        ((flags & EXP_GT) && (when <= cur || cur == -1)) ||
        ((flags & EXP_LT) && cur != -1 && when >= cur)) {
        resp_add_int(c->reply, 0);
        return;
    }
    if (when <= c->tau)
        kv_delete(c, argv[1], argvlen[1]);
    else
        kv_set_expiry(c, argv[1], argvlen[1], when);
    if (c->rc == 0) resp_add_int(c->reply, 1);
}

void kvx_expire(ARGS)
{
    expire_generic(c, argc, argv, argvlen, 1, 0, "expire");
}
void kvx_pexpire(ARGS)
{
    expire_generic(c, argc, argv, argvlen, 0, 0, "pexpire");
}
void kvx_expireat(ARGS)
{
    expire_generic(c, argc, argv, argvlen, 1, 1, "expireat");
}
void kvx_pexpireat(ARGS)
{
    expire_generic(c, argc, argv, argvlen, 0, 1, "pexpireat");
}

static void ttl_generic(ARGS, int ms, int absolute)
{
    kv_val v;
    UNUSED_ARGS;
    int found = kv_lookup(c, argv[1], argvlen[1], &v);
    if (found < 0) return;
    if (!found) {
        resp_add_int(c->reply, -2);
        return;
    }
    if (v.expiry == 0) {
        resp_add_int(c->reply, -1);
        return;
    }
    /* Relative to the node's wall clock, never below 0 while the key
     * still exists at tau. */
    long long ttl = absolute ? v.expiry : v.expiry - c->wall;
    if (ttl < 0) ttl = 0;
    resp_add_int(c->reply, ms ? ttl : (ttl + 500) / 1000);
}

void kvx_ttl(ARGS)
{
    ttl_generic(c, argc, argv, argvlen, 0, 0);
}
void kvx_pttl(ARGS)
{
    ttl_generic(c, argc, argv, argvlen, 1, 0);
}
void kvx_expiretime(ARGS)
{
    ttl_generic(c, argc, argv, argvlen, 0, 1);
}
void kvx_pexpiretime(ARGS)
{
    ttl_generic(c, argc, argv, argvlen, 1, 1);
}

void kvx_persist(ARGS)
{
    kv_val v;
    UNUSED_ARGS;
    int found = kv_lookup(c, argv[1], argvlen[1], &v);
    if (found < 0) return;
    if (!found || v.expiry == 0) {
        resp_add_int(c->reply, 0);
        return;
    }
    if (kv_set_expiry(c, argv[1], argvlen[1], 0) == 0) resp_add_int(c->reply, 1);
}

/* ------------------------------------------------------------ keyspace */

void kvx_del(ARGS)
{
    kv_val v;
    long long n = 0;
    for (int j = 1; j < argc && c->rc == 0; j++) {
        int found = kv_lookup(c, argv[j], argvlen[j], &v);
        if (found == 1 && kv_delete(c, argv[j], argvlen[j]) == 1) n++;
    }
    if (c->rc == 0) resp_add_int(c->reply, n);
}

void kvx_exists(ARGS)
{
    kv_val v;
    long long n = 0;
    for (int j = 1; j < argc && c->rc == 0; j++)
        if (kv_lookup(c, argv[j], argvlen[j], &v) == 1) n++;
    if (c->rc == 0) resp_add_int(c->reply, n);
}

void kvx_type(ARGS)
{
    kv_val v;
    UNUSED_ARGS;
    int found = kv_lookup(c, argv[1], argvlen[1], &v);
    if (found >= 0) resp_add_simple(c->reply, found ? "string" : "none");
}

static int rec_live(kv_ctx *c, const kv_rec *r)
{
    return r->expiry == 0 || r->expiry > c->tau;
}

static int cursor_open(kv_ctx *c, MDB_cursor **cur)
{
    int rc = mdb_cursor_open(c->txn, c->kv, cur);
    if (rc != 0) {
        c->rc = kv_map_err(rc);
        return -1;
    }
    return 0;
}

static int cursor_err(kv_ctx *c, int rc)
{
    if (rc != 0 && rc != MDB_NOTFOUND && c->rc == 0) c->rc = kv_map_err(rc);
    return c->rc;
}

void kvx_keys(ARGS)
{
    MDB_cursor *cur;
    MDB_val k, d;
    kv_rec r;
    long long n = 0;
    int rc;
    UNUSED_ARGS;

    if (cursor_open(c, &cur) != 0) return;
    size_t mark = resp_add_deferred(c->reply);
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        if (kv_rec_parse(&k, &d, &r) != 0 || !rec_live(c, &r)) continue;
        if (!kv_stringmatchlen(argv[1], argvlen[1], r.key, r.keylen, 0)) continue;
        resp_add_bulk(c->reply, r.key, r.keylen);
        n++;
    }
    mdb_cursor_close(cur);
    resp_set_deferred_array(c->reply, mark, n);
    cursor_err(c, rc);
}

void kvx_scan(ARGS)
{
    MDB_cursor *cur;
    MDB_val k, d;
    kv_rec r;
    unsigned long long cursor;
    long long count = 10;
    const char *pat = NULL, *type = NULL;
    size_t patlen = 0, typelen = 0;
    char *eptr;
    int rc;

    /* Redis's parseScanCursorOrReply: strtoul, whole argument, no space. */
    errno = 0;
    cursor = strtoull(argv[1], &eptr, 10);
    if (argv[1][0] == ' ' || (argv[1][0] >= '\t' && argv[1][0] <= '\r') || eptr[0] != '\0' ||
        errno == ERANGE) {
        resp_add_error(c->reply, "ERR invalid cursor");
        return;
    }
    for (int i = 2; i < argc;) {
        int more = argc - i >= 2;
        if (more && kv_streqci(argv[i], argvlen[i], "count")) {
            if (kv_getll(argv[i + 1], argvlen[i + 1], &count, c->reply) != 0) return;
            if (count < 1) {
                resp_add_error(c->reply, ERR_SYNTAX);
                return;
            }
        } else if (more && kv_streqci(argv[i], argvlen[i], "match")) {
            pat = argv[i + 1];
            patlen = argvlen[i + 1];
            if (patlen == 1 && pat[0] == '*') pat = NULL;
        } else if (more && kv_streqci(argv[i], argvlen[i], "type")) {
            type = argv[i + 1];
            typelen = argvlen[i + 1];
        } else {
            resp_add_error(c->reply, ERR_SYNTAX);
            return;
        }
        i += 2;
    }

    if (cursor_open(c, &cur) != 0) return;
    /* The cursor is the next hash to visit. A batch ends only at a hash
     * boundary, so keys sharing a hash are never split across batches. */
    unsigned char kb[8];
    kv_put_be64(kb, cursor);
    k.mv_size = 8;
    k.mv_data = kb;
    unsigned long long next = 0;
    long long seen = 0, n = 0;
    uint64_t last = 0;
    resp_buf keys;
    resp_buf_init(&keys, c->reply->proto);
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        if (kv_rec_parse(&k, &d, &r) != 0) continue;
        if (seen >= count && r.hash != last) {
            next = r.hash;
            break;
        }
        seen++;
        last = r.hash;
        if (!rec_live(c, &r)) continue;
        if (pat && !kv_stringmatchlen(pat, patlen, r.key, r.keylen, 0)) continue;
        if (type && !kv_streqci(type, typelen, "string")) continue;
        resp_add_bulk(&keys, r.key, r.keylen);
        n++;
    }
    mdb_cursor_close(cur);
    if (cursor_err(c, rc) == 0) {
        char buf[32];
        int len = snprintf(buf, sizeof(buf), "%llu", next);
        resp_add_array(c->reply, 2);
        resp_add_bulk(c->reply, buf, (size_t)len);
        resp_add_array(c->reply, n);
        if (keys.oom)
            oom(c);
        else
            resp_add_raw(c->reply, keys.p, keys.len);
    }
    resp_buf_free(&keys);
}

static uint64_t next_rand(kv_ctx *c)
{
    /* splitmix64 */
    uint64_t z = (c->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void kvx_randomkey(ARGS)
{
    MDB_cursor *cur;
    MDB_val k, d;
    kv_rec r;
    unsigned char kb[8];
    int rc, wrapped = 0;
    UNUSED_ARGS;

    if (cursor_open(c, &cur) != 0) return;
    kv_put_be64(kb, next_rand(c));
    k.mv_size = 8;
    k.mv_data = kb;
    rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
    /* Skip keys expired at tau; give up after a bounded walk, as Redis
     * does when every key it draws is expired. */
    for (int tries = 0; tries < 1000; tries++) {
        if (rc == MDB_NOTFOUND && !wrapped) {
            wrapped = 1;
            rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST);
        }
        if (rc != 0) break;
        if (kv_rec_parse(&k, &d, &r) == 0 && rec_live(c, &r)) {
            resp_add_bulk(c->reply, r.key, r.keylen);
            mdb_cursor_close(cur);
            return;
        }
        rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (cursor_err(c, rc) == 0) resp_add_null(c->reply);
}

static void rename_generic(ARGS, int nx)
{
    kv_val v;
    UNUSED_ARGS;
    int samekey = argvlen[1] == argvlen[2] && memcmp(argv[1], argv[2], argvlen[1]) == 0;
    int found = kv_lookup(c, argv[1], argvlen[1], &v);
    if (found < 0) return;
    if (!found) {
        resp_add_error(c->reply, "ERR no such key");
        return;
    }
    if (samekey) {
        if (nx)
            resp_add_int(c->reply, 0);
        else
            resp_add_ok(c->reply);
        return;
    }
    int64_t expiry = v.expiry;
    char *val = dup_bytes(c, v.p, v.len, v.len);
    size_t vlen = v.len;
    if (!val) return;
    kv_val dst;
    found = kv_lookup(c, argv[2], argvlen[2], &dst);
    if (found == 1 && nx) {
        resp_add_int(c->reply, 0);
    } else if (found >= 0) {
        kv_store(c, argv[2], argvlen[2], val, vlen, expiry);
        kv_delete(c, argv[1], argvlen[1]);
        if (c->rc == 0) {
            if (nx)
                resp_add_int(c->reply, 1);
            else
                resp_add_ok(c->reply);
        }
    }
    free(val);
}

void kvx_rename(ARGS)
{
    rename_generic(c, argc, argv, argvlen, 0);
}

void kvx_renamenx(ARGS)
{
    rename_generic(c, argc, argv, argvlen, 1);
}

void kvx_dbsize(ARGS)
{
    MDB_stat st;
    UNUSED_ARGS;
    int rc = mdb_stat(c->txn, c->kv, &st);
    if (rc != 0) {
        c->rc = kv_map_err(rc);
        return;
    }
    resp_add_int(c->reply, (int64_t)st.ms_entries);
}

void kvx_flush(ARGS)
{
    UNUSED_ARGS;
    if (kv_flush(c) == 0) resp_add_ok(c->reply);
}

/* jemalloc's size classes: four per doubling above 128 bytes. */
static uint64_t je_size(uint64_t n)
{
    if (n <= 8) return 8;
    if (n <= 128) return (n + 15) & ~15ull;
    uint64_t p = 1;
    while ((p << 1) < n)
        p <<= 1;
    uint64_t step = p >> 2;
    return (n + step - 1) / step * step;
}

static uint64_t sds_hdr(uint64_t len, int type5)
{
    if (type5 && len < 32) return 1;
    return len < 256 ? 3 : len < 65536 ? 5 : len < (1ull << 32) ? 9 : 17;
}

void kvx_memory(ARGS)
{
    kv_val v;
    if (!kv_streqci(argv[1], argvlen[1], "usage")) {
        resp_add_errorf(c->reply, "ERR unknown subcommand '%.128s'. Try MEMORY HELP.", argv[1]);
        return;
    }
    if (argc < 3) {
        resp_add_error(c->reply, "ERR wrong number of arguments for 'memory|usage' command");
        return;
    }
    for (int j = 3; j < argc; j++) {
        long long samples;
        if (kv_streqci(argv[j], argvlen[j], "samples") && j + 1 < argc) {
            if (kv_getll(argv[j + 1], argvlen[j + 1], &samples, c->reply) != 0) return;
            if (samples < 0) {
                resp_add_error(c->reply, ERR_SYNTAX);
                return;
            }
            j++;
        } else {
            resp_add_error(c->reply, ERR_SYNTAX);
            return;
        }
    }
    int found = kv_lookup(c, argv[2], argvlen[2], &v);
    if (found < 0) return;
    if (!found) {
        resp_add_null(c->reply);
        return;
    }
    /* What redis-server would account for the same string: the object
     * (int, embstr or raw sds), the key's sds and the dict entry. */
    uint64_t obj;
    long long ll;
    if (v.len <= 20 && kv_string2ll(v.p, v.len, &ll))
        obj = 16;
    else if (v.len <= 44)
        obj = je_size(16 + 3 + v.len + 1); /* robj and sds in one allocation */
    else
        obj = je_size(sds_hdr(v.len, 0) + v.len + 1) + 16;
    uint64_t key = je_size(sds_hdr(argvlen[2], 1) + argvlen[2] + 1);
    resp_add_int(c->reply, (int64_t)(obj + key + 24));
}

/* ------------------------------------------------------------ bitmaps */

void kvx_setbit(ARGS)
{
    kv_val v;
    uint64_t off;
    long long on;
    UNUSED_ARGS;

    if (kv_parse_bitoffset(argv[2], argvlen[2], &off, c->reply) != 0) return;
    if (!kv_string2ll(argv[3], argvlen[3], &on) || (on & ~1)) {
        resp_add_error(c->reply, "ERR bit is not an integer or out of range");
        return;
    }
    int found = kv_lookup(c, argv[1], argvlen[1], &v);
    if (found < 0) return;
    size_t byte = (size_t)(off >> 3);
    size_t olen = found ? v.len : 0;
    size_t nlen = byte + 1 > olen ? byte + 1 : olen;
    char *b = rewrite_string(c, argv[1], argvlen[1], found ? &v : NULL, nlen, found ? v.expiry : 0);
    if (!b) return;
    int bit = 7 - (int)(off & 7);
    int old = (b[byte] >> bit) & 1;
    b[byte] = (char)((b[byte] & ~(1 << bit)) | ((int)on << bit));
    resp_add_int(c->reply, old);
}

void kvx_getbit(ARGS)
{
    kv_val v;
    uint64_t off;
    UNUSED_ARGS;
    if (kv_parse_bitoffset(argv[2], argvlen[2], &off, c->reply) != 0) return;
    int found = kv_lookup(c, argv[1], argvlen[1], &v);
    if (found < 0) return;
    int bit = 0;
    if (found && (off >> 3) < v.len) bit = (v.p[off >> 3] >> (7 - (off & 7))) & 1;
    resp_add_int(c->reply, bit);
}

static long long popcount(const unsigned char *p, size_t n)
{
    long long count = 0;
    for (size_t i = 0; i < n; i++)
        count += __builtin_popcount(p[i]);
    return count;
}

/* Redis's range rules shared by BITCOUNT and BITPOS: negative indexes
 * from the end, clamped, in bytes or (BIT) in bits. Results in bits. */
static void bit_range(long long *start, long long *end, long long totlen)
{
    if (*start < 0) *start = totlen + *start;
    if (*end < 0) *end = totlen + *end;
    if (*start < 0) *start = 0;
    if (*end < 0) *end = 0;
    if (*end >= totlen) *end = totlen - 1;
}

void kvx_bitcount(ARGS)
{
    kv_val v;
    long long start, end;
    int isbit = 0;

    int found = kv_lookup(c, argv[1], argvlen[1], &v);
    if (found < 0) return;
    if (!found) {
        resp_add_int(c->reply, 0);
        return;
    }
    const unsigned char *p = (const unsigned char *)v.p;
    long long strlen = (long long)v.len;
    if (argc == 4 || argc == 5) {
        long long totlen = strlen;
        if (kv_getll(argv[2], argvlen[2], &start, c->reply) != 0 ||
            kv_getll(argv[3], argvlen[3], &end, c->reply) != 0)
            return;
        if (start < 0 && end < 0 && start > end) {
            resp_add_int(c->reply, 0);
            return;
        }
        if (argc == 5) {
            if (kv_streqci(argv[4], argvlen[4], "bit"))
                isbit = 1;
            else if (!kv_streqci(argv[4], argvlen[4], "byte")) {
                resp_add_error(c->reply, ERR_SYNTAX);
                return;
            }
        }
        if (isbit) totlen <<= 3;
        bit_range(&start, &end, totlen);
        if (start > end) {
            resp_add_int(c->reply, 0);
            return;
        }
        if (!isbit) {
            start *= 8;
            end = end * 8 + 7;
        }
    } else if (argc == 2) {
        start = 0;
        end = strlen * 8 - 1;
    } else {
        resp_add_error(c->reply, ERR_SYNTAX);
        return;
    }
    if (start > end) {
        resp_add_int(c->reply, 0);
        return;
    }
    /* Whole bytes in the middle, masked edges. */
    long long sb = start >> 3, eb = end >> 3, count;
    unsigned char first = (unsigned char)(0xff >> (start & 7));
    unsigned char last = (unsigned char)(0xff << (7 - (end & 7)));
    if (sb == eb) {
        count = __builtin_popcount(p[sb] & first & last);
    } else {
        count = __builtin_popcount(p[sb] & first) + __builtin_popcount(p[eb] & last);
        count += popcount(p + sb + 1, (size_t)(eb - sb - 1));
    }
    resp_add_int(c->reply, count);
}

void kvx_bitpos(ARGS)
{
    kv_val v;
    long long bit, start, end;
    int isbit = 0, end_given = 0;

    if (kv_getll(argv[2], argvlen[2], &bit, c->reply) != 0) return;
    if (bit != 0 && bit != 1) {
        resp_add_error(c->reply, "ERR The bit argument must be 1 or 0.");
        return;
    }
    int found = kv_lookup(c, argv[1], argvlen[1], &v);
    if (found < 0) return;
    if (!found) {
        resp_add_int(c->reply, bit ? -1 : 0);
        return;
    }
    const unsigned char *p = (const unsigned char *)v.p;
    long long strlen = (long long)v.len;
    if (argc == 4 || argc == 5 || argc == 6) {
        long long totlen = strlen;
        if (kv_getll(argv[3], argvlen[3], &start, c->reply) != 0) return;
        if (argc == 6) {
            if (kv_streqci(argv[5], argvlen[5], "bit"))
                isbit = 1;
            else if (!kv_streqci(argv[5], argvlen[5], "byte")) {
                resp_add_error(c->reply, ERR_SYNTAX);
                return;
            }
        }
        if (argc >= 5) {
            if (kv_getll(argv[4], argvlen[4], &end, c->reply) != 0) return;
            end_given = 1;
        } else {
            end = isbit ? (totlen << 3) + 7 : totlen - 1;
        }
        if (isbit) totlen <<= 3;
        bit_range(&start, &end, totlen);
        if (start > end) {
            resp_add_int(c->reply, -1);
            return;
        }
        if (!isbit) {
            start *= 8;
            end = end * 8 + 7;
        }
    } else if (argc == 3) {
        start = 0;
        end = strlen * 8 - 1;
    } else {
        resp_add_error(c->reply, ERR_SYNTAX);
        return;
    }
    if (start > end) {
        resp_add_int(c->reply, -1);
        return;
    }
    long long pos = start;
    /* Bit by bit to a byte boundary, then whole bytes, then bits. */
    while (pos <= end) {
        if ((pos & 7) == 0 && pos + 7 <= end) {
            unsigned char skip = bit ? 0x00 : 0xff;
            if (p[pos >> 3] == skip) {
                pos += 8;
                continue;
            }
        }
        if (((p[pos >> 3] >> (7 - (pos & 7))) & 1) == bit) {
            resp_add_int(c->reply, pos);
            return;
        }
        pos++;
    }
    /* Looking for a clear bit with no end given: the string is taken as
     * padded with zeroes on the right, so the answer is the first bit
     * after it. */
    if (bit == 0 && !end_given)
        resp_add_int(c->reply, end + 1);
    else
        resp_add_int(c->reply, -1);
}

/* ------------------------------------------------------------ LCS */

void kvx_lcs(ARGS)
{
    kv_val va, vb;
    long long minmatchlen = 0;
    int getlen = 0, getidx = 0, withmatchlen = 0;
    char *a = NULL, *b = NULL;
    uint32_t *lcs = NULL;

    int fa = kv_lookup(c, argv[1], argvlen[1], &va);
    if (fa < 0) return;
    size_t alen0 = fa ? va.len : 0;
    if (!(a = dup_bytes(c, fa ? va.p : NULL, alen0, alen0))) return;
    int fb = kv_lookup(c, argv[2], argvlen[2], &vb);
    if (fb < 0) goto cleanup;
    size_t blen0 = fb ? vb.len : 0;
    if (!(b = dup_bytes(c, fb ? vb.p : NULL, blen0, blen0))) goto cleanup;

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
        oom(c);
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
