/* cluster.c -- see cluster.h. */
#include <stdlib.h>
#include <string.h>

#include "tests/raft/cluster.h"

uint64_t tc_hash(const void *p, size_t n, uint64_t h)
{
    const uint8_t *b = p;
    h ^= 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

void tc_default_cfg(raft_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->election_tick = 10;
    cfg->heartbeat_tick = 1;
    cfg->seed = 1;
    cfg->max_inflight = 256;
}

int tc_start(tcluster *c, int i)
{
    tc_node *nd = &c->nodes[i];
    raft_config cfg = c->cfg;
    cfg.id = nd->id;
    cfg.peers = i < c->n_boot ? c->ids : NULL;
    cfg.n_peers = i < c->n_boot ? (uint32_t)c->n_boot : 0;
    cfg.storage = &nd->st.iface;
    /* The state machine restarts from its snapshot (its "disk"). */
    nd->app_index = nd->st.snap.index;
    nd->app_hash = 0;
    if (nd->st.snap.ref_len == 16) memcpy(&nd->app_hash, nd->st.snap.ref + 8, 8);
    cfg.applied = nd->app_index;
    return raft_new(&nd->r, &cfg);
}

int tc_init(tcluster *c, int n, const raft_config *cfg)
{
    return tc_init_spares(c, n, 0, cfg);
}

int tc_init_spares(tcluster *c, int n_boot, int spares, const raft_config *cfg)
{
    int n = n_boot + spares;
    if (n > TC_MAX) return -1;
    memset(c, 0, sizeof(*c));
    c->n = n;
    c->n_boot = n_boot;
    if (cfg)
        c->cfg = *cfg;
    else
        tc_default_cfg(&c->cfg);
    for (int i = 0; i < n; i++)
        c->ids[i] = (uint64_t)i + 1;
    for (int i = 0; i < n; i++) {
        c->nodes[i].id = c->ids[i];
        memstore_init(&c->nodes[i].st, c->ids, i < n_boot ? (uint32_t)n_boot : 0);
    }
    for (int i = 0; i < n; i++) {
        int rc = tc_start(c, i);
        if (rc) return rc;
    }
    return 0;
}

void tc_crash(tcluster *c, int i)
{
    raft_free(c->nodes[i].r);
    c->nodes[i].r = NULL;
}

void tc_free(tcluster *c)
{
    for (int i = 0; i < c->n; i++) {
        tc_crash(c, i);
        memstore_free(&c->nodes[i].st);
    }
    for (size_t k = 0; k < c->nnet; k++)
        raft_msg_free(c->net[k].m, NULL);
    free(c->net);
    memset(c, 0, sizeof(*c));
}

static int node_index(tcluster *c, uint64_t id)
{
    for (int i = 0; i < c->n; i++)
        if (c->ids[i] == id) return i;
    return -1;
}

static int enqueue(tcluster *c, const raft_msg *m)
{
    int a = node_index(c, m->from), b = node_index(c, m->to);
    if (a < 0 || b < 0) return 0;
    if (c->cut[a][b]) return 0;
    size_t sz = raft_msg_encoded_size(m);
    uint8_t stackbuf[4096];
    uint8_t *buf = sz <= sizeof stackbuf ? stackbuf : malloc(sz);
    if (!buf) return RAFT_ENOMEM;
    size_t w = raft_msg_encode(m, buf, sz);
    raft_msg *d = NULL;
    int rc = w == sz ? raft_msg_decode(buf, sz, NULL, &d) : RAFT_ECORRUPT;
    if (buf != stackbuf) free(buf);
    if (rc) return rc;
    if (c->nnet == c->capnet) {
        size_t nc = c->capnet ? c->capnet * 2 : 64;
        tc_msg *v = realloc(c->net, nc * sizeof(*v));
        if (!v) {
            raft_msg_free(d, NULL);
            return RAFT_ENOMEM;
        }
        c->net = v;
        c->capnet = nc;
    }
    c->net[c->nnet++].m = d;
    c->sent++;
    return 0;
}

static void apply_entry(tc_node *nd, const raft_entry *e)
{
    uint64_t h = tc_hash(&e->term, 8, nd->app_hash);
    nd->app_hash = tc_hash(e->data, e->len, h);
    nd->app_index = e->index;
}

/* crash: 0 none, 1 after persisting, 2 after the early sends but before
 * persisting (the leader's appends left, its own disk write never happened). */
static int do_ready(tcluster *c, int i, int crash)
{
    tc_node *nd = &c->nodes[i];
    if (!nd->r || !raft_has_ready(nd->r)) return 0;
    raft_ready_batch rd;
    int rc = raft_ready(nd->r, &rd);
    if (rc) return rc;
    for (size_t k = 0; k < rd.n_msgs; k++)
        if ((rc = enqueue(c, &rd.msgs[k]))) return rc;
    if (crash == 2) {
        tc_crash(c, i);
        return 1;
    }
    for (size_t k = 0; k < rd.n_read_states; k++)
        nd->reads[nd->nreads++ % 64] = rd.read_states[k];
    if (rd.snapshot) {
        nd->snaps_installed++;
        memstore_apply_snapshot(&nd->st, rd.snapshot);
        nd->app_index = rd.snapshot->index;
        memcpy(&nd->app_hash, rd.snapshot->ref + 8, 8);
    }
    if (rd.n_entries && (rc = memstore_append(&nd->st, rd.entries, rd.n_entries))) return rc;
    if (rd.hs_changed) memstore_set_hs(&nd->st, &rd.hs);
    if (c->on_ready && (rc = c->on_ready(c, i, &rd))) return rc;
    if (crash == 1) {
        tc_crash(c, i);
        return 1;
    }
    for (size_t k = 0; k < rd.n_msgs_after_persist; k++)
        if ((rc = enqueue(c, &rd.msgs_after_persist[k]))) return rc;
    for (size_t k = 0; k < rd.n_committed; k++) {
        const raft_entry *e = &rd.committed[k];
        apply_entry(nd, e);
        if (c->on_apply && (rc = c->on_apply(c, i, e))) return rc;
    }
    nd->last_rd = rd;
    uint64_t di = rd.n_entries ? rd.entries[rd.n_entries - 1].index : 0;
    uint64_t dt = rd.n_entries ? rd.entries[rd.n_entries - 1].term : 0;
    rc = raft_advance(nd->r, &rd);
    memset(&nd->last_rd, 0, sizeof(nd->last_rd));
    /* The memstore's write is its disk write: on disk at once. */
    if (!rc && di && c->cfg.async_durable) raft_durable(nd->r, di, dt);
    return rc ? rc : 1;
}

int tc_ready(tcluster *c, int i)
{
    return do_ready(c, i, 0);
}

int tc_ready_crash_after_persist(tcluster *c, int i)
{
    return do_ready(c, i, 1);
}

int tc_ready_crash_before_persist(tcluster *c, int i)
{
    return do_ready(c, i, 2);
}

static void remove_at(tcluster *c, size_t k)
{
    memmove(&c->net[k], &c->net[k + 1], (c->nnet - k - 1) * sizeof(tc_msg));
    c->nnet--;
}

int tc_deliver(tcluster *c, size_t k)
{
    raft_msg *m = c->net[k].m;
    remove_at(c, k);
    int b = node_index(c, m->to);
    int rc = 0;
    if (b >= 0 && c->nodes[b].r) {
        raft_conf k;
        raft_get_conf(c->nodes[b].r, &k, NULL);
        if (raft_conf_role(&k, c->ids[b]) && !raft_conf_role(&k, m->from))
            c->nodes[b].nonmember_msgs++;
        rc = raft_step(c->nodes[b].r, m);
        c->delivered++;
    }
    raft_msg_free(m, NULL);
    return rc;
}

void tc_drop(tcluster *c, size_t k)
{
    raft_msg_free(c->net[k].m, NULL);
    remove_at(c, k);
}

int tc_duplicate(tcluster *c, size_t k)
{
    return enqueue(c, c->net[k].m);
}

int tc_stabilize(tcluster *c)
{
    for (int round = 0; round < 10000; round++) {
        bool any = false;
        for (int i = 0; i < c->n; i++) {
            int rc = tc_ready(c, i);
            if (rc < 0) return rc;
            if (rc) any = true;
        }
        /* deliver what is in flight now, in order */
        size_t n = c->nnet;
        for (size_t k = 0; k < n && c->nnet; k++) {
            int rc = tc_deliver(c, 0);
            if (rc < 0) return rc;
            any = true;
        }
        if (!any) return 0;
    }
    return -100; /* did not settle */
}

int tc_tick(tcluster *c, int i)
{
    if (!c->nodes[i].r) return 0;
    return raft_tick(c->nodes[i].r);
}

int tc_tick_all(tcluster *c, int ticks)
{
    for (int t = 0; t < ticks; t++) {
        for (int i = 0; i < c->n; i++) {
            int rc = tc_tick(c, i);
            if (rc) return rc;
        }
        int rc = tc_stabilize(c);
        if (rc) return rc;
    }
    return 0;
}

void tc_isolate(tcluster *c, int i)
{
    for (int j = 0; j < c->n; j++) {
        if (j == i) continue;
        c->cut[i][j] = c->cut[j][i] = true;
    }
}

void tc_heal(tcluster *c)
{
    memset(c->cut, 0, sizeof(c->cut));
}

int tc_leader(tcluster *c)
{
    int best = -1;
    uint64_t bt = 0;
    for (int i = 0; i < c->n; i++) {
        if (!c->nodes[i].r) continue;
        raft_status s;
        raft_get_status(c->nodes[i].r, &s);
        if (s.role == RAFT_LEADER && s.term >= bt) {
            best = i;
            bt = s.term;
        }
    }
    return best;
}

int tc_propose(tcluster *c, int i, const char *data, uint64_t *index)
{
    uint64_t idx, term;
    int rc = raft_propose(c->nodes[i].r, data, (uint32_t)strlen(data), &idx, &term);
    if (!rc && index) *index = idx;
    return rc;
}

int tc_elect(tcluster *c, int i)
{
    int rc = raft_campaign(c->nodes[i].r);
    if (rc) return rc;
    rc = tc_stabilize(c);
    if (rc) return rc;
    return tc_leader(c) == i ? 0 : -1;
}

int tc_conf_change(tcluster *c, int op, int target)
{
    int l = tc_leader(c);
    if (l < 0) return -1;
    uint64_t idx, term;
    int rc = raft_propose_conf_change(c->nodes[l].r, op, c->ids[target], NULL, 0, &idx, &term);
    if (rc) return rc;
    rc = tc_stabilize(c);
    if (rc) return rc;
    raft_conf conf;
    uint64_t ci;
    if (!c->nodes[l].r) return -1;
    raft_get_conf(c->nodes[l].r, &conf, &ci);
    return ci == idx ? 0 : -1;
}

int tc_add_learner(tcluster *c, int target)
{
    return tc_conf_change(c, RAFT_CONF_ADD_LEARNER, target);
}

int tc_promote(tcluster *c, int target)
{
    return tc_conf_change(c, RAFT_CONF_ADD_VOTER, target);
}

int tc_remove(tcluster *c, int target)
{
    return tc_conf_change(c, RAFT_CONF_REMOVE, target);
}

int tc_member(tcluster *c, int i)
{
    if (!c->nodes[i].r) return 0;
    raft_conf conf;
    raft_get_conf(c->nodes[i].r, &conf, NULL);
    return raft_conf_role(&conf, c->ids[i]);
}
