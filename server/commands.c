/* commands.c -- the command table of the server (connection and server
 * commands) beside storage/'s table of data commands, and dispatch: the
 * checks Redis makes before running a command, MULTI queueing, and the
 * route of each command (run here, read from the state, or go through the
 * log). */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "server/acl.h"
#include "server/addrbook.h"
#include "server/backup.h"
#include "server/clientcmd.h"
#include "server/command_info.h"
#include "server/diag.h"
#include "server/evict.h"
#include "server/log.h"
#include "server/loopstat.h"
#include "server/migrate.h"
#include "server/peerauth.h"
#include "server/proxyarg.h"
#include "server/limits.h"
#include "server/server.h"
#include "server/tls.h"
#include "storage/kverr.h"

typedef void scmd_proc(client *c, int argc, char **argv, size_t *lens);

enum { SC_NOAUTH = 1, SC_NOMULTI = 2, SC_MULTICTL = 4 };

typedef struct scmd {
    const char *name;
    int arity;
    int flags;
    const char *info_flags; /* COMMAND INFO flags, space separated */
    scmd_proc *proc;
    const char *group, *since, *summary;
} scmd;

/* A resolved command: exactly one of s and k is set; id is its counter
 * slot (server/info.h). */
typedef struct cmdref {
    const scmd *s;
    const kv_command *k;
    int id;
    int acl; /* its ACL command id (server/acl.h), -1: none (RAFT.*) */
} cmdref;

#define PROC(n) static void n(client *c, int argc, char **argv, size_t *lens)

PROC(ping_cmd);
PROC(echo_cmd);
PROC(hello_cmd);
PROC(auth_cmd);
PROC(select_cmd);
PROC(client_cmd);
PROC(command_cmd);
PROC(config_cmd);
PROC(info_cmd);
PROC(multi_cmd);
PROC(exec_cmd);
PROC(watch_cmd);
PROC(unwatch_cmd);
PROC(discard_cmd);
PROC(shutdown_cmd);
PROC(time_cmd);
PROC(save_cmd);
PROC(lastsave_cmd);
PROC(reset_cmd);
PROC(quit_cmd);
PROC(raft_hello_cmd);
PROC(raft_auth_cmd);
PROC(raft_msg_cmd);
PROC(raft_msgq_cmd);
PROC(raft_snap_cmd);
PROC(raft_proxy_cmd);
PROC(readonly_cmd);
PROC(cluster_cmd);
PROC(raft_members_cmd);
PROC(raft_transfer_cmd);
PROC(raft_addnode_cmd);
PROC(raft_promote_cmd);
PROC(raft_removenode_cmd);
PROC(raft_replacenode_cmd);
PROC(raft_proxyexec_cmd);
PROC(subscribe_cmd);
PROC(unsubscribe_cmd);
PROC(pubsub_cmd);
PROC(slowlog_cmd);
PROC(latency_cmd);
PROC(monitor_cmd);
PROC(debug_cmd);
PROC(role_cmd);
PROC(migrate_cmd);
PROC(acl_cmd);

static const scmd server_commands[] = {
    {"ping", -1, 0, "fast", ping_cmd, "connection", "1.0.0",
     "Returns the server's liveliness response."},
    {"echo", 2, 0, "fast", echo_cmd, "connection", "1.0.0", "Returns the given string."},
    {"quit", -1, SC_NOAUTH | SC_MULTICTL, "noscript loading stale fast no_auth allow_busy",
     quit_cmd, "connection", "1.0.0", "Closes the connection."},
    {"hello", -1, SC_NOAUTH | SC_NOMULTI, "noscript loading stale fast no_auth sentinel allow_busy",
     hello_cmd, "connection", "6.0.0", "Handshakes with the Redis server."},
    {"auth", -2, SC_NOAUTH | SC_NOMULTI, "noscript loading stale fast no_auth sentinel allow_busy",
     auth_cmd, "connection", "1.0.0", "Authenticates the connection."},
    {"select", 2, SC_NOMULTI, "loading stale fast", select_cmd, "connection", "1.0.0",
     "Changes the selected database."},
    {"client", -2, SC_NOMULTI, "", client_cmd, "connection", "2.4.0",
     "A container for client connection commands."},
    {"command", -1, SC_NOMULTI, "loading stale", command_cmd, "server", "2.8.13",
     "Returns detailed information about all commands."},
    {"config", -2, SC_NOMULTI, "", config_cmd, "server", "2.0.0",
     "A container for server configuration commands."},
    {"info", -1, SC_NOMULTI, "loading stale", info_cmd, "server", "1.0.0",
     "Returns information and statistics about the server."},
    {"multi", 1, SC_MULTICTL, "noscript loading stale fast allow_busy", multi_cmd, "transactions",
     "1.2.0", "Starts a transaction."},
    {"exec", 1, SC_MULTICTL, "noscript loading stale skip_slowlog", exec_cmd, "transactions",
     "1.2.0", "Executes all commands in a transaction."},
    {"discard", 1, SC_MULTICTL, "noscript loading stale fast allow_busy", discard_cmd,
     "transactions", "2.0.0", "Discards a transaction."},
    {"watch", -2, SC_MULTICTL, "noscript loading stale fast allow_busy", watch_cmd, "transactions",
     "2.2.0", "Monitors changes to keys to determine the execution of a transaction."},
    {"unwatch", 1, 0, "noscript loading stale fast allow_busy", unwatch_cmd, "transactions",
     "2.2.0", "Forgets about watched keys of a transaction."},
    {"shutdown", -1, SC_NOMULTI, "admin noscript loading stale no_multi sentinel allow_busy",
     shutdown_cmd, "server", "1.0.0",
     "Synchronously saves the database(s) to disk and shuts down the Redis server."},
    {"time", 1, SC_NOMULTI, "loading stale fast", time_cmd, "server", "2.6.0",
     "Returns the server time."},
    {"save", 1, SC_NOMULTI, "admin noscript no_async_loading no_multi", save_cmd, "server", "1.0.0",
     "Synchronously saves the database(s) to disk."},
    {"bgsave", -1, SC_NOMULTI, "admin noscript no_async_loading", save_cmd, "server", "1.0.0",
     "Asynchronously saves the database(s) to disk."},
    {"lastsave", 1, SC_NOMULTI, "loading stale fast", lastsave_cmd, "server", "1.0.0",
     "Returns the Unix timestamp of the last successful save to disk."},
    {"raft.hello", -4, SC_NOAUTH | SC_NOMULTI, "noscript loading stale fast no_auth",
     raft_hello_cmd, "raft", "0.1.0", "Opens a peer connection (between RaftKV nodes)."},
    {"raft.auth", 2, SC_NOAUTH | SC_NOMULTI, "noscript loading stale fast no_auth", raft_auth_cmd,
     "raft", "0.1.0", "Completes a peer connection's handshake (between RaftKV nodes)."},
    {"raft.msg", -2, SC_NOAUTH | SC_NOMULTI, "noscript loading stale fast no_auth", raft_msg_cmd,
     "raft", "0.1.0", "Carries Raft messages (between RaftKV nodes)."},
    {"raft.msgq", -2, SC_NOAUTH | SC_NOMULTI, "noscript loading stale fast no_auth", raft_msgq_cmd,
     "raft", "0.1.0", "Carries Raft messages without a reply (between RaftKV nodes)."},
    {"raft.snap", -7, SC_NOAUTH | SC_NOMULTI, "noscript loading stale no_auth", raft_snap_cmd,
     "raft", "0.1.0", "Carries a snapshot chunk (between RaftKV nodes)."},
    {"raft.proxy", -3, SC_NOAUTH | SC_NOMULTI, "noscript loading stale no_auth", raft_proxy_cmd,
     "raft", "0.1.0", "Runs a client's command forwarded by a follower (between RaftKV nodes)."},
    {"raft.proxyexec", -3, SC_NOAUTH | SC_NOMULTI, "noscript loading stale no_auth",
     raft_proxyexec_cmd, "raft", "0.1.0",
     "Runs a client's MULTI/EXEC forwarded by a follower (between RaftKV nodes)."},
    {"raft.members", 1, 0, "admin noscript loading stale", raft_members_cmd, "raft", "0.1.0",
     "Lists the members of the Raft configuration in force with their roles."},
    {"raft.transfer", 2, SC_NOMULTI, "admin noscript loading stale no_multi", raft_transfer_cmd,
     "raft", "0.1.0", "Hands Raft leadership to the named voter."},
    {"raft.addnode", -3, SC_NOMULTI, "admin noscript loading stale no_multi", raft_addnode_cmd,
     "raft", "0.1.0", "Adds a new node to the Raft cluster as a learner."},
    {"raft.promote", 2, SC_NOMULTI, "admin noscript loading stale no_multi", raft_promote_cmd,
     "raft", "0.1.0", "Makes a Raft learner a voter."},
    {"raft.removenode", 2, SC_NOMULTI, "admin noscript loading stale no_multi", raft_removenode_cmd,
     "raft", "0.1.0", "Removes a node from the Raft cluster."},
    {"raft.replacenode", 4, SC_NOMULTI, "admin noscript loading stale no_multi",
     raft_replacenode_cmd, "raft", "0.1.0",
     "Replaces a member of the Raft cluster by a new node: add, promote, remove."},
    {"acl", -2, SC_NOMULTI, "", acl_cmd, "server", "6.0.0",
     "A container for Access List Control commands."},
    {"cluster", -2, SC_NOMULTI, "", cluster_cmd, "cluster", "3.0.0",
     "A container for Redis Cluster commands."},
    {"readonly", 1, 0, "loading stale fast", readonly_cmd, "cluster", "3.0.0",
     "Enables read-only queries for a connection to a Redis Cluster replica node."},
    {"readwrite", 1, 0, "loading stale fast", readonly_cmd, "cluster", "3.0.0",
     "Enables read-write queries for a connection to a Redis Cluster replica node."},
    {"reset", 1, SC_NOAUTH | SC_MULTICTL, "noscript loading stale fast no_auth allow_busy",
     reset_cmd, "connection", "6.2.0", "Resets the connection."},
    {"subscribe", -2, 0, "pubsub noscript loading stale", subscribe_cmd, "pubsub", "2.0.0",
     "Listens for messages published to channels."},
    {"unsubscribe", -1, 0, "pubsub noscript loading stale", unsubscribe_cmd, "pubsub", "2.0.0",
     "Stops listening to messages posted to channels."},
    {"psubscribe", -2, 0, "pubsub noscript loading stale", subscribe_cmd, "pubsub", "2.0.0",
     "Listens for messages published to channels that match one or more patterns."},
    {"punsubscribe", -1, 0, "pubsub noscript loading stale", unsubscribe_cmd, "pubsub", "2.0.0",
     "Stops listening to messages published to channels that match one or more patterns."},
    {"ssubscribe", -2, 0, "pubsub noscript loading stale", subscribe_cmd, "pubsub", "7.0.0",
     "Listens for messages published to shard channels."},
    {"sunsubscribe", -1, 0, "pubsub noscript loading stale", unsubscribe_cmd, "pubsub", "7.0.0",
     "Stops listening to messages posted to shard channels."},
    {"pubsub", -2, 0, "", pubsub_cmd, "pubsub", "2.8.0", "A container for Pub/Sub commands."},
    {"slowlog", -2, SC_NOMULTI, "", slowlog_cmd, "server", "2.2.12",
     "A container for slow log commands."},
    {"latency", -2, SC_NOMULTI, "", latency_cmd, "server", "2.8.13",
     "A container for latency diagnostics commands."},
    {"monitor", 1, SC_NOMULTI, "admin noscript loading stale", monitor_cmd, "server", "1.0.0",
     "Listens for all requests received by the server in real-time."},
    {"debug", -2, SC_NOMULTI, "admin noscript loading stale protected", debug_cmd, "server",
     "1.0.0", "A container for debugging commands."},
    {"role", 1, 0, "noscript loading stale fast", role_cmd, "server", "2.8.12",
     "Returns the replication role."},
    {"migrate", -6, 0, "write movablekeys", migrate_cmd, "keyspace", "2.6.0",
     "Atomically transfers a key from one Redis instance to another."},
};
#define NSERVER (sizeof(server_commands) / sizeof(server_commands[0]))

