/* kvcmd_int.h -- option parsing shared by the checks (kvcmd.c) and the
 * implementations (kvstring.c, kvkeys.c). Each parser appends Redis's exact
 * error to err and returns -1, or returns 0. */
#ifndef RAFTKV_KVCMD_INT_H
#define RAFTKV_KVCMD_INT_H

#include <stddef.h>
#include <stdint.h>

#include "resp/resp.h"
#include "storage/kvint.h"

enum {
    SET_NX = 1 << 0,
    SET_XX = 1 << 1,
    SET_GET = 1 << 2,
    SET_KEEPTTL = 1 << 3,
    SET_PERSIST = 1 << 4,
    SET_EX = 1 << 5,
    SET_PX = 1 << 6,
    SET_EXAT = 1 << 7,
    SET_PXAT = 1 << 8,
};

typedef struct kv_setopts {
    int flags;
    int has_expire;
    long long when; /* ms; relative for EX/PX (add tau), else absolute */
    /* GETEX: the time's text, checked only once the key is known to exist
     * (redis-server answers nil for a missing key whatever the time). */
    const char *expire;
    size_t expirelen;
} kv_setopts;

/* SET (is_getex 0) or GETEX (is_getex 1) options from argv[first]. */
int kv_parse_set(int argc, char **argv, size_t *argvlen, int first, int is_getex,
                 const char *cmdname, kv_setopts *o, resp_buf *err);
/* An expire value: integer, > 0, and no overflow when scaled. */
int kv_parse_expire_value(const char *s, size_t len, int seconds, const char *cmdname,
                          long long *ms, resp_buf *err);

enum { EXP_NX = 1, EXP_XX = 2, EXP_GT = 4, EXP_LT = 8 };
/* EXPIRE family: flags from argv[3..], then the time (scaled to ms). */
int kv_parse_expire(int argc, char **argv, size_t *argvlen, int seconds, const char *cmdname,
                    int *flags, long long *when, resp_buf *err);

int kv_getll(const char *s, size_t len, long long *v, resp_buf *err);
/* The SCAN family: the cursor (Redis's parseScanCursorOrReply: an unsigned
 * decimal, no leading space), then COUNT (>= 1) and MATCH options from
 * argv[first] and, when type is not NULL, TYPE. A MATCH of "*" is no
 * pattern (*pat NULL). The empty reply is ["0", []]. */
int kv_scan_cursor(const char *s, unsigned long long *cursor, resp_buf *err);
int kv_scan_opts(int argc, char **argv, size_t *argvlen, int first, int allow_type,
                 long long *count, const char **pat, size_t *patlen, const char **type,
                 size_t *typelen, resp_buf *err);
void kv_scan_reply_empty(resp_buf *r);
/* Appends one element's reply items to out (HSCAN: field and value; SSCAN:
 * the member; ZSCAN: member and score) and returns how many, or -1 to stop
 * (c->rc set). val is the element record's value (KV_T_ZIDX: the score). */
typedef int kv_scan_emit(kv_ctx *c, resp_buf *out, const char *f, size_t flen, const char *val,
                         size_t vlen);
/* The walk of HSCAN, SSCAN and ZSCAN over v's records of table (kvks.h).
 * whole (Redis's compact encodings): every element in one reply with
 * cursor 0. Otherwise from the cursor, in element order: the cursor is the
 * next element's first 8 bytes (big-endian, zero-padded) and a batch ends
 * only where those change, so a resumed scan neither repeats nor skips an
 * element present for the whole scan (elements sharing their first 8
 * bytes come in one batch, whatever COUNT says). Replies [cursor, items]. */
void kv_scan_elements(kv_ctx *c, const kv_val *v, int table, int whole, unsigned long long cursor,
                      long long count, const char *pat, size_t patlen, kv_scan_emit *emit);
int kv_parse_bitoffset(const char *s, size_t len, uint64_t *off, resp_buf *err);

#define ERR_NOTINT "ERR value is not an integer or out of range"
#define ERR_SYNTAX "ERR syntax error"
#define ERR_NOTFLOAT "ERR value is not a valid float"
#define ERR_STRLEN "ERR string exceeds maximum allowed size (proto-max-bulk-len)"

/* ------------------------------------------------------------ families */

/* What a family file (kvx_<family>.c) has in common: the signature of an
 * implementation and of a check, and its rows of the command table. */
#define ARGS kv_ctx *c, int argc, char **argv, size_t *argvlen
#define UNUSED_ARGS                                                                                \
    (void)argc;                                                                                    \
    (void)argv;                                                                                    \
    (void)argvlen
#define KV_CHECK(name) static int name(int argc, char **argv, size_t *argvlen, resp_buf *err)

#define KV_FAMILY(f)                                                                               \
    extern const kv_command kvx_##f##_commands[];                                                  \
    extern const size_t kvx_##f##_ncommands;
KV_FAMILY(string)
KV_FAMILY(keyspace)
KV_FAMILY(expire)
KV_FAMILY(bits)
KV_FAMILY(hash)
KV_FAMILY(list)
KV_FAMILY(set)
KV_FAMILY(zset)
KV_FAMILY(stream)
KV_FAMILY(sort)
KV_FAMILY(hll)
KV_FAMILY(pubsub)
KV_FAMILY(notify)
KV_FAMILY(dump)
KV_FAMILY(evict)
KV_FAMILY(script)
KV_FAMILY(function)

/* A blocking command (KV_CMD_BLOCKING) found nothing to serve: it replies
 * the null Redis gives inside MULTI (null_array: BLPOP & co.; otherwise a
 * null bulk: BLMOVE, BRPOPLPUSH) and, outside MULTI, marks the entry
 * blocked (kvstate_apply_blocked()): the server drops that null and keeps
 * the client waiting. */
static inline void kvx_block_empty(kv_ctx *c, int null_array)
{
    if (null_array)
        resp_add_null_array(c->reply);
    else
        resp_add_null(c->reply);
    if (!c->multi) c->blocked = 1;
}

/* Shared by the families that write strings (kvx_string.c). */
void kvx_oom(kv_ctx *c); /* sets KV_ENOMEM unless an error is set */
char *kvx_dup(kv_ctx *c, const char *p, size_t n, size_t cap);
/* Rewrites key's string as nlen bytes: the old value, then zeros; returns
 * where the new value lives in the map (NULL: error set). */
char *kvx_rewrite_string(kv_ctx *c, const char *key, size_t keylen, const kv_val *old, size_t nlen,
                         int64_t expiry);

#endif
