/* kvx_script.c -- EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT and the
 * internal RAFT.SCRIPTCONF: Lua scripts run by kvlua.h at apply.
 *
 * The script cache is state: slot KV_SLOT_SCRIPTS of the pair maps a
 * script's sha1 (40 lowercase hex digits) to its body. EVAL and SCRIPT
 * LOAD add to it when they apply, SCRIPT FLUSH empties it, so every node
 * and every snapshot holds the same scripts and EVALSHA finds them after a
 * failover. FLUSHALL leaves it alone (as Redis's does). No bound on the
 * number of scripts, as in Redis: each costs its body in the state.
 *
 * The same slot holds the cluster-wide budgets under keys that are no
 * sha1 ("\0budget", "\0maxmem": u64 big-endian), set by RAFT.SCRIPTCONF
 * (CONFIG SET script-instruction-budget / script-max-memory proposes it).
 */
#include <string.h>

#include "storage/kvcmd.h"
#include "storage/kvcmd_int.h"
#include "storage/kvint.h"
#include "storage/kvlua.h"
#include "storage/kvsha1.h"

#define CONF_BUDGET "\0budget"
#define CONF_MAXMEM "\0maxmem"
#define CONF_KEYLEN 7

static MDB_dbi scripts_dbi(kv_ctx *c)
{
    return c->st->dbi[c->st->live][KV_SLOT_SCRIPTS];
}

static uint64_t conf_get(kv_ctx *c, const char *key, uint64_t dflt)
{
    MDB_val k = {CONF_KEYLEN, (void *)key}, d;
    if (!c->st || mdb_get(c->txn, scripts_dbi(c), &k, &d) != 0 || d.mv_size != 8) return dflt;
    return kv_get_be64(d.mv_data);
}

int kvx_script_conf(kv_ctx *c, uint64_t *budget, uint64_t *maxmem)
{
    *budget = conf_get(c, CONF_BUDGET, KVLUA_DEFAULT_BUDGET);
    *maxmem = conf_get(c, CONF_MAXMEM, KVLUA_DEFAULT_MAX_MEMORY);
    return 0;
}

/* The body of script sha (40 lowercase hex digits); 1 found, 0 not, <0
 * error (c->rc set). *body is valid until the next write. */
static int script_get(kv_ctx *c, const char *sha, const char **body, size_t *len)
{
    MDB_val k = {40, (void *)sha}, d;
    if (!c->st) return 0;
    int rc = mdb_get(c->txn, scripts_dbi(c), &k, &d);
    if (rc == MDB_NOTFOUND) return 0;
    if (rc != 0) {
        if (!c->rc) c->rc = kv_map_err(rc);
        return -1;
    }
    *body = d.mv_data;
    *len = d.mv_size;
    return 1;
}

static int script_put(kv_ctx *c, const char *sha, const char *body, size_t len)
{
    MDB_val k = {40, (void *)sha}, d = {len, (void *)body};
    if (!c->st || !c->writable) return 0;
    int rc = mdb_put(c->txn, scripts_dbi(c), &k, &d, 0);
    if (rc != 0) {
        if (!c->rc) c->rc = kv_map_err(rc);
        return -1;
    }
    return 0;
}

/* Compiles body in the VM (shebang first): 0, or -1 with Redis's error
 * in c->reply. */
static int script_compiles(kv_ctx *c, const char *sha, const char *body, size_t len)
{
    int flags;
    size_t skip;
    uint64_t budget, maxmem;
    if (kvlua_shebang(body, len, &flags, &skip, c->reply) != 0) return -1;
    kvx_script_conf(c, &budget, &maxmem);
    kvlua_run r = {.c = c, .readonly = 1, .budget = budget, .max_memory = maxmem, .lazy_base = 1};
    struct lua_State *L = kvlua_begin(&r, c->reply);
    if (!L) return -1;
    int rc = kvlua_load_cached(L, sha, body + skip, len - skip, c->reply);
    kvlua_end(L);
    return rc;
}

