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
 *   membership          (--membership) a node leads or campaigns only
 *                       while a voter of its own configuration
 * Then faults stop and liveness is checked: a leader is elected, a final
 * proposal commits everywhere, and every earlier proposal is decided.
 *
 * --membership: the cluster starts with 3 or 5 voters and 2 new nodes that
 * know no cluster; among the faults the leader proposes random membership
 * changes (add a learner, promote one, remove a voter or a learner, and
 * replace: add a new node as a learner, promote it, remove an old voter,
 * one change at a time, raft.h "membership"). An id once removed is never
 * added again. Removed nodes keep running (and crashing, and campaigning if
 * they never learned of their removal): members must not be disturbed. At
 * the end every member of the leader's configuration must apply the final
 * entry; members drop what non-members send, which is not counted against
 * them.
 *
 * A failing seed is printed with its trace, shrunk by replaying the trace
 * with chunks removed while it still fails.
 *
 *   raft_sim [--seeds N] [--seed S] [--steps K] [--nodes 3|5] [--verbose]
 *            [--oom RATE] [--expect-violation] [--hostile voter|any]
 *            [--membership]
 * --oom RATE: one of RATE allocations inside raft/ fails (nodes that report
 * RAFT_ENOMEM are crashed and restarted; safety must hold regardless).
 *
 * --hostile: three honest nodes and a fourth voter (id 4, quorum 3) that
 * runs no raft: at one step in eight it sends an honest node one message,
 * either one it saw on the network, mutated (terms, indexes, commit,
 * reject, hints, ctx, type, entries dropped, swapped, renumbered or
 * re-termed, snapshot metadata), or made up; through the codec (valid
 * framing), from its own id or one that is not a member (never posing as
 * another honest member: the transport authenticates peers). It does not
 * stop during storms; it falls silent for the liveness phase. Raft is not
 * Byzantine fault tolerant, so what is asserted depends on what it sends:
 *   voter  only what a follower or candidate sends (vote requests and
 *          answers at any term, append and heartbeat responses, forwarded
 *          reads and transfers): it can vote twice and acknowledge entries
 *          it does not hold, but with 3 honest of 4 voters and quorum 3 any
 *          two quorums share an honest node, so every invariant above holds
 *          for the honest nodes, and liveness once it falls silent.
 *   any    leader messages too: as a leader it can hand honest nodes
 *          different entries and commit indexes, so log matching, leader
 *          completeness, state machine safety, read index and liveness are
 *          not owed. Still asserted: election safety among honest leaders
 *          (an honest node votes once per term), and for each honest node no
 *          raft_ call fails, every Ready is well formed (entries contiguous,
 *          appends whose entries follow their previous index, messages only
 *          to members), commit <= last index, applied <= commit, and term
 *          and commit never go back.
 * In every mode an honest node must never drop an honest peer's message as
 * impossible (raft_status.dropped_msgs), except in `any`, where a hostile
 * leader's entries can make true messages look impossible.
 * Soak: raft_sim --seeds 100000 --steps 2000 [--hostile voter]
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
    A_HOSTILE,           /* --hostile: the hostile node sends node a one message */
    A_CONF,              /* --membership: the leader proposes a change (k: what, b: whom) */
    A_NKINDS
};
static const char *act_names[] = {
    "tick",        "deliver",     "drop",    "dup",      "ready",    "ready+crash",
    "propose",     "crash",       "restart", "cut",      "isolate",  "split",
    "heal",        "compact",     "read",    "transfer", "campaign", "ready+crash-early",
    "report-snap", "unreachable", "hostile", "conf"};

