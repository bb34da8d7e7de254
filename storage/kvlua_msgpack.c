/* kvlua_msgpack.c -- the cmsgpack library (MessagePack). */
#include <lauxlib.h>
#include <lua.h>

#include "storage/kvlua_lib.h"

int kvlua_open_cmsgpack(lua_State *L)
{
    lua_newtable(L);
    return 1;
}
