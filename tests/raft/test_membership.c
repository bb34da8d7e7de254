/* test_membership.c -- scenario tests for runtime membership (raft.h
 * "membership"): learners, one change at a time, the leader's rule of an
 * entry of its term first, removed nodes that cannot disrupt, a leader that
 * removes itself, leadership transfer around changes, and the configuration
 * carried by snapshots, restarts and the Ready. */
#include <stdio.h>
#include <string.h>

#include "tests/raft/test_util.h"

static raft_conf conf_of(tcluster *c, int i)
{
    raft_conf k;
    raft_get_conf(c->nodes[i].r, &k, NULL);
    return k;
}

static void compact(tcluster *c, int i)
{
    tc_node *nd = &c->nodes[i];
    uint8_t ref[16];
    memcpy(ref, &nd->app_index, 8);
    memcpy(ref + 8, &nd->app_hash, 8);
    raft_conf k = conf_of(c, i);
    assert_int_equal(memstore_compact_conf(&nd->st, nd->app_index, ref, 16, &k), 0);
}

/* 3 voters (nodes 0-2, leader 0) and `spares` new nodes waiting. */
static void setup(tcluster *c, int spares, const raft_config *cfg)
{
    assert_int_equal(tc_init_spares(c, 3, spares, cfg), 0);
    assert_int_equal(tc_elect(c, 0), 0);
}

static int all_applied_equal(tcluster *c, int from, int to)
{
    for (int i = from; i < to; i++)
        if (c->nodes[i].r && (c->nodes[i].app_index != c->nodes[0].app_index ||
                              c->nodes[i].app_hash != c->nodes[0].app_hash))
            return 0;
    return 1;
}

/* A node that knows no cluster does nothing until it is added. */
static void new_node_waits_without_campaigning(void **state)
{
    (void)state;
    tcluster c;
    setup(&c, 1, NULL);
    uint64_t t0 = st_of(&c, 0).term;
    assert_int_equal(tc_member(&c, 3), 0);
    assert_int_equal(tc_tick_all(&c, 100), 0);
    assert_int_equal(st_of(&c, 3).term, 0);
    assert_int_equal(st_of(&c, 3).role, RAFT_FOLLOWER);
    assert_int_equal(st_of(&c, 0).term, t0);
    assert_int_equal(tc_leader(&c), 0);
    tc_free(&c);
}

/* Add as a learner: it gets the whole log (and learns the membership from
 * it) but a leader with only the learner cannot commit. */
static void learner_receives_the_log_but_never_counts_for_commit(void **state)
{
    (void)state;
    tcluster c;
    setup(&c, 1, NULL);
    assert_int_equal(tc_propose(&c, 0, "a", NULL), 0);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_int_equal(tc_add_learner(&c, 3), 0);
    assert_int_equal(tc_member(&c, 3), 2);
    assert_int_equal(tc_member(&c, 0), 1);
    assert_true(all_applied_equal(&c, 0, 4));
    raft_conf k = conf_of(&c, 3);
    assert_int_equal(k.n_voters, 3);
    assert_int_equal(k.n_learners, 1);
    assert_int_equal(k.learners[0], 4);
    /* cut both voting followers: leader + learner are 2 of 4 members, but
     * the learner does not count, so nothing commits */
    tc_isolate(&c, 1);
    tc_isolate(&c, 2);
    uint64_t idx;
    assert_int_equal(tc_propose(&c, 0, "b", &idx), 0);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_true(st_of(&c, 3).last_index >= idx); /* the learner has it */
    assert_true(st_of(&c, 0).commit < idx);
    tc_heal(&c);
    assert_int_equal(tc_tick_all(&c, 2), 0);
    assert_true(st_of(&c, 0).commit >= idx);
    assert_true(all_applied_equal(&c, 0, 4));
    tc_free(&c);
}

/* A learner never campaigns, even cut off for many election timeouts, and
 * cannot be the target of a transfer. */
