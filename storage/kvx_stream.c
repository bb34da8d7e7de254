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
 * deleted inside it, its last id, u64 BE base (below); and a master fields
 * record named by its first id, 0x00, 'f' (18 bytes, right after): the
 * fields of its first entry, Redis's master entry (kvstream.h). XADD
 * appends to the tail node (its first id is in the key record, which also
 * holds its counters and base: the tail has no node record) until, as in
 * Redis 7.0's streamAppendItem, its listpack's lpBytes() plus the new
 * entry's field and value lengths reach stream-node-max-bytes (4096), or
 * it holds stream-node-max-entries (100) entries, deleted ones included.
 * lpBytes() is computed from the entries alone with listpack.c's element
 * sizes (lp_*_size): base is the listpack's bytes but its master count and
 * deleted elements, which XDEL and trimming rewrite in place (their size
 * follows the counters); the entry flags an XDEL rewrites keep their size.
 * A node written before base was kept (a 32-byte record, or a key record
 * without it) has base 0, unknown: it is closed at 100 entries only, as
 * then. XDEL of a node's last live entry removes the node (and, as in
 * Redis, XADD then appends to the node before it); trimming walks nodes
 * from the head.
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
#define NODE_MAX_BYTES 4096  /* stream-node-max-bytes */
#define ERR_BADID "ERR Invalid stream ID specified as stream command argument"

typedef struct sid {
    uint64_t ms, seq;
} sid;

/* a - b wrapping as redis-server's arithmetic does on x86-64 (times and
 * counters from a client or a record may be anything), without the
 * undefined behaviour of a signed overflow. */
static int64_t wrap_sub(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a - (uint64_t)b);
}

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

/* count strings, each u32 BE length and bytes, filling b[0..n) exactly:
 * 0, or -1 when they do not. */
static int walk_strings(const unsigned char *b, size_t n, uint64_t count, kv_stream_field_fn *fn,
                        void *arg)
{
    for (uint64_t i = 0; i < count; i++) {
        if (n < 4) return -1;
        size_t l = (size_t)b[0] << 24 | (size_t)b[1] << 16 | (size_t)b[2] << 8 | b[3];
        b += 4;
        n -= 4;
        if (l > n) return -1;
        if (fn) fn(arg, (const char *)b, l);
        b += l;
        n -= l;
    }
    return n == 0 ? 0 : -1;
}

int kv_stream_entry_decode(const void *p, size_t n, kv_stream_field_fn *fn, void *arg)
{
    const unsigned char *b = p;
    if (n < 4) return -1;
    uint64_t pairs = (uint64_t)b[0] << 24 | (uint64_t)b[1] << 16 | (uint64_t)b[2] << 8 | b[3];
    b += 4;
    n -= 4;
    if (pairs == 0 || pairs > n / 8) return -1; /* each string takes at least 4 bytes */
    if (walk_strings(b, n, pairs * 2, fn, arg)) return -1;
    return (int64_t)pairs > INT_MAX ? -1 : (int)pairs;
}

int kv_stream_node_decode(const void *p, size_t n, kv_stream_node *node)
{
    const unsigned char *b = p;
    if (n != 32 && n != 40) return -1;
    node->live = kv_get_be64(b);
    node->deleted = kv_get_be64(b + 8);
    node->last_ms = kv_get_be64(b + 16);
    node->last_seq = kv_get_be64(b + 24);
    node->base = n == 40 ? kv_get_be64(b + 32) : 0;
    if (node->live > NODE_MAX_ENTRIES * 2ull || node->deleted > NODE_MAX_ENTRIES * 2ull) return -1;
    return 0;
}

static void node_encode(unsigned char out[40], const kv_stream_node *node)
{
    kv_put_be64(out, node->live);
    kv_put_be64(out + 8, node->deleted);
    kv_put_be64(out + 16, node->last_ms);
    kv_put_be64(out + 24, node->last_seq);
    kv_put_be64(out + 32, node->base);
}

int kv_stream_fields_decode(const void *p, size_t n, kv_stream_field_fn *fn, void *arg)
{
    const unsigned char *b = p;
    if (n < 4) return -1;
    uint64_t count = (uint64_t)b[0] << 24 | (uint64_t)b[1] << 16 | (uint64_t)b[2] << 8 | b[3];
    b += 4;
    n -= 4;
    if (count > n / 4 || count > INT_MAX) return -1; /* each field takes at least 4 bytes */
    return walk_strings(b, n, count, fn, arg) ? -1 : (int)count;
}

/* ------------------------------------------------------------ listpack sizes
 *
 * The bytes Redis 7.0's listpack.c takes for an element: its encoding,
 * then its backlen (the encoding's size in 7-bit groups). */

static uint64_t lp_backlen(uint64_t l)
{
    return l <= 127 ? 1 : l < 16383 ? 2 : l < 2097151 ? 3 : l < 268435455 ? 4 : 5;
}

/* An integer element (lpAppendInteger). */
static uint64_t lp_int_size(int64_t v)
{
    uint64_t enc;
    if (v >= 0 && v <= 127)
        enc = 1;
    else if (v >= -4096 && v <= 4095)
        enc = 2;
    else if (v >= -32768 && v <= 32767)
        enc = 3;
    else if (v >= -8388608 && v <= 8388607)
        enc = 4;
    else if (v >= INT32_MIN && v <= INT32_MAX)
        enc = 5;
    else
        enc = 9;
    return enc + lp_backlen(enc);
}

/* A string element (lpAppend): an integer when it reads as one
 * (lpStringToInt64 takes only the canonical form of an int64, as
 * string2ll: "-0", "+1", "01", " 1", 21 bytes or more are strings). */
static uint64_t lp_str_size(const char *s, size_t n)
{
    long long iv;
    if (kv_string2ll(s, n, &iv)) return lp_int_size(iv);
    uint64_t enc = n < 64 ? 1 + n : n < 4096 ? 2 + n : 5 + n;
    return enc + lp_backlen(enc);
}

/* streamAppendItem's entry for fields argv[first..argc) (field, value
 * pairs) at id, in the node whose master id is m: flags, ms and seq
 * differences, [number of fields, fields unless same], values, lp-count. */
static uint64_t lp_entry_size(sid id, sid m, int same, int argc, char **argv, size_t *argvlen,
                              int first)
{
    int64_t fields = (argc - first) / 2;
    uint64_t n = lp_int_size(same ? 2 : 0) + lp_int_size((int64_t)(id.ms - m.ms)) +
                 lp_int_size((int64_t)(id.seq - m.seq));
    if (!same) n += lp_int_size(fields);
    for (int i = first; i + 1 < argc; i += 2) {
        if (!same) n += lp_str_size(argv[i], argvlen[i]);
        n += lp_str_size(argv[i + 1], argvlen[i + 1]);
    }
    return n + lp_int_size(fields + 3 + (same ? 0 : fields + 1));
}

/* A new node's listpack without its count and deleted elements: header
 * (6 bytes) and end (1), the master entry's number of fields, fields and
 * 0 terminator. Its first entry is added by the caller. */
static uint64_t lp_master_size(int argc, char **argv, size_t *argvlen, int first)
{
    uint64_t n = 7 + lp_int_size((argc - first) / 2) + lp_int_size(0);
    for (int i = first; i + 1 < argc; i += 2)
        n += lp_str_size(argv[i], argvlen[i]);
    return n;
}

/* lpBytes() of a node's listpack: 0 when its base is unknown. */
static uint64_t lp_bytes(const kv_stream_node *node)
{
    if (!node->base) return 0;
    return node->base + lp_int_size((int64_t)node->live) + lp_int_size((int64_t)node->deleted);
}

static void corrupt(kv_ctx *c)
{
    if (c->rc == 0) c->rc = KV_ECORRUPT;
}

/* The tail node (where XADD appends) keeps its counters in the key record
 * (kv_val's tail_*), so an XADD writes no node record; every other node
 * has one. */
static int has_tail(const kv_val *v)
{
    return v->tail_ms || v->tail_seq;
}

static int is_tail(const kv_val *v, sid m)
{
    return has_tail(v) && v->tail_ms == m.ms && v->tail_seq == m.seq;
}

/* The node whose first id is m. 1, 0 absent, -1 error. */
static int node_get(kv_ctx *c, const kv_val *v, sid m, kv_stream_node *node)
{
    unsigned char name[17];
    const char *val;
    size_t vlen;
    if (is_tail(v, m)) {
        *node = (kv_stream_node){v->tail_live, v->tail_deleted, v->tail_last_ms, v->tail_last_seq,
                                 v->tail_base};
        return 1;
    }
    id_enc(m, name);
    int r = kv_elem_get(c, v->ver, name, 17, &val, &vlen);
    if (r != 1) return r;
    if (kv_stream_node_decode(val, vlen, node) != 0) {
        corrupt(c);
        return -1;
    }
    return 1;
}

static int node_rec_put(kv_ctx *c, uint64_t ver, sid m, const kv_stream_node *node)
{
    unsigned char name[17], val[40];
    id_enc(m, name);
    node_encode(val, node);
    return kv_elem_put(c, ver, name, 17, val, node->base ? 40 : 32, NULL);
}

static int node_put(kv_ctx *c, kv_val *v, sid m, const kv_stream_node *node)
{
    if (!is_tail(v, m)) return node_rec_put(c, v->ver, m, node);
    v->tail_live = node->live;
    v->tail_deleted = node->deleted;
    v->tail_last_ms = node->last_ms;
    v->tail_last_seq = node->last_seq;
    v->tail_base = node->base;
    return 0;
}

static void tail_clear(kv_val *v)
{
    v->tail_ms = v->tail_seq = v->tail_live = v->tail_deleted = 0;
    v->tail_last_ms = v->tail_last_seq = v->tail_base = 0;
}

static int node_before(kv_ctx *c, uint64_t ver, const unsigned char name[17], sid *m);

/* After the tail node went: the last node with a record, if any, becomes
 * the tail (its counters move into the key record, its record goes). */
static int tail_promote(kv_ctx *c, kv_val *v)
{
    unsigned char end[17], name[17];
    sid m;
    kv_stream_node node;
    tail_clear(v);
    memset(end, 0xff, sizeof(end));
    int r = node_before(c, v->ver, end, &m);
    if (r <= 0) return r;
    if (node_get(c, v, m, &node) != 1) {
        corrupt(c);
        return -1;
    }
    id_enc(m, name);
    if (kv_elem_del(c, v->ver, name, 17) < 0) return -1;
    v->tail_ms = m.ms;
    v->tail_seq = m.seq;
    return node_put(c, v, m, &node);
}

/* The name of node m's master fields record: its first id, 0x00, 'f'
 * (right after its node record). */
