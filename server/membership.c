/* membership.c -- the membership commands: RAFT.MEMBERS (who is in the
 * configuration in force, with its role), RAFT.TRANSFER (leadership to a
 * named voter), CLUSTER FAILOVER (on the follower that should lead), and
 * the membership lines of INFO raft, and the changes: RAFT.ADDNODE (a new
 * node joins as a learner), RAFT.PROMOTE (a learner becomes a voter),
 * RAFT.REMOVENODE. The rules live in raft/ (raft.h "membership"); the
 * driver proposes a change with the cluster's address book (addrbook.h)
 * and answers the client when it applies; this file checks the arguments
 * and words the errors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "raft/raft.h"
#include "server/acl.h"
#include "server/addrbook.h"
#include "server/log.h"
#include "server/server.h"

/* A node id as the commands take it: a positive decimal integer. */
static int parse_id(const char *s, size_t len, uint64_t *id)
{
    if (len == 0 || len > 19) return -1;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9') return -1;
    errno = 0;
    unsigned long long v = strtoull(s, NULL, 10);
    if (errno || v == 0) return -1;
    *id = (uint64_t)v;
    return 0;
}

/* RAFT.* commands have no ACL entry (peers are not users): these admin
 * commands are for unrestricted users only, as Redis's @admin would be. */
static int denied(client *c, const char *name)
{
    if (c->peer_id || acl_user_unrestricted(c->user)) return 0;
    resp_add_errorf(client_reply_buf(c),
                    "NOPERM this user has no permissions to run the '%s' command", name);
    return 1;
}

/* The error for a refused transfer, as the client sees it. */
static void transfer_error(resp_buf *b, int rc, uint64_t id)
{
    switch (rc) {
    case RAFT_EUNKNOWNPEER:
        resp_add_errorf(b, "ERR node %llu is not a member of the cluster", (unsigned long long)id);
        break;
    case RAFT_ELEARNER:
        resp_add_errorf(b, "ERR node %llu is a learner and cannot lead", (unsigned long long)id);
        break;
    case RAFT_EDROPPED:
        resp_add_error(b, "CLUSTERDOWN no leader is known to forward the transfer to");
        break;
    default:
        resp_add_errorf(b, "ERR leadership transfer failed: %s", raft_strerror(rc));
        break;
    }
}

/* RAFT.TRANSFER id: asks the leader (forwarded by a follower) to hand
 * leadership to voter id (thesis §3.10). +OK once asked: the transfer
 * completes or is abandoned within an election timeout (INFO raft,
 * RAFT.MEMBERS show the outcome). On the leader naming itself: +OK. */
void membership_transfer_command(client *c, int argc, char **argv, size_t *lens)
{
    (void)argc;
    if (denied(c, "raft.transfer")) return;
    resp_buf *b = client_reply_buf(c);
    uint64_t id;
    if (parse_id(argv[1], lens[1], &id)) {
        resp_add_errorf(b, "ERR invalid node id '%.64s'", argv[1]);
        return;
    }
    int rc = raft_transfer_leader(driver_raft(), id);
    if (rc) {
        transfer_error(b, rc, id);
        return;
    }
    serverLog(LL_NOTICE, "Leadership transfer to node %llu requested by a client",
              (unsigned long long)id);
    resp_add_ok(b);
}

/* CLUSTER FAILOVER [FORCE|TAKEOVER] on a follower: it asks to lead. FORCE
 * is the same (the leader brings it up to date first either way);
 * TAKEOVER starts an election at once, without the leader's agreement
 * (PreVote still applies). */
void membership_failover_command(client *c, int argc, char **argv)
{
    resp_buf *b = client_reply_buf(c);
    int takeover = 0;
    if (argc == 3 && !strcasecmp(argv[2], "takeover"))
        takeover = 1;
    else if (argc == 3 && strcasecmp(argv[2], "force")) {
        resp_add_error(b, "ERR syntax error");
        return;
    } else if (argc > 3) {
        resp_add_error(b, "ERR wrong number of arguments for 'cluster|failover' command");
        return;
    }
    if (driver_is_leader()) {
        resp_add_error(b, "ERR You should send CLUSTER FAILOVER to a replica");
        return;
    }
    raft_node *node = driver_raft();
    uint64_t self = (uint64_t)cfg.node_id;
    raft_conf k;
    raft_get_conf(node, &k, NULL);
    if (raft_conf_role(&k, self) == 2) {
        resp_add_error(b, "ERR this node is a learner and cannot lead");
        return;
    }
    int rc = takeover ? raft_campaign(node) : raft_transfer_leader(node, self);
    if (rc) {
        transfer_error(b, rc, self);
        return;
    }
    serverLog(LL_NOTICE, "CLUSTER FAILOVER%s: asking to lead", takeover ? " TAKEOVER" : "");
    resp_add_ok(b);
}

