/* raft.h -- the Raft consensus core: the one public header of raft/.
 *
 * A pure library in the style of etcd raft and the seed's RawNode / Raft /
 * RaftLog split: no clock, no random source, no socket, no file. Time enters
 * as raft_tick(), randomness as cfg.seed, messages as raft_step(); what the
 * node wants done comes out as a raft_ready_batch. Several nodes may live in
 * one process: there is no global mutable state. A node is not thread-safe;
 * one thread drives it.
 *
 * References: "paper" is Ongaro & Ousterhout, In Search of an Understandable
 * Consensus Algorithm (2014); "thesis" is Ongaro, Consensus: Bridging Theory
 * and Practice (2014). Comments in the sources cite the rule they implement.
 *
 * ---------------------------------------------------------------------------
 * The driving loop (thesis §10.2.1, DESIGN.md "The write path"):
 *
 *   raft_tick / raft_step / raft_propose / raft_read_index ...   (any number)
 *   if (raft_has_ready(n)) {
 *       raft_ready(n, &rd);                       // borrow the batch
 *       1. send rd.msgs                           // may precede the fsync
 *       2. if rd.snapshot: install it (state and log) before anything else
 *          append rd.entries to the log, truncating the stored log from
 *          rd.entries[0].index first (a Raft conflict, §5.3);
 *          store rd.hs if rd.hs_changed; make all of it durable (fsync)
 *       3. send rd.msgs_after_persist             // only after step 2
 *       4. apply rd.committed in order; serve rd.read_states whose index is
 *          <= the applied index
 *       raft_advance(n, &rd);                     // "all of rd is durable
 *   }                                             //  and applied"
 *
 * rd.msgs holds what a leader may send before its own disk write (appends,
 * heartbeats, snapshots, TimeoutNow, read-index forwarding), so the leader's
 * fsync overlaps the followers'. rd.msgs_after_persist holds what depends on
 * durable state: vote requests and responses, append and heartbeat
 * responses. raft_advance() is how the driver tells raft what became
 * durable: the leader counts its own match index (for commitment, §5.3/§5.4)
 * only from then. Between raft_ready() and raft_advance() the driver must not
 * call any mutating function on the node (they return RAFT_EBUSY).
 *
 * Ownership: everything a raft_ready_batch points to is owned by the node and valid
 * until raft_advance(). Everything passed into raft (messages to raft_step,
 * proposal data) is borrowed for the duration of the call and copied if kept.
 * ---------------------------------------------------------------------------
 */
#ifndef RAFTKV_RAFT_H
#define RAFTKV_RAFT_H

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ errors */

/* Every error a raft_ function returns; 0 is success, errors are negative. */
#define RAFT_ERRORS(X)                                                                             \
    X(RAFT_ENOMEM, -1, "out of memory")                                                            \
    X(RAFT_ENOTLEADER, -2, "not the leader")                                                       \
    X(RAFT_ETRANSFER, -3, "leadership transfer in progress")                                       \
    X(RAFT_ETOOLARGE, -4, "proposal too large")                                                    \
    X(RAFT_EINVAL, -5, "invalid argument")                                                         \
    X(RAFT_EBUSY, -6, "a ready batch is outstanding; call raft_advance first")                     \
    X(RAFT_ECOMPACTED, -7, "index compacted away")                                                 \
    X(RAFT_EUNAVAILABLE, -8, "index not yet in the log")                                           \
    X(RAFT_ESNAPTEMP, -9, "snapshot temporarily unavailable")                                      \
    X(RAFT_ESTORAGE, -10, "storage failure")                                                       \
    X(RAFT_ECORRUPT, -11, "malformed or truncated encoding")                                       \
    X(RAFT_EVERSION, -12, "unknown encoding version")                                              \
    X(RAFT_EUNKNOWNPEER, -13, "unknown peer id")                                                   \
    X(RAFT_EDROPPED, -14, "request dropped (no leader known)")                                     \
    X(RAFT_EUNCOMMITTED, -15, "too much uncommitted data")                                         \
    X(RAFT_ECONFPENDING, -16, "a membership change is already in progress")                        \
    X(RAFT_ENOTREADY, -17, "the leader has not yet committed an entry of its term")                \
    X(RAFT_ELEARNER, -18, "the node is a learner (not a voter)")                                   \
    X(RAFT_ECONF, -19, "invalid membership change")

