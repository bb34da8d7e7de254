/* test_replication.c -- scenario tests for log replication and commitment
 * (paper §5.3, §5.4, Figures 7 and 8), heartbeats and restart. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/raft/test_util.h"

/* Stabilizes like tc_stabilize, counting rejected appends sent by `from`. */
static int stabilize_count_rejects(tcluster *c, uint64_t from)
{
    int rejects = 0;
    for (int round = 0; round < 1000; round++) {
        int any = 0;
        for (int i = 0; i < c->n; i++)
            any |= tc_ready(c, i) > 0;
        while (c->nnet) {
            raft_msg *m = c->net[0].m;
            if (m->type == RAFT_MSG_APP_RESP && m->reject && m->from == from) rejects++;
            tc_deliver(c, 0);
            any = 1;
        }
        if (!any) break;
    }
    return rejects;
}

static void assert_logs_equal(tcluster *c, int a, int b)
{
    raft_status sa = st_of(c, a), sb = st_of(c, b);
    assert_int_equal(sa.last_index, sb.last_index);
    for (uint64_t i = 1; i <= sa.last_index; i++) {
        uint64_t ta = 0, tb = 0;
        assert_int_equal(raft_log_term(c->nodes[a].r, i, &ta), 0);
        assert_int_equal(raft_log_term(c->nodes[b].r, i, &tb), 0);
        assert_int_equal(ta, tb);
    }
}

static const uint64_t fig7_leader[] = {1, 1, 1, 4, 4, 5, 5, 6, 6, 6};
static const uint64_t fig7_a[] = {1, 1, 1, 4, 4, 5, 5, 6, 6};
static const uint64_t fig7_b[] = {1, 1, 1, 4};
static const uint64_t fig7_c[] = {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6};
static const uint64_t fig7_d[] = {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7};
static const uint64_t fig7_e[] = {1, 1, 1, 4, 4, 4, 4};
static const uint64_t fig7_f[] = {1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3};
#define N(a) (sizeof(a) / sizeof((a)[0]))

static void figure7_divergent_followers_converge(void **state)
{
    (void)state;
    /* Figure 7 has seven servers; run it as two five-node clusters. */
    const uint64_t *logs[2][4] = {{fig7_a, fig7_b, fig7_e, fig7_f},
                                  {fig7_a, fig7_b, fig7_c, fig7_d}};
    const size_t lens[2][4] = {{N(fig7_a), N(fig7_b), N(fig7_e), N(fig7_f)},
                               {N(fig7_a), N(fig7_b), N(fig7_c), N(fig7_d)}};
    for (int run = 0; run < 2; run++) {
        tcluster c;
        assert_int_equal(tc_init(&c, 5, NULL), 0);
        preload(&c, 0, fig7_leader, N(fig7_leader), 7);
        for (int k = 0; k < 4; k++)
            preload(&c, k + 1, logs[run][k], lens[run][k], 7);
        assert_int_equal(tc_elect(&c, 0), 0);
        assert_int_equal(st_of(&c, 0).term, 8);
        assert_int_equal(tc_propose(&c, 0, "x", NULL), 0);
        assert_int_equal(tc_stabilize(&c), 0);
        for (int k = 1; k < 5; k++)
            assert_logs_equal(&c, 0, k);
        assert_int_equal(st_of(&c, 4).commit, 12);
        tc_free(&c);
    }
}

static void rejection_hint_skips_a_term_per_round_trip(void **state)
{
    (void)state;
    tcluster c;
    assert_int_equal(tc_init(&c, 3, NULL), 0);
    preload(&c, 0, fig7_leader, N(fig7_leader), 7);
    preload(&c, 1, fig7_leader, N(fig7_leader), 7);
    preload(&c, 2, fig7_f, N(fig7_f), 7);
    assert_int_equal(raft_campaign(c.nodes[0].r), 0);
    int rejects = stabilize_count_rejects(&c, 3);
    assert_int_equal(tc_leader(&c), 0);
    /* f diverges over terms 2 and 3 (8 entries): one probe per term at
     * most, not one per entry */
    assert_true(rejects >= 1 && rejects <= 3);
    assert_logs_equal(&c, 0, 2);
    tc_free(&c);
}

