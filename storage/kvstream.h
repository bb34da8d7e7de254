/* kvstream.h -- the stored records of a stream (kvx_stream.c, kvks.h):
 * their decoders, for the fuzz target. storage/ internal. */
#ifndef RAFTKV_KVSTREAM_H
#define RAFTKV_KVSTREAM_H

#include <stddef.h>
#include <stdint.h>

/* An entry's value: u32 BE pairs (at least 1), then per field and value
 * u32 BE length and bytes, nothing after. Calls fn (may be NULL) for each
 * field and value in order; returns the number of pairs, or -1 when a
 * length does not fit what is left. */
typedef void kv_stream_field_fn(void *arg, const char *p, size_t n);
int kv_stream_entry_decode(const void *p, size_t n, kv_stream_field_fn *fn, void *arg);

/* A node record's value: u64 BE live, u64 BE deleted, last id (ms, seq),
 * then u64 BE base: the bytes of Redis's listpack for the node but the
 * master entry's count and deleted elements (a record of before has no
 * base: 32 bytes, base 0 for unknown). */
typedef struct kv_stream_node {
    uint64_t live, deleted, last_ms, last_seq, base;
} kv_stream_node;
/* 0, or -1 when it is not 32 or 40 bytes or a count is out of range. */
int kv_stream_node_decode(const void *p, size_t n, kv_stream_node *node);

/* A node's master fields record: u32 BE count, then per field u32 BE
 * length and bytes, nothing after. Calls fn (may be NULL) for each field;
 * returns the count, or -1 when a length does not fit what is left. */
int kv_stream_fields_decode(const void *p, size_t n, kv_stream_field_fn *fn, void *arg);

#endif
