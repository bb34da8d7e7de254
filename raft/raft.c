/* raft.c -- the protocol: roles and elections (paper §5.2, thesis §3.4,
 * PreVote §9.6, CheckQuorum §6.2), replication and commitment (§5.3, §5.4),
 * flow control, ReadIndex (thesis §6.4), leadership transfer (thesis
 * §3.10) and snapshots (§7). The state machine of etcd raft, in C. */
#include <stdarg.h>
#include <stdio.h>

#include "raft/raft_int.h"

/* ---------------------------------------------------------------- helpers */

void r_tracef(raft_node *r, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    r->trace(r->trace_ctx, r->id, buf);
}

static uint64_t rng_next(uint64_t *s)
{
    /* splitmix64: deterministic from cfg.seed */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void reset_rand_timeout(raft_node *r)
{
    /* §5.2: randomized in [T, 2T). */
    r->rand_timeout = r->election_tick + (uint32_t)(rng_next(&r->rng) % r->election_tick);
}

static uint32_t quorum(raft_node *r)
{
    return r->npr / 2 + 1;
}

progress *r_progress(raft_node *r, uint64_t id)
{
    for (uint32_t i = 0; i < r->npr; i++)
        if (r->prs[i].id == id) return &r->prs[i];
    return NULL;
}

static bool is_after_persist(int type)
{
    /* DESIGN.md / thesis §10.2.1: what depends on durable state waits. */
    switch (type) {
    case RAFT_MSG_VOTE:
    case RAFT_MSG_VOTE_RESP:
    case RAFT_MSG_PREVOTE:
    case RAFT_MSG_PREVOTE_RESP:
    case RAFT_MSG_APP_RESP:
    case RAFT_MSG_HEARTBEAT_RESP:
        return true;
    default:
        return false;
    }
}

/* Queues m (copied; its entries and snapshot must already live in the
 * arena or be absent). */
static int send(raft_node *r, raft_msg *m)
{
    m->from = r->id;
    if (m->term == 0 && m->type != RAFT_MSG_READ_INDEX && m->type != RAFT_MSG_TRANSFER_LEADER)
        m->term = r->term;
    msgvec *v = is_after_persist(m->type) ? &r->msgs_after : &r->msgs;
    if (v->n == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 16;
        raft_msg *nv = ra_realloc(&r->alc, v->v, nc * sizeof(*nv));
        if (!nv) return r->err = RAFT_ENOMEM;
        v->v = nv;
        v->cap = nc;
    }
    v->v[v->n++] = *m;
    TRACE(r, "send %s to %llu term %llu idx %llu lt %llu commit %llu n %u rej %d",
          raft_msg_type_name(m->type), (unsigned long long)m->to, (unsigned long long)m->term,
          (unsigned long long)m->index, (unsigned long long)m->log_term,
          (unsigned long long)m->commit, m->n_entries, m->reject);
    return 0;
}

/* ---------------------------------------------------------------- progress */

static void infl_reset(progress *p)
{
    p->infl_start = p->infl_count = 0;
}

static bool pr_paused(raft_node *r, progress *p)
{
    switch (p->state) {
    case RAFT_PR_PROBE:
        return p->probe_sent;
    case RAFT_PR_REPLICATE:
        return p->infl_count >= r->max_inflight;
    default:
        return true;
    }
}

static void pr_become_probe(progress *p)
{
    /* After a snapshot, resume right after it. */
    if (p->state == RAFT_PR_SNAPSHOT) {
        uint64_t ps = p->pending_snap;
        p->next = (p->match + 1 > ps + 1) ? p->match + 1 : ps + 1;
    } else {
        p->next = p->match + 1;
    }
    p->state = RAFT_PR_PROBE;
    p->probe_sent = false;
    p->pending_snap = 0;
    infl_reset(p);
}

static void pr_become_replicate(progress *p)
{
    p->state = RAFT_PR_REPLICATE;
    p->probe_sent = false;
    p->next = p->match + 1;
    infl_reset(p);
}

static void pr_become_snapshot(progress *p, uint64_t idx)
{
    p->state = RAFT_PR_SNAPSHOT;
    p->pending_snap = idx;
    p->snap_wait = 0;
    p->probe_sent = false;
    infl_reset(p);
}

static bool pr_maybe_update(progress *p, uint64_t n)
{
    bool updated = false;
    if (p->match < n) {
        p->match = n;
        updated = true;
        p->probe_sent = false;
    }
    if (p->next < n + 1) p->next = n + 1;
    return updated;
}

/* A rejection of the append whose previous index was `rejected`; hint is
 * where the follower suggests to resume (thesis §5.3 fast backtracking). */
static bool pr_maybe_decr(progress *p, uint64_t rejected, uint64_t hint)
{
    if (p->state == RAFT_PR_REPLICATE) {
        if (rejected <= p->match) return false; /* stale */
        p->next = p->match + 1;
        return true;
    }
    if (p->next - 1 != rejected) return false; /* stale */
    uint64_t nx = rejected < hint + 1 ? rejected : hint + 1;
    if (nx < p->match + 1) nx = p->match + 1;
    if (nx < 1) nx = 1;
    p->next = nx;
    p->probe_sent = false;
    return true;
}

static void infl_add(raft_node *r, progress *p, uint64_t last)
{
    uint32_t cap = r->max_inflight;
    p->infl[(p->infl_start + p->infl_count) % cap] = last;
    p->infl_count++;
}

static void infl_free_le(raft_node *r, progress *p, uint64_t to)
{
    uint32_t cap = r->max_inflight;
    while (p->infl_count && p->infl[p->infl_start] <= to) {
        p->infl_start = (p->infl_start + 1) % cap;
        p->infl_count--;
    }
}

/* ---------------------------------------------------------- role changes */

static void abort_transfer(raft_node *r)
{
    r->transferee = 0;
}

static void reset(raft_node *r, uint64_t term)
{
    if (r->term != term) {
        r->term = term;
        r->vote = 0;
    }
    r->lead = 0;
    r->election_elapsed = 0;
    r->heartbeat_elapsed = 0;
    reset_rand_timeout(r);
    abort_transfer(r);
    r->campaign_transfer = false;
    r->nreads = r->headreads = 0;
    r->npending = 0;
    r->uncommitted = 0;
    r->need_bcast = false;
    r->need_round = false;
    uint64_t last = log_last_index(&r->log);
    for (uint32_t i = 0; i < r->npr; i++) {
        progress *p = &r->prs[i];
        p->match = 0;
        p->next = last + 1;
        p->state = RAFT_PR_PROBE;
        p->probe_sent = false;
        p->recent_active = false;
        p->pending_snap = 0;
        p->read_ack = 0;
        p->vote = 0;
        infl_reset(p);
    }
}

static void become_follower(raft_node *r, uint64_t term, uint64_t lead)
{
    reset(r, term);
    r->lead = lead;
    r->role = RAFT_FOLLOWER;
    TRACE(r, "became follower at term %llu lead %llu", (unsigned long long)term,
          (unsigned long long)lead);
}

static void become_candidate(raft_node *r)
{
    reset(r, r->term + 1);
    r->vote = r->id;
    r->role = RAFT_CANDIDATE;
    TRACE(r, "became candidate at term %llu", (unsigned long long)r->term);
}

static void become_precandidate(raft_node *r)
{
    /* PreVote (thesis §9.6): no term change, no vote; the timer restarts. */
    r->role = RAFT_PRECANDIDATE;
    r->lead = 0;
    r->election_elapsed = 0;
    reset_rand_timeout(r);
    for (uint32_t i = 0; i < r->npr; i++)
        r->prs[i].vote = 0;
    TRACE(r, "became pre-candidate at term %llu", (unsigned long long)r->term);
}

static int bcast_append(raft_node *r);
static void add_read_state(raft_node *r, uint64_t index, uint64_t ctx);
static int handle_read(raft_node *r, uint64_t ctx, uint64_t from);

static int become_leader(raft_node *r)
{
    reset(r, r->term);
    r->lead = r->id;
    r->role = RAFT_LEADER;
    progress *self = &r->prs[r->self];
    /* The leader counts only what is durable as its own match (§10.2.1). */
    self->match = r->log.stabled;
    pr_become_replicate(self);
    self->next = log_last_index(&r->log) + 1;
    self->recent_active = true;
    /* Thesis §6.4: a new leader commits an entry of its term at once. */
    int rc = log_append_owned(&r->log, r->term, RAFT_ENTRY_EMPTY, NULL, 0);
    if (rc) return r->err = rc;
    self->next = log_last_index(&r->log) + 1;
    r->need_bcast = true;
    TRACE(r, "became leader at term %llu", (unsigned long long)r->term);
    return 0;
}

static bool committed_in_term(raft_node *r)
{
    return log_term_or0(&r->log, r->log.committed) == r->term;
}

/* ------------------------------------------------------------- sending */

static int send_snapshot(raft_node *r, progress *p)
{
    if (!p->recent_active) return 0; /* etcd: do not snapshot a dead peer */
    raft_snapshot_meta *s = arena_alloc(&r->ar, sizeof(*s));
    if (!s) return r->err = RAFT_ENOMEM;
    int rc = r->log.st.snapshot(r->log.st.ctx, s);
    if (rc == RAFT_ESNAPTEMP) return 0;
    if (rc) return r->err = rc;
    if (s->index == 0) return 0;
    raft_msg m = {
        .type = RAFT_MSG_SNAP, .to = p->id, .index = s->index, .log_term = s->term, .snap = s};
    pr_become_snapshot(p, s->index);
    return send(r, &m);
}

/* Sends one append to p if flow control allows; *sent tells whether it did. */
static int send_append(raft_node *r, progress *p, bool send_if_empty, bool *sent)
{
    *sent = false;
    if (pr_paused(r, p)) return 0;
    uint64_t prev = p->next - 1, prev_term;
    int rc = log_term(&r->log, prev, &prev_term);
    entvec *ev = &r->scratch;
    ev->n = 0;
    if (!rc) {
        uint64_t last = log_last_index(&r->log);
        rc = log_slice(&r->log, p->next, last + 1, r->max_msg_bytes, &r->ar, ev);
    }
    if (rc == RAFT_ECOMPACTED) {
        rc = send_snapshot(r, p);
        *sent = rc == 0 && p->state == RAFT_PR_SNAPSHOT;
        return rc;
    }
    if (rc) return r->err = rc;
    if (ev->n == 0 && !send_if_empty) return 0;
    raft_msg m = {.type = RAFT_MSG_APP,
                  .to = p->id,
                  .index = prev,
                  .log_term = prev_term,
                  .commit = r->log.committed};
    if (ev->n) {
        /* Copy into the arena: the message outlives later log changes. */
        raft_entry *es = arena_alloc(&r->ar, ev->n * sizeof(raft_entry));
        if (!es) return r->err = RAFT_ENOMEM;
        for (size_t i = 0; i < ev->n; i++) {
            es[i] = ev->v[i];
            if (es[i].len && log_mem(&r->log, es[i].index) &&
                log_mem(&r->log, es[i].index)->data == es[i].data) {
                uint8_t *d = arena_alloc(&r->ar, es[i].len);
                if (!d) return r->err = RAFT_ENOMEM;
                memcpy(d, es[i].data, es[i].len);
                es[i].data = d;
            }
        }
        m.entries = es;
        m.n_entries = (uint32_t)ev->n;
        uint64_t lastsent = es[ev->n - 1].index;
        if (p->state == RAFT_PR_REPLICATE) {
            p->next = lastsent + 1; /* optimistic: pipeline the next one */
            infl_add(r, p, lastsent);
        } else {
            p->probe_sent = true;
        }
    } else if (p->state == RAFT_PR_PROBE) {
        p->probe_sent = true;
    }
    *sent = true;
    return send(r, &m);
}

/* In replicate state send as many appends as the window allows. */
static int send_appends(raft_node *r, progress *p, bool send_if_empty)
{
    bool sent;
    int rc = send_append(r, p, send_if_empty, &sent);
    while (!rc && sent && p->state == RAFT_PR_REPLICATE && p->next <= log_last_index(&r->log))
        rc = send_append(r, p, false, &sent);
    return rc;
}

static int bcast_append(raft_node *r)
{
    for (uint32_t i = 0; i < r->npr; i++) {
        if (i == r->self) continue;
        int rc = send_appends(r, &r->prs[i], true);
        if (rc) return rc;
    }
    return 0;
}

static int send_heartbeat(raft_node *r, progress *p, uint64_t round)
{
#if defined(RAFT_TEST_BUG) && RAFT_TEST_BUG == 3
    uint64_t c = r->log.committed; /* deliberately broken: may pass the match */
#else
    /* The follower may only use a commit it is known to have (etcd). */
    uint64_t c = p->match < r->log.committed ? p->match : r->log.committed;
#endif
    raft_msg m = {.type = RAFT_MSG_HEARTBEAT, .to = p->id, .commit = c, .ctx = round};
    return send(r, &m);
}

static int bcast_heartbeat(raft_node *r)
{
    uint64_t round = r->round++;
    r->need_round = false;
    for (uint32_t i = 0; i < r->npr; i++) {
        if (i == r->self) continue;
        int rc = send_heartbeat(r, &r->prs[i], round);
        if (rc) return rc;
    }
    return 0;
}

/* ------------------------------------------------------------ commitment */

static uint64_t quorum_match(raft_node *r)
{
    uint64_t m[RAFT_MAX_VOTERS] = {0};
    for (uint32_t i = 0; i < r->npr; i++)
        m[i] = r->prs[i].match;
    /* n <= 16: insertion sort, descending */
    for (uint32_t i = 1; i < r->npr; i++) {
        uint64_t x = m[i];
        uint32_t j = i;
        while (j > 0 && m[j - 1] < x) {
            m[j] = m[j - 1];
            j--;
        }
        m[j] = x;
    }
    return m[quorum(r) - 1];
}

static void release_pending_reads(raft_node *r);

/* §5.3/§5.4.2: advance commit to the quorum's match if of this term. */
static bool maybe_commit(raft_node *r)
{
    uint64_t old = r->log.committed;
    if (!log_maybe_commit(&r->log, quorum_match(r), r->term)) return false;
    for (uint64_t i = old + 1; i <= r->log.committed; i++) {
        raft_entry *e = log_mem(&r->log, i);
        if (!e) continue;
        r->uncommitted = r->uncommitted > e->len ? r->uncommitted - e->len : 0;
    }
    r->need_bcast = true;
    if (r->npending && committed_in_term(r)) release_pending_reads(r);
    return true;
}

void r_on_stable(raft_node *r, uint64_t i, uint64_t t)
{
    log_stable_to(&r->log, i, t);
    if (r->role == RAFT_LEADER) {
        progress *self = &r->prs[r->self];
        if (r->log.stabled > self->match) {
            self->match = r->log.stabled;
            maybe_commit(r);
        }
    }
}

/* ------------------------------------------------------------- elections */

static bool poll_won(raft_node *r, int *lost)
{
    uint32_t yes = 0, no = 0;
    for (uint32_t i = 0; i < r->npr; i++) {
        if (r->prs[i].vote > 0) yes++;
        if (r->prs[i].vote < 0) no++;
    }
    *lost = no >= quorum(r);
    return yes >= quorum(r);
}

static int campaign(raft_node *r, bool pre, bool transfer)
{
    uint64_t term;
    int type;
    if (pre) {
        become_precandidate(r);
        term = r->term + 1; /* the term it would use, not adopted */
        type = RAFT_MSG_PREVOTE;
    } else {
        become_candidate(r);
        r->campaign_transfer = transfer;
        term = r->term;
        type = RAFT_MSG_VOTE;
    }
    r->prs[r->self].vote = 1;
    int lost;
    if (poll_won(r, &lost)) {
        /* a one-member cluster */
        if (pre) return campaign(r, false, transfer);
        return become_leader(r);
    }
    uint64_t li = log_last_index(&r->log), lt = log_last_term(&r->log);
    for (uint32_t i = 0; i < r->npr; i++) {
        if (i == r->self) continue;
        raft_msg m = {.type = (uint8_t)type,
                      .to = r->prs[i].id,
                      .term = term,
                      .index = li,
                      .log_term = lt,
                      .ctx = transfer ? 1 : 0};
        int rc = send(r, &m);
        if (rc) return rc;
    }
    return 0;
}

static int hup(raft_node *r, bool transfer)
{
    if (r->role == RAFT_LEADER) return 0;
    /* A pending snapshot not yet installed: wait (etcd does likewise with
     * unapplied configuration changes). MEMBERSHIP HOOK. */
    if (r->prevote && !transfer) return campaign(r, true, false);
    return campaign(r, false, transfer);
}

/* ----------------------------------------------------------------- ticks */

int r_tick(raft_node *r)
{
    if (r->role != RAFT_LEADER) {
        r->election_elapsed++;
        if (r->election_elapsed >= r->rand_timeout) {
            r->election_elapsed = 0;
            return hup(r, false);
        }
        return 0;
    }
    r->heartbeat_elapsed++;
    r->election_elapsed++;
    for (uint32_t i = 0; i < r->npr; i++) {
        progress *p = &r->prs[i];
        /* A snapshot that got lost: probe again after a while. */
        if (p->state == RAFT_PR_SNAPSHOT && ++p->snap_wait >= 2 * r->election_tick)
            pr_become_probe(p);
    }
    if (r->election_elapsed >= r->election_tick) {
        r->election_elapsed = 0;
        if (r->check_quorum) {
            /* Thesis §6.2: step down without contact from a quorum. */
            uint32_t act = 0;
            for (uint32_t i = 0; i < r->npr; i++) {
                if (i == r->self || r->prs[i].recent_active) act++;
                if (i != r->self) r->prs[i].recent_active = false;
            }
            if (act < quorum(r)) {
                TRACE(r, "check quorum failed: stepping down");
                become_follower(r, r->term, 0);
                return 0;
            }
        }
        /* Thesis §3.10: abandon a transfer that took an election timeout. */
        if (r->transferee) abort_transfer(r);
    }
    if (r->heartbeat_elapsed >= r->heartbeat_tick) {
        r->heartbeat_elapsed = 0;
        return bcast_heartbeat(r);
    }
    return 0;
}

/* ----------------------------------------------------------------- reads */

static void add_read_state(raft_node *r, uint64_t index, uint64_t ctx)
{
    if (r->nrstates == r->caprstates) {
        size_t nc = r->caprstates ? r->caprstates * 2 : 16;
        raft_read_state *v = ra_realloc(&r->alc, r->rstates, nc * sizeof(*v));
        if (!v) {
            r->err = RAFT_ENOMEM;
            return;
        }
        r->rstates = v;
        r->caprstates = nc;
    }
    r->rstates[r->nrstates++] = (raft_read_state){.index = index, .ctx = ctx};
}

static int answer_read(raft_node *r, uint64_t from, uint64_t index, uint64_t ctx)
{
    if (from == r->id) {
        add_read_state(r, index, ctx);
        return r->err;
    }
    raft_msg m = {.type = RAFT_MSG_READ_INDEX_RESP, .to = from, .index = index, .ctx = ctx};
    return send(r, &m);
}

static int push_req(raft_node *r, read_req **v, size_t *n, size_t *cap, const read_req *q)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        read_req *nv = ra_realloc(&r->alc, *v, nc * sizeof(*nv));
        if (!nv) return r->err = RAFT_ENOMEM;
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = *q;
    return 0;
}

