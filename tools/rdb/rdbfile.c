/* RDB reader and writer (see rdbfile.h). The format follows rdb.c and rdb.h
 * of Redis 7.0: a length is 1, 2, 5 or 9 bytes by its top two bits; a string
 * is a length and bytes, or an integer (8, 16, 32 bits) or an LZF block in
 * the "encoded" form of the length. */
#include "tools/rdb/rdbfile.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/rdb/crc64.h"
#include "tools/rdb/lzf.h"

#define OP_FUNCTION2 0xF5
#define OP_FUNCTION_PRE_GA 0xF6
#define OP_MODULE_AUX 0xF7
#define OP_IDLE 0xF8
#define OP_FREQ 0xF9
#define OP_AUX 0xFA
#define OP_RESIZEDB 0xFB
#define OP_EXPIRETIME_MS 0xFC
#define OP_EXPIRETIME 0xFD
#define OP_SELECTDB 0xFE
#define OP_EOF 0xFF

#define ENC_INT8 0
#define ENC_INT16 1
#define ENC_INT32 2
#define ENC_LZF 3

/* LZF turns at most 3 input bytes into 264 output bytes: a declared length
 * beyond this bound is corrupt, and is refused before allocating it. */
#define LZF_MAX_RATIO 90

/* Scratch buffers: two for an aux field's name and value, one for a key. */
enum { SCR_A, SCR_B, SCR_KEY, SCR_N };

typedef struct reader {
    const unsigned char *buf;
    size_t len, pos;
    int version;
    unsigned char *scr[SCR_N];
    size_t scrcap[SCR_N];
    char ibuf[SCR_N][24]; /* integer-encoded strings, as decimal text */
    char *err;
    size_t errlen;
    int rc; /* RDB_ERR_* once failed */
} reader;

