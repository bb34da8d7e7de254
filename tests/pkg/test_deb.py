"""The Debian package (packaging/): builds it with CPack from a Release build
of its own, checks its files and control fields with dpkg-deb, extracts it
into a scratch root (never the machine's), starts the extracted binary with
the extracted config (dir, port and log moved to temp paths), PINGs it and
stops it by pid; verifies the systemd unit with systemd-analyze where it
exists. Exits 77 (ctest SKIP) without cpack or dpkg-deb.

  python3 tests/pkg/test_deb.py BUILD_DIR

BUILD_DIR is kept (ctest gives <build>/pkg-release): later runs rebuild only
what changed."""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "pylib"))
import testproc  # noqa: E402  (tests/pylib)

SKIP = 77
PACKAGE = "raftkv-server"
# Every file the package installs (directories aside); anything else is a
# mistake (a stray install rule, a build path).
FILES = {
    "./usr/bin/raftkv-server": "-rwxr-xr-x",
    "./etc/raftkv/raftkv.conf": "-rw-r--r--",
    "./lib/systemd/system/raftkv-server.service": "-rw-r--r--",
    "./etc/logrotate.d/raftkv-server": "-rw-r--r--",
    "./usr/share/doc/raftkv-server/README.md": "-rw-r--r--",
}
CONFFILES = {"/etc/raftkv/raftkv.conf", "/etc/logrotate.d/raftkv-server"}


def run(argv, **kw):
    out = subprocess.run(argv, capture_output=True, text=True, **kw)
    if out.returncode != 0:
        raise SystemExit("FAILED: %s\n%s%s" % (" ".join(argv), out.stdout, out.stderr))
    return out.stdout


def check(cond, what):
    if not cond:
        raise SystemExit("FAILED: " + what)


def build_package(build, outdir):
    """The .deb's path: a Release build (no tests, no sanitizers) and cpack."""
    run(["cmake", "-S", SRC, "-B", build, "-DCMAKE_BUILD_TYPE=Release", "-DRAFTKV_TESTS=OFF",
         "-DRAFTKV_SANITIZE=OFF", "-DRAFTKV_FUZZ=OFF"])
    run(["nice", "cmake", "--build", build, "-j2", "--target", "raftkv-server"])
    shutil.rmtree(outdir, ignore_errors=True)
    run(["nice", "cpack", "-G", "DEB", "-B", outdir, "--config",
         os.path.join(build, "CPackConfig.cmake")], cwd=build)
    debs = [f for f in os.listdir(outdir) if f.endswith(".deb")]
    check(len(debs) == 1, "cpack made one .deb: %s" % debs)
    return os.path.join(outdir, debs[0])


def source_version():
    with open(os.path.join(SRC, "server", "server.h")) as f:
        m = re.search(r'#define RAFTKV_VERSION "([^"]+)"', f.read())
    return m.group(1)


def check_control(deb, scratch):
    fields = {}
    for name in ("Package", "Version", "Architecture", "Depends", "Maintainer", "Description",
                 "Section"):
        fields[name] = run(["dpkg-deb", "-f", deb, name]).strip()
    check(fields["Package"] == PACKAGE, "Package: %r" % fields["Package"])
    check(fields["Version"] == source_version(), "Version %r is server.h's %r" %
          (fields["Version"], source_version()))
    arch = run(["dpkg", "--print-architecture"]).strip()
    check(fields["Architecture"] == arch, "Architecture %r, this machine %r" %
          (fields["Architecture"], arch))
    deps = [d.strip().split()[0] for d in fields["Depends"].split(",")]
    for want in ("libevent", "libhiredis", "liblmdb", "libc6", "adduser"):
        check(any(d.startswith(want) for d in deps), "Depends names %s: %s" %
              (want, fields["Depends"]))
    for d in deps:
        # Each dependency is a package this machine knows (it linked them).
        run(["dpkg-query", "-W", d.split(":")[0]])
    check(fields["Maintainer"] and fields["Description"], "Maintainer and Description")

    ctrl = os.path.join(scratch, "DEBIAN")
    run(["dpkg-deb", "-e", deb, ctrl])
    with open(os.path.join(ctrl, "conffiles")) as f:
        conffiles = {line.strip() for line in f if line.strip()}
    check(conffiles == CONFFILES, "conffiles: %s" % sorted(conffiles))
    for script in ("postinst", "prerm", "postrm"):
        path = os.path.join(ctrl, script)
        check(os.access(path, os.X_OK), "%s is executable" % script)
        run(["sh", "-n", path])
        if shutil.which("shellcheck"):
            run(["shellcheck", "-s", "sh", path])
    with open(os.path.join(ctrl, "postinst")) as f:
        postinst = f.read()
    for want in ("adduser --system", "/var/lib/raftkv", "/var/log/raftkv"):
        check(want in postinst, "postinst has %r" % want)
    check_postinst(ctrl, scratch)