/* The address of member id from the 'cluster' setting ("" when unknown). */
static void member_addr(uint64_t id, char *out, size_t n)
{
    uint64_t mid;
    const char *host;
    int port;
    out[0] = '\0';
    for (size_t i = 0; driver_member(i, &mid, &host, &port) == 0; i++)
        if (mid == id && host[0]) {
            snprintf(out, n, "%s:%d", host, port);
            return;
        }
}

/* RAFT.MEMBERS: one entry per member of the configuration in force, voters
 * first: [id, address, "voter"|"learner", "leader"|"follower", match]
 * where match is the leader's view of its log (-1 off the leader). */
void membership_members_command(client *c, int argc, char **argv, size_t *lens)
{
    (void)argc, (void)argv, (void)lens;
    if (denied(c, "raft.members")) return;
    resp_buf *b = client_reply_buf(c);
    raft_node *node = driver_raft();
    raft_conf k;
    raft_get_conf(node, &k, NULL);
    uint64_t lead = driver_leader_id();
    resp_add_array(b, k.n_voters + k.n_learners);
    for (uint32_t i = 0; i < k.n_voters + k.n_learners; i++) {
        int learner = i >= k.n_voters;
        uint64_t id = learner ? k.learners[i - k.n_voters] : k.voters[i];
        char addr[300];
        member_addr(id, addr, sizeof addr);
        int64_t match = -1;
        raft_peer_progress pp;
        for (uint32_t j = 0; raft_get_progress(node, j, &pp) == 0; j++)
            if (pp.id == id) match = (int64_t)pp.match;
        resp_add_array(b, 5);
        resp_add_int(b, (int64_t)id);
        resp_add_bulk_str(b, addr);
        resp_add_bulk_str(b, learner ? "learner" : "voter");
        resp_add_bulk_str(b, id == lead ? "leader" : "follower");
        resp_add_int(b, match);
    }
}

/* INFO raft's membership lines. */
size_t membership_info(char *buf, size_t n)
{
    raft_node *node = driver_raft();
    raft_conf k;
    uint64_t ci;
    raft_get_conf(node, &k, &ci);
    raft_status st;
    raft_get_status(node, &st);
    char voters[RAFT_MAX_VOTERS * 21 + 1] = "", learners[RAFT_MAX_LEARNERS * 21 + 1] = "";
    for (uint32_t i = 0; i < k.n_voters; i++) {
        size_t l = strlen(voters);
        snprintf(voters + l, sizeof voters - l, "%s%llu", i ? "," : "",
                 (unsigned long long)k.voters[i]);
    }
    for (uint32_t i = 0; i < k.n_learners; i++) {
        size_t l = strlen(learners);
        snprintf(learners + l, sizeof learners - l, "%s%llu", i ? "," : "",
                 (unsigned long long)k.learners[i]);
    }
    uint64_t pending = st.role == RAFT_LEADER && st.pending_conf > st.applied ? st.pending_conf : 0;
    int w = snprintf(buf, n,
                     "raft_voters:%s\r\nraft_learners:%s\r\nraft_member:%s\r\n"
                     "raft_conf_index:%llu\r\nraft_pending_conf_index:%llu\r\n"
                     "raft_transfer_target:%llu\r\nraft_cluster_id:%s\r\n",
                     voters, learners,
                     st.member == 1   ? "voter"
                     : st.member == 2 ? "learner"
                                      : "none",
                     (unsigned long long)ci, (unsigned long long)pending,
                     (unsigned long long)st.transferee, cfg.cluster_id ? cfg.cluster_id : "");
    return w < 0 ? 0 : (size_t)w < n ? (size_t)w : n - 1;
}

/* ------------------------------------------------------------- changes */

static const char *op_name(int op)
{
    return op == RAFT_CONF_ADD_LEARNER ? "raft.addnode"
           : op == RAFT_CONF_ADD_VOTER ? "raft.promote"
                                       : "raft.removenode";
}

