/* fuzz_step.c -- libFuzzer target for raft's step path, not just the codec.
 *
 * The first 4 bytes build node 1 of a 3-node cluster in some state: a log
 * of up to 15 entries with non-decreasing terms (some of it compacted into
 * a snapshot), a commit index, PreVote/CheckQuorum, and a role (follower,
 * pre-candidate, candidate, or leader elected by granted votes). The rest is
 * a program: step a message (every field drawn from the input, near the
 * node's own term/index/commit, at the limits, or raw), tick, propose, read,
 * transfer, report a peer, compact. After each operation the Ready is handled
 * as the driver does (persist the snapshot and entries into a memstore, which
 * refuses entries that do not attach; apply committed entries; advance).
 * It aborts when a raft_ call returns an error no input may cause, when a
 * Ready is malformed (entries out of order, appends whose entries do not
 * follow their previous index or are not those of the log), or when the
 * node's own invariants break (commit <= last index, applied <= commit,
 * term and commit never go back). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "raft/raft.h"
#include "tests/raft/memstore.h"

typedef struct in {
    const uint8_t *p;
    size_t n;
} in;

static uint8_t byte(in *x)
{
    if (!x->n) return 0;
    x->n--;
    return *x->p++;
}

static uint64_t raw64(in *x)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | byte(x);
    return v;
}

/* A field value: near base, small, raw, or at an edge. */
static uint64_t field(in *x, uint64_t base, uint64_t round)
{
    uint8_t b = byte(x), lo = b & 63;
    switch (b >> 6) {
    case 0:
        return base + lo - 32;
    case 1:
        return lo;
    case 2:
        return raw64(x);
    default: {
        const uint64_t edge[] = {0,     UINT64_MAX, RAFT_TERM_MAX, RAFT_TERM_MAX + 1,
                                 round, round + 1,  base + 1,      UINT64_MAX / 2};
        return edge[lo % 8];
    }
    }
}

static const uint64_t ids[3] = {1, 2, 3};

typedef struct fz {
    memstore st;
    raft_node *r;
    uint64_t applied, term, commit;
    uint64_t rounds; /* heartbeats seen, for ctx values */
} fz;

static void check_status(fz *f)
{
    raft_status s;
    raft_get_status(f->r, &s);
    if (s.commit > s.last_index || s.applied > s.commit || s.first_index > s.last_index + 1)
        abort();
    if (s.term < f->term || s.commit < f->commit) abort();
    f->term = s.term;
    f->commit = s.commit;
}

static void check_msgs(fz *f, const raft_msg *ms, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        const raft_msg *m = &ms[k];
        /* to a member of the cluster or of its own configuration (a
         * snapshot or a change may set it); a response or a forwarded
         * request may go to whoever asked or leads (raft.h "membership") */
        raft_conf k;
        raft_get_conf(f->r, &k, NULL);
        bool answer = m->type == RAFT_MSG_VOTE_RESP || m->type == RAFT_MSG_PREVOTE_RESP ||
                      m->type == RAFT_MSG_APP_RESP || m->type == RAFT_MSG_HEARTBEAT_RESP ||
                      m->type == RAFT_MSG_READ_INDEX || m->type == RAFT_MSG_TRANSFER_LEADER;
        bool known = m->to == 2 || m->to == 3 || raft_conf_role(&k, m->to) != 0;
        if (m->from != 1 || m->to == 0 || m->to == 1 || (!known && !answer)) abort();
        if (m->type == RAFT_MSG_HEARTBEAT) f->rounds = m->ctx + 1;
        for (uint32_t e = 0; e < m->n_entries; e++) {
            const raft_entry *x = &m->entries[e];
            if (x->index != m->index + 1 + e || x->term > m->term) abort();
            /* what the leader read for the message is what its log holds */
            uint64_t t;
            if (raft_log_term(f->r, x->index, &t) == 0 && t != x->term) abort();
        }
    }
}

