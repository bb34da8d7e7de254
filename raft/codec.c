/* codec.c -- binary encoding of messages and entries. Little-endian,
 * versioned, length-checked. The decoder checks that the bytes for every
 * count and length it reads are present before using it, and allocates once,
 * after validation.
 *
 * Message v2, written only when a snapshot names learners; otherwise v1,
 * the same without the learner count, so nodes of a version without
 * learners keep understanding a cluster that uses none (rolling upgrade):
 *   u8 version, u8 type, u8 reject, u8 flags (bit0: snapshot present)
 *   u64 from, to, term, log_term, index, commit, reject_hint, ctx
 *   u32 n_entries, then n_entries x entry-body
 *   [snapshot: u64 index, term; u32 n_voters (<= 16), n_voters x u64;
 *              v2: u32 n_learners (<= 16), n_learners x u64;
 *              u32 ref_len (<= 64), ref bytes]
 * entry-body: u64 index, u64 term, u8 type, u32 len, len bytes
 * A standalone entry is u8 version (RAFT_ENTRY_CODEC_VERSION) followed by
 * an entry-body. A conf entry's data is a raft_conf_change (confchange.c). */
#include "raft/raft_int.h"

#define HDR_SIZE RAFT_MSG_HDR_BYTES
#define ENT_HDR RAFT_ENTRY_HDR_BYTES

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The version a message is written in: 2 only when it needs it. */
static uint8_t msg_version(const raft_msg *m)
{
    return m->snap && m->snap->n_learners ? 2 : 1;
}

static size_t snap_size(const raft_snapshot_meta *s)
{
    size_t learners = s->n_learners ? 4 + 8 * (size_t)s->n_learners : 0;
    return 16 + 4 + 8 * (size_t)s->n_voters + learners + 4 + s->ref_len;
}

size_t raft_msg_encoded_size(const raft_msg *m)
{
    size_t n = HDR_SIZE;
    for (uint32_t i = 0; i < m->n_entries; i++)
        n += ENT_HDR + m->entries[i].len;
    if (m->snap) n += snap_size(m->snap);
    return n;
}

static uint8_t *put_entry(uint8_t *p, const raft_entry *e)
{
    put64(p, e->index);
    put64(p + 8, e->term);
    p[16] = e->type;
    put32(p + 17, e->len);
    p += ENT_HDR;
    if (e->len) memcpy(p, e->data, e->len);
    return p + e->len;
}

size_t raft_msg_encode(const raft_msg *m, uint8_t *buf, size_t cap)
{
    size_t need = raft_msg_encoded_size(m);
    if (cap < need) return 0;
    if (m->snap &&
        (m->snap->n_voters > RAFT_MAX_VOTERS || m->snap->n_learners > RAFT_MAX_LEARNERS ||
         m->snap->ref_len > RAFT_SNAP_REF_MAX))
        return 0;
    uint8_t *p = buf;
    p[0] = msg_version(m);
    p[1] = m->type;
    p[2] = m->reject;
    p[3] = m->snap ? 1 : 0;
    p += 4;
    const uint64_t f[8] = {m->from,  m->to,     m->term,        m->log_term,
                           m->index, m->commit, m->reject_hint, m->ctx};
    for (int i = 0; i < 8; i++, p += 8)
        put64(p, f[i]);
    put32(p, m->n_entries);
    p += 4;
    for (uint32_t i = 0; i < m->n_entries; i++)
        p = put_entry(p, &m->entries[i]);
    if (m->snap) {
        const raft_snapshot_meta *s = m->snap;
        put64(p, s->index);
        put64(p + 8, s->term);
        put32(p + 16, s->n_voters);
        p += 20;
        for (uint32_t i = 0; i < s->n_voters; i++, p += 8)
            put64(p, s->voters[i]);
        if (buf[0] == 2) {
            put32(p, s->n_learners);
            p += 4;
            for (uint32_t i = 0; i < s->n_learners; i++, p += 8)
                put64(p, s->learners[i]);
        }
        put32(p, s->ref_len);
        p += 4;
        if (s->ref_len) memcpy(p, s->ref, s->ref_len);
        p += s->ref_len;
    }
    return (size_t)(p - buf);
}

