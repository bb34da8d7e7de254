/* tracking.c -- client-side caching (Redis's CLIENT TRACKING): the keys each
 * tracking client read, and invalidation messages when a write to one of
 * them applies on this node (the state's key_written hook). Everything is
 * per node, like the connections it serves: a client is told about writes
 * as this node applies them, in log order.
 *
 * Default mode remembers, per key, the ids of the clients that read it (when
 * the read arrives: it may run later, through a ReadIndex round or the
 * leader); a write sends each of them one invalidation and forgets the key,
 * except for a client whose reply is still pending. BCAST mode
 * remembers prefixes instead: the keys written under a prefix during one
 * pass of the event loop go out at the end of the pass, sorted, as one
 * message per client. A flush invalidates everything with a null. Messages
 * go to the client itself (RESP3 push) or to the client it redirects to
 * (RESP3 push, or in RESP2 a message on __redis__:invalidate if that client
 * is in subscribe mode). They are appended after the client's pending
 * replies, so an invalidation never arrives before the reply that read the
 * value it invalidates. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/log.h"
#include "server/server.h"

enum {
    TRK_ON = 1 << 0,
    TRK_BCAST = 1 << 1,
    TRK_OPTIN = 1 << 2,
    TRK_OPTOUT = 1 << 3,
    TRK_CACHING = 1 << 4, /* CLIENT CACHING yes|no given for the next command */
    TRK_NOLOOP = 1 << 5,
    TRK_BROKEN = 1 << 6, /* the redirect client is gone */
    TRK_RESET = 1 << 7,  /* the last command was not CLIENT: drop TRK_CACHING */
};

typedef struct trackstate {
    int flags;
    uint64_t redirect; /* 0: none */
    int nprefix;       /* BCAST: the prefixes, sorted bytewise */
    char **prefix;
    size_t *plen;
    struct client *c;
    struct trackstate *prev, *next; /* every tracking client */
} trackstate;

static trackstate *all;
static long long nclients; /* INFO tracking_clients */
static client *writer;     /* the client whose write is applying, if on this node */

/* ------------------------------------------------------------ key table */

typedef struct tkey {
    struct tkey *next;
    uint64_t hash;
    uint64_t *ids;
    uint32_t n, cap;
    size_t len;
    char key[];
} tkey;

static tkey **tab;
static size_t tab_size, tab_keys, tab_items;

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        serverLog(LL_WARNING, "Out of memory in client tracking");
        exit(1);
    }
    return q;
}

static tkey **find_slot(const char *key, size_t len, uint64_t h)
{
    tkey **pp = &tab[h & (tab_size - 1)];
    while (*pp && !((*pp)->hash == h && (*pp)->len == len && !memcmp((*pp)->key, key, len)))
        pp = &(*pp)->next;
    return pp;
}

static void grow(void)
{
    size_t nsize = tab_size ? tab_size * 2 : 1024;
    tkey **ntab = xrealloc(NULL, nsize * sizeof(*ntab));
    memset(ntab, 0, nsize * sizeof(*ntab));
    for (size_t i = 0; i < tab_size; i++)
        for (tkey *k = tab[i], *next; k; k = next) {
            next = k->next;
            k->next = ntab[k->hash & (nsize - 1)];
            ntab[k->hash & (nsize - 1)] = k;
        }
    free(tab);
    tab = ntab;
    tab_size = nsize;
}

static void evict_one(void);

static void remember_key(const char *key, size_t len, uint64_t id)
{
    while (cfg.tracking_table_max_keys > 0 && tab_keys >= (size_t)cfg.tracking_table_max_keys)
        evict_one();
    if (tab_keys >= tab_size) grow();
    uint64_t h = hash_bytes(key, len);
    tkey **pp = find_slot(key, len, h);
    tkey *k = *pp;
    if (!k) {
        k = xrealloc(NULL, sizeof(*k) + len);
        memset(k, 0, sizeof(*k));
        k->hash = h;
        k->len = len;
        memcpy(k->key, key, len);
        *pp = k;
        tab_keys++;
    }
    for (uint32_t i = 0; i < k->n; i++)
        if (k->ids[i] == id) return;
    if (k->n == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 4;
        k->ids = xrealloc(k->ids, k->cap * sizeof(*k->ids));
    }
    k->ids[k->n++] = id;
    tab_items++;
}

