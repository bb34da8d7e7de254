/* fuzz_codec.c -- libFuzzer target for the raft/ decoders (messages,
 * standalone entries, conf-change payloads). Any input must decode or be
 * rejected without reading out of bounds; what decodes must re-encode to
 * the same bytes (one encoding per message: version 2 only when a
 * snapshot names learners). */
#include <stdlib.h>
#include <string.h>

#include "raft/raft.h"

static void msg_roundtrip(const uint8_t *data, size_t size)
{
    raft_msg *m = NULL;
    if (raft_msg_decode(data, size, NULL, &m) != 0) return;
    size_t n = raft_msg_encoded_size(m);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf || raft_msg_encode(m, buf, n) != n) abort();
    if (n != size || memcmp(buf, data, n) != 0) abort();
    free(buf);
    raft_msg_free(m, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    msg_roundtrip(data, size);
    raft_entry e;
    size_t used;
    if (raft_entry_decode(data, size, &e, &used) == 0 && used > size) abort();
    raft_conf_change cc;
    if (raft_conf_change_decode(data, size, &cc) == 0) {
        uint8_t buf[RAFT_CONF_CHANGE_MAX_BYTES];
        size_t n = raft_conf_change_encode(&cc, buf, sizeof buf);
        if (n != size || memcmp(buf, data, n) != 0) abort();
        if (raft_conf_check(&cc.conf) != 0) abort();
    }
    return 0;
}
