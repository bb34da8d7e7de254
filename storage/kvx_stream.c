/* kvx_stream.c -- the stream commands (Redis 7.0's t_stream.c), on the
 * typed key space (kvks.h).
 *
 * Layout. Each entry is an element record of the stream's version named by
 * its id as 16 bytes (u64 BE ms, u64 BE seq), so records sort as ids do:
 * XRANGE is a cursor walk from a seek, XADD one put at the end, at any
 * length. Its value is u32 BE pairs, then per field and value u32 BE
 * length and bytes (entry_decode checks every length against what is
 * left). The key record holds what Redis's stream struct does besides the
 * entries: last id, largest deleted id, entries added (kvks.c).
 *
 * Nodes. Approximate trimming (MAXLEN ~, MINID ~, LIMIT) removes only
 * whole nodes, Redis's listpacks, so where it stops depends on where they
 * begin. Each node has a record named by its first id plus a 0x00 byte
 * (sorting right after that entry): u64 BE live entries, u64 BE entries
 * deleted inside it, its last id. XADD appends to the tail node (its first
 * id is in the key record) until it holds stream-node-max-entries (100)
 * entries, deleted ones included, as Redis does; XDEL of a node's last
 * live entry removes the node; trimming walks nodes from the head. Redis
 * also closes a node at stream-node-max-bytes (4096) of listpack, which is
 * not modelled: with large entries `~` trims at other points than Redis
 * would (still never below the threshold).
 *
 * Time. An id `*` is made from the entry's time tau (max(tau, last ms)),
 * never the node's clock: every node computes the same id. */
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
#include "storage/kvstream.h"

#define NODE_MAX_ENTRIES 100 /* stream-node-max-entries */
#define ERR_BADID "ERR Invalid stream ID specified as stream command argument"

typedef struct sid {
    uint64_t ms, seq;
} sid;

static int id_cmp(sid a, sid b)
{
    if (a.ms != b.ms) return a.ms < b.ms ? -1 : 1;
    if (a.seq != b.seq) return a.seq < b.seq ? -1 : 1;
    return 0;
}

static void id_enc(sid id, unsigned char out[17])
{
    kv_put_be64(out, id.ms);
    kv_put_be64(out + 8, id.seq);
    out[16] = 0;
}

static sid id_dec(const void *p)
{
    const unsigned char *b = p;
    return (sid){kv_get_be64(b), kv_get_be64(b + 8)};
}

static int id_incr(sid *id)
{
    if (id->seq == UINT64_MAX) {
        if (id->ms == UINT64_MAX) {
            id->ms = id->seq = 0;
            return -1;
        }
        id->ms++;
        id->seq = 0;
    } else {
        id->seq++;
    }
    return 0;
}

static int id_decr(sid *id)
{
    if (id->seq == 0) {
        if (id->ms == 0) {
            id->ms = id->seq = UINT64_MAX;
            return -1;
        }
        id->ms--;
        id->seq = UINT64_MAX;
    } else {
        id->seq--;
    }
    return 0;
}

static int id_fmt(char *buf, sid id)
{
    return snprintf(buf, 48, "%llu-%llu", (unsigned long long)id.ms, (unsigned long long)id.seq);
}

static void add_id(resp_buf *r, sid id)
{
    char buf[48];
    resp_add_bulk(r, buf, (size_t)id_fmt(buf, id));
}

/* Redis's string2ull: string2ll (not negative), else strtoull (which
 * takes spaces, '+' and leading zeros). */
static int string2ull(const char *s, unsigned long long *v)
{
    long long ll;
    if (kv_string2ll(s, strlen(s), &ll)) {
        if (ll < 0) return 0;
        *v = (unsigned long long)ll;
        return 1;
    }
    errno = 0;
    char *end = NULL;
    *v = strtoull(s, &end, 10);
    if (errno == EINVAL || errno == ERANGE || !(*s != '\0' && *end == '\0')) return 0;
    return 1;
}

/* streamGenericParseIDOrReply: "-", "+", "<ms>", "<ms>-<seq>" and, where
 * seq_given is not NULL, "<ms>-*". As Redis, the argument is read as a C
 * string (a NUL ends it) of at most 127 bytes. */
static int parse_id(const char *s, size_t len, sid *id, uint64_t missing_seq, int strict,
                    int *seq_given, resp_buf *err)
{
    char buf[128];
    unsigned long long ms, seq;
    if (len > sizeof(buf) - 1) goto invalid;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (strict && (buf[0] == '-' || buf[0] == '+') && buf[1] == '\0') goto invalid;
    if (seq_given) *seq_given = 1;
    if (buf[0] == '-' && buf[1] == '\0') {
        *id = (sid){0, 0};
        return 0;
    }
    if (buf[0] == '+' && buf[1] == '\0') {
        *id = (sid){UINT64_MAX, UINT64_MAX};
        return 0;
    }
    char *dot = strchr(buf, '-');
    if (dot) *dot = '\0';
    if (!string2ull(buf, &ms)) goto invalid;
    if (dot) {
        if (seq_given && dot[1] == '*' && dot[2] == '\0') {
            seq = 0;
            *seq_given = 0;
        } else if (!string2ull(dot + 1, &seq)) {
            goto invalid;
        }
    } else {
        seq = missing_seq;
    }
    *id = (sid){ms, seq};
    return 0;
invalid:
    if (err) resp_add_error(err, ERR_BADID);
    return -1;
}

