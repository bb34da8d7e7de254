/* server.h -- the process: the event loop, clients, the command dispatch
 * and the write path. One thread (DESIGN.md "The event loop"):
 *
 *   for (;;) { event_base_loop(base, EVLOOP_ONCE); end_of_pass(); }
 *
 * I/O callbacks read and parse; commands run as they are parsed; writes
 * become log entries; end_of_pass() makes the pass's entries durable with
 * one fsync, applies them, serves the reads that waited for them, and
 * writes each connection's replies with one write().
 *
 * Reply order. Each client has a queue of reply slots in request order. A
 * reply that can be given at once goes to the tail; a write waits in a
 * slot until its entry is applied; a read that comes after one of the
 * client's pending writes waits (with a copy of its argv) until that write
 * is applied, so a pipeline sees its own writes. Slots at the head that are
 * done move to the output buffer.
 */
#ifndef RAFTKV_SERVER_H
#define RAFTKV_SERVER_H

#include <stdint.h>
#include <sys/types.h>

#include "resp/resp.h"
#include "server/config.h"
#include "storage/kvcmd.h"
#include "storage/kvlog.h"
#include "storage/kvstate.h"

#define RAFTKV_VERSION "0.1.0"
#define REDIS_COMPAT_VERSION "7.0.15"

struct event;
struct event_base;
struct client;

/* SLOT_BLOCKED: a blocking command's reply, until blocking.c serves it or
 * its timeout passes (the client's input waits meanwhile). */
enum { SLOT_DONE = 0, SLOT_WRITE, SLOT_READ, SLOT_PROXY, SLOT_BLOCKED };

typedef struct slot {
    struct slot *next;
    int state;
    uint64_t index;   /* SLOT_WRITE: the entry; SLOT_READ: the write it follows */
    uint64_t term;    /* SLOT_WRITE: the term it was proposed in */
    int64_t deadline; /* SLOT_WRITE: -TIMEOUT after this (ms) */
    resp_buf out;     /* encoded reply (in the protocol the client had then) */
    int argc;         /* SLOT_READ, a waiting SLOT_PROXY: an owned copy of the command */
    char **argv;
    size_t *argvlen;
    struct client *c;
    struct slot *wnext;      /* SLOT_WRITE: the next waiter in index order; SLOT_PROXY:
                                the next waiting for the handshake (proxy.c) */
    struct readbatch *batch; /* SLOT_READ: its ReadIndex round, until confirmed */
    int confirmed;           /* SLOT_READ: its read index is applied */
    int wrap;                /* leader side of RAFT.PROXY: sent as one bulk string */
    int db;                  /* SLOT_READ: the database it reads */
    const kv_command *k;     /* SLOT_READ: its command (NULL: looked up when it runs) */
    /* An attempt of a blocked client (blocking.c): a waiter of the write
     * path (SLOT_WRITE) or a forwarded command (SLOT_PROXY) that is in no
     * client's queue; its outcome goes to blocking_attempt_outcome(). NULL
     * once the client is gone (the slot is then just freed). */
    struct blockstate *blk;
    int attempt; /* leader side of a forwarded blocking command: found nothing
                    answers ":<index>" (blocking.c) */
    int mute;    /* CLIENT REPLY OFF or SKIP (clientcmd.h): dropped, never sent */
    int stat;    /* info.h: counts its reply when done (the command's slot + 1, -1: none) */
    /* SLOT_WRITE: out holds the reply already (MIGRATE's DEL, migrate.h): the
     * entry's is dropped; an error (timeout, not committed) replaces it. */
    int keep_reply;
    /* SLOT_PROXY: a forwarded change of cluster-wide settings (CONFIG SET
     * notify-keyspace-events & co.): its reply waits, as a SLOT_READ, for a
     * ReadIndex round, so this node's CONFIG GET after it sees the change. */
    int settle;
} slot;

enum {
    CF_CLOSE_AFTER_REPLY = 1 << 0,
    CF_CLOSE_ASAP = 1 << 1,
    CF_MULTI = 1 << 2,
    CF_DIRTY_EXEC = 1 << 3,
    CF_PENDING_INPUT = 1 << 4,
    CF_UNIX = 1 << 5,
    CF_WATCH_WAIT = 1 << 6 /* a WATCH waits for the client's earlier commands (watch.c) */
};

