/* test_parser.c -- the request parser against redis-server 7.0's behaviour.
 * Every expectation was checked by sending the same bytes to a real
 * redis-server 7.0.15. Each input is parsed whole, one byte at a time, in
 * fixed chunks and at random cuts, and every way must give the same trace. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tests/resp/trace.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rng(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static void expect_trace(const char *in, size_t n, const resp_limits *lim, const char *want)
{
    trace t = trace_run(in, n, NULL, 0, lim);
    if (strcmp(t.s, want) != 0)
        fail_msg("whole: got \"%s\", want \"%s\" for %zu bytes", t.s, want, n);
    assert_false(t.bad_nul);
    free(t.s);

    t = trace_bytewise(in, n, lim);
    if (strcmp(t.s, want) != 0) fail_msg("bytewise: got \"%s\", want \"%s\"", t.s, want);
    assert_false(t.bad_nul);
    free(t.s);

    static const size_t chunks[] = {2, 3, 5, 7, 64, 4096};
    for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
        size_t ncuts = n / chunks[c];
        size_t *cuts = malloc((ncuts + 1) * sizeof(*cuts));
        for (size_t i = 0; i < ncuts; i++)
            cuts[i] = (i + 1) * chunks[c];
        t = trace_run(in, n, cuts, ncuts, lim);
        if (strcmp(t.s, want) != 0)
            fail_msg("chunks of %zu: got \"%s\", want \"%s\"", chunks[c], t.s, want);
        free(t.s);
        free(cuts);
    }
    for (int round = 0; round < 8 && n > 1; round++) {
        size_t cuts[4];
        for (int i = 0; i < 4; i++)
            cuts[i] = (size_t)(rng() % n);
        for (int i = 1; i < 4; i++) /* insertion sort */
            for (int j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
                size_t x = cuts[j];
                cuts[j] = cuts[j - 1];
                cuts[j - 1] = x;
            }
        t = trace_run(in, n, cuts, 4, lim);
        if (strcmp(t.s, want) != 0) fail_msg("random cuts: got \"%s\", want \"%s\"", t.s, want);
        free(t.s);
    }
}

/* A string literal, NULs included. */
#define EXPECT(lit, want) expect_trace((lit), sizeof(lit) - 1, NULL, (want))
#define EXPECT_LIM(lit, lim, want) expect_trace((lit), sizeof(lit) - 1, (lim), (want))

static char *repeat(const char *head, char c, size_t n, const char *tail, size_t *len)
{
    size_t h = strlen(head), t = strlen(tail);
    char *s = malloc(h + n + t + 1);
    memcpy(s, head, h);
    memset(s + h, c, n);
    memcpy(s + h + n, tail, t + 1);
    *len = h + n + t;
    return s;
}

/* ------------------------------------------------------------ multibulk */

static void multibulk_commands_are_parsed_and_pipelined(void **state)
{
    (void)state;
    EXPECT("*1\r\n$4\r\nPING\r\n", "PING;NEED");
    EXPECT("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
           "SET|k|value;GET|k;NEED");
    EXPECT("*2\r\n$3\r\nGET\r\n$0\r\n\r\n", "GET|;NEED");
}

static void incomplete_input_asks_for_more(void **state)
{
    (void)state;
    EXPECT("*", "NEED");
    EXPECT("*2", "NEED");
    EXPECT("*2\r", "NEED");
    EXPECT("*2\r\n$3\r\nGET\r\n$1\r", "NEED");
    EXPECT("*2\r\n$3\r\nGET\r\n$1\r\nk\r", "NEED");
    EXPECT("*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPI", "PING;NEED");
}

static void bulks_are_binary_safe(void **state)
{
    (void)state;
    EXPECT("*2\r\n$4\r\na\0\r\n\r\n$3\r\n\r\n\0\r\n", "a\\x00\\x0d\\x0a|\\x0d\\x0a\\x00;NEED");
    EXPECT("*1\r\n$6\r\n*1\r\n$1\r\n", "*1\\x0d\\x0a$1;NEED");
}

