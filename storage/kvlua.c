/* kvlua.c -- the scripting VM (kvlua.h): the base VM and its image, the
 * redis table, the sandbox, the conversions between RESP and Lua. */
#include "storage/kvlua.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/kvcmd.h"
#include "storage/kvint.h"
#include "storage/kvlua_arena.h"
#include "storage/kvlua_lib.h"
#include "storage/kvsha1.h"

/* Lua's count hook fires every HOOK_PERIOD instructions. */
#define HOOK_PERIOD 1000
/* Registry keys of the base VM. */
#define REG_GLOBALS_VIEW "kvlua.gview" /* the protected view of the globals */
#define REG_REDIS "kvlua.redis"        /* the real redis table */

static struct {
    int built;     /* the base image exists */
    int broken;    /* building it failed: scripting unavailable */
    char err[160]; /* why */
    lua_State *L;  /* in the arena, the same address every run */
    void *image;
    size_t image_len;
    uint64_t base_used;
    kvlua_run *run;  /* the current run, NULL between runs */
    uint64_t steps;  /* instructions counted in this run */
    uint64_t rng;    /* math.random */
    int resp;        /* redis.setresp */
    int stop;        /* a budget ran out: every hook call raises again */
    char **argv;     /* redis.call's argument vector, reused */
    size_t *argvlen; /* ... */
    int argcap;
    char (*nums)[32]; /* numbers formatted as arguments */
    resp_buf scratch; /* a command's reply */
    int scratch_init;
    uint64_t limit; /* the arena's limit in this run */
    int fresh;      /* nothing done since kvlua_begin() (kvlua_load may use a cached chunk) */
    int need_base;  /* the arena still holds the last run's bytes */
    int wrote;      /* redis.call ran a write command in this run */
} vm;

/* ------------------------------------------------------------ flags */

static const struct {
    const char *name;
    int bit;
} flag_names[] = {
    {"no-writes", KVLUA_F_NO_WRITES},
    {"allow-oom", KVLUA_F_ALLOW_OOM},
    {"allow-stale", KVLUA_F_ALLOW_STALE},
    {"no-cluster", KVLUA_F_NO_CLUSTER},
    {"allow-cross-slot-keys", KVLUA_F_ALLOW_CROSS_SLOT},
};

int kvlua_flag(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++)
        if (strlen(flag_names[i].name) == len && !memcmp(flag_names[i].name, name, len))
            return flag_names[i].bit;
    return -1;
}

int kvlua_shebang(const char *body, size_t len, int *flags, size_t *skip, resp_buf *err)
{
    *flags = 0;
    *skip = 0;
    if (len < 2 || body[0] != '#' || body[1] != '!') return 0;
    const char *nl = memchr(body, '\n', len);
    if (!nl) {
        resp_add_error(err, "ERR Invalid script shebang");
        return -1;
    }
    size_t end = (size_t)(nl - body);
    /* Redis splits the line on spaces (sdssplitargs: no quoting here). */
    size_t i = 0;
    int part = 0;
    int f = KVLUA_F_SHEBANG;
    while (i < end) {
        while (i < end && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r'))
            i++;
        if (i >= end) break;
        size_t s = i;
        while (i < end && body[i] != ' ' && body[i] != '\t' && body[i] != '\r')
            i++;
        const char *w = body + s;
        size_t wl = i - s;
        if (part == 0) {
            if (wl != 5 || memcmp(w, "#!lua", 5)) {
                resp_add_errorf(err, "ERR Unexpected engine in script shebang: %.*s", (int)wl, w);
                return -1;
            }
        } else if (wl >= 6 && !memcmp(w, "flags=", 6)) {
            size_t p = 6;
            while (p < wl) {
                size_t q = p;
                while (q < wl && w[q] != ',')
                    q++;
                if (q > p) {
                    int b = kvlua_flag(w + p, q - p);
                    if (b < 0) {
                        resp_add_errorf(err, "ERR Unexpected flag in script shebang: %.*s",
                                        (int)(q - p), w + p);
                        return -1;
                    }
                    f |= b;
                }
                p = q + 1;
            }
        } else {
            resp_add_errorf(err, "ERR Unknown lua shebang option: %.*s", (int)wl, w);
            return -1;
        }
        part++;
    }
    *flags = f;
    *skip = end;
    return 0;
}

/* ------------------------------------------------------------ errors */

/* Redis's luaPushErrorBuff: a table {err = "CODE msg"} from "-CODE msg" or
 * "msg" (code ERR), trailing CR/LF trimmed. */
static void push_error(lua_State *L, const char *s, size_t n)
{
    luaL_Buffer b;
    while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == '\n'))
        n--;
    lua_newtable(L);
    lua_pushliteral(L, "err");
    luaL_buffinit(L, &b);
    if (n > 0 && s[0] == '-') {
        const char *sp = memchr(s, ' ', n);
        if (!sp) {
            luaL_addstring(&b, "ERR ");
            luaL_addlstring(&b, s + 1, n - 1);
        } else {
            luaL_addlstring(&b, s + 1, (size_t)(sp - s - 1));
            luaL_addchar(&b, ' ');
            size_t rest = n - (size_t)(sp - s) - 1;
            const char *r = sp + 1;
            /* sdstrim of the message: CR/LF at both ends. */
            while (rest > 0 && (*r == '\r' || *r == '\n')) {
                r++;
                rest--;
            }
            luaL_addlstring(&b, r, rest);
        }
    } else {
        luaL_addstring(&b, "ERR ");
        while (n > 0 && (*s == '\r' || *s == '\n')) {
            s++;
            n--;
        }
        luaL_addlstring(&b, s, n);
    }
    luaL_pushresult(&b);
    lua_rawset(L, -3);
}

static int raise_error(lua_State *L, const char *msg)
{
    push_error(L, msg, strlen(msg));
    return lua_error(L);
}

