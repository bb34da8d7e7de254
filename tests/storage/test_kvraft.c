/* test_kvraft.c -- the log environment as raft/'s storage (kvraft.h): the
 * interface on its own (ranges, byte budgets, compacted and unavailable
 * indexes, pending writes, conflicts, the hard state, reopening), a
 * one-node raft over it across a restart, and a 3-node in-process cluster
 * whose nodes all restart from their disks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "kvtest.h"
#include "raft/raft.h"
#include "storage/kvraft.h"

/* ------------------------------------------------------------ helpers */

static kvlog *open_log(const char *dir)
{
    kvlog *l = NULL;
    char err[256];
    assert_int_equal(kvlog_open(&l, dir, KVT_MAP, err, sizeof(err)), 0);
    return l;
}

/* The data of entry i of term t: a tag and a length that varies with i. */
static size_t fmt_entry(char *buf, size_t cap, uint64_t i, uint64_t t)
{
    int n = snprintf(buf, cap, "e%llu.t%llu.", (unsigned long long)i, (unsigned long long)t);
    size_t len = (size_t)n + (size_t)(i % 5) * 10;
    assert_true(len <= cap);
    memset(buf + n, 'a' + (int)(i % 26), len - (size_t)n);
    return len;
}

/* Persists entries [from, to] of term t (types vary unless normal) as one
 * Ready batch, with hs when given. */
static int persist_ents(kvlog *l, uint64_t from, uint64_t to, uint64_t t, int normal,
                        const raft_hard_state *hs)
{
    size_t n = to >= from ? (size_t)(to - from + 1) : 0;
    raft_entry *es = calloc(n ? n : 1, sizeof(*es));
    char *bufs = calloc(n ? n : 1, 64);
    assert_non_null(es);
    assert_non_null(bufs);
    for (size_t k = 0; k < n; k++) {
        uint64_t i = from + k;
        es[k].index = i;
        es[k].term = t;
        es[k].type = normal ? RAFT_ENTRY_NORMAL : (uint8_t)(i % 3);
        es[k].len = (uint32_t)fmt_entry(bufs + 64 * k, 64, i, t);
        es[k].data = (const uint8_t *)bufs + 64 * k;
    }
    raft_ready_batch rd;
    memset(&rd, 0, sizeof(rd));
    rd.entries = es;
    rd.n_entries = n;
    if (hs) {
        rd.hs_changed = 1;
        rd.hs = *hs;
    }
    int rc = kvraft_persist(l, &rd);
    free(es);
    free(bufs);
    return rc;
}

/* The stored entry i has term t and the data fmt_entry gives. */
static void check_stored(kvlog *l, uint64_t i, uint64_t t)
{
    char want[64];
    size_t wlen = fmt_entry(want, sizeof(want), i, t);
    uint64_t term;
    void *d;
    size_t len;
    assert_int_equal(kvlog_get(l, i, &term, NULL, &d, &len), 0);
    assert_int_equal(term, t);
    assert_int_equal(len, wlen);
    assert_memory_equal(d, want, len);
    free(d);
}

typedef struct fx {
    char *dir;
    kvlog *l;
    raft_storage st;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    f->dir = kvt_mkdtemp();
    f->l = open_log(f->dir);
    kvraft_storage(f->l, &f->st);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    kvlog_close(f->l);
    kvt_rmrf(f->dir);
    free(f);
    return 0;
}

static void reopen(fx *f)
{
    kvlog_close(f->l);
    f->l = open_log(f->dir);
    kvraft_storage(f->l, &f->st);
}

static uint64_t st_term(fx *f, uint64_t i, int want_rc)
{
    uint64_t t = 12345;
    assert_int_equal(f->st.term(f->st.ctx, i, &t), want_rc);
    return t;
}

/* --------------------------------------------- applied entries (copies) */

typedef struct app_ent {
    uint64_t index, term;
    uint8_t type;
    uint32_t len;
    uint8_t *data;
} app_ent;

typedef struct applog {
    app_ent *v;
    size_t n, cap;
    uint64_t next; /* the index the next applied entry must have */
    size_t batches, max_batch;
} applog;

static void applog_init(applog *a, uint64_t applied)
{
    memset(a, 0, sizeof(*a));
    a->next = applied + 1;
}

static void applog_free(applog *a)
{
    for (size_t k = 0; k < a->n; k++)
        free(a->v[k].data);
    free(a->v);
    memset(a, 0, sizeof(*a));
}

static void applog_push(applog *a, const raft_entry *e)
{
    assert_int_equal(e->index, a->next); /* in order, no gap, no repeat */
    a->next++;
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 64;
        a->v = realloc(a->v, a->cap * sizeof(*a->v));
        assert_non_null(a->v);
    }
    app_ent *x = &a->v[a->n++];
    x->index = e->index;
    x->term = e->term;
    x->type = e->type;
    x->len = e->len;
    x->data = malloc(e->len ? e->len : 1);
    assert_non_null(x->data);
    if (e->len) memcpy(x->data, e->data, e->len);
}

static const app_ent *applog_at(const applog *a, uint64_t index)
{
    if (!a->n || index < a->v[0].index || index > a->v[a->n - 1].index) return NULL;
    return &a->v[index - a->v[0].index];
}

static void applog_equal(const applog *a, const applog *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t k = 0; k < a->n; k++) {
        assert_int_equal(a->v[k].index, b->v[k].index);
        assert_int_equal(a->v[k].term, b->v[k].term);
        assert_int_equal(a->v[k].type, b->v[k].type);
        assert_int_equal(a->v[k].len, b->v[k].len);
        assert_memory_equal(a->v[k].data, b->v[k].data, a->v[k].len);
    }
}

