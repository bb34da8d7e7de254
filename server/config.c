/* config.c -- the configuration table and its parsers. */
#include "server/config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server/log.h"
#include "storage/kvstate.h"
#include "storage/kvcmd.h"

config cfg;
static int (*notify_source)(void);
static const kv_memconf *(*memconf_source)(void);
static long long (*script_source)(int max_memory);
static char *config_file; /* the file the node started with (absolute); NULL: none */

/* CT_NOTIFY: notify-keyspace-events, state of the cluster (kvstate.h): read
 * from the state, set through the log (config_set_notify), and in a file
 * or on the command line only as "" (nothing to set). */
/* CT_MEMCONF: maxmemory and its companions (min: the field), state of the
 * cluster too, set through the log as one RAFT.MEMCONF entry; a file's or
 * command line's values are proposed by the node when it first leads.
 * CT_SCRIPT: the script budgets, cluster-wide state like CT_NOTIFY
 * (RAFT.SCRIPTCONF; a file may only give the default). */
enum {
    CT_INT,
    CT_MEM,
    CT_BOOL,
    CT_STRING,
    CT_ENUM,
    CT_OBUF,
    CT_CONST,
    CT_NOTIFY,
    CT_MEMCONF,
    CT_SCRIPT
};
enum { MC_MAXMEMORY, MC_POLICY, MC_SAMPLES, MC_LFU_LOG, MC_LFU_DECAY };
/* CF_SECRET: never shown (CONFIG GET, CONFIG GET *, anywhere else); the
 * cluster secret is one. requirepass is not: Redis returns it, and a
 * client that can run CONFIG GET is past it anyway. */
/* CF_TLS: CONFIG SET rebuilds the TLS contexts (config_set_tls_hook).
 * tls-key-file-pass (and tls-client-key-file-pass) is CF_SECRET although
 * Redis shows it: it unlocks the node's private key (DESIGN.md: secrets
 * never leave the node). */
enum { CF_IMMUTABLE = 1, CF_SECRET = 2, CF_TLS = 4 };

typedef struct config_item {
    const char *name;
    int type;
    int flags;
    void *ptr;
    long long min, max;
    const char *def;
    const char *enums; /* "a|b|c" for CT_ENUM */
} config_item;

#define KB 1024LL
#define MB (1024LL * 1024)
#define GB (1024LL * 1024 * 1024)