enum {
#define RAFT_X_ENUM(name, val, msg) name = (val),
    RAFT_ERRORS(RAFT_X_ENUM)
#undef RAFT_X_ENUM
};

/* A static string for any code (unknown codes get a generic text). */
const char *raft_strerror(int err);

/* ------------------------------------------------------------- allocation */

/* All allocation of raft/ goes through these hooks, so a test can make any
 * allocation fail. NULL members (or a NULL pointer) mean libc. The hooks
 * are per node (cfg.alloc) and copied; ctx is passed back unchanged. */
typedef struct raft_alloc {
    void *(*malloc)(void *ctx, size_t n);
    void *(*realloc)(void *ctx, void *p, size_t n);
    void (*free)(void *ctx, void *p);
    void *ctx;
} raft_alloc;

/* ------------------------------------------------------------------ entries */

enum raft_entry_type {
    RAFT_ENTRY_NORMAL = 0, /* application data */
    RAFT_ENTRY_EMPTY = 1,  /* a new leader's entry of its term (thesis §6.4); no data */
    RAFT_ENTRY_CONF = 2    /* a membership change: data is a raft_conf_change (codec below) */
};

typedef struct raft_entry {
    uint64_t index, term;
    uint8_t type;
    uint32_t len;
    const uint8_t *data; /* len bytes; NULL when len == 0 */
} raft_entry;

/* ---------------------------------------------------------- persisted state */

/* The state the paper's Figure 2 calls persistent on all servers (the log
 * aside), plus commit so a restart can replay committed entries at once. */
typedef struct raft_hard_state {
    uint64_t term, vote, commit;
} raft_hard_state;

#define RAFT_MAX_VOTERS 16
#define RAFT_MAX_LEARNERS 16
/* No cluster reaches these (2^62 elections or entries): a message with a
 * higher term or index is dropped, so arithmetic on them cannot wrap. A
 * node does not campaign past RAFT_TERM_MAX. */
#define RAFT_TERM_MAX (UINT64_C(1) << 62)
#define RAFT_INDEX_MAX (UINT64_C(1) << 62)
#define RAFT_SNAP_REF_MAX 64

/* Snapshot metadata (paper §7). raft/ never sees snapshot contents: ref is
 * an application-defined reference (an id, a hash, ...), carried as is. */
typedef struct raft_snapshot_meta {
    uint64_t index, term; /* the last entry the snapshot covers; 0,0 = none */
    /* The configuration in force at index (the last RAFT_ENTRY_CONF at or
     * below it, else the bootstrap one). n_voters == 0: none recorded, the
     * node keeps the one it has (cfg.conf / cfg.peers). */
    uint32_t n_voters;
    uint64_t voters[RAFT_MAX_VOTERS];
    uint32_t n_learners;
    uint64_t learners[RAFT_MAX_LEARNERS];
    uint32_t ref_len;
    uint8_t ref[RAFT_SNAP_REF_MAX];
} raft_snapshot_meta;

/* -------------------------------------------------------------- membership */

