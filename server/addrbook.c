/* addrbook.c -- the cluster's address book codec (see addrbook.h). */
#include "server/addrbook.h"

#include <stdio.h>
#include <string.h>

static int host_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == ':' || ch == '_' || ch == '-';
}

int addrbook_host_ok(const char *host)
{
    size_t n = strlen(host);
    if (n == 0 || n > ADDRBOOK_HOST_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (!host_char(host[i])) return 0;
    return 1;
}

/* A decimal number without leading zeros in s[*i..end), up to max; stops
 * at the first non-digit. */
static int number(const char *s, size_t *i, size_t end, uint64_t max, uint64_t *v)
{
    size_t start = *i;
    uint64_t x = 0;
    while (*i < end && s[*i] >= '0' && s[*i] <= '9') {
        unsigned d = (unsigned)(s[*i] - '0');
        if (d > max || x > (max - d) / 10) return -1;
        x = x * 10 + d;
        (*i)++;
    }
    if (*i == start || (s[start] == '0' && *i - start > 1)) return -1;
    *v = x;
    return 0;
}

int addrbook_parse_addr(const char *s, size_t len, char host[ADDRBOOK_HOST_MAX + 1], int *port)
{
    size_t colon = len; /* the port is after the last ':' */
    while (colon > 0 && s[colon - 1] != ':')
        colon--;
    if (colon <= 1 || colon - 1 > ADDRBOOK_HOST_MAX) return -1;
    for (size_t j = 0; j < colon - 1; j++)
        if (!host_char(s[j])) return -1;
    size_t p = colon;
    uint64_t v;
    if (number(s, &p, len, 65535, &v) || p != len || v == 0) return -1;
    memcpy(host, s, colon - 1);
    host[colon - 1] = '\0';
    *port = (int)v;
    return 0;
}

int addrbook_decode(const void *buf, size_t len, addrbook *out)
{
    const char *s = buf;
    size_t i = 0;
    memset(out, 0, sizeof(*out));
    if (number(s, &i, len, UINT64_MAX, &out->max_id) || out->max_id == 0 || i == len || s[i] != ';')
        return -1;
    i++;
    while (i < len) {
        if (out->n == ADDRBOOK_MAX) return -1;
        addrbook_entry *e = &out->e[out->n];
        if (number(s, &i, len, out->max_id, &e->id) || e->id == 0 || i == len || s[i] != '=')
            return -1;
        i++;
        size_t end = i; /* the entry runs to the next ',' */
        while (end < len && s[end] != ',')
            end++;
        if (addrbook_parse_addr(s + i, end - i, e->host, &e->port)) return -1;
        for (uint32_t k = 0; k < out->n; k++)
            if (out->e[k].id == e->id) return -1;
        out->n++;
        i = end;
        if (i < len && ++i == len) return -1; /* a trailing ',' */
    }
    return 0;
}

size_t addrbook_encode(const addrbook *b, char *buf, size_t cap)
{
    if (b->max_id == 0 || b->n > ADDRBOOK_MAX) return 0;
    int w = snprintf(buf, cap, "%llu;", (unsigned long long)b->max_id);
    if (w < 0 || (size_t)w >= cap) return 0;
    size_t off = (size_t)w;
    for (uint32_t k = 0; k < b->n; k++) {
        const addrbook_entry *e = &b->e[k];
        if (!e->id || e->id > b->max_id || !addrbook_host_ok(e->host) || e->port < 1 ||
            e->port > 65535)
            return 0;
        for (uint32_t j = 0; j < k; j++)
            if (b->e[j].id == e->id) return 0;
        w = snprintf(buf + off, cap - off, "%s%llu=%s:%d", k ? "," : "", (unsigned long long)e->id,
                     e->host, e->port);
        if (w < 0 || (size_t)w >= cap - off) return 0;
        off += (size_t)w;
    }
    return off;
}

const addrbook_entry *addrbook_find(const addrbook *b, uint64_t id)
{
    for (uint32_t k = 0; k < b->n; k++)
        if (b->e[k].id == id) return &b->e[k];
    return NULL;
}
