/* kvcmd.c -- the data command table and the checks that do not depend on
 * the data (kvcmd.h). Names, arities, flags and key positions are Redis
 * 7.0's, as COMMAND INFO reports them. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "storage/kvcmd.h"
#include "storage/kvcmd_int.h"
#include "storage/kvint.h"

/* ------------------------------------------------------------ parsers */

int kv_getll(const char *s, size_t len, long long *v, resp_buf *err)
{
    if (!kv_string2ll(s, len, v)) {
        if (err) resp_add_error(err, ERR_NOTINT);
        return -1;
    }
    return 0;
}

static void expire_time_error(resp_buf *err, const char *cmdname)
{
    resp_add_errorf(err, "ERR invalid expire time in '%s' command", cmdname);
}

int kv_parse_expire_value(const char *s, size_t len, int seconds, const char *cmdname,
                          long long *ms, resp_buf *err)
{
    long long v;
    if (kv_getll(s, len, &v, err) != 0) return -1;
    if (v <= 0 || (seconds && v > LLONG_MAX / 1000)) {
        expire_time_error(err, cmdname);
        return -1;
    }
    *ms = seconds ? v * 1000 : v;
    return 0;
}

static int is2(const char *s, size_t n, char a, char b)
{
    return n == 2 && (s[0] == a || s[0] == a + 32) && (s[1] == b || s[1] == b + 32);
}

int kv_parse_set(int argc, char **argv, size_t *argvlen, int first, int is_getex,
                 const char *cmdname, kv_setopts *o, resp_buf *err)
{
    const int any_exp = SET_EX | SET_PX | SET_EXAT | SET_PXAT;
    const char *expire = NULL;
    size_t expirelen = 0;
    int f = 0;

    memset(o, 0, sizeof(*o));
    for (int j = first; j < argc; j++) {
        const char *opt = argv[j];
        size_t n = argvlen[j];
        int more = j < argc - 1;
        int exbit = 0;

        if (!is_getex && is2(opt, n, 'N', 'X') && !(f & SET_XX)) {
            f |= SET_NX;
        } else if (!is_getex && is2(opt, n, 'X', 'X') && !(f & SET_NX)) {
            f |= SET_XX;
        } else if (!is_getex && kv_streqci(opt, n, "GET")) {
            f |= SET_GET;
        } else if (!is_getex && kv_streqci(opt, n, "KEEPTTL") && !(f & SET_PERSIST) &&
                   !(f & any_exp)) {
            f |= SET_KEEPTTL;
        } else if (is_getex && kv_streqci(opt, n, "PERSIST") && !(f & any_exp) &&
                   !(f & SET_KEEPTTL)) {
            f |= SET_PERSIST;
        } else if (is2(opt, n, 'E', 'X')) {
            exbit = SET_EX;
        } else if (is2(opt, n, 'P', 'X')) {
            exbit = SET_PX;
        } else if (kv_streqci(opt, n, "EXAT")) {
            exbit = SET_EXAT;
        } else if (kv_streqci(opt, n, "PXAT")) {
            exbit = SET_PXAT;
        } else {
            resp_add_error(err, ERR_SYNTAX);
            return -1;
        }
        if (exbit) {
            /* Redis: an expiry option excludes KEEPTTL, PERSIST and the
             * other three units (the same unit twice is allowed). */
            if ((f & (SET_KEEPTTL | SET_PERSIST)) || (f & any_exp & ~exbit) || !more) {
                resp_add_error(err, ERR_SYNTAX);
                return -1;
            }
            f |= exbit;
            expire = argv[j + 1];
            expirelen = argvlen[j + 1];
            j++;
        }
    }
    o->flags = f;
    if (expire && is_getex) {
        o->has_expire = 1;
        o->expire = expire;
        o->expirelen = expirelen;
    } else if (expire) {
        int seconds = (f & (SET_EX | SET_EXAT)) != 0;
        if (kv_parse_expire_value(expire, expirelen, seconds, cmdname, &o->when, err) != 0)
            return -1;
        o->has_expire = 1;
    }
    return 0;
}

