/* clientcmd.c -- CLIENT KILL / PAUSE / UNPAUSE / REPLY / NO-EVICT and
 * DEBUG, as Redis 7.0 answers them (clientcmd.h). */
#include "server/clientcmd.h"

#include <errno.h>
#include <event2/event.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "server/log.h"
#include "storage/kverr.h"

static const char syntax_err[] = "ERR syntax error";

static void sub_arity(resp_buf *b, const char *sub)
{
    resp_add_errorf(b, "ERR wrong number of arguments for 'client|%s' command", sub);
}

/* ------------------------------------------------------- CLIENT REPLY */

/* Where c's output stood before a command ran. */
typedef struct out_mark {
    slot *tail;      /* c->tail then (NULL: no slot) */
    size_t tail_len; /* its reply bytes then */
    size_t out_len;  /* c->out's bytes then */
} out_mark;

static void mark_output(client *c, out_mark *m)
{
    m->tail = c->tail;
    m->tail_len = c->tail ? c->tail->out.len : 0;
    m->out_len = c->out.len;
}

/* Drops what the command answered since m: bytes appended to the output
 * buffer or to the slot that was the tail are cut off (nothing is written
 * to the socket while a command runs, so they are still at the end), and
 * the slots it added are muted. */
static void mute_since(client *c, const out_mark *m)
{
    slot *s;
    if (m->tail) {
        if (m->tail->out.len > m->tail_len) m->tail->out.len = m->tail_len;
        s = m->tail->next;
    } else {
        if (c->out.len > m->out_len) c->out.len = m->out_len;
        s = c->head;
    }
    for (; s; s = s->next)
        s->mute = 1;
}

/* (P|S)SUBSCRIBE and (P|S)UNSUBSCRIBE answer with confirmations, which
 * Redis sends as pushes whatever CLIENT REPLY says; their errors (arity,
 * inside MULTI) are replies. */
static int answers_with_pushes(client *c, int argc, char **argv)
{
    if (c->flags & CF_MULTI) return 0;
    const char *n = argv[0];
    if (!strcasecmp(n, "subscribe") || !strcasecmp(n, "psubscribe") || !strcasecmp(n, "ssubscribe"))
        return argc >= 2;
    return !strcasecmp(n, "unsubscribe") || !strcasecmp(n, "punsubscribe") ||
           !strcasecmp(n, "sunsubscribe");
}

void clientcmd_run(client *c, int argc, char **argv, size_t *lens)
{
    if (!(c->opmode & (CM_REPLY_OFF | CM_REPLY_SKIP))) {
        dispatch(c, argc, argv, lens);
    } else {
        out_mark m;
        mark_output(c, &m);
        dispatch(c, argc, argv, lens);
        /* The state after the command decides: CLIENT REPLY ON is answered. */
        if (!(c->opmode & CM_HELD) && (c->opmode & (CM_REPLY_OFF | CM_REPLY_SKIP)) && argc > 0 &&
            !answers_with_pushes(c, argc, argv))
            mute_since(c, &m);
    }
    if (c->opmode & CM_HELD) return; /* it has not run yet: SKIP waits for it */
    /* Redis's resetClient(): SKIP covers one command, the one after SKIP. */
    c->opmode &= ~CM_REPLY_SKIP;
    if (c->opmode & CM_REPLY_SKIP_NEXT)
        c->opmode = (c->opmode & ~CM_REPLY_SKIP_NEXT) | CM_REPLY_SKIP;
}

static void reply_cmd(client *c, resp_buf *b, int argc, char **argv)
{
    if (argc != 3) return sub_arity(b, "reply");
    if (!strcasecmp(argv[2], "on")) {
        c->opmode &= ~(CM_REPLY_OFF | CM_REPLY_SKIP);
        resp_add_ok(b);
    } else if (!strcasecmp(argv[2], "off")) {
        c->opmode |= CM_REPLY_OFF;
    } else if (!strcasecmp(argv[2], "skip")) {
        if (!(c->opmode & CM_REPLY_OFF)) c->opmode |= CM_REPLY_SKIP_NEXT;
    } else {
        resp_add_error(b, syntax_err);
    }
}

