/* kvx_sort.c -- SORT and SORT_RO (Redis's sort.c), over lists, sets and
 * sorted sets, on the typed key space (kvks.h).
 *
 * As in Redis, the elements to sort are loaded into a vector (only the
 * LIMIT range for a list or a sorted set that is not sorted: BY without
 * '*'), given a score (a double, or with ALPHA a string: the element or
 * the BY pattern's value) and sorted; then each element of the range is
 * replied, or its GET values, or stored as a list (STORE).
 *
 * Differences from Redis, all for determinism (every node must produce the
 * same result from the entry alone):
 *  - ALPHA compares bytes (memcmp, then length), as Redis does with STORE;
 *    without STORE Redis uses strcoll(), which depends on the locale.
 *  - Elements that compare equal keep their loading order (a stable
 *    sort); a set is loaded in its members' byte order, where Redis loads
 *    in hash order, so a set sorted by a constant BY (no sort) answers in
 *    byte order.
 *  - strtod's errno is cleared before each score, so only that score's own
 *    range error counts. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "storage/kvcmd.h"
#include "storage/kvcmd_int.h"
#include "storage/kverr.h"
#include "storage/kvint.h"
#include "storage/kvks.h"

typedef struct sortopts {
    int desc, alpha, dontsort;
    long long lstart, lcount;
    int by;    /* argv index of the BY pattern, 0: none */
    int store; /* argv index of the STORE key, 0: none */
    int ngets;
} sortopts;

/* Redis's parse: options in any order, the last BY / LIMIT / STORE wins,
 * and a BY without '*' means no sorting for good. gets (argc entries) gets
 * the argv indices of the GET patterns; NULL when only checking. */
static int sort_parse(int argc, char **argv, size_t *argvlen, int readonly, sortopts *o, int *gets,
                      resp_buf *err)
{
    memset(o, 0, sizeof(*o));
    o->lcount = -1;
    for (int j = 2; j < argc; j++) {
        int left = argc - j - 1;
        const char *a = argv[j];
        size_t n = argvlen[j];
        if (kv_streqci(a, n, "asc")) {
            o->desc = 0;
        } else if (kv_streqci(a, n, "desc")) {
            o->desc = 1;
        } else if (kv_streqci(a, n, "alpha")) {
            o->alpha = 1;
        } else if (kv_streqci(a, n, "limit") && left >= 2) {
            if (kv_getll(argv[j + 1], argvlen[j + 1], &o->lstart, err) != 0 ||
                kv_getll(argv[j + 2], argvlen[j + 2], &o->lcount, err) != 0)
                return -1;
            j += 2;
        } else if (!readonly && kv_streqci(a, n, "store") && left >= 1) {
            o->store = ++j;
        } else if (kv_streqci(a, n, "by") && left >= 1) {
            o->by = ++j;
            if (!strchr(argv[j], '*')) o->dontsort = 1;
        } else if (kv_streqci(a, n, "get") && left >= 1) {
            ++j;
            if (gets) gets[o->ngets] = j;
            o->ngets++;
        } else {
            resp_add_error(err, ERR_SYNTAX);
            return -1;
        }
    }
    return 0;
}

KV_CHECK(ck_sort)
{
    sortopts o;
    return sort_parse(argc, argv, argvlen, 0, &o, NULL, err);
}

KV_CHECK(ck_sort_ro)
{
    sortopts o;
    return sort_parse(argc, argv, argvlen, 1, &o, NULL, err);
}

/* One element to sort: its bytes, and what it is compared by. */
typedef struct sortobj {
    char *p;
    size_t len;
    double score;
    char *cmp; /* ALPHA with BY: the pattern's value; NULL when missing */
    size_t cmplen;
} sortobj;

static int binary_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int r = memcmp(a, b, alen < blen ? alen : blen);
    if (r) return r;
    return alen < blen ? -1 : alen > blen;
}

typedef struct sortkind {
    int desc, alpha, by;
} sortkind;

