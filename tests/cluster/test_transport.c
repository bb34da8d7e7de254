/* test_transport.c -- server/transport.c against a fake peer in the same
 * process: one event_base, a libevent listener on 127.0.0.1 that parses
 * requests with resp/'s parser and answers what each test tells it to.
 * Every wait runs the event loop against a deadline; nothing sleeps. Set
 * TRANSPORT_TEST_VERBOSE=1 to see the transport's log lines. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include <hiredis/hiredis.h>

#include "resp/resp.h"
#include "server/peerauth.h"
#include "server/peerconn.h"
#include "server/transport.h"

/* ------------------------------------------------------------ fake peer */

typedef struct rec_cmd { /* a command the fake received: owned copies */
    int argc;
    char **argv;
    size_t *argvlen;
    int conn_no; /* which accepted connection it came on (1-based) */
} rec_cmd;

typedef struct fake fake;

typedef struct fake_conn {
    fake *f;
    int no;
    struct bufferevent *bev;
    resp_parser *parser;
    uint64_t client_id; /* from its RAFT.HELLO */
    char client_nonce[PEERAUTH_HEX_LEN + 1], server_nonce[PEERAUTH_HEX_LEN + 1];
    struct fake_conn *next;
} fake_conn;

/* hello_reply / auth_reply: answer as a real node does (peerauth.h). */
static const char PROPER[] = "(proper)";

struct fake {
    struct event_base *base;
    struct evconnlistener *lis;
    int port;
    int accepted;
    /* Behaviour: raw bytes answered to RAFT.HELLO / RAFT.AUTH / RAFT.MSG
     * (NULL: no answer; PROPER: a real node's answer, with id and secret
     * below), and what to do once the handshake is answered. */
    const char *hello_reply;
    const char *hello_extra; /* bytes sent right after the answer to HELLO */
    const char *auth_reply;
    const char *msg_reply;
    uint64_t id;        /* PROPER: the node id it answers with (3) */
    const char *secret; /* PROPER: its cluster secret ("s3cret") */
    int replay_hello;   /* answer HELLO with the first proper answer it gave */
    int old_version;    /* answer a 5-word HELLO as a fixed arity of 4 does */
    int old_refusals;   /* 5-word hellos it answered so */
    char recorded[512];
    int stop_reading_after_handshake;
    int close_after_handshake;
    int close_on_msg; /* close instead of answering RAFT.MSG */
    int auth_ok;      /* RAFT.AUTH proofs found right */
    rec_cmd *cmds;
    int ncmds, capcmds;
    fake_conn *conns;
    char *raw; /* every byte received, on any connection, in order */
    size_t rawlen, rawcap;
};

static void fake_conn_free(fake_conn *c)
{
    fake_conn **pp = &c->f->conns;
    while (*pp != c)
        pp = &(*pp)->next;
    *pp = c->next;
    bufferevent_free(c->bev);
    resp_parser_free(c->parser);
    free(c);
}

static void fake_record(fake *f, int conn_no, const resp_cmd *cmd)
{
    if (f->ncmds == f->capcmds) {
        f->capcmds = f->capcmds ? f->capcmds * 2 : 16;
        f->cmds = realloc(f->cmds, (size_t)f->capcmds * sizeof(*f->cmds));
        assert_non_null(f->cmds);
    }
    rec_cmd *r = &f->cmds[f->ncmds++];
    r->argc = cmd->argc;
    r->conn_no = conn_no;
    r->argv = calloc((size_t)cmd->argc, sizeof(char *));
    r->argvlen = calloc((size_t)cmd->argc, sizeof(size_t));
    for (int i = 0; i < cmd->argc; i++) {
        r->argv[i] = malloc(cmd->argvlen[i] + 1);
        memcpy(r->argv[i], cmd->argv[i], cmd->argvlen[i] + 1);
        r->argvlen[i] = cmd->argvlen[i];
    }
}

/* A real node's answer to RAFT.HELLO, into out. */
static void fake_proper_hello(fake_conn *c, const resp_cmd *cmd, char *out, size_t n)
{
    fake *f = c->f;
    assert_true(cmd->argc == 4 || cmd->argc == 5);
    assert_int_equal(peerauth_parse_id(cmd->argv[2], cmd->argvlen[2], &c->client_id), 0);
    assert_true(peerauth_is_hex(cmd->argv[3], cmd->argvlen[3]));
    memcpy(c->client_nonce, cmd->argv[3], PEERAUTH_HEX_LEN + 1);
    assert_int_equal(peerauth_nonce(c->server_nonce), 0);
    char proof[PEERAUTH_HEX_LEN + 1];
    assert_int_equal(peerauth_proof(f->secret, strlen(f->secret), PEERAUTH_SERVER, "test-cluster",
                                    c->client_id, f->id, c->client_nonce, c->server_nonce, proof),
                     0);
    snprintf(out, n, "*3\r\n:%llu\r\n$64\r\n%s\r\n$64\r\n%s\r\n", (unsigned long long)f->id,
             c->server_nonce, proof);
}

/* The handshake is answered: what the test asked for next. Returns 1 when
 * the connection no longer reads. */
static int fake_after_handshake(fake_conn *c, const char *reply)
{
    fake *f = c->f;
    struct bufferevent *bev = c->bev;
    if (f->close_after_handshake) {
        /* The reply straight to the socket, then FIN (a socket
         * bufferevent cannot flush on demand). */
        if (reply) {
            evbuffer_drain(bufferevent_get_output(bev), strlen(reply));
            assert_true(send(bufferevent_getfd(bev), reply, strlen(reply), 0) > 0);
        }
        shutdown(bufferevent_getfd(bev), SHUT_WR);
        bufferevent_disable(bev, EV_READ);
        return 1;
    }
    if (f->stop_reading_after_handshake) {
        bufferevent_disable(bev, EV_READ);
        return 1;
    }
    return 0;
}

static void fake_on_read(struct bufferevent *bev, void *arg)
{
    fake_conn *c = arg;
    fake *f = c->f;
    struct evbuffer *in = bufferevent_get_input(bev);
    char buf[16384];
    size_t n;
    while ((n = evbuffer_remove(in, buf, sizeof(buf))) > 0 && n != (size_t)-1) {
        assert_int_equal(resp_parser_feed(c->parser, buf, n), 0);
        if (f->rawcap - f->rawlen < n) {
            f->rawcap = (f->rawcap + n) * 2;
            f->raw = realloc(f->raw, f->rawcap);
            assert_non_null(f->raw);
        }
        memcpy(f->raw + f->rawlen, buf, n);
        f->rawlen += n;
    }
    resp_cmd cmd;
    int rc;
    while ((rc = resp_parser_next(c->parser, &cmd)) == RESP_CMD) {
        fake_record(f, c->no, &cmd);
        if (cmd.argvlen[0] == 10 && memcmp(cmd.argv[0], "RAFT.HELLO", 10) == 0 && f->old_version &&
            cmd.argc != 4) {
            static const char arity[] =
                "-ERR wrong number of arguments for 'raft.hello' command\r\n";
            f->old_refusals++;
            bufferevent_write(bev, arity, sizeof(arity) - 1);
        } else if (cmd.argvlen[0] == 10 && memcmp(cmd.argv[0], "RAFT.HELLO", 10) == 0) {
            char proper[512];
            const char *reply = f->hello_reply;
            if (reply == PROPER) {
                fake_proper_hello(c, &cmd, proper, sizeof(proper));
                reply = proper;
                if (f->replay_hello && f->recorded[0])
                    reply = f->recorded;
                else
                    snprintf(f->recorded, sizeof(f->recorded), "%s", proper);
            }
            if (reply) bufferevent_write(bev, reply, strlen(reply));
            if (f->hello_extra) bufferevent_write(bev, f->hello_extra, strlen(f->hello_extra));
        } else if (cmd.argvlen[0] == 9 && memcmp(cmd.argv[0], "RAFT.AUTH", 9) == 0) {
            const char *reply = f->auth_reply;
            if (reply == PROPER) {
                int ok = cmd.argc == 2 &&
                         peerauth_verify(f->secret, strlen(f->secret), PEERAUTH_CLIENT,
                                         "test-cluster", c->client_id, f->id, c->client_nonce,
                                         c->server_nonce, cmd.argv[1], cmd.argvlen[1]);
                f->auth_ok += ok;
                reply = ok ? "+OK\r\n" : "-" PEERAUTH_REFUSED "\r\n";
            }
            if (reply) bufferevent_write(bev, reply, strlen(reply));
            if (fake_after_handshake(c, reply)) return;
        } else if (f->close_on_msg) {
            fake_conn_free(c);
            return;
        } else if (cmd.argvlen[0] == 9 && memcmp(cmd.argv[0], "RAFT.MSGQ", 9) == 0) {
            /* no reply */
        } else if (f->msg_reply) {
            bufferevent_write(bev, f->msg_reply, strlen(f->msg_reply));
        }
    }
    assert_int_equal(rc, RESP_NEED_MORE);
}