static void fields_name(sid m, unsigned char out[18])
{
    id_enc(m, out);
    out[17] = 'f';
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Writes node m's master fields record: the fields of argv[first..argc). */
static int fields_put(kv_ctx *c, uint64_t ver, sid m, int argc, char **argv, size_t *argvlen,
                      int first)
{
    unsigned char name[18];
    size_t n = 4;
    for (int i = first; i + 1 < argc; i += 2)
        n += 4 + argvlen[i];
    unsigned char *b = kv_malloc(n), *p = b;
    if (!b) {
        kvx_oom(c);
        return -1;
    }
    put_be32(p, (uint32_t)((argc - first) / 2));
    p += 4;
    for (int i = first; i + 1 < argc; i += 2) {
        put_be32(p, (uint32_t)argvlen[i]);
        memcpy(p + 4, argv[i], argvlen[i]);
        p += 4 + argvlen[i];
    }
    fields_name(m, name);
    int rc = kv_elem_put(c, ver, name, 18, b, n, NULL);
    free(b);
    return rc;
}

typedef struct fields_cmp {
    char **argv;
    size_t *argvlen;
    int i, same;
} fields_cmp;

static void field_cmp(void *arg, const char *p, size_t n)
{
    fields_cmp *fc = arg;
    if (fc->argvlen[fc->i] != n || memcmp(fc->argv[fc->i], p, n) != 0) fc->same = 0;
    fc->i += 2;
}

/* Whether the fields of argv[first..argc) are node m's master fields
 * (SAMEFIELDS): 1 yes, 0 no, -1 error. */
static int fields_same(kv_ctx *c, uint64_t ver, sid m, int argc, char **argv, size_t *argvlen,
                       int first)
{
    unsigned char name[18];
    const char *val;
    size_t vlen;
    fields_name(m, name);
    int r = kv_elem_get(c, ver, name, 18, &val, &vlen);
    if (r < 0) return -1;
    int count = r == 1 ? kv_stream_fields_decode(val, vlen, NULL, NULL) : -1;
    if (count < 0) {
        corrupt(c);
        return -1;
    }
    if (count != (argc - first) / 2) return 0;
    fields_cmp fc = {argv, argvlen, first, 1};
    kv_stream_fields_decode(val, vlen, field_cmp, &fc);
    return fc.same;
}

/* Removes node m (its entries are gone already) with its master fields. */
static int node_del(kv_ctx *c, kv_val *v, sid m)
{
    unsigned char name[18];
    fields_name(m, name);
    if (kv_elem_del(c, v->ver, name, 18) < 0) return -1;
    if (is_tail(v, m)) return tail_promote(c, v) < 0 ? -1 : 0;
    return kv_elem_del(c, v->ver, name, 17) < 0 ? -1 : 0;
}

/* The first record of one kind (want: 16, an entry; 17, a node record)
 * met walking from `from` (NULL: the first or, rev, the last record), the
 * other kind skipped: its id in *id. 1 found, 0 none, -1 error. */
static int first_of_kind(kv_ctx *c, uint64_t ver, const unsigned char *from, size_t fromlen,
                         int rev, size_t want, sid *id)
{
    kv_iter it;
    const char *f, *val;
    size_t flen, vlen;
    int r;
    if (kv_iter_open(c, &it, KV_T_ELEM, ver, from, fromlen, rev) != 0) return -1;
    while ((r = kv_iter_next(&it, &f, &flen, &val, &vlen)) == 1) {
        if (flen == want) {
            *id = id_dec(f);
            break;
        }
        if (flen != 16 && flen != 17 && flen != 18) {
            corrupt(c);
            r = -1;
            break;
        }
    }
    kv_iter_close(&it);
    return r;
}

/* The last node record at or before name (17 bytes): its first id in *m.
 * 1 found, 0 none, -1 error. A node holds at most NODE_MAX_ENTRIES
 * records, so the walk back is bounded. */
static int node_before(kv_ctx *c, uint64_t ver, const unsigned char name[17], sid *m)
{
    return first_of_kind(c, ver, name, 17, 1, 17, m);
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
            if (flen == 17 || flen == 18) continue; /* a node's records */
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
    return first_of_kind(c, v->ver, NULL, 0, rev, 16, id);
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
        if (flen == 17 || flen == 18) continue;
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
         * live, comes just before it), else the tail. */
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
        if (r == 0) { /* no node record: the tail is the only node, if any */
            if (!has_tail(v)) break;
            m = (sid){v->tail_ms, v->tail_seq};
        }
        kv_stream_node node;
        if (node_get(c, v, m, &node) != 1) {
            corrupt(c);
            return -1;
        }
        long long entries = (long long)node.live;
        if (a->limit && deleted + entries > a->limit) break;
        int remove;
        if (a->strategy == TRIM_MAXLEN)
            remove = wrap_sub((int64_t)v->count, entries) >= a->maxlen;
        else
            remove = id_cmp((sid){node.last_ms, node.last_seq}, a->minid) < 0;
        sid last = {node.last_ms, node.last_seq};
        if (remove) {
            if (node_walk(c, v, m, last, NULL, NULL) < 0 || node_del(c, v, m) != 0) return -1;
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
        if (from_node && node_put(c, v, m, &node) != 0) return -1;
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
    if (has_tail(v)) {
        /* The tail node is full (stream-node-max-bytes checked first, as
         * Redis does, when its size is known): it gets its record, a new
         * one starts. */
        kv_stream_node tail = {v->tail_live, v->tail_deleted, v->tail_last_ms, v->tail_last_seq,
                               v->tail_base};
        uint64_t bytes = lp_bytes(&tail), tot = 0;
        for (int i = first; i < argc; i++)
            tot += argvlen[i];
        if ((bytes && bytes + tot >= NODE_MAX_BYTES) ||
            v->tail_live + v->tail_deleted >= NODE_MAX_ENTRIES) {
            if (node_rec_put(c, v->ver, (sid){v->tail_ms, v->tail_seq}, &tail) != 0) return -1;
            tail_clear(v);
        }
    }
    int same = 1; /* the first entry of a node has its master fields */
    if (!has_tail(v)) {
        v->tail_ms = id.ms;
        v->tail_seq = id.seq;
        v->tail_base = lp_master_size(argc, argv, argvlen, first);
        if (fields_put(c, v->ver, id, argc, argv, argvlen, first) != 0) return -1;
    } else if (v->tail_base) {
        same = fields_same(c, v->ver, (sid){v->tail_ms, v->tail_seq}, argc, argv, argvlen, first);
        if (same < 0) return -1;
    }
    if (v->tail_base)
        v->tail_base +=
            lp_entry_size(id, (sid){v->tail_ms, v->tail_seq}, same, argc, argv, argvlen, first);
    v->tail_live++;
    v->tail_last_ms = id.ms;
    v->tail_last_seq = id.seq;
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
    } else {
        c->no_signal = 1; /* Redis signals the key only when it trimmed */
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
    /* Its node: the tail when it is at or after the tail's first id, else
     * the last node record before it. */
    int nr = 1;
    if (has_tail(v) && id_cmp(id, (sid){v->tail_ms, v->tail_seq}) >= 0)
        m = (sid){v->tail_ms, v->tail_seq};
    else
        nr = node_before(c, v->ver, name, &m);
    if (nr != 1 || node_get(c, v, m, &node) != 1 || node.live == 0) {
        corrupt(c);
        return -1;
    }
    if (kv_elem_del(c, v->ver, name, 16) != 1) {
        corrupt(c);
        return -1;
    }
    v->count--;
    if (node.live == 1) /* the node's last live entry: the node goes */
        return node_del(c, v, m) != 0 ? -1 : 1;
    node.live--;
    node.deleted++;
    return node_put(c, v, m, &node) != 0 ? -1 : 1;
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
    } else {
        c->no_signal = 1; /* Redis signals the key only when it deleted */
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
    c->no_signal = 1; /* Redis 7.0: no signalModifiedKey() (WATCH, tracking) */
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

/* The options of XREAD and (group set) XREADGROUP, parsed as Redis's
 * xreadCommand does for both: [GROUP g c] [COUNT n] [BLOCK ms] [NOACK]
 * STREAMS key [key ...] id [id ...]. BLOCK is not allowed from scripts;
 * GROUP and NOACK only with XREADGROUP. */
static int parse_read_opts(int argc, char **argv, size_t *argvlen, int in_script, int group,
                           long long *count, int *streams_arg, int *gpos, int *noack, int *block,
                           resp_buf *err)
{
    *count = 0;
    *streams_arg = 0;
    *gpos = 0;
    *noack = 0;
    *block = 0;
    for (int i = 1; i < argc; i++) {
        int more = argc - i - 1;
        if (kv_streqci(argv[i], argvlen[i], "block") && more) {
            long long t;
            if (in_script) {
                resp_add_errorf(err,
                                "ERR %.*s command is not allowed with BLOCK option from scripts",
                                (int)argvlen[0], argv[0]);
                return -1;
            }
            i++;
            if (!kv_string2ll(argv[i], argvlen[i], &t)) {
                resp_add_error(err, "ERR timeout is not an integer or out of range");
                return -1;
            }
            if (t < 0) {
                resp_add_error(err, "ERR timeout is negative");
                return -1;
            }
            *block = 1;
        } else if (kv_streqci(argv[i], argvlen[i], "count") && more) {
            i++;
            if (kv_getll(argv[i], argvlen[i], count, err) != 0) return -1;
            if (*count < 0) *count = 0;
        } else if (kv_streqci(argv[i], argvlen[i], "streams") && more) {
            *streams_arg = i + 1;
            if ((argc - *streams_arg) % 2 != 0) {
                resp_add_errorf(err,
                                "ERR Unbalanced %s list of streams: for each stream key an ID or "
                                "'%s' must be specified.",
                                group ? "XREADGROUP" : "XREAD", group ? ">" : "$");
                return -1;
            }
            break;
        } else if (kv_streqci(argv[i], argvlen[i], "group") && more >= 2) {
            if (!group) {
                resp_add_error(err, "ERR The GROUP option is only supported by XREADGROUP. You "
                                    "called XREAD instead.");
                return -1;
            }
            *gpos = i + 1;
            i += 2;
        } else if (kv_streqci(argv[i], argvlen[i], "noack")) {
            if (!group) {
                resp_add_error(err, "ERR The NOACK option is only supported by XREADGROUP. You "
                                    "called XREAD instead.");
                return -1;
            }
            *noack = 1;
        } else {
            resp_add_error(err, ERR_SYNTAX);
            return -1;
        }
    }
    if (*streams_arg == 0) {
        resp_add_error(err, ERR_SYNTAX);
        return -1;
    }
    if (group && *gpos == 0) {
        resp_add_error(err, "ERR Missing GROUP option for XREADGROUP");
        return -1;
    }
    return 0;
}

/* XREAD [COUNT n] [BLOCK ms] STREAMS key [key ...] id [id ...]. */
static int parse_xread(int argc, char **argv, size_t *argvlen, int in_script, long long *count,
                       int *streams_arg, int *block, resp_buf *err)
{
    int gpos, noack;
    return parse_read_opts(argc, argv, argvlen, in_script, 0, count, streams_arg, &gpos, &noack,
                           block, err);
}

KV_CHECK(ck_xread)
{
    long long count;
    int sa, block;
    return parse_xread(argc, argv, argvlen, 0, &count, &sa, &block, err);
}

static void kvx_xread(ARGS)
{
    long long count;
    int sa, block;
    if (parse_xread(argc, argv, argvlen, c->in_script, &count, &sa, &block, c->reply) != 0) return;
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
        /* Nothing: BLOCK waits (server/blocking.c tries again when a key
         * is ready), but not inside MULTI, where the null is the reply. */
        if (block)
            kvx_block_empty(c, 1);
        else
            resp_add_null_array(c->reply);
    } else if (c->reply->proto == 2) {
        resp_set_deferred_array(c->reply, mark, served);
    } else {
        resp_set_deferred_map(c->reply, mark, served);
    }
out:
    free(ids);
}

/* ------------------------------------------------------------ consumer groups */

/* A stream's groups live under their own version (v->gver, made by the
 * first XGROUP CREATE), as element records:
 *   'g' name                  -> group: last delivered id (16), i64 BE
 *                                entries read (-1: unknown), u64 BE
 *                                pending, u64 BE consumers, u64 BE gid
 *   'c' gid name              -> consumer: i64 BE seen time, u64 BE
 *                                pending, u64 BE cid
 *   'p' gid id                -> pending entry (Redis's NACK): i64 BE
 *                                delivery time, u64 BE deliveries, u64 BE
 *                                cid, the consumer's name
 *   'q' gid cid id            -> (empty): the consumer's own pending list
 * gid and cid are fresh versions (kv_new_version), so a group's or a
 * consumer's records are one prefix whatever its name. Times are the
 * entry's tau. */
#define SCG_INVALID (-1)

typedef struct group {
    sid last;
    int64_t entries_read;
    uint64_t pending, consumers, gid;
} group;

typedef struct consumer {
    int64_t seen;
    uint64_t pending, cid;
} consumer;

typedef struct nack {
    int64_t time;
    uint64_t count, cid;
    const char *name; /* valid until the next write */
    size_t namelen;
} nack;

/* Names: 'g' name, 'c' gid name (malloc'ed; NULL: out of memory). */
static unsigned char *name_of(char tag, uint64_t id, int with_id, const char *s, size_t n,
                              size_t *len)
{
    unsigned char *b = kv_malloc(1 + 8 + n + 1);
    if (!b) return NULL;
    b[0] = (unsigned char)tag;
    size_t o = 1;
    if (with_id) {
        kv_put_be64(b + 1, id);
        o += 8;
    }
    memcpy(b + o, s, n);
    *len = o + n;
    return b;
}

static size_t pel_name(unsigned char *b, uint64_t gid, sid id)
{
    b[0] = 'p';
    kv_put_be64(b + 1, gid);
    kv_put_be64(b + 9, id.ms);
    kv_put_be64(b + 17, id.seq);
    return 25;
}

static size_t cpel_name(unsigned char *b, uint64_t gid, uint64_t cid, sid id)
{
    b[0] = 'q';
    kv_put_be64(b + 1, gid);
    kv_put_be64(b + 9, cid);
    kv_put_be64(b + 17, id.ms);
    kv_put_be64(b + 25, id.seq);
    return 33;
}

static int group_decode(const char *p, size_t n, group *g)
{
    const unsigned char *b = (const unsigned char *)p;
    if (n != 48) return -1;
    g->last = id_dec(b);
    g->entries_read = (int64_t)kv_get_be64(b + 16);
    g->pending = kv_get_be64(b + 24);
    g->consumers = kv_get_be64(b + 32);
    g->gid = kv_get_be64(b + 40);
    return 0;
}

/* 1 found, 0 not, -1 error. */
static int group_get(kv_ctx *c, const kv_val *v, const char *name, size_t n, group *g)
{
    if (!v->gver) return 0;
    size_t len;
    const char *val;
    size_t vlen;
    unsigned char *k = name_of('g', 0, 0, name, n, &len);
    if (!k) {
        kvx_oom(c);
        return -1;
    }
    int r = kv_elem_get(c, v->gver, k, len, &val, &vlen);
    free(k);
    if (r == 1 && group_decode(val, vlen, g) != 0) {
        corrupt(c);
        return -1;
    }
    return r;
}

static int group_put(kv_ctx *c, const kv_val *v, const char *name, size_t n, const group *g)
{
    size_t len;
    unsigned char val[48], *k = name_of('g', 0, 0, name, n, &len);
    if (!k) {
        kvx_oom(c);
        return -1;
    }
    kv_put_be64(val, g->last.ms);
    kv_put_be64(val + 8, g->last.seq);
    kv_put_be64(val + 16, (uint64_t)g->entries_read);
    kv_put_be64(val + 24, g->pending);
    kv_put_be64(val + 32, g->consumers);
    kv_put_be64(val + 40, g->gid);
    int r = kv_elem_put(c, v->gver, k, len, val, 48, NULL);
    free(k);
    return r;
}

static int consumer_get(kv_ctx *c, const kv_val *v, uint64_t gid, const char *name, size_t n,
                        consumer *cs)
{
    size_t len, vlen;
    const char *val;
    unsigned char *k = name_of('c', gid, 1, name, n, &len);
    if (!k) {
        kvx_oom(c);
        return -1;
    }
    int r = kv_elem_get(c, v->gver, k, len, &val, &vlen);
    free(k);
    if (r == 1) {
        if (vlen != 24) {
            corrupt(c);
            return -1;
        }
        cs->seen = (int64_t)kv_get_be64((const unsigned char *)val);
        cs->pending = kv_get_be64((const unsigned char *)val + 8);
        cs->cid = kv_get_be64((const unsigned char *)val + 16);
    }
    return r;
}

static int consumer_put(kv_ctx *c, const kv_val *v, uint64_t gid, const char *name, size_t n,
                        const consumer *cs)
{
    size_t len;
    unsigned char val[24], *k = name_of('c', gid, 1, name, n, &len);
    if (!k) {
        kvx_oom(c);
        return -1;
    }
    kv_put_be64(val, (uint64_t)cs->seen);
    kv_put_be64(val + 8, cs->pending);
    kv_put_be64(val + 16, cs->cid);
    int r = kv_elem_put(c, v->gver, k, len, val, 24, NULL);
    free(k);
    return r;
}

static int nack_decode(const char *p, size_t n, nack *nk)
{
    const unsigned char *b = (const unsigned char *)p;
    if (n < 24) return -1;
    nk->time = (int64_t)kv_get_be64(b);
    nk->count = kv_get_be64(b + 8);
    nk->cid = kv_get_be64(b + 16);
    nk->name = p + 24;
    nk->namelen = n - 24;
    return 0;
}

static int nack_get(kv_ctx *c, const kv_val *v, uint64_t gid, sid id, nack *nk)
{
    unsigned char k[25];
    const char *val;
    size_t vlen;
    int r = kv_elem_get(c, v->gver, k, pel_name(k, gid, id), &val, &vlen);
    if (r == 1 && nack_decode(val, vlen, nk) != 0) {
        corrupt(c);
        return -1;
    }
    return r;
}

static int nack_put(kv_ctx *c, const kv_val *v, uint64_t gid, sid id, int64_t time, uint64_t count,
                    uint64_t cid, const char *name, size_t n)
{
    unsigned char k[25], *val = kv_malloc(24 + n + 1);
    if (!val) {
        kvx_oom(c);
        return -1;
    }
    kv_put_be64(val, (uint64_t)time);
    kv_put_be64(val + 8, count);
    kv_put_be64(val + 16, cid);
    memcpy(val + 24, name, n);
    int r = kv_elem_put(c, v->gver, k, pel_name(k, gid, id), val, 24 + n, NULL);
    free(val);
    return r;
}

static int cpel_put(kv_ctx *c, const kv_val *v, uint64_t gid, uint64_t cid, sid id, int del)
{
    unsigned char k[33];
    size_t n = cpel_name(k, gid, cid, id);
    if (del) return kv_elem_del(c, v->gver, k, n) < 0 ? -1 : 0;
    return kv_elem_put(c, v->gver, k, n, "", 0, NULL);
}

/* Deletes every record under prefix (a group's or a consumer's). */
static int del_prefix(kv_ctx *c, uint64_t ver, const unsigned char *pre, size_t n)
{
    kv_iter it;
    const char *f, *val;
    size_t flen, vlen;
    int r;
    if (kv_iter_open(c, &it, KV_T_ELEM, ver, pre, n, 0) != 0) return -1;
    while ((r = kv_iter_next(&it, &f, &flen, &val, &vlen)) == 1) {
        if (flen < n || memcmp(f, pre, n) != 0) break;
        if (kv_iter_del_current(&it) != 0) {
            r = -1;
            break;
        }
    }
    kv_iter_close(&it);
    return r < 0 ? -1 : 0;
}

/* streamCreateConsumer: 1 created (and "xgroup-createconsumer"), 0 there. */
static int consumer_create(kv_ctx *c, const kv_val *v, const char *gname, size_t gn, group *g,
                           const char *name, size_t n, const char *key, size_t keylen, consumer *cs)
{
    int r = consumer_get(c, v, g->gid, name, n, cs);
    if (r != 0) return r < 0 ? -1 : 0;
    cs->seen = c->tau;
    cs->pending = 0;
    cs->cid = kv_new_version(c);
    if (consumer_put(c, v, g->gid, name, n, cs) != 0) return -1;
    g->consumers++;
    if (group_put(c, v, gname, gn, g) != 0) return -1;
    kv_notify(c, KV_NOTIFY_STREAM, "xgroup-createconsumer", key, keylen);
    return 1;
}

/* The consumer's pending count changes by delta (its record rewritten). */
static int consumer_pending_add(kv_ctx *c, const kv_val *v, uint64_t gid, const char *name,
                                size_t n, int64_t delta)
{
    consumer cs;
    int r = consumer_get(c, v, gid, name, n, &cs);
    if (r != 1) {
        if (r == 0) corrupt(c);
        return -1;
    }
    cs.pending += (uint64_t)delta;
    return consumer_put(c, v, gid, name, n, &cs);
}

/* Removes a pending entry from the group's and its consumer's lists. */
static int nack_remove(kv_ctx *c, const kv_val *v, group *g, sid id, const nack *nk)
{
    unsigned char k[25];
    char *name = kvx_dup(c, nk->name, nk->namelen, nk->namelen + 1);
    if (!name) return -1;
    uint64_t cid = nk->cid;
    size_t namelen = nk->namelen;
    int r = kv_elem_del(c, v->gver, k, pel_name(k, g->gid, id)) < 0 ||
                    cpel_put(c, v, g->gid, cid, id, 1) != 0 ||
                    consumer_pending_add(c, v, g->gid, name, namelen, -1) != 0
                ? -1
                : 0;
    free(name);
    if (r == 0) g->pending--;
    return r;
}

/* streamRangeHasTombstones over [start, +inf). */
static int has_tombstones(kv_ctx *c, const kv_val *v, sid start)
{
    sid maxdel = {v->maxdel_ms, v->maxdel_seq}, first;
    if (v->count == 0 || (maxdel.ms == 0 && maxdel.seq == 0)) return 0;
    if (edge_id(c, v, 0, &first) != 1) return 0;
    if (id_cmp(first, maxdel) > 0) return 0;
    return id_cmp(start, maxdel) <= 0;
}

/* streamEstimateDistanceFromFirstEverEntry. */
static int64_t estimate_read(kv_ctx *c, const kv_val *v, sid id)
{
    sid last = {v->last_ms, v->last_seq}, maxdel = {v->maxdel_ms, v->maxdel_seq}, first = {0, 0};
    if (!v->added) return 0;
    if (!v->count && id_cmp(id, last) < 1) return (int64_t)v->added;
    int cmp_last = id_cmp(id, last);
    if (cmp_last == 0) return (int64_t)v->added;
    if (cmp_last > 0) return SCG_INVALID;
    if (v->count) edge_id(c, v, 0, &first);
    int cmp_id_first = id_cmp(id, first);
    int cmp_xdel_first = id_cmp(maxdel, first);
    if ((maxdel.ms == 0 && maxdel.seq == 0) || cmp_xdel_first < 0) {
        if (cmp_id_first < 0) return (int64_t)(v->added - v->count);
        if (cmp_id_first == 0) return (int64_t)(v->added - v->count + 1);
    }
    return SCG_INVALID;
}

/* The group's lag (XINFO GROUPS): 1 with *lag, 0 unknown (null). */
static int group_lag(kv_ctx *c, const kv_val *v, const group *g, int64_t *lag)
{
    if (!v->added) {
        *lag = 0;
        return 1;
    }
    if (g->entries_read != SCG_INVALID && !has_tombstones(c, v, g->last)) {
        *lag = wrap_sub((int64_t)v->added, g->entries_read);
        return 1;
    }
    int64_t read = estimate_read(c, v, g->last);
    if (read == SCG_INVALID) return 0;
    *lag = wrap_sub((int64_t)v->added, read);
    return 1;
}

static void no_group(kv_ctx *c, const char *key, size_t keylen, const char *gname, size_t gn)
{
    resp_add_errorf(c->reply, "NOGROUP No such consumer group '%.*s' for key name '%.*s'", (int)gn,
                    gname, (int)keylen, key);
}

/* ------------------------------------------------------------ XGROUP */

static const char *const xgroup_help[] = {
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
    "HELP",
    "    Prints this help.",
    NULL,
};

enum { XG_CREATE, XG_SETID, XG_DESTROY, XG_CREATECONSUMER, XG_DELCONSUMER, XG_HELP };

/* The subcommand, its arity (Redis's xgroup|<sub> rows) and the options
 * of CREATE / SETID: -1 with the error. */
static int parse_xgroup(int argc, char **argv, size_t *argvlen, int *mkstream,
                        long long *entries_read, resp_buf *err)
{
    static const char *const subs[] = {"create",         "setid",       "destroy",
                                       "createconsumer", "delconsumer", "help"};
    static const int arity[] = {-5, -5, 4, 5, 5, 2};
    int sub = -1;
    for (int i = 0; i < 6; i++)
        if (kv_streqci(argv[1], argvlen[1], subs[i])) sub = i;
    if (sub < 0) {
        resp_add_errorf(err, "ERR unknown subcommand '%.128s'. Try XGROUP HELP.", argv[1]);
        return -1;
    }
    if ((arity[sub] > 0 && argc != arity[sub]) || (arity[sub] < 0 && argc < -arity[sub])) {
        resp_add_errorf(err, "ERR wrong number of arguments for 'xgroup|%s' command", subs[sub]);
        return -1;
    }
    *mkstream = 0;
    *entries_read = SCG_INVALID;
    if (sub == XG_CREATE || sub == XG_SETID) {
        for (int i = 5; i < argc;) {
            if (sub == XG_CREATE && kv_streqci(argv[i], argvlen[i], "mkstream")) {
                *mkstream = 1;
                i++;
            } else if (kv_streqci(argv[i], argvlen[i], "entriesread") && i + 1 < argc) {
                if (kv_getll(argv[i + 1], argvlen[i + 1], entries_read, err) != 0) return -1;
                if (*entries_read < 0 && *entries_read != SCG_INVALID) {
                    resp_add_error(err, "ERR value for ENTRIESREAD must be positive or -1");
                    return -1;
                }
                i += 2;
            } else {
                resp_add_errorf(err,
                                "ERR unknown subcommand or wrong number of arguments for "
                                "'%.128s'. Try XGROUP HELP.",
                                argv[1]);
                return -1;
            }
        }
    }
    return sub;
}

KV_CHECK(ck_xgroup)
{
    int mk;
    long long er;
    return parse_xgroup(argc, argv, argvlen, &mk, &er, err) < 0 ? -1 : 0;
}

static void kvx_xgroup(ARGS)
{
    int mkstream;
    long long entries_read;
    int sub = parse_xgroup(argc, argv, argvlen, &mkstream, &entries_read, c->reply);
    if (sub < 0) return;
    /* Redis flags xgroup|create and xgroup|createconsumer denyoom, not the
     * subcommands that free memory (the row itself is not denyoom). */
    static const kv_command denyoom = {
        "xgroup", -2, KV_CMD_WRITE | KV_CMD_DENYOOM, 0, 0, 0, NULL, NULL, "stream", "5.0.0", ""};
    if ((sub == XG_CREATE || sub == XG_CREATECONSUMER) && kv_oom_at_apply(c, &denyoom)) {
        resp_add_error(c->reply, "OOM command not allowed when used memory > 'maxmemory'.");
        return;
    }
    if (sub == XG_HELP) {
        kv_add_help(c->reply, xgroup_help);
        return;
    }
    kv_val v;
    group g;
    const char *key = argv[2], *gname = argv[3];
    size_t keylen = argvlen[2], gn = argvlen[3];
    int found = kv_lookup_type(c, key, keylen, KV_TYPE_STREAM, &v);
    if (found < 0) return;
    /* Redis's XGROUP signals no change of the key (WATCH, tracking) but
     * the stream MKSTREAM creates. */
    c->no_signal = found;
    int has = 0;
    if (!mkstream) {
        if (!found) {
            resp_add_error(c->reply, "ERR The XGROUP subcommand requires the key to exist. Note "
                                     "that for CREATE you may want to use the MKSTREAM option to "
                                     "create an empty stream automatically.");
            return;
        }
        has = group_get(c, &v, gname, gn, &g);
        if (has < 0) return;
        if (!has && sub != XG_CREATE && sub != XG_DESTROY) {
            no_group(c, key, keylen, gname, gn);
            return;
        }
    } else if (found) {
        has = group_get(c, &v, gname, gn, &g);
        if (has < 0) return;
    }
    switch (sub) {
    case XG_CREATE: {
        sid id;
        if (argvlen[4] == 1 && argv[4][0] == '$') {
            id = found ? (sid){v.last_ms, v.last_seq} : (sid){0, 0};
        } else if (parse_strict(argv[4], argvlen[4], &id, 0, NULL, c->reply) != 0) {
            return;
        }
        if (!found && kv_coll_new(c, KV_TYPE_STREAM, KV_ENC_STREAM, &v) != 0) return;
        if (has) {
            if (!found && kv_coll_save(c, key, keylen, &v) != 0) return;
            resp_add_error(c->reply, "BUSYGROUP Consumer Group name already exists");
            return;
        }
        /* The key record is rewritten only when it changes (a new stream,
         * its first group): Redis signals no change to WATCH here. */
        int save = !found || !v.gver;
        if (!v.gver) v.gver = kv_new_version(c);
        g = (group){id, entries_read, 0, 0, kv_new_version(c)};
        if (group_put(c, &v, gname, gn, &g) != 0) return;
        if (save && kv_coll_save(c, key, keylen, &v) != 0) return;
        resp_add_ok(c->reply);
        kv_notify(c, KV_NOTIFY_STREAM, "xgroup-create", key, keylen);
        return;
    }
    case XG_SETID: {
        sid id;
        if (argvlen[4] == 1 && argv[4][0] == '$')
            id = (sid){v.last_ms, v.last_seq};
        else if (parse_id(argv[4], argvlen[4], &id, 0, 0, NULL, c->reply) != 0)
            return;
        g.last = id;
        g.entries_read = entries_read;
        if (group_put(c, &v, gname, gn, &g) != 0) return;
        resp_add_ok(c->reply);
        kv_notify(c, KV_NOTIFY_STREAM, "xgroup-setid", key, keylen);
        return;
    }
    case XG_DESTROY: {
        if (!has) {
            resp_add_int(c->reply, 0);
            return;
        }
        unsigned char pre[9];
        size_t len;
        unsigned char *k = name_of('g', 0, 0, gname, gn, &len);
        if (!k) {
            kvx_oom(c);
            return;
        }
        int r = kv_elem_del(c, v.gver, k, len);
        free(k);
        if (r < 0) return;
        for (const char *t = "cpq"; *t; t++) {
            pre[0] = (unsigned char)*t;
            kv_put_be64(pre + 1, g.gid);
            if (del_prefix(c, v.gver, pre, 9) != 0) return;
        }
        resp_add_int(c->reply, 1);
        kv_notify(c, KV_NOTIFY_STREAM, "xgroup-destroy", key, keylen);
        kv_signal_ready(c, key, keylen); /* its blocked XREADGROUP clients: -NOGROUP */
        return;
    }
    case XG_CREATECONSUMER: {
        consumer cs;
        int r = consumer_create(c, &v, gname, gn, &g, argv[4], argvlen[4], key, keylen, &cs);
        if (r < 0) return;
        resp_add_int(c->reply, r);
        return;
    }
    case XG_DELCONSUMER: {
        consumer cs;
        int r = consumer_get(c, &v, g.gid, argv[4], argvlen[4], &cs);
        if (r < 0) return;
        long long pending = 0;
        if (r == 1) {
            /* Its pending entries leave the group's list too. */
            unsigned char pre[17];
            pre[0] = 'q';
            kv_put_be64(pre + 1, g.gid);
            kv_put_be64(pre + 9, cs.cid);
            kv_iter it;
            const char *f, *val;
            size_t flen, vlen;
            int ir;
            if (kv_iter_open(c, &it, KV_T_ELEM, v.gver, pre, 17, 0) != 0) return;
            while ((ir = kv_iter_next(&it, &f, &flen, &val, &vlen)) == 1) {
                if (flen != 33 || memcmp(f, pre, 17) != 0) break;
                unsigned char pk[25];
                sid id = id_dec(f + 17);
                if (kv_iter_del_current(&it) != 0 ||
                    kv_elem_del(c, v.gver, pk, pel_name(pk, g.gid, id)) < 0) {
                    ir = -1;
                    break;
                }
                g.pending--;
                pending++;
            }
            kv_iter_close(&it);
            if (ir < 0) return;
            size_t len;
            unsigned char *k = name_of('c', g.gid, 1, argv[4], argvlen[4], &len);
            if (!k) {
                kvx_oom(c);
                return;
            }
            int dr = kv_elem_del(c, v.gver, k, len);
            free(k);
            if (dr < 0) return;
            g.consumers--;
            if (group_put(c, &v, gname, gn, &g) != 0) return;
        }
        resp_add_int(c->reply, pending);
        if (r == 1) kv_notify(c, KV_NOTIFY_STREAM, "xgroup-delconsumer", key, keylen);
        return;
    }
    }
}

/* ------------------------------------------------------------ XREADGROUP */

/* One stream of XREADGROUP served: new entries after the group's last id
 * (history 0) or the consumer's pending entries from start (history 1).
 * The entries' ids are collected first: records are written between
 * replies, and an iterator must not see writes. */
static int serve_group(kv_ctx *c, kv_val *v, const char *gname, size_t gn, group *g,
                       const char *cname, size_t cn, consumer *cs, sid start, long long count,
                       int noack, int history)
{
    kv_iter it;
    const char *f, *val;
    size_t flen, vlen;
    size_t cap = 16, n = 0;
    sid *ids = kv_malloc(cap * sizeof(*ids));
    int r;
    if (!ids) {
        kvx_oom(c);
        return -1;
    }
    unsigned char from[33];
    size_t fromlen;
    if (history) {
        fromlen = cpel_name(from, g->gid, cs->cid, start);
        r = kv_iter_open(c, &it, KV_T_ELEM, v->gver, from, fromlen, 0);
    } else {
        id_enc(start, from);
        r = kv_iter_open(c, &it, KV_T_ELEM, v->ver, from, 16, 0);
    }
    if (r != 0) {
        free(ids);
        return -1;
    }
    while ((count == 0 || (long long)n < count) &&
           (r = kv_iter_next(&it, &f, &flen, &val, &vlen)) == 1) {
        sid id;
        if (history) {
            if (flen != 33 || memcmp(f, from, 17) != 0) break;
            id = id_dec(f + 17);
        } else {
            if (flen == 17 || flen == 18) continue;
            if (flen != 16) {
                corrupt(c);
                r = -1;
                break;
            }
            id = id_dec(f);
        }
        if (n == cap) {
            sid *more = realloc(ids, 2 * cap * sizeof(*ids));
            if (!more) {
                kvx_oom(c);
                r = -1;
                break;
            }
            ids = more;
            cap *= 2;
        }
        ids[n++] = id;
    }
    kv_iter_close(&it);
    if (r < 0) {
        free(ids);
        return -1;
    }
    resp_add_array(c->reply, (int64_t)n);
    int64_t now = c->tau;
    for (size_t i = 0; i < n && c->rc == 0; i++) {
        sid id = ids[i];
        int er = entry_get(c, v->ver, id, &val, &vlen);
        if (er < 0) break;
        if (history) {
            nack nk;
            if (er == 0) { /* deleted since: the id and a null */
                resp_add_array(c->reply, 2);
                add_id(c->reply, id);
                resp_add_null_array(c->reply);
                continue;
            }
            unsigned char name[17];
            id_enc(id, name);
            if (reply_entry(c, (const char *)name, val, vlen) != 0) break;
            if (nack_get(c, v, g->gid, id, &nk) != 1) {
                corrupt(c);
                break;
            }
            if (nack_put(c, v, g->gid, id, now, nk.count + 1, cs->cid, cname, cn) != 0) break;
            continue;
        }
        if (er == 0) {
            corrupt(c);
            break;
        }
        if (id_cmp(id, g->last) > 0) {
            if (g->entries_read != SCG_INVALID && !has_tombstones(c, v, id))
                g->entries_read = (int64_t)((uint64_t)g->entries_read + 1);
            else if (v->added)
                g->entries_read = estimate_read(c, v, id);
            g->last = id;
        }
        unsigned char name[17];
        id_enc(id, name);
        if (entry_get(c, v->ver, id, &val, &vlen) != 1 ||
            reply_entry(c, (const char *)name, val, vlen) != 0)
            break;
        if (noack) continue;
        nack nk;
        int nr = nack_get(c, v, g->gid, id, &nk);
        if (nr < 0) break;
        if (nr == 1) {
            /* Delivered before (XGROUP SETID moved the group back): the
             * entry moves to this consumer. */
            if (nk.cid != cs->cid) {
                char *old = kvx_dup(c, nk.name, nk.namelen, nk.namelen + 1);
                if (!old) break;
                size_t oldlen = nk.namelen;
                uint64_t oldcid = nk.cid;
                int rr = cpel_put(c, v, g->gid, oldcid, id, 1) != 0 ||
                         consumer_pending_add(c, v, g->gid, old, oldlen, -1) != 0;
                free(old);
                if (rr) break;
                cs->pending++;
            }
        } else {
            g->pending++;
            cs->pending++;
        }
        if (nack_put(c, v, g->gid, id, now, 1, cs->cid, cname, cn) != 0 ||
            cpel_put(c, v, g->gid, cs->cid, id, 0) != 0)
            break;
    }
    free(ids);
    if (c->rc) return -1;
    if (consumer_put(c, v, g->gid, cname, cn, cs) != 0) return -1;
    return group_put(c, v, gname, gn, g);
}

/* XREADGROUP GROUP g c [COUNT n] [BLOCK ms] [NOACK] STREAMS key... id...:
 * Redis's xreadCommand with a group. */
static int parse_xreadgroup(int argc, char **argv, size_t *argvlen, int in_script, long long *count,
                            int *streams_arg, int *gpos, int *noack, int *block, resp_buf *err)
{
    return parse_read_opts(argc, argv, argvlen, in_script, 1, count, streams_arg, gpos, noack,
                           block, err);
}

KV_CHECK(ck_xreadgroup)
{
    long long count;
    int sa, gp, noack, block;
    return parse_xreadgroup(argc, argv, argvlen, 0, &count, &sa, &gp, &noack, &block, err);
}

static void kvx_xreadgroup(ARGS)
{
    c->no_signal = 1; /* Redis: no signalModifiedKey() (WATCH, tracking) */
    long long count;
    int sa, gp, noack, block;
    if (parse_xreadgroup(argc, argv, argvlen, c->in_script, &count, &sa, &gp, &noack, &block,
                         c->reply) != 0)
        return;
    const char *gname = argv[gp], *cname = argv[gp + 1];
    size_t gn = argvlen[gp], cn = argvlen[gp + 1];
    int n = (argc - sa) / 2;
    sid *ids = kv_calloc((size_t)n + 1, sizeof(*ids));
    if (!ids) {
        kvx_oom(c);
        return;
    }
    for (int i = 0; i < n; i++) {
        kv_val v;
        group g;
        int k = sa + i, a = sa + n + i;
        int found = kv_lookup_type(c, argv[k], argvlen[k], KV_TYPE_STREAM, &v);
        if (found < 0) goto out;
        int has = found ? group_get(c, &v, gname, gn, &g) : 0;
        if (has < 0) goto out;
        if (!has) {
            resp_add_errorf(c->reply,
                            "NOGROUP No such key '%.*s' or consumer group '%.*s' in XREADGROUP "
                            "with GROUP option",
                            (int)argvlen[k], argv[k], (int)gn, gname);
            goto out;
        }
        if (argvlen[a] == 1 && argv[a][0] == '$') {
            resp_add_error(c->reply,
                           "ERR The $ ID is meaningless in the context of XREADGROUP: you want "
                           "to read the history of this consumer by specifying a proper ID, or "
                           "use the > ID to get new messages. The $ ID would just return an "
                           "empty result set.");
            goto out;
        }
        if (argvlen[a] == 1 && argv[a][0] == '>') {
            ids[i] = (sid){UINT64_MAX, UINT64_MAX};
            continue;
        }
        if (parse_strict(argv[a], argvlen[a], &ids[i], 0, NULL, c->reply) != 0) goto out;
    }
    size_t mark = 0;
    int64_t served = 0;
    for (int i = 0; i < n; i++) {
        kv_val v;
        group g;
        int k = sa + i;
        if (kv_lookup_type(c, argv[k], argvlen[k], KV_TYPE_STREAM, &v) != 1 ||
            group_get(c, &v, gname, gn, &g) != 1) {
            corrupt(c);
            goto out;
        }
        sid gt = ids[i];
        int history = 0, serve = 0;
        if (gt.ms != UINT64_MAX || gt.seq != UINT64_MAX) {
            serve = history = 1;
        } else if (v.count) {
            sid maxid;
            if (edge_id(c, &v, 1, &maxid) < 0) goto out;
            if (id_cmp(maxid, g.last) > 0) {
                serve = 1;
                gt = g.last;
            }
        }
        if (!serve) continue;
        if (served++ == 0) mark = resp_add_deferred(c->reply);
        consumer cs;
        int cr = consumer_get(c, &v, g.gid, cname, cn, &cs);
        if (cr < 0) goto out;
        if (cr == 0) {
            if (consumer_create(c, &v, gname, gn, &g, cname, cn, argv[k], argvlen[k], &cs) < 0)
                goto out;
        }
        cs.seen = c->tau;
        sid start = gt;
        id_incr(&start);
        if (c->reply->proto == 2) resp_add_array(c->reply, 2);
        resp_add_bulk(c->reply, argv[k], argvlen[k]);
        if (serve_group(c, &v, gname, gn, &g, cname, cn, &cs, start, count, noack, history) != 0)
            goto out;
    }
    if (served == 0 && block)
        kvx_block_empty(c, 1);
    else if (served == 0)
        resp_add_null_array(c->reply);
    else if (c->reply->proto == 2)
        resp_set_deferred_array(c->reply, mark, served);
    else
        resp_set_deferred_map(c->reply, mark, served);
out:
    free(ids);
}

/* ------------------------------------------------------------ XACK */

static void kvx_xack(ARGS)
{
    c->no_signal = 1; /* Redis: no signalModifiedKey() (WATCH, tracking) */
    kv_val v;
    group g;
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_STREAM, &v);
    if (found < 0) return;
    int has = found ? group_get(c, &v, argv[2], argvlen[2], &g) : 0;
    if (has < 0) return;
    if (!has) {
        resp_add_int(c->reply, 0);
        return;
    }
    sid id;
    for (int j = 3; j < argc; j++)
        if (parse_strict(argv[j], argvlen[j], &id, 0, NULL, c->reply) != 0) return;
    long long acked = 0;
    for (int j = 3; j < argc; j++) {
        nack nk;
        parse_strict(argv[j], argvlen[j], &id, 0, NULL, NULL);
        int r = nack_get(c, &v, g.gid, id, &nk);
        if (r < 0) return;
        if (r == 1) {
            if (nack_remove(c, &v, &g, id, &nk) != 0) return;
            acked++;
        }
    }
    if (acked && group_put(c, &v, argv[2], argvlen[2], &g) != 0) return;
    resp_add_int(c->reply, acked);
}

