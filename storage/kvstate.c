/* kvstate.c -- the state environment (kvstate.h): the key space, its
 * expiry index, the applied index and tau, and the apply loop.
 *
 * Key layout. A key k lives in kvN as [u64 big-endian kv_keyhash(k)][k], so
 * the key space is ordered by hash: SCAN's cursor is the next hash to visit
 * (stateless, and every key present for the whole scan is returned even
 * under inserts and deletes), and RANDOMKEY seeks to a random hash. The
 * expiry index expN holds [u64 big-endian expiry ms][k] -> empty, changed in
 * the same transaction as the record it indexes. */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "storage/kvcmd.h"
#include "storage/kventry.h"
#include "storage/kverr.h"
#include "storage/kvint.h"
#include "storage/kvstate.h"

/* ------------------------------------------------------------ env */

int kvstate_meta_put(kvstate *s, const char *name, uint64_t v)
{
    unsigned char b[8];
    kv_put_be64(b, v);
    MDB_val k = {strlen(name), (void *)name}, d = {8, b};
    return kv_map_err(mdb_put(s->wtxn, s->meta, &k, &d, 0));
}

int kvstate_meta_get(kvstate *s, MDB_txn *txn, const char *name, uint64_t *v)
{
    MDB_val k = {strlen(name), (void *)name}, d;
    int rc = mdb_get(txn, s->meta, &k, &d);
    if (rc == MDB_NOTFOUND) {
        *v = 0;
        return 0;
    }
    if (rc != 0) return kv_map_err(rc);
    if (d.mv_size != 8) return KV_ECORRUPT;
    *v = kv_get_be64(d.mv_data);
    return 0;
}

static int load_meta(kvstate *s, MDB_txn *txn)
{
    uint64_t live = 0, applied = 0, tau = 0; /* gcc -O3 cannot see meta_get_u64 sets them */
    int rc;
    if ((rc = kvstate_meta_get(s, txn, META_LIVE, &live)) != 0 ||
        (rc = kvstate_meta_get(s, txn, META_APPLIED, &applied)) != 0 ||
        (rc = kvstate_meta_get(s, txn, META_TAU, &tau)) != 0 ||
        (rc = kvstate_meta_get(s, txn, META_SNAP_INDEX, &s->snap_index)) != 0 ||
        (rc = kvstate_meta_get(s, txn, META_SNAP_TERM, &s->snap_term)) != 0)
        return rc;
    if (live > 1) return KV_ECORRUPT;
    s->live = (int)live;
    s->applied = s->durable = applied;
    s->tau = s->durable_tau = (int64_t)tau;
    return 0;
}

static int fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int kvstate_open(kvstate **out, const char *dir, uint64_t mapsize, char *err, size_t errlen)
{
    char path[4096];
    kvstate *s;
    MDB_txn *txn = NULL;
    int rc;

    *out = NULL;
    if (snprintf(path, sizeof(path), "%s/state", dir) >= (int)sizeof(path)) {
        snprintf(err, errlen, "state path too long");
        return KV_EINVAL;
    }
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "mkdir %s: %s", path, strerror(errno));
        return KV_EIO;
    }
    s = kv_calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return KV_ENOMEM;
    }
    s->pages_at_commit = UINT64_MAX;
    if (strlen(path) >= sizeof(s->path)) {
        snprintf(err, errlen, "the data directory's path is too long");
        free(s);
        return KV_EINVAL;
    }
    memcpy(s->path, path, strlen(path) + 1);
    if ((rc = mdb_env_create(&s->env)) != 0) {
        snprintf(err, errlen, "%s: %s", path, mdb_strerror(rc));
        free(s);
        return kv_map_err(rc);
    }
    if ((rc = mdb_env_set_mapsize(s->env, mapsize)) != 0 ||
        (rc = mdb_env_set_maxdbs(s->env, 2 * KV_NSLOTS + 1)) != 0 ||
        /* No MDB_NOMETASYNC: the log is compacted against
         * kvstate_durable_index(), so the meta page holding it must be on
         * disk when the commit returns, not at the next commit.
         * MDB_WRITEMAP: a write transaction changes pages in the file's
         * mapping (page cache) instead of malloc'ed copies, and its commit
         * is an msync: no anonymous memory per dirty page and no copy into
         * the kernel at commit. The file is as large as the map (sparse);
         * kvstate_reserve() gives blocks ahead to what it holds.
         * MDB_NORDAHEAD (madvise MADV_RANDOM on the map): without it the
         * page cache holds the file in large folios (readahead makes
         * them), and a write fault dirties the whole folio, so a commit
         * wrote up to 2 MB for each 4 KB page changed (2 GB/s of writes
         * for a 30,000 keys/s load, measured). Keys are ordered by hash:
         * the state is read at random anyway. */
        (rc = mdb_env_open(s->env, path, MDB_NOTLS | MDB_WRITEMAP | MDB_NORDAHEAD, 0644)) != 0 ||
        (rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
        goto err_after_env;
    for (int pair = 0; pair < 2; pair++)
        for (int i = 0; i < KV_NSLOTS; i++) {
            char name[32];
            kv_slot_name(name, sizeof(name), pair, i);
            if ((rc = mdb_dbi_open(txn, name, MDB_CREATE, &s->dbi[pair][i])) != 0)
                goto err_after_txn;
        }
    if ((rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta)) != 0) goto err_after_txn;
    if ((rc = load_meta(s, txn)) != 0 || (rc = kvstate_load_pmeta(s, txn)) != 0) {
        mdb_txn_abort(txn);
        snprintf(err, errlen, "%s: %s", path, kv_strerror(rc));
        mdb_env_close(s->env);
        free(s);
        return rc;
    }
    if ((rc = mdb_txn_commit(txn)) != 0) goto err_after_env;
    /* LMDB never fsyncs a directory: until state/ and its data.mdb are
     * durable names, a power loss can take the whole state while the log,
     * compacted against it, lives on. Every open, since a crash may have
     * come between the mkdir and here. */
    if (fsync_dir(path) != 0 || fsync_dir(dir) != 0) {
        snprintf(err, errlen, "fsync of %s or its parent: %s", path, strerror(errno));
        mdb_env_close(s->env);
        free(s->acl);
        free(s->members);
        free(s);
        return KV_EIO;
    }
    if ((rc = kvc_start(&s->cm, s->env)) != 0) {
        snprintf(err, errlen, "%s: starting the commit thread: %s", path, strerror(rc));
        mdb_env_close(s->env);
        free(s->acl);
        free(s->members);
        free(s);
        return KV_EIO;
    }
    s->used_pct = -1;
    kvstate_reserve(s);
    s->read_rng = ((uint64_t)random() << 32) ^ (uint64_t)random();
    if (s->acct_missing && (rc = kvstate_acct_rebuild(s)) != 0) {
        snprintf(err, errlen, "%s: counting the key space: %s", path, kv_strerror(rc));
        kvc_stop(s->cm);
        mdb_env_close(s->env);
        free(s);
        return rc;
    }
    *out = s;
    return 0;

err_after_txn:
    mdb_txn_abort(txn);
err_after_env:
    snprintf(err, errlen, "%s: %s", path, mdb_strerror(rc));
    mdb_env_close(s->env);
    free(s->acl);
    free(s->members);
    free(s);
    return kv_map_err(rc);
}

