/* wgl.c -- the search for one key: Wing & Gong's algorithm with Lowe's
 * cache ("Testing for linearizability", 2017, section 3), as Porcupine
 * implements it.
 *
 * The history is a doubly linked list of call and return entries in real
 * time order. The search walks it from the front: at a call it tries to
 * let that operation take effect now (the model must accept it, and the
 * pair (linearized set, state) must be new); then it removes ("lifts") the
 * operation's entries and starts again from the front. Reaching a return
 * means that operation should already have taken effect: undo the last
 * choice and try the next call after it. The history is linearizable when
 * every completed operation has taken effect. An :info operation has a
 * call entry and no return entry: it may take effect any time after its
 * call, or never.
 *
 * The cache key is exact but small. With m the first completed operation
 * (in call order) not yet linearized, every completed operation before m
 * is linearized, and none called after m returned can be (its call comes
 * after m's return in the list). So the linearized set is m, the bits of
 * the completed operations called before m's return, and the bits of the
 * :info operations called before m's return: a few words, not one bit per
 * operation of the key. Its hash is a Zobrist hash updated in O(1). */
#include "lc_internal.h"

#include <stdlib.h>
#include <string.h>

#define TAIL_SHOWN 6     /* linearized operations shown before a failure */
#define PENDING_SHOWN 24 /* pending operations shown at a failure */
#define LOOKAHEAD 64     /* entries after the first return looked at for GETs */
#define LOOKAHEAD_GETS 8
#define DEAD_WORK 50000000 /* :info writes x reads compared in link_twins() */

typedef struct frame {
    uint32_t e; /* the call entry linearized */
    lc_state s; /* state before it */
    uint32_t m;
    uint32_t dominant; /* a GET taken first: see scan_reads() */
    uint32_t rp;
    uint64_t h;
} frame;

typedef struct centry {
    uint64_t hash; /* of the completed ops linearized and the state */
    lc_state state;
    uint32_t m;
    uint64_t off;     /* into words: completed ops' words, then info ops' */
    uint32_t variant; /* next entry of the group, index+1 */
    uint32_t head;    /* first of its group, the one in slots */
} centry;

typedef struct search {
    const lc_history *h;
    const lc_key *key;
    uint32_t n, nok, ninfo;
    uint32_t npruned; /* :info PUTs left out (mark_unobserved) */
    /* per info op (index - nok): the previous info op of its class
     * (link_twins), UINT32_MAX for none */
    uint32_t *twin;
    uint32_t ntwins; /* info ops with an earlier one of their class */
    uint32_t *op;    /* local id -> history op id; [0,nok) completed, then info */
    uint32_t head, tail;
    uint32_t *prev, *next; /* entries: call of i is i, return of i is n+i */
    uint32_t *hi_ok;       /* per completed op: last completed op called before its return */
    uint32_t *hi_info;     /* per completed op: info ops called before its return */
    uint64_t *z;
    uint64_t *lin_ok, *lin_info;
    centry *ce;
    size_t nce, cecap;
    uint64_t *words;
    size_t nw, wcap;
    uint32_t *slots;
    size_t scap, ngroups;
    frame *fr;
    size_t nfr, frcap;
    lc_model *model;
    /* the current configuration */
    lc_state state;
    uint32_t m;       /* first completed op not linearized */
    uint32_t nlin;    /* completed ops linearized */
    uint64_t zh;      /* Zobrist hash of the linearized set */
    uint32_t *resets; /* ops that replace the value (put, del, incr), by call */
    uint32_t nresets;
    uint32_t rp; /* first of resets not linearized */
    /* the deepest failure */
    int have_best;
    uint32_t best_at, best_depth, best_blocked;
    lc_state best_state;
    uint32_t best_tail[TAIL_SHOWN];
    lc_state best_tail_state[TAIL_SHOWN];
    uint32_t nbest_tail;
    uint32_t best_pending[PENDING_SHOWN];
    uint32_t nbest_pending, best_pending_total;
} search;

static void lift(search *S, uint32_t e)
{
    S->next[S->prev[e]] = S->next[e];
    S->prev[S->next[e]] = S->prev[e];
    if (e < S->nok) {
        uint32_t r = S->n + e;
        S->next[S->prev[r]] = S->next[r];
        S->prev[S->next[r]] = S->prev[r];
    }
}

static void unlift(search *S, uint32_t e)
{
    if (e < S->nok) {
        uint32_t r = S->n + e;
        S->next[S->prev[r]] = r;
        S->prev[S->next[r]] = r;
    }
    S->next[S->prev[e]] = e;
    S->prev[S->next[e]] = e;
}

static inline void bset(uint64_t *b, uint32_t i)
{
    b[i >> 6] |= 1ULL << (i & 63);
}

static inline void bclr(uint64_t *b, uint32_t i)
{
    b[i >> 6] &= ~(1ULL << (i & 63));
}

