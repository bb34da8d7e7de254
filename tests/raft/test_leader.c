/* test_leader.c -- scenario tests for ReadIndex (thesis §6.4), leadership
 * transfer (thesis §3.10) and flow control (probe / replicate / inflight
 * window / bytes per message). */
#include <stdio.h>
#include <string.h>

#include "tests/raft/test_util.h"

static size_t count_type(const raft_msg *v, size_t n, int type, uint64_t to)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i].type == type && (!to || v[i].to == to)) k++;
    return k;
}

/* Handles one Ready of node i by hand, counting messages of a type to a peer. */
static size_t ready_count(tcluster *c, int i, int type, uint64_t to)
{
    raft_ready_batch rd;
    if (!raft_has_ready(c->nodes[i].r)) return 0;
    assert_int_equal(raft_ready(c->nodes[i].r, &rd), 0);
    size_t k = count_type(rd.msgs, rd.n_msgs, type, to) +
               count_type(rd.msgs_after_persist, rd.n_msgs_after_persist, type, to);
    assert_int_equal(memstore_append(&c->nodes[i].st, rd.entries, rd.n_entries), 0);
    if (rd.hs_changed) memstore_set_hs(&c->nodes[i].st, &rd.hs);
    assert_int_equal(raft_advance(c->nodes[i].r, &rd), 0);
    return k;
}

/* ------------------------------------------------------------ ReadIndex */

static void read_index_answered_only_after_heartbeat_quorum(void **state)
{
    (void)state;
    tcluster c;
    assert_int_equal(tc_init(&c, 3, NULL), 0);
    assert_int_equal(tc_elect(&c, 0), 0);
    assert_int_equal(tc_propose(&c, 0, "w", NULL), 0);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_int_equal(raft_read_index(c.nodes[0].r, 77), 0);
    assert_int_equal(tc_ready(&c, 0), 1);
    assert_int_equal(c.nodes[0].nreads, 0); /* no quorum confirmation yet */
    /* heartbeats out; drop node 3's, deliver node 2's */
    size_t k = 0;
    while (k < c.nnet) {
        if (c.net[k].m->type == RAFT_MSG_HEARTBEAT && c.net[k].m->to == 3)
            tc_drop(&c, k);
        else
            k++;
    }
    assert_int_equal(c.nnet, 1);
    assert_int_equal(tc_deliver(&c, 0), 0);
    assert_int_equal(tc_ready(&c, 1), 1);
    assert_int_equal(tc_deliver(&c, 0), 0); /* the heartbeat response */
    assert_int_equal(tc_ready(&c, 0), 1);
    assert_int_equal(c.nodes[0].nreads, 1);
    assert_true(c.nodes[0].reads[0].ctx == 77);
    assert_int_equal(c.nodes[0].reads[0].index, 2);
    tc_free(&c);
}

static void read_index_waits_for_an_entry_of_the_leaders_term(void **state)
{
    (void)state;
    tcluster c;
    assert_int_equal(tc_init(&c, 3, NULL), 0);
    /* elect node 1 but keep its empty entry uncommitted: followers' append
     * responses are lost, heartbeat responses are not */
    assert_int_equal(raft_campaign(c.nodes[0].r), 0);
    for (int r = 0; r < 3; r++) {
        for (int i = 0; i < 3; i++)
            tc_ready(&c, i);
        while (c.nnet)
            tc_deliver(&c, 0);
    }
    assert_int_equal(tc_leader(&c), 0);
    assert_int_equal(raft_read_index(c.nodes[0].r, 5), 0);
    for (int t = 0; t < 3; t++) {
        raft_tick(c.nodes[0].r);
        for (int i = 0; i < 3; i++)
            tc_ready(&c, i);
        size_t k = 0;
        while (k < c.nnet) {
            if (c.net[k].m->type == RAFT_MSG_APP_RESP)
                tc_drop(&c, k);
            else
                tc_deliver(&c, k);
        }
        for (int i = 0; i < 3; i++)
            tc_ready(&c, i);
    }
    assert_int_equal(st_of(&c, 0).commit, 0);
    assert_int_equal(c.nodes[0].nreads, 0);
    assert_int_equal(tc_tick_all(&c, 2), 0);
    assert_int_equal(st_of(&c, 0).commit, 1);
    assert_int_equal(c.nodes[0].nreads, 1);
    assert_int_equal(c.nodes[0].reads[0].index, 1);
    tc_free(&c);
}

static void reads_of_one_pass_share_one_heartbeat_round(void **state)
{
    (void)state;
    tcluster c;
    assert_int_equal(tc_init(&c, 3, NULL), 0);
    assert_int_equal(tc_elect(&c, 0), 0);
    for (uint64_t k = 1; k <= 10; k++)
        assert_int_equal(raft_read_index(c.nodes[0].r, k), 0);
    assert_int_equal(ready_count(&c, 0, RAFT_MSG_HEARTBEAT, 0), 2);
    tc_free(&c);
}

