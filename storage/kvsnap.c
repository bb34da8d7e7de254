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
#define META_STAGE_DB "stage_db"         /* database of the last record staged */
#define META_STAGE_PART_LEN "stage_plen" /* value length of the record in progress */
#define META_STAGE_PART_OFF "stage_poff" /* bytes of it staged (== len: none in progress) */
#define META_STAGE_PART_TXN "stage_ptxn" /* the write transaction that last wrote it */
/* Bytes reserved for split values in one write transaction, which the
 * map's room as of the last commit bounds; kept when a staging is
 * forgotten, since its pages stay allocated until the commit. */
#define META_RESERVED "stage_resv"
#define META_RESERVED_TXN "stage_resv_txn"

/* The databases a snapshot carries, in stream order: every slot of a pair
 * (kvint.h), the live pair when sending, the idle pair when staging. A
 * slot's id in the stream is its number + 1. */
#define NDBS KV_NSLOTS

static MDB_dbi db_dbi(const kvstate *s, int pair, int i)
{
    return s->dbi[pair][i];
}

_Static_assert(KVSNAP_DB_KV == 1 + KV_SLOT_KV(0) && KVSNAP_DB_EXP == 1 + KV_SLOT_EXP(0),
               "kvsnap.h's ids follow the slots");
_Static_assert(KV_NSLOTS < 255, "a slot's id is a byte");

static uint8_t db_id(int slot)
{
    return (uint8_t)(slot + 1);
}

/* The slot of a database id, or -1. */
static int db_slot(uint8_t id)
{
    return id >= 1 && id <= NDBS ? id - 1 : -1;
}

/* ------------------------------------------------------------ sending */