/* Thesis §6.4 steps 1-3: record commit as the read index, then confirm
 * leadership with a heartbeat round; reads of one pass share the round. */
static int handle_read(raft_node *r, uint64_t ctx, uint64_t from)
{
    if (!committed_in_term(r)) {
        read_req q = {.ctx = ctx, .from = from};
        return push_req(r, &r->pending_reads, &r->npending, &r->cappending, &q);
    }
    if (quorum(r) == 1) return answer_read(r, from, r->log.committed, ctx);
    /* compact the FIFO */
    if (r->headreads && r->headreads == r->nreads) r->headreads = r->nreads = 0;
    read_req q = {.round = r->round, .index = r->log.committed, .ctx = ctx, .from = from};
    r->need_round = true;
    return push_req(r, &r->reads, &r->nreads, &r->capreads, &q);
}

static void release_pending_reads(raft_node *r)
{
    size_t n = r->npending;
    r->npending = 0;
    for (size_t i = 0; i < n; i++) {
        /* handle_read does not touch pending_reads now that commit is in term */
        read_req q = r->pending_reads[i];
        handle_read(r, q.ctx, q.from);
    }
}

static int advance_reads(raft_node *r)
{
    while (r->headreads < r->nreads) {
        read_req *q = &r->reads[r->headreads];
        uint32_t acks = 0;
        for (uint32_t i = 0; i < r->npr; i++)
            if (i == r->self || r->prs[i].read_ack >= q->round + 1) acks++;
        if (acks < quorum(r)) break;
        r->headreads++;
        int rc = answer_read(r, q->from, q->index, q->ctx);
        if (rc) return rc;
    }
    return 0;
}

