/* write.c -- the write path of a one-member cluster (DESIGN.md "The write
 * path"): a write becomes a log entry with its time tau; all the entries of
 * a pass are made durable by one fsync at its end (group commit); then they
 * are applied in order and each waiting client gets the reply its entry
 * computed. A read that waited behind a client's write runs right after
 * that write is applied, before any later entry.
 *
 * The Raft issue puts raft/ between the append and the apply; the slots,
 * the waiter queue and the apply loop stay. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/log.h"
#include "server/server.h"
#include "storage/kventry.h"
#include "storage/kverr.h"

typedef struct pass_rec {
    uint64_t index;
    size_t off, len;
} pass_rec;

static resp_buf pass_buf; /* payloads appended this pass, back to back */
static pass_rec *recs;
static size_t nrecs, caprecs;

static void fatal(int rc, const char *what)
{
    serverLog(LL_WARNING, "Storage error while %s: %s. Stopping.", what, kv_strerror(rc));
    exit(1);
}

static int64_t next_tau(void)
{
    int64_t now = mstime();
    if (now < srv.last_tau) now = srv.last_tau;
    srv.last_tau = now;
    return now;
}

/* Appends the payload that starts at pass_buf[off] to the log. Returns its
 * index, or 0 when the log's map is full. */
static uint64_t log_payload(size_t off)
{
    if (pass_buf.oom) {
        serverLog(LL_WARNING, "Out of memory encoding a log entry");
        exit(1);
    }
    uint64_t index = kvlog_last_index(srv.log) + 1;
    int rc = kvlog_append(srv.log, index, 1, 0, pass_buf.p + off, pass_buf.len - off);
    if (rc == KV_EFULL) {
        pass_buf.len = off;
        return 0;
    }
    if (rc) fatal(rc, "appending to the log");
    if (nrecs == caprecs) {
        size_t cap = caprecs ? caprecs * 2 : 256;
        pass_rec *r = realloc(recs, cap * sizeof(*r));
        if (!r) {
            serverLog(LL_WARNING, "Out of memory");
            exit(1);
        }
        recs = r;
        caprecs = cap;
    }
    recs[nrecs++] = (pass_rec){index, off, pass_buf.len - off};
    srv.stats.entries++;
    return index;
}

static int propose(client *c, size_t off)
{
    uint64_t index = log_payload(off);
    if (!index) {
        resp_add_error(client_reply_buf(c),
                       "OOM command not allowed when used memory > 'maxmemory'.");
        return -1;
    }
    slot *s = client_new_slot(c, SLOT_WRITE);
    s->index = index;
    c->last_write = index;
    if (srv.wait_tail)
        srv.wait_tail->wnext = s;
    else
        srv.wait_head = s;
    srv.wait_tail = s;
    return 0;
}

int write_propose(client *c, int argc, char **argv, size_t *argvlen)
{
    if (!pass_buf.p) resp_buf_init(&pass_buf, 2);
    size_t off = pass_buf.len;
    kventry_encode_cmd(&pass_buf, next_tau(), argc, argv, argvlen);
    return propose(c, off);
}

int write_propose_multi(client *c)
{
    if (!pass_buf.p) resp_buf_init(&pass_buf, 2);
    size_t off = pass_buf.len;
    kventry_begin_multi(&pass_buf, next_tau(), (uint32_t)c->mq_len);
    for (int i = 0; i < c->mq_len; i++)
        kventry_add_cmd(&pass_buf, c->mq[i].argc, c->mq[i].argv, c->mq[i].argvlen);
    return propose(c, off);
}

void write_expire_cron(void)
{
    if (srv.expire_in_flight) return;
    int64_t next = kvstate_next_expiry(srv.state);
    if (next < 0 || next > mstime()) return;
    if (!pass_buf.p) resp_buf_init(&pass_buf, 2);
    size_t off = pass_buf.len;
    int n = kvstate_collect_expired(srv.state, next_tau(), 1000, &pass_buf);
    if (n <= 0) return;
    if (log_payload(off)) {
        srv.expire_in_flight = 1;
        srv.stats.expired_keys += (uint64_t)n;
    }
}