static config_item items[] = {
    {"bind", CT_STRING, CF_IMMUTABLE, &cfg.bind, 0, 0, "* -::*", NULL},
    {"port", CT_INT, CF_IMMUTABLE, &cfg.port, 0, 65535, "6379", NULL},
    {"protected-mode", CT_BOOL, 0, &cfg.protected_mode, 0, 1, "yes", NULL},
    {"tcp-keepalive", CT_INT, 0, &cfg.tcp_keepalive, 0, INT_MAX, "300", NULL},
    {"timeout", CT_INT, 0, &cfg.timeout, 0, INT_MAX, "0", NULL},
    {"maxclients", CT_INT, 0, &cfg.maxclients, 1, INT_MAX, "10000", NULL},
    {"proto-max-bulk-len", CT_MEM, 0, &cfg.proto_max_bulk_len, 1024 * 1024, LLONG_MAX, "512mb",
     NULL},
    {"client-query-buffer-limit", CT_MEM, 0, &cfg.client_query_buffer_limit, 1024 * 1024, LLONG_MAX,
     "1gb", NULL},
    {"client-output-buffer-limit", CT_OBUF, 0, NULL, 0, 0, "normal 256mb 0 0 pubsub 32mb 8mb 60",
     NULL},
    {"requirepass", CT_STRING, 0, &cfg.requirepass, 0, 0, "", NULL},
    {"aclfile", CT_STRING, CF_IMMUTABLE, &cfg.aclfile, 0, 0, "", NULL},
    {"tls-port", CT_INT, CF_IMMUTABLE, &cfg.tls_port, 0, 65535, "0", NULL},
    {"tls-cert-file", CT_STRING, CF_TLS, &cfg.tls_cert_file, 0, 0, "", NULL},
    {"tls-key-file", CT_STRING, CF_TLS, &cfg.tls_key_file, 0, 0, "", NULL},
    {"tls-key-file-pass", CT_STRING, CF_TLS | CF_SECRET, &cfg.tls_key_file_pass, 0, 0, "", NULL},
    {"tls-client-cert-file", CT_STRING, CF_TLS, &cfg.tls_client_cert_file, 0, 0, "", NULL},
    {"tls-client-key-file", CT_STRING, CF_TLS, &cfg.tls_client_key_file, 0, 0, "", NULL},
    {"tls-client-key-file-pass", CT_STRING, CF_TLS | CF_SECRET, &cfg.tls_client_key_file_pass, 0, 0,
     "", NULL},
    {"tls-dh-params-file", CT_STRING, CF_TLS, &cfg.tls_dh_params_file, 0, 0, "", NULL},
    {"tls-ca-cert-file", CT_STRING, CF_TLS, &cfg.tls_ca_cert_file, 0, 0, "", NULL},
    {"tls-ca-cert-dir", CT_STRING, CF_TLS, &cfg.tls_ca_cert_dir, 0, 0, "", NULL},
    {"tls-auth-clients", CT_ENUM, 0, &cfg.tls_auth_clients, 0, 0, "yes", "no|yes|optional"},
    {"tls-protocols", CT_STRING, CF_TLS, &cfg.tls_protocols, 0, 0, "", NULL},
    {"tls-ciphers", CT_STRING, CF_TLS, &cfg.tls_ciphers, 0, 0, "", NULL},
    {"tls-ciphersuites", CT_STRING, CF_TLS, &cfg.tls_ciphersuites, 0, 0, "", NULL},
    {"tls-prefer-server-ciphers", CT_BOOL, CF_TLS, &cfg.tls_prefer_server_ciphers, 0, 1, "no",
     NULL},
    {"tls-session-caching", CT_BOOL, CF_TLS, &cfg.tls_session_caching, 0, 1, "yes", NULL},
    {"tls-session-cache-size", CT_INT, CF_TLS, &cfg.tls_session_cache_size, 0, INT_MAX, "20480",
     NULL},
    {"tls-session-cache-timeout", CT_INT, CF_TLS, &cfg.tls_session_cache_timeout, 0, INT_MAX, "300",
     NULL},
    {"tls-cluster", CT_BOOL, CF_IMMUTABLE, &cfg.tls_cluster, 0, 1, "no", NULL},
    {"dir", CT_STRING, CF_IMMUTABLE, &cfg.dir, 0, 0, ".", NULL},
    {"backup-dir", CT_STRING, 0, &cfg.backup_dir, 0, 0, "", NULL}, /* server/backup.h */
    {"lmdb-state-mapsize", CT_MEM, CF_IMMUTABLE, &cfg.state_mapsize, 16 * MB, LLONG_MAX, "64gb",
     NULL},
    {"lmdb-log-mapsize", CT_MEM, CF_IMMUTABLE, &cfg.log_mapsize, 16 * MB, LLONG_MAX, "16gb", NULL},
    {"lmdb-high-water", CT_INT, 0, &cfg.high_water_pct, 1, 100, "90", NULL},
    {"appendfsync", CT_ENUM, CF_IMMUTABLE, &cfg.appendfsync, 0, 0, "always", "always"},
    {"node-id", CT_INT, CF_IMMUTABLE, &cfg.node_id, 1, INT_MAX, "1", NULL},
    {"cluster", CT_STRING, CF_IMMUTABLE, &cfg.cluster, 0, 0, "", NULL},
    {"join", CT_BOOL, CF_IMMUTABLE, &cfg.join, 0, 1, "no", NULL},
    {"cluster-override", CT_BOOL, CF_IMMUTABLE, &cfg.cluster_override, 0, 1, "no", NULL},
    {"learner-auto-promote", CT_INT, 0, &cfg.learner_auto_promote, 0, INT_MAX, "0", NULL},
    {"cluster-id", CT_STRING, CF_IMMUTABLE, &cfg.cluster_id, 0, 0, "", NULL},
    {"cluster-secret", CT_STRING, CF_IMMUTABLE | CF_SECRET, &cfg.cluster_secret, 0, 0, "", NULL},
    {"election-timeout", CT_INT, CF_IMMUTABLE, &cfg.election_timeout, 10, INT_MAX, "1000", NULL},
    {"heartbeat-interval", CT_INT, CF_IMMUTABLE, &cfg.heartbeat_interval, 1, INT_MAX, "100", NULL},
    {"raft-request-timeout", CT_INT, 0, &cfg.raft_request_timeout, 1, INT_MAX, "5000", NULL},
    {"raft-log-keep", CT_INT, 0, &cfg.raft_log_keep, 0, INT_MAX, "10000", NULL},
    {"raft-log-keep-bytes", CT_MEM, 0, &cfg.raft_log_keep_bytes, 0, LLONG_MAX, "256mb", NULL},
    {"raft-snapshot-max-rate", CT_MEM, 0, &cfg.raft_snapshot_max_rate, 0, LLONG_MAX, "0", NULL},
    {"follower-mode", CT_ENUM, 0, &cfg.follower_mode, 0, 0, "proxy", "proxy|redirect"},
    {"read-mode", CT_ENUM, 0, &cfg.read_mode, 0, 0, "linearizable", "linearizable|lease"},
    {"tracking-table-max-keys", CT_MEM, 0, &cfg.tracking_table_max_keys, 0, LLONG_MAX, "1000000",
     NULL},
    {"slowlog-log-slower-than", CT_INT, 0, &cfg.slowlog_log_slower_than, -1, INT_MAX, "10000",
     NULL},
    {"slowlog-max-len", CT_INT, 0, &cfg.slowlog_max_len, 0, INT_MAX, "128", NULL},
    {"latency-monitor-threshold", CT_INT, 0, &cfg.latency_monitor_threshold, 0, INT_MAX, "0", NULL},
    {"loglevel", CT_ENUM, 0, &cfg.loglevel, 0, 0, "notice", "debug|verbose|notice|warning"},
    {"logfile", CT_STRING, CF_IMMUTABLE, &cfg.logfile, 0, 0, "", NULL},
    {"pidfile", CT_STRING, CF_IMMUTABLE, &cfg.pidfile, 0, 0, "", NULL},
    {"daemonize", CT_BOOL, CF_IMMUTABLE, &cfg.daemonize, 0, 1, "no", NULL},
    {"enable-debug-command", CT_ENUM, CF_IMMUTABLE, &cfg.enable_debug_command, 0, 0, "no",
     "no|yes|local"},
    /* At most the state's physical databases (storage/kvint.h). */
    {"databases", CT_INT, CF_IMMUTABLE, &cfg.databases, 1, KV_MAX_DBS, "16", NULL},
    {"notify-keyspace-events", CT_NOTIFY, 0, NULL, 0, 0, "", NULL},
    /* The Lua script budgets (storage/kvlua.h): cluster-wide. */
    {"script-instruction-budget", CT_SCRIPT, 0, NULL, 0, LLONG_MAX, "200000000", NULL},
    {"script-max-memory", CT_SCRIPT, 0, NULL, 0, 1024 * MB, "64mb", NULL},
    /* Fixed facts clients ask about; accepted in files, never changed. */
    {"save", CT_CONST, 0, NULL, 0, 0, "", NULL},
    {"appendonly", CT_CONST, 0, NULL, 0, 0, "yes", NULL},
    {"maxmemory", CT_MEMCONF, 0, NULL, MC_MAXMEMORY, 0, "0", NULL},
    {"maxmemory-policy", CT_MEMCONF, 0, NULL, MC_POLICY, 0, "noeviction", NULL},
    {"maxmemory-samples", CT_MEMCONF, 0, NULL, MC_SAMPLES, 0, "5", NULL},
    {"lfu-log-factor", CT_MEMCONF, 0, NULL, MC_LFU_LOG, 0, "10", NULL},
    {"lfu-decay-time", CT_MEMCONF, 0, NULL, MC_LFU_DECAY, 0, "1", NULL},
    {"cluster-enabled", CT_CONST, CF_IMMUTABLE, NULL, 0, 0, "no", NULL},
};