static void read_index_on_follower_goes_through_the_leader(void **state)
{
    (void)state;
    tcluster c;
    assert_int_equal(tc_init(&c, 3, NULL), 0);
    assert_int_equal(raft_read_index(c.nodes[1].r, 9), RAFT_EDROPPED);
    assert_int_equal(tc_elect(&c, 0), 0);
    assert_int_equal(tc_propose(&c, 0, "w", NULL), 0);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_int_equal(raft_read_index(c.nodes[1].r, 9), 0);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_int_equal(c.nodes[1].nreads, 1);
    assert_true(c.nodes[1].reads[0].ctx == 9);
    assert_int_equal(c.nodes[1].reads[0].index, 2);
    assert_int_equal(c.nodes[0].nreads, 0);
    tc_free(&c);
}

static void partitioned_leader_never_answers_a_read(void **state)
{
    (void)state;
    tcluster c;
    assert_int_equal(tc_init(&c, 3, NULL), 0);
    assert_int_equal(tc_elect(&c, 0), 0);
    tc_isolate(&c, 0);
    assert_int_equal(raft_read_index(c.nodes[0].r, 1), 0);
    assert_int_equal(tc_tick_all(&c, 30), 0);
    assert_int_equal(c.nodes[0].nreads, 0);
    tc_free(&c);
}

/* -------------------------------------------------------------- transfer */

static void transfer_to_up_to_date_follower(void **state)
{
    (void)state;
    tcluster c;
    assert_int_equal(tc_init(&c, 3, NULL), 0);
    assert_int_equal(tc_elect(&c, 0), 0);
    assert_int_equal(raft_transfer_leader(c.nodes[0].r, 2), 0);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_int_equal(tc_leader(&c), 1);
    assert_int_equal(st_of(&c, 1).term, 2);
    assert_int_equal(st_of(&c, 0).leader, 2);
    tc_free(&c);
}

static void transfer_to_lagging_follower_catches_it_up_first(void **state)
{
    (void)state;
    tcluster c;
    raft_config cfg;
    tc_default_cfg(&cfg);
    cfg.check_quorum = 1; /* TimeoutNow's election passes the lease check */
    cfg.prevote = 1;
    assert_int_equal(tc_init(&c, 3, &cfg), 0);
    assert_int_equal(tc_elect(&c, 0), 0);
    tc_isolate(&c, 2);
    for (int i = 0; i < 5; i++)
        assert_int_equal(tc_propose(&c, 0, "x", NULL), 0);
    assert_int_equal(tc_stabilize(&c), 0);
    tc_heal(&c);
    assert_int_equal(raft_transfer_leader(c.nodes[0].r, 3), 0);
    uint64_t i, t;
    assert_int_equal(raft_propose(c.nodes[0].r, "no", 2, &i, &t), RAFT_ETRANSFER);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_int_equal(tc_leader(&c), 2);
    assert_int_equal(st_of(&c, 2).commit, 7);
    tc_free(&c);
}

static void transfer_abandoned_after_election_timeout(void **state)
{
    (void)state;
    tcluster c;
    raft_config cfg;
    tc_default_cfg(&cfg);
    assert_int_equal(tc_init(&c, 3, &cfg), 0);
    assert_int_equal(tc_elect(&c, 0), 0);
    tc_isolate(&c, 2);
    assert_int_equal(tc_propose(&c, 0, "x", NULL), 0);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_int_equal(raft_transfer_leader(c.nodes[0].r, 3), 0);
    assert_int_equal(st_of(&c, 0).transferee, 3);
    for (uint32_t k = 0; k < cfg.election_tick; k++) {
        raft_tick(c.nodes[0].r);
        tc_stabilize(&c);
    }
    raft_status s = st_of(&c, 0);
    assert_int_equal(s.transferee, 0);
    assert_int_equal(s.role, RAFT_LEADER);
    assert_int_equal(tc_propose(&c, 0, "again", NULL), 0);
    tc_free(&c);
}

static void transfer_request_on_follower_is_forwarded(void **state)
{
    (void)state;
    tcluster c;
    assert_int_equal(tc_init(&c, 3, NULL), 0);
    assert_int_equal(tc_elect(&c, 0), 0);
    assert_int_equal(raft_transfer_leader(c.nodes[2].r, 3), 0);
    assert_int_equal(tc_stabilize(&c), 0);
    assert_int_equal(tc_leader(&c), 2);
    assert_int_equal(raft_transfer_leader(c.nodes[2].r, 9), RAFT_EUNKNOWNPEER);
    tc_free(&c);
}

/* ---------------------------------------------------------- flow control */

