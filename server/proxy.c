/* proxy.c -- follower-mode proxy (DESIGN.md "Followers"): a follower keeps
 * each client's connection state itself and forwards its writes (and a whole
 * MULTI...EXEC) to the leader as RAFT.PROXY / RAFT.PROXYEXEC over one peer
 * connection (server/peerconn.h: TLS with tls-cluster, like the transport's),
 * opened with the peer handshake (peerauth.h) like a peer's:
 * commands given before the handshake completes wait in this node (in their
 * slots, in order) and go out once RAFT.AUTH is answered. The leader answers each
 * with the reply already encoded in the client's protocol, as one bulk
 * string, which the follower relays unchanged in the client's pipeline
 * order (hiredis 0.14 cannot parse RESP3, which is why the reply travels
 * encoded). A read that comes behind a forwarded write is forwarded too, so
 * it sees that write.
 *
 * A forwarded command whose connection fails after it was sent, or which is
 * unanswered after raft-request-timeout, is answered -TIMEOUT: it may have
 * happened. One that never left this node (the handshake failed, or the
 * connection refused to queue it) is answered -TRYAGAIN: it certainly did not.
 *
 * A blocked client's attempt (blocking.c) is forwarded the same way, but
 * its slot is in no client's queue and its outcome goes to blocking.c: the
 * leader answers a served one like any command, one that found nothing
 * ":<index>" (it never waits there), and errors that say it did not run
 * (-TRYAGAIN, -MOVED, -CLUSTERDOWN) mean try again. */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/acl.h"
#include "server/log.h"
#include "server/peerauth.h"
#include "server/proxyarg.h"
#include "server/reads.h"
#include "server/peerconn.h"
#include "server/tls.h"
#include "server/limits.h"
#include "server/server.h"

static peerconn *ctx;
static uint64_t ctx_leader; /* the leader ctx talks to */
static int ctx_ready;       /* the handshake on ctx completed */
static peerauth_client auth;
static slot *wait_head, *wait_tail; /* waiting for the handshake, linked by wnext */
static uint64_t pending;            /* commands sent, not answered */
static int64_t oldest_sent;         /* ms: when the oldest unanswered one was sent */
static int64_t last_reply;          /* ms */

static const char LOST[] = "TIMEOUT the connection to the leader was lost; the command may "
                           "or may not have been executed";
static const char NOT_SENT[] = "TRYAGAIN the connection to the leader failed before the command "
                               "was sent; it was not executed";

static void finish(slot *s, const char *bytes, size_t n, const char *err)
{
    client *c = s->c;
    if (!c) {
        slot_free(s);
        return;
    }
    if (err)
        resp_add_error(&s->out, err);
    else
        resp_add_raw(&s->out, bytes, n);
    if (s->settle && !err) {
        reads_settle(s);
        return;
    }
    slot_done(s);
}

static int prefixed(const char *p, size_t n, const char *word)
{
    size_t w = strlen(word);
    return n >= w && !memcmp(p, word, w);
}

/* An attempt's outcome: reply NULL when it was never sent (unsent) or the
 * connection was lost. */
static void attempt_done(slot *s, const redisReply *reply, int unsent)
{
    if (!s->blk) { /* its client is gone */
        slot_free(s);
    } else if (unsent) {
        blocking_attempt_outcome(s, ATTEMPT_RETRY, 0, NULL, 0);
    } else if (!reply) {
        blocking_attempt_outcome(s, ATTEMPT_UNKNOWN, 0, LOST, strlen(LOST));
    } else if (reply->type == REDIS_REPLY_INTEGER) {
        blocking_attempt_outcome(s, ATTEMPT_BLOCKED, (uint64_t)reply->integer, NULL, 0);
    } else if (reply->type == REDIS_REPLY_STRING) {
        const char *p = reply->str;
        size_t n = reply->len;
        int retry = prefixed(p, n, "-TRYAGAIN ") || prefixed(p, n, "-MOVED ") ||
                    prefixed(p, n, "-CLUSTERDOWN ");
        blocking_attempt_outcome(s, retry ? ATTEMPT_RETRY : ATTEMPT_SERVED, 0, p, n);
    } else if (reply->type == REDIS_REPLY_ERROR) {
        blocking_attempt_outcome(s, ATTEMPT_UNKNOWN, 0, reply->str, reply->len);
    } else {
        static const char msg[] = "ERR unexpected proxy reply from the leader";
        blocking_attempt_outcome(s, ATTEMPT_UNKNOWN, 0, msg, sizeof(msg) - 1);
    }
}

