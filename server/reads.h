/* reads.h -- linearizable reads and the read-mode lease (reads.c), for the
 * driver's Ready loop (driver.c). driver_read() (server.h) takes a client's
 * read; the rest is the driver's side.
 *
 * Reads are linearizable (thesis §6.4): the reads of one pass share one
 * raft_read_index() round; a read runs once its round's read index is
 * applied, after its client's earlier writes and before its later ones.
 * With read-mode lease, a leader whose lease holds reads at once. */
#ifndef RAFTKV_READS_H
#define RAFTKV_READS_H

#include <stdint.h>

#include "server/server.h"

struct raft_read_state;

/* Runs c's confirmed reads that no pending write precedes, in order: after
 * each of c's entries applies. */
void reads_run_ready(client *c);
/* End of pass: starts the round for this pass's reads (and a lease renewal). */
void reads_start_round(void);
/* A Ready's read state: its round learns its read index (and the lease). */
void reads_on_read_state(const struct raft_read_state *rs);
/* Finishes the rounds whose read index is applied, oldest first. */
void reads_finish_applied(void);
void reads_note_proposed(void); /* a write was proposed: the next round starts at once */
void reads_lease_end(void);     /* handing over leadership (TimeoutNow) */
/* The role is now role (changed: another than before): the lease ends
 * with leadership, and rounds of another role hold nothing up. */
void reads_role(int role, int changed);
void reads_timeouts(int64_t now); /* tick: rounds that found no quorum in time */
/* The known leader is now leader (0: none): the next reads_start_round()
 * asks it again for the rounds in flight. */
void reads_leader(uint64_t leader);

/* A forwarded settings change answered by the leader (slot->settle): its
 * reply, already in s->out, is released once this node applied the index
 * of a ReadIndex round started after it. */
void reads_settle(slot *s);

#endif
