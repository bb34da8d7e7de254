/* tlsio.h -- non-blocking I/O on one TLS connection (OpenSSL 3), shared by
 * the client listener (server/networking.c) and the peer connections
 * (server/peerconn.h). Knows nothing of the configuration: whoever made
 * the SSL object (server/tls.h) chose its context. */
#ifndef RAFTKV_TLSIO_H
#define RAFTKV_TLSIO_H

#include <stddef.h>
#include <sys/types.h>

typedef struct ssl_st SSL;

/* The first error in OpenSSL's queue as text (errno's when the queue is
 * empty); the queue is cleared. */
void tls_last_error(char *buf, size_t n);

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

/* Whether OpenSSL holds bytes for the next tls_read, decrypted or not
 * (SSL_has_pending): the socket will not signal them, so a reader goes on
 * while this says so. The contexts read ahead (tls.c: one read(2) takes
 * as many records as the socket has, up to OpenSSL's buffer, instead of a
 * header and then a body per record), so bytes of the next records may sit
 * in OpenSSL after a read that returned a whole one. */
int tls_pending(SSL *ssl);

/* The most one tls_read returns (one record's plaintext). A read that
 * returned less, with nothing pending, most likely took all there was:
 * reading again at once would only cost a failing read(2). */
#define TLS_RECORD_MAX 16384

/* The handshake completed and the peer presented a certificate that
 * verified against the CA. */
int tls_peer_verified(SSL *ssl);

/* Sends close_notify if the handshake completed (best effort, never
 * blocks) and frees ssl. NULL is fine. */
void tls_close(SSL *ssl);

#endif