def check_postinst(ctrl, scratch):
    """The postinst run with every command it calls replaced by a stub that
    records its arguments (so nothing on this machine changes): a first
    install makes the user, the directories and the config's owner; an
    upgrade leaves the config's owner and mode to the admin."""
    stubs = os.path.join(scratch, "stubs")
    os.makedirs(stubs)
    calls = os.path.join(scratch, "calls")
    for cmd in ("adduser", "getent", "install", "chown", "chmod", "systemctl"):
        with open(os.path.join(stubs, cmd), "w") as f:
            # getent: "no such user", so the first install makes it.
            f.write('#!/bin/sh\necho "%s $*" >> %s\nexit %d\n' %
                    (cmd, calls, 2 if cmd == "getent" else 0))
        os.chmod(os.path.join(stubs, cmd), 0o755)

    def postinst(*args):
        if os.path.exists(calls):
            os.unlink(calls)
        run(["/bin/sh", os.path.join(ctrl, "postinst")] + list(args), env={"PATH": stubs})
        with open(calls) as f:
            return f.read().splitlines()

    first = postinst("configure", "")
    for want in ("getent passwd raftkv",
                 "adduser --system --group --quiet --home /var/lib/raftkv --no-create-home "
                 "--gecos RaftKV server raftkv",
                 "install -d -o raftkv -g raftkv -m 0750 /var/lib/raftkv",
                 "install -d -o raftkv -g adm -m 2750 /var/log/raftkv",
                 "chown root:raftkv /etc/raftkv/raftkv.conf",
                 "chmod 0640 /etc/raftkv/raftkv.conf"):
        check(want in first, "a first install's postinst runs %r: %s" % (want, first))
    upgrade = postinst("configure", "0.0.9")
    check(not any(c.startswith(("chown", "chmod")) for c in upgrade),
          "an upgrade leaves the config's owner and mode alone: %s" % upgrade)


def check_contents(deb):
    listing = run(["dpkg-deb", "-c", deb])
    seen = {}
    for line in listing.splitlines():
        parts = line.split()
        mode, owner, path = parts[0], parts[1], parts[5]
        check(owner == "root/root", "%s is owned by root: %s" % (path, owner))
        if mode.startswith("d"):
            continue
        seen[path] = mode
    check(seen == FILES, "the package's files:\n  %s\nwant:\n  %s" %
          ("\n  ".join("%s %s" % (m, p) for p, m in sorted(seen.items())),
           "\n  ".join("%s %s" % (m, p) for p, m in sorted(FILES.items()))))


