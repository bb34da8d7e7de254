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

void kv_add_help(resp_buf *out, const char *const *lines)
{
    int n = 0;
    while (lines[n])
        n++;
    resp_add_array(out, n);
    for (int i = 0; i < n; i++)
        resp_add_simple(out, lines[i]);
}

int kv_streqci(const char *a, size_t alen, const char *lit)
{
    size_t n = strlen(lit);
    if (alen != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)a[i]) != tolower((unsigned char)lit[i])) return 0;
    return 1;
}

/* Glob matching with Redis's stringmatchlen semantics (util.c), done
 * iteratively: Redis recurses once per '*', and a pattern of many stars
 * against a long key ran a node out of stack (CVE-2022-36021).
 *
 * Every element other than '*' -- a literal, '?', '\x' or a '[...]' class --
 * matches exactly one byte, so the classic single-backtrack algorithm is
 * exact: on a mismatch only the last star need absorb one more byte; the
 * earlier stars' choices can never be what failed. Its cost is
 * O(pattern x key) at worst, with no recursion.
 *
 * Redis 7.0.9 and later answer "no match" once a match would nest more than
 * MATCH_MAX_NESTING stars; a star nests when pattern other than stars
 * follows it (a trailing run of stars is matched without recursing), so that
 * count alone decides it, and it is checked first. */
#define MATCH_MAX_NESTING 1000

/* Reads past the pattern's end are answered as NUL, as Redis relies on
 * sds's terminator there. */
#define PAT(i) ((i) < patlen ? pattern[(i)] : '\0')

/* Length of the one-byte element at pattern[0] (not '*'), and whether it
 * matches byte ch. Redis's class parsing, quirks included: an unterminated
 * class ends with the pattern, '\' escapes inside it, ranges compare signed
 * chars as on x86. */
static long match_elem(const char *pattern, long patlen, char ch, int nocase, int *matched)
{
    long i = 0;
    int m = 0;
    switch (pattern[0]) {
    case '?':
        m = 1;
        i = 1;
        break;
    case '[': {
        i = 1;
        int not = PAT(i) == '^';
        if (not ) i++;
        for (;;) {
            if (PAT(i) == '\\' && patlen - i >= 2) {
                i++;
                if (pattern[i] == ch) m = 1;
            } else if (PAT(i) == ']') {
                break;
            } else if (patlen - i <= 0) {
                i--;
                break;
            } else if (patlen - i >= 3 && pattern[i + 1] == '-') {
                int start = (signed char)pattern[i];
                int end = (signed char)pattern[i + 2];
                int c = (signed char)ch;
                if (start > end) {
                    int t = start;
                    start = end;
                    end = t;
                }
                if (nocase) {
                    start = tolower(start & 0xff);
                    end = tolower(end & 0xff);
                    c = tolower(c & 0xff);
                }
                i += 2;
                if (c >= start && c <= end) m = 1;
            } else if (!nocase) {
                if (pattern[i] == ch) m = 1;
            } else if (tolower((unsigned char)pattern[i]) == tolower((unsigned char)ch)) {
                m = 1;
            }
            i++;
        }
        if (not ) m = !m;
        i++;
        break;
    }
    case '\\':
        if (patlen >= 2) i = 1;
        /* fall through */
    default:
        if (!nocase)
            m = pattern[i] == ch;
        else
            m = tolower((unsigned char)pattern[i]) == tolower((unsigned char)ch);
        i++;
        break;
    }
    *matched = m;
    return i;
}

/* Stars that nest: runs of '*' with some other element after them. */
static long nesting_stars(const char *pattern, long patlen)
{
    long n = 0, i = 0;
    int dummy;
    while (i < patlen) {
        if (pattern[i] != '*') {
            i += match_elem(pattern + i, patlen - i, 0, 0, &dummy);
            continue;
        }
        while (i < patlen && pattern[i] == '*')
            i++;
        if (i < patlen) n++;
    }
    return n;
}

int kv_stringmatchlen(const char *pattern, size_t plen, const char *s, size_t slen, int nocase)
{
    long patlen = (long)plen, p = 0, si = 0, n = (long)slen;
    long star_p = -1, star_s = 0;   /* where to resume after the last star */
    if (n == 0) return patlen == 0; /* Redis: even "*" does not match "" */
    if (nesting_stars(pattern, patlen) > MATCH_MAX_NESTING) return 0;
    while (si < n) {
        if (p < patlen && pattern[p] == '*') {
            while (p < patlen && pattern[p] == '*')
                p++;
            if (p == patlen) return 1;
            star_p = p;
            star_s = si;
            continue;
        }
        int m = 0;
        long len = p < patlen ? match_elem(pattern + p, patlen - p, s[si], nocase, &m) : 0;
        if (m) {
            p += len;
            si++;
        } else if (star_p >= 0) {
            p = star_p;
            si = ++star_s;
        } else {
            return 0;
        }
    }
    while (p < patlen && pattern[p] == '*')
        p++;
    return p == patlen;
}
#undef PAT

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
