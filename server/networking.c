/* networking.c -- listening sockets, client connections, reading and
 * parsing requests, the reply slots, and writing replies once per pass. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "server/clientcmd.h"
#include "server/diag.h"
#include "server/log.h"
#include "server/loopstat.h"
#include "server/migrate.h"
#include "server/acl.h"
#include "server/server.h"
#include "server/tls.h"

#define READ_CHUNK (64 * 1024)
#define PASS_BUDGET 512 /* commands one client may run per pass */

static void read_cb(evutil_socket_t fd, short what, void *arg);
static void write_cb(evutil_socket_t fd, short what, void *arg);

/* client.tls_wait: a TLS read that must wait for the socket to be writable,
 * or a TLS write that must wait for it to be readable (renegotiation is
 * off, but a handshake or a TLS 1.3 key update can ask either way). */
enum { TW_READ_NEEDS_WRITE = 1, TW_WRITE_NEEDS_READ = 2 };

static int feed_input(client *c, const char *buf, size_t n);

/* ------------------------------------------------------------ listening */

static int listen_one(const char *addr, int tcp_port, int tls, int optional, char *err,
                      size_t errlen)
{
    struct addrinfo hints = {0}, *res = NULL;
    char port[16];
    int fd = -1;

    snprintf(port, sizeof(port), "%d", tcp_port);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int v6 = strchr(addr, ':') != NULL;
    hints.ai_family = v6 ? AF_INET6 : AF_INET;
    const char *host = addr;
    if (!strcmp(addr, "*")) host = NULL;
    if (!strcmp(addr, "::*")) host = NULL, hints.ai_family = AF_INET6;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc) {
        snprintf(err, errlen, "bind %s: %s", addr, gai_strerror(rc));
        return optional ? 0 : -1;
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) goto fail;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (res->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 511) < 0) goto fail;
    freeaddrinfo(res);
    srv.listen_tls[srv.nlisten] = tls;
    srv.listen_fds[srv.nlisten++] = fd;
    return 0;
fail:
    snprintf(err, errlen, "Could not create server %s listening socket %s:%d: %s",
             tls ? "TLS" : "TCP", addr, tcp_port, strerror(errno));
    if (fd >= 0) close(fd);
    freeaddrinfo(res);
    if (optional) {
        serverLog(LL_VERBOSE, "%s (optional address, skipped)", err);
        return 0;
    }
    return -1;
}

static void accept_cb(evutil_socket_t lfd, short what, void *arg);

/* Redis's rule: protected mode applies only with the default bind and no
 * password. */
int net_protected_mode(void)
{
    return cfg.protected_mode && !strcmp(cfg.bind, "* -::*") && acl_default_nopass();
}

int64_t net_hello_deadline_ms(void)
{
    return cfg.election_timeout > 1000 ? cfg.election_timeout : 1000;
}

static int is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
    if (ss->ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return 1;
}

/* A member's configured host, as is_loopback() sees an address. */
static int host_is_loopback(const char *host)
{
    struct sockaddr_storage ss = {0};
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1)
        ss.ss_family = AF_INET;
    else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1)
        ss.ss_family = AF_INET6;
    else
        return !strcmp(host, "localhost");
    return is_loopback(&ss);
}

/* Peers on other hosts get through protected mode for their handshake,
 * but an operator who sees clients refused there should know why. */
static void warn_protected_peers(void)
{
    if (!net_protected_mode()) return;
    uint64_t id;
    const char *host;
    int port;
    for (size_t i = 0; driver_member(i, &id, &host, &port) == 0; i++) {
        if (id == (uint64_t)cfg.node_id || !host[0] || host_is_loopback(host)) continue;
        serverLog(LL_WARNING,
                  "WARNING: protected mode is on (protected-mode yes, the default bind, no "
                  "requirepass) and peers are on other hosts (node %llu at %s): their peer "
                  "handshake is let through, but every client command from a non-loopback "
                  "address is answered -DENIED. Set requirepass, or bind, or protected-mode no "
                  "to serve clients on other hosts.",
                  (unsigned long long)id, host);
        return;
    }
}

/* Every bind address on the plain port (unless port is 0, as in Redis:
 * TLS only) and on the tls-port. */