static void learner_never_campaigns_and_cannot_take_leadership(void **state)
{
    (void)state;
    tcluster c;
    setup(&c, 1, NULL);
    assert_int_equal(tc_add_learner(&c, 3), 0);
    uint64_t t0 = st_of(&c, 0).term;
    tc_isolate(&c, 3);
    for (int t = 0; t < 100; t++)
        assert_int_equal(tc_tick(&c, 3), 0);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_int_equal(st_of(&c, 3).term, t0);
    assert_int_equal(st_of(&c, 3).role, RAFT_FOLLOWER);
    assert_int_equal(raft_campaign(c.nodes[3].r), 0);
    assert_int_equal(st_of(&c, 3).term, t0);
    tc_heal(&c);
    assert_int_equal(raft_transfer_leader(c.nodes[0].r, 4), RAFT_ELEARNER);
    assert_int_equal(raft_transfer_leader(c.nodes[1].r, 4), RAFT_ELEARNER);
    assert_int_equal(st_of(&c, 0).transferee, 0);
    /* the leader never asks it for a vote: elect node 1 with node 0 down */
    tc_crash(&c, 0);
    assert_int_equal(tc_elect(&c, 1), 0);
    assert_int_equal(st_of(&c, 3).vote, 0);
    tc_free(&c);
}

/* After promotion it counts: with 4 voters, quorum is 3. */
static void promoted_learner_counts_for_commit(void **state)
{
    (void)state;
    tcluster c;
    setup(&c, 1, NULL);
    assert_int_equal(tc_add_learner(&c, 3), 0);
    assert_int_equal(tc_promote(&c, 3), 0);
    assert_int_equal(tc_member(&c, 3), 1);
    assert_int_equal(conf_of(&c, 0).n_voters, 4);
    assert_int_equal(conf_of(&c, 0).n_learners, 0);
    /* leader + new voter is 2 of 4: not enough */
    tc_isolate(&c, 1);
    tc_isolate(&c, 2);
    uint64_t idx;
    assert_int_equal(tc_propose(&c, 0, "x", &idx), 0);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_true(st_of(&c, 0).commit < idx);
    /* leader + new voter + one old: 3 of 4 */
    tc_heal(&c);
    tc_isolate(&c, 2);
    assert_int_equal(tc_tick_all(&c, 2), 0);
    assert_true(st_of(&c, 0).commit >= idx);
    tc_free(&c);
}

/* Only one change in flight; a change needs an entry of the leader's term
 * committed first (Ongaro 2015). */
static void one_change_at_a_time_and_only_after_an_entry_of_the_term(void **state)
{
    (void)state;
    tcluster c;
    assert_int_equal(tc_init_spares(&c, 3, 2, NULL), 0);
    assert_int_equal(raft_campaign(c.nodes[0].r), 0);
    /* let the election finish but not the commit of the leader's entry:
     * deliver until node 0 leads, then stop */
    for (int k = 0; k < 20 && st_of(&c, 0).role != RAFT_LEADER; k++) {
        for (int i = 0; i < c.n; i++)
            assert_true(tc_ready(&c, i) >= 0);
        while (c.nnet)
            assert_int_equal(tc_deliver(&c, 0), 0);
    }
    assert_int_equal(st_of(&c, 0).role, RAFT_LEADER);
    uint64_t idx, term;
    assert_int_equal(
        raft_propose_conf_change(c.nodes[0].r, RAFT_CONF_ADD_LEARNER, 4, NULL, 0, &idx, &term),
        RAFT_ENOTREADY);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_int_equal(
        raft_propose_conf_change(c.nodes[0].r, RAFT_CONF_ADD_LEARNER, 4, NULL, 0, &idx, &term), 0);
    assert_int_equal(
        raft_propose_conf_change(c.nodes[0].r, RAFT_CONF_ADD_LEARNER, 5, NULL, 0, &idx, &term),
        RAFT_ECONFPENDING);
    assert_int_equal(st_of(&c, 0).pending_conf, idx);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_int_equal(tc_add_learner(&c, 4), 0);
    /* invalid changes are refused with RAFT_ECONF */
    assert_int_equal(
        raft_propose_conf_change(c.nodes[0].r, RAFT_CONF_ADD_LEARNER, 5, NULL, 0, &idx, &term),
        RAFT_ECONF);
    assert_int_equal(
        raft_propose_conf_change(c.nodes[0].r, RAFT_CONF_ADD_VOTER, 1, NULL, 0, &idx, &term),
        RAFT_ECONF);
    assert_int_equal(
        raft_propose_conf_change(c.nodes[0].r, RAFT_CONF_REMOVE, 9, NULL, 0, &idx, &term),
        RAFT_ECONF);
    assert_int_equal(
        raft_propose_conf_change(c.nodes[0].r, RAFT_CONF_REMOVE, 0, NULL, 0, &idx, &term),
        RAFT_ECONF);
    assert_int_equal(raft_propose_conf_change(c.nodes[0].r, 77, 5, NULL, 0, &idx, &term),
                     RAFT_ECONF);
    assert_int_equal(
        raft_propose_conf_change(c.nodes[1].r, RAFT_CONF_REMOVE, 5, NULL, 0, &idx, &term),
        RAFT_ENOTLEADER);
    tc_free(&c);
}

