/* kvx_hll.c -- HyperLogLog (Redis's hyperloglog.c): PFADD, PFCOUNT, PFMERGE,
 * on strings in Redis's own HLL encoding, so GET returns the bytes
 * redis-server 7.0 would hold and an HLL written by Redis (SET, a restore)
 * works here.
 *
 * The format (Redis's hyperloglog.c):
 *
 *   header (16 bytes): "HYLL", u8 encoding (0 dense, 1 sparse), 3 unused
 *   bytes, u64 little-endian cached cardinality whose top bit set means
 *   "invalid, recompute".
 *   dense: 16384 registers of 6 bits, register i at bit 6*i, LSB first.
 *   sparse: run-length opcodes, purely positional, covering exactly 16384
 *   registers: ZERO 00xxxxxx (1..64 zero registers), XZERO 01xxxxxx
 *   yyyyyyyy (1..16384 zero registers), VAL 1vvvvvxx (1..4 registers of
 *   value 1..32).
 *
 * An element hashes with MurmurHash64A (seed 0xadc83b19); the low 14 bits
 * pick the register, the position of the first 1 bit in the remaining 50
 * (plus a sentinel) is the value. A sparse HLL is promoted to dense when a
 * value exceeds 32 or when it would grow past hll-sparse-max-bytes, here a
 * constant 3000 (Redis's default): what an entry does when applied must not
 * depend on a node's configuration. The sparse update follows Redis's
 * algorithm step by step (split the opcode covering the register, then
 * merge equal VALs among the next five opcodes), as the resulting bytes
 * are what GET returns.
 *
 * Cached cardinality. Redis's PFCOUNT on one key writes the cache into the
 * header. Here PFCOUNT is a read (kvstate_read, never logged) and must not
 * write: it answers from the cache when the cache is valid, else computes
 * and answers without storing. PFADD and PFMERGE set the invalid bit exactly
 * as Redis does, so the bytes agree with Redis's up to the first PFCOUNT
 * that refreshed Redis's cache; after it, Redis's header holds the count
 * and ours keeps the invalid bit (the registers still agree). Every count
 * agrees.
 *
 * Corrupt HLLs: a string that is not an HLL (too short, wrong magic,
 * unknown encoding, dense of the wrong length) is answered "WRONGTYPE Key
 * is not a valid HyperLogLog string value."; a sparse HLL whose opcodes do
 * not cover exactly 16384 registers "INVALIDOBJ Corrupted HLL object
 * detected" when a command has to walk it, as Redis does. Every walk is
 * bounded by the string and by the register count, so no input reads or
 * writes outside its buffer (tests/storage/fuzz_kvhll.c). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storage/kvcmd.h"
#include "storage/kvcmd_int.h"
#include "storage/kverr.h"
#include "storage/kvint.h"
#include "storage/kvks.h"

#define HLL_P 14
#define HLL_Q (64 - HLL_P) /* hash bits that give the run of zeros */
#define HLL_REGISTERS (1 << HLL_P)
#define HLL_P_MASK (HLL_REGISTERS - 1)
#define HLL_BITS 6
#define HLL_HDR_SIZE 16
#define HLL_DENSE_SIZE (HLL_HDR_SIZE + (HLL_REGISTERS * HLL_BITS + 7) / 8)
#define HLL_DENSE 0
#define HLL_SPARSE 1
#define HLL_CARD 8 /* offset of the cached cardinality in the header */
#define HLL_SPARSE_MAX_BYTES 3000
#define HLL_SEED 0xadc83b19u
#define HLL_ALPHA_INF 0.721347520444481703680 /* 0.5 / ln(2) */

#define SPARSE_IS_ZERO(p) (((*(p)) & 0xc0) == 0)
#define SPARSE_IS_XZERO(p) (((*(p)) & 0xc0) == 0x40)
#define SPARSE_IS_VAL(p) ((*(p)) & 0x80)
#define SPARSE_ZERO_LEN(p) (((*(p)) & 0x3f) + 1)
#define SPARSE_VAL_VALUE(p) ((((*(p)) >> 2) & 0x1f) + 1)
#define SPARSE_VAL_LEN(p) (((*(p)) & 0x3) + 1)
#define SPARSE_VAL_MAX_VALUE 32
#define SPARSE_VAL_MAX_LEN 4
#define SPARSE_ZERO_MAX_LEN 64
#define SPARSE_XZERO_MAX_LEN 16384

