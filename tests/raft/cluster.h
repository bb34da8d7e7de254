/* cluster.h -- an in-memory cluster of raft nodes driven by a test: the
 * test owns ticks, message delivery and crashes. Messages travel through
 * the codec (encode, then decode), so every test also exercises it. Used by
 * the scenario tests and the simulation. */
#ifndef RAFTKV_TESTS_CLUSTER_H
#define RAFTKV_TESTS_CLUSTER_H

#include <stdbool.h>

#include "raft/raft.h"
#include "tests/raft/memstore.h"

#define TC_MAX 7

typedef struct tc_msg {
    raft_msg *m; /* decoded copy, owned */
} tc_msg;

typedef struct tc_node {
    uint64_t id;
    raft_node *r;                 /* NULL while crashed */
    memstore st;                  /* "disk": survives crashes */
    uint64_t app_index, app_hash; /* the state machine: a hash chain */
    raft_ready_batch last_rd;
    raft_read_state reads[64]; /* read states seen (the last 64) */
    int nreads;
    uint64_t snaps_installed;
    uint64_t nonmember_msgs; /* delivered from outside its configuration while a member */
} tc_node;

struct tcluster;
/* Called while a node handles its Ready, before raft_advance: the
 * simulation checks its invariants here. Returns 0 or nonzero to stop. */
typedef int (*tc_ready_hook)(struct tcluster *c, int i, const raft_ready_batch *rd);
typedef int (*tc_apply_hook)(struct tcluster *c, int i, const raft_entry *e);

typedef struct tcluster {
    int n;
    int n_boot; /* nodes 0 .. n_boot-1 bootstrap the cluster; the rest wait to be added */
    tc_node nodes[TC_MAX];
    raft_config cfg; /* template; id and storage are set per node */
    uint64_t ids[TC_MAX];
    tc_msg *net; /* in flight, in send order */
    size_t nnet, capnet;
    bool cut[TC_MAX][TC_MAX]; /* cut[a][b]: a's messages to b are lost */
    tc_ready_hook on_ready;
    tc_apply_hook on_apply;
    void *user;
    uint64_t sent, delivered;
} tcluster;

/* Fills cfg with test defaults: election 10, heartbeat 1, prevote off. */
void tc_default_cfg(raft_config *cfg);
/* n nodes with ids 1..n; cfg may be NULL for defaults. Nodes are started. */
int tc_init(tcluster *c, int n, const raft_config *cfg);
/* n_boot voters (ids 1..n_boot) and `spares` new nodes (ids n_boot+1 ..)
 * that know no cluster and wait to be added. */
int tc_init_spares(tcluster *c, int n_boot, int spares, const raft_config *cfg);
void tc_free(tcluster *c);
int tc_start(tcluster *c, int i); /* (re)creates node i from its memstore */
void tc_crash(tcluster *c, int i);
/* Handles node i's Ready (send, persist, send-after, apply, advance).
 * Returns 1 when there was one, 0 when not, <0 on error. */
int tc_ready(tcluster *c, int i);
/* Same, but crashes after persisting (messages after persist are lost). */
int tc_ready_crash_after_persist(tcluster *c, int i);
/* Sends rd.msgs, then crashes before the disk write. */
int tc_ready_crash_before_persist(tcluster *c, int i);
/* Delivers in-flight message k (removing it). Returns raft_step's code or
 * 0 when the target is down. */
int tc_deliver(tcluster *c, size_t k);
void tc_drop(tcluster *c, size_t k);
int tc_duplicate(tcluster *c, size_t k);
/* Readies and delivers everything until quiet (bounded). Returns <0 on error. */
int tc_stabilize(tcluster *c);
int tc_tick(tcluster *c, int i);
/* Ticks every live node up to `ticks` times, stabilizing after each. */
int tc_tick_all(tcluster *c, int ticks);
void tc_isolate(tcluster *c, int i);
void tc_heal(tcluster *c);
/* Index of the leader node (highest term), or -1. */
int tc_leader(tcluster *c);
int tc_propose(tcluster *c, int i, const char *data, uint64_t *index);
/* Makes node i leader by campaigning and stabilizing; returns 0 on success. */
int tc_elect(tcluster *c, int i);
uint64_t tc_hash(const void *p, size_t n, uint64_t h);

/* Membership: the leader proposes op on node `target` (an index), then the
 * cluster is stabilized. Returns raft_propose_conf_change's error, -1 when
 * there is no leader, or 0 once the leader's configuration has the change
 * in force. */
int tc_conf_change(tcluster *c, int op, int target);
int tc_add_learner(tcluster *c, int target);
int tc_promote(tcluster *c, int target);
int tc_remove(tcluster *c, int target);
/* Node i's role in its own configuration: 1 voter, 2 learner, 0 neither. */
int tc_member(tcluster *c, int i);

#endif
