/* migrate.c -- MIGRATE (server/migrate.h): a hiredis connection to the
 * target on the server's loop, one migration per command.
 *
 * Lifetime. A migration lives in a list until reaped by its own timer
 * (never inside a hiredis callback, where freeing the context is unsafe):
 * done() answers (or hands the slot to the write path), marks it M_DONE
 * and arms the timer at 0; the timer then frees the hiredis context, if
 * hiredis has not freed it itself, and the migration. ac->data points to
 * the migration for as long as the context lives; hiredis frees the
 * context itself after a failed connect (onConnect with an error) and
 * after an error or EOF (its pending callbacks get a NULL reply, then
 * onDisconnect), and each of those sets m->ac to NULL. */
#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/sds.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/log.h"
#include "server/migrate.h"
#include "server/server.h"
#include "storage/kverr.h"

#define POLL_US 1000 /* a migration waiting for its client's writes looks again after this */

enum { M_WAIT_APPLIED, M_TALKING, M_DONE };

typedef struct migration {
    client *c;      /* NULL once the client is gone */
    slot *s;        /* the held reply (SLOT_BLOCKED in c's queue); NULL once answered */
    int holds;      /* c's input waits (c->migrating) */
    int state;      /* M_* */
    uint64_t after; /* c's newest write when MIGRATE came: read once it is applied */
    int64_t since;  /* ms (mstime) the migration began */
    int db;         /* the client's database */
    long long dbid; /* the target's */
    long timeout;   /* ms */
    int copy, replace;
    char *host; /* owned */
    int port;
    char *user, *pass; /* AUTH2 / AUTH, owned, or NULL */
    int nkeys;
    char **keys; /* owned (argv_copy): the keys named */
    size_t *keylens;
    /* The RESTOREs sent: key index, and whether the target answered OK. */
    int nsent;
    int *sent;
    char *ok;
    int npre;          /* replies before the RESTOREs' (AUTH, SELECT) */
    int got;           /* replies received */
    int connected;     /* the connect completed */
    size_t unsent;     /* bytes of hiredis's output buffer at the last timeout */
    char *auth_err;    /* the target's errors, owned */
    char *select_err;  /* ... */
    char *restore_err; /* ... the first RESTORE's */
    redisAsyncContext *ac;
    struct event *timer;
    struct migration *prev, *next;
} migration;

static migration *mhead;

static void on_timer(evutil_socket_t fd, short what, void *arg);

static char *xstrndup(const char *s, size_t n)
{
    char *p = server_calloc(1, n + 1, "running MIGRATE");
    memcpy(p, s, n);
    return p;
}

static void arm(migration *m, int64_t us)
{
    struct timeval tv = {(time_t)(us / 1000000), (suseconds_t)(us % 1000000)};
    evtimer_add(m->timer, &tv);
}

/* ------------------------------------------------------------ parsing */

/* Redis's getLongFromObjectOrReply: string2ll, then a long's range. */
static int parse_long(const char *s, size_t n, long long *out)
{
    long long v;
    if (!kv_string2ll(s, n, &v) || v < LONG_MIN || v > LONG_MAX) return 0;
    *out = v;
    return 1;
}

/* The options, in migrateCommand's order of checks. Returns 0, or -1 with
 * the error in err. */
static int parse(migration *m, int argc, char **argv, size_t *lens, int *first, int *nkeys,
                 const char **err)
{
    *first = 3;
    *nkeys = 1;
    for (int j = 6; j < argc; j++) {
        int more = argc - 1 - j;
        if (!strcasecmp(argv[j], "copy")) {
            m->copy = 1;
        } else if (!strcasecmp(argv[j], "replace")) {
            m->replace = 1;
        } else if (!strcasecmp(argv[j], "auth")) {
            if (!more) goto syntax;
            j++;
            free(m->pass); /* a username an earlier AUTH2 gave stays, as in Redis */
            m->pass = xstrndup(argv[j], lens[j]);
        } else if (!strcasecmp(argv[j], "auth2")) {
            if (more < 2) goto syntax;
            free(m->pass);
            free(m->user);
            m->user = xstrndup(argv[j + 1], lens[j + 1]);
            m->pass = xstrndup(argv[j + 2], lens[j + 2]);
            j += 2;
        } else if (!strcasecmp(argv[j], "keys")) {
            if (lens[3] != 0) {
                *err = "ERR When using MIGRATE KEYS option, the key argument must be set to the "
                       "empty string";
                return -1;
            }
            *first = j + 1;
            *nkeys = argc - j - 1;
            break; /* the rest are keys */
        } else {
            goto syntax;
        }
    }
    long long timeout;
    if (!parse_long(argv[5], lens[5], &timeout) || !parse_long(argv[4], lens[4], &m->dbid)) {
        *err = "ERR value is not an integer or out of range";
        return -1;
    }
    m->timeout = timeout <= 0 ? 1000 : (long)timeout;
    return 0;
syntax:
    *err = "ERR syntax error";
    return -1;
}

