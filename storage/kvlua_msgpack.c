/* kvlua_msgpack.c -- the cmsgpack library of Redis's Lua (cmsgpack.pack,
 * unpack, unpack_one, unpack_limit), written after its documented
 * behaviour.
 *
 * pack(v1, ...): each value in turn. A string is a str (fixstr, str8,
 * str16, str32); a boolean true/false; a number an integer in its smallest
 * form when it has an int64 value, else a float32 when that is exact, else
 * a float64; a table an array when its keys are exactly 1..n (numbers),
 * else a map; anything else, and a table nested deeper than 16, nil.
 * unpack(s): every value of s; unpack_one(s [, offset]) and
 * unpack_limit(s, limit [, offset]) return the offset to continue from (-1
 * at the end) and then at most 1 / limit values.
 *
 * unpack decodes untrusted bytes: every read is checked against what is
 * left and nesting is bounded (fuzz_kvlua_msgpack).
 */
#include <lauxlib.h>
#include <limits.h>
#include <lua.h>
#include <stdint.h>
#include <string.h>

#include "storage/kvlua_lib.h"

#define MAX_NESTING 16       /* packing: deeper tables are nil */
#define MAX_DECODE_DEPTH 512 /* unpacking: deeper input is refused */

/* ------------------------------------------------------------ packing */

/* The output: bytes in a userdata kept at stack index idx (collected if an
 * error unwinds the call). */
typedef struct mp_buf {
    unsigned char *p;
    size_t len, cap;
    int idx;
} mp_buf;

static void buf_add(lua_State *L, mp_buf *b, const void *s, size_t n)
{
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap - b->len < n) {
            if (cap > ((size_t)1 << 40)) luaL_error(L, "not enough memory");
            cap *= 2;
        }
        unsigned char *q = lua_newuserdata(L, cap);
        if (b->len) memcpy(q, b->p, b->len);
        lua_replace(L, b->idx);
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void put_be(unsigned char *o, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        o[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

static void enc_head(lua_State *L, mp_buf *b, unsigned char tag, uint64_t v, int n)
{
    unsigned char o[9];
    o[0] = tag;
    put_be(o + 1, v, n);
    buf_add(L, b, o, (size_t)n + 1);
}

static void enc_bytes(lua_State *L, mp_buf *b, const char *s, size_t len)
{
    if (len < 32) {
        unsigned char t = (unsigned char)(0xa0 | len);
        buf_add(L, b, &t, 1);
    } else if (len <= 0xff) {
        enc_head(L, b, 0xd9, len, 1);
    } else if (len <= 0xffff) {
        enc_head(L, b, 0xda, len, 2);
    } else {
        enc_head(L, b, 0xdb, (uint32_t)len, 4);
    }
    buf_add(L, b, s, len);
}

static void enc_int(lua_State *L, mp_buf *b, int64_t n)
{
    if (n >= 0) {
        if (n <= 127) {
            unsigned char t = (unsigned char)n;
            buf_add(L, b, &t, 1);
        } else if (n <= 0xff) {
            enc_head(L, b, 0xcc, (uint64_t)n, 1);
        } else if (n <= 0xffff) {
            enc_head(L, b, 0xcd, (uint64_t)n, 2);
        } else if (n <= 0xffffffffLL) {
            enc_head(L, b, 0xce, (uint64_t)n, 4);
        } else {
            enc_head(L, b, 0xcf, (uint64_t)n, 8);
        }
    } else {
        if (n >= -32) {
            unsigned char t = (unsigned char)(int8_t)n;
            buf_add(L, b, &t, 1);
        } else if (n >= -128) {
            enc_head(L, b, 0xd0, (uint64_t)n, 1);
        } else if (n >= -32768) {
            enc_head(L, b, 0xd1, (uint64_t)n, 2);
        } else if (n >= -2147483648LL) {
            enc_head(L, b, 0xd2, (uint64_t)n, 4);
        } else {
            enc_head(L, b, 0xd3, (uint64_t)n, 8);
        }
    }
}

/* x86-64's conversion of a double to int64 (NaN and out of range give
 * INT64_MIN), without C's undefined behaviour. */
static int64_t dbl_to_i64(double d)
{
    if (d != d || d >= 9223372036854775808.0 || d < -9223372036854775808.0) return INT64_MIN;
    return (int64_t)d;
}

static int32_t dbl_to_i32(double d)
{
    if (d != d || d >= 2147483648.0 || d < -2147483648.0) return INT32_MIN;
    return (int32_t)d;
}

static void enc_number(lua_State *L, mp_buf *b, double n)
{
    int64_t i = dbl_to_i64(n);
    if (n - n == 0 && (double)i == n) {
        enc_int(L, b, i);
        return;
    }
    float f = (float)n;
    if ((double)f == n) {
        uint32_t u;
        memcpy(&u, &f, 4);
        enc_head(L, b, 0xca, u, 4);
    } else {
        uint64_t u;
        memcpy(&u, &n, 8);
        enc_head(L, b, 0xcb, u, 8);
    }
}

static void enc_value(lua_State *L, mp_buf *b, int level);

/* The table on top is an array when its keys are exactly 1..n. */
static int is_array(lua_State *L)
{
    int top = lua_gettop(L);
    long long count = 0, max = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TNUMBER) {
            double n = lua_tonumber(L, -1);
            if (n > 0 && (double)dbl_to_i32(n) == n) {
                if (n > max) max = (long long)n;
                count++;
                continue;
            }
        }
        lua_settop(L, top);
        return 0;
    }
    lua_settop(L, top);
    return max == count;
}

