/* peerconn.h -- one outgoing connection to a peer node, the only module that
 * owns a socket to a peer (the transport's raft channel, server/transport.h,
 * and the follower's forwarding channel, server/proxy.c, are built on it).
 *
 * It connects (non-blocking, optionally bound to a local address), speaks
 * TLS when given a way to make the connection (mutual TLS with the node's
 * certificate: server/tls.h's tls_connect_conn), writes commands in RESP
 * straight into its output buffer (the bytes hiredis's
 * redisFormatCommandArgv makes, so peers of every version read them; no
 * other copy is made), and parses the replies with
 * hiredis's redisReader on the bytes read (decrypted, under TLS), handing
 * each to the callback of the command it answers, in order. hiredis's own
 * socket code is not used: it cannot do TLS in 0.14, and its async API
 * asserts on a reply nobody asked for.
 *
 * States: CONNECTING --(TCP up: on_connect)--> OPEN --(EOF, I/O or TLS
 * error, a protocol error, a reply nobody asked for: on_close)--> DEAD.
 * A failed connect goes CONNECTING -> DEAD (on_close with
 * PEERCONN_CONNECT_FAILED). Commands may be queued while CONNECTING; they
 * are written once the socket is up (TLS handshakes first, on the first
 * write). No timers here: the owner times the connect and the replies.
 *
 * Freeing. on_close reports a dead connection once; the owner then calls
 * peerconn_free() (inside on_close or later). peerconn_free() may be
 * called from any callback of the same connection: the memory goes when
 * the callback's caller unwinds. It calls the callback of every command
 * still unanswered with a NULL reply, in order, before it returns; after
 * it, no other callback of that connection runs.
 *
 * Threading: the base's thread. Writes use MSG_NOSIGNAL where they can,
 * but TLS writes go through OpenSSL's write(2): ignore SIGPIPE. */
#ifndef RAFTKV_PEERCONN_H
#define RAFTKV_PEERCONN_H

#include <stddef.h>

#include "server/tlsio.h"

struct event_base;
struct redisReply;

typedef struct peerconn peerconn;

/* Why a connection died (on_close). */
enum {
    PEERCONN_CONNECT_FAILED = 1, /* the TCP connect failed */
    PEERCONN_LOST = 2,           /* EOF, an I/O or TLS error */
    PEERCONN_PROTOCOL = 3        /* the peer sent what no command asked for, or not RESP2 */
};

/* A command's reply, r borrowed for the call; NULL when the connection is
 * freed with the command unanswered. */
typedef void peerconn_reply_fn(void *owner, void *priv, struct redisReply *r);

typedef struct peerconn_config {
    const char *host; /* numeric preferred: resolved synchronously */
    int port;
    const char *bind_addr; /* local address to bind to; NULL or "": none */
    /* NULL: plain text. Otherwise makes the TLS connection on the socket
     * once it is connected (the caller's context: certificate, CA); NULL
     * from it kills the connection (PEERCONN_LOST). */
    SSL *(*tls)(int fd);
    void *owner; /* passed back to every callback */
    void (*on_connect)(void *owner);
    void (*on_close)(void *owner, int why, const char *text);
} peerconn_config;

/* Starts connecting. NULL with the reason in err when the socket cannot
 * even be started (resolution, socket, bind, an immediate connect error)
 * or on out of memory; no callback runs then. Strings are copied. */
peerconn *peerconn_new(struct event_base *base, const peerconn_config *cfg, char *err,
                       size_t errlen);

/* Queues a command whose reply goes to fn(owner, priv, reply). Nothing is
 * written until peerconn_flush() or the next writable event. 0, or -1 (out
 * of memory, or the connection is dead: fn will never run). */
int peerconn_command(peerconn *pc, peerconn_reply_fn *fn, void *priv, int argc, const char **argv,
                     const size_t *argvlen);
/* A command the caller put in RESP already: head then body, copied once
 * into the output buffer as they are (the transport keeps RAFT.MSG's
 * messages framed as they are queued). fn NULL: no reply is expected. 0 or
 * -1 as peerconn_command. */
int peerconn_command_resp(peerconn *pc, peerconn_reply_fn *fn, void *priv, const char *head,
                          size_t headlen, const char *body, size_t bodylen);

/* RESP's length line "<type><n>\r\n" ('*' an array, '$' a bulk string),
 * as hiredis writes it, into buf (PEERCONN_LEN_LINE_MAX bytes); returns its
 * length. */
#define PEERCONN_LEN_LINE_MAX 24
size_t peerconn_len_line(char *buf, char type, size_t n);

/* Writes what is queued now; inside one of this connection's callbacks,
 * on the next writable event instead. May report on_close. */
void peerconn_flush(peerconn *pc);

/* Writes what is queued on the next writable event (many commands of one
 * pass then go out in one write). */
void peerconn_flush_soon(peerconn *pc);

/* Reads and handles what the socket (or OpenSSL) holds now, without
 * waiting: for an owner that suspects its own stall rather than the
 * peer's. May run callbacks and on_close. */
void peerconn_poll(peerconn *pc);

/* A drained output buffer larger than this is given back: a slow peer
 * once made it grow to the queue bound (128 MB), which a connection must
 * not keep for its lifetime. */
#define PEERCONN_RETAIN_BYTES ((size_t)1 << 20)

/* Bytes queued and not yet taken by the socket. */
size_t peerconn_unsent(const peerconn *pc);
/* Bytes of output buffer held (its capacity, sent or not). */
size_t peerconn_buffer_bytes(const peerconn *pc);
/* Commands queued or sent whose reply has not come. */
size_t peerconn_waiting(const peerconn *pc);
/* Bytes read but not parsed into a reply yet: with nothing waiting, the
 * peer sent what nobody asked for. */
int peerconn_has_unparsed(const peerconn *pc);

void peerconn_free(peerconn *pc);

#endif