/* ------------------------------------------------------------ ending */

static void migration_free(migration *m)
{
    if (m->prev)
        m->prev->next = m->next;
    else
        mhead = m->next;
    if (m->next) m->next->prev = m->prev;
    if (m->timer) event_free(m->timer);
    free(m->host);
    free(m->user);
    free(m->pass);
    free(m->keys);
    free(m->sent);
    free(m->ok);
    free(m->auth_err);
    free(m->select_err);
    free(m->restore_err);
    free(m);
}

/* The client may run its next commands. */
static void release(migration *m)
{
    if (m->c && m->holds) {
        m->c->migrating = 0;
        client_resume_input(m->c);
    }
    m->holds = 0;
}

/* Ends m: the reaping is left to its timer (outside any hiredis callback). */
static void finish(migration *m)
{
    release(m);
    m->state = M_DONE;
    arm(m, 0);
}

/* Answers the held slot with what its out holds. */
static void answer(migration *m)
{
    slot *s = m->s;
    m->s = NULL;
    if (s && m->c) slot_done(s);
    finish(m);
}

static void answer_error(migration *m, const char *err)
{
    if (m->s) resp_add_error(&m->s->out, err);
    answer(m);
}

/* The reply (already in the slot) goes out once the DEL of the keys the
 * target accepted applies; with none to delete (or COPY), at once. */
static void conclude(migration *m)
{
    int n = 0;
    if (!m->copy)
        for (int i = 0; i < m->nsent; i++)
            n += m->ok[i];
    if (!n || !m->s || !m->c) {
        answer(m);
        return;
    }
    char **av = server_calloc((size_t)n + 1, sizeof(*av), "running MIGRATE");
    size_t *al = server_calloc((size_t)n + 1, sizeof(*al), "running MIGRATE");
    av[0] = "del";
    al[0] = 3;
    for (int i = 0, k = 1; i < m->nsent; i++)
        if (m->ok[i]) {
            av[k] = m->keys[m->sent[i]];
            al[k++] = m->keylens[m->sent[i]];
        }
    const char *err = NULL;
    m->s->keep_reply = 1;
    if (write_propose_slot(m->s, m->db, n + 1, av, al, &err) == 0) {
        m->s = NULL; /* the write path answers it */
        finish(m);
    } else {
        m->s->keep_reply = 0;
        resp_buf_reset(&m->s->out);
        answer_error(m, err);
    }
    free(av);
    free(al);
}

/* A connection that failed, or a timeout: Redis's -IOERR (the keys the
 * target already accepted are deleted, as Redis does). Redis's blocking
 * connect fails only when no socket could be made (an address that does not
 * resolve); a refused or timed-out connect shows when it writes. */
static void io_error(migration *m)
{
    const char *what = "reading";
    if (!m->connected || (m->ac && m->ac->c.obuf && sdslen(m->ac->c.obuf) > 0)) what = "writing";
    if (m->s) resp_add_errorf(&m->s->out, "IOERR error or timeout %s to target instance", what);
    conclude(m);
}

/* ------------------------------------------------------------ the target */

static void on_reply(redisAsyncContext *ac, void *r, void *priv)
{
    (void)priv;
    migration *m = ac->data;
    redisReply *reply = r;
    if (!m) return;
    if (!reply) { /* hiredis is freeing ac: an error or EOF */
        int was = m->state;
        if (was == M_TALKING) io_error(m); /* reads ac's buffer: before it is gone */
        m->ac = NULL;
        ac->data = NULL;
        return;
    }
    if (m->state != M_TALKING) return;
    int i = m->got++;
    char **slot_err = NULL;
    if (i < m->npre)
        slot_err = (m->pass && i == 0) ? &m->auth_err : &m->select_err;
    else if (!m->restore_err)
        slot_err = &m->restore_err;
    int is_err = reply->type == REDIS_REPLY_ERROR;
    if (is_err && slot_err && !*slot_err) *slot_err = xstrndup(reply->str, reply->len);
    if (i >= m->npre) m->ok[i - m->npre] = !is_err && !m->auth_err && !m->select_err;
    if (m->got < m->npre + m->nsent) {
        arm(m, (int64_t)m->timeout * 1000); /* the timeout is per reply, as Redis's reads */
        return;
    }
    const char *e = m->auth_err ? m->auth_err : m->select_err ? m->select_err : m->restore_err;
    if (m->s) {
        if (e)
            resp_add_errorf(&m->s->out, "ERR Target instance replied with error: %s", e);
        else
            resp_add_ok(&m->s->out);
    }
    conclude(m);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    migration *m = ac->data;
    if (!m) return;
    if (status == REDIS_OK) {
        m->connected = 1;
        m->unsent = ac->c.obuf ? sdslen(ac->c.obuf) : 0;
        if (m->state == M_TALKING) arm(m, (int64_t)m->timeout * 1000);
        return;
    }
    m->ac = NULL; /* hiredis frees it when this returns */
    ((redisAsyncContext *)ac)->data = NULL;
    if (m->state == M_TALKING) io_error(m);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    (void)status;
    migration *m = ac->data;
    if (!m) return;
    m->ac = NULL; /* hiredis frees it when this returns */
    ((redisAsyncContext *)ac)->data = NULL;
    if (m->state == M_TALKING) io_error(m);
}

