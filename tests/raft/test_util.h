/* test_util.h -- helpers shared by the raft scenario tests. */
#ifndef RAFTKV_TESTS_RAFT_TEST_UTIL_H
#define RAFTKV_TESTS_RAFT_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/raft/cluster.h"

static inline raft_status st_of(tcluster *c, int i)
{
    raft_status s;
    raft_get_status(c->nodes[i].r, &s);
    return s;
}

/* Replaces node i's disk with a log whose entries have the given terms,
 * and restarts it with hard state term. */
static inline void preload(tcluster *c, int i, const uint64_t *terms, size_t n, uint64_t term)
{
    tc_crash(c, i);
    memstore *s = &c->nodes[i].st;
    memstore_free(s);
    memstore_init(s, c->ids, (uint32_t)c->n);
    for (size_t k = 0; k < n; k++) {
        char d[16];
        int len = snprintf(d, sizeof d, "t%llu", (unsigned long long)terms[k]);
        raft_entry e = {
            .index = k + 1, .term = terms[k], .len = (uint32_t)len, .data = (const uint8_t *)d};
        assert_int_equal(memstore_append(s, &e, 1), 0);
    }
    raft_hard_state hs = {.term = term};
    memstore_set_hs(s, &hs);
    assert_int_equal(tc_start(c, i), 0);
}

#endif
