/* main.c -- raftkv-server: start-up, the event loop and shutdown. */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "server/backup.h"
#include "server/diag.h"
#include "server/evict.h"
#include "server/log.h"
#include "server/loopstat.h"
#include "server/acl.h"
#include "server/server.h"
#include "server/tls.h"
#include "storage/kverr.h"

server srv;

#define CRON_MS 25 /* expiry; clients every 4th run; state commit every 40th */

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    (void)arg;
    serverLog(LL_WARNING, "Received %s scheduling shutdown...",
              sig == SIGINT ? "SIGINT" : "SIGTERM");
    srv.shutdown_asap = 1;
    event_base_loopbreak(srv.base);
}

/* aclfile at start (acl.h): the leader of a cluster that has no users yet
 * proposes its file's users, one entry at a time until some are applied. */
static void aclfile_cron(void)
{
    static uint64_t in_flight;
    static int64_t in_flight_at;
    size_t len;
    int have = kvstate_acl(srv.state, &len) != NULL;
    if (!driver_is_leader() && !have) {
        in_flight = 0;
        return;
    }
    if (in_flight && !have && kvstate_applied_index(srv.state) < in_flight &&
        mstime() - in_flight_at < 1000)
        return;
    char **av;
    size_t *al;
    int n;
    if (!acl_startup_argv(have, &av, &al, &n)) return;
    if (write_propose_internal(n, av, al, &in_flight) == 0)
        in_flight_at = mstime();
    else
        in_flight = 0;
    acl_free_argv(av, al, n);
}

/* Deleted collections' element records, a bounded number per cron run:
 * a DEL of ten million elements costs the write what one element does,
 * and the cleanup never holds the loop more than a few milliseconds. */
#define GC_BUDGET 1024

static void collection_gc(void)
{
    if (kvstate_gc_pending(srv.state) == 0) return;
    int64_t t0 = mono_us();
    int rc = kvstate_gc(srv.state, GC_BUDGET);
    diag_latency_sample("collection-gc", mono_us() - t0);
    driver_held(loopstat_step("cleaning up deleted collections", t0));
    if (rc < 0) {
        serverLog(LL_WARNING, "Cleaning up deleted collections failed: %s (%s). Stopping.",
                  kv_strerror(rc), kvstate_last_error(srv.state));
        exit(1);
    }
}

/* Gives freed heap back to the kernel once the node has been quiet (no
 * entry applied, fewer than TRIM_IDLE_COMMANDS commands a run: a monitor's
 * polling is quiet) for TRIM_QUIET_RUNS cron runs (1 s): a burst (a
 * pipelined load, a follower catching up) leaves free chunks that would
 * otherwise stay resident as anonymous memory. Not under load: a
 * malloc_trim() walks every free chunk and held the loop 40-60 ms once a
 * second under 3-node SET -P 16 (most of its passes over 10 ms). Under a
 * load that never pauses, every TRIM_MAX_RUNS runs (60 s) still. */
#define TRIM_QUIET_RUNS 40
#define TRIM_IDLE_COMMANDS 100
#define TRIM_MAX_RUNS 2400

static void heap_trim_cron(void)
{
    static uint64_t seen_commands, seen_applied;
    static unsigned quiet, since_trim;
    uint64_t applied = kvstate_applied_index(srv.state);
    int busy = srv.stats.commands - seen_commands >= TRIM_IDLE_COMMANDS || applied != seen_applied;
    seen_commands = srv.stats.commands;
    seen_applied = applied;
    quiet = busy ? 0 : quiet + 1;
    if (quiet == TRIM_QUIET_RUNS || ++since_trim >= TRIM_MAX_RUNS) {
        malloc_trim(0);
        since_trim = 0;
    }
}

static void cron(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    loopstat_busy();
    static unsigned runs;
    int64_t t0 = mono_us();
    state_commit_cron(runs, t0);
    /* What reads or writes the state waits for a commit in flight: it
     * waits for the next run instead. */
    int committing = kvstate_committing(srv.state);
    if (!committing) {
        write_expire_cron();
        evict_cron();
        collection_gc();
    }
    aclfile_cron();
    snapshot_gc();
    if (++runs % 4 == 0) {
        clients_cron();
        proxy_cron();
    }
    heap_trim_cron();
    loopstat_add(LS_CRON, mono_us() - t0);
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    loopstat_busy();
    driver_tick();
}

/* A write applied here names key: client tracking invalidates it, and
 * it counts as an access for eviction (evict.h). */
static void key_written(void *ctx, int db, const char *key, size_t keylen)
{
    tracking_key_written(ctx, db, key, keylen);
    evict_touch_write(db, key, keylen);
}

