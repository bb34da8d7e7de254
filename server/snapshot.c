/* snapshot.c -- snapshot transfers between nodes, and log GC (issue 5;
 * DESIGN.md "Storage layout"; storage/kvsnap.h for the stream format).
 *
 * Sending (the leader). raft/ decides that a follower needs a snapshot and
 * emits a RAFT_MSG_SNAP holding only metadata. The driver hands it here
 * instead of to the transport: a stream starts for that peer from a read
 * transaction on the state (kvsnap_reader: the committed state, its index
 * and tau read together). Chunks of at most CHUNK_BYTES, whatever the size
 * of a value (kvsnap.h splits larger ones), go out as
 *
 *   RAFT.SNAP <index> <term> <offset> <last> <checksum> <data> [<snap msg>]
 *
 * through transport_call(), at most WINDOW unanswered at a time; the
 * follower answers each with the bytes it has staged. The last chunk also
 * carries the RAFT_MSG_SNAP itself (its index and term rewritten to the
 * stream's, tau in its ref), which the follower steps into raft once every
 * byte is staged. A stream ends when its last chunk is acknowledged, and is
 * abandoned (its read transaction closed) when the connection drops, the
 * follower answers an error, this node stops leading, or the follower
 * caught up by the log meanwhile. raft_report_snapshot() tells raft either
 * way, from snapshot_pump(), which runs outside any Ready.
 *
 * Receiving (a follower). RAFT.SNAP chunks are checked (checksum, then
 * snapin.h: one staging at a time, chunks only from the stream's sender,
 * nothing at or below the commit index, no new stream while one is being
 * installed) and staged into the idle pair of the state (kvsnap_stage);
 * when the last is in, the RAFT_MSG_SNAP is stepped; raft puts the
 * snapshot in the next Ready and the driver installs it before anything
 * else (snapshot_install: state flip, then log reset, DESIGN.md's order).
 * A refused or inconsistent chunk is an error answered to its sender.
 *
 * Log GC. Each node truncates its log below the state's durable applied
 * index, keeping raft-log-keep entries (fewer when the log is larger than
 * raft-log-keep-bytes), never past the index of a snapshot it is sending
 * (that follower continues from the log), in steps of GC_STEP entries.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft/raft.h"
#include "server/diag.h"
#include "server/log.h"
#include "server/acl.h"
#include "server/server.h"
#include "server/snapin.h"
#include "server/transport.h"
#include "storage/kverr.h"
#include "storage/kvsnap.h"

#define CHUNK_BYTES (256 * 1024)
#define WINDOW 8
#define GC_STEP 4096                   /* entries deleted per GC run (every cron run) */
#define STAGE_COMMIT_BYTES (32u << 20) /* commit the state after this much staging */
#define PROGRESS_LOG_MS 5000
/* A stream that sent nothing for this long may be taken over by another
 * sender (a leader's stream to a follower keeps a window of chunks in
 * flight; one whose sender was deposed is taken over at once). */
#define STAGE_IDLE_MS 10000

typedef struct snap_out {
    uint64_t peer; /* 0: slot unused */
    uint64_t tag;  /* this stream's id in transport replies */
    uint64_t raft_term;
    kvsnap_reader *r;
    uint64_t index, term, keys;
    int64_t tau;
    uint8_t *msg; /* the encoded RAFT_MSG_SNAP for the last chunk */
    size_t msglen;
    uint64_t sent, acked;
    int inflight, read_done;
    int report; /* 0 none, 1 finished, -1 failed: told to raft in the pump */
    const char *why;
    int64_t started_ms, logged_ms;
} snap_out;

static snap_out outs[RAFT_MAX_NODES];
static uint64_t next_tag;
static uint64_t stat_sent, stat_installed, stat_aborted;

/* The receiving side: one stream at a time (snapin.h). */
static struct {
    snapin s;
    uint64_t bytes, since_commit;
    int64_t started_ms, logged_ms;
} in;

/* Durations and rates are timed on CLOCK_MONOTONIC: a wall-clock jump
 * must not stall a rate-limited stream. */
static int64_t mono_ms(void)
{
    return mono_us() / 1000;
}

static double mb(uint64_t b)
{
    return (double)b / (1024.0 * 1024.0);
}

/* ------------------------------------------------------------ sending */

