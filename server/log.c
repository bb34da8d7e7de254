#include "server/log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int log_level = LL_NOTICE;
static FILE *log_fp;
static char log_role = 'M';

int log_open(const char *path)
{
    if (!path || !*path) {
        log_fp = NULL;
        return 0;
    }
    FILE *fp = fopen(path, "a");
    if (!fp) return -1;
    if (log_fp) fclose(log_fp);
    log_fp = fp;
    return 0;
}

int log_fd(void)
{
    return log_fp ? fileno(log_fp) : 2;
}

void log_set_role(char role)
{
    log_role = role;
}

void log_write(int level, const char *fmt, ...)
{
    static const char marks[] = ".-*#";
    char msg[1024], ts[64];
    struct timeval tv;
    struct tm tm;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    size_t off = strftime(ts, sizeof(ts), "%d %b %Y %H:%M:%S.", &tm);
    snprintf(ts + off, sizeof(ts) - off, "%03d", (int)(tv.tv_usec / 1000));
    FILE *fp = log_fp ? log_fp : stderr;
    fprintf(fp, "%d:%c %s %c %s\n", (int)getpid(), log_role, ts, marks[level & 3], msg);
    fflush(fp);
}

void *server_calloc(size_t n, size_t size, const char *what)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        serverLog(LL_WARNING, "Out of memory %s", what);
        exit(1);
    }
    return p;
}
