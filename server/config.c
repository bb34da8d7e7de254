/* config.c -- the configuration table and its parsers. */
#include "server/config.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/log.h"
#include "storage/kvstate.h"
#include "storage/kvcmd.h"

config cfg;
static int (*notify_source)(void);

/* CT_NOTIFY: notify-keyspace-events, state of the cluster (kvstate.h): read
 * from the state, set through the log (config_set_notify), and in a file
 * or on the command line only as "" (nothing to set). */
enum { CT_INT, CT_MEM, CT_BOOL, CT_STRING, CT_ENUM, CT_OBUF, CT_CONST, CT_NOTIFY };
/* CF_SECRET: never shown (CONFIG GET, CONFIG GET *, anywhere else); the
 * cluster secret is one. requirepass is not: Redis returns it, and a
 * client that can run CONFIG GET is past it anyway. */
enum { CF_IMMUTABLE = 1, CF_SECRET = 2 };

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
    {"dir", CT_STRING, CF_IMMUTABLE, &cfg.dir, 0, 0, ".", NULL},
    {"backup-dir", CT_STRING, 0, &cfg.backup_dir, 0, 0, "", NULL}, /* server/backup.h */
    {"lmdb-state-mapsize", CT_MEM, CF_IMMUTABLE, &cfg.state_mapsize, 16 * MB, LLONG_MAX, "64gb",
     NULL},
    {"lmdb-log-mapsize", CT_MEM, CF_IMMUTABLE, &cfg.log_mapsize, 16 * MB, LLONG_MAX, "16gb", NULL},
    {"lmdb-high-water", CT_INT, 0, &cfg.high_water_pct, 1, 100, "90", NULL},
    {"appendfsync", CT_ENUM, CF_IMMUTABLE, &cfg.appendfsync, 0, 0, "always", "always"},
    {"node-id", CT_INT, CF_IMMUTABLE, &cfg.node_id, 1, INT_MAX, "1", NULL},
    {"cluster", CT_STRING, CF_IMMUTABLE, &cfg.cluster, 0, 0, "", NULL},
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
    /* At most the state's physical databases (storage/kvint.h). */
    {"databases", CT_INT, CF_IMMUTABLE, &cfg.databases, 1, KV_MAX_DBS, "16", NULL},
    {"notify-keyspace-events", CT_NOTIFY, 0, NULL, 0, 0, "", NULL},
    /* Fixed facts clients ask about; accepted in files, never changed. */
    {"save", CT_CONST, 0, NULL, 0, 0, "", NULL},
    {"appendonly", CT_CONST, 0, NULL, 0, 0, "yes", NULL},
    {"maxmemory", CT_CONST, 0, NULL, 0, 0, "0", NULL},
    {"maxmemory-policy", CT_CONST, 0, NULL, 0, 0, "noeviction", NULL},
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
        if (!enum_has(it->enums, v)) return "argument(s) must be one of the following";
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
    for (size_t i = 0; i < NITEMS; i++) {
        char *words[1] = {(char *)items[i].def};
        if (items[i].type == CT_CONST) continue;
        const char *why = set_item(&items[i], 1, words);
        if (why) {
            fprintf(stderr, "bad default for %s: %s\n", items[i].name, why);
            abort();
        }
    }
}

/* Splits a config line into words with Redis's quoting (simplified:
 * double and single quotes, backslash escapes inside double quotes). */
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
                if (q == '"' && *p == '\\' && p[1]) p++;
                *o++ = *p++;
            }
            if (*p != q) return -1;
            p++;
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
    }
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
    for (int i = 0; i < argc; i += 2) {
        config_item *it = lookup(argv[i]);
        const char *why = set_item(it, 1, &argv[i + 1]);
        if (why) {
            resp_add_errorf(b, "ERR CONFIG SET failed (possibly related to argument '%s') - %s",
                            argv[i], why);
            return;
        }
    }
    resp_add_ok(b);
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