static int parse_strict(const char *s, size_t len, sid *id, uint64_t missing_seq, int *seq_given,
                        resp_buf *err)
{
    return parse_id(s, len, id, missing_seq, 1, seq_given, err);
}

/* streamParseIntervalIDOrReply: "(" before an id excludes it. */
static int parse_interval(const char *s, size_t len, sid *id, int *excl, uint64_t missing_seq,
                          resp_buf *err)
{
    *excl = len > 1 && s[0] == '(';
    if (*excl) return parse_strict(s + 1, len - 1, id, missing_seq, NULL, err);
    return parse_id(s, len, id, missing_seq, 0, NULL, err);
}

/* ------------------------------------------------------------ records */

int kv_stream_entry_decode(const void *p, size_t n, kv_stream_field_fn *fn, void *arg)
{
    const unsigned char *b = p;
    if (n < 4) return -1;
    uint64_t pairs = (uint64_t)b[0] << 24 | (uint64_t)b[1] << 16 | (uint64_t)b[2] << 8 | b[3];
    b += 4;
    n -= 4;
    if (pairs == 0 || pairs > n / 8) return -1; /* each string takes at least 4 bytes */
    for (uint64_t i = 0; i < pairs * 2; i++) {
        if (n < 4) return -1;
        size_t l = (size_t)b[0] << 24 | (size_t)b[1] << 16 | (size_t)b[2] << 8 | b[3];
        b += 4;
        n -= 4;
        if (l > n) return -1;
        if (fn) fn(arg, (const char *)b, l);
        b += l;
        n -= l;
    }
    return n == 0 ? (int64_t)pairs > INT_MAX ? -1 : (int)pairs : -1;
}

int kv_stream_node_decode(const void *p, size_t n, kv_stream_node *node)
{
    const unsigned char *b = p;
    if (n != 32) return -1;
    node->live = kv_get_be64(b);
    node->deleted = kv_get_be64(b + 8);
    node->last_ms = kv_get_be64(b + 16);
    node->last_seq = kv_get_be64(b + 24);
    if (node->live > NODE_MAX_ENTRIES * 2ull || node->deleted > NODE_MAX_ENTRIES * 2ull) return -1;
    return 0;
}

static void node_encode(unsigned char out[32], const kv_stream_node *node)
{
    kv_put_be64(out, node->live);
    kv_put_be64(out + 8, node->deleted);
    kv_put_be64(out + 16, node->last_ms);
    kv_put_be64(out + 24, node->last_seq);
}

static void corrupt(kv_ctx *c)
{
    if (c->rc == 0) c->rc = KV_ECORRUPT;
}

/* The node whose first id is m. 1, 0 absent, -1 error. */
static int node_get(kv_ctx *c, uint64_t ver, sid m, kv_stream_node *node)
{
    unsigned char name[17];
    const char *val;
    size_t vlen;
    id_enc(m, name);
    int r = kv_elem_get(c, ver, name, 17, &val, &vlen);
    if (r != 1) return r;
    if (kv_stream_node_decode(val, vlen, node) != 0) {
        corrupt(c);
        return -1;
    }
    return 1;
}

static int node_put(kv_ctx *c, uint64_t ver, sid m, const kv_stream_node *node)
{
    unsigned char name[17], val[32];
    id_enc(m, name);
    node_encode(val, node);
    return kv_elem_put(c, ver, name, 17, val, 32, NULL);
}

static int node_del(kv_ctx *c, uint64_t ver, sid m)
{
    unsigned char name[17];
    id_enc(m, name);
    return kv_elem_del(c, ver, name, 17) < 0 ? -1 : 0;
}

/* The last node record at or before name (17 bytes): its first id in *m.
 * 1 found, 0 none, -1 error. A node holds at most NODE_MAX_ENTRIES
 * records, so the walk back is bounded. */
static int node_before(kv_ctx *c, uint64_t ver, const unsigned char name[17], sid *m)
{
    kv_iter it;
    const char *f, *val;
    size_t flen, vlen;
    int r;
    if (kv_iter_open(c, &it, KV_T_ELEM, ver, name, 17, 1) != 0) return -1;
    while ((r = kv_iter_next(&it, &f, &flen, &val, &vlen)) == 1) {
        if (flen == 17) {
            *m = id_dec(f);
            break;
        }
        if (flen != 16) {
            corrupt(c);
            r = -1;
            break;
        }
    }
    kv_iter_close(&it);
    return r;
}

/* An entry's record: 1 with its value, 0 absent, -1 error. */
static int entry_get(kv_ctx *c, uint64_t ver, sid id, const char **val, size_t *vlen)
{
    unsigned char name[17];
    id_enc(id, name);
    return kv_elem_get(c, ver, name, 16, val, vlen);
}

/* ------------------------------------------------------------ replies */

