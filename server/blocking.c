/* blocking.c -- clients blocked by BLPOP, BRPOP, BLMOVE, BRPOPLPUSH,
 * BLMPOP, BZPOPMIN, BZPOPMAX and BZMPOP. */
#include "server/server.h"

void blocking_key_ready(void *ctx, int db, const char *key, size_t keylen)
{
    (void)ctx, (void)db, (void)key, (void)keylen;
}

void blocking_client_gone(client *c)
{
    (void)c;
}
