/* kvbackup.h -- a consistent copy of the state environment, and a state
 * seeded from one.
 *
 * A backup is the state's last committed version copied by LMDB from one
 * read transaction (mdb_env_copy2 with MDB_CP_COMPACT: free pages left out),
 * so the key space and the applied index and tau stored beside it in the
 * same file are of one instant. The copy is an ordinary state file: a
 * server opens it with kvstate_open() like its own.
 *
 * Errors: 0 or a negative KV_E* code (storage/kverr.h), with a message in err.
 */
#ifndef RAFTKV_KVBACKUP_H
#define RAFTKV_KVBACKUP_H

#include <stddef.h>
#include <stdint.h>

#include "storage/kvstate.h"

/* Copies s's last committed state into dir/data.mdb (dir must exist and
 * hold no data.mdb) and fsyncs it; *index and *tau get the applied index
 * and tau of the copy, read back from it. Only s's environment is used,
 * which LMDB lets any thread use (the state is opened with MDB_NOTLS): a
 * thread other than the one applying entries may call it while they are
 * applied and committed. Takes as long as writing the state's live pages. */
int kvbackup_copy(kvstate *s, const char *dir, uint64_t *index, int64_t *tau, char *err,
                  size_t errlen);

/* Records, in s (just opened on a state file copied from a backup), that
 * its applied index is a snapshot installed at (applied index, term), and
 * commits: at start-up the server then resets its empty log to start after
 * it (server/snapshot.c snapshot_startup), as after a snapshot install. */
int kvbackup_mark_restored(kvstate *s, uint64_t term);

#endif