/* ------------------------------------------------------- CLIENT PAUSE */

enum { PAUSE_NONE = 0, PAUSE_WRITE = 1, PAUSE_ALL = 2 };

static int pause_type;         /* PAUSE_*: the strongest asked since it began */
static int64_t pause_end;      /* ms, monotonic: the latest end asked */
static struct event *pause_ev; /* fires at pause_end, or at once to release */
/* The held clients, in the order their commands were held. */
static client **held;
static size_t nheld, held_cap;
/* Those being released now (release_held() runs commands, which may hold
 * again or close clients: client_free() clears an entry here too). */
static client **releasing;
static size_t nreleasing;

static int64_t mono_ms(void)
{
    return mono_us() / 1000;
}

static void release_held(void);

static void pause_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    int64_t now = mono_ms();
    if (pause_type && now < pause_end) { /* extended since the timer was set */
        int64_t ms = pause_end - now;
        if (ms > 86400000) ms = 86400000; /* re-armed each day of a very long pause */
        struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
        evtimer_add(pause_ev, &tv);
        return;
    }
    pause_type = PAUSE_NONE;
    release_held();
}

/* Arms the timer for pause_end, or for now (a release). */
static void arm_timer(void)
{
    if (!pause_ev) {
        pause_ev = evtimer_new(srv.base, pause_timer_cb, NULL);
        if (!pause_ev) {
            serverLog(LL_WARNING, "Out of memory creating the CLIENT PAUSE timer");
            exit(1);
        }
    }
    int64_t ms = pause_type ? pause_end - mono_ms() : 0;
    if (ms < 0) ms = 0;
    if (ms > 86400000) ms = 86400000;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    evtimer_add(pause_ev, &tv);
}

/* Ends the pause now: the held commands run from the timer callback, in
 * the next round of the loop, not inside the command that ended it. */
static void pause_stop(void)
{
    pause_type = PAUSE_NONE;
    if (nheld) arm_timer();
}

/* Redis 7.0's pauseClients(): a pause in progress keeps the stronger type
 * and the later end. */
static void pause_start(int type, int64_t end)
{
    if (pause_type && mono_ms() >= pause_end) pause_type = PAUSE_NONE; /* over, not yet noticed */
    if (!pause_type) {
        pause_type = type;
        pause_end = end;
    } else {
        if (type > pause_type) pause_type = type;
        if (end > pause_end) pause_end = end;
    }
    arm_timer();
}

static int is_write(const kv_command *k)
{
    return (k->flags & KV_CMD_WRITE) || !strcmp(k->name, "pfcount");
}

/* Redis's "may replicate" commands of WRITE mode. */
static int pauses_in_write_mode(client *c, const kv_command *k, int is_exec, int argc, char **argv,
                                size_t *lens)
{
    /* FUNCTION LIST & co. are reads of a write row; PFCOUNT, a read row,
     * is one of Redis's "may replicate" commands. */
    if (k) return is_write(k) && !((k->flags & KV_CMD_WRITE) && kv_call_reads(k, argc, argv, lens));
    if (is_exec) {
        for (int i = 0; i < c->mq_len; i++) {
            const mcmd *m = &c->mq[i];
            const kv_command *q = kv_command_lookup(m->argv[0], m->argvlen[0]);
            if (q && is_write(q)) return 1;
        }
        return 0;
    }
    if (argc >= 1 && !strcasecmp(argv[0], "migrate")) return 1; /* a write in Redis's table */
    return argc >= 2 && !strcasecmp(argv[0], "function") && !strcasecmp(argv[1], "flush");
}

int clientcmd_hold(client *c, const kv_command *k, int is_exec, int argc, char **argv, size_t *lens)
{
    if (!pause_type || c->peer_id) return 0;
    if (mono_ms() >= pause_end) {
        pause_stop();
        return 0;
    }
    if (!strcasecmp(argv[0], "quit") || !strncasecmp(argv[0], "raft.", 5)) return 0;
    if (pause_type == PAUSE_WRITE && !pauses_in_write_mode(c, k, is_exec, argc, argv, lens))
        return 0;
    if (nheld == held_cap) {
        size_t cap = held_cap ? held_cap * 2 : 16;
        client **v = realloc(held, cap * sizeof(*v));
        if (!v) {
            serverLog(LL_WARNING, "Out of memory holding a command for CLIENT PAUSE");
            exit(1);
        }
        held = v;
        held_cap = cap;
    }
    held[nheld++] = c;
    c->held.argc = argc;
    c->held.argv = argv_copy(argc, argv, lens, &c->held.argvlen);
    c->opmode |= CM_HELD;
    return 1;
}

