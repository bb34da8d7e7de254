/* kvx_keyspace.c -- the commands on keys whatever their type (Redis's db.c
 * and object.c): DEL, EXISTS, TYPE, KEYS, SCAN, RANDOMKEY, RENAME, DBSIZE,
 * FLUSHDB/FLUSHALL, MEMORY USAGE, MOVE, COPY, SWAPDB, OBJECT. */
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
#include "storage/kvks.h"

static void kvx_del(ARGS)
{
    kv_val v;
    long long n = 0;
    for (int j = 1; j < argc && c->rc == 0; j++) {
        int found = kv_lookup(c, argv[j], argvlen[j], &v);
        if (found == 1 && kv_delete(c, argv[j], argvlen[j]) == 1) {
            kv_notify(c, KV_NOTIFY_GENERIC, "del", argv[j], argvlen[j]);
            n++;
        }
    }
    if (c->rc == 0) resp_add_int(c->reply, n);
}

static void kvx_exists(ARGS)
{
    kv_val v;
    long long n = 0;
    for (int j = 1; j < argc && c->rc == 0; j++)
        if (kv_lookup(c, argv[j], argvlen[j], &v) == 1) n++;
    if (c->rc == 0) resp_add_int(c->reply, n);
}

static const char *type_name(int type)
{
    switch (type) {
    case KV_TYPE_STRING:
        return "string";
    case KV_TYPE_LIST:
        return "list";
    case KV_TYPE_SET:
        return "set";
    case KV_TYPE_ZSET:
        return "zset";
    case KV_TYPE_HASH:
        return "hash";
    case KV_TYPE_STREAM:
        return "stream";
    }
    return "none";
}

static void kvx_type(ARGS)
{
    kv_val v;
    UNUSED_ARGS;
    int found = kv_lookup(c, argv[1], argvlen[1], &v);
    if (found >= 0) resp_add_simple(c->reply, found ? type_name(v.type) : "none");
}

static int rec_live(kv_ctx *c, const kv_rec *r)
{
    return r->expiry == 0 || r->expiry > c->tau;
}

static int cursor_open(kv_ctx *c, MDB_cursor **cur)
{
    int rc = mdb_cursor_open(c->txn, c->kv, cur);
    if (rc != 0) {
        c->rc = kv_map_err(rc);
        return -1;
    }
    return 0;
}

static int cursor_err(kv_ctx *c, int rc)
{
    if (rc != 0 && rc != MDB_NOTFOUND && c->rc == 0) c->rc = kv_map_err(rc);
    return c->rc;
}

static void kvx_keys(ARGS)
{
    MDB_cursor *cur;
    MDB_val k, d;
    kv_rec r;
    long long n = 0;
    int rc;
    UNUSED_ARGS;

    if (cursor_open(c, &cur) != 0) return;
    size_t mark = resp_add_deferred(c->reply);
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        if (kv_rec_parse(&k, &d, &r) != 0 || !rec_live(c, &r)) continue;
        if (!kv_stringmatchlen(argv[1], argvlen[1], r.key, r.keylen, 0)) continue;
        resp_add_bulk(c->reply, r.key, r.keylen);
        n++;
    }
    mdb_cursor_close(cur);
    resp_set_deferred_array(c->reply, mark, n);
    cursor_err(c, rc);
}

