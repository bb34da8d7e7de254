/* waitgen: a small load generator for tests/bench/run (issue 22) on hiredis
 * async and libevent, with redis-benchmark's options, that can follow each
 * write with `WAIT numreplicas timeout` on the same connection: a write is
 * counted as done only when its WAIT answers >= numreplicas. That is how
 * users of redis-server get synchronous replication, the row RaftKV is
 * compared with.
 *
 *   waitgen [-h host] [-p port] [-c clients] [-P pipeline] [-n requests]
 *           [-d bytes] [-r keyspace] [-t set|get|ping] [--wait N T]
 *           [--seconds s] [--timeout s]
 *
 * Each client sends a batch of P requests (a request is SET, or SET then
 * WAIT, or GET) and sends the next batch when every reply of this one has
 * come, as redis-benchmark does. A request's latency is from the send of its
 * batch to its last reply. Latencies go into a histogram (hist.h), not a
 * list of samples. Prints one CSV header line and one row on stdout:
 *   "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",
 *   "p95_latency_ms","p99_latency_ms","p999_latency_ms","max_latency_ms",
 *   "requests","errors","over_10ms"
 * (requests: done; over_10ms: latencies above 10 ms, within 1/64). With
 * --seconds, or on SIGTERM/SIGINT, it issues no more requests, waits for the
 * answers of those out, and prints the figures of what was done: -t ping
 * -c 1 --seconds is a prober of a node's event loop while a load runs.
 * Exit status 0 when every request was done, 1 when some failed (an error
 * reply, or a WAIT answering fewer replicas than asked), 2 on a usage error,
 * a connection failure or the --timeout. */
#include <errno.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <signal.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hist.h"

typedef enum { T_SET, T_GET, T_PING } test_kind;

typedef struct client {
    redisAsyncContext *ac;
    uint64_t batch_start_us;
    unsigned pending; /* replies still due for this batch */
    int set_failed;   /* the SET before the WAIT now due got an error */
    int connected;
} client;

static struct {
    const char *host;
    int port;
    int clients;
    int pipeline;
    uint64_t requests;
    size_t datasize;
    uint64_t keyspace;
    test_kind test;
    long long wait_n; /* -1: no WAIT */
    long long wait_t;
    double timeout_s;
    double seconds; /* > 0: stop issuing after this long (then -n is a bound) */
} opt = {"127.0.0.1", 6379, 50, 1, 100000, 3, 0, T_SET, -1, 0, 600.0, 0.0};

