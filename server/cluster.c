/* cluster.c -- CLUSTER SLOTS, SHARDS, NODES, INFO and MYID describe the Raft
 * group to cluster-aware clients as one Redis Cluster shard that owns all
 * 16384 slots: the leader is its master, the followers its replicas, and
 * learners replicas that are no failover candidates (CLUSTER NODES flags
 * them "slave,nofailover", as Redis does a replica with
 * cluster-replica-no-failover). Writes
 * to a follower are proxied or redirected with -MOVED (follower-mode), so a
 * client that follows MOVED finds the leader, also after a failover. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "raft/raft.h"
#include "server/server.h"

typedef struct node_view {
    uint64_t id;
    char name[41]; /* 40 hex digits, as Redis Cluster node ids */
    char host[256];
    int port;
    int leader, self, learner;
} node_view;

/* A stable node name: a hash of the cluster id and the node id. */
static void node_name(uint64_t id, char out[41])
{
    uint64_t h1 = 1469598103934665603ULL, h2 = 0x9e3779b97f4a7c15ULL ^ id;
    for (const char *p = cfg.cluster_id; *p; p++) {
        h1 = (h1 ^ (uint8_t)*p) * 1099511628211ULL;
        h2 = (h2 ^ (uint8_t)*p) * 0x100000001b3ULL;
    }
    h1 = (h1 ^ id) * 1099511628211ULL;
    snprintf(out, 41, "%016llx%016llx%08llx", (unsigned long long)h1, (unsigned long long)h2,
             (unsigned long long)(id & 0xffffffffULL));
}

/* The members of the configuration in force and this node, the leader
 * first. A node without 'cluster' reports itself at the address the client
 * reached. */
static int collect(client *c, node_view *v, int max)
{
    int n = 0;
    uint64_t id, lid = driver_leader_id();
    const char *host;
    int port;
    raft_conf k;
    raft_get_conf(driver_raft(), &k, NULL);
    for (size_t i = 0; n < max && driver_member(i, &id, &host, &port) == 0; i++) {
        int role = raft_conf_role(&k, id);
        if (!role && id != (uint64_t)cfg.node_id) continue; /* a 'join' address, not a member */
        node_view *x = &v[n++];
        x->id = id;
        x->learner = role == 2;
        node_name(id, x->name);
        x->self = id == (uint64_t)cfg.node_id;
        x->leader = id == lid;
        if (host[0]) {
            snprintf(x->host, sizeof(x->host), "%s", host);
            x->port = port;
        } else {
            snprintf(x->host, sizeof(x->host), "%s", c->laddr);
            char *colon = strrchr(x->host, ':');
            if (colon) *colon = '\0';
            x->port = cfg.port;
        }
    }
    for (int i = 1; i < n; i++) /* leader first */
        if (v[i].leader) {
            node_view t = v[0];
            v[0] = v[i];
            v[i] = t;
        }
    return n;
}

static void slots_node(resp_buf *b, const node_view *x)
{
    resp_add_array(b, 4);
    resp_add_bulk_str(b, x->host);
    resp_add_int(b, x->port);
    resp_add_bulk_str(b, x->name);
    resp_add_map(b, 0);
}

static void add_text(resp_buf *b, const char *text)
{
    resp_add_verbatim(b, "txt", text, strlen(text));
}

