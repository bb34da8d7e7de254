/* kvlua_lib.h -- the libraries of the scripting VM besides Lua's own:
 * cjson and bit from Debian (lua-cjson-dev, lua-bitop-dev, linked
 * statically), struct and cmsgpack written here (kvlua_struct.c,
 * kvlua_msgpack.c) after Redis's documented behaviour. Each luaopen_*
 * pushes its table (the caller names the global). */
#ifndef RAFTKV_KVLUA_LIB_H
#define RAFTKV_KVLUA_LIB_H

struct lua_State;

int luaopen_cjson(struct lua_State *L);
int luaopen_bit(struct lua_State *L);
int kvlua_open_struct(struct lua_State *L);
int kvlua_open_cmsgpack(struct lua_State *L);

#endif
