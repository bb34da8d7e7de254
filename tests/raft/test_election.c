/* test_election.c -- scenario tests for roles and elections (paper §5.2,
 * §5.4.1; thesis §3.4, §9.6 PreVote, §6.2 CheckQuorum). */
#include <stdio.h>
#include <string.h>

#include "tests/raft/test_util.h"

static void leader_elected_with_quorum(void **state)
{
    (void)state;
    tcluster c;
    assert_int_equal(tc_init(&c, 3, NULL), 0);
    assert_int_equal(tc_elect(&c, 0), 0);
    assert_int_equal(st_of(&c, 0).term, 1);
    assert_int_equal(st_of(&c, 1).leader, 1);
    assert_int_equal(st_of(&c, 2).leader, 1);
    /* the leader's empty entry of its term commits everywhere */
    assert_int_equal(st_of(&c, 2).commit, 1);
    tc_free(&c);
}

static void no_leader_without_quorum(void **state)
{
    (void)state;
    tcluster c;
    assert_int_equal(tc_init(&c, 3, NULL), 0);
    tc_isolate(&c, 1);
    tc_isolate(&c, 2);
    assert_int_equal(raft_campaign(c.nodes[0].r), 0);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_int_equal(st_of(&c, 0).role, RAFT_CANDIDATE);
    assert_int_equal(tc_tick_all(&c, 50), 0);
    assert_int_equal(tc_leader(&c), -1);
    tc_free(&c);
}

static void split_votes_resolve_with_randomized_timeouts(void **state)
{
    (void)state;
    tcluster c;
    raft_config cfg;
    tc_default_cfg(&cfg);
    assert_int_equal(tc_init(&c, 5, &cfg), 0);
    /* two candidates at once in term 1: nodes 1 and 2 split the votes */
    assert_int_equal(raft_campaign(c.nodes[0].r), 0);
    assert_int_equal(raft_campaign(c.nodes[1].r), 0);
    for (int i = 0; i < 2; i++)
        tc_ready(&c, i);
    /* deliver node 1's requests to 3, node 2's to 4 and 5 would be needed
     * for a win; instead deliver 1's to 3 and 2's to 4 only */
    size_t k = 0;
    while (k < c.nnet) {
        raft_msg *m = c.net[k].m;
        if ((m->from == 1 && m->to == 3) || (m->from == 2 && m->to == 4))
            tc_deliver(&c, k);
        else
            tc_drop(&c, k);
    }
    assert_int_equal(tc_stabilize(&c), 0);
    assert_int_equal(tc_leader(&c), -1);
    /* randomized timeouts break the tie */
    for (int t = 0; t < 40 && tc_leader(&c) < 0; t++)
        assert_int_equal(tc_tick_all(&c, 1), 0);
    int l = tc_leader(&c);
    assert_true(l >= 0);
    assert_true(st_of(&c, l).term >= 2);
    tc_free(&c);
}

static void candidate_falls_back_to_follower_on_leader_append(void **state)
{
    (void)state;
    tcluster c;
    assert_int_equal(tc_init(&c, 3, NULL), 0);
    assert_int_equal(tc_elect(&c, 0), 0);
    /* node 3 becomes candidate in the same term's successor but loses the
     * race: make it candidate at term 1 by crafting */
    tc_isolate(&c, 2);
    assert_int_equal(raft_campaign(c.nodes[2].r), 0); /* term 2, alone */
    assert_int_equal(tc_stabilize(&c), 0);
    assert_int_equal(st_of(&c, 2).role, RAFT_CANDIDATE);
    tc_heal(&c);
    /* the candidate's higher term deposes the leader on the next exchange;
     * a new leader emerges and the candidate follows it */
    assert_int_equal(tc_tick_all(&c, 60), 0);
    int l = tc_leader(&c);
    assert_true(l >= 0);
    for (int i = 0; i < 3; i++)
        if (i != l) assert_int_equal(st_of(&c, i).role, RAFT_FOLLOWER);
    tc_free(&c);
}

static void any_role_steps_down_on_higher_term(void **state)
{
    (void)state;
    tcluster c;
    assert_int_equal(tc_init(&c, 3, NULL), 0);
    assert_int_equal(tc_elect(&c, 0), 0);
    /* a vote request from term 5 makes the leader a follower at term 5 */
    raft_msg m = {.type = RAFT_MSG_VOTE, .from = 2, .to = 1, .term = 5, .index = 1, .log_term = 1};
    assert_int_equal(raft_step(c.nodes[0].r, &m), 0);
    raft_status s = st_of(&c, 0);
    assert_int_equal(s.role, RAFT_FOLLOWER);
    assert_int_equal(s.term, 5);
    assert_int_equal(s.vote, 2); /* up to date: granted */
    tc_free(&c);
}