/* -------------------------------------------------------------- lookup */

#define LOOKUP_SLOTS 1024
static cmdref lookup_table[LOOKUP_SLOTS];
static const char *lookup_names[LOOKUP_SLOTS];

static unsigned name_hash(const char *s, size_t n)
{
    unsigned h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned)tolower((unsigned char)s[i])) * 16777619u;
    return h;
}

static void lookup_add(const char *name, cmdref r)
{
    unsigned i = name_hash(name, strlen(name)) % LOOKUP_SLOTS;
    while (lookup_names[i])
        i = (i + 1) % LOOKUP_SLOTS;
    lookup_names[i] = name;
    r.acl = acl_command_id(name, strlen(name));
    lookup_table[i] = r;
}

void commands_init(void)
{
    int id = 0;
    for (size_t i = 0; i < NSERVER; i++, id++) {
        lookup_add(server_commands[i].name, (cmdref){&server_commands[i], NULL, id, -1});
        info_name_command(id, server_commands[i].name);
    }
    /* An internal command (KV_CMD_INTERNAL) is proposed by this server
     * only: unknown to clients, absent from COMMAND. */
    for (size_t i = 0; i < kv_command_count(); i++)
        if (!(kv_command_at(i)->flags & KV_CMD_INTERNAL)) {
            lookup_add(kv_command_at(i)->name, (cmdref){NULL, kv_command_at(i), id, -1});
            info_name_command(id++, kv_command_at(i)->name);
        }
}

static cmdref lookup(const char *name, size_t n)
{
    cmdref none = {NULL, NULL, -1, -1};
    if (n > 64) return none;
    unsigned i = name_hash(name, n) % LOOKUP_SLOTS;
    while (lookup_names[i]) {
        if (strlen(lookup_names[i]) == n && !strncasecmp(lookup_names[i], name, n))
            return lookup_table[i];
        i = (i + 1) % LOOKUP_SLOTS;
    }
    return none;
}

static const char *ref_name(cmdref r)
{
    return r.s ? r.s->name : r.k->name;
}

static int ref_arity(cmdref r)
{
    return r.s ? r.s->arity : r.k->arity;
}

/* ------------------------------------------------------------ dispatch */

/* Appends a copy of a command to the client's MULTI queue. */
/* MOVE, SWAPDB and COPY ... DB name databases: the state accepts any it
 * holds (applying must not depend on this node's configuration), so an
 * index past `databases` is refused here, before it is proposed, with the
 * error Redis gives. Only well-formed indexes are checked: the state
 * answers the rest the same everywhere. */
static int db_arg_ok(const char *s, size_t n)
{
    char *end;
    if (!n || n > 20) return 1;
    long long v = strtoll(s, &end, 10);
    return *end || (v >= 0 && v < cfg.databases) || v < 0;
}

static int db_args_ok(const kv_command *k, int argc, char **argv, size_t *lens, resp_buf *b)
{
    static const kv_command *move, *swapdb, *copy; /* rows compared by address, not name */
    if (!move) {
        move = kv_command_lookup("move", 4);
        swapdb = kv_command_lookup("swapdb", 6);
        copy = kv_command_lookup("copy", 4);
    }
    int ok = 1;
    if (k == move)
        ok = db_arg_ok(argv[2], lens[2]);
    else if (k == swapdb)
        ok = db_arg_ok(argv[1], lens[1]) && db_arg_ok(argv[2], lens[2]);
    else if (k == copy)
        for (int j = 3; j + 1 < argc; j++)
            if (!strcasecmp(argv[j], "db")) ok = ok && db_arg_ok(argv[j + 1], lens[j + 1]);
    if (!ok) resp_add_error(b, "ERR DB index is out of range");
    return ok;
}

/* The database a client is in after its queued transaction: that of the
 * last SELECT the state accepts. */
static int multi_final_db(client *c)
{
    int db = c->db;
    for (int i = 0; i < c->mq_len; i++) {
        const mcmd *m = &c->mq[i];
        if (m->argc != 2 || strcasecmp(m->argv[0], "select")) continue;
        long long v;
        if (kv_string2ll(m->argv[1], m->argvlen[1], &v) && v >= 0 && v < cfg.databases) db = (int)v;
    }
    return db;
}

static void multi_queue(client *c, int argc, char **argv, size_t *lens)
{
    if (c->mq_len == c->mq_cap) {
        int cap = c->mq_cap ? c->mq_cap * 2 : 8;
        mcmd *q = realloc(c->mq, (size_t)cap * sizeof(*q));
        if (!q) {
            serverLog(LL_WARNING, "Out of memory queueing a MULTI command");
            exit(1);
        }
        c->mq = q;
        c->mq_cap = cap;
    }
    mcmd *m = &c->mq[c->mq_len++];
    m->argc = argc;
    m->argv = argv_copy(argc, argv, lens, &m->argvlen);
}

void multi_queue_front(client *c, int argc, char **argv, size_t *lens)
{
    multi_queue(c, argc, argv, lens);
    mcmd m = c->mq[c->mq_len - 1];
    memmove(c->mq + 1, c->mq, (size_t)(c->mq_len - 1) * sizeof(*c->mq));
    c->mq[0] = m;
}

/* A follower in proxy mode forwards its clients' writes to the leader (a
 * peer's own RAFT.PROXY never goes further: no forwarding loops). */
static int should_proxy(client *c)
{
    return !c->peer_id && !driver_is_leader() && driver_leader_known() &&
           !strcmp(cfg.follower_mode, "proxy");
}

int command_proxy_to_leader(client *c, int argc, char **argv, size_t *lens)
{
    if (!should_proxy(c)) return 0;
    proxy_forward(c, argc, argv, lens);
    return 1;
}

/* A RESP2 connection with subscriptions reads pushes, not replies: Redis
 * lets it run only these. */
static int allowed_in_subscribe_mode(cmdref r)
{
    if (!r.s) return 0;
    return r.s->proc == ping_cmd || r.s->proc == subscribe_cmd || r.s->proc == unsubscribe_cmd ||
           r.s->proc == quit_cmd || r.s->proc == reset_cmd;
}

static int rejecting_id = -1; /* the command dispatch() is checking */

/* CLIENT, CONFIG, OBJECT, ... (and COMMAND, which also runs alone):
 * Redis counts their subcommands apart. */
static int is_container(cmdref r)
{
    if (r.s && r.s->proc == command_cmd) return 1;
    return !strncmp(r.s ? r.s->summary : r.k->summary, "A container for", 15);
}

/* A command refused before it ran; inside MULTI it also dooms EXEC. */
static void reject(client *c, const char *msg)
{
    if (c->flags & CF_MULTI) c->flags |= CF_DIRTY_EXEC;
    info_rejected(c, rejecting_id, msg);
    resp_add_error(client_reply_buf(c), msg);
}

/* Copies argv into one allocation: the pointer array, the lengths and the
 * bytes (each NUL terminated). Returns the argv array (free() it alone). */
char **argv_copy(int argc, char **argv, size_t *lens, size_t **lens_out)
{
    size_t total = (size_t)argc * (sizeof(char *) + sizeof(size_t));
    for (int i = 0; i < argc; i++)
        total += lens[i] + 1;
    char *mem = malloc(total ? total : 1);
    if (!mem) {
        serverLog(LL_WARNING, "Out of memory copying a command");
        exit(1);
    }
    char **av = (char **)mem;
    size_t *al = (size_t *)(mem + (size_t)argc * sizeof(char *));
    char *p = (char *)(al + argc);
    for (int i = 0; i < argc; i++) {
        memcpy(p, argv[i], lens[i]);
        p[lens[i]] = '\0';
        av[i] = p;
        al[i] = lens[i];
        p += lens[i] + 1;
    }
    *lens_out = al;
    return av;
}

#define OOM_MSG "OOM command not allowed when used memory > 'maxmemory'."

