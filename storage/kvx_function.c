/* kvx_function.c -- FUNCTION LOAD|DELETE|FLUSH|LIST|DUMP|RESTORE|STATS|
 * KILL|HELP, FCALL and FCALL_RO: Redis 7.0's function libraries, run by
 * the scripting VM (kvlua.h) at apply.
 *
 * Libraries are state: slot KV_SLOT_FUNCTIONS of the pair holds
 *   'L' <library name>          -> the library's functions, then its code
 *   'F' <function name, lower>  -> flags (u32 BE), then the library name
 * (function names are unique case-insensitively across libraries, as in
 * Redis; library names are case-sensitive). FUNCTION LOAD, DELETE, FLUSH
 * and RESTORE are log entries, so every node and every snapshot holds the
 * same libraries; FLUSHALL leaves them (as Redis).
 *
 * Loading runs the library body in the VM with the load environment Redis
 * gives (only redis.register_function, redis.log, redis.LOG_* and
 * redis.REDIS_VERSION*); an FCALL restores the VM's base image, runs the
 * library body again to register its functions (the VM keeps nothing
 * between runs: that is what makes runs identical on every node), then
 * calls the function with KEYS and ARGV in the normal script globals.
 */
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "storage/kvcmd.h"
#include "storage/kvcmd_int.h"
#include "storage/kverr.h"
#include "storage/kvfunction.h"
#include "storage/kvint.h"
#include "storage/kvlua.h"
#include "storage/rdbcodec.h"

#define REG_FNS "kvfn.fns"     /* name -> callback, of this run */
#define REG_ENVMT "kvfn.envmt" /* the metatable of the library's globals */
#define NAME_MAX_LEN 4096      /* longer names are refused as invalid */
#define ERRLEN 512

/* ------------------------------------------------------------ metadata */

int kvfn_valid_name(const char *s, size_t n)
{
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_'))
            return 0;
    }
    return 1;
}

static int is_space(char ch)
{
    return ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t' || ch == '\v' || ch == '\f';
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* One argument of Redis's sdssplitargs from p[*i..e), into out (at most
 * cap bytes kept; *outlen the full length). 1 an argument, 0 none left,
 * -1 unbalanced quotes. */
static int split_arg(const char *p, size_t e, size_t *i, char *out, size_t cap, size_t *outlen)
{
    size_t k = *i, n = 0;
    int inq = 0, insq = 0;
    while (k < e && is_space(p[k]))
        k++;
    if (k >= e) return 0;
#define PUT(ch)                                                                                    \
    do {                                                                                           \
        if (n < cap) out[n] = (ch);                                                                \
        n++;                                                                                       \
    } while (0)
    for (;;) {
        if (inq) {
            if (k >= e) return -1;
            if (p[k] == '\\' && k + 3 < e && p[k + 1] == 'x' && hexval(p[k + 2]) >= 0 &&
                hexval(p[k + 3]) >= 0) {
                PUT((char)(hexval(p[k + 2]) * 16 + hexval(p[k + 3])));
                k += 3;
            } else if (p[k] == '\\' && k + 1 < e) {
                char c2 = p[++k];
                PUT(c2 == 'n'   ? '\n'
                    : c2 == 'r' ? '\r'
                    : c2 == 't' ? '\t'
                    : c2 == 'b' ? '\b'
                    : c2 == 'a' ? '\a'
                                : c2);
            } else if (p[k] == '"') {
                if (k + 1 < e && !is_space(p[k + 1])) return -1;
                inq = 0;
                k++;
                break;
            } else {
                PUT(p[k]);
            }
        } else if (insq) {
            if (k >= e) return -1;
            if (p[k] == '\\' && k + 1 < e && p[k + 1] == '\'') {
                k++;
                PUT('\'');
            } else if (p[k] == '\'') {
                if (k + 1 < e && !is_space(p[k + 1])) return -1;
                insq = 0;
                k++;
                break;
            } else {
                PUT(p[k]);
            }
        } else {
            if (k >= e || is_space(p[k])) break;
            if (p[k] == '"')
                inq = 1;
            else if (p[k] == '\'')
                insq = 1;
            else
                PUT(p[k]);
        }
        k++;
    }
#undef PUT
    *i = k;
    *outlen = n;
    return 1;
}

int kvfn_parse_meta(const char *code, size_t len, const char **name, size_t *namelen, size_t *body,
                    char *err, size_t errlen)
{
    static char namebuf[NAME_MAX_LEN + 1];
    char arg[NAME_MAX_LEN + 8], engine[64];
    size_t i = 0, alen, englen = 0;
    int have_name = 0, r;
    if (len < 2 || code[0] != '#' || code[1] != '!') {
        snprintf(err, errlen, "Missing library metadata");
        return -1;
    }
    const char *nl = memchr(code, '\n', len);
    /* Redis works on C strings: a NUL ends the payload. */
    const char *nul = memchr(code, '\0', len);
    if (!nl || (nul && nul < nl)) {
        snprintf(err, errlen, "Invalid library metadata");
        return -1;
    }
    size_t e = (size_t)(nl - code);
    r = split_arg(code, e, &i, arg, sizeof(arg), &alen);
    if (r <= 0) {
        snprintf(err, errlen, "Invalid library metadata");
        return -1;
    }
    /* The engine: the first argument without "#!". */
    englen = alen > 2 ? alen - 2 : 0;
    if (englen >= sizeof(engine)) englen = sizeof(engine) - 1;
    if (englen) memcpy(engine, arg + 2, englen);
    engine[englen] = '\0';
    int engine_ok = alen == 5 && !strncasecmp(arg + 2, "lua", 3);
    /* Check the whole line's quoting first, as sdssplitargs does. */
    size_t j = i, tmp;
    char scratch[8];
    while ((r = split_arg(code, e, &j, scratch, 0, &tmp)) == 1)
        ;
    if (r < 0) {
        snprintf(err, errlen, "Invalid library metadata");
        return -1;
    }
    while ((r = split_arg(code, e, &i, arg, sizeof(arg), &alen)) == 1) {
        size_t kept = alen < sizeof(arg) ? alen : sizeof(arg);
        if (kept >= 5 && !strncasecmp(arg, "name=", 5)) {
            if (have_name) {
                snprintf(err, errlen,
                         "Invalid metadata value, name argument was given multiple times");
                return -1;
            }
            have_name = 1;
            *namelen = alen - 5;
            if (*namelen > NAME_MAX_LEN) *namelen = NAME_MAX_LEN + 1; /* invalid below */
            memcpy(namebuf, arg + 5, *namelen <= NAME_MAX_LEN ? *namelen : NAME_MAX_LEN);
            continue;
        }
        snprintf(err, errlen, "Invalid metadata value given: %.*s", (int)(kept > 200 ? 200 : kept),
                 arg);
        return -1;
    }
    if (!have_name) {
        snprintf(err, errlen, "Library name was not given");
        return -1;
    }
    if (*namelen > NAME_MAX_LEN || !kvfn_valid_name(namebuf, *namelen)) {
        snprintf(err, errlen,
                 "Library names can only contain letters, numbers, or underscores(_) and must be "
                 "at least one character long");
        return -1;
    }
    if (!engine_ok) {
        snprintf(err, errlen, "Engine '%s' not found", engine);
        return -1;
    }
    *name = namebuf;
    *body = e;
    return 0;
}

