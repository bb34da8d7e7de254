/* evict.c -- access data and the leader's choice of eviction victims
 * (evict.h), after Redis's evict.c: the eviction pool, LRU idle time, the
 * LFU logarithmic counter and its decay. */
#include "server/evict.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "server/server.h"
#include "storage/kvcmd.h"
#include "storage/kvstate.h"

/* ------------------------------------------------------------ access data */

#define ACC_BITS 20
#define ACC_SLOTS (1u << ACC_BITS)
#define LFU_INIT_VAL 5
#define EVPOOL_SIZE 16
#define EVICT_MAX_VICTIMS 1024

typedef struct acc {
    uint32_t tag;    /* upper bits of the key's hash; 0: empty */
    uint32_t lru;    /* node's monotonic clock, seconds */
    uint16_t ldt;    /* LFU: last decrement time, minutes (mod 2^16) */
    uint8_t counter; /* LFU: logarithmic counter */
} acc;

static acc *table; /* ACC_SLOTS (acc_table_new), from evict_prepare() or the first touch */
static uint64_t rng_state;

static uint64_t rnd(void)
{
    if (!rng_state) rng_state = (uint64_t)mono_us() * 0x9e3779b97f4a7c15ull | 1;
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint32_t now_s(void)
{
    return (uint32_t)(pass_clock_us() / 1000000) + 1;
}

static uint16_t now_min(void)
{
    return (uint16_t)(pass_clock_us() / 60000000);
}

/* FNV-1a over (db, key): the slot and the tag. */
static uint64_t key_hash(int db, const char *key, size_t keylen)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)(unsigned)db;
    h *= 1099511628211ull;
    for (size_t i = 0; i < keylen; i++) {
        h ^= (unsigned char)key[i];
        h *= 1099511628211ull;
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 32);
}

/* Every access of a key lands on a random slot of this 12 MB table: in
 * 4 KB pages that is a TLB miss nearly every time (14% of a node's CPU
 * under GET -P 16, perf), so it asks for huge pages (transparent, where
 * the kernel allows them: 2 MB aligned). Zero pages until touched. */
