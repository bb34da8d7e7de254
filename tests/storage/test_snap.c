/* test_snap.c -- snapshots of the state environment (storage/kvsnap.h):
 * a stream read from one state and staged into another installs exactly
 * the same key space, expiry index, applied index and tau; the reader sees
 * only committed state; staging checks offsets and records; a crash while
 * staging leaves the old state, and an install survives a reopen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "kvtest.h"
#include "storage/kvsnap.h"

typedef struct fx {
    char *dir_a, *dir_b;
    kvstate *a, *b;
    resp_buf r;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    f->dir_a = kvt_mkdtemp();
    f->dir_b = kvt_mkdtemp();
    f->a = kvt_open_state(f->dir_a);
    f->b = kvt_open_state(f->dir_b);
    resp_buf_init(&f->r, 2);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    kvstate_close(f->a);
    kvstate_close(f->b);
    kvt_rmrf(f->dir_a);
    kvt_rmrf(f->dir_b);
    resp_buf_free(&f->r);
    free(f);
    return 0;
}

static void run(fx *f, kvstate *s, int64_t tau, const char *line)
{
    resp_buf_reset(&f->r);
    assert_int_equal(kvt_runs(s, tau, line, &f->r), 0);
}

static void set_bin(kvstate *s, int64_t tau, const char *k, size_t kl, const char *v, size_t vl,
                    const char *px)
{
    char *argv[5] = {"SET", (char *)k, (char *)v, "PX", (char *)px};
    size_t argvlen[5] = {3, kl, vl, 2, px ? strlen(px) : 0};
    resp_buf out;
    resp_buf_init(&out, 2);
    assert_int_equal(kvt_run(s, tau, tau, px ? 5 : 3, argv, argvlen, &out), 0);
    resp_buf_free(&out);
}

/* Fills s with n keys: plain, with TTLs, a long key (stored in the long
 * form), binary and empty values. */
static void fill(fx *f, kvstate *s, int n, int64_t tau)
{
    char k[32], v[128];
    for (int i = 0; i < n; i++) {
        snprintf(k, sizeof(k), "key:%d", i);
        int vl = snprintf(v, sizeof(v), "value-%d-%0*d", i, i % 90, 7);
        set_bin(s, tau, k, strlen(k), v, (size_t)vl, i % 3 == 0 ? "100000" : NULL);
    }
    char longkey[700];
    memset(longkey, 'L', sizeof(longkey));
    set_bin(s, tau, longkey, sizeof(longkey), "long", 4, "5000");
    set_bin(s, tau, "bin\0key", 7, "\0\1\2", 3, NULL);
    set_bin(s, tau, "empty", 5, "", 0, NULL);
    run(f, s, tau, "DEL key:1");
    assert_int_equal(kvstate_commit(s), 0);
}

/* The whole stream of s as one buffer, read in chunks of chunk bytes. */
static uint8_t *stream_of(kvstate *s, size_t chunk, size_t *len, uint64_t *index, int64_t *tau)
{
    kvsnap_reader *r;
    assert_int_equal(kvsnap_reader_open(s, &r), 0);
    *index = kvsnap_reader_index(r);
    *tau = kvsnap_reader_tau(r);
    uint8_t *all = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        const uint8_t *d;
        size_t l;
        int last;
        assert_int_equal(kvsnap_reader_next(r, chunk, &d, &l, &last), 0);
        if (n + l + 1 > cap) {
            cap = 2 * (n + l + 1);
            all = realloc(all, cap);
        }
        if (l) memcpy(all + n, d, l);
        n += l;
        if (last) break;
    }
    kvsnap_reader_close(r);
    *len = n;
    return all;
}

/* Encodes one piece (kvsnap.h) into out; returns its length. */
static size_t piece(uint8_t *out, uint8_t db, const char *k, size_t kl, const char *v, size_t pl,
                    uint64_t vlen, uint64_t voff)
{
    out[0] = db;
    for (int i = 0; i < 4; i++) {
        out[1 + i] = (uint8_t)(kl >> (8 * i));
        out[5 + i] = (uint8_t)(pl >> (8 * i));
    }
    for (int i = 0; i < 8; i++) {
        out[9 + i] = (uint8_t)(vlen >> (8 * i));
        out[17 + i] = (uint8_t)(voff >> (8 * i));
    }
    memcpy(out + KVSNAP_PIECE_HDR, k, kl);
    memcpy(out + KVSNAP_PIECE_HDR + kl, v, pl);
    return KVSNAP_PIECE_HDR + kl + pl;
}