int kvfn_payload_walk(const void *p, size_t n, int (*cb)(void *arg, const char *code, size_t len),
                      void *arg, char *err, size_t errlen)
{
    if (rdbc_verify_dump(p, n) != 0) {
        snprintf(err, errlen, "DUMP payload version or checksum are wrong");
        return -1;
    }
    rdbc_reader rd = {.p = p, .n = n};
    int ret = 0;
    while (rd.off < n - 10) {
        unsigned type = rd.p[rd.off++];
        if (type != KVFN_RDB_OPCODE_FUNCTION && type != KVFN_RDB_OPCODE_FUNCTION2) {
            snprintf(err, errlen, "given type is not a function");
            ret = -1;
            break;
        }
        if (type == KVFN_RDB_OPCODE_FUNCTION) {
            snprintf(err, errlen, "Pre-GA function format not supported");
            ret = -1;
            break;
        }
        const char *s;
        size_t sl;
        if (rdbc_read_string(&rd, 0, &s, &sl) != RDBC_OK) {
            snprintf(err, errlen, "Failed loading library payload");
            ret = -1;
            break;
        }
        if ((ret = cb(arg, s, sl)) != 0) break;
    }
    rdbc_reader_free(&rd);
    return ret;
}

/* ------------------------------------------------------------ a library's functions */

typedef struct fn_def {
    char *name, *desc;
    size_t nlen, dlen;
    int hasdesc;
    uint32_t flags;
} fn_def;

typedef struct fn_lib {
    char *name; /* owned */
    size_t nlen;
    const char *code; /* not owned */
    size_t len, body;
    fn_def *fns;
    int n, cap;
} fn_lib;

static void lib_clear(fn_lib *l)
{
    for (int i = 0; i < l->n; i++) {
        free(l->fns[i].name);
        free(l->fns[i].desc);
    }
    free(l->fns);
    free(l->name);
    memset(l, 0, sizeof(*l));
}

static void lower(char *dst, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
}

static int fn_raise(lua_State *L, const char *msg)
{
    lua_newtable(L);
    lua_pushliteral(L, "err");
    lua_pushfstring(L, "ERR %s", msg);
    lua_rawset(L, -3);
    return lua_error(L);
}

static const struct {
    const char *name;
    uint32_t bit;
} fn_flags[] = {
    {"no-writes", KVLUA_F_NO_WRITES},
    {"allow-oom", KVLUA_F_ALLOW_OOM},
    {"allow-stale", KVLUA_F_ALLOW_STALE},
    {"no-cluster", KVLUA_F_NO_CLUSTER},
    {"allow-cross-slot-keys", KVLUA_F_ALLOW_CROSS_SLOT},
};
#define NFLAGS (sizeof(fn_flags) / sizeof(fn_flags[0]))

/* The flags table on top of the stack (luaRegisterFunctionReadFlags). */
static int read_flags(lua_State *L, uint32_t *flags)
{
    uint32_t f = 0;
    for (int j = 1;; j++) {
        lua_pushnumber(L, j);
        lua_gettable(L, -2);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            break;
        }
        if (!lua_isstring(L, -1)) {
            lua_pop(L, 1);
            return -1;
        }
        const char *s = lua_tostring(L, -1);
        size_t k;
        for (k = 0; k < NFLAGS; k++)
            if (!strcasecmp(fn_flags[k].name, s)) break;
        lua_pop(L, 1);
        if (k == NFLAGS) return -1;
        f |= fn_flags[k].bit;
    }
    *flags = f;
    return 0;
}

/* redis.register_function, at load time: upvalue 1 is the fn_lib. Only
 * Lua values stay on the stack across a raise; C memory is allocated
 * after every check. */
static int register_function(lua_State *L)
{
    fn_lib *lib = lua_touserdata(L, lua_upvalueindex(1));
    int argc = lua_gettop(L);
    int name_i = 0, cb_i = 0, desc_i = 0;
    uint32_t flags = 0;
    if (argc < 1 || argc > 2)
        return fn_raise(L, "wrong number of arguments to redis.register_function");
    if (argc == 1) {
        if (!lua_istable(L, 1))
            return fn_raise(L, "calling redis.register_function with a single argument is only "
                               "applicable to Lua table (representing named arguments).");
        /* Slots 2..4: name, callback, description (copies). */
        lua_settop(L, 4);
        lua_pushnil(L);
        while (lua_next(L, 1)) {
            /* key at 5, value at 6 */
            if (!lua_isstring(L, 5))
                return fn_raise(
                    L, "named argument key given to redis.register_function is not a string");
            lua_pushvalue(L, 5);
            const char *key = lua_tostring(L, -1);
            lua_pop(L, 1);
            if (!strcasecmp(key, "function_name")) {
                if (!lua_isstring(L, 6))
                    return fn_raise(
                        L,
                        "function_name argument given to redis.register_function must be a string");
                lua_pushvalue(L, 6);
                lua_replace(L, 2);
                name_i = 2;
            } else if (!strcasecmp(key, "description")) {
                if (!lua_isstring(L, 6))
                    return fn_raise(
                        L,
                        "description argument given to redis.register_function must be a string");
                lua_pushvalue(L, 6);
                lua_replace(L, 4);
                desc_i = 4;
            } else if (!strcasecmp(key, "callback")) {
                if (!lua_isfunction(L, 6))
                    return fn_raise(
                        L, "callback argument given to redis.register_function must be a function");
                lua_pushvalue(L, 6);
                lua_replace(L, 3);
                cb_i = 3;
            } else if (!strcasecmp(key, "flags")) {
                if (!lua_istable(L, 6))
                    return fn_raise(L, "flags argument to redis.register_function must be a table "
                                       "representing function flags");
                if (read_flags(L, &flags) != 0) return fn_raise(L, "unknown flag given");
            } else {
                return fn_raise(L, "unknown argument given to redis.register_function");
            }
            lua_pop(L, 1);
        }
        if (!name_i)
            return fn_raise(L, "redis.register_function must get a function name argument");
        if (!cb_i) return fn_raise(L, "redis.register_function must get a callback argument");
    } else {
        if (!lua_isstring(L, 1))
            return fn_raise(L, "first argument to redis.register_function must be a string");
        if (!lua_isfunction(L, 2))
            return fn_raise(L, "second argument to redis.register_function must be a function");
        name_i = 1;
        cb_i = 2;
    }
    size_t nlen, dlen = 0;
    const char *name = lua_tolstring(L, name_i, &nlen);
    const char *desc = desc_i ? lua_tolstring(L, desc_i, &dlen) : NULL;
    /* Redis 7.0.15 words an invalid function name as a library name. */
    if (nlen > NAME_MAX_LEN || !kvfn_valid_name(name, nlen))
        return fn_raise(L, "Library names can only contain letters, numbers, or underscores(_) and "
                           "must be at least one character long");
    /* Within a library names are case-sensitive (Redis's library dict);
     * across libraries not (its functions dict). */
    lua_getfield(L, LUA_REGISTRYINDEX, REG_FNS);
    lua_pushlstring(L, name, nlen);
    lua_rawget(L, -2);
    if (!lua_isnil(L, -1)) return fn_raise(L, "Function already exists in the library");
    lua_pop(L, 1);
    lua_pushlstring(L, name, nlen);
    lua_pushvalue(L, cb_i);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    if (lib->n == lib->cap) {
        int cap = lib->cap ? 2 * lib->cap : 8;
        fn_def *nf = realloc(lib->fns, (size_t)cap * sizeof(*nf));
        if (!nf) return fn_raise(L, "out of memory registering a function");
        lib->fns = nf;
        lib->cap = cap;
    }
    fn_def *d = &lib->fns[lib->n];
    memset(d, 0, sizeof(*d));
    d->name = malloc(nlen + 1);
    d->desc = desc ? malloc(dlen + 1) : NULL;
    if (!d->name || (desc && !d->desc)) {
        free(d->name);
        free(d->desc);
        return fn_raise(L, "out of memory registering a function");
    }
    memcpy(d->name, name, nlen);
    d->name[nlen] = '\0';
    d->nlen = nlen;
    if (desc) {
        memcpy(d->desc, desc, dlen);
        d->desc[dlen] = '\0';
        d->dlen = dlen;
        d->hasdesc = 1;
    }
    d->flags = flags;
    lib->n++;
    return 0;
}