static void fake_on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) fake_conn_free(arg);
}

static void fake_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                           int salen, void *arg)
{
    (void)l;
    (void)sa;
    (void)salen;
    fake *f = arg;
    fake_conn *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->f = f;
    c->no = ++f->accepted;
    c->parser = resp_parser_new(NULL);
    c->bev = bufferevent_socket_new(f->base, fd, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(c->bev, fake_on_read, NULL, fake_on_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    c->next = f->conns;
    f->conns = c;
}

static void fake_init(fake *f, struct event_base *base)
{
    memset(f, 0, sizeof(*f));
    f->base = base;
    f->hello_reply = PROPER;
    f->auth_reply = PROPER;
    f->msg_reply = "+OK\r\n";
    f->id = 3;
    f->secret = "s3cret";
    struct sockaddr_in sin = {0};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = 0;
    f->lis =
        evconnlistener_new_bind(base, fake_on_accept, f, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                16, (struct sockaddr *)&sin, sizeof(sin));
    assert_non_null(f->lis);
    socklen_t len = sizeof(sin);
    assert_int_equal(getsockname(evconnlistener_get_fd(f->lis), (struct sockaddr *)&sin, &len), 0);
    f->port = ntohs(sin.sin_port);
}

/* Sends raw bytes on every open connection (unasked-for replies). */
static void fake_push(fake *f, const char *bytes)
{
    for (fake_conn *c = f->conns; c; c = c->next)
        bufferevent_write(c->bev, bytes, strlen(bytes));
}

static void fake_done(fake *f)
{
    while (f->conns)
        fake_conn_free(f->conns);
    evconnlistener_free(f->lis);
    for (int i = 0; i < f->ncmds; i++) {
        for (int j = 0; j < f->cmds[i].argc; j++)
            free(f->cmds[i].argv[j]);
        free(f->cmds[i].argv);
        free(f->cmds[i].argvlen);
    }
    free(f->cmds);
    free(f->raw);
}

static int fake_count(const fake *f, const char *name)
{
    int n = 0;
    for (int i = 0; i < f->ncmds; i++)
        if (f->cmds[i].argvlen[0] == strlen(name) &&
            memcmp(f->cmds[i].argv[0], name, strlen(name)) == 0)
            n++;
    return n;
}

/* A port nothing listens on: bound, then closed. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sin = {0};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    socklen_t len = sizeof(sin);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    close(fd);
    return ntohs(sin.sin_port);
}

/* ------------------------------------------------------------- harness */

typedef struct env {
    struct event_base *base;
    transport *t;
    int connected, unreachable;
    uint64_t last_connected, last_unreachable;
    int warnings;
    char last_warning[600];
    int send_on_connected; /* the callbacks use the transport themselves */
    int replies;           /* on_reply calls */
    uint64_t reply_peer, reply_tag;
    long long reply_value;
    char reply_err[64];
} env;

static int verbose;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void cb_connected(void *ctx, uint64_t id)
{
    env *e = ctx;
    e->connected++;
    e->last_connected = id;
    if (e->send_on_connected) {
        assert_int_equal(transport_send(e->t, id, "hi", 2), TRANSPORT_OK);
        transport_flush(e->t);
    }
}

static void cb_unreachable(void *ctx, uint64_t id)
{
    env *e = ctx;
    e->unreachable++;
    e->last_unreachable = id;
    if (e->send_on_connected) {
        assert_int_equal(transport_send(e->t, id, "x", 1), TRANSPORT_ENOTCONN);
        transport_flush(e->t);
    }
}

static void cb_reply(void *ctx, uint64_t id, uint64_t tag, long long value, const char *err,
                     size_t errlen)
{
    env *e = ctx;
    e->replies++;
    e->reply_peer = id;
    e->reply_tag = tag;
    e->reply_value = value;
    snprintf(e->reply_err, sizeof(e->reply_err), "%.*s", err ? (int)errlen : 0, err ? err : "");
}

static void cb_log(void *ctx, int level, const char *msg)
{
    env *e = ctx;
    if (level >= TRANSPORT_LOG_WARNING) {
        e->warnings++;
        snprintf(e->last_warning, sizeof(e->last_warning), "%s", msg);
    }
    if (verbose) fprintf(stderr, "[%lld] transport(%d): %s\n", (long long)now_ms(), level, msg);
}

static void env_init(env *e)
{
    memset(e, 0, sizeof(*e));
    e->base = event_base_new();
    assert_non_null(e->base);
}

static transport_config base_config(env *e, const transport_peer_config *peers, size_t n)
{
    transport_config cfg = {0};
    cfg.self_id = 7;
    cfg.bind_addr = "127.0.0.1";
    cfg.cluster_id = "test-cluster";
    cfg.secret = "s3cret";
    cfg.peers = peers;
    cfg.npeers = n;
    cfg.connect_timeout_ms = 300;
    cfg.liveness_timeout_ms = 300;
    cfg.backoff_start_ms = 20;
    cfg.backoff_max_ms = 400;
    cfg.ctx = e;
    cfg.on_connected = cb_connected;
    cfg.on_unreachable = cb_unreachable;
    cfg.log = cb_log;
    cfg.on_reply = cb_reply;
    return cfg;
}

static void env_start(env *e, const transport_config *cfg)
{
    e->t = transport_new(e->base, cfg);
    assert_non_null(e->t);
}

static void env_done(env *e)
{
    transport_free(e->t);
    e->t = NULL;
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    *(int *)arg = 1;
}

/* Runs passes (transport_flush, as at the end of a server pass, then one
 * loop iteration) until cond(arg) holds or ms pass. Returns whether cond held. */
static int run_until(env *e, int (*cond)(env *, void *), void *arg, int ms)
{
    int expired = 0;
    struct event *ev = evtimer_new(e->base, on_deadline, &expired);
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(ev, &tv);
    int ok = 0;
    for (;;) {
        if (e->t) transport_flush(e->t); /* the end of the previous pass */
        if (cond && cond(e, arg)) {
            ok = 1;
            break;
        }
        if (expired) break;
        event_base_loop(e->base, EVLOOP_ONCE);
    }
    event_free(ev);
    return ok;
}

static void run_for(env *e, int ms)
{
    run_until(e, NULL, NULL, ms);
}

static transport_peer_stat stat_of(env *e, size_t i)
{
    transport_peer_stat st;
    assert_int_equal(transport_peer_status(e->t, i, &st), TRANSPORT_OK);
    return st;
}

static int cond_connected_n(env *e, void *arg)
{
    return e->connected >= *(int *)arg;
}

static int cond_unreachable_n(env *e, void *arg)
{
    return e->unreachable >= *(int *)arg;
}

static int cond_fake_cmds(env *e, void *arg)
{
    (void)e;
    void **a = arg;
    return ((fake *)a[0])->ncmds >= *(int *)a[1];
}

static int cond_no_outstanding(env *e, void *arg)
{
    (void)arg;
    return stat_of(e, 0).outstanding == 0;
}

static int cond_accepted(env *e, void *arg)
{
    (void)e;
    void **a = arg;
    return ((fake *)a[0])->accepted >= *(int *)a[1];
}

static void wait_connected(env *e, int n)
{
    assert_true(run_until(e, cond_connected_n, &n, 3000));
}

static void wait_cmds(env *e, fake *f, int n)
{
    void *a[2] = {f, &n};
    assert_true(run_until(e, cond_fake_cmds, a, 3000));
}

static void wait_accepted(env *e, fake *f, int n)
{
    void *a[2] = {f, &n};
    assert_true(run_until(e, cond_accepted, a, 3000));
}

static void assert_arg(const rec_cmd *c, int i, const void *bytes, size_t len)
{
    assert_true(i < c->argc);
    assert_int_equal(c->argvlen[i], len);
    assert_memory_equal(c->argv[i], bytes, len);
}

/* ---------------------------------------------------------------- tests */

static int bytes_contain(const char *hay, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0) return 1;
    return 0;
}

static void the_handshake_proves_the_secret_without_sending_it(void **state)
{
    (void)state;
    env e;
    fake f;
    env_init(&e);
    fake_init(&f, e.base);
    transport_peer_config peers[] = {{3, "127.0.0.1", f.port}};
    transport_config cfg = base_config(&e, peers, 1);
    env_start(&e, &cfg);
    assert_int_equal(stat_of(&e, 0).connected, 0);

    wait_connected(&e, 1);
    assert_int_equal(e.last_connected, 3);
    assert_int_equal(f.ncmds, 2);
    assert_int_equal(f.cmds[0].argc, 4);
    assert_arg(&f.cmds[0], 0, "RAFT.HELLO", 10);
    assert_arg(&f.cmds[0], 1, "test-cluster", 12);
    assert_arg(&f.cmds[0], 2, "7", 1);
    assert_true(peerauth_is_hex(f.cmds[0].argv[3], f.cmds[0].argvlen[3]));
    assert_int_equal(f.cmds[1].argc, 2);
    assert_arg(&f.cmds[1], 0, "RAFT.AUTH", 9);
    assert_int_equal(f.auth_ok, 1);
    for (int i = 0; i < f.ncmds; i++)
        for (int j = 0; j < f.cmds[i].argc; j++)
            assert_false(bytes_contain(f.cmds[i].argv[j], f.cmds[i].argvlen[j], "s3cret"));
    transport_peer_stat st = stat_of(&e, 0);
    assert_int_equal(st.id, 3);
    assert_int_equal(st.connected, 1);
    assert_int_equal(st.state, TRANSPORT_READY);
    assert_int_equal(st.reconnects, 0);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", f.port);
    assert_string_equal(st.addr, addr);
    assert_int_equal(transport_peer_status(e.t, 1, &st), TRANSPORT_EINVAL);
    assert_int_equal(transport_peer_count(e.t), 1);

    /* Every connection draws a fresh nonce. */
    f.close_on_msg = 1;
    assert_int_equal(transport_send(e.t, 3, "m", 1), TRANSPORT_OK);
    transport_flush(e.t);
    int one = 1;
    assert_true(run_until(&e, cond_unreachable_n, &one, 1000));
    f.close_on_msg = 0;
    wait_connected(&e, 2);
    const rec_cmd *h2 = NULL;
    for (int i = 1; i < f.ncmds; i++)
        if (f.cmds[i].argvlen[0] == 10 && !memcmp(f.cmds[i].argv[0], "RAFT.HELLO", 10))
            h2 = &f.cmds[i];
    assert_non_null(h2);
    assert_memory_not_equal(h2->argv[3], f.cmds[0].argv[3], PEERAUTH_HEX_LEN);

    env_done(&e);
    fake_done(&f);
    event_base_free(e.base);
}

/* With cfg.advertise, RAFT.HELLO carries this node's address as a 5th
 * word (a join node answers there). An older peer answers that with its
 * arity error: the 4-word hello follows on the same connection, and only
 * that form goes to this peer afterwards; a new peer keeps getting 5. */
static void the_hello_carries_the_address_and_falls_back_for_an_older_peer(void **state)
{
    (void)state;
    env e;
    fake neu, old;
    env_init(&e);
    fake_init(&neu, e.base);
    fake_init(&old, e.base);
    old.id = 4;
    old.old_version = 1;
    transport_peer_config peers[] = {{3, "127.0.0.1", neu.port}, {4, "127.0.0.1", old.port}};
    transport_config cfg = base_config(&e, peers, 2);
    cfg.advertise = "127.0.0.1:7007";
    env_start(&e, &cfg);
    wait_connected(&e, 2);
    assert_int_equal(stat_of(&e, 0).state, TRANSPORT_READY);
    assert_int_equal(stat_of(&e, 1).state, TRANSPORT_READY);
    /* the new peer: one 5-word hello, then AUTH */
    assert_int_equal(neu.ncmds, 2);
    assert_int_equal(neu.cmds[0].argc, 5);
    assert_arg(&neu.cmds[0], 0, "RAFT.HELLO", 10);
    assert_arg(&neu.cmds[0], 4, "127.0.0.1:7007", 14);
    assert_int_equal(neu.auth_ok, 1);
    /* the old one: 5 words refused, 4 words on the same connection */
    assert_int_equal(old.accepted, 1);
    assert_int_equal(old.old_refusals, 1);
    assert_int_equal(old.ncmds, 3);
    assert_int_equal(old.cmds[0].argc, 5);
    assert_int_equal(old.cmds[1].argc, 4);
    assert_arg(&old.cmds[1], 0, "RAFT.HELLO", 10);
    assert_int_equal(old.cmds[1].conn_no, 1);
    assert_memory_equal(old.cmds[1].argv[3], old.cmds[0].argv[3], PEERAUTH_HEX_LEN);
    assert_arg(&old.cmds[2], 0, "RAFT.AUTH", 9);
    assert_int_equal(old.auth_ok, 1);
    assert_int_equal(e.unreachable, 0);

    /* reconnects: 4 words straight to the old peer, 5 to the new one */
    neu.close_on_msg = old.close_on_msg = 1;
    assert_int_equal(transport_send(e.t, 3, "m", 1), TRANSPORT_OK);
    assert_int_equal(transport_send(e.t, 4, "m", 1), TRANSPORT_OK);
    transport_flush(e.t);
    int two = 2;
    assert_true(run_until(&e, cond_unreachable_n, &two, 2000));
    neu.close_on_msg = old.close_on_msg = 0;
    wait_connected(&e, 4);
    assert_int_equal(old.accepted, 2);
    assert_int_equal(old.old_refusals, 1);
    const rec_cmd *last = &old.cmds[old.ncmds - 2];
    assert_arg(last, 0, "RAFT.HELLO", 10);
    assert_int_equal(last->argc, 4);
    assert_int_equal(last->conn_no, 2);
    last = &neu.cmds[neu.ncmds - 2];
    assert_arg(last, 0, "RAFT.HELLO", 10);
    assert_int_equal(last->argc, 5);
    assert_int_equal(old.auth_ok, 2);
    assert_int_equal(neu.auth_ok, 2);

    env_done(&e);
    fake_done(&neu);
    fake_done(&old);
    event_base_free(e.base);
}

/* Nothing but a right proof from the peer expected gets our RAFT.AUTH, and
 * nothing is sent before the handshake completes. */
static void a_peer_that_cannot_prove_the_secret_gets_no_auth_and_no_messages(void **state)
{
    (void)state;
    static const struct {
        const char *secret;
        uint64_t id;
        int replay;
        const char *why;
    } rows[] = {
        {"other", 3, 0, "the peer's proof is wrong"},
        {"s3cret", 4, 0, "the peer says it is node 4"},
        {"s3cret", 3, 1, "the peer's proof is wrong"}, /* a replayed answer */
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        print_message("row %zu\n", i);
        env e;
        fake f;
        env_init(&e);
        fake_init(&f, e.base);
        f.secret = rows[i].secret;
        f.id = rows[i].id;
        f.replay_hello = rows[i].replay;
        transport_peer_config peers[] = {{3, "127.0.0.1", f.port}};
        transport_config cfg = base_config(&e, peers, 1);
        env_start(&e, &cfg);
        if (rows[i].replay) { /* one real handshake, recorded; then lose it */
            wait_connected(&e, 1);
            f.close_on_msg = 1;
            assert_int_equal(transport_send(e.t, 3, "m", 1), TRANSPORT_OK);
            transport_flush(e.t);
        }
        int before = e.connected;
        wait_accepted(&e, &f, 3);
        assert_int_equal(e.connected, before);
        assert_non_null(strstr(e.last_warning, rows[i].why));
        assert_int_equal(fake_count(&f, "RAFT.AUTH"), before);
        assert_int_equal(transport_send(e.t, 3, "m", 1), TRANSPORT_ENOTCONN);
        env_done(&e);
        fake_done(&f);
        event_base_free(e.base);
    }
}

static void messages_of_one_pass_arrive_as_one_raft_msg_with_bytes_intact(void **state)
{
    (void)state;
    env e;
    fake f;
    env_init(&e);
    fake_init(&f, e.base);
    transport_peer_config peers[] = {{3, "127.0.0.1", f.port}};
    transport_config cfg = base_config(&e, peers, 1);
    env_start(&e, &cfg);
    wait_connected(&e, 1);

    static const char m1[] = {'a', 0, 'b', 0};
    static const char m2[] = "\r\n*1\r\n$3\r\nSET\r\n";
    size_t big_len = 200000;
    char *big = malloc(big_len);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (char)(i * 131 + 7);
    assert_int_equal(transport_send(e.t, 3, m1, sizeof(m1)), TRANSPORT_OK);
    assert_int_equal(transport_send(e.t, 3, m2, sizeof(m2) - 1), TRANSPORT_OK);
    assert_int_equal(transport_send(e.t, 3, "", 0), TRANSPORT_OK);
    assert_int_equal(transport_send(e.t, 3, big, big_len), TRANSPORT_OK);
    assert_true(stat_of(&e, 0).queued_bytes >= big_len);
    assert_int_equal(transport_send(e.t, 99, m1, sizeof(m1)), TRANSPORT_ENOPEER);
    transport_flush(e.t);

    wait_cmds(&e, &f, 3);
    const rec_cmd *c = &f.cmds[2];
    assert_int_equal(c->argc, 5);
    assert_arg(c, 0, "RAFT.MSG", 8);
    assert_arg(c, 1, m1, sizeof(m1));
    assert_arg(c, 2, m2, sizeof(m2) - 1);
    assert_arg(c, 3, "", 0);
    assert_arg(c, 4, big, big_len);
    assert_true(run_until(&e, cond_no_outstanding, NULL, 3000));
    transport_peer_stat st = stat_of(&e, 0);
    assert_int_equal(st.sent, 4);
    assert_int_equal(st.dropped, 0);
    assert_int_equal(st.queued_bytes, 0);

    /* Next pass, next command: one per pass, never merged across passes. */
    assert_int_equal(transport_send(e.t, 3, "x", 1), TRANSPORT_OK);
    transport_flush(e.t);
    assert_int_equal(transport_send(e.t, 3, "y", 1), TRANSPORT_OK);
    transport_flush(e.t);
    transport_flush(e.t); /* nothing queued: nothing sent */
    wait_cmds(&e, &f, 5);
    run_for(&e, 50);
    assert_int_equal(f.ncmds, 5);
    assert_int_equal(f.cmds[3].argc, 2);
    assert_arg(&f.cmds[3], 1, "x", 1);
    assert_int_equal(f.cmds[4].argc, 2);
    assert_arg(&f.cmds[4], 1, "y", 1);
    assert_int_equal(e.unreachable, 0);
    assert_int_equal(e.warnings, 0);

    free(big);
    env_done(&e);
    fake_done(&f);
    event_base_free(e.base);
}

/* The bytes since `from` are exactly what hiredis formats for argv: the
 * wire format peers of every version read. */
static void assert_raw_is_hiredis(const fake *f, size_t from, int argc, const char **argv,
                                  const size_t *argvlen)
{
    char *want = NULL;
    int wl = redisFormatCommandArgv(&want, argc, argv, argvlen);
    assert_true(wl > 0);
    assert_int_equal(f->rawlen - from, (size_t)wl);
    assert_memory_equal(f->raw + from, want, (size_t)wl);
    redisFreeCommand(want);
}

static void raft_msg_goes_out_as_the_bytes_hiredis_formats(void **state)
{
    (void)state;
    env e;
    fake f;
    env_init(&e);
    fake_init(&f, e.base);
    transport_peer_config peers[] = {{3, "127.0.0.1", f.port}};
    transport_config cfg = base_config(&e, peers, 1);
    env_start(&e, &cfg);
    wait_connected(&e, 1);

    size_t big_len = 100000;
    char *big = malloc(big_len);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (char)(i * 131 + 7);
    const char *argv[] = {"RAFT.MSG", "a\0b", "", big, "\r\n$1\r\n", "0123456789"};
    const size_t argvlen[] = {8, 3, 0, big_len, 7, 10};
    size_t from = f.rawlen;
    for (int i = 1; i < 6; i++)
        assert_int_equal(transport_send(e.t, 3, argv[i], argvlen[i]), TRANSPORT_OK);
    transport_flush(e.t);
    wait_cmds(&e, &f, 3);
    assert_raw_is_hiredis(&f, from, 6, argv, argvlen);

    /* The next batch, while the first is unanswered, goes as RAFT.MSGQ. */
    from = f.rawlen;
    assert_int_equal(transport_send(e.t, 3, "x", 1), TRANSPORT_OK);
    transport_flush(e.t);
    wait_cmds(&e, &f, 4);
    const char *q[] = {f.cmds[3].argvlen[0] == 9 ? "RAFT.MSGQ" : "RAFT.MSG", "x"};
    const size_t ql[] = {strlen(q[0]), 1};
    assert_raw_is_hiredis(&f, from, 2, q, ql);

    /* A call (snapshot chunks) too. */
    from = f.rawlen;
    const char *call[] = {"RAFT.SNAP", "7", big};
    const size_t calllen[] = {9, 1, big_len};
    assert_int_equal(transport_call(e.t, 3, 3, call, calllen, 1), TRANSPORT_OK);
    wait_cmds(&e, &f, 5);
    assert_raw_is_hiredis(&f, from, 3, call, calllen);

    /* Length lines of every width. */
    char line[PEERCONN_LEN_LINE_MAX];
    size_t widths[] = {0, 9, 10, 99, 100, 12345, (size_t)-1};
    for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
        char want[PEERCONN_LEN_LINE_MAX + 8];
        int wl = snprintf(want, sizeof(want), "$%zu\r\n", widths[i]);
        assert_int_equal(peerconn_len_line(line, '$', widths[i]), (size_t)wl);
        assert_memory_equal(line, want, (size_t)wl);
    }

    free(big);
    env_done(&e);
    fake_done(&f);
    event_base_free(e.base);
}

