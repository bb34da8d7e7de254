/* kvlua.h -- the scripting VM: Redis 7.0's Lua 5.1 environment, run at
 * apply (or on the read path) so that every node computes the same result.
 *
 * The VM lives in a fixed-address arena (kvlua_arena.h). The base VM (the
 * libraries, the redis table, the sandbox) is built once per process and
 * saved as an image; kvlua_begin() copies the image back, so every run
 * starts from the same bytes whatever ran before on this node, and a node
 * restarted from a snapshot behaves as the others. Within a run:
 *   - redis.call / redis.pcall run data commands (kvcmd.h) in run->c, the
 *     apply context of the entry (its write transaction, tau, PRNG);
 *   - TIME answers the entry's tau; math.random is seeded from run->seed;
 *   - a budget of Lua instructions (counted by a count hook) and of VM
 *     memory (the arena's counted bytes) stops a script at the same point
 *     on every node; the error cannot be caught by pcall.
 *
 * Usage (EVAL):  L = kvlua_begin(&run, out);  kvlua_load(L, body, ...);
 *                kvlua_set_global_array(L, "KEYS", ...); ... ARGV;
 *                kvlua_call(L, 0, out);  kvlua_end(L);
 * A function library (FUNCTION LOAD / FCALL) runs in the same VM: load the
 * library body, make redis.register_function available in the table that
 * kvlua_push_redis() pushes, call the body (kvlua_call with a scratch out),
 * then push the registered function and its keys/args arrays
 * (kvlua_push_array) and kvlua_call(L, 2, out).
 *
 * Not thread-safe: one VM per process, one run at a time (the applying
 * thread, or a read served between applies).
 */
#ifndef RAFTKV_KVLUA_H
#define RAFTKV_KVLUA_H

#include <stddef.h>
#include <stdint.h>

#include "resp/resp.h"

struct kv_ctx;
struct lua_State;

/* Script flags (Redis's SCRIPT_FLAG_*), from a shebang or FUNCTION's
 * flags. */
enum {
    KVLUA_F_NO_WRITES = 1 << 0,
    KVLUA_F_ALLOW_OOM = 1 << 1,
    KVLUA_F_ALLOW_STALE = 1 << 2,
    KVLUA_F_NO_CLUSTER = 1 << 3,
    KVLUA_F_ALLOW_CROSS_SLOT = 1 << 4,
    /* The body had a shebang (Redis's eval compatibility mode is off). */
    KVLUA_F_SHEBANG = 1 << 8,
};

/* A flag's name ("no-writes", ...) to its KVLUA_F_* bit; -1 if unknown. */
int kvlua_flag(const char *name, size_t len);

/* Parses the "#!lua flags=a,b" first line of an EVAL body as Redis 7.0
 * does. Returns 0 with *flags and *skip (the bytes of the shebang line
 * before its newline, which the compiled code leaves out so that line
 * numbers stay; 0 without shebang), or -1 with Redis's error appended to
 * err. */
int kvlua_shebang(const char *body, size_t len, int *flags, size_t *skip, resp_buf *err);

/* Defaults of the cluster-wide budgets (kvx_script.c keeps the values). */
#define KVLUA_DEFAULT_BUDGET 200000000ull
#define KVLUA_DEFAULT_MAX_MEMORY (64ull << 20)
/* The largest script-max-memory (the arena reserves more). */
#define KVLUA_MAX_MEMORY_LIMIT (1ull << 30)

typedef struct kvlua_run {
    struct kv_ctx *c;    /* redis.call runs here; c->reply is left alone */
    int readonly;        /* write commands refused (EVAL_RO, no-writes) */
    uint64_t budget;     /* Lua instructions; 0: unlimited */
    uint64_t max_memory; /* counted VM bytes beyond the base; 0: unlimited */
    uint64_t seed;       /* math.random's generator starts here */
    const char *name;    /* " script: <name>, on ..." in errors (the sha) */
    /* The caller's first use of the VM is kvlua_load_cached() (EVAL,
     * EVALSHA): kvlua_begin() leaves the arena as it is, and the load
     * restores the one image the run starts from (the cached chunk's, or
     * the base's to compile), instead of the base's and then the chunk's. */
    int lazy_base;
    /* Over maxmemory when the script started (kv_oom_for_script), and
     * whether its flags say allow-oom: without it, a denyoom command
     * before the script's first write fails with Redis's -OOM. */
    int oom_at_start, allow_oom;
    /* Out: set when the run ended because of a budget (not catchable). */
    int over_budget, over_memory;
} kvlua_run;

/* Restores the base VM (unless r->lazy_base) and makes r the current run.
 * Returns the VM, or
 * NULL with an error appended to err when scripting is unavailable (the
 * arena's address is taken: see kvlua_arena.h). r must stay valid until
 * kvlua_end(). */
struct lua_State *kvlua_begin(kvlua_run *r, resp_buf *err);
/* Compiles len bytes of code (chunk name "@user_script" unless chunkname
 * is given) and pushes the function, its environment the sandbox's
 * protected globals. 0, or -1 with Redis's "ERR Error compiling script
 * (new function): ..." appended to err and nothing pushed. */
int kvlua_load(struct lua_State *L, const char *code, size_t len, const char *chunkname,
               resp_buf *err);
/* kvlua_load() of an EVAL body (chunk name "@user_script"), from the cache
 * of compiled chunks when it holds it: the arena's image taken right
 * after compiling that body on the fresh base VM (the same bytes on every
 * node, so restoring it changes nothing a script can see). sha is the
 * script's sha1 (40 hex digits and a NUL), which names code: the cache key,
 * so a run hashes nothing. Only when called first after kvlua_begin(), with
 * nothing done to L in between (otherwise, and for any other use, call
 * kvlua_load()). */
int kvlua_load_cached(struct lua_State *L, const char sha[41], const char *code, size_t len,
                      resp_buf *err);
/* Sets global name (KEYS, ARGV) to an array of n strings. */
void kvlua_set_global_array(struct lua_State *L, const char *name, int n, char **v, size_t *lens);
/* Pushes an array of n strings. */
void kvlua_push_array(struct lua_State *L, int n, char **v, size_t *lens);
/* Pushes the real redis table (not the read-only view scripts see), for a
 * caller that adds functions to it (redis.register_function). */
void kvlua_push_redis(struct lua_State *L);
/* Calls the function below the nargs arguments on top of the stack and
 * appends its result to out by Redis's Lua -> RESP rules (out->proto), or
 * the error as Redis words it (" script: <name>, on @user_script:<line>.").
 * The function and arguments are popped. */
void kvlua_call(struct lua_State *L, int nargs, resp_buf *out);
/* Ends the run (the VM is restored by the next kvlua_begin()). */
void kvlua_end(struct lua_State *L);

/* Bytes the base VM takes (INFO used_memory_lua); 0 before the first run. */
uint64_t kvlua_base_memory(void);

#endif
