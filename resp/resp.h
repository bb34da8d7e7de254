/* resp.h -- the Redis protocol: an incremental request parser and a reply
 * encoder for RESP2 and RESP3. Pure: no sockets, no files, libc only.
 *
 * Parser. Feed bytes as they arrive, in any fragmentation, then call
 * resp_parser_next() until it stops returning RESP_CMD. Multibulk
 * ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n") and inline ("GET k\r\n", with Redis's
 * quoting rules) requests are both accepted. Limits are checked before
 * anything is allocated for the element they bound. After RESP_ERROR the
 * parser stays in error: the caller answers "-ERR <resp_parser_error()>"
 * and closes the connection after that reply, as Redis does.
 *
 * Encoder. A resp_buf is a growable byte buffer that knows the protocol
 * version of the connection it is for (2 or 3); the resp_add_* calls append
 * one reply element each, choosing the RESP2 or RESP3 form. An allocation
 * failure makes the buffer sticky-failed (b->oom) and further adds are
 * ignored; the caller checks b->oom once when it is done.
 */
#ifndef RAFTKV_RESP_H
#define RAFTKV_RESP_H

#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- parser */

typedef struct resp_limits {
    uint64_t max_bulk_len;      /* proto-max-bulk-len; default 512 MB */
    uint64_t max_inline_len;    /* an inline request line; default 64 KB */
    uint64_t max_multibulk_len; /* elements in one request; default 1024*1024 */
} resp_limits;

/* Defaults equal to redis-server's. */
void resp_limits_default(resp_limits *l);

enum {
    RESP_NEED_MORE = 0, /* no whole command yet: feed more bytes */
    RESP_CMD = 1,       /* *cmd holds one whole command */
    RESP_ERROR = -1,    /* protocol error: see resp_parser_error() */
    RESP_NOMEM = -2     /* allocation failed; the parser is in error */
};

/* One parsed command. argv[i] points at argvlen[i] bytes followed by a NUL
 * (so it may be used as a C string when it has no NUL inside). Borrowed
 * from the parser: valid until the next call of resp_parser_feed(),
 * resp_parser_next() or resp_parser_free() on the same parser. */
typedef struct resp_cmd {
    int argc;
    char **argv;
    size_t *argvlen;
    int inline_req; /* 1 when the command came as an inline request */
} resp_cmd;

typedef struct resp_parser resp_parser;

/* Returns NULL on allocation failure. limits may be NULL for defaults; they
 * are copied. */
resp_parser *resp_parser_new(const resp_limits *limits);
void resp_parser_free(resp_parser *p);
void resp_parser_set_limits(resp_parser *p, const resp_limits *limits);

/* While on, the parser applies redis-server's limits for a client that must
 * still authenticate (requirepass set, no AUTH yet): more than 10 elements
 * is "Protocol error: unauthenticated multibulk length", a bulk longer than
 * 16384 bytes "Protocol error: unauthenticated bulk length". Off when the
 * parser is created; the server turns it on for a new connection when a
 * password is required and off after a successful AUTH / HELLO AUTH. */
void resp_parser_set_unauthenticated(resp_parser *p, int on);

/* Copies len bytes into the parser's buffer. Returns 0, or RESP_NOMEM. */
int resp_parser_feed(resp_parser *p, const void *buf, size_t len);

/* Parses the next whole command out of what was fed. Empty requests (an
 * empty inline line, "*0\r\n", "*-1\r\n") are skipped silently as Redis
 * does. Returns RESP_CMD, RESP_NEED_MORE, RESP_ERROR or RESP_NOMEM. */
int resp_parser_next(resp_parser *p, resp_cmd *cmd);

/* The message of the protocol error, without the "-ERR " prefix and without
 * CRLF, e.g. "Protocol error: invalid multibulk length". Valid while the
 * parser lives. NULL when the parser is not in error. */
const char *resp_parser_error(const resp_parser *p);

/* Bytes fed but not yet consumed by a returned command (for INFO's
 * client query buffer and for input budgets). */
size_t resp_parser_pending(const resp_parser *p);

/* --------------------------------------------------------------- encoder */

typedef struct resp_buf {
    char *p;
    size_t len, cap;
    int proto;  /* 2 or 3 */
    int oom;    /* sticky: an append failed to allocate */
    size_t off; /* private: bytes consumed before p (trimmed lazily) */
} resp_buf;

