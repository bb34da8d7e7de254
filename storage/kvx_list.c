/* kvx_list.c -- the list commands (Redis's t_list.c), on the typed key space
 * (kvks.h): LPUSH, RPUSH, LPUSHX, RPUSHX, LINSERT, LPOP, RPOP, LLEN, LINDEX,
 * LSET, LRANGE, LTRIM, LREM, LPOS, RPOPLPUSH, LMOVE, LMPOP, and the blocking
 * BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP.
 *
 * A list is the element records seq -> element for seq in [v.head, v.tail),
 * always without holes: count == tail - head, and the element at index i is
 * the record head + i. So LPUSH writes head - 1, RPUSH tail, and LINDEX /
 * LSET are one B-tree lookup; a range is one seek and a walk. LINSERT and
 * LREM in the middle shift the records of the shorter side by the number of
 * elements inserted or removed (O(n), as Redis's memmove in a listpack).
 *
 * A list that becomes empty is deleted by kv_coll_save(), and the records it
 * still has go to the cleanup queue with its version: a pop or trim that
 * empties a list does not delete its records one by one.
 *
 * The pops are shared: list_pop() (one element, a copy) serves LPOP, RPOP,
 * LMOVE and RPOPLPUSH; list_pop_reply() (n elements into the reply) serves
 * LPOP / RPOP with a count and LMPOP. The blocking forms apply what their
 * non-blocking form does when a key has elements: BLPOP, BRPOP and BLMPOP
 * are mpop_keys() (LMPOP's scan of the keys), BLMOVE and BRPOPLPUSH are
 * move_from() (LMOVE's). When no key has any, they reply the null Redis
 * gives inside MULTI and, outside MULTI, mark the entry blocked
 * (kvx_block_empty): the server keeps the client waiting and proposes the
 * command again once a key is ready (kv_coll_save() signals it). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "storage/kvcmd.h"
#include "storage/kvcmd_int.h"
#include "storage/kverr.h"
#include "storage/kvint.h"
#include "storage/kvks.h"

enum { L_HEAD = 0, L_TAIL = 1 };

#define ERR_NOKEY "ERR no such key"
#define ERR_RANGE "ERR index out of range"

/* ------------------------------------------------------------ records */

static void corrupt(kv_ctx *c)
{
    if (c->rc == 0) c->rc = KV_ECORRUPT;
}

/* The element at seq: 0 with *p / *n (valid until the next write), -1 on
 * error. A hole between head and tail is corrupt data. */
static int at(kv_ctx *c, const kv_val *v, uint64_t seq, const char **p, size_t *n)
{
    unsigned char s[8];
    kv_seq_enc(seq, s);
    int r = kv_elem_get(c, v->ver, s, 8, p, n);
    if (r == 0) corrupt(c);
    return r == 1 ? 0 : -1;
}

static int put_at(kv_ctx *c, const kv_val *v, uint64_t seq, const void *p, size_t n)
{
    unsigned char s[8];
    kv_seq_enc(seq, s);
    return kv_elem_put(c, v->ver, s, 8, p, n, NULL);
}

static int del_at(kv_ctx *c, const kv_val *v, uint64_t seq)
{
    unsigned char s[8];
    kv_seq_enc(seq, s);
    return kv_elem_del(c, v->ver, s, 8) < 0 ? -1 : 0;
}

/* A buffer an element is copied into before a write: a pointer into the
 * map may move when LMDB changes the page it is on. */
typedef struct scratch {
    char *p;
    size_t cap;
} scratch;

static int scratch_set(kv_ctx *c, scratch *b, const char *p, size_t n)
{
    if (n > b->cap) {
        char *q = kv_malloc(n);
        if (!q) {
            kvx_oom(c);
            return -1;
        }
        free(b->p);
        b->p = q;
        b->cap = n;
    }
    if (n) memcpy(b->p, p, n);
    return 0;
}

/* Moves the record at seq from to seq to (whatever is at to is replaced). */
static int move_rec(kv_ctx *c, const kv_val *v, scratch *b, uint64_t from, uint64_t to)
{
    const char *p;
    size_t n;
    if (at(c, v, from, &p, &n) != 0 || scratch_set(c, b, p, n) != 0) return -1;
    return put_at(c, v, to, b->p, n);
}