/* transfer() commits the receiver's state after every chunk when set, as
 * the server may between any two chunks. */
static int commit_each_chunk;

/* Streams a into b in chunks and installs. */
static void transfer(kvstate *a, kvstate *b, size_t chunk, uint64_t term)
{
    kvsnap_reader *r;
    assert_int_equal(kvsnap_reader_open(a, &r), 0);
    uint64_t index = kvsnap_reader_index(r), off = 0, staged;
    int64_t tau = kvsnap_reader_tau(r);
    int last = 0, chunks = 0;
    while (!last) {
        const uint8_t *d;
        size_t l;
        assert_int_equal(kvsnap_reader_next(r, chunk, &d, &l, &last), 0);
        assert_true(l <= chunk); /* whatever the size of the records */
        assert_int_equal(kvsnap_stage(b, index, term, off, d, l, last, &staged), 0);
        if (commit_each_chunk) assert_int_equal(kvstate_commit(b), 0);
        off += l;
        assert_int_equal(staged, off);
        chunks++;
    }
    kvsnap_reader_close(r);
    uint64_t si, st, sb;
    int done;
    kvsnap_staged(b, &si, &st, &sb, &done);
    assert_int_equal(si, index);
    assert_int_equal(st, term);
    assert_int_equal(sb, off);
    assert_true(done);
    assert_int_equal(kvsnap_install(b, index, term, tau), 0);
}

static void round_trip(void **state)
{
    fx *f = *state;
    int64_t tau = 1700000000000;
    fill(f, f->a, 3000, tau);
    /* the configuration in force travels with the state (kvstate.h) */
    assert_int_equal(
        kvstate_apply_members(f->a, kvstate_applied_index(f->a) + 1, "voters 1,2,3 learner 4", 22),
        0);
    assert_int_equal(kvstate_commit(f->a), 0);
    /* b has a key space of its own, which the snapshot replaces. */
    run(f, f->b, tau, "SET stale 1");
    run(f, f->b, tau, "SET key:5 old PX 10");
    assert_int_equal(kvstate_commit(f->b), 0);

    size_t la, lb;
    uint64_t ia, ib;
    int64_t ta, tb;
    uint8_t *sa = stream_of(f->a, 1 << 20, &la, &ia, &ta);
    transfer(f->a, f->b, 4096, 7);
    uint8_t *sb = stream_of(f->b, 1 << 20, &lb, &ib, &tb);
    assert_int_equal(la, lb);
    assert_memory_equal(sa, sb, la);
    assert_int_equal(ia, ib);
    assert_int_equal(ta, tb);
    assert_int_equal(kvstate_applied_index(f->b), kvstate_applied_index(f->a));
    assert_int_equal(kvstate_durable_index(f->b), kvstate_applied_index(f->a));
    uint64_t mi;
    size_t ml;
    const char *mem = kvstate_members(f->b, &mi, &ml);
    assert_non_null(mem);
    assert_int_equal(mi, kvstate_applied_index(f->a));
    assert_int_equal(ml, 22);
    assert_memory_equal(mem, "voters 1,2,3 learner 4", 22);
    assert_int_equal(kvstate_dbsize(f->b, 0), kvstate_dbsize(f->a, 0));
    assert_int_equal(kvstate_expires(f->b, 0), kvstate_expires(f->a, 0));
    uint64_t si, st;
    kvsnap_state_snapshot(f->b, &si, &st);
    assert_int_equal(si, ia);
    assert_int_equal(st, 7);

    /* Reads and writes on the installed state work, expiry included. */
    resp_buf_reset(&f->r);
    char *g[2] = {"GET", "key:2"};
    size_t gl[2] = {3, 5};
    assert_int_equal(kvstate_read(f->b, 0, NULL, 2, g, gl, tau, &f->r), 0);
    const char *want = "$10\r\nvalue-2-07\r\n";
    assert_int_equal(f->r.len, strlen(want));
    assert_memory_equal(f->r.p, want, f->r.len);
    run(f, f->b, tau + 200000, "SET after 1");
    assert_int_equal(kvstate_dbsize(f->b, 0), kvstate_dbsize(f->a, 0) + 1);

    /* Reopen: the flip, the index and the snapshot's (index, term) stay. */
    assert_int_equal(kvstate_commit(f->b), 0);
    kvstate_close(f->b);
    f->b = kvt_open_state(f->dir_b);
    kvsnap_state_snapshot(f->b, &si, &st);
    assert_int_equal(si, ia);
    assert_int_equal(st, 7);
    assert_int_equal(kvstate_applied_index(f->b), ia + 1);
    free(sa);
    free(sb);
}