#define ERR_NOTHLL "WRONGTYPE Key is not a valid HyperLogLog string value."
#define ERR_INVALIDOBJ "INVALIDOBJ Corrupted HLL object detected"

/* Results of the register functions. */
enum { HLL_CORRUPT = -1, HLL_NOMEM = -2 };

/* ------------------------------------------------------------ opcodes */

/* An XZERO's run; its second byte may lie past the end of a truncated
 * string, where Redis reads the byte after the string: the terminating
 * zero of a stored value (limit = end), or, in a value being modified
 * (limit = end + 1), whatever the modification left there: hll.s keeps
 * that byte as an sds string would, so the result is the same. */
static long xzero_len(const uint8_t *p, const uint8_t *end)
{
    long lo = p + 1 < end ? p[1] : 0;
    return (((long)(p[0] & 0x3f) << 8) | lo) + 1;
}

static void val_set(uint8_t *p, int val, int len)
{
    *p = (uint8_t)(((val - 1) << 2 | (len - 1)) | 0x80);
}

/* ZERO or XZERO for len zero registers; returns the bytes written. */
static int zero_set(uint8_t *p, int len)
{
    if (len > SPARSE_ZERO_MAX_LEN) {
        p[0] = (uint8_t)(((len - 1) >> 8) | 0x40);
        p[1] = (uint8_t)((len - 1) & 0xff);
        return 2;
    }
    p[0] = (uint8_t)(len - 1);
    return 1;
}

/* ------------------------------------------------------------ dense */

/* Register i of a dense array of 12288 bytes. A register at bit offset 0
 * or 2 of its byte lies in that byte alone, so the last register never
 * reads past the array (Redis relies on the string's terminator). */
static unsigned dense_get(const uint8_t *r, long i)
{
    size_t byte = (size_t)i * HLL_BITS / 8;
    unsigned fb = (unsigned)(i * HLL_BITS) & 7;
    unsigned v = r[byte] >> fb;
    if (fb > 2) v |= (unsigned)r[byte + 1] << (8 - fb);
    return v & 63;
}

static void dense_put(uint8_t *r, long i, unsigned v)
{
    size_t byte = (size_t)i * HLL_BITS / 8;
    unsigned fb = (unsigned)(i * HLL_BITS) & 7;
    r[byte] = (uint8_t)((r[byte] & ~(63u << fb)) | (v << fb));
    if (fb > 2) r[byte + 1] = (uint8_t)((r[byte + 1] & ~(63u >> (8 - fb))) | (v >> (8 - fb)));
}

/* 1 if register i grew to count, 0 if it already held as much. */
static int dense_set(uint8_t *r, long i, unsigned count)
{
    if (count <= dense_get(r, i)) return 0;
    dense_put(r, i, count);
    return 1;
}

/* ------------------------------------------------------------ hashing */

/* MurmurHash2, 64-bit (MurmurHash64A), reading words little-endian as
 * Redis's endian-neutral version does. */
static uint64_t murmur64a(const uint8_t *data, size_t len, uint64_t seed)
{
    const uint64_t m = 0xc6a4a7935bd1e995ull;
    const int r = 47;
    uint64_t h = seed ^ ((uint64_t)len * m);
    const uint8_t *end = data + (len - (len & 7));

    for (; data != end; data += 8) {
        uint64_t k = 0;
        for (int b = 7; b >= 0; b--)
            k = (k << 8) | data[b];
        k *= m;
        k ^= k >> r;
        k *= m;
        h ^= k;
        h *= m;
    }
    switch (len & 7) {
    case 7:
        h ^= (uint64_t)data[6] << 48; /* fall through */
    case 6:
        h ^= (uint64_t)data[5] << 40; /* fall through */
    case 5:
        h ^= (uint64_t)data[4] << 32; /* fall through */
    case 4:
        h ^= (uint64_t)data[3] << 24; /* fall through */
    case 3:
        h ^= (uint64_t)data[2] << 16; /* fall through */
    case 2:
        h ^= (uint64_t)data[1] << 8; /* fall through */
    case 1:
        h ^= (uint64_t)data[0];
        h *= m;
    }
    h ^= h >> r;
    h *= m;
    h ^= h >> r;
    return h;
}

