/* test_match.c -- glob matching (KEYS, SCAN MATCH): the iterative matcher
 * gives the results of Redis 7.0's recursive stringmatchlen, nesting limit
 * included, and no pattern can exhaust the stack (CVE-2022-36021). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ctype.h>

#include "storage/kvcmd.h"
#include "storage/kvint.h"

/* The oracle: Redis 7.0.15's stringmatchlen_impl, recursion and nesting
 * limit as it is there (the project's own matcher before it was made
 * iterative). Used only on short inputs. */
static int oracle_impl(const char *pattern, long patternLen, const char *string, long stringLen,
                       int nocase, int *skipLonger, int nesting)
{
#define OPAT(i) ((i) < patternLen ? pattern[(i)] : '\0')
    if (nesting > 1000) return 0;
    while (patternLen > 0 && stringLen > 0) {
        switch (pattern[0]) {
        case '*':
            while (patternLen > 1 && pattern[1] == '*') {
                pattern++;
                patternLen--;
            }
            if (patternLen == 1) return 1;
            while (stringLen) {
                if (oracle_impl(pattern + 1, patternLen - 1, string, stringLen, nocase, skipLonger,
                                nesting + 1))
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
            int not, match = 0;
            pattern++;
            patternLen--;
            not = OPAT(0) == '^';
            if (not ) {
                pattern++;
                patternLen--;
            }
            for (;;) {
                if (OPAT(0) == '\\' && patternLen >= 2) {
                    pattern++;
                    patternLen--;
                    if (pattern[0] == string[0]) match = 1;
                } else if (OPAT(0) == ']') {
                    break;
                } else if (patternLen <= 0) {
                    pattern--;
                    patternLen++;
                    break;
                } else if (patternLen >= 3 && pattern[1] == '-') {
                    int start = (signed char)pattern[0], end = (signed char)pattern[2];
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
                } else if (!nocase) {
                    if (pattern[0] == string[0]) match = 1;
                } else if (tolower((unsigned char)pattern[0]) ==
                           tolower((unsigned char)string[0])) {
                    match = 1;
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
            } else if (tolower((unsigned char)pattern[0]) != tolower((unsigned char)string[0])) {
                return 0;
            }
            string++;
            stringLen--;
            break;
        }
        pattern++;
        patternLen--;
        if (stringLen == 0) {
            while (patternLen > 0 && OPAT(0) == '*') {
                pattern++;
                patternLen--;
            }
            break;
        }
    }
#undef OPAT
    return patternLen == 0 && stringLen == 0;
}

static int oracle(const char *p, size_t pl, const char *s, size_t sl, int nocase)
{
    int skip = 0;
    return oracle_impl(p, (long)pl, s, (long)sl, nocase, &skip, 0);
}

static int match(const char *p, const char *s)
{
    return kv_stringmatchlen(p, strlen(p), s, strlen(s), 0);
}

static void classic_globs(void **state)
{
    (void)state;
    assert_true(match("*", "anything"));
    assert_true(match("h?llo", "hello"));
    assert_true(match("h*llo", "heeeello"));
    assert_true(match("h[ae]llo", "hallo"));
    assert_false(match("h[^e]llo", "hello"));
    assert_true(match("h[a-b]llo", "hbllo"));
    assert_true(match("h[b-a]llo", "hallo")); /* reversed range */
    assert_true(match("a\\*b", "a*b"));
    assert_false(match("a\\*b", "axb"));
    assert_true(match("[abc", "c")); /* unterminated class ends with the pattern */
    assert_false(match("*a", ""));
    assert_false(match("**", "")); /* Redis: no pattern matches "" */
    assert_true(match("", ""));
    assert_true(kv_stringmatchlen("H*O", 3, "hello", 5, 1));
    assert_false(kv_stringmatchlen("H*O", 3, "hello", 5, 0));
}

/* The reported crash: a 100,000-byte key and "*a" 100,000 times (a node
 * died with SIGSEGV). Now: no match (more than 1000 nested stars), at once. */
static void many_stars_against_a_long_key(void **state)
{
    (void)state;
    size_t n = 100000;
    char *key = malloc(n), *pat = malloc(2 * n);
    assert_non_null(key);
    assert_non_null(pat);
    memset(key, 'a', n);
    for (size_t i = 0; i < n; i++) {
        pat[2 * i] = '*';
        pat[2 * i + 1] = 'a';
    }
    assert_false(kv_stringmatchlen(pat, 2 * n, key, n, 0));
    memset(key, 'x', n);
    assert_false(kv_stringmatchlen(pat, 2 * n, key, n, 0));
    /* A long pattern within the nesting limit still matches a long key. */
    assert_true(kv_stringmatchlen(pat + 2 * n - 2000, 2000, key, n, 0) == 0);
    memset(key, 'a', n);
    assert_true(kv_stringmatchlen(pat + 2 * n - 2000, 2000, key, n, 0));
    free(key);
    free(pat);
}

/* Redis 7.0.15 (checked against redis-server): KEYS with "*a" x k finds a
 * key of 1001 'a' for k <= 1000 and nothing for k > 1000; a trailing star
 * does not nest. */
static void nesting_limit_as_redis(void **state)
{
    (void)state;
    char key[1001], pat[2 * 1002 + 1];
    memset(key, 'a', sizeof key);
    for (int k = 999; k <= 1002; k++) {
        for (int i = 0; i < k; i++) {
            pat[2 * i] = '*';
            pat[2 * i + 1] = 'a';
        }
        int want = k <= 1000;
        assert_int_equal(kv_stringmatchlen(pat, 2 * (size_t)k, key, sizeof key, 0), want);
        assert_int_equal(oracle(pat, 2 * (size_t)k, key, sizeof key, 0), want);
        pat[2 * k] = '*';
        assert_int_equal(kv_stringmatchlen(pat, 2 * (size_t)k + 1, key, sizeof key, 0), want);
    }
    for (int i = 0; i < 1001; i++) { /* "a*" x 1001: the last star trails */
        pat[2 * i] = 'a';
        pat[2 * i + 1] = '*';
    }
    assert_true(kv_stringmatchlen(pat, 2002, key, sizeof key, 0));
}

/* Random short patterns over the characters that matter, against random
 * strings: the same answer as the oracle, both cases. */
static void same_results_as_redis_on_random_patterns(void **state)
{
    (void)state;
    static const char pchars[] = "ab*?[]^-\\A";
    static const char schars[] = "ab-]*\\A\x80";
    unsigned seed = 12345;
    char p[12], s[10];
    long matches = 0;
    for (int iter = 0; iter < 400000; iter++) {
        size_t pl = (size_t)(rand_r(&seed) % (sizeof p + 1));
        size_t sl = (size_t)(rand_r(&seed) % (sizeof s + 1));
        for (size_t i = 0; i < pl; i++)
            p[i] = pchars[rand_r(&seed) % (sizeof pchars - 1)];
        for (size_t i = 0; i < sl; i++)
            s[i] = schars[rand_r(&seed) % (sizeof schars - 1)];
        int nocase = iter & 1;
        int want = oracle(p, pl, s, sl, nocase);
        int got = kv_stringmatchlen(p, pl, s, sl, nocase);
        if (want != got)
            fail_msg("pattern '%.*s' string '%.*s' nocase %d: oracle %d, got %d", (int)pl, p,
                     (int)sl, s, nocase, want, got);
        matches += want;
    }
    assert_true(matches > 1000); /* the draw exercises matches, not only misses */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(classic_globs),
        cmocka_unit_test(many_stars_against_a_long_key),
        cmocka_unit_test(nesting_limit_as_redis),
        cmocka_unit_test(same_results_as_redis_on_random_patterns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