/* Membership (thesis ch. 4), one server at a time (thesis §4.1): every
 * change adds or removes one voter, so any majority of the old voters and
 * any majority of the new ones share a server and two leaders cannot be
 * elected for one term across a change. The rules that make it safe:
 *   - a change is a log entry (RAFT_ENTRY_CONF) carrying the whole
 *     configuration after it; it takes effect on each node when that node
 *     applies it (etcd's ConfChange), and the entry itself commits under the
 *     configuration before it;
 *   - only one change in flight: a leader refuses a new one
 *     (RAFT_ECONFPENDING) until the last one it knows of is applied, and a
 *     new leader treats its whole uncommitted tail as possibly holding one;
 *   - a leader proposes a change only after an entry of its own term has
 *     committed (RAFT_ENOTREADY): the fix for the single-server-change bug
 *     (Ongaro, raft-dev, "bug in single-server membership changes", 2015),
 *     where a change from a deposed leader's term and one from a new term
 *     could each commit under configurations with disjoint majorities;
 *   - a node with a committed but unapplied change does not campaign.
 * Learners (thesis §4.2.1 "non-voting members") receive the log and
 * snapshots but never vote, campaign, or count for commit, elections,
 * read-index rounds or CheckQuorum. Replacing a server is three changes:
 * add the new one as a learner, promote it once it has caught up, remove the
 * old one; the majority never depends on a server that is not up to date.
 * A node that is not in its own configuration (removed, or a new node
 * waiting to be added: cfg with no peers) never campaigns. A removed node
 * that never learned of its removal may campaign under its old
 * configuration: members hear its vote requests (a member lagging behind a
 * change may have to vote for a voter it does not know yet) but, as thesis
 * §4.2.3 asks, not while they hear from a leader (the CheckQuorum lease,
 * applied to non-members even without CheckQuorum), and with PreVote it
 * raises no term unless a majority would elect it; elected, it is a leader
 * of the old configuration that commits its own removal and steps down.
 * Members drop everything else a non-member sends, except a leader's
 * messages. Run membership changes with PreVote: without it, a member that
 * lags behind a change (it does not know the new voters) campaigns under a
 * configuration that cannot elect it and keeps raising its term past the
 * voter that could win, which it never writes to (the simulation found it).
 * A leader that removes itself steps down when the change applies (thesis
 * §4.2.2); from the proposal on it refuses proposals (RAFT_ETRANSFER), so
 * its log ends with its removal and the remaining voters, which may not
 * know the removal committed, can still get its vote. */
typedef struct raft_conf {
    uint32_t n_voters;
    uint64_t voters[RAFT_MAX_VOTERS];
    uint32_t n_learners;
    uint64_t learners[RAFT_MAX_LEARNERS];
} raft_conf;

enum raft_conf_op {
    RAFT_CONF_ADD_LEARNER = 1, /* id must not be a member */
    RAFT_CONF_ADD_VOTER = 2,   /* promotes a learner, or adds a new id as a voter */
    RAFT_CONF_REMOVE = 3       /* a voter or a learner; never the last voter */
};

/* 2048: the server's address book of every member (server/addrbook.h)
 * fits for numeric addresses and the most members (32). */
#define RAFT_CONF_CTX_MAX 2048
/* The payload of a RAFT_ENTRY_CONF entry: the operation, the configuration
 * it produces, and the application's context for it, carried as is (the
 * server puts the address of every member there, etcd's
 * ConfChange.Context). */
typedef struct raft_conf_change {
    uint8_t op;
    uint64_t id;
    raft_conf conf; /* after the change */
    uint16_t ctx_len;
    uint8_t ctx[RAFT_CONF_CTX_MAX];
} raft_conf_change;

/* Computes the configuration after op on id (pure; confchange.c). Returns 0,
 * or RAFT_ECONF when the change is not allowed (id 0, adding a member,
 * promoting a voter, removing a non-member or the last voter, too many
 * voters or learners). */
int raft_conf_after(const raft_conf *cur, int op, uint64_t id, raft_conf *out);
/* 0 when c is well formed (no id 0, no duplicate, no id both voter and
 * learner, counts within bounds), else RAFT_ECONF. */
int raft_conf_check(const raft_conf *c);
/* 1 if id is a voter (2 a learner, 0 neither) of c. */
int raft_conf_role(const raft_conf *c, uint64_t id);

/* -------------------------------------------------------- storage interface */

/* A sink raft hands to storage->entries; storage calls raft_sink_push once
 * per entry, in index order. raft copies the data (so LMDB may give pointers
 * into a read transaction). Returns 0 or RAFT_ENOMEM. */
typedef struct raft_sink raft_sink;
int raft_sink_push(raft_sink *s, uint64_t index, uint64_t term, uint8_t type, const void *data,
                   uint32_t len);

/* What raft/ reads stable (durable) state through. The driver writes to the
 * same storage when it handles a Ready (raft/ never writes through this
 * interface). Entries in storage are [first_index, last_index]; the entry at
 * first_index - 1 is the last one covered by the snapshot (or index 0, term 0
 * for a new log) and term() answers for it. Errors: RAFT_ECOMPACTED for an
 * index below first_index - 1, RAFT_EUNAVAILABLE above last_index,
 * RAFT_ESNAPTEMP from snapshot() when one is not ready yet (raft retries
 * later), RAFT_ESTORAGE for an I/O failure (the node then stops making
 * progress and raft_step returns it; the driver must treat it as fatal). */
