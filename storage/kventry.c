/* kventry.c -- the entry payload codec (layout in kventry.h). The decoder
 * never trusts a length or a count it read: each is checked against the
 * bytes that are left before anything is allocated for it. */
#include <stdlib.h>
#include <string.h>

#include "storage/kventry.h"
#include "storage/kverr.h"
#include "storage/kvint.h"

/* Version 2 added the database; version 1 entries (all in database 0) are
 * still read. */
#define KV_ENTRY_VERSION 2

static void put_u32(resp_buf *out, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    resp_add_raw(out, b, 4);
}

static void put_i64(resp_buf *out, int64_t sv)
{
    uint64_t v = (uint64_t)sv;
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    resp_add_raw(out, b, 8);
}

static void put_header(resp_buf *out, int kind, int64_t tau)
{
    unsigned char h[2] = {KV_ENTRY_VERSION, (unsigned char)kind};
    resp_add_raw(out, h, 2);
    put_i64(out, tau);
}

static void put_cmd(resp_buf *out, int argc, char **argv, const size_t *argvlen)
{
    put_u32(out, (uint32_t)argc);
    for (int i = 0; i < argc; i++) {
        put_u32(out, (uint32_t)argvlen[i]);
        resp_add_raw(out, argv[i], argvlen[i]);
    }
}

static void put_u8(resp_buf *out, int v)
{
    unsigned char b = (unsigned char)v;
    resp_add_raw(out, &b, 1);
}

void kventry_add_cmd(resp_buf *out, int argc, char **argv, const size_t *argvlen)
{
    put_cmd(out, argc, argv, argvlen);
}

void kventry_encode_cmd(resp_buf *out, int64_t tau, int db, int argc, char **argv,
                        const size_t *argvlen)
{
    put_header(out, KV_ENTRY_CMD, tau);
    put_u8(out, db);
    put_cmd(out, argc, argv, argvlen);
}

void kventry_begin_multi(resp_buf *out, int64_t tau, int db, uint32_t count)
{
    put_header(out, KV_ENTRY_MULTI, tau);
    put_u8(out, db);
    put_u32(out, count);
}

void kventry_begin_expire(resp_buf *out, int64_t tau, uint32_t count)
{
    put_header(out, KV_ENTRY_EXPIRE, tau);
    put_u32(out, count);
}

void kventry_add_expire(resp_buf *out, int db, const void *key, size_t keylen, int64_t expiry)
{
    put_u8(out, db);
    put_u32(out, (uint32_t)keylen);
    resp_add_raw(out, key, keylen);
    put_i64(out, expiry);
}

void kventry_set_expire_count(resp_buf *out, size_t start, uint32_t count)
{
    if (out->oom || out->len < start + 14) return;
    unsigned char *b = (unsigned char *)out->p + start + 10;
    b[0] = (unsigned char)count;
    b[1] = (unsigned char)(count >> 8);
    b[2] = (unsigned char)(count >> 16);
    b[3] = (unsigned char)(count >> 24);
}

/* ------------------------------------------------------------ decoding */

typedef struct rd {
    const unsigned char *p;
    size_t n;
} rd;

static int get_u32(rd *r, uint32_t *v)
{
    if (r->n < 4) return -1;
    *v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 |
         (uint32_t)r->p[3] << 24;
    r->p += 4;
    r->n -= 4;
    return 0;
}

static int get_i64(rd *r, int64_t *v)
{
    if (r->n < 8) return -1;
    uint64_t u = 0;
    for (int i = 7; i >= 0; i--)
        u = (u << 8) | r->p[i];
    *v = (int64_t)u;
    r->p += 8;
    r->n -= 8;
    return 0;
}

/* A copy with a NUL after it, so commands may use it as a C string. */
static int get_bytes(rd *r, char **out, size_t *outlen)
{
    uint32_t len;
    if (get_u32(r, &len) != 0 || len > r->n) return KV_ECORRUPT;
    char *b = kv_malloc((size_t)len + 1);
    if (!b) return KV_ENOMEM;
    memcpy(b, r->p, len);
    b[len] = '\0';
    r->p += len;
    r->n -= len;
    *out = b;
    *outlen = len;
    return 0;
}

/* argv, argvlen and the arguments (each followed by a NUL) are one block. */
static void argv_free(kv_argv *a)
{
    free(a->argv);
    a->argc = 0;
    a->argv = NULL;
    a->argvlen = NULL;
}

/* One allocation per command: a first pass checks every length against
 * what is left and sums them, the second copies. Each argument is
 * followed by a NUL, so commands may use it as a C string. */