/* ------------------------------------------------------------ XPENDING */

static void kvx_xpending(ARGS)
{
    kv_val v;
    group g;
    sid start = {0, 0}, end = {0, 0};
    long long count = 0, minidle = 0;
    const char *cname = NULL;
    size_t cn = 0;
    int justinfo = argc == 3, sx, ex;
    if (argc != 3 && (argc < 6 || argc > 9)) {
        resp_add_error(c->reply, ERR_SYNTAX);
        return;
    }
    if (argc >= 6) {
        int at = 3;
        if (kv_streqci(argv[3], argvlen[3], "idle")) {
            if (kv_getll(argv[4], argvlen[4], &minidle, c->reply) != 0) return;
            if (argc < 8) {
                resp_add_error(c->reply, ERR_SYNTAX);
                return;
            }
            at += 2;
        }
        if (kv_getll(argv[at + 2], argvlen[at + 2], &count, c->reply) != 0) return;
        if (count < 0) count = 0;
        if (parse_interval(argv[at], argvlen[at], &start, &sx, 0, c->reply) != 0) return;
        if (sx && id_incr(&start) != 0) {
            resp_add_error(c->reply, "ERR invalid start ID for the interval");
            return;
        }
        if (parse_interval(argv[at + 1], argvlen[at + 1], &end, &ex, UINT64_MAX, c->reply) != 0)
            return;
        if (ex && id_decr(&end) != 0) {
            resp_add_error(c->reply, "ERR invalid end ID for the interval");
            return;
        }
        if (at + 3 < argc) {
            cname = argv[at + 3];
            cn = argvlen[at + 3];
        }
    }
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_STREAM, &v);
    if (found < 0) return;
    int has = found ? group_get(c, &v, argv[2], argvlen[2], &g) : 0;
    if (has < 0) return;
    if (!has) {
        resp_add_errorf(c->reply, "NOGROUP No such key '%.*s' or consumer group '%.*s'",
                        (int)argvlen[1], argv[1], (int)argvlen[2], argv[2]);
        return;
    }
    kv_iter it;
    const char *f, *val;
    size_t flen, vlen;
    unsigned char pre[25];
    int r;
    if (justinfo) {
        resp_add_array(c->reply, 4);
        resp_add_int(c->reply, (int64_t)g.pending);
        if (g.pending == 0) {
            resp_add_null(c->reply);
            resp_add_null(c->reply);
            resp_add_null_array(c->reply);
            return;
        }
        for (int rev = 0; rev < 2; rev++) {
            pel_name(pre, g.gid, rev ? (sid){UINT64_MAX, UINT64_MAX} : (sid){0, 0});
            if (kv_iter_open(c, &it, KV_T_ELEM, v.gver, pre, 25, rev) != 0) return;
            r = kv_iter_next(&it, &f, &flen, &val, &vlen);
            if (r == 1 && flen == 25 && memcmp(f, pre, 9) == 0)
                add_id(c->reply, id_dec(f + 9));
            else
                corrupt(c);
            kv_iter_close(&it);
            if (c->rc) return;
        }
        /* Consumers with pending entries, in name order. */
        unsigned char cpre[9];
        cpre[0] = 'c';
        kv_put_be64(cpre + 1, g.gid);
        size_t mark = resp_add_deferred(c->reply);
        int64_t nc = 0;
        if (kv_iter_open(c, &it, KV_T_ELEM, v.gver, cpre, 9, 0) != 0) return;
        while ((r = kv_iter_next(&it, &f, &flen, &val, &vlen)) == 1) {
            if (flen < 9 || memcmp(f, cpre, 9) != 0) break;
            if (vlen != 24) {
                corrupt(c);
                break;
            }
            uint64_t p = kv_get_be64((const unsigned char *)val + 8);
            if (!p) continue;
            resp_add_array(c->reply, 2);
            resp_add_bulk(c->reply, f + 9, flen - 9);
            resp_add_bulk_int(c->reply, (int64_t)p);
            nc++;
        }
        kv_iter_close(&it);
        resp_set_deferred_array(c->reply, mark, nc);
        return;
    }
    consumer cs;
    if (cname) {
        int cr = consumer_get(c, &v, g.gid, cname, cn, &cs);
        if (cr < 0) return;
        if (cr == 0) {
            resp_add_array(c->reply, 0);
            return;
        }
    }
    int64_t now = c->wall ? c->wall : c->tau;
    unsigned char from[33];
    size_t fromlen = cname ? cpel_name(from, g.gid, cs.cid, start) : pel_name(from, g.gid, start);
    size_t plen = cname ? 17 : 9, mark = resp_add_deferred(c->reply);
    int64_t n = 0;
    if (kv_iter_open(c, &it, KV_T_ELEM, v.gver, from, fromlen, 0) != 0) return;
    while (count && (r = kv_iter_next(&it, &f, &flen, &val, &vlen)) == 1) {
        if (flen != plen + 16 || memcmp(f, from, plen) != 0) break;
        sid id = id_dec(f + plen);
        if (id_cmp(id, end) > 0) break;
        nack nk;
        if (cname) {
            /* The consumer's list names the entry; its details are the
             * group's record (read after the iterator moved on). */
            kv_iter_close(&it);
            if (nack_get(c, &v, g.gid, id, &nk) != 1) {
                corrupt(c);
                return;
            }
            from[0] = 'q';
            sid nx = id;
            int last = id_incr(&nx) != 0;
            fromlen = cpel_name(from, g.gid, cs.cid, nx);
            int64_t idle = wrap_sub(now, nk.time);
            if (!(minidle && idle < minidle)) {
                n++;
                count--;
                resp_add_array(c->reply, 4);
                add_id(c->reply, id);
                resp_add_bulk(c->reply, nk.name, nk.namelen);
                resp_add_int(c->reply, idle < 0 ? 0 : idle);
                resp_add_int(c->reply, (int64_t)nk.count);
            }
            if (last || kv_iter_open(c, &it, KV_T_ELEM, v.gver, from, fromlen, 0) != 0) {
                it.cur = NULL;
                break;
            }
            continue;
        }
        if (nack_decode(val, vlen, &nk) != 0) {
            corrupt(c);
            break;
        }
        int64_t idle = wrap_sub(now, nk.time);
        if (minidle && idle < minidle) continue;
        n++;
        count--;
        resp_add_array(c->reply, 4);
        add_id(c->reply, id);
        resp_add_bulk(c->reply, nk.name, nk.namelen);
        resp_add_int(c->reply, idle < 0 ? 0 : idle);
        resp_add_int(c->reply, (int64_t)nk.count);
    }
    if (it.cur) kv_iter_close(&it);
    resp_set_deferred_array(c->reply, mark, n);
}

