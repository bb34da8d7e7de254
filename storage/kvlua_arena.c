/* kvlua_arena.c -- the deterministic arena of the scripting VM
 * (kvlua_arena.h). */
#include "storage/kvlua_arena.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

/* Size classes: 16-byte steps up to 512 bytes (classes 1..32), then powers
 * of two (class 33 is 1 KiB, ... class 55 is 4 GiB). */
#define SMALL_MAX 512
#define NCLASSES 64

typedef struct arena_hdr {
    uint64_t bump;  /* offset of the first never-used byte */
    uint64_t used;  /* counted bytes of live blocks */
    uint64_t limit; /* 0: none */
    uint64_t exceeded;
    uint64_t free[NCLASSES]; /* offset of the first free block of a class, 0: none */
} arena_hdr;

#define HDR_SIZE ((sizeof(arena_hdr) + 63) & ~(size_t)63)

static unsigned char *base; /* NULL until mapped */

static arena_hdr *hdr(void)
{
    return (arena_hdr *)base;
}

int kvlua_arena_map(char *err, size_t errlen)
{
    if (base) return 0;
    void *p = mmap((void *)KVLUA_ARENA_ADDR, KVLUA_ARENA_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED || p != (void *)KVLUA_ARENA_ADDR) {
        int e = errno;
        if (p != MAP_FAILED) munmap(p, KVLUA_ARENA_SIZE);
        snprintf(err, errlen, "the scripting arena at %#llx could not be mapped: %s",
                 (unsigned long long)KVLUA_ARENA_ADDR,
                 p == MAP_FAILED ? strerror(e) : "address taken");
        return -1;
    }
    base = p;
    kvlua_arena_reset();
    return 0;
}

void kvlua_arena_reset(void)
{
    memset(base, 0, HDR_SIZE);
    hdr()->bump = HDR_SIZE;
}

static int class_of(size_t n, size_t *csize)
{
    if (n <= SMALL_MAX) {
        int c = (int)((n + 15) / 16);
        if (c == 0) c = 1;
        *csize = (size_t)c * 16;
        return c;
    }
    int c = 33;
    size_t s = 1024;
    while (s < n) {
        s <<= 1;
        c++;
    }
    *csize = s;
    return c;
}

static void *take(size_t n, int limited)
{
    arena_hdr *h = hdr();
    size_t cs;
    int c = class_of(n, &cs);
    if (c >= NCLASSES) return NULL;
    if (limited && h->limit && h->used + cs > h->limit) {
        h->exceeded = 1;
        return NULL;
    }
    void *p;
    if (h->free[c]) {
        p = base + h->free[c];
        uint64_t next;
        memcpy(&next, p, sizeof(next));
        h->free[c] = next;
    } else {
        if (h->bump + cs > KVLUA_ARENA_SIZE) {
            h->exceeded = 1;
            return NULL;
        }
        p = base + h->bump;
        h->bump += cs;
    }
    h->used += cs;
    return p;
}

static void give(void *p, size_t n)
{
    arena_hdr *h = hdr();
    size_t cs;
    int c = class_of(n, &cs);
    uint64_t next = h->free[c];
    memcpy(p, &next, sizeof(next));
    h->free[c] = (uint64_t)((unsigned char *)p - base);
    h->used -= cs;
}

void *kvlua_arena_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    if (nsize == 0) {
        if (ptr) give(ptr, osize);
        return NULL;
    }
    if (!ptr) return take(nsize, 1);
    size_t ocs, ncs;
    if (class_of(osize, &ocs) == class_of(nsize, &ncs)) return ptr;
    /* Lua never expects a shrink to fail: no limit for one. */
    void *q = take(nsize, nsize > osize);
    if (!q) return NULL;
    memcpy(q, ptr, osize < nsize ? osize : nsize);
    give(ptr, osize);
    return q;
}

uint64_t kvlua_arena_used(void)
{
    return base ? hdr()->used : 0;
}

void kvlua_arena_set_limit(uint64_t limit)
{
    hdr()->limit = limit;
    hdr()->exceeded = 0;
}

int kvlua_arena_exceeded(void)
{
    return hdr()->exceeded != 0;
}

size_t kvlua_arena_image_size(void)
{
    return (size_t)hdr()->bump;
}

void kvlua_arena_save(void *img, size_t len)
{
    memcpy(img, base, len);
}

void kvlua_arena_restore(const void *img, size_t len)
{
    memcpy(base, img, len);
}
