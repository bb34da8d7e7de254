/* kvx_expire.c -- the expiry commands (Redis's expire.c): EXPIRE and its
 * variants, TTL and its variants, PERSIST. Relative times are taken against
 * the entry's tau, so every node computes the same absolute expiry. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/kvcmd.h"
#include "storage/kvcmd_int.h"
#include "storage/kverr.h"
#include "storage/kvint.h"

static void expire_generic(ARGS, int seconds, int absolute, const char *name)
{
    kv_val v;
    int flags;
    long long when;

    if (kv_parse_expire(argc, argv, argvlen, seconds, name, &flags, &when, c->reply) != 0) return;
    if (!absolute) {
        if (when > LLONG_MAX - c->tau) {
            resp_add_errorf(c->reply, "ERR invalid expire time in '%s' command", name);
            return;
        }
        when += c->tau;
    }
    int found = kv_lookup(c, argv[1], argvlen[1], &v);
    if (found < 0) return;
    if (!found) {
        resp_add_int(c->reply, 0);
        return;
    }
    long long cur = v.expiry ? v.expiry : -1;
    if (((flags & EXP_NX) && cur != -1) || ((flags & EXP_XX) && cur == -1) ||
        ((flags & EXP_GT) && (when <= cur || cur == -1)) ||
        ((flags & EXP_LT) && cur != -1 && when >= cur)) {
        resp_add_int(c->reply, 0);
        return;
    }
    if (when <= c->tau) {
        if (kv_delete(c, argv[1], argvlen[1]) == 1)
            kv_notify(c, KV_NOTIFY_GENERIC, "del", argv[1], argvlen[1]);
    } else if (kv_set_expiry(c, argv[1], argvlen[1], when) == 0) {
        kv_notify(c, KV_NOTIFY_GENERIC, "expire", argv[1], argvlen[1]);
    }
    if (c->rc == 0) resp_add_int(c->reply, 1);
}

static void kvx_expire(ARGS)
{
    expire_generic(c, argc, argv, argvlen, 1, 0, "expire");
}
static void kvx_pexpire(ARGS)
{
    expire_generic(c, argc, argv, argvlen, 0, 0, "pexpire");
}
static void kvx_expireat(ARGS)
{
    expire_generic(c, argc, argv, argvlen, 1, 1, "expireat");
}
static void kvx_pexpireat(ARGS)
{
    expire_generic(c, argc, argv, argvlen, 0, 1, "pexpireat");
}

static void ttl_generic(ARGS, int ms, int absolute)
{
    kv_val v;
    UNUSED_ARGS;
    int found = kv_lookup(c, argv[1], argvlen[1], &v);
    if (found < 0) return;
    if (!found) {
        resp_add_int(c->reply, -2);
        return;
    }
    if (v.expiry == 0) {
        resp_add_int(c->reply, -1);
        return;
    }
    /* Relative to the node's wall clock, never below 0 while the key
     * still exists at tau. */
    long long ttl = absolute ? v.expiry : v.expiry - c->wall;
    if (ttl < 0) ttl = 0;
    resp_add_int(c->reply, ms ? ttl : (ttl + 500) / 1000);
}

static void kvx_ttl(ARGS)
{
    ttl_generic(c, argc, argv, argvlen, 0, 0);
}
static void kvx_pttl(ARGS)
{
    ttl_generic(c, argc, argv, argvlen, 1, 0);
}
static void kvx_expiretime(ARGS)
{
    ttl_generic(c, argc, argv, argvlen, 0, 1);
}
static void kvx_pexpiretime(ARGS)
{
    ttl_generic(c, argc, argv, argvlen, 1, 1);
}

static void kvx_persist(ARGS)
{
    kv_val v;
    UNUSED_ARGS;
    int found = kv_lookup(c, argv[1], argvlen[1], &v);
    if (found < 0) return;
    if (!found || v.expiry == 0) {
        resp_add_int(c->reply, 0);
        return;
    }
    if (kv_set_expiry(c, argv[1], argvlen[1], 0) == 0) {
        kv_notify(c, KV_NOTIFY_GENERIC, "persist", argv[1], argvlen[1]);
        resp_add_int(c->reply, 1);
    }
}

/* ------------------------------------------------------------ keyspace */

/* ------------------------------------------------------------ checks */

static int ck_expire_generic(int argc, char **argv, size_t *argvlen, int seconds, const char *name,
                             resp_buf *err)
{
    int flags;
    long long when;
    return kv_parse_expire(argc, argv, argvlen, seconds, name, &flags, &when, err);
}

KV_CHECK(ck_expire)
{
    return ck_expire_generic(argc, argv, argvlen, 1, "expire", err);
}

KV_CHECK(ck_pexpire)
{
    return ck_expire_generic(argc, argv, argvlen, 0, "pexpire", err);
}

KV_CHECK(ck_expireat)
{
    return ck_expire_generic(argc, argv, argvlen, 1, "expireat", err);
}

KV_CHECK(ck_pexpireat)
{
    return ck_expire_generic(argc, argv, argvlen, 0, "pexpireat", err);
}

/* ------------------------------------------------------------ command table */

#define W KV_CMD_WRITE
#define R KV_CMD_READONLY
#define F KV_CMD_FAST
#define D KV_CMD_DENYOOM
/* clang-format off */
const kv_command kvx_expire_commands[] = {
    {"expire", -3, W | F, 1, 1, 1, ck_expire, kvx_expire, "generic", "1.0.0", "Set a key's time to live in seconds"},
    {"pexpire", -3, W | F, 1, 1, 1, ck_pexpire, kvx_pexpire, "generic", "2.6.0", "Set a key's time to live in milliseconds"},
    {"expireat", -3, W | F, 1, 1, 1, ck_expireat, kvx_expireat, "generic", "1.2.0", "Set the expiration for a key as a UNIX timestamp"},
    {"pexpireat", -3, W | F, 1, 1, 1, ck_pexpireat, kvx_pexpireat, "generic", "2.6.0", "Set the expiration for a key as a UNIX timestamp specified in milliseconds"},
    {"ttl", 2, R | F, 1, 1, 1, NULL, kvx_ttl, "generic", "1.0.0", "Get the time to live for a key in seconds"},
    {"pttl", 2, R | F, 1, 1, 1, NULL, kvx_pttl, "generic", "2.6.0", "Get the time to live for a key in milliseconds"},
    {"expiretime", 2, R | F, 1, 1, 1, NULL, kvx_expiretime, "generic", "7.0.0", "Get the expiration Unix timestamp for a key"},
    {"pexpiretime", 2, R | F, 1, 1, 1, NULL, kvx_pexpiretime, "generic", "7.0.0", "Get the expiration Unix timestamp for a key in milliseconds"},
    {"persist", 2, W | F, 1, 1, 1, NULL, kvx_persist, "generic", "2.2.0", "Remove the expiration from a key"},
};
/* clang-format on */
#undef W
#undef R
#undef F
#undef D
const size_t kvx_expire_ncommands = sizeof(kvx_expire_commands) / sizeof(kvx_expire_commands[0]);