static int over_high_water(void)
{
    return kvstate_used_pct(srv.state) >= cfg.high_water_pct ||
           kvlog_used_pct(srv.log) >= cfg.high_water_pct;
}

static void fatal_storage(int rc, const char *what)
{
    serverLog(LL_WARNING, "Storage error while %s: %s (%s). Stopping.", what, kv_strerror(rc),
              kvstate_last_error(srv.state));
    exit(1);
}

static void execute(client *c, cmdref r, int argc, char **argv, size_t *lens);
static void execute_read(client *c, cmdref r, int argc, char **argv, size_t *lens);

int command_key_positions(int argc, char **argv, size_t *lens, int *pos, int max)
{
    cmdref r = lookup(argv[0], lens[0]);
    if (!r.k || r.k->firstkey <= 0) return 0;
    int ar = r.k->arity;
    if ((ar > 0 && argc != ar) || (ar < 0 && argc < -ar)) return 0;
    int k = kv_command_keys(r.k, argc, argv, lens, pos, max);
    return k > max ? max : k;
}

/* ACL: may c's user run this call? Answers -NOPERM (and dooms EXEC) when
 * not. Checked where Redis checks, before MULTI queues the command. */
static int acl_denies(client *c, cmdref r, int argc, char **argv, size_t *lens)
{
    int id = r.acl;
    if (argc >= 2) {
        int sid = acl_subcommand_id(id, argv[1], lens[1]);
        if (sid >= 0) id = sid;
    }
    int pos[256], n = 0;
    if (r.k && r.k->firstkey > 0) {
        n = kv_command_keys(r.k, argc, argv, lens, pos, 256);
        if (n > 256) n = 256;
    }
    char msg[256];
    if (acl_check(c, id, argc, argv, lens, pos, n, msg, sizeof(msg)) == 0) return 0;
    reject(c, msg);
    return 1;
}

/* EXEC checks every queued command again, as Redis's execCommand does (the
 * user's rules may have changed since it was queued): one no longer allowed
 * becomes "raft.noperm <error>", which the apply answers in its place
 * (storage/kvstate.c). On a leader running a follower's transaction
 * (RAFT.PROXYEXEC) this is the check that decides. */
static void acl_recheck_queued(client *c)
{
    if (acl_user_unrestricted(c->user) || (c->peer_id && !c->as_user)) return;
    for (int i = 0; i < c->mq_len; i++) {
        mcmd *m = &c->mq[i];
        if (m->argc < 1) continue;
        cmdref r = lookup(m->argv[0], m->argvlen[0]);
        int id = r.acl;
        if (m->argc >= 3 && !strcasecmp(m->argv[0], "raft.acl")) /* a queued ACL <sub> */
            id = acl_subcommand_id(acl_command_id("acl", 3), m->argv[2], m->argvlen[2]);
        else if (m->argc >= 2 && id >= 0) {
            int sid = acl_subcommand_id(id, m->argv[1], m->argvlen[1]);
            if (sid >= 0) id = sid;
        }
        if (id < 0) continue; /* raft.watch, raft.noperm */
        int pos[256], n = 0;
        if (r.k && r.k->firstkey > 0) {
            n = kv_command_keys(r.k, m->argc, m->argv, m->argvlen, pos, 256);
            if (n > 256) n = 256;
        }
        char msg[300];
        if (acl_check_queued(c, id, m->argc, m->argv, m->argvlen, pos, n, msg, sizeof(msg)) == 0)
            continue;
        char *av[2] = {"raft.noperm", msg};
        size_t al[2] = {11, strlen(msg)};
        free(m->argv);
        m->argc = 2;
        m->argv = argv_copy(2, av, al, &m->argvlen);
    }
}

