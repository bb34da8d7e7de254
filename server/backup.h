/* backup.h -- SAVE, BGSAVE and --restore-from: consistent backups of a
 * running node and new nodes seeded from one.
 *
 * A backup is a directory (config backup-dir, default <dir>/backup) with
 *   data.mdb     the state environment as of one committed version, copied
 *                by LMDB from one read transaction, compacted
 *                (storage/kvbackup.h);
 *   backup.info  text, "key value" lines: format, applied-index and tau of
 *                that version, node-id, cluster-id, time (Unix seconds).
 * It is written into <backup-dir>.tmp on a thread of its own, fsynced, then
 * renamed into place, so a crash leaves the previous backup or the new one.
 * The event loop only starts the thread and, polled by a timer, joins it:
 * BGSAVE never blocks it. SAVE runs the same copy and waits for it, as
 * Redis's SAVE blocks. The state is committed first, so the backup holds
 * every entry applied when the command ran.
 *
 * Restore (raftkv-server --restore-from DIR, on the command line only):
 * into a data directory with no data, the backup's data.mdb becomes the
 * state, marked as a snapshot installed at its applied index (term 1), and
 * the empty log starts after it, as after a snapshot install. The node gets
 * the identity of its own configuration (node-id, cluster-id): a backup of
 * one cluster seeds a new one. Seed every node of a new cluster from the
 * same backup: a node started empty beside seeded ones has a log that is
 * behind theirs but, with a second empty node's vote, could still lead an
 * empty cluster (the seeded node's state would then be replaced).
 */
#ifndef RAFTKV_BACKUP_H
#define RAFTKV_BACKUP_H

#include <stddef.h>
#include <stdint.h>

#include "server/server.h"

/* SAVE and BGSAVE [SCHEDULE]: argv[0] says which; the reply goes to c. */
void backup_command(client *c, int argc, char **argv);
/* LASTSAVE: when the last successful backup ended (Unix seconds), or the
 * server's start time before any. */
int64_t backup_lastsave(void);
/* INFO persistence's rdb_* lines, into buf. */
void backup_info_fields(char *buf, size_t len);
/* At shutdown, before the state closes: waits for a backup in progress. */
void backup_wait(void);

/* Strips "--restore-from DIR" from argv (before the configuration reads
 * it: the option is a one-time action, never a configuration key, so
 * CONFIG REWRITE cannot make it repeat) and returns DIR, or NULL. */
const char *backup_take_restore_option(int *argc, char **argv);
/* Installs the backup in dir `from` as srv.state: called with srv.log and
 * srv.state just opened, before anything writes to them. Refuses (-1,
 * message in err) a data directory that holds any data. */
int backup_restore(const char *from, char *err, size_t errlen);

#endif
