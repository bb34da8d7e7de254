/* kvlog.c -- the Raft log and hard state as an append-only segmented log
 * file (kvlog.h). The format is in storage/README.md, "Log file format":
 *
 *   <dir>/log/<16 hex digits: sequence number>.wal, each
 *     "RKVLOG\0\1" (magic, format 1), then batches;
 *   batch  = BATCH record (u64 length of what follows), records;
 *   record = u32 body length, u32 CRC-32C of the body, body = u8 type, payload.
 *   All integers little-endian. A length of 0 where a batch would start
 *   ends the segment (the rest is zeros: segments are pre-zeroed).
 *
 * One kvlog_sync() writes one batch with one pwrite() and one fdatasync(),
 * so a batch is durable whole or not at all: at open, an invalid batch at
 * the tail of the last segment is a write the crash interrupted (never
 * acknowledged) and is cut off; anything else invalid is corruption.
 *
 * Every segment starts with a checkpoint batch (CHECKPOINT: first, last,
 * snapshot, hard state; then every META), so a segment holding no entry of
 * [first, last] can be deleted once the record that made it useless is
 * durable. Replay starts at the oldest segment: its checkpoint says which
 * entries came before it; entries below `base` (last + 1 - count) are not
 * in memory and must all be below first when replay ends. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "storage/kverr.h"
#include "storage/kvint.h"
#include "storage/kvlog.h"
#include "storage/kvreap.h"

/* A segment is rolled once it holds this much (less for a small mapsize:
 * a sixteenth of it, so GC frees space in small steps; at least
 * SEGMENT_MIN). RAFTKV_LOG_SEGMENT_BYTES, read at open, overrides it (tests). */
#define KVLOG_SEGMENT_BYTES (64ull << 20)
#define SEGMENT_MIN (4ull << 10)
/* The next segment is zero-filled ahead, in steps of at least this much,
 * once the current one is half full (zeros written, not fallocate: an
 * overwrite needs no inode write at fdatasync; storage/README.md). */
#define PREFILL_STEP (256u << 10)

#define MAGIC "RKVLOG\0\1"
#define MAGIC_LEN 8
#define REC_HDR 8    /* u32 body length, u32 CRC-32C(body) */
#define BATCH_BODY 9 /* type, u64 bytes of records that follow */
#define BATCH_LEN (REC_HDR + BATCH_BODY)
#define ENTRY_BODY 18  /* type, u64 index, u64 term, u8 entry type; data follows */
#define CKPT_BODY 65   /* type, u64 seq, first, last, snap index, snap term, term, vote, commit */
#define HS_BODY 25     /* type, u64 term, vote, commit */
#define PREFIX_BODY 25 /* type, u64 first, snap index, snap term */
#define RESET_BODY 17  /* type, u64 snap index, snap term */
#define TRUNC_BODY 9   /* type, u64 index: entries >= index are gone */
#define REC_MAX (1u << 31)
#define META_NAME_MAX 255
#define META_VALUE_MAX (64u << 10)
#define RUN_MAX (1u << 20) /* kvlog_range reads up to this much with one pread */

enum { R_BATCH = 1, R_CHECKPOINT, R_ENTRY, R_HARDSTATE, R_PREFIX, R_RESET, R_TRUNCATE, R_META };

typedef struct ent {
    uint64_t pos; /* of its record in the log's byte space (segment base + offset) */
    uint64_t term;
    uint32_t len; /* of the data */
    uint8_t type;
} ent;

typedef struct seg {
    uint64_t seq;
    uint64_t base; /* position of its byte 0 */
    uint64_t end;  /* bytes written: the next batch goes there */
} seg;

typedef struct meta {
    char *name;
    unsigned char *v;
    uint32_t n;
} meta;

struct kvlog {
    char *path; /* <dir>/log */
    int dirfd;
    kvreap *reap; /* closes deleted segments off the caller's thread */
    uint64_t mapsize, seg_bytes;
    int broken;       /* reloading after an error failed: every call returns it */
    int failed;       /* a write failed: kvlog_sync() drops the batch and reloads */
    char errmsg[320]; /* the last failed system call: its file and errno */
    char notes[640];  /* what kvlog_settle() changed in the files, for the log */
    /* What opening found to mend in the files, done by kvlog_settle(): the
     * last segment's torn tail [cut_end, cut_nz) (truncated when it runs to
     * the file's end), the segments below keep_seq and any *.tmp. */
    int unsettled, cut_truncate;
    uint64_t cut_end, cut_nz, keep_seq;

    /* What load() builds from the files and unload() frees. */
    uint64_t first, last, snap_index, snap_term;
    kvlog_hardstate hs;
    ent *ents; /* entries last + 1 - count .. last at ents[head .. head + count) */
    size_t head, count, cap;
    uint64_t ent_bytes; /* records of those entries */
    meta *metas;
    size_t nmeta;
    seg *segs; /* oldest first; segs[nseg - 1] is written to */
    size_t nseg, segcap;
    int fd;        /* the current segment */
    uint64_t used; /* sum of segs[].end */
    int rfd;       /* one older segment open for reading */
    uint64_t rseq;
    int spare_fd; /* the next segment, being zero-filled as <seq>.tmp */
    uint64_t spare_zeroed;

    unsigned char *wbuf; /* the pending batch, its header at 0; wlen 0: none */
    size_t wlen, wcap;
    unsigned char *rbuf;
    size_t rcap;

    /* Asynchronous durability (kvlog_write/kvlog_synced): each write's end
     * position and the oldest segment its records still need; segments
     * are deleted only below what a durable write needs. */
    struct wmark {
        uint64_t pos, keep_seq;
    } * wm;
    size_t wm_head, wm_n, wm_cap;
    uint64_t durable_pos;  /* everything before is on disk */
    uint64_t since_synced; /* bytes written since the last kvlog_synced() */
};

/* ------------------------------------------------------------ encoding */

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78): table-driven,
 * four bytes per step ("slicing by 4"). On x86-64 with SSE4.2 the crc32
 * instruction computes the same function some 5x faster (it is the whole
 * CPU cost of an append); crc_init() checks it against the table on the
 * standard check value before using it. */
static uint32_t crc_tab[4][256];
static uint32_t (*crc_fn)(const unsigned char *p, size_t n);

