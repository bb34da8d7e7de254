/* watch.c -- WATCH and UNWATCH: the keys a connection watches (Redis's
 * multi.c watchedKey list).
 *
 * Redis decides at EXEC time, on the one server, whether a watched key was
 * touched. Here the decision belongs to the apply of the EXEC's entry, on
 * every node: WATCH records, per key, its logical database, whether it
 * existed, the node's applied index and the physical database
 * (kvstate_watch_probe); EXEC puts
 * that list in front of the queued commands as "raft.watch" (watch_seal),
 * and the apply aborts the transaction with a null reply if a key changed
 * after the index it was watched at or has expired since
 * (storage/kvks.c "watch"). So WATCH, the reads and EXEC may go to a
 * follower, and the entry decides the same way on every node and across
 * a leader change. A node's applied index may lag the leader's: a key
 * changed in between is then seen by the apply as changed after the watch,
 * which aborts (never a missed change).
 *
 * A WATCH sent behind the connection's own commands still in flight (a
 * pipelined SET k; WATCH k) waits for them, with the connection's later
 * input (CF_WATCH_WAIT): watching at an applied index below the client's
 * own write would see that write as a change made after the WATCH. On a
 * follower whose write was forwarded, the node may not have applied it
 * yet when its reply comes back, and the EXEC may still abort. */
#include <stdlib.h>
#include <string.h>

#include "server/clientcmd.h"
#include "server/log.h"
#include "server/server.h"
#include "storage/kverr.h"
#include "storage/kvstate.h"

typedef struct wkey {
    int db;
    int phys; /* the physical database db was (SWAPDB) */
    int present;
    uint64_t applied;
    size_t len;
    char *key; /* owned */
} wkey;

struct watchlist {
    wkey *keys;
    int n, cap;
    mcmd waiting; /* the WATCH waiting for the client's earlier commands; owned */
};

static int watched(const struct watchlist *w, int db, const char *key, size_t len)
{
    for (int i = 0; i < w->n; i++)
        if (w->keys[i].db == db && w->keys[i].len == len && !memcmp(w->keys[i].key, key, len))
            return 1;
    return 0;
}

void watch_command(client *c, int argc, char **argv, size_t *lens)
{
    resp_buf *b = client_reply_buf(c);
    if (c->flags & CF_MULTI) {
        /* Redis answers without flagging the transaction. */
        resp_add_error(b, "ERR WATCH inside MULTI is not allowed");
        return;
    }
    if (!c->watch) c->watch = server_calloc(1, sizeof(*c->watch), "watching keys");
    struct watchlist *w = c->watch;
    if (c->npending && !(c->opmode & (CM_REPLY_OFF | CM_REPLY_SKIP))) {
        w->waiting.argc = argc;
        w->waiting.argv = argv_copy(argc, argv, lens, &w->waiting.argvlen);
        c->flags |= CF_WATCH_WAIT;
        return;
    }
    for (int i = 1; i < argc; i++) {
        if (watched(w, c->db, argv[i], lens[i])) continue; /* the first WATCH counts */
        if (w->n == w->cap) {
            int cap = w->cap ? w->cap * 2 : 4;
            wkey *k = realloc(w->keys, (size_t)cap * sizeof(*k));
            if (!k) {
                serverLog(LL_WARNING, "Out of memory watching keys");
                exit(1);
            }
            w->keys = k;
            w->cap = cap;
        }
        wkey *k = &w->keys[w->n];
        int rc = kvstate_watch_probe(srv.state, c->db, argv[i], lens[i], &k->present, &k->applied,
                                     &k->phys);
        if (rc != 0) {
            serverLog(LL_WARNING, "Reading the state: %s", kv_strerror(rc));
            exit(1);
        }
        k->key = server_calloc(lens[i] ? lens[i] : 1, 1, "watching keys");
        memcpy(k->key, argv[i], lens[i]);
        k->len = lens[i];
        k->db = c->db;
        w->n++;
    }
    resp_add_ok(b);
}

void watch_resume(client *c)
{
    struct watchlist *w = c->watch;
    c->flags &= ~CF_WATCH_WAIT;
    mcmd m = w->waiting;
    w->waiting.argv = NULL;
    watch_command(c, m.argc, m.argv, m.argvlen);
    free(m.argv);
    client_resume_input(c);
}

void watch_clear(client *c)
{
    struct watchlist *w = c->watch;
    if (!w) return;
    for (int i = 0; i < w->n; i++)
        free(w->keys[i].key);
    free(w->keys);
    free(w->waiting.argv);
    free(w);
    c->watch = NULL;
    c->flags &= ~CF_WATCH_WAIT;
}

int watch_count(const client *c)
{
    return c->watch ? c->watch->n : 0;
}

void watch_seal(client *c)
{
    struct watchlist *w = c->watch;
    if (!w || w->n == 0) {
        watch_clear(c);
        return;
    }
    int argc = 1 + 2 * w->n;
    char **av = server_calloc((size_t)argc, sizeof(*av), "sealing a watch");
    size_t *al = server_calloc((size_t)argc, sizeof(*al), "sealing a watch");
    char *tok = server_calloc((size_t)w->n, 48, "sealing a watch");
    av[0] = "raft.watch";
    al[0] = 10;
    for (int i = 0; i < w->n; i++) {
        char *t = tok + (size_t)i * 48;
        int n = snprintf(t, 48, "%d:%d:%llu:%d", w->keys[i].db, w->keys[i].present,
                         (unsigned long long)w->keys[i].applied, w->keys[i].phys);
        av[1 + 2 * i] = t;
        al[1 + 2 * i] = (size_t)n;
        av[2 + 2 * i] = w->keys[i].key;
        al[2 + 2 * i] = w->keys[i].len;
    }
    multi_queue_front(c, argc, av, al);
    free(av);
    free(al);
    free(tok);
    watch_clear(c);
}