static void add_field(void *arg, const char *p, size_t n)
{
    resp_add_bulk(arg, p, n);
}

/* One entry as XRANGE gives it: [id, [field, value, ...]]. */
static int reply_entry(kv_ctx *c, const char *f, const char *val, size_t vlen)
{
    int pairs = kv_stream_entry_decode(val, vlen, NULL, NULL);
    if (pairs < 0) {
        corrupt(c);
        return -1;
    }
    resp_add_array(c->reply, 2);
    add_id(c->reply, id_dec(f));
    resp_add_array(c->reply, (int64_t)pairs * 2);
    kv_stream_entry_decode(val, vlen, add_field, c->reply);
    return 0;
}

/* streamReplyWithRange without a group: the entries of [start, end]
 * (reverse: from end down to start), at most count (0: all). */
static void reply_range(kv_ctx *c, const kv_val *v, sid start, sid end, long long count, int rev)
{
    kv_iter it;
    const char *f, *val;
    size_t flen, vlen;
    unsigned char from[17];
    long long n = 0;
    int r;
    size_t mark = resp_add_deferred(c->reply);
    if (id_cmp(start, end) <= 0) {
        id_enc(rev ? end : start, from);
        if (kv_iter_open(c, &it, KV_T_ELEM, v->ver, from, 16, rev) != 0) return;
        while ((count == 0 || n < count) && (r = kv_iter_next(&it, &f, &flen, &val, &vlen)) == 1) {
            if (flen == 17) continue; /* a node record */
            if (flen != 16) {
                corrupt(c);
                break;
            }
            sid id = id_dec(f);
            if (rev ? id_cmp(id, start) < 0 : id_cmp(id, end) > 0) break;
            if (reply_entry(c, f, val, vlen) != 0) break;
            n++;
        }
        kv_iter_close(&it);
    }
    resp_set_deferred_array(c->reply, mark, n);
}

/* The first (rev: last) live entry's id: 1, 0 none, -1 error. */
static int edge_id(kv_ctx *c, const kv_val *v, int rev, sid *id)
{
    kv_iter it;
    const char *f, *val;
    size_t flen, vlen;
    int r;
    if (kv_iter_open(c, &it, KV_T_ELEM, v->ver, NULL, 0, rev) != 0) return -1;
    while ((r = kv_iter_next(&it, &f, &flen, &val, &vlen)) == 1) {
        if (flen == 16) {
            *id = id_dec(f);
            break;
        }
        if (flen != 17) {
            corrupt(c);
            r = -1;
            break;
        }
    }
    kv_iter_close(&it);
    return r;
}

/* ------------------------------------------------------------ trimming */

enum { TRIM_NONE = 0, TRIM_MAXLEN, TRIM_MINID };

typedef struct trim_args {
    int strategy, approx, nomkstream, id_given, seq_given;
    long long maxlen, limit;
    sid minid, id;
} trim_args;

/* streamParseAddOrTrimArgsOrReply: XADD's (xadd) or XTRIM's options.
 * Returns the position of XADD's id (XTRIM: argc), or -1 with the error
 * in err. LIMIT without it is 100 * stream-node-max-entries for `~`. */
static int parse_trim(int argc, char **argv, size_t *argvlen, int xadd, trim_args *a, resp_buf *err)
{
    int i = 2, limit_given = 0;
    memset(a, 0, sizeof(*a));
    for (; i < argc; i++) {
        int more = argc - 1 - i;
        const char *opt = argv[i];
        if (xadd && opt[0] == '*' && opt[1] == '\0') {
            break;
        } else if ((kv_streqci(opt, argvlen[i], "maxlen") ||
                    kv_streqci(opt, argvlen[i], "minid")) &&
                   more) {
            int minid = kv_streqci(opt, argvlen[i], "minid");
            if (a->strategy != TRIM_NONE) {
                resp_add_error(err, "ERR syntax error, MAXLEN and MINID options at the same time "
                                    "are not compatible");
                return -1;
            }
            a->approx = 0;
            const char *next = argv[i + 1];
            if (more >= 2 && next[0] == '~' && next[1] == '\0') {
                a->approx = 1;
                i++;
            } else if (more >= 2 && next[0] == '=' && next[1] == '\0') {
                i++;
            }
            if (minid) {
                if (parse_strict(argv[i + 1], argvlen[i + 1], &a->minid, 0, NULL, err) != 0)
                    return -1;
                a->strategy = TRIM_MINID;
            } else {
                if (kv_getll(argv[i + 1], argvlen[i + 1], &a->maxlen, err) != 0) return -1;
                if (a->maxlen < 0) {
                    resp_add_error(err, "ERR The MAXLEN argument must be >= 0.");
                    return -1;
                }
                a->strategy = TRIM_MAXLEN;
            }
            i++;
        } else if (kv_streqci(opt, argvlen[i], "limit") && more) {
            if (kv_getll(argv[i + 1], argvlen[i + 1], &a->limit, err) != 0) return -1;
            if (a->limit < 0) {
                resp_add_error(err, "ERR The LIMIT argument must be >= 0.");
                return -1;
            }
            limit_given = 1;
            i++;
        } else if (xadd && kv_streqci(opt, argvlen[i], "nomkstream")) {
            a->nomkstream = 1;
        } else if (xadd) {
            if (parse_strict(argv[i], argvlen[i], &a->id, 0, &a->seq_given, err) != 0) return -1;
            a->id_given = 1;
            break;
        } else {
            resp_add_error(err, ERR_SYNTAX);
            return -1;
        }
    }
    if (a->limit && a->strategy == TRIM_NONE) {
        resp_add_error(err, "ERR syntax error, LIMIT cannot be used without specifying a trimming "
                            "strategy");
        return -1;
    }
    if (!xadd && a->strategy == TRIM_NONE) {
        resp_add_error(err, "ERR syntax error, XTRIM must be called with a trimming strategy");
        return -1;
    }
    if (limit_given) {
        if (!a->approx) {
            resp_add_error(err, "ERR syntax error, LIMIT cannot be used without the special ~ "
                                "option");
            return -1;
        }
    } else {
        a->limit = a->approx ? 100 * NODE_MAX_ENTRIES : 0;
    }
    return i;
}

