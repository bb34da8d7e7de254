"""ACL users are cluster-wide state (issue 20): a user made on one node is
the same on every node (reads served on a follower, writes forwarded to the
leader, checked on the follower and again on the leader as the same user),
after the leader is killed, and on a node that catches up by snapshot; ACL
DELUSER disconnects the user's clients on every node, ACL LOAD those of
every user but default; CONFIG SET requirepass changes the default user's
password on every node; aclfile's users become a new cluster's."""
import pytest
import redis

from conftest import wait_until
from test_snapshot import KEEP, info


def acl_list(node, **kw):
    with node.client(**kw) as r:
        return r.execute_command("ACL", "LIST")


def as_user(node, user, pw):
    return node.client(username=user, password=pw)


def can_auth(node, user, pw):
    try:
        with as_user(node, user, pw) as r:
            return r.ping()
    except (redis.AuthenticationError, redis.exceptions.ResponseError):
        return False


def test_a_user_is_the_same_on_every_node_through_failover_and_snapshot(make_cluster):
    c = make_cluster(3, args=KEEP)
    ld = c.leader()
    with ld.client() as r:
        assert r.execute_command("ACL", "SETUSER", "app", "on", ">app-pw", "~app:*",
                                 "+@all", "-@dangerous") == b"OK"
    want = acl_list(ld)
    wait_until(lambda: all(acl_list(n) == want for n in c.nodes), 20, "every node to have the user")
    for n in c.nodes:
        assert can_auth(n, "app", "app-pw")
        assert not can_auth(n, "app", "wrong")
        with as_user(n, "app", "app-pw") as r:
            assert r.set("app:%d" % n.id, "v") is True  # forwarded by a follower
            assert r.get("app:%d" % n.id) == b"v"
            for cmd in (("SET", "other", "v"), ("GET", "other"), ("FLUSHALL",)):
                try:
                    r.execute_command(*cmd)
                    raise AssertionError("%s allowed on node %d" % (cmd, n.id))
                except redis.exceptions.ResponseError as e:
                    assert str(e).startswith("this user has no permissions"), e
            assert r.execute_command("ACL", "WHOAMI") == b"app"
    # The leader killed: the new one knows the user.
    ld.kill()
    ld2 = c.leader(among=[n for n in c.nodes if n.alive()])
    with as_user(ld2, "app", "app-pw") as r:
        assert r.set("app:after", "1") is True
    ld.start()  # the old leader, from its own log
    # A follower stopped, a user made and the log truncated past it: the
    # follower gets it from the snapshot.
    f = [n for n in c.nodes if n is not ld2 and n is not ld][0]
    f.stop()
    with ld2.client() as r:
        assert r.execute_command("ACL", "SETUSER", "late", "on", ">late-pw", "~*", "+get") == b"OK"
    last = int(info(ld2)["raft_last_index"])
    with ld2.client(socket_timeout=60) as r:
        for i in range(0, 3000, 500):
            p = r.pipeline(transaction=False)
            for k in range(i, i + 500):
                p.set("k%d" % k, "v")
            p.execute()
    wait_until(lambda: int(info(ld2)["raft_first_index"]) > last + 1, 60,
               "the leader's log to be truncated past the user's entry")
    f.start()
    wait_until(lambda: "Installed snapshot" in f.log(), 120, "the follower to install a snapshot")
    want = acl_list(ld2)
    wait_until(lambda: all(acl_list(n) == want for n in c.nodes), 30, "every node to agree on users")
    for n in c.nodes:
        with as_user(n, "late", "late-pw") as r:
            assert r.get("k1") == b"v"


def test_deluser_disconnects_everywhere_and_requirepass_is_cluster_wide(make_cluster):
    c = make_cluster(3)
    ld = c.leader()
    with ld.client() as r:
        assert r.execute_command("ACL", "SETUSER", "temp", "on", ">t", "~*", "+@all") == b"OK"
    wait_until(lambda: all(can_auth(n, "temp", "t") for n in c.nodes), 20, "temp everywhere")
    conns = [as_user(n, "temp", "t") for n in c.nodes]
    for r in conns:
        assert r.ping() is True
    fl = [n for n in c.nodes if n is not ld]
    with fl[0].client() as r:  # through a follower: forwarded
        assert r.execute_command("ACL", "DELUSER", "temp") == 1

    def gone(r):
        try:
            r.connection_pool.get_connection("PING").send_command("PING")
            r.connection_pool.reset()
            r.execute_command("PING", retry_on_timeout=False)
        except (redis.ConnectionError, redis.AuthenticationError):
            return True
        except redis.exceptions.ResponseError:
            return True
        return False
    for r in conns:
        wait_until(lambda: gone(r), 20, "the deleted user's connection to be closed")
        r.close()
    # CONFIG SET requirepass through a follower: every node's default user.
    with fl[1].client() as r:
        assert r.config_set("requirepass", "s3cret") is True

    def needs_auth(n):
        try:
            with n.client() as r:
                r.ping()
            return False
        except redis.AuthenticationError:
            return True
    wait_until(lambda: all(needs_auth(n) for n in c.nodes), 20, "requirepass on every node")
    for n in c.nodes:
        n.password = "s3cret"
        with n.client() as r:
            assert r.ping() is True


