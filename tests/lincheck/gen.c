/* gen.c -- random histories of a simulated linearizable store, to measure
 * and test the checker (see lc_gen in lincheck.h).
 *
 * Each client runs one operation at a time. An operation is called at a
 * random moment, returns after a random duration (now and then a long
 * one), and takes effect at one random instant in between, on a real
 * key-value map; so the history is linearizable by construction. An :info
 * operation takes effect half of the time, maybe after it was reported;
 * its client goes on as a new process, as in Jepsen. Values written are
 * unique tokens "[p<op>]", "[a<op>]", so no value can come back once
 * overwritten: that is what makes the corruptions certain violations.
 * A set key holds a subset of a pool of SET_POOL members "m0" ... */
#include "lc_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { OUT_OK, OUT_INFO, OUT_FAIL };

typedef struct gop {
    int64_t process;
    uint32_t key;
    lc_fn f;
    double t_call, t_eff, t_ret;
    int outcome, effect, silent; /* silent: an info op with no completion */
    char *arg;
    int has_res, res_nil;
    char *res;
    int64_t res_int;
} gop;

#define SET_POOL 6
#define BURST_WIDTH 4.0 /* time units of a burst of :info (ops last 0.1-3.1) */

typedef struct kstate {
    int exists;
    uint32_t members; /* a set key: bit i is member "m<i>" */
    char *v;
    size_t len, cap;
} kstate;

typedef struct gev {
    double t;
    uint32_t op;
    uint32_t done; /* 0 invoke, 1 completion */
} gev;

static uint64_t rng_next(uint64_t *s)
{
    *s += 0x9e3779b97f4a7c15ULL;
    return lc_mix64(*s);
}

static double unif(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) / 9007199254740992.0;
}

void lc_gen_defaults(lc_gen_options *o)
{
    o->seed = 1;
    o->ops = 1000;
    o->clients = 10;
    o->keys = 5;
    o->info_rate = 0.01;
    o->fail_rate = 0.01;
    o->corrupt = LC_CORRUPT_NONE;
    o->shape = LC_GEN_MIXED;
    o->bursts = 0;
}

static char *dupn(const char *p, size_t n)
{
    char *d = lc_malloc(n + 1);
    if (d) {
        memcpy(d, p, n);
        d[n] = 0;
    }
    return d;
}

static lc_gen_shape gen_shape;

static bool is_counter(uint32_t key)
{
    return gen_shape == LC_GEN_MIXED && key % 3 == 2;
}

/* The members of a set, sorted (bytewise, as "m0" < "m1" < ...), joined by
 * single spaces; "" for the empty set. */
static char *set_text(uint32_t members)
{
    char buf[SET_POOL * 4 + 1];
    size_t n = 0;
    for (int i = 0; i < SET_POOL; i++)
        if (members >> i & 1)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%sm%d", n ? " " : "", i);
    return dupn(buf, n);
}

static const gop *sort_ops;

static int cmp_eff(const void *a, const void *b)
{
    double x = sort_ops[*(const uint32_t *)a].t_eff, y = sort_ops[*(const uint32_t *)b].t_eff;
    return x < y ? -1 : x > y;
}

static int cmp_ev(const void *a, const void *b)
{
    const gev *x = a, *y = b;
    return x->t < y->t ? -1 : x->t > y->t;
}

/* Redis's rule: the canonical decimal form of a 64-bit integer. */
static bool as_int(const kstate *k, long long *v)
{
    if (!k->exists) {
        *v = 0;
        return true;
    }
    if (k->len == 0 || k->len > 20) return false;
    char tmp[24], back[24];
    memcpy(tmp, k->v, k->len);
    tmp[k->len] = 0;
    char *e;
    long long x = strtoll(tmp, &e, 10);
    snprintf(back, sizeof back, "%lld", x);
    if (*e || strcmp(back, tmp) != 0) return false;
    *v = x;
    return true;
}

static int kset(kstate *k, const char *p, size_t n, bool append)
{
    size_t base = append && k->exists ? k->len : 0;
    if (lc_grow((void **)&k->v, &k->cap, base + n + 1, 1) != 0) return -1;
    memcpy(k->v + base, p, n);
    k->len = base + n;
    k->exists = 1;
    return 0;
}

