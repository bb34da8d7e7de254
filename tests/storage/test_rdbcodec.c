/* test_rdbcodec.c -- the RDB value codec's pure parts (storage/rdbcodec.h):
 * CRC-64 and LZF against known vectors, lengths and strings as Redis writes
 * them, listpack and ziplist entries of every encoding, and the malformed
 * inputs each decoder must refuse. redis-tests/test_dump_restore.py checks
 * the same codec against redis-server itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "storage/kvks.h"
#include "storage/rdbcodec.h"

static void crc64_matches_redis_check_value(void **state)
{
    (void)state;
    assert_true(rdbc_crc64(0, "123456789", 9) == 0xe9c6d914c4b8d9caULL);
    /* Incremental equals whole. */
    uint64_t c = rdbc_crc64(0, "1234", 4);
    assert_true(rdbc_crc64(c, "56789", 5) == 0xe9c6d914c4b8d9caULL);
}

static void lzf_literal_and_back_reference_decode(void **state)
{
    (void)state;
    /* "abc" literal, then a reference of 6 bytes at distance 3: "abcabcabc". */
    const unsigned char in[] = {2, 'a', 'b', 'c', (4 << 5) | 0, 2};
    char out[9];
    assert_int_equal(rdbc_lzf_decompress(in, sizeof(in), out, 9), 0);
    assert_memory_equal(out, "abcabcabc", 9);
    /* Too short, too long, a reference before the start. */
    assert_int_equal(rdbc_lzf_decompress(in, sizeof(in), out, 8), -1);
    char big[10];
    assert_int_equal(rdbc_lzf_decompress(in, sizeof(in), big, 10), -1);
    const unsigned char bad[] = {0, 'a', (1 << 5) | 0, 5};
    assert_int_equal(rdbc_lzf_decompress(bad, sizeof(bad), out, 4), -1);
    const unsigned char cut[] = {5, 'a'};
    assert_int_equal(rdbc_lzf_decompress(cut, sizeof(cut), out, 6), -1);
}

static void lengths_and_strings_are_written_as_redis_writes_them(void **state)
{
    (void)state;
    rdbc_buf b = {0};
    rdbc_put_len(&b, 63);
    rdbc_put_len(&b, 64);
    rdbc_put_len(&b, 16384);
    assert_int_equal(b.len, 1 + 2 + 5);
    assert_memory_equal(b.p, "\x3f\x40\x40\x80\x00\x00\x40\x00", 8);
    b.len = 0;
    rdbc_put_string(&b, "-5", 2);          /* int8 */
    rdbc_put_string(&b, "300", 3);         /* int16 */
    rdbc_put_string(&b, "70000", 5);       /* int32 */
    rdbc_put_string(&b, "0123", 4);        /* not canonical: raw */
    rdbc_put_string(&b, "2147483648", 10); /* past int32: raw */
    const unsigned char want[] = {0xC0, 0xFB, 0xC1, 0x2C, 0x01, 0xC2, 0x70, 0x11, 0x01,
                                  0x00, 4,    '0',  '1',  '2',  '3',  10,   '2',  '1',
                                  '4',  '7',  '4',  '8',  '3',  '6',  '4',  '8'};
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.p, want, sizeof(want));
    rdbc_buf_free(&b);
}

typedef struct collected {
    int type;
    char items[16][32];
    int n;
} collected;

static int c_begin(void *arg, int type, uint64_t count)
{
    (void)count;
    ((collected *)arg)->type = type;
    return 0;
}

static int c_string(void *arg, const char *p, size_t n)
{
    collected *c = arg;
    snprintf(c->items[c->n++], 32, "%.*s", (int)n, p);
    return 0;
}

static int c_elem(void *arg, const char *a, size_t alen, const char *b, size_t blen)
{
    collected *c = arg;
    if (c->n < 16) snprintf(c->items[c->n++], 32, "%.*s", (int)alen, a);
    if (b && c->n < 16) snprintf(c->items[c->n++], 32, "%.*s", (int)blen, b);
    return 0;
}

static int c_zelem(void *arg, const char *m, size_t mlen, double score)
{
    collected *c = arg;
    if (c->n < 16) snprintf(c->items[c->n++], 32, "%.*s=%g", (int)mlen, m, score);
    return 0;
}

static int decode(const void *p, size_t n, collected *c)
{
    memset(c, 0, sizeof(*c));
    rdbc_sink s = {c, c_begin, c_string, c_elem, c_zelem};
    return rdbc_decode_value(p, n, NULL, &s);
}