static void figure8_old_term_entry_not_committed_by_counting(void **state)
{
    (void)state;
    tcluster c;
    raft_config cfg;
    tc_default_cfg(&cfg);
    cfg.max_msg_bytes = 1; /* one entry per append */
    cfg.max_inflight = 1;
    assert_int_equal(tc_init(&c, 3, &cfg), 0);
    const uint64_t l[] = {1, 2}, f[] = {1};
    preload(&c, 0, l, 2, 2);
    preload(&c, 1, f, 1, 2);
    preload(&c, 2, f, 1, 2);
    /* node 1 leads term 3; the term-2 entry at index 2 reaches a majority
     * (nodes 1 and 2) before the leader's own term-3 entry does */
    c.cut[0][2] = true;
    assert_int_equal(raft_campaign(c.nodes[0].r), 0);
    int seen_old_on_majority = 0;
    for (int round = 0; round < 100; round++) {
        int any = 0;
        for (int i = 0; i < 3; i++)
            any |= tc_ready(&c, i) > 0;
        while (c.nnet) {
            tc_deliver(&c, 0);
            any = 1;
            raft_peer_progress p;
            if (raft_get_progress(c.nodes[0].r, 1, &p) == 0 && p.match == 2) {
                /* Figure 8 (c): replicated on a majority but of an old term */
                seen_old_on_majority = 1;
                assert_int_equal(st_of(&c, 0).commit, 0);
            }
        }
        if (!any) break;
    }
    assert_true(seen_old_on_majority);
    /* once the term-3 entry is on a majority, both commit (§5.4.2) */
    assert_int_equal(st_of(&c, 0).commit, 3);
    tc_free(&c);
}

static void committing_an_entry_commits_preceding_entries(void **state)
{
    (void)state;
    tcluster c;
    assert_int_equal(tc_init(&c, 3, NULL), 0);
    assert_int_equal(tc_elect(&c, 0), 0);
    tc_isolate(&c, 1);
    tc_isolate(&c, 2);
    for (int i = 0; i < 4; i++)
        assert_int_equal(tc_propose(&c, 0, "p", NULL), 0);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_int_equal(st_of(&c, 0).commit, 1);
    tc_heal(&c);
    assert_int_equal(tc_propose(&c, 0, "last", NULL), 0);
    assert_int_equal(tc_stabilize(&c), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(st_of(&c, i).commit, 6);
        assert_int_equal(c.nodes[i].app_index, 6);
    }
    tc_free(&c);
}

static void heartbeat_never_advances_commit_past_match(void **state)
{
    (void)state;
    tcluster c;
    assert_int_equal(tc_init(&c, 3, NULL), 0);
    const uint64_t good[] = {1, 2, 2, 2}, stale[] = {1, 1, 1, 1};
    preload(&c, 0, good, 4, 2);
    preload(&c, 1, good, 4, 2);
    preload(&c, 2, stale, 4, 2);
    tc_isolate(&c, 2);
    assert_int_equal(tc_elect(&c, 0), 0);
    assert_int_equal(tc_propose(&c, 0, "x", NULL), 0);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_int_equal(st_of(&c, 0).commit, 6);
    tc_heal(&c);
    /* only heartbeats reach node 3: its divergent entries 2..4 must not
     * become committed */
    for (int t = 0; t < 5; t++) {
        assert_int_equal(raft_tick(c.nodes[0].r), 0);
        for (int i = 0; i < 3; i++)
            tc_ready(&c, i);
        size_t k = 0;
        while (k < c.nnet) {
            raft_msg *m = c.net[k].m;
            if (m->type == RAFT_MSG_APP)
                tc_drop(&c, k);
            else
                tc_deliver(&c, k);
        }
    }
    assert_true(st_of(&c, 2).commit <= 1);
    assert_int_equal(c.nodes[2].app_index, 0);
    /* appends then repair the log, and commit follows */
    assert_int_equal(tc_tick_all(&c, 3), 0);
    assert_logs_equal(&c, 0, 2);
    assert_int_equal(st_of(&c, 2).commit, 6);
    tc_free(&c);
}

static void single_node_cluster_commits_its_proposals(void **state)
{
    (void)state;
    tcluster c;
    assert_int_equal(tc_init(&c, 1, NULL), 0);
    assert_int_equal(raft_campaign(c.nodes[0].r), 0);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_int_equal(st_of(&c, 0).role, RAFT_LEADER);
    uint64_t idx;
    assert_int_equal(tc_propose(&c, 0, "solo", &idx), 0);
    assert_int_equal(idx, 2);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_int_equal(c.nodes[0].app_index, 2);
    tc_free(&c);
}

