/* alloc.h -- internal: every allocation of resp/ goes through these, so a
 * test can make any of them fail (resp_set_allocators()). */
#ifndef RAFTKV_RESP_ALLOC_H
#define RAFTKV_RESP_ALLOC_H

#include "resp/resp.h"

extern resp_allocators resp_alloc_;

#define resp_malloc(n) (resp_alloc_.malloc_fn(n))
#define resp_realloc(p, n) (resp_alloc_.realloc_fn((p), (n)))
#define resp_free(p) (resp_alloc_.free_fn(p))

#endif