/* Redis's sortCompare, with bytes where it would use strcoll(). */
static int sort_cmp(const sortkind *k, const sortobj *a, const sortobj *b)
{
    int cmp;
    if (!k->alpha) {
        if (a->score > b->score)
            cmp = 1;
        else if (a->score < b->score)
            cmp = -1;
        else
            cmp = binary_cmp(a->p, a->len, b->p, b->len);
    } else if (k->by) {
        if (!a->cmp || !b->cmp)
            cmp = a->cmp == b->cmp ? 0 : !a->cmp ? -1 : 1;
        else
            cmp = binary_cmp(a->cmp, a->cmplen, b->cmp, b->cmplen);
    } else {
        cmp = binary_cmp(a->p, a->len, b->p, b->len);
    }
    return k->desc ? -cmp : cmp;
}

/* A stable merge sort; tmp holds n / 2 + 1 objects. */
static void merge_sort(const sortkind *k, sortobj *a, sortobj *tmp, size_t n)
{
    if (n < 2) return;
    size_t h = n / 2, i = 0, j = h, o = 0;
    merge_sort(k, a, tmp, h);
    merge_sort(k, a + h, tmp, n - h);
    if (sort_cmp(k, &a[h - 1], &a[h]) <= 0) return;
    memcpy(tmp, a, h * sizeof(sortobj));
    while (i < h && j < n)
        a[o++] = sort_cmp(k, &tmp[i], &a[j]) <= 0 ? tmp[i++] : a[j++];
    while (i < h)
        a[o++] = tmp[i++];
}

/* Redis's lookupKeyByPattern: "#" is the element itself; otherwise the
 * first '*' is replaced by the element, and a "->field" after it (with a
 * field) reads that hash field. 1 with *val / *vlen (valid until the next
 * write), 0 when there is no such value, -1 on a storage error. The
 * pattern is read as a C string, as Redis does (strchr / strstr). */
static int by_pattern(kv_ctx *c, const char *pat, size_t patlen, const char *sub, size_t sublen,
                      const char **val, size_t *vlen)
{
    if (pat[0] == '#' && pat[1] == '\0') {
        *val = sub;
        *vlen = sublen;
        return 1;
    }
    const char *star = strchr(pat, '*');
    if (!star) return 0;
    const char *arrow = strstr(star + 1, "->");
    size_t fieldlen = 0;
    const char *field = NULL;
    if (arrow && arrow[2] != '\0') {
        field = arrow + 2;
        fieldlen = patlen - (size_t)(field - pat);
    }
    size_t prefix = (size_t)(star - pat);
    size_t postfix = patlen - prefix - 1 - (fieldlen ? fieldlen + 2 : 0);
    size_t klen = prefix + sublen + postfix;
    char *key = kv_malloc(klen ? klen : 1);
    if (!key) {
        kvx_oom(c);
        return -1;
    }
    memcpy(key, pat, prefix);
    if (sublen) memcpy(key + prefix, sub, sublen);
    memcpy(key + prefix + sublen, star + 1, postfix);
    kv_val v;
    int r = kv_lookup(c, key, klen, &v);
    free(key);
    if (r <= 0) return r;
    if (field) {
        if (v.type != KV_TYPE_HASH) return 0;
        return kv_elem_get(c, v.ver, field, fieldlen, val, vlen);
    }
    if (v.type != KV_TYPE_STRING) return 0;
    *val = v.p;
    *vlen = v.len;
    return 1;
}

static char *dup0(kv_ctx *c, const char *p, size_t n)
{
    char *b = kv_malloc(n + 1);
    if (!b) {
        kvx_oom(c);
        return NULL;
    }
    if (n) memcpy(b, p, n);
    b[n] = '\0';
    return b;
}

/* Loads up to max elements of v (skipping skip first) into vec; list and
 * zset in their own order (reverse: from the end), a set in byte order.
 * Returns the number loaded, or -1. */
static long long load(kv_ctx *c, const kv_val *v, int native, int reverse, long long skip,
                      long long max, sortobj *vec)
{
    kv_iter it;
    const char *f, *val;
    size_t flen, vlen;
    int table = v->type == KV_TYPE_ZSET && native ? KV_T_ZIDX : KV_T_ELEM;
    long long n = 0;
    int r;
    if (kv_iter_open(c, &it, table, v->ver, NULL, 0, reverse) != 0) return -1;
    while (n < max && (r = kv_iter_next(&it, &f, &flen, &val, &vlen)) == 1) {
        if (skip > 0) {
            skip--;
            continue;
        }
        const char *e = v->type == KV_TYPE_LIST ? val : f;
        size_t elen = v->type == KV_TYPE_LIST ? vlen : flen;
        if (!(vec[n].p = dup0(c, e, elen))) break;
        vec[n].len = elen;
        n++;
    }
    kv_iter_close(&it);
    return c->rc ? -1 : n;
}