/* The error handler of a run: Redis's __redis__err__handler. A string
 * error becomes {err = "ERR " .. msg}; the table gets the source and line
 * of the Lua function that raised it (skipping one C function: error(),
 * redis.call). */
static int error_handler(lua_State *L)
{
    lua_Debug ar;
    int have = lua_getstack(L, 1, &ar) && lua_getinfo(L, "nSl", &ar);
    if (have && !strcmp(ar.what, "C")) have = lua_getstack(L, 2, &ar) && lua_getinfo(L, "nSl", &ar);
    if (!lua_istable(L, 1)) {
        lua_newtable(L);
        lua_pushliteral(L, "err");
        lua_pushliteral(L, "ERR ");
        lua_getglobal(L, "tostring");
        lua_pushvalue(L, 1);
        lua_call(L, 1, 1);
        lua_concat(L, 2);
        lua_rawset(L, -3);
        lua_replace(L, 1);
    }
    if (have) {
        lua_pushliteral(L, "source");
        lua_pushstring(L, ar.source);
        lua_rawset(L, 1);
        lua_pushliteral(L, "line");
        lua_pushinteger(L, ar.currentline);
        lua_rawset(L, 1);
    }
    lua_settop(L, 1);
    return 1;
}

/* ------------------------------------------------------------ budgets */

static void hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    kvlua_charge(L, HOOK_PERIOD);
}

/* The instruction budget: the hook charges HOOK_PERIOD instructions per
 * call, work done in C (kvlua_strlib.c) its own steps. Once it runs out,
 * every instruction raises again: pcall cannot save the run. */
void kvlua_charge(lua_State *L, uint64_t steps)
{
    kvlua_run *r = vm.run;
    if (!r) return;
    if (!vm.stop) {
        vm.steps += steps;
        if (r->budget && vm.steps >= r->budget) {
            r->over_budget = 1;
            vm.stop = 1;
        }
    }
    if (vm.stop) {
        lua_sethook(L, hook, LUA_MASKCOUNT, 1);
        lua_pushliteral(L, "script budget exceeded");
        lua_error(L);
    }
}

/* The memory budget: called where a run checks the allocator. */
static void check_memory(void)
{
    if (vm.run && kvlua_arena_exceeded() && !vm.stop) {
        vm.run->over_memory = 1;
        vm.stop = 1;
        lua_sethook(vm.L, hook, LUA_MASKCOUNT, 1);
    }
}

/* ------------------------------------------------------------ math */