static int eq(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* An argument equal to the lower-case word w, ignoring case. */
static int word(const char *s, size_t len, const char *w)
{
    return len == strlen(w) && strncasecmp(s, w, len) == 0;
}

/* ------------------------------------------------------------ push / pop */

/* A new, empty list (saved by the caller once it has elements). */
static int list_new(kv_ctx *c, kv_val *v)
{
    return kv_coll_new(c, KV_TYPE_LIST, KV_ENC_QUICKLIST, v);
}

/* Adds ele (not a pointer into the map) at one end of v; the caller saves
 * v. 0 or -1. */
static int list_push(kv_ctx *c, kv_val *v, int where, const char *ele, size_t len)
{
    uint64_t seq = where == L_HEAD ? v->head - 1 : v->tail;
    if (put_at(c, v, seq, ele, len) != 0) return -1;
    if (where == L_HEAD)
        v->head--;
    else
        v->tail++;
    v->count++;
    return 0;
}

/* Removes the element at one end of v (not empty) and returns a malloc'd
 * copy of it (the caller frees it), its length in *len; NULL on error. The
 * caller saves v. */
static char *list_pop(kv_ctx *c, kv_val *v, int where, size_t *len)
{
    uint64_t seq = where == L_HEAD ? v->head : v->tail - 1;
    const char *p;
    if (v->count == 0 || at(c, v, seq, &p, len) != 0) {
        corrupt(c);
        return NULL;
    }
    char *copy = kvx_dup(c, p, *len, *len);
    if (!copy) return NULL;
    if (del_at(c, v, seq) != 0) {
        free(copy);
        return NULL;
    }
    if (where == L_HEAD)
        v->head++;
    else
        v->tail--;
    v->count--;
    return copy;
}

/* Replies an array of the first n (1 <= n <= count) elements from one end of
 * v, in the order they are popped, and removes them; the caller saves v. The
 * records are left to the cleanup queue when the list empties. 0 or -1. */
static int list_pop_reply(kv_ctx *c, kv_val *v, int where, uint64_t n)
{
    kv_iter it;
    unsigned char from[8];
    int drop = n < v->count;
    kv_seq_enc(where == L_HEAD ? v->head : v->tail - 1, from);
    if (kv_iter_open(c, &it, KV_T_ELEM, v->ver, from, 8, where == L_TAIL) != 0) return -1;
    resp_add_array(c->reply, (int64_t)n);
    int rc = 0;
    for (uint64_t i = 0; i < n && rc == 0; i++) {
        const char *f, *p;
        size_t flen, plen;
        int r = kv_iter_next(&it, &f, &flen, &p, &plen);
        if (r != 1) {
            if (r == 0) corrupt(c);
            rc = -1;
            break;
        }
        resp_add_bulk(c->reply, p, plen);
        if (drop) rc = kv_iter_del_current(&it);
    }
    kv_iter_close(&it);
    if (rc != 0) return -1;
    if (where == L_HEAD)
        v->head += n;
    else
        v->tail -= n;
    v->count -= n;
    return 0;
}

/* Redis's listElementsRemoved: the pop's event on key, then "del" when the
 * pop emptied it (kv_coll_save() deleted it). */
static void popped(kv_ctx *c, const char *key, size_t keylen, int where, const kv_val *v)
{
    kv_notify(c, KV_NOTIFY_LIST, where == L_HEAD ? "lpop" : "rpop", key, keylen);
    if (v->count == 0) kv_notify(c, KV_NOTIFY_GENERIC, "del", key, keylen);
}

/* ------------------------------------------------------------ arguments */

/* LEFT / RIGHT (Redis's getListPositionFromObjectOrReply). */
static int parse_where(const char *s, size_t len, int *where, resp_buf *err)
{
    if (word(s, len, "left"))
        *where = L_HEAD;
    else if (word(s, len, "right"))
        *where = L_TAIL;
    else {
        if (err) resp_add_error(err, ERR_SYNTAX);
        return -1;
    }
    return 0;
}

/* An integer in [min, LLONG_MAX], msg replied for anything else (Redis's
 * getRangeLongFromObjectOrReply with a message). */
static int parse_min(const char *s, size_t len, long long min, const char *msg, long long *v,
                     resp_buf *err)
{
    if (!kv_string2ll(s, len, v) || *v < min) {
        if (err) resp_add_error(err, msg);
        return -1;
    }
    return 0;
}

/* LPOP / RPOP key [count]: count -1 when absent. */
static int parse_pop(int argc, char **argv, size_t *argvlen, long long *count, resp_buf *err)
{
    *count = -1;
    if (argc > 3) {
        if (err)
            resp_add_errorf(err, "ERR wrong number of arguments for '%s' command",
                            word(argv[0], argvlen[0], "lpop") ? "lpop" : "rpop");
        return -1;
    }
    if (argc == 3)
        return parse_min(argv[2], argvlen[2], 0, "ERR value is out of range, must be positive",
                         count, err);
    return 0;
}

typedef struct lpos_opts {
    long long rank, count, maxlen; /* count -1: not given */
} lpos_opts;

static int parse_lpos(int argc, char **argv, size_t *argvlen, lpos_opts *o, resp_buf *err)
{
    o->rank = 1;
    o->count = -1;
    o->maxlen = 0;
    for (int j = 3; j < argc; j++) {
        int more = j + 1 < argc;
        if (more && word(argv[j], argvlen[j], "rank")) {
            j++;
            if (kv_getll(argv[j], argvlen[j], &o->rank, err) != 0) return -1;
            if (o->rank == 0) {
                if (err)
                    resp_add_error(err, "ERR RANK can't be zero: use 1 to start from the first "
                                        "match, 2 from the second ... or use negative to start "
                                        "from the end of the list");
                return -1;
            }
        } else if (more && word(argv[j], argvlen[j], "count")) {
            j++;
            if (parse_min(argv[j], argvlen[j], 0, "ERR COUNT can't be negative", &o->count, err))
                return -1;
        } else if (more && word(argv[j], argvlen[j], "maxlen")) {
            j++;
            if (parse_min(argv[j], argvlen[j], 0, "ERR MAXLEN can't be negative", &o->maxlen, err))
                return -1;
        } else {
            if (err) resp_add_error(err, ERR_SYNTAX);
            return -1;
        }
    }
    return 0;
}

/* LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count], numkeys at argv[idx]
 * (BLMPOP: 2, after the timeout; Redis parses these before the timeout). */
static int parse_lmpop(int argc, char **argv, size_t *argvlen, int idx, long long *numkeys,
                       int *where, long long *count, resp_buf *err)
{
    if (parse_min(argv[idx], argvlen[idx], 1, "ERR numkeys should be greater than 0", numkeys, err))
        return -1;
    if (*numkeys > argc - idx - 2) {
        if (err) resp_add_error(err, ERR_SYNTAX);
        return -1;
    }
    int wi = idx + 1 + (int)*numkeys;
    if (parse_where(argv[wi], argvlen[wi], where, err) != 0) return -1;
    *count = -1;
    for (int j = wi + 1; j < argc; j++) {
        if (*count == -1 && j + 1 < argc && word(argv[j], argvlen[j], "count")) {
            j++;
            if (parse_min(argv[j], argvlen[j], 1, "ERR count should be greater than 0", count, err))
                return -1;
        } else {
            if (err) resp_add_error(err, ERR_SYNTAX);
            return -1;
        }
    }
    if (*count == -1) *count = 1;
    return 0;
}

/* Redis's range arithmetic (addListRangeReply, ltrimCommand): start and
 * end made absolute and clamped; 0 when the range is empty. */
static int clamp_range(long long start, long long end, uint64_t llen, uint64_t *from, uint64_t *to)
{
    long long n = (long long)llen;
    if (start < 0) start = n + start;
    if (end < 0) end = n + end;
    if (start < 0) start = 0;
    if (start > end || start >= n) return 0;
    if (end >= n) end = n - 1;
    *from = (uint64_t)start;
    *to = (uint64_t)end;
    return 1;
}

/* ------------------------------------------------------------ checks */

KV_CHECK(ck_pop)
{
    long long count;
    return parse_pop(argc, argv, argvlen, &count, err);
}

KV_CHECK(ck_linsert)
{
    (void)argc;
    if (!word(argv[2], argvlen[2], "before") && !word(argv[2], argvlen[2], "after")) {
        resp_add_error(err, ERR_SYNTAX);
        return -1;
    }
    return 0;
}

KV_CHECK(ck_range)
{
    long long v;
    (void)argc;
    if (kv_getll(argv[2], argvlen[2], &v, err) != 0) return -1;
    return kv_getll(argv[3], argvlen[3], &v, err);
}

KV_CHECK(ck_lrem)
{
    long long v;
    (void)argc;
    return kv_getll(argv[2], argvlen[2], &v, err);
}

KV_CHECK(ck_lpos)
{
    lpos_opts o;
    return parse_lpos(argc, argv, argvlen, &o, err);
}

KV_CHECK(ck_lmove)
{
    int w;
    (void)argc;
    if (parse_where(argv[3], argvlen[3], &w, err) != 0) return -1;
    return parse_where(argv[4], argvlen[4], &w, err);
}

KV_CHECK(ck_lmpop)
{
    long long numkeys, count;
    int where;
    return parse_lmpop(argc, argv, argvlen, 1, &numkeys, &where, &count, err);
}

/* BLPOP / BRPOP key [key ...] timeout */
KV_CHECK(ck_bpop)
{
    int64_t ms;
    return kv_parse_timeout(argv[argc - 1], argvlen[argc - 1], &ms, err);
}

/* BRPOPLPUSH source destination timeout */
KV_CHECK(ck_brpoplpush)
{
    int64_t ms;
    (void)argc;
    return kv_parse_timeout(argv[3], argvlen[3], &ms, err);
}

/* BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout */
KV_CHECK(ck_blmove)
{
    int64_t ms;
    if (ck_lmove(argc, argv, argvlen, err) != 0) return -1;
    return kv_parse_timeout(argv[5], argvlen[5], &ms, err);
}

/* BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count] */
KV_CHECK(ck_blmpop)
{
    long long numkeys, count;
    int where;
    int64_t ms;
    if (parse_lmpop(argc, argv, argvlen, 2, &numkeys, &where, &count, err) != 0) return -1;
    return kv_parse_timeout(argv[1], argvlen[1], &ms, err);
}

/* ------------------------------------------------------------ commands */

/* LPUSH, RPUSH, LPUSHX, RPUSHX (Redis's pushGenericCommand). */
static void push_generic(ARGS, int where, int xx)
{
    kv_val v;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_LIST, &v);
    if (found < 0) return;
    if (!found) {
        if (xx) {
            resp_add_int(c->reply, 0);
            return;
        }
        if (list_new(c, &v) != 0) return;
    }
    for (int j = 2; j < argc; j++)
        if (list_push(c, &v, where, argv[j], argvlen[j]) != 0) return;
    if (kv_coll_save(c, argv[1], argvlen[1], &v) != 0) return;
    resp_add_int(c->reply, (int64_t)v.count);
}