/* Handles every Ready as the driver does. */
static void drive(fz *f)
{
    for (int guard = 0; guard < 64 && raft_has_ready(f->r); guard++) {
        raft_ready_batch rd;
        if (raft_ready(f->r, &rd)) abort();
        check_msgs(f, rd.msgs, rd.n_msgs);
        check_msgs(f, rd.msgs_after_persist, rd.n_msgs_after_persist);
        if (rd.snapshot) {
            memstore_apply_snapshot(&f->st, rd.snapshot);
            f->applied = rd.snapshot->index;
        }
        for (size_t k = 1; k < rd.n_entries; k++)
            if (rd.entries[k].index != rd.entries[0].index + k) abort();
        if (rd.n_entries && memstore_append(&f->st, rd.entries, rd.n_entries)) abort();
        if (rd.hs_changed) memstore_set_hs(&f->st, &rd.hs);
        for (size_t k = 0; k < rd.n_committed; k++) {
            if (rd.committed[k].index != f->applied + 1) abort();
            f->applied++;
        }
        if (raft_advance(f->r, &rd)) abort();
        check_status(f);
    }
}

static void step(fz *f, in *x)
{
    raft_status s;
    raft_get_status(f->r, &s);
    raft_msg m;
    memset(&m, 0, sizeof m);
    raft_entry ents[8];
    uint8_t data[8][8];
    raft_snapshot_meta sm;
    memset(&sm, 0, sizeof sm);
    uint8_t h = byte(x), fl = byte(x);
    m.type = (uint8_t)(1 + h % RAFT_MSG_TYPE_MAX);
    if ((h >> 4) == 15) m.type = h; /* sometimes no such type */
    m.reject = fl & 1;
    m.from = (fl >> 1) % 4 == 3 ? field(x, 2, 0) : 2 + ((fl >> 1) & 1);
    m.to = (fl >> 3) % 8 == 7 ? field(x, 1, 0) : 1;
    m.term = field(x, s.term, 0);
    m.log_term = field(x, s.term, 0);
    m.index = field(x, s.last_index, 0);
    m.commit = field(x, s.commit, 0);
    m.reject_hint = field(x, m.index, 0);
    m.ctx = field(x, f->rounds, f->rounds);
    m.n_entries = (fl >> 6) ? byte(x) % 9 : 0;
    for (uint32_t k = 0; k < m.n_entries; k++) {
        uint8_t e = byte(x);
        ents[k].index = (e & 1) ? field(x, m.index + 1 + k, 0) : m.index + 1 + k;
        ents[k].term = (e & 2) ? field(x, m.term, 0) : m.term;
        ents[k].type = (uint8_t)((e >> 2) % 3);
        ents[k].len = (e >> 4) % 9;
        for (uint32_t d = 0; d < ents[k].len; d++)
            data[k][d] = byte(x);
        ents[k].data = ents[k].len ? data[k] : NULL;
    }
    m.entries = m.n_entries ? ents : NULL;
    if (m.type == RAFT_MSG_SNAP || (h & 0x80)) {
        uint8_t b = byte(x);
        sm.index = (b & 1) ? field(x, m.index, 0) : m.index;
        sm.term = (b & 2) ? field(x, m.log_term, 0) : m.log_term;
        sm.n_voters = (b >> 2) % 5;
        for (uint32_t v = 0; v < sm.n_voters; v++)
            sm.voters[v] = byte(x) % 5;
        sm.ref_len = byte(x) % (RAFT_SNAP_REF_MAX + 1);
        m.snap = &sm;
    }
    if (raft_step(f->r, &m)) abort();
}

static int refusal(int rc)
{
    return rc == 0 || rc == RAFT_ENOTLEADER || rc == RAFT_ETRANSFER || rc == RAFT_EDROPPED ||
           rc == RAFT_EUNCOMMITTED || rc == RAFT_EUNKNOWNPEER || rc == RAFT_ECONFPENDING ||
           rc == RAFT_ENOTREADY || rc == RAFT_ECONF || rc == RAFT_ELEARNER;
}

