/* confchange.c -- membership changes one server at a time (thesis §4.1;
 * the rules and why they are safe are in raft.h "membership"): what a
 * change produces, its entry's encoding, proposing one on the leader and
 * putting one in force when it applies. The configuration and the progress
 * it implies live in tracker.c. */
#include "raft/raft_int.h"

/* ------------------------------------------------------------ pure part */

int raft_conf_role(const raft_conf *c, uint64_t id)
{
    for (uint32_t i = 0; i < c->n_voters && i < RAFT_MAX_VOTERS; i++)
        if (c->voters[i] == id) return 1;
    for (uint32_t i = 0; i < c->n_learners && i < RAFT_MAX_LEARNERS; i++)
        if (c->learners[i] == id) return 2;
    return 0;
}

int raft_conf_check(const raft_conf *c)
{
    if (c->n_voters > RAFT_MAX_VOTERS || c->n_learners > RAFT_MAX_LEARNERS) return RAFT_ECONF;
    uint32_t n = c->n_voters + c->n_learners;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t a = i < c->n_voters ? c->voters[i] : c->learners[i - c->n_voters];
        if (a == 0) return RAFT_ECONF;
        for (uint32_t j = 0; j < i; j++) {
            uint64_t b = j < c->n_voters ? c->voters[j] : c->learners[j - c->n_voters];
            if (a == b) return RAFT_ECONF;
        }
    }
    return 0;
}

static void drop_id(uint64_t *v, uint32_t *n, uint64_t id)
{
    for (uint32_t i = 0; i < *n; i++)
        if (v[i] == id) {
            memmove(&v[i], &v[i + 1], (*n - i - 1) * sizeof(uint64_t));
            v[--(*n)] = 0; /* unused slots stay zero: configurations compare bytewise */
            return;
        }
}

int raft_conf_after(const raft_conf *cur, int op, uint64_t id, raft_conf *out)
{
    if (id == 0 || raft_conf_check(cur)) return RAFT_ECONF;
    int role = raft_conf_role(cur, id);
    raft_conf c = *cur;
    switch (op) {
    case RAFT_CONF_ADD_LEARNER:
        if (role != 0 || c.n_learners == RAFT_MAX_LEARNERS) return RAFT_ECONF;
        c.learners[c.n_learners++] = id;
        break;
    case RAFT_CONF_ADD_VOTER:
        if (role == 1 || c.n_voters == RAFT_MAX_VOTERS) return RAFT_ECONF;
        if (role == 2) drop_id(c.learners, &c.n_learners, id);
        c.voters[c.n_voters++] = id;
        break;
    case RAFT_CONF_REMOVE:
        if (role == 0 || (role == 1 && c.n_voters == 1)) return RAFT_ECONF;
        if (role == 1)
            drop_id(c.voters, &c.n_voters, id);
        else
            drop_id(c.learners, &c.n_learners, id);
        break;
    default:
        return RAFT_ECONF;
    }
    *out = c;
    return 0;
}

/* ------------------------------------------------------------- encoding */

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}
static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static size_t cc_size(const raft_conf_change *c)
{
    return 2 + 8 + 4 + 8 * (size_t)c->conf.n_voters + 4 + 8 * (size_t)c->conf.n_learners + 2 +
           c->ctx_len;
}

size_t raft_conf_change_encode(const raft_conf_change *c, uint8_t *buf, size_t cap)
{
    if (raft_conf_check(&c->conf) || c->ctx_len > RAFT_CONF_CTX_MAX) return 0;
    size_t need = cc_size(c);
    if (cap < need) return 0;
    uint8_t *p = buf;
    p[0] = RAFT_CONF_CHANGE_VERSION;
    p[1] = c->op;
    put64(p + 2, c->id);
    p += 10;
    put32(p, c->conf.n_voters);
    p += 4;
    for (uint32_t i = 0; i < c->conf.n_voters; i++, p += 8)
        put64(p, c->conf.voters[i]);
    put32(p, c->conf.n_learners);
    p += 4;
    for (uint32_t i = 0; i < c->conf.n_learners; i++, p += 8)
        put64(p, c->conf.learners[i]);
    p[0] = (uint8_t)c->ctx_len;
    p[1] = (uint8_t)(c->ctx_len >> 8);
    if (c->ctx_len) memcpy(p + 2, c->ctx, c->ctx_len);
    return need;
}

