/* kvint.h -- storage/ internals shared by its .c files. Not a contract for
 * other modules. */
#ifndef RAFTKV_KVINT_H
#define RAFTKV_KVINT_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "resp/resp.h"
#include "storage/kvstate.h"

struct kv_command;

/* ------------------------------------------------------------ memory */

/* Every allocation of storage/ goes through these (kvutil.c), so a test
 * can make any of them fail. Memory they return is released with free()
 * (kvlog_get() and kvlog_get_meta() hand it to the caller). */
void *kv_malloc(size_t n);
void *kv_calloc(size_t n, size_t size);
/* Test hook: the n-th allocation from now fails, and every one after it
 * until the hook is reset; 0 turns failures off. */
void kv_alloc_fail_after(long n);

/* ------------------------------------------------------------ util */

/* Redis's string2ll: no spaces, no '+', no leading zeros, no "-0". */
int kv_string2ll(const char *s, size_t slen, long long *value);
/* Redis's string2ld / ld2string(LD_STR_HUMAN). */
int kv_string2ld(const char *s, size_t slen, long double *dp);
int kv_ld2string(char *buf, size_t len, long double value);
/* Redis 7.0's stringmatchlen; public in kvcmd.h (the server matches pub/sub
 * patterns with it), declared here too for storage's own files. */
int kv_stringmatchlen(const char *pattern, size_t patlen, const char *s, size_t slen, int nocase);
/* The key-space hash: FNV-1a 64 with a final mixer. Fixed and seedless:
 * keys are stored under it, so it must never change. */
uint64_t kv_keyhash(const void *key, size_t len);
/* A second, independent hash, for the stored form of long keys. */
uint64_t kv_keyhash2(const void *key, size_t len);
void kv_put_be64(unsigned char *p, uint64_t v);
uint64_t kv_get_be64(const unsigned char *p);
int kv_streqci(const char *a, size_t alen, const char *lit); /* ASCII case-insensitive */
/* A HELP subcommand's reply: the NULL-terminated lines as simple strings. */
void kv_add_help(resp_buf *out, const char *const *lines);

/* ------------------------------------------------------------ entries */

typedef struct kv_argv {
    int argc;
    char **argv; /* one malloc'ed block: argv, argvlen, the NUL-terminated args */
    size_t *argvlen;
} kv_argv;

typedef struct kv_expire_item {
    int db; /* physical */
    char *key;
    size_t keylen;
    int64_t expiry;
} kv_expire_item;

typedef struct kv_entry {
    int kind;
    int db; /* CMD, MULTI: the logical database the commands start in */
    int64_t tau;
    uint32_t count;        /* commands (CMD: 1) or expire items */
    kv_argv *cmds;         /* CMD (points at one), MULTI */
    kv_expire_item *items; /* EXPIRE */
    kv_argv one;           /* a CMD entry's command, not allocated */
} kv_entry;

/* Decodes a whole payload; every length is checked against what is left.
 * Returns 0, KV_ECORRUPT or KV_ENOMEM. On success kventry_free() it. */
int kventry_decode(const void *p, size_t n, kv_entry *e);
void kventry_free(kv_entry *e);
void kventry_begin_expire(resp_buf *out, int64_t tau, uint32_t count);
void kventry_add_expire(resp_buf *out, int db, const void *key, size_t keylen, int64_t expiry);
/* Patches the count of an expire entry begun at offset start of out. */
void kventry_set_expire_count(resp_buf *out, size_t start, uint32_t count);

/* ------------------------------------------------------------ execution */

typedef struct kv_ctx {
    struct kvstate *st; /* the state (NULL in a few unit tests of records) */
    int db;             /* the command's logical database (SELECT) */
    MDB_txn *txn;
    MDB_dbi kv, exp; /* db's key table and expiry index (kv_use_db) */
    int writable;    /* txn is the write txn */
    int64_t tau;     /* expiry is evaluated against this */
    int64_t wall;    /* TTL/PTTL report against this */
    resp_buf *reply;
    int rc;        /* first storage error (KV_E*), 0 if none */
    uint64_t rng;  /* kv_rand(): seeded from the entry when applying */
    int multi;     /* inside MULTI: a blocking command never blocks */
    int in_script; /* called by a Lua script (redis.call): XREAD refuses BLOCK */
    /* Set by a command Redis runs without signalModifiedKey() (consumer
     * groups, XSETID): the key record it rewrites keeps its WATCH stamp,
     * its events touch nothing, its keys are no client-tracking
     * invalidation. kv_exec() clears it around each command. */
    int no_signal;
    int blocked;    /* a blocking command found nothing (kvstate_apply_blocked) */
    uint64_t index; /* the entry being applied: a key's change stamp (0: not applying) */
    /* The record put_record() last stamped, so that the notification that
     * follows (kv_touch) costs no second lookup. */
    MDB_dbi stamped_kv;
    size_t stamped_len; /* 0: none */
    unsigned char stamped[8 + 488];
} kv_ctx;