#define NITEMS (sizeof(items) / sizeof(items[0]))

long long config_parse_mem(const char *s, int *err)
{
    char *end;
    *err = 0;
    errno = 0;
    if (!*s || !(isdigit((unsigned char)*s) || *s == '-')) goto bad;
    long long v = strtoll(s, &end, 10);
    if (errno) goto bad;
    long long mul = 1;
    if (!strcasecmp(end, "") || !strcasecmp(end, "b"))
        mul = 1;
    else if (!strcasecmp(end, "k"))
        mul = 1000;
    else if (!strcasecmp(end, "kb"))
        mul = KB;
    else if (!strcasecmp(end, "m"))
        mul = 1000 * 1000;
    else if (!strcasecmp(end, "mb"))
        mul = MB;
    else if (!strcasecmp(end, "g"))
        mul = 1000LL * 1000 * 1000;
    else if (!strcasecmp(end, "gb"))
        mul = GB;
    else
        goto bad;
    if (v < 0 || (v > 0 && mul > LLONG_MAX / v)) goto bad;
    return v * mul;
bad:
    *err = 1;
    return -1;
}

static int (*tls_hook)(void);

void config_set_tls_hook(int (*apply)(void))
{
    tls_hook = apply;
}

static config_item *lookup(const char *name)
{
    for (size_t i = 0; i < NITEMS; i++)
        if (!strcasecmp(items[i].name, name)) return &items[i];
    return NULL;
}

static int enum_has(const char *enums, const char *v)
{
    size_t n = strlen(v);
    const char *p = enums;
    while (p && *p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncasecmp(p, v, n)) return 1;
        p = bar ? bar + 1 : NULL;
    }
    return 0;
}

static void apply_side_effects(config_item *it)
{
    if (it->ptr == &cfg.loglevel) {
        static const char *lv[] = {"debug", "verbose", "notice", "warning"};
        for (int i = 0; i < 4; i++)
            if (!strcasecmp(cfg.loglevel, lv[i])) log_level = i;
    }
}

/* One maxmemory setting from text into m: NULL or Redis's reason. */
static const char *memconf_parse_one(int field, const char *v, kv_memconf *m)
{
    if (field == MC_MAXMEMORY) {
        int err;
        long long x = config_parse_mem(v, &err);
        if (err) return "argument must be a memory value";
        m->maxmemory = (uint64_t)x;
        return NULL;
    }
    if (field == MC_POLICY) {
        int p = kv_policy_parse(v, strlen(v));
        if (p < 0)
            return "argument(s) must be one of the following: volatile-lru, volatile-lfu, "
                   "volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, "
                   "noeviction";
        m->policy = p;
        return NULL;
    }
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || errno) return "argument couldn't be parsed into an integer";
    long long min = field == MC_SAMPLES ? 1 : 0;
    if (x < min || x > INT_MAX)
        return field == MC_SAMPLES ? "argument must be between 1 and 2147483647 inclusive"
                                   : "argument must be between 0 and 2147483647 inclusive";
    if (field == MC_SAMPLES)
        m->samples = (int)x;
    else if (field == MC_LFU_LOG)
        m->lfu_log_factor = (int)x;
    else
        m->lfu_decay_time = (int)x;
    return NULL;
}

static void memconf_value(int field, const kv_memconf *m, char *buf, size_t n)
{
    switch (field) {
    case MC_MAXMEMORY:
        snprintf(buf, n, "%llu", (unsigned long long)m->maxmemory);
        break;
    case MC_POLICY:
        snprintf(buf, n, "%s", kv_policy_name(m->policy));
        break;
    case MC_SAMPLES:
        snprintf(buf, n, "%d", m->samples);
        break;
    case MC_LFU_LOG:
        snprintf(buf, n, "%d", m->lfu_log_factor);
        break;
    default:
        snprintf(buf, n, "%d", m->lfu_decay_time);
        break;
    }
}

static const kv_memconf *memconf_now(void)
{
    return memconf_source ? memconf_source() : &cfg.mem_file;
}

/* Sets one item from text (argc words, for the few that take several).
 * Returns NULL or a reason for Redis's "CONFIG SET failed" message. */
