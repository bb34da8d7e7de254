"""INFO replication and ROLE on a 3-node cluster, as Redis's master and
replicas report them: the leader is role:master and lists the followers
it hears from (offset = match index), a follower is role:slave with its
leader's address and link state, and a node that knows no leader says
role:slave with master_link_status:down (not role:master, which would
send clients and monitors looking for a master to it)."""
import redis

from conftest import wait_until


def repl(node):
    with node.client() as r:
        return r.info("replication")


def role(node):
    with node.client() as r:
        return r.execute_command("ROLE")


def last_index(node):
    return int(node.raft()["raft_last_index"])


def test_leader_and_followers_replication_info(make_cluster):
    c = make_cluster(3)
    ld = c.leader()
    with ld.client() as r:
        for i in range(20):
            r.set("k%d" % i, "v")
    fs = c.followers()
    target = last_index(ld)

    def leader_sees_both():
        info = repl(ld)
        if info.get("connected_slaves") != 2:
            return None
        slaves = [info["slave%d" % i] for i in range(2)]
        if any(int(s["offset"]) < target for s in slaves):
            return None
        return info, slaves
    info, slaves = wait_until(leader_sees_both, what="the leader to list both followers")
    assert info["role"] == "master"
    assert int(info["master_repl_offset"]) >= target
    assert sorted(int(s["port"]) for s in slaves) == sorted(f.port for f in fs)
    for s in slaves:
        assert s["ip"] == "127.0.0.1" and s["state"] == "online"
        assert int(s["lag"]) >= 0
    keys = list(info)
    assert keys[:4] == ["role", "connected_slaves", "slave0", "slave1"]

    for f in fs:
        def caught_up():
            i = repl(f)
            return i if i["master_link_status"] == "up" and \
                int(i["slave_repl_offset"]) >= target else None
        i = wait_until(caught_up, what="follower %d to apply the writes" % f.id)
        assert i["role"] == "slave"
        assert i["master_host"] == "127.0.0.1" and int(i["master_port"]) == ld.port
        assert 0 <= int(i["master_last_io_seconds_ago"]) <= 1
        assert i["master_sync_in_progress"] == 0
        assert i["slave_read_only"] == 1 and i["connected_slaves"] == 0
        assert "master_link_down_since_seconds" not in i
        # Redis 7.0's order of a replica's fields
        keys = list(i)
        order = ["role", "master_host", "master_port", "master_link_status",
                 "master_last_io_seconds_ago", "master_sync_in_progress",
                 "slave_read_repl_offset", "slave_repl_offset", "slave_priority",
                 "slave_read_only", "replica_announced", "connected_slaves",
                 "master_failover_state", "master_replid", "master_replid2",
                 "master_repl_offset", "second_repl_offset", "repl_backlog_active",
                 "repl_backlog_size", "repl_backlog_first_byte_offset", "repl_backlog_histlen"]
        assert keys == order
        # "connected" while heard within the election timeout: polled, as a
        # loaded machine may delay a heartbeat past it
        r = wait_until(lambda: (lambda x: x if x[3] == b"connected" else None)(role(f)),
                       what="ROLE connected")
        assert r[0] == b"slave" and r[1] == b"127.0.0.1" and r[2] == ld.port
        assert r[4] >= target

    r = wait_until(lambda: (lambda x: x if len(x[2]) == 2 else None)(role(ld)),
                   what="ROLE to list both followers")
    assert r[0] == b"master" and r[1] >= target
    assert sorted(int(x[1]) for x in r[2]) == sorted(f.port for f in fs)
    for host, port, offset in r[2]:
        assert host == b"127.0.0.1" and int(offset) >= target


def test_leader_stops_listing_a_stopped_follower(make_cluster):
    c = make_cluster(3)
    ld = c.leader()
    wait_until(lambda: repl(ld).get("connected_slaves") == 2, what="both followers listed")
    gone = c.followers()[0]
    gone.stop()
    info = wait_until(lambda: (lambda i: i if i.get("connected_slaves") == 1 else None)(repl(ld)),
                      what="the leader to drop the stopped follower")
    assert int(info["slave0"]["port"]) != gone.port
    wait_until(lambda: len(role(ld)[2]) == 1, what="ROLE to list one follower")