static void wrong_secret_is_logged_and_retried_with_backoff_not_spinning(void **state)
{
    (void)state;
    env e;
    fake f;
    env_init(&e);
    fake_init(&f, e.base);
    f.hello_reply = "-ERR invalid\x01"
                    "cluster secret\r\n";
    transport_peer_config peers[] = {{3, "127.0.0.1", f.port}};
    transport_config cfg = base_config(&e, peers, 1);
    env_start(&e, &cfg);

    /* Backoff 20, 40, 80, 160, 320, 400, 400 ms: about 7 attempts in 1.5 s;
     * without backoff it would be hundreds. */
    run_for(&e, 1500);
    assert_int_equal(e.connected, 0);
    assert_int_equal(e.unreachable, 0);
    assert_true(f.accepted >= 4);
    assert_true(f.accepted <= 10);
    assert_true(e.warnings >= f.accepted - 1);
    /* The peer's text is logged, control bytes masked. */
    assert_non_null(strstr(e.last_warning, "RAFT.HELLO refused: -ERR invalid?cluster secret"));
    assert_int_equal(fake_count(&f, "RAFT.MSG"), 0);
    transport_peer_stat st = stat_of(&e, 0);
    assert_int_equal(st.connected, 0);
    assert_true(st.reconnects + 1 >= (uint64_t)f.accepted);
    assert_int_equal(transport_send(e.t, 3, "m", 1), TRANSPORT_ENOTCONN);

    /* The secret is fixed on the other side: the next attempt connects. */
    f.hello_reply = PROPER;
    wait_connected(&e, 1);

    env_done(&e);
    fake_done(&f);
    event_base_free(e.base);
}

