/* fuzz_kvrec.c -- libFuzzer target for the stored records of the typed key
 * space (storage/kvks.c), read as the layer reads them whatever bytes a
 * damaged file holds:
 *   - a key record: arbitrary (key, value) through kv_rec_parse, which must
 *     refuse it or describe bytes inside it; then stored raw in database 0
 *     and walked by SCAN, KEYS, RANDOMKEY, TYPE and FLUSHDB;
 *   - element, score-index and cleanup-queue records written into their
 *     tables with LMDB directly, then iterated both ways (from the start
 *     and from a position), read back with kv_elem_get, deleted while
 *     iterating, copied (kv_coll_copy) and cleaned up (kvstate_gc).
 * Nothing may crash, and every element the iterator returns must be what
 * its raw record holds (the model below), so an out-of-record read that
 * LMDB's map would hide from ASan is caught too.
 *
 *   - stream records: every element value through the stream decoders
 *     (entry, node, master fields), whose fields must lie inside it; then version 1
 *     as a stream's entries and version 2 as its consumer groups' records
 *     (groups, consumers, pending entries), read and written by the stream
 *     and consumer-group commands.
 * Input: u16 LE n, then n bytes of key record (u16 LE: where the key ends,
 * the key, the value), then raw records: u8 table (mod 3: elements, index, queue),
 * u8 version (1 + mod 3), u16 LE key length (mod 504), u16 LE value
 * length, the key's bytes after the 8-byte version, the value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kvtest.h"
#include "storage/kvint.h"
#include "storage/kvks.h"
#include "storage/kvstream.h"

static char *dir;
static kvstate *st;
static uint64_t inputs;

static void cleanup(void)
{
    kvstate_close(st);
    kvt_rmrf(dir);
}

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) abort();                                                                         \
    } while (0)

/* The raw records put, last one of a key winning (as in LMDB). */
typedef struct rec {
    int table;
    const uint8_t *key; /* the 8-byte version, then kb */
    size_t klen;
    const uint8_t *val;
    size_t vlen;
} rec;

enum { MAXREC = 256 };
static rec recs[MAXREC];
static uint8_t keys[MAXREC][512];
static int nrec;

static const rec *find(int table, const void *k, size_t kl)
{
    for (int i = nrec - 1; i >= 0; i--)
        if (recs[i].table == table && recs[i].klen == kl && memcmp(recs[i].key, k, kl) == 0)
            return &recs[i];
    return NULL;
}

static int is_latest(const rec *r)
{
    return find(r->table, r->key, r->klen) == r;
}

/* An element the iterator returned is its record's: the name is the key
 * after the version (value as stored), or, for a long element's form, the
 * record's value is [u32 BE length][name][value]. */
static void check_elem(uint64_t ver, const char *f, size_t fl, const char *v, size_t vl)
{
    uint8_t k[512];
    kv_put_be64(k, ver);
    if (fl <= 503) {
        memcpy(k + 8, f, fl);
        const rec *r = find(KV_T_ELEM, k, 8 + fl);
        if (r && fl != 448 && r->vlen == vl && (vl == 0 || memcmp(r->val, v, vl) == 0)) return;
    }
    for (int i = 0; i < nrec; i++) {
        const rec *r = &recs[i];
        if (r->table != KV_T_ELEM || r->klen != 8 + 448 || !is_latest(r) ||
            kv_get_be64(r->key) != ver || r->vlen != 4 + fl + vl)
            continue;
        if (memcmp(r->val + 4, f, fl) == 0 && (vl == 0 || memcmp(r->val + 4 + fl, v, vl) == 0))
            return;
    }
    abort();
}

/* A score-index entry: val is the key's 8 score bytes; the member is the
 * key's rest, or a long member's record value. */
static void check_zidx(uint64_t ver, const char *f, size_t fl, const char *v, size_t vl)
{
    uint8_t k[512];
    CHECK(vl == 8);
    kv_put_be64(k, ver);
    memcpy(k + 8, v, 8);
    if (fl <= 495) {
        memcpy(k + 16, f, fl);
        if (find(KV_T_ZIDX, k, 16 + fl)) return;
    }
    for (int i = 0; i < nrec; i++) {
        const rec *r = &recs[i];
        if (r->table == KV_T_ZIDX && r->klen == 16 + 448 && is_latest(r) &&
            memcmp(r->key, k, 16) == 0 && r->vlen == fl && fl > KV_ELEM_INLINE &&
            memcmp(r->val, f, fl) == 0)
            return;
    }
    abort();
}

