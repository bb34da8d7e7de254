/* backup.c -- SAVE, BGSAVE, LASTSAVE and --restore-from (backup.h). */
#include "server/backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "server/config.h"
#include "server/diag.h"
#include "server/log.h"
#include "storage/kvbackup.h"
#include "storage/kverr.h"
#include "storage/kvlog.h"

#define BACKUP_INFO "backup.info"
#define BACKUP_FORMAT "raftkv-backup-1"
#define POLL_MS 20
/* The term of the snapshot a restored state stands for: the new cluster's
 * history starts there, whatever the old cluster's terms were. */
#define RESTORE_TERM 1

/* One backup run. The thread reads only what is copied here before it
 * starts and srv.state's environment (kvbackup_copy), and writes only its
 * result fields, published by `done`. */
typedef struct job {
    pthread_t thread;
    char target[1000], tmp[1024], old[1024];
    char node[32], cluster_id[256];
    atomic_int done;
    int rc;
    uint64_t index;
    int64_t tau;
    char err[1300];
    int64_t start_ms;
} job;

static job *running;
static struct event *poll_ev;
static int scheduled;
static int64_t last_save_s;
static int last_ok = 1;
static int64_t last_secs = -1;
static uint64_t last_index;

/* Removes dir's files and dir itself (a backup directory holds files only). */
static int remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : -1;
    struct dirent *e;
    char p[1300];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        if (unlink(p) && errno != ENOENT) {
            closedir(d);
            return -1;
        }
    }
    closedir(d);
    return rmdir(dir) && errno != ENOENT ? -1 : 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static void parent_of(const char *path, char *out, size_t len)
{
    snprintf(out, len, "%s", path);
    char *slash = strrchr(out, '/');
    if (!slash)
        snprintf(out, len, ".");
    else if (slash == out)
        out[1] = '\0';
    else
        *slash = '\0';
}

static int write_info(job *j)
{
    char path[1100];
    snprintf(path, sizeof(path), "%s/%s", j->tmp, BACKUP_INFO);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f,
            "format %s\napplied-index %" PRIu64 "\ntau %" PRId64 "\nnode-id %s\ncluster-id %s\n"
            "time %" PRId64 "\n",
            BACKUP_FORMAT, j->index, j->tau, j->node, j->cluster_id, mstime() / 1000);
    int rc = fflush(f) || fsync(fileno(f));
    return fclose(f) || rc ? -1 : 0;
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(j->err, sizeof(j->err), __VA_ARGS__);                                             \
        j->rc = -1;                                                                                \
        goto out;                                                                                  \
    } while (0)

static void *run(void *arg)
{
    job *j = arg;
    char parent[1024];
    j->rc = 0;
    if (remove_dir(j->tmp)) FAIL("removing %.300s: %.300s", j->tmp, strerror(errno));
    if (mkdir(j->tmp, 0755)) FAIL("mkdir %.300s: %.300s", j->tmp, strerror(errno));
    int rc = kvbackup_copy(srv.state, j->tmp, &j->index, &j->tau, j->err, sizeof(j->err));
    if (rc) {
        j->rc = -1;
        goto out;
    }
    if (write_info(j) || fsync_dir(j->tmp))
        FAIL("writing %.300s/%.300s: %.300s", j->tmp, BACKUP_INFO, strerror(errno));
    /* The old backup moves aside only once the new one is whole. */
    if (remove_dir(j->old)) FAIL("removing %.300s: %.300s", j->old, strerror(errno));
    if (rename(j->target, j->old) && errno != ENOENT)
        FAIL("renaming %.300s: %.300s", j->target, strerror(errno));
    if (rename(j->tmp, j->target)) {
        int e = errno;
        rename(j->old, j->target); /* the previous backup back in place */
        FAIL("renaming %.300s to %.300s: %.300s", j->tmp, j->target, strerror(e));
    }
    parent_of(j->target, parent, sizeof(parent));
    if (fsync_dir(parent)) FAIL("fsync %.300s: %.300s", parent, strerror(errno));
    remove_dir(j->old);
out:
    if (j->rc) remove_dir(j->tmp);
    atomic_store(&j->done, 1);
    return NULL;
}