/* Reads a key's DUMP payload (a RESP2 bulk string in *dump) and PTTL from
 * this node's state. Returns 0 when the key does not exist. */
static int read_key(int db, char *key, size_t len, resp_buf *dump, long long *pttl)
{
    char *av[2] = {"dump", key};
    size_t al[2] = {4, len};
    int64_t now = mstime();
    int rc = kvstate_read(srv.state, db, NULL, 2, av, al, now, dump);
    if (!rc) {
        resp_buf t;
        resp_buf_init(&t, 2);
        av[0] = "pttl";
        rc = kvstate_read(srv.state, db, NULL, 2, av, al, now, &t);
        *pttl = t.len > 1 && t.p[0] == ':' ? strtoll(t.p + 1, NULL, 10) : -2;
        resp_buf_free(&t);
    }
    if (rc) {
        serverLog(LL_WARNING, "Reading the state for MIGRATE: %s. Stopping.", kv_strerror(rc));
        exit(1);
    }
    return dump->len > 0 && dump->p[0] == '$' && dump->p[1] != '-' && *pttl != -2;
}

/* The payload bytes of a RESP2 bulk string. */
static const char *bulk_bytes(const resp_buf *b, size_t *n)
{
    const char *crlf = memchr(b->p, '\r', b->len);
    *n = (size_t)strtoull(b->p + 1, NULL, 10);
    return crlf + 2;
}

static void send_argv(migration *m, int argc, const char **av, const size_t *al)
{
    if (m->ac && redisAsyncCommandArgv(m->ac, on_reply, NULL, argc, av, al) != REDIS_OK)
        serverLog(LL_VERBOSE, "MIGRATE: could not queue a command for %s:%d", m->host, m->port);
}

/* The client's earlier writes are applied: read the keys, connect, send. */
static void transfer(migration *m)
{
    int nfound = 0;
    resp_buf *dumps = server_calloc((size_t)m->nkeys, sizeof(*dumps), "running MIGRATE");
    long long *ttls = server_calloc((size_t)m->nkeys, sizeof(*ttls), "running MIGRATE");
    m->sent = server_calloc((size_t)m->nkeys, sizeof(*m->sent), "running MIGRATE");
    m->ok = server_calloc((size_t)m->nkeys, 1, "running MIGRATE");
    for (int i = 0; i < m->nkeys; i++) {
        resp_buf_init(&dumps[i], 2);
        if (read_key(m->db, m->keys[i], m->keylens[i], &dumps[i], &ttls[i])) m->sent[nfound++] = i;
    }
    if (!nfound) {
        if (m->s) resp_add_simple(&m->s->out, "NOKEY");
        answer(m);
        goto out;
    }
    m->state = M_TALKING;
    redisAsyncContext *ac = redisAsyncConnect(m->host, m->port);
    if (!ac || ac->err) {
        if (ac) redisAsyncFree(ac); /* not connected: no callback runs */
        if (m->s) resp_add_error(&m->s->out, "IOERR error or timeout connecting to the client");
        answer(m);
        goto out;
    }
    ac->data = m;
    m->ac = ac;
    if (redisLibeventAttach(ac, srv.base) != REDIS_OK) {
        m->ac = NULL;
        ac->data = NULL;
        redisAsyncFree(ac);
        io_error(m);
        goto out;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    if (m->pass) {
        const char *av[3] = {"AUTH", m->user ? m->user : m->pass, m->pass};
        size_t al[3] = {4, strlen(av[1]), strlen(m->pass)};
        send_argv(m, m->user ? 3 : 2, av, al);
        m->npre++;
    }
    char db[32];
    const char *sav[2] = {"SELECT", db};
    size_t sal[2] = {6, (size_t)snprintf(db, sizeof(db), "%lld", m->dbid)};
    send_argv(m, 2, sav, sal);
    m->npre++;
    for (int k = 0; k < nfound; k++) {
        int i = m->sent[k];
        char ttl[32];
        long long t = ttls[i] < 0 ? 0 : ttls[i] < 1 ? 1 : ttls[i];
        size_t plen;
        const char *p = bulk_bytes(&dumps[i], &plen);
        const char *av[5] = {"RESTORE", m->keys[i], ttl, p, "REPLACE"};
        size_t al[5] = {7, m->keylens[i], (size_t)snprintf(ttl, sizeof(ttl), "%lld", t), plen, 7};
        send_argv(m, m->replace ? 5 : 4, av, al);
        resp_buf_free(&dumps[i]);
        resp_buf_init(&dumps[i], 2);
    }
    m->nsent = nfound;
    arm(m, (int64_t)m->timeout * 1000); /* the connect's timeout */
out:
    for (int i = 0; i < m->nkeys; i++)
        resp_buf_free(&dumps[i]);
    free(dumps);
    free(ttls);
}

/* ------------------------------------------------------------ the timer */

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    migration *m = arg;
    switch (m->state) {
    case M_WAIT_APPLIED:
        if (!m->c) {
            finish(m);
        } else if (kvstate_applied_index(srv.state) >= m->after) {
            transfer(m);
        } else if (!driver_is_leader() || mstime() - m->since > (int64_t)cfg.raft_request_timeout) {
            /* Its earlier write will not apply here: nothing was sent. */
            answer_error(m, "TRYAGAIN the client's earlier writes are not applied yet");
        } else {
            arm(m, POLL_US);
        }
        break;
    case M_TALKING: {
        /* As Redis's timeout, one per I/O: a write that still progresses
         * (a large payload) gets another period. */
        size_t left = m->connected && m->ac && m->ac->c.obuf ? sdslen(m->ac->c.obuf) : 0;
        if (left && left != m->unsent) {
            m->unsent = left;
            arm(m, (int64_t)m->timeout * 1000);
        } else {
            io_error(m); /* no connect, no write progress or no reply in time */
        }
        break;
    }
    default: /* M_DONE: reap */
        if (m->ac) {
            redisAsyncContext *ac = m->ac;
            m->ac = NULL;
            ac->data = NULL;
            redisAsyncFree(ac); /* its callbacks see no migration */
        }
        migration_free(m);
        break;
    }
}