def test_the_leader_checks_a_forwarded_command_as_its_user(make_cluster):
    """RAFT.PROXY / RAFT.PROXYEXEC carry the follower's client's user; the
    leader checks the command again as that user against its own users, so
    its check decides (a follower that has not applied a change yet cannot
    let a command through). Played here by a peer connection that skips the
    follower's check altogether."""
    from test_peerauth import cluster_id, handshake, secret_for_test
    secret = secret_for_test()
    c = make_cluster(3, secrets={1: secret, 2: secret, 3: secret})
    ld = c.leader()
    with ld.client() as r:
        assert r.execute_command("ACL", "SETUSER", "app", "on", ">pw", "~app:*", "+@all",
                                 "-flushall") == b"OK"
    other = [n for n in c.nodes if n is not ld][0]
    conn, _ = handshake(ld, "127.0.0.51", secret, cluster_id(ld), client_id=other.id,
                        server_id=ld.id)
    try:
        arg = "2:0:@3:app:10.0.0.9:4242"
        assert conn.call("RAFT.PROXY", arg, "SET", "app:1", "v") == b"+OK\r\n"
        assert conn.call("RAFT.PROXY", arg, "SET", "other", "v") == (
            b"-NOPERM this user has no permissions to access one of the keys used as "
            b"arguments\r\n")
        assert conn.call("RAFT.PROXY", arg, "FLUSHALL") == (
            b"-NOPERM this user has no permissions to run the 'flushall' command\r\n")
        # A user the leader does not have: refused whatever the follower thought.
        assert conn.call("RAFT.PROXY", "2:0:@5:ghost:10.0.0.9:1", "GET", "app:1") == (
            b"-NOPERM this user has no permissions to run the 'get' command\r\n")
        with ld.client() as r:
            log = r.execute_command("ACL", "LOG", "1")
        assert log[0][log[0].index(b"username") + 1] == b"ghost", log
        # The default user (unrestricted) and RESP3 through the same argument.
        assert conn.call("RAFT.PROXY", "3:0:@7:default", "SET", "other", "v") == b"+OK\r\n"
        # A malformed user part is refused, never run as no user.
        assert conn.call("RAFT.PROXY", "2:0:@99:app", "SET", "other", "w") == (
            b"-ERR malformed RAFT.PROXY\r\n")
        # A transaction: each queued command checked as the user at EXEC.
        rep = conn.call("RAFT.PROXYEXEC", arg, 2, 3, "SET", "app:2", "x", 3, "SET", "other", "y")
        assert rep == (b"*2\r\n+OK\r\n-NOPERM ACLs rules changed between the moment the "
                       b"transaction was accumulated and the EXEC call. This command is no "
                       b"longer allowed for the following reason: no permission to touch the "
                       b"specified keys\r\n"), rep
        # The user changed on the leader: the next forwarded command sees it.
        with ld.client() as r:
            assert r.execute_command("ACL", "SETUSER", "app", "resetkeys", "~new:*") == b"OK"
            assert r.get("other") == b"v"
            assert r.get("app:2") == b"x"
        assert conn.call("RAFT.PROXY", arg, "SET", "app:3", "v").startswith(b"-NOPERM")
        assert conn.call("RAFT.PROXY", arg, "SET", "new:1", "v") == b"+OK\r\n"
        with ld.client() as r:
            log = r.execute_command("ACL", "LOG", "1")
        assert log[0][log[0].index(b"username") + 1] == b"app"
    finally:
        conn.close()
    # Through a real follower: the user name travels, the command runs as it.
    with as_user(other, "app", "pw") as r:
        assert r.set("new:2", "v") is True
        try:
            r.set("app:9", "v")
            raise AssertionError("a key outside the user's patterns was written")
        except redis.exceptions.ResponseError as e:
            assert str(e).startswith("this user has no permissions"), e
        p = r.pipeline(transaction=True)
        p.set("new:3", "v")
        p.get("new:3")
        assert p.execute() == [True, b"v"]


