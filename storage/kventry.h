/* kventry.h -- the payload of a log entry as the state machine reads it.
 * raft/ treats it as opaque bytes.
 *
 *   u8 version (2), u8 kind, i64 tau (little-endian), then by kind:
 *   KV_ENTRY_CMD:    u8 db, one command: u32 argc, then argc x (u32 len, bytes)
 *   KV_ENTRY_MULTI:  u8 db, u32 count, then count commands as above
 *                    (MULTI/EXEC, applied atomically, replied as an array;
 *                    a SELECT among them changes the database of the rest)
 *   KV_ENTRY_EXPIRE: u32 count, then count x (u8 physical db, u32 keylen,
 *                    key, i64 expiry):
 *                    each key is deleted only if it still exists with
 *                    exactly that expiry (so a newer write survives).
 * tau is the entry's time in ms: max(leader's wall clock, previous tau).
 * Relative times in a command (EX, PX, EXPIRE ...) are taken against tau
 * at apply, so every node and every replay computes the same result.
 * db is the client's logical database (SELECT); version 1 entries (no db
 * bytes) are read as database 0.
 * Buffers are resp_buf used as plain byte buffers (resp_add_raw).
 */
#ifndef RAFTKV_KVENTRY_H
#define RAFTKV_KVENTRY_H

#include <stddef.h>
#include <stdint.h>

#include "resp/resp.h"

enum { KV_ENTRY_CMD = 1, KV_ENTRY_MULTI = 2, KV_ENTRY_EXPIRE = 3 };

void kventry_encode_cmd(resp_buf *out, int64_t tau, int db, int argc, char **argv,
                        const size_t *argvlen);
/* A MULTI entry: begin, then add each queued command. */
void kventry_begin_multi(resp_buf *out, int64_t tau, int db, uint32_t count);
void kventry_add_cmd(resp_buf *out, int argc, char **argv, const size_t *argvlen);

/* Reads the header; returns 0 or KV_ECORRUPT. */
int kventry_peek(const void *p, size_t n, int *kind, int64_t *tau);

#endif