/* A transfer blocks changes; a finished transfer lets them through. */
static void change_refused_during_a_transfer(void **state)
{
    (void)state;
    tcluster c;
    setup(&c, 1, NULL);
    tc_isolate(&c, 1); /* node 1 cannot catch up: the transfer stays pending */
    assert_int_equal(tc_propose(&c, 0, "x", NULL), 0);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_int_equal(raft_transfer_leader(c.nodes[0].r, 2), 0);
    uint64_t idx, term;
    assert_int_equal(
        raft_propose_conf_change(c.nodes[0].r, RAFT_CONF_ADD_LEARNER, 4, NULL, 0, &idx, &term),
        RAFT_ETRANSFER);
    /* aborted within an election timeout, after which changes go through */
    assert_int_equal(tc_tick_all(&c, 10), 0);
    assert_int_equal(st_of(&c, 0).transferee, 0);
    assert_int_equal(tc_leader(&c), 0);
    assert_int_equal(tc_add_learner(&c, 3), 0);
    tc_heal(&c);
    /* and a transfer to a named voter completes */
    assert_int_equal(raft_transfer_leader(c.nodes[0].r, 3), 0);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_int_equal(tc_leader(&c), 2);
    tc_free(&c);
}

/* Grow 3 -> 5 through learners, then shrink back to 3, committing all the
 * time; every member ends with the same state. */
