/* hiredis against a running server: the sync API (one command at a time,
 * then a pipeline of redisAppendCommand + redisGetReply) and the async API
 * on its libevent adapter (pipelined commands, callbacks in order), on
 * strings and on hashes, lists, sets and sorted sets (replies checked by
 * type and value), in database 0 and in database 2.
 *
 *   hiredis_client HOST PORT     exit 0 when every reply is as expected
 */
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <event2/event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static int is_status(const redisReply *r, const char *s)
{
    return r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, s) == 0;
}

static int is_string(const redisReply *r, const char *s, size_t len)
{
    return r && r->type == REDIS_REPLY_STRING && r->len == len && memcmp(r->str, s, len) == 0;
}

static int is_int(const redisReply *r, long long v)
{
    return r && r->type == REDIS_REPLY_INTEGER && r->integer == v;
}

static int is_error(const redisReply *r, const char *prefix)
{
    return r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, prefix, strlen(prefix)) == 0;
}

static int is_str(const redisReply *r, const char *s)
{
    return is_string(r, s, strlen(s));
}

/* An array reply of exactly these strings, in this order (NULL-terminated). */
static int is_strings(const redisReply *r, const char *const *want)
{
    size_t n = 0;
    while (want[n])
        n++;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_str(r->element[i], want[i])) return 0;
    return 1;
}

/* An array reply holding these strings in any order, each once. */
static int has_strings(const redisReply *r, const char *const *want)
{
    size_t n = 0;
    while (want[n])
        n++;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != n) return 0;
    for (size_t i = 0; i < n; i++) {
        size_t hits = 0;
        for (size_t j = 0; j < n; j++)
            hits += is_str(r->element[j], want[i]);
        if (hits != 1) return 0;
    }
    return 1;
}