static void end_of_pass(void)
{
    int64_t t0 = mono_us();
    clients_process_pending();
    loopstat_add(LS_COMMANDS, loopstat_step("running pending commands", t0));
    t0 = mono_us();
    write_end_of_pass();
    int64_t us = loopstat_step("the raft pass (log fsync, apply)", t0);
    loopstat_add(LS_RAFT, us);
    driver_held(us);
    t0 = mono_us();
    if (!kvstate_committing(srv.state)) evict_cron();
    tracking_end_of_pass();
    /* Replies and peer messages first: a state commit is not on any
     * request's path (the log made the writes durable). */
    driver_flush();
    clients_flush();
    state_commit_if_due();
    loopstat_add(LS_FLUSH, mono_us() - t0);
}

/* The state's file is mapped writable (kvstate.h): a page it grows into
 * past the blocks reserved for it is written through the mapping, and on a
 * full or failing disk that write faults with SIGBUS. The node stops as
 * for a failed write, naming the file and the error; a SIGBUS anywhere
 * else is not ours and kills the process as it would have. */
static char *map_lo, *map_hi;
static char bus_dir[512];

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    char *a = si->si_addr;
    if (a >= map_lo && a < map_hi) {
        struct statvfs fs;
        int full = statvfs(bus_dir, &fs) == 0 && fs.f_bavail < 16;
        char msg[768];
        int n = snprintf(msg, sizeof(msg),
                         "%d:M # Writing the state through its map (%s/data.mdb) failed: %s "
                         "(SIGBUS). Stopping.\n",
                         (int)getpid(), bus_dir,
                         full ? "No space left on device" : "Input/output error");
        if (n > (int)sizeof(msg) - 1) n = (int)sizeof(msg) - 1;
        if (write(log_fd(), msg, (size_t)n) < 0 || (log_fd() != 2 && write(2, msg, (size_t)n) < 0))
            (void)0;
        _exit(1);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

/* The map's range, from /proc/self/maps (LMDB does not say where it
 * mapped the file unless it chose the address). */
static void guard_state_map(void)
{
    char file[600], real[PATH_MAX], line[PATH_MAX + 128];
    snprintf(bus_dir, sizeof(bus_dir), "%s/state", cfg.dir);
    snprintf(file, sizeof(file), "%s/data.mdb", bus_dir);
    if (!realpath(file, real)) return;
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return;
    size_t rl = strlen(real);
    while (fgets(line, sizeof(line), f)) {
        size_t n = strlen(line);
        while (n && line[n - 1] == '\n')
            line[--n] = '\0';
        unsigned long lo, hi;
        if (n < rl || strcmp(line + n - rl, real) || sscanf(line, "%lx-%lx", &lo, &hi) != 2)
            continue;
        if (!map_lo || (char *)lo < map_lo) map_lo = (char *)lo;
        if ((char *)hi > map_hi) map_hi = (char *)hi;
    }
    fclose(f);
    if (!map_lo) return;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, NULL);
}

/* An fsync of path's parent directory, so path's name in it is durable.
 * Only EIO fails: a directory this process may not open or a file system
 * that does not fsync directories is no reason to refuse to start. */
static int fsync_parent(const char *path)
{
    char parent[4096];
    snprintf(parent, sizeof(parent), "%s", path);
    char *slash = strrchr(parent, '/');
    if (!slash)
        snprintf(parent, sizeof(parent), ".");
    else
        slash[slash == parent ? 1 : 0] = '\0';
    int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return 0;
    int rc = fsync(fd) != 0 && errno == EIO ? -1 : 0;
    close(fd);
    return rc;
}

/* mkdir -p, and every component's name made durable (each time, not only
 * when made here: a crash may have come between a mkdir and its fsync).
 * Without it a power loss soon after the first start could take the whole
 * data directory, votes and acknowledged entries with it. */
static int mkdir_p(const char *dir)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s", dir);
    for (size_t n = strlen(tmp); n > 1 && tmp[n - 1] == '/'; n--)
        tmp[n - 1] = '\0';
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if ((mkdir(tmp, 0755) && errno != EEXIST) || fsync_parent(tmp)) return -1;
        *p = '/';
    }
    if ((mkdir(tmp, 0755) && errno != EEXIST) || fsync_parent(tmp)) return -1;
    return 0;
}