static void on_reply(void *owner, void *priv, redisReply *reply)
{
    (void)owner;
    slot *s = priv;
    if (pending) pending--;
    last_reply = oldest_sent = mstime();
    if (!s->c) {
        attempt_done(s, reply, 0); /* frees s when its client is gone */
        return;
    }
    if (!reply) {
        finish(s, NULL, 0, LOST);
    } else if (reply->type == REDIS_REPLY_STRING) {
        finish(s, reply->str, reply->len, NULL);
    } else if (reply->type == REDIS_REPLY_ERROR) {
        finish(s, NULL, 0, reply->str); /* the leader refused RAFT.PROXY itself */
    } else {
        finish(s, NULL, 0, "ERR unexpected proxy reply from the leader");
    }
}

/* A command that could not be sent. */
static void unsent(slot *s, const char *err)
{
    if (s->c)
        finish(s, NULL, 0, err);
    else
        attempt_done(s, NULL, 1);
}

static void send_now(peerconn *pc, slot *s)
{
    if (peerconn_command(pc, on_reply, s, s->argc, (const char **)s->argv, s->argvlen) != 0) {
        if (pending) pending--;
        unsent(s, NOT_SENT);
    }
}

/* Commands that waited for a handshake that completed (ac) or failed
 * (NULL: they are answered -TRYAGAIN, unsent). */
static void release_waiting(peerconn *ac)
{
    slot *s = wait_head;
    wait_head = wait_tail = NULL;
    while (s) {
        slot *next = s->wnext;
        s->wnext = NULL;
        if (ac) {
            send_now(ac, s);
        } else {
            if (pending) pending--;
            unsent(s, NOT_SENT);
        }
        s = next;
    }
    if (ac) peerconn_flush_soon(ac);
}

/* Forgets ctx (peerconn frees it at once, or when the callback it is in
 * returns); commands sent on it are answered -TIMEOUT (their callbacks get
 * no reply), those waiting for its handshake -TRYAGAIN. */
static void drop_ctx(void)
{
    peerconn *old = ctx;
    ctx = NULL;
    ctx_ready = 0;
    if (old) peerconn_free(old);
    release_waiting(NULL);
}

static void on_auth(void *owner, void *priv, redisReply *reply)
{
    (void)owner;
    (void)priv;
    if (!reply) return; /* its connection is being freed */
    if (reply->type != REDIS_REPLY_STATUS || strcmp(reply->str, "OK")) {
        serverLog(LL_WARNING, "Proxy: the leader refused RAFT.AUTH: %.200s",
                  reply->type == REDIS_REPLY_ERROR ? reply->str : "(not an error reply)");
        drop_ctx();
        return;
    }
    ctx_ready = 1;
    release_waiting(ctx);
}

static void on_hello(void *owner, void *priv, redisReply *reply)
{
    (void)owner;
    (void)priv;
    if (!reply) return;
    char why[256];
    if (peerauth_client_check(&auth, reply, why, sizeof(why)) != 0) {
        serverLog(LL_WARNING, "Proxy: the handshake with the leader failed: %s", why);
        drop_ctx();
        return;
    }
    if (peerconn_command(ctx, on_auth, NULL, 2, auth.argv, auth.argvlen) != 0)
        drop_ctx();
    else
        peerconn_flush_soon(ctx);
}

static void on_closed(void *owner, int why, const char *text)
{
    (void)owner;
    serverLog(LL_NOTICE, "Proxy: %s the leader: %s",
              why == PEERCONN_CONNECT_FAILED ? "connecting to" : "lost the connection to", text);
    drop_ctx();
}