/* The register an element falls in (*reg) and the length of its 00..1
 * pattern, 1..Q+1 (the bit above the Q used ones ends every run). */
static unsigned pattern_len(const char *ele, size_t n, long *reg)
{
    uint64_t hash = murmur64a((const uint8_t *)ele, n, HLL_SEED);
    *reg = (long)(hash & HLL_P_MASK);
    hash >>= HLL_P;
    hash |= (uint64_t)1 << HLL_Q;
    unsigned count = 1;
    for (uint64_t bit = 1; (hash & bit) == 0; bit <<= 1)
        count++;
    return count;
}

/* ------------------------------------------------------------ the value */

/* An HLL being modified: a private copy of the string, with room for the
 * growth a sparse update may need (the sparse form never grows past
 * HLL_SPARSE_MAX_BYTES: beyond it the HLL is promoted) and a zero byte
 * after len, as after an sds string. */
typedef struct hll {
    uint8_t *s;
    size_t len;
} hll;

/* Redis's isHLLObjectOrReply, after the type check. */
static int hll_valid(const char *p, size_t len)
{
    if (len < HLL_HDR_SIZE || memcmp(p, "HYLL", 4) != 0) return 0;
    uint8_t enc = (uint8_t)p[4];
    if (enc > HLL_SPARSE) return 0;
    return enc != HLL_DENSE || len == HLL_DENSE_SIZE;
}

static int hll_load(kv_ctx *c, hll *h, const char *p, size_t len)
{
    size_t cap = (len > HLL_SPARSE_MAX_BYTES ? len : HLL_SPARSE_MAX_BYTES) + 8;
    h->s = kv_calloc(cap, 1);
    if (!h->s) {
        kvx_oom(c);
        return -1;
    }
    memcpy(h->s, p, len);
    h->len = len;
    return 0;
}

/* An empty HLL as Redis creates it: sparse, one XZERO of 16384. */
static int hll_new(kv_ctx *c, hll *h)
{
    uint8_t b[HLL_HDR_SIZE + 2] = {'H', 'Y', 'L', 'L', HLL_SPARSE};
    zero_set(b + HLL_HDR_SIZE, HLL_REGISTERS);
    return hll_load(c, h, (const char *)b, sizeof(b));
}

static void hll_invalidate(hll *h)
{
    h->s[HLL_CARD + 7] |= 0x80;
}

/* Sparse to dense (Redis's hllSparseToDense): the header is kept (magic,
 * unused bytes, cached cardinality), the encoding byte changes. 0,
 * HLL_CORRUPT when the opcodes do not cover exactly 16384 registers (a VAL
 * that runs past the last register is corrupt even when the registers
 * before it add up: redis-server 7.0.15 answers so), or HLL_NOMEM. */
static int hll_to_dense(kv_ctx *c, hll *h)
{
    if (h->s[4] == HLL_DENSE) return 0;
    uint8_t *d = kv_calloc(HLL_DENSE_SIZE + 8, 1);
    if (!d) {
        kvx_oom(c);
        return HLL_NOMEM;
    }
    memcpy(d, h->s, HLL_HDR_SIZE);
    d[4] = HLL_DENSE;
    uint8_t *regs = d + HLL_HDR_SIZE;
    const uint8_t *p = h->s + HLL_HDR_SIZE, *end = h->s + h->len;
    long idx = 0;
    while (p < end && idx <= HLL_REGISTERS) {
        if (SPARSE_IS_ZERO(p)) {
            idx += SPARSE_ZERO_LEN(p);
            p++;
        } else if (SPARSE_IS_XZERO(p)) {
            idx += xzero_len(p, end + 1);
            p += 2;
        } else {
            long runlen = SPARSE_VAL_LEN(p);
            unsigned regval = SPARSE_VAL_VALUE(p);
            if (runlen + idx > HLL_REGISTERS) {
                idx = -1; /* redis-server 7.0 refuses this even at the end */
                break;
            }
            while (runlen--)
                dense_put(regs, idx++, regval);
            p++;
        }
    }
    if (idx != HLL_REGISTERS) {
        free(d);
        return HLL_CORRUPT;
    }
    free(h->s);
    h->s = d;
    h->len = HLL_DENSE_SIZE;
    return 0;
}