static void reader_sees_committed_state_only(void **state)
{
    fx *f = *state;
    fill(f, f->a, 10, 1000);
    uint64_t durable = kvstate_durable_index(f->a);
    run(f, f->a, 1000, "SET uncommitted 1");
    assert_int_equal(kvstate_applied_index(f->a), durable + 1);
    size_t l1, l2;
    uint64_t i1, i2;
    int64_t t1, t2;
    uint8_t *s1 = stream_of(f->a, KVSNAP_MIN_CHUNK, &l1, &i1, &t1);
    assert_int_equal(i1, durable);
    /* A reader open across a commit keeps its version. */
    kvsnap_reader *r;
    assert_int_equal(kvsnap_reader_open(f->a, &r), 0);
    assert_int_equal(kvstate_commit(f->a), 0);
    run(f, f->a, 1000, "DEL key:0");
    assert_int_equal(kvstate_commit(f->a), 0);
    assert_int_equal(kvsnap_reader_index(r), durable);
    const uint8_t *d;
    size_t l;
    int last;
    uint8_t *s3 = NULL;
    size_t l3 = 0;
    do {
        assert_int_equal(kvsnap_reader_next(r, KVSNAP_MIN_CHUNK, &d, &l, &last), 0);
        s3 = realloc(s3, l3 + l + 1);
        if (l) memcpy(s3 + l3, d, l);
        l3 += l;
    } while (!last);
    kvsnap_reader_close(r);
    assert_int_equal(l3, l1);
    assert_memory_equal(s3, s1, l1);
    uint8_t *s2 = stream_of(f->a, KVSNAP_MIN_CHUNK, &l2, &i2, &t2);
    assert_int_equal(i2, durable + 2);
    assert_true(l2 != l1);
    free(s1);
    free(s2);
    free(s3);
}

static void empty_state_streams_one_empty_chunk(void **state)
{
    fx *f = *state;
    run(f, f->a, 5, "DEL nothing");
    assert_int_equal(kvstate_commit(f->a), 0);
    run(f, f->b, 5, "SET x 1");
    assert_int_equal(kvstate_commit(f->b), 0);
    transfer(f->a, f->b, KVSNAP_MIN_CHUNK, 1);
    assert_int_equal(kvstate_dbsize(f->b, 0), 0);
    assert_int_equal(kvstate_applied_index(f->b), 1);
}

