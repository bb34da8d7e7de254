/* powerfs: a pass-through FUSE filesystem that can lose power.
 *
 *   powerfs BACKING STASH MOUNTPOINT
 *
 * Every operation is applied to BACKING at once, so reads (and mmap reads,
 * LMDB's) see what was written. What is not yet durable is remembered in
 * undo logs, in this process's memory:
 *
 * - per file (by backing inode): its durable size and the durable bytes of
 *   every range written or cut off since its last fsync/fdatasync. An fsync
 *   or fdatasync of the file makes its contents and size durable (and
 *   nothing of any other file).
 * - per directory: the creates, unlinks, renames, mkdirs and rmdirs since
 *   its last fsync, in order. A directory entry is durable only once every
 *   directory the operation touched (both, for a rename between two) has
 *   been fsynced after it: strict POSIX, no journal ordering. An unlinked
 *   or replaced entry is moved into STASH (same file system as BACKING) so
 *   it can be put back.
 *
 * SIGUSR1 is the power loss: the mount is detached (nothing the kernel
 * still holds, e.g. dirty pages of a shared mmap, reaches BACKING after
 * that), the file undo logs are replayed, then the directory log in
 * reverse, STASH is emptied, one line "powerfs: power loss: ..." is
 * printed to stderr and the process exits 0: BACKING then holds exactly
 * what was durable. SIGTERM/SIGINT unmount and exit 0 without undoing
 * anything (a clean shutdown, after which everything is on disk).
 *
 * Not modelled: the order of writes inside one fsync interval (a power
 * loss keeps all or none of them: never some later ones without some
 * earlier ones), torn or partially written sectors, metadata other than
 * size and names (modes, times), and hard links beyond one name. Runs
 * single-threaded (-s), without direct_io (shared writable mmap, as LMDB's
 * lock file uses, needs the page cache). */
#define FUSE_USE_VERSION 31
#include <fuse.h>
#include <fuse_lowlevel.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <unistd.h>

static char pfs_backing[PATH_MAX];
static char pfs_stash[PATH_MAX];
static unsigned long long pfs_stash_seq;

/* --- per-file undo ------------------------------------------------------ */

typedef struct {
    off_t off;
    size_t len;
    char *data; /* the durable bytes of [off, off + len) */
} pfs_range;

typedef struct pfs_file {
    ino_t ino;
    int fd;             /* its own: restores work whatever its name is now */
    off_t durable_size; /* as of the last fsync */
    pfs_range *r;       /* sorted by off, disjoint */
    size_t nr, cap;
    struct pfs_file *next;
} pfs_file;

static pfs_file *pfs_files;

static pfs_file *pfs_file_find(ino_t ino)
{
    for (pfs_file *f = pfs_files; f; f = f->next)
        if (f->ino == ino) return f;
    return NULL;
}

static void pfs_file_drop(pfs_file *f)
{
    pfs_file **p = &pfs_files;
    while (*p != f)
        p = &(*p)->next;
    *p = f->next;
    for (size_t i = 0; i < f->nr; i++)
        free(f->r[i].data);
    free(f->r);
    close(f->fd);
    free(f);
}

/* The undo record of fd's inode; created (durable size = the current
 * size, or 0 for a file this operation creates) on first use. */
static pfs_file *pfs_file_get(int fd, int created)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return NULL;
    pfs_file *f = pfs_file_find(st.st_ino);
    struct stat old;
    if (f && fstat(f->fd, &old) == 0 && old.st_nlink > 0) return f;
    if (f) pfs_file_drop(f); /* deleted for good; its inode number was reused */
    f = calloc(1, sizeof(*f));
    if (!f) return NULL;
    char self[64];
    snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
    f->ino = st.st_ino;
    f->fd = open(self, O_RDWR | O_CLOEXEC); /* fd may be write-only: saving reads */
    if (f->fd < 0) {
        free(f);
        return NULL;
    }
    f->durable_size = created ? 0 : st.st_size;
    f->next = pfs_files;
    pfs_files = f;
    return f;
}

static void pfs_file_durable(pfs_file *f)
{
    struct stat st;
    for (size_t i = 0; i < f->nr; i++)
        free(f->r[i].data);
    f->nr = 0;
    if (fstat(f->fd, &st) == 0) f->durable_size = st.st_size;
}