static uint32_t crc32c_table(const unsigned char *p, size_t n)
{
    uint32_t c = ~0u;
    for (; n >= 4; n -= 4, p += 4) {
        c ^= get32(p);
        c = crc_tab[3][c & 0xff] ^ crc_tab[2][(c >> 8) & 0xff] ^ crc_tab[1][(c >> 16) & 0xff] ^
            crc_tab[0][c >> 24];
    }
    while (n--)
        c = crc_tab[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    return ~c;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(const unsigned char *p, size_t n)
{
    uint64_t c = ~0u;
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t w;
        memcpy(&w, p, 8); /* x86 is little-endian, as the instruction expects */
        c = __builtin_ia32_crc32di(c, w);
    }
    uint32_t c32 = (uint32_t)c;
    while (n--)
        c32 = __builtin_ia32_crc32qi(c32, *p++);
    return ~c32;
}
#endif

static void crc_init(void)
{
    if (crc_fn) return;
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_tab[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 4; t++)
            crc_tab[t][i] = (crc_tab[t - 1][i] >> 8) ^ crc_tab[0][crc_tab[t - 1][i] & 0xff];
    crc_fn = crc32c_table;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    static const unsigned char check[] = "123456789abcdefghijklmnopq";
    if (__builtin_cpu_supports("sse4.2") && crc32c_table(check, 9) == 0xE3069283u &&
        crc32c_sse42(check, 9) == 0xE3069283u &&
        crc32c_sse42(check, sizeof(check)) == crc32c_table(check, sizeof(check)))
        crc_fn = crc32c_sse42;
#endif
}

static uint32_t crc32c(const unsigned char *p, size_t n)
{
    return crc_fn(p, n);
}

static uint64_t entry_rec_len(uint32_t len)
{
    return REC_HDR + ENTRY_BODY + (uint64_t)len;
}

/* ------------------------------------------------------------ memory */

static int grow(void **p, size_t *cap, size_t need, size_t elem, size_t used)
{
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    void *q = kv_malloc(n * elem);
    if (!q) return KV_ENOMEM;
    if (used) memcpy(q, *p, used * elem);
    free(*p);
    *p = q;
    *cap = n;
    return 0;
}

static ent *ent_at(kvlog *l, uint64_t index)
{
    return &l->ents[l->head + (index - (l->last + 1 - l->count))];
}

static int ent_push(kvlog *l, uint64_t pos, uint64_t term, uint32_t len, uint8_t type)
{
    if (l->head + l->count == l->cap) {
        /* Slide down once the dropped prefix is at least as long as what is
         * kept: each entry moves O(1) times between two growths. */
        if (l->head && l->head >= l->count) {
            memmove(l->ents, l->ents + l->head, l->count * sizeof(ent));
            l->head = 0;
        } else {
            int rc = grow((void **)&l->ents, &l->cap, l->head + l->count + 1, sizeof(ent),
                          l->head + l->count);
            if (rc) return rc;
        }
    }
    l->ents[l->head + l->count++] = (ent){.pos = pos, .term = term, .len = len, .type = type};
    l->ent_bytes += entry_rec_len(len);
    return 0;
}

static void ent_drop_front(kvlog *l, size_t k)
{
    for (size_t i = 0; i < k; i++)
        l->ent_bytes -= entry_rec_len(l->ents[l->head + i].len);
    l->head += k;
    l->count -= k;
    if (!l->count) l->head = 0;
}

static void ent_drop_back(kvlog *l, size_t k)
{
    for (size_t i = 0; i < k; i++)
        l->ent_bytes -= entry_rec_len(l->ents[l->head + l->count - 1 - i].len);
    l->count -= k;
    if (!l->count) l->head = 0;
}

static meta *meta_find(kvlog *l, const char *name, size_t nlen)
{
    for (size_t i = 0; i < l->nmeta; i++)
        if (strlen(l->metas[i].name) == nlen && memcmp(l->metas[i].name, name, nlen) == 0)
            return &l->metas[i];
    return NULL;
}

static int meta_set(kvlog *l, const char *name, size_t nlen, const void *v, uint32_t n)
{
    unsigned char *copy = kv_malloc(n ? n : 1);
    if (!copy) return KV_ENOMEM;
    if (n) memcpy(copy, v, n);
    meta *m = meta_find(l, name, nlen);
    if (!m) {
        size_t cap = l->nmeta; /* exact: a handful of names */
        char *nm = kv_malloc(nlen + 1);
        if (!nm || grow((void **)&l->metas, &cap, l->nmeta + 1, sizeof(meta), l->nmeta)) {
            free(nm);
            free(copy);
            return KV_ENOMEM;
        }
        memcpy(nm, name, nlen);
        nm[nlen] = 0;
        m = &l->metas[l->nmeta++];
        m->name = nm;
        m->v = NULL;
    }
    free(m->v);
    m->v = copy;
    m->n = n;
    return 0;
}

/* ------------------------------------------------------------ write buffer */

/* Room for a record with a body of n bytes at the end of the pending
 * batch (opening it if none is). Returns the body, its type byte set; the
 * caller fills the rest and calls wseal(). Valid until the next wput(). */
static unsigned char *wput(kvlog *l, uint8_t type, size_t n)
{
    size_t start = l->wlen ? l->wlen : BATCH_LEN;
    size_t need = start + REC_HDR + n;
    if (need > l->wcap) {
        size_t cap = l->wcap;
        if (grow((void **)&l->wbuf, &cap, need < (64u << 10) ? 64u << 10 : need, 1, l->wlen))
            return NULL;
        l->wcap = cap;
    }
    unsigned char *h = l->wbuf + start;
    put32(h, (uint32_t)n);
    h[REC_HDR] = type;
    l->wlen = need;
    return h + REC_HDR;
}

static void wseal(unsigned char *body, size_t n)
{
    put32(body - 4, crc32c(body, n));
}

static void seal_batch(unsigned char *b, uint64_t n)
{
    put32(b, BATCH_BODY);
    b[REC_HDR] = R_BATCH;
    put64(b + REC_HDR + 1, n);
    wseal(b + REC_HDR, BATCH_BODY);
}

/* Position the next byte of the pending batch will have. */
static uint64_t wpos(kvlog *l)
{
    const seg *c = &l->segs[l->nseg - 1];
    return c->base + c->end + l->wlen;
}

/* A write call that failed after the batch may have changed: LMDB's rule,
 * the whole batch is dropped at the next kvlog_sync(). */
/* Records the failed call's file and errno (read at once, before any
 * clean-up can change it) and returns KV_EIO. */
static int io_err(kvlog *l, const char *what, uint64_t seq, const char *ext)
{
    int e = errno;
    snprintf(l->errmsg, sizeof(l->errmsg), "%s %s/%016llx.%s: %s", what, l->path,
             (unsigned long long)seq, ext, e ? strerror(e) : "short write");
    return KV_EIO;
}

static void note(kvlog *l, const char *fmt, ...)
{
    size_t n = strlen(l->notes);
    if (n + 3 >= sizeof(l->notes)) return;
    if (n) {
        l->notes[n++] = ';';
        l->notes[n++] = ' ';
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->notes + n, sizeof(l->notes) - n, fmt, ap);
    va_end(ap);
}

static int fail(kvlog *l, int rc)
{
    if (!l->failed) l->failed = rc;
    return rc;
}

static int put_hardstate(kvlog *l)
{
    unsigned char *b = wput(l, R_HARDSTATE, HS_BODY);
    if (!b) return KV_ENOMEM;
    put64(b + 1, l->hs.term);
    put64(b + 9, l->hs.vote);
    put64(b + 17, l->hs.commit);
    wseal(b, HS_BODY);
    return 0;
}

static int put_meta(kvlog *l, const meta *m)
{
    size_t nlen = strlen(m->name), n = 2 + nlen + m->n;
    unsigned char *b = wput(l, R_META, n);
    if (!b) return KV_ENOMEM;
    b[1] = (unsigned char)nlen;
    memcpy(b + 2, m->name, nlen);
    if (m->n) memcpy(b + 2 + nlen, m->v, m->n);
    wseal(b, n);
    return 0;
}

/* ------------------------------------------------------------ files */

static int write_all(int fd, const void *p, size_t n, uint64_t off)
{
    const unsigned char *c = p;
    while (n) {
        ssize_t w = pwrite(fd, c, n, (off_t)off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return KV_EIO;
        c += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

static int read_all(int fd, void *p, size_t n, uint64_t off)
{
    unsigned char *c = p;
    while (n) {
        ssize_t r = pread(fd, c, n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return r == 0 ? KV_ECORRUPT : KV_EIO; /* short: the file lost data */
        c += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

static const unsigned char zeros[64 << 10];

static int zero_fill(int fd, uint64_t from, uint64_t to)
{
    struct iovec iov[16];
    while (from < to) {
        int k = 0;
        uint64_t n = 0;
        for (; k < 16 && from + n < to; k++) {
            uint64_t c = to - from - n < sizeof(zeros) ? to - from - n : sizeof(zeros);
            iov[k] = (struct iovec){.iov_base = (void *)zeros, .iov_len = c};
            n += c;
        }
        ssize_t w = pwritev(fd, iov, k, (off_t)from);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return KV_EIO;
        from += (uint64_t)w;
    }
    return 0;
}

static void seg_name(char *b, size_t n, uint64_t seq, const char *ext)
{
    snprintf(b, n, "%016llx.%s", (unsigned long long)seq, ext);
}

/* Writes the magic and a checkpoint batch of the current state at the
 * start of fd (which must hold nothing else but zeros), fdatasyncs it,
 * renames <seq>.tmp to <seq>.wal and fsyncs the directory: the segment
 * never exists without its checkpoint. Nothing may be pending. Then
 * writes go to it. */
static int seg_install(kvlog *l, int fd, uint64_t seq)
{
    char tmp[64], name[64];
    int rc;
    l->wlen = MAGIC_LEN + BATCH_LEN; /* wput() appends after the batch header */
    if (l->wcap < l->wlen) {
        size_t cap = l->wcap;
        if (grow((void **)&l->wbuf, &cap, 64u << 10, 1, 0)) goto err_nomem;
        l->wcap = cap;
    }
    unsigned char *b = wput(l, R_CHECKPOINT, CKPT_BODY);
    if (!b) goto err_nomem;
    put64(b + 1, seq);
    put64(b + 9, l->first);
    put64(b + 17, l->last);
    put64(b + 25, l->snap_index);
    put64(b + 33, l->snap_term);
    put64(b + 41, l->hs.term);
    put64(b + 49, l->hs.vote);
    put64(b + 57, l->hs.commit);
    wseal(b, CKPT_BODY);
    for (size_t i = 0; i < l->nmeta; i++)
        if (put_meta(l, &l->metas[i])) goto err_nomem;
    memcpy(l->wbuf, MAGIC, MAGIC_LEN);
    seal_batch(l->wbuf + MAGIC_LEN, l->wlen - MAGIC_LEN - BATCH_LEN);
    /* Room first: once renamed, the segment must be the one written to. */
    size_t cap = l->segcap;
    if (grow((void **)&l->segs, &cap, l->nseg + 1, sizeof(seg), l->nseg)) goto err_nomem;
    l->segcap = cap;
    seg_name(tmp, sizeof(tmp), seq, "tmp");
    seg_name(name, sizeof(name), seq, "wal");
    const char *what = NULL;
    if ((rc = write_all(fd, l->wbuf, l->wlen, 0)) != 0)
        what = "writing";
    else if (fdatasync(fd) != 0)
        what = "fdatasync of";
    else if (renameat(l->dirfd, tmp, l->dirfd, name) != 0)
        what = "renaming";
    else if (fsync(l->dirfd) != 0)
        what = "fsync of the directory of";
    if (what) {
        io_err(l, what, seq, "tmp");
        l->wlen = 0;
        return KV_EIO;
    }
    const seg *prev = l->nseg ? &l->segs[l->nseg - 1] : NULL;
    l->segs[l->nseg++] =
        (seg){.seq = seq, .base = prev ? prev->base + prev->end : 0, .end = l->wlen};
    l->used += l->wlen;
    l->wlen = 0;
    if (l->fd >= 0) close(l->fd);
    l->fd = fd;
    return 0;

err_nomem:
    l->wlen = 0;
    return KV_ENOMEM;
}

static int spare_open(kvlog *l)
{
    char tmp[64];
    if (l->spare_fd >= 0) return 0;
    seg_name(tmp, sizeof(tmp), l->segs[l->nseg - 1].seq + 1, "tmp");
    l->spare_fd = openat(l->dirfd, tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    l->spare_zeroed = 0;
    return l->spare_fd < 0 ? io_err(l, "creating", l->segs[l->nseg - 1].seq + 1, "tmp") : 0;
}

/* Zero-fills up to n more bytes of the next segment. Page cache only:
 * writeback is started at once, so the fdatasync at the roll finds the
 * pages clean. Errors are left for the roll to meet. */
static void prefill(kvlog *l, uint64_t n)
{
    if (spare_open(l)) return;
    uint64_t to = l->spare_zeroed + n;
    if (to > l->seg_bytes) to = l->seg_bytes;
    if (to <= l->spare_zeroed || zero_fill(l->spare_fd, l->spare_zeroed, to)) return;
    sync_file_range(l->spare_fd, (off_t)l->spare_zeroed, (off_t)(to - l->spare_zeroed),
                    SYNC_FILE_RANGE_WRITE);
    l->spare_zeroed = to;
}

static int roll(kvlog *l)
{
    int rc = spare_open(l);
    if (!rc && l->spare_zeroed < l->seg_bytes &&
        (rc = zero_fill(l->spare_fd, l->spare_zeroed, l->seg_bytes)) != 0)
        io_err(l, "zero-filling", l->segs[l->nseg - 1].seq + 1, "tmp");
    if (!rc) rc = seg_install(l, l->spare_fd, l->segs[l->nseg - 1].seq + 1);
    if (rc) return rc; /* the spare stays; a later roll retries */
    l->spare_fd = -1;
    return 0;
}

/* Index in segs of the segment holding pos. */
static size_t seg_find(kvlog *l, uint64_t pos)
{
    size_t lo = 0, hi = l->nseg;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (l->segs[mid].base <= pos)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Deletes the segments older than the one holding the first entry (all
 * but the current one when the log is empty): what the durable state no
 * longer needs. Called only when nothing is pending. */
static void gc_segments(kvlog *l)
{
    size_t keep = l->count ? seg_find(l, l->ents[l->head].pos) : l->nseg - 1;
    for (size_t i = 0; i < keep; i++) {
        char name[64];
        seg_name(name, sizeof(name), l->segs[i].seq, "wal");
        if (l->rfd >= 0 && l->rseq == l->segs[i].seq) {
            close(l->rfd);
            l->rfd = -1;
        }
        kvreap_unlinkat(l->reap, l->dirfd, name); /* a leftover is deleted at the next open */
        l->used -= l->segs[i].end;
    }
    if (keep) {
        memmove(l->segs, l->segs + keep, (l->nseg - keep) * sizeof(seg));
        l->nseg -= keep;
    }
}

/* ------------------------------------------------------------ replay */

typedef struct replay {
    uint64_t seq;
    uint64_t base;     /* position of the segment's byte 0 */
    int first_segment; /* of the replay: its checkpoint sets the state */
    int nrec;          /* records applied from this segment */
    char *err;
    size_t errlen;
} replay;

static int bad(replay *r, uint64_t off, const char *what)
{
    snprintf(r->err, r->errlen, "segment %016llx offset %llu: %s", (unsigned long long)r->seq,
             (unsigned long long)off, what);
    return KV_ECORRUPT;
}

/* Checks the framing and CRC of every record of the batch at b (n bytes
 * available). Returns its length, or 0 if it is not a whole valid batch. */
static uint64_t batch_check(const unsigned char *b, uint64_t n)
{
    if (n < BATCH_LEN || get32(b) != BATCH_BODY || b[REC_HDR] != R_BATCH ||
        get32(b + 4) != crc32c(b + REC_HDR, BATCH_BODY))
        return 0;
    uint64_t len = get64(b + REC_HDR + 1);
    if (len > n - BATCH_LEN) return 0;
    for (uint64_t q = BATCH_LEN; q < BATCH_LEN + len;) {
        uint64_t left = BATCH_LEN + len - q;
        if (left < REC_HDR + 1) return 0;
        uint32_t rl = get32(b + q);
        if (rl == 0 || rl > REC_MAX || rl > left - REC_HDR ||
            get32(b + q + 4) != crc32c(b + q + REC_HDR, rl))
            return 0;
        q += REC_HDR + rl;
    }
    return BATCH_LEN + len;
}

/* Applies one record (framing and CRC already checked) at offset off. */
static int apply(kvlog *l, replay *r, const unsigned char *b, uint32_t n, uint64_t off)
{
    uint8_t type = b[0];
    if ((r->nrec++ == 0) != (type == R_CHECKPOINT))
        return bad(r, off, "a segment must begin with its checkpoint, and only there");
    switch (type) {
    case R_CHECKPOINT: {
        if (n != CKPT_BODY || get64(b + 1) != r->seq) return bad(r, off, "bad checkpoint");
        uint64_t first = get64(b + 9), last = get64(b + 17);
        uint64_t si = get64(b + 25), st = get64(b + 33);
        if (first == 0 || last == UINT64_MAX || last + 1 < first || si + 1 != first)
            return bad(r, off, "checkpoint with impossible indexes");
        if (r->first_segment) {
            l->first = first, l->last = last, l->snap_index = si, l->snap_term = st;
        } else if (first != l->first || last != l->last || si != l->snap_index ||
                   st != l->snap_term) {
            return bad(r, off, "checkpoint disagrees with the segments before it");
        }
        l->hs = (kvlog_hardstate){get64(b + 41), get64(b + 49), get64(b + 57)};
        return 0;
    }
    case R_ENTRY: {
        if (n < ENTRY_BODY) return bad(r, off, "short entry");
        uint64_t index = get64(b + 1);
        if (l->last == UINT64_MAX || index != l->last + 1)
            return bad(r, off, "entry index does not follow the last one");
        int rc = ent_push(l, r->base + off, get64(b + 9), n - ENTRY_BODY, b[17]);
        if (rc) return rc;
        l->last = index;
        return 0;
    }
    case R_HARDSTATE:
        if (n != HS_BODY) return bad(r, off, "bad hard state");
        l->hs = (kvlog_hardstate){get64(b + 1), get64(b + 9), get64(b + 17)};
        return 0;
    case R_PREFIX: {
        uint64_t f = get64(b + 1), si = get64(b + 9);
        if (n != PREFIX_BODY || f < l->first || f > l->last + 1 || si + 1 != f)
            return bad(r, off, "bad prefix truncation");
        uint64_t base = l->last + 1 - l->count;
        if (f > base) ent_drop_front(l, (size_t)(f - base));
        l->first = f, l->snap_index = si, l->snap_term = get64(b + 17);
        return 0;
    }
    case R_RESET: {
        uint64_t si = get64(b + 1);
        if (n != RESET_BODY || si == UINT64_MAX) return bad(r, off, "bad reset");
        ent_drop_back(l, l->count);
        l->first = si + 1, l->last = si, l->snap_index = si, l->snap_term = get64(b + 9);
        return 0;
    }
    case R_TRUNCATE: {
        uint64_t i = get64(b + 1);
        if (n != TRUNC_BODY || i < l->first || i > l->last)
            return bad(r, off, "bad suffix truncation");
        uint64_t base = l->last + 1 - l->count;
        ent_drop_back(l, i <= base ? l->count : (size_t)(l->last + 1 - i));
        l->last = i - 1;
        return 0;
    }
    case R_META: {
        if (n < 2 || b[1] == 0 || n < 2u + b[1] || n - 2u - b[1] > META_VALUE_MAX ||
            memchr(b + 2, 0, b[1]))
            return bad(r, off, "bad metadata record");
        return meta_set(l, (const char *)b + 2, b[1], b + 2 + b[1], n - 2u - b[1]);
    }
    default:
        return bad(r, off, "unknown record type");
    }
}

static int all_zero(const unsigned char *p, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

/* Replays one segment image (buf, size bytes). *end gets where the next
 * batch goes. In the last segment an invalid batch with no valid batch
 * after it is a torn write: *end is its start and *torn is set. */
static int replay_segment(kvlog *l, replay *r, const unsigned char *buf, uint64_t size,
                          int last_seg, uint64_t *end, int *torn)
{
    uint64_t pos = MAGIC_LEN;
    *torn = 0;
    if (size < MAGIC_LEN || memcmp(buf, MAGIC, MAGIC_LEN) != 0)
        return bad(r, 0, "not a log segment (bad magic)");
    while (pos < size) {
        if ((size - pos < REC_HDR || get32(buf + pos) == 0) && all_zero(buf + pos, size - pos))
            break; /* the zeros after the last batch */
        uint64_t blen = batch_check(buf + pos, size - pos);
        if (!blen) {
            if (!last_seg) return bad(r, pos, "invalid batch in a segment that is not the last");
            /* Good data after it means this is not a torn last write. */
            for (uint64_t q = pos + 1; q + BATCH_LEN <= size; q++)
                if (buf[q] == BATCH_BODY && batch_check(buf + q, size - q))
                    return bad(r, pos, "invalid batch followed by valid ones");
            *torn = 1;
            break;
        }
        for (uint64_t q = pos + BATCH_LEN; q < pos + blen;) {
            uint32_t rl = get32(buf + q);
            int rc = apply(l, r, buf + q + REC_HDR, rl, q);
            if (rc) return rc;
            q += REC_HDR + rl;
        }
        pos += blen;
    }
    if (r->nrec == 0) return bad(r, pos, "no checkpoint");
    *end = pos;
    return 0;
}

/* The last segment's torn tail: zero it up to its last non-zero byte (a
 * pre-zeroed segment) or truncate it (a growing one), so later batches are
 * never followed by stale bytes. */
static int cut_tail(kvlog *l)
{
    if (l->cut_nz == l->cut_end) return 0;
    int rc = l->cut_truncate ? (ftruncate(l->fd, (off_t)l->cut_end) ? KV_EIO : 0)
                             : zero_fill(l->fd, l->cut_end, l->cut_nz);
    if (!rc && fdatasync(l->fd) != 0) rc = KV_EIO;
    if (rc) return io_err(l, "cutting the torn tail of", l->segs[l->nseg - 1].seq, "wal");
    note(l, "cut %llu bytes of a torn write at offset %llu of %s/%016llx.wal",
         (unsigned long long)(l->cut_nz - l->cut_end), (unsigned long long)l->cut_end, l->path,
         (unsigned long long)l->segs[l->nseg - 1].seq);
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The segments' sequence numbers, sorted. */
static int list_segments(kvlog *l, uint64_t **out, size_t *n, char *err, size_t errlen)
{
    size_t cap = 0;
    uint64_t *v = NULL;
    *n = 0;
    int fd = dup(l->dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0) close(fd);
        snprintf(err, errlen, "%s: %s", l->path, strerror(errno));
        return KV_EIO;
    }
    rewinddir(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        size_t len = strlen(nm);
        if (len != 20 || strspn(nm, "0123456789abcdef") != 16) continue;
        if (strcmp(nm + 16, ".wal") != 0) continue; /* *.tmp: deleted once the log loaded */
        if (grow((void **)&v, &cap, *n + 1, sizeof(*v), *n)) {
            closedir(d);
            free(v);
            snprintf(err, errlen, "out of memory");
            return KV_ENOMEM;
        }
        v[(*n)++] = strtoull(nm, NULL, 16);
    }
    closedir(d);
    if (*n) qsort(v, *n, sizeof(*v), cmp_u64);
    *out = v;
    return 0;
}

/* Deletes *.tmp (an unfinished roll or a spare) and the segments below
 * keep_seq (left by a GC a crash interrupted). */
static void delete_leftovers(kvlog *l)
{
    int fd = dup(l->dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0) close(fd);
        return;
    }
    rewinddir(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        if (strlen(nm) != 20 || strspn(nm, "0123456789abcdef") != 16) continue;
        int tmp = !strcmp(nm + 16, ".tmp");
        int old = !strcmp(nm + 16, ".wal") && strtoull(nm, NULL, 16) < l->keep_seq;
        if ((tmp || old) && unlinkat(l->dirfd, nm, 0) == 0)
            note(l, "deleted %s/%s (%s)", l->path, nm,
                 tmp ? "an unfinished segment" : "left by an interrupted log GC");
    }
    closedir(d);
}

static void unload(kvlog *l)
{
    free(l->ents);
    for (size_t i = 0; i < l->nmeta; i++) {
        free(l->metas[i].name);
        free(l->metas[i].v);
    }
    free(l->metas);
    free(l->segs);
    if (l->fd >= 0) close(l->fd);
    if (l->rfd >= 0) close(l->rfd);
    if (l->spare_fd >= 0) close(l->spare_fd);
    l->ents = NULL, l->metas = NULL, l->segs = NULL;
    l->head = l->count = l->cap = l->nmeta = l->nseg = l->segcap = 0;
    l->fd = l->rfd = l->spare_fd = -1;
    l->ent_bytes = l->used = 0;
    l->first = 1, l->last = 0, l->snap_index = l->snap_term = 0;
    memset(&l->hs, 0, sizeof(l->hs));
    l->wlen = 0;
    l->failed = 0;
    l->unsettled = 0;
}

/* Builds the in-memory state from the files (a new log gets its first
 * segment). */
static int load(kvlog *l, char *err, size_t errlen)
{
    uint64_t *seqs = NULL;
    size_t n = 0, start = 0;
    unsigned char *buf = NULL;
    int rc, fd = -1;

    uint64_t last_size = 0, last_end = 0;
    unload(l);
    if ((rc = list_segments(l, &seqs, &n, err, errlen)) != 0) return rc;
    if (n == 0) {
        char tmp[64];
        free(seqs);
        seg_name(tmp, sizeof(tmp), 1, "tmp");
        fd = openat(l->dirfd, tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || (rc = seg_install(l, fd, 1)) != 0) {
            if (fd >= 0) close(fd);
            snprintf(err, errlen, "%s: creating the first segment: %s", l->path,
                     fd < 0 ? strerror(errno) : kv_strerror(rc));
            return fd < 0 ? KV_EIO : rc;
        }
        return 0;
    }
    /* After a gap the older segments are the leftovers of a deletion that a
     * crash interrupted (unlinks reach the disk in any order): replay
     * starts after the last gap and must still find every entry. */
    for (size_t i = 1; i < n; i++)
        if (seqs[i] != seqs[i - 1] + 1) start = i;
    if ((rc = grow((void **)&l->segs, &l->segcap, n - start, sizeof(seg), 0)) != 0) goto err_nomem;
    for (size_t i = start; i < n; i++) {
        char name[64];
        struct stat st;
        int last_seg = i + 1 == n, torn;
        uint64_t end = 0;
        seg_name(name, sizeof(name), seqs[i], "wal");
        fd = openat(l->dirfd, name, (last_seg ? O_RDWR : O_RDONLY) | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) != 0) goto err_io;
        uint64_t size = (uint64_t)st.st_size;
        free(buf);
        if ((buf = kv_malloc(size ? size : 1)) == NULL) goto err_nomem;
        if ((rc = read_all(fd, buf, size, 0)) != 0) goto err_io_rc;
        replay r = {.seq = seqs[i],
                    .base = l->nseg ? l->segs[l->nseg - 1].base + l->segs[l->nseg - 1].end : 0,
                    .first_segment = i == start,
                    .err = err,
                    .errlen = errlen};
        if ((rc = replay_segment(l, &r, buf, size, last_seg, &end, &torn)) != 0) goto err_msg;
        l->segs[l->nseg++] = (seg){.seq = seqs[i], .base = r.base, .end = end};
        l->used += end;
        if (last_seg) { /* its tail is fixed once the whole log checked out */
            last_size = size;
            last_end = end;
            l->fd = fd;
            fd = -1;
        } else {
            close(fd);
            fd = -1;
        }
    }
    if (l->last + 1 - l->count != l->first) {
        snprintf(err, errlen, "%s: entries %llu to %llu are missing (a segment was lost)", l->path,
                 (unsigned long long)l->first, (unsigned long long)(l->last - l->count));
        rc = KV_ECORRUPT;
        goto err_out;
    }
    /* Nothing in the files is changed here, so a log that is refused (now
     * or by a later check at start-up) is left as it was found: the mending
     * waits for kvlog_settle(). */
    uint64_t nz = last_size;
    while (nz > last_end && buf[nz - 1] == 0)
        nz--;
    l->cut_end = last_end;
    l->cut_nz = nz;
    l->cut_truncate = nz == last_size;
    l->keep_seq = seqs[start];
    l->unsettled = 1;
    free(seqs);
    free(buf);
    return 0;

err_nomem:
    snprintf(err, errlen, "out of memory");
    rc = KV_ENOMEM;
    goto err_out;
err_io:
    rc = KV_EIO;
err_io_rc:
    snprintf(err, errlen, "%s: reading segment: %s", l->path,
             rc == KV_EIO ? strerror(errno) : kv_strerror(rc));
    goto err_out;
err_msg:
    if (rc != KV_ECORRUPT) snprintf(err, errlen, "%s: %s", l->path, kv_strerror(rc));
err_out:
    if (fd >= 0) close(fd);
    free(seqs);
    free(buf);
    unload(l);
    return rc;
}

/* After a failed write or sync: the in-memory state becomes the files'
 * again. If that fails too the log is unusable. */
static void reload(kvlog *l)
{
    char err[256];
    l->wm_head = l->wm_n = 0;
    int rc = load(l, err, sizeof(err));
    if (!rc) rc = kvlog_settle(l);
    if (rc)
        l->broken = rc;
    else
        l->durable_pos = l->segs[l->nseg - 1].base + l->segs[l->nseg - 1].end;
}

/* ------------------------------------------------------------ API */

static uint64_t segment_bytes(uint64_t mapsize)
{
    uint64_t s = KVLOG_SEGMENT_BYTES;
    if (mapsize / 16 < s) s = mapsize / 16;
    const char *env = getenv("RAFTKV_LOG_SEGMENT_BYTES");
    if (env && *env) s = strtoull(env, NULL, 10);
    return s < SEGMENT_MIN ? SEGMENT_MIN : s;
}

int kvlog_open(kvlog **out, const char *dir, uint64_t mapsize, char *err, size_t errlen)
{
    char path[4096];
    kvlog *l;
    int rc;
    struct stat st;

    *out = NULL;
    crc_init();
    if (snprintf(path, sizeof(path), "%s/log/data.mdb", dir) >= (int)sizeof(path)) {
        snprintf(err, errlen, "log path too long");
        return KV_EINVAL;
    }
    if (stat(path, &st) == 0) {
        snprintf(err, errlen,
                 "%s: log in the old LMDB format; this version keeps the log in segment files "
                 "and cannot read it (start the node with an empty data directory)",
                 path);
        return KV_EINVAL;
    }
    snprintf(path, sizeof(path), "%s/log", dir);
    if (mkdir(path, 0755) == 0) {
        int pfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC); /* the new entry is durable */
        if (pfd >= 0) {
            fsync(pfd);
            close(pfd);
        }
    } else if (errno != EEXIST) {
        snprintf(err, errlen, "mkdir %s: %s", path, strerror(errno));
        return KV_EIO;
    }
    l = kv_calloc(1, sizeof(*l));
    if (!l || !(l->path = strdup(path))) {
        free(l);
        snprintf(err, errlen, "out of memory");
        return KV_ENOMEM;
    }
    l->fd = l->rfd = l->spare_fd = -1;
    l->reap = kvreap_new(); /* NULL: segments are deleted in the caller */
    l->mapsize = mapsize;
    l->seg_bytes = segment_bytes(mapsize);
    l->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (l->dirfd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        rc = KV_EIO;
        goto err_after_alloc;
    }
    /* One process per log: a second server on the same data directory
     * would interleave batches. The lock goes with dirfd. */
    if (flock(l->dirfd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(err, errlen, "%s: %s", path,
                 errno == EWOULDBLOCK ? "in use by another process" : strerror(errno));
        rc = errno == EWOULDBLOCK ? KV_EINVAL : KV_EIO;
        goto err_after_dir;
    }
    if ((rc = load(l, err, errlen)) != 0) goto err_after_dir;
    l->durable_pos = l->segs[l->nseg - 1].base + l->segs[l->nseg - 1].end;
    *out = l;
    return 0;

err_after_dir:
    close(l->dirfd);
err_after_alloc:
    kvreap_free(l->reap);
    free(l->path);
    free(l);
    return rc;
}

void kvlog_close(kvlog *l)
{
    if (!l) return;
    if (!l->broken) kvlog_sync(l);
    unload(l);
    kvreap_free(l->reap);
    close(l->dirfd);
    free(l->wbuf);
    free(l->rbuf);
    free(l->wm);
    free(l->path);
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
    if (l->broken) return l->broken;
    if (index != l->last + 1 || index == 0 || (len && !data) || len > REC_MAX - ENTRY_BODY)
        return KV_EINVAL;
    if (l->failed) return l->failed;
    uint64_t rec = entry_rec_len((uint32_t)len);
    if (l->used + (l->wlen ? l->wlen : BATCH_LEN) + rec > l->mapsize) return fail(l, KV_EFULL);
    uint64_t pos = wpos(l) + (l->wlen ? 0 : BATCH_LEN);
    unsigned char *b = wput(l, R_ENTRY, ENTRY_BODY + len);
    if (!b) return fail(l, KV_ENOMEM);
    put64(b + 1, index);
    put64(b + 9, term);
    b[17] = type;
    if (len) memcpy(b + ENTRY_BODY, data, len);
    wseal(b, ENTRY_BODY + len);
    int rc = ent_push(l, pos, term, (uint32_t)len, type);
    if (rc) return fail(l, rc);
    l->last = index;
    return 0;
}

int kvlog_truncate_suffix(kvlog *l, uint64_t index)
{
    if (l->broken) return l->broken;
    if (index > l->last) return 0;
    if (index < l->first) return KV_EINVAL; /* below the first entry: use kvlog_reset() */
    if (l->failed) return l->failed;
    unsigned char *b = wput(l, R_TRUNCATE, TRUNC_BODY);
    if (!b) return fail(l, KV_ENOMEM);
    put64(b + 1, index);
    wseal(b, TRUNC_BODY);
    ent_drop_back(l, (size_t)(l->last - index + 1));
    l->last = index - 1;
    return 0;
}

int kvlog_truncate_prefix(kvlog *l, uint64_t index)
{
    uint64_t term = 0;
    int rc;

    if (l->broken) return l->broken;
    if (index <= l->first) return 0;
    if (index > l->last + 1) return KV_EINVAL;
    if ((rc = kvlog_term(l, index - 1, &term)) != 0) return rc;
    if (l->failed) return l->failed;
    unsigned char *b = wput(l, R_PREFIX, PREFIX_BODY);
    if (!b) return fail(l, KV_ENOMEM);
    put64(b + 1, index);
    put64(b + 9, index - 1);
    put64(b + 17, term);
    wseal(b, PREFIX_BODY);
    ent_drop_front(l, (size_t)(index - l->first));
    l->first = index;
    l->snap_index = index - 1;
    l->snap_term = term;
    return 0;
}

int kvlog_reset(kvlog *l, uint64_t snap_index, uint64_t snap_term)
{
    if (l->broken) return l->broken;
    if (snap_index == UINT64_MAX) return KV_EINVAL;
    if (l->failed) return l->failed;
    unsigned char *b = wput(l, R_RESET, RESET_BODY);
    if (!b) return fail(l, KV_ENOMEM);
    put64(b + 1, snap_index);
    put64(b + 9, snap_term);
    wseal(b, RESET_BODY);
    ent_drop_back(l, l->count);
    l->first = snap_index + 1;
    l->last = snap_index;
    l->snap_index = snap_index;
    l->snap_term = snap_term;
    return 0;
}

int kvlog_set_hardstate(kvlog *l, const kvlog_hardstate *hs)
{
    if (l->broken) return l->broken;
    if (l->failed) return l->failed;
    kvlog_hardstate old = l->hs;
    l->hs = *hs;
    if (put_hardstate(l)) {
        l->hs = old;
        return fail(l, KV_ENOMEM);
    }
    return 0;
}

int kvlog_get_hardstate(kvlog *l, kvlog_hardstate *hs)
{
    if (l->broken) {
        memset(hs, 0, sizeof(*hs));
        return l->broken;
    }
    *hs = l->hs;
    return 0;
}

static uint64_t written_pos(const kvlog *l)
{
    const seg *c = &l->segs[l->nseg - 1];
    return c->base + c->end;
}

/* The oldest segment the log as it is now needs: the one holding the first
 * entry, or the current one when the log is empty. */
static uint64_t keep_seq_now(kvlog *l)
{
    return l->count ? l->segs[seg_find(l, l->ents[l->head].pos)].seq : l->segs[l->nseg - 1].seq;
}

/* Deletes the segments older than keep_seq (never the current one). */
static void gc_segments_below(kvlog *l, uint64_t keep_seq)
{
    size_t keep = 0;
    while (keep + 1 < l->nseg && l->segs[keep].seq < keep_seq)
        keep++;
    for (size_t i = 0; i < keep; i++) {
        char name[64];
        seg_name(name, sizeof(name), l->segs[i].seq, "wal");
        if (l->rfd >= 0 && l->rseq == l->segs[i].seq) {
            close(l->rfd);
            l->rfd = -1;
        }
        kvreap_unlinkat(l->reap, l->dirfd, name); /* a leftover is deleted at the next open */
        l->used -= l->segs[i].end;
    }
    if (keep) {
        memmove(l->segs, l->segs + keep, (l->nseg - keep) * sizeof(seg));
        l->nseg -= keep;
    }
}

int kvlog_settle(kvlog *l)
{
    if (!l->unsettled) return 0;
    int rc = cut_tail(l);
    if (rc) return rc;
    delete_leftovers(l);
    gc_segments(l); /* leftovers wholly below first */
    l->unsettled = 0;
    return 0;
}

int kvlog_write(kvlog *l, uint64_t *pos)
{
    int rc;
    if (l->broken) return l->broken;
    if (l->unsettled && (rc = kvlog_settle(l)) != 0) return rc;
    if (l->failed) {
        rc = l->failed;
        reload(l);
        return rc;
    }
    if (l->wlen == 0) {
        *pos = written_pos(l);
        return 0;
    }
    if (l->wm_n == l->wm_cap || l->wm_head + l->wm_n == l->wm_cap) {
        if (l->wm_head) { /* slide the live marks to the front */
            memmove(l->wm, l->wm + l->wm_head, l->wm_n * sizeof(*l->wm));
            l->wm_head = 0;
        }
        if (l->wm_n == l->wm_cap) {
            size_t cap = l->wm_cap;
            if (grow((void **)&l->wm, &cap, l->wm_n + 1, sizeof(*l->wm), l->wm_n))
                return fail(l, KV_ENOMEM);
            l->wm_cap = cap;
        }
    }
    seg *c = &l->segs[l->nseg - 1];
    seal_batch(l->wbuf, l->wlen - BATCH_LEN);
    if (write_all(l->fd, l->wbuf, l->wlen, c->end) != 0) {
        io_err(l, "writing", c->seq, "wal");
        reload(l); /* what the files hold */
        return KV_EIO;
    }
    uint64_t wrote = l->wlen;
    c->end += wrote;
    l->used += wrote;
    l->since_synced += wrote;
    l->wlen = 0;
    if (l->wcap > (1u << 20)) { /* a big batch: do not keep its buffer (anonymous memory) */
        free(l->wbuf);
        l->wbuf = NULL;
        l->wcap = 0;
    }
    l->wm[l->wm_head + l->wm_n++] = (struct wmark){written_pos(l), keep_seq_now(l)};
    *pos = written_pos(l);
    return 0;
}

int kvlog_sync_fd(kvlog *l)
{
    return l->fd;
}

int kvlog_synced(kvlog *l, uint64_t done)
{
    if (l->broken) return l->broken;
    if (done > l->durable_pos) l->durable_pos = done;
    uint64_t keep = 0;
    while (l->wm_n && l->wm[l->wm_head].pos <= l->durable_pos) {
        keep = l->wm[l->wm_head].keep_seq;
        l->wm_head++;
        l->wm_n--;
    }
    if (!l->wm_n) l->wm_head = 0;
    if (keep) gc_segments_below(l, keep);
    const seg *cur = &l->segs[l->nseg - 1];
    if (cur->end >= l->seg_bytes) {
        /* Everything in this segment must be on disk before the next one
         * is written to (a sync only covers the segment it was asked on). */
        uint64_t pos;
        int rc = kvlog_write(l, &pos);
        if (rc) return rc;
        if (written_pos(l) > l->durable_pos) {
            if (fdatasync(l->fd) != 0)
                return io_err(l, "fdatasync of", l->segs[l->nseg - 1].seq, "wal");
            return kvlog_synced(l, written_pos(l));
        }
        l->since_synced = 0;
        return roll(l);
    }
    if (cur->end >= l->seg_bytes / 2 && l->since_synced)
        prefill(l, l->since_synced * 2 > PREFILL_STEP ? l->since_synced * 2 : PREFILL_STEP);
    l->since_synced = 0;
    return 0;
}

int kvlog_sync(kvlog *l)
{
    uint64_t pos;
    int rc = kvlog_write(l, &pos);
    if (rc) return rc;
    if (pos <= l->durable_pos) return 0; /* nothing new */
    if (fdatasync(l->fd) != 0) {
        io_err(l, "fdatasync of", l->segs[l->nseg - 1].seq, "wal");
        reload(l); /* what the files hold; a torn batch is cut off */
        return KV_EIO;
    }
    return kvlog_synced(l, pos);
}

/* Reads the records from pos to pos + n into rbuf. */
static int read_span(kvlog *l, size_t s, uint64_t pos, uint64_t n, const unsigned char **out)
{
    const seg *sg = &l->segs[s];
    int fd = l->fd;
    if (s + 1 < l->nseg) {
        if (l->rfd < 0 || l->rseq != sg->seq) {
            char name[64];
            if (l->rfd >= 0) close(l->rfd);
            seg_name(name, sizeof(name), sg->seq, "wal");
            l->rfd = openat(l->dirfd, name, O_RDONLY | O_CLOEXEC);
            if (l->rfd < 0) return io_err(l, "opening", sg->seq, "wal");
            l->rseq = sg->seq;
        }
        fd = l->rfd;
    }
    if (n > l->rcap) {
        free(l->rbuf);
        l->rcap = 0;
        if ((l->rbuf = kv_malloc(n)) == NULL) return KV_ENOMEM;
        l->rcap = n;
    }
    *out = l->rbuf;
    int rc = read_all(fd, l->rbuf, n, pos - sg->base);
    if (rc == KV_EIO) io_err(l, "reading", sg->seq, "wal");
    return rc;
}

/* Checks that the record at p is entry index as the index describes it. */
static int check_entry(const unsigned char *p, uint64_t index, const ent *e)
{
    uint32_t n = ENTRY_BODY + e->len;
    if (get32(p) != n || p[REC_HDR] != R_ENTRY || get64(p + REC_HDR + 1) != index ||
        get64(p + REC_HDR + 9) != e->term || get32(p + 4) != crc32c(p + REC_HDR, n))
        return KV_ECORRUPT;
    return 0;
}

int kvlog_range(kvlog *l, uint64_t lo, uint64_t hi, kvlog_entry_fn fn, void *ctx)
{
    int rc = 0;
    if (l->broken) return l->broken;
    if (lo >= hi) return 0;
    if (lo < l->first || hi > l->last + 1) return KV_ENOTFOUND;
    const seg *cur = &l->segs[l->nseg - 1];
    uint64_t written = cur->base + cur->end;
    uint64_t i = lo;
    while (i < hi && rc == 0) {
        const ent *e = ent_at(l, i);
        if (e->pos >= written) { /* still in the pending batch */
            const unsigned char *p = l->wbuf + (e->pos - written) + REC_HDR + ENTRY_BODY;
            rc = fn(ctx, i, e->term, e->type, p, e->len);
            i++;
            continue;
        }
        /* A run of entries in one segment, read with one pread. */
        size_t s = seg_find(l, e->pos);
        uint64_t seg_end = l->segs[s].base + l->segs[s].end;
        uint64_t start = e->pos, end = e->pos + entry_rec_len(e->len), j = i + 1;
        for (; j < hi; j++) {
            const ent *x = ent_at(l, j);
            uint64_t xe = x->pos + entry_rec_len(x->len);
            if (x->pos < start || xe > seg_end || xe - start > RUN_MAX) break;
            if (xe > end) end = xe;
        }
        if (end > seg_end) return KV_ECORRUPT;
        const unsigned char *buf;
        if ((rc = read_span(l, s, start, end - start, &buf)) != 0) return rc;
        for (; i < j && rc == 0; i++) {
            const ent *x = ent_at(l, i);
            const unsigned char *p = buf + (x->pos - start);
            if ((rc = check_entry(p, i, x)) != 0) return rc;
            rc = fn(ctx, i, x->term, x->type, p + REC_HDR + ENTRY_BODY, x->len);
        }
    }
    return rc > 0 ? 0 : rc;
}

typedef struct get_ctx {
    uint64_t *term;
    uint8_t *type;
    void **data;
    size_t *len;
} get_ctx;

static int copy_one(void *ctx, uint64_t index, uint64_t term, uint8_t type, const void *data,
                    size_t len)
{
    get_ctx *g = ctx;
    (void)index;
    void *d = kv_malloc(len ? len : 1);
    if (!d) return KV_ENOMEM;
    if (len) memcpy(d, data, len);
    if (g->term) *g->term = term;
    if (g->type) *g->type = type;
    *g->data = d;
    *g->len = len;
    return 1;
}

int kvlog_get(kvlog *l, uint64_t index, uint64_t *term, uint8_t *type, void **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    if (index < l->first || index > l->last) return KV_ENOTFOUND;
    get_ctx g = {term, type, data, len};
    return kvlog_range(l, index, index + 1, copy_one, &g);
}

int kvlog_term(kvlog *l, uint64_t index, uint64_t *term)
{
    if (l->broken) return l->broken;
    if (index == l->first - 1) {
        *term = l->snap_term;
        return 0;
    }
    if (index < l->first || index > l->last) return KV_ENOTFOUND;
    *term = ent_at(l, index)->term;
    return 0;
}

int kvlog_set_meta(kvlog *l, const char *name, const void *v, size_t n)
{
    size_t nlen = strlen(name);
    if (l->broken) return l->broken;
    if (nlen == 0 || nlen > META_NAME_MAX || n > META_VALUE_MAX || (n && !v)) return KV_EINVAL;
    if (l->failed) return l->failed;
    int rc = meta_set(l, name, nlen, v, (uint32_t)n);
    if (!rc) rc = put_meta(l, meta_find(l, name, nlen));
    return rc ? fail(l, rc) : 0;
}

int kvlog_get_meta(kvlog *l, const char *name, void **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (l->broken) return l->broken;
    const meta *m = meta_find(l, name, strlen(name));
    if (!m) return KV_ENOTFOUND;
    void *d = kv_malloc(m->n ? m->n : 1);
    if (!d) return KV_ENOMEM;
    if (m->n) memcpy(d, m->v, m->n);
    *out = d;
    *n = m->n;
    return 0;
}

uint64_t kvlog_snapshot_index(kvlog *l)
{
    return l->snap_index;
}

uint64_t kvlog_snapshot_term(kvlog *l)
{
    return l->snap_term;
}

uint64_t kvlog_bytes(kvlog *l)
{
    return l->ent_bytes;
}

int kvlog_used_pct(kvlog *l)
{
    double pct = l->mapsize ? (double)l->used * 100.0 / (double)l->mapsize : 100.0;
    return pct >= 100.0 ? 100 : (int)pct;
}

const char *kvlog_last_error(const kvlog *l)
{
    return l->errmsg;
}

const char *kvlog_open_notes(const kvlog *l)
{
    return l->notes;
}

void kvlog_sync_file(const kvlog *l, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%016llx.wal", l->path, (unsigned long long)l->segs[l->nseg - 1].seq);
}