static void messages_to_an_unconnected_peer_are_dropped_and_counted(void **state)
{
    (void)state;
    env e;
    env_init(&e);
    transport_peer_config peers[] = {{4, "127.0.0.1", closed_port()}};
    transport_config cfg = base_config(&e, peers, 1);
    env_start(&e, &cfg);
    assert_int_equal(transport_send(e.t, 4, "m", 1), TRANSPORT_ENOTCONN);
    run_for(&e, 300);
    assert_int_equal(transport_send(e.t, 4, "m", 1), TRANSPORT_ENOTCONN);
    assert_int_equal(transport_send(e.t, 4, "m", 1), TRANSPORT_ENOTCONN);
    transport_flush(e.t);
    transport_peer_stat st = stat_of(&e, 0);
    assert_int_equal(st.dropped, 3);
    assert_int_equal(st.sent, 0);
    assert_int_equal(st.connected, 0);
    assert_true(st.reconnects >= 2); /* refused, retried with backoff */
    assert_true(st.reconnects <= 6);
    assert_int_equal(e.connected, 0);
    assert_int_equal(e.unreachable, 0);
    env_done(&e);
    event_base_free(e.base);
}

static void the_queue_bound_drops_what_does_not_fit(void **state)
{
    (void)state;
    env e;
    fake f;
    env_init(&e);
    fake_init(&f, e.base);
    transport_peer_config peers[] = {{3, "127.0.0.1", f.port}};
    transport_config cfg = base_config(&e, peers, 1);
    cfg.queue_bound = 1000;
    env_start(&e, &cfg);
    wait_connected(&e, 1);

    char buf[1001];
    memset(buf, 'q', sizeof(buf));
    assert_int_equal(transport_send(e.t, 3, buf, 600), TRANSPORT_OK);
    assert_int_equal(transport_send(e.t, 3, buf, 600), TRANSPORT_EFULL);
    assert_int_equal(transport_send(e.t, 3, buf, 400), TRANSPORT_OK);
    assert_int_equal(transport_send(e.t, 3, buf, 1), TRANSPORT_EFULL);
    assert_int_equal(transport_send(e.t, 3, buf, 1001), TRANSPORT_EFULL);
    assert_int_equal(stat_of(&e, 0).queued_bytes, 1000);
    assert_int_equal(stat_of(&e, 0).dropped, 3);
    transport_flush(e.t);
    wait_cmds(&e, &f, 3);
    assert_int_equal(f.cmds[2].argc, 3);
    assert_int_equal(stat_of(&e, 0).sent, 2);
    /* Written to the socket: the room is back. */
    assert_int_equal(transport_send(e.t, 3, buf, 1000), TRANSPORT_OK);

    env_done(&e);
    fake_done(&f);
    event_base_free(e.base);
}