static void walk(kv_ctx *c, int table, uint64_t ver, const void *from, size_t fromlen, int reverse,
                 int del_every)
{
    kv_iter it;
    const char *f, *v;
    size_t fl, vl;
    int n = 0, rc;
    if (kv_iter_open(c, &it, table, ver, from, fromlen, reverse) != 0) return;
    while ((rc = kv_iter_next(&it, &f, &fl, &v, &vl)) == 1) {
        CHECK(n++ <= nrec);
        if (!del_every) {
            if (table == KV_T_ELEM) {
                check_elem(ver, f, fl, v, vl);
                const char *gv;
                size_t gl;
                /* The name it gave may be looked up (found or not). */
                char *name = malloc(fl ? fl : 1);
                CHECK(name);
                memcpy(name, f, fl);
                (void)kv_elem_get(c, ver, name, fl, &gv, &gl);
                free(name);
            } else {
                check_zidx(ver, f, fl, v, vl);
            }
        } else if (n % del_every == 0) {
            CHECK(kv_iter_del_current(&it) == 0);
        }
    }
    kv_iter_close(&it);
    c->rc = 0; /* a corrupt record is refused: fine */
}

static void read_cmd(const char *a0, const char *a1, const char *a2, const char *a3)
{
    char *argv[4] = {(char *)a0, (char *)a1, (char *)a2, (char *)a3};
    size_t argvlen[4] = {strlen(a0), a1 ? strlen(a1) : 0, a2 ? strlen(a2) : 0, a3 ? strlen(a3) : 0};
    int argc = a3 ? 4 : a2 ? 3 : a1 ? 2 : 1;
    resp_buf out;
    resp_buf_init(&out, 2);
    (void)kvstate_read(st, 0, NULL, argc, argv, argvlen, 0, &out);
    resp_buf_free(&out);
}

static void ctx(kv_ctx *c, resp_buf *reply)
{
    CHECK(kvstate_begin_write(st) == 0);
    memset(c, 0, sizeof(*c));
    c->st = st;
    c->txn = st->wtxn;
    c->writable = 1;
    kv_use_db(c, 0);
    c->reply = reply;
}

/* The key record part: parse, then store raw and walk it with commands. */
static void key_record(const uint8_t *p, size_t n)
{
    if (n < 2) return;
    size_t kl = ((size_t)p[0] | (size_t)p[1] << 8) % (n - 1);
    const uint8_t *kp = p + 2, *vp = p + 2 + kl;
    size_t vl = n - 2 - kl;
    MDB_val k = {kl, (void *)kp}, d = {vl, (void *)vp};
    kv_rec r;
    if (kv_rec_parse(&k, &d, &r) == 0) {
        const char *kb = (const char *)kp, *ke = kb + kl, *vb = (const char *)vp, *ve = vb + vl;
        int in_k = r.key >= kb && r.key + r.keylen <= ke;
        int in_v = r.key >= vb && r.key + r.keylen <= ve;
        CHECK(in_k || in_v);
        CHECK(r.val >= vb && r.val + r.vlen == ve);
        CHECK(r.type == KV_TYPE_STRING || (r.type >= KV_TYPE_LIST && r.type <= KV_TYPE_HASH) ||
              r.type == KV_TYPE_STREAM);
    }
    if (kl == 0 || kl > 511) return;
    kv_ctx c;
    resp_buf out;
    resp_buf_init(&out, 2);
    ctx(&c, &out);
    MDB_val k2 = {kl, (void *)kp}, d2 = {vl, (void *)vp};
    if (mdb_put(st->wtxn, c.kv, &k2, &d2, 0) == 0) {
        read_cmd("SCAN", "0", "COUNT", "100");
        read_cmd("KEYS", "*", NULL, NULL);
        read_cmd("RANDOMKEY", NULL, NULL, NULL);
        read_cmd("DBSIZE", NULL, NULL, NULL);
        if (kl > 8 && kl <= 8 + KV_INLINE_KEYLEN) {
            /* By its own name, when it is in the inline form. */
            char name[512];
            memcpy(name, kp + 8, kl - 8);
            char *argv[2] = {"TYPE", name};
            size_t argvlen[2] = {4, kl - 8};
            (void)kvstate_read(st, 0, NULL, 2, argv, argvlen, 0, &out);
            kv_val v;
            (void)kv_lookup(&c, name, kl - 8, &v);
            c.rc = 0;
        }
        /* FLUSHDB reads every record (a corrupt one stops it). */
        (void)kv_flush_db(&c);
    }
    resp_buf_free(&out);
}

/* A field the entry decoder hands out lies inside the value. */
static const uint8_t *field_lo, *field_hi;

