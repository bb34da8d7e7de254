/* limits.h -- the size limits along a write's path, each derived from the
 * stage before it, so that whatever one stage accepts the next can carry
 * (DESIGN.md, "Determinism and trust"). A write that is too large is
 * refused where it enters, with an error to its client; no later stage
 * ever has to drop it.
 *
 *   request        proto-max-bulk-len per argument (a node's setting) and
 *                  client-query-buffer-limit per client; bytes a node has
 *                  not parsed yet decide nothing
 *   log entry      RAFTKV_MAX_ENTRY_BYTES of encoded entry (the argv and
 *                  tau): raft_propose answers RAFT_ETOOLARGE past it, and
 *                  the client gets -ERR before anything is logged
 *   append         entries up to RAFTKV_APPEND_BYTES (data and per-entry
 *                  codec overhead), or one larger entry alone (raft.h,
 *                  max_msg_bytes)
 *   peer message   RAFTKV_MAX_PEER_MSG_BYTES encoded: the larger of the two
 *                  appends, with the message header
 *   in flight      RAFTKV_INFLIGHT_BYTES of entries sent to one follower
 *                  and not acknowledged, plus one entry (raft.h
 *                  max_inflight_bytes): what a slow follower costs the
 *                  leader in send buffers (its transport queue and
 *                  connection), whatever the peer queue below allows
 *   peer queue     RAFTKV_PEER_QUEUE_BYTES: room for two of the largest
 *                  messages and their RESP framing, so a largest message
 *                  fits whatever small ones are queued; a message refused
 *                  for a full queue is reported to raft (the peer goes back
 *                  to probing and is sent it again), never lost unnoticed
 *   peer argument  RAFTKV_PEER_MAX_BULK: what a node's parser accepts in
 *                  one argument from an authenticated peer, whatever its
 *                  own proto-max-bulk-len: a peer message, a snapshot chunk
 *                  or a forwarded client argument (a follower forwards
 *                  nothing larger)
 *   peer arguments RAFTKV_PEER_MAX_ARGS per command
 *   snapshot chunk records split to at most 256 KB (server/snapshot.c)
 */
#ifndef RAFTKV_LIMITS_H
#define RAFTKV_LIMITS_H

#include "raft/raft.h"
#include "storage/kvcmd.h"

#define RAFTKV_MAX_ENTRY_BYTES ((uint64_t)64 << 20)
#define RAFTKV_APPEND_BYTES ((uint64_t)1 << 20)
#define RAFTKV_MAX_PEER_MSG_BYTES                                                                  \
    ((uint64_t)RAFT_MSG_HDR_BYTES + RAFT_SNAP_META_MAX_BYTES + RAFT_ENTRY_HDR_BYTES +              \
     RAFTKV_MAX_ENTRY_BYTES)
#define RAFTKV_PEER_QUEUE_BYTES (2 * (RAFTKV_MAX_PEER_MSG_BYTES + 64))
/* 4 MB: an acknowledgement comes back after the follower's pass and its
 * log fsync, tens of ms on a loaded machine (a 65 ms state commit stalls
 * the pass); 4 MB per round trip still moves 60 MB/s to one follower,
 * more than any load measured here, and a commit needs only the faster
 * follower. A slow one costs the leader 4 MB of buffers, not 128. */
#define RAFTKV_INFLIGHT_BYTES ((uint64_t)4 << 20)
/* Committed entries one Ready lends to apply (raft.h max_committed_bytes;
 * one larger entry still goes alone): a pass checks its apply budget
 * between Readies (driver.c APPLY_PASS_US), so this bounds the overrun.
 * 128 KB is about 1,000 small SETs, a few ms of apply. */
#define RAFTKV_READY_APPLY_BYTES ((uint64_t)128 << 10)
/* Entries raft's memory log keeps beyond what is applied (raft.h
 * max_mem_log_bytes): a node that applies slower than its log grows (a
 * follower the machine starves) reads the rest back from the log's files;
 * before this bound, a follower stopped 700 ms a second during a
 * 1,000,000-key load held 125 MB of heap for its backlog. */
#define RAFTKV_MEM_LOG_BYTES ((uint64_t)16 << 20)
#define RAFTKV_PEER_MAX_BULK (KV_MAX_STRING_LEN + ((uint64_t)1 << 20))
/* Arguments in one command from a peer: a RAFT.MSGQ of a full queue of the
 * smallest messages, or a forwarded command (a follower forwards none with
 * more). */
#define RAFTKV_PEER_MAX_ARGS (RAFTKV_PEER_QUEUE_BYTES / RAFT_MSG_HDR_BYTES + 2)

_Static_assert(RAFTKV_APPEND_BYTES <= RAFTKV_MAX_ENTRY_BYTES,
               "a batch of small entries must fit where one largest entry does");
_Static_assert(RAFTKV_PEER_MAX_BULK >= RAFTKV_MAX_PEER_MSG_BYTES,
               "a peer's parser must take any message the transport sends");

#endif