static void a_burst_does_not_pin_its_buffers_once_written(void **state)
{
    (void)state;
    env e;
    fake f;
    env_init(&e);
    fake_init(&f, e.base);
    transport_peer_config peers[] = {{3, "127.0.0.1", f.port}};
    transport_config cfg = base_config(&e, peers, 1);
    /* Not a liveness test: under ASan on a loaded machine the fake peer can
     * take longer than base_config's 300 ms to read 8 MB, and the peer
     * would be dropped as unreachable. */
    cfg.liveness_timeout_ms = 10000;
    env_start(&e, &cfg);
    wait_connected(&e, 1);

    /* A slow peer lets the queue fill to its bound (128 MB in the server):
     * here one 8 MB message makes the queue and the connection's output
     * buffer grow as far. */
    size_t big_len = 8u << 20;
    char *big = malloc(big_len);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (char)(i * 131 + 7);
    assert_int_equal(transport_send(e.t, 3, big, big_len), TRANSPORT_OK);
    assert_true(stat_of(&e, 0).buffer_bytes >= big_len);
    transport_flush(e.t);
    wait_cmds(&e, &f, 3);
    assert_int_equal(f.cmds[2].argc, 2);
    assert_arg(&f.cmds[2], 1, big, big_len);
    assert_true(run_until(&e, cond_no_outstanding, NULL, 3000));
    transport_peer_stat st = stat_of(&e, 0);
    assert_int_equal(st.queued_bytes, 0);
    assert_true(st.buffer_bytes <= 2 * PEERCONN_RETAIN_BYTES);

    /* Small messages after it go as before. */
    assert_int_equal(transport_send(e.t, 3, "x", 1), TRANSPORT_OK);
    transport_flush(e.t);
    wait_cmds(&e, &f, 4);
    assert_arg(&f.cmds[3], 1, "x", 1);
    assert_true(stat_of(&e, 0).buffer_bytes <= 2 * PEERCONN_RETAIN_BYTES);
    assert_int_equal(e.warnings, 0);

    free(big);
    env_done(&e);
    fake_done(&f);
    event_base_free(e.base);
}

/* Sends "hb" to peer 3 every 20 ms (and flushes, if asked) until it is
 * reported unreachable, at most 3 s; returns the milliseconds it took. */
static int64_t ms_to_unreachable(env *e, int flush)
{
    int64_t t0 = now_ms();
    int one = 1;
    while (e->unreachable < 1 && now_ms() - t0 < 3000) {
        transport_send(e->t, 3, "hb", 2);
        if (flush) transport_flush(e->t);
        run_until(e, cond_unreachable_n, &one, 20);
    }
    return now_ms() - t0;
}

static void a_peer_that_stops_reading_is_unreachable_in_about_the_liveness_timeout(void **state)
{
    (void)state;
    env e;
    fake f;
    env_init(&e);
    fake_init(&f, e.base);
    f.stop_reading_after_handshake = 1;
    transport_peer_config peers[] = {{3, "127.0.0.1", f.port}};
    transport_config cfg = base_config(&e, peers, 1);
    env_start(&e, &cfg);
    wait_connected(&e, 1);

    /* Heartbeat-like traffic every pass; no reply ever comes. */
    int64_t took = ms_to_unreachable(&e, 0);
    assert_int_equal(e.unreachable, 1);
    assert_int_equal(e.last_unreachable, 3);
    assert_true(took >= 250);
    assert_true(took <= 1000);
    transport_peer_stat st = stat_of(&e, 0);
    assert_int_equal(st.unreachables, 1);
    assert_int_equal(st.outstanding, 0);
    assert_int_equal(transport_send(e.t, 3, "m", 1), TRANSPORT_ENOTCONN);

    /* The peer answers again: reconnected, and messages flow. */
    f.stop_reading_after_handshake = 0;
    wait_connected(&e, 2);
    assert_true(f.accepted >= 2);
    int before = fake_count(&f, "RAFT.MSG");
    assert_int_equal(transport_send(e.t, 3, "after", 5), TRANSPORT_OK);
    transport_flush(e.t);
    assert_true(run_until(&e, cond_no_outstanding, NULL, 3000));
    assert_int_equal(fake_count(&f, "RAFT.MSG"), before + 1);
    assert_int_equal(e.unreachable, 1);

    env_done(&e);
    fake_done(&f);
    event_base_free(e.base);
}

static void a_peer_heard_from_stays_reachable_while_its_replies_lag(void **state)
{
    (void)state;
    env e;
    fake f;
    env_init(&e);
    fake_init(&f, e.base);
    f.stop_reading_after_handshake = 1; /* its replies never come ... */
    transport_peer_config peers[] = {{3, "127.0.0.1", f.port}};
    transport_config cfg = base_config(&e, peers, 1);
    env_start(&e, &cfg);
    wait_connected(&e, 1);

    /* ... but its own messages do (transport_heard): 3 liveness timeouts
     * pass and it is still reachable. */
    int64_t t0 = now_ms();
    while (now_ms() - t0 < 3 * cfg.liveness_timeout_ms) {
        transport_send(e.t, 3, "hb", 2);
        transport_flush(e.t);
        transport_heard(e.t, 3);
        run_for(&e, 20);
    }
    assert_int_equal(e.unreachable, 0);
    assert_true(stat_of(&e, 0).connected);
    /* Silent as well: unreachable within about the liveness timeout. */
    int64_t took = ms_to_unreachable(&e, 1);
    assert_int_equal(e.unreachable, 1);
    assert_true(took <= 3 * cfg.liveness_timeout_ms);

    env_done(&e);
    fake_done(&f);
    event_base_free(e.base);
}

