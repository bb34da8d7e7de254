/* memstore.h -- an in-memory raft_storage for tests, the simulation and the
 * benchmark. It plays the part of the disk: what the driver writes here
 * survives a simulated crash. Entry data live in one growable byte buffer
 * (no per-entry allocation). */
#ifndef RAFTKV_TESTS_MEMSTORE_H
#define RAFTKV_TESTS_MEMSTORE_H

#include "raft/raft.h"

typedef struct ms_ent {
    uint64_t term;
    uint64_t off; /* into data */
    uint32_t len;
    uint8_t type;
} ms_ent;

typedef struct memstore {
    raft_hard_state hs;
    raft_snapshot_meta snap; /* the log starts after snap.index */
    ms_ent *ents;            /* ents[i] has index snap.index + 1 + i */
    uint64_t n, cap;
    uint8_t *data;
    uint64_t dlen, dcap;
    raft_storage iface;
    int fail_snapshot; /* tests: snapshot() answers RAFT_ESNAPTEMP */
} memstore;

/* voters: the bootstrap configuration; none (n_voters 0) for a node that
 * waits to be added. */
void memstore_init(memstore *s, const uint64_t *voters, uint32_t n_voters);
void memstore_free(memstore *s);
/* Appends after truncating from ents[0].index (a conflict). */
int memstore_append(memstore *s, const raft_entry *ents, size_t n);
void memstore_set_hs(memstore *s, const raft_hard_state *hs);
/* Replaces everything with the snapshot (installing one from a leader). */
void memstore_apply_snapshot(memstore *s, const raft_snapshot_meta *m);
/* Discards entries <= index, recording a snapshot with ref (index <= last). */
int memstore_compact(memstore *s, uint64_t index, const void *ref, uint32_t ref_len);
/* Same, recording conf (the configuration in force at index) in the
 * snapshot metadata; NULL keeps the one recorded. */
int memstore_compact_conf(memstore *s, uint64_t index, const void *ref, uint32_t ref_len,
                          const raft_conf *conf);
uint64_t memstore_last(const memstore *s);
/* Copies the whole state (for restart tests). */
int memstore_copy(memstore *dst, const memstore *src);

#endif
