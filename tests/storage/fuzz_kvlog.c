/* fuzz_kvlog.c -- libFuzzer target for the log file decoder (kvlog_open's
 * replay). The input is written as the only segment of a log; opening it
 * must succeed or fail with KV_ECORRUPT, never read out of bounds, crash
 * or leak. What opens must read back whole (every entry, by range and one
 * by one), take one more entry and a hard state, and reopen to the same
 * state plus that entry (the torn tail it may have cut is gone for good).
 * Seeds in corpus_log/ are segments kvlog itself wrote (entries, hard
 * state, meta, truncations at both ends, a reset, a torn tail). */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kvtest.h"

static char *dir;

static void cleanup(void)
{
    kvt_rmrf(dir);
}

static int count_one(void *ctx, uint64_t index, uint64_t term, uint8_t type, const void *data,
                     size_t len)
{
    uint64_t *n = ctx;
    (void)index, (void)term, (void)type;
    if (len && !data) abort();
    (*n)++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512], err[256];
    if (!dir) {
        dir = kvt_mkdtemp();
        atexit(cleanup);
        snprintf(path, sizeof(path), "%s/log", dir);
        mkdir(path, 0755);
    }
    snprintf(path, sizeof(path), "%s/log/0000000000000001.wal", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, data, size) != (ssize_t)size) abort();
    close(fd);

    kvlog *l = NULL;
    int rc = kvlog_open(&l, dir, 1ull << 30, err, sizeof(err));
    if (rc == KV_ECORRUPT) goto out;
    if (rc != 0) abort();
    uint64_t first = kvlog_first_index(l), last = kvlog_last_index(l), n = 0, t;
    if (last + 1 < first) abort();
    if (kvlog_range(l, first, last + 1, count_one, &n) != 0 || n != last + 1 - first) abort();
    for (uint64_t i = first; i <= last && i < first + 64; i++) {
        void *d;
        size_t len;
        if (kvlog_get(l, i, NULL, NULL, &d, &len) != 0) abort();
        free(d);
    }
    if (kvlog_term(l, first - 1, &t) != 0) abort();
    kvlog_hardstate hs;
    if (kvlog_get_hardstate(l, &hs) != 0) abort();
    uint64_t bytes = kvlog_bytes(l);
    int appended = last < UINT64_MAX - 1;
    if (appended && kvlog_append(l, last + 1, 7, 1, "fuzz", 4) != 0) abort();
    hs.commit++;
    if (kvlog_set_hardstate(l, &hs) != 0 || kvlog_sync(l) != 0) abort();
    kvlog_close(l);
    if (kvlog_open(&l, dir, 1ull << 30, err, sizeof(err)) != 0) abort();
    kvlog_hardstate hs2;
    if (kvlog_first_index(l) != first || kvlog_last_index(l) != last + (uint64_t)appended ||
        kvlog_get_hardstate(l, &hs2) != 0 || memcmp(&hs, &hs2, sizeof(hs)) != 0 ||
        kvlog_bytes(l) != bytes + (appended ? 26 + 4 : 0))
        abort();
    kvlog_close(l);
out:
    /* Whatever segments the run left (a roll never happens at 1 GB). */
    snprintf(path, sizeof(path), "%s/log/0000000000000001.wal", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/log/0000000000000002.wal", dir);
    unlink(path);
    return 0;
}