static uint64_t rng_next(void)
{
    /* splitmix64 */
    uint64_t z = (vm.rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int math_random(lua_State *L)
{
    lua_Number r = (lua_Number)(rng_next() >> 11) / (lua_Number)(1ull << 53);
    switch (lua_gettop(L)) {
    case 0:
        lua_pushnumber(L, r);
        break;
    case 1: {
        int u = luaL_checkint(L, 1);
        luaL_argcheck(L, 1 <= u, 1, "interval is empty");
        lua_pushnumber(L, floor(r * u) + 1);
        break;
    }
    case 2: {
        int l = luaL_checkint(L, 1);
        int u = luaL_checkint(L, 2);
        luaL_argcheck(L, l <= u, 2, "interval is empty");
        lua_pushnumber(L, floor(r * ((lua_Number)u - l + 1)) + l);
        break;
    }
    default:
        return luaL_error(L, "wrong number of arguments");
    }
    return 1;
}

static int math_randomseed(lua_State *L)
{
    vm.rng = (uint64_t)(int64_t)luaL_checkint(L, 1);
    return 0;
}

/* ------------------------------------------------------------ RESP -> Lua */

/* Parses one reply of [p, e) (made by this process's command code) and
 * pushes it; returns the byte after it, or NULL when malformed. */
static const char *reply_to_lua(lua_State *L, const char *p, const char *e, int depth);

static const char *line_end(const char *p, const char *e)
{
    for (const char *q = p; q + 1 < e; q++)
        if (q[0] == '\r' && q[1] == '\n') return q;
    return NULL;
}

static int parse_ll(const char *p, const char *q, long long *v)
{
    return kv_string2ll(p, (size_t)(q - p), v);
}

static const char *reply_to_lua(lua_State *L, const char *p, const char *e, int depth)
{
    if (p >= e || depth > 1000 || !lua_checkstack(L, 5)) return NULL;
    char t = *p++;
    const char *le = line_end(p, e);
    if (!le) return NULL;
    long long n;
    switch (t) {
    case '+':
        lua_newtable(L);
        lua_pushliteral(L, "ok");
        lua_pushlstring(L, p, (size_t)(le - p));
        lua_rawset(L, -3);
        return le + 2;
    case '-':
        push_error(L, p - 1, (size_t)(le - p + 1));
        return le + 2;
    case ':':
        if (!parse_ll(p, le, &n)) return NULL;
        lua_pushnumber(L, (lua_Number)n);
        return le + 2;
    case '_':
        lua_pushnil(L);
        return le + 2;
    case '#':
        lua_pushboolean(L, *p == 't');
        return le + 2;
    case ',': {
        char buf[64];
        size_t l = (size_t)(le - p);
        if (l >= sizeof(buf)) return NULL;
        memcpy(buf, p, l);
        buf[l] = 0;
        lua_newtable(L);
        lua_pushliteral(L, "double");
        lua_pushnumber(L, strtod(buf, NULL));
        lua_rawset(L, -3);
        return le + 2;
    }
    case '(':
        lua_newtable(L);
        lua_pushliteral(L, "big_number");
        lua_pushlstring(L, p, (size_t)(le - p));
        lua_rawset(L, -3);
        return le + 2;
    case '$':
    case '=':
        if (!parse_ll(p, le, &n)) return NULL;
        if (n < 0) {
            lua_pushboolean(L, 0);
            return le + 2;
        }
        if ((long long)(e - le - 2) < n + 2) return NULL;
        if (t == '$') {
            lua_pushlstring(L, le + 2, (size_t)n);
        } else {
            if (n < 4) return NULL;
            lua_newtable(L);
            lua_pushliteral(L, "verbatim_string");
            lua_newtable(L);
            lua_pushliteral(L, "string");
            lua_pushlstring(L, le + 2 + 4, (size_t)n - 4);
            lua_rawset(L, -3);
            lua_pushliteral(L, "format");
            lua_pushlstring(L, le + 2, 3);
            lua_rawset(L, -3);
            lua_rawset(L, -3);
        }
        return le + 2 + n + 2;
    case '*':
    case '~':
    case '%':
    case '>': {
        if (!parse_ll(p, le, &n)) return NULL;
        p = le + 2;
        if (n < 0) {
            lua_pushboolean(L, 0);
            return p;
        }
        if (t == '*' || t == '>') {
            lua_newtable(L);
            for (long long j = 0; j < n; j++) {
                lua_pushnumber(L, (lua_Number)(j + 1));
                if (!(p = reply_to_lua(L, p, e, depth + 1))) return NULL;
                lua_settable(L, -3);
            }
            return p;
        }
        lua_newtable(L);
        lua_pushstring(L, t == '%' ? "map" : "set");
        lua_newtable(L);
        for (long long j = 0; j < n; j++) {
            if (!(p = reply_to_lua(L, p, e, depth + 1))) return NULL;
            if (t == '%') {
                if (!(p = reply_to_lua(L, p, e, depth + 1))) return NULL;
            } else {
                lua_pushboolean(L, 1);
            }
            lua_settable(L, -3);
        }
        lua_settable(L, -3);
        return p;
    }
    default:
        return NULL;
    }
}

/* ------------------------------------------------------------ Lua -> RESP */

/* Redis's (long long) cast of a double, as x86-64 does it for NaN and
 * values out of range (without the undefined behaviour in C). */
static long long num_to_ll(double d)
{
    if (d != d || d >= 9223372036854775808.0 || d < -9223372036854775808.0) return LLONG_MIN;
    return (long long)d;
}

static void add_status_mapped(resp_buf *out, char prefix, const char *s, size_t n)
{
    resp_add_raw(out, &prefix, 1);
    for (size_t i = 0; i < n; i++) {
        char ch = (s[i] == '\r' || s[i] == '\n') ? ' ' : s[i];
        resp_add_raw(out, &ch, 1);
    }
    resp_add_raw(out, "\r\n", 2);
}

/* Appends the value on top of the stack to out and pops it (Redis's
 * luaReplyToRedisReply). */
static void lua_to_reply(lua_State *L, resp_buf *out, size_t limit)
{
    if (!lua_checkstack(L, 4) || (limit && out->len > limit)) {
        resp_add_error(out, "ERR reached lua stack limit");
        lua_pop(L, 1);
        return;
    }
    switch (lua_type(L, -1)) {
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        resp_add_bulk(out, s, n);
        break;
    }
    case LUA_TBOOLEAN:
        if (vm.resp == 2) {
            if (lua_toboolean(L, -1))
                resp_add_int(out, 1);
            else
                resp_add_null(out);
        } else {
            resp_add_bool(out, lua_toboolean(L, -1));
        }
        break;
    case LUA_TNUMBER:
        resp_add_int(out, num_to_ll(lua_tonumber(L, -1)));
        break;
    case LUA_TTABLE: {
        lua_pushliteral(L, "err");
        lua_rawget(L, -2);
        if (lua_type(L, -1) == LUA_TSTRING) {
            size_t n;
            const char *s = lua_tolstring(L, -1, &n);
            add_status_mapped(out, '-', s, n);
            lua_pop(L, 2);
            return;
        }
        lua_pop(L, 1);
        lua_pushliteral(L, "ok");
        lua_rawget(L, -2);
        if (lua_type(L, -1) == LUA_TSTRING) {
            size_t n;
            const char *s = lua_tolstring(L, -1, &n);
            /* sdsnew(lua_tostring()): up to the first NUL. */
            add_status_mapped(out, '+', s, strlen(s) < n ? strlen(s) : n);
            lua_pop(L, 2);
            return;
        }
        lua_pop(L, 1);
        lua_pushliteral(L, "double");
        lua_rawget(L, -2);
        if (lua_type(L, -1) == LUA_TNUMBER) {
            resp_add_double(out, lua_tonumber(L, -1));
            lua_pop(L, 2);
            return;
        }
        lua_pop(L, 1);
        lua_pushliteral(L, "big_number");
        lua_rawget(L, -2);
        if (lua_type(L, -1) == LUA_TSTRING) {
            size_t n;
            const char *s = lua_tolstring(L, -1, &n);
            if (out->proto >= 3) {
                add_status_mapped(out, '(', s, n);
            } else {
                /* RESP2: a bulk string, CR/LF mapped to spaces. */
                char *tmp = malloc(n ? n : 1);
                if (tmp) {
                    for (size_t i = 0; i < n; i++)
                        tmp[i] = (s[i] == '\r' || s[i] == '\n') ? ' ' : s[i];
                    resp_add_bulk(out, tmp, n);
                    free(tmp);
                } else {
                    resp_add_error(out, "ERR out of memory");
                }
            }
            lua_pop(L, 2);
            return;
        }
        lua_pop(L, 1);
        lua_pushliteral(L, "verbatim_string");
        lua_rawget(L, -2);
        if (lua_type(L, -1) == LUA_TTABLE) {
            lua_pushliteral(L, "format");
            lua_rawget(L, -2);
            if (lua_type(L, -1) == LUA_TSTRING) {
                const char *fmt = lua_tostring(L, -1);
                lua_pushliteral(L, "string");
                lua_rawget(L, -3);
                if (lua_type(L, -1) == LUA_TSTRING) {
                    size_t n;
                    const char *s = lua_tolstring(L, -1, &n);
                    char f3[4] = "txt";
                    size_t fl = strlen(fmt);
                    memcpy(f3, fmt, fl < 3 ? fl : 3);
                    resp_add_verbatim(out, f3, s, n);
                    lua_pop(L, 4);
                    return;
                }
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        lua_pushliteral(L, "map");
        lua_rawget(L, -2);
        if (lua_type(L, -1) == LUA_TTABLE) {
            size_t mark = resp_add_deferred(out);
            int64_t n = 0;
            lua_pushnil(L);
            while (lua_next(L, -2)) {
                lua_pushvalue(L, -2);
                lua_to_reply(L, out, limit);
                lua_to_reply(L, out, limit);
                n++;
            }
            resp_set_deferred_map(out, mark, n);
            lua_pop(L, 2);
            return;
        }
        lua_pop(L, 1);
        lua_pushliteral(L, "set");
        lua_rawget(L, -2);
        if (lua_type(L, -1) == LUA_TTABLE) {
            size_t mark = resp_add_deferred(out);
            int64_t n = 0;
            lua_pushnil(L);
            while (lua_next(L, -2)) {
                lua_pop(L, 1);
                lua_pushvalue(L, -1);
                lua_to_reply(L, out, limit);
                n++;
            }
            resp_set_deferred_set(out, mark, n);
            lua_pop(L, 2);
            return;
        }
        lua_pop(L, 1);
        size_t mark = resp_add_deferred(out);
        int64_t n = 0;
        for (int j = 1;; j++) {
            lua_pushnumber(L, j);
            lua_rawget(L, -2);
            if (lua_type(L, -1) == LUA_TNIL) {
                lua_pop(L, 1);
                break;
            }
            lua_to_reply(L, out, limit);
            n++;
        }
        resp_set_deferred_array(out, mark, n);
        break;
    }
    default:
        resp_add_null(out);
    }
    lua_pop(L, 1);
}

/* ------------------------------------------------------------ redis.call */

/* Redis 7.0 commands that exist but that a script may not run (the ones
 * with the noscript flag, and those of the server this state machine does
 * not see). Anything else unknown is "Unknown Redis command". */
static const char *const not_in_scripts[] = {
    "acl",       "asking",       "auth",       "bgrewriteaof", "bgsave",       "blmove",
    "blmpop",    "blpop",        "brpop",      "brpoplpush",   "bzmpop",       "bzpopmax",
    "bzpopmin",  "client",       "cluster",    "command",      "config",       "debug",
    "discard",   "eval",         "eval_ro",    "evalsha",      "evalsha_ro",   "exec",
    "failover",  "fcall",        "fcall_ro",   "function",     "hello",        "info",
    "lastsave",  "latency",      "lolwut",     "memory",       "migrate",      "module",
    "monitor",   "multi",        "psubscribe", "psync",        "punsubscribe", "quit",
    "readonly",  "readwrite",    "replconf",   "replicaof",    "reset",        "role",
    "save",      "script",       "shutdown",   "slaveof",      "slowlog",      "ssubscribe",
    "subscribe", "sunsubscribe", "sync",       "unsubscribe",  "unwatch",      "wait",
    "watch",     "xread",        "xreadgroup", NULL,
};

static int known_not_allowed(const char *name, size_t len)
{
    for (int i = 0; not_in_scripts[i]; i++)
        if (kv_streqci(name, len, not_in_scripts[i])) return 1;
    return 0;
}

static int argv_room(int n)
{
    if (n <= vm.argcap) return 0;
    int cap = vm.argcap ? vm.argcap : 16;
    while (cap < n)
        cap *= 2;
    char **a = realloc(vm.argv, (size_t)cap * sizeof(*a));
    if (!a) return -1;
    vm.argv = a;
    size_t *l = realloc(vm.argvlen, (size_t)cap * sizeof(*l));
    if (!l) return -1;
    vm.argvlen = l;
    char(*nb)[32] = realloc(vm.nums, (size_t)cap * sizeof(*nb));
    if (!nb) return -1;
    vm.nums = nb;
    vm.argcap = cap;
    return 0;
}

/* Commands the script layer answers itself: the server's, which Redis
 * allows in scripts and whose answer here depends on the entry alone. 1
 * when handled (reply in out). */
static int server_command(kv_ctx *c, int argc, char **argv, size_t *argvlen, resp_buf *out)
{
    if (kv_streqci(argv[0], argvlen[0], "ping")) {
        if (argc > 2)
            resp_add_error(out, "ERR wrong number of arguments for 'ping' command");
        else if (argc == 2)
            resp_add_bulk(out, argv[1], argvlen[1]);
        else
            resp_add_simple(out, "PONG");
        return 1;
    }
    if (kv_streqci(argv[0], argvlen[0], "echo")) {
        if (argc != 2)
            resp_add_error(out, "ERR wrong number of arguments for 'echo' command");
        else
            resp_add_bulk(out, argv[1], argvlen[1]);
        return 1;
    }
    if (kv_streqci(argv[0], argvlen[0], "time")) {
        /* The entry's time: the same value for every call of a run. */
        char b[32];
        if (argc != 1) {
            resp_add_error(out, "ERR wrong number of arguments for 'time' command");
            return 1;
        }
        resp_add_array(out, 2);
        int n = snprintf(b, sizeof(b), "%lld", (long long)(c->tau / 1000));
        resp_add_bulk(out, b, (size_t)n);
        n = snprintf(b, sizeof(b), "%lld", (long long)(c->tau % 1000) * 1000);
        resp_add_bulk(out, b, (size_t)n);
        return 1;
    }
    if (kv_streqci(argv[0], argvlen[0], "select")) {
        long long db;
        if (argc != 2)
            resp_add_error(out, "ERR wrong number of arguments for 'select' command");
        else if (!kv_string2ll(argv[1], argvlen[1], &db) || db < INT_MIN || db > INT_MAX)
            resp_add_error(out, "ERR value is not an integer or out of range");
        else if (db < 0 || db >= KV_MAX_DBS)
            resp_add_error(out, "ERR DB index is out of range");
        else {
            kv_use_db(c, (int)db);
            resp_add_ok(out);
        }
        return 1;
    }
    return 0;
}

static int call_generic(lua_State *L, int raise)
{
    kvlua_run *r = vm.run;
    int argc = lua_gettop(L);
    const char *err = NULL;
    if (!r) return raise_error(L, "redis.call/pcall can only be called inside a script invocation");
    if (argc == 0) {
        err = "Please specify at least one argument for this redis lib call";
        goto fail;
    }
    if (argv_room(argc) != 0) return luaL_error(L, "not enough memory");
    for (int j = 0; j < argc; j++) {
        if (lua_type(L, j + 1) == LUA_TNUMBER) {
            int n =
                snprintf(vm.nums[j], sizeof(vm.nums[j]), "%.17g", (double)lua_tonumber(L, j + 1));
            vm.argv[j] = vm.nums[j];
            vm.argvlen[j] = (size_t)n;
        } else {
            const char *s = lua_tolstring(L, j + 1, &vm.argvlen[j]);
            if (!s) {
                err = "Lua redis lib command arguments must be strings or integers";
                goto fail;
            }
            vm.argv[j] = (char *)s;
        }
    }
    /* The strings stay on the stack (alive) until the reply is built. */
    kv_ctx *c = r->c;
    if (!vm.scratch_init) {
        resp_buf_init(&vm.scratch, 2);
        vm.scratch_init = 1;
    }
    resp_buf_reset(&vm.scratch);
    vm.scratch.proto = vm.resp;
    const kv_command *cmd = kv_command_lookup(vm.argv[0], vm.argvlen[0]);
    if (!cmd || (cmd->flags & KV_CMD_INTERNAL)) {
        if (server_command(c, argc, vm.argv, vm.argvlen, &vm.scratch)) goto convert;
        err = known_not_allowed(vm.argv[0], vm.argvlen[0])
                  ? "This Redis command is not allowed from script"
                  : "Unknown Redis command called from script";
        goto fail;
    }
    if ((cmd->arity > 0 && argc != cmd->arity) || (cmd->arity < 0 && argc < -cmd->arity)) {
        err = "Wrong number of args calling Redis command from script";
        goto fail;
    }
    if (cmd->flags & (KV_CMD_BLOCKING | KV_CMD_NOSCRIPT)) {
        err = "This Redis command is not allowed from script";
        goto fail;
    }
    if ((cmd->flags & KV_CMD_WRITE) && (r->readonly || !c->writable)) {
        err = "Write commands are not allowed from read-only scripts.";
        goto fail;
    }
    /* Redis's scriptVerifyOOM: over maxmemory when the script started,
     * a command that may grow memory is refused until the script has
     * written (it cannot stop half way then), unless allow-oom. */
    if ((cmd->flags & KV_CMD_DENYOOM) && r->oom_at_start && !r->allow_oom && !vm.wrote) {
        resp_add_error(&vm.scratch, "OOM command not allowed when used memory > 'maxmemory'.");
        goto convert;
    }
    if (cmd->flags & KV_CMD_WRITE) vm.wrote = 1;
    resp_buf *saved = c->reply;
    int saved_script = c->in_script;
    c->reply = &vm.scratch;
    c->in_script = 1;
    kv_exec(c, cmd, argc, vm.argv, vm.argvlen);
    c->in_script = saved_script;
    c->reply = saved;
    if (c->rc != 0) {
        /* A storage failure: the node stops (kvstate_apply); end here. */
        vm.stop = 1;
        lua_sethook(L, hook, LUA_MASKCOUNT, 1);
        return luaL_error(L, "storage error");
    }
convert:
    if (vm.scratch.oom) return luaL_error(L, "not enough memory");
    lua_settop(L, 0);
    if (!reply_to_lua(L, vm.scratch.p, vm.scratch.p + vm.scratch.len, 0)) {
        lua_settop(L, 0);
        push_error(L, "-ERR malformed reply", 20);
    }
    check_memory();
    if (raise && vm.scratch.len > 0 && vm.scratch.p[0] == '-') return lua_error(L);
    return 1;
fail:
    lua_settop(L, 0);
    push_error(L, err, strlen(err));
    if (raise) return lua_error(L);
    return 1;
}

static int redis_call(lua_State *L)
{
    return call_generic(L, 1);
}

static int redis_pcall(lua_State *L)
{
    return call_generic(L, 0);
}

/* pcall as Redis 7 replaces it: an error table becomes its err string. A
 * budget error is never caught. */
static int lua_pcall_redis(lua_State *L)
{
    int argc = lua_gettop(L);
    luaL_checkany(L, 1);
    lua_pushboolean(L, 1);
    lua_insert(L, 1);
    if (lua_pcall(L, argc - 1, LUA_MULTRET, 0)) {
        if (vm.stop) return lua_error(L);
        lua_remove(L, 1);
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "err");
            if (lua_isstring(L, -1))
                lua_replace(L, -2);
            else
                lua_pop(L, 1);
        }
        lua_pushboolean(L, 0);
        lua_insert(L, 1);
    }
    return lua_gettop(L);
}

static int redis_sha1hex(lua_State *L)
{
    char hex[41];
    size_t n;
    if (lua_gettop(L) != 1) return raise_error(L, "wrong number of arguments");
    const char *s = lua_tolstring(L, 1, &n);
    kv_sha1hex(hex, s ? s : "", s ? n : 0);
    lua_pushstring(L, hex);
    return 1;
}

static int redis_error_reply(lua_State *L)
{
    if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
        push_error(L, "wrong number or type of arguments", 33);
        return 1;
    }
    size_t n;
    const char *s = lua_tolstring(L, 1, &n);
    /* Redis's sds from lua_tostring: up to the first NUL. */
    n = strlen(s);
    if (s[0] == '-') {
        push_error(L, s, n);
    } else {
        lua_pushliteral(L, "-");
        lua_pushvalue(L, 1);
        lua_concat(L, 2);
        const char *t = lua_tolstring(L, -1, &n);
        push_error(L, t, strlen(t));
    }
    return 1;
}