void dispatch(client *c, int argc, char **argv, size_t *lens)
{
    char msg[1024];
    srv.stats.commands++;
    if (argc == 0) return;
    cmdref r = lookup(argv[0], lens[0]);
    rejecting_id = r.id;
    if (c->gate && !(r.s && (r.s->proc == raft_hello_cmd || r.s->proc == raft_auth_cmd))) {
        /* Let in for the peer handshake only (networking.c). */
        resp_add_error(client_reply_buf(c), c->gate == GATE_PROBATION
                                                ? "ERR max number of clients reached"
                                                : net_denied_text);
        c->flags |= CF_CLOSE_AFTER_REPLY;
        return;
    }
    if (!r.s && !r.k) {
        char args[160] = "";
        size_t off = 0;
        for (int i = 1; i < argc && off < 128; i++) {
            int room = 128 - (int)off;
            int w = snprintf(args + off, sizeof(args) - off, "'%.*s' ",
                             (int)(lens[i] < (size_t)room ? lens[i] : (size_t)room), argv[i]);
            if (w < 0) break;
            off += (size_t)w;
            if (off >= sizeof(args)) off = sizeof(args) - 1;
        }
        snprintf(msg, sizeof(msg), "ERR unknown command '%.128s', with args beginning with: %s",
                 argv[0], args);
        reject(c, msg);
        return;
    }
    int arity = ref_arity(r);
    if ((arity > 0 && argc != arity) || (arity < 0 && argc < -arity)) {
        snprintf(msg, sizeof(msg), "ERR wrong number of arguments for '%s' command", ref_name(r));
        reject(c, msg);
        return;
    }
    if (r.s && r.s->arity == -2 && argc >= 2) /* a container: name|sub */
        snprintf(c->last_cmd, sizeof(c->last_cmd), "%s|%.*s", ref_name(r), (int)lens[1], argv[1]);
    else { /* every command pays for this: no snprintf */
        const char *n = ref_name(r);
        size_t i = 0;
        for (; n[i] && i + 1 < sizeof(c->last_cmd); i++)
            c->last_cmd[i] = n[i];
        c->last_cmd[i] = '\0';
    }
    for (char *p = c->last_cmd; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (!c->authenticated && !(r.s && (r.s->flags & SC_NOAUTH)) && !acl_default_nopass()) {
        reject(c, "NOAUTH Authentication required.");
        return;
    }
    /* Peers are not users: RAFT.* (no ACL id) pass. What a follower
     * forwards is checked here again as its client's user (as_user), against
     * this node's users: the leader's check decides. One branch for an
     * unrestricted user. */
    if (!acl_user_unrestricted(c->user) && (!c->peer_id || c->as_user) && r.acl >= 0 &&
        acl_denies(c, r, argc, argv, lens))
        return;
    if (c->trk) tracking_command(c, r.s && r.s->proc == client_cmd);
    if (r.k && (r.k->flags & KV_CMD_DENYOOM) && over_high_water()) {
        reject(c, OOM_MSG);
        return;
    }
    /* Redis refuses every command but EXEC, DISCARD, QUIT and RESET while
     * queuing above maxmemory (a queue may grow without bound), which
     * dooms EXEC. This node's applied state decides: nothing is proposed,
     * so the key space stays the same on every node. */
    if ((c->flags & CF_MULTI) &&
        !(r.s && (r.s->proc == exec_cmd || r.s->proc == discard_cmd || r.s->proc == quit_cmd ||
                  r.s->proc == reset_cmd)) &&
        kvstate_oom_refuses(srv.state)) {
        reject(c, OOM_MSG);
        return;
    }
    if (r.k && diag_is_monitor(c)) {
        reject(c, "ERR Replica can't interact with the keyspace");
        return;
    }
    if (r.s && r.s->proc == pubsub_cmd && pubsub_check_sub(c, argc, argv, lens)) {
        if (c->flags & CF_MULTI) c->flags |= CF_DIRTY_EXEC;
        return;
    }
    if (c->proto == 2 && pubsub_count(c) && !allowed_in_subscribe_mode(r)) {
        snprintf(msg, sizeof(msg),
                 "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
                 "RESET are allowed in this context",
                 c->last_cmd);
        reject(c, msg);
        return;
    }
    if (clientcmd_hold(c, r.k, r.s && r.s->proc == exec_cmd, argc, argv, lens)) return;
    if ((c->flags & CF_MULTI) && !(r.s && (r.s->flags & SC_MULTICTL))) {
        if (r.s && r.s->proc == unwatch_cmd) {
            /* Queued, as in Redis; it answers +OK in EXEC's reply
             * (kvstate_apply), and EXEC forgets the watches anyway. */
            multi_queue(c, argc, argv, lens);
            resp_add_simple(client_reply_buf(c), "QUEUED");
            return;
        }
        if (r.s && r.s->proc == select_cmd) {
            /* Applied with the transaction (kvstate_apply): an index past
             * this server's databases is queued as one the state refuses. */
            long long db;
            int out = kv_string2ll(argv[1], lens[1], &db) && db >= INT_MIN && db <= INT_MAX &&
                      (db < 0 || db >= cfg.databases);
            char *av[2] = {argv[0], out ? "-1" : argv[1]};
            size_t al[2] = {lens[0], out ? 2 : lens[1]};
            multi_queue(c, 2, av, al);
            resp_add_simple(client_reply_buf(c), "QUEUED");
            return;
        }
        if (r.s && r.s->proc == acl_cmd) {
            /* ACL SETUSER/DELUSER change the users with the transaction;
             * the reads are answered at apply (acl.h). */
            char **av, err[300];
            size_t *al;
            int n;
            if (acl_multi_argv(c, argc, argv, lens, &av, &al, &n, err, sizeof(err))) {
                reject(c, err);
                return;
            }
            multi_queue(c, n, av, al);
            acl_free_argv(av, al, n);
            resp_add_simple(client_reply_buf(c), "QUEUED");
            return;
        }
        if (r.s) {
            reject(c, "ERR Command not allowed inside a transaction");
            return;
        }
        if (c->trk && (r.k->flags & KV_CMD_READONLY)) tracking_read(c, r.k, argc, argv, lens);
        multi_queue(c, argc, argv, lens);
        resp_add_simple(client_reply_buf(c), "QUEUED");
        return;
    }
    info_call call;
    int id = r.id;
    if (argc >= 2 && is_container(r))
        id = info_sub_id(r.id, argv[1], lens[1]); /* counted as "client|list" */
    info_call_begin(&call, c, id);
    int64_t t0 = mono_us();
    int nreads = c->nreads;
    execute(c, r, argc, argv, lens);
    int64_t us = mono_us() - t0;
    info_call_end(&call, c, us);
    diag_command(c, ref_name(r), argc, argv, lens, us, c->nreads > nreads);
}

/* Runs a command that passed dispatch's checks. */
static void execute(client *c, cmdref r, int argc, char **argv, size_t *lens)
{
    if (r.s) {
        r.s->proc(c, argc, argv, lens);
        return;
    }
    const kv_command *asread;
    if ((r.k->flags & KV_CMD_WRITE) &&
        (asread = kvstate_as_read(srv.state, r.k, argc, argv, lens))) {
        if (asread == r.k) { /* FUNCTION LIST & co.: a read of the write row */
            execute_read(c, r, argc, argv, lens);
            return;
        }
        /* EVAL of a no-writes script: served like EVAL_RO, named so. */
        char **av = malloc((size_t)argc * sizeof(*av));
        if (!av) {
            resp_add_error(client_reply_buf(c), "ERR out of memory");
            return;
        }
        memcpy(av, argv, (size_t)argc * sizeof(*av));
        av[0] = (char *)asread->name;
        size_t l0 = lens[0];
        lens[0] = strlen(asread->name);
        r.k = asread;
        execute_read(c, r, argc, av, lens);
        lens[0] = l0;
        free(av);
        return;
    }
    /* XREAD / XREADGROUP with BLOCK block like BLPOP (blocking.c). */
    int blocks = kv_command_blocks(r.k, argc, argv, lens);
    if ((r.k->flags & KV_CMD_WRITE) || blocks) {
        resp_buf *b = client_reply_buf(c);
        if (r.k->check && r.k->check(argc, argv, lens, b)) return;
        if (!db_args_ok(r.k, argc, argv, lens, b)) return;
        if (blocks) {
            if (c->peer_id) { /* a follower's attempt: never held here (blocking.c) */
                if (write_propose(c, argc, argv, lens, r.k->firstkey) == 0) c->tail->attempt = 1;
                return;
            }
            /* A follower in redirect mode answers -MOVED like any write;
             * otherwise the client blocks on this node. */
            if (!driver_is_leader() && strcmp(cfg.follower_mode, "proxy"))
                write_propose(c, argc, argv, lens, r.k->firstkey);
            else
                blocking_start(c, r.k, argc, argv, lens);
            return;
        }
        if (should_proxy(c)) {
            proxy_forward(c, argc, argv, lens);
        } else {
            /* -MOVED names the first key's slot; EVAL's keys follow numkeys. */
            int fk = r.k->firstkey, pos[1];
            if (fk <= 0 && kv_command_keys(r.k, argc, argv, lens, pos, 1) > 0) fk = pos[0];
            write_propose(c, argc, argv, lens, fk);
        }
        return;
    }
    execute_read(c, r, argc, argv, lens);
}

/* The read half of execute(). */
static void execute_read(client *c, cmdref r, int argc, char **argv, size_t *lens)
{
    if (c->trk) tracking_read(c, r.k, argc, argv, lens);
    evict_touch_read(c->db, r.k, argc, argv, lens);
    if (c->nproxy) { /* behind a forwarded write: the leader runs it after that write */
        proxy_forward(c, argc, argv, lens);
    } else if (c->readonly && !c->npending && !driver_is_leader()) {
        /* READONLY on a follower: this node's own state, possibly stale, as
         * on a Redis Cluster replica. */
        int rc =
            kvstate_read(srv.state, c->db, r.k, argc, argv, lens, mstime(), client_reply_buf(c));
        if (rc) fatal_storage(rc, "reading");
    } else {
        driver_read(c, r.k, argc, argv, lens);
    }
    evict_touch_flush();
}

/* ---------------------------------------------------- connection commands */

PROC(ping_cmd)
{
    (void)lens;
    resp_buf *b = client_reply_buf(c);
    if (argc > 2) {
        resp_add_error(b, "ERR wrong number of arguments for 'ping' command");
        return;
    }
    if (c->proto == 2 && pubsub_count(c)) { /* Redis's form in subscribe mode */
        resp_add_array(b, 2);
        resp_add_bulk(b, "pong", 4);
        resp_add_bulk(b, argc == 1 ? "" : argv[1], argc == 1 ? 0 : lens[1]);
    } else if (argc == 1) {
        resp_add_simple(b, "PONG");
    } else {
        resp_add_bulk(b, argv[1], lens[1]);
    }
}

/* PSUBSCRIBE / PUNSUBSCRIBE, SSUBSCRIBE / SUNSUBSCRIBE, or the plain ones. */
static int pubsub_kind(const char *name)
{
    if (!strcasecmp(name, "psubscribe") || !strcasecmp(name, "punsubscribe")) return PUBSUB_PATTERN;
    if (!strcasecmp(name, "ssubscribe") || !strcasecmp(name, "sunsubscribe")) return PUBSUB_SHARD;
    return PUBSUB_CHANNEL;
}

PROC(subscribe_cmd)
{
    pubsub_subscribe(c, pubsub_kind(argv[0]), argc, argv, lens);
}

PROC(unsubscribe_cmd)
{
    pubsub_unsubscribe(c, pubsub_kind(argv[0]), argc, argv, lens);
}

PROC(pubsub_cmd)
{
    pubsub_command(c, argc, argv, lens);
}

PROC(debug_cmd)
{
    debug_command(c, argc, argv, lens);
}

PROC(echo_cmd)
{
    (void)argc;
    resp_add_bulk(client_reply_buf(c), argv[1], lens[1]);
}

PROC(quit_cmd)
{
    (void)argc, (void)argv, (void)lens;
    resp_add_ok(client_reply_buf(c));
    c->flags |= CF_CLOSE_AFTER_REPLY;
}

PROC(auth_cmd)
{
    resp_buf *b = client_reply_buf(c);
    if (argc > 3) {
        resp_add_error(b, "ERR syntax error");
        return;
    }
    if (argc == 2 && acl_user_autoauth(acl_default_user())) {
        resp_add_error(b, "ERR AUTH <password> called without any password configured for the "
                          "default user. Are you sure your configuration is correct?");
        return;
    }
    struct acl_user *u = argc == 2 ? acl_authenticate(c, "default", 7, argv[1], lens[1])
                                   : acl_authenticate(c, argv[1], lens[1], argv[2], lens[2]);
    if (!u) {
        resp_add_error(b, "WRONGPASS invalid username-password pair or user is disabled.");
        return;
    }
    c->user = u;
    c->authenticated = 1;
    resp_parser_set_unauthenticated(c->parser, 0);
    resp_add_ok(b);
}

static int valid_client_name(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '!' || s[i] > '~') return 0;
    return 1;
}

static void set_str(char **dst, const char *s, size_t n)
{
    free(*dst);
    *dst = NULL;
    if (!n) return;
    *dst = malloc(n + 1);
    if (!*dst) {
        serverLog(LL_WARNING, "Out of memory");
        exit(1);
    }
    memcpy(*dst, s, n);
    (*dst)[n] = '\0';
}

PROC(hello_cmd)
{
    resp_buf *b = client_reply_buf(c);
    int ver = c->proto;
    int i = 1;
    if (argc >= 2) {
        char *end;
        long v = strtol(argv[1], &end, 10);
        if (*end || !lens[1] || v < 0 || v > 1000000) {
            resp_add_error(b, "ERR Protocol version is not an integer or out of range");
            return;
        }
        if (v < 2 || v > 3) {
            resp_add_error(b, "NOPROTO unsupported protocol version");
            return;
        }
        ver = (int)v;
        i = 2;
    }
    const char *setname = NULL;
    size_t setname_len = 0;
    int authed = c->authenticated || acl_default_nopass();
    struct acl_user *user = NULL;
    for (; i < argc; i++) {
        int more = argc - i - 1;
        if (!strcasecmp(argv[i], "AUTH") && more >= 2) {
            user = acl_authenticate(c, argv[i + 1], lens[i + 1], argv[i + 2], lens[i + 2]);
            if (!user) {
                resp_add_error(b, "WRONGPASS invalid username-password pair or user is disabled.");
                return;
            }
            authed = 1;
            i += 2;
        } else if (!strcasecmp(argv[i], "SETNAME") && more >= 1) {
            setname = argv[i + 1];
            setname_len = lens[i + 1];
            if (!valid_client_name(setname, setname_len)) {
                resp_add_error(b, "ERR Client names cannot contain spaces, newlines or special "
                                  "characters.");
                return;
            }
            i++;
        } else {
            resp_add_errorf(b, "ERR Syntax error in HELLO option '%s'", argv[i]);
            return;
        }
    }
    if (!authed) {
        resp_add_error(b, "NOAUTH HELLO must be called with the client already authenticated, "
                          "otherwise the HELLO AUTH <user> <pass> option can be used to "
                          "authenticate the client and select the RESP protocol version at the "
                          "same time");
        return;
    }
    c->authenticated = 1;
    if (user) c->user = user;
    resp_parser_set_unauthenticated(c->parser, 0);
    if (setname) set_str(&c->name, setname, setname_len);
    c->proto = ver;
    b = client_reply_buf(c); /* in the new protocol */
    resp_add_map(b, 7);
    resp_add_bulk_str(b, "server");
    resp_add_bulk_str(b, "redis");
    resp_add_bulk_str(b, "version");
    resp_add_bulk_str(b, REDIS_COMPAT_VERSION);
    resp_add_bulk_str(b, "proto");
    resp_add_int(b, ver);
    resp_add_bulk_str(b, "id");
    resp_add_int(b, (int64_t)c->id);
    resp_add_bulk_str(b, "mode");
    resp_add_bulk_str(b, "standalone");
    resp_add_bulk_str(b, "role");
    resp_add_bulk_str(b, driver_is_leader() ? "master" : "replica"); /* as INFO's role */
    resp_add_bulk_str(b, "modules");
    resp_add_array(b, 0);
}

