/* info.c -- INFO and ROLE, and the command, error and peer counters they
 * report (server/info.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "raft/raft.h"
#include "server/evict.h"
#include "server/backup.h"
#include "server/command_info.h"
#include "server/info.h"
#include "server/loopstat.h"
#include "server/server.h"
#include "storage/kvlua.h"

/* ------------------------------------------------------ command counters */

/* Latency histogram: values below 16 us exactly, then 16 buckets per power
 * of two up to 2^40 us. */
#define HIST_SUB 16
#define HIST_MAX_EXP 40
#define HIST_N (HIST_SUB + (HIST_MAX_EXP - 4 + 1) * HIST_SUB)

typedef struct cmdstat {
    const char *name; /* a command's: static; a subcommand's: owned */
    int parent;       /* a subcommand's container, else -1 */
    uint64_t calls, usec, rejected, failed;
    uint32_t *hist; /* HIST_N buckets, allocated at the first call */
} cmdstat;

static cmdstat cmds[INFO_MAX_CMDS];
static int ncmds;     /* ids in use: 0 .. ncmds-1 */
static int first_sub; /* ids from here on are subcommands */

typedef struct errstat {
    char word[33];
    uint64_t count;
} errstat;

static errstat errs[INFO_MAX_ERRORS];
static int nerrs;
static uint64_t total_errors;

static struct {
    uint64_t id;
    int64_t ms; /* mono */
} heard[RAFT_MAX_NODES];

static uint64_t state_commits, last_durable;
static int64_t last_commit_ms, last_sync_ms; /* wall clock, 0: none yet */

void info_name_command(int id, const char *name)
{
    if (!ncmds) last_durable = kvstate_durable_index(srv.state);
    if (id < 0 || id >= INFO_MAX_CMDS) return;
    cmds[id].name = name;
    cmds[id].parent = -1;
    if (id >= ncmds) ncmds = first_sub = id + 1;
}

int info_sub_id(int parent, const char *sub, size_t sublen)
{
    if (parent < 0 || parent >= first_sub || !cmds[parent].name) return parent;
    char full[96];
    size_t pl = strlen(cmds[parent].name);
    if (sublen > 48 || pl + 1 + sublen >= sizeof(full)) return parent;
    memcpy(full, cmds[parent].name, pl);
    full[pl] = '|';
    for (size_t i = 0; i < sublen; i++) {
        char ch = sub[i];
        full[pl + 1 + i] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
    }
    full[pl + 1 + sublen] = '\0';
    for (int i = first_sub; i < ncmds; i++)
        if (cmds[i].parent == parent && !strcmp(cmds[i].name, full)) return i;
    if (ncmds >= INFO_MAX_CMDS) return parent;
    /* Only subcommands Redis has get a line of their own (an unknown one
     * is its container's call): the table cannot fill with typos. */
    resp_buf scratch;
    resp_buf_init(&scratch, 2);
    int known = cmdinfo_info(&scratch, full, strlen(full));
    resp_buf_free(&scratch);
    char *name = known ? strdup(full) : NULL;
    if (!name) return parent;
    cmds[ncmds].name = name;
    cmds[ncmds].parent = parent;
    return ncmds++;
}

/* Redis's bytesToHuman(). */
static void info_human(uint64_t n, char *buf, size_t len)
{
    double d = (double)n;
    if (n < 1024)
        snprintf(buf, len, "%lluB", (unsigned long long)n);
    else if (n < 1024ull * 1024)
        snprintf(buf, len, "%.2fK", d / 1024);
    else if (n < 1024ull * 1024 * 1024)
        snprintf(buf, len, "%.2fM", d / (1024.0 * 1024));
    else
        snprintf(buf, len, "%.2fG", d / (1024.0 * 1024 * 1024));
}

