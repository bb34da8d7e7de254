/* test_notify.c -- keyspace notifications: notify-keyspace-events as
 * replicated state (RAFT.NOTIFYCONF, kept across restarts) and the exact
 * (channel, message) sequence applying each family's commands publishes
 * through the state's publish hook, as redis-server 7.0.15 emits them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "kvtest.h"
#include "storage/kvint.h"

#define TAU 1000000

typedef struct fx {
    char *dir;
    kvstate *s;
    resp_buf r;
    char events[8192]; /* "channel message\n" per publish */
    size_t n;
    int64_t tau;
} fx;

static long long on_publish(void *ctx, int shard, const char *ch, size_t chlen, const char *msg,
                            size_t msglen)
{
    fx *f = ctx;
    assert_int_equal(shard, 0);
    int w = snprintf(f->events + f->n, sizeof(f->events) - f->n, "%.*s %.*s\n", (int)chlen, ch,
                     (int)msglen, msg);
    assert_true(w > 0 && (size_t)w < sizeof(f->events) - f->n);
    f->n += (size_t)w;
    return 1;
}

static void hook(fx *f)
{
    kvstate_hooks h = {.ctx = f, .publish = on_publish};
    kvstate_set_hooks(f->s, &h);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    f->dir = kvt_mkdtemp();
    f->s = kvt_open_state(f->dir);
    resp_buf_init(&f->r, 2);
    f->tau = TAU;
    kvt_db = 0;
    hook(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    kvstate_close(f->s);
    kvt_rmrf(f->dir);
    resp_buf_free(&f->r);
    free(f);
    kvt_db = 0;
    return 0;
}

/* Applies line at the fixture's tau and checks the events it published. */
static void ev(fx *f, const char *line, const char *want)
{
    f->n = 0;
    f->events[0] = '\0';
    resp_buf_reset(&f->r);
    assert_int_equal(kvt_runs(f->s, f->tau, line, &f->r), 0);
    if (strcmp(f->events, want) != 0) {
        fprintf(stderr, "%s (reply %.*s)\n got:\n%s want:\n%s", line, (int)f->r.len, f->r.p,
                f->events, want);
        fail();
    }
}

static void classes(fx *f, const char *cls)
{
    char line[64];
    int flags = kv_notify_parse(cls, strlen(cls));
    assert_true(flags >= 0);
    snprintf(line, sizeof(line), "RAFT.NOTIFYCONF %d", flags);
    ev(f, line, "");
    assert_int_equal(kvstate_notify_flags(f->s), flags);
}

/* Both channels of one event in database 0, keyspace first. */
#define E(key, event) "__keyspace@0__:" key " " event "\n__keyevent@0__:" event " " key "\n"
#define EDB(db, key, event)                                                                        \
    "__keyspace@" #db "__:" key " " event "\n__keyevent@" #db "__:" event " " key "\n"

static void class_strings_parse_and_print_as_redis_does(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } t[] = {{"KEA", "AKE"},
             {"A", "A"},
             {"An", "A"},
             {"nK", "nK"},
             {"Ex", "xE"},
             {"gd", "gd"},
             {"m", "m"},
             {"", ""},
             {"AE", "AE"},
             {"KEA$", "AKE"},
             {"Ag$lshzxetdKEmn", "AKEm"},
             {"g$lshzxet", "g$lshzxet"}};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char buf[32];
        int flags = kv_notify_parse(t[i].in, strlen(t[i].in));
        assert_true(flags >= 0);
        kv_notify_format(flags, buf, sizeof(buf));
        assert_string_equal(buf, t[i].out);
    }
    assert_int_equal(kv_notify_parse("KEQ", 3), -1);
    assert_int_equal(kv_notify_parse("K E", 3), -1);
}

static void nothing_is_published_until_the_log_enables_it(void **state)
{
    fx *f = *state;
    ev(f, "SET k v", "");
    ev(f, "DEL k", "");
    classes(f, "KEA");
    ev(f, "SET k v", E("k", "set"));
    classes(f, "");
    ev(f, "SET k v", "");
}

