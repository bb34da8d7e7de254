/* test_encoder.c -- every reply form in RESP2 and RESP3, byte for byte as
 * redis-server 7.0 writes it. */
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "resp/resp.h"

static resp_buf b2, b3;

static int setup(void **state)
{
    (void)state;
    resp_buf_init(&b2, 2);
    resp_buf_init(&b3, 3);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    resp_buf_free(&b2);
    resp_buf_free(&b3);
    return 0;
}

static void expect_bytes(resp_buf *b, const char *want, size_t n)
{
    assert_false(b->oom);
    if (b->len != n || memcmp(b->p, want, n) != 0)
        fail_msg("RESP%d: got \"%.*s\" (%zu bytes), want \"%.*s\" (%zu bytes)", b->proto,
                 (int)b->len, b->p, b->len, (int)n, want, n);
    resp_buf_reset(b);
}

#define EXPECT2(lit) expect_bytes(&b2, (lit), sizeof(lit) - 1)
#define EXPECT3(lit) expect_bytes(&b3, (lit), sizeof(lit) - 1)
/* The same call on both buffers. */
#define BOTH(call)                                                                                 \
    do {                                                                                           \
        resp_buf *b = &b2;                                                                         \
        call;                                                                                      \
        b = &b3;                                                                                   \
        call;                                                                                      \
    } while (0)

static void simple_strings_and_ok(void **state)
{
    (void)state;
    BOTH(resp_add_simple(b, "PONG"));
    EXPECT2("+PONG\r\n");
    EXPECT3("+PONG\r\n");
    BOTH(resp_add_status_len(b, "QUEUEDxx", 6));
    EXPECT2("+QUEUED\r\n");
    EXPECT3("+QUEUED\r\n");
    BOTH(resp_add_ok(b));
    EXPECT2("+OK\r\n");
    EXPECT3("+OK\r\n");
    BOTH(resp_add_simple(b, ""));
    EXPECT2("+\r\n");
    EXPECT3("+\r\n");
}

static void errors_keep_their_prefix_and_lose_newlines(void **state)
{
    (void)state;
    BOTH(resp_add_error(b, "ERR syntax error"));
    EXPECT2("-ERR syntax error\r\n");
    EXPECT3("-ERR syntax error\r\n");
    BOTH(resp_add_error(b, "WRONGTYPE Operation against a key holding the wrong kind of value"));
    EXPECT2("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    EXPECT3("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    BOTH(resp_add_error(b, "ERR a\r\nb\nc\rd"));
    EXPECT2("-ERR a  b c d\r\n");
    EXPECT3("-ERR a  b c d\r\n");
    BOTH(resp_add_error(b, "\r\nERR trimmed\r\n\n"));
    EXPECT2("-ERR trimmed\r\n");
    EXPECT3("-ERR trimmed\r\n");
    BOTH(resp_add_error(b, "-ERR once"));
    EXPECT2("-ERR once\r\n");
    EXPECT3("-ERR once\r\n");
}

static void formatted_errors(void **state)
{
    (void)state;
    BOTH(resp_add_errorf(b, "ERR unknown command '%s', with args beginning with: %s", "FOO",
                         "'a' "));
    EXPECT2("-ERR unknown command 'FOO', with args beginning with: 'a' \r\n");
    EXPECT3("-ERR unknown command 'FOO', with args beginning with: 'a' \r\n");
    BOTH(resp_add_errorf(b, "ERR %d\n%s\r\n", 42, "x"));
    EXPECT2("-ERR 42 x\r\n");
    EXPECT3("-ERR 42 x\r\n");

    /* Longer than the stack buffer: formatted inside the reply buffer. */
    char big[1000], want[1100];
    for (int i = 0; i < 999; i++)
        big[i] = (i % 50 == 49) ? '\n' : (char)('a' + i % 26);
    big[999] = '\0';
    resp_add_raw(&b2, "+x\r\n", 4);
    resp_add_errorf(&b2, "ERR %s!", big);
    int n = snprintf(want, sizeof(want), "+x\r\n-ERR %s!\r\n", big);
    for (int i = 9; i < n - 2; i++)
        if (want[i] == '\n') want[i] = ' ';
    expect_bytes(&b2, want, (size_t)n);
}

static void integers_at_every_width(void **state)
{
    (void)state;
    BOTH(resp_add_int(b, 0));
    EXPECT2(":0\r\n");
    EXPECT3(":0\r\n");
    resp_add_int(&b2, -1);
    EXPECT2(":-1\r\n");
    resp_add_int(&b2, INT64_MIN);
    EXPECT2(":-9223372036854775808\r\n");
    resp_add_int(&b2, INT64_MAX);
    EXPECT2(":9223372036854775807\r\n");

    /* Against printf at every power of ten and its neighbours, and at
     * random values. */
    char want[64];
    int64_t v = 1;
    for (int e = 0; e < 19; e++, v = e < 19 ? v * 10 : v) {
        int64_t cases[] = {v - 1, v, v + 1, -v + 1, -v, -v - 1};
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            int n = snprintf(want, sizeof(want), ":%" PRId64 "\r\n", cases[i]);
            resp_add_int(&b3, cases[i]);
            expect_bytes(&b3, want, (size_t)n);
        }
    }
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 10000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int64_t r = (int64_t)(x >> (x % 64));
        if (i & 1) r = -r;
        int n = snprintf(want, sizeof(want), ":%" PRId64 "\r\n", r);
        resp_add_int(&b2, r);
        expect_bytes(&b2, want, (size_t)n);
        n = snprintf(want, sizeof(want), "$%d\r\n%" PRId64 "\r\n", n - 3, r);
        resp_add_bulk_int(&b2, r);
        expect_bytes(&b2, want, (size_t)n);
    }
}

