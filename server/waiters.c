/* waiters.c -- the writes waiting for their entry (server/waiters.h). */
#include <string.h>

#include "server/server.h"
#include "server/waiters.h"

static slot *wait_head, *wait_tail; /* by index: entries are proposed in order */

static void wait_enqueue(slot *s)
{
    s->wnext = NULL;
    if (wait_tail)
        wait_tail->wnext = s;
    else
        wait_head = s;
    wait_tail = s;
}

void waiters_add(slot *s, uint64_t index, uint64_t term)
{
    s->index = index;
    s->term = term;
    s->deadline = mstime() + cfg.raft_request_timeout;
    wait_enqueue(s);
}

/* A waiter leaves the queue with an error reply (or is freed if its client
 * is gone). A blocked client's attempt is told instead: not committed
 * (TRYAGAIN) is tried again, a timeout's outcome is unknown. */
static void fail_waiter(slot *h, const char *err)
{
    if (h->blk) {
        int retry = !strncmp(err, "TRYAGAIN", 8);
        blocking_attempt_outcome(h, retry ? ATTEMPT_RETRY : ATTEMPT_UNKNOWN, 0, err, strlen(err));
        return;
    }
    if (!h->c) {
        slot_free(h);
        return;
    }
    if (h->keep_reply) resp_buf_reset(&h->out);
    resp_add_error(&h->out, err);
    slot_done(h);
}

slot *waiters_take(uint64_t index, uint64_t term)
{
    slot *w = NULL;
    while (wait_head && wait_head->index <= index) {
        slot *h = wait_head;
        wait_head = h->wnext;
        if (!wait_head) wait_tail = NULL;
        if (h->index == index) {
            w = h;
            break;
        }
        /* Its index was applied before without answering it: lost. */
        fail_waiter(h, "TRYAGAIN the write was not committed");
    }
    if (w && w->term != term) {
        fail_waiter(w, "TRYAGAIN the write was not committed");
        w = NULL;
    }
    return w;
}

/* Answer -TIMEOUT to writes whose outcome is still unknown. */
void waiters_timeouts(int64_t now)
{
    while (wait_head && wait_head->deadline <= now) {
        slot *h = wait_head;
        wait_head = h->wnext;
        if (!wait_head) wait_tail = NULL;
        fail_waiter(h, "TIMEOUT the write may or may not have been committed");
    }
}
