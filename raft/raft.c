/* raft.c -- the protocol's core: message dispatch by term and role (paper
 * §5.1 and Figure 2 "Rules for Servers", etcd raft's Step), ticks (election
 * timeout §5.2, heartbeats, CheckQuorum thesis §6.2) and node setup. The rules
 * themselves live in election.c, replication.c, readindex.c and progress.c. */
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

static uint64_t r_rng_next(uint64_t *s)
{
    /* splitmix64: deterministic from cfg.seed */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void r_reset_rand_timeout(raft_node *r)
{
    /* §5.2: randomized in [T, 2T). */
    r->rand_timeout = r->election_tick + (uint32_t)(r_rng_next(&r->rng) % r->election_tick);
}

uint32_t r_quorum(raft_node *r)
{
    return tr_quorum(r);
}

progress *r_progress(raft_node *r, uint64_t id)
{
    for (uint32_t i = 0; i < r->npr; i++)
        if (r->prs[i].id == id) return &r->prs[i];
    return NULL;
}

static bool r_is_after_persist(int type)
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
int r_send(raft_node *r, raft_msg *m)
{
    m->from = r->id;
    if (m->term == 0 && m->type != RAFT_MSG_READ_INDEX && m->type != RAFT_MSG_TRANSFER_LEADER)
        m->term = r->term;
    msgvec *v = r_is_after_persist(m->type) ? &r->msgs_after : &r->msgs;
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

int r_drop(raft_node *r, const raft_msg *m, const char *why)
{
    r->dropped++;
    TRACE(r, "dropped %s from %llu term %llu idx %llu: %s", raft_msg_type_name(m->type),
          (unsigned long long)m->from, (unsigned long long)m->term, (unsigned long long)m->index,
          why);
    return 0;
}

/* ------------------------------------------------------- untrusted input */

static bool r_is_member(raft_node *r, uint64_t id)
{
    return id != 0 && r_progress(r, id) != NULL;
}

/* The snapshot records no configuration (the application keeps it) or a
 * well-formed one: the leader's at the snapshot's index, which may differ
 * from ours (raft.h "membership"). */
static bool r_voters_ok(const raft_snapshot_meta *s)
{
    if (s->n_voters > RAFT_MAX_VOTERS || s->n_learners > RAFT_MAX_LEARNERS) return false;
    if (s->n_voters == 0) return s->n_learners == 0;
    raft_conf c = {.n_voters = s->n_voters, .n_learners = s->n_learners};
    memcpy(c.voters, s->voters, sizeof(uint64_t) * s->n_voters);
    memcpy(c.learners, s->learners, sizeof(uint64_t) * s->n_learners);
    return raft_conf_check(&c) == 0;
}

/* Why m cannot be true whatever the term says, or NULL. Checked before the
 * message can change anything (raft.h, raft_step). */
static const char *r_impossible(raft_node *r, const raft_msg *m)
{
    bool local = m->type == RAFT_MSG_READ_INDEX || m->type == RAFT_MSG_TRANSFER_LEADER;
    if (local ? m->term != 0 : m->term > RAFT_TERM_MAX) return "term";
    if (m->log_term > RAFT_TERM_MAX || m->index > RAFT_INDEX_MAX || m->commit > RAFT_INDEX_MAX ||
        m->reject_hint > RAFT_INDEX_MAX)
        return "index or term beyond any log";
    if (m->type != RAFT_MSG_APP && (m->n_entries || m->entries)) return "entries outside an append";
    if ((m->type == RAFT_MSG_SNAP) != (m->snap != NULL)) return "snapshot metadata";
    bool future = !local && m->term > r->term;
    switch (m->type) {
    case RAFT_MSG_APP:
        if (m->n_entries && !m->entries) return "entries";
        if (m->log_term > m->term || (m->index == 0 && m->log_term != 0))
            return "previous entry of a later term";
        for (uint32_t i = 0; i < m->n_entries; i++) {
            const raft_entry *e = &m->entries[i];
            uint64_t pt = i ? m->entries[i - 1].term : m->log_term;
            if (e->index != m->index + 1 + i) return "entries not contiguous";
            if (e->term == 0 || e->term < pt || e->term > m->term) return "entry terms";
            if (e->type > RAFT_ENTRY_CONF || (e->len && !e->data)) return "entry";
        }
        return NULL;
    case RAFT_MSG_APP_RESP:
        if (m->reject && m->reject_hint > m->index) return "hint past the rejected index";
        /* only the bare "your term is over" answer comes from a later term */
        if (future && (m->reject || m->index || m->reject_hint || m->log_term || m->commit))
            return "response from a later term";
        return NULL;
    case RAFT_MSG_VOTE:
    case RAFT_MSG_PREVOTE:
        if (m->log_term > m->term || (m->index == 0 && m->log_term != 0))
            return "last entry of a later term";
        if (m->ctx > 1) return "campaign kind"; /* 1: a transfer's (raft.h) */
        return NULL;
    case RAFT_MSG_VOTE_RESP:
        /* a grant carries the term of our request; a refusal the voter's */
        if (future && !m->reject) return "grant from a later term";
        return NULL;
    case RAFT_MSG_PREVOTE_RESP:
        if (!m->reject && m->term > r->term + 1) return "grant from a later term";
        return NULL;
    case RAFT_MSG_HEARTBEAT_RESP:
    case RAFT_MSG_TIMEOUT_NOW:
        if (future) return "from a later term";
        return NULL;
    case RAFT_MSG_SNAP: {
        const raft_snapshot_meta *sm = m->snap;
        if (sm->index != m->index || sm->term != m->log_term) return "snapshot disagrees";
        if (sm->index == 0 || sm->term == 0 || sm->term > m->term) return "snapshot term";
        if (sm->ref_len > RAFT_SNAP_REF_MAX || !r_voters_ok(sm)) return "snapshot voters";
        return NULL;
    }
    case RAFT_MSG_TRANSFER_LEADER:
        /* (a target we do not know may be one a change we have not applied
         * yet added: ignored by r_handle_transfer, not impossible) */
        if (m->ctx == 0) return "transfer to a non-member";
        return NULL;
    case RAFT_MSG_READ_INDEX_RESP:
        if (m->reject) return "rejected read";
        return NULL;
    default:
        return NULL;
    }
}

/* Why m, of our term, cannot be true given our role and log, or NULL. */
static const char *r_impossible_in_term(raft_node *r, const raft_msg *m)
{
    switch (m->type) {
    case RAFT_MSG_HEARTBEAT:
    case RAFT_MSG_APP:
    case RAFT_MSG_SNAP:
    case RAFT_MSG_TIMEOUT_NOW:
    case RAFT_MSG_READ_INDEX_RESP:
        /* Election safety (Figure 3): one leader per term. */
        if (r->role == RAFT_LEADER) return "a second leader of our term";
        if (r->role == RAFT_FOLLOWER && r->lead && r->lead != m->from)
            return "a second leader of our term";
        return NULL;
    case RAFT_MSG_APP_RESP:
    case RAFT_MSG_HEARTBEAT_RESP:
        /* (the bare APP_RESP telling a stale leader its term is over can
         * arrive after we adopted that term) */
        if (r->role == RAFT_CANDIDATE && (m->type == RAFT_MSG_HEARTBEAT_RESP || m->index ||
                                          m->reject || m->reject_hint || m->log_term))
            return "response to a leader we never were";
        if (r->role != RAFT_LEADER) return NULL; /* we led this term and stepped down */
        if (m->type == RAFT_MSG_HEARTBEAT_RESP)
            return m->ctx >= r->round ? "heartbeat round not yet sent" : NULL;
#if !defined(RAFT_TEST_BUG) || RAFT_TEST_BUG != 4 /* 4: the defect of issue 14 */
        /* Our log only grows while we lead: nothing we sent lies past it. */
        if (m->index > log_last_index(&r->log)) return "index past our log";
#endif
        if (m->reject && m->log_term > r->term) return "hint of a later term";
        return NULL;
    default:
        return NULL;
    }
}

/* ----------------------------------------------------------------- ticks */

int r_tick(raft_node *r)
{
    if (r->role != RAFT_LEADER) {
        r->election_elapsed++;
        if (r->election_elapsed >= r->rand_timeout) {
            r->election_elapsed = 0;
            /* A node that may not campaign (a learner, a non-member) heard
             * from no leader for an election timeout: it forgets it, so the
             * lease no longer makes it ignore vote requests (it may be a
             * voter of a configuration it has not applied yet). */
            if (!tr_is_voter(r, r->id)) r->lead = 0;
            return r_hup(r, false);
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
            /* Thesis §6.2: step down without contact from a quorum of
             * voters (learners do not count, raft.h "membership"). */
            uint32_t act = 0;
            for (uint32_t i = 0; i < r->npr; i++) {
                if (!r->prs[i].learner && (i == r->self || r->prs[i].recent_active)) act++;
                if (i != r->self) r->prs[i].recent_active = false;
            }
            if (act < r_quorum(r)) {
                TRACE(r, "check quorum failed: stepping down");
                r_become_follower(r, r->term, 0);
                return 0;
            }
        }
        /* Thesis §3.10: abandon a transfer that took an election timeout. */
        if (r->transferee) r_abort_transfer(r);
    }
    if (r->heartbeat_elapsed >= r->heartbeat_tick) {
        r->heartbeat_elapsed = 0;
        return r_bcast_heartbeat(r);
    }
    return 0;
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
                rc = r_send_appends(r, p, true);
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
                pr_infl_free_le(r, p, m->index);
            }
            if (r_maybe_commit(r)) {
                /* sent at flush, batched with the commit */
            } else if (was_paused) {
                rc = r_send_appends(r, p, false);
            }
            if (!rc && p->state == RAFT_PR_REPLICATE) rc = r_send_appends(r, p, false);
            if (!rc && m->from == r->transferee && p->match == log_last_index(&r->log)) {
                raft_msg t = {.type = RAFT_MSG_TIMEOUT_NOW, .to = m->from};
                rc = r_send(r, &t);
            }
        }
        return rc;
    }
    case RAFT_MSG_HEARTBEAT_RESP:
        p->recent_active = true;
        p->probe_sent = false;
        /* etcd: a full window lets one more through, so an append lost on
         * the way is found by the rejection the next one provokes. */
        if (p->state == RAFT_PR_REPLICATE && pr_infl_full(r, p)) pr_infl_free_first(r, p);
        if (m->ctx + 1 > p->read_ack) {
            p->read_ack = m->ctx + 1;
            rc = r_advance_reads(r);
        }
        /* A follower behind us gets an append even if empty: in replicate state
         * a lost append is only noticed through the rejection it provokes. */
        if (!rc && p->match < log_last_index(&r->log)) rc = r_send_appends(r, p, true);
        return rc;
    case RAFT_MSG_TRANSFER_LEADER: {
        int trc = r_handle_transfer(r, m->ctx);
        return trc == RAFT_EUNKNOWNPEER || trc == RAFT_ELEARNER ? 0 : r->err;
    }
    case RAFT_MSG_READ_INDEX:
        return r_handle_read(r, m->ctx, m->from);
    default:
        return 0;
    }
}