void kvstate_close(kvstate *s)
{
    if (!s) return;
    kvstate_commit(s);
    if (s->wtxn) kvc_abort(s->cm, s->wtxn); /* a failed commit's */
    kvc_stop(s->cm);
    if (s->rtxn) mdb_txn_abort(s->rtxn);
    mdb_env_close(s->env);
    free(s->acl);
    free(s->members);
    free(s);
}

uint64_t kvstate_applied_index(kvstate *s)
{
    return s->applied;
}

static uint64_t db_pages(MDB_txn *txn, MDB_dbi dbi)
{
    MDB_stat st;
    if (mdb_stat(txn, dbi, &st) != 0) return 0;
    return (uint64_t)st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
}

uint64_t kvstate_pending_bytes(kvstate *s)
{
    return s->pending_bytes;
}

uint64_t kvstate_pages(kvstate *s)
{
    if (s->pages_at_commit == UINT64_MAX) {
        MDB_txn *txn;
        if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0) return UINT64_MAX;
        s->pages_at_commit = 0;
        for (int i = 0; i < KV_NSLOTS; i++)
            s->pages_at_commit += db_pages(txn, s->dbi[s->live][i]);
        mdb_txn_abort(txn);
    }
    return s->pages_at_commit;
}

uint64_t kvstate_durable_index(kvstate *s)
{
    return s->durable;
}

int64_t kvstate_tau(kvstate *s)
{
    return s->tau;
}

static void rollback(kvstate *s)
{
    if (s->wtxn) kvc_abort(s->cm, s->wtxn);
    s->wtxn = NULL;
    s->applied = s->durable;
    s->pending_bytes = 0;
    s->tau = s->durable_tau;
    s->tomb_floor = 0;
}

/* What a commit's end says: the state as applied is durable, or (rc) the
 * transaction is gone and the applied index back at the durable one. */
static int commit_ended(kvstate *s, int rc)
{
    s->used_pct = -1;
    if (rc != 0) {
        /* LMDB answers a failed write or fsync with its errno, but a short
         * write (a full disk, often) as EIO: say when the disk is full. */
        struct statvfs fs;
        int full = statvfs(s->path, &fs) == 0 && fs.f_bavail < 16;
        snprintf(s->errmsg, sizeof(s->errmsg), "committing %s/data.mdb: %s%s", s->path,
                 mdb_strerror(rc), full && rc != ENOSPC ? " (No space left on device)" : "");
        s->applied = s->durable;
        s->tau = s->durable_tau;
        return kv_map_err(rc);
    }
    s->durable = s->applied;
    s->durable_tau = s->tau;
    s->pages_at_commit = UINT64_MAX; /* recomputed when asked */
    kvstate_reserve(s);
    return 0;
}

/* Disk blocks for the pages LMDB holds and KV_RESERVE_AHEAD more (at most
 * the map). With MDB_WRITEMAP a page the state grows into is first written
 * through the mapping: on a full disk that write faults (SIGBUS) instead of
 * failing a write(2), so blocks are taken ahead, where a full disk is an
 * error to report. Not fatal: past the reservation the fault stops the
 * node (the server's SIGBUS handler names the file). */
