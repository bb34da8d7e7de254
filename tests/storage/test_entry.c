/* test_entry.c -- the entry payload codec: round trips of every kind, and
 * every malformation (each truncation, trailing bytes, bad header, counts
 * and lengths larger than the payload) answered KV_ECORRUPT. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "kvtest.h"
#include "storage/kvint.h"

static void make_cmd(resp_buf *b, int64_t tau)
{
    char *argv[] = {"SET", "key", "va\0lue", ""};
    size_t argvlen[] = {3, 3, 6, 0};
    kventry_encode_cmd(b, tau, 0, 4, argv, argvlen);
}

static void make_multi(resp_buf *b)
{
    char *a1[] = {"INCR", "n"};
    size_t l1[] = {4, 1};
    char *a2[] = {"GET", "n"};
    size_t l2[] = {3, 1};
    kventry_begin_multi(b, 77, 0, 2);
    kventry_add_cmd(b, 2, a1, l1);
    kventry_add_cmd(b, 2, a2, l2);
}

static void make_expire(resp_buf *b)
{
    kventry_begin_expire(b, 5, 2);
    kventry_add_expire(b, 0, "k1", 2, 100);
    kventry_add_expire(b, 0, "", 0, -1);
}

static void cmd_round_trips(void **state)
{
    (void)state;
    resp_buf b;
    kv_entry e;
    int kind;
    int64_t tau;
    resp_buf_init(&b, 2);
    make_cmd(&b, -123456789012345);
    assert_int_equal(kventry_peek(b.p, b.len, &kind, &tau), 0);
    assert_int_equal(kind, KV_ENTRY_CMD);
    assert_int_equal(tau, -123456789012345);
    assert_int_equal(kventry_decode(b.p, b.len, &e), 0);
    assert_int_equal(e.kind, KV_ENTRY_CMD);
    assert_int_equal(e.count, 1);
    assert_int_equal(e.cmds[0].argc, 4);
    assert_int_equal(e.cmds[0].argvlen[2], 6);
    assert_memory_equal(e.cmds[0].argv[2], "va\0lue", 7); /* NUL-terminated */
    assert_int_equal(e.cmds[0].argvlen[3], 0);
    assert_int_equal(e.cmds[0].argv[3][0], 0);
    kventry_free(&e);
    resp_buf_free(&b);
}

static void multi_and_expire_round_trip(void **state)
{
    (void)state;
    resp_buf b;
    kv_entry e;
    resp_buf_init(&b, 2);
    make_multi(&b);
    assert_int_equal(kventry_decode(b.p, b.len, &e), 0);
    assert_int_equal(e.kind, KV_ENTRY_MULTI);
    assert_int_equal(e.tau, 77);
    assert_int_equal(e.count, 2);
    assert_string_equal(e.cmds[1].argv[0], "GET");
    kventry_free(&e);

    resp_buf_reset(&b);
    make_expire(&b);
    assert_int_equal(kventry_decode(b.p, b.len, &e), 0);
    assert_int_equal(e.kind, KV_ENTRY_EXPIRE);
    assert_int_equal(e.count, 2);
    assert_int_equal(e.items[0].expiry, 100);
    assert_int_equal(e.items[0].keylen, 2);
    assert_int_equal(e.items[1].keylen, 0);
    assert_int_equal(e.items[1].expiry, -1);
    kventry_free(&e);

    /* An empty MULTI is well formed. */
    resp_buf_reset(&b);
    kventry_begin_multi(&b, 1, 0, 0);
    assert_int_equal(kventry_decode(b.p, b.len, &e), 0);
    assert_int_equal(e.count, 0);
    kventry_free(&e);
    resp_buf_free(&b);
}

static void every_truncation_and_extension_is_corrupt(void **state)
{
    (void)state;
    void (*makers[])(resp_buf *) = {make_multi, make_expire};
    resp_buf b;
    kv_entry e;
    resp_buf_init(&b, 2);
    for (int m = 0; m < 3; m++) {
        resp_buf_reset(&b);
        if (m == 0)
            make_cmd(&b, 1);
        else
            makers[m - 1](&b);
        for (size_t n = 0; n < b.len; n++) {
            /* A private copy of exactly n bytes so ASan sees any overread. */
            char *p = malloc(n ? n : 1);
            memcpy(p, b.p, n);
            assert_int_equal(kventry_decode(p, n, &e), KV_ECORRUPT);
            if (n < 10) assert_int_equal(kventry_peek(p, n, NULL, NULL), KV_ECORRUPT);
            free(p);
        }
        char *p = malloc(b.len + 1);
        memcpy(p, b.p, b.len);
        p[b.len] = 0;
        assert_int_equal(kventry_decode(p, b.len + 1, &e), KV_ECORRUPT);
        assert_int_equal(kventry_decode(p, b.len, &e), 0);
        kventry_free(&e);
        free(p);
    }
    resp_buf_free(&b);
}