int r_read_index(raft_node *r, uint64_t ctx)
{
    if (r->role == RAFT_LEADER) return handle_read(r, ctx, r->id);
    if (!r->lead) return RAFT_EDROPPED;
    raft_msg m = {.type = RAFT_MSG_READ_INDEX, .to = r->lead, .ctx = ctx};
    return send(r, &m);
}

/* ------------------------------------------------------------- transfer */

static int handle_transfer(raft_node *r, uint64_t target)
{
    progress *p = r_progress(r, target);
    if (!p) return RAFT_EUNKNOWNPEER;
    if (r->transferee == target) return 0;
    abort_transfer(r);
    if (target == r->id) return 0;
    r->election_elapsed = 0; /* the transfer must finish within an election timeout */
    r->transferee = target;
    TRACE(r, "transferring leadership to %llu", (unsigned long long)target);
    if (p->match == log_last_index(&r->log)) {
        raft_msg m = {.type = RAFT_MSG_TIMEOUT_NOW, .to = target};
        return send(r, &m);
    }
    return send_appends(r, p, true);
}

int r_transfer(raft_node *r, uint64_t id)
{
    if (!r_progress(r, id)) return RAFT_EUNKNOWNPEER;
    if (r->role == RAFT_LEADER) return handle_transfer(r, id);
    if (!r->lead) return RAFT_EDROPPED;
    raft_msg m = {.type = RAFT_MSG_TRANSFER_LEADER, .to = r->lead, .ctx = id};
    return send(r, &m);
}