static struct event_base *base;
static client *clients;
static char *value;
static uint64_t issued, done, failed, answered;
static int connected, alive;
static int stopping, ended; /* stopping: issue no more (--seconds, SIGTERM) */
static uint64_t start_us, end_us;
static hist lat;
static int fatal;
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t rnd(void)
{ /* xorshift64*: keys only, not security */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static void stop_all(void)
{
    for (int i = 0; i < opt.clients; i++) {
        if (clients[i].ac != NULL && clients[i].connected) {
            clients[i].connected = 0;
            redisAsyncDisconnect(clients[i].ac);
        }
    }
}

static void send_batch(client *c);

/* Every request issued has its answer and no more will be issued: stop. */
static int finish_if_done(void)
{
    if (ended || answered < issued || (issued < opt.requests && !stopping)) return ended;
    ended = 1;
    end_us = now_us();
    stop_all();
    return 1;
}

/* One request finished (its last reply came): record it, and when the
 * client's batch is complete, send the next one. */
static void request_done(client *c, int ok)
{
    answered++;
    if (ok) {
        done++;
        hist_record(&lat, now_us() - c->batch_start_us);
    } else {
        failed++;
    }
    if (finish_if_done()) return;
    if (c->pending == 0) send_batch(c);
}

static int reply_error(const redisReply *r)
{
    static int shown;
    if (r == NULL) return 1;
    if (r->type == REDIS_REPLY_ERROR) {
        if (shown++ < 3) fprintf(stderr, "waitgen: error reply: %.*s\n", (int)r->len, r->str);
        return 1;
    }
    return 0;
}

static void on_set(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    client *c = priv;
    if (reply == NULL) return; /* disconnected: on_disconnect deals with it */
    c->pending--;
    int ok = !reply_error(reply);
    if (opt.wait_n < 0)
        request_done(c, ok);
    else if (!ok)
        c->set_failed = 1; /* the request fails when its WAIT answers */
}

static void on_wait(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    client *c = priv;
    redisReply *r = reply;
    static int shown;
    if (r == NULL) return;
    c->pending--;
    int ok = !reply_error(r) && r->type == REDIS_REPLY_INTEGER && r->integer >= opt.wait_n;
    if (r->type == REDIS_REPLY_INTEGER && r->integer < opt.wait_n && shown++ < 3)
        fprintf(stderr, "waitgen: WAIT answered %lld (< %lld)\n", r->integer, opt.wait_n);
    ok = ok && !c->set_failed;
    c->set_failed = 0; /* replies come in order: the next SET starts afresh */
    request_done(c, ok);
}

static void on_get(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    client *c = priv;
    if (reply == NULL) return;
    c->pending--;
    request_done(c, !reply_error(reply));
}

static void send_batch(client *c)
{
    if (!c->connected) return;
    unsigned n = 0;
    c->batch_start_us = now_us();
    while (n < (unsigned)opt.pipeline && issued < opt.requests && !stopping) {
        char key[32];
        uint64_t k = opt.keyspace ? rnd() % opt.keyspace : 0;
        int klen = snprintf(key, sizeof(key), "key:%012" PRIu64, k);
        issued++;
        n++;
        if (opt.test == T_GET) {
            c->pending++;
            redisAsyncCommand(c->ac, on_get, c, "GET %b", key, (size_t)klen);
            continue;
        }
        if (opt.test == T_PING) {
            c->pending++;
            redisAsyncCommand(c->ac, on_get, c, "PING");
            continue;
        }
        c->pending++;
        redisAsyncCommand(c->ac, on_set, c, "SET %b %b", key, (size_t)klen, value, opt.datasize);
        if (opt.wait_n >= 0) {
            c->pending++;
            redisAsyncCommand(c->ac, on_wait, c, "WAIT %lld %lld", opt.wait_n, opt.wait_t);
        }
    }
}

/* --seconds passed, or SIGTERM/SIGINT: issue no more, finish what is out,
 * print the figures of what was done. */
static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    stopping = 1;
    finish_if_done();
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    client *c = ac->data;
    if (status != REDIS_OK) {
        fprintf(stderr, "waitgen: cannot connect to %s:%d: %s\n", opt.host, opt.port, ac->errstr);
        c->ac = NULL; /* hiredis frees it */
        fatal = 1;
        stop_all();
        return;
    }
    c->connected = 1;
    if (++connected == opt.clients) {
        start_us = now_us();
        if (opt.seconds > 0) {
            struct timeval tv = {(time_t)opt.seconds,
                                 (suseconds_t)((opt.seconds - (double)(time_t)opt.seconds) * 1e6)};
            event_base_once(base, -1, EV_TIMEOUT, on_stop, NULL, &tv);
        }
        for (int i = 0; i < opt.clients; i++)
            send_batch(&clients[i]);
    }
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    client *c = ac->data;
    c->ac = NULL;
    alive--;
    if (c->connected || status != REDIS_OK) {
        if (!ended) {
            fprintf(stderr, "waitgen: connection lost: %s\n", ac->errstr);
            fatal = 1;
            c->connected = 0;
            stop_all();
        }
    }
    c->connected = 0;
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    fprintf(stderr, "waitgen: not done after %.0f s (%" PRIu64 " of %" PRIu64 " issued answered)\n",
            opt.timeout_s, answered, issued);
    fatal = 1;
    stop_all();
    event_base_loopbreak(base);
}

static void usage(void)
{
    fprintf(stderr, "usage: waitgen [-h host] [-p port] [-c clients] [-P pipeline] [-n requests]\n"
                    "               [-d bytes] [-r keyspace] [-t set|get|ping] [--wait N T]\n"
                    "               [--seconds s] [--timeout s]\n");
    exit(2);
}