static const char *set_item(config_item *it, int argc, char **argv)
{
    if (it->type == CT_OBUF) {
        /* client-output-buffer-limit <class> <hard> <soft> <seconds> ... */
        if (argc == 1) {
            static char *words[64];
            static char copy[512];
            int n = 0;
            snprintf(copy, sizeof(copy), "%s", argv[0]);
            for (char *t = strtok(copy, " "); t && n < 64; t = strtok(NULL, " "))
                words[n++] = t;
            return set_item(it, n, words);
        }
        if (argc % 4) return "Wrong number of arguments in buffer limit configuration.";
        for (int i = 0; i < argc; i += 4) {
            int e1, e2;
            long long hard = config_parse_mem(argv[i + 1], &e1);
            long long soft = config_parse_mem(argv[i + 2], &e2);
            char *end;
            long secs = strtol(argv[i + 3], &end, 10);
            if (e1 || e2 || *end || secs < 0)
                return "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
            if (!strcasecmp(argv[i], "normal")) {
                cfg.obuf_hard = hard;
                cfg.obuf_soft = soft;
                cfg.obuf_soft_seconds = (int)secs;
            } else if (!strcasecmp(argv[i], "pubsub")) {
                cfg.obuf_pubsub_hard = hard;
                cfg.obuf_pubsub_soft = soft;
                cfg.obuf_pubsub_soft_seconds = (int)secs;
            } else if (strcasecmp(argv[i], "replica") && strcasecmp(argv[i], "slave")) {
                return "Invalid client class specified in buffer limit configuration.";
            }
        }
        return NULL;
    }
    if (argc != 1) return "wrong number of arguments";
    const char *v = argv[0];
    switch (it->type) {
    case CT_INT: {
        char *end;
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (!*v || *end || errno) return "argument couldn't be parsed into an integer";
        if (x < it->min || x > it->max) return "argument must be between the allowed range";
        *(int *)it->ptr = (int)x;
        break;
    }
    case CT_MEM: {
        int err;
        long long x = config_parse_mem(v, &err);
        if (err) return "argument must be a memory value";
        if (x < it->min || x > it->max) return "argument must be between the allowed range";
        *(long long *)it->ptr = x;
        break;
    }
    case CT_BOOL:
        if (!strcasecmp(v, "yes"))
            *(int *)it->ptr = 1;
        else if (!strcasecmp(v, "no"))
            *(int *)it->ptr = 0;
        else
            return "argument must be 'yes' or 'no'";
        break;
    case CT_ENUM:
        if (!enum_has(it->enums, v)) {
            /* Redis lists the values: "one of the following: no, yes, optional" */
            static char why[256];
            size_t len = (size_t)snprintf(why, sizeof(why), "%s",
                                          "argument(s) must be one of the following: ");
            for (const char *p = it->enums; *p && len + 2 < sizeof(why); p++) {
                if (*p == '|') {
                    why[len++] = ',';
                    why[len++] = ' ';
                } else {
                    why[len++] = *p;
                }
            }
            why[len] = '\0';
            return why;
        }
        /* fallthrough */
    case CT_STRING: {
        char *copy = strdup(v);
        if (!copy) return "out of memory";
        free(*(char **)it->ptr);
        *(char **)it->ptr = copy;
        break;
    }
    case CT_CONST:
        break; /* accepted, fixed */
    case CT_MEMCONF: {
        /* From a file or the command line: the node's wish, proposed when
         * it leads (config_set_memconf does CONFIG SET). */
        const char *why = memconf_parse_one((int)it->min, v, &cfg.mem_file);
        if (why) return why;
        cfg.mem_file_set = 1;
        break;
    }
    case CT_SCRIPT:
        if (strcmp(v, it->def))
            return "is cluster-wide state kept in the replicated log: set it with CONFIG SET on "
                   "a running node (it then holds for every node and survives restarts)";
        break;
    case CT_NOTIFY:
        /* Which events applying emits must be the same on every node: only
         * the log sets it. */
        if (*v)
            return "is cluster-wide state kept in the replicated log: set it with CONFIG SET "
                   "notify-keyspace-events on a running node (it then holds for every node and "
                   "survives restarts)";
        break;
    }
    apply_side_effects(it);
    return NULL;
}