static void bulk_strings(void **state)
{
    (void)state;
    BOTH(resp_add_bulk(b, "a\0\r\nb", 5));
    EXPECT2("$5\r\na\0\r\nb\r\n");
    EXPECT3("$5\r\na\0\r\nb\r\n");
    BOTH(resp_add_bulk(b, "", 0));
    EXPECT2("$0\r\n\r\n");
    EXPECT3("$0\r\n\r\n");
    BOTH(resp_add_bulk(b, NULL, 0));
    EXPECT2("$0\r\n\r\n");
    EXPECT3("$0\r\n\r\n");
    BOTH(resp_add_bulk_str(b, "hello"));
    EXPECT2("$5\r\nhello\r\n");
    EXPECT3("$5\r\nhello\r\n");
    BOTH(resp_add_bulk_int(b, -42));
    EXPECT2("$3\r\n-42\r\n");
    EXPECT3("$3\r\n-42\r\n");
    BOTH(resp_add_bulk_int(b, INT64_MIN));
    EXPECT2("$20\r\n-9223372036854775808\r\n");
    EXPECT3("$20\r\n-9223372036854775808\r\n");

    size_t n = 100000;
    char *v = malloc(n);
    memset(v, 'z', n);
    resp_add_bulk(&b2, v, n);
    assert_int_equal(b2.len, 9 + n + 2);
    assert_memory_equal(b2.p, "$100000\r\n", 9);
    assert_memory_equal(b2.p + 9, v, n);
    assert_memory_equal(b2.p + 9 + n, "\r\n", 2);
    resp_buf_reset(&b2);
    free(v);
}

static void nulls_differ_by_protocol(void **state)
{
    (void)state;
    BOTH(resp_add_null(b));
    EXPECT2("$-1\r\n");
    EXPECT3("_\r\n");
    BOTH(resp_add_null_array(b));
    EXPECT2("*-1\r\n");
    EXPECT3("_\r\n");
}

static void aggregates_differ_by_protocol(void **state)
{
    (void)state;
    BOTH(resp_add_array(b, 3));
    EXPECT2("*3\r\n");
    EXPECT3("*3\r\n");
    BOTH(resp_add_array(b, 0));
    EXPECT2("*0\r\n");
    EXPECT3("*0\r\n");
    BOTH(resp_add_map(b, 2));
    EXPECT2("*4\r\n");
    EXPECT3("%2\r\n");
    BOTH(resp_add_map(b, 0));
    EXPECT2("*0\r\n");
    EXPECT3("%0\r\n");
    BOTH(resp_add_set(b, 12));
    EXPECT2("*12\r\n");
    EXPECT3("~12\r\n");
    BOTH(resp_add_push(b, 3));
    EXPECT2("*3\r\n");
    EXPECT3(">3\r\n");
}

