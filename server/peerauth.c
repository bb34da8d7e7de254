/* peerauth.c -- the peer handshake (see peerauth.h). */
#include "server/peerauth.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include <hiredis/hiredis.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define RAW_LEN 32 /* bytes of a nonce or a proof */

static void to_hex(const unsigned char *raw, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[raw[i] >> 4];
        out[2 * i + 1] = digits[raw[i] & 15];
    }
    out[2 * n] = '\0';
}

int peerauth_nonce(char out[PEERAUTH_HEX_LEN + 1])
{
    unsigned char raw[RAW_LEN];
    size_t got = 0;
    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        got += (size_t)n;
    }
    to_hex(raw, sizeof(raw), out);
    return 0;
}

int peerauth_parse_id(const char *s, size_t len, uint64_t *id)
{
    if (len == 0 || len > 20 || s[0] < '1' || s[0] > '9') return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *id = v;
    return 0;
}

int peerauth_is_hex(const char *s, size_t len)
{
    if (len != PEERAUTH_HEX_LEN) return 0;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
}

/* Appends one length-framed field to buf (room checked by the caller). */
static size_t put_field(unsigned char *buf, size_t off, const char *s, size_t n)
{
    buf[off] = (unsigned char)(n >> 24);
    buf[off + 1] = (unsigned char)(n >> 16);
    buf[off + 2] = (unsigned char)(n >> 8);
    buf[off + 3] = (unsigned char)n;
    memcpy(buf + off + 4, s, n);
    return off + 4 + n;
}

int peerauth_proof(const char *secret, size_t secretlen, int who, const char *cluster_id,
                   uint64_t client_id, uint64_t server_id, const char *client_nonce,
                   const char *server_nonce, char out[PEERAUTH_HEX_LEN + 1])
{
    char cid[24], sid[24];
    snprintf(cid, sizeof(cid), "%" PRIu64, client_id);
    snprintf(sid, sizeof(sid), "%" PRIu64, server_id);
    const char *label = who == PEERAUTH_SERVER ? "raftkv-server" : "raftkv-client";
    const char *f[6] = {label, cluster_id, cid, sid, client_nonce, server_nonce};
    size_t total = 0;
    for (int i = 0; i < 6; i++)
        total += 4 + strlen(f[i]);
    unsigned char stackbuf[512];
    unsigned char *msg = total <= sizeof(stackbuf) ? stackbuf : OPENSSL_malloc(total);
    if (!msg) return -1;
    size_t off = 0;
    for (int i = 0; i < 6; i++)
        off = put_field(msg, off, f[i], strlen(f[i]));
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int ok = secretlen <= INT32_MAX &&
             HMAC(EVP_sha256(), secret, (int)secretlen, msg, off, md, &mdlen) != NULL &&
             mdlen == RAW_LEN;
    if (msg != stackbuf) OPENSSL_free(msg);
    if (!ok) return -1;
    to_hex(md, RAW_LEN, out);
    OPENSSL_cleanse(md, sizeof(md));
    return 0;
}

int peerauth_verify(const char *secret, size_t secretlen, int who, const char *cluster_id,
                    uint64_t client_id, uint64_t server_id, const char *client_nonce,
                    const char *server_nonce, const char *proof, size_t len)
{
    char want[PEERAUTH_HEX_LEN + 1];
    if (len != PEERAUTH_HEX_LEN) return 0;
    if (peerauth_proof(secret, secretlen, who, cluster_id, client_id, server_id, client_nonce,
                       server_nonce, want) != 0)
        return 0;
    return CRYPTO_memcmp(want, proof, PEERAUTH_HEX_LEN) == 0;
}

/* ----------------------------------------------- the connecting side */

int peerauth_client_hello(peerauth_client *pa, const char *secret, const char *cluster_id,
                          uint64_t self_id, uint64_t peer_id)
{
    memset(pa, 0, sizeof(*pa));
    pa->secret = secret;
    pa->cluster_id = cluster_id;
    pa->self_id = self_id;
    pa->peer_id = peer_id;
    snprintf(pa->self_str, sizeof(pa->self_str), "%" PRIu64, self_id);
    if (peerauth_nonce(pa->nonce) != 0) return -1;
    pa->argv[0] = "RAFT.HELLO";
    pa->argv[1] = cluster_id;
    pa->argv[2] = pa->self_str;
    pa->argv[3] = pa->nonce;
    for (int i = 0; i < 4; i++)
        pa->argvlen[i] = strlen(pa->argv[i]);
    return 0;
}