typedef struct raft_storage {
    void *ctx;
    /* Hard state and the metadata of the snapshot the log starts after
     * (zeroes for a new node). Called once, by raft_new. */
    int (*initial_state)(void *ctx, raft_hard_state *hs, raft_snapshot_meta *snap);
    /* Pushes entries [lo, hi) into sink, stopping once their data total
     * reaches max_bytes (but always at least one entry). lo >= first_index
     * and hi <= last_index + 1 are guaranteed by raft. */
    int (*entries)(void *ctx, uint64_t lo, uint64_t hi, uint64_t max_bytes, raft_sink *sink);
    int (*term)(void *ctx, uint64_t index, uint64_t *term);
    uint64_t (*first_index)(void *ctx);
    uint64_t (*last_index)(void *ctx);
    /* The most recent snapshot, to send to a follower that needs compacted
     * entries (§7). */
    int (*snapshot)(void *ctx, raft_snapshot_meta *out);
} raft_storage;

/* ------------------------------------------------------------------- config */

typedef struct raft_config {
    uint64_t id; /* this node, nonzero */
    /* The configuration to start with, first match wins: conf, when given
     * (the driver persisted rd.conf with its applied state and passes back
     * the configuration in force at cfg.applied, which took effect at
     * conf_index <= applied: RAFT_EINVAL otherwise);
     * the snapshot's, when it records voters; peers and learners (the
     * bootstrap of a brand-new cluster). A node that is in none of them
     * (no peers: a new node waiting to be added, or a removed one) follows
     * whichever leader writes to it and never campaigns. */
    const raft_conf *conf;
    uint64_t conf_index;
    const uint64_t *peers; /* voters */
    uint32_t n_peers;
    const uint64_t *learners;
    uint32_t n_learners;
    uint32_t election_tick;   /* T: the timeout is drawn from [T, 2T) (§5.2); > heartbeat_tick */
    uint32_t heartbeat_tick;  /* leader heartbeat every this many ticks */
    uint64_t seed;            /* randomizes election timeouts (deterministic per seed) */
    uint64_t applied;         /* the application's applied index at start (restart) */
    int prevote;              /* thesis §9.6 */
    int check_quorum;         /* thesis §6.2: leader steps down without a quorum */
    int async_durable;        /* raft_advance() only says the entries were written (readable
                                 from storage); raft_durable() says they are on disk. The
                                 leader counts its own match index from the latter. */
    uint32_t max_inflight;    /* append messages in flight per follower; 0 = 256 */
    uint64_t max_msg_bytes;   /* entries per append message, each counted as its data plus
                                 RAFT_ENTRY_HDR_BYTES (one larger entry goes alone); 0 = 1 MB */
    uint64_t max_entry_bytes; /* a single proposal; 0 = 64 MB (RAFT_ETOOLARGE) */
    uint64_t max_uncommitted_bytes; /* leader's uncommitted data; 0 = unlimited */
    uint64_t max_committed_bytes;   /* committed entries per Ready; 0 = 64 MB */
    uint64_t max_inflight_bytes;    /* entry bytes (as max_msg_bytes counts them) sent to a
                                       follower in replicate state and not acknowledged: no
                                       append goes while this many are in flight, and one is cut
                                       to the room left (at least one entry goes), so in flight
                                       stays below it plus one entry. A slow follower then costs
                                       the leader this much of sent data, not whatever its
                                       transport can queue. Heartbeats, votes and probes are
                                       neither counted nor held. 0 = no byte limit */
    uint64_t max_mem_log_bytes;     /* entries' data the memory log keeps: durable, committed
                                       entries not yet applied past this are dropped from
                                       memory, oldest first, and read back from storage when
                                       handed out to apply. An application that applies slower
                                       than entries commit (raft_hold_apply, a slow state)
                                       then costs this much memory, not its backlog. 0 = no
                                       bound (durable entries stay until applied) */
    const raft_storage *storage;    /* copied; must outlive the node */
    const raft_alloc *alloc;        /* may be NULL: libc */
} raft_config;

/* ----------------------------------------------------------------- messages */