static int redis_status_reply(lua_State *L)
{
    if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
        push_error(L, "wrong number or type of arguments", 33);
        return 1;
    }
    lua_newtable(L);
    lua_pushliteral(L, "ok");
    lua_pushvalue(L, -3);
    lua_rawset(L, -3);
    return 1;
}

static int redis_log(lua_State *L)
{
    int argc = lua_gettop(L);
    if (argc < 2) return raise_error(L, "redis.log() requires two arguments or more.");
    if (!lua_isnumber(L, -argc))
        return raise_error(L, "First argument must be a number (log level).");
    int level = (int)lua_tonumber(L, -argc);
    if (level < 0 || level > 3) return raise_error(L, "Invalid debug level.");
    /* Accepted and dropped: a node's log is no place for what every node
     * would print for every script run. */
    return 0;
}

static int redis_setresp(lua_State *L)
{
    if (!vm.run)
        return raise_error(L, "redis.setresp can only be called inside a script invocation");
    if (lua_gettop(L) != 1) return raise_error(L, "redis.setresp() requires one argument.");
    int resp = (int)lua_tonumber(L, -1);
    if (resp != 2 && resp != 3) return raise_error(L, "RESP version must be 2 or 3.");
    vm.resp = resp;
    return 0;
}

static int redis_set_repl(lua_State *L)
{
    if (!vm.run)
        return raise_error(L, "redis.set_repl can only be called inside a script invocation");
    if (lua_gettop(L) != 1) return raise_error(L, "redis.set_repl() requires two arguments.");
    int flags = (int)lua_tonumber(L, -1);
    if ((flags & ~3) != 0)
        return raise_error(
            L, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.");
    return 0;
}

static int redis_replicate_commands(lua_State *L)
{
    lua_pushboolean(L, 1);
    return 1;
}

/* ------------------------------------------------------------ the sandbox */

static int global_missing(lua_State *L)
{
    const char *k = lua_tostring(L, 2);
    return luaL_error(L, "Script attempted to access nonexistent global variable '%s'",
                      k ? k : "?");
}

static int readonly_error(lua_State *L)
{
    return luaL_error(L, "Attempt to modify a readonly table");
}

/* Replaces the table on top of the stack by a read-only view of it:
 * reads go through to it, writes fail. */
static void make_view(lua_State *L)
{
    lua_newtable(L);      /* view */
    lua_newtable(L);      /* its metatable */
    lua_pushvalue(L, -3); /* the table */
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, readonly_error);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_replace(L, -2);
}