int raft_conf_change_decode(const uint8_t *buf, size_t len, raft_conf_change *out)
{
    if (len < 1) return RAFT_ECORRUPT;
    if (buf[0] != RAFT_CONF_CHANGE_VERSION) return RAFT_EVERSION;
    if (len < 14) return RAFT_ECORRUPT;
    raft_conf_change c;
    memset(&c, 0, sizeof c);
    c.op = buf[1];
    c.id = get64(buf + 2);
    size_t off = 10;
    uint32_t nv = get32(buf + off);
    off += 4;
    if (nv > RAFT_MAX_VOTERS || (len - off) < 8 * (size_t)nv + 4) return RAFT_ECORRUPT;
    c.conf.n_voters = nv;
    for (uint32_t i = 0; i < nv; i++, off += 8)
        c.conf.voters[i] = get64(buf + off);
    uint32_t nl = get32(buf + off);
    off += 4;
    if (nl > RAFT_MAX_LEARNERS || (len - off) < 8 * (size_t)nl + 2) return RAFT_ECORRUPT;
    c.conf.n_learners = nl;
    for (uint32_t i = 0; i < nl; i++, off += 8)
        c.conf.learners[i] = get64(buf + off);
    uint32_t cl = (uint32_t)buf[off] | (uint32_t)buf[off + 1] << 8;
    off += 2;
    if (cl > RAFT_CONF_CTX_MAX || len - off != cl) return RAFT_ECORRUPT;
    c.ctx_len = (uint16_t)cl;
    if (cl) memcpy(c.ctx, buf + off, cl);
    if (raft_conf_check(&c.conf) || c.id == 0 || c.conf.n_voters == 0) return RAFT_ECORRUPT;
    int role = raft_conf_role(&c.conf, c.id);
    bool consistent = (c.op == RAFT_CONF_ADD_LEARNER && role == 2) ||
                      (c.op == RAFT_CONF_ADD_VOTER && role == 1) ||
                      (c.op == RAFT_CONF_REMOVE && role == 0);
    if (!consistent) return RAFT_ECORRUPT;
    *out = c;
    return 0;
}

/* ------------------------------------------------------------- protocol */

int r_propose_conf(raft_node *r, int op, uint64_t id, const void *ctx, uint32_t ctx_len,
                   uint64_t *index, uint64_t *term)
{
    if (r->role != RAFT_LEADER) return RAFT_ENOTLEADER;
    if (r->transferee) return RAFT_ETRANSFER;
    /* One change at a time: the previous one must have been applied here. */
    if (r->pending_conf > r->log.applied) return RAFT_ECONFPENDING;
    /* Ongaro 2015 (raft.h): no change before an entry of this term commits. */
    if (!r_committed_in_term(r)) return RAFT_ENOTREADY;
    raft_conf_change cc = {.op = (uint8_t)op, .id = id, .ctx_len = (uint16_t)ctx_len};
    if (raft_conf_after(&r->conf, op, id, &cc.conf)) return RAFT_ECONF;
    if (ctx_len) memcpy(cc.ctx, ctx, ctx_len);
    uint8_t *d = ra_malloc(&r->alc, RAFT_CONF_CHANGE_MAX_BYTES);
    if (!d) return RAFT_ENOMEM;
    size_t len = raft_conf_change_encode(&cc, d, RAFT_CONF_CHANGE_MAX_BYTES);
    int rc = log_append_owned(&r->log, r->term, RAFT_ENTRY_CONF, d, (uint32_t)len);
    if (rc) {
        ra_free(&r->alc, d);
        return rc;
    }
    r->uncommitted += len;
    r->pending_conf = log_last_index(&r->log);
    if (op == RAFT_CONF_REMOVE && id == r->id) r->leaving = true;
    r->need_bcast = true;
    *index = r->pending_conf;
    *term = r->term;
    TRACE(r, "proposed conf change op %d id %llu at %llu", op, (unsigned long long)id,
          (unsigned long long)*index);
    return 0;
}

