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

static void change_error(resp_buf *b, int rc)
{
    switch (rc) {
    case RAFT_ECONFPENDING:
        resp_add_error(b, "TRYAGAIN a membership change is already in progress");
        break;
    case RAFT_ENOTREADY:
        resp_add_error(b, "TRYAGAIN the leader has not committed an entry of its term yet");
        break;
    case RAFT_ETRANSFER:
        resp_add_error(b, "TRYAGAIN leadership transfer in progress");
        break;
    case RAFT_ENOMEM:
        resp_add_error(b, "OOM command not allowed when used memory > 'maxmemory'.");
        break;
    case RAFT_ECONF:
        resp_add_error(b, "ERR invalid membership change");
        break;
    default:
        resp_add_errorf(b, "ERR membership change failed: %s", raft_strerror(rc));
        break;
    }
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
    const char *colon = memrchr(argv[2], ':', lens[2]);
    size_t hl = colon ? (size_t)(colon - argv[2]) : 0;
    long port = 0;
    if (colon && hl > 0 && hl <= ADDRBOOK_HOST_MAX && !memchr(argv[2], '\0', lens[2])) {
        memcpy(host, argv[2], hl);
        host[hl] = '\0';
        char *end;
        errno = 0;
        port = strtol(colon + 1, &end, 10);
        if (errno || *end || end == colon + 1 || colon[1] == '0' || !addrbook_host_ok(host))
            port = 0;
    }
    if (port < 1 || port > 65535) {
        resp_add_errorf(b, "ERR invalid address '%.300s' (want host:port)", argv[2]);
        return;
    }
    change(c, RAFT_CONF_ADD_LEARNER, id, host, (int)port, argc, argv, lens);
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