/* The server's hooks (kvstate.h "kvstate_hooks"), for command code; no-ops
 * for a read or without a state. kvnotify.c. */
void kv_signal_ready(kv_ctx *c, const char *key, size_t keylen); /* key NULL: all of c->db */
/* A write may have changed key of database db (key NULL: all of db; db
 * -1: of every database), for client tracking. */
void kv_key_written(kv_ctx *c, int db, const char *key, size_t keylen);
long long kv_publish(kv_ctx *c, int shard, const char *channel, size_t chlen, const char *msg,
                     size_t msglen);

/* Keyspace notification classes: Redis's NOTIFY_* bits, for kv_notify(). */
#define KV_NOTIFY_KEYSPACE (1 << 0)  /* K */
#define KV_NOTIFY_KEYEVENT (1 << 1)  /* E */
#define KV_NOTIFY_GENERIC (1 << 2)   /* g */
#define KV_NOTIFY_STRING (1 << 3)    /* $ */
#define KV_NOTIFY_LIST (1 << 4)      /* l */
#define KV_NOTIFY_SET (1 << 5)       /* s */
#define KV_NOTIFY_HASH (1 << 6)      /* h */
#define KV_NOTIFY_ZSET (1 << 7)      /* z */
#define KV_NOTIFY_EXPIRED (1 << 8)   /* x */
#define KV_NOTIFY_EVICTED (1 << 9)   /* e */
#define KV_NOTIFY_STREAM (1 << 10)   /* t */
#define KV_NOTIFY_KEY_MISS (1 << 11) /* m */
#define KV_NOTIFY_MODULE (1 << 13)   /* d (no modules: never emitted) */
#define KV_NOTIFY_NEW (1 << 14)      /* n */
#define KV_NOTIFY_ALL                                                                              \
    (KV_NOTIFY_GENERIC | KV_NOTIFY_STRING | KV_NOTIFY_LIST | KV_NOTIFY_SET | KV_NOTIFY_HASH |      \
     KV_NOTIFY_ZSET | KV_NOTIFY_EXPIRED | KV_NOTIFY_EVICTED | KV_NOTIFY_STREAM | KV_NOTIFY_MODULE)
/* Every bit a class letter sets. */
#define KV_NOTIFY_VALID                                                                            \
    (KV_NOTIFY_ALL | KV_NOTIFY_KEYSPACE | KV_NOTIFY_KEYEVENT | KV_NOTIFY_KEY_MISS | KV_NOTIFY_NEW)
/* Redis's notifyKeyspaceEvent(): event of class type on key in c->db,
 * published to this node's subscribers if the cluster-wide
 * notify-keyspace-events enables it. Applying only. */
void kv_notify(kv_ctx *c, int type, const char *event, const char *key, size_t keylen);
/* The same for logical database db (MOVE's target, an expire entry's key). */
void kv_notify_db(kv_ctx *c, int db, int type, const char *event, const char *key, size_t keylen);
/* The logical database that physical database phys holds, or -1. */
int kv_db_logical(kv_ctx *c, int phys);

/* The cluster-wide script budgets as of c's transaction (kvx_script.c):
 * script-instruction-budget and script-max-memory, defaults when unset. */
int kvx_script_conf(kv_ctx *c, uint64_t *budget, uint64_t *maxmem);
/* kvstate_as_read() for EVAL / EVALSHA (kvx_script.c). */
const struct kv_command *kvx_script_as_read(kv_ctx *c, const struct kv_command *cmd, int argc,
                                            char **argv, size_t *argvlen);

typedef void kv_exec_fn(kv_ctx *c, int argc, char **argv, size_t *argvlen);

/* Runs one data command (arity, check, exec); cmd is argv[0]'s entry,
 * or NULL to look it up. Unknown commands and arity errors are answered as
 * Redis would. A read-only command may run with c->writable == 0. */
void kv_exec(kv_ctx *c, const struct kv_command *cmd, int argc, char **argv, size_t *argvlen);

