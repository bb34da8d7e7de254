/* parser.c -- the request parser, after redis-server 7.0's
 * processInputBuffer / processInlineBuffer / processMultibulkBuffer
 * (src/networking.c) and sdssplitargs (src/sds.c).
 *
 * Byte-for-byte compatibility notes, each checked against redis-server 7.0:
 * - A line ends at '\n' (inline) or at '\r' (multibulk headers), found the
 *   way strchr() finds it in Redis's NUL-terminated query buffer: a NUL
 *   before the terminator hides it, so such a request never completes and
 *   ends as "too big ..." once more than max_inline_len bytes are pending.
 * - A multibulk header line is "\r" plus any one byte; a bulk is its bytes
 *   plus any two bytes. Redis checks neither for "\n" / "\r\n".
 * - Counts and lengths are parsed with string2ll's strictness (no '+', no
 *   leading zeros, no "-0", at most 20 characters).
 *
 * One deliberate difference: Redis's "too big" checks look only at bytes
 * pending without a terminator, so their outcome depends on how the bytes
 * were split into reads. Here a line is too big when more than
 * max_inline_len bytes precede its terminator, whatever the fragmentation;
 * that is what Redis does when the bytes arrive one at a time.
 *
 * Memory. Small arguments are returned in place, pointing into the input
 * buffer (the unchecked byte after a bulk becomes its NUL). A bulk of
 * BIG_ARG bytes or more that has not fully arrived gets a buffer of its
 * exact size, and feed() copies into it directly, so a 500 MB argument is
 * copied once. Consumed bytes are dropped lazily: the buffer is compacted
 * only when it must grow and the consumed part is at least half of it. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "resp/alloc.h"
#include "resp/resp.h"

#define BIG_ARG (32 * 1024)        /* Redis's PROTO_MBULK_BIG_ARG */
#define LONG_STR_SIZE 21           /* string2ll refuses strings this long */
#define SHRINK_ABOVE (1024 * 1024) /* an idle input buffer larger than this */
#define SHRINK_TO (16 * 1024)      /* ... goes back to this size */

enum { REQ_NONE = 0, REQ_INLINE, REQ_MULTIBULK };
enum { STEP_NEED = 0, STEP_CMD, STEP_EMPTY, STEP_FAIL };

struct resp_parser {
    resp_limits lim;

    char *buf; /* input; [start, len) is not yet consumed */
    size_t len, cap;
    size_t start; /* where the request being parsed begins */
    size_t pos;   /* where parsing resumes */

    size_t scanned; /* bytes after pos known to hold no terminator */
    int hidden;     /* a NUL after pos hides the terminator (see above) */

    int reqtype;
    int64_t mbulk_left; /* multibulk: arguments still to read */
    int64_t bulklen;    /* length of the bulk being read, or -1 */

    /* A big bulk being read into its own buffer. */
    char *big;
    size_t big_fill;

    /* The arguments of the request being parsed. An argument is either in
     * buf at argoff (relative to start, as buf may move), in the inline
     * arena at argoff, or in its own buffer bigs[i]. */
    int argc, argcap;
    char **argv;
    size_t *argvlen;
    size_t *argoff;
    char **bigs;
    int nbigs;    /* bigs[0..nbigs) may be non-NULL */
    int returned; /* argv was handed out: release it at the next call */

    char *arena; /* inline arguments, unescaped */
    size_t arena_cap;

    int unauth; /* apply the limits of a client that has not authenticated */
    int error;  /* 0, RESP_ERROR or RESP_NOMEM; sticky */
    char errmsg[64];
};

void resp_limits_default(resp_limits *l)
{
    l->max_bulk_len = 512ULL * 1024 * 1024;
    l->max_inline_len = 64ULL * 1024;
    l->max_multibulk_len = 1024ULL * 1024;
}

resp_parser *resp_parser_new(const resp_limits *limits)
{
    resp_parser *p = resp_malloc(sizeof(*p));
    if (!p) return NULL;
    memset(p, 0, sizeof(*p));
    if (limits)
        p->lim = *limits;
    else
        resp_limits_default(&p->lim);
    p->bulklen = -1;
    return p;
}

