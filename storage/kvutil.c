/* kvutil.c -- number parsing and formatting, glob matching and the key
 * hash, following Redis's util.c rules so replies match byte for byte. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/kverr.h"
#include "storage/kvint.h"

const char *kv_strerror(int code)
{
    switch (code) {
#define KV_CASE(name, val, msg)                                                                    \
    case val:                                                                                      \
        return msg;
        KV_ERRORS(KV_CASE)
#undef KV_CASE
    }
    return "unknown storage error";
}

static long fail_countdown; /* 0: never fail */

void kv_alloc_fail_after(long n)
{
    fail_countdown = n;
}

static int should_fail(void)
{
    if (fail_countdown <= 0) return 0;
    if (fail_countdown == 1) return 1; /* stays failing until reset */
    fail_countdown--;
    return 0;
}

void *kv_malloc(size_t n)
{
    return should_fail() ? NULL : malloc(n);
}

void *kv_calloc(size_t n, size_t size)
{
    return should_fail() ? NULL : calloc(n, size);
}

/* LONG_STR_SIZE in Redis: the longest long long plus sign fits in 20. */
#define LONG_STR_SIZE 21

int kv_string2ll(const char *s, size_t slen, long long *value)
{
    const char *p = s;
    size_t plen = 0;
    int negative = 0;
    unsigned long long v;

    if (slen == 0 || slen >= LONG_STR_SIZE) return 0;
    if (slen == 1 && p[0] == '0') {
        if (value) *value = 0;
        return 1;
    }
    if (p[0] == '-') {
        negative = 1;
        p++;
        plen++;
        if (plen == slen) return 0;
    }
    if (p[0] >= '1' && p[0] <= '9') {
        v = (unsigned long long)(p[0] - '0');
        p++;
        plen++;
    } else {
        return 0;
    }
    while (plen < slen && p[0] >= '0' && p[0] <= '9') {
        if (v > ULLONG_MAX / 10) return 0;
        v *= 10;
        if (v > ULLONG_MAX - (unsigned long long)(p[0] - '0')) return 0;
        v += (unsigned long long)(p[0] - '0');
        p++;
        plen++;
    }
    if (plen < slen) return 0;
    if (negative) {
        if (v > (unsigned long long)LLONG_MAX + 1) return 0;
        if (value) *value = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    } else {
        if (v > LLONG_MAX) return 0;
        if (value) *value = (long long)v;
    }
    return 1;
}

#define MAX_LONG_DOUBLE_CHARS (5 * 1024)

int kv_string2ld(const char *s, size_t slen, long double *dp)
{
    char buf[MAX_LONG_DOUBLE_CHARS];
    long double value;
    char *eptr;

    if (slen == 0 || slen >= sizeof(buf)) return 0;
    memcpy(buf, s, slen);
    buf[slen] = '\0';

    errno = 0;
    value = strtold(buf, &eptr);
    if (isspace((unsigned char)buf[0]) || eptr[0] != '\0' || (size_t)(eptr - buf) != slen ||
        (errno == ERANGE &&
         (value == HUGE_VAL || value == -HUGE_VAL || fpclassify(value) == FP_ZERO)) ||
        isnan(value))
        return 0;
    if (dp) *dp = value;
    return 1;
}

int kv_ld2string(char *buf, size_t len, long double value)
{
    size_t l;

    if (isinf(value)) {
        if (len < 5) return 0;
        if (value > 0) {
            memcpy(buf, "inf", 3);
            l = 3;
        } else {
            memcpy(buf, "-inf", 4);
            l = 4;
        }
    } else {
        /* 17 digits, then trailing zeroes trimmed: Redis's LD_STR_HUMAN. */
        int n = snprintf(buf, len, "%.17Lf", value);
        if (n < 0 || (size_t)n + 1 > len) return 0;
        l = (size_t)n;
        if (strchr(buf, '.') != NULL) {
            char *p = buf + l - 1;
            while (*p == '0') {
                p--;
                l--;
            }
            if (*p == '.') l--;
        }
        if (l == 2 && buf[0] == '-' && buf[1] == '0') {
            buf[0] = '0';
            l = 1;
        }
    }
    buf[l] = '\0';
    return (int)l;
}

