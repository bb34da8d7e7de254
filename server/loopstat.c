/* loopstat.c -- the event loop's busy time per pass (loopstat.h). */
#include <stdio.h>
#include <string.h>

#include "server/log.h"
#include "server/loopstat.h"
#include "server/server.h"

#define SLOW_PASS_US 10000
#define LOG_EVERY_US 10000000

static const int64_t bounds_ms[] = {1, 2, 5, 10, 25, 50, 100, 250};
#define NBOUNDS (sizeof(bounds_ms) / sizeof(bounds_ms[0]))

static int64_t pass_start; /* 0: no callback marked this pass */
static uint64_t passes, over, hist[NBOUNDS + 1];
static int64_t longest;
/* The log line's window: passes over 10 ms since window_start; last_log 0
 * until the first line. */
static int64_t window_start, last_log, window_longest;
static uint64_t window_over;
/* The current pass's parts; the window's longest slow pass's; every slow
 * pass's, summed (INFO). */
static int64_t cur[LS_NPARTS], window_parts[LS_NPARTS], slow_sum[LS_NPARTS + 1];
static const char *const part_names[LS_NPARTS + 1] = {
    "io", "commands", "raft", "flush", "apply", "log_write", "log_fsync", "cron", "other"};

void loopstat_add(enum loopstat_part part, int64_t us)
{
    if (us > 0) cur[part] += us;
}

void loopstat_busy(void)
{
    if (!pass_start) pass_start = mono_us();
}

void loopstat_pass_end(int64_t since_us)
{
    int64_t now = mono_us();
    int64_t start = pass_start ? pass_start : since_us;
    int64_t us = now - start;
    if (since_us > start) cur[LS_IO] += since_us - start; /* callbacks until end_of_pass() */
    pass_start = 0;
    if (us < 0) us = 0;
    passes++;
    if (us > longest) longest = us;
    size_t b = 0;
    while (b < NBOUNDS && us > bounds_ms[b] * 1000)
        b++;
    hist[b]++;
    if (us > SLOW_PASS_US) {
        over++;
        window_over++;
        int64_t steps = 0;
        for (int i = 0; i < LS_NPARTS; i++) {
            slow_sum[i] += cur[i];
            if (i < LS_NSTEPS) steps += cur[i];
        }
        slow_sum[LS_NPARTS] += us > steps ? us - steps : 0; /* other */
        if (us > window_longest) {
            window_longest = us;
            memcpy(window_parts, cur, sizeof(cur));
        }
    }
    memset(cur, 0, sizeof(cur));
    if (!window_start) window_start = now;
    if (window_over && (!last_log || now - last_log >= LOG_EVERY_US)) {
        const int64_t *w = window_parts;
        serverLog(LL_NOTICE,
                  "Event loop: %llu passes over %d ms in the last %.1f s (longest %.1f ms: "
                  "I/O %.1f, pending commands %.1f, raft %.1f, flush %.1f; applying %.1f, "
                  "log writes %.1f, log fsync %.1f, cron %.1f)",
                  (unsigned long long)window_over, SLOW_PASS_US / 1000,
                  (double)(now - window_start) / 1e6, (double)window_longest / 1e3,
                  (double)w[LS_IO] / 1e3, (double)w[LS_COMMANDS] / 1e3, (double)w[LS_RAFT] / 1e3,
                  (double)w[LS_FLUSH] / 1e3, (double)w[LS_APPLY] / 1e3,
                  (double)w[LS_LOG_WRITE] / 1e3, (double)w[LS_LOG_FSYNC] / 1e3,
                  (double)w[LS_CRON] / 1e3);
        window_over = 0;
        window_longest = 0;
        window_start = last_log = now;
    }
}

size_t loopstat_info(char *buf, size_t len)
{
    size_t n = 0;
#define PUT(...)                                                                                   \
    do {                                                                                           \
        int w = snprintf(buf + n, n < len ? len - n : 0, __VA_ARGS__);                             \
        if (w > 0) n += (size_t)w;                                                                 \
    } while (0)
    PUT("eventloop_passes:%llu\r\n", (unsigned long long)passes);
    PUT("eventloop_pass_max_usec:%lld\r\n", (long long)longest);
    PUT("eventloop_passes_over_10ms:%llu\r\n", (unsigned long long)over);
    PUT("eventloop_pass_ms_hist:");
    for (size_t b = 0; b < NBOUNDS; b++)
        PUT("le%lld=%llu,", (long long)bounds_ms[b], (unsigned long long)hist[b]);
    PUT("gt%lld=%llu\r\n", (long long)bounds_ms[NBOUNDS - 1], (unsigned long long)hist[NBOUNDS]);
    PUT("eventloop_slow_pass_usec:");
    for (int i = 0; i <= LS_NPARTS; i++)
        PUT("%s=%lld%s", part_names[i], (long long)slow_sum[i], i < LS_NPARTS ? "," : "\r\n");
#undef PUT
    return n < len ? n : (len ? len - 1 : 0);
}

void loopstat_reset(void)
{
    passes = over = 0;
    longest = 0;
    for (size_t b = 0; b <= NBOUNDS; b++)
        hist[b] = 0;
    memset(slow_sum, 0, sizeof(slow_sum));
}

/* A step of the loop that held it longer than this is logged: past an
 * election timeout, peers start to see this node as gone. */
#define SLOW_STEP_US 250000

int64_t loopstat_step(const char *what, int64_t t0)
{
    int64_t us = mono_us() - t0;
    if (us >= SLOW_STEP_US)
        serverLog(LL_NOTICE, "Slow: %s took %lld ms (the event loop waited)", what,
                  (long long)(us / 1000));
    return us;
}