static int pfs_range_insert(pfs_file *f, size_t at, off_t off, size_t len)
{
    char *data = malloc(len);
    if (!data) return -ENOMEM;
    ssize_t got = pread(f->fd, data, len, off);
    if (got < 0) {
        free(data);
        return -errno;
    }
    if ((size_t)got < len) memset(data + got, 0, len - (size_t)got);
    if (f->nr == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        pfs_range *r = realloc(f->r, cap * sizeof(*r));
        if (!r) {
            free(data);
            return -ENOMEM;
        }
        f->r = r;
        f->cap = cap;
    }
    memmove(f->r + at + 1, f->r + at, (f->nr - at) * sizeof(*f->r));
    f->r[at] = (pfs_range){off, len, data};
    f->nr++;
    return 0;
}

/* [off, off + len) is about to change: keep the durable bytes of the part
 * below the durable size that no earlier change saved. Bytes at or past
 * the current size need nothing: the restore's truncate recreates them
 * (a shrink below the durable size saved them when it happened). */
static int pfs_save(pfs_file *f, off_t off, off_t len)
{
    struct stat st;
    if (fstat(f->fd, &st) != 0) return -errno;
    off_t end = off + len, lim = st.st_size < f->durable_size ? st.st_size : f->durable_size;
    if (end > lim) end = lim;
    off_t pos = off;
    size_t i = 0;
    while (pos < end) {
        while (i < f->nr && f->r[i].off + (off_t)f->r[i].len <= pos)
            i++;
        if (i < f->nr && f->r[i].off <= pos) {
            pos = f->r[i].off + (off_t)f->r[i].len;
            continue;
        }
        off_t gap_end = i < f->nr && f->r[i].off < end ? f->r[i].off : end;
        int rc = pfs_range_insert(f, i, pos, (size_t)(gap_end - pos));
        if (rc) return rc;
        pos = gap_end;
    }
    return 0;
}

static size_t pfs_file_restore(pfs_file *f, unsigned long long *bytes, int *failed)
{
    size_t n = f->nr;
    for (size_t i = 0; i < f->nr; i++) {
        if (pwrite(f->fd, f->r[i].data, f->r[i].len, f->r[i].off) != (ssize_t)f->r[i].len)
            (*failed)++;
        *bytes += f->r[i].len;
    }
    struct stat st;
    if (fstat(f->fd, &st) == 0 && st.st_size != f->durable_size) {
        if (ftruncate(f->fd, f->durable_size) != 0) (*failed)++;
        n++;
    }
    return n;
}

/* --- per-directory undo ------------------------------------------------- */

enum { PFS_CREATE, PFS_REMOVE, PFS_RENAME };

typedef struct pfs_nsop {
    int type;
    char *a;     /* CREATE: the new name; REMOVE: the removed name; RENAME: from */
    char *b;     /* RENAME: to */
    char *stash; /* REMOVE: the removed entry; RENAME: the replaced target, or NULL */
    ino_t dir[2];
    int ndir, synced[2];
    struct pfs_nsop *prev, *next;
} pfs_nsop;

static pfs_nsop *pfs_ops_head, *pfs_ops_tail;

static void pfs_bpath(char *out, const char *path)
{
    snprintf(out, PATH_MAX, "%s%s", pfs_backing, path);
}

static char *pfs_new_stash(void)
{
    char *p = malloc(PATH_MAX);
    if (p) snprintf(p, PATH_MAX, "%s/s%llu", pfs_stash, ++pfs_stash_seq);
    return p;
}

static ino_t pfs_parent_ino(const char *path)
{
    char b[PATH_MAX], *slash;
    pfs_bpath(b, path);
    slash = strrchr(b + strlen(pfs_backing), '/');
    if (slash) slash[slash == b + strlen(pfs_backing) ? 1 : 0] = '\0';
    struct stat st;
    return stat(b, &st) == 0 ? st.st_ino : 0;
}

static pfs_nsop *pfs_nsop_add(int type, const char *a, const char *b, char *stash)
{
    pfs_nsop *op = calloc(1, sizeof(*op));
    if (!op) return NULL;
    op->type = type;
    op->a = strdup(a);
    op->b = b ? strdup(b) : NULL;
    op->stash = stash;
    op->dir[0] = pfs_parent_ino(a);
    op->ndir = 1;
    if (b && pfs_parent_ino(b) != op->dir[0]) op->dir[op->ndir++] = pfs_parent_ino(b);
    op->prev = pfs_ops_tail;
    if (pfs_ops_tail)
        pfs_ops_tail->next = op;
    else
        pfs_ops_head = op;
    pfs_ops_tail = op;
    return op;
}