#define KV_RESERVE_AHEAD (64ull << 20)
void kvstate_reserve(kvstate *s)
{
    MDB_envinfo info;
    MDB_stat st;
    int fd;
    if (mdb_env_info(s->env, &info) != 0 || mdb_env_stat(s->env, &st) != 0 ||
        mdb_env_get_fd(s->env, &fd) != 0)
        return;
    uint64_t want = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize + KV_RESERVE_AHEAD;
    if (want > info.me_mapsize) want = info.me_mapsize;
    if (want <= s->reserved) return;
    if (fallocate(fd, 0, (off_t)s->reserved, (off_t)(want - s->reserved)) == 0) {
        s->reserved = want;
        s->reserve_warned = 0;
        return;
    }
    if (errno == EOPNOTSUPP || errno == ENOSYS) {
        s->reserved = want; /* the file system cannot: writes fault as they come */
        return;
    }
    if (!s->reserve_warned) {
        s->reserve_warned = 1;
        snprintf(s->errmsg, sizeof(s->errmsg),
                 "reserving %llu MB ahead in %s/data.mdb: %s (the node stops if the state "
                 "grows past the disk)",
                 (unsigned long long)(KV_RESERVE_AHEAD >> 20), s->path, strerror(errno));
    }
}

int kvstate_reserve_failed(kvstate *s)
{
    int w = s->reserve_warned == 1;
    if (w) s->reserve_warned = 2; /* reported once */
    return w;
}

int kvstate_commit_wait(kvstate *s)
{
    if (s->committing) {
        s->committing = 0;
        int rc = commit_ended(s, kvc_wait(s->cm));
        if (rc) s->commit_rc = rc;
    }
    return s->commit_rc;
}

int kvstate_committing(kvstate *s)
{
    return s->committing;
}

int kvstate_commit_done(kvstate *s)
{
    return !s->committing || kvc_done(s->cm);
}

int kvstate_commit_fd(kvstate *s)
{
    return kvc_fd(s->cm);
}

/* The applied index and tau and the metadata into the open transaction:
 * kvstate_apply() leaves them to the commit (two puts per commit instead of
 * per entry). */
static int commit_prepare(kvstate *s)
{
    int rc = 0;
    if (s->pmeta_dirty && (rc = kvstate_save_pmeta(s)) != 0) {
        rollback(s);
        return rc;
    }
    if (s->applied != s->durable || s->tau != s->durable_tau) {
        if ((rc = kvstate_meta_put(s, META_APPLIED, s->applied)) == 0)
            rc = kvstate_meta_put(s, META_TAU, (uint64_t)s->tau);
        if (rc != 0) {
            rollback(s);
            return rc;
        }
    }
    return 0;
}

int kvstate_commit(kvstate *s)
{
    int rc = kvstate_commit_wait(s);
    if (rc || !s->wtxn) return rc;
    if ((rc = commit_prepare(s)) != 0) return rc;
    rc = kvc_commit(s->cm, s->wtxn);
    s->wtxn = NULL;
    s->pending_bytes = 0;
    return commit_ended(s, rc);
}

int kvstate_commit_start(kvstate *s)
{
    int rc = kvstate_commit_wait(s);
    if (rc || !s->wtxn) return rc;
    if ((rc = commit_prepare(s)) != 0) return rc;
    kvc_commit_post(s->cm, s->wtxn);
    s->wtxn = NULL;
    s->pending_bytes = 0;
    s->committing = 1;
    return 0;
}

int kvstate_begin_write(kvstate *s)
{
    int rc = kvstate_commit_wait(s);
    if (rc) return rc;
    if (s->wtxn) return 0;
    if (s->rtxn_live) { /* its snapshot is stale once this commits */
        mdb_txn_reset(s->rtxn);
        s->rtxn_live = 0;
    }
    rc = kvc_begin(s->cm, &s->wtxn);
    if (rc != 0) {
        s->wtxn = NULL;
        return kv_map_err(rc);
    }
    return 0;
}

int kvstate_txn_for_read(kvstate *s, MDB_txn **txn, int *own)
{
    *own = 0;
    int rc = kvstate_commit_wait(s);
    if (rc) return rc;
    if ((*txn = s->wtxn) != NULL) return 0;
    if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn)) != 0) return kv_map_err(rc);
    *own = 1;
    return 0;
}

/* A transaction for reading: the open write one, or else one read
 * transaction kept from read to read (a begin and an abort per GET were a
 * tenth of a leader's time under pipelined reads), renewed after each
 * write transaction: only kvstate_begin_write() starts one, and it resets
 * this. Callers never end it. */
static int begin_read(kvstate *s, MDB_txn **txn)
{
    int rc = kvstate_commit_wait(s); /* the applied state is the committing one */
    if (rc) return rc;
    if (s->wtxn) {
        *txn = s->wtxn;
        return 0;
    }
    if (!s->rtxn_live) {
        rc = s->rtxn ? mdb_txn_renew(s->rtxn) : mdb_txn_begin(s->env, NULL, MDB_RDONLY, &s->rtxn);
        if (rc != 0) {
            if (s->rtxn) mdb_txn_abort(s->rtxn);
            s->rtxn = NULL;
            return kv_map_err(rc);
        }
        s->rtxn_live = 1;
    }
    *txn = s->rtxn;
    return 0;
}

static void ctx_init(kvstate *s, kv_ctx *c, MDB_txn *txn, int writable, resp_buf *reply)
{
    memset(c, 0, sizeof(*c));
    c->st = s;
    c->txn = txn;
    kv_use_db(c, 0);
    c->writable = writable;
    c->tau = s->tau;
    c->wall = s->tau;
    c->reply = reply;
}

/* A MULTI entry's first command "raft.watch": the keys its client
 * watched (kv_watch_changed). The server puts it there, never a client
 * (no command table has it). */
