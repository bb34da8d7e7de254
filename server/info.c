/* info.c -- INFO, with Redis's sections and field names where they have a
 * meaning here, so that tools reading them keep working. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "server/backup.h"
#include "server/server.h"

static size_t rss_bytes(void)
{
    long pages = 0, rss = 0;
    FILE *fp = fopen("/proc/self/statm", "r");
    if (fp) {
        if (fscanf(fp, "%ld %ld", &pages, &rss) != 2) rss = 0;
        fclose(fp);
    }
    return (size_t)rss * (size_t)sysconf(_SC_PAGESIZE);
}

static int wants(int argc, char **argv, const char *section, int is_default)
{
    if (argc <= 1) return is_default;
    for (int i = 1; i < argc; i++) {
        if (!strcasecmp(argv[i], section)) return 1;
        if (!strcasecmp(argv[i], "all") || !strcasecmp(argv[i], "everything")) return 1;
        if (!strcasecmp(argv[i], "default") && is_default) return 1;
    }
    return 0;
}

static int section(resp_buf *t, int *n, int argc, char **argv, const char *name, const char *title,
                   int dflt)
{
    if (!wants(argc, argv, name, dflt)) return 0;
    if ((*n)++) resp_add_raw(t, "\r\n", 2);
    resp_add_raw(t, "# ", 2);
    resp_add_raw(t, title, strlen(title));
    resp_add_raw(t, "\r\n", 2);
    return 1;
}

#define ADD(...)                                                                                   \
    do {                                                                                           \
        int w_ = snprintf(line, sizeof(line), __VA_ARGS__);                                        \
        if (w_ > 0)                                                                                \
            resp_add_raw(&t, line, (size_t)w_ < sizeof(line) ? (size_t)w_ : sizeof(line) - 1);     \
    } while (0)

void info_reply(client *c, resp_buf *b, int argc, char **argv)
{
    (void)c;
    resp_buf t;
    char line[512];
    int64_t now = mstime();
    int sections = 0;
    resp_buf_init(&t, 2);

#define SECTION(name, title, dflt) if (section(&t, &sections, argc, argv, name, title, dflt))

    SECTION("server", "Server", 1)
    {
        struct utsname u;
        uname(&u);
        ADD("redis_version:%s\r\n", REDIS_COMPAT_VERSION);
        ADD("raftkv_version:%s\r\n", RAFTKV_VERSION);
        ADD("redis_mode:standalone\r\n");
        ADD("os:%s %s %s\r\n", u.sysname, u.release, u.machine);
        ADD("arch_bits:%d\r\n", (int)(sizeof(long) * 8));
        ADD("multiplexing_api:epoll\r\n");
        ADD("process_id:%d\r\n", (int)getpid());
        ADD("run_id:%s\r\n", srv.run_id);
        ADD("tcp_port:%d\r\n", cfg.port);
        ADD("uptime_in_seconds:%lld\r\n", (long long)((now - srv.start_ms) / 1000));
        ADD("uptime_in_days:%lld\r\n", (long long)((now - srv.start_ms) / 86400000));
        ADD("executable:raftkv-server\r\n");
    }
    SECTION("clients", "Clients", 1)
    {
        ADD("connected_clients:%d\r\n", srv.nclients);
        char tb[160];
        tracking_info_fields(tb, sizeof(tb), 0);
        ADD("%s", tb);
        ADD("maxclients:%d\r\n", cfg.maxclients);
        ADD("blocked_clients:%d\r\n", blocking_count());
    }
    SECTION("memory", "Memory", 1)
    {
        size_t rss = rss_bytes();
        ADD("used_memory:%zu\r\n", rss);
        ADD("used_memory_rss:%zu\r\n", rss);
        ADD("maxmemory:0\r\n");
        ADD("maxmemory_policy:noeviction\r\n");
        ADD("lmdb_state_used_pct:%d\r\n", kvstate_used_pct(srv.state));
        ADD("lmdb_state_pages:%llu\r\n", (unsigned long long)kvstate_pages(srv.state));
        ADD("lmdb_log_used_pct:%d\r\n", kvlog_used_pct(srv.log));
    }
    SECTION("persistence", "Persistence", 1)
    {
        ADD("loading:0\r\n");
        ADD("async_loading:0\r\n");
        ADD("rdb_changes_since_last_save:0\r\n");
        {
            char bl[400];
            backup_info_fields(bl, sizeof(bl));
            ADD("%s", bl);
        }
        ADD("aof_enabled:1\r\n");
        ADD("aof_rewrite_in_progress:0\r\n");
        ADD("raft_log_syncs:%llu\r\n", (unsigned long long)srv.stats.syncs);
        ADD("raft_state_durable_index:%llu\r\n",
            (unsigned long long)kvstate_durable_index(srv.state));
    }
    SECTION("stats", "Stats", 1)
    {
        ADD("total_connections_received:%llu\r\n", (unsigned long long)srv.stats.connections);
        ADD("total_commands_processed:%llu\r\n", (unsigned long long)srv.stats.commands);
        ADD("total_net_input_bytes:%llu\r\n", (unsigned long long)srv.stats.net_in);
        ADD("total_net_output_bytes:%llu\r\n", (unsigned long long)srv.stats.net_out);
        ADD("rejected_connections:%llu\r\n", (unsigned long long)srv.stats.rejected_conn);
        ADD("expired_keys:%llu\r\n", (unsigned long long)srv.stats.expired_keys);
        ADD("pubsub_channels:%zu\r\n", pubsub_server_count(PUBSUB_CHANNEL));
        ADD("pubsub_patterns:%zu\r\n", pubsub_server_count(PUBSUB_PATTERN));
        ADD("pubsubshard_channels:%zu\r\n", pubsub_server_count(PUBSUB_SHARD));
        ADD("collections_to_clean:%llu\r\n", (unsigned long long)kvstate_gc_pending(srv.state));
        char tb[160];
        tracking_info_fields(tb, sizeof(tb), 1);
        ADD("%s", tb);
        ADD("raft_entries_proposed:%llu\r\n", (unsigned long long)srv.stats.entries);
        ADD("raft_lease_reads:%llu\r\n", (unsigned long long)srv.stats.lease_reads);
        ADD("raft_read_rounds:%llu\r\n", (unsigned long long)srv.stats.read_rounds);
        ADD("raft_read_round_reads:%llu\r\n", (unsigned long long)srv.stats.round_reads);
        ADD("raft_peer_msgs_unsent:%llu\r\n", (unsigned long long)srv.stats.peer_msgs_unsent);
        driver_info dstat;
        driver_status(&dstat); /* malformed (driver) and impossible (raft) messages */
        ADD("raft_peer_msgs_dropped:%llu\r\n",
            (unsigned long long)(srv.stats.peer_msgs_dropped + dstat.dropped_msgs));
    }
    SECTION("replication", "Replication", 1)
    {
        int lport = 0;
        const char *lhost = driver_leader_addr(&lport);
        if (driver_is_leader() || !lhost) {
            ADD("role:master\r\n");
            ADD("connected_slaves:0\r\n");
        } else {
            ADD("role:slave\r\n");
            ADD("master_host:%s\r\n", lhost);
            ADD("master_port:%d\r\n", lport);
            ADD("master_link_status:up\r\n");
        }
        ADD("master_replid:%s\r\n", srv.run_id);
        ADD("master_repl_offset:%llu\r\n", (unsigned long long)kvstate_applied_index(srv.state));
    }
    SECTION("cpu", "CPU", 1)
    {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        ADD("used_cpu_sys:%ld.%06ld\r\n", (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec);
        ADD("used_cpu_user:%ld.%06ld\r\n", (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec);
    }
    SECTION("raft", "Raft", 1)
    {
        driver_info di;
        driver_status(&di);
        ADD("raft_node_id:%d\r\n", cfg.node_id);
        ADD("raft_role:%s\r\n", di.role);
        ADD("raft_term:%llu\r\n", (unsigned long long)di.term);
        ADD("raft_leader_id:%llu\r\n", (unsigned long long)di.leader);
        ADD("raft_commit_index:%llu\r\n", (unsigned long long)di.commit);
        ADD("raft_applied_index:%llu\r\n", (unsigned long long)di.applied);
        ADD("raft_first_index:%llu\r\n", (unsigned long long)di.first_index);
        ADD("raft_last_index:%llu\r\n", (unsigned long long)di.last_index);
        ADD("raft_snapshot_index:%llu\r\n", (unsigned long long)di.snapshot_index);
        char peers[2048];
        size_t n = driver_peer_lines(peers, sizeof(peers));
        resp_add_raw(&t, peers, n);
        n = snapshot_info(peers, sizeof(peers));
        resp_add_raw(&t, peers, n);
    }
    SECTION("keyspace", "Keyspace", 1)
    {
        for (int db = 0; db < cfg.databases; db++) {
            uint64_t keys = kvstate_dbsize(srv.state, db);
            if (keys)
                ADD("db%d:keys=%llu,expires=%llu,avg_ttl=0\r\n", db, (unsigned long long)keys,
                    (unsigned long long)kvstate_expires(srv.state, db));
        }
    }
    resp_add_verbatim(b, "txt", t.p ? t.p : "", t.len);
    resp_buf_free(&t);
}