/* Past tracking-table-max-keys, keys are dropped as Redis does: each is
 * invalidated for every client that may cache it, so forgetting it is safe.
 * A bucket after a rotating position gives the victims. */
static void send_key(client *c, const char *key, size_t len);
static trackstate *tracker_by_id(uint64_t id);
static size_t evict_pos;

static void evict_one(void)
{
    for (size_t n = 0; n < tab_size; n++) {
        size_t i = (evict_pos + n) & (tab_size - 1);
        tkey *k = tab[i];
        if (!k) continue;
        evict_pos = i + 1;
        tab[i] = k->next;
        tab_keys--;
        tab_items -= k->n;
        for (uint32_t j = 0; j < k->n; j++) {
            trackstate *t = tracker_by_id(k->ids[j]);
            if (t && !(t->flags & TRK_BCAST)) send_key(t->c, k->key, k->len);
        }
        free(k->ids);
        free(k);
        return;
    }
}

static void table_free(void)
{
    for (size_t i = 0; i < tab_size; i++)
        for (tkey *k = tab[i], *next; k; k = next) {
            next = k->next;
            free(k->ids);
            free(k);
        }
    free(tab);
    tab = NULL;
    tab_size = tab_keys = tab_items = 0;
}

/* ------------------------------------------------------------ BCAST prefixes */

typedef struct bkey {
    char *key;
    size_t len;
    uint64_t writer; /* client id, 0: none on this node */
} bkey;

typedef struct bprefix {
    char *p;
    size_t len;
    client **clients;
    int n, cap;
    bkey *keys; /* written during this pass */
    size_t nkeys, capkeys;
} bprefix;

static bprefix *prefixes;
static int nprefixes;

static int prefix_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int r = memcmp(a, b, al < bl ? al : bl);
    return r ? r : al < bl ? -1 : al > bl;
}

static bprefix *prefix_find(const char *p, size_t len, int create)
{
    for (int i = 0; i < nprefixes; i++)
        if (prefixes[i].len == len && !memcmp(prefixes[i].p, p, len)) return &prefixes[i];
    if (!create) return NULL;
    /* Kept sorted: each pass's messages go out in prefix order, as Redis's. */
    int at = 0;
    while (at < nprefixes && prefix_cmp(prefixes[at].p, prefixes[at].len, p, len) < 0)
        at++;
    prefixes = xrealloc(prefixes, (size_t)(nprefixes + 1) * sizeof(*prefixes));
    memmove(prefixes + at + 1, prefixes + at, (size_t)(nprefixes - at) * sizeof(*prefixes));
    nprefixes++;
    bprefix *b = &prefixes[at];
    memset(b, 0, sizeof(*b));
    b->p = xrealloc(NULL, len);
    memcpy(b->p, p, len);
    b->len = len;
    return b;
}

static void prefix_keys_free(bprefix *b)
{
    for (size_t i = 0; i < b->nkeys; i++)
        free(b->keys[i].key);
    b->nkeys = 0;
}

static void prefix_drop_client(client *c)
{
    for (int i = 0; i < nprefixes; i++) {
        bprefix *b = &prefixes[i];
        for (int j = 0; j < b->n; j++)
            if (b->clients[j] == c) {
                b->clients[j] = b->clients[--b->n];
                break;
            }
        if (b->n == 0) {
            prefix_keys_free(b);
            free(b->keys);
            free(b->clients);
            free(b->p);
            memmove(prefixes + i, prefixes + i + 1,
                    (size_t)(nprefixes - i - 1) * sizeof(*prefixes));
            nprefixes--;
            i--;
        }
    }
}