/* Walks the entries of node m (ids m .. its last, node records skipped)
 * in order, deleting each while keep() says no; returns how many it
 * deleted (counted out of v), or -1. */
typedef int keep_fn(const kv_val *v, sid id, const void *arg);

static long long node_walk(kv_ctx *c, kv_val *v, sid m, sid last, keep_fn *keep, const void *arg)
{
    kv_iter it;
    const char *f, *val;
    size_t flen, vlen;
    unsigned char from[17];
    long long n = 0;
    int r;
    id_enc(m, from);
    if (kv_iter_open(c, &it, KV_T_ELEM, v->ver, from, 16, 0) != 0) return -1;
    while ((r = kv_iter_next(&it, &f, &flen, &val, &vlen)) == 1) {
        if (flen == 17) continue;
        if (flen != 16) {
            corrupt(c);
            r = -1;
            break;
        }
        sid id = id_dec(f);
        if (id_cmp(id, last) > 0 || (keep && keep(v, id, arg))) break;
        if (kv_iter_del_current(&it) != 0) {
            r = -1;
            break;
        }
        v->count--;
        n++;
    }
    kv_iter_close(&it);
    return r < 0 ? -1 : n;
}

static int keep_maxlen(const kv_val *v, sid id, const void *arg)
{
    (void)id;
    return v->count <= (uint64_t)((const trim_args *)arg)->maxlen;
}

static int keep_minid(const kv_val *v, sid id, const void *arg)
{
    (void)v;
    return id_cmp(id, ((const trim_args *)arg)->minid) >= 0;
}

/* streamTrim: returns the entries deleted, -1 on error. */
static long long stream_trim(kv_ctx *c, kv_val *v, const trim_args *a)
{
    long long deleted = 0;
    if (a->strategy == TRIM_NONE) return 0;
    for (;;) {
        if (a->strategy == TRIM_MAXLEN && v->count <= (uint64_t)a->maxlen) break;
        sid m = {0, 0};
        /* The head node: the first node record (its first entry, if
         * live, comes just before it). */
        kv_iter it;
        const char *f, *val;
        size_t flen, vlen;
        int r;
        if (kv_iter_open(c, &it, KV_T_ELEM, v->ver, NULL, 0, 0) != 0) return -1;
        while ((r = kv_iter_next(&it, &f, &flen, &val, &vlen)) == 1 && flen != 17)
            ;
        if (r == 1) m = id_dec(f);
        kv_iter_close(&it);
        if (r < 0) return -1;
        if (r == 0) break; /* no node left */
        kv_stream_node node;
        if (node_get(c, v->ver, m, &node) != 1) {
            corrupt(c);
            return -1;
        }
        long long entries = (long long)node.live;
        if (a->limit && deleted + entries > a->limit) break;
        int remove;
        if (a->strategy == TRIM_MAXLEN)
            remove = (long long)v->count - entries >= a->maxlen;
        else
            remove = id_cmp((sid){node.last_ms, node.last_seq}, a->minid) < 0;
        sid last = {node.last_ms, node.last_seq};
        if (remove) {
            if (node_walk(c, v, m, last, NULL, NULL) < 0 || node_del(c, v->ver, m) != 0) return -1;
            if (v->tail_ms == m.ms && v->tail_seq == m.seq) v->tail_ms = v->tail_seq = 0;
            deleted += entries;
            continue;
        }
        if (a->approx) break;
        /* Trim inside the node, from its first entry. */
        long long from_node =
            node_walk(c, v, m, last, a->strategy == TRIM_MAXLEN ? keep_maxlen : keep_minid, a);
        if (from_node < 0) return -1;
        node.live -= (uint64_t)from_node;
        node.deleted += (uint64_t)from_node;
        if (from_node && node_put(c, v->ver, m, &node) != 0) return -1;
        deleted += from_node;
        break;
    }
    return deleted;
}

/* ------------------------------------------------------------ writes */

