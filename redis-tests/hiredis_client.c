/* hiredis against a running server: the sync API (one command at a time,
 * then a pipeline of redisAppendCommand + redisGetReply) and the async API
 * on its libevent adapter (pipelined commands, callbacks in order).
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
    redisFree(c);
}

/* ------------------------------------------------------------------ async */

enum { ASYNC_N = 2000 };
static int async_seen;
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

static void on_get(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)priv;
    char want[32];
    snprintf(want, sizeof want, "%d", ASYNC_N);
    CHECK(is_string(reply, want, strlen(want)), "async final GET");
    CHECK(async_seen == ASYNC_N + 1, "callbacks before the GET: %d", async_seen);
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
    printf("hiredis sync (1004 pipelined) and async (%d pipelined) ok\n", ASYNC_N + 2);
    return 0;
}
