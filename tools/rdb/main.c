/* raftkv-rdb: moves data between an RDB file and a running server (RaftKV
 * or Redis), through ordinary commands.
 *
 *   import: every key of the file becomes SELECT db + RESTORE key ttl
 *           payload ABSTTL REPLACE, pipelined in bounded batches, so on
 *           RaftKV each write goes through the Raft log like any other.
 *   export: SCAN every database, PTTL + DUMP each key, and write an RDB v10
 *           file that redis-server 7.0 loads. Keys written while the export
 *           runs may or may not be in it: it is not a point-in-time snapshot
 *           (BGSAVE's backup is).
 */
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tools/rdb/crc64.h"
#include "tools/rdb/rdbfile.h"

#define DEFAULT_BATCH 500
#define MAX_BATCH 100000
#define SCAN_COUNT 1000
#define REPLY_TIMEOUT_S 300
/* A batch also ends once its commands hold this many bytes, so a file of
 * large values does not pile up in the output buffer. */
#define BATCH_BYTES (64u << 20)

typedef struct options {
    const char *cmd, *file, *host, *password, *user;
    int port, batch, quiet;
} options;

static void usage(FILE *to)
{
    fprintf(to,
            "usage: raftkv-rdb import FILE [-h HOST] [-p PORT] [-a PASSWORD] [--user USER]\n"
            "                  [--batch N] [-q]\n"
            "       raftkv-rdb export FILE [-h HOST] [-p PORT] [-a PASSWORD] [--user USER] [-q]\n"
            "       raftkv-rdb check FILE\n"
            "\n"
            "import  loads an RDB file (version 1 to 10, as Redis up to 7.0 writes it) into a\n"
            "        running server: SELECT + RESTORE key ttl payload ABSTTL REPLACE for every\n"
            "        key, N commands per round trip (--batch, default %d). Keys already\n"
            "        expired are skipped. The file is checked whole (structure, EOF, CRC64)\n"
            "        before the first command is sent.\n"
            "export  writes every key of every database (SCAN, PTTL, DUMP) as an RDB v10 file\n"
            "        that redis-server 7.0 loads. Not a point-in-time snapshot: keys changed\n"
            "        during the export may appear in either state. Written to FILE.tmp,\n"
            "        fsynced, then renamed to FILE.\n"
            "check   checks a file and prints what it holds.\n"
            "Defaults: -h 127.0.0.1 -p 6379. Progress goes to stderr (-q: only errors).\n"
            "Exit status: 0 done, 1 a server error, 2 a usage or file error.\n",
            DEFAULT_BATCH);
}

static int parse_args(int argc, char **argv, options *o)
{
    *o = (options){.host = "127.0.0.1", .port = 6379, .batch = DEFAULT_BATCH};
    if (argc < 2) return -1;
    o->cmd = argv[1];
    if (!strcmp(o->cmd, "--help") || !strcmp(o->cmd, "help")) {
        usage(stdout);
        exit(0);
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-q")) {
            o->quiet = 1;
        } else if (!strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else if (a[0] == '-' && a[1] && v == NULL) {
            fprintf(stderr, "raftkv-rdb: %s needs a value\n", a);
            return -1;
        } else if (!strcmp(a, "-h")) {
            o->host = argv[++i];
        } else if (!strcmp(a, "-p")) {
            char *end;
            long p = strtol(argv[++i], &end, 10);
            if (*end || p <= 0 || p > 65535) {
                fprintf(stderr, "raftkv-rdb: bad port '%s'\n", argv[i]);
                return -1;
            }
            o->port = (int)p;
        } else if (!strcmp(a, "-a")) {
            o->password = argv[++i];
        } else if (!strcmp(a, "--user")) {
            o->user = argv[++i];
        } else if (!strcmp(a, "--batch")) {
            char *end;
            long b = strtol(argv[++i], &end, 10);
            if (*end || b < 1 || b > MAX_BATCH) {
                fprintf(stderr, "raftkv-rdb: --batch must be 1 to %d\n", MAX_BATCH);
                return -1;
            }
            o->batch = (int)b;
        } else if (a[0] == '-') {
            fprintf(stderr, "raftkv-rdb: unknown option '%s'\n", a);
            return -1;
        } else if (!o->file) {
            o->file = a;
        } else {
            fprintf(stderr, "raftkv-rdb: unexpected argument '%s'\n", a);
            return -1;
        }
    }
    if (!o->file) {
        fprintf(stderr, "raftkv-rdb: no FILE given\n");
        return -1;
    }
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- connection ---- */

static redisContext *connect_server(const options *o)
{
    struct timeval tv = {10, 0};
    redisContext *c = redisConnectWithTimeout(o->host, o->port, tv);
    if (!c || c->err) {
        fprintf(stderr, "raftkv-rdb: cannot connect to %s:%d: %s\n", o->host, o->port,
                c ? c->errstr : "out of memory");
        if (c) redisFree(c);
        return NULL;
    }
    /* The connect timeout also became the reply timeout: a batch of large
     * values through a cluster's log can take longer than a connect. */
    struct timeval reply_tv = {REPLY_TIMEOUT_S, 0};
    redisSetTimeout(c, reply_tv);
    if (o->password) {
        redisReply *r = o->user ? redisCommand(c, "AUTH %s %s", o->user, o->password)
                                : redisCommand(c, "AUTH %s", o->password);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            fprintf(stderr, "raftkv-rdb: AUTH failed: %s\n", r ? r->str : c->errstr);
            if (r) freeReplyObject(r);
            redisFree(c);
            return NULL;
        }
        freeReplyObject(r);
    }
    return c;
}

