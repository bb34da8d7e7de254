/* kvstate.h -- the state environment: the key space as of an applied log
 * index, and the state machine that applies entries to it.
 *
 * Layout (DESIGN.md): an LMDB environment in <dir>/state with two pairs of
 * tables (kvint.h, "slots"), one live, the other for an incoming snapshot:
 *   kvN[.p], expN[.p]: per physical database p, key -> record (type,
 *                      absolute expiry in ms or 0, bytes or a collection's
 *                      header), and (expiry ms BE, key) -> empty
 *   elemN, zidxN:      collection elements and the zset score index (kvks.h)
 *   gcN:               versions of deleted collections still to clean up
 *   pmetaN:            the logical -> physical database map, the version counter,
 *                      notify-keyspace-events (kvstate_notify_flags)
 *   meta:              which pair is live, applied index, applied tau.
 * Applied entries go into a write transaction that stays open across calls
 * (reads go through it) and is committed by kvstate_commit(), which the
 * server calls periodically (server/main.c) and at shutdown. A
 * commit syncs the data pages, then the meta page: when it returns, the
 * state as of kvstate_durable_index() survives a power loss (the log is
 * compacted against that index). kvstate_open() fsyncs state/ and <dir>
 * so the files' names are durable too. After a crash the state may lag
 * the log; the server replays the log from
 * kvstate_applied_index() + 1. The applied index and the key space always
 * change in the same transaction.
 *
 * Time: the state's time is tau, the time of the last applied entry. Keys
 * whose expiry <= tau do not exist, for reads as for writes.
 */
#ifndef RAFTKV_KVSTATE_H
#define RAFTKV_KVSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "resp/resp.h"

typedef struct kvstate kvstate;

/* Databases the state holds (SELECT 0 .. KV_MAX_DBS - 1); the server's
 * `databases` may be at most this. */
#define KV_MAX_DBS 64

int kvstate_open(kvstate **out, const char *dir, uint64_t mapsize, char *err, size_t errlen);
void kvstate_close(kvstate *s); /* commits; NULL is a no-op */

uint64_t kvstate_applied_index(kvstate *s); /* including uncommitted applies */
uint64_t kvstate_durable_index(kvstate *s); /* applied index as last committed */
/* Pages (branch, leaf, overflow) the live key space and its expiry index
 * take, as of the last commit: a bound on the pages a write transaction
 * can dirty, since a page is copied once per transaction. */
uint64_t kvstate_pages(kvstate *s);
/* The state's file is mapped writable (MDB_WRITEMAP): disk blocks are
 * taken for what it holds and 64 MB ahead at open and after each commit
 * (kvstate_reserve). A reservation the disk refused is noted once:
 * kvstate_reserve_failed() says so a single time (the reason is
 * kvstate_last_error()). A write fault in the map (SIGBUS) past the
 * reservation is a full or failing disk: the server's handler stops. */
void kvstate_reserve(kvstate *s);
int kvstate_reserve_failed(kvstate *s);
/* Bytes of entry payloads applied since the last commit (what the open
 * write transaction grew by, roughly). */
uint64_t kvstate_pending_bytes(kvstate *s);
int64_t kvstate_tau(kvstate *s);

/* Applies the entry at index (must be applied_index + 1; an index <=
 * applied_index is ignored and returns 0, for replay). payload is an entry
 * as made by kventry.h, or empty (a no-op entry: the index still advances).
 * When reply is not NULL the entry's reply is appended to it in reply->proto:
 * one reply for a command, an array for a MULTI, nothing for an expire or
 * no-op entry. Data-dependent outcomes (WRONGTYPE, not an integer, NX/XX)
 * are decided here. Returns 0, or a KV_E* code for a storage failure, after
 * which the node must stop (an entry is never skipped); KV_ENEWER when the
 * entry names a command this binary does not know (written by a newer
 * leader: applying it as an error would make this node differ). */
int kvstate_apply(kvstate *s, uint64_t index, const void *payload, size_t len, resp_buf *reply);
/* 1 when the last kvstate_apply() was one blocking command
 * (KV_CMD_BLOCKING, not inside MULTI) that found nothing to serve. Its
 * reply is then the null the command gives inside MULTI, which the server
 * sends only when the client's timeout passes; it keeps the client
 * blocked (server/blocking.c). */
int kvstate_apply_blocked(kvstate *s);

/* What applying entries tells the node's server: called from inside
 * kvstate_apply() only (never for a read), in apply order, so every node
 * makes the same calls. A hook must not use the state. NULL members are
 * skipped. */