static void staging_checks_offsets_and_records(void **state)
{
    fx *f = *state;
    fill(f, f->a, 200, 1000);
    kvsnap_reader *r;
    assert_int_equal(kvsnap_reader_open(f->a, &r), 0);
    uint64_t idx = kvsnap_reader_index(r), staged = 99;
    const uint8_t *d;
    size_t l;
    int last;
    assert_int_equal(kvsnap_reader_next(r, KVSNAP_MIN_CHUNK, &d, &l, &last), 0);
    assert_false(last);
    /* Not started: a chunk past offset 0 is refused. */
    assert_int_equal(kvsnap_stage(f->b, idx, 3, l, d, l, 0, &staged), KV_EINVAL);
    assert_int_equal(staged, 0);
    assert_int_equal(kvsnap_stage(f->b, idx, 3, 0, d, l, 0, &staged), 0);
    assert_int_equal(staged, l);
    /* A repeated chunk, a gap, another snapshot: refused, position told. */
    assert_int_equal(kvsnap_stage(f->b, idx, 3, 0 + 1, d, l, 0, &staged), KV_EINVAL);
    assert_int_equal(staged, l);
    assert_int_equal(kvsnap_stage(f->b, idx + 1, 3, l, d, l, 0, &staged), KV_EINVAL);
    assert_int_equal(staged, 0);
    /* The same records again are out of order for MDB_APPEND: corrupt. */
    assert_int_equal(kvsnap_stage(f->b, idx, 3, l, d, l, 0, &staged), KV_ECORRUPT);
    /* Truncated and malformed pieces. */
    assert_int_equal(kvsnap_stage(f->b, idx, 3, 0, d, l - 1, 0, &staged), KV_ECORRUPT);
    uint8_t bad[1024];
    size_t bl = piece(bad, 200, "k", 1, "v", 1, 1, 0); /* no such database */
    assert_int_equal(kvsnap_stage(f->b, idx, 3, 0, bad, bl, 0, &staged), KV_ECORRUPT);
    bl = piece(bad, KVSNAP_DB_KV, "", 0, "v", 1, 1, 0); /* empty key */
    assert_int_equal(kvsnap_stage(f->b, idx, 3, 0, bad, bl, 0, &staged), KV_ECORRUPT);
    char longkey[KVSNAP_MAX_KEY + 1];
    memset(longkey, 'k', sizeof(longkey));
    bl = piece(bad, KVSNAP_DB_KV, longkey, sizeof(longkey), "v", 1, 1, 0);
    assert_int_equal(kvsnap_stage(f->b, idx, 3, 0, bad, bl, 0, &staged), KV_ECORRUPT);
    bl = piece(bad, KVSNAP_DB_KV, "k", 1, "vv", 2, 1, 0); /* more than the value */
    assert_int_equal(kvsnap_stage(f->b, idx, 3, 0, bad, bl, 0, &staged), KV_ECORRUPT);
    bl = piece(bad, KVSNAP_DB_KV, "k", 1, "v", 1, 3, 3); /* past its end */
    assert_int_equal(kvsnap_stage(f->b, idx, 3, 0, bad, bl, 0, &staged), KV_ECORRUPT);
    bad[5] = 0xff; /* a piece length past the chunk */
    assert_int_equal(kvsnap_stage(f->b, idx, 3, 0, bad, bl, 0, &staged), KV_ECORRUPT);
    /* Install refuses an incomplete or unknown staging. */
    assert_int_equal(kvsnap_install(f->b, idx, 3, 1000), KV_EINVAL);
    kvsnap_reader_close(r);
    /* Then a clean run from offset 0 works. */
    transfer(f->a, f->b, KVSNAP_MIN_CHUNK, 3);
    assert_int_equal(kvstate_dbsize(f->b, 0), kvstate_dbsize(f->a, 0));
}

static void crash_while_staging_keeps_old_state(void **state)
{
    fx *f = *state;
    fill(f, f->a, 500, 1000);
    run(f, f->b, 1000, "SET mine 1");
    run(f, f->b, 1000, "SET mine2 2");
    assert_int_equal(kvstate_commit(f->b), 0);
    uint64_t before = kvstate_applied_index(f->b);
    kvsnap_reader *r;
    assert_int_equal(kvsnap_reader_open(f->a, &r), 0);
    uint64_t idx = kvsnap_reader_index(r), off = 0, staged;
    const uint8_t *d;
    size_t l;
    int last;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(kvsnap_reader_next(r, KVSNAP_MIN_CHUNK, &d, &l, &last), 0);
        assert_int_equal(kvsnap_stage(f->b, idx, 2, off, d, l, 0, &staged), 0);
        off += l;
        if (i == 1) assert_int_equal(kvstate_commit(f->b), 0); /* part is durable */
    }
    kvsnap_reader_close(r);
    /* "Crash": the uncommitted third chunk is lost with the process. */
    kvstate_close(f->b); /* commits; reopening is what matters */
    f->b = kvt_open_state(f->dir_b);
    assert_int_equal(kvstate_applied_index(f->b), before);
    assert_int_equal(kvstate_dbsize(f->b, 0), 2);
    uint64_t si, st, sb;
    int done;
    kvsnap_staged(f->b, &si, &st, &sb, &done);
    assert_int_equal(si, idx);
    assert_int_equal(sb, off);
    assert_false(done);
    /* The transfer starts again and completes. */
    transfer(f->a, f->b, KVSNAP_MIN_CHUNK, 2);
    assert_int_equal(kvstate_dbsize(f->b, 0), kvstate_dbsize(f->a, 0));
}

/* A value much larger than a chunk (issue 14, defect 4: a chunk held whole
 * records, so one value past the transport's bound could never be sent):
 * every chunk stays within its bound and the copy is identical. */