struct kvsnap_reader {
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_dbi dbi[NDBS];
    int phase;     /* the database being read; NDBS: done */
    int started;   /* cur positioned on a record not yet wholly emitted */
    uint64_t voff; /* bytes of that record's value already emitted */
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
    for (int i = 0; i < NDBS; i++)
        r->dbi[i] = db_dbi(s, (int)live, i);
    r->index = applied;
    r->tau = (int64_t)tau;
    for (int p = 0; p < KV_MAX_DBS; p++) {
        if ((rc = kv_map_err(mdb_stat(r->txn, r->dbi[KV_SLOT_KV(p)], &st))) != 0) goto err;
        r->keys += st.ms_entries;
    }
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
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* The database being read is done: on to the next one. */
static int next_db(kvsnap_reader *r)
{
    mdb_cursor_close(r->cur);
    r->cur = NULL;
    r->started = 0; /* MDB_GET_CURRENT would repeat the last record */
    r->voff = 0;
    if (++r->phase == NDBS) return 0;
    return kv_map_err(mdb_cursor_open(r->txn, r->dbi[r->phase], &r->cur));
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
    if (max_bytes < KVSNAP_MIN_CHUNK) return KV_EINVAL;
    if (max_bytes > UINT32_MAX) max_bytes = UINT32_MAX; /* a piece's length is a u32 */
    if (r->cap < max_bytes) {
        uint8_t *b = realloc(r->buf, max_bytes);
        if (!b) return KV_ENOMEM;
        r->buf = b;
        r->cap = max_bytes;
        *data = r->buf;
    }
    while (r->phase < NDBS) {
        rc = mdb_cursor_get(r->cur, &k, &d, r->started ? MDB_GET_CURRENT : MDB_FIRST);
        if (rc == MDB_NOTFOUND) {
            if ((rc = next_db(r)) != 0) return rc;
            continue;
        }
        if (rc != 0) return kv_map_err(rc);
        r->started = 1;
        if (k.mv_size == 0 || k.mv_size > KVSNAP_MAX_KEY || r->voff > d.mv_size) return KV_ECORRUPT;
        size_t room = max_bytes - used, head = KVSNAP_PIECE_HDR + k.mv_size;
        size_t rest = d.mv_size - (size_t)r->voff, piece = rest;
        if (rest > room || head > room - rest) {
            /* It does not fit what is left: a record that fits a chunk of
             * its own starts the next one; a larger one fills this one. */
            if (used && r->voff == 0 && d.mv_size <= max_bytes - head) break;
            if (room <= head) break; /* not one byte of it: used > 0 here */
            piece = room - head;
        }
        uint8_t *p = r->buf + used;
        p[0] = db_id(r->phase);
        put_le32(p + 1, (uint32_t)k.mv_size);
        put_le32(p + 5, (uint32_t)piece);
        put_le64(p + 9, (uint64_t)d.mv_size);
        put_le64(p + 17, r->voff);
        memcpy(p + KVSNAP_PIECE_HDR, k.mv_data, k.mv_size);
        if (piece) memcpy(p + head, (const uint8_t *)d.mv_data + r->voff, piece);
        used += head + piece;
        r->voff += piece;
        if (r->voff < d.mv_size) break; /* the chunk is full */
        r->voff = 0;
        rc = mdb_cursor_get(r->cur, &k, &d, MDB_NEXT);
        if (rc == MDB_NOTFOUND) {
            if ((rc = next_db(r)) != 0) return rc;
        } else if (rc != 0) {
            return kv_map_err(rc);
        }
    }
    *len = used;
    *last = r->phase == NDBS;
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

/* What the state's metadata says about the staging. A record is in
 * progress while part_off < part_len. */
typedef struct stage {
    uint64_t index, term, bytes, done, db, part_len, part_off, part_txn;
} stage;

static int read_stage(kvstate *s, MDB_txn *txn, stage *g)
{
    int rc;
    memset(g, 0, sizeof(*g));
    if ((rc = kvstate_meta_get(s, txn, META_STAGE_INDEX, &g->index)) != 0 ||
        (rc = kvstate_meta_get(s, txn, META_STAGE_TERM, &g->term)) != 0 ||
        (rc = kvstate_meta_get(s, txn, META_STAGE_BYTES, &g->bytes)) != 0 ||
        (rc = kvstate_meta_get(s, txn, META_STAGE_DONE, &g->done)) != 0 ||
        (rc = kvstate_meta_get(s, txn, META_STAGE_DB, &g->db)) != 0 ||
        (rc = kvstate_meta_get(s, txn, META_STAGE_PART_LEN, &g->part_len)) != 0 ||
        (rc = kvstate_meta_get(s, txn, META_STAGE_PART_OFF, &g->part_off)) != 0 ||
        (rc = kvstate_meta_get(s, txn, META_STAGE_PART_TXN, &g->part_txn)) != 0)
        return rc;
    return 0;
}

static int write_stage(kvstate *s, const stage *g)
{
    int rc;
    if ((rc = kvstate_meta_put(s, META_STAGE_INDEX, g->index)) != 0 ||
        (rc = kvstate_meta_put(s, META_STAGE_TERM, g->term)) != 0 ||
        (rc = kvstate_meta_put(s, META_STAGE_BYTES, g->bytes)) != 0 ||
        (rc = kvstate_meta_put(s, META_STAGE_DONE, g->done)) != 0 ||
        (rc = kvstate_meta_put(s, META_STAGE_DB, g->db)) != 0 ||
        (rc = kvstate_meta_put(s, META_STAGE_PART_LEN, g->part_len)) != 0 ||
        (rc = kvstate_meta_put(s, META_STAGE_PART_OFF, g->part_off)) != 0 ||
        (rc = kvstate_meta_put(s, META_STAGE_PART_TXN, g->part_txn)) != 0)
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

/* Bytes the map can still grow by. A large value takes one run of
 * contiguous pages, which LMDB finds at the end of the map in practice. */
static uint64_t map_room(kvstate *s)
{
    MDB_envinfo ei;
    MDB_stat st;
    if (mdb_env_info(s->env, &ei) != 0 || mdb_env_stat(s->env, &st) != 0) return 0;
    uint64_t used = ((uint64_t)ei.me_last_pgno + 1) * st.ms_psize;
    return ei.me_mapsize > used ? ei.me_mapsize - used : 0;
}

/* Counts vlen bytes against the map's room; KV_EFULL when this write
 * transaction's reservations would not fit. */
static int reserve_room(kvstate *s, uint64_t vlen)
{
    uint64_t txn = mdb_txn_id(s->wtxn), rtxn = 0, sum = 0;
    int rc;
    if ((rc = kvstate_meta_get(s, s->wtxn, META_RESERVED_TXN, &rtxn)) != 0 ||
        (rc = kvstate_meta_get(s, s->wtxn, META_RESERVED, &sum)) != 0)
        return rc;
    if (rtxn != txn) sum = 0;
    uint64_t room = map_room(s);
    if (sum > room || vlen > room - sum) return KV_EFULL;
    if ((rc = kvstate_meta_put(s, META_RESERVED_TXN, txn)) != 0 ||
        (rc = kvstate_meta_put(s, META_RESERVED, sum + vlen)) != 0)
        return rc;
    return 0;
}

/* Continues the record in progress (the last one of database dbi) with n
 * bytes at g->part_off. The record's pages may have been committed since
 * its last piece (the state commits between chunks): then LMDB gives the
 * value new pages, and the part already staged is copied over from the
 * committed ones, which stay mapped and unchanged until this transaction
 * commits. Pages written in this transaction keep their contents. */
static int continue_part(kvstate *s, MDB_dbi dbi, stage *g, const MDB_val *key, const uint8_t *src,
                         size_t n)
{
    MDB_cursor *cur;
    MDB_val k, d;
    int rc = mdb_cursor_open(s->wtxn, dbi, &cur);
    if (rc != 0) return kv_map_err(rc);
    rc = mdb_cursor_get(cur, &k, &d, MDB_LAST);
    if (rc == MDB_NOTFOUND ||
        (rc == 0 && (k.mv_size != key->mv_size || memcmp(k.mv_data, key->mv_data, k.mv_size) != 0 ||
                     d.mv_size != g->part_len))) {
        rc = KV_ECORRUPT; /* not the record in progress */
        goto out;
    }
    if (rc != 0) {
        rc = kv_map_err(rc);
        goto out;
    }
    const uint8_t *old = d.mv_data;
    uint64_t txn = mdb_txn_id(s->wtxn);
    d.mv_data = NULL;
    if ((rc = mdb_cursor_put(cur, (MDB_val *)key, &d, MDB_CURRENT | MDB_RESERVE)) != 0) {
        rc = stage_err(rc);
        goto out;
    }
    uint8_t *dst = d.mv_data;
    if (g->part_txn != txn && dst != old) memcpy(dst, old, (size_t)g->part_off);
    memcpy(dst + g->part_off, src, n);
    g->part_off += n;
    g->part_txn = txn;
out:
    mdb_cursor_close(cur);
    return rc;
}

/* Stages the pieces of one chunk; KV_ECORRUPT or KV_EFULL at the first
 * that cannot be staged. */
static int stage_pieces(kvstate *s, stage *g, const uint8_t *p, const uint8_t *end)
{
    int idle = !s->live, rc;
    while (p < end) {
        if ((size_t)(end - p) < KVSNAP_PIECE_HDR) return KV_ECORRUPT;
        uint8_t db = p[0];
        size_t kl = get_le32(p + 1), pl = get_le32(p + 5);
        uint64_t vlen = get_le64(p + 9), voff = get_le64(p + 17);
        p += KVSNAP_PIECE_HDR;
        int slot = db_slot(db);
        if (slot < 0 || db < g->db || kl == 0 || kl > KVSNAP_MAX_KEY || kl > (size_t)(end - p) ||
            pl > (size_t)(end - p) - kl || voff > vlen || pl > vlen - voff ||
            (uint64_t)(size_t)vlen != vlen)
            return KV_ECORRUPT;
        MDB_val k = {kl, (void *)p};
        const uint8_t *src = p + kl;
        MDB_dbi dbi = db_dbi(s, idle, slot);
        p += kl + pl;
        if (g->part_off < g->part_len) {
            /* Only the next piece of the record in progress may come. */
            if (db != g->db || vlen != g->part_len || voff != g->part_off || pl == 0)
                return KV_ECORRUPT;
            if ((rc = continue_part(s, dbi, g, &k, src, pl)) != 0) return rc;
            continue;
        }
        if (voff != 0 || (pl == 0 && vlen != 0)) return KV_ECORRUPT;
        g->db = db;
        MDB_val d = {(size_t)vlen, (void *)src};
        if (pl == vlen) {
            if ((rc = mdb_put(s->wtxn, dbi, &k, &d, MDB_APPEND)) != 0) return stage_err(rc);
            continue;
        }
        /* The first piece of a split record: the whole value is reserved
         * now, then filled piece by piece. A length no map could hold is
         * refused before LMDB sees it (a full map would end the node). */
        if ((rc = reserve_room(s, vlen)) != 0) return rc;
        d.mv_data = NULL;
        if ((rc = mdb_put(s->wtxn, dbi, &k, &d, MDB_APPEND | MDB_RESERVE)) != 0)
            return stage_err(rc);
        memcpy(d.mv_data, src, pl);
        g->part_len = vlen;
        g->part_off = pl;
        g->part_txn = mdb_txn_id(s->wtxn);
    }
    return 0;
}

int kvsnap_stage(kvstate *s, uint64_t index, uint64_t term, uint64_t offset, const void *data,
                 size_t len, int last, uint64_t *staged)
{
    stage g;
    int rc;

    *staged = 0;
    if (index == 0) return KV_EINVAL;
    if ((rc = kvstate_begin_write(s)) != 0) return rc;
    if ((rc = read_stage(s, s->wtxn, &g)) != 0) return rc;
    int idle = !s->live;
    if (offset == 0) {
        /* A new staging: whatever the idle pair held goes. */
        for (int i = 0; i < NDBS; i++)
            if ((rc = mdb_drop(s->wtxn, db_dbi(s, idle, i), 0)) != 0) return kv_map_err(rc);
        memset(&g, 0, sizeof(g));
        g.index = index;
        g.term = term;
        if ((rc = write_stage(s, &g)) != 0) return rc;
    } else if (g.index != index || g.term != term || g.bytes != offset || g.done) {
        *staged = g.index == index && g.term == term ? g.bytes : 0;
        return KV_EINVAL;
    }
    const uint8_t *p = data;
    rc = stage_pieces(s, &g, p, len ? p + len : p);
    if (rc == 0 && last && g.part_off < g.part_len) rc = KV_ECORRUPT; /* ends inside a record */
    if (rc == 0 && last) {
        /* The database map, version counter and notify-keyspace-events
         * must load once installed:
         * refused here, a bad one never goes live (kvsnap_install commits
         * the flip before it reads them, and kvstate_open would then
         * refuse the state for good). */
        uint8_t dbmap[KV_MAX_DBS];
        uint64_t ver;
        int notify;
        rc = kvstate_read_pmeta(s, s->wtxn, idle, dbmap, &ver, &notify);
        uint64_t acct, evicted;
        kv_memconf mem;
        int has_acct;
        if (rc == 0)
            rc = kvstate_read_pmeta_mem(s, s->wtxn, idle, &acct, &evicted, &mem, &has_acct);
    }
    if (rc == KV_ECORRUPT || rc == KV_EFULL) {
        /* Records already written stay in the idle pair; forgetting the
         * staging makes the next one start from offset 0 and empty it. */
        int wrc;
        memset(&g, 0, sizeof(g));
        if ((wrc = write_stage(s, &g)) != 0) return wrc;
        return rc;
    }
    if (rc != 0) return rc;
    g.bytes += len;
    g.done = last ? 1 : 0;
    if ((rc = write_stage(s, &g)) != 0) return rc;
    *staged = g.bytes;
    return 0;
}

int kvsnap_staging_mid_record(kvstate *s)
{
    uint64_t len = 0, off = 0;
    if (kvstate_commit_wait(s) != 0 || !s->wtxn) return 0; /* committed since: nothing to save */
    if (kvstate_meta_get(s, s->wtxn, META_STAGE_PART_LEN, &len) != 0 ||
        kvstate_meta_get(s, s->wtxn, META_STAGE_PART_OFF, &off) != 0)
        return 0;
    return off < len;
}

void kvsnap_staged(kvstate *s, uint64_t *index, uint64_t *term, uint64_t *bytes, int *complete)
{
    stage g;
    MDB_txn *txn;
    int owned;
    *index = *term = *bytes = 0;
    *complete = 0;
    if (kvstate_txn_for_read(s, &txn, &owned) != 0) return;
    if (read_stage(s, txn, &g) == 0) {
        *index = g.index;
        *term = g.term;
        *bytes = g.bytes;
        *complete = g.done != 0;
    }
    if (owned) mdb_txn_abort(txn);
}

int kvsnap_install(kvstate *s, uint64_t index, uint64_t term, int64_t tau)
{
    stage g, none = {0};
    int rc;

    if ((rc = kvstate_begin_write(s)) != 0) return rc;
    if ((rc = read_stage(s, s->wtxn, &g)) != 0) return rc;
    if (!g.done || g.index != index || g.term != term) return KV_EINVAL;
    int old = s->live, now = !old;
    /* One transaction: the new pair goes live with its index and time, the
     * staging is forgotten, the old pair is emptied for the next one. */
    for (int i = 0; i < NDBS; i++)
        if ((rc = kv_map_err(mdb_drop(s->wtxn, db_dbi(s, old, i), 0))) != 0) return rc;
    if ((rc = kvstate_meta_put(s, META_LIVE, (uint64_t)now)) != 0 ||
        (rc = kvstate_meta_put(s, META_APPLIED, index)) != 0 ||
        (rc = kvstate_meta_put(s, META_TAU, (uint64_t)tau)) != 0 ||
        (rc = kvstate_meta_put(s, META_SNAP_INDEX, index)) != 0 ||
        (rc = kvstate_meta_put(s, META_SNAP_TERM, term)) != 0 || (rc = write_stage(s, &none)) != 0)
        return rc;
    s->applied = index;
    s->tau = tau;
    s->pmeta_dirty = 0; /* the new pair brings its own */
    if ((rc = kvstate_commit(s)) != 0) {
        s->live = old;
        return rc;
    }
    s->live = now;
    s->tomb_floor = 0; /* another key space, other tombstones */
    MDB_txn *t;
    if ((rc = kv_map_err(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t))) != 0) return rc;
    rc = kvstate_load_pmeta(s, t);
    mdb_txn_abort(t);
    if (rc != 0) return rc;
    s->pages_at_commit = UINT64_MAX;
    s->snap_index = index;
    s->snap_term = term;
    /* The commit fsynced the meta page that holds the flip; the log is reset
     * only after this returns, so make sure of it whatever the env's flags. */
    return kv_map_err(mdb_env_sync(s->env, 1));
}

void kvsnap_state_snapshot(kvstate *s, uint64_t *index, uint64_t *term)
{
    *index = s->snap_index;
    *term = s->snap_term;
}