enum raft_msg_type {
    RAFT_MSG_APP = 1,      /* AppendEntries (§5.3) */
    RAFT_MSG_APP_RESP = 2, /* reject + hint for fast backtracking */
    RAFT_MSG_VOTE = 3,     /* RequestVote (§5.2) */
    RAFT_MSG_VOTE_RESP = 4,
    RAFT_MSG_PREVOTE = 5, /* thesis §9.6 */
    RAFT_MSG_PREVOTE_RESP = 6,
    RAFT_MSG_HEARTBEAT = 7,        /* commit = min(leader commit, follower match) */
    RAFT_MSG_HEARTBEAT_RESP = 8,   /* echoes ctx: read-index round (thesis §6.4) */
    RAFT_MSG_SNAP = 9,             /* InstallSnapshot metadata (§7) */
    RAFT_MSG_TIMEOUT_NOW = 10,     /* leadership transfer (thesis §3.10) */
    RAFT_MSG_TRANSFER_LEADER = 11, /* a follower forwards a transfer request */
    RAFT_MSG_READ_INDEX = 12,      /* a follower forwards a read (ctx) */
    RAFT_MSG_READ_INDEX_RESP = 13  /* index = read index, or reject */
};
#define RAFT_MSG_TYPE_MAX 13

/* One message. Fields not used by a type are zero. For APP: index/log_term
 * are the previous entry, entries follow it, commit is the leader's. For
 * APP_RESP: index is the last index matched (or, when reject, the rejected
 * previous index) and reject_hint/log_term the follower's hint (its last
 * index with term <= log_term). For VOTE/PREVOTE: index/log_term describe the
 * candidate's last entry; ctx = 1 marks a transfer campaign. For heartbeats
 * and read index: ctx identifies the round or the read. */
typedef struct raft_msg {
    uint8_t type;
    uint8_t reject;
    uint64_t from, to, term;
    uint64_t log_term, index, commit, reject_hint, ctx;
    uint32_t n_entries;
    raft_entry *entries;
    raft_snapshot_meta *snap; /* RAFT_MSG_SNAP only */
} raft_msg;

const char *raft_msg_type_name(int type);

/* ------------------------------------------------------------------- ready */

enum raft_role { RAFT_FOLLOWER = 0, RAFT_CANDIDATE = 1, RAFT_LEADER = 2, RAFT_PRECANDIDATE = 3 };

typedef struct raft_read_state {
    uint64_t index; /* serve the read once applied >= index */
    uint64_t ctx;   /* the caller's ctx from raft_read_index */
} raft_read_state;

typedef struct raft_ready_batch {
    /* soft state: not persisted */
    int soft_changed;
    uint64_t leader; /* 0 = none known */
    int role;
    /* persisted */
    int hs_changed;
    raft_hard_state hs;
    const raft_snapshot_meta *snapshot; /* to install, or NULL */
    const raft_entry *entries;          /* to append durably */
    size_t n_entries;
    const raft_entry *committed; /* to apply, in order */
    size_t n_committed;
    const raft_msg *msgs; /* send at once */
    size_t n_msgs;
    const raft_msg *msgs_after_persist; /* send after the disk write */
    size_t n_msgs_after_persist;
    const raft_read_state *read_states;
    size_t n_read_states;
    /* The configuration in force changed (a conf entry in rd.committed or
     * rd.snapshot took effect): conf is the new one, as of conf_index.
     * Persist it with the applied state; pass it back as cfg.conf. */
    int conf_changed;
    const raft_conf *conf;
    uint64_t conf_index;
} raft_ready_batch;

/* ---------------------------------------------------------------- the node */

typedef struct raft_node raft_node;

/* Creates a node from cfg and what storage holds (hard state, snapshot
 * metadata, entries): a restart replays committed entries above cfg.applied
 * through the Ready. Returns 0, RAFT_EINVAL (bad config: id 0, id not in
 * peers, election_tick <= heartbeat_tick, too many peers, applied beyond
 * commit), RAFT_ENOMEM or a storage error. */
int raft_new(raft_node **out, const raft_config *cfg);
/* Frees the node and anything it owns (an outstanding Ready included). */
void raft_free(raft_node *n);

