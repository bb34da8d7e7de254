/* rdbcodec.c -- Redis 7.0's RDB value serialization (rdbcodec.h). The
 * decoders follow rdb.c's rdbLoadObject, listpack.c, ziplist.c, intset.c
 * and lzf_d.c; each checks a length against what is left before reading
 * it. */
#include "storage/rdbcodec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/kverr.h"
#include "storage/kvint.h"
#include "storage/kvks.h"

/* Redis 7.0's default thresholds, as the families use them (kvx_hash.c,
 * kvx_set.c, kvx_zset.c): the encoding a restored value reports. */
#define HASH_LP_ENTRIES 512
#define HASH_LP_VALUE 64
#define SET_MAX_INTSET 512
#define ZSET_LP_ENTRIES 128
#define ZSET_LP_VALUE 64

/* ------------------------------------------------------------ CRC-64 */

/* Jones polynomial 0xad93d23594c935a9, reflected. */
#define CRC64_POLY_REFLECTED 0x95ac9329ac4bc9b5ULL

static uint64_t crc_table[256];
static int crc_ready;

static void crc_init(void)
{
    for (int i = 0; i < 256; i++) {
        uint64_t crc = (uint64_t)i;
        for (int b = 0; b < 8; b++)
            crc = (crc & 1) ? (crc >> 1) ^ CRC64_POLY_REFLECTED : crc >> 1;
        crc_table[i] = crc;
    }
    crc_ready = 1;
}

uint64_t rdbc_crc64(uint64_t crc, const void *p, size_t n)
{
    const unsigned char *s = p;
    if (!crc_ready) crc_init();
    for (size_t i = 0; i < n; i++)
        crc = crc_table[(crc ^ s[i]) & 0xff] ^ (crc >> 8);
    return crc;
}

static uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

int rdbc_verify_dump(const void *p, size_t n)
{
    const unsigned char *s = p;
    if (n < 10) return -1;
    const unsigned char *footer = s + n - 10;
    unsigned ver = (unsigned)footer[0] | ((unsigned)footer[1] << 8);
    if (ver > RDBC_VERSION) return -1;
    return rdbc_crc64(0, s, n - 8) == get_le(footer + 2, 8) ? 0 : -1;
}

/* ------------------------------------------------------------ LZF */

int rdbc_lzf_decompress(const void *in, size_t inlen, void *out, size_t outlen)
{
    const unsigned char *ip = in, *iend = ip + inlen;
    unsigned char *op = out, *oend = op + outlen;
    while (ip < iend) {
        unsigned ctrl = *ip++;
        if (ctrl < 32) { /* a literal run of ctrl + 1 bytes */
            size_t len = ctrl + 1;
            if ((size_t)(oend - op) < len || (size_t)(iend - ip) < len) return -1;
            memcpy(op, ip, len);
            op += len;
            ip += len;
        } else { /* a back reference */
            size_t len = ctrl >> 5;
            size_t back = (size_t)(ctrl & 0x1f) << 8;
            if (len == 7) {
                if (ip >= iend) return -1;
                len += *ip++;
            }
            if (ip >= iend) return -1;
            back += *ip++;
            len += 2;
            if ((size_t)(op - (unsigned char *)out) < back + 1) return -1;
            if ((size_t)(oend - op) < len) return -1;
            const unsigned char *ref = op - back - 1;
            for (size_t i = 0; i < len; i++) /* may overlap: byte by byte */
                op[i] = ref[i];
            op += len;
        }
    }
    return op == oend ? 0 : -1;
}

/* ------------------------------------------------------------ output */

void rdbc_buf_free(rdbc_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static int buf_room(rdbc_buf *b, size_t n)
{
    if (b->oom) return -1;
    if (b->cap - b->len >= n) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < n) {
        if (cap > SIZE_MAX / 2) {
            b->oom = 1;
            return -1;
        }
        cap *= 2;
    }
    unsigned char *q = kv_malloc(cap);
    if (!q) {
        b->oom = 1;
        return -1;
    }
    if (b->len) memcpy(q, b->p, b->len);
    free(b->p);
    b->p = q;
    b->cap = cap;
    return 0;
}

