/* Reading and writing Redis RDB files (versions 1 to 10, as redis-server 7.0
 * writes them), for raftkv-rdb.
 *
 * The reader is pure: it walks a file held in memory and hands each key to
 * a callback with its value's bytes left unparsed (the RDB value encoding is
 * exactly what DUMP and RESTORE carry, so a value is passed through, never
 * decoded). It parses each value only far enough to know where it ends, and
 * checks every length against the bytes left before using it, so a truncated
 * or corrupt file is an error with the offset where it was found, never a
 * read past the end.
 *
 * The writer streams an RDB v10 file to a FILE*, keeping the CRC64 of what it
 * wrote for the trailer. */
#ifndef RAFTKV_TOOLS_RDBFILE_H
#define RAFTKV_TOOLS_RDBFILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The newest RDB version this tool reads and the one it writes (Redis 7.0). */
#define RDB_VERSION_MAX 10

/* RDB value types (rdb.h of Redis 7.0). */
enum {
    RDB_TYPE_STRING = 0,
    RDB_TYPE_LIST = 1,
    RDB_TYPE_SET = 2,
    RDB_TYPE_ZSET = 3,
    RDB_TYPE_HASH = 4,
    RDB_TYPE_ZSET_2 = 5,
    RDB_TYPE_MODULE = 6,
    RDB_TYPE_MODULE_2 = 7,
    RDB_TYPE_HASH_ZIPMAP = 9,
    RDB_TYPE_LIST_ZIPLIST = 10,
    RDB_TYPE_SET_INTSET = 11,
    RDB_TYPE_ZSET_ZIPLIST = 12,
    RDB_TYPE_HASH_ZIPLIST = 13,
    RDB_TYPE_LIST_QUICKLIST = 14,
    RDB_TYPE_STREAM_LISTPACKS = 15,
    RDB_TYPE_HASH_LISTPACK = 16,
    RDB_TYPE_ZSET_LISTPACK = 17,
    RDB_TYPE_LIST_QUICKLIST_2 = 18,
    RDB_TYPE_STREAM_LISTPACKS_2 = 19,
};

/* One key of the file. Every pointer is borrowed and valid only during the
 * callback: key may point into the reader's scratch buffer (a compressed or
 * integer-encoded key), value points into the file's buffer. */
typedef struct rdb_entry {
    uint64_t db;
    const unsigned char *key;
    size_t keylen;
    int64_t expire_ms; /* absolute Unix time in ms, -1 when the key has none */
    int64_t idle;      /* LRU idle seconds, -1 when the file has none */
    int freq;          /* LFU counter, -1 when the file has none */
    unsigned char type;
    const unsigned char *value; /* the value's bytes after the type byte */
    size_t valuelen;
} rdb_entry;

/* Callbacks, any of them NULL to ignore that item. A callback returns 0 to
 * go on, or a positive value that stops the walk and that rdb_parse returns. */
typedef struct rdb_handler {
    int (*aux)(void *ctx, const unsigned char *name, size_t namelen, const unsigned char *val,
               size_t vallen);
    int (*entry)(void *ctx, const rdb_entry *e);
    /* A function library (RDB_OPCODE_FUNCTION2): its source code. */
    int (*function)(void *ctx, const unsigned char *code, size_t codelen);
} rdb_handler;

/* What a complete walk found. */
typedef struct rdb_summary {
    int version;
    uint64_t keys;
    uint64_t keys_with_expiry;
    uint64_t functions;
    int checksum_checked; /* 0 for a file without one (version < 5, or written with rdbchecksum no)
                           */
} rdb_summary;

#define RDB_ERR_FORMAT (-1) /* the file is not a valid RDB file; err says why and where */
#define RDB_ERR_NOMEM (-2)

/* Walks buf[0..len): header, aux fields, databases, EOF and CRC64 trailer
 * (checked before any callback runs, when the file has one). Returns 0 on
 * success, RDB_ERR_FORMAT or RDB_ERR_NOMEM with a message in err, or the
 * first non-zero callback return. sum may be NULL. */
int rdb_parse(const unsigned char *buf, size_t len, const rdb_handler *h, void *ctx,
              rdb_summary *sum, char *err, size_t errlen);

/* Streams an RDB file. Every call returns 0, or -1 once a write failed
 * (errno is set; later calls do nothing and return -1). */
typedef struct rdb_writer {
    FILE *f;
    uint64_t crc;
    int failed;
} rdb_writer;

void rdb_writer_init(rdb_writer *w, FILE *f);
/* "REDIS0010" and the aux fields redis-server writes first. */
int rdb_write_header(rdb_writer *w, const char *redis_ver);
int rdb_write_aux(rdb_writer *w, const char *name, const char *val);
/* SELECTDB db, then RESIZEDB with the two size hints. */
int rdb_write_select(rdb_writer *w, uint64_t db, uint64_t keys_hint, uint64_t expires_hint);
/* One key: EXPIRETIME_MS when expire_ms >= 0, the type, the key, and the
 * value's bytes as DUMP carries them (without DUMP's 10-byte footer). */
int rdb_write_entry(rdb_writer *w, int64_t expire_ms, unsigned char type, const void *key,
                    size_t keylen, const void *value, size_t valuelen);
/* EOF and the CRC64 trailer; the caller flushes and closes f. */
int rdb_write_end(rdb_writer *w);

/* A DUMP payload: value bytes, RDB version (2 bytes LE), CRC64 of both
 * (8 bytes LE). Checks the footer; on success sets *type, *value (borrowed
 * from p, after the type byte), *valuelen and *version. Returns 0, or -1
 * with a message in err. */
int rdb_dump_payload_split(const unsigned char *p, size_t n, unsigned char *type,
                           const unsigned char **value, size_t *valuelen, int *version, char *err,
                           size_t errlen);

#endif