def test_an_older_followers_raft_proxy_without_a_user(make_cluster):
    """RAFT.PROXY / RAFT.PROXYEXEC without a user (an older follower's form,
    kept for rolling upgrade): run as default and checked as default while
    default is the only user; refused once other users exist (the leader
    cannot know the client's user), allowed again when they are gone. A
    connection that is not a peer cannot send RAFT.PROXY at all."""
    from test_peerauth import cluster_id, handshake, secret_for_test
    secret = secret_for_test()
    c = make_cluster(3, secrets={1: secret, 2: secret, 3: secret})
    ld = c.leader()
    with ld.client() as r:
        assert r.execute_command("ACL", "SETUSER", "default", "-flushall") == b"OK"
        with pytest.raises(redis.ResponseError, match="RAFT.PROXY needs a RAFT.HELLO first"):
            r.execute_command("RAFT.PROXY", "2:0", "SET", "k", "v")
    other = [n for n in c.nodes if n is not ld][0]
    conn, _ = handshake(ld, "127.0.0.52", secret, cluster_id(ld), client_id=other.id,
                        server_id=ld.id)
    refused = (b"-NOPERM this follower does not name the user of its client (an older "
               b"version) and ACL users other than default exist: upgrade it\r\n")
    try:
        for arg in ("2", "2:0", "2:0:10.0.0.9:4242"):
            assert conn.call("RAFT.PROXY", arg, "SET", "k", arg) == b"+OK\r\n"
            assert conn.call("RAFT.PROXY", arg, "FLUSHALL") == (
                b"-NOPERM this user has no permissions to run the 'flushall' command\r\n")
        assert conn.call("RAFT.PROXYEXEC", "2:0", 2, 3, "SET", "t", "1", 1, "FLUSHALL") == (
            b"*2\r\n+OK\r\n-NOPERM ACLs rules changed between the moment the transaction was "
            b"accumulated and the EXEC call. This command is no longer allowed for the following "
            b"reason: no permission to execute the command or subcommand\r\n")
        with ld.client() as r:
            assert r.execute_command("ACL", "SETUSER", "app", "on", ">pw", "~app:*",
                                     "+@all") == b"OK"
        assert conn.call("RAFT.PROXY", "2:0", "SET", "k", "after") == refused
        assert conn.call("RAFT.PROXY", "2", "GET", "k") == refused
        assert conn.call("RAFT.PROXYEXEC", "2:0", 1, 3, "SET", "k", "after") == refused
        # the named form is unaffected
        assert conn.call("RAFT.PROXY", "2:0:@3:app", "SET", "app:1", "v") == b"+OK\r\n"
        with ld.client() as r:
            assert r.get("k") == b"2:0:10.0.0.9:4242"
            assert r.execute_command("ACL", "DELUSER", "app") == 1
        assert conn.call("RAFT.PROXY", "2:0", "SET", "k", "again") == b"+OK\r\n"
    finally:
        conn.close()


def test_acl_genpass_log_save_load_inside_multi_on_a_follower(make_cluster):
    """ACL GENPASS, LOG, SAVE and LOAD are queued inside MULTI (as Redis
    does) and run by EXEC on the client's own node, here a follower: SAVE
    writes that node's file with the users EXEC found (before the
    transaction's own SETUSER), LOAD then reads it back and replaces the
    users on every node, in the transaction's order; GENPASS and LOG answer
    that node's password and log."""
    import os
    c = make_cluster(3, start=False)
    for n in c.nodes:
        path = os.path.join(c.root, "users%d.acl" % n.id)
        with open(path, "w") as f:
            f.write("user default on nopass ~* &* +@all\nuser filed on >f ~* +@all\n")
        n.extra = ["--aclfile", path]
    c.start()
    ld = c.leader()
    wait_until(lambda: all(_users(n) == ["default", "filed"] for n in c.nodes), 20,
               "the file's users everywhere")
    f = [n for n in c.nodes if n is not ld][0]
    with f.client() as r:
        p = r.pipeline(transaction=True)
        for cmd in (("SETUSER", "tmp", "on", ">x"), ("SAVE",), ("GENPASS", "32"),
                    ("LOG", "RESET"), ("LOG",), ("USERS",), ("LOAD",), ("USERS",),
                    ("GENPASS", "0")):
            p.execute_command("ACL", *cmd)
        res = p.execute(raise_on_error=False)
    assert res[:2] == [b"OK", b"OK"], res
    assert len(res[2]) == 8 and int(res[2], 16) >= 0, res
    assert res[3:8] == [b"OK", [], [b"default", b"filed", b"tmp"], b"OK", [b"default", b"filed"]]
    assert isinstance(res[8], redis.ResponseError) and "GENPASS argument" in str(res[8])
    with open(f.extra[1]) as fh:
        saved = fh.read()
    assert "user filed " in saved and "tmp" not in saved, saved
    wait_until(lambda: all(_users(n) == ["default", "filed"] for n in c.nodes), 20,
               "the loaded users everywhere")