static void grow_to_five_and_shrink_to_three(void **state)
{
    (void)state;
    tcluster c;
    setup(&c, 2, NULL);
    for (int i = 3; i < 5; i++) {
        assert_int_equal(tc_propose(&c, 0, "w", NULL), 0);
        assert_int_equal(tc_add_learner(&c, i), 0);
        assert_int_equal(tc_propose(&c, 0, "w", NULL), 0);
        assert_int_equal(tc_promote(&c, i), 0);
    }
    assert_int_equal(conf_of(&c, 0).n_voters, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(tc_member(&c, i), 1);
    /* with 5 voters two can be down */
    tc_crash(&c, 1);
    tc_crash(&c, 2);
    uint64_t idx;
    assert_int_equal(tc_propose(&c, 0, "five", &idx), 0);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_true(st_of(&c, 0).commit >= idx);
    assert_int_equal(tc_start(&c, 1), 0);
    assert_int_equal(tc_start(&c, 2), 0);
    assert_int_equal(tc_tick_all(&c, 3), 0);
    /* shrink: remove 4 and 5 */
    assert_int_equal(tc_remove(&c, 4), 0);
    assert_int_equal(tc_remove(&c, 3), 0);
    assert_int_equal(conf_of(&c, 0).n_voters, 3);
    assert_int_equal(tc_member(&c, 3), 0);
    assert_int_equal(tc_member(&c, 4), 0);
    /* the removed ones neither disturb nor count */
    uint64_t t0 = st_of(&c, 0).term;
    assert_int_equal(tc_tick_all(&c, 50), 0);
    assert_int_equal(st_of(&c, 0).term, t0);
    assert_int_equal(tc_leader(&c), 0);
    tc_crash(&c, 2);
    assert_int_equal(tc_propose(&c, 0, "three", &idx), 0);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_true(st_of(&c, 0).commit >= idx);
    assert_true(all_applied_equal(&c, 0, 2));
    tc_free(&c);
}

/* Replace a dead voter in three changes: add a learner, promote, remove. */
static void replace_a_dead_voter(void **state)
{
    (void)state;
    tcluster c;
    setup(&c, 1, NULL);
    tc_crash(&c, 2);
    assert_int_equal(tc_add_learner(&c, 3), 0);
    assert_int_equal(tc_promote(&c, 3), 0);
    assert_int_equal(tc_remove(&c, 2), 0);
    raft_conf k = conf_of(&c, 0);
    assert_int_equal(k.n_voters, 3);
    assert_int_equal(raft_conf_role(&k, 3), 0);
    assert_int_equal(raft_conf_role(&k, 4), 1);
    /* the new set tolerates one failure again */
    tc_crash(&c, 1);
    uint64_t idx;
    assert_int_equal(tc_propose(&c, 0, "after", &idx), 0);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_true(st_of(&c, 0).commit >= idx);
    assert_true(c.nodes[3].app_index == c.nodes[0].app_index);
    tc_free(&c);
}

/* A node removed while partitioned never learns it; with PreVote and
 * CheckQuorum its campaigns cannot raise the cluster's term or unseat the
 * leader when it comes back. */
static void partitioned_removed_node_cannot_disrupt(void **state)
{
    (void)state;
    raft_config cfg;
    tc_default_cfg(&cfg);
    cfg.prevote = 1;
    cfg.check_quorum = 1;
    tcluster c;
    setup(&c, 0, &cfg);
    tc_isolate(&c, 2);
    assert_int_equal(tc_remove(&c, 2), 0);
    assert_int_equal(tc_member(&c, 2), 1); /* it does not know */
    uint64_t t0 = st_of(&c, 0).term;
    for (int t = 0; t < 200; t++)
        assert_int_equal(tc_tick(&c, 2), 0);
    assert_int_equal(tc_stabilize(&c), 0);
    tc_heal(&c);
    assert_int_equal(tc_tick_all(&c, 50), 0);
    assert_int_equal(tc_leader(&c), 0);
    assert_int_equal(st_of(&c, 0).term, t0);
    assert_int_equal(st_of(&c, 1).term, t0);
    uint64_t idx;
    assert_int_equal(tc_propose(&c, 0, "still", &idx), 0);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_true(st_of(&c, 0).commit >= idx);
    tc_free(&c);
}

/* A removed node that learned of its removal stops: it never campaigns and
 * members drop what it sends. */
static void removed_node_stops_and_is_not_heard(void **state)
{
    (void)state;
    tcluster c;
    setup(&c, 0, NULL);
    assert_int_equal(tc_remove(&c, 2), 0);
    assert_int_equal(tc_member(&c, 2), 0);
    uint64_t t2 = st_of(&c, 2).term;
    for (int t = 0; t < 100; t++)
        assert_int_equal(tc_tick(&c, 2), 0);
    assert_int_equal(st_of(&c, 2).term, t2);
    /* a vote request it might have sent before it learned is ignored while
     * members hear from the leader (no CheckQuorum here: thesis §4.2.3's
     * rule holds for non-members regardless) */
    raft_msg m = {
        .type = RAFT_MSG_VOTE, .from = 3, .to = 2, .term = t2 + 5, .index = 100, .log_term = t2};
    assert_int_equal(raft_step(c.nodes[1].r, &m), 0);
    assert_int_equal(st_of(&c, 1).term, t2);
    assert_int_equal(st_of(&c, 1).vote, 1);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_int_equal(tc_leader(&c), 0);
    /* what else it sends is dropped */
    uint64_t d0 = st_of(&c, 0).dropped_msgs;
    raft_msg r = {.type = RAFT_MSG_APP_RESP, .from = 3, .to = 1, .term = t2, .index = 1};
    assert_int_equal(raft_step(c.nodes[0].r, &r), 0);
    assert_int_equal(st_of(&c, 0).dropped_msgs, d0 + 1);
    tc_free(&c);
}

/* Thesis §4.2.2: a leader that removes itself leads until the change
 * commits, then steps down; the others elect a leader among themselves. */
static void leader_removing_itself_steps_down_after_commit(void **state)
{
    (void)state;
    tcluster c;
    setup(&c, 0, NULL);
    uint64_t idx, term;
    assert_int_equal(
        raft_propose_conf_change(c.nodes[0].r, RAFT_CONF_REMOVE, 1, NULL, 0, &idx, &term), 0);
    assert_int_equal(st_of(&c, 0).role, RAFT_LEADER); /* not before it commits */
    assert_int_equal(tc_stabilize(&c), 0);
    assert_true(st_of(&c, 1).commit >= idx);
    assert_int_equal(st_of(&c, 0).role, RAFT_FOLLOWER);
    assert_int_equal(tc_member(&c, 0), 0);
    assert_int_equal(tc_tick_all(&c, 40), 0);
    int l = tc_leader(&c);
    assert_true(l == 1 || l == 2);
    assert_int_equal(st_of(&c, 0).role, RAFT_FOLLOWER);
    assert_int_equal(tc_propose(&c, l, "new", &idx), 0);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_true(st_of(&c, 1).commit >= idx && st_of(&c, 2).commit >= idx);
    /* the two that remain are a 2-voter cluster: both are needed */
    assert_int_equal(conf_of(&c, l).n_voters, 2);
    tc_free(&c);
}

/* A learner that needs compacted entries gets a snapshot, and with it the
 * configuration in force at the snapshot's index. */
static void snapshot_carries_the_configuration(void **state)
{
    (void)state;
    tcluster c;
    setup(&c, 2, NULL);
    assert_int_equal(tc_add_learner(&c, 3), 0);
    tc_isolate(&c, 4);
    assert_int_equal(tc_add_learner(&c, 4), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(tc_propose(&c, 0, "e", NULL), 0);
    assert_int_equal(tc_stabilize(&c), 0);
    compact(&c, 0);
    assert_int_equal(c.nodes[0].st.snap.n_learners, 2);
    tc_heal(&c);
    assert_int_equal(tc_tick_all(&c, 5), 0);
    assert_int_equal(c.nodes[4].snaps_installed, 1);
    raft_conf k = conf_of(&c, 4);
    assert_int_equal(k.n_voters, 3);
    assert_int_equal(k.n_learners, 2);
    assert_int_equal(tc_member(&c, 4), 2);
    assert_true(all_applied_equal(&c, 0, 5));
    tc_free(&c);
}

/* A restart recovers the membership: from the snapshot and the committed
 * changes it replays, or from the configuration the driver persisted. */
static void restart_recovers_the_configuration(void **state)
{
    (void)state;
    tcluster c;
    setup(&c, 1, NULL);
    assert_int_equal(tc_add_learner(&c, 3), 0);
    assert_int_equal(tc_promote(&c, 3), 0);
    raft_conf before;
    uint64_t ci;
    raft_get_conf(c.nodes[1].r, &before, &ci);
    tc_crash(&c, 1);
    assert_int_equal(tc_start(&c, 1), 0);
    assert_int_equal(tc_stabilize(&c), 0); /* replays the committed log */
    raft_conf after;
    uint64_t ci2;
    raft_get_conf(c.nodes[1].r, &after, &ci2);
    assert_int_equal(ci2, ci);
    assert_memory_equal(&after, &before, sizeof after);
    /* the driver's persisted configuration wins over the bootstrap peers */
    tc_crash(&c, 1);
    raft_config cfg = c.cfg;
    cfg.id = 2;
    cfg.storage = &c.nodes[1].st.iface;
    cfg.conf = &before;
    cfg.conf_index = ci;
    cfg.applied = st_of(&c, 0).commit;
    c.nodes[1].app_index = cfg.applied;
    c.nodes[1].app_hash = c.nodes[0].app_hash;
    assert_int_equal(raft_new(&c.nodes[1].r, &cfg), 0);
    assert_int_equal(conf_of(&c, 1).n_voters, 4);
    assert_int_equal(st_of(&c, 1).conf_index, ci);
    /* one from beyond the applied index is refused */
    raft_node *bad = NULL;
    cfg.conf_index = cfg.applied + 1;
    assert_int_equal(raft_new(&bad, &cfg), RAFT_EINVAL);
    assert_null(bad);
    tc_free(&c);
}

static int seen_conf_changes, seen_ctx;
static uint64_t seen_conf_index;
static int conf_hook(tcluster *c, int i, const raft_ready_batch *rd)
{
    (void)c;
    for (size_t k = 0; i == 1 && k < rd->n_committed; k++) {
        raft_conf_change cc;
        const raft_entry *e = &rd->committed[k];
        if (e->type != RAFT_ENTRY_CONF) continue;
        if (raft_conf_change_decode(e->data, e->len, &cc)) return 1;
        if (cc.ctx_len == 10 && memcmp(cc.ctx, "host4:7004", 10) == 0) seen_ctx++;
    }
    if (i == 1 && rd->conf_changed) {
        seen_conf_changes++;
        seen_conf_index = rd->conf_index;
        if (raft_conf_role(rd->conf, 4) != 2) return 1;
    }
    return 0;
}

/* The driver hears of every change once, in the Ready that applies it, and
 * finds its context (the new node's address) in the committed entry. */
static void ready_reports_the_configuration_once(void **state)
{
    (void)state;
    tcluster c;
    setup(&c, 1, NULL);
    c.on_ready = conf_hook;
    seen_conf_changes = seen_ctx = 0;
    uint64_t idx, term;
    char big[RAFT_CONF_CTX_MAX + 1] = {0};
    assert_int_equal(raft_propose_conf_change(c.nodes[0].r, RAFT_CONF_ADD_LEARNER, 4, big,
                                              sizeof big, &idx, &term),
                     RAFT_EINVAL);
    assert_int_equal(raft_propose_conf_change(c.nodes[0].r, RAFT_CONF_ADD_LEARNER, 4, "host4:7004",
                                              10, &idx, &term),
                     0);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_int_equal(tc_tick_all(&c, 5), 0);
    assert_int_equal(seen_conf_changes, 1);
    assert_int_equal(seen_ctx, 1);
    assert_int_equal(seen_conf_index, idx);
    tc_free(&c);
}

/* The pure rules of raft_conf_after and the payload codec. */
static void conf_rules_and_payload_round_trip(void **state)
{
    (void)state;
    raft_conf a = {.n_voters = 1, .voters = {1}}, b;
    assert_int_equal(raft_conf_after(&a, RAFT_CONF_REMOVE, 1, &b), RAFT_ECONF); /* last voter */
    assert_int_equal(raft_conf_after(&a, RAFT_CONF_ADD_LEARNER, 2, &b), 0);
    assert_int_equal(raft_conf_role(&b, 2), 2);
    assert_int_equal(raft_conf_after(&b, RAFT_CONF_ADD_LEARNER, 2, &a), RAFT_ECONF);
    raft_conf p;
    assert_int_equal(raft_conf_after(&b, RAFT_CONF_ADD_VOTER, 2, &p), 0);
    assert_int_equal(p.n_voters, 2);
    assert_int_equal(p.n_learners, 0);
    assert_int_equal(raft_conf_after(&p, RAFT_CONF_ADD_VOTER, 2, &a), RAFT_ECONF);
    raft_conf full = {.n_voters = RAFT_MAX_VOTERS};
    for (uint32_t i = 0; i < RAFT_MAX_VOTERS; i++)
        full.voters[i] = i + 1;
    assert_int_equal(raft_conf_after(&full, RAFT_CONF_ADD_VOTER, 99, &a), RAFT_ECONF);
    raft_conf dup = {.n_voters = 2, .voters = {3, 3}};
    assert_int_equal(raft_conf_check(&dup), RAFT_ECONF);
    raft_conf both = {.n_voters = 1, .voters = {3}, .n_learners = 1, .learners = {3}};
    assert_int_equal(raft_conf_check(&both), RAFT_ECONF);

    raft_conf_change cc = {.op = RAFT_CONF_ADD_VOTER, .id = 2, .conf = p, .ctx_len = 3}, d;
    memcpy(cc.ctx, "a:1", 3);
    uint8_t buf[RAFT_CONF_CHANGE_MAX_BYTES];
    size_t n = raft_conf_change_encode(&cc, buf, sizeof buf);
    assert_true(n > 0);
    assert_int_equal(raft_conf_change_decode(buf, n, &d), 0);
    assert_int_equal(d.op, cc.op);
    assert_int_equal(d.id, 2);
    assert_memory_equal(&d.conf, &cc.conf, sizeof d.conf);
    assert_int_equal(d.ctx_len, 3);
    assert_memory_equal(d.ctx, "a:1", 3);
    for (size_t cut = 0; cut < n; cut++)
        assert_int_not_equal(raft_conf_change_decode(buf, cut, &d), 0);
    buf[0] = 9;
    assert_int_equal(raft_conf_change_decode(buf, n, &d), RAFT_EVERSION);
    buf[0] = RAFT_CONF_CHANGE_VERSION;
    buf[1] = RAFT_CONF_REMOVE; /* says removed, but 2 is a voter */
    assert_int_equal(raft_conf_change_decode(buf, n, &d), RAFT_ECORRUPT);
    assert_int_equal(raft_conf_change_encode(&cc, buf, n - 1), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(new_node_waits_without_campaigning),
        cmocka_unit_test(learner_receives_the_log_but_never_counts_for_commit),
        cmocka_unit_test(learner_never_campaigns_and_cannot_take_leadership),
        cmocka_unit_test(promoted_learner_counts_for_commit),
        cmocka_unit_test(one_change_at_a_time_and_only_after_an_entry_of_the_term),
        cmocka_unit_test(change_refused_during_a_transfer),
        cmocka_unit_test(grow_to_five_and_shrink_to_three),
        cmocka_unit_test(replace_a_dead_voter),
        cmocka_unit_test(partitioned_removed_node_cannot_disrupt),
        cmocka_unit_test(removed_node_stops_and_is_not_heard),
        cmocka_unit_test(leader_removing_itself_steps_down_after_commit),
        cmocka_unit_test(snapshot_carries_the_configuration),
        cmocka_unit_test(restart_recovers_the_configuration),
        cmocka_unit_test(ready_reports_the_configuration_once),
        cmocka_unit_test(conf_rules_and_payload_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