/* raft's storage->snapshot(): the state as last committed. */
int snapshot_meta(void *ctx, raft_snapshot_meta *out)
{
    (void)ctx;
    memset(out, 0, sizeof(*out));
    uint64_t index = kvstate_durable_index(srv.state), term = 0;
    if (index == 0 || kvlog_term(srv.log, index, &term) != 0) return RAFT_ESNAPTEMP;
    out->index = index;
    out->term = term;
    return 0;
}

static snap_out *out_for(uint64_t peer)
{
    for (int i = 0; i < RAFT_MAX_NODES; i++)
        if (outs[i].peer == peer) return &outs[i];
    return NULL;
}

static void out_close(snap_out *o)
{
    kvsnap_reader_close(o->r);
    free(o->msg);
    memset(o, 0, sizeof(*o));
}

/* Marks a stream failed; the pump tells raft and frees it. */
static void out_fail(snap_out *o, const char *why)
{
    if (o->report) return;
    o->report = -1;
    o->why = why;
}

int snapshot_intercept(const raft_msg *m)
{
    if (m->type != RAFT_MSG_SNAP) return 0;
    snap_out *o = out_for(m->to);
    if (o) return 1; /* one stream per peer: the one under way goes on */
    if (!(o = out_for(0))) return 1;
    kvsnap_reader *r;
    int rc = kvsnap_reader_open(srv.state, &r);
    uint64_t index = rc ? 0 : kvsnap_reader_index(r), term = 0;
    if (rc || index == 0 || kvlog_term(srv.log, index, &term) != 0) {
        serverLog(LL_WARNING, "Snapshot for node %" PRIu64 ": cannot read the state (%s)", m->to,
                  rc ? kv_strerror(rc) : "no entry at its index");
        kvsnap_reader_close(rc ? NULL : r);
        /* Inside a Ready: the pump tells raft. */
        o->peer = m->to;
        o->started_ms = mono_ms();
        out_fail(o, "the state could not be read");
        return 1;
    }
    /* The message raft made, describing what this stream really holds. */
    raft_snapshot_meta meta = *m->snap;
    meta.index = index;
    meta.term = term;
    int64_t tau = kvsnap_reader_tau(r);
    meta.ref_len = 8;
    for (int i = 0; i < 8; i++)
        meta.ref[i] = (uint8_t)((uint64_t)tau >> (8 * i));
    raft_msg msg = *m;
    msg.index = index;
    msg.log_term = term;
    msg.snap = &meta;
    size_t need = raft_msg_encoded_size(&msg);
    uint8_t *buf = malloc(need);
    if (!buf || raft_msg_encode(&msg, buf, need) == 0) {
        free(buf);
        kvsnap_reader_close(r);
        serverLog(LL_WARNING, "Snapshot for node %" PRIu64 ": out of memory", m->to);
        return 1;
    }
    o->peer = m->to;
    o->tag = ++next_tag;
    o->raft_term = m->term;
    o->r = r;
    o->index = index;
    o->term = term;
    o->tau = tau;
    o->keys = kvsnap_reader_keys(r);
    o->msg = buf;
    o->msglen = need;
    o->started_ms = o->logged_ms = mono_ms();
    serverLog(LL_NOTICE,
              "Snapshot to node %" PRIu64 ": sending index %" PRIu64 " term %" PRIu64 " (%" PRIu64
              " keys)",
              o->peer, index, term, o->keys);
    return 1;
}

void snapshot_on_reply(uint64_t peer, uint64_t tag, long long value, const char *err, size_t errlen)
{
    snap_out *o = out_for(peer);
    if (!o || o->tag != tag || o->report) return; /* a stream already gone */
    if (o->inflight > 0) o->inflight--;
    if (err) {
        serverLog(LL_WARNING, "Snapshot to node %" PRIu64 ": refused: %.*s", peer,
                  (int)(errlen > 200 ? 200 : errlen), err);
        out_fail(o, "the follower refused a chunk");
        return;
    }
    if (value < 0 || (uint64_t)value > o->sent) {
        out_fail(o, "the follower acknowledged bytes never sent");
        return;
    }
    o->acked = (uint64_t)value;
    if (o->read_done && o->inflight == 0 && o->acked == o->sent) o->report = 1;
}

void snapshot_peer_lost(uint64_t peer)
{
    snap_out *o = out_for(peer);
    if (o) out_fail(o, "the connection was lost");
}