static acc *acc_table_new(void)
{
    size_t len = ACC_SLOTS * sizeof(acc), huge = 2u << 20;
    char *p = mmap(NULL, len + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    char *a = (char *)(((uintptr_t)p + huge - 1) & ~(uintptr_t)(huge - 1));
    if (a > p) munmap(p, (size_t)(a - p));
    size_t tail = (size_t)(p + len + huge - (a + len));
    if (tail) munmap(a + len, tail);
#ifdef MADV_HUGEPAGE
    madvise(a, len, MADV_HUGEPAGE);
#endif
    return (acc *)a;
}

void evict_prepare(void)
{
    if (table || !(table = acc_table_new())) return;
    volatile char *b = (volatile char *)table;
    for (size_t off = 0; off < ACC_SLOTS * sizeof(acc); off += 4096)
        b[off] = 0; /* zero already: the write only makes the page */
}

/* The slot of (db, key), or NULL. With create, a slot holding another key
 * (or none) is taken over and starts as Redis's new object; *fresh says so. */
static acc *lookup_hash(uint64_t h, int create, int *fresh)
{
    if (!table) {
        if (!create || !(table = acc_table_new())) return NULL;
    }
    acc *a = &table[h & (ACC_SLOTS - 1)];
    uint32_t tag = (uint32_t)(h >> 32) | 1;
    if (fresh) *fresh = 0;
    if (a->tag == tag) return a;
    if (!create) return NULL;
    uint64_t us = (uint64_t)pass_clock_us();
    a->tag = tag;
    a->lru = (uint32_t)(us / 1000000) + 1;
    a->ldt = (uint16_t)(us / 60000000);
    a->counter = LFU_INIT_VAL;
    if (fresh) *fresh = 1;
    return a;
}

static acc *lookup_at(int db, const char *key, size_t keylen, int create, int *fresh)
{
    return lookup_hash(key_hash(db, key, keylen), create, fresh);
}

static acc *lookup(int db, const char *key, size_t keylen, int create)
{
    return lookup_at(db, key, keylen, create, NULL);
}

/* Redis's LFUDecrAndReturn(). */
static unsigned lfu_decayed(const acc *a)
{
    int decay = kvstate_memconf(srv.state)->lfu_decay_time;
    uint16_t elapsed = (uint16_t)(now_min() - a->ldt);
    unsigned periods = decay ? elapsed / (unsigned)decay : 0;
    return periods > a->counter ? 0 : a->counter - periods;
}

/* Redis's LFULogIncr(). */
static unsigned lfu_incr(unsigned counter)
{
    if (counter == 255) return 255;
    double r = (double)(rnd() >> 11) / (double)(1ull << 53);
    double base = counter > LFU_INIT_VAL ? counter - LFU_INIT_VAL : 0;
    double p = 1.0 / (base * kvstate_memconf(srv.state)->lfu_log_factor + 1);
    return r < p ? counter + 1 : counter;
}

/* An access, as Redis's lookupKey() records it: the LFU counter under an
 * LFU policy (what OBJECT FREQ reads), the LRU clock otherwise (what
 * OBJECT IDLETIME reads); one hash and one clock read per key, since every
 * read and write of this node comes here. */
static void touch_hash(uint64_t h)
{
    int fresh;
    acc *a = lookup_hash(h, 1, &fresh);
    if (!a || fresh) return; /* a new slot starts as Redis's new object */
    if (kv_policy_lfu(kvstate_memconf(srv.state)->policy)) {
        a->counter = (uint8_t)lfu_incr(lfu_decayed(a));
        a->ldt = now_min();
    } else {
        a->lru = now_s();
    }
}

/* A read's keys, hashed and their slots prefetched by evict_touch_read(),
 * touched by evict_touch_flush() once the read ran: the slot's cache miss
 * then overlaps the read's own B-tree search instead of adding to it.
 * Writes (applied entries) go through a ring: a key is touched WRING
 * writes after its slot was prefetched, or at the next flush. */
static uint64_t pending[16];
static int npending;
#define WRING 8
static uint64_t wring[WRING];
static unsigned whead, wn;

void evict_touch_write(int db, const char *key, size_t keylen)
{
    if (db < 0 || !key) return;
    uint64_t h = key_hash(db, key, keylen);
    if (table) __builtin_prefetch(&table[h & (ACC_SLOTS - 1)], 1);
    if (wn == WRING) {
        touch_hash(wring[whead]);
        wring[whead] = h;
        whead = (whead + 1) % WRING;
    } else {
        wring[(whead + wn++) % WRING] = h;
    }
}

void evict_touch_read(int db, const kv_command *cmd, int argc, char **argv, size_t *argvlen)
{
    int pos[16];
    evict_touch_flush();
    /* OBJECT and the like read without touching (Redis's LOOKUP_NOTOUCH). */
    if (argc < 2 || !cmd || !(cmd->flags & KV_CMD_READONLY) || kv_command_notouch(cmd)) return;
    int n = kv_command_keys(cmd, argc, argv, argvlen, pos, 16);
    if (n > 16) n = 16;
    for (int i = 0; i < n; i++) {
        uint64_t h = key_hash(db, argv[pos[i]], argvlen[pos[i]]);
        if (table) __builtin_prefetch(&table[h & (ACC_SLOTS - 1)], 1);
        pending[i] = h;
    }
    npending = n;
}

void evict_touch_flush(void)
{
    for (; wn; wn--, whead = (whead + 1) % WRING)
        touch_hash(wring[whead]);
    for (int i = 0; i < npending; i++)
        touch_hash(pending[i]);
    npending = 0;
}

long long evict_access(void *ctx, int which, int db, const char *key, size_t keylen)
{
    (void)ctx;
    evict_touch_flush();
    acc *a = lookup(db, key, keylen, 0);
    if (which == 1) return a ? (long long)lfu_decayed(a) : 0;
    return a ? (long long)(now_s() - a->lru) : (long long)now_s();
}

void evict_bytes_human(char *buf, size_t len, uint64_t n)
{
    double d = (double)n;
    if (n < 1024)
        snprintf(buf, len, "%lluB", (unsigned long long)n);
    else if (n < 1024ull * 1024)
        snprintf(buf, len, "%.2fK", d / 1024);
    else if (n < 1024ull * 1024 * 1024)
        snprintf(buf, len, "%.2fM", d / (1024.0 * 1024));
    else if (n < 1024ull * 1024 * 1024 * 1024)
        snprintf(buf, len, "%.2fG", d / (1024.0 * 1024 * 1024));
    else if (n < 1024ull * 1024 * 1024 * 1024 * 1024)
        snprintf(buf, len, "%.2fT", d / (1024.0 * 1024 * 1024 * 1024));
    else
        snprintf(buf, len, "%.2fP", d / (1024.0 * 1024 * 1024 * 1024 * 1024));
}

/* ------------------------------------------------------------ the pool */

typedef struct cand {
    uint64_t idle; /* higher: evicted first */
    kv_evict_sample s;
} cand;

static cand pool[EVPOOL_SIZE];
static int pool_n;
static uint64_t in_flight;   /* index of the eviction entry not yet applied; 0: none */
static int64_t in_flight_at; /* mono_us it was proposed */
static uint64_t proposed;

uint64_t evict_entries_proposed(void)
{
    return proposed;
}

static void pool_clear(void)
{
    for (int i = 0; i < pool_n; i++)
        free(pool[i].s.key);
    pool_n = 0;
}

static int same_key(const kv_evict_sample *a, const kv_evict_sample *b)
{
    return a->phys == b->phys && a->keylen == b->keylen && !memcmp(a->key, b->key, a->keylen);
}

/* The score Redis's evictionPoolPopulate() gives a sample. */
static uint64_t idle_of(const kv_evict_sample *s, int policy)
{
    acc *a = lookup(s->db, s->key, s->keylen, 0);
    switch (policy) {
    case KV_MAXMEM_ALLKEYS_LFU:
    case KV_MAXMEM_VOLATILE_LFU:
        return 255 - (a ? lfu_decayed(a) : 0);
    case KV_MAXMEM_VOLATILE_TTL:
        return UINT64_MAX - (uint64_t)s->expiry;
    default: /* LRU; an untracked key is idle since the node started */
        return a ? now_s() - a->lru : now_s();
    }
}

/* Inserts s (owned: taken or freed) by ascending idle, as Redis's pool. */
static void pool_insert(kv_evict_sample *s, uint64_t idle)
{
    for (int i = 0; i < pool_n; i++)
        if (same_key(&pool[i].s, s)) {
            pool[i].s.stamp = s->stamp; /* the newest view of it */
            pool[i].s.bytes = s->bytes;
            free(s->key);
            return;
        }
    int k = 0;
    while (k < pool_n && pool[k].idle < idle)
        k++;
    if (pool_n == EVPOOL_SIZE) {
        if (k == 0) { /* worse than every candidate */
            free(s->key);
            return;
        }
        free(pool[0].s.key); /* drop the best-kept one */
        memmove(&pool[0], &pool[1], sizeof(pool[0]) * (size_t)(k - 1));
        k--;
    } else {
        memmove(&pool[k + 1], &pool[k], sizeof(pool[0]) * (size_t)(pool_n - k));
        pool_n++;
    }
    pool[k].idle = idle;
    pool[k].s = *s;
}

/* ------------------------------------------------------------ the leader */

static void propose_victims(cand *v, int n)
{
    char **argv = calloc((size_t)(1 + 3 * n), sizeof(char *));
    size_t *lens = calloc((size_t)(1 + 3 * n), sizeof(size_t));
    char(*nums)[2][24] = calloc((size_t)n, sizeof(*nums));
    if (!argv || !lens || !nums) goto out;
    argv[0] = "raft.evict2";
    lens[0] = 11;
    for (int i = 0; i < n; i++) {
        lens[1 + 3 * i] = (size_t)snprintf(nums[i][0], 24, "%d", v[i].s.phys);
        argv[1 + 3 * i] = nums[i][0];
        argv[2 + 3 * i] = v[i].s.key;
        lens[2 + 3 * i] = v[i].s.keylen;
        lens[3 + 3 * i] =
            (size_t)snprintf(nums[i][1], 24, "%llu", (unsigned long long)v[i].s.stamp);
        argv[3 + 3 * i] = nums[i][1];
    }
    uint64_t index;
    if (write_propose_internal(1 + 3 * n, argv, lens, &index) == 0) {
        in_flight = index;
        in_flight_at = mono_us();
        proposed++;
    }
out:
    free(argv);
    free(lens);
    free(nums);
}

/* The file's or command line's settings become the cluster's when this
 * node first leads, if they differ from the state's (config.h
 * mem_file): once per process, so a later CONFIG SET holds until another
 * node whose file says otherwise starts and leads. */
static void propose_file_settings(void)
{
    static int done;
    const kv_memconf *m = kvstate_memconf(srv.state), *f = &cfg.mem_file;
    if (done || !cfg.mem_file_set) return;
    done = 1;
    if (m->maxmemory == f->maxmemory && m->policy == f->policy && m->samples == f->samples &&
        m->lfu_log_factor == f->lfu_log_factor && m->lfu_decay_time == f->lfu_decay_time)
        return;
    char v[5][24];
    char *av[6] = {"raft.memconf", v[0], v[1], v[2], v[3], v[4]};
    size_t al[6] = {12};
    al[1] = (size_t)snprintf(v[0], 24, "%llu", (unsigned long long)f->maxmemory);
    al[2] = (size_t)snprintf(v[1], 24, "%s", kv_policy_name(f->policy));
    al[3] = (size_t)snprintf(v[2], 24, "%d", f->samples);
    al[4] = (size_t)snprintf(v[3], 24, "%d", f->lfu_log_factor);
    al[5] = (size_t)snprintf(v[4], 24, "%d", f->lfu_decay_time);
    uint64_t index;
    if (write_propose_internal(6, av, al, &index) != 0) done = 0; /* try again */
}

void evict_cron(void)
{
    evict_touch_flush(); /* the pool samples what the touches wrote */
    const kv_memconf *m = kvstate_memconf(srv.state);
    if (!driver_is_leader()) {
        in_flight = 0;
        if (pool_n) pool_clear();
        return;
    }
    propose_file_settings();
    if (in_flight) {
        /* One entry at a time: wait until it applied (or got lost in a
         * leader change: a second's patience). */
        if (kvstate_applied_index(srv.state) < in_flight && mono_us() - in_flight_at < 1000000)
            return;
        in_flight = 0;
    }
    uint64_t acct = kvstate_accounted(srv.state);
    if (!m->maxmemory || m->policy == KV_MAXMEM_NOEVICTION || acct <= m->maxmemory) return;
    /* Down to 99% of maxmemory, so a steady load needs an entry every
     * hundredth of maxmemory written rather than one per write. */
    uint64_t need = acct - m->maxmemory + m->maxmemory / 100;
    int vol = kv_policy_volatile(m->policy), ttl = m->policy == KV_MAXMEM_VOLATILE_TTL;
    int rand_pol = m->policy == KV_MAXMEM_ALLKEYS_RANDOM || m->policy == KV_MAXMEM_VOLATILE_RANDOM;
    static cand victims[EVICT_MAX_VICTIMS];
    int nv = 0;
    uint64_t freed = 0;
    int max = 64 * KV_MAX_DBS + EVICT_MAX_VICTIMS;
    kv_evict_sample *buf = calloc((size_t)max, sizeof(*buf));
    if (!buf) return;
    if (ttl) {
        /* The nearest expiries of every database, nearest first. */
        int got = kvstate_evict_sample(srv.state, EVICT_MAX_VICTIMS, 1, 1, &rng_state, buf, max);
        for (int i = 0; i < got; i++) {
            int best = i;
            for (int j = i + 1; j < got; j++)
                if (buf[j].expiry < buf[best].expiry) best = j;
            kv_evict_sample t = buf[i];
            buf[i] = buf[best];
            buf[best] = t;
            if (freed < need && nv < EVICT_MAX_VICTIMS) {
                victims[nv].idle = 0;
                victims[nv++].s = buf[i];
                freed += buf[i].bytes;
            } else {
                free(buf[i].key);
            }
        }
    }
    for (int round = 0;
         !ttl && round < 4 * EVICT_MAX_VICTIMS && freed < need && nv < EVICT_MAX_VICTIMS; round++) {
        int samples = m->samples > 64 ? 64 : m->samples;
        int n = rand_pol ? 1 : samples;
        int got = kvstate_evict_sample(srv.state, n, vol, 0, &rng_state, buf,
                                       n * KV_MAX_DBS < max ? n * KV_MAX_DBS : max);
        if (got <= 0) break; /* nothing evictable */
        for (int i = 0; i < got; i++) {
            int dup = 0;
            for (int j = 0; j < nv && !dup; j++)
                dup = same_key(&victims[j].s, &buf[i]);
            if (dup)
                free(buf[i].key);
            else
                pool_insert(&buf[i], rand_pol ? rnd() : idle_of(&buf[i], m->policy));
        }
        if (!pool_n) continue;
        /* The best candidate (highest idle) becomes a victim, if it is
         * still what the pool saw: one kept from an earlier look may have
         * been written (then it is no longer idle, and the entry would
         * spare it) or deleted since. */
        cand best = pool[--pool_n];
        if (kvstate_evict_current(srv.state, &best.s) != 1) {
            free(best.s.key);
            continue;
        }
        victims[nv++] = best;
        freed += best.s.bytes;
    }
    free(buf);
    if (nv) propose_victims(victims, nv);
    for (int i = 0; i < nv; i++)
        free(victims[i].s.key);
}
