/* pubsub.c -- SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE and the rest of pub/sub on
 * this node; PUBLISH is an entry of the log (storage/kvx_pubsub.c) that
 * every node delivers to its own subscribers when it applies it
 * (pubsub_publish, the state's publish hook).
 *
 * Delivery contract (README "Pub/sub"):
 *   - a subscriber gets the message of every PUBLISH / SPUBLISH entry its
 *     node applies after it subscribed, in log order: subscribers of one
 *     channel see the same messages in the same order on every node;
 *   - PUBLISH's reply counts the subscribers of the node that applied it
 *     for the publisher: the leader (a follower forwards PUBLISH);
 *   - a node that catches up by installing a snapshot skips the messages of
 *     the entries the snapshot covers, and a restarted node applies again
 *     the entries after its last state commit (subscribers it has by then
 *     get those messages, published before they subscribed);
 *   - a message goes to the client before its first reply still pending
 *     (client_push_before_pending), so a RESP3 client subscribed to the
 *     channel it publishes to gets the message before PUBLISH's reply, as
 *     from Redis; on a follower that reply comes from the leader and may
 *     arrive first.
 *
 * Subscriptions are this node's alone (Redis's pubsub.c): a channel,
 * pattern or shard channel with subscribers is a `chan` in one hash table
 * (keyed by kind and name) and on its kind's list; each (client, chan) pair
 * is a `member`, in a second hash table (keyed by the pair) and on the
 * client's list of that kind, in subscription order. A chan holds its
 * members in an array, so a message reaches n subscribers in n steps and
 * unsubscribing is O(1) (the last member takes the leaver's place).
 *
 * Replies and pushes are byte for byte Redis 7.0's (addReplyPubsub*): a
 * three or four element array in RESP2, a push (>) in RESP3. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "server/log.h"
#include "server/server.h"

typedef struct member member;

typedef struct chan {
    struct chan *hnext;       /* hash chain */
    struct chan *prev, *next; /* its kind's list, in creation order */
    uint64_t hash;
    int kind;
    member **m; /* subscribers; m[i]->pos == i */
    size_t n, cap;
    size_t len;
    char name[];
} chan;

struct member {
    chan *ch;
    client *c;
    /* Entries up to this index are not delivered to it: the client sent the
     * subscription behind a write of its own still pending then, and in
     * Redis that write, and everything before it, would have run first. */
    uint64_t after;
    member *hnext;       /* hash chain */
    member *prev, *next; /* the client's subscriptions of this kind */
    size_t pos;          /* in ch->m */
};

typedef struct subs {
    member *head[PUBSUB_KINDS], *tail[PUBSUB_KINDS];
    long count[PUBSUB_KINDS];
} subs;

static uint64_t seed;

/* chans by (kind, name) */
static chan **ctab;
static size_t ctab_size, ctab_n;
/* members by (chan, client) */
static member **mtab;
static size_t mtab_size, mtab_n;
/* each kind's chans, in creation order */
static chan *kind_head[PUBSUB_KINDS], *kind_tail[PUBSUB_KINDS];
static size_t kind_n[PUBSUB_KINDS];

/* Channel names come from clients: the hash is seeded per process, so no
 * client can choose names that all fall in one chain. FNV-1a 64 with a
 * final mixer. */
static uint64_t hash_bytes(int kind, const char *s, size_t n)
{
    if (!seed) {
        if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
            seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull;
        seed |= 1;
    }
    uint64_t h = 1469598103934665603ull ^ seed ^ (uint64_t)kind;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static uint64_t hash_pair(const chan *ch, const client *c)
{
    uint64_t h = (uint64_t)(uintptr_t)ch * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)c;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return h;
}

/* ------------------------------------------------------------ tables */

static void ctab_grow(void)
{
    size_t nsize = ctab_size ? ctab_size * 2 : 64;
    chan **nt = server_calloc(nsize, sizeof(*nt), "in pub/sub");
    for (size_t i = 0; i < ctab_size; i++)
        for (chan *ch = ctab[i], *nx; ch; ch = nx) {
            nx = ch->hnext;
            ch->hnext = nt[ch->hash & (nsize - 1)];
            nt[ch->hash & (nsize - 1)] = ch;
        }
    free(ctab);
    ctab = nt;
    ctab_size = nsize;
}

