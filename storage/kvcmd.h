/* kvcmd.h -- the data commands: a table (name, arity, flags, key
 * positions) and for each command a state-independent check that the
 * server runs before a write goes to the log. The execution itself lives
 * behind kvstate_apply() / kvstate_read().
 *
 * Connection and server commands (PING, HELLO, AUTH, CLIENT, CONFIG, INFO,
 * MULTI, ...) are not here: server/ has them.
 */
#ifndef RAFTKV_KVCMD_H
#define RAFTKV_KVCMD_H

#include <stddef.h>
#include <stdint.h>

#include "resp/resp.h"

enum {
    KV_CMD_WRITE = 1 << 0,    /* goes through the log */
    KV_CMD_READONLY = 1 << 1, /* served by kvstate_read() */
    KV_CMD_FAST = 1 << 2,
    KV_CMD_DENYOOM = 1 << 3, /* refused above the high-water mark */
    /* May block its client (BLPOP, BZPOPMIN, ...). Applied, it serves what
     * is there or finds nothing (kvstate_apply_blocked()); the server then
     * holds the client and proposes the command again when a key it waits
     * on is ready (server/blocking.c). Inside MULTI it never blocks. */
    KV_CMD_BLOCKING = 1 << 4,
    /* Proposed by the server itself, never by a client: not in COMMAND's
     * listing, refused when a client sends it. */
    KV_CMD_INTERNAL = 1 << 5,
    /* Refused inside a Lua script ("This Redis command is not allowed
     * from script"): the scripting commands themselves (kvlua.h runs one
     * script at a time). */
    KV_CMD_NOSCRIPT = 1 << 6,
};

struct kv_ctx;

typedef struct kv_command {
    const char *name; /* lower case */
    int arity;        /* Redis convention: -N means at least N */
    uint32_t flags;
    int firstkey, lastkey, keystep; /* Redis convention */
    /* Checks that do not depend on the data: syntax, option combinations,
     * integer syntax, ranges. Arity was already checked by the caller.
     * Returns 0 when the command may be proposed; otherwise appends Redis's
     * exact error reply to err and returns -1. NULL means nothing to check. */
    int (*check)(int argc, char **argv, size_t *argvlen, resp_buf *err);
    /* The execution against the state (storage/kvint.h), after arity and
     * check; never NULL. */
    void (*exec)(struct kv_ctx *c, int argc, char **argv, size_t *argvlen);
    const char *group;   /* "string", "keyspace", "bitmap", "server" */
    const char *since;   /* Redis version that added it, e.g. "1.0.0" */
    const char *summary; /* one line, for COMMAND DOCS */
} kv_command;

/* How kv_command_keys() finds a command's keys: derived from its name when
 * the table's index is built, so that no call compares names. */
enum {
    KV_KEYS_RANGE = 0,     /* firstkey, lastkey, keystep */
    KV_KEYS_NUMKEYS1,      /* numkeys at argv[1] (LMPOP, ZUNION, SINTERCARD, ...) */
    KV_KEYS_NUMKEYS2,      /* numkeys at argv[2] (BLMPOP, EVAL, FCALL, ...) */
    KV_KEYS_STORE_NUMKEYS, /* destination, numkeys at argv[2] (ZUNIONSTORE, ...) */
    KV_KEYS_SUBCMD_KEY,    /* <subcommand> key (XGROUP, XINFO; not HELP) */
    KV_KEYS_STREAMS,       /* the first half after STREAMS (XREAD, XREADGROUP) */
    KV_KEYS_SORT,          /* the range, and STORE's destination (SORT) */
    KV_KEYS_FLUSH,         /* a whole database (FLUSHDB) */
    KV_KEYS_FLUSHALL,      /* every database (FLUSHALL) */
    KV_KEYS_FUNCTION,      /* no keys; a read for some subcommands (FUNCTION) */
    KV_KEYS_SCRIPT,        /* no keys; a read for some subcommands (SCRIPT) */
};

/* The longest string APPEND, SETRANGE and SETBIT may build, and the bound
 * of LCS's work table: Redis's default proto-max-bulk-len. Redis reads the
 * setting itself; here it decides what an entry does when applied, so it
 * is a constant and no node's configuration can make replicas diverge
 * (DESIGN.md "Determinism and trust"). */
#define KV_MAX_STRING_LEN ((uint64_t)512 << 20)

