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
int kv_parse_bitoffset(const char *s, size_t len, uint64_t *off, resp_buf *err);

#define ERR_NOTINT "ERR value is not an integer or out of range"
#define ERR_SYNTAX "ERR syntax error"
#define ERR_NOTFLOAT "ERR value is not a valid float"
#define ERR_STRLEN "ERR string exceeds maximum allowed size (proto-max-bulk-len)"

/* The implementations (kvexec.c). */
kv_exec_fn kvx_get;
kv_exec_fn kvx_set;
kv_exec_fn kvx_setnx;
kv_exec_fn kvx_setex;
kv_exec_fn kvx_psetex;
kv_exec_fn kvx_getset;
kv_exec_fn kvx_getdel;
kv_exec_fn kvx_getex;
kv_exec_fn kvx_mget;
kv_exec_fn kvx_mset;
kv_exec_fn kvx_msetnx;
kv_exec_fn kvx_del;
kv_exec_fn kvx_exists;
kv_exec_fn kvx_incr;
kv_exec_fn kvx_decr;
kv_exec_fn kvx_incrby;
kv_exec_fn kvx_decrby;
kv_exec_fn kvx_incrbyfloat;
kv_exec_fn kvx_append;
kv_exec_fn kvx_strlen;
kv_exec_fn kvx_getrange;
kv_exec_fn kvx_setrange;
kv_exec_fn kvx_expire;
kv_exec_fn kvx_pexpire;
kv_exec_fn kvx_expireat;
kv_exec_fn kvx_pexpireat;
kv_exec_fn kvx_ttl;
kv_exec_fn kvx_pttl;
kv_exec_fn kvx_expiretime;
kv_exec_fn kvx_pexpiretime;
kv_exec_fn kvx_persist;
kv_exec_fn kvx_type;
kv_exec_fn kvx_keys;
kv_exec_fn kvx_scan;
kv_exec_fn kvx_randomkey;
kv_exec_fn kvx_rename;
kv_exec_fn kvx_renamenx;
kv_exec_fn kvx_setbit;
kv_exec_fn kvx_getbit;
kv_exec_fn kvx_bitcount;
kv_exec_fn kvx_bitpos;
kv_exec_fn kvx_lcs;
kv_exec_fn kvx_memory;
kv_exec_fn kvx_dbsize;
kv_exec_fn kvx_flush;

#endif
