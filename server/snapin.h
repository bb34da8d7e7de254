/* snapin.h -- which snapshot chunks a follower accepts (issue 14, defect
 * 8): the receiving side of server/snapshot.c as a pure state machine, no
 * I/O, no globals, so a unit test drives it chunk by chunk.
 *
 * A node stages one snapshot at a time, into the idle pair of its state
 * (storage/kvsnap.h). Two streams from two senders (an old leader still
 * sending and a new one starting) must not take turns wiping each other's
 * staging, and above all must not replace a staging raft has accepted and
 * is about to install: the install would find no complete staging, and a
 * failed install stops the node.
 *
 *            admit(offset 0)            handed(accepted)
 *   IDLE ----------------------> STAGING -----------------> INSTALLING
 *    ^  <-- handed(not accepted) /   |  <-- (same sender: restart)   |
 *    |  <-- failed ---------------   |                               |
 *    +--------------------------------------------- installed -------+
 *
 * The rules, each refusal an error answered to the sender (which abandons
 * its stream and tries again later), never fatal:
 *   - a chunk of a snapshot at or below what this node has committed or
 *     applied is refused (it can only move the node back);
 *   - a continuation chunk (offset > 0) is accepted only from the stream's
 *     sender (the peer id of its connection's RAFT.HELLO), for the
 *     stream's (index, term): a sender cannot write into another's stream,
 *     and a stream cannot change snapshot in its middle;
 *   - a new stream (offset 0) may start when nothing is staging; while one
 *     is, only its own sender may restart it, or another sender take it
 *     over when the stream went quiet for idle_ms, or when its sender is
 *     no longer this node's leader and the new sender is (a deposed
 *     leader's stream is dead);
 *   - nothing replaces a staging handed to raft until it is installed (or
 *     raft turned it down).
 */
#ifndef RAFTKV_SNAPIN_H
#define RAFTKV_SNAPIN_H

#include <stdint.h>

enum { SNAPIN_IDLE = 0, SNAPIN_STAGING, SNAPIN_INSTALLING };

typedef struct snapin {
    int state;
    uint64_t from, index, term; /* the stream staging or installing */
    int64_t last_ms;            /* when its last chunk was accepted */
} snapin;

/* What the node knows when a chunk arrives. */
typedef struct snapin_node {
    uint64_t committed; /* max(raft commit index, state applied index) */
    uint64_t leader;    /* this node's current leader (0: none known) */
    int64_t now_ms;     /* monotonic */
    int64_t idle_ms;    /* a quiet stream may be taken over after this */
} snapin_node;

/* Decides on a chunk of snapshot (index, term) at offset from peer `from`.
 * NULL: stage it (the state has moved to STAGING for this stream, its
 * clock restarted). Otherwise the reason it is refused, a static string
 * for the error reply; the state is unchanged. */
const char *snapin_admit(snapin *in, const snapin_node *node, uint64_t from, uint64_t index,
                         uint64_t term, uint64_t offset);

/* Staging the admitted chunk failed (out of sequence, corrupt): the stream
 * is over. */
void snapin_failed(snapin *in);

/* The stream's last chunk is staged and its snapshot message was stepped
 * into raft, which accepted it (a snapshot is pending: INSTALLING) or not
 * (stale: back to IDLE). */
void snapin_handed(snapin *in, int accepted);

/* The snapshot was installed: a new staging may start. */
void snapin_installed(snapin *in);

#endif