static void pfs_rm_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char sub[PATH_MAX];
            snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
            pfs_rm_tree(sub);
        }
        if (d) closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static void pfs_nsop_free(pfs_nsop *op)
{
    if (op->prev)
        op->prev->next = op->next;
    else
        pfs_ops_head = op->next;
    if (op->next)
        op->next->prev = op->prev;
    else
        pfs_ops_tail = op->prev;
    free(op->a);
    free(op->b);
    free(op->stash);
    free(op);
}

/* An fsync of directory ino: what it touched is durable there. */
static void pfs_dir_synced(ino_t ino)
{
    pfs_nsop *op = pfs_ops_head, *next;
    for (; op; op = next) {
        next = op->next;
        int all = 1;
        for (int i = 0; i < op->ndir; i++) {
            if (op->dir[i] == ino) op->synced[i] = 1;
            all &= op->synced[i];
        }
        if (!all) continue;
        if (op->stash) pfs_rm_tree(op->stash); /* the removal is durable: gone for good */
        pfs_nsop_free(op);
    }
}

static int pfs_nsop_undo(pfs_nsop *op)
{
    char a[PATH_MAX], b[PATH_MAX], *gone;
    pfs_bpath(a, op->a);
    switch (op->type) {
    case PFS_CREATE:
        gone = pfs_new_stash(); /* a directory may not be empty: set it aside whole */
        if (!gone) return -1;
        int rc = rename(a, gone);
        free(gone);
        return rc;
    case PFS_REMOVE:
        return rename(op->stash, a);
    default:
        pfs_bpath(b, op->b);
        if (rename(b, a) != 0) return -1;
        return op->stash ? rename(op->stash, b) : 0;
    }
}

/* --- the power loss ----------------------------------------------------- */

static volatile sig_atomic_t pfs_power_lost;

static void pfs_power_loss(void)
{
    unsigned long long bytes = 0;
    size_t ranges = 0, ops = 0;
    int failed = 0;
    for (pfs_file *f = pfs_files; f; f = f->next)
        ranges += pfs_file_restore(f, &bytes, &failed);
    while (pfs_ops_tail) {
        pfs_nsop *op = pfs_ops_tail;
        const char *what = op->type == PFS_CREATE   ? "create"
                           : op->type == PFS_REMOVE ? "remove"
                                                    : "rename";
        int rc = pfs_nsop_undo(op);
        fprintf(stderr, "powerfs: undo %s %s%s%s%s%s\n", what, op->a, op->b ? " -> " : "",
                op->b ? op->b : "", rc ? ": FAILED: " : "", rc ? strerror(errno) : "");
        failed += rc != 0;
        ops++;
        pfs_nsop_free(op);
    }
    DIR *d = opendir(pfs_stash);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char sub[PATH_MAX];
        snprintf(sub, sizeof(sub), "%s/%s", pfs_stash, e->d_name);
        pfs_rm_tree(sub);
    }
    if (d) closedir(d);
    fprintf(stderr,
            "powerfs: power loss: %zu file ranges restored (%llu bytes), %zu directory "
            "operations undone, %d failed\n",
            ranges, bytes, ops, failed);
}

/* --- the file system ---------------------------------------------------- */

typedef struct {
    int fd;
} pfs_open;

static int pfs_fd(struct fuse_file_info *fi)
{
    return ((pfs_open *)(uintptr_t)fi->fh)->fd;
}

static void *pfs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
    (void)conn;
    cfg->use_ino = 1;
    cfg->hard_remove = 1; /* an unlink of an open file is an unlink, not a rename */
    cfg->nullpath_ok = 1;
    cfg->direct_io = 0;
    cfg->kernel_cache = 0;
    return NULL;
}

static int pfs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
    char b[PATH_MAX];
    if (fi) return fstat(pfs_fd(fi), st) ? -errno : 0;
    pfs_bpath(b, path);
    return lstat(b, st) ? -errno : 0;
}

