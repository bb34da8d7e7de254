/* lincheck.h -- a linearizability checker for histories of a Redis key
 * space of strings (GET, SET, DEL, APPEND, INCR) and sets (SADD, SREM,
 * SMEMBERS), after Wing & Gong and Lowe
 * ("Testing for linearizability", 2017): depth-first search for a total
 * order consistent with real time, with a cache of visited (linearized set,
 * model state) pairs. Linearizability is compositional (Herlihy & Wing,
 * Theorem 1), so every key is checked on its own.
 *
 * Input: one event per EDN map, in real-time order (the order of the maps
 * in the file is the order of time; a :time field is ignored):
 *
 *   {:process 3, :type :invoke, :f :get, :key "7", :value nil}
 *   {:process 3, :type :ok, :f :get, :key "7", :value "x 3 1 y"}
 *
 * Fields (any order, commas are whitespace, unknown fields are skipped,
 * blank lines, ; comments and #_ discards are allowed, an enclosing [...]
 * is allowed):
 *   :process  an integer. Events whose :process is not an integer (Jepsen's
 *             :nemesis) are skipped.
 *   :type     :invoke, :ok, :fail or :info (keyword or string). The next
 *             completion of a process completes its pending invoke. A new
 *             invoke while one is pending makes the pending one :info.
 *             An invoke never completed is :info.
 *   :f        :get (:read), :put (:set, :write), :append, :del (:delete),
 *             :incr (:incrby); :sadd, :srem, :smembers. A completion may
 *             omit :f and :key. A key is used by string ops or by set ops,
 *             not both (bad input).
 *   :key      a string, an integer or a keyword; absent means the key nil.
 *   :value    nil, a string ("..." with \" \\ \n \t \r \uXXXX escapes) or
 *             an integer; integers stand for their decimal string.
 *
 * Meaning of :value per function:
 *   get     invoke: ignored. ok: the value read; nil means "no such key";
 *           "" means "no such key" or the empty string (the reference
 *           histories read a never-written key as "").
 *   put     the value written, from the invoke (or from the ok when the
 *           invoke has nil). The ok's value is ignored ("OK").
 *   append  the suffix, as for put. An integer ok value is the length after
 *           the append (Redis's reply) and is checked; a string is ignored.
 *   del     invoke: ignored. ok: 0 or 1, keys deleted (checked), or nil.
 *   incr    invoke: nil (add 1) or an integer increment. ok: the integer
 *           after the increment (checked), or nil. INCR on a missing key
 *           starts at 0; on a value that is not a canonical 64-bit integer
 *           or on overflow it fails, so such an :ok INCR is impossible.
 *   sadd    invoke: the member, a non-empty string (or integer) without
 *   srem    spaces. ok: 1 if the set changed (added / removed), 0 if not
 *           (checked), or nil.
 *   smembers invoke: ignored. ok: the members as one string, separated by
 *           spaces, in any order (the checker sorts them; a member twice
 *           is bad input); nil or "" is the empty set, which is the
 *           missing key as in Redis:
 *             {:process 1, :type :ok, :f :smembers, :key "s0", :value "m1 m4"}
 * :fail operations did not happen and are dropped. :info operations may
 * take effect at any moment after their call, or never; an :info get or
 * smembers is dropped (it observed nothing).
 *
 * Ownership: every object returned is owned by the caller and freed with
 * its _free call. A report borrows nothing from the history.
 */
#ifndef RAFTKV_LINCHECK_H
#define RAFTKV_LINCHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Verdicts double as the program's exit codes. */
typedef enum lc_verdict {
    LC_LINEARIZABLE = 0,
    LC_NOT_LINEARIZABLE = 1,
    LC_UNKNOWN = 2,   /* time or memory budget exceeded, or out of memory */
    LC_BAD_INPUT = 3, /* the history could not be read */
} lc_verdict;

/* "linearizable", "not linearizable", "unknown", "bad input". Static. */
const char *lc_verdict_str(lc_verdict v);

typedef struct lc_history lc_history;

/* Parses len bytes of text (no terminating NUL needed). Returns 0 and sets
 * *out, or returns LC_BAD_INPUT (the message, with the line number, goes to
 * err, which may be NULL) or LC_UNKNOWN when out of memory. */
