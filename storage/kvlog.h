/* kvlog.h -- the Raft log and the hard state, in an append-only
 * segmented log file.
 *
 * Layout (storage/README.md, "Log file format"): <dir>/log/<seq>.wal
 * segments of checksummed records (entries, hard state, prefix and suffix
 * truncations, resets, metadata), each segment starting with a checkpoint
 * of everything but the entries. An index of [first, last] (term, place,
 * length of each entry), the hard state and the metadata are kept in
 * memory.
 *
 * Writes made between two kvlog_sync() calls are encoded into a memory
 * buffer (no system call); kvlog_sync() writes them as one batch with one
 * write and one fdatasync: that is the group commit, one fsync per
 * event-loop pass. A batch is durable whole or not at all. Reads see
 * pending writes. Single-threaded: one thread uses a kvlog.
 *
 * Errors: functions returning int return 0 or a negative KV_E* code
 * (storage/kverr.h). A write call that fails with KV_EFULL or KV_ENOMEM
 * spoils the pending batch: later writes return the same code and the next
 * kvlog_sync() drops the batch, reloads the state from the files and
 * returns it (as an LMDB transaction in which a write failed).
 */
#ifndef RAFTKV_KVLOG_H
#define RAFTKV_KVLOG_H

#include <stddef.h>
#include <stdint.h>

typedef struct kvlog kvlog;

typedef struct kvlog_hardstate {
    uint64_t term, vote, commit;
} kvlog_hardstate;

/* Opens (creating if needed) <dir>/log and replays it. mapsize bounds the
 * bytes of all segments (kvlog_append() answers KV_EFULL beyond it; the
 * config key keeps its LMDB name, lmdb-log-mapsize); it also sets the
 * segment size (64 MB, or mapsize / 16 if smaller; the environment
 * variable RAFTKV_LOG_SEGMENT_BYTES overrides it, for tests). A torn last
 * batch (a crash during kvlog_sync()) is cut off. On failure returns a
 * KV_E* code and writes a message into err: KV_ECORRUPT for an invalid
 * record anywhere else, KV_EINVAL for a log in the old LMDB format. */
int kvlog_open(kvlog **out, const char *dir, uint64_t mapsize, char *err, size_t errlen);
/* Commits anything pending (with fsync) and closes. NULL is a no-op. */
void kvlog_close(kvlog *l);

/* Index of the first entry still in the log (snapshot index + 1 once the
 * log was compacted; 1 for a new log) and of the last (first - 1 when the
 * log is empty). Include pending, not yet synced writes. */
uint64_t kvlog_first_index(kvlog *l);
uint64_t kvlog_last_index(kvlog *l);

/* Appends one entry; index must be last_index + 1 and len < 2 GB (else
 * KV_EINVAL). KV_EFULL when the log would pass mapsize. data is copied. */
int kvlog_append(kvlog *l, uint64_t index, uint64_t term, uint8_t type, const void *data,
                 size_t len);
/* Deletes every entry with index >= index (a Raft conflict). */
int kvlog_truncate_suffix(kvlog *l, uint64_t index);
int kvlog_set_hardstate(kvlog *l, const kvlog_hardstate *hs);
int kvlog_get_hardstate(kvlog *l, kvlog_hardstate *hs); /* zeroes for a new log */

/* Writes the pending batch and fdatasyncs; then deletes the segments the
 * durable state no longer needs, and rolls to a new segment when the
 * current one is full. A no-op when nothing is pending. After an error the
 * pending writes are lost, the state is reloaded from the files (so the
 * indexes do not lie) and the caller must treat the node as failed. */
int kvlog_sync(kvlog *l);

/* kvlog_sync() in two halves, so the fdatasync can run on another thread.
 * kvlog_write() writes the pending batch (no fsync) and sets *pos to the
 * log position after it (unchanged when nothing was pending); the entries
 * are readable at once and durable once an fdatasync of kvlog_sync_fd()
 * that began after the write has returned. kvlog_synced(done) then tells
 * the log that everything before done is on disk: it deletes the segments
 * that no durable record needs and rolls to the next segment when due
 * (which changes kvlog_sync_fd()). The caller must not call kvlog_synced(),
 * kvlog_sync() or kvlog_close() while an fdatasync of the fd is running. */