static void listpack_entries_of_every_encoding_decode(void **state)
{
    (void)state;
    /* A list in QUICKLIST_2 with one packed node: 7-bit 5, 13-bit -3, a
     * 6-bit string "ab", int16 1000, int24 -100000, int32, int64. */
    unsigned char lp[64];
    size_t o = 6;
#define E(...)                                                                                     \
    do {                                                                                           \
        const unsigned char e_[] = {__VA_ARGS__};                                                  \
        memcpy(lp + o, e_, sizeof(e_));                                                            \
        o += sizeof(e_);                                                                           \
        lp[o++] = (unsigned char)sizeof(e_);                                                       \
    } while (0)
    E(5);
    E(0xC0 | 0x1F, 0xFD);
    E(0x82, 'a', 'b');
    E(0xF1, 0xE8, 0x03);
    E(0xF2, 0x60, 0x79, 0xFE);
    E(0xF3, 0x00, 0x00, 0x00, 0x80);
    E(0xF4, 1, 0, 0, 0, 0, 0, 0, 0);
#undef E
    lp[o++] = 0xFF;
    lp[0] = (unsigned char)o, lp[1] = lp[2] = lp[3] = 0;
    lp[4] = 7, lp[5] = 0;
    unsigned char v[80];
    size_t n = 0;
    v[n++] = RDBC_TYPE_LIST_QUICKLIST_2;
    v[n++] = 1; /* one node */
    v[n++] = 2; /* packed */
    v[n++] = (unsigned char)o;
    memcpy(v + n, lp, o);
    n += o;
    collected c;
    assert_int_equal(decode(v, n, &c), RDBC_OK);
    assert_int_equal(c.type, KV_TYPE_LIST);
    assert_int_equal(c.n, 7);
    const char *want[] = {"5", "-3", "ab", "1000", "-100000", "-2147483648", "1"};
    for (int i = 0; i < 7; i++)
        assert_string_equal(c.items[i], want[i]);
    /* The count disagrees; a backlen is wrong; the total is wrong; cut. */
    v[4 + 4] = 6;
    assert_int_equal(decode(v, n, &c), RDBC_EBAD);
    v[4 + 4] = 7;
    v[4 + 7]++;
    assert_int_equal(decode(v, n, &c), RDBC_EBAD);
    v[4 + 7]--;
    v[4]++;
    assert_int_equal(decode(v, n, &c), RDBC_EBAD);
    v[4]--;
    assert_int_equal(decode(v, n - 1, &c), RDBC_EBAD);
    assert_int_equal(decode(v, n, &c), RDBC_OK);
}

static void malformed_values_are_refused(void **state)
{
    (void)state;
    collected c;
    /* Empty collections, unknown types, a stream, truncations. */
    const unsigned char empty_list[] = {RDBC_TYPE_LIST, 0};
    assert_int_equal(decode(empty_list, sizeof(empty_list), &c), RDBC_EBAD);
    const unsigned char stream[] = {15, 0};
    assert_int_equal(decode(stream, sizeof(stream), &c), RDBC_EBAD);
    const unsigned char big_count[] = {RDBC_TYPE_SET, 0x81, 0xff, 0xff, 0xff,
                                       0xff,          0xff, 0xff, 0xff, 0xff};
    assert_int_equal(decode(big_count, sizeof(big_count), &c), RDBC_EBAD);
    const unsigned char lzf_bomb[] = {RDBC_TYPE_STRING, 0xC3, 1, 0x80, 0x7f, 0xff, 0xff, 0xff, 0};
    assert_int_equal(decode(lzf_bomb, sizeof(lzf_bomb), &c), RDBC_EBAD);
    const unsigned char nan_score[] = {RDBC_TYPE_ZSET, 1, 1, 'a', 253};
    assert_int_equal(decode(nan_score, sizeof(nan_score), &c), RDBC_EBAD);
    /* A hash listpack with a field and no value. */
    const unsigned char odd_hash[] = {RDBC_TYPE_HASH_LISTPACK, 9, 9, 0, 0, 0, 1, 0, 1, 1, 0xFF};
    assert_int_equal(decode(odd_hash, sizeof(odd_hash), &c), RDBC_EBAD);
    assert_int_equal(decode(NULL, 0, &c), RDBC_EBAD);
    /* A good one for contrast: an intset of 16-bit values. */
    const unsigned char intset[] = {
        RDBC_TYPE_SET_INTSET, 12, 2, 0, 0, 0, 2, 0, 0, 0, 0xff, 0xff, 7, 0};
    assert_int_equal(decode(intset, sizeof(intset), &c), RDBC_OK);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.items[0], "-1");
    assert_string_equal(c.items[1], "7");
    /* Text scores: 1.5, +inf. */
    const unsigned char zset[] = {RDBC_TYPE_ZSET, 2, 1, 'a', 3, '1', '.', '5', 1, 'b', 254};
    assert_int_equal(decode(zset, sizeof(zset), &c), RDBC_OK);
    assert_string_equal(c.items[0], "a=1.5");
    assert_string_equal(c.items[1], "b=inf");
}

static void dump_footer_is_checked(void **state)
{
    (void)state;
    unsigned char p[16] = {RDBC_TYPE_STRING, 1, 'x', RDBC_VERSION, 0};
    uint64_t crc = rdbc_crc64(0, p, 5);
    for (int i = 0; i < 8; i++)
        p[5 + i] = (unsigned char)(crc >> (8 * i));
    assert_int_equal(rdbc_verify_dump(p, 13), 0);
    p[12] ^= 1;
    assert_int_equal(rdbc_verify_dump(p, 13), -1);
    p[12] ^= 1;
    p[3] = RDBC_VERSION + 1;
    assert_int_equal(rdbc_verify_dump(p, 13), -1);
    assert_int_equal(rdbc_verify_dump(p, 9), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc64_matches_redis_check_value),
        cmocka_unit_test(lzf_literal_and_back_reference_decode),
        cmocka_unit_test(lengths_and_strings_are_written_as_redis_writes_them),
        cmocka_unit_test(listpack_entries_of_every_encoding_decode),
        cmocka_unit_test(malformed_values_are_refused),
        cmocka_unit_test(dump_footer_is_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
