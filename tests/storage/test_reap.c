/* test_reap.c -- kvreap: a file's name is gone when kvreap_unlinkat()
 * returns, its descriptor is closed by the reaper's thread (none is left
 * open once the queue drains, or after kvreap_free), errors are
 * unlinkat's, and without a reaper the file is deleted in the caller. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <time.h>

#include "kvtest.h"
#include "storage/kvreap.h"

/* Descriptors this process has open. */
static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n - 1; /* the DIR's own */
}

static void make_file(int dirfd, const char *name, size_t bytes)
{
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    char buf[4096] = {1};
    for (size_t done = 0; done < bytes; done += sizeof(buf))
        assert_int_equal(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
    close(fd);
}

static int exists(int dirfd, const char *name)
{
    struct stat st;
    return fstatat(dirfd, name, &st, 0) == 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void names_go_at_once_and_the_thread_closes_every_descriptor(void **state)
{
    (void)state;
    char *dir = kvt_mkdtemp();
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dirfd >= 0);
    kvreap *r = kvreap_new();
    assert_non_null(r);
    int base = open_fds();
    char name[32];
    for (int i = 0; i < 40; i++) { /* past the queue's first capacity */
        snprintf(name, sizeof(name), "seg%d", i);
        make_file(dirfd, name, 1 << 20);
        assert_int_equal(kvreap_unlinkat(r, dirfd, name), 0);
        assert_false(exists(dirfd, name));
    }
    /* what is still queued is still open, nothing more; the queue drains */
    assert_true(open_fds() - base <=
                1 + (int)kvreap_pending(r)); /* + the thread's close in flight */
    double deadline = now_s() + 10;
    while ((kvreap_pending(r) != 0 || open_fds() != base) && now_s() < deadline)
        usleep(1000);
    assert_int_equal(kvreap_pending(r), 0);
    assert_int_equal(open_fds(), base);
    /* kvreap_free closes what is queued */
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof(name), "late%d", i);
        make_file(dirfd, name, 1 << 16);
        assert_int_equal(kvreap_unlinkat(r, dirfd, name), 0);
    }
    kvreap_free(r);
    assert_int_equal(open_fds(), base);
    DIR *d = fdopendir(dup(dirfd));
    int left = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (e->d_name[0] != '.') left++;
    closedir(d);
    assert_int_equal(left, 0);
    close(dirfd);
    kvt_rmrf(dir); /* frees dir */
}

static void errors_are_unlinkats_and_no_reaper_deletes_in_the_caller(void **state)
{
    (void)state;
    char *dir = kvt_mkdtemp();
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    kvreap *r = kvreap_new();
    int base = open_fds();
    errno = 0;
    assert_int_equal(kvreap_unlinkat(r, dirfd, "missing"), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(kvreap_pending(r), 0);
    assert_int_equal(mkdirat(dirfd, "sub", 0755), 0); /* unlinkat without AT_REMOVEDIR */
    errno = 0;
    assert_int_equal(kvreap_unlinkat(r, dirfd, "sub"), -1);
    assert_int_equal(errno, EISDIR);
    assert_true(exists(dirfd, "sub"));
    assert_int_equal(open_fds(), base);
    make_file(dirfd, "plain", 4096);
    assert_int_equal(kvreap_unlinkat(NULL, dirfd, "plain"), 0);
    assert_false(exists(dirfd, "plain"));
    assert_int_equal(open_fds(), base);
    assert_int_equal(kvreap_pending(NULL), 0);
    kvreap_free(r);
    kvreap_free(NULL);
    close(dirfd);
    kvt_rmrf(dir); /* frees dir */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_go_at_once_and_the_thread_closes_every_descriptor),
        cmocka_unit_test(errors_are_unlinkats_and_no_reaper_deletes_in_the_caller),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