/* raft_hold_apply: while held, the leader commits and its followers apply,
 * but its Readies hand out nothing to apply; released, the entries come
 * in order in a later Ready. */
static void held_apply_hands_out_committed_entries_only_once_released(void **state)
{
    (void)state;
    tcluster c;
    assert_int_equal(tc_init(&c, 3, NULL), 0);
    assert_int_equal(tc_elect(&c, 0), 0);
    uint64_t before = c.nodes[0].app_index, idx = 0;
    raft_hold_apply(c.nodes[0].r, 1);
    for (int k = 0; k < 3; k++)
        assert_int_equal(tc_propose(&c, 0, "held", &idx), 0);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_int_equal(st_of(&c, 0).commit, idx);
    assert_int_equal(c.nodes[0].app_index, before);
    assert_int_equal(st_of(&c, 0).applied, before);
    assert_int_equal(c.nodes[1].app_index, idx);
    assert_false(raft_has_ready(c.nodes[0].r));
    raft_hold_apply(c.nodes[0].r, 0);
    assert_true(raft_has_ready(c.nodes[0].r));
    assert_int_equal(tc_stabilize(&c), 0);
    assert_int_equal(c.nodes[0].app_index, idx);
    assert_int_equal(c.nodes[0].app_hash, c.nodes[1].app_hash); /* the same entries, in order */
    tc_free(&c);
}

/* max_mem_log_bytes: entries committed while the application holds apply
 * stay in storage past the bound, not in memory, and are read back from
 * it, in order, once released. */
static void a_held_backlog_leaves_memory_past_the_bound(void **state)
{
    (void)state;
    raft_config cfg;
    tc_default_cfg(&cfg);
    cfg.max_mem_log_bytes = 64;
    tcluster c;
    assert_int_equal(tc_init(&c, 3, &cfg), 0);
    assert_int_equal(tc_elect(&c, 0), 0);
    uint64_t idx = 0;
    raft_hold_apply(c.nodes[0].r, 1);
    for (int k = 0; k < 40; k++) /* 40 x 8 bytes */
        assert_int_equal(tc_propose(&c, 0, "backlog!", &idx), 0);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_int_equal(st_of(&c, 0).commit, idx);
    assert_true(st_of(&c, 0).applied < idx - 30);
    assert_true(st_of(&c, 0).mem_log_bytes <= 64);
    raft_hold_apply(c.nodes[0].r, 0);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_int_equal(c.nodes[0].app_index, idx);
    assert_int_equal(c.nodes[0].app_hash, c.nodes[1].app_hash);
    tc_free(&c);
    /* no bound: the whole backlog stays in memory */
    cfg.max_mem_log_bytes = 0;
    assert_int_equal(tc_init(&c, 3, &cfg), 0);
    assert_int_equal(tc_elect(&c, 0), 0);
    raft_hold_apply(c.nodes[0].r, 1);
    for (int k = 0; k < 40; k++)
        assert_int_equal(tc_propose(&c, 0, "backlog!", &idx), 0);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_true(st_of(&c, 0).mem_log_bytes >= 320);
    tc_free(&c);
}

static void propose_on_follower_is_refused(void **state)
{
    (void)state;
    tcluster c;
    assert_int_equal(tc_init(&c, 3, NULL), 0);
    assert_int_equal(tc_elect(&c, 0), 0);
    uint64_t i, t;
    assert_int_equal(raft_propose(c.nodes[1].r, "x", 1, &i, &t), RAFT_ENOTLEADER);
    raft_config cfg;
    tc_default_cfg(&cfg);
    tc_free(&c);
    cfg.max_entry_bytes = 4;
    assert_int_equal(tc_init(&c, 1, &cfg), 0);
    assert_int_equal(tc_elect(&c, 0), 0);
    assert_int_equal(raft_propose(c.nodes[0].r, "12345", 5, &i, &t), RAFT_ETOOLARGE);
    assert_string_equal(raft_strerror(RAFT_ETOOLARGE), "proposal too large");
    tc_free(&c);
}

