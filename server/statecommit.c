/* statecommit.c -- when the state commits (server.h "statecommit.c"). */
#include <errno.h>
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
 * runs every 25 ms), when writes pause, or sooner when the open write
 * transaction grew enough. The log is what makes writes durable; the state
 * only bounds the replay after a crash. A write transaction holds a
 * malloc'ed copy of every page it changed, which is the node's anonymous
 * memory: at most one per page of the key space, plus the pages it grows
 * by. Each commit writes every dirty page, and a commit of a 100,000-key
 * space writes nearly every leaf (40-65 ms, during which nothing applies),
 * so fewer commits write less and stall less. So:
 *   - a key space of at most STATE_SMALL_PAGES pages (24 MB) is bounded by
 *     its own size: it commits on the cron, or after STATE_COMMIT_BYTES_SMALL
 *     of applied payload (the pages it may grow by);
 *   - a larger one commits every STATE_COMMIT_ENTRIES entries (about one new
 *     dirty page each, 16 MB) or STATE_COMMIT_BYTES of payload.
 * What each figure measured is in CHANGELOG.md. */
#define STATE_COMMIT_RUNS 40
#define STATE_COMMIT_ENTRIES 4096
#define STATE_SMALL_PAGES 6144
#define STATE_COMMIT_BYTES (16 << 20)
#define STATE_COMMIT_BYTES_SMALL (32 << 20)

static void commit_failed(int rc)
{
    serverLog(LL_WARNING, "Committing the state failed: %s (%s). Stopping.", kv_strerror(rc),
              kvstate_last_error(srv.state));
    exit(1);
}

static struct event *done_ev;
static int64_t started_us;
static int started; /* a commit start() posted that state_commit_finish() has not counted */

/* The commit runs on the state's commit thread (kvstate_commit_start()):
 * the loop goes on with the log, the peers and the clients, and applies
 * nothing until it ended (raft holds committed entries: driver.c). */
static void start(int64_t t0)
{
    started_us = t0;
    int rc = kvstate_commit_start(srv.state);
    if (rc) commit_failed(rc);
    if (kvstate_committing(srv.state))
        started = 1;
    else
        info_state_committed();
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
    driver_held(loopstat_step("waiting for the state commit", t0));
    if (rc) commit_failed(rc);
    info_state_committed();
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
    if (done_ev) event_free(done_ev);
    done_ev = event_new(base, kvstate_commit_fd(srv.state), EV_READ | EV_PERSIST, on_done, NULL);
    return done_ev && event_add(done_ev, NULL) == 0 ? 0 : -1;
}

static int state_commit_due(void)
{
    uint64_t n = kvstate_applied_index(srv.state) - kvstate_durable_index(srv.state);
    if (n == 0 || kvstate_committing(srv.state)) return 0;
    if (kvstate_pages(srv.state) <= STATE_SMALL_PAGES)
        return kvstate_pending_bytes(srv.state) >= STATE_COMMIT_BYTES_SMALL;
    return kvstate_pending_bytes(srv.state) >= STATE_COMMIT_BYTES || n >= STATE_COMMIT_ENTRIES;
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