static void empty_multibulks_are_skipped(void **state)
{
    (void)state;
    EXPECT("*0\r\n*-1\r\n*-10\r\n*1\r\n$4\r\nPING\r\n", "PING;NEED");
}

static void multibulk_lines_are_not_checked_for_lf(void **state)
{
    (void)state;
    /* Redis skips the byte after '\r' and the two bytes after a bulk
     * without looking at them. */
    EXPECT("*1\rX$4\r\nPINGxy", "PING;NEED");
    EXPECT("*2\r\n$1\rZa\r\n$1\r\nb\n\n", "a|b;NEED");
}

static void counts_use_string2ll_strictness(void **state)
{
    (void)state;
    EXPECT("*01\r\n", "ERR:Protocol error: invalid multibulk length");
    EXPECT("*+1\r\n", "ERR:Protocol error: invalid multibulk length");
    EXPECT("*-0\r\n", "ERR:Protocol error: invalid multibulk length");
    EXPECT("*1 \r\n", "ERR:Protocol error: invalid multibulk length");
    EXPECT("*\r\n", "ERR:Protocol error: invalid multibulk length");
    EXPECT("*x\r\n", "ERR:Protocol error: invalid multibulk length");
    EXPECT("*1\r\n$-1\r\n", "ERR:Protocol error: invalid bulk length");
    EXPECT("*1\r\n$-0\r\n", "ERR:Protocol error: invalid bulk length");
    EXPECT("*1\r\n$01\r\n", "ERR:Protocol error: invalid bulk length");
    EXPECT("*1\r\n$+1\r\n", "ERR:Protocol error: invalid bulk length");
    EXPECT("*1\r\n$\r\n", "ERR:Protocol error: invalid bulk length");
    EXPECT("*1\r\n$1x\r\n", "ERR:Protocol error: invalid bulk length");
    EXPECT("*1\r\n$99999999999999999999\r\n", "ERR:Protocol error: invalid bulk length");
    EXPECT("*1\r\n$0\r\n\r\n", ";NEED");
}

static void a_non_dollar_bulk_header_is_named(void **state)
{
    (void)state;
    EXPECT("*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n", "ERR:Protocol error: expected '$', got 'f'");
    EXPECT("*1\r\n:1\r\n", "ERR:Protocol error: expected '$', got ':'");
    /* Redis's error formatting turns CR/LF into spaces. */
    EXPECT("*1\r\n\r\n", "ERR:Protocol error: expected '$', got ' '");
}

static void multibulk_count_limit(void **state)
{
    (void)state;
    EXPECT("*1048576\r\n", "NEED");
    EXPECT("*1048577\r\n", "ERR:Protocol error: invalid multibulk length");
    resp_limits lim;
    resp_limits_default(&lim);
    lim.max_multibulk_len = 2;
    EXPECT_LIM("*2\r\n$1\r\na\r\n$1\r\nb\r\n", &lim, "a|b;NEED");
    EXPECT_LIM("*3\r\n", &lim, "ERR:Protocol error: invalid multibulk length");
    lim.max_multibulk_len = UINT64_MAX; /* an int still bounds argc */
    EXPECT_LIM("*2147483647\r\n", &lim, "NEED");
    EXPECT_LIM("*2147483648\r\n", &lim, "ERR:Protocol error: invalid multibulk length");
}

static void bulk_length_limit(void **state)
{
    (void)state;
    EXPECT("*1\r\n$536870913\r\n", "ERR:Protocol error: invalid bulk length");
    resp_limits lim;
    resp_limits_default(&lim);
    lim.max_bulk_len = 5;
    EXPECT_LIM("*1\r\n$5\r\nhello\r\n", &lim, "hello;NEED");
    EXPECT_LIM("*1\r\n$6\r\nhello!\r\n", &lim, "ERR:Protocol error: invalid bulk length");
    lim.max_bulk_len = 0;
    EXPECT_LIM("*1\r\n$0\r\n\r\n", &lim, ";NEED");
    EXPECT_LIM("*1\r\n$1\r\n", &lim, "ERR:Protocol error: invalid bulk length");
}