/* ------------------------------------------------------------ messages */

static client *client_by_id(uint64_t id)
{
    for (client *o = srv.clients; o; o = o->next)
        if (o->id == id) return o;
    return NULL;
}

/* Sends one invalidation whose value (an array of keys, or a null) is
 * payload, already encoded (the same bytes in RESP2 and RESP3). */
static void send_msg(client *c, const char *payload, size_t n)
{
    trackstate *t = c->trk;
    client *to = c;
    int redirected = 0;
    if (t->redirect) {
        to = client_by_id(t->redirect);
        if (!to) {
            t->flags |= TRK_BROKEN;
            if (c->proto == 3) {
                resp_buf *b = client_push_buf(c);
                resp_add_push(b, 2);
                resp_add_bulk_str(b, "tracking-redir-broken");
                resp_add_int(b, (int64_t)t->redirect);
                client_mark_dirty(c);
            }
            return;
        }
        redirected = 1;
    }
    /* A client's invalidation of its own write follows that write's reply
     * (as Redis defers it); any other goes out now. */
    resp_buf *b;
    int own = to == c && c == writer;
    if (to->proto == 3) {
        b = own ? client_reply_buf(to) : client_push_buf(to);
        resp_add_push(b, 2);
        resp_add_bulk_str(b, "invalidate");
    } else if (redirected && pubsub_count(to) > 0) {
        b = client_push_buf(to);
        resp_add_array(b, 3);
        resp_add_bulk_str(b, "message");
        resp_add_bulk_str(b, "__redis__:invalidate");
    } else {
        return; /* RESP2 without a redirect: nowhere to send it */
    }
    resp_add_raw(b, payload, n);
    client_mark_dirty(to);
}

static void send_key(client *c, const char *key, size_t len)
{
    resp_buf one;
    resp_buf_init(&one, 2);
    resp_add_array(&one, 1);
    resp_add_bulk(&one, key, len);
    send_msg(c, one.p, one.len);
    resp_buf_free(&one);
}

static trackstate *tracker_by_id(uint64_t id)
{
    for (trackstate *t = all; t; t = t->next)
        if (t->c->id == id) return t;
    return NULL;
}

static void invalidate_key(const char *key, size_t len)
{
    if (!tab) return;
    uint64_t h = hash_bytes(key, len);
    tkey **pp = find_slot(key, len, h);
    tkey *k = *pp;
    if (!k) return;
    /* A client with a reply still pending (other than the write applying)
     * stays on the key: the key was
     * remembered when its read arrived, and that read may run after this
     * write (and be cached), so a later write must invalidate it again. */
    uint32_t kept = 0;
    for (uint32_t i = 0; i < k->n; i++) {
        trackstate *t = tracker_by_id(k->ids[i]);
        if (!t || (t->flags & TRK_BCAST)) continue;
        if (!((t->flags & TRK_NOLOOP) && t->c == writer)) send_key(t->c, key, len);
        if (t->c->npending - (t->c == writer) > 0) k->ids[kept++] = k->ids[i];
    }
    tab_items -= k->n - kept;
    k->n = kept;
    if (kept) return;
    *pp = k->next;
    tab_keys--;
    free(k->ids);
    free(k);
}

static void bcast_remember(const char *key, size_t len)
{
    for (int i = 0; i < nprefixes; i++) {
        bprefix *b = &prefixes[i];
        if (b->len > len || memcmp(b->p, key, b->len)) continue;
        if (b->nkeys == b->capkeys) {
            b->capkeys = b->capkeys ? b->capkeys * 2 : 16;
            b->keys = xrealloc(b->keys, b->capkeys * sizeof(*b->keys));
        }
        bkey *k = &b->keys[b->nkeys++];
        k->key = xrealloc(NULL, len);
        memcpy(k->key, key, len);
        k->len = len;
        k->writer = writer ? writer->id : 0;
    }
}

