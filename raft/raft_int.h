/* raft_int.h -- internals shared by the files of raft/. Not a contract:
 * nothing outside raft/ includes it. */
#ifndef RAFTKV_RAFT_INT_H
#define RAFTKV_RAFT_INT_H

#include <stdbool.h>
#include <string.h>

#include "raft/raft.h"

/* ------------------------------------------------------------ allocation */

void *ra_malloc(const raft_alloc *a, size_t n);
void *ra_realloc(const raft_alloc *a, void *p, size_t n);
void ra_free(const raft_alloc *a, void *p);

/* A bump arena for everything a Ready lends out (message entries, entries
 * read from storage). Reset at raft_advance; chunks are kept for reuse, so
 * steady state allocates nothing. */
typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t cap, used;
    _Alignas(16) unsigned char mem[];
} arena_chunk;

typedef struct arena {
    const raft_alloc *al;
    arena_chunk *head; /* chunk being filled */
    arena_chunk *full; /* filled chunks */
    arena_chunk *spare;
} arena;

void *arena_alloc(arena *a, size_t n);
void arena_reset(arena *a);
void arena_destroy(arena *a);

/* Growable array of entries (scratch). */
typedef struct entvec {
    raft_entry *v;
    size_t n, cap;
} entvec;

struct raft_sink {
    const raft_alloc *al;
    arena *ar;
    entvec *vec;
    int err;
};

int entvec_push(const raft_alloc *al, entvec *v, const raft_entry *e);

/* ------------------------------------------------------------- RaftLog */

/* Memory entries log_trim lets a drained array keep room for. */
#define LOG_RETAIN_ENTRIES 4096

/* The log: storage holds durable entries [first_index, stabled]; memory
 * holds entries [mem_first, last] where everything above stabled is
 * unstable (not yet durable) and the rest is a cache of recent durable
 * entries kept until applied, or until they hold more than
 * max_mem_log_bytes (then the oldest durable ones are read back from
 * storage when applied). A snapshot received from the leader and not
 * yet installed is pending (it replaces everything at or below its index).
 * Pointers: committed <= last, applied <= committed (paper Figure 2). */
typedef struct rlog {
    const raft_alloc *al;
    raft_storage st;
    raft_entry *ents; /* memory entries: ents[0 .. n) has index mem_first + i */
    size_t n, cap;
    uint64_t mem_bytes; /* the memory entries' data, summed */
    uint64_t mem_first;
    uint64_t stabled;
    uint64_t durable; /* <= stabled: on disk (cfg.async_durable; else = stabled) */
    uint64_t committed, applied;
    bool has_pending_snap;
    raft_snapshot_meta pending_snap;
    int err; /* sticky storage error */
} rlog;

int log_init(rlog *l, const raft_alloc *al, const raft_storage *st, uint64_t commit,
             uint64_t applied);
void log_destroy(rlog *l);
uint64_t log_first_index(rlog *l);
uint64_t log_last_index(rlog *l);
/* 0 on success; RAFT_ECOMPACTED / RAFT_EUNAVAILABLE / storage errors. */
int log_term(rlog *l, uint64_t i, uint64_t *t);
uint64_t log_term_or0(rlog *l, uint64_t i);
uint64_t log_last_term(rlog *l);
bool log_match_term(rlog *l, uint64_t i, uint64_t t);
/* §5.4.1: candidate's log (last_index, last_term) at least as up to date. */
bool log_is_up_to_date(rlog *l, uint64_t last_index, uint64_t last_term);
/* Appends ents (copied) after truncating any conflicting suffix at
 * ents[0].index. Returns 0 or RAFT_ENOMEM. */
int log_append(rlog *l, const raft_entry *ents, size_t n);
/* Appends one entry whose data is moved in (data allocated with l->al). */
int log_append_owned(rlog *l, uint64_t term, uint8_t type, uint8_t *data, uint32_t len);
/* Follower side of AppendEntries (Figure 2 receiver rules 2-5). Returns 1 and
 * *last_new on a match, 0 on a mismatch, 2 when the append cannot be true
 * (entries not contiguous after prev_i, or a conflict at or below the commit
 * index: Log Matching, §5.3) and nothing changed, <0 on error. */
int log_maybe_append(rlog *l, uint64_t prev_i, uint64_t prev_t, uint64_t commit,
                     const raft_entry *ents, size_t n, uint64_t *last_new);
void log_commit_to(rlog *l, uint64_t c);
bool log_maybe_commit(rlog *l, uint64_t max_index, uint64_t term);
/* Largest index <= index whose term <= term (fast backtracking hint). */
uint64_t log_find_conflict_by_term(rlog *l, uint64_t index, uint64_t term, uint64_t *found_term);
/* Entries [lo, hi) into out (entries) with data borrowed from memory (valid
 * until the memory changes) or copied into ar from storage. max_bytes: at
 * least one entry. Returns 0 or an error (RAFT_ECOMPACTED if lo is below
 * the first index). */