/* Bookkeeping of a run whose thread is joined; frees it. */
static void record(job *j, int sync)
{
    int64_t now = mstime();
    last_secs = (now - j->start_ms + 500) / 1000;
    last_ok = j->rc == 0;
    if (last_ok) {
        last_save_s = now / 1000;
        last_index = j->index;
        serverLog(LL_NOTICE, "%s of applied index %" PRIu64 " written to %s in %.3f s",
                  sync ? "DB saved on disk: backup" : "Background backup", j->index, j->target,
                  (double)(now - j->start_ms) / 1000);
    } else {
        serverLog(LL_WARNING, "Backup failed: %s", j->err);
    }
    free(j);
}

static void finish(void)
{
    job *j = running;
    pthread_join(j->thread, NULL);
    running = NULL;
    record(j, 0);
}

static int start(char *err, size_t errlen);

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    if (!running) {
        evtimer_del(poll_ev);
        return;
    }
    if (!atomic_load(&running->done)) return;
    finish();
    if (scheduled) {
        char err[256];
        scheduled = 0;
        if (start(err, sizeof(err))) serverLog(LL_WARNING, "Scheduled backup: %s", err);
    }
    if (!running) evtimer_del(poll_ev);
}

static int start(char *err, size_t errlen)
{
    int64_t t0 = mono_us();
    int rc = kvstate_commit(srv.state);
    diag_latency_sample("state-commit", mono_us() - t0);
    if (rc) {
        snprintf(err, errlen, "committing the state: %s", kv_strerror(rc));
        return -1;
    }
    job *j = calloc(1, sizeof(*j));
    if (!j) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (cfg.backup_dir && cfg.backup_dir[0])
        snprintf(j->target, sizeof(j->target), "%s", cfg.backup_dir);
    else
        snprintf(j->target, sizeof(j->target), "%s/backup", cfg.dir);
    size_t n = strlen(j->target);
    while (n > 1 && j->target[n - 1] == '/')
        j->target[--n] = '\0';
    snprintf(j->tmp, sizeof(j->tmp), "%s.tmp", j->target);
    snprintf(j->old, sizeof(j->old), "%s.old", j->target);
    snprintf(j->node, sizeof(j->node), "%d", cfg.node_id);
    snprintf(j->cluster_id, sizeof(j->cluster_id), "%s", cfg.cluster_id ? cfg.cluster_id : "");
    j->start_ms = mstime();
    if (!poll_ev) poll_ev = event_new(srv.base, -1, EV_PERSIST, on_poll, NULL);
    if (!poll_ev || (rc = pthread_create(&j->thread, NULL, run, j))) {
        snprintf(err, errlen, "can't start the backup thread: %s", strerror(rc ? rc : ENOMEM));
        free(j);
        return -1;
    }
    running = j;
    struct timeval tv = {0, POLL_MS * 1000};
    evtimer_add(poll_ev, &tv);
    return 0;
}

void backup_command(client *c, int argc, char **argv)
{
    resp_buf *b = client_reply_buf(c);
    char err[1300];
    int bg = !strcasecmp(argv[0], "bgsave");
    int schedule = 0;
    if (bg && argc == 2 && !strcasecmp(argv[1], "schedule"))
        schedule = 1;
    else if (argc > 1) {
        resp_add_error(b, "ERR syntax error");
        return;
    }
    if (running) {
        if (schedule) {
            scheduled = 1;
            resp_add_simple(b, "Background saving scheduled");
        } else {
            resp_add_error(b, "ERR Background save already in progress");
        }
        return;
    }
    if (start(err, sizeof(err))) {
        serverLog(LL_WARNING, "Backup failed: %s", err);
        resp_add_errorf(b, "ERR %s", err);
        return;
    }
    if (bg) {
        serverLog(LL_NOTICE, "Background backup started into %s", running->target);
        resp_add_simple(b, "Background saving started");
        return;
    }
    /* SAVE: block, as Redis's does, until the copy is done. */
    job *j = running;
    pthread_join(j->thread, NULL);
    running = NULL;
    evtimer_del(poll_ev);
    int ok = j->rc == 0;
    snprintf(err, sizeof(err), "%s", j->err);
    record(j, 1);
    if (ok)
        resp_add_ok(b);
    else
        resp_add_errorf(b, "ERR %s", err);
}

