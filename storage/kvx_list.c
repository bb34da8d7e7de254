/* kvx_list.c -- the list commands (Redis's t_list.c), on the typed key space
 * (kvks.h). */
#include "storage/kvcmd.h"
#include "storage/kvcmd_int.h"
#include "storage/kvks.h"

const kv_command kvx_list_commands[1];
const size_t kvx_list_ncommands = 0;