static int is_watch(const kv_argv *a)
{
    return a->argc >= 1 && kv_streqci(a->argv[0], a->argvlen[0], "raft.watch");
}

/* A MULTI entry's "raft.noperm <error>": a command EXEC found its client
 * no longer allowed to run (an ACL change since it was queued, Redis's
 * execCommand check); answered the error in its place. Server-made too. */
static int is_noperm(const kv_argv *a)
{
    return a->argc == 2 && kv_streqci(a->argv[0], a->argvlen[0], "raft.noperm");
}

/* Every command of a CMD or MULTI entry is one this binary knows. The
 * server never proposes an unknown command, so one here comes from a
 * newer leader: applying it as an error would leave this node's key space
 * different from the others', so the node stops instead (KV_ENEWER). */
static int entry_known(const kv_entry *e)
{
    if (e->kind != KV_ENTRY_CMD && e->kind != KV_ENTRY_MULTI) return 1;
    for (uint32_t i = 0; i < e->count; i++) {
        const kv_argv *a = &e->cmds[i];
        if (a->argc < 1) continue; /* answered "empty command" at apply */
        if (e->kind == KV_ENTRY_MULTI && (kv_streqci(a->argv[0], a->argvlen[0], "select") ||
                                          kv_streqci(a->argv[0], a->argvlen[0], "unwatch") ||
                                          is_noperm(a) || (i == 0 && is_watch(a))))
            continue;
        if (!kv_command_lookup(a->argv[0], a->argvlen[0])) return 0;
    }
    return 1;
}

int kvstate_apply(kvstate *s, uint64_t index, const void *payload, size_t len, resp_buf *reply)
{
    kv_entry e;
    kv_ctx c;
    resp_buf scratch;
    int rc;

    if (index <= s->applied) return 0;
    if (index != s->applied + 1) return KV_EINVAL;
    if (len > 0) {
        rc = kventry_decode(payload, len, &e);
        if (rc != 0) return rc;
        if (!entry_known(&e)) {
            kventry_free(&e);
            return KV_ENEWER;
        }
    } else {
        memset(&e, 0, sizeof(e));
    }
    if ((rc = kvstate_begin_write(s)) != 0) goto out;

    resp_buf_init(&scratch, reply ? reply->proto : 2);
    ctx_init(s, &c, s->wtxn, 1, reply ? reply : &scratch);
    if (len > 0 && e.tau > c.tau) c.tau = e.tau;
    c.wall = c.tau;
    /* Deterministic randomness (RANDOMKEY inside MULTI). */
    c.rng = kv_keyhash(&index, sizeof(index)) ^ (uint64_t)c.tau;
    c.index = index;

    s->apply_blocked = 0;
    s->applying = 1;
    c.multi = len > 0 && e.kind == KV_ENTRY_MULTI;
    if (len > 0) {
        switch (e.kind) {
        case KV_ENTRY_CMD:
            if (e.db >= KV_MAX_DBS) {
                resp_add_error(c.reply, "ERR DB index is out of range");
                break;
            }
            kv_use_db(&c, e.db);
            kv_exec(&c, NULL, e.cmds[0].argc, e.cmds[0].argv, e.cmds[0].argvlen);
            break;
        case KV_ENTRY_MULTI:
            if (e.db >= KV_MAX_DBS) {
                resp_add_error(c.reply, "ERR DB index is out of range");
                break;
            }
            kv_use_db(&c, e.db);
            uint32_t first = 0;
            if (e.count > 0 && is_watch(&e.cmds[0])) {
                /* WATCH: a watched key changed since it was watched, so
                 * nothing is applied and EXEC answers null, the same on
                 * every node (Redis's CLIENT_DIRTY_CAS). */
                first = 1;
                int changed =
                    kv_watch_changed(&c, e.cmds[0].argc, e.cmds[0].argv, e.cmds[0].argvlen);
                if (changed < 0) break;
                if (changed) {
                    resp_add_null_array(c.reply);
                    break;
                }
            }
            resp_add_array(c.reply, e.count - first);
            for (uint32_t i = first; i < e.count && c.rc == 0; i++) {
                const kv_argv *a = &e.cmds[i];
                if (a->argc == 1 && kv_streqci(a->argv[0], a->argvlen[0], "unwatch")) {
                    resp_add_ok(c.reply); /* the server already forgot its watches */
                    continue;
                }
                if (is_noperm(a)) {
                    resp_add_errorf(c.reply, "%.*s",
                                    (int)(a->argvlen[1] < 1000 ? a->argvlen[1] : 1000), a->argv[1]);
                    continue;
                }
                /* SELECT inside MULTI changes the database of the commands
                 * after it (the server checked the index against its
                 * configured databases when it queued it). */
                if (a->argc == 2 && kv_streqci(a->argv[0], a->argvlen[0], "select")) {
                    long long db;
                    if (!kv_string2ll(a->argv[1], a->argvlen[1], &db) || db < INT_MIN ||
                        db > INT_MAX) {
                        resp_add_error(c.reply, "ERR value is not an integer or out of range");
                    } else if (db < 0 || db >= KV_MAX_DBS) {
                        resp_add_error(c.reply, "ERR DB index is out of range");
                    } else {
                        kv_use_db(&c, (int)db);
                        resp_add_ok(c.reply);
                    }
                    continue;
                }
                kv_exec(&c, NULL, a->argc, a->argv, a->argvlen);
            }
            break;
        case KV_ENTRY_EXPIRE:
            for (uint32_t i = 0; i < e.count && c.rc == 0; i++) {
                kv_expire_one(&c, e.items[i].db, e.items[i].key, e.items[i].keylen,
                              e.items[i].expiry);
                /* Tracking ignores the database: a key of any db. */
                kv_key_written(&c, -2, e.items[i].key, e.items[i].keylen);
            }
            break;
        }
    }
    s->applying = 0;
    s->apply_blocked = c.blocked && !c.multi;
    resp_buf_free(&scratch);
    /* The applied index and tau go into meta once, at commit. */
    rc = c.rc;
    if (rc != 0) {
        /* The transaction is unusable: drop it, the node stops. */
        rollback(s);
        goto out;
    }
    s->applied = index;
    s->tau = c.tau;
    s->pending_bytes += len;
out:
    if (len > 0) kventry_free(&e);
    return rc;
}