/* Connections let in for the peer handshake only (networking.c): any
 * other command is answered an error and the connection closed, and one
 * that is not a peer within net_hello_deadline_ms() is closed. */
enum {
    GATE_NONE = 0,
    GATE_PROBATION, /* past maxclients, from a member's address */
    GATE_PROTECTED  /* protected mode, from a member's non-loopback address */
};

typedef struct peer_hello { /* between RAFT.HELLO and RAFT.AUTH (peerauth.h) */
    uint64_t id;            /* the node the hello named */
    char client_nonce[65], server_nonce[65];
    char host[256]; /* the address the hello gave (addrbook.h's spelling) */
    int port;       /* 0: the hello gave none (4 words) */
} peer_hello;

typedef struct mcmd { /* a queued MULTI command: one allocation */
    int argc;
    char **argv;
    size_t *argvlen;
} mcmd;

typedef struct client {
    uint64_t id;
    int fd;
    struct ssl_st *ssl; /* tls.h: came in on the tls-port; NULL for plain text */
    int tls_wait;       /* TW_*: a TLS read or write waits for the other direction */
    int flags;
    int proto;
    int authenticated;
    struct acl_user *user; /* acl.h: the ACL user (default until AUTH); never NULL */
    uint64_t peer_id;      /* a peer node after the handshake (RAFT.HELLO, RAFT.AUTH) */
    int as_user;           /* a peer running a forwarded command as user (RAFT.PROXY) */
    peer_hello *hello;     /* a handshake in progress; owned */
    int force_slot;        /* the next reply starts a slot of its own */
    int nproxy;            /* SLOT_PROXY slots pending (follower side) */
    int readonly;          /* READONLY: stale local reads on a follower */
    int db;                /* SELECT */
    int gate;              /* GATE_*: let in for the peer handshake only */
    int64_t gate_deadline; /* ms (mono): closed unless a peer by then */
    char addr[64], laddr[64];
    char *name;
    char *lib_name, *lib_ver;
    struct event *rev, *wev;
    resp_parser *parser;
    resp_buf out;        /* bytes ready to write */
    slot *head, *tail;   /* reply slots, request order */
    int npending;        /* slots not yet done */
    int nreads;          /* SLOT_READ slots not yet done (reads_run_ready's shortcut) */
    uint64_t last_write; /* index of this client's newest pending write */
    mcmd *mq;            /* MULTI queue */
    int mq_len, mq_cap;
    struct watchlist *watch;         /* watch.c: WATCHed keys; NULL when none */
    int64_t ctime, last_interaction; /* ms */
    char last_cmd[48];               /* "get", "client|info": CLIENT LIST's cmd= */
    struct blockstate *blk;          /* blocking.c: a blocking command in progress */
    struct subs *subs;               /* pubsub.c: channels and patterns */
    struct trackstate *trk;          /* tracking.c: CLIENT TRACKING on */
    struct client *prev, *next;      /* all clients */
    struct client *pnext;            /* pending-input list */
    struct client *wnext_dirty;      /* has output to flush this pass */
    int on_dirty;
    int64_t obuf_soft_since;
    /* client_obuf_size()'s last walk of a long slot list: its time (mono
     * ms), the slots it saw and their bytes (networking.c) */
    int64_t obuf_walk_ms;
    size_t obuf_walk_slots, obuf_slot_bytes;
    int opmode; /* clientcmd.h: CLIENT REPLY and CLIENT PAUSE state (CM_*) */
    mcmd held;  /* clientcmd.h: the command a CLIENT PAUSE holds; owned */
    /* migrate.h: a MIGRATE in progress; the client's input waits. */
    int migrating;
} client;

typedef struct server_stats {
    uint64_t connections, commands, rejected_conn, net_in, net_out;
    uint64_t entries, syncs, expired_keys, lease_reads, read_rounds, round_reads, read_reasked;
    uint64_t peer_msgs_unsent;  /* a full peer queue refused them; reported to raft */
    uint64_t peer_msgs_dropped; /* from peers: malformed or impossible, never stepped */
} server_stats;

