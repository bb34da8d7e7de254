/* diag.h -- what an operator uses to see where time goes and what runs:
 * SLOWLOG, LATENCY and MONITOR, as Redis 7.0 answers them.
 *
 * SLOWLOG. An entry is a command whose execution on this node took at
 * least slowlog-log-slower-than microseconds (-1: none, 0: every one),
 * at most slowlog-max-len entries, newest first, each [id, unix time,
 * microseconds, args, client addr, client name] with Redis's truncation
 * (32 args, 128 bytes an arg). What is measured is the time the event loop
 * spent on the command on this node, as Redis measures call():
 *   - a command answered at once (server commands, a read served locally):
 *     dispatch to reply ready;
 *   - a read that waited for its ReadIndex round or its client's earlier
 *     writes: the read itself when it runs (diag_read_ran);
 *   - a write: its checks and its proposal. Its apply runs later, in a
 *     batch of committed entries of any node's clients, and is not
 *     attributed to it (nor is the wait for the log's fsync and a quorum:
 *     LATENCY's "log-fsync" shows that).
 * EXEC is not logged (Redis's skip_slowlog); RAFT.* peer traffic never is.
 *
 * LATENCY. diag_latency_sample(event, us) is called where the event
 * happens; a sample of at least latency-monitor-threshold ms (0: off) is
 * kept, 160 per event, one per second (the worst of that second), as in
 * Redis's latency.c. Events: "command" (a command measured as above),
 * "log-fsync" (the log's fdatasync, logsync.c), "state-commit"
 * (kvstate_commit), "snapshot-send" (reading a snapshot chunk to send),
 * "snapshot-install", "expire-cycle" (collecting expired keys),
 * "collection-gc" (a pass of the cleanup of deleted collections).
 *
 * MONITOR. Every command this node runs after its checks, as Redis shows
 * it: "+<sec>.<usec> [<db> <addr>] "arg" ...". A command a follower
 * forwarded (RAFT.PROXY) shows as the client's command with the address
 * "proxy:<follower id>:<client addr>" (or "proxy:<follower id>" from a
 * follower that does not send its client's address, and for each try of
 * a follower's blocked client, blocking.c's attempts); the peer traffic
 * itself (RAFT.*) and Redis's admin commands never show. Credentials
 * (AUTH's, HELLO AUTH's, MIGRATE AUTH/AUTH2's) show as "(redacted)" here
 * and in SLOWLOG, as in Redis. A monitor connection may not run data
 * commands ("Replica can't interact with the keyspace"), as in Redis.
 *
 * Everything here runs on the loop thread. */
#ifndef RAFTKV_DIAG_H
#define RAFTKV_DIAG_H

#include <stddef.h>
#include <stdint.h>

struct client;

/* dispatch, after a command passed its checks and ran: us is the time it
 * ran; deferred: it left a read waiting (measured again by diag_read_ran,
 * not here). */
void diag_command(struct client *c, const char *name, int argc, char **argv, size_t *lens,
                  int64_t us, int deferred);
/* A waiting read ran (driver.c): us is the read's own time. */
void diag_read_ran(struct client *c, int argc, char **argv, size_t *lens, int64_t us);
/* EXEC, before its transaction is proposed: monitors see the queued
 * commands (as Redis shows them, before EXEC itself). */
void diag_monitor_queued(struct client *c);
/* RAFT.PROXY / RAFT.PROXYEXEC: the "<proto>:<db>[:<client addr>]" argument
 * of the command being run, until diag_proxy_origin(NULL, 0). */
void diag_proxy_origin(const char *arg, size_t len);
/* 1 when c is a monitor: it may not run a data command (dispatch), is
 * flagged O in CLIENT LIST and never times out, as in Redis. */
int diag_is_monitor(const struct client *c);
void diag_client_gone(struct client *c); /* client_free(), RESET */

void diag_latency_sample(const char *event, int64_t us);

/* The commands (commands.c's rows). */
void diag_slowlog_command(struct client *c, int argc, char **argv, size_t *lens);
void diag_latency_command(struct client *c, int argc, char **argv, size_t *lens);
void diag_monitor_command(struct client *c, int argc, char **argv, size_t *lens);

#endif
