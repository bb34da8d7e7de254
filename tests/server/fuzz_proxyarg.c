/* fuzz_proxyarg -- RAFT.PROXY's second argument (server/proxyarg.h) as
 * untrusted bytes from a peer. Properties: no crash, no read outside the
 * argument; what parses names pieces inside it, a user with no NUL; what
 * proxyarg_format writes parses back to the same protocol, database, user
 * and address. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/proxyarg.h"

static void inside(const char *base, size_t len, const char *p, size_t n)
{
    if (!p) return;
    if (p < base || p + n > base + len) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *a = malloc(size ? size : 1);
    memcpy(a, data, size);
    proxyarg o;
    if (proxyarg_parse(a, size, &o) == 0) {
        if (o.proto != 2 && o.proto != 3) abort();
        inside(a, size, o.user, o.ulen);
        inside(a, size, o.addr, o.alen);
        if (o.user && memchr(o.user, '\0', o.ulen)) abort();
        if (o.db >= 0 && (!o.addr || !memchr(o.addr, '\0', o.alen))) {
            char *addr = NULL;
            if (o.addr) {
                addr = malloc(o.alen + 1);
                memcpy(addr, o.addr, o.alen);
                addr[o.alen] = '\0';
            }
            size_t need = proxyarg_format(NULL, 0, o.proto, o.db, o.user, o.ulen, addr);
            char *b = malloc(need + 1);
            if (proxyarg_format(b, need + 1, o.proto, o.db, o.user, o.ulen, addr) != need) abort();
            proxyarg r;
            if (proxyarg_parse(b, need, &r) != 0) abort();
            if (r.proto != o.proto || r.db != o.db) abort();
            if (!r.user != !o.user ||
                (o.user && (r.ulen != o.ulen || memcmp(r.user, o.user, o.ulen))))
                abort();
            if (o.alen && (r.alen != o.alen || memcmp(r.addr, o.addr, o.alen))) abort();
            free(b);
            free(addr);
        }
    }
    free(a);
    return 0;
}
