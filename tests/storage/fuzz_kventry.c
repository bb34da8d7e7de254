/* fuzz_kventry.c -- libFuzzer target for the entry decoder. Every input
 * must decode or be refused with KV_ECORRUPT without reading out of
 * bounds; what decodes must re-encode to the same bytes; and it is then
 * applied to a state, so any argv reaching the apply path is exercised
 * (it must be answered, never crash). Commands that may legitimately
 * build 512 MB strings (SETRANGE, SETBIT) are decoded but not applied. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kvtest.h"
#include "storage/kvint.h"

static char *dir;
static kvstate *st;

static void cleanup(void)
{
    kvstate_close(st);
    kvt_rmrf(dir);
}

static int is_big(const kv_argv *a)
{
    return kv_streqci(a->argv[0], a->argvlen[0], "setrange") ||
           kv_streqci(a->argv[0], a->argvlen[0], "setbit");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kv_entry e;
    if (!st) {
        dir = kvt_mkdtemp();
        char err[256];
        if (kvstate_open(&st, dir, 1ull << 30, err, sizeof(err)) != 0) abort();
        atexit(cleanup);
    }
    int rc = kventry_decode(data, size, &e);
    if (rc == KV_ECORRUPT) return 0;
    if (rc != 0) abort();

    resp_buf b;
    resp_buf_init(&b, 2);
    int big = 0;
    switch (e.kind) {
    case KV_ENTRY_CMD:
        kventry_encode_cmd(&b, e.tau, e.db, e.cmds[0].argc, e.cmds[0].argv, e.cmds[0].argvlen);
        big = is_big(&e.cmds[0]);
        break;
    case KV_ENTRY_MULTI:
        kventry_begin_multi(&b, e.tau, e.db, e.count);
        for (uint32_t i = 0; i < e.count; i++) {
            kventry_add_cmd(&b, e.cmds[i].argc, e.cmds[i].argv, e.cmds[i].argvlen);
            big |= is_big(&e.cmds[i]);
        }
        break;
    case KV_ENTRY_EXPIRE:
        kventry_begin_expire(&b, e.tau, e.count);
        for (uint32_t i = 0; i < e.count; i++)
            kventry_add_expire(&b, e.items[i].db, e.items[i].key, e.items[i].keylen,
                               e.items[i].expiry);
        break;
    default:
        abort();
    }
    /* Version 2 entries encode back to the same bytes; version 1 ones (read
     * as database 0) come back as version 2. */
    if (data[0] == 2 && (b.len != size || memcmp(b.p, data, size) != 0)) abort();
    kventry_free(&e);

    if (!big) {
        resp_buf reply;
        resp_buf_init(&reply, (size & 1) ? 3 : 2);
        /* KV_ENEWER: a command this binary does not know (the node would
         * stop); anything else is a defect. */
        int rc = kvstate_apply(st, kvstate_applied_index(st) + 1, data, size, &reply);
        if (rc != 0 && rc != KV_ENEWER) abort();
        resp_buf_free(&reply);
        if (kvstate_applied_index(st) % 64 == 0 && kvstate_commit(st) != 0) abort();
    }
    resp_buf_free(&b);
    return 0;
}