static chan *chan_find(int kind, const char *name, size_t len, uint64_t h)
{
    if (!ctab_size) return NULL;
    for (chan *ch = ctab[h & (ctab_size - 1)]; ch; ch = ch->hnext)
        if (ch->hash == h && ch->kind == kind && ch->len == len && !memcmp(ch->name, name, len))
            return ch;
    return NULL;
}

static chan *chan_get(int kind, const char *name, size_t len)
{
    uint64_t h = hash_bytes(kind, name, len);
    chan *ch = chan_find(kind, name, len, h);
    if (ch) return ch;
    if (ctab_n >= ctab_size) ctab_grow();
    ch = server_calloc(1, sizeof(*ch) + len + 1, "in pub/sub");
    ch->hash = h;
    ch->kind = kind;
    ch->len = len;
    memcpy(ch->name, name, len);
    ch->hnext = ctab[h & (ctab_size - 1)];
    ctab[h & (ctab_size - 1)] = ch;
    ctab_n++;
    ch->prev = kind_tail[kind];
    if (kind_tail[kind])
        kind_tail[kind]->next = ch;
    else
        kind_head[kind] = ch;
    kind_tail[kind] = ch;
    kind_n[kind]++;
    return ch;
}

/* A chan without subscribers goes at once: a client cannot make the node
 * keep millions of names by subscribing and leaving (Redis does the same). */
static void chan_drop(chan *ch)
{
    chan **pp = &ctab[ch->hash & (ctab_size - 1)];
    while (*pp != ch)
        pp = &(*pp)->hnext;
    *pp = ch->hnext;
    ctab_n--;
    if (ch->prev)
        ch->prev->next = ch->next;
    else
        kind_head[ch->kind] = ch->next;
    if (ch->next)
        ch->next->prev = ch->prev;
    else
        kind_tail[ch->kind] = ch->prev;
    kind_n[ch->kind]--;
    free(ch->m);
    free(ch);
}

static void mtab_grow(void)
{
    size_t nsize = mtab_size ? mtab_size * 2 : 64;
    member **nt = server_calloc(nsize, sizeof(*nt), "in pub/sub");
    for (size_t i = 0; i < mtab_size; i++)
        for (member *m = mtab[i], *nx; m; m = nx) {
            nx = m->hnext;
            size_t b = hash_pair(m->ch, m->c) & (nsize - 1);
            m->hnext = nt[b];
            nt[b] = m;
        }
    free(mtab);
    mtab = nt;
    mtab_size = nsize;
}

static member **member_slot(const chan *ch, const client *c)
{
    member **pp = &mtab[hash_pair(ch, c) & (mtab_size - 1)];
    while (*pp && ((*pp)->ch != ch || (*pp)->c != c))
        pp = &(*pp)->hnext;
    return pp;
}

static member *member_find(const chan *ch, const client *c)
{
    return mtab_size ? *member_slot(ch, c) : NULL;
}

/* ------------------------------------------------------ subscriptions */

static subs *client_subs(client *c)
{
    if (!c->subs) c->subs = server_calloc(1, sizeof(subs), "in pub/sub");
    return c->subs;
}

