/* fuzz_kvlua.c -- libFuzzer target for the decoders scripts can feed
 * untrusted bytes to (storage/kvlua_msgpack.c, kvlua_struct.c, cjson from
 * Debian, and the pattern matcher of kvlua_strlib.c): a read-only script
 * (EVAL_RO, the read path) runs cmsgpack.unpack / unpack_one /
 * unpack_limit, struct.unpack and struct.size with a format taken from the
 * input, cjson.decode, packs back what it decoded, and matches the data
 * against the format as a pattern (find, match, gmatch, gsub). Every error
 * must be a Lua error, never a read outside the input or a crash; the one
 * error a script may end with is the instruction budget (2,000,000 here),
 * which a backtracking pattern reaches. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kvtest.h"

static char *dir;
static kvstate *st;

static const char SCRIPT[] = "local d, f = ARGV[1], ARGV[2]\n"
                             "pcall(cmsgpack.unpack, d)\n"
                             "pcall(cmsgpack.unpack_one, d, 1)\n"
                             "pcall(cmsgpack.unpack_limit, d, 2, 0)\n"
                             "pcall(struct.unpack, f, d)\n"
                             "pcall(struct.unpack, f, d, 2)\n"
                             "pcall(struct.size, f)\n"
                             "pcall(struct.pack, f, 1, 2, 'abc', 4)\n"
                             "pcall(cjson.decode, d)\n"
                             "local ok, v = pcall(cmsgpack.unpack, d)\n"
                             "if ok then pcall(cmsgpack.pack, v) end\n"
                             "pcall(string.find, d, f)\n"
                             "pcall(string.match, d, f, 2)\n"
                             "pcall(string.gsub, d, f, '<%0%1>', 8)\n"
                             "pcall(function() local n = 0 for a, b in string.gmatch(d, f) do "
                             "n = n + 1 if n > 16 then break end end end)\n"
                             "return {d, f}\n";

static void cleanup(void)
{
    kvstate_close(st);
    kvt_rmrf(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!st) {
        dir = kvt_mkdtemp();
        st = kvt_open_state(dir);
        atexit(cleanup);
        char *cv[3] = {"raft.scriptconf", "budget", "2000000"};
        size_t cl[3] = {15, 6, 7};
        resp_buf r;
        resp_buf_init(&r, 2);
        if (kvt_run(st, 999, 1000, 3, cv, cl, &r) != 0 || r.len == 0 || r.p[0] != '+') abort();
        resp_buf_free(&r);
    }
    size_t flen = size ? data[0] % 32 : 0;
    if (flen > (size ? size - 1 : 0)) flen = size ? size - 1 : 0;
    const char *fmt = size ? (const char *)data + 1 : "";
    const char *d = size ? (const char *)data + 1 + flen : "";
    size_t dlen = size ? size - 1 - flen : 0;
    char *f = malloc(flen + 1);
    memcpy(f, fmt, flen);
    f[flen] = '\0';
    char *argv[5] = {"eval_ro", (char *)SCRIPT, "0", (char *)d, f};
    size_t argvlen[5] = {7, sizeof(SCRIPT) - 1, 1, dlen, flen};
    resp_buf reply;
    resp_buf_init(&reply, 2);
    if (kvt_run(st, 1000, 1000, 5, argv, argvlen, &reply) != 0) abort();
    static const char budget[] = "-ERR Script exceeded the instruction budget";
    if (reply.len == 0 || (reply.p[0] == '-' && (reply.len < sizeof(budget) - 1 ||
                                                 memcmp(reply.p, budget, sizeof(budget) - 1) != 0)))
        abort(); /* the script itself fails only by its budget */
    resp_buf_free(&reply);
    free(f);
    return 0;
}