/* ---- a growable byte buffer ---- */

typedef struct buf {
    unsigned char *p;
    size_t len, cap;
} buf;

static int buf_put(buf *b, const void *p, size_t n)
{
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n)
            cap *= 2;
        unsigned char *q = realloc(b->p, cap);
        if (!q) return -1;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

/* ---- import ---- */

typedef struct pending {
    uint64_t db;
    size_t keyoff, keylen; /* into importer.keys; keylen SIZE_MAX for a SELECT */
} pending;

typedef struct importer {
    const options *o;
    redisContext *c;
    int version;
    const unsigned char *base; /* the file, to tell progress in bytes */
    size_t filelen;
    int64_t now_ms;
    uint64_t db;
    int db_selected;
    pending *pend;
    int npend;
    size_t pend_bytes;
    buf keys; /* the batch's key names, for error messages */
    buf payload;
    uint64_t sent, expired, bytes, functions;
    double start, last_progress;
} importer;

static void progress(importer *im, int final)
{
    if (im->o->quiet) return;
    double t = now_s(), el = t - im->start;
    if (!final && t - im->last_progress < 1.0) return;
    im->last_progress = t;
    fprintf(stderr,
            "\rimport: %" PRIu64 " keys, %.1f of %.1f MB (%.0f%%), %.0f keys/s, %" PRIu64
            " expired skipped%s",
            im->sent, im->bytes / 1e6, im->filelen / 1e6,
            im->filelen ? 100.0 * im->bytes / im->filelen : 100.0, el > 0 ? im->sent / el : 0.0,
            im->expired, final ? "\n" : "");
    fflush(stderr);
}

/* Reads the replies of the batch; the first error stops the import. */
static int drain(importer *im)
{
    int rc = 0;
    for (int i = 0; i < im->npend; i++) {
        redisReply *r = NULL;
        if (redisGetReply(im->c, (void **)&r) != REDIS_OK) {
            fprintf(stderr, "\nraftkv-rdb: connection lost: %s\n", im->c->errstr);
            return 1;
        }
        if (r->type == REDIS_REPLY_ERROR && !rc) {
            pending *p = &im->pend[i];
            if (p->keylen == SIZE_MAX)
                fprintf(stderr, "\nraftkv-rdb: SELECT %" PRIu64 " failed: %s\n", p->db, r->str);
            else
                fprintf(stderr, "\nraftkv-rdb: RESTORE of key '%.*s' (db %" PRIu64 ") failed: %s\n",
                        (int)(p->keylen > 200 ? 200 : p->keylen),
                        (const char *)im->keys.p + p->keyoff, p->db, r->str);
            rc = 1;
        }
        freeReplyObject(r);
    }
    im->npend = 0;
    im->pend_bytes = 0;
    im->keys.len = 0;
    return rc;
}