static void big_value(fx *f, size_t n, size_t chunk)
{
    int64_t tau = 1700000000000;
    fill(f, f->a, 50, tau);
    char *v = malloc(n);
    for (size_t i = 0; i < n; i++)
        v[i] = (char)(i * 131 + (i >> 16));
    set_bin(f->a, tau, "big", 3, v, n, "100000");
    set_bin(f->a, tau, "key:7b", 6, v, chunk - 5, NULL); /* about one chunk */
    assert_int_equal(kvstate_commit(f->a), 0);
    size_t la, lb;
    uint64_t ia, ib;
    int64_t ta, tb;
    uint8_t *sa = stream_of(f->a, chunk, &la, &ia, &ta);
    transfer(f->a, f->b, chunk, 4);
    uint8_t *sb = stream_of(f->b, chunk, &lb, &ib, &tb);
    assert_int_equal(la, lb);
    assert_memory_equal(sa, sb, la);
    assert_int_equal(kvstate_dbsize(f->b, 0), kvstate_dbsize(f->a, 0));
    resp_buf_reset(&f->r);
    char *g[2] = {"GET", "big"};
    size_t gl[2] = {3, 3};
    assert_int_equal(kvstate_read(f->b, 0, NULL, 2, g, gl, tau, &f->r), 0);
    char hdr[32];
    int hl = snprintf(hdr, sizeof(hdr), "$%zu\r\n", n);
    assert_int_equal(f->r.len, (size_t)hl + n + 2);
    assert_memory_equal(f->r.p, hdr, (size_t)hl);
    assert_memory_equal(f->r.p + hl, v, n);
    free(v);
    free(sa);
    free(sb);
}

static void value_of_3mb_streams_in_chunks_within_bound(void **state)
{
    big_value(*state, 3u << 20, 256 * 1024);
}

static void value_past_64mib_streams_in_chunks_within_bound(void **state)
{
    big_value(*state, (64u << 20) + 4321, 256 * 1024);
}

/* The same with the receiver's state committed after every chunk: a value
 * in progress is carried into each new transaction. */
static void value_split_across_commits_stages_intact(void **state)
{
    commit_each_chunk = 1;
    big_value(*state, (1u << 20) + 17, 32 * 1024);
    commit_each_chunk = 0;
}

/* Stages chunk data at the stream's current offset; returns the code. */
static int stage_at(fx *f, uint64_t *off, const uint8_t *d, size_t l, int last)
{
    uint64_t staged;
    int rc = kvsnap_stage(f->b, 9, 2, *off, d, l, last, &staged);
    if (rc == 0) *off = staged;
    return rc;
}

/* Starts a staging whose first chunk holds 4000 of the 10000 bytes of
 * record "a": the record is in progress. */
static uint64_t start_split(fx *f, const char *v)
{
    uint8_t c[8192];
    uint64_t off = 0;
    size_t n = piece(c, KVSNAP_DB_KV, "a", 1, v, 4000, 10000, 0);
    assert_int_equal(stage_at(f, &off, c, n, 0), 0);
    return off;
}