/* ------------------------------------------------ an in-memory network */

typedef struct wire {
    uint8_t *p;
    size_t len;
} wire;

typedef struct net {
    wire *q;
    size_t n, cap;
    int cut[8]; /* cut[i]: messages from or to node id i are lost */
    uint64_t sent;
} net;

static void net_send(net *w, const raft_msg *m)
{
    if (m->from < 8 && m->to < 8 && (w->cut[m->from] || w->cut[m->to])) return;
    size_t sz = raft_msg_encoded_size(m);
    uint8_t *p = malloc(sz);
    assert_non_null(p);
    assert_int_equal(raft_msg_encode(m, p, sz), sz);
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 64;
        w->q = realloc(w->q, w->cap * sizeof(*w->q));
        assert_non_null(w->q);
    }
    w->q[w->n++] = (wire){p, sz};
    w->sent++;
}

static void net_free(net *w)
{
    for (size_t k = 0; k < w->n; k++)
        free(w->q[k].p);
    free(w->q);
    memset(w, 0, sizeof(*w));
}

/* ------------------------------------------------------ a node on disk */

typedef struct tnode {
    uint64_t id;
    char *dir;
    kvlog *l;
    raft_storage st;
    raft_node *r;
    applog app;
} tnode;

/* storage->entries of the nodes below, counted. */
static int (*real_entries)(void *, uint64_t, uint64_t, uint64_t, raft_sink *);
static uint64_t entries_calls;

static int counting_entries(void *ctx, uint64_t lo, uint64_t hi, uint64_t max, raft_sink *sink)
{
    entries_calls++;
    return real_entries(ctx, lo, hi, max, sink);
}

static void node_start(tnode *nd, const raft_config *tmpl, uint64_t applied)
{
    nd->l = open_log(nd->dir);
    kvraft_storage(nd->l, &nd->st);
    real_entries = nd->st.entries;
    nd->st.entries = counting_entries;
    raft_config cfg = *tmpl;
    cfg.id = nd->id;
    cfg.applied = applied;
    cfg.storage = &nd->st;
    assert_int_equal(raft_new(&nd->r, &cfg), 0);
    applog_init(&nd->app, applied);
}

/* Frees the node and closes its log: a clean stop (the state machine,
 * the applied log here, is not durable and is rebuilt from the log). */
static void node_stop(tnode *nd)
{
    raft_free(nd->r);
    nd->r = NULL;
    kvlog_close(nd->l);
    nd->l = NULL;
}

/* One pass of raft.h's loop. Returns 1 when there was a Ready. */
static int node_ready(tnode *nd, net *w)
{
    if (!raft_has_ready(nd->r)) return 0;
    raft_ready_batch rd;
    assert_int_equal(raft_ready(nd->r, &rd), 0);
    for (size_t k = 0; k < rd.n_msgs; k++)
        net_send(w, &rd.msgs[k]);
    assert_int_equal(kvraft_persist(nd->l, &rd), 0);
    /* Step 2 is durable: the stored log ends where raft's does. */
    if (rd.n_entries) assert_int_equal(kvlog_last_index(nd->l), rd.entries[rd.n_entries - 1].index);
    for (size_t k = 0; k < rd.n_msgs_after_persist; k++)
        net_send(w, &rd.msgs_after_persist[k]);
    uint64_t bytes = 0;
    for (size_t k = 0; k < rd.n_committed; k++) {
        applog_push(&nd->app, &rd.committed[k]);
        bytes += rd.committed[k].len;
    }
    if (rd.n_committed) {
        nd->app.batches++;
        if (bytes > nd->app.max_batch) nd->app.max_batch = bytes;
    }
    assert_int_equal(raft_advance(nd->r, &rd), 0);
    return 1;
}

static tnode *node_by_id(tnode *ns, int n, uint64_t id)
{
    for (int i = 0; i < n; i++)
        if (ns[i].id == id) return &ns[i];
    return NULL;
}

/* Delivers the oldest message in flight. */
static void net_deliver_one(net *w, tnode *ns, int n)
{
    wire x = w->q[0];
    memmove(w->q, w->q + 1, (w->n - 1) * sizeof(*w->q));
    w->n--;
    raft_msg *m = NULL;
    assert_int_equal(raft_msg_decode(x.p, x.len, NULL, &m), 0);
    free(x.p);
    tnode *to = node_by_id(ns, n, m->to);
    int lost = m->from < 8 && m->to < 8 && (w->cut[m->from] || w->cut[m->to]);
    if (to && to->r && !lost) assert_int_equal(raft_step(to->r, m), 0);
    raft_msg_free(m, NULL);
}

/* Readies every node and delivers what is in flight until quiet. */
static void stabilize(tnode *ns, int n, net *w)
{
    for (int round = 0; round < 10000; round++) {
        int any = 0;
        for (int i = 0; i < n; i++)
            any |= node_ready(&ns[i], w);
        size_t k = w->n;
        while (k-- && w->n) {
            net_deliver_one(w, ns, n);
            any = 1;
        }
        if (!any) return;
    }
    fail_msg("the cluster did not settle");
}

static void tick_all(tnode *ns, int n, net *w, int ticks)
{
    for (int t = 0; t < ticks; t++) {
        for (int i = 0; i < n; i++)
            assert_int_equal(raft_tick(ns[i].r), 0);
        stabilize(ns, n, w);
    }
}

