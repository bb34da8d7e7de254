/* kvnotify.c -- what applying tells the server: keys that may serve a
 * blocked client, published messages and keyspace notifications
 * (kvstate.h "kvstate_hooks"). Only an apply reaches the hooks, so every
 * node makes the same calls in the same order.
 *
 * notify-keyspace-events is state, not a node's configuration: which
 * events an apply emits must be the same on every node, so the setting is
 * an entry of the log (RAFT.NOTIFYCONF, proposed by CONFIG SET) and lives
 * in the pair's metadata (kvint.h PMETA_NOTIFY), which travels in
 * snapshots. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/kvcmd.h"
#include "storage/kvcmd_int.h"

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

/* ------------------------------------------------------------ keyspace events */

int kv_notify_parse(const char *classes, size_t len)
{
    int flags = 0;
    for (size_t i = 0; i < len; i++) {
        switch (classes[i]) {
        case 'A':
            flags |= KV_NOTIFY_ALL;
            break;
        case 'g':
            flags |= KV_NOTIFY_GENERIC;
            break;
        case '$':
            flags |= KV_NOTIFY_STRING;
            break;
        case 'l':
            flags |= KV_NOTIFY_LIST;
            break;
        case 's':
            flags |= KV_NOTIFY_SET;
            break;
        case 'h':
            flags |= KV_NOTIFY_HASH;
            break;
        case 'z':
            flags |= KV_NOTIFY_ZSET;
            break;
        case 'x':
            flags |= KV_NOTIFY_EXPIRED;
            break;
        case 'e':
            flags |= KV_NOTIFY_EVICTED;
            break;
        case 'K':
            flags |= KV_NOTIFY_KEYSPACE;
            break;
        case 'E':
            flags |= KV_NOTIFY_KEYEVENT;
            break;
        case 't':
            flags |= KV_NOTIFY_STREAM;
            break;
        case 'm':
            flags |= KV_NOTIFY_KEY_MISS;
            break;
        case 'd':
            flags |= KV_NOTIFY_MODULE;
            break;
        case 'n':
            flags |= KV_NOTIFY_NEW;
            break;
        default:
            return -1;
        }
    }
    return flags;
}

void kv_notify_format(int flags, char *buf, size_t len)
{
    /* Redis's keyspaceEventsFlagsToString(): with all of A set, the
     * classes A covers and 'n' are written as "A". */
    static const struct {
        int bit;
        char ch;
    } classes[] = {{KV_NOTIFY_GENERIC, 'g'}, {KV_NOTIFY_STRING, '$'},  {KV_NOTIFY_LIST, 'l'},
                   {KV_NOTIFY_SET, 's'},     {KV_NOTIFY_HASH, 'h'},    {KV_NOTIFY_ZSET, 'z'},
                   {KV_NOTIFY_EXPIRED, 'x'}, {KV_NOTIFY_EVICTED, 'e'}, {KV_NOTIFY_STREAM, 't'},
                   {KV_NOTIFY_MODULE, 'd'},  {KV_NOTIFY_NEW, 'n'}};
    char s[32];
    size_t n = 0;
    if ((flags & KV_NOTIFY_ALL) == KV_NOTIFY_ALL) {
        s[n++] = 'A';
    } else {
        for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
            if (flags & classes[i].bit) s[n++] = classes[i].ch;
    }
    if (flags & KV_NOTIFY_KEYSPACE) s[n++] = 'K';
    if (flags & KV_NOTIFY_KEYEVENT) s[n++] = 'E';
    if (flags & KV_NOTIFY_KEY_MISS) s[n++] = 'm';
    s[n] = '\0';
    snprintf(buf, len, "%s", s);
}

int kv_db_logical(kv_ctx *c, int phys)
{
    if (!c->st) return phys;
    for (int i = 0; i < KV_MAX_DBS; i++)
        if (c->st->dbmap[i] == phys) return i;
    return -1;
}

static void publish_event(kv_ctx *c, const char *prefix, int db, const char *what, size_t whatlen,
                          const char *msg, size_t msglen)
{
    char head[40];
    int hlen = snprintf(head, sizeof(head), "%s%d__:", prefix, db);
    char small[256], *ch = small;
    size_t chlen = (size_t)hlen + whatlen;
    if (chlen > sizeof(small) && !(ch = kv_malloc(chlen))) {
        kvx_oom(c);
        return;
    }
    memcpy(ch, head, (size_t)hlen);
    memcpy(ch + hlen, what, whatlen);
    kv_publish(c, 0, ch, chlen, msg, msglen);
    if (ch != small) free(ch);
}