int kvlog_write(kvlog *l, uint64_t *pos);
int kvlog_sync_fd(kvlog *l);
int kvlog_synced(kvlog *l, uint64_t done);

/* Reads one entry. *data is malloc'ed (caller frees); KV_ENOTFOUND when the
 * index is outside [first, last]. */
int kvlog_get(kvlog *l, uint64_t index, uint64_t *term, uint8_t *type, void **data, size_t *len);
/* Term of an entry; KV_ENOTFOUND outside [first-1, last] (first-1 answers
 * with the snapshot term). */
int kvlog_term(kvlog *l, uint64_t index, uint64_t *term);

/* Small named metadata values (cluster id, node id). name: 1 to 255
 * bytes; value: at most 64 KB (else KV_EINVAL). Every segment repeats them
 * all in its checkpoint. */
int kvlog_set_meta(kvlog *l, const char *name, const void *v, size_t n);
int kvlog_get_meta(kvlog *l, const char *name, void **v, size_t *n); /* malloc'ed */

/* Added for compaction and snapshots. kvlog_truncate_prefix() deletes
 * every entry below index (index <= last + 1), remembering the term of
 * index - 1 as the snapshot term; kvlog_reset() empties the log so that it
 * starts after a snapshot (first = snap_index + 1), dropping every entry,
 * even those above snap_index. Both are pending until kvlog_sync(); both
 * cost O(1) per entry dropped in memory and no I/O: segment files left
 * without an entry of [first, last] are deleted by the kvlog_sync() that
 * makes the change durable. */
int kvlog_truncate_prefix(kvlog *l, uint64_t index);
int kvlog_reset(kvlog *l, uint64_t snap_index, uint64_t snap_term);
uint64_t kvlog_snapshot_index(kvlog *l);
uint64_t kvlog_snapshot_term(kvlog *l);

/* Added for raft/'s storage (storage/kvraft.c). Calls fn once per entry
 * in [lo, hi), in index order; pending entries are read from the write
 * buffer, written ones with one pread per run of up to 1 MB of a segment,
 * their CRC checked. data is borrowed, valid only during the call; fn must
 * not write to the log. fn returns 0 to go on, > 0 to stop (kvlog_range
 * then returns 0) or < 0 to stop and have kvlog_range return that code.
 * Errors: KV_ENOTFOUND when [lo, hi) is not inside [first, last + 1],
 * KV_ECORRUPT for a record that is not the entry the index says, KV_EIO,
 * KV_ENOMEM. lo >= hi is a no-op. */
typedef int (*kvlog_entry_fn)(void *ctx, uint64_t index, uint64_t term, uint8_t type,
                              const void *data, size_t len);
int kvlog_range(kvlog *l, uint64_t lo, uint64_t hi, kvlog_entry_fn fn, void *ctx);

/* Bytes of the records of the entries in [first, last] (pending ones
 * included): what log GC bounds. */
uint64_t kvlog_bytes(kvlog *l);

/* Bytes written to all segments (synced batches and checkpoints, not the
 * zeros of pre-zeroed space) over mapsize, 0..100, for the -OOM high-water
 * mark. Falls when log GC deletes whole segments. */
int kvlog_used_pct(kvlog *l);

/* The last failed system call: the file it was on and errno's text (e.g.
 * "writing <dir>/log/0000000000000003.wal: No space left on device");
 * "" if none. Valid until the next call on l. */
const char *kvlog_last_error(const kvlog *l);
/* kvlog_open() changes nothing in the files, so a log refused at start-up
 * is left as it was found. What it found to mend -- a torn write at the end
 * of the last segment, segments left below the first by an interrupted GC,
 * unfinished *.tmp segments -- is mended by kvlog_settle(): call it once
 * start-up checked everything; the first write does it otherwise. 0 or
 * KV_EIO (kvlog_last_error() says where). */
int kvlog_settle(kvlog *l);
/* What kvlog_settle() changed (each torn write cut off with its size,
 * offset and file; each file deleted), "; "-separated; "" if nothing. */
const char *kvlog_open_notes(const kvlog *l);
/* The segment file that kvlog_sync_fd() is, for messages. */
void kvlog_sync_file(const kvlog *l, char *buf, size_t n);

#endif
