/* transport.h -- the outgoing side of the peer transport (DESIGN.md "Between
 * nodes"): one connection per peer (server/peerconn.h: plain text, or TLS
 * with tls-cluster), on the caller's libevent base, bound to this node's
 * address, carrying
 *
 *   RAFT.HELLO <cluster-id> <node-id> <nonce> [<addr>] once, first; then, if
 *   RAFT.AUTH <proof>                                 the peer proved itself
 *   RAFT.MSG <msg> [<msg> ...]                        one per peer per pass
 *   any command given to transport_call()             (snapshot chunks)
 *
 * Messages are one-way: the only reply expected to a RAFT.MSG is +OK, and the
 * peer's answers to our messages arrive on its own outgoing connection to us
 * (the server's RAFT.MSG handler, not this module). transport_call()'s
 * commands are answered on this connection, to cfg->on_reply.
 *
 * <addr> is cfg->advertise, this node's "host:port": a node started with
 * 'join yes' that knows no member learns from it where to answer (the
 * server's RAFT.HELLO handler). A peer of an older version answers a
 * 5-word RAFT.HELLO with its arity error; the transport then sends the
 * 4-word form on the same connection, and only that form to this peer
 * from then on (until it is removed). A 5-word hello is never sent
 * without cfg->advertise.
 *
 * The handshake is server/peerauth.h's: the secret never goes on the wire;
 * the peer's answer to RAFT.HELLO must carry its node id and a proof that
 * it knows the secret, and only then does RAFT.AUTH carry ours. Nothing
 * else is sent before RAFT.AUTH is answered +OK.
 *
 * Peer connection states (transport_peer_status().state):
 *
 *   TRANSPORT_IDLE ---(backoff timer)---> TRANSPORT_CONNECTING
 *   TRANSPORT_CONNECTING --(TCP up, HELLO answered with a right proof,
 *                           AUTH answered +OK)--> TRANSPORT_READY
 *   TRANSPORT_CONNECTING --(refused, error reply, wrong id or proof in
 *                           the HELLO answer, connect timeout)--> IDLE
 *   TRANSPORT_READY --(EOF, I/O error, reply other than +OK, liveness
 *                      timeout, unsolicited bytes)--> IDLE, on_unreachable
 *
 * Timing. transport_new() starts a connection attempt to every peer at once.
 * A connection must be READY within connect_timeout_ms of its attempt (TCP
 * connect and the HELLO and AUTH round trips), or it is closed. On a READY connection,
 * while at least one RAFT.MSG is unanswered, a reply must arrive at least
 * every liveness_timeout_ms: the clock starts when the first outstanding
 * command is sent and restarts at every reply; when it runs out the peer is
 * treated as dead (closed, on_unreachable, reconnect). With nothing
 * outstanding nothing is checked (raft's heartbeats keep traffic flowing
 * where it matters). After a failed attempt or a lost connection the next
 * attempt waits the current backoff, which starts at backoff_start_ms and
 * doubles per failure up to backoff_max_ms; it goes back to the start when a
 * RAFT.MSG is answered +OK (a wrong secret, a peer answering errors or a
 * peer that accepts HELLO and then closes never spins faster than that).
 *
 * Threading and callbacks. Everything runs on the base's thread. The
 * callbacks may be invoked from inside libevent and hiredis callbacks; they
 * may call transport_send(), transport_flush() and transport_peer_status(),
 * but must not call transport_free(). The module prints nothing: every log
 * line goes through cfg->log.
 *
 * SIGPIPE: TLS writes go through OpenSSL's write(2), not
 * send(MSG_NOSIGNAL); the process must ignore SIGPIPE (server/main.c does)
 * or a peer closing its end kills it.
 *
 * Not handled here: peer host names are resolved by getaddrinfo(),
 * synchronously; configure numeric addresses.
 */
#ifndef RAFTKV_TRANSPORT_H
#define RAFTKV_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

struct event_base;