static int get_cmd(rd *r, kv_argv *a)
{
    uint32_t argc, len;

    memset(a, 0, sizeof(*a));
    /* Each argument takes at least its 4-byte length. A command has at
     * least its name. */
    if (get_u32(r, &argc) != 0 || argc == 0 || argc > r->n / 4 || argc > INT32_MAX)
        return KV_ECORRUPT;
    rd scan = *r;
    size_t bytes = 0;
    for (uint32_t i = 0; i < argc; i++) {
        if (get_u32(&scan, &len) != 0 || len > scan.n) return KV_ECORRUPT;
        scan.p += len;
        scan.n -= len;
        bytes += (size_t)len + 1;
    }
    size_t head = (size_t)argc * (sizeof(char *) + sizeof(size_t));
    char *block = kv_malloc(head + bytes);
    if (!block) return KV_ENOMEM;
    a->argv = (char **)block;
    a->argvlen = (size_t *)(block + (size_t)argc * sizeof(char *));
    char *dst = block + head;
    for (uint32_t i = 0; i < argc; i++) {
        get_u32(r, &len); /* checked by the first pass */
        memcpy(dst, r->p, len);
        dst[len] = '\0';
        a->argv[i] = dst;
        a->argvlen[i] = len;
        dst += (size_t)len + 1;
        r->p += len;
        r->n -= len;
    }
    a->argc = (int)argc;
    return 0;
}

int kventry_peek(const void *p, size_t n, int *kind, int64_t *tau)
{
    const unsigned char *b = p;
    rd r;

    if (!p || n < 10 || (b[0] != KV_ENTRY_VERSION && b[0] != 1)) return KV_ECORRUPT;
    if (b[1] != KV_ENTRY_CMD && b[1] != KV_ENTRY_MULTI && b[1] != KV_ENTRY_EXPIRE)
        return KV_ECORRUPT;
    r.p = b + 2;
    r.n = n - 2;
    int64_t t;
    get_i64(&r, &t);
    if (kind) *kind = b[1];
    if (tau) *tau = t;
    return 0;
}

void kventry_free(kv_entry *e)
{
    if (e->cmds) {
        for (uint32_t i = 0; i < e->count; i++)
            argv_free(&e->cmds[i]);
        if (e->cmds != &e->one) free(e->cmds);
    }
    if (e->items) {
        for (uint32_t i = 0; i < e->count; i++)
            free(e->items[i].key);
        free(e->items);
    }
    memset(e, 0, sizeof(*e));
}

int kventry_decode(const void *p, size_t n, kv_entry *e)
{
    rd r;
    uint32_t count;
    int rc;

    memset(e, 0, sizeof(*e));
    rc = kventry_peek(p, n, &e->kind, &e->tau);
    if (rc != 0) return rc;
    r.p = (const unsigned char *)p + 10;
    r.n = n - 10;
    int v1 = ((const unsigned char *)p)[0] == 1;
    if (!v1 && e->kind != KV_ENTRY_EXPIRE) {
        if (r.n < 1) {
            kventry_free(e);
            return KV_ECORRUPT;
        }
        e->db = r.p[0];
        r.p++;
        r.n--;
    }

    switch (e->kind) {
    case KV_ENTRY_CMD:
        e->cmds = &e->one;
        e->count = 1;
        rc = get_cmd(&r, &e->cmds[0]);
        break;
    case KV_ENTRY_MULTI:
        /* A command takes at least 8 bytes (argc and one length). */
        if (get_u32(&r, &count) != 0 || count > r.n / 8) {
            rc = KV_ECORRUPT;
            break;
        }
        e->cmds = kv_calloc(count ? count : 1, sizeof(kv_argv));
        if (!e->cmds) {
            rc = KV_ENOMEM;
            break;
        }
        e->count = count;
        for (uint32_t i = 0; i < count && rc == 0; i++)
            rc = get_cmd(&r, &e->cmds[i]);
        break;
    case KV_ENTRY_EXPIRE:
        /* An item takes at least 12 bytes (key length and expiry). */
        if (get_u32(&r, &count) != 0 || count > r.n / (v1 ? 12 : 13)) {
            rc = KV_ECORRUPT;
            break;
        }
        e->items = kv_calloc(count ? count : 1, sizeof(kv_expire_item));
        if (!e->items) {
            rc = KV_ENOMEM;
            break;
        }
        e->count = count;
        for (uint32_t i = 0; i < count && rc == 0; i++) {
            if (!v1) {
                if (r.n < 1) {
                    rc = KV_ECORRUPT;
                    break;
                }
                e->items[i].db = r.p[0];
                r.p++;
                r.n--;
            }
            rc = get_bytes(&r, &e->items[i].key, &e->items[i].keylen);
            if (rc == 0 && get_i64(&r, &e->items[i].expiry) != 0) rc = KV_ECORRUPT;
        }
        break;
    default:
        rc = KV_ECORRUPT;
    }
    /* Trailing bytes are a malformation too: an entry is exactly its parts. */
    if (rc == 0 && r.n != 0) rc = KV_ECORRUPT;
    if (rc != 0) kventry_free(e);
    return rc;
}