static void default_bulk_limit_is_accepted_at_the_limit(void **state)
{
    (void)state;
    /* The header alone: 512 MB is allowed (and allocated only once the
     * argument is read, which this test does not do). */
    resp_parser *p = resp_parser_new(NULL);
    resp_cmd c;
    const char hdr[] = "*1\r\n$536870912\r\n";
    assert_int_equal(resp_parser_feed(p, hdr, sizeof(hdr) - 1), 0);
    assert_int_equal(resp_parser_next(p, &c), RESP_NEED_MORE);
    assert_null(resp_parser_error(p));
    resp_parser_free(p);
}

static void count_strings_too_big(void **state)
{
    (void)state;
    size_t n;
    char *s;
    /* A count line is too big when more than 64 KB come before its '\r'. */
    s = repeat("*", '1', 65535, "", &n); /* 65536 bytes without '\r' */
    expect_trace(s, n, NULL, "NEED");
    free(s);
    s = repeat("*", '1', 65536, "", &n);
    expect_trace(s, n, NULL, "ERR:Protocol error: too big mbulk count string");
    free(s);
    s = repeat("*", '1', 65535, "\r\n", &n); /* at the limit: parsed, not a number */
    expect_trace(s, n, NULL, "ERR:Protocol error: invalid multibulk length");
    free(s);
    s = repeat("*", '1', 65536, "\r\n", &n);
    expect_trace(s, n, NULL, "ERR:Protocol error: too big mbulk count string");
    free(s);

    s = repeat("*1\r\n$", '1', 65535, "", &n);
    expect_trace(s, n, NULL, "NEED");
    free(s);
    s = repeat("*1\r\n$", '1', 65536, "", &n);
    expect_trace(s, n, NULL, "ERR:Protocol error: too big bulk count string");
    free(s);
    s = repeat("*1\r\n$", '1', 65535, "\r\n", &n);
    expect_trace(s, n, NULL, "ERR:Protocol error: invalid bulk length");
    free(s);
    s = repeat("*1\r\n$", '1', 65536, "\r\n", &n);
    expect_trace(s, n, NULL, "ERR:Protocol error: too big bulk count string");
    free(s);

    resp_limits lim;
    resp_limits_default(&lim);
    lim.max_inline_len = 4;
    EXPECT_LIM("*123", &lim, "NEED");
    EXPECT_LIM("*1234", &lim, "ERR:Protocol error: too big mbulk count string");
    EXPECT_LIM("*1\r\n$12x\r\n", &lim, "ERR:Protocol error: invalid bulk length");
    EXPECT_LIM("*1\r\n$1234\r\n", &lim, "ERR:Protocol error: too big bulk count string");
}

static void a_nul_hides_the_end_of_a_header_line(void **state)
{
    (void)state;
    /* Redis looks for '\r' with strchr(): a NUL stops it. */
    EXPECT("*1\0\r\n$4\r\nPING\r\n", "NEED");
    resp_limits lim;
    resp_limits_default(&lim);
    lim.max_inline_len = 8;
    EXPECT_LIM("*1\0\r\n$4\r\nPING\r\n", &lim, "ERR:Protocol error: too big mbulk count string");
    EXPECT_LIM("*1\r\n$\0\r\nPING\r\n", &lim, "ERR:Protocol error: too big bulk count string");
}

/* --------------------------------------------------------------- inline */

static void inline_commands_are_split_on_spaces(void **state)
{
    (void)state;
    EXPECT("PING\r\n", "i:PING;NEED");
    EXPECT("SET  k\tv \r\n", "i:SET|k|v;NEED");
    EXPECT("PING\n", "i:PING;NEED");
    EXPECT("GET k\r\r\n", "i:GET|k;NEED");
    EXPECT("PING", "NEED");
    EXPECT("PING\r", "NEED");
    EXPECT("a\vb\fc\r\n", "i:a\\x0bb\\x0cc;NEED");
    EXPECT("\v\f a\r\n", "i:a;NEED");
}