int net_listen(char *err, size_t errlen)
{
    if (!cfg.port && !cfg.tls_port) {
        snprintf(err, errlen, "Configured to not listen anywhere, exiting.");
        return -1;
    }
    for (int tls = 0; tls < 2; tls++) {
        int port = tls ? cfg.tls_port : cfg.port;
        if (!port) continue;
        char *copy = strdup(cfg.bind), *save = NULL;
        if (!copy) return -1;
        for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
            int optional = *w == '-';
            if (srv.nlisten == 16) break;
            if (listen_one(optional ? w + 1 : w, port, tls, optional, err, errlen)) {
                free(copy);
                return -1;
            }
        }
        free(copy);
    }
    if (srv.nlisten == 0) {
        snprintf(err, errlen, "no address to listen on (bind '%s')", cfg.bind);
        return -1;
    }
    for (int i = 0; i < srv.nlisten; i++) {
        srv.listen_evs[i] = event_new(srv.base, srv.listen_fds[i], EV_READ | EV_PERSIST, accept_cb,
                                      &srv.listen_tls[i]);
        event_add(srv.listen_evs[i], NULL);
    }
    warn_protected_peers();
    return 0;
}

static void fmt_addr(const struct sockaddr_storage *ss, char *buf, size_t n)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s = (const void *)ss;
        inet_ntop(AF_INET, &s->sin_addr, host, sizeof(host));
        port = ntohs(s->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const void *)ss;
        inet_ntop(AF_INET6, &s->sin6_addr, host, sizeof(host));
        port = ntohs(s->sin6_port);
    }
    snprintf(buf, n, "%s:%d", host, port);
}

const char net_denied_text[] =
    "DENIED Redis is running in protected mode because protected mode is enabled and no "
    "password is set for the default user. In this mode connections are only accepted from the "
    "loopback interface. If you want to connect from external computers to Redis you may adopt "
    "one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG "
    "SET protected-mode no' from the loopback interface by connecting to Redis from the same host "
    "the server is running, however MAKE SURE Redis is not publicly accessible from internet if "
    "you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just "
    "disable the protected mode by editing the Redis configuration file, and setting the "
    "protected mode option to 'no', and then restarting the server. 3) If you started the server "
    "manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an "
    "authentication password for the default user. NOTE: You only need to do one of the above "
    "things in order for the server to start accepting connections from the outside.";

/* The error a client of a protected node gets before it is closed. */
static void write_denied(int fd)
{
    struct iovec iov[3] = {{(void *)"-", 1},
                           {(void *)net_denied_text, sizeof(net_denied_text) - 1},
                           {(void *)"\r\n", 2}};
    ssize_t w = writev(fd, iov, 3);
    (void)w;
}

/* A refusal's error line, in plain text only: a TLS client could not
 * read it before its handshake. */
static void write_refusal(int fd, int tls, const char *line, size_t len)
{
    if (tls) return;
    ssize_t w = write(fd, line, len);
    (void)w;
}