int raft_msg_decode(const uint8_t *buf, size_t len, const raft_alloc *alloc, raft_msg **out)
{
    *out = NULL;
    if (len < 1) return RAFT_ECORRUPT;
    uint8_t ver = buf[0];
    if (ver != 1 && ver != RAFT_CODEC_VERSION) return RAFT_EVERSION;
    if (len < HDR_SIZE) return RAFT_ECORRUPT;
    uint8_t type = buf[1], reject = buf[2], flags = buf[3];
    if (type < 1 || type > RAFT_MSG_TYPE_MAX || reject > 1 || (flags & ~1u)) return RAFT_ECORRUPT;
    uint32_t n = get32(buf + 4 + 64);
    size_t off = HDR_SIZE;
    /* pass 1: validate every length against what remains */
    if ((len - off) / ENT_HDR < n) return RAFT_ECORRUPT;
    size_t data_total = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (len - off < ENT_HDR) return RAFT_ECORRUPT;
        uint8_t et = buf[off + 16];
        uint32_t el = get32(buf + off + 17);
        if (et > RAFT_ENTRY_CONF) return RAFT_ECORRUPT;
        off += ENT_HDR;
        if (len - off < el) return RAFT_ECORRUPT;
        off += el;
        data_total += el;
    }
    size_t snap_off = off;
    if (flags & 1) {
        if (len - off < 20) return RAFT_ECORRUPT;
        uint32_t nv = get32(buf + off + 16);
        if (nv > RAFT_MAX_VOTERS) return RAFT_ECORRUPT;
        off += 20;
        if (len - off < 8 * (size_t)nv + 4) return RAFT_ECORRUPT;
        off += 8 * (size_t)nv;
        if (ver >= 2) {
            uint32_t nl = get32(buf + off);
            /* (0 learners is written as v1: one encoding per message) */
            if (nl == 0 || nl > RAFT_MAX_LEARNERS) return RAFT_ECORRUPT;
            off += 4;
            if (len - off < 8 * (size_t)nl + 4) return RAFT_ECORRUPT;
            off += 8 * (size_t)nl;
        }
        uint32_t rl = get32(buf + off);
        off += 4;
        if (rl > RAFT_SNAP_REF_MAX || len - off < rl) return RAFT_ECORRUPT;
        off += rl;
    }
    if (off != len) return RAFT_ECORRUPT;               /* trailing bytes */
    if (ver == 2 && !(flags & 1)) return RAFT_ECORRUPT; /* v2 only for learners */

    /* pass 2: one allocation for everything */
    size_t sz = sizeof(raft_msg) + (size_t)n * sizeof(raft_entry) +
                ((flags & 1) ? sizeof(raft_snapshot_meta) : 0) + data_total;
    uint8_t *mem = ra_malloc(alloc, sz);
    if (!mem) return RAFT_ENOMEM;
    raft_msg *m = (raft_msg *)mem;
    memset(m, 0, sizeof(*m));
    raft_entry *ents = (raft_entry *)(mem + sizeof(raft_msg));
    raft_snapshot_meta *s = (raft_snapshot_meta *)(ents + n);
    uint8_t *data = (uint8_t *)s + ((flags & 1) ? sizeof(raft_snapshot_meta) : 0);
    m->type = type;
    m->reject = reject;
    const uint8_t *p = buf + 4;
    uint64_t *f[8] = {&m->from,  &m->to,     &m->term,        &m->log_term,
                      &m->index, &m->commit, &m->reject_hint, &m->ctx};
    for (int i = 0; i < 8; i++, p += 8)
        *f[i] = get64(p);
    m->n_entries = n;
    m->entries = n ? ents : NULL;
    off = HDR_SIZE;
    for (uint32_t i = 0; i < n; i++) {
        raft_entry *e = &ents[i];
        e->index = get64(buf + off);
        e->term = get64(buf + off + 8);
        e->type = buf[off + 16];
        e->len = get32(buf + off + 17);
        off += ENT_HDR;
        e->data = NULL;
        if (e->len) {
            memcpy(data, buf + off, e->len);
            e->data = data;
            data += e->len;
        }
        off += e->len;
    }
    if (flags & 1) {
        memset(s, 0, sizeof(*s));
        off = snap_off;
        s->index = get64(buf + off);
        s->term = get64(buf + off + 8);
        s->n_voters = get32(buf + off + 16);
        off += 20;
        for (uint32_t i = 0; i < s->n_voters; i++, off += 8)
            s->voters[i] = get64(buf + off);
        if (ver >= 2) {
            s->n_learners = get32(buf + off);
            off += 4;
            for (uint32_t i = 0; i < s->n_learners; i++, off += 8)
                s->learners[i] = get64(buf + off);
        }
        s->ref_len = get32(buf + off);
        off += 4;
        memcpy(s->ref, buf + off, s->ref_len);
        m->snap = s;
    }
    *out = m;
    return 0;
}

void raft_msg_free(raft_msg *m, const raft_alloc *alloc)
{
    ra_free(alloc, m);
}

size_t raft_entry_encoded_size(const raft_entry *e)
{
    return 1 + ENT_HDR + e->len;
}

size_t raft_entry_encode(const raft_entry *e, uint8_t *buf, size_t cap)
{
    size_t need = raft_entry_encoded_size(e);
    if (cap < need) return 0;
    buf[0] = RAFT_ENTRY_CODEC_VERSION;
    put_entry(buf + 1, e);
    return need;
}

int raft_entry_decode(const uint8_t *buf, size_t len, raft_entry *e, size_t *used)
{
    if (len < 1) return RAFT_ECORRUPT;
    if (buf[0] != RAFT_ENTRY_CODEC_VERSION) return RAFT_EVERSION;
    if (len - 1 < ENT_HDR) return RAFT_ECORRUPT;
    const uint8_t *p = buf + 1;
    uint8_t t = p[16];
    uint32_t el = get32(p + 17);
    if (t > RAFT_ENTRY_CONF) return RAFT_ECORRUPT;
    if (len - 1 - ENT_HDR < el) return RAFT_ECORRUPT;
    e->index = get64(p);
    e->term = get64(p + 8);
    e->type = t;
    e->len = el;
    e->data = el ? p + ENT_HDR : NULL;
    *used = 1 + ENT_HDR + el;
    return 0;
}