def _users(node):
    with node.client() as r:
        return sorted(u.decode() for u in r.execute_command("ACL", "USERS"))


def test_aclfile_at_start_makes_a_new_clusters_users_only(make_cluster):
    """aclfile is read at start (a file that does not parse stops the node,
    as redis-server refuses to start); its users become the cluster's when
    the cluster has none yet: the first leader proposes them and the first
    such entry committed wins. An existing cluster keeps its log's users
    whatever the files say on restart. ACL LOAD disconnects the clients of
    every user but default, as Redis's does."""
    import os
    import subprocess
    c = make_cluster(3, start=False)
    for n in c.nodes:
        path = os.path.join(c.root, "users%d.acl" % n.id)
        with open(path, "w") as f:
            f.write("user default on nopass ~* &* +@all\n"
                    "user app on >app-pw ~app:* +@all\n"
                    "user from%d on >pw%d ~* +@all\n" % (n.id, n.id))
        n.extra = ["--aclfile", path]
    c.start()
    ld = c.leader()

    def settled():
        lists = [_users(n) for n in c.nodes]
        return lists[0] if all(x == lists[0] for x in lists) and "app" in lists[0] else None
    got = wait_until(settled, 20, "every node to have one aclfile's users")
    origin = [u for u in got if u.startswith("from")]
    assert len(origin) == 1 and got == sorted(["app", "default"] + origin), got
    for n in c.nodes:
        assert can_auth(n, "app", "app-pw")
        with as_user(n, "app", "app-pw") as r:
            assert r.set("app:1", "v") is True
    # Restarts with other files: the log's users stay.
    for n in c.nodes:
        with open(n.extra[1], "w") as f:
            f.write("user default on nopass ~* &* +@all\nuser newcomer on nopass +@all\n")
    for n in c.nodes:
        n.stop()
    for n in c.nodes:
        n.start()
    ld = c.leader()
    wait_until(lambda: all(_users(n) == got for n in c.nodes), 20, "the log's users after restart")
    # ACL LOAD (the node's own file, proposed to all): app's connections
    # closed on every node, default's kept; the file's users everywhere.
    conns = [_raw_auth(n, "app", "app-pw") for n in c.nodes]
    plain = [n.client() for n in c.nodes]
    for r in plain:
        assert r.ping() is True
    with ld.client() as r:
        assert r.execute_command("ACL", "LOAD") == b"OK"
    wait_until(lambda: all(_users(n) == ["default", "newcomer"] for n in c.nodes), 20,
               "the loaded users everywhere")
    for s in conns:
        assert _eof_within(s, 10), "app's connection was not closed"
        s.close()
    for r in plain:
        assert r.ping() is True
        r.close()
    # A file that does not parse: the node refuses to start, saying why.
    bad = os.path.join(c.root, "bad.acl")
    with open(bad, "w") as f:
        f.write("user ok on nopass +@all\nuser broken +nosuchcommand\n")
    n = c.nodes[0]
    n.stop()
    p = subprocess.run(n.argv()[:-2] + ["--aclfile", bad], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    assert p.returncode != 0
    assert b"bad.acl:2: Error in applying operation '+nosuchcommand'" in p.stdout, p.stdout[-2000:]
    assert b"Aborting RaftKV startup because of ACL errors" in p.stdout


def _raw_auth(node, user, pw):
    import socket
    s = socket.create_connection(("127.0.0.1", node.port), timeout=10)
    s.sendall(b"*3\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"
              % (len(user), user.encode(), len(pw), pw.encode()))
    assert s.recv(100) == b"+OK\r\n"
    return s


def _eof_within(s, secs):
    """True when the server closes s within secs (nothing else arrives)."""
    import time
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        s.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            if s.recv(100) == b"":
                return True
        except TimeoutError:
            return False
        except OSError:
            return True
    return False