/* The value record: u8 type, i64 expiry (big-endian, 0 none), bytes. */
#define KV_TYPE_STRING 0
#define KV_REC_HDR 9

typedef struct kv_val {
    int found;
    uint8_t type;
    int64_t expiry; /* 0: none */
    const char *p;  /* a string's bytes: valid until the next write in the txn */
    size_t len;
    /* A collection (kvks.h). */
    uint64_t ver;        /* its elements' records are keyed by it */
    uint64_t count;      /* elements */
    uint64_t head, tail; /* a list: seq of its first element, one past its last */
    uint8_t enc;         /* KV_ENC_* */
    uint8_t raw;         /* a string: KV_REC_RAW was set */
    uint64_t stamp;      /* the index of the entry that last changed the key (kvwatch) */
    /* A stream (kvx_stream.c): its last id, the largest id deleted, the
     * entries ever added, the first id of its tail node (Redis's last
     * listpack, for where the next XADD goes) and the version of its
     * consumer groups' records (0: none) */
    uint64_t last_ms, last_seq, maxdel_ms, maxdel_seq, added, tail_ms, tail_seq, gver;
    /* ... and the tail node's counters (it has no node record of its own),
     * with the bytes of its listpack but the master entry's count and
     * deleted elements (kvx_stream.c; 0: unknown, a record of before) */
    uint64_t tail_live, tail_deleted, tail_last_ms, tail_last_seq, tail_base;
} kv_val;

/* The stored form of a key, as LMDB sees it (LMDB keys are at most 511
 * bytes): [u64 BE hash][key] for a key of up to KV_INLINE_KEYLEN bytes;
 * for a longer one, [u64 BE hash][first KV_LONG_PREFIX bytes][hash][hash2]
 * [u64 BE length], the full key then being kept in the record (type flag
 * KV_REC_LONGKEY, u32 BE length and the key before the value). The expiry
 * index uses the same form after its 8-byte expiry. */
#define KV_INLINE_KEYLEN 480
#define KV_LONG_PREFIX 464
#define KV_SKEY_LONG (KV_LONG_PREFIX + 24)
#define KV_REC_LONGKEY 0x80
/* A string Redis would hold as a raw sds (written in place by APPEND,
 * SETRANGE, SETBIT): only what OBJECT ENCODING reports depends on it. */
#define KV_REC_RAW 0x40
/* The record carries a u64 BE change stamp right after the 9-byte header
 * (before a long key): the index of the entry that last changed the key,
 * for WATCH. Records written before it existed read as stamp 0. */
#define KV_REC_STAMP 0x20

typedef struct kv_skey {
    unsigned char b[8 + KV_SKEY_LONG];
    size_t len; /* of b in use */
} kv_skey;

void kv_skey_make(kv_skey *sk, const char *key, size_t keylen);

/* A record of the key space as a cursor sees it. */
typedef struct kv_rec {
    uint64_t hash;
    const char *key;
    size_t keylen;
    uint8_t type;
    uint8_t raw; /* KV_REC_RAW */
    int64_t expiry;
    uint64_t stamp; /* KV_REC_STAMP's value, 0 without */
    const char *val;
    size_t vlen;
} kv_rec;

/* Parses a key-space record; -1 when malformed. */
int kv_rec_parse(const MDB_val *k, const MDB_val *d, kv_rec *r);

/* Looks a key up at c->tau. For a write (c->writable), an expired key is
 * deleted on the way (deterministic: every node does it at the same tau). */
int kv_lookup(kv_ctx *c, const char *key, size_t keylen, kv_val *v);
/* Stores a string with the given expiry (0: none), replacing what was
 * there and keeping the expiry index in step. */
int kv_store(kv_ctx *c, const char *key, size_t keylen, const void *val, size_t vlen,
             int64_t expiry);
/* Writes a value of vlen bytes and returns a pointer to fill (MDB_RESERVE). */
int kv_store_reserve(kv_ctx *c, const char *key, size_t keylen, size_t vlen, int64_t expiry,
                     char **dst);
/* The same, flagging the string raw (OBJECT ENCODING) when raw is set. */
int kv_store_reserve_raw(kv_ctx *c, const char *key, size_t keylen, size_t vlen, int64_t expiry,
                         int raw, char **dst);
