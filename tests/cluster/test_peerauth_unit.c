/* test_peerauth_unit.c -- server/peerauth.c alone: strict node ids, the
 * proof against values computed independently (Python's hmac module, as
 * in test_peerauth.py), verification, nonces and the per-address limit on
 * failed hellos. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "server/peerauth.h"

static void node_ids_are_digits_only_without_sign_space_leading_zero_or_overflow(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t len;
        int ok;
        uint64_t id;
    } rows[] = {
        {"2", 1, 1, 2},
        {"18446744073709551615", 20, 1, UINT64_MAX},
        {"10", 2, 1, 10},
        {"+2", 2, 0, 0},
        {" 2", 2, 0, 0},
        {"2 ", 2, 0, 0},
        {"02", 2, 0, 0},
        {"0", 1, 0, 0},
        {"-1844674407370955161", 20, 0, 0},
        {"-18446744073709551614", 21, 0, 0},
        {"18446744073709551616", 20, 0, 0}, /* UINT64_MAX + 1 */
        {"18446744073709551618", 20, 0, 0},
        {"99999999999999999999", 20, 0, 0},
        {"100000000000000000000", 21, 0, 0},
        {"2\0", 2, 0, 0},
        {"0x2", 3, 0, 0},
        {"2e0", 3, 0, 0},
        {"", 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        uint64_t id = 12345;
        int rc = peerauth_parse_id(rows[i].s, rows[i].len, &id);
        print_message("row %zu\n", i);
        assert_int_equal(rc, rows[i].ok ? 0 : -1);
        if (rows[i].ok) assert_true(id == rows[i].id);
    }
}

static void proofs_match_an_independent_hmac_and_differ_by_direction(void **state)
{
    (void)state;
    char cn[65], sn[65], out[65];
    memset(cn, '0', 64);
    cn[64] = '\0';
    memset(sn, 'f', 64);
    sn[64] = '\0';
    /* /usr/bin/python3: hmac.new(b"key", frame(label, "cid", "2", "1", cn, sn),
     * hashlib.sha256).hexdigest(), frame = 4-byte big-endian length + bytes */
    assert_int_equal(peerauth_proof("key", 3, PEERAUTH_SERVER, "cid", 2, 1, cn, sn, out), 0);
    assert_string_equal(out, "0ebe6cc83ada1bf1458776b5f7c4897896f974ce971b5652e6c4c6bd7e771056");
    assert_int_equal(peerauth_proof("key", 3, PEERAUTH_CLIENT, "cid", 2, 1, cn, sn, out), 0);
    assert_string_equal(out, "85f1ef6fa9d8436a1f47a1832f28526b69b5f23621c5a3a80162174e7f6ba0e5");
    assert_true(peerauth_verify("key", 3, PEERAUTH_CLIENT, "cid", 2, 1, cn, sn, out, 64));
    /* any other key, id, cluster, nonce, direction or length: no */
    assert_false(peerauth_verify("kez", 3, PEERAUTH_CLIENT, "cid", 2, 1, cn, sn, out, 64));
    assert_false(peerauth_verify("key", 3, PEERAUTH_SERVER, "cid", 2, 1, cn, sn, out, 64));
    assert_false(peerauth_verify("key", 3, PEERAUTH_CLIENT, "cie", 2, 1, cn, sn, out, 64));
    assert_false(peerauth_verify("key", 3, PEERAUTH_CLIENT, "cid", 1, 2, cn, sn, out, 64));
    assert_false(peerauth_verify("key", 3, PEERAUTH_CLIENT, "cid", 2, 1, sn, cn, out, 64));
    assert_false(peerauth_verify("key", 3, PEERAUTH_CLIENT, "cid", 2, 1, cn, sn, out, 63));
    out[63] ^= 1;
    assert_false(peerauth_verify("key", 3, PEERAUTH_CLIENT, "cid", 2, 1, cn, sn, out, 64));
}

static void nonces_are_fresh_lowercase_hex(void **state)
{
    (void)state;
    char a[65], b[65];
    assert_int_equal(peerauth_nonce(a), 0);
    assert_int_equal(peerauth_nonce(b), 0);
    assert_true(peerauth_is_hex(a, strlen(a)));
    assert_true(peerauth_is_hex(b, strlen(b)));
    assert_string_not_equal(a, b);
    assert_false(
        peerauth_is_hex("ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789", 64));
    assert_false(peerauth_is_hex(a, 63));
}

static void failed_hellos_block_an_address_for_a_while(void **state)
{
    (void)state;
    int64_t t = 1000000;
    const char *a = "192.0.2.7", *b = "192.0.2.8";
    for (int i = 1; i < PEERAUTH_MAX_FAILURES; i++)
        assert_int_equal(peerauth_note_failure(a, t + i), 0);
    assert_false(peerauth_blocked(a, t + 10));
    assert_int_equal(peerauth_note_failure(a, t + 10), 1);
    assert_true(peerauth_blocked(a, t + 11));
    assert_false(peerauth_blocked(b, t + 11));
    assert_true(peerauth_blocked(a, t + 10 + PEERAUTH_BLOCK_MS - 1));
    assert_false(peerauth_blocked(a, t + 10 + PEERAUTH_BLOCK_MS));

    /* failures further apart than the window never add up */
    t += 10 * PEERAUTH_BLOCK_MS;
    for (int i = 0; i < 3 * PEERAUTH_MAX_FAILURES; i++)
        assert_int_equal(peerauth_note_failure(b, t + (int64_t)i * PEERAUTH_WINDOW_MS / 2), 0);
    assert_false(peerauth_blocked(b, t + 2 * PEERAUTH_MAX_FAILURES * PEERAUTH_WINDOW_MS));

    /* a success forgets the failures */
    t += 10 * PEERAUTH_BLOCK_MS;
    for (int i = 1; i < PEERAUTH_MAX_FAILURES; i++)
        peerauth_note_failure(a, t);
    peerauth_note_success(a);
    assert_int_equal(peerauth_note_failure(a, t), 0);

    /* a full table forgets the least recently failed, never refuses to count */
    t += 10 * PEERAUTH_BLOCK_MS;
    for (int i = 0; i < PEERAUTH_MAX_FAILURES; i++)
        peerauth_note_failure("198.51.100.1", t);
    assert_true(peerauth_blocked("198.51.100.1", t));
    char addr[32];
    for (int n = 0; n < 2 * PEERAUTH_TRACKED; n++) {
        snprintf(addr, sizeof(addr), "203.0.113.%d:%d", n % 250, n);
        peerauth_note_failure(addr, t + 1 + n);
    }
    assert_false(peerauth_blocked("198.51.100.1", t + 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(node_ids_are_digits_only_without_sign_space_leading_zero_or_overflow),
        cmocka_unit_test(proofs_match_an_independent_hmac_and_differ_by_direction),
        cmocka_unit_test(nonces_are_fresh_lowercase_hex),
        cmocka_unit_test(failed_hellos_block_an_address_for_a_while),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
