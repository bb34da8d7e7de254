/* kvx_hash.c -- the hash commands (Redis's t_hash.c), on the typed key space
 * (kvks.h). */
#include "storage/kvcmd.h"
#include "storage/kvcmd_int.h"
#include "storage/kvks.h"

const kv_command kvx_hash_commands[1];
const size_t kvx_hash_ncommands = 0;