static void accept_cb(evutil_socket_t lfd, short what, void *arg)
{
    (void)what;
    int tls = *(const int *)arg;
    loopstat_busy();
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                serverLog(LL_WARNING, "Accepting client connection: %s", strerror(errno));
            return;
        }
        srv.stats.connections++;
        /* Peers are exempt from maxclients, so a full node never cuts its
         * quorum: past the limit, a connection from a member's address is
         * let in on probation, for the peer handshake only and for a short
         * time (GATE_PROBATION); likewise, in protected mode, one from a
         * member's non-loopback address (GATE_PROTECTED). */
        char host[64];
        fmt_addr(&ss, host, sizeof(host));
        *strrchr(host, ':') = '\0';
        int gate = GATE_NONE;
        if (srv.nclients - srv.npeer_clients >= cfg.maxclients) {
            if (!driver_member_host(host) || srv.nclients >= cfg.maxclients + 64) {
                static const char msg[] = "-ERR max number of clients reached\r\n";
                write_refusal(fd, tls, msg, sizeof(msg) - 1);
                srv.stats.rejected_conn++;
                close(fd);
                continue;
            }
            gate = GATE_PROBATION;
        }
        if (net_protected_mode() && !is_loopback(&ss)) {
            if (!driver_member_host(host)) {
                if (!tls) write_denied(fd);
                srv.stats.rejected_conn++;
                close(fd);
                continue;
            }
            gate = GATE_PROTECTED;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (cfg.tcp_keepalive > 0) setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
        client *c = calloc(1, sizeof(*c));
        resp_limits lim;
        resp_limits_default(&lim);
        lim.max_bulk_len = (uint64_t)cfg.proto_max_bulk_len;
        if (!c || !(c->parser = resp_parser_new(&lim)) ||
            (tls && !(c->ssl = tls_accept_conn(fd)))) {
            if (c) resp_parser_free(c->parser);
            free(c);
            close(fd);
            serverLog(LL_WARNING, "Out of memory accepting a client");
            continue;
        }
        c->id = ++srv.next_client_id;
        c->gate = gate;
        if (gate) c->gate_deadline = mono_us() / 1000 + net_hello_deadline_ms();
        c->fd = fd;
        c->proto = 2;
        c->user = acl_default_user();
        c->authenticated = acl_user_autoauth(c->user);
        resp_parser_set_unauthenticated(c->parser, !c->authenticated);
        fmt_addr(&ss, c->addr, sizeof(c->addr));
        struct sockaddr_storage ls;
        socklen_t ll = sizeof(ls);
        if (getsockname(fd, (struct sockaddr *)&ls, &ll) == 0)
            fmt_addr(&ls, c->laddr, sizeof(c->laddr));
        resp_buf_init(&c->out, 2);
        c->ctime = c->last_interaction = mstime();
        c->rev = event_new(srv.base, fd, EV_READ | EV_PERSIST, read_cb, c);
        c->wev = event_new(srv.base, fd, EV_WRITE | EV_PERSIST, write_cb, c);
        event_add(c->rev, NULL);
        c->next = srv.clients;
        if (srv.clients) srv.clients->prev = c;
        srv.clients = c;
        srv.nclients++;
        serverLog(LL_VERBOSE, "Accepted %s", c->addr);
    }
}

/* ---------------------------------------------------------------- slots */

/* Freed slots are kept (with their reply buffer) for the next ones: every
 * write and deferred read takes a slot, and malloc per command showed in
 * profiles. A slot whose buffer grew large is really freed. */
#define SLOT_POOL_MAX 4096
#define SLOT_POOL_BUF_MAX 4096
static slot *slot_pool;
static int slot_pool_n;

void slot_free(slot *s)
{
    free(s->argv); /* argv, argvlen and the bytes are one allocation */
    s->argv = NULL;
    if (slot_pool_n < SLOT_POOL_MAX && s->out.cap + s->out.off <= SLOT_POOL_BUF_MAX &&
        !s->out.oom) {
        resp_buf_reset(&s->out);
        s->next = slot_pool;
        slot_pool = s;
        slot_pool_n++;
        return;
    }
    resp_buf_free(&s->out);
    free(s);
}

void slot_done(slot *s)
{
    client *c = s->c;
    if (s->state == SLOT_READ)
        c->nreads--;
    else if (s->state == SLOT_PROXY)
        c->nproxy--;
    s->state = SLOT_DONE;
    info_slot_done(s);
    c->npending--;
    client_mark_dirty(c);
}

slot *slot_new_detached(int proto)
{
    slot *s = slot_pool;
    if (s) {
        slot_pool = s->next;
        slot_pool_n--;
        resp_buf keep = s->out;
        memset(s, 0, sizeof(*s));
        s->out = keep;
        s->out.proto = proto;
        return s;
    }
    s = calloc(1, sizeof(*s));
    if (!s) {
        serverLog(LL_WARNING, "Out of memory allocating a reply slot");
        exit(1);
    }
    resp_buf_init(&s->out, proto);
    return s;
}

slot *client_new_slot(client *c, int state)
{
    slot *s = slot_new_detached(c->proto);
    s->state = state;
    s->c = c;
    c->force_slot = 0;
    if (c->tail)
        c->tail->next = s;
    else
        c->head = s;
    c->tail = s;
    if (state != SLOT_DONE) c->npending++;
    return s;
}

resp_buf *client_reply_buf(client *c)
{
    if (c->force_slot) return &client_new_slot(c, SLOT_DONE)->out;
    if (!c->head) {
        c->out.proto = c->proto;
        return &c->out;
    }
    slot *t = c->tail;
    if (t->state == SLOT_DONE && t->out.proto == c->proto && !t->mute) return &t->out;
    return &client_new_slot(c, SLOT_DONE)->out;
}

