/* test_blocking.c -- the storage side of the blocking commands: what an
 * applied BLPOP & co. replies and whether it leaves its entry blocked
 * (kvstate_apply_blocked), the timeout rule, where the server finds the
 * waited keys (kv_blocking_args), and the key_ready hook: called for every
 * write that makes a list or sorted set ready, in the right database, and
 * never for a read. Replies of immediate serves are also compared with
 * redis-server byte for byte in cases_list.txt / cases_zset.txt. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kvtest.h"

/* ------------------------------------------------------------ hooks */

typedef struct ready_call {
    int db;
    char key[64]; /* "*" for a whole database (key NULL) */
} ready_call;

typedef struct recorder {
    ready_call calls[64];
    int n;
} recorder;

static void on_ready(void *ctx, int db, const char *key, size_t keylen)
{
    recorder *r = ctx;
    assert_true(r->n < 64);
    ready_call *c = &r->calls[r->n++];
    c->db = db;
    if (key) {
        assert_true(keylen < sizeof(c->key));
        memcpy(c->key, key, keylen);
        c->key[keylen] = '\0';
    } else {
        strcpy(c->key, "*");
    }
}

typedef struct fx {
    char *dir;
    kvstate *s;
    resp_buf r;
    recorder rec;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    f->dir = kvt_mkdtemp();
    f->s = kvt_open_state(f->dir);
    resp_buf_init(&f->r, 2);
    kvstate_hooks h = {.ctx = &f->rec, .key_ready = on_ready};
    kvstate_set_hooks(f->s, &h);
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
    kvt_db = 0;
    return 0;
}

/* Runs line (space-separated) as the server would, in protocol proto, and
 * compares the reply with want. The recorder is cleared first. */
static void run_p(fx *f, int proto, const char *line, const char *want)
{
    f->rec.n = 0;
    resp_buf_free(&f->r);
    resp_buf_init(&f->r, proto);
    assert_int_equal(kvt_runs(f->s, kvt_now_ms(), line, &f->r), 0);
    if (f->r.len != strlen(want) || memcmp(f->r.p, want, f->r.len) != 0) {
        fprintf(stderr, "RESP%d %s => %.*s (want %s)\n", proto, line, (int)f->r.len, f->r.p, want);
        fail();
    }
}

static void run(fx *f, const char *line, const char *want)
{
    run_p(f, 2, line, want);
}

/* The recorder holds exactly the calls "db:key" listed, in order. */
static void ready_calls(fx *f, int n, ...)
{
    va_list ap;
    va_start(ap, n);
    int ok = f->rec.n == n;
    for (int i = 0; ok && i < n; i++) {
        const char *want = va_arg(ap, const char *);
        char got[80];
        snprintf(got, sizeof(got), "%d:%s", f->rec.calls[i].db, f->rec.calls[i].key);
        if (strcmp(got, want) != 0) ok = 0;
    }
    va_end(ap);
    if (!ok) {
        fprintf(stderr, "key_ready calls (%d):", f->rec.n);
        for (int i = 0; i < f->rec.n; i++)
            fprintf(stderr, " %d:%s", f->rec.calls[i].db, f->rec.calls[i].key);
        fprintf(stderr, " (want %d)\n", n);
        fail();
    }
}

/* A MULTI entry of the commands in lines (space-separated), reply to want. */
static void run_multi(fx *f, int proto, int n, const char **lines, const char *want)
{
    resp_buf e;
    resp_buf_init(&e, 2);
    kventry_begin_multi(&e, kvt_now_ms(), 0, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        char *copy = strdup(lines[i]), *save = NULL, *argv[16];
        size_t argvlen[16];
        int argc = 0;
        for (char *t = strtok_r(copy, " ", &save); t && argc < 16; t = strtok_r(NULL, " ", &save)) {
            argv[argc] = t;
            argvlen[argc++] = strlen(t);
        }
        kventry_add_cmd(&e, argc, argv, argvlen);
        free(copy);
    }
    resp_buf_free(&f->r);
    resp_buf_init(&f->r, proto);
    assert_int_equal(kvstate_apply(f->s, kvstate_applied_index(f->s) + 1, e.p, e.len, &f->r), 0);
    resp_buf_free(&e);
    if (f->r.len != strlen(want) || memcmp(f->r.p, want, f->r.len) != 0) {
        fprintf(stderr, "MULTI => %.*s (want %s)\n", (int)f->r.len, f->r.p, want);
        fail();
    }
}