/* Failure model of every mutating call below: RAFT_ENOMEM, RAFT_ESTORAGE
 * (or another storage error) and RAFT_ECORRUPT raised while the protocol runs
 * leave the node failed: the call and every later one return that code, and
 * raft_has_ready answers 0. Free the node and start a new one from storage
 * (DESIGN.md: only main decides to abort). raft_propose's own RAFT_ENOMEM
 * (copying the data) is not sticky. RAFT_EBUSY means a Ready is out. */

/* One unit of logical time: election and heartbeat timeouts count ticks
 * (§5.2); a leader sends heartbeats every heartbeat_tick and checks its
 * quorum every election_tick. Errors: as above. */
int raft_tick(raft_node *n);
/* Delivers a message from a peer (borrowed). Every field of a message is
 * untrusted input (DESIGN.md "Determinism and trust"). A message that cannot
 * be true is dropped, counted in raft_status.dropped_msgs, and changes
 * nothing: an id that is not a member (to, a transfer target of 0, from except a leader
 * message or a vote request), a type
 * out of range or one no honest peer of the sender's standing could send
 * (leader messages from a second leader of the term, a response from a
 * later term, except the bare APP_RESP that tells a stale leader its term
 * is over), fields a type does not carry (entries outside APP, a snapshot
 * outside SNAP), a term above RAFT_TERM_MAX or an index above
 * RAFT_INDEX_MAX, an append whose entries are not contiguous after its
 * previous index or whose terms decrease or pass the message's term, an
 * append that would overwrite a committed entry, a response (match, rejected
 * index, hint) past the leader's log or a hint past the rejected index, a
 * heartbeat response for a round not yet sent (a heartbeat's commit past
 * the follower's log is clamped, not dropped: a follower whose data
 * directory was lost restarts empty), a vote request whose last entry is
 * of a later term than the request, a snapshot whose index or term disagrees with the message, is
 * of a later term or names other voters. Stale messages (a lower term, a role that changed since)
 * are ignored as before, not counted. Returns 0 for all of these; otherwise 0, RAFT_EBUSY,
 * RAFT_EINVAL (m is NULL), RAFT_ENOMEM or a storage error: never an error caused by what the
 * message says. */
int raft_step(raft_node *n, const raft_msg *m);
/* Appends one normal entry on the leader (§5.3). On success *index and *term
 * say where it lives; it is committed when that index is applied with that
 * term. Errors: RAFT_ENOTLEADER, RAFT_ETRANSFER (also: a leader that is
 * removing itself), RAFT_ETOOLARGE,
 * RAFT_EUNCOMMITTED, RAFT_ENOMEM, RAFT_EBUSY. Proposals are not forwarded. */
int raft_propose(raft_node *n, const void *data, uint32_t len, uint64_t *index, uint64_t *term);
/* Proposes a membership change (see "membership" above): op on id, with
 * ctx_len (<= RAFT_CONF_CTX_MAX) bytes of ctx copied into the entry. On
 * success *index and *term say where the entry lives; the change is in
 * force once it is applied (rd.conf_changed). Errors: RAFT_ENOTLEADER,
 * RAFT_ETRANSFER, RAFT_ECONFPENDING (a change not yet applied), RAFT_EINVAL
 * (ctx too long),
 * RAFT_ENOTREADY (no entry of this term committed yet), RAFT_ECONF (see
 * raft_conf_after), RAFT_ENOMEM, RAFT_EBUSY. */
int raft_propose_conf_change(raft_node *n, int op, uint64_t id, const void *ctx, uint32_t ctx_len,
                             uint64_t *index, uint64_t *term);
/* The configuration in force and the index it took effect at (0: bootstrap). */
void raft_get_conf(raft_node *n, raft_conf *out, uint64_t *index);

/* Requests a linearizable read point (thesis §6.4): a raft_read_state with
 * this ctx appears in a later Ready once a quorum confirmed leadership after
 * the call and an entry of the leader's term is committed. On a follower the
 * request goes to the leader. Reads of one round share one heartbeat round.
 * Errors: RAFT_EDROPPED (no leader known), RAFT_EBUSY, RAFT_ENOMEM. A lost
 * read is never answered: the caller times it out. (For DESIGN.md's lease
 * reads, a completed round proves leadership as of the raft_read_index call;
 * a RAFT_MSG_TIMEOUT_NOW in rd.msgs ends any lease.) */