int r_campaign(raft_node *r)
{
    return hup(r, false);
}

/* -------------------------------------------------------------- propose */

int r_propose(raft_node *r, const void *data, uint32_t len, uint64_t *index, uint64_t *term)
{
    if (r->role != RAFT_LEADER) return RAFT_ENOTLEADER;
    if (r->transferee) return RAFT_ETRANSFER;
    if (len > r->max_entry_bytes) return RAFT_ETOOLARGE;
    if (r->max_uncommitted && r->uncommitted && r->uncommitted + len > r->max_uncommitted)
        return RAFT_EUNCOMMITTED;
    uint8_t *d = NULL;
    if (len) {
        d = ra_malloc(&r->alc, len);
        if (!d) return RAFT_ENOMEM;
        memcpy(d, data, len);
    }
    int rc = log_append_owned(&r->log, r->term, RAFT_ENTRY_NORMAL, d, len);
    if (rc) {
        ra_free(&r->alc, d);
        return rc;
    }
    r->uncommitted += len;
    r->need_bcast = true; /* batched: sent at the next ready */
    *index = log_last_index(&r->log);
    *term = r->term;
    return 0;
}

/* ------------------------------------------------------------- receiving */

static int handle_append(raft_node *r, const raft_msg *m)
{
    raft_msg resp = {.type = RAFT_MSG_APP_RESP, .to = m->from};
    if (m->index < r->log.committed) {
        resp.index = r->log.committed;
        return send(r, &resp);
    }
    uint64_t last_new;
    int rc = log_maybe_append(&r->log, m->index, m->log_term, m->commit, m->entries, m->n_entries,
                              &last_new);
    if (rc < 0) return r->err = rc;
    if (rc == 1) {
        resp.index = last_new;
        return send(r, &resp);
    }
    /* Reject with a hint: the largest index <= min(prev, last) whose term
     * is <= the leader's prev term, so a whole term is skipped per round. */
    uint64_t hint = m->index < log_last_index(&r->log) ? m->index : log_last_index(&r->log);
    uint64_t ht;
    hint = log_find_conflict_by_term(&r->log, hint, m->log_term, &ht);
    resp.index = m->index;
    resp.reject = 1;
    resp.reject_hint = hint;
    resp.log_term = ht;
    return send(r, &resp);
}

