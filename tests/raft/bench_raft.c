/* bench_raft.c -- entries committed per second through a 3-node in-memory
 * cluster (the raft-bench target; a program, not a test).
 *
 * One process, three raft_nodes on memstores, driven like the server's
 * end-of-pass: the leader takes a batch of proposals (100-byte entries), then
 * every node handles its Ready (send, persist to memory, send-after-persist,
 * apply, advance); messages are handed straight to the receiver's
 * raft_step, or with --codec encoded and decoded on the way, as the
 * transport would. The figure is entries applied on the leader per second of
 * wall time. Build it without sanitizers for a meaningful number:
 *
 *   cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release
 *   cmake --build build-rel --target raft-bench && build-rel/tests/raft/raft-bench
 *
 * Options: --entries N (default 3000000), --batch B (proposals per pass,
 * default 4096), --size S (bytes per entry, default 100), --codec.
 *
 * --learner: after the N entries (no compaction: the log is the way to
 * catch up), a fourth, empty node is added as a learner while the leader
 * keeps taking batches; reported are the seconds until the learner's match
 * is within one batch of the leader's log (then it is promoted, and the
 * seconds until the promotion is in force), the rate it caught up at, and
 * the leader's throughput during the catch-up as a ratio of before.
 * --inflight N: appends in flight per follower (default 256); each pass
 * can hand a lagging node up to N x 1 MB, which is what the leader's pass
 * rate pays during a catch-up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/raft/memstore.h"

#define NMAX 4
static int NN = 3; /* live nodes; --learner adds the fourth */

static raft_node *nodes[NMAX];
static memstore stores[NMAX];
static uint64_t applied[NMAX];
static int no_compact;
static int use_codec;
static uint8_t *codec_buf;
static size_t codec_cap;

static void die(const char *what, int rc)
{
    fprintf(stderr, "raft-bench: %s: %s\n", what, raft_strerror(rc));
    exit(1);
}

static void deliver(const raft_msg *m)
{
    raft_node *to = nodes[m->to - 1];
    int rc;
    if (!use_codec) {
        rc = raft_step(to, m);
    } else {
        size_t n = raft_msg_encoded_size(m);
        if (n > codec_cap) {
            codec_cap = n * 2;
            codec_buf = realloc(codec_buf, codec_cap);
            if (!codec_buf) die("realloc", RAFT_ENOMEM);
        }
        raft_msg_encode(m, codec_buf, codec_cap);
        raft_msg *d;
        rc = raft_msg_decode(codec_buf, n, NULL, &d);
        if (rc) die("decode", rc);
        rc = raft_step(to, d);
        raft_msg_free(d, NULL);
    }
    if (rc) die("step", rc);
}

static int handle_ready(int i)
{
    if (!raft_has_ready(nodes[i])) return 0;
    raft_ready_batch rd;
    int rc = raft_ready(nodes[i], &rd);
    if (rc) die("ready", rc);
    for (size_t k = 0; k < rd.n_msgs; k++)
        deliver(&rd.msgs[k]);
    if (rd.snapshot) {
        memstore_apply_snapshot(&stores[i], rd.snapshot);
        applied[i] = rd.snapshot->index;
    }
    if (rd.n_entries && (rc = memstore_append(&stores[i], rd.entries, rd.n_entries)))
        die("append", rc);
    if (rd.hs_changed) memstore_set_hs(&stores[i], &rd.hs);
    for (size_t k = 0; k < rd.n_msgs_after_persist; k++)
        deliver(&rd.msgs_after_persist[k]);
    if (rd.n_committed) applied[i] = rd.committed[rd.n_committed - 1].index;
    if ((rc = raft_advance(nodes[i], &rd))) die("advance", rc);
    return 1;
}

