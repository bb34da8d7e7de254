/* blocking.c -- clients blocked by BLPOP, BRPOP, BLMOVE, BRPOPLPUSH,
 * BLMPOP, BZPOPMIN, BZPOPMAX and BZMPOP (server.h "blocking.c").
 *
 * A client blocks on the node it is connected to. Serving it is a write
 * like any other: an attempt is the command as an entry, proposed here
 * when this node leads, else forwarded to the leader as RAFT.PROXY (which
 * never waits there: found nothing is answered ":<index>" at once, so the
 * follower -> leader pipe keeps its order). The log orders competing
 * attempts, so an element never goes to two clients.
 *
 * When to attempt. The state hook key_ready (called while an entry
 * applies, on every node) only records the key; after the pass's applies,
 * blocking_pass() looks at this node's state: per ready key, as many of the
 * clients waiting on it (in the order they blocked) as the key has elements
 * make an attempt, if they have none in flight. A retry names only the
 * keys that hold the command's type with elements (in argument order), so
 * a key that became another type does not answer WRONGTYPE to a client
 * that waits on others too: Redis 7.0 keeps such a client blocked and
 * serves it from the key that is ready. An attempt's outcome:
 *   served:  the reply goes to the client's slot, its input resumes (a
 *            pop that leaves elements signals its key, so the next clients
 *            are tried when this node applies it);
 *   blocked: found nothing at index i: once this node has applied i, its
 *            keys are looked at again (a push applied here while the
 *            attempt was in flight did not wake it);
 *   retry:   not executed (no leader, not committed): looked at again
 *            after RETRY_MS (a first attempt that never ran is tried
 *            again as given, so its errors are still Redis's);
 *   unknown: a lost forwarded attempt or a write timeout: the client gets
 *            the error (the element may or may not have been popped).
 * A timeout (or CLIENT UNBLOCK) with an attempt in flight waits for it:
 * served wins, anything else answers the timeout.
 *
 * XREAD / XREADGROUP with BLOCK block the same way, with two differences: a
 * read does not consume the stream, so every client a ready key can serve
 * tries (RAFT.XREADY says which: entries after its id, or after its
 * group's last delivered one), and XREAD's $ is resolved to the stream's
 * last id in this node's state when the client blocks. */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/acl.h"
#include "server/log.h"
#include "server/server.h"
#include "storage/kverr.h"

#define RETRY_MS 50 /* an attempt that did not execute is retried after this */

enum { K_LIST, K_ZSET, K_STREAM };

typedef struct waitkey waitkey;

/* A client's place in the queue of one key it waits on. */
typedef struct waiter {
    struct blockstate *b;
    waitkey *wk;
    struct waiter *prev, *next;
} waiter;

/* A key some client of this node waits on, with its clients in the order
 * they blocked. */
struct waitkey {
    waitkey *hnext; /* hash chain */
    uint64_t hash;
    int db;
    int ready; /* on the ready list, or being served: not freed */
    waiter *head, *tail;
    size_t keylen;
    char key[];
};

typedef struct blockstate {
    client *c;
    slot *reply; /* SLOT_BLOCKED, in c's queue */
    int argc;
    char **argv; /* owned copy (argv_copy) */
    size_t *argvlen;
    int db, proto, kind;
    kv_block_args args; /* where its timeout and keys are (kvcmd.h) */
    int nkeys;          /* distinct keys waited on */
    int *keyarg;        /* argv index of each */
    waiter *w;          /* nkeys, one per key */
    struct event *timer;
    int64_t deadline_us; /* CLOCK_MONOTONIC */
    slot *attempt;       /* in flight, or NULL */
    int expired;         /* timeout or CLIENT UNBLOCK came while an attempt was in flight */
    int expire_err;      /* ... CLIENT UNBLOCK ERROR */
    int waiting;         /* its first attempt found nothing: what INFO and CLIENT LIST count */
    int executed;        /* an attempt was applied (found nothing) */
    int check;           /* look at its keys once applied >= check_index and now >= check_at */
    uint64_t check_index;
    int64_t check_at;
    uint64_t pass_gen;              /* the last serve_key / check walk that looked at it */
    struct blockstate *prev, *next; /* all blocked clients, in the order they blocked */
} blockstate;