static void free_bigs(resp_parser *p)
{
    p->returned = 0;
    for (int i = 0; i < p->nbigs; i++) {
        resp_free(p->bigs[i]);
        p->bigs[i] = NULL;
    }
    p->nbigs = 0;
}

void resp_parser_free(resp_parser *p)
{
    if (!p) return;
    free_bigs(p);
    resp_free(p->big);
    resp_free(p->buf);
    resp_free(p->argv);
    resp_free(p->argvlen);
    resp_free(p->argoff);
    resp_free(p->bigs);
    resp_free(p->arena);
    resp_free(p);
}

void resp_parser_set_limits(resp_parser *p, const resp_limits *limits)
{
    if (limits)
        p->lim = *limits;
    else
        resp_limits_default(&p->lim);
}

void resp_parser_set_unauthenticated(resp_parser *p, int on)
{
    p->unauth = on != 0;
}

const char *resp_parser_error(const resp_parser *p)
{
    return p->error ? p->errmsg : NULL;
}

size_t resp_parser_pending(const resp_parser *p)
{
    return p->len - p->start + (p->big ? p->big_fill : 0);
}

static int fail(resp_parser *p, int code, const char *msg)
{
    p->error = code;
    snprintf(p->errmsg, sizeof(p->errmsg), "%s", msg);
    return STEP_FAIL;
}

static int nomem(resp_parser *p)
{
    return fail(p, RESP_NOMEM, "Out of memory while parsing the request");
}

int resp_parser_feed(resp_parser *p, const void *data, size_t n)
{
    const char *src = data;
    if (p->returned) free_bigs(p); /* the previous command's big arguments */
    if (p->error || n == 0) return 0;

    if (p->big) { /* fill the big bulk first: its one and only copy */
        size_t want = (size_t)p->bulklen + 2 - p->big_fill;
        size_t k = n < want ? n : want;
        memcpy(p->big + p->big_fill, src, k);
        p->big_fill += k;
        src += k;
        n -= k;
        if (n == 0) return 0;
    }

    if (p->start == p->len) { /* everything consumed: restart at 0 */
        p->pos -= p->start;
        p->len = p->start = 0;
        /* Give back what a burst grew, as Redis shrinks an idle query
         * buffer; a failed shrink is harmless. */
        if (p->cap > SHRINK_ABOVE && n <= SHRINK_TO) {
            char *nb = resp_realloc(p->buf, SHRINK_TO);
            if (nb) {
                p->buf = nb;
                p->cap = SHRINK_TO;
            }
        }
    }
    if (p->cap - p->len < n) {
        if (p->start > 0 && p->start >= p->len - p->start) {
            size_t live = p->len - p->start;
            memmove(p->buf, p->buf + p->start, live);
            p->pos -= p->start;
            p->len = live;
            p->start = 0;
        }
        if (p->cap - p->len < n) {
            size_t need = p->len + n, ncap = p->cap ? p->cap : 1024;
            if (need < n) return nomem(p), RESP_NOMEM;
            while (ncap < need) {
                if (ncap > SIZE_MAX / 2) {
                    ncap = need;
                    break;
                }
                ncap *= 2;
            }
            char *nb = resp_realloc(p->buf, ncap);
            if (!nb) return nomem(p), RESP_NOMEM;
            p->buf = nb;
            p->cap = ncap;
        }
    }
    memcpy(p->buf + p->len, src, n);
    p->len += n;
    return 0;
}

/* string2ll from Redis's util.c, rewritten: strict decimal, fits in
 * int64_t, no '+', no leading zeros, no "-0", fewer than 21 characters. */
