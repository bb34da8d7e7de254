/* kvcmd.c -- the data command table and the checks that do not depend on
 * the data (kvcmd.h). Names, arities, flags and key positions are Redis
 * 7.0's, as COMMAND INFO reports them. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "storage/kvcmd.h"
#include "storage/kvcmd_int.h"
#include "storage/kvint.h"
#include "storage/kvks.h"

/* ------------------------------------------------------------ parsers */

int kv_getll(const char *s, size_t len, long long *v, resp_buf *err)
{
    if (!kv_string2ll(s, len, v)) {
        if (err) resp_add_error(err, ERR_NOTINT);
        return -1;
    }
    return 0;
}

static void expire_time_error(resp_buf *err, const char *cmdname)
{
    resp_add_errorf(err, "ERR invalid expire time in '%s' command", cmdname);
}

int kv_parse_expire_value(const char *s, size_t len, int seconds, const char *cmdname,
                          long long *ms, resp_buf *err)
{
    long long v;
    if (kv_getll(s, len, &v, err) != 0) return -1;
    if (v <= 0 || (seconds && v > LLONG_MAX / 1000)) {
        expire_time_error(err, cmdname);
        return -1;
    }
    *ms = seconds ? v * 1000 : v;
    return 0;
}

static int is2(const char *s, size_t n, char a, char b)
{
    return n == 2 && (s[0] == a || s[0] == a + 32) && (s[1] == b || s[1] == b + 32);
}

int kv_parse_set(int argc, char **argv, size_t *argvlen, int first, int is_getex,
                 const char *cmdname, kv_setopts *o, resp_buf *err)
{
    const int any_exp = SET_EX | SET_PX | SET_EXAT | SET_PXAT;
    const char *expire = NULL;
    size_t expirelen = 0;
    int f = 0;

    memset(o, 0, sizeof(*o));
    for (int j = first; j < argc; j++) {
        const char *opt = argv[j];
        size_t n = argvlen[j];
        int more = j < argc - 1;
        int exbit = 0;

        if (!is_getex && is2(opt, n, 'N', 'X') && !(f & SET_XX)) {
            f |= SET_NX;
        } else if (!is_getex && is2(opt, n, 'X', 'X') && !(f & SET_NX)) {
            f |= SET_XX;
        } else if (!is_getex && kv_streqci(opt, n, "GET")) {
            f |= SET_GET;
        } else if (!is_getex && kv_streqci(opt, n, "KEEPTTL") && !(f & SET_PERSIST) &&
                   !(f & any_exp)) {
            f |= SET_KEEPTTL;
        } else if (is_getex && kv_streqci(opt, n, "PERSIST") && !(f & any_exp) &&
                   !(f & SET_KEEPTTL)) {
            f |= SET_PERSIST;
        } else if (is2(opt, n, 'E', 'X')) {
            exbit = SET_EX;
        } else if (is2(opt, n, 'P', 'X')) {
            exbit = SET_PX;
        } else if (kv_streqci(opt, n, "EXAT")) {
            exbit = SET_EXAT;
        } else if (kv_streqci(opt, n, "PXAT")) {
            exbit = SET_PXAT;
        } else {
            resp_add_error(err, ERR_SYNTAX);
            return -1;
        }
        if (exbit) {
            /* Redis: an expiry option excludes KEEPTTL, PERSIST and the
             * other three units (the same unit twice is allowed). */
            if ((f & (SET_KEEPTTL | SET_PERSIST)) || (f & any_exp & ~exbit) || !more) {
                resp_add_error(err, ERR_SYNTAX);
                return -1;
            }
            f |= exbit;
            expire = argv[j + 1];
            expirelen = argvlen[j + 1];
            j++;
        }
    }
    o->flags = f;
    if (expire && is_getex) {
        o->has_expire = 1;
        o->expire = expire;
        o->expirelen = expirelen;
    } else if (expire) {
        int seconds = (f & (SET_EX | SET_EXAT)) != 0;
        if (kv_parse_expire_value(expire, expirelen, seconds, cmdname, &o->when, err) != 0)
            return -1;
        o->has_expire = 1;
    }
    return 0;
}