static blockstate *bhead, *btail;
static int nblocked;
static int nwaiting; /* blockstate.waiting */
static int nchecks;  /* clients with check set */

static waitkey **table;
static size_t tsize, tcount;
static waitkey **readyv; /* keys made ready since the last pass */
static size_t nready, readycap;
static uint64_t db_all_ready; /* bit per db: every key may be ready (SWAPDB, a snapshot) */

/* ------------------------------------------------------------ keys */

static uint64_t key_hash(int db, const char *key, size_t len)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)db;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)key[i]) * 1099511628211ULL;
    return h ^ (h >> 29);
}

static waitkey *wk_find(int db, const char *key, size_t len, uint64_t h)
{
    if (!tsize) return NULL;
    for (waitkey *k = table[h & (tsize - 1)]; k; k = k->hnext)
        if (k->hash == h && k->db == db && k->keylen == len && !memcmp(k->key, key, len)) return k;
    return NULL;
}

static void wk_grow(void)
{
    size_t n = tsize ? tsize * 2 : 64;
    waitkey **t = server_calloc(n, sizeof(*t), "blocking a client");
    for (size_t i = 0; i < tsize; i++)
        for (waitkey *k = table[i], *next; k; k = next) {
            next = k->hnext;
            k->hnext = t[k->hash & (n - 1)];
            t[k->hash & (n - 1)] = k;
        }
    free(table);
    table = t;
    tsize = n;
}

static waitkey *wk_get(int db, const char *key, size_t len)
{
    uint64_t h = key_hash(db, key, len);
    waitkey *k = wk_find(db, key, len, h);
    if (k) return k;
    if ((tcount + 1) * 4 > tsize * 3) wk_grow();
    k = server_calloc(1, sizeof(*k) + len + 1, "blocking a client");
    memcpy(k->key, key, len);
    k->keylen = len;
    k->db = db;
    k->hash = h;
    k->hnext = table[h & (tsize - 1)];
    table[h & (tsize - 1)] = k;
    tcount++;
    return k;
}

/* Frees k once no client waits on it (a ready key stays until the pass). */
static void wk_release(waitkey *k)
{
    if (k->head || k->ready) return;
    for (waitkey **pp = &table[k->hash & (tsize - 1)]; *pp; pp = &(*pp)->hnext)
        if (*pp == k) {
            *pp = k->hnext;
            break;
        }
    tcount--;
    free(k);
}

static void mark_ready(waitkey *k)
{
    if (k->ready) return;
    if (nready == readycap) {
        size_t cap = readycap ? readycap * 2 : 16;
        waitkey **v = realloc(readyv, cap * sizeof(*v));
        if (!v) {
            serverLog(LL_WARNING, "Out of memory noting a ready key");
            exit(1);
        }
        readyv = v;
        readycap = cap;
    }
    k->ready = 1;
    readyv[nready++] = k;
}

void blocking_key_ready(void *ctx, int db, const char *key, size_t keylen)
{
    (void)ctx;
    if (!nblocked || db < 0 || db >= 64) return;
    if (!key) {
        db_all_ready |= 1ULL << db;
        return;
    }
    waitkey *k = wk_find(db, key, keylen, key_hash(db, key, keylen));
    if (k) mark_ready(k);
}

void blocking_state_replaced(void)
{
    if (nblocked) db_all_ready = ~0ULL;
}

/* ------------------------------------------------------------ the command */

/* Fills b->keyarg with the distinct keys the command waits on, in
 * argument order. */