/* What the leader knows to refuse, in words; 0 when the change may go. */
static int refuse_change(resp_buf *b, int op, uint64_t id)
{
    raft_conf k;
    raft_get_conf(driver_raft(), &k, NULL);
    int role = raft_conf_role(&k, id);
    unsigned long long u = (unsigned long long)id;
    if (op == RAFT_CONF_ADD_LEARNER) {
        if (role) {
            resp_add_errorf(b, "ERR node %llu is already a member of the cluster", u);
            return 1;
        }
        uint64_t mx = driver_max_node_id();
        if (id <= mx) {
            resp_add_errorf(b,
                            "ERR node id %llu was used before in this cluster: ids are never "
                            "reused (pick one above %llu)",
                            u, (unsigned long long)mx);
            return 1;
        }
        if (k.n_learners >= RAFT_MAX_LEARNERS) {
            resp_add_errorf(b, "ERR the cluster has the most learners it can have (%d)",
                            RAFT_MAX_LEARNERS);
            return 1;
        }
        return 0;
    }
    if (!role) {
        resp_add_errorf(b, "ERR node %llu is not a member of the cluster", u);
        return 1;
    }
    if (op == RAFT_CONF_ADD_VOTER && role == 1) {
        resp_add_errorf(b, "ERR node %llu is already a voter", u);
        return 1;
    }
    if (op == RAFT_CONF_ADD_VOTER && k.n_voters >= RAFT_MAX_VOTERS) {
        resp_add_errorf(b, "ERR the cluster has the most voters it can have (%d)", RAFT_MAX_VOTERS);
        return 1;
    }
    if (op == RAFT_CONF_REMOVE && role == 1 && k.n_voters == 1) {
        resp_add_errorf(b, "ERR node %llu is the last voter and cannot be removed", u);
        return 1;
    }
    return 0;
}

/* A refused change's error, in words (into buf when it needs formatting). */
static const char *change_error_text(int rc, char *buf, size_t n)
{
    switch (rc) {
    case RAFT_ECONFPENDING:
        return "TRYAGAIN a membership change is already in progress";
    case RAFT_ENOTREADY:
        return "TRYAGAIN the leader has not committed an entry of its term yet";
    case RAFT_ETRANSFER:
        return "TRYAGAIN leadership transfer in progress";
    case RAFT_ENOMEM:
        return "OOM command not allowed when used memory > 'maxmemory'.";
    case RAFT_ECONF:
        return "ERR invalid membership change";
    default:
        snprintf(buf, n, "ERR membership change failed: %s", raft_strerror(rc));
        return buf;
    }
}

static void change_error(resp_buf *b, int rc)
{
    char t[160];
    resp_add_error(b, change_error_text(rc, t, sizeof t));
}

/* Checked here, then forwarded by a follower in proxy mode like a write
 * (the leader answers once the change applied), else proposed; a
 * follower in redirect mode answers -MOVED. */
static void change(client *c, int op, uint64_t id, const char *host, int port, int argc,
                   char **argv, size_t *lens)
{
    resp_buf *b = client_reply_buf(c);
    if (command_proxy_to_leader(c, argc, argv, lens)) return;
    if (driver_is_leader() && refuse_change(b, op, id)) return;
    const char *err = NULL;
    int rc = driver_propose_conf(c, op, id, host, port, &err);
    if (rc == 1)
        resp_add_error(b, err);
    else if (rc)
        change_error(b, rc);
}

/* The id argument of a change; 0 after answering an error. */
static uint64_t change_id(client *c, int op, char **argv, size_t *lens)
{
    if (denied(c, op_name(op))) return 0;
    uint64_t id;
    if (parse_id(argv[1], lens[1], &id)) {
        resp_add_errorf(client_reply_buf(c), "ERR invalid node id '%.64s'", argv[1]);
        return 0;
    }
    return id;
}

/* host:port as RAFT.ADDNODE takes it, into host; the port, or 0 after
 * answering an error. */
static int parse_addr(client *c, const char *a, size_t alen, char *host)
{
    const char *colon = memrchr(a, ':', alen);
    size_t hl = colon ? (size_t)(colon - a) : 0;
    long port = 0;
    if (colon && hl > 0 && hl <= ADDRBOOK_HOST_MAX && !memchr(a, '\0', alen)) {
        memcpy(host, a, hl);
        host[hl] = '\0';
        char *end;
        errno = 0;
        port = strtol(colon + 1, &end, 10);
        if (errno || *end || end == colon + 1 || colon[1] == '0' || !addrbook_host_ok(host))
            port = 0;
    }
    if (port < 1 || port > 65535) {
        resp_add_errorf(client_reply_buf(c), "ERR invalid address '%.300s' (want host:port)", a);
        return 0;
    }
    return (int)port;
}

