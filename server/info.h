/* info.h -- INFO and ROLE, and the counters behind them.
 *
 * INFO answers Redis 7.0's sections with Redis's field names where they
 * mean something here, so that redis_exporter, redis-cli and client
 * libraries read a node as they read a redis-server; RaftKV's own numbers
 * are the raft_* fields and the "Raft" section.
 *
 * Sections, in Redis 7.0's order, and which names select them:
 *
 *   server clients memory persistence stats replication cpu modules
 *   commandstats errorstats latencystats cluster keyspace raft
 *
 *   (no argument), "default": all but commandstats and latencystats
 *   "all", "everything": all of them
 *   a section's name (any case): that section; several names (and
 *   default/all) select the union, printed in the order above.
 *
 * Raft is not a Redis section; it is selected like a default section so
 * that tools asking for INFO or INFO ALL see it. "Modules" is empty (there
 * are none). "Cluster" says cluster_enabled:0 as Redis does in standalone
 * mode (the CLUSTER commands here describe the Raft group, not slots),
 * then the Raft group's numbers again as cluster_raft_* fields: the names
 * redis_exporter exports (as redis_cluster_raft_*) although it does not
 * know them; it drops the raft_* fields of the Raft section.
 *
 * Replication, as Redis's master and replicas: the Raft leader is
 * role:master and lists as slaveN the followers it heard from within the
 * election timeout (state=wait_bgsave while a snapshot goes to it,
 * offset=its match index, lag=seconds since it was last heard). Every
 * other node is role:slave: master_host/master_port name the leader it
 * knows, and master_link_status is up only when it heard from that leader
 * within the election timeout; a node that knows no leader says
 * master_link_status:down with an empty master_host. Offsets are log
 * indexes: master_repl_offset is the leader's last index, slave_repl_offset
 * a follower's applied index.
 *
 * Command statistics (commandstats, latencystats, errorstats, the error
 * totals of stats). commands.c resolves a command once to a counter slot
 * (an id below INFO_MAX_CMDS; a container's subcommand, e.g. client|list,
 * gets a slot of its own from info_sub_id()) and brackets running it with
 * info_call_begin()/info_call_end(): no hashing per call.
 *   calls, usec: what this node's loop spent running the command: for a
 *       read or a server command the whole execution, for a write the
 *       checks and the proposal (or the forwarding to the leader), not the
 *       wait for its entry to commit, which is Raft's latency and shows in
 *       the client's round trip instead. Redis measures execution time too.
 *   rejected_calls: refused before it ran (arity, NOAUTH, OOM, not allowed
 *       in a transaction or in subscribe mode).
 *   failed_calls: ran and answered an error, at once or when its entry
 *       applied (or its forwarded reply came back).
 *   errorstats: every error reply sent to a client, by its first word, as
 *       Redis counts them (unknown commands included), up to
 *       INFO_MAX_ERRORS different words; replies to peer connections (the
 *       leader's side of a forwarded command) are not counted, the
 *       follower that relays the reply counts it.
 *   Commands queued in MULTI are counted as the EXEC that runs them.
 *   latencystats: p50, p99 and p99.9 of usec, from a histogram with 16
 *       buckets per power of two (about 6% resolution), reported as the
 *       bucket's upper bound.
 * CONFIG RESETSTAT clears all of them (info_reset_stats()).
 *
 * Everything here runs on the event loop's thread. */
#ifndef RAFTKV_INFO_H
#define RAFTKV_INFO_H

#include <stddef.h>
#include <stdint.h>

#include "resp/resp.h"

struct client;
struct slot;

#define INFO_MAX_CMDS 1024  /* counter slots: commands and subcommands */
#define INFO_MAX_ERRORS 128 /* different error words counted (Redis's limit too) */

/* Names counter slot id (commands_init(), once per command, after the
 * state is open: the first call also takes the state's durable index as
 * the point state commits are counted from). */
void info_name_command(int id, const char *name);
/* The slot of container parent's subcommand sub ("client|list" in INFO):
 * found, or made on first use for a subcommand Redis has; parent for any
 * other, or when the table is full. */
int info_sub_id(int parent, const char *sub, size_t sublen);

typedef struct info_call {
    int id;
    struct slot *tail; /* the client's last reply slot before the call */
    size_t len;        /* the length of the buffer an immediate reply went to */
} info_call;
void info_call_begin(info_call *k, struct client *c, int id);
/* us: the time the call ran. */
/* Counts the call and, if it answered at once, whether with an error; a
 * reply that waits (a write, a forwarded command, a ReadIndex read) is
 * marked to be counted by info_slot_done(). */
void info_call_end(const info_call *k, struct client *c, int64_t us);
/* A command refused before it ran (id < 0: unknown command), error text
 * without the leading '-'. */
void info_rejected(const struct client *c, int id, const char *err);
/* A waiting reply is complete (its slot is SLOT_DONE now). */
void info_slot_done(const struct slot *s);

void info_peer_heard(uint64_t id); /* a raft message from peer id arrived */
void info_state_committed(void);   /* kvstate_commit() succeeded */
void info_log_synced(void);        /* the log's fsync made more of it durable */
void info_reset_stats(void);       /* CONFIG RESETSTAT */

/* ROLE's reply (INFO's: info_reply() in server.h). */
void info_role_reply(struct client *c, resp_buf *b);

#endif