static void find_keys(blockstate *b)
{
    const kv_block_args *a = &b->args;
    b->keyarg = server_calloc((size_t)(a->nkeys ? a->nkeys : 1), sizeof(int), "blocking a client");
    for (int i = a->firstkey; i < a->firstkey + a->nkeys; i++) {
        int dup = 0;
        for (int j = 0; j < b->nkeys && !dup; j++)
            dup = b->argvlen[b->keyarg[j]] == b->argvlen[i] &&
                  !memcmp(b->argv[b->keyarg[j]], b->argv[i], b->argvlen[i]);
        if (!dup) b->keyarg[b->nkeys++] = i;
    }
}

/* Elements key holds for a command of kind (this node's state), 0 when it
 * is missing or of another type. */
static long long key_elements(int db, int kind, const char *key, size_t len)
{
    char *argv[2] = {kind == K_LIST ? "llen" : "zcard", (char *)key};
    size_t argvlen[2] = {strlen(argv[0]), len};
    resp_buf r;
    resp_buf_init(&r, 2);
    int rc = kvstate_read(srv.state, db, NULL, 2, argv, argvlen, mstime(), &r);
    if (rc) {
        serverLog(LL_WARNING, "Reading the state for a blocked client: %s. Stopping.",
                  kv_strerror(rc));
        exit(1);
    }
    long long n = 0;
    if (r.len > 1 && r.p[0] == ':') n = strtoll(r.p + 1, NULL, 10);
    resp_buf_free(&r);
    return n;
}

/* A read of this node's state by an internal or data command; its reply
 * in r (the caller frees it). */
static void state_read(int db, int argc, char **argv, size_t *argvlen, resp_buf *r)
{
    resp_buf_init(r, 2);
    int rc = kvstate_read(srv.state, db, NULL, argc, argv, argvlen, mstime(), r);
    if (rc) {
        serverLog(LL_WARNING, "Reading the state for a blocked client: %s. Stopping.",
                  kv_strerror(rc));
        exit(1);
    }
}

/* XREAD / XREADGROUP: whether b's attempt would serve something from its
 * i-th key now (RAFT.XREADY, storage/kvx_stream.c): 1 yes, 0 no; for
 * XREADGROUP also 2 (its group is gone) and 3 (the key is gone). A stream
 * is not consumed by a read, so every client it can serve tries. */
static int stream_ready(blockstate *b, int i)
{
    const kv_block_args *a = &b->args;
    int k = b->keyarg[i], id = k + a->nkeys;
    char *argv[4] = {"raft.xready", b->argv[k], b->argv[id], NULL};
    size_t argvlen[4] = {11, b->argvlen[k], b->argvlen[id], 0};
    int argc = 3;
    if (!strcasecmp(b->argv[0], "xreadgroup")) {
        for (int j = 1; j + 1 < a->firstkey; j++)
            if (!strcasecmp(b->argv[j], "group")) {
                argv[3] = b->argv[j + 1];
                argvlen[3] = b->argvlen[j + 1];
                argc = 4;
                break;
            }
    }
    resp_buf r;
    state_read(b->db, argc, argv, argvlen, &r);
    int ready = r.len > 1 && r.p[0] == ':' ? r.p[1] - '0' : 0;
    resp_buf_free(&r);
    return ready;
}

/* XREAD's $ is the stream's last id when the client blocks (Redis), read
 * from this node's state: the copy of argv with every $ id replaced. */
