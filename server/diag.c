/* diag.c -- SLOWLOG, LATENCY and MONITOR (diag.h). */
#include "server/diag.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "server/config.h"
#include "server/log.h"
#include "server/proxyarg.h"
#include "server/server.h"

/* ------------------------------------------------------------- redaction */

/* Which arguments show as "(redacted)": AUTH's, HELLO's AUTH pair,
 * MIGRATE's AUTH password and AUTH2 pair (Redis's
 * redactClientCommandArgument), and the values CONFIG SET gives to secrets
 * (config_redacted: requirepass as in Redis, and tls-key-file-pass). */
static int redacted(int argc, char **argv, int i)
{
    if (!strcasecmp(argv[0], "auth")) return i > 0;
    if (!strcasecmp(argv[0], "config") && argc > 1 && !strcasecmp(argv[1], "set"))
        return i >= 3 && i % 2 == 1 && config_redacted(argv[i - 1]);
    if (!strcasecmp(argv[0], "hello")) {
        for (int j = 2; j + 2 < argc; j++)
            if (!strcasecmp(argv[j], "auth") && (i == j + 1 || i == j + 2)) return 1;
    } else if (!strcasecmp(argv[0], "migrate")) {
        for (int j = 6; j < i; j++) {
            if (!strcasecmp(argv[j], "keys")) return 0; /* key names follow */
            if (!strcasecmp(argv[j], "auth") && i == j + 1) return 1;
            if (!strcasecmp(argv[j], "auth2") && (i == j + 1 || i == j + 2)) return 1;
        }
    }
    return 0;
}

#define REDACTED "(redacted)"

/* ---------------------------------------------------------- proxy origin */

static const char *origin; /* the RAFT.PROXY argument being run, or NULL */
static size_t origin_len;

void diag_proxy_origin(const char *arg, size_t len)
{
    origin = arg;
    origin_len = len;
}

/* The address a command shows with: a forwarded one's is
 * "proxy:<follower id>[:<client addr>]". */
static void show_addr(const client *c, char *out, size_t n)
{
    if (!c->peer_id) {
        snprintf(out, n, "%s", c->addr);
        return;
    }
    /* the address RAFT.PROXY's second argument names (proxyarg.h) */
    const char *a = NULL;
    size_t alen = 0;
    proxyarg pa;
    if (origin && proxyarg_parse(origin, origin_len, &pa) == 0) {
        a = pa.addr;
        alen = pa.alen;
    }
    if (a && alen)
        snprintf(out, n, "proxy:%llu:%.*s", (unsigned long long)c->peer_id, (int)alen, a);
    else
        snprintf(out, n, "proxy:%llu", (unsigned long long)c->peer_id);
}

/* Peer traffic: never logged, never shown. */
static int is_peer_command(const char *name)
{
    return (name[0] == 'r' || name[0] == 'R') && !strncasecmp(name, "raft.", 5);
}

/* ------------------------------------------------------------- slowlog */

#define SLOWLOG_MAX_ARGC 32
#define SLOWLOG_MAX_STRING 128

typedef struct slowentry {
    struct slowentry *next, *prev; /* newer, older */
    long long id;
    int64_t time;     /* unix seconds */
    int64_t duration; /* microseconds */
    int argc;
    char **argv; /* each malloc'ed */
    size_t *lens;
    char *addr, *name;
} slowentry;

static slowentry *newest, *oldest;
static long long slow_len, slow_next_id;