/* Deletes a key (and its expiry); returns 1 if it was there, 0 if not, <0. */
int kv_delete(kv_ctx *c, const char *key, size_t keylen);
/* Changes only the expiry of an existing key. */
int kv_set_expiry(kv_ctx *c, const char *key, size_t keylen, int64_t expiry);
int kv_flush(kv_ctx *c);     /* c->db's tables only, nothing else */
int kv_flush_db(kv_ctx *c);  /* FLUSHDB: c->db, its collections queued for cleanup */
int kv_flush_all(kv_ctx *c); /* FLUSHALL: every database and element */
/* Stores v (any type: a string's p/len, or a collection's body) under key
 * with v->expiry. */
int kv_put_val(kv_ctx *c, const char *key, size_t keylen, const kv_val *v);
/* Makes db (logical, < KV_MAX_DBS) the one c's commands see. */
void kv_use_db(kv_ctx *c, int db);
/* An expire entry's item: deletes key of physical database phys if it
 * still has exactly that expiry and it has passed at c->tau. */
int kv_expire_one(kv_ctx *c, int phys, const char *key, size_t keylen, int64_t expiry);

/* ------------------------------------------------------------ WATCH */

/* Redis's signalModifiedKey()/touchWatchedKey(): key of logical database
 * db changed at this entry; its record gets c->index as its stamp (no
 * second write when put_record() already gave it). An absent key needs
 * nothing: its deletion bumped its bucket. Writes only; errors in c->rc. */
void kv_touch(kv_ctx *c, int db, const char *key, size_t keylen);
/* FLUSHDB, FLUSHALL (db -1: all) and SWAPDB: every key of logical db
 * changed at this entry. */
void kv_watch_mark(kv_ctx *c, int db);
/* What WATCH records of key in logical db at c's state: *present (exists
 * at c->tau) and *stamp, the last index at which the key may have
 * changed. 0 or KV_E*. */
int kv_watch_probe(kv_ctx *c, int db, const char *key, size_t keylen, int *present,
                   uint64_t *stamp);
/* The first command of a watched MULTI entry, "raft.watch" then pairs of
 * "<db>:<present 0|1>:<index>[:<physical db>]" and key: 1 when a watched
 * key changed after the index it was watched at (or a pair does not
 * parse), 0 when none did, -1 on a storage error (c->rc). A key absent
 * then changed only if it has existed since (kvks.c "watch"). */
int kv_watch_changed(kv_ctx *c, int argc, char **argv, size_t *argvlen);
/* LMDB's codes as KV_E*, and the share of an environment's map in use
 * (kvutil.c; for the state environment: the log is not in LMDB). */
int kv_map_err(int mdb_rc);
int kv_env_used_pct(MDB_env *env);

/* ------------------------------------------------------------ accounting */

/* What a key and an element count against maxmemory besides their bytes
 * (kvevict.c): fixed, so every node computes the same figure. */
#define KV_ACCT_KEY 56
#define KV_ACCT_ELEM 24
/* Adds delta to the accounted size (applying only). */
void kv_acct_add(kv_ctx *c, int64_t delta);
/* Adds delta to collection ver's element bytes (and the total). 0 or <0. */
int kv_acct_ver_add(kv_ctx *c, uint64_t ver, int64_t delta);
/* Takes collection ver's element bytes out of the total and forgets them
 * (the collection was dropped). 0 or <0. */
int kv_acct_ver_drop(kv_ctx *c, uint64_t ver);
/* Element bytes of ver (0 when none). */
uint64_t kv_acct_ver_get(kv_ctx *c, uint64_t ver);
/* The accounted size of a record of the key table (without its elements). */
uint64_t kv_acct_record(size_t keylen, int type, size_t vlen);
/* The accounted size of an element record (logical name and value). */
static inline uint64_t kv_acct_elem(size_t flen, size_t vlen)
{
    return KV_ACCT_ELEM + flen + vlen;
}
/* A digest of a key's record as stored (type, expiry, value or collection
 * header): what the previous version's eviction entry (RAFT.EVICT)
 * carries; kept so that old logs apply identically. */
uint64_t kv_record_digest(const void *rec, size_t len);
/* RAFT.MEMCONF / RAFT.EVICT2 (kvevict.c) and the -OOM of denyoom commands
 * decided at apply: 1 when cmd must be refused. */
int kv_oom_at_apply(kv_ctx *c, const struct kv_command *cmd);
/* Redis's OOM state when a script starts (its pre-command OOM state): a
 * script whose shebang or function flags have neither no-writes nor
 * allow-oom is refused with -OOM, and in any script without allow-oom a
 * denyoom command before the script's first write is (kvlua.c), as
 * Redis's scriptVerifyOOM. Decided from the state, at apply. */
int kv_oom_for_script(kv_ctx *c);

