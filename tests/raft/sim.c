/* sim.c -- the deterministic randomized cluster simulation of raft/.
 *
 * A seed decides everything: which node ticks, which in-flight message is
 * delivered, dropped, duplicated or delayed (reordered), partitions (any
 * split, symmetric or one-way), crashes (losing whatever was not persisted,
 * sometimes between the disk write and the sends), restarts from the
 * memstore "disk", compactions, proposals, reads and leadership transfers.
 * After every step the invariants are checked, incrementally:
 *   election safety     at most one leader per term (paper Figure 3)
 *   log matching        same (index, term) => same data and same previous
 *                       term, checked for every entry a node persists; by
 *                       induction the whole prefixes are equal
 *   leader completeness a new leader holds the highest committed entry
 *   state machine safety every node applies the same entry, and reaches the
 *                       same state hash, at each index
 *   monotonicity        commit never decreases, entries apply in order
 *   read index          a read's index is >= every commit that existed
 *                       when it was requested (linearizable reads)
 * Then faults stop and liveness is checked: a leader is elected, a final
 * proposal commits everywhere, and every earlier proposal is decided.
 *
 * A failing seed is printed with its trace, shrunk by replaying the trace
 * with chunks removed while it still fails.
 *
 *   raft_sim [--seeds N] [--seed S] [--steps K] [--nodes 3|5] [--verbose]
 *            [--oom RATE] [--expect-violation]
 * --oom RATE: one of RATE allocations inside raft/ fails (nodes that report
 * RAFT_ENOMEM are crashed and restarted; safety must hold regardless).
 * Soak: raft_sim --seeds 100000 --steps 2000
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/raft/cluster.h"

/* ------------------------------------------------------------- actions */

enum act_kind {
    A_TICK,
    A_DELIVER,
    A_DROP,
    A_DUP,
    A_READY,
    A_READY_CRASH,
    A_PROPOSE,
    A_CRASH,
    A_RESTART,
    A_CUT, /* a -> b lost (one-way) */
    A_ISOLATE,
    A_SPLIT, /* k = bitmask of one side */
    A_HEAL,
    A_COMPACT,
    A_READ,
    A_TRANSFER,
    A_CAMPAIGN,
    A_READY_CRASH_EARLY, /* sends rd.msgs, crashes before persisting */
    A_REPORT_SNAP,       /* the leader is told a snapshot to b failed */
    A_UNREACHABLE,       /* the leader is told b is unreachable */
    A_NKINDS
};
static const char *act_names[] = {
    "tick", "deliver", "drop",  "dup",  "ready",   "ready+crash", "propose",  "crash",   "restart",
    "cut",  "isolate", "split", "heal", "compact", "read",        "transfer", "campaign"};

typedef struct action {
    uint8_t kind, a, b;
    uint32_t k;
} action;

typedef struct actvec {
    action *v;
    size_t n, cap;
} actvec;

static void act_push(actvec *t, action a)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 1024;
        t->v = realloc(t->v, t->cap * sizeof(action));
        if (!t->v) abort();
    }
    t->v[t->n++] = a;
}

/* --oom: one of this many allocations inside raft/ fails (0: never) */
static uint32_t g_oom_rate;
/* print each action as it runs (for the final replay of a failing trace) */
static int g_print;
static size_t g_step;

/* --------------------------------------------------------------- rng */

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static uint32_t rn(uint64_t *s, uint32_t n)
{
    return (uint32_t)(rnd(s) % n);
}

/* ------------------------------------------------------------ checker */

typedef struct ekey {
    uint64_t index, term; /* term 0 = empty slot */
    uint64_t hash, prev_term;
} ekey;

typedef struct u64vec {
    uint64_t *v;
    size_t n;
} u64vec;

static void u64_set(u64vec *a, size_t i, uint64_t x)
{
    if (i >= a->n) {
        size_t nn = a->n ? a->n : 256;
        while (nn <= i)
            nn *= 2;
        a->v = realloc(a->v, nn * sizeof(uint64_t));
        if (!a->v) abort();
        memset(a->v + a->n, 0, (nn - a->n) * sizeof(uint64_t));
        a->n = nn;
    }
    a->v[i] = x;
}
static uint64_t u64_get(const u64vec *a, size_t i)
{
    return i < a->n ? a->v[i] : 0;
}