static void resolve_dollar(blockstate *b)
{
    const kv_block_args *a = &b->args;
    if (strcasecmp(b->argv[0], "xread")) return;
    int any = 0;
    for (int i = 0; i < a->nkeys; i++) {
        int id = a->firstkey + a->nkeys + i;
        if (b->argvlen[id] == 1 && b->argv[id][0] == '$') any = 1;
    }
    if (!any) return;
    char **av = server_calloc((size_t)b->argc, sizeof(*av), "blocking a client");
    size_t *al = server_calloc((size_t)b->argc, sizeof(*al), "blocking a client");
    resp_buf *ids = server_calloc((size_t)a->nkeys, sizeof(*ids), "blocking a client");
    for (int i = 0; i < b->argc; i++) {
        av[i] = b->argv[i];
        al[i] = b->argvlen[i];
    }
    for (int i = 0; i < a->nkeys; i++) {
        int k = a->firstkey + i, id = k + a->nkeys;
        if (b->argvlen[id] != 1 || b->argv[id][0] != '$') continue;
        char *argv[2] = {"raft.xlastid", b->argv[k]};
        size_t argvlen[2] = {12, b->argvlen[k]};
        state_read(b->db, 2, argv, argvlen, &ids[i]);
        /* "$<n>\r\n<id>\r\n": the id's bytes. */
        char *p = ids[i].len > 1 && ids[i].p[0] == '$' ? strstr(ids[i].p, "\r\n") : NULL;
        if (p) {
            av[id] = p + 2;
            al[id] = (size_t)strtoul(ids[i].p + 1, NULL, 10);
        }
    }
    size_t *oldlen = b->argvlen;
    char **old = b->argv;
    b->argv = argv_copy(b->argc, av, al, &b->argvlen);
    free(old);
    (void)oldlen; /* part of old's block (argv_copy) */
    for (int i = 0; i < a->nkeys; i++)
        if (ids[i].p) resp_buf_free(&ids[i]);
    free(ids);
    free(av);
    free(al);
}

/* ------------------------------------------------------------ blocked clients */

/* A check already due keeps the later of the two conditions. */
static void check_later(blockstate *b, uint64_t index, int64_t at)
{
    if (b->check) {
        if (b->check_index > index) index = b->check_index;
        if (b->check_at > at) at = b->check_at;
    } else {
        nchecks++;
    }
    b->check = 1;
    b->check_index = index;
    b->check_at = at;
}

static void check_done(blockstate *b)
{
    if (b->check) nchecks--;
    b->check = 0;
}

/* Ends c's blocked state (the reply slot is already answered). */
static void unblock(blockstate *b)
{
    client *c = b->c;
    for (int i = 0; i < b->nkeys; i++) {
        waiter *w = &b->w[i];
        if (w->prev)
            w->prev->next = w->next;
        else
            w->wk->head = w->next;
        if (w->next)
            w->next->prev = w->prev;
        else
            w->wk->tail = w->prev;
        wk_release(w->wk);
    }
    if (b->attempt) b->attempt->blk = NULL; /* completes with no one to answer */
    check_done(b);
    nwaiting -= b->waiting;
    if (b->timer) event_free(b->timer);
    if (b->prev)
        b->prev->next = b->next;
    else
        bhead = b->next;
    if (b->next)
        b->next->prev = b->prev;
    else
        btail = b->prev;
    nblocked--;
    free(b->argv);
    free(b->keyarg);
    free(b->w);
    c->blk = NULL;
    free(b);
}

/* Answers the blocked slot and unblocks; the client's input resumes. */
static void answer(blockstate *b, const char *bytes, size_t n, const char *err, int null)
{
    client *c = b->c;
    slot *s = b->reply;
    if (err)
        resp_add_error(&s->out, err);
    else if (null)
        resp_add_null_array(&s->out);
    else
        resp_add_raw(&s->out, bytes, n);
    /* Not counted in INFO errorstats, as before slot_done() (Redis counts a
     * blocked command's error reply when it unblocks: a change of its own). */
    s->stat = 0;
    slot_done(s);
    unblock(b);
    client_resume_input(c);
}

/* Redis's replyToBlockedClientTimedOut (a null array for every blocking
 * command in 7.0), or CLIENT UNBLOCK ERROR's error. */
