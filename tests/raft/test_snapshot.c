/* test_snapshot.c -- scenario tests for log compaction and snapshots
 * (paper §7): the leader sends a snapshot when a follower needs a
 * compacted entry; followers ignore stale ones; restarts start from them. */
#include <stdio.h>
#include <string.h>

#include "tests/raft/test_util.h"

static void compact(tcluster *c, int i)
{
    tc_node *nd = &c->nodes[i];
    uint8_t ref[16];
    memcpy(ref, &nd->app_index, 8);
    memcpy(ref + 8, &nd->app_hash, 8);
    assert_int_equal(memstore_compact(&nd->st, nd->app_index, ref, 16), 0);
}

/* Leader 1 with node 3 cut off while 10 entries commit, then compacted. */
static void setup_lagging(tcluster *c)
{
    assert_int_equal(tc_init(c, 3, NULL), 0);
    assert_int_equal(tc_elect(c, 0), 0);
    tc_isolate(c, 2);
    for (int i = 0; i < 10; i++)
        assert_int_equal(tc_propose(c, 0, "entry", NULL), 0);
    assert_int_equal(tc_stabilize(c), 0);
    assert_int_equal(c->nodes[0].app_index, 11);
    compact(c, 0);
    assert_int_equal(st_of(c, 0).first_index, 12);
}

static void snapshot_sent_when_next_entry_compacted(void **state)
{
    (void)state;
    tcluster c;
    setup_lagging(&c);
    tc_heal(&c);
    assert_int_equal(tc_tick_all(&c, 3), 0);
    assert_int_equal(c.nodes[2].snaps_installed, 1);
    assert_int_equal(c.nodes[2].app_index, 11);
    assert_true(c.nodes[2].app_hash == c.nodes[0].app_hash);
    assert_int_equal(st_of(&c, 2).first_index, 12);
    /* replication continues normally after the snapshot */
    assert_int_equal(tc_propose(&c, 0, "after", NULL), 0);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_int_equal(c.nodes[2].app_index, 12);
    assert_true(c.nodes[2].app_hash == c.nodes[0].app_hash);
    raft_peer_progress p;
    assert_int_equal(raft_get_progress(c.nodes[0].r, 2, &p), 0);
    assert_int_equal(p.state, RAFT_PR_REPLICATE);
    tc_free(&c);
}