typedef struct kvstate_hooks {
    void *ctx;
    /* A list or sorted set key of logical database db was written or came
     * into being (pushed, created, renamed, moved or copied in); key NULL:
     * any key of db may have (SWAPDB). A hint for blocked clients: the pop
     * that serves one is an entry of its own. */
    void (*key_ready)(void *ctx, int db, const char *key, size_t keylen);
    /* A write may have changed key of logical database db (key NULL: every
     * key of db, db -1 then meaning every database; a key with db < 0: its
     * database is not known, as for an expire entry's): client tracking
     * invalidates it. Every key a write command names is reported, changed
     * or not. */
    void (*key_written)(void *ctx, int db, const char *key, size_t keylen);
    /* A message for this node's subscribers: PUBLISH (shard 0), SPUBLISH
     * (shard 1) and keyspace notifications (shard 0). Returns how many
     * clients of this node it reached. */
    long long (*publish)(void *ctx, int shard, const char *channel, size_t chlen, const char *msg,
                         size_t msglen);
    /* RAFT.ACL argv (argv[0] is the command's name): computes the users
     * that follow from cur (kvstate_acl(); NULL when never set) and the
     * entry alone, appends the reply, and returns 1 with *out (malloc'ed,
     * taken by the state) the new users, or 0 when nothing changed (an
     * error reply), or -1 when out of memory. Must be deterministic: every
     * node calls it with the same arguments. */
    int (*acl_apply)(void *ctx, const char *cur, size_t curlen, int argc, char **argv,
                     size_t *argvlen, resp_buf *reply, char **out, size_t *outlen);
} kvstate_hooks;
void kvstate_set_hooks(kvstate *s, const kvstate_hooks *h);

/* notify-keyspace-events: which keyspace notifications applying emits
 * (Redis's NOTIFY_* bits, storage/kvint.h KV_NOTIFY_*). Cluster-wide state,
 * set by applying RAFT.NOTIFYCONF <flags> (a KV_CMD_INTERNAL command the
 * server proposes for CONFIG SET), kept in the state and its snapshots;
 * 0 until set. */
int kvstate_notify_flags(kvstate *s);

/* The ACL users (server/acl.h): cluster-wide state, changed only by
 * applying RAFT.ACL (a KV_CMD_INTERNAL command the server proposes for ACL
 * SETUSER, DELUSER, LOAD and CONFIG SET requirepass) through the acl_apply
 * hook, kept in the pair's metadata and its snapshots. Returns the bytes
 * the hook last produced (NUL terminated, *len bytes; borrowed until the
 * next apply or snapshot install), or NULL when no ACL entry was ever
 * applied. */
const char *kvstate_acl(kvstate *s, size_t *len);
/* The cluster's membership (raft.h "membership"): applying a raft
 * configuration-change entry at index (must be applied_index + 1; an index
 * <= applied_index is ignored and returns 0, for replay) advances the
 * applied index and records conf, its payload (opaque here; 1 ..
 * KV_MEMBERS_MAX bytes), in the same transaction: the configuration in
 * force and the applied index are always of one moment, in the state and
 * in its snapshots. Returns 0, KV_EINVAL, KV_ENOMEM or a write error. */
#define KV_MEMBERS_MAX 4096
int kvstate_apply_members(kvstate *s, uint64_t index, const void *conf, size_t len);
/* The last configuration applied (borrowed until the next apply or
 * snapshot install) and the index of its change, or NULL when none ever
 * was (the cluster still runs its bootstrap configuration). */
const void *kvstate_members(kvstate *s, uint64_t *index, size_t *len);
/* The cluster-wide script budgets (script-instruction-budget,
 * script-max-memory; storage/kvlua.h), set by applying RAFT.SCRIPTCONF and
 * kept in the state (its snapshots carry them). Defaults until set. */
int kvstate_script_conf(kvstate *s, uint64_t *budget, uint64_t *maxmem);
/* A write command this state would run without writing, as the read
 * command to serve instead (its row, kvcmd.h): EVAL / EVALSHA of a script
 * whose shebang has the no-writes flag -> EVAL_RO / EVALSHA_RO; FUNCTION
 * LIST / DUMP / STATS, SCRIPT EXISTS / DEBUG & co. -> the same row
 * (kv_call_reads). NULL
 * otherwise (and for any other command, at the cost of a name
 * comparison). */
struct kv_command;
const struct kv_command *kvstate_as_read(kvstate *s, const struct kv_command *cmd, int argc,
                                         char **argv, size_t *argvlen);
/* The script cache (INFO memory's number_of_cached_scripts and
 * used_memory_scripts_eval: the bytes of the slot's pages). */
int kvstate_script_stats(kvstate *s, uint64_t *count, uint64_t *bytes);
/* The function libraries (kvx_function.c) as of the last commit: how many
 * functions they register and the bytes their slot takes (INFO memory
 * number_of_functions / used_memory_functions). 0 or a KV_E* code. */