int raft_read_index(raft_node *n, uint64_t ctx);
/* Leadership transfer to id (thesis §3.10): the leader brings id up to date,
 * then sends TimeoutNow; proposals fail with RAFT_ETRANSFER meanwhile; the
 * transfer is abandoned after an election timeout, or at once when id stops
 * being a voter. On a follower the request is forwarded to the leader.
 * Errors: RAFT_EUNKNOWNPEER (not a member), RAFT_ELEARNER (a learner cannot
 * lead), RAFT_EDROPPED, RAFT_EBUSY, RAFT_ENOMEM. */
int raft_transfer_leader(raft_node *n, uint64_t id);
/* Starts an election now (with PreVote first when configured). */
int raft_campaign(raft_node *n);
/* The driver reports a snapshot it sent to id failed (ok = 0) or finished;
 * on failure the leader probes again. */
int raft_report_snapshot(raft_node *n, uint64_t id, int ok);
/* The transport could not reach id: stop pipelining to it until it answers. */
int raft_report_unreachable(raft_node *n, uint64_t id);

/* 1 when raft_ready would return something to do (including batched
 * appends for new proposals, built at raft_ready). */
int raft_has_ready(raft_node *n);
/* Fills rd (see the loop above). Returns 0, RAFT_EBUSY (a Ready is already
 * outstanding), RAFT_ENOMEM or a storage error. Read states are handed out
 * once: the driver keeps those whose index is above its applied index until
 * it gets there. A snapshot in rd sets the application's applied index to
 * rd.snapshot->index. */
int raft_ready(raft_node *n, raft_ready_batch *rd);
/* The driver's statement that everything in rd is durable (hard state,
 * entries, snapshot: this is how raft learns what became durable, and the
 * leader counts its own match index only from here) and that rd.committed
 * was applied. Frees rd's memory; rd must be the batch of the last
 * raft_ready (RAFT_EINVAL when none is out). */
int raft_advance(raft_node *n, const raft_ready_batch *rd);
/* With cfg.async_durable: entries up to index (whose term is term) are on
 * disk. Ignored when that entry was replaced meanwhile (term differs) or is
 * not beyond what was already declared. May commit (the leader's own
 * match), so a Ready may follow. Without async_durable, raft_advance()
 * implies it. */
void raft_durable(raft_node *n, uint64_t index, uint64_t term);
/* hold 1: Readies hand out no committed entries until raft_hold_apply(n,
 * 0), so the application applies at its own pace (while its state is busy,
 * or to bound the work of one pass) without copying them: they stay in the
 * memory log and come in a later Ready, in order. Everything else (appends,
 * messages, commits, read states) goes on. A configuration change takes
 * effect when handed out, so it waits too; a pending snapshot still comes
 * (it replaces what was not applied). */
void raft_hold_apply(raft_node *n, int hold);

/* -------------------------------------------------------------- inspection */

typedef struct raft_status {
    uint64_t id, term, vote, leader, commit, applied, first_index, last_index, snapshot_index;
    int role;
    uint64_t transferee;    /* 0 = none */
    int member;             /* 1 voter, 2 learner, 0 not in its own configuration */
    uint64_t conf_index;    /* where the configuration in force took effect */
    uint64_t pending_conf;  /* leader: a change at this index may not be applied yet */
    uint64_t dropped_msgs;  /* messages dropped as impossible since raft_new (raft_step) */
    uint64_t mem_log_bytes; /* entries' data held in the memory log (max_mem_log_bytes) */
} raft_status;

void raft_get_status(raft_node *n, raft_status *s);

enum raft_progress_state { RAFT_PR_PROBE = 0, RAFT_PR_REPLICATE = 1, RAFT_PR_SNAPSHOT = 2 };
typedef struct raft_peer_progress {
    uint64_t id, match, next;
    int state;
    int learner;
    uint32_t inflight;       /* appends sent and not acknowledged (replicate state) */
    uint64_t inflight_bytes; /* their entries' bytes, as max_inflight_bytes counts them */
} raft_peer_progress;
/* On the leader: the progress of the i-th peer (0 <= i < count). Returns
 * RAFT_ENOTLEADER off the leader, RAFT_EINVAL past the end. */
int raft_get_progress(raft_node *n, uint32_t i, raft_peer_progress *p);
/* Term of the entry at index in this node's log (unstable or stable). */
int raft_log_term(raft_node *n, uint64_t index, uint64_t *term);