PROC(select_cmd)
{
    (void)argc;
    resp_buf *b = client_reply_buf(c);
    long long v;
    /* Redis's getIntFromObject: string2ll (no sign but '-', no spaces, no
     * leading zeros), then the range of an int. */
    if (!kv_string2ll(argv[1], lens[1], &v) || v < INT_MIN || v > INT_MAX) {
        resp_add_error(b, "ERR value is not an integer or out of range");
        return;
    }
    if (v < 0 || v >= cfg.databases) {
        resp_add_error(b, "ERR DB index is out of range");
        return;
    }
    c->db = (int)v;
    resp_add_ok(b);
}

PROC(reset_cmd)
{
    (void)argc, (void)argv, (void)lens;
    for (int i = 0; i < c->mq_len; i++)
        free(c->mq[i].argv);
    c->mq_len = 0;
    c->flags &= ~(CF_MULTI | CF_DIRTY_EXEC);
    watch_clear(c);
    pubsub_client_gone(c); /* leaves every subscription, with no confirmation */
    diag_client_gone(c);   /* leaves monitor mode */
    c->proto = 2;
    c->readonly = 0;
    c->db = 0;
    tracking_reset(c);
    free(c->name);
    c->name = NULL;
    c->user = acl_default_user();
    c->authenticated = acl_user_autoauth(c->user);
    resp_parser_set_unauthenticated(c->parser, !c->authenticated);
    resp_add_simple(client_reply_buf(c), "RESET");
}

/* CLIENT LIST / CLIENT INFO line, in redis 7.0's field order. */
static void client_line(client *c, char *buf, size_t n, int64_t now)
{
    size_t obl = c->out.len;
    int oll = 0;
    char flags[16];
    int nf = 0;
    if (diag_is_monitor(c)) flags[nf++] = 'O'; /* Redis's order: O, P, x, b, then tracking's */
    if (pubsub_count(c)) flags[nf++] = 'P';
    if (c->flags & CF_MULTI) flags[nf++] = 'x';
    if (blocking_waiting(c)) flags[nf++] = 'b';
    nf += tracking_flags(c, flags + nf);
    if (!nf) flags[nf++] = 'N';
    flags[nf] = '\0';
    for (slot *s = c->head; s; s = s->next)
        oll++;
    snprintf(buf, n,
             "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=%d sub=%ld "
             "psub=%ld ssub=%ld multi=%d qbuf=%zu qbuf-free=0 argv-mem=0 multi-mem=0 rbs=%d rbp=0 "
             "obl=%zu oll=%d omem=0 tot-mem=0 events=r cmd=%s user=%s redir=%lld resp=%d "
             "lib-name=%s lib-ver=%s\n",
             (unsigned long long)c->id, c->addr, c->laddr, c->fd, c->name ? c->name : "",
             (long long)((now - c->ctime) / 1000), (long long)((now - c->last_interaction) / 1000),
             flags, c->db, pubsub_kind_count(c, PUBSUB_CHANNEL),
             pubsub_kind_count(c, PUBSUB_PATTERN), pubsub_kind_count(c, PUBSUB_SHARD),
             (c->flags & CF_MULTI) ? c->mq_len : -1, resp_parser_pending(c->parser), 1024, obl, oll,
             c->last_cmd[0] ? c->last_cmd : "NULL", acl_user_name(c->user), tracking_redir(c),
             c->proto, c->lib_name ? c->lib_name : "", c->lib_ver ? c->lib_ver : "");
}

void client_info_line(client *c, char *buf, size_t n)
{
    client_line(c, buf, n, mstime());
}

static void sub_arity(resp_buf *b, const char *cmd, const char *sub)
{
    resp_add_errorf(b, "ERR wrong number of arguments for '%s|%s' command", cmd, sub);
}

PROC(client_cmd)
{
    resp_buf *b = client_reply_buf(c);
    const char *sub = argv[1];
    char line[1024];
    if (!strcasecmp(sub, "id")) {
        if (argc != 2) return sub_arity(b, "client", "id");
        resp_add_int(b, (int64_t)c->id);
    } else if (!strcasecmp(sub, "getname")) {
        if (argc != 2) return sub_arity(b, "client", "getname");
        if (c->name)
            resp_add_bulk_str(b, c->name);
        else
            resp_add_null(b);
    } else if (!strcasecmp(sub, "setname")) {
        if (argc != 3) return sub_arity(b, "client", "setname");
        if (!valid_client_name(argv[2], lens[2])) {
            resp_add_error(b, "ERR Client names cannot contain spaces, newlines or special "
                              "characters.");
            return;
        }
        set_str(&c->name, argv[2], lens[2]);
        resp_add_ok(b);
    } else if (!strcasecmp(sub, "setinfo")) {
        if (argc != 4) return sub_arity(b, "client", "setinfo");
        if (!valid_client_name(argv[3], lens[3])) {
            resp_add_errorf(b, "ERR %s cannot contain spaces, newlines or special characters.",
                            argv[2]);
            return;
        }
        if (!strcasecmp(argv[2], "lib-name"))
            set_str(&c->lib_name, argv[3], lens[3]);
        else if (!strcasecmp(argv[2], "lib-ver"))
            set_str(&c->lib_ver, argv[3], lens[3]);
        else {
            resp_add_errorf(b, "ERR Unrecognized option '%s'", argv[2]);
            return;
        }
        resp_add_ok(b);
    } else if (!strcasecmp(sub, "info")) {
        if (argc != 2) return sub_arity(b, "client", "info");
        client_line(c, line, sizeof(line), mstime());
        resp_add_verbatim(b, "txt", line, strlen(line));
    } else if (!strcasecmp(sub, "list")) {
        resp_buf tmp;
        resp_buf_init(&tmp, 2);
        int64_t now = mstime();
        for (client *o = srv.clients; o; o = o->next) {
            client_line(o, line, sizeof(line), now);
            resp_add_raw(&tmp, line, strlen(line));
        }
        resp_add_verbatim(b, "txt", tmp.p, tmp.len);
        resp_buf_free(&tmp);
    } else if (!strcasecmp(sub, "unblock")) {
        /* CLIENT UNBLOCK <id> [TIMEOUT|ERROR], Redis's order of checks. */
        if (argc < 3) return sub_arity(b, "client", "unblock");
        if (argc > 4) {
            resp_add_error(b, "ERR unknown subcommand or wrong number of arguments for "
                              "'unblock'. Try CLIENT HELP.");
            return;
        }
        int error = 0;
        if (argc == 4) {
            if (!strcasecmp(argv[3], "error")) {
                error = 1;
            } else if (strcasecmp(argv[3], "timeout")) {
                resp_add_error(b, "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
                return;
            }
        }
        long long id;
        if (!kv_string2ll(argv[2], lens[2], &id)) {
            resp_add_error(b, "ERR value is not an integer or out of range");
            return;
        }
        resp_add_int(b, blocking_unblock((uint64_t)id, error));
    } else if (tracking_client_sub(c, b, argc, argv, lens)) {
        /* TRACKING, CACHING, GETREDIR, TRACKINGINFO (tracking.c) */
    } else if (clientcmd_client_sub(c, b, argc, argv, lens)) {
        /* KILL, PAUSE, UNPAUSE, REPLY, NO-EVICT (clientcmd.c) */
    } else if (!strcasecmp(sub, "no-touch")) {
        resp_add_ok(b);
    } else if (!strcasecmp(sub, "help")) {
        static const char *help[] = {
            "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "ID",
            "    Return the ID of the current connection.",
            "GETNAME",
            "    Return the name of the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "SETINFO <LIB-NAME|LIB-VER> <value>",
            "    Set client library name or version.",
            "INFO",
            "    Return information about the current client connection.",
            "LIST",
            "    Return information about client connections.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Kill connections by type.",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "    * ID <client-id>",
            "      Kill connections by client id.",
            "    * MAXAGE <maxage>",
            "      Kill connections older than the specified age.",
            "UNPAUSE",
            "    Stop the current client pause, resuming traffic.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Suspend all, or just write, clients for <timeout> milliseconds.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
            "         [OPTIN] [OPTOUT] [NOLOOP]",
            "    Control server assisted client side caching.",
            "TRACKINGINFO",
            "    Report tracking status for the current connection.",
            "CACHING (YES|NO)",
            "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
            "GETREDIR",
            "    Return the client ID we are redirecting to when tracking is enabled.",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            "    Unblock the specified blocked client.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
            "HELP",
            "    Print this help."};
        resp_add_array(b, sizeof(help) / sizeof(help[0]));
        for (size_t i = 0; i < sizeof(help) / sizeof(help[0]); i++)
            resp_add_simple(b, help[i]);
    } else {
        resp_add_errorf(b, "ERR unknown subcommand \'%.128s\'. Try CLIENT HELP.", sub);
    }
}

/* ---------------------------------------------------------- COMMAND */

static int flag_words(cmdref r, const char **out)
{
    int n = 0;
    if (r.k) {
        if (r.k->flags & KV_CMD_WRITE) out[n++] = "write";
        if (r.k->flags & KV_CMD_READONLY) out[n++] = "readonly";
        if (r.k->flags & KV_CMD_DENYOOM) out[n++] = "denyoom";
        if (r.k->flags & KV_CMD_FAST) out[n++] = "fast";
    }
    return n;
}

static void command_info(resp_buf *b, cmdref r)
{
    if (cmdinfo_info(b, ref_name(r), strlen(ref_name(r)))) return; /* as redis-server's */
    const char *fl[8];
    int nfl = flag_words(r, fl);
    resp_add_array(b, 10);
    resp_add_bulk_str(b, ref_name(r));
    resp_add_int(b, ref_arity(r));
    if (r.s) {
        /* split the flag string */
        char tmp[256];
        snprintf(tmp, sizeof(tmp), "%s", r.s->info_flags);
        const char *w[16];
        int n = 0;
        for (char *t = strtok(tmp, " "); t && n < 16; t = strtok(NULL, " "))
            w[n++] = t;
        resp_add_set(b, n);
        for (int i = 0; i < n; i++)
            resp_add_status_len(b, w[i], strlen(w[i]));
        resp_add_int(b, 0);
        resp_add_int(b, 0);
        resp_add_int(b, 0);
    } else {
        resp_add_set(b, nfl);
        for (int i = 0; i < nfl; i++)
            resp_add_status_len(b, fl[i], strlen(fl[i]));
        resp_add_int(b, r.k->firstkey);
        resp_add_int(b, r.k->lastkey);
        resp_add_int(b, r.k->keystep);
    }
    resp_add_set(b, 0);   /* ACL categories */
    resp_add_array(b, 0); /* tips */
    resp_add_array(b, 0); /* key specs */
    resp_add_array(b, 0); /* subcommands */
}

static void command_docs(resp_buf *b, cmdref r)
{
    if (cmdinfo_docs(b, ref_name(r), strlen(ref_name(r)))) return; /* as redis-server's */
    const char *group = r.s ? r.s->group : r.k->group;
    const char *since = r.s ? r.s->since : r.k->since;
    const char *summary = r.s ? r.s->summary : r.k->summary;
    resp_add_bulk_str(b, ref_name(r));
    resp_add_map(b, 3);
    resp_add_bulk_str(b, "summary");
    resp_add_bulk_str(b, summary ? summary : "");
    resp_add_bulk_str(b, "since");
    resp_add_bulk_str(b, since ? since : "1.0.0");
    resp_add_bulk_str(b, "group");
    resp_add_bulk_str(b, group ? group : "generic");
}

/* "container|sub" whose container RaftKV implements. command_info.c's table
 * also holds rows of commands not implemented yet (so it is generated once);
 * those, and their subcommands, must stay unlisted until they are. */
static int implemented_sub(const char *name, size_t len)
{
    const char *bar = memchr(name, '|', len);
    if (!bar) return 0;
    cmdref r = lookup(name, (size_t)(bar - name));
    return r.s || r.k;
}

static size_t all_commands(cmdref *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < NSERVER && n < cap; i++)
        out[n++] = (cmdref){&server_commands[i], NULL, -1, -1};
    for (size_t i = 0; i < kv_command_count() && n < cap; i++)
        if (!(kv_command_at(i)->flags & KV_CMD_INTERNAL))
            out[n++] = (cmdref){NULL, kv_command_at(i), -1, -1};
    return n;
}