int kvstate_apply_blocked(kvstate *s)
{
    return s->apply_blocked;
}

int kvstate_apply_members(kvstate *s, uint64_t index, const void *conf, size_t len)
{
    if (index <= s->applied) return 0;
    if (index != s->applied + 1 || len == 0 || len > KV_MEMBERS_MAX) return KV_EINVAL;
    unsigned char *m = kv_malloc(8 + len);
    if (!m) return KV_ENOMEM;
    kv_put_be64(m, index);
    memcpy(m + 8, conf, len);
    /* the index first, in the same write transaction as the configuration */
    int rc = kvstate_apply(s, index, NULL, 0, NULL);
    if (rc) {
        free(m);
        return rc;
    }
    free(s->members);
    s->members = m;
    s->members_len = 8 + len;
    s->pmeta_dirty = 1;
    return 0;
}

const void *kvstate_members(kvstate *s, uint64_t *index, size_t *len)
{
    if (!s->members) return NULL;
    *index = kv_get_be64(s->members);
    *len = s->members_len - 8;
    return s->members + 8;
}

const char *kvstate_acl(kvstate *s, size_t *len)
{
    *len = s->acl_len;
    return s->acl;
}

int kvstate_notify_flags(kvstate *s)
{
    return s->notify;
}

void kvstate_set_hooks(kvstate *s, const kvstate_hooks *h)
{
    if (h)
        s->hooks = *h;
    else
        memset(&s->hooks, 0, sizeof(s->hooks));
}

int kvstate_watch_probe(kvstate *s, int db, const char *key, size_t keylen, int *present,
                        uint64_t *applied, int *phys)
{
    MDB_txn *txn = NULL;
    kv_ctx c;
    uint64_t stamp;
    int rc;

    if (db < 0 || db >= KV_MAX_DBS) return KV_EINVAL;
    if ((rc = begin_read(s, &txn)) != 0) return rc;
    ctx_init(s, &c, txn, 0, NULL);
    if ((rc = kv_watch_probe(&c, db, key, keylen, present, &stamp)) != 0) return rc;
    *applied = s->applied;
    *phys = s->dbmap[db];
    return 0;
}

int kvstate_script_conf(kvstate *s, uint64_t *budget, uint64_t *maxmem)
{
    MDB_txn *txn = NULL;
    kv_ctx c;
    int rc;
    if ((rc = begin_read(s, &txn)) != 0) return rc;
    ctx_init(s, &c, txn, 0, NULL);
    return kvx_script_conf(&c, budget, maxmem);
}

const kv_command *kvstate_as_read(kvstate *s, const kv_command *cmd, int argc, char **argv,
                                  size_t *argvlen)
{
    MDB_txn *txn = NULL;
    kv_ctx c;
    if ((cmd->name[0] == 'f' || cmd->name[0] == 's') && kv_call_reads(cmd, argc, argv, argvlen))
        return cmd; /* FUNCTION LIST, SCRIPT EXISTS & co. */
    if (cmd->name[0] != 'e' || strncmp(cmd->name, "eval", 4)) return NULL;
    if (begin_read(s, &txn) != 0) return NULL;
    ctx_init(s, &c, txn, 0, NULL);
    return kvx_script_as_read(&c, cmd, argc, argv, argvlen);
}

int kvstate_script_stats(kvstate *s, uint64_t *count, uint64_t *bytes)
{
    MDB_txn *txn = NULL;
    MDB_stat st;
    int rc;
    *count = *bytes = 0;
    if ((rc = begin_read(s, &txn)) != 0) return rc;
    MDB_dbi dbi = s->dbi[s->live][KV_SLOT_SCRIPTS];
    if ((rc = mdb_stat(txn, dbi, &st)) != 0) return kv_map_err(rc);
    *count = st.ms_entries;
    *bytes = (uint64_t)st.ms_psize * (st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages);
    /* The budgets' keys are no scripts. */
    static const char *const conf[] = {"\0budget", "\0maxmem"};
    for (int i = 0; i < 2; i++) {
        MDB_val k = {7, (void *)conf[i]}, d;
        if (mdb_get(txn, dbi, &k, &d) == 0 && *count > 0) (*count)--;
    }
    return 0;
}

