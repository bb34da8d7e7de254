/* peerconn.c -- one outgoing connection to a peer node (peerconn.h). */
#include "server/peerconn.h"

#include <errno.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_CHUNK (16 * 1024)

/* tls_wait: a TLS read waiting for the socket to be writable, or a TLS
 * write waiting for it to be readable. */
enum { TW_READ_NEEDS_WRITE = 1, TW_WRITE_NEEDS_READ = 2 };

typedef struct pcmd {
    peerconn_reply_fn *fn;
    void *priv;
    struct pcmd *next;
} pcmd;

struct peerconn {
    peerconn_config cfg; /* strings below are the copies */
    char *host, *bind_addr;
    int fd;
    SSL *ssl;
    int connected;
    int dead;  /* no more I/O nor replies */
    int freed; /* peerconn_free was called: memory goes at depth 0 */
    int depth; /* inside this module's handling (callbacks may free) */
    int tls_wait;
    struct event *rev, *wev;
    redisReader *reader;
    char *obuf;
    size_t olen, ooff, ocap; /* bytes obuf[ooff..olen) unsent */
    pcmd *head, *tail;
    size_t nwaiting;
};

static void do_io_read(peerconn *pc);
static void do_io_write(peerconn *pc);

static void really_free(peerconn *pc)
{
    if (pc->rev) event_free(pc->rev);
    if (pc->wev) event_free(pc->wev);
    tls_close(pc->ssl);
    if (pc->fd >= 0) close(pc->fd);
    if (pc->reader) redisReaderFree(pc->reader);
    free(pc->obuf);
    free(pc->host);
    free(pc->bind_addr);
    free(pc);
}

/* Leaves one of the module's entry points: the memory goes if the owner
 * freed the connection meanwhile. */
static void leave(peerconn *pc)
{
    if (--pc->depth == 0 && pc->freed) really_free(pc);
}

