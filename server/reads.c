/* reads.c -- linearizable reads and the read-mode lease (server/reads.h).
 *
 * The driver (driver.c) calls in from its Ready loop; reads.c asks the
 * driver only for the node, its role and the member count. */
#include <stdlib.h>
#include <string.h>

#include "raft/raft.h"
#include "server/diag.h"
#include "server/reads.h"
#include "server/server.h"
#include "storage/kverr.h"

static int proposed_since_batch; /* a write was proposed since the last read round */

/* Reads are linearizable (thesis §6.4): the reads that arrive in one pass
 * form a batch that shares one raft_read_index() round; the round's read
 * index is the leader's commit index once a quorum confirmed leadership. A
 * read runs when the state has applied that index and every earlier write
 * of its client, and before that client's next write is applied (the read
 * index of a round started at the end of a pass is below any write proposed
 * in that pass, so this holds; the one exception is a round a new leader
 * answers only once an entry of its term commits, with the commit index of
 * that moment: a pipelined read may then see the client's next write, which
 * is still linearizable as the two overlap). A one-member cluster needs no
 * round: everything acknowledged is already applied. */

typedef struct readbatch {
    struct readbatch *next;
    int64_t started_us; /* CLOCK_MONOTONIC when the round was asked for */
    uint64_t ctx, index;
    int known;
    int held;    /* no round: reads held while the state committed (hold_read) */
    int counted; /* in rounds_unknown */
    int64_t deadline;
    int64_t asked; /* mstime() when the leader was last asked */
    slot **slots;
    size_t n, cap;
} readbatch;

static readbatch *batch_open;              /* this pass's reads */
static readbatch *batch_head, *batch_tail; /* rounds in flight */
static uint64_t read_ctx;
static int64_t lease_until_us; /* read-mode lease: CLOCK_MONOTONIC */
static int lease_renew;        /* start a round even with no reads */
static size_t rounds_unknown;  /* this leadership's rounds without a read state */
static int reask;              /* the leader changed: ask it for the rounds in flight */

/* DESIGN.md "read-mode lease": a round that a quorum confirmed proves this
 * node led when the round was asked for; no other leader can be elected
 * until the followers' election timeouts run out, so for a while after that
 * moment the leader may read its own applied state without a round. The
 * lease is shorter than the minimum election timeout by a drift bound of a
 * fifth, starts at the round's start, and ends with leadership and when the
 * leader hands over with TimeoutNow. */
static int64_t lease_len_us(void)
{
    return (int64_t)cfg.election_timeout * 1000 * 4 / 5;
}

static int lease_valid(int64_t now)
{
    return !strcmp(cfg.read_mode, "lease") && driver_is_leader() && now < lease_until_us;
}

/* Runs c's confirmed reads that no pending write precedes, in order. */
void reads_run_ready(client *c)
{
    /* Called for every applied entry of the client: a pipeline of writes
     * has thousands of slots and no read, and must not be walked. */
    if (!c->nreads) return;
    int64_t now = mstime();
    for (slot *s = c->head; s; s = s->next) {
        if (s->state == SLOT_WRITE) break;
        if (s->state != SLOT_READ) continue;
        if (!s->confirmed) break; /* later reads must not overtake it */
        if (s->settle) {          /* the reply is in out already (reads_settle) */
            slot_done(s);
            continue;
        }
        int64_t t0 = mono_us();
        int rc = kvstate_read(srv.state, s->db, s->k, s->argc, s->argv, s->argvlen, now, &s->out);
        if (rc) driver_fatal("Reading the state", kv_strerror(rc));
        diag_read_ran(c, s->argc, s->argv, s->argvlen, mono_us() - t0);
        free(s->argv);
        s->argv = NULL;
        slot_done(s);
    }
}

static void batch_free(readbatch *b)
{
    free(b->slots);
    free(b);
}

/* Ends a round: each read is confirmed (or failed with err), and the
 * batch lets go of its slots. */
static void batch_finish(readbatch *b, const char *err)
{
    for (size_t i = 0; i < b->n; i++) {
        slot *s = b->slots[i];
        s->batch = NULL;
        if (!s->c) { /* its client is gone: nobody else holds it */
            slot_free(s);
            b->slots[i] = NULL;
            continue;
        }
        if (err) {
            free(s->argv);
            s->argv = NULL;
            if (!s->settle) resp_add_error(&s->out, err); /* a settled write's reply stands */
            slot_done(s);
        } else {
            s->confirmed = 1;
        }
    }
    for (size_t i = 0; i < b->n; i++)
        if (!err && b->slots[i]) reads_run_ready(b->slots[i]->c);
    batch_free(b);
}

