/* CRC-64/Jones as Redis computes it over an RDB file and a DUMP payload:
 * reflected polynomial 0xad93d23594c935a9, initial value 0, no final xor.
 * crc64(0, "123456789", 9) == 0xe9c6d914c4b8d9ca. */
#ifndef RAFTKV_TOOLS_CRC64_H
#define RAFTKV_TOOLS_CRC64_H

#include <stddef.h>
#include <stdint.h>

/* Continues crc over n bytes of p; start with crc 0. Thread-safe: the table
 * is built once, on first use. */
uint64_t rdb_crc64(uint64_t crc, const void *p, size_t n);

#endif