static int strict_ll(const char *s, size_t n, long long *out)
{
    size_t i = 0;
    int neg = 0;
    unsigned long long v;

    if (n == 0 || n >= LONG_STR_SIZE) return 0;
    if (n == 1 && s[0] == '0') {
        *out = 0;
        return 1;
    }
    if (s[0] == '-') {
        neg = 1;
        if (++i == n) return 0;
    }
    if (s[i] < '1' || s[i] > '9') return 0;
    v = (unsigned long long)(s[i++] - '0');
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > ULLONG_MAX / 10) return 0;
        v *= 10;
        if (v > ULLONG_MAX - d) return 0;
        v += d;
    }
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1) return 0;
        *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    } else {
        if (v > LLONG_MAX) return 0;
        *out = (long long)v;
    }
    return 1;
}

/* Where the line starting at pos ends: the offset of the first c after
 * pos, as strchr() would see it in a NUL-terminated buffer. Returns 1 and
 * sets *off, or 0 when the terminator is not (visibly) there yet. Remembers
 * how far it looked, so feeding a long line byte by byte stays linear. */
static int find_term(resp_parser *p, char c, size_t *off)
{
    if (p->hidden) return 0;
    size_t from = p->pos + p->scanned;
    size_t n = p->len - from;
    const char *s = p->buf + from;
    const char *t = n ? memchr(s, c, n) : NULL;
    size_t m = t ? (size_t)(t - s) : n;
    if (m && memchr(s, '\0', m)) {
        p->hidden = 1;
        return 0;
    }
    if (!t) {
        p->scanned += n;
        return 0;
    }
    *off = p->scanned + m;
    return 1;
}

static void advance(resp_parser *p, size_t n)
{
    p->pos += n;
    p->scanned = 0;
    p->hidden = 0;
}

static int ensure_args(resp_parser *p, int need)
{
    if (need <= p->argcap) return 1;
    int ncap = p->argcap ? p->argcap : 16;
    while (ncap < need)
        ncap = ncap > INT_MAX / 2 ? INT_MAX : ncap * 2;
    char **argv = resp_realloc(p->argv, (size_t)ncap * sizeof(*argv));
    if (!argv) return 0;
    p->argv = argv;
    size_t *argvlen = resp_realloc(p->argvlen, (size_t)ncap * sizeof(*argvlen));
    if (!argvlen) return 0;
    p->argvlen = argvlen;
    size_t *argoff = resp_realloc(p->argoff, (size_t)ncap * sizeof(*argoff));
    if (!argoff) return 0;
    p->argoff = argoff;
    char **bigs = resp_realloc(p->bigs, (size_t)ncap * sizeof(*bigs));
    if (!bigs) return 0;
    p->bigs = bigs;
    for (int i = p->argcap; i < ncap; i++)
        p->bigs[i] = NULL;
    p->argcap = ncap;
    return 1;
}

/* The checks common to a multibulk count line and a bulk length line: the
 * line is "<c><digits>\r" plus one more byte. Returns STEP_CMD with the
 * line's length in *off when it is all there. */
static int header_line(resp_parser *p, size_t *off, const char *too_big)
{
    if (!find_term(p, '\r', off)) {
        if (p->len - p->pos > p->lim.max_inline_len) return fail(p, RESP_ERROR, too_big);
        return STEP_NEED;
    }
    if (*off > p->lim.max_inline_len) return fail(p, RESP_ERROR, too_big);
    if (p->len - p->pos < *off + 2) return STEP_NEED;
    return STEP_CMD;
}

