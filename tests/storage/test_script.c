/* test_script.c -- Lua scripts applied by the state (storage/kvlua.h,
 * kvx_script.c): the same script gives the same bytes whatever the VM ran
 * before; the instruction budget stops a script at the same point every
 * time, keeping its earlier writes; the memory limit; the script cache and
 * the budgets are state (kept across a reopen, untouched by FLUSHALL). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "kvtest_fx.h"

#define TAU 1700000000000LL

/* Runs argv (NULL-terminated) on s; the reply, NUL-terminated, in f->r. */
static const char *run(fx *f, kvstate *s, ...)
{
    char *argv[16];
    size_t argvlen[16];
    int argc = 0;
    va_list ap;
    va_start(ap, s);
    for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 16; argc++) {
        argv[argc] = a;
        argvlen[argc] = strlen(a);
    }
    va_end(ap);
    resp_buf_reset(&f->r);
    assert_int_equal(kvt_run(s, TAU, TAU, argc, argv, argvlen, &f->r), 0);
    resp_add_raw(&f->r, "", 1);
    f->r.len--;
    return f->r.p;
}

/* Shows what a VM exposes of its memory: an address, the order of pairs()
 * over tables keyed by tables, weak-table collection, the memory count. */
static const char *const ADDRESSES =
    "local t, keys = {}, {}\n"
    "for i = 1, 30 do keys[i] = {} end\n"
    "for i, k in ipairs(keys) do t[k] = i end\n"
    "local order = {}\n"
    "for k, v in pairs(t) do order[#order + 1] = v end\n"
    "local w = setmetatable({}, {__mode = 'k'})\n"
    "for i = 1, 10 do w[{}] = i end\n"
    "collectgarbage()\n"
    "local n = 0\n"
    "for _ in pairs(w) do n = n + 1 end\n"
    "return tostring({}) .. ' ' .. tostring(pairs) .. ' ' .. table.concat(order, ',') ..\n"
    "    ' ' .. n .. ' ' .. collectgarbage('count') .. ' ' .. tostring(math.random())";

static void test_same_bytes_whatever_ran_before(void **state)
{
    fx *f = *state;
    char *first = strdup(run(f, f->s, "eval", ADDRESSES, "0", NULL));
    assert_non_null(strstr(first, "table: 0x7e"));
    /* A different history: scripts that allocate, fail, leave garbage. */
    run(f, f->s, "eval", "local t = {} for i = 1, 5000 do t[i] = {i} end return #t", "0", NULL);
    run(f, f->s, "eval", "error('x')", "0", NULL);
    run(f, f->s, "eval", "return string.rep('y', 100000)", "0", NULL);
    run(f, f->s, "eval", "return cjson.encode({a = {1, 2, 3}})", "0", NULL);
    /* Same entry (index and tau differ, so math.random would too: the
     * second state applies it at the same index as the first did). */
    char *dir2 = kvt_mkdtemp();
    kvstate *s2 = kvt_open_state(dir2);
    char *second = strdup(run(f, s2, "eval", ADDRESSES, "0", NULL));
    assert_string_equal(first, second);
    kvstate_close(s2);
    kvt_rmrf(dir2);
    free(first);
    free(second);
}

static long long counter(fx *f, kvstate *s)
{
    const char *r = run(f, s, "get", "n", NULL);
    assert_true(r[0] == '$');
    const char *v = strstr(r, "\r\n");
    return atoll(v + 2);
}

static const char *const LOOP = "redis.call('set', 'before', 'yes')\n"
                                "local i = 0\n"
                                "while true do\n"
                                "  i = i + 1\n"
                                "  if i % 997 == 0 then redis.call('incr', 'n') end\n"
                                "  pcall(function() end)\n"
                                "end";