/* Register index of a sparse HLL to at least count (Redis's
 * hllSparseSet): 1 updated, 0 no change, HLL_CORRUPT, HLL_NOMEM. May
 * promote h to dense. */
static int sparse_set(kv_ctx *c, hll *h, long index, unsigned count)
{
    uint8_t *sparse, *p, *end, *prev = NULL, *next;
    long first = 0, span = 0, runlen;
    int is_zero = 0, is_xzero = 0, is_val = 0;

    if (count > SPARSE_VAL_MAX_VALUE) goto promote;

    /* 1: the opcode covering index. */
    sparse = p = h->s + HLL_HDR_SIZE;
    end = h->s + h->len;
    while (p < end) {
        long oplen = 1;
        if (SPARSE_IS_ZERO(p)) {
            span = SPARSE_ZERO_LEN(p);
        } else if (SPARSE_IS_VAL(p)) {
            span = SPARSE_VAL_LEN(p);
        } else {
            span = xzero_len(p, end + 1);
            oplen = 2;
        }
        if (index <= first + span - 1) break;
        prev = p;
        p += oplen;
        first += span;
    }
    if (span == 0 || p >= end) return HLL_CORRUPT;

    next = SPARSE_IS_XZERO(p) ? p + 2 : p + 1;
    if (next >= end) next = NULL;
    if (SPARSE_IS_ZERO(p)) {
        is_zero = 1;
        runlen = SPARSE_ZERO_LEN(p);
    } else if (SPARSE_IS_XZERO(p)) {
        is_xzero = 1;
        runlen = xzero_len(p, end + 1);
    } else {
        is_val = 1;
        runlen = SPARSE_VAL_LEN(p);
    }

    /* 2: the trivial cases: a VAL already as high; a VAL or ZERO of one
     * register rewritten in place. */
    if (is_val) {
        unsigned oldcount = SPARSE_VAL_VALUE(p);
        if (oldcount >= count) return 0;
        if (runlen == 1) {
            val_set(p, (int)count, 1);
            goto updated;
        }
    }
    if (is_zero && runlen == 1) {
        val_set(p, (int)count, 1);
        goto updated;
    }

    /* 3: split the opcode into up to three (XZERO-VAL-XZERO, 5 bytes) and
     * put them in its place. */
    uint8_t seq[5], *n = seq;
    long last = first + span - 1;
    if (is_zero || is_xzero) {
        if (index != first) n += zero_set(n, (int)(index - first));
        val_set(n++, (int)count, 1);
        if (index != last) n += zero_set(n, (int)(last - index));
    } else {
        int curval = SPARSE_VAL_VALUE(p);
        if (index != first) val_set(n++, curval, (int)(index - first));
        val_set(n++, (int)count, 1);
        if (index != last) val_set(n++, curval, (int)(last - index));
    }
    long seqlen = n - seq, oldlen = is_xzero ? 2 : 1, deltalen = seqlen - oldlen;
    if (deltalen > 0 && h->len + (size_t)deltalen > HLL_SPARSE_MAX_BYTES) goto promote;
    if (deltalen && next) memmove(next + deltalen, next, (size_t)(end - next));
    h->len = (size_t)((long)h->len + deltalen);
    h->s[h->len] = 0;
    memcpy(p, seq, (size_t)seqlen);
    end += deltalen;

updated:
    /* 4: merge adjacent equal VALs among up to five opcodes from prev. */
    p = prev ? prev : sparse;
    int scanlen = 5;
    while (p < end && scanlen--) {
        if (SPARSE_IS_XZERO(p)) {
            p += 2;
            continue;
        } else if (SPARSE_IS_ZERO(p)) {
            p++;
            continue;
        }
        if (p + 1 < end && SPARSE_IS_VAL(p + 1)) {
            int v1 = SPARSE_VAL_VALUE(p), v2 = SPARSE_VAL_VALUE(p + 1);
            if (v1 == v2) {
                int len = SPARSE_VAL_LEN(p) + SPARSE_VAL_LEN(p + 1);
                if (len <= SPARSE_VAL_MAX_LEN) {
                    val_set(p + 1, v1, len);
                    memmove(p, p + 1, (size_t)(end - p));
                    h->len--;
                    h->s[h->len] = 0;
                    end--;
                    continue;
                }
            }
        }
        p++;
    }
    hll_invalidate(h);
    return 1;

promote : {
    int rc = hll_to_dense(c, h);
    if (rc != 0) return rc;
    /* The register is below count (checked above, or count is beyond what
     * sparse holds), so this always updates. */
    dense_set(h->s + HLL_HDR_SIZE, index, count);
    return 1;
}
}