static void vote_denied_to_candidate_with_stale_log(void **state)
{
    (void)state;
    tcluster c;
    assert_int_equal(tc_init(&c, 3, NULL), 0);
    assert_int_equal(tc_elect(&c, 0), 0);
    assert_int_equal(tc_propose(&c, 0, "x", NULL), 0);
    assert_int_equal(tc_stabilize(&c), 0);
    /* §5.4.1: last term equal, last index shorter: denied */
    raft_msg m = {.type = RAFT_MSG_VOTE, .from = 3, .to = 2, .term = 9, .index = 1, .log_term = 1};
    assert_int_equal(raft_step(c.nodes[1].r, &m), 0);
    assert_int_equal(st_of(&c, 1).term, 9);
    assert_int_equal(st_of(&c, 1).vote, 0);
    tc_free(&c);
}

static void vote_is_sent_only_after_persist(void **state)
{
    (void)state;
    tcluster c;
    assert_int_equal(tc_init(&c, 3, NULL), 0);
    raft_msg m = {.type = RAFT_MSG_VOTE, .from = 2, .to = 1, .term = 1};
    assert_int_equal(raft_step(c.nodes[0].r, &m), 0);
    raft_ready_batch rd;
    assert_int_equal(raft_ready(c.nodes[0].r, &rd), 0);
    assert_int_equal(rd.n_msgs, 0);
    assert_int_equal(rd.n_msgs_after_persist, 1);
    assert_int_equal(rd.msgs_after_persist[0].type, RAFT_MSG_VOTE_RESP);
    assert_true(rd.hs_changed);
    assert_int_equal(rd.hs.vote, 2);
    /* nothing mutates while the Ready is out */
    assert_int_equal(raft_tick(c.nodes[0].r), RAFT_EBUSY);
    assert_int_equal(raft_advance(c.nodes[0].r, &rd), 0);
    tc_free(&c);
}

static void stale_term_messages_ignored(void **state)
{
    (void)state;
    tcluster c;
    assert_int_equal(tc_init(&c, 3, NULL), 0);
    assert_int_equal(tc_elect(&c, 0), 0);
    assert_int_equal(tc_elect(&c, 1), 0); /* term 2 */
    uint64_t commit = st_of(&c, 2).commit;
    /* an append from the old leader at term 1 carrying a bogus commit */
    raft_entry e = {.index = 3, .term = 1, .len = 1, .data = (const uint8_t *)"z"};
    raft_msg m = {.type = RAFT_MSG_APP,
                  .from = 1,
                  .to = 3,
                  .term = 1,
                  .index = 2,
                  .log_term = 2,
                  .commit = 3,
                  .n_entries = 1,
                  .entries = &e};
    assert_int_equal(raft_step(c.nodes[2].r, &m), 0);
    raft_status s = st_of(&c, 2);
    assert_int_equal(s.term, 2);
    assert_int_equal(s.commit, commit);
    assert_int_equal(s.leader, 2);
    tc_free(&c);
}

static void leader_steps_down_on_higher_term_reply(void **state)
{
    (void)state;
    tcluster c;
    assert_int_equal(tc_init(&c, 3, NULL), 0);
    assert_int_equal(tc_elect(&c, 0), 0);
    /* what a node of a later term answers a stale leader's append with */
    raft_msg m = {.type = RAFT_MSG_APP_RESP, .from = 2, .to = 1, .term = 7};
    assert_int_equal(raft_step(c.nodes[0].r, &m), 0);
    assert_int_equal(st_of(&c, 0).role, RAFT_FOLLOWER);
    assert_int_equal(st_of(&c, 0).term, 7);
    tc_free(&c);
}

static void prevote_keeps_rejoining_node_from_disrupting(void **state)
{
    (void)state;
    tcluster c;
    raft_config cfg;
    tc_default_cfg(&cfg);
    cfg.prevote = 1;
    cfg.check_quorum = 1;
    assert_int_equal(tc_init(&c, 3, &cfg), 0);
    assert_int_equal(tc_elect(&c, 0), 0);
    uint64_t term = st_of(&c, 0).term;
    tc_isolate(&c, 2);
    for (int t = 0; t < 100; t++) {
        tc_tick(&c, 2);
        assert_int_equal(tc_tick_all(&c, 1), 0);
    }
    /* the isolated node never raised its term */
    assert_int_equal(st_of(&c, 2).term, term);
    tc_heal(&c);
    assert_int_equal(tc_tick_all(&c, 5), 0);
    assert_int_equal(tc_leader(&c), 0);
    assert_int_equal(st_of(&c, 0).term, term);
    tc_free(&c);
}