/* ------------------------------------------------------------ blocked */

static void an_empty_blocking_pop_leaves_its_entry_blocked(void **state)
{
    fx *f = *state;
    run(f, "BLPOP a b 0", "*-1\r\n");
    assert_int_equal(kvstate_apply_blocked(f->s), 1);
    run_p(f, 3, "BRPOP a 1.5", "_\r\n");
    assert_int_equal(kvstate_apply_blocked(f->s), 1);
    run(f, "BLMOVE a b left right 0", "$-1\r\n");
    assert_int_equal(kvstate_apply_blocked(f->s), 1);
    run_p(f, 3, "BRPOPLPUSH a b 0", "_\r\n");
    assert_int_equal(kvstate_apply_blocked(f->s), 1);
    run(f, "BLMPOP 0 2 a b left count 2", "*-1\r\n");
    assert_int_equal(kvstate_apply_blocked(f->s), 1);
    run(f, "BZPOPMIN a b 0", "*-1\r\n");
    assert_int_equal(kvstate_apply_blocked(f->s), 1);
    run(f, "BZPOPMAX a 0", "*-1\r\n");
    assert_int_equal(kvstate_apply_blocked(f->s), 1);
    run_p(f, 3, "BZMPOP 0 1 a min", "_\r\n");
    assert_int_equal(kvstate_apply_blocked(f->s), 1);
    /* Nothing was created or signalled by a pop that found nothing. */
    ready_calls(f, 0);
    run(f, "EXISTS a b", ":0\r\n");
    /* A BLMOVE whose destination holds another type still just waits. */
    run(f, "SET s v", "+OK\r\n");
    run(f, "BLMOVE a s left right 0", "$-1\r\n");
    assert_int_equal(kvstate_apply_blocked(f->s), 1);
}

static void the_next_entry_clears_the_blocked_flag(void **state)
{
    fx *f = *state;
    run(f, "BLPOP a 0", "*-1\r\n");
    assert_int_equal(kvstate_apply_blocked(f->s), 1);
    run(f, "SET x 1", "+OK\r\n");
    assert_int_equal(kvstate_apply_blocked(f->s), 0);
}

static void a_served_pop_is_not_blocked(void **state)
{
    fx *f = *state;
    run(f, "RPUSH b x y", ":2\r\n");
    run(f, "BLPOP a b 0", "*2\r\n$1\r\nb\r\n$1\r\nx\r\n");
    assert_int_equal(kvstate_apply_blocked(f->s), 0);
    run_p(f, 3, "BRPOP a b 0", "*2\r\n$1\r\nb\r\n$1\r\ny\r\n");
    assert_int_equal(kvstate_apply_blocked(f->s), 0);
    run(f, "EXISTS b", ":0\r\n");
    run(f, "ZADD z 1 m 2 n", ":2\r\n");
    run_p(f, 3, "BZPOPMIN a z 0", "*3\r\n$1\r\nz\r\n$1\r\nm\r\n,1\r\n");
    assert_int_equal(kvstate_apply_blocked(f->s), 0);
    run_p(f, 3, "BZMPOP 0 1 z max count 5", "*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\nn\r\n,2\r\n");
    assert_int_equal(kvstate_apply_blocked(f->s), 0);
}

