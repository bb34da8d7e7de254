/* kvtest_cmd.h -- the collection tests' command builder (test_hash.c,
 * test_zset.c): a command of up to 2 * BATCH + 10 arguments built one
 * printf at a time, run as the server would (kvtest.h), the reply
 * NUL-terminated. The including file defines BATCH first. */
#ifndef RAFTKV_KVTEST_CMD_H
#define RAFTKV_KVTEST_CMD_H

#include <stdarg.h>
#include <time.h>

#include "kvtest.h"

typedef struct cmd {
    int argc;
    char *argv[2 + 2 * BATCH + 8];
    size_t argvlen[2 + 2 * BATCH + 8];
    char buf[(2 * BATCH + 10) * 24];
    size_t used;
} cmd;

static void cmd_reset(cmd *c)
{
    c->argc = 0;
    c->used = 0;
}

static void cmd_arg(cmd *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = c->buf + c->used;
    int n = vsnprintf(p, sizeof(c->buf) - c->used, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof(c->buf) - c->used);
    c->argv[c->argc] = p;
    c->argvlen[c->argc++] = (size_t)n;
    c->used += (size_t)n + 1;
}

/* The entries' time: the clock, or a fixed one where two states must see
 * the same entries. */
static int64_t fixed_tau;

/* Runs c and returns the reply (valid until the next run). */
static const char *run(kvstate *s, cmd *c, resp_buf *out)
{
    resp_buf_reset(out);
    int64_t now = fixed_tau ? fixed_tau : kvt_now_ms();
    assert_int_equal(kvt_run(s, now, now, c->argc, c->argv, c->argvlen, out), 0);
    resp_add_raw(out, "", 1); /* NUL-terminate for the string checks */
    return out->p;
}

static const char *run1(kvstate *s, resp_buf *out, const char *fmt, ...)
{
    static cmd c;
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    cmd_reset(&c);
    char *save = NULL;
    for (char *t = strtok_r(line, " ", &save); t; t = strtok_r(NULL, " ", &save))
        cmd_arg(&c, "%s", t);
    return run(s, &c, out);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
