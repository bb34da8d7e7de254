/* util.c -- allocation, hashing, the byte arena and text helpers. */
#include "lc_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long fail_after = -1;

void lc_fail_alloc_after(long n)
{
    fail_after = n;
}

static int alloc_allowed(void)
{
    if (fail_after < 0) return 1;
    if (fail_after == 0) return 0;
    fail_after--;
    return 1;
}

void *lc_malloc(size_t n)
{
    return alloc_allowed() ? malloc(n ? n : 1) : NULL;
}

void *lc_realloc(void *p, size_t n)
{
    return alloc_allowed() ? realloc(p, n ? n : 1) : NULL;
}

void lc_free(void *p)
{
    free(p);
}

int lc_grow(void **p, size_t *cap, size_t need, size_t sz)
{
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    if (n > SIZE_MAX / sz) return -1;
    void *q = lc_realloc(*p, n * sz);
    if (!q) return -1;
    *p = q;
    *cap = n;
    return 0;
}

double lc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------- hashing */

#define HBASE (0x1f3a5c7e9b2d4f61ULL % LC_HMOD)

uint64_t lc_hmul(uint64_t a, uint64_t b)
{
    unsigned __int128 p = (unsigned __int128)a * b;
    uint64_t lo = (uint64_t)(p & LC_HMOD), hi = (uint64_t)(p >> 61);
    uint64_t r = lo + hi;
    return r >= LC_HMOD ? r - LC_HMOD : r;
}

uint64_t lc_hadd(uint64_t a, uint64_t b)
{
    uint64_t r = a + b;
    return r >= LC_HMOD ? r - LC_HMOD : r;
}

uint64_t lc_hash_bytes(const char *p, size_t n)
{
    uint64_t h = 0;
    for (size_t i = 0; i < n; i++)
        h = lc_hadd(lc_hmul(h, HBASE), (uint64_t)(unsigned char)p[i] + 1);
    return h;
}

uint64_t lc_hash_pow(size_t n)
{
    uint64_t r = 1, b = HBASE;
    while (n) {
        if (n & 1) r = lc_hmul(r, b);
        b = lc_hmul(b, b);
        n >>= 1;
    }
    return r;
}

uint64_t lc_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* ---------------------------------------------------------- arena */

#define CHUNK (1u << 20)

struct chunk {
    struct chunk *next;
    size_t used, cap;
    char data[];
};

struct lc_arena {
    struct chunk *head;
    size_t bytes;
};

lc_arena *lc_arena_new(void)
{
    lc_arena *a = lc_malloc(sizeof *a);
    if (a) {
        a->head = NULL;
        a->bytes = 0;
    }
    return a;
}

void lc_arena_free(lc_arena *a)
{
    if (!a) return;
    struct chunk *c = a->head;
    while (c) {
        struct chunk *n = c->next;
        lc_free(c);
        c = n;
    }
    lc_free(a);
}

char *lc_arena_dup(lc_arena *a, const char *p, size_t n)
{
    struct chunk *c = a->head;
    if (!c || c->cap - c->used < n + 1) {
        size_t cap = n + 1 > CHUNK / 4 ? n + 1 : CHUNK;
        struct chunk *nc = lc_malloc(sizeof *nc + cap);
        if (!nc) return NULL;
        nc->used = 0;
        nc->cap = cap;
        a->bytes += sizeof *nc + cap;
        /* A big value gets a chunk of its own behind the current one, so
         * the current chunk's free space is not wasted. */
        if (c && cap != CHUNK) {
            nc->next = c->next;
            c->next = nc;
        } else {
            nc->next = c;
            a->head = nc;
        }
        c = nc;
    }
    char *d = c->data + c->used;
    if (n) memcpy(d, p, n);
    d[n] = 0;
    c->used += n + 1;
    return d;
}

size_t lc_arena_bytes(const lc_arena *a)
{
    return a->bytes;
}

/* ---------------------------------------------------------- text */

size_t lc_quote(char *buf, size_t cap, const char *p, size_t n, size_t max)
{
    size_t o = 0;
    if (cap == 0) return 0;
#define PUT(ch)                                                                                    \
    do {                                                                                           \
        if (o + 1 < cap) buf[o++] = (ch);                                                          \
    } while (0)
    size_t shown = (max && n > max) ? max : n;
    PUT('"');
    for (size_t i = 0; i < shown; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"' || c == '\\') {
            PUT('\\');
            PUT((char)c);
        } else if (c == '\n') {
            PUT('\\');
            PUT('n');
        } else if (c < 32 || c == 127) {
            char tmp[8];
            snprintf(tmp, sizeof tmp, "\\u%04x", c);
            for (char *t = tmp; *t; t++)
                PUT(*t);
        } else {
            PUT((char)c);
        }
    }
    PUT('"');
    if (shown < n) {
        char tmp[48];
        snprintf(tmp, sizeof tmp, "...(%zu bytes)", n);
        for (char *t = tmp; *t; t++)
            PUT(*t);
    }
#undef PUT
    buf[o] = 0;
    return o;
}

void lc_sb_printf(lc_strbuf *b, const char *fmt, ...)
{
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        if (lc_grow((void **)&b->p, &b->cap, b->len + (size_t)n + 1, 1) != 0) {
            b->oom = 1;
            return;
        }
    }
}