static void leader_sends_appends_before_persisting_and_counts_itself_after(void **state)
{
    (void)state;
    tcluster c;
    assert_int_equal(tc_init(&c, 3, NULL), 0);
    assert_int_equal(tc_elect(&c, 0), 0);
    assert_int_equal(tc_propose(&c, 0, "x", NULL), 0);
    raft_ready_batch rd;
    assert_int_equal(raft_ready(c.nodes[0].r, &rd), 0);
    assert_int_equal(rd.n_entries, 1);
    assert_int_equal(rd.n_msgs, 2); /* appends go out before the fsync */
    assert_int_equal(rd.msgs[0].type, RAFT_MSG_APP);
    assert_int_equal(raft_advance(c.nodes[0].r, &rd), 0);
    /* one follower acks: with the leader's durable entry that is a quorum */
    raft_msg ack = {.type = RAFT_MSG_APP_RESP, .from = 2, .to = 1, .term = 1, .index = 2};
    assert_int_equal(raft_step(c.nodes[0].r, &ack), 0);
    assert_int_equal(st_of(&c, 0).commit, 2);
    tc_free(&c);
}

/* cfg.async_durable: raft_advance() says "written", raft_durable() says
 * "on disk"; the leader counts itself only from the latter. */
static void async_durable_leader_counts_itself_only_once_on_disk(void **state)
{
    (void)state;
    tcluster c;
    raft_config cfg;
    tc_default_cfg(&cfg);
    cfg.async_durable = 1;
    assert_int_equal(tc_init(&c, 3, &cfg), 0);
    assert_int_equal(tc_elect(&c, 0), 0); /* tc_ready declares everything durable */
    uint64_t base = st_of(&c, 0).commit;
    assert_int_equal(tc_propose(&c, 0, "x", NULL), 0);
    raft_ready_batch rd;
    assert_int_equal(raft_ready(c.nodes[0].r, &rd), 0);
    assert_int_equal(rd.n_entries, 1);
    uint64_t idx = rd.entries[0].index, term = rd.entries[0].term;
    assert_int_equal(raft_advance(c.nodes[0].r, &rd), 0);
    /* One follower's ack: the leader's copy is written, not on disk: no quorum. */
    raft_msg ack = {.type = RAFT_MSG_APP_RESP, .from = 2, .to = 1, .term = term, .index = idx};
    assert_int_equal(raft_step(c.nodes[0].r, &ack), 0);
    assert_int_equal(st_of(&c, 0).commit, base);
    /* A stale durability report (another term) changes nothing. */
    raft_durable(c.nodes[0].r, idx, term + 1);
    assert_int_equal(st_of(&c, 0).commit, base);
    /* On disk: leader + one follower is a quorum. */
    raft_durable(c.nodes[0].r, idx, term);
    assert_int_equal(st_of(&c, 0).commit, idx);
    /* Two followers are a quorum without the leader's disk. */
    assert_int_equal(tc_propose(&c, 0, "y", NULL), 0);
    assert_int_equal(raft_ready(c.nodes[0].r, &rd), 0);
    idx = rd.entries[0].index;
    assert_int_equal(raft_advance(c.nodes[0].r, &rd), 0);
    raft_msg a2 = {.type = RAFT_MSG_APP_RESP, .from = 2, .to = 1, .term = term, .index = idx};
    raft_msg a3 = {.type = RAFT_MSG_APP_RESP, .from = 3, .to = 1, .term = term, .index = idx};
    assert_int_equal(raft_step(c.nodes[0].r, &a2), 0);
    assert_int_equal(st_of(&c, 0).commit, idx - 1);
    assert_int_equal(raft_step(c.nodes[0].r, &a3), 0);
    assert_int_equal(st_of(&c, 0).commit, idx);
    tc_free(&c);
}