/* First clear bit at or after i, or limit. */
static uint32_t next_zero(const uint64_t *b, uint32_t i, uint32_t limit)
{
    while (i < limit) {
        uint64_t w = ~b[i >> 6] >> (i & 63);
        if (w) {
            i += (uint32_t)__builtin_ctzll(w);
            return i < limit ? i : limit;
        }
        i = (i | 63) + 1;
    }
    return limit;
}

static size_t nwords(const search *S, uint32_t m, size_t *w0)
{
    *w0 = m >> 6;
    return (S->hi_ok[m] >> 6) - *w0 + 1 + (S->hi_info[m] + 63) / 64;
}

static bool same_ok_words(const search *S, const centry *c, uint32_t m)
{
    size_t w0 = m >> 6, nok = (S->hi_ok[m] >> 6) - w0 + 1;
    return memcmp(S->words + c->off, S->lin_ok + w0, nok * 8) == 0;
}

/* Are the info ops linearized in c a subset of those linearized now? */
static bool info_subset(const search *S, const centry *c, uint32_t m)
{
    size_t w0, nw = nwords(S, m, &w0), nok = (S->hi_ok[m] >> 6) - w0 + 1;
    const uint64_t *w = S->words + c->off + nok;
    for (size_t i = 0; i < nw - nok; i++)
        if (w[i] & ~S->lin_info[i]) return false;
    return true;
}

/* Records the current configuration (linearized sets, state; m and zh,
 * the Zobrist hash of the completed ops linearized, follow from them)
 * unless it is dominated: seen already with the same completed ops and
 * state and a subset of its info ops. Such a configuration can do all that
 * ours can, by leaving the extra info ops out (they have no return, so
 * nothing must follow them). Configurations are grouped by (completed ops,
 * state), with their info sets as variants. 1 added, 0 dominated, -1 out
 * of memory. */
static int cache_add(search *S, uint64_t zh, lc_state state, uint32_t m)
{
    uint64_t hash = zh ^ lc_mix64(state);
    if ((S->ngroups + 1) * 2 > S->scap) {
        size_t ncap = S->scap ? S->scap * 2 : 4096;
        uint32_t *ns = lc_malloc(ncap * sizeof *ns);
        if (!ns) return -1;
        memset(ns, 0, ncap * sizeof *ns);
        for (size_t i = 0; i < S->nce; i++) {
            if (!S->ce[i].head) continue;
            size_t j = S->ce[i].hash & (ncap - 1);
            while (ns[j])
                j = (j + 1) & (ncap - 1);
            ns[j] = (uint32_t)i + 1;
        }
        lc_free(S->slots);
        S->slots = ns;
        S->scap = ncap;
    }
    size_t j = hash & (S->scap - 1);
    uint32_t group = 0;
    while (S->slots[j]) {
        const centry *c = &S->ce[S->slots[j] - 1];
        if (c->hash == hash && c->state == state && c->m == m && same_ok_words(S, c, m)) {
            group = S->slots[j];
            break;
        }
        j = (j + 1) & (S->scap - 1);
    }
    for (uint32_t v = group; v; v = S->ce[v - 1].variant)
        if (info_subset(S, &S->ce[v - 1], m)) return 0;
    if (S->nce >= UINT32_MAX - 1) return -1;
    size_t w0, nw = nwords(S, m, &w0), nok = (S->hi_ok[m] >> 6) - w0 + 1;
    if (lc_grow((void **)&S->ce, &S->cecap, S->nce + 1, sizeof *S->ce) != 0 ||
        lc_grow((void **)&S->words, &S->wcap, S->nw + nw, sizeof *S->words) != 0)
        return -1;
    centry *c = &S->ce[S->nce];
    c->hash = hash;
    c->state = state;
    c->m = m;
    c->off = S->nw;
    memcpy(S->words + S->nw, S->lin_ok + w0, nok * 8);
    memcpy(S->words + S->nw + nok, S->lin_info, (nw - nok) * 8);
    S->nw += nw;
    S->nce++;
    if (group) {
        c->head = 0;
        c->variant = S->ce[group - 1].variant;
        S->ce[group - 1].variant = (uint32_t)S->nce;
    } else {
        c->head = 1;
        c->variant = 0;
        S->slots[j] = (uint32_t)S->nce;
        S->ngroups++;
    }
    return 1;
}

static size_t search_bytes(const search *S)
{
    return S->cecap * sizeof *S->ce + S->wcap * 8 + S->scap * 4 + S->frcap * sizeof *S->fr +
           lc_model_bytes(S->model);
}

static const lc_op *op_of(const search *S, uint32_t i)
{
    return &S->h->ops[S->op[i]];
}

