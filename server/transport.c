/* transport.c -- outgoing peer connections (see transport.h).
 *
 * Each peer's connection is a server/peerconn.h connection (plain or TLS);
 * this file adds the handshake, the queue, the timers and the states:
 *
 * - One libevent timer per peer serves as the connect timer, the liveness
 *   timer or the backoff timer, depending on the peer's state; the queue
 *   bound counts the bytes still in the connection's output buffer.
 * - Commands are written at once by transport_flush() and
 *   transport_call(), once per peer per pass; inside one of the
 *   connection's callbacks (on_connected, on_unreachable and on_reply run
 *   there) peerconn defers the write to the next writable event.
 * - Every connection the transport closes is forgotten first (p->pc =
 *   NULL): the reply callbacks peerconn then runs with a NULL reply do
 *   nothing, and nothing else of that connection runs.
 * - A reply nobody asked for closes the connection (peerconn checks it
 *   after every reply); so do bytes that follow the answer to RAFT.HELLO
 *   or RAFT.AUTH before the next command goes out (checked here).
 */
#include "server/transport.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <openssl/crypto.h>

#include "server/peerauth.h"
#include "server/peerconn.h"

#define DEFAULT_CONNECT_MS 1000
#define DEFAULT_LIVENESS_MS 1000
#define DEFAULT_BACKOFF_START_MS 50
#define DEFAULT_BACKOFF_MAX_MS 2000
#define DEFAULT_QUEUE_BOUND ((size_t)64 << 20)

typedef struct tpeer tpeer;

struct tpeer {
    transport *t;
    uint64_t id;
    char *host;
    int port;
    int state;
    peerconn *pc;         /* NULL when IDLE */
    struct event *timer;  /* connect / liveness / backoff, by state */
    int backoff_ms;       /* delay before the next attempt after a failure */
    int64_t since;        /* liveness: last reply, or first outstanding send */
    uint64_t outstanding; /* RAFT.MSG commands without a reply */
    int64_t acked_send;   /* when the last RAFT.MSG (not RAFT.MSGQ) went */
    peerauth_client auth; /* the handshake of the current connection */
    int hello_argc;       /* 5: the hello carried cfg.advertise; 4: it did not */
    int old_hello;        /* the peer refused the 5-word hello: an older version */
    uint64_t attempts;
    int failures; /* attempts failed since the last READY (the first is logged louder) */
    /* Messages waiting for transport_flush(), qn of them, in qbuf as the
     * RESP bulk strings they go out as ("$<len>\r\n<msg>\r\n"): the flush
     * puts the RAFT.MSG header before them and copies them once into the
     * connection's output buffer. qbytes counts the messages' own bytes. */
    char *qbuf;
    size_t qused, qcap, qbytes;
    size_t qn;
    uint64_t sent, dropped, unreachables;
};

struct transport {
    struct event_base *base;
    transport_config cfg; /* strings below are the copies */
    char *bind_addr, *cluster_id, *secret, *advertise;
    tpeer *peers;
    size_t npeers;
};