/* The leader with the highest term, or -1. */
static int leader_of(tnode *ns, int n, uint64_t *term)
{
    int best = -1;
    uint64_t bt = 0;
    for (int i = 0; i < n; i++) {
        raft_status s;
        raft_get_status(ns[i].r, &s);
        if (s.role == RAFT_LEADER && s.term >= bt) {
            best = i;
            bt = s.term;
        }
    }
    if (term) *term = bt;
    return best;
}

typedef struct proposal {
    uint64_t index, term;
    size_t len;
    char data[300];
} proposal;

static void propose(raft_node *r, proposal *p, const char *tag, int k)
{
    int n = snprintf(p->data, sizeof(p->data), "%s-%d-", tag, k);
    p->len = (size_t)n + (size_t)(k * 37 % 200);
    memset(p->data + n, 'a' + k % 26, p->len - (size_t)n);
    assert_int_equal(raft_propose(r, p->data, (uint32_t)p->len, &p->index, &p->term), 0);
}

/* Proposal p was applied at its index with its term and data. */
static void check_applied(const applog *a, const proposal *p)
{
    const app_ent *e = applog_at(a, p->index);
    assert_non_null(e);
    assert_int_equal(e->term, p->term);
    assert_int_equal(e->type, RAFT_ENTRY_NORMAL);
    assert_int_equal(e->len, p->len);
    assert_memory_equal(e->data, p->data, p->len);
}

/* ------------------------------------------------- the interface alone */

static void a_new_log_is_an_empty_raft_log(void **state)
{
    fx *f = *state;
    raft_hard_state hs = {9, 9, 9};
    raft_snapshot_meta snap;
    memset(&snap, 0xff, sizeof(snap));
    assert_ptr_equal(f->st.ctx, f->l);
    assert_int_equal(f->st.initial_state(f->st.ctx, &hs, &snap), 0);
    assert_int_equal(hs.term + hs.vote + hs.commit, 0);
    assert_int_equal(snap.index + snap.term, 0);
    assert_int_equal(snap.n_voters, 0); /* raft takes cfg.peers */
    assert_int_equal(snap.ref_len, 0);
    assert_int_equal(f->st.first_index(f->st.ctx), 1);
    assert_int_equal(f->st.last_index(f->st.ctx), 0);
    assert_int_equal(st_term(f, 0, 0), 0);
    st_term(f, 1, RAFT_EUNAVAILABLE);
    /* Bounds are answered before the sink is touched. */
    assert_int_equal(f->st.entries(f->st.ctx, 1, 1, 100, NULL), 0);
    assert_int_equal(f->st.entries(f->st.ctx, 1, 2, 100, NULL), RAFT_EUNAVAILABLE);
    assert_int_equal(f->st.snapshot(f->st.ctx, &snap), RAFT_ESNAPTEMP);
}

typedef struct collect {
    uint64_t idx[64], term[64];
    uint8_t type[64];
    char data[64][64];
    size_t len[64];
    int n;
    uint64_t stop_at; /* return stop_rc at this index */
    int stop_rc;
} collect;

static int collect_fn(void *ctx, uint64_t index, uint64_t term, uint8_t type, const void *data,
                      size_t len)
{
    collect *c = ctx;
    if (index == c->stop_at) return c->stop_rc;
    assert_true(c->n < 64 && len <= 64);
    c->idx[c->n] = index;
    c->term[c->n] = term;
    c->type[c->n] = type;
    c->len[c->n] = len;
    memcpy(c->data[c->n], data, len);
    c->n++;
    return 0;
}

static void check_range(kvlog *l, uint64_t lo, uint64_t hi, uint64_t term_of_lo_half,
                        uint64_t split, uint64_t term_hi)
{
    collect c;
    memset(&c, 0, sizeof(c));
    assert_int_equal(kvlog_range(l, lo, hi, collect_fn, &c), 0);
    assert_int_equal(c.n, hi > lo ? hi - lo : 0);
    for (int k = 0; k < c.n; k++) {
        uint64_t i = lo + (uint64_t)k, t = i < split ? term_of_lo_half : term_hi;
        char want[64];
        size_t wlen = fmt_entry(want, sizeof(want), i, t);
        assert_int_equal(c.idx[k], i);
        assert_int_equal(c.term[k], t);
        assert_int_equal(c.type[k], i % 3);
        assert_int_equal(c.len[k], wlen);
        assert_memory_equal(c.data[k], want, wlen);
    }
}

/* kvlog_range, the one-cursor read under storage->entries. */
static void range_reads_pending_and_synced_entries(void **state)
{
    fx *f = *state;
    assert_int_equal(persist_ents(f->l, 1, 20, 1, 0, NULL), 0); /* synced */
    for (uint64_t i = 21; i <= 30; i++) {                       /* pending */
        char b[64];
        size_t n = fmt_entry(b, sizeof(b), i, 2);
        assert_int_equal(kvlog_append(f->l, i, 2, (uint8_t)(i % 3), b, n), 0);
    }
    for (int pass = 0; pass < 2; pass++) {
        check_range(f->l, 1, 31, 1, 21, 2);
        check_range(f->l, 5, 9, 1, 21, 2);
        check_range(f->l, 18, 25, 1, 21, 2); /* across synced and pending */
        check_range(f->l, 30, 31, 1, 21, 2);
        check_range(f->l, 7, 7, 1, 21, 2); /* empty */
        collect c;
        memset(&c, 0, sizeof(c));
        assert_int_equal(kvlog_range(f->l, 0, 3, collect_fn, &c), KV_ENOTFOUND);
        assert_int_equal(kvlog_range(f->l, 1, 32, collect_fn, &c), KV_ENOTFOUND);
        assert_int_equal(c.n, 0);
        /* fn > 0 stops quietly, fn < 0 stops with its code */
        c.stop_at = 4;
        c.stop_rc = 1;
        assert_int_equal(kvlog_range(f->l, 1, 31, collect_fn, &c), 0);
        assert_int_equal(c.n, 3);
        c.n = 0;
        c.stop_rc = KV_EIO;
        assert_int_equal(kvlog_range(f->l, 2, 31, collect_fn, &c), KV_EIO);
        assert_int_equal(c.n, 2);
        assert_int_equal(kvlog_sync(f->l), 0); /* second pass: all synced */
    }
    reopen(f);
    check_range(f->l, 1, 31, 1, 21, 2);
}