/* 1 when c was not subscribed to name yet. */
static int subscribe_one(client *c, int kind, const char *name, size_t len)
{
    chan *ch = chan_get(kind, name, len);
    if (member_find(ch, c)) return 0;
    if (mtab_n >= mtab_size) mtab_grow();
    member *m = server_calloc(1, sizeof(*m), "in pub/sub");
    m->ch = ch;
    m->c = c;
    /* During the apply of entry i, the state's applied index is i - 1. */
    m->after = c->npending ? c->last_write : 0;
    member **pp = member_slot(ch, c);
    m->hnext = *pp;
    *pp = m;
    mtab_n++;
    if (ch->n == ch->cap) {
        size_t ncap = ch->cap ? ch->cap * 2 : 4;
        member **nm = realloc(ch->m, ncap * sizeof(*nm));
        if (!nm) {
            serverLog(LL_WARNING, "Out of memory in pub/sub");
            exit(1);
        }
        ch->m = nm;
        ch->cap = ncap;
    }
    m->pos = ch->n;
    ch->m[ch->n++] = m;
    subs *s = client_subs(c);
    m->prev = s->tail[kind];
    if (s->tail[kind])
        s->tail[kind]->next = m;
    else
        s->head[kind] = m;
    s->tail[kind] = m;
    s->count[kind]++;
    return 1;
}

static void member_remove(member *m)
{
    chan *ch = m->ch;
    client *c = m->c;
    subs *s = c->subs;
    int kind = ch->kind;
    *member_slot(ch, c) = m->hnext;
    mtab_n--;
    ch->m[m->pos] = ch->m[--ch->n];
    ch->m[m->pos]->pos = m->pos;
    if (m->prev)
        m->prev->next = m->next;
    else
        s->head[kind] = m->next;
    if (m->next)
        m->next->prev = m->prev;
    else
        s->tail[kind] = m->prev;
    s->count[kind]--;
    free(m);
    if (!ch->n) chan_drop(ch);
}

/* 1 when c was subscribed to name. */
static int unsubscribe_one(client *c, int kind, const char *name, size_t len)
{
    chan *ch = chan_find(kind, name, len, hash_bytes(kind, name, len));
    member *m = ch ? member_find(ch, c) : NULL;
    if (!m) return 0;
    member_remove(m);
    return 1;
}

long pubsub_kind_count(const client *c, int kind)
{
    return c->subs ? c->subs->count[kind] : 0;
}

int pubsub_count(client *c)
{
    const subs *s = c->subs;
    if (!s) return 0;
    return (int)(s->count[PUBSUB_CHANNEL] + s->count[PUBSUB_PATTERN] + s->count[PUBSUB_SHARD]);
}

/* The count a confirmation carries: channels and patterns together, or
 * shard channels alone (Redis's clientSubscriptionsCount /
 * clientShardSubscriptionsCount). */
static long confirm_count(const client *c, int kind)
{
    if (kind == PUBSUB_SHARD) return pubsub_kind_count(c, PUBSUB_SHARD);
    return pubsub_kind_count(c, PUBSUB_CHANNEL) + pubsub_kind_count(c, PUBSUB_PATTERN);
}

static const char *const sub_word[PUBSUB_KINDS] = {"subscribe", "psubscribe", "ssubscribe"};
static const char *const unsub_word[PUBSUB_KINDS] = {"unsubscribe", "punsubscribe", "sunsubscribe"};

static void confirm(client *c, const char *word, const char *name, size_t len, int kind)
{
    resp_buf *b = client_reply_buf(c);
    resp_add_push(b, 3);
    resp_add_bulk_str(b, word);
    if (name)
        resp_add_bulk(b, name, len);
    else
        resp_add_null(b);
    resp_add_int(b, confirm_count(c, kind));
}

void pubsub_subscribe(client *c, int kind, int argc, char **argv, size_t *lens)
{
    for (int i = 1; i < argc; i++) {
        subscribe_one(c, kind, argv[i], lens[i]);
        confirm(c, sub_word[kind], argv[i], lens[i], kind);
    }
}

void pubsub_unsubscribe(client *c, int kind, int argc, char **argv, size_t *lens)
{
    if (argc > 1) {
        for (int i = 1; i < argc; i++) {
            unsubscribe_one(c, kind, argv[i], lens[i]);
            confirm(c, unsub_word[kind], argv[i], lens[i], kind);
        }
        return;
    }
    /* All of them, in subscription order; none: one confirmation with a
     * null name. */
    subs *s = c->subs;
    if (!s || !s->head[kind]) {
        confirm(c, unsub_word[kind], NULL, 0, kind);
        return;
    }
    while (s->head[kind]) {
        member *m = s->head[kind];
        chan *ch = m->ch;
        /* The name outlives the chan for the confirmation. */
        size_t len = ch->len;
        char stack[256], *name = len <= sizeof(stack) ? stack : malloc(len);
        if (!name) {
            serverLog(LL_WARNING, "Out of memory in pub/sub");
            exit(1);
        }
        memcpy(name, ch->name, len);
        member_remove(m);
        confirm(c, unsub_word[kind], name, len, kind);
        if (name != stack) free(name);
    }
}

