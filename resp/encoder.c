/* encoder.c -- reply encoding, byte for byte as redis-server 7.0's
 * addReply* family (src/networking.c) writes it.
 *
 * Hot path: one capacity check per element, integers written with a
 * two-digits-at-a-time table (no printf), growth by doubling. Only doubles
 * and formatted errors go through snprintf. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "resp/alloc.h"
#include "resp/resp.h"

#define MAX_HDR 24         /* type byte, up to 20 digits and sign, CRLF */
#define DEFERRED_RESERVE 5 /* "*NN\r\n": the header most deferred replies need */

void resp_buf_init(resp_buf *b, int proto)
{
    b->p = NULL;
    b->len = b->cap = b->off = 0;
    b->proto = proto;
    b->oom = 0;
}

void resp_buf_free(resp_buf *b)
{
    if (b->p) resp_free(b->p - b->off);
    b->p = NULL;
    b->len = b->cap = b->off = 0;
}

void resp_buf_reset(resp_buf *b)
{
    if (b->p) {
        b->p -= b->off;
        b->cap += b->off;
    }
    b->off = 0;
    b->len = 0;
    b->oom = 0;
}

void resp_buf_consume(resp_buf *b, size_t n)
{
    if (n >= b->len) { /* all written: rewind to the start, keep oom */
        if (b->p) {
            b->p -= b->off;
            b->cap += b->off;
        }
        b->off = 0;
        b->len = 0;
        return;
    }
    b->p += n;
    b->len -= n;
    b->cap -= n;
    b->off += n;
}

/* Makes room for n more bytes; NULL (and b->oom) when it cannot. */
static char *grow(resp_buf *b, size_t n)
{
    if (b->oom) return NULL;
    if (b->off) { /* reclaim what was consumed before allocating more */
        memmove(b->p - b->off, b->p, b->len);
        b->p -= b->off;
        b->cap += b->off;
        b->off = 0;
        if (b->cap - b->len >= n) return b->p + b->len;
    }
    size_t need = b->len + n, ncap = b->cap ? b->cap : 256;
    if (need < n) goto err_oom;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2) {
            ncap = need;
            break;
        }
        ncap *= 2;
    }
    char *np = resp_realloc(b->p, ncap);
    if (!np) goto err_oom;
    b->p = np;
    b->cap = ncap;
    return b->p + b->len;
err_oom:
    b->oom = 1;
    return NULL;
}

static inline char *room(resp_buf *b, size_t n)
{
    if (__builtin_expect(b->cap - b->len < n || b->oom, 0)) return grow(b, n);
    return b->p + b->len;
}

static const char digits2[] = "00010203040506070809"
                              "10111213141516171819"
                              "20212223242526272829"
                              "30313233343536373839"
                              "40414243444546474849"
                              "50515253545556575859"
                              "60616263646566676869"
                              "70717273747576777879"
                              "80818283848586878889"
                              "90919293949596979899";

static int ndigits(uint64_t v)
{
    int n = 1;
    for (;;) {
        if (v < 10) return n;
        if (v < 100) return n + 1;
        if (v < 1000) return n + 2;
        if (v < 10000) return n + 3;
        v /= 10000;
        n += 4;
    }
}

/* Writes v in decimal at dst (room for 20 bytes); returns its length. */
static size_t i64toa(char *dst, int64_t sv)
{
    size_t neg = sv < 0;
    uint64_t v = neg ? (uint64_t)0 - (uint64_t)sv : (uint64_t)sv;
    if (neg) *dst++ = '-';
    size_t n = (size_t)ndigits(v), i = n;
    while (v >= 100) {
        unsigned k = (unsigned)(v % 100) * 2;
        v /= 100;
        dst[--i] = digits2[k + 1];
        dst[--i] = digits2[k];
    }
    if (v >= 10) {
        unsigned k = (unsigned)v * 2;
        dst[--i] = digits2[k + 1];
        dst[--i] = digits2[k];
    } else {
        dst[--i] = (char)('0' + v);
    }
    return n + neg;
}

/* "<t><n>\r\n" at dst; returns its length. */
static size_t hdr_at(char *dst, char t, int64_t n)
{
    dst[0] = t;
    size_t k = 1 + i64toa(dst + 1, n);
    dst[k] = '\r';
    dst[k + 1] = '\n';
    return k + 2;
}

