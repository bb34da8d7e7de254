/* kvreap.c -- deleting files without waiting for their page cache
 * (kvreap.h): one thread, a queue of descriptors of unlinked files. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "storage/kvreap.h"

struct kvreap {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int started, stopping;
    int *fds; /* queued, oldest first */
    unsigned n, cap;
};

static void *reaper(void *arg)
{
    kvreap *r = arg;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (r->n == 0 && !r->stopping)
            pthread_cond_wait(&r->cv, &r->mu);
        if (r->n == 0) break; /* stopping, nothing left */
        int fd = r->fds[0];
        pthread_mutex_unlock(&r->mu);
        close(fd); /* the slow part: the inode's pages are freed here */
        pthread_mutex_lock(&r->mu);
        /* counted as pending until closed: shift after the close */
        for (unsigned i = 1; i < r->n; i++)
            r->fds[i - 1] = r->fds[i];
        r->n--;
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

kvreap *kvreap_new(void)
{
    kvreap *r = calloc(1, sizeof(*r));
    if (!r) return NULL;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    return r;
}

/* Queues fd for the thread (started on first use); 0, or -1 when the
 * caller must close it itself. */
static int hand_over(kvreap *r, int fd)
{
    int rc = -1;
    pthread_mutex_lock(&r->mu);
    if (!r->started && pthread_create(&r->thread, NULL, reaper, r) == 0) r->started = 1;
    if (r->started && !r->stopping) {
        if (r->n == r->cap) {
            unsigned cap = r->cap ? r->cap * 2 : 8;
            int *fds = realloc(r->fds, cap * sizeof(*fds));
            if (fds) {
                r->fds = fds;
                r->cap = cap;
            }
        }
        if (r->n < r->cap) {
            r->fds[r->n++] = fd;
            pthread_cond_signal(&r->cv);
            rc = 0;
        }
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int kvreap_unlinkat(kvreap *r, int dirfd, const char *name)
{
    int fd = r ? openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) : -1;
    if (unlinkat(dirfd, name, 0) != 0) {
        int e = errno;
        if (fd >= 0) close(fd);
        errno = e;
        return -1;
    }
    if (fd >= 0 && hand_over(r, fd) != 0) close(fd);
    return 0;
}

unsigned kvreap_pending(kvreap *r)
{
    if (!r) return 0;
    pthread_mutex_lock(&r->mu);
    unsigned n = r->n;
    pthread_mutex_unlock(&r->mu);
    return n;
}

void kvreap_free(kvreap *r)
{
    if (!r) return;
    pthread_mutex_lock(&r->mu);
    r->stopping = 1;
    pthread_cond_signal(&r->cv);
    int started = r->started;
    pthread_mutex_unlock(&r->mu);
    if (started) pthread_join(r->thread, NULL); /* it drains the queue first */
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r->fds);
    free(r);
}