static void kvx_scan(ARGS)
{
    MDB_cursor *cur;
    MDB_val k, d;
    kv_rec r;
    unsigned long long cursor;
    long long count = 10;
    const char *pat = NULL, *type = NULL;
    size_t patlen = 0, typelen = 0;
    int rc;

    if (kv_scan_cursor(argv[1], &cursor, c->reply) != 0 ||
        kv_scan_opts(argc, argv, argvlen, 2, 1, &count, &pat, &patlen, &type, &typelen, c->reply) !=
            0)
        return;

    if (cursor_open(c, &cur) != 0) return;
    /* The cursor is the next hash to visit. A batch ends only at a hash
     * boundary, so keys sharing a hash are never split across batches. */
    unsigned char kb[8];
    kv_put_be64(kb, cursor);
    k.mv_size = 8;
    k.mv_data = kb;
    unsigned long long next = 0;
    long long seen = 0, n = 0;
    uint64_t last = 0;
    resp_buf keys;
    resp_buf_init(&keys, c->reply->proto);
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        if (kv_rec_parse(&k, &d, &r) != 0) continue;
        if (seen >= count && r.hash != last) {
            next = r.hash;
            break;
        }
        seen++;
        last = r.hash;
        if (!rec_live(c, &r)) continue;
        if (pat && !kv_stringmatchlen(pat, patlen, r.key, r.keylen, 0)) continue;
        if (type && !kv_streqci(type, typelen, type_name(r.type))) continue;
        resp_add_bulk(&keys, r.key, r.keylen);
        n++;
    }
    mdb_cursor_close(cur);
    if (cursor_err(c, rc) == 0) {
        char buf[32];
        int len = snprintf(buf, sizeof(buf), "%llu", next);
        resp_add_array(c->reply, 2);
        resp_add_bulk(c->reply, buf, (size_t)len);
        resp_add_array(c->reply, n);
        if (keys.oom)
            kvx_oom(c);
        else
            resp_add_raw(c->reply, keys.p, keys.len);
    }
    resp_buf_free(&keys);
}

static void kvx_randomkey(ARGS)
{
    MDB_cursor *cur;
    MDB_val k, d;
    kv_rec r;
    unsigned char kb[8];
    int rc, wrapped = 0;
    UNUSED_ARGS;

    if (cursor_open(c, &cur) != 0) return;
    kv_put_be64(kb, kv_rand(c));
    k.mv_size = 8;
    k.mv_data = kb;
    rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
    /* Skip keys expired at tau; give up after a bounded walk, as Redis
     * does when every key it draws is expired. */
    for (int tries = 0; tries < 1000; tries++) {
        if (rc == MDB_NOTFOUND && !wrapped) {
            wrapped = 1;
            rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST);
        }
        if (rc != 0) break;
        if (kv_rec_parse(&k, &d, &r) == 0 && rec_live(c, &r)) {
            resp_add_bulk(c->reply, r.key, r.keylen);
            mdb_cursor_close(cur);
            return;
        }
        rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (cursor_err(c, rc) == 0) resp_add_null(c->reply);
}

static void rename_generic(ARGS, int nx)
{
    kv_val v;
    UNUSED_ARGS;
    int samekey = argvlen[1] == argvlen[2] && memcmp(argv[1], argv[2], argvlen[1]) == 0;
    int found = kv_lookup(c, argv[1], argvlen[1], &v);
    if (found < 0) return;
    if (!found) {
        resp_add_error(c->reply, "ERR no such key");
        return;
    }
    if (samekey) {
        if (nx)
            resp_add_int(c->reply, 0);
        else
            resp_add_ok(c->reply);
        return;
    }
    char *val = NULL;
    if (v.type == KV_TYPE_STRING && !(val = kvx_dup(c, v.p, v.len, v.len))) return;
    v.p = val;
    kv_val dst;
    found = kv_lookup(c, argv[2], argvlen[2], &dst);
    if (found == 1 && nx) {
        resp_add_int(c->reply, 0);
    } else if (found >= 0) {
        /* A collection keeps its version: its elements do not move. The
         * destination is deleted first, as Redis's dbDelete + dbAdd (which
         * makes it "new"). */
        if (found == 1) kv_delete(c, argv[2], argvlen[2]);
        kv_put_val(c, argv[2], argvlen[2], &v);
        kv_delete_record(c, argv[1], argvlen[1]);
        if (c->rc == 0) {
            kv_notify(c, KV_NOTIFY_GENERIC, "rename_from", argv[1], argvlen[1]);
            kv_notify(c, KV_NOTIFY_GENERIC, "rename_to", argv[2], argvlen[2]);
            if (nx)
                resp_add_int(c->reply, 1);
            else
                resp_add_ok(c->reply);
        }
    }
    free(val);
}

