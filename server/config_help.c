/* config_help.c -- raftkv-server --help: every configuration key with its
 * default (from config.c's table) and one line on what it does (here).
 * packaging/raftkv.conf says the same at more length; tests/pkg checks that
 * both list every key config.c knows. */
#include <stdio.h>
#include <string.h>

#include "server/config.h"

static const struct {
    const char *name;
    const char *text;
} help[] = {
    {"bind", "addresses to listen on; a leading '-' means: skip it if it is unavailable"},
    {"port", "TCP port for clients (0: none); with 'cluster', this node's own entry's port "
             "(unless tls-cluster)"},
    {"protected-mode", "with the default bind and no requirepass, clients on other hosts get "
                       "-DENIED"},
    {"tcp-keepalive", "seconds between TCP keepalive probes on client sockets (0: off)"},
    {"timeout", "close a client idle for this many seconds (0: never)"},
    {"maxclients", "most client connections at once (peers are exempt)"},
    {"proto-max-bulk-len", "largest bulk string a client may send in a request"},
    {"client-query-buffer-limit", "a client whose unparsed input passes this is closed"},
    {"client-output-buffer-limit",
     "<class> <hard> <soft> <seconds>: a client whose unread replies pass the limits is closed"},
    {"requirepass", "password of the default user (AUTH); empty: none. Until the cluster's users "
                    "are first changed (ACL SETUSER, CONFIG SET requirepass) each node's own; "
                    "then the replicated default user's"},
    {"aclfile", "ACL users file, read at start (a bad one stops the node): its users become a "
                "new cluster's; ACL LOAD proposes them to the cluster, ACL SAVE writes the "
                "cluster's users to it"},
    {"tls-port", "TCP port for TLS clients (0: none); with 'port 0', TLS only; with "
                 "tls-cluster, this node's own entry's port in 'cluster'"},
    {"tls-cert-file", "the node's certificate (PEM, with its chain): shown to TLS clients, and "
                      "to peers with tls-cluster; CONFIG SET reloads it"},
    {"tls-key-file", "the certificate's private key (PEM)"},
    {"tls-key-file-pass", "passphrase of an encrypted tls-key-file; never shown"},
    {"tls-client-cert-file", "the certificate the node shows on its own connections to peers "
                             "(tls-cluster); with tls-client-key-file. Empty: tls-cert-file"},
    {"tls-client-key-file", "tls-client-cert-file's private key (PEM)"},
    {"tls-client-key-file-pass", "passphrase of an encrypted tls-client-key-file; never shown"},
    {"tls-dh-params-file", "DH parameters (PEM) for DHE ciphers on the TLS port; empty: "
                           "OpenSSL's built-in groups"},
    {"tls-ca-cert-file", "CA certificate(s) that client (and peer) certificates must chain to"},
    {"tls-ca-cert-dir", "a directory of CA certificates (c_rehash layout), as tls-ca-cert-file"},
    {"tls-auth-clients", "yes: TLS clients must present a certificate from the CA; optional: "
                         "checked if presented; no: not asked for"},
    {"tls-protocols", "TLS versions allowed, e.g. \"TLSv1.2 TLSv1.3\" (empty: those two)"},
    {"tls-ciphers", "TLS 1.2 cipher list (OpenSSL syntax; empty: OpenSSL's default)"},
    {"tls-ciphersuites", "TLS 1.3 cipher suites (OpenSSL syntax; empty: OpenSSL's default)"},
    {"tls-prefer-server-ciphers", "the node's cipher order wins over the client's"},
    {"tls-session-caching", "TLS clients may resume sessions (faster reconnects)"},
    {"tls-session-cache-size", "sessions kept for resumption"},
    {"tls-session-cache-timeout", "seconds a cached session may be resumed"},
    {"tls-cluster", "peers speak mutual TLS (this node's certificate both ways, checked against "
                    "the CA) before the secret handshake; no plain-text fallback"},
    {"dir", "data directory (created if missing): the Raft log and the LMDB state"},
    {"backup-dir", "where SAVE/BGSAVE write a backup of this node (empty: <dir>/backup); "
                   "--restore-from DIR starts a new node from one"},
    {"lmdb-state-mapsize", "LMDB map size of the key space (sparse on disk)"},
    {"lmdb-log-mapsize", "the most the log's segment files may take (writes get -OOM near it)"},
    {"lmdb-high-water", "percent of a map above which writes get -OOM"},
    {"appendfsync", "only 'always': every acknowledged write was fsynced on a majority"},
    {"node-id", "this node's id in 'cluster'"},
    {"cluster", "the voters, 1=host:port,2=host:port,...; empty: a single node"},
    {"join", "yes: a new node waiting to be added (RAFT.ADDNODE); 'cluster' then names this "
             "node (N=host:port) and, optionally, members, for their addresses only; needs the "
             "cluster's cluster-id and cluster-secret"},
    {"cluster-override", "yes: start with the stored membership even when 'cluster' names other "
                         "members (else the node refuses to start)"},
    {"learner-auto-promote", "leader: promote a learner whose log is within this many entries "
                             "of its own (0: off; RAFT.PROMOTE by hand)"},
    {"cluster-id", "checked in the peer handshake and stored with the data; default: a hash of "
                   "'cluster'"},
    {"cluster-secret", "shared by every node, required with peers; never sent nor shown (keep it "
                       "in the file, not on the command line)"},
    {"election-timeout", "ms; a follower that hears no leader for [T, 2T) starts an election"},
    {"heartbeat-interval", "ms between the leader's heartbeats"},
    {"raft-request-timeout",
     "ms after which a write or read whose outcome is unknown gets -TIMEOUT"},
    {"raft-log-keep", "log entries kept below the state's durable index, for lagging followers"},
    {"raft-log-keep-bytes",
     "... but fewer when they take more than this many bytes; also the most log kept for a "
     "connected follower that fell behind"},
    {"raft-snapshot-max-rate", "bytes per second a snapshot transfer may use (0: no limit)"},
    {"follower-mode",
     "proxy: a follower forwards writes to the leader; redirect: it answers -MOVED"},
    {"read-mode", "linearizable: every read confirmed by a quorum; lease: the leader reads locally "
                  "under a lease"},
    {"tracking-table-max-keys",
     "keys CLIENT TRACKING remembers on this node (0: no limit); past it "
     "a key is invalidated and forgotten"},
    {"slowlog-log-slower-than", "microseconds; a command whose work on this node takes at least "
                                "this long goes to SLOWLOG (-1: none, 0: every one)"},
    {"slowlog-max-len", "entries SLOWLOG keeps"},
    {"latency-monitor-threshold",
     "milliseconds; LATENCY records events at least this long (0: off)"},
    {"enable-debug-command", "DEBUG allowed: no, yes, or local (loopback connections only)"},
    {"loglevel", "debug, verbose, notice or warning"},
    {"logfile", "log file; empty: standard error"},
    {"pidfile", "file to write the process id to; empty: none"},
    {"daemonize", "accepted for redis.conf compatibility; the server always stays in the "
                  "foreground (run it under systemd)"},
    {"databases", "number of databases, SELECT 0 to databases-1 (at most 64)"},
    {"notify-keyspace-events", "keyspace notifications: cluster-wide, set with CONFIG SET on a "
                               "running node; a file may only give \"\""},
    {"script-instruction-budget",
     "Lua instructions a script may run before it fails (the same point on every node); 0: no "
     "limit. Cluster-wide: set with CONFIG SET on a running node"},
    {"script-max-memory", "memory a script's Lua VM may take beyond its base (counted the same "
                          "on every node; at most 1gb); 0: no limit. Cluster-wide: set with "
                          "CONFIG SET on a running node"},
    {"save", "accepted, no effect: every write is in the fsynced Raft log"},
    {"appendonly", "always yes: the Raft log is the append-only file"},
    {"maxmemory", "cluster-wide: most accounted bytes the key space holds (0: no limit); "
                  "a file's value is proposed when this node first leads"},
    {"maxmemory-policy", "cluster-wide: what happens past maxmemory (noeviction: -OOM; "
                         "allkeys-/volatile- lru, lfu, random; volatile-ttl)"},
    {"maxmemory-samples", "cluster-wide: keys the leader samples per eviction choice"},
    {"lfu-log-factor", "cluster-wide: how slowly the LFU counter grows"},
    {"lfu-decay-time", "cluster-wide: minutes for the LFU counter to decay by one"},
    {"cluster-enabled", "always no: one Raft group owns all 16384 slots (CLUSTER answers so)"},
};