/* RAFT.ADDNODE id host:port [LEARNER]: adds a new node (started with
 * 'join yes') as a learner: it gets the log and serves READONLY reads but
 * neither votes nor counts; RAFT.PROMOTE makes it a voter. +OK once the
 * change applied on the leader. */
void membership_addnode_command(client *c, int argc, char **argv, size_t *lens)
{
    resp_buf *b = client_reply_buf(c);
    uint64_t id = change_id(c, RAFT_CONF_ADD_LEARNER, argv, lens);
    if (!id) return;
    if (argc > 4 || (argc == 4 && strcasecmp(argv[3], "learner"))) {
        resp_add_error(b, "ERR syntax error");
        return;
    }
    char host[ADDRBOOK_HOST_MAX + 1];
    int port = parse_addr(c, argv[2], lens[2], host);
    if (!port) return;
    change(c, RAFT_CONF_ADD_LEARNER, id, host, port, argc, argv, lens);
}

/* RAFT.PROMOTE id: a learner becomes a voter (promote it once RAFT.MEMBERS
 * shows its match near the leader's). +OK once applied. */
void membership_promote_command(client *c, int argc, char **argv, size_t *lens)
{
    uint64_t id = change_id(c, RAFT_CONF_ADD_VOTER, argv, lens);
    if (id) change(c, RAFT_CONF_ADD_VOTER, id, NULL, 0, argc, argv, lens);
}

/* RAFT.REMOVENODE id: a voter or a learner leaves the configuration; a
 * leader removing itself steps down once the change applies. +OK once
 * applied. */
void membership_removenode_command(client *c, int argc, char **argv, size_t *lens)
{
    uint64_t id = change_id(c, RAFT_CONF_REMOVE, argv, lens);
    if (id) change(c, RAFT_CONF_REMOVE, id, NULL, 0, argc, argv, lens);
}

/* ----------------------------------------------------- replacement
 *
 * RAFT.REPLACENODE old new host:port: one change at a time (raft.h
 * "membership": a single-server change keeps every majority of the old
 * configuration intersecting one of the new), the leader runs a job:
 * add new as a learner -> promote it once its match is within
 * REPLACE_CATCHUP entries (learner-auto-promote when set) of the
 * leader's last index -> remove old -> +OK. Each step is decided from the
 * configuration in force, so re-issuing the command after a -TIMEOUT or a
 * leader change continues where the cluster is. The job is node-local: a
 * leader that loses leadership answers -TRYAGAIN and drops it. */
#define REPLACE_CATCHUP 100
#define REPLACE_TIMEOUT_FACTOR 6 /* x raft-request-timeout */

static struct {
    int active;
    uint64_t old, new_;
    char host[ADDRBOOK_HOST_MAX + 1];
    int port;
    slot *s; /* the client's reply (SLOT_WRITE: client_free leaves it to us) */
    int64_t deadline;
    int proposed; /* new was a member (added by us, or before): never added again */
} job;

static void job_end(const char *err)
{
    slot *s = job.s;
    job.active = 0;
    job.s = NULL;
    if (!s->c) {
        slot_free(s);
        return;
    }
    if (err)
        resp_add_error(&s->out, err);
    else
        resp_add_ok(&s->out);
    slot_done(s);
}

/* The learner's match is within the bound of the leader's last index. */
static int caught_up(uint64_t id, uint64_t last)
{
    uint64_t bound =
        cfg.learner_auto_promote > 0 ? (uint64_t)cfg.learner_auto_promote : REPLACE_CATCHUP;
    raft_peer_progress pp;
    for (uint32_t j = 0; raft_get_progress(driver_raft(), j, &pp) == 0; j++)
        if (pp.id == id) return pp.match > 0 && pp.match + bound >= last;
    return 0;
}