typedef struct action {
    uint8_t kind, a, b;
    uint32_t k;
    uint64_t seed; /* A_HOSTILE: what the message is made of */
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
/* --hostile: 0 off, 1 voter (the hostile node sends only what a follower or
 * a candidate sends), 2 any (it also sends leader messages) */
static int g_hostile;
/* --membership: spare nodes and random membership changes */
static int g_membership;
#define SIM_SPARES 2
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

/* term -> leader id; terms can be anything a hostile peer says, so a hash
 * table rather than an array (open addressing, key 0 unused: term 0 has no
 * leader). */
typedef struct u64map {
    uint64_t *k, *v;
    size_t cap, n;
} u64map;

static uint64_t *map_slot(u64map *m, uint64_t key, int insert)
{
    if (insert && (m->n + 1) * 2 > m->cap) {
        u64map o = *m;
        m->cap = o.cap ? o.cap * 2 : 1024;
        m->k = calloc(m->cap, sizeof(uint64_t));
        m->v = calloc(m->cap, sizeof(uint64_t));
        if (!m->k || !m->v) abort();
        m->n = 0;
        for (size_t i = 0; i < o.cap; i++)
            if (o.k[i]) *map_slot(m, o.k[i], 1) = o.v[i];
        free(o.k);
        free(o.v);
    }
    if (!m->cap) return NULL;
    for (size_t i = (size_t)(key * 0x9e3779b97f4a7c15ULL) & (m->cap - 1);;
         i = (i + 1) & (m->cap - 1)) {
        if (m->k[i] == key) return &m->v[i];
        if (m->k[i] == 0) {
            if (!insert) return NULL;
            m->k[i] = key;
            m->n++;
            return &m->v[i];
        }
    }
}

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
    u64map leader_of_term;
    u64vec committed_term; /* index -> term (known committed) */
    u64vec chain;          /* index -> state hash after applying index */
    uint64_t max_commit, max_commit_term;
    ekey *tab;
    size_t tabcap, tabn;
    uint64_t last_commit[TC_MAX];
    /* per node lifetime: term and commit never go back */
    raft_node *seen_r[TC_MAX];
    uint64_t seen_term[TC_MAX], seen_commit[TC_MAX];
    int honest;  /* nodes 0 .. honest-1 run raft; node `honest` is hostile */
    int hostile; /* g_hostile for this run */
    uint64_t hostile_sent, hostile_dropped;
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
    /* --membership */
    bool retired[TC_MAX];   /* a removal was proposed: never added again */
    int plan_new, plan_old; /* a replace in progress: -1 none */
    uint64_t conf_changes;  /* proposed */
    uint64_t from_nonmember[TC_MAX];
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
    uint64_t *slot = st.term ? map_slot(&s->leader_of_term, st.term, 0) : NULL;
    uint64_t prev = slot ? *slot : 0;
    if (prev == st.id) return 0;
    if (prev)
        FAIL(s, "election safety: nodes %" PRIu64 " and %" PRIu64 " lead term %" PRIu64, prev,
             st.id, st.term);
    if (st.term) *map_slot(&s->leader_of_term, st.term, 1) = st.id;
    s->leaders++;
    /* leader completeness: it holds the highest known committed entry */
    if (s->max_commit && s->hostile != 2) {
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
    if (s->hostile == 2) return 0; /* a hostile leader can split the honest nodes */
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

/* What every Ready of an honest node must look like, whatever it was told:
 * entries contiguous with non-decreasing terms, committed entries in order,
 * appends it sends contiguous after their previous entry and of terms no
 * later than the message's, messages only to other members (responses and
 * forwarded requests excepted: they go to whoever asked or leads). */
static int check_ready_shape(sim *s, int i, const raft_ready_batch *rd)
{
    tcluster *c = &s->c;
    for (size_t k = 1; k < rd->n_entries; k++)
        if (rd->entries[k].index != rd->entries[0].index + k ||
            rd->entries[k].term < rd->entries[k - 1].term)
            FAIL(s, "node %d: Ready entries out of order at %zu", i + 1, k);
    for (size_t k = 1; k < rd->n_committed; k++)
        if (rd->committed[k].index != rd->committed[0].index + k)
            FAIL(s, "node %d: committed entries out of order at %zu", i + 1, k);
    raft_conf own;
    raft_get_conf(c->nodes[i].r, &own, NULL);
    for (int pass = 0; pass < 2; pass++) {
        const raft_msg *ms = pass ? rd->msgs_after_persist : rd->msgs;
        size_t n = pass ? rd->n_msgs_after_persist : rd->n_msgs;
        for (size_t k = 0; k < n; k++) {
            const raft_msg *m = &ms[k];
            /* a node of the cluster, or of the node's own configuration
             * (which a hostile leader's snapshot may have set) */
            bool member = raft_conf_role(&own, m->to) != 0;
            for (int j = 0; j < c->n; j++)
                member |= m->to == c->ids[j];
            /* (a response may go to whoever asked, a forwarded request to
             * the leader followed: members take a leader's messages and
             * vote requests from outside their configuration, raft.h
             * "membership") */
            bool response = m->type == RAFT_MSG_VOTE_RESP || m->type == RAFT_MSG_PREVOTE_RESP ||
                            m->type == RAFT_MSG_APP_RESP || m->type == RAFT_MSG_HEARTBEAT_RESP ||
                            m->type == RAFT_MSG_READ_INDEX || m->type == RAFT_MSG_TRANSFER_LEADER;
            if ((!member && !response) || m->to == c->ids[i] || m->from != c->ids[i])
                FAIL(s, "node %d sent %s to %" PRIu64, i + 1, raft_msg_type_name(m->type), m->to);
            for (uint32_t e = 0; e < m->n_entries; e++)
                if (m->entries[e].index != m->index + 1 + e || m->entries[e].term > m->term)
                    FAIL(s, "node %d sent an append whose entries do not follow %" PRIu64, i + 1,
                         m->index);
        }
    }
    return 0;
}

/* After every step, for each live honest node: commit <= last index,
 * applied <= commit, and (within one lifetime) term and commit never go
 * back. */
static int check_local(sim *s)
{
    for (int i = 0; i < s->honest; i++) {
        raft_node *r = s->c.nodes[i].r;
        if (!r) {
            s->seen_r[i] = NULL;
            continue;
        }
        raft_status st;
        raft_get_status(r, &st);
        if (st.commit > st.last_index || st.applied > st.commit ||
            st.first_index > st.last_index + 1)
            FAIL(s,
                 "node %d: commit %" PRIu64 " applied %" PRIu64 " first %" PRIu64 " last %" PRIu64,
                 i + 1, st.commit, st.applied, st.first_index, st.last_index);
        if (s->seen_r[i] == r && (st.term < s->seen_term[i] || st.commit < s->seen_commit[i]))
            FAIL(s, "node %d: term or commit went back", i + 1);
        if (st.role != RAFT_FOLLOWER && st.member != 1)
            FAIL(s, "membership: node %d has role %d but is not a voter of its configuration",
                 i + 1, st.role);
        s->seen_r[i] = r;
        s->seen_term[i] = st.term;
        s->seen_commit[i] = st.commit;
    }
    return 0;
}

static int on_ready(tcluster *c, int i, const raft_ready_batch *rd)
{
    sim *s = c->user;
    raft_node *r = c->nodes[i].r;
    tc_node *nd = &c->nodes[i];
    if (check_ready_shape(s, i, rd)) return 1;
    bool agree = s->hostile != 2; /* cross-node checks hold */
    if (rd->snapshot) {
        uint64_t ch = u64_get(&s->chain, rd->snapshot->index);
        if (agree && ch && ch != nd->app_hash)
            FAIL(s, "state machine safety: snapshot at %" PRIu64 " has a different state",
                 rd->snapshot->index);
        if (note_committed(s, rd->snapshot->index, rd->snapshot->term, "snapshot")) return 1;
        s->last_applied[i] = rd->snapshot->index;
    }
    /* log matching, for every entry this node makes durable */
    for (size_t k = 0; agree && k < rd->n_entries; k++) {
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
        if (agree && q->index + 1 < floor)
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
    if (s->hostile == 2) return 0;
    if (ch && ch != c->nodes[i].app_hash)
        FAIL(s, "state machine safety: node %d reached a different state at %" PRIu64, i + 1,
             e->index);
    if (!ch) u64_set(&s->chain, e->index, c->nodes[i].app_hash);
    return 0;
}

/* Honest peers never send a message raft drops as impossible: a drop of
 * one is a check that rejects a true message (raft.h, raft_step). */
static uint64_t dropped_of(sim *s, int i)
{
    if (i < 0 || i >= s->c.n || !s->c.nodes[i].r) return 0;
    raft_status st;
    raft_get_status(s->c.nodes[i].r, &st);
    return st.dropped_msgs;
}

/* ------------------------------------------------------- hostile peer */

/* A value a hostile peer might put in a term or index field: near what it
 * saw or near the target's own state, at the edges, or anything. */
static uint64_t hostile_value(uint64_t *g, uint64_t seen, const raft_status *st)
{
    switch (rn(g, 20)) {
    case 0:
        return 0;
    case 1:
        return UINT64_MAX - rn(g, 2);
    case 2:
        return RAFT_INDEX_MAX + rn(g, 3); /* at and past the limit (terms: past) */
    case 3:
        return rnd(g);
    case 4:
    case 5:
    case 6:
        return st->last_index + rn(g, 5) - 2;
    case 7:
    case 8:
        return st->commit + rn(g, 5) - 2;
    case 9:
    case 10:
    case 11:
        return st->term + rn(g, 4) - 1;
    default:
        return seen + rn(g, 7) - 3;
    }
}

/* A term from hostile_value, kept off [RAFT_TERM_MAX - 2^20, RAFT_TERM_MAX]:
 * a member can exhaust the terms (raft.h), which would end liveness. */
static uint64_t hostile_term(uint64_t *g, uint64_t seen, const raft_status *st)
{
    uint64_t t = hostile_value(g, seen, st);
    if (t <= RAFT_TERM_MAX && t > RAFT_TERM_MAX - (1u << 20)) t = RAFT_TERM_MAX + 1;
    return t;
}

static bool leader_type(int t)
{
    return t == RAFT_MSG_APP || t == RAFT_MSG_HEARTBEAT || t == RAFT_MSG_SNAP ||
           t == RAFT_MSG_TIMEOUT_NOW || t == RAFT_MSG_READ_INDEX_RESP;
}

/* The hostile node sends honest node a->a one message: a message it saw on
 * the network, mutated, or a made-up one; valid framing (it goes through
 * the codec), arbitrary fields. In voter mode it only sends what a
 * follower or candidate sends. Returns raft_step's code. */
static int hostile_step(sim *s, const action *a)
{
    tcluster *c = &s->c;
    int ti = a->a < s->honest ? a->a : 0;
    raft_node *r = c->nodes[ti].r;
    if (!r) return 0;
    uint64_t g = a->seed;
    raft_status st;
    raft_get_status(r, &st);
    raft_msg m;
    memset(&m, 0, sizeof m);
    raft_entry ents[8];
    uint8_t data[8][8];
    raft_snapshot_meta sm;
    memset(&sm, 0, sizeof sm);
    memset(ents, 0, sizeof ents);
    if (c->nnet && rn(&g, 4)) {
        const raft_msg *b = c->net[rn(&g, (uint32_t)c->nnet)].m;
        m = *b;
        m.n_entries = b->n_entries < 8 ? b->n_entries : 8;
        for (uint32_t k = 0; k < m.n_entries; k++)
            ents[k] = b->entries[k];
        if (b->snap) sm = *b->snap;
    } else {
        /* made up: fields a type does not carry mostly stay zero */
        m.type = (uint8_t)(1 + rn(&g, RAFT_MSG_TYPE_MAX));
        bool all = rn(&g, 4) == 0;
        m.term = hostile_term(&g, st.term, &st);
        m.index = hostile_value(&g, st.last_index, &st);
        m.log_term = hostile_term(&g, st.term, &st);
        if (all || m.type == RAFT_MSG_APP || m.type == RAFT_MSG_HEARTBEAT)
            m.commit = hostile_value(&g, st.commit, &st);
        m.ctx = rn(&g, 2) ? rn(&g, 4) : rnd(&g);
        m.reject = (uint8_t)rn(&g, 2);
        if (all || m.reject) m.reject_hint = hostile_value(&g, m.index, &st);
        m.n_entries = (all || m.type == RAFT_MSG_APP) && rn(&g, 2) ? 1 + rn(&g, 4) : 0;
        for (uint32_t k = 0; k < m.n_entries; k++)
            ents[k] = (raft_entry){.index = m.index + 1 + k, .term = m.term};
        sm.index = m.index;
        sm.term = m.log_term;
    }
    int muts = (int)rn(&g, 4);
    for (int k = 0; k < muts; k++) {
        switch (rn(&g, 12)) {
        case 0:
            m.term = hostile_term(&g, m.term, &st);
            break;
        case 1:
            m.log_term = hostile_term(&g, m.log_term, &st);
            break;
        case 2:
            m.index = hostile_value(&g, m.index, &st);
            break;
        case 3:
            m.commit = hostile_value(&g, m.commit, &st);
            break;
        case 4:
            m.reject ^= 1;
            m.reject_hint = hostile_value(&g, m.reject_hint, &st);
            break;
        case 5:
            m.ctx = rn(&g, 2) ? m.ctx + rn(&g, 5) - 2 : rnd(&g);
            break;
        case 6:
            m.type = (uint8_t)(1 + rn(&g, RAFT_MSG_TYPE_MAX));
            break;
        case 7:
            if (m.n_entries) { /* drop, reorder or renumber an entry */
                uint32_t x = rn(&g, m.n_entries), y = rn(&g, m.n_entries);
                raft_entry t = ents[x];
                ents[x] = ents[y];
                ents[y] = t;
                if (rn(&g, 2)) ents[x].index = hostile_value(&g, ents[x].index, &st);
                if (rn(&g, 2)) m.n_entries--;
            }
            break;
        case 8:
            if (m.n_entries) {
                uint32_t x = rn(&g, m.n_entries);
                ents[x].term = hostile_term(&g, ents[x].term, &st);
            } else if (m.n_entries < 8) {
                ents[0] = (raft_entry){.index = m.index + 1, .term = m.term};
                m.n_entries = 1;
            }
            break;
        case 9:
            if (m.n_entries && m.n_entries < 8) { /* one more, after the last */
                ents[m.n_entries] = ents[m.n_entries - 1];
                ents[m.n_entries].index++;
                m.n_entries++;
            }
            break;
        case 10:
            sm.index = hostile_value(&g, sm.index, &st);
            sm.term = hostile_term(&g, sm.term, &st);
            break;
        default:
            sm.n_voters = rn(&g, 6);
            for (uint32_t v = 0; v < sm.n_voters; v++)
                sm.voters[v] = 1 + rn(&g, 6);
            sm.ref_len = rn(&g, 17);
            break;
        }
    }
    if (s->hostile == 1 && leader_type(m.type)) {
        static const uint8_t follower_types[] = {RAFT_MSG_APP_RESP,        RAFT_MSG_VOTE,
                                                 RAFT_MSG_VOTE_RESP,       RAFT_MSG_PREVOTE,
                                                 RAFT_MSG_PREVOTE_RESP,    RAFT_MSG_HEARTBEAT_RESP,
                                                 RAFT_MSG_TRANSFER_LEADER, RAFT_MSG_READ_INDEX};
        m.type = follower_types[rn(&g, sizeof follower_types)];
    }
    if (m.type != RAFT_MSG_APP && rn(&g, 10)) m.n_entries = 0;
    if (rn(&g, 20) == 0 && !m.n_entries) { /* entries, where they may not go */
        ents[0] = (raft_entry){.index = m.index + 1, .term = m.term};
        m.n_entries = 1;
    }
    for (uint32_t k = 0; k < m.n_entries; k++) {
        ents[k].type = (uint8_t)rn(&g, 3);
        ents[k].len = rn(&g, 9);
        for (uint32_t d = 0; d < ents[k].len; d++)
            data[k][d] = (uint8_t)rnd(&g);
        ents[k].data = ents[k].len ? data[k] : NULL;
    }
    m.entries = m.n_entries ? ents : NULL;
    m.snap = (m.type == RAFT_MSG_SNAP || rn(&g, 20) == 0) ? &sm : NULL;
    if (sm.n_voters > RAFT_MAX_VOTERS) sm.n_voters = RAFT_MAX_VOTERS;
    if (sm.ref_len > RAFT_SNAP_REF_MAX) sm.ref_len = RAFT_SNAP_REF_MAX;
    /* Its own id; sometimes one that is not a member, or the target's own.
     * It cannot pose as another honest member: the transport authenticates
     * the sender (RAFT.HELLO) and the driver checks m->from against it. */
    uint32_t who = rn(&g, 30);
    m.from = who == 0 ? 0 : who == 1 ? 99 : who == 2 ? c->ids[ti] : c->ids[s->honest];
    m.to = rn(&g, 30) == 0 ? c->ids[rn(&g, (uint32_t)c->n)] : c->ids[ti];
    /* valid framing: through the codec, as a peer's bytes would come */
    size_t sz = raft_msg_encoded_size(&m);
    uint8_t buf[1024];
    if (sz > sizeof buf || raft_msg_encode(&m, buf, sizeof buf) != sz) return 0;
    raft_msg *d = NULL;
    if (raft_msg_decode(buf, sz, NULL, &d)) return 0;
    s->hostile_sent++;
    uint64_t before = st.dropped_msgs;
    if (g_print)
        printf("         hostile %s %" PRIu64 "->%" PRIu64 " term %" PRIu64 " index %" PRIu64
               " logterm %" PRIu64 " commit %" PRIu64 " hint %" PRIu64 " ctx %" PRIu64
               " entries %u%s%s\n",
               raft_msg_type_name(d->type), d->from, d->to, d->term, d->index, d->log_term,
               d->commit, d->reject_hint, d->ctx, d->n_entries, d->reject ? " reject" : "",
               d->snap ? " snap" : "");
    int rc = raft_step(r, d);
    raft_msg_free(d, NULL);
    raft_get_status(r, &st);
    s->hostile_dropped += st.dropped_msgs - before;
    return rc;
}

/* ------------------------------------------------------------- running */

static void dbg_trace(void *ctx, uint64_t id, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "[%" PRIu64 "] %s\n", id, msg);
}

static void sim_init(sim *s, uint64_t seed, int nodes, uint32_t oom_rate)
{
    memset(s, 0, sizeof(*s));
    s->hostile = g_hostile;
    int spares = g_membership && !g_hostile ? SIM_SPARES : 0;
    s->honest = nodes + spares;
    s->plan_new = s->plan_old = -1;
    if (s->hostile) nodes++; /* one more voter, the hostile one */
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
    /* With membership changes, PreVote is not optional (raft.h
     * "membership"): without it, a member that lags behind a change
     * campaigns under a configuration that cannot elect it, and each of its
     * campaigns raises the term past the voter that could win, which it does
     * not know of and so never informs. (The server always runs PreVote.) */
    if (g_membership) cfg.prevote = 1;
    cfg.check_quorum = rn(&g, 2);
    cfg.max_inflight = 1 + rn(&g, 8);
    cfg.max_msg_bytes = 16 + rn(&g, 200);
    cfg.max_uncommitted_bytes = rn(&g, 4) ? 0 : 200 + rn(&g, 400);
    cfg.max_inflight_bytes = rn(&g, 2) ? 0 : 1 + rn(&g, 300); /* as low as one entry */
    cfg.max_mem_log_bytes = rn(&g, 2) ? 0 : 1 + rn(&g, 300);  /* down to reading every entry back */
    cfg.alloc = &s->al;
    if (tc_init_spares(&s->c, nodes, spares, &cfg)) abort();
    s->oom_rate = oom_rate; /* after the start: the first nodes always come up */
    if (s->hostile) tc_crash(&s->c, s->honest); /* it runs no raft: it only sends */
    if (getenv("SIMDBG_ALL"))
        for (int i = 0; i < s->honest; i++)
            raft_set_trace(s->c.nodes[i].r, dbg_trace, NULL);
    s->c.user = s;
    s->c.on_ready = on_ready;
    s->c.on_apply = on_apply;
    s->next_ctx = 1;
}

static void sim_free(sim *s)
{
    tc_free(&s->c);
    free(s->leader_of_term.k);
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
    uint32_t n = (uint32_t)s->honest;
    bool calm = (step / 400) % 2 == 1;
    uint32_t x = rn(g, 1000);
    a.a = (uint8_t)rn(g, n);
    a.b = (uint8_t)rn(g, n);
    if (s->hostile && rn(g, 8) == 0) {
        /* storms or not: the hostile node never stops until liveness */
        a.kind = A_HOSTILE;
        a.seed = rnd(g);
        return a;
    }
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
    } else if (x < 960 && !(g_membership && x >= 945)) {
        a.kind = A_READ;
    } else if (x < 970) {
        a.kind = A_TRANSFER;
        if (g_membership && (x < 960 || rn(g, 2))) {
            a.kind = A_CONF;
            a.k = rn(g, 1000);
        }
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
           rc == RAFT_EUNCOMMITTED || rc == RAFT_ECONFPENDING || rc == RAFT_ENOTREADY ||
           rc == RAFT_ELEARNER || rc == RAFT_EUNKNOWNPEER;
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
            a->kind == A_UNREACHABLE || a->kind == A_CONF)
            printf(" other %d", a->b + 1);
    }
    printf("\n");
}