KV_CHECK(ck_xadd)
{
    trim_args a;
    int idpos = parse_trim(argc, argv, argvlen, 1, &a, err);
    if (idpos < 0) return -1;
    int fields = argc - idpos - 1;
    if (fields < 2 || fields % 2 == 1) {
        resp_add_error(err, "ERR wrong number of arguments for 'xadd' command");
        return -1;
    }
    if (a.id_given && a.seq_given && a.id.ms == 0 && a.id.seq == 0) {
        resp_add_error(err, "ERR The ID specified in XADD must be greater than 0-0");
        return -1;
    }
    return 0;
}

/* The entry's value for fields argv[first..argc). NULL: out of memory. */
static unsigned char *entry_encode(int argc, char **argv, size_t *argvlen, int first, size_t *len)
{
    size_t n = 4;
    for (int i = first; i < argc; i++)
        n += 4 + argvlen[i];
    unsigned char *b = kv_malloc(n), *p = b;
    if (!b) return NULL;
    uint32_t pairs = (uint32_t)((argc - first) / 2);
    p[0] = (unsigned char)(pairs >> 24);
    p[1] = (unsigned char)(pairs >> 16);
    p[2] = (unsigned char)(pairs >> 8);
    p[3] = (unsigned char)pairs;
    p += 4;
    for (int i = first; i < argc; i++) {
        size_t l = argvlen[i];
        p[0] = (unsigned char)(l >> 24);
        p[1] = (unsigned char)(l >> 16);
        p[2] = (unsigned char)(l >> 8);
        p[3] = (unsigned char)l;
        memcpy(p + 4, argv[i], l);
        p += 4 + l;
    }
    *len = n;
    return b;
}

/* streamAppendItem: id is the new entry's (checked greater than the last). */
static int stream_append(kv_ctx *c, kv_val *v, sid id, int argc, char **argv, size_t *argvlen,
                         int first)
{
    size_t len;
    unsigned char *val = entry_encode(argc, argv, argvlen, first, &len), name[17];
    if (!val) {
        kvx_oom(c);
        return -1;
    }
    id_enc(id, name);
    int rc = kv_elem_put(c, v->ver, name, 16, val, len, NULL);
    free(val);
    if (rc != 0) return -1;
    kv_stream_node node;
    sid tail = {v->tail_ms, v->tail_seq};
    int has = tail.ms || tail.seq ? node_get(c, v->ver, tail, &node) : 0;
    if (has < 0) return -1;
    if (has && node.live + node.deleted >= NODE_MAX_ENTRIES) has = 0;
    if (!has) { /* a new node starts with this entry */
        node = (kv_stream_node){0};
        tail = id;
        v->tail_ms = id.ms;
        v->tail_seq = id.seq;
    }
    node.live++;
    node.last_ms = id.ms;
    node.last_seq = id.seq;
    if (node_put(c, v->ver, tail, &node) != 0) return -1;
    v->count++;
    v->added++;
    v->last_ms = id.ms;
    v->last_seq = id.seq;
    return 0;
}

static void kvx_xadd(ARGS)
{
    trim_args a;
    kv_val v;
    int idpos = parse_trim(argc, argv, argvlen, 1, &a, c->reply);
    if (idpos < 0) return;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_STREAM, &v);
    if (found < 0) return;
    if (!found) {
        if (a.nomkstream) {
            resp_add_null(c->reply);
            return;
        }
        if (kv_coll_new(c, KV_TYPE_STREAM, KV_ENC_STREAM, &v) != 0) return;
    }
    sid last = {v.last_ms, v.last_seq}, id;
    if (last.ms == UINT64_MAX && last.seq == UINT64_MAX) {
        resp_add_error(
            c->reply,
            "ERR The stream has exhausted the last possible ID, unable to add more items");
        return;
    }
    if (a.id_given && a.seq_given) {
        id = a.id;
    } else if (a.id_given) {
        if (last.ms == a.id.ms) {
            if (last.seq == UINT64_MAX) goto too_small;
            id = last;
            id.seq++;
        } else {
            id = a.id;
        }
    } else {
        /* streamNextID with the entry's time. */
        uint64_t now = c->tau > 0 ? (uint64_t)c->tau : 0;
        if (now > last.ms) {
            id = (sid){now, 0};
        } else {
            id = last;
            id_incr(&id);
        }
    }
    if (id_cmp(id, last) <= 0) goto too_small;
    if (stream_append(c, &v, id, argc, argv, argvlen, idpos + 1) != 0) return;
    long long trimmed = stream_trim(c, &v, &a);
    if (trimmed < 0) return;
    if (kv_coll_save(c, argv[1], argvlen[1], &v) != 0) return;
    add_id(c->reply, id);
    kv_notify(c, KV_NOTIFY_STREAM, "xadd", argv[1], argvlen[1]);
    if (trimmed) kv_notify(c, KV_NOTIFY_STREAM, "xtrim", argv[1], argvlen[1]);
    return;
too_small:
    resp_add_error(
        c->reply,
        "ERR The ID specified in XADD is equal or smaller than the target stream top item");
    if (!found && c->rc == 0) kv_coll_save(c, argv[1], argvlen[1], &v); /* Redis created it */
}