int kv_parse_expire(int argc, char **argv, size_t *argvlen, int seconds, const char *cmdname,
                    int *flags, long long *when, resp_buf *err)
{
    int f = 0;
    for (int j = 3; j < argc; j++) {
        if (kv_streqci(argv[j], argvlen[j], "nx"))
            f |= EXP_NX;
        else if (kv_streqci(argv[j], argvlen[j], "xx"))
            f |= EXP_XX;
        else if (kv_streqci(argv[j], argvlen[j], "gt"))
            f |= EXP_GT;
        else if (kv_streqci(argv[j], argvlen[j], "lt"))
            f |= EXP_LT;
        else {
            resp_add_errorf(err, "ERR Unsupported option %s", argv[j]);
            return -1;
        }
    }
    if ((f & EXP_NX) && (f & (EXP_XX | EXP_GT | EXP_LT))) {
        resp_add_error(err, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return -1;
    }
    if ((f & EXP_GT) && (f & EXP_LT)) {
        resp_add_error(err, "ERR GT and LT options at the same time are not compatible");
        return -1;
    }
    long long v;
    if (kv_getll(argv[2], argvlen[2], &v, err) != 0) return -1;
    if (seconds) {
        if (v > LLONG_MAX / 1000 || v < LLONG_MIN / 1000) {
            expire_time_error(err, cmdname);
            return -1;
        }
        v *= 1000;
    }
    *flags = f;
    *when = v;
    return 0;
}

int kv_parse_bitoffset(const char *s, size_t len, uint64_t *off, resp_buf *err)
{
    long long v;
    if (!kv_string2ll(s, len, &v) || v < 0 || (uint64_t)(v >> 3) >= KV_MAX_STRING_LEN) {
        resp_add_error(err, "ERR bit offset is not an integer or out of range");
        return -1;
    }
    *off = (uint64_t)v;
    return 0;
}

/* ------------------------------------------------------------ checks */

#define CHECK(name) static int name(int argc, char **argv, size_t *argvlen, resp_buf *err)

CHECK(ck_set)
{
    kv_setopts o;
    return kv_parse_set(argc, argv, argvlen, 3, 0, "set", &o, err);
}

CHECK(ck_getex)
{
    kv_setopts o;
    return kv_parse_set(argc, argv, argvlen, 2, 1, "getex", &o, err);
}

CHECK(ck_setex)
{
    long long ms;
    (void)argc;
    return kv_parse_expire_value(argv[2], argvlen[2], 1, "setex", &ms, err);
}

CHECK(ck_psetex)
{
    long long ms;
    (void)argc;
    return kv_parse_expire_value(argv[2], argvlen[2], 0, "psetex", &ms, err);
}

static int ck_mset_generic(int argc, const char *name, resp_buf *err)
{
    if (argc % 2 == 0) {
        resp_add_errorf(err, "ERR wrong number of arguments for '%s' command", name);
        return -1;
    }
    return 0;
}

CHECK(ck_mset)
{
    (void)argv;
    (void)argvlen;
    return ck_mset_generic(argc, "mset", err);
}

CHECK(ck_msetnx)
{
    (void)argv;
    (void)argvlen;
    return ck_mset_generic(argc, "msetnx", err);
}

CHECK(ck_incrby)
{
    long long v;
    (void)argc;
    return kv_getll(argv[2], argvlen[2], &v, err);
}

CHECK(ck_decrby)
{
    long long v;
    if (ck_incrby(argc, argv, argvlen, err) != 0) return -1;
    kv_string2ll(argv[2], argvlen[2], &v);
    if (v == LLONG_MIN) {
        resp_add_error(err, "ERR decrement would overflow");
        return -1;
    }
    return 0;
}

CHECK(ck_incrbyfloat)
{
    long double v;
    (void)argc;
    if (!kv_string2ld(argv[2], argvlen[2], &v)) {
        resp_add_error(err, ERR_NOTFLOAT);
        return -1;
    }
    return 0;
}

CHECK(ck_setrange)
{
    long long off;
    (void)argc;
    if (kv_getll(argv[2], argvlen[2], &off, err) != 0) return -1;
    if (off < 0) {
        resp_add_error(err, "ERR offset is out of range");
        return -1;
    }
    if (argvlen[3] > 0 && (uint64_t)off + argvlen[3] > KV_MAX_STRING_LEN) {
        resp_add_error(err, ERR_STRLEN);
        return -1;
    }
    return 0;
}

static int ck_expire_generic(int argc, char **argv, size_t *argvlen, int seconds, const char *name,
                             resp_buf *err)
{
    int flags;
    long long when;
    return kv_parse_expire(argc, argv, argvlen, seconds, name, &flags, &when, err);
}

CHECK(ck_expire)
{
    return ck_expire_generic(argc, argv, argvlen, 1, "expire", err);
}
CHECK(ck_pexpire)
{
    return ck_expire_generic(argc, argv, argvlen, 0, "pexpire", err);
}
CHECK(ck_expireat)
{
    return ck_expire_generic(argc, argv, argvlen, 1, "expireat", err);
}
CHECK(ck_pexpireat)
{
    return ck_expire_generic(argc, argv, argvlen, 0, "pexpireat", err);
}

CHECK(ck_setbit)
{
    uint64_t off;
    long long bit;
    (void)argc;
    if (kv_parse_bitoffset(argv[2], argvlen[2], &off, err) != 0) return -1;
    if (!kv_string2ll(argv[3], argvlen[3], &bit) || (bit & ~1)) {
        resp_add_error(err, "ERR bit is not an integer or out of range");
        return -1;
    }
    return 0;
}

CHECK(ck_flush)
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

#define W KV_CMD_WRITE
#define R KV_CMD_READONLY
#define F KV_CMD_FAST
#define D KV_CMD_DENYOOM

/* name, arity, flags, first, last, step, check, exec, group, since, summary */
#define KV_COMMANDS(X)                                                                             \
    X("get", 2, R | F, 1, 1, 1, NULL, kvx_get, "string", "1.0.0", "Get the value of a key")        \
    X("set", -3, W | D, 1, 1, 1, ck_set, kvx_set, "string", "1.0.0",                               \
      "Set the string value of a key")                                                             \
    X("setnx", 3, W | F | D, 1, 1, 1, NULL, kvx_setnx, "string", "1.0.0",                          \
      "Set the value of a key, only if the key does not exist")                                    \
    X("setex", 4, W | D, 1, 1, 1, ck_setex, kvx_setex, "string", "2.0.0",                          \
      "Set the value and expiration of a key")                                                     \
    X("psetex", 4, W | D, 1, 1, 1, ck_psetex, kvx_psetex, "string", "2.6.0",                       \
      "Set the value and expiration in milliseconds of a key")                                     \
    X("getset", 3, W | F | D, 1, 1, 1, NULL, kvx_getset, "string", "1.0.0",                        \
      "Set the string value of a key and return its old value")                                    \
    X("getdel", 2, W | F, 1, 1, 1, NULL, kvx_getdel, "string", "6.2.0",                            \
      "Get the value of a key and delete the key")                                                 \
    X("getex", -2, W | F, 1, 1, 1, ck_getex, kvx_getex, "string", "6.2.0",                         \
      "Get the value of a key and optionally set its expiration")                                  \
    X("mget", -2, R | F, 1, -1, 1, NULL, kvx_mget, "string", "1.0.0",                              \
      "Get the values of all the given keys")                                                      \
    X("mset", -3, W | D, 1, -1, 2, ck_mset, kvx_mset, "string", "1.0.1",                           \
      "Set multiple keys to multiple values")                                                      \
    X("msetnx", -3, W | D, 1, -1, 2, ck_msetnx, kvx_msetnx, "string", "1.0.1",                     \
      "Set multiple keys to multiple values, only if none of the keys exist")                      \
    X("del", -2, W, 1, -1, 1, NULL, kvx_del, "generic", "1.0.0", "Delete a key")                   \
    X("unlink", -2, W | F, 1, -1, 1, NULL, kvx_del, "generic", "4.0.0",                            \
      "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non "       \
      "blocking.")                                                                                 \
    X("exists", -2, R | F, 1, -1, 1, NULL, kvx_exists, "generic", "1.0.0",                         \
      "Determine if a key exists")                                                                 \
    X("incr", 2, W | F | D, 1, 1, 1, NULL, kvx_incr, "string", "1.0.0",                            \
      "Increment the integer value of a key by one")                                               \
    X("decr", 2, W | F | D, 1, 1, 1, NULL, kvx_decr, "string", "1.0.0",                            \
      "Decrement the integer value of a key by one")                                               \
    X("incrby", 3, W | F | D, 1, 1, 1, ck_incrby, kvx_incrby, "string", "1.0.0",                   \
      "Increment the integer value of a key by the given amount")                                  \
    X("decrby", 3, W | F | D, 1, 1, 1, ck_decrby, kvx_decrby, "string", "1.0.0",                   \
      "Decrement the integer value of a key by the given number")                                  \
    X("incrbyfloat", 3, W | F | D, 1, 1, 1, ck_incrbyfloat, kvx_incrbyfloat, "string", "2.6.0",    \
      "Increment the float value of a key by the given amount")                                    \
    X("append", 3, W | F | D, 1, 1, 1, NULL, kvx_append, "string", "2.0.0",                        \
      "Append a value to a key")                                                                   \
    X("strlen", 2, R | F, 1, 1, 1, NULL, kvx_strlen, "string", "2.2.0",                            \
      "Get the length of the value stored in a key")                                               \
    X("getrange", 4, R, 1, 1, 1, NULL, kvx_getrange, "string", "2.4.0",                            \
      "Get a substring of the string stored at a key")                                             \
    X("substr", 4, R, 1, 1, 1, NULL, kvx_getrange, "string", "1.0.0",                              \
      "Get a substring of the string stored at a key")                                             \
    X("setrange", 4, W | D, 1, 1, 1, ck_setrange, kvx_setrange, "string", "2.2.0",                 \
      "Overwrite part of a string at key starting at the specified offset")                        \
    X("expire", -3, W | F, 1, 1, 1, ck_expire, kvx_expire, "generic", "1.0.0",                     \
      "Set a key's time to live in seconds")                                                       \
    X("pexpire", -3, W | F, 1, 1, 1, ck_pexpire, kvx_pexpire, "generic", "2.6.0",                  \
      "Set a key's time to live in milliseconds")                                                  \
    X("expireat", -3, W | F, 1, 1, 1, ck_expireat, kvx_expireat, "generic", "1.2.0",               \
      "Set the expiration for a key as a UNIX timestamp")                                          \
    X("pexpireat", -3, W | F, 1, 1, 1, ck_pexpireat, kvx_pexpireat, "generic", "2.6.0",            \
      "Set the expiration for a key as a UNIX timestamp specified in milliseconds")                \
    X("ttl", 2, R | F, 1, 1, 1, NULL, kvx_ttl, "generic", "1.0.0",                                 \
      "Get the time to live for a key in seconds")                                                 \
    X("pttl", 2, R | F, 1, 1, 1, NULL, kvx_pttl, "generic", "2.6.0",                               \
      "Get the time to live for a key in milliseconds")                                            \
    X("expiretime", 2, R | F, 1, 1, 1, NULL, kvx_expiretime, "generic", "7.0.0",                   \
      "Get the expiration Unix timestamp for a key")                                               \
    X("pexpiretime", 2, R | F, 1, 1, 1, NULL, kvx_pexpiretime, "generic", "7.0.0",                 \
      "Get the expiration Unix timestamp for a key in milliseconds")                               \
    X("persist", 2, W | F, 1, 1, 1, NULL, kvx_persist, "generic", "2.2.0",                         \
      "Remove the expiration from a key")                                                          \
    X("type", 2, R | F, 1, 1, 1, NULL, kvx_type, "generic", "1.0.0",                               \
      "Determine the type stored at key")                                                          \
    X("keys", 2, R, 0, 0, 0, NULL, kvx_keys, "generic", "1.0.0",                                   \
      "Find all keys matching the given pattern")                                                  \
    X("scan", -2, R, 0, 0, 0, NULL, kvx_scan, "generic", "2.8.0",                                  \
      "Incrementally iterate the keys space")                                                      \
    X("randomkey", 1, R, 0, 0, 0, NULL, kvx_randomkey, "generic", "1.0.0",                         \
      "Return a random key from the keyspace")                                                     \
    X("rename", 3, W, 1, 2, 1, NULL, kvx_rename, "generic", "1.0.0", "Rename a key")               \
    X("renamenx", 3, W | F, 1, 2, 1, NULL, kvx_renamenx, "generic", "1.0.0",                       \
      "Rename a key, only if the new key does not exist")                                          \
    X("touch", -2, R | F, 1, -1, 1, NULL, kvx_exists, "generic", "3.2.1",                          \
      "Alters the last access time of a key(s). Returns the number of existing keys "              \
      "specified.")                                                                                \
    X("setbit", 4, W | D, 1, 1, 1, ck_setbit, kvx_setbit, "bitmap", "2.2.0",                       \
      "Sets or clears the bit at offset in the string value stored at key")                        \
    X("getbit", 3, R | F, 1, 1, 1, NULL, kvx_getbit, "bitmap", "2.2.0",                            \
      "Returns the bit value at offset in the string value stored at key")                         \
    X("bitcount", -2, R, 1, 1, 1, NULL, kvx_bitcount, "bitmap", "2.6.0",                           \
      "Count set bits in a string")                                                                \
    X("bitpos", -3, R, 1, 1, 1, NULL, kvx_bitpos, "bitmap", "2.8.7",                               \
      "Find first bit set or clear in a string")                                                   \
    X("lcs", -3, R, 1, 2, 1, NULL, kvx_lcs, "string", "7.0.0", "Find longest common substring")    \
    X("memory", -2, R, 2, 2, 1, NULL, kvx_memory, "server", "4.0.0",                               \
      "A container for memory diagnostics commands (here: USAGE)")                                 \
    X("dbsize", 1, R | F, 0, 0, 0, NULL, kvx_dbsize, "server", "1.0.0",                            \
      "Return the number of keys in the selected database")                                        \
    X("flushdb", -1, W, 0, 0, 0, ck_flush, kvx_flush, "server", "1.0.0",                           \
      "Remove all keys from the current database")                                                 \
    X("flushall", -1, W, 0, 0, 0, ck_flush, kvx_flush, "server", "1.0.0",                          \
      "Remove all keys from all databases")

#define KV_PUB(n, a, fl, fk, lk, st, ck, ex, g, si, su) {n, a, fl, fk, lk, st, ck, g, si, su},
#define KV_EXEC(n, a, fl, fk, lk, st, ck, ex, g, si, su) ex,

static const kv_command table[] = {KV_COMMANDS(KV_PUB)};
static kv_exec_fn *const execs[] = {KV_COMMANDS(KV_EXEC)};

#define NCMDS (sizeof(table) / sizeof(table[0]))

const kv_command *kv_command_lookup(const char *name, size_t len)
{
    for (size_t i = 0; i < NCMDS; i++)
        if (kv_streqci(name, len, table[i].name)) return &table[i];
    return NULL;
}

const kv_command *kv_command_table(size_t *count)
{
    *count = NCMDS;
    return table;
}

kv_exec_fn *kv_command_exec(const struct kv_command *cmd)
{
    if (cmd < table || cmd >= table + NCMDS) return NULL;
    return execs[cmd - table];
}

void kv_exec(kv_ctx *c, int argc, char **argv, size_t *argvlen)
{
    if (argc < 1) {
        resp_add_error(c->reply, "ERR empty command");
        return;
    }
    const kv_command *cmd = kv_command_lookup(argv[0], argvlen[0]);
    if (!cmd) {
        /* Redis: "unknown command '%.128s', with args beginning with: " and
         * each argument quoted, up to 128 characters in all. */
        char args[256] = "";
        size_t used = 0;
        for (int i = 1; i < argc && used < 128; i++) {
            int n = snprintf(args + used, sizeof(args) - used, "'%.*s' ",
                             (int)(128 - used < argvlen[i] ? 128 - used : argvlen[i]), argv[i]);
            if (n < 0 || (size_t)n >= sizeof(args) - used) break;
            used += (size_t)n;
        }
        resp_add_errorf(c->reply, "ERR unknown command '%.128s', with args beginning with: %s",
                        argv[0], args);
        return;
    }
    if ((cmd->arity > 0 && argc != cmd->arity) || (cmd->arity < 0 && argc < -cmd->arity)) {
        resp_add_errorf(c->reply, "ERR wrong number of arguments for '%s' command", cmd->name);
        return;
    }
    if ((cmd->flags & KV_CMD_WRITE) && !c->writable) {
        resp_add_error(c->reply, "ERR write command on the read path");
        return;
    }
    /* The apply path re-runs the check: an entry is never trusted. */
    if (cmd->check && cmd->check(argc, argv, argvlen, c->reply) != 0) return;
    execs[cmd - table](c, argc, argv, argvlen);
}