static void compact_all(void)
{
    /* keep memory flat: drop applied entries from the memstores */
    for (int i = 0; i < NN && !no_compact; i++) {
        uint64_t upto = applied[i];
        if (upto > stores[i].snap.index + 100000) memstore_compact(&stores[i], upto, NULL, 0);
    }
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void propose_batch(const uint8_t *payload, uint64_t size, uint64_t batch)
{
    for (uint64_t b = 0; b < batch; b++) {
        uint64_t idx, term;
        int rc = raft_propose(nodes[0], payload, (uint32_t)size, &idx, &term);
        if (rc) die("propose", rc);
    }
}

static uint64_t learner_match(void)
{
    raft_peer_progress pp;
    for (uint32_t j = 0; raft_get_progress(nodes[0], j, &pp) == 0; j++)
        if (pp.id == 4) return pp.match;
    return 0;
}

/* --learner: add node 4 as a learner under load, promote it once caught up. */
static void learner_phase(const uint8_t *payload, uint64_t size, uint64_t batch, double base_rate)
{
    NN = 4;
    uint64_t idx, term;
    int rc = raft_propose_conf_change(nodes[0], RAFT_CONF_ADD_LEARNER, 4, NULL, 0, &idx, &term);
    if (rc) die("add learner", rc);
    raft_status st;
    raft_get_status(nodes[0], &st);
    uint64_t behind = st.last_index, a0 = applied[0];
    double t0 = now_s();
    for (;;) {
        propose_batch(payload, size, batch);
        for (int i = 0; i < NN; i++)
            handle_ready(i);
        raft_get_status(nodes[0], &st);
        if (learner_match() + batch >= st.last_index) break;
    }
    double t1 = now_s();
    uint64_t during = applied[0] - a0;
    rc = raft_propose_conf_change(nodes[0], RAFT_CONF_ADD_VOTER, 4, NULL, 0, &idx, &term);
    if (rc) die("promote", rc);
    raft_conf k;
    do {
        propose_batch(payload, size, batch);
        for (int i = 0; i < NN; i++)
            handle_ready(i);
        raft_get_conf(nodes[0], &k, NULL);
    } while (raft_conf_role(&k, 4) != 1);
    double t2 = now_s();
    printf("raft-bench --learner: a new learner caught up %llu entries in %.3f s (%.0f entries/s) "
           "while the leader applied %.0f entries/s (%.2f of the %.0f/s before); promoted %.3f s "
           "later\n",
           (unsigned long long)behind, t1 - t0, (double)learner_match() / (t1 - t0),
           (double)during / (t1 - t0), (double)during / (t1 - t0) / base_rate, base_rate, t2 - t1);
}

int main(int argc, char **argv)
{
    uint64_t total = 3000000, batch = 4096, size = 100;
    uint32_t inflight = 256;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--entries") && i + 1 < argc)
            total = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            batch = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--size") && i + 1 < argc)
            size = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--codec"))
            use_codec = 1;
        else if (!strcmp(argv[i], "--learner"))
            no_compact = 1;
        else if (!strcmp(argv[i], "--inflight") && i + 1 < argc)
            inflight = (uint32_t)strtoul(argv[++i], NULL, 10);
        else {
            fprintf(stderr,
                    "usage: %s [--entries N] [--batch B] [--size S] [--codec] [--learner] "
                    "[--inflight N]\n",
                    argv[0]);
            return 2;
        }
    }
    uint64_t ids[NMAX] = {1, 2, 3, 4};
    for (int i = 0; i < NMAX; i++) {
        /* node 4 knows no cluster: it waits to be added */
        uint32_t np = i < 3 ? 3 : 0;
        memstore_init(&stores[i], ids, np);
        raft_config cfg = {.id = ids[i],
                           .peers = np ? ids : NULL,
                           .n_peers = np,
                           .election_tick = 10,
                           .heartbeat_tick = 1,
                           .seed = 42,
                           .max_inflight = inflight,
                           .max_msg_bytes = 1 << 20,
                           .storage = &stores[i].iface};
        int rc = raft_new(&nodes[i], &cfg);
        if (rc) die("raft_new", rc);
    }
    int rc = raft_campaign(nodes[0]);
    if (rc) die("campaign", rc);
    for (int k = 0; k < 10; k++)
        for (int i = 0; i < NN; i++)
            handle_ready(i);
    raft_status st;
    raft_get_status(nodes[0], &st);
    if (st.role != RAFT_LEADER) die("no leader", RAFT_ENOTLEADER);

    uint8_t *payload = malloc(size ? size : 1);
    memset(payload, 'v', size);
    uint64_t start_idx = applied[0], proposed = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (applied[0] - start_idx < total) {
        for (uint64_t b = 0; b < batch && proposed < total; b++, proposed++) {
            uint64_t idx, term;
            rc = raft_propose(nodes[0], payload, (uint32_t)size, &idx, &term);
            if (rc) die("propose", rc);
        }
        for (int i = 0; i < NN; i++)
            handle_ready(i);
        compact_all();
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    uint64_t done = applied[0] - start_idx;
    printf("raft-bench: %llu entries of %llu bytes, batch %llu%s: %.3f s, %.0f entries/s committed "
           "and applied (3 nodes)\n",
           (unsigned long long)done, (unsigned long long)size, (unsigned long long)batch,
           use_codec ? ", through the codec" : "", secs, (double)done / secs);
    if (no_compact) learner_phase(payload, size, batch, (double)done / secs);
    for (int i = 0; i < NMAX; i++) {
        raft_free(nodes[i]);
        memstore_free(&stores[i]);
    }
    free(payload);
    free(codec_buf);
    return 0;
}
