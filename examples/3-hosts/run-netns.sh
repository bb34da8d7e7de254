#!/usr/bin/env bash
# The 3-host example on one machine: three network namespaces play the three
# hosts (10.77.0.1-3, each with its own eth0 on a bridge, as on a LAN), each
# runs raftkv-server with its nodeN.conf of this folder plus the lines a user
# appends on a real host (cluster-secret, requirepass; dir and logfile moved
# to a scratch directory). The script waits for a leader, runs a SET through
# each node and GETs every key from every node, then stops everything.
#
#   examples/3-hosts/run-netns.sh [path/to/raftkv-server] [--shell]
#
# --shell: after the checks, a shell on the "LAN" (address 10.77.0.254) to try
# the cluster by hand (redis-cli -h 10.77.0.1 -a "$RAFTKV_PASS"); leaving it
# stops the cluster.
#
# Needs root (network namespaces). It first moves itself into a namespace of
# its own (unshare --net), so the bridge, the links and the addresses never
# touch the host's network and vanish with the script.
# Exit: 0 all checks passed; 77 cannot run here (not root, no unshare, no
# veth/bridge); anything else a failure.
set -euo pipefail
SKIP=77
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=${1:-$ROOT/build/release/server/raftkv-server}
SHELL_AFTER=0
[ "${2:-}" = --shell ] && SHELL_AFTER=1
[ -x "$BIN" ] || { echo "no raftkv-server at $BIN (make build, or give its path)" >&2; exit 1; }
BIN=$(realpath "$BIN")