int kv_streqci(const char *a, size_t alen, const char *lit)
{
    size_t n = strlen(lit);
    if (alen != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)a[i]) != tolower((unsigned char)lit[i])) return 0;
    return 1;
}

/* Redis's stringmatchlen, with reads past the pattern's end answered as
 * NUL (Redis relies on sds's terminator there). */
static int match_impl(const char *pattern, long patternLen, const char *string, long stringLen,
                      int nocase, int *skipLonger)
{
#define PAT(i) ((i) < patternLen ? pattern[(i)] : '\0')
    while (patternLen > 0 && stringLen > 0) {
        switch (pattern[0]) {
        case '*':
            while (patternLen > 1 && pattern[1] == '*') {
                pattern++;
                patternLen--;
            }
            if (patternLen == 1) return 1;
            while (stringLen) {
                if (match_impl(pattern + 1, patternLen - 1, string, stringLen, nocase, skipLonger))
                    return 1;
                if (*skipLonger) return 0;
                string++;
                stringLen--;
            }
            *skipLonger = 1;
            return 0;
        case '?':
            string++;
            stringLen--;
            break;
        case '[': {
            int not, match;

            pattern++;
            patternLen--;
            not = PAT(0) == '^';
            if (not ) {
                pattern++;
                patternLen--;
            }
            match = 0;
            for (;;) {
                if (PAT(0) == '\\' && patternLen >= 2) {
                    pattern++;
                    patternLen--;
                    if (pattern[0] == string[0]) match = 1;
                } else if (PAT(0) == ']') {
                    break;
                } else if (patternLen <= 0) {
                    pattern--;
                    patternLen++;
                    break;
                } else if (patternLen >= 3 && pattern[1] == '-') {
                    /* Signed chars, as Redis on x86. */
                    int start = (signed char)pattern[0];
                    int end = (signed char)pattern[2];
                    int ch = (signed char)string[0];
                    if (start > end) {
                        int t = start;
                        start = end;
                        end = t;
                    }
                    if (nocase) {
                        start = tolower(start & 0xff);
                        end = tolower(end & 0xff);
                        ch = tolower(ch & 0xff);
                    }
                    pattern += 2;
                    patternLen -= 2;
                    if (ch >= start && ch <= end) match = 1;
                } else {
                    if (!nocase) {
                        if (pattern[0] == string[0]) match = 1;
                    } else {
                        if (tolower((unsigned char)pattern[0]) == tolower((unsigned char)string[0]))
                            match = 1;
                    }
                }
                pattern++;
                patternLen--;
            }
            if (not ) match = !match;
            if (!match) return 0;
            string++;
            stringLen--;
            break;
        }
        case '\\':
            if (patternLen >= 2) {
                pattern++;
                patternLen--;
            }
            /* fall through */
        default:
            if (!nocase) {
                if (pattern[0] != string[0]) return 0;
            } else {
                if (tolower((unsigned char)pattern[0]) != tolower((unsigned char)string[0]))
                    return 0;
            }
            string++;
            stringLen--;
            break;
        }
        pattern++;
        patternLen--;
        if (stringLen == 0) {
            while (patternLen > 0 && PAT(0) == '*') {
                pattern++;
                patternLen--;
            }
            break;
        }
    }
#undef PAT
    return patternLen == 0 && stringLen == 0;
}

int kv_stringmatchlen(const char *pattern, size_t patlen, const char *s, size_t slen, int nocase)
{
    int skip = 0;
    return match_impl(pattern, (long)patlen, s, (long)slen, nocase, &skip);
}

uint64_t kv_keyhash(const void *key, size_t len)
{
    const unsigned char *p = key;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    /* splitmix64's finalizer spreads FNV's weak high bits over the range,
     * so SCAN and RANDOMKEY see uniform hashes. */
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h;
}

uint64_t kv_keyhash2(const void *key, size_t len)
{
    /* FNV-1a with another basis, then murmur3's fmix64: independent enough
     * of kv_keyhash that a long key is told apart by both. */
    const unsigned char *p = key;
    uint64_t h = 0x84222325cbf29ce4ull ^ (uint64_t)len;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

void kv_put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

uint64_t kv_get_be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/* ------------------------------------------------------------ LMDB */

/* LMDB's return codes as KV_E* (the state environment, kvstate.c and
 * kvsnap.c). */
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
