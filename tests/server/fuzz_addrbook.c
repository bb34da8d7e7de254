/* fuzz_addrbook -- the address book carried by membership entries
 * (server/addrbook.h) as untrusted bytes from the log. Properties: no
 * crash, no read outside the input; what decodes is well formed (ids
 * unique, nonzero, <= max; ports in range; hosts allowed) and encodes back
 * to the very same bytes (one text per book). The same bytes as one
 * "<host>:<port>" (addrbook_parse_addr: the address in a peer's
 * RAFT.HELLO): what parses is an allowed host and port, and prints back
 * to the very same bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/addrbook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *a = malloc(size ? size : 1);
    memcpy(a, data, size);
    static addrbook b;
    if (addrbook_decode(a, size, &b) == 0) {
        for (uint32_t k = 0; k < b.n; k++) {
            if (!b.e[k].id || b.e[k].id > b.max_id) abort();
            if (b.e[k].port < 1 || b.e[k].port > 65535) abort();
            if (!addrbook_host_ok(b.e[k].host)) abort();
            if (addrbook_find(&b, b.e[k].id) != &b.e[k]) abort();
        }
        static char out[ADDRBOOK_MAX * (ADDRBOOK_HOST_MAX + 48) + 32];
        size_t n = addrbook_encode(&b, out, sizeof(out));
        if (n != size || memcmp(out, a, size)) abort();
    }
    char host[ADDRBOOK_HOST_MAX + 1];
    int port = 0;
    if (addrbook_parse_addr(a, size, host, &port) == 0) {
        if (!addrbook_host_ok(host) || port < 1 || port > 65535) abort();
        char back[ADDRBOOK_HOST_MAX + 16];
        int w = snprintf(back, sizeof(back), "%s:%d", host, port);
        if (w < 0 || (size_t)w != size || memcmp(back, a, size)) abort();
    }
    free(a);
    return 0;
}