static void kvx_rename(ARGS)
{
    rename_generic(c, argc, argv, argvlen, 0);
}

static void kvx_renamenx(ARGS)
{
    rename_generic(c, argc, argv, argvlen, 1);
}

static void kvx_dbsize(ARGS)
{
    MDB_stat st;
    UNUSED_ARGS;
    int rc = mdb_stat(c->txn, c->kv, &st);
    if (rc != 0) {
        c->rc = kv_map_err(rc);
        return;
    }
    resp_add_int(c->reply, (int64_t)st.ms_entries);
}

static void kvx_flush(ARGS)
{
    UNUSED_ARGS;
    int all = kv_streqci(argv[0], argvlen[0], "flushall");
    if ((all ? kv_flush_all(c) : kv_flush_db(c)) == 0) resp_add_ok(c->reply);
}

/* A database index argument: Redis's getIntFromObject, then the range,
 * here KV_MAX_DBS (the server refused, before proposing, an index past its
 * configured databases; applying depends on the entry alone). */
static int db_index(const char *s, size_t n, int *db)
{
    long long v;
    if (!kv_string2ll(s, n, &v) || v < 0 || v >= KV_MAX_DBS) return -1;
    *db = (int)v;
    return 0;
}

#define ERR_DBRANGE "ERR DB index is out of range"
#define ERR_SAMEOBJ "ERR source and destination objects are the same"

static void kvx_move(ARGS)
{
    kv_val v, other;
    int db, src = c->db;
    UNUSED_ARGS;
    long long ll;
    if (!kv_string2ll(argv[2], argvlen[2], &ll) || ll < INT_MIN || ll > INT_MAX) {
        resp_add_error(c->reply, ERR_NOTINT);
        return;
    }
    if (db_index(argv[2], argvlen[2], &db) != 0) {
        resp_add_error(c->reply, ERR_DBRANGE);
        return;
    }
    if (db == src) {
        resp_add_error(c->reply, ERR_SAMEOBJ);
        return;
    }
    int found = kv_lookup(c, argv[1], argvlen[1], &v);
    if (found <= 0) {
        if (found == 0) resp_add_int(c->reply, 0);
        return;
    }
    char *val = NULL;
    if (v.type == KV_TYPE_STRING && !(val = kvx_dup(c, v.p, v.len, v.len))) return;
    v.p = val;
    kv_use_db(c, db);
    found = kv_lookup(c, argv[1], argvlen[1], &other);
    if (found == 0) kv_put_val(c, argv[1], argvlen[1], &v);
    kv_use_db(c, src);
    if (found == 0) kv_delete_record(c, argv[1], argvlen[1]);
    free(val);
    if (found == 0 && c->rc == 0) {
        kv_notify_db(c, src, KV_NOTIFY_GENERIC, "move_from", argv[1], argvlen[1]);
        kv_notify_db(c, db, KV_NOTIFY_GENERIC, "move_to", argv[1], argvlen[1]);
    }
    if (found >= 0 && c->rc == 0) resp_add_int(c->reply, found == 0);
}