static void batch_add(readbatch *b, slot *s)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        slot **v = realloc(b->slots, cap * sizeof(*v));
        if (!v) driver_fatal("Queueing a read", "out of memory");
        b->slots = v;
        b->cap = cap;
    }
    b->slots[b->n++] = s;
    s->batch = b;
}

/* A one-member cluster's read that arrived while the state commits: in a
 * batch with no round, known at the applied index, at the tail. */
static void hold_read(slot *s)
{
    readbatch *b = batch_tail;
    if (!b || !b->held) {
        if (!(b = calloc(1, sizeof(*b)))) driver_fatal("Queueing a read", "out of memory");
        b->held = b->known = 1;
        b->index = kvstate_applied_index(srv.state);
        b->deadline = INT64_MAX;
        if (batch_tail)
            batch_tail->next = b;
        else
            batch_head = b;
        batch_tail = b;
    }
    batch_add(b, s);
}

void driver_read(client *c, const kv_command *k, int argc, char **argv, size_t *argvlen)
{
    int64_t now = driver_member_count() > 1 && !c->npending ? mono_us() : 0;
    int local =
        !c->npending && ((driver_member_count() == 1 && driver_is_leader()) || lease_valid(now));
    /* While the state commits (statecommit.c) a read here would wait for
     * it. Alone, the read waits in a batch already known, at the applied
     * index (every acknowledged write); in a cluster it takes the ReadIndex
     * round instead (the lease may end before the commit does). Both run
     * once the commit ended. */
    int held = local && kvstate_committing(srv.state);
    if (held) local = 0;
    if (local) {
        int rc =
            kvstate_read(srv.state, c->db, k, argc, argv, argvlen, mstime(), client_reply_buf(c));
        if (rc) driver_fatal("Reading the state", kv_strerror(rc));
        if (driver_member_count() > 1) {
            srv.stats.lease_reads++;
            if (lease_until_us - now < lease_len_us() / 2) lease_renew = 1;
        }
        return;
    }
    slot *s = client_new_slot(c, SLOT_READ);
    c->nreads++;
    s->argc = argc;
    s->argv = argv_copy(argc, argv, argvlen, &s->argvlen);
    s->db = c->db;
    s->k = k;
    if (held && driver_member_count() == 1) {
        hold_read(s);
        return;
    }
    if (driver_member_count() == 1) { /* alone: only this client's pending writes matter */
        s->confirmed = 1;
        return;
    }
    if (!batch_open && !(batch_open = calloc(1, sizeof(*batch_open))))
        driver_fatal("Queueing a read", "out of memory");
    batch_add(batch_open, s);
}

/* Whether round b may ask a new leader: none of its reads has a write of
 * its client behind it. A read must run before its client's later writes,
 * and the new leader's read index may already cover them; such a round
 * waits for its first leader's answer or its deadline, as before. */
static int may_reask(const readbatch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        const slot *s = b->slots[i];
        if (!s || !s->c) continue;
        for (const slot *t = s->next; t; t = t->next)
            if (t->state != SLOT_READ && t->state != SLOT_DONE) return 0;
    }
    return 1;
}

/* Asks the leader again for round b's read index. 0, or -1 when no leader
 * is known. */
static int reask_one(readbatch *b, int64_t now)
{
    int rc = raft_read_index(driver_raft(), b->ctx);
    if (rc == RAFT_EDROPPED) return -1;
    if (rc) driver_fatal("Raft read index", raft_strerror(rc));
    b->asked = now;
    if (driver_is_leader() && !b->counted) {
        b->counted = 1;
        rounds_unknown++;
    }
    srv.stats.read_reasked++;
    return 0;
}

/* The rounds in flight when the leader changed asked a leader that may
 * never answer (it stepped down, or was cut off): raft forgets the reads a
 * leader holds when it steps down. Each is asked again of the new leader,
 * under its first deadline; whichever answer comes first counts (any
 * leader's answer is a read index that a quorum confirmed after the read
 * arrived). */
static void reask_rounds(void)
{
    int64_t now = mstime();
    for (readbatch *b = batch_head; b; b = b->next) {
        if (b->known || b->held || !may_reask(b)) continue;
        if (reask_one(b, now) != 0) return; /* no leader after all: the next change asks */
    }
}

void reads_leader(uint64_t leader)
{
    if (leader) reask = 1;
}