/* One command, its reply checked by `ok`, freed. */
#define EXPECT(c, ok, ...)                                                                         \
    do {                                                                                           \
        redisReply *r_ = redisCommand(c, __VA_ARGS__);                                             \
        CHECK(ok, "%s (reply type %d)", #__VA_ARGS__, r_ ? r_->type : -1);                         \
        freeReplyObject(r_);                                                                       \
    } while (0)

/* Hashes, lists, sets and sorted sets through the sync API, one command at a
 * time, then pipelined; database 2 through SELECT. */
static void sync_collection_tests(redisContext *c)
{
    EXPECT(c, is_int(r_, 3), "HSET %s %s %s %s %s %s %s", "user:1", "name", "ada", "visits", "1",
           "lang", "en");
    EXPECT(c, is_int(r_, 11), "HINCRBY user:1 visits 10");
    EXPECT(c, is_str(r_, "11"), "HGET user:1 visits");
    EXPECT(c, r_ && r_->type == REDIS_REPLY_NIL, "HGET user:1 nofield");
    EXPECT(c, is_strings(r_, (const char *[]){"ada", "en", NULL}), "HMGET user:1 name lang");
    EXPECT(c,
           r_ && r_->type == REDIS_REPLY_ARRAY && r_->elements == 3 &&
               is_str(r_->element[0], "ada") && r_->element[1]->type == REDIS_REPLY_NIL &&
               is_str(r_->element[2], "en"),
           "HMGET user:1 name nofield lang");
    /* HGETALL: field/value pairs; the order of the pairs is the server's */
    EXPECT(c, has_strings(r_, (const char *[]){"name", "ada", "visits", "11", "lang", "en", NULL}),
           "HGETALL user:1");
    EXPECT(c, is_int(r_, 3), "HLEN user:1");
    EXPECT(c, is_error(r_, "ERR hash value is not an integer"), "HINCRBY user:1 name 1");

    EXPECT(c, is_int(r_, 3), "RPUSH jobs a b c");
    EXPECT(c, is_int(r_, 4), "LPUSH jobs z");
    EXPECT(c, is_strings(r_, (const char *[]){"z", "a", "b", "c", NULL}), "LRANGE jobs 0 -1");
    EXPECT(c, is_str(r_, "z"), "LPOP jobs");
    EXPECT(c, is_strings(r_, (const char *[]){"c", "b", NULL}), "RPOP jobs 2");
    EXPECT(c, is_str(r_, "a"), "LMOVE jobs done LEFT RIGHT");
    EXPECT(c, is_int(r_, 0), "EXISTS jobs");
    EXPECT(c, r_ && r_->type == REDIS_REPLY_NIL, "LPOP jobs");
    EXPECT(c, r_ && r_->type == REDIS_REPLY_ARRAY && r_->elements == 0, "LRANGE jobs 0 -1");

    EXPECT(c, is_int(r_, 3), "SADD tags redis raft kv");
    EXPECT(c, is_int(r_, 0), "SADD tags raft");
    EXPECT(c, is_int(r_, 1), "SISMEMBER tags raft");
    EXPECT(c, is_int(r_, 0), "SISMEMBER tags paxos");
    EXPECT(c, has_strings(r_, (const char *[]){"kv", "raft", "redis", NULL}), "SMEMBERS tags");
    EXPECT(c, is_int(r_, 1), "SREM tags kv");
    EXPECT(c, r_ && r_->type == REDIS_REPLY_STRING && (is_str(r_, "raft") || is_str(r_, "redis")),
           "SPOP tags");
    EXPECT(c, is_int(r_, 1), "SCARD tags");

    EXPECT(c, is_int(r_, 3), "ZADD board 10 ada 5 bob 7.5 cy");
    EXPECT(c, is_str(r_, "12.5"), "ZINCRBY board 7.5 bob");
    EXPECT(c, is_strings(r_, (const char *[]){"cy", "7.5", "ada", "10", "bob", "12.5", NULL}),
           "ZRANGE board 0 -1 WITHSCORES");
    EXPECT(c, is_strings(r_, (const char *[]){"cy", "ada", NULL}), "ZRANGEBYSCORE board 7 (12");
    EXPECT(c, is_str(r_, "10"), "ZSCORE board ada");
    EXPECT(c, is_int(r_, 2), "ZREVRANK board cy");
    EXPECT(c, is_strings(r_, (const char *[]){"cy", "7.5", NULL}), "ZPOPMIN board");

    EXPECT(c, is_error(r_, "WRONGTYPE Operation against a key holding the wrong kind of value"),
           "LPUSH user:1 x");
    EXPECT(c, is_error(r_, "WRONGTYPE"), "GET board");
    EXPECT(c, is_status(r_, "hash"), "TYPE user:1");
    EXPECT(c, is_status(r_, "zset"), "TYPE board");
    EXPECT(c, is_status(r_, "list"), "TYPE done");
    EXPECT(c, is_status(r_, "set"), "TYPE tags");

    /* pipelined: 4 * 250 collection writes, then reads of what they built */
    enum { M = 250 };
    for (int i = 0; i < M; i++) {
        redisAppendCommand(c, "RPUSH q %d", i);
        redisAppendCommand(c, "SADD s %d", i % 100);
        redisAppendCommand(c, "ZADD z %d m:%d", i, i);
        redisAppendCommand(c, "HINCRBY counts f%d 1", i % 10);
    }
    redisAppendCommand(c, "LRANGE q -2 -1");
    redisAppendCommand(c, "SCARD s");
    redisAppendCommand(c, "ZRANGE z 0 0 WITHSCORES");
    redisAppendCommand(c, "HGET counts f3");
    for (int i = 0; i < M; i++) {
        void *p = NULL;
        CHECK(redisGetReply(c, &p) == REDIS_OK, "pipelined RPUSH %d: %s", i, c->errstr);
        CHECK(is_int(p, i + 1), "pipelined RPUSH %d", i);
        freeReplyObject(p);
        CHECK(redisGetReply(c, &p) == REDIS_OK, "pipelined SADD %d", i);
        CHECK(is_int(p, i < 100), "pipelined SADD %d", i);
        freeReplyObject(p);
        CHECK(redisGetReply(c, &p) == REDIS_OK, "pipelined ZADD %d", i);
        CHECK(is_int(p, 1), "pipelined ZADD %d", i);
        freeReplyObject(p);
        CHECK(redisGetReply(c, &p) == REDIS_OK, "pipelined HINCRBY %d", i);
        CHECK(is_int(p, i / 10 + 1), "pipelined HINCRBY %d", i);
        freeReplyObject(p);
    }
    void *p = NULL;
    CHECK(redisGetReply(c, &p) == REDIS_OK && is_strings(p, (const char *[]){"248", "249", NULL}),
          "pipelined LRANGE");
    freeReplyObject(p);
    CHECK(redisGetReply(c, &p) == REDIS_OK && is_int(p, 100), "pipelined SCARD");
    freeReplyObject(p);
    CHECK(redisGetReply(c, &p) == REDIS_OK && is_strings(p, (const char *[]){"m:0", "0", NULL}),
          "pipelined ZRANGE");
    freeReplyObject(p);
    CHECK(redisGetReply(c, &p) == REDIS_OK && is_str(p, "25"), "pipelined HGET");
    freeReplyObject(p);

    /* MULTI/EXEC mixing the types */
    EXPECT(c, is_status(r_, "OK"), "MULTI");
    EXPECT(c, is_status(r_, "QUEUED"), "HSET cart apple 2");
    EXPECT(c, is_status(r_, "QUEUED"), "RPUSH events added");
    EXPECT(c, is_status(r_, "QUEUED"), "SADD carts cart");
    EXPECT(c, is_status(r_, "QUEUED"), "ZADD recent 5 cart");
    EXPECT(c, is_status(r_, "QUEUED"), "LPUSH cart x");
    EXPECT(c,
           r_ && r_->type == REDIS_REPLY_ARRAY && r_->elements == 5 && is_int(r_->element[0], 1) &&
               is_int(r_->element[1], 1) && is_int(r_->element[2], 1) &&
               is_int(r_->element[3], 1) && is_error(r_->element[4], "WRONGTYPE"),
           "EXEC");

    /* database 2 */
    EXPECT(c, is_status(r_, "OK"), "SELECT 2");
    EXPECT(c, is_int(r_, 0), "EXISTS user:1");
    EXPECT(c, is_int(r_, 1), "HSET user:1 db two");
    EXPECT(c, is_strings(r_, (const char *[]){"db", "two", NULL}), "HGETALL user:1");
    EXPECT(c, is_int(r_, 1), "DBSIZE");
    EXPECT(c, is_status(r_, "OK"), "SELECT 0");
    EXPECT(c, is_int(r_, 3), "HLEN user:1");
}

static void sync_tests(const char *host, int port)
{
    struct timeval tv = {10, 0};
    redisContext *c = redisConnectWithTimeout(host, port, tv);
    if (!c || c->err) {
        fprintf(stderr, "FAIL connect: %s\n", c ? c->errstr : "out of memory");
        exit(1);
    }
    redisReply *r = redisCommand(c, "FLUSHALL");
    CHECK(is_status(r, "OK"), "FLUSHALL");
    freeReplyObject(r);

    r = redisCommand(c, "SET %s %s", "greeting", "hello world");
    CHECK(is_status(r, "OK"), "SET");
    freeReplyObject(r);
    r = redisCommand(c, "GET greeting");
    CHECK(is_string(r, "hello world", 11), "GET");
    freeReplyObject(r);

    /* binary-safe arguments (%b) */
    const char bin[] = {'a', '\0', 'b', '\r', '\n'};
    r = redisCommand(c, "SET %b %b", bin, sizeof bin, bin, sizeof bin);
    CHECK(is_status(r, "OK"), "SET binary");
    freeReplyObject(r);
    r = redisCommand(c, "GET %b", bin, sizeof bin);
    CHECK(is_string(r, bin, sizeof bin), "GET binary");
    freeReplyObject(r);

    r = redisCommand(c, "GET nokey");
    CHECK(r && r->type == REDIS_REPLY_NIL, "GET nokey type %d", r ? r->type : -1);
    freeReplyObject(r);
    r = redisCommand(c, "INCR greeting");
    CHECK(r && r->type == REDIS_REPLY_ERROR &&
              strcmp(r->str, "ERR value is not an integer or out of range") == 0,
          "INCR on a string");
    freeReplyObject(r);
    r = redisCommand(c, "MGET greeting nokey");
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
              is_string(r->element[0], "hello world", 11) && r->element[1]->type == REDIS_REPLY_NIL,
          "MGET");
    freeReplyObject(r);
    r = redisCommand(c, "SET t v EX 100");
    freeReplyObject(r);
    r = redisCommand(c, "TTL t");
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer > 90 && r->integer <= 100, "TTL");
    freeReplyObject(r);

    /* pipeline: 1000 commands appended, then every reply read in order */
    enum { N = 1000 };
    for (int i = 0; i < N; i++) {
        if (i % 2 == 0)
            redisAppendCommand(c, "INCR counter");
        else
            redisAppendCommand(c, "SET k:%d %d", i, i);
    }
    redisAppendCommand(c, "GET counter");
    redisAppendCommand(c, "GET k:%d", N - 1);
    for (int i = 0; i < N; i++) {
        void *p = NULL;
        CHECK(redisGetReply(c, &p) == REDIS_OK, "redisGetReply %d: %s", i, c->errstr);
        r = p;
        if (i % 2 == 0)
            CHECK(is_int(r, i / 2 + 1), "pipelined INCR %d", i);
        else
            CHECK(is_status(r, "OK"), "pipelined SET %d", i);
        freeReplyObject(r);
    }
    void *p = NULL;
    CHECK(redisGetReply(c, &p) == REDIS_OK, "GET counter");
    CHECK(is_string(p, "500", 3), "GET counter after the pipeline");
    freeReplyObject(p);
    CHECK(redisGetReply(c, &p) == REDIS_OK, "GET k");
    CHECK(is_string(p, "999", 3), "GET k:999");
    freeReplyObject(p);

    /* MULTI/EXEC through the sync API */
    redisAppendCommand(c, "MULTI");
    redisAppendCommand(c, "INCR tx");
    redisAppendCommand(c, "INCR tx");
    redisAppendCommand(c, "EXEC");
    for (int i = 0; i < 3; i++) {
        CHECK(redisGetReply(c, &p) == REDIS_OK, "tx %d", i);
        CHECK(is_status(p, i == 0 ? "OK" : "QUEUED"), "tx reply %d", i);
        freeReplyObject(p);
    }
    CHECK(redisGetReply(c, &p) == REDIS_OK, "EXEC");
    r = p;
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && is_int(r->element[0], 1) &&
              is_int(r->element[1], 2),
          "EXEC reply");
    freeReplyObject(r);
    sync_collection_tests(c);
    redisFree(c);
}