void cluster_command(client *c, int argc, char **argv, size_t *argvlen)
{
    (void)argvlen;
    resp_buf *b = client_reply_buf(c);
    node_view v[RAFT_MAX_NODES];
    int n = collect(c, v, RAFT_MAX_NODES);
    int have_leader = n > 0 && v[0].leader;
    const char *sub = argv[1];
    driver_info di;
    driver_status(&di);

    if (!strcasecmp(sub, "myid") && argc == 2) {
        char name[41];
        node_name((uint64_t)cfg.node_id, name);
        resp_add_bulk_str(b, name);
    } else if (!strcasecmp(sub, "slots") && argc == 2) {
        if (!have_leader) {
            resp_add_array(b, 0);
            return;
        }
        resp_add_array(b, 1);
        resp_add_array(b, 2 + n);
        resp_add_int(b, 0);
        resp_add_int(b, 16383);
        for (int i = 0; i < n; i++)
            slots_node(b, &v[i]);
    } else if (!strcasecmp(sub, "shards") && argc == 2) {
        resp_add_array(b, 1);
        resp_add_map(b, 2);
        resp_add_bulk_str(b, "slots");
        resp_add_array(b, have_leader ? 2 : 0);
        if (have_leader) {
            resp_add_int(b, 0);
            resp_add_int(b, 16383);
        }
        resp_add_bulk_str(b, "nodes");
        resp_add_array(b, n);
        for (int i = 0; i < n; i++) {
            resp_add_map(b, 7);
            resp_add_bulk_str(b, "id");
            resp_add_bulk_str(b, v[i].name);
            resp_add_bulk_str(b, "port");
            resp_add_int(b, v[i].port);
            resp_add_bulk_str(b, "ip");
            resp_add_bulk_str(b, v[i].host);
            resp_add_bulk_str(b, "endpoint");
            resp_add_bulk_str(b, v[i].host);
            resp_add_bulk_str(b, "role");
            resp_add_bulk_str(b, v[i].leader ? "master" : "replica");
            resp_add_bulk_str(b, "replication-offset");
            resp_add_int(b, (int64_t)(v[i].self ? di.applied : 0));
            resp_add_bulk_str(b, "health");
            resp_add_bulk_str(b, "online");
        }
    } else if (!strcasecmp(sub, "nodes") && argc == 2) {
        char text[RAFT_MAX_NODES * 200 + 1] = "", line[256];
        for (int i = 0; i < n; i++) {
            snprintf(line, sizeof(line), "%s %s:%d@%d %s%s %s 0 0 %llu connected%s\n", v[i].name,
                     v[i].host, v[i].port, v[i].port + 10000, v[i].self ? "myself," : "",
                     v[i].leader    ? "master"
                     : v[i].learner ? "slave,nofailover"
                                    : "slave",
                     v[i].leader || !have_leader ? "-" : v[0].name, (unsigned long long)di.term,
                     v[i].leader ? " 0-16383" : "");
            strncat(text, line, sizeof(text) - strlen(text) - 1);
        }
        add_text(b, text);
    } else if (!strcasecmp(sub, "info") && argc == 2) {
        char text[1024];
        snprintf(text, sizeof(text),
                 "cluster_state:%s\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:%d\r\n"
                 "cluster_slots_pfail:0\r\ncluster_slots_fail:%d\r\ncluster_known_nodes:%d\r\n"
                 "cluster_size:1\r\ncluster_current_epoch:%llu\r\ncluster_my_epoch:%llu\r\n",
                 have_leader ? "ok" : "fail", have_leader ? 16384 : 0, have_leader ? 0 : 16384, n,
                 (unsigned long long)di.term, (unsigned long long)di.term);
        add_text(b, text);
    } else if (!strcasecmp(sub, "failover")) {
        membership_failover_command(c, argc, argv);
    } else if (!strcasecmp(sub, "keyslot") && argc == 3) {
        resp_add_int(b, (int64_t)driver_key_slot(argv[2], argvlen[2]));
    } else if (!strcasecmp(sub, "myid") || !strcasecmp(sub, "slots") ||
               !strcasecmp(sub, "shards") || !strcasecmp(sub, "nodes") ||
               !strcasecmp(sub, "info") || !strcasecmp(sub, "keyslot")) {
        resp_add_errorf(b, "ERR wrong number of arguments for 'cluster|%s' command", sub);
    } else {
        resp_add_errorf(b, "ERR unknown subcommand '%.128s'. Try CLUSTER HELP.", sub);
    }
}