static void pending_writes_are_visible_through_the_interface(void **state)
{
    fx *f = *state;
    raft_hard_state hs0 = {1, 1, 5};
    assert_int_equal(persist_ents(f->l, 1, 5, 1, 1, &hs0), 0);
    /* Not synced: appends and a hard state pending in kvlog's transaction. */
    for (uint64_t i = 6; i <= 9; i++) {
        char b[64];
        size_t n = fmt_entry(b, sizeof(b), i, 2);
        assert_int_equal(kvlog_append(f->l, i, 2, RAFT_ENTRY_NORMAL, b, n), 0);
    }
    kvlog_hardstate khs = {2, 1, 9};
    assert_int_equal(kvlog_set_hardstate(f->l, &khs), 0);
    assert_int_equal(f->st.last_index(f->st.ctx), 9);
    assert_int_equal(st_term(f, 5, 0), 1);
    assert_int_equal(st_term(f, 9, 0), 2);
    st_term(f, 10, RAFT_EUNAVAILABLE);
    raft_hard_state hs;
    raft_snapshot_meta snap;
    assert_int_equal(f->st.initial_state(f->st.ctx, &hs, &snap), 0);
    assert_int_equal(hs.term, 2);
    assert_int_equal(hs.commit, 9);

    /* A node created now replays all nine through storage->entries. */
    tnode nd = {.id = 1};
    raft_config cfg = {.id = 1, .election_tick = 10, .heartbeat_tick = 1, .seed = 3};
    uint64_t peers[] = {1};
    cfg.peers = peers;
    cfg.n_peers = 1;
    cfg.storage = &f->st;
    nd.l = f->l;
    assert_int_equal(raft_new(&nd.r, &cfg), 0);
    applog_init(&nd.app, 0);
    net w;
    memset(&w, 0, sizeof(w));
    while (node_ready(&nd, &w))
        ;
    assert_int_equal(nd.app.n, 9);
    for (uint64_t i = 1; i <= 9; i++) {
        char want[64];
        uint64_t t = i <= 5 ? 1 : 2;
        size_t n = fmt_entry(want, sizeof(want), i, t);
        const app_ent *e = applog_at(&nd.app, i);
        assert_int_equal(e->term, t);
        assert_int_equal(e->len, n);
        assert_memory_equal(e->data, want, n);
    }
    assert_int_equal(w.n, 0);
    raft_free(nd.r);
    applog_free(&nd.app);
    net_free(&w);
    /* kvraft_persist's sync made the pending writes durable. */
    reopen(f);
    assert_int_equal(f->st.last_index(f->st.ctx), 9);
    check_stored(f->l, 9, 2);
}

/* Replays [applied + 1, commit] through a fresh one-node raft whose Ready
 * budget is max (so storage->entries gets lo = applied + 1 and max as its
 * byte budget) and checks each batch is as long as the budget allows. */
static void replay_with_budget(fx *f, uint64_t applied, uint64_t max, uint64_t commit)
{
    uint64_t peers[] = {1};
    raft_config cfg = {.id = 1,
                       .peers = peers,
                       .n_peers = 1,
                       .election_tick = 10,
                       .heartbeat_tick = 1,
                       .seed = 5,
                       .applied = applied,
                       .max_committed_bytes = max,
                       .storage = &f->st};
    raft_node *r = NULL;
    assert_int_equal(raft_new(&r, &cfg), 0);
    /* raft starts after the snapshot when applied is below it */
    uint64_t first = kvlog_first_index(f->l);
    uint64_t next = applied + 1 < first ? first : applied + 1;
    while (raft_has_ready(r)) {
        raft_ready_batch rd;
        assert_int_equal(raft_ready(r, &rd), 0);
        assert_int_equal(rd.n_entries + rd.n_msgs + rd.n_msgs_after_persist, 0);
        assert_true(rd.n_committed >= 1);
        uint64_t bytes = 0;
        for (size_t k = 0; k < rd.n_committed; k++) {
            const raft_entry *e = &rd.committed[k];
            char want[64];
            size_t n = fmt_entry(want, sizeof(want), next, 1);
            assert_int_equal(e->index, next);
            assert_int_equal(e->term, 1);
            assert_int_equal(e->len, n);
            assert_memory_equal(e->data, want, n);
            bytes += e->len + RAFT_ENTRY_HDR_BYTES; /* the budget counts the codec's header */
            next++;
        }
        /* within the budget unless a single entry, and not cut short */
        if (rd.n_committed > 1) assert_true(bytes <= max);
        if (next <= commit) {
            char b[64];
            assert_true(bytes + fmt_entry(b, sizeof(b), next, 1) + RAFT_ENTRY_HDR_BYTES > max);
        }
        assert_int_equal(raft_advance(r, &rd), 0);
    }
    assert_int_equal(next, commit + 1);
    raft_free(r);
}