/* One step of the job; the driver calls it each tick. */
void membership_replace_step(void)
{
    if (!job.active) return;
    raft_node *node = driver_raft();
    raft_conf k;
    raft_get_conf(node, &k, NULL);
    int rold = raft_conf_role(&k, job.old), rnew = raft_conf_role(&k, job.new_);
    if (!rold && rnew == 1) {
        serverLog(LL_NOTICE, "RAFT.REPLACENODE: node %llu replaced by node %llu",
                  (unsigned long long)job.old, (unsigned long long)job.new_);
        job_end(NULL);
        return;
    }
    if (!driver_is_leader()) {
        job_end("TRYAGAIN leadership changed during the replacement: re-issue "
                "RAFT.REPLACENODE to the leader to continue");
        return;
    }
    if (mstime() >= job.deadline) {
        job_end("TIMEOUT the replacement did not complete in time: re-issue RAFT.REPLACENODE "
                "to continue");
        return;
    }
    raft_status st;
    raft_get_status(node, &st);
    if (st.pending_conf > st.applied) return; /* one change at a time */
    int op;
    if (!rnew) {
        if (job.proposed) { /* added, then gone: someone removed it */
            char e[160];
            snprintf(e, sizeof e, "ERR node %llu left the configuration during the replacement",
                     (unsigned long long)job.new_);
            job_end(e);
            return;
        }
        op = RAFT_CONF_ADD_LEARNER;
    } else if (rnew == 2) {
        if (!caught_up(job.new_, st.last_index)) return;
        op = RAFT_CONF_ADD_VOTER;
    } else if (rold) {
        op = RAFT_CONF_REMOVE;
    } else {
        return;
    }
    const char *err = NULL;
    uint64_t id = op == RAFT_CONF_REMOVE ? job.old : job.new_;
    int rc = driver_propose_conf(NULL, op, id, job.host, job.port, &err);
    if (rc == 0) {
        job.proposed = 1;
        return;
    }
    if (rc == RAFT_ECONFPENDING || rc == RAFT_ENOTREADY || rc == RAFT_ETRANSFER) return;
    if (rc == 1) {
        job_end(err);
        return;
    }
    char t[160];
    job_end(change_error_text(rc, t, sizeof t));
}

/* RAFT.REPLACENODE old new host:port: replaces member old (dead, or to
 * retire) by new, a node started empty with 'join yes' at host:port. +OK
 * once old is removed and new is a voter. */
void membership_replacenode_command(client *c, int argc, char **argv, size_t *lens)
{
    if (denied(c, "raft.replacenode")) return;
    resp_buf *b = client_reply_buf(c);
    uint64_t old, nw;
    for (int i = 1; i <= 2; i++)
        if (parse_id(argv[i], lens[i], i == 1 ? &old : &nw)) {
            resp_add_errorf(b, "ERR invalid node id '%.64s'", argv[i]);
            return;
        }
    char host[ADDRBOOK_HOST_MAX + 1];
    int port = parse_addr(c, argv[3], lens[3], host);
    if (!port) return;
    if (old == nw) {
        resp_add_error(b, "ERR a node cannot replace itself");
        return;
    }
    if (command_proxy_to_leader(c, argc, argv, lens)) return;
    const char *err;
    if (!driver_is_leader()) { /* -MOVED, as the other changes */
        driver_propose_conf(c, RAFT_CONF_ADD_LEARNER, nw, host, port, &err);
        return;
    }
    raft_conf k;
    raft_get_conf(driver_raft(), &k, NULL);
    int rold = raft_conf_role(&k, old), rnew = raft_conf_role(&k, nw);
    if (!rold && rnew == 1) { /* done before: re-issued */
        resp_add_ok(b);
        return;
    }
    if (!rold) {
        resp_add_errorf(b, "ERR node %llu is not a member of the cluster", (unsigned long long)old);
        return;
    }
    if (job.active) {
        resp_add_error(b, "TRYAGAIN a node replacement is already in progress");
        return;
    }
    if (!rnew && refuse_change(b, RAFT_CONF_ADD_LEARNER, nw)) return;
    memset(&job, 0, sizeof job);
    job.active = 1;
    job.old = old;
    job.new_ = nw;
    snprintf(job.host, sizeof job.host, "%s", host);
    job.port = port;
    job.proposed = rnew != 0; /* a member already: never added again (ids are not reused) */
    job.deadline = mstime() + (int64_t)cfg.raft_request_timeout * REPLACE_TIMEOUT_FACTOR;
    job.s = client_new_slot(c, SLOT_WRITE);
    serverLog(LL_NOTICE, "RAFT.REPLACENODE: replacing node %llu by node %llu (%s:%d)",
              (unsigned long long)old, (unsigned long long)nw, host, port);
    membership_replace_step();
}