static void kvx_lpush(ARGS)
{
    push_generic(c, argc, argv, argvlen, L_HEAD, 0);
}

static void kvx_rpush(ARGS)
{
    push_generic(c, argc, argv, argvlen, L_TAIL, 0);
}

static void kvx_lpushx(ARGS)
{
    push_generic(c, argc, argv, argvlen, L_HEAD, 1);
}

static void kvx_rpushx(ARGS)
{
    push_generic(c, argc, argv, argvlen, L_TAIL, 1);
}

/* LPOP / RPOP key [count] (Redis's popGenericCommand). */
static void pop_generic(ARGS, int where)
{
    long long count;
    kv_val v;
    if (parse_pop(argc, argv, argvlen, &count, c->reply) != 0) return;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_LIST, &v);
    if (found < 0) return;
    if (!found) {
        if (count >= 0)
            resp_add_null_array(c->reply);
        else
            resp_add_null(c->reply);
        return;
    }
    if (count == 0) {
        resp_add_array(c->reply, 0);
        return;
    }
    if (count < 0) {
        size_t len;
        char *ele = list_pop(c, &v, where, &len);
        if (!ele) return;
        if (kv_coll_save(c, argv[1], argvlen[1], &v) == 0) resp_add_bulk(c->reply, ele, len);
        free(ele);
        return;
    }
    uint64_t n = (uint64_t)count < v.count ? (uint64_t)count : v.count;
    if (list_pop_reply(c, &v, where, n) != 0) return;
    kv_coll_save(c, argv[1], argvlen[1], &v);
}