int kv_parse_expire(int argc, char **argv, size_t *argvlen, int seconds, const char *cmdname,
                    int *flags, long long *when, resp_buf *err)
{
    int f = 0;
    for (int j = 3; j < argc; j++) {
        if (kv_streqci(argv[j], argvlen[j], "nx"))
            f |= EXP_NX;
        else if (kv_streqci(argv[j], argvlen[j], "xx"))
            f |= EXP_XX;
        else if (kv_streqci(argv[j], argvlen[j], "gt"))
            f |= EXP_GT;
        else if (kv_streqci(argv[j], argvlen[j], "lt"))
            f |= EXP_LT;
        else {
            resp_add_errorf(err, "ERR Unsupported option %s", argv[j]);
            return -1;
        }
    }
    if ((f & EXP_NX) && (f & (EXP_XX | EXP_GT | EXP_LT))) {
        resp_add_error(err, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return -1;
    }
    if ((f & EXP_GT) && (f & EXP_LT)) {
        resp_add_error(err, "ERR GT and LT options at the same time are not compatible");
        return -1;
    }
    long long v;
    if (kv_getll(argv[2], argvlen[2], &v, err) != 0) return -1;
    if (seconds) {
        if (v > LLONG_MAX / 1000 || v < LLONG_MIN / 1000) {
            expire_time_error(err, cmdname);
            return -1;
        }
        v *= 1000;
    }
    *flags = f;
    *when = v;
    return 0;
}

int kv_parse_timeout(const char *s, size_t len, int64_t *ms, resp_buf *err)
{
    long double v;
    if (!kv_string2ld(s, len, &v)) {
        if (err) resp_add_error(err, "ERR timeout is not a float or out of range");
        return -1;
    }
    v = ceill(v * 1000.0L);
    /* Redis casts to long long: out of its range x86 gives LLONG_MIN,
     * reported as negative; -0 is 0. */
    if (!(v < 9223372036854775808.0L) || v < 0) {
        if (err) resp_add_error(err, "ERR timeout is negative");
        return -1;
    }
    *ms = (int64_t)v;
    return 0;
}

/* XREAD / XREADGROUP: BLOCK's argument and the keys after STREAMS. 0 or
 * -1 (not a stream read, or no BLOCK). */
static int stream_block_args(const kv_command *cmd, int argc, char **argv, size_t *argvlen,
                             kv_block_args *a)
{
    if (!cmd || kv_command_keyrule(cmd) != KV_KEYS_STREAMS) return -1;
    int timeout = 0;
    for (int i = 1; i < argc; i++) {
        if (kv_streqci(argv[i], argvlen[i], "streams")) {
            int n = (argc - i - 1) / 2;
            if (!timeout || n < 1) return -1;
            *a = (kv_block_args){timeout, i + 1, n};
            return 0;
        }
        if (kv_streqci(argv[i], argvlen[i], "block") && i + 1 < argc)
            timeout = ++i;
        else if (kv_streqci(argv[i], argvlen[i], "count"))
            i++;
        else if (kv_streqci(argv[i], argvlen[i], "group"))
            i += 2;
    }
    return -1;
}

int kv_command_blocks(const kv_command *cmd, int argc, char **argv, size_t *argvlen)
{
    kv_block_args a;
    if (cmd && (cmd->flags & KV_CMD_BLOCKING)) return 1;
    return stream_block_args(cmd, argc, argv, argvlen, &a) == 0;
}

int kv_blocking_args(const kv_command *cmd, int argc, char **argv, size_t *argvlen,
                     kv_block_args *a)
{
    if (stream_block_args(cmd, argc, argv, argvlen, a) == 0) return 0;
    if (!cmd || !(cmd->flags & KV_CMD_BLOCKING) || argc < 3) return -1;
    if (cmd->firstkey == 0) {
        /* BLMPOP / BZMPOP timeout numkeys key [key ...] ... */
        long long n;
        if (!kv_string2ll(argv[2], argvlen[2], &n) || n < 1 || n > argc - 3) return -1;
        *a = (kv_block_args){1, 3, (int)n};
    } else if (cmd->lastkey < 0) {
        *a = (kv_block_args){argc - 1, 1, argc - 2};
    } else {
        *a = (kv_block_args){argc - 1, 1, 1};
    }
    return 0;
}

int kv_parse_bitoffset(const char *s, size_t len, uint64_t *off, resp_buf *err)
{
    long long v;
    if (!kv_string2ll(s, len, &v) || v < 0 || (uint64_t)(v >> 3) >= KV_MAX_STRING_LEN) {
        resp_add_error(err, "ERR bit offset is not an integer or out of range");
        return -1;
    }
    *off = (uint64_t)v;
    return 0;
}

int kv_scan_cursor(const char *s, unsigned long long *cursor, resp_buf *err)
{
    char *end;
    errno = 0;
    *cursor = strtoull(s, &end, 10);
    if (s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r') || end[0] != '\0' || errno == ERANGE) {
        resp_add_error(err, "ERR invalid cursor");
        return -1;
    }
    return 0;
}

int kv_scan_opts(int argc, char **argv, size_t *argvlen, int first, int allow_type,
                 long long *count, const char **pat, size_t *patlen, const char **type,
                 size_t *typelen, resp_buf *err)
{
    for (int i = first; i < argc; i += 2) {
        int more = argc - i >= 2;
        if (more && kv_streqci(argv[i], argvlen[i], "count")) {
            if (kv_getll(argv[i + 1], argvlen[i + 1], count, err) != 0) return -1;
            if (*count < 1) {
                resp_add_error(err, ERR_SYNTAX);
                return -1;
            }
        } else if (more && kv_streqci(argv[i], argvlen[i], "match")) {
            *pat = argv[i + 1];
            *patlen = argvlen[i + 1];
            if (*patlen == 1 && (*pat)[0] == '*') *pat = NULL;
        } else if (more && allow_type && kv_streqci(argv[i], argvlen[i], "type")) {
            *type = argv[i + 1];
            *typelen = argvlen[i + 1];
        } else {
            resp_add_error(err, ERR_SYNTAX);
            return -1;
        }
    }
    return 0;
}

void kv_scan_reply_empty(resp_buf *r)
{
    resp_add_array(r, 2);
    resp_add_bulk(r, "0", 1);
    resp_add_array(r, 0);
}

static uint64_t elem_cursor(const char *f, size_t flen)
{
    unsigned char b[8] = {0};
    memcpy(b, f, flen < 8 ? flen : 8);
    return kv_get_be64(b);
}

void kv_scan_elements(kv_ctx *c, const kv_val *v, int table, int whole, unsigned long long cursor,
                      long long count, const char *pat, size_t patlen, kv_scan_emit *emit)
{
    unsigned char from[8];
    size_t fromlen = 8;
    kv_put_be64(from, cursor);
    while (fromlen > 0 && from[fromlen - 1] == 0)
        fromlen--;
    kv_iter it;
    if (kv_iter_open(c, &it, table, v->ver, !whole && cursor ? from : NULL, fromlen, 0) != 0)
        return;
    resp_buf items;
    resp_buf_init(&items, c->reply->proto);
    const char *f, *val;
    size_t flen, vlen;
    long long seen = 0, n = 0;
    uint64_t next = 0, last = 0;
    while (kv_iter_next(&it, &f, &flen, &val, &vlen) == 1) {
        if (!whole) {
            uint64_t fc = elem_cursor(f, flen);
            if (seen >= count && fc != last) {
                next = fc;
                break;
            }
            last = fc;
        }
        seen++;
        if (pat && !kv_stringmatchlen(pat, patlen, f, flen, 0)) continue;
        int k = emit(c, &items, f, flen, val, vlen);
        if (k < 0) break;
        n += k;
    }
    kv_iter_close(&it);
    if (c->rc == 0) {
        char buf[32];
        int len = snprintf(buf, sizeof(buf), "%llu", (unsigned long long)next);
        resp_add_array(c->reply, 2);
        resp_add_bulk(c->reply, buf, (size_t)len);
        resp_add_array(c->reply, n);
        if (items.oom)
            kvx_oom(c);
        else
            resp_add_raw(c->reply, items.p, items.len);
    }
    resp_buf_free(&items);
}

/* ------------------------------------------------------------ the table */

/* The families, in the order COMMAND lists them. A family is one file
 * (kvx_<family>.c) exporting its rows. */
static const struct {
    const kv_command *rows;
    const size_t *n;
} families[] = {
    /* clang-format off: one family a line */
    {kvx_string_commands, &kvx_string_ncommands},
    {kvx_keyspace_commands, &kvx_keyspace_ncommands},
    {kvx_expire_commands, &kvx_expire_ncommands},
    {kvx_bits_commands, &kvx_bits_ncommands},
    {kvx_hash_commands, &kvx_hash_ncommands},
    {kvx_list_commands, &kvx_list_ncommands},
    {kvx_set_commands, &kvx_set_ncommands},
    {kvx_zset_commands, &kvx_zset_ncommands},
    {kvx_stream_commands, &kvx_stream_ncommands}, /* after zset, as Redis groups them */
    {kvx_sort_commands, &kvx_sort_ncommands},
    {kvx_hll_commands, &kvx_hll_ncommands},
    {kvx_pubsub_commands, &kvx_pubsub_ncommands},
    {kvx_notify_commands, &kvx_notify_ncommands},
    {kvx_dump_commands, &kvx_dump_ncommands},
    {kvx_script_commands, &kvx_script_ncommands},
    {kvx_function_commands, &kvx_function_ncommands},
    {kvx_evict_commands, &kvx_evict_ncommands},
    /* clang-format on */
};

#define NFAMILIES (sizeof(families) / sizeof(families[0]))
#define INDEX_SLOTS 1024 /* a power of two, well above the number of commands */

static const kv_command **all; /* every row, in family order */
static size_t nall;
static const kv_command *index_[INDEX_SLOTS]; /* open addressing on the lower-case name */

static uint32_t name_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 'A' && ch <= 'Z') ch += 32;
        h = (h ^ ch) * 16777619u;
    }
    return h;
}

