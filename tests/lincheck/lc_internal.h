/* lc_internal.h -- what the parts of lincheck share: the parsed history
 * (history.c), the model of one Redis string key (model.c) and the search
 * (wgl.c). Not installed; lincheck.h is the contract for users. */
#ifndef RAFTKV_LC_INTERNAL_H
#define RAFTKV_LC_INTERNAL_H

#include "lincheck.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* All allocation goes through these, so a test can make it fail. */
void *lc_malloc(size_t n);
void *lc_realloc(void *p, size_t n);
void lc_free(void *p);
/* Fail every allocation after the next n ones; n < 0 switches off. */
void lc_fail_alloc_after(long n);

/* Grows *p (elements of size sz, capacity *cap) to hold need elements.
 * Returns 0, or -1 when out of memory (*p unchanged). */
int lc_grow(void **p, size_t *cap, size_t need, size_t sz);

/* ---------------------------------------------------------- hashing */

/* Polynomial string hash modulo the Mersenne prime 2^61-1, so the hash of
 * a concatenation follows from the parts: H(a.b) = H(a)*B^|b| + H(b). */
#define LC_HMOD ((1ULL << 61) - 1)
uint64_t lc_hmul(uint64_t a, uint64_t b);
uint64_t lc_hadd(uint64_t a, uint64_t b);
uint64_t lc_hash_bytes(const char *p, size_t n);
uint64_t lc_hash_pow(size_t n); /* B^n */
uint64_t lc_mix64(uint64_t x);  /* splitmix64 finaliser */

/* ---------------------------------------------------------- history */

/* String ops, then set ops (sadd, srem, smembers); a key is used by one
 * family only. */
typedef enum lc_fn {
    LC_GET,
    LC_PUT,
    LC_APPEND,
    LC_DEL,
    LC_INCR,
    LC_SADD,
    LC_SREM,
    LC_SMEMBERS,
    LC_CAS, /* compare-and-set on a string key: if value == old then value = new */
} lc_fn;
#define LC_NFN 9
/* "get", "put", ... "smembers"; indexed by lc_fn. */
extern const char *const lc_fn_names[LC_NFN];

/* Ops that change nothing: their result is all they are. */
static inline int lc_is_read(lc_fn f)
{
    return f == LC_GET || f == LC_SMEMBERS;
}

/* What the completion says; checked by the model. */
typedef enum lc_res {
    LC_RES_NONE, /* unknown (info, or nil where nil means "not reported") */
    LC_RES_NIL,  /* get, smembers: no such key (the empty set) */
    LC_RES_STR,  /* get: this value; smembers: the members, sorted, joined by spaces */
    LC_RES_INT,  /* append: length; del, sadd, srem: count; incr: new value */
} lc_res;

#define LC_NEVER UINT32_MAX /* return position of an :info operation */

typedef struct lc_op {
    lc_fn f;
    lc_res res;
    uint8_t info; /* outcome unknown: may happen after call, or never */
    uint32_t key; /* index into the history's keys */
    int64_t process;
    uint32_t call, ret;           /* event positions; ret LC_NEVER if info */
    uint32_t call_line, ret_line; /* input lines; ret_line 0 if none */
    /* put/append/cas: the bytes written; sadd/srem: the member (arena-owned,
     * stable). */
    const char *arg;
    uint32_t arg_len;
    uint64_t arg_hash, arg_pow; /* H(arg), B^arg_len */
    int64_t delta;              /* incr */
    /* get/smembers result (LC_RES_STR); cas: the value expected (:old),
     * res then being LC_RES_INT 1 (swapped) or 0, or LC_RES_NONE */
    const char *val;
    uint32_t val_len;
    uint64_t val_hash;
    int64_t res_int; /* LC_RES_INT */
} lc_op;

typedef struct lc_key {
    const char *name; /* NULL for the nil key */
    uint32_t len;
    uint32_t first_line;
    uint8_t family; /* 1 string ops, 2 set ops, 0 none yet */
    uint32_t *ops;  /* indexes into lc_history.ops, in call order */
    size_t nops, cap;
} lc_key;

struct lc_history {
    lc_op *ops;
    size_t nops, cap;
    lc_key *keys;
    size_t nkeys, kcap;
    struct lc_arena *arena; /* bytes of keys and values */
};

/* Chunked byte arena; pointers stay valid until it is freed. */
typedef struct lc_arena lc_arena;
lc_arena *lc_arena_new(void);
void lc_arena_free(lc_arena *a);
char *lc_arena_dup(lc_arena *a, const char *p, size_t n); /* NUL-ended copy */
size_t lc_arena_bytes(const lc_arena *a);

/* Renders a value for humans: "quoted with escapes", cut to max bytes
 * (0: whole) with a note of the full length. Returns bytes written (the
 * output is always NUL-terminated when cap > 0). */
size_t lc_quote(char *buf, size_t cap, const char *p, size_t n, size_t max);

/* ---------------------------------------------------------- model */

/* The state of one key: interned, so equal states have equal ids. */
typedef uint32_t lc_state;
#define LC_MISSING ((lc_state)0)
#define LC_EMPTY ((lc_state)1) /* the empty string (a key that exists) */

typedef struct lc_model lc_model;
lc_model *lc_model_new(void);
void lc_model_free(lc_model *m);
/* Applies op (its id in the history: opid) to s. Returns 1 and sets *out
 * when the op can take effect in s with the result it reported, 0 when it
 * cannot, -1 when out of memory. */
int lc_model_step(lc_model *m, lc_state s, const lc_op *op, uint32_t opid, lc_state *out);
/* For a GET op: 1 when s could become the value op read by APPENDs alone
 * (s is missing, or a prefix of the value read; the value nil needs s
 * missing), 0 when not, -1 when out of memory. */
int lc_model_is_prefix(lc_model *m, lc_state s, const lc_op *op, uint32_t opid);
/* Bytes the model holds. */
size_t lc_model_bytes(const lc_model *m);
/* Renders s: "nil" or the quoted value, cut to max bytes (0: whole). */
size_t lc_model_render(lc_model *m, lc_state s, char *buf, size_t cap, size_t max);

/* ---------------------------------------------------------- search */

typedef struct lc_strbuf {
    char *p;
    size_t len, cap;
    int oom;
} lc_strbuf;
void lc_sb_printf(lc_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

typedef struct lc_key_result {
    lc_verdict verdict;
    const char *why; /* for unknown: "time budget exceeded", ... */
    size_t states;   /* cache entries */
    size_t pruned;   /* :info PUTs left out, no completed op having seen them */
    size_t twins;    /* :info ops with an interchangeable earlier one */
    double seconds;
    uint32_t win_first; /* line window of the counterexample */
    uint32_t win_last;
    lc_strbuf detail; /* explanation for not linearizable */
} lc_key_result;

/* Checks key k of h. deadline: CLOCK_MONOTONIC seconds, <= 0 for none.
 * prune: leave out the :info PUTs no completed op can have seen. */
void lc_check_key(const lc_history *h, size_t k, double deadline, size_t max_memory, int verbose,
                  int prune, lc_key_result *r);
double lc_now(void);
/* Describes op i of h on one line (no newline), appending to b. */
void lc_describe_op(lc_strbuf *b, const lc_history *h, uint32_t i, size_t max);

#endif
