/* kvks.h -- the typed key space (what Redis's db.c is to its commands).
 * Every command reaches the data through these functions; none walks an
 * LMDB cursor itself. storage/ internal, like kvint.h.
 *
 * Databases. A command runs in a logical database c->db (SELECT). Each
 * logical database maps to a physical one (SWAPDB swaps the map, O(1)); a
 * physical database is a pair of LMDB databases, its keys and its expiry
 * index, so DBSIZE is a count LMDB keeps and FLUSHDB drops two trees.
 *
 * Keys. A key's record holds its type, its expiry and, for a string, its
 * bytes. A collection's record holds a version, its element count, list
 * bounds and its encoding name; its elements are records of their own in
 * the element table, keyed [u64 BE version][element]:
 *
 *   hash   field        -> value
 *   set    member       -> (empty)
 *   zset   member       -> score (8 bytes, kv_score_enc; a skiplist
 *                          zset's -0 as the unnormalized 0x7fff..ff,
 *                          which kv_score_dec reads as -0)
 *          and in the score index: [version][score enc][member] -> (empty)
 *   list   u64 BE seq   -> element (seq from KV_LIST_MID: LPUSH takes
 *                          head - 1, RPUSH tail)
 *   stream id (16 bytes: u64 BE ms, u64 BE seq)
 *                       -> u32 BE field count, then per field and value
 *                          u32 BE length and bytes (kvx_stream.c)
 *          id + 0x00   -> a node record (17-byte name, right after its
 *                          first entry's id): the node Redis's listpack
 *                          would be, u64 BE live, u64 BE deleted, last id
 *                          (16): where approximate trimming may cut; every
 *                          node but the tail has one
 *
 * A stream's key record carries, after the collection's 33 bytes, its
 * last id, largest deleted id, entries added, tail node's first id, its
 * groups' version and the tail node's live, deleted and last id (12 x u64
 * BE); a stream stays when it is empty.
 *
 * A version is never reused (a counter in the state), so deleting a
 * collection only deletes its key record and queues the version for a
 * bounded background cleanup (kvstate_gc): a 10-million-element DEL costs
 * what a one-element DEL does. RENAME and MOVE keep the version, so they
 * are O(1) for any type. An element longer than KV_ELEM_INLINE bytes is
 * stored under its first bytes and two hashes, the full element being kept
 * in the record (the iterator returns it whole); such elements sort by
 * those first bytes, then by hash.
 *
 * Return values: 1 found / done, 0 not found, -1 stop: the reply was
 * written (WRONGTYPE) or a storage error was set in c->rc (KV_E*).
 */
#ifndef RAFTKV_KVKS_H
#define RAFTKV_KVKS_H

#include <stddef.h>
#include <stdint.h>

#include "storage/kvint.h"

/* Redis's OBJ_* numbering. */
enum { KV_TYPE_LIST = 1, KV_TYPE_SET = 2, KV_TYPE_ZSET = 3, KV_TYPE_HASH = 4, KV_TYPE_STREAM = 6 };

/* Encodings OBJECT ENCODING reports for a collection, by Redis 7.0's
 * thresholds; a family sets v->enc when it grows past one (Redis never
 * converts back). */
enum {
    KV_ENC_LISTPACK = 0, /* small hash / zset */
    KV_ENC_HASHTABLE,    /* hash, set */
    KV_ENC_INTSET,       /* set of integers */
    KV_ENC_SKIPLIST,     /* zset */
    KV_ENC_QUICKLIST,    /* list (Redis 7.0: every list) */
    KV_ENC_STREAM,       /* stream */
};
const char *kv_enc_name(int enc);

#define ERR_WRONGTYPE "WRONGTYPE Operation against a key holding the wrong kind of value"

#define KV_LIST_MID ((uint64_t)1 << 63)
/* Elements up to this many bytes are stored as they are. */
#define KV_ELEM_INLINE 440

/* ------------------------------------------------------------ keys */

/* kv_val (kvint.h) carries, for a collection, ver, count, head, tail, enc. */

/* Any type. For a write, an expired key is deleted on the way. */
int kv_lookup(kv_ctx *c, const char *key, size_t keylen, kv_val *v);
/* The key if it holds type; WRONGTYPE is replied (and -1 returned) when it
 * holds another. */
int kv_lookup_type(kv_ctx *c, const char *key, size_t keylen, int type, kv_val *v);
/* A string key: kv_lookup_type(..., KV_TYPE_STRING, ...). */
static inline int kv_lookup_str(kv_ctx *c, const char *key, size_t keylen, kv_val *v)
{
    return kv_lookup_type(c, key, keylen, KV_TYPE_STRING, v);
}
/* Makes an empty collection of type under key, which must not exist (look
 * it up first); v describes it (fresh version, count 0, list bounds at
 * KV_LIST_MID, enc as given). Returns 0 or -1. It is stored by
 * kv_coll_save(): a collection is never left empty. */