/* ------------------------------------------------------------ XCLAIM */

/* Gives pending entry id (nk, present when has) to consumer cs, with a
 * delivery time and count as XCLAIM / XAUTOCLAIM decide. */
static int claim_one(kv_ctx *c, kv_val *v, group *g, sid id, int has, const nack *nk, consumer *cs,
                     const char *cname, size_t cn, int64_t time, uint64_t count)
{
    if (has && nk->cid != cs->cid) {
        char *old = kvx_dup(c, nk->name, nk->namelen, nk->namelen + 1);
        if (!old) return -1;
        size_t oldlen = nk->namelen;
        int r = cpel_put(c, v, g->gid, nk->cid, id, 1) != 0 ||
                consumer_pending_add(c, v, g->gid, old, oldlen, -1) != 0;
        free(old);
        if (r) return -1;
    }
    if (!has) g->pending++;
    if (!has || nk->cid != cs->cid) {
        cs->pending++;
        if (cpel_put(c, v, g->gid, cs->cid, id, 0) != 0) return -1;
    }
    return nack_put(c, v, g->gid, id, time, count, cs->cid, cname, cn);
}

/* The claiming consumer, looked up (its seen time refreshed) or made. */
static int claimer(kv_ctx *c, kv_val *v, const char *gname, size_t gn, group *g, const char *cname,
                   size_t cn, const char *key, size_t keylen, consumer *cs, int *have)
{
    if (*have) return 0;
    int r = consumer_get(c, v, g->gid, cname, cn, cs);
    if (r < 0) return -1;
    if (r == 0 && consumer_create(c, v, gname, gn, g, cname, cn, key, keylen, cs) < 0) return -1;
    cs->seen = c->tau;
    *have = 1;
    return 0;
}