/* Runs body with the keys and args of argv[3..] (argv[2] is numkeys). */
static void run_script(kv_ctx *c, const char *sha, const char *body, size_t len, int ro, int argc,
                       char **argv, size_t *argvlen)
{
    int flags;
    size_t skip;
    long long numkeys;
    uint64_t budget, maxmem;
    if (kvlua_shebang(body, len, &flags, &skip, c->reply) != 0) return;
    /* Redis: a script with a shebang declares whether it writes; one that
     * may, without allow-oom, is a denyoom command. */
    int oom = kv_oom_for_script(c);
    if (oom && (flags & KVLUA_F_SHEBANG) && !(flags & (KVLUA_F_NO_WRITES | KVLUA_F_ALLOW_OOM))) {
        resp_add_error(c->reply, "OOM command not allowed when used memory > 'maxmemory'.");
        return;
    }
    kv_string2ll(argv[2], argvlen[2], &numkeys);
    kvx_script_conf(c, &budget, &maxmem);
    kvlua_run r = {
        .c = c,
        .readonly = ro || (flags & KVLUA_F_NO_WRITES) || !c->writable,
        .budget = budget,
        .max_memory = maxmem,
        .seed = c->rng ^ kv_keyhash(sha, 40),
        .name = sha,
        .lazy_base = 1,
        .oom_at_start = oom,
        .allow_oom = (flags & KVLUA_F_ALLOW_OOM) != 0,
    };
    struct lua_State *L = kvlua_begin(&r, c->reply);
    if (!L) return;
    if (kvlua_load_cached(L, sha, body + skip, len - skip, c->reply) == 0) {
        int db = c->db;
        kvlua_set_global_array(L, "KEYS", (int)numkeys, argv + 3, argvlen + 3);
        kvlua_set_global_array(L, "ARGV", argc - 3 - (int)numkeys, argv + 3 + numkeys,
                               argvlen + 3 + numkeys);
        kvlua_call(L, 0, c->reply);
        if (c->db != db) kv_use_db(c, db); /* SELECT inside a script is its own */
    }
    kvlua_end(L);
}

KV_CHECK(eval_check)
{
    long long n;
    if (!kv_string2ll(argv[2], argvlen[2], &n)) {
        resp_add_error(err, ERR_NOTINT);
        return -1;
    }
    if (n < 0) {
        resp_add_error(err, "ERR Number of keys can't be negative");
        return -1;
    }
    if (n > argc - 3) {
        resp_add_error(err, "ERR Number of keys can't be greater than number of args");
        return -1;
    }
    return 0;
}

static void eval_generic(kv_ctx *c, int ro, int argc, char **argv, size_t *argvlen)
{
    char sha[41];
    kv_sha1hex(sha, argv[1], argvlen[1]);
    const char *body;
    size_t len;
    int found = script_get(c, sha, &body, &len);
    if (found < 0) return;
    if (!found && c->writable) {
        /* Redis caches the body of an EVAL that compiles. */
        if (script_compiles(c, sha, argv[1], argvlen[1]) != 0) return;
        if (script_put(c, sha, argv[1], argvlen[1]) != 0) return;
    }
    run_script(c, sha, argv[1], argvlen[1], ro, argc, argv, argvlen);
}

/* EVALSHA's argument as the cache's key (lower case): 0, or -1 when it
 * cannot name a script (not 40 characters). */