resp_buf *client_push_buf(client *c)
{
    slot *last_done = NULL;
    for (slot *s = c->head; s; s = s->next)
        if (s->state == SLOT_DONE) last_done = s;
    if (!c->head || (!last_done && !c->force_slot)) {
        c->out.proto = c->proto;
        return &c->out;
    }
    if (!last_done || last_done == c->tail) return client_reply_buf(c);
    if (last_done->out.proto == c->proto && !last_done->mute) return &last_done->out;
    /* A slot of its own right after last_done. */
    slot *tail = c->tail;
    slot *s = client_new_slot(c, SLOT_DONE);
    tail->next = NULL;
    c->tail = tail;
    s->next = last_done->next;
    last_done->next = s;
    return &s->out;
}

resp_buf *client_push_before_pending(client *c)
{
    if (!c->npending) return client_reply_buf(c);
    slot *prev = NULL, *s = c->head;
    while (s && s->state == SLOT_DONE) {
        prev = s;
        s = s->next;
    }
    if (!s) return client_reply_buf(c);
    if (!prev) { /* the output buffer is before every slot */
        c->out.proto = c->proto;
        return &c->out;
    }
    if (prev->out.proto == c->proto && !prev->wrap && !prev->mute) return &prev->out;
    /* A slot of its own between prev and s (client_new_slot links it at
     * the tail: unlink it from there). */
    slot *tail = c->tail;
    slot *n = client_new_slot(c, SLOT_DONE);
    tail->next = NULL;
    c->tail = tail;
    n->next = s;
    prev->next = n;
    return &n->out;
}

void client_mark_dirty(client *c)
{
    if (c->on_dirty) return;
    c->on_dirty = 1;
    c->wnext_dirty = srv.dirty;
    srv.dirty = c;
}

/* -------------------------------------------------------------- freeing */

static void unlink_pending(client *c)
{
    if (!(c->flags & CF_PENDING_INPUT)) return;
    for (client **pp = &srv.pending_input; *pp; pp = &(*pp)->pnext)
        if (*pp == c) {
            *pp = c->pnext;
            break;
        }
    c->flags &= ~CF_PENDING_INPUT;
}

void client_free(client *c)
{
    serverLog(LL_VERBOSE, "Client closed connection id=%llu addr=%s", (unsigned long long)c->id,
              c->addr);
    unlink_pending(c);
    clientcmd_client_gone(c);
    blocking_client_gone(c);
    migrate_client_gone(c);
    pubsub_client_gone(c);
    tracking_client_gone(c);
    diag_client_gone(c);
    watch_clear(c);
    if (c->on_dirty)
        for (client **pp = &srv.dirty; *pp; pp = &(*pp)->wnext_dirty)
            if (*pp == c) {
                *pp = c->wnext_dirty;
                break;
            }
    for (slot *s = c->head, *n; s; s = n) {
        n = s->next;
        if (s->state == SLOT_WRITE || s->state == SLOT_PROXY ||
            (s->state == SLOT_READ && s->batch)) {
            /* The write path frees it once its entry applies, or its
             * ReadIndex round ends. */
            s->c = NULL;
            s->next = NULL;
        } else {
            slot_free(s);
        }
    }
    for (int i = 0; i < c->mq_len; i++)
        free(c->mq[i].argv);
    free(c->mq);
    event_free(c->rev);
    event_free(c->wev);
    tls_close(c->ssl);
    close(c->fd);
    resp_parser_free(c->parser);
    resp_buf_free(&c->out);
    free(c->name);
    free(c->lib_name);
    free(c->lib_ver);
    free(c->hello);
    if (c->peer_id) srv.npeer_clients--;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv.clients = c->next;
    if (c->next) c->next->prev = c->prev;
    srv.nclients--;
    free(c);
}

/* -------------------------------------------------------------- reading */

/* Runs up to PASS_BUDGET commands already fed to the parser. Returns -1
 * when the client was freed. */
