/* fuzz_rdbcodec.c -- libFuzzer target for Redis's RDB value serialization
 * (storage/rdbcodec.c) and RESTORE / DUMP on top of it:
 *   - the input as a value (type byte, payload) through the pure decoder,
 *     with a sink that reads every byte it is given (so a pointer outside
 *     the input or a scratch buffer is caught) and with no sink: both must
 *     agree, and a value said to be whole must have been read inside the
 *     input;
 *   - the input given a valid footer (version 10, its CRC-64) and
 *     RESTOREd with REPLACE: a value malformed (read, as Redis reads it,
 *     from the whole payload) must be answered "ERR Bad data format" and
 *     leave the key as it was; a restored value must DUMP
 *     to a payload that RESTOREs to a key that DUMPs the same bytes;
 *   - the input as LZF data, decompressed into a buffer of the size its
 *     first byte says.
 * Nothing may crash or leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kvtest.h"
#include "storage/kvint.h"
#include "storage/rdbcodec.h"

static char *dir;
static kvstate *st;

static void cleanup(void)
{
    kvstate_close(st);
    kvt_rmrf(dir);
}

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) abort();                                                                         \
    } while (0)

static volatile unsigned sink_sum;

static void touch(const char *p, size_t n)
{
    unsigned s = 0;
    for (size_t i = 0; i < n; i++)
        s += (unsigned char)p[i];
    sink_sum += s;
}

static int t_begin(void *arg, int type, uint64_t count)
{
    (void)arg, (void)count;
    CHECK(type >= 0 && type <= 4);
    return 0;
}

static int t_string(void *arg, const char *p, size_t n)
{
    (void)arg;
    touch(p, n);
    return 0;
}

static int t_elem(void *arg, const char *a, size_t alen, const char *b, size_t blen)
{
    (*(uint64_t *)arg)++;
    touch(a, alen);
    if (b) touch(b, blen);
    return 0;
}

static int t_zelem(void *arg, const char *m, size_t mlen, double score)
{
    (*(uint64_t *)arg)++;
    CHECK(score == score); /* never NaN */
    touch(m, mlen);
    return 0;
}

/* Runs a command; the reply in *out (RESP2), which the caller frees. */
static void run(int argc, char **argv, size_t *argvlen, resp_buf *out)
{
    resp_buf_init(out, 2);
    CHECK(kvt_run(st, 1000, 1000, argc, argv, argvlen, out) == 0);
}

static void run_free(int argc, char **argv, size_t *argvlen)
{
    resp_buf r;
    run(argc, argv, argvlen, &r);
    resp_buf_free(&r);
}

/* The bulk string of a RESP2 reply "$n\r\n...\r\n" (NULL for others). */
static const char *bulk(const resp_buf *r, size_t *n)
{
    if (r->len < 4 || r->p[0] != '$' || r->p[1] == '-') return NULL;
    char *end;
    unsigned long long v = strtoull(r->p + 1, &end, 10);
    CHECK(*end == '\r');
    *n = (size_t)v;
    return end + 2;
}

static char *with_footer(const uint8_t *data, size_t size, size_t *n)
{
    char *p = malloc(size + 10);
    CHECK(p);
    if (size) memcpy(p, data, size);
    p[size] = RDBC_VERSION;
    p[size + 1] = 0;
    uint64_t crc = rdbc_crc64(0, p, size + 2);
    for (int i = 0; i < 8; i++)
        p[size + 2 + i] = (char)(crc >> (8 * i));
    *n = size + 10;
    return p;
}

static void restore(const char *key, const char *payload, size_t n, resp_buf *out)
{
    char *argv[5] = {"restore", (char *)key, "0", (char *)payload, "replace"};
    size_t argvlen[5] = {7, strlen(key), 1, n, 7};
    run(5, argv, argvlen, out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!st) {
        dir = kvt_mkdtemp();
        char err[256];
        if (kvstate_open(&st, dir, 1ull << 30, err, sizeof(err)) != 0) abort();
        atexit(cleanup);
    }

    /* The pure decoder, with and without a sink. */
    uint64_t elems = 0;
    rdbc_sink sink = {&elems, t_begin, t_string, t_elem, t_zelem};
    size_t used = 0, used2 = 0;
    int rc = rdbc_decode_value(data, size, &used, &sink);
    int rc2 = rdbc_decode_value(data, size, &used2, NULL);
    CHECK(rc == rc2);
    CHECK(rc == RDBC_OK || rc == RDBC_EBAD);
    if (rc == RDBC_OK) CHECK(used == used2 && used >= 1 && used <= size);

    /* RESTORE of the value behind a valid footer, over a key that exists. */
    char *set[3] = {"set", "k", "before"};
    size_t setlen[3] = {3, 1, 6};
    run_free(3, set, setlen);
    size_t n;
    char *payload = with_footer(data, size, &n);
    resp_buf r;
    restore("k", payload, n, &r);
    /* RESTORE reads the value from the whole payload, as Redis does: a
     * value cut short may go on into the footer's bytes. */
    int rcp = rdbc_decode_value(payload, n, NULL, NULL);
    if (rcp != RDBC_OK) {
        /* Malformed for the decoder: refused, the old value left. */
        CHECK(r.len > 0 && r.p[0] == '-');
        resp_buf_free(&r);
        char *get[2] = {"get", "k"};
        size_t getlen[2] = {3, 1};
        run(2, get, getlen, &r);
        CHECK(r.len == 12 && memcmp(r.p, "$6\r\nbefore\r\n", 12) == 0);
    } else if (r.len == 5 && memcmp(r.p, "+OK\r\n", 5) == 0) {
        /* DUMP, RESTORE elsewhere, DUMP again: the same bytes. */
        resp_buf d1, d2, r2;
        char *dump[2] = {"dump", "k"};
        size_t dumplen[2] = {4, 1};
        run(2, dump, dumplen, &d1);
        size_t n1, n2;
        const char *p1 = bulk(&d1, &n1);
        CHECK(p1 && rdbc_verify_dump(p1, n1) == 0);
        restore("k2", p1, n1, &r2);
        CHECK(r2.len == 5 && memcmp(r2.p, "+OK\r\n", 5) == 0);
        char *dump2[2] = {"dump", "k2"};
        run(2, dump2, dumplen, &d2);
        const char *p2 = bulk(&d2, &n2);
        CHECK(p2 && n1 == n2 && memcmp(p1, p2, n1) == 0);
        resp_buf_free(&d1);
        resp_buf_free(&d2);
        resp_buf_free(&r2);
    } else {
        /* Decodable but refused: duplicates only. */
        CHECK(r.len > 0 && r.p[0] == '-');
    }
    resp_buf_free(&r);
    free(payload);
    char *del[3] = {"del", "k", "k2"};
    size_t dellen[3] = {3, 1, 2};
    run_free(3, del, dellen);

    /* The input as it is: the footer check refuses almost all of it. */
    restore("k3", (const char *)data, size, &r);
    resp_buf_free(&r);

    /* LZF on its own. */
    if (size > 0) {
        size_t outlen = (size_t)data[0] * 4;
        char *out = malloc(outlen ? outlen : 1);
        CHECK(out);
        if (rdbc_lzf_decompress(data + 1, size - 1, out, outlen) == 0) touch(out, outlen);
        free(out);
    }

    if (kvstate_applied_index(st) % 64 == 0) CHECK(kvstate_commit(st) == 0);
    return 0;
}