typedef struct server {
    struct event_base *base;
    int listen_fds[16];
    struct event *listen_evs[16];
    int listen_tls[16]; /* the tls-port's: its clients speak TLS */
    int nlisten;
    kvlog *log;
    kvstate *state;
    client *clients;
    int nclients;
    int npeer_clients; /* connections that completed the peer handshake */
    uint64_t next_client_id;
    client *pending_input; /* clients with parsed-but-unrun input */
    client *dirty;         /* clients with output to flush */
    resp_buf entry;        /* scratch for encoding an entry */
    int64_t last_tau;      /* tau of the newest proposed entry */
    int expire_in_flight;
    int shutdown_asap;
    int exit_code;
    int64_t start_ms;
    char run_id[41];
    server_stats stats;
    struct event *cron_ev, *tick_ev, *sig_ev[2];
} server;

extern server srv;

/* clock.c */
int64_t mstime(void);
int64_t ustime(void);
int64_t mono_us(void); /* CLOCK_MONOTONIC: durations, leases */
/* mono_us() as of the start of the event loop's pass (the loop sets it
 * before and after waiting for I/O): for coarse clocks read per key, such
 * as eviction's LRU seconds, where a clock read per access costs more than
 * the access (Redis's cached LRU clock). */
void pass_clock_set(int64_t now_us);
int64_t pass_clock_us(void);

/* networking.c */
int net_listen(char *err, size_t errlen);
extern const char net_denied_text[]; /* protected mode's -DENIED error, without '-' */
int net_protected_mode(void);        /* protected mode applies now (Redis's rule) */
int64_t net_hello_deadline_ms(void); /* a gated connection's time to become a peer */
void client_free(client *c);
void client_add_reply_slot_done(client *c); /* internal */
resp_buf *client_reply_buf(client *c);      /* where an immediate reply goes */
/* Where a pub/sub message of the entry applying now goes: before the
 * first reply still pending (the replies of later entries, and of this
 * one: Redis sends a publisher subscribed to the channel its message
 * before PUBLISH's reply), after every reply already done before that. */
resp_buf *client_push_before_pending(client *c);
/* Where a message pushed to c now goes (invalidations): right
 * after the last reply that is ready, so it follows every reply computed
 * before it and precedes the replies still being computed. */
resp_buf *client_push_buf(client *c);
slot *client_new_slot(client *c, int state);
slot *slot_new_detached(int proto);  /* in no client's queue (blocking.c's attempts) */
void client_resume_input(client *c); /* runs its buffered commands in the next pass */
void slot_free(slot *s);             /* frees its reply and argv copy too */
/* A pending slot of a live client (s->c set) gets its reply: done, counted
 * in INFO (info_slot_done), off its client's pending counters (npending,
 * and nreads or nproxy by its kind), and the client flushed this pass. */
void slot_done(slot *s);
void client_mark_dirty(client *c);
void clients_process_pending(void);
void clients_flush(void);
void clients_cron(void);

/* commands.c */
char **argv_copy(int argc, char **argv, size_t *lens, size_t **lens_out);
void dispatch(client *c, int argc, char **argv, size_t *argvlen);
/* CLIENT LIST's line for c (with its newline), into buf. */
void client_info_line(client *c, char *buf, size_t n);
/* The argv indexes of a data command's keys (COMMAND GETKEYS); how many,
 * 0 for a command that is unknown or has none. */
int command_key_positions(int argc, char **argv, size_t *lens, int *pos, int max);
int driver_leader_known(void);
void commands_init(void);