int kvstate_function_stats(kvstate *s, uint64_t *count, uint64_t *bytes)
{
    MDB_txn *txn = NULL;
    MDB_stat st;
    MDB_cursor *cur;
    MDB_val k = {1, "F"}, d;
    int rc;
    *count = *bytes = 0;
    if ((rc = begin_read(s, &txn)) != 0) return rc;
    MDB_dbi dbi = s->dbi[s->live][KV_SLOT_FUNCTIONS];
    if ((rc = mdb_stat(txn, dbi, &st)) != 0) return kv_map_err(rc);
    *bytes = (uint64_t)st.ms_psize * (st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages);
    if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0) return kv_map_err(rc);
    /* One 'F' record a function (kvx_function.c). */
    rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size >= 1 && ((const char *)k.mv_data)[0] == 'F') {
        (*count)++;
        rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return 0;
}

int kvstate_read(kvstate *s, int db, const kv_command *cmd, int argc, char **argv, size_t *argvlen,
                 int64_t wall_ms, resp_buf *reply)
{
    MDB_txn *txn = NULL;
    kv_ctx c;
    int rc;

    if (argc < 1 || db < 0 || db >= KV_MAX_DBS) return KV_EINVAL;
    if (!cmd) cmd = kv_command_lookup(argv[0], argvlen[0]);
    if (!cmd || !kv_call_reads(cmd, argc, argv, argvlen)) return KV_EINVAL;
    if ((rc = begin_read(s, &txn)) != 0) return rc;
    ctx_init(s, &c, txn, 0, reply);
    kv_use_db(&c, db);
    c.wall = wall_ms;
    c.rng = (s->read_rng += 0x9e3779b97f4a7c15ull);
    kv_exec(&c, cmd, argc, argv, argvlen);
    return c.rc;
}

int64_t kvstate_next_expiry(kvstate *s)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur;
    MDB_val k, d;
    int64_t next = -1;

    if (begin_read(s, &txn) != 0) return -1;
    for (int p = 0; p < KV_MAX_DBS; p++) {
        if (mdb_cursor_open(txn, s->dbi[s->live][KV_SLOT_EXP(p)], &cur) != 0) continue;
        if (mdb_cursor_get(cur, &k, &d, MDB_FIRST) == 0 && k.mv_size >= 8) {
            int64_t when = (int64_t)kv_get_be64(k.mv_data);
            if (next < 0 || when < next) next = when;
        }
        mdb_cursor_close(cur);
    }
    return next;
}

/* Appends to out the expired keys of physical database p, up to max in
 * all; returns the new total n. */
static int collect_db(kvstate *s, MDB_txn *txn, int p, int64_t now_ms, int max, int n, size_t start,
                      resp_buf *out)
{
    MDB_cursor *cur;
    MDB_val k, d;
    if (mdb_cursor_open(txn, s->dbi[s->live][KV_SLOT_EXP(p)], &cur) != 0) return n;
    int rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST);
    while (rc == 0 && n < max && k.mv_size >= 8) {
        int64_t when = (int64_t)kv_get_be64(k.mv_data);
        if (when > now_ms) break;
        const char *key = (char *)k.mv_data + 8;
        size_t keylen = k.mv_size - 8;
        if (keylen == KV_SKEY_LONG) {
            /* A long key: its full form is in the record. */
            kv_skey sk;
            MDB_val rk, rd;
            kv_rec r;
            kv_put_be64(sk.b, kv_get_be64((unsigned char *)key + KV_LONG_PREFIX));
            memcpy(sk.b + 8, key, keylen);
            rk.mv_size = 8 + keylen;
            rk.mv_data = sk.b;
            if (mdb_get(txn, s->dbi[s->live][KV_SLOT_KV(p)], &rk, &rd) != 0 ||
                kv_rec_parse(&rk, &rd, &r) != 0) {
                rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT);
                continue;
            }
            key = r.key;
            keylen = r.keylen;
        }
        if (n == 0) kventry_begin_expire(out, now_ms > s->tau ? now_ms : s->tau, 0);
        (void)start;
        kventry_add_expire(out, p, key, keylen, when);
        n++;
        rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return n;
}

int kvstate_collect_expired(kvstate *s, int64_t now_ms, int max, resp_buf *out)
{
    MDB_txn *txn = NULL;
    int n = 0;
    size_t start = out->len;

    if (max <= 0 || begin_read(s, &txn) != 0) return 0;
    for (int p = 0; p < KV_MAX_DBS && n < max; p++)
        n = collect_db(s, txn, p, now_ms, max, n, start, out);
    if (n > 0) kventry_set_expire_count(out, start, (uint32_t)n);
    return n;
}

static uint64_t db_entries(kvstate *s, MDB_dbi dbi)
{
    MDB_txn *txn = NULL;
    MDB_stat st;
    uint64_t n = 0;
    if (begin_read(s, &txn) != 0) return 0;
    if (mdb_stat(txn, dbi, &st) == 0) n = st.ms_entries;
    return n;
}

uint64_t kvstate_dbsize(kvstate *s, int db)
{
    if (db < 0) {
        uint64_t n = 0;
        for (int p = 0; p < KV_MAX_DBS; p++)
            n += db_entries(s, s->dbi[s->live][KV_SLOT_KV(p)]);
        return n;
    }
    if (db >= KV_MAX_DBS) return 0;
    return db_entries(s, s->dbi[s->live][KV_SLOT_KV(s->dbmap[db])]);
}

uint64_t kvstate_expires(kvstate *s, int db)
{
    if (db < 0) {
        uint64_t n = 0;
        for (int p = 0; p < KV_MAX_DBS; p++)
            n += db_entries(s, s->dbi[s->live][KV_SLOT_EXP(p)]);
        return n;
    }
    if (db >= KV_MAX_DBS) return 0;
    return db_entries(s, s->dbi[s->live][KV_SLOT_EXP(s->dbmap[db])]);
}

