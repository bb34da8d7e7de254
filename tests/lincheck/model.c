/* model.c -- one Redis key as a sequential specification: missing or a
 * byte string, with GET, SET, DEL, APPEND, INCR under Redis's rules and a
 * compare-and-set (a Lua script: SET to new when GET equals old); or a
 * set, with SADD, SREM, SMEMBERS. A set is kept as a string: its members
 * sorted bytewise and joined by single spaces (members have no spaces, the
 * reader checks), so it is interned like a string value and an SMEMBERS
 * step is a GET step; the empty set is the missing key, as in Redis.
 *
 * States are interned so the search can compare them by id. Values grow by
 * APPEND, so a state is stored as a rope: a root value, or a parent state
 * plus the appended piece (borrowed from the history). Its hash (a
 * polynomial hash, see lc_internal.h) follows from the parent's in O(1);
 * contents are compared only when hash and length match, so a collision
 * costs time, never a wrong answer. When a state's bytes are found equal to
 * a stable buffer (a value a GET returned), that buffer becomes the state's
 * flat copy and later comparisons are one memcmp. Steps are memoised per
 * (state, operation). */
#include "lc_internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define NO_PARENT UINT32_MAX

typedef struct node {
    uint64_t hash;
    uint64_t len;
    uint32_t parent; /* NO_PARENT for a root */
    uint32_t piece_len;
    const char *piece; /* root: the whole value */
    const char *flat;  /* the whole value when known; roots always */
    uint32_t next;     /* intern chain, index+1 */
} node;

typedef struct memo {
    uint64_t key; /* state << 32 | op, +1; 0 is empty */
    uint32_t out;
    uint32_t ok;
} memo;

struct lc_model {
    node *nodes;
    size_t n, cap;
    uint32_t *buckets; /* chain heads, index+1 */
    size_t nb;
    memo *memo;
    size_t mcap, mcount;
    lc_arena *arena; /* INCR results */
    char *tmp;
    size_t tcap;
};

static size_t bucket_of(const lc_model *m, uint64_t hash, uint64_t len)
{
    return lc_mix64(hash ^ (len * 0x9e3779b97f4a7c15ULL)) & (m->nb - 1);
}

static int rehash(lc_model *m)
{
    size_t nb = m->nb ? m->nb * 2 : 1024;
    uint32_t *b = lc_malloc(nb * sizeof *b);
    if (!b) return -1;
    memset(b, 0, nb * sizeof *b);
    lc_free(m->buckets);
    m->buckets = b;
    m->nb = nb;
    for (size_t i = 1; i < m->n; i++) { /* node 0, missing, is not interned */
        size_t j = bucket_of(m, m->nodes[i].hash, m->nodes[i].len);
        m->nodes[i].next = b[j];
        b[j] = (uint32_t)i + 1;
    }
    return 0;
}

/* Adds a node (not yet interned); returns its id or -1. */
static long add_node(lc_model *m, const node *nd)
{
    if (m->n >= UINT32_MAX - 1) return -1;
    if (lc_grow((void **)&m->nodes, &m->cap, m->n + 1, sizeof *m->nodes) != 0) return -1;
    m->nodes[m->n] = *nd;
    m->n++;
    if (m->n > m->nb) {
        if (rehash(m) != 0) {
            m->n--;
            return -1;
        }
    } else if (m->n > 1) { /* node 0, missing, is never looked up */
        size_t j = bucket_of(m, nd->hash, nd->len);
        m->nodes[m->n - 1].next = m->buckets[j];
        m->buckets[j] = (uint32_t)m->n;
    }
    return (long)m->n - 1;
}

lc_model *lc_model_new(void)
{
    lc_model *m = lc_malloc(sizeof *m);
    if (!m) return NULL;
    memset(m, 0, sizeof *m);
    m->arena = lc_arena_new();
    node missing = {0, 0, NO_PARENT, 0, "", "", 0};
    node empty = {0, 0, NO_PARENT, 0, "", "", 0};
    if (!m->arena || rehash(m) != 0 || add_node(m, &missing) != 0 || add_node(m, &empty) != 1) {
        lc_model_free(m);
        return NULL;
    }
    return m;
}

void lc_model_free(lc_model *m)
{
    if (!m) return;
    lc_free(m->nodes);
    lc_free(m->buckets);
    lc_free(m->memo);
    lc_free(m->tmp);
    lc_arena_free(m->arena);
    lc_free(m);
}