/* Return codes. */
enum {
    TRANSPORT_OK = 0,
    TRANSPORT_ENOTCONN = -1, /* transport_send: the peer is not READY; dropped */
    TRANSPORT_EFULL = -2,    /* transport_send: over the peer's queue bound; dropped */
    TRANSPORT_ENOPEER = -3,  /* no peer has this id */
    TRANSPORT_ENOMEM = -4,   /* allocation failed; dropped */
    TRANSPORT_EINVAL = -5    /* bad argument (index past the end, ...) */
};

/* Peer connection states. */
enum { TRANSPORT_IDLE = 0, TRANSPORT_CONNECTING = 1, TRANSPORT_READY = 2 };

/* Log levels: the same numbers as server/log.h's LL_* so the server can
 * pass them through. */
enum {
    TRANSPORT_LOG_DEBUG = 0,
    TRANSPORT_LOG_VERBOSE = 1,
    TRANSPORT_LOG_NOTICE = 2,
    TRANSPORT_LOG_WARNING = 3
};

typedef struct transport transport;

/* Peers a transport can have at once (at creation and added later). */
#define TRANSPORT_MAX_PEERS 64

typedef struct transport_peer_config {
    uint64_t id;      /* nonzero, unique, not the node's own id */
    const char *host; /* numeric address preferred (see above) */
    int port;         /* 1..65535 */
} transport_peer_config;

typedef struct transport_config {
    uint64_t self_id;       /* sent in HELLO; nonzero */
    const char *bind_addr;  /* local address outgoing sockets bind to; NULL: none */
    const char *cluster_id; /* sent in HELLO; non-empty, no NUL inside */
    const char *secret;     /* the HMAC key of the handshake, never sent; non-empty */
    const char *advertise;  /* "host:port" sent in HELLO (see above); NULL or "": none */
    /* NULL: plain text. Otherwise every connection is TLS, made by this on
     * the connected socket (server/tls.h's tls_connect_conn: the node's
     * certificate, the peer's verified against the CA); a handshake that
     * fails is a failed attempt like a refused connect. No fallback. */
    struct ssl_st *(*tls)(int fd);
    const transport_peer_config *peers;
    size_t npeers;
    /* Milliseconds; 0 picks the default given. */
    int connect_timeout_ms;  /* 1000 */
    int liveness_timeout_ms; /* 1000; about an election timeout */
    int backoff_start_ms;    /* 50 */
    int backoff_max_ms;      /* 2000; raised to backoff_start_ms if below */
    /* Per peer: bytes of messages waiting for transport_flush() plus bytes
     * the connection has not written to the socket yet. A message that would take
     * the peer past it is dropped, so a single message larger than the
     * bound is never sent. 0: 64 MB. */
    size_t queue_bound;
    /* Callbacks; any may be NULL. ctx is passed back as given. */
    void *ctx;
    /* A READY connection was lost (for any reason listed above): what
     * raft_report_unreachable() is for. Once per lost connection. */
    void (*on_unreachable)(void *ctx, uint64_t peer_id);
    /* A connection became READY (the handshake completed). */
    void (*on_connected)(void *ctx, uint64_t peer_id);
    /* One line, no trailing newline; msg is valid during the call only. */
    void (*log)(void *ctx, int level, const char *msg);
    /* The answer to a transport_call(): an integer reply (err NULL), or an
     * error reply (err, errlen: the peer's text without the '-'). Calls
     * lost with a connection get no answer: on_unreachable says so. */
    void (*on_reply)(void *ctx, uint64_t peer_id, uint64_t tag, long long value, const char *err,
                     size_t errlen);
} transport_config;

/* Creates the transport and starts connecting to every peer. cfg and every
 * string it points to are copied (the caller keeps ownership). base must
 * outlive the transport. Returns NULL on an invalid configuration (logged
 * through cfg->log: missing cluster id or secret, zero or duplicate ids, a
 * peer with the node's own id, a port out of range) or when an allocation
 * fails. */
transport *transport_new(struct event_base *base, const transport_config *cfg);

/* Closes every connection (pending replies are abandoned, queued messages
 * dropped), cancels every timer and frees all memory. No callback is
 * invoked. Must not be called from inside a transport callback. NULL is a
 * no-op. */
void transport_free(transport *t);