/* The rows whose keys are not a plain range, and the reads that do not
 * touch: looked up by name once, when the index is built, so that no
 * command pays a name comparison per call. */
static const struct {
    const char *name;
    uint8_t keyrule;
} keyrules[] = {
    {"lmpop", KV_KEYS_NUMKEYS1},
    {"zmpop", KV_KEYS_NUMKEYS1},
    {"sintercard", KV_KEYS_NUMKEYS1},
    {"zintercard", KV_KEYS_NUMKEYS1},
    {"zunion", KV_KEYS_NUMKEYS1},
    {"zinter", KV_KEYS_NUMKEYS1},
    {"zdiff", KV_KEYS_NUMKEYS1},
    {"blmpop", KV_KEYS_NUMKEYS2},
    {"bzmpop", KV_KEYS_NUMKEYS2},
    {"eval", KV_KEYS_NUMKEYS2},
    {"evalsha", KV_KEYS_NUMKEYS2},
    {"eval_ro", KV_KEYS_NUMKEYS2},
    {"evalsha_ro", KV_KEYS_NUMKEYS2},
    {"fcall", KV_KEYS_NUMKEYS2},
    {"fcall_ro", KV_KEYS_NUMKEYS2},
    {"zunionstore", KV_KEYS_STORE_NUMKEYS},
    {"zinterstore", KV_KEYS_STORE_NUMKEYS},
    {"zdiffstore", KV_KEYS_STORE_NUMKEYS},
    {"xgroup", KV_KEYS_SUBCMD_KEY},
    {"xinfo", KV_KEYS_SUBCMD_KEY},
    {"xread", KV_KEYS_STREAMS},
    {"xreadgroup", KV_KEYS_STREAMS},
    {"sort", KV_KEYS_SORT},
    {"flushdb", KV_KEYS_FLUSH},
    {"flushall", KV_KEYS_FLUSHALL},
    {"function", KV_KEYS_FUNCTION},
    {"script", KV_KEYS_SCRIPT},
};
static const char *const notouch[] = {"object", "type", "ttl", "pttl", "exists", "scan", "memory"};