KV_CHECK(ck_xtrim)
{
    trim_args a;
    return parse_trim(argc, argv, argvlen, 0, &a, err) < 0 ? -1 : 0;
}

static void kvx_xtrim(ARGS)
{
    trim_args a;
    kv_val v;
    if (parse_trim(argc, argv, argvlen, 0, &a, c->reply) < 0) return;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_STREAM, &v);
    if (found < 0) return;
    if (!found) {
        resp_add_int(c->reply, 0);
        return;
    }
    long long deleted = stream_trim(c, &v, &a);
    if (deleted < 0) return;
    if (deleted) {
        if (kv_coll_save(c, argv[1], argvlen[1], &v) != 0) return;
        kv_notify(c, KV_NOTIFY_STREAM, "xtrim", argv[1], argvlen[1]);
    }
    resp_add_int(c->reply, deleted);
}

/* Deletes one entry (streamDeleteItem): 1 deleted, 0 absent, -1 error. */
static int stream_delete(kv_ctx *c, kv_val *v, sid id)
{
    const char *val;
    size_t vlen;
    unsigned char name[17];
    int r = entry_get(c, v->ver, id, &val, &vlen);
    if (r <= 0) return r;
    id_enc(id, name);
    sid m;
    kv_stream_node node;
    if (node_before(c, v->ver, name, &m) != 1 || node_get(c, v->ver, m, &node) != 1 ||
        node.live == 0) {
        corrupt(c);
        return -1;
    }
    if (kv_elem_del(c, v->ver, name, 16) != 1) {
        corrupt(c);
        return -1;
    }
    v->count--;
    if (node.live == 1) { /* the node's last live entry: the node goes */
        if (node_del(c, v->ver, m) != 0) return -1;
        if (m.ms == v->tail_ms && m.seq == v->tail_seq) {
            /* The tail is now the node before it, if any (its record is
             * gone, so the walk back from its name finds that one). */
            sid prev = {0, 0};
            unsigned char at[17];
            id_enc(m, at);
            int pr = node_before(c, v->ver, at, &prev);
            if (pr < 0) return -1;
            v->tail_ms = pr == 1 ? prev.ms : 0;
            v->tail_seq = pr == 1 ? prev.seq : 0;
        }
    } else {
        node.live--;
        node.deleted++;
        if (node_put(c, v->ver, m, &node) != 0) return -1;
    }
    return 1;
}

KV_CHECK(ck_xdel)
{
    sid id;
    for (int j = 2; j < argc; j++)
        if (parse_strict(argv[j], argvlen[j], &id, 0, NULL, err) != 0) return -1;
    return 0;
}

static void kvx_xdel(ARGS)
{
    kv_val v;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_STREAM, &v);
    if (found < 0) return;
    if (!found) {
        resp_add_int(c->reply, 0);
        return;
    }
    if (ck_xdel(argc, argv, argvlen, c->reply) != 0) return;
    long long deleted = 0;
    for (int j = 2; j < argc; j++) {
        sid id;
        parse_strict(argv[j], argvlen[j], &id, 0, NULL, NULL);
        int r = stream_delete(c, &v, id);
        if (r < 0) return;
        if (r == 1) {
            if (id_cmp(id, (sid){v.maxdel_ms, v.maxdel_seq}) > 0) {
                v.maxdel_ms = id.ms;
                v.maxdel_seq = id.seq;
            }
            deleted++;
        }
    }
    if (deleted) {
        if (kv_coll_save(c, argv[1], argvlen[1], &v) != 0) return;
        kv_notify(c, KV_NOTIFY_STREAM, "xdel", argv[1], argvlen[1]);
    }
    resp_add_int(c->reply, deleted);
}

typedef struct setid_args {
    sid id, maxdel;
    long long added;
} setid_args;

static int parse_setid(int argc, char **argv, size_t *argvlen, setid_args *a, resp_buf *err)
{
    a->maxdel = (sid){0, 0};
    a->added = -1;
    if (parse_strict(argv[2], argvlen[2], &a->id, 0, NULL, err) != 0) return -1;
    for (int i = 3; i < argc;) {
        int more = argc - 1 - i;
        if (kv_streqci(argv[i], argvlen[i], "entriesadded") && more) {
            if (kv_getll(argv[i + 1], argvlen[i + 1], &a->added, err) != 0) return -1;
            if (a->added < 0) {
                resp_add_error(err, "ERR entries_added must be positive");
                return -1;
            }
            i += 2;
        } else if (kv_streqci(argv[i], argvlen[i], "maxdeletedid") && more) {
            if (parse_strict(argv[i + 1], argvlen[i + 1], &a->maxdel, 0, NULL, err) != 0) return -1;
            if (id_cmp(a->id, a->maxdel) < 0) {
                resp_add_error(err, "ERR The ID specified in XSETID is smaller than the provided "
                                    "max_deleted_entry_id");
                return -1;
            }
            i += 2;
        } else {
            resp_add_error(err, ERR_SYNTAX);
            return -1;
        }
    }
    return 0;
}

KV_CHECK(ck_xsetid)
{
    setid_args a;
    return parse_setid(argc, argv, argvlen, &a, err);
}