static void doubles_as_redis_7_0_writes_them(void **state)
{
    (void)state;
    BOTH(resp_add_double(b, 1.5));
    EXPECT2("$3\r\n1.5\r\n");
    EXPECT3(",1.5\r\n");
    BOTH(resp_add_double(b, 0.1));
    EXPECT2("$19\r\n0.10000000000000001\r\n");
    EXPECT3(",0.10000000000000001\r\n");
    BOTH(resp_add_double(b, 3.0));
    EXPECT2("$1\r\n3\r\n");
    EXPECT3(",3\r\n");
    BOTH(resp_add_double(b, -0.0));
    EXPECT2("$2\r\n-0\r\n");
    EXPECT3(",-0\r\n");
    BOTH(resp_add_double(b, 1e300));
    EXPECT2("$23\r\n1.0000000000000001e+300\r\n");
    EXPECT3(",1.0000000000000001e+300\r\n");
    BOTH(resp_add_double(b, INFINITY));
    EXPECT2("$3\r\ninf\r\n");
    EXPECT3(",inf\r\n");
    BOTH(resp_add_double(b, -INFINITY));
    EXPECT2("$4\r\n-inf\r\n");
    EXPECT3(",-inf\r\n");
    /* NaN goes through printf, as in Redis 7.0. */
    BOTH(resp_add_double(b, fabs(NAN)));
    EXPECT2("$3\r\nnan\r\n");
    EXPECT3(",nan\r\n");
}

static void booleans(void **state)
{
    (void)state;
    BOTH(resp_add_bool(b, 1));
    EXPECT2(":1\r\n");
    EXPECT3("#t\r\n");
    BOTH(resp_add_bool(b, 0));
    EXPECT2(":0\r\n");
    EXPECT3("#f\r\n");
    BOTH(resp_add_bool(b, 7));
    EXPECT2(":1\r\n");
    EXPECT3("#t\r\n");
}

static void verbatim_strings(void **state)
{
    (void)state;
    BOTH(resp_add_verbatim(b, "txt", "Some string", 11));
    EXPECT2("$11\r\nSome string\r\n");
    EXPECT3("=15\r\ntxt:Some string\r\n");
    BOTH(resp_add_verbatim(b, "md", "", 0));
    EXPECT2("$0\r\n\r\n");
    EXPECT3("=4\r\nmd :\r\n");
}

static void raw_bytes(void **state)
{
    (void)state;
    BOTH(resp_add_raw(b, "+x\r\n", 4));
    EXPECT2("+x\r\n");
    EXPECT3("+x\r\n");
    BOTH(resp_add_raw(b, NULL, 0));
    EXPECT2("");
    EXPECT3("");
}

static void deferred_lengths_of_every_size(void **state)
{
    (void)state;
    int64_t counts[] = {0, 9, 10, 99, 100, 12345, 1234567890123LL};
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        char want[64];
        resp_add_simple(&b2, "before");
        size_t mark = resp_add_deferred(&b2);
        resp_add_bulk_str(&b2, "a");
        resp_add_int(&b2, 5);
        resp_set_deferred_array(&b2, mark, counts[i]);
        resp_add_simple(&b2, "after");
        int n = snprintf(want, sizeof(want),
                         "+before\r\n*%" PRId64 "\r\n$1\r\na\r\n:5\r\n+after\r\n", counts[i]);
        expect_bytes(&b2, want, (size_t)n);
    }
    /* Maps count pairs in RESP2, sets are plain arrays there. */
    BOTH(resp_set_deferred_map(b, resp_add_deferred(b), 3));
    EXPECT2("*6\r\n");
    EXPECT3("%3\r\n");
    BOTH(resp_set_deferred_set(b, resp_add_deferred(b), 3));
    EXPECT2("*3\r\n");
    EXPECT3("~3\r\n");
    BOTH(resp_set_deferred_map(b, resp_add_deferred(b), 500));
    EXPECT2("*1000\r\n");
    EXPECT3("%500\r\n");
}