static void kvx_copy(ARGS)
{
    kv_val v, other;
    int db = c->db, src = c->db, replace = 0;
    for (int j = 3; j < argc; j++) {
        if (kv_streqci(argv[j], argvlen[j], "replace")) {
            replace = 1;
        } else if (kv_streqci(argv[j], argvlen[j], "db") && j + 1 < argc) {
            long long ll;
            if (!kv_string2ll(argv[j + 1], argvlen[j + 1], &ll) || ll < INT_MIN || ll > INT_MAX) {
                resp_add_error(c->reply, ERR_NOTINT);
                return;
            }
            if (db_index(argv[j + 1], argvlen[j + 1], &db) != 0) {
                resp_add_error(c->reply, ERR_DBRANGE);
                return;
            }
            j++;
        } else {
            resp_add_error(c->reply, ERR_SYNTAX);
            return;
        }
    }
    if (src == db && argvlen[1] == argvlen[2] && memcmp(argv[1], argv[2], argvlen[1]) == 0) {
        resp_add_error(c->reply, ERR_SAMEOBJ);
        return;
    }
    int found = kv_lookup(c, argv[1], argvlen[1], &v);
    if (found <= 0) {
        if (found == 0) resp_add_int(c->reply, 0);
        return;
    }
    char *val = NULL;
    if (v.type == KV_TYPE_STRING && !(val = kvx_dup(c, v.p, v.len, v.len))) return;
    v.p = val;
    kv_use_db(c, db);
    found = kv_lookup(c, argv[2], argvlen[2], &other);
    int done = 0;
    if (found == 0 || (found == 1 && replace)) {
        kv_val nv = v;
        if (v.type != KV_TYPE_STRING && kv_coll_copy(c, &v, &nv) != 0) goto out;
        if (found == 1 && kv_delete(c, argv[2], argvlen[2]) < 0) goto out;
        if (kv_put_val(c, argv[2], argvlen[2], &nv) == 0) {
            kv_notify(c, KV_NOTIFY_GENERIC, "copy_to", argv[2], argvlen[2]);
            done = 1;
        }
    }
out:
    kv_use_db(c, src);
    free(val);
    if (found >= 0 && c->rc == 0) resp_add_int(c->reply, done);
}

static void kvx_swapdb(ARGS)
{
    int a, b;
    UNUSED_ARGS;
    long long ll;
    if (!kv_string2ll(argv[1], argvlen[1], &ll) || ll < INT_MIN || ll > INT_MAX) {
        resp_add_error(c->reply, "ERR invalid first DB index");
        return;
    }
    if (!kv_string2ll(argv[2], argvlen[2], &ll) || ll < INT_MIN || ll > INT_MAX) {
        resp_add_error(c->reply, "ERR invalid second DB index");
        return;
    }
    if (db_index(argv[1], argvlen[1], &a) != 0 || db_index(argv[2], argvlen[2], &b) != 0) {
        resp_add_error(c->reply, ERR_DBRANGE);
        return;
    }
    if (a != b) {
        kv_swap_db(c, a, b);
        /* Every list and sorted set of both may now serve a client blocked
         * in the other's number (Redis's scanDatabaseForReadyKeys). */
        int db = c->db;
        kv_use_db(c, a);
        kv_signal_ready(c, NULL, 0);
        kv_use_db(c, b);
        kv_signal_ready(c, NULL, 0);
        kv_use_db(c, db);
    }
    resp_add_ok(c->reply);
}

static const char *const object_help[] = {
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Print this help.",
    NULL,
};

/* OBJECT: the encoding Redis would report by its thresholds. Idle time and
 * access frequency are this node's own access data (kvstate_set_access):
 * never state, since a read changes nothing in the replicated state; which
 * of the two is tracked follows the cluster's maxmemory-policy. */
