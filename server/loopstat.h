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
 * the longest. Everything runs on the loop's thread. */
#ifndef RAFTKV_LOOPSTAT_H
#define RAFTKV_LOOPSTAT_H

#include <stddef.h>
#include <stdint.h>

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
