/* migrate.h -- MIGRATE, as Redis 7.0 answers it (cluster.c migrateCommand):
 *
 *   MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE]
 *           [AUTH password | AUTH2 username password] [KEYS key [key ...]]
 *
 * A follower forwards it to the leader like a write (follower-mode proxy)
 * or answers -MOVED (redirect). The leader runs it without blocking its
 * loop:
 *
 *   held      the client gets a pending reply slot (SLOT_BLOCKED) and, unless
 *             it is a peer's RAFT.PROXY connection, its further input waits;
 *   applied   once the client's earlier writes are applied here, each key's
 *             DUMP payload and PTTL are read from this node's state (none
 *             there: +NOKEY, nothing sent);
 *   talking   a hiredis connection to host:port (on the server's libevent
 *             loop) carries AUTH/AUTH2, SELECT destination-db and one
 *             RESTORE key ttl payload [REPLACE] per key, pipelined; the
 *             timeout bounds the connect and the wait for each reply;
 *   deleting  unless COPY, the keys the target answered OK to go into one
 *             ordinary write entry `DEL key...` in the client's database;
 *             the held slot becomes that entry's waiter and answers +OK (or
 *             the target's error, or -IOERR, as Redis does) once it applies.
 *
 * Nothing is deleted for a key the target did not accept. A client that
 * goes away meanwhile stops the migration (nothing is deleted; the keys
 * the target accepted stay on both sides, as after a Redis timeout).
 * Between the read and the DEL other clients' writes may change a key:
 * the DEL removes it all the same (Redis runs MIGRATE atomically).
 *
 * Replies: +OK; +NOKEY; -ERR syntax error; -ERR value is not an integer or
 * out of range; -ERR When using MIGRATE KEYS option, the key argument must
 * be set to the empty string; -IOERR error or timeout connecting to the
 * client; -IOERR error or timeout (reading|writing) to target instance;
 * -ERR Target instance replied with error: <the target's error>. */
#ifndef RAFTKV_MIGRATE_H
#define RAFTKV_MIGRATE_H

#include <stddef.h>

struct client;

/* The MIGRATE command (argc >= 6: the table's arity). */
void migrate_command(struct client *c, int argc, char **argv, size_t *lens);
/* client_free(): forget c (its slots are freed by the caller). */
void migrate_client_gone(struct client *c);

#endif