/* Whether the message from id to node `to` comes from outside to's
 * configuration while to is a member (then it is dropped, rightly). */
static bool from_nonmember(sim *s, int to, uint64_t from)
{
    if (!g_membership || to < 0 || to >= s->c.n || !s->c.nodes[to].r) return false;
    raft_conf k;
    raft_get_conf(s->c.nodes[to].r, &k, NULL);
    return raft_conf_role(&k, s->c.ids[to]) != 0 && raft_conf_role(&k, from) == 0;
}

static int propose_conf(sim *s, int l, int op, int target)
{
    raft_conf k, after;
    raft_get_conf(s->c.nodes[l].r, &k, NULL);
    uint64_t id = s->c.ids[target];
    if (op != RAFT_CONF_REMOVE && s->retired[target]) return 0; /* ids are never reused */
    if (raft_conf_after(&k, op, id, &after)) return 0;          /* not applicable now */
    uint64_t idx, term;
    int rc = raft_propose_conf_change(s->c.nodes[l].r, op, id, NULL, 0, &idx, &term);
    if (rc == 0) {
        s->conf_changes++;
        if (op == RAFT_CONF_REMOVE) s->retired[target] = true;
    }
    return rc;
}

/* A_CONF on node i (the leader, if any): continue a replace in progress,
 * or start a random change: add a learner, promote, remove, replace. */