static void nested_deferred_lengths(void **state)
{
    (void)state;
    /* SCAN's shape: [cursor, [keys...]], and a deferred inside a deferred. */
    size_t outer = resp_add_deferred(&b3);
    resp_add_bulk_str(&b3, "0");
    size_t inner = resp_add_deferred(&b3);
    for (int i = 0; i < 120; i++)
        resp_add_bulk_str(&b3, "k");
    resp_set_deferred_set(&b3, inner, 120);
    resp_set_deferred_array(&b3, outer, 2);
    assert_false(b3.oom);
    assert_memory_equal(b3.p, "*2\r\n$1\r\n0\r\n~120\r\n$1\r\nk\r\n", 24);
    assert_int_equal(b3.len, 4 + 7 + 6 + 120 * 7);
    resp_buf_reset(&b3);
}

static void consume_after_a_partial_write(void **state)
{
    (void)state;
    resp_add_simple(&b2, "hello");
    resp_buf_consume(&b2, 3);
    assert_int_equal(b2.len, 5);
    assert_memory_equal(b2.p, "llo\r\n", 5);
    /* Growing after a consume keeps the unwritten bytes in order. */
    for (int i = 0; i < 1000; i++)
        resp_add_int(&b2, i);
    assert_memory_equal(b2.p, "llo\r\n:0\r\n:1\r\n", 13);
    size_t total = b2.len;
    while (b2.len) {
        size_t before = b2.len;
        resp_buf_consume(&b2, 7);
        assert_true(b2.len == before - 7 || b2.len == 0);
    }
    assert_true(total > 0);
    resp_buf_consume(&b2, 10); /* more than there is */
    assert_int_equal(b2.len, 0);
    resp_add_ok(&b2);
    EXPECT2("+OK\r\n");
    /* A consumed prefix is reused rather than grown past. */
    resp_add_simple(&b2, "x");
    size_t cap = b2.cap;
    resp_buf_consume(&b2, 2);
    resp_add_raw(&b2, "\r\n", 2);
    assert_true(b2.cap + 2 >= cap);
    EXPECT2("\r\n\r\n");
}

static long allow_allocs = -1;
static void *lim_malloc(size_t n)
{
    if (allow_allocs == 0) return NULL;
    if (allow_allocs > 0) allow_allocs--;
    return malloc(n);
}
static void *lim_realloc(void *p, size_t n)
{
    if (allow_allocs == 0) return NULL;
    if (allow_allocs > 0) allow_allocs--;
    return realloc(p, n);
}

static void out_of_memory_is_sticky(void **state)
{
    (void)state;
    static const resp_allocators a = {lim_malloc, lim_realloc, free};
    resp_buf b;
    resp_set_allocators(&a);
    allow_allocs = 1;
    resp_buf_init(&b, 3);
    resp_add_ok(&b); /* the one allowed allocation: 256 bytes */
    assert_false(b.oom);
    char big[300];
    memset(big, 'x', sizeof(big));
    resp_add_bulk(&b, big, sizeof(big)); /* needs to grow: fails */
    assert_true(b.oom);
    size_t len = b.len;
    resp_add_ok(&b); /* fits, but the buffer is failed: ignored */
    resp_add_int(&b, 1);
    resp_add_double(&b, 1.0);
    resp_add_errorf(&b, "ERR %s", "x");
    size_t mark = resp_add_deferred(&b);
    resp_set_deferred_array(&b, mark, 1);
    assert_int_equal(b.len, len);
    assert_true(b.oom);
    resp_buf_reset(&b);
    assert_false(b.oom);
    resp_add_ok(&b);
    assert_memory_equal(b.p, "+OK\r\n", 5);
    allow_allocs = -1;
    resp_set_allocators(NULL);
    resp_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(simple_strings_and_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(errors_keep_their_prefix_and_lose_newlines, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(formatted_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(integers_at_every_width, setup, teardown),
        cmocka_unit_test_setup_teardown(bulk_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(nulls_differ_by_protocol, setup, teardown),
        cmocka_unit_test_setup_teardown(aggregates_differ_by_protocol, setup, teardown),
        cmocka_unit_test_setup_teardown(doubles_as_redis_7_0_writes_them, setup, teardown),
        cmocka_unit_test_setup_teardown(booleans, setup, teardown),
        cmocka_unit_test_setup_teardown(verbatim_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(raw_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(deferred_lengths_of_every_size, setup, teardown),
        cmocka_unit_test_setup_teardown(nested_deferred_lengths, setup, teardown),
        cmocka_unit_test_setup_teardown(consume_after_a_partial_write, setup, teardown),
        cmocka_unit_test_setup_teardown(out_of_memory_is_sticky, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
