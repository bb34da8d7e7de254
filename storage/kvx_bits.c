/* kvx_bits.c -- the bitmap commands (Redis's bitops.c): SETBIT, GETBIT,
 * BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO. */
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

static void kvx_setbit(ARGS)
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
    int found = kv_lookup_str(c, argv[1], argvlen[1], &v);
    if (found < 0) return;
    size_t byte = (size_t)(off >> 3);
    size_t olen = found ? v.len : 0;
    size_t nlen = byte + 1 > olen ? byte + 1 : olen;
    char *b =
        kvx_rewrite_string(c, argv[1], argvlen[1], found ? &v : NULL, nlen, found ? v.expiry : 0);
    if (!b) return;
    int bit = 7 - (int)(off & 7);
    int old = (b[byte] >> bit) & 1;
    b[byte] = (char)((b[byte] & ~(1 << bit)) | ((int)on << bit));
    /* Redis 7.0 reports only a write that changed something: a new key, a
     * longer string or another bit. */
    if (!found || nlen > olen || old != on)
        kv_notify(c, KV_NOTIFY_STRING, "setbit", argv[1], argvlen[1]);
    resp_add_int(c->reply, old);
}

static void kvx_getbit(ARGS)
{
    kv_val v;
    uint64_t off;
    UNUSED_ARGS;
    if (kv_parse_bitoffset(argv[2], argvlen[2], &off, c->reply) != 0) return;
    int found = kv_lookup_str(c, argv[1], argvlen[1], &v);
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

static void kvx_bitcount(ARGS)
{
    kv_val v;
    long long start, end;
    int isbit = 0;

    int found = kv_lookup_str(c, argv[1], argvlen[1], &v);
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

static void kvx_bitpos(ARGS)
{
    kv_val v;
    long long bit, start, end;
    int isbit = 0, end_given = 0;

    if (kv_getll(argv[2], argvlen[2], &bit, c->reply) != 0) return;
    if (bit != 0 && bit != 1) {
        resp_add_error(c->reply, "ERR The bit argument must be 1 or 0.");
        return;
    }
    int found = kv_lookup_str(c, argv[1], argvlen[1], &v);
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

/* ------------------------------------------------------------ BITOP */

enum { BITOP_AND, BITOP_OR, BITOP_XOR, BITOP_NOT };

/* The operation, or -1 with Redis's error in err. */
static int bitop_parse(int argc, char **argv, size_t *argvlen, resp_buf *err)
{
    int op;
    if (kv_streqci(argv[1], argvlen[1], "and"))
        op = BITOP_AND;
    else if (kv_streqci(argv[1], argvlen[1], "or"))
        op = BITOP_OR;
    else if (kv_streqci(argv[1], argvlen[1], "xor"))
        op = BITOP_XOR;
    else if (kv_streqci(argv[1], argvlen[1], "not"))
        op = BITOP_NOT;
    else {
        resp_add_error(err, ERR_SYNTAX);
        return -1;
    }
    if (op == BITOP_NOT && argc != 4) {
        resp_add_error(err, "ERR BITOP NOT must be called with a single source key.");
        return -1;
    }
    return op;
}

/* Every source is looked up twice: once for its type and length, then for
 * its bytes, one at a time (a lookup for a write may delete an expired key
 * and move what an earlier lookup pointed to). A missing source is an
 * empty string; the result is as long as the longest source, the shorter
 * ones padded with zeros; an empty result deletes the destination. */
static void kvx_bitop(ARGS)
{
    kv_val v;
    int op = bitop_parse(argc, argv, argvlen, c->reply);
    if (op < 0) return;
    size_t maxlen = 0;
    for (int i = 3; i < argc; i++) {
        int found = kv_lookup_str(c, argv[i], argvlen[i], &v);
        if (found < 0) return;
        if (found && v.len > maxlen) maxlen = v.len;
    }
    if (maxlen == 0) {
        int rc = kv_delete(c, argv[2], argvlen[2]);
        if (rc < 0) return;
        if (rc == 1) kv_notify(c, KV_NOTIFY_GENERIC, "del", argv[2], argvlen[2]);
        resp_add_int(c->reply, 0);
        return;
    }
    unsigned char *res = malloc(maxlen);
    if (!res) {
        kvx_oom(c);
        return;
    }
    for (int i = 3; i < argc; i++) {
        int found = kv_lookup_str(c, argv[i], argvlen[i], &v);
        if (found < 0) {
            free(res);
            return;
        }
        const unsigned char *p = (const unsigned char *)v.p;
        size_t n = found ? v.len : 0;
        if (i == 3) {
            if (n) memcpy(res, p, n);
            memset(res + n, 0, maxlen - n);
            if (op == BITOP_NOT)
                for (size_t j = 0; j < maxlen; j++)
                    res[j] = (unsigned char)~res[j];
            continue;
        }
        if (op == BITOP_AND) {
            for (size_t j = 0; j < n; j++)
                res[j] &= p[j];
            memset(res + n, 0, maxlen - n);
        } else if (op == BITOP_OR) {
            for (size_t j = 0; j < n; j++)
                res[j] |= p[j];
        } else {
            for (size_t j = 0; j < n; j++)
                res[j] ^= p[j];
        }
    }
    char *dst;
    if (kv_store_reserve_raw(c, argv[2], argvlen[2], maxlen, 0, 1, &dst) != 0) {
        free(res);
        return;
    }
    memcpy(dst, res, maxlen);
    free(res);
    kv_notify(c, KV_NOTIFY_STRING, "set", argv[2], argvlen[2]);
    resp_add_int(c->reply, (long long)maxlen);
}

/* ------------------------------------------------------------ BITFIELD */

enum { BF_GET, BF_SET, BF_INCRBY };
enum { BF_WRAP, BF_SAT, BF_FAIL };

typedef struct bfop {
    uint64_t offset;
    int64_t value; /* SET's value, INCRBY's increment */
    int op, sign, bits, overflow;
} bfop;

#define ERR_BFTYPE                                                                                 \
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but "    \
    "i64 is."
#define ERR_BITOFFSET "ERR bit offset is not an integer or out of range"

static int bf_type(const char *s, size_t len, int *sign, int *bits, resp_buf *err)
{
    long long n;
    if (len >= 1 && s[0] == 'i')
        *sign = 1;
    else if (len >= 1 && s[0] == 'u')
        *sign = 0;
    else
        goto bad;
    if (!kv_string2ll(s + 1, len - 1, &n) || n < 1 || n > (*sign ? 64 : 63)) goto bad;
    *bits = (int)n;
    return 0;
bad:
    resp_add_error(err, ERR_BFTYPE);
    return -1;
}

/* An offset in bits, or "#N": the N-th field of this type's width. */
static int bf_offset(const char *s, size_t len, int bits, uint64_t *off, resp_buf *err)
{
    long long n;
    int hash = len >= 1 && s[0] == '#';
    if (!kv_string2ll(s + hash, len - hash, &n) || n < 0) goto bad;
    if (hash) {
        if (n > LLONG_MAX / bits) goto bad;
        n *= bits;
    }
    if ((uint64_t)(n >> 3) >= KV_MAX_STRING_LEN) goto bad;
    *off = (uint64_t)n;
    return 0;
bad:
    resp_add_error(err, ERR_BITOFFSET);
    return -1;
}

/* Redis's parse of BITFIELD's operations, all before any runs: the ops
 * (owned by the caller, *nops of them) and the highest bit a SET or INCRBY
 * reaches (0 and *writes 0 when there is none). -1: an error in err. */
static int bf_parse(int argc, char **argv, size_t *argvlen, bfop **out, int *nops, int *writes,
                    uint64_t *highest, resp_buf *err)
{
    bfop *ops = calloc((size_t)argc, sizeof(*ops));
    int n = 0, overflow = BF_WRAP;
    *writes = 0;
    *highest = 0;
    if (!ops) {
        resp_add_error(err, "ERR out of memory");
        return -1;
    }
    for (int j = 2; j < argc; j++) {
        int rem = argc - j - 1;
        const char *w = argv[j];
        size_t wl = argvlen[j];
        bfop o = {0};
        if (kv_streqci(w, wl, "get") && rem >= 2) {
            o.op = BF_GET;
        } else if (kv_streqci(w, wl, "set") && rem >= 3) {
            o.op = BF_SET;
        } else if (kv_streqci(w, wl, "incrby") && rem >= 3) {
            o.op = BF_INCRBY;
        } else if (kv_streqci(w, wl, "overflow") && rem >= 1) {
            j++;
            if (kv_streqci(argv[j], argvlen[j], "wrap"))
                overflow = BF_WRAP;
            else if (kv_streqci(argv[j], argvlen[j], "sat"))
                overflow = BF_SAT;
            else if (kv_streqci(argv[j], argvlen[j], "fail"))
                overflow = BF_FAIL;
            else {
                resp_add_error(err, "ERR Invalid OVERFLOW type specified");
                goto fail;
            }
            continue;
        } else {
            resp_add_error(err, ERR_SYNTAX);
            goto fail;
        }
        if (bf_type(argv[j + 1], argvlen[j + 1], &o.sign, &o.bits, err) != 0) goto fail;
        if (bf_offset(argv[j + 2], argvlen[j + 2], o.bits, &o.offset, err) != 0) goto fail;
        if (o.op != BF_GET) {
            long long v;
            *writes = 1;
            if (o.offset + (uint64_t)o.bits - 1 > *highest)
                *highest = o.offset + (uint64_t)o.bits - 1;
            if (kv_getll(argv[j + 3], argvlen[j + 3], &v, err) != 0) goto fail;
            o.value = v;
        }
        o.overflow = overflow;
        ops[n++] = o;
        j += o.op == BF_GET ? 2 : 3;
    }
    *out = ops;
    *nops = n;
    return 0;
fail:
    free(ops);
    return -1;
}

/* bits bits at offset, most significant first; past len they are zeros. */
static uint64_t bf_read(const unsigned char *p, size_t len, uint64_t offset, int bits)
{
    uint64_t v = 0;
    for (int i = 0; i < bits; i++) {
        uint64_t pos = offset + (uint64_t)i, byte = pos >> 3;
        int bit = byte < len ? (p[byte] >> (7 - (pos & 7))) & 1 : 0;
        v = (v << 1) | (uint64_t)bit;
    }
    return v;
}

static void bf_write(unsigned char *p, uint64_t offset, int bits, uint64_t v)
{
    for (int i = 0; i < bits; i++) {
        uint64_t pos = offset + (uint64_t)i;
        int bit = (int)((v >> (bits - 1 - i)) & 1);
        int shift = 7 - (int)(pos & 7);
        p[pos >> 3] = (unsigned char)((p[pos >> 3] & ~(1 << shift)) | (bit << shift));
    }
}

/* The low `bits` bits of v, sign-extended for a signed field. */
static int64_t bf_signed(uint64_t v, int bits)
{
    if (bits < 64 && (v & ((uint64_t)1 << (bits - 1)))) v |= UINT64_MAX << bits;
    return (int64_t)v;
}

/* value + incr in a field of the op's type: 0 when it fits, 1 above the
 * type's maximum, -1 below its minimum; *out is the field's new bits under
 * the op's overflow rule (WRAP: modulo 2^bits, SAT: the bound it crossed).
 * The tests are Redis's checkSignedBitfieldOverflow and
 * checkUnsignedBitfieldOverflow, whose differences wrap around in 64 bits
 * (there signed overflow; here unsigned arithmetic converted back), so the
 * extreme SET values saturate as in Redis (SET i8 with INT64_MIN saturates
 * up to 127). An unsigned field's value is taken as unsigned, as in Redis. */
static int bf_add(const bfop *o, int64_t value, int64_t incr, uint64_t *out)
{
    uint64_t mask = o->bits == 64 ? UINT64_MAX : (((uint64_t)1 << o->bits) - 1);
    int over;
    uint64_t bound;
    if (o->sign) {
        int64_t max = o->bits == 64 ? INT64_MAX : (int64_t)(((uint64_t)1 << (o->bits - 1)) - 1);
        int64_t min = -max - 1;
        int64_t maxincr = (int64_t)((uint64_t)max - (uint64_t)value);
        int64_t minincr = (int64_t)((uint64_t)min - (uint64_t)value);
        if (value > max || (o->bits != 64 && incr > maxincr) ||
            (value >= 0 && incr > 0 && incr > maxincr)) {
            over = 1;
            bound = (uint64_t)max;
        } else if (value < min || (o->bits != 64 && incr < minincr) ||
                   (value < 0 && incr < 0 && incr < minincr)) {
            over = -1;
            bound = (uint64_t)min;
        } else {
            over = 0;
            bound = 0;
        }
    } else {
        uint64_t uv = (uint64_t)value, max = mask;
        int64_t maxincr = (int64_t)(max - uv);
        int64_t minincr = (int64_t)(0 - uv);
        if (uv > max || (incr > 0 && incr > maxincr)) {
            over = 1;
            bound = max;
        } else if (incr < 0 && incr < minincr) {
            over = -1;
            bound = 0;
        } else {
            over = 0;
            bound = 0;
        }
    }
    if (!over || o->overflow == BF_WRAP)
        *out = ((uint64_t)value + (uint64_t)incr) & mask;
    else
        *out = bound & mask;
    return over;
}

static void bitfield(kv_ctx *c, int argc, char **argv, size_t *argvlen, int ro)
{
    kv_val v;
    bfop *ops;
    int nops, writes;
    uint64_t highest;
    if (bf_parse(argc, argv, argvlen, &ops, &nops, &writes, &highest, c->reply) != 0) return;
    if (writes && ro) {
        free(ops);
        resp_add_error(c->reply, "ERR BITFIELD_RO only supports the GET subcommand");
        return;
    }
    int found = kv_lookup_str(c, argv[1], argvlen[1], &v);
    if (found < 0) {
        free(ops);
        return;
    }
    unsigned char *p = found ? (unsigned char *)v.p : NULL;
    size_t len = found ? v.len : 0;
    if (writes) {
        /* Made or grown to the highest bit written, before any operation
         * runs (even one OVERFLOW FAIL then refuses), as in Redis. */
        size_t nlen = (size_t)(highest >> 3) + 1;
        if (nlen < len) nlen = len;
        p = (unsigned char *)kvx_rewrite_string(c, argv[1], argvlen[1], found ? &v : NULL, nlen,
                                                found ? v.expiry : 0);
        if (!p) {
            free(ops);
            return;
        }
        len = nlen;
    }
    int changes = 0;
    resp_add_array(c->reply, (size_t)nops);
    for (int i = 0; i < nops; i++) {
        const bfop *o = &ops[i];
        uint64_t raw = bf_read(p, len, o->offset, o->bits);
        int64_t old = o->sign ? bf_signed(raw, o->bits) : (int64_t)raw;
        if (o->op == BF_GET) {
            resp_add_int(c->reply, old);
            continue;
        }
        uint64_t nv;
        int over = o->op == BF_INCRBY ? bf_add(o, old, o->value, &nv) : bf_add(o, o->value, 0, &nv);
        if (over && o->overflow == BF_FAIL) {
            resp_add_null(c->reply);
            continue;
        }
        bf_write(p, o->offset, o->bits, nv);
        changes++;
        if (o->op == BF_SET)
            resp_add_int(c->reply, old);
        else
            resp_add_int(c->reply, o->sign ? bf_signed(nv, o->bits) : (int64_t)nv);
    }
    free(ops);
    if (changes) kv_notify(c, KV_NOTIFY_STRING, "setbit", argv[1], argvlen[1]);
}

static void kvx_bitfield(ARGS)
{
    bitfield(c, argc, argv, argvlen, 0);
}

static void kvx_bitfield_ro(ARGS)
{
    bitfield(c, argc, argv, argvlen, 1);
}

/* ------------------------------------------------------------ checks */

KV_CHECK(ck_setbit)
{
    uint64_t off;
    long long bit;
    (void)argc;
    if (kv_parse_bitoffset(argv[2], argvlen[2], &off, err) != 0) return -1;
    if (!kv_string2ll(argv[3], argvlen[3], &bit) || (bit & ~1)) {
        resp_add_error(err, "ERR bit is not an integer or out of range");
        return -1;
    }
    return 0;
}

KV_CHECK(ck_bitop)
{
    return bitop_parse(argc, argv, argvlen, err) < 0 ? -1 : 0;
}

KV_CHECK(ck_bitfield)
{
    bfop *ops;
    int nops, writes;
    uint64_t highest;
    if (bf_parse(argc, argv, argvlen, &ops, &nops, &writes, &highest, err) != 0) return -1;
    free(ops);
    return 0;
}

/* ------------------------------------------------------------ command table */

#define W KV_CMD_WRITE
#define R KV_CMD_READONLY
#define F KV_CMD_FAST
#define D KV_CMD_DENYOOM
/* clang-format off */
const kv_command kvx_bits_commands[] = {
    {"setbit", 4, W | D, 1, 1, 1, ck_setbit, kvx_setbit, "bitmap", "2.2.0", "Sets or clears the bit at offset in the string value stored at key"},
    {"getbit", 3, R | F, 1, 1, 1, NULL, kvx_getbit, "bitmap", "2.2.0", "Returns the bit value at offset in the string value stored at key"},
    {"bitcount", -2, R, 1, 1, 1, NULL, kvx_bitcount, "bitmap", "2.6.0", "Count set bits in a string"},
    {"bitpos", -3, R, 1, 1, 1, NULL, kvx_bitpos, "bitmap", "2.8.7", "Find first bit set or clear in a string"},
    {"bitop", -4, W | D, 2, -1, 1, ck_bitop, kvx_bitop, "bitmap", "2.6.0", "Perform bitwise operations between strings"},
    {"bitfield", -2, W | D, 1, 1, 1, ck_bitfield, kvx_bitfield, "bitmap", "3.2.0", "Perform arbitrary bitfield integer operations on strings"},
    {"bitfield_ro", -2, R | F, 1, 1, 1, NULL, kvx_bitfield_ro, "bitmap", "6.0.0", "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD"},
};
/* clang-format on */
#undef W
#undef R
#undef F
#undef D
const size_t kvx_bits_ncommands = sizeof(kvx_bits_commands) / sizeof(kvx_bits_commands[0]);
