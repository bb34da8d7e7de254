"""The keys an operator reads about: `raftkv-server --help` and the packaged
config file (packaging/raftkv.conf, installed as /etc/raftkv/raftkv.conf)
list every key of server/config.c's table, each once, with the default the
server really has, so neither can fall behind the code.

  RAFTKV_SERVER=build/asan/server/raftkv-server python3 -m pytest -q tests/pkg/test_config_file.py
"""
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile

import pytest
import redis

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "pylib"))
import testproc  # noqa: E402  (tests/pylib)

SERVER = os.environ.get("RAFTKV_SERVER")
CONF = os.path.join(HERE, "..", "..", "packaging", "raftkv.conf")
LSAN = "suppressions=" + os.path.join(HERE, "..", "lsan.supp")
# CONFIG GET never shows it (server/config.h).
SECRET_KEYS = {"cluster-secret", "tls-key-file-pass", "tls-client-key-file-pass"}


def help_keys():
    """{key: (default as a config file writes it, marks, description)} from
    --help, whose "  --key default [marks]" lines come from config.c's
    table, each followed by a description line."""
    out = subprocess.run([SERVER, "--help"], capture_output=True, text=True, timeout=30,
                         env=dict(os.environ, LSAN_OPTIONS=LSAN))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    keys = {}
    for i, line in enumerate(lines):
        m = re.match(r"^  --([a-z][a-z0-9-]*)(?: (.*))?$", line)
        if not m:
            continue
        rest = m.group(2) or ""
        marks = re.findall(r"\s+\[([^\]]+)\]$", rest)
        rest = re.sub(r"\s+\[[^\]]+\]$", "", rest)
        desc = lines[i + 1].strip() if i + 1 < len(lines) else ""
        assert m.group(1) not in keys, "--help lists %s twice" % m.group(1)
        keys[m.group(1)] = (" ".join(shlex.split(rest)), marks, desc)
    return keys


def conf_settings(path):
    """Setting lines of a config file: [(key, value, commented)] for every
    line "key value" or "# key value" whose key the server knows."""
    known = help_keys()
    found = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            m = re.match(r"^(# )?([a-z][a-z0-9-]*)(?:\s+(.*))?$", line)
            if not m or m.group(2) not in known:
                continue
            value = " ".join(shlex.split(m.group(3) or ""))
            found.append((m.group(2), value, m.group(1) is not None))
    return found


class Server:
    """One raftkv-server with a config file (or none) and overrides; stopped
    by pid with SIGTERM, and it must exit 0."""

    def __init__(self, conf, workdir, extra=()):
        self.port = testproc.pick_port()
        self.out = os.path.join(workdir, "server.out")
        argv = [SERVER] + ([conf] if conf else []) + [
            "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
            os.path.join(workdir, "data"), "--logfile", ""] + list(extra)
        with open(self.out, "ab") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                         preexec_fn=testproc.die_with_parent,
                                         env=dict(os.environ, LSAN_OPTIONS=LSAN))
        try:
            testproc.wait_until(lambda: self.proc.poll() is not None or
                                testproc.answers_ping("127.0.0.1", self.port), 20,
                                "the server to answer PING")
            assert self.proc.poll() is None, "the server exited: " + testproc.read_text(self.out)
        except BaseException:
            self.kill()
            raise
        self.r = redis.Redis(port=self.port, decode_responses=True)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        self.r.close()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=30)
        finally:
            self.kill()
        assert rc == 0, "exit %d: %s" % (rc, testproc.read_text(self.out, tail=4000))


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="raftkv-pkg-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_help_describes_every_key_of_the_table(workdir):
    keys = help_keys()
    assert len(keys) >= 30, sorted(keys)
    for k, (_default, _marks, desc) in keys.items():
        assert desc and not desc.startswith("--") and desc != "(undocumented)", \
            "--help has no description for %s" % k
    # Every key the server answers CONFIG GET for is in --help, and every
    # key in --help is one the server knows (CONFIG GET * hides the secret).
    s = Server(None, workdir)
    try:
        live = set(s.r.config_get("*"))
    finally:
        s.stop()
    assert live == set(keys) - SECRET_KEYS
    # The marks say the truth: a [CONFIG SET] key can be set to its current
    # value; a key without a mark cannot.
    s = Server(None, workdir)
    try:
        for k, (_default, marks, _desc) in keys.items():
            if k in SECRET_KEYS or k == "notify-keyspace-events" or "fixed" in marks:
                continue
            current = s.r.config_get(k)[k]
            if "CONFIG SET" in marks:
                assert s.r.config_set(k, current), k
            else:
                with pytest.raises(redis.ResponseError, match="immutable"):
                    s.r.config_set(k, current)
    finally:
        s.stop()