static void empty_inline_lines_are_skipped(void **state)
{
    (void)state;
    /* A lone "\n" is an empty line too: the '\r' before a '\n' is optional. */
    EXPECT("\r\n\n  \r\n\t\nPING\r\n", "i:PING;NEED");
    EXPECT("\nPING\r\n", "i:PING;NEED");
    EXPECT("\r\r\n", "NEED"); /* "\r" is blank */
}

static void inline_and_multibulk_mix_in_a_pipeline(void **state)
{
    (void)state;
    EXPECT("PING\r\n*1\r\n$4\r\nPING\r\nECHO x\n*2\r\n$4\r\nECHO\r\n$1\r\ny\r\n",
           "i:PING;PING;i:ECHO|x;ECHO|y;NEED");
}

static void inline_quoting_follows_sdssplitargs(void **state)
{
    (void)state;
    EXPECT("SET \"a b\" 'c d'\r\n", "i:SET|a b|c d;NEED");
    EXPECT("ECHO \"\\x41\\x4a\\x4g\\n\\r\\t\\b\\a\\\\\\\"\\q\"\r\n",
           "i:ECHO|AJx4g\\x0a\\x0d\\x09\\x08\\x07\\x5c\"q;NEED");
    EXPECT("ECHO 'it\\'s \\n'\r\n", "i:ECHO|it's \\x5cn;NEED");
    EXPECT("ECHO \"\" ''\r\n", "i:ECHO||;NEED");
    EXPECT("ECHO a\"b c\" d\r\n", "i:ECHO|ab c|d;NEED");
    EXPECT("ECHO \"\\x00\"\r\n", "i:ECHO|\\x00;NEED");
    EXPECT("ECHO \"a\"\r\n", "i:ECHO|a;NEED");
    EXPECT("ECHO \"a\"\t\r\n", "i:ECHO|a;NEED");
}

static void unbalanced_quotes_are_an_error(void **state)
{
    (void)state;
    const char *want = "ERR:Protocol error: unbalanced quotes in request";
    EXPECT("ECHO \"a\r\n", want);
    EXPECT("ECHO 'a\r\n", want);
    EXPECT("ECHO \"a\"b\r\n", want);
    EXPECT("ECHO 'a'b\r\n", want);
    EXPECT("ECHO \"a\\\"\r\n", want);
    EXPECT("ECHO a\"b\"c\r\n", want);
    EXPECT("PING\r\nECHO \"\r\nPING\r\n",
           "i:PING;ERR:Protocol error: unbalanced quotes in request");
}

static void inline_length_limit(void **state)
{
    (void)state;
    size_t n;
    char *s;
    const char *big = "ERR:Protocol error: too big inline request";
    size_t wn;
    char *want = repeat("i:", 'a', 65536, ";NEED", &wn);
    s = repeat("", 'a', 65536, "\n", &n);
    expect_trace(s, n, NULL, want);
    free(s);
    s = repeat("", 'a', 65537, "\n", &n);
    expect_trace(s, n, NULL, big);
    free(s);
    want[2 + 65535] = ';';
    memcpy(want + 2 + 65536, "NEED", 5);
    s = repeat("", 'a', 65535, "\r\n", &n);
    expect_trace(s, n, NULL, want);
    free(s);
    free(want);
    /* The '\r' counts, as it does when Redis gets the bytes one by one. */
    s = repeat("", 'a', 65536, "\r\n", &n);
    expect_trace(s, n, NULL, big);
    free(s);
    s = repeat("", 'a', 65536, "", &n);
    expect_trace(s, n, NULL, "NEED");
    free(s);
    s = repeat("", 'a', 65537, "", &n);
    expect_trace(s, n, NULL, big);
    free(s);

    resp_limits lim;
    resp_limits_default(&lim);
    lim.max_inline_len = 6;
    EXPECT_LIM("ECHO a\nECHO b\r\n", &lim, "i:ECHO|a;ERR:Protocol error: too big inline request");
    EXPECT_LIM("ECHO a\nECHO\r\n", &lim, "i:ECHO|a;i:ECHO;NEED");
}