/* ------------------------------------------------- the member table
 *
 * peers: the bootstrap voters ('cluster'; none with 'join'). members: how
 * to reach every member of the configuration in force and this node (the
 * cluster's address book, addrbook.h), npeers of them; 'cluster' until
 * the first membership change is applied, then the stored book. */
static uint64_t peers[RAFT_MAX_VOTERS];
static uint32_t nboot;
static uint32_t npeers;
static struct member {
    uint64_t id;
    char host[256];
    int port;
} members[ADDRBOOK_MAX + 1];
static const struct member *member_by_id(uint64_t id);

uint32_t driver_member_count(void)
{
    return npeers;
}

static int cluster_id_derived;                 /* cluster-id not set: a hash of 'cluster' */
static struct member listed[ADDRBOOK_MAX + 1]; /* 'cluster' as given */
static uint32_t nlisted;

int driver_cluster_id_derived(void)
{
    return cluster_id_derived;
}

/* "1=host:port,2=host:port": the voters. Empty: this node alone. With
 * peers, the node listens on its own entry's port (its tls-port with
 * tls-cluster), a cluster secret is required, and the cluster id defaults
 * to a hash of the member list. */
int driver_configure(char *err, size_t errlen)
{
    npeers = 0;
    if (!cfg.cluster[0]) {
        if (cfg.join) {
            snprintf(err, errlen,
                     "'join yes' needs 'cluster' naming at least this node (\"%d=host:port\": "
                     "where it listens and where the cluster will reach it)",
                     cfg.node_id);
            return -1;
        }
        peers[npeers] = (uint64_t)cfg.node_id;
        members[npeers++].id = (uint64_t)cfg.node_id;
        nboot = 1;
        return 0;
    }
    if (cfg.join && !cfg.cluster_id[0]) {
        snprintf(err, errlen,
                 "'join yes' needs the cluster's 'cluster-id' (INFO raft: raft_cluster_id on a "
                 "member)");
        return -1;
    }
    char *copy = strdup(cfg.cluster), *save = NULL;
    if (!copy) return -1;
    int self = -1;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *end, *colon;
        unsigned long id = strtoul(t, &end, 10);
        colon = *end == '=' ? strrchr(end + 1, ':') : NULL;
        long port = colon ? strtol(colon + 1, NULL, 10) : 0;
        if (!colon || id == 0 || npeers == (cfg.join ? ADDRBOOK_MAX : RAFT_MAX_VOTERS) ||
            port <= 0 || port > 65535 || (size_t)(colon - end - 1) >= sizeof(members[0].host) ||
            colon == end + 1) {
            snprintf(err, errlen, "bad 'cluster' item '%s' (want id=host:port)", t);
            free(copy);
            return -1;
        }
        for (uint32_t i = 0; i < npeers; i++)
            if (members[i].id == id) {
                snprintf(err, errlen, "node id %lu appears twice in 'cluster'", id);
                free(copy);
                return -1;
            }
        struct member *m = &members[npeers];
        m->id = id;
        memcpy(m->host, end + 1, (size_t)(colon - end - 1));
        m->host[colon - end - 1] = '\0';
        m->port = (int)port;
        if (id == (unsigned long)cfg.node_id) self = (int)npeers;
        npeers++;
    }
    free(copy);
    /* With 'join', 'cluster' only says where the members are: this node
     * starts in no configuration and learns it from the leader. */
    nboot = cfg.join ? 0 : npeers;
    nlisted = npeers;
    memcpy(listed, members, sizeof(listed));
    for (uint32_t i = 0; i < nboot; i++)
        peers[i] = members[i].id;
    if (self < 0) {
        snprintf(err, errlen, "node-id %d is not in 'cluster'", cfg.node_id);
        return -1;
    }
    /* Peers reach a node at its entry's port: its tls-port with
     * tls-cluster (its plain port is then `port`, 0 for none), else its
     * port. */
    if (cfg.tls_cluster)
        cfg.tls_port = members[self].port;
    else
        cfg.port = members[self].port;
    if (npeers == 1 && !cfg.join) return 0;
    if (!cfg.cluster_secret[0]) {
        snprintf(err, errlen, "a node with peers needs 'cluster-secret' (the same on every node)");
        return -1;
    }
    if (!cfg.cluster_id[0]) {
        cluster_id_derived = 1;
        uint64_t h = 1469598103934665603ULL;
        for (const char *p = cfg.cluster; *p; p++)
            h = (h ^ (uint8_t)*p) * 1099511628211ULL;
        char id[32];
        snprintf(id, sizeof(id), "%016llx", (unsigned long long)h);
        free(cfg.cluster_id);
        cfg.cluster_id = strdup(id);
        if (!cfg.cluster_id) return -1;
    }
    return 0;
}

