/* memstore.c -- see memstore.h. */
#include <stdlib.h>
#include <string.h>

#include "tests/raft/memstore.h"

static int ms_initial(void *ctx, raft_hard_state *hs, raft_snapshot_meta *snap)
{
    memstore *s = ctx;
    *hs = s->hs;
    *snap = s->snap;
    return 0;
}

static uint64_t ms_first(void *ctx)
{
    return ((memstore *)ctx)->snap.index + 1;
}

uint64_t memstore_last(const memstore *s)
{
    return s->snap.index + s->n;
}

static uint64_t ms_last(void *ctx)
{
    return memstore_last(ctx);
}

static int ms_term(void *ctx, uint64_t i, uint64_t *t)
{
    memstore *s = ctx;
    if (i < s->snap.index) return RAFT_ECOMPACTED;
    if (i > memstore_last(s)) return RAFT_EUNAVAILABLE;
    *t = i == s->snap.index ? s->snap.term : s->ents[i - s->snap.index - 1].term;
    return 0;
}

static int ms_entries(void *ctx, uint64_t lo, uint64_t hi, uint64_t max_bytes, raft_sink *sink)
{
    memstore *s = ctx;
    if (lo <= s->snap.index) return RAFT_ECOMPACTED;
    if (hi > memstore_last(s) + 1) return RAFT_EUNAVAILABLE;
    uint64_t bytes = 0;
    for (uint64_t i = lo; i < hi; i++) {
        const ms_ent *e = &s->ents[i - s->snap.index - 1];
        if (i > lo && bytes + e->len + RAFT_ENTRY_HDR_BYTES > max_bytes) break;
        int rc =
            raft_sink_push(sink, i, e->term, e->type, e->len ? s->data + e->off : NULL, e->len);
        if (rc) return rc;
        bytes += e->len + RAFT_ENTRY_HDR_BYTES;
    }
    return 0;
}

static int ms_snapshot(void *ctx, raft_snapshot_meta *out)
{
    memstore *s = ctx;
    if (s->fail_snapshot) return RAFT_ESNAPTEMP;
    *out = s->snap;
    return 0;
}

void memstore_init(memstore *s, const uint64_t *voters, uint32_t n_voters)
{
    memset(s, 0, sizeof(*s));
    s->snap.n_voters = n_voters;
    if (n_voters) memcpy(s->snap.voters, voters, n_voters * sizeof(uint64_t));
    s->iface = (raft_storage){.ctx = s,
                              .initial_state = ms_initial,
                              .entries = ms_entries,
                              .term = ms_term,
                              .first_index = ms_first,
                              .last_index = ms_last,
                              .snapshot = ms_snapshot};
}

void memstore_free(memstore *s)
{
    free(s->ents);
    free(s->data);
    s->ents = NULL;
    s->data = NULL;
    s->n = s->cap = s->dlen = s->dcap = 0;
}

int memstore_append(memstore *s, const raft_entry *ents, size_t n)
{
    if (n == 0) return 0;
    uint64_t first = ents[0].index;
    if (first <= s->snap.index || first > memstore_last(s) + 1) return RAFT_EINVAL;
    uint64_t keep = first - s->snap.index - 1;
    if (keep < s->n) {
        s->n = keep;
        s->dlen = keep ? s->ents[keep - 1].off + s->ents[keep - 1].len : 0;
    }
    if (s->n + n > s->cap) {
        uint64_t nc = s->cap ? s->cap : 1024;
        while (nc < s->n + n)
            nc *= 2;
        ms_ent *v = realloc(s->ents, nc * sizeof(*v));
        if (!v) return RAFT_ENOMEM;
        s->ents = v;
        s->cap = nc;
    }
    uint64_t add = 0;
    for (size_t i = 0; i < n; i++)
        add += ents[i].len;
    if (s->dlen + add > s->dcap) {
        uint64_t nc = s->dcap ? s->dcap : 65536;
        while (nc < s->dlen + add)
            nc *= 2;
        uint8_t *d = realloc(s->data, nc);
        if (!d) return RAFT_ENOMEM;
        s->data = d;
        s->dcap = nc;
    }
    for (size_t i = 0; i < n; i++) {
        ms_ent *e = &s->ents[s->n++];
        e->term = ents[i].term;
        e->type = ents[i].type;
        e->len = ents[i].len;
        e->off = s->dlen;
        if (e->len) memcpy(s->data + s->dlen, ents[i].data, e->len);
        s->dlen += e->len;
    }
    return 0;
}

void memstore_set_hs(memstore *s, const raft_hard_state *hs)
{
    s->hs = *hs;
}

void memstore_apply_snapshot(memstore *s, const raft_snapshot_meta *m)
{
    s->snap = *m;
    s->n = 0;
    s->dlen = 0;
    if (s->hs.commit < m->index) s->hs.commit = m->index;
}

int memstore_compact_conf(memstore *s, uint64_t index, const void *ref, uint32_t ref_len,
                          const raft_conf *conf)
{
    if (index <= s->snap.index) return 0;
    int rc = memstore_compact(s, index, ref, ref_len);
    if (rc || !conf) return rc;
    s->snap.n_voters = conf->n_voters;
    s->snap.n_learners = conf->n_learners;
    memcpy(s->snap.voters, conf->voters, sizeof(conf->voters));
    memcpy(s->snap.learners, conf->learners, sizeof(conf->learners));
    return 0;
}

int memstore_compact(memstore *s, uint64_t index, const void *ref, uint32_t ref_len)
{
    if (index <= s->snap.index) return 0;
    if (index > memstore_last(s) || ref_len > RAFT_SNAP_REF_MAX) return RAFT_EINVAL;
    uint64_t k = index - s->snap.index; /* entries to drop */
    s->snap.term = s->ents[k - 1].term;
    s->snap.index = index;
    s->snap.ref_len = ref_len;
    if (ref_len) memcpy(s->snap.ref, ref, ref_len);
    uint64_t doff = k < s->n ? s->ents[k].off : s->dlen;
    memmove(s->ents, s->ents + k, (s->n - k) * sizeof(ms_ent));
    s->n -= k;
    if (s->dlen > doff) memmove(s->data, s->data + doff, s->dlen - doff);
    s->dlen -= doff;
    for (uint64_t i = 0; i < s->n; i++)
        s->ents[i].off -= doff;
    return 0;
}

int memstore_copy(memstore *dst, const memstore *src)
{
    *dst = *src;
    dst->ents = malloc(src->cap ? src->cap * sizeof(ms_ent) : 1);
    dst->data = malloc(src->dcap ? src->dcap : 1);
    if (!dst->ents || !dst->data) return RAFT_ENOMEM;
    if (src->n) memcpy(dst->ents, src->ents, src->n * sizeof(ms_ent));
    if (src->dlen) memcpy(dst->data, src->data, src->dlen);
    dst->iface.ctx = dst;
    return 0;
}