static int apply(gop *op, kstate *k)
{
    long long v;
    uint32_t bit;
    switch (op->f) {
    case LC_SADD:
    case LC_SREM:
        bit = 1u << (op->arg[1] - '0');
        op->has_res = 1;
        op->res_int = op->f == LC_SADD ? !(k->members & bit) : !!(k->members & bit);
        if (op->f == LC_SADD)
            k->members |= bit;
        else
            k->members &= ~bit;
        return 0;
    case LC_SMEMBERS:
        op->has_res = 1;
        op->res_nil = 0;
        return (op->res = set_text(k->members)) ? 0 : -1;
    case LC_GET:
        op->has_res = 1;
        op->res_nil = !k->exists;
        if (k->exists && !(op->res = dupn(k->v, k->len))) return -1;
        return 0;
    case LC_PUT:
        return kset(k, op->arg, strlen(op->arg), false);
    case LC_APPEND:
        if (kset(k, op->arg, strlen(op->arg), true) != 0) return -1;
        op->has_res = 1;
        op->res_int = (int64_t)k->len;
        return 0;
    case LC_DEL:
        op->has_res = 1;
        op->res_int = k->exists;
        k->exists = 0;
        k->len = 0;
        return 0;
    case LC_INCR:
        if (!as_int(k, &v) || v == INT64_MAX) {
            /* Redis replies with an error: proven not to have happened. */
            if (op->outcome == OUT_OK) op->outcome = OUT_FAIL;
            return 0;
        }
        {
            char buf[24];
            int n = snprintf(buf, sizeof buf, "%lld", v + 1);
            op->has_res = 1;
            op->res_int = v + 1;
            return kset(k, buf, (size_t)n, false);
        }
    case LC_CAS: /* the generator makes no cas */
        return 0;
    }
    return 0;
}

static void edn_str(FILE *f, const char *p, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '"' || p[i] == '\\') fputc('\\', f);
        fputc(p[i], f);
    }
    fputc('"', f);
}

static void write_event(FILE *f, const gop *op, uint32_t done, uint32_t i)
{
    const char *const *fn = lc_fn_names;
    const char *type = !done                     ? "invoke"
                       : op->outcome == OUT_OK   ? "ok"
                       : op->outcome == OUT_FAIL ? "fail"
                                                 : "info";
    /* Two layouts, to keep the reader honest about field order and extra
     * fields. */
    if (i % 5 == 4)
        fprintf(f, "{:type :%s, :f :%s, :time %llu, :key \"k%u\", :process %lld, :value ", type,
                fn[op->f], (unsigned long long)((done ? op->t_ret : op->t_call) * 1e6), op->key,
                (long long)op->process);
    else
        fprintf(f, "{:process %lld, :type :%s, :f :%s, :key \"k%u\", :value ",
                (long long)op->process, type, fn[op->f], op->key);
    bool writes = op->f == LC_PUT || op->f == LC_APPEND || op->f == LC_SADD || op->f == LC_SREM;
    if (writes && (!done || op->outcome != OUT_OK))
        edn_str(f, op->arg, strlen(op->arg));
    else if (!done || op->outcome != OUT_OK || !op->has_res)
        fputs(op->f == LC_PUT ? "\"OK\"" : "nil", f);
    else if (lc_is_read(op->f) && op->res_nil)
        fputs("nil", f);
    else if (lc_is_read(op->f))
        edn_str(f, op->res, strlen(op->res));
    else if (op->f == LC_PUT)
        edn_str(f, op->arg, strlen(op->arg));
    else
        fprintf(f, "%lld", (long long)op->res_int);
    fputs("}\n", f);
}

/* Makes one late GET read something it cannot have read. */
static int corrupt(gop *ops, uint32_t n, const lc_gen_options *o, uint64_t *rs)
{
    if (o->corrupt == LC_CORRUPT_NONE || n == 0) return 0;
    uint32_t start = n - 1 - (uint32_t)(unif(rs) * (double)(n / 10 + 1));
    for (int pass = 0; pass < 2; pass++) {
        uint32_t tries = 0;
        for (uint32_t d = 0; d < n; d++) {
            gop *g = &ops[(start + d) % n];
            if (!lc_is_read(g->f) || g->outcome != OUT_OK || is_counter(g->key)) continue;
            if (pass == 0 && o->corrupt == LC_CORRUPT_STALE && ++tries > 50) break;
            const char *v = g->f == LC_SMEMBERS ? "m0 m1 m2 m3 m4 m5 never" : "[never written]";
            if (o->corrupt == LC_CORRUPT_STALE && pass == 0 && g->f == LC_GET) {
                /* w2: the last completed write returned before g's call;
                 * w: a completed put returned before w2's call. */
                const gop *w2 = NULL, *w = NULL;
                for (uint32_t j = 0; j < n; j++) {
                    const gop *x = &ops[j];
                    if (x->key == g->key && x->outcome == OUT_OK && x->f != LC_GET &&
                        x->t_ret < g->t_call && (!w2 || x->t_ret > w2->t_ret))
                        w2 = x;
                }
                for (uint32_t j = 0; w2 && j < n; j++) {
                    const gop *x = &ops[j];
                    if (x->key == g->key && x->outcome == OUT_OK && x->f == LC_PUT &&
                        x->t_ret < w2->t_call)
                        w = x;
                }
                if (!w) continue;
                v = w->arg;
            }
            char *d = dupn(v, strlen(v));
            if (!d) return -1;
            lc_free(g->res);
            g->res = d;
            g->res_nil = 0;
            return 0;
        }
    }
    return 0;
}

