/* kvnotify.c -- what applying tells the server: keys that may serve a
 * blocked client, published messages and keyspace notifications
 * (kvstate.h "kvstate_hooks"). Only an apply reaches the hooks, so every
 * node makes the same calls in the same order. */
#include "storage/kvint.h"

static int hooked(const kv_ctx *c)
{
    return c->st && c->writable && c->st->applying;
}

void kv_signal_ready(kv_ctx *c, const char *key, size_t keylen)
{
    if (hooked(c) && c->st->hooks.key_ready)
        c->st->hooks.key_ready(c->st->hooks.ctx, c->db, key, keylen);
}

void kv_key_written(kv_ctx *c, int db, const char *key, size_t keylen)
{
    if (hooked(c) && c->st->hooks.key_written)
        c->st->hooks.key_written(c->st->hooks.ctx, db, key, keylen);
}

long long kv_publish(kv_ctx *c, int shard, const char *channel, size_t chlen, const char *msg,
                     size_t msglen)
{
    if (!hooked(c) || !c->st->hooks.publish) return 0;
    return c->st->hooks.publish(c->st->hooks.ctx, shard, channel, chlen, msg, msglen);
}

void kv_notify(kv_ctx *c, int type, const char *event, const char *key, size_t keylen)
{
    (void)c, (void)type, (void)event, (void)key, (void)keylen;
}