static int process_input(client *c)
{
    resp_cmd cmd;
    int budget = PASS_BUDGET;
    /* A blocked client's next commands (QUIT and RESET too) wait until it is
     * unblocked, as in Redis: blocking.c resumes it; so do those after a
     * command a CLIENT PAUSE holds (clientcmd.c resumes it). */
    while (!(c->flags & (CF_CLOSE_AFTER_REPLY | CF_CLOSE_ASAP)) && !c->blk &&
           !(c->opmode & CM_HELD) && !c->migrating && !(c->flags & CF_WATCH_WAIT)) {
        if (budget-- == 0) {
            if (!(c->flags & CF_PENDING_INPUT)) {
                c->flags |= CF_PENDING_INPUT;
                c->pnext = srv.pending_input;
                srv.pending_input = c;
            }
            break;
        }
        int rc = resp_parser_next(c->parser, &cmd);
        if (rc == RESP_NEED_MORE) break;
        if (rc == RESP_CMD) {
            clientcmd_run(c, cmd.argc, cmd.argv, cmd.argvlen);
            continue;
        }
        const char *msg =
            rc == RESP_NOMEM ? "Protocol error: out of memory" : resp_parser_error(c->parser);
        serverLog(LL_VERBOSE, "Protocol error (%s) from client: id=%llu addr=%s", msg,
                  (unsigned long long)c->id, c->addr);
        resp_add_errorf(client_reply_buf(c), "ERR %s", msg);
        c->flags |= CF_CLOSE_AFTER_REPLY;
        break;
    }
    client_mark_dirty(c);
    return 0;
}

/* The connection layer: plain read/write, or TLS on the tls-port's
 * clients. Returns bytes moved; 0 when the client closed; -1 on an error
 * (logged); -2 when it must wait (for TLS, the wait is arranged). */
static ssize_t conn_read(client *c, void *buf, size_t n)
{
    if (!c->ssl) {
        ssize_t r = read(c->fd, buf, n);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return -2;
        if (r < 0) serverLog(LL_VERBOSE, "Reading from client: %s", strerror(errno));
        return r;
    }
    char err[256];
    int want;
    ssize_t r = tls_read(c->ssl, buf, n, &want, err, sizeof(err));
    if (r == -2 && want == TLS_WANT_WRITE) {
        c->tls_wait |= TW_READ_NEEDS_WRITE;
        event_add(c->wev, NULL);
    }
    if (r == -1) serverLog(LL_VERBOSE, "Error reading from TLS client %s: %s", c->addr, err);
    return r;
}

static ssize_t conn_write(client *c, const void *buf, size_t n)
{
    if (!c->ssl) {
        ssize_t r = write(c->fd, buf, n);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return -2;
        if (r < 0) serverLog(LL_VERBOSE, "Error writing to client: %s", strerror(errno));
        return r;
    }
    char err[256];
    int want;
    ssize_t r = tls_write(c->ssl, buf, n, &want, err, sizeof(err));
    if (r == -2 && want == TLS_WANT_READ) c->tls_wait |= TW_WRITE_NEEDS_READ;
    if (r == 0) r = -1; /* closed while writing */
    if (r == -1) serverLog(LL_VERBOSE, "Error writing to TLS client %s: %s", c->addr, err);
    return r;
}

static int client_flush(client *c);
static int client_read(client *c);

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    client *c = arg;
    if (c->tls_wait & TW_WRITE_NEEDS_READ) {
        c->tls_wait &= ~TW_WRITE_NEEDS_READ;
        if (client_flush(c) < 0) return;
    }
    client_read(c);
}

/* Reads what the socket has (and, for TLS, what OpenSSL already holds:
 * the socket will not signal those bytes again) and runs what parses.
 * Returns -1 when the client was freed. */
static int client_read(client *c)
{
    char buf[READ_CHUNK];
    loopstat_busy();
    if (c->flags & (CF_CLOSE_AFTER_REPLY | CF_CLOSE_ASAP)) {
        /* Input after a fatal protocol error is ignored, as Redis does. */
        ssize_t n;
        do
            n = conn_read(c, buf, sizeof(buf));
        while (n > 0 && c->ssl && tls_pending(c->ssl));
        if (n == 0 || n == -1) {
            client_free(c);
            return -1;
        }
        return 0;
    }
    size_t total = 0;
    for (;;) {
        ssize_t n = conn_read(c, buf, sizeof(buf));
        if (n == -2) break;
        if (n <= 0) {
            client_free(c);
            return -1;
        }
        total += (size_t)n;
        if (feed_input(c, buf, (size_t)n) < 0) return -1;
        /* TLS: go on while OpenSSL holds bytes (the socket will
         * not say), or while full records come, up to a plain read's worth;
         * the rest is the next read event's. */
        if (!c->ssl ||
            (!tls_pending(c->ssl) && (total >= READ_CHUNK || (size_t)n < TLS_RECORD_MAX)))
            break;
    }
    if (!total) return 0;
    if (c->flags & CF_PENDING_INPUT) return 0; /* end_of_pass runs it in turn */
    process_input(c);
    return 0;
}

