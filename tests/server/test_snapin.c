/* test_snapin.c -- which snapshot chunks a follower accepts (server/snapin.h,
 * issue 14, defect 8): one staging at a time, chunks only from the stream's
 * sender, no snapshot at or below the commit index, nothing replaces a
 * staging raft is about to install; a refused sender never disturbs the
 * stream under way, which completes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "server/snapin.h"

static snapin_node at(int64_t now_ms, uint64_t leader)
{
    snapin_node n = {.committed = 100, .leader = leader, .now_ms = now_ms, .idle_ms = 10000};
    return n;
}

static void a_second_sender_is_refused_and_the_first_stream_completes(void **state)
{
    (void)state;
    snapin in = {0};
    snapin_node n = at(1000, 1);
    assert_null(snapin_admit(&in, &n, 1, 500, 3, 0));
    assert_int_equal(in.state, SNAPIN_STAGING);
    /* Node 2 starts a stream of its own, then writes into node 1's. */
    n.now_ms = 1500;
    assert_non_null(snapin_admit(&in, &n, 2, 500, 3, 0));
    assert_non_null(snapin_admit(&in, &n, 2, 600, 4, 0));
    assert_non_null(snapin_admit(&in, &n, 2, 500, 3, 4096));
    assert_int_equal(in.from, 1);
    assert_int_equal(in.index, 500);
    /* Node 1's stream goes on and ends; raft takes it. */
    assert_null(snapin_admit(&in, &n, 1, 500, 3, 4096));
    assert_null(snapin_admit(&in, &n, 1, 500, 3, 8192));
    snapin_handed(&in, 1);
    assert_int_equal(in.state, SNAPIN_INSTALLING);
    /* Before the install, nobody may start over the staging, not even
     * node 1 or the leader, however long it takes. */
    n.now_ms = 100000;
    assert_non_null(snapin_admit(&in, &n, 2, 700, 4, 0));
    assert_non_null(snapin_admit(&in, &n, 1, 700, 4, 0));
    assert_non_null(snapin_admit(&in, &n, 1, 500, 3, 12288));
    snapin_installed(&in);
    assert_int_equal(in.state, SNAPIN_IDLE);
    n.committed = 500;
    assert_null(snapin_admit(&in, &n, 2, 700, 4, 0));
}

static void a_stream_cannot_change_snapshot_in_its_middle(void **state)
{
    (void)state;
    snapin in = {0};
    snapin_node n = at(0, 1);
    assert_non_null(snapin_admit(&in, &n, 1, 500, 3, 100)); /* nothing staging */
    assert_null(snapin_admit(&in, &n, 1, 500, 3, 0));
    assert_non_null(snapin_admit(&in, &n, 1, 501, 3, 100));
    assert_non_null(snapin_admit(&in, &n, 1, 500, 4, 100));
    assert_null(snapin_admit(&in, &n, 1, 500, 3, 100));
    /* Its own sender may start it again (it abandoned the first). */
    assert_null(snapin_admit(&in, &n, 1, 510, 3, 0));
    assert_int_equal(in.index, 510);
    assert_non_null(snapin_admit(&in, &n, 1, 500, 3, 100));
}

static void snapshots_at_or_below_the_commit_index_are_refused(void **state)
{
    (void)state;
    snapin in = {0};
    snapin_node n = at(0, 1);
    assert_non_null(snapin_admit(&in, &n, 1, 100, 3, 0));
    assert_non_null(snapin_admit(&in, &n, 1, 1, 1, 0));
    assert_int_equal(in.state, SNAPIN_IDLE);
    assert_null(snapin_admit(&in, &n, 1, 101, 3, 0));
    /* The node moved past it meanwhile (from the log): the rest is refused. */
    n.committed = 200;
    assert_non_null(snapin_admit(&in, &n, 1, 101, 3, 100));
}

static void a_quiet_or_deposed_stream_is_taken_over(void **state)
{
    (void)state;
    snapin in = {0};
    snapin_node n = at(0, 1);
    assert_null(snapin_admit(&in, &n, 1, 500, 3, 0));
    n.now_ms = 9999;
    assert_non_null(snapin_admit(&in, &n, 2, 600, 4, 0));
    n.now_ms = 10000; /* quiet for idle_ms */
    assert_null(snapin_admit(&in, &n, 2, 600, 4, 0));
    assert_int_equal(in.from, 2);
    assert_non_null(snapin_admit(&in, &n, 1, 500, 3, 100)); /* the old one is over */
    /* Node 3 became the leader: node 2's stream is a deposed leader's. */
    n.now_ms = 10001;
    assert_non_null(snapin_admit(&in, &n, 3, 700, 5, 0)); /* not the leader yet */
    n.leader = 3;
    assert_null(snapin_admit(&in, &n, 3, 700, 5, 0));
    assert_int_equal(in.from, 3);
    /* The leader's own stream is not taken over by the deposed one. */
    assert_non_null(snapin_admit(&in, &n, 2, 800, 4, 0));
}

static void a_failed_or_declined_stream_frees_the_staging(void **state)
{
    (void)state;
    snapin in = {0};
    snapin_node n = at(0, 1);
    assert_null(snapin_admit(&in, &n, 1, 500, 3, 0));
    snapin_failed(&in);
    assert_int_equal(in.state, SNAPIN_IDLE);
    assert_null(snapin_admit(&in, &n, 2, 500, 3, 0));
    snapin_handed(&in, 0); /* raft found it stale */
    assert_int_equal(in.state, SNAPIN_IDLE);
    assert_null(snapin_admit(&in, &n, 1, 600, 3, 0));
    snapin_handed(&in, 1);
    snapin_failed(&in); /* a late failure does not free an install */
    assert_int_equal(in.state, SNAPIN_INSTALLING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_second_sender_is_refused_and_the_first_stream_completes),
        cmocka_unit_test(a_stream_cannot_change_snapshot_in_its_middle),
        cmocka_unit_test(snapshots_at_or_below_the_commit_index_are_refused),
        cmocka_unit_test(a_quiet_or_deposed_stream_is_taken_over),
        cmocka_unit_test(a_failed_or_declined_stream_frees_the_staging),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