static void test_budget_stops_at_the_same_point(void **state)
{
    fx *f = *state;
    assert_string_equal(run(f, f->s, "raft.scriptconf", "budget", "300000", NULL), "+OK\r\n");
    const char *r = run(f, f->s, "eval", LOOP, "0", NULL);
    assert_non_null(strstr(r, "-ERR Script exceeded the instruction budget"));
    long long n1 = counter(f, f->s);
    assert_true(n1 > 0);
    assert_string_equal(run(f, f->s, "get", "before", NULL), "$3\r\nyes\r\n");
    /* Another state, with other scripts run first: the same count. */
    run(f, f->s, "eval", "local t = {} for i = 1, 3000 do t[{}] = i end return 1", "0", NULL);
    char *dir2 = kvt_mkdtemp();
    kvstate *s2 = kvt_open_state(dir2);
    run(f, s2, "raft.scriptconf", "budget", "300000", NULL);
    r = run(f, s2, "eval", LOOP, "0", NULL);
    assert_non_null(strstr(r, "-ERR Script exceeded the instruction budget"));
    assert_int_equal(counter(f, s2), n1);
    /* pcall cannot catch it. */
    r = run(f, s2, "eval", "local ok = pcall(function() while true do end end) return 'caught'",
            "0", NULL);
    assert_non_null(strstr(r, "instruction budget"));
    kvstate_close(s2);
    kvt_rmrf(dir2);
}

/* Pattern matching and string.rep run in C, where the instruction hook
 * never fires: their steps are charged to the same budget, so a pattern
 * that would backtrack for hours stops like a loop, pcall or not, at the
 * same point on another state. */
static void test_string_functions_count_against_the_budget(void **state)
{
    fx *f = *state;
    static const char *const slow[] = {
        "redis.call('set', 'before', 'yes') return string.find(string.rep('a', 3000), '.-.-.-b')",
        "return string.match(string.rep('a', 3000), '.-.-.-b')",
        "return string.gsub(string.rep('a', 3000), '.-.-.-b', 'x')",
        "for w in string.gmatch(string.rep('a', 3000), '.-.-.-b') do end",
        "local ok = pcall(string.find, string.rep('a', 3000), '.-.-.-b') return 'caught'",
        "return #string.rep('ab', 1e8)",
    };
    assert_string_equal(run(f, f->s, "raft.scriptconf", "budget", "2000000", NULL), "+OK\r\n");
    for (size_t i = 0; i < sizeof(slow) / sizeof(slow[0]); i++) {
        const char *r = run(f, f->s, "eval", slow[i], "0", NULL);
        if (!strstr(r, "-ERR Script exceeded the instruction budget"))
            fail_msg("script %zu answered %s", i, r);
    }
    assert_string_equal(run(f, f->s, "get", "before", NULL), "$3\r\nyes\r\n");
    /* Empty strings repeated cost nothing (Lua's own loop would count to n). */
    assert_string_equal(run(f, f->s, "eval", "return string.rep('', 1e13)", "0", NULL),
                        "$0\r\n\r\n");
    /* The same count of finished matches on another state. */
    static const char *const loop = "local i = 0\n"
                                    "while true do\n"
                                    "  string.find(string.rep('a', 200), '.-.-b')\n"
                                    "  i = i + 1\n"
                                    "  redis.call('set', 'matches', i)\n"
                                    "end";
    run(f, f->s, "eval", loop, "0", NULL);
    const char *r1 = run(f, f->s, "get", "matches", NULL);
    char first[32];
    snprintf(first, sizeof(first), "%s", r1);
    assert_true(first[0] == '$');
    char *dir2 = kvt_mkdtemp();
    kvstate *s2 = kvt_open_state(dir2);
    run(f, s2, "raft.scriptconf", "budget", "2000000", NULL);
    run(f, s2, "eval", "local t = {} for i = 1, 500 do t[i] = string.rep('x', i) end", "0", NULL);
    run(f, s2, "eval", loop, "0", NULL);
    assert_string_equal(run(f, s2, "get", "matches", NULL), first);
    kvstate_close(s2);
    kvt_rmrf(dir2);
}

static void test_memory_limit(void **state)
{
    fx *f = *state;
    assert_string_equal(run(f, f->s, "raft.scriptconf", "max-memory", "1048576", NULL), "+OK\r\n");
    const char *r =
        run(f, f->s, "eval",
            "redis.call('set', 'm', '1') local t = {} for i = 1, 1e7 do t[i] = 'x' .. i end", "0",
            NULL);
    assert_non_null(strstr(r, "-ERR Script exceeded the memory limit"));
    assert_string_equal(run(f, f->s, "get", "m", NULL), "$1\r\n1\r\n");
    r = run(f, f->s, "eval", "local ok = pcall(string.rep, 'x', 4000000) return 'caught'", "0",
            NULL);
    assert_non_null(strstr(r, "memory limit"));
    /* A small script still runs. */
    assert_string_equal(run(f, f->s, "eval", "return 7", "0", NULL), ":7\r\n");
}

