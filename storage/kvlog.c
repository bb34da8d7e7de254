/* kvlog.c -- the Raft log and hard state in an LMDB environment
 * (kvlog.h). Durability: the environment is opened without MDB_NOSYNC, so
 * kvlog_sync()'s commit fsyncs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "storage/kverr.h"
#include "storage/kvint.h"
#include "storage/kvlog.h"

struct kvlog {
    MDB_env *env;
    MDB_dbi entries, meta;
    MDB_txn *wtxn; /* pending writes, committed by kvlog_sync() */
    uint64_t first, last;
    uint64_t snap_index, snap_term;
    int used_pct; /* cached; -1 after a commit */
};

/* Meta keys. User metadata goes under "u:" so it cannot collide. */
#define META_HS "hardstate"
#define META_FIRST "first"
#define META_SNAP "snapshot"
#define ENTRY_HDR 9 /* u64 term (big-endian), u8 type */

int kv_map_err(int rc)
{
    switch (rc) {
    case 0:
        return 0;
    case MDB_NOTFOUND:
        return KV_ENOTFOUND;
    case MDB_MAP_FULL:
    case MDB_TXN_FULL:
    case MDB_DBS_FULL:
        return KV_EFULL;
    case ENOMEM:
        return KV_ENOMEM;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
        return KV_ECORRUPT;
    case EINVAL:
        return KV_EINVAL;
    default:
        return KV_EIO;
    }
}

static int wtxn(kvlog *l, MDB_txn **txn)
{
    if (!l->wtxn) {
        int rc = mdb_txn_begin(l->env, NULL, 0, &l->wtxn);
        if (rc != 0) {
            l->wtxn = NULL;
            return kv_map_err(rc);
        }
    }
    *txn = l->wtxn;
    return 0;
}

/* Reads go through the pending write transaction when there is one
 * (single-threaded, MDB_NOTLS), else through a short read transaction. */
static int rtxn(kvlog *l, MDB_txn **txn, int *owned)
{
    if (l->wtxn) {
        *txn = l->wtxn;
        *owned = 0;
        return 0;
    }
    int rc = mdb_txn_begin(l->env, NULL, MDB_RDONLY, txn);
    *owned = 1;
    return kv_map_err(rc);
}

static int get_meta_raw(kvlog *l, MDB_txn *txn, const char *name, MDB_val *v)
{
    MDB_val k = {strlen(name), (void *)name};
    (void)l;
    return mdb_get(txn, l->meta, &k, v);
}

static int put_meta_raw(kvlog *l, const char *name, const void *p, size_t n)
{
    MDB_txn *txn = NULL;
    int rc = wtxn(l, &txn);
    if (rc != 0) return rc;
    MDB_val k = {strlen(name), (void *)name}, v = {n, (void *)p};
    return kv_map_err(mdb_put(txn, l->meta, &k, &v, 0));
}

static int load(kvlog *l, MDB_txn *txn)
{
    MDB_val v, k;
    MDB_cursor *cur;
    int rc;

    l->first = 1;
    l->snap_index = l->snap_term = 0;
    rc = get_meta_raw(l, txn, META_FIRST, &v);
    if (rc == 0 && v.mv_size == 8)
        l->first = kv_get_be64(v.mv_data);
    else if (rc != MDB_NOTFOUND && rc != 0)
        return kv_map_err(rc);
    rc = get_meta_raw(l, txn, META_SNAP, &v);
    if (rc == 0 && v.mv_size == 16) {
        l->snap_index = kv_get_be64(v.mv_data);
        l->snap_term = kv_get_be64((unsigned char *)v.mv_data + 8);
    } else if (rc != MDB_NOTFOUND && rc != 0)
        return kv_map_err(rc);

    l->last = l->first - 1;
    rc = mdb_cursor_open(txn, l->entries, &cur);
    if (rc != 0) return kv_map_err(rc);
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    if (rc == 0 && k.mv_size == 8) l->last = kv_get_be64(k.mv_data);
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND) return kv_map_err(rc);
    if (l->last < l->first - 1) return KV_ECORRUPT;
    return 0;
}