void config_init_defaults(void)
{
    const kv_memconf def = KV_MEMCONF_DEFAULT;
    cfg.mem_file = def;
    cfg.mem_file_set = 0;
    for (size_t i = 0; i < NITEMS; i++) {
        char *words[1] = {(char *)items[i].def};
        if (items[i].type == CT_CONST || items[i].type == CT_MEMCONF) continue;
        const char *why = set_item(&items[i], 1, words);
        if (why) {
            fprintf(stderr, "bad default for %s: %s\n", items[i].name, why);
            abort();
        }
    }
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Splits a config line into words with Redis's quoting (sdssplitargs):
 * inside double quotes \xHH, \n, \r, \t, \b, \a and \<any>; inside
 * single quotes \'; a closing quote must end the word. Words are written
 * in place. Returns the count, or -1 (unbalanced quotes, too many words). */
static int split_line(char *line, char **words, int max)
{
    int n = 0;
    char *p = line, *w;
    while (*p) {
        while (*p && isspace((unsigned char)*p))
            p++;
        if (!*p) break;
        if (n == max) return -1;
        if (*p == '"' || *p == '\'') {
            char q = *p++;
            w = p;
            char *o = p;
            while (*p && *p != q) {
                if (q == '"' && *p == '\\' && p[1] == 'x' && hex_digit(p[2]) >= 0 &&
                    hex_digit(p[3]) >= 0) {
                    *o++ = (char)(hex_digit(p[2]) * 16 + hex_digit(p[3]));
                    p += 4;
                    continue;
                }
                if (*p == '\\' && p[1] && (q == '"' || p[1] == '\'')) {
                    p++;
                    char e = *p;
                    if (q == '"')
                        e = e == 'n'   ? '\n'
                            : e == 'r' ? '\r'
                            : e == 't' ? '\t'
                            : e == 'b' ? '\b'
                            : e == 'a' ? '\a'
                                       : e;
                    *o++ = e;
                    p++;
                    continue;
                }
                *o++ = *p++;
            }
            if (*p != q) return -1;
            p++;
            if (*p && !isspace((unsigned char)*p)) return -1;
            *o = '\0';
        } else {
            w = p;
            while (*p && !isspace((unsigned char)*p))
                p++;
            if (*p) *p++ = '\0';
        }
        words[n++] = w;
    }
    return n;
}

static int apply_words(int n, char **w, const char *where, char *err, size_t errlen)
{
    config_item *it = lookup(w[0]);
    if (!it) {
        snprintf(err, errlen, "%s: Bad directive or wrong number of arguments: '%s'", where, w[0]);
        return -1;
    }
    /* bind takes its addresses as separate words, as in redis.conf. */
    char joined[1024];
    if (it->ptr == &cfg.bind && n > 2) {
        size_t len = 0;
        for (int i = 1; i < n && len < sizeof(joined); i++)
            len += (size_t)snprintf(joined + len, sizeof(joined) - len, "%s%s", i > 1 ? " " : "",
                                    w[i]);
        if (len >= sizeof(joined)) {
            snprintf(err, errlen, "%s: 'bind' too many addresses", where);
            return -1;
        }
        w[1] = joined;
        n = 2;
    }
    const char *why = set_item(it, n - 1, w + 1);
    if (why) {
        snprintf(err, errlen, "%s: '%s' %s", where, w[0], why);
        return -1;
    }
    return 0;
}

int config_load(const char *file, int argc, char **argv, char *err, size_t errlen)
{
    char line[4096], where[600];
    char *words[64];
    if (file) {
        FILE *fp = fopen(file, "r");
        if (!fp) {
            snprintf(err, errlen, "can't open config file '%s': %s", file, strerror(errno));
            return -1;
        }
        free(config_file);
        config_file = realpath(file, NULL);
        if (!config_file) config_file = strdup(file);
        int lineno = 0;
        while (fgets(line, sizeof(line), fp)) {
            lineno++;
            line[strcspn(line, "\r\n")] = '\0';
            char *p = line;
            while (isspace((unsigned char)*p))
                p++;
            if (*p == '#' || !*p) continue;
            int n = split_line(p, words, 64);
            snprintf(where, sizeof(where), "%s:%d", file, lineno);
            if (n < 0) {
                snprintf(err, errlen, "%s: unbalanced quotes in configuration line", where);
                fclose(fp);
                return -1;
            }
            if (n == 0) continue;
            if (apply_words(n, words, where, err, errlen)) {
                fclose(fp);
                return -1;
            }
        }
        fclose(fp);
    }
    /* --key value [value...]: values run until the next --key. */
    for (int i = 0; i < argc;) {
        if (strncmp(argv[i], "--", 2) || !argv[i][2]) {
            snprintf(err, errlen, "invalid argument '%s' (expected --key value)", argv[i]);
            return -1;
        }
        int n = 0;
        words[n++] = argv[i] + 2;
        i++;
        while (i < argc && strncmp(argv[i], "--", 2) && n < 64)
            words[n++] = argv[i++];
        if (apply_words(n, words, "command line", err, errlen)) return -1;
    }
    return 0;
}

static void item_value(const config_item *it, char *buf, size_t n)
{
    switch (it->type) {
    case CT_INT:
    case CT_BOOL:
        if (it->type == CT_BOOL)
            snprintf(buf, n, "%s", *(int *)it->ptr ? "yes" : "no");
        else
            snprintf(buf, n, "%d", *(int *)it->ptr);
        break;
    case CT_MEM:
        snprintf(buf, n, "%lld", *(long long *)it->ptr);
        break;
    case CT_STRING:
    case CT_ENUM:
        snprintf(buf, n, "%s", *(char **)it->ptr);
        break;
    case CT_OBUF:
        snprintf(buf, n, "normal %lld %lld %d slave 0 0 0 pubsub %lld %lld %d", cfg.obuf_hard,
                 cfg.obuf_soft, cfg.obuf_soft_seconds, cfg.obuf_pubsub_hard, cfg.obuf_pubsub_soft,
                 cfg.obuf_pubsub_soft_seconds);
        break;
    case CT_CONST:
        snprintf(buf, n, "%s", it->def);
        break;
    case CT_NOTIFY:
        kv_notify_format(notify_source ? notify_source() : 0, buf, n);
        break;
    case CT_MEMCONF:
        memconf_value((int)it->min, memconf_now(), buf, n);
        break;
    case CT_SCRIPT:
        snprintf(buf, n, "%lld",
                 script_source ? script_source(!strcmp(it->name, "script-max-memory"))
                 : !strcmp(it->name, "script-max-memory") ? 64 * MB
                                                          : 200000000LL);
        break;
    }
}

void config_set_memconf_source(const kv_memconf *(*get)(void))
{
    memconf_source = get;
}

int config_set_memconf(resp_buf *b, int argc, char **argv, size_t *lens, kv_memconf *out)
{
    (void)lens;
    int any = 0, other = -1;
    if (argc < 2 || argc % 2) return -1;
    for (int i = 0; i < argc; i += 2) {
        config_item *it = lookup(argv[i]);
        if (!it) return -1; /* config_set_reply names it */
        for (int j = 0; j < i; j += 2)
            if (lookup(argv[j]) == it) return -1; /* duplicate: config_set_reply says so */
        if (it->type == CT_MEMCONF)
            any = 1;
        else if (other < 0)
            other = i;
    }
    if (!any) return -1;
    if (other >= 0) {
        /* A node setting changes now, these when their entry commits: one
         * CONFIG SET cannot do both atomically. */
        for (int i = 0; i < argc; i += 2)
            if (lookup(argv[i])->type == CT_MEMCONF) {
                resp_add_errorf(b,
                                "ERR CONFIG SET failed (possibly related to argument '%s') - "
                                "maxmemory settings are cluster-wide: set them alone",
                                argv[i]);
                return -2;
            }
    }
    *out = *memconf_now();
    for (int i = 0; i < argc; i += 2) {
        const char *why = memconf_parse_one((int)lookup(argv[i])->min, argv[i + 1], out);
        if (why) {
            resp_add_errorf(b, "ERR CONFIG SET failed (possibly related to argument '%s') - %s",
                            argv[i], why);
            return -2;
        }
    }
    return 0;
}

void config_set_script_source(long long (*get)(int max_memory))
{
    script_source = get;
}

int config_set_script(resp_buf *b, int argc, char **argv, size_t *lens, long long *value)
{
    (void)lens;
    if (argc != 2) {
        for (int i = 0; i + 1 < argc; i += 2)
            if (lookup(argv[i]) && lookup(argv[i])->type == CT_SCRIPT) {
                resp_add_errorf(b,
                                "ERR CONFIG SET failed (possibly related to argument '%s') - "
                                "%s is cluster-wide: set it alone",
                                argv[i], argv[i]);
                return -2;
            }
        return -1;
    }
    config_item *it = lookup(argv[0]);
    if (!it || it->type != CT_SCRIPT) return -1;
    int mem = !strcmp(it->name, "script-max-memory");
    long long x;
    int err = 0;
    if (mem) {
        x = config_parse_mem(argv[1], &err);
    } else {
        char *end;
        errno = 0;
        x = strtoll(argv[1], &end, 10);
        err = !*argv[1] || *end || errno;
    }
    if (err || x < it->min || x > it->max) {
        resp_add_errorf(b, "ERR CONFIG SET failed (possibly related to argument '%s') - %s",
                        argv[0],
                        err ? (mem ? "argument must be a memory value"
                                   : "argument couldn't be parsed into an integer")
                            : "argument must be between the allowed range");
        return -2;
    }
    *value = x;
    return mem;
}

void config_set_notify_source(int (*get)(void))
{
    notify_source = get;
}

int config_set_notify(resp_buf *b, int argc, char **argv, size_t *lens)
{
    int at = -1;
    if (argc < 2 || argc % 2) return -1;
    for (int i = 0; i < argc; i += 2)
        if (lookup(argv[i]) && lookup(argv[i])->type == CT_NOTIFY) at = i;
    if (at < 0) return -1;
    if (argc > 2) {
        /* A node setting changes now, this one when its entry commits: one
         * CONFIG SET cannot do both atomically. */
        for (int i = 0; i < argc; i += 2)
            if (i != at && lookup(argv[i]) == lookup(argv[at])) return -1; /* duplicate */
        resp_add_errorf(b,
                        "ERR CONFIG SET failed (possibly related to argument '%s') - "
                        "notify-keyspace-events is cluster-wide: set it alone",
                        argv[at]);
        return -2;
    }
    int flags = kv_notify_parse(argv[at + 1], lens[at + 1]);
    if (flags < 0) {
        resp_add_errorf(b,
                        "ERR CONFIG SET failed (possibly related to argument '%s') - Invalid "
                        "event class character. Use 'Ag$lshzxeKEtmdn'.",
                        argv[at]);
        return -2;
    }
    return flags;
}

void config_get_reply(resp_buf *b, int npat, char **pat)
{
    size_t mark = resp_add_deferred(b);
    int64_t n = 0;
    char val[1024];
    for (size_t i = 0; i < NITEMS; i++) {
        if (items[i].flags & CF_SECRET) continue;
        int hit = 0;
        for (int j = 0; j < npat && !hit; j++)
            hit = fnmatch(pat[j], items[i].name, FNM_CASEFOLD) == 0;
        if (!hit) continue;
        item_value(&items[i], val, sizeof(val));
        resp_add_bulk_str(b, items[i].name);
        resp_add_bulk_str(b, val);
        n++;
    }
    resp_set_deferred_map(b, mark, n);
}

void config_set_reply(resp_buf *b, int argc, char **argv, size_t *lens)
{
    (void)lens;
    if (argc < 2 || argc % 2) {
        resp_add_error(b, "ERR wrong number of arguments for 'config|set' command");
        return;
    }
    for (int i = 0; i < argc; i += 2) {
        config_item *it = lookup(argv[i]);
        for (int j = 0; j < i; j += 2)
            if (it && lookup(argv[j]) == it) {
                resp_add_errorf(b,
                                "ERR CONFIG SET failed (possibly related to argument '%s') - "
                                "duplicate parameter",
                                argv[i]);
                return;
            }
        if (!it) {
            resp_add_errorf(b, "ERR Unknown option or number of arguments for CONFIG SET - '%s'",
                            argv[i]);
            return;
        }
        if (it->flags & CF_IMMUTABLE) {
            resp_add_errorf(b,
                            "ERR CONFIG SET failed (possibly related to argument '%s') - can't "
                            "set immutable config",
                            argv[i]);
            return;
        }
    }
    /* All or nothing, as in Redis: a refused value, or TLS contexts that
     * cannot be built from the new values, puts every old value back. */
    int n = argc / 2, set = 0, tls = -1;
    char **old = calloc((size_t)n, sizeof(*old));
    char val[4096];
    if (!old) {
        resp_add_error(b, "ERR out of memory");
        return;
    }
    const char *why = NULL;
    int at = 0;
    for (int i = 0; i < n; i++) {
        item_value(lookup(argv[2 * i]), val, sizeof(val));
        if (!(old[i] = strdup(val))) {
            why = "out of memory";
            at = i;
            goto done;
        }
    }
    for (; set < n; set++) {
        config_item *it = lookup(argv[2 * set]);
        if ((why = set_item(it, 1, &argv[2 * set + 1]))) {
            at = set;
            goto done;
        }
        if ((it->flags & CF_TLS) && tls < 0) tls = set;
    }
    if (tls >= 0 && tls_hook && tls_hook()) {
        why = "Unable to update TLS configuration. Check server logs.";
        at = tls;
    }
done:
    if (why) {
        for (int i = set < n ? set : n - 1; i >= 0; i--)
            if (old[i]) (void)set_item(lookup(argv[2 * i]), 1, &old[i]);
        resp_add_errorf(b, "ERR CONFIG SET failed (possibly related to argument '%s') - %s",
                        argv[2 * at], why);
    } else {
        resp_add_ok(b);
    }
    for (int i = 0; i < n; i++)
        free(old[i]);
    free(old);
}

int config_redacted(const char *name)
{
    const config_item *it = lookup(name);
    return it && ((it->flags & CF_SECRET) || it->ptr == &cfg.requirepass);
}

int config_key_at(size_t i, config_key *k)
{
    if (i >= NITEMS) return 0;
    k->name = items[i].name;
    k->def = items[i].def;
    k->kind = items[i].type == CT_CONST       ? CONFIG_KEY_FIXED
              : items[i].flags & CF_IMMUTABLE ? CONFIG_KEY_STARTUP
                                              : CONFIG_KEY_RUNTIME;
    return 1;
}

/* ------------------------------------------------------ CONFIG REWRITE */

#define REWRITE_SIGNATURE "# Generated by CONFIG REWRITE"

typedef struct rw_line {
    char *text; /* owned */
    int item;   /* the setting it sets (index in items), or -1 */
} rw_line;

typedef struct rw_state {
    rw_line *lines;
    size_t n, cap;
    int has_signature;
    int oom;
} rw_state;

static void rw_add(rw_state *st, char *text, int item)
{
    if (!text) {
        st->oom = 1;
        return;
    }
    if (st->n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 64;
        rw_line *v = realloc(st->lines, cap * sizeof(*v));
        if (!v) {
            free(text);
            st->oom = 1;
            return;
        }
        st->lines = v;
        st->cap = cap;
    }
    st->lines[st->n].text = text;
    st->lines[st->n].item = item;
    st->n++;
}

static char *str_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *str_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!s) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* Redis's rewriteConfigReadOldFile(): the lines of the old file (split at
 * '\n', so a final newline leaves an empty last line), each trimmed of
 * "\r\t " at both ends. */
