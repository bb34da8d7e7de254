/* zipfgen: the cache-aside load of tests/bench/eviction (issue 19) from C, on
 * hiredis async and libevent, so a run measures the server rather than a
 * Python client.
 *
 *   zipfgen [-h host] [-p port] [-c clients] [-P pipeline] [-n gets]
 *           [-r keys] [-d bytes] [--skew s] [--seed n] [--timeout s]
 *
 * Keys "key:<name>" are drawn from a Zipfian distribution of skew s over
 * -r keys (rank i has weight 1/i^s), the ranks shuffled onto names by the
 * seed so popularity has nothing to do with where a key hashes. Each client
 * sends a batch of P GETs; when all are answered it sends a SET of a -d
 * byte value for each miss, and when those are answered the next batch, so
 * at most P requests per client are out. -n GETs in all, over every
 * client; the hit ratio is counted over the second half of them (by issue
 * order: the first half warms the cache). Client i draws from its own
 * generator, seeded by (seed, i), so two runs with the same options send
 * the same keys. Prints one CSV header line and one row on stdout:
 *   "gets","sets","seconds","gets_per_s","ops_per_s","hit_ratio_2nd_half"
 * (ops: GETs and SETs). Exit status 0, 1 when some reply was an error, 2 on
 * a usage error, a connection failure or the --timeout. */
#include <errno.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <math.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct client {
    redisAsyncContext *ac;
    uint64_t rng;
    unsigned pending; /* replies still due for this batch */
    uint64_t *missed; /* names of this batch's misses (pipeline of them) */
    unsigned nmissed;
    int connected;
} client;

typedef struct get_ctx {
    client *c;
    uint64_t name;
    uint64_t seq; /* issue order over every client */
} get_ctx;

static struct {
    const char *host;
    int port;
    int clients;
    int pipeline;
    uint64_t gets;
    uint64_t keys;
    size_t datasize;
    double skew;
    uint64_t seed;
    double timeout_s;
} opt = {"127.0.0.1", 6379, 8, 16, 100000, 100000, 200, 0.99, 20261206, 600.0};

static struct event_base *base;
static client *clients;
static char *value;
static double *cdf;     /* cdf[i]: share of ranks 0..i */
static uint64_t *names; /* rank -> name */
static get_ctx *getctx; /* one per GET issued, indexed by seq */
static uint64_t issued, answered_gets, sets, errors, hits2, gets2;
static int connected, alive, ended, fatal;
static uint64_t start_us, end_us;

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A rank, from the cdf: the first i with cdf[i] >= u. */
static uint64_t zipf_rank(uint64_t *rng)
{
    double u = (double)(splitmix(rng) >> 11) / (double)(1ull << 53);
    uint64_t lo = 0, hi = opt.keys - 1;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (cdf[mid] >= u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
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

static int reply_error(const redisReply *r)
{
    static int shown;
    if (r->type != REDIS_REPLY_ERROR) return 0;
    if (shown++ < 3) fprintf(stderr, "zipfgen: error reply: %.*s\n", (int)r->len, r->str);
    errors++;
    return 1;
}

static void send_batch(client *c);

/* Every GET answered and no client has SETs out: the run is over. */
static void finish_if_done(void)
{
    if (ended || answered_gets < opt.gets) return;
    for (int i = 0; i < opt.clients; i++)
        if (clients[i].pending) return;
    ended = 1;
    end_us = now_us();
    stop_all();
}

static void batch_done(client *c)
{
    if (issued < opt.gets)
        send_batch(c);
    else
        finish_if_done();
}

static void on_set(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    client *c = priv;
    if (reply == NULL) return; /* disconnected: on_disconnect deals with it */
    reply_error(reply);
    sets++;
    if (--c->pending == 0) batch_done(c);
}

static void on_get(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    get_ctx *g = priv;
    client *c = g->c;
    redisReply *r = reply;
    if (r == NULL) return;
    answered_gets++;
    int hit = 0;
    if (!reply_error(r)) {
        hit = r->type != REDIS_REPLY_NIL;
        if (!hit) c->missed[c->nmissed++] = g->name;
    }
    if (g->seq >= opt.gets / 2) {
        gets2++;
        hits2 += (uint64_t)hit;
    }
    if (--c->pending > 0) return;
    if (c->nmissed == 0) {
        batch_done(c);
        return;
    }
    /* cache-aside: the misses are filled before the next batch */
    for (unsigned i = 0; i < c->nmissed; i++) {
        char key[32];
        int klen = snprintf(key, sizeof(key), "key:%" PRIu64, c->missed[i]);
        c->pending++;
        redisAsyncCommand(c->ac, on_set, c, "SET %b %b", key, (size_t)klen, value, opt.datasize);
    }
    c->nmissed = 0;
}

static void send_batch(client *c)
{
    if (!c->connected) return;
    for (int n = 0; n < opt.pipeline && issued < opt.gets; n++) {
        get_ctx *g = &getctx[issued];
        g->c = c;
        g->seq = issued++;
        g->name = names[zipf_rank(&c->rng)];
        char key[32];
        int klen = snprintf(key, sizeof(key), "key:%" PRIu64, g->name);
        c->pending++;
        redisAsyncCommand(c->ac, on_get, g, "GET %b", key, (size_t)klen);
    }
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    client *c = ac->data;
    if (status != REDIS_OK) {
        fprintf(stderr, "zipfgen: cannot connect to %s:%d: %s\n", opt.host, opt.port, ac->errstr);
        c->ac = NULL; /* hiredis frees it */
        fatal = 1;
        stop_all();
        return;
    }
    c->connected = 1;
    if (++connected == opt.clients) {
        start_us = now_us();
        for (int i = 0; i < opt.clients; i++)
            send_batch(&clients[i]);
    }
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    client *c = ac->data;
    c->ac = NULL;
    alive--;
    if ((c->connected || status != REDIS_OK) && !ended) {
        fprintf(stderr, "zipfgen: connection lost: %s\n", ac->errstr);
        fatal = 1;
        c->connected = 0;
        stop_all();
    }
    c->connected = 0;
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    fprintf(stderr, "zipfgen: not done after %.0f s (%" PRIu64 " of %" PRIu64 " GETs answered)\n",
            opt.timeout_s, answered_gets, opt.gets);
    fatal = 1;
    stop_all();
    event_base_loopbreak(base);
}

static void usage(void)
{
    fprintf(stderr, "usage: zipfgen [-h host] [-p port] [-c clients] [-P pipeline] [-n gets]\n"
                    "               [-r keys] [-d bytes] [--skew s] [--seed n] [--timeout s]\n");
    exit(2);
}

static long long num_arg(const char *s, long long lo, long long hi)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "zipfgen: bad number '%s' (%lld..%lld)\n", s, lo, hi);
        exit(2);
    }
    return v;
}