static int handle_heartbeat(raft_node *r, const raft_msg *m)
{
    uint64_t c = m->commit, last = log_last_index(&r->log);
    log_commit_to(&r->log, c < last ? c : last);
    raft_msg resp = {.type = RAFT_MSG_HEARTBEAT_RESP, .to = m->from, .ctx = m->ctx};
    return send(r, &resp);
}

static int handle_snapshot(raft_node *r, const raft_msg *m)
{
    raft_msg resp = {.type = RAFT_MSG_APP_RESP, .to = m->from};
    const raft_snapshot_meta *s = m->snap;
    if (!s || s->index <= r->log.committed) {
        /* stale snapshot: ignored (§7) */
        resp.index = r->log.committed;
        return send(r, &resp);
    }
    if (log_match_term(&r->log, s->index, s->term)) {
        /* We already have it: fast-forward commit only. */
        log_commit_to(&r->log, s->index);
        resp.index = r->log.committed;
        return send(r, &resp);
    }
    TRACE(r, "restoring snapshot at %llu term %llu", (unsigned long long)s->index,
          (unsigned long long)s->term);
    /* MEMBERSHIP HOOK: s->voters would replace the configuration here. */
    log_restore(&r->log, s);
    resp.index = log_last_index(&r->log);
    return send(r, &resp);
}