static char *dup_bytes(const char *s, size_t n)
{
    char *p = server_calloc(1, n + 1, "(diagnostics)");
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static void entry_free(slowentry *e)
{
    for (int i = 0; i < e->argc; i++)
        free(e->argv[i]);
    free(e->argv);
    free(e->lens);
    free(e->addr);
    free(e->name);
    free(e);
}

static void slowlog_trim(void)
{
    while (slow_len > cfg.slowlog_max_len && oldest) {
        slowentry *e = oldest;
        oldest = e->next;
        if (oldest)
            oldest->prev = NULL;
        else
            newest = NULL;
        entry_free(e);
        slow_len--;
    }
}

/* Redis's slowlogCreateEntry: at most 32 arguments, the last saying how
 * many more there were; an argument over 128 bytes cut, saying how many
 * bytes more. */
static void slowlog_push(client *c, int argc, char **argv, size_t *lens, int64_t us)
{
    slowentry *e = server_calloc(1, sizeof(*e), "(diagnostics)");
    int n = argc > SLOWLOG_MAX_ARGC ? SLOWLOG_MAX_ARGC : argc;
    e->argc = n;
    e->argv = server_calloc(1, (size_t)n * sizeof(char *), "(diagnostics)");
    e->lens = server_calloc(1, (size_t)n * sizeof(size_t), "(diagnostics)");
    for (int j = 0; j < n; j++) {
        char buf[SLOWLOG_MAX_STRING + 64];
        if (n != argc && j == n - 1) {
            int w = snprintf(buf, sizeof(buf), "... (%d more arguments)", argc - n + 1);
            e->argv[j] = dup_bytes(buf, (size_t)w);
            e->lens[j] = (size_t)w;
        } else if (redacted(argc, argv, j)) {
            e->argv[j] = dup_bytes(REDACTED, strlen(REDACTED));
            e->lens[j] = strlen(REDACTED);
        } else if (lens[j] > SLOWLOG_MAX_STRING) {
            memcpy(buf, argv[j], SLOWLOG_MAX_STRING);
            int w = snprintf(buf + SLOWLOG_MAX_STRING, sizeof(buf) - SLOWLOG_MAX_STRING,
                             "... (%lu more bytes)", (unsigned long)(lens[j] - SLOWLOG_MAX_STRING));
            e->lens[j] = SLOWLOG_MAX_STRING + (size_t)w;
            e->argv[j] = dup_bytes(buf, e->lens[j]);
        } else {
            e->argv[j] = dup_bytes(argv[j], lens[j]);
            e->lens[j] = lens[j];
        }
    }
    char addr[160];
    show_addr(c, addr, sizeof(addr));
    e->addr = dup_bytes(addr, strlen(addr));
    e->name = c->name ? dup_bytes(c->name, strlen(c->name)) : NULL;
    e->id = slow_next_id++;
    e->time = (int64_t)time(NULL);
    e->duration = us;
    e->next = NULL;
    e->prev = newest;
    if (newest)
        newest->next = e;
    else
        oldest = e;
    newest = e;
    slow_len++;
    slowlog_trim();
}

static void slowlog_reset(void)
{
    while (newest) {
        slowentry *e = newest;
        newest = e->prev;
        entry_free(e);
    }
    oldest = NULL;
    slow_len = 0;
}

static void slowlog_maybe(client *c, int argc, char **argv, size_t *lens, int64_t us)
{
    if (cfg.slowlog_log_slower_than < 0 || cfg.slowlog_max_len == 0) return;
    if (us < cfg.slowlog_log_slower_than) return;
    slowlog_push(c, argc, argv, lens, us);
}

/* ------------------------------------------------------------- latency */

#define LATENCY_TS_LEN 160

typedef struct latency_series {
    const char *event; /* NULL: slot unused */
    int idx;
    uint32_t max;
    struct {
        int32_t time;
        uint32_t latency;
    } samples[LATENCY_TS_LEN];
} latency_series;

#define MAX_EVENTS 16
static latency_series series[MAX_EVENTS]; /* in the order each event first happened */

static latency_series *series_find(const char *event, size_t n)
{
    for (int i = 0; i < MAX_EVENTS && series[i].event; i++)
        if (strlen(series[i].event) == n && !strncmp(series[i].event, event, n)) return &series[i];
    return NULL;
}

/* Redis's latencyAddSample: one sample per second, the worst of it. */
static void latency_add(const char *event, uint32_t ms)
{
    latency_series *ts = series_find(event, strlen(event));
    if (!ts) {
        int i = 0;
        while (i < MAX_EVENTS && series[i].event)
            i++;
        if (i == MAX_EVENTS) return;
        ts = &series[i];
        memset(ts, 0, sizeof(*ts));
        ts->event = event;
    }
    int32_t now = (int32_t)time(NULL);
    if (ms > ts->max) ts->max = ms;
    int prev = (ts->idx + LATENCY_TS_LEN - 1) % LATENCY_TS_LEN;
    if (ts->samples[prev].time == now) {
        if (ms > ts->samples[prev].latency) ts->samples[prev].latency = ms;
        return;
    }
    ts->samples[ts->idx].time = now;
    ts->samples[ts->idx].latency = ms;
    ts->idx = (ts->idx + 1) % LATENCY_TS_LEN;
}

void diag_latency_sample(const char *event, int64_t us)
{
    if (!cfg.latency_monitor_threshold) return;
    int64_t ms = us / 1000;
    if (ms < cfg.latency_monitor_threshold) return;
    latency_add(event, ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms);
}

/* Removes series i, keeping the others in order. */
static void series_remove(int i)
{
    int last = i;
    while (last + 1 < MAX_EVENTS && series[last + 1].event)
        last++;
    memmove(&series[i], &series[i + 1], (size_t)(last - i) * sizeof(series[0]));
    memset(&series[last], 0, sizeof(series[0]));
}

static int series_count(void)
{
    int n = 0;
    while (n < MAX_EVENTS && series[n].event)
        n++;
    return n;
}

/* ------------------------------------------------------------- monitor */

static client **monitors;
static int nmonitors, monitors_cap;

static int is_monitor(const client *c)
{
    for (int i = 0; i < nmonitors; i++)
        if (monitors[i] == c) return 1;
    return 0;
}

int diag_is_monitor(const client *c)
{
    return nmonitors && is_monitor(c);
}

void diag_client_gone(client *c)
{
    for (int i = 0; i < nmonitors; i++)
        if (monitors[i] == c) {
            monitors[i] = monitors[--nmonitors];
            return;
        }
}

static void buf_add(char **p, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n > *cap) {
        size_t nc = (*cap ? *cap : 256) * 2;
        while (nc < *len + n)
            nc *= 2;
        char *q = realloc(*p, nc);
        if (!q) {
            serverLog(LL_WARNING, "Out of memory (MONITOR)");
            exit(1);
        }
        *p = q;
        *cap = nc;
    }
    memcpy(*p + *len, s, n);
    *len += n;
}

