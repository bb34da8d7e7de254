/* kvlua_struct.c -- the struct library of Redis's Lua (struct.pack,
 * struct.unpack, struct.size), written after its documented behaviour.
 *
 * Formats: '>' big endian, '<' little endian, '!n' maximum alignment n
 * (a power of two; default 8 with no number), ' ' ignored; 'b'/'B' char,
 * 'h'/'H' short (2), 'l'/'L' long (8), 'T' size_t (8), 'i'/'I'n an
 * integer of n bytes (default 4, at most 32), 'f' float, 'd' double, 'x'
 * a padding byte, 's' a zero-terminated string, 'cn' n chars ('c0': the
 * whole string when packing; when unpacking, the count is the number read
 * just before). Lower case is signed. Items are aligned to min(size,
 * alignment), the alignment being 1 until a '!' says otherwise.
 *
 * struct.unpack decodes untrusted bytes: every read is checked against
 * the data's length (fuzz_kvlua_struct). Conversions of out-of-range
 * numbers are those of x86-64, without C's undefined behaviour.
 */
#include <ctype.h>
#include <lauxlib.h>
#include <limits.h>
#include <lua.h>
#include <stdint.h>
#include <string.h>

#include "storage/kvlua_lib.h"

#define MAXINTSIZE 32
#define MAXALIGN 8

typedef struct header {
    int big;   /* big endian */
    int align; /* maximum alignment */
} header;

static int getnum(lua_State *L, const char **fmt, int df)
{
    if (!isdigit((unsigned char)**fmt)) return df;
    int a = 0;
    do {
        if (a > (INT_MAX / 10) || a * 10 > (INT_MAX - (**fmt - '0')))
            luaL_error(L, "integral size overflow");
        a = a * 10 + *((*fmt)++) - '0';
    } while (isdigit((unsigned char)**fmt));
    return a;
}

static size_t optsize(lua_State *L, char opt, const char **fmt)
{
    switch (opt) {
    case 'B':
    case 'b':
        return 1;
    case 'H':
    case 'h':
        return 2;
    case 'L':
    case 'l':
    case 'T':
        return 8;
    case 'f':
        return 4;
    case 'd':
        return 8;
    case 'x':
        return 1;
    case 'c':
        return (size_t)getnum(L, fmt, 1);
    case 'i':
    case 'I': {
        int sz = getnum(L, fmt, 4);
        if (sz > MAXINTSIZE)
            luaL_error(L, "integral size %d is larger than limit of %d", sz, MAXINTSIZE);
        return (size_t)sz;
    }
    default:
        return 0;
    }
}

static size_t gettoalign(size_t len, const header *h, int opt, size_t size)
{
    if (size == 0 || opt == 'c') return 0;
    if (size > (size_t)h->align) size = (size_t)h->align;
    return (size - (len & (size - 1))) & (size - 1);
}

static void controloptions(lua_State *L, int opt, const char **fmt, header *h)
{
    switch (opt) {
    case ' ':
        return;
    case '>':
        h->big = 1;
        return;
    case '<':
        h->big = 0;
        return;
    case '!': {
        int a = getnum(L, fmt, MAXALIGN);
        if (a == 0 || (a & (a - 1)) != 0) luaL_error(L, "alignment %d is not a power of 2", a);
        h->align = a;
        return;
    }
    default: {
        const char *msg = lua_pushfstring(L, "invalid format option '%c'", opt);
        luaL_argerror(L, 1, msg);
    }
    }
}

/* (uint64_t)(int64_t)n for n < 0, (uint64_t)n otherwise, as x86-64 code
 * compiled from the original computes it for any double. */
static uint64_t to_u64(double n)
{
    if (n < 0) {
        if (n < -9223372036854775808.0) return (uint64_t)1 << 63;
        return (uint64_t)(int64_t)n;
    }
    if (n < 9223372036854775808.0) return (uint64_t)(int64_t)n;
    if (n < 18446744073709551616.0)
        return (uint64_t)(int64_t)(n - 9223372036854775808.0) ^ ((uint64_t)1 << 63);
    return 0; /* and NaN */
}

static void putinteger(lua_State *L, luaL_Buffer *b, int arg, int big, size_t size)
{
    uint64_t value = to_u64(luaL_checknumber(L, arg));
    char buff[MAXINTSIZE];
    for (size_t i = 0; i < size; i++) {
        buff[big ? size - 1 - i : i] = (char)(value & 0xff);
        value >>= 8;
    }
    luaL_addlstring(b, buff, size);
}

static void correctbytes(char *p, size_t size, int big)
{
    /* x86-64 is little endian. */
    if (big) {
        for (size_t i = 0; i < size / 2; i++) {
            char t = p[i];
            p[i] = p[size - 1 - i];
            p[size - 1 - i] = t;
        }
    }
}