/* driver.c: the write path through raft/ */
#define TICK_MS 10 /* one raft tick */
typedef struct driver_info {
    const char *role;
    uint64_t term, leader, commit, applied, first_index, last_index, snapshot_index;
    uint64_t dropped_msgs; /* raft's: messages from peers that could not be true */
} driver_info;
int driver_configure(char *err, size_t errlen); /* parses 'cluster', before storage */
int driver_init(char *err, size_t errlen);      /* after storage and base */
void driver_flush(void);                        /* end of pass: peer writes */
void driver_durable(void);                      /* logsync.c: the log's durable position moved */
/* logsync.c: the log's fdatasync on its own thread */
int logsync_start(void);
void logsync_stop(void);
int logsync_active(void);
int logsync_kick(int inline_ok); /* fdatasync what was written, unless one runs */
void logsync_drain(void);        /* waits for a running fdatasync and reports it */
void logsync_note_synced(void);  /* a kvlog_sync() made everything durable */
uint64_t logsync_durable_pos(void);
void logsync_want(uint64_t pos); /* something waits for the log up to pos */
int driver_peer_known(uint64_t id);
/* Whether a RAFT.HELLO naming id may go on: a member's id, or, on a node
 * waiting to be added ('join yes', no address book applied yet), any
 * other node's (membership.c). */
int driver_peer_accepted(uint64_t id);
/* A peer that completed the handshake said where it is (its RAFT.HELLO's
 * address): a waiting join node answers it there (driver.c). */
void driver_peer_addr(uint64_t id, const char *host, int port);
void driver_step(uint64_t from, const void *buf, size_t len); /* an encoded RAFT.MSG item */
struct raft_msg;
struct raft_node;
struct raft_snapshot_meta;
struct transport;
void driver_step_msg(const struct raft_msg *m); /* decoded; snapshots too */
struct raft_node *driver_raft(void);
struct transport *driver_transport(void);
size_t driver_peer_lines(char *buf, size_t n); /* INFO raft's peer lines */
/* On the leader: the lowest match index of the followers it replicates to
 * from its log (match at or above first - 1) that are connected or were
 * within 3 election timeouts; UINT64_MAX when none, or off the leader.
 * Log GC keeps the log above it. */
uint64_t driver_slowest_match(uint64_t first);
const char *driver_leader_addr(int *port); /* NULL when none known */
const char *driver_self_addr(int *port);
int driver_member_host(const char *host); /* a cluster member's address? */
/* The i-th member (0 <= i < count: the members of the configuration in
 * force, voters and learners, and this node); -1 past the end. host is ""
 * and port 0 for a node started without 'cluster'. */
int driver_member(size_t i, uint64_t *id, const char **host, int *port);
uint64_t driver_leader_id(void);
uint64_t driver_max_node_id(void);   /* the highest id the cluster ever used */
int driver_cluster_id_derived(void); /* cluster-id not set: a hash of 'cluster' */
/* Proposes membership change op (raft.h) on id (host:port: a new node's
 * address) with the cluster's address book; c waits for it to apply (+OK).
 * Returns 0 when c has its answer or waits (a follower answers -MOVED like
 * a write), a RAFT_E* code for membership.c to word, or 1 with *err. */
int driver_propose_conf(client *c, int op, uint64_t id, const char *host, int port,
                        const char **err);
unsigned driver_key_slot(const char *key, size_t len); /* Redis Cluster's CRC16 slot */
/* Voters + learners (RAFT_MAX_VOTERS + RAFT_MAX_LEARNERS) + this node. */
#define RAFT_MAX_NODES 33

/* cluster.c: CLUSTER SLOTS/SHARDS/NODES/INFO/MYID */
void cluster_command(client *c, int argc, char **argv, size_t *argvlen);
/* membership.c: RAFT.MEMBERS, RAFT.TRANSFER, CLUSTER FAILOVER, INFO raft's
 * membership lines */
void membership_members_command(client *c, int argc, char **argv, size_t *lens);
void membership_transfer_command(client *c, int argc, char **argv, size_t *lens);
void membership_failover_command(client *c, int argc, char **argv);
void membership_addnode_command(client *c, int argc, char **argv, size_t *lens);
/* commands.c: a follower in proxy mode forwards c's command to the leader
 * (1), as it does a write; 0: run it here. */