void kv_notify_db(kv_ctx *c, int db, int type, const char *event, const char *key, size_t keylen)
{
    /* Redis's notifyKeyspaceEvent(): the class must be enabled, then
     * __keyspace@<db>__:<key> gets the event (K) and
     * __keyevent@<db>__:<event> the key (E). */
    /* Redis calls signalModifiedKey() beside nearly every event: the same
     * places mark the key changed for WATCH. An expired key's deletion
     * already recorded itself (kvks.c "watch"). */
    if (!(type & (KV_NOTIFY_EXPIRED | KV_NOTIFY_NEW)) && key && !c->no_signal)
        kv_touch(c, db, key, keylen);
    if (!hooked(c) || !c->st->hooks.publish || db < 0) return;
    int flags = c->st->notify;
    if (!(flags & type)) return;
    size_t evlen = strlen(event);
    if (flags & KV_NOTIFY_KEYSPACE) publish_event(c, "__keyspace@", db, key, keylen, event, evlen);
    if (flags & KV_NOTIFY_KEYEVENT) publish_event(c, "__keyevent@", db, event, evlen, key, keylen);
}

void kv_notify(kv_ctx *c, int type, const char *event, const char *key, size_t keylen)
{
    kv_notify_db(c, c->db, type, event, key, keylen);
}

/* RAFT.NOTIFYCONF <flags>: sets notify-keyspace-events for the cluster
 * (the server proposes it for CONFIG SET, which parsed the classes). */
KV_CHECK(notifyconf_check)
{
    (void)argc;
    long long v;
    if (!kv_string2ll(argv[1], argvlen[1], &v) || v < 0 || (v & ~(long long)KV_NOTIFY_VALID)) {
        resp_add_error(err, "ERR Invalid event class flags");
        return -1;
    }
    return 0;
}

static void kvx_notifyconf(ARGS)
{
    long long v;
    if (notifyconf_check(argc, argv, argvlen, c->reply)) return;
    kv_string2ll(argv[1], argvlen[1], &v);
    if (!c->st || !c->writable) {
        resp_add_error(c->reply, "ERR RAFT.NOTIFYCONF is applied only");
        return;
    }
    c->st->notify = (int)v;
    c->st->pmeta_dirty = 1;
    resp_add_ok(c->reply);
}

/* RAFT.ACL <args...>: a change of the ACL users (kvstate.h acl_apply; the
 * server proposes it and interprets its arguments). */
static void kvx_acl(ARGS)
{
    if (!c->st || !c->writable || !c->st->applying || !c->st->hooks.acl_apply) {
        resp_add_error(c->reply, "ERR RAFT.ACL is applied only");
        return;
    }
    kvstate *s = c->st;
    char *out = NULL;
    size_t outlen = 0;
    int rc = s->hooks.acl_apply(s->hooks.ctx, s->acl, s->acl_len, argc, argv, argvlen, c->reply,
                                &out, &outlen);
    if (rc < 0) {
        kvx_oom(c);
        return;
    }
    if (rc == 0) return;
    free(s->acl);
    s->acl = out;
    s->acl_len = outlen;
    s->pmeta_dirty = 1;
}

/* ------------------------------------------------------------ command table */

/* clang-format off */
const kv_command kvx_notify_commands[] = {
    {"raft.notifyconf", 2, KV_CMD_WRITE | KV_CMD_INTERNAL, 0, 0, 0, notifyconf_check, kvx_notifyconf,
     "server", "0.1.0", "Set notify-keyspace-events for the cluster (internal)"},
    {"raft.acl", -2, KV_CMD_WRITE | KV_CMD_INTERNAL, 0, 0, 0, NULL, kvx_acl, "server", "0.1.0",
     "Change the ACL users of the cluster (internal)"},
};
/* clang-format on */
const size_t kvx_notify_ncommands = sizeof(kvx_notify_commands) / sizeof(kvx_notify_commands[0]);
