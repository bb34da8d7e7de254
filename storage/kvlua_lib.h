/* kvlua_lib.h -- the libraries of the scripting VM besides Lua's own:
 * cjson and bit from Debian (lua-cjson-dev, lua-bitop-dev, linked
 * statically), struct and cmsgpack written here (kvlua_struct.c,
 * kvlua_msgpack.c) after Redis's documented behaviour, and the string
 * functions that work in C for long (kvlua_strlib.c). Each luaopen_*
 * pushes its table (the caller names the global). */
#ifndef RAFTKV_KVLUA_LIB_H
#define RAFTKV_KVLUA_LIB_H

#include <stdint.h>

struct lua_State;

int luaopen_cjson(struct lua_State *L);
int luaopen_bit(struct lua_State *L);
int kvlua_open_struct(struct lua_State *L);
int kvlua_open_cmsgpack(struct lua_State *L);

/* kvlua_strlib.c: replaces string.find, match, gmatch, gsub and rep in the
 * string table by versions that charge their work to the run's budget. */
void kvlua_strlib_install(struct lua_State *L);
/* kvlua.c: charges steps of work done in C to the running script's
 * instruction budget; past the budget it raises the budget's error (and
 * every later instruction does), as the instruction hook does. */
void kvlua_charge(struct lua_State *L, uint64_t steps);

#endif
