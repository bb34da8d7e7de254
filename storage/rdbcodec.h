/* rdbcodec.h -- Redis 7.0's RDB value serialization (rdb.c's
 * rdbSaveObject / rdbLoadObject), as DUMP and RESTORE carry it and as an RDB
 * file holds each key's value: a type byte, then the payload.
 *
 * Decoding is pure: bytes in, a stream of elements out through a sink, no
 * state touched. It reads every encoding redis-server 7.0.15 writes or
 * still loads for the types RaftKV has:
 *
 *   string  raw, int-encoded (8/16/32 bit), LZF-compressed
 *   list    RDB_TYPE_LIST, QUICKLIST (ziplist nodes), QUICKLIST_2 (plain
 *           and listpack nodes), LIST_ZIPLIST
 *   set     RDB_TYPE_SET, SET_INTSET
 *   hash    RDB_TYPE_HASH, HASH_ZIPLIST, HASH_LISTPACK
 *   zset    RDB_TYPE_ZSET (text scores), ZSET_2 (binary doubles),
 *           ZSET_ZIPLIST, ZSET_LISTPACK
 *
 * Every length and count is checked against the bytes left before it is
 * used, nothing is allocated from a count, and a value that is not exactly
 * what Redis would load (truncated, an empty collection, a NaN score, an
 * unknown type, a listpack or ziplist whose headers disagree with its
 * entries) is RDBC_EBAD: RESTORE answers "ERR Bad data format".
 *
 * Encoding writes what redis-server 7.0.15 RESTOREs and converts to the
 * encoding it would choose itself: strings as Redis's rdbSaveStringObject
 * (integer encoding for the integers that fit 32 bits, otherwise raw; no
 * LZF on output), lists as RDB_TYPE_LIST, sets as RDB_TYPE_SET, hashes as
 * RDB_TYPE_HASH, sorted sets as RDB_TYPE_ZSET_2.
 *
 * The DUMP payload is the value, then the RDB version (2 bytes LE, 10) and
 * the CRC-64 (Jones, reflected, as Redis's crc64.c; 8 bytes LE) of
 * everything before it.
 */
#ifndef RAFTKV_RDBCODEC_H
#define RAFTKV_RDBCODEC_H

#include <stddef.h>
#include <stdint.h>

struct kv_ctx;
struct kv_val;

/* The RDB version DUMP writes and the highest RESTORE accepts. */
#define RDBC_VERSION 10

/* Redis 7.0's value type bytes (rdb.h). */
enum {
    RDBC_TYPE_STRING = 0,
    RDBC_TYPE_LIST = 1,
    RDBC_TYPE_SET = 2,
    RDBC_TYPE_ZSET = 3,
    RDBC_TYPE_HASH = 4,
    RDBC_TYPE_ZSET_2 = 5,
    RDBC_TYPE_HASH_ZIPMAP = 9, /* not read: Redis < 2.6 */
    RDBC_TYPE_LIST_ZIPLIST = 10,
    RDBC_TYPE_SET_INTSET = 11,
    RDBC_TYPE_ZSET_ZIPLIST = 12,
    RDBC_TYPE_HASH_ZIPLIST = 13,
    RDBC_TYPE_LIST_QUICKLIST = 14,
    RDBC_TYPE_STREAM_LISTPACKS = 15, /* not read: no streams here */
    RDBC_TYPE_HASH_LISTPACK = 16,
    RDBC_TYPE_ZSET_LISTPACK = 17,
    RDBC_TYPE_LIST_QUICKLIST_2 = 18,
};

/* Results. */
enum {
    RDBC_OK = 0,
    RDBC_EBAD = -1,   /* malformed, truncated or unsupported value */
    RDBC_ENOMEM = -2, /* an allocation failed (kv_malloc) */
    RDBC_ESTOP = -3,  /* a sink callback returned non-zero */
};

/* ------------------------------------------------------------ output */

/* A growable byte buffer. Zero-initialise it; free with rdbc_buf_free().
 * After a failed allocation oom is set, later appends do nothing and len
 * stops growing. */
typedef struct rdbc_buf {
    unsigned char *p;
    size_t len, cap;
    int oom;
} rdbc_buf;

void rdbc_buf_free(rdbc_buf *b);
void rdbc_put_raw(rdbc_buf *b, const void *p, size_t n);
void rdbc_put_u8(rdbc_buf *b, unsigned v);
/* rdbSaveLen: 6-bit, 14-bit, 32-bit or 64-bit length. */
void rdbc_put_len(rdbc_buf *b, uint64_t len);
/* rdbSaveRawString without compression: an integer that fits 32 bits and
 * reads back as the same bytes (string2ll) is integer-encoded, anything
 * else is a length and the bytes. */
void rdbc_put_string(rdbc_buf *b, const void *s, size_t n);
/* rdbSaveBinaryDoubleValue: 8 bytes little-endian. */
void rdbc_put_double(rdbc_buf *b, double d);

