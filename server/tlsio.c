/* tlsio.c -- non-blocking I/O on one TLS connection (tlsio.h). */
#include "server/tlsio.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

void tls_last_error(char *buf, size_t n)
{
    unsigned long e = ERR_get_error();
    if (e)
        ERR_error_string_n(e, buf, n);
    else
        snprintf(buf, n, "%s", errno ? strerror(errno) : "unknown error");
    ERR_clear_error();
}

/* One call's outcome, as tlsio.h says. */
static ssize_t outcome(SSL *ssl, int r, int *want, char *err, size_t errlen)
{
    if (r > 0) return r;
    int e = SSL_get_error(ssl, r);
    *want = TLS_WANT_NONE;
    switch (e) {
    case SSL_ERROR_WANT_READ:
        *want = TLS_WANT_READ;
        return -2;
    case SSL_ERROR_WANT_WRITE:
        *want = TLS_WANT_WRITE;
        return -2;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        if (!ERR_peek_error() && (errno == 0 || errno == ECONNRESET || errno == EPIPE)) {
            /* the peer went away without close_notify */
            if (err) snprintf(err, errlen, "connection closed");
            return errno == 0 ? 0 : -1;
        }
        if (err) tls_last_error(err, errlen);
        return -1;
    default:
        if (err) tls_last_error(err, errlen);
        ERR_clear_error();
        return -1;
    }
}

ssize_t tls_read(SSL *ssl, void *buf, size_t n, int *want, char *err, size_t errlen)
{
    ERR_clear_error();
    errno = 0;
    int r = SSL_read(ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
    return outcome(ssl, r, want, err, errlen);
}

ssize_t tls_write(SSL *ssl, const void *buf, size_t n, int *want, char *err, size_t errlen)
{
    ERR_clear_error();
    errno = 0;
    int r = SSL_write(ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
    return outcome(ssl, r, want, err, errlen);
}

int tls_pending(SSL *ssl)
{
    return SSL_has_pending(ssl);
}

int tls_peer_verified(SSL *ssl)
{
    if (!ssl || !SSL_is_init_finished(ssl)) return 0;
    X509 *cert = SSL_get1_peer_certificate(ssl);
    if (!cert) return 0;
    X509_free(cert);
    return SSL_get_verify_result(ssl) == X509_V_OK;
}

void tls_close(SSL *ssl)
{
    if (!ssl) return;
    if (SSL_is_init_finished(ssl)) {
        ERR_clear_error();
        SSL_set_quiet_shutdown(ssl, 0);
        (void)SSL_shutdown(ssl);
        ERR_clear_error();
    }
    SSL_free(ssl);
}