def check_unit(root, scratch):
    """systemd-analyze verify, with ExecStart pointed at the extracted binary
    (verify checks the command exists); any warning is a failure, and the
    hardening keeps its exposure score low."""
    sa = shutil.which("systemd-analyze")
    if not sa:
        print("systemd-analyze is missing: the unit is not verified")
        return
    unit = os.path.join(root, "lib/systemd/system/raftkv-server.service")
    with open(unit) as f:
        text = f.read()
    check("ExecStart=/usr/bin/raftkv-server /etc/raftkv/raftkv.conf" in text, "ExecStart")
    for want in ("User=raftkv", "Type=simple", "NoNewPrivileges=true", "ProtectSystem=strict",
                 "ReadWritePaths=/var/lib/raftkv /var/log/raftkv", "PrivateTmp=true"):
        check(want in text, "the unit has %s" % want)
    copy = os.path.join(scratch, "raftkv-server.service")
    with open(copy, "w") as f:
        f.write(text.replace("/usr/bin/raftkv-server", os.path.join(root, "usr/bin/raftkv-server")))
    out = subprocess.run([sa, "verify", "--man=no", copy], capture_output=True, text=True)
    check(out.returncode == 0 and not out.stderr.strip() and not out.stdout.strip(),
          "systemd-analyze verify: rc %d\n%s%s" % (out.returncode, out.stdout, out.stderr))
    out = subprocess.run([sa, "security", "--offline=yes", "--threshold=25", copy],
                         capture_output=True, text=True)
    check(out.returncode == 0, "systemd-analyze security: exposure above 2.5\n" + out.stdout[-3000:])
    print("unit verified: " + (out.stdout.strip().splitlines() or [""])[-1])


def run_extracted(root, scratch):
    binary = os.path.join(root, "usr/bin/raftkv-server")
    conf = os.path.join(root, "etc/raftkv/raftkv.conf")
    with open(conf) as f, open(os.path.join(SRC, "packaging", "raftkv.conf")) as g:
        check(f.read() == g.read(), "the packaged config is packaging/raftkv.conf")
    version = run([binary, "--version"])
    check(source_version() in version, "--version: %s" % version)
    check("--cluster-secret" in run([binary, "--help"]), "--help lists the keys")

    port = testproc.pick_port()
    data, log = os.path.join(scratch, "data"), os.path.join(scratch, "raftkv.log")
    out = os.path.join(scratch, "stdout")
    with open(out, "wb") as o:
        proc = subprocess.Popen([binary, conf, "--dir", data, "--port", str(port), "--logfile", log,
                                 "--bind", "127.0.0.1"], stdout=o, stderr=subprocess.STDOUT,
                                preexec_fn=testproc.die_with_parent)
    try:
        testproc.wait_until(lambda: proc.poll() is not None or
                            testproc.answers_ping("127.0.0.1", port), 30,
                            "the extracted server to answer PING")
        check(proc.poll() is None, "the extracted server exited: %s%s" %
              (testproc.read_text(out), testproc.read_text(log)))
        cli = ["redis-cli", "-p", str(port)]
        check(run(cli + ["SET", "pkg", "ok"]).strip() == "OK", "SET")
        check(run(cli + ["GET", "pkg"]).strip() == "ok", "GET")
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=30)
        check(rc == 0, "exit %d after SIGTERM: %s" % (rc, testproc.read_text(log, tail=3000)))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    check(os.path.isdir(os.path.join(data, "state")), "the data went to --dir")
    check("Ready to accept connections" in testproc.read_text(log), "the log went to --logfile")


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: test_deb.py BUILD_DIR")
    for tool in ("cpack", "dpkg-deb", "dpkg", "cmake", "redis-cli"):
        if not shutil.which(tool):
            print("SKIP: %s is missing" % tool)
            sys.exit(SKIP)
    build = os.path.abspath(sys.argv[1])
    deb = build_package(build, os.path.join(build, "deb"))
    print("built " + deb)
    scratch = tempfile.mkdtemp(prefix="raftkv-deb-")
    try:
        check_control(deb, scratch)
        check_contents(deb)
        root = os.path.join(scratch, "root")
        run(["dpkg-deb", "-x", deb, root])
        check_unit(root, scratch)
        run_extracted(root, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print("OK")


if __name__ == "__main__":
    main()