static void the_setting_is_state_kept_across_a_restart(void **state)
{
    fx *f = *state;
    classes(f, "Kl");
    assert_int_equal(kvstate_commit(f->s), 0);
    kvstate_close(f->s);
    f->s = kvt_open_state(f->dir);
    hook(f);
    assert_int_equal(kvstate_notify_flags(f->s), KV_NOTIFY_KEYSPACE | KV_NOTIFY_LIST);
    ev(f, "SET k v", ""); /* $ is off */
    ev(f, "RPUSH l a", "__keyspace@0__:l rpush\n");
    /* FLUSHALL empties the key space, not the setting. */
    ev(f, "FLUSHALL", "");
    ev(f, "LPUSH l a", "__keyspace@0__:l lpush\n");
    /* A bad flags word is refused as an entry (the server never sends one). */
    resp_buf_reset(&f->r);
    assert_int_equal(kvt_runs(f->s, f->tau, "RAFT.NOTIFYCONF 4096", &f->r), 0);
    assert_int_equal(f->r.p[0], '-');
    assert_int_equal(kvstate_notify_flags(f->s), KV_NOTIFY_KEYSPACE | KV_NOTIFY_LIST);
}

static void only_the_enabled_classes_and_channels_publish(void **state)
{
    fx *f = *state;
    classes(f, "Eg");
    ev(f, "SET k v", "");
    ev(f, "EXPIRE k 100", "__keyevent@0__:expire k\n");
    classes(f, "K$");
    ev(f, "EXPIRE k 100", "");
    ev(f, "APPEND k w", "__keyspace@0__:k append\n");
}

static void string_commands(void **state)
{
    fx *f = *state;
    classes(f, "KEA");
    ev(f, "SET k v EX 100", E("k", "set") E("k", "expire"));
    ev(f, "SET k v NX", "");
    /* A time already past: Redis stores the key and expires it later. */
    ev(f, "SET p v PXAT 1", E("p", "set") E("p", "expire") E("p", "expired"));
    ev(f, "EXISTS p", "");
    ev(f, "SETEX k 10 v", E("k", "set") E("k", "expire"));
    ev(f, "MSET a 1 b 2", E("a", "set") E("b", "set"));
    ev(f, "INCR a", E("a", "incrby"));
    ev(f, "DECRBY a 3", E("a", "incrby"));
    ev(f, "INCRBYFLOAT a 1.5", E("a", "incrbyfloat"));
    ev(f, "INCR k", ""); /* not an integer */
    ev(f, "APPEND k x", E("k", "append"));
    ev(f, "SETRANGE k 0 z", E("k", "setrange"));
    ev(f, "GETEX k PERSIST", E("k", "persist"));
    ev(f, "GETEX k EX 5", E("k", "expire"));
    ev(f, "GETDEL k", E("k", "del"));
    ev(f, "GETDEL k", "");
    ev(f, "SETBIT bits 7 1", E("bits", "setbit"));
    ev(f, "SETBIT bits 7 1", ""); /* nothing changed */
    ev(f, "SETBIT bits 7 0", E("bits", "setbit"));
    ev(f, "SETBIT bits 15 0", E("bits", "setbit")); /* longer */
    ev(f, "PFADD h a b", E("h", "pfadd"));
    ev(f, "PFADD h a", "");
    ev(f, "PFMERGE h2 h", E("h2", "pfadd"));
}

static void keyspace_and_expire_commands(void **state)
{
    fx *f = *state;
    classes(f, "KEA");
    ev(f, "SET a 1", E("a", "set"));
    ev(f, "RENAME a b", E("a", "rename_from") E("b", "rename_to"));
    ev(f, "RENAME b b", "");
    ev(f, "COPY b c", E("c", "copy_to"));
    ev(f, "COPY b c", "");
    ev(f, "MOVE c 1", EDB(0, "c", "move_from") EDB(1, "c", "move_to"));
    ev(f, "EXPIRE b 100", E("b", "expire"));
    ev(f, "EXPIRE b 100 NX", "");
    ev(f, "PERSIST b", E("b", "persist"));
    ev(f, "PERSIST b", "");
    ev(f, "PEXPIREAT b 1", E("b", "del"));
    ev(f, "SET x 1", E("x", "set"));
    ev(f, "DEL x nosuch", E("x", "del"));
    ev(f, "FLUSHDB", "");
    ev(f, "SWAPDB 0 1", "");
}