void kv_slot_name(char *buf, size_t len, int pair, int slot)
{
    /* Database 0's names are those of the single-database layout. */
    if (slot < KV_MAX_DBS)
        snprintf(buf, len, slot == 0 ? "kv%d" : "kv%d.%d", pair, slot);
    else if (slot < 2 * KV_MAX_DBS)
        snprintf(buf, len, slot == KV_MAX_DBS ? "exp%d" : "exp%d.%d", pair, slot - KV_MAX_DBS);
    else
        snprintf(buf, len, "%s%d",
                 slot == KV_SLOT_ELEM        ? "elem"
                 : slot == KV_SLOT_ZIDX      ? "zidx"
                 : slot == KV_SLOT_GC        ? "gc"
                 : slot == KV_SLOT_ACCT      ? "acct"
                 : slot == KV_SLOT_WATCH     ? "watch"
                 : slot == KV_SLOT_SCRIPTS   ? "scripts"
                 : slot == KV_SLOT_FUNCTIONS ? "functions"
                                             : "pmeta",
                 pair);
}

int kvstate_read_pmeta(kvstate *s, MDB_txn *txn, int pair, uint8_t dbmap[KV_MAX_DBS],
                       uint64_t *next_ver, int *notify)
{
    MDB_dbi dbi = s->dbi[pair][KV_SLOT_PMETA];
    MDB_val k = {strlen(PMETA_DBMAP), PMETA_DBMAP}, d;
    int rc = mdb_get(txn, dbi, &k, &d);
    for (int i = 0; i < KV_MAX_DBS; i++)
        dbmap[i] = (uint8_t)i;
    if (rc == 0) {
        /* A permutation of the physical databases, or corrupt. */
        uint8_t seen[KV_MAX_DBS] = {0};
        if (d.mv_size != KV_MAX_DBS) return KV_ECORRUPT;
        for (int i = 0; i < KV_MAX_DBS; i++) {
            uint8_t p = ((const uint8_t *)d.mv_data)[i];
            if (p >= KV_MAX_DBS || seen[p]++) return KV_ECORRUPT;
            dbmap[i] = p;
        }
    } else if (rc != MDB_NOTFOUND) {
        return kv_map_err(rc);
    }
    k = (MDB_val){strlen(PMETA_VER), PMETA_VER};
    rc = mdb_get(txn, dbi, &k, &d);
    *next_ver = 1;
    if (rc == 0) {
        if (d.mv_size != 8) return KV_ECORRUPT;
        *next_ver = kv_get_be64(d.mv_data);
    } else if (rc != MDB_NOTFOUND) {
        return kv_map_err(rc);
    }
    k = (MDB_val){strlen(PMETA_NOTIFY), PMETA_NOTIFY};
    rc = mdb_get(txn, dbi, &k, &d);
    *notify = 0;
    if (rc == 0) {
        /* Only classes CONFIG SET can set (kv_notify_parse). */
        uint64_t v;
        if (d.mv_size != 8) return KV_ECORRUPT;
        v = kv_get_be64(d.mv_data);
        if (v & ~(uint64_t)KV_NOTIFY_VALID) return KV_ECORRUPT;
        *notify = (int)v;
    } else if (rc != MDB_NOTFOUND) {
        return kv_map_err(rc);
    }
    return 0;
}

int kvstate_load_pmeta(kvstate *s, MDB_txn *txn)
{
    uint8_t dbmap[KV_MAX_DBS];
    uint64_t next_ver;
    int notify;
    int rc = kvstate_read_pmeta(s, txn, s->live, dbmap, &next_ver, &notify);
    if (rc != 0) return rc;
    uint64_t acct, evicted;
    kv_memconf mem;
    int has_acct;
    rc = kvstate_read_pmeta_mem(s, txn, s->live, &acct, &evicted, &mem, &has_acct);
    if (rc != 0) return rc;
    memcpy(s->dbmap, dbmap, sizeof(dbmap));
    s->next_ver = next_ver;
    s->notify = notify;
    s->acct = acct;
    s->evicted = evicted;
    s->mem = mem;
    s->acct_missing = !has_acct;
    s->pmeta_dirty = 0;
    MDB_val k = {strlen(PMETA_ACL), PMETA_ACL}, d;
    rc = mdb_get(txn, s->dbi[s->live][KV_SLOT_PMETA], &k, &d);
    free(s->acl);
    s->acl = NULL;
    s->acl_len = 0;
    if (rc == 0) {
        if (!(s->acl = kv_malloc(d.mv_size + 1))) return KV_ENOMEM;
        memcpy(s->acl, d.mv_data, d.mv_size);
        s->acl[d.mv_size] = '\0';
        s->acl_len = d.mv_size;
    } else if (rc != MDB_NOTFOUND) {
        return kv_map_err(rc);
    }
    k = (MDB_val){strlen(PMETA_MEMBERS), PMETA_MEMBERS};
    rc = mdb_get(txn, s->dbi[s->live][KV_SLOT_PMETA], &k, &d);
    free(s->members);
    s->members = NULL;
    s->members_len = 0;
    if (rc != 0 && rc != MDB_NOTFOUND) return kv_map_err(rc);
    /* A size no apply writes (a made-up snapshot) counts as absent, the
     * same on every node that installs it; the server decodes the rest. */
    if (rc == 0 && d.mv_size > 8 && d.mv_size <= 8 + KV_MEMBERS_MAX) {
        if (!(s->members = kv_malloc(d.mv_size))) return KV_ENOMEM;
        memcpy(s->members, d.mv_data, d.mv_size);
        s->members_len = d.mv_size;
    }
    return 0;
}

