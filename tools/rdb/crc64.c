/* CRC-64/Jones, table-driven one byte at a time (see crc64.h). */
#include "tools/rdb/crc64.h"

#include <pthread.h>

/* The reflected form of the Jones polynomial 0xad93d23594c935a9. */
#define JONES_REFLECTED 0x95ac9329ac4bc9b5ULL

static uint64_t table[256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_init(void)
{
    for (unsigned i = 0; i < 256; i++) {
        uint64_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ JONES_REFLECTED : c >> 1;
        table[i] = c;
    }
}

uint64_t rdb_crc64(uint64_t crc, const void *p, size_t n)
{
    const unsigned char *b = p;
    pthread_once(&table_once, table_init);
    while (n--)
        crc = table[(crc ^ *b++) & 0xff] ^ (crc >> 8);
    return crc;
}