/* What follows from a new configuration, on every node alike. */
static int r_conf_took_effect(raft_node *r)
{
    if (r->transferee && !tr_is_voter(r, r->transferee)) r_abort_transfer(r);
    bool voter = tr_is_voter(r, r->id);
    if (!voter && r->role != RAFT_FOLLOWER) {
        /* Thesis §4.2.2: a leader removed from the configuration steps down
         * once the change is committed (here: applied). A candidate that
         * is no longer a voter gives up. */
        TRACE(r, "no longer a voter: stepping down");
        r_become_follower(r, r->term, 0);
        return 0;
    }
    if (r->role == RAFT_LEADER) {
        /* New members need the log; fewer voters may commit more (etcd
         * does the same after a change). */
        r->need_bcast = true;
        r_maybe_commit(r);
        return r_advance_reads(r);
    }
    /* A candidate's tally under the new voters is taken at its next vote
     * response or timeout: nothing here may append to the log (this runs
     * while raft_ready lends it out). */
    return 0;
}

int r_apply_conf_entry(raft_node *r, const raft_entry *e)
{
    if (e->index <= r->conf_index) return 0; /* already in force (cfg.conf) */
    raft_conf_change cc;
    if (raft_conf_change_decode(e->data, e->len, &cc)) {
        TRACE(r, "ignoring malformed conf entry at %llu", (unsigned long long)e->index);
        return 0;
    }
    int rc = tr_set_conf(r, &cc.conf, e->index);
    if (rc) return r->err = rc;
    TRACE(r, "conf at %llu: %u voters, %u learners (op %d id %llu)", (unsigned long long)e->index,
          cc.conf.n_voters, cc.conf.n_learners, cc.op, (unsigned long long)cc.id);
    return r_conf_took_effect(r);
}

int r_apply_snapshot_conf(raft_node *r, const raft_snapshot_meta *s)
{
    if (s->n_voters == 0 || s->index <= r->conf_index) return 0;
    raft_conf c = {.n_voters = s->n_voters, .n_learners = s->n_learners};
    memcpy(c.voters, s->voters, sizeof(uint64_t) * s->n_voters);
    memcpy(c.learners, s->learners, sizeof(uint64_t) * s->n_learners);
    if (raft_conf_check(&c)) return 0; /* refused at raft_step already */
    int rc = tr_set_conf(r, &c, s->index);
    if (rc) return r->err = rc;
    return r_conf_took_effect(r);
}

/* Calls found on each conf entry in [lo, last] (read in slices: the
 * entries may be in storage, after a restart) until it returns true. When
 * they cannot be read, answers on_error (and out of memory fails the node,
 * raft.h's failure model; a storage error is sticky in the log). */
static bool any_conf_entry(raft_node *r, uint64_t lo, uint64_t last,
                           bool (*found)(raft_node *, const raft_entry *), bool on_error)
{
    while (lo <= last) {
        entvec *ev = &r->scratch;
        ev->n = 0;
        int rc = log_slice(&r->log, lo, last + 1, r->max_msg_bytes, &r->ar, ev);
        if (rc == RAFT_ENOMEM) r->err = rc;
        if (rc || ev->n == 0) return on_error;
        for (size_t k = 0; k < ev->n; k++)
            if (ev->v[k].type == RAFT_ENTRY_CONF && found(r, &ev->v[k])) return true;
        lo = ev->v[ev->n - 1].index + 1;
    }
    return false;
}

static bool removes_self(raft_node *r, const raft_entry *e)
{
    raft_conf_change cc;
    return raft_conf_change_decode(e->data, e->len, &cc) == 0 &&
           raft_conf_role(&cc.conf, r->id) == 0;
}

static bool is_conf(raft_node *r, const raft_entry *e)
{
    (void)r, (void)e;
    return true;
}

bool r_tail_removes_self(raft_node *r)
{
    uint64_t last = log_last_index(&r->log);
    return r->log.committed < last &&
           any_conf_entry(r, r->log.committed + 1, last, removes_self, false);
}

bool r_conf_unapplied(raft_node *r)
{
    if (r->log.has_pending_snap) return true;
    if (r->log.applied >= r->log.committed) return false;
    return any_conf_entry(r, r->log.applied + 1, r->log.committed, is_conf, true);
}