static void list_commands(void **state)
{
    fx *f = *state;
    classes(f, "KEA");
    ev(f, "RPUSH l a b", E("l", "rpush"));
    ev(f, "LPUSHX l c", E("l", "lpush"));
    ev(f, "LPUSHX nosuch c", "");
    ev(f, "LSET l 0 z", E("l", "lset"));
    ev(f, "LINSERT l BEFORE z q", E("l", "linsert"));
    ev(f, "LINSERT l BEFORE nosuch q", "");
    ev(f, "LREM l 1 q", E("l", "lrem"));
    ev(f, "LREM l 1 nosuch", "");
    ev(f, "LTRIM l 0 1", E("l", "ltrim"));
    ev(f, "LMOVE l m LEFT RIGHT", E("m", "rpush") E("l", "lpop"));
    ev(f, "RPOPLPUSH l m", E("m", "lpush") E("l", "rpop") E("l", "del"));
    ev(f, "LPOP m 0", "");
    ev(f, "RPOP m 5", E("m", "rpop") E("m", "del"));
    ev(f, "RPUSH l a", E("l", "rpush"));
    ev(f, "LMPOP 2 nosuch l LEFT", E("l", "lpop") E("l", "del"));
    ev(f, "RPUSH l a", E("l", "rpush"));
    ev(f, "LTRIM l 5 6", E("l", "ltrim") E("l", "del"));
}

static void hash_commands(void **state)
{
    fx *f = *state;
    classes(f, "KEA");
    ev(f, "HSET h f v", E("h", "hset"));
    ev(f, "HSET h f v", E("h", "hset")); /* Redis emits it with nothing new */
    ev(f, "HSETNX h f v", "");
    ev(f, "HSETNX h g v", E("h", "hset"));
    ev(f, "HINCRBY h n 2", E("h", "hincrby"));
    ev(f, "HINCRBYFLOAT h x 1.5", E("h", "hincrbyfloat"));
    ev(f, "HDEL h nosuch", "");
    ev(f, "HDEL h f g", E("h", "hdel"));
    ev(f, "HDEL h n x", E("h", "hdel") E("h", "del"));
}

static void set_commands(void **state)
{
    fx *f = *state;
    classes(f, "KEA");
    ev(f, "SADD s a b c", E("s", "sadd"));
    ev(f, "SADD s a", "");
    ev(f, "SREM s a nosuch", E("s", "srem"));
    ev(f, "SMOVE s t b", E("s", "srem") E("t", "sadd"));
    ev(f, "SMOVE s t c", E("s", "srem") E("s", "del") E("t", "sadd"));
    ev(f, "SUNIONSTORE u t", E("u", "sunionstore"));
    ev(f, "SINTERSTORE i t u", E("i", "sinterstore"));
    ev(f, "SDIFFSTORE u t u", E("u", "del"));
    ev(f, "SDIFFSTORE u t t", "");
    ev(f, "SPOP i", E("i", "spop"));
    ev(f, "SPOP i", E("i", "spop") E("i", "del"));
    ev(f, "SPOP t 10", E("t", "spop") E("t", "del"));
}

static void sorted_set_commands(void **state)
{
    fx *f = *state;
    classes(f, "KEA");
    ev(f, "ZADD z 1 a 2 b 3 c 4 d", E("z", "zadd"));
    ev(f, "ZADD z NX 5 a", "");
    ev(f, "ZINCRBY z 1 a", E("z", "zincr"));
    ev(f, "ZREM z a nosuch", E("z", "zrem"));
    ev(f, "ZRANGESTORE r z 0 -1", E("r", "zrangestore"));
    ev(f, "ZUNIONSTORE u 1 z", E("u", "zunionstore"));
    ev(f, "ZINTERSTORE u 2 z nosuch", E("u", "del"));
    ev(f, "ZDIFFSTORE d 1 z", E("d", "zdiffstore"));
    ev(f, "ZPOPMIN z", E("z", "zpopmin"));
    ev(f, "ZPOPMAX z 0", "");
    ev(f, "ZMPOP 1 z MAX", E("z", "zpopmax"));
    ev(f, "ZREMRANGEBYRANK r 0 0", E("r", "zremrangebyrank"));
    ev(f, "ZREMRANGEBYSCORE r 0 10", E("r", "zremrangebyscore") E("r", "del"));
    ev(f, "ZREMRANGEBYSCORE r 0 10", "");
    ev(f, "ZPOPMIN z 10", E("z", "zpopmin") E("z", "del"));
}

