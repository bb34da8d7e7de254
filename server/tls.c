/* tls.c -- the node's TLS contexts and non-blocking TLS I/O (tls.h). */
#include "server/tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "server/config.h"
#include "server/log.h"

static SSL_CTX *server_ctx; /* the TLS port's */
static SSL_CTX *client_ctx; /* the node's own connections to peers */

int tls_wanted(void)
{
    return cfg.tls_port > 0 || cfg.tls_cluster;
}

/* tls-protocols: "TLSv1.2 TLSv1.3" (Redis's default when empty). Returns
 * the SSL_OP_NO_* options for the ones left out, or -1. */
static long protocol_options(const char *spec)
{
    enum { P10 = 1, P11 = 2, P12 = 4, P13 = 8 };
    int on = 0;
    if (!spec || !*spec) {
        on = P12 | P13;
    } else {
        char copy[256], *save = NULL;
        snprintf(copy, sizeof(copy), "%s", spec);
        for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
            if (!strcasecmp(w, "tlsv1"))
                on |= P10;
            else if (!strcasecmp(w, "tlsv1.1"))
                on |= P11;
            else if (!strcasecmp(w, "tlsv1.2"))
                on |= P12;
            else if (!strcasecmp(w, "tlsv1.3"))
                on |= P13;
            else
                return -1;
        }
        if (!on) return -1;
    }
    long opts = 0;
    if (!(on & P10)) opts |= SSL_OP_NO_TLSv1;
    if (!(on & P11)) opts |= SSL_OP_NO_TLSv1_1;
    if (!(on & P12)) opts |= SSL_OP_NO_TLSv1_2;
    if (!(on & P13)) opts |= SSL_OP_NO_TLSv1_3;
    return opts;
}

/* tls-key-file-pass for an encrypted key; with none, an encrypted key fails
 * to load instead of OpenSSL prompting on a terminal. */
static int key_pass_cb(char *buf, int size, int rwflag, void *u)
{
    (void)rwflag;
    const char *pass = u;
    size_t len = pass ? strlen(pass) : 0;
    if (len > (size_t)size) return 0;
    memcpy(buf, pass, len);
    return (int)len;
}

/* tls-dh-params-file into the server context, as Redis 7 does with
 * OpenSSL 3 (the context owns the parameters). */
static int load_dh_params(SSL_CTX *ctx, char *err, size_t errlen)
{
    char why[256];
    BIO *bio = BIO_new_file(cfg.tls_dh_params_file, "r");
    if (!bio) {
        tls_last_error(why, sizeof(why));
        snprintf(err, errlen, "Failed to load %s: %s", cfg.tls_dh_params_file, why);
        return -1;
    }
    EVP_PKEY *dh = PEM_read_bio_Parameters(bio, NULL);
    BIO_free(bio);
    if (!dh || !EVP_PKEY_is_a(dh, "DH")) {
        EVP_PKEY_free(dh);
        ERR_clear_error();
        snprintf(err, errlen, "%s: failed to read DH params.", cfg.tls_dh_params_file);
        return -1;
    }
    if (SSL_CTX_set0_tmp_dh_pkey(ctx, dh) <= 0) {
        tls_last_error(why, sizeof(why));
        snprintf(err, errlen, "Failed to load DH params file: %s: %s", cfg.tls_dh_params_file, why);
        EVP_PKEY_free(dh);
        return -1;
    }
    return 0;
}

/* One context with everything the configuration says; NULL with err. The
 * client context (the node's connections to peers) shows
 * tls-client-cert-file when it and tls-client-key-file are both set
 * (Redis's rule), else the node's one certificate. */