int pubsub_each(client *c, int (*fn)(void *arg, int kind, const char *name, size_t len), void *arg)
{
    if (!c->subs) return 0;
    for (int k = 0; k < PUBSUB_KINDS; k++)
        for (member *m = c->subs->head[k]; m; m = m->next)
            if (fn(arg, k, m->ch->name, m->ch->len)) return 1;
    return 0;
}

void pubsub_client_gone(client *c)
{
    subs *s = c->subs;
    if (!s) return;
    for (int k = 0; k < PUBSUB_KINDS; k++)
        while (s->head[k])
            member_remove(s->head[k]);
    free(s);
    c->subs = NULL;
}

size_t pubsub_server_count(int kind)
{
    return kind_n[kind];
}

/* ------------------------------------------------------------ delivery */

/* One message, encoded once per protocol for all its receivers. */
typedef struct encoded {
    resp_buf b[2]; /* RESP2, RESP3 */
    int done[2];
} encoded;

static void deliver(client *c, encoded *e, const char *kindword, const chan *pat,
                    const char *channel, size_t chlen, const char *msg, size_t msglen)
{
    int p = c->proto == 3;
    if (!e->done[p]) {
        resp_buf *b = &e->b[p];
        resp_add_push(b, pat ? 4 : 3);
        resp_add_bulk_str(b, kindword);
        if (pat) resp_add_bulk(b, pat->name, pat->len);
        resp_add_bulk(b, channel, chlen);
        resp_add_bulk(b, msg, msglen);
        if (b->oom) {
            serverLog(LL_WARNING, "Out of memory encoding a pub/sub message");
            exit(1);
        }
        e->done[p] = 1;
    }
    resp_add_raw(client_push_before_pending(c), e->b[p].p, e->b[p].len);
    client_mark_dirty(c);
}

static long long deliver_chan(chan *ch, uint64_t index, const char *kindword, const chan *pat,
                              const char *channel, size_t chlen, const char *msg, size_t msglen)
{
    encoded e;
    resp_buf_init(&e.b[0], 2);
    resp_buf_init(&e.b[1], 3);
    e.done[0] = e.done[1] = 0;
    long long n = 0;
    for (size_t i = 0; i < ch->n; i++) {
        member *m = ch->m[i];
        /* A write of its client that preceded the subscription is still
         * pending: this entry comes before it. (Once none is pending, a
         * write that was never committed no longer holds messages back.) */
        if (index <= m->after && m->c->npending) continue;
        deliver(m->c, &e, kindword, pat, channel, chlen, msg, msglen);
        n++;
    }
    resp_buf_free(&e.b[0]);
    resp_buf_free(&e.b[1]);
    return n;
}

/* The state's publish hook (kvstate.h), called while an entry applies:
 * channel subscribers first, then each matching pattern's (shard channels
 * have no patterns), as Redis's pubsubPublishMessage. */
long long pubsub_publish(void *ctx, int shard, const char *channel, size_t chlen, const char *msg,
                         size_t msglen)
{
    (void)ctx;
    uint64_t index = kvstate_applied_index(srv.state) + 1;
    int kind = shard ? PUBSUB_SHARD : PUBSUB_CHANNEL;
    long long n = 0;
    chan *ch = chan_find(kind, channel, chlen, hash_bytes(kind, channel, chlen));
    if (ch)
        n += deliver_chan(ch, index, shard ? "smessage" : "message", NULL, channel, chlen, msg,
                          msglen);
    if (shard) return n;
    for (chan *p = kind_head[PUBSUB_PATTERN]; p; p = p->next)
        if (kv_stringmatchlen(p->name, p->len, channel, chlen, 0))
            n += deliver_chan(p, index, "pmessage", p, channel, chlen, msg, msglen);
    return n;
}