static int queue(importer *im, int argc, const char **argv, const size_t *argvlen, uint64_t db,
                 const unsigned char *key, size_t keylen)
{
    if (redisAppendCommandArgv(im->c, argc, argv, argvlen) != REDIS_OK) {
        fprintf(stderr, "raftkv-rdb: %s\n", im->c->errstr);
        return 1;
    }
    for (int i = 0; i < argc; i++)
        im->pend_bytes += argvlen[i];
    pending *p = &im->pend[im->npend++];
    p->db = db;
    p->keyoff = im->keys.len;
    p->keylen = key ? keylen : SIZE_MAX;
    if (key && buf_put(&im->keys, key, keylen)) {
        fprintf(stderr, "raftkv-rdb: out of memory\n");
        return 1;
    }
    if (im->npend >= im->o->batch || im->pend_bytes >= BATCH_BYTES) return drain(im);
    return 0;
}

static int on_entry(void *ctx, const rdb_entry *e)
{
    importer *im = ctx;
    im->bytes = (uint64_t)(e->value + e->valuelen - im->base);
    if (e->expire_ms >= 0 && e->expire_ms <= im->now_ms) {
        im->expired++;
        return 0;
    }
    if (!im->db_selected || e->db != im->db) {
        char dbs[24];
        snprintf(dbs, sizeof dbs, "%" PRIu64, e->db);
        const char *argv[] = {"SELECT", dbs};
        size_t argvlen[] = {6, strlen(dbs)};
        if (queue(im, 2, argv, argvlen, e->db, NULL, 0)) return 1;
        im->db = e->db;
        im->db_selected = 1;
    }
    /* The RESTORE payload: type, value, RDB version (LE), CRC64 (LE). */
    unsigned char ver[2] = {(unsigned char)im->version, (unsigned char)(im->version >> 8)};
    im->payload.len = 0;
    if (buf_put(&im->payload, &e->type, 1) || buf_put(&im->payload, e->value, e->valuelen) ||
        buf_put(&im->payload, ver, 2)) {
        fprintf(stderr, "raftkv-rdb: out of memory\n");
        return 1;
    }
    uint64_t crc = rdb_crc64(0, im->payload.p, im->payload.len);
    unsigned char crcb[8];
    for (int i = 0; i < 8; i++)
        crcb[i] = (unsigned char)(crc >> (8 * i));
    if (buf_put(&im->payload, crcb, 8)) {
        fprintf(stderr, "raftkv-rdb: out of memory\n");
        return 1;
    }
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%" PRId64, e->expire_ms >= 0 ? e->expire_ms : 0);
    const char *argv[] = {
        "RESTORE", (const char *)e->key, ttl, (const char *)im->payload.p, "ABSTTL", "REPLACE"};
    size_t argvlen[] = {7, e->keylen, strlen(ttl), im->payload.len, 6, 7};
    if (queue(im, 6, argv, argvlen, e->db, e->key, e->keylen)) return 1;
    im->sent++;
    progress(im, 0);
    return 0;
}

static int on_function(void *ctx, const unsigned char *code, size_t codelen)
{
    importer *im = ctx;
    (void)code;
    (void)codelen;
    im->functions++;
    return 0;
}

static int map_file(const char *path, const unsigned char **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "raftkv-rdb: %s: %s\n", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        fprintf(stderr, "raftkv-rdb: %s: %s\n", path, strerror(errno));
        close(fd);
        return -1;
    }
    *len = (size_t)st.st_size;
    if (*len == 0) {
        *data = (const unsigned char *)"";
        close(fd);
        return 0;
    }
    void *p = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        fprintf(stderr, "raftkv-rdb: %s: mmap: %s\n", path, strerror(errno));
        return -1;
    }
    *data = p;
    return 0;
}

static void unmap_file(const unsigned char *data, size_t len)
{
    if (len) munmap((void *)data, len);
}

static int check_file(const options *o, const unsigned char *data, size_t len, rdb_summary *s)
{
    char err[512];
    int rc = rdb_parse(data, len, NULL, NULL, s, err, sizeof err);
    if (rc) {
        fprintf(stderr, "raftkv-rdb: %s: %s\n", o->file,
                rc == RDB_ERR_NOMEM ? "out of memory" : err);
        return -1;
    }
    return 0;
}