static int missing_global(lua_State *L)
{
    const char *k = lua_tostring(L, 2);
    return luaL_error(L, "Script attempted to access nonexistent global variable '%s'",
                      k ? k : "?");
}

static int readonly_table(lua_State *L)
{
    return luaL_error(L, "Attempt to modify a readonly table");
}

/* Pushes a read-only view of the table on top (replacing it) whose
 * misses raise "nonexistent global variable". */
static void protect(lua_State *L)
{
    lua_newtable(L); /* metatable of the table: misses raise */
    lua_pushcfunction(L, missing_global);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    lua_newtable(L); /* the view */
    lua_newtable(L); /* its metatable */
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, readonly_table);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_replace(L, -2);
}

/* Pushes the load environment: {redis = {register_function, log, LOG_*,
 * REDIS_VERSION, REDIS_VERSION_NUM}}, protected as Redis's. */
static void push_load_api(lua_State *L, fn_lib *lib)
{
    lua_newtable(L); /* globals */
    lua_newtable(L); /* redis */
    lua_pushlightuserdata(L, lib);
    lua_pushcclosure(L, register_function, 1);
    lua_setfield(L, -2, "register_function");
    kvlua_push_redis(L);
    static const char *const copy[] = {
        "log",         "LOG_DEBUG",     "LOG_VERBOSE",       "LOG_NOTICE",
        "LOG_WARNING", "REDIS_VERSION", "REDIS_VERSION_NUM", NULL};
    for (int i = 0; copy[i]; i++) {
        lua_getfield(L, -1, copy[i]);
        lua_setfield(L, -3, copy[i]);
    }
    lua_pop(L, 1);
    protect(L);
    lua_setfield(L, -2, "redis");
    protect(L);
}

/* Compiles and runs lib's body in a fresh VM run (kvlua_begin done by the
 * caller), registering its functions in lib and in the registry's
 * REG_FNS. Leaves the library's environment's metatable in REG_ENVMT.
 * 0, or -1 with Redis's error appended to err. */
/* ------------------------------------------------------------ compiled libraries */

/* Compiling a library's source is most of an FCALL's cost (the lexer and
 * parser), so every run loads the library as Lua bytecode instead: the
 * bytecode of a source is the same bytes on every node (lua_dump of the
 * same Proto), and the VM's state after loading it depends only on those
 * bytes, whether this process compiled the source just now or found the
 * bytecode in its cache. The compile happens in a scratch run (the base
 * image restored before and after), without memory limit so that a node
 * that compiles and a node that hits its cache can never disagree. The
 * cache is this process's memory, never state, and never takes bytes from
 * a client: only what lua_dump wrote here. */
#define BC_SLOTS 32

static struct bc_entry {
    char *code; /* the library's code, compared whole */
    size_t len;
    unsigned char *bc;
    size_t bclen;
} bc_cache[BC_SLOTS];
static unsigned bc_next;

typedef struct bc_buf {
    unsigned char *p;
    size_t len, cap;
    int oom;
} bc_buf;

static int bc_write(lua_State *L, const void *p, size_t n, void *ud)
{
    (void)L;
    bc_buf *b = ud;
    if (b->oom) return 1;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return 1;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

static struct bc_entry *bc_find(const fn_lib *lib)
{
    for (int i = 0; i < BC_SLOTS; i++)
        if (bc_cache[i].code && bc_cache[i].len == lib->len &&
            !memcmp(bc_cache[i].code, lib->code, lib->len))
            return &bc_cache[i];
    return NULL;
}

/* Pushes lib's compiled chunk, run r being current (kvlua_begin done).
 * 0, or -1 with Redis's error appended to err. */
static int lib_chunk(lua_State *L, kvlua_run *r, fn_lib *lib, resp_buf *err)
{
    struct bc_entry *e = bc_find(lib);
    if (!e) {
        kvlua_run scratch = *r;
        scratch.budget = 0;
        scratch.max_memory = 0;
        kvlua_end(L);
        if (!kvlua_begin(&scratch, err)) return -1;
        int rc = luaL_loadbuffer(L, lib->code + lib->body, lib->len - lib->body, "@user_function");
        if (rc != 0) {
            if (rc == LUA_ERRMEM)
                resp_add_error(err, "ERR Script exceeded the memory limit (script-max-memory)");
            else
                resp_add_errorf(err, "ERR Error compiling function: %s", lua_tostring(L, -1));
            kvlua_end(L);
            kvlua_begin(r, err);
            return -1;
        }
        bc_buf b = {0};
        char *code = malloc(lib->len ? lib->len : 1);
        int drc = lua_dump(L, bc_write, &b);
        kvlua_end(L);
        if (!kvlua_begin(r, err)) {
            free(b.p);
            free(code);
            return -1;
        }
        if (drc != 0 || b.oom || !code) {
            free(b.p);
            free(code);
            resp_add_error(err, "ERR out of memory compiling a library");
            return -1;
        }
        memcpy(code, lib->code, lib->len);
        e = &bc_cache[bc_next++ % BC_SLOTS];
        free(e->code);
        free(e->bc);
        e->code = code;
        e->len = lib->len;
        e->bc = b.p;
        e->bclen = b.len;
    }
    int rc = luaL_loadbuffer(L, (const char *)e->bc, e->bclen, "@user_function");
    if (rc != 0) {
        if (rc == LUA_ERRMEM || r->over_memory)
            resp_add_error(err, "ERR Script exceeded the memory limit (script-max-memory)");
        else
            resp_add_errorf(err, "ERR Error compiling function: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    return 0;
}

static int lib_run(lua_State *L, kvlua_run *r, fn_lib *lib, resp_buf *err)
{
    if (lib_chunk(L, r, lib, err) != 0) return -1;
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_FNS);
    /* The library's globals: an empty table whose reads go to the load
     * API now, to the script globals once loaded; writes fail. */
    lua_newtable(L);
    lua_newtable(L);
    push_load_api(L, lib);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, readonly_table);
    lua_setfield(L, -2, "__newindex");
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_ENVMT);
    lua_setmetatable(L, -2);
    lua_setfenv(L, -2);
    int rc = lua_pcall(L, 0, 0, 0);
    if (r->over_budget || r->over_memory || rc == LUA_ERRMEM) {
        if (rc == LUA_ERRMEM) r->over_memory = 1;
        if (r->over_memory)
            resp_add_error(err, "ERR Script exceeded the memory limit (script-max-memory)");
        else
            resp_add_error(err, "ERR Script exceeded the instruction budget "
                                "(script-instruction-budget)");
        lua_settop(L, 0);
        return -1;
    }
    if (rc != 0) {
        const char *m = NULL;
        size_t ml = 0;
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "err");
            m = lua_tolstring(L, -1, &ml);
            resp_add_errorf(err, "ERR Error registering functions: %.*s", (int)(m ? ml : 0),
                            m ? m : "");
        } else {
            m = lua_tolstring(L, -1, &ml);
            resp_add_errorf(err, "ERR Error registering functions: ERR %.*s", (int)(m ? ml : 0),
                            m ? m : "");
        }
        lua_settop(L, 0);
        return -1;
    }
    lua_settop(L, 0);
    return 0;
}