static void entries_honour_ranges_and_max_bytes(void **state)
{
    fx *f = *state;
    raft_hard_state hs = {1, 1, 40};
    assert_int_equal(persist_ents(f->l, 1, 40, 1, 1, &hs), 0);
    replay_with_budget(f, 0, 1, 40);   /* one entry per call */
    replay_with_budget(f, 10, 1, 40);  /* from the middle */
    replay_with_budget(f, 0, 60, 40);  /* a few entries per call */
    replay_with_budget(f, 3, 100, 40); /* several */
    replay_with_budget(f, 0, 1000000, 40);
    replay_with_budget(f, 39, 5, 40);
    /* The same from a compacted log: entries start at first_index. */
    assert_int_equal(kvlog_truncate_prefix(f->l, 11), 0);
    assert_int_equal(kvlog_sync(f->l), 0);
    replay_with_budget(f, 0, 60, 40); /* raft starts at first_index */
    replay_with_budget(f, 20, 100, 40);
    raft_node *r = NULL;
    uint64_t peers[] = {1};
    raft_config cfg = {.id = 1,
                       .peers = peers,
                       .n_peers = 1,
                       .election_tick = 10,
                       .heartbeat_tick = 1,
                       .applied = 40,
                       .storage = &f->st};
    assert_int_equal(raft_new(&r, &cfg), 0);
    assert_false(raft_has_ready(r)); /* all applied: nothing to replay */
    raft_free(r);
}

static void compacted_and_unavailable_indexes(void **state)
{
    fx *f = *state;
    assert_int_equal(persist_ents(f->l, 1, 5, 1, 0, NULL), 0);
    assert_int_equal(persist_ents(f->l, 6, 10, 2, 0, NULL), 0);
    assert_int_equal(kvlog_truncate_prefix(f->l, 6), 0);
    assert_int_equal(kvlog_sync(f->l), 0);
    for (int pass = 0; pass < 2; pass++) {
        assert_int_equal(f->st.first_index(f->st.ctx), 6);
        assert_int_equal(f->st.last_index(f->st.ctx), 10);
        assert_int_equal(st_term(f, 5, 0), 1); /* first - 1: the snapshot's term */
        assert_int_equal(st_term(f, 6, 0), 2);
        assert_int_equal(st_term(f, 10, 0), 2);
        st_term(f, 4, RAFT_ECOMPACTED);
        st_term(f, 0, RAFT_ECOMPACTED);
        st_term(f, 11, RAFT_EUNAVAILABLE);
        st_term(f, UINT64_MAX, RAFT_EUNAVAILABLE);
        assert_int_equal(f->st.entries(f->st.ctx, 5, 7, 100, NULL), RAFT_ECOMPACTED);
        assert_int_equal(f->st.entries(f->st.ctx, 1, 2, 100, NULL), RAFT_ECOMPACTED);
        assert_int_equal(f->st.entries(f->st.ctx, 6, 12, 100, NULL), RAFT_EUNAVAILABLE);
        raft_hard_state hs;
        raft_snapshot_meta snap;
        assert_int_equal(f->st.initial_state(f->st.ctx, &hs, &snap), 0);
        assert_int_equal(snap.index, 5);
        assert_int_equal(snap.term, 1);
        assert_int_equal(snap.n_voters, 0);
        reopen(f);
    }
    /* A batch below first_index or past last_index + 1 writes nothing. */
    assert_int_equal(persist_ents(f->l, 5, 7, 3, 0, NULL), KV_EINVAL);
    assert_int_equal(persist_ents(f->l, 12, 12, 3, 0, NULL), KV_EINVAL);
    assert_int_equal(f->st.last_index(f->st.ctx), 10);
    assert_int_equal(st_term(f, 6, 0), 2);
    /* A conflict at first_index replaces everything after the snapshot. */
    assert_int_equal(persist_ents(f->l, 6, 7, 3, 0, NULL), 0);
    assert_int_equal(f->st.last_index(f->st.ctx), 7);
    check_stored(f->l, 6, 3);
    check_stored(f->l, 7, 3);
}