/* ------------------------------------------------------------ state env */

/* The LMDB databases of a pair ("slots"): per physical database its keys
 * and expiry index, then the element table, the zset score index, the
 * cleanup queue and the pair's own metadata (the database map and the
 * version counter, which travel with the key space in a snapshot). The
 * snapshot writer and installer and FLUSHALL walk this table; a new index
 * is a new slot. */
#define KV_SLOT_KV(p) (p)
#define KV_SLOT_EXP(p) (KV_MAX_DBS + (p))
#define KV_SLOT_ELEM (2 * KV_MAX_DBS)
#define KV_SLOT_ZIDX (2 * KV_MAX_DBS + 1)
#define KV_SLOT_GC (2 * KV_MAX_DBS + 2)
#define KV_SLOT_PMETA (2 * KV_MAX_DBS + 3)
/* Accounted element bytes of each live collection: [u64 BE version] ->
 * u64 BE bytes (kvevict.c "accounting"). */
#define KV_SLOT_ACCT (2 * KV_MAX_DBS + 4)
/* WATCH's records of absent keys (kvks.c "watch"): per physical database
 * and key-hash bucket the last index a live key of the bucket was deleted
 * at, and per logical database the last FLUSHDB/FLUSHALL/SWAPDB. */
#define KV_SLOT_WATCH (2 * KV_MAX_DBS + 5)
/* The script cache and the script budgets (kvx_script.c). */
#define KV_SLOT_SCRIPTS (2 * KV_MAX_DBS + 6)
/* The function libraries (kvx_function.c). */
#define KV_SLOT_FUNCTIONS (2 * KV_MAX_DBS + 7)
#define KV_NSLOTS (2 * KV_MAX_DBS + 8)
/* The LMDB name of a slot of a pair ("kv0", "exp1.5", "elem0", ...). */
void kv_slot_name(char *buf, size_t len, int pair, int slot);

/* The thread that begins and ends the state's write transactions
 * (kvcommit.c): LMDB lets only the thread that began one end it. Every
 * call but kvc_commit_post() waits for its job, after the job in flight. */
typedef struct kvcommitter kvcommitter;
int kvc_start(kvcommitter **out, MDB_env *env); /* 0 or an errno */
void kvc_stop(kvcommitter *c);                  /* after the job in flight */
int kvc_begin(kvcommitter *c, MDB_txn **txn);   /* a write transaction */
int kvc_commit(kvcommitter *c, MDB_txn *txn);
void kvc_abort(kvcommitter *c, MDB_txn *txn);
/* Commits txn on the thread and returns at once: until kvc_wait() the
 * caller must not touch the environment's write side. */
void kvc_commit_post(kvcommitter *c, MDB_txn *txn);
int kvc_done(kvcommitter *c); /* the posted commit finished */
int kvc_wait(kvcommitter *c); /* waits for the posted commit; its result */
int kvc_fd(kvcommitter *c);   /* readable once a posted commit finished */

/* A transaction that sees the applied state, for a look that ends before
 * the caller returns: the open write transaction, else a new read-only one
 * (*own: the caller aborts it). Waits for a commit in flight first (the
 * applied state is the committing transaction's). 0 or a KV_E* code. */
int kvstate_txn_for_read(kvstate *s, MDB_txn **txn, int *own);