/* Tags for the reply callbacks' privdata. */
static int tag_hello, tag_auth, tag_msg;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void tlog(const transport *t, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void tlog(const transport *t, int level, const char *fmt, ...)
{
    if (!t->cfg.log) return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    t->cfg.log(t->cfg.ctx, level, buf);
}

static void arm(tpeer *p, int64_t ms)
{
    if (ms < 0) ms = 0;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    evtimer_add(p->timer, &tv);
}

static size_t obuf_len(const tpeer *p)
{
    return p->pc ? peerconn_unsent(p->pc) : 0;
}

/* The queue is empty: a buffer that grew past PEERCONN_RETAIN_BYTES for a
 * burst goes back, so a peer that was once slow does not pin it. */
static void release_queue(tpeer *p)
{
    if (p->qcap > PEERCONN_RETAIN_BYTES) {
        free(p->qbuf);
        p->qbuf = NULL;
        p->qcap = 0;
    }
}

static void drop_queue(tpeer *p)
{
    p->dropped += p->qn;
    p->qn = 0;
    p->qused = 0;
    p->qbytes = 0;
    release_queue(p);
}

/* Describes a reply for a log line. */
static void describe(const redisReply *r, char *buf, size_t len)
{
    switch (r->type) {
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR: {
        /* The peer's text, printable bytes only, into our log. */
        size_t n = 0;
        if (len > 1) buf[n++] = r->type == REDIS_REPLY_STATUS ? '+' : '-';
        for (size_t i = 0; i < r->len && i < 200 && n + 1 < len; i++)
            buf[n++] = r->str[i] >= 0x20 && r->str[i] < 0x7f ? r->str[i] : '?';
        if (len) buf[n] = '\0';
        break;
    }
    case REDIS_REPLY_STRING:
        snprintf(buf, len, "a bulk string of %zu bytes", r->len);
        break;
    case REDIS_REPLY_INTEGER:
        snprintf(buf, len, "the integer %lld", r->integer);
        break;
    case REDIS_REPLY_ARRAY:
        snprintf(buf, len, "an array of %zu elements", r->elements);
        break;
    case REDIS_REPLY_NIL:
        snprintf(buf, len, "a nil");
        break;
    default:
        snprintf(buf, len, "a reply of type %d", r->type);
        break;
    }
}

static int is_ok(const redisReply *r)
{
    return r->type == REDIS_REPLY_STATUS && r->len == 2 && memcmp(r->str, "OK", 2) == 0;
}

/* ------------------------------------------------- connection lifecycle */

/* Forgets p's connection and frees it (peerconn defers the memory when
 * this runs inside one of its callbacks). */
static void conn_close(tpeer *p)
{
    peerconn *pc = p->pc;
    if (!pc) return;
    p->pc = NULL;
    peerconn_free(pc);
}

/* The connection is gone or must go: log why, close it if still open, drop
 * what was queued, report a lost READY connection, and schedule the next
 * attempt after the current backoff. */
static void peer_down(tpeer *p, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void peer_down(tpeer *p, int level, const char *fmt, ...)
{
    transport *t = p->t;
    char why[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    int was_ready = p->state == TRANSPORT_READY;
    tlog(t, level, "peer %" PRIu64 " (%s:%d): %s; next attempt in %d ms", p->id, p->host, p->port,
         why, p->backoff_ms);
    conn_close(p);
    drop_queue(p);
    p->outstanding = 0;
    p->state = TRANSPORT_IDLE;
    arm(p, p->backoff_ms);
    p->backoff_ms =
        p->backoff_ms > t->cfg.backoff_max_ms / 2 ? t->cfg.backoff_max_ms : p->backoff_ms * 2;
    if (was_ready) {
        p->unreachables++;
        if (t->cfg.on_unreachable) t->cfg.on_unreachable(t->cfg.ctx, p->id);
    }
}

/* A peer that stays down would fill the log: the first failed attempt in
 * a row is a notice, the rest are verbose. */
static int fail_level(tpeer *p)
{
    return p->failures++ == 0 ? TRANSPORT_LOG_NOTICE : TRANSPORT_LOG_VERBOSE;
}

/* After the answer to RAFT.HELLO or RAFT.AUTH, before the next command
 * goes out: anything left unparsed was not asked for. Returns 1 when it
 * closed the connection. */
static int check_unsolicited(tpeer *p)
{
    if (p->pc && peerconn_waiting(p->pc) == 0 && peerconn_has_unparsed(p->pc)) {
        peer_down(p, TRANSPORT_LOG_WARNING, "unsolicited reply from the peer; closing");
        return 1;
    }
    return 0;
}

static void on_auth_reply(void *owner, void *priv, redisReply *r);
static void on_hello_reply(void *owner, void *priv, redisReply *r);

/* Queues RAFT.HELLO on p's connection (p->auth drawn already): with this
 * node's address as a 5th word, unless there is none to send or the peer
 * is an older version that refuses it. -1 when it could not be queued. */
static int send_hello(tpeer *p)
{
    transport *t = p->t;
    const char *argv[5];
    size_t argvlen[5];
    memcpy(argv, p->auth.argv, sizeof(p->auth.argv));
    memcpy(argvlen, p->auth.argvlen, sizeof(p->auth.argvlen));
    p->hello_argc = 4;
    if (t->advertise && !p->old_hello) {
        argv[4] = t->advertise;
        argvlen[4] = strlen(t->advertise);
        p->hello_argc = 5;
    }
    return peerconn_command(p->pc, on_hello_reply, &tag_hello, p->hello_argc, argv, argvlen);
}

/* An older version's answer to a 5-word RAFT.HELLO: its fixed arity. */
static int is_arity_error(const redisReply *r)
{
    static const char want[] = "ERR wrong number of arguments for 'raft.hello' command";
    return r->type == REDIS_REPLY_ERROR && r->len == sizeof(want) - 1 &&
           memcmp(r->str, want, sizeof(want) - 1) == 0;
}

/* The answer to RAFT.HELLO: the peer's proof is checked before ours goes
 * out (peerauth.h), so a node that does not know the secret learns
 * nothing it could use. */
static void on_hello_reply(void *owner, void *priv, redisReply *r)
{
    (void)priv;
    tpeer *p = owner;
    if (!r) return; /* the connection is being freed */
    if (p->hello_argc == 5 && is_arity_error(r)) {
        /* Rolling upgrade: the peer does not take the address. It is a
         * member already (only a join node needs it, and it runs this
         * version), so the same hello without it, on this connection, and
         * on every later one to this peer. */
        p->old_hello = 1;
        tlog(p->t, TRANSPORT_LOG_NOTICE,
             "peer %" PRIu64 " (%s:%d): an older version; RAFT.HELLO without this node's address",
             p->id, p->host, p->port);
        if (check_unsolicited(p)) return;
        if (send_hello(p) != 0)
            peer_down(p, TRANSPORT_LOG_WARNING, "could not queue RAFT.HELLO");
        else
            peerconn_flush(p->pc);
        return;
    }
    char why[256];
    if (peerauth_client_check(&p->auth, r, why, sizeof(why)) != 0) {
        peer_down(p, TRANSPORT_LOG_WARNING, "RAFT.HELLO refused: %s", why);
        return;
    }
    if (check_unsolicited(p)) return;
    if (peerconn_command(p->pc, on_auth_reply, &tag_auth, 2, p->auth.argv, p->auth.argvlen) != 0)
        peer_down(p, TRANSPORT_LOG_WARNING, "could not queue RAFT.AUTH");
    else
        peerconn_flush(p->pc);
}

static void on_auth_reply(void *owner, void *priv, redisReply *r)
{
    (void)priv;
    tpeer *p = owner;
    if (!r) return;
    transport *t = p->t;
    if (!is_ok(r)) {
        char d[256];
        describe(r, d, sizeof(d));
        peer_down(p, TRANSPORT_LOG_WARNING, "RAFT.AUTH refused: %s", d);
        return;
    }
    /* Checked while still CONNECTING: a failed handshake, not a lost peer. */
    if (check_unsolicited(p)) return;
    p->state = TRANSPORT_READY;
    p->outstanding = 0;
    p->acked_send = INT64_MIN / 2; /* the first RAFT.MSG is acknowledged */
    p->failures = 0;
    evtimer_del(p->timer);
    tlog(t, TRANSPORT_LOG_NOTICE, "peer %" PRIu64 " (%s:%d): connected", p->id, p->host, p->port);
    if (t->cfg.on_connected) t->cfg.on_connected(t->cfg.ctx, p->id);
}

/* A command was answered: the liveness clock restarts, or stops when
 * nothing is outstanding any more. */
static void got_reply(tpeer *p)
{
    if (p->outstanding > 0) p->outstanding--;
    p->since = now_ms();
    if (p->outstanding > 0)
        arm(p, p->t->cfg.liveness_timeout_ms);
    else
        evtimer_del(p->timer);
}

static void on_msg_reply(void *owner, void *priv, redisReply *r)
{
    (void)priv;
    tpeer *p = owner;
    if (!r) return;
    if (!is_ok(r)) {
        char d[256];
        describe(r, d, sizeof(d));
        peer_down(p, TRANSPORT_LOG_WARNING, "RAFT.MSG answered %s; closing", d);
        return;
    }
    p->backoff_ms = p->t->cfg.backoff_start_ms; /* the peer takes our messages */
    got_reply(p);
}

static void on_call_reply(void *owner, void *priv, redisReply *r)
{
    tpeer *p = owner;
    if (!r) return; /* the connection was lost: on_unreachable told the owner */
    transport *t = p->t;
    if (r->type != REDIS_REPLY_INTEGER && r->type != REDIS_REPLY_ERROR) {
        char d[256];
        describe(r, d, sizeof(d));
        peer_down(p, TRANSPORT_LOG_WARNING, "a call answered %s; closing", d);
        return;
    }
    got_reply(p);
    uint64_t tag = (uint64_t)(uintptr_t)priv;
    if (t->cfg.on_reply) {
        if (r->type == REDIS_REPLY_INTEGER)
            t->cfg.on_reply(t->cfg.ctx, p->id, tag, r->integer, NULL, 0);
        else
            t->cfg.on_reply(t->cfg.ctx, p->id, tag, 0, r->str, r->len);
    }
}

/* TCP is up (TLS handshakes with the first write): RAFT.HELLO goes. */
static void on_conn_up(void *owner)
{
    tpeer *p = owner;
    transport *t = p->t;
    if (peerauth_client_hello(&p->auth, t->secret, t->cluster_id, t->cfg.self_id, p->id) != 0 ||
        send_hello(p) != 0)
        tlog(t, TRANSPORT_LOG_WARNING,
             "peer %" PRIu64 ": could not start RAFT.HELLO; waiting for the connect timeout",
             p->id);
}

static void on_conn_closed(void *owner, int why, const char *text)
{
    tpeer *p = owner;
    if (why == PEERCONN_CONNECT_FAILED)
        peer_down(p, fail_level(p), "connect failed: %s", text);
    else if (why == PEERCONN_PROTOCOL)
        peer_down(p, TRANSPORT_LOG_WARNING, "%s", text);
    else if (p->state == TRANSPORT_CONNECTING) /* e.g. a TLS handshake refused */
        peer_down(p, fail_level(p), "connection lost: %s", text);
    else
        peer_down(p, TRANSPORT_LOG_NOTICE, "connection lost: %s", text);
}

static void peer_connect(tpeer *p)
{
    transport *t = p->t;
    p->attempts++;
    p->state = TRANSPORT_CONNECTING;
    p->outstanding = 0;
    peerconn_config pcfg = {.host = p->host,
                            .port = p->port,
                            .bind_addr = t->bind_addr,
                            .tls = t->cfg.tls,
                            .owner = p,
                            .on_connect = on_conn_up,
                            .on_close = on_conn_closed};
    char err[256];
    p->pc = peerconn_new(t->base, &pcfg, err, sizeof(err));
    if (!p->pc) {
        peer_down(p, fail_level(p), "connect failed: %s", err);
        return;
    }
    arm(p, t->cfg.connect_timeout_ms);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    tpeer *p = arg;
    transport *t = p->t;
    switch (p->state) {
    case TRANSPORT_IDLE:
        peer_connect(p);
        break;
    case TRANSPORT_CONNECTING:
        peer_down(p, fail_level(p), "not connected within %d ms", t->cfg.connect_timeout_ms);
        break;
    case TRANSPORT_READY: {
        if (p->outstanding == 0) break;
        int64_t idle = now_ms() - p->since;
        if (idle >= t->cfg.liveness_timeout_ms && p->pc) {
            /* This process may have been the one stalled (a long fsync):
             * replies already in the socket count before the verdict. */
            peerconn_poll(p->pc);
            if (p->state != TRANSPORT_READY || p->outstanding == 0) break;
            idle = now_ms() - p->since;
        }
        if (idle >= t->cfg.liveness_timeout_ms)
            peer_down(p, TRANSPORT_LOG_NOTICE, "no reply for %" PRId64 " ms; treating as dead",
                      idle);
        else
            arm(p, t->cfg.liveness_timeout_ms - idle);
        break;
    }
    }
}

/* ------------------------------------------------------------ public API */

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static int config_check(const transport_config *cfg, char *err, size_t errlen)
{
    if (!cfg->self_id) return snprintf(err, errlen, "the node id must be nonzero"), -1;
    if (!cfg->cluster_id || !cfg->cluster_id[0])
        return snprintf(err, errlen, "a cluster id is required"), -1;
    if (!cfg->secret || !cfg->secret[0])
        return snprintf(err, errlen, "a cluster secret is required"), -1;
    if (cfg->npeers && !cfg->peers) return snprintf(err, errlen, "peers missing"), -1;
    for (size_t i = 0; i < cfg->npeers; i++) {
        const transport_peer_config *pc = &cfg->peers[i];
        if (!pc->id || pc->id == cfg->self_id)
            return snprintf(err, errlen, "peer %zu: bad id %" PRIu64, i, pc->id), -1;
        if (!pc->host || !pc->host[0] || strlen(pc->host) > 255)
            return snprintf(err, errlen, "peer %" PRIu64 ": bad host", pc->id), -1;
        if (pc->port < 1 || pc->port > 65535)
            return snprintf(err, errlen, "peer %" PRIu64 ": bad port %d", pc->id, pc->port), -1;
        for (size_t j = 0; j < i; j++)
            if (cfg->peers[j].id == pc->id)
                return snprintf(err, errlen, "peer id %" PRIu64 " appears twice", pc->id), -1;
    }
    return 0;
}

transport *transport_new(struct event_base *base, const transport_config *cfg)
{
    char err[200];
    if (!base || !cfg) return NULL;
    if (config_check(cfg, err, sizeof(err)) != 0) {
        if (cfg->log) {
            char line[260];
            snprintf(line, sizeof(line), "transport: %s", err);
            cfg->log(cfg->ctx, TRANSPORT_LOG_WARNING, line);
        }
        return NULL;
    }
    transport *t = calloc(1, sizeof(*t));
    if (!t) return NULL;
    t->base = base;
    t->cfg = *cfg;
    t->cfg.peers = NULL;
    if (t->cfg.connect_timeout_ms <= 0) t->cfg.connect_timeout_ms = DEFAULT_CONNECT_MS;
    if (t->cfg.liveness_timeout_ms <= 0) t->cfg.liveness_timeout_ms = DEFAULT_LIVENESS_MS;
    if (t->cfg.backoff_start_ms <= 0) t->cfg.backoff_start_ms = DEFAULT_BACKOFF_START_MS;
    if (t->cfg.backoff_max_ms <= 0) t->cfg.backoff_max_ms = DEFAULT_BACKOFF_MAX_MS;
    if (t->cfg.backoff_max_ms < t->cfg.backoff_start_ms)
        t->cfg.backoff_max_ms = t->cfg.backoff_start_ms;
    if (t->cfg.queue_bound == 0) t->cfg.queue_bound = DEFAULT_QUEUE_BOUND;
    t->cluster_id = dupstr(cfg->cluster_id);
    t->secret = dupstr(cfg->secret);
    t->bind_addr = cfg->bind_addr && cfg->bind_addr[0] ? dupstr(cfg->bind_addr) : NULL;
    t->advertise = cfg->advertise && cfg->advertise[0] ? dupstr(cfg->advertise) : NULL;
    /* A fixed array: timers and connections hold pointers to their peer,
     * so a peer added at runtime takes a free slot and never moves the
     * others. */
    t->peers =
        cfg->npeers <= TRANSPORT_MAX_PEERS ? calloc(TRANSPORT_MAX_PEERS, sizeof(*t->peers)) : NULL;
    if (!t->cluster_id || !t->secret || (cfg->bind_addr && cfg->bind_addr[0] && !t->bind_addr) ||
        (cfg->advertise && cfg->advertise[0] && !t->advertise) || !t->peers)
        goto err_after_alloc;
    t->npeers = cfg->npeers;
    for (size_t i = 0; i < t->npeers; i++) {
        tpeer *p = &t->peers[i];
        p->t = t;
        p->id = cfg->peers[i].id;
        p->port = cfg->peers[i].port;
        p->backoff_ms = t->cfg.backoff_start_ms;
        p->host = dupstr(cfg->peers[i].host);
        p->timer = evtimer_new(base, on_timer, p);
        if (!p->host || !p->timer) goto err_after_alloc;
    }
    for (size_t i = 0; i < t->npeers; i++)
        peer_connect(&t->peers[i]);
    return t;

err_after_alloc:
    transport_free(t);
    return NULL;
}

void transport_free(transport *t)
{
    if (!t) return;
    /* The reply callbacks peerconn runs while freeing get NULL and return;
     * the user's callbacks are not invoked. */
    for (size_t i = 0; t->peers && i < t->npeers; i++) {
        tpeer *p = &t->peers[i];
        conn_close(p);
        if (p->timer) event_free(p->timer);
        free(p->host);
        free(p->qbuf);
    }
    free(t->peers);
    free(t->cluster_id);
    if (t->secret) OPENSSL_cleanse(t->secret, strlen(t->secret));
    free(t->secret);
    free(t->bind_addr);
    free(t->advertise);
    free(t);
}

static tpeer *find_peer(transport *t, uint64_t id)
{
    for (size_t i = 0; id && i < t->npeers; i++)
        if (t->peers[i].id == id) return &t->peers[i];
    return NULL;
}

int transport_add_peer(transport *t, uint64_t id, const char *host, int port)
{
    if (!id || id == t->cfg.self_id || !host || !host[0] || strlen(host) > 255 || port < 1 ||
        port > 65535)
        return TRANSPORT_EINVAL;
    tpeer *p = find_peer(t, id);
    if (p) {
        if (p->port == port && !strcmp(p->host, host)) return TRANSPORT_OK;
        transport_remove_peer(t, id); /* moved: connect to the new address */
    }
    p = NULL;
    for (size_t i = 0; i < t->npeers && !p; i++)
        if (!t->peers[i].id) p = &t->peers[i];
    if (!p && t->npeers == TRANSPORT_MAX_PEERS) return TRANSPORT_EINVAL;
    if (!p) p = &t->peers[t->npeers];
    char *h = dupstr(host);
    if (!h) return TRANSPORT_ENOMEM;
    if (!p->timer && !(p->timer = evtimer_new(t->base, on_timer, p))) {
        free(h);
        return TRANSPORT_ENOMEM;
    }
    if (p == &t->peers[t->npeers]) t->npeers++;
    struct event *timer = p->timer;
    memset(p, 0, sizeof(*p));
    p->t = t;
    p->timer = timer;
    p->id = id;
    p->host = h;
    p->port = port;
    p->backoff_ms = t->cfg.backoff_start_ms;
    tlog(t, TRANSPORT_LOG_NOTICE, "peer %" PRIu64 " (%s:%d) added", id, host, port);
    peer_connect(p);
    return TRANSPORT_OK;
}

int transport_remove_peer(transport *t, uint64_t id)
{
    tpeer *p = find_peer(t, id);
    if (!p) return TRANSPORT_ENOPEER;
    tlog(t, TRANSPORT_LOG_NOTICE, "peer %" PRIu64 " (%s:%d) removed", id, p->host, p->port);
    conn_close(p);
    evtimer_del(p->timer);
    drop_queue(p);
    free(p->host);
    free(p->qbuf);
    struct event *timer = p->timer;
    memset(p, 0, sizeof(*p));
    p->t = t;
    p->timer = timer;
    p->state = TRANSPORT_IDLE;
    return TRANSPORT_OK;
}

int transport_send(transport *t, uint64_t to, const void *msg, size_t len)
{
    tpeer *p = find_peer(t, to);
    if (!p) return TRANSPORT_ENOPEER;
    if (p->state != TRANSPORT_READY) {
        p->dropped++;
        return TRANSPORT_ENOTCONN;
    }
    size_t queued = p->qbytes + obuf_len(p);
    if (len > t->cfg.queue_bound || queued > t->cfg.queue_bound - len) {
        p->dropped++;
        return TRANSPORT_EFULL;
    }
    char line[PEERCONN_LEN_LINE_MAX];
    size_t ll = peerconn_len_line(line, '$', len), need = ll + len + 2;
    if (p->qcap - p->qused < need) {
        size_t ncap = p->qcap ? p->qcap : 4096;
        while (ncap - p->qused < need)
            ncap *= 2;
        char *b = realloc(p->qbuf, ncap);
        if (!b) {
            p->dropped++;
            return TRANSPORT_ENOMEM;
        }
        p->qbuf = b;
        p->qcap = ncap;
    }
    char *q = p->qbuf + p->qused;
    memcpy(q, line, ll);
    if (len) memcpy(q + ll, msg, len);
    memcpy(q + ll + len, "\r\n", 2);
    p->qn++;
    p->qused += need;
    p->qbytes += len;
    return TRANSPORT_OK;
}

/* Writes what was queued on p's connection now, as one write per peer per
 * pass (inside one of the connection's callbacks, peerconn leaves it to
 * the next writable event). */
static void write_or_arm(tpeer *p)
{
    if (p->pc) peerconn_flush(p->pc);
}

/* A command that expects a reply was queued: the liveness clock runs from
 * the first unanswered one. */
static void sent_command(tpeer *p)
{
    if (p->outstanding++ == 0) {
        p->since = now_ms();
        arm(p, p->t->cfg.liveness_timeout_ms);
    }
    write_or_arm(p);
}

/* Queues a command on p's connection (written by write_or_arm). */
static int queue_command(tpeer *p, peerconn_reply_fn *fn, void *privdata, int argc,
                         const char **argv, const size_t *argvlen)
{
    return peerconn_command(p->pc, fn, privdata, argc, argv, argvlen) == 0 ? REDIS_OK : REDIS_ERR;
}

static void flush_peer(transport *t, tpeer *p)
{
    /* RAFT.MSGQ is RAFT.MSG without the acknowledgement: for each batch
     * the acknowledgement cost a write and a wake-up of the peer, and a read
     * here. Liveness needs only some: a RAFT.MSG goes whenever none is
     * unanswered and the last went a quarter of the liveness timeout ago,
     * so a silent peer is noticed within 1.25 liveness timeouts. */
    int64_t now = now_ms();
    int acked = p->outstanding == 0 && now - p->acked_send >= t->cfg.liveness_timeout_ms / 4;
    /* The command's head, "*<messages + 1>" and its name, then the
     * messages as queued: the bytes hiredis would format for the same argv. */
    char head[PEERCONN_LEN_LINE_MAX + 16];
    size_t hl = peerconn_len_line(head, '*', p->qn + 1);
    const char *name = acked ? "$8\r\nRAFT.MSG\r\n" : "$9\r\nRAFT.MSGQ\r\n";
    memcpy(head + hl, name, strlen(name));
    hl += strlen(name);
    int rc = peerconn_command_resp(p->pc, acked ? on_msg_reply : NULL, &tag_msg, head, hl, p->qbuf,
                                   p->qused);
    if (rc != 0) {
        tlog(t, TRANSPORT_LOG_WARNING, "peer %" PRIu64 ": could not queue RAFT.MSG; %zu dropped",
             p->id, p->qn);
        drop_queue(p);
        return;
    }
    p->sent += p->qn;
    p->qn = 0;
    p->qused = 0;
    p->qbytes = 0;
    release_queue(p);
    if (acked) {
        p->acked_send = now;
        sent_command(p);
    } else {
        write_or_arm(p);
    }
}

void transport_flush(transport *t)
{
    for (size_t i = 0; i < t->npeers; i++) {
        tpeer *p = &t->peers[i];
        if (p->qn == 0) continue;
        if (p->state != TRANSPORT_READY || !p->pc) {
            drop_queue(p);
            continue;
        }
        flush_peer(t, p);
    }
}

int transport_call(transport *t, uint64_t to, int argc, const char **argv, const size_t *argvlen,
                   uint64_t tag)
{
    tpeer *p = find_peer(t, to);
    if (!p) return TRANSPORT_ENOPEER;
    if (p->state != TRANSPORT_READY || !p->pc) return TRANSPORT_ENOTCONN;
    size_t bytes = 0;
    for (int i = 0; i < argc; i++)
        bytes += argvlen[i] + 32;
    size_t queued = p->qbytes + obuf_len(p);
    if (bytes > t->cfg.queue_bound || queued > t->cfg.queue_bound - bytes) return TRANSPORT_EFULL;
    if (queue_command(p, on_call_reply, (void *)(uintptr_t)tag, argc, argv, argvlen) != REDIS_OK)
        return TRANSPORT_ENOMEM;
    sent_command(p);
    return TRANSPORT_OK;
}

void transport_heard(transport *t, uint64_t to)
{
    tpeer *p = find_peer(t, to);
    if (p && p->state == TRANSPORT_READY && p->outstanding > 0) p->since = now_ms();
}

size_t transport_pending_bytes(const transport *t, uint64_t to)
{
    for (size_t i = 0; to && i < t->npeers; i++)
        if (t->peers[i].id == to) return obuf_len(&t->peers[i]);
    return 0;
}

size_t transport_peer_count(const transport *t)
{
    return t->npeers;
}

int transport_peer_status(const transport *t, size_t i, transport_peer_stat *st)
{
    if (i >= t->npeers) return TRANSPORT_EINVAL;
    const tpeer *p = &t->peers[i];
    memset(st, 0, sizeof(*st));
    if (!p->id) return TRANSPORT_OK; /* a removed peer's slot: id 0 */
    st->id = p->id;
    snprintf(st->addr, sizeof(st->addr), "%s:%d", p->host, p->port);
    st->state = p->state;
    st->connected = p->state == TRANSPORT_READY;
    st->queued_bytes = p->qbytes + obuf_len(p);
    st->buffer_bytes = p->qcap + (p->pc ? peerconn_buffer_bytes(p->pc) : 0);
    st->outstanding = p->outstanding;
    st->sent = p->sent;
    st->dropped = p->dropped;
    st->reconnects = p->attempts ? p->attempts - 1 : 0;
    st->unreachables = p->unreachables;
    return TRANSPORT_OK;
}

const char *transport_strerror(int code)
{
    switch (code) {
    case TRANSPORT_OK:
        return "ok";
    case TRANSPORT_ENOTCONN:
        return "peer not connected";
    case TRANSPORT_EFULL:
        return "peer queue full";
    case TRANSPORT_ENOPEER:
        return "no such peer";
    case TRANSPORT_ENOMEM:
        return "out of memory";
    case TRANSPORT_EINVAL:
        return "invalid argument";
    default:
        return "unknown transport error";
    }
}
