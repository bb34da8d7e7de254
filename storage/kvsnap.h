/* kvsnap.h -- snapshots of the state environment (DESIGN.md "Storage
 * layout", issue 5).
 *
 * The key space in LMDB is the state machine at its applied index, so a
 * snapshot is a read transaction on the state environment: every table of
 * the live pair (kvint.h's slots: keys and expiry index of each database,
 * collection elements, the zset index, the cleanup queue, the database map
 * and version counter), the applied index and tau, all read in that one
 * transaction.
 * No fork, no copy, no pause. The sender turns it into a stream of pieces,
 * cut into chunks of at most a given size whatever the size of a record:
 *
 *   piece := u8 db | u32 LE klen | u32 LE plen | u64 LE vlen | u64 LE voff
 *            | klen bytes key | plen bytes: value[voff, voff + plen)
 *
 * A record is (database, key, value) as LMDB stores it; a value that does
 * not fit what is left of a chunk is split into pieces, in order, each
 * repeating the record's database, key and total length vlen, so every
 * chunk is a whole number of pieces and at most max_bytes long (issue 14:
 * a record larger than the peer transport's queue could never be sent).
 * Databases (KVSNAP_DB_*) come in increasing order, each in LMDB's key
 * order, so the receiver writes them with MDB_APPEND. The stored forms are
 * copied as they are (storage/kvint.h): expiry times are absolute, so a key
 * expires at the same tau on every node. The framing does not depend on
 * what a database holds: a new one (one record per element of a
 * collection, say) is a new database id in the table of kvsnap.c.
 *
 * Receiving is strict: a piece must continue the record in progress
 * exactly (same database, key and vlen, voff where the last piece ended)
 * and a new record starts at voff 0 only once the previous one is whole;
 * the stream must not end inside a record. A large value is reserved at
 * its full length by its first piece (MDB_RESERVE) and filled in place, so
 * the receiver holds no copy of it beyond LMDB's own pages.
 *
 * The receiver stages chunks into the idle pair of its state environment
 * inside the state's write transaction (durable with the state's next
 * commit), recording (index, term, bytes staged, the record in progress)
 * in the state's metadata in the same transaction. When the last chunk is
 * in, kvsnap_install() flips
 * the live pointer together with the applied index, tau and the snapshot's
 * (index, term), and commits with a full sync; the caller then resets the
 * log to start after the snapshot (kvlog_reset). A crash at any point leaves
 * either the old state (the live pointer did not move) or the new one; a
 * state whose snapshot index is past the log's snapshot index tells the
 * restart that the log reset is still to do (kvsnap_state_snapshot()).
 *
 * Errors: 0 or a negative KV_E* code (storage/kverr.h).
 */
#ifndef RAFTKV_KVSNAP_H
#define RAFTKV_KVSNAP_H

#include <stddef.h>
#include <stdint.h>

#include "storage/kvstate.h"

/* A database id is its slot (storage/kvint.h) + 1: every slot of the pair
 * travels, in slot order. The two of database 0: */
#define KVSNAP_DB_KV 1   /* the key space (kvN) */
#define KVSNAP_DB_EXP 65 /* the expiry index (expN) */
#define KVSNAP_PIECE_HDR 25
#define KVSNAP_MAX_KEY 511 /* LMDB's key size limit */
/* The smallest chunk bound: room for a piece of the longest key. */
#define KVSNAP_MIN_CHUNK 1024

/* ------------------------------------------------------------ sending */

typedef struct kvsnap_reader kvsnap_reader;

/* Opens a read transaction on s's last committed state (what survives a
 * crash: its applied index is kvstate_durable_index() as of now). The
 * transaction pins that version of the file until kvsnap_reader_close();
 * a long-lived reader makes LMDB keep the pages it sees, so close it as
 * soon as the transfer ends or is abandoned. */
int kvsnap_reader_open(kvstate *s, kvsnap_reader **out);
void kvsnap_reader_close(kvsnap_reader *r); /* NULL is a no-op */
uint64_t kvsnap_reader_index(const kvsnap_reader *r);
int64_t kvsnap_reader_tau(const kvsnap_reader *r);
uint64_t kvsnap_reader_keys(const kvsnap_reader *r); /* records in the key space */

/* The next chunk: pieces totalling at most max_bytes (>= KVSNAP_MIN_CHUNK,
 * else KV_EINVAL). A record that fits in a chunk is never split: it starts
 * the next chunk instead; a larger one is split across as many as it
 * takes. Only the piece being sent is read and copied, never a whole value.
 * *data points into the reader and is valid until the next call. *last is
 * 1 when this chunk ends the stream (it may be empty, for an empty key
 * space). After the last chunk, further calls give empty last chunks. */
int kvsnap_reader_next(kvsnap_reader *r, size_t max_bytes, const uint8_t **data, size_t *len,
                       int *last);

/* A 64-bit checksum of a chunk (not cryptographic: against corruption). */
uint64_t kvsnap_checksum(const void *data, size_t len);

/* ------------------------------------------------------------ receiving */

/* Stages one chunk of the snapshot (index, term) at byte offset `offset`
 * of its stream. offset 0 starts a new staging (the idle pair is emptied);
 * any other offset must continue the staging of the same (index, term)
 * exactly where it stands, else KV_EINVAL and nothing changes. A malformed
 * piece (a length past the chunk, an unknown database, an empty or too
 * long key), a piece that does not continue the record in progress, a new
 * record before the previous one is whole, keys or databases out of order,
 * a last chunk that ends inside a record, or a stream whose database map
 * or version counter (kvint.h's pmeta) would not load give KV_ECORRUPT;
 * a value larger than the room left in the state's map gives KV_EFULL.
 * After either the staging is forgotten (unusable until a new offset-0
 * chunk, and kvsnap_install() refuses it) and the transaction stays
 * usable. last marks the end of the stream. *staged gets the bytes
 * staged after the call (also on KV_EINVAL, so the sender learns where the
 * receiver stands).
 * Writes go into the state's open write transaction, which may be
 * committed between chunks, also in the middle of a record: the record's
 * part already staged is carried into the next transaction. Other errors
 * (I/O, the map full) are the state's and end the node. */
int kvsnap_stage(kvstate *s, uint64_t index, uint64_t term, uint64_t offset, const void *data,
                 size_t len, int last, uint64_t *staged);

/* 1 while the staging stands inside a split record and the state's write
 * transaction is open (0 without one: nothing to save). A commit makes
 * the record's next piece copy the part staged so far into new pages, so
 * a caller that commits to bound its transaction may wait for the end of
 * the record (its pages are dirty either way). */
int kvsnap_staging_mid_record(kvstate *s);

/* What is staged: (index, term, bytes, complete). Zeroes when nothing. */
void kvsnap_staged(kvstate *s, uint64_t *index, uint64_t *term, uint64_t *bytes, int *complete);

/* Installs the complete staging of (index, term) with state time tau:
 * flips the live pair, sets the applied index to index, records the
 * snapshot's (index, term), empties the old pair, and commits the state
 * with a full fsync. KV_EINVAL when no complete staging of (index, term)
 * is there. Afterwards the caller resets the log (kvlog_reset(index,
 * term)) and syncs it. */
int kvsnap_install(kvstate *s, uint64_t index, uint64_t term, int64_t tau);

/* The last snapshot this state installed: its index and term (0, 0 for
 * none). At start-up, an index above the log's snapshot index means the
 * crash came between kvsnap_install() and the log reset: reset the log. */
void kvsnap_state_snapshot(kvstate *s, uint64_t *index, uint64_t *term);

#endif
