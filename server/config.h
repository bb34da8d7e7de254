/* config.h -- configuration, as redis-server takes it: a file in redis.conf
 * syntax and then "--key value ..." arguments, the same keys in both.
 * CONFIG GET / CONFIG SET go through the same table. */
#ifndef RAFTKV_CONFIG_H
#define RAFTKV_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "resp/resp.h"

typedef struct config {
    /* network */
    char *bind;
    int port;
    int protected_mode;
    int tcp_keepalive;
    int timeout; /* idle client timeout, seconds; 0 = never */
    int maxclients;
    long long proto_max_bulk_len;
    long long client_query_buffer_limit;
    long long obuf_hard, obuf_soft; /* client-output-buffer-limit normal */
    int obuf_soft_seconds;
    long long obuf_pubsub_hard, obuf_pubsub_soft; /* ... pubsub: clients with subscriptions */
    int obuf_pubsub_soft_seconds;
    char *requirepass;
    /* storage */
    char *dir;
    char *backup_dir; /* SAVE/BGSAVE's backup (server/backup.h); "": <dir>/backup */
    long long state_mapsize, log_mapsize;
    int high_water_pct;
    char *appendfsync;
    /* raft and cluster */
    int node_id;
    char *cluster;
    char *cluster_id;
    char *cluster_secret;              /* the peer handshake's HMAC key: never shown, never sent */
    int election_timeout;              /* ms */
    int databases;                     /* SELECT 0 .. databases - 1 */
    int heartbeat_interval;            /* ms */
    int raft_request_timeout;          /* ms */
    int raft_log_keep;                 /* entries kept below the state's durable index */
    long long raft_log_keep_bytes;     /* ... and at most about this many bytes of log */
    long long raft_snapshot_max_rate;  /* bytes/s per snapshot stream; 0 = unlimited */
    char *follower_mode;               /* proxy | redirect */
    char *read_mode;                   /* linearizable | lease */
    long long tracking_table_max_keys; /* CLIENT TRACKING's keys (0: no limit) */
    /* diagnostics (server/diag.h) */
    int slowlog_log_slower_than; /* microseconds; -1 off, 0 every command */
    int slowlog_max_len;
    int latency_monitor_threshold; /* ms; 0 off */
    /* logging */
    char *loglevel;
    char *logfile;
    char *pidfile;
    int daemonize;
} config;

extern config cfg;

void config_init_defaults(void);
/* Loads the file (NULL for none) then the --key value arguments. On error
 * writes a message into err and returns -1. */
int config_load(const char *file, int argc, char **argv, char *err, size_t errlen);

/* CONFIG GET <pattern...>: appends the map reply. The cluster secret is
 * never in it, whatever the pattern (DESIGN.md "Determinism and trust"). */
void config_get_reply(resp_buf *b, int npat, char **pat);
/* CONFIG SET k v [k v ...]: appends +OK or Redis's error. */
void config_set_reply(resp_buf *b, int argc, char **argv, size_t *lens);

/* CONFIG SET's arguments (k v ...), when they set notify-keyspace-events:
 * returns its flags (>= 0) if they are valid and it is the only setting;
 * otherwise appends Redis's error (or RaftKV's, for a mix with node
 * settings) and returns -2. -1: they do not set it (config_set_reply's
 * business). */
int config_set_notify(resp_buf *b, int argc, char **argv, size_t *lens);
/* Where CONFIG GET notify-keyspace-events reads the cluster's flags
 * (the state's; server/main.c sets it). */
void config_set_notify_source(int (*get)(void));

/* Parses "1gb", "64mb", "100k"... like Redis's memtoull. -1 on error. */
long long config_parse_mem(const char *s, int *err);

/* The configuration's keys, for --help and the packaged config file's test
 * (server/config_help.c). */
enum { CONFIG_KEY_RUNTIME, CONFIG_KEY_STARTUP, CONFIG_KEY_FIXED };
typedef struct config_key {
    const char *name;
    const char *def; /* the default, as a config file would write it (static) */
    int kind;        /* RUNTIME: CONFIG SET changes it; STARTUP: only at start; FIXED: accepted,
                        never changed (a fact clients ask about) */
} config_key;
/* Fills k with the i-th key of the table (0, 1, ...); returns 0 past the
 * last one. */
int config_key_at(size_t i, config_key *k);
/* raftkv-server --help: usage, then every key with its default and what it
 * does. */
void config_print_help(FILE *fp);

#endif
