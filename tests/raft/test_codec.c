/* test_codec.c -- the binary codec: round trips of every message type and
 * of entries, and every truncation or corruption rejected. */
#include <stdlib.h>
#include <string.h>

#include "tests/raft/test_util.h"

static raft_msg sample(int type, raft_entry *ents, raft_snapshot_meta *snap)
{
    raft_msg m = {.type = (uint8_t)type,
                  .reject = type == RAFT_MSG_APP_RESP,
                  .from = 1,
                  .to = 0x0102030405060708ULL,
                  .term = 7,
                  .log_term = 6,
                  .index = 99,
                  .commit = 42,
                  .reject_hint = 17,
                  .ctx = UINT64_MAX};
    if (type == RAFT_MSG_APP) {
        m.n_entries = 3;
        m.entries = ents;
    }
    if (type == RAFT_MSG_SNAP) m.snap = snap;
    return m;
}

static void assert_msg_equal(const raft_msg *a, const raft_msg *b)
{
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->reject, b->reject);
    assert_true(a->from == b->from && a->to == b->to && a->term == b->term);
    assert_true(a->log_term == b->log_term && a->index == b->index && a->commit == b->commit);
    assert_true(a->reject_hint == b->reject_hint && a->ctx == b->ctx);
    assert_int_equal(a->n_entries, b->n_entries);
    for (uint32_t i = 0; i < a->n_entries; i++) {
        assert_true(a->entries[i].index == b->entries[i].index);
        assert_true(a->entries[i].term == b->entries[i].term);
        assert_int_equal(a->entries[i].type, b->entries[i].type);
        assert_int_equal(a->entries[i].len, b->entries[i].len);
        if (a->entries[i].len)
            assert_memory_equal(a->entries[i].data, b->entries[i].data, a->entries[i].len);
    }
    assert_int_equal(a->snap != NULL, b->snap != NULL);
    if (a->snap) {
        assert_true(a->snap->index == b->snap->index && a->snap->term == b->snap->term);
        assert_int_equal(a->snap->n_voters, b->snap->n_voters);
        assert_memory_equal(a->snap->voters, b->snap->voters, a->snap->n_voters * 8);
        assert_int_equal(a->snap->n_learners, b->snap->n_learners);
        assert_memory_equal(a->snap->learners, b->snap->learners, a->snap->n_learners * 8);
        assert_int_equal(a->snap->ref_len, b->snap->ref_len);
        assert_memory_equal(a->snap->ref, b->snap->ref, a->snap->ref_len);
    }
}

static void every_message_type_round_trips(void **state)
{
    (void)state;
    raft_entry ents[3] = {
        {.index = 5,
         .term = 2,
         .type = RAFT_ENTRY_NORMAL,
         .len = 5,
         .data = (const uint8_t *)"hello"},
        {.index = 6, .term = 2, .type = RAFT_ENTRY_EMPTY},
        {.index = 7, .term = 3, .type = RAFT_ENTRY_CONF, .len = 1, .data = (const uint8_t *)"c"}};
    raft_snapshot_meta snap = {.index = 100,
                               .term = 9,
                               .n_voters = 3,
                               .voters = {1, 2, 3},
                               .n_learners = 2,
                               .learners = {7, 8},
                               .ref_len = 4};
    memcpy(snap.ref, "ref!", 4);
    for (int t = 1; t <= RAFT_MSG_TYPE_MAX; t++) {
        raft_msg m = sample(t, ents, &snap);
        size_t n = raft_msg_encoded_size(&m);
        uint8_t *buf = malloc(n);
        assert_int_equal(raft_msg_encode(&m, buf, n), n);
        assert_int_equal(raft_msg_encode(&m, buf, n - 1), 0); /* too small */
        raft_msg *d;
        assert_int_equal(raft_msg_decode(buf, n, NULL, &d), 0);
        assert_msg_equal(&m, d);
        raft_msg_free(d, NULL);
        free(buf);
    }
}

/* Version 1 (before learners) is what every message without learners is
 * written as, so older nodes read it; version 2 only carries learners. */