static int reply_claimed(kv_ctx *c, const kv_val *v, sid id, int justid)
{
    const char *val;
    size_t vlen;
    unsigned char name[17];
    if (justid) {
        add_id(c->reply, id);
        return 0;
    }
    if (entry_get(c, v->ver, id, &val, &vlen) != 1) {
        corrupt(c);
        return -1;
    }
    id_enc(id, name);
    return reply_entry(c, (const char *)name, val, vlen);
}

static int getll_msg(const char *s, size_t len, long long *v, const char *msg, resp_buf *err)
{
    if (kv_string2ll(s, len, v)) return 0;
    resp_add_errorf(err, "ERR %s", msg);
    return -1;
}

static void kvx_xclaim(ARGS)
{
    c->no_signal = 1; /* Redis: no signalModifiedKey() (WATCH, tracking) */
    kv_val v;
    group g;
    long long minidle, retrycount = -1, deliverytime = -1;
    int force = 0, justid = 0, j;
    const char *gname = argv[2], *cname = argv[3];
    size_t gn = argvlen[2], cn = argvlen[3];
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_STREAM, &v);
    if (found < 0) return;
    int has = found ? group_get(c, &v, gname, gn, &g) : 0;
    if (has < 0) return;
    if (!has) {
        resp_add_errorf(c->reply, "NOGROUP No such key '%.*s' or consumer group '%.*s'",
                        (int)argvlen[1], argv[1], (int)gn, gname);
        return;
    }
    if (getll_msg(argv[4], argvlen[4], &minidle, "Invalid min-idle-time argument for XCLAIM",
                  c->reply) != 0)
        return;
    if (minidle < 0) minidle = 0;
    sid id, last_id = {0, 0};
    for (j = 5; j < argc; j++)
        if (parse_strict(argv[j], argvlen[j], &id, 0, NULL, NULL) != 0) break;
    int last_arg = j - 1;
    int64_t now = c->tau;
    for (; j < argc; j++) {
        int more = argc - 1 - j;
        if (kv_streqci(argv[j], argvlen[j], "force")) {
            force = 1;
        } else if (kv_streqci(argv[j], argvlen[j], "justid")) {
            justid = 1;
        } else if (kv_streqci(argv[j], argvlen[j], "idle") && more) {
            j++;
            if (getll_msg(argv[j], argvlen[j], &deliverytime,
                          "Invalid IDLE option argument for XCLAIM", c->reply) != 0)
                return;
            deliverytime = wrap_sub(now, deliverytime);
        } else if (kv_streqci(argv[j], argvlen[j], "time") && more) {
            j++;
            if (getll_msg(argv[j], argvlen[j], &deliverytime,
                          "Invalid TIME option argument for XCLAIM", c->reply) != 0)
                return;
        } else if (kv_streqci(argv[j], argvlen[j], "retrycount") && more) {
            j++;
            if (getll_msg(argv[j], argvlen[j], &retrycount,
                          "Invalid RETRYCOUNT option argument for XCLAIM", c->reply) != 0)
                return;
        } else if (kv_streqci(argv[j], argvlen[j], "lastid") && more) {
            j++;
            if (parse_strict(argv[j], argvlen[j], &last_id, 0, NULL, c->reply) != 0) return;
        } else {
            resp_add_errorf(c->reply, "ERR Unrecognized XCLAIM option '%s'", argv[j]);
            return;
        }
    }
    int dirty = 0;
    if (id_cmp(last_id, g.last) > 0) {
        g.last = last_id;
        dirty = 1;
    }
    if (deliverytime == -1 || deliverytime < 0 || deliverytime > now) deliverytime = now;
    consumer cs;
    int have = 0;
    size_t mark = resp_add_deferred(c->reply);
    int64_t n = 0;
    for (j = 5; j <= last_arg && c->rc == 0; j++) {
        nack nk;
        const char *val;
        size_t vlen;
        parse_strict(argv[j], argvlen[j], &id, 0, NULL, NULL);
        int nr = nack_get(c, &v, g.gid, id, &nk);
        if (nr < 0) return;
        int er = entry_get(c, v.ver, id, &val, &vlen);
        if (er < 0) return;
        if (er == 0) { /* the entry is gone: so is its pending record */
            if (nr == 1) {
                if (nack_remove(c, &v, &g, id, &nk) != 0) return;
                dirty = 1;
            }
            continue;
        }
        uint64_t cnt;
        if (nr == 0) {
            if (!force) continue;
            cnt = 1; /* streamCreateNACK(NULL) */
        } else {
            if (minidle && wrap_sub(now, nk.time) < minidle) continue;
            cnt = nk.count;
        }
        if (retrycount >= 0)
            cnt = (uint64_t)retrycount;
        else if (!justid)
            cnt++;
        if (claimer(c, &v, gname, gn, &g, cname, cn, argv[1], argvlen[1], &cs, &have) != 0) return;
        /* The consumer may have been made just now: read the record again. */
        if (nr == 1 && nack_get(c, &v, g.gid, id, &nk) != 1) {
            corrupt(c);
            return;
        }
        if (claim_one(c, &v, &g, id, nr, &nk, &cs, cname, cn, deliverytime, cnt) != 0) return;
        if (reply_claimed(c, &v, id, justid) != 0) return;
        n++;
        dirty = 1;
    }
    resp_set_deferred_array(c->reply, mark, n);
    if (have && consumer_put(c, &v, g.gid, cname, cn, &cs) != 0) return;
    if ((dirty || have) && group_put(c, &v, gname, gn, &g) != 0) return;
}