static void staging_refuses_pieces_that_do_not_continue_the_record(void **state)
{
    fx *f = *state;
    char v[10000];
    for (size_t i = 0; i < sizeof(v); i++)
        v[i] = (char)(i * 7);
    uint8_t c[8192];
    struct {
        uint8_t db;
        const char *k;
        uint64_t vlen, voff;
        size_t pl;
        int last;
    } bad[] = {
        {KVSNAP_DB_KV, "a", 10000, 3000, 2000, 0},  /* overlaps what is staged */
        {KVSNAP_DB_KV, "a", 10000, 5000, 2000, 0},  /* leaves a gap */
        {KVSNAP_DB_KV, "b", 10000, 4000, 2000, 0},  /* another key */
        {KVSNAP_DB_KV, "a", 12000, 4000, 2000, 0},  /* another length */
        {KVSNAP_DB_EXP, "a", 10000, 4000, 2000, 0}, /* another database */
        {KVSNAP_DB_KV, "b", 10, 0, 10, 0},          /* a new record before it is whole */
        {KVSNAP_DB_KV, "a", 10000, 4000, 0, 0},     /* no progress */
        {KVSNAP_DB_KV, "a", 10000, 4000, 3000, 1},  /* the stream ends inside it */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t off = start_split(f, v);
        if (i % 2) assert_int_equal(kvstate_commit(f->b), 0);
        size_t n = piece(c, bad[i].db, bad[i].k, 1, v + 4000, bad[i].pl, bad[i].vlen, bad[i].voff);
        assert_int_equal(stage_at(f, &off, c, n, bad[i].last), KV_ECORRUPT);
        /* The staging is forgotten: no continuation, no install. */
        n = piece(c, KVSNAP_DB_KV, "a", 1, v + 4000, 6000, 10000, 4000);
        assert_int_equal(stage_at(f, &off, c, n, 1), KV_EINVAL);
        assert_int_equal(kvsnap_install(f->b, 9, 2, 1000), KV_EINVAL);
    }
    /* A continuation piece with nothing in progress; databases out of order. */
    uint64_t off = 0;
    size_t n = piece(c, KVSNAP_DB_KV, "a", 1, v, 10, 20, 10);
    assert_int_equal(stage_at(f, &off, c, n, 0), KV_ECORRUPT);
    off = 0;
    n = piece(c, KVSNAP_DB_EXP, "e", 1, "", 0, 0, 0);
    n += piece(c + n, KVSNAP_DB_KV, "k", 1, "v", 1, 1, 0);
    assert_int_equal(stage_at(f, &off, c, n, 1), KV_ECORRUPT);
    /* A value larger than the map can hold is refused before any write. */
    off = 0;
    n = piece(c, KVSNAP_DB_KV, "a", 1, v, 10, 1ull << 40, 0);
    assert_int_equal(stage_at(f, &off, c, n, 0), KV_EFULL);
    /* The right pieces, with a commit in the middle of the record, and a
     * record after it in the same chunk: staged and installed. */
    off = start_split(f, v);
    assert_true(kvsnap_staging_mid_record(f->b));
    assert_int_equal(kvstate_commit(f->b), 0);
    n = piece(c, KVSNAP_DB_KV, "a", 1, v + 4000, 4000, 10000, 4000);
    assert_int_equal(stage_at(f, &off, c, n, 0), 0);
    assert_true(kvsnap_staging_mid_record(f->b));
    n = piece(c, KVSNAP_DB_KV, "a", 1, v + 8000, 2000, 10000, 8000);
    n += piece(c + n, KVSNAP_DB_KV, "b", 1, "bee", 3, 3, 0);
    assert_int_equal(stage_at(f, &off, c, n, 1), 0);
    assert_false(kvsnap_staging_mid_record(f->b));
    assert_int_equal(kvsnap_install(f->b, 9, 2, 1000), 0);
    size_t len;
    uint64_t idx;
    int64_t tau;
    uint8_t *all = stream_of(f->b, 64 * 1024, &len, &idx, &tau);
    uint8_t want[16384];
    size_t wl = piece(want, KVSNAP_DB_KV, "a", 1, v, 10000, 10000, 0);
    wl += piece(want + wl, KVSNAP_DB_KV, "b", 1, "bee", 3, 3, 0);
    assert_int_equal(len, wl);
    assert_memory_equal(all, want, wl);
    assert_int_equal(idx, 9);
    free(all);
}

static void small_chunk_bound_is_refused(void **state)
{
    fx *f = *state;
    fill(f, f->a, 3, 1000);
    kvsnap_reader *r;
    const uint8_t *d;
    size_t l;
    int last;
    assert_int_equal(kvsnap_reader_open(f->a, &r), 0);
    assert_int_equal(kvsnap_reader_next(r, KVSNAP_MIN_CHUNK - 1, &d, &l, &last), KV_EINVAL);
    kvsnap_reader_close(r);
}

static void checksum_sees_every_byte(void **state)
{
    (void)state;
    uint8_t buf[100];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)i;
    uint64_t h = kvsnap_checksum(buf, sizeof(buf));
    for (size_t i = 0; i < sizeof(buf); i++) {
        buf[i] ^= 1;
        assert_true(kvsnap_checksum(buf, sizeof(buf)) != h);
        buf[i] ^= 1;
    }
    assert_true(kvsnap_checksum(buf, 99) != h);
    assert_int_equal(kvsnap_checksum(buf, sizeof(buf)), h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(reader_sees_committed_state_only, setup, teardown),
        cmocka_unit_test_setup_teardown(empty_state_streams_one_empty_chunk, setup, teardown),
        cmocka_unit_test_setup_teardown(staging_checks_offsets_and_records, setup, teardown),
        cmocka_unit_test_setup_teardown(crash_while_staging_keeps_old_state, setup, teardown),
        cmocka_unit_test_setup_teardown(value_of_3mb_streams_in_chunks_within_bound, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(value_past_64mib_streams_in_chunks_within_bound, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(value_split_across_commits_stages_intact, setup, teardown),
        cmocka_unit_test_setup_teardown(staging_refuses_pieces_that_do_not_continue_the_record,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(small_chunk_bound_is_refused, setup, teardown),
        cmocka_unit_test(checksum_sees_every_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