int command_proxy_to_leader(client *c, int argc, char **argv, size_t *lens);
void membership_promote_command(client *c, int argc, char **argv, size_t *lens);
void membership_removenode_command(client *c, int argc, char **argv, size_t *lens);
void membership_replacenode_command(client *c, int argc, char **argv, size_t *lens);
void membership_replace_step(void); /* the leader's RAFT.REPLACENODE job, each tick */
size_t membership_info(char *buf, size_t n);
/* membership.c's member table (driver_configure, driver_member & co. above
 * are its too): how to reach each member of the configuration in force. */
struct raft_conf;
const char *membership_addr(uint64_t id, int *port); /* NULL: not a member; port may be 0 */
const uint64_t *membership_boot_voters(uint32_t *n); /* 'cluster' (none with 'join') */
int membership_follow_stored(void);                  /* members from the stored book; -1: none */
int membership_awaiting(void); /* 'join yes' and no address book applied yet */
/* A waiting join node learns where node id is: 1 when the member table
 * changed, 0 when nothing to do (not waiting, or known there), -1 full. */
int membership_learn(uint64_t id, const char *host, int port);
/* Start-up: whether 'cluster' may start a node whose state applied conf at
 * stored_index (logs an out-of-date one); -1 with err when it contradicts. */
int membership_check_stored(const struct raft_conf *conf, uint64_t stored_index, char *err,
                            size_t errlen);
void driver_shutdown(void);
void driver_tick(void);
/* This node's loop was just held us microseconds by its own log or state
 * work: a follower then waits as long again before counting ticks towards
 * an election (the leader is likely held by the same entry). */
void driver_held(int64_t us);
int driver_is_leader(void);
uint32_t driver_member_count(void); /* members of the configuration in force and this node */
/* Logs what failed and why, and stops the process: a node that cannot go
 * on (out of memory, its storage failing) must not answer wrongly. */
void driver_fatal(const char *what, const char *why);
void driver_status(driver_info *out);
int write_propose(client *c, int argc, char **argv, size_t *argvlen, int firstkey);
int write_propose_multi(client *c);
/* Proposes argv as an entry of database db and makes s, a pending slot of
 * its client's queue (or detached), the entry's waiter (SLOT_WRITE).
 * Returns 0, or -1 with *err, the error for the client (nothing proposed). */
int write_propose_slot(slot *s, int db, int argc, char **argv, size_t *argvlen, const char **err);
/* Proposes a blocked client's attempt (blocking.c) as an entry of database
 * db, its reply encoded in proto. Returns its waiter, whose outcome goes to
 * blocking_attempt_outcome(); NULL when nothing was proposed: *err is then
 * the error for the client (too large, out of memory), or NULL when it may
 * work later (not the leader, a transfer, too many uncommitted entries). */
slot *write_propose_attempt(int db, int proto, int argc, char **argv, size_t *argvlen,
                            const char **err);
/* reads.c: a linearizable read: runs once a ReadIndex round confirms it
 * and the state has applied its read index and the client's earlier writes. */
void driver_read(client *c, const kv_command *k, int argc, char **argv, size_t *argvlen);
void write_end_of_pass(void);
/* statecommit.c: commits the state when its bounds say so (also between
 * applied entries: a pass can apply tens of thousands); state_commit_cron:
 * the cron's run number runs, which began at t0 (mono_us). */
void state_commit_if_due(void);
void state_commit_cron(unsigned runs, int64_t t0);
/* A commit runs on the state's commit thread while the loop goes on
 * (kvstate_commit_start()); these end it: state_commit_finish() waits for
 * it (a no-op if none runs), state_commit_watch() makes the loop end it as
 * soon as it is done (the pass's end then applies what waited). */
void state_commit_finish(void);
int state_commit_watch(struct event_base *base);
/* Applying (driver.c): raft holds committed entries while the state
 * commits and once a pass applied for its budget. driver_apply_behind():
 * the last pass left entries for the next one (the loop must not wait for
 * events). driver_apply_everything() applies all, waiting for commits
 * (start-up). driver_unapplied_entries(): committed, not yet applied. */
int driver_apply_behind(void);
void driver_apply_everything(void);
uint64_t driver_unapplied_entries(void);
void write_expire_cron(void);
/* Proposes an internal command (RAFT.EVICT2, RAFT.MEMCONF) on the leader
 * with no client waiting; *index gets its entry. 0, or -1 when not
 * leader or refused. */