/* A data directory belongs to one node of one cluster for its life. */
static int check_identity(char *err, size_t errlen)
{
    char want[256];
    snprintf(want, sizeof(want), "%d/%s", cfg.node_id, cfg.cluster_id);
    void *v = NULL;
    size_t n = 0;
    int rc = kvlog_get_meta(srv.log, "identity", &v, &n);
    if (rc == KV_ENOTFOUND) {
        rc = kvlog_set_meta(srv.log, "identity", want, strlen(want));
        if (!rc) rc = kvlog_sync(srv.log);
        if (rc) snprintf(err, errlen, "writing identity: %s", kv_strerror(rc));
        return rc ? -1 : 0;
    }
    if (rc) {
        snprintf(err, errlen, "reading identity: %s", kv_strerror(rc));
        return -1;
    }
    int same = n == strlen(want) && !memcmp(v, want, n);
    /* The membership changed since 'cluster' bootstrapped the cluster: the
     * 'cluster' naming the current members hashes to another id than the
     * cluster's, which the data directory keeps. */
    size_t pre = strcspn(want, "/") + 1;
    uint64_t mi;
    size_t ml;
    if (!same && driver_cluster_id_derived() && n > pre && !memcmp(v, want, pre) &&
        kvstate_members(srv.state, &mi, &ml)) {
        char *id = malloc(n - pre + 1);
        if (!id) {
            free(v);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        memcpy(id, (char *)v + pre, n - pre);
        id[n - pre] = '\0';
        serverLog(LL_NOTICE,
                  "cluster-id '%s' kept from the data directory (its membership changed since "
                  "'cluster' bootstrapped it)",
                  id);
        free(cfg.cluster_id);
        cfg.cluster_id = id;
        same = 1;
    }
    if (!same)
        snprintf(err, errlen,
                 "data directory '%s' belongs to node/cluster '%.*s', not '%s'; refusing to start",
                 cfg.dir, (int)n, (char *)v, want);
    free(v);
    return same ? 0 : -1;
}

/* CONFIG GET notify-keyspace-events: the state's (config.h). */
static const kv_memconf *state_memconf(void)
{
    static const kv_memconf def = KV_MEMCONF_DEFAULT;
    return srv.state ? kvstate_memconf(srv.state) : &def;
}

static int state_notify_flags(void)
{
    return srv.state ? kvstate_notify_flags(srv.state) : 0;
}

/* CONFIG GET script-instruction-budget / script-max-memory: the state's. */
static long long state_script_conf(int max_memory)
{
    uint64_t budget = 200000000, maxmem = 64 << 20;
    if (srv.state) kvstate_script_conf(srv.state, &budget, &maxmem);
    return (long long)(max_memory ? maxmem : budget);
}

int main(int argc, char **argv)
{
    char err[1024];
    int first_opt = 1;

    if (argc >= 2 && (!strcmp(argv[1], "-v") || !strcmp(argv[1], "--version"))) {
        printf("RaftKV server v=%s (Redis protocol %s)\n", RAFTKV_VERSION, REDIS_COMPAT_VERSION);
        return 0;
    }
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        config_print_help(stdout);
        return 0;
    }
    config_init_defaults();
    const char *file = NULL;
    if (argc >= 2 && strncmp(argv[1], "--", 2)) {
        file = argv[1];
        first_opt = 2;
    }
    const char *restore_from = backup_take_restore_option(&argc, argv);
    if (config_load(file, argc - first_opt, argv + first_opt, err, sizeof(err))) {
        fprintf(stderr, "\n*** FATAL CONFIG FILE ERROR ***\n%s\n", err);
        fprintf(stderr, "(raftkv-server --help lists every key)\n");
        return 1;
    }
    if (log_open(cfg.logfile)) {
        fprintf(stderr, "Can't open the log file %s: %s\n", cfg.logfile, strerror(errno));
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    srv.start_ms = mstime();
    srand((unsigned)(ustime() ^ getpid()));
    for (int i = 0; i < 40; i++)
        srv.run_id[i] = "0123456789abcdef"[rand() & 15];

    if (driver_configure(err, sizeof(err))) {
        serverLog(LL_WARNING, "%s", err);
        return 1;
    }
    /* After driver_configure (tls-cluster takes the tls-port from
     * `cluster`), before the transport's first connection. */
    config_set_tls_hook(tls_apply_config);
    if (tls_wanted() && tls_configure(err, sizeof(err))) {
        serverLog(LL_WARNING, "Failed to configure TLS. Check logs for more info.");
        return 1;
    }
    srv.base = event_base_new();
    if (!srv.base) {
        serverLog(LL_WARNING, "Can't create the event loop");
        return 1;
    }
    if (mkdir_p(cfg.dir)) {
        serverLog(LL_WARNING, "Can't create the data directory %s: %s", cfg.dir, strerror(errno));
        return 1;
    }
    if (kvlog_open(&srv.log, cfg.dir, (uint64_t)cfg.log_mapsize, err, sizeof(err)) ||
        kvstate_open(&srv.state, cfg.dir, (uint64_t)cfg.state_mapsize, err, sizeof(err))) {
        serverLog(LL_WARNING, "Can't open the data in %s: %s", cfg.dir, err);
        return 1;
    }
    if (restore_from && backup_restore(restore_from, err, sizeof(err))) {
        serverLog(LL_WARNING, "%s", err);
        return 1;
    }
    kvstate_hooks hooks = {.key_ready = blocking_key_ready,
                           .key_written = key_written,
                           .publish = pubsub_publish,
                           .acl_apply = acl_apply};
    kvstate_set_hooks(srv.state, &hooks);
    guard_state_map();
    kvstate_set_access(srv.state, evict_access, NULL);
    acl_init();
    size_t acl_len;
    const char *acl = kvstate_acl(srv.state, &acl_len);
    acl_state_loaded(acl, acl_len);
    if (acl_load_file_at_start(err, sizeof(err))) {
        serverLog(LL_WARNING, "%s", err);
        return 1;
    }
    config_set_notify_source(state_notify_flags);
    config_set_memconf_source(state_memconf);
    config_set_script_source(state_script_conf);
    if (check_identity(err, sizeof(err)) || driver_init(err, sizeof(err))) {
        serverLog(LL_WARNING, "%s", err);
        return 1;
    }
    /* Only now, with every check passed, is anything in the log mended. */
    if (kvlog_settle(srv.log)) {
        serverLog(LL_WARNING, "Can't open the log: %s", kvlog_last_error(srv.log));
        return 1;
    }
    if (kvlog_open_notes(srv.log)[0])
        serverLog(LL_WARNING, "The log needed mending at start: %s", kvlog_open_notes(srv.log));
    if (logsync_start()) {
        serverLog(LL_WARNING, "Can't start the log sync thread: %s", strerror(errno));
        return 1;
    }
    commands_init();
    if (net_listen(err, sizeof(err))) {
        serverLog(LL_WARNING, "%s", err);
        return 1;
    }
    srv.sig_ev[0] = evsignal_new(srv.base, SIGTERM, on_signal, NULL);
    srv.sig_ev[1] = evsignal_new(srv.base, SIGINT, on_signal, NULL);
    event_add(srv.sig_ev[0], NULL);
    event_add(srv.sig_ev[1], NULL);
    srv.cron_ev = event_new(srv.base, -1, EV_PERSIST, cron, NULL);
    struct timeval tv = {0, CRON_MS * 1000};
    event_add(srv.cron_ev, &tv);
    srv.tick_ev = event_new(srv.base, -1, EV_PERSIST, tick, NULL);
    struct timeval ttv = {0, TICK_MS * 1000};
    event_add(srv.tick_ev, &ttv);
    if (state_commit_watch(srv.base)) {
        serverLog(LL_WARNING, "Can't watch the state's commit thread");
        return 1;
    }
    evict_prepare();
    if (cfg.pidfile[0]) {
        FILE *fp = fopen(cfg.pidfile, "w");
        if (fp) {
            fprintf(fp, "%d\n", (int)getpid());
            fclose(fp);
        }
    }
    serverLog(LL_NOTICE, "RaftKV %s, node %d, %llu keys, applied index %llu, data in %s",
              RAFTKV_VERSION, cfg.node_id, (unsigned long long)kvstate_dbsize(srv.state, -1),
              (unsigned long long)kvstate_applied_index(srv.state), cfg.dir);
    if (cfg.port)
        serverLog(LL_NOTICE, "Ready to accept connections tcp on port %d (redis-cli -p %d)",
                  cfg.port, cfg.port);
    if (cfg.tls_port)
        serverLog(LL_NOTICE, "Ready to accept connections tls on port %d (redis-cli --tls -p %d)",
                  cfg.tls_port, cfg.tls_port);

    while (!srv.shutdown_asap) {
        int flags = EVLOOP_ONCE;
        if (srv.pending_input || driver_apply_behind()) flags |= EVLOOP_NONBLOCK;
        int64_t t0 = mono_us();
        pass_clock_set(t0);
        event_base_loop(srv.base, flags);
        loopstat_step("one round of I/O callbacks", t0);
        int64_t t1 = mono_us();
        pass_clock_set(t1);
        end_of_pass();
        loopstat_pass_end(t1);
    }

    serverLog(LL_WARNING, "Shutting down: syncing the log and committing the state...");
    logsync_stop();
    backup_wait();
    int rc = kvlog_sync(srv.log);
    state_commit_finish(); /* entries committed and not applied are replayed at start */
    if (!rc) rc = kvstate_commit(srv.state);
    while (srv.clients)
        client_free(srv.clients);
    kvstate_close(srv.state);
    kvlog_close(srv.log);
    if (cfg.pidfile[0]) unlink(cfg.pidfile);
    for (int i = 0; i < srv.nlisten; i++) {
        event_free(srv.listen_evs[i]);
        close(srv.listen_fds[i]);
    }
    event_free(srv.cron_ev);
    event_free(srv.tick_ev);
    event_free(srv.sig_ev[0]);
    event_free(srv.sig_ev[1]);
    event_base_free(srv.base);
    tls_shutdown();
    serverLog(LL_WARNING, "RaftKV is now ready to exit, bye bye...");
    return rc ? 1 : 0;
}