static void kvx_lpop(ARGS)
{
    pop_generic(c, argc, argv, argvlen, L_HEAD);
}

static void kvx_rpop(ARGS)
{
    pop_generic(c, argc, argv, argvlen, L_TAIL);
}

static void kvx_llen(ARGS)
{
    kv_val v;
    UNUSED_ARGS;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_LIST, &v);
    if (found >= 0) resp_add_int(c->reply, found ? (int64_t)v.count : 0);
}

/* The seq of index (negative from the tail) in v, or 0 when out of range
 * (0 is never a seq: they start from KV_LIST_MID and move by one). */
static uint64_t index_seq(const kv_val *v, long long index)
{
    long long n = (long long)v->count;
    if (index < 0) index = n + index;
    if (index < 0 || index >= n) return 0;
    return v->head + (uint64_t)index;
}

static void kvx_lindex(ARGS)
{
    kv_val v;
    long long index;
    UNUSED_ARGS;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_LIST, &v);
    if (found < 0) return;
    if (!found) {
        resp_add_null(c->reply);
        return;
    }
    if (kv_getll(argv[2], argvlen[2], &index, c->reply) != 0) return;
    uint64_t seq = index_seq(&v, index);
    if (!seq) {
        resp_add_null(c->reply);
        return;
    }
    const char *p;
    size_t n;
    if (at(c, &v, seq, &p, &n) == 0) resp_add_bulk(c->reply, p, n);
}

static void kvx_lset(ARGS)
{
    kv_val v;
    long long index;
    UNUSED_ARGS;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_LIST, &v);
    if (found < 0) return;
    if (!found) {
        resp_add_error(c->reply, ERR_NOKEY);
        return;
    }
    if (kv_getll(argv[2], argvlen[2], &index, c->reply) != 0) return;
    uint64_t seq = index_seq(&v, index);
    if (!seq) {
        resp_add_error(c->reply, ERR_RANGE);
        return;
    }
    if (put_at(c, &v, seq, argv[3], argvlen[3]) == 0) resp_add_ok(c->reply);
}

static void kvx_lrange(ARGS)
{
    long long start, end;
    kv_val v;
    UNUSED_ARGS;
    if (kv_getll(argv[2], argvlen[2], &start, c->reply) != 0 ||
        kv_getll(argv[3], argvlen[3], &end, c->reply) != 0)
        return;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_LIST, &v);
    if (found < 0) return;
    uint64_t from, to;
    if (!found || !clamp_range(start, end, v.count, &from, &to)) {
        resp_add_array(c->reply, 0);
        return;
    }
    kv_iter it;
    unsigned char s[8];
    kv_seq_enc(v.head + from, s);
    if (kv_iter_open(c, &it, KV_T_ELEM, v.ver, s, 8, 0) != 0) return;
    resp_add_array(c->reply, (int64_t)(to - from + 1));
    for (uint64_t i = from; i <= to; i++) {
        const char *f, *p;
        size_t flen, plen;
        int r = kv_iter_next(&it, &f, &flen, &p, &plen);
        if (r != 1) {
            if (r == 0) corrupt(c);
            break;
        }
        resp_add_bulk(c->reply, p, plen);
    }
    kv_iter_close(&it);
}