int write_propose_internal(int argc, char **argv, size_t *argvlen, uint64_t *index);

/* proxy.c: a follower forwards writes to the leader (follower-mode proxy) */
void proxy_forward(client *c, int argc, char **argv, size_t *argvlen);
void proxy_forward_multi(client *c);
/* Forwards a blocked client's attempt w (a detached slot, w->blk set) as
 * RAFT.PROXY; its outcome goes to blocking_attempt_outcome(), possibly
 * before this returns (no leader: ATTEMPT_RETRY). */
void proxy_forward_attempt(slot *w, int db, const char *user, int argc, char **argv,
                           size_t *argvlen);
void proxy_cron(void);
void proxy_shutdown(void);
uint64_t proxy_pending(void); /* forwarded commands not answered yet */

/* snapshot.c: snapshot transfers and log GC (issue 5) */
int snapshot_meta(void *ctx, struct raft_snapshot_meta *out); /* raft storage->snapshot */
int snapshot_intercept(const struct raft_msg *m);             /* 1: a RAFT_MSG_SNAP, taken */
void snapshot_on_reply(uint64_t peer, uint64_t tag, long long value, const char *err,
                       size_t errlen);
void snapshot_peer_lost(uint64_t peer);
void snapshot_pump(void); /* end of pass, outside any Ready */
void snapshot_receive(client *c, int argc, char **argv, size_t *lens); /* RAFT.SNAP */
void snapshot_install(const struct raft_snapshot_meta *m);
int snapshot_startup(char *err, size_t errlen);
void snapshot_gc(void); /* cron */
size_t snapshot_info(char *buf, size_t n);
int snapshot_receiving(uint64_t *bytes, int64_t *idle_ms); /* 1 while a snapshot stages here */
void snapshot_shutdown(void);

/* blocking.c: clients blocked by BLPOP & co. (DESIGN.md "Blocking").
 *
 * A blocked client waits on this node, in c->blk, with a SLOT_BLOCKED reply
 * slot; its later input waits. Each try to serve it is an attempt: the
 * command as an ordinary write entry, proposed here on the leader or
 * forwarded to the leader as RAFT.PROXY. Applied, it serves (the reply goes
 * to the slot) or finds nothing (kvstate_apply_blocked()): the client stays
 * blocked, and is tried again when a key it waits on is ready. One attempt
 * in flight per client; per key, the clients of this node are tried in the
 * order they blocked; across nodes the log decides. */
enum {
    ATTEMPT_SERVED,  /* the reply: w->out, or bytes/n (a forwarded one) */
    ATTEMPT_BLOCKED, /* found nothing, applied at index */
    ATTEMPT_RETRY,   /* not executed (not committed, no leader): try again later */
    ATTEMPT_UNKNOWN  /* may or may not have executed: bytes/n is the error text */
};
void blocking_key_ready(void *ctx, int db, const char *key, size_t keylen); /* state hook */
void blocking_client_gone(client *c);                                       /* client_free() */
/* dispatch: a KV_CMD_BLOCKING command (checked, outside MULTI) blocks c. */
void blocking_start(client *c, const kv_command *k, int argc, char **argv, size_t *argvlen);
/* Takes w (its outcome, and the slot itself). */
void blocking_attempt_outcome(slot *w, int outcome, uint64_t index, const char *bytes, size_t n);
/* After a pass's applies: attempts for the keys made ready and the clients
 * due for a check. Returns how many entries it proposed. */
int blocking_pass(void);
void blocking_state_replaced(void); /* a snapshot was installed: check every client */
/* CLIENT UNBLOCK: 1 when client id was blocked (blocking_waiting): it gets
 * the timeout reply, or -UNBLOCKED with error set, unless an attempt in
 * flight serves it; 0 otherwise. */
int blocking_unblock(uint64_t id, int error);
/* Clients whose first attempt found nothing (INFO blocked_clients, CLIENT
 * LIST flags=b): Redis counts a client once its command has blocked. */
int blocking_count(void);
int blocking_waiting(const client *c);