static void replicate_state_pipelines_up_to_the_inflight_window(void **state)
{
    (void)state;
    tcluster c;
    raft_config cfg;
    tc_default_cfg(&cfg);
    cfg.max_inflight = 3;
    cfg.max_msg_bytes = 1; /* one entry per append */
    assert_int_equal(tc_init(&c, 3, &cfg), 0);
    assert_int_equal(tc_elect(&c, 0), 0);
    raft_peer_progress p;
    assert_int_equal(raft_get_progress(c.nodes[0].r, 1, &p), 0);
    assert_int_equal(p.state, RAFT_PR_REPLICATE);
    for (int i = 0; i < 10; i++)
        assert_int_equal(tc_propose(&c, 0, "e", NULL), 0);
    assert_int_equal(ready_count(&c, 0, RAFT_MSG_APP, 2), 3);
    assert_int_equal(raft_get_progress(c.nodes[0].r, 1, &p), 0);
    assert_int_equal(p.inflight, 3);
    /* an ack of the first frees one slot: one more append goes */
    raft_msg ack = {.type = RAFT_MSG_APP_RESP, .from = 2, .to = 1, .term = 1, .index = 2};
    assert_int_equal(raft_step(c.nodes[0].r, &ack), 0);
    assert_int_equal(ready_count(&c, 0, RAFT_MSG_APP, 2), 1);
    tc_free(&c);
}

/* Entries carried to `to` by node i's next Ready (handled like ready_count). */
static uint64_t ready_entries_to(tcluster *c, int i, uint64_t to, uint64_t *last, size_t *hbs)
{
    raft_ready_batch rd;
    uint64_t n = 0;
    *hbs = 0;
    if (!raft_has_ready(c->nodes[i].r)) return 0;
    assert_int_equal(raft_ready(c->nodes[i].r, &rd), 0);
    for (size_t k = 0; k < rd.n_msgs; k++) {
        if (rd.msgs[k].to != to) continue;
        if (rd.msgs[k].type == RAFT_MSG_HEARTBEAT) ++*hbs;
        if (rd.msgs[k].type != RAFT_MSG_APP || !rd.msgs[k].n_entries) continue;
        n += rd.msgs[k].n_entries;
        *last = rd.msgs[k].entries[rd.msgs[k].n_entries - 1].index;
    }
    assert_int_equal(memstore_append(&c->nodes[i].st, rd.entries, rd.n_entries), 0);
    if (rd.hs_changed) memstore_set_hs(&c->nodes[i].st, &rd.hs);
    assert_int_equal(raft_advance(c->nodes[i].r, &rd), 0);
    return n;
}

static void replicate_state_stops_at_the_byte_window_and_resumes_on_ack(void **state)
{
    (void)state;
    tcluster c;
    raft_config cfg;
    tc_default_cfg(&cfg);
    cfg.max_inflight_bytes = 200; /* each entry below counts 40 + 21 = 61 bytes */
    assert_int_equal(tc_init(&c, 3, &cfg), 0);
    assert_int_equal(tc_elect(&c, 0), 0);
    const uint64_t ent = 40 + RAFT_ENTRY_HDR_BYTES;
    char d[41];
    memset(d, 'x', 40);
    d[40] = 0;
    uint64_t first = 0, idx = 0;
    for (int i = 0; i < 10; i++) {
        assert_int_equal(tc_propose(&c, 0, d, &idx), 0);
        if (!first) first = idx;
    }
    /* the window's 200 bytes hold 3 entries; the append cut to the 17 left
     * still carries one, and then nothing more goes */
    uint64_t last = 0;
    size_t hbs;
    assert_int_equal(ready_entries_to(&c, 0, 2, &last, &hbs), 4);
    assert_int_equal(last, first + 3);
    raft_peer_progress p;
    assert_int_equal(raft_get_progress(c.nodes[0].r, 1, &p), 0);
    assert_int_equal(p.state, RAFT_PR_REPLICATE);
    assert_int_equal(p.inflight_bytes, 4 * ent);
    assert_true(p.inflight_bytes < cfg.max_inflight_bytes + ent);
    /* more proposals while full: nothing goes; heartbeats are not held */
    assert_int_equal(tc_propose(&c, 0, d, &idx), 0);
    assert_int_equal(raft_tick(c.nodes[0].r), 0);
    assert_int_equal(ready_entries_to(&c, 0, 2, &last, &hbs), 0);
    assert_int_equal(hbs, 1);
    /* an ack of the first 3 frees 183 bytes: 3 more entries go (2 + 1 cut) */
    raft_msg ack = {.type = RAFT_MSG_APP_RESP, .from = 2, .to = 1, .term = 1, .index = first + 2};
    assert_int_equal(raft_step(c.nodes[0].r, &ack), 0);
    assert_int_equal(ready_entries_to(&c, 0, 2, &last, &hbs), 3);
    assert_int_equal(last, first + 6);
    assert_int_equal(raft_get_progress(c.nodes[0].r, 1, &p), 0);
    assert_int_equal(p.inflight_bytes, 4 * ent);
    /* acks of everything sent: the rest (11 proposed in all) goes */
    ack.index = last;
    assert_int_equal(raft_step(c.nodes[0].r, &ack), 0);
    assert_int_equal(ready_entries_to(&c, 0, 2, &last, &hbs), 4);
    assert_int_equal(last, idx);
    tc_free(&c);
}