/* Deletes n records from one end of v (n < count) through an iterator. */
static int trim_end(kv_ctx *c, kv_val *v, int where, uint64_t n)
{
    if (n == 0) return 0;
    kv_iter it;
    unsigned char s[8];
    kv_seq_enc(where == L_HEAD ? v->head : v->tail - 1, s);
    if (kv_iter_open(c, &it, KV_T_ELEM, v->ver, s, 8, where == L_TAIL) != 0) return -1;
    int rc = 0;
    for (uint64_t i = 0; i < n && rc == 0; i++) {
        const char *f, *p;
        size_t flen, plen;
        int r = kv_iter_next(&it, &f, &flen, &p, &plen);
        if (r != 1) {
            if (r == 0) corrupt(c);
            rc = -1;
        } else {
            rc = kv_iter_del_current(&it);
        }
    }
    kv_iter_close(&it);
    if (rc != 0) return -1;
    if (where == L_HEAD)
        v->head += n;
    else
        v->tail -= n;
    v->count -= n;
    return 0;
}

static void kvx_ltrim(ARGS)
{
    long long start, end;
    kv_val v;
    UNUSED_ARGS;
    if (kv_getll(argv[2], argvlen[2], &start, c->reply) != 0 ||
        kv_getll(argv[3], argvlen[3], &end, c->reply) != 0)
        return;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_LIST, &v);
    if (found < 0) return;
    if (!found) {
        resp_add_ok(c->reply);
        return;
    }
    uint64_t from, to;
    if (!clamp_range(start, end, v.count, &from, &to)) {
        v.count = 0; /* the key goes, its records with its version */
    } else {
        uint64_t rtrim = v.count - to - 1;
        if (trim_end(c, &v, L_HEAD, from) != 0 || trim_end(c, &v, L_TAIL, rtrim) != 0) return;
    }
    if (kv_coll_save(c, argv[1], argvlen[1], &v) == 0) resp_add_ok(c->reply);
}

/* Inserts ele (not in the map) so that it becomes index pos (0 <= pos <=
 * count), shifting the shorter side by one. */
static int insert_at(kv_ctx *c, kv_val *v, uint64_t pos, const char *ele, size_t len)
{
    scratch b = {0};
    int rc = 0;
    if (pos < v->count - pos) {
        for (uint64_t i = 0; i < pos && rc == 0; i++)
            rc = move_rec(c, v, &b, v->head + i, v->head + i - 1);
        if (rc == 0) rc = put_at(c, v, v->head + pos - 1, ele, len);
        if (rc == 0) v->head--;
    } else {
        for (uint64_t i = v->count; i > pos && rc == 0; i--)
            rc = move_rec(c, v, &b, v->head + i - 1, v->head + i);
        if (rc == 0) rc = put_at(c, v, v->head + pos, ele, len);
        if (rc == 0) v->tail++;
    }
    free(b.p);
    if (rc == 0) v->count++;
    return rc;
}

static void kvx_linsert(ARGS)
{
    kv_val v;
    UNUSED_ARGS;
    int after = word(argv[2], argvlen[2], "after");
    if (!after && !word(argv[2], argvlen[2], "before")) {
        resp_add_error(c->reply, ERR_SYNTAX);
        return;
    }
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_LIST, &v);
    if (found < 0) return;
    if (!found) {
        resp_add_int(c->reply, 0);
        return;
    }
    kv_iter it;
    if (kv_iter_open(c, &it, KV_T_ELEM, v.ver, NULL, 0, 0) != 0) return;
    uint64_t i = 0;
    int hit = 0, r;
    const char *f, *p;
    size_t flen, plen;
    while ((r = kv_iter_next(&it, &f, &flen, &p, &plen)) == 1) {
        if (eq(p, plen, argv[3], argvlen[3])) {
            hit = 1;
            break;
        }
        i++;
    }
    kv_iter_close(&it);
    if (r < 0) return;
    if (!hit) {
        resp_add_int(c->reply, -1);
        return;
    }
    if (insert_at(c, &v, i + (uint64_t)after, argv[4], argvlen[4]) != 0 ||
        kv_coll_save(c, argv[1], argvlen[1], &v) != 0)
        return;
    resp_add_int(c->reply, (int64_t)v.count);
}

/* Removes every element equal to ele between indexes lo and hi (both
 * matches), k of them, closing the gap from the shorter side: the elements
 * before hi move towards the tail, or those after lo towards the head. */