static void enc_table(lua_State *L, mp_buf *b, int level)
{
    luaL_checkstack(L, 3, "in function mp_encode_lua_table");
    if (is_array(L)) {
        size_t len = lua_objlen(L, -1);
        if (len <= 15) {
            unsigned char t = (unsigned char)(0x90 | len);
            buf_add(L, b, &t, 1);
        } else if (len <= 0xffff) {
            enc_head(L, b, 0xdc, len, 2);
        } else {
            enc_head(L, b, 0xdd, (uint32_t)len, 4);
        }
        for (size_t j = 1; j <= len; j++) {
            lua_pushnumber(L, (lua_Number)j);
            lua_gettable(L, -2);
            enc_value(L, b, level + 1);
        }
        return;
    }
    size_t len = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        len++;
    }
    if (len <= 15) {
        unsigned char t = (unsigned char)(0x80 | len);
        buf_add(L, b, &t, 1);
    } else if (len <= 0xffff) {
        enc_head(L, b, 0xde, len, 2);
    } else {
        enc_head(L, b, 0xdf, (uint32_t)len, 4);
    }
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pushvalue(L, -2); /* key, value, key */
        enc_value(L, b, level + 1);
        enc_value(L, b, level + 1);
    }
}

/* Encodes the value on top and pops it. */
static void enc_value(lua_State *L, mp_buf *b, int level)
{
    int t = lua_type(L, -1);
    if (t == LUA_TTABLE && level == MAX_NESTING) t = LUA_TNIL;
    switch (t) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        enc_bytes(L, b, s, len);
        break;
    }
    case LUA_TBOOLEAN: {
        unsigned char c = lua_toboolean(L, -1) ? 0xc3 : 0xc2;
        buf_add(L, b, &c, 1);
        break;
    }
    case LUA_TNUMBER:
        enc_number(L, b, lua_tonumber(L, -1));
        break;
    case LUA_TTABLE:
        enc_table(L, b, level);
        break;
    default: {
        unsigned char c = 0xc0;
        buf_add(L, b, &c, 1);
    }
    }
    lua_pop(L, 1);
}

static int mp_pack(lua_State *L)
{
    int nargs = lua_gettop(L);
    if (nargs == 0) return luaL_argerror(L, 0, "MessagePack pack needs input.");
    if (!lua_checkstack(L, nargs + 4))
        return luaL_error(L, "Too many arguments for MessagePack pack.");
    mp_buf b = {NULL, 0, 0, 0};
    lua_pushnil(L); /* the buffer's slot */
    b.idx = lua_gettop(L);
    for (int i = 1; i <= nargs; i++) {
        lua_pushvalue(L, i);
        enc_value(L, &b, 0);
    }
    lua_pushlstring(L, (const char *)b.p, b.len);
    return 1;
}

/* ------------------------------------------------------------ unpacking */

enum { MP_OK, MP_EOF, MP_BADFMT, MP_DEEP };

typedef struct mp_cur {
    const unsigned char *p;
    size_t left;
    int err;
} mp_cur;

static uint64_t get_be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