/* ------------------------------------------------------------ the state */

static MDB_dbi fn_dbi(kv_ctx *c)
{
    return c->st->dbi[c->st->live][KV_SLOT_FUNCTIONS];
}

static int set_rc(kv_ctx *c, int rc)
{
    if (!c->rc) c->rc = kv_map_err(rc);
    return -1;
}

/* mdb_get of prefix+name; 1 found, 0 not, -1 error. */
static int fn_get(kv_ctx *c, char prefix, const char *name, size_t n, MDB_val *d)
{
    char k[NAME_MAX_LEN + 2];
    if (!c->st || n > NAME_MAX_LEN) return 0;
    k[0] = prefix;
    memcpy(k + 1, name, n);
    MDB_val key = {n + 1, k};
    int rc = mdb_get(c->txn, fn_dbi(c), &key, d);
    if (rc == MDB_NOTFOUND) return 0;
    if (rc != 0) return set_rc(c, rc);
    return 1;
}

static int fn_put(kv_ctx *c, char prefix, const char *name, size_t n, const void *v, size_t vl)
{
    char k[NAME_MAX_LEN + 2];
    k[0] = prefix;
    memcpy(k + 1, name, n);
    MDB_val key = {n + 1, k}, d = {vl, (void *)v};
    int rc = mdb_put(c->txn, fn_dbi(c), &key, &d, 0);
    return rc ? set_rc(c, rc) : 0;
}