static const struct member *member_by_id(uint64_t id)
{
    for (uint32_t i = 0; i < npeers; i++)
        if (members[i].id == id) return &members[i];
    return NULL;
}

int driver_peer_known(uint64_t id)
{
    return id != (uint64_t)cfg.node_id && member_by_id(id) != NULL;
}

static int have_book; /* book read from the state; else 'cluster' bootstraps */

/* A node started with 'join yes' that has applied no configuration (no
 * stored address book) is waiting to be added: it knows no member but
 * itself (or the ones 'cluster' lists), so it takes a handshake from any
 * node that proves the cluster secret, and learns the address the node's
 * hello gives. Once a change entry or a snapshot brings the book, the book
 * decides, as on any member: no new surface on a member. */
int membership_awaiting(void)
{
    return cfg.join && !have_book;
}

int driver_peer_accepted(uint64_t id)
{
    if (id == (uint64_t)cfg.node_id) return 0;
    return member_by_id(id) != NULL || membership_awaiting();
}

/* Only until the book is in force: membership_follow_stored() replaces
 * every learned address with the book's (and drops the ones it lacks). */
int membership_learn(uint64_t id, const char *host, int port)
{
    if (!membership_awaiting() || id == (uint64_t)cfg.node_id) return 0;
    struct member *m = NULL;
    for (uint32_t i = 0; i < npeers && !m; i++)
        if (members[i].id == id) m = &members[i];
    if (m && m->port == port && !strcmp(m->host, host)) return 0;
    if (!m) {
        if (npeers == ADDRBOOK_MAX + 1) {
            serverLog(LL_WARNING,
                      "join: node %llu is at %s:%d, but this node already knows the addresses of "
                      "%d nodes; not answering it",
                      (unsigned long long)id, host, port, ADDRBOOK_MAX);
            return -1;
        }
        m = &members[npeers++];
        m->id = id;
    }
    snprintf(m->host, sizeof(m->host), "%s", host);
    m->port = port;
    serverLog(LL_NOTICE,
              "join: node %llu is at %s:%d (its handshake says); answering it there until the "
              "cluster's address book arrives",
              (unsigned long long)id, host, port);
    return 1;
}

/* Whether 'cluster' names exactly the members of conf. */
static int same_members(const raft_conf *conf)
{
    if (conf->n_voters + conf->n_learners != nboot) return 0;
    for (uint32_t i = 0; i < nboot; i++)
        if (!raft_conf_role(conf, peers[i])) return 0;
    return 1;
}

static addrbook book;

/* Whether 'cluster' contradicts the stored configuration (why says how):
 * it names a node the cluster never had (an id above the highest it used)
 * or gives a member another address than the cluster's book. A list that
 * only names past members is out of date, not wrong: after the first
 * change 'cluster' only bootstrapped the cluster, and a node restarted
 * from its old configuration file must come back. Without a stored book
 * (a configuration applied by a version before it), any other member set
 * contradicts. */
static int contradicts(const raft_conf *conf, char *why, size_t n)
{
    if (!have_book) {
        snprintf(why, n, "it names other members");
        return !same_members(conf);
    }
    for (uint32_t i = 0; i < nlisted; i++) {
        const struct member *m = &listed[i];
        const addrbook_entry *e = addrbook_find(&book, m->id);
        if (m->id > book.max_id) {
            snprintf(why, n, "it names node %llu, which was never a member of this cluster",
                     (unsigned long long)m->id);
            return 1;
        }
        if (e && (e->port != m->port || strcmp(e->host, m->host))) {
            snprintf(why, n, "it gives node %llu the address %s:%d, the cluster's is %s:%d",
                     (unsigned long long)m->id, m->host, m->port, e->host, e->port);
            return 1;
        }
    }
    return 0;
}