static void persist_truncates_a_conflicting_tail(void **state)
{
    fx *f = *state;
    raft_hard_state hs1 = {1, 1, 3}, hs2 = {2, 2, 5};
    assert_int_equal(persist_ents(f->l, 1, 10, 1, 0, &hs1), 0);
    assert_int_equal(f->st.last_index(f->st.ctx), 10);
    /* A new leader's 6..8 of term 2 conflict with the stored 6..10. */
    assert_int_equal(persist_ents(f->l, 6, 8, 2, 0, &hs2), 0);
    for (int pass = 0; pass < 2; pass++) {
        assert_int_equal(f->st.last_index(f->st.ctx), 8);
        for (uint64_t i = 1; i <= 5; i++)
            check_stored(f->l, i, 1);
        for (uint64_t i = 6; i <= 8; i++)
            check_stored(f->l, i, 2);
        st_term(f, 9, RAFT_EUNAVAILABLE);
        raft_hard_state hs;
        raft_snapshot_meta snap;
        assert_int_equal(f->st.initial_state(f->st.ctx, &hs, &snap), 0);
        assert_memory_equal(&hs, &hs2, sizeof(hs));
        reopen(f);
    }
    /* Appending right after the last entry truncates nothing. */
    assert_int_equal(persist_ents(f->l, 9, 9, 2, 0, NULL), 0);
    check_stored(f->l, 8, 2);
    check_stored(f->l, 9, 2);
    /* A conflict at index 1 replaces the whole log. */
    assert_int_equal(persist_ents(f->l, 1, 2, 3, 0, NULL), 0);
    assert_int_equal(f->st.last_index(f->st.ctx), 2);
    check_stored(f->l, 1, 3);
    check_stored(f->l, 2, 3);

    /* Refused batches write nothing, the hard state included. */
    raft_entry es[2] = {{.index = 3, .term = 3}, {.index = 5, .term = 3}};
    raft_ready_batch rd;
    memset(&rd, 0, sizeof(rd));
    rd.entries = es;
    rd.n_entries = 2; /* not contiguous */
    rd.hs_changed = 1;
    rd.hs = (raft_hard_state){9, 9, 9};
    assert_int_equal(kvraft_persist(f->l, &rd), KV_EINVAL);
    raft_snapshot_meta sm;
    memset(&sm, 0, sizeof(sm));
    sm.index = 20;
    sm.term = 3;
    rd.n_entries = 1;
    rd.snapshot = &sm; /* entries must follow the snapshot at once */
    assert_int_equal(kvraft_persist(f->l, &rd), KV_EINVAL);
    reopen(f);
    assert_int_equal(f->st.last_index(f->st.ctx), 2);
    raft_hard_state hs;
    raft_snapshot_meta snap;
    assert_int_equal(f->st.initial_state(f->st.ctx, &hs, &snap), 0);
    assert_memory_equal(&hs, &hs2, sizeof(hs));
}

/* A Ready with a snapshot: the log restarts after it, and entries that
 * follow it are appended in the same sync. */
static void persist_snapshot_resets_log(void **state)
{
    fx *f = *state;
    assert_int_equal(persist_ents(f->l, 1, 5, 1, 0, NULL), 0);
    raft_entry es[2] = {{.index = 21, .term = 3}, {.index = 22, .term = 3}};
    raft_snapshot_meta sm;
    memset(&sm, 0, sizeof(sm));
    sm.index = 20;
    sm.term = 2;
    raft_ready_batch rd;
    memset(&rd, 0, sizeof(rd));
    rd.snapshot = &sm;
    rd.entries = es;
    rd.n_entries = 2;
    rd.hs_changed = 1;
    rd.hs = (raft_hard_state){3, 1, 20};
    assert_int_equal(kvraft_persist(f->l, &rd), 0);
    reopen(f);
    assert_int_equal(f->st.first_index(f->st.ctx), 21);
    assert_int_equal(f->st.last_index(f->st.ctx), 22);
    uint64_t t = 0;
    assert_int_equal(f->st.term(f->st.ctx, 20, &t), 0);
    assert_int_equal(t, 2);
    assert_int_equal(f->st.term(f->st.ctx, 19, &t), RAFT_ECOMPACTED);
    raft_hard_state hs;
    raft_snapshot_meta snap;
    assert_int_equal(f->st.initial_state(f->st.ctx, &hs, &snap), 0);
    assert_int_equal(snap.index, 20);
    assert_int_equal(snap.term, 2);
    assert_int_equal(hs.commit, 20);
    /* A snapshot alone: the log is empty after it. */
    sm.index = 30;
    rd.n_entries = 0;
    assert_int_equal(kvraft_persist(f->l, &rd), 0);
    assert_int_equal(f->st.first_index(f->st.ctx), 31);
    assert_int_equal(f->st.last_index(f->st.ctx), 30);
}

static void hard_state_round_trips(void **state)
{
    fx *f = *state;
    raft_ready_batch rd;
    memset(&rd, 0, sizeof(rd));
    rd.hs_changed = 1;
    rd.hs = (raft_hard_state){5, 2, 0};
    assert_int_equal(kvraft_persist(f->l, &rd), 0); /* a hard state alone */
    raft_hard_state hs;
    raft_snapshot_meta snap;
    assert_int_equal(f->st.initial_state(f->st.ctx, &hs, &snap), 0);
    assert_memory_equal(&hs, &rd.hs, sizeof(hs));
    /* hs_changed = 0: rd.hs is not stored. */
    raft_ready_batch rd2 = rd;
    rd2.hs_changed = 0;
    rd2.hs = (raft_hard_state){6, 0, 0};
    assert_int_equal(kvraft_persist(f->l, &rd2), 0);
    reopen(f);
    assert_int_equal(f->st.initial_state(f->st.ctx, &hs, &snap), 0);
    assert_memory_equal(&hs, &rd.hs, sizeof(hs));
    kvlog_hardstate k;
    assert_int_equal(kvlog_get_hardstate(f->l, &k), 0);
    assert_int_equal(k.term, 5);
    assert_int_equal(k.vote, 2);
    assert_int_equal(k.commit, 0);
}

/* A batch that fills the map: nothing of it is durable, not even the
 * truncation it began with, and the cached indexes are back on disk's. */