size_t lc_model_bytes(const lc_model *m)
{
    return m->cap * sizeof *m->nodes + m->nb * sizeof *m->buckets + m->mcap * sizeof *m->memo +
           lc_arena_bytes(m->arena) + m->tcap;
}

/* Is state s exactly the n bytes at p? When p outlives the model (stable),
 * the nodes walked get p as their flat copy. */
static bool eq_bytes(lc_model *m, lc_state s, const char *p, uint64_t n, bool stable)
{
    node *nd = &m->nodes[s];
    if (nd->len != n) return false;
    uint64_t end = n;
    lc_state cur = s;
    for (;;) {
        node *c = &m->nodes[cur];
        if (c->flat) {
            if (c->flat != p && memcmp(c->flat, p, end) != 0) return false;
            break;
        }
        if (memcmp(c->piece, p + end - c->piece_len, c->piece_len) != 0) return false;
        end -= c->piece_len;
        cur = c->parent;
    }
    if (stable) {
        for (cur = s; !m->nodes[cur].flat; cur = m->nodes[cur].parent)
            m->nodes[cur].flat = p;
    }
    return true;
}

/* The bytes of s, in m->tmp (valid until the next call). NULL when out of
 * memory. */
static const char *materialize(lc_model *m, lc_state s)
{
    node *nd = &m->nodes[s];
    if (nd->flat) return nd->flat;
    if (lc_grow((void **)&m->tmp, &m->tcap, nd->len + 1, 1) != 0) return NULL;
    uint64_t end = nd->len;
    for (lc_state cur = s;;) {
        node *c = &m->nodes[cur];
        if (c->flat) {
            memcpy(m->tmp, c->flat, end);
            break;
        }
        end -= c->piece_len;
        memcpy(m->tmp + end, c->piece, c->piece_len);
        cur = c->parent;
    }
    m->tmp[nd->len] = 0;
    return m->tmp;
}

/* The state whose value is the n bytes at p (hash h). stable: p outlives
 * the model; otherwise it is copied. Returns the id or -1. */
static long intern_root(lc_model *m, const char *p, uint64_t n, uint64_t h, bool stable)
{
    if (n == 0) return LC_EMPTY;
    for (uint32_t j = m->buckets[bucket_of(m, h, n)]; j; j = m->nodes[j - 1].next) {
        node *c = &m->nodes[j - 1];
        if (c->hash == h && c->len == n && (c->flat == p || eq_bytes(m, j - 1, p, n, stable)))
            return (long)j - 1;
    }
    const char *d = p;
    if (!stable && !(d = lc_arena_dup(m->arena, p, n))) return -1;
    node nd = {h, n, NO_PARENT, (uint32_t)n, d, d, 0};
    return add_node(m, &nd);
}

static long intern_append(lc_model *m, lc_state base, const lc_op *op)
{
    if (base == LC_MISSING) base = LC_EMPTY;
    if (op->arg_len == 0) return base;
    const node *b = &m->nodes[base];
    uint64_t h = lc_hadd(lc_hmul(b->hash, op->arg_pow), op->arg_hash);
    uint64_t n = b->len + op->arg_len;
    if (base == LC_EMPTY) return intern_root(m, op->arg, op->arg_len, op->arg_hash, true);
    for (uint32_t j = m->buckets[bucket_of(m, h, n)]; j; j = m->nodes[j - 1].next) {
        node *c = &m->nodes[j - 1];
        if (c->hash != h || c->len != n) continue;
        if (c->parent == base && c->piece_len == op->arg_len &&
            (c->piece == op->arg || memcmp(c->piece, op->arg, op->arg_len) == 0))
            return (long)j - 1;
        /* Same hash and length, built another way: compare the bytes. Rare
         * (a SET of what an APPEND also builds), and memoised by the caller. */
        const char *bb = materialize(m, base);
        if (!bb) return -1;
        char *buf = lc_malloc(n);
        if (!buf) return -1;
        memcpy(buf, bb, b->len);
        memcpy(buf + b->len, op->arg, op->arg_len);
        bool same = eq_bytes(m, j - 1, buf, n, false);
        lc_free(buf);
        if (same) return (long)j - 1;
    }
    node nd = {h, n, base, op->arg_len, op->arg, NULL, 0};
    return add_node(m, &nd);
}

