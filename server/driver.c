/* driver.c -- the Raft driver: the write path of DESIGN.md through raft/.
 *
 * A write becomes an entry payload (kventry.h: argv and tau) proposed to
 * the node; its client waits in a reply slot keyed by (index, term). At
 * the end of each event-loop pass the driver runs raft.h's loop until the
 * node has nothing more to do:
 *
 *   ready -> send msgs -> persist entries and hard state (one fsync)
 *         -> send msgs_after_persist -> apply committed entries, answering
 *            their waiters -> advance
 *
 * A one-member cluster (no peers) takes the same path: its entries are
 * committed as soon as they are durable.
 *
 * Error rules (DESIGN.md "The write path"): a waiter whose index is applied
 * with another term gets -TRYAGAIN (its entry certainly did not commit); a
 * waiter still unanswered after raft-request-timeout gets -TIMEOUT (it may
 * have committed); a proposal refused by raft gets an error that says it did
 * not happen. The waiters and their timeouts are waiters.c's; reads and the
 * read-mode lease, reads.c's.
 *
 * Only term and vote changes are synced on their own. A Ready whose hard
 * state differs only in commit is written into the log's pending
 * transaction and becomes durable with the next sync: a stored commit that
 * lags is safe (raft learns the commit again), and it saves an fsync per
 * pass. The state machine never applies past what is committed, so at
 * start-up a stored commit below the state's applied index is raised to it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "raft/raft.h"
#include "server/addrbook.h"
#include "server/clientcmd.h"
#include "server/limits.h"
#include "server/diag.h"
#include "server/log.h"
#include "server/loopstat.h"
#include "server/reads.h"
#include "server/server.h"
#include "server/tls.h"
#include "server/transport.h"
#include "server/waiters.h"
#include "storage/kventry.h"
#include "storage/kverr.h"
#include "storage/kvraft.h"

static raft_node *node;
static raft_storage rstore;
static raft_hard_state cur_hs;
static resp_buf scratch; /* payload being encoded */
static transport *tr;
static void send_msgs(const raft_msg *m, size_t n);
static void follow_book(void);
static int start_transport(char *err, size_t errlen);
static uint8_t *msgbuf; /* encoding scratch for outgoing messages */
static size_t msgcap;
static int cur_role = -1;
static uint64_t cur_leader;

void driver_fatal(const char *what, const char *why)
{
    /* a failed state commit (on the commit thread) is what any later use
     * of the state answers: name its file and error */
    const char *st = srv.state ? kvstate_last_error(srv.state) : "";
    if (st[0])
        serverLog(LL_WARNING, "%s: %s (%s). Stopping.", what, why, st);
    else
        serverLog(LL_WARNING, "%s: %s. Stopping.", what, why);
    exit(1);
}

static int64_t next_tau(void)
{
    int64_t now = mstime();
    if (now < srv.last_tau) now = srv.last_tau;
    srv.last_tau = now;
    return now;
}