def test_packaged_config_lists_every_key_once_with_its_default():
    keys = help_keys()
    settings = conf_settings(CONF)
    commented = {}
    for key, value, is_comment in settings:
        if is_comment:
            assert key not in commented, "raftkv.conf shows the default of %s twice" % key
            commented[key] = value
    missing = set(keys) - set(commented)
    assert not missing, "raftkv.conf lacks a '# key default' line for: %s" % sorted(missing)
    for key, value in commented.items():
        assert value == keys[key][0], \
            "raftkv.conf says the default of %s is %r, the server %r" % (key, value, keys[key][0])
    # An active line comes after its key's default, and once.
    active = [k for k, _v, c in settings if not c]
    assert len(active) == len(set(active)), active
    assert set(active) <= {"bind", "dir", "logfile"}, active


def test_packaged_config_starts_a_node(workdir):
    s = Server(CONF, workdir)
    try:
        assert s.r.set("k", "v") and s.r.get("k") == "v"
        assert s.r.config_get("dir")["dir"] == os.path.join(workdir, "data")
        # A bind of several words, as redis.conf writes it.
        assert s.r.config_get("bind")["bind"] == "127.0.0.1"
    finally:
        s.stop()


def test_bind_takes_several_words_in_a_file(workdir):
    conf = os.path.join(workdir, "bind.conf")
    with open(conf, "w") as f:
        f.write("bind 127.0.0.1 -::1\n")
    port = testproc.pick_port()
    out = subprocess.Popen([SERVER, conf, "--port", str(port), "--dir",
                            os.path.join(workdir, "data")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           preexec_fn=testproc.die_with_parent,
                           env=dict(os.environ, LSAN_OPTIONS=LSAN))
    try:
        testproc.wait_until(lambda: out.poll() is not None or
                            testproc.answers_ping("127.0.0.1", port), 20, "PING")
        assert out.poll() is None, out.stdout.read().decode()
        r = redis.Redis(port=port, decode_responses=True)
        assert r.config_get("bind")["bind"] == "127.0.0.1 -::1"
        r.close()
    finally:
        out.send_signal(signal.SIGTERM)
        try:
            out.wait(timeout=30)
        finally:
            if out.poll() is None:
                out.kill()
                out.wait()
            out.stdout.close()


def test_the_defaults_the_file_shows_are_the_servers(workdir):
    """Every commented line uncommented (the package's own active lines left
    out) gives the same CONFIG GET * as no file at all."""
    plain = os.path.join(workdir, "defaults.conf")
    with open(plain, "w") as f:
        for key, value, is_comment in conf_settings(CONF):
            if is_comment:
                f.write("%s %s\n" % (key, shlex.quote(value) if value else '""'))
    s = Server(None, workdir)
    try:
        want = s.r.config_get("*")
    finally:
        s.stop()
    s = Server(plain, workdir)
    try:
        got = s.r.config_get("*")
    finally:
        s.stop()
    # Each server had a port of its own.
    assert got.pop("port") != want.pop("port")
    assert got == want