/* Hands n bytes read from c to its parser. Returns -1 when the client was
 * freed (out of memory, or past its query buffer limit). */
static int feed_input(client *c, const char *buf, size_t n)
{
    srv.stats.net_in += (uint64_t)n;
    c->last_interaction = mstime();
    if (resp_parser_feed(c->parser, buf, n)) {
        serverLog(LL_WARNING, "Out of memory buffering input from %s; closing it", c->addr);
        client_free(c);
        return -1;
    }
    /* One client's unparsed input is bounded, as in Redis. Peers are exempt:
     * what they send is bounded by their transport's queue. */
    size_t qbuf = resp_parser_pending(c->parser);
    if (!c->peer_id && qbuf > (size_t)cfg.client_query_buffer_limit) {
        serverLog(LL_WARNING,
                  "Closing client that reached max query buffer length: id=%llu addr=%s "
                  "(qbuf %zu bytes)",
                  (unsigned long long)c->id, c->addr, qbuf);
        client_free(c);
        return -1;
    }
    return 0;
}

void client_resume_input(client *c)
{
    if (c->flags & CF_PENDING_INPUT) return;
    c->flags |= CF_PENDING_INPUT;
    c->pnext = srv.pending_input;
    srv.pending_input = c;
}

void clients_process_pending(void)
{
    client *list = srv.pending_input;
    srv.pending_input = NULL;
    while (list) {
        client *c = list;
        list = c->pnext;
        c->flags &= ~CF_PENDING_INPUT;
        process_input(c);
    }
}

/* -------------------------------------------------------------- writing */

/* The bytes of c's replies not yet written: its output buffer and every
 * slot's reply. A deep pipeline (redis-cli --pipe keeps 50,000 writes in
 * flight) has that many slots, and walking them at each flush took a
 * quarter of the leader's CPU under such a load (a cache miss a slot); so
 * a list longer than OBUF_WALK_SLOTS is walked at most once per
 * OBUF_WALK_MS for each OBUF_WALK_SLOTS slots it had (50,000 slots: every
 * 20 s, on the pass clock), the slots' last sum standing in between. The output buffer
 * itself is always exact, and the slots of a pipeline of writes are empty
 * until their turn to be sent comes. */
#define OBUF_WALK_SLOTS 256
#define OBUF_WALK_MS 100
static size_t client_obuf_size(client *c)
{
    int64_t now = pass_clock_us() / 1000;
    if (c->obuf_walk_slots > OBUF_WALK_SLOTS &&
        now - c->obuf_walk_ms < OBUF_WALK_MS * (int64_t)(c->obuf_walk_slots / OBUF_WALK_SLOTS))
        return c->out.len + c->obuf_slot_bytes;
    c->obuf_walk_ms = now;
    size_t n = 0, k = 0;
    for (slot *s = c->head; s; s = s->next, k++)
        n += s->out.len;
    c->obuf_slot_bytes = n;
    c->obuf_walk_slots = k;
    return c->out.len + n;
}

/* Redis's client classes: a client with subscriptions is a pubsub client
 * (client-output-buffer-limit pubsub), any other a normal one. */
static int check_obuf_limit(client *c, size_t size)
{
    int64_t now = mstime();
    int over = 0;
    int ps = pubsub_count(c);
    long long hard = ps ? cfg.obuf_pubsub_hard : cfg.obuf_hard;
    long long soft = ps ? cfg.obuf_pubsub_soft : cfg.obuf_soft;
    int secs = ps ? cfg.obuf_pubsub_soft_seconds : cfg.obuf_soft_seconds;
    if (hard && size >= (size_t)hard) over = 1;
    if (soft && size >= (size_t)soft) {
        if (!c->obuf_soft_since)
            c->obuf_soft_since = now;
        else if (now - c->obuf_soft_since > (int64_t)secs * 1000)
            over = 1;
    } else {
        c->obuf_soft_since = 0;
    }
    if (over) {
        serverLog(LL_WARNING,
                  "Client id=%llu addr=%s scheduled to be closed ASAP for overcoming of output "
                  "buffer limits.",
                  (unsigned long long)c->id, c->addr);
        c->flags |= CF_CLOSE_ASAP;
    }
    return over;
}

