/* fuzz_kvfunction.c -- libFuzzer target for FUNCTION RESTORE's payload
 * decoder (storage/kvx_function.c, kvfunction.h): the input, with a valid
 * DUMP footer (RDB version and CRC-64) appended so that the decoder gets
 * past the checksum, is applied as FUNCTION RESTORE ... FLUSH (the library
 * metadata parser and the library bodies run in the VM), then FUNCTION
 * LIST WITHCODE, FUNCTION DUMP and an FCALL of a name taken from the
 * input. Every outcome must be a reply, never a read outside the input,
 * a crash or a storage error. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kvtest.h"
#include "storage/rdbcodec.h"

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
    if (reply.len == 0) abort();
    resp_buf_free(&reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!st) {
        dir = kvt_mkdtemp();
        st = kvt_open_state(dir);
        atexit(cleanup);
        /* Small budgets: a library body that loops stops quickly. */
        char *b[3] = {"raft.scriptconf", "budget", "100000"};
        size_t bl[3] = {15, 6, 6};
        run(3, b, bl);
        char *m[3] = {"raft.scriptconf", "max-memory", "4000000"};
        size_t ml[3] = {15, 10, 7};
        run(3, m, ml);
    }
    unsigned char *p = malloc(size + 10);
    if (!p) abort();
    if (size) memcpy(p, data, size);
    p[size] = 10;
    p[size + 1] = 0;
    uint64_t crc = rdbc_crc64(0, p, size + 2);
    for (int i = 0; i < 8; i++)
        p[size + 2 + i] = (unsigned char)(crc >> (8 * i));
    char *restore[4] = {"function", "restore", (char *)p, "flush"};
    size_t restorelen[4] = {8, 7, size + 10, 5};
    run(4, restore, restorelen);
    /* The raw input as a payload too (footer checks). */
    size_t rawlen = size;
    char *raw[4] = {"function", "restore", (char *)data, "replace"};
    size_t rawlens[4] = {8, 7, rawlen, 7};
    run(4, raw, rawlens);
    char *list[3] = {"function", "list", "withcode"};
    size_t listlen[3] = {8, 4, 8};
    run(3, list, listlen);
    char *dump[2] = {"function", "dump"};
    size_t dumplen[2] = {8, 4};
    run(2, dump, dumplen);
    size_t fl = size > 8 ? 8 : size;
    char *fcall[4] = {"fcall", (char *)data, "1", "k"};
    size_t fcalllen[4] = {5, fl, 1, 1};
    run(4, fcall, fcalllen);
    char *fcallro[3] = {"fcall_ro", "f", "0"};
    size_t fcallrolen[3] = {8, 1, 1};
    run(3, fcallro, fcallrolen);
    free(p);
    return 0;
}