typedef struct sim {
    tcluster c;
    uint64_t seed;
    int verbose;
    char violation[512];
    /* checker */
    u64vec leader_of_term;
    u64vec committed_term; /* index -> term (known committed) */
    u64vec chain;          /* index -> state hash after applying index */
    uint64_t max_commit, max_commit_term;
    ekey *tab;
    size_t tabcap, tabn;
    uint64_t last_commit[TC_MAX];
    uint64_t last_applied[TC_MAX];
    u64vec read_floor; /* read ctx -> max commit at request time */
    uint64_t next_ctx, reads_served;
    /* proposals */
    u64vec prop_index, prop_term;
    uint64_t nprops, next_prop;
    uint64_t committed_props, failed_props;
    uint64_t leaders, snaps, max_live_ticks;
    /* --oom: raft's allocations fail at random; a node that reports
     * RAFT_ENOMEM is crashed and later restarted from its disk */
    raft_alloc al;
    uint32_t oom_rate; /* one allocation in oom_rate fails; 0 = never */
    uint64_t oom_rng, ooms;
} sim;

static int oom_now(sim *s)
{
    return s->oom_rate && rn(&s->oom_rng, s->oom_rate) == 0;
}
static void *sim_malloc(void *ctx, size_t n)
{
    sim *s = ctx;
    return oom_now(s) ? NULL : malloc(n);
}
static void *sim_realloc(void *ctx, void *p, size_t n)
{
    sim *s = ctx;
    return oom_now(s) ? NULL : realloc(p, n);
}
static void sim_free_cb(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

#define FAIL(S, ...)                                                                               \
    do {                                                                                           \
        if (!(S)->violation[0]) snprintf((S)->violation, sizeof(S)->violation, __VA_ARGS__);       \
        return 1;                                                                                  \
    } while (0)

static ekey *tab_find(sim *s, uint64_t index, uint64_t term, int insert)
{
    if (insert && (s->tabn + 1) * 2 > s->tabcap) {
        size_t oc = s->tabcap;
        ekey *old = s->tab;
        s->tabcap = oc ? oc * 2 : 4096;
        s->tab = calloc(s->tabcap, sizeof(ekey));
        if (!s->tab) abort();
        s->tabn = 0;
        for (size_t i = 0; i < oc; i++)
            if (old[i].term) {
                ekey *e = tab_find(s, old[i].index, old[i].term, 1);
                *e = old[i];
            }
        free(old);
    }
    if (!s->tabcap) return NULL;
    size_t h = (size_t)((index * 0x9e3779b97f4a7c15ULL) ^ (term * 0xc2b2ae3d27d4eb4fULL));
    for (size_t i = h & (s->tabcap - 1);; i = (i + 1) & (s->tabcap - 1)) {
        ekey *e = &s->tab[i];
        if (e->term == 0) {
            if (!insert) return NULL;
            e->index = index;
            e->term = term;
            s->tabn++;
            e->hash = 0;
            e->prev_term = UINT64_MAX;
            return e;
        }
        if (e->index == index && e->term == term) return e;
    }
}

static int note_leader(sim *s, int i)
{
    raft_node *r = s->c.nodes[i].r;
    if (!r) return 0;
    raft_status st;
    raft_get_status(r, &st);
    if (st.role != RAFT_LEADER) return 0;
    uint64_t prev = u64_get(&s->leader_of_term, st.term);
    if (prev == st.id) return 0;
    if (prev)
        FAIL(s, "election safety: nodes %" PRIu64 " and %" PRIu64 " lead term %" PRIu64, prev,
             st.id, st.term);
    u64_set(&s->leader_of_term, st.term, st.id);
    s->leaders++;
    /* leader completeness: it holds the highest known committed entry */
    if (s->max_commit) {
        uint64_t t;
        int rc = raft_log_term(r, s->max_commit, &t);
        if (rc == RAFT_EUNAVAILABLE)
            FAIL(s,
                 "leader completeness: leader %" PRIu64 " of term %" PRIu64
                 " lacks committed index %" PRIu64,
                 st.id, st.term, s->max_commit);
        if (rc == 0 && t != s->max_commit_term)
            FAIL(s,
                 "leader completeness: leader %" PRIu64 " has term %" PRIu64
                 " at committed index %" PRIu64 " (committed term %" PRIu64 ")",
                 st.id, t, s->max_commit, s->max_commit_term);
    }
    return 0;
}

static int note_committed(sim *s, uint64_t index, uint64_t term, const char *what)
{
    uint64_t k = u64_get(&s->committed_term, index);
    if (k && k != term)
        FAIL(s,
             "state machine safety (%s): index %" PRIu64 " committed with terms %" PRIu64
             " and %" PRIu64,
             what, index, k, term);
    if (!k) u64_set(&s->committed_term, index, term);
    if (index > s->max_commit) {
        s->max_commit = index;
        s->max_commit_term = term;
    }
    return 0;
}

static int on_ready(tcluster *c, int i, const raft_ready_batch *rd)
{
    sim *s = c->user;
    raft_node *r = c->nodes[i].r;
    tc_node *nd = &c->nodes[i];
    if (rd->snapshot) {
        uint64_t ch = u64_get(&s->chain, rd->snapshot->index);
        if (ch && ch != nd->app_hash)
            FAIL(s, "state machine safety: snapshot at %" PRIu64 " has a different state",
                 rd->snapshot->index);
        if (note_committed(s, rd->snapshot->index, rd->snapshot->term, "snapshot")) return 1;
        s->last_applied[i] = rd->snapshot->index;
    }
    /* log matching, for every entry this node makes durable */
    for (size_t k = 0; k < rd->n_entries; k++) {
        const raft_entry *e = &rd->entries[k];
        uint64_t pt;
        if (k)
            pt = rd->entries[k - 1].term;
        else if (raft_log_term(r, e->index - 1, &pt))
            pt = UINT64_MAX - 1; /* compacted below: unknown */
        uint64_t h = tc_hash(e->data, e->len, e->type);
        ekey *x = tab_find(s, e->index, e->term, 1);
        if (x->prev_term == UINT64_MAX) {
            x->hash = h;
            x->prev_term = pt;
        } else {
            if (x->hash != h)
                FAIL(s, "log matching: two different entries at index %" PRIu64 " term %" PRIu64,
                     e->index, e->term);
            if (pt != UINT64_MAX - 1 && x->prev_term != UINT64_MAX - 1 && x->prev_term != pt)
                FAIL(s,
                     "log matching: entry %" PRIu64 "/%" PRIu64 " follows terms %" PRIu64
                     " and %" PRIu64,
                     e->index, e->term, x->prev_term, pt);
            if (x->prev_term == UINT64_MAX - 1) x->prev_term = pt;
        }
    }
    /* commit is monotonic (it is persisted) */
    if (rd->hs.commit < s->last_commit[i])
        FAIL(s, "commit of node %d went back from %" PRIu64 " to %" PRIu64, i + 1,
             s->last_commit[i], rd->hs.commit);
    if (rd->hs.commit > s->last_commit[i]) {
        s->last_commit[i] = rd->hs.commit;
        uint64_t t;
        if (raft_log_term(r, rd->hs.commit, &t) == 0 &&
            note_committed(s, rd->hs.commit, t, "commit"))
            return 1;
    }
    for (size_t k = 0; k < rd->n_read_states; k++) {
        const raft_read_state *q = &rd->read_states[k];
        uint64_t floor = u64_get(&s->read_floor, q->ctx);
        if (q->index + 1 < floor)
            FAIL(s,
                 "read index: read %" PRIu64 " got index %" PRIu64 " below commit %" PRIu64
                 " at request time",
                 q->ctx, q->index, floor - 1);
        s->reads_served++;
    }
    if (rd->soft_changed && rd->role == RAFT_LEADER) return note_leader(s, i);
    return 0;
}

static int on_apply(tcluster *c, int i, const raft_entry *e)
{
    sim *s = c->user;
    if (e->index != s->last_applied[i] + 1)
        FAIL(s, "node %d applied %" PRIu64 " after %" PRIu64, i + 1, e->index, s->last_applied[i]);
    s->last_applied[i] = e->index;
    if (note_committed(s, e->index, e->term, "apply")) return 1;
    uint64_t ch = u64_get(&s->chain, e->index);
    if (ch && ch != c->nodes[i].app_hash)
        FAIL(s, "state machine safety: node %d reached a different state at %" PRIu64, i + 1,
             e->index);
    if (!ch) u64_set(&s->chain, e->index, c->nodes[i].app_hash);
    return 0;
}

/* Honest peers never send a message raft drops as impossible: a drop here
 * is a check that rejects a true message (raft.h, raft_step). */
static int check_no_drops(sim *s, int i)
{
    raft_node *r = s->c.nodes[i].r;
    if (!r) return 0;
    raft_status st;
    raft_get_status(r, &st);
    if (st.dropped_msgs)
        FAIL(s, "node %d dropped a message from an honest peer as impossible", i + 1);
    return 0;
}

/* ------------------------------------------------------------- running */

static void sim_init(sim *s, uint64_t seed, int nodes, uint32_t oom_rate)
{
    memset(s, 0, sizeof(*s));
    s->seed = seed;
    s->al =
        (raft_alloc){.malloc = sim_malloc, .realloc = sim_realloc, .free = sim_free_cb, .ctx = s};
    s->oom_rng = seed ^ 0x00badbadULL;
    uint64_t g = seed * 7919 + 17;
    raft_config cfg;
    tc_default_cfg(&cfg);
    cfg.election_tick = 6 + rn(&g, 10);
    cfg.heartbeat_tick = 1 + rn(&g, 3);
    cfg.seed = seed;
    cfg.prevote = rn(&g, 2);
    cfg.check_quorum = rn(&g, 2);
    cfg.max_inflight = 1 + rn(&g, 8);
    cfg.max_msg_bytes = 16 + rn(&g, 200);
    cfg.max_uncommitted_bytes = rn(&g, 4) ? 0 : 200 + rn(&g, 400);
    cfg.alloc = &s->al;
    if (tc_init(&s->c, nodes, &cfg)) abort();
    s->oom_rate = oom_rate; /* after the start: the first nodes always come up */
    s->c.user = s;
    s->c.on_ready = on_ready;
    s->c.on_apply = on_apply;
    s->next_ctx = 1;
}

static void sim_free(sim *s)
{
    tc_free(&s->c);
    free(s->leader_of_term.v);
    free(s->committed_term.v);
    free(s->chain.v);
    free(s->tab);
    free(s->read_floor.v);
    free(s->prop_index.v);
    free(s->prop_term.v);
}

/* Faults come in storms: steps alternate between stormy stretches (all
 * faults) and calm ones (no drops, crashes or new partitions; partitions
 * heal), so the cluster also makes progress between storms. */
static action gen_action(sim *s, uint64_t *g, size_t step)
{
    tcluster *c = &s->c;
    action a = {0};
    uint32_t n = (uint32_t)c->n;
    bool calm = (step / 400) % 2 == 1;
    uint32_t x = rn(g, 1000);
    a.a = (uint8_t)rn(g, n);
    a.b = (uint8_t)rn(g, n);
    if (calm && ((x >= 560 && x < 605) || (x >= 780 && x < 783) || (x >= 850 && x < 856) ||
                 (x >= 875 && x < 889))) {
        x = (step % 400 == 0) ? 890 : 200 + rn(g, 360); /* heal once, else tick/deliver */
    }
    if (x < 200) {
        a.kind = A_TICK;
    } else if (x < 560) {
        a.kind = A_DELIVER;
        /* mostly in order; sometimes a later one first (reorder/delay) */
        uint32_t span = c->nnet ? (uint32_t)c->nnet : 1;
        a.k = rn(g, 4) ? 0 : rn(g, span);
    } else if (x < 585) {
        a.kind = A_DROP;
        a.k = rn(g, c->nnet ? (uint32_t)c->nnet : 1);
    } else if (x < 605) {
        a.kind = A_DUP;
        a.k = rn(g, c->nnet ? (uint32_t)c->nnet : 1);
    } else if (x < 780) {
        a.kind = A_READY;
    } else if (x < 782) {
        a.kind = A_READY_CRASH;
    } else if (x < 783) {
        a.kind = A_READY_CRASH_EARLY;
    } else if (x < 850) {
        a.kind = A_PROPOSE;
        /* prefer the leader */
        int l = tc_leader(c);
        if (l >= 0 && rn(g, 8)) a.a = (uint8_t)l;
    } else if (x < 856) {
        a.kind = A_CRASH;
    } else if (x < 875) {
        a.kind = A_RESTART;
    } else if (x < 880) {
        a.kind = A_CUT;
    } else if (x < 885) {
        a.kind = A_ISOLATE;
    } else if (x < 889) {
        a.kind = A_SPLIT;
        a.k = rn(g, 1u << n);
    } else if (x < 905) {
        a.kind = A_HEAL;
    } else if (x < 925) {
        a.kind = A_COMPACT;
    } else if (x < 960) {
        a.kind = A_READ;
    } else if (x < 970) {
        a.kind = A_TRANSFER;
        int l = tc_leader(c);
        if (l >= 0) a.a = (uint8_t)l;
    } else if (x < 975) {
        a.kind = rn(g, 2) ? A_REPORT_SNAP : A_UNREACHABLE;
        int l = tc_leader(c);
        if (l >= 0) a.a = (uint8_t)l;
    } else {
        a.kind = A_CAMPAIGN;
    }
    return a;
}

static int ok_rc(int rc)
{
    /* expected refusals are not failures */
    return rc == 0 || rc == RAFT_ENOTLEADER || rc == RAFT_ETRANSFER || rc == RAFT_EDROPPED ||
           rc == RAFT_EUNCOMMITTED;
}

static void print_action(tcluster *c, const action *a, size_t step)
{
    printf("  %4zu %-11s", step, act_names[a->kind]);
    if (a->kind == A_DELIVER || a->kind == A_DROP || a->kind == A_DUP) {
        if (a->k < c->nnet) {
            const raft_msg *m = c->net[a->k].m;
            printf(" #%u %s %" PRIu64 "->%" PRIu64 " term %" PRIu64 " index %" PRIu64
                   " logterm %" PRIu64 " commit %" PRIu64 " entries %u%s",
                   a->k, raft_msg_type_name(m->type), m->from, m->to, m->term, m->index,
                   m->log_term, m->commit, m->n_entries, m->reject ? " reject" : "");
        } else {
            printf(" (no message #%u: skipped)", a->k);
        }
    } else if (a->kind == A_SPLIT) {
        printf(" side 0x%x", a->k);
    } else if (a->kind == A_HEAL) {
    } else {
        printf(" node %d", a->a + 1);
        if (a->kind == A_CUT || a->kind == A_TRANSFER || a->kind == A_REPORT_SNAP ||
            a->kind == A_UNREACHABLE)
            printf(" other %d", a->b + 1);
    }
    printf("\n");
}

/* Runs one action; returns 1 on a violation, -1 on an unexpected error. */
static int do_action(sim *s, const action *a)
{
    tcluster *c = &s->c;
    int rc = 0;
    int i = a->a < c->n ? a->a : 0;
    int victim = i; /* the node an error belongs to */
    raft_node *r = c->nodes[i].r;
    if (g_print) print_action(c, a, g_step++);
    switch (a->kind) {
    case A_TICK:
        if (r) rc = raft_tick(r);
        break;
    case A_DELIVER:
        if (a->k < c->nnet) {
            int to = (int)c->net[a->k].m->to - 1;
            victim = to;
            rc = tc_deliver(c, a->k);
            if (!rc && to >= 0 && to < c->n && note_leader(s, to)) return 1;
            if (!rc && to >= 0 && to < c->n && check_no_drops(s, to)) return 1;
        }
        break;
    case A_DROP:
        if (a->k < c->nnet) tc_drop(c, a->k);
        break;
    case A_DUP:
        if (a->k < c->nnet) rc = tc_duplicate(c, a->k);
        break;
    case A_READY:
        rc = tc_ready(c, i);
        if (rc > 0) rc = 0;
        break;
    case A_READY_CRASH:
        rc = tc_ready_crash_after_persist(c, i);
        if (rc > 0) rc = 0;
        break;
    case A_PROPOSE:
        if (r) {
            uint8_t d[64];
            uint64_t id = s->next_prop;
            memcpy(d, &id, 8);
            uint32_t len = 8 + (uint32_t)(id % 41);
            for (uint32_t k = 8; k < len; k++)
                d[k] = (uint8_t)(id * 31 + k);
            uint64_t idx, term;
            rc = raft_propose(r, d, len, &idx, &term);
            if (!rc) {
                s->next_prop++;
                u64_set(&s->prop_index, s->nprops, idx);
                u64_set(&s->prop_term, s->nprops, term);
                s->nprops++;
            }
        }
        break;
    case A_READY_CRASH_EARLY:
        rc = tc_ready_crash_before_persist(c, i);
        if (rc > 0) rc = 0;
        break;
    case A_REPORT_SNAP:
        if (r) rc = raft_report_snapshot(r, c->ids[a->b < c->n ? a->b : 0], 0);
        break;
    case A_UNREACHABLE:
        if (r) rc = raft_report_unreachable(r, c->ids[a->b < c->n ? a->b : 0]);
        break;
    case A_CRASH:
        tc_crash(c, i);
        break;
    case A_RESTART:
        if (!r) {
            rc = tc_start(c, i);
            s->last_applied[i] = c->nodes[i].app_index;
        }
        break;
    case A_CUT:
        if (a->a != a->b && a->b < c->n) c->cut[i][a->b] = true;
        break;
    case A_ISOLATE:
        tc_isolate(c, i);
        break;
    case A_SPLIT:
        for (int x = 0; x < c->n; x++)
            for (int y = 0; y < c->n; y++)
                c->cut[x][y] = ((a->k >> x) & 1) != ((a->k >> y) & 1);
        break;
    case A_HEAL:
        tc_heal(c);
        break;
    case A_COMPACT: {
        tc_node *nd = &c->nodes[i];
        if (r && nd->app_index > nd->st.snap.index && nd->app_index <= memstore_last(&nd->st)) {
            uint8_t ref[16];
            memcpy(ref, &nd->app_index, 8);
            memcpy(ref + 8, &nd->app_hash, 8);
            rc = memstore_compact(&nd->st, nd->app_index, ref, 16);
        }
        break;
    }
    case A_READ:
        if (r) {
            uint64_t ctx = s->next_ctx;
            rc = raft_read_index(r, ctx);
            if (!rc) {
                u64_set(&s->read_floor, ctx, s->max_commit + 1);
                s->next_ctx++;
            }
        }
        break;
    case A_TRANSFER:
        if (r) rc = raft_transfer_leader(r, c->ids[a->b < c->n ? a->b : 0]);
        break;
    case A_CAMPAIGN:
        if (r) rc = raft_campaign(r);
        break;
    }
    if (s->violation[0]) return 1;
    if (rc == RAFT_ENOMEM && s->oom_rate) {
        /* the failure model of raft.h: a failed node is freed and restarted */
        s->ooms++;
        if (victim >= 0 && victim < c->n) tc_crash(c, victim);
        return 0;
    }
    if (!ok_rc(rc)) {
        snprintf(s->violation, sizeof s->violation, "unexpected error %d (%s) in %s", rc,
                 raft_strerror(rc), act_names[a->kind]);
        return 1;
    }
    if (r && c->nodes[i].r && note_leader(s, i)) return 1;
    return 0;
}

static void dbg_trace(void *ctx, uint64_t id, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "[%" PRIu64 "] %s\n", id, msg);
}

