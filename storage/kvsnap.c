/* kvsnap.c -- snapshots of the state environment (kvsnap.h). */
#include <stdlib.h>
#include <string.h>

#include "storage/kverr.h"
#include "storage/kvint.h"
#include "storage/kvsnap.h"

#define META_STAGE_INDEX "stage_index"
#define META_STAGE_TERM "stage_term"
#define META_STAGE_BYTES "stage_bytes"
#define META_STAGE_DONE "stage_done"

/* ------------------------------------------------------------ sending */

struct kvsnap_reader {
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_dbi dbi[2]; /* the live kv, then the live exp */
    int phase;      /* 0: key space, 1: expiry index, 2: done */
    int started;    /* cur positioned on a record not yet emitted */
    int last_sent;
    uint64_t index, keys;
    int64_t tau;
    uint8_t *buf;
    size_t cap;
};

int kvsnap_reader_open(kvstate *s, kvsnap_reader **out)
{
    uint64_t live = 0, applied = 0, tau = 0;
    MDB_stat st;
    int rc;

    *out = NULL;
    kvsnap_reader *r = kv_calloc(1, sizeof(*r));
    if (!r) return KV_ENOMEM;
    if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &r->txn)) != 0) {
        free(r);
        return kv_map_err(rc);
    }
    /* Everything from this one transaction: data, index and tau agree. */
    if ((rc = kvstate_meta_get(s, r->txn, META_LIVE, &live)) != 0 ||
        (rc = kvstate_meta_get(s, r->txn, META_APPLIED, &applied)) != 0 ||
        (rc = kvstate_meta_get(s, r->txn, META_TAU, &tau)) != 0)
        goto err;
    if (live > 1) {
        rc = KV_ECORRUPT;
        goto err;
    }
    r->dbi[0] = s->kv[live];
    r->dbi[1] = s->exp[live];
    r->index = applied;
    r->tau = (int64_t)tau;
    if ((rc = kv_map_err(mdb_stat(r->txn, r->dbi[0], &st))) != 0) goto err;
    r->keys = st.ms_entries;
    if ((rc = kv_map_err(mdb_cursor_open(r->txn, r->dbi[0], &r->cur))) != 0) goto err;
    *out = r;
    return 0;
err:
    mdb_txn_abort(r->txn);
    free(r);
    return rc;
}

void kvsnap_reader_close(kvsnap_reader *r)
{
    if (!r) return;
    if (r->cur) mdb_cursor_close(r->cur);
    mdb_txn_abort(r->txn);
    free(r->buf);
    free(r);
}

uint64_t kvsnap_reader_index(const kvsnap_reader *r)
{
    return r->index;
}

int64_t kvsnap_reader_tau(const kvsnap_reader *r)
{
    return r->tau;
}