static void release_held(void)
{
    if (!nheld) return;
    releasing = held;
    nreleasing = nheld;
    held = NULL;
    nheld = held_cap = 0;
    for (size_t i = 0; i < nreleasing; i++) {
        client *c = releasing[i];
        if (!c) continue; /* freed meanwhile */
        releasing[i] = NULL;
        mcmd m = c->held;
        c->held.argv = NULL;
        c->opmode &= ~CM_HELD;
        if (!(c->flags & (CF_CLOSE_ASAP | CF_CLOSE_AFTER_REPLY)))
            clientcmd_run(c, m.argc, m.argv, m.argvlen);
        free(m.argv);
        client_mark_dirty(c);
        if (!(c->opmode & CM_HELD)) client_resume_input(c); /* what it sent after it */
    }
    free(releasing);
    releasing = NULL;
    nreleasing = 0;
}

void clientcmd_client_gone(client *c)
{
    if (!(c->opmode & CM_HELD)) return;
    for (size_t i = 0; i < nheld; i++)
        if (held[i] == c) {
            memmove(held + i, held + i + 1, (nheld - i - 1) * sizeof(*held));
            nheld--;
            break;
        }
    for (size_t i = 0; i < nreleasing; i++)
        if (releasing[i] == c) releasing[i] = NULL;
    free(c->held.argv);
    c->held.argv = NULL;
    c->opmode &= ~CM_HELD;
}

static void pause_cmd(client *c, resp_buf *b, int argc, char **argv, size_t *lens)
{
    (void)c;
    if (argc < 3) return sub_arity(b, "pause");
    if (argc > 4) {
        resp_add_errorf(b,
                        "ERR unknown subcommand or wrong number of arguments for '%.128s'. Try "
                        "CLIENT HELP.",
                        argv[1]);
        return;
    }
    int type = PAUSE_ALL;
    if (argc == 4) {
        if (!strcasecmp(argv[3], "write")) {
            type = PAUSE_WRITE;
        } else if (strcasecmp(argv[3], "all")) {
            resp_add_error(b, "ERR CLIENT PAUSE mode must be WRITE or ALL");
            return;
        }
    }
    long long ms;
    if (!kv_string2ll(argv[2], lens[2], &ms)) {
        resp_add_error(b, "ERR timeout is not an integer or out of range");
        return;
    }
    if (ms < 0) {
        resp_add_error(b, "ERR timeout is negative");
        return;
    }
    int64_t now = mono_ms();
    pause_start(type, ms > LLONG_MAX - now ? LLONG_MAX : now + ms);
    resp_add_ok(b);
}

/* -------------------------------------------------------- CLIENT KILL */

/* Redis's client types. A connection another member opened to this node
 * is a peer: from the leader (as this follower sees it) it is "master",
 * the leader's replication stream; from any other member it is "replica"
 * (the leader's followers, a follower's forwarding connection). A peer is
 * never "normal". */
enum { TYPE_NORMAL, TYPE_REPLICA, TYPE_PUBSUB, TYPE_MASTER };

static int type_by_name(const char *s)
{
    if (!strcasecmp(s, "normal")) return TYPE_NORMAL;
    if (!strcasecmp(s, "slave") || !strcasecmp(s, "replica")) return TYPE_REPLICA;
    if (!strcasecmp(s, "pubsub")) return TYPE_PUBSUB;
    if (!strcasecmp(s, "master")) return TYPE_MASTER;
    return -1;
}

static int type_of(client *o)
{
    if (o->peer_id) return o->peer_id == driver_leader_id() ? TYPE_MASTER : TYPE_REPLICA;
    return pubsub_count(o) ? TYPE_PUBSUB : TYPE_NORMAL;
}

