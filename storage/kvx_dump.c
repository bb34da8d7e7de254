/* kvx_dump.c -- DUMP and RESTORE (Redis 7.0's cluster.c), with Redis's
 * serialization (rdbcodec.h), so a value moves between redis-server and
 * RaftKV either way.
 *
 * RESTORE is a write: its payload travels in the log entry as it came and
 * is decoded when the entry is applied, so every node builds the same key.
 * Its check (before proposing) does what Redis does before it looks at the
 * key: the options. The rest follows Redis's order at apply: BUSYKEY, the
 * TTL, the footer (version and CRC-64), the value; only a value that
 * decoded whole replaces an existing key. A relative TTL is made absolute
 * against the entry's tau. IDLETIME and FREQ are checked as Redis checks
 * them and otherwise ignored: OBJECT IDLETIME answers 0 and OBJECT FREQ
 * its error, as for every key here (a read changes nothing in the
 * replicated state, so no access time is kept). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "storage/kvcmd.h"
#include "storage/kvcmd_int.h"
#include "storage/kverr.h"
#include "storage/kvint.h"
#include "storage/kvks.h"
#include "storage/rdbcodec.h"

#define ERR_BUSYKEY "BUSYKEY Target key name already exists."
#define ERR_BADFORMAT "ERR Bad data format"
#define ERR_PAYLOAD "ERR DUMP payload version or checksum are wrong"

static void kvx_dump(ARGS)
{
    kv_val v;
    rdbc_buf b = {0};
    UNUSED_ARGS;
    int found = kv_lookup(c, argv[1], argvlen[1], &v);
    if (found < 0) return;
    if (!found) {
        resp_add_null(c->reply);
        return;
    }
    if (v.type == KV_TYPE_STREAM) {
        /* Redis's stream encoding (RDB_TYPE_STREAM_LISTPACKS_2) is not
         * written: said plainly rather than a payload Redis would reject. */
        resp_add_error(c->reply, "ERR DUMP of a stream is not supported");
        return;
    }
    if (rdbc_dump(c, &v, &b) == 0) resp_add_bulk(c->reply, (const char *)b.p, b.len);
    rdbc_buf_free(&b);
}

typedef struct restore_opts {
    int replace, absttl;
} restore_opts;

/* restoreCommand's option loop: REPLACE, ABSTTL, IDLETIME s (>= 0), FREQ f
 * (0..255); IDLETIME and FREQ exclude each other (a syntax error). */
static int restore_parse(int argc, char **argv, size_t *argvlen, restore_opts *o, resp_buf *err)
{
    long long idle = -1, freq = -1;
    memset(o, 0, sizeof(*o));
    for (int j = 4; j < argc; j++) {
        int more = argc - j - 1;
        if (kv_streqci(argv[j], argvlen[j], "replace")) {
            o->replace = 1;
        } else if (kv_streqci(argv[j], argvlen[j], "absttl")) {
            o->absttl = 1;
        } else if (kv_streqci(argv[j], argvlen[j], "idletime") && more >= 1 && freq == -1) {
            if (kv_getll(argv[j + 1], argvlen[j + 1], &idle, err) != 0) return -1;
            if (idle < 0) {
                resp_add_error(err, "ERR Invalid IDLETIME value, must be >= 0");
                return -1;
            }
            j++;
        } else if (kv_streqci(argv[j], argvlen[j], "freq") && more >= 1 && idle == -1) {
            if (kv_getll(argv[j + 1], argvlen[j + 1], &freq, err) != 0) return -1;
            if (freq < 0 || freq > 255) {
                resp_add_error(err, "ERR Invalid FREQ value, must be >= 0 and <= 255");
                return -1;
            }
            j++;
        } else {
            resp_add_error(err, ERR_SYNTAX);
            return -1;
        }
    }
    return 0;
}

KV_CHECK(ck_restore)
{
    restore_opts o;
    return restore_parse(argc, argv, argvlen, &o, err);
}

static void kvx_restore(ARGS)
{
    restore_opts o;
    kv_val v;
    long long ttl;
    if (restore_parse(argc, argv, argvlen, &o, c->reply) != 0) return;
    const char *key = argv[1];
    size_t keylen = argvlen[1];
    if (!o.replace) {
        int found = kv_lookup(c, key, keylen, &v);
        if (found < 0) return;
        if (found) {
            resp_add_error(c->reply, ERR_BUSYKEY);
            return;
        }
    }
    if (kv_getll(argv[2], argvlen[2], &ttl, c->reply) != 0) return;
    if (ttl < 0) {
        resp_add_error(c->reply, "ERR Invalid TTL value, must be >= 0");
        return;
    }
    if (rdbc_verify_dump(argv[3], argvlen[3]) != 0) {
        resp_add_error(c->reply, ERR_PAYLOAD);
        return;
    }
    /* Redis adds the clock to a relative TTL as a long long; a sum past
     * LLONG_MAX wraps negative there, and the key is already expired. */
    int64_t expiry = ttl;
    int expired = 0;
    if (ttl && !o.absttl) {
        if (ttl > LLONG_MAX - c->tau)
            expired = 1;
        else
            expiry = ttl + c->tau;
    }
    if (ttl && expiry <= c->tau) expired = 1;

    /* Redis decodes from the whole payload, footer included: a value that
     * runs into the footer's bytes is read as Redis reads it. */
    int deleted;
    int rc = rdbc_store(c, key, keylen, argv[3], argvlen[3], expired ? 0 : expiry, &deleted);
    if (rc == RDBC_EBAD) {
        resp_add_error(c->reply, ERR_BADFORMAT);
        return;
    }
    if (rc != RDBC_OK) return;
    if (expired) {
        /* Redis decodes the value (a malformed one is still refused),
         * deletes the old key and adds nothing: the key built here is
         * dropped again, and only the old key's deletion is an event. */
        if (kv_delete(c, key, keylen) < 0) return;
        if (deleted) kv_notify(c, KV_NOTIFY_GENERIC, "del", key, keylen);
    } else {
        kv_notify(c, KV_NOTIFY_GENERIC, "restore", key, keylen);
    }
    if (c->rc == 0) resp_add_ok(c->reply);
}

/* ------------------------------------------------------------ command table */

#define W KV_CMD_WRITE
#define R KV_CMD_READONLY
#define D KV_CMD_DENYOOM
/* clang-format off */
const kv_command kvx_dump_commands[] = {
    {"dump", 2, R, 1, 1, 1, NULL, kvx_dump, "generic", "2.6.0", "Return a serialized version of the value stored at the specified key."},
    {"restore", -4, W | D, 1, 1, 1, ck_restore, kvx_restore, "generic", "2.6.0", "Create a key using the provided serialized value, previously obtained using DUMP."},
};
/* clang-format on */
#undef W
#undef R
#undef D
const size_t kvx_dump_ncommands = sizeof(kvx_dump_commands) / sizeof(kvx_dump_commands[0]);
