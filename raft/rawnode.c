/* rawnode.c -- RawNode: the interface the driver uses (the seed's
 * rawnode.go). It forwards inputs to the protocol (raft.c) and packages
 * its outputs as a Ready batch (thesis §10.2.1 ordering, see raft.h). */
#include "raft/raft_int.h"

struct ready_marks {
    uint64_t last_index, last_term, committed_to, snap_index;
};

/* The marks of the outstanding Ready live after the node struct. */
typedef struct node_box {
    raft_node n;
    struct ready_marks mk;
} node_box;

int raft_new(raft_node **out, const raft_config *cfg)
{
    *out = NULL;
    if (!cfg) return RAFT_EINVAL;
    node_box *b = ra_malloc(cfg->alloc, sizeof(*b));
    if (!b) return RAFT_ENOMEM;
    memset(b, 0, sizeof(*b));
    if (cfg->alloc) b->n.alc = *cfg->alloc;
    int rc = r_init(&b->n, cfg);
    if (rc) {
        r_destroy(&b->n);
        ra_free(cfg->alloc, b);
        return rc;
    }
    *out = &b->n;
    return 0;
}

void raft_free(raft_node *n)
{
    if (!n) return;
    raft_alloc a = n->alc;
    r_destroy(n);
    ra_free(&a, n);
}

#define GUARD(n)                                                                                   \
    do {                                                                                           \
        if ((n)->ready_out) return RAFT_EBUSY;                                                     \
        if ((n)->err) return (n)->err;                                                             \
    } while (0)

int raft_tick(raft_node *n)
{
    GUARD(n);
    return r_tick(n);
}

int raft_step(raft_node *n, const raft_msg *m)
{
    GUARD(n);
    if (!m) return RAFT_EINVAL;
    return r_step(n, m);
}

int raft_propose(raft_node *n, const void *data, uint32_t len, uint64_t *index, uint64_t *term)
{
    GUARD(n);
    if (len && !data) return RAFT_EINVAL;
    uint64_t i, t;
    int rc = r_propose(n, data, len, &i, &t);
    if (!rc) {
        if (index) *index = i;
        if (term) *term = t;
    }
    return rc;
}

int raft_propose_conf_change(raft_node *n, int op, uint64_t id, const void *ctx, uint32_t ctx_len,
                             uint64_t *index, uint64_t *term)
{
    GUARD(n);
    if (ctx_len > RAFT_CONF_CTX_MAX || (ctx_len && !ctx)) return RAFT_EINVAL;
    uint64_t i, t;
    int rc = r_propose_conf(n, op, id, ctx, ctx_len, &i, &t);
    if (!rc) {
        if (index) *index = i;
        if (term) *term = t;
    }
    return rc;
}

void raft_get_conf(raft_node *n, raft_conf *out, uint64_t *index)
{
    *out = n->conf;
    if (index) *index = n->conf_index;
}

int raft_read_index(raft_node *n, uint64_t ctx)
{
    GUARD(n);
    return r_read_index(n, ctx);
}

int raft_transfer_leader(raft_node *n, uint64_t id)
{
    GUARD(n);
    return r_transfer(n, id);
}

int raft_campaign(raft_node *n)
{
    GUARD(n);
    return r_campaign(n);
}

int raft_report_snapshot(raft_node *n, uint64_t id, int ok)
{
    GUARD(n);
    return r_report_snapshot(n, id, ok);
}

int raft_report_unreachable(raft_node *n, uint64_t id)
{
    GUARD(n);
    return r_report_unreachable(n, id);
}

static bool hs_differs(const raft_node *n)
{
    return n->term != n->prev_hs.term || n->vote != n->prev_hs.vote ||
           n->log.committed != n->prev_hs.commit;
}

int raft_has_ready(raft_node *n)
{
    if (n->ready_out || n->err) return 0;
    rlog *l = &n->log;
    if (n->lead != n->prev_lead || n->role != n->prev_role) return 1;
    if (hs_differs(n)) return 1;
    if (l->has_pending_snap) return 1;
    if (log_last_index(l) > l->stabled) return 1;
    if (l->committed > l->applied && !n->hold_apply) return 1;
    if (n->msgs.n || n->msgs_after.n || n->nrstates) return 1;
    if (n->conf_reported != n->conf_index + 1) return 1;
    if (n->role == RAFT_LEADER && (n->need_bcast || n->need_round)) return 1;
    return 0;
}