/* Redis's sdscatrepr: the quoting redis-cli uses too. */
static void add_repr(char **p, size_t *len, size_t *cap, const char *s, size_t n)
{
    buf_add(p, len, cap, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        char esc[8];
        size_t k;
        switch (ch) {
        case '\\':
        case '"':
            esc[0] = '\\', esc[1] = (char)ch, k = 2;
            break;
        case '\n':
            memcpy(esc, "\\n", 2), k = 2;
            break;
        case '\r':
            memcpy(esc, "\\r", 2), k = 2;
            break;
        case '\t':
            memcpy(esc, "\\t", 2), k = 2;
            break;
        case '\a':
            memcpy(esc, "\\a", 2), k = 2;
            break;
        case '\b':
            memcpy(esc, "\\b", 2), k = 2;
            break;
        default:
            if (isprint(ch))
                esc[0] = (char)ch, k = 1;
            else
                k = (size_t)snprintf(esc, sizeof(esc), "\\x%02x", ch);
        }
        buf_add(p, len, cap, esc, k);
    }
    buf_add(p, len, cap, "\"", 1);
}

static void monitor_feed(client *c, int db, int argc, char **argv, size_t *lens)
{
    if (!nmonitors || argc < 1) return;
    char *line = NULL;
    size_t len = 0, cap = 0;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    char head[256], addr[160];
    show_addr(c, addr, sizeof(addr));
    int w = snprintf(head, sizeof(head), "+%ld.%06ld [%d %s] ", (long)tv.tv_sec, (long)tv.tv_usec,
                     db, addr);
    buf_add(&line, &len, &cap, head, (size_t)w < sizeof(head) ? (size_t)w : sizeof(head) - 1);
    for (int j = 0; j < argc; j++) {
        if (redacted(argc, argv, j))
            add_repr(&line, &len, &cap, REDACTED, strlen(REDACTED));
        else
            add_repr(&line, &len, &cap, argv[j], lens[j]);
        if (j != argc - 1) buf_add(&line, &len, &cap, " ", 1);
    }
    buf_add(&line, &len, &cap, "\r\n", 2);
    for (int i = 0; i < nmonitors; i++) {
        client *m = monitors[i];
        resp_add_raw(client_push_buf(m), line, len);
        client_mark_dirty(m);
    }
    free(line);
}

/* Commands Redis keeps out of MONITOR: its admin commands (the
 * subcommand's flags for a container) and, here, the peer traffic. */
