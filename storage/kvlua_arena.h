/* kvlua_arena.h -- the memory of the scripting VM (storage/kvlua.c): one
 * arena mapped at a fixed address, a deterministic allocator over it, and
 * images of its used part.
 *
 * Why: Lua 5.1 shows memory addresses to scripts (tostring({}), the order
 * of pairs() over tables keyed by tables or functions, GC timing), so the
 * VM must have the same addresses and the same allocation history on every
 * node for every run. The arena is mapped at KVLUA_ARENA_ADDR on every
 * node; the allocator's decisions depend only on the sequence of requests
 * (size classes, LIFO free lists, a bump pointer; no header per block);
 * its state lives at the start of the arena, so an image (a copy of the
 * arena's used bytes) taken after the base VM is built and copied back
 * before each run gives every run the same starting point, whatever ran
 * before on this node.
 *
 * Not thread-safe: one arena per process, used by the applying thread.
 */
#ifndef RAFTKV_KVLUA_ARENA_H
#define RAFTKV_KVLUA_ARENA_H

#include <stddef.h>
#include <stdint.h>

/* Fixed on every node: above ASan's high shadow and its allocator, below
 * the stack and the shared libraries of a typical x86-64 Linux layout. */
#define KVLUA_ARENA_ADDR ((uintptr_t)0x7e0000000000ull)
/* Address space reserved (MAP_NORESERVE: pages cost only once touched). */
#define KVLUA_ARENA_SIZE ((size_t)4 << 30)

/* Maps the arena (once). 0, or -1 with a message in err (the address is
 * taken, or mmap failed). */
int kvlua_arena_map(char *err, size_t errlen);
/* lua_Alloc over the arena. ud is unused. Growing past the limit
 * (kvlua_arena_set_limit) fails (NULL) and sets the exceeded flag. */
void *kvlua_arena_alloc(void *ud, void *ptr, size_t osize, size_t nsize);
/* Bytes of live blocks, as counted by their size classes. */
uint64_t kvlua_arena_used(void);
/* 0: no limit. Counted bytes beyond limit are refused from now on. */
void kvlua_arena_set_limit(uint64_t limit);
int kvlua_arena_exceeded(void);
/* Bytes an image of the current arena takes (the used prefix). */
size_t kvlua_arena_image_size(void);
/* Copies the used prefix into img (image_size bytes). */
void kvlua_arena_save(void *img, size_t len);
/* Puts an image back: the arena is exactly as when it was saved. */
void kvlua_arena_restore(const void *img, size_t len);
/* Forgets everything (the next allocation starts an empty arena). */
void kvlua_arena_reset(void);

#endif