static void without_prevote_rejoining_node_raises_term(void **state)
{
    (void)state;
    tcluster c;
    assert_int_equal(tc_init(&c, 3, NULL), 0);
    assert_int_equal(tc_elect(&c, 0), 0);
    tc_isolate(&c, 2);
    for (int t = 0; t < 30; t++)
        tc_tick(&c, 2);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_true(st_of(&c, 2).term > 1);
    tc_free(&c);
}

static void check_quorum_steps_partitioned_leader_down(void **state)
{
    (void)state;
    tcluster c;
    raft_config cfg;
    tc_default_cfg(&cfg);
    cfg.check_quorum = 1;
    assert_int_equal(tc_init(&c, 3, &cfg), 0);
    assert_int_equal(tc_elect(&c, 0), 0);
    tc_isolate(&c, 0);
    for (int t = 0; t < 2 * (int)cfg.election_tick + 1; t++) {
        tc_tick(&c, 0);
        tc_stabilize(&c);
    }
    assert_int_equal(st_of(&c, 0).role, RAFT_FOLLOWER);
    tc_free(&c);
}

static void check_quorum_leader_ignores_vote_in_lease(void **state)
{
    (void)state;
    tcluster c;
    raft_config cfg;
    tc_default_cfg(&cfg);
    cfg.check_quorum = 1;
    assert_int_equal(tc_init(&c, 3, &cfg), 0);
    assert_int_equal(tc_elect(&c, 0), 0);
    /* a follower that heard from the leader recently ignores a higher-term
     * vote request (thesis §4.2.3) */
    raft_msg m = {.type = RAFT_MSG_VOTE, .from = 3, .to = 2, .term = 5, .index = 9, .log_term = 9};
    assert_int_equal(raft_step(c.nodes[1].r, &m), 0);
    assert_int_equal(st_of(&c, 1).term, 1);
    tc_free(&c);
}

static void vote_requests_leave_only_after_term_and_vote_are_persisted(void **state)
{
    (void)state;
    tcluster c;
    assert_int_equal(tc_init(&c, 3, NULL), 0);
    assert_int_equal(raft_campaign(c.nodes[0].r), 0);
    raft_ready_batch rd;
    assert_int_equal(raft_ready(c.nodes[0].r, &rd), 0);
    assert_true(rd.hs_changed);
    assert_int_equal(rd.hs.term, 1);
    assert_int_equal(rd.hs.vote, 1);
    assert_int_equal(rd.n_msgs, 0);
    assert_int_equal(rd.n_msgs_after_persist, 2);
    assert_int_equal(rd.msgs_after_persist[0].type, RAFT_MSG_VOTE);
    assert_int_equal(raft_advance(c.nodes[0].r, &rd), 0);
    tc_free(&c);
}

static void persisted_vote_survives_restart_and_is_not_given_twice(void **state)
{
    (void)state;
    tcluster c;
    assert_int_equal(tc_init(&c, 3, NULL), 0);
    raft_msg m = {.type = RAFT_MSG_VOTE, .from = 2, .to = 1, .term = 5};
    assert_int_equal(raft_step(c.nodes[0].r, &m), 0);
    assert_int_equal(tc_ready(&c, 0), 1);
    tc_crash(&c, 0);
    assert_int_equal(tc_start(&c, 0), 0);
    raft_status s = st_of(&c, 0);
    assert_int_equal(s.term, 5);
    assert_int_equal(s.vote, 2);
    /* another candidate of the same term is refused */
    raft_msg m3 = {.type = RAFT_MSG_VOTE, .from = 3, .to = 1, .term = 5};
    assert_int_equal(raft_step(c.nodes[0].r, &m3), 0);
    raft_ready_batch rd;
    assert_int_equal(raft_ready(c.nodes[0].r, &rd), 0);
    assert_int_equal(rd.n_msgs_after_persist, 1);
    assert_int_equal(rd.msgs_after_persist[0].type, RAFT_MSG_VOTE_RESP);
    assert_int_equal(rd.msgs_after_persist[0].reject, 1);
    assert_int_equal(raft_advance(c.nodes[0].r, &rd), 0);
    /* a vote lost with an unpersisted Ready is not remembered: it was never sent */
    raft_msg m9 = {.type = RAFT_MSG_VOTE, .from = 3, .to = 1, .term = 9};
    assert_int_equal(raft_step(c.nodes[0].r, &m9), 0);
    tc_crash(&c, 0);
    assert_int_equal(tc_start(&c, 0), 0);
    assert_int_equal(st_of(&c, 0).term, 5);
    tc_free(&c);
}

