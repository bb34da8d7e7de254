/* fuzz_codec.c -- libFuzzer target for the raft/ decoders. Any input must
 * decode or be rejected without reading out of bounds; what decodes must
 * re-encode to the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "raft/raft.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    raft_msg *m = NULL;
    if (raft_msg_decode(data, size, NULL, &m) == 0) {
        size_t n = raft_msg_encoded_size(m);
        uint8_t *buf = malloc(n ? n : 1);
        if (!buf || raft_msg_encode(m, buf, n) != n || n != size || memcmp(buf, data, n) != 0)
            abort();
        free(buf);
        raft_msg_free(m, NULL);
    }
    raft_entry e;
    size_t used;
    if (raft_entry_decode(data, size, &e, &used) == 0 && used > size) abort();
    return 0;
}