static void kvx_xautoclaim(ARGS)
{
    c->no_signal = 1; /* Redis: no signalModifiedKey() (WATCH, tracking) */
    kv_val v;
    group g;
    long long minidle, count = 100;
    int justid = 0, sx;
    sid start;
    const char *gname = argv[2], *cname = argv[3];
    size_t gn = argvlen[2], cn = argvlen[3];
    if (getll_msg(argv[4], argvlen[4], &minidle, "Invalid min-idle-time argument for XAUTOCLAIM",
                  c->reply) != 0)
        return;
    if (minidle < 0) minidle = 0;
    if (parse_interval(argv[5], argvlen[5], &start, &sx, 0, c->reply) != 0) return;
    if (sx && id_incr(&start) != 0) {
        resp_add_error(c->reply, "ERR invalid start ID for the interval");
        return;
    }
    for (int j = 6; j < argc; j++) {
        int more = argc - 1 - j;
        if (kv_streqci(argv[j], argvlen[j], "count") && more) {
            long long maxc = LONG_MAX / 16;
            if (!kv_string2ll(argv[j + 1], argvlen[j + 1], &count) || count < 1 || count > maxc) {
                resp_add_error(c->reply, "ERR COUNT must be > 0");
                return;
            }
            j++;
        } else if (kv_streqci(argv[j], argvlen[j], "justid")) {
            justid = 1;
        } else {
            resp_add_error(c->reply, ERR_SYNTAX);
            return;
        }
    }
    int found = kv_lookup_type(c, argv[1], argvlen[1], KV_TYPE_STREAM, &v);
    if (found < 0) return;
    int has = found ? group_get(c, &v, gname, gn, &g) : 0;
    if (has < 0) return;
    if (!has) {
        resp_add_errorf(c->reply, "NOGROUP No such key '%.*s' or consumer group '%.*s'",
                        (int)argvlen[1], argv[1], (int)gn, gname);
        return;
    }
    long long attempts = count * 10;
    int64_t now = c->tau;
    consumer cs;
    int have = 0, dirty = 0;
    sid *deleted = kv_calloc((size_t)(count < 1024 ? count : 1024), sizeof(*deleted));
    size_t ndel = 0, capdel = (size_t)(count < 1024 ? count : 1024);
    if (!deleted) {
        kvx_oom(c);
        return;
    }
    /* The claimed entries are built apart: the cursor comes first. */
    resp_buf body, *reply = c->reply;
    resp_buf_init(&body, reply->proto);
    int64_t n = 0;
    sid cur = start, endid = {0, 0};
    int at_end = 0;
    unsigned char from[25];
    /* One seek per step: records are written between steps. */
    for (;;) {
        kv_iter it;
        const char *f, *val;
        size_t flen, vlen;
        nack nk;
        pel_name(from, g.gid, cur);
        if (kv_iter_open(c, &it, KV_T_ELEM, v.gver, from, 25, 0) != 0) goto out;
        int r = kv_iter_next(&it, &f, &flen, &val, &vlen);
        sid id = {0, 0};
        if (r == 1 && flen == 25 && memcmp(f, from, 9) == 0) {
            id = id_dec(f + 9);
            if (nack_decode(val, vlen, &nk) != 0) r = -1;
        } else if (r == 1) {
            r = 0;
        }
        kv_iter_close(&it);
        if (r < 0) {
            corrupt(c);
            goto out;
        }
        if (!(attempts-- && count)) { /* the cursor: the next pending id */
            if (r == 1) endid = id;
            break;
        }
        if (r == 0) {
            at_end = 1;
            break;
        }
        cur = id;
        int last = id_incr(&cur) != 0;
        const char *ev;
        size_t evlen;
        int er = entry_get(c, v.ver, id, &ev, &evlen);
        if (er < 0) goto out;
        if (er == 0) {
            if (nack_remove(c, &v, &g, id, &nk) != 0) goto out;
            dirty = 1;
            if (ndel == capdel) {
                sid *more = realloc(deleted, 2 * capdel * sizeof(*deleted));
                if (!more) {
                    kvx_oom(c);
                    goto out;
                }
                deleted = more;
                capdel *= 2;
            }
            deleted[ndel++] = id;
            count--;
        } else if (!(minidle && wrap_sub(now, nk.time) < minidle)) {
            uint64_t cnt = nk.count + (justid ? 0 : 1);
            if (claimer(c, &v, gname, gn, &g, cname, cn, argv[1], argvlen[1], &cs, &have) != 0)
                goto out;
            if (nack_get(c, &v, g.gid, id, &nk) != 1) {
                corrupt(c);
                goto out;
            }
            if (claim_one(c, &v, &g, id, 1, &nk, &cs, cname, cn, now, cnt) != 0) goto out;
            c->reply = &body;
            int rr = reply_claimed(c, &v, id, justid);
            c->reply = reply;
            if (rr != 0) goto out;
            n++;
            count--;
            dirty = 1;
        }
        if (last) {
            at_end = 1;
            break;
        }
    }
    (void)at_end;
    resp_add_array(reply, 3);
    add_id(reply, endid);
    resp_add_array(reply, n);
    resp_add_raw(reply, body.p, body.len);
    resp_add_array(c->reply, (int64_t)ndel);
    for (size_t i = 0; i < ndel; i++)
        add_id(c->reply, deleted[i]);
    if (have && consumer_put(c, &v, g.gid, cname, cn, &cs) != 0) goto out;
    if ((dirty || have) && group_put(c, &v, gname, gn, &g) != 0) goto out;
out:
    c->reply = reply;
    resp_buf_free(&body);
    free(deleted);
}