static void a_failed_persist_leaves_the_log_as_it_was(void **state)
{
    (void)state;
    char *dir = kvt_mkdtemp();
    kvlog *l = NULL;
    char err[256];
    assert_int_equal(kvlog_open(&l, dir, 1 << 20, err, sizeof(err)), 0);
    raft_hard_state hs1 = {1, 1, 10};
    assert_int_equal(persist_ents(l, 1, 10, 1, 0, &hs1), 0);
    enum { BIG = 400 };
    static uint8_t buf[4096];
    raft_entry *es = calloc(BIG, sizeof(*es));
    assert_non_null(es);
    for (size_t k = 0; k < BIG; k++)
        es[k] = (raft_entry){.index = 5 + k, .term = 2, .len = sizeof(buf), .data = buf};
    raft_ready_batch rd;
    memset(&rd, 0, sizeof(rd));
    rd.entries = es;
    rd.n_entries = BIG;
    rd.hs_changed = 1;
    rd.hs = (raft_hard_state){2, 2, 5};
    assert_int_equal(kvraft_persist(l, &rd), KV_EFULL);
    free(es);
    raft_storage st;
    for (int pass = 0; pass < 2; pass++) {
        kvraft_storage(l, &st);
        assert_int_equal(st.last_index(st.ctx), 10);
        for (uint64_t i = 1; i <= 10; i++)
            check_stored(l, i, 1);
        raft_hard_state hs;
        raft_snapshot_meta snap;
        assert_int_equal(st.initial_state(st.ctx, &hs, &snap), 0);
        assert_memory_equal(&hs, &hs1, sizeof(hs));
        kvlog_close(l);
        assert_int_equal(kvlog_open(&l, dir, 1 << 20, err, sizeof(err)), 0);
    }
    assert_int_equal(persist_ents(l, 11, 12, 1, 0, NULL), 0); /* it works again */
    check_stored(l, 12, 1);
    kvlog_close(l);
    kvt_rmrf(dir);
}

/* ------------------------------------------------- one node, restarted */

static void one_node_commits_and_replays_after_restart(void **state)
{
    (void)state;
    uint64_t peers[] = {1};
    raft_config cfg = {
        .peers = peers, .n_peers = 1, .election_tick = 10, .heartbeat_tick = 1, .seed = 7};
    tnode nd = {.id = 1, .dir = kvt_mkdtemp()};
    net w;
    memset(&w, 0, sizeof(w));
    enum { N = 60 };
    proposal *ps = calloc(N, sizeof(*ps));
    assert_non_null(ps);

    node_start(&nd, &cfg, 0);
    assert_int_equal(raft_campaign(nd.r), 0);
    while (node_ready(&nd, &w))
        ;
    raft_status s;
    raft_get_status(nd.r, &s);
    assert_int_equal(s.role, RAFT_LEADER);
    for (int k = 0; k < N; k++) {
        propose(nd.r, &ps[k], "one", k);
        if (k % 7 == 6) /* several proposals per Ready, several Readys */
            while (node_ready(&nd, &w))
                ;
    }
    while (node_ready(&nd, &w))
        ;
    assert_int_equal(w.n, 0); /* a one-member cluster sends nothing */
    /* Every proposal committed, in order, after the leader's empty entry. */
    const app_ent *e0 = applog_at(&nd.app, 1);
    assert_non_null(e0);
    assert_int_equal(e0->type, RAFT_ENTRY_EMPTY);
    for (int k = 0; k < N; k++) {
        if (k) assert_int_equal(ps[k].index, ps[k - 1].index + 1);
        check_applied(&nd.app, &ps[k]);
    }
    uint64_t last = ps[N - 1].index;
    assert_int_equal(nd.app.n, last);
    assert_int_equal(kvlog_last_index(nd.l), last);
    kvlog_hardstate khs;
    assert_int_equal(kvlog_get_hardstate(nd.l, &khs), 0);
    assert_int_equal(khs.commit, last);
    assert_int_equal(khs.term, s.term);
    assert_int_equal(khs.vote, 1);

    /* Restart from disk with nothing applied: Ready hands back the same
     * committed entries, in order, in several budgeted batches. */
    applog before = nd.app;
    node_stop(&nd);
    raft_config cfg2 = cfg;
    cfg2.max_committed_bytes = 500;
    node_start(&nd, &cfg2, 0);
    raft_get_status(nd.r, &s);
    assert_int_equal(s.commit, last);
    assert_int_equal(s.role, RAFT_FOLLOWER);
    while (node_ready(&nd, &w))
        ;
    applog_equal(&nd.app, &before);
    assert_true(nd.app.batches > 1);
    /* It leads again in a later term and commits more. */
    assert_int_equal(raft_campaign(nd.r), 0);
    while (node_ready(&nd, &w))
        ;
    proposal more;
    propose(nd.r, &more, "again", 1);
    while (node_ready(&nd, &w))
        ;
    assert_true(more.term > ps[0].term);
    assert_int_equal(more.index, last + 2); /* after the new leader's empty entry */
    check_applied(&nd.app, &more);

    applog_free(&before);
    applog_free(&nd.app);
    node_stop(&nd);
    kvt_rmrf(nd.dir);
    net_free(&w);
    free(ps);
}

/* ----------------------------------- three nodes, all restarted from disk */

#define NN 3

static void cluster_start(tnode *ns, const raft_config *cfg)
{
    for (int i = 0; i < NN; i++)
        node_start(&ns[i], cfg, 0);
}

static void cluster_stop(tnode *ns)
{
    for (int i = 0; i < NN; i++) {
        node_stop(&ns[i]);
        applog_free(&ns[i].app);
    }
}

