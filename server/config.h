/* config.h -- configuration, as redis-server takes it: a file in redis.conf
 * syntax and then "--key value ..." arguments, the same keys in both.
 * CONFIG GET / CONFIG SET go through the same table. */
#ifndef RAFTKV_CONFIG_H
#define RAFTKV_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "resp/resp.h"
#include "storage/kvstate.h"

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
    char *aclfile; /* ACL SAVE / ACL LOAD (server/acl.h); "": none */
    /* TLS (server/tls.h): Redis's keys and meanings */
    int tls_port; /* 0: no TLS listener */
    char *tls_cert_file, *tls_key_file, *tls_key_file_pass;
    /* the certificate shown on the node's own (peer) connections; "": the
     * one above */
    char *tls_client_cert_file, *tls_client_key_file, *tls_client_key_file_pass;
    char *tls_dh_params_file; /* DH parameters for DHE ciphers (TLS port) */
    char *tls_ca_cert_file, *tls_ca_cert_dir;
    char *tls_auth_clients; /* yes | no | optional */
    char *tls_protocols, *tls_ciphers, *tls_ciphersuites;
    int tls_prefer_server_ciphers;
    int tls_session_caching, tls_session_cache_size, tls_session_cache_timeout;
    int tls_cluster; /* peers connect to each other over TLS (mutual) */
    /* storage */
    char *dir;
    char *backup_dir; /* SAVE/BGSAVE's backup (server/backup.h); "": <dir>/backup */
    long long state_mapsize, log_mapsize;
    int high_water_pct;
    /* maxmemory & co. as the file or command line gave them: the cluster's
     * are state (kvstate_memconf); a leader proposes these once if they
     * differ (server/evict.c). mem_file_set: any was given. */
    kv_memconf mem_file;
    int mem_file_set;
    char *appendfsync;
    /* raft and cluster */
    int node_id;
    char *cluster;
    char *cluster_id;
    int join;                      /* a new node waiting to be added (membership.c) */
    int cluster_override;          /* start with the stored configuration whatever 'cluster' says */
    int learner_auto_promote;      /* leader: promote a learner this close (entries); 0 off */
    char *cluster_secret;          /* the peer handshake's HMAC key: never shown, never sent */
    int election_timeout;          /* ms */
    int databases;                 /* SELECT 0 .. databases - 1 */
    int heartbeat_interval;        /* ms */
    int raft_request_timeout;      /* ms */
    int raft_log_keep;             /* entries kept below the state's durable index */
    long long raft_log_keep_bytes; /* ... and at most about this many bytes of log */
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
    /* DEBUG: no | yes | local (loopback connections only) */
    char *enable_debug_command;
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
/* The same for maxmemory, maxmemory-policy, maxmemory-samples,
 * lfu-log-factor and lfu-decay-time, which may be set together (one
 * RAFT.MEMCONF entry) but not with node settings: 0 with *out the
 * cluster's settings with the changes, -2 with the error appended, -1 when
 * none is named. */
int config_set_memconf(resp_buf *b, int argc, char **argv, size_t *lens, kv_memconf *out);
/* Where CONFIG GET reads the cluster's maxmemory settings. */
void config_set_memconf_source(const kv_memconf *(*get)(void));

/* What CONFIG SET calls after setting any TLS key (server/tls.c's
 * tls_apply_config): non-zero refuses the change, and every value the
 * CONFIG SET set is put back. */
void config_set_tls_hook(int (*apply)(void));

/* Where CONFIG GET notify-keyspace-events reads the cluster's flags
 * (the state's; server/main.c sets it). */
void config_set_notify_source(int (*get)(void));
/* script-instruction-budget (max_memory 0) and script-max-memory (1):
 * read from the state (kvstate_script_conf). */
void config_set_script_source(long long (*get)(int max_memory));
/* CONFIG SET of one script budget (argv: name value): -1 when argv is no
 * such setting; -2 when refused (Redis-style error appended to b);
 * otherwise 0 (script-instruction-budget) or 1 (script-max-memory) with
 * the value in *value, for the caller to propose RAFT.SCRIPTCONF. */
int config_set_script(resp_buf *b, int argc, char **argv, size_t *lens, long long *value);

/* The value CONFIG SET gives name is hidden in SLOWLOG and MONITOR: the
 * secrets, and requirepass (as Redis hides it). */
int config_redacted(const char *name);

/* CONFIG REWRITE: rewrites the file the node started with as Redis 7.0
 * does, and appends +OK or the error. Comments, blank lines and the order
 * of the lines are kept; each setting's line (the first, when it appears
 * several times; later ones become blank) gets its running value; a
 * setting whose value is not its default and that has no line is appended
 * after "# Generated by CONFIG REWRITE"; an unparsable or unknown line is
 * kept commented out as "# ??? <line>". Left as they are: the fixed
 * settings (save, appendonly, maxmemory, ...) and notify-keyspace-events
 * (the log's, not the file's). cluster-secret is written only over a line
 * that already holds it. The new file is written beside the old one,
 * fsynced, renamed over it (keeping its mode) and the directory fsynced,
 * so a crash leaves the old file or the new one. */
void config_rewrite_reply(resp_buf *b);

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