static kv_command *rows; /* copies of every row, in family order */
static uint8_t *derived; /* per row: its KV_KEYS_* rule, and DERIVED_NOTOUCH */
#define DERIVED_NOTOUCH 0x80

static uint8_t derive(const kv_command *cmd)
{
    uint8_t d = KV_KEYS_RANGE;
    for (size_t i = 0; i < sizeof(keyrules) / sizeof(keyrules[0]); i++)
        if (!strcmp(cmd->name, keyrules[i].name)) d = keyrules[i].keyrule;
    for (size_t i = 0; i < sizeof(notouch) / sizeof(notouch[0]); i++)
        if (!strcmp(cmd->name, notouch[i])) d |= DERIVED_NOTOUCH;
    return d;
}

/* A row pointer from kv_command_lookup() or kv_command_at() is one of the
 * copies; anything else (never expected) gets the plain range rule. */
static uint8_t derived_of(const kv_command *cmd)
{
    uintptr_t p = (uintptr_t)cmd, r0 = (uintptr_t)rows;
    if (!rows || p < r0 || p >= r0 + nall * sizeof(*rows)) return KV_KEYS_RANGE;
    return derived[(p - r0) / sizeof(*rows)];
}

int kv_command_keyrule(const kv_command *cmd)
{
    return derived_of(cmd) & ~DERIVED_NOTOUCH;
}

int kv_command_notouch(const kv_command *cmd)
{
    return (derived_of(cmd) & DERIVED_NOTOUCH) != 0;
}

