/* peerauth.h -- the peer handshake (DESIGN.md "Between nodes"), written once
 * for every connection a node opens to another (server/transport.c,
 * server/proxy.c) and for the side that answers (server/commands.c).
 *
 * Each side proves it knows the cluster secret without sending it: an
 * HMAC-SHA256 (OpenSSL's libcrypto) keyed with the secret over a nonce the
 * other side chose. The connecting node C (id c) and the answering node S
 * (id s):
 *
 *   C -> S   RAFT.HELLO <cluster-id> <c> <client-nonce>
 *   S -> C   *3 :<s> $<server-nonce> $<server-proof>
 *   C -> S   RAFT.AUTH <client-proof>          (only if server-proof is right)
 *   S -> C   +OK                               (C is a peer from here on)
 *
 *   server-proof = HMAC(secret, "raftkv-server" | cluster-id | c | s | cn | sn)
 *   client-proof = HMAC(secret, "raftkv-client" | cluster-id | c | s | cn | sn)
 *
 * where "|" is framing: every field is preceded by its length as 4
 * big-endian bytes, ids are their decimal text, cn and sn the nonces' hex
 * text. Nonces are 32 bytes from getrandom(), proofs 32 bytes, both sent
 * as 64 lowercase hex digits. Why each part is there:
 *   - S's fresh nonce: a recorded RAFT.AUTH is worthless on a new
 *     connection (no replay); C's fresh nonce: a recorded server reply is.
 *   - the direction label: S's proof can never be used as C's (no
 *     reflection: opening a second connection to S to have it compute the
 *     answer to its own challenge gives the wrong label).
 *   - both ids and the cluster id: a proof for one pair of nodes or one
 *     cluster is no proof for another.
 * Not covered: the connection itself is neither encrypted nor bound to the
 * handshake, so an attacker that can rewrite the traffic between two nodes
 * can take over an authenticated connection. Peer ports belong on a trusted
 * network.
 *
 * Every answer to a failed hello is the same one error (PEERAUTH_REFUSED),
 * whatever was wrong. No function here logs or keeps the secret.
 */
#ifndef RAFTKV_PEERAUTH_H
#define RAFTKV_PEERAUTH_H

#include <stddef.h>
#include <stdint.h>

struct redisReply;

#define PEERAUTH_HEX_LEN 64 /* a nonce or a proof as sent: 64 lowercase hex digits */
#define PEERAUTH_REFUSED "ERR peer hello refused"

enum { PEERAUTH_CLIENT = 0, PEERAUTH_SERVER = 1 }; /* whose proof */

/* Fills out with a fresh nonce (getrandom(), 32 bytes, as hex) and a NUL.
 * Returns 0, or -1 when the kernel gave no randomness (out is then
 * unusable). */
int peerauth_nonce(char out[PEERAUTH_HEX_LEN + 1]);

/* A node id as the handshake spells it: 1 to 20 decimal digits, no sign,
 * no spaces, no leading zero, at most UINT64_MAX, not 0. Returns 0 and
 * sets *id, or -1. Whether the node is a member is the caller's question. */
int peerauth_parse_id(const char *s, size_t len, uint64_t *id);

/* 1 when s is exactly PEERAUTH_HEX_LEN lowercase hex digits. */
int peerauth_is_hex(const char *s, size_t len);

/* The proof of side `who` (PEERAUTH_CLIENT / _SERVER) for one handshake,
 * as hex, NUL terminated. The nonces are the hex texts exchanged. Returns
 * 0, or -1 if libcrypto fails (out is then unusable). */
int peerauth_proof(const char *secret, size_t secretlen, int who, const char *cluster_id,
                   uint64_t client_id, uint64_t server_id, const char *client_nonce,
                   const char *server_nonce, char out[PEERAUTH_HEX_LEN + 1]);

/* 1 when proof (len bytes, from the wire) is the proof peerauth_proof()
 * computes for these arguments. The comparison takes the same time
 * wherever the bytes differ. */
int peerauth_verify(const char *secret, size_t secretlen, int who, const char *cluster_id,
                    uint64_t client_id, uint64_t server_id, const char *client_nonce,
                    const char *server_nonce, const char *proof, size_t len);

/* ----------------------------------------------- the connecting side */

/* One handshake in progress on an outgoing connection. Holds borrowed
 * pointers: secret and cluster_id must outlive it. */
typedef struct peerauth_client {
    const char *secret, *cluster_id;
    uint64_t self_id, peer_id;
    char self_str[24];
    char nonce[PEERAUTH_HEX_LEN + 1];
    char proof[PEERAUTH_HEX_LEN + 1]; /* RAFT.AUTH's argument, once the reply checked */
    const char *argv[4];
    size_t argvlen[4];
} peerauth_client;

/* Starts a handshake with peer_id: a fresh nonce, and pa->argv / argvlen
 * (4 words) set to the RAFT.HELLO to send; they point into pa and the
 * borrowed strings. Returns 0, or -1 when no nonce could be drawn. */
int peerauth_client_hello(peerauth_client *pa, const char *secret, const char *cluster_id,
                          uint64_t self_id, uint64_t peer_id);

/* Checks the answer to RAFT.HELLO: the 3-element array above, from the
 * peer expected, with a right proof. On success returns 0 and sets
 * pa->argv / argvlen (2 words) to the RAFT.AUTH to send. Otherwise returns
 * -1 and writes why into why (for the log; never a secret). */
int peerauth_client_check(peerauth_client *pa, const struct redisReply *r, char *why,
                          size_t whylen);

/* ------------------------------------------------ the answering side */

/* Failed hellos per remote address: after PEERAUTH_MAX_FAILURES failures
 * within PEERAUTH_WINDOW_MS, every hello from that address is refused at
 * once, without any check, for PEERAUTH_BLOCK_MS. A success forgets the
 * address's failures. At most PEERAUTH_TRACKED addresses are tracked; the
 * least recently failed is forgotten first.
 * The price: whoever fails from a member's address (a misconfigured node
 * on the same host, or anyone on it) keeps that member from opening new
 * peer connections here until the block ends; connections already open
 * are not touched, and the member's transport retries with its backoff.
 * A node whose secret is wrong fails nothing here: the connecting side
 * checks the answer's proof first and never sends its own. */
#define PEERAUTH_MAX_FAILURES 5
#define PEERAUTH_WINDOW_MS 10000
#define PEERAUTH_BLOCK_MS 30000
#define PEERAUTH_TRACKED 256

/* 1 when hellos from addr (a host, no port) are refused now. */
int peerauth_blocked(const char *addr, int64_t now_ms);
/* Counts a failed hello from addr; returns 1 when this failure blocks it. */
int peerauth_note_failure(const char *addr, int64_t now_ms);
void peerauth_note_success(const char *addr);

#endif