static void answer_expired(blockstate *b, int error)
{
    if (error)
        answer(b, NULL, 0, "UNBLOCKED client unblocked via CLIENT UNBLOCK", 0);
    else
        answer(b, NULL, 0, NULL, 1);
}

static void expire(blockstate *b, int error)
{
    if (b->attempt) { /* its outcome decides */
        b->expired = 1;
        b->expire_err = error;
        return;
    }
    answer_expired(b, error);
}

/* libevent's timers run on a coarse clock and may fire a little early:
 * the timeout never answers before its time. */
static void arm(blockstate *b)
{
    int64_t us = b->deadline_us - mono_us();
    if (us < 0) us = 0;
    struct timeval tv = {(time_t)(us / 1000000), (suseconds_t)(us % 1000000)};
    evtimer_add(b->timer, &tv);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    blockstate *b = arg;
    if (mono_us() < b->deadline_us)
        arm(b);
    else if (!b->expired)
        expire(b, 0);
}

/* Makes an attempt with the given argv (owned by the caller). */
static void attempt_argv(blockstate *b, int argc, char **argv, size_t *argvlen)
{
    check_done(b);
    if (driver_is_leader()) {
        const char *err;
        slot *w = write_propose_attempt(b->db, b->proto, argc, argv, argvlen, &err);
        if (!w && err)
            answer(b, NULL, 0, err, 0);
        else if (!w)
            check_later(b, 0, mstime() + RETRY_MS);
        if (!w) return;
        w->blk = b;
        b->attempt = w;
        return;
    }
    slot *w = slot_new_detached(b->proto);
    w->state = SLOT_PROXY;
    w->blk = b;
    b->attempt = w;
    proxy_forward_attempt(w, b->db, acl_user_name(b->c->user), argc, argv,
                          argvlen); /* may answer at once */
}

/* A retry: the command naming only the keys of this node's state that hold
 * its type with elements (in argument order; BLMPOP's numkeys adjusted);
 * nothing when there is none. Returns 1 when it made an attempt. */
static int attempt_ready(blockstate *b)
{
    const kv_block_args *a = &b->args;
    if (!b->executed) { /* the first attempt never ran: it is the command as given */
        attempt_argv(b, b->argc, b->argv, b->argvlen);
        return 1;
    }
    if (b->kind == K_STREAM) { /* the whole command, once a key can serve it */
        for (int i = 0; i < b->nkeys; i++) {
            int r = stream_ready(b, i);
            /* Redis 7.0's answers to a blocked XREADGROUP whose group or
             * key went (blocked.c serveClientsBlockedOnStreamKey). */
            if (r == 2)
                answer(b, NULL, 0,
                       "NOGROUP the consumer group this client was blocked on no longer exists", 0);
            else if (r == 3)
                answer(b, NULL, 0, "UNBLOCKED the stream key no longer exists", 0);
            else if (r == 1)
                attempt_argv(b, b->argc, b->argv, b->argvlen);
            if (r) return 1;
        }
        return 0;
    }
    int *ready = server_calloc((size_t)(b->nkeys ? b->nkeys : 1), sizeof(int), "blocking a client"),
        nr = 0;
    for (int i = 0; i < b->nkeys; i++)
        if (key_elements(b->db, b->kind, b->argv[b->keyarg[i]], b->argvlen[b->keyarg[i]]) > 0)
            ready[nr++] = b->keyarg[i];
    if (!nr || nr == a->nkeys) {
        if (nr) attempt_argv(b, b->argc, b->argv, b->argvlen);
        free(ready);
        return nr > 0;
    }
    char **av = server_calloc((size_t)b->argc, sizeof(*av),
                              "blocking a client"); /* never longer than the original */
    size_t *al = server_calloc((size_t)b->argc, sizeof(*al), "blocking a client");
    char num[24];
    int k = 0;
    for (int i = 0; i < a->firstkey; i++, k++) {
        av[k] = b->argv[i];
        al[k] = b->argvlen[i];
    }
    if (a->firstkey == 3) { /* BLMPOP / BZMPOP: timeout numkeys key... */
        av[2] = num;
        al[2] = (size_t)snprintf(num, sizeof(num), "%d", nr);
    }
    for (int i = 0; i < nr; i++, k++) {
        av[k] = b->argv[ready[i]];
        al[k] = b->argvlen[ready[i]];
    }
    for (int i = a->firstkey + a->nkeys; i < b->argc; i++, k++) {
        av[k] = b->argv[i];
        al[k] = b->argvlen[i];
    }
    attempt_argv(b, k, av, al);
    free(av);
    free(al);
    free(ready);
    return 1;
}