static void set_fn(lua_State *L, const char *name, lua_CFunction f)
{
    lua_pushcfunction(L, f);
    lua_setfield(L, -2, name);
}

static void set_num(lua_State *L, const char *name, double v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, name);
}

static void open_lib(lua_State *L, const char *name, lua_CFunction f)
{
    lua_pushcfunction(L, f);
    lua_pushstring(L, name);
    lua_call(L, 1, 1);
    if (*name && lua_istable(L, -1)) lua_setglobal(L, name);
    lua_settop(L, 0);
}

/* Builds the base VM (in protected mode: any error leaves it unbuilt). */
static int build(lua_State *L)
{
    open_lib(L, "", luaopen_base);
    open_lib(L, LUA_TABLIBNAME, luaopen_table);
    open_lib(L, LUA_STRLIBNAME, luaopen_string);
    kvlua_strlib_install(L);
    open_lib(L, LUA_MATHLIBNAME, luaopen_math);
    open_lib(L, "cjson", luaopen_cjson);
    open_lib(L, "bit", luaopen_bit);
    open_lib(L, "struct", kvlua_open_struct);
    open_lib(L, "cmsgpack", kvlua_open_cmsgpack);

    /* cjson's shared encode buffer is malloc'ed memory that the arena's
     * image would point to after a run freed it: keep it per call. */
    lua_getglobal(L, "cjson");
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "encode_keep_buffer");
        if (lua_isfunction(L, -1)) {
            lua_pushboolean(L, 0);
            lua_call(L, 1, 0);
        } else {
            lua_pop(L, 1);
        }
        lua_pushnil(L);
        lua_setfield(L, -2, "encode_keep_buffer");
    }
    lua_settop(L, 0);

    /* What Redis removes or never loads. */
    static const char *const drop[] = {"print",   "dofile",  "loadfile", "newproxy",
                                       "setfenv", "getfenv", NULL};
    for (int i = 0; drop[i]; i++) {
        lua_pushnil(L);
        lua_setglobal(L, drop[i]);
    }
    lua_pushcfunction(L, lua_pcall_redis);
    lua_setglobal(L, "pcall");

    lua_getglobal(L, "math");
    set_fn(L, "random", math_random);
    set_fn(L, "randomseed", math_randomseed);
    lua_pop(L, 1);

    lua_newtable(L);
    set_fn(L, "call", redis_call);
    set_fn(L, "pcall", redis_pcall);
    set_fn(L, "log", redis_log);
    set_num(L, "LOG_DEBUG", 0);
    set_num(L, "LOG_VERBOSE", 1);
    set_num(L, "LOG_NOTICE", 2);
    set_num(L, "LOG_WARNING", 3);
    set_num(L, "REDIS_VERSION_NUM", 0x07000f);
    lua_pushliteral(L, "7.0.15");
    lua_setfield(L, -2, "REDIS_VERSION");
    set_fn(L, "setresp", redis_setresp);
    set_fn(L, "sha1hex", redis_sha1hex);
    set_fn(L, "error_reply", redis_error_reply);
    set_fn(L, "status_reply", redis_status_reply);
    set_fn(L, "set_repl", redis_set_repl);
    set_fn(L, "replicate_commands", redis_replicate_commands);
    set_num(L, "REPL_NONE", 0);
    set_num(L, "REPL_AOF", 1);
    set_num(L, "REPL_SLAVE", 2);
    set_num(L, "REPL_REPLICA", 2);
    set_num(L, "REPL_ALL", 3);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_REDIS);
    lua_setglobal(L, "redis");

    /* Library tables become read-only views. */
    static const char *const libs[] = {"redis", "string", "math",     "table",     "cjson",
                                       "bit",   "struct", "cmsgpack", "coroutine", NULL};
    for (int i = 0; libs[i]; i++) {
        lua_getglobal(L, libs[i]);
        if (lua_istable(L, -1)) {
            make_view(L);
            lua_setglobal(L, libs[i]);
        } else {
            lua_pop(L, 1);
        }
    }

    /* The globals scripts see: a view whose misses raise, whose writes
     * fail; _G is that view. */
    lua_pushvalue(L, LUA_GLOBALSINDEX);
    lua_newtable(L); /* metatable of the real globals: misses raise */
    lua_pushcfunction(L, global_missing);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    make_view(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_GLOBALSINDEX, "_G");
    lua_setfield(L, LUA_REGISTRYINDEX, REG_GLOBALS_VIEW);
    lua_pushcfunction(L, error_handler);
    lua_setfield(L, LUA_REGISTRYINDEX, "kvlua.errh");
    lua_settop(L, 0);
    lua_gc(L, LUA_GCCOLLECT, 0);
    return 0;
}

