/* util.c -- allocation hooks, the Ready arena, small vectors, errors. */
#include <stdlib.h>

#include "raft/raft_int.h"

void *ra_malloc(const raft_alloc *a, size_t n)
{
    if (a && a->malloc) return a->malloc(a->ctx, n);
    return malloc(n);
}

void *ra_realloc(const raft_alloc *a, void *p, size_t n)
{
    if (a && a->realloc) return a->realloc(a->ctx, p, n);
    return realloc(p, n);
}

void ra_free(const raft_alloc *a, void *p)
{
    if (!p) return;
    if (a && a->free) {
        a->free(a->ctx, p);
        return;
    }
    free(p);
}

const char *raft_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
#define RAFT_X_STR(name, val, msg)                                                                 \
    case name:                                                                                     \
        return msg;
        RAFT_ERRORS(RAFT_X_STR)
#undef RAFT_X_STR
    default:
        return "unknown raft error";
    }
}

const char *raft_msg_type_name(int type)
{
    static const char *const names[] = {"?",
                                        "APP",
                                        "APP_RESP",
                                        "VOTE",
                                        "VOTE_RESP",
                                        "PREVOTE",
                                        "PREVOTE_RESP",
                                        "HEARTBEAT",
                                        "HEARTBEAT_RESP",
                                        "SNAP",
                                        "TIMEOUT_NOW",
                                        "TRANSFER_LEADER",
                                        "READ_INDEX",
                                        "READ_INDEX_RESP"};
    if (type < 1 || type > RAFT_MSG_TYPE_MAX) return "?";
    return names[type];
}

/* ------------------------------------------------------------------ arena */

#define ARENA_CHUNK ((size_t)64 * 1024)

void *arena_alloc(arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    arena_chunk *c = a->head;
    if (c && c->cap - c->used >= n) goto have;
    if (a->spare && a->spare->cap >= n) {
        c = a->spare;
        a->spare = c->next;
    } else {
        size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
        c = ra_malloc(a->al, sizeof(arena_chunk) + cap);
        if (!c) return NULL;
        c->cap = cap;
    }
    c->used = 0;
    if (a->head) {
        a->head->next = a->full;
        a->full = a->head;
    }
    c->next = NULL;
    a->head = c;
have:;
    void *p = c->mem + c->used;
    c->used += n;
    return p;
}

void arena_reset(arena *a)
{
    /* Keep up to a few standard chunks for reuse; free big ones. */
    arena_chunk *all = a->full, *c;
    if (a->head) {
        a->head->next = all;
        all = a->head;
    }
    a->head = a->full = NULL;
    size_t kept = 0;
    for (c = a->spare; c; c = c->next)
        kept++;
    while (all) {
        c = all;
        all = c->next;
        if (c->cap == ARENA_CHUNK && kept < 64) {
            c->next = a->spare;
            a->spare = c;
            kept++;
        } else {
            ra_free(a->al, c);
        }
    }
}

void arena_destroy(arena *a)
{
    arena_reset(a);
    while (a->spare) {
        arena_chunk *c = a->spare;
        a->spare = c->next;
        ra_free(a->al, c);
    }
}

int entvec_push(const raft_alloc *al, entvec *v, const raft_entry *e)
{
    if (v->n == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 64;
        raft_entry *nv = ra_realloc(al, v->v, nc * sizeof(*nv));
        if (!nv) return RAFT_ENOMEM;
        v->v = nv;
        v->cap = nc;
    }
    v->v[v->n++] = *e;
    return 0;
}

int raft_sink_push(raft_sink *s, uint64_t index, uint64_t term, uint8_t type, const void *data,
                   uint32_t len)
{
    if (s->err) return s->err;
    raft_entry e = {.index = index, .term = term, .type = type, .len = len, .data = NULL};
    if (len) {
        uint8_t *p = arena_alloc(s->ar, len);
        if (!p) return s->err = RAFT_ENOMEM;
        memcpy(p, data, len);
        e.data = p;
    }
    int rc = entvec_push(s->al, s->vec, &e);
    if (rc) s->err = rc;
    return rc;
}