static void field_in(void *arg, const char *p, size_t n)
{
    (void)arg;
    CHECK((const uint8_t *)p >= field_lo && (const uint8_t *)p + n <= field_hi);
}

static void stream_cmd(kv_ctx *c, int argc, const char *const *args)
{
    char *argv[9];
    size_t argvlen[9];
    for (int i = 0; i < argc; i++) {
        argv[i] = (char *)args[i];
        argvlen[i] = strlen(args[i]);
    }
    const kv_command *cmd = kv_command_lookup(argv[0], argvlen[0]);
    CHECK(cmd);
    if (cmd->flags & KV_CMD_READONLY) {
        resp_buf out;
        resp_buf_init(&out, 3);
        (void)kvstate_read(st, 0, cmd, argc, argv, argvlen, 0, &out);
        resp_buf_free(&out);
        return;
    }
    resp_buf_reset(c->reply);
    kv_exec(c, cmd, argc, argv, argvlen);
    c->rc = 0; /* a corrupt record is refused: fine */
}

/* Version 1's element records as a stream's entries and nodes. */
static void stream_records(kv_ctx *c)
{
    for (int i = 0; i < nrec; i++) {
        if (recs[i].table != KV_T_ELEM) continue;
        field_lo = recs[i].val;
        field_hi = recs[i].val + recs[i].vlen;
        int pairs = kv_stream_entry_decode(recs[i].val, recs[i].vlen, field_in, NULL);
        CHECK(pairs == -1 || pairs >= 1);
        kv_stream_node node;
        if (kv_stream_node_decode(recs[i].val, recs[i].vlen, &node) == 0)
            CHECK(recs[i].vlen == 32 || recs[i].vlen == 40);
        field_lo = recs[i].val;
        field_hi = recs[i].val + recs[i].vlen;
        int nf = kv_stream_fields_decode(recs[i].val, recs[i].vlen, field_in, NULL);
        CHECK(nf >= -1);
    }
    kv_val v = {0};
    v.found = 1;
    v.type = KV_TYPE_STREAM;
    v.enc = KV_ENC_STREAM;
    v.ver = 1;
    v.count = (uint64_t)nrec;
    if (nrec > 0 && recs[0].klen >= 8 + 16) {
        v.tail_ms = kv_get_be64(recs[0].key + 8);
        v.tail_seq = kv_get_be64(recs[0].key + 16);
    }
    v.last_ms = v.tail_ms + 1;
    v.gver = 2; /* version 2's records as the consumer groups' */
    if (kv_put_val(c, "st", 2, &v) != 0) {
        c->rc = 0;
        return;
    }
    static const char *const cmds[][9] = {
        {"XRANGE", "st", "-", "+"},
        {"XREVRANGE", "st", "+", "-", "COUNT", "3"},
        {"XREAD", "COUNT", "2", "STREAMS", "st", "0"},
        {"XLEN", "st"},
        {"XDEL", "st", "1-1", "0-1"},
        {"XADD", "st", "MAXLEN", "~", "1", "*", "f", "v"},
        {"XTRIM", "st", "MINID", "5"},
        {"XTRIM", "st", "MAXLEN", "1"},
        {"XSETID", "st", "18446744073709551615-0"},
        {"XINFO", "GROUPS", "st"},
        {"XINFO", "STREAM", "st"},
        {"XINFO", "STREAM", "st", "FULL", "COUNT", "0"},
        {"XINFO", "CONSUMERS", "st", "g"},
        {"XPENDING", "st", "g"},
        {"XPENDING", "st", "g", "-", "+", "10"},
        {"XPENDING", "st", "g", "-", "+", "10", "c"},
        {"XREADGROUP", "GROUP", "g", "c", "STREAMS", "st", "0"},
        {"XREADGROUP", "GROUP", "g", "c", "COUNT", "3", "STREAMS", "st", ">"},
        {"XACK", "st", "g", "1-1", "0-1"},
        {"XCLAIM", "st", "g", "d", "0", "1-1", "0-1", "FORCE"},
        {"XAUTOCLAIM", "st", "g", "d", "0", "0", "COUNT", "5"},
        {"XGROUP", "CREATECONSUMER", "st", "g", "e"},
        {"XGROUP", "DELCONSUMER", "st", "g", "c"},
        {"XGROUP", "SETID", "st", "g", "0"},
        {"XGROUP", "DESTROY", "st", "g"},
        {"XGROUP", "CREATE", "st", "h", "$"},
        {"RAFT.XREADY", "st", ">", "g"},
    };
    static const int argcs[] = {4, 6, 6, 2, 4, 8, 4, 4, 3, 3, 3, 6, 4, 3,
                                6, 7, 7, 9, 5, 8, 8, 5, 5, 5, 4, 5, 4};
    for (size_t i = 0; i < sizeof(argcs) / sizeof(argcs[0]); i++)
        stream_cmd(c, argcs[i], cmds[i]);
    (void)kv_delete(c, "st", 2);
    c->rc = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!st) {
        dir = kvt_mkdtemp();
        char err[256];
        if (kvstate_open(&st, dir, 256ull << 20, err, sizeof(err)) != 0) abort();
        atexit(cleanup);
        st->next_ver = 1000; /* copies never land on the input's versions */
    }
    if (++inputs % 64 == 0 && kvstate_commit(st) != 0) abort();
    if (size < 2) return 0;
    size_t n = (size_t)data[0] | (size_t)data[1] << 8;
    if (n > size - 2) n = size - 2;
    key_record(data + 2, n);
    const uint8_t *p = data + 2 + n, *end = data + size;

    kv_ctx c;
    resp_buf out;
    resp_buf_init(&out, 2);
    ctx(&c, &out);
    /* Every input starts from empty tables. */
    CHECK(kv_flush_all(&c) == 0);
    nrec = 0;
    while (end - p >= 6 && nrec < MAXREC) {
        int table = p[0] % 3;
        uint64_t ver = 1 + p[1] % 3;
        size_t kl = ((size_t)p[2] | (size_t)p[3] << 8) % 504;
        size_t vl = (size_t)p[4] | (size_t)p[5] << 8;
        p += 6;
        if (kl > (size_t)(end - p)) kl = (size_t)(end - p);
        if (vl > (size_t)(end - p) - kl) vl = (size_t)(end - p) - kl;
        kv_put_be64(keys[nrec], ver);
        memcpy(keys[nrec] + 8, p, kl);
        MDB_val k = {8 + kl, keys[nrec]}, d = {vl, (void *)(p + kl)};
        int slot = table == 0 ? KV_SLOT_ELEM : table == 1 ? KV_SLOT_ZIDX : KV_SLOT_GC;
        if (mdb_put(st->wtxn, st->dbi[st->live][slot], &k, &d, 0) == 0 && table < 2) {
            recs[nrec] = (rec){table, keys[nrec], 8 + kl, p + kl, vl};
            nrec++;
        }
        p += kl + vl;
    }

    for (uint64_t ver = 1; ver <= 3; ver++) {
        for (int table = 0; table < 2; table++) {
            walk(&c, table, ver, NULL, 0, 0, 0);
            walk(&c, table, ver, NULL, 0, 1, 0);
            /* From a position: the start of each record's name, and a
             * prefix of it. */
            for (int i = 0; i < nrec && i < 8; i++) {
                if (recs[i].table != table) continue;
                walk(&c, table, ver, recs[i].key + 8, recs[i].klen - 8, i & 1, 0);
                walk(&c, table, ver, recs[i].key + 8, (recs[i].klen - 8) / 2, !(i & 1), 0);
            }
        }
    }
    /* A collection of version 1 copied, then the original and the copy
     * deleted while iterated and cleaned up. */
    kv_val src = {0}, dst;
    src.found = 1;
    src.type = KV_TYPE_ZSET;
    src.ver = 1;
    src.count = 1;
    if (kv_coll_copy(&c, &src, &dst) == 0) {
        walk(&c, KV_T_ELEM, dst.ver, NULL, 0, 0, 3);
        walk(&c, KV_T_ZIDX, dst.ver, NULL, 0, 1, 2);
    }
    c.rc = 0;
    stream_records(&c); /* after the copy: it writes version 1 */
    walk(&c, KV_T_ELEM, 2, NULL, 0, 0, 2);
    walk(&c, KV_T_ZIDX, 2, NULL, 0, 1, 1);
    walk(&c, KV_T_ELEM, 2, NULL, 0, 1, 1);
    src.ver = 3;
    src.count = 5;
    CHECK(kv_put_val(&c, "k", 1, &src) == 0);
    CHECK(kv_delete(&c, "k", 1) == 1);
    int passes = 0, done;
    while ((done = kvstate_gc(st, 7)) > 0) {
        CHECK(done <= 7);
        CHECK(++passes < 10000);
    }
    CHECK(done == 0);
    CHECK(kvstate_gc_pending(st) == 0);
    ctx(&c, &out);
    CHECK(kv_flush_all(&c) == 0);
    resp_buf_free(&out);
    return 0;
}