static int cmd_check(const options *o)
{
    const unsigned char *data;
    size_t len;
    rdb_summary s;
    if (map_file(o->file, &data, &len)) return 2;
    int rc = check_file(o, data, len, &s) ? 2 : 0;
    if (!rc)
        printf("%s: RDB version %d, %" PRIu64 " keys (%" PRIu64 " with an expiry), %" PRIu64
               " function libraries, checksum %s\n",
               o->file, s.version, s.keys, s.keys_with_expiry, s.functions,
               s.checksum_checked ? "ok" : "absent");
    unmap_file(data, len);
    return rc;
}

static int cmd_import(const options *o)
{
    const unsigned char *data;
    size_t len;
    rdb_summary s;
    int rc = 2;
    if (map_file(o->file, &data, &len)) return 2;
    if (check_file(o, data, len, &s)) goto out_unmap;
    importer im = {.o = o, .version = s.version, .base = data, .filelen = len, .now_ms = unix_ms()};
    im.pend = calloc((size_t)o->batch + 1, sizeof *im.pend);
    if (!im.pend) {
        fprintf(stderr, "raftkv-rdb: out of memory\n");
        goto out_unmap;
    }
    im.c = connect_server(o);
    if (!im.c) {
        rc = 1;
        goto out_free;
    }
    im.start = im.last_progress = now_s();
    rdb_handler h = {.entry = on_entry, .function = on_function};
    char err[512];
    int prc = rdb_parse(data, len, &h, &im, NULL, err, sizeof err);
    if (prc == 0 && im.npend) prc = drain(&im);
    if (prc < 0) {
        fprintf(stderr, "raftkv-rdb: %s: %s\n", o->file, err);
        rc = 2;
    } else if (prc > 0) {
        rc = 1;
    } else {
        im.bytes = len;
        progress(&im, 1);
        if (im.functions)
            fprintf(stderr,
                    "raftkv-rdb: %" PRIu64 " function libraries in the file were not imported "
                    "(load them with FUNCTION LOAD)\n",
                    im.functions);
        rc = 0;
    }
    redisFree(im.c);
out_free:
    free(im.pend);
    free(im.keys.p);
    free(im.payload.p);
out_unmap:
    unmap_file(data, len);
    return rc;
}

/* ---- export ---- */

/* The keys of one database already written: SCAN may return a key twice, and
 * redis-server refuses a file with a duplicate key. Open addressing. */
typedef struct keyset {
    struct slot {
        uint64_t h;
        char *key;
        size_t len;
    } * slots;
    size_t cap, n;
} keyset;

static uint64_t hash_bytes(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ULL;
    return h | 1; /* 0 marks an empty slot */
}

static void keyset_clear(keyset *s)
{
    for (size_t i = 0; i < s->cap; i++)
        free(s->slots[i].key);
    free(s->slots);
    *s = (keyset){0};
}

/* Returns 1 if added, 0 if it was there, -1 out of memory. */
static int keyset_add(keyset *s, const char *key, size_t len)
{
    if ((s->n + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        struct slot *ns = calloc(cap, sizeof *ns);
        if (!ns) return -1;
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->slots[i].h) continue;
            size_t j = s->slots[i].h & (cap - 1);
            while (ns[j].h)
                j = (j + 1) & (cap - 1);
            ns[j] = s->slots[i];
        }
        free(s->slots);
        s->slots = ns;
        s->cap = cap;
    }
    uint64_t h = hash_bytes(key, len);
    size_t j = h & (s->cap - 1);
    while (s->slots[j].h) {
        if (s->slots[j].h == h && s->slots[j].len == len && !memcmp(s->slots[j].key, key, len))
            return 0;
        j = (j + 1) & (s->cap - 1);
    }
    char *copy = malloc(len ? len : 1);
    if (!copy) return -1;
    memcpy(copy, key, len);
    s->slots[j] = (struct slot){h, copy, len};
    s->n++;
    return 1;
}

static redisReply *command_or_die(redisContext *c, const char *what, redisReply *r)
{
    if (!r)
        fprintf(stderr, "raftkv-rdb: %s: %s\n", what, c->errstr);
    else if (r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "raftkv-rdb: %s: %s\n", what, r->str);
        freeReplyObject(r);
        r = NULL;
    }
    return r;
}

