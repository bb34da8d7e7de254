/* readindex.c -- linearizable reads without log writes (thesis §6.4):
 * record the commit index, confirm leadership with a heartbeat round, answer
 * once a quorum acknowledged a round sent after the request and an entry of
 * the leader's term is committed. */
#include "raft/raft_int.h"

/* ----------------------------------------------------------------- reads */

void r_add_read_state(raft_node *r, uint64_t index, uint64_t ctx)
{
    if (r->nrstates == r->caprstates) {
        size_t nc = r->caprstates ? r->caprstates * 2 : 16;
        raft_read_state *v = ra_realloc(&r->alc, r->rstates, nc * sizeof(*v));
        if (!v) {
            r->err = RAFT_ENOMEM;
            return;
        }
        r->rstates = v;
        r->caprstates = nc;
    }
    r->rstates[r->nrstates++] = (raft_read_state){.index = index, .ctx = ctx};
}

static int r_answer_read(raft_node *r, uint64_t from, uint64_t index, uint64_t ctx)
{
    if (from == r->id) {
        r_add_read_state(r, index, ctx);
        return r->err;
    }
    raft_msg m = {.type = RAFT_MSG_READ_INDEX_RESP, .to = from, .index = index, .ctx = ctx};
    return r_send(r, &m);
}

static int r_push_req(raft_node *r, read_req **v, size_t *n, size_t *cap, const read_req *q)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        read_req *nv = ra_realloc(&r->alc, *v, nc * sizeof(*nv));
        if (!nv) return r->err = RAFT_ENOMEM;
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = *q;
    return 0;
}

/* Thesis §6.4 steps 1-3: record commit as the read index, then confirm
 * leadership with a heartbeat round; reads of one pass share the round. */
int r_handle_read(raft_node *r, uint64_t ctx, uint64_t from)
{
    if (!r_committed_in_term(r)) {
        read_req q = {.ctx = ctx, .from = from};
        return r_push_req(r, &r->pending_reads, &r->npending, &r->cappending, &q);
    }
    if (r_quorum(r) == 1) return r_answer_read(r, from, r->log.committed, ctx);
    /* compact the FIFO */
    if (r->headreads && r->headreads == r->nreads) r->headreads = r->nreads = 0;
    read_req q = {.round = r->round, .index = r->log.committed, .ctx = ctx, .from = from};
    r->need_round = true;
    return r_push_req(r, &r->reads, &r->nreads, &r->capreads, &q);
}

void r_release_pending_reads(raft_node *r)
{
    size_t n = r->npending;
    r->npending = 0;
    for (size_t i = 0; i < n; i++) {
        /* handle_read does not touch pending_reads now that commit is in term */
        read_req q = r->pending_reads[i];
        r_handle_read(r, q.ctx, q.from);
    }
}

int r_advance_reads(raft_node *r)
{
    while (r->headreads < r->nreads) {
        read_req *q = &r->reads[r->headreads];
        uint32_t acks = 0; /* voters only (raft.h "membership") */
        for (uint32_t i = 0; i < r->npr; i++)
            if (!r->prs[i].learner && (i == r->self || r->prs[i].read_ack >= q->round + 1)) acks++;
        if (acks < r_quorum(r)) break;
        r->headreads++;
        int rc = r_answer_read(r, q->from, q->index, q->ctx);
        if (rc) return rc;
    }
    return 0;
}

int r_read_index(raft_node *r, uint64_t ctx)
{
    if (r->role == RAFT_LEADER) return r_handle_read(r, ctx, r->id);
    if (!r->lead) return RAFT_EDROPPED;
    raft_msg m = {.type = RAFT_MSG_READ_INDEX, .to = r->lead, .ctx = ctx};
    return r_send(r, &m);
}
