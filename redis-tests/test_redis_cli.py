"""redis-cli against raftkv-server: one-shot commands (RESP2 and -3, raw and
formatted output) compared with the same invocations against redis-server,
piped stdin, a real interactive session on a pty (redis-cli sends COMMAND
DOCS first there), and --pipe mass insertion of 100,000 commands."""
import os
import pty
import select
import subprocess
import time

import redis

REDIS_CLI = "/usr/bin/redis-cli"


def cli(srv, *args, stdin=None, timeout=60):
    p = subprocess.run([REDIS_CLI, "-h", srv.host, "-p", str(srv.port)] + [str(a) for a in args],
                       input=stdin, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


# Same invocation, same output on both servers (stdout, stderr, status).
ONE_SHOT = [
    ["SET", "a", "hello world"],
    ["GET", "a"],
    ["--no-raw", "GET", "a"],
    ["INCR", "n"],
    ["--no-raw", "INCR", "n"],
    ["GET", "missing"],
    ["--no-raw", "GET", "missing"],
    ["MGET", "a", "missing", "n"],
    ["--no-raw", "MGET", "a", "missing", "n"],
    ["PING"],
    ["NOSUCH", "x"],
    ["--no-raw", "NOSUCH", "x"],
    ["INCR", "a"],
    ["DBSIZE"],
    ["SET", "bin", "a\x01b"],
    ["--no-raw", "GET", "bin"],
    ["--raw", "GET", "bin"],
    ["INCRBYFLOAT", "f", "1.5"],
    ["EXPIRE", "a", "100"],
    ["TTL", "a"],
    ["-r", "3", "INCR", "rep"],
    ["-3", "GET", "a"],
    ["-3", "--no-raw", "GET", "a"],
    ["-3", "--no-raw", "GET", "missing"],
    ["-3", "--no-raw", "MGET", "a", "missing"],
    ["-3", "--no-raw", "INCR", "n"],
    ["-3", "--no-raw", "CONFIG", "GET", "maxclients"],
    ["-3", "CONFIG", "GET", "maxclients"],
    ["-3", "--no-raw", "SET", "x", "y"],
    ["-3", "--no-raw", "NOSUCH"],
    ["-3", "--no-raw", "LCS", "a", "bin", "IDX"],
    ["-3", "--no-raw", "EXISTS", "a", "x"],
    ["--no-raw", "SCAN", "0", "MATCH", "nomatch*", "COUNT", "1000"],
]


def test_one_shot_same_output_as_redis(raftkv, redis_ref):
    diffs = []
    for args in ONE_SHOT:
        want = cli(redis_ref, *args)
        got = cli(raftkv, *args)
        if want != got:
            diffs.append("redis-cli %s\n  redis:  %r\n  raftkv: %r" % (" ".join(args), want, got))
    assert not diffs, "\n".join(diffs)


def test_one_shot_x_and_scan(raftkv):
    assert cli(raftkv, "-x", "SET", "fromstdin", stdin=b"line1\nline2\n") == (0, b"OK\n", b"")
    assert cli(raftkv, "GET", "fromstdin") == (0, b"line1\nline2\n\n", b"")
    r = redis.Redis(host=raftkv.host, port=raftkv.port)
    r.mset({"s:%d" % i: i for i in range(300)})
    rc, out, err = cli(raftkv, "--scan", "--pattern", "s:*")
    assert rc == 0 and err == b""
    assert sorted(out.split()) == sorted(("s:%d" % i).encode() for i in range(300))


def test_piped_stdin(raftkv, redis_ref):
    script = b'SET a 1\nGET a\nINCR a\nGET nokey\nSET b "x y"\nGET b\nNOSUCH\nMGET a b\nSET c\n'
    want = cli(redis_ref, stdin=script)
    got = cli(raftkv, stdin=script)
    assert got == want
    assert got[1] == b"OK\n1\n2\n\nOK\nx y\nERR unknown command 'NOSUCH', with args beginning with: \n\n2\nx y\n" \
        b"ERR wrong number of arguments for 'set' command\n\n"


def _read_until(fd, token, deadline_s=20):
    buf = b""
    deadline = time.monotonic() + deadline_s
    while token not in buf:
        left = deadline - time.monotonic()
        assert left > 0, "no %r from redis-cli; got %r" % (token, buf)
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
    assert token in buf, "no %r from redis-cli; got %r" % (token, buf)
    return buf


def test_interactive_on_a_pty(raftkv):
    prompt = ("%s:%d> " % (raftkv.host, raftkv.port)).encode()
    pid, fd = pty.fork()
    if pid == 0:
        # TERM=dumb: linenoise reads plain lines (no cursor-position query);
        # redis-cli is still interactive (a tty): prompt, COMMAND DOCS, hints.
        env = dict(os.environ, TERM="dumb")
        os.execve(REDIS_CLI, [REDIS_CLI, "-h", raftkv.host, "-p", str(raftkv.port)], env)
    try:
        _read_until(fd, prompt)
        os.write(fd, b"SET greeting \"hi there\"\r")
        _read_until(fd, b"OK")
        os.write(fd, b"GET greeting\r")
        _read_until(fd, b'"hi there"')
        os.write(fd, b"INCR n\r")
        _read_until(fd, b"(integer) 1")
        os.write(fd, b"GET nokey\r")
        _read_until(fd, b"(nil)")
        os.write(fd, b"NOSUCH\r")
        _read_until(fd, b"(error) ERR unknown command")
        os.write(fd, b"MULTI\r")
        _read_until(fd, b"OK")
        os.write(fd, b"INCR n\r")
        _read_until(fd, b"QUEUED")
        os.write(fd, b"EXEC\r")
        _read_until(fd, b"1) (integer) 2")
        os.write(fd, b"HELLO 3\r")
        _read_until(fd, b"proto")
        os.write(fd, b"CONFIG GET maxclients\r")
        _read_until(fd, b'1# "maxclients" => "10000"')
        os.write(fd, b"quit\r")
        deadline = time.monotonic() + 20
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            assert time.monotonic() < deadline, "redis-cli did not exit after quit"
            try:
                os.read(fd, 4096)
            except OSError:
                pass
            time.sleep(0.05)
        pid = None
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        if pid:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        os.close(fd)
    assert redis.Redis(host=raftkv.host, port=raftkv.port).get("greeting") == b"hi there"


def test_pipe_mass_insertion(raftkv):
    n = 100000
    data = b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\nkey:%d\r\n$%d\r\nval:%d\r\n" %
                    (len(b"key:%d" % i), i, len(b"val:%d" % i), i) for i in range(n - 1))
    data += b"*2\r\n$4\r\nINCR\r\n$7\r\ncounter\r\n"
    rc, out, err = cli(raftkv, "--pipe", stdin=data, timeout=180)
    text = (out + err).decode()
    assert rc == 0, text
    assert "errors: 0, replies: %d" % n in text, text
    r = redis.Redis(host=raftkv.host, port=raftkv.port)
    assert r.dbsize() == n
    assert r.get("key:%d" % (n - 2)) == b"val:%d" % (n - 2)
