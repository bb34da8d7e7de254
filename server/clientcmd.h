/* clientcmd.h -- the operator's client commands, as Redis 7.0 has them:
 * CLIENT KILL, CLIENT PAUSE / UNPAUSE, CLIENT REPLY, CLIENT NO-EVICT, and
 * DEBUG (SLEEP, SET-ACTIVE-EXPIRE, OBJECT, HELP).
 *
 * Everything here is this node's: a pause holds the commands of this
 * node's own clients, never the traffic between nodes (RAFT.*, and the
 * commands a follower forwards to this node as RAFT.PROXY, which arrive on
 * a peer connection); a follower's pause does not pause the leader, nor the
 * other way round.
 *
 * CLIENT REPLY OFF | SKIP. A command's reply may go out at once or wait in
 * a reply slot (server.h) until its entry is applied, its read confirmed or
 * the leader answers a forwarded command. clientcmd_run() marks what one
 * command answers, wherever it went: bytes added to the client's output
 * buffer or to the last done slot are cut off again, and new slots are
 * marked `mute` (networking.c then drops them instead of sending them and
 * never appends anything else to them). Subscribe confirmations and
 * pushes (messages, invalidations) are not replies and still go out, as
 * in Redis.
 *
 * CLIENT PAUSE. A command that must wait (every command in ALL mode; in
 * WRITE mode a write, PFCOUNT, FUNCTION FLUSH, or EXEC of a transaction
 * holding one) is held: an owned copy in c->held, CM_HELD set, and the
 * client's later input stays unparsed (networking.c's process_input).
 * When the pause ends (its timeout, or CLIENT UNPAUSE), the held commands
 * run in the order they were held, from a timer callback (never inside
 * another client's command), and each client's input resumes. QUIT, and
 * the peer handshake of a connection that is not a peer yet, are never held.
 * While a pause lasts this node proposes no expiries (Redis does not
 * expire keys during a pause either).
 */
#ifndef RAFTKV_CLIENTCMD_H
#define RAFTKV_CLIENTCMD_H

#include <stddef.h>

#include "server/server.h"

/* client->opmode */
enum {
    CM_HELD = 1 << 0,            /* a command held by CLIENT PAUSE (client->held) */
    CM_REPLY_OFF = 1 << 1,       /* CLIENT REPLY OFF */
    CM_REPLY_SKIP = 1 << 2,      /* the command running now is answered nothing */
    CM_REPLY_SKIP_NEXT = 1 << 3, /* CLIENT REPLY SKIP ran: the next command is */
};

/* Runs one command of c's input (networking.c calls it for each command it
 * parses): dispatch(), with CLIENT REPLY's muting around it. argv is
 * borrowed for the call. */
void clientcmd_run(client *c, int argc, char **argv, size_t *lens);

/* dispatch(), after its checks and before MULTI queueing or running: 1 when
 * a CLIENT PAUSE holds the command (k: its data command, or NULL for a
 * server command; is_exec: it is EXEC); nothing is answered then. */
int clientcmd_hold(client *c, const kv_command *k, int is_exec, int argc, char **argv,
                   size_t *lens);

/* CLIENT KILL, PAUSE, UNPAUSE, REPLY and NO-EVICT: answers into b (CLIENT
 * REPLY OFF and SKIP answer nothing) and returns 1; 0 when argv[1] is none
 * of them. */
int clientcmd_client_sub(client *c, resp_buf *b, int argc, char **argv, size_t *lens);

/* client_free(): forgets a held command. */
void clientcmd_client_gone(client *c);

/* The expire cron may propose expiries: DEBUG SET-ACTIVE-EXPIRE did not
 * turn them off, and no CLIENT PAUSE lasts. */
int clientcmd_expire_enabled(void);

/* DEBUG <sub> ... (enable-debug-command decides who may run it). */
void debug_command(client *c, int argc, char **argv, size_t *lens);

#endif