PROC(command_cmd)
{
    resp_buf *b = client_reply_buf(c);
    cmdref all[512];
    size_t n = all_commands(all, 512);
    if (argc == 1) {
        resp_add_array(b, (int64_t)n);
        for (size_t i = 0; i < n; i++)
            command_info(b, all[i]);
        return;
    }
    const char *sub = argv[1];
    if (!strcasecmp(sub, "count") && argc == 2) {
        resp_add_int(b, (int64_t)n);
    } else if (!strcasecmp(sub, "info")) {
        if (argc == 2) {
            resp_add_array(b, (int64_t)n);
            for (size_t i = 0; i < n; i++)
                command_info(b, all[i]);
            return;
        }
        resp_add_array(b, argc - 2);
        for (int i = 2; i < argc; i++) {
            cmdref r = lookup(argv[i], lens[i]);
            if (r.s || r.k)
                command_info(b, r);
            else if (!implemented_sub(argv[i], lens[i]) || !cmdinfo_info(b, argv[i], lens[i]))
                resp_add_null(b);
        }
    } else if (!strcasecmp(sub, "docs")) {
        if (argc == 2) {
            resp_add_map(b, (int64_t)n);
            for (size_t i = 0; i < n; i++)
                command_docs(b, all[i]);
            return;
        }
        size_t mark = resp_add_deferred(b);
        int64_t k = 0;
        for (int i = 2; i < argc; i++) {
            cmdref r = lookup(argv[i], lens[i]);
            if (r.s || r.k) {
                command_docs(b, r);
                k++;
            } else if (implemented_sub(argv[i], lens[i]) && cmdinfo_docs(b, argv[i], lens[i])) {
                k++;
            }
        }
        resp_set_deferred_map(b, mark, k);
    } else if (!strcasecmp(sub, "list") && argc == 2) {
        resp_add_array(b, (int64_t)n);
        for (size_t i = 0; i < n; i++)
            resp_add_bulk_str(b, ref_name(all[i]));
    } else if (!strcasecmp(sub, "getkeys") && argc < 4) {
        resp_add_error(b, "ERR wrong number of arguments for 'command|getkeys' command");
    } else if (!strcasecmp(sub, "getkeys")) {
        cmdref r = lookup(argv[2], lens[2]);
        if (!r.k) {
            resp_add_error(b, r.s ? "ERR The command has no key arguments"
                                  : "ERR Invalid command specified");
            return;
        }
        int cargc = argc - 2;
        char **cargv = argv + 2;
        int ar = r.k->arity;
        if ((ar > 0 && cargc != ar) || (ar < 0 && cargc < -ar)) {
            resp_add_error(b, "ERR Invalid number of arguments specified for command");
            return;
        }
        int pos[256];
        int k = kv_command_keys(r.k, cargc, cargv, lens + 2, pos, 256);
        if (k > 256) k = 256;
        resp_add_array(b, k);
        for (int i = 0; i < k; i++)
            resp_add_bulk(b, cargv[pos[i]], lens[pos[i] + 2]);
    } else {
        resp_add_errorf(b, "ERR unknown subcommand \'%.128s\'. Try COMMAND HELP.", sub);
    }
}

/* A cluster-wide setting's CONFIG SET: the internal entry av (n words) that
 * sets it, proposed here on the leader; a follower in proxy mode forwards
 * the CONFIG SET itself (redirect mode answers -MOVED in write_propose). */
static void propose_setting(client *c, int argc, char **argv, size_t *lens, int n, char **av,
                            size_t *al)
{
    if (should_proxy(c)) {
        proxy_forward(c, argc, argv, lens);
        if (c->tail && c->tail->state == SLOT_PROXY) c->tail->settle = 1;
        return;
    }
    write_propose(c, n, av, al, 0);
}

/* CONFIG SET: node settings change here; notify-keyspace-events is
 * cluster-wide state (storage/kvstate.h), so once the classes parse it is a
 * write: RAFT.NOTIFYCONF proposed by the leader, the CONFIG SET itself
 * forwarded by a follower in proxy mode, -MOVED in redirect mode. */
static void config_set_cmd(client *c, int argc, char **argv, size_t *lens)
{
    resp_buf *b = client_reply_buf(c);
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcasecmp(argv[i], "requirepass")) continue;
        /* The default user's password: cluster-wide (acl.h). */
        if (argc != 4) {
            resp_add_errorf(b,
                            "ERR CONFIG SET failed (possibly related to argument '%s') - "
                            "requirepass is cluster-wide: set it alone",
                            argv[i]);
            return;
        }
        if (should_proxy(c) || driver_is_leader()) { /* what this node's CONFIG GET answers */
            char *pw = malloc(lens[3] + 1);
            if (!pw) {
                serverLog(LL_WARNING, "Out of memory");
                exit(1);
            }
            memcpy(pw, argv[3], lens[3]);
            pw[lens[3]] = '\0';
            free(cfg.requirepass);
            cfg.requirepass = pw;
        }
        char **av;
        size_t *al;
        int n;
        acl_requirepass_argv(argv[3], lens[3], &av, &al, &n);
        propose_setting(c, argc, argv, lens, n, av, al);
        acl_free_argv(av, al, n);
        return;
    }
    long long sv;
    int which = config_set_script(b, argc - 2, argv + 2, lens + 2, &sv);
    if (which == -2) return;
    if (which >= 0) {
        char num[24];
        int n = snprintf(num, sizeof(num), "%lld", sv);
        char *av[3] = {"raft.scriptconf", which ? "max-memory" : "budget", num};
        size_t al[3] = {15, which ? 10u : 6u, (size_t)n};
        propose_setting(c, argc, argv, lens, 3, av, al);
        return;
    }
    kv_memconf m;
    int mrc = config_set_memconf(b, argc - 2, argv + 2, lens + 2, &m);
    if (mrc == -2) return;
    if (mrc == 0) {
        /* maxmemory & co.: one RAFT.MEMCONF entry (storage/kvevict.c). */
        char f[5][24];
        char *av[6] = {"raft.memconf", f[0], f[1], f[2], f[3], f[4]};
        size_t al[6] = {12};
        al[1] = (size_t)snprintf(f[0], 24, "%llu", (unsigned long long)m.maxmemory);
        al[2] = (size_t)snprintf(f[1], 24, "%s", kv_policy_name(m.policy));
        al[3] = (size_t)snprintf(f[2], 24, "%d", m.samples);
        al[4] = (size_t)snprintf(f[3], 24, "%d", m.lfu_log_factor);
        al[5] = (size_t)snprintf(f[4], 24, "%d", m.lfu_decay_time);
        propose_setting(c, argc, argv, lens, 6, av, al);
        return;
    }
    int flags = config_set_notify(b, argc - 2, argv + 2, lens + 2);
    if (flags == -1) {
        config_set_reply(b, argc - 2, argv + 2, lens + 2);
        return;
    }
    if (flags < 0) return; /* refused: the error is in b */
    char num[16];
    int n = snprintf(num, sizeof(num), "%d", flags);
    char *av[2] = {"raft.notifyconf", num};
    size_t al[2] = {15, (size_t)n};
    propose_setting(c, argc, argv, lens, 2, av, al);
}