static void send_chunk(snap_out *o)
{
    const uint8_t *data;
    size_t len;
    int last;
    int64_t t0 = mono_us();
    int rc = kvsnap_reader_next(o->r, CHUNK_BYTES, &data, &len, &last);
    diag_latency_sample("snapshot-send", mono_us() - t0);
    if (rc) {
        serverLog(LL_WARNING, "Snapshot to node %" PRIu64 ": reading the state: %s", o->peer,
                  kv_strerror(rc));
        out_fail(o, "reading the state failed");
        return;
    }
    char sidx[24], sterm[24], soff[24], ssum[24];
    snprintf(sidx, sizeof(sidx), "%" PRIu64, o->index);
    snprintf(sterm, sizeof(sterm), "%" PRIu64, o->term);
    snprintf(soff, sizeof(soff), "%" PRIu64, o->sent);
    snprintf(ssum, sizeof(ssum), "%" PRIu64, kvsnap_checksum(data, len));
    const char *argv[8] = {
        "RAFT.SNAP",         sidx, sterm, soff, last ? "1" : "0", ssum, (const char *)data,
        (const char *)o->msg};
    size_t argvlen[8] = {9, strlen(sidx), strlen(sterm), strlen(soff),
                         1, strlen(ssum), len,           o->msglen};
    rc = transport_call(driver_transport(), o->peer, last ? 8 : 7, argv, argvlen, o->tag);
    if (rc != TRANSPORT_OK) {
        out_fail(o, transport_strerror(rc));
        return;
    }
    o->sent += len;
    o->inflight++;
    o->read_done = last;
}

static int within_rate(const snap_out *o, int64_t now)
{
    long long rate = cfg.raft_snapshot_max_rate;
    if (rate <= 0) return 1;
    double allowed = (double)rate * (double)(now - o->started_ms) / 1000.0;
    return (double)o->sent < allowed || o->sent == 0;
}

/* Called at the end of every pass, outside any Ready. */
void snapshot_pump(void)
{
    int any = 0;
    for (int i = 0; i < RAFT_MAX_NODES && !any; i++)
        any = outs[i].peer != 0;
    if (!any) return; /* every pass: nothing to do unless a stream runs */
    raft_node *node = driver_raft();
    int64_t now = mono_ms();
    raft_status st;
    raft_get_status(node, &st);
    for (int i = 0; i < RAFT_MAX_NODES; i++) {
        snap_out *o = &outs[i];
        if (!o->peer) continue;
        if (!o->report && (st.role != RAFT_LEADER || st.term != o->raft_term))
            out_fail(o, "no longer the leader");
        if (!o->report) {
            /* The follower has the snapshot's index: by this stream (its
             * append response can overtake the last chunk's answer) or,
             * superseding it, from the log. */
            raft_peer_progress pp;
            for (uint32_t j = 0; raft_get_progress(node, j, &pp) == 0; j++)
                if (pp.id == o->peer && pp.state == RAFT_PR_REPLICATE && pp.match >= o->index) {
                    if (o->read_done)
                        o->report = 1;
                    else
                        out_fail(o, "the follower caught up from the log");
                }
        }
        if (o->report) {
            double secs = (double)(now - o->started_ms) / 1000.0;
            if (o->report > 0) {
                stat_sent++;
                serverLog(LL_NOTICE,
                          "Snapshot to node %" PRIu64 ": done, index %" PRIu64
                          ", %.1f MB in %.2f s (%.1f MB/s)",
                          o->peer, o->index, mb(o->sent), secs,
                          secs > 0 ? mb(o->sent) / secs : 0.0);
            } else {
                stat_aborted++;
                serverLog(LL_NOTICE,
                          "Snapshot to node %" PRIu64 ": abandoned after %.1f MB, %.2f s: %s",
                          o->peer, mb(o->acked), secs, o->why);
            }
            if (st.role == RAFT_LEADER) {
                int rc = raft_report_snapshot(node, o->peer, o->report > 0);
                if (rc && rc != RAFT_EUNKNOWNPEER)
                    serverLog(LL_WARNING, "raft_report_snapshot: %s", raft_strerror(rc));
            }
            out_close(o);
            continue;
        }
        /* Keep the window full, and hiredis's buffer short; with
         * raft-snapshot-max-rate, no faster than that on average. */
        while (!o->report && !o->read_done && o->inflight < WINDOW &&
               transport_pending_bytes(driver_transport(), o->peer) < 2 * CHUNK_BYTES &&
               within_rate(o, now))
            send_chunk(o);
        if (now - o->logged_ms >= PROGRESS_LOG_MS) {
            o->logged_ms = now;
            serverLog(LL_NOTICE, "Snapshot to node %" PRIu64 ": %.1f MB sent, %.1f MB acknowledged",
                      o->peer, mb(o->sent), mb(o->acked));
        }
    }
}