static void slot_release(slot *s)
{
    resp_buf_free(&s->out);
    free(s->argv);
    free(s);
}

/* Applies one committed entry and answers whoever waits for it. */
static void apply_one(uint64_t index, const void *p, size_t n)
{
    slot *w = NULL;
    while (srv.wait_head && srv.wait_head->index <= index) {
        slot *h = srv.wait_head;
        srv.wait_head = h->wnext;
        if (!srv.wait_head) srv.wait_tail = NULL;
        if (h->index == index) {
            w = h;
            break;
        }
        /* A waiter for an index that was never applied as proposed. */
        if (!h->c)
            slot_release(h);
        else {
            resp_add_error(&h->out, "TIMEOUT the outcome of this write is unknown");
            h->state = SLOT_DONE;
            h->c->npending--;
            client_mark_dirty(h->c);
        }
    }
    client *c = w ? w->c : NULL;
    int rc = kvstate_apply(srv.state, index, p, n, c ? &w->out : NULL);
    if (rc) fatal(rc, "applying a committed entry");
    if (!w) return;
    if (!c) {
        slot_release(w);
        return;
    }
    w->state = SLOT_DONE;
    c->npending--;
    client_mark_dirty(c);
    int64_t now = mstime();
    for (slot *s = w->next; s && s->state != SLOT_WRITE; s = s->next) {
        if (s->state != SLOT_READ) continue;
        rc = kvstate_read(srv.state, s->argc, s->argv, s->argvlen, now, &s->out);
        if (rc) fatal(rc, "reading");
        free(s->argv);
        s->argv = NULL;
        s->state = SLOT_DONE;
        c->npending--;
    }
}

void write_end_of_pass(void)
{
    if (!nrecs) return;
    int rc = kvlog_sync(srv.log);
    if (rc) fatal(rc, "syncing the log");
    srv.stats.syncs++;
    for (size_t i = 0; i < nrecs; i++)
        apply_one(recs[i].index, pass_buf.p + recs[i].off, recs[i].len);
    nrecs = 0;
    resp_buf_reset(&pass_buf);
    if (pass_buf.cap > 4 * 1024 * 1024) {
        resp_buf_free(&pass_buf);
        resp_buf_init(&pass_buf, 2);
    }
    srv.expire_in_flight = 0;
}

int write_replay(char *err, size_t errlen)
{
    uint64_t from = kvstate_applied_index(srv.state) + 1;
    uint64_t first = kvlog_first_index(srv.log), last = kvlog_last_index(srv.log);
    if (from < first && from <= last) {
        snprintf(err, errlen, "the state (applied %llu) is behind the log's first index %llu",
                 (unsigned long long)(from - 1), (unsigned long long)first);
        return -1;
    }
    for (uint64_t i = from; i <= last; i++) {
        uint64_t term;
        uint8_t type;
        void *data = NULL;
        size_t len = 0;
        int rc = kvlog_get(srv.log, i, &term, &type, &data, &len);
        if (rc) {
            snprintf(err, errlen, "reading log entry %llu: %s", (unsigned long long)i,
                     kv_strerror(rc));
            return -1;
        }
        rc = kvstate_apply(srv.state, i, data, len, NULL);
        free(data);
        if (rc) {
            snprintf(err, errlen, "applying log entry %llu: %s", (unsigned long long)i,
                     kv_strerror(rc));
            return -1;
        }
    }
    if (last >= from)
        serverLog(LL_NOTICE, "Replayed log entries %llu..%llu", (unsigned long long)from,
                  (unsigned long long)last);
    int rc = kvstate_commit(srv.state);
    if (rc) {
        snprintf(err, errlen, "committing the state: %s", kv_strerror(rc));
        return -1;
    }
    srv.last_tau = kvstate_tau(srv.state);
    return 0;
}