static int monitor_skips(const char *name, int argc, char **argv)
{
    static const char *const admin[] = {"save",    "bgsave",       "shutdown",        "monitor",
                                        "debug",   "bgrewriteaof", "failover",        "replicaof",
                                        "slaveof", "sync",         "psync",           "replconf",
                                        "pfdebug", "pfselftest",   "migrate-internal"};
    static const char *const admin_subs[] = {"client|kill",       "client|pause",
                                             "client|unpause",    "client|list",
                                             "client|unblock",    "client|no-evict",
                                             "config|",           "slowlog|get",
                                             "slowlog|len",       "slowlog|reset",
                                             "latency|",          "cluster|addslots",
                                             "cluster|reset",     "cluster|forget",
                                             "cluster|meet",      "cluster|failover",
                                             "cluster|setslot",   "cluster|delslots",
                                             "cluster|replicate", "cluster|saveconfig",
                                             "module|",           "acl|"};
    if (is_peer_command(name)) return 1;
    for (size_t i = 0; i < sizeof(admin) / sizeof(admin[0]); i++)
        if (!strcasecmp(name, admin[i])) return 1;
    if (argc < 2) return 0;
    char full[96];
    snprintf(full, sizeof(full), "%s|%s", name, argv[1]);
    for (char *p = full; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    for (size_t i = 0; i < sizeof(admin_subs) / sizeof(admin_subs[0]); i++) {
        const char *a = admin_subs[i];
        size_t n = strlen(a);
        if (a[n - 1] == '|' ? !strncmp(full, a, n) && strcmp(full + n, "help") : !strcmp(full, a))
            return 1;
    }
    return 0;
}

/* --------------------------------------------------------------- hooks */

void diag_command(client *c, const char *name, int argc, char **argv, size_t *lens, int64_t us,
                  int deferred)
{
    if (is_peer_command(name)) return;
    if (!deferred && strcmp(name, "exec")) { /* names are lower case */
        slowlog_maybe(c, argc, argv, lens, us);
        diag_latency_sample("command", us);
    }
    if (nmonitors && !monitor_skips(name, argc, argv)) monitor_feed(c, c->db, argc, argv, lens);
}

void diag_read_ran(client *c, int argc, char **argv, size_t *lens, int64_t us)
{
    slowlog_maybe(c, argc, argv, lens, us);
    diag_latency_sample("command", us);
}

void diag_monitor_queued(client *c)
{
    for (int i = 0; nmonitors && i < c->mq_len; i++) {
        const mcmd *m = &c->mq[i];
        /* raft.watch is the server's, not the client's; a follower's
         * resolved ACL GENPASS carries the password it answers */
        if (!strcasecmp(m->argv[0], "raft.watch") ||
            (m->argc == 4 && !strcasecmp(m->argv[0], "raft.acl") &&
             !strcasecmp(m->argv[2], "genpass")))
            continue;
        monitor_feed(c, c->db, m->argc, m->argv, m->argvlen);
    }
}

/* ------------------------------------------------------------ commands */

static void add_help(resp_buf *b, const char *const *lines, size_t n)
{
    resp_add_array(b, (int64_t)n);
    for (size_t i = 0; i < n; i++)
        resp_add_simple(b, lines[i]);
}

static void sub_arity(resp_buf *b, const char *cmd, const char *sub)
{
    resp_add_errorf(b, "ERR wrong number of arguments for '%s|%s' command", cmd, sub);
}

void diag_slowlog_command(client *c, int argc, char **argv, size_t *lens)
{
    resp_buf *b = client_reply_buf(c);
    const char *sub = argv[1];
    if (!strcasecmp(sub, "help")) {
        if (argc != 2) return sub_arity(b, "slowlog", "help");
        static const char *const help[] = {
            "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
            "HELP",
            "    Prints this help."};
        add_help(b, help, sizeof(help) / sizeof(help[0]));
    } else if (!strcasecmp(sub, "reset")) {
        if (argc != 2) return sub_arity(b, "slowlog", "reset");
        slowlog_reset();
        resp_add_ok(b);
    } else if (!strcasecmp(sub, "len")) {
        if (argc != 2) return sub_arity(b, "slowlog", "len");
        resp_add_int(b, slow_len);
    } else if (!strcasecmp(sub, "get") && argc <= 3) {
        long long count = 10;
        if (argc == 3) {
            if (!kv_string2ll(argv[2], lens[2], &count) || count < -1) {
                resp_add_error(b, "ERR count should be greater than or equal to -1");
                return;
            }
            if (count == -1) count = slow_len;
        }
        if (count > slow_len) count = slow_len;
        resp_add_array(b, count);
        slowentry *e = newest;
        for (long long i = 0; i < count && e; i++, e = e->prev) {
            resp_add_array(b, 6);
            resp_add_int(b, e->id);
            resp_add_int(b, e->time);
            resp_add_int(b, e->duration);
            resp_add_array(b, e->argc);
            for (int j = 0; j < e->argc; j++)
                resp_add_bulk(b, e->argv[j], e->lens[j]);
            resp_add_bulk_str(b, e->addr);
            resp_add_bulk_str(b, e->name ? e->name : "");
        }
    } else {
        resp_add_errorf(b,
                        !strcasecmp(sub, "get")
                            ? "ERR unknown subcommand or wrong number of arguments for '%.128s'. "
                              "Try SLOWLOG HELP."
                            : "ERR unknown subcommand '%.128s'. Try SLOWLOG HELP.",
                        sub);
    }
}

/* Mean and mean deviation of an event's samples, for DOCTOR. */
static void series_stats(const latency_series *ts, int *n, double *avg, double *mad,
                         int32_t *period)
{
    int32_t first = 0, last = 0;
    double sum = 0;
    *n = 0;
    for (int j = 0; j < LATENCY_TS_LEN; j++) {
        if (!ts->samples[j].time) continue;
        if (!*n || ts->samples[j].time < first) first = ts->samples[j].time;
        if (ts->samples[j].time > last) last = ts->samples[j].time;
        sum += ts->samples[j].latency;
        (*n)++;
    }
    *avg = *n ? sum / *n : 0;
    double dev = 0;
    for (int j = 0; j < LATENCY_TS_LEN; j++)
        if (ts->samples[j].time) {
            double d = ts->samples[j].latency - *avg;
            dev += d < 0 ? -d : d;
        }
    *mad = *n ? dev / *n : 0;
    *period = *n > 1 ? (last - first) / (*n - 1) : 0;
}

/* What an operator can do about each event. */
static const char *event_advice(const char *event)
{
    if (!strcmp(event, "log-fsync"))
        return "The log's fdatasync is slow: put 'dir' on a faster disk (an SSD with a "
               "power-loss-protected cache), away from other I/O.";
    if (!strcmp(event, "state-commit"))
        return "Committing the state to LMDB is slow: the disk, or large batches of writes; "
               "check the disk and the size of the values written.";
    if (!strcmp(event, "snapshot-send") || !strcmp(event, "snapshot-install"))
        return "A snapshot transfer held the loop: a follower far behind; raft-log-keep and "
               "raft-log-keep-bytes keep more log so a lagging follower catches up without one, "
               "and raft-snapshot-max-rate spreads a transfer out.";
    if (!strcmp(event, "expire-cycle"))
        return "Collecting expired keys is slow: many keys expire at the same time; spread "
               "their expiries.";
    if (!strcmp(event, "collection-gc"))
        return "A pass of the cleanup of deleted collections is slow: its element records' "
               "pages are read from disk; give the node memory for the page cache.";
    if (!strcmp(event, "command"))
        return "Slow commands: see SLOWLOG GET; O(N) commands on large values (KEYS, SMEMBERS, "
               "LRANGE 0 -1, SORT) are the usual cause.";
    return "";
}

/* snprintf's count, at most what fits in a buffer of n. */
static size_t fitted(int w, size_t n)
{
    return w < 0 ? 0 : (size_t)w < n ? (size_t)w : n - 1;
}

static void latency_doctor(resp_buf *b)
{
    char *t = NULL;
    size_t len = 0, cap = 0;
    char line[1024];
    int n = series_count();
    if (!cfg.latency_monitor_threshold && !n) {
        const char *s = "Latency monitoring is disabled on this RaftKV node. Enable it with "
                        "\"CONFIG SET latency-monitor-threshold <milliseconds>\".\n";
        resp_add_verbatim(b, "txt", s, strlen(s));
        return;
    }
    if (!n) {
        int w = snprintf(line, sizeof(line),
                         "No latency spike of %d ms or more was observed on this RaftKV node "
                         "since latency monitoring was enabled or last reset.\n",
                         cfg.latency_monitor_threshold);
        resp_add_verbatim(b, "txt", line, fitted(w, sizeof(line)));
        return;
    }
    int w = snprintf(line, sizeof(line),
                     "RaftKV latency report (threshold %d ms). Events observed:\n\n",
                     cfg.latency_monitor_threshold);
    buf_add(&t, &len, &cap, line, fitted(w, sizeof(line)));
    for (int i = 0; i < n; i++) {
        const latency_series *ts = &series[i];
        int k;
        double avg, mad;
        int32_t period;
        series_stats(ts, &k, &avg, &mad, &period);
        w = snprintf(line, sizeof(line),
                     "%d. %s: %d latency spikes (average %.0fms, mean deviation %.0fms, period "
                     "%d sec). Worst all time event %ums.\n",
                     i + 1, ts->event, k, avg, mad, (int)period, ts->max);
        buf_add(&t, &len, &cap, line, fitted(w, sizeof(line)));
    }
    buf_add(&t, &len, &cap, "\nAdvice:\n\n", 10);
    for (int i = 0; i < n; i++) {
        w = snprintf(line, sizeof(line), "- %s: %s\n", series[i].event,
                     event_advice(series[i].event));
        buf_add(&t, &len, &cap, line, fitted(w, sizeof(line)));
    }
    resp_add_verbatim(b, "txt", t, len);
    free(t);
}

void diag_latency_command(client *c, int argc, char **argv, size_t *lens)
{
    resp_buf *b = client_reply_buf(c);
    const char *sub = argv[1];
    if (!strcasecmp(sub, "help")) {
        if (argc != 2) return sub_arity(b, "latency", "help");
        static const char *const help[] = {
            "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HELP",
            "    Prints this help."};
        add_help(b, help, sizeof(help) / sizeof(help[0]));
    } else if (!strcasecmp(sub, "latest")) {
        if (argc != 2) return sub_arity(b, "latency", "latest");
        int n = series_count();
        resp_add_array(b, n);
        for (int i = 0; i < n; i++) {
            const latency_series *ts = &series[i];
            int last = (ts->idx + LATENCY_TS_LEN - 1) % LATENCY_TS_LEN;
            resp_add_array(b, 4);
            resp_add_bulk_str(b, ts->event);
            resp_add_int(b, ts->samples[last].time);
            resp_add_int(b, ts->samples[last].latency);
            resp_add_int(b, ts->max);
        }
    } else if (!strcasecmp(sub, "history")) {
        if (argc != 3) return sub_arity(b, "latency", "history");
        const latency_series *ts = series_find(argv[2], lens[2]);
        if (!ts) {
            resp_add_array(b, 0);
            return;
        }
        int n = 0;
        for (int j = 0; j < LATENCY_TS_LEN; j++)
            n += ts->samples[j].time != 0;
        resp_add_array(b, n);
        for (int j = 0; j < LATENCY_TS_LEN; j++) {
            int i = (ts->idx + j) % LATENCY_TS_LEN;
            if (!ts->samples[i].time) continue;
            resp_add_array(b, 2);
            resp_add_int(b, ts->samples[i].time);
            resp_add_int(b, ts->samples[i].latency);
        }
    } else if (!strcasecmp(sub, "reset")) {
        int reset = 0;
        if (argc == 2) {
            reset = series_count();
            memset(series, 0, sizeof(series));
        } else {
            for (int i = 2; i < argc; i++) {
                latency_series *ts = series_find(argv[i], lens[i]);
                if (!ts) continue;
                series_remove((int)(ts - series));
                reset++;
            }
        }
        resp_add_int(b, reset);
    } else if (!strcasecmp(sub, "doctor")) {
        if (argc != 2) return sub_arity(b, "latency", "doctor");
        latency_doctor(b);
    } else {
        resp_add_errorf(b, "ERR unknown subcommand '%.128s'. Try LATENCY HELP.", sub);
    }
}

/* MONITOR: from now on c receives the line of every command this node
 * runs. A second MONITOR is ignored, as in Redis. */
void diag_monitor_command(client *c, int argc, char **argv, size_t *lens)
{
    (void)argc, (void)argv, (void)lens;
    if (is_monitor(c)) return;
    if (nmonitors == monitors_cap) {
        int cap = monitors_cap ? monitors_cap * 2 : 4;
        client **m = realloc(monitors, (size_t)cap * sizeof(*m));
        if (!m) {
            serverLog(LL_WARNING, "Out of memory (MONITOR)");
            exit(1);
        }
        monitors = m;
        monitors_cap = cap;
    }
    monitors[nmonitors++] = c;
    resp_add_ok(client_reply_buf(c));
}