void blocking_start(client *c, const kv_command *k, int argc, char **argv, size_t *argvlen)
{
    blockstate *b = server_calloc(1, sizeof(*b), "blocking a client");
    b->c = c;
    b->argc = argc;
    b->argv = argv_copy(argc, argv, argvlen, &b->argvlen);
    b->db = c->db;
    b->proto = c->proto;
    b->kind = !strncmp(k->name, "bz", 2) ? K_ZSET : k->name[0] == 'x' ? K_STREAM : K_LIST;
    int64_t ms = 0;
    if (kv_blocking_args(k, argc, b->argv, b->argvlen, &b->args) == 0) {
        if (b->kind == K_STREAM) { /* milliseconds, an integer (checked) */
            long long t = 0;
            kv_string2ll(b->argv[b->args.timeout], b->argvlen[b->args.timeout], &t);
            ms = t;
            resolve_dollar(b);
        } else {
            kv_parse_timeout(b->argv[b->args.timeout], b->argvlen[b->args.timeout], &ms, NULL);
        }
    }
    find_keys(b);
    b->w = server_calloc((size_t)(b->nkeys ? b->nkeys : 1), sizeof(*b->w), "blocking a client");
    for (int i = 0; i < b->nkeys; i++) {
        waiter *w = &b->w[i];
        w->b = b;
        w->wk = wk_get(b->db, b->argv[b->keyarg[i]], b->argvlen[b->keyarg[i]]);
        w->prev = w->wk->tail;
        if (w->wk->tail)
            w->wk->tail->next = w;
        else
            w->wk->head = w;
        w->wk->tail = w;
    }
    b->reply = client_new_slot(c, SLOT_BLOCKED);
    b->prev = btail;
    if (btail)
        btail->next = b;
    else
        bhead = b;
    btail = b;
    nblocked++;
    c->blk = b;
    /* The deadline counts from arrival; 0 waits for ever. What does not
     * parse was refused by the command's check already. */
    if (ms > 0) {
        b->timer = evtimer_new(srv.base, on_timeout, b);
        if (!b->timer) {
            serverLog(LL_WARNING, "Out of memory blocking a client");
            exit(1);
        }
        b->deadline_us = mono_us() + ms * 1000;
        arm(b);
    }
    /* The first attempt is the command as given: an error it meets (a key
     * of another type) is its reply, as in Redis. */
    attempt_argv(b, b->argc, b->argv, b->argvlen);
}

void blocking_client_gone(client *c)
{
    if (c->blk) unblock(c->blk); /* client_free() frees the reply slot */
}

/* The clients waiting on k may be served: as many of them as it has
 * elements (less the attempts in flight) try, in the order they blocked. */
/* attempt_ready() may answer and free other blocked clients than its own:
 * forwarding an attempt can make the proxy drop its connection to an old
 * leader, which fails every attempt in flight on it at once. So each walk
 * starts over after an attempt, skipping the clients it already looked at. */
static uint64_t walk_gen;