static void errors_and_wrongtype_are_not_blocked(void **state)
{
    fx *f = *state;
    run(f, "BLPOP a -1", "-ERR timeout is negative\r\n");
    assert_int_equal(kvstate_apply_blocked(f->s), 0);
    run(f, "SET s v", "+OK\r\n");
    run(f, "BLPOP a s 0", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    assert_int_equal(kvstate_apply_blocked(f->s), 0);
    run(f, "BZMPOP 0 2 a s min",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    assert_int_equal(kvstate_apply_blocked(f->s), 0);
}

static void inside_multi_nothing_blocks(void **state)
{
    fx *f = *state;
    const char *cmds[] = {"BLPOP a 0",        "BLMOVE a b left right 0",
                          "BRPOPLPUSH a b 0", "BLMPOP 0 1 a right",
                          "BZPOPMAX a 0",     "BZMPOP 0 1 a min"};
    run_multi(f, 2, 6, cmds, "*6\r\n*-1\r\n$-1\r\n$-1\r\n*-1\r\n*-1\r\n*-1\r\n");
    assert_int_equal(kvstate_apply_blocked(f->s), 0);
    run_multi(f, 3, 6, cmds, "*6\r\n_\r\n_\r\n_\r\n_\r\n_\r\n_\r\n");
    assert_int_equal(kvstate_apply_blocked(f->s), 0);
    /* Served from what the transaction pushed before it. */
    const char *served[] = {"RPUSH a x", "BLPOP a 0", "BLPOP a 0"};
    run_multi(f, 2, 3, served, "*3\r\n:1\r\n*2\r\n$1\r\na\r\n$1\r\nx\r\n*-1\r\n");
    assert_int_equal(kvstate_apply_blocked(f->s), 0);
}

/* ------------------------------------------------------------ timeouts */

static void timeout_follows_redis_7_0(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int ok;
        int64_t ms;
        const char *err;
    } cases[] = {
        {"0", 1, 0, NULL},
        {"1", 1, 1000, NULL},
        {"1.5", 1, 1500, NULL},
        {"0.0001", 1, 1, NULL}, /* rounded up: it times out, not "forever" */
        {"4.9e-324", 1, 1, NULL},
        {"-0", 1, 0, NULL},
        {"-0.0009", 1, 0, NULL}, /* rounds up to -0: forever */
        {".5", 1, 500, NULL},
        {"1e3", 1, 1000000, NULL},
        {"9223372036854775.807", 1, INT64_MAX, NULL},
        {"-0.0011", 0, 0, "-ERR timeout is negative\r\n"},
        {"-1", 0, 0, "-ERR timeout is negative\r\n"},
        {"9223372036854775.808", 0, 0, "-ERR timeout is negative\r\n"},
        {"1e300", 0, 0, "-ERR timeout is negative\r\n"},
        {"inf", 0, 0, "-ERR timeout is negative\r\n"},
        {"-inf", 0, 0, "-ERR timeout is negative\r\n"},
        {"abc", 0, 0, "-ERR timeout is not a float or out of range\r\n"},
        {"nan", 0, 0, "-ERR timeout is not a float or out of range\r\n"},
        {"", 0, 0, "-ERR timeout is not a float or out of range\r\n"},
        {" 1", 0, 0, "-ERR timeout is not a float or out of range\r\n"},
        {"1 ", 0, 0, "-ERR timeout is not a float or out of range\r\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        resp_buf err;
        resp_buf_init(&err, 2);
        int64_t ms = -42;
        int rc = kv_parse_timeout(cases[i].s, strlen(cases[i].s), &ms, &err);
        if (rc != (cases[i].ok ? 0 : -1) || (cases[i].ok && ms != cases[i].ms) ||
            (!cases[i].ok &&
             (err.len != strlen(cases[i].err) || memcmp(err.p, cases[i].err, err.len) != 0))) {
            fprintf(stderr, "timeout '%s': rc %d ms %lld err %.*s\n", cases[i].s, rc, (long long)ms,
                    (int)err.len, err.p);
            fail();
        }
        resp_buf_free(&err);
    }
}

static void blocking_args_name_the_timeout_and_waited_keys(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        int rc, timeout, firstkey, nkeys;
    } cases[] = {
        {"blpop a b c 0", 0, 4, 1, 3},
        {"BRPOP a 1", 0, 2, 1, 1},
        {"bzpopmin a b 0", 0, 3, 1, 2},
        {"bzpopmax a 0", 0, 2, 1, 1},
        {"blmove src dst left right 0", 0, 5, 1, 1},
        {"brpoplpush src dst 0", 0, 3, 1, 1},
        {"blmpop 0 2 a b left count 3", 0, 1, 3, 2},
        {"bzmpop 1.5 1 a min", 0, 1, 3, 1},
        {"lpop a", -1, 0, 0, 0},
        {"lmpop 1 a left", -1, 0, 0, 0},
        {"xread count 2 block 100 streams a b 0 0", 0, 4, 6, 2},
        {"xreadgroup group g c block 5 noack streams a >", 0, 5, 8, 1},
        {"xread streams a 0", -1, 0, 0, 0},
        {"xreadgroup group g c streams a >", -1, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *copy = strdup(cases[i].line), *save = NULL, *argv[16];
        size_t argvlen[16];
        int argc = 0;
        for (char *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
            argv[argc] = t;
            argvlen[argc++] = strlen(t);
        }
        kv_block_args a = {0};
        const kv_command *cmd = kv_command_lookup(argv[0], argvlen[0]);
        assert_non_null(cmd);
        int rc = kv_blocking_args(cmd, argc, argv, argvlen, &a);
        assert_int_equal(rc, cases[i].rc);
        if (rc == 0) {
            assert_int_equal(a.timeout, cases[i].timeout);
            assert_int_equal(a.firstkey, cases[i].firstkey);
            assert_int_equal(a.nkeys, cases[i].nkeys);
        }
        free(copy);
    }
}

static void the_blocking_rows_carry_redis_flags(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        uint32_t flags;
    } rows[] = {
        {"blpop", KV_CMD_WRITE | KV_CMD_BLOCKING},
        {"brpop", KV_CMD_WRITE | KV_CMD_BLOCKING},
        {"blmove", KV_CMD_WRITE | KV_CMD_DENYOOM | KV_CMD_BLOCKING},
        {"brpoplpush", KV_CMD_WRITE | KV_CMD_DENYOOM | KV_CMD_BLOCKING},
        {"blmpop", KV_CMD_WRITE | KV_CMD_BLOCKING},
        {"bzpopmin", KV_CMD_WRITE | KV_CMD_FAST | KV_CMD_BLOCKING},
        {"bzpopmax", KV_CMD_WRITE | KV_CMD_FAST | KV_CMD_BLOCKING},
        {"bzmpop", KV_CMD_WRITE | KV_CMD_BLOCKING},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const kv_command *cmd = kv_command_lookup(rows[i].name, strlen(rows[i].name));
        assert_non_null(cmd);
        assert_int_equal(cmd->flags, rows[i].flags);
    }
    /* No other command blocks. */
    int n = 0;
    for (size_t i = 0; i < kv_command_count(); i++)
        n += (kv_command_at(i)->flags & KV_CMD_BLOCKING) != 0;
    assert_int_equal(n, 8);
}

/* ------------------------------------------------------------ key_ready */

static void pushes_and_creations_signal_the_key(void **state)
{
    fx *f = *state;
    run(f, "LPUSH l a", ":1\r\n");
    ready_calls(f, 1, "0:l");
    run(f, "RPUSH l b c", ":3\r\n");
    ready_calls(f, 1, "0:l");
    run(f, "LPUSHX l z", ":4\r\n");
    ready_calls(f, 1, "0:l");
    run(f, "LINSERT l BEFORE b x", ":5\r\n");
    ready_calls(f, 1, "0:l");
    /* LMOVE: the destination (and the source, which keeps elements). */
    run(f, "LMOVE l d LEFT RIGHT", "$1\r\nz\r\n");
    ready_calls(f, 2, "0:d", "0:l");
    run(f, "ZADD z 1 a", ":1\r\n");
    ready_calls(f, 1, "0:z");
    run(f, "ZINCRBY z 2 b", "$1\r\n2\r\n");
    ready_calls(f, 1, "0:z");
    run(f, "ZUNIONSTORE zu 1 z", ":2\r\n");
    ready_calls(f, 1, "0:zu");
    run(f, "ZRANGESTORE zr z 0 -1", ":2\r\n");
    ready_calls(f, 1, "0:zr");
    run(f, "SORT l ALPHA STORE sorted", ":4\r\n");
    ready_calls(f, 1, "0:sorted");
}

static void renames_moves_copies_and_swapdb_signal(void **state)
{
    fx *f = *state;
    run(f, "RPUSH l a b", ":2\r\n");
    run(f, "RENAME l l2", "+OK\r\n");
    ready_calls(f, 1, "0:l2");
    run(f, "RENAMENX l2 l3", ":1\r\n");
    ready_calls(f, 1, "0:l3");
    run(f, "COPY l3 l4", ":1\r\n");
    ready_calls(f, 1, "0:l4");
    run(f, "COPY l3 l5 DB 2", ":1\r\n");
    ready_calls(f, 1, "2:l5");
    /* MOVE signals in the target database. */
    run(f, "ZADD z 1 a", ":1\r\n");
    run(f, "MOVE z 1", ":1\r\n");
    ready_calls(f, 1, "1:z");
    run(f, "SWAPDB 0 3", "+OK\r\n");
    ready_calls(f, 2, "0:*", "3:*");
    run(f, "SWAPDB 3 3", "+OK\r\n");
    ready_calls(f, 0);
    /* In a selected database the hook reports that database. */
    kvt_db = 1;
    run(f, "RPUSH q x", ":1\r\n");
    ready_calls(f, 1, "1:q");
    kvt_db = 0;
}

static void reads_and_other_types_do_not_signal(void **state)
{
    fx *f = *state;
    run(f, "RPUSH l a b", ":2\r\n");
    run(f, "ZADD z 1 a", ":1\r\n");
    run(f, "LRANGE l 0 -1", "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    ready_calls(f, 0);
    run(f, "LLEN l", ":2\r\n");
    ready_calls(f, 0);
    run(f, "ZRANGE z 0 -1", "*1\r\n$1\r\na\r\n");
    ready_calls(f, 0);
    run(f, "SET s v", "+OK\r\n");
    ready_calls(f, 0);
    run(f, "HSET h f v", ":1\r\n");
    ready_calls(f, 0);
    run(f, "SADD st m", ":1\r\n");
    ready_calls(f, 0);
    run(f, "RENAME st st2", "+OK\r\n");
    ready_calls(f, 0);
    /* A pop that empties the key, and a delete, have nothing to offer. */
    run(f, "ZPOPMIN z", "*2\r\n$1\r\na\r\n$1\r\n1\r\n");
    ready_calls(f, 0);
    run(f, "DEL l", ":1\r\n");
    ready_calls(f, 0);
    run(f, "EXPIRE s 100", ":1\r\n");
    ready_calls(f, 0);
}

static void a_serve_that_leaves_elements_signals_the_next_waiter(void **state)
{
    fx *f = *state;
    run(f, "RPUSH l a b", ":2\r\n");
    run(f, "BLPOP l 0", "*2\r\n$1\r\nl\r\n$1\r\na\r\n");
    ready_calls(f, 1, "0:l");
    run(f, "BLPOP l 0", "*2\r\n$1\r\nl\r\n$1\r\nb\r\n");
    ready_calls(f, 0);
}

/* Applies line as a log entry (XREAD is a read, but a blocked one's
 * attempt is an entry) and compares the reply. */
static void apply_p(fx *f, const char *line, const char *want)
{
    char *copy = strdup(line), *save = NULL, *argv[16];
    size_t argvlen[16];
    int argc = 0;
    for (char *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        argv[argc] = t;
        argvlen[argc++] = strlen(t);
    }
    f->rec.n = 0;
    resp_buf_reset(&f->r);
    resp_buf e;
    resp_buf_init(&e, 2);
    kventry_encode_cmd(&e, kvt_now_ms(), 0, argc, argv, argvlen);
    assert_int_equal(kvstate_apply(f->s, kvstate_applied_index(f->s) + 1, e.p, e.len, &f->r), 0);
    resp_buf_free(&e);
    free(copy);
    if (f->r.len != strlen(want) || memcmp(f->r.p, want, f->r.len) != 0) {
        fprintf(stderr, "%s => %.*s (want %s)\n", line, (int)f->r.len, f->r.p, want);
        fail();
    }
}

/* XREAD / XREADGROUP with BLOCK: an attempt that finds nothing leaves its
 * entry blocked, one that serves does not; XADD signals its key; the
 * internal reads blocking.c asks say when a client can be served. */
static void stream_reads_block_and_xadd_signals(void **state)
{
    fx *f = *state;
    run(f, "FLUSHALL", "+OK\r\n");
    apply_p(f, "XREAD BLOCK 0 STREAMS s $", "*-1\r\n");
    assert_int_equal(kvstate_apply_blocked(f->s), 1);
    apply_p(f, "XREAD COUNT 1 BLOCK 100 STREAMS s 0", "*-1\r\n");
    assert_int_equal(kvstate_apply_blocked(f->s), 1);
    ready_calls(f, 0);
    run(f, "XADD s 1-1 f v", "$3\r\n1-1\r\n");
    ready_calls(f, 1, "0:s");
    apply_p(f, "XREAD BLOCK 0 STREAMS s 0",
            "*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
    assert_int_equal(kvstate_apply_blocked(f->s), 0);
    apply_p(f, "XREAD BLOCK 0 STREAMS s 1-1", "*-1\r\n");
    assert_int_equal(kvstate_apply_blocked(f->s), 1);
    run(f, "RAFT.XREADY s 0", ":1\r\n");
    run(f, "RAFT.XREADY s 1-1", ":0\r\n");
    run(f, "RAFT.XREADY nosuch 0", ":0\r\n");
    run(f, "RAFT.XLASTID s", "$3\r\n1-1\r\n");
    run(f, "RAFT.XLASTID nosuch", "$3\r\n0-0\r\n");
    run(f, "XGROUP CREATE s g $", "+OK\r\n");
    run(f, "RAFT.XREADY s > g", ":0\r\n");
    run(f, "RAFT.XREADY s > nosuch", ":2\r\n"); /* a blocked XREADGROUP: -NOGROUP */
    run(f, "RAFT.XREADY nokey > g", ":3\r\n");  /* ... -UNBLOCKED */
    apply_p(f, "XREADGROUP GROUP g c BLOCK 0 STREAMS s >", "*-1\r\n");
    assert_int_equal(kvstate_apply_blocked(f->s), 1);
    /* History is served at once, even empty. */
    apply_p(f, "XREADGROUP GROUP g c BLOCK 0 STREAMS s 0", "*1\r\n*2\r\n$1\r\ns\r\n*0\r\n");
    assert_int_equal(kvstate_apply_blocked(f->s), 0);
    run(f, "XADD s 1-2 f v", "$3\r\n1-2\r\n");
    ready_calls(f, 1, "0:s");
    run(f, "RAFT.XREADY s > g", ":1\r\n");
    apply_p(f, "XREADGROUP GROUP g c BLOCK 0 STREAMS s >",
            "*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-2\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
    assert_int_equal(kvstate_apply_blocked(f->s), 0);
    run(f, "RAFT.XREADY s > g", ":0\r\n");
    /* A read never signals. */
    run(f, "XRANGE s - + COUNT 1", "*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
    ready_calls(f, 0);
    /* A group destroyed, a stream deleted or replaced: its blocked
     * XREADGROUP clients are answered, so the key is signalled. */
    run(f, "XGROUP DESTROY s g", ":1\r\n");
    ready_calls(f, 1, "0:s");
    run(f, "DEL s", ":1\r\n");
    ready_calls(f, 1, "0:s");
    run(f, "XADD t 1-1 f v", "$3\r\n1-1\r\n");
    ready_calls(f, 1, "0:t");
    run(f, "SET t x", "+OK\r\n");
    ready_calls(f, 1, "0:t");
    run(f, "RAFT.XREADY t > g", ":3\r\n");
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(stream_reads_block_and_xadd_signals),
        T(an_empty_blocking_pop_leaves_its_entry_blocked),
        T(the_next_entry_clears_the_blocked_flag),
        T(a_served_pop_is_not_blocked),
        T(errors_and_wrongtype_are_not_blocked),
        T(inside_multi_nothing_blocks),
        T(timeout_follows_redis_7_0),
        T(blocking_args_name_the_timeout_and_waited_keys),
        T(the_blocking_rows_carry_redis_flags),
        T(pushes_and_creations_signal_the_key),
        T(renames_moves_copies_and_swapdb_signal),
        T(reads_and_other_types_do_not_signal),
        T(a_serve_that_leaves_elements_signals_the_next_waiter),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