/* Ticks (each followed by delivering everything) within which a healed
 * cluster must elect a leader and commit everywhere: 20 election timeouts. */
#define LIVENESS_TICKS ((int)(20 * s->c.cfg.election_tick))

/* Faults stop; the cluster must elect a leader, commit a final proposal
 * everywhere, and every proposal must then be decided. */
static int liveness(sim *s)
{
    tcluster *c = &s->c;
    s->oom_rate = 0;
    tc_heal(c);
    for (int i = 0; i < c->n; i++)
        if (!c->nodes[i].r) {
            if (tc_start(c, i)) return -1;
            s->last_applied[i] = c->nodes[i].app_index;
        }
    if (getenv("SIMDBG"))
        for (int i = 0; i < c->n; i++)
            raft_set_trace(c->nodes[i].r, dbg_trace, NULL);
    uint64_t final_idx = 0, final_term = 0, max_prop = 0;
    for (uint64_t p = 0; p < s->nprops; p++)
        if (s->prop_index.v[p] > max_prop) max_prop = s->prop_index.v[p];
    int ticks;
    for (ticks = 0; ticks < LIVENESS_TICKS; ticks++) {
        for (int i = 0; i < c->n; i++) {
            int rc = raft_tick(c->nodes[i].r);
            if (rc) return -1;
        }
        int rc = tc_stabilize(c);
        if (s->violation[0]) return 1;
        if (rc) {
            snprintf(s->violation, sizeof s->violation, "liveness: stabilize failed %d", rc);
            return 1;
        }
        int l = tc_leader(c);
        if (l < 0) continue;
        uint64_t ft = 0;
        if (final_idx <= max_prop || raft_log_term(c->nodes[l].r, final_idx, &ft) != 0 ||
            ft != final_term) {
            /* until the final entry lies above every earlier proposal */
            uint64_t t, fi;
            int prc = raft_propose(c->nodes[l].r, "final", 5, &fi, &t);
            if (!prc) {
                final_idx = fi;
                final_term = t;
            }
            continue;
        }
        int done = 1;
        for (int i = 0; i < c->n; i++)
            if (c->nodes[i].app_index < final_idx) done = 0;
        if (done) break;
    }
    if (ticks == LIVENESS_TICKS && getenv("SIMDBG")) {
        for (int i = 0; i < c->n; i++) {
            raft_status st;
            raft_get_status(c->nodes[i].r, &st);
            fprintf(stderr,
                    "node %d role %d term %" PRIu64 " lead %" PRIu64 " commit %" PRIu64
                    " applied %" PRIu64 " first %" PRIu64 " last %" PRIu64 " app %" PRIu64 "\n",
                    i + 1, st.role, st.term, st.leader, st.commit, st.applied, st.first_index,
                    st.last_index, c->nodes[i].app_index);
            raft_peer_progress pp;
            for (uint32_t k = 0; raft_get_progress(c->nodes[i].r, k, &pp) == 0; k++)
                fprintf(stderr,
                        "   peer %" PRIu64 " match %" PRIu64 " next %" PRIu64 " state %d infl %u\n",
                        pp.id, pp.match, pp.next, pp.state, pp.inflight);
        }
    }
    if ((uint64_t)ticks > s->max_live_ticks) s->max_live_ticks = (uint64_t)ticks;
    if (ticks == LIVENESS_TICKS)
        FAIL(s,
             "liveness: no progress within %d ticks after faults stopped (final index %" PRIu64 ")",
             LIVENESS_TICKS, final_idx);
    for (int i = 0; i < c->n; i++)
        if (check_no_drops(s, i)) return 1;
    for (int i = 1; i < c->n; i++)
        if (c->nodes[i].app_index == c->nodes[0].app_index &&
            c->nodes[i].app_hash != c->nodes[0].app_hash)
            FAIL(s, "state machine safety: final states differ");
    for (uint64_t p = 0; p < s->nprops; p++) {
        uint64_t idx = s->prop_index.v[p], t = u64_get(&s->committed_term, idx);
        if (!t && idx > c->nodes[0].st.snap.index)
            FAIL(s, "liveness: proposal at %" PRIu64 " undecided", idx);
        if (t == s->prop_term.v[p])
            s->committed_props++;
        else
            s->failed_props++;
    }
    return 0;
}