static void a_nul_in_an_inline_line_stalls_it(void **state)
{
    (void)state;
    /* Redis finds the newline with strchr(): the request never completes,
     * and fails once too much is pending. */
    EXPECT("ECHO a\0b\r\nPING\r\n", "NEED");
    resp_limits lim;
    resp_limits_default(&lim);
    lim.max_inline_len = 16;
    EXPECT_LIM("PING\r\nECHO a\0b\r\nPING\r\n", &lim, "i:PING;NEED");
    EXPECT_LIM("PING\r\nECHO a\0b\r\nPING\r\nPING\r\n", &lim,
               "i:PING;ERR:Protocol error: too big inline request");
}

/* ------------------------------------------------------------ the state */

static int parse_unauth(const char *in, size_t n, int on, const char **err)
{
    resp_parser *p = resp_parser_new(NULL);
    resp_cmd c;
    resp_parser_set_unauthenticated(p, on);
    assert_int_equal(resp_parser_feed(p, in, n), 0);
    int r;
    while ((r = resp_parser_next(p, &c)) == RESP_CMD)
        ;
    static char msg[128];
    snprintf(msg, sizeof(msg), "%s", r == RESP_ERROR ? resp_parser_error(p) : "");
    *err = msg;
    resp_parser_free(p);
    return r;
}

static void an_unauthenticated_client_gets_redis_pre_auth_limits(void **state)
{
    (void)state;
    const char *err;
#define UNAUTH(lit, on) parse_unauth((lit), sizeof(lit) - 1, (on), &err)
    assert_int_equal(UNAUTH("*10\r\n$16384\r\n", 1), RESP_NEED_MORE);
    assert_int_equal(UNAUTH("*11\r\n", 1), RESP_ERROR);
    assert_string_equal(err, "Protocol error: unauthenticated multibulk length");
    assert_int_equal(UNAUTH("*11\r\n", 0), RESP_NEED_MORE);
    assert_int_equal(UNAUTH("*1\r\n$16385\r\n", 1), RESP_ERROR);
    assert_string_equal(err, "Protocol error: unauthenticated bulk length");
    assert_int_equal(UNAUTH("*1\r\n$16385\r\n", 0), RESP_NEED_MORE);
    /* The syntax checks come first, and empty requests still pass. */
    assert_int_equal(UNAUTH("*01\r\n", 1), RESP_ERROR);
    assert_string_equal(err, "Protocol error: invalid multibulk length");
    assert_int_equal(UNAUTH("*-11\r\n", 1), RESP_NEED_MORE);
#undef UNAUTH
}

static void errors_are_sticky(void **state)
{
    (void)state;
    resp_parser *p = resp_parser_new(NULL);
    resp_cmd c;
    assert_null(resp_parser_error(p));
    assert_int_equal(resp_parser_feed(p, "*x\r\n", 4), 0);
    assert_int_equal(resp_parser_next(p, &c), RESP_ERROR);
    assert_string_equal(resp_parser_error(p), "Protocol error: invalid multibulk length");
    assert_int_equal(resp_parser_feed(p, "PING\r\n", 6), 0);
    assert_int_equal(resp_parser_next(p, &c), RESP_ERROR);
    assert_int_equal(resp_parser_next(p, &c), RESP_ERROR);
    assert_string_equal(resp_parser_error(p), "Protocol error: invalid multibulk length");
    resp_parser_free(p);
}