static int remove_matches(kv_ctx *c, kv_val *v, const char *ele, size_t len, uint64_t lo,
                          uint64_t hi, uint64_t k)
{
    scratch b = {0};
    int rc = 0;
    const char *p;
    size_t n;
    if (hi + 1 <= v->count - lo) {
        uint64_t w = hi;
        for (uint64_t r = hi + 1; r-- > 0 && rc == 0;) {
            if (r >= lo) {
                if ((rc = at(c, v, v->head + r, &p, &n)) != 0) break;
                if (eq(p, n, ele, len)) continue;
            }
            if (w != r) rc = move_rec(c, v, &b, v->head + r, v->head + w);
            w--;
        }
        for (uint64_t i = 0; i < k && rc == 0; i++)
            rc = del_at(c, v, v->head + i);
        if (rc == 0) v->head += k;
    } else {
        uint64_t w = lo;
        for (uint64_t r = lo; r < v->count && rc == 0; r++) {
            if (r <= hi) {
                if ((rc = at(c, v, v->head + r, &p, &n)) != 0) break;
                if (eq(p, n, ele, len)) continue;
            }
            if (w != r) rc = move_rec(c, v, &b, v->head + r, v->head + w);
            w++;
        }
        for (uint64_t i = 0; i < k && rc == 0; i++)
            rc = del_at(c, v, v->tail - 1 - i);
        if (rc == 0) v->tail -= k;
    }
    free(b.p);
    if (rc == 0) v->count -= k;
    return rc;
}

static void kvx_lrem(ARGS)
{
    long long toremove;
    kv_val v;
    UNUSED_ARGS;
    if (kv_getll(argv[2], argvlen[2], &toremove, c->reply) != 0) return;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_LIST, &v);
    if (found < 0) return;
    if (!found) {
        resp_add_int(c->reply, 0);
        return;
    }
    /* A negative count scans from the tail; LLONG_MIN, whose negation
     * overflows, removes every match as it does in Redis. */
    int reverse = toremove < 0;
    uint64_t limit = toremove == LLONG_MIN ? 0 : reverse ? (uint64_t)-toremove : (uint64_t)toremove;
    kv_iter it;
    if (kv_iter_open(c, &it, KV_T_ELEM, v.ver, NULL, 0, reverse) != 0) return;
    uint64_t k = 0, lo = 0, hi = 0, i = 0;
    const char *f, *p;
    size_t flen, plen;
    int r;
    while ((r = kv_iter_next(&it, &f, &flen, &p, &plen)) == 1) {
        if (eq(p, plen, argv[3], argvlen[3])) {
            uint64_t idx = reverse ? v.count - 1 - i : i;
            if (k == 0) lo = hi = idx;
            if (idx < lo) lo = idx;
            if (idx > hi) hi = idx;
            if (++k == limit) break;
        }
        i++;
    }
    kv_iter_close(&it);
    if (r < 0) return;
    if (k == v.count)
        v.count = 0; /* the key goes, its records with its version */
    else if (k > 0 && remove_matches(c, &v, argv[3], argvlen[3], lo, hi, k) != 0)
        return;
    if (k > 0 && kv_coll_save(c, argv[1], argvlen[1], &v) != 0) return;
    resp_add_int(c->reply, (int64_t)k);
}

static void kvx_lpos(ARGS)
{
    lpos_opts o;
    kv_val v;
    if (parse_lpos(argc, argv, argvlen, &o, c->reply) != 0) return;
    /* A negative rank searches from the tail. LLONG_MIN stays negative, as
     * it does in Redis, where every match then ranks. */
    int reverse = o.rank < 0;
    if (reverse && o.rank != LLONG_MIN) o.rank = -o.rank;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_LIST, &v);
    if (found < 0) return;
    if (!found) {
        if (o.count != -1)
            resp_add_array(c->reply, 0);
        else
            resp_add_null(c->reply);
        return;
    }
    size_t mark = 0;
    if (o.count != -1) mark = resp_add_deferred(c->reply);
    kv_iter it;
    if (kv_iter_open(c, &it, KV_T_ELEM, v.ver, NULL, 0, reverse) != 0) return;
    long long index = 0, matches = 0, matchindex = -1, arraylen = 0;
    long long llen = (long long)v.count;
    const char *f, *p;
    size_t flen, plen;
    int r;
    while ((o.maxlen == 0 || index < o.maxlen) &&
           (r = kv_iter_next(&it, &f, &flen, &p, &plen)) == 1) {
        if (eq(p, plen, argv[2], argvlen[2])) {
            matches++;
            matchindex = reverse ? llen - index - 1 : index;
            if (matches >= o.rank) {
                if (o.count == -1) break;
                arraylen++;
                resp_add_int(c->reply, matchindex);
                /* matches - rank + 1 >= count, wrapping as Redis's long
                 * arithmetic does for a rank of LLONG_MIN. */
                long long seen =
                    (long long)((unsigned long long)matches - (unsigned long long)o.rank + 1);
                if (o.count && seen >= o.count) break;
            }
        }
        index++;
        matchindex = -1;
    }
    kv_iter_close(&it);
    if (c->rc) return;
    if (o.count != -1)
        resp_set_deferred_array(c->reply, mark, arraylen);
    else if (matchindex != -1)
        resp_add_int(c->reply, matchindex);
    else
        resp_add_null(c->reply);
}