int lc_gen(const lc_gen_options *o, FILE *out)
{
    int rc = -1;
    uint32_t n = o->ops, nc = o->clients ? o->clients : 1, nk = o->keys ? o->keys : 1;
    uint64_t rs = o->seed * 0x2545f4914f6cdd1dULL + 1;
    gen_shape = o->shape;
    gop *ops = lc_malloc((n + 1) * sizeof *ops);
    double *free_at = lc_malloc(nc * sizeof *free_at);
    int64_t *proc = lc_malloc(nc * sizeof *proc);
    kstate *ks = lc_malloc(nk * sizeof *ks);
    uint32_t *order = lc_malloc((n + 1) * sizeof *order);
    gev *ev = lc_malloc((2 * (size_t)n + 1) * sizeof *ev);
    if (!ops || !free_at || !proc || !ks || !order || !ev) goto done;
    memset(ops, 0, (n + 1) * sizeof *ops);
    memset(ks, 0, nk * sizeof *ks);
    for (uint32_t c = 0; c < nc; c++) {
        free_at[c] = unif(&rs);
        proc[c] = c;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t c = 0;
        for (uint32_t x = 1; x < nc; x++)
            if (free_at[x] < free_at[c]) c = x;
        gop *op = &ops[i];
        op->process = proc[c];
        op->key = (uint32_t)(unif(&rs) * nk);
        double r = unif(&rs);
        if (o->shape == LC_GEN_SET)
            op->f = r < 0.40 ? LC_SMEMBERS : r < 0.75 ? LC_SADD : LC_SREM;
        else if (o->shape == LC_GEN_REGISTER)
            op->f = r < 0.55 ? LC_GET : LC_PUT;
        else if (is_counter(op->key))
            op->f = r < 0.40 ? LC_GET : r < 0.85 ? LC_INCR : r < 0.95 ? LC_PUT : LC_DEL;
        else
            op->f = r < 0.45 ? LC_GET : r < 0.60 ? LC_PUT : r < 0.90 ? LC_APPEND : LC_DEL;
        char buf[48];
        if (op->f == LC_SADD || op->f == LC_SREM)
            snprintf(buf, sizeof buf, "m%u", (unsigned)(rng_next(&rs) % SET_POOL));
        else if (op->f == LC_PUT && is_counter(op->key))
            snprintf(buf, sizeof buf, "%u", (unsigned)(rng_next(&rs) % 1000));
        else if (op->f == LC_PUT && i % 7 == 3) /* a value that needs escapes */
            snprintf(buf, sizeof buf, "[p%u \"q\\]", i);
        else
            snprintf(buf, sizeof buf, "[%c%u]", op->f == LC_PUT ? 'p' : 'a', i);
        if ((op->f == LC_PUT || op->f == LC_APPEND || op->f == LC_SADD || op->f == LC_SREM) &&
            !(op->arg = dupn(buf, strlen(buf))))
            goto done;
        double dur = 0.1 + unif(&rs) * 3;
        if (unif(&rs) < 0.03) dur *= 10;
        op->t_call = free_at[c] + unif(&rs) * 0.5;
        op->t_ret = op->t_call + dur;
        op->t_eff = op->t_call + unif(&rs) * dur;
        op->effect = 1;
        r = unif(&rs);
        double info_rate = o->info_rate;
        if (o->bursts) {
            /* :info only in a few short windows, as when a leader dies and
             * every client in flight times out */
            double period = (double)n / nc * 1.9 / o->bursts;
            double at = fmod(op->t_call, period) - period / 2;
            info_rate = at >= 0 && at < BURST_WIDTH ? o->info_rate : 0;
        }
        if (r < info_rate) {
            op->outcome = OUT_INFO;
            op->effect = unif(&rs) < 0.5;
            op->t_eff = op->t_call + unif(&rs) * dur * 3;
            op->silent = unif(&rs) < 0.3;
            proc[c] += nc; /* the client goes on as a new process */
        } else if (r < info_rate + o->fail_rate) {
            op->outcome = OUT_FAIL;
            op->effect = 0;
        }
        free_at[c] = op->t_ret;
    }
    uint32_t ne = 0;
    for (uint32_t i = 0; i < n; i++)
        if (ops[i].effect) order[ne++] = i;
    sort_ops = ops;
    qsort(order, ne, sizeof *order, cmp_eff);
    for (uint32_t j = 0; j < ne; j++)
        if (apply(&ops[order[j]], &ks[ops[order[j]].key]) != 0) goto done;
    if (corrupt(ops, n, o, &rs) != 0) goto done;
    size_t nev = 0;
    for (uint32_t i = 0; i < n; i++) {
        ev[nev++] = (gev){ops[i].t_call, i, 0};
        if (!ops[i].silent) ev[nev++] = (gev){ops[i].t_ret, i, 1};
    }
    qsort(ev, nev, sizeof *ev, cmp_ev);
    for (size_t j = 0; j < nev; j++)
        write_event(out, &ops[ev[j].op], ev[j].done, (uint32_t)j);
    rc = ferror(out) ? -1 : 0;
done:
    if (ops)
        for (uint32_t i = 0; i < n; i++) {
            lc_free(ops[i].arg);
            lc_free(ops[i].res);
        }
    if (ks)
        for (uint32_t k = 0; k < nk; k++)
            lc_free(ks[k].v);
    lc_free(ops);
    lc_free(free_at);
    lc_free(proc);
    lc_free(ks);
    lc_free(order);
    lc_free(ev);
    return rc;
}