static int pfs_readlink(const char *path, char *buf, size_t size)
{
    char b[PATH_MAX];
    pfs_bpath(b, path);
    ssize_t n = readlink(b, buf, size - 1);
    if (n < 0) return -errno;
    buf[n] = '\0';
    return 0;
}

static int pfs_open_fd(struct fuse_file_info *fi, int fd);

static int pfs_opendir(const char *path, struct fuse_file_info *fi)
{
    char b[PATH_MAX];
    pfs_bpath(b, path);
    int fd = open(b, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    return pfs_open_fd(fi, fd);
}

/* readdir and fsyncdir get no path (nullpath_ok): the directory's fd. */
static int pfs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
                       struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
    (void)path, (void)off, (void)flags;
    int fd = openat(pfs_fd(fi), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (!d) {
        int e = errno;
        if (fd >= 0) close(fd);
        return -e;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        struct stat st = {.st_ino = e->d_ino, .st_mode = (mode_t)(DTTOIF(e->d_type))};
        if (fill(buf, e->d_name, &st, 0, 0)) break;
    }
    closedir(d);
    return 0;
}

static int pfs_mknod(const char *path, mode_t mode, dev_t rdev)
{
    char b[PATH_MAX];
    pfs_bpath(b, path);
    if (mknod(b, mode, rdev) != 0) return -errno;
    pfs_nsop_add(PFS_CREATE, path, NULL, NULL);
    return 0;
}

static int pfs_mkdir(const char *path, mode_t mode)
{
    char b[PATH_MAX];
    pfs_bpath(b, path);
    if (mkdir(b, mode) != 0) return -errno;
    pfs_nsop_add(PFS_CREATE, path, NULL, NULL);
    return 0;
}

static int pfs_symlink(const char *target, const char *path)
{
    char b[PATH_MAX];
    pfs_bpath(b, path);
    if (symlink(target, b) != 0) return -errno;
    pfs_nsop_add(PFS_CREATE, path, NULL, NULL);
    return 0;
}

static int pfs_link(const char *from, const char *to)
{
    char a[PATH_MAX], b[PATH_MAX];
    pfs_bpath(a, from);
    pfs_bpath(b, to);
    if (link(a, b) != 0) return -errno;
    pfs_nsop_add(PFS_CREATE, to, NULL, NULL);
    return 0;
}

static int pfs_dir_empty(const char *b)
{
    DIR *d = opendir(b);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d) closedir(d);
    return n == 0;
}

/* unlink and rmdir: the entry goes to the stash, so it can come back. */
static int pfs_remove(const char *path, int dir)
{
    char b[PATH_MAX];
    struct stat st;
    pfs_bpath(b, path);
    if (lstat(b, &st) != 0) return -errno;
    if (dir && !S_ISDIR(st.st_mode)) return -ENOTDIR;
    if (!dir && S_ISDIR(st.st_mode)) return -EISDIR;
    if (dir && !pfs_dir_empty(b)) return -ENOTEMPTY;
    char *stash = pfs_new_stash();
    if (!stash) return -ENOMEM;
    if (rename(b, stash) != 0) {
        int e = errno;
        free(stash);
        return -e;
    }
    pfs_nsop_add(PFS_REMOVE, path, NULL, stash);
    return 0;
}

static int pfs_unlink(const char *path)
{
    return pfs_remove(path, 0);
}

static int pfs_rmdir(const char *path)
{
    return pfs_remove(path, 1);
}

static int pfs_rename(const char *from, const char *to, unsigned int flags)
{
    char a[PATH_MAX], b[PATH_MAX];
    struct stat sa, sb;
    char *stash = NULL;
    if (flags & ~(unsigned)RENAME_NOREPLACE) return -EINVAL;
    pfs_bpath(a, from);
    pfs_bpath(b, to);
    if (lstat(a, &sa) != 0) return -errno;
    if (lstat(b, &sb) == 0) {
        if (flags & RENAME_NOREPLACE) return -EEXIST;
        if (sa.st_ino == sb.st_ino) return 0;
        if (S_ISDIR(sa.st_mode) != S_ISDIR(sb.st_mode))
            return S_ISDIR(sb.st_mode) ? -EISDIR : -ENOTDIR;
        if (S_ISDIR(sb.st_mode) && !pfs_dir_empty(b)) return -ENOTEMPTY;
        if (!(stash = pfs_new_stash())) return -ENOMEM;
        if (rename(b, stash) != 0) {
            int e = errno;
            free(stash);
            return -e;
        }
    }
    if (rename(a, b) != 0) {
        int e = errno;
        if (stash) {
            if (rename(stash, b) != 0) e = EIO;
            free(stash);
        }
        return -e;
    }
    pfs_nsop_add(PFS_RENAME, from, to, stash);
    return 0;
}