static void three_nodes_restart_from_disk(void **state)
{
    (void)state;
    uint64_t peers[NN] = {1, 2, 3};
    /* Small append messages, so catching a follower up takes several
     * storage->entries reads on the leader. */
    raft_config cfg = {.peers = peers,
                       .n_peers = NN,
                       .election_tick = 10,
                       .heartbeat_tick = 1,
                       .seed = 11,
                       .prevote = 1,
                       .max_msg_bytes = 300};
    tnode ns[NN];
    memset(ns, 0, sizeof(ns));
    for (int i = 0; i < NN; i++) {
        ns[i].id = peers[i];
        ns[i].dir = kvt_mkdtemp();
        assert_non_null(ns[i].dir);
    }
    net w;
    memset(&w, 0, sizeof(w));
    enum { N1 = 30, N2 = 20 };
    proposal *ps = calloc(N1 + N2, sizeof(*ps));
    assert_non_null(ps);

    cluster_start(ns, &cfg);
    assert_int_equal(raft_campaign(ns[0].r), 0);
    stabilize(ns, NN, &w);
    uint64_t term1;
    assert_int_equal(leader_of(ns, NN, &term1), 0);
    for (int k = 0; k < N1; k++) {
        propose(ns[0].r, &ps[k], "c1", k);
        if (k % 5 == 4) stabilize(ns, NN, &w);
    }
    stabilize(ns, NN, &w);
    tick_all(ns, NN, &w, 3); /* heartbeats carry the last commit */
    uint64_t last1 = ps[N1 - 1].index;
    for (int i = 0; i < NN; i++) {
        for (int k = 0; k < N1; k++)
            check_applied(&ns[i].app, &ps[k]);
        assert_int_equal(ns[i].app.n, last1);
    }

    /* All nodes stop; the only state kept is each one's LMDB log. */
    applog golden = ns[0].app;
    memset(&ns[0].app, 0, sizeof(ns[0].app));
    cluster_stop(ns);
    net_free(&w);
    memset(&w, 0, sizeof(w));

    cluster_start(ns, &cfg);
    for (int i = 0; i < NN; i++) {
        /* the same committed log, durable on every node */
        kvlog_hardstate khs;
        assert_int_equal(kvlog_get_hardstate(ns[i].l, &khs), 0);
        assert_int_equal(khs.commit, last1);
        assert_int_equal(kvlog_last_index(ns[i].l), last1);
        for (size_t k = 0; k < golden.n; k++) {
            uint64_t t;
            uint8_t type;
            void *d;
            size_t len;
            assert_int_equal(kvlog_get(ns[i].l, golden.v[k].index, &t, &type, &d, &len), 0);
            assert_int_equal(t, golden.v[k].term);
            assert_int_equal(type, golden.v[k].type);
            assert_int_equal(len, golden.v[k].len);
            assert_memory_equal(d, golden.v[k].data, len);
            free(d);
        }
    }
    /* Replay through Ready before any election: the same entries. */
    stabilize(ns, NN, &w);
    for (int i = 0; i < NN; i++)
        applog_equal(&ns[i].app, &golden);

    /* A new leader is elected by timeout. */
    int lead = -1;
    uint64_t term2 = 0;
    for (int t = 0; t < 100 && lead < 0; t++) {
        tick_all(ns, NN, &w, 1);
        lead = leader_of(ns, NN, &term2);
    }
    assert_true(lead >= 0);
    assert_true(term2 > term1);

    /* More proposals commit; one follower misses them and is caught up
     * afterwards from the leader's log on disk. */
    int lagger = (lead + 1) % NN;
    w.cut[ns[lagger].id] = 1;
    for (int k = N1; k < N1 + N2; k++) {
        propose(ns[lead].r, &ps[k], "c2", k);
        if (k % 4 == 3) stabilize(ns, NN, &w);
    }
    stabilize(ns, NN, &w);
    tick_all(ns, NN, &w, 3);
    uint64_t last2 = ps[N1 + N2 - 1].index;
    /* it has the new leader's empty entry, none of the proposals */
    assert_int_equal(kvlog_last_index(ns[lagger].l), last1 + 1);
    assert_int_equal(ps[N1].index, last1 + 2);
    w.cut[ns[lagger].id] = 0;
    uint64_t calls = entries_calls;
    tick_all(ns, NN, &w, 5);
    /* the leader read the missing entries from LMDB, 300 bytes a message */
    assert_true(entries_calls - calls > 3);
    uint64_t t_after;
    assert_int_equal(leader_of(ns, NN, &t_after), lead);
    assert_int_equal(t_after, term2);
    for (int i = 0; i < NN; i++) {
        for (int k = 0; k < N1 + N2; k++)
            check_applied(&ns[i].app, &ps[k]);
        assert_int_equal(ns[i].app.n, last2);
        assert_int_equal(kvlog_last_index(ns[i].l), last2);
        applog_equal(&ns[i].app, &ns[lead].app);
    }

    applog_free(&golden);
    cluster_stop(ns);
    for (int i = 0; i < NN; i++)
        kvt_rmrf(ns[i].dir);
    net_free(&w);
    free(ps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_new_log_is_an_empty_raft_log, setup, teardown),
        cmocka_unit_test_setup_teardown(range_reads_pending_and_synced_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(pending_writes_are_visible_through_the_interface, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(entries_honour_ranges_and_max_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(compacted_and_unavailable_indexes, setup, teardown),
        cmocka_unit_test_setup_teardown(persist_truncates_a_conflicting_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(persist_snapshot_resets_log, setup, teardown),
        cmocka_unit_test_setup_teardown(hard_state_round_trips, setup, teardown),
        cmocka_unit_test(a_failed_persist_leaves_the_log_as_it_was),
        cmocka_unit_test(one_node_commits_and_replays_after_restart),
        cmocka_unit_test(three_nodes_restart_from_disk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