/* ------------------------------------------------------------------ async */

enum { ASYNC_N = 2000, ASYNC_COLL = 100 };
static int async_seen;
static int coll_seen;
static int async_done;
static struct event *deadline_timer;

static void on_incr(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    long long want = (long long)(intptr_t)priv;
    CHECK(is_int(reply, want), "async INCR reply %lld", want);
    async_seen++;
}

static void on_set(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    (void)priv;
    CHECK(is_status(reply, "OK"), "async SET");
    async_seen++;
}

static void on_zincrby(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    char want[32];
    snprintf(want, sizeof want, "%d", (int)(intptr_t)priv);
    CHECK(is_str(reply, want), "async ZINCRBY reply %s", want);
    coll_seen++;
}

static void on_sadd(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    (void)priv;
    CHECK(is_int(reply, 1), "async SADD");
    coll_seen++;
}

static void on_collections_read(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    (void)priv;
    char score[32];
    snprintf(score, sizeof score, "%d", ASYNC_COLL);
    const redisReply *r = reply;
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 3, "async MULTI/EXEC reply");
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 3) {
        CHECK(is_strings(r->element[0], (const char *[]){"m", score, NULL}),
              "async ZRANGE WITHSCORES");
        CHECK(is_int(r->element[1], ASYNC_COLL), "async SCARD");
        CHECK(is_strings(r->element[2], (const char *[]){"x", "y", NULL}), "async LRANGE");
    }
    CHECK(coll_seen == 2 * ASYNC_COLL, "collection callbacks before the read: %d", coll_seen);
    coll_seen++;
}