/* ------------------------------------------------------------ the command */

/* A follower: forwarded like a write in proxy mode (never by a peer's
 * RAFT.PROXY), else where the leader is. */
static void not_leader(client *c, int argc, char **argv, size_t *lens, int first)
{
    if (!c->peer_id && driver_leader_known() && !strcmp(cfg.follower_mode, "proxy")) {
        proxy_forward(c, argc, argv, lens);
        return;
    }
    int port = 0;
    const char *host = driver_leader_addr(&port);
    resp_buf *b = client_reply_buf(c);
    if (!host) {
        resp_add_error(b, "CLUSTERDOWN No raft leader");
        return;
    }
    unsigned keyslot = first < argc ? driver_key_slot(argv[first], lens[first]) : 0;
    resp_add_errorf(b, "MOVED %u %s:%d", keyslot, host, port);
}

void migrate_command(client *c, int argc, char **argv, size_t *lens)
{
    migration *m = server_calloc(1, sizeof(*m), "running MIGRATE");
    int first, nkeys;
    const char *err = NULL;
    if (parse(m, argc, argv, lens, &first, &nkeys, &err)) {
        resp_add_error(client_reply_buf(c), err);
        migration_free(m);
        return;
    }
    if (!driver_is_leader()) {
        not_leader(c, argc, argv, lens, first);
        migration_free(m);
        return;
    }
    m->timer = evtimer_new(srv.base, on_timer, m);
    if (!m->timer) {
        serverLog(LL_WARNING, "Out of memory running MIGRATE");
        exit(1);
    }
    m->host = xstrndup(argv[1], lens[1]);
    m->port = atoi(argv[2]); /* as Redis: what does not parse fails to connect */
    m->nkeys = nkeys;
    m->keys = argv_copy(nkeys, argv + first, lens + first, &m->keylens);
    m->c = c;
    m->db = c->db;
    m->after = c->last_write;
    m->since = mstime();
    m->s = client_new_slot(c, SLOT_BLOCKED);
    /* A peer's connection carries every forwarded command of a follower:
     * it is never held (its replies still leave in order). */
    m->holds = !c->peer_id;
    if (m->holds) c->migrating = 1;
    m->next = mhead;
    if (mhead) mhead->prev = m;
    mhead = m;
    if (kvstate_applied_index(srv.state) >= m->after)
        transfer(m);
    else
        arm(m, POLL_US);
}

void migrate_client_gone(client *c)
{
    for (migration *m = mhead; m; m = m->next) {
        if (m->c != c) continue;
        m->c = NULL;
        m->s = NULL; /* client_free() frees it */
        m->holds = 0;
        if (m->state != M_DONE) finish(m);
    }
}