/* The connection to the current leader, opened (and hello'd) on demand. */
static peerconn *leader_ctx(void)
{
    int port = 0;
    const char *host = driver_leader_addr(&port);
    uint64_t lid = driver_leader_id();
    if (ctx && ctx_leader != lid) {
        serverLog(LL_NOTICE, "Proxy: the leader changed; reconnecting");
        drop_ctx();
    }
    if (ctx || !host) return ctx;
    char self[256] = "";
    int sport = 0;
    const char *shost = driver_self_addr(&sport);
    if (shost) snprintf(self, sizeof(self), "%s", shost);
    peerconn_config pcfg = {.host = host,
                            .port = port,
                            .bind_addr = self,
                            .tls = cfg.tls_cluster ? tls_connect_conn : NULL,
                            .on_close = on_closed};
    char err[256];
    peerconn *ac = peerconn_new(srv.base, &pcfg, err, sizeof(err));
    if (!ac) {
        serverLog(LL_WARNING, "Proxy: cannot connect to the leader %s:%d: %s", host, port, err);
        return NULL;
    }
    if (peerauth_client_hello(&auth, cfg.cluster_secret, cfg.cluster_id, (uint64_t)cfg.node_id,
                              lid) != 0 ||
        peerconn_command(ac, on_hello, NULL, 4, auth.argv, auth.argvlen) != 0) {
        serverLog(LL_WARNING, "Proxy: could not start the handshake with the leader");
        peerconn_free(ac);
        return NULL;
    }
    ctx = ac;
    ctx_ready = 0;
    ctx_leader = lid;
    pending = 0;
    last_reply = mstime();
    return ctx;
}

/* Sends s's command (copied if it must wait for the handshake). */
static void send_slot(slot *s, int n, const char **av, const size_t *al)
{
    peerconn *ac = leader_ctx();
    if (!ac) {
        unsent(s, "CLUSTERDOWN No raft leader");
        return;
    }
    if (!pending++) oldest_sent = mstime();
    if (!ctx_ready) { /* a copy waits for the handshake; the slot frees it */
        s->argc = n;
        s->argv = argv_copy(n, (char **)av, (size_t *)al, &s->argvlen);
        s->wnext = NULL;
        if (wait_tail)
            wait_tail->wnext = s;
        else
            wait_head = s;
        wait_tail = s;
        return;
    }
    if (peerconn_command(ac, on_reply, s, n, av, al) != 0) {
        pending--;
        unsent(s, NOT_SENT);
        return;
    }
    peerconn_flush_soon(ac);
}

static void send_argv(client *c, int n, const char **av, const size_t *al)
{
    slot *s = client_new_slot(c, SLOT_PROXY);
    c->nproxy++;
    send_slot(s, n, av, al);
}

/* What the leader's parser would refuse from a peer (server/limits.h)
 * gets an error here instead; it could not be one log entry either. */
static const char TOO_LARGE[] = "ERR request too large for one log entry";

static int too_large(int n, const size_t *lens, int count)
{
    uint64_t total = 0;
    int over = n > (int)RAFTKV_PEER_MAX_ARGS;
    for (int i = 0; i < count && !over; i++) {
        over = lens[i] > RAFTKV_PEER_MAX_BULK;
        total += lens[i];
    }
    return over || total > RAFTKV_PEER_MAX_BULK;
}

static int refuse_too_large(client *c, int n, const size_t *lens, int count)
{
    if (!too_large(n, lens, count)) return 0;
    resp_add_error(client_reply_buf(c), TOO_LARGE);
    return 1;
}

/* RAFT.PROXY <proto>:<db>:@<ulen>:<user>[:<addr>] argv... into av/al (n =
 * argc + 2; pa holds the second argument, server/proxyarg.h, malloc'ed into
 * *pap when longer than PROXY_ARG_LEN); av and al are malloc'ed when n > 64.
 * user is the client's ACL user, which the leader checks the command as;
 * addr, the client's address (NULL for none), is what the leader's MONITOR
 * and SLOWLOG show (server/diag.h). */
#define PROXY_ARG_LEN 160
/* The second argument (server/proxyarg.h) in pa, or malloc'ed when it
 * does not fit; *pap is where it is. Returns its length. */
static size_t proxy_arg(int proto, int db, const char *user, const char *addr, char *pa, char **pap)
{
    size_t ul = user ? strlen(user) : 0;
    size_t n = proxyarg_format(pa, PROXY_ARG_LEN, proto, db, user, ul, addr);
    *pap = pa;
    if (n >= PROXY_ARG_LEN) {
        *pap = malloc(n + 1);
        if (!*pap) {
            serverLog(LL_WARNING, "Out of memory forwarding a command");
            exit(1);
        }
        proxyarg_format(*pap, n + 1, proto, db, user, ul, addr);
    }
    return n;
}

