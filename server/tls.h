/* tls.h -- the node's TLS contexts (OpenSSL 3) and non-blocking TLS I/O on
 * one connection, for the client listener (server/networking.c) and the
 * node's own connections to its peers.
 *
 * Configuration is Redis's (tls-cert-file, tls-key-file, tls-key-file-pass,
 * tls-ca-cert-file, tls-ca-cert-dir, tls-protocols, tls-ciphers,
 * tls-ciphersuites, tls-prefer-server-ciphers, tls-session-caching,
 * tls-session-cache-size, tls-session-cache-timeout, tls-dh-params-file,
 * and tls-client-cert-file, tls-client-key-file, tls-client-key-file-pass
 * for the certificate shown on the node's own connections; read from cfg).
 * tls_configure() builds a new pair of contexts from it and swaps them in
 * only when every step succeeded: connections already open keep the
 * context they were made with (OpenSSL counts references), new ones get
 * the new one, and a bad file leaves the old pair in use.
 *
 * tls-auth-clients is read per accepted connection, so changing it needs no
 * new context. Threading: the event loop's thread only. The I/O on one
 * connection is server/tlsio.h's. */
#ifndef RAFTKV_TLS_H
#define RAFTKV_TLS_H

#include "server/tlsio.h"

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

/* A client-side connection on fd to a peer: presents the node's client
 * certificate (tls-client-cert-file, else tls-cert-file) and verifies the peer's against the CA.
 * NULL without a context or out of memory. */
SSL *tls_connect_conn(int fd);

/* Frees the contexts (at exit). */
void tls_shutdown(void);

#endif