static void sort_store(void **state)
{
    fx *f = *state;
    classes(f, "KEA");
    ev(f, "RPUSH l 3 1 2", E("l", "rpush"));
    ev(f, "SORT l STORE out", E("out", "sortstore"));
    ev(f, "SORT nosuch STORE out", E("out", "del"));
    ev(f, "SORT nosuch STORE out", "");
}

/* 'n': a key coming into being, before the command's own event. */
static void new_keys(void **state)
{
    fx *f = *state;
    classes(f, "KEAn");
    ev(f, "SET k v", E("k", "new") E("k", "set"));
    ev(f, "SET k w", E("k", "set"));
    ev(f, "SET p v EXAT 1", E("p", "new") E("p", "set") E("p", "expire") E("p", "expired"));
    ev(f, "SET t v", E("t", "new") E("t", "set"));
    /* RENAME deletes an existing destination and adds it anew. */
    ev(f, "RENAME k t", E("t", "new") E("k", "rename_from") E("t", "rename_to"));
    ev(f, "RPUSH l a", E("l", "new") E("l", "rpush"));
    ev(f, "RPUSH l b", E("l", "rpush"));
    ev(f, "MOVE t 2", EDB(2, "t", "new") EDB(0, "t", "move_from") EDB(2, "t", "move_to"));
    classes(f, "n");
    ev(f, "SET q v", "");
}

/* An expire entry reports the logical database that holds the key, which
 * SWAPDB may have changed since the key was written. */
static void expired_comes_from_the_expire_entry(void **state)
{
    fx *f = *state;
    classes(f, "KEA");
    kvt_db = 3;
    ev(f, "SET e v PX 10", EDB(3, "e", "set") EDB(3, "e", "expire"));
    ev(f, "SWAPDB 3 5", "");
    resp_buf e;
    resp_buf_init(&e, 2);
    assert_int_equal(kvstate_collect_expired(f->s, TAU + 100, 10, &e), 1);
    f->n = 0;
    f->events[0] = '\0';
    assert_int_equal(kvstate_apply(f->s, kvstate_applied_index(f->s) + 1, e.p, e.len, NULL), 0);
    assert_string_equal(f->events, EDB(5, "e", "expired"));
    /* Applied again (another expire entry for it): gone, nothing more. */
    f->n = 0;
    f->events[0] = '\0';
    assert_int_equal(kvstate_apply(f->s, kvstate_applied_index(f->s) + 1, e.p, e.len, NULL), 0);
    assert_string_equal(f->events, "");
    resp_buf_free(&e);
    /* A write meeting an expired key deletes it with "expired" first. */
    kvt_db = 0;
    f->tau = TAU + 1000;
    ev(f, "SET x v PX 10", E("x", "set") E("x", "expire"));
    f->tau += 100;
    ev(f, "RPUSH x a", E("x", "expired") E("x", "rpush"));
}

/* A read never publishes: only applying reaches the hook. */
static void reads_publish_nothing(void **state)
{
    fx *f = *state;
    classes(f, "KEAm");
    ev(f, "SET k v PX 10", E("k", "set") E("k", "expire"));
    f->tau += 100;
    ev(f, "GET k", "");
    ev(f, "GET nosuch", "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(class_strings_parse_and_print_as_redis_does),
        cmocka_unit_test_setup_teardown(nothing_is_published_until_the_log_enables_it, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(the_setting_is_state_kept_across_a_restart, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(only_the_enabled_classes_and_channels_publish, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(string_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(keyspace_and_expire_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(list_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(hash_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(set_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(sorted_set_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(sort_store, setup, teardown),
        cmocka_unit_test_setup_teardown(new_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(expired_comes_from_the_expire_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(reads_publish_nothing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