static void probe_state_sends_one_append_until_answered(void **state)
{
    (void)state;
    tcluster c;
    assert_int_equal(tc_init(&c, 3, NULL), 0);
    tc_isolate(&c, 2);
    assert_int_equal(tc_elect(&c, 0), 0);
    raft_peer_progress p;
    assert_int_equal(raft_get_progress(c.nodes[0].r, 2, &p), 0);
    assert_int_equal(p.state, RAFT_PR_PROBE);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(tc_propose(&c, 0, "e", NULL), 0);
        assert_int_equal(ready_count(&c, 0, RAFT_MSG_APP, 3), 0);
    }
    /* a heartbeat response (to round 0, sent at this tick) unpauses the probe */
    assert_int_equal(raft_tick(c.nodes[0].r), 0);
    raft_msg hb = {.type = RAFT_MSG_HEARTBEAT_RESP, .from = 3, .to = 1, .term = 1};
    assert_int_equal(raft_step(c.nodes[0].r, &hb), 0);
    assert_int_equal(ready_count(&c, 0, RAFT_MSG_APP, 3), 1);
    tc_free(&c);
}

static void append_messages_respect_the_byte_limit(void **state)
{
    (void)state;
    tcluster c;
    raft_config cfg;
    tc_default_cfg(&cfg);
    cfg.max_msg_bytes = 100;
    assert_int_equal(tc_init(&c, 3, &cfg), 0);
    assert_int_equal(tc_elect(&c, 0), 0);
    char d[41];
    memset(d, 'x', 40);
    d[40] = 0;
    for (int i = 0; i < 12; i++)
        assert_int_equal(tc_propose(&c, 0, d, NULL), 0);
    raft_ready_batch rd;
    assert_int_equal(raft_ready(c.nodes[0].r, &rd), 0);
    size_t total = 0;
    for (size_t k = 0; k < rd.n_msgs; k++) {
        uint64_t bytes = 0;
        for (uint32_t e = 0; e < rd.msgs[k].n_entries; e++)
            bytes += rd.msgs[k].entries[e].len;
        assert_true(bytes <= 100);
        if (rd.msgs[k].to == 2) total += rd.msgs[k].n_entries;
    }
    assert_int_equal(total, 12);
    assert_int_equal(raft_advance(c.nodes[0].r, &rd), 0);
    tc_free(&c);
}

static void uncommitted_limit_refuses_proposals(void **state)
{
    (void)state;
    tcluster c;
    raft_config cfg;
    tc_default_cfg(&cfg);
    cfg.max_uncommitted_bytes = 10;
    assert_int_equal(tc_init(&c, 3, &cfg), 0);
    assert_int_equal(tc_elect(&c, 0), 0);
    tc_isolate(&c, 0);
    assert_int_equal(tc_propose(&c, 0, "12345678", NULL), 0);
    assert_int_equal(tc_propose(&c, 0, "12345678", NULL), RAFT_EUNCOMMITTED);
    tc_heal(&c);
    assert_int_equal(tc_tick_all(&c, 2), 0);
    assert_int_equal(tc_propose(&c, 0, "12345678", NULL), 0);
    tc_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(read_index_answered_only_after_heartbeat_quorum),
        cmocka_unit_test(read_index_waits_for_an_entry_of_the_leaders_term),
        cmocka_unit_test(reads_of_one_pass_share_one_heartbeat_round),
        cmocka_unit_test(read_index_on_follower_goes_through_the_leader),
        cmocka_unit_test(partitioned_leader_never_answers_a_read),
        cmocka_unit_test(transfer_to_up_to_date_follower),
        cmocka_unit_test(transfer_to_lagging_follower_catches_it_up_first),
        cmocka_unit_test(transfer_abandoned_after_election_timeout),
        cmocka_unit_test(transfer_request_on_follower_is_forwarded),
        cmocka_unit_test(replicate_state_pipelines_up_to_the_inflight_window),
        cmocka_unit_test(replicate_state_stops_at_the_byte_window_and_resumes_on_ack),
        cmocka_unit_test(probe_state_sends_one_append_until_answered),
        cmocka_unit_test(append_messages_respect_the_byte_limit),
        cmocka_unit_test(uncommitted_limit_refuses_proposals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