static int parse_multibulk(resp_parser *p)
{
    size_t off;
    long long ll;
    int r;

    if (p->mbulk_left == 0) {
        r = header_line(p, &off, "Protocol error: too big mbulk count string");
        if (r != STEP_CMD) return r;
        if (!strict_ll(p->buf + p->pos + 1, off - 1, &ll) || ll > INT_MAX ||
            (ll > 0 && (uint64_t)ll > p->lim.max_multibulk_len))
            return fail(p, RESP_ERROR, "Protocol error: invalid multibulk length");
        if (ll > 10 && p->unauth)
            return fail(p, RESP_ERROR, "Protocol error: unauthenticated multibulk length");
        advance(p, off + 2);
        if (ll <= 0) return STEP_EMPTY;
        if (!ensure_args(p, ll < 1024 ? (int)ll : 1024)) return nomem(p);
        p->mbulk_left = ll;
    }

    while (p->mbulk_left) {
        if (p->bulklen == -1) {
            r = header_line(p, &off, "Protocol error: too big bulk count string");
            if (r != STEP_CMD) return r;
            char c = p->buf[p->pos];
            if (c != '$') {
                /* Redis's addReplyErrorFormat turns CR/LF into spaces. */
                if (c == '\r' || c == '\n') c = ' ';
                p->error = RESP_ERROR;
                snprintf(p->errmsg, sizeof(p->errmsg), "Protocol error: expected '$', got '%c'", c);
                return STEP_FAIL;
            }
            if (!strict_ll(p->buf + p->pos + 1, off - 1, &ll) || ll < 0 ||
                (uint64_t)ll > p->lim.max_bulk_len || (uint64_t)ll > SIZE_MAX - 2)
                return fail(p, RESP_ERROR, "Protocol error: invalid bulk length");
            if (ll > 16384 && p->unauth)
                return fail(p, RESP_ERROR, "Protocol error: unauthenticated bulk length");
            advance(p, off + 2);
            p->bulklen = ll;
            size_t avail = p->len - p->pos;
            if (ll >= BIG_ARG && avail < (size_t)ll + 2) {
                p->big = resp_malloc((size_t)ll + 2);
                if (!p->big) return nomem(p);
                memcpy(p->big, p->buf + p->pos, avail);
                p->big_fill = avail;
                p->len = p->pos;
            }
        }

        size_t need = (size_t)p->bulklen + 2;
        if (p->argc == p->argcap && !ensure_args(p, p->argc + 1)) return nomem(p);
        int i = p->argc;
        if (p->big) {
            if (p->big_fill < need) return STEP_NEED;
            p->big[p->bulklen] = '\0';
            p->bigs[i] = p->big;
            p->nbigs = i + 1;
            p->big = NULL;
            p->big_fill = 0;
        } else {
            if (p->len - p->pos < need) return STEP_NEED;
            p->buf[p->pos + (size_t)p->bulklen] = '\0';
            p->bigs[i] = NULL;
            p->argoff[i] = p->pos - p->start;
            advance(p, need);
        }
        p->argvlen[i] = (size_t)p->bulklen;
        p->argc++;
        p->bulklen = -1;
        p->mbulk_left--;
    }
    return STEP_CMD;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* sdssplitargs over s[0..n) (which holds no NUL), into the arena. Returns
 * STEP_CMD, STEP_EMPTY, or STEP_FAIL for unbalanced quotes / no memory. */
static int split_inline(resp_parser *p, const char *s, size_t n)
{
#define AT(k) ((k) < n ? s[(k)] : '\0')
    size_t i = 0, o = 0;

    /* Unescaped arguments are never longer than their source, and each
     * NUL takes the place of at least one separator or the line's end. */
    if (p->arena_cap < n + 1) {
        char *a = resp_realloc(p->arena, n + 1);
        if (!a) return nomem(p);
        p->arena = a;
        p->arena_cap = n + 1;
    }
    for (;;) {
        while (i < n && is_space(s[i]))
            i++;
        if (i == n) break;

        int inq = 0, insq = 0, done = 0;
        size_t begin = o;
        while (!done) {
            char c = AT(i);
            if (inq) {
                if (c == '\\' && AT(i + 1) == 'x' && hexval(AT(i + 2)) >= 0 &&
                    hexval(AT(i + 3)) >= 0) {
                    p->arena[o++] = (char)(hexval(AT(i + 2)) * 16 + hexval(AT(i + 3)));
                    i += 3;
                } else if (c == '\\' && AT(i + 1)) {
                    i++;
                    switch (s[i]) {
                    case 'n':
                        c = '\n';
                        break;
                    case 'r':
                        c = '\r';
                        break;
                    case 't':
                        c = '\t';
                        break;
                    case 'b':
                        c = '\b';
                        break;
                    case 'a':
                        c = '\a';
                        break;
                    default:
                        c = s[i];
                        break;
                    }
                    p->arena[o++] = c;
                } else if (c == '"') {
                    /* A closing quote must be followed by a space or the end. */
                    if (AT(i + 1) && !is_space(AT(i + 1))) goto unbalanced;
                    done = 1;
                } else if (!c) {
                    goto unbalanced;
                } else {
                    p->arena[o++] = c;
                }
            } else if (insq) {
                if (c == '\\' && AT(i + 1) == '\'') {
                    i++;
                    p->arena[o++] = '\'';
                } else if (c == '\'') {
                    if (AT(i + 1) && !is_space(AT(i + 1))) goto unbalanced;
                    done = 1;
                } else if (!c) {
                    goto unbalanced;
                } else {
                    p->arena[o++] = c;
                }
            } else {
                switch (c) {
                case ' ':
                case '\n':
                case '\r':
                case '\t':
                case '\0':
                    done = 1;
                    break;
                case '"':
                    inq = 1;
                    break;
                case '\'':
                    insq = 1;
                    break;
                default:
                    p->arena[o++] = c;
                    break;
                }
            }
            if (i < n) i++;
        }
        if (p->argc == INT_MAX || (p->argc == p->argcap && !ensure_args(p, p->argc + 1)))
            return nomem(p);
        p->arena[o++] = '\0';
        p->argoff[p->argc] = begin;
        p->argvlen[p->argc] = o - 1 - begin;
        p->bigs[p->argc] = NULL;
        p->argc++;
    }
    return p->argc ? STEP_CMD : STEP_EMPTY;
unbalanced:
    return fail(p, RESP_ERROR, "Protocol error: unbalanced quotes in request");
#undef AT
}

static int parse_inline(resp_parser *p)
{
    size_t off;
    if (!find_term(p, '\n', &off)) {
        if (p->len - p->pos > p->lim.max_inline_len)
            return fail(p, RESP_ERROR, "Protocol error: too big inline request");
        return STEP_NEED;
    }
    if (off > p->lim.max_inline_len)
        return fail(p, RESP_ERROR, "Protocol error: too big inline request");
    size_t n = off;
    if (n > 0 && p->buf[p->pos + n - 1] == '\r') n--;
    int r = split_inline(p, p->buf + p->pos, n);
    if (r == STEP_FAIL) return r;
    advance(p, off + 1);
    return r;
}

int resp_parser_next(resp_parser *p, resp_cmd *cmd)
{
    if (p->returned) free_bigs(p);
    if (p->error) return p->error;
    for (;;) {
        int r;
        if (p->reqtype == REQ_NONE) {
            p->start = p->pos;
            p->argc = 0;
            if (p->pos == p->len) return RESP_NEED_MORE;
            p->reqtype = p->buf[p->pos] == '*' ? REQ_MULTIBULK : REQ_INLINE;
        }
        r = p->reqtype == REQ_INLINE ? parse_inline(p) : parse_multibulk(p);
        if (r == STEP_NEED) return RESP_NEED_MORE;
        if (r == STEP_FAIL) return p->error;
        int in = p->reqtype == REQ_INLINE;
        p->reqtype = REQ_NONE;
        if (r == STEP_EMPTY) continue;

        for (int i = 0; i < p->argc; i++) {
            if (in)
                p->argv[i] = p->arena + p->argoff[i];
            else if (p->bigs[i])
                p->argv[i] = p->bigs[i];
            else
                p->argv[i] = p->buf + p->start + p->argoff[i];
        }
        cmd->argc = p->argc;
        cmd->argv = p->argv;
        cmd->argvlen = p->argvlen;
        cmd->inline_req = in;
        p->start = p->pos; /* consumed; the bytes stay until the next feed */
        p->returned = 1;
        return RESP_CMD;
    }
}