static void version_2_only_for_snapshots_with_learners(void **state)
{
    (void)state;
    raft_snapshot_meta snap = {
        .index = 100, .term = 9, .n_voters = 2, .voters = {1, 2}, .ref_len = 3};
    memcpy(snap.ref, "abc", 3);
    raft_msg m = {.type = RAFT_MSG_SNAP,
                  .from = 1,
                  .to = 2,
                  .term = 9,
                  .index = 100,
                  .log_term = 9,
                  .snap = &snap};
    uint8_t v1[512], v2[512];
    size_t n1 = raft_msg_encode(&m, v1, sizeof v1);
    assert_int_equal(n1, raft_msg_encoded_size(&m));
    assert_int_equal(v1[0], 1);
    raft_msg *d = NULL;
    assert_int_equal(raft_msg_decode(v1, n1, NULL, &d), 0);
    assert_msg_equal(&m, d);
    raft_msg_free(d, NULL);
    snap.n_learners = 1;
    snap.learners[0] = 7;
    size_t n2 = raft_msg_encode(&m, v2, sizeof v2);
    assert_int_equal(n2, n1 + 12);
    assert_int_equal(v2[0], 2);
    assert_int_equal(raft_msg_decode(v2, n2, NULL, &d), 0);
    assert_msg_equal(&m, d);
    raft_msg_free(d, NULL);
    /* the learner count sits after the header, 20 bytes of index, term and
     * voter count, and the voters: past the bound, or 0, is corrupt */
    size_t at = RAFT_MSG_HDR_BYTES + 20 + 8 * 2;
    uint8_t t[512];
    memcpy(t, v2, n2);
    t[at] = RAFT_MAX_LEARNERS + 1;
    assert_int_equal(raft_msg_decode(t, n2, NULL, &d), RAFT_ECORRUPT);
    memcpy(t, v1, at); /* v1 bytes with an empty learner list: not canonical */
    memset(t + at, 0, 4);
    memcpy(t + at + 4, v1 + at, n1 - at);
    t[0] = 2;
    assert_int_equal(raft_msg_decode(t, n1 + 4, NULL, &d), RAFT_ECORRUPT);
    /* nor is a version 2 message without a snapshot */
    raft_msg h = {.type = RAFT_MSG_HEARTBEAT, .from = 1, .to = 2, .term = 3};
    size_t nh = raft_msg_encode(&h, t, sizeof t);
    assert_int_equal(t[0], 1);
    t[0] = 2;
    assert_int_equal(raft_msg_decode(t, nh, NULL, &d), RAFT_ECORRUPT);
    assert_null(d);
}

static void every_truncation_is_rejected(void **state)
{
    (void)state;
    raft_entry ents[3] = {{.index = 5, .term = 2, .len = 5, .data = (const uint8_t *)"hello"},
                          {.index = 6, .term = 2, .type = RAFT_ENTRY_EMPTY},
                          {.index = 7, .term = 3, .len = 1, .data = (const uint8_t *)"c"}};
    raft_snapshot_meta snap = {.index = 100,
                               .term = 9,
                               .n_voters = 2,
                               .voters = {1, 2},
                               .n_learners = 1,
                               .learners = {5},
                               .ref_len = 2};
    int types[] = {RAFT_MSG_APP, RAFT_MSG_SNAP, RAFT_MSG_HEARTBEAT};
    for (int k = 0; k < 3; k++) {
        raft_msg m = sample(types[k], ents, &snap);
        size_t n = raft_msg_encoded_size(&m);
        uint8_t *buf = malloc(n + 1);
        raft_msg_encode(&m, buf, n);
        for (size_t cut = 0; cut < n; cut++) {
            /* an exact-size copy so ASan sees any read past the end */
            uint8_t *t = malloc(cut ? cut : 1);
            memcpy(t, buf, cut);
            raft_msg *d = NULL;
            assert_int_equal(raft_msg_decode(t, cut, NULL, &d), RAFT_ECORRUPT);
            assert_null(d);
            free(t);
        }
        buf[n] = 0; /* a trailing byte is corruption too */
        raft_msg *d = NULL;
        assert_int_equal(raft_msg_decode(buf, n + 1, NULL, &d), RAFT_ECORRUPT);
        free(buf);
    }
}