static int pfs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    char b[PATH_MAX];
    if (fi) return fchmod(pfs_fd(fi), mode) ? -errno : 0;
    pfs_bpath(b, path);
    return chmod(b, mode) ? -errno : 0;
}

static int pfs_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
    char b[PATH_MAX];
    if (fi) return fchown(pfs_fd(fi), uid, gid) ? -errno : 0;
    pfs_bpath(b, path);
    return lchown(b, uid, gid) ? -errno : 0;
}

static int pfs_ftruncate(int fd, off_t size)
{
    struct stat st;
    if (fstat(fd, &st) != 0) return -errno;
    pfs_file *f = pfs_file_get(fd, 0);
    if (!f) return -EIO;
    if (size < st.st_size) {
        int rc = pfs_save(f, size, st.st_size - size);
        if (rc) return rc;
    }
    return ftruncate(fd, size) ? -errno : 0;
}

static int pfs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
    char b[PATH_MAX];
    if (fi) return pfs_ftruncate(pfs_fd(fi), size);
    pfs_bpath(b, path);
    int fd = open(b, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    int rc = pfs_ftruncate(fd, size);
    close(fd);
    return rc;
}

static int pfs_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
    char b[PATH_MAX];
    if (fi) return futimens(pfs_fd(fi), tv) ? -errno : 0;
    pfs_bpath(b, path);
    return utimensat(AT_FDCWD, b, tv, AT_SYMLINK_NOFOLLOW) ? -errno : 0;
}

static int pfs_open_fd(struct fuse_file_info *fi, int fd)
{
    pfs_open *o = malloc(sizeof(*o));
    if (!o) {
        close(fd);
        return -ENOMEM;
    }
    o->fd = fd;
    fi->fh = (uint64_t)(uintptr_t)o;
    fi->direct_io = 0;
    fi->keep_cache = 0;
    return 0;
}

static int pfs_openfile(const char *path, struct fuse_file_info *fi)
{
    char b[PATH_MAX];
    pfs_bpath(b, path);
    int fd = open(b, (fi->flags & ~(O_TRUNC | O_CREAT | O_EXCL)) | O_CLOEXEC);
    if (fd < 0) return -errno;
    if (fi->flags & O_TRUNC) {
        int rc = pfs_ftruncate(fd, 0);
        if (rc) {
            close(fd);
            return rc;
        }
    }
    return pfs_open_fd(fi, fd);
}

static int pfs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    char b[PATH_MAX];
    pfs_bpath(b, path);
    int fd = open(b, (fi->flags & ~O_TRUNC) | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0 && errno == EEXIST && !(fi->flags & O_EXCL)) return pfs_openfile(path, fi);
    if (fd < 0) return -errno;
    if (!pfs_file_get(fd, 1)) {
        close(fd);
        unlink(b);
        return -EIO;
    }
    pfs_nsop_add(PFS_CREATE, path, NULL, NULL);
    return pfs_open_fd(fi, fd);
}

static int pfs_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
    (void)path;
    ssize_t n = pread(pfs_fd(fi), buf, size, off);
    return n < 0 ? -errno : (int)n;
}

static int pfs_write(const char *path, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
    (void)path;
    int fd = pfs_fd(fi);
    pfs_file *f = pfs_file_get(fd, 0);
    if (!f) return -EIO;
    int rc = pfs_save(f, off, (off_t)size);
    if (rc) return rc;
    ssize_t n = pwrite(fd, buf, size, off);
    return n < 0 ? -errno : (int)n;
}

static int pfs_fallocate(const char *path, int mode, off_t off, off_t len,
                         struct fuse_file_info *fi)
{
    (void)path;
    int fd = pfs_fd(fi);
    pfs_file *f = pfs_file_get(fd, 0);
    if (!f) return -EIO;
    if (mode & ~FALLOC_FL_KEEP_SIZE) {
        int rc = pfs_save(f, off, len); /* punch or zero: the old bytes go */
        if (rc) return rc;
    }
    return fallocate(fd, mode, off, len) ? -errno : 0;
}