static void need_more_is_not_an_error(void **state)
{
    (void)state;
    resp_parser *p = resp_parser_new(NULL);
    resp_cmd c;
    assert_int_equal(resp_parser_next(p, &c), RESP_NEED_MORE);
    assert_int_equal(resp_parser_feed(p, "*1\r\n$4\r\nPI", 10), 0);
    assert_int_equal(resp_parser_next(p, &c), RESP_NEED_MORE);
    assert_null(resp_parser_error(p));
    assert_int_equal(resp_parser_pending(p), 10);
    assert_int_equal(resp_parser_feed(p, "NG\r\nPI", 6), 0);
    assert_int_equal(resp_parser_next(p, &c), RESP_CMD);
    assert_int_equal(c.argc, 1);
    assert_memory_equal(c.argv[0], "PING", 5);
    assert_int_equal(c.inline_req, 0);
    assert_int_equal(resp_parser_pending(p), 2);
    assert_int_equal(resp_parser_next(p, &c), RESP_NEED_MORE);
    assert_int_equal(resp_parser_pending(p), 2);
    resp_parser_free(p);
}

static void limits_can_change_between_commands(void **state)
{
    (void)state;
    resp_parser *p = resp_parser_new(NULL);
    resp_cmd c;
    resp_limits lim;
    resp_limits_default(&lim);
    lim.max_bulk_len = 3;
    const char in[] = "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n";
    assert_int_equal(resp_parser_feed(p, in, sizeof(in) - 1), 0);
    assert_int_equal(resp_parser_next(p, &c), RESP_CMD);
    resp_parser_set_limits(p, &lim);
    assert_int_equal(resp_parser_next(p, &c), RESP_ERROR);
    assert_string_equal(resp_parser_error(p), "Protocol error: invalid bulk length");
    resp_parser_free(p);
}

/* Builds a varied pipeline: multibulk with binary arguments of many sizes
 * (some above the big-argument threshold), inline requests with quoting,
 * empty lines and empty multibulks. */
static char *varied_pipeline(size_t *len, int ncmds)
{
    resp_buf b;
    resp_buf_init(&b, 2);
    for (int i = 0; i < ncmds; i++) {
        switch (rng() % 5) {
        case 0:
            resp_add_raw(&b, "SET \"k\\x00 1\" 'v\\'' x\r\n", 23);
            break;
        case 1:
            resp_add_raw(&b, "\r\n\n*0\r\n*-1\r\n", 12);
            break;
        default: {
            int argc = 1 + (int)(rng() % 4);
            resp_add_array(&b, argc);
            for (int a = 0; a < argc; a++) {
                size_t n = (size_t)(rng() % 8 == 0 ? rng() % 70000 : rng() % 20);
                char *v = malloc(n + 1);
                for (size_t k = 0; k < n; k++)
                    v[k] = "\r\n\0ab*$"[rng() % 7];
                resp_add_bulk(&b, v, n);
                free(v);
            }
        }
        }
    }
    *len = b.len;
    return b.p;
}

static void byte_by_byte_equals_whole_on_a_varied_pipeline(void **state)
{
    (void)state;
    for (int round = 0; round < 6; round++) {
        size_t n;
        char *in = varied_pipeline(&n, 40);
        trace whole = trace_run(in, n, NULL, 0, NULL);
        trace bytes = trace_bytewise(in, n, NULL);
        assert_string_equal(whole.s, bytes.s);
        assert_false(whole.bad_nul);
        assert_false(bytes.bad_nul);
        assert_true(whole.len > 4 && strcmp(whole.s + whole.len - 4, "NEED") == 0);
        size_t cuts[16];
        for (int i = 0; i < 16; i++)
            cuts[i] = (size_t)i * (n / 16) + (size_t)(rng() % (n / 16 + 1));
        trace split = trace_run(in, n, cuts, 16, NULL);
        assert_string_equal(whole.s, split.s);
        free(whole.s);
        free(bytes.s);
        free(split.s);
        free(in);
    }
}

/* ---------------------------------------------------- big arguments, OOM */

static size_t n_allocs, n_alloc_bytes, last_alloc_size, max_alloc_size;
static long fail_after = -1; /* the fail_after-th allocation fails */