int kv_coll_new(kv_ctx *c, int type, int enc, kv_val *v);
/* Stores v's count, head, tail and enc for key, with expiry v->expiry: a
 * v from a lookup carries the key's own, so it is kept; one from
 * kv_coll_new has none, so a new version saved over a key with a TTL
 * drops it (as Redis's *STORE commands do). A count of 0 deletes the key.
 * A list or sorted set stored with elements, here or by kv_put_val(), is
 * signalled ready (kv_signal_ready) in c->db.
 * 0 or -1. */
int kv_coll_save(kv_ctx *c, const char *key, size_t keylen, const kv_val *v);
/* Deletes a key of any type (a collection's elements go to the cleanup
 * queue). 1 if it was there, 0 if not, <0 (KV_E*, also in c->rc). */
int kv_delete(kv_ctx *c, const char *key, size_t keylen);

/* Removes only the key's record (and expiry): RENAME and MOVE, which store
 * the same collection under another name first. */
int kv_delete_record(kv_ctx *c, const char *key, size_t keylen);
/* A copy of collection src with a new version and every element record
 * (COPY): dst is src's description with the new version. 0 or -1. */
int kv_coll_copy(kv_ctx *c, const kv_val *src, kv_val *dst);

/* A fresh version (never used before) for records of one's own. */
uint64_t kv_new_version(kv_ctx *c);

/* ------------------------------------------------------------ elements */

enum { KV_T_ELEM = 0, KV_T_ZIDX = 1 };

/* The element f of collection ver: 1 with *val / *vlen (valid until the
 * next write), 0 absent, -1 error. */
int kv_elem_get(kv_ctx *c, uint64_t ver, const void *f, size_t flen, const char **val,
                size_t *vlen);
/* Sets it; *created (may be NULL) says whether it is new. 0 or -1. */
int kv_elem_put(kv_ctx *c, uint64_t ver, const void *f, size_t flen, const void *val, size_t vlen,
                int *created);
/* Sets it only if absent: 1 added, 0 present (nothing written; *old /
 * *oldlen its value, valid until the next write), -1 error. One search
 * where a kv_elem_get() and a kv_elem_put() take two. */
int kv_elem_add(kv_ctx *c, uint64_t ver, const void *f, size_t flen, const void *val, size_t vlen,
                const char **old, size_t *oldlen);
/* 1 deleted, 0 absent, -1 error. */
int kv_elem_del(kv_ctx *c, uint64_t ver, const void *f, size_t flen);

/* The score index of a zset: (score, member) in order. 0 or -1. */
int kv_zidx_put(kv_ctx *c, uint64_t ver, double score, const void *m, size_t mlen);
int kv_zidx_del(kv_ctx *c, uint64_t ver, double score, const void *m, size_t mlen);

/* Scores as 8 bytes that sort as the doubles do (-inf first, +inf last;
 * -0.0 is stored as 0.0; never NaN). */
void kv_score_enc(double d, unsigned char out[8]);
double kv_score_dec(const unsigned char in[8]);

/* List elements' names: seq as 8 bytes big-endian. */
void kv_seq_enc(uint64_t seq, unsigned char out[8]);
uint64_t kv_seq_dec(const unsigned char in[8]);

/* An iterator over one collection's records of a table, in key order
 * (reverse: backwards). Open positions it at the first record >= from
 * (reverse: the last <= from; from NULL: the first / last of the
 * collection). For KV_T_ELEM, next gives the element's name and value; for
 * KV_T_ZIDX, *f is the member and *val the 8 score bytes. Pointers are
 * valid until the next call or a write. Writing while iterating is allowed
 * only through kv_iter_del_current(). */
typedef struct kv_iter {
    kv_ctx *c;
    void *cur; /* MDB_cursor */
    int table, reverse, started, done;
    uint64_t ver;
    unsigned char from[512];
    size_t fromlen;
    int has_from;
} kv_iter;

int kv_iter_open(kv_ctx *c, kv_iter *it, int table, uint64_t ver, const void *from, size_t fromlen,
                 int reverse);
/* 1 with the next record, 0 at the end of the collection, -1 error. */
int kv_iter_next(kv_iter *it, const char **f, size_t *flen, const char **val, size_t *vlen);
/* Starts the iterator again at from (as kv_iter_open, same collection),
 * keeping its cursor: a seek without a cursor's open and close. */
void kv_iter_seek(kv_iter *it, const void *from, size_t fromlen, int reverse);
/* Deletes the record next() returned last (the iterator stays valid). */
int kv_iter_del_current(kv_iter *it);
void kv_iter_close(kv_iter *it);

/* For a zset score range: from = kv_score_enc(min) (8 bytes) for the
 * index; a member may follow to start after ties. */

/* ------------------------------------------------------------ misc */

/* Deterministic at apply (seeded from the entry), random on reads. */
uint64_t kv_rand(kv_ctx *c);
/* SWAPDB: swaps two logical databases' physical ones (< KV_MAX_DBS). */
void kv_swap_db(kv_ctx *c, int a, int b);
/* Physical database of logical db in this state (SWAPDB map); -1 when out
 * of range. */
int kv_db_phys(kv_ctx *c, int db);

#endif
