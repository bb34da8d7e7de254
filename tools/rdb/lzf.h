/* LZF decompression (Marc Lehmann's liblzf format), as Redis stores
 * compressed strings in an RDB file. Only decompression: raftkv-rdb writes
 * its strings uncompressed. */
#ifndef RAFTKV_TOOLS_LZF_H
#define RAFTKV_TOOLS_LZF_H

#include <stddef.h>

/* Decompresses in[0..inlen) into out[0..outcap). Returns the number of bytes
 * written, or 0 when the input is malformed (a back reference before the
 * start, a run past either end) or does not fit in outcap. Never reads or
 * writes outside the two buffers. */
size_t rdb_lzf_decompress(const void *in, size_t inlen, void *out, size_t outcap);

#endif
