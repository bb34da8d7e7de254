/* log.c -- RaftLog: durable entries (through raft_storage), memory entries
 * (unstable, plus a cache of durable ones until applied), the pending
 * snapshot, and the committed/applied/stabled pointers (paper Figure 2,
 * §5.3, §7). */
#include "raft/raft_int.h"

int log_init(rlog *l, const raft_alloc *al, const raft_storage *st, uint64_t commit,
             uint64_t applied)
{
    memset(l, 0, sizeof(*l));
    l->al = al;
    l->st = *st;
    uint64_t first = st->first_index(st->ctx);
    uint64_t last = st->last_index(st->ctx);
    if (commit < first - 1) commit = first - 1; /* a snapshot is committed */
    if (commit > last) return RAFT_EINVAL;
    if (applied < first - 1) applied = first - 1;
    if (applied > commit) return RAFT_EINVAL;
    l->stabled = last;
    l->durable = last; /* storage holds it: it is on disk */
    l->mem_first = last + 1;
    l->committed = commit;
    l->applied = applied;
    return 0;
}

static void free_range(rlog *l, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        l->mem_bytes -= l->ents[i].len;
        ra_free(l->al, (void *)l->ents[i].data);
    }
}

void log_destroy(rlog *l)
{
    free_range(l, 0, l->n);
    ra_free(l->al, l->ents);
    l->ents = NULL;
    l->n = l->cap = 0;
}

uint64_t log_first_index(rlog *l)
{
    if (l->has_pending_snap) return l->pending_snap.index + 1;
    return l->st.first_index(l->st.ctx);
}

uint64_t log_last_index(rlog *l)
{
    if (l->n) return l->mem_first + l->n - 1;
    if (l->has_pending_snap) return l->pending_snap.index;
    return l->stabled;
}

int log_term(rlog *l, uint64_t i, uint64_t *t)
{
    raft_entry *e = log_mem(l, i);
    if (e) {
        *t = e->term;
        return 0;
    }
    if (l->has_pending_snap) {
        if (i == l->pending_snap.index) {
            *t = l->pending_snap.term;
            return 0;
        }
        if (i < l->pending_snap.index) return RAFT_ECOMPACTED;
    }
    if (i > log_last_index(l)) return RAFT_EUNAVAILABLE;
    int rc = l->st.term(l->st.ctx, i, t);
    if (rc && rc != RAFT_ECOMPACTED && rc != RAFT_EUNAVAILABLE) l->err = rc;
    return rc;
}

uint64_t log_term_or0(rlog *l, uint64_t i)
{
    uint64_t t = 0;
    if (log_term(l, i, &t)) return 0;
    return t;
}

uint64_t log_last_term(rlog *l)
{
    return log_term_or0(l, log_last_index(l));
}

bool log_match_term(rlog *l, uint64_t i, uint64_t t)
{
    uint64_t x;
    if (log_term(l, i, &x)) return false;
    return x == t;
}

bool log_is_up_to_date(rlog *l, uint64_t last_index, uint64_t last_term)
{
#if defined(RAFT_TEST_BUG) && RAFT_TEST_BUG == 1
    /* Deliberately broken for the checker's own test: any log wins. */
    (void)l, (void)last_index, (void)last_term;
    return true;
#else
    uint64_t lt = log_last_term(l);
    return last_term > lt || (last_term == lt && last_index >= log_last_index(l));
#endif
}

static int reserve(rlog *l, size_t extra)
{
    if (l->n + extra <= l->cap) return 0;
    size_t nc = l->cap ? l->cap : 256;
    while (nc < l->n + extra)
        nc *= 2;
    raft_entry *v = ra_realloc(l->al, l->ents, nc * sizeof(*v));
    if (!v) return RAFT_ENOMEM;
    l->ents = v;
    l->cap = nc;
    return 0;
}

/* Cuts memory so that the next appended entry gets index `after`. */
static void truncate_for(rlog *l, uint64_t after)
{
    if (after == log_last_index(l) + 1 && (l->n || after == l->mem_first)) return;
    if (l->n && after > l->mem_first) {
        size_t keep = (size_t)(after - l->mem_first);
        if (keep < l->n) {
            free_range(l, keep, l->n);
            l->n = keep;
        }
    } else {
        free_range(l, 0, l->n);
        l->n = 0;
        l->mem_first = after;
    }
    if (l->stabled > after - 1) l->stabled = after - 1;
    if (l->durable > after - 1) l->durable = after - 1;
}

