/* waiters.h -- the writes waiting for their entry (waiters.c), for the
 * driver (driver.c). Error rules (DESIGN.md "The write path"): a waiter
 * whose index is applied with another term gets -TRYAGAIN (its entry
 * certainly did not commit); one still unanswered after
 * raft-request-timeout gets -TIMEOUT (it may have committed). A blocked
 * client's attempt (s->blk) is told its outcome instead
 * (blocking_attempt_outcome), and a waiter whose client is gone is freed. */
#ifndef RAFTKV_WAITERS_H
#define RAFTKV_WAITERS_H

#include <stdint.h>

#include "server/server.h"

/* s waits for entry (index, term), until raft-request-timeout from now.
 * Entries are proposed in index order, and so are waiters added. */
void waiters_add(slot *s, uint64_t index, uint64_t term);
/* Entry (index, term) applies: its waiter leaves the queue and is returned
 * (NULL when none, or when its entry lost to another term: that one got
 * -TRYAGAIN), the caller answers it; earlier waiters, lost, get -TRYAGAIN. */
slot *waiters_take(uint64_t index, uint64_t term);
void waiters_timeouts(int64_t now); /* tick: -TIMEOUT to the waiters past their deadline */

#endif
