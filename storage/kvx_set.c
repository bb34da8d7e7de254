/* kvx_set.c -- the set commands (Redis's t_set.c), on the typed key space
 * (kvks.h). */
#include "storage/kvcmd.h"
#include "storage/kvcmd_int.h"
#include "storage/kvks.h"

const kv_command kvx_set_commands[1];
const size_t kvx_set_ncommands = 0;