static int step_leader(raft_node *r, const raft_msg *m)
{
    progress *p = r_progress(r, m->from);
    int rc = 0;
    switch (m->type) {
    case RAFT_MSG_APP_RESP: {
        p->recent_active = true;
        if (m->reject) {
            uint64_t hint = m->reject_hint;
            if (m->log_term > 0) {
                uint64_t ft;
                hint = log_find_conflict_by_term(&r->log, hint, m->log_term, &ft);
            }
            if (pr_maybe_decr(p, m->index, hint)) {
                if (p->state == RAFT_PR_REPLICATE) pr_become_probe(p);
                rc = send_appends(r, p, true);
            }
            return rc;
        }
        bool was_paused = pr_paused(r, p);
        if (pr_maybe_update(p, m->index)) {
            if (p->state == RAFT_PR_PROBE) {
                pr_become_replicate(p);
            } else if (p->state == RAFT_PR_SNAPSHOT && p->match >= p->pending_snap) {
                pr_become_probe(p);
                pr_become_replicate(p);
            } else if (p->state == RAFT_PR_REPLICATE) {
                infl_free_le(r, p, m->index);
            }
            if (maybe_commit(r)) {
                /* sent at flush, batched with the commit */
            } else if (was_paused) {
                rc = send_appends(r, p, false);
            }
            if (!rc && p->state == RAFT_PR_REPLICATE) rc = send_appends(r, p, false);
            if (!rc && m->from == r->transferee && p->match == log_last_index(&r->log)) {
                raft_msg t = {.type = RAFT_MSG_TIMEOUT_NOW, .to = m->from};
                rc = send(r, &t);
            }
        }
        return rc;
    }
    case RAFT_MSG_HEARTBEAT_RESP:
        p->recent_active = true;
        p->probe_sent = false;
        if (p->state == RAFT_PR_REPLICATE && p->infl_count >= r->max_inflight)
            infl_free_le(r, p, p->infl[p->infl_start]); /* let one more through */
        if (m->ctx + 1 > p->read_ack) {
            p->read_ack = m->ctx + 1;
            rc = advance_reads(r);
        }
        /* A follower behind us gets an append even if empty: in replicate state
         * a lost append is only noticed through the rejection it provokes. */
        if (!rc && p->match < log_last_index(&r->log)) rc = send_appends(r, p, true);
        return rc;
    case RAFT_MSG_TRANSFER_LEADER:
        return handle_transfer(r, m->ctx) == RAFT_EUNKNOWNPEER ? 0 : r->err;
    case RAFT_MSG_READ_INDEX:
        return handle_read(r, m->ctx, m->from);
    default:
        return 0;
    }
}

static int step_candidate(raft_node *r, const raft_msg *m)
{
    int want = r->role == RAFT_PRECANDIDATE ? RAFT_MSG_PREVOTE_RESP : RAFT_MSG_VOTE_RESP;
    switch (m->type) {
    case RAFT_MSG_APP:
        become_follower(r, m->term, m->from);
        return handle_append(r, m);
    case RAFT_MSG_HEARTBEAT:
        become_follower(r, m->term, m->from);
        return handle_heartbeat(r, m);
    case RAFT_MSG_SNAP:
        become_follower(r, m->term, m->from);
        return handle_snapshot(r, m);
    case RAFT_MSG_VOTE_RESP:
    case RAFT_MSG_PREVOTE_RESP: {
        if (m->type != want) return 0;
        progress *p = r_progress(r, m->from);
        if (p->vote == 0) p->vote = m->reject ? -1 : 1;
        int lost;
        if (poll_won(r, &lost)) {
            if (r->role == RAFT_PRECANDIDATE) return campaign(r, false, false);
            int rc = become_leader(r);
            return rc;
        }
        if (lost) become_follower(r, r->term, 0);
        return 0;
    }
    default:
        return 0;
    }
}

