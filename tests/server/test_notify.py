"""notify-keyspace-events on one node: set through the log (an internal
entry clients cannot send), kept across restarts, refused in the
configuration file. The event streams themselves are checked against
redis-server by redis-tests/diff_notify.py. The first test also passes
against redis-server (RAFTKV_SERVER_KIND=redis); the others pin RaftKV's
deliberate differences."""
import pytest

from conftest import IS_RAFTKV, Push, Server, encode

raftkv_only = pytest.mark.skipif(not IS_RAFTKV, reason="RaftKV's replicated setting")


def test_the_internal_entry_is_an_unknown_command_to_clients(make_server):
    s = make_server()
    a = s.raw()
    assert a.call("RAFT.NOTIFYCONF", "2047") == \
        "ERR unknown command 'RAFT.NOTIFYCONF', with args beginning with: '2047' "
    assert a.call("COMMAND", "INFO", "raft.notifyconf") == [None]
    assert b"raft.notifyconf" not in a.call("COMMAND", "LIST")
    assert a.call("MULTI") == "OK"
    assert a.call("raft.notifyconf", "1").startswith("ERR unknown command")
    assert a.call("EXEC").startswith("EXECABORT")
    assert a.call("CONFIG", "GET", "notify-keyspace-events") == [b"notify-keyspace-events", b""]
    # A subscriber sees nothing while the setting is empty, then the events.
    sub = s.raw()
    sub.send(encode("PSUBSCRIBE", "__key*__:*"))
    assert sub.read_reply() == Push([b"psubscribe", b"__key*__:*", 1])
    assert a.call("SET", "quiet", "1") == "OK"
    assert a.call("CONFIG", "SET", "notify-keyspace-events", "Eg$") == "OK"
    assert a.call("CONFIG", "GET", "notify-keyspace-events") == [b"notify-keyspace-events", b"g$E"]
    assert a.call("SET", "loud", "1") == "OK"
    assert sub.read_reply() == Push([b"pmessage", b"__key*__:*", b"__keyevent@0__:set", b"loud"])


@raftkv_only
def test_the_setting_survives_a_restart(make_server):
    s = make_server()
    a = s.raw()
    assert a.call("CONFIG", "SET", "notify-keyspace-events", "KEA") == "OK"
    assert s.stop() == 0
    s.restart()
    a = s.raw()
    assert a.call("CONFIG", "GET", "notify-keyspace-events") == [b"notify-keyspace-events", b"AKE"]
    sub = s.raw()
    sub.send(encode("SUBSCRIBE", "__keyspace@0__:k"))
    assert sub.read_reply() == Push([b"subscribe", b"__keyspace@0__:k", 1])
    assert a.call("RPUSH", "k", "x") == 1
    assert sub.read_reply() == Push([b"message", b"__keyspace@0__:k", b"rpush"])


@raftkv_only
def test_it_is_set_alone_and_validated_as_redis_does(make_server):
    a = make_server().raw()
    assert a.call("CONFIG", "SET", "notify-keyspace-events", "KEQ") == (
        "ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - "
        "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
    assert a.call("CONFIG", "SET", "notify-keyspace-events", "KEA", "timeout", "5") == (
        "ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - "
        "notify-keyspace-events is cluster-wide: set it alone")
    assert a.call("CONFIG", "GET", "timeout") == [b"timeout", b"0"]
    assert a.call("CONFIG", "GET", "notify-keyspace-events") == [b"notify-keyspace-events", b""]


@raftkv_only
def test_a_config_file_may_not_set_it(make_server):
    s = Server(["--notify-keyspace-events", "KEA"])
    try:
        with pytest.raises(AssertionError):
            s.start()
        assert "cluster-wide state kept in the replicated log" in s.log()
    finally:
        s.cleanup()
    # An empty value sets nothing and is accepted (a stock redis.conf line).
    s = make_server(conf='notify-keyspace-events ""\n')
    assert s.raw().call("CONFIG", "GET", "notify-keyspace-events") == [b"notify-keyspace-events", b""]
