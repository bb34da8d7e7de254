/* proxyarg.h -- the second argument of RAFT.PROXY / RAFT.PROXYEXEC: what a
 * follower says about the client whose command it forwards.
 *
 *   <proto>[:<db>[:@<ulen>:<user>][:<addr>]]
 *
 * proto is 2 or 3, db the client's database, user its ACL user (ulen bytes,
 * any bytes but NUL; the leader checks the command as that user), addr its
 * address (what the leader's MONITOR and SLOWLOG show). A follower always
 * sends the user; the forms without it are older followers'. Pure: no
 * server state, so the fuzz target (tests/server/fuzz_proxyarg.c) runs it
 * on any bytes. */
#ifndef RAFTKV_PROXYARG_H
#define RAFTKV_PROXYARG_H

#include <stddef.h>

typedef struct proxyarg {
    int proto; /* 2 or 3 */
    int db;    /* 0 when absent, -1 when not a number */
    const char *user;
    size_t ulen; /* user NULL: no user named */
    const char *addr;
    size_t alen; /* addr NULL: none */
} proxyarg;

/* Parses a (len bytes, not NUL-terminated). Returns 0, or -1 when the
 * argument names a user but is malformed (a wrong length: refused, never
 * run as no user). Pointers in *o point into a. */
int proxyarg_parse(const char *a, size_t len, proxyarg *o);

/* Writes the argument into buf (cap bytes); returns its length, or the
 * length it needs when that is >= cap (snprintf's contract). user NULL:
 * none; addr NULL: none. */
size_t proxyarg_format(char *buf, size_t cap, int proto, int db, const char *user, size_t ulen,
                       const char *addr);

#endif