int kvlog_open(kvlog **out, const char *dir, uint64_t mapsize, char *err, size_t errlen)
{
    char path[4096];
    kvlog *l;
    MDB_txn *txn = NULL;
    int rc;

    *out = NULL;
    if (snprintf(path, sizeof(path), "%s/log", dir) >= (int)sizeof(path)) {
        snprintf(err, errlen, "log path too long");
        return KV_EINVAL;
    }
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "mkdir %s: %s", path, strerror(errno));
        return KV_EIO;
    }
    l = kv_calloc(1, sizeof(*l));
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return KV_ENOMEM;
    }
    if ((rc = mdb_env_create(&l->env)) != 0) goto err_mdb;
    if ((rc = mdb_env_set_mapsize(l->env, mapsize)) != 0 ||
        (rc = mdb_env_set_maxdbs(l->env, 4)) != 0 ||
        (rc = mdb_env_open(l->env, path, MDB_NOTLS, 0644)) != 0)
        goto err_after_env;
    if ((rc = mdb_txn_begin(l->env, NULL, 0, &txn)) != 0) goto err_after_env;
    if ((rc = mdb_dbi_open(txn, "entries", MDB_CREATE, &l->entries)) != 0 ||
        (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &l->meta)) != 0)
        goto err_after_txn;
    if ((rc = load(l, txn)) != 0) {
        mdb_txn_abort(txn);
        snprintf(err, errlen, "%s: %s", path, kv_strerror(rc));
        goto err_after_env_code;
    }
    if ((rc = mdb_txn_commit(txn)) != 0) goto err_after_env;
    l->used_pct = -1;
    *out = l;
    return 0;

err_after_txn:
    mdb_txn_abort(txn);
err_after_env:
    snprintf(err, errlen, "%s: %s", path, mdb_strerror(rc));
    rc = kv_map_err(rc);
err_after_env_code:
    mdb_env_close(l->env);
    free(l);
    return rc;
err_mdb:
    snprintf(err, errlen, "%s: %s", path, mdb_strerror(rc));
    free(l);
    return kv_map_err(rc);
}

void kvlog_close(kvlog *l)
{
    if (!l) return;
    kvlog_sync(l);
    mdb_env_close(l->env);
    free(l);
}

uint64_t kvlog_first_index(kvlog *l)
{
    return l->first;
}

uint64_t kvlog_last_index(kvlog *l)
{
    return l->last;
}

int kvlog_append(kvlog *l, uint64_t index, uint64_t term, uint8_t type, const void *data,
                 size_t len)
{
    MDB_txn *txn = NULL;
    unsigned char kb[8];
    int rc;

    if (index != l->last + 1 || index == 0 || (len && !data)) return KV_EINVAL;
    if ((rc = wtxn(l, &txn)) != 0) return rc;
    kv_put_be64(kb, index);
    MDB_val k = {8, kb}, v = {ENTRY_HDR + len, NULL};
    rc = mdb_put(txn, l->entries, &k, &v, MDB_APPEND | MDB_RESERVE);
    if (rc != 0) return kv_map_err(rc);
    kv_put_be64(v.mv_data, term);
    ((unsigned char *)v.mv_data)[8] = type;
    if (len) memcpy((unsigned char *)v.mv_data + ENTRY_HDR, data, len);
    l->last = index;
    return 0;
}

int kvlog_truncate_suffix(kvlog *l, uint64_t index)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur;
    unsigned char kb[8];
    int rc;

    if (index > l->last) return 0;
    if (index < l->first) return KV_EINVAL; /* below the first entry: use kvlog_reset() */
    if ((rc = wtxn(l, &txn)) != 0) return rc;
    if ((rc = mdb_cursor_open(txn, l->entries, &cur)) != 0) return kv_map_err(rc);
    kv_put_be64(kb, index);
    for (;;) {
        MDB_val k = {8, kb}, v;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (rc != 0) break;
        if ((rc = mdb_cursor_del(cur, 0)) != 0) break;
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND) return kv_map_err(rc);
    l->last = index - 1;
    return 0;
}

int kvlog_truncate_prefix(kvlog *l, uint64_t index)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur;
    unsigned char buf[16];
    uint64_t term = 0;
    int rc;

    if (index <= l->first) return 0;
    if (index > l->last + 1) return KV_EINVAL;
    if ((rc = kvlog_term(l, index - 1, &term)) != 0) return rc;
    if ((rc = wtxn(l, &txn)) != 0) return rc;
    if ((rc = mdb_cursor_open(txn, l->entries, &cur)) != 0) return kv_map_err(rc);
    MDB_val k, v;
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0) {
        if (k.mv_size != 8 || kv_get_be64(k.mv_data) >= index) break;
        if ((rc = mdb_cursor_del(cur, 0)) != 0) break;
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND) return kv_map_err(rc);
    kv_put_be64(buf, index);
    if ((rc = put_meta_raw(l, META_FIRST, buf, 8)) != 0) return rc;
    kv_put_be64(buf, index - 1);
    kv_put_be64(buf + 8, term);
    if ((rc = put_meta_raw(l, META_SNAP, buf, 16)) != 0) return rc;
    l->first = index;
    l->snap_index = index - 1;
    l->snap_term = term;
    return 0;
}