/* The Zipfian cdf over opt.keys ranks and the seeded rank -> name map. */
static int build_keys(void)
{
    cdf = malloc(sizeof(*cdf) * opt.keys);
    names = malloc(sizeof(*names) * opt.keys);
    if (cdf == NULL || names == NULL) return -1;
    double acc = 0;
    for (uint64_t i = 0; i < opt.keys; i++) {
        acc += 1.0 / pow((double)(i + 1), opt.skew);
        cdf[i] = acc;
    }
    for (uint64_t i = 0; i < opt.keys; i++) {
        cdf[i] /= acc;
        names[i] = i;
    }
    uint64_t rng = opt.seed;
    for (uint64_t i = opt.keys - 1; i > 0; i--) { /* Fisher-Yates */
        uint64_t j = splitmix(&rng) % (i + 1), t = names[i];
        names[i] = names[j];
        names[j] = t;
    }
    return 0;
}

int main(int argc, char **argv)
{
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
            opt.gets = (uint64_t)num_arg(argv[++i], 1, 1ll << 32);
        } else if (strcmp(a, "-r") == 0 && more) {
            opt.keys = (uint64_t)num_arg(argv[++i], 1, 1ll << 30);
        } else if (strcmp(a, "-d") == 0 && more) {
            opt.datasize = (size_t)num_arg(argv[++i], 1, 512ll << 20);
        } else if (strcmp(a, "--skew") == 0 && more) {
            char *end;
            opt.skew = strtod(argv[++i], &end);
            if (*end != '\0' || !(opt.skew >= 0 && opt.skew <= 10)) usage();
        } else if (strcmp(a, "--seed") == 0 && more) {
            opt.seed = (uint64_t)num_arg(argv[++i], 0, INT64_MAX);
        } else if (strcmp(a, "--timeout") == 0 && more) {
            opt.timeout_s = (double)num_arg(argv[++i], 1, 86400);
        } else {
            usage();
        }
    }
    value = malloc(opt.datasize);
    clients = calloc((size_t)opt.clients, sizeof(*clients));
    getctx = calloc(opt.gets, sizeof(*getctx));
    base = event_base_new();
    if (value == NULL || clients == NULL || getctx == NULL || base == NULL || build_keys() != 0) {
        fprintf(stderr, "zipfgen: out of memory\n");
        return 2;
    }
    memset(value, 'v', opt.datasize);
    for (int i = 0; i < opt.clients; i++) {
        clients[i].rng = opt.seed ^ (0x632be59bd9b4e019ull * (uint64_t)(i + 1));
        clients[i].missed = malloc(sizeof(uint64_t) * (size_t)opt.pipeline);
        redisAsyncContext *ac = redisAsyncConnect(opt.host, opt.port);
        if (clients[i].missed == NULL || ac == NULL || ac->err) {
            fprintf(stderr, "zipfgen: cannot connect to %s:%d: %s\n", opt.host, opt.port,
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
    while (!fatal && !ended && event_base_loop(base, EVLOOP_ONCE) == 0) {
    }
    if (!fatal) { /* let the disconnects finish */
        while (alive > 0 && event_base_loop(base, EVLOOP_ONCE) == 0) {
        }
    }
    event_free(timer);
    int rc = fatal || !ended ? 2 : errors ? 1 : 0;
    if (rc != 2) {
        double secs = (double)(end_us - start_us) / 1e6;
        printf(
            "\"gets\",\"sets\",\"seconds\",\"gets_per_s\",\"ops_per_s\",\"hit_ratio_2nd_half\"\n");
        printf("\"%" PRIu64 "\",\"%" PRIu64 "\",\"%.3f\",\"%.1f\",\"%.1f\",\"%.4f\"\n", opt.gets,
               sets, secs, secs > 0 ? (double)opt.gets / secs : 0.0,
               secs > 0 ? (double)(opt.gets + sets) / secs : 0.0,
               gets2 ? (double)hits2 / (double)gets2 : 0.0);
    }
    event_base_free(base);
    for (int i = 0; i < opt.clients; i++)
        free(clients[i].missed);
    free(clients);
    free(getctx);
    free(value);
    free(cdf);
    free(names);
    return rc;
}