static int fail(reader *r, int rc, const char *fmt, ...)
{
    if (r->rc) return -1;
    r->rc = rc;
    int n = snprintf(r->err, r->errlen, "offset %zu: ", r->pos);
    if (n < 0 || (size_t)n >= r->errlen) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static int need(reader *r, size_t n, const char *what)
{
    if (r->len - r->pos < n)
        return fail(r, RDB_ERR_FORMAT,
                    "truncated: %s needs %zu bytes, %zu left (the file is cut short or corrupt)",
                    what, n, r->len - r->pos);
    return 0;
}

static uint64_t le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* A length, or (*enc set to the encoding, len meaningless) an encoded string's tag. */
static int read_len(reader *r, uint64_t *len, int *enc)
{
    if (need(r, 1, "a length")) return -1;
    unsigned char b = r->buf[r->pos];
    if (enc) *enc = -1;
    switch (b >> 6) {
    case 0:
        *len = b & 0x3f;
        r->pos += 1;
        return 0;
    case 1:
        if (need(r, 2, "a 14-bit length")) return -1;
        *len = ((uint64_t)(b & 0x3f) << 8) | r->buf[r->pos + 1];
        r->pos += 2;
        return 0;
    case 2:
        if (b == 0x80) {
            if (need(r, 5, "a 32-bit length")) return -1;
            *len = be(r->buf + r->pos + 1, 4);
            r->pos += 5;
            return 0;
        }
        if (b == 0x81) {
            if (need(r, 9, "a 64-bit length")) return -1;
            *len = be(r->buf + r->pos + 1, 8);
            r->pos += 9;
            return 0;
        }
        return fail(r, RDB_ERR_FORMAT, "unknown length encoding 0x%02x", b);
    default:
        if (!enc) return fail(r, RDB_ERR_FORMAT, "an encoded string where a length belongs");
        *enc = b & 0x3f;
        *len = 0;
        r->pos += 1;
        return 0;
    }
}

static int scratch(reader *r, int slot, size_t n)
{
    if (r->scrcap[slot] >= n && r->scr[slot]) return 0;
    unsigned char *p = realloc(r->scr[slot], n ? n : 1);
    if (!p) return fail(r, RDB_ERR_NOMEM, "out of memory for a %zu-byte string", n);
    r->scr[slot] = p;
    r->scrcap[slot] = n;
    return 0;
}

/* A string. With slot < 0 it is only skipped (an LZF block is not
 * decompressed); otherwise *p, *n are the bytes, in the file or in the slot's
 * scratch, valid until the slot is used again. */
static int read_string(reader *r, int slot, const unsigned char **p, size_t *n)
{
    uint64_t len;
    int enc;
    if (read_len(r, &len, &enc)) return -1;
    if (enc < 0) {
        if (need(r, len, "a string")) return -1;
        if (slot >= 0) {
            *p = r->buf + r->pos;
            *n = len;
        }
        r->pos += len;
        return 0;
    }
    if (enc == ENC_INT8 || enc == ENC_INT16 || enc == ENC_INT32) {
        int w = enc == ENC_INT8 ? 1 : enc == ENC_INT16 ? 2 : 4;
        if (need(r, (size_t)w, "an integer-encoded string")) return -1;
        uint64_t u = le(r->buf + r->pos, w);
        int64_t v = w == 1 ? (int8_t)u : w == 2 ? (int16_t)u : (int32_t)u;
        r->pos += (size_t)w;
        if (slot >= 0) {
            int k = snprintf(r->ibuf[slot], sizeof r->ibuf[slot], "%" PRId64, v);
            *p = (const unsigned char *)r->ibuf[slot];
            *n = (size_t)k;
        }
        return 0;
    }
    if (enc != ENC_LZF) return fail(r, RDB_ERR_FORMAT, "unknown string encoding %d", enc);
    uint64_t clen, ulen;
    if (read_len(r, &clen, NULL) || read_len(r, &ulen, NULL) || need(r, clen, "an LZF block"))
        return -1;
    if (slot >= 0) {
        if (clen == 0 || ulen == 0 || ulen / LZF_MAX_RATIO > clen)
            return fail(r, RDB_ERR_FORMAT,
                        "LZF block of %" PRIu64 " bytes claims %" PRIu64 " bytes", clen, ulen);
        if (scratch(r, slot, ulen)) return -1;
        size_t got = rdb_lzf_decompress(r->buf + r->pos, clen, r->scr[slot], ulen);
        if (got != ulen)
            return fail(r, RDB_ERR_FORMAT, "LZF block does not decompress to its %" PRIu64 " bytes",
                        ulen);
        *p = r->scr[slot];
        *n = ulen;
    }
    r->pos += clen;
    return 0;
}

static int skip_string(reader *r)
{
    return read_string(r, -1, NULL, NULL);
}

static int skip_len(reader *r)
{
    uint64_t v;
    return read_len(r, &v, NULL);
}

static int skip_raw(reader *r, size_t n, const char *what)
{
    if (need(r, n, what)) return -1;
    r->pos += n;
    return 0;
}

/* A ZSET (type 3) score: a length byte, or 253/254/255 for nan/+inf/-inf. */
static int skip_old_double(reader *r)
{
    if (need(r, 1, "a score")) return -1;
    unsigned char b = r->buf[r->pos++];
    return b >= 253 ? 0 : skip_raw(r, b, "a score");
}

/* A stream (rdbSaveObject of Redis 7.0): listpacks keyed by master ID, the
 * length and last ID (and in type 19 the first ID, max deleted ID and
 * entries added), then consumer groups with their pending entries and
 * consumers. */
static int skip_stream(reader *r, int v2)
{
    uint64_t n, m, k;
    if (read_len(r, &n, NULL)) return -1;
    for (uint64_t i = 0; i < n; i++)
        if (skip_string(r) || skip_string(r)) return -1;
    /* length, last_id.ms, last_id.seq [first_id x2, max_deleted x2, entries_added] */
    for (int i = 0; i < (v2 ? 8 : 3); i++)
        if (skip_len(r)) return -1;
    if (read_len(r, &n, NULL)) return -1;
    for (uint64_t g = 0; g < n; g++) {
        if (skip_string(r) || skip_len(r) || skip_len(r) || (v2 && skip_len(r))) return -1;
        if (read_len(r, &m, NULL)) return -1;
        for (uint64_t i = 0; i < m; i++) /* PEL: ID, delivery time, delivery count */
            if (skip_raw(r, 16 + 8, "a pending entry") || skip_len(r)) return -1;
        if (read_len(r, &m, NULL)) return -1;
        for (uint64_t c = 0; c < m; c++) {
            if (skip_string(r) || skip_raw(r, 8, "a consumer's seen time") || read_len(r, &k, NULL))
                return -1;
            for (uint64_t i = 0; i < k; i++)
                if (skip_raw(r, 16, "a consumer's pending ID")) return -1;
        }
    }
    return 0;
}

static int skip_value(reader *r, unsigned type)
{
    uint64_t n;
    switch (type) {
    case RDB_TYPE_STRING:
    case RDB_TYPE_HASH_ZIPMAP:
    case RDB_TYPE_LIST_ZIPLIST:
    case RDB_TYPE_SET_INTSET:
    case RDB_TYPE_ZSET_ZIPLIST:
    case RDB_TYPE_HASH_ZIPLIST:
    case RDB_TYPE_HASH_LISTPACK:
    case RDB_TYPE_ZSET_LISTPACK:
        return skip_string(r);
    case RDB_TYPE_LIST:
    case RDB_TYPE_SET:
    case RDB_TYPE_LIST_QUICKLIST:
        if (read_len(r, &n, NULL)) return -1;
        for (uint64_t i = 0; i < n; i++)
            if (skip_string(r)) return -1;
        return 0;
    case RDB_TYPE_LIST_QUICKLIST_2:
        if (read_len(r, &n, NULL)) return -1;
        for (uint64_t i = 0; i < n; i++) /* container (plain or packed), node */
            if (skip_len(r) || skip_string(r)) return -1;
        return 0;
    case RDB_TYPE_HASH:
        if (read_len(r, &n, NULL)) return -1;
        for (uint64_t i = 0; i < n; i++)
            if (skip_string(r) || skip_string(r)) return -1;
        return 0;
    case RDB_TYPE_ZSET:
    case RDB_TYPE_ZSET_2:
        if (read_len(r, &n, NULL)) return -1;
        for (uint64_t i = 0; i < n; i++) {
            if (skip_string(r)) return -1;
            if (type == RDB_TYPE_ZSET ? skip_old_double(r) : skip_raw(r, 8, "a score")) return -1;
        }
        return 0;
    case RDB_TYPE_STREAM_LISTPACKS:
    case RDB_TYPE_STREAM_LISTPACKS_2:
        return skip_stream(r, type == RDB_TYPE_STREAM_LISTPACKS_2);
    case RDB_TYPE_MODULE:
    case RDB_TYPE_MODULE_2:
        return fail(r, RDB_ERR_FORMAT,
                    "a Redis module's value type (RDB type %u): raftkv-rdb cannot import module "
                    "data",
                    type);
    default:
        return fail(r, RDB_ERR_FORMAT, "unknown RDB value type %u", type);
    }
}

/* One pass over the file; with h NULL it only checks the structure. On
 * success *eof is the offset of the EOF opcode. */
static int walk(reader *r, const rdb_handler *h, void *ctx, rdb_summary *sum, size_t *eof)
{
    uint64_t db = 0;
    int64_t expire = -1, idle = -1;
    int freq = -1;
    r->pos = 9;
    for (;;) {
        if (need(r, 1, "the next opcode (no EOF marker)")) return -1;
        size_t at = r->pos;
        unsigned op = r->buf[r->pos++];
        uint64_t v;
        const unsigned char *a, *b;
        size_t an, bn;
        int rc;
        switch (op) {
        case OP_EXPIRETIME:
            if (need(r, 4, "EXPIRETIME")) return -1;
            expire = (int64_t)le(r->buf + r->pos, 4) * 1000;
            r->pos += 4;
            continue;
        case OP_EXPIRETIME_MS:
            if (need(r, 8, "EXPIRETIME_MS")) return -1;
            expire = (int64_t)le(r->buf + r->pos, 8);
            r->pos += 8;
            continue;
        case OP_FREQ:
            if (need(r, 1, "FREQ")) return -1;
            freq = r->buf[r->pos++];
            continue;
        case OP_IDLE:
            if (read_len(r, &v, NULL)) return -1;
            idle = (int64_t)(v > INT64_MAX ? INT64_MAX : v);
            continue;
        case OP_EOF:
            *eof = at;
            return 0;
        case OP_SELECTDB:
            if (read_len(r, &db, NULL)) return -1;
            continue;
        case OP_RESIZEDB:
            if (skip_len(r) || skip_len(r)) return -1;
            continue;
        case OP_AUX:
            if (read_string(r, SCR_A, &a, &an) || read_string(r, SCR_B, &b, &bn)) return -1;
            if (h && h->aux && (rc = h->aux(ctx, a, an, b, bn))) return rc;
            continue;
        case OP_FUNCTION2:
            if (read_string(r, SCR_A, &a, &an)) return -1;
            if (sum) sum->functions++;
            if (h && h->function && (rc = h->function(ctx, a, an))) return rc;
            continue;
        case OP_MODULE_AUX:
            r->pos = at;
            return fail(r, RDB_ERR_FORMAT,
                        "a Redis module's auxiliary data: raftkv-rdb cannot import module data "
                        "(save the file from a server without the module)");
        case OP_FUNCTION_PRE_GA:
            r->pos = at;
            return fail(r, RDB_ERR_FORMAT,
                        "a function library in the format of a Redis 7.0 release candidate: "
                        "save the file again with Redis 7.0 or later");
        default:
            break;
        }
        /* A key and its value. */
        rdb_entry e = {.db = db, .expire_ms = expire, .idle = idle, .freq = freq, .type = op};
        if (op > RDB_TYPE_STREAM_LISTPACKS_2 || op == 8) {
            r->pos = at;
            return fail(r, RDB_ERR_FORMAT, "unknown opcode or value type %u", op);
        }
        if (read_string(r, SCR_KEY, &e.key, &e.keylen)) return -1;
        size_t vstart = r->pos;
        if (skip_value(r, op)) {
            size_t n = strlen(r->err);
            snprintf(r->err + n, r->errlen - n, " (in the value of key '%.*s', RDB type %u)",
                     (int)(e.keylen > 64 ? 64 : e.keylen), (const char *)e.key, op);
            return -1;
        }
        e.value = r->buf + vstart;
        e.valuelen = r->pos - vstart;
        if (sum) {
            sum->keys++;
            if (expire >= 0) sum->keys_with_expiry++;
        }
        if (h && h->entry && (rc = h->entry(ctx, &e))) return rc;
        expire = idle = -1;
        freq = -1;
    }
}

int rdb_parse(const unsigned char *buf, size_t len, const rdb_handler *h, void *ctx,
              rdb_summary *sum, char *err, size_t errlen)
{
    reader r = {.buf = buf, .len = len, .err = err, .errlen = errlen};
    rdb_summary s = {0};
    size_t eof = 0;
    int rc = 0;
    if (errlen) err[0] = '\0';
    if (len < 9 || memcmp(buf, "REDIS", 5)) {
        fail(&r, RDB_ERR_FORMAT, "not an RDB file (it does not start with REDIS and a version)");
        return r.rc;
    }
    for (int i = 5; i < 9; i++) {
        if (buf[i] < '0' || buf[i] > '9') {
            fail(&r, RDB_ERR_FORMAT, "not an RDB file (the version is not four digits)");
            return r.rc;
        }
        r.version = r.version * 10 + (buf[i] - '0');
    }
    s.version = r.version;
    if (r.version < 1 || r.version > RDB_VERSION_MAX) {
        fail(&r, RDB_ERR_FORMAT,
             "RDB version %d: raftkv-rdb reads versions 1 to %d (what Redis up to 7.0 writes)",
             r.version, RDB_VERSION_MAX);
        return r.rc;
    }
    /* Pass 1: the structure and the checksum, so that a damaged file is
     * refused before anything reaches a server. */
    if (walk(&r, NULL, NULL, NULL, &eof)) {
        rc = r.rc ? r.rc : RDB_ERR_FORMAT;
        goto out;
    }
    if (r.version >= 5) {
        r.pos = eof + 1;
        if (need(&r, 8, "the CRC64 trailer")) {
            rc = r.rc;
            goto out;
        }
        uint64_t want = le(buf + eof + 1, 8);
        if (want != 0) {
            uint64_t got = rdb_crc64(0, buf, eof + 1);
            if (got != want) {
                fail(&r, RDB_ERR_FORMAT,
                     "checksum mismatch: the file says %016" PRIx64 ", its bytes give %016" PRIx64
                     " (the file is corrupt)",
                     want, got);
                rc = r.rc;
                goto out;
            }
            s.checksum_checked = 1;
        }
    }
    /* Pass 2: the callbacks. */
    rc = walk(&r, h, ctx, &s, &eof);
    if (rc < 0) rc = r.rc ? r.rc : RDB_ERR_FORMAT;
out:
    for (int i = 0; i < SCR_N; i++)
        free(r.scr[i]);
    if (sum) *sum = s;
    return rc;
}

/* ---- writer ---- */

void rdb_writer_init(rdb_writer *w, FILE *f)
{
    w->f = f;
    w->crc = 0;
    w->failed = 0;
}

static int put(rdb_writer *w, const void *p, size_t n)
{
    if (w->failed) return -1;
    if (n && fwrite(p, 1, n, w->f) != n) {
        w->failed = 1;
        if (!errno) errno = EIO;
        return -1;
    }
    w->crc = rdb_crc64(w->crc, p, n);
    return 0;
}

static int put_len(rdb_writer *w, uint64_t len)
{
    unsigned char b[9];
    size_t n;
    if (len < 64) {
        b[0] = (unsigned char)len;
        n = 1;
    } else if (len < 16384) {
        b[0] = (unsigned char)(0x40 | (len >> 8));
        b[1] = (unsigned char)(len & 0xff);
        n = 2;
    } else if (len <= UINT32_MAX) {
        b[0] = 0x80;
        for (int i = 0; i < 4; i++)
            b[1 + i] = (unsigned char)(len >> (24 - 8 * i));
        n = 5;
    } else {
        b[0] = 0x81;
        for (int i = 0; i < 8; i++)
            b[1 + i] = (unsigned char)(len >> (56 - 8 * i));
        n = 9;
    }
    return put(w, b, n);
}

static int put_string(rdb_writer *w, const void *p, size_t n)
{
    return put_len(w, n) || put(w, p, n) ? -1 : 0;
}

static int put_op(rdb_writer *w, unsigned char op)
{
    return put(w, &op, 1);
}

int rdb_write_aux(rdb_writer *w, const char *name, const char *val)
{
    return put_op(w, OP_AUX) || put_string(w, name, strlen(name)) || put_string(w, val, strlen(val))
               ? -1
               : 0;
}

int rdb_write_header(rdb_writer *w, const char *redis_ver)
{
    char magic[10], ctime_s[24];
    snprintf(magic, sizeof magic, "REDIS%04d", RDB_VERSION_MAX);
    snprintf(ctime_s, sizeof ctime_s, "%lld", (long long)time(NULL));
    if (put(w, magic, 9) || rdb_write_aux(w, "redis-ver", redis_ver) ||
        rdb_write_aux(w, "redis-bits", sizeof(void *) == 8 ? "64" : "32") ||
        rdb_write_aux(w, "ctime", ctime_s))
        return -1;
    return 0;
}

int rdb_write_select(rdb_writer *w, uint64_t db, uint64_t keys_hint, uint64_t expires_hint)
{
    return put_op(w, OP_SELECTDB) || put_len(w, db) || put_op(w, OP_RESIZEDB) ||
                   put_len(w, keys_hint) || put_len(w, expires_hint)
               ? -1
               : 0;
}

int rdb_write_entry(rdb_writer *w, int64_t expire_ms, unsigned char type, const void *key,
                    size_t keylen, const void *value, size_t valuelen)
{
    if (expire_ms >= 0) {
        unsigned char b[8];
        for (int i = 0; i < 8; i++)
            b[i] = (unsigned char)((uint64_t)expire_ms >> (8 * i));
        if (put_op(w, OP_EXPIRETIME_MS) || put(w, b, 8)) return -1;
    }
    return put_op(w, type) || put_string(w, key, keylen) || put(w, value, valuelen) ? -1 : 0;
}

int rdb_write_end(rdb_writer *w)
{
    if (put_op(w, OP_EOF)) return -1;
    unsigned char b[8];
    uint64_t crc = w->crc;
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(crc >> (8 * i));
    return put(w, b, 8);
}

int rdb_dump_payload_split(const unsigned char *p, size_t n, unsigned char *type,
                           const unsigned char **value, size_t *valuelen, int *version, char *err,
                           size_t errlen)
{
    if (n < 11) {
        snprintf(err, errlen, "a DUMP payload of %zu bytes is too short", n);
        return -1;
    }
    uint64_t want = le(p + n - 8, 8), got = rdb_crc64(0, p, n - 8);
    if (want != got) {
        snprintf(err, errlen, "a DUMP payload's CRC64 does not match its bytes");
        return -1;
    }
    *version = (int)le(p + n - 10, 2);
    *type = p[0];
    *value = p + 1;
    *valuelen = n - 11;
    return 0;
}
