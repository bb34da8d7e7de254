/* test_hostile.c -- messages that cannot be true (DESIGN.md "Determinism and
 * trust"). Each test hands one impossible message straight to raft_step
 * (valid framing, a field no honest peer could send) and checks that it is
 * dropped and counted (raft_status.dropped_msgs), that no call returns an
 * error, that the node's state did not move, and that the cluster goes on
 * committing afterwards. */
#include <stdio.h>
#include <string.h>

#include "tests/raft/test_util.h"

static uint64_t dropped(tcluster *c, int i)
{
    return st_of(c, i).dropped_msgs;
}

/* 3 nodes, node 1 leader, a few committed entries everywhere. */
static void setup(tcluster *c)
{
    assert_int_equal(tc_init(c, 3, NULL), 0);
    assert_int_equal(tc_elect(c, 0), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(tc_propose(c, 0, "entry", NULL), 0);
    assert_int_equal(tc_stabilize(c), 0);
    assert_int_equal(st_of(c, 1).commit, 4);
    assert_int_equal(st_of(c, 2).commit, 4);
}

/* The cluster still commits a new entry on every node. */
static void assert_still_commits(tcluster *c)
{
    int l = tc_leader(c);
    assert_true(l >= 0);
    uint64_t idx;
    assert_int_equal(tc_propose(c, l, "after", &idx), 0);
    assert_int_equal(tc_stabilize(c), 0);
    for (int i = 0; i < c->n; i++)
        assert_true(c->nodes[i].app_index >= idx);
    for (int i = 1; i < c->n; i++)
        assert_true(c->nodes[i].app_hash == c->nodes[0].app_hash);
}

/* Steps m into node i: accepted without an error and counted as dropped. */
static void step_dropped(tcluster *c, int i, raft_msg *m)
{
    uint64_t before = dropped(c, i);
    raft_status s0 = st_of(c, i);
    assert_int_equal(raft_step(c->nodes[i].r, m), 0);
    raft_status s1 = st_of(c, i);
    assert_int_equal(dropped(c, i), before + 1);
    assert_int_equal(s1.term, s0.term);
    assert_int_equal(s1.role, s0.role);
    assert_int_equal(s1.leader, s0.leader);
    assert_int_equal(s1.commit, s0.commit);
    assert_int_equal(s1.last_index, s0.last_index);
    assert_int_equal(tc_stabilize(c), 0);
}

static raft_msg msg(uint8_t type, uint64_t from, uint64_t to, uint64_t term)
{
    raft_msg m;
    memset(&m, 0, sizeof m);
    m.type = type;
    m.from = from;
    m.to = to;
    m.term = term;
    return m;
}

/* The reported defect (issue 14, 6): the leader took the match index, then
 * could not read the log slice after it and failed for good. */
static void append_response_past_the_log_is_dropped(void **state)
{
    (void)state;
    tcluster c;
    setup(&c);
    raft_status s = st_of(&c, 0);
    raft_msg m = msg(RAFT_MSG_APP_RESP, 2, 1, s.term);
    m.index = s.last_index + 100;
    step_dropped(&c, 0, &m);
    raft_peer_progress p;
    assert_int_equal(raft_get_progress(c.nodes[0].r, 1, &p), 0);
    assert_true(p.match <= s.last_index);
    assert_still_commits(&c);
    tc_free(&c);
}

static void append_with_entries_not_contiguous_is_dropped(void **state)
{
    (void)state;
    tcluster c;
    setup(&c);
    raft_status s = st_of(&c, 1);
    raft_entry e[3] = {
        {.index = s.last_index + 1, .term = s.term, .len = 1, .data = (const uint8_t *)"a"},
        {.index = s.last_index + 5, .term = s.term, .len = 1, .data = (const uint8_t *)"b"},
        {.index = s.last_index + 2, .term = s.term, .len = 1, .data = (const uint8_t *)"c"}};
    /* a gap, then out of order, then a repeated index */
    raft_msg m = msg(RAFT_MSG_APP, 1, 2, s.term);
    m.index = s.last_index;
    m.log_term = s.term;
    m.entries = e;
    m.n_entries = 2;
    step_dropped(&c, 1, &m);
    e[1].index = s.last_index + 3;
    m.entries = e + 1;
    step_dropped(&c, 1, &m);
    e[1].index = s.last_index + 1;
    m.entries = e;
    step_dropped(&c, 1, &m);
    assert_still_commits(&c);
    tc_free(&c);
}

static void append_with_terms_out_of_order_or_from_the_future_is_dropped(void **state)
{
    (void)state;
    tcluster c;
    setup(&c);
    raft_status s = st_of(&c, 1);
    raft_entry e[2] = {{.index = s.last_index + 1, .term = s.term + 1},
                       {.index = s.last_index + 2, .term = s.term}};
    raft_msg m = msg(RAFT_MSG_APP, 1, 2, s.term);
    m.index = s.last_index;
    m.log_term = s.term;
    m.entries = e;
    m.n_entries = 2; /* an entry of a term after the message's */
    step_dropped(&c, 1, &m);
    e[0].term = s.term;
    e[1].term = s.term - 1; /* terms decrease */
    step_dropped(&c, 1, &m);
    e[1].term = s.term;
    m.log_term = s.term + 1; /* previous entry from the future */
    step_dropped(&c, 1, &m);
    assert_still_commits(&c);
    tc_free(&c);
}

/* A leader's append that would overwrite a committed entry: raft_step used
 * to return RAFT_ECORRUPT, which the driver treats as fatal. */
static void append_overwriting_a_committed_entry_is_dropped(void **state)
{
    (void)state;
    tcluster c;
    setup(&c);
    raft_status s = st_of(&c, 1);
    uint64_t pt;
    assert_int_equal(raft_log_term(c.nodes[1].r, s.commit, &pt), 0);
    /* after the committed previous entry, an entry below it of a new term */
    raft_entry e = {
        .index = s.commit - 1, .term = s.term + 1, .len = 1, .data = (const uint8_t *)"x"};
    raft_msg m = msg(RAFT_MSG_APP, 1, 2, s.term + 1);
    m.index = s.commit;
    m.log_term = pt;
    m.entries = &e;
    m.n_entries = 1;
    uint64_t before = dropped(&c, 1);
    assert_int_equal(raft_step(c.nodes[1].r, &m), 0);
    assert_int_equal(dropped(&c, 1), before + 1);
    uint64_t t;
    assert_int_equal(raft_log_term(c.nodes[1].r, s.commit - 1, &t), 0);
    assert_int_equal(t, 1);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_int_equal(tc_tick_all(&c, 40), 0);
    assert_still_commits(&c);
    tc_free(&c);
}

static void snapshot_index_beyond_any_log_is_dropped(void **state)
{
    (void)state;
    tcluster c;
    setup(&c);
    raft_status s = st_of(&c, 1);
    raft_snapshot_meta sm;
    memset(&sm, 0, sizeof sm);
    sm.index = UINT64_MAX;
    sm.term = s.term;
    raft_msg m = msg(RAFT_MSG_SNAP, 1, 2, s.term);
    m.index = sm.index;
    m.log_term = sm.term;
    m.snap = &sm;
    step_dropped(&c, 1, &m);
    assert_still_commits(&c);
    tc_free(&c);
}

static void snapshot_of_a_future_term_is_dropped(void **state)
{
    (void)state;
    tcluster c;
    setup(&c);
    raft_status s = st_of(&c, 2);
    raft_snapshot_meta sm;
    memset(&sm, 0, sizeof sm);
    sm.index = s.last_index + 1;
    sm.term = s.term + 7; /* the leader cannot have an entry of a later term */
    raft_msg m = msg(RAFT_MSG_SNAP, 1, 3, s.term);
    m.index = sm.index;
    m.log_term = sm.term;
    m.snap = &sm;
    step_dropped(&c, 2, &m);
    sm.term = s.term;
    m.index = sm.index + 1; /* the message and its metadata disagree */
    step_dropped(&c, 2, &m);
    assert_still_commits(&c);
    tc_free(&c);
}

/* A snapshot at or below the commit index is stale (a delayed duplicate can
 * be): ignored, the node answers with its commit, nothing changes. */
static void snapshot_below_commit_changes_nothing(void **state)
{
    (void)state;
    tcluster c;
    setup(&c);
    raft_status s = st_of(&c, 1);
    raft_snapshot_meta sm;
    memset(&sm, 0, sizeof sm);
    sm.index = s.commit - 1;
    sm.term = 1;
    raft_msg m = msg(RAFT_MSG_SNAP, 1, 2, s.term);
    m.index = sm.index;
    m.log_term = sm.term;
    m.snap = &sm;
    assert_int_equal(raft_step(c.nodes[1].r, &m), 0);
    raft_status s1 = st_of(&c, 1);
    assert_int_equal(s1.commit, s.commit);
    assert_int_equal(s1.last_index, s.last_index);
    assert_int_equal(s1.first_index, s.first_index);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_int_equal(c.nodes[1].snaps_installed, 0);
    assert_still_commits(&c);
    tc_free(&c);
}

/* Responses carry the term of the request they answer, which the receiver
 * sent: one from a later term cannot be true (except the bare "your term is
 * over" notice a stale leader gets). It used to depose the leader. */
static void responses_from_a_future_term_are_dropped(void **state)
{
    (void)state;
    tcluster c;
    setup(&c);
    raft_status s = st_of(&c, 0);
    raft_msg m = msg(RAFT_MSG_HEARTBEAT_RESP, 2, 1, s.term + 5);
    step_dropped(&c, 0, &m);
    m = msg(RAFT_MSG_APP_RESP, 3, 1, s.term + 5);
    m.index = s.last_index;
    step_dropped(&c, 0, &m);
    m = msg(RAFT_MSG_VOTE_RESP, 2, 1, s.term + 5); /* a granted vote */
    step_dropped(&c, 0, &m);
    m = msg(RAFT_MSG_TIMEOUT_NOW, 2, 3, s.term + 5);
    step_dropped(&c, 2, &m);
    assert_int_equal(tc_leader(&c), 0);
    assert_still_commits(&c);
    tc_free(&c);
}

static void rejection_past_the_log_or_with_a_hint_past_it_is_dropped(void **state)
{
    (void)state;
    tcluster c;
    setup(&c);
    raft_status s = st_of(&c, 0);
    raft_msg m = msg(RAFT_MSG_APP_RESP, 2, 1, s.term);
    m.reject = 1;
    m.index = s.last_index + 10; /* we never sent that previous index */
    m.reject_hint = s.last_index + 10;
    step_dropped(&c, 0, &m);
    m.index = s.last_index;
    m.reject_hint = s.last_index + 1000; /* the hint is above the rejected index */
    step_dropped(&c, 0, &m);
    m.reject_hint = 1;
    m.log_term = s.term + 3; /* the follower's term at the hint is from the future */
    step_dropped(&c, 0, &m);
    assert_still_commits(&c);
    tc_free(&c);
}

/* A heartbeat's commit is min(leader commit, follower match): never past the
 * follower's log. */
/* A heartbeat's commit past the follower's log is not impossible: it is
 * min(leader commit, the follower's match), and a follower whose data
 * directory was lost (a replaced disk) restarts with an empty log while the
 * leader still holds its old match. Dropping such heartbeats kept a wiped
 * follower from ever hearing its leader (bench_snapshot_smoke hung); the
 * commit is clamped to the log instead, and the follower is caught up. */
static void heartbeat_commit_past_the_log_is_clamped(void **state)
{
    (void)state;
    tcluster c;
    setup(&c);
    raft_status s = st_of(&c, 1);
    uint64_t before = dropped(&c, 1);
    raft_msg m = msg(RAFT_MSG_HEARTBEAT, 1, 2, s.term);
    m.commit = s.last_index + 50;
    assert_int_equal(raft_step(c.nodes[1].r, &m), 0);
    assert_int_equal(dropped(&c, 1), before);
    assert_true(st_of(&c, 1).commit <= st_of(&c, 1).last_index);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_still_commits(&c);
    tc_free(&c);
}

/* One leader per term: a second "leader" of the same term is impossible. */
static void leader_messages_from_a_second_leader_of_the_term_are_dropped(void **state)
{
    (void)state;
    tcluster c;
    setup(&c);
    raft_status s = st_of(&c, 1);
    raft_msg m = msg(RAFT_MSG_HEARTBEAT, 3, 2, s.term);
    step_dropped(&c, 1, &m);
    assert_int_equal(st_of(&c, 1).leader, 1);
    m = msg(RAFT_MSG_APP, 2, 1, s.term); /* to the leader itself */
    m.index = s.last_index;
    m.log_term = s.term;
    step_dropped(&c, 0, &m);
    m = msg(RAFT_MSG_TIMEOUT_NOW, 3, 2, s.term);
    step_dropped(&c, 1, &m);
    assert_int_equal(st_of(&c, 1).role, RAFT_FOLLOWER);
    assert_still_commits(&c);
    tc_free(&c);
}

/* A vote request whose last entry is of a later term than the request. */
static void vote_request_with_a_log_from_the_future_is_dropped(void **state)
{
    (void)state;
    tcluster c;
    setup(&c);
    raft_status s = st_of(&c, 1); /* no CheckQuorum: no leader lease */
    raft_msg m = msg(RAFT_MSG_VOTE, 3, 2, s.term + 1);
    m.index = 1;
    m.log_term = s.term + 50;
    uint64_t before = dropped(&c, 1);
    assert_int_equal(raft_step(c.nodes[1].r, &m), 0);
    assert_int_equal(dropped(&c, 1), before + 1);
    assert_int_equal(st_of(&c, 1).vote, s.vote);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_int_equal(tc_tick_all(&c, 60), 0);
    assert_still_commits(&c);
    tc_free(&c);
}

/* A heartbeat response for a round not yet sent would confirm a read that
 * no quorum confirmed (thesis §6.4). */
static void heartbeat_response_for_a_future_round_is_dropped(void **state)
{
    (void)state;
    tcluster c;
    setup(&c);
    raft_status s = st_of(&c, 0);
    assert_int_equal(raft_read_index(c.nodes[0].r, 42), 0);
    raft_msg m = msg(RAFT_MSG_HEARTBEAT_RESP, 2, 1, s.term);
    m.ctx = 1000000;
    uint64_t before = dropped(&c, 0);
    assert_int_equal(raft_step(c.nodes[0].r, &m), 0);
    assert_int_equal(dropped(&c, 0), before + 1);
    raft_ready_batch rd;
    assert_int_equal(raft_ready(c.nodes[0].r, &rd), 0);
    assert_int_equal(rd.n_read_states, 0);
    assert_int_equal(raft_advance(c.nodes[0].r, &rd), 0);
    tc_free(&c);
}

/* Terms and indexes no cluster can reach: a term of UINT64_MAX would wrap
 * at the next election. */
static void terms_and_indexes_beyond_the_limits_are_dropped(void **state)
{
    (void)state;
    tcluster c;
    setup(&c);
    raft_msg m = msg(RAFT_MSG_HEARTBEAT, 3, 2, UINT64_MAX);
    step_dropped(&c, 1, &m);
    m = msg(RAFT_MSG_VOTE, 3, 2, RAFT_TERM_MAX + 1);
    step_dropped(&c, 1, &m);
    raft_status s = st_of(&c, 0);
    m = msg(RAFT_MSG_APP_RESP, 2, 1, s.term);
    m.reject = 1;
    m.index = UINT64_MAX;
    m.reject_hint = UINT64_MAX;
    step_dropped(&c, 0, &m);
    assert_still_commits(&c);
    tc_free(&c);
}

/* A rejection at or below what the follower already matched in our term is
 * stale (or a lie): resending there would be rejected again at once, and
 * a follower whose log was made to diverge kept the pair in a loop. */
static void rejection_at_or_below_the_match_sends_nothing(void **state)
{
    (void)state;
    tcluster c;
    setup(&c);
    raft_status s = st_of(&c, 0);
    raft_peer_progress p;
    assert_int_equal(raft_get_progress(c.nodes[0].r, 1, &p), 0);
    assert_int_equal(p.match, s.last_index);
    assert_int_equal(raft_report_unreachable(c.nodes[0].r, 2), 0); /* probe at match + 1 */
    raft_msg m = msg(RAFT_MSG_APP_RESP, 2, 1, s.term);
    m.reject = 1;
    m.index = p.match;
    m.reject_hint = p.match - 1;
    m.log_term = 1;
    assert_int_equal(raft_step(c.nodes[0].r, &m), 0);
    raft_ready_batch rd;
    if (raft_has_ready(c.nodes[0].r)) {
        assert_int_equal(raft_ready(c.nodes[0].r, &rd), 0);
        for (size_t k = 0; k < rd.n_msgs; k++)
            assert_false(rd.msgs[k].type == RAFT_MSG_APP && rd.msgs[k].to == 2);
        assert_int_equal(raft_advance(c.nodes[0].r, &rd), 0);
    }
    assert_int_equal(raft_get_progress(c.nodes[0].r, 1, &p), 0);
    assert_int_equal(p.match, s.last_index);
    assert_still_commits(&c);
    tc_free(&c);
}

/* Ids that are not members, and messages for another node. */
static void messages_from_or_to_non_members_are_dropped(void **state)
{
    (void)state;
    tcluster c;
    setup(&c);
    raft_status s = st_of(&c, 1);
    /* (a leader's messages and vote requests from an id we do not know are
     * taken: a member lagging behind a change follows the leader it added
     * and votes for the voters it added, test_membership) */
    raft_msg m = msg(RAFT_MSG_VOTE_RESP, 9, 2, s.term);
    step_dropped(&c, 1, &m);
    m = msg(RAFT_MSG_APP_RESP, 9, 1, s.term);
    step_dropped(&c, 0, &m);
    m = msg(RAFT_MSG_HEARTBEAT, 1, 7, s.term);
    step_dropped(&c, 1, &m);
    m = msg(RAFT_MSG_HEARTBEAT, 2, 2, s.term); /* from itself */
    step_dropped(&c, 1, &m);
    m = msg(99, 1, 2, s.term); /* no such type */
    step_dropped(&c, 1, &m);
    m = msg(RAFT_MSG_TRANSFER_LEADER, 2, 1, 0);
    m.ctx = 0; /* to no node */
    step_dropped(&c, 0, &m);
    /* to a node that is not a member: ignored (the sender may know of a
     * change we have not applied yet) */
    m.ctx = 12;
    assert_int_equal(raft_step(c.nodes[0].r, &m), 0);
    assert_int_equal(st_of(&c, 0).transferee, 0);
    assert_int_equal(st_of(&c, 0).role, RAFT_LEADER);
    assert_still_commits(&c);
    tc_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(append_response_past_the_log_is_dropped),
        cmocka_unit_test(append_with_entries_not_contiguous_is_dropped),
        cmocka_unit_test(append_with_terms_out_of_order_or_from_the_future_is_dropped),
        cmocka_unit_test(append_overwriting_a_committed_entry_is_dropped),
        cmocka_unit_test(snapshot_index_beyond_any_log_is_dropped),
        cmocka_unit_test(snapshot_of_a_future_term_is_dropped),
        cmocka_unit_test(snapshot_below_commit_changes_nothing),
        cmocka_unit_test(responses_from_a_future_term_are_dropped),
        cmocka_unit_test(rejection_past_the_log_or_with_a_hint_past_it_is_dropped),
        cmocka_unit_test(heartbeat_commit_past_the_log_is_clamped),
        cmocka_unit_test(leader_messages_from_a_second_leader_of_the_term_are_dropped),
        cmocka_unit_test(vote_request_with_a_log_from_the_future_is_dropped),
        cmocka_unit_test(heartbeat_response_for_a_future_round_is_dropped),
        cmocka_unit_test(terms_and_indexes_beyond_the_limits_are_dropped),
        cmocka_unit_test(messages_from_or_to_non_members_are_dropped),
        cmocka_unit_test(rejection_at_or_below_the_match_sends_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
