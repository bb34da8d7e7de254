/* libFuzzer target: rdb_parse over arbitrary bytes, with callbacks that touch
 * every byte they are handed (so ASan sees an out-of-bounds pointer). The CRC
 * check would reject nearly every mutated input before the second pass, so
 * inputs are given a valid trailer when they have an EOF byte to put it after. */
#include <stdlib.h>
#include <string.h>

#include "tools/rdb/crc64.h"
#include "tools/rdb/rdbfile.h"

static unsigned sink;

static int touch(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sink += p[i];
    return 0;
}

static int on_aux(void *ctx, const unsigned char *a, size_t an, const unsigned char *b, size_t bn)
{
    (void)ctx;
    return touch(a, an) + touch(b, bn);
}

static int on_entry(void *ctx, const rdb_entry *e)
{
    (void)ctx;
    return touch(e->key, e->keylen) + touch(e->value, e->valuelen);
}

static int on_function(void *ctx, const unsigned char *code, size_t n)
{
    (void)ctx;
    return touch(code, n);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    rdb_handler h = {on_aux, on_entry, on_function};
    char err[256];
    /* As is, then with a fresh CRC64 over all but the last 8 bytes. */
    rdb_parse(data, size, &h, NULL, NULL, err, sizeof err);
    if (size >= 18) {
        unsigned char *copy = malloc(size);
        if (!copy) return 0;
        memcpy(copy, data, size);
        uint64_t crc = rdb_crc64(0, copy, size - 8);
        for (int i = 0; i < 8; i++)
            copy[size - 8 + i] = (unsigned char)(crc >> (8 * i));
        rdb_parse(copy, size, &h, NULL, NULL, err, sizeof err);
        free(copy);
    }
    return 0;
}
