/* election.c -- roles and elections (paper §5.2, thesis §3.4), PreVote
 * (thesis §9.6) and leadership transfer (thesis §3.10). */
#include "raft/raft_int.h"

/* ---------------------------------------------------------- role changes */

void r_abort_transfer(raft_node *r)
{
    r->transferee = 0;
}

static void r_reset(raft_node *r, uint64_t term)
{
    if (r->term != term) {
        r->term = term;
        r->vote = 0;
    }
    r->lead = 0;
    r->election_elapsed = 0;
    r->heartbeat_elapsed = 0;
    r_reset_rand_timeout(r);
    r_abort_transfer(r);
    r->campaign_transfer = false;
    r->leaving = false;
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
        pr_infl_reset(p);
    }
}

void r_become_follower(raft_node *r, uint64_t term, uint64_t lead)
{
    r_reset(r, term);
    r->lead = lead;
    r->role = RAFT_FOLLOWER;
    TRACE(r, "became follower at term %llu lead %llu", (unsigned long long)term,
          (unsigned long long)lead);
}

static void r_become_candidate(raft_node *r)
{
    r_reset(r, r->term + 1);
    r->vote = r->id;
    r->role = RAFT_CANDIDATE;
    TRACE(r, "became candidate at term %llu", (unsigned long long)r->term);
}

static void r_become_precandidate(raft_node *r)
{
    /* PreVote (thesis §9.6): no term change, no vote; the timer restarts. */
    r->role = RAFT_PRECANDIDATE;
    r->lead = 0;
    r->election_elapsed = 0;
    r_reset_rand_timeout(r);
    for (uint32_t i = 0; i < r->npr; i++)
        r->prs[i].vote = 0;
    TRACE(r, "became pre-candidate at term %llu", (unsigned long long)r->term);
}

int r_become_leader(raft_node *r)
{
    r_reset(r, r->term);
    r->lead = r->id;
    r->role = RAFT_LEADER;
    progress *self = &r->prs[r->self];
    /* The leader counts only what is durable as its own match (§10.2.1). */
    self->match = r->log.durable;
    pr_become_replicate(self);
    self->next = log_last_index(&r->log) + 1;
    self->recent_active = true;
    /* raft.h "membership": any entry of the uncommitted tail may be a
     * change; none is proposed until it is applied. */
    r->pending_conf = log_last_index(&r->log);
    r->leaving = r_tail_removes_self(r);
    if (r->err) return r->err;
    /* Thesis §6.4: a new leader commits an entry of its term at once. */
    int rc = log_append_owned(&r->log, r->term, RAFT_ENTRY_EMPTY, NULL, 0);
    if (rc) return r->err = rc;
    self->next = log_last_index(&r->log) + 1;
    r->need_bcast = true;
    TRACE(r, "became leader at term %llu", (unsigned long long)r->term);
    return 0;
}

bool r_committed_in_term(raft_node *r)
{
    return log_term_or0(&r->log, r->log.committed) == r->term;
}

/* ------------------------------------------------------------- elections */

bool r_poll_won(raft_node *r, int *lost)
{
    uint32_t yes, no;
    tr_tally(r, &yes, &no); /* voters only */
    *lost = no >= r_quorum(r);
    return yes >= r_quorum(r);
}

int r_campaign_as(raft_node *r, bool pre, bool transfer)
{
    uint64_t term;
    int type;
    if (pre) {
        r_become_precandidate(r);
        term = r->term + 1; /* the term it would use, not adopted */
        type = RAFT_MSG_PREVOTE;
    } else {
        r_become_candidate(r);
        r->campaign_transfer = transfer;
        term = r->term;
        type = RAFT_MSG_VOTE;
    }
    r->prs[r->self].vote = 1;
    int lost;
    if (r_poll_won(r, &lost)) {
        /* a one-member cluster */
        if (pre) return r_campaign_as(r, false, transfer);
        return r_become_leader(r);
    }
    uint64_t li = log_last_index(&r->log), lt = log_last_term(&r->log);
    for (uint32_t i = 0; i < r->npr; i++) {
        if (i == r->self || r->prs[i].learner) continue; /* learners do not vote */
        raft_msg m = {.type = (uint8_t)type,
                      .to = r->prs[i].id,
                      .term = term,
                      .index = li,
                      .log_term = lt,
                      .ctx = transfer ? 1 : 0};
        int rc = r_send(r, &m);
        if (rc) return rc;
    }
    return 0;
}

int r_hup(raft_node *r, bool transfer)
{
    if (r->role == RAFT_LEADER) return 0;
    if (r->term >= RAFT_TERM_MAX) return 0; /* raft.h: terms stop there */
    /* raft.h "membership": only voters campaign (a learner, a removed node
     * or one waiting to be added never raises a term), and not while a
     * committed change is unapplied (etcd does likewise). */
    if (!tr_is_voter(r, r->id)) return 0;
    bool unapplied = r_conf_unapplied(r);
    if (r->err) return r->err; /* reading the entries ran out of memory */
    if (unapplied) {
        TRACE(r, "not campaigning: a committed conf change is not applied yet");
        return 0;
    }
    if (r->prevote && !transfer) return r_campaign_as(r, true, false);
    return r_campaign_as(r, false, transfer);
}

/* ------------------------------------------------------------- transfer */

int r_handle_transfer(raft_node *r, uint64_t target)
{
    progress *p = r_progress(r, target);
    if (!p) return RAFT_EUNKNOWNPEER;
    if (p->learner) return RAFT_ELEARNER; /* it could not be elected */
    if (r->transferee == target) return 0;
    r_abort_transfer(r);
    if (target == r->id) return 0;
    r->election_elapsed = 0; /* the transfer must finish within an election timeout */
    r->transferee = target;
    TRACE(r, "transferring leadership to %llu", (unsigned long long)target);
    if (p->match == log_last_index(&r->log)) {
        raft_msg m = {.type = RAFT_MSG_TIMEOUT_NOW, .to = target};
        return r_send(r, &m);
    }
    return r_send_appends(r, p, true);
}

int r_transfer(raft_node *r, uint64_t id)
{
    progress *p = r_progress(r, id);
    if (!p) return RAFT_EUNKNOWNPEER;
    if (p->learner) return RAFT_ELEARNER;
    if (r->role == RAFT_LEADER) return r_handle_transfer(r, id);
    if (!r->lead) return RAFT_EDROPPED;
    raft_msg m = {.type = RAFT_MSG_TRANSFER_LEADER, .to = r->lead, .ctx = id};
    return r_send(r, &m);
}

int r_campaign(raft_node *r)
{
    return r_hup(r, false);
}