static void hdr(resp_buf *b, char t, int64_t n)
{
    char *d = room(b, MAX_HDR);
    if (d) b->len += hdr_at(d, t, n);
}

void resp_add_raw(resp_buf *b, const void *p, size_t n)
{
    char *d = room(b, n);
    if (!d) return;
    if (n) memcpy(d, p, n);
    b->len += n;
}

static void add_lit(resp_buf *b, const char *s, size_t n)
{
    resp_add_raw(b, s, n);
}

void resp_add_status_len(resp_buf *b, const char *s, size_t n)
{
    if (n > SIZE_MAX - 3) {
        b->oom = 1;
        return;
    }
    char *d = room(b, n + 3);
    if (!d) return;
    d[0] = '+';
    memcpy(d + 1, s, n);
    d[n + 1] = '\r';
    d[n + 2] = '\n';
    b->len += n + 3;
}

void resp_add_simple(resp_buf *b, const char *s)
{
    resp_add_status_len(b, s, strlen(s));
}

void resp_add_ok(resp_buf *b)
{
    add_lit(b, "+OK\r\n", 5);
}

/* As addReplyErrorFormat: trim CR/LF at the ends, the rest become spaces. */
static void add_error_len(resp_buf *b, const char *s, size_t n)
{
    if (n && s[0] == '-') s++, n--;
    while (n && (s[0] == '\r' || s[0] == '\n'))
        s++, n--;
    while (n && (s[n - 1] == '\r' || s[n - 1] == '\n'))
        n--;
    char *d = room(b, n + 3);
    if (!d) return;
    d[0] = '-';
    for (size_t i = 0; i < n; i++)
        d[i + 1] = (s[i] == '\r' || s[i] == '\n') ? ' ' : s[i];
    d[n + 1] = '\r';
    d[n + 2] = '\n';
    b->len += n + 3;
}

void resp_add_error(resp_buf *b, const char *s)
{
    add_error_len(b, s, strlen(s));
}

void resp_add_errorf(resp_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof(small)) {
        add_error_len(b, small, (size_t)n);
        return;
    }
    /* Long: format into the buffer's own spare room, then encode it in
     * place after that room (no temporary allocation). */
    char *d = room(b, 2 * ((size_t)n + 3));
    if (!d) return;
    char *tmp = d + n + 3;
    va_start(ap, fmt);
    vsnprintf(tmp, (size_t)n + 1, fmt, ap);
    va_end(ap);
    /* add_error_len writes at most n + 3 bytes starting at d, below tmp. */
    add_error_len(b, tmp, (size_t)n);
}

void resp_add_int(resp_buf *b, int64_t v)
{
    hdr(b, ':', v);
}

void resp_add_bulk(resp_buf *b, const void *p, size_t n)
{
    if (n > SIZE_MAX - MAX_HDR - 2) {
        b->oom = 1;
        return;
    }
    char *d = room(b, MAX_HDR + n + 2);
    if (!d) return;
    size_t k = hdr_at(d, '$', (int64_t)n);
    if (n) memcpy(d + k, p, n);
    d[k + n] = '\r';
    d[k + n + 1] = '\n';
    b->len += k + n + 2;
}

void resp_add_bulk_str(resp_buf *b, const char *s)
{
    resp_add_bulk(b, s, strlen(s));
}

void resp_add_bulk_int(resp_buf *b, int64_t v)
{
    char num[24];
    size_t n = i64toa(num, v);
    char *d = room(b, 4 + n + 2);
    if (!d) return;
    d[0] = '$';
    d[1] = (char)('0' + n / 10);
    size_t k = n >= 10 ? 2 : 1;
    d[k] = (char)('0' + n % 10);
    d[k + 1] = '\r';
    d[k + 2] = '\n';
    memcpy(d + k + 3, num, n);
    d[k + 3 + n] = '\r';
    d[k + 4 + n] = '\n';
    b->len += k + 5 + n;
}

void resp_add_null(resp_buf *b)
{
    if (b->proto == 2)
        add_lit(b, "$-1\r\n", 5);
    else
        add_lit(b, "_\r\n", 3);
}