/* Redis's string2ll(): the canonical decimal form of a 64-bit integer,
 * without sign '+', spaces or leading zeros. */
static bool redis_string2ll(const char *p, size_t n, long long *out)
{
    if (n == 0 || n >= 21) return false;
    if (n == 1 && p[0] == '0') {
        *out = 0;
        return true;
    }
    bool neg = false;
    if (p[0] == '-') {
        neg = true;
        p++;
        n--;
        if (n == 0) return false;
    }
    if (p[0] < '1' || p[0] > '9') return false;
    unsigned long long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return false;
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (ULLONG_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1) return false;
        *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    } else {
        if (v > LLONG_MAX) return false;
        *out = (long long)v;
    }
    return true;
}

static int incr(lc_model *m, lc_state s, const lc_op *op, lc_state *out)
{
    long long v = 0;
    if (s != LC_MISSING) {
        const node *nd = &m->nodes[s];
        const char *p;
        if (nd->len == 0 || nd->len >= 21) goto error;
        if (!(p = materialize(m, s))) return -1;
        if (!redis_string2ll(p, nd->len, &v)) goto error;
    }
    /* Redis: "increment or decrement would overflow" */
    if ((op->delta < 0 && v < 0 && op->delta < LLONG_MIN - v) ||
        (op->delta > 0 && v > 0 && op->delta > LLONG_MAX - v))
        goto error;
    long long nv = v + op->delta;
    if (op->res == LC_RES_INT && op->res_int != nv) return 0;
    char buf[24];
    int n = snprintf(buf, sizeof buf, "%lld", nv);
    long id = intern_root(m, buf, (uint64_t)n, lc_hash_bytes(buf, (size_t)n), false);
    if (id < 0) return -1;
    *out = (lc_state)id;
    return 1;
error:
    /* The command fails and changes nothing: an :ok INCR cannot have run
     * here; an :info one may have, to the same effect as never. */
    if (!op->info) return 0;
    *out = s;
    return 1;
}

/* SADD or SREM of op->arg on the set s: rebuilds the sorted member list
 * with the member added or removed. */
static int set_step(lc_model *m, lc_state s, const lc_op *op, lc_state *out)
{
    const char *p = "";
    size_t n = 0;
    if (s != LC_MISSING) {
        if (!(p = materialize(m, s))) return -1;
        n = m->nodes[s].len;
    }
    /* Find the member's place: the first member not below it. */
    size_t at = 0;
    bool found = false;
    while (at < n) {
        size_t e = at;
        while (e < n && p[e] != ' ')
            e++;
        size_t ml = e - at, al = op->arg_len;
        int c = memcmp(p + at, op->arg, ml < al ? ml : al);
        if (c == 0) c = (ml > al) - (ml < al);
        if (c >= 0) {
            found = c == 0;
            break;
        }
        at = e < n ? e + 1 : n;
    }
    int changed = op->f == LC_SADD ? !found : found;
    if (op->res == LC_RES_INT && op->res_int != changed) return 0;
    if (!changed) {
        *out = s;
        return 1;
    }
    /* p may be m->tmp: build the new list in a buffer of its own. */
    size_t cap = n + op->arg_len + 2, len = 0;
    char *buf = lc_malloc(cap);
    if (!buf) return -1;
    if (op->f == LC_SADD) {
        /* p[0, at) ends with a space, or is empty, or is all of p */
        memcpy(buf, p, at);
        len = at;
        if (at == n && n > 0) buf[len++] = ' ';
        memcpy(buf + len, op->arg, op->arg_len);
        len += op->arg_len;
        if (at < n) {
            buf[len++] = ' ';
            memcpy(buf + len, p + at, n - at);
            len += n - at;
        }
    } else {
        size_t e = at + op->arg_len; /* the member ends at e: a space or n */
        if (e < n) {
            memcpy(buf, p, at);
            memcpy(buf + at, p + e + 1, n - e - 1);
            len = n - op->arg_len - 1;
        } else {
            len = at ? at - 1 : 0; /* the last member: drop it and its space */
            memcpy(buf, p, len);
        }
    }
    long id = len ? intern_root(m, buf, len, lc_hash_bytes(buf, len), false) : LC_MISSING;
    lc_free(buf);
    if (id < 0) return -1;
    *out = (lc_state)id;
    return 1;
}