static int ensure_built(void)
{
    if (vm.built) return 0;
    if (vm.broken) return -1;
    if (kvlua_arena_map(vm.err, sizeof(vm.err)) != 0) {
        vm.broken = 1;
        return -1;
    }
    kvlua_arena_reset();
    lua_State *L = lua_newstate(kvlua_arena_alloc, NULL);
    if (!L || lua_cpcall(L, build, NULL) != 0) {
        snprintf(vm.err, sizeof(vm.err), "the scripting VM could not be built");
        vm.broken = 1;
        return -1;
    }
    vm.L = L;
    vm.image_len = kvlua_arena_image_size();
    vm.image = malloc(vm.image_len);
    if (!vm.image) {
        snprintf(vm.err, sizeof(vm.err), "out of memory saving the scripting VM");
        vm.broken = 1;
        return -1;
    }
    kvlua_arena_save(vm.image, vm.image_len);
    vm.base_used = kvlua_arena_used();
    vm.built = 1;
    return 0;
}

/* ------------------------------------------------------------ runs */

static void ensure_base(void);

lua_State *kvlua_begin(kvlua_run *r, resp_buf *err)
{
    if (vm.run) {
        resp_add_error(err, "ERR a script is already running");
        return NULL;
    }
    if (ensure_built() != 0) {
        resp_add_errorf(err, "ERR scripting is unavailable on this node: %s", vm.err);
        return NULL;
    }
    /* The base VM now (kvlua.h promises it: a caller may use L with the
     * Lua API at once), unless the caller loads a cached chunk first
     * (lazy_base): then the load restores one image, not two (each is a
     * copy of tens of KiB, most of a small script's cost). */
    vm.limit = r->max_memory ? vm.base_used + r->max_memory : 0;
    vm.need_base = 1;
    vm.fresh = 1;
    vm.run = r;
    vm.steps = 0;
    vm.stop = 0;
    vm.resp = 2;
    vm.rng = r->seed;
    vm.wrote = 0;
    r->over_budget = r->over_memory = 0;
    if (!r->lazy_base) ensure_base();
    return vm.L;
}