static void *count_malloc(size_t n)
{
    if (fail_after >= 0 && (long)n_allocs >= fail_after) return NULL;
    n_allocs++;
    n_alloc_bytes += n;
    return malloc(n);
}
static void *count_realloc(void *p, size_t n)
{
    if (fail_after >= 0 && (long)n_allocs >= fail_after) return NULL;
    n_allocs++;
    n_alloc_bytes += n;
    last_alloc_size = n;
    if (n > max_alloc_size) max_alloc_size = n;
    return realloc(p, n);
}
static const resp_allocators counting = {count_malloc, count_realloc, free};

static void a_big_bulk_is_read_into_its_own_buffer_once(void **state)
{
    (void)state;
    const size_t size = 8 * 1024 * 1024, piece = 4096;
    char *val = malloc(size);
    for (size_t i = 0; i < size; i++)
        val[i] = (char)(i * 7);
    resp_set_allocators(&counting);
    n_allocs = n_alloc_bytes = 0;
    resp_parser *p = resp_parser_new(NULL);
    resp_cmd c;
    const char hdr[] = "*2\r\n$3\r\nSET\r\n$8388608\r\n";
    assert_int_equal(resp_parser_feed(p, hdr, sizeof(hdr) - 1), 0);
    assert_int_equal(resp_parser_next(p, &c), RESP_NEED_MORE);
    for (size_t at = 0; at < size; at += piece) {
        assert_int_equal(resp_parser_feed(p, val + at, piece), 0);
        assert_int_equal(resp_parser_next(p, &c), RESP_NEED_MORE);
    }
    assert_int_equal(resp_parser_pending(p), sizeof(hdr) - 1 + size);
    assert_int_equal(resp_parser_feed(p, "\r\n*1\r\n$4\r\nPING\r\n", 16), 0);
    assert_int_equal(resp_parser_next(p, &c), RESP_CMD);
    assert_int_equal(c.argc, 2);
    assert_int_equal(c.argvlen[1], size);
    assert_memory_equal(c.argv[1], val, size);
    assert_int_equal(c.argv[1][size], '\0');
    assert_int_equal(resp_parser_next(p, &c), RESP_CMD);
    assert_memory_equal(c.argv[0], "PING", 5);
    /* The parser, its input buffer, argv arrays and one exact-size buffer. */
    assert_true(n_allocs < 12);
    assert_true(n_alloc_bytes < size + 64 * 1024);
    resp_parser_free(p);
    resp_set_allocators(NULL);
    free(val);
}

static void feeding_a_stream_stays_linear(void **state)
{
    (void)state;
    /* Many commands fed in small pieces: the input buffer must not grow
     * or be reallocated over and over. */
    resp_set_allocators(&counting);
    n_allocs = n_alloc_bytes = 0;
    resp_parser *p = resp_parser_new(NULL);
    resp_cmd c;
    const char cmd[] = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
    for (int i = 0; i < 200000; i++) {
        assert_int_equal(resp_parser_feed(p, cmd, 10), 0);
        assert_int_equal(resp_parser_next(p, &c), RESP_NEED_MORE);
        assert_int_equal(resp_parser_feed(p, cmd + 10, sizeof(cmd) - 11), 0);
        assert_int_equal(resp_parser_next(p, &c), RESP_CMD);
    }
    assert_true(n_allocs < 8);
    resp_parser_free(p);
    resp_set_allocators(NULL);
}

static void an_idle_parser_gives_back_a_burst_buffer(void **state)
{
    (void)state;
    const char cmd[] = "*2\r\n$4\r\nECHO\r\n$3\r\nabc\r\n";
    size_t one = sizeof(cmd) - 1, n = 200000;
    char *in = malloc(one * n);
    for (size_t i = 0; i < n; i++)
        memcpy(in + i * one, cmd, one);
    resp_set_allocators(&counting);
    resp_parser *p = resp_parser_new(NULL);
    resp_cmd c;
    assert_int_equal(resp_parser_feed(p, in, one * n), 0);
    size_t got = 0;
    while (resp_parser_next(p, &c) == RESP_CMD)
        got++;
    assert_int_equal(got, n);
    assert_true(max_alloc_size >= one * n);
    assert_int_equal(resp_parser_feed(p, cmd, one), 0);
    assert_int_equal(last_alloc_size, 16 * 1024);
    assert_int_equal(resp_parser_next(p, &c), RESP_CMD);
    assert_memory_equal(c.argv[1], "abc", 4);
    resp_parser_free(p);
    resp_set_allocators(NULL);
    free(in);
}