static int hist_bucket(uint64_t us)
{
    if (us < HIST_SUB) return (int)us;
    int e = 63 - __builtin_clzll(us);
    if (e > HIST_MAX_EXP) return HIST_N - 1;
    return HIST_SUB + (e - 4) * HIST_SUB + (int)((us >> (e - 4)) & (HIST_SUB - 1));
}

static uint64_t hist_upper(int b)
{
    if (b < HIST_SUB) return (uint64_t)b;
    int e = (b - HIST_SUB) / HIST_SUB + 4, sub = (b - HIST_SUB) % HIST_SUB;
    return ((uint64_t)(HIST_SUB + sub) << (e - 4)) + ((uint64_t)1 << (e - 4)) - 1;
}

/* The upper bound of the bucket holding the p-th percentile. */
static uint64_t hist_percentile(const uint32_t *h, uint64_t total, double p)
{
    uint64_t rank = (uint64_t)(p / 100.0 * (double)total + 0.999999);
    if (rank < 1) rank = 1;
    uint64_t seen = 0;
    for (int b = 0; b < HIST_N; b++) {
        seen += h[b];
        if (seen >= rank) return hist_upper(b);
    }
    return hist_upper(HIST_N - 1);
}

/* Redis's afterErrorReply(): the word after '-' up to a space within the
 * first 32 bytes, else "ERR". */
static void count_error(const char *s, size_t len)
{
    total_errors++;
    const char *word = "ERR";
    size_t wl = 3;
    const char *sp = len > 1 ? memchr(s, ' ', len < 32 ? len : 32) : NULL;
    if (sp && sp - s > 1) {
        word = s + 1;
        wl = (size_t)(sp - s) - 1;
    }
    for (int i = 0; i < nerrs; i++)
        if (strlen(errs[i].word) == wl && !memcmp(errs[i].word, word, wl)) {
            errs[i].count++;
            return;
        }
    if (nerrs == INFO_MAX_ERRORS) return; /* in total_error_replies only */
    memcpy(errs[nerrs].word, word, wl);
    errs[nerrs].word[wl] = '\0';
    errs[nerrs++].count = 1;
}

static int is_error(const resp_buf *b, size_t at)
{
    return b->len > at && b->p[at] == '-';
}

void info_call_begin(info_call *k, client *c, int id)
{
    k->id = id;
    k->tail = c->tail;
    k->len = c->tail ? c->tail->out.len : c->out.len;
}

void info_call_end(const info_call *k, client *c, int64_t us)
{
    cmdstat *s = k->id >= 0 && k->id < ncmds ? &cmds[k->id] : NULL;
    if (s) {
        s->calls++;
        s->usec += (uint64_t)(us > 0 ? us : 0);
        if (!s->hist) s->hist = calloc(HIST_N, sizeof(*s->hist));
        if (s->hist) s->hist[hist_bucket((uint64_t)(us > 0 ? us : 0))]++;
    }
    if (c->peer_id) return; /* the follower relaying the reply counts it */
    /* Where the call's first reply went: after what the buffer it found
     * held, or the first slot it added. */
    const resp_buf *b = k->tail ? &k->tail->out : &c->out;
    size_t at = k->len;
    if (b->len <= at) {
        slot *first = k->tail ? k->tail->next : c->head;
        if (!first) return;
        if (first->state != SLOT_DONE) {
            if (!first->stat) first->stat = k->id + 1 > 0 ? k->id + 1 : -1;
            return;
        }
        b = &first->out;
        at = 0;
    }
    if (!is_error(b, at)) return;
    count_error(b->p + at, b->len - at);
    if (s) s->failed++;
}