int raft_ready(raft_node *n, raft_ready_batch *rd)
{
    GUARD(n);
    node_box *b = (node_box *)n;
    rlog *l = &n->log;
    memset(rd, 0, sizeof(*rd));
    memset(&b->mk, 0, sizeof(b->mk));
    int rc = r_flush(n);
    if (rc) return rc;

    if (l->has_pending_snap) {
        rd->snapshot = &l->pending_snap;
        b->mk.snap_index = l->pending_snap.index;
    }
    uint64_t last = log_last_index(l);
    if (last > l->stabled) {
        raft_entry *e = log_mem(l, l->stabled + 1);
        rd->entries = e;
        rd->n_entries = (size_t)(last - l->stabled);
        b->mk.last_index = last;
        b->mk.last_term = l->ents[l->n - 1].term;
    }
    if (!l->has_pending_snap && !n->hold_apply && l->committed > l->applied) {
        uint64_t lo = l->applied + 1, hi = l->committed + 1;
        raft_entry *e = log_mem(l, lo);
        if (e) {
            /* all in memory: lend them directly, up to the byte budget */
            uint64_t bytes = 0;
            size_t k = 0, max = (size_t)(hi - lo);
            while (k < max && (k == 0 || bytes + e[k].len <= n->max_committed_bytes)) {
                bytes += e[k].len;
                k++;
            }
            rd->committed = e;
            rd->n_committed = k;
        } else {
            n->scratch.n = 0;
            rc = log_slice(l, lo, hi, n->max_committed_bytes, &n->ar, &n->scratch);
            if (rc) return n->err = rc;
            raft_entry *es = arena_alloc(&n->ar, n->scratch.n * sizeof(raft_entry));
            if (!es) return RAFT_ENOMEM;
            memcpy(es, n->scratch.v, n->scratch.n * sizeof(raft_entry));
            rd->committed = es;
            rd->n_committed = n->scratch.n;
        }
        if (rd->n_committed) b->mk.committed_to = rd->committed[rd->n_committed - 1].index;
    }
    /* Configuration changes take effect as they are handed out to apply
     * (raft.h "membership"); nothing below appends to the log. */
    if (rd->snapshot && (rc = r_apply_snapshot_conf(n, rd->snapshot))) return rc;
    for (size_t k = 0; k < rd->n_committed; k++)
        if (rd->committed[k].type == RAFT_ENTRY_CONF &&
            (rc = r_apply_conf_entry(n, &rd->committed[k])))
            return rc;
    if (n->conf_reported != n->conf_index + 1) {
        rd->conf_changed = 1;
        rd->conf = &n->conf;
        rd->conf_index = n->conf_index;
        n->conf_reported = n->conf_index + 1;
    }

    rd->soft_changed = n->lead != n->prev_lead || n->role != n->prev_role;
    rd->leader = n->lead;
    rd->role = n->role;
    rd->hs_changed = hs_differs(n);
    rd->hs = (raft_hard_state){.term = n->term, .vote = n->vote, .commit = l->committed};

    rd->msgs = n->msgs.v;
    rd->n_msgs = n->msgs.n;
    rd->msgs_after_persist = n->msgs_after.v;
    rd->n_msgs_after_persist = n->msgs_after.n;
    rd->read_states = n->rstates;
    rd->n_read_states = n->nrstates;
    n->ready_out = true;
    return 0;
}

int raft_advance(raft_node *n, const raft_ready_batch *rd)
{
    if (!n->ready_out) return RAFT_EINVAL;
    node_box *b = (node_box *)n;
    rlog *l = &n->log;
    n->ready_out = false;
    n->prev_lead = rd->leader;
    n->prev_role = rd->role;
    n->prev_hs = rd->hs;
    if (b->mk.snap_index) {
        log_stable_snap_to(l, b->mk.snap_index);
        log_applied_to(l, b->mk.snap_index);
    }
    if (b->mk.last_index) r_on_stable(n, b->mk.last_index, b->mk.last_term);
    if (b->mk.committed_to) log_applied_to(l, b->mk.committed_to);
    n->msgs.n = 0;
    n->msgs_after.n = 0;
    n->nrstates = 0;
    arena_reset(&n->ar);
    /* The scratch array lends nothing past the Ready; one a burst grew
     * goes, as the arena's big chunks do. */
    if (n->scratch.cap > LOG_RETAIN_ENTRIES) {
        ra_free(&n->alc, n->scratch.v);
        n->scratch.v = NULL;
        n->scratch.n = n->scratch.cap = 0;
    }
    log_trim(l, n->max_mem_log_bytes);
    return n->err;
}

void raft_hold_apply(raft_node *n, int hold)
{
    n->hold_apply = hold != 0;
}

void raft_durable(raft_node *n, uint64_t index, uint64_t term)
{
    r_on_durable(n, index, term);
}

void raft_get_status(raft_node *n, raft_status *s)
{
    s->id = n->id;
    s->term = n->term;
    s->vote = n->vote;
    s->leader = n->lead;
    s->commit = n->log.committed;
    s->applied = n->log.applied;
    s->first_index = log_first_index(&n->log);
    s->last_index = log_last_index(&n->log);
    s->snapshot_index = s->first_index - 1;
    s->role = n->role;
    s->transferee = n->transferee;
    s->member = raft_conf_role(&n->conf, n->id);
    s->conf_index = n->conf_index;
    s->pending_conf = n->pending_conf;
    s->dropped_msgs = n->dropped;
    s->mem_log_bytes = n->log.mem_bytes;
}

int raft_get_progress(raft_node *n, uint32_t i, raft_peer_progress *p)
{
    if (n->role != RAFT_LEADER) return RAFT_ENOTLEADER;
    if (i >= n->npr) return RAFT_EINVAL;
    progress *x = &n->prs[i];
    *p = (raft_peer_progress){.id = x->id,
                              .match = x->match,
                              .next = x->next,
                              .state = x->state,
                              .learner = x->learner,
                              .inflight = x->infl_count,
                              .inflight_bytes = x->infl_bytes};
    return 0;
}

int raft_log_term(raft_node *n, uint64_t index, uint64_t *term)
{
    return log_term(&n->log, index, term);
}

void raft_set_trace(raft_node *n, raft_trace_fn fn, void *ctx)
{
    n->trace = fn;
    n->trace_ctx = ctx;
}
