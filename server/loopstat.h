/* loopstat.h -- how long each pass of the event loop keeps it busy.
 *
 * While a pass runs, this node answers no client and no peer: a pass
 * longer than the election timeout looks like a dead node to its peers,
 * and a long one is latency for every client at once. A pass is busy from
 * its first callback that starts work (loopstat_busy(): a client's or a
 * peer's bytes, a new connection, the raft tick, the cron) to the end of
 * end_of_pass(); the time waiting in epoll is not counted.
 *
 * INFO stats reports the count, the longest, how many took over 10 ms and
 * a histogram (eventloop_pass_ms_hist: passes of at most 1, 2, 5, 10, 25,
 * 50, 100, 250 ms and longer); CONFIG RESETSTAT clears them. Passes over
 * 10 ms are also logged, at most one line per 10 s with their count and
 * the longest.
 *
 * Where a slow pass went: its time is split into the steps of a pass
 * (I/O callbacks, pending commands, the raft pass, flushing replies and
 * peer messages, the rest) and, across them, the work that may take long
 * (applying entries, writing the log, an fsync of the log on the loop).
 * The longest pass of each logged window is broken down in its line, and
 * INFO stats sums every slow pass's breakdown
 * (eventloop_slow_pass_usec). Everything runs on the loop's thread. */
#ifndef RAFTKV_LOOPSTAT_H
#define RAFTKV_LOOPSTAT_H

#include <stddef.h>
#include <stdint.h>

/* The steps of a pass (their times add up to the pass) and, after
 * LS_NSTEPS, the work measured inside them. */
enum loopstat_part {
    LS_IO,       /* event_base_loop's callbacks: clients' and peers' bytes, ticks, cron */
    LS_COMMANDS, /* commands left pending by a callback */
    LS_RAFT,     /* the raft pass: Readies, the log, apply */
    LS_FLUSH,    /* replies and peer messages written, a state commit started */
    LS_NSTEPS,
    LS_APPLY = LS_NSTEPS, /* committed entries applied (and queued entries) */
    LS_LOG_WRITE,         /* entries and hard state written to the log's file */
    LS_LOG_FSYNC,         /* an fsync of the log on the loop (a light pass's) */
    LS_CRON,              /* the cron (main.c: expiry, eviction, cleanup, commits' start) */
    LS_NPARTS
};

/* us spent on part in the current pass. */
void loopstat_add(enum loopstat_part part, int64_t us);

/* A callback that starts work: the first call of a pass marks its start. */
void loopstat_busy(void);

/* The end of a pass (after end_of_pass()); `since` is when end_of_pass()
 * began, the start of a pass no callback marked. */
void loopstat_pass_end(int64_t since_us);

/* INFO stats lines ("eventloop_...:...\r\n") into buf; the length written. */
size_t loopstat_info(char *buf, size_t len);

void loopstat_reset(void);

/* A step of the loop (a commit, a raft pass) that began at t0 (mono_us)
 * ends: one that held the loop 250 ms or more is logged ("Slow: what
 * took N ms"). Returns how long it took (us). */
int64_t loopstat_step(const char *what, int64_t t0);

#endif