static int conf_step(sim *s, int i, const action *a)
{
    tcluster *c = &s->c;
    raft_conf k;
    raft_get_conf(c->nodes[i].r, &k, NULL);
    int t = a->b < c->n ? a->b : 0;
    if (s->plan_new >= 0) {
        int nw = s->plan_new, old = s->plan_old;
        int rn_ = raft_conf_role(&k, c->ids[nw]), ro = raft_conf_role(&k, c->ids[old]);
        if (rn_ == 0 && !s->retired[nw]) return propose_conf(s, i, RAFT_CONF_ADD_LEARNER, nw);
        if (rn_ == 2) return propose_conf(s, i, RAFT_CONF_ADD_VOTER, nw);
        if (rn_ == 1 && ro != 0) return propose_conf(s, i, RAFT_CONF_REMOVE, old);
        s->plan_new = s->plan_old = -1; /* done, or overtaken by other changes */
        return 0;
    }
    int op = (int)(a->k % 4) + 1; /* RAFT_CONF_ADD_LEARNER .. RAFT_CONF_REMOVE, 4: replace */
    if (op <= RAFT_CONF_REMOVE) {
        /* the first node from t on that the change applies to */
        for (int d = 0; d < c->n; d++) {
            int j = (t + d) % c->n;
            raft_conf after;
            if ((op == RAFT_CONF_REMOVE || !s->retired[j]) &&
                raft_conf_after(&k, op, c->ids[j], &after) == 0)
                return propose_conf(s, i, op, j);
        }
        return 0;
    }
    {
        /* replace voter t by the first node never added */
        if (raft_conf_role(&k, c->ids[t]) != 1) return 0;
        for (int j = 0; j < c->n; j++)
            if (!s->retired[j] && raft_conf_role(&k, c->ids[j]) == 0) {
                s->plan_new = j;
                s->plan_old = t;
                return propose_conf(s, i, RAFT_CONF_ADD_LEARNER, j);
            }
        return 0;
    }
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
            uint64_t d0 = dropped_of(s, to);
            bool nonmember = from_nonmember(s, to, c->net[a->k].m->from);
            rc = tc_deliver(c, a->k);
            if (!rc && to >= 0 && to < c->n && note_leader(s, to)) return 1;
            /* a hostile leader can make honest messages look impossible; a
             * member drops what a non-member (removed) node sends */
            if (!rc && s->hostile != 2 && !nonmember && dropped_of(s, to) != d0)
                FAIL(s, "node %d dropped a message from an honest peer as impossible", to + 1);
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
            if (!rc && getenv("SIMDBG_ALL")) raft_set_trace(c->nodes[i].r, dbg_trace, NULL);
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
            raft_conf k; /* no Ready is out: the configuration at app_index */
            raft_get_conf(r, &k, NULL);
            rc = memstore_compact_conf(&nd->st, nd->app_index, ref, 16, &k);
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
    case A_HOSTILE:
        rc = hostile_step(s, a);
        break;
    case A_CONF:
        if (r) rc = conf_step(s, i, a);
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
    return check_local(s);
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
    uint64_t d0[TC_MAX], nm0[TC_MAX];
    for (int i = 0; i < s->honest; i++) {
        nm0[i] = c->nodes[i].nonmember_msgs;
        if (!c->nodes[i].r) {
            if (tc_start(c, i)) return -1;
            s->last_applied[i] = c->nodes[i].app_index;
        }
        d0[i] = dropped_of(s, i);
    }
    if (getenv("SIMDBG"))
        for (int i = 0; i < s->honest; i++)
            raft_set_trace(c->nodes[i].r, dbg_trace, NULL);
    uint64_t final_idx = 0, final_term = 0, max_prop = 0;
    for (uint64_t p = 0; p < s->nprops; p++)
        if (s->prop_index.v[p] > max_prop) max_prop = s->prop_index.v[p];
    int ticks;
    for (ticks = 0; ticks < LIVENESS_TICKS; ticks++) {
        for (int i = 0; i < s->honest; i++) {
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
        if (check_local(s)) return 1;
        int done = 1;
        raft_conf lk; /* members of the leader's configuration must get there */
        raft_get_conf(c->nodes[l].r, &lk, NULL);
        for (int i = 0; i < s->honest; i++)
            if (c->nodes[i].app_index < final_idx && raft_conf_role(&lk, c->ids[i])) done = 0;
        if (done) break;
    }
    if (ticks == LIVENESS_TICKS && getenv("SIMDBG")) {
        for (int i = 0; i < s->honest; i++) {
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
    /* A hostile leader can make the honest nodes commit different entries
     * (Raft is not Byzantine fault tolerant): then nothing more is owed. */
    if (s->hostile == 2) return 0;
    if (ticks == LIVENESS_TICKS)
        FAIL(s,
             "liveness: no progress within %d ticks after faults stopped (final index %" PRIu64 ")",
             LIVENESS_TICKS, final_idx);
    for (int i = 0; i < s->honest; i++)
        if (dropped_of(s, i) - d0[i] > c->nodes[i].nonmember_msgs - nm0[i])
            FAIL(s, "node %d dropped a message from an honest peer as impossible", i + 1);
    for (int i = 1; i < s->honest; i++)
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
        out_stats->hostile_sent = s->hostile_sent;
        out_stats->hostile_dropped = s->hostile_dropped;
        out_stats->snaps = 0;
        out_stats->conf_changes = s->conf_changes;
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
        else if (!strcmp(argv[i], "--membership"))
            g_membership = 1;
        else if (!strcmp(argv[i], "--expect-violation"))
            expect = 1;
        else if (!strcmp(argv[i], "--hostile") && i + 1 < argc && !strcmp(argv[i + 1], "voter"))
            g_hostile = 1, i++;
        else if (!strcmp(argv[i], "--hostile") && i + 1 < argc && !strcmp(argv[i + 1], "any"))
            g_hostile = 2, i++;
        else {
            fprintf(stderr,
                    "usage: %s [--seeds N] [--seed S] [--steps K] [--nodes 3|5] [--verbose] "
                    "[--oom RATE] [--expect-violation] [--hostile voter|any] [--membership]\n",
                    argv[0]);
            return 2;
        }
    }
    clock_t t0 = clock();
    uint64_t committed = 0, failed = 0, reads = 0, msgs = 0, leaders = 0, snaps = 0, live = 0,
             ooms = 0, hsent = 0, hdropped = 0, confs = 0;
    for (uint64_t sd = first; sd < first + seeds; sd++) {
        /* hostile: 3 honest voters and the hostile fourth (quorum 3) */
        int nn = g_hostile ? 3 : nodes ? nodes : (sd % 2 ? 3 : 5);
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
            printf("replay: %s --seed %" PRIu64 " --nodes %d --steps %d --oom %u%s%s\n", argv[0],
                   sd, nn, steps, g_oom_rate, g_membership ? " --membership" : "",
                   g_hostile == 1   ? " --hostile voter"
                   : g_hostile == 2 ? " --hostile any"
                                    : "");
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
        hsent += st.hostile_sent;
        hdropped += st.hostile_dropped;
        confs += st.conf_changes;
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
    if (g_membership) printf("membership: %" PRIu64 " changes proposed\n", confs);
    if (g_hostile)
        printf("hostile (%s): %" PRIu64 " messages sent, %" PRIu64 " dropped as impossible\n",
               g_hostile == 1 ? "voter" : "any", hsent, hdropped);
    return 0;
}
