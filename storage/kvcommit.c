/* kvcommit.c -- the state's write transactions begun and ended on a thread
 * of their own (kvint.h "kvcommitter").
 *
 * LMDB ties a write transaction to the thread that began it: the writer
 * lock it takes is a mutex, which only its owner may release, at commit or
 * abort. In between, any one thread at a time may use the transaction. So
 * this thread begins and ends every write transaction of the state, and the
 * loop's thread applies entries into it: a commit (its page writes and two
 * fdatasyncs) can then run here while the loop goes on with everything that
 * does not need the state.
 *
 * One job at a time: a synchronous call waits for the job in flight, then
 * for its own. An asynchronous commit's end is signalled on an eventfd. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "storage/kvint.h"

enum { JOB_NONE, JOB_BEGIN, JOB_COMMIT, JOB_ABORT, JOB_STOP };

struct kvcommitter {
    MDB_env *env;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a job posted, or one done */
    int job;           /* posted and not yet taken: JOB_NONE when free */
    int running;       /* taken and not yet done */
    int async;         /* the job in flight is an asynchronous commit */
    int async_done;    /* it finished; its result is in async_rc */
    int async_rc;
    MDB_txn *txn;      /* the job's transaction (in), or the begun one (out) */
    int rc;            /* a synchronous job's result */
    int done;          /* a synchronous job finished */
    int efd;           /* readable once an asynchronous commit finished */
    unsigned delay_ms; /* RAFTKV_TEST_COMMIT_DELAY_MS: tests hold each posted commit */
};

static void *run(void *arg)
{
    kvcommitter *c = arg;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (c->job == JOB_NONE)
            pthread_cond_wait(&c->cv, &c->mu);
        int job = c->job;
        MDB_txn *txn = c->txn;
        c->job = JOB_NONE;
        if (job == JOB_STOP) break;
        c->running = 1;
        int async = c->async;
        pthread_mutex_unlock(&c->mu);
        int rc = 0;
        if (job == JOB_COMMIT && c->delay_ms && async) {
            struct timespec ts = {c->delay_ms / 1000, (long)(c->delay_ms % 1000) * 1000000L};
            while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
            }
        }
        if (job == JOB_BEGIN)
            rc = mdb_txn_begin(c->env, NULL, 0, &txn);
        else if (job == JOB_COMMIT)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
        pthread_mutex_lock(&c->mu);
        c->running = 0;
        if (c->async) {
            c->async = 0;
            c->async_done = 1;
            c->async_rc = rc;
            uint64_t one = 1;
            /* the loop reads it; a full counter cannot happen (one per commit) */
            if (write(c->efd, &one, sizeof(one)) < 0) (void)errno;
        } else {
            c->txn = job == JOB_BEGIN && rc == 0 ? txn : NULL;
            c->rc = rc;
            c->done = 1;
        }
        pthread_cond_broadcast(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

int kvc_start(kvcommitter **out, MDB_env *env)
{
    kvcommitter *c = kv_calloc(1, sizeof(*c));
    if (!c) return ENOMEM;
    c->env = env;
    const char *d = getenv("RAFTKV_TEST_COMMIT_DELAY_MS");
    c->delay_ms = d ? (unsigned)strtoul(d, NULL, 10) : 0;
    c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (c->efd < 0) {
        int e = errno;
        free(c);
        return e;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    int rc = pthread_create(&c->thread, NULL, run, c);
    if (rc != 0) {
        close(c->efd);
        pthread_mutex_destroy(&c->mu);
        pthread_cond_destroy(&c->cv);
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

/* Waits until no job is posted or running (an asynchronous commit's
 * result stays for kvc_wait()). Called with mu held. */
static void idle_locked(kvcommitter *c)
{
    while (c->job != JOB_NONE || c->running)
        pthread_cond_wait(&c->cv, &c->mu);
}

static int call(kvcommitter *c, int job, MDB_txn **txn)
{
    pthread_mutex_lock(&c->mu);
    idle_locked(c);
    c->job = job;
    c->txn = *txn;
    c->done = 0;
    pthread_cond_broadcast(&c->cv);
    while (!c->done)
        pthread_cond_wait(&c->cv, &c->mu);
    *txn = c->txn;
    int rc = c->rc;
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void kvc_stop(kvcommitter *c)
{
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    idle_locked(c);
    c->job = JOB_STOP;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    close(c->efd);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}

int kvc_begin(kvcommitter *c, MDB_txn **txn)
{
    *txn = NULL;
    return call(c, JOB_BEGIN, txn);
}

int kvc_commit(kvcommitter *c, MDB_txn *txn)
{
    return call(c, JOB_COMMIT, &txn);
}

void kvc_abort(kvcommitter *c, MDB_txn *txn)
{
    call(c, JOB_ABORT, &txn);
}

void kvc_commit_post(kvcommitter *c, MDB_txn *txn)
{
    pthread_mutex_lock(&c->mu);
    idle_locked(c);
    c->job = JOB_COMMIT;
    c->txn = txn;
    c->async = 1;
    c->async_done = 0;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

int kvc_done(kvcommitter *c)
{
    pthread_mutex_lock(&c->mu);
    int done = c->async_done;
    pthread_mutex_unlock(&c->mu);
    return done;
}

int kvc_wait(kvcommitter *c)
{
    pthread_mutex_lock(&c->mu);
    while (!c->async_done)
        pthread_cond_wait(&c->cv, &c->mu);
    c->async_done = 0;
    int rc = c->async_rc;
    pthread_mutex_unlock(&c->mu);
    return rc; /* efd stays readable: its watcher clears it (kvstate_commit_fd()) */
}

int kvc_fd(kvcommitter *c)
{
    return c->efd;
}
