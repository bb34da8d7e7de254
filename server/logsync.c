/* logsync.c -- the log's fdatasync on its own thread.
 *
 * The event loop writes each pass's log batch (kvlog_write: page cache
 * only) and goes on: it reads the next requests, steps peer messages,
 * applies and answers what committed. One sync thread runs fdatasync on
 * the log segment and reports the position it covered through an eventfd;
 * the loop then tells the log (kvlog_synced: segment GC and roll happen
 * there, never while an fdatasync runs) and the driver (driver_durable:
 * the leader's own match index, and the acknowledgements held until their
 * entries were on disk). One fdatasync is in flight at a time; what is
 * written meanwhile goes with the next one (group commit).
 *
 * Threads: the sync thread touches nothing but the fd it was handed and
 * the fields under mu. Everything else runs in the loop thread. */
#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "server/diag.h"
#include "server/log.h"
#include "server/loopstat.h"
#include "server/server.h"
#include "storage/kverr.h"
#include "storage/kvlog.h"

static pthread_t thread;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
/* under mu */
static int req_fd = -1;    /* a request: fdatasync this fd ... */
static uint64_t req_pos;   /* ... which makes everything before req_pos durable */
static int done, done_err; /* the thread finished the request */
static uint64_t done_pos;
static int64_t done_us; /* the fdatasync's duration */
static int quit;
/* loop thread only */
static int running;  /* the thread exists */
static int inflight; /* a request is out and its completion not handled */
static uint64_t durable_pos;
static uint64_t wanted_pos; /* the log position something waits for */
/* An fdatasync slower than this keeps the next ones off the loop: a light
 * pass syncs inline only while the disk answers fast (a disk that takes a
 * second would stop the loop, and with it the leader's heartbeats, for as
 * long). */
#define INLINE_MAX_US 2000
/* Nor does a pass that wrote more than this since the last fdatasync (a
 * follower catching up writes megabytes a pass; their writeback would hold
 * the loop for as long). */
#define INLINE_MAX_BYTES (256u << 10)
static int64_t last_sync_us; /* the last fdatasync's duration */
/* RAFTKV_TEST_LOG_FSYNC_DELAY_MS: tests make every fdatasync of the log
 * this much slower (a slow disk), wherever it runs. */
static unsigned test_delay_ms;
static int efd = -1;
static struct event *ev;