/* LMOVE / RPOPLPUSH from the list sv (argv[1], found) to argv[2] (Redis's
 * lmoveGenericCommand): the destination's type is checked before anything
 * is popped; src == dst rotates one list. Events as Redis's: the push on
 * the destination, then the pop on the source. */
static void move_from(kv_ctx *c, char **argv, size_t *argvlen, kv_val sv, int wherefrom,
                      int whereto)
{
    kv_val dv;
    int same = eq(argv[1], argvlen[1], argv[2], argvlen[2]);
    kv_val *d = &sv;
    if (!same) {
        int dfound = kv_lookup_type(c, argv[2], argvlen[2], KV_TYPE_LIST, &dv);
        if (dfound < 0) return;
        if (!dfound && list_new(c, &dv) != 0) return;
        d = &dv;
    }
    size_t len;
    char *ele = list_pop(c, &sv, wherefrom, &len);
    if (!ele) return;
    if (list_push(c, d, whereto, ele, len) == 0 && kv_coll_save(c, argv[2], argvlen[2], d) == 0 &&
        (same || kv_coll_save(c, argv[1], argvlen[1], &sv) == 0)) {
        resp_add_bulk(c->reply, ele, len);
        kv_notify(c, KV_NOTIFY_LIST, whereto == L_HEAD ? "lpush" : "rpush", argv[2], argvlen[2]);
        popped(c, argv[1], argvlen[1], wherefrom, &sv);
    }
    free(ele);
}

static void move_generic(kv_ctx *c, char **argv, size_t *argvlen, int wherefrom, int whereto)
{
    kv_val sv;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_LIST, &sv);
    if (found < 0) return;
    if (!found) {
        resp_add_null(c->reply);
        return;
    }
    move_from(c, argv, argvlen, sv, wherefrom, whereto);
}

static void kvx_lmove(ARGS)
{
    int from, to;
    (void)argc;
    if (parse_where(argv[3], argvlen[3], &from, c->reply) != 0 ||
        parse_where(argv[4], argvlen[4], &to, c->reply) != 0)
        return;
    move_generic(c, argv, argvlen, from, to);
}

static void kvx_rpoplpush(ARGS)
{
    (void)argc;
    move_generic(c, argv, argvlen, L_TAIL, L_HEAD);
}

/* Pops from the first non-empty list among keys[0..nkeys); a key of
 * another type stops the scan with WRONGTYPE (Redis's mpopGenericCommand
 * and blockingPopGenericCommand). Replies [key, [element, ...]] with up to
 * count elements, or for count -1 (BLPOP, BRPOP) [key, element]. 1 when
 * it popped, 0 when every key is missing (nothing replied), -1 error
 * (replied or c->rc). */
static int mpop_keys(kv_ctx *c, char **keys, size_t *keylens, long long nkeys, int where,
                     long long count)
{
    for (long long j = 0; j < nkeys; j++) {
        kv_val v;
        int found = kv_lookup_type(c, keys[j], keylens[j], KV_TYPE_LIST, &v);
        if (found < 0) return -1;
        if (!found) continue;
        resp_add_array(c->reply, 2);
        resp_add_bulk(c->reply, keys[j], keylens[j]);
        if (count < 0) {
            size_t len;
            char *ele = list_pop(c, &v, where, &len);
            if (!ele) return -1;
            resp_add_bulk(c->reply, ele, len);
            free(ele);
        } else {
            uint64_t n = (uint64_t)count < v.count ? (uint64_t)count : v.count;
            if (list_pop_reply(c, &v, where, n) != 0) return -1;
        }
        if (kv_coll_save(c, keys[j], keylens[j], &v) != 0) return -1;
        popped(c, keys[j], keylens[j], where, &v);
        return 1;
    }
    return 0;
}

static void kvx_lmpop(ARGS)
{
    long long numkeys, count;
    int where;
    if (parse_lmpop(argc, argv, argvlen, 1, &numkeys, &where, &count, c->reply) != 0) return;
    if (mpop_keys(c, argv + 2, argvlen + 2, numkeys, where, count) == 0)
        resp_add_null_array(c->reply);
}

/* ------------------------------------------------------------ blocking */

/* BLPOP / BRPOP key [key ...] timeout */
static void bpop_generic(ARGS, int where)
{
    if (mpop_keys(c, argv + 1, argvlen + 1, argc - 2, where, -1) == 0) kvx_block_empty(c, 1);
}

static void kvx_blpop(ARGS)
{
    bpop_generic(c, argc, argv, argvlen, L_HEAD);
}

static void kvx_brpop(ARGS)
{
    bpop_generic(c, argc, argv, argvlen, L_TAIL);
}

/* BLMOVE / BRPOPLPUSH (Redis's blmoveGenericCommand): only the source
 * decides; a missing source blocks whatever the destination holds. Its
 * null is a bulk one. */
static void bmove_generic(kv_ctx *c, char **argv, size_t *argvlen, int wherefrom, int whereto)
{
    kv_val sv;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_LIST, &sv);
    if (found < 0) return;
    if (!found)
        kvx_block_empty(c, 0);
    else
        move_from(c, argv, argvlen, sv, wherefrom, whereto);
}