static int step_candidate(raft_node *r, const raft_msg *m)
{
    int want = r->role == RAFT_PRECANDIDATE ? RAFT_MSG_PREVOTE_RESP : RAFT_MSG_VOTE_RESP;
    switch (m->type) {
    case RAFT_MSG_APP:
        r_become_follower(r, m->term, m->from);
        return r_handle_append(r, m);
    case RAFT_MSG_HEARTBEAT:
        r_become_follower(r, m->term, m->from);
        return r_handle_heartbeat(r, m);
    case RAFT_MSG_SNAP:
        r_become_follower(r, m->term, m->from);
        return r_handle_snapshot(r, m);
    case RAFT_MSG_VOTE_RESP:
    case RAFT_MSG_PREVOTE_RESP: {
        if (m->type != want) return 0;
        progress *p = r_progress(r, m->from);
        if (p->vote == 0) p->vote = m->reject ? -1 : 1;
        int lost;
        if (r_poll_won(r, &lost)) {
            if (r->role == RAFT_PRECANDIDATE) return r_campaign_as(r, false, false);
            int rc = r_become_leader(r);
            return rc;
        }
        if (lost) r_become_follower(r, r->term, 0);
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
        return r_handle_append(r, m);
    case RAFT_MSG_HEARTBEAT:
        r->election_elapsed = 0;
        r->lead = m->from;
        return r_handle_heartbeat(r, m);
    case RAFT_MSG_SNAP:
        r->election_elapsed = 0;
        r->lead = m->from;
        return r_handle_snapshot(r, m);
    case RAFT_MSG_TRANSFER_LEADER:
        if (!r->lead) return 0;
        {
            raft_msg f = {.type = RAFT_MSG_TRANSFER_LEADER, .to = r->lead, .ctx = m->ctx};
            return r_send(r, &f);
        }
    case RAFT_MSG_TIMEOUT_NOW:
        /* Thesis §3.10: start an election at once, skipping PreVote. */
        return r_hup(r, true);
    case RAFT_MSG_READ_INDEX_RESP:
        if (!m->reject) r_add_read_state(r, m->index, m->ctx);
        return r->err;
    default:
        return 0;
    }
}

int r_step(raft_node *r, const raft_msg *m)
{
    if (m->type < 1 || m->type > RAFT_MSG_TYPE_MAX) return r_drop(r, m, "type");
    if (m->to != r->id) return r_drop(r, m, "not for us");
    if (m->from == 0 || m->from == r->id) return r_drop(r, m, "not from a member");
    /* From outside our configuration we take a leader's messages and vote
     * requests: a member that lags behind a change must follow the leader
     * it does not know yet, and may have to vote for a voter added by a
     * change it has not applied, or no quorum may ever form. Responses and
     * forwarded requests need a member's progress: dropped. A node outside
     * its own configuration (new, or removed) takes everything: it is a
     * follower that never campaigns. (raft.h "membership") */
    bool stranger = !r_is_member(r, m->from);
    if (stranger && r->self != UINT32_MAX) {
        bool ok = m->type == RAFT_MSG_APP || m->type == RAFT_MSG_HEARTBEAT ||
                  m->type == RAFT_MSG_SNAP || m->type == RAFT_MSG_TIMEOUT_NOW ||
                  m->type == RAFT_MSG_READ_INDEX_RESP || m->type == RAFT_MSG_VOTE ||
                  m->type == RAFT_MSG_PREVOTE;
        if (!ok) return r_drop(r, m, "not from a member");
    }
    const char *why = r_impossible(r, m);
    if (why) return r_drop(r, m, why);
    bool vote_req = m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_PREVOTE;
    bool local = m->type == RAFT_MSG_READ_INDEX || m->type == RAFT_MSG_TRANSFER_LEADER;
    if (local) {
        /* forwarded requests carry no term */
    } else if (m->term > r->term) {
        if (vote_req) {
            /* Thesis §4.2.3 / §6.2: while we hear from a leader, ignore
             * vote requests (unless the leader itself asked, TimeoutNow). */
            bool force = m->ctx == 1;
            /* A stranger (a removed node that does not know it) is held
             * to the lease even without CheckQuorum: thesis §4.2.3's rule
             * against removed servers disrupting the cluster. */
            bool in_lease = (r->check_quorum || stranger) && r->lead != 0 &&
                            r->election_elapsed < r->election_tick;
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
            r_become_follower(r, m->term, from_leader ? m->from : 0);
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
            return r_send(r, &resp);
        }
        if (m->type == RAFT_MSG_PREVOTE) {
            raft_msg resp = {.type = RAFT_MSG_PREVOTE_RESP, .to = m->from, .reject = 1};
            return r_send(r, &resp);
        }
        return 0; /* stale: ignored */
    }

    if (!local && m->term == r->term && (why = r_impossible_in_term(r, m)))
        return r_drop(r, m, why);

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
        return r_send(r, &resp);
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
    r->async_durable = c->async_durable != 0;
    r->max_inflight = c->max_inflight ? c->max_inflight : 256;
    r->max_inflight_bytes = c->max_inflight_bytes;
    r->max_mem_log_bytes = c->max_mem_log_bytes;
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

    /* The configuration in force (raft.h, raft_config.conf): the driver's,
     * the snapshot's, or the bootstrap peers. */
    raft_conf conf;
    memset(&conf, 0, sizeof conf);
    uint64_t conf_index = 0;
    if (c->conf) {
        conf = *c->conf;
        conf_index = c->conf_index;
    } else if (snap.n_voters) {
        if (snap.n_voters > RAFT_MAX_VOTERS || snap.n_learners > RAFT_MAX_LEARNERS)
            return RAFT_EINVAL;
        conf.n_voters = snap.n_voters;
        conf.n_learners = snap.n_learners;
        memcpy(conf.voters, snap.voters, sizeof(uint64_t) * snap.n_voters);
        memcpy(conf.learners, snap.learners, sizeof(uint64_t) * snap.n_learners);
        conf_index = snap.index;
    } else {
        if (c->n_peers > RAFT_MAX_VOTERS || c->n_learners > RAFT_MAX_LEARNERS ||
            (c->n_peers && !c->peers) || (c->n_learners && !c->learners))
            return RAFT_EINVAL;
        conf.n_voters = c->n_peers;
        conf.n_learners = c->n_learners;
        if (c->n_peers) memcpy(conf.voters, c->peers, sizeof(uint64_t) * c->n_peers);
        if (c->n_learners) memcpy(conf.learners, c->learners, sizeof(uint64_t) * c->n_learners);
    }
    if (raft_conf_check(&conf)) return RAFT_EINVAL;

    rc = log_init(&r->log, &r->alc, c->storage, hs.commit, c->applied);
    if (rc) return rc;
    if (conf_index > r->log.applied) return RAFT_EINVAL; /* a configuration from the future */
    rc = tr_set_conf(r, &conf, conf_index);
    if (rc) return rc;
    r->conf_reported = conf_index + 1; /* the driver gave it: nothing to report */
    r->term = hs.term;
    r->vote = hs.vote;
    r_become_follower(r, hs.term, 0);
    r->vote = hs.vote;
    r->prev_hs = (raft_hard_state){.term = r->term, .vote = r->vote, .commit = r->log.committed};
    r->prev_lead = 0;
    r->prev_role = RAFT_FOLLOWER;
    return 0;
}

void r_destroy(raft_node *r)
{
    tr_free(r);
    log_destroy(&r->log);
    ra_free(&r->alc, r->reads);
    ra_free(&r->alc, r->pending_reads);
    ra_free(&r->alc, r->rstates);
    ra_free(&r->alc, r->msgs.v);
    ra_free(&r->alc, r->msgs_after.v);
    ra_free(&r->alc, r->scratch.v);
    arena_destroy(&r->ar);
}
