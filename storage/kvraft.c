/* kvraft.c -- the log environment as raft/'s storage (kvraft.h). */
#include <string.h>

#include "storage/kverr.h"
#include "storage/kvraft.h"

/* A kvlog error on an index inside the log: anything but memory is a
 * storage failure (an index outside was answered before asking kvlog). */
static int raft_err(int kv)
{
    switch (kv) {
    case 0:
        return 0;
    case KV_ENOMEM:
        return RAFT_ENOMEM;
    default:
        return RAFT_ESTORAGE;
    }
}

static int kr_initial_state(void *ctx, raft_hard_state *hs, raft_snapshot_meta *snap)
{
    kvlog *l = ctx;
    kvlog_hardstate h;
    int rc = kvlog_get_hardstate(l, &h);
    if (rc != 0) return raft_err(rc);
    hs->term = h.term;
    hs->vote = h.vote;
    hs->commit = h.commit;
    memset(snap, 0, sizeof(*snap));
    snap->index = kvlog_snapshot_index(l);
    snap->term = kvlog_snapshot_term(l);
    /* MEMBERSHIP HOOK: n_voters = 0 makes raft take cfg.peers. Once
     * membership changes exist, the voters at the snapshot index are stored
     * with the snapshot metadata and returned here. */
    snap->n_voters = 0;
    return 0;
}

typedef struct push_ctx {
    raft_sink *sink;
    uint64_t lo, max_bytes, bytes;
} push_ctx;

static int push_one(void *ctx, uint64_t index, uint64_t term, uint8_t type, const void *data,
                    size_t len)
{
    push_ctx *p = ctx;
    /* Stop before the entry that would pass the budget, but always give at
     * least one (as raft's own log does). */
    if (index > p->lo && p->bytes + len + RAFT_ENTRY_HDR_BYTES > p->max_bytes) return 1;
    if (len > UINT32_MAX) return KV_ECORRUPT; /* raft entries are < 4 GB */
    int rc = raft_sink_push(p->sink, index, term, type, len ? data : NULL, (uint32_t)len);
    if (rc != 0) return rc == RAFT_ENOMEM ? KV_ENOMEM : KV_EIO;
    p->bytes += len + RAFT_ENTRY_HDR_BYTES;
    return 0;
}

static int kr_entries(void *ctx, uint64_t lo, uint64_t hi, uint64_t max_bytes, raft_sink *sink)
{
    kvlog *l = ctx;
    if (lo < kvlog_first_index(l)) return RAFT_ECOMPACTED;
    if (hi > kvlog_last_index(l) + 1) return RAFT_EUNAVAILABLE;
    push_ctx p = {.sink = sink, .lo = lo, .max_bytes = max_bytes, .bytes = 0};
    return raft_err(kvlog_range(l, lo, hi, push_one, &p));
}

static int kr_term(void *ctx, uint64_t index, uint64_t *term)
{
    kvlog *l = ctx;
    if (index > kvlog_last_index(l)) return RAFT_EUNAVAILABLE;
    if (index + 1 < kvlog_first_index(l)) return RAFT_ECOMPACTED;
    return raft_err(kvlog_term(l, index, term));
}

static uint64_t kr_first_index(void *ctx)
{
    return kvlog_first_index(ctx);
}

static uint64_t kr_last_index(void *ctx)
{
    return kvlog_last_index(ctx);
}

static int kr_snapshot(void *ctx, raft_snapshot_meta *out)
{
    /* Snapshots are a later issue: "not ready yet" makes raft retry. */
    (void)ctx;
    (void)out;
    return RAFT_ESNAPTEMP;
}

void kvraft_storage(kvlog *l, raft_storage *out)
{
    *out = (raft_storage){.ctx = l,
                          .initial_state = kr_initial_state,
                          .entries = kr_entries,
                          .term = kr_term,
                          .first_index = kr_first_index,
                          .last_index = kr_last_index,
                          .snapshot = kr_snapshot};
}

int kvraft_persist(kvlog *l, const raft_ready_batch *rd)
{
    int rc = kvraft_stage(l, rd);
    /* One write and fsync for all of it. After a failed write the log
     * drops the pending batch in kvlog_sync() and reloads from disk. */
    int src = kvlog_sync(l);
    return rc != 0 ? rc : src;
}

int kvraft_stage(kvlog *l, const raft_ready_batch *rd)
{
    int rc = 0;

    /* Validate first so a bad batch writes nothing. With a snapshot, the
     * log restarts after it and entries (if any) follow it at once. */
    const raft_snapshot_meta *snap = rd->snapshot;
    if (snap && snap->index == 0) return KV_EINVAL;
    if (rd->n_entries) {
        uint64_t lo = rd->entries[0].index;
        if (snap ? lo != snap->index + 1
                 : lo < kvlog_first_index(l) || lo > kvlog_last_index(l) + 1)
            return KV_EINVAL;
        for (size_t i = 0; i < rd->n_entries; i++) {
            const raft_entry *e = &rd->entries[i];
            if (e->index != lo + i || (e->len && !e->data)) return KV_EINVAL;
        }
    }
    /* The state already holds the snapshot (the driver installed it
     * first): the log now starts after it. */
    if (snap) rc = kvlog_reset(l, snap->index, snap->term);
    if (rc == 0 && rd->n_entries) {
        uint64_t lo = rd->entries[0].index;
        /* A conflict (§5.3): the new entries replace the stored tail. */
        if (lo <= kvlog_last_index(l)) rc = kvlog_truncate_suffix(l, lo);
        for (size_t i = 0; rc == 0 && i < rd->n_entries; i++) {
            const raft_entry *e = &rd->entries[i];
            rc = kvlog_append(l, e->index, e->term, e->type, e->data, e->len);
        }
    }
    if (rc == 0 && rd->hs_changed) {
        kvlog_hardstate hs = {rd->hs.term, rd->hs.vote, rd->hs.commit};
        rc = kvlog_set_hardstate(l, &hs);
    }
    return rc;
}