static void test_cache_is_state(void **state)
{
    fx *f = *state;
    const char *r = run(f, f->s, "script", "load", "return 'hi'", NULL);
    assert_string_equal(r, "$40\r\n2f31ba2bb6d6a0f42cc159d2e2dad55440778de3\r\n");
    run(f, f->s, "raft.scriptconf", "budget", "12345", NULL);
    run(f, f->s, "flushall", NULL);
    kvstate_close(f->s);
    f->s = kvt_open_state(f->dir);
    assert_string_equal(
        run(f, f->s, "evalsha", "2f31ba2bb6d6a0f42cc159d2e2dad55440778de3", "0", NULL),
        "$2\r\nhi\r\n");
    uint64_t budget, maxmem, count, bytes;
    assert_int_equal(kvstate_script_conf(f->s, &budget, &maxmem), 0);
    assert_int_equal(budget, 12345);
    assert_int_equal(maxmem, 64 << 20);
    assert_int_equal(kvstate_script_stats(f->s, &count, &bytes), 0);
    assert_int_equal(count, 1);
    assert_string_equal(run(f, f->s, "script", "flush", NULL), "+OK\r\n");
    assert_string_equal(
        run(f, f->s, "evalsha", "2f31ba2bb6d6a0f42cc159d2e2dad55440778de3", "0", NULL),
        "-NOSCRIPT No matching script. Please use EVAL.\r\n");
    assert_int_equal(kvstate_script_conf(f->s, &budget, &maxmem), 0);
    assert_int_equal(budget, 12345); /* SCRIPT FLUSH keeps the budgets */
}

static void test_multi_and_time(void **state)
{
    fx *f = *state;
    /* TIME is the entry's tau. */
    assert_string_equal(run(f, f->s, "eval", "local t = redis.call('time') return t", "0", NULL),
                        "*2\r\n$10\r\n1700000000\r\n$1\r\n0\r\n");
    /* A read-only script on the read path cannot write. */
    const char *r = run(f, f->s, "eval_ro", "return redis.call('set', 'a', 'b')", "0", NULL);
    assert_non_null(strstr(r, "Write commands are not allowed from read-only scripts."));
    /* EVAL of a no-writes script is served as EVAL_RO; other writes are not. */
    char *ev[3] = {"eval", "#!lua flags=no-writes\nreturn 1", "0"};
    size_t evl[3] = {4, strlen(ev[1]), 1};
    const kv_command *k = kv_command_lookup("eval", 4);
    const kv_command *ro = kvstate_as_read(f->s, k, 3, ev, evl);
    assert_non_null(ro);
    assert_string_equal(ro->name, "eval_ro");
    ev[1] = "return 1";
    evl[1] = strlen(ev[1]);
    assert_null(kvstate_as_read(f->s, k, 3, ev, evl));
    char *set[3] = {"set", "a", "b"};
    size_t setl[3] = {3, 1, 1};
    assert_null(kvstate_as_read(f->s, kv_command_lookup("set", 3), 3, set, setl));
    /* Nested scripting commands are refused. */
    r = run(f, f->s, "eval", "return redis.call('eval', 'return 1', '0')", "0", NULL);
    assert_non_null(strstr(r, "This Redis command is not allowed from script"));
}

/* A cached chunk restores the whole VM by itself (kvlua_begin leaves the
 * arena alone for EVAL / EVALSHA): a run after one that died half way
 * (budget, error, its stack and garbage left in the arena) gives the bytes
 * a compile on a fresh VM gives. */
