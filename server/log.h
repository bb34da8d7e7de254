/* log.h -- the server's log, in redis-server's line format:
 *   <pid>:<role> <dd Mon yyyy hh:mm:ss.mmm> <level-char> <message>
 * Levels as in redis.conf (debug, verbose, notice, warning). A call below
 * the configured level costs one predictable branch. */
#ifndef RAFTKV_LOG_H
#define RAFTKV_LOG_H

#include <stddef.h>

enum { LL_DEBUG = 0, LL_VERBOSE = 1, LL_NOTICE = 2, LL_WARNING = 3 };

extern int log_level;

/* path NULL or "" logs to stderr. Returns 0 or -1 (errno set). */
int log_open(const char *path);
int log_fd(void); /* the log file's descriptor (2 when logging to stderr): for signal handlers */
void log_set_role(char role); /* 'M' leader/single, 'S' follower, 'C' candidate */
void log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* calloc that logs "Out of memory <what>" and exits on failure (the
 * server's policy for its own small allocations); n 0 allocates one. */
void *server_calloc(size_t n, size_t size, const char *what);

#define serverLog(level, ...)                                                                      \
    do {                                                                                           \
        if ((level) >= log_level) log_write((level), __VA_ARGS__);                                 \
    } while (0)

#endif