/* Built once, at the first lookup, over copies of the static rows (which
 * get their derived fields); this cannot fail but for memory, and then
 * every lookup says unknown. */
static int build_index(void)
{
    if (all) return 0;
    size_t n = 0;
    for (size_t f = 0; f < NFAMILIES; f++)
        n += *families[f].n;
    kv_command *r = kv_calloc(n ? n : 1, sizeof(*r));
    uint8_t *d = kv_calloc(n ? n : 1, 1);
    const kv_command **a = kv_calloc(n ? n : 1, sizeof(*a));
    if (!r || !d || !a) {
        free(r);
        free(d);
        free(a);
        return -1;
    }
    rows = r;
    derived = d;
    for (size_t f = 0; f < NFAMILIES; f++)
        for (size_t i = 0; i < *families[f].n; i++) {
            kv_command *cmd = &rows[nall];
            *cmd = families[f].rows[i];
            derived[nall] = derive(cmd);
            uint32_t h = name_hash(cmd->name, strlen(cmd->name)) & (INDEX_SLOTS - 1);
            while (index_[h])
                h = (h + 1) & (INDEX_SLOTS - 1);
            index_[h] = cmd;
            a[nall++] = cmd;
        }
    all = a;
    return 0;
}

const kv_command *kv_command_lookup(const char *name, size_t len)
{
    if (build_index() != 0 || len == 0 || len > 64) return NULL;
    uint32_t h = name_hash(name, len) & (INDEX_SLOTS - 1);
    for (const kv_command *cmd; (cmd = index_[h]) != NULL; h = (h + 1) & (INDEX_SLOTS - 1))
        if (kv_streqci(name, len, cmd->name)) return cmd;
    return NULL;
}

size_t kv_command_count(void)
{
    return build_index() == 0 ? nall : 0;
}

const kv_command *kv_command_at(size_t i)
{
    return build_index() == 0 && i < nall ? all[i] : NULL;
}

/* Tells the server which keys a write command may have changed (client
 * tracking): every key it names, FLUSHDB and FLUSHALL as whole databases.
 * More than changed is harmless (a client refetches). */
static void written(kv_ctx *c, const kv_command *cmd, int argc, char **argv, size_t *argvlen)
{
    int pos[64];
    int rule = kv_command_keyrule(cmd);
    if (rule == KV_KEYS_FLUSH || rule == KV_KEYS_FLUSHALL) {
        kv_key_written(c, rule == KV_KEYS_FLUSHALL ? -1 : c->db, NULL, 0);
        return;
    }
    int n = kv_command_keys(cmd, argc, argv, argvlen, pos, 64);
    if (n > 64) { /* rare: every key, one by one */
        for (int i = 1; i < argc; i++)
            kv_key_written(c, c->db, argv[i], argvlen[i]);
        return;
    }
    for (int i = 0; i < n; i++)
        kv_key_written(c, c->db, argv[pos[i]], argvlen[pos[i]]);
}

int kv_call_reads(const kv_command *cmd, int argc, char **argv, size_t *argvlen)
{
    if (cmd->flags & KV_CMD_READONLY) return 1;
    if (argc < 2) return 0;
    static const char *const fn_reads[] = {"list", "dump", "stats", "help", "kill", NULL};
    static const char *const script_reads[] = {"exists", "debug", "help", "kill", NULL};
    const char *const *reads;
    if (kv_command_keyrule(cmd) == KV_KEYS_FUNCTION)
        reads = fn_reads;
    else if (kv_command_keyrule(cmd) == KV_KEYS_SCRIPT)
        reads = script_reads;
    else
        return 0;
    for (int i = 0; reads[i]; i++)
        if (kv_streqci(argv[1], argvlen[1], reads[i])) return 1;
    return 0;
}

