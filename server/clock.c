/* clock.c -- the process's clocks (server.h). */
#include <sys/time.h>
#include <time.h>

#include "server/server.h"

int64_t ustime(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

int64_t mstime(void)
{
    return ustime() / 1000;
}

int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t pass_us;

void pass_clock_set(int64_t now_us)
{
    pass_us = now_us;
}

int64_t pass_clock_us(void)
{
    return pass_us ? pass_us : mono_us();
}