/* Adds peer id at host:port at runtime (a member added to the cluster) and
 * starts connecting to it. A known id at the same address: nothing to do;
 * at another address: its connection is closed and made again there.
 * TRANSPORT_EINVAL for a bad id (0, the node's own), host or port, or past
 * TRANSPORT_MAX_PEERS; TRANSPORT_ENOMEM. Not from inside a callback. */
int transport_add_peer(transport *t, uint64_t id, const char *host, int port);

/* Removes peer id (a member removed from the cluster): its connection is
 * closed and its queue dropped, with no callback; transport_send() to it
 * is TRANSPORT_ENOPEER from then on. Its slot in transport_peer_status()
 * reads id 0 until another peer takes it. TRANSPORT_ENOPEER for an unknown
 * id. Not from inside a callback. */
int transport_remove_peer(transport *t, uint64_t id);

/* Queues one encoded raft message (binary; len bytes copied, len may be 0)
 * for peer `to`, to go out in the next transport_flush(). Returns
 * TRANSPORT_OK, or (the message dropped and counted in the peer's dropped
 * counter) TRANSPORT_ENOTCONN when the peer is not READY, TRANSPORT_EFULL
 * over the queue bound, TRANSPORT_ENOMEM; TRANSPORT_ENOPEER for an unknown
 * id (not counted anywhere). Never blocks, never writes. */
int transport_send(transport *t, uint64_t to, const void *msg, size_t len);

/* Call once at the end of each event-loop pass: for every READY peer with
 * queued messages, appends one RAFT.MSG carrying all of them, in send order,
 * and writes it to the socket now (one write() per peer per pass; what the
 * socket does not take is written when it becomes writable). A write error
 * closes the connection as described above, possibly invoking
 * on_unreachable before this returns. */
void transport_flush(transport *t);

/* Sends one command to peer `to` at once (before anything transport_send
 * queued for the next flush), for requests that want an answer: snapshot
 * chunks. Its reply goes to cfg->on_reply with tag; an integer or an error
 * reply is expected, anything else closes the connection. The command
 * counts for the liveness timer like a RAFT.MSG. Returns TRANSPORT_OK,
 * TRANSPORT_ENOTCONN, TRANSPORT_EFULL (the bytes would pass the queue
 * bound), TRANSPORT_ENOMEM or TRANSPORT_ENOPEER; nothing is sent then. */
int transport_call(transport *t, uint64_t to, int argc, const char **argv, const size_t *argvlen,
                   uint64_t tag);

/* A message from peer `to` arrived (on its own connection to us): it is
 * alive, so the liveness clock of our connection to it restarts. A slow
 * peer answers a RAFT.MSG only after everything queued before it (up to
 * queue_bound), later than the liveness timeout, while its own messages
 * keep coming; a stopped or cut-off one sends none. */
void transport_heard(transport *t, uint64_t to);

/* Bytes the connection holds for peer `to` that the socket has not taken yet (0
 * for an unknown or idle peer): senders of bulk data pace themselves by it. */
size_t transport_pending_bytes(const transport *t, uint64_t to);

typedef struct transport_peer_stat {
    uint64_t id;
    char addr[300];        /* "host:port" */
    int connected;         /* 1 when READY */
    int state;             /* TRANSPORT_IDLE / _CONNECTING / _READY */
    size_t queued_bytes;   /* as counted against queue_bound */
    size_t buffer_bytes;   /* buffer capacity held for it (queue and connection) */
    uint64_t outstanding;  /* RAFT.MSG commands not answered yet */
    uint64_t sent;         /* messages handed to the socket layer in a RAFT.MSG */
    uint64_t dropped;      /* messages transport_send() dropped, plus queued ones lost
                              with a connection before they went out */
    uint64_t reconnects;   /* connection attempts after the first */
    uint64_t unreachables; /* times on_unreachable was reported */
} transport_peer_stat;

/* Number of peer slots (status of a removed peer's slot: id 0). */
size_t transport_peer_count(const transport *t);

/* Fills *st for the i-th peer in configuration order. Returns TRANSPORT_OK
 * or TRANSPORT_EINVAL when i is past the end. */
int transport_peer_status(const transport *t, size_t i, transport_peer_stat *st);

/* Text for a TRANSPORT_* code (static storage). */
const char *transport_strerror(int code);

#endif