/* The state environment (kvstate.h), shared by kvstate.c and kvsnap.c. */
struct kvstate {
    MDB_env *env;
    MDB_dbi dbi[2][KV_NSLOTS], meta;
    uint8_t dbmap[KV_MAX_DBS]; /* logical -> physical database (live pair) */
    uint64_t next_ver;         /* the next collection version (live pair) */
    int pmeta_dirty;           /* dbmap / next_ver to write at commit */
    MDB_txn *wtxn;             /* stays open across applies; kvstate_commit() ends it */
    kvcommitter *cm;           /* begins and ends wtxn */
    int committing;            /* a commit runs on cm (kvstate_commit_start()) */
    int commit_rc;             /* a failed commit's error, kept: the state is unusable */
    MDB_txn *rtxn;             /* reads while no wtxn is open; reset when one begins */
    int rtxn_live;             /* rtxn is begun (not reset) */
    uint64_t read_rng;         /* seeds a read's RANDOMKEY */
    int live;                  /* which pair holds the key space */
    /* WATCH's tombstones (kvks.c): none of a generation below this is
     * stored (0: not known). A cache that only spares the pruning's seek:
     * reset whenever the state is replaced or rolled back. */
    uint64_t tomb_floor;
    uint64_t applied, durable;
    int64_t tau, durable_tau;
    uint64_t snap_index, snap_term; /* the last snapshot installed (kvsnap.h) */
    int used_pct;                   /* cached; -1 after a commit */
    uint64_t pages_at_commit;       /* kvstate_pages(); UINT64_MAX: not computed */
    uint64_t pending_bytes;         /* kvstate_pending_bytes() */
    char path[256];                 /* <dir>/state, for messages */
    uint64_t reserved;              /* bytes of data.mdb given disk blocks (kvstate_reserve) */
    int reserve_warned;             /* a failed reservation was logged (kvstate_last_error) */
    char errmsg[384];               /* kvstate_last_error() */
    kvstate_hooks hooks;            /* kvstate_set_hooks() */
    int apply_blocked;              /* kvstate_apply_blocked() */
    int applying;                   /* inside kvstate_apply(): hooks may be called */
    int notify;                     /* notify-keyspace-events (KV_NOTIFY_*; live pair) */
    /* maxmemory and eviction (kvevict.c; live pair's metadata). */
    uint64_t acct;             /* accounted bytes of the key space */
    uint64_t evicted;          /* keys deleted by applied eviction entries */
    kv_memconf mem;            /* the cluster's maxmemory settings */
    int acct_missing;          /* the pair had no accounted size: recount at open */
    kvstate_access_fn *access; /* node-local access data (OBJECT FREQ/IDLETIME) */
    void *access_ctx;
    char *acl; /* the ACL users (PMETA_ACL; live pair); NULL: never set */
    size_t acl_len;
    /* the cluster's configuration (PMETA_MEMBERS; live pair): u64 BE index
     * of the change, then its raft_conf_change payload; NULL: never set */
    unsigned char *members;
    size_t members_len;
};

#define META_LIVE "live"
#define META_APPLIED "applied"
#define META_TAU "tau"
#define META_SNAP_INDEX "snap_index"
#define META_SNAP_TERM "snap_term"

#define PMETA_DBMAP "dbmap"
#define PMETA_VER "ver"
#define PMETA_NOTIFY "notify"   /* u64 BE KV_NOTIFY_* bits; absent: 0 */
#define PMETA_ACCT "acct"       /* u64 BE accounted bytes; absent: recounted at open */
#define PMETA_EVICTED "evicted" /* u64 BE evicted keys; absent: 0 */
#define PMETA_MEMCONF "memconf" /* 5 x u64 BE: kv_memconf; absent: defaults */
/* Reads pair's accounted bytes, evicted count and memory settings in txn:
 * KV_ECORRUPT when one has the wrong size or a setting is out of range.
 * *has_acct says whether the accounted figure was there. */
int kvstate_save_pmeta_mem(struct kvstate *s); /* into the write transaction */
/* A state without an accounted size (written before it existed): counts
 * it and every collection's element bytes, in the write transaction. */
int kvstate_acct_rebuild(struct kvstate *s);
int kvstate_read_pmeta_mem(struct kvstate *s, MDB_txn *txn, int pair, uint64_t *acct,
                           uint64_t *evicted, kv_memconf *mem, int *has_acct);
/* The ACL users, as the server's hook wrote them (kvstate.h acl_apply):
 * opaque bytes here; absent until the first ACL entry is applied. */
#define PMETA_ACL "acl"
#define PMETA_MEMBERS "members" /* kvstate_members(); absent: the bootstrap one */
/* Reads pair's dbmap, next_ver and notify-keyspace-events flags in txn
 * (defaults when absent): KV_ECORRUPT when the map is not a permutation,
 * a value has the wrong size or the flags hold an unknown class, and then
 * nothing is changed. */
int kvstate_read_pmeta(struct kvstate *s, MDB_txn *txn, int pair, uint8_t dbmap[KV_MAX_DBS],
                       uint64_t *next_ver, int *notify);
/* Reads the live pair's into s (and its ACL users). */
int kvstate_load_pmeta(struct kvstate *s, MDB_txn *txn);
/* Writes them into the write transaction. */
int kvstate_save_pmeta(struct kvstate *s);

/* Begins the long-lived write transaction if none is open. */
int kvstate_begin_write(struct kvstate *s);
/* u64 metadata in the write transaction / in txn (absent reads as 0). */
int kvstate_meta_put(struct kvstate *s, const char *name, uint64_t v);
int kvstate_meta_get(struct kvstate *s, MDB_txn *txn, const char *name, uint64_t *v);

#endif