static long databases(redisContext *c)
{
    long n = 16;
    redisReply *r = redisCommand(c, "CONFIG GET databases");
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[1]->type == REDIS_REPLY_STRING)
        n = strtol(r->element[1]->str, NULL, 10);
    if (r) freeReplyObject(r);
    return n > 0 ? n : 16;
}

typedef struct exporter {
    const options *o;
    redisContext *c;
    rdb_writer w;
    uint64_t keys, vanished, bytes;
    double start, last_progress;
} exporter;

static void export_progress(exporter *ex, int final)
{
    if (ex->o->quiet) return;
    double t = now_s(), el = t - ex->start;
    if (!final && t - ex->last_progress < 1.0) return;
    ex->last_progress = t;
    fprintf(stderr, "\rexport: %" PRIu64 " keys, %.1f MB, %.0f keys/s%s", ex->keys, ex->bytes / 1e6,
            el > 0 ? ex->keys / el : 0.0, final ? "\n" : "");
    fflush(stderr);
}

/* PTTL + DUMP for each new key of one SCAN page, pipelined, then the entries. */
static int export_page(exporter *ex, redisReply *keys, keyset *seen)
{
    size_t n = keys->elements, m = 0;
    redisReply **todo = calloc(n ? n : 1, sizeof *todo);
    if (!todo) return -1;
    for (size_t i = 0; i < n; i++) {
        redisReply *k = keys->element[i];
        int added = keyset_add(seen, k->str, k->len);
        if (added < 0) {
            free(todo);
            return -1;
        }
        if (!added) continue;
        todo[m++] = k;
        redisAppendCommand(ex->c, "PTTL %b", k->str, k->len);
        redisAppendCommand(ex->c, "DUMP %b", k->str, k->len);
    }
    int rc = 0;
    for (size_t i = 0; i < m; i++) {
        redisReply *ttl = NULL, *dump = NULL;
        if (redisGetReply(ex->c, (void **)&ttl) != REDIS_OK ||
            redisGetReply(ex->c, (void **)&dump) != REDIS_OK) {
            fprintf(stderr, "\nraftkv-rdb: connection lost: %s\n", ex->c->errstr);
            if (ttl) freeReplyObject(ttl);
            free(todo);
            return -1;
        }
        redisReply *k = todo[i];
        if (rc) {
            /* after an error, only read the replies already asked for */
        } else if (ttl->type != REDIS_REPLY_INTEGER ||
                   (dump->type != REDIS_REPLY_STRING && dump->type != REDIS_REPLY_NIL)) {
            fprintf(stderr, "\nraftkv-rdb: PTTL/DUMP of key '%.*s' failed: %s\n", (int)k->len,
                    k->str,
                    ttl->type == REDIS_REPLY_ERROR    ? ttl->str
                    : dump->type == REDIS_REPLY_ERROR ? dump->str
                                                      : "unexpected reply");
            rc = -1;
        } else if (ttl->integer == -2 || dump->type == REDIS_REPLY_NIL) {
            ex->vanished++; /* deleted or expired while the export ran */
        } else {
            unsigned char type;
            const unsigned char *val;
            size_t vlen;
            int ver;
            char err[200];
            int64_t expire = ttl->integer >= 0 ? unix_ms() + ttl->integer : -1;
            if (rdb_dump_payload_split((const unsigned char *)dump->str, dump->len, &type, &val,
                                       &vlen, &ver, err, sizeof err)) {
                fprintf(stderr, "\nraftkv-rdb: DUMP of key '%.*s': %s\n", (int)k->len, k->str, err);
                rc = -1;
            } else if (ver > RDB_VERSION_MAX) {
                fprintf(stderr,
                        "\nraftkv-rdb: DUMP of key '%.*s' is RDB version %d; an RDB v%d file "
                        "cannot hold it\n",
                        (int)k->len, k->str, ver, RDB_VERSION_MAX);
                rc = -1;
            } else if (rdb_write_entry(&ex->w, expire, type, k->str, k->len, val, vlen)) {
                fprintf(stderr, "\nraftkv-rdb: %s: write: %s\n", ex->o->file, strerror(errno));
                rc = -1;
            } else {
                ex->keys++;
                ex->bytes += vlen + k->len;
            }
        }
        freeReplyObject(ttl);
        freeReplyObject(dump);
    }
    free(todo);
    export_progress(ex, 0);
    return rc;
}