int kvlog_reset(kvlog *l, uint64_t snap_index, uint64_t snap_term)
{
    MDB_txn *txn = NULL;
    unsigned char buf[16];
    int rc;

    if ((rc = wtxn(l, &txn)) != 0) return rc;
    if ((rc = mdb_drop(txn, l->entries, 0)) != 0) return kv_map_err(rc);
    kv_put_be64(buf, snap_index + 1);
    if ((rc = put_meta_raw(l, META_FIRST, buf, 8)) != 0) return rc;
    kv_put_be64(buf, snap_index);
    kv_put_be64(buf + 8, snap_term);
    if ((rc = put_meta_raw(l, META_SNAP, buf, 16)) != 0) return rc;
    l->first = snap_index + 1;
    l->last = snap_index;
    l->snap_index = snap_index;
    l->snap_term = snap_term;
    return 0;
}

int kvlog_set_hardstate(kvlog *l, const kvlog_hardstate *hs)
{
    unsigned char b[24];
    kv_put_be64(b, hs->term);
    kv_put_be64(b + 8, hs->vote);
    kv_put_be64(b + 16, hs->commit);
    return put_meta_raw(l, META_HS, b, 24);
}

int kvlog_get_hardstate(kvlog *l, kvlog_hardstate *hs)
{
    MDB_txn *txn = NULL;
    MDB_val v;
    int owned, rc;

    memset(hs, 0, sizeof(*hs));
    if ((rc = rtxn(l, &txn, &owned)) != 0) return rc;
    rc = get_meta_raw(l, txn, META_HS, &v);
    if (rc == 0) {
        if (v.mv_size == 24) {
            hs->term = kv_get_be64(v.mv_data);
            hs->vote = kv_get_be64((unsigned char *)v.mv_data + 8);
            hs->commit = kv_get_be64((unsigned char *)v.mv_data + 16);
        } else {
            rc = KV_ECORRUPT;
        }
    } else if (rc == MDB_NOTFOUND) {
        rc = 0;
    } else {
        rc = kv_map_err(rc);
    }
    if (owned) mdb_txn_abort(txn);
    return rc;
}

int kvlog_sync(kvlog *l)
{
    if (!l->wtxn) return 0;
    int rc = mdb_txn_commit(l->wtxn);
    l->wtxn = NULL;
    l->used_pct = -1;
    if (rc != 0) {
        /* The pending writes are gone: reload what is on disk so the cached
         * indexes do not lie (the caller stops the node anyway). */
        MDB_txn *txn;
        if (mdb_txn_begin(l->env, NULL, MDB_RDONLY, &txn) == 0) {
            load(l, txn);
            mdb_txn_abort(txn);
        }
        return kv_map_err(rc);
    }
    return 0;
}

int kvlog_get(kvlog *l, uint64_t index, uint64_t *term, uint8_t *type, void **data, size_t *len)
{
    MDB_txn *txn = NULL;
    unsigned char kb[8];
    int owned, rc;

    *data = NULL;
    *len = 0;
    if (index < l->first || index > l->last) return KV_ENOTFOUND;
    if ((rc = rtxn(l, &txn, &owned)) != 0) return rc;
    kv_put_be64(kb, index);
    MDB_val k = {8, kb}, v;
    rc = mdb_get(txn, l->entries, &k, &v);
    if (rc == 0) {
        if (v.mv_size < ENTRY_HDR) {
            rc = KV_ECORRUPT;
        } else {
            size_t n = v.mv_size - ENTRY_HDR;
            void *d = kv_malloc(n ? n : 1);
            if (!d) {
                rc = KV_ENOMEM;
            } else {
                memcpy(d, (unsigned char *)v.mv_data + ENTRY_HDR, n);
                if (term) *term = kv_get_be64(v.mv_data);
                if (type) *type = ((unsigned char *)v.mv_data)[8];
                *data = d;
                *len = n;
            }
        }
    } else {
        rc = kv_map_err(rc);
    }
    if (owned) mdb_txn_abort(txn);
    return rc;
}

int kvlog_range(kvlog *l, uint64_t lo, uint64_t hi, kvlog_entry_fn fn, void *ctx)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur;
    unsigned char kb[8];
    int owned, rc;

    if (lo >= hi) return 0;
    if (lo < l->first || hi > l->last + 1) return KV_ENOTFOUND;
    if ((rc = rtxn(l, &txn, &owned)) != 0) return rc;
    if ((rc = mdb_cursor_open(txn, l->entries, &cur)) != 0) {
        if (owned) mdb_txn_abort(txn);
        return kv_map_err(rc);
    }
    kv_put_be64(kb, lo);
    MDB_val k = {8, kb}, v;
    MDB_cursor_op op = MDB_SET_KEY;
    for (uint64_t i = lo; i < hi; i++, op = MDB_NEXT) {
        rc = mdb_cursor_get(cur, &k, &v, op);
        if (rc != 0) {
            /* [lo, hi) is inside [first, last]: a hole is corruption */
            rc = rc == MDB_NOTFOUND ? KV_ECORRUPT : kv_map_err(rc);
            break;
        }
        if (k.mv_size != 8 || kv_get_be64(k.mv_data) != i || v.mv_size < ENTRY_HDR) {
            rc = KV_ECORRUPT;
            break;
        }
        const unsigned char *p = v.mv_data;
        rc = fn(ctx, i, kv_get_be64(p), p[8], p + ENTRY_HDR, v.mv_size - ENTRY_HDR);
        if (rc != 0) break;
    }
    mdb_cursor_close(cur);
    if (owned) mdb_txn_abort(txn);
    return rc > 0 ? 0 : rc;
}