static void a_peer_that_never_answers_hello_hits_the_connect_timeout(void **state)
{
    (void)state;
    env e;
    fake f;
    env_init(&e);
    fake_init(&f, e.base);
    f.hello_reply = NULL;
    transport_peer_config peers[] = {{3, "127.0.0.1", f.port}};
    transport_config cfg = base_config(&e, peers, 1);
    env_start(&e, &cfg);
    int64_t t0 = now_ms();
    wait_accepted(&e, &f, 2); /* the first attempt was given up on */
    int64_t took = now_ms() - t0;
    assert_true(took >= 280);
    assert_true(took <= 1500);
    assert_int_equal(e.connected, 0);
    assert_int_equal(e.unreachable, 0);
    assert_int_equal(stat_of(&e, 0).state, TRANSPORT_CONNECTING);
    env_done(&e);
    fake_done(&f);
    event_base_free(e.base);
}

static void a_peer_closing_the_connection_is_reconnected_with_backoff(void **state)
{
    (void)state;
    env e;
    fake f;
    env_init(&e);
    fake_init(&f, e.base);
    f.close_after_handshake = 1;
    transport_peer_config peers[] = {{3, "127.0.0.1", f.port}};
    transport_config cfg = base_config(&e, peers, 1);
    env_start(&e, &cfg);

    run_for(&e, 1500);
    /* Each connection came up and was lost (reported once each); the
     * attempts back off as for any failure. */
    assert_true(f.accepted >= 4);
    assert_true(f.accepted <= 10);
    assert_true(e.connected >= f.accepted - 1);
    assert_true(e.unreachable >= e.connected - 1);
    assert_true(e.unreachable <= e.connected);

    f.close_after_handshake = 0;
    int n = e.connected + 1;
    wait_connected(&e, n);
    int lost = e.unreachable;
    assert_int_equal(transport_send(e.t, 3, "m", 1), TRANSPORT_OK);
    transport_flush(e.t);
    assert_true(run_until(&e, cond_no_outstanding, NULL, 3000));
    run_for(&e, 100);
    assert_int_equal(e.unreachable, lost);
    assert_int_equal(stat_of(&e, 0).connected, 1);

    env_done(&e);
    fake_done(&f);
    event_base_free(e.base);
}