typedef struct kill_filter {
    const char *addr, *laddr;
    int type;      /* -1: any */
    uint64_t id;   /* 0: any */
    int user;      /* USER default given: peers (which have no user) do not match */
    long long age; /* MAXAGE, seconds; 0: any */
    int skipme;
} kill_filter;

static int kill_matches(const kill_filter *f, client *self, client *o, int64_t now)
{
    if (o->flags & CF_CLOSE_ASAP) return 0; /* killed already */
    if (f->addr && strcmp(o->addr, f->addr)) return 0;
    if (f->laddr && strcmp(o->laddr, f->laddr)) return 0;
    if (f->type >= 0 && type_of(o) != f->type) return 0;
    if (f->id && o->id != f->id) return 0;
    if (f->user && o->peer_id) return 0;
    if (f->age && (now - o->ctime) / 1000 < f->age) return 0;
    if (o == self && f->skipme) return 0;
    return 1;
}

/* Parses the filters of the new form; 0, or -1 with the error in b. */
static int kill_parse(resp_buf *b, int argc, char **argv, size_t *lens, kill_filter *f)
{
    for (int i = 2; i < argc; i += 2) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        long long v;
        if (!val) {
            resp_add_error(b, syntax_err);
            return -1;
        } else if (!strcasecmp(opt, "id")) {
            if (!kv_string2ll(val, lens[i + 1], &v) || v < 1) {
                resp_add_error(b, "ERR client-id should be greater than 0");
                return -1;
            }
            f->id = (uint64_t)v;
        } else if (!strcasecmp(opt, "maxage")) {
            if (!kv_string2ll(val, lens[i + 1], &v)) {
                resp_add_error(b, "ERR maxage is not an integer or out of range");
                return -1;
            }
            if (v <= 0) {
                resp_add_error(b, "ERR maxage should be greater than 0");
                return -1;
            }
            f->age = v;
        } else if (!strcasecmp(opt, "type")) {
            f->type = type_by_name(val);
            if (f->type < 0) {
                resp_add_errorf(b, "ERR Unknown client type '%s'", val);
                return -1;
            }
        } else if (!strcasecmp(opt, "addr")) {
            f->addr = val;
        } else if (!strcasecmp(opt, "laddr")) {
            f->laddr = val;
        } else if (!strcasecmp(opt, "user")) {
            if (strcmp(val, "default")) { /* the only user there is */
                resp_add_errorf(b, "ERR No such user '%s'", val);
                return -1;
            }
            f->user = 1;
        } else if (!strcasecmp(opt, "skipme")) {
            if (!strcasecmp(val, "yes")) {
                f->skipme = 1;
            } else if (!strcasecmp(val, "no")) {
                f->skipme = 0;
            } else {
                resp_add_error(b, syntax_err);
                return -1;
            }
        } else {
            resp_add_error(b, syntax_err);
            return -1;
        }
    }
    return 0;
}

/* CLIENT KILL <ip:port> | <filter> <value> ...: Redis 7.0's, with MAXAGE
 * (Redis 7.4). Another client is closed at the end of this pass (it may be
 * in a list a caller up the stack walks); the caller itself after its
 * reply. */
static void kill_cmd(client *c, resp_buf *b, int argc, char **argv, size_t *lens)
{
    if (argc < 3) return sub_arity(b, "kill");
    kill_filter f = {.type = -1, .skipme = 1};
    if (argc == 3) {
        f.addr = argv[2]; /* the old form, which may kill the caller itself */
        f.skipme = 0;
    } else if (kill_parse(b, argc, argv, lens, &f)) {
        return;
    }
    int64_t now = mstime();
    long long killed = 0;
    int close_self = 0;
    for (client *o = srv.clients; o; o = o->next) {
        if (!kill_matches(&f, c, o, now)) continue;
        killed++;
        if (o == c) {
            close_self = 1;
            continue;
        }
        serverLog(LL_VERBOSE, "CLIENT KILL closes id=%llu addr=%s", (unsigned long long)o->id,
                  o->addr);
        o->flags |= CF_CLOSE_ASAP;
        client_mark_dirty(o);
    }
    if (argc == 3) {
        if (killed)
            resp_add_ok(b);
        else
            resp_add_error(b, "ERR No such client");
    } else {
        resp_add_int(b, killed);
    }
    if (close_self) c->flags |= CF_CLOSE_AFTER_REPLY;
}