void kv_exec(kv_ctx *c, const kv_command *cmd, int argc, char **argv, size_t *argvlen)
{
    if (argc < 1) {
        resp_add_error(c->reply, "ERR empty command");
        return;
    }
    if (!cmd) cmd = kv_command_lookup(argv[0], argvlen[0]);
    if (!cmd) {
        /* Redis: "unknown command '%.128s', with args beginning with: " and
         * each argument quoted, up to 128 characters in all. */
        char args[256] = "";
        size_t used = 0;
        for (int i = 1; i < argc && used < 128; i++) {
            int n = snprintf(args + used, sizeof(args) - used, "'%.*s' ",
                             (int)(128 - used < argvlen[i] ? 128 - used : argvlen[i]), argv[i]);
            if (n < 0 || (size_t)n >= sizeof(args) - used) break;
            used += (size_t)n;
        }
        resp_add_errorf(c->reply, "ERR unknown command '%.128s', with args beginning with: %s",
                        argv[0], args);
        return;
    }
    if ((cmd->arity > 0 && argc != cmd->arity) || (cmd->arity < 0 && argc < -cmd->arity)) {
        resp_add_errorf(c->reply, "ERR wrong number of arguments for '%s' command", cmd->name);
        return;
    }
    if ((cmd->flags & KV_CMD_WRITE) && !c->writable && !kv_call_reads(cmd, argc, argv, argvlen)) {
        resp_add_error(c->reply, "ERR write command on the read path");
        return;
    }
    /* maxmemory, decided from the replicated state (kvevict.c), before
     * the command's own checks as Redis's processCommand() does. */
    if (kv_oom_at_apply(c, cmd)) {
        resp_add_error(c->reply, "OOM command not allowed when used memory > 'maxmemory'.");
        return;
    }
    /* The apply path re-runs the check: an entry is never trusted. */
    if (cmd->check && cmd->check(argc, argv, argvlen, c->reply) != 0) return;
    c->no_signal = 0;
    cmd->exec(c, argc, argv, argvlen);
    if ((cmd->flags & KV_CMD_WRITE) && c->writable && !c->no_signal)
        written(c, cmd, argc, argv, argvlen);
    c->no_signal = 0;
}

/* Keys after a count: argv[at] is the count, the keys follow. */
static int keys_counted(int argc, char **argv, size_t *argvlen, int at, int *pos, int max, int n)
{
    long long numkeys;
    if (at >= argc || !kv_string2ll(argv[at], argvlen[at], &numkeys) || numkeys <= 0 ||
        numkeys > argc - at - 1)
        return n;
    for (int i = 0; i < (int)numkeys; i++) {
        if (n < max) pos[n] = at + 1 + i;
        n++;
    }
    return n;
}

int kv_command_keys(const kv_command *cmd, int argc, char **argv, size_t *argvlen, int *pos,
                    int max)
{
    int n = 0;
    switch (kv_command_keyrule(cmd)) {
    case KV_KEYS_NUMKEYS1:
        return keys_counted(argc, argv, argvlen, 1, pos, max, 0);
    case KV_KEYS_NUMKEYS2:
        return keys_counted(argc, argv, argvlen, 2, pos, max, 0);
    case KV_KEYS_STORE_NUMKEYS:
        if (argc < 2) return 0;
        if (max > 0) pos[0] = 1;
        return keys_counted(argc, argv, argvlen, 2, pos, max, 1);
    case KV_KEYS_SUBCMD_KEY:
        if (argc < 3 || kv_streqci(argv[1], argvlen[1], "help")) return 0;
        if (max > 0) pos[0] = 2;
        return 1;
    case KV_KEYS_STREAMS:
        for (int i = 1; i < argc; i++) {
            if (kv_streqci(argv[i], argvlen[i], "streams")) {
                int nk = (argc - i - 1) / 2;
                for (int j = 0; j < nk; j++) {
                    if (n < max) pos[n] = i + 1 + j;
                    n++;
                }
                return n;
            }
            if (kv_streqci(argv[i], argvlen[i], "block") ||
                kv_streqci(argv[i], argvlen[i], "count"))
                i++;
            else if (kv_streqci(argv[i], argvlen[i], "group"))
                i += 2;
        }
        return 0;
    default:
        break;
    }
    if (cmd->firstkey <= 0) return 0;
    int last = cmd->lastkey < 0 ? argc + cmd->lastkey : cmd->lastkey;
    int step = cmd->keystep > 0 ? cmd->keystep : 1;
    for (int i = cmd->firstkey; i <= last && i < argc; i += step) {
        if (n < max) pos[n] = i;
        n++;
    }
    if (kv_command_keyrule(cmd) == KV_KEYS_SORT) { /* SORT key ... STORE destination */
        for (int i = 2; i + 1 < argc; i++) {
            if (kv_streqci(argv[i], argvlen[i], "store")) {
                if (n < max) pos[n] = i + 1;
                n++;
                i++;
            } else if (kv_streqci(argv[i], argvlen[i], "limit")) {
                i += 2;
            } else if (kv_streqci(argv[i], argvlen[i], "by") ||
                       kv_streqci(argv[i], argvlen[i], "get")) {
                i++;
            }
        }
    }
    return n;
}