int log_slice(rlog *l, uint64_t lo, uint64_t hi, uint64_t max_bytes, arena *ar, entvec *out);
/* Installs a snapshot from the leader (pending until the driver persists it). */
int log_restore(rlog *l, const raft_snapshot_meta *s);
void log_stable_to(rlog *l, uint64_t i, uint64_t t);
void log_stable_snap_to(rlog *l, uint64_t i);
void log_applied_to(rlog *l, uint64_t i);
/* Drops memory entries that are durable and applied, then durable and
 * committed ones from the oldest while the memory entries hold over
 * max_bytes (0: no bound). */
void log_trim(rlog *l, uint64_t max_bytes);
/* Memory entry at index i, or NULL. */
static inline raft_entry *log_mem(rlog *l, uint64_t i)
{
    if (l->n == 0 || i < l->mem_first || i >= l->mem_first + l->n) return NULL;
    return &l->ents[i - l->mem_first];
}

/* ------------------------------------------------------------- progress */

/* One append in flight: the last index it carries and the bytes of its
 * entries (data plus RAFT_ENTRY_HDR_BYTES each, as max_msg_bytes counts). */
typedef struct inflight {
    uint64_t last, bytes;
} inflight;

/* A leader's view of one member (thesis §3.5 nextIndex/matchIndex, plus
 * etcd's flow control: probe sends one append and waits, replicate
 * pipelines up to max_inflight appends and max_inflight_bytes, snapshot
 * waits for the snapshot). */
typedef struct progress {
    uint64_t id, match, next;
    int state;
    bool learner; /* replicated to, never counted (tracker.c) */
    bool probe_sent;
    bool recent_active;
    uint64_t pending_snap;
    uint32_t snap_wait;
    uint64_t read_ack; /* highest heartbeat round acknowledged */
    int vote;          /* 0 none, 1 granted, -1 rejected */
    inflight *infl;    /* ring of the appends in flight, oldest first */
    uint32_t infl_start, infl_count;
    uint64_t infl_bytes; /* their bytes, summed */
} progress;

/* ----------------------------------------------------------------- node */

typedef struct read_req {
    uint64_t round; /* heartbeat round that confirms it */
    uint64_t index, ctx, from;
} read_req;

typedef struct msgvec {
    raft_msg *v;
    size_t n, cap;
} msgvec;

struct raft_node {
    raft_alloc alc;
    uint64_t id, term, vote, lead;
    int role;
    rlog log;
    /* The configuration in force (tracker.c): prs holds one progress per
     * member, voters first; self is ours or UINT32_MAX when we are not a
     * member. */
    raft_conf conf;
    uint64_t conf_index;    /* where conf took effect */
    uint64_t pending_conf;  /* leader: a change at or below this may be unapplied */
    uint64_t conf_reported; /* conf_index last handed out in a Ready (+1; 0 none) */
    bool leaving;           /* leader: its log holds its own removal, not yet applied */
    progress *prs;
    uint32_t npr, self;
    uint32_t election_tick, heartbeat_tick, rand_timeout;
    uint32_t election_elapsed, heartbeat_elapsed;
    bool prevote, check_quorum, async_durable;
    bool hold_apply; /* raft_hold_apply */
    uint32_t max_inflight;
    uint64_t max_inflight_bytes; /* 0: no byte window */
    uint64_t max_mem_log_bytes;  /* 0: applied entries only leave memory */
    uint64_t max_msg_bytes, max_entry_bytes, max_uncommitted, max_committed_bytes;
    uint64_t uncommitted;
    uint64_t rng;
    uint64_t transferee;
    bool campaign_transfer; /* current candidacy came from TimeoutNow */

    /* ReadIndex (thesis §6.4) */
    uint64_t round; /* next heartbeat round number */
    bool need_round;
    read_req *reads; /* FIFO waiting for a quorum */
    size_t nreads, capreads, headreads;
    read_req *pending_reads; /* waiting for an entry of this term to commit */
    size_t npending, cappending;
    raft_read_state *rstates;
    size_t nrstates, caprstates;

    /* output */
    bool need_bcast; /* new entries or commit to send: batched until ready */
    msgvec msgs, msgs_after;
    arena ar;
    entvec scratch;

    /* ready bookkeeping */
    bool ready_out;
    uint64_t prev_lead;
    int prev_role;
    raft_hard_state prev_hs;

    raft_trace_fn trace;
    void *trace_ctx;
    uint64_t dropped; /* messages dropped as impossible (raft_status.dropped_msgs) */
    int err;          /* sticky fatal error */
};

/* The protocol, by file (internal; prefixed to stay out of libc's way). */
/* progress.c */
void pr_infl_reset(progress *p);
bool pr_paused(raft_node *r, progress *p);
void pr_become_probe(progress *p);
void pr_become_replicate(progress *p);
void pr_become_snapshot(progress *p, uint64_t idx);
bool pr_maybe_update(progress *p, uint64_t n);
bool pr_maybe_decr(progress *p, uint64_t rejected, uint64_t hint);
/* Replicate state: whether the window is full (count or bytes), and the
 * bytes the next append may carry (max_msg_bytes, or less near the byte
 * window's end: at least one entry always goes while not full). */
