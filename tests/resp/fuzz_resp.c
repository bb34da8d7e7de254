/* fuzz_resp.c -- libFuzzer target for the request parser.
 *
 * Input: one byte choosing the limits, two bytes choosing where to cut,
 * then the bytes fed to the parser. Invariants checked:
 * 1. Fed whole, fed in three pieces and (for short inputs) fed one byte at
 *    a time, the parser returns the same commands and ends in the same
 *    state.
 * 2. Every command it returns, encoded again as a multibulk request,
 *    parses back to the same arguments.
 * The sanitizers catch the rest. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/resp/trace.h"

static void check_same(const trace *a, const trace *b, const char *what)
{
    if (a->len != b->len || memcmp(a->s, b->s, a->len) != 0) {
        fprintf(stderr, "%s differs:\n  %s\n  %s\n", what, a->s, b->s);
        abort();
    }
}

static void check_roundtrip(const uint8_t *in, size_t n, const resp_limits *lim)
{
    resp_parser *p = resp_parser_new(lim);
    resp_buf enc;
    trace want = {0};
    resp_cmd c;
    resp_buf_init(&enc, 2);
    if (!p) abort();
    if (resp_parser_feed(p, in, n) != 0) abort();
    while (resp_parser_next(p, &c) == RESP_CMD) {
        resp_add_array(&enc, c.argc);
        for (int i = 0; i < c.argc; i++)
            resp_add_bulk(&enc, c.argv[i], c.argvlen[i]);
        c.inline_req = 0;
        trace_cmd(&want, &c);
    }
    trace_put(&want, "NEED", 4);
    resp_parser_free(p);
    if (enc.oom) abort();

    trace_unauth = 0;
    resp_limits big;
    resp_limits_default(&big);
    big.max_bulk_len = UINT64_MAX; /* inline arguments may exceed lim's */
    trace got = trace_run(enc.p, enc.len, NULL, 0, &big);
    check_same(&want, &got, "re-encoded commands");
    if (want.bad_nul || got.bad_nul) abort();
    free(want.s);
    free(got.s);
    resp_buf_free(&enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) return 0;
    resp_limits lim;
    resp_limits_default(&lim);
    lim.max_bulk_len = 1024 * 1024; /* no 512 MB allocations per run */
    if (data[0] & 1) {              /* small limits, to reach every limit */
        lim.max_bulk_len = 1 + data[0] % 64;
        lim.max_inline_len = 1 + (data[0] >> 1) % 32;
        lim.max_multibulk_len = 1 + data[0] % 8;
    }
    trace_unauth = (data[0] & 3) == 2; /* the pre-auth limits, sometimes */
    const uint8_t *in = data + 3;
    size_t n = size - 3;
    size_t cuts[2] = {n ? data[1] * n / 256 : 0, n ? data[2] * n / 256 : 0};
    if (cuts[0] > cuts[1]) {
        size_t x = cuts[0];
        cuts[0] = cuts[1];
        cuts[1] = x;
    }

    trace whole = trace_run(in, n, NULL, 0, &lim);
    trace split = trace_run(in, n, cuts, 2, &lim);
    check_same(&whole, &split, "fed in three pieces");
    if (whole.bad_nul || split.bad_nul) abort();
    if (n <= 512) {
        trace bytes = trace_bytewise(in, n, &lim);
        check_same(&whole, &bytes, "fed byte by byte");
        free(bytes.s);
    }
    free(whole.s);
    free(split.s);

    trace_unauth = 0;
    check_roundtrip(in, n, &lim);
    return 0;
}