static int sha_arg(char sha[41], const char *arg, size_t len)
{
    if (len != 40) return -1;
    for (int i = 0; i < 40; i++) {
        char ch = arg[i];
        sha[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
    }
    sha[40] = '\0';
    return 0;
}

static void evalsha_generic(kv_ctx *c, int ro, int argc, char **argv, size_t *argvlen)
{
    char sha[41];
    const char *body;
    size_t len;
    if (sha_arg(sha, argv[1], argvlen[1]) != 0) {
        resp_add_error(c->reply, "NOSCRIPT No matching script. Please use EVAL.");
        return;
    }
    int found = script_get(c, sha, &body, &len);
    if (found < 0) return;
    if (!found) {
        resp_add_error(c->reply, "NOSCRIPT No matching script. Please use EVAL.");
        return;
    }
    /* The body lives in the map until a write: kvlua_load() copies it
     * before the script writes anything. */
    run_script(c, sha, body, len, ro, argc, argv, argvlen);
}

static void kvx_eval(ARGS)
{
    eval_generic(c, 0, argc, argv, argvlen);
}

static void kvx_eval_ro(ARGS)
{
    eval_generic(c, 1, argc, argv, argvlen);
}

static void kvx_evalsha(ARGS)
{
    evalsha_generic(c, 0, argc, argv, argvlen);
}

static void kvx_evalsha_ro(ARGS)
{
    evalsha_generic(c, 1, argc, argv, argvlen);
}

/* EVAL / EVALSHA of a script whose shebang says no-writes is a read: the
 * EVAL_RO / EVALSHA_RO row, which the server serves on the read path. */
const kv_command *kvx_script_as_read(kv_ctx *c, const kv_command *cmd, int argc, char **argv,
                                     size_t *argvlen)
{
    int flags;
    size_t skip;
    const char *body;
    size_t len;
    const char *ro;
    if (argc < 3) return NULL;
    if (!strcmp(cmd->name, "eval")) {
        body = argv[1];
        len = argvlen[1];
        ro = "eval_ro";
    } else if (!strcmp(cmd->name, "evalsha")) {
        char sha[41];
        if (sha_arg(sha, argv[1], argvlen[1]) != 0 || script_get(c, sha, &body, &len) != 1)
            return NULL;
        ro = "evalsha_ro";
    } else {
        return NULL;
    }
    if (len < 2 || body[0] != '#' || body[1] != '!') return NULL;
    resp_buf err;
    resp_buf_init(&err, 2);
    int rc = kvlua_shebang(body, len, &flags, &skip, &err);
    resp_buf_free(&err);
    if (rc != 0 || !(flags & KVLUA_F_NO_WRITES)) return NULL;
    return kv_command_lookup(ro, strlen(ro));
}

/* ------------------------------------------------------------ SCRIPT */

static const char *const script_help[] = {
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Prints this help.",
    NULL,
};

KV_CHECK(script_check)
{
    const char *sub = argv[1];
    size_t sl = argvlen[1];
    const char *name = NULL;
    int ok = 1;
    if (kv_streqci(sub, sl, "load")) {
        name = "load";
        ok = argc == 3;
    } else if (kv_streqci(sub, sl, "exists")) {
        name = "exists";
        ok = argc >= 3;
    } else if (kv_streqci(sub, sl, "kill")) {
        name = "kill";
        ok = argc == 2;
    } else if (kv_streqci(sub, sl, "help")) {
        name = "help";
        ok = argc == 2;
    } else if (kv_streqci(sub, sl, "debug")) {
        name = "debug";
        ok = argc == 3;
    } else if (kv_streqci(sub, sl, "flush")) {
        if (argc == 2 || (argc == 3 && (kv_streqci(argv[2], argvlen[2], "async") ||
                                        kv_streqci(argv[2], argvlen[2], "sync"))))
            return 0;
        resp_add_error(err, "ERR SCRIPT FLUSH only support SYNC|ASYNC option");
        return -1;
    } else {
        resp_add_errorf(err, "ERR unknown subcommand '%.128s'. Try SCRIPT HELP.", sub);
        return -1;
    }
    if (!ok) {
        resp_add_errorf(err, "ERR wrong number of arguments for 'script|%s' command", name);
        return -1;
    }
    return 0;
}

static void kvx_script(ARGS)
{
    const char *sub = argv[1];
    size_t sl = argvlen[1];
    if (kv_streqci(sub, sl, "load")) {
        char sha[41];
        const char *body;
        size_t len;
        kv_sha1hex(sha, argv[2], argvlen[2]);
        int found = script_get(c, sha, &body, &len);
        if (found < 0) return;
        if (!found) {
            if (script_compiles(c, sha, argv[2], argvlen[2]) != 0) return;
            if (script_put(c, sha, argv[2], argvlen[2]) != 0) return;
        }
        resp_add_bulk(c->reply, sha, 40);
    } else if (kv_streqci(sub, sl, "exists")) {
        resp_add_array(c->reply, argc - 2);
        for (int i = 2; i < argc; i++) {
            char sha[41];
            const char *body;
            size_t len;
            int found = 0;
            if (argvlen[i] == 40) {
                for (int j = 0; j < 40; j++) {
                    char ch = argv[i][j];
                    sha[j] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
                }
                found = script_get(c, sha, &body, &len);
                if (found < 0) return;
            }
            resp_add_int(c->reply, found);
        }
    } else if (kv_streqci(sub, sl, "flush")) {
        /* Every script; the budgets (keys that are no sha1) stay. */
        MDB_cursor *cur;
        MDB_val k, d;
        if (!c->st || !c->writable) {
            resp_add_ok(c->reply);
            return;
        }
        int rc = mdb_cursor_open(c->txn, scripts_dbi(c), &cur);
        if (rc == 0) {
            rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST);
            while (rc == 0) {
                if (k.mv_size == 40 && (rc = mdb_cursor_del(cur, 0)) != 0) break;
                rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT);
            }
            mdb_cursor_close(cur);
        }
        if (rc != 0 && rc != MDB_NOTFOUND) {
            if (!c->rc) c->rc = kv_map_err(rc);
            return;
        }
        resp_add_ok(c->reply);
    } else if (kv_streqci(sub, sl, "kill")) {
        /* A script runs inside one apply: none is ever running between
         * two commands. */
        resp_add_error(c->reply, "NOTBUSY No scripts in execution right now.");
    } else if (kv_streqci(sub, sl, "debug")) {
        /* A read (kv_call_reads). NO is the only mode there is: a script
         * runs when its entry applies, on every node, inside one apply, so
         * nothing could stop it at a breakpoint and talk to one client
         * (Redis's LDB); YES and SYNC say so. */
        if (c->multi)
            resp_add_error(c->reply, "ERR SCRIPT DEBUG must be called outside a pipeline");
        else if (kv_streqci(argv[2], argvlen[2], "no"))
            resp_add_ok(c->reply);
        else if (kv_streqci(argv[2], argvlen[2], "yes") || kv_streqci(argv[2], argvlen[2], "sync"))
            resp_add_error(c->reply, "ERR SCRIPT DEBUG YES|SYNC is not supported: scripts run when "
                                     "their log entry applies, on every node, so there is no Lua "
                                     "debugger (LDB)");
        else
            resp_add_error(c->reply, "ERR Use SCRIPT DEBUG YES/SYNC/NO");
    } else {
        kv_add_help(c->reply, script_help);
    }
}