static const char *text_of(const char *name)
{
    for (size_t i = 0; i < sizeof(help) / sizeof(help[0]); i++)
        if (!strcmp(help[i].name, name)) return help[i].text;
    return NULL;
}

void config_print_help(FILE *fp)
{
    static const char *kinds[] = {
        [CONFIG_KEY_RUNTIME] = "  [CONFIG SET]",
        [CONFIG_KEY_STARTUP] = "",
        [CONFIG_KEY_FIXED] = "  [fixed]",
    };
    fprintf(fp, "Usage: raftkv-server [/path/to/raftkv.conf] [--key value ...]\n"
                "       raftkv-server --version\n"
                "       raftkv-server --help\n"
                "\n"
                "The config file has one 'key value' per line (redis.conf syntax); '--key value'\n"
                "on the command line sets the same keys and wins over the file. Keys marked\n"
                "[CONFIG SET] can also be changed on a running node; [fixed] ones are accepted\n"
                "and never change.\n"
                "\n"
                "Examples:\n"
                "       raftkv-server                      (one node, port 6379, data in .)\n"
                "       raftkv-server --port 7777 --dir /var/lib/raftkv\n"
                "       raftkv-server /etc/raftkv/raftkv.conf --loglevel verbose\n"
                "       raftkv-server --dir /var/lib/new --restore-from /var/lib/raftkv/backup\n"
                "                  (once, into an empty dir: a new node holding a BGSAVE backup)\n"
                "\n"
                "Options (--key default):\n");
    config_key k;
    for (size_t i = 0; config_key_at(i, &k); i++) {
        const char *text = text_of(k.name);
        int quote = !k.def[0] || strchr(k.def, ' ');
        fprintf(fp, "  --%s %s%s%s%s\n      %s\n", k.name, quote ? "\"" : "", k.def,
                quote ? "\"" : "", kinds[k.kind], text ? text : "(undocumented)");
    }
}