/* Redis's string2ll (no spaces, no '+', no leading zeros, no "-0"), which
 * the server also uses for its own integer arguments (SELECT). */
int kv_string2ll(const char *s, size_t slen, long long *value);
/* Redis 7.0's stringmatchlen (glob with ?, *, [a-z], [^x], \ escapes), including
 * its limit of 1000 nested stars; iterative, so no pattern can exhaust the stack.
 * KEYS and SCAN MATCH use it, and the server for pub/sub patterns. */
int kv_stringmatchlen(const char *pattern, size_t patlen, const char *s, size_t slen, int nocase);

/* A blocking command's timeout (BLPOP & co., in seconds): Redis 7.0's
 * getTimeoutFromObjectOrReply. Fractional seconds are rounded up to whole
 * ms (0.0001 is 1 ms); 0 (and anything in (-0.001, 0]) waits for ever; a
 * value too large for a long long ms count is "negative", as Redis's
 * conversion makes it. *ms gets the duration, not a deadline: the server
 * owns time. 0, or -1 with Redis's error appended to err (may be NULL). */
int kv_parse_timeout(const char *s, size_t len, int64_t *ms, resp_buf *err);

/* Where a KV_CMD_BLOCKING command (its check passed) has its timeout and
 * the keys it waits on: BLPOP, BRPOP, BZPOPMIN, BZPOPMAX every key but
 * the last argument; BLMOVE and BRPOPLPUSH the source only; BLMPOP and
 * BZMPOP the numkeys keys after "timeout numkeys"; XREAD / XREADGROUP with
 * BLOCK the keys after STREAMS. 0, or -1 when cmd is
 * not blocking or the arguments do not fit. */
typedef struct kv_block_args {
    int timeout;  /* argv index of the timeout */
    int firstkey; /* argv index of the first key waited on */
    int nkeys;    /* keys argv[firstkey .. firstkey + nkeys) */
} kv_block_args;
int kv_blocking_args(const kv_command *cmd, int argc, char **argv, size_t *argvlen,
                     kv_block_args *a);
/* Whether the command may block its client: a KV_CMD_BLOCKING command, or
 * XREAD / XREADGROUP with BLOCK (their timeout in milliseconds, the keys
 * after STREAMS; kv_blocking_args gives both). */
int kv_command_blocks(const kv_command *cmd, int argc, char **argv, size_t *argvlen);

/* Case-insensitive lookup (a hash index, built at the first call, over
 * copies of the family rows); NULL when unknown. Every kv_command pointer
 * the server and the storage hold comes from here or kv_command_at().
 * The server resolves a command once, when it arrives, and passes the
 * entry down (kvstate_read, driver_read); only the apply of a log entry,
 * which holds names, looks up again. */
const kv_command *kv_command_lookup(const char *name, size_t len);
/* Whether this call of cmd is a read (served by kvstate_read(), never a
 * log entry): a KV_CMD_READONLY command, or a read subcommand of a
 * container whose row is a write, as Redis's COMMAND INFO flags them
 * (FUNCTION LIST, DUMP, STATS, HELP, KILL; SCRIPT EXISTS, DEBUG, HELP,
 * KILL: not "write"). */
int kv_call_reads(const kv_command *cmd, int argc, char **argv, size_t *argvlen);
/* The whole table, for COMMAND COUNT / INFO / DOCS: the rows of every
 * family (kvx_<family>.c), in family order. NULL past the end. */
size_t kv_command_count(void);
/* The argument positions of cmd's keys in argv (as COMMAND GETKEYS gives
 * them), the commands with a key count (LMPOP, ZUNIONSTORE, ...) and SORT's
 * STORE included; at most max are stored in pos. Returns how many keys
 * there are, 0 for none or malformed arguments. */
int kv_command_keys(const kv_command *cmd, int argc, char **argv, size_t *argvlen, int *pos,
                    int max);
const kv_command *kv_command_at(size_t i);
/* cmd's KV_KEYS_* rule, and whether a read by cmd leaves its keys' access
 * data alone (Redis's LOOKUP_NOTOUCH: OBJECT, TYPE, TTL, PTTL, EXISTS,
 * SCAN, MEMORY). */
int kv_command_keyrule(const kv_command *cmd);
int kv_command_notouch(const kv_command *cmd);

#endif