/* Register index to at least count in either encoding. */
static int hll_set(kv_ctx *c, hll *h, long index, unsigned count)
{
    if (h->s[4] == HLL_DENSE) return dense_set(h->s + HLL_HDR_SIZE, index, count);
    return sparse_set(c, h, index, count);
}

static int hll_add(kv_ctx *c, hll *h, const char *ele, size_t n)
{
    long index;
    unsigned count = pattern_len(ele, n, &index);
    return hll_set(c, h, index, count);
}

/* ------------------------------------------------------------ reading */

/* max[i] = MAX(max[i], register i) for a valid-looking HLL string (Redis's
 * hllMerge); -1 when a sparse one does not cover exactly 16384 registers
 * (as in hll_to_dense, a VAL running past the end is corrupt). */
static int hll_merge(uint8_t *max, const char *s, size_t len)
{
    const uint8_t *p = (const uint8_t *)s + HLL_HDR_SIZE, *end = (const uint8_t *)s + len;
    if (s[4] == HLL_DENSE) {
        for (long i = 0; i < HLL_REGISTERS; i++) {
            unsigned v = dense_get(p, i);
            if (v > max[i]) max[i] = (uint8_t)v;
        }
        return 0;
    }
    long i = 0;
    while (p < end && i <= HLL_REGISTERS) {
        if (SPARSE_IS_ZERO(p)) {
            i += SPARSE_ZERO_LEN(p);
            p++;
        } else if (SPARSE_IS_XZERO(p)) {
            i += xzero_len(p, end);
            p += 2;
        } else {
            long runlen = SPARSE_VAL_LEN(p);
            unsigned regval = SPARSE_VAL_VALUE(p);
            if (runlen + i > HLL_REGISTERS) return -1;
            while (runlen--) {
                if (regval > max[i]) max[i] = (uint8_t)regval;
                i++;
            }
            p++;
        }
    }
    return i == HLL_REGISTERS ? 0 : -1;
}

/* Ertl's sigma and tau ("New cardinality estimation algorithms for
 * HyperLogLog sketches", arXiv:1702.01284), as Redis computes them: the
 * same operations in the same order, so the estimate is the same double. */
static double hll_sigma(double x)
{
    if (x == 1.) return INFINITY;
    double zprime, y = 1, z = x;
    do {
        x *= x;
        zprime = z;
        z += x * y;
        y += y;
    } while (zprime != z);
    return z;
}

static double hll_tau(double x)
{
    if (x == 0. || x == 1.) return 0.;
    double zprime, y = 1.0, z = 1 - x;
    do {
        x = sqrt(x);
        zprime = z;
        y *= 0.5;
        z -= pow(1 - x, 2) * y;
    } while (zprime != z);
    return z / 3;
}

