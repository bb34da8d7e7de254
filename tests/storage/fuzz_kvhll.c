/* fuzz_kvhll.c -- libFuzzer target for the HLL decoder (storage/kvx_hll.c).
 * The input, behind a forced "HYLL" magic so most inputs get past the
 * header check, is stored as a string and then walked by every path that
 * reads an HLL: PFCOUNT on it alone and merged with a valid HLL, PFMERGE
 * into it and from it, and PFADD of elements taken from the input (sparse
 * updates, promotion to dense). A corrupt HLL must be answered (an error
 * or a count), never read or written outside its buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kvtest.h"
#include "storage/kvint.h"

#define DENSE_SIZE (16 + 16384 * 6 / 8)

static char *dir;
static kvstate *st;

static void cleanup(void)
{
    kvstate_close(st);
    kvt_rmrf(dir);
}

static void run(int argc, char **argv, size_t *argvlen)
{
    resp_buf reply;
    resp_buf_init(&reply, 2);
    if (kvt_run(st, 1000, 1000, argc, argv, argvlen, &reply) != 0) abort();
    resp_buf_free(&reply);
}

static void run2(const char *a, const char *b)
{
    char *argv[2] = {(char *)a, (char *)b};
    size_t argvlen[2] = {strlen(a), strlen(b)};
    run(2, argv, argvlen);
}

static void run3(const char *a, const char *b, const char *c)
{
    char *argv[3] = {(char *)a, (char *)b, (char *)c};
    size_t argvlen[3] = {strlen(a), strlen(b), strlen(c)};
    run(3, argv, argvlen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!st) {
        dir = kvt_mkdtemp();
        char err[256];
        if (kvstate_open(&st, dir, 1ull << 30, err, sizeof(err)) != 0) abort();
        atexit(cleanup);
        run3("pfadd", "ok", "x"); /* a valid sparse HLL to merge with */
    }
    /* The value: "HYLL" then the input (its first byte is the encoding).
     * A dense one (encoding 0) shorter than a dense HLL is padded with
     * zero registers to the one length a dense HLL may have, as the
     * fuzzer's inputs are shorter. */
    size_t vlen = size + 4;
    if (size > 0 && data[0] == 0 && vlen < DENSE_SIZE) vlen = DENSE_SIZE;
    char *val = calloc(vlen, 1);
    if (!val) abort();
    memcpy(val, "HYLL", 4);
    memcpy(val + 4, data, size);
    char *set[3] = {"set", "h", val};
    size_t setlen[3] = {3, 1, vlen};
    run(3, set, setlen);

    run2("pfcount", "h");
    run3("pfcount", "h", "ok");
    run3("pfmerge", "m", "h");

    /* PFADD of up to 64 elements cut from the input, 4 bytes each. */
    char *argv[66];
    size_t argvlen[66];
    int argc = 0;
    argv[argc] = "pfadd", argvlen[argc++] = 5;
    argv[argc] = "h", argvlen[argc++] = 1;
    for (size_t off = 0; off + 4 <= size && argc < 66; off += 4) {
        argv[argc] = (char *)data + off;
        argvlen[argc++] = 4;
    }
    run(argc, argv, argvlen);
    run2("pfcount", "h");
    run3("pfmerge", "h", "ok");
    run2("pfcount", "h");
    free(val);
    if (kvstate_applied_index(st) % 64 == 0 && kvstate_commit(st) != 0) abort();
    return 0;
}