static void replies_nobody_asked_for_or_of_the_wrong_kind_close_the_connection(void **state)
{
    (void)state;
    /* One row per way a peer can misbehave; none may crash us (hiredis
     * 0.14 asserts on an unexpected reply), each closes the connection and
     * the next attempt is made. */
    static const struct {
        const char *hello_reply, *hello_extra, *auth_reply, *msg_reply, *push;
        int ready; /* the handshake succeeds: the loss is reported */
    } rows[] = {
        {PROPER, "+OK\r\n", PROPER, "+OK\r\n", NULL, 0},            /* extra reply with HELLO's */
        {PROPER, NULL, "+OK\r\n+OK\r\n", "+OK\r\n", NULL, 0},       /* extra reply with AUTH's */
        {PROPER, NULL, PROPER, "+OK\r\n", "+OK\r\n", 1},            /* extra reply later */
        {PROPER, NULL, PROPER, "+OK\r\n:1\r\n", NULL, 1},           /* extra reply with MSG's */
        {PROPER, NULL, PROPER, "*2\r\n$1\r\na\r\n:5\r\n", NULL, 1}, /* array for RAFT.MSG */
        {PROPER, NULL, PROPER, "-ERR unknown command\r\n", NULL, 1},
        {PROPER, NULL, PROPER, "%1\r\n+a\r\n+b\r\n", NULL, 1}, /* not RESP2: protocol error */
        {PROPER, NULL, PROPER, "!!!garbage\r\n", NULL, 1},
        {"+OK\r\n", NULL, PROPER, "+OK\r\n", NULL, 0}, /* the old handshake's answer */
        {PROPER, NULL, "+OKAY\r\n", "+OK\r\n", NULL, 0},
        {PROPER, NULL, "$2\r\nOK\r\n", "+OK\r\n", NULL, 0}, /* bulk "OK" is not +OK */
        {PROPER, NULL, ":1\r\n", "+OK\r\n", NULL, 0},
        {":1\r\n", NULL, PROPER, "+OK\r\n", NULL, 0},
        {"*3\r\n:3\r\n:1\r\n:2\r\n", NULL, PROPER, "+OK\r\n", NULL, 0},
        {"*3\r\n:3\r\n$1\r\na\r\n$1\r\nb\r\n", NULL, PROPER, "+OK\r\n", NULL, 0},
        {"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", NULL, PROPER,
         "+OK\r\n", NULL, 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        env e;
        fake f;
        env_init(&e);
        fake_init(&f, e.base);
        f.hello_reply = rows[i].hello_reply;
        f.hello_extra = rows[i].hello_extra;
        f.auth_reply = rows[i].auth_reply;
        f.msg_reply = rows[i].msg_reply;
        transport_peer_config peers[] = {{3, "127.0.0.1", f.port}};
        transport_config cfg = base_config(&e, peers, 1);
        env_start(&e, &cfg);
        print_message("row %zu\n", i);
        if (rows[i].ready) {
            wait_connected(&e, 1);
            if (rows[i].push)
                fake_push(&f, rows[i].push);
            else
                assert_int_equal(transport_send(e.t, 3, "m", 1), TRANSPORT_OK);
        }
        wait_accepted(&e, &f, 2);
        if (rows[i].ready) {
            int one = 1;
            assert_true(run_until(&e, cond_unreachable_n, &one, 1000));
            assert_int_equal(e.unreachable, 1);
        } else {
            assert_int_equal(e.connected, 0);
            assert_int_equal(e.unreachable, 0);
        }
        env_done(&e);
        fake_done(&f);
        event_base_free(e.base);
    }
}

static void a_peer_closing_with_replies_outstanding_is_reported_and_reconnected(void **state)
{
    (void)state;
    env e;
    fake f;
    env_init(&e);
    fake_init(&f, e.base);
    f.close_on_msg = 1;
    transport_peer_config peers[] = {{3, "127.0.0.1", f.port}};
    transport_config cfg = base_config(&e, peers, 1);
    env_start(&e, &cfg);
    wait_connected(&e, 1);
    assert_int_equal(transport_send(e.t, 3, "m1", 2), TRANSPORT_OK);
    transport_flush(e.t);
    int one = 1;
    assert_true(run_until(&e, cond_unreachable_n, &one, 1000));
    assert_int_equal(stat_of(&e, 0).outstanding, 0);
    f.close_on_msg = 0;
    wait_connected(&e, 2);
    assert_int_equal(transport_send(e.t, 3, "m2", 2), TRANSPORT_OK);
    transport_flush(e.t);
    assert_true(run_until(&e, cond_no_outstanding, NULL, 3000));
    assert_int_equal(fake_count(&f, "RAFT.MSG"), 2);
    assert_int_equal(e.unreachable, 1);
    env_done(&e);
    fake_done(&f);
    event_base_free(e.base);
}

static int cond_replies_n(env *e, void *arg)
{
    return e->replies >= *(int *)arg;
}

/* transport_call: the command goes out at once with its bytes intact; an
 * integer or error reply reaches on_reply with the call's tag and keeps the
 * connection; any other reply closes it; not READY, nothing is sent. */
static void calls_are_answered_to_on_reply_with_their_tag(void **state)
{
    (void)state;
    env e;
    fake f;
    env_init(&e);
    fake_init(&f, e.base);
    f.msg_reply = ":42\r\n";
    transport_peer_config peers[] = {{3, "127.0.0.1", f.port}};
    transport_config cfg = base_config(&e, peers, 1);
    env_start(&e, &cfg);
    const char *argv[3] = {"RAFT.SNAP", "1", "a\0b"};
    size_t argvlen[3] = {9, 1, 3};
    assert_int_equal(transport_call(e.t, 3, 3, argv, argvlen, 5), TRANSPORT_ENOTCONN);
    assert_int_equal(transport_call(e.t, 9, 3, argv, argvlen, 5), TRANSPORT_ENOPEER);
    wait_connected(&e, 1);
    assert_int_equal(transport_call(e.t, 3, 3, argv, argvlen, 77), TRANSPORT_OK);
    int one = 1, two = 2;
    assert_true(run_until(&e, cond_replies_n, &one, 1000));
    assert_int_equal(e.reply_peer, 3);
    assert_int_equal(e.reply_tag, 77);
    assert_int_equal(e.reply_value, 42);
    assert_string_equal(e.reply_err, "");
    const rec_cmd *c = &f.cmds[f.ncmds - 1];
    assert_int_equal(c->argc, 3);
    assert_arg(c, 0, "RAFT.SNAP", 9);
    assert_arg(c, 2, "a\0b", 3);
    f.msg_reply = "-ERR snapshot chunk corrupt\r\n";
    assert_int_equal(transport_call(e.t, 3, 3, argv, argvlen, 78), TRANSPORT_OK);
    assert_true(run_until(&e, cond_replies_n, &two, 1000));
    assert_int_equal(e.reply_tag, 78);
    assert_string_equal(e.reply_err, "ERR snapshot chunk corrupt");
    run_for(&e, 50);
    assert_int_equal(e.unreachable, 0); /* an error reply is an answer */
    f.msg_reply = "+OK\r\n";            /* a call wants an integer or an error */
    assert_int_equal(transport_call(e.t, 3, 3, argv, argvlen, 79), TRANSPORT_OK);
    assert_true(run_until(&e, cond_unreachable_n, &one, 1000));
    assert_int_equal(e.replies, 2);
    env_done(&e);
    fake_done(&f);
    event_base_free(e.base);
}

static void callbacks_may_send_and_flush(void **state)
{
    (void)state;
    /* on_connected runs inside a hiredis reply callback: the flush there
     * must not write (and possibly free the context) under hiredis. */
    env e;
    fake f;
    env_init(&e);
    fake_init(&f, e.base);
    e.send_on_connected = 1;
    f.close_on_msg = 1;
    transport_peer_config peers[] = {{3, "127.0.0.1", f.port}};
    transport_config cfg = base_config(&e, peers, 1);
    env_start(&e, &cfg);
    int one = 1;
    assert_true(run_until(&e, cond_unreachable_n, &one, 2000));
    assert_int_equal(f.ncmds, 3);
    assert_int_equal(f.cmds[2].argc, 2);
    assert_arg(&f.cmds[2], 0, "RAFT.MSG", 8);
    assert_arg(&f.cmds[2], 1, "hi", 2);
    f.close_on_msg = 0;
    wait_connected(&e, 2);
    assert_true(run_until(&e, cond_no_outstanding, NULL, 3000));
    assert_int_equal(fake_count(&f, "RAFT.MSG"), 2);
    assert_int_equal(stat_of(&e, 0).sent, 2);
    env_done(&e);
    fake_done(&f);
    event_base_free(e.base);
}

static void batches_between_acknowledged_ones_go_without_a_reply(void **state)
{
    (void)state;
    /* RAFT.MSGQ gets no reply. A RAFT.MSG goes when none is unanswered and
     * a quarter of the liveness timeout (75 ms here) has passed since the
     * last; the first on a connection is one. */
    env e;
    fake f;
    env_init(&e);
    fake_init(&f, e.base);
    transport_peer_config peers[] = {{3, "127.0.0.1", f.port}};
    transport_config cfg = base_config(&e, peers, 1);
    env_start(&e, &cfg);
    wait_connected(&e, 1);
    for (int i = 0; i < 10; i++) {
        char m[8];
        int n = snprintf(m, sizeof(m), "m%d", i);
        assert_int_equal(transport_send(e.t, 3, m, (size_t)n), TRANSPORT_OK);
        transport_flush(e.t);
    }
    wait_cmds(&e, &f, 12);
    assert_int_equal(fake_count(&f, "RAFT.MSG"), 1);
    assert_int_equal(fake_count(&f, "RAFT.MSGQ"), 9);
    assert_arg(&f.cmds[2], 0, "RAFT.MSG", 8);
    for (int i = 0; i < 10; i++) {
        char m[8];
        int n = snprintf(m, sizeof(m), "m%d", i);
        assert_int_equal(f.cmds[2 + i].argc, 2);
        assert_arg(&f.cmds[2 + i], 1, m, (size_t)n);
    }
    assert_true(run_until(&e, cond_no_outstanding, NULL, 3000));
    run_for(&e, 100);
    assert_int_equal(transport_send(e.t, 3, "late", 4), TRANSPORT_OK);
    transport_flush(e.t);
    wait_cmds(&e, &f, 13);
    assert_arg(&f.cmds[12], 0, "RAFT.MSG", 8);
    assert_true(run_until(&e, cond_no_outstanding, NULL, 3000));
    assert_int_equal(stat_of(&e, 0).sent, 11);
    assert_int_equal(e.unreachable, 0);
    assert_int_equal(e.warnings, 0);

    /* A peer that takes every message and never acknowledges one is found
     * out all the same, within 1.25 liveness timeouts of steady traffic. */
    f.msg_reply = NULL;
    run_for(&e, 100);
    int64_t took = ms_to_unreachable(&e, 1);
    assert_int_equal(e.unreachable, 1);
    assert_true(took >= 250);
    assert_true(took <= 1000);
    assert_true(fake_count(&f, "RAFT.MSGQ") > 9);
    env_done(&e);
    fake_done(&f);
    event_base_free(e.base);
}

static void a_connect_that_never_completes_hits_the_connect_timeout(void **state)
{
    (void)state;
    /* A listener that never accepts, its backlog filled: further SYNs are
     * dropped and connect() stays in progress, as behind a dropped route. */
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(lfd >= 0);
    struct sockaddr_in sin = {0};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(listen(lfd, 0), 0);
    socklen_t len = sizeof(sin);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &len), 0);
    int fill[4];
    for (int i = 0; i < 4; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        assert_true(fill[i] >= 0);
        (void)connect(fill[i], (struct sockaddr *)&sin, sizeof(sin));
    }
    env e;
    env_init(&e);
    transport_peer_config peers[] = {{3, "127.0.0.1", ntohs(sin.sin_port)}};
    transport_config cfg = base_config(&e, peers, 1);
    env_start(&e, &cfg);
    run_for(&e, 1000);
    /* 300 ms per attempt plus the backoff: two to four attempts, no more. */
    transport_peer_stat st = stat_of(&e, 0);
    assert_true(st.reconnects >= 1);
    assert_true(st.reconnects <= 4);
    assert_int_equal(e.connected, 0);
    env_done(&e);
    event_base_free(e.base);
    for (int i = 0; i < 4; i++)
        close(fill[i]);
    close(lfd);
}

static void free_with_connections_in_every_state_leaks_nothing(void **state)
{
    (void)state;
    env e;
    fake ok, silent_msg, silent_hello, stopped;
    env_init(&e);
    fake_init(&ok, e.base);
    ok.id = 1;
    fake_init(&silent_msg, e.base);
    silent_msg.id = 2;
    silent_msg.msg_reply = NULL;
    fake_init(&silent_hello, e.base);
    silent_hello.hello_reply = NULL;
    fake_init(&stopped, e.base);
    stopped.id = 5;
    stopped.stop_reading_after_handshake = 1;
    transport_peer_config peers[] = {
        {1, "127.0.0.1", ok.port},           /* READY, messages queued */
        {2, "127.0.0.1", silent_msg.port},   /* READY, replies outstanding */
        {3, "127.0.0.1", silent_hello.port}, /* CONNECTING: HELLO unanswered */
        {4, "127.0.0.1", closed_port()},     /* IDLE: waiting out the backoff */
        {5, "127.0.0.1", stopped.port},      /* READY, output stuck in hiredis */
    };
    transport_config cfg = base_config(&e, peers, 5);
    cfg.liveness_timeout_ms = 5000;
    cfg.connect_timeout_ms = 5000;
    env_start(&e, &cfg);
    wait_connected(&e, 3);
    wait_accepted(&e, &silent_hello, 1);
    size_t big_len = 1 << 20;
    char *big = calloc(1, big_len);
    for (int pass = 0; pass < 16; pass++) {
        transport_send(e.t, 2, "m", 1);
        transport_send(e.t, 5, big, big_len);
        transport_flush(e.t);
        event_base_loop(e.base, EVLOOP_NONBLOCK);
    }
    assert_true(stat_of(&e, 1).outstanding > 0);
    assert_true(stat_of(&e, 4).queued_bytes > 0);
    assert_int_equal(transport_send(e.t, 1, "queued", 6), TRANSPORT_OK);
    assert_int_equal(stat_of(&e, 2).state, TRANSPORT_CONNECTING);
    assert_int_equal(stat_of(&e, 3).state, TRANSPORT_IDLE);
    env_done(&e);
    assert_int_equal(e.unreachable, 0); /* freeing reports nothing */

    /* And right after transport_new: every connect still in progress. */
    env_start(&e, &cfg);
    env_done(&e);

    free(big);
    fake_done(&ok);
    fake_done(&silent_msg);
    fake_done(&silent_hello);
    fake_done(&stopped);
    event_base_free(e.base);
}