/* The lowest index a stream in progress needs the log to go on from. */
static uint64_t gc_floor(uint64_t floor)
{
    for (int i = 0; i < RAFT_MAX_NODES; i++)
        if (outs[i].peer && outs[i].index < floor) floor = outs[i].index;
    return floor;
}

void snapshot_shutdown(void)
{
    for (int i = 0; i < RAFT_MAX_NODES; i++)
        if (outs[i].peer) out_close(&outs[i]);
}

/* ------------------------------------------------------------ receiving */

static int parse_u64(const char *s, size_t n, uint64_t *v)
{
    if (n == 0 || n > 20) return -1;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (x > (UINT64_MAX - d) / 10) return -1;
        x = x * 10 + d;
    }
    *v = x;
    return 0;
}

/* RAFT.SNAP <index> <term> <offset> <last> <checksum> <data> [<snap msg>] */
void snapshot_receive(client *c, int argc, char **argv, size_t *lens)
{
    resp_buf *out = client_reply_buf(c);
    uint64_t index, term, offset, last, sum, staged = 0;
    if (!c->peer_id) {
        resp_add_error(out, "ERR RAFT.SNAP needs a RAFT.HELLO first");
        c->flags |= CF_CLOSE_AFTER_REPLY;
        return;
    }
    if ((argc != 7 && argc != 8) || parse_u64(argv[1], lens[1], &index) ||
        parse_u64(argv[2], lens[2], &term) || parse_u64(argv[3], lens[3], &offset) ||
        parse_u64(argv[4], lens[4], &last) || last > 1 || (argc == 8) != (last == 1) ||
        parse_u64(argv[5], lens[5], &sum) || index == 0) {
        resp_add_error(out, "ERR malformed RAFT.SNAP");
        return;
    }
    if (kvsnap_checksum(argv[6], lens[6]) != sum) {
        resp_add_error(out, "ERR snapshot chunk checksum mismatch");
        return;
    }
    raft_msg *m = NULL;
    if (last) {
        /* The metadata raft will see must describe what was staged. */
        int rc = raft_msg_decode((const uint8_t *)argv[7], lens[7], NULL, &m);
        int ok = rc == 0 && m->type == RAFT_MSG_SNAP && m->snap && m->from == c->peer_id &&
                 m->snap->index == index && m->snap->term == term && m->snap->ref_len == 8;
        if (!ok) {
            if (m) raft_msg_free(m, NULL);
            resp_add_error(out, "ERR malformed RAFT.SNAP snapshot message");
            return;
        }
    }
    int64_t now = mono_ms();
    raft_status st;
    raft_get_status(driver_raft(), &st);
    uint64_t applied = kvstate_applied_index(srv.state);
    snapin_node nd = {.committed = st.commit > applied ? st.commit : applied,
                      .leader = st.leader,
                      .now_ms = now,
                      .idle_ms = STAGE_IDLE_MS};
    const char *why = snapin_admit(&in.s, &nd, c->peer_id, index, term, offset);
    if (why) {
        if (m) raft_msg_free(m, NULL);
        serverLog(offset == 0 ? LL_NOTICE : LL_VERBOSE,
                  "Snapshot from node %" PRIu64 ": refused a chunk of index %" PRIu64
                  " at offset %" PRIu64 ": %s",
                  c->peer_id, index, offset, why);
        resp_add_errorf(out, "ERR snapshot chunk refused: %s", why);
        return;
    }
    if (offset == 0) {
        in.bytes = in.since_commit = 0;
        in.started_ms = in.logged_ms = now;
        serverLog(LL_NOTICE,
                  "Snapshot from node %" PRIu64 ": receiving index %" PRIu64 " term %" PRIu64,
                  c->peer_id, index, term);
    }
    int rc = kvsnap_stage(srv.state, index, term, offset, argv[6], lens[6], (int)last, &staged);
    if (rc == KV_EINVAL || rc == KV_ECORRUPT || rc == KV_EFULL) {
        snapin_failed(&in.s);
        if (m) raft_msg_free(m, NULL);
        if (rc == KV_EFULL)
            serverLog(LL_WARNING,
                      "Snapshot from node %" PRIu64 ": a value does not fit the state map "
                      "(lmdb-state-mapsize); refused",
                      c->peer_id);
        resp_add_errorf(out, "ERR snapshot chunk %s (staged %" PRIu64 " bytes)",
                        rc == KV_EINVAL  ? "out of sequence"
                        : rc == KV_EFULL ? "does not fit the state map"
                                         : "corrupt",
                        staged);
        return;
    }
    if (rc) {
        serverLog(LL_WARNING, "Staging a snapshot chunk failed: %s. Stopping.", kv_strerror(rc));
        exit(1);
    }
    in.bytes = staged;
    in.since_commit += lens[6];
    if (in.since_commit >= STAGE_COMMIT_BYTES && !kvsnap_staging_mid_record(srv.state)) {
        /* Bounds the write transaction's dirty pages; part of a staging
         * that is durable survives a crash but is restarted anyway. Not
         * inside a large value: its pages are dirty until its end anyway,
         * and a commit would make the next piece copy what is staged. */
        in.since_commit = 0;
        rc = kvstate_commit(srv.state);
        if (rc) {
            serverLog(LL_WARNING, "Committing the state failed: %s (%s). Stopping.",
                      kv_strerror(rc), kvstate_last_error(srv.state));
            exit(1);
        }
    }
    if (now - in.logged_ms >= PROGRESS_LOG_MS && !last) {
        in.logged_ms = now;
        serverLog(LL_NOTICE, "Snapshot from node %" PRIu64 ": %.1f MB staged", c->peer_id,
                  mb(staged));
    }
    if (last) {
        serverLog(LL_NOTICE,
                  "Snapshot from node %" PRIu64
                  ": all %.1f MB staged in %.2f s; handing it to raft",
                  c->peer_id, mb(staged), (double)(now - in.started_ms) / 1000.0);
        driver_step_msg(m); /* m->from was checked above */
        raft_msg_free(m, NULL);
        /* Accepted, raft holds it as pending, to install in the next Ready:
         * its log now starts after it. */
        raft_get_status(driver_raft(), &st);
        snapin_handed(&in.s, st.snapshot_index == index);
        if (st.snapshot_index != index)
            serverLog(LL_NOTICE,
                      "Snapshot from node %" PRIu64 ": raft did not take index %" PRIu64
                      " (stale or already held)",
                      c->peer_id, index);
    }
    resp_add_int(out, (int64_t)staged);
}