static int step_follower(raft_node *r, const raft_msg *m)
{
    switch (m->type) {
    case RAFT_MSG_APP:
        r->election_elapsed = 0;
        r->lead = m->from;
        return handle_append(r, m);
    case RAFT_MSG_HEARTBEAT:
        r->election_elapsed = 0;
        r->lead = m->from;
        return handle_heartbeat(r, m);
    case RAFT_MSG_SNAP:
        r->election_elapsed = 0;
        r->lead = m->from;
        return handle_snapshot(r, m);
    case RAFT_MSG_TRANSFER_LEADER:
        if (!r->lead) return 0;
        {
            raft_msg f = {.type = RAFT_MSG_TRANSFER_LEADER, .to = r->lead, .ctx = m->ctx};
            return send(r, &f);
        }
    case RAFT_MSG_TIMEOUT_NOW:
        /* Thesis §3.10: start an election at once, skipping PreVote. */
        return hup(r, true);
    case RAFT_MSG_READ_INDEX_RESP:
        if (!m->reject) add_read_state(r, m->index, m->ctx);
        return r->err;
    default:
        return 0;
    }
}

int r_step(raft_node *r, const raft_msg *m)
{
    if (m->type < 1 || m->type > RAFT_MSG_TYPE_MAX) return RAFT_EINVAL;
    if (m->to != r->id) return RAFT_EINVAL;
    if (!r_progress(r, m->from) || m->from == r->id) return 0; /* unknown peer */
    bool vote_req = m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_PREVOTE;
    bool local = m->type == RAFT_MSG_READ_INDEX || m->type == RAFT_MSG_TRANSFER_LEADER;
    if (local) {
        /* forwarded requests carry no term */
    } else if (m->term > r->term) {
        if (vote_req) {
            /* Thesis §4.2.3 / §6.2: while we hear from a leader, ignore
             * vote requests (unless the leader itself asked, TimeoutNow). */
            bool force = m->ctx == 1;
            bool in_lease =
                r->check_quorum && r->lead != 0 && r->election_elapsed < r->election_tick;
            if (!force && in_lease) return 0;
        }
        if (m->type == RAFT_MSG_PREVOTE) {
            /* never change term for a prevote request */
        } else if (m->type == RAFT_MSG_PREVOTE_RESP && !m->reject) {
            /* a granted prevote at term+1 is the expected answer */
        } else {
            /* §5.1: a higher term makes any node a follower. */
            bool from_leader = m->type == RAFT_MSG_APP || m->type == RAFT_MSG_HEARTBEAT ||
                               m->type == RAFT_MSG_SNAP;
            uint32_t elapsed = r->election_elapsed;
            become_follower(r, m->term, from_leader ? m->from : 0);
            /* Figure 2: only a leader's append or a granted vote restart the
             * election timer, not a higher term alone; otherwise candidates
             * with stale logs could keep the best candidate from ever timing
             * out. */
            if (!from_leader) r->election_elapsed = elapsed;
        }
    } else if (m->term < r->term) {
        if ((r->check_quorum || r->prevote) &&
            (m->type == RAFT_MSG_HEARTBEAT || m->type == RAFT_MSG_APP)) {
            /* Tell a stale leader about the new term (etcd: a node removed by
             * a partition would otherwise keep it alive forever). */
            raft_msg resp = {.type = RAFT_MSG_APP_RESP, .to = m->from};
            return send(r, &resp);
        }
        if (m->type == RAFT_MSG_PREVOTE) {
            raft_msg resp = {.type = RAFT_MSG_PREVOTE_RESP, .to = m->from, .reject = 1};
            return send(r, &resp);
        }
        return 0; /* stale: ignored */
    }

    if (vote_req) {
        bool pre = m->type == RAFT_MSG_PREVOTE;
        bool can =
            r->vote == m->from || (r->vote == 0 && r->lead == 0) || (pre && m->term > r->term);
        raft_msg resp = {.type = pre ? RAFT_MSG_PREVOTE_RESP : RAFT_MSG_VOTE_RESP, .to = m->from};
        if (can && log_is_up_to_date(&r->log, m->index, m->log_term)) {
            /* §5.2, §5.4.1: grant; the vote is persisted before the reply
             * leaves (msgs_after_persist). */
            resp.term = m->term;
            if (!pre) {
                r->election_elapsed = 0;
                r->vote = m->from;
            }
        } else {
            resp.term = r->term;
            resp.reject = 1;
        }
        TRACE(r, "%s %s for %llu at term %llu", resp.reject ? "rejected" : "granted",
              pre ? "prevote" : "vote", (unsigned long long)m->from, (unsigned long long)m->term);
        return send(r, &resp);
    }

    int rc;
    switch (r->role) {
    case RAFT_LEADER:
        rc = step_leader(r, m);
        break;
    case RAFT_CANDIDATE:
    case RAFT_PRECANDIDATE:
        rc = step_candidate(r, m);
        break;
    default:
        rc = step_follower(r, m);
        break;
    }
    if (!rc && r->err) rc = r->err;
    return rc;
}