static void invalid_configurations_are_refused(void **state)
{
    (void)state;
    env e;
    env_init(&e);
    transport_peer_config dup[] = {{1, "127.0.0.1", 7001}, {1, "127.0.0.1", 7002}};
    transport_peer_config self[] = {{7, "127.0.0.1", 7001}};
    transport_peer_config port[] = {{1, "127.0.0.1", 0}};
    transport_config cfg = base_config(&e, dup, 2);
    assert_null(transport_new(e.base, &cfg));
    cfg = base_config(&e, self, 1);
    assert_null(transport_new(e.base, &cfg));
    cfg = base_config(&e, port, 1);
    assert_null(transport_new(e.base, &cfg));
    cfg = base_config(&e, NULL, 0);
    cfg.secret = "";
    assert_null(transport_new(e.base, &cfg));
    cfg = base_config(&e, NULL, 0);
    cfg.cluster_id = NULL;
    assert_null(transport_new(e.base, &cfg));
    assert_int_equal(e.warnings, 5);
    cfg = base_config(&e, NULL, 0); /* no peers: a one-node cluster */
    transport *t = transport_new(e.base, &cfg);
    assert_non_null(t);
    transport_flush(t);
    transport_free(t);
    transport_free(NULL);
    assert_string_equal(transport_strerror(TRANSPORT_EFULL), "peer queue full");
    event_base_free(e.base);
}

/* Members added and removed at runtime (RAFT.ADDNODE / RAFT.REMOVENODE): an
 * added peer is connected to and sent to; the same address again changes
 * nothing; a removed one is closed with no callback and unknown from then
 * on, and its slot goes to the next peer added. */
static void peers_are_added_and_removed_at_runtime(void **state)
{
    (void)state;
    env e;
    fake f, g;
    env_init(&e);
    fake_init(&f, e.base);
    fake_init(&g, e.base);
    g.id = 5;
    transport_config cfg = base_config(&e, NULL, 0);
    env_start(&e, &cfg);
    assert_int_equal(transport_peer_count(e.t), 0);
    assert_int_equal(transport_send(e.t, 3, "m", 1), TRANSPORT_ENOPEER);

    assert_int_equal(transport_add_peer(e.t, 3, "127.0.0.1", f.port), TRANSPORT_OK);
    wait_connected(&e, 1);
    assert_int_equal(transport_add_peer(e.t, 3, "127.0.0.1", f.port), TRANSPORT_OK);
    assert_int_equal(transport_add_peer(e.t, 5, "127.0.0.1", g.port), TRANSPORT_OK);
    wait_connected(&e, 2);
    assert_int_equal(f.accepted, 1); /* the same address again: no new connection */
    assert_int_equal(transport_peer_count(e.t), 2);
    assert_int_equal(transport_send(e.t, 3, "a", 1), TRANSPORT_OK);
    assert_int_equal(transport_send(e.t, 5, "b", 1), TRANSPORT_OK);
    transport_flush(e.t);
    wait_cmds(&e, &f, 3);
    wait_cmds(&e, &g, 3);
    assert_arg(&f.cmds[2], 1, "a", 1);
    assert_arg(&g.cmds[2], 1, "b", 1);

    assert_int_equal(transport_remove_peer(e.t, 3), TRANSPORT_OK);
    assert_int_equal(transport_remove_peer(e.t, 3), TRANSPORT_ENOPEER);
    assert_int_equal(transport_send(e.t, 3, "m", 1), TRANSPORT_ENOPEER);
    assert_int_equal(stat_of(&e, 0).id, 0);
    assert_int_equal(stat_of(&e, 1).id, 5);
    run_for(&e, 100);
    assert_int_equal(e.unreachable, 0); /* removed, not lost */
    assert_int_equal(f.accepted, 1);    /* and not reconnected */

    /* The free slot goes to the next peer (the fake now answers as 8). */
    f.id = 8;
    assert_int_equal(transport_add_peer(e.t, 8, "127.0.0.1", f.port), TRANSPORT_OK);
    wait_connected(&e, 3);
    assert_int_equal(transport_peer_count(e.t), 2);
    assert_int_equal(stat_of(&e, 0).id, 8);
    assert_int_equal(stat_of(&e, 0).connected, 1);

    assert_int_equal(transport_add_peer(e.t, 7, "127.0.0.1", f.port), TRANSPORT_EINVAL); /* self */
    assert_int_equal(transport_add_peer(e.t, 0, "127.0.0.1", f.port), TRANSPORT_EINVAL);
    assert_int_equal(transport_add_peer(e.t, 9, "127.0.0.1", 0), TRANSPORT_EINVAL);
    assert_int_equal(transport_add_peer(e.t, 9, "", 1), TRANSPORT_EINVAL);
    assert_int_equal(e.warnings, 0);

    env_done(&e);
    fake_done(&f);
    fake_done(&g);
    event_base_free(e.base);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as server/main.c: see transport.h */
    const char *v = getenv("TRANSPORT_TEST_VERBOSE");
    verbose = v && *v && *v != '0';
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_handshake_proves_the_secret_without_sending_it),
        cmocka_unit_test(peers_are_added_and_removed_at_runtime),
        cmocka_unit_test(a_peer_that_cannot_prove_the_secret_gets_no_auth_and_no_messages),
        cmocka_unit_test(messages_of_one_pass_arrive_as_one_raft_msg_with_bytes_intact),
        cmocka_unit_test(raft_msg_goes_out_as_the_bytes_hiredis_formats),
        cmocka_unit_test(wrong_secret_is_logged_and_retried_with_backoff_not_spinning),
        cmocka_unit_test(messages_to_an_unconnected_peer_are_dropped_and_counted),
        cmocka_unit_test(the_queue_bound_drops_what_does_not_fit),
        cmocka_unit_test(a_burst_does_not_pin_its_buffers_once_written),
        cmocka_unit_test(a_peer_that_stops_reading_is_unreachable_in_about_the_liveness_timeout),
        cmocka_unit_test(a_peer_heard_from_stays_reachable_while_its_replies_lag),
        cmocka_unit_test(a_peer_that_never_answers_hello_hits_the_connect_timeout),
        cmocka_unit_test(the_hello_carries_the_address_and_falls_back_for_an_older_peer),
        cmocka_unit_test(a_peer_closing_the_connection_is_reconnected_with_backoff),
        cmocka_unit_test(replies_nobody_asked_for_or_of_the_wrong_kind_close_the_connection),
        cmocka_unit_test(a_peer_closing_with_replies_outstanding_is_reported_and_reconnected),
        cmocka_unit_test(callbacks_may_send_and_flush),
        cmocka_unit_test(batches_between_acknowledged_ones_go_without_a_reply),
        cmocka_unit_test(calls_are_answered_to_on_reply_with_their_tag),
        cmocka_unit_test(a_connect_that_never_completes_hits_the_connect_timeout),
        cmocka_unit_test(free_with_connections_in_every_state_leaks_nothing),
        cmocka_unit_test(invalid_configurations_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