/* The driver, handling a Ready with a snapshot, before the log part. */
void snapshot_install(const raft_snapshot_meta *m)
{
    int64_t t0 = mono_us();
    uint64_t tau = 0;
    for (int i = 0; i < 8 && i < (int)m->ref_len; i++)
        tau |= (uint64_t)m->ref[i] << (8 * i);
    int rc = kvsnap_install(srv.state, m->index, m->term, (int64_t)tau);
    if (rc) {
        serverLog(LL_WARNING, "Installing snapshot index %" PRIu64 " failed: %s. Stopping.",
                  m->index, kv_strerror(rc));
        exit(1);
    }
    diag_latency_sample("snapshot-install", mono_us() - t0);
    if ((int64_t)tau > srv.last_tau) srv.last_tau = (int64_t)tau;
    blocking_state_replaced(); /* no key_ready came for what the snapshot brought */
    size_t acl_len;
    const char *acl = kvstate_acl(srv.state, &acl_len);
    acl_state_loaded(acl, acl_len); /* the snapshot's users */
    snapin_installed(&in.s);
    stat_installed++;
    serverLog(LL_NOTICE,
              "Installed snapshot index %" PRIu64 " term %" PRIu64 " (%" PRIu64
              " keys) in %.3f s; the log restarts after it",
              m->index, m->term, kvstate_dbsize(srv.state, -1), (double)(mono_us() - t0) / 1e6);
}

/* driver_init: a crash between kvsnap_install and the log reset leaves a
 * state whose snapshot is past the log's: finish the reset now. */
int snapshot_startup(char *err, size_t errlen)
{
    uint64_t si, st;
    kvsnap_state_snapshot(srv.state, &si, &st);
    if (si <= kvlog_snapshot_index(srv.log)) return 0;
    serverLog(LL_NOTICE, "Finishing the install of snapshot index %" PRIu64 ": resetting the log",
              si);
    int rc = kvlog_reset(srv.log, si, st);
    if (!rc) {
        kvlog_hardstate hs;
        rc = kvlog_get_hardstate(srv.log, &hs);
        if (!rc && hs.commit < si) {
            hs.commit = si;
            rc = kvlog_set_hardstate(srv.log, &hs);
        }
    }
    if (!rc) rc = kvlog_sync(srv.log);
    if (rc) snprintf(err, errlen, "resetting the log after a snapshot: %s", kv_strerror(rc));
    return rc ? -1 : 0;
}