int64_t backup_lastsave(void)
{
    return last_save_s ? last_save_s : srv.start_ms / 1000;
}

void backup_info_fields(char *buf, size_t len)
{
    int64_t now = mstime();
    snprintf(buf, len,
             "rdb_bgsave_in_progress:%d\r\n"
             "rdb_last_save_time:%" PRId64 "\r\n"
             "rdb_last_bgsave_status:%s\r\n"
             "rdb_last_bgsave_time_sec:%" PRId64 "\r\n"
             "rdb_current_bgsave_time_sec:%" PRId64 "\r\n"
             "backup_last_applied_index:%" PRIu64 "\r\n",
             running ? 1 : 0, backup_lastsave(), last_ok ? "ok" : "err", last_secs,
             running ? (now - running->start_ms) / 1000 : -1, last_index);
}

void backup_wait(void)
{
    if (running) {
        serverLog(LL_NOTICE, "Waiting for the backup in progress to end...");
        finish();
    }
    scheduled = 0;
    if (poll_ev) {
        event_free(poll_ev);
        poll_ev = NULL;
    }
}

/* ------------------------------------------------------------ restore */

const char *backup_take_restore_option(int *argc, char **argv)
{
    const char *from = NULL;
    for (int i = 1; i < *argc; i++) {
        if (strcasecmp(argv[i], "--restore-from")) continue;
        if (i + 1 >= *argc) {
            (*argc)--;
            return "";
        }
        from = argv[i + 1];
        for (int k = i; k + 2 <= *argc; k++)
            argv[k] = argv[k + 2];
        *argc -= 2;
        break;
    }
    return from;
}

/* backup.info's applied index and format. */
static int read_backup_info(const char *from, uint64_t *index, char *err, size_t errlen)
{
    char path[1100], line[600];
    snprintf(path, sizeof(path), "%s/%s", from, BACKUP_INFO);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "--restore-from: %s: %s (not a RaftKV backup directory)", path,
                 strerror(errno));
        return -1;
    }
    int have_format = 0, have_index = 0;
    /* "key value" lines; a value may be empty (cluster-id of a node without one). */
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *val = strchr(line, ' ');
        if (!val) continue;
        *val++ = '\0';
        if (!strcmp(line, "format")) have_format = !strcmp(val, BACKUP_FORMAT);
        if (!strcmp(line, "applied-index")) {
            char *end;
            errno = 0;
            *index = strtoull(val, &end, 10);
            have_index = *val && !*end && !errno;
        }
    }
    fclose(f);
    if (!have_format || !have_index) {
        snprintf(err, errlen, "--restore-from: %s is not a %s file", path, BACKUP_FORMAT);
        return -1;
    }
    return 0;
}