static int rw_read(rw_state *st, const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp) return errno == ENOENT ? 0 : -1;
    char *data = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *d = realloc(data, cap);
            if (!d) {
                free(data);
                fclose(fp);
                errno = ENOMEM;
                return -1;
            }
            data = d;
        }
        size_t r = fread(data + len, 1, 4096, fp);
        len += r;
        if (r < 4096) break;
    }
    int failed = ferror(fp);
    fclose(fp);
    if (failed) {
        free(data);
        errno = EIO;
        return -1;
    }
    for (size_t start = 0; len > 0 && start <= len;) {
        const char *nl = memchr(data + start, '\n', len - start);
        size_t end = nl ? (size_t)(nl - data) : len;
        size_t a = start, b = end;
        while (a < b && memchr("\r\t ", data[a], 3))
            a++;
        while (b > a && memchr("\r\t ", data[b - 1], 3))
            b--;
        char *line = str_printf("%.*s", (int)(b - a), data + a);
        int item = -1;
        if (line && line[0] && line[0] != '#') {
            char *copy = strdup(line), *words[64];
            int nw = copy ? split_line(copy, words, 64) : -1;
            config_item *it = nw > 0 ? lookup(words[0]) : NULL;
            free(copy);
            if (!it) { /* unparsable, or no setting of this server: kept, commented out */
                char *c = str_printf("# ??? %s", line);
                free(line);
                line = c;
            } else {
                item = (int)(it - items);
            }
        } else if (line && !strcmp(line, REWRITE_SIGNATURE)) {
            st->has_signature = 1;
        }
        rw_add(st, line, item);
        start = end + 1;
    }
    free(data);
    return st->oom ? (errno = ENOMEM, -1) : 0;
}

