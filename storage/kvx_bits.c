/* kvx_bits.c -- the bitmap commands (Redis's bitops.c): SETBIT, GETBIT,
 * BITCOUNT, BITPOS. */
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

/* ------------------------------------------------------------ LCS */

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
};
/* clang-format on */
#undef W
#undef R
#undef F
#undef D
const size_t kvx_bits_ncommands = sizeof(kvx_bits_commands) / sizeof(kvx_bits_commands[0]);