/* ------------------------------------------------------------ XINFO */

static const char *const xinfo_help[] = {
    "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
    "HELP",
    "    Prints this help.",
    NULL,
};

static void add_str(resp_buf *r, const char *s)
{
    resp_add_bulk_str(r, s);
}

/* The rax nodes of a radix tree holding the sorted 16-byte keys k[lo..hi)
 * under a parent whose branching byte is at position dp (-1: the root):
 * the node where they part (or the key's own leaf), and before it, when
 * bytes lie between, the compressed node holding them. Keys out of order
 * (a corrupt stream) give some count, never a read out of bounds. */
static int64_t rax_nodes(const unsigned char (*k)[16], size_t lo, size_t hi, int dp)
{
    int d = 16;
    if (hi - lo > 1)
        for (d = 0; d < 16 && k[lo][d] == k[hi - 1][d]; d++)
            ;
    int64_t n = 1 + (d - dp - 1 >= 1);
    if (d == 16) return n; /* one key (equal ones only in a corrupt stream) */
    for (size_t i = lo; i < hi;) {
        size_t j = i + 1;
        while (j < hi && k[j][d] == k[i][d])
            j++;
        n += rax_nodes(k, i, j, d);
        i = j;
    }
    return n;
}

/* Node records of the stream and its tail (Redis's radix-tree keys). */
static int64_t count_nodes_only(kv_ctx *c, const kv_val *v)
{
    kv_iter it;
    const char *f, *val;
    size_t flen, vlen;
    int64_t n = 0;
    if (kv_iter_open(c, &it, KV_T_ELEM, v->ver, NULL, 0, 0) != 0) return 0;
    while (kv_iter_next(&it, &f, &flen, &val, &vlen) == 1)
        if (flen == 17) n++;
    kv_iter_close(&it);
    return n + has_tail(v);
}

/* XINFO's radix-tree-keys (the nodes: node records and the tail) and
 * radix-tree-nodes: Redis's rax of the nodes' first ids, each node of it
 * counted as rax.c builds them (the compressed trie of the keys). */
static int64_t count_nodes(kv_ctx *c, const kv_val *v, int64_t *raxnodes)
{
    kv_iter it;
    const char *f, *val;
    size_t flen, vlen, n = 0, cap = 0;
    unsigned char(*keys)[16] = NULL;
    int ok = 1;
    *raxnodes = 1;
    if (kv_iter_open(c, &it, KV_T_ELEM, v->ver, NULL, 0, 0) != 0) return 0;
    while (kv_iter_next(&it, &f, &flen, &val, &vlen) == 1) {
        if (flen != 17) continue;
        if (n + 1 >= cap) { /* room for the tail's key too */
            size_t ncap = cap ? cap * 2 : 64;
            void *nk = realloc(keys, ncap * 16);
            if (!nk) {
                ok = 0;
                break;
            }
            keys = nk;
            cap = ncap;
        }
        memcpy(keys[n++], f, 16);
    }
    kv_iter_close(&it);
    if (!ok) { /* out of memory: the keys alone, the nodes estimated */
        free(keys);
        *raxnodes = count_nodes_only(c, v) + 1;
        return *raxnodes - 1;
    }
    if (has_tail(v)) {
        if (!keys && !(keys = malloc(16))) {
            *raxnodes = 2;
            return 1;
        }
        kv_put_be64(keys[n], v->tail_ms);
        kv_put_be64(keys[n] + 8, v->tail_seq);
        n++;
    }
    if (n) *raxnodes = rax_nodes((const unsigned char(*)[16])keys, 0, n, -1);
    free(keys);
    return (int64_t)n;
}

static void add_edge_entry(kv_ctx *c, const kv_val *v, int rev)
{
    sid id;
    const char *val;
    size_t vlen;
    unsigned char name[17];
    if (edge_id(c, v, rev, &id) != 1 || entry_get(c, v->ver, id, &val, &vlen) != 1) {
        resp_add_null(c->reply);
        return;
    }
    id_enc(id, name);
    reply_entry(c, (const char *)name, val, vlen);
}

/* The groups in name order: calls fn for each ('g' records). */
typedef int group_fn(kv_ctx *c, const kv_val *v, const char *name, size_t n, const group *g,
                     void *arg);

static int64_t each_group(kv_ctx *c, const kv_val *v, group_fn *fn, void *arg)
{
    kv_iter it;
    const char *f, *val;
    size_t flen, vlen;
    int64_t n = 0;
    int r;
    if (!v->gver) return 0;
    if (kv_iter_open(c, &it, KV_T_ELEM, v->gver, "g", 1, 0) != 0) return -1;
    while ((r = kv_iter_next(&it, &f, &flen, &val, &vlen)) == 1) {
        group g;
        if (flen < 1 || f[0] != 'g') break;
        if (group_decode(val, vlen, &g) != 0) {
            corrupt(c);
            break;
        }
        if (fn && fn(c, v, f + 1, flen - 1, &g, arg) != 0) break;
        n++;
    }
    kv_iter_close(&it);
    return c->rc ? -1 : n;
}

static int group_info(kv_ctx *c, const kv_val *v, const char *name, size_t n, const group *g,
                      void *arg)
{
    (void)arg;
    int64_t lag;
    resp_add_map(c->reply, 6);
    add_str(c->reply, "name");
    resp_add_bulk(c->reply, name, n);
    add_str(c->reply, "consumers");
    resp_add_int(c->reply, (int64_t)g->consumers);
    add_str(c->reply, "pending");
    resp_add_int(c->reply, (int64_t)g->pending);
    add_str(c->reply, "last-delivered-id");
    add_id(c->reply, g->last);
    add_str(c->reply, "entries-read");
    if (g->entries_read != SCG_INVALID)
        resp_add_int(c->reply, g->entries_read);
    else
        resp_add_null(c->reply);
    add_str(c->reply, "lag");
    if (group_lag(c, v, g, &lag))
        resp_add_int(c->reply, lag);
    else
        resp_add_null(c->reply);
    return 0;
}

/* The head of XINFO STREAM's reply, FULL or not. */
static void xinfo_head(kv_ctx *c, const kv_val *v, int full)
{
    sid first = {0, 0};
    if (v->count) edge_id(c, v, 0, &first);
    int64_t raxnodes, nodes = count_nodes(c, v, &raxnodes);
    resp_add_map(c->reply, full ? 9 : 10);
    add_str(c->reply, "length");
    resp_add_int(c->reply, (int64_t)v->count);
    add_str(c->reply, "radix-tree-keys");
    resp_add_int(c->reply, nodes);
    add_str(c->reply, "radix-tree-nodes");
    resp_add_int(c->reply, raxnodes);
    add_str(c->reply, "last-generated-id");
    add_id(c->reply, (sid){v->last_ms, v->last_seq});
    add_str(c->reply, "max-deleted-entry-id");
    add_id(c->reply, (sid){v->maxdel_ms, v->maxdel_seq});
    add_str(c->reply, "entries-added");
    resp_add_int(c->reply, (int64_t)v->added);
    add_str(c->reply, "recorded-first-entry-id");
    add_id(c->reply, first);
}

/* A group's pending list ('p' gid) or a consumer's ('q' gid cid), at most
 * count entries (0: all): [id, consumer, time, count] / [id, time, count]. */
static void full_pending(kv_ctx *c, const kv_val *v, uint64_t gid, const consumer *cs,
                         long long count)
{
    kv_iter it;
    const char *f, *val;
    size_t flen, vlen;
    unsigned char pre[17];
    size_t plen = 9;
    pre[0] = cs ? 'q' : 'p';
    kv_put_be64(pre + 1, gid);
    if (cs) {
        kv_put_be64(pre + 9, cs->cid);
        plen = 17;
    }
    size_t cap = 16, n = 0;
    sid *ids = kv_malloc(cap * sizeof(*ids));
    if (!ids) {
        kvx_oom(c);
        return;
    }
    if (kv_iter_open(c, &it, KV_T_ELEM, v->gver, pre, plen, 0) != 0) {
        free(ids);
        return;
    }
    while ((count == 0 || (long long)n < count) && kv_iter_next(&it, &f, &flen, &val, &vlen) == 1) {
        if (flen != plen + 16 || memcmp(f, pre, plen) != 0) break;
        if (n == cap) {
            sid *more = realloc(ids, 2 * cap * sizeof(*ids));
            if (!more) {
                kvx_oom(c);
                break;
            }
            ids = more;
            cap *= 2;
        }
        ids[n++] = id_dec(f + plen);
    }
    kv_iter_close(&it);
    resp_add_array(c->reply, (int64_t)n);
    for (size_t i = 0; i < n && c->rc == 0; i++) {
        nack nk;
        if (nack_get(c, v, gid, ids[i], &nk) != 1) {
            corrupt(c);
            break;
        }
        resp_add_array(c->reply, cs ? 3 : 4);
        add_id(c->reply, ids[i]);
        if (!cs) resp_add_bulk(c->reply, nk.name, nk.namelen);
        resp_add_int(c->reply, nk.time);
        resp_add_int(c->reply, (int64_t)nk.count);
    }
    free(ids);
}

