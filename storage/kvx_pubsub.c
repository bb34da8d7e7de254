/* kvx_pubsub.c -- PUBLISH and SPUBLISH (Redis's pubsub.c). A message is an
 * entry of the log: applying it hands it to the node's own subscribers
 * (kv_publish), so every node delivers every message in log order. The
 * reply counts the clients the node that applied it for the publisher
 * reached. Nothing is stored. */
#include "storage/kvcmd.h"
#include "storage/kvcmd_int.h"

static void kvx_publish(kv_ctx *c, int argc, char **argv, size_t *argvlen)
{
    (void)argc;
    resp_add_int(c->reply, kv_publish(c, 0, argv[1], argvlen[1], argv[2], argvlen[2]));
}

static void kvx_spublish(kv_ctx *c, int argc, char **argv, size_t *argvlen)
{
    (void)argc;
    resp_add_int(c->reply, kv_publish(c, 1, argv[1], argvlen[1], argv[2], argvlen[2]));
}

/* ------------------------------------------------------------ command table */

#define W KV_CMD_WRITE
#define F KV_CMD_FAST
/* clang-format off */
const kv_command kvx_pubsub_commands[] = {
    {"publish", 3, W | F, 0, 0, 0, NULL, kvx_publish, "pubsub", "2.0.0", "Post a message to a channel"},
    {"spublish", 3, W | F, 1, 1, 1, NULL, kvx_spublish, "pubsub", "7.0.0", "Post a message to a shard channel"},
};
/* clang-format on */
#undef W
#undef F
const size_t kvx_pubsub_ncommands = sizeof(kvx_pubsub_commands) / sizeof(kvx_pubsub_commands[0]);