static void candidate_becomes_follower_on_append_of_its_term(void **state)
{
    (void)state;
    tcluster c;
    assert_int_equal(tc_init(&c, 3, NULL), 0);
    assert_int_equal(raft_campaign(c.nodes[2].r), 0);
    assert_int_equal(st_of(&c, 2).role, RAFT_CANDIDATE);
    /* §5.2: an AppendEntries from a leader of the candidate's term */
    raft_msg m = {.type = RAFT_MSG_APP, .from = 2, .to = 3, .term = 1};
    assert_int_equal(raft_step(c.nodes[2].r, &m), 0);
    raft_status s = st_of(&c, 2);
    assert_int_equal(s.role, RAFT_FOLLOWER);
    assert_int_equal(s.leader, 2);
    assert_int_equal(s.term, 1);
    tc_free(&c);
}

static void precandidate_becomes_follower_on_heartbeat_and_keeps_its_term(void **state)
{
    (void)state;
    tcluster c;
    raft_config cfg;
    tc_default_cfg(&cfg);
    cfg.prevote = 1;
    assert_int_equal(tc_init(&c, 3, &cfg), 0);
    assert_int_equal(raft_campaign(c.nodes[2].r), 0);
    raft_status s = st_of(&c, 2);
    assert_int_equal(s.role, RAFT_PRECANDIDATE);
    assert_int_equal(s.term, 0); /* PreVote does not raise the term */
    raft_msg m = {.type = RAFT_MSG_HEARTBEAT, .from = 1, .to = 3, .term = 0};
    assert_int_equal(raft_step(c.nodes[2].r, &m), 0);
    s = st_of(&c, 2);
    assert_int_equal(s.role, RAFT_FOLLOWER);
    assert_int_equal(s.leader, 1);
    tc_free(&c);
}

static void candidate_grants_vote_to_higher_term(void **state)
{
    (void)state;
    tcluster c;
    assert_int_equal(tc_init(&c, 3, NULL), 0);
    assert_int_equal(raft_campaign(c.nodes[2].r), 0); /* candidate of term 1, voted for itself */
    raft_msg m = {.type = RAFT_MSG_VOTE, .from = 1, .to = 3, .term = 2};
    assert_int_equal(raft_step(c.nodes[2].r, &m), 0);
    raft_status s = st_of(&c, 2);
    assert_int_equal(s.role, RAFT_FOLLOWER);
    assert_int_equal(s.term, 2);
    assert_int_equal(s.vote, 1);
    tc_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(leader_elected_with_quorum),
        cmocka_unit_test(no_leader_without_quorum),
        cmocka_unit_test(split_votes_resolve_with_randomized_timeouts),
        cmocka_unit_test(candidate_falls_back_to_follower_on_leader_append),
        cmocka_unit_test(any_role_steps_down_on_higher_term),
        cmocka_unit_test(candidate_becomes_follower_on_append_of_its_term),
        cmocka_unit_test(precandidate_becomes_follower_on_heartbeat_and_keeps_its_term),
        cmocka_unit_test(candidate_grants_vote_to_higher_term),
        cmocka_unit_test(vote_denied_to_candidate_with_stale_log),
        cmocka_unit_test(vote_is_sent_only_after_persist),
        cmocka_unit_test(vote_requests_leave_only_after_term_and_vote_are_persisted),
        cmocka_unit_test(persisted_vote_survives_restart_and_is_not_given_twice),
        cmocka_unit_test(stale_term_messages_ignored),
        cmocka_unit_test(leader_steps_down_on_higher_term_reply),
        cmocka_unit_test(prevote_keeps_rejoining_node_from_disrupting),
        cmocka_unit_test(without_prevote_rejoining_node_raises_term),
        cmocka_unit_test(check_quorum_steps_partitioned_leader_down),
        cmocka_unit_test(check_quorum_leader_ignores_vote_in_lease),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