#define NEED(c, n)                                                                                 \
    do {                                                                                           \
        if ((c)->left < (size_t)(n)) {                                                             \
            (c)->err = MP_EOF;                                                                     \
            return;                                                                                \
        }                                                                                          \
    } while (0)
#define SKIP(c, n)                                                                                 \
    do {                                                                                           \
        (c)->p += (n);                                                                             \
        (c)->left -= (size_t)(n);                                                                  \
    } while (0)

static void dec_value(lua_State *L, mp_cur *c, int depth);

static void dec_array(lua_State *L, mp_cur *c, uint64_t len, int depth)
{
    luaL_checkstack(L, 3, "in function mp_decode_to_lua_array");
    lua_newtable(L);
    for (uint64_t j = 1; j <= len; j++) {
        lua_pushnumber(L, (lua_Number)j);
        dec_value(L, c, depth + 1);
        if (c->err) return;
        lua_settable(L, -3);
    }
}

static void dec_map(lua_State *L, mp_cur *c, uint64_t len, int depth)
{
    luaL_checkstack(L, 3, "in function mp_decode_to_lua_hash");
    lua_newtable(L);
    for (uint64_t j = 0; j < len; j++) {
        dec_value(L, c, depth + 1);
        if (c->err) return;
        dec_value(L, c, depth + 1);
        if (c->err) return;
        lua_settable(L, -3);
    }
}

static void dec_str(lua_State *L, mp_cur *c, int hdr, uint64_t len)
{
    if (c->left - (size_t)hdr < len) {
        c->err = MP_EOF;
        return;
    }
    lua_pushlstring(L, (const char *)c->p + hdr, (size_t)len);
    SKIP(c, (size_t)hdr + (size_t)len);
}

static void dec_value(lua_State *L, mp_cur *c, int depth)
{
    luaL_checkstack(L, 1,
                    "too many return values at once; use unpack_one or unpack_limit instead.");
    if (depth > MAX_DECODE_DEPTH) {
        c->err = MP_DEEP;
        return;
    }
    NEED(c, 1);
    unsigned char t = c->p[0];
    switch (t) {
    case 0xcc:
        NEED(c, 2);
        lua_pushnumber(L, c->p[1]);
        SKIP(c, 2);
        return;
    case 0xd0:
        NEED(c, 2);
        lua_pushnumber(L, (int8_t)c->p[1]);
        SKIP(c, 2);
        return;
    case 0xcd:
        NEED(c, 3);
        lua_pushnumber(L, (lua_Number)get_be(c->p + 1, 2));
        SKIP(c, 3);
        return;
    case 0xd1:
        NEED(c, 3);
        lua_pushnumber(L, (int16_t)get_be(c->p + 1, 2));
        SKIP(c, 3);
        return;
    case 0xce:
        NEED(c, 5);
        lua_pushnumber(L, (lua_Number)get_be(c->p + 1, 4));
        SKIP(c, 5);
        return;
    case 0xd2:
        NEED(c, 5);
        lua_pushnumber(L, (int32_t)get_be(c->p + 1, 4));
        SKIP(c, 5);
        return;
    case 0xcf:
        NEED(c, 9);
        lua_pushnumber(L, (lua_Number)get_be(c->p + 1, 8));
        SKIP(c, 9);
        return;
    case 0xd3:
        NEED(c, 9);
        lua_pushnumber(L, (lua_Number)(int64_t)get_be(c->p + 1, 8));
        SKIP(c, 9);
        return;
    case 0xc0:
        lua_pushnil(L);
        SKIP(c, 1);
        return;
    case 0xc3:
    case 0xc2:
        lua_pushboolean(L, t == 0xc3);
        SKIP(c, 1);
        return;
    case 0xca: {
        NEED(c, 5);
        uint32_t u = (uint32_t)get_be(c->p + 1, 4);
        float f;
        memcpy(&f, &u, 4);
        lua_pushnumber(L, f);
        SKIP(c, 5);
        return;
    }
    case 0xcb: {
        NEED(c, 9);
        uint64_t u = get_be(c->p + 1, 8);
        double d;
        memcpy(&d, &u, 8);
        lua_pushnumber(L, d);
        SKIP(c, 9);
        return;
    }
    case 0xd9:
        NEED(c, 2);
        dec_str(L, c, 2, c->p[1]);
        return;
    case 0xda:
        NEED(c, 3);
        dec_str(L, c, 3, get_be(c->p + 1, 2));
        return;
    case 0xdb:
        NEED(c, 5);
        dec_str(L, c, 5, get_be(c->p + 1, 4));
        return;
    case 0xdc: {
        NEED(c, 3);
        uint64_t n = get_be(c->p + 1, 2);
        SKIP(c, 3);
        dec_array(L, c, n, depth);
        return;
    }
    case 0xdd: {
        NEED(c, 5);
        uint64_t n = get_be(c->p + 1, 4);
        SKIP(c, 5);
        dec_array(L, c, n, depth);
        return;
    }
    case 0xde: {
        NEED(c, 3);
        uint64_t n = get_be(c->p + 1, 2);
        SKIP(c, 3);
        dec_map(L, c, n, depth);
        return;
    }
    case 0xdf: {
        NEED(c, 5);
        uint64_t n = get_be(c->p + 1, 4);
        SKIP(c, 5);
        dec_map(L, c, n, depth);
        return;
    }
    default:
        if (t <= 0x7f) {
            lua_pushnumber(L, t);
            SKIP(c, 1);
        } else if (t >= 0xe0) {
            lua_pushnumber(L, (int8_t)t);
            SKIP(c, 1);
        } else if ((t & 0xe0) == 0xa0) {
            dec_str(L, c, 1, t & 0x1f);
        } else if ((t & 0xf0) == 0x90) {
            SKIP(c, 1);
            dec_array(L, c, t & 0x0f, depth);
        } else if ((t & 0xf0) == 0x80) {
            SKIP(c, 1);
            dec_map(L, c, t & 0x0f, depth);
        } else {
            c->err = MP_BADFMT;
        }
    }
}

