/* kvsha1.h -- SHA-1 (FIPS 180-1), for script names (EVAL's sha1 of the
 * body, redis.sha1hex). */
#ifndef RAFTKV_KVSHA1_H
#define RAFTKV_KVSHA1_H

#include <stddef.h>

/* hex gets 40 lowercase hex digits and a NUL. */
void kv_sha1hex(char hex[41], const void *data, size_t len);

#endif