/* Moves done head slots to the output buffer and writes what it can.
 * Returns -1 when the client was freed. */
static int client_flush(client *c)
{
    while (c->head && c->head->state == SLOT_DONE) {
        slot *s = c->head;
        if (s->mute) {
            /* CLIENT REPLY OFF or SKIP: not sent */
        } else if (s->wrap) { /* a proxied reply travels encoded, as one bulk string */
            char hdr[32];
            int n = snprintf(hdr, sizeof(hdr), "$%zu\r\n", s->out.len);
            resp_add_raw(&c->out, hdr, (size_t)n);
            resp_add_raw(&c->out, s->out.p, s->out.len);
            resp_add_raw(&c->out, "\r\n", 2);
        } else {
            resp_add_raw(&c->out, s->out.p, s->out.len);
        }
        c->head = s->next;
        if (!c->head) c->tail = NULL;
        slot_free(s);
    }
    if (c->out.oom) c->flags |= CF_CLOSE_ASAP;
    if (!(c->flags & CF_CLOSE_ASAP) && !c->peer_id) check_obuf_limit(c, client_obuf_size(c));
    if (c->flags & CF_CLOSE_ASAP) {
        client_free(c);
        return -1;
    }
    while (c->out.len && !(c->tls_wait & TW_WRITE_NEEDS_READ)) {
        ssize_t n = conn_write(c, c->out.p, c->out.len);
        if (n == -2) break;
        if (n < 0) {
            client_free(c);
            return -1;
        }
        srv.stats.net_out += (uint64_t)n;
        resp_buf_consume(&c->out, (size_t)n);
    }
    if (c->out.len) {
        /* A TLS write waiting for input resumes from read_cb. */
        if (c->tls_wait & TW_WRITE_NEEDS_READ)
            event_del(c->wev);
        else
            event_add(c->wev, NULL);
        return 0;
    }
    if (!(c->tls_wait & TW_READ_NEEDS_WRITE)) event_del(c->wev);
    if (c->out.cap > 1024 * 1024) { /* give back a buffer a big reply grew */
        resp_buf_free(&c->out);
        resp_buf_init(&c->out, c->proto);
    }
    if ((c->flags & CF_CLOSE_AFTER_REPLY) && !c->head) {
        client_free(c);
        return -1;
    }
    return 0;
}

static void write_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    loopstat_busy();
    client *c = arg;
    if (c->tls_wait & TW_READ_NEEDS_WRITE) {
        c->tls_wait &= ~TW_READ_NEEDS_WRITE;
        if (client_read(c) < 0) return;
    }
    client_flush(c);
}

void clients_flush(void)
{
    client *list = srv.dirty;
    srv.dirty = NULL;
    while (list) {
        client *c = list;
        list = c->wnext_dirty;
        c->on_dirty = 0;
        if ((c->flags & CF_WATCH_WAIT) && !c->npending) watch_resume(c);
        client_flush(c);
    }
}

void clients_cron(void)
{
    int64_t now = mstime(), mono = mono_us() / 1000;
    for (client *c = srv.clients, *n; c; c = n) {
        n = c->next;
        if (c->gate && mono > c->gate_deadline) {
            /* Probation slots are few (64): one that never speaks must not
             * hold one for good. */
            serverLog(LL_VERBOSE, "Closing %s: no peer handshake within %lld ms", c->addr,
                      (long long)net_hello_deadline_ms());
            client_free(c);
            continue;
        }
        if (cfg.timeout && !c->npending && !c->peer_id && !diag_is_monitor(c) &&
            !(c->opmode & CM_HELD) && now - c->last_interaction > (int64_t)cfg.timeout * 1000) {
            serverLog(LL_VERBOSE, "Closing idle client");
            client_free(c);
            continue;
        }
        if (c->out.len || c->head) client_mark_dirty(c);
    }
}