void resp_add_null_array(resp_buf *b)
{
    if (b->proto == 2)
        add_lit(b, "*-1\r\n", 5);
    else
        add_lit(b, "_\r\n", 3);
}

void resp_add_array(resp_buf *b, int64_t n)
{
    hdr(b, '*', n);
}

void resp_add_map(resp_buf *b, int64_t n)
{
    if (b->proto == 2)
        hdr(b, '*', n * 2);
    else
        hdr(b, '%', n);
}

void resp_add_set(resp_buf *b, int64_t n)
{
    hdr(b, b->proto == 2 ? '*' : '~', n);
}

void resp_add_push(resp_buf *b, int64_t n)
{
    hdr(b, b->proto == 2 ? '*' : '>', n);
}

void resp_add_double(resp_buf *b, double d)
{
    if (isinf(d)) {
        /* Spelled out as Redis does, whatever the libc would print. */
        if (b->proto == 2)
            resp_add_bulk_str(b, d > 0 ? "inf" : "-inf");
        else
            add_lit(b, d > 0 ? ",inf\r\n" : ",-inf\r\n", d > 0 ? 6 : 7);
        return;
    }
    char num[64];
    int n = snprintf(num, sizeof(num), "%.17g", d);
    if (n < 0 || (size_t)n >= sizeof(num)) return;
    if (b->proto == 2) {
        resp_add_bulk(b, num, (size_t)n);
    } else {
        char *o = room(b, (size_t)n + 3);
        if (!o) return;
        o[0] = ',';
        memcpy(o + 1, num, (size_t)n);
        o[n + 1] = '\r';
        o[n + 2] = '\n';
        b->len += (size_t)n + 3;
    }
}

void resp_add_bool(resp_buf *b, int v)
{
    if (b->proto == 2)
        add_lit(b, v ? ":1\r\n" : ":0\r\n", 4);
    else
        add_lit(b, v ? "#t\r\n" : "#f\r\n", 4);
}

void resp_add_verbatim(resp_buf *b, const char *fmt, const void *p, size_t n)
{
    if (b->proto == 2) {
        resp_add_bulk(b, p, n);
        return;
    }
    if (n > SIZE_MAX - MAX_HDR - 6) {
        b->oom = 1;
        return;
    }
    char *d = room(b, MAX_HDR + 4 + n + 2);
    if (!d) return;
    size_t k = hdr_at(d, '=', (int64_t)(n + 4));
    for (int i = 0; i < 3; i++)
        d[k++] = (fmt && *fmt) ? *fmt++ : ' ';
    d[k++] = ':';
    if (n) memcpy(d + k, p, n);
    d[k + n] = '\r';
    d[k + n + 1] = '\n';
    b->len += k + n + 2;
}

size_t resp_add_deferred(resp_buf *b)
{
    size_t mark = b->len;
    char *d = room(b, DEFERRED_RESERVE);
    if (d) b->len += DEFERRED_RESERVE;
    return mark;
}

static void set_deferred(resp_buf *b, size_t mark, char t, int64_t n)
{
    if (b->oom || mark > b->len || b->len - mark < DEFERRED_RESERVE) return;
    char h[MAX_HDR];
    size_t k = hdr_at(h, t, n);
    if (k > DEFERRED_RESERVE && !room(b, k - DEFERRED_RESERVE)) return;
    char *at = b->p + mark;
    if (k != DEFERRED_RESERVE) {
        memmove(at + k, at + DEFERRED_RESERVE, b->len - mark - DEFERRED_RESERVE);
        b->len = b->len - DEFERRED_RESERVE + k;
    }
    memcpy(at, h, k);
}

void resp_set_deferred_array(resp_buf *b, size_t mark, int64_t n)
{
    set_deferred(b, mark, '*', n);
}

void resp_set_deferred_map(resp_buf *b, size_t mark, int64_t n)
{
    if (b->proto == 2)
        set_deferred(b, mark, '*', n * 2);
    else
        set_deferred(b, mark, '%', n);
}

void resp_set_deferred_set(resp_buf *b, size_t mark, int64_t n)
{
    set_deferred(b, mark, b->proto == 2 ? '*' : '~', n);
}