bool pr_infl_full(raft_node *r, const progress *p);
uint64_t pr_append_room(raft_node *r, const progress *p);
void pr_infl_add(raft_node *r, progress *p, uint64_t last, uint64_t bytes);
/* Frees the oldest append in flight (a heartbeat answered while the window
 * is full: raft.c). */
void pr_infl_free_first(raft_node *r, progress *p);
void pr_infl_free_le(raft_node *r, progress *p, uint64_t to);

/* tracker.c -- the configuration and the progress of its members */
/* Installs c (well formed) as the configuration in force as of index:
 * keeps the progress of members that stay, adds fresh progress for new
 * ones, drops the rest. Returns 0 or RAFT_ENOMEM (then nothing changed). */
int tr_set_conf(raft_node *r, const raft_conf *c, uint64_t index);
void tr_free(raft_node *r);
/* Votes needed: a majority of the voters. */
uint32_t tr_quorum(raft_node *r);
bool tr_is_voter(raft_node *r, uint64_t id);
/* The highest index a majority of voters has (§5.3 commitment). */
uint64_t tr_quorum_match(raft_node *r);
/* Voters that granted / rejected (progress.vote). */
void tr_tally(raft_node *r, uint32_t *yes, uint32_t *no);
/* Voters (self included) whose progress satisfies ok, counted. */
uint32_t tr_count_voters(raft_node *r, bool (*ok)(raft_node *, const progress *, uint64_t),
                         uint64_t arg);

/* confchange.c -- applying changes as they commit */
/* Proposes a change on the leader (raft.h raft_propose_conf_change). */
int r_propose_conf(raft_node *r, int op, uint64_t id, const void *ctx, uint32_t ctx_len,
                   uint64_t *index, uint64_t *term);
/* Entry e (RAFT_ENTRY_CONF) is being applied: its configuration takes
 * effect (malformed payloads were refused at propose time and cannot pass
 * the leader's validation; one that does is ignored, on every node alike). */
int r_apply_conf_entry(raft_node *r, const raft_entry *e);
/* The configuration recorded in a snapshot being installed takes effect. */
int r_apply_snapshot_conf(raft_node *r, const raft_snapshot_meta *s);
/* A committed configuration change this node has not applied yet (it then
 * does not campaign: its view of the voters may be stale). */
bool r_conf_unapplied(raft_node *r);
/* Leader: whether an entry in its uncommitted tail removes it (read at
 * election; r_propose_conf sets r->leaving for later ones). */
bool r_tail_removes_self(raft_node *r);

/* election.c */
void r_abort_transfer(raft_node *r);
void r_become_follower(raft_node *r, uint64_t term, uint64_t lead);
int r_become_leader(raft_node *r);
bool r_committed_in_term(raft_node *r);
bool r_poll_won(raft_node *r, int *lost);
int r_campaign_as(raft_node *r, bool pre, bool transfer);
int r_hup(raft_node *r, bool transfer);
int r_handle_transfer(raft_node *r, uint64_t target);

/* replication.c */
int r_send_appends(raft_node *r, progress *p, bool send_if_empty);
int r_bcast_heartbeat(raft_node *r);
bool r_maybe_commit(raft_node *r);
int r_handle_append(raft_node *r, const raft_msg *m);
int r_handle_heartbeat(raft_node *r, const raft_msg *m);
int r_handle_snapshot(raft_node *r, const raft_msg *m);

/* readindex.c */
void r_add_read_state(raft_node *r, uint64_t index, uint64_t ctx);
int r_handle_read(raft_node *r, uint64_t ctx, uint64_t from);
void r_release_pending_reads(raft_node *r);
int r_advance_reads(raft_node *r);

/* raft.c */
void r_reset_rand_timeout(raft_node *r);
uint32_t r_quorum(raft_node *r);
int r_send(raft_node *r, raft_msg *m);
/* Drops m as impossible: counts it, traces why, returns 0 (raft.h). */
int r_drop(raft_node *r, const raft_msg *m, const char *why);

/* entry points used by rawnode.c */
int r_init(raft_node *r, const raft_config *c);
void r_destroy(raft_node *r);
int r_tick(raft_node *r);
int r_step(raft_node *r, const raft_msg *m);
int r_propose(raft_node *r, const void *data, uint32_t len, uint64_t *index, uint64_t *term);
int r_read_index(raft_node *r, uint64_t ctx);
int r_transfer(raft_node *r, uint64_t id);
int r_campaign(raft_node *r);
int r_report_snapshot(raft_node *r, uint64_t id, int ok);
int r_report_unreachable(raft_node *r, uint64_t id);
/* Sends what was batched (appends for new entries or commit, read rounds). */
int r_flush(raft_node *r);
/* The driver made entries up to i (term t) durable. */
void r_on_stable(raft_node *r, uint64_t i, uint64_t t);
void r_on_durable(raft_node *r, uint64_t i, uint64_t t);
progress *r_progress(raft_node *r, uint64_t id);
void r_tracef(raft_node *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
#define TRACE(r, ...)                                                                              \
    do {                                                                                           \
        if ((r)->trace) r_tracef((r), __VA_ARGS__);                                                \
    } while (0)

#endif