static long long num_arg(const char *s, long long lo, long long hi)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "waitgen: bad number '%s' (%lld..%lld)\n", s, lo, hi);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    int n_given = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (strcmp(a, "-h") == 0 && more) {
            opt.host = argv[++i];
        } else if (strcmp(a, "-p") == 0 && more) {
            opt.port = (int)num_arg(argv[++i], 1, 65535);
        } else if (strcmp(a, "-c") == 0 && more) {
            opt.clients = (int)num_arg(argv[++i], 1, 10000);
        } else if (strcmp(a, "-P") == 0 && more) {
            opt.pipeline = (int)num_arg(argv[++i], 1, 100000);
        } else if (strcmp(a, "-n") == 0 && more) {
            opt.requests = (uint64_t)num_arg(argv[++i], 1, (long long)1 << 40);
            n_given = 1;
        } else if (strcmp(a, "-d") == 0 && more) {
            opt.datasize = (size_t)num_arg(argv[++i], 1, 512ll << 20);
        } else if (strcmp(a, "-r") == 0 && more) {
            opt.keyspace = (uint64_t)num_arg(argv[++i], 0, (long long)1 << 40);
        } else if (strcmp(a, "-t") == 0 && more) {
            const char *t = argv[++i];
            if (strcasecmp(t, "set") == 0)
                opt.test = T_SET;
            else if (strcasecmp(t, "get") == 0)
                opt.test = T_GET;
            else if (strcasecmp(t, "ping") == 0)
                opt.test = T_PING;
            else
                usage();
        } else if (strcmp(a, "--wait") == 0 && i + 2 < argc) {
            opt.wait_n = num_arg(argv[i + 1], 0, 1000);
            opt.wait_t = num_arg(argv[i + 2], 0, 1ll << 40);
            i += 2;
        } else if (strcmp(a, "--timeout") == 0 && more) {
            opt.timeout_s = (double)num_arg(argv[++i], 1, 86400);
        } else if (strcmp(a, "--seconds") == 0 && more) {
            opt.seconds = (double)num_arg(argv[++i], 1, 86400);
            if (!n_given) opt.requests = (uint64_t)1 << 40;
        } else if (strcmp(a, "--csv") == 0) {
            /* always CSV; accepted for redis-benchmark's command lines */
        } else {
            usage();
        }
    }
    if (opt.test != T_SET && opt.wait_n >= 0) {
        fprintf(stderr, "waitgen: --wait goes with -t set\n");
        return 2;
    }
    if ((uint64_t)opt.clients > opt.requests) opt.clients = (int)opt.requests;
    value = malloc(opt.datasize);
    clients = calloc((size_t)opt.clients, sizeof(*clients));
    base = event_base_new();
    if (value == NULL || clients == NULL || base == NULL) {
        fprintf(stderr, "waitgen: out of memory\n");
        return 2;
    }
    memset(value, 'x', opt.datasize);
    hist_init(&lat);
    for (int i = 0; i < opt.clients; i++) {
        redisAsyncContext *ac = redisAsyncConnect(opt.host, opt.port);
        if (ac == NULL || ac->err) {
            fprintf(stderr, "waitgen: cannot connect to %s:%d: %s\n", opt.host, opt.port,
                    ac ? ac->errstr : "out of memory");
            return 2;
        }
        ac->data = &clients[i];
        clients[i].ac = ac;
        alive++;
        redisLibeventAttach(ac, base);
        redisAsyncSetConnectCallback(ac, on_connect);
        redisAsyncSetDisconnectCallback(ac, on_disconnect);
    }
    struct timeval tv = {(time_t)opt.timeout_s, 0};
    struct event *timer = evtimer_new(base, on_timeout, NULL);
    evtimer_add(timer, &tv);
    struct event *sigterm = evsignal_new(base, SIGTERM, on_stop, NULL);
    struct event *sigint = evsignal_new(base, SIGINT, on_stop, NULL);
    evsignal_add(sigterm, NULL);
    evsignal_add(sigint, NULL);
    /* the loop ends when the clients are gone and only the timer is left */
    while (!fatal && !ended && event_base_loop(base, EVLOOP_ONCE) == 0) {
    }
    if (!fatal) { /* let the disconnects finish */
        while (alive > 0 && event_base_loop(base, EVLOOP_ONCE) == 0) {
        }
    }
    event_free(timer);
    event_free(sigterm);
    event_free(sigint);
    if (fatal || done + failed < issued || issued == 0) {
        return 2;
    }
    double secs = (double)(end_us - start_us) / 1e6;
    char name[64];
    if (opt.test == T_GET)
        snprintf(name, sizeof(name), "GET");
    else if (opt.test == T_PING)
        snprintf(name, sizeof(name), "PING");
    else if (opt.wait_n >= 0)
        snprintf(name, sizeof(name), "SET+WAIT %lld %lld", opt.wait_n, opt.wait_t);
    else
        snprintf(name, sizeof(name), "SET");
    printf("\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\","
           "\"p95_latency_ms\",\"p99_latency_ms\",\"p999_latency_ms\",\"max_latency_ms\","
           "\"requests\",\"errors\",\"over_10ms\"\n");
    printf("\"%s\",\"%.2f\",\"%.3f\",\"%.3f\",\"%.3f\",\"%.3f\",\"%.3f\",\"%.3f\",\"%.3f\","
           "\"%" PRIu64 "\",\"%" PRIu64 "\",\"%" PRIu64 "\"\n",
           name, secs > 0 ? (double)done / secs : 0.0,
           lat.n ? (double)lat.sum_us / (double)lat.n / 1000.0 : 0.0,
           lat.n ? (double)lat.min_us / 1000.0 : 0.0, (double)hist_percentile(&lat, 50) / 1000.0,
           (double)hist_percentile(&lat, 95) / 1000.0, (double)hist_percentile(&lat, 99) / 1000.0,
           (double)hist_percentile(&lat, 99.9) / 1000.0, (double)lat.max_us / 1000.0, done, failed,
           hist_count_above(&lat, 10000));
    event_base_free(base);
    free(clients);
    free(value);
    return failed ? 1 : 0;
}