static int unpack_full(lua_State *L, lua_Integer limit, lua_Integer offset)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    int decode_all = (!limit && !offset);
    if (offset < 0 || limit < 0)
        return luaL_error(L, "Invalid request to unpack with offset of %d and limit of %d.",
                          (int)offset, (int)len);
    if ((size_t)offset > len)
        return luaL_error(L, "Start offset %d greater than input length %d.", (int)offset,
                          (int)len);
    if (decode_all) limit = INT_MAX;
    mp_cur c = {(const unsigned char *)s + offset, len - (size_t)offset, MP_OK};
    int top = lua_gettop(L);
    lua_Integer cnt;
    for (cnt = 0; c.left > 0 && cnt < limit; cnt++) {
        dec_value(L, &c, 0);
        if (c.err == MP_EOF) return luaL_error(L, "Missing bytes in input.");
        if (c.err == MP_BADFMT) return luaL_error(L, "Bad data format in input.");
        if (c.err == MP_DEEP) return luaL_error(L, "Too deeply nested input.");
    }
    if (!decode_all) {
        luaL_checkstack(L, 1, "in function mp_unpack_full");
        lua_pushinteger(L, c.left == 0 ? -1 : (lua_Integer)(len - c.left));
        lua_insert(L, top + 1);
        cnt++;
    }
    return (int)cnt;
}

static int mp_unpack(lua_State *L)
{
    return unpack_full(L, 0, 0);
}

static int mp_unpack_one(lua_State *L)
{
    lua_Integer offset = luaL_optinteger(L, 2, 0);
    lua_settop(L, 1);
    return unpack_full(L, 1, offset);
}

static int mp_unpack_limit(lua_State *L)
{
    lua_Integer limit = luaL_checkinteger(L, 2);
    lua_Integer offset = luaL_optinteger(L, 3, 0);
    lua_settop(L, 1);
    return unpack_full(L, limit, offset);
}

int kvlua_open_cmsgpack(lua_State *L)
{
    static const luaL_Reg fns[] = {{"pack", mp_pack},
                                   {"unpack", mp_unpack},
                                   {"unpack_one", mp_unpack_one},
                                   {"unpack_limit", mp_unpack_limit},
                                   {NULL, NULL}};
    lua_newtable(L);
    luaL_register(L, NULL, fns);
    lua_pushliteral(L, "lua-cmsgpack");
    lua_setfield(L, -2, "_NAME");
    lua_pushliteral(L, "0.4.0");
    lua_setfield(L, -2, "_VERSION");
    lua_pushliteral(L, "Copyright (C) 2012, Salvatore Sanfilippo");
    lua_setfield(L, -2, "_COPYRIGHT");
    lua_pushliteral(L, "MessagePack C implementation for Lua");
    lua_setfield(L, -2, "_DESCRIPTION");
    return 1;
}