/* Runs a seed. With replay, the actions come from it instead of the rng;
 * actions that no longer apply are skipped. Returns 1 on a violation. */
static int run(uint64_t seed, int nodes, int steps, const actvec *replay, actvec *trace,
               sim *out_stats, char *why, size_t whylen)
{
    sim *s = malloc(sizeof(sim));
    if (!s) abort();
    sim_init(s, seed, nodes, g_oom_rate);
    uint64_t g = seed ^ 0x5eed5eed5eedULL;
    int bad = 0;
    size_t total = replay ? replay->n : (size_t)steps;
    for (size_t k = 0; k < total && !bad; k++) {
        action a = replay ? replay->v[k] : gen_action(s, &g, k);
        if (trace) act_push(trace, a);
        bad = do_action(s, &a);
    }
    if (!bad) bad = liveness(s) != 0;
    if (bad && why) snprintf(why, whylen, "%s", s->violation[0] ? s->violation : "error");
    if (out_stats) {
        out_stats->committed_props = s->committed_props;
        out_stats->failed_props = s->failed_props;
        out_stats->reads_served = s->reads_served;
        out_stats->c.sent = s->c.sent;
        out_stats->leaders = s->leaders;
        out_stats->ooms = s->ooms;
        out_stats->max_live_ticks = s->max_live_ticks;
        out_stats->snaps = 0;
    }
    if (out_stats)
        for (int i = 0; i < s->c.n; i++)
            out_stats->snaps += s->c.nodes[i].snaps_installed;
    sim_free(s);
    free(s);
    return bad;
}