static int b_pack(lua_State *L)
{
    luaL_Buffer b;
    const char *fmt = luaL_checkstring(L, 1);
    header h = {0, 1};
    int arg = 2;
    size_t totalsize = 0;
    lua_pushnil(L); /* separates the arguments from the buffer */
    luaL_buffinit(L, &b);
    while (*fmt != '\0') {
        int opt = *fmt++;
        size_t size = optsize(L, (char)opt, &fmt);
        size_t toalign = gettoalign(totalsize, &h, opt, size);
        totalsize += toalign;
        while (toalign-- > 0)
            luaL_addchar(&b, '\0');
        switch (opt) {
        case 'b':
        case 'B':
        case 'h':
        case 'H':
        case 'l':
        case 'L':
        case 'T':
        case 'i':
        case 'I':
            putinteger(L, &b, arg++, h.big, size);
            break;
        case 'x':
            luaL_addchar(&b, '\0');
            break;
        case 'f': {
            float f = (float)luaL_checknumber(L, arg++);
            correctbytes((char *)&f, size, h.big);
            luaL_addlstring(&b, (char *)&f, size);
            break;
        }
        case 'd': {
            double d = luaL_checknumber(L, arg++);
            correctbytes((char *)&d, size, h.big);
            luaL_addlstring(&b, (char *)&d, size);
            break;
        }
        case 'c':
        case 's': {
            size_t l;
            const char *s = luaL_checklstring(L, arg++, &l);
            if (size == 0) size = l;
            luaL_argcheck(L, l >= size, arg, "string too short");
            luaL_addlstring(&b, s, size);
            if (opt == 's') {
                luaL_addchar(&b, '\0');
                size++;
            }
            break;
        }
        default:
            controloptions(L, opt, &fmt, &h);
        }
        totalsize += size;
    }
    luaL_pushresult(&b);
    return 1;
}

static lua_Number getinteger(const char *buff, int big, int issigned, size_t size)
{
    uint64_t l = 0;
    for (size_t i = 0; i < size; i++) {
        l <<= 8;
        l |= (uint64_t)(unsigned char)buff[big ? i : size - 1 - i];
    }
    if (!issigned) return (lua_Number)l;
    /* x86-64 masks a 64-bit shift count to 6 bits. */
    uint64_t mask = ~(uint64_t)0 << ((size * 8 - 1) & 63);
    if (l & mask) l |= mask;
    return (lua_Number)(int64_t)l;
}

static int b_unpack(lua_State *L)
{
    header h = {0, 1};
    const char *fmt = luaL_checkstring(L, 1);
    size_t ld;
    const char *data = luaL_checklstring(L, 2, &ld);
    lua_Integer ipos = luaL_optinteger(L, 3, 1);
    luaL_argcheck(L, ipos > 0, 3, "offset must be 1 or greater");
    size_t pos = (size_t)ipos - 1;
    int n = 0;
    while (*fmt) {
        int opt = *fmt++;
        size_t size = optsize(L, (char)opt, &fmt);
        pos += gettoalign(pos, &h, opt, size);
        luaL_argcheck(L, size <= ld && pos <= ld - size, 2, "data string too short");
        luaL_checkstack(L, 2, "too many results");
        switch (opt) {
        case 'b':
        case 'B':
        case 'h':
        case 'H':
        case 'l':
        case 'L':
        case 'T':
        case 'i':
        case 'I':
            lua_pushnumber(L, getinteger(data + pos, h.big, islower(opt), size));
            n++;
            break;
        case 'x':
            break;
        case 'f': {
            float f;
            memcpy(&f, data + pos, sizeof(f));
            correctbytes((char *)&f, sizeof(f), h.big);
            lua_pushnumber(L, f);
            n++;
            break;
        }
        case 'd': {
            double d;
            memcpy(&d, data + pos, sizeof(d));
            correctbytes((char *)&d, sizeof(d), h.big);
            lua_pushnumber(L, d);
            n++;
            break;
        }
        case 'c':
            if (size == 0) {
                if (n == 0 || !lua_isnumber(L, -1))
                    luaL_error(L, "format 'c0' needs a previous size");
                lua_Number want = lua_tonumber(L, -1);
                lua_pop(L, 1);
                n--;
                size = want >= 0 && want < 1e18 ? (size_t)want : (size_t)-1;
                luaL_argcheck(L, size <= ld && pos <= ld - size, 2, "data string too short");
            }
            lua_pushlstring(L, data + pos, size);
            n++;
            break;
        case 's': {
            const char *e = memchr(data + pos, '\0', ld - pos);
            if (e == NULL) luaL_error(L, "unfinished string in data");
            size = (size_t)(e - (data + pos)) + 1;
            lua_pushlstring(L, data + pos, size - 1);
            n++;
            break;
        }
        default:
            controloptions(L, opt, &fmt, &h);
        }
        pos += size;
    }
    lua_pushinteger(L, (lua_Integer)pos + 1);
    return n + 1;
}

static int b_size(lua_State *L)
{
    header h = {0, 1};
    const char *fmt = luaL_checkstring(L, 1);
    size_t pos = 0;
    while (*fmt) {
        int opt = *fmt++;
        size_t size = optsize(L, (char)opt, &fmt);
        pos += gettoalign(pos, &h, opt, size);
        if (opt == 's')
            luaL_argerror(L, 1, "options 's' has no fixed size");
        else if (opt == 'c' && size == 0)
            luaL_argerror(L, 1, "options 'c0' has no fixed size");
        if (!isalnum(opt)) controloptions(L, opt, &fmt, &h);
        pos += size;
    }
    lua_pushinteger(L, (lua_Integer)pos);
    return 1;
}

int kvlua_open_struct(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"pack", b_pack}, {"unpack", b_unpack}, {"size", b_size}, {NULL, NULL}};
    lua_newtable(L);
    luaL_register(L, NULL, fns);
    return 1;
}
