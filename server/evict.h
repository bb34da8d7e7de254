/* evict.h -- the node's half of maxmemory (storage/kvstate.h "maxmemory"
 * has the replicated half): access recency and frequency per key, kept in
 * this node's memory only, and on the leader the choice of eviction
 * victims, proposed as RAFT.EVICT2 entries.
 *
 * Access data. Every key a read served by this node names, and every key
 * a write applied on this node names, is touched: its LRU time (seconds of
 * the node's monotonic clock) and its LFU counter (Redis's logarithmic
 * counter, lfu-log-factor, decayed by lfu-decay-time minutes). They live
 * in a fixed table of 2^20 slots indexed by a hash of (database, key); a
 * key whose slot another key took reads as never accessed. Nothing here
 * reaches the replicated state: the leader's data decides which keys it
 * proposes, and the entry carries the choice. Reads served by followers
 * update only the follower's own table (OBJECT FREQ/IDLETIME there); the
 * leader's choice counts the reads it served and every write.
 *
 * Eviction. When the applied accounted size exceeds maxmemory under an
 * eviction policy, the leader samples maxmemory-samples keys per database,
 * keeps the best 16 candidates in a pool (Redis's evict.c), and takes
 * victims until the size it expects to free brings the accounted size to
 * 99% of maxmemory, at most 1024 per entry (volatile-ttl: the nearest
 * expiries in order); one eviction entry is in flight
 * at a time. */
#ifndef RAFTKV_EVICT_H
#define RAFTKV_EVICT_H

#include <stddef.h>
#include <stdint.h>

#include "storage/kvcmd.h"

/* At start-up, before serving: makes the access table and touches each of
 * its pages, so the first writes do not take its page faults (in this VM a
 * first touch of a 2 MB page took 8-12 ms, six of them in one pass). */
void evict_prepare(void);
/* A key of logical database db was accessed by a write (hook of apply). */
void evict_touch_write(int db, const char *key, size_t keylen);
/* A read command served by this node: the keys it names are touched by
 * evict_touch_flush(), which the caller runs once the read itself ran (or
 * was queued); the next evict_touch_read() runs it too. */
void evict_touch_read(int db, const kv_command *cmd, int argc, char **argv, size_t *argvlen);
void evict_touch_flush(void);
/* The kvstate_access_fn for OBJECT FREQ / IDLETIME. */
long long evict_access(void *ctx, int which, int db, const char *key, size_t keylen);
/* On the leader: proposes an eviction entry when one is needed. Called at
 * the end of each pass and by the cron. */
void evict_cron(void);
/* The leader's proposals (INFO stats): entries and victims proposed. */
uint64_t evict_entries_proposed(void);
/* Redis's bytesToHuman() into buf (>= 32 bytes). */
void evict_bytes_human(char *buf, size_t len, uint64_t n);

#endif
