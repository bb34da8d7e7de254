/* kvtest.h -- helpers shared by the storage/ tests: temporary data
 * directories and running commands through a state as the server would. */
#ifndef RAFTKV_KVTEST_H
#define RAFTKV_KVTEST_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "resp/resp.h"
#include "storage/kvcmd.h"
#include "storage/kventry.h"
#include "storage/kverr.h"
#include "storage/kvlog.h"
#include "storage/kvstate.h"

#define KVT_MAP (256ull << 20)

static inline char *kvt_mkdtemp(void)
{
    char tmpl[] = "/tmp/raftkv-storage-XXXXXX";
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

/* The whole file, malloc'd; *len gets its size (len may be NULL). */
static inline char *kvt_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc(n > 0 ? (size_t)n : 1);
    if (b && n > 0 && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (len) *len = n > 0 ? (size_t)n : 0;
    return b;
}

static inline int kvt_rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline void kvt_rmrf(char *dir)
{
    if (dir) {
        nftw(dir, kvt_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
        free(dir);
    }
}

static inline int64_t kvt_now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static inline kvstate *kvt_open_state(const char *dir)
{
    kvstate *s = NULL;
    char err[256];
    if (kvstate_open(&s, dir, KVT_MAP, err, sizeof(err)) != 0) {
        fprintf(stderr, "kvstate_open: %s\n", err);
        abort();
    }
    return s;
}

/* Runs one command as the server does: a write is checked, encoded with
 * tau and applied at the next index; a read goes to kvstate_read with wall
 * as the clock. The reply (RESP2) is appended to out. Returns the storage
 * code. */
/* The database kvt_run's commands run in (SELECT). */
static int kvt_db;

static inline int kvt_run(kvstate *s, int64_t tau, int64_t wall, int argc, char **argv,
                          size_t *argvlen, resp_buf *out)
{
    const kv_command *cmd = kv_command_lookup(argv[0], argvlen[0]);
    if (cmd && (cmd->flags & KV_CMD_READONLY))
        return kvstate_read(s, kvt_db, cmd, argc, argv, argvlen, wall, out);
    resp_buf e;
    resp_buf_init(&e, 2);
    kventry_encode_cmd(&e, tau, kvt_db, argc, argv, argvlen);
    int rc = kvstate_apply(s, kvstate_applied_index(s) + 1, e.p, e.len, out);
    resp_buf_free(&e);
    return rc;
}

/* Splits a command line on spaces (no quoting: tests that need binary
 * arguments build argv themselves). */
static inline int kvt_runs(kvstate *s, int64_t tau, const char *line, resp_buf *out)
{
    char *copy = strdup(line), *save = NULL;
    char *argv[64];
    size_t argvlen[64];
    int argc = 0;
    for (char *t = strtok_r(copy, " ", &save); t && argc < 64; t = strtok_r(NULL, " ", &save)) {
        argv[argc] = t;
        argvlen[argc] = strlen(t);
        argc++;
    }
    int rc = kvt_run(s, tau, tau, argc, argv, argvlen, out);
    free(copy);
    return rc;
}

#endif