int log_append(rlog *l, const raft_entry *ents, size_t n)
{
    if (n == 0) return 0;
    truncate_for(l, ents[0].index);
    if (reserve(l, n)) return RAFT_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        raft_entry e = ents[i];
        if (e.len) {
            uint8_t *p = ra_malloc(l->al, e.len);
            if (!p) return RAFT_ENOMEM; /* the entries so far stay: a valid prefix */
            memcpy(p, ents[i].data, e.len);
            e.data = p;
        } else {
            e.data = NULL;
        }
        l->ents[l->n++] = e;
        l->mem_bytes += e.len;
    }
    return 0;
}

int log_append_owned(rlog *l, uint64_t term, uint8_t type, uint8_t *data, uint32_t len)
{
    uint64_t idx = log_last_index(l) + 1;
    truncate_for(l, idx);
    if (reserve(l, 1)) return RAFT_ENOMEM;
    l->ents[l->n++] =
        (raft_entry){.index = idx, .term = term, .type = type, .len = len, .data = data};
    l->mem_bytes += len;
    return 0;
}

/* First index in ents that is not already in the log with the same term. */
static uint64_t find_conflict(rlog *l, const raft_entry *ents, size_t n, size_t *pos)
{
    for (size_t i = 0; i < n; i++) {
        if (!log_match_term(l, ents[i].index, ents[i].term)) {
            *pos = i;
            return ents[i].index;
        }
    }
    *pos = n;
    return 0;
}

int log_maybe_append(rlog *l, uint64_t prev_i, uint64_t prev_t, uint64_t commit,
                     const raft_entry *ents, size_t n, uint64_t *last_new)
{
    /* Untrusted: the entries must follow prev_i one by one, or the log
     * would get a gap or entries stored under the wrong index. */
    if (prev_i > RAFT_INDEX_MAX || n > RAFT_INDEX_MAX - prev_i) return 2;
    for (size_t i = 0; i < n; i++)
        if (ents[i].index != prev_i + 1 + i) return 2;
    if (!log_match_term(l, prev_i, prev_t)) return 0;
    uint64_t ln = prev_i + n;
    size_t pos;
    uint64_t ci = find_conflict(l, ents, n, &pos);
    if (ci) {
        /* Figure 2 receiver rule 3: delete the conflicting suffix. A
         * committed entry never conflicts (Log Matching, §5.3). */
        if (ci <= l->committed) return 2;
        int rc = log_append(l, ents + pos, n - pos);
        if (rc) return rc;
    }
    /* Rule 5: commit = min(leaderCommit, index of last new entry). */
    log_commit_to(l, commit < ln ? commit : ln);
    *last_new = ln;
    return 1;
}

void log_commit_to(rlog *l, uint64_t c)
{
    if (c > l->committed) {
        uint64_t last = log_last_index(l);
        l->committed = c > last ? last : c;
    }
}

bool log_maybe_commit(rlog *l, uint64_t max_index, uint64_t term)
{
    if (max_index <= l->committed) return false;
#if defined(RAFT_TEST_BUG) && RAFT_TEST_BUG == 2
    (void)term; /* deliberately broken: commits old-term entries by counting */
#else
    /* §5.4.2 / Figure 8: only entries of the current term commit by counting. */
    if (log_term_or0(l, max_index) != term) return false;
#endif
    log_commit_to(l, max_index);
    return true;
}

uint64_t log_find_conflict_by_term(rlog *l, uint64_t index, uint64_t term, uint64_t *found_term)
{
    uint64_t first = log_first_index(l);
    for (;;) {
        uint64_t t;
        if (log_term(l, index, &t)) {
            *found_term = 0;
            return index;
        }
        if (t <= term || index < first) {
            *found_term = t;
            return index;
        }
        index--;
    }
}

