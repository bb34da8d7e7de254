/* kvbackup.c -- backups of the state environment (kvbackup.h). */
#include "storage/kvbackup.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "storage/kverr.h"
#include "storage/kvint.h"

/* The applied index and tau of the state file in dir, from its own meta
 * table, read-only. */
static int read_copy_meta(const char *dir, uint64_t *index, int64_t *tau, char *err, size_t errlen)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi meta;
    MDB_val k, d;
    uint64_t v[2] = {0, 0};
    const char *names[2] = {META_APPLIED, META_TAU};
    int rc;
    if ((rc = mdb_env_create(&env)) != 0) goto out;
    if ((rc = mdb_env_set_maxdbs(env, 2 * KV_NSLOTS + 1)) != 0 ||
        (rc = mdb_env_open(env, dir, MDB_RDONLY | MDB_NOTLS | MDB_NOLOCK, 0644)) != 0 ||
        (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0 ||
        (rc = mdb_dbi_open(txn, "meta", 0, &meta)) != 0)
        goto out;
    for (int i = 0; i < 2; i++) {
        k.mv_size = strlen(names[i]);
        k.mv_data = (void *)names[i];
        rc = mdb_get(txn, meta, &k, &d);
        if (rc == MDB_NOTFOUND) {
            rc = 0;
            continue;
        }
        if (rc) goto out;
        if (d.mv_size != 8) {
            snprintf(err, errlen, "%s/data.mdb: meta %s has %zu bytes, not 8", dir, names[i],
                     d.mv_size);
            rc = KV_ECORRUPT;
            goto out;
        }
        v[i] = kv_get_be64(d.mv_data);
    }
    *index = v[0];
    *tau = (int64_t)v[1];
out:
    if (txn) mdb_txn_abort(txn);
    if (env) mdb_env_close(env);
    if (rc > 0) {
        snprintf(err, errlen, "reading %s/data.mdb: %s", dir, mdb_strerror(rc));
        rc = KV_EIO;
    }
    return rc;
}

static int fsync_path(const char *path, int dir)
{
    int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

int kvbackup_copy(kvstate *s, const char *dir, uint64_t *index, int64_t *tau, char *err,
                  size_t errlen)
{
    char file[512];
    if (snprintf(file, sizeof(file), "%s/data.mdb", dir) >= (int)sizeof(file)) {
        snprintf(err, errlen, "backup path too long");
        return KV_EINVAL;
    }
    int rc = mdb_env_copy2(s->env, dir, MDB_CP_COMPACT);
    if (rc) {
        snprintf(err, errlen, "copying the state into %s: %s", dir, mdb_strerror(rc));
        return rc == ENOSPC ? KV_EFULL : KV_EIO;
    }
    if (fsync_path(file, 0) || fsync_path(dir, 1)) {
        snprintf(err, errlen, "fsync %s: %s", file, strerror(errno));
        return KV_EIO;
    }
    return read_copy_meta(dir, index, tau, err, errlen);
}

int kvbackup_mark_restored(kvstate *s, uint64_t term)
{
    int rc;
    if ((rc = kvstate_begin_write(s)) != 0 ||
        (rc = kvstate_meta_put(s, META_SNAP_INDEX, s->applied)) != 0 ||
        (rc = kvstate_meta_put(s, META_SNAP_TERM, term)) != 0)
        return rc;
    s->snap_index = s->applied;
    s->snap_term = term;
    return kvstate_commit(s);
}
