/* kvlua_struct.c -- the struct library (pack/unpack of binary data). */
#include <lauxlib.h>
#include <lua.h>

#include "storage/kvlua_lib.h"

int kvlua_open_struct(lua_State *L)
{
    lua_newtable(L);
    return 1;
}