static void proxy_argv(int proto, int db, const char *user, const char *addr, int argc, char **argv,
                       size_t *argvlen, const char ***avp, size_t **alp, char pa[PROXY_ARG_LEN],
                       char **pap)
{
    const char **av = *avp;
    size_t *al = *alp;
    int n = argc + 2;
    if (n > 64) {
        av = malloc((size_t)n * sizeof(*av));
        al = malloc((size_t)n * sizeof(*al));
        if (!av || !al) {
            serverLog(LL_WARNING, "Out of memory forwarding a command");
            exit(1);
        }
    }
    av[0] = "RAFT.PROXY";
    al[0] = 10;
    al[1] = proxy_arg(proto, db, user, addr, pa, pap);
    av[1] = *pap;
    for (int i = 0; i < argc; i++) {
        av[i + 2] = argv[i];
        al[i + 2] = argvlen[i];
    }
    *avp = av;
    *alp = al;
}

void proxy_forward_attempt(slot *w, int db, const char *user, int argc, char **argv,
                           size_t *argvlen)
{
    if (too_large(argc + 2, argvlen, argc)) {
        blocking_attempt_outcome(w, ATTEMPT_UNKNOWN, 0, TOO_LARGE, sizeof(TOO_LARGE) - 1);
        return;
    }
    const char *sav[64];
    size_t sal[64];
    const char **av = sav;
    size_t *al = sal;
    char pa[PROXY_ARG_LEN], *pap;
    proxy_argv(w->out.proto, db, user, NULL, argc, argv, argvlen, &av, &al, pa, &pap);
    send_slot(w, argc + 2, av, al);
    if (av != sav) free(av);
    if (al != sal) free(al);
    if (pap != pa) free(pap);
}

void proxy_forward(client *c, int argc, char **argv, size_t *argvlen)
{
    if (refuse_too_large(c, argc + 2, argvlen, argc)) return;
    const char *sav[64];
    size_t sal[64];
    const char **av = sav;
    size_t *al = sal;
    char pa[PROXY_ARG_LEN], *pap;
    proxy_argv(c->proto, c->db, acl_user_name(c->user), c->addr, argc, argv, argvlen, &av, &al, pa,
               &pap);
    send_argv(c, argc + 2, av, al);
    if (av != sav) free(av);
    if (al != sal) free(al);
    if (pap != pa) free(pap);
}

void proxy_forward_multi(client *c)
{
    int n = 3;
    uint64_t total = 0;
    for (int i = 0; i < c->mq_len; i++) {
        n += 1 + c->mq[i].argc;
        for (int j = 0; j < c->mq[i].argc; j++)
            total += c->mq[i].argvlen[j];
    }
    size_t tl = (size_t)(total < SIZE_MAX ? total : SIZE_MAX);
    if (refuse_too_large(c, n, &tl, 1)) return;
    const char **av = malloc((size_t)n * sizeof(*av));
    size_t *al = malloc((size_t)n * sizeof(*al));
    char *nums = malloc((size_t)(c->mq_len + 1) * 16);
    if (!av || !al || !nums) {
        serverLog(LL_WARNING, "Out of memory forwarding a transaction");
        exit(1);
    }
    int k = 0;
    av[k] = "RAFT.PROXYEXEC";
    al[k++] = 14;
    char pa[PROXY_ARG_LEN], *pap;
    al[k] = proxy_arg(c->proto, c->db, acl_user_name(c->user), c->addr, pa, &pap);
    av[k++] = pap;
    char *np = nums;
    al[k] = (size_t)sprintf(np, "%d", c->mq_len);
    av[k++] = np;
    np += 16;
    for (int i = 0; i < c->mq_len; i++) {
        al[k] = (size_t)sprintf(np, "%d", c->mq[i].argc);
        av[k++] = np;
        np += 16;
        for (int j = 0; j < c->mq[i].argc; j++) {
            av[k] = c->mq[i].argv[j];
            al[k++] = c->mq[i].argvlen[j];
        }
    }
    send_argv(c, k, av, al);
    free(av);
    free(al);
    free(nums);
    if (pap != pa) free(pap);
}

/* A leader that stops answering is dropped after raft-request-timeout. */
void proxy_cron(void)
{
    if (ctx && pending && mstime() - oldest_sent > cfg.raft_request_timeout) {
        serverLog(LL_WARNING, "Proxy: the leader did not answer for %d ms; dropping the connection",
                  cfg.raft_request_timeout);
        drop_ctx();
    }
}

void proxy_shutdown(void)
{
    drop_ctx();
}

uint64_t proxy_pending(void)
{
    return pending;
}