static void fail(peerconn *pc, int why, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(peerconn *pc, int why, const char *fmt, ...)
{
    if (pc->dead) return;
    pc->dead = 1;
    if (pc->rev) event_del(pc->rev);
    if (pc->wev) event_del(pc->wev);
    char text[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    pc->depth++;
    if (pc->cfg.on_close) pc->cfg.on_close(pc->cfg.owner, why, text);
    leave(pc);
}

static void want_write(peerconn *pc, int on)
{
    if (on)
        event_add(pc->wev, NULL);
    else
        event_del(pc->wev);
}

/* ---------------------------------------------------------------- replies */

static void handle_replies(peerconn *pc)
{
    while (!pc->dead) {
        if (!pc->head) {
            if (pc->reader->pos < pc->reader->len)
                fail(pc, PEERCONN_PROTOCOL, "unsolicited reply from the peer; closing");
            return;
        }
        void *r = NULL;
        if (redisReaderGetReply(pc->reader, &r) != REDIS_OK) {
            fail(pc, PEERCONN_PROTOCOL, "protocol error: %s", pc->reader->errstr);
            return;
        }
        if (!r) return; /* need more bytes */
        pcmd *c = pc->head;
        pc->head = c->next;
        if (!pc->head) pc->tail = NULL;
        pc->nwaiting--;
        c->fn(pc->cfg.owner, c->priv, r);
        freeReplyObject(r);
        free(c);
    }
}

/* ------------------------------------------------------------------ I/O */

static ssize_t conn_read(peerconn *pc, char *buf, size_t n, char *err, size_t errlen)
{
    if (!pc->ssl) {
        ssize_t r = read(pc->fd, buf, n);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return -2;
        if (r < 0) snprintf(err, errlen, "%s", strerror(errno));
        return r;
    }
    int want;
    ssize_t r = tls_read(pc->ssl, buf, n, &want, err, errlen);
    if (r == -2 && want == TLS_WANT_WRITE) {
        pc->tls_wait |= TW_READ_NEEDS_WRITE;
        want_write(pc, 1);
    }
    return r;
}

static void do_io_read(peerconn *pc)
{
    char buf[READ_CHUNK], err[256] = "";
    while (!pc->dead) {
        ssize_t n = conn_read(pc, buf, sizeof(buf), err, sizeof(err));
        if (n == -2) break;
        if (n == 0) {
            fail(pc, PEERCONN_LOST, "Server closed the connection");
            return;
        }
        if (n < 0) {
            fail(pc, PEERCONN_LOST, "%s", err);
            return;
        }
        if (redisReaderFeed(pc->reader, buf, (size_t)n) != REDIS_OK) {
            fail(pc, PEERCONN_LOST, "out of memory");
            return;
        }
        handle_replies(pc);
        /* Plain sockets are level-triggered: one read per event. TLS goes
         * on while OpenSSL holds bytes (the socket would not say them)
         * or full records come (tlsio.h). */
        if (!pc->ssl || (!tls_pending(pc->ssl) && (size_t)n < TLS_RECORD_MAX)) break;
    }
}

static void do_io_write(peerconn *pc)
{
    char err[256] = "";
    while (!pc->dead && pc->ooff < pc->olen && !(pc->tls_wait & TW_WRITE_NEEDS_READ)) {
        ssize_t n;
        size_t len = pc->olen - pc->ooff;
        if (!pc->ssl) {
            n = send(pc->fd, pc->obuf + pc->ooff, len, MSG_NOSIGNAL);
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) break;
            if (n < 0) snprintf(err, sizeof(err), "%s", strerror(errno));
        } else {
            int want;
            n = tls_write(pc->ssl, pc->obuf + pc->ooff, len, &want, err, sizeof(err));
            if (n == -2) {
                if (want == TLS_WANT_READ) pc->tls_wait |= TW_WRITE_NEEDS_READ;
                break;
            }
            if (n == 0) n = -1, snprintf(err, sizeof(err), "connection closed");
        }
        if (n < 0) {
            fail(pc, PEERCONN_LOST, "%s", err);
            return;
        }
        pc->ooff += (size_t)n;
    }
    if (pc->dead) return;
    if (pc->ooff == pc->olen) {
        pc->ooff = pc->olen = 0;
        if (pc->ocap > PEERCONN_RETAIN_BYTES) { /* nothing pending: OpenSSL holds no pointer */
            free(pc->obuf);
            pc->obuf = NULL;
            pc->ocap = 0;
        }
    }
    int more = pc->olen > 0 && !(pc->tls_wait & TW_WRITE_NEEDS_READ);
    want_write(pc, more || (pc->tls_wait & TW_READ_NEEDS_WRITE));
}

static void connected(peerconn *pc)
{
    int soerr = 0;
    socklen_t sl = sizeof(soerr);
    if (getsockopt(pc->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) soerr = errno;
    if (soerr == EINPROGRESS) return; /* not yet */
    if (soerr) {
        fail(pc, PEERCONN_CONNECT_FAILED, "%s", strerror(soerr));
        return;
    }
    pc->connected = 1;
    if (pc->cfg.tls && !(pc->ssl = pc->cfg.tls(pc->fd))) {
        fail(pc, PEERCONN_LOST, "cannot start TLS (no TLS context?)");
        return;
    }
    event_add(pc->rev, NULL);
    if (pc->cfg.on_connect) pc->cfg.on_connect(pc->cfg.owner);
    if (!pc->dead) do_io_write(pc);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    peerconn *pc = arg;
    pc->depth++;
    if (pc->tls_wait & TW_WRITE_NEEDS_READ) {
        pc->tls_wait &= ~TW_WRITE_NEEDS_READ;
        do_io_write(pc);
    }
    if (!pc->dead) do_io_read(pc);
    leave(pc);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    peerconn *pc = arg;
    pc->depth++;
    if (!pc->connected) {
        connected(pc);
    } else {
        if (pc->tls_wait & TW_READ_NEEDS_WRITE) {
            pc->tls_wait &= ~TW_READ_NEEDS_WRITE;
            do_io_read(pc);
        }
        if (!pc->dead) do_io_write(pc);
    }
    leave(pc);
}

/* ------------------------------------------------------------ public API */

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* A non-blocking socket connecting to host:port (bound to bind_addr when
 * given); -1 with err. */
static int start_connect(const char *host, int port, const char *bind_addr, char *err,
                         size_t errlen)
{
    struct addrinfo hints = {0}, *res = NULL, *ai;
    char sport[16];
    snprintf(sport, sizeof(sport), "%d", port);
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, sport, &hints, &res);
    if (rc) {
        snprintf(err, errlen, "%s", gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) continue;
        if (bind_addr) {
            struct addrinfo bh = {0}, *bres = NULL;
            bh.ai_family = ai->ai_family;
            bh.ai_socktype = SOCK_STREAM;
            bh.ai_flags = AI_PASSIVE;
            int one = 1;
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
            if (getaddrinfo(bind_addr, NULL, &bh, &bres) ||
                bind(fd, bres->ai_addr, bres->ai_addrlen)) {
                snprintf(err, errlen, "Can't bind socket: %s", strerror(errno));
                if (bres) freeaddrinfo(bres);
                close(fd);
                fd = -1;
                continue;
            }
            freeaddrinfo(bres);
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS) break;
        snprintf(err, errlen, "%s", strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0 && !err[0]) snprintf(err, errlen, "no address");
    return fd;
}

peerconn *peerconn_new(struct event_base *base, const peerconn_config *cfg, char *err,
                       size_t errlen)
{
    err[0] = '\0';
    peerconn *pc = calloc(1, sizeof(*pc));
    if (!pc) goto err_nomem;
    pc->fd = -1;
    pc->cfg = *cfg;
    pc->host = dupstr(cfg->host);
    pc->bind_addr = cfg->bind_addr && cfg->bind_addr[0] ? dupstr(cfg->bind_addr) : NULL;
    pc->reader = redisReaderCreate();
    if (!pc->host || (cfg->bind_addr && cfg->bind_addr[0] && !pc->bind_addr) || !pc->reader)
        goto err_nomem;
    pc->cfg.host = pc->host;
    pc->cfg.bind_addr = pc->bind_addr;
    pc->fd = start_connect(pc->host, cfg->port, pc->bind_addr, err, errlen);
    if (pc->fd < 0) goto err_after_alloc;
    pc->rev = event_new(base, pc->fd, EV_READ | EV_PERSIST, on_read, pc);
    pc->wev = event_new(base, pc->fd, EV_WRITE | EV_PERSIST, on_write, pc);
    if (!pc->rev || !pc->wev) goto err_nomem;
    event_add(pc->wev, NULL); /* its firing completes the connect */
    return pc;
err_nomem:
    snprintf(err, errlen, "out of memory");
err_after_alloc:
    if (pc) really_free(pc);
    return NULL;
}

size_t peerconn_len_line(char *buf, char type, size_t n)
{
    char digits[24];
    size_t d = 0;
    do {
        digits[d++] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    size_t k = 0;
    buf[k++] = type;
    while (d)
        buf[k++] = digits[--d];
    buf[k++] = '\r';
    buf[k++] = '\n';
    return k;
}

/* Room for n more bytes at obuf + olen: what was written is reclaimed
 * first, then the buffer doubles as needed. -1 on out of memory. */
static int reserve(peerconn *pc, size_t n)
{
    if (pc->ocap - pc->olen >= n) return 0;
    if (pc->ooff) { /* reclaim what was written (OpenSSL may see the bytes move) */
        memmove(pc->obuf, pc->obuf + pc->ooff, pc->olen - pc->ooff);
        pc->olen -= pc->ooff;
        pc->ooff = 0;
    }
    if (n > SIZE_MAX / 4 - pc->olen) return -1;
    size_t cap = pc->ocap ? pc->ocap : 4096;
    while (cap - pc->olen < n)
        cap *= 2;
    if (cap != pc->ocap) {
        char *b = realloc(pc->obuf, cap);
        if (!b) return -1;
        pc->obuf = b;
        pc->ocap = cap;
    }
    return 0;
}

/* Formats the command straight into the output buffer, as hiredis's
 * redisFormatCommandArgv would (no copy of it elsewhere). */
static int append(peerconn *pc, int argc, const char **argv, const size_t *argvlen)
{
    char line[PEERCONN_LEN_LINE_MAX];
    if (argc < 1) return -1;
    size_t n = peerconn_len_line(line, '*', (size_t)argc);
    for (int i = 0; i < argc; i++)
        n += peerconn_len_line(line, '$', argvlen[i]) + argvlen[i] + 2;
    if (reserve(pc, n)) return -1;
    char *o = pc->obuf + pc->olen;
    o += peerconn_len_line(o, '*', (size_t)argc);
    for (int i = 0; i < argc; i++) {
        o += peerconn_len_line(o, '$', argvlen[i]);
        if (argvlen[i]) memcpy(o, argv[i], argvlen[i]);
        o += argvlen[i];
        *o++ = '\r';
        *o++ = '\n';
    }
    pc->olen += n;
    return 0;
}

/* Puts c at the end of the list of commands waiting for a reply. */
static void await_reply(peerconn *pc, pcmd *c, peerconn_reply_fn *fn, void *priv)
{
    c->fn = fn;
    c->priv = priv;
    c->next = NULL;
    if (pc->tail)
        pc->tail->next = c;
    else
        pc->head = c;
    pc->tail = c;
    pc->nwaiting++;
}

int peerconn_command(peerconn *pc, peerconn_reply_fn *fn, void *priv, int argc, const char **argv,
                     const size_t *argvlen)
{
    if (pc->dead) return -1;
    pcmd *c = malloc(sizeof(*c));
    if (!c) return -1;
    if (append(pc, argc, argv, argvlen)) {
        free(c);
        return -1;
    }
    await_reply(pc, c, fn, priv);
    return 0;
}

int peerconn_command_resp(peerconn *pc, peerconn_reply_fn *fn, void *priv, const char *head,
                          size_t headlen, const char *body, size_t bodylen)
{
    if (pc->dead) return -1;
    pcmd *c = NULL;
    if (fn && !(c = malloc(sizeof(*c)))) return -1;
    if (bodylen > SIZE_MAX / 4 || reserve(pc, headlen + bodylen)) {
        free(c);
        return -1;
    }
    memcpy(pc->obuf + pc->olen, head, headlen);
    if (bodylen) memcpy(pc->obuf + pc->olen + headlen, body, bodylen);
    pc->olen += headlen + bodylen;
    if (c) await_reply(pc, c, fn, priv);
    return 0;
}

void peerconn_flush(peerconn *pc)
{
    if (pc->dead || !pc->connected) return;
    if (pc->depth) { /* inside a callback: the write event does it */
        if (pc->olen > pc->ooff) want_write(pc, 1);
        return;
    }
    pc->depth++;
    do_io_write(pc);
    leave(pc);
}

void peerconn_flush_soon(peerconn *pc)
{
    if (!pc->dead && pc->connected && pc->olen > pc->ooff) want_write(pc, 1);
}

void peerconn_poll(peerconn *pc)
{
    if (pc->dead || !pc->connected || pc->depth) return;
    pc->depth++;
    do_io_read(pc);
    leave(pc);
}

size_t peerconn_unsent(const peerconn *pc)
{
    return pc->olen - pc->ooff;
}

size_t peerconn_buffer_bytes(const peerconn *pc)
{
    return pc->ocap;
}

size_t peerconn_waiting(const peerconn *pc)
{
    return pc->nwaiting;
}

int peerconn_has_unparsed(const peerconn *pc)
{
    return pc->reader->pos < pc->reader->len;
}

void peerconn_free(peerconn *pc)
{
    if (!pc || pc->freed) return;
    pc->freed = 1;
    pc->dead = 1;
    if (pc->rev) event_del(pc->rev);
    if (pc->wev) event_del(pc->wev);
    pc->depth++;
    while (pc->head) {
        pcmd *c = pc->head;
        pc->head = c->next;
        if (!pc->head) pc->tail = NULL;
        pc->nwaiting--;
        c->fn(pc->cfg.owner, c->priv, NULL);
        free(c);
    }
    leave(pc);
}
