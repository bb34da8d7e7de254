/* trace.h -- shared by the parser tests and the fuzz target: run the parser
 * over an input split at given points and describe everything it returned
 * as one printable string, so two runs compare with strcmp.
 *
 * The description: each command as its arguments joined by '|' and ended
 * by ';' (an inline one prefixed "i:"), bytes outside printable ASCII and
 * the characters |;\ written \xHH; then the final state: "NEED", "ERR:<msg>"
 * or "NOMEM". */
#ifndef RAFTKV_TESTS_RESP_TRACE_H
#define RAFTKV_TESTS_RESP_TRACE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp/resp.h"

/* New parsers get resp_parser_set_unauthenticated(p, trace_unauth). */
static int trace_unauth;

typedef struct trace {
    char *s;
    size_t len, cap;
    int bad_nul; /* an argument was not followed by its NUL */
} trace;

static void trace_put(trace *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t c = t->cap ? t->cap : 256;
        while (c < t->len + n + 1)
            c *= 2;
        t->s = realloc(t->s, c);
        if (!t->s) abort();
        t->cap = c;
    }
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = '\0';
}

static void trace_arg(trace *t, const char *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)a[i];
        if (c < 0x20 || c > 0x7e || c == '|' || c == ';' || c == '\\') {
            char h[5];
            snprintf(h, sizeof(h), "\\x%02x", c);
            trace_put(t, h, 4);
        } else {
            trace_put(t, (const char *)&c, 1);
        }
    }
}

static void trace_cmd(trace *t, const resp_cmd *c)
{
    if (c->inline_req) trace_put(t, "i:", 2);
    for (int i = 0; i < c->argc; i++) {
        if (i) trace_put(t, "|", 1);
        trace_arg(t, c->argv[i], c->argvlen[i]);
        if (c->argv[i][c->argvlen[i]] != '\0') t->bad_nul = 1;
    }
    trace_put(t, ";", 1);
}

/* Drains every command; appends the final state. Returns it. */
static int trace_drain(trace *t, resp_parser *p)
{
    resp_cmd c;
    int r;
    while ((r = resp_parser_next(p, &c)) == RESP_CMD)
        trace_cmd(t, &c);
    return r;
}

static void trace_end(trace *t, resp_parser *p, int r)
{
    if (r == RESP_NEED_MORE) {
        trace_put(t, "NEED", 4);
    } else if (r == RESP_ERROR) {
        trace_put(t, "ERR:", 4);
        trace_put(t, resp_parser_error(p), strlen(resp_parser_error(p)));
    } else {
        trace_put(t, "NOMEM", 5);
    }
}

/* Feeds in[0..n) in pieces ending at cuts[0..ncuts) (increasing) and then
 * at n, draining after each piece. The caller frees t.s. */
static trace trace_run(const void *in, size_t n, const size_t *cuts, size_t ncuts,
                       const resp_limits *lim)
{
    trace t = {0};
    resp_parser *p = resp_parser_new(lim);
    if (!p) abort();
    resp_parser_set_unauthenticated(p, trace_unauth);
    const char *s = in;
    size_t at = 0;
    int r = RESP_NEED_MORE;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : n;
        if (end < at || end > n) continue;
        if (end > at && resp_parser_feed(p, s + at, end - at) != 0) abort();
        at = end;
        r = trace_drain(&t, p);
        if (r < 0) break;
    }
    trace_end(&t, p, r);
    resp_parser_free(p);
    return t;
}

/* One byte at a time. */
static trace trace_bytewise(const void *in, size_t n, const resp_limits *lim)
{
    trace t = {0};
    resp_parser *p = resp_parser_new(lim);
    if (!p) abort();
    resp_parser_set_unauthenticated(p, trace_unauth);
    int r = RESP_NEED_MORE;
    if (n == 0) r = trace_drain(&t, p);
    for (size_t i = 0; i < n; i++) {
        if (resp_parser_feed(p, (const char *)in + i, 1) != 0) abort();
        r = trace_drain(&t, p);
        if (r < 0) break;
    }
    trace_end(&t, p, r);
    resp_parser_free(p);
    return t;
}

#endif