static void bad_headers_are_corrupt(void **state)
{
    (void)state;
    resp_buf b;
    kv_entry e;
    resp_buf_init(&b, 2);
    make_cmd(&b, 1);
    b.p[0] = 3; /* unknown version */
    assert_int_equal(kventry_decode(b.p, b.len, &e), KV_ECORRUPT);
    assert_int_equal(kventry_peek(b.p, b.len, NULL, NULL), KV_ECORRUPT);
    b.p[0] = 1;
    for (int kind = 0; kind < 256; kind++) {
        if (kind >= KV_ENTRY_CMD && kind <= KV_ENTRY_EXPIRE) continue;
        b.p[1] = (char)kind;
        assert_int_equal(kventry_decode(b.p, b.len, &e), KV_ECORRUPT);
    }
    assert_int_equal(kventry_decode(NULL, 0, &e), KV_ECORRUPT);
    resp_buf_free(&b);
}

static void put32(char *p, uint32_t v)
{
    p[0] = (char)v;
    p[1] = (char)(v >> 8);
    p[2] = (char)(v >> 16);
    p[3] = (char)(v >> 24);
}

static void huge_counts_and_lengths_are_corrupt_without_allocating(void **state)
{
    (void)state;
    resp_buf b;
    kv_entry e;
    uint32_t bad[] = {0, 3, 1000, 0x7fffffff, 0x80000000, 0xffffffff};
    resp_buf_init(&b, 2);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        /* argc (0 is invalid: a command has a name) */
        resp_buf_reset(&b);
        make_cmd(&b, 1);
        put32(b.p + 10, bad[i] == 3 ? 5 : bad[i]);
        assert_int_equal(kventry_decode(b.p, b.len, &e), KV_ECORRUPT);
        /* the first argument's length */
        resp_buf_reset(&b);
        make_cmd(&b, 1);
        put32(b.p + 14, bad[i] && bad[i] != 3 ? bad[i] : 4);
        assert_int_equal(kventry_decode(b.p, b.len, &e), KV_ECORRUPT);
        /* MULTI count */
        resp_buf_reset(&b);
        make_multi(&b);
        if (bad[i] != 0) {
            put32(b.p + 10, bad[i]);
            assert_int_equal(kventry_decode(b.p, b.len, &e), KV_ECORRUPT);
        }
        /* EXPIRE count and key length */
        resp_buf_reset(&b);
        make_expire(&b);
        if (bad[i] != 0) {
            put32(b.p + 10, bad[i]);
            assert_int_equal(kventry_decode(b.p, b.len, &e), KV_ECORRUPT);
            resp_buf_reset(&b);
            make_expire(&b);
            put32(b.p + 14, bad[i]);
            assert_int_equal(kventry_decode(b.p, b.len, &e), KV_ECORRUPT);
        }
    }
    resp_buf_free(&b);
}

static void random_bytes_never_crash(void **state)
{
    (void)state;
    uint64_t x = 88172645463325252ull;
    kv_entry e;
    for (int it = 0; it < 20000; it++) {
        unsigned char buf[64];
        size_t n = (size_t)(it % 64);
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[i] = (unsigned char)x;
        }
        if (n > 2) {
            buf[0] = 1;
            buf[1] = (unsigned char)(1 + it % 3);
        }
        unsigned char *p = malloc(n ? n : 1);
        memcpy(p, buf, n);
        if (kventry_decode(p, n, &e) == 0) kventry_free(&e);
        free(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cmd_round_trips),
        cmocka_unit_test(multi_and_expire_round_trip),
        cmocka_unit_test(every_truncation_and_extension_is_corrupt),
        cmocka_unit_test(bad_headers_are_corrupt),
        cmocka_unit_test(huge_counts_and_lengths_are_corrupt_without_allocating),
        cmocka_unit_test(random_bytes_never_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