static void test_cached_chunk_after_a_failed_run(void **state)
{
    fx *f = *state;
    char sha[64];
    /* ADDRESSES without math.random (seeded from the entry). */
    static const char *const addr =
        "local t, keys = {}, {}\n"
        "for i = 1, 30 do keys[i] = {} end\n"
        "for i, k in ipairs(keys) do t[k] = i end\n"
        "local order = {}\n"
        "for k, v in pairs(t) do order[#order + 1] = v end\n"
        "return tostring({}) .. ' ' .. table.concat(order, ',') .. ' ' ..\n"
        "    collectgarbage('count') .. ' ' .. tostring(KEYS)";
    const char *r = run(f, f->s, "script", "load", addr, NULL);
    assert_true(r[0] == '$');
    snprintf(sha, sizeof(sha), "%.40s", strstr(r, "\r\n") + 2);
    char *first = strdup(run(f, f->s, "evalsha", sha, "0", NULL));
    assert_non_null(strstr(first, "table: 0x7e"));
    run(f, f->s, "raft.scriptconf", "budget", "300000", NULL);
    r = run(f, f->s, "eval", "local t = {} while true do t[#t + 1] = {} end", "0", NULL);
    assert_non_null(strstr(r, "instruction budget"));
    assert_string_equal(run(f, f->s, "evalsha", sha, "0", NULL), first);
    run(f, f->s, "eval", "local a, b, c = 1, {}, 'x' error({err = 'ERR left'})", "0", NULL);
    assert_string_equal(run(f, f->s, "evalsha", sha, "0", NULL), first);
    run(f, f->s, "raft.scriptconf", "max-memory", "65536", NULL);
    r = run(f, f->s, "eval", "local t = {} for i = 1, 1e6 do t[i] = {} end", "0", NULL);
    assert_non_null(strstr(r, "memory limit"));
    assert_string_equal(run(f, f->s, "evalsha", sha, "0", NULL), first);
    free(first);
}

#define OOM "-OOM command not allowed when used memory > 'maxmemory'.\r\n"

/* Over maxmemory (decided from the state at apply): a script with a
 * shebang that may write is refused unless allow-oom; one without a
 * shebang fails at its first denyoom command before any write (Redis's
 * scriptVerifyOOM); functions by their flags. */
static void test_scripts_over_maxmemory(void **state)
{
    fx *f = *state;
    const char *lib =
        "#!lua name=m\n"
        "redis.register_function('w', function(k) return redis.call('set', k[1], 'w') end)\n"
        "redis.register_function{function_name='wo', flags={'allow-oom'},\n"
        "  callback=function(k) return redis.call('set', k[1], 'wo') end}\n";
    assert_string_equal(run(f, f->s, "function", "load", lib, NULL), "$1\r\nm\r\n");
    run(f, f->s, "set", "x", "1", NULL);
    assert_string_equal(run(f, f->s, "raft.memconf", "1", "noeviction", "5", "10", "1", NULL),
                        "+OK\r\n");
    const char *r = run(f, f->s, "eval", "return redis.call('set', 'a', '1')", "0", NULL);
    assert_non_null(strstr(r, "-OOM command not allowed when used memory > 'maxmemory'. script: "));
    assert_string_equal(run(f, f->s, "eval", "return redis.pcall('incr', 'x')", "0", NULL), OOM);
    assert_string_equal(run(f, f->s, "eval", "return redis.call('get', 'x')", "0", NULL),
                        "$1\r\n1\r\n");
    /* After a first write the script cannot stop half way: no OOM. */
    assert_string_equal(run(f, f->s, "eval",
                            "redis.call('del', 'zz') return redis.call('set', 'b', '1')", "0",
                            NULL),
                        "+OK\r\n");
    assert_string_equal(run(f, f->s, "eval", "#!lua\nreturn 1", "0", NULL), OOM);
    assert_string_equal(run(f, f->s, "eval",
                            "#!lua flags=allow-oom\nreturn redis.call('set', 'c', '1')", "0", NULL),
                        "+OK\r\n");
    assert_string_equal(
        run(f, f->s, "eval", "#!lua flags=no-writes\nreturn redis.call('get', 'c')", "0", NULL),
        "$1\r\n1\r\n");
    assert_string_equal(run(f, f->s, "fcall", "w", "1", "d", NULL), OOM);
    assert_string_equal(run(f, f->s, "fcall", "wo", "1", "d", NULL), "+OK\r\n");
    assert_string_equal(run(f, f->s, "function", "load",
                            "#!lua name=n\nredis.register_function('n', function() end)", NULL),
                        OOM);
    /* Under maxmemory again: everything runs. */
    run(f, f->s, "raft.memconf", "0", "noeviction", "5", "10", "1", NULL);
    assert_string_equal(run(f, f->s, "eval", "return redis.call('set', 'a', '1')", "0", NULL),
                        "+OK\r\n");
    assert_string_equal(run(f, f->s, "fcall", "w", "1", "e", NULL), "+OK\r\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_same_bytes_whatever_ran_before, setup, teardown),
        cmocka_unit_test_setup_teardown(test_budget_stops_at_the_same_point, setup, teardown),
        cmocka_unit_test_setup_teardown(test_string_functions_count_against_the_budget, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_memory_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_is_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multi_and_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cached_chunk_after_a_failed_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scripts_over_maxmemory, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