static void sort_generic(kv_ctx *c, int argc, char **argv, size_t *argvlen, int readonly)
{
    sortopts o;
    sortobj *vec = NULL;
    long long vectorlen = 0, loaded = 0, nvec = 0;
    char *empty = "";
    int conv_error = 0;
    kv_val v;

    int *gets = kv_calloc((size_t)argc, sizeof(int));
    if (!gets) {
        kvx_oom(c);
        return;
    }
    if (sort_parse(argc, argv, argvlen, readonly, &o, gets, c->reply) != 0) goto out;

    int found = kv_lookup(c, argv[1], argvlen[1], &v);
    if (found < 0) goto out;
    if (found && v.type != KV_TYPE_SET && v.type != KV_TYPE_LIST && v.type != KV_TYPE_ZSET) {
        resp_add_error(c->reply, ERR_WRONGTYPE);
        goto out;
    }
    if (!found) {
        memset(&v, 0, sizeof(v));
        v.type = KV_TYPE_LIST;
    }
    int by = o.by;
    /* A set has no order of its own: stored, it is sorted by its bytes. */
    if (o.dontsort && v.type == KV_TYPE_SET && o.store) {
        o.dontsort = 0;
        o.alpha = 1;
        by = 0;
    }
    vectorlen = (long long)v.count;

    /* Redis's LIMIT arithmetic (saturating where Redis would overflow). */
    long long start = o.lstart < 0 ? 0 : o.lstart, end;
    if (o.lcount < 0)
        end = vectorlen - 1;
    else
        end = o.lcount > LLONG_MAX - start ? LLONG_MAX : start + o.lcount - 1;
    if (start >= vectorlen) {
        start = vectorlen - 1;
        end = vectorlen - 2;
    }
    if (end >= vectorlen) end = vectorlen - 1;

    /* A list or a sorted set not sorted: only the range is loaded, in
     * order (reversed for DESC). */
    int native = o.dontsort && v.type != KV_TYPE_SET;
    long long skip = 0;
    if (native && (start != 0 || end != vectorlen - 1)) {
        vectorlen = end - start + 1;
        skip = start;
    }
    if (vectorlen > 0) {
        vec = kv_calloc((size_t)vectorlen, sizeof(sortobj));
        if (!vec) {
            kvx_oom(c);
            goto out;
        }
        nvec = vectorlen;
        if (native && end < start) {
            loaded = 0;
        } else {
            loaded = load(c, &v, native, native && o.desc, skip, vectorlen, vec);
            if (loaded < 0) goto out;
            if (loaded != vectorlen) {
                if (c->rc == 0) c->rc = KV_ECORRUPT;
                goto out;
            }
        }
    }
    if (native) {
        end -= start;
        start = 0;
    }

    if (!o.dontsort) {
        for (long long j = 0; j < vectorlen; j++) {
            const char *bv = vec[j].p;
            size_t bl = vec[j].len;
            if (by) {
                int r = by_pattern(c, argv[by], argvlen[by], vec[j].p, vec[j].len, &bv, &bl);
                if (r < 0) goto out;
                if (r == 0) continue;
            }
            if (o.alpha) {
                if (by) {
                    if (!(vec[j].cmp = dup0(c, bv, bl))) goto out;
                    vec[j].cmplen = bl;
                }
            } else {
                char *s = dup0(c, bv, bl), *eptr;
                if (!s) goto out;
                errno = 0;
                vec[j].score = strtod(s, &eptr);
                if (eptr[0] != '\0' || errno == ERANGE || isnan(vec[j].score)) conv_error = 1;
                free(s);
            }
        }
        sortkind k = {o.desc, o.alpha, by != 0};
        if (vectorlen > 1) {
            sortobj *tmp = kv_malloc(((size_t)vectorlen / 2 + 1) * sizeof(sortobj));
            if (!tmp) {
                kvx_oom(c);
                goto out;
            }
            merge_sort(&k, vec, tmp, (size_t)vectorlen);
            free(tmp);
        }
    }

    long long outputlen = o.ngets ? o.ngets * (end - start + 1) : end - start + 1;
    if (outputlen < 0) outputlen = 0;
    if (conv_error) {
        resp_add_error(c->reply, "ERR One or more scores can't be converted into double");
    } else if (!o.store) {
        resp_add_array(c->reply, outputlen);
        for (long long j = start; j <= end; j++) {
            if (!o.ngets) resp_add_bulk(c->reply, vec[j].p, vec[j].len);
            for (int g = 0; g < o.ngets; g++) {
                const char *gv;
                size_t gl;
                int r =
                    by_pattern(c, argv[gets[g]], argvlen[gets[g]], vec[j].p, vec[j].len, &gv, &gl);
                if (r < 0) goto out;
                if (r == 0)
                    resp_add_null(c->reply);
                else
                    resp_add_bulk(c->reply, gv, gl);
            }
        }
    } else {
        /* The result is a new list under the STORE key (RPUSH order). Its
         * values are read before it is saved, so the key may be one the
         * patterns read. */
        kv_val dst;
        if (outputlen == 0) {
            int r = kv_delete(c, argv[o.store], argvlen[o.store]);
            if (r < 0) goto out;
            if (r == 1) kv_notify(c, KV_NOTIFY_GENERIC, "del", argv[o.store], argvlen[o.store]);
            resp_add_int(c->reply, 0);
            goto out;
        }
        if (kv_coll_new(c, KV_TYPE_LIST, KV_ENC_QUICKLIST, &dst) != 0) goto out;
        for (long long j = start; j <= end; j++) {
            for (int g = 0; g < (o.ngets ? o.ngets : 1); g++) {
                const char *gv = vec[j].p;
                size_t gl = vec[j].len;
                char *copy = NULL;
                if (o.ngets) {
                    int r = by_pattern(c, argv[gets[g]], argvlen[gets[g]], vec[j].p, vec[j].len,
                                       &gv, &gl);
                    if (r < 0) goto out;
                    if (r == 0) {
                        gv = empty;
                        gl = 0;
                    } else if (!(copy = dup0(c, gv, gl))) {
                        goto out; /* the map's bytes, and a write follows */
                    } else {
                        gv = copy;
                    }
                }
                unsigned char seq[8];
                kv_seq_enc(dst.tail, seq);
                int r = kv_elem_put(c, dst.ver, seq, 8, gv, gl, NULL);
                free(copy);
                if (r != 0) goto out;
                dst.tail++;
                dst.count++;
            }
        }
        if (kv_coll_save(c, argv[o.store], argvlen[o.store], &dst) != 0) goto out;
        kv_notify(c, KV_NOTIFY_LIST, "sortstore", argv[o.store], argvlen[o.store]);
        resp_add_int(c->reply, outputlen);
    }
out:
    for (long long j = 0; j < nvec; j++) {
        free(vec[j].p);
        free(vec[j].cmp);
    }
    free(vec);
    free(gets);
}

static void kvx_sort(ARGS)
{
    sort_generic(c, argc, argv, argvlen, 0);
}

static void kvx_sort_ro(ARGS)
{
    sort_generic(c, argc, argv, argvlen, 1);
}

#define W KV_CMD_WRITE
#define R KV_CMD_READONLY
#define D KV_CMD_DENYOOM
/* clang-format off */
const kv_command kvx_sort_commands[] = {
    {"sort", -2, W | D, 1, 1, 1, ck_sort, kvx_sort, "generic", "1.0.0", "Sort the elements in a list, set or sorted set"},
    {"sort_ro", -2, R, 1, 1, 1, ck_sort_ro, kvx_sort_ro, "generic", "7.0.0", "Sort the elements in a list, set or sorted set. Read-only variant of SORT."},
};
/* clang-format on */
#undef W
#undef R
#undef D
const size_t kvx_sort_ncommands = sizeof(kvx_sort_commands) / sizeof(kvx_sort_commands[0]);