static void out_of_memory_is_sticky_and_leaks_nothing(void **state)
{
    (void)state;
    size_t n;
    char *in = varied_pipeline(&n, 30);
    trace want = trace_run(in, n, NULL, 0, NULL);
    int saw_nomem = 0;
    for (long k = 0;; k++) {
        resp_set_allocators(&counting);
        n_allocs = 0;
        fail_after = k;
        resp_parser *p = resp_parser_new(NULL);
        if (!p) {
            resp_set_allocators(NULL);
            fail_after = -1;
            continue;
        }
        trace t = {0};
        int r = RESP_NEED_MORE;
        for (size_t at = 0; at < n && r >= 0; at += 1000) {
            size_t m = n - at < 1000 ? n - at : 1000;
            r = resp_parser_feed(p, in + at, m);
            if (r == 0) r = trace_drain(&t, p);
        }
        fail_after = -1;
        resp_set_allocators(NULL);
        if (r == RESP_NOMEM) {
            saw_nomem = 1;
            resp_cmd c;
            assert_int_equal(resp_parser_next(p, &c), RESP_NOMEM);
            assert_non_null(resp_parser_error(p));
            /* What came before the failure is a prefix of the real trace. */
            if (t.s) assert_memory_equal(t.s, want.s, t.len);
            free(t.s);
            resp_parser_free(p);
            continue;
        }
        trace_end(&t, p, r);
        assert_string_equal(t.s, want.s);
        free(t.s);
        resp_parser_free(p);
        break;
    }
    assert_true(saw_nomem);
    free(want.s);
    free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(multibulk_commands_are_parsed_and_pipelined),
        cmocka_unit_test(incomplete_input_asks_for_more),
        cmocka_unit_test(bulks_are_binary_safe),
        cmocka_unit_test(empty_multibulks_are_skipped),
        cmocka_unit_test(multibulk_lines_are_not_checked_for_lf),
        cmocka_unit_test(counts_use_string2ll_strictness),
        cmocka_unit_test(a_non_dollar_bulk_header_is_named),
        cmocka_unit_test(multibulk_count_limit),
        cmocka_unit_test(bulk_length_limit),
        cmocka_unit_test(default_bulk_limit_is_accepted_at_the_limit),
        cmocka_unit_test(count_strings_too_big),
        cmocka_unit_test(a_nul_hides_the_end_of_a_header_line),
        cmocka_unit_test(inline_commands_are_split_on_spaces),
        cmocka_unit_test(empty_inline_lines_are_skipped),
        cmocka_unit_test(inline_and_multibulk_mix_in_a_pipeline),
        cmocka_unit_test(inline_quoting_follows_sdssplitargs),
        cmocka_unit_test(unbalanced_quotes_are_an_error),
        cmocka_unit_test(inline_length_limit),
        cmocka_unit_test(a_nul_in_an_inline_line_stalls_it),
        cmocka_unit_test(an_unauthenticated_client_gets_redis_pre_auth_limits),
        cmocka_unit_test(errors_are_sticky),
        cmocka_unit_test(need_more_is_not_an_error),
        cmocka_unit_test(limits_can_change_between_commands),
        cmocka_unit_test(byte_by_byte_equals_whole_on_a_varied_pipeline),
        cmocka_unit_test(a_big_bulk_is_read_into_its_own_buffer_once),
        cmocka_unit_test(feeding_a_stream_stays_linear),
        cmocka_unit_test(an_idle_parser_gives_back_a_burst_buffer),
        cmocka_unit_test(out_of_memory_is_sticky_and_leaks_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