static void stale_snapshot_ignored(void **state)
{
    (void)state;
    tcluster c;
    assert_int_equal(tc_init(&c, 3, NULL), 0);
    assert_int_equal(tc_elect(&c, 0), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(tc_propose(&c, 0, "e", NULL), 0);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_int_equal(tc_tick_all(&c, 1), 0);
    assert_int_equal(st_of(&c, 1).commit, 6);
    raft_snapshot_meta s = {.index = 3, .term = 1};
    raft_msg m = {.type = RAFT_MSG_SNAP,
                  .from = 1,
                  .to = 2,
                  .term = 1,
                  .index = 3,
                  .log_term = 1,
                  .snap = &s};
    assert_int_equal(raft_step(c.nodes[1].r, &m), 0);
    raft_ready_batch rd;
    assert_int_equal(raft_ready(c.nodes[1].r, &rd), 0);
    assert_null(rd.snapshot);
    assert_int_equal(rd.n_msgs_after_persist, 1);
    assert_int_equal(rd.msgs_after_persist[0].type, RAFT_MSG_APP_RESP);
    assert_int_equal(rd.msgs_after_persist[0].index, 6); /* tells the leader its commit */
    assert_int_equal(raft_advance(c.nodes[1].r, &rd), 0);
    assert_int_equal(st_of(&c, 1).last_index, 6);
    tc_free(&c);
}

static void snapshot_of_entries_already_held_only_advances_commit(void **state)
{
    (void)state;
    tcluster c;
    assert_int_equal(tc_init(&c, 3, NULL), 0);
    assert_int_equal(tc_elect(&c, 0), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(tc_propose(&c, 0, "e", NULL), 0);
    assert_int_equal(tc_ready(&c, 0), 1);
    while (c.nnet)
        tc_deliver(&c, 0); /* followers have 2..6, commit 1 */
    assert_int_equal(tc_ready(&c, 1), 1);
    assert_int_equal(st_of(&c, 1).commit, 1);
    raft_snapshot_meta s = {.index = 4, .term = 1};
    raft_msg m = {.type = RAFT_MSG_SNAP,
                  .from = 1,
                  .to = 2,
                  .term = 1,
                  .index = 4,
                  .log_term = 1,
                  .snap = &s};
    assert_int_equal(raft_step(c.nodes[1].r, &m), 0);
    raft_status st = st_of(&c, 1);
    assert_int_equal(st.commit, 4);
    assert_int_equal(st.last_index, 6);
    assert_int_equal(st.first_index, 1);
    tc_free(&c);
}

static void failed_snapshot_is_retried(void **state)
{
    (void)state;
    tcluster c;
    setup_lagging(&c);
    tc_heal(&c);
    /* the first snapshot message is lost in transit */
    assert_int_equal(raft_tick(c.nodes[0].r), 0);
    int dropped = 0;
    for (int r = 0; r < 5 && !dropped; r++) {
        for (int i = 0; i < 3; i++)
            tc_ready(&c, i);
        size_t k = 0;
        while (k < c.nnet) {
            if (c.net[k].m->type == RAFT_MSG_SNAP) {
                tc_drop(&c, k);
                dropped = 1;
            } else {
                tc_deliver(&c, k);
            }
        }
    }
    assert_true(dropped);
    raft_peer_progress p;
    assert_int_equal(raft_get_progress(c.nodes[0].r, 2, &p), 0);
    assert_int_equal(p.state, RAFT_PR_SNAPSHOT);
    assert_int_equal(raft_report_snapshot(c.nodes[0].r, 3, 0), 0);
    assert_int_equal(raft_get_progress(c.nodes[0].r, 2, &p), 0);
    assert_int_equal(p.state, RAFT_PR_PROBE);
    assert_int_equal(tc_tick_all(&c, 3), 0);
    assert_int_equal(c.nodes[2].snaps_installed, 1);
    assert_int_equal(c.nodes[2].app_index, 11);
    tc_free(&c);
}

static void lost_snapshot_without_report_is_retried_after_a_while(void **state)
{
    (void)state;
    tcluster c;
    setup_lagging(&c);
    tc_heal(&c);
    /* every snapshot message is lost for a while, and nobody reports it */
    for (int t = 0; t < 10; t++) {
        raft_tick(c.nodes[0].r);
        for (int i = 0; i < 3; i++)
            tc_ready(&c, i);
        size_t k = 0;
        while (k < c.nnet) {
            if (c.net[k].m->type == RAFT_MSG_SNAP)
                tc_drop(&c, k);
            else
                tc_deliver(&c, k);
        }
    }
    assert_int_equal(c.nodes[2].snaps_installed, 0);
    assert_int_equal(tc_tick_all(&c, 25), 0);
    assert_int_equal(c.nodes[2].snaps_installed, 1);
    assert_int_equal(c.nodes[2].app_index, 11);
    tc_free(&c);
}

static void snapshot_temporarily_unavailable_is_retried(void **state)
{
    (void)state;
    tcluster c;
    setup_lagging(&c);
    c.nodes[0].st.fail_snapshot = 1;
    tc_heal(&c);
    assert_int_equal(tc_tick_all(&c, 3), 0);
    assert_int_equal(c.nodes[2].snaps_installed, 0);
    c.nodes[0].st.fail_snapshot = 0;
    assert_int_equal(tc_tick_all(&c, 3), 0);
    assert_int_equal(c.nodes[2].snaps_installed, 1);
    tc_free(&c);
}

static void restart_after_snapshot_starts_from_it(void **state)
{
    (void)state;
    tcluster c;
    setup_lagging(&c);
    tc_heal(&c);
    assert_int_equal(tc_tick_all(&c, 3), 0);
    assert_int_equal(tc_propose(&c, 0, "more", NULL), 0);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_int_equal(tc_tick_all(&c, 1), 0);
    uint64_t h = c.nodes[0].app_hash;
    tc_crash(&c, 2);
    assert_int_equal(tc_start(&c, 2), 0);
    raft_status s = st_of(&c, 2);
    assert_int_equal(s.first_index, 12);
    assert_int_equal(s.applied, 11);
    uint64_t t;
    assert_int_equal(raft_log_term(c.nodes[2].r, 11, &t), 0); /* the snapshot's term */
    assert_int_equal(t, 1);
    assert_int_equal(raft_log_term(c.nodes[2].r, 10, &t), RAFT_ECOMPACTED);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_int_equal(c.nodes[2].app_index, 12);
    assert_true(c.nodes[2].app_hash == h);
    tc_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(snapshot_sent_when_next_entry_compacted),
        cmocka_unit_test(stale_snapshot_ignored),
        cmocka_unit_test(snapshot_of_entries_already_held_only_advances_commit),
        cmocka_unit_test(failed_snapshot_is_retried),
        cmocka_unit_test(lost_snapshot_without_report_is_retried_after_a_while),
        cmocka_unit_test(snapshot_temporarily_unavailable_is_retried),
        cmocka_unit_test(restart_after_snapshot_starts_from_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