static int copy_file(const char *src, const char *dst, char *err, size_t errlen)
{
    char tmp[1300];
    snprintf(tmp, sizeof(tmp), "%s.restore", dst);
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        snprintf(err, errlen, "--restore-from: %s: %s", src, strerror(errno));
        return -1;
    }
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        snprintf(err, errlen, "--restore-from: %s: %s", tmp, strerror(errno));
        close(in);
        return -1;
    }
    static char buf[1 << 16];
    ssize_t n = 0;
    int rc = 0;
    while ((n = read(in, buf, sizeof(buf))) > 0) {
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0) {
                if (errno == EINTR) continue;
                rc = -1;
                break;
            }
            off += w;
        }
        if (rc) break;
    }
    if (n < 0) rc = -1;
    if (!rc && fsync(out)) rc = -1;
    if (rc)
        snprintf(err, errlen, "--restore-from: copying %s to %s: %s", src, tmp, strerror(errno));
    close(in);
    if (close(out) && !rc) {
        rc = -1;
        snprintf(err, errlen, "--restore-from: %s: %s", tmp, strerror(errno));
    }
    if (!rc && rename(tmp, dst)) {
        rc = -1;
        snprintf(err, errlen, "--restore-from: renaming %s: %s", tmp, strerror(errno));
    }
    if (rc) unlink(tmp);
    return rc;
}

int backup_restore(const char *from, char *err, size_t errlen)
{
    uint64_t index = 0;
    char src[1100], state_dir[1100], dst[1200];
    err[0] = '\0';
    if (!from[0]) {
        snprintf(err, errlen, "--restore-from needs a backup directory");
        return -1;
    }
    if (read_backup_info(from, &index, err, errlen)) return -1;
    /* Brand-new only: nothing applied, nothing logged, no identity yet. */
    void *v = NULL;
    size_t vn = 0;
    int has_identity = kvlog_get_meta(srv.log, "identity", &v, &vn) == 0;
    free(v);
    if (has_identity || kvlog_last_index(srv.log) > 0 || kvlog_snapshot_index(srv.log) > 0 ||
        kvstate_applied_index(srv.state) > 0 || kvstate_dbsize(srv.state, -1) > 0) {
        snprintf(err, errlen,
                 "--restore-from: the data directory %s already holds a node's data (applied "
                 "index %" PRIu64 ", log up to %" PRIu64 "); restore into an empty directory",
                 cfg.dir, kvstate_applied_index(srv.state), kvlog_last_index(srv.log));
        return -1;
    }
    snprintf(src, sizeof(src), "%s/data.mdb", from);
    snprintf(state_dir, sizeof(state_dir), "%s/state", cfg.dir);
    snprintf(dst, sizeof(dst), "%s/data.mdb", state_dir);
    kvstate_close(srv.state);
    srv.state = NULL;
    if (copy_file(src, dst, err, errlen) || fsync_dir(state_dir)) {
        if (!err[0])
            snprintf(err, errlen, "--restore-from: fsync %s: %s", state_dir, strerror(errno));
        return -1;
    }
    char oerr[512];
    int rc = kvstate_open(&srv.state, cfg.dir, (uint64_t)cfg.state_mapsize, oerr, sizeof(oerr));
    if (rc) {
        snprintf(err, errlen, "--restore-from: opening the restored state: %s", oerr);
        return -1;
    }
    if (kvstate_applied_index(srv.state) != index) {
        snprintf(err, errlen,
                 "--restore-from: %s says applied index %" PRIu64 ", its data.mdb holds %" PRIu64,
                 from, index, kvstate_applied_index(srv.state));
        return -1;
    }
    rc = kvbackup_mark_restored(srv.state, RESTORE_TERM);
    /* The log's first term may not be below the snapshot's. */
    kvlog_hardstate hs;
    if (!rc) rc = kvlog_get_hardstate(srv.log, &hs);
    if (!rc && hs.term < RESTORE_TERM) {
        hs.term = RESTORE_TERM;
        rc = kvlog_set_hardstate(srv.log, &hs);
    }
    if (!rc) rc = kvlog_sync(srv.log);
    if (rc) {
        snprintf(err, errlen, "--restore-from: %s", kv_strerror(rc));
        return -1;
    }
    serverLog(LL_NOTICE, "Restored the backup in %s: %" PRIu64 " keys at applied index %" PRIu64,
              from, kvstate_dbsize(srv.state, -1), index);
    return 0;
}
