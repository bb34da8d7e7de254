/* LZF decompression: a control byte below 32 starts a literal run of
 * ctrl+1 bytes; otherwise its top 3 bits are a length (7 meaning "one more
 * length byte follows") and, with the next byte, a back-reference offset
 * into the output (liblzf's lzf_d.c). */
#include "tools/rdb/lzf.h"

size_t rdb_lzf_decompress(const void *in, size_t inlen, void *out, size_t outcap)
{
    const unsigned char *ip = in, *iend = ip + inlen;
    unsigned char *op = out, *obeg = out, *oend = op + outcap;

    while (ip < iend) {
        unsigned ctrl = *ip++;
        if (ctrl < 32) {
            size_t run = (size_t)ctrl + 1;
            if ((size_t)(oend - op) < run || (size_t)(iend - ip) < run) return 0;
            for (size_t i = 0; i < run; i++)
                *op++ = *ip++;
        } else {
            size_t len = ctrl >> 5;
            size_t back = (size_t)(ctrl & 0x1f) << 8;
            if (ip >= iend) return 0;
            if (len == 7) {
                len += *ip++;
                if (ip >= iend) return 0;
            }
            back += *ip++;
            len += 2;
            if ((size_t)(op - obeg) < back + 1 || (size_t)(oend - op) < len) return 0;
            const unsigned char *ref = op - back - 1;
            for (size_t i = 0; i < len; i++)
                *op++ = *ref++;
        }
    }
    return (size_t)(op - obeg);
}