int peerauth_client_check(peerauth_client *pa, const redisReply *r, char *why, size_t whylen)
{
    if (r->type == REDIS_REPLY_ERROR) {
        /* The peer's words, printable bytes only. */
        size_t n = 0;
        if (whylen > 1) why[n++] = '-';
        for (size_t i = 0; i < r->len && i < 200 && n + 1 < whylen; i++)
            why[n++] = r->str[i] >= 0x20 && r->str[i] < 0x7f ? r->str[i] : '?';
        if (whylen) why[n] = '\0';
        return -1;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_STRING ||
        r->element[2]->type != REDIS_REPLY_STRING) {
        snprintf(why, whylen, "the answer to RAFT.HELLO is malformed");
        return -1;
    }
    if (r->element[0]->integer < 0 || (uint64_t)r->element[0]->integer != pa->peer_id) {
        snprintf(why, whylen, "the peer says it is node %lld", r->element[0]->integer);
        return -1;
    }
    const redisReply *sn = r->element[1], *sp = r->element[2];
    if (!peerauth_is_hex(sn->str, sn->len)) {
        snprintf(why, whylen, "the peer's nonce is malformed");
        return -1;
    }
    if (!peerauth_verify(pa->secret, strlen(pa->secret), PEERAUTH_SERVER, pa->cluster_id,
                         pa->self_id, pa->peer_id, pa->nonce, sn->str, sp->str, sp->len)) {
        snprintf(why, whylen, "the peer's proof is wrong (another cluster secret?)");
        return -1;
    }
    if (peerauth_proof(pa->secret, strlen(pa->secret), PEERAUTH_CLIENT, pa->cluster_id, pa->self_id,
                       pa->peer_id, pa->nonce, sn->str, pa->proof) != 0) {
        snprintf(why, whylen, "computing the proof failed");
        return -1;
    }
    pa->argv[0] = "RAFT.AUTH";
    pa->argvlen[0] = 9;
    pa->argv[1] = pa->proof;
    pa->argvlen[1] = PEERAUTH_HEX_LEN;
    return 0;
}

/* ------------------------------------------------ the answering side */

typedef struct tracked {
    char addr[64];
    int failures;
    int64_t window_start, blocked_until, last;
} tracked;

static tracked table[PEERAUTH_TRACKED];

static tracked *find(const char *addr)
{
    for (size_t i = 0; i < PEERAUTH_TRACKED; i++)
        if (table[i].addr[0] && !strcmp(table[i].addr, addr)) return &table[i];
    return NULL;
}

int peerauth_blocked(const char *addr, int64_t now_ms)
{
    const tracked *t = find(addr);
    return t && now_ms < t->blocked_until;
}

int peerauth_note_failure(const char *addr, int64_t now_ms)
{
    tracked *t = find(addr);
    if (!t) {
        t = &table[0];
        for (size_t i = 0; i < PEERAUTH_TRACKED; i++) {
            if (!table[i].addr[0]) {
                t = &table[i];
                break;
            }
            if (table[i].last < t->last) t = &table[i];
        }
        memset(t, 0, sizeof(*t));
        snprintf(t->addr, sizeof(t->addr), "%s", addr);
    }
    if (now_ms - t->window_start >= PEERAUTH_WINDOW_MS) {
        t->window_start = now_ms;
        t->failures = 0;
    }
    t->last = now_ms;
    if (++t->failures < PEERAUTH_MAX_FAILURES) return 0;
    t->blocked_until = now_ms + PEERAUTH_BLOCK_MS;
    t->failures = 0;
    t->window_start = now_ms;
    return 1;
}

void peerauth_note_success(const char *addr)
{
    tracked *t = find(addr);
    if (t) memset(t, 0, sizeof(*t));
}