static void kvx_xsetid(ARGS)
{
    setid_args a;
    kv_val v;
    if (parse_setid(argc, argv, argvlen, &a, c->reply) != 0) return;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_STREAM, &v);
    if (found < 0) return;
    if (!found) {
        resp_add_error(c->reply, "ERR no such key");
        return;
    }
    /* Redis 7.0.15 does not compare with the current max_deleted_entry_id. */
    if (v.count > 0) {
        sid maxid;
        if (edge_id(c, &v, 1, &maxid) != 1) {
            corrupt(c);
            return;
        }
        if (id_cmp(a.id, maxid) < 0) {
            resp_add_error(
                c->reply,
                "ERR The ID specified in XSETID is smaller than the target stream top item");
            return;
        }
        if (a.added != -1 && v.count > (uint64_t)a.added) {
            resp_add_error(c->reply, "ERR The entries_added specified in XSETID is smaller than "
                                     "the target stream length");
            return;
        }
    }
    v.last_ms = a.id.ms;
    v.last_seq = a.id.seq;
    if (a.added != -1) v.added = (uint64_t)a.added;
    if (a.maxdel.ms || a.maxdel.seq) {
        v.maxdel_ms = a.maxdel.ms;
        v.maxdel_seq = a.maxdel.seq;
    }
    if (kv_coll_save(c, argv[1], argvlen[1], &v) != 0) return;
    kv_notify(c, KV_NOTIFY_STREAM, "xsetid", argv[1], argvlen[1]);
    resp_add_ok(c->reply);
}

/* ------------------------------------------------------------ reads */

static void kvx_xlen(ARGS)
{
    kv_val v;
    UNUSED_ARGS;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_STREAM, &v);
    if (found >= 0) resp_add_int(c->reply, found ? (int64_t)v.count : 0);
}

static void range_generic(ARGS, int rev)
{
    kv_val v;
    sid start, end;
    int sx, ex;
    long long count = -1;
    const char *sa = rev ? argv[3] : argv[2], *ea = rev ? argv[2] : argv[3];
    size_t sl = rev ? argvlen[3] : argvlen[2], el = rev ? argvlen[2] : argvlen[3];
    if (parse_interval(sa, sl, &start, &sx, 0, c->reply) != 0) return;
    if (sx && id_incr(&start) != 0) {
        resp_add_error(c->reply, "ERR invalid start ID for the interval");
        return;
    }
    if (parse_interval(ea, el, &end, &ex, UINT64_MAX, c->reply) != 0) return;
    if (ex && id_decr(&end) != 0) {
        resp_add_error(c->reply, "ERR invalid end ID for the interval");
        return;
    }
    for (int j = 4; j < argc; j++) {
        if (kv_streqci(argv[j], argvlen[j], "count") && argc - j - 1 >= 1) {
            if (kv_getll(argv[j + 1], argvlen[j + 1], &count, c->reply) != 0) return;
            if (count < 0) count = 0;
            j++;
        } else {
            resp_add_error(c->reply, ERR_SYNTAX);
            return;
        }
    }
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_STREAM, &v);
    if (found < 0) return;
    if (!found) {
        resp_add_array(c->reply, 0);
        return;
    }
    if (count == 0) {
        resp_add_null_array(c->reply);
        return;
    }
    reply_range(c, &v, start, end, count == -1 ? 0 : count, rev);
}

static void kvx_xrange(ARGS)
{
    range_generic(c, argc, argv, argvlen, 0);
}

static void kvx_xrevrange(ARGS)
{
    range_generic(c, argc, argv, argvlen, 1);
}

/* XREAD [COUNT n] [BLOCK ms] STREAMS key [key ...] id [id ...]. BLOCK is
 * parsed as Redis does; with nothing to serve the reply is the timeout's
 * null, at once (blocking reads are not served yet). */
static int parse_xread(int argc, char **argv, size_t *argvlen, long long *count, int *streams_arg,
                       resp_buf *err)
{
    *count = 0;
    *streams_arg = 0;
    for (int i = 1; i < argc; i++) {
        int more = argc - i - 1;
        if (kv_streqci(argv[i], argvlen[i], "block") && more) {
            long long t;
            i++;
            if (!kv_string2ll(argv[i], argvlen[i], &t)) {
                resp_add_error(err, "ERR timeout is not an integer or out of range");
                return -1;
            }
            if (t < 0) {
                resp_add_error(err, "ERR timeout is negative");
                return -1;
            }
        } else if (kv_streqci(argv[i], argvlen[i], "count") && more) {
            i++;
            if (kv_getll(argv[i], argvlen[i], count, err) != 0) return -1;
            if (*count < 0) *count = 0;
        } else if (kv_streqci(argv[i], argvlen[i], "streams") && more) {
            *streams_arg = i + 1;
            if ((argc - *streams_arg) % 2 != 0) {
                resp_add_error(err, "ERR Unbalanced XREAD list of streams: for each stream key "
                                    "an ID or '$' must be specified.");
                return -1;
            }
            break;
        } else if (kv_streqci(argv[i], argvlen[i], "group") && more >= 2) {
            resp_add_error(err, "ERR The GROUP option is only supported by XREADGROUP. You called "
                                "XREAD instead.");
            return -1;
        } else if (kv_streqci(argv[i], argvlen[i], "noack")) {
            resp_add_error(err, "ERR The NOACK option is only supported by XREADGROUP. You called "
                                "XREAD instead.");
            return -1;
        } else {
            resp_add_error(err, ERR_SYNTAX);
            return -1;
        }
    }
    if (*streams_arg == 0) {
        resp_add_error(err, ERR_SYNTAX);
        return -1;
    }
    return 0;
}