void info_rejected(const client *c, int id, const char *err)
{
    if (c->peer_id) return;
    char line[48];
    int n = snprintf(line, sizeof(line), "-%s", err);
    count_error(line, n > 0 && (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
    if (id >= 0 && id < ncmds) cmds[id].rejected++;
}

void info_slot_done(const slot *s)
{
    if (!s->stat || !s->c || s->c->peer_id || !is_error(&s->out, 0)) return;
    count_error(s->out.p, s->out.len);
    if (s->stat > 0 && s->stat <= ncmds) cmds[s->stat - 1].failed++;
}

void info_peer_heard(uint64_t id)
{
    int64_t now = mono_us() / 1000;
    int free_i = -1;
    for (int i = 0; i < RAFT_MAX_NODES; i++) {
        if (heard[i].id == id) {
            heard[i].ms = now;
            return;
        }
        if (!heard[i].id && free_i < 0) free_i = i;
    }
    if (free_i >= 0) {
        heard[free_i].id = id;
        heard[free_i].ms = now;
    }
}

/* ms since peer id was last heard, -1 if never. */
static int64_t heard_ago(uint64_t id)
{
    for (int i = 0; i < RAFT_MAX_NODES; i++)
        if (heard[i].id == id && id) return mono_us() / 1000 - heard[i].ms;
    return -1;
}

static int link_up(int64_t ago)
{
    return ago >= 0 && ago < cfg.election_timeout;
}

void info_state_committed(void)
{
    uint64_t d = kvstate_durable_index(srv.state);
    if (d == last_durable) return; /* nothing new was committed */
    last_durable = d;
    state_commits++;
    last_commit_ms = mstime();
}

void info_log_synced(void)
{
    last_sync_ms = mstime();
}

void info_reset_stats(void)
{
    for (int i = 0; i < ncmds; i++) {
        cmds[i].calls = cmds[i].usec = cmds[i].rejected = cmds[i].failed = 0;
        if (cmds[i].hist) memset(cmds[i].hist, 0, HIST_N * sizeof(*cmds[i].hist));
    }
    nerrs = 0;
    total_errors = 0;
}

/* ------------------------------------------------------------- sections */

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

enum {
    S_SERVER,
    S_CLIENTS,
    S_MEMORY,
    S_PERSISTENCE,
    S_STATS,
    S_REPLICATION,
    S_CPU,
    S_MODULES,
    S_COMMANDSTATS,
    S_ERRORSTATS,
    S_LATENCYSTATS,
    S_CLUSTER,
    S_KEYSPACE,
    S_RAFT,
    S_COUNT
};

static const struct {
    const char *name, *title;
    int dflt;
} sections[S_COUNT] = {
    {"server", "Server", 1},
    {"clients", "Clients", 1},
    {"memory", "Memory", 1},
    {"persistence", "Persistence", 1},
    {"stats", "Stats", 1},
    {"replication", "Replication", 1},
    {"cpu", "CPU", 1},
    {"modules", "Modules", 1},
    {"commandstats", "Commandstats", 0},
    {"errorstats", "Errorstats", 1},
    {"latencystats", "Latencystats", 0},
    {"cluster", "Cluster", 1},
    {"keyspace", "Keyspace", 1},
    {"raft", "Raft", 1},
};

static unsigned select_sections(int argc, char **argv)
{
    unsigned want = 0, dflt = 0;
    for (int s = 0; s < S_COUNT; s++)
        if (sections[s].dflt) dflt |= 1u << s;
    if (argc <= 1) return dflt;
    for (int i = 1; i < argc; i++) {
        if (!strcasecmp(argv[i], "all") || !strcasecmp(argv[i], "everything"))
            want |= (1u << S_COUNT) - 1;
        else if (!strcasecmp(argv[i], "default"))
            want |= dflt;
        else
            for (int s = 0; s < S_COUNT; s++)
                if (!strcasecmp(argv[i], sections[s].name)) want |= 1u << s;
    }
    return want;
}

#define ADD(...)                                                                                   \
    do {                                                                                           \
        int w_ = snprintf(line, sizeof(line), __VA_ARGS__);                                        \
        if (w_ > 0)                                                                                \
            resp_add_raw(t, line, (size_t)w_ < sizeof(line) ? (size_t)w_ : sizeof(line) - 1);      \
    } while (0)

static void replication_section(resp_buf *t)
{
    char line[512];
    driver_info di;
    driver_status(&di);
    if (driver_is_leader()) {
        ADD("role:master\r\n");
        struct raft_node *node = driver_raft();
        int n = 0;
        char slaves[RAFT_MAX_NODES][256];
        for (size_t i = 0;; i++) {
            uint64_t id;
            const char *host;
            int port;
            if (driver_member(i, &id, &host, &port) < 0) break;
            if (id == (uint64_t)cfg.node_id) continue;
            int64_t ago = heard_ago(id);
            if (!link_up(ago) || n == RAFT_MAX_NODES) continue;
            raft_peer_progress pp = {0};
            for (uint32_t j = 0; raft_get_progress(node, j, &pp) == 0; j++)
                if (pp.id == id) break;
            if (pp.id != id) continue;
            snprintf(slaves[n], sizeof(slaves[n]), "ip=%s,port=%d,state=%s,offset=%llu,lag=%lld",
                     host, port, pp.state == RAFT_PR_SNAPSHOT ? "wait_bgsave" : "online",
                     (unsigned long long)pp.match, (long long)(ago / 1000));
            n++;
        }
        ADD("connected_slaves:%d\r\n", n);
        for (int i = 0; i < n; i++)
            ADD("slave%d:%s\r\n", i, slaves[i]);
    } else {
        int lport = 0;
        const char *lhost = driver_leader_addr(&lport);
        int64_t ago = lhost ? heard_ago(driver_leader_id()) : -1;
        int up = lhost && link_up(ago);
        uint64_t sync_bytes = 0;
        int64_t sync_idle = 0;
        int syncing = snapshot_receiving(&sync_bytes, &sync_idle);
        ADD("role:slave\r\n");
        ADD("master_host:%s\r\n", lhost ? lhost : "");
        ADD("master_port:%d\r\n", lhost ? lport : 0);
        ADD("master_link_status:%s\r\n", up ? "up" : "down");
        ADD("master_last_io_seconds_ago:%lld\r\n", (long long)(ago >= 0 ? ago / 1000 : -1));
        ADD("master_sync_in_progress:%d\r\n", syncing);
        ADD("slave_read_repl_offset:%llu\r\n", (unsigned long long)di.last_index);
        ADD("slave_repl_offset:%llu\r\n", (unsigned long long)di.applied);
        if (syncing) {
            ADD("master_sync_total_bytes:-1\r\n");
            ADD("master_sync_read_bytes:%llu\r\n", (unsigned long long)sync_bytes);
            ADD("master_sync_left_bytes:-1\r\n");
            ADD("master_sync_perc:0.00\r\n");
            ADD("master_sync_last_io_seconds_ago:%lld\r\n", (long long)(sync_idle / 1000));
        }
        if (!up)
            ADD("master_link_down_since_seconds:%lld\r\n", (long long)(ago >= 0 ? ago / 1000 : -1));
        ADD("slave_priority:100\r\n");
        ADD("slave_read_only:1\r\n");
        ADD("replica_announced:1\r\n");
        ADD("connected_slaves:0\r\n");
    }
    ADD("master_failover_state:no-failover\r\n");
    ADD("master_replid:%s\r\n", srv.run_id);
    ADD("master_replid2:0000000000000000000000000000000000000000\r\n");
    ADD("master_repl_offset:%llu\r\n", (unsigned long long)di.last_index);
    ADD("second_repl_offset:-1\r\n");
    /* The Raft log is the backlog a follower catches up from. */
    ADD("repl_backlog_active:1\r\n");
    ADD("repl_backlog_size:%llu\r\n", (unsigned long long)kvlog_bytes(srv.log));
    ADD("repl_backlog_first_byte_offset:%llu\r\n", (unsigned long long)di.first_index);
    ADD("repl_backlog_histlen:%llu\r\n",
        (unsigned long long)(di.last_index >= di.first_index ? di.last_index - di.first_index + 1
                                                             : 0));
}

/* The Raft group's numbers as cluster_raft_* fields: redis_exporter
 * exports, besides the fields it knows, those named db*, cmdstat_* and
 * cluster_* (as redis_cluster_raft_*), and drops the rest (raft_*). */
static void cluster_raft_fields(resp_buf *t)
{
    char line[512];
    driver_info di;
    driver_status(&di);
    int peers = 0, connected = 0;
    for (size_t i = 0;; i++) {
        uint64_t id;
        const char *host;
        int port;
        if (driver_member(i, &id, &host, &port) < 0) break;
        if (id == (uint64_t)cfg.node_id) continue;
        peers++;
        connected += link_up(heard_ago(id));
    }
    ADD("cluster_raft_node_id:%d\r\n", cfg.node_id);
    ADD("cluster_raft_leader_id:%llu\r\n", (unsigned long long)di.leader);
    ADD("cluster_raft_is_leader:%d\r\n", driver_is_leader());
    ADD("cluster_raft_term:%llu\r\n", (unsigned long long)di.term);
    ADD("cluster_raft_commit_index:%llu\r\n", (unsigned long long)di.commit);
    ADD("cluster_raft_applied_index:%llu\r\n", (unsigned long long)di.applied);
    ADD("cluster_raft_first_index:%llu\r\n", (unsigned long long)di.first_index);
    ADD("cluster_raft_last_index:%llu\r\n", (unsigned long long)di.last_index);
    ADD("cluster_raft_snapshot_index:%llu\r\n", (unsigned long long)di.snapshot_index);
    ADD("cluster_raft_log_bytes:%llu\r\n", (unsigned long long)kvlog_bytes(srv.log));
    ADD("cluster_raft_peers:%d\r\n", peers);
    ADD("cluster_raft_peers_heard:%d\r\n", connected);
}

static void commandstats_section(resp_buf *t)
{
    char line[512];
    for (int i = 0; i < ncmds; i++) {
        const cmdstat *s = &cmds[i];
        if (!s->name || (!s->calls && !s->rejected && !s->failed)) continue;
        ADD("cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=%llu,"
            "failed_calls=%llu\r\n",
            s->name, (unsigned long long)s->calls, (unsigned long long)s->usec,
            s->calls ? (double)s->usec / (double)s->calls : 0.0, (unsigned long long)s->rejected,
            (unsigned long long)s->failed);
    }
}

static void latencystats_section(resp_buf *t)
{
    char line[512];
    for (int i = 0; i < ncmds; i++) {
        const cmdstat *s = &cmds[i];
        if (!s->name || !s->calls || !s->hist) continue;
        ADD("latency_percentiles_usec_%s:p50=%.3f,p99=%.3f,p99.9=%.3f\r\n", s->name,
            (double)hist_percentile(s->hist, s->calls, 50.0),
            (double)hist_percentile(s->hist, s->calls, 99.0),
            (double)hist_percentile(s->hist, s->calls, 99.9));
    }
}

void info_reply(client *c, resp_buf *b, int argc, char **argv)
{
    (void)c;
    resp_buf tb;
    resp_buf *t = &tb;
    char line[512];
    int64_t now = mstime();
    unsigned want = select_sections(argc, argv);
    int printed = 0;
    resp_buf_init(t, 2);

    for (int sec = 0; sec < S_COUNT; sec++) {
        if (!(want & (1u << sec))) continue;
        if (printed++) resp_add_raw(t, "\r\n", 2);
        ADD("# %s\r\n", sections[sec].title);
        switch (sec) {
        case S_SERVER: {
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
            break;
        }
        case S_CLIENTS: {
            ADD("connected_clients:%d\r\n", srv.nclients);
            char tf[160];
            tracking_info_fields(tf, sizeof(tf), 0);
            ADD("%s", tf);
            ADD("maxclients:%d\r\n", cfg.maxclients);
            ADD("blocked_clients:%d\r\n", blocking_count());
            break;
        }
        case S_MEMORY: {
            size_t rss = rss_bytes();
            ADD("used_memory:%zu\r\n", rss);
            ADD("used_memory_rss:%zu\r\n", rss);
            const kv_memconf *mc = kvstate_memconf(srv.state);
            uint64_t acct = kvstate_accounted(srv.state);
            char h[32];
            evict_bytes_human(h, sizeof(h), mc->maxmemory);
            ADD("maxmemory:%llu\r\n", (unsigned long long)mc->maxmemory);
            ADD("maxmemory_human:%s\r\n", h);
            ADD("maxmemory_policy:%s\r\n", kv_policy_name(mc->policy));
            ADD("mem_not_counted_for_evict:0\r\n");
            evict_bytes_human(h, sizeof(h), acct);
            ADD("raftkv_accounted_memory:%llu\r\n", (unsigned long long)acct);
            ADD("raftkv_accounted_memory_human:%s\r\n", h);
            ADD("lmdb_state_used_pct:%d\r\n", kvstate_used_pct(srv.state));
            ADD("lmdb_state_pages:%llu\r\n", (unsigned long long)kvstate_pages(srv.state));
            ADD("lmdb_log_used_pct:%d\r\n", kvlog_used_pct(srv.log));
            /* Scripts: the VM's base (what it holds between runs: each run
             * starts from it) and the replicated script cache. */
            uint64_t lua = kvlua_base_memory(), nscripts = 0, sbytes = 0;
            kvstate_script_stats(srv.state, &nscripts, &sbytes);
            char h1[32], h2[32];
            info_human(lua, h1, sizeof(h1));
            info_human(sbytes, h2, sizeof(h2));
            ADD("used_memory_lua:%llu\r\n", (unsigned long long)lua);
            ADD("used_memory_vm_eval:%llu\r\n", (unsigned long long)lua);
            ADD("used_memory_lua_human:%s\r\n", h1);
            ADD("used_memory_scripts_eval:%llu\r\n", (unsigned long long)sbytes);
            ADD("number_of_cached_scripts:%llu\r\n", (unsigned long long)nscripts);
            /* Functions run in the same VM as scripts (its base counted
             * once, as used_memory_vm_eval); their libraries are state. */
            uint64_t nfuncs = 0, fbytes = 0;
            kvstate_function_stats(srv.state, &nfuncs, &fbytes);
            char h3[32], h4[32];
            info_human(lua, h3, sizeof(h3));
            info_human(sbytes + fbytes, h4, sizeof(h4));
            ADD("number_of_functions:%llu\r\n", (unsigned long long)nfuncs);
            ADD("used_memory_vm_functions:0\r\n");
            ADD("used_memory_vm_total:%llu\r\n", (unsigned long long)lua);
            ADD("used_memory_vm_total_human:%s\r\n", h3);
            ADD("used_memory_functions:%llu\r\n", (unsigned long long)fbytes);
            ADD("used_memory_scripts:%llu\r\n", (unsigned long long)(sbytes + fbytes));
            ADD("used_memory_scripts_human:%s\r\n", h4);
            break;
        }
        case S_PERSISTENCE: {
            /* The state file plays the RDB (a commit makes applied entries
             * durable in it), the Raft log the AOF (fsynced before an
             * entry counts). */
            uint64_t applied = kvstate_applied_index(srv.state);
            uint64_t durable = kvstate_durable_index(srv.state);
            driver_info di;
            driver_status(&di);
            ADD("loading:0\r\n");
            ADD("async_loading:0\r\n");
            ADD("rdb_changes_since_last_save:%llu\r\n",
                (unsigned long long)(applied > durable ? applied - durable : 0));
            {
                char bl[400]; /* SAVE/BGSAVE write a backup (backup.c) */
                backup_info_fields(bl, sizeof(bl));
                ADD("%s", bl);
            }
            ADD("aof_enabled:1\r\n");
            ADD("aof_rewrite_in_progress:0\r\n");
            ADD("aof_rewrite_scheduled:0\r\n");
            ADD("aof_last_write_status:ok\r\n");
            ADD("raft_log_syncs:%llu\r\n", (unsigned long long)srv.stats.syncs);
            ADD("raft_log_last_sync_time:%lld\r\n", (long long)(last_sync_ms / 1000));
            ADD("raft_state_commits:%llu\r\n", (unsigned long long)state_commits);
            ADD("raft_state_last_commit_time:%lld\r\n", (long long)(last_commit_ms / 1000));
            ADD("raft_state_durable_index:%llu\r\n", (unsigned long long)durable);
            ADD("raft_state_commit_in_progress:%d\r\n", kvstate_committing(srv.state));
            ADD("raft_state_apply_queued:%llu\r\n", (unsigned long long)driver_unapplied_entries());
            ADD("raft_last_snapshot_index:%llu\r\n", (unsigned long long)di.snapshot_index);
            break;
        }
        case S_STATS: {
            ADD("total_connections_received:%llu\r\n", (unsigned long long)srv.stats.connections);
            ADD("total_commands_processed:%llu\r\n", (unsigned long long)srv.stats.commands);
            ADD("total_net_input_bytes:%llu\r\n", (unsigned long long)srv.stats.net_in);
            ADD("total_net_output_bytes:%llu\r\n", (unsigned long long)srv.stats.net_out);
            ADD("rejected_connections:%llu\r\n", (unsigned long long)srv.stats.rejected_conn);
            ADD("expired_keys:%llu\r\n", (unsigned long long)srv.stats.expired_keys);
            ADD("evicted_keys:%llu\r\n", (unsigned long long)kvstate_evicted(srv.state));
            ADD("raftkv_eviction_entries:%llu\r\n", (unsigned long long)evict_entries_proposed());
            ADD("pubsub_channels:%zu\r\n", pubsub_server_count(PUBSUB_CHANNEL));
            ADD("pubsub_patterns:%zu\r\n", pubsub_server_count(PUBSUB_PATTERN));
            ADD("pubsubshard_channels:%zu\r\n", pubsub_server_count(PUBSUB_SHARD));
            ADD("collections_to_clean:%llu\r\n", (unsigned long long)kvstate_gc_pending(srv.state));
            char tf[160];
            tracking_info_fields(tf, sizeof(tf), 1);
            ADD("%s", tf);
            ADD("unexpected_error_replies:0\r\n");
            ADD("total_error_replies:%llu\r\n", (unsigned long long)total_errors);
            ADD("raft_entries_proposed:%llu\r\n", (unsigned long long)srv.stats.entries);
            ADD("raft_lease_reads:%llu\r\n", (unsigned long long)srv.stats.lease_reads);
            ADD("raft_read_rounds:%llu\r\n", (unsigned long long)srv.stats.read_rounds);
            ADD("raft_read_round_reads:%llu\r\n", (unsigned long long)srv.stats.round_reads);
            ADD("raft_read_rounds_reasked:%llu\r\n", (unsigned long long)srv.stats.read_reasked);
            ADD("raft_peer_msgs_unsent:%llu\r\n", (unsigned long long)srv.stats.peer_msgs_unsent);
            driver_info dstat;
            driver_status(&dstat); /* malformed (driver) and impossible (raft) messages */
            ADD("raft_peer_msgs_dropped:%llu\r\n",
                (unsigned long long)(srv.stats.peer_msgs_dropped + dstat.dropped_msgs));
            char ls[1024];
            loopstat_info(ls, sizeof(ls));
            ADD("%s", ls);
            break;
        }
        case S_REPLICATION:
            replication_section(t);
            break;
        case S_CPU: {
            struct rusage ru;
            getrusage(RUSAGE_SELF, &ru);
            ADD("used_cpu_sys:%ld.%06ld\r\n", (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec);
            ADD("used_cpu_user:%ld.%06ld\r\n", (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec);
            break;
        }
        case S_MODULES:
            break;
        case S_COMMANDSTATS:
            commandstats_section(t);
            break;
        case S_ERRORSTATS:
            for (int i = 0; i < nerrs; i++)
                ADD("errorstat_%s:count=%llu\r\n", errs[i].word, (unsigned long long)errs[i].count);
            break;
        case S_LATENCYSTATS:
            latencystats_section(t);
            break;
        case S_CLUSTER:
            ADD("cluster_enabled:0\r\n");
            cluster_raft_fields(t);
            break;
        case S_KEYSPACE:
            for (int db = 0; db < cfg.databases; db++) {
                uint64_t keys = kvstate_dbsize(srv.state, db);
                if (keys)
                    ADD("db%d:keys=%llu,expires=%llu,avg_ttl=0\r\n", db, (unsigned long long)keys,
                        (unsigned long long)kvstate_expires(srv.state, db));
            }
            break;
        case S_RAFT: {
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
            size_t n = membership_info(peers, sizeof(peers));
            resp_add_raw(t, peers, n);
            n = driver_peer_lines(peers, sizeof(peers));
            resp_add_raw(t, peers, n);
            n = snapshot_info(peers, sizeof(peers));
            resp_add_raw(t, peers, n);
            break;
        }
        }
    }
    resp_add_verbatim(b, "txt", t->p ? t->p : "", t->len);
    resp_buf_free(t);
}

/* ROLE as Redis answers it: the leader lists the followers it heard from
 * (not those receiving a snapshot: Redis lists online replicas only); a
 * follower's link state is "connected", "sync" while a snapshot stages,
 * else "connect", and its offset -1 while the link is down. */
void info_role_reply(client *c, resp_buf *b)
{
    (void)c;
    driver_info di;
    driver_status(&di);
    if (driver_is_leader()) {
        struct raft_node *node = driver_raft();
        char host[RAFT_MAX_NODES][64];
        int port[RAFT_MAX_NODES];
        uint64_t match[RAFT_MAX_NODES];
        int n = 0;
        for (size_t i = 0; n < RAFT_MAX_NODES; i++) {
            uint64_t id;
            const char *h;
            int p;
            if (driver_member(i, &id, &h, &p) < 0) break;
            if (id == (uint64_t)cfg.node_id || !link_up(heard_ago(id))) continue;
            raft_peer_progress pp = {0};
            for (uint32_t j = 0; raft_get_progress(node, j, &pp) == 0; j++)
                if (pp.id == id) break;
            if (pp.id != id || pp.state == RAFT_PR_SNAPSHOT) continue;
            snprintf(host[n], sizeof(host[n]), "%s", h);
            port[n] = p;
            match[n++] = pp.match;
        }
        resp_add_array(b, 3);
        resp_add_bulk_str(b, "master");
        resp_add_int(b, (int64_t)di.last_index);
        resp_add_array(b, n);
        for (int i = 0; i < n; i++) {
            resp_add_array(b, 3);
            resp_add_bulk_str(b, host[i]);
            resp_add_bulk_int(b, port[i]);
            resp_add_bulk_int(b, (int64_t)match[i]);
        }
        return;
    }
    int lport = 0;
    const char *lhost = driver_leader_addr(&lport);
    int up = lhost && link_up(heard_ago(driver_leader_id()));
    uint64_t bytes;
    int64_t idle;
    const char *state = up ? "connected" : "connect";
    if (snapshot_receiving(&bytes, &idle)) state = "sync";
    resp_add_array(b, 5);
    resp_add_bulk_str(b, "slave");
    resp_add_bulk_str(b, lhost ? lhost : "");
    resp_add_int(b, lhost ? lport : 0);
    resp_add_bulk_str(b, state);
    resp_add_int(b, up ? (int64_t)di.applied : -1);
}
