"""powerfs itself (ctest fault_powerfs): after a power loss exactly what was
made durable is left, under strict POSIX rules: a file's bytes and size by
its fsync/fdatasync, a name (create, rename, unlink, mkdir) by an fsync of
its directory. Needs root, /dev/fuse and RAFTKV_POWERFS; skipped otherwise."""
import mmap
import os
import shutil
import tempfile

import pytest

import powerfs

why = powerfs.available()
pytestmark = pytest.mark.skipif(why is not None, reason=why or "")


@pytest.fixture
def fs():
    root = tempfile.mkdtemp(prefix="powerfs-test-")
    p = powerfs.PowerFS(os.path.join(root, "backing"), os.path.join(root, "mnt")).start()
    try:
        yield p
    finally:
        try:
            p.stop()
        finally:
            p.kill()
            shutil.rmtree(root, ignore_errors=True)


def path(fs, name):
    return os.path.join(fs.mnt, name)


def write(fs, name, data, sync=False, mode="wb", at=None):
    with open(path(fs, name), mode) as f:
        if at is not None:
            f.seek(at)
        f.write(data)
        f.flush()
        if sync:
            os.fsync(f.fileno())


def fsync_dir(fs, name=""):
    fd = os.open(path(fs, name) if name else fs.mnt, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def crash(fs):
    """Power loss, then the file system back on what is left."""
    line = fs.power_loss()
    assert "0 failed" in line, line
    fs.start()


def read(fs, name):
    with open(path(fs, name), "rb") as f:
        return f.read()


def test_unsynced_write_is_lost_synced_write_stays(fs):
    write(fs, "a", b"durable", sync=True)
    fsync_dir(fs)
    write(fs, "a", b"DUR", mode="r+b")  # no fsync
    assert read(fs, "a") == b"DURable"  # reads see it before the loss
    crash(fs)
    assert read(fs, "a") == b"durable"
    write(fs, "a", b"DUR", mode="r+b", sync=True)
    crash(fs)
    assert read(fs, "a") == b"DURable"


def test_fdatasync_makes_an_append_durable(fs):
    write(fs, "log", b"x" * 100, sync=True)
    fsync_dir(fs)
    with open(path(fs, "log"), "ab") as f:
        f.write(b"y" * 50)
        f.flush()
        os.fdatasync(f.fileno())
        f.write(b"z" * 50)  # not synced
        f.flush()
    crash(fs)
    assert read(fs, "log") == b"x" * 100 + b"y" * 50


def test_create_without_directory_fsync_disappears(fs):
    write(fs, "new", b"data", sync=True)  # the file synced, its directory not
    crash(fs)
    assert not os.path.exists(path(fs, "new"))
    write(fs, "new", b"data")  # the directory synced, the file not: empty
    fsync_dir(fs)
    crash(fs)
    assert read(fs, "new") == b""
    write(fs, "new", b"data", sync=True)
    crash(fs)
    assert read(fs, "new") == b"data"


def test_rename_without_directory_fsync_reverts(fs):
    write(fs, "old", b"OLD", sync=True)
    write(fs, "tmp", b"NEW", sync=True)
    fsync_dir(fs)
    os.rename(path(fs, "tmp"), path(fs, "old"))  # replaces old
    assert read(fs, "old") == b"NEW"
    crash(fs)
    assert read(fs, "old") == b"OLD" and read(fs, "tmp") == b"NEW"
    os.rename(path(fs, "tmp"), path(fs, "old"))
    fsync_dir(fs)
    crash(fs)
    assert read(fs, "old") == b"NEW" and not os.path.exists(path(fs, "tmp"))


def test_rename_between_directories_needs_both_synced(fs):
    os.mkdir(path(fs, "d1"))
    os.mkdir(path(fs, "d2"))
    fsync_dir(fs)
    write(fs, "d1/f", b"F", sync=True)
    fsync_dir(fs, "d1")
    os.rename(path(fs, "d1/f"), path(fs, "d2/f"))
    fsync_dir(fs, "d2")  # not d1
    crash(fs)
    assert read(fs, "d1/f") == b"F" and not os.path.exists(path(fs, "d2/f"))


def test_unlink_without_directory_fsync_comes_back(fs):
    write(fs, "gone", b"keep me", sync=True)
    fsync_dir(fs)
    os.unlink(path(fs, "gone"))
    crash(fs)
    assert read(fs, "gone") == b"keep me"
    os.unlink(path(fs, "gone"))
    fsync_dir(fs)
    crash(fs)
    assert not os.path.exists(path(fs, "gone"))
    assert os.listdir(fs.stash) == []


def test_truncate_and_extend_revert(fs):
    write(fs, "t", b"0123456789", sync=True)
    fsync_dir(fs)
    os.truncate(path(fs, "t"), 4)
    crash(fs)
    assert read(fs, "t") == b"0123456789"
    os.truncate(path(fs, "t"), 4096)
    crash(fs)
    assert read(fs, "t") == b"0123456789"
    with open(path(fs, "t"), "wb"):  # O_TRUNC
        pass
    crash(fs)
    assert read(fs, "t") == b"0123456789"
    os.truncate(path(fs, "t"), 2)
    os.truncate(path(fs, "t"), 20)  # shrink then grow: the cut bytes were saved
    write(fs, "t", b"ab", mode="r+b", at=6)
    crash(fs)
    assert read(fs, "t") == b"0123456789"
    os.truncate(path(fs, "t"), 3)
    with open(path(fs, "t"), "r+b") as f:
        os.fsync(f.fileno())
    crash(fs)
    assert read(fs, "t") == b"012"


def test_fsync_of_one_file_leaves_another_volatile(fs):
    write(fs, "a", b"aaaa", sync=True)
    write(fs, "b", b"bbbb", sync=True)
    fsync_dir(fs)
    write(fs, "a", b"AA", mode="r+b")
    write(fs, "b", b"BB", mode="r+b", sync=True)
    crash(fs)
    assert read(fs, "a") == b"aaaa" and read(fs, "b") == b"BBbb"


def test_new_directory_needs_its_parent_synced(fs):
    os.mkdir(path(fs, "sub"))
    write(fs, "sub/f", b"f", sync=True)
    fsync_dir(fs, "sub")  # the file's entry in sub is durable; sub's in / is not
    crash(fs)
    assert not os.path.exists(path(fs, "sub"))
    os.mkdir(path(fs, "sub"))
    fsync_dir(fs)
    write(fs, "sub/f", b"f", sync=True)
    crash(fs)
    assert os.path.isdir(path(fs, "sub")) and os.listdir(path(fs, "sub")) == []


def test_shared_writable_mmap(fs):
    """LMDB's lock file: a MAP_SHARED writable mapping works (the page cache,
    no direct_io); dirty pages reach the file at the latest when it is
    closed, and only msync(MS_SYNC) (an fsync for FUSE) makes them durable."""
    write(fs, "lock", b"\0" * 8192, sync=True)
    fsync_dir(fs)
    with open(path(fs, "lock"), "r+b") as f:
        m = mmap.mmap(f.fileno(), 8192, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        m[0:4] = b"LOCK"
        m[4096:4100] = b"PAGE"
        m.close()
    assert read(fs, "lock")[:4] == b"LOCK"
    with open(os.path.join(fs.backing, "lock"), "rb") as f:
        assert f.read(4) == b"LOCK"  # written back at the close
    crash(fs)
    assert read(fs, "lock") == b"\0" * 8192
    with open(path(fs, "lock"), "r+b") as f:
        m = mmap.mmap(f.fileno(), 8192, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        m[0:4] = b"LOCK"
        m.flush()  # msync(MS_SYNC)
        m.close()
    crash(fs)
    assert read(fs, "lock")[:4] == b"LOCK"


def test_pre_zeroed_segment_then_rename(fs):
    """kvlog's pattern: zeros written and fdatasynced to <seq>.tmp, renamed
    to <seq>.wal, the directory fsynced; then records overwrite the zeros."""
    write(fs, "1.tmp", b"\0" * 65536)
    with open(path(fs, "1.tmp"), "r+b") as f:
        os.fdatasync(f.fileno())
    os.rename(path(fs, "1.tmp"), path(fs, "1.wal"))
    fsync_dir(fs)
    with open(path(fs, "1.wal"), "r+b") as f:
        f.write(b"rec1")
        f.flush()
        os.fdatasync(f.fileno())
        f.write(b"rec2")
        f.flush()
    crash(fs)
    assert os.listdir(fs.mnt) == ["1.wal"]
    assert read(fs, "1.wal") == b"rec1" + b"\0" * (65536 - 4)