/* The estimate from a histogram of register values (Redis's hllCount). */
static uint64_t hll_estimate(const int64_t *reghisto)
{
    double m = HLL_REGISTERS;
    double z = m * hll_tau((m - (double)reghisto[HLL_Q + 1]) / m);
    for (int j = HLL_Q; j >= 1; --j) {
        z += (double)reghisto[j];
        z *= 0.5;
    }
    z += m * hll_sigma((double)reghisto[0] / m);
    double e = (double)llroundl(HLL_ALPHA_INF * m * m / z);
    return (uint64_t)e;
}

/* The cardinality of one HLL string; -1 when a sparse one is corrupt. */
static int hll_count(const char *s, size_t len, uint64_t *card)
{
    int64_t reghisto[64] = {0};
    const uint8_t *p = (const uint8_t *)s + HLL_HDR_SIZE, *end = (const uint8_t *)s + len;
    if (s[4] == HLL_DENSE) {
        for (long i = 0; i < HLL_REGISTERS; i++)
            reghisto[dense_get(p, i)]++;
    } else {
        long idx = 0;
        while (p < end && idx <= HLL_REGISTERS) {
            long runlen;
            if (SPARSE_IS_ZERO(p)) {
                runlen = SPARSE_ZERO_LEN(p);
                reghisto[0] += runlen;
                p++;
            } else if (SPARSE_IS_XZERO(p)) {
                runlen = xzero_len(p, end);
                reghisto[0] += runlen;
                p += 2;
            } else {
                runlen = SPARSE_VAL_LEN(p);
                reghisto[SPARSE_VAL_VALUE(p)] += runlen;
                p++;
            }
            idx += runlen;
        }
        if (idx != HLL_REGISTERS) return -1;
    }
    *card = hll_estimate(reghisto);
    return 0;
}

/* ------------------------------------------------------------ commands */

/* PFADD key [element ...]: 1 if a register changed or the key was made. */
static void kvx_pfadd(ARGS)
{
    kv_val v;
    hll h = {0};
    int updated = 0, changed = 0, corrupt = 0;

    int found = kv_lookup_str(c, argv[1], argvlen[1], &v);
    if (found < 0) return;
    if (found) {
        if (!hll_valid(v.p, v.len)) {
            resp_add_error(c->reply, ERR_NOTHLL);
            return;
        }
        if (hll_load(c, &h, v.p, v.len) != 0) return;
    } else {
        if (hll_new(c, &h) != 0) return;
        updated = changed = 1;
    }
    for (int j = 2; j < argc; j++) {
        int rc = hll_add(c, &h, argv[j], argvlen[j]);
        if (rc == HLL_NOMEM) goto out;
        if (rc == HLL_CORRUPT) {
            corrupt = 1;
            break;
        }
        if (rc == 1) updated = changed = 1;
    }
    /* Redis modifies the value in place: registers set before a corrupt
     * part is met stay set, though the command answers an error. */
    if (updated && !corrupt) hll_invalidate(&h);
    if (changed && kv_store(c, argv[1], argvlen[1], h.s, h.len, found ? v.expiry : 0) != 0)
        goto out;
    if (corrupt) {
        resp_add_error(c->reply, ERR_INVALIDOBJ);
    } else {
        if (updated) kv_notify(c, KV_NOTIFY_STRING, "pfadd", argv[1], argvlen[1]);
        resp_add_int(c->reply, updated);
    }
out:
    free(h.s);
}

/* PFCOUNT key [key ...]: one key answers its cache when valid (and never
 * stores one: see the top of the file); several are merged in memory. */
