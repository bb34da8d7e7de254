/* membership.c -- the membership commands: RAFT.MEMBERS (who is in the
 * configuration in force, with its role), RAFT.TRANSFER (leadership to a
 * named voter), CLUSTER FAILOVER (on the follower that should lead), and
 * the membership lines of INFO raft. The rules live in raft/ (raft.h
 * "membership"); this file only asks raft and answers. Adding and removing
 * nodes at runtime (RAFT.ADDNODE, RAFT.PROMOTE, RAFT.REMOVENODE) needs the
 * configuration persisted by storage/ and peers added to the transport:
 * not here yet. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "raft/raft.h"
#include "server/acl.h"
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
                     "raft_transfer_target:%llu\r\n",
                     voters, learners,
                     st.member == 1   ? "voter"
                     : st.member == 2 ? "learner"
                                      : "none",
                     (unsigned long long)ci, (unsigned long long)pending,
                     (unsigned long long)st.transferee);
    return w < 0 ? 0 : (size_t)w < n ? (size_t)w : n - 1;
}
