/* proxyarg.c -- RAFT.PROXY's client description (server/proxyarg.h). */
#include <stdio.h>
#include <string.h>

#include "server/proxyarg.h"

/* A decimal of at most 9 digits at p (before end): its value, or -1. */
static long digits(const char *p, const char *end, const char **after)
{
    long v = 0;
    int n = 0;
    while (p < end && *p >= '0' && *p <= '9' && n < 9) {
        v = v * 10 + (*p - '0');
        p++;
        n++;
    }
    *after = p;
    return n ? v : -1;
}

int proxyarg_parse(const char *a, size_t len, proxyarg *o)
{
    const char *p = a, *end = a + len;
    memset(o, 0, sizeof(*o));
    o->proto = len && a[0] == '3' ? 3 : 2;
    o->db = 0;
    if (len < 2 || a[1] != ':') return 0;
    p = a + 2;
    o->db = (int)digits(p, end, &p);
    if (p < end && *p != ':') o->db = -1; /* not a number: refused by the caller */
    while (p < end && *p != ':')
        p++;
    if (p >= end) return 0;
    p++; /* past the ':' after db */
    if (p < end && *p == '@') {
        const char *q;
        long ulen = digits(p + 1, end, &q);
        if (ulen < 0 || q >= end || *q != ':' || (size_t)(end - q - 1) < (size_t)ulen) return -1;
        o->user = q + 1;
        o->ulen = (size_t)ulen;
        if (memchr(o->user, '\0', o->ulen)) return -1;
        p = o->user + ulen;
        if (p == end) return 0;
        if (*p != ':') return -1;
        p++;
    }
    if (p < end) {
        o->addr = p;
        o->alen = (size_t)(end - p);
    }
    return 0;
}

size_t proxyarg_format(char *buf, size_t cap, int proto, int db, const char *user, size_t ulen,
                       const char *addr)
{
    int w;
    if (user)
        w = snprintf(buf, cap, "%d:%d:@%zu:%.*s%s%s", proto == 3 ? 3 : 2, db, ulen, (int)ulen, user,
                     addr ? ":" : "", addr ? addr : "");
    else
        w = snprintf(buf, cap, "%d:%d%s%s", proto == 3 ? 3 : 2, db, addr ? ":" : "",
                     addr ? addr : "");
    return w < 0 ? 0 : (size_t)w;
}