int clientcmd_client_sub(client *c, resp_buf *b, int argc, char **argv, size_t *lens)
{
    const char *sub = argv[1];
    if (!strcasecmp(sub, "kill")) {
        kill_cmd(c, b, argc, argv, lens);
    } else if (!strcasecmp(sub, "pause")) {
        pause_cmd(c, b, argc, argv, lens);
    } else if (!strcasecmp(sub, "unpause")) {
        if (argc != 2) {
            sub_arity(b, "unpause");
        } else {
            pause_stop();
            resp_add_ok(b);
        }
    } else if (!strcasecmp(sub, "reply")) {
        reply_cmd(c, b, argc, argv);
    } else if (!strcasecmp(sub, "no-evict")) {
        /* Accepted: no client is ever evicted here (there is no
         * maxmemory-clients). */
        if (argc != 3)
            sub_arity(b, "no-evict");
        else if (!strcasecmp(argv[2], "on") || !strcasecmp(argv[2], "off"))
            resp_add_ok(b);
        else
            resp_add_error(b, syntax_err);
    } else {
        return 0;
    }
    return 1;
}

/* -------------------------------------------------------------- DEBUG */

static int active_expire = 1; /* DEBUG SET-ACTIVE-EXPIRE */

int clientcmd_expire_enabled(void)
{
    if (pause_type && mono_ms() < pause_end) return 0;
    return active_expire;
}

/* enable-debug-command: no, yes, or local (loopback connections). */
static int debug_allowed(const client *c)
{
    if (!strcasecmp(cfg.enable_debug_command, "yes")) return 1;
    if (strcasecmp(cfg.enable_debug_command, "local")) return 0;
    if (c->flags & CF_UNIX) return 1;
    const char *colon = strrchr(c->addr, ':');
    size_t n = colon ? (size_t)(colon - c->addr) : strlen(c->addr);
    return (n == 9 && !strncmp(c->addr, "127.0.0.1", 9)) || (n == 3 && !strncmp(c->addr, "::1", 3));
}

/* The first bulk string of an encoded reply (RESP2), or NULL for a null
 * or anything else; *n its length. */
static const char *reply_bulk(const resp_buf *r, size_t *n)
{
    if (r->len < 4 || r->p[0] != '$' || r->p[1] == '-') return NULL;
    char *end;
    unsigned long long len = strtoull(r->p + 1, &end, 10);
    if (end[0] != '\r' || (size_t)(end + 2 - r->p) + len > r->len) return NULL;
    *n = (size_t)len;
    return end + 2;
}

/* Reads "<cmd> [<sub>] <key>" against this node's state, at once (RESP2). */
static int local_read(client *c, resp_buf *out, const char *cmd, const char *sub, char *key,
                      size_t keylen)
{
    char *av[3] = {(char *)cmd, (char *)sub, key};
    size_t al[3] = {strlen(cmd), sub ? strlen(sub) : 0, keylen};
    if (!sub) {
        av[1] = key;
        al[1] = keylen;
    }
    resp_buf_reset(out);
    return kvstate_read(srv.state, c->db, NULL, sub ? 3 : 2, av, al, mstime(), out);
}

/* The bytes of Redis's RDB length prefix. */
static size_t rdb_len_bytes(uint64_t n)
{
    return n < (1 << 6) ? 1 : n < (1 << 14) ? 2 : n <= UINT32_MAX ? 5 : 9;
}

/* rdbSavedObjectLen() of a string, without LZF compression (which Redis
 * applies to strings over 20 bytes when rdbcompression is on). */
static size_t string_serialized_len(const char *p, size_t n)
{
    long long v;
    if (n <= 11 && kv_string2ll(p, n, &v)) {
        if (v >= -(1 << 7) && v <= (1 << 7) - 1) return 2;
        if (v >= -(1 << 15) && v <= (1 << 15) - 1) return 3;
        if (v >= -(1LL << 31) && v <= (1LL << 31) - 1) return 5;
    }
    return rdb_len_bytes(n) + n;
}