static void serve_key(waitkey *k)
{
    long long avail[3] = {-1, -1, -1};
    uint64_t gen = ++walk_gen;
again:
    for (waiter *w = k->head; w; w = w->next) {
        blockstate *b = w->b;
        if (b->pass_gen == gen) continue;
        b->pass_gen = gen;
        if (b->kind == K_STREAM) {
            if (!b->attempt && !b->expired && attempt_ready(b)) goto again;
            continue;
        }
        if (avail[b->kind] < 0) avail[b->kind] = key_elements(k->db, b->kind, k->key, k->keylen);
        if (avail[b->kind] <= 0) continue;
        avail[b->kind]--; /* in flight or about to be: it will likely take one */
        if (!b->attempt && !b->expired) {
            attempt_ready(b);
            goto again;
        }
    }
}

int blocking_pass(void)
{
    if (!nblocked) {
        for (size_t i = 0; i < nready; i++) {
            readyv[i]->ready = 0;
            wk_release(readyv[i]);
        }
        nready = 0;
        db_all_ready = 0;
        return 0;
    }
    uint64_t before = srv.stats.entries;
    if (db_all_ready) {
        for (blockstate *b = bhead; b; b = b->next)
            if (db_all_ready & (1ULL << b->db)) check_later(b, 0, 0);
        db_all_ready = 0;
    }
    /* The list is taken first: an outcome answered at once may add keys,
     * which the next pass serves. k->ready keeps k while it is served. */
    size_t n = nready;
    nready = 0;
    waitkey **v = readyv;
    readyv = NULL;
    readycap = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i]->head) serve_key(v[i]);
    for (size_t i = 0; i < n; i++) {
        v[i]->ready = 0;
        wk_release(v[i]);
    }
    free(v);
    if (nchecks) {
        uint64_t applied = kvstate_applied_index(srv.state);
        int64_t now = mstime();
        uint64_t gen = ++walk_gen;
    again:
        for (blockstate *b = bhead; b; b = b->next) {
            if (b->pass_gen == gen) continue;
            b->pass_gen = gen;
            if (!b->check || b->attempt || b->check_index > applied || b->check_at > now) continue;
            check_done(b);
            if (!b->expired) {
                attempt_ready(b);
                goto again;
            }
        }
    }
    return (int)(srv.stats.entries - before);
}

void blocking_attempt_outcome(slot *w, int outcome, uint64_t index, const char *bytes, size_t n)
{
    blockstate *b = w->blk;
    w->blk = NULL;
    if (!b) { /* the client is gone */
        slot_free(w);
        return;
    }
    b->attempt = NULL;
    if (!b->waiting && outcome != ATTEMPT_SERVED) {
        b->waiting = 1;
        nwaiting++;
    }
    switch (outcome) {
    case ATTEMPT_SERVED:
        /* Its pop signals the key if it left elements (storage/): the next
         * clients are tried when this node applies it. */
        if (bytes)
            answer(b, bytes, n, NULL, 0);
        else
            answer(b, w->out.p, w->out.len, NULL, 0);
        break;
    case ATTEMPT_BLOCKED:
        b->executed = 1;
        if (b->expired)
            answer_expired(b, b->expire_err);
        else
            check_later(b, index, 0);
        break;
    case ATTEMPT_RETRY:
        if (b->expired)
            answer_expired(b, b->expire_err);
        else
            check_later(b, 0, mstime() + RETRY_MS);
        break;
    default: {
        char err[256];
        snprintf(err, sizeof(err), "%.*s", (int)(n < sizeof(err) - 1 ? n : sizeof(err) - 1),
                 bytes ? bytes : "");
        answer(b, NULL, 0, err, 0);
        break;
    }
    }
    slot_free(w);
}

int blocking_unblock(uint64_t id, int error)
{
    for (blockstate *b = bhead; b; b = b->next)
        if (b->c->id == id) {
            if (!b->waiting || b->expired) return 0; /* not blocked (yet), or answered */
            expire(b, error);
            return 1;
        }
    return 0;
}

int blocking_count(void)
{
    return nwaiting;
}

int blocking_waiting(const client *c)
{
    return c->blk && c->blk->waiting;
}