/* The buffer owns p; p may change (and earlier values of p become invalid)
 * on any add. p, len and cap describe the bytes still to be written and the
 * room after p; resp_buf_consume() advances p without moving bytes, and the
 * space is reclaimed when the buffer empties or next grows. */
void resp_buf_init(resp_buf *b, int proto);
void resp_buf_free(resp_buf *b);
void resp_buf_reset(resp_buf *b); /* len = 0, oom = 0; keeps the memory */
/* Drops the first n bytes (after a partial write()). */
void resp_buf_consume(resp_buf *b, size_t n);
/* Appends raw, already encoded bytes. */
void resp_add_raw(resp_buf *b, const void *p, size_t n);

void resp_add_simple(resp_buf *b, const char *s); /* +s\r\n */
void resp_add_status_len(resp_buf *b, const char *s, size_t n);
/* -s\r\n: s is the whole error text with its prefix, e.g. "ERR syntax error"
 * or "WRONGTYPE Operation against ...". CR/LF inside s become spaces. As in
 * Redis's addReplyErrorFormat, CR/LF at either end are trimmed first, and a
 * leading '-' in s is not doubled. */
void resp_add_error(resp_buf *b, const char *s);
void resp_add_errorf(resp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void resp_add_ok(resp_buf *b);                            /* +OK */
void resp_add_int(resp_buf *b, int64_t v);                /* :v */
void resp_add_bulk(resp_buf *b, const void *p, size_t n); /* $n\r\n...\r\n */
void resp_add_bulk_str(resp_buf *b, const char *s);
void resp_add_bulk_int(resp_buf *b, int64_t v); /* the integer as a bulk string */
void resp_add_null(resp_buf *b);                /* RESP2 $-1, RESP3 _ */
void resp_add_null_array(resp_buf *b);          /* RESP2 *-1, RESP3 _ */
void resp_add_array(resp_buf *b, int64_t n);    /* *n */
void resp_add_map(resp_buf *b, int64_t n);      /* RESP2 *2n, RESP3 %n */
void resp_add_set(resp_buf *b, int64_t n);      /* RESP2 *n, RESP3 ~n */
void resp_add_push(resp_buf *b, int64_t n);     /* RESP2 *n, RESP3 >n */
/* RESP3 ,d (inf, -inf, nan as Redis writes them); RESP2: a bulk string of
 * the same text. Formatted with %.17g, as Redis's addReplyDouble. */
void resp_add_double(resp_buf *b, double d);
void resp_add_bool(resp_buf *b, int v); /* RESP3 #t/#f, RESP2 :1/:0 */
/* RESP3 =n\r\ntxt:...; RESP2 a bulk string. fmt is three letters ("txt"); a
 * shorter fmt is padded with spaces, as Redis's addReplyVerbatim does. */
void resp_add_verbatim(resp_buf *b, const char *fmt, const void *p, size_t n);

/* Deferred aggregate length, for replies whose count is known only at the
 * end (KEYS, SCAN): resp_add_deferred() reserves the header and returns a
 * mark; resp_set_deferred_array() / resp_set_deferred_map() /
 * resp_set_deferred_set() fill it in (moving the bytes after it if the
 * header needs another size). */
size_t resp_add_deferred(resp_buf *b);
void resp_set_deferred_array(resp_buf *b, size_t mark, int64_t n);
void resp_set_deferred_map(resp_buf *b, size_t mark, int64_t n);
void resp_set_deferred_set(resp_buf *b, size_t mark, int64_t n);
/* Marks are byte offsets: fill nested deferred lengths innermost first (the
 * reverse of the order they were added), and do not consume the buffer
 * between resp_add_deferred() and the matching set. */

/* ------------------------------------------------------------ allocation */

/* Every allocation of the parser and the encoder goes through these (a
 * test can make them fail). NULL restores malloc/realloc/free. Process-wide;
 * set it before any parser or buffer exists, as buffers are freed with the
 * free_fn in force when they are freed. */
typedef struct resp_allocators {
    void *(*malloc_fn)(size_t);
    void *(*realloc_fn)(void *, size_t);
    void (*free_fn)(void *);
} resp_allocators;
void resp_set_allocators(const resp_allocators *a);

#endif