/* Grants from node 2 until node 1 leads (or gives up). */
static void elect(fz *f)
{
    for (int k = 0; k < 3; k++) {
        raft_status s;
        raft_get_status(f->r, &s);
        if (s.role == RAFT_LEADER) return;
        raft_msg g = {.from = 2, .to = 1};
        if (s.role == RAFT_PRECANDIDATE) {
            g.type = RAFT_MSG_PREVOTE_RESP;
            g.term = s.term + 1;
        } else if (s.role == RAFT_CANDIDATE) {
            g.type = RAFT_MSG_VOTE_RESP;
            g.term = s.term;
        } else {
            return;
        }
        if (raft_step(f->r, &g)) abort();
        drive(f);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    in x = {data, size};
    uint8_t shape = byte(&x), nlog = byte(&x) % 16, terms = byte(&x), flags = byte(&x);
    fz f;
    memset(&f, 0, sizeof f);
    memstore_init(&f.st, ids, 3);
    uint64_t t = 1;
    for (uint64_t i = 1; i <= nlog; i++) {
        if ((terms >> (i % 8)) & 1) t++;
        raft_entry e = {.index = i, .term = t, .len = 1, .data = (const uint8_t *)"e"};
        if (memstore_append(&f.st, &e, 1)) abort();
    }
    uint64_t commit = nlog ? (shape >> 4) % (nlog + 1) : 0;
    raft_hard_state hs = {.term = t + (flags & 3), .commit = commit};
    memstore_set_hs(&f.st, &hs);
    if ((flags & 4) && commit) memstore_compact(&f.st, commit, "snap", 4);
    f.applied = f.st.snap.index;
    raft_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.id = 1;
    cfg.peers = ids;
    cfg.n_peers = 3;
    cfg.election_tick = 5;
    cfg.heartbeat_tick = 1;
    cfg.seed = shape;
    cfg.applied = f.applied;
    cfg.prevote = (flags >> 3) & 1;
    cfg.check_quorum = (flags >> 4) & 1;
    cfg.max_inflight = 1 + ((flags >> 5) & 3);
    cfg.max_inflight_bytes = (flags >> 7) ? 30 : 0; /* a byte window about one entry wide */
    cfg.max_msg_bytes = 4;
    cfg.storage = &f.st.iface;
    if (raft_new(&f.r, &cfg)) abort();
    f.term = hs.term;
    f.commit = commit > f.applied ? commit : f.applied;
    drive(&f);
    switch (shape & 3) {
    case 0:
        break; /* follower */
    case 1:
    case 2:
        if (raft_campaign(f.r)) abort(); /* (pre-)candidate */
        drive(&f);
        break;
    default:
        if (raft_campaign(f.r)) abort();
        drive(&f);
        elect(&f);
        break;
    }
    for (int ops = 0; ops < 64 && x.n; ops++) {
        uint8_t op = byte(&x);
        int rc = 0;
        uint64_t i, tm;
        switch (op % 16) {
        case 10:
            rc = raft_tick(f.r);
            break;
        case 11:
            rc = raft_propose(f.r, "p", 1, &i, &tm);
            break;
        case 12:
            rc = raft_read_index(f.r, byte(&x));
            break;
        case 13:
            if (op & 16) /* a membership change: op, node 0..6 */
                rc = raft_propose_conf_change(f.r, 1 + (op >> 5) % 3, byte(&x) % 7, "a:1", 3, &i,
                                              &tm);
            else
                rc = raft_transfer_leader(f.r, byte(&x) % 5);
            break;
        case 14:
            if (op & 16)
                rc = raft_report_unreachable(f.r, 2 + (op >> 5) % 2);
            else
                rc = raft_report_snapshot(f.r, 2 + (op >> 5) % 2, (op >> 6) & 1);
            break;
        case 15:
            if (f.applied > f.st.snap.index && f.applied <= memstore_last(&f.st)) {
                raft_conf k; /* no Ready is out: the configuration at applied */
                raft_get_conf(f.r, &k, NULL);
                memstore_compact_conf(&f.st, f.applied, "snap", 4, &k);
            }
            break;
        default:
            step(&f, &x);
            break;
        }
        if (!refusal(rc)) abort();
        drive(&f);
        check_status(&f);
    }
    raft_free(f.r);
    memstore_free(&f.st);
    return 0;
}
