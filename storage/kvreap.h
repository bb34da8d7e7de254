/* kvreap.h -- deleting files without waiting for their page cache.
 *
 * The last close of an unlinked file frees its cached pages, in the caller:
 * for a 64 MB log segment still in memory that is about 100 ms on this
 * machine's ext4, which in the event loop stops every node at the same log
 * index. kvreap_unlinkat() opens the file, removes its name (fast: the
 * inode outlives its name while a descriptor is open) and hands the
 * descriptor to a thread of its own that closes it, as Redis's background
 * close jobs do. What the name's removal means for a crash is unchanged:
 * the name is gone when the call returns, and an unlinked inode that a
 * crash leaves open is freed by the file system at mount. */
#ifndef RAFTKV_KVREAP_H
#define RAFTKV_KVREAP_H

typedef struct kvreap kvreap;

/* A reaper; its thread starts with the first file. NULL: out of memory. */
kvreap *kvreap_new(void);

/* As unlinkat(dirfd, name, 0): 0, or -1 with errno. With r NULL, when the
 * file cannot be opened, or when the thread cannot start, the file is
 * deleted (and closed) in the caller, as unlinkat alone would. */
int kvreap_unlinkat(kvreap *r, int dirfd, const char *name);

/* Descriptors handed over and not closed yet (tests). */
unsigned kvreap_pending(kvreap *r);

/* Closes what is still queued, stops the thread, frees r (NULL: nothing). */
void kvreap_free(kvreap *r);

#endif
