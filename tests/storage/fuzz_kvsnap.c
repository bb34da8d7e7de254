/* fuzz_kvsnap.c -- libFuzzer target for the snapshot chunk decoder
 * (kvsnap_stage). Any bytes must be staged or refused with KV_ECORRUPT (or
 * KV_EFULL for a value the map cannot hold), never read out of bounds or
 * crash, the state transaction staying usable; what stages must install,
 * and the installed state must stream back to exactly the records staged:
 * the same (database, key, value) triples, however the input split the
 * values into pieces (so only for inputs that staged). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kvtest.h"
#include "storage/kvsnap.h"

static char *dir;
static kvstate *st;
static uint64_t next_index = 1;

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* The records of a stream that staged (so well-formed), pieces joined:
 * for each, db, klen, vlen, key, value, in a buffer to compare. */
static uint8_t *records(const uint8_t *p, size_t n, size_t *outlen)
{
    uint8_t *out = malloc(2 * n + 64);
    size_t o = 0, at = 0;
    if (!out) abort();
    while (at < n) {
        size_t kl = (size_t)le(p + at + 1, 4), pl = (size_t)le(p + at + 5, 4);
        uint64_t vlen = le(p + at + 9, 8), voff = le(p + at + 17, 8);
        if (voff == 0) {
            out[o++] = p[at];
            memcpy(out + o, p + at + 1, 4);
            memcpy(out + o + 4, p + at + 9, 8);
            memcpy(out + o + 12, p + at + KVSNAP_PIECE_HDR, kl);
            o += 12 + kl;
        }
        (void)vlen;
        memcpy(out + o, p + at + KVSNAP_PIECE_HDR + kl, pl);
        o += pl;
        at += KVSNAP_PIECE_HDR + kl + pl;
    }
    *outlen = o;
    return out;
}

static void cleanup(void)
{
    kvstate_close(st);
    kvt_rmrf(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!st) {
        dir = kvt_mkdtemp();
        char err[256];
        /* A small map: a piece may claim a value of any length, and what
         * the map can hold is reserved at once. */
        if (kvstate_open(&st, dir, 64ull << 20, err, sizeof(err)) != 0) abort();
        atexit(cleanup);
    }
    uint64_t index = next_index++, staged = 0;
    /* Reserved pages of refused stagings are released at a commit. */
    if (index % 64 == 0 && kvstate_commit(st) != 0) abort();
    /* The input's last two bytes name where to split the rest into two
     * chunks, so offsets and continuation across chunks are exercised. */
    if (size < 2) return 0;
    size -= 2;
    size_t cut = ((size_t)data[size] | (size_t)data[size + 1] << 8) % (size + 1);
    int rc = kvsnap_stage(st, index, 1, 0, data, cut, 0, &staged);
    if (rc == KV_ECORRUPT || rc == KV_EFULL) return 0;
    if (rc != 0 || staged != cut) abort();
    rc = kvsnap_stage(st, index, 1, cut, data + cut, size - cut, 1, &staged);
    if (rc == KV_ECORRUPT || rc == KV_EFULL) return 0;
    if (rc != 0 || staged != size) abort();
    if (kvsnap_install(st, index, 1, 1000) != 0) abort();
    /* The installed state streams back exactly what was staged. */
    kvsnap_reader *r;
    if (kvsnap_reader_open(st, &r) != 0) abort();
    if (kvsnap_reader_index(r) != index) abort();
    const uint8_t *d;
    size_t l, total = 0;
    int last = 0;
    uint8_t *back = NULL;
    while (!last) {
        /* The smallest bound, so the stream back splits values too. */
        if (kvsnap_reader_next(r, KVSNAP_MIN_CHUNK, &d, &l, &last) != 0) abort();
        if (l > KVSNAP_MIN_CHUNK) abort();
        uint8_t *b = realloc(back, total + l + 1);
        if (!b) abort();
        back = b;
        if (l) memcpy(back + total, d, l);
        total += l;
    }
    kvsnap_reader_close(r);
    size_t la, lb;
    uint8_t *a = records(data, size, &la), *b = records(back, total, &lb);
    if (la != lb || memcmp(a, b, la) != 0) abort();
    free(a);
    free(b);
    free(back);
    return 0;
}
