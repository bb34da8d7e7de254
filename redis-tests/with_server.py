#!/usr/bin/python3
"""Starts a raftkv-server (RAFTKV_SERVER) on a free port in a temp dir, runs
a command with {host} and {port} substituted in its arguments, stops the
server by pid and exits with the command's status (1 if the server died or
printed a sanitizer report).

  /usr/bin/python3 with_server.py [--timeout SEC] -- CMD ARG... {host} {port}
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compat  # noqa: E402


def run_with_server(cmd, timeout, env=None):
    srv = compat.start_raftkv()
    rc = 1
    try:
        argv = [a.replace("{host}", srv.host).replace("{port}", str(srv.port)) for a in cmd]
        try:
            rc = subprocess.run(argv, timeout=timeout, env=env).returncode
        except subprocess.TimeoutExpired:
            print("FAIL: %s did not finish in %ds" % (argv[0], timeout))
            rc = 1
        if not srv.alive():
            print("FAIL: raftkv-server died:\n" + srv.log())
            rc = 1
    finally:
        san = srv.sanitizer_report()
        srv.stop()
    if san:
        print("FAIL: sanitizer report in raftkv-server's output:\n" + san)
        rc = 1
    return rc


def main():
    args = sys.argv[1:]
    timeout = 120
    if args[:1] == ["--timeout"]:
        timeout, args = int(args[1]), args[2:]
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        print(__doc__)
        return 2
    return run_with_server(args, timeout)


if __name__ == "__main__":
    sys.exit(main())
