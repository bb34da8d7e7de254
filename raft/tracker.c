/* tracker.c -- the configuration in force and the progress of its members
 * (etcd raft's tracker/quorum): who votes, who only learns, what a majority
 * is and what it has. Role logic (election.c, replication.c, readindex.c)
 * asks here instead of walking the members itself, so a learner is left out
 * of every count in one place (raft.h "membership"). */
#include "raft/raft_int.h"

static void pr_init(raft_node *r, progress *p, uint64_t id, bool learner)
{
    inflight *infl = p->infl;
    memset(p, 0, sizeof(*p));
    p->infl = infl;
    p->id = id;
    p->learner = learner;
    p->next = log_last_index(&r->log) + 1;
    p->state = RAFT_PR_PROBE;
    /* etcd: a new member counts as active until the next CheckQuorum, so
     * adding one cannot make the leader step down at once. */
    p->recent_active = true;
}

int tr_set_conf(raft_node *r, const raft_conf *c, uint64_t index)
{
    uint32_t n = c->n_voters + c->n_learners;
    progress *np = NULL;
    if (n) {
        np = ra_malloc(&r->alc, n * sizeof(progress));
        if (!np) return RAFT_ENOMEM;
        memset(np, 0, n * sizeof(progress));
    }
    /* first pass: allocate what is new, so a failure changes nothing */
    for (uint32_t i = 0; i < n; i++) {
        uint64_t id = i < c->n_voters ? c->voters[i] : c->learners[i - c->n_voters];
        progress *old = r_progress(r, id);
        if (old) continue;
        np[i].infl = ra_malloc(&r->alc, r->max_inflight * sizeof(inflight));
        if (!np[i].infl) {
            for (uint32_t j = 0; j <= i; j++)
                ra_free(&r->alc, np[j].infl);
            ra_free(&r->alc, np);
            return RAFT_ENOMEM;
        }
    }
    uint32_t self = UINT32_MAX;
    for (uint32_t i = 0; i < n; i++) {
        bool learner = i >= c->n_voters;
        uint64_t id = learner ? c->learners[i - c->n_voters] : c->voters[i];
        progress *old = r_progress(r, id);
        if (old) {
            np[i] = *old;
            np[i].learner = learner;
            old->infl = NULL; /* moved */
        } else {
            pr_init(r, &np[i], id, learner);
        }
        if (id == r->id) self = i;
    }
    tr_free(r);
    r->prs = np;
    r->npr = n;
    r->self = self;
    r->conf = *c;
    r->conf_index = index;
    return 0;
}

void tr_free(raft_node *r)
{
    if (r->prs)
        for (uint32_t i = 0; i < r->npr; i++)
            ra_free(&r->alc, r->prs[i].infl);
    ra_free(&r->alc, r->prs);
    r->prs = NULL;
    r->npr = 0;
}

uint32_t tr_quorum(raft_node *r)
{
    return r->conf.n_voters / 2 + 1;
}

bool tr_is_voter(raft_node *r, uint64_t id)
{
    return raft_conf_role(&r->conf, id) == 1;
}

uint64_t tr_quorum_match(raft_node *r)
{
    uint64_t m[RAFT_MAX_VOTERS + RAFT_MAX_LEARNERS] = {0};
    uint32_t k = 0;
    for (uint32_t i = 0; i < r->npr; i++) {
#if !defined(RAFT_TEST_BUG) || RAFT_TEST_BUG != 5 /* 5: learners counted for commit */
        if (r->prs[i].learner) continue;          /* learners never count (thesis §4.2.1) */
#endif
        m[k++] = r->prs[i].match;
    }
    if (k == 0) return 0;
    /* k <= 32: insertion sort, descending */
    for (uint32_t i = 1; i < k; i++) {
        uint64_t x = m[i];
        uint32_t j = i;
        while (j > 0 && m[j - 1] < x) {
            m[j] = m[j - 1];
            j--;
        }
        m[j] = x;
    }
    uint32_t q = tr_quorum(r);
    return q <= k ? m[q - 1] : 0;
}

void tr_tally(raft_node *r, uint32_t *yes, uint32_t *no)
{
    *yes = *no = 0;
    for (uint32_t i = 0; i < r->npr; i++) {
        if (r->prs[i].learner) continue;
        if (r->prs[i].vote > 0) (*yes)++;
        if (r->prs[i].vote < 0) (*no)++;
    }
}

uint32_t tr_count_voters(raft_node *r, bool (*ok)(raft_node *, const progress *, uint64_t),
                         uint64_t arg)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < r->npr; i++)
        if (!r->prs[i].learner && ok(r, &r->prs[i], arg)) k++;
    return k;
}