/* Redis's rewriteConfigFormatMemory(). */
static void fmt_mem(long long v, char *buf, size_t n)
{
    if (v && v % GB == 0)
        snprintf(buf, n, "%lldgb", v / GB);
    else if (v && v % MB == 0)
        snprintf(buf, n, "%lldmb", v / MB);
    else if (v && v % KB == 0)
        snprintf(buf, n, "%lldkb", v / KB);
    else
        snprintf(buf, n, "%lld", v);
}

/* Redis's sdscatrepr(): the string in double quotes, escaped so that
 * split_line() reads it back. */
static char *quoted(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(n * 4 + 3), *o = out;
    if (!out) return NULL;
    *o++ = '"';
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        switch (ch) {
        case '\\':
        case '"':
            *o++ = '\\';
            *o++ = (char)ch;
            break;
        case '\n':
            *o++ = '\\', *o++ = 'n';
            break;
        case '\r':
            *o++ = '\\', *o++ = 'r';
            break;
        case '\t':
            *o++ = '\\', *o++ = 't';
            break;
        case '\a':
            *o++ = '\\', *o++ = 'a';
            break;
        case '\b':
            *o++ = '\\', *o++ = 'b';
            break;
        default:
            if (isprint(ch))
                *o++ = (char)ch;
            else
                o += sprintf(o, "\\x%02x", ch);
        }
    }
    *o++ = '"';
    *o = '\0';
    return out;
}

/* The running value of a setting as its line in a file, and whether it is
 * not the default (Redis's "force": only then is a missing line added). */
static char *item_line(const config_item *it, int *force)
{
    char val[1024];
    switch (it->type) {
    case CT_INT:
        *force = *(int *)it->ptr != atoi(it->def);
        return str_printf("%s %d", it->name, *(int *)it->ptr);
    case CT_MEM: {
        int e;
        *force = *(long long *)it->ptr != config_parse_mem(it->def, &e);
        fmt_mem(*(long long *)it->ptr, val, sizeof(val));
        return str_printf("%s %s", it->name, val);
    }
    case CT_BOOL:
        *force = *(int *)it->ptr != !strcasecmp(it->def, "yes");
        return str_printf("%s %s", it->name, *(int *)it->ptr ? "yes" : "no");
    case CT_ENUM:
        *force = strcasecmp(*(char **)it->ptr, it->def) != 0;
        return str_printf("%s %s", it->name, *(char **)it->ptr);
    case CT_STRING: {
        const char *v = *(char **)it->ptr;
        *force = strcmp(v, it->def) != 0;
        if (it->ptr == &cfg.bind) return str_printf("%s %s", it->name, v); /* addresses, bare */
        char *q = quoted(v);
        char *line = q ? str_printf("%s %s", it->name, q) : NULL;
        free(q);
        return line;
    }
    case CT_MEMCONF: {
        /* The cluster's value: the file then agrees with the log. */
        char def[64];
        const kv_memconf d = KV_MEMCONF_DEFAULT;
        memconf_value((int)it->min, memconf_now(), val, sizeof(val));
        memconf_value((int)it->min, &d, def, sizeof(def));
        *force = strcmp(val, def) != 0;
        return str_printf("%s %s", it->name, val);
    }
    default:
        return NULL;
    }
}