int kvstate_function_stats(kvstate *s, uint64_t *count, uint64_t *bytes);
/* Redis's keyspaceEventsStringToFlags(): the flags of a class string, or
 * -1 for a character that is no class. */
int kv_notify_parse(const char *classes, size_t len);
/* Redis's keyspaceEventsFlagsToString() (CONFIG GET), into buf (>= 16
 * bytes). */
void kv_notify_format(int flags, char *buf, size_t len);

/* ------------------------------------------------------------ maxmemory
 *
 * maxmemory, maxmemory-policy, maxmemory-samples, lfu-log-factor and
 * lfu-decay-time are cluster-wide state, like notify-keyspace-events: set
 * by applying RAFT.MEMCONF (KV_CMD_INTERNAL, proposed by CONFIG SET or by
 * a leader whose configuration file differs), kept in the pair's metadata
 * and its snapshots. What counts against maxmemory is the accounted size,
 * computed at apply from the state alone (storage/kvevict.c): per key
 * KV_ACCT_KEY + key bytes + a string's bytes, per collection element
 * KV_ACCT_ELEM + element name + value bytes. A denyoom write is answered
 * -OOM at apply when the accounted size is above maxmemory and the policy
 * is noeviction or nothing is evictable (volatile-* with no key with an
 * expiry). Victims are chosen by the leader (kvstate_evict_sample) and
 * deleted by RAFT.EVICT entries, each victim only if its record still has
 * the digest it was chosen with. */
enum {
    KV_MAXMEM_NOEVICTION = 0,
    KV_MAXMEM_ALLKEYS_LRU,
    KV_MAXMEM_ALLKEYS_LFU,
    KV_MAXMEM_ALLKEYS_RANDOM,
    KV_MAXMEM_VOLATILE_LRU,
    KV_MAXMEM_VOLATILE_LFU,
    KV_MAXMEM_VOLATILE_RANDOM,
    KV_MAXMEM_VOLATILE_TTL,
    KV_MAXMEM_NPOLICIES
};
typedef struct kv_memconf {
    uint64_t maxmemory; /* bytes; 0: no limit */
    int policy;         /* KV_MAXMEM_* */
    int samples;        /* maxmemory-samples, 1..INT_MAX (sampling takes at most 64) */
    int lfu_log_factor; /* 0..INT_MAX (Redis's range) */
    int lfu_decay_time; /* minutes, 0..INT_MAX */
} kv_memconf;
#define KV_MEMCONF_DEFAULT                                                                         \
    {                                                                                              \
        0, KV_MAXMEM_NOEVICTION, 5, 10, 1                                                          \
    }
/* Redis's names ("allkeys-lru"), and back (-1: unknown). */
const char *kv_policy_name(int policy);
int kv_policy_parse(const char *s, size_t len);
static inline int kv_policy_lfu(int p)
{
    return p == KV_MAXMEM_ALLKEYS_LFU || p == KV_MAXMEM_VOLATILE_LFU;
}
static inline int kv_policy_volatile(int p)
{
    return p >= KV_MAXMEM_VOLATILE_LRU;
}
/* The settings in force (as of the last applied entry). */
const kv_memconf *kvstate_memconf(kvstate *s);
/* The accounted size, and the keys eviction entries deleted (INFO). */
uint64_t kvstate_accounted(kvstate *s);
uint64_t kvstate_evicted(kvstate *s);
/* 1 when a denyoom write applied now would get -OOM (above maxmemory with
 * noeviction, or a volatile-* policy and no key with an expiry), as of the
 * last applied entry: the server's check for what Redis refuses before a
 * command runs (queuing in MULTI, EXEC of denyoom commands). */
int kvstate_oom_refuses(kvstate *s);
/* The same figure counted from scratch over the key space (tests, and at
 * open for a state that has none). 0 or KV_E*. */
int kvstate_acct_recount(kvstate *s, uint64_t *total);

/* Node-local access data for OBJECT FREQ (which 1) and OBJECT IDLETIME
 * (which 0) of key in logical database db: never part of the state, so it
 * only shapes those replies. NULL: FREQ 0... as the server sets it. */
typedef long long kvstate_access_fn(void *ctx, int which, int db, const char *key, size_t keylen);
void kvstate_set_access(kvstate *s, kvstate_access_fn *fn, void *ctx);

/* One key the eviction sampler saw (kvstate_evict_sample). key is owned
 * by the sample (free() it). */
typedef struct kv_evict_sample {
    int db;   /* logical database */
    int phys; /* physical database (the RAFT.EVICT argument) */
    char *key;
    size_t keylen;
    int64_t expiry; /* 0: none */
    uint64_t bytes; /* accounted size with its elements */
    uint64_t stamp; /* its record's change stamp (the RAFT.EVICT2 argument) */
} kv_evict_sample;
/* Samples up to n keys at random (volatile_only: keys with an expiry;
 * nearest_expiry: the n keys that expire first, for volatile-ttl) from
 * every database that has some, as of the last applied entry. rng is the
 * caller's (a leader's own randomness: the entry carries the victims).
 * Returns how many were written to out (room for n per database:
 * n * KV_MAX_DBS), or KV_E*. */