/* DEBUG OBJECT <key>: Redis's line, from this node's state (a write of the
 * same client still on its way through the log is not in it yet). */
static void debug_object(client *c, resp_buf *b, char *key, size_t keylen)
{
    resp_buf r;
    resp_buf_init(&r, 2);
    char enc[32];
    size_t n = 0, slen = 0;
    long long refcount = 1;
    int rc = local_read(c, &r, "object", "encoding", key, keylen);
    const char *p = rc ? NULL : reply_bulk(&r, &n);
    if (rc) {
        resp_add_errorf(b, "ERR %s", kv_strerror(rc));
        goto out;
    }
    if (!p) {
        resp_add_error(b, "ERR no such key");
        goto out;
    }
    snprintf(enc, sizeof(enc), "%.*s", (int)(n < 31 ? n : 31), p);
    if (local_read(c, &r, "object", "refcount", key, keylen) == 0 && r.len > 1 && r.p[0] == ':')
        refcount = strtoll(r.p + 1, NULL, 10);
    if (!strcmp(enc, "int") || !strcmp(enc, "embstr") || !strcmp(enc, "raw")) {
        if (local_read(c, &r, "get", NULL, key, keylen) == 0 && (p = reply_bulk(&r, &n)) != NULL)
            slen = string_serialized_len(p, n);
    }
    /* Redis's LRU clock: seconds, 24 bits; nothing here tracks accesses, so
     * every key was just used. The "address" identifies the key. */
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)c->db;
    for (size_t i = 0; i < keylen; i++)
        h = (h ^ (uint8_t)key[i]) * 1099511628211ULL;
    unsigned lru = (unsigned)((mstime() / 1000) & ((1 << 24) - 1));
    char line[256];
    snprintf(line, sizeof(line),
             "Value at:0x%llx refcount:%lld encoding:%s serializedlength:%zu lru:%u "
             "lru_seconds_idle:0",
             (unsigned long long)(h & 0x7fffffffffffULL), refcount, enc, slen, lru);
    resp_add_simple(b, line);
out:
    resp_buf_free(&r);
}

static void debug_sleep(const char *arg)
{
    double secs = strtod(arg, NULL);
    if (!(secs > 0)) return;
    if (secs > 1e12) secs = 1e12;
    long long us = (long long)(secs * 1000000);
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
    serverLog(LL_NOTICE, "DEBUG SLEEP %.3f s: this node's event loop stops", secs);
    nanosleep(&ts, NULL);
}

static const char *const debug_help[] = {
    "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "HELP",
    "    Prints this help.",
};

void debug_command(client *c, int argc, char **argv, size_t *lens)
{
    resp_buf *b = client_reply_buf(c);
    const char *sub = argv[1];
    if (!debug_allowed(c)) {
        resp_add_error(b, "ERR DEBUG command not allowed. If the enable-debug-command option is "
                          "set to \"local\", you can run it from a local connection, otherwise "
                          "you need to set this option in the configuration file, and then "
                          "restart the server.");
    } else if (argc == 2 && !strcasecmp(sub, "help")) {
        size_t n = sizeof(debug_help) / sizeof(debug_help[0]);
        resp_add_array(b, (int64_t)n);
        for (size_t i = 0; i < n; i++)
            resp_add_simple(b, debug_help[i]);
    } else if (argc == 3 && !strcasecmp(sub, "object")) {
        debug_object(c, b, argv[2], lens[2]);
    } else if (argc == 3 && !strcasecmp(sub, "sleep")) {
        debug_sleep(argv[2]);
        resp_add_ok(b);
    } else if (argc == 3 && !strcasecmp(sub, "set-active-expire")) {
        active_expire = atoi(argv[2]); /* Redis's parse: anything but a number is 0 */
        serverLog(LL_NOTICE, "DEBUG SET-ACTIVE-EXPIRE %d: this node %s expiries", active_expire,
                  active_expire ? "proposes" : "proposes no");
        resp_add_ok(b);
    } else {
        resp_add_errorf(b,
                        "ERR unknown subcommand or wrong number of arguments for '%.128s'. Try "
                        "DEBUG HELP.",
                        sub);
    }
}
