/* statecommit.c -- when the state commits (server.h "statecommit.c"). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "server/diag.h"
#include "server/log.h"
#include "server/loopstat.h"
#include "server/reads.h"
#include "server/server.h"
#include "storage/kverr.h"

/* The state is committed (its dirty pages written and fdatasynced, on the
 * commit thread) every STATE_COMMIT_RUNS cron runs (1 s: main.c's cron
 * runs every 25 ms), when writes pause, or sooner once STATE_COMMIT_BYTES
 * of payload were applied. The log is what makes writes durable; the state
 * only bounds the replay after a crash. The state's map is written in
 * place (MDB_WRITEMAP, kvstate.c): a write transaction's dirty pages are
 * page cache, not anonymous memory, so memory does not bound it; its
 * duration does (below). Each commit writes every dirty page, and while it
 * runs nothing applies, so fewer commits write less: a page written several
 * times between two commits is written to disk once. What each figure
 * measured is in CHANGELOG.md. */
#define STATE_COMMIT_RUNS 40
#define STATE_COMMIT_BYTES (32 << 20)
/* In a large key space (keys are ordered by hash, so writes land on random
 * leaves) nearly every write dirties a page of its own, and a commit of a
 * second's writes can take longer than the second. So a commit also starts
 * once the pages the open transaction likely dirtied (P(1 - e^(-n/P)) for
 * n entries over a space of P pages) reach what the last commits wrote in
 * STATE_COMMIT_TARGET_US: commits sized by what the disk absorbs, between
 * STATE_DIRTY_MIN and STATE_DIRTY_MAX pages. */
#define STATE_COMMIT_TARGET_US 400000
#define STATE_DIRTY_MIN 2048.0  /* 8 MB */
#define STATE_DIRTY_MAX 65536.0 /* 256 MB */

static void commit_failed(int rc)
{
    serverLog(LL_WARNING, "Committing the state failed: %s (%s). Stopping.", kv_strerror(rc),
              kvstate_last_error(srv.state));
    exit(1);
}

/* A reservation of disk blocks ahead of the state the disk refused
 * (kvstate.h): said once, as a warning. */
static void note_reserve(void)
{
    if (kvstate_reserve_failed(srv.state))
        serverLog(LL_WARNING, "The disk is nearly full: %s", kvstate_last_error(srv.state));
}

static struct event *done_ev;
static int64_t started_us;
static int started; /* a commit start() posted that state_commit_finish() has not counted */
static double started_dirty;                 /* dirty_estimate() when it started */
static double dirty_bound = STATE_DIRTY_MAX; /* pages: what a commit writes in the target time */
static uint64_t due_entries; /* entries since a commit that reach dirty_bound; 0: to compute */

/* The pages the open write transaction likely dirtied. */
static double dirty_estimate(void)
{
    uint64_t pages = kvstate_pages(srv.state);
    double n = (double)(kvstate_applied_index(srv.state) - kvstate_durable_index(srv.state));
    if (pages == 0 || pages == UINT64_MAX) return n;
    double p = (double)pages;
    return p * -expm1(-n / p);
}

/* The inverse, computed once per commit (the check runs between applied
 * entries): n = -P ln(1 - bound/P) entries dirty about dirty_bound pages,
 * never as many as P. */
static uint64_t entries_for_bound(void)
{
    uint64_t pages = kvstate_pages(srv.state);
    if (pages == 0 || pages == UINT64_MAX) return (uint64_t)dirty_bound;
    double p = (double)pages;
    if (dirty_bound >= p) return UINT64_MAX;
    double n = -p * log1p(-dirty_bound / p);
    return n < 1.0 ? 1 : (uint64_t)n;
}

/* A finished commit of est pages that took us: the bound follows the
 * disk's measured rate (a moving average). */
static void note_commit(double est, int64_t us)
{
    if (est < STATE_DIRTY_MIN || us <= 0) return; /* too small to say */
    double fit = est * STATE_COMMIT_TARGET_US / (double)us;
    dirty_bound = 0.75 * dirty_bound + 0.25 * fit;
    if (dirty_bound < STATE_DIRTY_MIN) dirty_bound = STATE_DIRTY_MIN;
    if (dirty_bound > STATE_DIRTY_MAX) dirty_bound = STATE_DIRTY_MAX;
    due_entries = 0;
}

/* The commit runs on the state's commit thread (kvstate_commit_start()):
 * the loop goes on with the log, the peers and the clients, and applies
 * nothing until it ended (raft holds committed entries: driver.c). */
static void start(int64_t t0)
{
    started_us = t0;
    started_dirty = dirty_estimate();
    due_entries = 0; /* the key space's size and the bound may change */
    int rc = kvstate_commit_start(srv.state);
    if (rc) commit_failed(rc);
    if (kvstate_committing(srv.state))
        started = 1;
    else
        info_state_committed();
    note_reserve();
}

/* Counts the commit start() posted, whether this waits for it or a use of
 * the state already did (kvstate_commit_wait()). */
void state_commit_finish(void)
{
    if (!started) return;
    started = 0;
    int64_t t0 = mono_us();
    int rc = kvstate_commit_wait(srv.state);
    int64_t now = mono_us();
    diag_latency_sample("state-commit", now - started_us);
    note_commit(started_dirty, now - started_us);
    driver_held(loopstat_step("waiting for the state commit", t0));
    if (rc) commit_failed(rc);
    info_state_committed();
    note_reserve();
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
    (void)what, (void)arg;
    loopstat_busy();
    uint64_t n;
    if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        serverLog(LL_WARNING, "Reading the commit thread's eventfd: %s", strerror(errno));
    /* whatever ended the commit (a use of the state waited for it, say),
     * what waited for it runs now */
    if (kvstate_committing(srv.state) && !kvstate_commit_done(srv.state)) return;
    state_commit_finish();
    reads_finish_applied(); /* the pass's end applies what raft held meanwhile */
}

int state_commit_watch(struct event_base *base)
{
    note_reserve();
    if (done_ev) event_free(done_ev);
    done_ev = event_new(base, kvstate_commit_fd(srv.state), EV_READ | EV_PERSIST, on_done, NULL);
    return done_ev && event_add(done_ev, NULL) == 0 ? 0 : -1;
}

static int state_commit_due(void)
{
    if (kvstate_applied_index(srv.state) == kvstate_durable_index(srv.state) ||
        kvstate_committing(srv.state))
        return 0;
    if (kvstate_pending_bytes(srv.state) >= STATE_COMMIT_BYTES) return 1;
    if (!due_entries) due_entries = entries_for_bound();
    return kvstate_applied_index(srv.state) - kvstate_durable_index(srv.state) >= due_entries;
}

/* Also called between applied entries: one pass can apply tens of
 * thousands (a follower catching up), and the bound is on memory. */
void state_commit_if_due(void)
{
    if (state_commit_due()) start(mono_us());
}

/* The cron's commit: every STATE_COMMIT_RUNS runs, and also as soon as
 * writes pause for a run: reads then use a read transaction (in the write
 * transaction every page they touch is looked up in its dirty list first),
 * and the commit is off the path of the writes that follow. */
void state_commit_cron(unsigned runs, int64_t t0)
{
    static uint64_t prev_applied;
    if (kvstate_committing(srv.state)) return;
    uint64_t applied = kvstate_applied_index(srv.state);
    int quiet = applied == prev_applied && applied != kvstate_durable_index(srv.state);
    prev_applied = applied;
    if (runs % STATE_COMMIT_RUNS == 0 || quiet) start(t0);
}
