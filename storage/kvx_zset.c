/* kvx_zset.c -- the zset commands (Redis's t_zset.c), on the typed key space
 * (kvks.h). */
#include "storage/kvcmd.h"
#include "storage/kvcmd_int.h"
#include "storage/kvks.h"

const kv_command kvx_zset_commands[1];
const size_t kvx_zset_ncommands = 0;