static void corrupted_fields_are_rejected(void **state)
{
    (void)state;
    raft_entry e = {.index = 5, .term = 2, .len = 3, .data = (const uint8_t *)"abc"};
    raft_msg m = {.type = RAFT_MSG_APP, .from = 1, .to = 2, .n_entries = 1, .entries = &e};
    uint8_t buf[256];
    size_t n = raft_msg_encode(&m, buf, sizeof buf);
    raft_msg *d = NULL;
    uint8_t t[256];
    memcpy(t, buf, n);
    t[0] = RAFT_CODEC_VERSION + 1; /* a version from the future */
    assert_int_equal(raft_msg_decode(t, n, NULL, &d), RAFT_EVERSION);
    memcpy(t, buf, n);
    t[1] = 0;
    assert_int_equal(raft_msg_decode(t, n, NULL, &d), RAFT_ECORRUPT);
    memcpy(t, buf, n);
    t[1] = RAFT_MSG_TYPE_MAX + 1;
    assert_int_equal(raft_msg_decode(t, n, NULL, &d), RAFT_ECORRUPT);
    /* an entry count far beyond the bytes present, before any allocation */
    memcpy(t, buf, n);
    t[68] = 0xff, t[69] = 0xff, t[70] = 0xff, t[71] = 0xff;
    assert_int_equal(raft_msg_decode(t, n, NULL, &d), RAFT_ECORRUPT);
    /* an entry length beyond the end */
    memcpy(t, buf, n);
    t[72 + 17] = 0xff;
    assert_int_equal(raft_msg_decode(t, n, NULL, &d), RAFT_ECORRUPT);
    /* a bad entry type */
    memcpy(t, buf, n);
    t[72 + 16] = 9;
    assert_int_equal(raft_msg_decode(t, n, NULL, &d), RAFT_ECORRUPT);
    assert_null(d);
}

static void entry_round_trips_and_truncations_fail(void **state)
{
    (void)state;
    raft_entry e = {.index = 1ULL << 40,
                    .term = 3,
                    .type = RAFT_ENTRY_NORMAL,
                    .len = 4,
                    .data = (const uint8_t *)"data"};
    uint8_t buf[64];
    size_t n = raft_entry_encode(&e, buf, sizeof buf);
    assert_int_equal(n, raft_entry_encoded_size(&e));
    raft_entry d;
    size_t used;
    assert_int_equal(raft_entry_decode(buf, n, &d, &used), 0);
    assert_int_equal(used, n);
    assert_true(d.index == e.index && d.term == 3 && d.len == 4);
    assert_memory_equal(d.data, "data", 4);
    for (size_t cut = 0; cut < n; cut++)
        assert_int_not_equal(raft_entry_decode(buf, cut, &d, &used), 0);
}

static int fail_after;
static void *failing_malloc(void *ctx, size_t n)
{
    (void)ctx;
    if (fail_after-- <= 0) return NULL;
    return malloc(n);
}
static void *failing_realloc(void *ctx, void *p, size_t n)
{
    (void)ctx;
    if (fail_after-- <= 0) return NULL;
    return realloc(p, n);
}
static void plain_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

static void allocation_failure_is_reported_not_fatal(void **state)
{
    (void)state;
    raft_alloc al = {.malloc = failing_malloc, .realloc = failing_realloc, .free = plain_free};
    uint8_t buf[128];
    raft_msg m = {.type = RAFT_MSG_HEARTBEAT, .from = 1, .to = 2};
    size_t n = raft_msg_encode(&m, buf, sizeof buf);
    raft_msg *d;
    fail_after = 0;
    assert_int_equal(raft_msg_decode(buf, n, &al, &d), RAFT_ENOMEM);
    /* a node whose every allocation point fails in turn cleans up */
    for (int k = 0; k < 40; k++) {
        memstore st;
        uint64_t ids[] = {1};
        memstore_init(&st, ids, 1);
        raft_config cfg;
        tc_default_cfg(&cfg);
        cfg.id = 1;
        cfg.peers = ids;
        cfg.n_peers = 1;
        cfg.storage = &st.iface;
        cfg.alloc = &al;
        fail_after = k;
        raft_node *r = NULL;
        int rc = raft_new(&r, &cfg);
        if (rc == 0) {
            rc = raft_campaign(r);
            uint64_t i, t;
            if (!rc) rc = raft_propose(r, "abc", 3, &i, &t);
            raft_ready_batch rd;
            if (!rc) rc = raft_ready(r, &rd);
            if (!rc) rc = raft_advance(r, &rd);
            assert_true(rc == 0 || rc == RAFT_ENOMEM || rc == RAFT_ENOTLEADER);
        } else {
            assert_int_equal(rc, RAFT_ENOMEM);
        }
        raft_free(r);
        memstore_free(&st);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_message_type_round_trips),
        cmocka_unit_test(version_2_only_for_snapshots_with_learners),
        cmocka_unit_test(every_truncation_is_rejected),
        cmocka_unit_test(corrupted_fields_are_rejected),
        cmocka_unit_test(entry_round_trips_and_truncations_fail),
        cmocka_unit_test(allocation_failure_is_reported_not_fatal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