static void restart_replays_committed_entries(void **state)
{
    (void)state;
    tcluster c;
    assert_int_equal(tc_init(&c, 3, NULL), 0);
    assert_int_equal(tc_elect(&c, 0), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(tc_propose(&c, 0, "e", NULL), 0);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_int_equal(tc_tick_all(&c, 1), 0); /* heartbeat carries the commit */
    uint64_t h = c.nodes[0].app_hash;
    tc_crash(&c, 1);
    assert_int_equal(tc_start(&c, 1), 0);
    assert_int_equal(c.nodes[1].app_index, 0);
    raft_status s = st_of(&c, 1);
    assert_int_equal(s.term, 1);
    assert_int_equal(s.commit, 4);
    assert_int_equal(tc_ready(&c, 1), 1); /* replays 1..4 from storage */
    assert_int_equal(c.nodes[1].app_index, 4);
    assert_true(c.nodes[1].app_hash == h);
    tc_free(&c);
}

static void unpersisted_entries_are_lost_on_crash(void **state)
{
    (void)state;
    tcluster c;
    assert_int_equal(tc_init(&c, 3, NULL), 0);
    assert_int_equal(tc_elect(&c, 0), 0);
    assert_int_equal(tc_propose(&c, 0, "lost", NULL), 0);
    tc_crash(&c, 0); /* before its Ready was handled */
    assert_int_equal(tc_start(&c, 0), 0);
    assert_int_equal(st_of(&c, 0).last_index, 1);
    tc_free(&c);
}

/* Counts the bytes raft holds (a size header before each block). */
typedef struct {
    size_t live;
} count_alloc;

static void *ca_malloc(void *ctx, size_t n)
{
    size_t *h = malloc(sizeof(size_t) * 2 + n);
    if (!h) return NULL;
    h[0] = n;
    ((count_alloc *)ctx)->live += n;
    return h + 2;
}

static void ca_free(void *ctx, void *p)
{
    if (!p) return;
    size_t *h = (size_t *)p - 2;
    ((count_alloc *)ctx)->live -= h[0];
    free(h);
}

static void *ca_realloc(void *ctx, void *p, size_t n)
{
    if (!p) return ca_malloc(ctx, n);
    size_t *h = (size_t *)p - 2, old = h[0];
    size_t *nh = realloc(h, sizeof(size_t) * 2 + n);
    if (!nh) return NULL;
    nh[0] = n;
    ((count_alloc *)ctx)->live += n;
    ((count_alloc *)ctx)->live -= old;
    return nh + 2;
}

static void a_burst_of_entries_does_not_pin_the_memory_log_once_applied(void **state)
{
    (void)state;
    count_alloc ca = {0};
    raft_alloc al = {ca_malloc, ca_realloc, ca_free, &ca};
    raft_config cfg;
    tc_default_cfg(&cfg);
    cfg.alloc = &al;
    tcluster c;
    assert_int_equal(tc_init(&c, 3, &cfg), 0);
    assert_int_equal(tc_elect(&c, 0), 0);
    assert_int_equal(tc_stabilize(&c), 0);
    size_t idle = ca.live;
    /* 100,000 entries proposed in one pass: each node's memory log holds
     * them all at once (an array of 131,072 entries, 4 MB), and the
     * committed ones go through the Ready's scratch array as well. */
    enum { BURST = 100000 };
    for (int i = 0; i < BURST; i++)
        assert_int_equal(tc_propose(&c, 0, "v", NULL), 0);
    size_t peak = ca.live;
    assert_true(peak > idle + BURST * sizeof(raft_entry));
    assert_int_equal(tc_stabilize(&c), 0);
    assert_int_equal(tc_propose(&c, 0, "after", NULL), 0);
    assert_int_equal(tc_stabilize(&c), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(c.nodes[i].app_index, st_of(&c, 0).commit);
    /* Applied and trimmed: what a node keeps is the log array's
     * LOG_RETAIN_ENTRIES (4,096 entries, 128 KB) and at most 64 spare
     * arena chunks of 64 KB, whatever the burst was (the log and scratch
     * arrays held 8 MB more per node before they shrank). */
    size_t bound = 3 * (4096 * sizeof(raft_entry) + 64 * ((size_t)64 << 10));
    assert_true(ca.live - idle <= bound);
    tc_free(&c);
    assert_int_equal(ca.live, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(figure7_divergent_followers_converge),
        cmocka_unit_test(rejection_hint_skips_a_term_per_round_trip),
        cmocka_unit_test(figure8_old_term_entry_not_committed_by_counting),
        cmocka_unit_test(committing_an_entry_commits_preceding_entries),
        cmocka_unit_test(heartbeat_never_advances_commit_past_match),
        cmocka_unit_test(single_node_cluster_commits_its_proposals),
        cmocka_unit_test(held_apply_hands_out_committed_entries_only_once_released),
        cmocka_unit_test(a_held_backlog_leaves_memory_past_the_bound),
        cmocka_unit_test(propose_on_follower_is_refused),
        cmocka_unit_test(leader_sends_appends_before_persisting_and_counts_itself_after),
        cmocka_unit_test(async_durable_leader_counts_itself_only_once_on_disk),
        cmocka_unit_test(restart_replays_committed_entries),
        cmocka_unit_test(unpersisted_entries_are_lost_on_crash),
        cmocka_unit_test(a_burst_of_entries_does_not_pin_the_memory_log_once_applied),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