/* Shrinks a failing trace: remove chunks while the replay still fails. */
static void shrink(uint64_t seed, int nodes, actvec *t, double budget_s)
{
    clock_t start = clock();
    actvec cand = {0};
    for (size_t chunk = t->n / 2; chunk >= 1; chunk /= 2) {
        for (size_t at = 0; at + chunk <= t->n;) {
            if ((double)(clock() - start) / CLOCKS_PER_SEC > budget_s) goto out;
            cand.n = 0;
            for (size_t k = 0; k < t->n; k++)
                if (k < at || k >= at + chunk) act_push(&cand, t->v[k]);
            if (run(seed, nodes, 0, &cand, NULL, NULL, NULL, 0)) {
                actvec tmp = *t;
                *t = cand;
                cand = tmp;
            } else {
                at += chunk;
            }
        }
        if (chunk == 1) break;
    }
out:
    free(cand.v);
}

int main(int argc, char **argv)
{
    uint64_t seeds = 100, first = 1;
    int steps = 2000, nodes = 0, verbose = 0, expect = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seeds") && i + 1 < argc)
            seeds = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            first = strtoull(argv[++i], NULL, 10), seeds = seeds == 100 ? 1 : seeds;
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc)
            steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--nodes") && i + 1 < argc)
            nodes = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--verbose"))
            verbose = 1;
        else if (!strcmp(argv[i], "--oom") && i + 1 < argc)
            g_oom_rate = (uint32_t)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--expect-violation"))
            expect = 1;
        else {
            fprintf(stderr,
                    "usage: %s [--seeds N] [--seed S] [--steps K] [--nodes 3|5] [--verbose] "
                    "[--oom RATE] [--expect-violation]\n",
                    argv[0]);
            return 2;
        }
    }
    clock_t t0 = clock();
    uint64_t committed = 0, failed = 0, reads = 0, msgs = 0, leaders = 0, snaps = 0, live = 0,
             ooms = 0;
    for (uint64_t sd = first; sd < first + seeds; sd++) {
        int nn = nodes ? nodes : (sd % 2 ? 3 : 5);
        actvec trace = {0};
        char why[512];
        sim st;
        if (run(sd, nn, steps, NULL, &trace, &st, why, sizeof why)) {
            if (expect) {
                printf("seed %" PRIu64 " (%d nodes): violation found as expected: %s\n", sd, nn,
                       why);
                free(trace.v);
                return 0;
            }
            printf("FAIL seed %" PRIu64 " (%d nodes, %d steps): %s\n", sd, nn, steps, why);
            size_t before = trace.n;
            shrink(sd, nn, &trace, 60.0);
            char why2[512];
            run(sd, nn, 0, &trace, NULL, NULL, why2, sizeof why2);
            printf("shrunk trace (%zu of %zu actions) still fails with: %s\n", trace.n, before,
                   why2);
            g_print = 1;
            run(sd, nn, 0, &trace, NULL, NULL, why2, sizeof why2);
            g_print = 0;
            printf("replay: %s --seed %" PRIu64 " --nodes %d --steps %d --oom %u\n", argv[0], sd,
                   nn, steps, g_oom_rate);
            free(trace.v);
            return 1;
        }
        committed += st.committed_props;
        failed += st.failed_props;
        reads += st.reads_served;
        msgs += st.c.sent;
        leaders += st.leaders;
        snaps += st.snaps;
        ooms += st.ooms;
        if (st.max_live_ticks > live) live = st.max_live_ticks;
        free(trace.v);
        if (verbose)
            printf("seed %" PRIu64 " ok: %" PRIu64 " committed, %" PRIu64 " failed proposals\n", sd,
                   st.committed_props, st.failed_props);
    }
    if (expect) {
        printf("no violation found in %" PRIu64 " seeds, but one was expected\n", seeds);
        return 1;
    }
    printf("%" PRIu64 " seeds x %d steps ok in %.1fs cpu: %" PRIu64 " proposals committed, %" PRIu64
           " failed, %" PRIu64 " reads served, %" PRIu64 " messages, %" PRIu64 " leaders, %" PRIu64
           " snapshots installed, liveness within %" PRIu64 " ticks, %" PRIu64
           " nodes failed on ENOMEM\n",
           seeds, steps, (double)(clock() - t0) / CLOCKS_PER_SEC, committed, failed, reads, msgs,
           leaders, snaps, live, ooms);
    return 0;
}