int log_slice(rlog *l, uint64_t lo, uint64_t hi, uint64_t max_bytes, arena *ar, entvec *out)
{
    out->n = 0;
    if (lo >= hi) return 0;
    if (lo < log_first_index(l)) return RAFT_ECOMPACTED;
    if (hi > log_last_index(l) + 1) return RAFT_EUNAVAILABLE;
    uint64_t bytes = 0;
    uint64_t mem_lo = l->n ? l->mem_first : log_last_index(l) + 1;
    if (lo < mem_lo) {
        uint64_t shi = hi < mem_lo ? hi : mem_lo;
        raft_sink s = {.al = l->al, .ar = ar, .vec = out, .err = 0};
        int rc = l->st.entries(l->st.ctx, lo, shi, max_bytes, &s);
        if (!rc) rc = s.err;
        if (rc) {
            if (rc != RAFT_ECOMPACTED && rc != RAFT_EUNAVAILABLE) l->err = rc;
            return rc;
        }
        for (size_t i = 0; i < out->n; i++)
            bytes += out->v[i].len + RAFT_ENTRY_HDR_BYTES;
        if (out->n < shi - lo) return 0; /* storage stopped at max_bytes */
        lo = shi;
    }
    for (uint64_t i = lo; i < hi; i++) {
        raft_entry *e = log_mem(l, i);
        if (out->n && bytes + e->len + RAFT_ENTRY_HDR_BYTES > max_bytes) break;
        if (entvec_push(l->al, out, e)) return RAFT_ENOMEM;
        bytes += e->len + RAFT_ENTRY_HDR_BYTES;
    }
    return 0;
}

int log_restore(rlog *l, const raft_snapshot_meta *s)
{
    free_range(l, 0, l->n);
    l->n = 0;
    l->mem_first = s->index + 1;
    l->has_pending_snap = true;
    l->pending_snap = *s;
    l->stabled = s->index; /* entries above are unstable; the snapshot is pending */
    l->durable = s->index; /* the snapshot is installed durably before raft_advance() */
    l->committed = s->index;
    return 0;
}

void log_stable_to(rlog *l, uint64_t i, uint64_t t)
{
    if (i <= l->stabled) return;
    if (!log_match_term(l, i, t)) return; /* overwritten meanwhile */
    l->stabled = i;
}

void log_stable_snap_to(rlog *l, uint64_t i)
{
    if (l->has_pending_snap && l->pending_snap.index == i) l->has_pending_snap = false;
}

void log_applied_to(rlog *l, uint64_t i)
{
    if (i > l->applied && i <= l->committed) l->applied = i;
}

void log_trim(rlog *l, uint64_t max_bytes)
{
    uint64_t upto = l->stabled < l->applied ? l->stabled : l->applied;
    if (!l->n) return;
    size_t k = upto < l->mem_first ? 0 : (size_t)(upto - l->mem_first + 1);
    if (k > l->n) k = l->n;
    /* a backlog of durable, committed entries not applied yet (an
     * application that applies slower than the log grows) stays in
     * storage, not here; entries not committed stay (a leader's
     * uncommitted-bytes count looks them up when they commit) */
    if (max_bytes && l->mem_bytes > max_bytes) {
        uint64_t bytes = l->mem_bytes;
        uint64_t last = l->stabled < l->committed ? l->stabled : l->committed;
        for (size_t i = 0; i < k; i++)
            bytes -= l->ents[i].len;
        while (k < l->n && bytes > max_bytes && l->mem_first + k <= last)
            bytes -= l->ents[k++].len;
    }
    if (!k) return;
    free_range(l, 0, k);
    /* memmove is O(remaining); remaining is the unapplied tail, which is
     * small in steady state, and trimming is once per Ready. */
    memmove(l->ents, l->ents + k, (l->n - k) * sizeof(raft_entry));
    l->n -= k;
    l->mem_first += k;
    /* A burst of unapplied entries doubled the array; once applied, it
     * shrinks back, keeping room for twice what remains (so an array that
     * refills soon is not reallocated on every trim). */
    if (l->cap > LOG_RETAIN_ENTRIES && l->n < l->cap / 4) {
        size_t nc = l->cap;
        while (nc / 2 >= LOG_RETAIN_ENTRIES && l->n < nc / 4)
            nc /= 2;
        raft_entry *v = ra_realloc(l->al, l->ents, nc * sizeof(*v));
        if (v) { /* a failed shrink keeps the larger array: nothing lost */
            l->ents = v;
            l->cap = nc;
        }
    }
}
