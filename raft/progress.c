/* progress.c -- a leader's view of each voter and flow control: probe sends
 * one append and waits, replicate pipelines up to max_inflight appends and
 * max_inflight_bytes of entries, snapshot waits for the snapshot (etcd
 * raft's Progress and Inflights with MaxInflightBytes; thesis §3.5
 * nextIndex/matchIndex).
 *
 * The byte window bounds what a leader has sent a follower and not heard
 * back about, so a slow follower's backlog lives in the leader's log (read
 * again when the window opens), not in send buffers. An append is cut to
 * the room left in the window; it always carries at least one entry, so the
 * bytes in flight stay below max_inflight_bytes plus one entry. */
#include "raft/raft_int.h"

/* ---------------------------------------------------------------- progress */

void pr_infl_reset(progress *p)
{
    p->infl_start = p->infl_count = 0;
    p->infl_bytes = 0;
}

bool pr_infl_full(raft_node *r, const progress *p)
{
    return p->infl_count >= r->max_inflight ||
           (r->max_inflight_bytes && p->infl_bytes >= r->max_inflight_bytes);
}

uint64_t pr_append_room(raft_node *r, const progress *p)
{
    if (p->state != RAFT_PR_REPLICATE || !r->max_inflight_bytes) return r->max_msg_bytes;
    uint64_t left =
        p->infl_bytes < r->max_inflight_bytes ? r->max_inflight_bytes - p->infl_bytes : 0;
    return left < r->max_msg_bytes ? left : r->max_msg_bytes;
}

bool pr_paused(raft_node *r, progress *p)
{
    switch (p->state) {
    case RAFT_PR_PROBE:
        return p->probe_sent;
    case RAFT_PR_REPLICATE:
        return pr_infl_full(r, p);
    default:
        return true;
    }
}

void pr_become_probe(progress *p)
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
    pr_infl_reset(p);
}

void pr_become_replicate(progress *p)
{
    p->state = RAFT_PR_REPLICATE;
    p->probe_sent = false;
    p->next = p->match + 1;
    pr_infl_reset(p);
}

void pr_become_snapshot(progress *p, uint64_t idx)
{
    p->state = RAFT_PR_SNAPSHOT;
    p->pending_snap = idx;
    p->snap_wait = 0;
    p->probe_sent = false;
    pr_infl_reset(p);
}

bool pr_maybe_update(progress *p, uint64_t n)
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
bool pr_maybe_decr(progress *p, uint64_t rejected, uint64_t hint)
{
    if (p->state == RAFT_PR_REPLICATE) {
        if (rejected <= p->match) return false; /* stale */
        p->next = p->match + 1;
        return true;
    }
    /* Stale: not the probe in flight, or at or below what the follower
     * already matched (its log there cannot change within our term). A
     * resend there would be rejected again, at once, forever. */
    if (p->next - 1 != rejected || rejected <= p->match) return false;
    uint64_t nx = rejected < hint + 1 ? rejected : hint + 1;
    if (nx < p->match + 1) nx = p->match + 1;
    if (nx < 1) nx = 1;
    p->next = nx;
    p->probe_sent = false;
    return true;
}

void pr_infl_add(raft_node *r, progress *p, uint64_t last, uint64_t bytes)
{
    uint32_t cap = r->max_inflight;
    p->infl[(p->infl_start + p->infl_count) % cap] = (inflight){.last = last, .bytes = bytes};
    p->infl_count++;
    p->infl_bytes += bytes;
}

void pr_infl_free_first(raft_node *r, progress *p)
{
    if (!p->infl_count) return;
    p->infl_bytes -= p->infl[p->infl_start].bytes;
    p->infl_start = (p->infl_start + 1) % r->max_inflight;
    p->infl_count--;
}

void pr_infl_free_le(raft_node *r, progress *p, uint64_t to)
{
    while (p->infl_count && p->infl[p->infl_start].last <= to)
        pr_infl_free_first(r, p);
}