int kvstate_evict_sample(kvstate *s, int n, int volatile_only, int nearest_expiry, uint64_t *rng,
                         kv_evict_sample *out, int max);
/* Whether v's key still has the record v was sampled from (its change
 * stamp is v->stamp), as of the last applied entry: 1 yes, 0 no (changed,
 * gone, or its physical database now holds another record), or KV_E*. A
 * candidate kept in the leader's pool since an earlier sample is checked
 * before it becomes a victim: the eviction entry would spare it anyway,
 * and counting its bytes as freed would leave the size above maxmemory. */
int kvstate_evict_current(kvstate *s, const kv_evict_sample *v);
/* WATCH of key in logical database db: *present says whether it exists at
 * the state's tau, *applied is the state's applied index and *phys the
 * physical database db is (SWAPDB), which the client's EXEC carries (as
 * "<db>:<present>:<applied>:<phys>" and the key, after "raft.watch", the
 * first command of its MULTI entry): the apply aborts the transaction,
 * with a null reply, if the key changed after that index or existed then
 * and has expired since; a key absent then, only if it has existed in db
 * since (Redis 7.0: a FLUSHDB, SWAPDB or delete of other keys is no
 * change). 0 or KV_E*. */
int kvstate_watch_probe(kvstate *s, int db, const char *key, size_t keylen, int *present,
                        uint64_t *applied, int *phys);

/* Runs one read-only command (a kv_command with KV_CMD_READONLY) against
 * the state at its tau, in logical database db; cmd is argv[0]'s entry
 * (kvcmd.h) or NULL to look it up. wall_ms is the node's wall clock, used only where
 * Redis reports time relative to now (TTL, PTTL). Returns 0 or KV_E*. */
struct kv_command;
int kvstate_read(kvstate *s, int db, const struct kv_command *cmd, int argc, char **argv,
                 size_t *argvlen, int64_t wall_ms, resp_buf *reply);

/* Commits the open write transaction, durably (two fdatasyncs: the data
 * pages, then the meta page). No-op if none. Waits for a commit in flight
 * first, as every function of this header does before it uses the state. */
int kvstate_commit(kvstate *s);
/* The same commit, on the state's commit thread (kvcommit.c): returns at
 * once, with the commit in flight until kvstate_commit_wait(). Meanwhile
 * the caller applies nothing: any call that reads or writes the state
 * waits for the commit first (a read sees every applied entry, and the
 * entries applied so far are in the committing transaction). The applied
 * index stays; the durable index moves when the commit ends. */
int kvstate_commit_start(kvstate *s);
int kvstate_committing(kvstate *s);  /* a started commit not yet waited for */
int kvstate_commit_done(kvstate *s); /* none in flight, or it finished (waiting won't block) */
/* Ends a started commit (waiting if it runs): 0, or the error of a failed
 * commit, which every later call that needs the state answers too (the
 * state is unusable: the node must stop). 0 if none was started. */
int kvstate_commit_wait(kvstate *s);
/* An eventfd, readable once a started commit finished, even if
 * kvstate_commit_wait() ended it already: its watcher reads it (clears it)
 * and calls kvstate_commit_wait(). */
int kvstate_commit_fd(kvstate *s);
/* The last failed commit's file and the system's error (e.g. "committing
 * <dir>/state/data.mdb: No space left on device"); "" if none. */
const char *kvstate_last_error(const kvstate *s);

/* Earliest expiry in the expiry index (ms), or -1 when no key expires. */
int64_t kvstate_next_expiry(kvstate *s);
/* Appends to out an expire entry (kventry.h) holding up to max (key,
 * expiry) pairs whose expiry <= now_ms; returns how many (0: out is
 * untouched). */
int kvstate_collect_expired(kvstate *s, int64_t now_ms, int max, resp_buf *out);

/* Statistics for INFO and DBSIZE, of logical database db (< 0: all). */
uint64_t kvstate_dbsize(kvstate *s, int db);
uint64_t kvstate_expires(kvstate *s, int db);

/* Deletes up to budget element records of deleted collections (in the
 * write transaction, which it begins if none is open): the bounded
 * background half of DEL, FLUSHDB, overwrites and expiry of collections.
 * Only records no key refers to are touched, so when it runs does not
 * change what any command sees. Returns how many it deleted, or KV_E*. */
int kvstate_gc(kvstate *s, int budget);
/* Deleted collections still queued. */
uint64_t kvstate_gc_pending(kvstate *s);
int kvstate_used_pct(kvstate *s);

#endif
