/* replication.c -- log replication and commitment (paper §5.3, §5.4,
 * Figure 2 AppendEntries), heartbeats, proposals and snapshots (§7). */
#include "raft/raft_int.h"

/* ------------------------------------------------------------- sending */

static int r_send_snapshot(raft_node *r, progress *p)
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
    return r_send(r, &m);
}

/* Sends one append to p if flow control allows; *sent tells whether it did. */
static int r_send_append(raft_node *r, progress *p, bool send_if_empty, bool *sent)
{
    *sent = false;
    if (pr_paused(r, p)) return 0;
    uint64_t prev = p->next - 1, prev_term;
    int rc = log_term(&r->log, prev, &prev_term);
    entvec *ev = &r->scratch;
    ev->n = 0;
    if (!rc) {
        uint64_t last = log_last_index(&r->log);
        rc = log_slice(&r->log, p->next, last + 1, pr_append_room(r, p), &r->ar, ev);
    }
    if (rc == RAFT_ECOMPACTED) {
        rc = r_send_snapshot(r, p);
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
        uint64_t bytes = 0;
        for (size_t i = 0; i < ev->n; i++) {
            es[i] = ev->v[i];
            bytes += es[i].len + RAFT_ENTRY_HDR_BYTES;
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
            pr_infl_add(r, p, lastsent, bytes);
        } else {
            p->probe_sent = true;
        }
    } else if (p->state == RAFT_PR_PROBE) {
        p->probe_sent = true;
    }
    *sent = true;
    return r_send(r, &m);
}

/* In replicate state send as many appends as the window allows. */
int r_send_appends(raft_node *r, progress *p, bool send_if_empty)
{
    bool sent;
    int rc = r_send_append(r, p, send_if_empty, &sent);
    while (!rc && sent && p->state == RAFT_PR_REPLICATE && p->next <= log_last_index(&r->log))
        rc = r_send_append(r, p, false, &sent);
    return rc;
}

static int r_bcast_append(raft_node *r)
{
    for (uint32_t i = 0; i < r->npr; i++) {
        if (i == r->self) continue;
        int rc = r_send_appends(r, &r->prs[i], true);
        if (rc) return rc;
    }
    return 0;
}

static int r_send_heartbeat(raft_node *r, progress *p, uint64_t round)
{
#if defined(RAFT_TEST_BUG) && RAFT_TEST_BUG == 3
    uint64_t c = r->log.committed; /* deliberately broken: may pass the match */
#else
    /* The follower may only use a commit it is known to have (etcd). */
    uint64_t c = p->match < r->log.committed ? p->match : r->log.committed;
#endif
    raft_msg m = {.type = RAFT_MSG_HEARTBEAT, .to = p->id, .commit = c, .ctx = round};
    return r_send(r, &m);
}

int r_bcast_heartbeat(raft_node *r)
{
    uint64_t round = r->round++;
    r->need_round = false;
    for (uint32_t i = 0; i < r->npr; i++) {
        if (i == r->self) continue;
        int rc = r_send_heartbeat(r, &r->prs[i], round);
        if (rc) return rc;
    }
    return 0;
}

/* ------------------------------------------------------------ commitment */

/* §5.3/§5.4.2: advance commit to the quorum's match if of this term. */
bool r_maybe_commit(raft_node *r)
{
    uint64_t old = r->log.committed;
    if (!log_maybe_commit(&r->log, tr_quorum_match(r), r->term)) return false;
    for (uint64_t i = old + 1; i <= r->log.committed; i++) {
        raft_entry *e = log_mem(&r->log, i);
        if (!e) continue;
        r->uncommitted = r->uncommitted > e->len ? r->uncommitted - e->len : 0;
    }
    r->need_bcast = true;
    if (r->npending && r_committed_in_term(r)) r_release_pending_reads(r);
    return true;
}

void r_on_stable(raft_node *r, uint64_t i, uint64_t t)
{
    log_stable_to(&r->log, i, t);
    if (!r->async_durable) r_on_durable(r, i, t);
}

/* Entries up to i (term t) are on disk: the leader's own match index moves
 * only here, so an entry commits only once a majority holds it on disk. */
void r_on_durable(raft_node *r, uint64_t i, uint64_t t)
{
    if (i <= r->log.durable || !log_match_term(&r->log, i, t)) return;
    if (i > r->log.stabled) i = r->log.stabled; /* never beyond what storage holds */
    r->log.durable = i;
    if (r->role == RAFT_LEADER) {
        progress *self = &r->prs[r->self];
        if (r->log.durable > self->match) {
            self->match = r->log.durable;
            r_maybe_commit(r);
        }
    }
}

/* -------------------------------------------------------------- propose */

int r_propose(raft_node *r, const void *data, uint32_t len, uint64_t *index, uint64_t *term)
{
    if (r->role != RAFT_LEADER) return RAFT_ENOTLEADER;
    /* A leader on its way out appends nothing after its removal: its log
     * must not outgrow the voters', whose votes elect its successor under
     * a configuration that may still count it (raft.h "membership"). */
    if (r->transferee || r->leaving) return RAFT_ETRANSFER;
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

int r_handle_append(raft_node *r, const raft_msg *m)
{
    raft_msg resp = {.type = RAFT_MSG_APP_RESP, .to = m->from};
    if (m->index < r->log.committed) {
        resp.index = r->log.committed;
        return r_send(r, &resp);
    }
    uint64_t last_new;
    int rc = log_maybe_append(&r->log, m->index, m->log_term, m->commit, m->entries, m->n_entries,
                              &last_new);
    if (rc < 0) return r->err = rc;
    if (rc == 2) return r_drop(r, m, "append cannot be true");
    if (rc == 1) {
        resp.index = last_new;
        return r_send(r, &resp);
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
    return r_send(r, &resp);
}

int r_handle_heartbeat(raft_node *r, const raft_msg *m)
{
    uint64_t c = m->commit, last = log_last_index(&r->log);
    log_commit_to(&r->log, c < last ? c : last);
    raft_msg resp = {.type = RAFT_MSG_HEARTBEAT_RESP, .to = m->from, .ctx = m->ctx};
    return r_send(r, &resp);
}

int r_handle_snapshot(raft_node *r, const raft_msg *m)
{
    raft_msg resp = {.type = RAFT_MSG_APP_RESP, .to = m->from};
    const raft_snapshot_meta *s = m->snap;
    if (!s || s->index <= r->log.committed) {
        /* stale snapshot: ignored (§7) */
        resp.index = r->log.committed;
        return r_send(r, &resp);
    }
    if (log_match_term(&r->log, s->index, s->term)) {
        /* We already have it: fast-forward commit only. */
        log_commit_to(&r->log, s->index);
        resp.index = r->log.committed;
        return r_send(r, &resp);
    }
    TRACE(r, "restoring snapshot at %llu term %llu", (unsigned long long)s->index,
          (unsigned long long)s->term);
    /* The snapshot's configuration takes effect when it is installed
     * (raft_ready, confchange.c). */
    log_restore(&r->log, s);
    resp.index = log_last_index(&r->log);
    return r_send(r, &resp);
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
            rc = r_bcast_append(r);
        }
        if (!rc && r->need_round) rc = r_bcast_heartbeat(r);
    }
    return rc ? rc : r->err;
}