static int group_full(kv_ctx *c, const kv_val *v, const char *name, size_t n, const group *g,
                      void *arg)
{
    long long count = *(const long long *)arg;
    int64_t lag;
    resp_add_map(c->reply, 7);
    add_str(c->reply, "name");
    resp_add_bulk(c->reply, name, n);
    add_str(c->reply, "last-delivered-id");
    add_id(c->reply, g->last);
    add_str(c->reply, "entries-read");
    if (g->entries_read != SCG_INVALID)
        resp_add_int(c->reply, g->entries_read);
    else
        resp_add_null(c->reply);
    add_str(c->reply, "lag");
    if (group_lag(c, v, g, &lag))
        resp_add_int(c->reply, lag);
    else
        resp_add_null(c->reply);
    add_str(c->reply, "pel-count");
    resp_add_int(c->reply, (int64_t)g->pending);
    add_str(c->reply, "pending");
    full_pending(c, v, g->gid, NULL, count);
    add_str(c->reply, "consumers");
    /* The consumers' names first: the iterator must not outlive a read of
     * another record. */
    kv_iter it;
    const char *f, *val;
    size_t flen, vlen;
    unsigned char pre[9];
    pre[0] = 'c';
    kv_put_be64(pre + 1, g->gid);
    resp_buf names;
    resp_buf_init(&names, 2);
    uint64_t nc = 0;
    if (kv_iter_open(c, &it, KV_T_ELEM, v->gver, pre, 9, 0) != 0) {
        resp_buf_free(&names);
        return -1;
    }
    while (kv_iter_next(&it, &f, &flen, &val, &vlen) == 1) {
        if (flen < 9 || memcmp(f, pre, 9) != 0) break;
        resp_add_bulk(&names, f + 9, flen - 9);
        nc++;
    }
    kv_iter_close(&it);
    resp_add_array(c->reply, (int64_t)nc);
    const char *p = names.p, *end = nc ? names.p + names.len : names.p;
    while (nc && p < end && c->rc == 0) {
        /* "$<len>\r\n<name>\r\n" */
        size_t len = (size_t)strtoull(p + 1, NULL, 10);
        const char *nm = strchr(p, '\n') + 1;
        consumer cs;
        if (consumer_get(c, v, g->gid, nm, len, &cs) != 1) {
            corrupt(c);
            break;
        }
        resp_add_map(c->reply, 4);
        add_str(c->reply, "name");
        resp_add_bulk(c->reply, nm, len);
        add_str(c->reply, "seen-time");
        resp_add_int(c->reply, cs.seen);
        add_str(c->reply, "pel-count");
        resp_add_int(c->reply, (int64_t)cs.pending);
        add_str(c->reply, "pending");
        full_pending(c, v, g->gid, &cs, count);
        p = nm + len + 2;
    }
    resp_buf_free(&names);
    return c->rc ? -1 : 0;
}

/* XINFO STREAM key FULL [COUNT n]: entries, and each group with its
 * pending entries and consumers, COUNT of each (0: all). */
static void xinfo_full(kv_ctx *c, const kv_val *v, long long count)
{
    xinfo_head(c, v, 1);
    add_str(c->reply, "entries");
    reply_range(c, v, (sid){0, 0}, (sid){UINT64_MAX, UINT64_MAX}, count, 0);
    add_str(c->reply, "groups");
    int64_t ng = each_group(c, v, NULL, NULL);
    if (ng < 0) return;
    resp_add_array(c->reply, ng);
    each_group(c, v, group_full, &count);
}

static void kvx_xinfo(ARGS)
{
    kv_val v;
    if (kv_streqci(argv[1], argvlen[1], "help")) {
        if (argc != 2) {
            resp_add_error(c->reply, "ERR wrong number of arguments for 'xinfo|help' command");
            return;
        }
        kv_add_help(c->reply, xinfo_help);
        return;
    }
    static const char *const subs[] = {"consumers", "groups", "stream"};
    static const int arity[] = {4, 3, -3};
    int sub = -1;
    for (int i = 0; i < 3; i++)
        if (kv_streqci(argv[1], argvlen[1], subs[i])) sub = i;
    if (sub < 0) {
        resp_add_errorf(c->reply, "ERR unknown subcommand '%.128s'. Try XINFO HELP.", argv[1]);
        return;
    }
    if ((arity[sub] > 0 && argc != arity[sub]) || (arity[sub] < 0 && argc < -arity[sub])) {
        resp_add_errorf(c->reply, "ERR wrong number of arguments for 'xinfo|%s' command",
                        subs[sub]);
        return;
    }
    int found = kv_lookup_type(c, argv[2], argvlen[2], KV_TYPE_STREAM, &v);
    if (found < 0) return;
    if (!found) {
        resp_add_error(c->reply, "ERR no such key");
        return;
    }
    if (sub == 0) {
        group g;
        int has = group_get(c, &v, argv[3], argvlen[3], &g);
        if (has < 0) return;
        if (!has) {
            no_group(c, argv[2], argvlen[2], argv[3], argvlen[3]);
            return;
        }
        kv_iter it;
        const char *f, *val;
        size_t flen, vlen;
        unsigned char pre[9];
        pre[0] = 'c';
        kv_put_be64(pre + 1, g.gid);
        int64_t now = c->wall ? c->wall : c->tau, n = 0;
        size_t mark = resp_add_deferred(c->reply);
        if (kv_iter_open(c, &it, KV_T_ELEM, v.gver, pre, 9, 0) != 0) return;
        while (kv_iter_next(&it, &f, &flen, &val, &vlen) == 1) {
            if (flen < 9 || memcmp(f, pre, 9) != 0) break;
            if (vlen != 24) {
                corrupt(c);
                break;
            }
            int64_t idle = wrap_sub(now, (int64_t)kv_get_be64((const unsigned char *)val));
            resp_add_map(c->reply, 3);
            add_str(c->reply, "name");
            resp_add_bulk(c->reply, f + 9, flen - 9);
            add_str(c->reply, "pending");
            resp_add_int(c->reply, (int64_t)kv_get_be64((const unsigned char *)val + 8));
            add_str(c->reply, "idle");
            resp_add_int(c->reply, idle < 0 ? 0 : idle);
            n++;
        }
        kv_iter_close(&it);
        resp_set_deferred_array(c->reply, mark, n);
        return;
    }
    if (sub == 1) {
        size_t mark = resp_add_deferred(c->reply);
        int64_t n = each_group(c, &v, group_info, NULL);
        if (n >= 0) resp_set_deferred_array(c->reply, mark, n);
        return;
    }
    /* STREAM [FULL [COUNT n]]. */
    if (argc != 3) {
        if ((argc != 4 && argc != 6) || !kv_streqci(argv[3], argvlen[3], "full") ||
            (argc == 6 && !kv_streqci(argv[4], argvlen[4], "count"))) {
            resp_add_errorf(c->reply,
                            "ERR unknown subcommand or wrong number of arguments for '%.128s'. "
                            "Try XINFO HELP.",
                            argv[1]);
            return;
        }
        long long cnt = 10; /* Redis's default, so a big stream does not block */
        if (argc == 6 && kv_getll(argv[5], argvlen[5], &cnt, c->reply) != 0) return;
        if (cnt < 0) cnt = 0;
        xinfo_full(c, &v, cnt);
        return;
    }
    xinfo_head(c, &v, 0);
    add_str(c->reply, "groups");
    resp_add_int(c->reply, each_group(c, &v, NULL, NULL));
    add_str(c->reply, "first-entry");
    add_edge_entry(c, &v, 0);
    add_str(c->reply, "last-entry");
    add_edge_entry(c, &v, 1);
}

/* ------------------------------------------------------------ blocking */

/* RAFT.XLASTID key: the stream's last id ("0-0" when there is none), what
 * XREAD's $ stands for when a client blocks (server/blocking.c). */
static void kvx_raft_xlastid(ARGS)
{
    kv_val v;
    UNUSED_ARGS;
    int found = kv_lookup(c, argv[1], argvlen[1], &v);
    if (found < 0) return;
    sid last = {0, 0};
    if (found && v.type == KV_TYPE_STREAM) last = (sid){v.last_ms, v.last_seq};
    add_id(c->reply, last);
}

/* RAFT.XREADY key id [group]: 1 when XREAD (XREADGROUP's > with group)
 * would serve something from key now, so a blocked client's attempt is
 * worth a log entry; 0 otherwise. With a group, as Redis 7.0 answers a
 * blocked XREADGROUP: 2 when the group is gone (-NOGROUP), 3 when the key
 * is gone or holds another type (-UNBLOCKED). */
static void kvx_raft_xready(ARGS)
{
    kv_val v;
    group g;
    sid after = {0, 0}, last;
    int found = kv_lookup(c, argv[1], argvlen[1], &v);
    if (found < 0) return;
    int ready = 0;
    if (argc > 3 && (!found || v.type != KV_TYPE_STREAM)) {
        ready = 3;
    } else if (argc > 3 && v.type == KV_TYPE_STREAM) {
        int has = group_get(c, &v, argv[3], argvlen[3], &g);
        if (has < 0) return;
        if (!has)
            ready = 2;
        else if (v.count && edge_id(c, &v, 1, &last) == 1)
            ready = id_cmp(last, g.last) > 0;
    } else if (found && v.type == KV_TYPE_STREAM && v.count && edge_id(c, &v, 1, &last) == 1) {
        if (parse_strict(argv[2], argvlen[2], &after, 0, NULL, NULL) == 0) {
            ready = id_cmp(last, after) > 0;
        }
    }
    resp_add_int(c->reply, ready);
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
    {"xgroup", -2, W, 0, 0, 0, ck_xgroup, kvx_xgroup, "stream", "5.0.0", "A container for consumer groups commands"},
    {"xreadgroup", -7, W, 0, 0, 0, ck_xreadgroup, kvx_xreadgroup, "stream", "5.0.0", "Return new entries from a stream using a consumer group, or access the history of the pending entries for a given consumer. Can block."},
    {"xack", -4, W | F, 1, 1, 1, NULL, kvx_xack, "stream", "5.0.0", "Marks a pending message as correctly processed, effectively removing it from the pending entries list of the consumer group. Return value of the command is the number of messages successfully acknowledged, that is, the IDs we were actually able to resolve in the PEL."},
    {"xpending", -3, R, 1, 1, 1, NULL, kvx_xpending, "stream", "5.0.0", "Return information and entries from a stream consumer group pending entries list, that are messages fetched but never acknowledged."},
    {"xclaim", -6, W | F, 1, 1, 1, NULL, kvx_xclaim, "stream", "5.0.0", "Changes (or acquires) ownership of a message in a consumer group, as if the message was delivered to the specified consumer."},
    {"xautoclaim", -6, W | F, 1, 1, 1, NULL, kvx_xautoclaim, "stream", "6.2.0", "Changes (or acquires) ownership of messages in a consumer group, as if the messages were delivered to the specified consumer."},
    {"raft.xlastid", 2, R | KV_CMD_INTERNAL, 1, 1, 1, NULL, kvx_raft_xlastid, "stream", "0.1.0", "The last id of a stream (XREAD's $ for a blocked client)"},
    {"raft.xready", -3, R | KV_CMD_INTERNAL, 1, 1, 1, NULL, kvx_raft_xready, "stream", "0.1.0", "Whether XREAD / XREADGROUP would serve a blocked client from a stream"},
    {"xinfo", -2, R, 0, 0, 0, NULL, kvx_xinfo, "stream", "5.0.0", "A container for stream introspection commands"},
};
/* clang-format on */
#undef W
#undef R
#undef F
#undef D
const size_t kvx_stream_ncommands = sizeof(kvx_stream_commands) / sizeof(kvx_stream_commands[0]);