/* Tracing: off unless a callback is set; costs one branch when off. */
typedef void (*raft_trace_fn)(void *ctx, uint64_t id, const char *msg);
void raft_set_trace(raft_node *n, raft_trace_fn fn, void *ctx);

/* ------------------------------------------------------------------- codec */

/* Binary encoding (codec.c). Little-endian, versioned (first byte is
 * RAFT_CODEC_VERSION), length-checked: the decoder never reads past the
 * buffer nor trusts a count before checking the bytes for it are there.
 * Version 2 adds the learners to snapshot metadata and is written only for
 * a snapshot that names some: every other message is written, and read, as
 * version 1, so a cluster that uses no learners stays readable by nodes of
 * the version before (rolling upgrade). One encoding per message. Standalone entries keep version 1
 * (their layout did not change, so stored logs stay readable). */
#define RAFT_CODEC_VERSION 2
#define RAFT_ENTRY_CODEC_VERSION 1
/* Encoded sizes (codec.c), for bounds by construction: a message's header,
 * the most a snapshot's metadata adds, and each entry's header besides its
 * data. max_msg_bytes counts an entry as its data plus RAFT_ENTRY_HDR_BYTES,
 * so an append is at most RAFT_MSG_HDR_BYTES + max(max_msg_bytes,
 * RAFT_ENTRY_HDR_BYTES + max_entry_bytes) encoded. */
#define RAFT_MSG_HDR_BYTES (4 + 8 * 8 + 4)
#define RAFT_ENTRY_HDR_BYTES 21
#define RAFT_SNAP_META_MAX_BYTES                                                                   \
    (20 + 8 * RAFT_MAX_VOTERS + 4 + 8 * RAFT_MAX_LEARNERS + 4 + RAFT_SNAP_REF_MAX)

/* Bytes raft_msg_encode needs for m. */
size_t raft_msg_encoded_size(const raft_msg *m);
/* Encodes m into buf (cap bytes). Returns the bytes written, or 0 when cap
 * is too small. */
size_t raft_msg_encode(const raft_msg *m, uint8_t *buf, size_t cap);
/* Decodes one message occupying exactly len bytes. On success *out is a
 * heap block (one allocation, through alloc or libc) holding the message,
 * its entries, their data copies and the snapshot metadata; release it with
 * raft_msg_free. Errors: RAFT_ECORRUPT, RAFT_EVERSION, RAFT_ENOMEM. */
int raft_msg_decode(const uint8_t *buf, size_t len, const raft_alloc *alloc, raft_msg **out);
void raft_msg_free(raft_msg *m, const raft_alloc *alloc);

/* One entry on its own (the form storage may keep): as in messages. */
size_t raft_entry_encoded_size(const raft_entry *e);
size_t raft_entry_encode(const raft_entry *e, uint8_t *buf, size_t cap);
/* Decodes one entry from the start of buf; e->data points into buf
 * (borrowed). *used gets the bytes consumed. Returns 0, RAFT_ECORRUPT or
 * RAFT_EVERSION. */
int raft_entry_decode(const uint8_t *buf, size_t len, raft_entry *e, size_t *used);

/* A conf entry's payload: u8 version (1), u8 op, u64 id, u32 n_voters,
 * voters, u32 n_learners, learners, u16 ctx_len (<= RAFT_CONF_CTX_MAX), ctx. Encode returns the
 * bytes written, or 0 when cap is too small or c is malformed. Decode checks every count and that
 * the configuration is well formed and consistent with op and id (raft_conf_check; the id is a
 * voter after an add-voter, a learner after an add-learner, gone after a remove). Errors:
 * RAFT_ECORRUPT, RAFT_EVERSION. */
#define RAFT_CONF_CHANGE_VERSION 1
#define RAFT_CONF_CHANGE_MAX_BYTES                                                                 \
    (2 + 8 + 4 + 8 * RAFT_MAX_VOTERS + 4 + 8 * RAFT_MAX_LEARNERS + 2 + RAFT_CONF_CTX_MAX)
size_t raft_conf_change_encode(const raft_conf_change *c, uint8_t *buf, size_t cap);
int raft_conf_change_decode(const uint8_t *buf, size_t len, raft_conf_change *out);

#endif