/* The base VM, as every run starts. */
static void ensure_base(void)
{
    if (!vm.need_base) return;
    vm.need_base = 0;
    kvlua_arena_restore(vm.image, vm.image_len);
    kvlua_arena_set_limit(vm.limit);
    lua_settop(vm.L, 0);
    lua_sethook(vm.L, hook, LUA_MASKCOUNT, HOOK_PERIOD);
}

/* Compiled chunks: the arena's image right after a body compiled on a
 * fresh base VM. Compiling is deterministic, so the image is the same
 * bytes on every node that compiles that body; restoring it instead of
 * compiling again changes nothing a script can see, and saves the
 * compile. A small cache, least recently used out. */
#define CHUNK_CACHE 32
static struct chunk_entry {
    char key[41]; /* the script's sha1 (kvlua_load_cached) */
    void *img;
    size_t len;
    uint64_t used_at;
} chunks[CHUNK_CACHE];
static uint64_t chunk_clock;

static struct chunk_entry *chunk_find(const char *key)
{
    for (int i = 0; i < CHUNK_CACHE; i++)
        if (chunks[i].img && !memcmp(chunks[i].key, key, 41)) return &chunks[i];
    return NULL;
}

static void chunk_save(const char *key)
{
    struct chunk_entry *e = &chunks[0];
    for (int i = 0; i < CHUNK_CACHE; i++) {
        if (!chunks[i].img) {
            e = &chunks[i];
            break;
        }
        if (chunks[i].used_at < e->used_at) e = &chunks[i];
    }
    size_t len = kvlua_arena_image_size();
    void *img = malloc(len);
    if (!img) return;
    kvlua_arena_save(img, len);
    free(e->img);
    e->img = img;
    e->len = len;
    memcpy(e->key, key, 41);
    e->used_at = ++chunk_clock;
}