int kvlog_term(kvlog *l, uint64_t index, uint64_t *term)
{
    MDB_txn *txn = NULL;
    unsigned char kb[8];
    int owned, rc;

    if (index == l->first - 1) {
        *term = l->snap_term;
        return 0;
    }
    if (index < l->first || index > l->last) return KV_ENOTFOUND;
    if ((rc = rtxn(l, &txn, &owned)) != 0) return rc;
    kv_put_be64(kb, index);
    MDB_val k = {8, kb}, v;
    rc = mdb_get(txn, l->entries, &k, &v);
    if (rc == 0) {
        if (v.mv_size < ENTRY_HDR)
            rc = KV_ECORRUPT;
        else
            *term = kv_get_be64(v.mv_data);
    } else {
        rc = kv_map_err(rc);
    }
    if (owned) mdb_txn_abort(txn);
    return rc;
}

int kvlog_set_meta(kvlog *l, const char *name, const void *v, size_t n)
{
    char key[256];
    if (snprintf(key, sizeof(key), "u:%s", name) >= (int)sizeof(key)) return KV_EINVAL;
    return put_meta_raw(l, key, v, n);
}

int kvlog_get_meta(kvlog *l, const char *name, void **out, size_t *n)
{
    char key[256];
    MDB_txn *txn = NULL;
    MDB_val v;
    int owned, rc;

    *out = NULL;
    *n = 0;
    if (snprintf(key, sizeof(key), "u:%s", name) >= (int)sizeof(key)) return KV_EINVAL;
    if ((rc = rtxn(l, &txn, &owned)) != 0) return rc;
    rc = get_meta_raw(l, txn, key, &v);
    if (rc == 0) {
        void *d = kv_malloc(v.mv_size ? v.mv_size : 1);
        if (!d) {
            rc = KV_ENOMEM;
        } else {
            memcpy(d, v.mv_data, v.mv_size);
            *out = d;
            *n = v.mv_size;
        }
    } else {
        rc = kv_map_err(rc);
    }
    if (owned) mdb_txn_abort(txn);
    return rc;
}

uint64_t kvlog_snapshot_index(kvlog *l)
{
    return l->snap_index;
}

uint64_t kvlog_snapshot_term(kvlog *l)
{
    return l->snap_term;
}

/* Pages in use: the last page number, less the pages on LMDB's freelist
 * (freed pages are reused, so after a FLUSHALL or a compaction the map is
 * not "full" any more even though the last page number never shrinks).
 * The freelist is LMDB's database 0; each record is a page list whose
 * first word is its length, as mdb_stat -f counts it. */
int kv_env_used_pct(MDB_env *env)
{
    MDB_envinfo info;
    MDB_stat st;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    uint64_t freepages = 0;

    if (mdb_env_info(env, &info) != 0 || mdb_env_stat(env, &st) != 0 || info.me_mapsize == 0)
        return 0;
    if (mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0) {
        if (mdb_cursor_open(txn, 0, &cur) == 0) {
            while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0) {
                size_t n;
                if (v.mv_size < sizeof(n)) continue;
                memcpy(&n, v.mv_data, sizeof(n));
                freepages += n;
            }
            mdb_cursor_close(cur);
        }
        mdb_txn_abort(txn);
    }
    uint64_t pages = (uint64_t)info.me_last_pgno + 1;
    pages = freepages < pages ? pages - freepages : 0;
    uint64_t pct = pages * st.ms_psize * 100 / info.me_mapsize;
    return pct > 100 ? 100 : (int)pct;
}

uint64_t kvlog_bytes(kvlog *l)
{
    MDB_txn *txn = NULL;
    MDB_stat st;
    int owned;
    uint64_t n = 0;
    if (rtxn(l, &txn, &owned) != 0) return 0;
    if (mdb_stat(txn, l->entries, &st) == 0)
        n = (uint64_t)(st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages) * st.ms_psize;
    if (owned) mdb_txn_abort(txn);
    return n;
}

int kvlog_used_pct(kvlog *l)
{
    /* Only a commit changes it: computed once per sync. */
    if (l->used_pct < 0) l->used_pct = kv_env_used_pct(l->env);
    return l->used_pct;
}