/* Starts the round for this pass's reads. */
void reads_start_round(void)
{
    if (reask) {
        reask = 0;
        reask_rounds();
    }
    if (!batch_open && lease_renew && driver_is_leader() &&
        !(batch_open = calloc(1, sizeof(*batch_open))))
        driver_fatal("Renewing the lease", "out of memory");
    lease_renew = 0;
    readbatch *b = batch_open;
    if (!b) return;
    /* One unconfirmed round at a time on a leader: the reads that arrive
     * meanwhile wait for it and share the next one. A round per pass with
     * reads cost each follower a wake-up and a message each way per pass;
     * under 50 clients at -P 1 this halves the rounds (and their CPU on
     * three processes sharing two cores) and raised GET from ~84k to
     * ~110k/s. Any heartbeat acknowledgement also confirms a round, so a
     * lost message delays the reads by a heartbeat, and a round that finds
     * no quorum times out as before. A write proposed since the last
     * round starts the next at once: a pipelined read must get a read index
     * below its client's next write (see above). */
    if (driver_is_leader() && rounds_unknown > 0 && !proposed_since_batch) return;
    proposed_since_batch = 0;
    batch_open = NULL;
    b->started_us = mono_us();
    b->ctx = ++read_ctx;
    b->asked = mstime();
    b->deadline = b->asked + cfg.raft_request_timeout;
    int rc = raft_read_index(driver_raft(), b->ctx);
    if (rc == RAFT_EDROPPED) {
        batch_finish(b, "CLUSTERDOWN No raft leader");
        return;
    }
    if (rc) driver_fatal("Raft read index", raft_strerror(rc));
    if (batch_tail)
        batch_tail->next = b;
    else
        batch_head = b;
    batch_tail = b;
    b->counted = driver_is_leader();
    rounds_unknown += (size_t)b->counted;
    srv.stats.read_rounds++;
    srv.stats.round_reads += b->n;
}

void reads_on_read_state(const raft_read_state *rs)
{
    for (readbatch *b = batch_head; b; b = b->next)
        if (b->ctx == rs->ctx) {
            if (b->known) return; /* asked twice (reask_rounds): the first answer holds */
            if (b->counted) rounds_unknown--;
            b->counted = 0;
            b->known = 1;
            b->index = rs->index;
            if (driver_is_leader() && b->started_us + lease_len_us() > lease_until_us)
                lease_until_us = b->started_us + lease_len_us();
            return;
        }
}

/* Finishes the rounds whose read index is applied, oldest first. */
void reads_finish_applied(void)
{
    if (kvstate_committing(srv.state)) return; /* statecommit.c calls again once it ended */
    uint64_t applied = kvstate_applied_index(srv.state);
    while (batch_head && batch_head->known && batch_head->index <= applied) {
        readbatch *b = batch_head;
        batch_head = b->next;
        if (!batch_head) batch_tail = NULL;
        batch_finish(b, NULL);
    }
}

void reads_settle(slot *s)
{
    client *c = s->c;
    c->nproxy--;
    c->nreads++;
    s->state = SLOT_READ;
    s->confirmed = 0;
    if (!batch_open && !(batch_open = calloc(1, sizeof(*batch_open))))
        driver_fatal("Queueing a read", "out of memory");
    batch_add(batch_open, s);
}

void reads_note_proposed(void)
{
    proposed_since_batch = 1;
}

void reads_lease_end(void)
{
    lease_until_us = 0;
}

void reads_role(int role, int changed)
{
    if (role != RAFT_LEADER) lease_until_us = 0;
    if (changed) { /* rounds of another role hold nothing up */
        for (readbatch *b = batch_head; b; b = b->next)
            b->counted = 0;
        rounds_unknown = 0;
    }
}

/* Reads whose round found no quorum in time. A follower's request (or
 * the answer) can also be lost on the way, with the leader unchanged (a
 * peer connection that was not up yet, or broke): a follower asks again
 * for a round unanswered for an election timeout. */
void reads_timeouts(int64_t now)
{
    if (!driver_is_leader())
        for (readbatch *b = batch_head; b; b = b->next)
            if (!b->known && !b->held && now - b->asked >= cfg.election_timeout && may_reask(b) &&
                reask_one(b, now) != 0)
                break;
    while (batch_head && !batch_head->known && batch_head->deadline <= now) {
        readbatch *b = batch_head;
        batch_head = b->next;
        if (!batch_head) batch_tail = NULL;
        if (b->counted) rounds_unknown--;
        batch_finish(b, "TIMEOUT no quorum confirmed the read");
    }
}