int r_report_snapshot(raft_node *r, uint64_t id, int ok)
{
    progress *p = r_progress(r, id);
    if (!p) return RAFT_EUNKNOWNPEER;
    if (r->role != RAFT_LEADER || p->state != RAFT_PR_SNAPSHOT) return 0;
    if (!ok) p->pending_snap = 0;
    pr_become_probe(p);
    p->probe_sent = true; /* wait for a heartbeat response before probing */
    return 0;
}

int r_report_unreachable(raft_node *r, uint64_t id)
{
    progress *p = r_progress(r, id);
    if (!p) return RAFT_EUNKNOWNPEER;
    if (r->role == RAFT_LEADER && p->state == RAFT_PR_REPLICATE) pr_become_probe(p);
    return 0;
}

int r_flush(raft_node *r)
{
    int rc = 0;
    if (r->role == RAFT_LEADER) {
        if (r->need_bcast) {
            r->need_bcast = false;
            rc = bcast_append(r);
        }
        if (!rc && r->need_round) rc = bcast_heartbeat(r);
    }
    return rc ? rc : r->err;
}

/* ----------------------------------------------------------------- init */

int r_init(raft_node *r, const raft_config *c)
{
    if (!c->id || !c->storage || c->election_tick <= c->heartbeat_tick || c->heartbeat_tick == 0)
        return RAFT_EINVAL;
    r->id = c->id;
    r->election_tick = c->election_tick;
    r->heartbeat_tick = c->heartbeat_tick;
    r->prevote = c->prevote != 0;
    r->check_quorum = c->check_quorum != 0;
    r->max_inflight = c->max_inflight ? c->max_inflight : 256;
    r->max_msg_bytes = c->max_msg_bytes ? c->max_msg_bytes : (1u << 20);
    r->max_entry_bytes = c->max_entry_bytes ? c->max_entry_bytes : (64u << 20);
    r->max_uncommitted = c->max_uncommitted_bytes;
    r->max_committed_bytes = c->max_committed_bytes ? c->max_committed_bytes : (64u << 20);
    r->rng = c->seed ^ (c->id * 0x2545f4914f6cdd1dULL);
    r->ar.al = &r->alc;

    raft_hard_state hs = {0};
    raft_snapshot_meta snap;
    memset(&snap, 0, sizeof snap);
    int rc = c->storage->initial_state(c->storage->ctx, &hs, &snap);
    if (rc) return rc;

    /* MEMBERSHIP HOOK: the voter set comes from the latest snapshot (and,
     * later, conf entries); otherwise from cfg.peers. */
    const uint64_t *ids = c->peers;
    uint32_t n = c->n_peers;
    if (snap.n_voters) {
        ids = snap.voters;
        n = snap.n_voters;
    }
    if (n == 0 || n > RAFT_MAX_VOTERS) return RAFT_EINVAL;
    r->prs = ra_malloc(&r->alc, n * sizeof(progress));
    if (!r->prs) return RAFT_ENOMEM;
    memset(r->prs, 0, n * sizeof(progress));
    r->npr = n;
    r->self = UINT32_MAX;
    for (uint32_t i = 0; i < n; i++) {
        if (ids[i] == 0) return RAFT_EINVAL;
        for (uint32_t j = 0; j < i; j++)
            if (ids[j] == ids[i]) return RAFT_EINVAL;
        r->prs[i].id = ids[i];
        r->prs[i].infl = ra_malloc(&r->alc, r->max_inflight * sizeof(uint64_t));
        if (!r->prs[i].infl) return RAFT_ENOMEM;
        if (ids[i] == r->id) r->self = i;
    }
    if (r->self == UINT32_MAX) return RAFT_EINVAL;

    rc = log_init(&r->log, &r->alc, c->storage, hs.commit, c->applied);
    if (rc) return rc;
    r->term = hs.term;
    r->vote = hs.vote;
    become_follower(r, hs.term, 0);
    r->vote = hs.vote;
    r->prev_hs = (raft_hard_state){.term = r->term, .vote = r->vote, .commit = r->log.committed};
    r->prev_lead = 0;
    r->prev_role = RAFT_FOLLOWER;
    return 0;
}

void r_destroy(raft_node *r)
{
    if (r->prs)
        for (uint32_t i = 0; i < r->npr; i++)
            ra_free(&r->alc, r->prs[i].infl);
    ra_free(&r->alc, r->prs);
    log_destroy(&r->log);
    ra_free(&r->alc, r->reads);
    ra_free(&r->alc, r->pending_reads);
    ra_free(&r->alc, r->rstates);
    ra_free(&r->alc, r->msgs.v);
    ra_free(&r->alc, r->msgs_after.v);
    ra_free(&r->alc, r->scratch.v);
    arena_destroy(&r->ar);
}
