#include <stdlib.h>

#include "resp/alloc.h"

resp_allocators resp_alloc_ = {malloc, realloc, free};

void resp_set_allocators(const resp_allocators *a)
{
    if (a) {
        resp_alloc_ = *a;
    } else {
        resp_alloc_.malloc_fn = malloc;
        resp_alloc_.realloc_fn = realloc;
        resp_alloc_.free_fn = free;
    }
}
