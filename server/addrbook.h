/* addrbook.h -- the cluster's address book: the address of every member of
 * the configuration in force and the highest node id the cluster ever used
 * (ids are never reused). It travels as the context of each membership
 * change entry (raft.h "membership"), so the state applied at an index (and
 * a snapshot of it) knows how to reach every member; the text is
 *
 *   <max-id>;<id>=<host>:<port>,<id>=<host>:<port>,...
 *
 * ids and ports in decimal without leading zeros, hosts of 1..255 bytes
 * from [A-Za-z0-9.:_-] (an IPv6 address's colons included: the port is
 * after the last one), every id unique and <= max-id. The bytes come from
 * the log (a peer): addrbook_decode() accepts exactly what
 * addrbook_encode() writes. */
#ifndef RAFTKV_ADDRBOOK_H
#define RAFTKV_ADDRBOOK_H

#include <stddef.h>
#include <stdint.h>

#define ADDRBOOK_MAX 32 /* RAFT_MAX_VOTERS + RAFT_MAX_LEARNERS */
#define ADDRBOOK_HOST_MAX 255

typedef struct addrbook_entry {
    uint64_t id;
    char host[ADDRBOOK_HOST_MAX + 1];
    int port;
} addrbook_entry;

typedef struct addrbook {
    uint64_t max_id; /* the highest id ever used */
    uint32_t n;
    addrbook_entry e[ADDRBOOK_MAX];
} addrbook;

/* 0 and *out, or -1 for anything that is not a well-formed book. */
int addrbook_decode(const void *buf, size_t len, addrbook *out);

/* Writes b's text into buf (no NUL); returns its length, or 0 when it does
 * not fit in cap or b is not well formed. */
size_t addrbook_encode(const addrbook *b, char *buf, size_t cap);

/* One "<host>:<port>" as the book spells it (len bytes, not NUL
 * terminated; from a peer: a join node learns a member's address from its
 * RAFT.HELLO): 0 with host (NUL terminated) and *port set, or -1 for
 * anything addrbook_encode() would not write. host and *port are left
 * untouched on -1. */
int addrbook_parse_addr(const char *s, size_t len, char host[ADDRBOOK_HOST_MAX + 1], int *port);

/* The entry of id, or NULL. */
const addrbook_entry *addrbook_find(const addrbook *b, uint64_t id);

/* Whether host (NUL-terminated) is a host the book can hold. */
int addrbook_host_ok(const char *host);

#endif