/* ------------------------------------------------------------ log GC */

void snapshot_gc(void)
{
    uint64_t first = kvlog_first_index(srv.log), last = kvlog_last_index(srv.log);
    uint64_t floor = gc_floor(kvstate_durable_index(srv.state));
    if (floor > last) floor = last;
    if (last < first || floor < first) return;
    uint64_t keep = (uint64_t)cfg.raft_log_keep;
    uint64_t bytes = kvlog_bytes(srv.log), n = last - first + 1;
    if (cfg.raft_log_keep_bytes > 0 && bytes > (uint64_t)cfg.raft_log_keep_bytes) {
        uint64_t per = bytes / n ? bytes / n : 1;
        uint64_t fit = (uint64_t)cfg.raft_log_keep_bytes / per;
        if (fit < keep) keep = fit;
    }
    uint64_t target = floor + 1 > keep ? floor + 1 - keep : 1;
    /* A connected follower that fell behind (a slow disk, long loop passes
     * on a loaded machine) goes on from the log rather than by snapshot:
     * the log above its match is kept while the whole log stays within
     * raft-log-keep-bytes; past that, only the newest raft-log-keep-bytes
     * of it are kept for the follower. */
    uint64_t slow = driver_slowest_match(first);
    if (slow != UINT64_MAX && slow + 1 < target) {
        uint64_t need = slow + 1;
        if (cfg.raft_log_keep_bytes > 0 && bytes > (uint64_t)cfg.raft_log_keep_bytes) {
            uint64_t per = bytes / n ? bytes / n : 1;
            uint64_t fit = (uint64_t)cfg.raft_log_keep_bytes / per;
            if (last + 1 > fit && need < last + 1 - fit) need = last + 1 - fit;
        }
        if (need < target) target = need;
    }
    if (target <= first) return;
    if (target > first + GC_STEP) target = first + GC_STEP;
    int rc = kvlog_truncate_prefix(srv.log, target);
    if (rc) {
        serverLog(LL_WARNING, "Truncating the log below %" PRIu64 " failed: %s. Stopping.", target,
                  kv_strerror(rc));
        exit(1);
    }
}

/* ------------------------------------------------------------ INFO */

int snapshot_receiving(uint64_t *bytes, int64_t *idle_ms)
{
    int64_t now = mono_ms();
    if (in.s.state == SNAPIN_IDLE || now - in.s.last_ms >= STAGE_IDLE_MS) return 0;
    *bytes = in.bytes;
    *idle_ms = now - in.s.last_ms;
    return 1;
}

size_t snapshot_info(char *buf, size_t n)
{
    size_t off = 0;
    int w = snprintf(buf, n,
                     "raft_log_bytes:%" PRIu64 "\r\nraft_snapshots_sent:%" PRIu64
                     "\r\nraft_snapshots_abandoned:%" PRIu64 "\r\nraft_snapshots_installed:%" PRIu64
                     "\r\n",
                     kvlog_bytes(srv.log), stat_sent, stat_aborted, stat_installed);
    if (w < 0 || (size_t)w >= n) return 0;
    off = (size_t)w;
    int64_t now = mono_ms();
    for (int i = 0; i < RAFT_MAX_NODES && off < n; i++) {
        const snap_out *o = &outs[i];
        if (!o->peer) continue;
        w = snprintf(buf + off, n - off,
                     "raft_snapshot_out:peer=%" PRIu64 ",index=%" PRIu64 ",keys=%" PRIu64
                     ",bytes_sent=%" PRIu64 ",bytes_acked=%" PRIu64 ",seconds=%.1f\r\n",
                     o->peer, o->index, o->keys, o->sent, o->acked,
                     (double)(now - o->started_ms) / 1000.0);
        if (w < 0 || (size_t)w >= n - off) break;
        off += (size_t)w;
    }
    if (in.s.state != SNAPIN_IDLE && now - in.s.last_ms < STAGE_IDLE_MS && off < n) {
        w = snprintf(buf + off, n - off,
                     "raft_snapshot_in:from=%" PRIu64 ",index=%" PRIu64 ",bytes=%" PRIu64
                     ",seconds=%.1f\r\n",
                     in.s.from, in.s.index, in.bytes, (double)(now - in.started_ms) / 1000.0);
        if (w > 0 && (size_t)w < n - off) off += (size_t)w;
    }
    return off;
}
