/* kvlog.h -- the log environment: the Raft log and the hard state in LMDB.
 *
 * Layout (DESIGN.md): an LMDB environment in <dir>/log with two databases,
 *   entries: u64 big-endian index -> u64 term, u8 type, data   (MDB_APPEND)
 *   meta:    hard state (term, vote, commit), first index, snapshot index
 *            and term, cluster id and node id.
 * Opened with MDB_NOTLS. Writes made between two kvlog_sync() calls go into
 * one write transaction, committed and fsynced by kvlog_sync(): that is the
 * group commit, one fsync per event-loop pass.
 *
 * Errors: functions returning int return 0 or a negative KV_E* code
 * (storage/kverr.h); LMDB's own code is kept for kv_strerror().
 */
#ifndef RAFTKV_KVLOG_H
#define RAFTKV_KVLOG_H

#include <stddef.h>
#include <stdint.h>

typedef struct kvlog kvlog;

typedef struct kvlog_hardstate {
    uint64_t term, vote, commit;
} kvlog_hardstate;

/* Opens (creating if needed) <dir>/log. mapsize in bytes (sparse).
 * On failure returns a KV_E* code and writes a message into err. */
int kvlog_open(kvlog **out, const char *dir, uint64_t mapsize, char *err, size_t errlen);
/* Commits anything pending (with fsync) and closes. NULL is a no-op. */
void kvlog_close(kvlog *l);

/* Index of the first entry still in the log (snapshot index + 1 once the
 * log was compacted; 1 for a new log) and of the last (first - 1 when the
 * log is empty). Include pending, not yet synced writes. */
uint64_t kvlog_first_index(kvlog *l);
uint64_t kvlog_last_index(kvlog *l);

/* Appends one entry; index must be last_index + 1 (else KV_EINVAL). */
int kvlog_append(kvlog *l, uint64_t index, uint64_t term, uint8_t type, const void *data,
                 size_t len);
/* Deletes every entry with index >= index (a Raft conflict). */
int kvlog_truncate_suffix(kvlog *l, uint64_t index);
int kvlog_set_hardstate(kvlog *l, const kvlog_hardstate *hs);
int kvlog_get_hardstate(kvlog *l, kvlog_hardstate *hs); /* zeroes for a new log */

/* Commits the pending write transaction and fsyncs. A no-op when nothing
 * is pending. After an error the pending writes are lost and the caller
 * must treat the node as failed. */
int kvlog_sync(kvlog *l);

/* Reads one entry. *data is malloc'ed (caller frees); KV_ENOTFOUND when the
 * index is outside [first, last]. */
int kvlog_get(kvlog *l, uint64_t index, uint64_t *term, uint8_t *type, void **data, size_t *len);
/* Term of an entry; KV_ENOTFOUND outside [first-1, last] (first-1 answers
 * with the snapshot term). */
int kvlog_term(kvlog *l, uint64_t index, uint64_t *term);

/* Small named metadata values (cluster id, node id). */
int kvlog_set_meta(kvlog *l, const char *name, const void *v, size_t n);
int kvlog_get_meta(kvlog *l, const char *name, void **v, size_t *n); /* malloc'ed */

/* Added for compaction and snapshots. kvlog_truncate_prefix() deletes
 * every entry below index (index <= last + 1), remembering the term of
 * index - 1 as the snapshot term; kvlog_reset() empties the log so that it
 * starts after a snapshot (first = snap_index + 1). Both are pending until
 * kvlog_sync(). */
int kvlog_truncate_prefix(kvlog *l, uint64_t index);
int kvlog_reset(kvlog *l, uint64_t snap_index, uint64_t snap_term);
uint64_t kvlog_snapshot_index(kvlog *l);
uint64_t kvlog_snapshot_term(kvlog *l);

/* Added for raft/'s storage (storage/kvraft.c). Calls fn once per entry
 * in [lo, hi), in index order, through one cursor in one transaction (the
 * pending write transaction when there is one, so pending writes are seen).
 * data points into the LMDB map and is valid only during the call. fn
 * returns 0 to go on, > 0 to stop (kvlog_range then returns 0) or < 0 to
 * stop and have kvlog_range return that code. Errors: KV_ENOTFOUND when
 * [lo, hi) is not inside [first, last + 1], KV_ECORRUPT for a missing or
 * malformed record, LMDB errors as KV_E*. lo >= hi is a no-op. */
typedef int (*kvlog_entry_fn)(void *ctx, uint64_t index, uint64_t term, uint8_t type,
                              const void *data, size_t len);
int kvlog_range(kvlog *l, uint64_t lo, uint64_t hi, kvlog_entry_fn fn, void *ctx);

/* Bytes of pages the entries take in the map (branch, leaf and overflow
 * pages, pending writes included): what log GC bounds. */
uint64_t kvlog_bytes(kvlog *l);

/* Fraction of the map in use, 0..100, for the -OOM high-water mark. */
int kvlog_used_pct(kvlog *l);

#endif