static int fn_del(kv_ctx *c, char prefix, const char *name, size_t n)
{
    char k[NAME_MAX_LEN + 2];
    k[0] = prefix;
    memcpy(k + 1, name, n);
    MDB_val key = {n + 1, k};
    int rc = mdb_del(c->txn, fn_dbi(c), &key, NULL);
    return rc && rc != MDB_NOTFOUND ? set_rc(c, rc) : 0;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* An 'F' record: flags, the library's name, the function's name as
 * registered. 0 or -1 (malformed). */
static int frec_parse(const MDB_val *d, uint32_t *flags, const char **lib, size_t *liblen,
                      const char **fname, size_t *fnl)
{
    const unsigned char *p = d->mv_data;
    if (d->mv_size < 8) return -1;
    *flags = get_u32(p);
    *liblen = get_u32(p + 4);
    if (*liblen > d->mv_size - 8) return -1;
    *lib = (const char *)p + 8;
    *fname = *lib + *liblen;
    *fnl = d->mv_size - 8 - *liblen;
    return 0;
}

/* Whether the 'F' record d belongs to library name. */
static int frec_lib_is(const MDB_val *d, const char *name, size_t n)
{
    uint32_t fl;
    const char *lib, *fn;
    size_t ll, fnl;
    return frec_parse(d, &fl, &lib, &ll, &fn, &fnl) == 0 && ll == n && !memcmp(lib, name, n);
}

/* A stored library record, decoded in place. */
typedef struct lib_rec {
    const unsigned char *p, *e; /* the function list */
    uint32_t n;
    const char *code;
    size_t len;
} lib_rec;

static int rec_parse(const MDB_val *d, lib_rec *r)
{
    const unsigned char *p = d->mv_data, *e = p + d->mv_size;
    if (d->mv_size < 4) return -1;
    r->n = get_u32(p);
    p += 4;
    r->p = p;
    for (uint32_t i = 0; i < r->n; i++) {
        if (e - p < 8) return -1;
        uint32_t nl = get_u32(p + 4);
        p += 8;
        if ((size_t)(e - p) < (size_t)nl + 4) return -1;
        p += nl;
        uint32_t dl = get_u32(p);
        p += 4;
        if (dl != UINT32_MAX) {
            if ((size_t)(e - p) < dl) return -1;
            p += dl;
        }
    }
    r->e = p;
    r->code = (const char *)p;
    r->len = (size_t)(e - p);
    return 0;
}

/* The next function of a record: flags, name, description (NULL: none). */
static const unsigned char *rec_next(const unsigned char *p, uint32_t *flags, const char **name,
                                     size_t *nl, const char **desc, size_t *dl)
{
    *flags = get_u32(p);
    *nl = get_u32(p + 4);
    *name = (const char *)p + 8;
    p += 8 + *nl;
    uint32_t d = get_u32(p);
    p += 4;
    if (d == UINT32_MAX) {
        *desc = NULL;
        *dl = 0;
    } else {
        *desc = (const char *)p;
        *dl = d;
        p += d;
    }
    return p;
}

/* Deletes library name (its 'L' record and its functions' 'F' records).
 * 1 deleted, 0 not there, -1 error. */
static int lib_delete(kv_ctx *c, const char *name, size_t n)
{
    MDB_val d;
    lib_rec r;
    int f = fn_get(c, 'L', name, n, &d);
    if (f <= 0) return f;
    if (rec_parse(&d, &r) != 0) return set_rc(c, MDB_CORRUPTED);
    /* Copy the names out: deleting invalidates d. */
    size_t tot = (size_t)(r.e - r.p);
    unsigned char *copy = malloc(tot ? tot : 1);
    if (!copy) {
        if (!c->rc) c->rc = KV_ENOMEM;
        return -1;
    }
    memcpy(copy, r.p, tot);
    const unsigned char *p = copy;
    int rc = 0;
    for (uint32_t i = 0; i < r.n && rc == 0; i++) {
        uint32_t fl;
        const char *fn, *ds;
        size_t nl, dl;
        char low[NAME_MAX_LEN];
        p = rec_next(p, &fl, &fn, &nl, &ds, &dl);
        if (nl > NAME_MAX_LEN) continue;
        lower(low, fn, nl);
        rc = fn_del(c, 'F', low, nl);
    }
    free(copy);
    if (rc == 0) rc = fn_del(c, 'L', name, n);
    return rc == 0 ? 1 : -1;
}

/* Stores a loaded library. 0 or -1 (c->rc). */
static int lib_store(kv_ctx *c, const fn_lib *l)
{
    size_t sz = 4 + l->len, fmax = 0;
    for (int i = 0; i < l->n; i++) {
        sz += 12 + l->fns[i].nlen + l->fns[i].dlen;
        if (l->fns[i].nlen > fmax) fmax = l->fns[i].nlen;
    }
    unsigned char *b = malloc(sz > l->nlen + fmax + 8 ? sz : l->nlen + fmax + 8);
    if (!b) {
        if (!c->rc) c->rc = KV_ENOMEM;
        return -1;
    }
    unsigned char *p = b;
    put_u32(p, (uint32_t)l->n);
    p += 4;
    for (int i = 0; i < l->n; i++) {
        const fn_def *d = &l->fns[i];
        put_u32(p, d->flags);
        put_u32(p + 4, (uint32_t)d->nlen);
        memcpy(p + 8, d->name, d->nlen);
        p += 8 + d->nlen;
        put_u32(p, d->hasdesc ? (uint32_t)d->dlen : UINT32_MAX);
        p += 4;
        if (d->hasdesc) {
            memcpy(p, d->desc, d->dlen);
            p += d->dlen;
        }
    }
    memcpy(p, l->code, l->len);
    int rc = fn_put(c, 'L', l->name, l->nlen, b, sz);
    for (int i = 0; i < l->n && rc == 0; i++) {
        char low[NAME_MAX_LEN];
        MDB_val d;
        lower(low, l->fns[i].name, l->fns[i].nlen);
        /* Two names of one library equal but for case: the first one
         * registered answers FCALL (Redis keeps one of them). */
        int f = fn_get(c, 'F', low, l->fns[i].nlen, &d);
        if (f < 0) {
            rc = -1;
            break;
        }
        if (f) continue;
        put_u32(b, l->fns[i].flags);
        put_u32(b + 4, (uint32_t)l->nlen);
        memcpy(b + 8, l->name, l->nlen);
        memcpy(b + 8 + l->nlen, l->fns[i].name, l->fns[i].nlen);
        rc = fn_put(c, 'F', low, l->fns[i].nlen, b, 8 + l->nlen + l->fns[i].nlen);
    }
    free(b);
    return rc;
}

/* Parses and runs code as a library (functionsCreateWithLibraryCtx up
 * to the function registration): 0 with l filled, or -1 with the error
 * appended to err. */
static int lib_load(kv_ctx *c, const char *code, size_t len, fn_lib *l, resp_buf *err)
{
    char msg[ERRLEN];
    const char *name;
    size_t nlen, body;
    (void)c;
    memset(l, 0, sizeof(*l));
    if (kvfn_parse_meta(code, len, &name, &nlen, &body, msg, sizeof(msg)) != 0) {
        resp_add_errorf(err, "ERR %s", msg);
        return -1;
    }
    l->name = malloc(nlen + 1);
    if (!l->name) {
        resp_add_error(err, "ERR out of memory");
        return -1;
    }
    memcpy(l->name, name, nlen);
    l->name[nlen] = '\0';
    l->nlen = nlen;
    l->code = code;
    l->len = len;
    l->body = body;
    return 0;
}

static int lib_register(kv_ctx *c, fn_lib *l, resp_buf *err)
{
    uint64_t budget, maxmem;
    kvx_script_conf(c, &budget, &maxmem);
    kvlua_run r = {.c = c,
                   .readonly = 1,
                   .budget = budget,
                   .max_memory = maxmem,
                   .seed = kv_keyhash(l->name, l->nlen),
                   .name = l->name};
    lua_State *L = kvlua_begin(&r, err);
    if (!L) return -1;
    int rc = lib_run(L, &r, l, err);
    kvlua_end(L);
    if (rc != 0) return -1;
    if (l->n == 0) {
        resp_add_error(err, "ERR No functions registered");
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ FCALL */

static void fcall_generic(kv_ctx *c, int ro, int argc, char **argv, size_t *argvlen)
{
    MDB_val d;
    char low[NAME_MAX_LEN];
    long long numkeys;
    int f = 0;
    if (argvlen[1] <= NAME_MAX_LEN) {
        lower(low, argv[1], argvlen[1]);
        f = fn_get(c, 'F', low, argvlen[1], &d);
    }
    if (f < 0) return;
    uint32_t flags;
    const char *lp, *fp;
    size_t liblen, fnl;
    if (f == 0 || frec_parse(&d, &flags, &lp, &liblen, &fp, &fnl) != 0 || liblen > NAME_MAX_LEN ||
        fnl > NAME_MAX_LEN) {
        resp_add_error(c->reply, "ERR Function not found");
        return;
    }
    /* Redis: a function that may write, without allow-oom, is a denyoom
     * command (decided before the arguments are looked at). */
    int oom = kv_oom_for_script(c);
    if (oom && !(flags & (KVLUA_F_NO_WRITES | KVLUA_F_ALLOW_OOM))) {
        resp_add_error(c->reply, "OOM command not allowed when used memory > 'maxmemory'.");
        return;
    }
    char libname[NAME_MAX_LEN + 1], fname[NAME_MAX_LEN + 1];
    memcpy(libname, lp, liblen);
    memcpy(fname, fp, fnl);
    fname[fnl] = '\0';
    if (!kv_string2ll(argv[2], argvlen[2], &numkeys)) {
        resp_add_error(c->reply, "ERR Bad number of keys provided");
        return;
    }
    if (numkeys > argc - 3) {
        resp_add_error(c->reply, "ERR Number of keys can't be greater than number of args");
        return;
    }
    if (numkeys < 0) {
        resp_add_error(c->reply, "ERR Number of keys can't be negative");
        return;
    }
    if (ro && !(flags & KVLUA_F_NO_WRITES)) {
        resp_add_error(c->reply,
                       "ERR Can not execute a script with write flag using *_ro command.");
        return;
    }
    if (fn_get(c, 'L', libname, liblen, &d) <= 0) {
        if (!c->rc) resp_add_error(c->reply, "ERR Function not found");
        return;
    }
    lib_rec rec;
    if (rec_parse(&d, &rec) != 0) {
        set_rc(c, MDB_CORRUPTED);
        return;
    }
    /* The code lives in the map until a write: the chunk is compiled
     * before the function writes anything. */
    fn_lib lib;
    char msg[ERRLEN];
    const char *nm;
    size_t nl, body;
    memset(&lib, 0, sizeof(lib));
    if (kvfn_parse_meta(rec.code, rec.len, &nm, &nl, &body, msg, sizeof(msg)) != 0) {
        set_rc(c, MDB_CORRUPTED);
        return;
    }
    lib.code = rec.code;
    lib.len = rec.len;
    lib.body = body;
    uint64_t budget, maxmem;
    kvx_script_conf(c, &budget, &maxmem);
    kvlua_run r = {
        .c = c,
        .readonly = ro || (flags & KVLUA_F_NO_WRITES) || !c->writable,
        .budget = budget,
        .max_memory = maxmem,
        .seed = c->rng ^ kv_keyhash(low, argvlen[1]),
        .name = fname,
        .oom_at_start = oom,
        .allow_oom = (flags & KVLUA_F_ALLOW_OOM) != 0,
    };
    lua_State *L = kvlua_begin(&r, c->reply);
    if (!L) return;
    int db = c->db;
    if (lib_run(L, &r, &lib, c->reply) == 0) {
        /* The library's globals now read the script globals. */
        lua_getfield(L, LUA_REGISTRYINDEX, REG_ENVMT);
        lua_getfield(L, LUA_REGISTRYINDEX, "kvlua.gview");
        lua_setfield(L, -2, "__index");
        lua_pop(L, 1);
        lua_getfield(L, LUA_REGISTRYINDEX, REG_FNS);
        lua_pushlstring(L, fname, fnl);
        lua_rawget(L, -2);
        lua_remove(L, -2);
        if (!lua_isfunction(L, -1)) {
            lua_pop(L, 1);
            resp_add_error(c->reply, "ERR Function not found");
        } else {
            kvlua_push_array(L, (int)numkeys, argv + 3, argvlen + 3);
            kvlua_push_array(L, argc - 3 - (int)numkeys, argv + 3 + numkeys, argvlen + 3 + numkeys);
            kvlua_call(L, 2, c->reply);
        }
        if (c->db != db) kv_use_db(c, db);
    }
    kvlua_end(L);
    for (int i = 0; i < lib.n; i++) {
        free(lib.fns[i].name);
        free(lib.fns[i].desc);
    }
    free(lib.fns);
}

static void kvx_fcall(ARGS)
{
    fcall_generic(c, 0, argc, argv, argvlen);
}

static void kvx_fcall_ro(ARGS)
{
    fcall_generic(c, 1, argc, argv, argvlen);
}

/* ------------------------------------------------------------ FUNCTION */

static const char *const function_help[] = {
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using "
    "FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore "
    "policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, "
    "replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance "
    "of failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Prints this help.",
    NULL,
};

enum { POLICY_APPEND, POLICY_REPLACE, POLICY_FLUSH };

static int wrong_args(resp_buf *err, const char *sub)
{
    resp_add_errorf(err, "ERR wrong number of arguments for 'function|%s' command", sub);
    return -1;
}

KV_CHECK(function_check)
{
    const char *sub = argv[1];
    size_t sl = argvlen[1];
    if (kv_streqci(sub, sl, "load")) {
        if (argc < 3) return wrong_args(err, "load");
        for (int i = 2; i < argc - 1; i++)
            if (!kv_streqci(argv[i], argvlen[i], "replace")) {
                resp_add_errorf(err, "ERR Unknown option given: %.*s",
                                (int)(argvlen[i] > 128 ? 128 : argvlen[i]), argv[i]);
                return -1;
            }
        return 0;
    }
    if (kv_streqci(sub, sl, "delete")) return argc == 3 ? 0 : wrong_args(err, "delete");
    if (kv_streqci(sub, sl, "dump")) return argc == 2 ? 0 : wrong_args(err, "dump");
    if (kv_streqci(sub, sl, "stats")) return argc == 2 ? 0 : wrong_args(err, "stats");
    if (kv_streqci(sub, sl, "kill")) return argc == 2 ? 0 : wrong_args(err, "kill");
    if (kv_streqci(sub, sl, "help")) return argc == 2 ? 0 : wrong_args(err, "help");
    if (kv_streqci(sub, sl, "flush")) {
        if (argc > 3) {
            resp_add_errorf(err,
                            "ERR unknown subcommand or wrong number of arguments for '%.128s'. "
                            "Try FUNCTION HELP.",
                            sub);
            return -1;
        }
        if (argc == 3 && !kv_streqci(argv[2], argvlen[2], "async") &&
            !kv_streqci(argv[2], argvlen[2], "sync")) {
            resp_add_error(err, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
            return -1;
        }
        return 0;
    }
    if (kv_streqci(sub, sl, "restore")) {
        if (argc < 3) return wrong_args(err, "restore");
        if (argc > 4) {
            resp_add_errorf(err,
                            "ERR unknown subcommand or wrong number of arguments for "
                            "'%.128s'. Try FUNCTION HELP.",
                            sub);
            return -1;
        }
        if (argc == 4 && !kv_streqci(argv[3], argvlen[3], "flush") &&
            !kv_streqci(argv[3], argvlen[3], "append") &&
            !kv_streqci(argv[3], argvlen[3], "replace")) {
            resp_add_error(err, "ERR Wrong restore policy given, value should be either FLUSH, "
                                "APPEND or REPLACE.");
            return -1;
        }
        return 0;
    }
    if (kv_streqci(sub, sl, "list")) {
        int withcode = 0, named = 0;
        for (int i = 2; i < argc; i++) {
            if (!withcode && kv_streqci(argv[i], argvlen[i], "withcode")) {
                withcode = 1;
                continue;
            }
            if (!named && kv_streqci(argv[i], argvlen[i], "libraryname")) {
                if (i >= argc - 1) {
                    resp_add_error(err, "ERR library name argument was not given");
                    return -1;
                }
                named = 1;
                i++;
                continue;
            }
            resp_add_errorf(err, "ERR Unknown argument %.*s",
                            (int)(argvlen[i] > 128 ? 128 : argvlen[i]), argv[i]);
            return -1;
        }
        return 0;
    }
    resp_add_errorf(err, "ERR unknown subcommand '%.128s'. Try FUNCTION HELP.", sub);
    return -1;
}

/* Every library record, in name order: cb(name, record). */
typedef int lib_cb(kv_ctx *c, const char *name, size_t nl, const MDB_val *d, void *arg);

static int each_lib(kv_ctx *c, lib_cb *cb, void *arg)
{
    MDB_cursor *cur;
    MDB_val k = {1, "L"}, d;
    if (!c->st) return 0;
    int rc = mdb_cursor_open(c->txn, fn_dbi(c), &cur);
    if (rc != 0) return set_rc(c, rc);
    rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size >= 1 && ((const char *)k.mv_data)[0] == 'L') {
        int r = cb(c, (const char *)k.mv_data + 1, k.mv_size - 1, &d, arg);
        if (r != 0) {
            mdb_cursor_close(cur);
            return r;
        }
        rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND) return set_rc(c, rc);
    return 0;
}

/* Deletes every library. */
static int flush_all(kv_ctx *c)
{
    int rc = mdb_drop(c->txn, fn_dbi(c), 0);
    return rc ? set_rc(c, rc) : 0;
}

static void function_load(kv_ctx *c, int argc, char **argv, size_t *argvlen)
{
    int replace = argc > 3;
    const char *code = argv[argc - 1];
    size_t len = argvlen[argc - 1];
    fn_lib l;
    MDB_val d;
    if (lib_load(c, code, len, &l, c->reply) != 0) {
        lib_clear(&l);
        return;
    }
    int exists = fn_get(c, 'L', l.name, l.nlen, &d);
    if (exists < 0) goto out;
    if (exists && !replace) {
        resp_add_errorf(c->reply, "ERR Library '%s' already exists", l.name);
        goto out;
    }
    if (lib_register(c, &l, c->reply) != 0) goto out;
    /* Cross-library collisions (the old version of this library aside). */
    for (int i = 0; i < l.n; i++) {
        char low[NAME_MAX_LEN];
        lower(low, l.fns[i].name, l.fns[i].nlen);
        int f = fn_get(c, 'F', low, l.fns[i].nlen, &d);
        if (f < 0) goto out;
        if (f && !frec_lib_is(&d, l.name, l.nlen)) {
            resp_add_errorf(c->reply, "ERR Function %s already exists", l.fns[i].name);
            goto out;
        }
    }
    if (!c->st || !c->writable) goto out;
    if (exists && lib_delete(c, l.name, l.nlen) < 0) goto out;
    if (lib_store(c, &l) != 0) goto out;
    resp_add_bulk(c->reply, l.name, l.nlen);
out:
    lib_clear(&l);
}

/* FUNCTION LIST */
typedef struct list_arg {
    const char *pat;
    size_t patlen;
    int withcode;
    resp_buf items;
    int count;
} list_arg;

static void add_fn_flags(resp_buf *b, uint32_t flags)
{
    int n = 0;
    for (size_t k = 0; k < NFLAGS; k++)
        if (flags & fn_flags[k].bit) n++;
    resp_add_set(b, n);
    for (size_t k = 0; k < NFLAGS; k++)
        if (flags & fn_flags[k].bit) resp_add_simple(b, fn_flags[k].name);
}

static int list_one(kv_ctx *c, const char *name, size_t nl, const MDB_val *d, void *arg)
{
    list_arg *a = arg;
    lib_rec r;
    if (a->pat && !kv_stringmatchlen(a->pat, a->patlen, name, nl, 1)) return 0;
    if (rec_parse(d, &r) != 0) return set_rc(c, MDB_CORRUPTED);
    resp_buf *b = &a->items;
    resp_add_map(b, a->withcode ? 4 : 3);
    resp_add_bulk(b, "library_name", 12);
    resp_add_bulk(b, name, nl);
    resp_add_bulk(b, "engine", 6);
    resp_add_bulk(b, "LUA", 3);
    resp_add_bulk(b, "functions", 9);
    resp_add_array(b, r.n);
    const unsigned char *p = r.p;
    for (uint32_t i = 0; i < r.n; i++) {
        uint32_t fl;
        const char *fn, *ds;
        size_t fnl, dl;
        p = rec_next(p, &fl, &fn, &fnl, &ds, &dl);
        resp_add_map(b, 3);
        resp_add_bulk(b, "name", 4);
        resp_add_bulk(b, fn, fnl);
        resp_add_bulk(b, "description", 11);
        if (ds)
            resp_add_bulk(b, ds, dl);
        else
            resp_add_null(b);
        resp_add_bulk(b, "flags", 5);
        add_fn_flags(b, fl);
    }
    if (a->withcode) {
        resp_add_bulk(b, "library_code", 12);
        resp_add_bulk(b, r.code, r.len);
    }
    a->count++;
    return 0;
}

static void function_list(kv_ctx *c, int argc, char **argv, size_t *argvlen)
{
    list_arg a = {0};
    for (int i = 2; i < argc; i++) {
        if (kv_streqci(argv[i], argvlen[i], "withcode")) {
            a.withcode = 1;
        } else {
            a.pat = argv[i + 1];
            a.patlen = argvlen[i + 1];
            i++;
        }
    }
    resp_buf_init(&a.items, c->reply->proto);
    if (each_lib(c, list_one, &a) == 0) {
        resp_add_array(c->reply, a.count);
        resp_add_raw(c->reply, a.items.p, a.items.len);
    }
    resp_buf_free(&a.items);
}

static int count_one(kv_ctx *c, const char *name, size_t nl, const MDB_val *d, void *arg)
{
    (void)name;
    (void)nl;
    uint64_t *n = arg;
    lib_rec r;
    if (rec_parse(d, &r) != 0) return set_rc(c, MDB_CORRUPTED);
    n[0]++;
    n[1] += r.n;
    return 0;
}

static int dump_one(kv_ctx *c, const char *name, size_t nl, const MDB_val *d, void *arg)
{
    (void)name;
    (void)nl;
    lib_rec r;
    if (rec_parse(d, &r) != 0) return set_rc(c, MDB_CORRUPTED);
    rdbc_put_u8(arg, KVFN_RDB_OPCODE_FUNCTION2);
    rdbc_put_string(arg, r.code, r.len);
    return 0;
}

static void function_dump(kv_ctx *c)
{
    rdbc_buf b = {0};
    if (each_lib(c, dump_one, &b) == 0) {
        unsigned char f[10];
        f[0] = RDBC_VERSION & 0xff;
        f[1] = (RDBC_VERSION >> 8) & 0xff;
        rdbc_put_raw(&b, f, 2);
        uint64_t crc = rdbc_crc64(0, b.p, b.len);
        for (int i = 0; i < 8; i++)
            f[i] = (unsigned char)(crc >> (8 * i));
        rdbc_put_raw(&b, f, 8);
        if (b.oom) {
            if (!c->rc) c->rc = KV_ENOMEM;
        } else {
            resp_add_bulk(c->reply, b.p, b.len);
        }
    }
    rdbc_buf_free(&b);
}

/* FUNCTION RESTORE: every library of the payload is parsed and run
 * before anything is written. */
typedef struct restore_arg {
    kv_ctx *c;
    fn_lib *libs;
    int n, cap;
    resp_buf err;
} restore_arg;

static int restore_one(void *arg, const char *code, size_t len)
{
    restore_arg *a = arg;
    if (a->n == a->cap) {
        int cap = a->cap ? 2 * a->cap : 4;
        fn_lib *nl = realloc(a->libs, (size_t)cap * sizeof(*nl));
        if (!nl) {
            resp_add_error(&a->err, "ERR out of memory");
            return 1;
        }
        a->libs = nl;
        a->cap = cap;
    }
    /* The code must outlive the walk's scratch buffers. */
    char *own = malloc(len ? len : 1);
    if (!own) {
        resp_add_error(&a->err, "ERR out of memory");
        return 1;
    }
    memcpy(own, code, len);
    fn_lib *l = &a->libs[a->n];
    if (lib_load(a->c, own, len, l, &a->err) != 0) {
        lib_clear(l);
        free(own);
        return 1;
    }
    a->n++;
    for (int i = 0; i < a->n - 1; i++)
        if (a->libs[i].nlen == l->nlen && !memcmp(a->libs[i].name, l->name, l->nlen)) {
            resp_add_errorf(&a->err, "ERR Library '%s' already exists", l->name);
            return 1;
        }
    if (lib_register(a->c, l, &a->err) != 0) return 1;
    /* Function names unique within the payload. */
    for (int i = 0; i < a->n - 1; i++)
        for (int j = 0; j < a->libs[i].n; j++)
            for (int k = 0; k < l->n; k++)
                if (a->libs[i].fns[j].nlen == l->fns[k].nlen &&
                    !strncasecmp(a->libs[i].fns[j].name, l->fns[k].name, l->fns[k].nlen)) {
                    resp_add_errorf(&a->err, "ERR Function %s already exists", l->fns[k].name);
                    return 1;
                }
    return 0;
}

static void function_restore(kv_ctx *c, int argc, char **argv, size_t *argvlen)
{
    int policy = POLICY_APPEND;
    if (argc == 4)
        policy = kv_streqci(argv[3], argvlen[3], "flush")     ? POLICY_FLUSH
                 : kv_streqci(argv[3], argvlen[3], "replace") ? POLICY_REPLACE
                                                              : POLICY_APPEND;
    restore_arg a = {.c = c};
    char msg[ERRLEN];
    MDB_val d;
    resp_buf_init(&a.err, c->reply->proto);
    int rc = kvfn_payload_walk(argv[2], argvlen[2], restore_one, &a, msg, sizeof(msg));
    if (rc < 0) {
        resp_add_errorf(c->reply, "ERR %s", msg);
        goto out;
    }
    if (rc > 0) {
        resp_add_raw(c->reply, a.err.p, a.err.len);
        goto out;
    }
    if (policy != POLICY_FLUSH) {
        /* libraryJoin: library collisions, then function collisions with
         * the libraries that stay. */
        for (int i = 0; i < a.n; i++) {
            int f = fn_get(c, 'L', a.libs[i].name, a.libs[i].nlen, &d);
            if (f < 0) goto out;
            if (f && policy == POLICY_APPEND) {
                resp_add_errorf(c->reply, "ERR Library %s already exists", a.libs[i].name);
                goto out;
            }
        }
        for (int i = 0; i < a.n; i++)
            for (int j = 0; j < a.libs[i].n; j++) {
                char low[NAME_MAX_LEN];
                fn_def *fd = &a.libs[i].fns[j];
                lower(low, fd->name, fd->nlen);
                int f = fn_get(c, 'F', low, fd->nlen, &d);
                if (f < 0) goto out;
                if (!f) continue;
                /* Owned by a library the restore replaces: no collision. */
                int replaced = 0;
                for (int k = 0; k < a.n; k++)
                    if (frec_lib_is(&d, a.libs[k].name, a.libs[k].nlen)) replaced = 1;
                if (!replaced) {
                    resp_add_errorf(c->reply, "ERR Function %s already exists", fd->name);
                    goto out;
                }
            }
    }
    if (!c->st || !c->writable) {
        resp_add_ok(c->reply);
        goto out;
    }
    if (policy == POLICY_FLUSH && flush_all(c) != 0) goto out;
    for (int i = 0; i < a.n; i++) {
        if (policy == POLICY_REPLACE && lib_delete(c, a.libs[i].name, a.libs[i].nlen) < 0) goto out;
        if (lib_store(c, &a.libs[i]) != 0) goto out;
    }
    resp_add_ok(c->reply);
out:
    for (int i = 0; i < a.n; i++) {
        free((char *)a.libs[i].code);
        lib_clear(&a.libs[i]);
    }
    /* A library that failed to load was cleared by restore_one. */
    free(a.libs);
    resp_buf_free(&a.err);
}

static void kvx_function(ARGS)
{
    const char *sub = argv[1];
    size_t sl = argvlen[1];
    if ((kv_streqci(sub, sl, "load") || kv_streqci(sub, sl, "restore")) && kv_oom_for_script(c)) {
        /* Redis flags both denyoom. */
        resp_add_error(c->reply, "OOM command not allowed when used memory > 'maxmemory'.");
    } else if (kv_streqci(sub, sl, "load")) {
        function_load(c, argc, argv, argvlen);
    } else if (kv_streqci(sub, sl, "delete")) {
        int r = lib_delete(c, argv[2], argvlen[2]);
        if (r < 0) return;
        if (r == 0)
            resp_add_error(c->reply, "ERR Library not found");
        else
            resp_add_ok(c->reply);
    } else if (kv_streqci(sub, sl, "flush")) {
        if (c->st && c->writable && flush_all(c) != 0) return;
        resp_add_ok(c->reply);
    } else if (kv_streqci(sub, sl, "list")) {
        function_list(c, argc, argv, argvlen);
    } else if (kv_streqci(sub, sl, "dump")) {
        function_dump(c);
    } else if (kv_streqci(sub, sl, "restore")) {
        function_restore(c, argc, argv, argvlen);
    } else if (kv_streqci(sub, sl, "stats")) {
        uint64_t n[2] = {0, 0};
        if (each_lib(c, count_one, n) != 0) return;
        resp_add_map(c->reply, 2);
        resp_add_bulk(c->reply, "running_script", 14);
        resp_add_null(c->reply);
        resp_add_bulk(c->reply, "engines", 7);
        resp_add_map(c->reply, 1);
        resp_add_bulk(c->reply, "LUA", 3);
        resp_add_map(c->reply, 2);
        resp_add_bulk(c->reply, "libraries_count", 15);
        resp_add_int(c->reply, (long long)n[0]);
        resp_add_bulk(c->reply, "functions_count", 15);
        resp_add_int(c->reply, (long long)n[1]);
    } else if (kv_streqci(sub, sl, "kill")) {
        /* A function runs inside one apply: none is ever running between
         * two commands. */
        resp_add_error(c->reply, "NOTBUSY No scripts in execution right now.");
    } else {
        kv_add_help(c->reply, function_help);
    }
}

KV_CHECK(fcall_check)
{
    (void)argc;
    (void)argv;
    (void)argvlen;
    (void)err;
    return 0;
}

/* ------------------------------------------------------------ command table */

/* clang-format off */
const kv_command kvx_function_commands[] = {
    {"fcall", -3, KV_CMD_WRITE | KV_CMD_NOSCRIPT, 0, 0, 0, fcall_check, kvx_fcall,
     "scripting", "7.0.0", "Invoke a function"},
    {"fcall_ro", -3, KV_CMD_READONLY | KV_CMD_NOSCRIPT, 0, 0, 0, fcall_check, kvx_fcall_ro,
     "scripting", "7.0.0", "Invoke a read-only function"},
    {"function", -2, KV_CMD_WRITE | KV_CMD_NOSCRIPT, 0, 0, 0, function_check, kvx_function,
     "scripting", "7.0.0", "A container for function commands"},
};
/* clang-format on */
const size_t kvx_function_ncommands =
    sizeof(kvx_function_commands) / sizeof(kvx_function_commands[0]);