/* The state's hook: called while an entry applies. */
void tracking_key_written(void *ctx, int db, const char *key, size_t keylen)
{
    (void)ctx, (void)db;
    if (!all) return;
    if (!key) { /* FLUSHDB / FLUSHALL: every key of every client */
        static const char null2[] = "$-1\r\n";
        for (trackstate *t = all; t; t = t->next) {
            client *to = t->c;
            if (t->redirect) {
                client *r = client_by_id(t->redirect);
                if (r) to = r;
            }
            if (to->proto == 3)
                send_msg(t->c, "_\r\n", 3);
            else
                send_msg(t->c, null2, sizeof(null2) - 1);
        }
        table_free();
        return;
    }
    if (nprefixes) bcast_remember(key, keylen);
    invalidate_key(key, keylen);
}

static int bkey_cmp(const void *a, const void *b)
{
    const bkey *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int r = memcmp(x->key, y->key, n);
    if (r) return r;
    return x->len < y->len ? -1 : x->len > y->len;
}

void tracking_end_of_pass(void)
{
    for (int i = 0; i < nprefixes; i++) {
        bprefix *b = &prefixes[i];
        if (!b->nkeys) continue;
        /* Sorted, one entry per key (its last writer), as Redis's radix tree. */
        qsort(b->keys, b->nkeys, sizeof(*b->keys), bkey_cmp);
        size_t u = 0;
        for (size_t j = 0; j < b->nkeys; j++) {
            if (u && !bkey_cmp(&b->keys[u - 1], &b->keys[j])) {
                free(b->keys[u - 1].key);
                b->keys[u - 1] = b->keys[j];
            } else {
                b->keys[u++] = b->keys[j];
            }
        }
        b->nkeys = u;
        resp_buf msg;
        resp_buf_init(&msg, 2);
        for (int j = 0; j < b->n; j++) {
            client *c = b->clients[j];
            int noloop = c->trk && (c->trk->flags & TRK_NOLOOP);
            size_t count = 0;
            for (size_t k = 0; k < b->nkeys; k++)
                if (!noloop || b->keys[k].writer != c->id) count++;
            if (!count) continue;
            resp_buf_reset(&msg);
            resp_add_array(&msg, (int64_t)count);
            for (size_t k = 0; k < b->nkeys; k++)
                if (!noloop || b->keys[k].writer != c->id)
                    resp_add_bulk(&msg, b->keys[k].key, b->keys[k].len);
            send_msg(c, msg.p, msg.len);
        }
        resp_buf_free(&msg);
        prefix_keys_free(b);
    }
}

void tracking_set_writer(client *c)
{
    writer = c;
}

/* ------------------------------------------------------------ reads */

void tracking_command(client *c, int is_client_cmd)
{
    trackstate *t = c->trk;
    if (!t) return;
    if ((t->flags & TRK_RESET) && !(c->flags & CF_MULTI)) t->flags &= ~TRK_CACHING;
    if (is_client_cmd)
        t->flags &= ~TRK_RESET;
    else
        t->flags |= TRK_RESET;
}

void tracking_read(client *c, const kv_command *cmd, int argc, char **argv, size_t *lens)
{
    trackstate *t = c->trk;
    if (!t || !(t->flags & TRK_ON) || (t->flags & TRK_BCAST)) return;
    int caching = t->flags & TRK_CACHING;
    if (((t->flags & TRK_OPTIN) && !caching) || ((t->flags & TRK_OPTOUT) && caching)) return;
    int pos[64];
    int n = kv_command_keys(cmd, argc, argv, lens, pos, 64);
    if (n > 64) n = 64;
    for (int i = 0; i < n; i++)
        remember_key(argv[pos[i]], lens[pos[i]], c->id);
}