/* Appends key's value v (a lookup's result, any type) as type byte and
 * payload, reading a collection's elements through kvks.h's iterators in
 * c's transaction. 0, or -1 with c->rc set (KV_ENOMEM when out runs out
 * of memory). */
int rdbc_encode_value(struct kv_ctx *c, const struct kv_val *v, rdbc_buf *out);

/* DUMP: rdbc_encode_value(), then the version and the CRC-64. 0 or -1
 * (c->rc set). */
int rdbc_dump(struct kv_ctx *c, const struct kv_val *v, rdbc_buf *out);

/* Redis's crc64(crc, p, n): crc64(0, "123456789", 9) = 0xe9c6d914c4b8d9ca. */
uint64_t rdbc_crc64(uint64_t crc, const void *p, size_t n);

/* verifyDumpPayload: at least 10 bytes, a version <= RDBC_VERSION and a
 * matching CRC-64. 0 or -1. */
int rdbc_verify_dump(const void *p, size_t n);

/* ------------------------------------------------------------ input */

/* What a decoded value is made of, delivered in payload order. Pointers
 * are valid only during the call (they may point into the input or into
 * the decoder's scratch buffers). Each callback returns 0 to go on, or
 * anything else to stop the decode (RDBC_ESTOP). A NULL callback is
 * skipped, so a sink of NULLs (or no sink) only validates. */
typedef struct rdbc_sink {
    void *arg;
    /* First, once: the value's type (KV_TYPE_STRING / KV_TYPE_LIST / ...
     * of kvks.h) and, for a collection, the count the payload announces
     * (for the compact encodings: 0, unknown until the end). */
    int (*begin)(void *arg, int kv_type, uint64_t count);
    /* A string value, whole. */
    int (*string)(void *arg, const char *p, size_t n);
    /* A list element or set member (b NULL, blen 0), or a hash's field a
     * and value b. */
    int (*elem)(void *arg, const char *a, size_t alen, const char *b, size_t blen);
    /* A sorted set's member and score (never NaN). */
    int (*zelem)(void *arg, const char *m, size_t mlen, double score);
} rdbc_sink;

/* Decodes one value (type byte and payload) from p[0..n); *used (may be
 * NULL) gets the bytes it took: a DUMP payload's value may be followed by
 * bytes Redis ignores, an RDB file's by the next key. A collection with no
 * element is RDBC_EBAD, as Redis answers it. Returns RDBC_OK, RDBC_EBAD,
 * RDBC_ENOMEM or RDBC_ESTOP. */
int rdbc_decode_value(const void *p, size_t n, size_t *used, const rdbc_sink *sink);

/* A reader over an RDB byte stream, for the parts of an RDB file around
 * the values (opcodes, keys, aux fields). Zero-initialise it with p and n
 * set; rdbc_reader_free() releases its scratch buffers. */
typedef struct rdbc_reader {
    const unsigned char *p;
    size_t n, off;
    unsigned char *scratch[2]; /* decompressed / formatted strings */
    size_t scratchcap[2];
} rdbc_reader;

void rdbc_reader_free(rdbc_reader *r);
/* rdbLoadLen: RDBC_OK with *len, *encoded (may be NULL) set when the
 * length is a special encoding (then *len is its kind: 0 int8, 1 int16, 2
 * int32, 3 LZF). RDBC_EBAD when truncated. */
int rdbc_read_len(rdbc_reader *r, uint64_t *len, int *encoded);
/* rdbGenericLoadStringObject: any string encoding, returned as bytes in
 * *s / *n, valid until the next read into the same slot (0 or 1): a hash
 * reads its field into slot 0 and its value into slot 1. */
int rdbc_read_string(rdbc_reader *r, int slot, const char **s, size_t *n);

/* LZF (liblzf's format, as Redis's lzf_d.c): decompresses in[0..inlen)
 * into exactly outlen bytes of out. 0, or -1 when the input is malformed,
 * refers outside what was written, or does not give exactly outlen. */
int rdbc_lzf_decompress(const void *in, size_t inlen, void *out, size_t outlen);

/* ------------------------------------------------------------ restore */

/* RESTORE's apply: decodes the value at p[0..n) (a verified DUMP payload,
 * footer included: Redis reads the value from the whole payload, so one
 * that runs into the footer's bytes restores there; or a value from an
 * RDB file) and stores it under
 * key in c->db with expiry (0: none). A collection gets a new version and
 * the encoding Redis would give it after loading. The value is decoded
 * whole first; only then is a key already under that name deleted (as
 * RESTORE ... REPLACE: a bad payload leaves it in place), *deleted (may be
 * NULL) saying whether there was one. Returns RDBC_OK, RDBC_EBAD (nothing
 * changed: element records already written are removed again), or -1
 * with c->rc set (a storage error or out of memory). */
int rdbc_store(struct kv_ctx *c, const char *key, size_t keylen, const void *p, size_t n,
               int64_t expiry, int *deleted);

#endif