int lc_history_parse(const char *text, size_t len, lc_history **out, char *err, size_t errlen);
/* As lc_history_parse, for a file ("-" is standard input). */
int lc_history_load(const char *path, lc_history **out, char *err, size_t errlen);
void lc_history_free(lc_history *h);
/* Operations kept (after :fail ones and :info gets are dropped), keys. */
size_t lc_history_ops(const lc_history *h);
size_t lc_history_keys(const lc_history *h);

typedef struct lc_options {
    double timeout_sec; /* for the whole history; <= 0 means none */
    size_t max_memory;  /* bytes of search state; 0 means none */
    int verbose;        /* progress per key on stderr; full values in reports */
    int all_keys;       /* go on after a key is found not linearizable */
    int no_prune;       /* keep every :info PUT (see README "Pruning"); for
                           measuring and cross-checking the reduction */
} lc_options;

typedef struct lc_report lc_report;

/* Checks every key of h. Returns the verdict of the history: not
 * linearizable if any key is, else unknown if any key is undecided, else
 * linearizable. *out (may be NULL) receives the details, or NULL when out
 * of memory. Keys are checked smallest first, so that a budget is spent on
 * the cheap keys before the expensive ones; unless opt->all_keys, the keys
 * after the first one found not linearizable are left unchecked (their
 * verdict is LC_UNKNOWN, "not checked"). opt may be NULL: no budgets. */
lc_verdict lc_check(const lc_history *h, const lc_options *opt, lc_report **out);

lc_verdict lc_report_verdict(const lc_report *r);
/* The first key found not linearizable (a C string, "nil" for the nil key),
 * or NULL. Valid until lc_report_free. */
const char *lc_report_failed_key(const lc_report *r);
/* Ops a counterexample concerns, as a window of input lines [*first,
 * *last]; returns 0 when there is none. */
int lc_report_window(const lc_report *r, uint32_t *first, uint32_t *last);
double lc_report_seconds(const lc_report *r);
/* "<name>: <verdict>" on the first line, then for every key that is not
 * linearizable or undecided, an explanation. */
void lc_report_print(const lc_report *r, const char *name, FILE *f);
/* One JSON object on one line. */
void lc_report_print_json(const lc_report *r, const char *name, FILE *f);
void lc_report_free(lc_report *r);

/* ---------------------------------------------------------- generator */

/* Writes a random history of a simulated linearizable store: clients with
 * random real-time overlaps; every operation takes effect at one instant
 * between its call and its return (an :info one maybe later, or never).
 * Shape LC_GEN_MIXED: keys k0, k1, k3, k4, ... hold strings (get, put,
 * append, del with unique values); k2, k5, ... are counters (get, put,
 * incr, del). LC_GEN_REGISTER: every key is a plain register (get and put
 * of unique values). LC_GEN_SET: every key is a set (sadd, srem, smembers
 * of members m0..m5). */
typedef enum lc_gen_shape {
    LC_GEN_MIXED = 0,
    LC_GEN_REGISTER = 1,
    LC_GEN_SET = 2,
} lc_gen_shape;

typedef enum lc_corruption {
    LC_CORRUPT_NONE = 0,
    LC_CORRUPT_VALUE = 1, /* one late get reads a value never written */
    LC_CORRUPT_STALE = 2, /* one late get reads a value overwritten before
                             its call (falls back to VALUE if none); for
                             sets, VALUE: one late smembers reads a member
                             never added */
} lc_corruption;

typedef struct lc_gen_options {
    uint64_t seed;
    uint32_t ops;     /* operations in all */
    uint32_t clients; /* concurrent clients */
    uint32_t keys;    /* >= 1 */
    double info_rate; /* share of ops that end :info */
    double fail_rate; /* share of ops that end :fail without effect */
    lc_corruption corrupt;
    lc_gen_shape shape;
    uint32_t bursts; /* 0: :info ops spread evenly; else only in this many
                        short windows (a leader dying: every client in
                        flight times out), info_rate the share inside */
} lc_gen_options;

/* Defaults: seed 1, 1000 ops, 10 clients, 5 keys, info 0.01, fail 0.01,
 * mixed shape. */
void lc_gen_defaults(lc_gen_options *o);
/* Returns 0, or -1 when out of memory or on a write error. */
int lc_gen(const lc_gen_options *o, FILE *out);

#endif