def test_node_without_leader_is_a_slave_with_link_down(make_cluster):
    c = make_cluster(3)
    ld = c.leader()
    f1, f2 = c.followers()
    ld.stop()
    f2.stop()
    # alone, f1 can elect nobody: it knows no leader once the old one times out

    def down():
        i = repl(f1)
        return i if i["master_link_status"] == "down" and not f1.raft()["raft_leader_id"] else None
    i = wait_until(down, what="the lone node to lose its leader")
    assert i["role"] == "slave"
    assert i["master_host"] in ("", None) and i["master_port"] == 0
    assert i["master_last_io_seconds_ago"] >= -1
    assert "master_link_down_since_seconds" in i
    assert f1.raft()["raft_role"] in ("candidate", "follower")
    r = role(f1)
    assert r == [b"slave", b"", 0, b"connect", -1]


def test_errors_of_forwarded_writes_count_on_the_follower(make_cluster):
    """A follower forwards a write to the leader; the error comes back
    through it: the follower counts it (errorstats, failed_calls), the
    leader, which answered a peer, does not."""
    c = make_cluster(3)
    ld = c.leader()
    f = c.followers()[0]
    with ld.client() as r:
        r.set("s", "not a number")
        r.config_resetstat()
    with f.client() as r:
        r.config_resetstat()
        try:
            r.execute_command("INCR", "s")
            raise AssertionError("INCR of a string succeeded")
        except redis.ResponseError as e:
            assert "not an integer" in str(e)
        # redis-py leaves "count=1" (no comma) a string
        assert r.info("errorstats") in ({"errorstat_ERR": "count=1"},
                                         {"errorstat_ERR": {"count": 1}})
        assert r.info("stats")["total_error_replies"] == 1
        assert r.info("commandstats")["cmdstat_incr"]["failed_calls"] == 1
    with ld.client() as r:
        assert r.info("errorstats") == {}
        assert r.info("commandstats")["cmdstat_incr"]["calls"] == 1  # it ran here
    with f.client() as r:  # HELLO says what INFO says
        assert r.execute_command("HELLO", "2")[11] == b"replica"
    with ld.client() as r:
        assert r.execute_command("HELLO", "2")[11] == b"master"


def test_snapshot_transfer_shows_as_sync_and_wait_bgsave(make_cluster):
    """While a follower stages a snapshot (a rate-limited transfer of a few
    seconds), it says master_sync_in_progress:1 and ROLE "sync", and the
    leader lists it with state=wait_bgsave; afterwards, 0 and online."""
    import test_snapshot as snap  # the module, so pytest does not collect its tests here
    c = make_cluster(3, args=snap.SLOW)
    ld, f = snap.lag_follower(c, 60000, 4, value_size=100)
    f.start()
    snap.wait_receiving(f)

    def follower_syncing():
        i = repl(f)
        return i if i["master_sync_in_progress"] == 1 else None
    i = wait_until(follower_syncing, what="the follower to report its sync")
    assert i["role"] == "slave" and "master_sync_read_bytes" in i
    wait_until(lambda: role(f)[3] == b"sync", what='ROLE to say "sync"')

    def leader_sending():
        i = repl(ld)
        return any(i["slave%d" % k]["state"] == "wait_bgsave"
                   for k in range(i["connected_slaves"]))
    wait_until(leader_sending, what="the leader to list the follower as wait_bgsave")
    wait_until(lambda: "Installed snapshot" in f.log(), 180, "the follower to install a snapshot")
    wait_until(lambda: repl(f)["master_sync_in_progress"] == 0 and role(f)[3] == b"connected",
               what="the follower to report the sync done")
    wait_until(lambda: all(repl(ld)["slave%d" % k]["state"] == "online" for k in range(2))
               if repl(ld)["connected_slaves"] == 2 else False,
               what="the leader to list both followers online")