/* Gives the setting's next old line the new text, or appends it when it is
 * not the default (Redis's rewriteConfigRewriteLine()). *next is where the
 * search for the setting's lines resumes. */
static void rw_rewrite_line(rw_state *st, int item, size_t *next, char *text, int force)
{
    if (!text) {
        st->oom = 1;
        return;
    }
    for (; *next < st->n; (*next)++) {
        if (st->lines[*next].item != item) continue;
        free(st->lines[*next].text);
        st->lines[*next].text = text;
        st->lines[*next].item = -2; /* rewritten: never matched again */
        (*next)++;
        return;
    }
    if (!force) {
        free(text);
        return;
    }
    if (!st->has_signature) {
        rw_add(st, strdup(REWRITE_SIGNATURE), -1);
        st->has_signature = 1;
    }
    rw_add(st, text, -2);
}

/* client-output-buffer-limit: a line per class Redis writes (normal,
 * pubsub; replica limits do not exist here). */
static void rw_obuf(rw_state *st, int item, size_t *next)
{
    char h[32], so[32];
    struct {
        const char *name;
        long long hard, soft;
        int secs;
        long long dh, ds;
        int dsecs;
    } cls[2] = {{"normal", cfg.obuf_hard, cfg.obuf_soft, cfg.obuf_soft_seconds, 256 * MB, 0, 0},
                {"pubsub", cfg.obuf_pubsub_hard, cfg.obuf_pubsub_soft, cfg.obuf_pubsub_soft_seconds,
                 32 * MB, 8 * MB, 60}};
    for (int i = 0; i < 2; i++) {
        fmt_mem(cls[i].hard, h, sizeof(h));
        fmt_mem(cls[i].soft, so, sizeof(so));
        int force =
            cls[i].hard != cls[i].dh || cls[i].soft != cls[i].ds || cls[i].secs != cls[i].dsecs;
        rw_rewrite_line(
            st, item, next,
            str_printf("client-output-buffer-limit %s %s %s %d", cls[i].name, h, so, cls[i].secs),
            force);
    }
}

/* Writes text to path through a temporary file beside it. 0, or -1 with
 * errno. */
static int write_atomically(const char *path, const char *text, size_t len)
{
    char tmp[4200], dir[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp-%d-%lld", path, (int)getpid(), (long long)time(NULL));
    struct stat old;
    mode_t mode = stat(path, &old) == 0 ? (old.st_mode & 07777) : 0644;
    int fd = open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) goto fail;
        off += (size_t)w;
    }
    if (fchmod(fd, mode) || fsync(fd)) goto fail;
    if (close(fd)) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path)) goto fail;
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else
        slash[slash == dir ? 1 : 0] = '\0';
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) { /* the rename itself durable; a directory that cannot be opened is no error */
        int rc = fsync(dfd);
        int e = errno;
        close(dfd);
        if (rc && e == EIO) {
            errno = e;
            return -1;
        }
    }
    return 0;
fail : {
    int e = errno;
    if (fd >= 0) close(fd);
    unlink(tmp);
    errno = e;
    return -1;
}
}

static int rewrite_file(const char *path)
{
    rw_state st = {0};
    int rc = -1;
    char *text = NULL;
    if (rw_read(&st, path)) goto out;
    for (size_t i = 0; i < NITEMS; i++) {
        const config_item *it = &items[i];
        size_t next = 0;
        int item = (int)i;
        /* Fixed facts and the log's notify-keyspace-events: lines as they are. */
        if (it->type == CT_CONST || it->type == CT_NOTIFY || it->type == CT_SCRIPT) continue;
        if (it->flags & CF_SECRET) {
            int in_file = 0;
            for (size_t j = 0; j < st.n && !in_file; j++)
                in_file = st.lines[j].item == item;
            if (!in_file) continue; /* never written into a file that did not hold it */
        }
        if (it->type == CT_OBUF) {
            rw_obuf(&st, item, &next);
        } else {
            int force = 0;
            char *line = item_line(it, &force);
            rw_rewrite_line(&st, item, &next, line, force);
        }
        /* Later lines of the same setting: blank (Redis's orphaned lines). */
        for (size_t j = 0; j < st.n; j++)
            if (st.lines[j].item == item) {
                st.lines[j].text[0] = '\0';
                st.lines[j].item = -2;
            }
    }
    if (st.oom) {
        errno = ENOMEM;
        goto out;
    }
    /* Each run of empty lines becomes one. */
    size_t len = 0;
    for (size_t j = 0; j < st.n; j++)
        len += strlen(st.lines[j].text) + 1;
    text = malloc(len + 1);
    if (!text) {
        errno = ENOMEM;
        goto out;
    }
    size_t off = 0;
    int was_empty = 0;
    for (size_t j = 0; j < st.n; j++) {
        size_t n = strlen(st.lines[j].text);
        if (!n && was_empty) continue;
        was_empty = !n;
        memcpy(text + off, st.lines[j].text, n);
        off += n;
        text[off++] = '\n';
    }
    rc = write_atomically(path, text, off);
out : {
    int e = errno;
    for (size_t j = 0; j < st.n; j++)
        free(st.lines[j].text);
    free(st.lines);
    free(text);
    errno = e;
}
    return rc;
}

void config_rewrite_reply(resp_buf *b)
{
    if (!config_file) {
        resp_add_error(b, "ERR The server is running without a config file");
        return;
    }
    if (rewrite_file(config_file)) {
        int e = errno;
        serverLog(LL_WARNING, "CONFIG REWRITE failed: %s", strerror(e));
        resp_add_errorf(b, "ERR Rewriting config file: %s", strerror(e));
        return;
    }
    serverLog(LL_NOTICE, "CONFIG REWRITE executed with success.");
    resp_add_ok(b);
}