/* key: the cache key of a cached load (kvlua_load_cached), else NULL. */
static int load(lua_State *L, const char *code, size_t len, const char *chunkname, resp_buf *err,
                const char *key)
{
    const char *name = chunkname ? chunkname : "@user_script";
    /* With the base not restored yet (lazy_base), nothing was done to L:
     * its stack is the last run's, not this one's. */
    int fresh = key && vm.fresh && (vm.need_base || lua_gettop(L) == 0);
    vm.fresh = 0;
    if (fresh) {
        struct chunk_entry *e = chunk_find(key);
        if (e) {
            kvlua_arena_restore(e->img, e->len);
            kvlua_arena_set_limit(vm.limit);
            vm.need_base = 0;
            e->used_at = ++chunk_clock;
            return 0;
        }
    }
    ensure_base();
    int rc = luaL_loadbuffer(L, code, len, name);
    check_memory();
    if (rc != 0) {
        const char *m = lua_tostring(L, -1);
        if (vm.run && vm.run->over_memory)
            resp_add_error(err, "ERR Script exceeded the memory limit (script-max-memory)");
        else
            resp_add_errorf(err, "ERR Error compiling script (new function): %s",
                            m ? m : "unknown error");
        lua_pop(L, 1);
        return -1;
    }
    lua_getfield(L, LUA_REGISTRYINDEX, REG_GLOBALS_VIEW);
    lua_setfenv(L, -2);
    if (fresh && !kvlua_arena_exceeded()) chunk_save(key);
    return 0;
}

int kvlua_load(lua_State *L, const char *code, size_t len, const char *chunkname, resp_buf *err)
{
    return load(L, code, len, chunkname, err, NULL);
}

int kvlua_load_cached(lua_State *L, const char sha[41], const char *code, size_t len, resp_buf *err)
{
    return load(L, code, len, NULL, err, sha);
}

void kvlua_push_array(lua_State *L, int n, char **v, size_t *lens)
{
    ensure_base();
    vm.fresh = 0;
    lua_createtable(L, n, 0);
    for (int j = 0; j < n; j++) {
        lua_pushlstring(L, v[j], lens[j]);
        lua_rawseti(L, -2, j + 1);
    }
}

void kvlua_set_global_array(lua_State *L, const char *name, int n, char **v, size_t *lens)
{
    lua_pushstring(L, name);
    kvlua_push_array(L, n, v, lens);
    lua_rawset(L, LUA_GLOBALSINDEX);
}

void kvlua_push_redis(lua_State *L)
{
    ensure_base();
    vm.fresh = 0;
    lua_getfield(L, LUA_REGISTRYINDEX, REG_REDIS);
}

static void budget_error(kvlua_run *r, resp_buf *out)
{
    if (r->over_memory)
        resp_add_errorf(out, "ERR Script exceeded the memory limit (script-max-memory) script: %s",
                        r->name ? r->name : "?");
    else
        resp_add_errorf(out,
                        "ERR Script exceeded the instruction budget (script-instruction-budget) "
                        "script: %s",
                        r->name ? r->name : "?");
}

void kvlua_call(lua_State *L, int nargs, resp_buf *out)
{
    ensure_base();
    vm.fresh = 0;
    kvlua_run *r = vm.run;
    int base = lua_gettop(L) - nargs; /* the function's index */
    lua_getfield(L, LUA_REGISTRYINDEX, "kvlua.errh");
    lua_insert(L, base);
    int rc = lua_pcall(L, nargs, 1, base);
    check_memory();
    if (r && (r->over_budget || r->over_memory || (rc == LUA_ERRMEM))) {
        if (rc == LUA_ERRMEM) r->over_memory = 1;
        budget_error(r, out);
        lua_settop(L, base - 1);
        return;
    }
    if (rc != 0) {
        if (!lua_istable(L, -1)) {
            const char *m = lua_isstring(L, -1) ? lua_tostring(L, -1) : "execution failure";
            resp_add_errorf(out, "ERR Error running script %s, %.100s",
                            r && r->name ? r->name : "?", m);
        } else {
            lua_getfield(L, -1, "err");
            size_t n = 0;
            const char *m = lua_tolstring(L, -1, &n);
            lua_getfield(L, -2, "source");
            const char *src = lua_tostring(L, -1);
            lua_getfield(L, -3, "line");
            const char *line = lua_tostring(L, -1);
            resp_buf tmp;
            resp_buf_init(&tmp, out->proto);
            resp_add_raw(&tmp, "-", 1);
            if (m) resp_add_raw(&tmp, m, strlen(m));
            if (src && line) {
                char b[256];
                int k = snprintf(b, sizeof(b), " script: %s, on %s:%s.",
                                 r && r->name ? r->name : "?", src, line);
                resp_add_raw(&tmp, b, (size_t)(k < (int)sizeof(b) ? k : (int)sizeof(b) - 1));
            }
            /* Redis's addReplyErrorSds: CR/LF become spaces. */
            for (size_t i = 1; i < tmp.len; i++)
                if (tmp.p[i] == '\r' || tmp.p[i] == '\n') tmp.p[i] = ' ';
            resp_add_raw(out, tmp.p, tmp.len);
            resp_add_raw(out, "\r\n", 2);
            resp_buf_free(&tmp);
        }
        lua_settop(L, base - 1);
        return;
    }
    size_t start = out->len;
    uint64_t limit = r && r->max_memory ? r->max_memory : 0;
    lua_to_reply(L, out, limit ? start + (size_t)limit : 0);
    lua_settop(L, base - 1);
}

void kvlua_end(lua_State *L)
{
    vm.fresh = 0;
    if (!vm.need_base) lua_sethook(L, NULL, 0, 0);
    vm.run = NULL;
    if (vm.scratch_init && vm.scratch.cap > (1u << 20)) {
        resp_buf_free(&vm.scratch);
        vm.scratch_init = 0;
    }
}

uint64_t kvlua_base_memory(void)
{
    return vm.built ? vm.base_used : 0;
}
