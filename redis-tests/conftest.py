"""pytest fixtures of the client tests: a raftkv-server (and, for the
differential redis-cli checks, a redis-server), each on a free port in its
own temp dir, stopped by pid at teardown; a sanitizer report or a server
that died fails the test."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compat  # noqa: E402


def _finish(srv):
    died = not srv.alive()
    san = srv.sanitizer_report()
    srv.stop()
    assert not died, "%s died during the test:\n%s" % (srv.kind, srv.log())
    assert san is None, "sanitizer report:\n" + san


@pytest.fixture
def raftkv():
    srv = compat.start_raftkv()
    yield srv
    _finish(srv)


@pytest.fixture
def redis_ref():
    srv = compat.start_redis()
    yield srv
    _finish(srv)