/* ------------------------------------------------------------ CLIENT */

static void disable(client *c)
{
    trackstate *t = c->trk;
    if (!t) return;
    if (t->flags & TRK_BCAST) prefix_drop_client(c);
    for (int i = 0; i < t->nprefix; i++)
        free(t->prefix[i]);
    free(t->prefix);
    free(t->plen);
    if (t->prev)
        t->prev->next = t->next;
    else
        all = t->next;
    if (t->next) t->next->prev = t->prev;
    free(t);
    c->trk = NULL;
    nclients--;
}

void tracking_client_gone(client *c)
{
    disable(c);
    if (writer == c) writer = NULL;
}

void tracking_reset(client *c)
{
    disable(c);
}

static int plen_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    size_t n = al < bl ? al : bl;
    return memcmp(a, b, n); /* 0: one is a prefix of the other */
}

static void add_prefix(trackstate *t, const char *p, size_t len)
{
    int at = 0;
    while (at < t->nprefix) {
        size_t n = t->plen[at] < len ? t->plen[at] : len;
        int r = memcmp(t->prefix[at], p, n);
        if (r == 0 && t->plen[at] == len) return; /* already there */
        if (r > 0 || (r == 0 && t->plen[at] > len)) break;
        at++;
    }
    t->prefix = xrealloc(t->prefix, (size_t)(t->nprefix + 1) * sizeof(*t->prefix));
    t->plen = xrealloc(t->plen, (size_t)(t->nprefix + 1) * sizeof(*t->plen));
    memmove(t->prefix + at + 1, t->prefix + at, (size_t)(t->nprefix - at) * sizeof(*t->prefix));
    memmove(t->plen + at + 1, t->plen + at, (size_t)(t->nprefix - at) * sizeof(*t->plen));
    t->prefix[at] = xrealloc(NULL, len ? len : 1);
    memcpy(t->prefix[at], p, len);
    t->plen[at] = len;
    t->nprefix++;
    bprefix *b = prefix_find(p, len, 1);
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 4;
        b->clients = xrealloc(b->clients, (size_t)b->cap * sizeof(*b->clients));
    }
    b->clients[b->n++] = t->c;
}