static SSL_CTX *build_ctx(int server, char *err, size_t errlen)
{
    char why[256];
    const char *cert = cfg.tls_cert_file, *key = cfg.tls_key_file, *pass = cfg.tls_key_file_pass;
    if (!server && cfg.tls_client_cert_file[0] && cfg.tls_client_key_file[0]) {
        cert = cfg.tls_client_cert_file;
        key = cfg.tls_client_key_file;
        pass = cfg.tls_client_key_file_pass;
    }
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!ctx) {
        tls_last_error(why, sizeof(why));
        snprintf(err, errlen, "Failed to create a TLS context: %s", why);
        return NULL;
    }
    long proto = protocol_options(cfg.tls_protocols);
    if (proto < 0) {
        snprintf(err, errlen,
                 "Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', "
                 "'TLSv1.2' and 'TLSv1.3'.");
        goto err_after_ctx;
    }
    long opts = proto | SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3 | SSL_OP_NO_COMPRESSION;
    if (server) {
        opts |= SSL_OP_NO_RENEGOTIATION;
        if (cfg.tls_prefer_server_ciphers) opts |= SSL_OP_CIPHER_SERVER_PREFERENCE;
    }
    SSL_CTX_set_options(ctx, (uint64_t)opts);
    /* Writes resume with a longer buffer that may have moved (the reply
     * buffer grows between retries). */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* Without read-ahead OpenSSL reads each record with two read(2)s (its
     * header, then its body): twice a plain connection's reads. Readers go
     * on while tls_pending() says OpenSSL holds bytes (tlsio.h). */
    SSL_CTX_set_read_ahead(ctx, 1);
    if (server && cfg.tls_session_caching) {
        static const unsigned char sid[] = "raftkv";
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
        SSL_CTX_sess_set_cache_size(ctx, cfg.tls_session_cache_size);
        SSL_CTX_set_timeout(ctx, (long)cfg.tls_session_cache_timeout);
        SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
    } else {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    SSL_CTX_set_default_passwd_cb(ctx, key_pass_cb);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, (void *)pass);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) <= 0) {
        tls_last_error(why, sizeof(why));
        snprintf(err, errlen, "Failed to load certificate: %s: %s", cert, why);
        goto err_after_ctx;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) <= 0) {
        tls_last_error(why, sizeof(why));
        snprintf(err, errlen, "Failed to load private key: %s: %s", key, why);
        goto err_after_ctx;
    }
    /* DHE (TLS 1.2): the file's group, else OpenSSL's choice for the key's
     * strength, as Redis 7 with OpenSSL 3 does. */
    if (server && cfg.tls_dh_params_file[0] && load_dh_params(ctx, err, errlen)) goto err_after_ctx;
    if (server && !cfg.tls_dh_params_file[0]) SSL_CTX_set_dh_auto(ctx, 1);
    const char *cafile = cfg.tls_ca_cert_file[0] ? cfg.tls_ca_cert_file : NULL;
    const char *cadir = cfg.tls_ca_cert_dir[0] ? cfg.tls_ca_cert_dir : NULL;
    if ((cafile || cadir) && SSL_CTX_load_verify_locations(ctx, cafile, cadir) <= 0) {
        tls_last_error(why, sizeof(why));
        snprintf(err, errlen, "Failed to configure CA certificate(s) file/directory: %s", why);
        goto err_after_ctx;
    }
    if (cfg.tls_ciphers[0] && !SSL_CTX_set_cipher_list(ctx, cfg.tls_ciphers)) {
        ERR_clear_error();
        snprintf(err, errlen, "Failed to configure ciphers: %s", cfg.tls_ciphers);
        goto err_after_ctx;
    }
    if (cfg.tls_ciphersuites[0] && !SSL_CTX_set_ciphersuites(ctx, cfg.tls_ciphersuites)) {
        ERR_clear_error();
        snprintf(err, errlen, "Failed to configure ciphersuites: %s", cfg.tls_ciphersuites);
        goto err_after_ctx;
    }
    return ctx;
err_after_ctx:
    SSL_CTX_free(ctx);
    return NULL;
}

int tls_configure(char *err, size_t errlen)
{
    SSL_CTX *s = NULL, *c = NULL;
    if (!cfg.tls_cert_file[0]) {
        snprintf(err, errlen, "No tls-cert-file configured!");
        goto fail;
    }
    if (!cfg.tls_key_file[0]) {
        snprintf(err, errlen, "No tls-key-file configured!");
        goto fail;
    }
    /* Redis's rule: a CA is needed whenever the other end's certificate is
     * to be checked. */
    if ((strcasecmp(cfg.tls_auth_clients, "no") || cfg.tls_cluster) && !cfg.tls_ca_cert_file[0] &&
        !cfg.tls_ca_cert_dir[0]) {
        snprintf(err, errlen,
                 "Either tls-ca-cert-file or tls-ca-cert-dir must be specified when "
                 "tls-cluster, tls-replication or tls-auth-clients are enabled!");
        goto fail;
    }
    if (!(s = build_ctx(1, err, errlen)) || !(c = build_ctx(0, err, errlen))) goto fail;
    SSL_CTX_free(server_ctx);
    SSL_CTX_free(client_ctx);
    server_ctx = s;
    client_ctx = c;
    return 0;
fail:
    SSL_CTX_free(s);
    serverLog(LL_WARNING, "%s", err);
    return -1;
}

int tls_apply_config(void)
{
    char err[512];
    if (!tls_wanted()) return 0;
    return tls_configure(err, sizeof(err));
}

static SSL *new_conn(SSL_CTX *ctx, int fd)
{
    if (!ctx) return NULL;
    SSL *ssl = SSL_new(ctx);
    if (!ssl) return NULL;
    if (!SSL_set_fd(ssl, fd)) {
        SSL_free(ssl);
        return NULL;
    }
    return ssl;
}

static int accept_any(int ok, X509_STORE_CTX *store)
{
    (void)ok;
    (void)store;
    return 1;
}

SSL *tls_accept_conn(int fd)
{
    SSL *ssl = new_conn(server_ctx, fd);
    if (!ssl) return NULL;
    int mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_verify_cb cb = NULL;
    if (!strcasecmp(cfg.tls_auth_clients, "no")) {
        /* With tls-cluster the certificate is still asked for (peers must
         * show one: RAFT.HELLO checks tls_peer_verified), but a client's is
         * not held against it, as tls-auth-clients no promises. */
        mode = cfg.tls_cluster ? SSL_VERIFY_PEER : SSL_VERIFY_NONE;
        cb = cfg.tls_cluster ? accept_any : NULL;
    } else if (!strcasecmp(cfg.tls_auth_clients, "optional")) {
        mode = SSL_VERIFY_PEER;
    }
    SSL_set_verify(ssl, mode, cb);
    SSL_set_accept_state(ssl);
    return ssl;
}

SSL *tls_connect_conn(int fd)
{
    SSL *ssl = new_conn(client_ctx, fd);
    if (!ssl) return NULL;
    SSL_set_connect_state(ssl);
    return ssl;
}

void tls_shutdown(void)
{
    SSL_CTX_free(server_ctx);
    SSL_CTX_free(client_ctx);
    server_ctx = client_ctx = NULL;
}