void rdbc_put_raw(rdbc_buf *b, const void *p, size_t n)
{
    if (n == 0 || buf_room(b, n) != 0) return;
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

void rdbc_put_u8(rdbc_buf *b, unsigned v)
{
    unsigned char c = (unsigned char)v;
    rdbc_put_raw(b, &c, 1);
}

void rdbc_put_len(rdbc_buf *b, uint64_t len)
{
    unsigned char h[9];
    if (len < 64) {
        h[0] = (unsigned char)len;
        rdbc_put_raw(b, h, 1);
    } else if (len < 16384) {
        h[0] = (unsigned char)(0x40 | (len >> 8));
        h[1] = (unsigned char)len;
        rdbc_put_raw(b, h, 2);
    } else if (len <= UINT32_MAX) {
        h[0] = 0x80;
        for (int i = 0; i < 4; i++)
            h[1 + i] = (unsigned char)(len >> (24 - 8 * i));
        rdbc_put_raw(b, h, 5);
    } else {
        h[0] = 0x81;
        for (int i = 0; i < 8; i++)
            h[1 + i] = (unsigned char)(len >> (56 - 8 * i));
        rdbc_put_raw(b, h, 9);
    }
}

void rdbc_put_string(rdbc_buf *b, const void *s, size_t n)
{
    long long ll;
    /* rdbTryIntegerEncoding: only strings of up to 11 bytes that read back
     * as the same integer (string2ll refuses what would not). */
    if (n <= 11 && kv_string2ll(s, n, &ll)) {
        unsigned char h[5];
        if (ll >= -128 && ll <= 127) {
            h[0] = 0xC0;
            h[1] = (unsigned char)((uint64_t)ll & 0xff);
            rdbc_put_raw(b, h, 2);
            return;
        }
        if (ll >= -32768 && ll <= 32767) {
            h[0] = 0xC1;
            h[1] = (unsigned char)((uint64_t)ll & 0xff);
            h[2] = (unsigned char)(((uint64_t)ll >> 8) & 0xff);
            rdbc_put_raw(b, h, 3);
            return;
        }
        if (ll >= INT32_MIN && ll <= INT32_MAX) {
            h[0] = 0xC2;
            for (int i = 0; i < 4; i++)
                h[1 + i] = (unsigned char)(((uint64_t)ll >> (8 * i)) & 0xff);
            rdbc_put_raw(b, h, 5);
            return;
        }
    }
    rdbc_put_len(b, n);
    rdbc_put_raw(b, s, n);
}

void rdbc_put_double(rdbc_buf *b, double d)
{
    uint64_t u;
    unsigned char h[8];
    memcpy(&u, &d, 8);
    for (int i = 0; i < 8; i++)
        h[i] = (unsigned char)(u >> (8 * i));
    rdbc_put_raw(b, h, 8);
}

/* Writes every element record of collection v: list elements, set members,
 * hash fields and values, zset members with their scores. */
static int encode_elements(kv_ctx *c, const kv_val *v, rdbc_buf *out)
{
    kv_iter it;
    const char *f, *val;
    size_t flen, vlen;
    uint64_t n = 0;
    int r;
    if (kv_iter_open(c, &it, KV_T_ELEM, v->ver, NULL, 0, 0) != 0) return -1;
    while ((r = kv_iter_next(&it, &f, &flen, &val, &vlen)) == 1) {
        switch (v->type) {
        case KV_TYPE_LIST:
            rdbc_put_string(out, val, vlen);
            break;
        case KV_TYPE_SET:
            rdbc_put_string(out, f, flen);
            break;
        case KV_TYPE_HASH:
            rdbc_put_string(out, f, flen);
            rdbc_put_string(out, val, vlen);
            break;
        case KV_TYPE_ZSET:
            if (vlen != 8) {
                r = -1;
                if (c->rc == 0) c->rc = KV_ECORRUPT;
                goto done;
            }
            rdbc_put_string(out, f, flen);
            rdbc_put_double(out, kv_score_dec((const unsigned char *)val));
            break;
        }
        n++;
    }
done:
    kv_iter_close(&it);
    if (r < 0) return -1;
    if (n != v->count) { /* the record's count disagrees with its elements */
        if (c->rc == 0) c->rc = KV_ECORRUPT;
        return -1;
    }
    return 0;
}

int rdbc_encode_value(kv_ctx *c, const kv_val *v, rdbc_buf *out)
{
    switch (v->type) {
    case KV_TYPE_STRING:
        rdbc_put_u8(out, RDBC_TYPE_STRING);
        rdbc_put_string(out, v->p, v->len);
        break;
    case KV_TYPE_LIST:
    case KV_TYPE_SET:
    case KV_TYPE_HASH:
    case KV_TYPE_ZSET: {
        static const unsigned char tb[] = {
            [KV_TYPE_LIST] = RDBC_TYPE_LIST,
            [KV_TYPE_SET] = RDBC_TYPE_SET,
            [KV_TYPE_ZSET] = RDBC_TYPE_ZSET_2,
            [KV_TYPE_HASH] = RDBC_TYPE_HASH,
        };
        rdbc_put_u8(out, tb[v->type]);
        rdbc_put_len(out, v->count);
        if (encode_elements(c, v, out) != 0) return -1;
        break;
    }
    default:
        if (c->rc == 0) c->rc = KV_ECORRUPT;
        return -1;
    }
    if (out->oom) {
        if (c->rc == 0) c->rc = KV_ENOMEM;
        return -1;
    }
    return 0;
}

int rdbc_dump(kv_ctx *c, const kv_val *v, rdbc_buf *out)
{
    size_t start = out->len;
    if (rdbc_encode_value(c, v, out) != 0) return -1;
    unsigned char f[10];
    f[0] = RDBC_VERSION & 0xff;
    f[1] = RDBC_VERSION >> 8;
    rdbc_put_raw(out, f, 2);
    if (out->oom) goto oom;
    uint64_t crc = rdbc_crc64(0, out->p + start, out->len - start);
    for (int i = 0; i < 8; i++)
        f[i] = (unsigned char)(crc >> (8 * i));
    rdbc_put_raw(out, f, 8);
    if (out->oom) goto oom;
    return 0;
oom:
    if (c->rc == 0) c->rc = KV_ENOMEM;
    return -1;
}

/* ------------------------------------------------------------ reader */

void rdbc_reader_free(rdbc_reader *r)
{
    for (int i = 0; i < 2; i++) {
        free(r->scratch[i]);
        r->scratch[i] = NULL;
        r->scratchcap[i] = 0;
    }
}

static size_t left(const rdbc_reader *r)
{
    return r->n - r->off;
}

static int read_bytes(rdbc_reader *r, size_t n, const unsigned char **p)
{
    if (left(r) < n) return RDBC_EBAD;
    *p = r->p + r->off;
    r->off += n;
    return RDBC_OK;
}

int rdbc_read_len(rdbc_reader *r, uint64_t *len, int *encoded)
{
    const unsigned char *p;
    if (encoded) *encoded = 0;
    if (read_bytes(r, 1, &p) != 0) return RDBC_EBAD;
    unsigned b = p[0];
    switch (b >> 6) {
    case 0:
        *len = b & 0x3f;
        return RDBC_OK;
    case 1:
        if (read_bytes(r, 1, &p) != 0) return RDBC_EBAD;
        *len = ((uint64_t)(b & 0x3f) << 8) | p[0];
        return RDBC_OK;
    case 2: {
        int n = b == 0x80 ? 4 : b == 0x81 ? 8 : 0;
        if (n == 0 || read_bytes(r, (size_t)n, &p) != 0) return RDBC_EBAD;
        uint64_t v = 0;
        for (int i = 0; i < n; i++)
            v = (v << 8) | p[i];
        *len = v;
        return RDBC_OK;
    }
    default:
        if (!encoded) return RDBC_EBAD;
        *encoded = 1;
        *len = b & 0x3f;
        return RDBC_OK;
    }
}

static unsigned char *scratch(rdbc_reader *r, int slot, size_t n)
{
    if (n > r->scratchcap[slot] || !r->scratch[slot]) {
        unsigned char *q = kv_malloc(n ? n : 1);
        if (!q) return NULL;
        free(r->scratch[slot]);
        r->scratch[slot] = q;
        r->scratchcap[slot] = n ? n : 1;
    }
    return r->scratch[slot];
}

/* An integer as its decimal text in scratch slot. */
static int int_text(rdbc_reader *r, int slot, long long v, const char **s, size_t *n)
{
    unsigned char *b = scratch(r, slot, 24);
    if (!b) return RDBC_ENOMEM;
    *n = (size_t)snprintf((char *)b, 24, "%lld", v);
    *s = (const char *)b;
    return RDBC_OK;
}

int rdbc_read_string(rdbc_reader *r, int slot, const char **s, size_t *n)
{
    uint64_t len;
    int enc;
    const unsigned char *p;
    if (rdbc_read_len(r, &len, &enc) != 0) return RDBC_EBAD;
    if (!enc) {
        if (len > left(r)) return RDBC_EBAD;
        *s = (const char *)r->p + r->off;
        *n = (size_t)len;
        r->off += (size_t)len;
        return RDBC_OK;
    }
    switch (len) {
    case 0:
    case 1:
    case 2: {
        int w = len == 0 ? 1 : len == 1 ? 2 : 4;
        if (read_bytes(r, (size_t)w, &p) != 0) return RDBC_EBAD;
        uint64_t u = get_le(p, w);
        long long v = w == 1 ? (int8_t)u : w == 2 ? (int16_t)u : (int32_t)u;
        return int_text(r, slot, v, s, n);
    }
    case 3: {
        uint64_t clen, ulen;
        if (rdbc_read_len(r, &clen, NULL) != 0 || rdbc_read_len(r, &ulen, NULL) != 0)
            return RDBC_EBAD;
        if (clen > left(r)) return RDBC_EBAD;
        /* LZF expands at most 88 times (a 3-byte reference to 264 bytes):
         * a larger claim is malformed, and is refused before allocating. */
        if (ulen == 0 || ulen / 88 > clen) return RDBC_EBAD;
        unsigned char *out = scratch(r, slot, (size_t)ulen);
        if (!out) return RDBC_ENOMEM;
        if (rdbc_lzf_decompress(r->p + r->off, (size_t)clen, out, (size_t)ulen) != 0)
            return RDBC_EBAD;
        r->off += (size_t)clen;
        *s = (const char *)out;
        *n = (size_t)ulen;
        return RDBC_OK;
    }
    }
    return RDBC_EBAD;
}

/* ------------------------------------------------------------ compact encodings */

/* One entry of a listpack, ziplist or intset: bytes, or an integer. */
typedef struct centry {
    const unsigned char *s;
    size_t n;
    int isint;
    long long v;
} centry;

static long long sign_extend(uint64_t u, int bits)
{
    if (bits < 64 && (u & ((uint64_t)1 << (bits - 1)))) u |= ~(((uint64_t)1 << bits) - 1);
    return (long long)u;
}

/* listpack.c: u32 total bytes, u16 count (65535: unknown), entries each
 * followed by its backlen, 0xFF. */
typedef struct lpit {
    const unsigned char *p;
    size_t n, off;
    unsigned count, seen;
} lpit;

static int lp_open(lpit *it, const unsigned char *p, size_t n)
{
    if (n < 7 || get_le(p, 4) != n || p[n - 1] != 0xFF) return RDBC_EBAD;
    it->p = p;
    it->n = n;
    it->off = 6;
    it->count = (unsigned)get_le(p + 4, 2);
    it->seen = 0;
    return RDBC_OK;
}

static size_t lp_backlen_size(size_t l)
{
    return l <= 127 ? 1 : l < 16383 ? 2 : l < 2097151 ? 3 : l < 268435455 ? 4 : 5;
}

/* lpEncodeBacklen: l in 7-bit groups, most significant first, every byte
 * but the first with the high bit set. */
static void lp_backlen(size_t l, unsigned char *b, size_t k)
{
    for (size_t i = 0; i < k; i++) {
        unsigned char g = (unsigned char)((l >> (7 * (k - 1 - i))) & 127);
        b[i] = i == 0 ? g : (unsigned char)(g | 128);
    }
}

/* 1 with the next entry, 0 at the end (the terminator is the last byte and
 * the count agrees), RDBC_EBAD. */
static int lp_next(lpit *it, centry *e)
{
    const unsigned char *p = it->p + it->off;
    size_t rem = it->n - it->off; /* includes the terminator */
    unsigned b = p[0];
    size_t hdr, len = 0;
    e->isint = 1;
    e->s = NULL;
    e->n = 0;
    if (b == 0xFF) {
        if (rem != 1) return RDBC_EBAD;
        if (it->count != 65535 && it->count != it->seen) return RDBC_EBAD;
        return 0;
    }
    if ((b & 0x80) == 0) {
        hdr = 1;
        e->v = b & 0x7f;
    } else if ((b & 0xC0) == 0x80) {
        hdr = 1;
        len = b & 0x3f;
        e->isint = 0;
    } else if ((b & 0xE0) == 0xC0) {
        hdr = 2;
        if (rem < 2) return RDBC_EBAD;
        e->v = sign_extend(((uint64_t)(b & 0x1f) << 8) | p[1], 13);
    } else if ((b & 0xF0) == 0xE0) {
        hdr = 2;
        if (rem < 2) return RDBC_EBAD;
        len = ((size_t)(b & 0x0f) << 8) | p[1];
        e->isint = 0;
    } else if (b == 0xF0) {
        hdr = 5;
        if (rem < 5) return RDBC_EBAD;
        len = (size_t)get_le(p + 1, 4);
        e->isint = 0;
    } else if (b >= 0xF1 && b <= 0xF4) {
        static const int w[] = {2, 3, 4, 8};
        int bytes = w[b - 0xF1];
        hdr = 1 + (size_t)bytes;
        if (rem < hdr) return RDBC_EBAD;
        e->v = sign_extend(get_le(p + 1, bytes), 8 * bytes);
    } else {
        return RDBC_EBAD;
    }
    /* The entry, its backlen and at least the terminator must fit. */
    if (rem - 1 < hdr || rem - 1 - hdr < len) return RDBC_EBAD;
    size_t l = hdr + len, k = lp_backlen_size(l);
    if (rem - 1 - l < k) return RDBC_EBAD;
    unsigned char bl[5];
    lp_backlen(l, bl, k);
    if (memcmp(p + l, bl, k) != 0) return RDBC_EBAD;
    if (!e->isint) {
        e->s = p + hdr;
        e->n = len;
    }
    it->off += l + k;
    it->seen++;
    return 1;
}

/* ziplist.c: u32 total bytes, u32 offset of the last entry, u16 count
 * (65535: unknown), entries (prevlen, encoding, data), 0xFF. */
typedef struct zlit {
    const unsigned char *p;
    size_t n, off, prev, last;
    unsigned count, seen;
} zlit;

static int zl_open(zlit *it, const unsigned char *p, size_t n)
{
    if (n < 11 || get_le(p, 4) != n || p[n - 1] != 0xFF) return RDBC_EBAD;
    it->p = p;
    it->n = n;
    it->off = 10;
    it->prev = 0;
    it->last = 10;
    it->count = (unsigned)get_le(p + 8, 2);
    it->seen = 0;
    return RDBC_OK;
}

static int zl_next(zlit *it, centry *e)
{
    const unsigned char *p = it->p + it->off;
    size_t rem = it->n - it->off; /* includes the terminator */
    e->isint = 1;
    e->s = NULL;
    e->n = 0;
    if (p[0] == 0xFF) {
        if (rem != 1) return RDBC_EBAD;
        if (get_le(it->p + 4, 4) != it->last) return RDBC_EBAD;
        if (it->count != 65535 && it->count != it->seen) return RDBC_EBAD;
        return 0;
    }
    size_t pl, prevlen;
    if (p[0] < 254) {
        pl = 1;
        prevlen = p[0];
    } else if (p[0] == 254) {
        pl = 5;
        if (rem < 6) return RDBC_EBAD;
        prevlen = (size_t)get_le(p + 1, 4);
    } else {
        return RDBC_EBAD;
    }
    if (prevlen != it->prev || rem < pl + 1) return RDBC_EBAD;
    const unsigned char *q = p + pl;
    size_t qrem = rem - pl - 1; /* before the terminator */
    unsigned b = q[0];
    size_t hdr, len = 0;
    if ((b & 0xC0) == 0x00) {
        hdr = 1;
        len = b & 0x3f;
        e->isint = 0;
    } else if ((b & 0xC0) == 0x40) {
        hdr = 2;
        if (qrem < 2) return RDBC_EBAD;
        len = ((size_t)(b & 0x3f) << 8) | q[1];
        e->isint = 0;
    } else if ((b & 0xC0) == 0x80) {
        hdr = 5;
        if (qrem < 5) return RDBC_EBAD;
        len = ((size_t)q[1] << 24) | ((size_t)q[2] << 16) | ((size_t)q[3] << 8) | q[4];
        e->isint = 0;
    } else {
        int bytes;
        switch (b) {
        case 0xC0:
            bytes = 2;
            break;
        case 0xD0:
            bytes = 4;
            break;
        case 0xE0:
            bytes = 8;
            break;
        case 0xF0:
            bytes = 3;
            break;
        case 0xFE:
            bytes = 1;
            break;
        default:
            if (b >= 0xF1 && b <= 0xFD) {
                bytes = 0;
                break;
            }
            return RDBC_EBAD;
        }
        hdr = 1 + (size_t)bytes;
        if (qrem < hdr) return RDBC_EBAD;
        e->v = bytes ? sign_extend(get_le(q + 1, bytes), 8 * bytes) : (long long)(b & 0x0f) - 1;
    }
    if (qrem < hdr || qrem - hdr < len) return RDBC_EBAD;
    if (!e->isint) {
        e->s = q + hdr;
        e->n = len;
    }
    it->last = it->off;
    it->prev = pl + hdr + len;
    it->off += it->prev;
    it->seen++;
    return 1;
}

/* A listpack or a ziplist behind one interface. */
typedef struct cit {
    int zl;
    lpit lp;
    zlit z;
} cit;

static int cit_open(cit *it, int zl, const char *p, size_t n)
{
    it->zl = zl;
    return zl ? zl_open(&it->z, (const unsigned char *)p, n)
              : lp_open(&it->lp, (const unsigned char *)p, n);
}

static int cit_next(cit *it, centry *e)
{
    return it->zl ? zl_next(&it->z, e) : lp_next(&it->lp, e);
}

/* An entry as bytes: its own, or an integer's text in buf. */
static void centry_text(const centry *e, char buf[24], const char **s, size_t *n)
{
    if (e->isint) {
        *n = (size_t)snprintf(buf, 24, "%lld", e->v);
        *s = buf;
    } else {
        *s = (const char *)e->s;
        *n = e->n;
    }
}

/* zzlGetScore: an integer entry's value, or strtod of the text. */
static int centry_score(const centry *e, double *d)
{
    if (e->isint) {
        *d = (double)e->v;
    } else {
        char buf[128];
        size_t n = e->n < sizeof(buf) - 1 ? e->n : sizeof(buf) - 1;
        memcpy(buf, e->s, n);
        buf[n] = '\0';
        char *end;
        *d = strtod(buf, &end);
        if (end == buf) return RDBC_EBAD;
    }
    return isnan(*d) ? RDBC_EBAD : RDBC_OK;
}

/* ------------------------------------------------------------ values */

typedef struct dec {
    rdbc_reader r;
    const rdbc_sink *s;
} dec;

static int sink_rc(int rc)
{
    return rc ? RDBC_ESTOP : RDBC_OK;
}

static int emit_begin(dec *d, int type, uint64_t count)
{
    return d->s && d->s->begin ? sink_rc(d->s->begin(d->s->arg, type, count)) : RDBC_OK;
}

static int emit_elem(dec *d, const char *a, size_t alen, const char *b, size_t blen)
{
    return d->s && d->s->elem ? sink_rc(d->s->elem(d->s->arg, a, alen, b, blen)) : RDBC_OK;
}

static int emit_zelem(dec *d, const char *m, size_t mlen, double score)
{
    return d->s && d->s->zelem ? sink_rc(d->s->zelem(d->s->arg, m, mlen, score)) : RDBC_OK;
}

/* The elements of one listpack / ziplist blob: one item each (list), or
 * pairs (hash: field value; zset: member score). Counts them into *n. */
static int compact_walk(dec *d, int zl, int type, const char *p, size_t len, uint64_t *n)
{
    cit it;
    centry e, e2;
    int rc;
    if (cit_open(&it, zl, p, len) != RDBC_OK) return RDBC_EBAD;
    while ((rc = cit_next(&it, &e)) == 1) {
        char b1[24], b2[24];
        const char *s1, *s2;
        size_t n1, n2;
        centry_text(&e, b1, &s1, &n1);
        if (type == KV_TYPE_LIST) {
            rc = emit_elem(d, s1, n1, NULL, 0);
        } else {
            if (cit_next(&it, &e2) != 1) return RDBC_EBAD; /* pairs only */
            if (type == KV_TYPE_HASH) {
                centry_text(&e2, b2, &s2, &n2);
                rc = emit_elem(d, s1, n1, s2, n2);
            } else {
                double score;
                if (centry_score(&e2, &score) != RDBC_OK) return RDBC_EBAD;
                rc = emit_zelem(d, s1, n1, score);
            }
        }
        if (rc != RDBC_OK) return rc;
        (*n)++;
    }
    return rc == 0 ? RDBC_OK : RDBC_EBAD;
}

/* rdbLoadDoubleValue: a length byte (253 nan, 254 +inf, 255 -inf) and the
 * number's text. */
static int read_text_double(rdbc_reader *r, double *v)
{
    const unsigned char *p;
    if (read_bytes(r, 1, &p) != 0) return RDBC_EBAD;
    unsigned len = p[0];
    if (len == 255) {
        *v = -INFINITY;
    } else if (len == 254) {
        *v = INFINITY;
    } else if (len == 253) {
        return RDBC_EBAD; /* NaN: a zset refuses it */
    } else {
        char buf[256];
        if (read_bytes(r, len, &p) != 0) return RDBC_EBAD;
        memcpy(buf, p, len);
        buf[len] = '\0';
        char *end;
        *v = strtod(buf, &end);
        if (end == buf || isnan(*v)) return RDBC_EBAD;
    }
    return RDBC_OK;
}

static int decode_intset(dec *d, const char *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p;
    if (n < 8) return RDBC_EBAD;
    uint64_t w = get_le(s, 4), count = get_le(s + 4, 4);
    if ((w != 2 && w != 4 && w != 8) || count == 0 || n - 8 != w * count) return RDBC_EBAD;
    int rc = emit_begin(d, KV_TYPE_SET, count);
    for (uint64_t i = 0; i < count && rc == RDBC_OK; i++) {
        char buf[24];
        long long v = sign_extend(get_le(s + 8 + i * w, (int)w), (int)(8 * w));
        int len = snprintf(buf, sizeof(buf), "%lld", v);
        rc = emit_elem(d, buf, (size_t)len, NULL, 0);
    }
    return rc;
}

static int decode_body(dec *d, int t)
{
    rdbc_reader *r = &d->r;
    const char *a, *b;
    size_t alen, blen;
    uint64_t len, n = 0;
    int rc;

    switch (t) {
    case RDBC_TYPE_STRING:
        if ((rc = rdbc_read_string(r, 0, &a, &alen)) != RDBC_OK) return rc;
        if ((rc = emit_begin(d, KV_TYPE_STRING, 0)) != RDBC_OK) return rc;
        return d->s && d->s->string ? sink_rc(d->s->string(d->s->arg, a, alen)) : RDBC_OK;

    case RDBC_TYPE_LIST:
    case RDBC_TYPE_SET:
    case RDBC_TYPE_HASH:
    case RDBC_TYPE_ZSET:
    case RDBC_TYPE_ZSET_2: {
        int kt = t == RDBC_TYPE_LIST   ? KV_TYPE_LIST
                 : t == RDBC_TYPE_SET  ? KV_TYPE_SET
                 : t == RDBC_TYPE_HASH ? KV_TYPE_HASH
                                       : KV_TYPE_ZSET;
        if (rdbc_read_len(r, &len, NULL) != RDBC_OK || len == 0) return RDBC_EBAD;
        /* Every element takes at least one byte: a count larger than what
         * is left is malformed. */
        if (len > left(r)) return RDBC_EBAD;
        if ((rc = emit_begin(d, kt, len)) != RDBC_OK) return rc;
        for (uint64_t i = 0; i < len; i++) {
            if ((rc = rdbc_read_string(r, 0, &a, &alen)) != RDBC_OK) return rc;
            if (kt == KV_TYPE_HASH) {
                if ((rc = rdbc_read_string(r, 1, &b, &blen)) != RDBC_OK) return rc;
                rc = emit_elem(d, a, alen, b, blen);
            } else if (kt == KV_TYPE_ZSET) {
                double score;
                if (t == RDBC_TYPE_ZSET_2) {
                    const unsigned char *p;
                    if (read_bytes(r, 8, &p) != RDBC_OK) return RDBC_EBAD;
                    uint64_t u = get_le(p, 8);
                    memcpy(&score, &u, 8);
                    if (isnan(score)) return RDBC_EBAD;
                } else if (read_text_double(r, &score) != RDBC_OK) {
                    return RDBC_EBAD;
                }
                rc = emit_zelem(d, a, alen, score);
            } else {
                rc = emit_elem(d, a, alen, NULL, 0);
            }
            if (rc != RDBC_OK) return rc;
        }
        return RDBC_OK;
    }

    case RDBC_TYPE_SET_INTSET:
        if ((rc = rdbc_read_string(r, 0, &a, &alen)) != RDBC_OK) return rc;
        return decode_intset(d, a, alen);

    case RDBC_TYPE_LIST_ZIPLIST:
    case RDBC_TYPE_HASH_ZIPLIST:
    case RDBC_TYPE_ZSET_ZIPLIST:
    case RDBC_TYPE_HASH_LISTPACK:
    case RDBC_TYPE_ZSET_LISTPACK: {
        int zl = t == RDBC_TYPE_LIST_ZIPLIST || t == RDBC_TYPE_HASH_ZIPLIST ||
                 t == RDBC_TYPE_ZSET_ZIPLIST;
        int kt = t == RDBC_TYPE_LIST_ZIPLIST                                   ? KV_TYPE_LIST
                 : t == RDBC_TYPE_HASH_ZIPLIST || t == RDBC_TYPE_HASH_LISTPACK ? KV_TYPE_HASH
                                                                               : KV_TYPE_ZSET;
        if ((rc = rdbc_read_string(r, 0, &a, &alen)) != RDBC_OK) return rc;
        /* Validate the whole blob before anything is emitted. */
        dec probe = {.r = {0}, .s = NULL};
        if ((rc = compact_walk(&probe, zl, kt, a, alen, &n)) != RDBC_OK) return rc;
        if (n == 0) return RDBC_EBAD;
        if ((rc = emit_begin(d, kt, n)) != RDBC_OK) return rc;
        n = 0;
        return compact_walk(d, zl, kt, a, alen, &n);
    }

    case RDBC_TYPE_LIST_QUICKLIST:
    case RDBC_TYPE_LIST_QUICKLIST_2: {
        if (rdbc_read_len(r, &len, NULL) != RDBC_OK || len == 0 || len > left(r)) return RDBC_EBAD;
        /* A first pass checks every node and counts the elements, so the
         * sink sees nothing of a list that turns out malformed. */
        size_t start = r->off;
        for (int pass = 0; pass < 2; pass++) {
            r->off = start;
            uint64_t total = 0;
            dec probe = {.r = {0}, .s = NULL};
            dec *dd = pass == 0 ? &probe : d;
            if (pass == 1) {
                if ((rc = emit_begin(d, KV_TYPE_LIST, n)) != RDBC_OK) return rc;
            }
            for (uint64_t i = 0; i < len; i++) {
                uint64_t container = 2; /* QUICKLIST: ziplist nodes */
                if (t == RDBC_TYPE_LIST_QUICKLIST_2) {
                    if (rdbc_read_len(r, &container, NULL) != RDBC_OK) return RDBC_EBAD;
                    if (container != 1 && container != 2) return RDBC_EBAD;
                }
                if ((rc = rdbc_read_string(r, 0, &a, &alen)) != RDBC_OK) return rc;
                if (container == 1) { /* PLAIN: one element */
                    if ((rc = emit_elem(dd, a, alen, NULL, 0)) != RDBC_OK) return rc;
                    total++;
                } else {
                    /* Redis skips an empty node. */
                    rc = compact_walk(dd, t == RDBC_TYPE_LIST_QUICKLIST, KV_TYPE_LIST, a, alen,
                                      &total);
                    if (rc != RDBC_OK) return rc;
                }
            }
            if (total == 0) return RDBC_EBAD;
            n = total;
        }
        return RDBC_OK;
    }
    }
    return RDBC_EBAD; /* zipmap, streams, modules, unknown */
}

int rdbc_decode_value(const void *p, size_t n, size_t *used, const rdbc_sink *sink)
{
    dec d = {.r = {.p = p, .n = n}, .s = sink};
    const unsigned char *t;
    int rc = read_bytes(&d.r, 1, &t);
    if (rc == RDBC_OK) rc = decode_body(&d, t[0]);
    if (rc == RDBC_OK && used) *used = d.r.off;
    rdbc_reader_free(&d.r);
    return rc;
}

/* ------------------------------------------------------------ restore */

/* The first pass: what the value is, so the second knows its encoding. */
typedef struct stats {
    int type;
    uint64_t count;
    size_t maxlen; /* the longest field, value or member */
    int allint;    /* a set whose members are all integers */
} stats;

static int st_begin(void *arg, int type, uint64_t count)
{
    stats *s = arg;
    (void)count;
    s->type = type;
    return 0;
}

static int st_elem(void *arg, const char *a, size_t alen, const char *b, size_t blen)
{
    stats *s = arg;
    long long ll;
    s->count++;
    if (alen > s->maxlen) s->maxlen = alen;
    if (b && blen > s->maxlen) s->maxlen = blen;
    if (s->type == KV_TYPE_SET && !(alen <= 20 && kv_string2ll(a, alen, &ll))) s->allint = 0;
    return 0;
}

static int st_zelem(void *arg, const char *m, size_t mlen, double score)
{
    (void)score;
    return st_elem(arg, m, mlen, NULL, 0);
}

/* The second pass: element records under a new version. */
typedef struct builder {
    kv_ctx *c;
    kv_val v;
    int begun, dup;
    char *str; /* a string value's copy */
    size_t strlen;
    int enc;
} builder;

static int b_begin(void *arg, int type, uint64_t count)
{
    builder *b = arg;
    (void)count;
    if (type == KV_TYPE_STRING) return 0;
    if (kv_coll_new(b->c, type, b->enc, &b->v) != 0) return 1;
    b->begun = 1;
    return 0;
}

static int b_string(void *arg, const char *p, size_t n)
{
    builder *b = arg;
    b->str = kv_malloc(n ? n : 1);
    if (!b->str) {
        if (b->c->rc == 0) b->c->rc = KV_ENOMEM;
        return 1;
    }
    if (n) memcpy(b->str, p, n);
    b->strlen = n;
    return 0;
}

static int b_elem(void *arg, const char *a, size_t alen, const char *val, size_t vlen)
{
    builder *b = arg;
    kv_val *v = &b->v;
    int created = 1;
    if (v->type == KV_TYPE_LIST) {
        unsigned char s[8];
        kv_seq_enc(v->tail, s);
        if (kv_elem_put(b->c, v->ver, s, 8, a, alen, NULL) != 0) return 1;
        v->tail++;
    } else if (kv_elem_put(b->c, v->ver, a, alen, val ? val : "", val ? vlen : 0, &created) != 0) {
        return 1;
    }
    if (!created) {
        b->dup = 1; /* Redis: "Duplicate set members / hash fields detected" */
        return 1;
    }
    v->count++;
    return 0;
}

static int b_zelem(void *arg, const char *m, size_t mlen, double score)
{
    builder *b = arg;
    kv_val *v = &b->v;
    unsigned char sb[8];
    int created;
    /* As kvx_zset.c's zenc: a skiplist keeps -0, a listpack stores 0. */
    if (score == 0 && signbit(score) && v->enc == KV_ENC_SKIPLIST)
        kv_put_be64(sb, ~((uint64_t)1 << 63));
    else
        kv_score_enc(score, sb);
    if (kv_elem_put(b->c, v->ver, m, mlen, sb, 8, &created) != 0) return 1;
    if (!created) {
        b->dup = 1;
        return 1;
    }
    if (kv_zidx_put(b->c, v->ver, score, m, mlen) != 0) return 1;
    v->count++;
    return 0;
}

/* Removes the element records a failed build wrote under its version. */
static void drop_built(kv_ctx *c, const kv_val *v)
{
    for (int table = KV_T_ELEM; table <= KV_T_ZIDX && c->rc == 0; table++) {
        kv_iter it;
        const char *f, *val;
        size_t flen, vlen;
        if (kv_iter_open(c, &it, table, v->ver, NULL, 0, 0) != 0) return;
        while (kv_iter_next(&it, &f, &flen, &val, &vlen) == 1)
            if (kv_iter_del_current(&it) != 0) break;
        kv_iter_close(&it);
    }
}

static int choose_enc(const stats *s)
{
    switch (s->type) {
    case KV_TYPE_LIST:
        return KV_ENC_QUICKLIST;
    case KV_TYPE_SET:
        return s->allint && s->count <= SET_MAX_INTSET ? KV_ENC_INTSET : KV_ENC_HASHTABLE;
    case KV_TYPE_HASH:
        return s->count <= HASH_LP_ENTRIES && s->maxlen <= HASH_LP_VALUE ? KV_ENC_LISTPACK
                                                                         : KV_ENC_HASHTABLE;
    case KV_TYPE_ZSET:
        return s->count <= ZSET_LP_ENTRIES && s->maxlen <= ZSET_LP_VALUE ? KV_ENC_LISTPACK
                                                                         : KV_ENC_SKIPLIST;
    }
    return 0;
}

int rdbc_store(kv_ctx *c, const char *key, size_t keylen, const void *p, size_t n, int64_t expiry,
               int *deleted)
{
    stats st = {.type = -1, .allint = 1};
    rdbc_sink s1 = {&st, st_begin, NULL, st_elem, st_zelem};
    if (deleted) *deleted = 0;
    int rc = rdbc_decode_value(p, n, NULL, &s1);
    if (rc == RDBC_ENOMEM) {
        if (c->rc == 0) c->rc = KV_ENOMEM;
        return -1;
    }
    if (rc != RDBC_OK) return RDBC_EBAD;

    builder b = {.c = c, .enc = choose_enc(&st)};
    rdbc_sink s2 = {&b, b_begin, b_string, b_elem, b_zelem};
    rc = rdbc_decode_value(p, n, NULL, &s2);
    if (rc != RDBC_OK || c->rc != 0) {
        if (b.begun) drop_built(c, &b.v);
        free(b.str);
        if (c->rc != 0) return -1;
        if (rc == RDBC_ENOMEM) {
            c->rc = KV_ENOMEM;
            return -1;
        }
        return RDBC_EBAD;
    }

    kv_val old;
    int found = kv_lookup(c, key, keylen, &old);
    if (found == 1) {
        if (kv_delete(c, key, keylen) < 0) found = -1;
        if (deleted) *deleted = 1;
    }
    if (found >= 0) {
        if (st.type == KV_TYPE_STRING) {
            kv_store(c, key, keylen, b.str, b.strlen, expiry);
        } else {
            b.v.expiry = expiry;
            kv_coll_save(c, key, keylen, &b.v);
        }
    }
    free(b.str);
    return c->rc ? -1 : RDBC_OK;
}