static void tracking_on_off(client *c, resp_buf *b, int argc, char **argv, size_t *lens)
{
    int opts = 0, nprefix = 0;
    uint64_t redirect = 0;
    int *pidx = calloc((size_t)argc, sizeof(int));
    if (!pidx) exit(1);
    for (int j = 3; j < argc; j++) {
        int more = argc - j - 1;
        if (!strcasecmp(argv[j], "redirect") && more) {
            j++;
            if (redirect) {
                resp_add_error(b, "ERR A client can only redirect to a single other client");
                goto out;
            }
            long long id;
            if (!kv_string2ll(argv[j], lens[j], &id)) {
                resp_add_error(b, "ERR value is not an integer or out of range");
                goto out;
            }
            if (!client_by_id((uint64_t)id)) {
                resp_add_error(b, "ERR The client ID you want redirect to does not exist");
                goto out;
            }
            redirect = (uint64_t)id;
        } else if (!strcasecmp(argv[j], "bcast")) {
            opts |= TRK_BCAST;
        } else if (!strcasecmp(argv[j], "optin")) {
            opts |= TRK_OPTIN;
        } else if (!strcasecmp(argv[j], "optout")) {
            opts |= TRK_OPTOUT;
        } else if (!strcasecmp(argv[j], "noloop")) {
            opts |= TRK_NOLOOP;
        } else if (!strcasecmp(argv[j], "prefix") && more) {
            j++;
            pidx[nprefix++] = j;
        } else {
            resp_add_error(b, "ERR syntax error");
            goto out;
        }
    }
    trackstate *t = c->trk;
    if (!strcasecmp(argv[2], "on")) {
        if (!(opts & TRK_BCAST) && nprefix) {
            resp_add_error(b, "ERR PREFIX option requires BCAST mode to be enabled");
            goto out;
        }
        if (t && !!(t->flags & TRK_BCAST) != !!(opts & TRK_BCAST)) {
            resp_add_error(b, "ERR You can't switch BCAST mode on/off before disabling tracking "
                              "for this client, and then re-enabling it with a different mode.");
            goto out;
        }
        if ((opts & TRK_BCAST) && (opts & (TRK_OPTIN | TRK_OPTOUT))) {
            resp_add_error(b, "ERR OPTIN and OPTOUT are not compatible with BCAST");
            goto out;
        }
        if ((opts & TRK_OPTIN) && (opts & TRK_OPTOUT)) {
            resp_add_error(b, "ERR You can't specify both OPTIN mode and OPTOUT mode");
            goto out;
        }
        if (t && (((opts & TRK_OPTIN) && (t->flags & TRK_OPTOUT)) ||
                  ((opts & TRK_OPTOUT) && (t->flags & TRK_OPTIN)))) {
            resp_add_error(b, "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking "
                              "for this client, and then re-enabling it with a different mode.");
            goto out;
        }
        if (opts & TRK_BCAST) {
            for (int i = 0; i < nprefix; i++) {
                const char *p = argv[pidx[i]];
                size_t pl = lens[pidx[i]];
                for (int k = 0; t && k < t->nprefix; k++)
                    if (!plen_cmp(t->prefix[k], t->plen[k], p, pl)) {
                        resp_add_errorf(b,
                                        "ERR Prefix '%s' overlaps with an existing prefix '%.*s'. "
                                        "Prefixes for a single client must not overlap.",
                                        p, (int)t->plen[k], t->prefix[k]);
                        goto out;
                    }
                for (int k = i + 1; k < nprefix; k++)
                    if (!plen_cmp(p, pl, argv[pidx[k]], lens[pidx[k]])) {
                        resp_add_errorf(b,
                                        "ERR Prefix '%s' overlaps with another provided prefix "
                                        "'%s'. Prefixes for a single client must not overlap.",
                                        p, argv[pidx[k]]);
                        goto out;
                    }
            }
        }
        if (!t) {
            t = xrealloc(NULL, sizeof(*t));
            memset(t, 0, sizeof(*t));
            t->c = c;
            t->next = all;
            if (all) all->prev = t;
            all = t;
            c->trk = t;
            nclients++;
        }
        t->flags = (t->flags & TRK_CACHING) | TRK_ON | opts;
        t->redirect = redirect;
        if (opts & TRK_BCAST) {
            if (nprefix == 0) add_prefix(t, "", 0);
            for (int i = 0; i < nprefix; i++)
                add_prefix(t, argv[pidx[i]], lens[pidx[i]]);
        }
        resp_add_ok(b);
    } else if (!strcasecmp(argv[2], "off")) {
        disable(c);
        resp_add_ok(b);
    } else {
        resp_add_error(b, "ERR syntax error");
    }
out:
    free(pidx);
}

static void tracking_info(client *c, resp_buf *b)
{
    trackstate *t = c->trk;
    const char *flags[8];
    int n = 0;
    if (!t) {
        flags[n++] = "off";
    } else {
        flags[n++] = "on";
        if (t->flags & TRK_BCAST) flags[n++] = "bcast";
        if (t->flags & TRK_OPTIN) {
            flags[n++] = "optin";
            if (t->flags & TRK_CACHING) flags[n++] = "caching-yes";
        }
        if (t->flags & TRK_OPTOUT) {
            flags[n++] = "optout";
            if (t->flags & TRK_CACHING) flags[n++] = "caching-no";
        }
        if (t->flags & TRK_NOLOOP) flags[n++] = "noloop";
        if (t->flags & TRK_BROKEN) flags[n++] = "broken_redirect";
    }
    resp_add_map(b, 3);
    resp_add_bulk_str(b, "flags");
    resp_add_set(b, n);
    for (int i = 0; i < n; i++)
        resp_add_bulk_str(b, flags[i]);
    resp_add_bulk_str(b, "redirect");
    resp_add_int(b, t ? (int64_t)t->redirect : -1);
    resp_add_bulk_str(b, "prefixes");
    int np = t && (t->flags & TRK_BCAST) ? t->nprefix : 0;
    resp_add_array(b, np);
    for (int i = 0; i < np; i++)
        resp_add_bulk(b, t->prefix[i], t->plen[i]);
}

