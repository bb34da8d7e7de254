"""Driving powerfs (powerfs.c): mount a backing directory on a mount point,
lose power (SIGUSR1: everything not fsynced is undone, the mount goes away,
the process exits 0), mount again on what is left, or unmount cleanly.
Every wait has a deadline; the process is stopped by pid."""
import ctypes
import os
import signal
import subprocess
import time

POWERFS_BIN = os.environ.get("RAFTKV_POWERFS")
_libc = ctypes.CDLL(None, use_errno=True)


def _term_with_parent():
    """preexec_fn: if the test process dies, powerfs unmounts (SIGTERM).
    PR_SET_PDEATHSIG fires when the forking *thread* exits: start it from
    the main thread."""
    _libc.prctl(1, signal.SIGTERM)


def default_binary(server):
    """powerfs next to a raftkv-server of the same build tree, if any."""
    if not server:
        return None
    p = os.path.join(os.path.dirname(os.path.abspath(server)), "..", "tests", "fault", "powerfs")
    return os.path.normpath(p) if os.access(p, os.X_OK) else None


def available(binary=None):
    """Why powerfs cannot run here, or None if it can."""
    binary = binary or POWERFS_BIN
    if not binary or not os.access(binary, os.X_OK):
        return "no powerfs binary (RAFTKV_POWERFS; built only with libfuse3-dev)"
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse"
    if os.geteuid() != 0:
        return "not root"
    return None


class PowerFS:
    def __init__(self, backing, mountpoint, binary=None, logpath=None):
        self.backing, self.mnt = backing, mountpoint
        self.stash = backing.rstrip("/") + ".stash"
        self.binary = binary or POWERFS_BIN
        self.logpath = logpath or (backing.rstrip("/") + ".powerfs.log")
        self.proc = None
        self.losses = []  # the "power loss: ..." line of each
        for d in (self.backing, self.stash, self.mnt):
            os.makedirs(d, exist_ok=True)

    def mounted(self):
        return os.path.ismount(self.mnt)

    def start(self, timeout=10.0):
        assert self.proc is None or self.proc.poll() is not None
        with open(self.logpath, "ab") as log:
            self.proc = subprocess.Popen([self.binary, self.backing, self.stash, self.mnt],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True, preexec_fn=_term_with_parent)
        self._wait(lambda: self.mounted(), timeout, "powerfs to mount %s" % self.mnt)
        return self

    def _wait(self, cond, timeout, what):
        deadline = time.monotonic() + timeout
        while not cond():
            if self.proc.poll() is not None and not cond():
                raise RuntimeError("powerfs exited with %s while waiting for %s; see %s"
                                   % (self.proc.returncode, what, self.logpath))
            if time.monotonic() > deadline:
                raise TimeoutError("timed out waiting for %s" % what)
            time.sleep(0.02)

    def _end(self, sig, timeout):
        os.kill(self.proc.pid, sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            raise TimeoutError("powerfs on %s did not exit within %.0f s" % (self.mnt, timeout))
        if rc != 0:
            raise RuntimeError("powerfs on %s exited with %s; see %s" % (self.mnt, rc, self.logpath))
        self._wait(lambda: not self.mounted(), 10.0, "%s to be unmounted" % self.mnt)

    def power_loss(self, timeout=30.0):
        """Everything not durable is undone and the mount is gone. The
        processes using it must be dead already (their open files keep the
        mount alive). Returns powerfs's report line."""
        self._end(signal.SIGUSR1, timeout)
        with open(self.logpath, "rb") as f:
            lines = [l for l in f.read().decode(errors="replace").splitlines() if "power loss:" in l]
        line = lines[-1] if lines else "powerfs: power loss: (no report)"
        self.losses.append(line)
        return line

    def stop(self, timeout=30.0):
        """Clean unmount; everything stays as it is."""
        if self.proc is not None and self.proc.poll() is None:
            self._end(signal.SIGTERM, timeout)

    def kill(self):
        """Cleanup of last resort: the process by pid, then the mount."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        if self.mounted():
            subprocess.run(["umount", "-l", self.mnt], capture_output=True)
