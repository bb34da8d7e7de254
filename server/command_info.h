/* command_info.h -- COMMAND INFO and COMMAND DOCS entries as redis-server
 * 7.0.15 answers them, for every command RaftKV implements and, of its
 * containers (CLIENT, COMMAND, CONFIG, FUNCTION, CLUSTER, MEMORY), the
 * subcommands it implements. The table also holds the rows of commands
 * RaftKV does not implement yet (the collection types, OBJECT, SORT, ...;
 * redis-tests/gen_command_info.py PLANNED): the caller asks for a row only
 * when its command, or a subcommand's container, is implemented, so COMMAND,
 * COMMAND LIST, COMMAND COUNT and COMMAND INFO list implemented commands
 * only. */
#ifndef RAFTKV_COMMAND_INFO_H
#define RAFTKV_COMMAND_INFO_H

#include <stddef.h>

#include "resp/resp.h"

/* Appends the COMMAND INFO entry of name ("get", "client|id"; any case)
 * and returns 1; returns 0, appending nothing, when the table has none
 * (RaftKV's own RAFT.* commands, commands redis-server does not have). */
int cmdinfo_info(resp_buf *b, const char *name, size_t len);

/* The same for COMMAND DOCS: appends the name and its doc map. */
int cmdinfo_docs(resp_buf *b, const char *name, size_t len);

#endif