/* -------------------------------------------------------------- PUBSUB */

typedef struct pubsub_sub {
    const char *name;
    int arity; /* counting PUBSUB itself, Redis's convention */
} pubsub_sub;

static const pubsub_sub subs_table[] = {
    {"channels", -2}, {"numpat", 2},         {"numsub", -2},
    {"help", 2},      {"shardchannels", -2}, {"shardnumsub", -2},
};

int pubsub_check_sub(client *c, int argc, char **argv, size_t *lens)
{
    (void)lens;
    for (size_t i = 0; i < sizeof(subs_table) / sizeof(subs_table[0]); i++) {
        const pubsub_sub *s = &subs_table[i];
        if (strcasecmp(argv[1], s->name)) continue;
        if ((s->arity > 0 && argc != s->arity) || (s->arity < 0 && argc < -s->arity)) {
            resp_add_errorf(client_reply_buf(c),
                            "ERR wrong number of arguments for 'pubsub|%s' command", s->name);
            return -1;
        }
        return 0;
    }
    resp_add_errorf(client_reply_buf(c), "ERR unknown subcommand '%.128s'. Try PUBSUB HELP.",
                    argv[1]);
    return -1;
}

static void channel_list(resp_buf *b, int kind, const char *pat, size_t patlen)
{
    size_t mark = resp_add_deferred(b);
    int64_t n = 0;
    for (chan *ch = kind_head[kind]; ch; ch = ch->next)
        if (!pat || kv_stringmatchlen(pat, patlen, ch->name, ch->len, 0)) {
            resp_add_bulk(b, ch->name, ch->len);
            n++;
        }
    resp_set_deferred_array(b, mark, n);
}

static void numsub(resp_buf *b, int kind, int argc, char **argv, size_t *lens)
{
    resp_add_array(b, (int64_t)(argc - 2) * 2);
    for (int i = 2; i < argc; i++) {
        chan *ch = chan_find(kind, argv[i], lens[i], hash_bytes(kind, argv[i], lens[i]));
        resp_add_bulk(b, argv[i], lens[i]);
        resp_add_int(b, ch ? (int64_t)ch->n : 0);
    }
}

void pubsub_command(client *c, int argc, char **argv, size_t *lens)
{
    resp_buf *b = client_reply_buf(c);
    const char *sub = argv[1];
    if (!strcasecmp(sub, "help")) {
        static const char *help[] = {
            "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            ("    Return the currently active shard level channels matching a <pattern> "
             "(default: '*')."),
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
            "HELP",
            "    Prints this help."};
        resp_add_array(b, sizeof(help) / sizeof(help[0]));
        for (size_t i = 0; i < sizeof(help) / sizeof(help[0]); i++)
            resp_add_simple(b, help[i]);
    } else if (!strcasecmp(sub, "channels") && argc <= 3) {
        channel_list(b, PUBSUB_CHANNEL, argc == 3 ? argv[2] : NULL, argc == 3 ? lens[2] : 0);
    } else if (!strcasecmp(sub, "shardchannels") && argc <= 3) {
        channel_list(b, PUBSUB_SHARD, argc == 3 ? argv[2] : NULL, argc == 3 ? lens[2] : 0);
    } else if (!strcasecmp(sub, "numsub")) {
        numsub(b, PUBSUB_CHANNEL, argc, argv, lens);
    } else if (!strcasecmp(sub, "shardnumsub")) {
        numsub(b, PUBSUB_SHARD, argc, argv, lens);
    } else if (!strcasecmp(sub, "numpat")) {
        resp_add_int(b, (int64_t)kind_n[PUBSUB_PATTERN]);
    } else {
        resp_add_errorf(b,
                        "ERR unknown subcommand or wrong number of arguments for '%.128s'. Try "
                        "PUBSUB HELP.",
                        sub);
    }
}