static void kvx_pfcount(ARGS)
{
    kv_val v;
    uint64_t card;

    if (argc > 2) {
        uint8_t max[HLL_REGISTERS];
        int64_t reghisto[64] = {0};
        memset(max, 0, sizeof(max));
        for (int j = 1; j < argc; j++) {
            int found = kv_lookup_str(c, argv[j], argvlen[j], &v);
            if (found < 0) return;
            if (!found) continue;
            if (!hll_valid(v.p, v.len)) {
                resp_add_error(c->reply, ERR_NOTHLL);
                return;
            }
            if (hll_merge(max, v.p, v.len) != 0) {
                resp_add_error(c->reply, ERR_INVALIDOBJ);
                return;
            }
        }
        for (long i = 0; i < HLL_REGISTERS; i++)
            reghisto[max[i]]++;
        resp_add_int(c->reply, (int64_t)hll_estimate(reghisto));
        return;
    }

    int found = kv_lookup_str(c, argv[1], argvlen[1], &v);
    if (found < 0) return;
    if (!found) {
        resp_add_int(c->reply, 0);
        return;
    }
    if (!hll_valid(v.p, v.len)) {
        resp_add_error(c->reply, ERR_NOTHLL);
        return;
    }
    const uint8_t *hdr = (const uint8_t *)v.p;
    if ((hdr[HLL_CARD + 7] & 0x80) == 0) {
        card = 0;
        for (int b = 7; b >= 0; b--)
            card = (card << 8) | hdr[HLL_CARD + b];
    } else if (hll_count(v.p, v.len, &card) != 0) {
        resp_add_error(c->reply, ERR_INVALIDOBJ);
        return;
    }
    resp_add_int(c->reply, (int64_t)card);
}

/* PFMERGE destkey [sourcekey ...]: destkey (itself one of the inputs)
 * gets the registerwise maximum; dense as soon as one input is. */
static void kvx_pfmerge(ARGS)
{
    uint8_t max[HLL_REGISTERS];
    kv_val v;
    hll h = {0};
    int use_dense = 0;

    memset(max, 0, sizeof(max));
    for (int j = 1; j < argc; j++) {
        int found = kv_lookup_str(c, argv[j], argvlen[j], &v);
        if (found < 0) return;
        if (!found) continue;
        if (!hll_valid(v.p, v.len)) {
            resp_add_error(c->reply, ERR_NOTHLL);
            return;
        }
        if (v.p[4] == HLL_DENSE) use_dense = 1;
        if (hll_merge(max, v.p, v.len) != 0) {
            resp_add_error(c->reply, ERR_INVALIDOBJ);
            return;
        }
    }

    int found = kv_lookup_str(c, argv[1], argvlen[1], &v);
    if (found < 0) return;
    if ((found ? hll_load(c, &h, v.p, v.len) : hll_new(c, &h)) != 0) return;
    if (use_dense) {
        int rc = hll_to_dense(c, &h);
        if (rc == HLL_NOMEM) goto out;
        if (rc == HLL_CORRUPT) {
            resp_add_error(c->reply, ERR_INVALIDOBJ);
            goto out;
        }
    }
    /* destkey was validated as an input, so a set cannot meet corruption. */
    for (long j = 0; j < HLL_REGISTERS; j++) {
        if (max[j] == 0) continue;
        if (hll_set(c, &h, j, max[j]) == HLL_NOMEM) goto out;
    }
    hll_invalidate(&h);
    if (kv_store(c, argv[1], argvlen[1], h.s, h.len, found ? v.expiry : 0) == 0) {
        kv_notify(c, KV_NOTIFY_STRING, "pfadd", argv[1], argvlen[1]);
        resp_add_ok(c->reply);
    }
out:
    free(h.s);
}

/* ------------------------------------------------------------ command table */

#define W KV_CMD_WRITE
#define R KV_CMD_READONLY
#define F KV_CMD_FAST
#define D KV_CMD_DENYOOM
/* clang-format off */
const kv_command kvx_hll_commands[] = {
    {"pfadd", -2, W | D | F, 1, 1, 1, NULL, kvx_pfadd, "hyperloglog", "2.8.9", "Adds the specified elements to the specified HyperLogLog."},
    {"pfcount", -2, R, 1, -1, 1, NULL, kvx_pfcount, "hyperloglog", "2.8.9", "Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s)."},
    {"pfmerge", -2, W | D, 1, -1, 1, NULL, kvx_pfmerge, "hyperloglog", "2.8.9", "Merge N different HyperLogLogs into a single one."},
};
/* clang-format on */
#undef W
#undef R
#undef F
#undef D
const size_t kvx_hll_ncommands = sizeof(kvx_hll_commands) / sizeof(kvx_hll_commands[0]);