static int pfs_statfs(const char *path, struct statvfs *st)
{
    char b[PATH_MAX];
    pfs_bpath(b, path);
    return statvfs(b, st) ? -errno : 0;
}

static int pfs_release(const char *path, struct fuse_file_info *fi)
{
    (void)path;
    pfs_open *o = (pfs_open *)(uintptr_t)fi->fh;
    close(o->fd);
    free(o);
    return 0;
}

static int pfs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
    (void)path, (void)datasync;
    pfs_file *f = pfs_file_get(pfs_fd(fi), 0);
    if (f) pfs_file_durable(f);
    return 0;
}

static int pfs_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi)
{
    struct stat st;
    (void)path, (void)datasync;
    if (fstat(pfs_fd(fi), &st) != 0) return -errno;
    pfs_dir_synced(st.st_ino);
    return 0;
}

static const struct fuse_operations pfs_ops = {
    .init = pfs_init,
    .getattr = pfs_getattr,
    .readlink = pfs_readlink,
    .readdir = pfs_readdir,
    .mknod = pfs_mknod,
    .mkdir = pfs_mkdir,
    .symlink = pfs_symlink,
    .link = pfs_link,
    .unlink = pfs_unlink,
    .rmdir = pfs_rmdir,
    .rename = pfs_rename,
    .chmod = pfs_chmod,
    .chown = pfs_chown,
    .truncate = pfs_truncate,
    .utimens = pfs_utimens,
    .open = pfs_openfile,
    .create = pfs_create,
    .read = pfs_read,
    .write = pfs_write,
    .fallocate = pfs_fallocate,
    .statfs = pfs_statfs,
    .release = pfs_release,
    .fsync = pfs_fsync,
    .opendir = pfs_opendir,
    .releasedir = pfs_release,
    .fsyncdir = pfs_fsyncdir,
};

/* libfuse keeps an allocation past fuse_destroy() when the mount was
 * detached from the control thread; under ASan that would turn exit 0
 * (the acknowledgement of a power loss) into 1. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "detect_leaks=0";
}

/* Signals are taken by this thread alone (blocked everywhere else), so the
 * loop's read() is never interrupted half-way: detaching the mount is what
 * ends it (the read gets ENODEV). */
static void *pfs_control(void *arg)
{
    struct fuse_session *se = arg;
    sigset_t set;
    int sig = 0;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigwait(&set, &sig);
    pfs_power_lost = sig == SIGUSR1;
    fuse_session_exit(se);
    fuse_session_unmount(se);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr,
                "usage: %s BACKING STASH MOUNTPOINT\n"
                "  SIGUSR1: power loss (undo what is not durable, unmount, exit 0)\n"
                "  SIGTERM: unmount and exit 0\n",
                argv[0]);
        return 2;
    }
    if (!realpath(argv[1], pfs_backing) || !realpath(argv[2], pfs_stash)) {
        perror("powerfs: realpath");
        return 2;
    }
    char *fargv[] = {argv[0], "-o", "auto_unmount,fsname=powerfs,subtype=powerfs", NULL};
    struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct fuse *fuse = fuse_new(&args, &pfs_ops, sizeof(pfs_ops), NULL);
    if (!fuse) return 1;
    if (fuse_mount(fuse, argv[3]) != 0) {
        fuse_destroy(fuse);
        return 1;
    }
    struct fuse_session *se = fuse_get_session(fuse);
    pthread_t th;
    if (pthread_create(&th, NULL, pfs_control, se) != 0) {
        fuse_unmount(fuse);
        fuse_destroy(fuse);
        return 1;
    }
    fprintf(stderr, "powerfs: %s on %s, ready\n", pfs_backing, argv[3]);
    int rc = fuse_loop(fuse);
    pthread_kill(th, SIGHUP); /* the mount went away by other means: end the control thread */
    pthread_join(th, NULL);
    if (pfs_power_lost) pfs_power_loss();
    fuse_destroy(fuse);
    fuse_opt_free_args(&args);
    return rc < 0 ? 1 : 0;
}
