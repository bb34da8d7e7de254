/* kvtest_fx.h -- the storage tests' fixture (test_list.c, test_set.c,
 * test_script.c, test_watch.c): a state in a temp dir, database 0, commands
 * run as the server would (kvtest.h) with the reply in f->r, and a
 * monotonic clock for timings. */
#ifndef RAFTKV_KVTEST_FX_H
#define RAFTKV_KVTEST_FX_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kvtest.h"

typedef struct fx {
    char *dir;
    kvstate *s;
    resp_buf r;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    f->dir = kvt_mkdtemp();
    f->s = kvt_open_state(f->dir);
    resp_buf_init(&f->r, 2);
    kvt_db = 0;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    kvstate_close(f->s);
    kvt_rmrf(f->dir);
    resp_buf_free(&f->r);
    free(f);
    return 0;
}

/* Runs argv (NUL-terminated strings) as the server would; the reply is in
 * f->r. */
static inline void runv(fx *f, int argc, char **argv)
{
    size_t argvlen[2048];
    assert_true(argc <= 2048);
    for (int i = 0; i < argc; i++)
        argvlen[i] = strlen(argv[i]);
    resp_buf_reset(&f->r);
    int64_t now = kvt_now_ms();
    assert_int_equal(kvt_run(f->s, now, now, argc, argv, argvlen, &f->r), 0);
}

static inline void expect(fx *f, const char *line, const char *want)
{
    resp_buf_reset(&f->r);
    assert_int_equal(kvt_runs(f->s, kvt_now_ms(), line, &f->r), 0);
    if (f->r.len != strlen(want) || memcmp(f->r.p, want, f->r.len) != 0) {
        fprintf(stderr, "%s => %.*s (want %s)\n", line, (int)f->r.len, f->r.p, want);
        fail();
    }
}

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