static void kvx_blmove(ARGS)
{
    int from, to;
    (void)argc;
    if (parse_where(argv[3], argvlen[3], &from, c->reply) != 0 ||
        parse_where(argv[4], argvlen[4], &to, c->reply) != 0)
        return;
    bmove_generic(c, argv, argvlen, from, to);
}

static void kvx_brpoplpush(ARGS)
{
    (void)argc;
    bmove_generic(c, argv, argvlen, L_TAIL, L_HEAD);
}

static void kvx_blmpop(ARGS)
{
    long long numkeys, count;
    int where;
    if (parse_lmpop(argc, argv, argvlen, 2, &numkeys, &where, &count, c->reply) != 0) return;
    if (mpop_keys(c, argv + 3, argvlen + 3, numkeys, where, count) == 0) kvx_block_empty(c, 1);
}

/* ------------------------------------------------------------ command table */

#define W KV_CMD_WRITE
#define R KV_CMD_READONLY
#define F KV_CMD_FAST
#define D KV_CMD_DENYOOM
#define B KV_CMD_BLOCKING
/* clang-format off */
const kv_command kvx_list_commands[] = {
    {"lpush", -3, W | D | F, 1, 1, 1, NULL, kvx_lpush, "list", "1.0.0", "Prepend one or multiple elements to a list"},
    {"rpush", -3, W | D | F, 1, 1, 1, NULL, kvx_rpush, "list", "1.0.0", "Append one or multiple elements to a list"},
    {"lpushx", -3, W | D | F, 1, 1, 1, NULL, kvx_lpushx, "list", "2.2.0", "Prepend an element to a list, only if the list exists"},
    {"rpushx", -3, W | D | F, 1, 1, 1, NULL, kvx_rpushx, "list", "2.2.0", "Append an element to a list, only if the list exists"},
    {"linsert", 5, W | D, 1, 1, 1, ck_linsert, kvx_linsert, "list", "2.2.0", "Insert an element before or after another element in a list"},
    {"lpop", -2, W | F, 1, 1, 1, ck_pop, kvx_lpop, "list", "1.0.0", "Remove and get the first elements in a list"},
    {"rpop", -2, W | F, 1, 1, 1, ck_pop, kvx_rpop, "list", "1.0.0", "Remove and get the last elements in a list"},
    {"llen", 2, R | F, 1, 1, 1, NULL, kvx_llen, "list", "1.0.0", "Get the length of a list"},
    {"lindex", 3, R, 1, 1, 1, NULL, kvx_lindex, "list", "1.0.0", "Get an element from a list by its index"},
    {"lset", 4, W | D, 1, 1, 1, NULL, kvx_lset, "list", "1.0.0", "Set the value of an element in a list by its index"},
    {"lrange", 4, R, 1, 1, 1, ck_range, kvx_lrange, "list", "1.0.0", "Get a range of elements from a list"},
    {"ltrim", 4, W, 1, 1, 1, ck_range, kvx_ltrim, "list", "1.0.0", "Trim a list to the specified range"},
    {"lrem", 4, W, 1, 1, 1, ck_lrem, kvx_lrem, "list", "1.0.0", "Remove elements from a list"},
    {"lpos", -3, R, 1, 1, 1, ck_lpos, kvx_lpos, "list", "6.0.6", "Return the index of matching elements on a list"},
    {"rpoplpush", 3, W | D, 1, 2, 1, NULL, kvx_rpoplpush, "list", "1.2.0", "Remove the last element in a list, prepend it to another list and return it"},
    {"lmove", 5, W | D, 1, 2, 1, ck_lmove, kvx_lmove, "list", "6.2.0", "Pop an element from a list, push it to another list and return it"},
    {"lmpop", -4, W, 0, 0, 0, ck_lmpop, kvx_lmpop, "list", "7.0.0", "Pop elements from a list"},
    {"blpop", -3, W | B, 1, -2, 1, ck_bpop, kvx_blpop, "list", "2.0.0", "Remove and get the first element in a list, or block until one is available"},
    {"brpop", -3, W | B, 1, -2, 1, ck_bpop, kvx_brpop, "list", "2.0.0", "Remove and get the last element in a list, or block until one is available"},
    {"brpoplpush", 4, W | D | B, 1, 2, 1, ck_brpoplpush, kvx_brpoplpush, "list", "2.2.0", "Pop an element from a list, push it to another list and return it; or block until one is available"},
    {"blmove", 6, W | D | B, 1, 2, 1, ck_blmove, kvx_blmove, "list", "6.2.0", "Pop an element from a list, push it to another list and return it; or block until one is available"},
    {"blmpop", -5, W | B, 0, 0, 0, ck_blmpop, kvx_blmpop, "list", "7.0.0", "Pop elements from a list, or block until one is available"},
};
/* clang-format on */
#undef W
#undef R
#undef F
#undef D
#undef B
const size_t kvx_list_ncommands = sizeof(kvx_list_commands) / sizeof(kvx_list_commands[0]);