static int step(lc_model *m, lc_state s, const lc_op *op, lc_state *out)
{
    long id;
    switch (op->f) {
    case LC_SADD:
    case LC_SREM:
        return set_step(m, s, op, out);
    case LC_GET:
    case LC_SMEMBERS:
        *out = s;
        if (op->res == LC_RES_NIL) return s == LC_MISSING;
        if (s == LC_MISSING) /* "" reads as missing too (reference files) */
            return op->val_len == 0;
        return m->nodes[s].hash == op->val_hash && eq_bytes(m, s, op->val, op->val_len, true);
    case LC_PUT:
        id = intern_root(m, op->arg, op->arg_len, op->arg_hash, true);
        if (id < 0) return -1;
        *out = (lc_state)id;
        return 1;
    case LC_APPEND:
        id = intern_append(m, s, op);
        if (id < 0) return -1;
        if (op->res == LC_RES_INT && (op->res_int < 0 || (uint64_t)op->res_int != m->nodes[id].len))
            return 0;
        *out = (lc_state)id;
        return 1;
    case LC_DEL:
        if (op->res == LC_RES_INT && op->res_int != (s != LC_MISSING)) return 0;
        *out = LC_MISSING;
        return 1;
    case LC_INCR:
        return incr(m, s, op, out);
    case LC_CAS: {
        /* The script compares GET's reply with a string: a missing key
         * (nil, false in Lua) never matches. */
        bool match = s != LC_MISSING && m->nodes[s].hash == op->val_hash &&
                     eq_bytes(m, s, op->val, op->val_len, true);
        if (op->res == LC_RES_INT && op->res_int != (int64_t)match) return 0;
        *out = s;
        if (match) {
            id = intern_root(m, op->arg, op->arg_len, op->arg_hash, true);
            if (id < 0) return -1;
            *out = (lc_state)id;
        }
        return 1;
    }
    }
    return 0;
}

int lc_model_step(lc_model *m, lc_state s, const lc_op *op, uint32_t opid, lc_state *out)
{
    if (op->f == LC_DEL) return step(m, s, op, out);
    uint64_t key = (((uint64_t)s << 32) | opid) + 1;
    if ((m->mcount + 1) * 2 > m->mcap) {
        size_t ncap = m->mcap ? m->mcap * 2 : 4096;
        memo *nt = lc_malloc(ncap * sizeof *nt);
        if (!nt) return -1;
        memset(nt, 0, ncap * sizeof *nt);
        for (size_t i = 0; i < m->mcap; i++) {
            if (!m->memo[i].key) continue;
            size_t j = lc_mix64(m->memo[i].key) & (ncap - 1);
            while (nt[j].key)
                j = (j + 1) & (ncap - 1);
            nt[j] = m->memo[i];
        }
        lc_free(m->memo);
        m->memo = nt;
        m->mcap = ncap;
    }
    size_t j = lc_mix64(key) & (m->mcap - 1);
    while (m->memo[j].key) {
        if (m->memo[j].key == key) {
            *out = m->memo[j].out;
            return (int)m->memo[j].ok;
        }
        j = (j + 1) & (m->mcap - 1);
    }
    lc_state o = s;
    int rc = step(m, s, op, &o);
    if (rc < 0) return rc;
    m->memo[j].key = key;
    m->memo[j].out = o;
    m->memo[j].ok = (uint32_t)rc;
    m->mcount++;
    *out = o;
    return rc;
}

int lc_model_is_prefix(lc_model *m, lc_state s, const lc_op *op, uint32_t opid)
{
    (void)opid;
    if (s == LC_MISSING) return 1;
    if (op->res != LC_RES_STR || m->nodes[s].len > op->val_len) return 0;
    /* Compare from the front: a flat copy, or the rope's bytes. */
    const node *nd = &m->nodes[s];
    if (nd->flat) return memcmp(nd->flat, op->val, nd->len) == 0;
    return eq_bytes(m, s, op->val, nd->len, true);
}

size_t lc_model_render(lc_model *m, lc_state s, char *buf, size_t cap, size_t max)
{
    if (s == LC_MISSING) {
        if (cap) snprintf(buf, cap, "nil");
        return cap ? strlen(buf) : 0;
    }
    const char *p = materialize(m, s);
    if (!p) {
        if (cap) snprintf(buf, cap, "(out of memory)");
        return cap ? strlen(buf) : 0;
    }
    return lc_quote(buf, cap, p, m->nodes[s].len, max);
}
