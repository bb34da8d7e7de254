/* tls.h -- the node's TLS contexts (OpenSSL 3) and non-blocking TLS I/O on
 * one connection, for the client listener (server/networking.c) and the
 * node's own connections to its peers.
 *
 * Configuration is Redis's (tls-cert-file, tls-key-file, tls-key-file-pass,
 * tls-ca-cert-file, tls-ca-cert-dir, tls-protocols, tls-ciphers,
 * tls-ciphersuites, tls-prefer-server-ciphers, tls-session-caching,
 * tls-session-cache-size, tls-session-cache-timeout, read from cfg).
 * tls_configure() builds a new pair of contexts from it and swaps them in
 * only when every step succeeded: connections already open keep the
 * context they were made with (OpenSSL counts references), new ones get
 * the new one, and a bad file leaves the old pair in use.
 *
 * tls-auth-clients is read per accepted connection, so changing it needs no
 * new context. Threading: the event loop's thread only. */
#ifndef RAFTKV_TLS_H
#define RAFTKV_TLS_H

#include <stddef.h>
#include <sys/types.h>

typedef struct ssl_st SSL;

/* True when the node needs TLS contexts: a tls-port, or tls-cluster. */
int tls_wanted(void);

/* Builds contexts from cfg and swaps them in. 0 on success; -1 with the
 * reason in err (also logged), the previous contexts kept. */
int tls_configure(char *err, size_t errlen);

/* CONFIG SET's hook (config_set_tls_hook): reconfigures when TLS is in use,
 * as Redis does; a node without TLS accepts any value. */
int tls_apply_config(void);

/* A server-side connection on fd (accepted on the TLS port), verifying
 * the client's certificate as tls-auth-clients says. NULL without a
 * context or out of memory. The caller owns it (SSL_free). */
SSL *tls_accept_conn(int fd);

/* A client-side connection on fd to a peer: presents the node's
 * certificate and verifies the peer's against the CA. NULL without a
 * context or out of memory. */
SSL *tls_connect_conn(int fd);

/* What a TLS read or write asks for when it cannot go on. */
enum { TLS_WANT_NONE, TLS_WANT_READ, TLS_WANT_WRITE };

/* Non-blocking I/O, handshaking first as needed. Returns bytes moved
 * (> 0); 0 when the peer closed the connection; -1 on an error (reason in
 * err, when err is not NULL); -2 when it must wait, *want saying for what:
 * retry the same call when the socket is readable (TLS_WANT_READ) or
 * writable (TLS_WANT_WRITE). A write retried after -2 must pass at least
 * as many bytes as the one that returned it. */
ssize_t tls_read(SSL *ssl, void *buf, size_t n, int *want, char *err, size_t errlen);
ssize_t tls_write(SSL *ssl, const void *buf, size_t n, int *want, char *err, size_t errlen);

/* Bytes OpenSSL already decrypted and holds for the next tls_read: the
 * socket will not signal them. */
int tls_pending(SSL *ssl);

/* The handshake completed and the peer presented a certificate that
 * verified against the CA. */
int tls_peer_verified(SSL *ssl);

/* Sends close_notify if the handshake completed (best effort, never
 * blocks) and frees ssl. NULL is fine. */
void tls_close(SSL *ssl);

/* Frees the contexts (at exit). */
void tls_shutdown(void);

#endif