if [ "${RAFTKV_3HOSTS_LAN:-}" != 1 ]; then
    [ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (network namespaces)"; exit $SKIP; }
    command -v unshare >/dev/null || { echo "SKIP: unshare (util-linux) is missing"; exit $SKIP; }
    unshare --net true 2>/dev/null || { echo "SKIP: unshare --net is not permitted here"; exit $SKIP; }
    export RAFTKV_3HOSTS_LAN=1
    exec unshare --net -- "$0" "$BIN" "${2:-}"
fi

command -v redis-cli >/dev/null || { echo "redis-cli is missing (apt install redis-tools)" >&2; exit 1; }
command -v nsenter >/dev/null || { echo "nsenter (util-linux) is missing" >&2; exit 1; }

WORK=$(mktemp -d /tmp/raftkv-3hosts.XXXXXX)
holders=() # one process per host: it holds the host's namespace
nodes=()   # the servers
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    for p in "${nodes[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${nodes[@]}"; do wait "$p" 2>/dev/null || true; done
    for p in "${holders[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    for p in "${holders[@]}"; do wait "$p" 2>/dev/null || true; done
    if [ "$rc" -ne 0 ] && [ "$rc" -ne $SKIP ]; then
        for i in 1 2 3; do
            echo "--- host$i: the end of raftkv.log"
            tail -n 20 "$WORK/host$i/raftkv.log" 2>/dev/null || true
        done
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# on_host HOST CMD...: runs CMD in host HOST's namespace.
on_host() {
    local h=$1
    shift
    nsenter --net="/proc/${holders[$((h - 1))]}/ns/net" -- "$@"
}

# The LAN: a bridge, with an address for the operator's own commands.
ip link set lo up
ip link add lan0 type bridge 2>/dev/null || { echo "SKIP: no bridge support in this kernel"; exit $SKIP; }
ip addr add 10.77.0.254/24 dev lan0
ip link set lan0 up

me=$(readlink /proc/self/ns/net)
for i in 1 2 3; do
    unshare --net sleep infinity &
    holders+=($!)
    pid=$!
    # unshare(2) runs before sleep does: wait until the process is in its
    # own namespace before moving a link into it.
    for _ in $(seq 500); do
        [ "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" != "$me" ] && break
        sleep 0.01
    done
    [ "$(readlink "/proc/$pid/ns/net")" != "$me" ] || { echo "host$i: no namespace" >&2; exit 1; }
    ip link add "h$i" type veth peer name eth0 netns "$pid" 2>/dev/null ||
        { echo "SKIP: no veth support in this kernel"; exit $SKIP; }
    ip link set "h$i" master lan0 up
    on_host "$i" ip link set lo up
    on_host "$i" ip addr add "10.77.0.$i/24" dev eth0
    on_host "$i" ip link set eth0 up
done

# What a user does on each host: the example's file plus a secret and a
# password shared by the three (made once), and here, scratch paths.
SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
export RAFTKV_PASS
RAFTKV_PASS=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
for i in 1 2 3; do
    mkdir -p "$WORK/host$i"
    conf=$WORK/host$i/raftkv.conf
    (
        umask 077
        cat "$HERE/node$i.conf"
        echo "cluster-secret $SECRET"
        echo "requirepass $RAFTKV_PASS"
        echo "dir $WORK/host$i/data"
        echo "logfile $WORK/host$i/raftkv.log"
    ) >"$conf"
    # nsenter execs the server: $! is its pid.
    nsenter --net="/proc/${holders[$((i - 1))]}/ns/net" -- "$BIN" "$conf" &
    nodes+=($!)
done

cli() { # cli HOST args...: redis-cli from the LAN to host HOST
    local h=$1
    shift
    redis-cli -h "10.77.0.$h" -p 6379 -a "$RAFTKV_PASS" --no-auth-warning "$@"
}
# field HOST NAME: a field of INFO raft; empty while the node does not answer.
field() { { cli "$1" INFO raft 2>/dev/null || true; } | tr -d '\r' | sed -n "s/^$2://p"; }

# A leader, known to all three: with a deadline, and a node that exits is
# a failure at once.
leader=""
for _ in $(seq 300); do
    for i in 1 2 3; do
        kill -0 "${nodes[$((i - 1))]}" 2>/dev/null || { echo "node $i exited" >&2; exit 1; }
    done
    l1=$(field 1 raft_leader_id)
    l2=$(field 2 raft_leader_id)
    l3=$(field 3 raft_leader_id)
    if [ -n "$l1" ] && [ "$l1" != 0 ] && [ "$l1" = "$l2" ] && [ "$l2" = "$l3" ]; then
        leader=$l1
        break
    fi
    sleep 0.1
done
[ -n "$leader" ] || { echo "no leader known to all three nodes within 30 s" >&2; exit 1; }
echo "leader: node $leader (10.77.0.$leader)"

# A write through each node (a follower forwards it to the leader), then
# every key read from every node.
for i in 1 2 3; do
    got=$(cli "$i" SET "greeting:$i" "hello from host $i" 2>&1 || true)
    [ "$got" = OK ] || { echo "SET through node $i answered: $got" >&2; exit 1; }
done
for i in 1 2 3; do
    for k in 1 2 3; do
        got=$(cli "$i" GET "greeting:$k" 2>&1 || true)
        [ "$got" = "hello from host $k" ] ||
            { echo "GET greeting:$k on node $i answered: $got" >&2; exit 1; }
    done
done
# Without the password a client gets -NOAUTH: the nodes listen on a LAN.
got=$(redis-cli -h 10.77.0.1 -p 6379 GET greeting:1 2>&1 || true)
case "$got" in
*NOAUTH*) ;;
*) echo "a client without the password got: $got" >&2; exit 1 ;;
esac
echo "OK: SET through each of the 3 nodes, every key read back from every node"

if [ "$SHELL_AFTER" = 1 ]; then
    echo "A shell on the LAN (10.77.0.254); try: redis-cli -h 10.77.0.2 -a \"\$RAFTKV_PASS\""
    echo "Leave it (exit) to stop the cluster."
    "${SHELL:-/bin/bash}" || true
fi

# A clean stop: SIGTERM, and every node exits 0 (it synced its log and
# committed its state).
for i in 1 2 3; do kill -TERM "${nodes[$((i - 1))]}"; done
for i in 1 2 3; do
    rc=0
    wait "${nodes[$((i - 1))]}" || rc=$?
    [ "$rc" -eq 0 ] || { echo "node $i exited with $rc after SIGTERM" >&2; exit 1; }
done
nodes=()
echo "stopped: the 3 nodes exited cleanly"
