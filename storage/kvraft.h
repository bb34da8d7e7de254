/* kvraft.h -- the log environment (kvlog.h) as raft/'s storage: the
 * raft_storage interface reads it, kvraft_persist() writes a Ready batch
 * into it (step 2 of raft.h's driving loop).
 *
 * Ownership: the interface borrows the kvlog (ctx = l); the kvlog must
 * outlive every raft_node created with it and is used from the one thread
 * that drives the node. Reads go through kvlog's pending write transaction
 * when there is one, so they see writes made through kvlog and not yet
 * synced as well as synced ones. entries() reads its range through one
 * cursor in one transaction (kvlog_range()) and hands raft pointers into
 * the LMDB map, which raft_sink_push() copies.
 *
 * Errors: the interface answers with raft's codes as raft.h's storage
 * comment asks: RAFT_ECOMPACTED below first_index - 1 (entries: below
 * first_index), RAFT_EUNAVAILABLE above last_index, RAFT_ESNAPTEMP from
 * snapshot(), RAFT_ENOMEM, and RAFT_ESTORAGE for any I/O error or corrupt
 * record (raft then fails the node; the driver stops it). kvraft_persist()
 * returns 0 or a negative KV_E* code (storage/kverr.h).
 */
#ifndef RAFTKV_KVRAFT_H
#define RAFTKV_KVRAFT_H

#include "raft/raft.h"
#include "storage/kvlog.h"

/* Fills *out with l as ctx. initial_state gives the stored hard state and
 * the metadata of the snapshot the log starts after (index and term; no
 * voters yet, so raft takes cfg.peers). snapshot() answers RAFT_ESNAPTEMP
 * until snapshots are implemented. *out may be copied (raft_config copies
 * it); l must stay open while any copy is in use. */
void kvraft_storage(kvlog *l, raft_storage *out);

/* Makes rd's log part durable (raft.h's loop, step 2): when rd has
 * entries, deletes the stored entries from rd->entries[0].index on if that
 * is <= last_index (a conflict, paper §5.3), appends the entries, stores
 * rd->hs if rd->hs_changed, then commits and fsyncs once (kvlog_sync(),
 * which also commits any other pending kvlog writes). rd is borrowed.
 * With rd->snapshot set, the state must already hold it (kvsnap_install):
 * the log is reset to start after it (kvlog_reset) and rd's entries, if
 * any, must start right after it. Returns 0, KV_EINVAL (entries not
 * contiguous, or starting below first_index or above last_index + 1, or
 * not right after rd->snapshot; checked before anything is written) or an LMDB
 * error as KV_E* (KV_EFULL when the map is full). A failed write still
 * ends the transaction through kvlog_sync(): LMDB refuses to commit a
 * transaction in which a write failed, so nothing pending becomes durable
 * and kvlog's indexes are reloaded from disk; the raft_node must then be
 * treated as failed (freed and recreated from storage, or the process
 * stops). */
int kvraft_persist(kvlog *l, const raft_ready_batch *rd);
/* kvraft_persist() without the sync: rd's log part is pending in l (a
 * kvlog_write() or kvlog_sync() follows). A failure leaves l failed, as
 * for the kvlog calls. */
int kvraft_stage(kvlog *l, const raft_ready_batch *rd);

#endif