/* RAFT.SCRIPTCONF budget|max-memory <value>: one of the cluster-wide
 * budgets (the server proposes it for CONFIG SET). */
KV_CHECK(scriptconf_check)
{
    (void)argc;
    long long v;
    int mem = kv_streqci(argv[1], argvlen[1], "max-memory");
    if ((!mem && !kv_streqci(argv[1], argvlen[1], "budget")) ||
        !kv_string2ll(argv[2], argvlen[2], &v) || v < 0 ||
        (mem && (unsigned long long)v > KVLUA_MAX_MEMORY_LIMIT)) {
        resp_add_error(err, "ERR Invalid script budget");
        return -1;
    }
    return 0;
}

static void kvx_scriptconf(ARGS)
{
    long long v;
    unsigned char b[8];
    UNUSED_ARGS;
    if (!c->st || !c->writable) {
        resp_add_error(c->reply, "ERR RAFT.SCRIPTCONF is applied only");
        return;
    }
    kv_string2ll(argv[2], argvlen[2], &v);
    kv_put_be64(b, (uint64_t)v);
    int mem = kv_streqci(argv[1], argvlen[1], "max-memory");
    MDB_val k = {CONF_KEYLEN, mem ? CONF_MAXMEM : CONF_BUDGET}, d = {8, b};
    int rc = mdb_put(c->txn, scripts_dbi(c), &k, &d, 0);
    if (rc != 0) {
        if (!c->rc) c->rc = kv_map_err(rc);
        return;
    }
    resp_add_ok(c->reply);
}

/* ------------------------------------------------------------ command table */

/* clang-format off */
const kv_command kvx_script_commands[] = {
    {"eval", -3, KV_CMD_WRITE | KV_CMD_NOSCRIPT, 0, 0, 0, eval_check, kvx_eval,
     "scripting", "2.6.0", "Execute a Lua script server side"},
    {"evalsha", -3, KV_CMD_WRITE | KV_CMD_NOSCRIPT, 0, 0, 0, eval_check, kvx_evalsha,
     "scripting", "2.6.0", "Execute a Lua script server side"},
    {"eval_ro", -3, KV_CMD_READONLY | KV_CMD_NOSCRIPT, 0, 0, 0, eval_check, kvx_eval_ro,
     "scripting", "7.0.0", "Execute a read-only Lua script server side"},
    {"evalsha_ro", -3, KV_CMD_READONLY | KV_CMD_NOSCRIPT, 0, 0, 0, eval_check, kvx_evalsha_ro,
     "scripting", "7.0.0", "Execute a read-only Lua script server side"},
    {"script", -2, KV_CMD_WRITE | KV_CMD_NOSCRIPT, 0, 0, 0, script_check, kvx_script,
     "scripting", "2.6.0", "A container for Lua scripts management commands"},
    {"raft.scriptconf", 3, KV_CMD_WRITE | KV_CMD_INTERNAL, 0, 0, 0, scriptconf_check,
     kvx_scriptconf, "server", "0.1.0", "Set the script budgets for the cluster (internal)"},
};
/* clang-format on */
const size_t kvx_script_ncommands = sizeof(kvx_script_commands) / sizeof(kvx_script_commands[0]);