/* pubsub.c: channels, patterns, shard channels; delivery at apply
 * (DESIGN.md "Pub/sub"). Subscriptions are this node's; a message is an
 * entry, delivered by every node to its own subscribers as it applies it. */
enum { PUBSUB_CHANNEL = 0, PUBSUB_PATTERN = 1, PUBSUB_SHARD = 2, PUBSUB_KINDS = 3 };
long long pubsub_publish(void *ctx, int shard, const char *channel, size_t chlen, const char *msg,
                         size_t msglen); /* state hook */
void pubsub_client_gone(client *c);      /* client_free(), RESET: leaves all, no reply */
/* (P|S)SUBSCRIBE and (P|S)UNSUBSCRIBE of one kind: argv[1..] are the names;
 * UNSUBSCRIBE alone leaves every one of the kind. Replies as Redis does. */
void pubsub_subscribe(client *c, int kind, int argc, char **argv, size_t *lens);
void pubsub_unsubscribe(client *c, int kind, int argc, char **argv, size_t *lens);
/* PUBSUB <sub>: pubsub_check_sub() answers an unknown subcommand or a wrong
 * arity (returns -1) before dispatch's other checks, as Redis's
 * processCommand does for a container; pubsub_command() runs it. */
int pubsub_check_sub(client *c, int argc, char **argv, size_t *lens);
void pubsub_command(client *c, int argc, char **argv, size_t *lens);
int pubsub_count(client *c); /* its channels, patterns and shard channels: RESP2 subscribe mode */
long pubsub_kind_count(const client *c, int kind); /* its subscriptions of one kind */
/* Calls fn on each of c's subscriptions until it returns nonzero (what
 * pubsub_each then returns). */
int pubsub_each(client *c, int (*fn)(void *arg, int kind, const char *name, size_t len), void *arg);
size_t pubsub_server_count(int kind); /* this node's names of a kind with subscribers */

/* watch.c: WATCH and UNWATCH. Watches are the connection's; its EXEC's
 * entry carries them and its apply decides (storage/kvstate.h
 * kvstate_watch_probe). */
struct watchlist;
void watch_command(client *c, int argc, char **argv, size_t *lens); /* WATCH */
void watch_clear(client *c); /* UNWATCH, EXEC, DISCARD, RESET, a closed connection */
int watch_count(const client *c);
/* EXEC: puts "raft.watch" and the watched keys first in c's MULTI queue,
 * then forgets the watches. */
void watch_seal(client *c);
/* networking.c's flush of a dirty client: runs the WATCH that waits
 * (CF_WATCH_WAIT) once the client has no command pending, and resumes its
 * input. */
void watch_resume(client *c);
/* commands.c: a copy of a command put first in c's MULTI queue. */
void multi_queue_front(client *c, int argc, char **argv, size_t *lens);

/* tracking.c: client-side caching (CLIENT TRACKING) */
void tracking_key_written(void *ctx, int db, const char *key, size_t keylen); /* state hook */
void tracking_set_writer(client *c); /* the client whose write applies now (NOLOOP) */
void tracking_end_of_pass(void);     /* BCAST messages of the pass */
void tracking_command(client *c, int is_client_cmd); /* each command: CLIENT CACHING's scope */
void tracking_read(client *c, const kv_command *cmd, int argc, char **argv, size_t *lens);
/* CLIENT TRACKING / CACHING / GETREDIR / TRACKINGINFO; 0 if sub is none of them. */
int tracking_client_sub(client *c, resp_buf *b, int argc, char **argv, size_t *lens);
void tracking_client_gone(client *c);
void tracking_reset(client *c); /* RESET */
/* INFO lines: tracking_clients (stats 0) or tracking_total_* (stats 1). */
size_t tracking_info_fields(char *buf, size_t n, int stats);
/* CLIENT LIST: flags letters (t, B, R) and redir= */
int tracking_flags(client *c, char *out);
long long tracking_redir(client *c);

/* info.c: INFO, ROLE and their counters (server/info.h) */
void info_reply(client *c, resp_buf *b, int argc, char **argv);
#include "server/info.h"

#endif
