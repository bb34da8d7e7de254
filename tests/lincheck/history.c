/* history.c -- reads a history in Jepsen's EDN event format (see lincheck.h
 * for the forms accepted) into operations grouped by key. The reader is
 * pure: bytes in, history or "line N: why" out. Any EDN value may appear in
 * a field it does not look at; the fields it does look at are checked
 * strictly, because a misread history gives a wrong verdict. */
#include "lc_internal.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

enum vkind { V_ABSENT, V_NIL, V_BOOL, V_INT, V_STR, V_KW, V_SYM, V_OTHER };

typedef struct val {
    enum vkind k;
    int64_t i;
    size_t off, len; /* V_STR, V_KW, V_SYM: bytes in the scratch buffer */
} val;

typedef struct rd {
    const char *p, *end;
    uint32_t line;
    char *scratch; /* decoded strings of the current map */
    size_t slen, scap;
    char *err;
    size_t errlen;
    int status; /* 0, LC_BAD_INPUT or LC_UNKNOWN */
} rd;

__attribute__((format(printf, 2, 3))) static int bad(rd *r, const char *fmt, ...)
{
    if (r->status) return -1;
    r->status = LC_BAD_INPUT;
    if (r->err && r->errlen) {
        int n = snprintf(r->err, r->errlen, "line %u: ", r->line);
        if (n >= 0 && (size_t)n < r->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return -1;
}

static int oom(rd *r)
{
    if (!r->status) {
        r->status = LC_UNKNOWN;
        if (r->err && r->errlen) snprintf(r->err, r->errlen, "out of memory");
    }
    return -1;
}

static int scratch_put(rd *r, const char *p, size_t n)
{
    if (lc_grow((void **)&r->scratch, &r->scap, r->slen + n + 1, 1) != 0) return oom(r);
    memcpy(r->scratch + r->slen, p, n);
    r->slen += n;
    return 0;
}

static bool is_delim(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == '\f' || c == '\v' ||
           c == '(' || c == ')' || c == '[' || c == ']' || c == '{' || c == '}' || c == '"' ||
           c == ';';
}

static void skip_ws(rd *r)
{
    while (r->p < r->end) {
        char c = *r->p;
        if (c == '\n') {
            r->line++;
            r->p++;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == ',' || c == '\f' || c == '\v') {
            r->p++;
        } else if (c == ';') {
            while (r->p < r->end && *r->p != '\n')
                r->p++;
        } else {
            break;
        }
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int read_string(rd *r, val *v)
{
    r->p++; /* opening quote */
    v->k = V_STR;
    v->off = r->slen;
    while (r->p < r->end && *r->p != '"') {
        const char *s = r->p;
        while (r->p < r->end && *r->p != '"' && *r->p != '\\') {
            if (*r->p == '\n') r->line++;
            r->p++;
        }
        if (scratch_put(r, s, (size_t)(r->p - s)) != 0) return -1;
        if (r->p < r->end && *r->p == '\\') {
            if (r->end - r->p < 2) return bad(r, "unterminated string");
            char c = r->p[1], out;
            r->p += 2;
            switch (c) {
            case '"':
                out = '"';
                break;
            case '\\':
                out = '\\';
                break;
            case '/':
                out = '/';
                break;
            case 'n':
                out = '\n';
                break;
            case 't':
                out = '\t';
                break;
            case 'r':
                out = '\r';
                break;
            case 'b':
                out = '\b';
                break;
            case 'f':
                out = '\f';
                break;
            case 'u': {
                if (r->end - r->p < 4) return bad(r, "bad \\u escape");
                unsigned cp = 0;
                for (int i = 0; i < 4; i++) {
                    int h = hexval(r->p[i]);
                    if (h < 0) return bad(r, "bad \\u escape");
                    cp = cp * 16 + (unsigned)h;
                }
                r->p += 4;
                char u[3];
                size_t n;
                if (cp < 0x80) {
                    u[0] = (char)cp;
                    n = 1;
                } else if (cp < 0x800) {
                    u[0] = (char)(0xc0 | (cp >> 6));
                    u[1] = (char)(0x80 | (cp & 0x3f));
                    n = 2;
                } else {
                    u[0] = (char)(0xe0 | (cp >> 12));
                    u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
                    u[2] = (char)(0x80 | (cp & 0x3f));
                    n = 3;
                }
                if (scratch_put(r, u, n) != 0) return -1;
                continue;
            }
            default:
                return bad(r, "unknown string escape \\%c", c);
            }
            if (scratch_put(r, &out, 1) != 0) return -1;
        }
    }
    if (r->p >= r->end) return bad(r, "unterminated string");
    r->p++;
    v->len = r->slen - v->off;
    return 0;
}

/* A number, keyword or symbol: the run of characters up to a delimiter. */
static int read_token(rd *r, val *v)
{
    const char *s = r->p;
    while (r->p < r->end && !is_delim(*r->p))
        r->p++;
    size_t n = (size_t)(r->p - s);
    if (s[0] == ':') {
        v->k = V_KW;
        v->off = r->slen;
        v->len = n - 1;
        return scratch_put(r, s + 1, n - 1);
    }
    const char *d = s;
    bool neg = false;
    if (*d == '-' || *d == '+') {
        neg = *d == '-';
        d++;
    }
    if (d < r->p && *d >= '0' && *d <= '9') {
        uint64_t x = 0;
        const char *q = d;
        bool over = false;
        while (q < r->p && *q >= '0' && *q <= '9') {
            unsigned dig = (unsigned)(*q - '0');
            if (x > (UINT64_MAX - dig) / 10)
                over = true;
            else
                x = x * 10 + dig;
            q++;
        }
        if (q < r->p && *q == 'N' && q + 1 == r->p) q++;
        if (q != r->p) {
            v->k = V_OTHER; /* a float or ratio: never a value we use */
            return 0;
        }
        if (over || (!neg && x > (uint64_t)INT64_MAX) || (neg && x > (uint64_t)INT64_MAX + 1)) {
            v->k = V_OTHER;
            return 0;
        }
        v->k = V_INT;
        v->i = neg ? (int64_t)(0 - x) : (int64_t)x;
        return 0;
    }
    if (n == 3 && memcmp(s, "nil", 3) == 0) {
        v->k = V_NIL;
    } else if ((n == 4 && memcmp(s, "true", 4) == 0) || (n == 5 && memcmp(s, "false", 5) == 0)) {
        v->k = V_BOOL;
    } else {
        v->k = V_SYM;
        v->off = r->slen;
        v->len = n;
        return scratch_put(r, s, n);
    }
    return 0;
}

static int read_value(rd *r, val *v, int depth);

static int read_seq(rd *r, char close, int depth)
{
    for (;;) {
        skip_ws(r);
        if (r->p >= r->end) return bad(r, "missing '%c'", close);
        if (*r->p == close) {
            r->p++;
            return 0;
        }
        val x;
        if (read_value(r, &x, depth + 1) != 0) return -1;
    }
}

static int read_value(rd *r, val *v, int depth)
{
    if (depth > MAX_DEPTH) return bad(r, "nested deeper than %d", MAX_DEPTH);
    for (;;) {
        skip_ws(r);
        if (r->p >= r->end) return bad(r, "value expected");
        char c = *r->p;
        v->k = V_OTHER;
        switch (c) {
        case '"':
            return read_string(r, v);
        case '(':
            r->p++;
            return read_seq(r, ')', depth);
        case '[':
            r->p++;
            return read_seq(r, ']', depth);
        case '{':
            r->p++;
            return read_seq(r, '}', depth);
        case ')':
        case ']':
        case '}':
            return bad(r, "unexpected '%c'", c);
        case '\\': /* a character literal */
            r->p++;
            if (r->p < r->end) r->p++;
            while (r->p < r->end && !is_delim(*r->p))
                r->p++;
            return 0;
        case '#':
            r->p++;
            if (r->p < r->end && *r->p == '{') {
                r->p++;
                return read_seq(r, '}', depth);
            }
            if (r->p < r->end && *r->p == '_') { /* discard the next value */
                r->p++;
                val x;
                if (read_value(r, &x, depth + 1) != 0) return -1;
                continue;
            }
            /* a tagged literal: #tag value */
            while (r->p < r->end && !is_delim(*r->p))
                r->p++;
            {
                val x;
                return read_value(r, &x, depth + 1);
            }
        default:
            return read_token(r, v);
        }
    }
}

static bool val_is(const rd *r, const val *v, const char *s)
{
    size_t n = strlen(s);
    return (v->k == V_KW || v->k == V_STR || v->k == V_SYM) && v->len == n &&
           memcmp(r->scratch + v->off, s, n) == 0;
}

/* ---------------------------------------------------------- building */

typedef struct pslot {
    int64_t process;
    uint32_t v; /* 0 empty, 1 idle, op+2 pending */
} pslot;

typedef struct kslot {
    uint64_t hash;
    uint32_t key; /* index+1, 0 empty */
} kslot;

typedef struct builder {
    lc_history *h;
    pslot *procs;
    size_t pcap, pcount;
    kslot *kt;
    size_t ktcap;
    uint8_t *drop; /* per op */
    uint8_t *has_arg;
    size_t dcap, acap;
    uint32_t pos; /* events accepted so far */
} builder;

static pslot *proc_slot(builder *b, rd *r, int64_t process)
{
    if ((b->pcount + 1) * 2 > b->pcap) {
        size_t ncap = b->pcap ? b->pcap * 2 : 64;
        pslot *n = lc_malloc(ncap * sizeof *n);
        if (!n) {
            oom(r);
            return NULL;
        }
        memset(n, 0, ncap * sizeof *n);
        for (size_t i = 0; i < b->pcap; i++) {
            if (!b->procs[i].v) continue;
            size_t j = lc_mix64((uint64_t)b->procs[i].process) & (ncap - 1);
            while (n[j].v)
                j = (j + 1) & (ncap - 1);
            n[j] = b->procs[i];
        }
        lc_free(b->procs);
        b->procs = n;
        b->pcap = ncap;
    }
    size_t j = lc_mix64((uint64_t)process) & (b->pcap - 1);
    while (b->procs[j].v && b->procs[j].process != process)
        j = (j + 1) & (b->pcap - 1);
    if (!b->procs[j].v) {
        b->procs[j].process = process;
        b->procs[j].v = 1;
        b->pcount++;
    }
    return &b->procs[j];
}

/* Interns a key; name NULL is the nil key. Returns its index or -1. */
static long key_id(builder *b, rd *r, const char *name, size_t len, uint32_t line)
{
    lc_history *h = b->h;
    uint64_t hash = name ? lc_mix64(lc_hash_bytes(name, len)) : 0x5bd1e995ULL;
    if ((h->nkeys + 1) * 2 > b->ktcap) {
        size_t ncap = b->ktcap ? b->ktcap * 2 : 64;
        kslot *n = lc_malloc(ncap * sizeof *n);
        if (!n) return oom(r);
        memset(n, 0, ncap * sizeof *n);
        for (size_t i = 0; i < b->ktcap; i++) {
            if (!b->kt[i].key) continue;
            size_t j = b->kt[i].hash & (ncap - 1);
            while (n[j].key)
                j = (j + 1) & (ncap - 1);
            n[j] = b->kt[i];
        }
        lc_free(b->kt);
        b->kt = n;
        b->ktcap = ncap;
    }
    size_t j = hash & (b->ktcap - 1);
    while (b->kt[j].key) {
        lc_key *k = &h->keys[b->kt[j].key - 1];
        if (b->kt[j].hash == hash && ((!name && !k->name) || (name && k->name && k->len == len &&
                                                              memcmp(k->name, name, len) == 0)))
            return (long)b->kt[j].key - 1;
        j = (j + 1) & (b->ktcap - 1);
    }
    if (lc_grow((void **)&h->keys, &h->kcap, h->nkeys + 1, sizeof *h->keys) != 0) return oom(r);
    lc_key *k = &h->keys[h->nkeys];
    memset(k, 0, sizeof *k);
    if (name) {
        char *d = lc_arena_dup(h->arena, name, len);
        if (!d) return oom(r);
        k->name = d;
        k->len = (uint32_t)len;
    }
    k->first_line = line;
    b->kt[j].hash = hash;
    b->kt[j].key = (uint32_t)++h->nkeys;
    return (long)h->nkeys - 1;
}

/* The bytes a value stands for: strings as they are, integers in decimal. */
static int val_bytes(rd *r, const val *v, char *tmp, const char **p, size_t *n)
{
    if (v->k == V_STR) {
        *p = r->scratch + v->off;
        *n = v->len;
        return 0;
    }
    if (v->k == V_INT) {
        *n = (size_t)snprintf(tmp, 24, "%lld", (long long)v->i);
        *p = tmp;
        return 0;
    }
    return -1;
}

static int set_arg(builder *b, rd *r, uint32_t i, const val *v)
{
    lc_op *op = &b->h->ops[i];
    char tmp[24];
    const char *p;
    size_t n;
    if (val_bytes(r, v, tmp, &p, &n) != 0)
        return bad(r, "the value written must be a string or an integer");
    if (n > UINT32_MAX / 2) return bad(r, "value too long");
    const char *d = lc_arena_dup(b->h->arena, p, n);
    if (!d) return oom(r);
    op->arg = d;
    op->arg_len = (uint32_t)n;
    op->arg_hash = lc_hash_bytes(d, n);
    op->arg_pow = lc_hash_pow(n);
    b->has_arg[i] = 1;
    return 0;
}

const char *const lc_fn_names[LC_NFN] = {"get",  "put",  "append",   "del", "incr",
                                         "sadd", "srem", "smembers", "cas"};
#define fnames lc_fn_names

static bool is_set_fn(lc_fn f)
{
    return f == LC_SADD || f == LC_SREM || f == LC_SMEMBERS;
}

typedef struct span {
    const char *p;
    size_t n;
} span;

static int cmp_span(const void *a, const void *b)
{
    const span *x = a, *y = b;
    int c = memcmp(x->p, y->p, x->n < y->n ? x->n : y->n);
    return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* An SMEMBERS reply as the model keeps a set: its members sorted bytewise
 * and joined by single spaces. The input may list them in any order and
 * with runs of spaces; a member listed twice is bad input. Returns the
 * arena copy, or NULL (r says why). */
static const char *canonical_members(lc_history *h, rd *r, const char *p, size_t n, size_t *out_n)
{
    size_t cnt = 0;
    for (size_t i = 0; i < n; i++)
        cnt += p[i] != ' ' && (i == 0 || p[i - 1] == ' ');
    span *sp = lc_malloc((cnt + 1) * sizeof *sp);
    char *buf = lc_malloc(n + 1);
    const char *d = NULL;
    if (!sp || !buf) {
        oom(r);
        goto done;
    }
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        while (i < n && p[i] == ' ')
            i++;
        size_t j = i;
        while (j < n && p[j] != ' ')
            j++;
        if (j > i) sp[k++] = (span){p + i, j - i};
        i = j;
    }
    qsort(sp, k, sizeof *sp, cmp_span);
    size_t len = 0;
    for (size_t i = 0; i < k; i++) {
        if (i > 0 && cmp_span(&sp[i - 1], &sp[i]) == 0) {
            bad(r, "smembers lists member %.*s twice", (int)sp[i].n, sp[i].p);
            goto done;
        }
        if (i > 0) buf[len++] = ' ';
        memcpy(buf + len, sp[i].p, sp[i].n);
        len += sp[i].n;
    }
    if (!(d = lc_arena_dup(h->arena, buf, len))) oom(r);
    *out_n = len;
done:
    lc_free(sp);
    lc_free(buf);
    return d;
}

static int parse_fn(rd *r, const val *v, lc_fn *f)
{
    static const struct {
        const char *name;
        lc_fn f;
    } names[] = {{"get", LC_GET},           {"read", LC_GET},   {"put", LC_PUT},
                 {"set", LC_PUT},           {"write", LC_PUT},  {"append", LC_APPEND},
                 {"del", LC_DEL},           {"delete", LC_DEL}, {"incr", LC_INCR},
                 {"incrby", LC_INCR},       {"sadd", LC_SADD},  {"srem", LC_SREM},
                 {"smembers", LC_SMEMBERS}, {"cas", LC_CAS}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (val_is(r, v, names[i].name)) {
            *f = names[i].f;
            return 0;
        }
    }
    if (v->k == V_KW || v->k == V_STR || v->k == V_SYM)
        return bad(r, "unknown :f %.*s (get, put, append, del, incr, sadd, srem, smembers, cas)",
                   (int)v->len, r->scratch + v->off);
    return bad(r, ":f must be a keyword");
}

/* An integer reported as an integer or as a string of one. */
static int val_int(rd *r, const val *v, int64_t *out)
{
    if (v->k == V_INT) {
        *out = v->i;
        return 0;
    }
    if (v->k == V_STR && v->len > 0 && v->len < 21) {
        char tmp[24];
        memcpy(tmp, r->scratch + v->off, v->len);
        tmp[v->len] = 0;
        char *e;
        long long x = strtoll(tmp, &e, 10);
        if (*e == 0 && (tmp[0] == '-' || (tmp[0] >= '0' && tmp[0] <= '9'))) {
            *out = x;
            return 0;
        }
    }
    return -1;
}

enum { T_INVOKE, T_OK, T_FAIL, T_INFO };

typedef struct event {
    int64_t process;
    int type;
    val f, key, value, old; /* old: a cas's expected value */
} event;

static int complete(builder *b, rd *r, uint32_t i, const event *e)
{
    lc_history *h = b->h;
    lc_op *op = &h->ops[i];
    op->ret_line = r->line;
    if (e->type == T_FAIL) {
        b->drop[i] = 1;
        return 0;
    }
    if (e->type == T_INFO) {
        op->info = 1;
        op->ret = LC_NEVER;
    } else {
        op->ret = b->pos;
    }
    const val *v = &e->value;
    bool have = v->k != V_ABSENT && v->k != V_NIL;
    switch (op->f) {
    case LC_GET:
        if (op->info) {
            b->drop[i] = 1;
            return 0;
        }
        if (!have) {
            op->res = LC_RES_NIL;
            return 0;
        }
        {
            char tmp[24];
            const char *p;
            size_t n;
            if (val_bytes(r, v, tmp, &p, &n) != 0)
                return bad(r, "a get must return a string, an integer or nil");
            const char *d = lc_arena_dup(h->arena, p, n);
            if (!d) return oom(r);
            op->res = LC_RES_STR;
            op->val = d;
            op->val_len = (uint32_t)n;
            op->val_hash = lc_hash_bytes(d, n);
        }
        return 0;
    case LC_PUT:
        if (!b->has_arg[i] && have) return set_arg(b, r, i, v);
        return 0;
    case LC_APPEND:
        if (v->k == V_INT) { /* Redis's reply: the length after the append */
            if (!op->info) {
                op->res = LC_RES_INT;
                op->res_int = v->i;
            }
            return 0;
        }
        if (!b->has_arg[i] && have) return set_arg(b, r, i, v);
        return 0;
    case LC_DEL:
        if (!have || op->info) return 0;
        if (val_int(r, v, &op->res_int) != 0 || op->res_int < 0 || op->res_int > 1)
            return bad(r, "a del of one key returns 0, 1 or nil");
        op->res = LC_RES_INT;
        return 0;
    case LC_CAS:
        if (!have || op->info) return 0;
        if (val_int(r, v, &op->res_int) != 0 || op->res_int < 0 || op->res_int > 1)
            return bad(r, "a cas returns 1 (swapped), 0 (not) or nil");
        op->res = LC_RES_INT;
        return 0;
    case LC_INCR:
        if (!have || op->info) return 0;
        if (val_int(r, v, &op->res_int) != 0) return bad(r, "an incr returns an integer or nil");
        op->res = LC_RES_INT;
        return 0;
    case LC_SADD:
    case LC_SREM:
        if (!have || op->info) return 0;
        if (val_int(r, v, &op->res_int) != 0 || op->res_int < 0 || op->res_int > 1)
            return bad(r, "an %s of one member returns 0, 1 or nil", fnames[op->f]);
        op->res = LC_RES_INT;
        return 0;
    case LC_SMEMBERS:
        if (op->info) {
            b->drop[i] = 1;
            return 0;
        }
        if (!have) {
            op->res = LC_RES_NIL;
            return 0;
        }
        if (v->k != V_STR) return bad(r, "an smembers returns a string of members or nil");
        {
            size_t n = 0;
            const char *d = canonical_members(h, r, r->scratch + v->off, v->len, &n);
            if (!d) return -1;
            op->res = LC_RES_STR;
            op->val = d;
            op->val_len = (uint32_t)n;
            op->val_hash = lc_hash_bytes(d, n);
        }
        return 0;
    }
    return 0;
}

static int on_event(builder *b, rd *r, const event *e, uint32_t line)
{
    lc_history *h = b->h;
    pslot *ps = proc_slot(b, r, e->process);
    if (!ps) return -1;
    if (e->type == T_INVOKE) {
        lc_fn f;
        if (e->f.k == V_ABSENT) return bad(r, "an invoke needs :f");
        if (parse_fn(r, &e->f, &f) != 0) return -1;
        if (ps->v >= 2) /* the pending op's outcome was never reported */
            h->ops[ps->v - 2].info = 1, h->ops[ps->v - 2].ret = LC_NEVER;
        long k;
        const val *kv = &e->key;
        char tmp[24];
        if (kv->k == V_ABSENT || kv->k == V_NIL) {
            k = key_id(b, r, NULL, 0, line);
        } else if (kv->k == V_STR || kv->k == V_KW || kv->k == V_SYM) {
            k = key_id(b, r, r->scratch + kv->off, kv->len, line);
        } else if (kv->k == V_INT) {
            int n = snprintf(tmp, sizeof tmp, "%lld", (long long)kv->i);
            k = key_id(b, r, tmp, (size_t)n, line);
        } else {
            return bad(r, ":key must be a string, an integer, a keyword or nil");
        }
        if (k < 0) return -1;
        size_t i = h->nops;
        if (i >= UINT32_MAX - 2) return bad(r, "too many operations");
        if (lc_grow((void **)&h->ops, &h->cap, i + 1, sizeof *h->ops) != 0 ||
            lc_grow((void **)&b->drop, &b->dcap, i + 1, 1) != 0 ||
            lc_grow((void **)&b->has_arg, &b->acap, i + 1, 1) != 0)
            return oom(r);
        lc_op *op = &h->ops[i];
        memset(op, 0, sizeof *op);
        b->drop[i] = 0;
        b->has_arg[i] = 0;
        op->f = f;
        op->key = (uint32_t)k;
        op->process = e->process;
        op->call = b->pos;
        op->ret = LC_NEVER;
        op->call_line = line;
        op->delta = 1;
        h->nops++;
        const val *v = &e->value;
        if (f == LC_CAS) {
            char otmp[24];
            const char *p;
            size_t n;
            if (val_bytes(r, &e->old, otmp, &p, &n) != 0)
                return bad(r, "a cas needs :old, the value expected (a string or an integer)");
            const char *d = lc_arena_dup(h->arena, p, n);
            if (!d) return oom(r);
            op->val = d;
            op->val_len = (uint32_t)n;
            op->val_hash = lc_hash_bytes(d, n);
        }
        if ((f == LC_PUT || f == LC_APPEND || f == LC_SADD || f == LC_SREM || f == LC_CAS) &&
            v->k != V_ABSENT && v->k != V_NIL) {
            if (set_arg(b, r, (uint32_t)i, v) != 0) return -1;
        } else if (f == LC_INCR && v->k != V_ABSENT && v->k != V_NIL) {
            if (val_int(r, v, &op->delta) != 0)
                return bad(r, "an incr's invoke value is nil or the increment");
        }
        ps->v = (uint32_t)i + 2;
    } else {
        if (ps->v < 2)
            return bad(r, "a completion of process %lld, which has no pending invoke",
                       (long long)e->process);
        uint32_t i = ps->v - 2;
        lc_op *op = &h->ops[i];
        if (e->f.k != V_ABSENT) {
            lc_fn f;
            if (parse_fn(r, &e->f, &f) != 0) return -1;
            if (f != op->f)
                return bad(r, "completion :f %s does not match the invoke's :f %s (line %u)",
                           fnames[f], fnames[op->f], op->call_line);
        }
        if (e->key.k != V_ABSENT) {
            const lc_key *k = &h->keys[op->key];
            char tmp[24];
            const char *p = NULL;
            size_t n = 0;
            bool same;
            if (e->key.k == V_NIL)
                same = !k->name;
            else if (e->key.k == V_KW || e->key.k == V_SYM)
                p = r->scratch + e->key.off, n = e->key.len, same = true;
            else if (val_bytes(r, &e->key, tmp, &p, &n) == 0)
                same = true;
            else
                same = false;
            if (same && p) same = k->name && k->len == n && memcmp(k->name, p, n) == 0;
            if (!same)
                return bad(r, "completion :key does not match the invoke's (line %u)",
                           op->call_line);
        }
        ps->v = 1;
        if (complete(b, r, i, e) != 0) return -1;
    }
    b->pos++;
    return 0;
}

/* One map: the fields we use, the rest skipped. */
static int read_event(builder *b, rd *r)
{
    uint32_t line = r->line;
    event e;
    memset(&e, 0, sizeof e);
    val process = {V_ABSENT, 0, 0, 0}, type = {V_ABSENT, 0, 0, 0};
    e.f.k = e.key.k = e.value.k = e.old.k = V_ABSENT;
    r->slen = 0;
    r->p++; /* { */
    for (;;) {
        skip_ws(r);
        if (r->p >= r->end) return bad(r, "missing '}'");
        if (*r->p == '}') {
            r->p++;
            break;
        }
        val k, v;
        if (read_value(r, &k, 1) != 0) return -1;
        skip_ws(r);
        if (r->p < r->end && *r->p == '}') return bad(r, "a map needs an even number of forms");
        if (read_value(r, &v, 1) != 0) return -1;
        val *slot = NULL;
        if (k.k == V_KW || k.k == V_STR) {
            if (val_is(r, &k, "process"))
                slot = &process;
            else if (val_is(r, &k, "type"))
                slot = &type;
            else if (val_is(r, &k, "f"))
                slot = &e.f;
            else if (val_is(r, &k, "key"))
                slot = &e.key;
            else if (val_is(r, &k, "value"))
                slot = &e.value;
            else if (val_is(r, &k, "old"))
                slot = &e.old;
        }
        if (slot) {
            if (slot->k != V_ABSENT)
                return bad(r, "field :%.*s given twice", (int)k.len, r->scratch + k.off);
            *slot = v;
        }
    }
    if (process.k == V_ABSENT) return bad(r, "an event needs :process");
    if (process.k != V_INT) return 0; /* :nemesis and other non-client processes */
    e.process = process.i;
    if (val_is(r, &type, "invoke"))
        e.type = T_INVOKE;
    else if (val_is(r, &type, "ok"))
        e.type = T_OK;
    else if (val_is(r, &type, "fail"))
        e.type = T_FAIL;
    else if (val_is(r, &type, "info"))
        e.type = T_INFO;
    else
        return bad(r, ":type must be :invoke, :ok, :fail or :info");
    uint32_t saved = r->line;
    r->line = line; /* report and record the line the map starts on */
    int rc = on_event(b, r, &e, line);
    r->line = saved;
    return rc;
}

/* Drops :fail ops and :info gets, checks what only the end can tell, and
 * groups the rest by key. */
static int finish(builder *b, rd *r)
{
    lc_history *h = b->h;
    size_t n = 0;
    for (size_t i = 0; i < h->nops; i++) {
        lc_op *op = &h->ops[i];
        if (op->ret == LC_NEVER) op->info = 1;
        if (op->info && lc_is_read(op->f)) b->drop[i] = 1;
        lc_key *k = &h->keys[op->key];
        uint8_t family = is_set_fn(op->f) ? 2 : 1;
        if (k->family && k->family != family) {
            r->line = op->call_line;
            return bad(r, "a %s on a key used by %s ops (one family per key)", fnames[op->f],
                       k->family == 2 ? "set" : "string");
        }
        k->family = family;
        if (b->drop[i]) continue;
        if ((op->f == LC_PUT || op->f == LC_APPEND || op->f == LC_SADD || op->f == LC_SREM ||
             op->f == LC_CAS) &&
            !b->has_arg[i]) {
            r->line = op->call_line;
            return bad(r, "a %s without a value", fnames[op->f]);
        }
        if ((op->f == LC_SADD || op->f == LC_SREM) &&
            (op->arg_len == 0 || memchr(op->arg, ' ', op->arg_len))) {
            r->line = op->call_line;
            return bad(r, "a set member must be non-empty and without spaces");
        }
        h->ops[n++] = *op;
    }
    h->nops = n;
    for (size_t i = 0; i < n; i++) {
        lc_key *k = &h->keys[h->ops[i].key];
        if (lc_grow((void **)&k->ops, &k->cap, k->nops + 1, sizeof *k->ops) != 0) return oom(r);
        k->ops[k->nops++] = (uint32_t)i;
    }
    return 0;
}

int lc_history_parse(const char *text, size_t len, lc_history **out, char *err, size_t errlen)
{
    rd r = {text, text + len, 1, NULL, 0, 0, err, errlen, 0};
    builder b;
    memset(&b, 0, sizeof b);
    *out = NULL;
    if (err && errlen) err[0] = 0;
    lc_history *h = lc_malloc(sizeof *h);
    if (!h) {
        oom(&r);
        goto done;
    }
    memset(h, 0, sizeof *h);
    b.h = h;
    h->arena = lc_arena_new();
    if (!h->arena) {
        oom(&r);
        goto done;
    }
    bool in_vector = false;
    skip_ws(&r);
    if (r.p < r.end && *r.p == '[') {
        in_vector = true;
        r.p++;
    }
    for (;;) {
        skip_ws(&r);
        if (r.p >= r.end) {
            if (in_vector) bad(&r, "missing ']'");
            break;
        }
        if (in_vector && *r.p == ']') {
            r.p++;
            skip_ws(&r);
            if (r.p < r.end) bad(&r, "text after the closing ']'");
            break;
        }
        if (r.p + 1 < r.end && r.p[0] == '#' && r.p[1] == '_') {
            val x;
            r.p += 2;
            if (read_value(&r, &x, 1) != 0) break;
            continue;
        }
        if (*r.p != '{') {
            bad(&r, "an event must be a map {...}");
            break;
        }
        if (read_event(&b, &r) != 0) break;
    }
    if (!r.status) finish(&b, &r);
done:
    lc_free(r.scratch);
    lc_free(b.procs);
    lc_free(b.kt);
    lc_free(b.drop);
    lc_free(b.has_arg);
    if (r.status) {
        lc_history_free(h);
        return r.status;
    }
    *out = h;
    return 0;
}

int lc_history_load(const char *path, lc_history **out, char *err, size_t errlen)
{
    *out = NULL;
    bool is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        if (err && errlen) snprintf(err, errlen, "cannot open %s", path);
        return LC_BAD_INPUT;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;
    for (;;) {
        if (lc_grow((void **)&buf, &cap, len + 65536, 1) != 0) {
            if (err && errlen) snprintf(err, errlen, "out of memory");
            rc = LC_UNKNOWN;
            goto done;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) break;
    }
    if (ferror(f)) {
        if (err && errlen) snprintf(err, errlen, "cannot read %s", path);
        rc = LC_BAD_INPUT;
        goto done;
    }
    rc = lc_history_parse(buf, len, out, err, errlen);
done:
    lc_free(buf);
    if (!is_stdin) fclose(f);
    return rc;
}

void lc_history_free(lc_history *h)
{
    if (!h) return;
    for (size_t i = 0; i < h->nkeys; i++)
        lc_free(h->keys[i].ops);
    lc_free(h->keys);
    lc_free(h->ops);
    lc_arena_free(h->arena);
    lc_free(h);
}

size_t lc_history_ops(const lc_history *h)
{
    return h->nops;
}

size_t lc_history_keys(const lc_history *h)
{
    return h->nkeys;
}
