/* proxy.c -- follower-mode proxy (DESIGN.md "Followers"): a follower keeps
 * each client's connection state itself and forwards its writes (and a whole
 * MULTI...EXEC) to the leader as RAFT.PROXY / RAFT.PROXYEXEC over one hiredis
 * connection, opened with RAFT.HELLO like a peer's. The leader answers each
 * with the reply already encoded in the client's protocol, as one bulk
 * string, which the follower relays unchanged in the client's pipeline
 * order (hiredis 0.14 cannot parse RESP3, which is why the reply travels
 * encoded). A read that comes behind a forwarded write is forwarded too, so
 * it sees that write.
 *
 * A forwarded command whose connection fails, or which is unanswered after
 * raft-request-timeout, is answered -TIMEOUT: it may have happened. */
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/log.h"
#include "server/server.h"

static redisAsyncContext *ctx;
static uint64_t ctx_leader; /* the leader ctx talks to */
static uint64_t pending;    /* commands sent, not answered */
static int64_t oldest_sent; /* ms: when the oldest unanswered one was sent */
static int64_t last_reply;  /* ms */

static const char LOST[] = "TIMEOUT the connection to the leader was lost; the command may "
                           "or may not have been executed";

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
    s->state = SLOT_DONE;
    c->npending--;
    c->nproxy--;
    client_mark_dirty(c);
}

static void on_reply(redisAsyncContext *ac, void *r, void *priv)
{
    (void)ac;
    redisReply *reply = r;
    slot *s = priv;
    if (pending) pending--;
    last_reply = oldest_sent = mstime();
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

static void on_hello(redisAsyncContext *ac, void *r, void *priv)
{
    (void)priv;
    redisReply *reply = r;
    if (reply && reply->type == REDIS_REPLY_ERROR) {
        serverLog(LL_WARNING, "Proxy: the leader refused RAFT.HELLO: %s", reply->str);
        redisAsyncDisconnect(ac);
    }
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    if (status != REDIS_OK) {
        serverLog(LL_NOTICE, "Proxy: connecting to the leader failed: %s", ac->errstr);
        if (ac == ctx) ctx = NULL; /* hiredis frees it */
    }
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    (void)status;
    if (ac == ctx) ctx = NULL; /* hiredis frees it; pending callbacks get NULL */
}

/* The connection to the current leader, opened (and hello'd) on demand. */
static redisAsyncContext *leader_ctx(void)
{
    int port = 0;
    const char *host = driver_leader_addr(&port);
    uint64_t lid = driver_leader_id();
    if (ctx && ctx_leader != lid) {
        serverLog(LL_NOTICE, "Proxy: the leader changed; reconnecting");
        redisAsyncContext *old = ctx;
        ctx = NULL;
        redisAsyncFree(old); /* pending commands are answered -TIMEOUT */
    }
    if (ctx || !host) return ctx;
    char self[256] = "";
    int sport = 0;
    const char *shost = driver_self_addr(&sport);
    if (shost) snprintf(self, sizeof(self), "%s", shost);
    redisAsyncContext *ac = redisAsyncConnectBind(host, port, self[0] ? self : NULL);
    if (!ac || ac->err) {
        serverLog(LL_WARNING, "Proxy: cannot connect to the leader %s:%d: %s", host, port,
                  ac ? ac->errstr : "out of memory");
        if (ac) redisAsyncFree(ac);
        return NULL;
    }
    redisLibeventAttach(ac, srv.base);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    char nid[32];
    snprintf(nid, sizeof(nid), "%d", cfg.node_id);
    const char *hv[4] = {"RAFT.HELLO", cfg.cluster_id, nid, cfg.cluster_secret};
    size_t hl[4] = {10, strlen(cfg.cluster_id), strlen(nid), strlen(cfg.cluster_secret)};
    redisAsyncCommandArgv(ac, on_hello, NULL, 4, hv, hl);
    ctx = ac;
    ctx_leader = lid;
    pending = 0;
    last_reply = mstime();
    return ctx;
}

static void send_argv(client *c, int n, const char **av, const size_t *al)
{
    slot *s = client_new_slot(c, SLOT_PROXY);
    c->nproxy++;
    redisAsyncContext *ac = leader_ctx();
    if (!ac || redisAsyncCommandArgv(ac, on_reply, s, n, av, al) != REDIS_OK) {
        finish(s, NULL, 0, ac ? LOST : "CLUSTERDOWN No raft leader");
        return;
    }
    if (!pending++) oldest_sent = mstime();
}

void proxy_forward(client *c, int argc, char **argv, size_t *argvlen)
{
    const char *sav[64];
    size_t sal[64];
    int n = argc + 2;
    const char **av = n <= 64 ? sav : malloc((size_t)n * sizeof(*av));
    size_t *al = n <= 64 ? sal : malloc((size_t)n * sizeof(*al));
    if (!av || !al) {
        serverLog(LL_WARNING, "Out of memory forwarding a command");
        exit(1);
    }
    av[0] = "RAFT.PROXY";
    al[0] = 10;
    av[1] = c->proto == 3 ? "3" : "2";
    al[1] = 1;
    for (int i = 0; i < argc; i++) {
        av[i + 2] = argv[i];
        al[i + 2] = argvlen[i];
    }
    send_argv(c, n, av, al);
    if (av != sav) free(av);
    if (al != sal) free(al);
}

void proxy_forward_multi(client *c)
{
    int n = 3;
    for (int i = 0; i < c->mq_len; i++)
        n += 1 + c->mq[i].argc;
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
    av[k] = c->proto == 3 ? "3" : "2";
    al[k++] = 1;
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
}

/* A leader that stops answering is dropped after raft-request-timeout. */
void proxy_cron(void)
{
    if (ctx && pending && mstime() - oldest_sent > cfg.raft_request_timeout) {
        serverLog(LL_WARNING, "Proxy: the leader did not answer for %d ms; dropping the connection",
                  cfg.raft_request_timeout);
        redisAsyncContext *old = ctx;
        ctx = NULL;
        redisAsyncFree(old);
    }
}

void proxy_shutdown(void)
{
    if (ctx) {
        redisAsyncContext *old = ctx;
        ctx = NULL;
        redisAsyncFree(old);
    }
}