PROC(config_cmd)
{
    resp_buf *b = client_reply_buf(c);
    const char *sub = argv[1];
    if (!strcasecmp(sub, "get") && argc >= 3) {
        config_get_reply(b, argc - 2, argv + 2);
    } else if (!strcasecmp(sub, "set") && argc >= 4) {
        config_set_cmd(c, argc, argv, lens);
    } else if (!strcasecmp(sub, "resetstat") && argc == 2) {
        memset(&srv.stats, 0, sizeof(srv.stats));
        info_reset_stats();
        loopstat_reset();
        resp_add_ok(b);
    } else if (!strcasecmp(sub, "rewrite") && argc == 2) {
        config_rewrite_reply(b);
    } else if (!strcasecmp(sub, "get") || !strcasecmp(sub, "set") || !strcasecmp(sub, "rewrite")) {
        resp_add_errorf(b, "ERR wrong number of arguments for 'config|%s' command",
                        !strcasecmp(sub, "get")   ? "get"
                        : !strcasecmp(sub, "set") ? "set"
                                                  : "rewrite");
    } else {
        resp_add_errorf(b, "ERR unknown subcommand \'%.128s\'. Try CONFIG HELP.", sub);
    }
}

PROC(info_cmd)
{
    (void)lens;
    info_reply(c, client_reply_buf(c), argc, argv);
}

PROC(role_cmd)
{
    (void)argc, (void)argv, (void)lens;
    info_role_reply(c, client_reply_buf(c));
}

/* --------------------------------------------------------- MULTI/EXEC */

/* A queued command is denyoom (Redis's mstate.cmd_flags & CMD_DENYOOM). */
static int multi_denyoom(client *c)
{
    for (int i = 0; i < c->mq_len; i++) {
        const kv_command *k = kv_command_lookup(c->mq[i].argv[0], c->mq[i].argvlen[0]);
        if (k && (k->flags & KV_CMD_DENYOOM)) return 1;
    }
    return 0;
}

static void multi_clear(client *c)
{
    for (int i = 0; i < c->mq_len; i++)
        free(c->mq[i].argv);
    c->mq_len = 0;
    c->flags &= ~(CF_MULTI | CF_DIRTY_EXEC);
}

PROC(multi_cmd)
{
    (void)argc, (void)argv, (void)lens;
    if (c->flags & CF_MULTI) {
        resp_add_error(client_reply_buf(c), "ERR MULTI calls can not be nested");
        return;
    }
    c->flags |= CF_MULTI;
    resp_add_ok(client_reply_buf(c));
}

PROC(watch_cmd)
{
    watch_command(c, argc, argv, lens);
}

PROC(unwatch_cmd)
{
    (void)argc, (void)argv, (void)lens;
    watch_clear(c);
    resp_add_ok(client_reply_buf(c));
}

PROC(discard_cmd)
{
    (void)argc, (void)argv, (void)lens;
    if (!(c->flags & CF_MULTI)) {
        resp_add_error(client_reply_buf(c), "ERR DISCARD without MULTI");
        return;
    }
    multi_clear(c);
    watch_clear(c);
    resp_add_ok(client_reply_buf(c));
}

PROC(exec_cmd)
{
    (void)argc, (void)argv, (void)lens;
    if (!(c->flags & CF_MULTI)) {
        resp_add_error(client_reply_buf(c), "ERR EXEC without MULTI");
        return;
    }
    if (c->flags & CF_DIRTY_EXEC) {
        multi_clear(c);
        watch_clear(c);
        resp_add_error(client_reply_buf(c),
                       "EXECABORT Transaction discarded because of previous errors.");
        return;
    }
    if (c->mq_len == 0 && !watch_count(c)) {
        multi_clear(c);
        resp_add_array(client_reply_buf(c), 0);
        return;
    }
    if (multi_denyoom(c) && (kvstate_oom_refuses(srv.state) || over_high_water())) {
        /* Redis's EXEC of denyoom commands above maxmemory. Decided here,
         * before the log, as Redis decides before EXEC runs; should the
         * state cross maxmemory between this and the apply, the apply's
         * -OOM answers each denyoom command inside EXEC's reply instead. */
        multi_clear(c);
        watch_clear(c);
        resp_add_error(client_reply_buf(c), "EXECABORT Transaction discarded because of: " OOM_MSG);
        return;
    }
    acl_recheck_queued(c);
    diag_monitor_queued(c); /* as the client sent them (an ACL GENPASS, not its answer) */
    acl_resolve_queued(c);
    watch_seal(c); /* the apply decides whether a watched key changed */
    if (should_proxy(c))
        proxy_forward_multi(c);
    else
        write_propose_multi(c);
    c->db = multi_final_db(c);
    multi_clear(c);
}

/* ---------------------------------------------------------- server */

PROC(shutdown_cmd)
{
    (void)lens;
    for (int i = 1; i < argc; i++) {
        if (strcasecmp(argv[i], "nosave") && strcasecmp(argv[i], "save") &&
            strcasecmp(argv[i], "now") && strcasecmp(argv[i], "force") &&
            strcasecmp(argv[i], "abort")) {
            resp_add_error(client_reply_buf(c), "ERR syntax error");
            return;
        }
        if (!strcasecmp(argv[i], "abort")) {
            resp_add_error(client_reply_buf(c), "ERR No shutdown in progress.");
            return;
        }
    }
    serverLog(LL_WARNING, "User requested shutdown...");
    srv.shutdown_asap = 1;
    c->flags |= CF_CLOSE_AFTER_REPLY;
}

PROC(time_cmd)
{
    (void)argc, (void)argv, (void)lens;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    resp_buf *b = client_reply_buf(c);
    resp_add_array(b, 2);
    resp_add_bulk_int(b, (int64_t)tv.tv_sec);
    resp_add_bulk_int(b, (int64_t)tv.tv_usec);
}

PROC(save_cmd)
{
    (void)lens;
    backup_command(c, argc, argv);
}

PROC(lastsave_cmd)
{
    (void)argc, (void)argv, (void)lens;
    resp_add_int(client_reply_buf(c), backup_lastsave());
}

/* ---------------------------------------------------------- peers */

/* The peer handshake, answering side (peerauth.h). Whatever was wrong, the
 * client hears one error and the connection closes; why goes to the log
 * at verbose level, and the failure counts against the remote address. */
/* count: whether the refusal counts towards blocking the address. An id
 * that is not a member (yet: a node started with 'join yes' retries until
 * it is added) guesses nothing, and must not get a whole host blocked. */
static void hello_refuse_counted(client *c, const char *host, const char *why, int count)
{
    if (why) {
        serverLog(LL_VERBOSE, "Refused a peer handshake from %s: %s", c->addr, why);
        if (count && peerauth_note_failure(host, mono_us() / 1000))
            serverLog(LL_WARNING,
                      "%d failed peer handshakes from %s: refusing its handshakes for %d s",
                      PEERAUTH_MAX_FAILURES, host, PEERAUTH_BLOCK_MS / 1000);
    }
    free(c->hello);
    c->hello = NULL;
    resp_add_error(client_reply_buf(c), PEERAUTH_REFUSED);
    c->flags |= CF_CLOSE_AFTER_REPLY;
}

static void hello_refuse(client *c, const char *host, const char *why)
{
    hello_refuse_counted(c, host, why, 1);
}

static void client_host(const client *c, char *host, size_t n)
{
    snprintf(host, n, "%s", c->addr);
    char *colon = strrchr(host, ':');
    if (colon) *colon = '\0';
}

/* Fills host with the connection's address; an address blocked for failed
 * handshakes is refused (and the connection closed) before anything is
 * checked or computed: returns 1 then. */
static int handshake_blocked(client *c, char *host, size_t n)
{
    client_host(c, host, n);
    if (!peerauth_blocked(host, mono_us() / 1000)) return 0;
    hello_refuse(c, host, NULL);
    return 1;
}

/* RAFT.HELLO <cluster-id> <node-id> <client-nonce> [<host:port>]: answers
 * this node's id, a fresh nonce and this node's proof; the connection is a
 * peer only after RAFT.AUTH. An address blocked for failed handshakes is
 * refused before anything is checked or computed. With tls-cluster, only a
 * TLS connection whose certificate verified against the CA may begin
 * (mutual TLS, then the secret). host:port is where the connecting node
 * is reached (the 4-word form is an older version's): a node waiting to be
 * added ('join yes') answers it there once RAFT.AUTH proved the secret;
 * members ignore it (their address book decides). */
PROC(raft_hello_cmd)
{
    if (argc > 5) { /* as the fixed arity of an older version answers */
        resp_add_error(client_reply_buf(c),
                       "ERR wrong number of arguments for 'raft.hello' command");
        return;
    }
    char host[64];
    if (handshake_blocked(c, host, sizeof(host))) return;
    uint64_t id = 0;
    char ahost[ADDRBOOK_HOST_MAX + 1] = "";
    int aport = 0;
    const char *why = NULL;
    if (c->peer_id)
        why = "the connection is a peer already";
    else if (cfg.tls_cluster && !tls_peer_verified(c->ssl))
        why = "tls-cluster yes: not a TLS connection with a verified certificate";
    else if (!cfg.cluster_secret[0] || !cfg.cluster[0])
        why = "this node has no peers";
    else if (lens[1] != strlen(cfg.cluster_id) || memcmp(argv[1], cfg.cluster_id, lens[1]))
        why = "wrong cluster id";
    else if (peerauth_parse_id(argv[2], lens[2], &id))
        why = "malformed node id";
    else if (!peerauth_is_hex(argv[3], lens[3]))
        why = "malformed nonce";
    else if (argc == 5 && addrbook_parse_addr(argv[4], lens[4], ahost, &aport))
        why = "malformed address";
    if (why) {
        hello_refuse(c, host, why);
        return;
    }
    if (!driver_peer_accepted(id)) {
        hello_refuse_counted(c, host, "not a member's node id", 0);
        return;
    }
    peer_hello *h = c->hello ? c->hello : malloc(sizeof(*h));
    if (!h) {
        serverLog(LL_WARNING, "Out of memory answering a peer handshake");
        exit(1);
    }
    c->hello = h;
    h->id = id;
    memcpy(h->client_nonce, argv[3], PEERAUTH_HEX_LEN + 1);
    memcpy(h->host, ahost, sizeof(ahost));
    h->port = aport;
    char proof[PEERAUTH_HEX_LEN + 1];
    uint64_t self = (uint64_t)cfg.node_id;
    if (peerauth_nonce(h->server_nonce) != 0 ||
        peerauth_proof(cfg.cluster_secret, strlen(cfg.cluster_secret), PEERAUTH_SERVER,
                       cfg.cluster_id, id, self, h->client_nonce, h->server_nonce, proof) != 0) {
        serverLog(LL_WARNING, "Peer handshake from %s: no randomness or HMAC failed", c->addr);
        free(c->hello);
        c->hello = NULL;
        resp_add_error(client_reply_buf(c), PEERAUTH_REFUSED);
        c->flags |= CF_CLOSE_AFTER_REPLY;
        return;
    }
    resp_buf *b = client_reply_buf(c);
    resp_add_array(b, 3);
    resp_add_int(b, (int64_t)self);
    resp_add_bulk(b, h->server_nonce, PEERAUTH_HEX_LEN);
    resp_add_bulk(b, proof, PEERAUTH_HEX_LEN);
}