KV_CHECK(ck_xread)
{
    long long count;
    int sa;
    return parse_xread(argc, argv, argvlen, &count, &sa, err);
}

static void kvx_xread(ARGS)
{
    long long count;
    int sa;
    if (parse_xread(argc, argv, argvlen, &count, &sa, c->reply) != 0) return;
    int n = (argc - sa) / 2;
    sid *ids = kv_calloc((size_t)n + 1, sizeof(*ids));
    if (!ids) {
        kvx_oom(c);
        return;
    }
    for (int i = 0; i < n; i++) {
        kv_val v;
        int k = sa + i, a = sa + n + i;
        int found = kv_lookup_type(c, argv[k], argvlen[k], KV_TYPE_STREAM, &v);
        if (found < 0) goto out;
        if (argvlen[a] == 1 && argv[a][0] == '$') {
            ids[i] = found ? (sid){v.last_ms, v.last_seq} : (sid){0, 0};
            continue;
        }
        if (argvlen[a] == 1 && argv[a][0] == '>') {
            resp_add_error(c->reply, "ERR The > ID can be specified only when calling XREADGROUP "
                                     "using the GROUP <group> <consumer> option.");
            goto out;
        }
        if (parse_strict(argv[a], argvlen[a], &ids[i], 0, NULL, c->reply) != 0) goto out;
    }
    size_t mark = 0;
    int64_t served = 0;
    for (int i = 0; i < n; i++) {
        kv_val v;
        int k = sa + i;
        int found = kv_lookup_type(c, argv[k], argvlen[k], KV_TYPE_STREAM, &v);
        if (found < 0) goto out;
        if (!found || v.count == 0) continue;
        sid maxid;
        int r = edge_id(c, &v, 1, &maxid);
        if (r < 0) goto out;
        if (r == 0 || id_cmp(maxid, ids[i]) <= 0) continue;
        if (served++ == 0) mark = resp_add_deferred(c->reply);
        sid start = ids[i];
        id_incr(&start);
        if (c->reply->proto == 2) resp_add_array(c->reply, 2);
        resp_add_bulk(c->reply, argv[k], argvlen[k]);
        reply_range(c, &v, start, (sid){UINT64_MAX, UINT64_MAX}, count, 0);
        if (c->rc) goto out;
    }
    if (served == 0) {
        resp_add_null_array(c->reply);
    } else if (c->reply->proto == 2) {
        resp_set_deferred_array(c->reply, mark, served);
    } else {
        resp_set_deferred_map(c->reply, mark, served);
    }
out:
    free(ids);
}

/* ------------------------------------------------------------ command table */

#define W KV_CMD_WRITE
#define R KV_CMD_READONLY
#define F KV_CMD_FAST
#define D KV_CMD_DENYOOM
/* clang-format off */
const kv_command kvx_stream_commands[] = {
    {"xadd", -5, W | D | F, 1, 1, 1, ck_xadd, kvx_xadd, "stream", "5.0.0", "Appends a new entry to a stream"},
    {"xlen", 2, R | F, 1, 1, 1, NULL, kvx_xlen, "stream", "5.0.0", "Return the number of entries in a stream"},
    {"xrange", -4, R, 1, 1, 1, NULL, kvx_xrange, "stream", "5.0.0", "Return a range of elements in a stream, with IDs matching the specified IDs interval"},
    {"xrevrange", -4, R, 1, 1, 1, NULL, kvx_xrevrange, "stream", "5.0.0", "Return a range of elements in a stream, with IDs matching the specified IDs interval, in reverse order (from greater to smaller IDs) compared to XRANGE"},
    {"xdel", -3, W | F, 1, 1, 1, NULL, kvx_xdel, "stream", "5.0.0", "Removes the specified entries from the stream. Returns the number of items actually deleted, that may be different from the number of IDs passed in case certain IDs do not exist."},
    {"xtrim", -4, W, 1, 1, 1, ck_xtrim, kvx_xtrim, "stream", "5.0.0", "Trims the stream to (approximately if '~' is passed) a certain size"},
    {"xsetid", -3, W | D | F, 1, 1, 1, ck_xsetid, kvx_xsetid, "stream", "5.0.0", "An internal command for replicating stream values"},
    {"xread", -4, R, 0, 0, 0, ck_xread, kvx_xread, "stream", "5.0.0", "Return never seen elements in multiple streams, with IDs greater than the ones reported by the caller for each stream. Can block."},
};
/* clang-format on */
#undef W
#undef R
#undef F
#undef D
const size_t kvx_stream_ncommands = sizeof(kvx_stream_commands) / sizeof(kvx_stream_commands[0]);