static int export_db(exporter *ex, long db)
{
    redisReply *r = command_or_die(ex->c, "SELECT", redisCommand(ex->c, "SELECT %ld", db));
    if (!r) return -1;
    freeReplyObject(r);
    r = command_or_die(ex->c, "DBSIZE", redisCommand(ex->c, "DBSIZE"));
    if (!r) return -1;
    long long size = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    freeReplyObject(r);
    if (size <= 0) return 0;
    if (rdb_write_select(&ex->w, (uint64_t)db, (uint64_t)size, 0)) {
        fprintf(stderr, "raftkv-rdb: %s: write: %s\n", ex->o->file, strerror(errno));
        return -1;
    }
    keyset seen = {0};
    char cursor[32] = "0";
    int rc = 0;
    do {
        r = command_or_die(ex->c, "SCAN",
                           redisCommand(ex->c, "SCAN %s COUNT %d", cursor, SCAN_COUNT));
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            if (r) {
                fprintf(stderr, "raftkv-rdb: SCAN: unexpected reply\n");
                freeReplyObject(r);
            }
            rc = -1;
            break;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        rc = export_page(ex, r->element[1], &seen);
        freeReplyObject(r);
    } while (!rc && strcmp(cursor, "0"));
    keyset_clear(&seen);
    return rc;
}

static int cmd_export(const options *o)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", o->file) >= (int)sizeof tmp) {
        fprintf(stderr, "raftkv-rdb: path too long\n");
        return 2;
    }
    exporter ex = {.o = o};
    ex.c = connect_server(o);
    if (!ex.c) return 1;
    int rc = 1;
    FILE *f = fopen(tmp, "wbx");
    if (!f && errno == EEXIST) {
        unlink(tmp);
        f = fopen(tmp, "wbx");
    }
    if (!f) {
        fprintf(stderr, "raftkv-rdb: %s: %s\n", tmp, strerror(errno));
        rc = 2;
        goto out_conn;
    }
    rdb_writer_init(&ex.w, f);
    ex.start = ex.last_progress = now_s();
    if (rdb_write_header(&ex.w, "7.0.15") || rdb_write_aux(&ex.w, "raftkv-export", "1")) {
        fprintf(stderr, "raftkv-rdb: %s: write: %s\n", tmp, strerror(errno));
        goto out_file;
    }
    long ndb = databases(ex.c);
    for (long db = 0; db < ndb; db++)
        if (export_db(&ex, db)) goto out_file;
    if (rdb_write_end(&ex.w) || fflush(f) || fsync(fileno(f))) {
        fprintf(stderr, "raftkv-rdb: %s: write: %s\n", tmp, strerror(errno));
        goto out_file;
    }
    if (fclose(f)) {
        f = NULL;
        fprintf(stderr, "raftkv-rdb: %s: close: %s\n", tmp, strerror(errno));
        goto out_file;
    }
    f = NULL;
    if (rename(tmp, o->file)) {
        fprintf(stderr, "raftkv-rdb: rename %s to %s: %s\n", tmp, o->file, strerror(errno));
        goto out_file;
    }
    export_progress(&ex, 1);
    if (!o->quiet && ex.vanished)
        fprintf(stderr, "raftkv-rdb: %" PRIu64 " keys were deleted or expired during the export\n",
                ex.vanished);
    rc = 0;
out_file:
    if (f) fclose(f);
    if (rc) unlink(tmp);
out_conn:
    redisFree(ex.c);
    return rc;
}

int main(int argc, char **argv)
{
    options o;
    if (parse_args(argc, argv, &o)) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(o.cmd, "import")) return cmd_import(&o);
    if (!strcmp(o.cmd, "export")) return cmd_export(&o);
    if (!strcmp(o.cmd, "check")) return cmd_check(&o);
    fprintf(stderr, "raftkv-rdb: unknown command '%s'\n", o.cmd);
    usage(stderr);
    return 2;
}