uint64_t kvsnap_reader_keys(const kvsnap_reader *r)
{
    return r->keys;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int reserve(kvsnap_reader *r, size_t need)
{
    if (need <= r->cap) return 0;
    size_t cap = r->cap ? r->cap : 64 * 1024;
    while (cap < need)
        cap *= 2;
    uint8_t *b = realloc(r->buf, cap);
    if (!b) return KV_ENOMEM;
    r->buf = b;
    r->cap = cap;
    return 0;
}

int kvsnap_reader_next(kvsnap_reader *r, size_t max_bytes, const uint8_t **data, size_t *len,
                       int *last)
{
    size_t used = 0;
    MDB_val k, d;
    int rc = 0;

    *data = r->buf;
    *len = 0;
    *last = 0;
    while (r->phase < 2) {
        rc = mdb_cursor_get(r->cur, &k, &d, r->started ? MDB_GET_CURRENT : MDB_FIRST);
        if (!r->started && rc == 0) r->started = 1;
        if (rc == MDB_NOTFOUND) {
            /* This database is done: on to the next one. */
            mdb_cursor_close(r->cur);
            r->cur = NULL;
            r->started = 0;
            if (++r->phase == 2) break;
            rc = mdb_cursor_open(r->txn, r->dbi[r->phase], &r->cur);
            if (rc != 0) return kv_map_err(rc);
            continue;
        }
        if (rc != 0) return kv_map_err(rc);
        size_t rec = KVSNAP_REC_HDR + k.mv_size + d.mv_size;
        if (used && used + rec > max_bytes) break; /* the chunk is full */
        if (k.mv_size > UINT32_MAX || d.mv_size > UINT32_MAX) return KV_ECORRUPT;
        if ((rc = reserve(r, used + rec)) != 0) return rc;
        uint8_t *p = r->buf + used;
        p[0] = r->phase == 0 ? KVSNAP_TAG_KV : KVSNAP_TAG_EXP;
        put_le32(p + 1, (uint32_t)k.mv_size);
        put_le32(p + 5, (uint32_t)d.mv_size);
        memcpy(p + KVSNAP_REC_HDR, k.mv_data, k.mv_size);
        if (d.mv_size) memcpy(p + KVSNAP_REC_HDR + k.mv_size, d.mv_data, d.mv_size);
        used += rec;
        rc = mdb_cursor_get(r->cur, &k, &d, MDB_NEXT);
        if (rc == MDB_NOTFOUND) {
            r->started = 0; /* MDB_GET_CURRENT would repeat the last record */
            mdb_cursor_close(r->cur);
            r->cur = NULL;
            if (++r->phase == 2) break;
            rc = mdb_cursor_open(r->txn, r->dbi[r->phase], &r->cur);
            if (rc != 0) return kv_map_err(rc);
        } else if (rc != 0) {
            return kv_map_err(rc);
        }
    }
    *data = r->buf;
    *len = used;
    *last = r->phase == 2;
    return 0;
}

uint64_t kvsnap_checksum(const void *data, size_t len)
{
    /* Eight bytes at a time, multiply and fold: fast enough not to show
     * next to LMDB, and any changed byte changes the sum. */
    const uint8_t *p = data;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (uint64_t)len;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    for (; i < len; i++) {
        h = (h ^ p[i]) * 0xc4ceb9fe1a85ec53ull;
        h ^= h >> 29;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

/* ------------------------------------------------------------ receiving */

static int read_stage(kvstate *s, MDB_txn *txn, uint64_t *index, uint64_t *term, uint64_t *bytes,
                      uint64_t *done)
{
    int rc;
    if ((rc = kvstate_meta_get(s, txn, META_STAGE_INDEX, index)) != 0 ||
        (rc = kvstate_meta_get(s, txn, META_STAGE_TERM, term)) != 0 ||
        (rc = kvstate_meta_get(s, txn, META_STAGE_BYTES, bytes)) != 0 ||
        (rc = kvstate_meta_get(s, txn, META_STAGE_DONE, done)) != 0)
        return rc;
    return 0;
}

static int write_stage(kvstate *s, uint64_t index, uint64_t term, uint64_t bytes, uint64_t done)
{
    int rc;
    if ((rc = kvstate_meta_put(s, META_STAGE_INDEX, index)) != 0 ||
        (rc = kvstate_meta_put(s, META_STAGE_TERM, term)) != 0 ||
        (rc = kvstate_meta_put(s, META_STAGE_BYTES, bytes)) != 0 ||
        (rc = kvstate_meta_put(s, META_STAGE_DONE, done)) != 0)
        return rc;
    return 0;
}

/* LMDB errors that leave the transaction usable are the caller's problem
 * (bad data); the rest (map full, I/O) end the node. */
static int stage_err(int mdb_rc)
{
    switch (mdb_rc) {
    case MDB_KEYEXIST:
    case MDB_BAD_VALSIZE:
        return KV_ECORRUPT;
    default:
        return kv_map_err(mdb_rc);
    }
}

int kvsnap_stage(kvstate *s, uint64_t index, uint64_t term, uint64_t offset, const void *data,
                 size_t len, int last, uint64_t *staged)
{
    uint64_t si = 0, st = 0, sb = 0, sd = 0;
    int rc;

    *staged = 0;
    if (index == 0) return KV_EINVAL;
    if ((rc = kvstate_begin_write(s)) != 0) return rc;
    if ((rc = read_stage(s, s->wtxn, &si, &st, &sb, &sd)) != 0) return rc;
    int idle = !s->live;
    if (offset == 0) {
        /* A new staging: whatever the idle pair held goes. */
        if ((rc = mdb_drop(s->wtxn, s->kv[idle], 0)) != 0 ||
            (rc = mdb_drop(s->wtxn, s->exp[idle], 0)) != 0)
            return kv_map_err(rc);
        si = index, st = term, sb = 0, sd = 0;
        if ((rc = write_stage(s, si, st, sb, sd)) != 0) return rc;
    } else if (si != index || st != term || sb != offset || sd) {
        *staged = si == index && st == term ? sb : 0;
        return KV_EINVAL;
    }
    const uint8_t *p = data, *end = len ? p + len : p;
    while (p < end) {
        if ((size_t)(end - p) < KVSNAP_REC_HDR) goto corrupt;
        uint8_t tag = p[0];
        size_t kl = get_le32(p + 1), dl = get_le32(p + 5);
        p += KVSNAP_REC_HDR;
        if (kl == 0 || kl > (size_t)(end - p) || dl > (size_t)(end - p) - kl) goto corrupt;
        if (tag != KVSNAP_TAG_KV && tag != KVSNAP_TAG_EXP) goto corrupt;
        MDB_val k = {kl, (void *)p}, d = {dl, (void *)(p + kl)};
        MDB_dbi dbi = tag == KVSNAP_TAG_KV ? s->kv[idle] : s->exp[idle];
        rc = mdb_put(s->wtxn, dbi, &k, &d, MDB_APPEND);
        if (rc != 0) {
            rc = stage_err(rc);
            if (rc == KV_ECORRUPT) goto corrupt;
            return rc;
        }
        p += kl + dl;
    }
    sb += len;
    if ((rc = write_stage(s, si, st, sb, last ? 1 : 0)) != 0) return rc;
    *staged = sb;
    return 0;
corrupt:
    /* Records already written stay in the idle pair; forgetting the
     * staging makes the next one start from offset 0 and empty it. */
    if ((rc = write_stage(s, 0, 0, 0, 0)) != 0) return rc;
    return KV_ECORRUPT;
}

void kvsnap_staged(kvstate *s, uint64_t *index, uint64_t *term, uint64_t *bytes, int *complete)
{
    uint64_t si = 0, st = 0, sb = 0, sd = 0;
    MDB_txn *txn = s->wtxn;
    int owned = 0;
    *index = *term = *bytes = 0;
    *complete = 0;
    if (!txn) {
        if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0) return;
        owned = 1;
    }
    if (read_stage(s, txn, &si, &st, &sb, &sd) == 0) {
        *index = si;
        *term = st;
        *bytes = sb;
        *complete = sd != 0;
    }
    if (owned) mdb_txn_abort(txn);
}

int kvsnap_install(kvstate *s, uint64_t index, uint64_t term, int64_t tau)
{
    uint64_t si = 0, st = 0, sb = 0, sd = 0;
    int rc;

    if ((rc = kvstate_begin_write(s)) != 0) return rc;
    if ((rc = read_stage(s, s->wtxn, &si, &st, &sb, &sd)) != 0) return rc;
    if (!sd || si != index || st != term) return KV_EINVAL;
    int old = s->live, now = !old;
    /* One transaction: the new pair goes live with its index and time, the
     * staging is forgotten, the old pair is emptied for the next one. */
    if ((rc = kv_map_err(mdb_drop(s->wtxn, s->kv[old], 0))) != 0 ||
        (rc = kv_map_err(mdb_drop(s->wtxn, s->exp[old], 0))) != 0 ||
        (rc = kvstate_meta_put(s, META_LIVE, (uint64_t)now)) != 0 ||
        (rc = kvstate_meta_put(s, META_APPLIED, index)) != 0 ||
        (rc = kvstate_meta_put(s, META_TAU, (uint64_t)tau)) != 0 ||
        (rc = kvstate_meta_put(s, META_SNAP_INDEX, index)) != 0 ||
        (rc = kvstate_meta_put(s, META_SNAP_TERM, term)) != 0 ||
        (rc = write_stage(s, 0, 0, 0, 0)) != 0)
        return rc;
    s->applied = index;
    s->tau = tau;
    if ((rc = kvstate_commit(s)) != 0) {
        s->live = old;
        return rc;
    }
    s->live = now;
    s->pages_at_commit = UINT64_MAX;
    s->snap_index = index;
    s->snap_term = term;
    /* The state env skips the meta page's fsync (MDB_NOMETASYNC); the flip
     * lives in it, and the log is reset only after this returns. */
    return kv_map_err(mdb_env_sync(s->env, 1));
}

void kvsnap_state_snapshot(kvstate *s, uint64_t *index, uint64_t *term)
{
    *index = s->snap_index;
    *term = s->snap_term;
}