/* RAFT.AUTH <client-proof>: the connecting node's proof over both nonces;
 * right, and the connection is the peer its hello named. */
PROC(raft_auth_cmd)
{
    (void)argc;
    char host[64];
    if (handshake_blocked(c, host, sizeof(host))) return;
    peer_hello *h = c->hello;
    if (!h || c->peer_id) {
        hello_refuse(c, host, "RAFT.AUTH without RAFT.HELLO");
        return;
    }
    if (!peerauth_verify(cfg.cluster_secret, strlen(cfg.cluster_secret), PEERAUTH_CLIENT,
                         cfg.cluster_id, h->id, (uint64_t)cfg.node_id, h->client_nonce,
                         h->server_nonce, argv[1], lens[1])) {
        hello_refuse(c, host, "wrong proof");
        return;
    }
    uint64_t id = h->id;
    if (h->port) driver_peer_addr(id, h->host, h->port);
    free(c->hello);
    c->hello = NULL;
    peerauth_note_success(host);
    srv.npeer_clients++;
    c->peer_id = id;
    c->gate = 0;
    c->authenticated = 1;
    resp_parser_set_unauthenticated(c->parser, 0);
    /* A peer's commands are bounded by the cluster's limits, never by this
     * node's own proto-max-bulk-len (server/limits.h). */
    resp_limits lim;
    resp_limits_default(&lim);
    lim.max_bulk_len = RAFTKV_PEER_MAX_BULK;
    lim.max_multibulk_len = RAFTKV_PEER_MAX_ARGS;
    resp_parser_set_limits(c->parser, &lim);
    serverLog(LL_VERBOSE, "Peer node %llu connected from %s", (unsigned long long)id, c->addr);
    resp_add_ok(client_reply_buf(c));
}

/* Steps each message of a RAFT.MSG / RAFT.MSGQ into the node; 0 unless the
 * connection has no valid hello (then answered and closed). */
static int step_peer_messages(client *c, const char *name, int argc, char **argv, size_t *lens)
{
    if (!c->peer_id) {
        resp_add_errorf(client_reply_buf(c), "ERR %s needs a RAFT.HELLO first", name);
        c->flags |= CF_CLOSE_AFTER_REPLY;
        return -1;
    }
    for (int i = 1; i < argc; i++)
        driver_step(c->peer_id, argv[i], lens[i]);
    return 0;
}

PROC(raft_msg_cmd)
{
    if (step_peer_messages(c, "RAFT.MSG", argc, argv, lens) == 0) resp_add_ok(client_reply_buf(c));
}

/* RAFT.MSGQ: RAFT.MSG without the reply; the sender asks for one now and
 * then to know the peer is alive (transport.c). Errors still answer. */
PROC(raft_msgq_cmd)
{
    step_peer_messages(c, "RAFT.MSGQ", argc, argv, lens);
}

PROC(raft_snap_cmd)
{
    snapshot_receive(c, argc, argv, lens);
}

typedef struct proxy_saved {
    int proto, db;
} proxy_saved;

/* RAFT.PROXY <proto> <argv...>: a follower's client command, run here as if
 * the client were connected, its reply encoded in the client's protocol and
 * sent back as one bulk string (DESIGN.md "Followers"). */
static int proxy_begin(client *c, const char *arg, size_t len, proxy_saved *saved)
{
    if (!c->peer_id) {
        resp_add_error(client_reply_buf(c), "ERR RAFT.PROXY needs a RAFT.HELLO first");
        c->flags |= CF_CLOSE_AFTER_REPLY;
        return -1;
    }
    /* The follower's client's protocol, database and user (proxyarg.h);
     * restored by proxy_end(). */
    proxyarg pa;
    int bad = proxyarg_parse(arg, len, &pa);
    saved->proto = c->proto;
    saved->db = c->db;
    c->proto = pa.proto;
    c->db = 0;
    /* The form without a user is an older follower's (rolling upgrade). Its
     * command runs as default, checked like a client of default's (the
     * only user there can be while no other exists); once other users
     * exist it is refused, since the leader cannot know which user the
     * follower's client is. Only a peer gets here at all (RAFT.HELLO and
     * the cluster secret, and the certificate with tls-cluster), so the
     * form is no way around ACLs for anyone who is not a node. */
    int anonymous = !bad && !pa.user && acl_users_besides_default();
    if (bad || anonymous || pa.db < 0 || pa.db >= cfg.databases) {
        /* answered as a forwarded command */
        resp_add_error(&client_new_slot(c, SLOT_DONE)->out,
                       bad         ? "ERR malformed RAFT.PROXY"
                       : anonymous ? "NOPERM this follower does not name the user of its client "
                                     "(an older version) and ACL users other than default "
                                     "exist: upgrade it"
                                   : "ERR DB index is out of range");
        c->tail->wrap = 1;
        c->force_slot = 0;
        c->proto = saved->proto;
        c->db = saved->db;
        return -1;
    }
    c->db = pa.db;
    /* checked as that user (or default, above), against this node's users */
    c->user = pa.user ? acl_proxied_user(pa.user, pa.ulen) : acl_default_user();
    c->as_user = 1;
    c->force_slot = 1;
    return 0;
}

static void proxy_end(client *c, slot *before, const proxy_saved *saved)
{
    c->force_slot = 0;
    if (c->tail == before) /* nothing replied: should not happen, answer anyway */
        resp_add_error(&client_new_slot(c, SLOT_DONE)->out, "ERR no reply");
    c->tail->wrap = 1;
    c->proto = saved->proto;
    c->db = saved->db;
    /* A peer's own user is default (it never authenticates as a user);
     * not the saved pointer, which an ACL change would have freed. */
    c->user = acl_default_user();
    c->as_user = 0;
}

PROC(raft_proxy_cmd)
{
    proxy_saved saved;
    slot *before = c->tail;
    if (proxy_begin(c, argv[1], lens[1], &saved)) return;
    diag_proxy_origin(argv[1], lens[1]);
    dispatch(c, argc - 2, argv + 2, lens + 2);
    diag_proxy_origin(NULL, 0);
    proxy_end(c, before, &saved);
}

/* RAFT.PROXYEXEC <proto> <count> then count x (<argc> <arg>...): a
 * follower's MULTI...EXEC, queued there, run here as one entry. */
PROC(raft_proxyexec_cmd)
{
    proxy_saved saved;
    slot *before = c->tail;
    if (proxy_begin(c, argv[1], lens[1], &saved)) return;
    long count = strtol(argv[2], NULL, 10);
    int i = 3, ok = count > 0;
    for (long k = 0; ok && k < count; k++) {
        long n = i < argc ? strtol(argv[i], NULL, 10) : 0;
        if (n <= 0 || n > argc - i - 1) {
            ok = 0;
            break;
        }
        multi_queue(c, (int)n, argv + i + 1, lens + i + 1);
        i += (int)n + 1;
    }
    if (!ok || i != argc) {
        resp_add_error(client_reply_buf(c), "ERR malformed RAFT.PROXYEXEC");
    } else {
        acl_recheck_queued(c);
        acl_resolve_queued(c);
        diag_proxy_origin(argv[1], lens[1]);
        diag_monitor_queued(c);
        diag_proxy_origin(NULL, 0);
        write_propose_multi(c);
    }
    multi_clear(c);
    proxy_end(c, before, &saved);
}

PROC(readonly_cmd)
{
    (void)argc, (void)lens;
    c->readonly = !strcasecmp(argv[0], "readonly");
    resp_add_ok(client_reply_buf(c));
}

PROC(cluster_cmd)
{
    cluster_command(c, argc, argv, lens);
}

PROC(raft_members_cmd)
{
    membership_members_command(c, argc, argv, lens);
}

PROC(raft_transfer_cmd)
{
    membership_transfer_command(c, argc, argv, lens);
}

PROC(raft_addnode_cmd)
{
    membership_addnode_command(c, argc, argv, lens);
}

PROC(raft_promote_cmd)
{
    membership_promote_command(c, argc, argv, lens);
}

PROC(raft_removenode_cmd)
{
    membership_removenode_command(c, argc, argv, lens);
}

PROC(raft_replacenode_cmd)
{
    membership_replacenode_command(c, argc, argv, lens);
}

/* ----------------------------------------------------- diagnostics */

PROC(slowlog_cmd)
{
    diag_slowlog_command(c, argc, argv, lens);
}

PROC(latency_cmd)
{
    diag_latency_command(c, argc, argv, lens);
}

PROC(monitor_cmd)
{
    diag_monitor_command(c, argc, argv, lens);
}

PROC(migrate_cmd)
{
    migrate_command(c, argc, argv, lens);
}

/* ACL: SETUSER, DELUSER and LOAD change the cluster's users, so they are
 * writes: RAFT.ACL proposed by the leader, the ACL command itself
 * forwarded by a follower in proxy mode (acl.h). */
PROC(acl_cmd)
{
    char **av;
    size_t *al;
    int n;
    if (!acl_command(c, argc, argv, lens, &av, &al, &n)) return;
    if (should_proxy(c))
        proxy_forward(c, argc, argv, lens);
    else
        write_propose(c, n, av, al, 0);
    acl_free_argv(av, al, n);
}
