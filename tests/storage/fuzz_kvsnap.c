/* fuzz_kvsnap.c -- libFuzzer target for the snapshot chunk decoder
 * (kvsnap_stage). Any bytes must be staged or refused with KV_ECORRUPT,
 * never read out of bounds or crash; what stages must install, and the
 * installed state must stream back to exactly the records staged (in LMDB
 * order, so only for inputs that staged). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kvtest.h"
#include "storage/kvsnap.h"

static char *dir;
static kvstate *st;
static uint64_t next_index = 1;

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
        if (kvstate_open(&st, dir, 1ull << 30, err, sizeof(err)) != 0) abort();
        atexit(cleanup);
    }
    uint64_t index = next_index++, staged = 0;
    /* Split the input in two chunks at a point it names, so offsets and
     * continuation are exercised too. */
    size_t cut = size ? data[0] % (size + 1) : 0;
    int rc = kvsnap_stage(st, index, 1, 0, data, cut, 0, &staged);
    if (rc == KV_ECORRUPT) return 0;
    if (rc != 0 || staged != cut) abort();
    rc = kvsnap_stage(st, index, 1, cut, data + cut, size - cut, 1, &staged);
    if (rc == KV_ECORRUPT) return 0;
    if (rc != 0 || staged != size) abort();
    if (kvsnap_install(st, index, 1, 1000) != 0) abort();
    /* The installed state streams back exactly what was staged. */
    kvsnap_reader *r;
    if (kvsnap_reader_open(st, &r) != 0) abort();
    if (kvsnap_reader_index(r) != index) abort();
    const uint8_t *d;
    size_t l, total = 0;
    int last = 0;
    while (!last) {
        if (kvsnap_reader_next(r, 1 << 16, &d, &l, &last) != 0) abort();
        total += l;
    }
    kvsnap_reader_close(r);
    if (total != size) abort();
    return 0;
}