static void kvx_object(ARGS)
{
    kv_val v;
    const char *sub = argv[1];
    size_t sublen = argvlen[1];
    if (argc == 2 && kv_streqci(sub, sublen, "help")) {
        kv_add_help(c->reply, object_help);
        return;
    }
    static const char *const subs[] = {"encoding", "freq", "idletime", "refcount"};
    int which = -1;
    for (int i = 0; i < 4; i++)
        if (kv_streqci(sub, sublen, subs[i])) which = i;
    if (which < 0 || argc != 3) {
        if (which >= 0 || kv_streqci(sub, sublen, "help"))
            resp_add_errorf(c->reply, "ERR wrong number of arguments for 'object|%s' command",
                            which >= 0 ? subs[which] : "help");
        else
            resp_add_errorf(c->reply, "ERR unknown subcommand '%.128s'. Try OBJECT HELP.", sub);
        return;
    }
    int found = kv_lookup(c, argv[2], argvlen[2], &v);
    if (found < 0) return;
    if (!found) {
        resp_add_null(c->reply);
        return;
    }
    long long ll;
    int isint = v.type == KV_TYPE_STRING && v.len <= 20 && kv_string2ll(v.p, v.len, &ll);
    switch (which) {
    case 0:
        if (v.type != KV_TYPE_STRING)
            resp_add_bulk_str(c->reply, kv_enc_name(v.enc));
        else
            resp_add_bulk_str(c->reply, v.raw         ? "raw"
                                        : isint       ? "int"
                                        : v.len <= 44 ? "embstr"
                                                      : "raw");
        break;
    case 1:
        if (!c->st || !kv_policy_lfu(c->st->mem.policy)) {
            resp_add_error(c->reply,
                           "ERR An LFU maxmemory policy is not selected, access frequency not "
                           "tracked. Please note that when switching between policies at runtime "
                           "LRU and LFU data will take some time to adjust.");
            break;
        }
        resp_add_int(c->reply, c->st->access
                                   ? c->st->access(c->st->access_ctx, 1, c->db, argv[2], argvlen[2])
                                   : 0);
        break;
    case 2:
        if (c->st && kv_policy_lfu(c->st->mem.policy)) {
            resp_add_error(c->reply,
                           "ERR An LFU maxmemory policy is selected, idle time not tracked. Please "
                           "note that when switching between policies at runtime LRU and LFU data "
                           "will take some time to adjust.");
            break;
        }
        resp_add_int(c->reply, c->st && c->st->access
                                   ? c->st->access(c->st->access_ctx, 0, c->db, argv[2], argvlen[2])
                                   : 0);
        break;
    case 3:
        /* Redis shares the objects of the integers 0..9999. */
        resp_add_int(c->reply, isint && !v.raw && ll >= 0 && ll < 10000 ? 2147483647 : 1);
        break;
    }
}

/* jemalloc's size classes: four per doubling above 128 bytes. */
static uint64_t je_size(uint64_t n)
{
    if (n <= 8) return 8;
    if (n <= 128) return (n + 15) & ~15ull;
    uint64_t p = 1;
    while ((p << 1) < n)
        p <<= 1;
    uint64_t step = p >> 2;
    return (n + step - 1) / step * step;
}

static uint64_t sds_hdr(uint64_t len, int type5)
{
    if (type5 && len < 32) return 1;
    return len < 256 ? 3 : len < 65536 ? 5 : len < (1ull << 32) ? 9 : 17;
}

static void kvx_memory(ARGS)
{
    kv_val v;
    if (!kv_streqci(argv[1], argvlen[1], "usage")) {
        resp_add_errorf(c->reply, "ERR unknown subcommand '%.128s'. Try MEMORY HELP.", argv[1]);
        return;
    }
    if (argc < 3) {
        resp_add_error(c->reply, "ERR wrong number of arguments for 'memory|usage' command");
        return;
    }
    for (int j = 3; j < argc; j++) {
        long long samples;
        if (kv_streqci(argv[j], argvlen[j], "samples") && j + 1 < argc) {
            if (kv_getll(argv[j + 1], argvlen[j + 1], &samples, c->reply) != 0) return;
            if (samples < 0) {
                resp_add_error(c->reply, ERR_SYNTAX);
                return;
            }
            j++;
        } else {
            resp_add_error(c->reply, ERR_SYNTAX);
            return;
        }
    }
    int found = kv_lookup(c, argv[2], argvlen[2], &v);
    if (found < 0) return;
    if (!found) {
        resp_add_null(c->reply);
        return;
    }
    uint64_t key = je_size(sds_hdr(argvlen[2], 1) + argvlen[2] + 1);
    if (v.type != KV_TYPE_STRING) {
        /* An estimate of Redis's compact or table encodings: the object,
         * and per element its entry and bytes (not sampled here). */
        uint64_t per = v.enc == KV_ENC_LISTPACK || v.enc == KV_ENC_INTSET ? 12 : 48;
        resp_add_int(c->reply, (int64_t)(key + 24 + 16 + 64 + v.count * per));
        return;
    }
    /* What redis-server would account for the same string: the object
     * (int, embstr or raw sds), the key's sds and the dict entry. */
    uint64_t obj;
    long long ll;
    if (v.len <= 20 && kv_string2ll(v.p, v.len, &ll))
        obj = 16;
    else if (v.len <= 44)
        obj = je_size(16 + 3 + v.len + 1); /* robj and sds in one allocation */
    else
        obj = je_size(sds_hdr(v.len, 0) + v.len + 1) + 16;
    resp_add_int(c->reply, (int64_t)(obj + key + 24));
}