/* fdatasync, then the test delay. */
static int log_fdatasync(int fd)
{
    int rc = fdatasync(fd);
    if (test_delay_ms) {
        int e = errno;
        struct timespec ts = {test_delay_ms / 1000, (long)(test_delay_ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
        errno = e;
    }
    return rc;
}

static void *sync_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    for (;;) {
        while (req_fd < 0 && !quit)
            pthread_cond_wait(&cv, &mu);
        if (req_fd < 0) break; /* quit with nothing asked */
        int fd = req_fd;
        uint64_t pos = req_pos;
        pthread_mutex_unlock(&mu);
        int64_t t0 = mono_us();
        int rc = log_fdatasync(fd) == 0 ? 0 : errno;
        int64_t took = mono_us() - t0;
        pthread_mutex_lock(&mu);
        done_us = took;
        req_fd = -1;
        done = 1;
        done_err = rc;
        done_pos = pos;
        pthread_cond_broadcast(&cv);
        uint64_t one = 1;
        ssize_t w = write(efd, &one, sizeof(one)); /* wakes the loop */
        (void)w;
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

/* The loop's side of a finished request. */
static void complete(void)
{
    pthread_mutex_lock(&mu);
    int err = done_err;
    uint64_t pos = done_pos;
    int64_t took = done_us;
    done = 0;
    pthread_mutex_unlock(&mu);
    diag_latency_sample("log-fsync", took);
    last_sync_us = took;
    inflight = 0;
    if (err) {
        char file[512];
        kvlog_sync_file(srv.log, file, sizeof(file));
        serverLog(LL_WARNING, "fdatasync of the log (%s) failed: %s. Stopping.", file,
                  strerror(err));
        exit(1);
    }
    if (pos > durable_pos) durable_pos = pos;
    int rc = kvlog_synced(srv.log, pos);
    if (rc) {
        serverLog(LL_WARNING, "The log after a sync: %s (%s). Stopping.", kv_strerror(rc),
                  kvlog_last_error(srv.log));
        exit(1);
    }
    driver_durable();
}

static void on_event(evutil_socket_t fd, short what, void *arg)
{
    (void)what, (void)arg;
    loopstat_busy();
    uint64_t n;
    ssize_t r = read(fd, &n, sizeof(n));
    (void)r;
    pthread_mutex_lock(&mu);
    int d = done;
    pthread_mutex_unlock(&mu);
    if (d) complete();
    logsync_kick(0);
}

int logsync_start(void)
{
    uint64_t pos;
    if (kvlog_write(srv.log, &pos) != 0) return -1;
    durable_pos = pos; /* opened and replayed: what is there is on disk */
    const char *d = getenv("RAFTKV_TEST_LOG_FSYNC_DELAY_MS");
    if (d) test_delay_ms = (unsigned)strtoul(d, NULL, 10);
    efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd < 0) return -1;
    ev = event_new(srv.base, efd, EV_READ | EV_PERSIST, on_event, NULL);
    if (!ev || event_add(ev, NULL) != 0) return -1;
    if (pthread_create(&thread, NULL, sync_main, NULL) != 0) return -1;
    running = 1;
    return 0;
}

void logsync_want(uint64_t pos)
{
    if (pos > wanted_pos) wanted_pos = pos;
}

uint64_t logsync_durable_pos(void)
{
    return durable_pos;
}

int logsync_active(void)
{
    return running;
}

/* Starts an fdatasync of what was written, unless one runs. With inline
 * set (the caller's choice, driver.c) and none running, it is done here
 * and now instead: handing it to the thread and being woken back costs
 * more latency than a short fdatasync blocks the loop (not after one that
 * took over INLINE_MAX_US, nor for over INLINE_MAX_BYTES). Returns 1 when
 * it synced inline (the caller handles what became durable), 0 otherwise. */
int logsync_kick(int inline_ok)
{
    if (!running || inflight) return 0;
    uint64_t pos;
    int64_t tw = mono_us();
    int rc = kvlog_write(srv.log, &pos); /* anything pending goes too */
    loopstat_add(LS_LOG_WRITE, mono_us() - tw);
    if (rc) {
        serverLog(LL_WARNING, "Writing the log failed: %s (%s). Stopping.", kv_strerror(rc),
                  kvlog_last_error(srv.log));
        exit(1);
    }
    if (wanted_pos <= durable_pos) return 0; /* e.g. only a commit index: no fsync for it */
    if (inline_ok && last_sync_us <= INLINE_MAX_US && pos - durable_pos <= INLINE_MAX_BYTES) {
        int64_t t0 = mono_us();
        if (log_fdatasync(kvlog_sync_fd(srv.log)) != 0) {
            int e = errno;
            char file[512];
            kvlog_sync_file(srv.log, file, sizeof(file));
            serverLog(LL_WARNING, "fdatasync of the log (%s) failed: %s. Stopping.", file,
                      strerror(e));
            exit(1);
        }
        last_sync_us = mono_us() - t0;
        diag_latency_sample("log-fsync", last_sync_us);
        loopstat_add(LS_LOG_FSYNC, last_sync_us);
        durable_pos = pos;
        if ((rc = kvlog_synced(srv.log, pos)) != 0) {
            serverLog(LL_WARNING, "The log after a sync: %s (%s). Stopping.", kv_strerror(rc),
                      kvlog_last_error(srv.log));
            exit(1);
        }
        driver_durable();
        return 1;
    }
    pthread_mutex_lock(&mu);
    req_fd = kvlog_sync_fd(srv.log);
    req_pos = pos;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    inflight = 1;
    return 0;
}

void logsync_drain(void)
{
    if (!running || !inflight) return;
    pthread_mutex_lock(&mu);
    while (!done)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    complete();
}

void logsync_note_synced(void)
{
    uint64_t pos;
    if (kvlog_write(srv.log, &pos) == 0 && pos > durable_pos) durable_pos = pos;
    info_log_synced();
}

void logsync_stop(void)
{
    if (!running) return;
    logsync_drain();
    pthread_mutex_lock(&mu);
    quit = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    pthread_join(thread, NULL);
    running = 0;
    if (ev) event_free(ev);
    ev = NULL;
    if (efd >= 0) close(efd);
    efd = -1;
}