/* ------------------------------------------------- the address book
 *
 * Each membership change entry carries the address book of the
 * configuration after it (addrbook.h): the state applied at an index knows
 * how to reach every member. members[] follows it: at start and whenever a
 * change (or a snapshot) is applied, and the transport connects to the
 * members it adds and drops the ones it removes. */

/* The stored book, or -1 when the state has none (no change applied yet,
 * or one whose context is not a book). */
static int stored_book(addrbook *b)
{
    uint64_t index;
    size_t len;
    const void *sm = kvstate_members(srv.state, &index, &len);
    static raft_conf_change cc;
    if (!sm || raft_conf_change_decode(sm, len, &cc) || addrbook_decode(cc.ctx, cc.ctx_len, b))
        return -1;
    return 0;
}

/* members[] from the stored book (this node's own entry kept when the book
 * lacks it: a node not added yet, or removed). -1: no stored book. */
int membership_follow_stored(void)
{
    static addrbook nb;
    if (stored_book(&nb)) return -1;
    const struct member *self = member_by_id((uint64_t)cfg.node_id);
    struct member me = self ? *self : (struct member){.id = (uint64_t)cfg.node_id};
    npeers = 0;
    for (uint32_t i = 0; i < nb.n; i++) {
        struct member *m = &members[npeers++];
        m->id = nb.e[i].id;
        snprintf(m->host, sizeof(m->host), "%s", nb.e[i].host);
        m->port = nb.e[i].port;
    }
    if (!addrbook_find(&nb, me.id)) members[npeers++] = me;
    book = nb;
    have_book = 1;
    return 0;
}

/* The highest node id this cluster ever used: ids are never reused. */
uint64_t driver_max_node_id(void)
{
    uint64_t mx = have_book ? book.max_id : 0;
    for (uint32_t i = 0; i < npeers; i++)
        if (members[i].id > mx) mx = members[i].id;
    return mx;
}

int driver_member_host(const char *host)
{
    if (membership_awaiting()) return 1; /* any node may be the one adding it */
    for (uint32_t i = 0; i < npeers; i++)
        if (members[i].id != (uint64_t)cfg.node_id && !strcmp(members[i].host, host)) return 1;
    return 0;
}

const char *driver_self_addr(int *port)
{
    const struct member *m = member_by_id((uint64_t)cfg.node_id);
    if (!m || !m->port) return NULL;
    *port = m->port;
    return m->host;
}

int driver_member(size_t i, uint64_t *id, const char **host, int *port)
{
    if (i >= npeers) return -1;
    *id = members[i].id;
    *host = members[i].host;
    *port = members[i].port;
    return 0;
}

const char *membership_addr(uint64_t id, int *port)
{
    const struct member *m = member_by_id(id);
    if (!m) return NULL;
    *port = m->port;
    return m->host;
}

const uint64_t *membership_boot_voters(uint32_t *n)
{
    *n = nboot;
    return peers;
}

int membership_check_stored(const raft_conf *conf, uint64_t stored_index, char *err, size_t errlen)
{
    char why[512] = "";
    if (cfg.cluster[0] && !cfg.join && contradicts(conf, why, sizeof(why))) {
        char now[1024] = "";
        for (uint32_t i = 0; have_book && i < book.n; i++) {
            size_t l = strlen(now);
            snprintf(now + l, sizeof(now) - l, "%s%llu=%s:%d", i ? "," : "",
                     (unsigned long long)book.e[i].id, book.e[i].host, book.e[i].port);
        }
        if (!cfg.cluster_override) {
            snprintf(err, errlen,
                     "'cluster' contradicts the configuration this node applied at index %llu "
                     "(%u voters, %u learners%s%s): %s. Set 'cluster' to the current "
                     "members, or 'cluster-override yes' to start with the stored "
                     "configuration",
                     (unsigned long long)stored_index, conf->n_voters, conf->n_learners,
                     now[0] ? ": " : "", now, why);
            return -1;
        }
        serverLog(LL_WARNING,
                  "'cluster' contradicts the configuration applied at index %llu (%s); "
                  "cluster-override yes: starting with the stored one (%s)",
                  (unsigned long long)stored_index, why, now);
    } else if (cfg.cluster[0] && !cfg.join && !same_members(conf)) {
        serverLog(LL_NOTICE,
                  "'cluster' is out of date (the membership changed at index %llu): it only "
                  "bootstrapped the cluster; starting with the stored configuration",
                  (unsigned long long)stored_index);
    }
    return 0;
}