/* Redis Cluster's key slot: CRC16 (XMODEM) of the key or of its {tag}. */
unsigned driver_key_slot(const char *key, size_t len)
{
    size_t s = 0, e = len;
    for (size_t i = 0; i < len; i++)
        if (key[i] == '{') {
            for (size_t j = i + 1; j < len; j++)
                if (key[j] == '}') {
                    if (j > i + 1) s = i + 1, e = j;
                    break;
                }
            break;
        }
    uint16_t crc = 0;
    for (size_t i = s; i < e; i++) {
        crc ^= (uint16_t)((uint8_t)key[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc & 16383;
}

/* The answer for a write that reached a follower: where the leader is. */
static void not_leader_reply(client *c, unsigned keyslot)
{
    int port = 0;
    const char *host = cur_leader ? membership_addr(cur_leader, &port) : NULL;
    if (!host || cur_leader == (uint64_t)cfg.node_id)
        resp_add_error(client_reply_buf(c), "CLUSTERDOWN No raft leader");
    else
        resp_add_errorf(client_reply_buf(c), "MOVED %u %s:%d", keyslot, host, port);
}

/* Proposes scratch. Returns 0 with its index and term; RAFT_ENOTLEADER;
 * or -1 with *msg, the error that says it did not happen. */
static int propose_entry(uint64_t *index, uint64_t *term, const char **msg)
{
    if (scratch.oom) driver_fatal("Encoding a log entry", "out of memory");
    if (scratch.len > UINT32_MAX) {
        *msg = "ERR request too large for one log entry";
        return -1;
    }
    int rc = raft_propose(node, scratch.p, (uint32_t)scratch.len, index, term);
    reads_note_proposed();
    switch (rc) {
    case 0:
        srv.stats.entries++;
        return 0;
    case RAFT_ENOTLEADER:
        return rc;
    case RAFT_ETRANSFER:
        *msg = "TRYAGAIN leadership transfer in progress";
        return -1;
    case RAFT_ETOOLARGE:
        *msg = "ERR request too large for one log entry";
        return -1;
    case RAFT_EUNCOMMITTED:
        *msg = "TRYAGAIN too many uncommitted writes";
        return -1;
    case RAFT_ENOMEM:
        *msg = "OOM command not allowed when used memory > 'maxmemory'.";
        return -1;
    default:
        driver_fatal("Proposing to raft", raft_strerror(rc));
        return -1;
    }
}

/* Proposes scratch; on success the client (if any) waits in a new slot.
 * key (may be NULL) is the first key, for -MOVED's slot: only computed when
 * this node is not the leader. */
static int propose(client *c, const char *key, size_t keylen)
{
    uint64_t index, term;
    const char *msg = NULL;
    int rc = propose_entry(&index, &term, &msg);
    if (rc == RAFT_ENOTLEADER) {
        if (c) not_leader_reply(c, key ? driver_key_slot(key, keylen) : 0);
        return -1;
    }
    if (rc) {
        if (c) resp_add_error(client_reply_buf(c), msg);
        return -1;
    }
    if (!c) return 0;
    waiters_add(client_new_slot(c, SLOT_WRITE), index, term);
    c->last_write = index;
    return 0;
}

/* learner-auto-promote: the leader promotes a learner whose log is within
 * that many entries of its own, one change at a time. */
static void auto_promote(void)
{
    if (cfg.learner_auto_promote <= 0 || cur_role != RAFT_LEADER) return;
    raft_status st;
    raft_get_status(node, &st);
    if (st.pending_conf > st.applied) return;
    raft_conf k;
    raft_get_conf(node, &k, NULL);
    raft_peer_progress pp;
    for (uint32_t i = 0; i < k.n_learners; i++)
        for (uint32_t j = 0; raft_get_progress(node, j, &pp) == 0; j++) {
            if (pp.id != k.learners[i] || pp.match == 0 ||
                pp.match + (uint64_t)cfg.learner_auto_promote < st.last_index)
                continue;
            const char *err;
            if (driver_propose_conf(NULL, RAFT_CONF_ADD_VOTER, pp.id, NULL, 0, &err) == 0)
                serverLog(LL_NOTICE,
                          "learner-auto-promote: node %llu is within %d entries (match %llu, "
                          "last %llu): promoting it",
                          (unsigned long long)pp.id, cfg.learner_auto_promote,
                          (unsigned long long)pp.match, (unsigned long long)st.last_index);
            return;
        }
}

int write_propose(client *c, int argc, char **argv, size_t *argvlen, int firstkey)
{
    resp_buf_reset(&scratch);
    kventry_encode_cmd(&scratch, next_tau(), c->db, argc, argv, argvlen);
    if (firstkey > 0 && firstkey < argc) return propose(c, argv[firstkey], argvlen[firstkey]);
    return propose(c, NULL, 0);
}

slot *write_propose_attempt(int db, int proto, int argc, char **argv, size_t *argvlen,
                            const char **err)
{
    uint64_t index, term;
    const char *msg = NULL;
    *err = NULL;
    resp_buf_reset(&scratch);
    kventry_encode_cmd(&scratch, next_tau(), db, argc, argv, argvlen);
    if (propose_entry(&index, &term, &msg)) {
        if (msg && strncmp(msg, "TRYAGAIN", 8)) *err = msg; /* trying again would not help */
        return NULL;
    }
    slot *s = slot_new_detached(proto);
    s->state = SLOT_WRITE;
    waiters_add(s, index, term);
    return s;
}

int write_propose_slot(slot *s, int db, int argc, char **argv, size_t *argvlen, const char **err)
{
    uint64_t index, term;
    *err = NULL;
    resp_buf_reset(&scratch);
    kventry_encode_cmd(&scratch, next_tau(), db, argc, argv, argvlen);
    int rc = propose_entry(&index, &term, err);
    if (rc == RAFT_ENOTLEADER) *err = "CLUSTERDOWN No raft leader";
    if (rc) return -1;
    s->state = SLOT_WRITE;
    waiters_add(s, index, term);
    if (s->c) s->c->last_write = index;
    return 0;
}

int write_propose_multi(client *c)
{
    resp_buf_reset(&scratch);
    kventry_begin_multi(&scratch, next_tau(), c->db, (uint32_t)c->mq_len);
    for (int i = 0; i < c->mq_len; i++)
        kventry_add_cmd(&scratch, c->mq[i].argc, c->mq[i].argv, c->mq[i].argvlen);
    /* -MOVED names the first command's key; WATCH's "raft.watch" (first
     * when there) names its first watched key. */
    const mcmd *m = &c->mq[0];
    if (m->argc > 2 && !strcasecmp(m->argv[0], "raft.watch"))
        return propose(c, m->argv[2], m->argvlen[2]);
    if (m->argc > 1) return propose(c, m->argv[1], m->argvlen[1]);
    return propose(c, NULL, 0);
}

int driver_leader_known(void)
{
    return cur_leader != 0;
}

int driver_is_leader(void)
{
    return cur_role == RAFT_LEADER;
}

void write_expire_cron(void)
{
    if (srv.expire_in_flight || !driver_is_leader() || !clientcmd_expire_enabled()) return;
    int64_t next = kvstate_next_expiry(srv.state);
    if (next < 0 || next > mstime()) return;
    resp_buf_reset(&scratch);
    int64_t t0 = mono_us();
    int n = kvstate_collect_expired(srv.state, next_tau(), 1000, &scratch);
    diag_latency_sample("expire-cycle", mono_us() - t0);
    if (n <= 0) return;
    if (propose(NULL, NULL, 0) == 0) {
        srv.expire_in_flight = 1;
        srv.stats.expired_keys += (uint64_t)n;
    }
}

int write_propose_internal(int argc, char **argv, size_t *argvlen, uint64_t *index)
{
    uint64_t term;
    const char *msg = NULL;
    if (!driver_is_leader()) return -1;
    resp_buf_reset(&scratch);
    kventry_encode_cmd(&scratch, next_tau(), 0, argc, argv, argvlen);
    return propose_entry(index, &term, &msg) ? -1 : 0;
}

/* Applies one committed entry and answers whoever waits for it. */
static void apply_entry(const raft_entry *e)
{
    slot *w = waiters_take(e->index, e->term);
    client *c = w ? w->c : NULL;
    const void *data = e->type == RAFT_ENTRY_NORMAL ? e->data : NULL;
    size_t len = e->type == RAFT_ENTRY_NORMAL ? e->len : 0;
    tracking_set_writer(c);
    resp_buf *out = (c && !w->keep_reply) || (w && w->blk) ? &w->out : NULL;
    int rc;
    raft_conf_change cc;
    if (e->type == RAFT_ENTRY_CONF && raft_conf_change_decode(e->data, e->len, &cc) == 0) {
        /* the configuration in force goes into the state with its index
         * (kvstate.h), so a restart or a snapshot knows it; raft put it in
         * force when it handed the entry out (raft.h "membership") */
        rc = kvstate_apply_members(srv.state, e->index, e->data, e->len);
        if (out && !w->blk) resp_add_ok(out);
        serverLog(LL_NOTICE, "Membership change at index %llu in force: %u voters, %u learners",
                  (unsigned long long)e->index, cc.conf.n_voters, cc.conf.n_learners);
        if (!raft_conf_role(&cc.conf, (uint64_t)cfg.node_id))
            serverLog(LL_WARNING,
                      "This node (id %d) was removed from the cluster at index %llu: it no longer "
                      "votes or leads (INFO raft: raft_member:none)",
                      cfg.node_id, (unsigned long long)e->index);
    } else {
        rc = kvstate_apply(srv.state, e->index, data, len, out);
    }
    tracking_set_writer(NULL);
    if (rc) driver_fatal("Applying a committed entry", kv_strerror(rc));
    if (len) {
        int kind;
        int64_t tau;
        if (kventry_peek(data, len, &kind, &tau) == 0) {
            if (tau > srv.last_tau) srv.last_tau = tau;
            if (kind == KV_ENTRY_EXPIRE) srv.expire_in_flight = 0;
        }
    }
    if (!w) return;
    if (w->blk) { /* a blocked client's attempt (blocking.c) */
        int found_nothing = kvstate_apply_blocked(srv.state);
        blocking_attempt_outcome(w, found_nothing ? ATTEMPT_BLOCKED : ATTEMPT_SERVED, e->index,
                                 NULL, 0);
        return;
    }
    if (!c) {
        slot_free(w);
        return;
    }
    if (w->attempt && kvstate_apply_blocked(srv.state)) {
        /* A follower's blocking command found nothing: it holds its client
         * itself; ":<index>" says as of which entry (blocking.c). */
        resp_buf_reset(&w->out);
        resp_add_int(&w->out, (int64_t)e->index);
        w->wrap = 0;
    }
    slot_done(w);
    reads_run_ready(c);
}

/* How much a pass applies. Raft hands out committed entries only while
 * they may be applied (raft_hold_apply): not while a commit runs on the
 * commit thread (statecommit.c), and not once a pass applied for
 * APPLY_PASS_US; they wait in raft's log, not copied, and the next
 * pass (at once: driver_apply_behind()) or the commit's end goes on with
 * them. A Ready lends at most RAFTKV_READY_APPLY_BYTES of entries, so a pass
 * overruns the budget by at most one Ready's apply. Meanwhile the loop goes
 * on with the log, the peers and the clients. Start-up applies everything
 * (apply_all); what is committed and not applied at shutdown is replayed
 * at the next start, and a snapshot replaces what it covers. */
#define APPLY_PASS_US 3000
/* ... unless more than this many committed entries wait: a node that
 * appends faster than it applies (a follower catching up, one the machine
 * starves) would fall ever further behind (its reads wait for their
 * index; raft keeps at most RAFTKV_MEM_LOG_BYTES of the backlog in memory,
 * the rest is read back from the log). Past it, a pass applies all it
 * gets, as before the budget: catching up comes first. */
#define APPLY_BACKLOG_ENTRIES 8192
static void handle_ready(void);
static int64_t pass_apply_us;
static int apply_all, apply_behind;

static void apply_one(const raft_entry *e)
{
    apply_entry(e);
    reads_finish_applied(); /* a read runs at its index, before later writes */
}

static void hold_apply(void)
{
    int hold = kvstate_committing(srv.state);
    if (!hold && !apply_all && pass_apply_us >= APPLY_PASS_US)
        hold = driver_unapplied_entries() <= APPLY_BACKLOG_ENTRIES;
    raft_hold_apply(node, hold);
}

int driver_apply_behind(void)
{
    return apply_behind;
}

void driver_apply_everything(void)
{
    apply_all = 1;
    do { /* a Ready may start a commit (its bounds): wait for it and go on */
        state_commit_finish();
        hold_apply();
        while (raft_has_ready(node))
            handle_ready();
    } while (kvstate_committing(srv.state));
    apply_all = 0;
}

uint64_t driver_unapplied_entries(void)
{
    raft_status st;
    raft_get_status(node, &st);
    return st.commit > st.applied ? st.commit - st.applied : 0;
}

static const char *role_name(int role)
{
    switch (role) {
    case RAFT_LEADER:
        return "leader";
    case RAFT_CANDIDATE:
    case RAFT_PRECANDIDATE: /* DESIGN.md's INFO roles: a pre-vote is candidacy */
        return "candidate";
    default:
        return "follower";
    }
}

static void on_soft_state(const raft_ready_batch *rd)
{
    if (rd->role != cur_role) {
        raft_status st;
        raft_get_status(node, &st);
        serverLog(LL_NOTICE, "Raft: node %d is now %s in term %llu (leader %llu)", cfg.node_id,
                  role_name(rd->role), (unsigned long long)st.term, (unsigned long long)rd->leader);
        log_set_role(rd->role == RAFT_LEADER ? 'M' : rd->role == RAFT_FOLLOWER ? 'S' : 'C');
        if (cur_role == RAFT_LEADER) srv.expire_in_flight = 0;
    } else if (rd->leader != cur_leader) {
        serverLog(LL_NOTICE, "Raft: leader is now %llu", (unsigned long long)rd->leader);
    }
    reads_role(rd->role, rd->role != cur_role);
    if (rd->leader != cur_leader) reads_leader(rd->leader);
    cur_role = rd->role;
    cur_leader = rd->leader;
}

/* Log writes whose fdatasync (logsync.c) has not been reported yet, in log
 * order: the last entry each wrote, for raft_durable() (the leader counts
 * its own copy only once it is on disk), and the messages raft said to send
 * only after the disk write (a follower's acknowledgements, votes),
 * encoded. Both wait for the log position that covers them. */
typedef struct dmark {
    struct dmark *next;
    uint64_t pos, index, term;
} dmark;
typedef struct heldmsg {
    struct heldmsg *next;
    uint64_t pos, to;
    size_t len;
    uint8_t b[];
} heldmsg;
static dmark *marks_head, *marks_tail;
static heldmsg *held_head, *held_tail;
static int ready_out;         /* between raft_ready and raft_advance: no raft_durable */
static uint64_t pass_entries; /* entries written this pass */
#define LOGSYNC_INLINE_ENTRIES 4
static uint32_t n_voters; /* in the configuration in force */

static void count_voters(void)
{
    raft_conf conf;
    raft_get_conf(node, &conf, NULL);
    n_voters = conf.n_voters;
}

/* Whether this pass's fdatasync may run in the loop (logsync_kick; it
 * also bounds the bytes and the disk's last answer time). A leader with
 * other voters never: it commits on a follower's acknowledgement, which
 * comes after a round trip and that follower's own fdatasync, so its own
 * runs on the sync thread meanwhile and the loop stays free to take the
 * acknowledgement and answer. A follower does unless it forwarded commands
 * to the leader that are not answered yet (their replies come back through
 * its loop): its acknowledgement waits for the fdatasync, and a hand-off to
 * the thread and back only adds two wake-ups to it. A sole voter syncs a
 * light pass inline: its fdatasync is its commit. */
static int sync_inline_ok(void)
{
    if (cur_role != RAFT_LEADER) return proxy_pending() == 0;
    return n_voters <= 1 && pass_entries <= LOGSYNC_INLINE_ENTRIES;
}

/* Peers a message could not be queued for (the queue full), reported to
 * raft once no Ready is out: the peer then goes back to probing and is
 * sent what it missed again, instead of raft believing it in flight. */
static uint64_t unsent[ADDRBOOK_MAX];
static size_t n_unsent;

static void report_unsent(void)
{
    for (size_t i = 0; i < n_unsent; i++) {
        int rc = raft_report_unreachable(node, unsent[i]);
        if (rc && rc != RAFT_EUNKNOWNPEER)
            driver_fatal("Raft report unreachable", raft_strerror(rc));
    }
    n_unsent = 0;
}

static void send_or_report(uint64_t to, const void *msg, size_t len)
{
    int rc = transport_send(tr, to, msg, len);
    if (rc != TRANSPORT_EFULL) return; /* ENOTCONN: on_unreachable reported it */
    srv.stats.peer_msgs_unsent++;
    for (size_t i = 0; i < n_unsent; i++)
        if (unsent[i] == to) return;
    if (n_unsent < ADDRBOOK_MAX) unsent[n_unsent++] = to;
    if (!ready_out) report_unsent();
}

static void hold_msgs(const raft_msg *m, size_t n, uint64_t pos)
{
    for (size_t i = 0; i < n; i++) {
        if (m[i].type == RAFT_MSG_SNAP) { /* not an acknowledgement: streamed now */
            send_msgs(&m[i], 1);
            continue;
        }
        size_t need = raft_msg_encoded_size(&m[i]);
        heldmsg *h = malloc(sizeof(*h) + need);
        if (!h) driver_fatal("Holding a raft message", "out of memory");
        h->len = raft_msg_encode(&m[i], h->b, need);
        h->pos = pos;
        h->to = m[i].to;
        h->next = NULL;
        if (held_tail)
            held_tail->next = h;
        else
            held_head = h;
        held_tail = h;
    }
}

void driver_durable(void)
{
    info_log_synced();
    if (ready_out || !node) return;
    uint64_t d = logsync_durable_pos();
    while (marks_head && marks_head->pos <= d) {
        dmark *m = marks_head;
        marks_head = m->next;
        if (!marks_head) marks_tail = NULL;
        raft_durable(node, m->index, m->term);
        free(m);
    }
    int sent = 0;
    while (held_head && held_head->pos <= d) {
        heldmsg *h = held_head;
        held_head = h->next;
        if (!held_head) held_tail = NULL;
        if (tr && h->len) send_or_report(h->to, h->b, h->len);
        free(h);
        sent = 1;
    }
    if (sent) driver_flush();
}

/* Writes rd's log part; returns the log position that covers it. The
 * fdatasync runs on the sync thread (logsync.c) unless there is none yet
 * (start-up) or rd carries a snapshot: then it is done here. */
static uint64_t persist(const raft_ready_batch *rd)
{
    int rc = 0;
    int need_write = rd->n_entries || rd->snapshot ||
                     (rd->hs_changed && (rd->hs.term != cur_hs.term || rd->hs.vote != cur_hs.vote));
    if (rd->snapshot) {
        state_commit_finish(); /* the entries before it were applied, or are replaced */
        logsync_drain();
        snapshot_install(rd->snapshot); /* the state first, then the log */
    }
    int64_t t0 = mono_us();
    if (need_write) {
        if (rd->snapshot || !logsync_active()) {
            rc = kvraft_persist(srv.log, rd);
            if (!rc) logsync_note_synced();
        } else {
            rc = kvraft_stage(srv.log, rd);
        }
        srv.stats.syncs++;
    } else if (rd->hs_changed) {
        kvlog_hardstate hs = {rd->hs.term, rd->hs.vote, rd->hs.commit};
        rc = kvlog_set_hardstate(srv.log, &hs); /* durable with the next sync */
    }
    /* The position to wait for: the last write of entries, a term or a
     * vote (a commit index alone needs no fsync, and nothing waits for it). */
    static uint64_t needed_pos;
    if (!rc && need_write) {
        rc = kvlog_write(srv.log, &needed_pos);
        logsync_want(needed_pos);
    }
    loopstat_add(LS_LOG_WRITE, mono_us() - t0);
    if (rc) {
        serverLog(LL_WARNING, "Persisting the raft log: %s (%s). Stopping.", kv_strerror(rc),
                  kvlog_last_error(srv.log));
        exit(1);
    }
    uint64_t pos = needed_pos;
    if (rd->hs_changed) cur_hs = rd->hs;
    pass_entries += rd->n_entries;
    if (rd->n_entries) {
        dmark *m = malloc(sizeof(*m));
        if (!m) driver_fatal("Persisting the raft log", "out of memory");
        *m = (dmark){NULL, pos, rd->entries[rd->n_entries - 1].index,
                     rd->entries[rd->n_entries - 1].term};
        if (marks_tail)
            marks_tail->next = m;
        else
            marks_head = m;
        marks_tail = m;
    }
    return pos;
}

#define LATE_NEWS_ENTRIES 4

/* Whether every message of rd only tells a follower the commit index (an
 * append with no entries, as a leader sends when its commit advanced):
 * those can wait until this Ready's replies are written, which they would
 * otherwise hold up by a send and a delivery each. Only for a Ready that
 * commits at most LATE_NEWS_ENTRIES entries: under a heavy load the
 * replies take long to write, and the followers hearing of the commit
 * that much later cost more than it saved (SET -P 16: 5% less). */
static int only_commit_news(const raft_ready_batch *rd)
{
    for (size_t i = 0; i < rd->n_msgs; i++)
        if (rd->msgs[i].type != RAFT_MSG_APP || rd->msgs[i].n_entries) return 0;
    return 1;
}

static void handle_ready(void)
{
    raft_ready_batch rd;
    int rc = raft_ready(node, &rd);
    if (rc) driver_fatal("Raft ready", raft_strerror(rc));
    ready_out = 1;
    if (rd.soft_changed) on_soft_state(&rd);
    /* Appends and heartbeats leave before our own fsync, so the followers'
     * disk writes overlap ours (thesis §10.2.1): flush them now, not at the
     * end of the pass. */
    for (size_t i = 0; i < rd.n_msgs; i++)
        if (rd.msgs[i].type == RAFT_MSG_TIMEOUT_NOW) reads_lease_end(); /* handing over */
    int late =
        rd.n_msgs && !rd.snapshot && rd.n_committed <= LATE_NEWS_ENTRIES && only_commit_news(&rd);
    if (rd.n_msgs && !late) {
        send_msgs(rd.msgs, rd.n_msgs);
        driver_flush();
    }
    /* Committed entries already in the log (below this Ready's new ones)
     * are applied and answered before this Ready's fsync: otherwise every
     * write would wait for the fsync of the writes that arrived after it.
     * Read states come first, so a read still runs before its client's
     * later writes are applied. With a snapshot, everything waits. */
    size_t applied = 0;
    uint64_t unsynced_from = rd.n_entries ? rd.entries[0].index : UINT64_MAX;
    for (size_t i = 0; i < rd.n_read_states; i++)
        reads_on_read_state(&rd.read_states[i]);
    reads_finish_applied();
    int64_t t0 = mono_us(), apply_us;
    if (!rd.snapshot) {
        for (; applied < rd.n_committed && rd.committed[applied].index < unsynced_from; applied++)
            apply_one(&rd.committed[applied]);
        if (applied && rd.n_entries) clients_flush();
    }
    apply_us = mono_us() - t0;
    uint64_t pos = persist(&rd);
    /* A follower's acknowledgements (and votes) leave once the log holds
     * everything written so far on disk, not after this pass's apply or
     * the state commit: they are the leader's commit latency. */
    hold_msgs(rd.msgs_after_persist, rd.n_msgs_after_persist, pos);
    t0 = mono_us();
    for (size_t i = applied; i < rd.n_committed; i++)
        apply_one(&rd.committed[i]);
    apply_us += mono_us() - t0;
    loopstat_add(LS_APPLY, apply_us);
    if (late) {
        clients_flush();
        send_msgs(rd.msgs, rd.n_msgs);
        driver_flush();
    }
    pass_apply_us += apply_us;
    int follow = rd.conf_changed || rd.snapshot;
    rc = raft_advance(node, &rd);
    if (rc) driver_fatal("Raft advance", raft_strerror(rc));
    ready_out = 0;
    if (follow) {
        count_voters();
        follow_book();
    }
    report_unsent();
    driver_durable(); /* what a synchronous write already made durable */
    /* between Readies: a pass can apply tens of thousands of entries (a
     * follower catching up), and the commit's bounds are on memory */
    state_commit_if_due();
    hold_apply();
}

void write_end_of_pass(void)
{
    pass_apply_us = 0;
    hold_apply();
    snapshot_pump();
    reads_start_round();
    /* This pass's log writes go to disk on the sync thread while the loop
     * goes on; a light pass syncs inline (lower latency), and what that
     * made durable (commits, acknowledgements) is handled at once. */
    do {
        do { /* blocked clients' attempts for what this pass applied */
            while (raft_has_ready(node))
                handle_ready();
        } while (blocking_pass() && raft_has_ready(node));
    } while (logsync_kick(sync_inline_ok()) && raft_has_ready(node));
    pass_entries = 0;
    apply_behind = pass_apply_us >= APPLY_PASS_US && !kvstate_committing(srv.state) &&
                   driver_unapplied_entries() > 0;
}

/* A follower whose loop was held by its own work on the log or the state
 * lets as much time pass again before it counts towards an election: the
 * leader is most likely held by the same entry (a 512 MB SETBIT applies in
 * about a second, on every node at about the same time) and would
 * otherwise be deposed for it. Delaying an election is always safe (and
 * lengthens what a lease relies on); it costs at most that long of
 * availability when the leader really failed, and it is capped. */
static int64_t quiet_until_us;

void driver_held(int64_t us)
{
    if (cur_role != RAFT_FOLLOWER || us < (int64_t)cfg.heartbeat_interval * 1000) return;
    int64_t cap = 4LL * cfg.election_timeout * 1000;
    int64_t until = mono_us() + (us < cap ? us : cap);
    if (until > quiet_until_us) quiet_until_us = until;
}

void driver_tick(void)
{
    membership_replace_step(); /* before auto_promote: the job answers its client */
    auto_promote();
    if (cur_role != RAFT_FOLLOWER || mono_us() >= quiet_until_us) {
        int rc = raft_tick(node);
        if (rc) driver_fatal("Raft tick", raft_strerror(rc));
    }
    int64_t now = mstime();
    waiters_timeouts(now);
    reads_timeouts(now);
}

static void send_msgs(const raft_msg *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (snapshot_intercept(&m[i])) continue; /* streamed by snapshot.c */
        size_t need = raft_msg_encoded_size(&m[i]);
        if (need > msgcap) {
            uint8_t *b = realloc(msgbuf, need);
            if (!b) {
                serverLog(LL_WARNING, "Out of memory encoding a raft message; dropped");
                continue;
            }
            msgbuf = b;
            msgcap = need;
        }
        size_t len = raft_msg_encode(&m[i], msgbuf, msgcap);
        if (tr && len) send_or_report(m[i].to, msgbuf, len);
    }
}

void driver_step(uint64_t from, const void *buf, size_t len)
{
    raft_msg *m = NULL;
    int rc = raft_msg_decode(buf, len, NULL, &m);
    if (rc) {
        srv.stats.peer_msgs_dropped++;
        serverLog(LL_WARNING, "Dropped a malformed raft message from node %llu: %s",
                  (unsigned long long)from, raft_strerror(rc));
        return;
    }
    if (m->from != from || m->to != (uint64_t)cfg.node_id) {
        srv.stats.peer_msgs_dropped++;
        serverLog(LL_WARNING, "Dropped a raft message from node %llu claiming to be %llu -> %llu",
                  (unsigned long long)from, (unsigned long long)m->from, (unsigned long long)m->to);
        raft_msg_free(m, NULL);
        return;
    }
    if (m->type == RAFT_MSG_SNAP) {
        /* A snapshot's metadata counts only after its data (RAFT.SNAP). */
        srv.stats.peer_msgs_dropped++;
        serverLog(LL_WARNING, "Dropped a snapshot message from node %llu outside RAFT.SNAP",
                  (unsigned long long)from);
        raft_msg_free(m, NULL);
        return;
    }
    driver_step_msg(m);
    raft_msg_free(m, NULL);
}

void driver_step_msg(const raft_msg *m)
{
    info_peer_heard(m->from);
    if (tr) transport_heard(tr, m->from);
    int rc = raft_step(node, m);
    if (rc == RAFT_EINVAL) { /* raft refused it as impossible */
        srv.stats.peer_msgs_dropped++;
        return;
    }
    if (rc) driver_fatal("Raft step", raft_strerror(rc));
}

raft_node *driver_raft(void)
{
    return node;
}

transport *driver_transport(void)
{
    return tr;
}

static void on_unreachable(void *ctx, uint64_t id)
{
    (void)ctx;
    serverLog(LL_NOTICE, "Raft: lost the connection to node %llu", (unsigned long long)id);
    snapshot_peer_lost(id);
    int rc = raft_report_unreachable(node, id);
    if (rc && rc != RAFT_EBUSY) driver_fatal("Raft report unreachable", raft_strerror(rc));
}

static void on_connected(void *ctx, uint64_t id)
{
    (void)ctx;
    serverLog(LL_NOTICE, "Raft: connected to node %llu", (unsigned long long)id);
}

static void on_transport_reply(void *ctx, uint64_t id, uint64_t tag, long long v, const char *err,
                               size_t errlen)
{
    (void)ctx;
    snapshot_on_reply(id, tag, v, err, errlen);
}

static void on_transport_log(void *ctx, int level, const char *msg)
{
    (void)ctx;
    serverLog(level, "transport: %s", msg);
}

static int start_transport(char *err, size_t errlen)
{
    if (driver_member_count() < 2) return 0;
    transport_peer_config pc[ADDRBOOK_MAX + 1];
    size_t n = 0;
    uint64_t id;
    const char *host;
    int port, self_port;
    const char *self_host = membership_addr((uint64_t)cfg.node_id, &self_port);
    for (size_t i = 0; driver_member(i, &id, &host, &port) == 0; i++)
        if (id != (uint64_t)cfg.node_id) pc[n++] = (transport_peer_config){id, host, port};
    transport_config tc = {0};
    tc.self_id = (uint64_t)cfg.node_id;
    tc.bind_addr = self_host;
    tc.cluster_id = cfg.cluster_id;
    tc.secret = cfg.cluster_secret;
    /* Where peers reach this node, in every hello: a join node that knows
     * no member answers there (membership.c). Only as the book spells an
     * address, or a peer would refuse the hello. */
    char advertise[ADDRBOOK_HOST_MAX + 16];
    if (self_host && self_port > 0 && addrbook_host_ok(self_host)) {
        snprintf(advertise, sizeof(advertise), "%s:%d", self_host, self_port);
        tc.advertise = advertise;
    }
    tc.tls = cfg.tls_cluster ? tls_connect_conn : NULL;
    tc.peers = pc;
    tc.npeers = n;
    tc.queue_bound = RAFTKV_PEER_QUEUE_BYTES;
    tc.connect_timeout_ms = cfg.election_timeout;
    tc.liveness_timeout_ms = cfg.election_timeout;
    tc.on_unreachable = on_unreachable;
    tc.on_connected = on_connected;
    tc.log = on_transport_log;
    tc.on_reply = on_transport_reply;
    tr = transport_new(srv.base, &tc);
    if (!tr) {
        snprintf(err, errlen, "could not start the peer transport (see the log)");
        return -1;
    }
    return 0;
}

void driver_peer_addr(uint64_t id, const char *host, int port)
{
    if (membership_learn(id, host, port) <= 0) return;
    if (!tr) {
        char err[200];
        if (start_transport(err, sizeof(err)))
            serverLog(LL_WARNING, "Starting the peer transport: %s", err);
        return;
    }
    int rc = transport_add_peer(tr, id, host, port);
    if (rc)
        serverLog(LL_WARNING, "Adding peer %llu (%s:%d) to the transport: %s",
                  (unsigned long long)id, host, port, transport_strerror(rc));
}

/* members follow the stored book (membership.c); the transport connects
 * to the members it adds and drops the ones it removes. */
static void follow_book(void)
{
    uint64_t old[ADDRBOOK_MAX + 1], id, me = (uint64_t)cfg.node_id;
    const char *host;
    int port;
    size_t nold = 0;
    for (size_t i = 0; driver_member(i, &id, &host, &port) == 0; i++)
        old[nold++] = id;
    if (membership_follow_stored()) return;
    if (!tr && driver_member_count() > 1 && cfg.cluster_secret[0] && cfg.cluster_id[0]) {
        char err[200];
        if (start_transport(err, sizeof(err)))
            serverLog(LL_WARNING, "Starting the peer transport: %s", err);
        return;
    }
    if (!tr) return;
    for (size_t i = 0; i < nold; i++)
        if (old[i] != me && !driver_peer_known(old[i])) transport_remove_peer(tr, old[i]);
    for (size_t i = 0; driver_member(i, &id, &host, &port) == 0; i++) {
        if (id == me) continue;
        int rc = transport_add_peer(tr, id, host, port);
        if (rc)
            serverLog(LL_WARNING, "Adding peer %llu (%s:%d) to the transport: %s",
                      (unsigned long long)id, host, port, transport_strerror(rc));
    }
}

int driver_propose_conf(client *c, int op, uint64_t id, const char *host, int port,
                        const char **err)
{
    *err = NULL;
    if (!node || cur_role != RAFT_LEADER) {
        if (!c) return RAFT_ENOTLEADER;
        not_leader_reply(c, 0);
        return 0;
    }
    raft_conf cur, after;
    raft_get_conf(node, &cur, NULL);
    int rc = raft_conf_after(&cur, op, id, &after);
    if (rc) return rc;
    static addrbook nb;
    memset(&nb, 0, sizeof(nb));
    nb.max_id = driver_max_node_id() > id ? driver_max_node_id() : id;
    for (uint32_t i = 0; i < after.n_voters + after.n_learners; i++) {
        uint64_t mid = i < after.n_voters ? after.voters[i] : after.learners[i - after.n_voters];
        addrbook_entry *e = &nb.e[nb.n++];
        e->id = mid;
        int mport = 0;
        const char *mhost = membership_addr(mid, &mport);
        if (mid == id && host) {
            snprintf(e->host, sizeof(e->host), "%s", host);
            e->port = port;
        } else if (mhost && mport) {
            snprintf(e->host, sizeof(e->host), "%s", mhost);
            e->port = mport;
        } else {
            *err = "ERR a member's address is unknown: this node was started without 'cluster'";
            return 1;
        }
    }
    static char ctx[RAFT_CONF_CTX_MAX];
    size_t len = addrbook_encode(&nb, ctx, sizeof(ctx));
    if (!len) {
        *err = "ERR the cluster's address book would not fit in a membership entry";
        return 1;
    }
    uint64_t index, term;
    rc = raft_propose_conf_change(node, op, id, ctx, (uint32_t)len, &index, &term);
    if (rc == RAFT_ENOTLEADER && c) {
        not_leader_reply(c, 0);
        return 0;
    }
    if (rc) return rc;
    reads_note_proposed();
    serverLog(LL_NOTICE, "Membership change proposed at index %llu: %s node %llu",
              (unsigned long long)index,
              op == RAFT_CONF_ADD_LEARNER ? "add learner"
              : op == RAFT_CONF_ADD_VOTER ? "promote"
                                          : "remove",
              (unsigned long long)id);
    if (!c) return 0; /* learner-auto-promote */
    waiters_add(client_new_slot(c, SLOT_WRITE), index, term);
    c->last_write = index;
    return 0;
}

void driver_flush(void)
{
    if (tr) transport_flush(tr);
}

/* A voter that starts (a cluster's first boot, or a restart) has heard
 * from no leader: its first election timeout counts from election_tick - 1
 * ticks, so it campaigns after a random 1 tick to one election timeout
 * instead of one to two (etcd's initial-election-tick-advance). A whole
 * cluster restarted elects a leader about a second sooner. A node that
 * restarts while a leader leads is not disruptive: its PreVote is refused
 * by voters that heard from that leader within the election timeout, and
 * the leader's next message makes it a follower. */
static int advance_first_election(uint32_t election_tick)
{
    raft_conf conf;
    raft_get_conf(node, &conf, NULL);
    if (raft_conf_role(&conf, (uint64_t)cfg.node_id) != 1 || conf.n_voters < 2) return 0;
    for (uint32_t t = 1; t < election_tick; t++) {
        int rc = raft_tick(node);
        if (rc) return rc;
    }
    return 0;
}

int driver_init(char *err, size_t errlen)
{
    resp_buf_init(&scratch, 2);
    kvraft_storage(srv.log, &rstore);
    rstore.snapshot = snapshot_meta; /* the state, read by snapshot.c */
    if (snapshot_startup(err, errlen)) return -1;
    follow_book(); /* the members of the stored configuration, if any */
    if (!tr && start_transport(err, errlen)) return -1;

    /* The state applies only committed entries: its applied index is a
     * lower bound of the commit index, which may be stored lagging. */
    kvlog_hardstate hs;
    int rc = kvlog_get_hardstate(srv.log, &hs);
    uint64_t applied = kvstate_applied_index(srv.state);
    if (!rc && hs.commit < applied) {
        if (applied > kvlog_last_index(srv.log)) {
            snprintf(err, errlen, "the state (applied %llu) is ahead of the log (last %llu)",
                     (unsigned long long)applied, (unsigned long long)kvlog_last_index(srv.log));
            return -1;
        }
        hs.commit = applied;
        rc = kvlog_set_hardstate(srv.log, &hs);
        if (!rc) rc = kvlog_sync(srv.log);
    }
    if (rc) {
        snprintf(err, errlen, "reading the hard state: %s", kv_strerror(rc));
        return -1;
    }
    cur_hs = (raft_hard_state){hs.term, hs.vote, hs.commit};

    uint32_t tick = TICK_MS;
    raft_config rc_ = {0};
    rc_.id = (uint64_t)cfg.node_id;
    rc_.peers = membership_boot_voters(&rc_.n_peers);
    rc_.election_tick = (uint32_t)cfg.election_timeout / tick;
    rc_.heartbeat_tick = (uint32_t)cfg.heartbeat_interval / tick;
    if (rc_.heartbeat_tick == 0) rc_.heartbeat_tick = 1;
    if (rc_.election_tick <= rc_.heartbeat_tick) rc_.election_tick = rc_.heartbeat_tick + 1;
    rc_.seed = (uint64_t)ustime() ^ ((uint64_t)cfg.node_id << 32);
    rc_.applied = applied;
    rc_.prevote = 1;
    rc_.check_quorum = 1;
    rc_.max_entry_bytes = RAFTKV_MAX_ENTRY_BYTES;
    rc_.max_msg_bytes = RAFTKV_APPEND_BYTES;
    rc_.max_inflight_bytes = RAFTKV_INFLIGHT_BYTES;
    rc_.max_committed_bytes = RAFTKV_READY_APPLY_BYTES;
    rc_.max_mem_log_bytes = RAFTKV_MEM_LOG_BYTES;
    rc_.async_durable = 1; /* logsync.c reports what is on disk */
    rc_.storage = &rstore;
    /* The configuration in force, as the state applied it: after the first
     * change, the log is the truth and 'cluster' only bootstrapped it. */
    raft_conf_change sconf;
    uint64_t stored_index = 0;
    size_t stored_len = 0;
    const void *sm = kvstate_members(srv.state, &stored_index, &stored_len);
    if (sm && raft_conf_change_decode(sm, stored_len, &sconf) == 0 && stored_index <= applied) {
        rc_.conf = &sconf.conf;
        rc_.conf_index = stored_index;
        if (membership_check_stored(&sconf.conf, stored_index, err, errlen)) return -1;
    }
    rc = raft_new(&node, &rc_);
    if (rc) {
        snprintf(err, errlen, "starting raft: %s", raft_strerror(rc));
        return -1;
    }
    count_voters();
    if (rc_.n_peers == 1 && driver_member_count() == 1) {
        rc = raft_campaign(node);
        if (rc) {
            snprintf(err, errlen, "raft campaign: %s", raft_strerror(rc));
            return -1;
        }
    } else if ((rc = advance_first_election(rc_.election_tick)) != 0) {
        snprintf(err, errlen, "raft tick: %s", raft_strerror(rc));
        return -1;
    }
    /* Replay what is committed and, alone, become leader before serving. */
    uint64_t before = kvstate_applied_index(srv.state), stored = kvlog_last_index(srv.log);
    driver_apply_everything();
    if (stored > before)
        serverLog(LL_NOTICE, "Replayed log entries %llu..%llu (applied now %llu)",
                  (unsigned long long)before + 1, (unsigned long long)stored,
                  (unsigned long long)kvstate_applied_index(srv.state));
    rc = kvstate_commit(srv.state);
    if (rc) {
        snprintf(err, errlen, "committing the state: %s", kv_strerror(rc));
        return -1;
    }
    if (kvstate_tau(srv.state) > srv.last_tau) srv.last_tau = kvstate_tau(srv.state);
    return 0;
}

void driver_shutdown(void)
{
    snapshot_shutdown();
    transport_free(tr);
    tr = NULL;
    free(msgbuf);
    msgbuf = NULL;
    while (held_head) {
        heldmsg *h = held_head;
        held_head = h->next;
        free(h);
    }
    held_tail = NULL;
    while (marks_head) {
        dmark *m = marks_head;
        marks_head = m->next;
        free(m);
    }
    marks_tail = NULL;
    raft_free(node);
    node = NULL;
    resp_buf_free(&scratch);
}

/* The transport's figures for peer id: 1, or 0 when it has none. */
static int peer_stat(uint64_t id, transport_peer_stat *st)
{
    for (size_t j = 0; tr && j < transport_peer_count(tr); j++)
        if (transport_peer_status(tr, j, st) == 0 && st->id == id) return 1;
    return 0;
}

size_t driver_peer_lines(char *buf, size_t n)
{
    size_t off = 0;
    static const char *pr_state[] = {"probe", "replicate", "snapshot"};
    uint64_t mid;
    const char *mhost;
    int mport;
    for (size_t i = 0; driver_member(i, &mid, &mhost, &mport) == 0 && off < n; i++) {
        if (mid == (uint64_t)cfg.node_id) continue;
        transport_peer_stat st;
        int connected = 0;
        size_t buffer = 0;
        if (peer_stat(mid, &st)) {
            connected = st.connected;
            buffer = st.buffer_bytes;
        }
        raft_peer_progress pp = {0};
        const char *state = "probe";
        if (cur_role == RAFT_LEADER)
            for (uint32_t j = 0; raft_get_progress(node, j, &pp) == 0; j++)
                if (pp.id == mid) {
                    if (pp.state >= 0 && pp.state <= 2) state = pr_state[pp.state];
                    break;
                }
        int w = snprintf(buf + off, n - off,
                         "raft_peer%llu:addr=%s:%d,connected=%d,state=%s,match=%llu,buffer=%zu,"
                         "inflight=%llu\r\n",
                         (unsigned long long)mid, mhost, mport, connected, state,
                         (unsigned long long)(pp.id == mid ? pp.match : 0), buffer,
                         (unsigned long long)(pp.id == mid ? pp.inflight_bytes : 0));
        if (w < 0) break;
        off += (size_t)w;
    }
    return off < n ? off : n - 1;
}

/* When each peer was last seen connected (driver_slowest_match): a slow
 * follower's connection may drop (its replies come later than the peer
 * liveness timeout) and come back; for a while after, it still counts. */
static struct {
    uint64_t id;
    int64_t us;
} peer_seen[RAFT_MAX_NODES];

static int64_t *seen_slot(uint64_t id)
{
    int free_i = -1, oldest = 0;
    for (int i = 0; i < RAFT_MAX_NODES; i++) {
        if (peer_seen[i].id == id) return &peer_seen[i].us;
        if (!peer_seen[i].id && free_i < 0) free_i = i;
        if (peer_seen[i].us < peer_seen[oldest].us) oldest = i;
    }
    int i = free_i >= 0 ? free_i : oldest;
    peer_seen[i].id = id;
    peer_seen[i].us = 0;
    return &peer_seen[i].us;
}

uint64_t driver_slowest_match(uint64_t first)
{
    uint64_t low = UINT64_MAX;
    if (!node || cur_role != RAFT_LEADER || !tr) return low;
    int64_t now = mono_us(), hold_us = (int64_t)cfg.election_timeout * 3 * 1000;
    raft_peer_progress pp;
    for (uint32_t j = 0; raft_get_progress(node, j, &pp) == 0; j++) {
        if (pp.id == (uint64_t)cfg.node_id) continue;
        transport_peer_stat st;
        int connected = peer_stat(pp.id, &st) && st.connected;
        int64_t *seen = seen_slot(pp.id);
        if (connected) *seen = now;
        /* Only a follower the leader is replicating to: one being probed
         * (it reconnected, or it rejects because its log was wiped under the
         * same id: its match is then the old one, and only a snapshot, once
         * the log is cut past that match, catches it up) or sent a snapshot
         * holds nothing back. A new node (match 0), or one the log was
         * already cut past, needs a snapshot anyway. */
        if (pp.state != RAFT_PR_REPLICATE) continue;
        if (pp.match == 0 || pp.match + 1 < first) continue;
        if (*seen && now - *seen <= hold_us && pp.match < low) low = pp.match;
    }
    return low;
}

uint64_t driver_leader_id(void)
{
    return cur_leader;
}

const char *driver_leader_addr(int *port)
{
    int p = 0;
    const char *host = cur_leader ? membership_addr(cur_leader, &p) : NULL;
    if (!host || !p) return NULL;
    *port = p;
    return host;
}

void driver_status(driver_info *out)
{
    raft_status st;
    raft_get_status(node, &st);
    out->role = role_name(st.role);
    out->term = st.term;
    out->leader = st.leader;
    out->commit = st.commit;
    out->applied = kvstate_applied_index(srv.state);
    out->first_index = kvlog_first_index(srv.log);
    out->last_index = st.last_index;
    out->snapshot_index = st.snapshot_index;
    out->dropped_msgs = st.dropped_msgs;
}