/* ------------------------------------------------------------ bitmaps */

/* ------------------------------------------------------------ checks */

KV_CHECK(ck_flush)
{
    if (argc == 2 &&
        (kv_streqci(argv[1], argvlen[1], "sync") || kv_streqci(argv[1], argvlen[1], "async")))
        return 0;
    if (argc != 1) {
        resp_add_error(err, ERR_SYNTAX);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ table */

/* ------------------------------------------------------------ command table */

#define W KV_CMD_WRITE
#define R KV_CMD_READONLY
#define F KV_CMD_FAST
#define D KV_CMD_DENYOOM
/* clang-format off */
const kv_command kvx_keyspace_commands[] = {
    {"del", -2, W, 1, -1, 1, NULL, kvx_del, "generic", "1.0.0", "Delete a key"},
    {"unlink", -2, W | F, 1, -1, 1, NULL, kvx_del, "generic", "4.0.0", "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non " "blocking."},
    {"exists", -2, R | F, 1, -1, 1, NULL, kvx_exists, "generic", "1.0.0", "Determine if a key exists"},
    {"type", 2, R | F, 1, 1, 1, NULL, kvx_type, "generic", "1.0.0", "Determine the type stored at key"},
    {"keys", 2, R, 0, 0, 0, NULL, kvx_keys, "generic", "1.0.0", "Find all keys matching the given pattern"},
    {"scan", -2, R, 0, 0, 0, NULL, kvx_scan, "generic", "2.8.0", "Incrementally iterate the keys space"},
    {"randomkey", 1, R, 0, 0, 0, NULL, kvx_randomkey, "generic", "1.0.0", "Return a random key from the keyspace"},
    {"rename", 3, W, 1, 2, 1, NULL, kvx_rename, "generic", "1.0.0", "Rename a key"},
    {"renamenx", 3, W | F, 1, 2, 1, NULL, kvx_renamenx, "generic", "1.0.0", "Rename a key, only if the new key does not exist"},
    {"touch", -2, R | F, 1, -1, 1, NULL, kvx_exists, "generic", "3.2.1", "Alters the last access time of a key(s). Returns the number of existing keys " "specified."},
    {"memory", -2, R, 2, 2, 1, NULL, kvx_memory, "server", "4.0.0", "A container for memory diagnostics commands (here: USAGE)"},
    {"dbsize", 1, R | F, 0, 0, 0, NULL, kvx_dbsize, "server", "1.0.0", "Return the number of keys in the selected database"},
    {"flushdb", -1, W, 0, 0, 0, ck_flush, kvx_flush, "server", "1.0.0", "Remove all keys from the current database"},
    {"flushall", -1, W, 0, 0, 0, ck_flush, kvx_flush, "server", "1.0.0", "Remove all keys from all databases"},
    {"move", 3, W | F, 1, 1, 1, NULL, kvx_move, "generic", "1.0.0", "Move a key to another database"},
    {"copy", -3, W | D, 1, 2, 1, NULL, kvx_copy, "generic", "6.2.0", "Copy a key"},
    {"swapdb", 3, W | F, 0, 0, 0, NULL, kvx_swapdb, "server", "4.0.0", "Swaps two Redis databases"},
    {"object", -2, R, 2, 2, 1, NULL, kvx_object, "generic", "2.2.3", "A container for object introspection commands"},
};
/* clang-format on */
#undef W
#undef R
#undef F
#undef D
const size_t kvx_keyspace_ncommands =
    sizeof(kvx_keyspace_commands) / sizeof(kvx_keyspace_commands[0]);