static void on_get(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)priv;
    char want[32];
    snprintf(want, sizeof want, "%d", ASYNC_N);
    CHECK(is_string(reply, want, strlen(want)), "async final GET");
    CHECK(async_seen == ASYNC_N + 1, "callbacks before the GET: %d", async_seen);
    CHECK(coll_seen == 2 * ASYNC_COLL + 1, "collection callbacks before the GET: %d", coll_seen);
    async_done = 1;
    evtimer_del(deadline_timer);
    redisAsyncDisconnect(ac);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    CHECK(status == REDIS_OK, "async connect: %s", ac->errstr);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    CHECK(status == REDIS_OK, "async disconnect: %s", ac->errstr);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    fprintf(stderr, "FAIL async: no final reply within the deadline (%d replies)\n", async_seen);
    failures++;
    event_base_loopbreak(arg);
}

static void async_tests(const char *host, int port)
{
    struct event_base *base = event_base_new();
    redisAsyncContext *ac = redisAsyncConnect(host, port);
    if (!base || !ac || ac->err) {
        fprintf(stderr, "FAIL async connect: %s\n", ac ? ac->errstr : "oom");
        exit(1);
    }
    redisLibeventAttach(ac, base);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    redisAsyncCommand(ac, on_set, NULL, "SET %s %s", "async", "0");
    for (int i = 1; i <= ASYNC_N; i++)
        redisAsyncCommand(ac, on_incr, (void *)(intptr_t)i, "INCR async");
    for (int i = 1; i <= ASYNC_COLL; i++) {
        redisAsyncCommand(ac, on_zincrby, (void *)(intptr_t)i, "ZINCRBY az 1 m");
        redisAsyncCommand(ac, on_sadd, NULL, "SADD aset m:%d", i);
    }
    redisAsyncCommand(ac, NULL, NULL, "RPUSH alist x y");
    redisAsyncCommand(ac, NULL, NULL, "MULTI");
    redisAsyncCommand(ac, NULL, NULL, "ZRANGE az 0 -1 WITHSCORES");
    redisAsyncCommand(ac, NULL, NULL, "SCARD aset");
    redisAsyncCommand(ac, NULL, NULL, "LRANGE alist 0 -1");
    redisAsyncCommand(ac, on_collections_read, NULL, "EXEC");
    redisAsyncCommand(ac, on_get, NULL, "GET async");

    struct timeval deadline = {60, 0};
    deadline_timer = evtimer_new(base, on_timeout, base);
    evtimer_add(deadline_timer, &deadline);
    event_base_dispatch(base);
    CHECK(async_done, "the async run did not finish");
    event_free(deadline_timer);
    event_base_free(base);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s HOST PORT\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[2]);
    sync_tests(argv[1], port);
    async_tests(argv[1], port);
    if (failures) {
        fprintf(stderr, "%d failures\n", failures);
        return 1;
    }
    printf("hiredis sync (1004 + 1004 pipelined, collections) and async (%d pipelined, "
           "collections) ok\n",
           ASYNC_N + 2 + 2 * ASYNC_COLL + 6);
    return 0;
}