int kvstate_save_pmeta(kvstate *s)
{
    MDB_dbi dbi = s->dbi[s->live][KV_SLOT_PMETA];
    unsigned char vb[8], nb[8];
    kv_put_be64(vb, s->next_ver);
    kv_put_be64(nb, (uint64_t)s->notify);
    MDB_val k = {strlen(PMETA_DBMAP), PMETA_DBMAP}, d = {KV_MAX_DBS, s->dbmap};
    int rc = mdb_put(s->wtxn, dbi, &k, &d, 0);
    if (rc == 0) {
        k = (MDB_val){strlen(PMETA_VER), PMETA_VER};
        d = (MDB_val){8, vb};
        rc = mdb_put(s->wtxn, dbi, &k, &d, 0);
    }
    if (rc == 0) {
        /* Absent means none: a state that never set it stays as it was. */
        k = (MDB_val){strlen(PMETA_NOTIFY), PMETA_NOTIFY};
        d = (MDB_val){8, nb};
        rc = s->notify ? mdb_put(s->wtxn, dbi, &k, &d, 0) : mdb_del(s->wtxn, dbi, &k, NULL);
        if (rc == MDB_NOTFOUND) rc = 0;
    }
    if (rc == 0 && s->acl) {
        k = (MDB_val){strlen(PMETA_ACL), PMETA_ACL};
        d = (MDB_val){s->acl_len, s->acl};
        rc = mdb_put(s->wtxn, dbi, &k, &d, 0);
    }
    if (rc == 0 && s->members) {
        k = (MDB_val){strlen(PMETA_MEMBERS), PMETA_MEMBERS};
        d = (MDB_val){s->members_len, s->members};
        rc = mdb_put(s->wtxn, dbi, &k, &d, 0);
    }
    if (rc != 0) return kv_map_err(rc);
    if ((rc = kvstate_save_pmeta_mem(s)) != 0) return rc;
    s->pmeta_dirty = 0;
    return 0;
}

int kvstate_gc(kvstate *s, int budget)
{
    MDB_cursor *gc = NULL, *cur = NULL;
    MDB_val k, d;
    int done = 0, rc;

    if (budget <= 0) return 0;
    if ((rc = kvstate_begin_write(s)) != 0) return rc;
    if ((rc = mdb_cursor_open(s->wtxn, s->dbi[s->live][KV_SLOT_GC], &gc)) != 0)
        return kv_map_err(rc);
    while (done < budget && (rc = mdb_cursor_get(gc, &k, &d, MDB_FIRST)) == 0) {
        if (k.mv_size != 8 || d.mv_size != 1) { /* not ours: drop it */
            if ((rc = mdb_cursor_del(gc, 0)) != 0) break;
            continue;
        }
        unsigned char ver[8];
        memcpy(ver, k.mv_data, 8);
        int more = 0;
        const int slots[2] = {KV_SLOT_ELEM, KV_SLOT_ZIDX};
        for (int t = 0; t < 2 && !more; t++) {
            if ((rc = mdb_cursor_open(s->wtxn, s->dbi[s->live][slots[t]], &cur)) != 0) goto out;
            MDB_val ek = {8, ver}, ed;
            rc = mdb_cursor_get(cur, &ek, &ed, MDB_SET_RANGE);
            while (rc == 0 && ek.mv_size >= 8 && memcmp(ek.mv_data, ver, 8) == 0) {
                if (done >= budget) {
                    more = 1;
                    break;
                }
                if ((rc = mdb_cursor_del(cur, 0)) != 0) goto out;
                done++;
                rc = mdb_cursor_get(cur, &ek, &ed, MDB_NEXT); /* after a delete: the next one */
            }
            mdb_cursor_close(cur);
            cur = NULL;
            if (rc != 0 && rc != MDB_NOTFOUND) goto out;
            rc = 0;
        }
        if (more) break;
        MDB_val gk = {8, ver};
        if ((rc = mdb_del(s->wtxn, s->dbi[s->live][KV_SLOT_GC], &gk, NULL)) != 0) goto out;
        mdb_cursor_close(gc);
        if ((rc = mdb_cursor_open(s->wtxn, s->dbi[s->live][KV_SLOT_GC], &gc)) != 0) {
            gc = NULL;
            goto out;
        }
    }
    if (rc == MDB_NOTFOUND) rc = 0;
out:
    if (cur) mdb_cursor_close(cur);
    if (gc) mdb_cursor_close(gc);
    if (rc != 0) return kv_map_err(rc);
    s->pending_bytes += (uint64_t)done * 16;
    return done;
}

uint64_t kvstate_gc_pending(kvstate *s)
{
    return db_entries(s, s->dbi[s->live][KV_SLOT_GC]);
}

int kvstate_used_pct(kvstate *s)
{
    /* Only a commit changes it: computed once per commit. */
    if (s->used_pct < 0) s->used_pct = kv_env_used_pct(s->env);
    return s->used_pct;
}

const char *kvstate_last_error(const kvstate *s)
{
    return s->errmsg;
}