static int sub_arity_ok(resp_buf *b, const char *sub, int argc, int arity)
{
    if ((arity > 0 && argc == arity) || (arity < 0 && argc >= -arity)) return 1;
    resp_add_errorf(b, "ERR wrong number of arguments for 'client|%s' command", sub);
    return 0;
}

int tracking_client_sub(client *c, resp_buf *b, int argc, char **argv, size_t *lens)
{
    const char *sub = argv[1];
    trackstate *t = c->trk;
    if (!strcasecmp(sub, "tracking")) {
        if (sub_arity_ok(b, "tracking", argc, -3)) tracking_on_off(c, b, argc, argv, lens);
    } else if (!strcasecmp(sub, "caching")) {
        if (!sub_arity_ok(b, "caching", argc, 3)) return 1;
        if (!t || !(t->flags & (TRK_OPTIN | TRK_OPTOUT))) {
            resp_add_error(b, "ERR CLIENT CACHING can be called only when the client is in "
                              "tracking mode with OPTIN or OPTOUT mode enabled");
        } else if (!strcasecmp(argv[2], "yes")) {
            if (t->flags & TRK_OPTIN) {
                t->flags |= TRK_CACHING;
                resp_add_ok(b);
            } else {
                resp_add_error(b, "ERR CLIENT CACHING YES is only valid when tracking is enabled "
                                  "in OPTIN mode.");
            }
        } else if (!strcasecmp(argv[2], "no")) {
            if (t->flags & TRK_OPTOUT) {
                t->flags |= TRK_CACHING;
                resp_add_ok(b);
            } else {
                resp_add_error(b, "ERR CLIENT CACHING NO is only valid when tracking is enabled "
                                  "in OPTOUT mode.");
            }
        } else {
            resp_add_error(b, "ERR syntax error");
        }
    } else if (!strcasecmp(sub, "getredir")) {
        if (sub_arity_ok(b, "getredir", argc, 2)) resp_add_int(b, t ? (int64_t)t->redirect : -1);
    } else if (!strcasecmp(sub, "trackinginfo")) {
        if (sub_arity_ok(b, "trackinginfo", argc, 2)) tracking_info(c, b);
    } else {
        return 0;
    }
    return 1;
}

size_t tracking_info_fields(char *buf, size_t n, int stats)
{
    int w;
    if (stats) {
        size_t np = (size_t)nprefixes;
        w = snprintf(buf, n,
                     "tracking_total_keys:%zu\r\ntracking_total_items:%zu\r\n"
                     "tracking_total_prefixes:%zu\r\n",
                     tab_keys, tab_items, np);
    } else {
        w = snprintf(buf, n, "tracking_clients:%lld\r\n", nclients);
    }
    return w < 0 ? 0 : (size_t)w >= n ? n - 1 : (size_t)w;
}

int tracking_flags(client *c, char *out)
{
    int n = 0;
    trackstate *t = c->trk;
    if (!t) return 0;
    out[n++] = 't';
    if (t->flags & TRK_BROKEN) out[n++] = 'R';
    if (t->flags & TRK_BCAST) out[n++] = 'B';
    return n;
}

long long tracking_redir(client *c)
{
    return c->trk ? (long long)c->trk->redirect : -1;
}