static uint32_t ret_of(const search *S, uint32_t i)
{
    return op_of(S, i)->ret;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static const search *sort_s;

static int by_call(const void *a, const void *b)
{
    uint32_t x = op_of(sort_s, *(const uint32_t *)a)->call;
    uint32_t y = op_of(sort_s, *(const uint32_t *)b)->call;
    return x < y ? -1 : x > y;
}

/* Completed ops are called before they return, so binary search. */
static uint32_t count_calls_before(const search *S, uint32_t lo, uint32_t hi, uint32_t t)
{
    uint32_t a = lo, b = hi;
    while (a < b) {
        uint32_t mid = a + (b - a) / 2;
        if (op_of(S, mid)->call < t)
            a = mid + 1;
        else
            b = mid;
    }
    return a - lo;
}

/* Marks in skip the :info PUTs of key k that no completed operation can
 * have observed, and returns how many. Such a PUT X, of value v, can be
 * left out: the history is linearizable with X exactly when it is without
 * it. Without X is one of the choices for X (an :info operation may never
 * take effect). With X: take a linearization L that places X, and let S be
 * the operations after X in L up to the next PUT, DEL or INCR (or to the
 * end). Every operation Z in S returned after X's call (Z.ret < X.call
 * would put Z before X), and the value throughout S starts with v (only
 * APPENDs run in S). Remove X from L: real time still holds (a
 * subsequence), and only the operations in S see a different value. That
 * changes no result when, among the operations that return after X's
 * call (or never),
 *   - no GET read a value starting with v: so no GET is in S;
 *   - no APPEND or DEL had its result checked (a length, a count), and
 *     there is no INCR: so the rest of S is APPENDs that report nothing
 *     and a PUT or DEL that reports nothing, after which the value is the
 *     same as in L.
 * Removing several such PUTs at once is removing them one at a time: the
 * conditions speak of the other operations, which stay. This is what
 * keeps a register written by many timed-out clients (Jepsen's :info
 * writes whose values nobody read) from multiplying the search by 2^k. */
static long mark_unobserved(const lc_history *h, const lc_key *k, uint8_t *skip)
{
    uint64_t checked_last = 0; /* latest return of an op that checks the value, +1 */
    bool any_info_put = false;
    for (size_t i = 0; i < k->nops; i++) {
        const lc_op *op = &h->ops[k->ops[i]];
        bool checks = op->f == LC_INCR || op->f == LC_SADD || op->f == LC_SREM ||
                      op->f == LC_SMEMBERS || op->f == LC_CAS ||
                      ((op->f == LC_APPEND || op->f == LC_DEL) && op->res != LC_RES_NONE);
        if (checks && (uint64_t)op->ret + 1 > checked_last) checked_last = (uint64_t)op->ret + 1;
        any_info_put |= op->info && op->f == LC_PUT;
    }
    if (!any_info_put) return 0;
    long count = 0;
    for (size_t i = 0; i < k->nops; i++) {
        const lc_op *x = &h->ops[k->ops[i]];
        if (!x->info || x->f != LC_PUT || (uint64_t)x->call + 1 <= checked_last) continue;
        bool seen = false;
        for (size_t j = 0; j < k->nops && !seen; j++) {
            const lc_op *g = &h->ops[k->ops[j]];
            seen = g->f == LC_GET && g->ret > x->call && g->res == LC_RES_STR &&
                   g->val_len >= x->arg_len && memcmp(g->val, x->arg, x->arg_len) == 0;
        }
        if (!seen) {
            skip[i] = 1;
            count++;
        }
    }
    return count;
}

/* Interchangeable :info ops (link_twins). An info op's class: */
typedef struct iclass {
    uint32_t kind; /* below */
    uint32_t len;  /* bytes of arg (0 for del, incr) */
    int64_t delta; /* incr */
    const char *arg;
    uint32_t x; /* local id, to keep call order within a class */
} iclass;

enum { K_DEL, K_DEAD_PUT, K_DEAD_APPEND, K_PUT, K_APPEND, K_INCR, K_SADD, K_SREM };

static int cmp_iclass(const void *a, const void *b)
{
    const iclass *x = a, *y = b;
    if (x->kind != y->kind) return x->kind < y->kind ? -1 : 1;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    if (x->delta != y->delta) return x->delta < y->delta ? -1 : 1;
    if (x->kind >= K_PUT && x->len) {
        int c = memcmp(x->arg, y->arg, x->len);
        if (c) return c;
    }
    return (x->x > y->x) - (x->x < y->x);
}

static bool same_iclass(const iclass *x, const iclass *y)
{
    return x->kind == y->kind && x->len == y->len && x->delta == y->delta &&
           (x->kind < K_PUT || !x->len || memcmp(x->arg, y->arg, x->len) == 0);
}

/* Links every :info op to the previous one (in call order) of its class:
 * ops with the same effect on every state, so that once both have been
 * called, a configuration with one of them linearized succeeds exactly
 * when the one with the other instead does (swap them in any
 * continuation: neither has a return to respect). The search then tries
 * only the first pending op of a class (see run()), and k pending ops of
 * one class cost k+1 configurations instead of 2^k.
 *
 * Same effect: DELs (an :info DEL reports nothing); PUTs or APPENDs of the
 * same bytes; INCRs by the same amount; SADDs or SREMs of one member. And,
 * on a key without INCR, a "dead" PUT or APPEND is one of a class by its
 * length alone: a value v is dead when no GET of the key read a value
 * starting with v, so no GET can match v or anything APPENDs make of it,
 * and until the next PUT/DEL the only things that tell two dead values
 * apart are lengths (APPEND's reply) and existence (DEL's), which are
 * equal for equal lengths. A PUT of v is dead when v is; an APPEND of p
 * makes a dead value from any value when p occurs in no value read. */
static int link_twins(search *S)
{
    uint32_t nok = S->nok, ni = S->ninfo;
    S->twin = lc_malloc((ni + 1) * sizeof *S->twin);
    iclass *c = lc_malloc((ni + 1) * sizeof *c);
    if (!S->twin || !c) {
        lc_free(c);
        return -1;
    }
    /* Deciding "dead" compares every :info PUT/APPEND with every value
     * read; past a bound on that work, classes by bytes only (coarser
     * classes cost time, never a wrong verdict). */
    bool incr = false;
    uint64_t writes = 0, reads = 0;
    for (uint32_t i = 0; i < S->n; i++) {
        const lc_op *op = op_of(S, i);
        incr |= op->f == LC_INCR || op->f == LC_CAS; /* a cas reads what a put wrote */
        writes += op->info && (op->f == LC_PUT || op->f == LC_APPEND);
        reads += op->f == LC_GET;
    }
    bool dead_ok = !incr && writes * reads <= DEAD_WORK;
    for (uint32_t j = 0; j < ni; j++) {
        const lc_op *op = op_of(S, nok + j);
        iclass *k = &c[j];
        memset(k, 0, sizeof *k);
        k->x = j;
        k->arg = op->arg;
        switch (op->f) {
        case LC_DEL:
            k->kind = K_DEL;
            break;
        case LC_INCR:
            k->kind = K_INCR;
            k->delta = op->delta;
            break;
        case LC_PUT:
        case LC_APPEND:
        case LC_SADD:
        case LC_SREM:
            k->len = op->arg_len;
            k->kind = op->f == LC_PUT      ? K_PUT
                      : op->f == LC_APPEND ? K_APPEND
                      : op->f == LC_SADD   ? K_SADD
                                           : K_SREM;
            if ((op->f == LC_PUT || op->f == LC_APPEND) && dead_ok && op->arg_len) {
                bool read = false;
                for (uint32_t i = 0; i < S->nok && !read; i++) {
                    const lc_op *g = op_of(S, i);
                    if (g->f != LC_GET || g->res != LC_RES_STR || g->val_len < op->arg_len)
                        continue;
                    read = op->f == LC_PUT
                               ? memcmp(g->val, op->arg, op->arg_len) == 0
                               : memmem(g->val, g->val_len, op->arg, op->arg_len) != NULL;
                }
                if (!read) k->kind = op->f == LC_PUT ? K_DEAD_PUT : K_DEAD_APPEND;
            }
            break;
        default: /* reads are never :info here */
            k->kind = UINT32_MAX;
            k->len = j;
            break;
        }
    }
    qsort(c, ni, sizeof *c, cmp_iclass);
    for (uint32_t j = 0; j < ni; j++) {
        bool twin = j > 0 && same_iclass(&c[j - 1], &c[j]);
        S->twin[c[j].x] = twin ? c[j - 1].x : UINT32_MAX;
        S->ntwins += twin;
    }
    lc_free(c);
    return 0;
}

/* Is info op e (local id) shadowed by an earlier op of its class that is
 * not linearized? That one is pending too (called earlier, not returned)
 * and comes before e in the list, so it was tried in this configuration
 * already. */
static bool shadowed(const search *S, uint32_t e)
{
    if (!S->twin) return false;
    for (uint32_t p = S->twin[e - S->nok]; p != UINT32_MAX; p = S->twin[p])
        if (!((S->lin_info[p >> 6] >> (p & 63)) & 1)) return true;
    return false;
}

static int setup(search *S, int prune)
{
    const lc_key *k = S->key;
    uint8_t *skip = lc_malloc(k->nops + 1);
    if (!skip) return -1;
    memset(skip, 0, k->nops + 1);
    if (prune) S->npruned = (uint32_t)mark_unobserved(S->h, k, skip);
    uint32_t n = 0, nok = 0;
    for (uint32_t i = 0; i < k->nops; i++) {
        n += !skip[i];
        nok += !skip[i] && S->h->ops[k->ops[i]].ret != LC_NEVER;
    }
    S->n = n;
    S->nok = nok;
    S->ninfo = n - nok;
    uint32_t ne = n + nok;
    S->head = 2 * n;
    S->tail = 2 * n + 1;
    size_t wok = nok / 64 + 1, winf = S->ninfo / 64 + 1;
    S->op = lc_malloc((n + 1) * sizeof *S->op);
    S->prev = lc_malloc((2 * (size_t)n + 2) * sizeof *S->prev);
    S->next = lc_malloc((2 * (size_t)n + 2) * sizeof *S->next);
    S->hi_ok = lc_malloc((nok + 1) * sizeof *S->hi_ok);
    S->hi_info = lc_malloc((nok + 1) * sizeof *S->hi_info);
    S->z = lc_malloc((n + 1) * sizeof *S->z);
    S->lin_ok = lc_malloc(wok * 8);
    S->lin_info = lc_malloc(winf * 8);
    uint64_t *ev = lc_malloc((ne + 1) * sizeof *ev);
    S->model = lc_model_new();
    if (!S->op || !S->prev || !S->next || !S->hi_ok || !S->hi_info || !S->z || !S->lin_ok ||
        !S->lin_info || !ev || !S->model) {
        lc_free(ev);
        lc_free(skip);
        return -1;
    }
    memset(S->lin_ok, 0, wok * 8);
    memset(S->lin_info, 0, winf * 8);
    uint32_t a = 0, b = nok;
    for (uint32_t i = 0; i < k->nops; i++) {
        if (skip[i]) continue;
        if (S->h->ops[k->ops[i]].ret != LC_NEVER)
            S->op[a++] = k->ops[i];
        else
            S->op[b++] = k->ops[i];
    }
    lc_free(skip);
    uint64_t seed = 0x6c696e636865636bULL;
    for (uint32_t i = 0; i < n; i++)
        S->z[i] = lc_mix64(seed += 0x9e3779b97f4a7c15ULL);
    /* Real-time order of the entries: positions are distinct. */
    size_t j = 0;
    for (uint32_t i = 0; i < n; i++) {
        ev[j++] = ((uint64_t)op_of(S, i)->call << 32) | i;
        if (i < nok) ev[j++] = ((uint64_t)op_of(S, i)->ret << 32) | (n + i);
    }
    qsort(ev, ne, sizeof *ev, cmp_u64);
    uint32_t last = S->head;
    for (size_t x = 0; x < ne; x++) {
        uint32_t e = (uint32_t)ev[x];
        S->next[last] = e;
        S->prev[e] = last;
        last = e;
    }
    S->next[last] = S->tail;
    S->prev[S->tail] = last;
    lc_free(ev);
    for (uint32_t i = 0; i < nok; i++) {
        uint32_t r = ret_of(S, i);
        S->hi_ok[i] = count_calls_before(S, 0, nok, r) - 1;
        S->hi_info[i] = count_calls_before(S, nok, n, r);
    }
    S->resets = lc_malloc((n + 1) * sizeof *S->resets);
    if (!S->resets) return -1;
    for (uint32_t i = 0; i < n; i++)
        if (op_of(S, i)->f == LC_PUT || op_of(S, i)->f == LC_DEL || op_of(S, i)->f == LC_INCR ||
            op_of(S, i)->f == LC_CAS)
            S->resets[S->nresets++] = i;
    sort_s = S;
    qsort(S->resets, S->nresets, sizeof *S->resets, by_call);
    if (prune && link_twins(S) != 0) return -1;
    S->hi_ok[nok] = nok ? nok - 1 : 0; /* m == nok is never cached */
    S->hi_info[nok] = 0;
    return 0;
}

/* Remembers the configuration when op x (local id) cannot return in time. */
static void record_failure(search *S, uint32_t x, lc_state state, uint32_t nlin)
{
    /* The most telling failure is the one whose stuck operation returns
     * latest: some order gets everything before it through. Among those,
     * the deepest. */
    uint32_t at = ret_of(S, x);
    if (S->have_best && (at < S->best_at || (at == S->best_at && nlin <= S->best_depth))) return;
    S->best_at = at;
    S->have_best = 1;
    S->best_depth = nlin;
    S->best_blocked = x;
    S->best_state = state;
    size_t t = S->nfr < TAIL_SHOWN ? S->nfr : TAIL_SHOWN;
    S->nbest_tail = (uint32_t)t;
    for (size_t i = 0; i < t; i++) {
        size_t f = S->nfr - t + i;
        S->best_tail[i] = S->fr[f].e;
        S->best_tail_state[i] = f + 1 < S->nfr ? S->fr[f + 1].s : state;
    }
    S->nbest_pending = S->best_pending_total = 0;
    for (uint32_t y = S->next[S->head]; y < S->n; y = S->next[y]) {
        if (S->nbest_pending < PENDING_SHOWN) S->best_pending[S->nbest_pending++] = y;
        S->best_pending_total++;
    }
}

void lc_describe_op(lc_strbuf *b, const lc_history *h, uint32_t i, size_t max)
{
    const lc_op *op = &h->ops[i];
    char v[512];
    if (op->info)
        lc_sb_printf(b, "line %u-?", op->call_line);
    else
        lc_sb_printf(b, "line %u-%u", op->call_line, op->ret_line);
    lc_sb_printf(b, "  p%lld %s", (long long)op->process,
                 op->f == LC_INCR && op->delta != 1 ? "incrby" : lc_fn_names[op->f]);
    if (op->f == LC_CAS) {
        lc_quote(v, sizeof v, op->val, op->val_len, max ? max : sizeof v / 8);
        lc_sb_printf(b, " %s ->", v);
    }
    if (op->f == LC_PUT || op->f == LC_APPEND || op->f == LC_SADD || op->f == LC_SREM ||
        op->f == LC_CAS) {
        if (max) {
            lc_quote(v, sizeof v, op->arg, op->arg_len, max);
            lc_sb_printf(b, " %s", v);
        } else {
            size_t cap = (size_t)op->arg_len * 6 + 8;
            char *big = lc_malloc(cap);
            if (big) {
                lc_quote(big, cap, op->arg, op->arg_len, 0);
                lc_sb_printf(b, " %s", big);
                lc_free(big);
            }
        }
    }
    if (op->f == LC_INCR && op->delta != 1) lc_sb_printf(b, " %lld", (long long)op->delta);
    if (op->info) {
        lc_sb_printf(b, " -> ? (info)");
        return;
    }
    switch (op->res) {
    case LC_RES_NONE:
        lc_sb_printf(b, " -> ok");
        break;
    case LC_RES_NIL:
        lc_sb_printf(b, " -> nil");
        break;
    case LC_RES_INT:
        lc_sb_printf(b, " -> %lld", (long long)op->res_int);
        break;
    case LC_RES_STR: {
        size_t cap = (max ? max : op->val_len) * 6 + 48;
        char *big = cap <= sizeof v ? v : lc_malloc(cap);
        if (big) {
            lc_quote(big, cap, op->val, op->val_len, max);
            lc_sb_printf(b, " -> %s", big);
            if (big != v) lc_free(big);
        }
        break;
    }
    }
}

static void render_state(search *S, lc_strbuf *b, lc_state s, size_t max)
{
    char small[256];
    char *buf = small;
    size_t cap = sizeof small;
    if (!max) {
        cap = 1 << 20;
        buf = lc_malloc(cap);
        if (!buf) {
            buf = small;
            cap = sizeof small;
            max = 60;
        }
    }
    lc_model_render(S->model, s, buf, cap, max);
    lc_sb_printf(b, "%s", buf);
    if (buf != small) lc_free(buf);
}

static void explain(search *S, lc_key_result *r, int verbose)
{
    lc_strbuf *b = &r->detail;
    size_t max = verbose ? 0 : 60;
    const lc_key *k = S->key;
    char kn[128];
    if (k->name)
        lc_quote(kn, sizeof kn, k->name, k->len, 40);
    else
        snprintf(kn, sizeof kn, "nil");
    if (r->verdict == LC_NOT_LINEARIZABLE)
        lc_sb_printf(b, "  key %s: not linearizable (%u completed and %u info operations)\n", kn,
                     S->nok, S->ninfo);
    else /* undecided, -v -v: where the search stood */
        lc_sb_printf(b, "    deepest dead end so far (%u completed and %u info operations):\n",
                     S->nok, S->ninfo);
    if (!S->have_best) return;
    lc_sb_printf(b,
                 "    the search got furthest with %u of %u completed operations "
                 "linearized",
                 S->best_depth, S->nok);
    if (S->nbest_tail)
        lc_sb_printf(b, "; it ends with\n");
    else
        lc_sb_printf(b, "\n");
    for (uint32_t i = 0; i < S->nbest_tail; i++) {
        lc_sb_printf(b, "      ");
        lc_describe_op(b, S->h, S->op[S->best_tail[i]], max);
        lc_sb_printf(b, "   => ");
        render_state(S, b, S->best_tail_state[i], max);
        lc_sb_printf(b, "\n");
    }
    lc_sb_printf(b, "    value then: ");
    render_state(S, b, S->best_state, max);
    lc_sb_printf(b, "\n    no order of the operations called so far lets this one return its "
                    "result in time:\n      ");
    lc_describe_op(b, S->h, S->op[S->best_blocked], max);
    lc_sb_printf(b, "\n    pending then (called, not linearized), with the effect each would "
                    "have next:\n");
    uint32_t first = UINT32_MAX, lastl = op_of(S, S->best_blocked)->ret_line;
    for (uint32_t i = 0; i < S->nbest_pending; i++) {
        uint32_t x = S->best_pending[i];
        const lc_op *op = op_of(S, x);
        if (op->call_line < first) first = op->call_line;
        lc_sb_printf(b, "      ");
        lc_describe_op(b, S->h, S->op[x], max);
        lc_state out;
        int rc = lc_model_step(S->model, S->best_state, op, S->op[x], &out);
        if (rc == 1) {
            lc_sb_printf(b, "   => ");
            render_state(S, b, out, max);
            lc_sb_printf(b, "\n");
        } else {
            lc_sb_printf(b, "   impossible here\n");
        }
    }
    if (S->best_pending_total > S->nbest_pending)
        lc_sb_printf(b, "      ... and %u more\n", S->best_pending_total - S->nbest_pending);
    if (first == UINT32_MAX) first = op_of(S, S->best_blocked)->call_line;
    r->win_first = first;
    r->win_last = lastl;
    lc_sb_printf(b, "    window: lines %u-%u\n", first, lastl);
}

static void cleanup(search *S)
{
    lc_free(S->op);
    lc_free(S->prev);
    lc_free(S->next);
    lc_free(S->hi_ok);
    lc_free(S->hi_info);
    lc_free(S->z);
    lc_free(S->lin_ok);
    lc_free(S->lin_info);
    lc_free(S->ce);
    lc_free(S->words);
    lc_free(S->slots);
    lc_free(S->fr);
    lc_free(S->resets);
    lc_free(S->twin);
    lc_model_free(S->model);
}

static bool is_lin(const search *S, uint32_t x)
{
    return x < S->nok ? (S->lin_ok[x >> 6] >> (x & 63)) & 1
                      : (S->lin_info[(x - S->nok) >> 6] >> ((x - S->nok) & 63)) & 1;
}

/* Tries to let call entry e take effect in the current configuration.
 * Returns 2 when that completes a linearization, 1 when it did (pushed),
 * 0 when it cannot or the configuration it leads to was seen, -1 when out
 * of memory. */
static int try_op(search *S, uint32_t e, uint8_t dominant)
{
    const lc_op *op = op_of(S, e);
    lc_state ns;
    int rc = lc_model_step(S->model, S->state, op, S->op[e], &ns);
    if (rc != 1) return rc;
    bool ok = e < S->nok;
    uint32_t nm = S->m;
    if (ok) {
        if (S->nlin + 1 == S->nok) return 2;
        bset(S->lin_ok, e);
        if (e == S->m) nm = next_zero(S->lin_ok, S->m + 1, S->nok);
    } else {
        bset(S->lin_info, e - S->nok);
    }
    int added = cache_add(S, ok ? S->zh ^ S->z[e] : S->zh, ns, nm);
    if (added == 1 && lc_grow((void **)&S->fr, &S->frcap, S->nfr + 1, sizeof *S->fr) != 0)
        added = -1;
    if (added != 1) {
        if (ok)
            bclr(S->lin_ok, e);
        else
            bclr(S->lin_info, e - S->nok);
        return added;
    }
    S->fr[S->nfr++] = (frame){e, S->state, S->m, dominant, S->rp, S->zh};
    S->state = ns;
    S->m = nm;
    while (S->rp < S->nresets && is_lin(S, S->resets[S->rp]))
        S->rp++;
    if (ok) S->zh ^= S->z[e];
    S->nlin += ok;
    lift(S, e);
    return 1;
}

/* Undoes the last choice; returns its frame. */
static frame pop(search *S)
{
    frame f = S->fr[--S->nfr];
    if (f.e < S->nok) {
        bclr(S->lin_ok, f.e);
        S->nlin--;
    } else {
        bclr(S->lin_info, f.e - S->nok);
    }
    S->state = f.s;
    S->m = f.m;
    S->rp = f.rp;
    S->zh = f.h;
    unlift(S, f.e);
    return f;
}

/* Can pending GET g (its value not the current one) still read its value?
 * Until g returns, only APPENDs can follow unless an op that replaces the
 * value (put, del, incr) is pending or still to be called, and APPENDs only
 * extend. So g is dead when no such op is left before its return, or all
 * that are left are PUTs whose values cannot start g's value, and the
 * current value does not start it either. A dead GET fails the
 * configuration. Conservative: when unsure, alive. */
static int read_dead(search *S, uint32_t g)
{
    const lc_op *op = op_of(S, g);
    uint32_t ret = op->ret, looked = 0;
    for (uint32_t j = S->rp; j < S->nresets; j++) {
        uint32_t x = S->resets[j];
        const lc_op *w = op_of(S, x);
        if (w->call > ret) break;
        if (is_lin(S, x)) continue;
        if (w->f != LC_PUT || ++looked > 64) return 0;
        if (op->res == LC_RES_STR && w->arg_len <= op->val_len &&
            memcmp(w->arg, op->val, w->arg_len) == 0)
            return 0;
    }
    int rc = lc_model_is_prefix(S->model, S->state, op, S->op[g]);
    return rc < 0 ? -1 : !rc;
}

/* Looks at the GETs of the configuration. Returns 1 with *g when a pending
 * one can return its value now: the configuration succeeds exactly when
 * the one with that GET taken first does. (A GET changes nothing; moving
 * it earlier, to a moment it was pending and the value was the same, keeps
 * every later state and every real-time constraint: all operations that
 * returned before its call are linearized already.) Returns 2 when a GET,
 * pending or among the next ones to be called, is dead (read_dead), 0
 * otherwise, -1 when out of memory. */
static int scan_reads(search *S, uint32_t *g)
{
    uint32_t x = S->next[S->head], seen = 0, gets = 0;
    for (; x < S->n; x = S->next[x]) {
        const lc_op *op = op_of(S, x);
        if (!lc_is_read(op->f)) continue;
        lc_state ns;
        int rc = lc_model_step(S->model, S->state, op, S->op[x], &ns);
        if (rc != 0) {
            *g = x;
            return rc;
        }
        if (op->f != LC_GET) continue;
        rc = read_dead(S, x);
        if (rc != 0) {
            *g = x;
            return rc < 0 ? -1 : 2;
        }
    }
    /* Past the first return: GETs not called yet. */
    for (; x != S->tail && seen < LOOKAHEAD && gets < LOOKAHEAD_GETS; x = S->next[x], seen++) {
        if (x >= S->n || op_of(S, x)->f != LC_GET) continue;
        gets++;
        int rc = read_dead(S, x);
        if (rc != 0) {
            *g = x;
            return rc < 0 ? -1 : 2;
        }
    }
    return 0;
}

static lc_verdict run(search *S, lc_key_result *r, double deadline, size_t max_memory)
{
    unsigned long iter = 0;
    uint32_t e;
    int rc, pass;
enter: /* a new configuration */
    rc = scan_reads(S, &e);
    if (rc < 0) return LC_UNKNOWN;
    if (rc == 2) {
        record_failure(S, e, S->state, S->nlin);
        goto fail;
    }
    if (rc == 1) {
        rc = try_op(S, e, 1);
        if (rc < 0) return LC_UNKNOWN;
        if (rc == 2) return LC_LINEARIZABLE;
        if (rc == 1) goto enter;
        goto fail; /* seen already, so this configuration fails too */
    }
    e = S->next[S->head];
    pass = 1;
    for (;;) {
        if ((++iter & 4095) == 0) {
            if (deadline > 0 && lc_now() > deadline) {
                r->why = "time budget exceeded";
                return LC_UNKNOWN;
            }
            if (max_memory && search_bytes(S) > max_memory) {
                r->why = "memory budget exceeded";
                return LC_UNKNOWN;
            }
        }
        if (e < S->n) {
            /* No pending GET fits this configuration (scan_reads). Info
             * ops come second (pass 2), so that configurations without them
             * are seen first and dominate those with (cache_add). */
            if (!lc_is_read(op_of(S, e)->f) && (e < S->nok) == (pass == 1) &&
                (pass == 1 || !shadowed(S, e))) {
                rc = try_op(S, e, 0);
                if (rc < 0) return LC_UNKNOWN;
                if (rc == 2) return LC_LINEARIZABLE;
                if (rc == 1) goto enter;
            }
            e = S->next[e];
            continue;
        }
        /* A return entry, the first one (the tail cannot be reached while
         * a completed operation is left): that operation cannot be
         * linearized in time. */
        if (pass == 1 && S->ninfo) {
            pass = 2;
            e = S->next[S->head];
            continue;
        }
        record_failure(S, e - S->n, S->state, S->nlin);
    fail:
        for (;;) {
            if (S->nfr == 0) return LC_NOT_LINEARIZABLE;
            frame f = pop(S);
            if (!f.dominant) {
                e = S->next[f.e];
                pass = f.e < S->nok ? 1 : 2;
                break;
            }
        }
    }
}

void lc_check_key(const lc_history *h, size_t k, double deadline, size_t max_memory, int verbose,
                  int prune, lc_key_result *r)
{
    search S;
    memset(&S, 0, sizeof S);
    memset(r, 0, sizeof *r);
    S.h = h;
    S.key = &h->keys[k];
    double t0 = lc_now();
    r->verdict = LC_UNKNOWN;
    r->why = "out of memory";
    if (setup(&S, prune) != 0) goto done;
    if (S.nok == 0) {
        r->verdict = LC_LINEARIZABLE;
        goto done;
    }
    S.state = LC_MISSING;
    r->verdict = run(&S, r, deadline, max_memory);
    if (r->verdict == LC_NOT_LINEARIZABLE || (r->verdict == LC_UNKNOWN && verbose > 1))
        explain(&S, r, verbose);
done:
    if (r->verdict != LC_UNKNOWN) r->why = NULL;
    r->states = S.nce;
    r->pruned = S.npruned;
    r->twins = S.ntwins;
    r->seconds = lc_now() - t0;
    cleanup(&S);
}
