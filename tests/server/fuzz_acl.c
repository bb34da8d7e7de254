/* fuzz_acl -- RAFT.ACL applied to arbitrary arguments (server/acl.h): the
 * entry's argv and the users text it carries are untrusted bytes. The
 * input is split at NUL bytes into argv[1..]; it is applied with no users
 * yet, then again on the users it produced. Properties: no crash, no leak;
 * the users text the state gets is a fixed point (applying an entry that
 * changes nothing writes the same text back: ACL LIST describes exactly
 * the users it parses into). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/acl.h"
#include "server/log.h"
#include "server/server.h"

server srv;
config cfg;
int log_level = LL_WARNING + 1;

void log_write(int level, const char *fmt, ...)
{
    (void)level, (void)fmt;
}

void client_info_line(client *c, char *buf, size_t n)
{
    (void)c;
    snprintf(buf, n, "id=0\n");
}

void client_mark_dirty(client *c)
{
    (void)c;
}

resp_buf *client_reply_buf(client *c)
{
    (void)c;
    return NULL;
}

int command_key_positions(int argc, char **argv, size_t *lens, int *pos, int max)
{
    (void)argc, (void)argv, (void)lens, (void)pos, (void)max;
    return 0;
}

int pubsub_count(client *c)
{
    (void)c;
    return 0;
}

int pubsub_each(client *c, int (*fn)(void *arg, int kind, const char *name, size_t len), void *arg)
{
    (void)c, (void)fn, (void)arg;
    return 0;
}

char **argv_copy(int argc, char **argv, size_t *lens, size_t **lens_out)
{
    (void)argc, (void)argv, (void)lens, (void)lens_out;
    abort(); /* only EXEC's acl_resolve_queued copies queued commands */
}

int64_t mstime(void)
{
    return 0;
}

static void apply(const char *cur, size_t curlen, int argc, char **argv, size_t *lens, char **out,
                  size_t *outlen)
{
    resp_buf reply;
    resp_buf_init(&reply, 2);
    *out = NULL;
    int rc = acl_apply(NULL, cur, curlen, argc, argv, lens, &reply, out, outlen);
    if (rc < 0) abort();
    if (rc == 0) *out = NULL;
    resp_buf_free(&reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int inited;
    if (!inited) {
        cfg.requirepass = "";
        cfg.aclfile = "";
        acl_init();
        inited = 1;
    }
    char *copy = malloc(size + 1);
    memcpy(copy, data, size);
    copy[size] = '\0';
    char *argv[64];
    size_t lens[64];
    int argc = 0;
    argv[argc] = "raft.acl";
    lens[argc++] = 8;
    for (size_t i = 0, st = 0; i <= size && argc < 64; i++)
        if (i == size || copy[i] == '\0') {
            argv[argc] = copy + st;
            lens[argc++] = i - st;
            st = i + 1;
        }
    char *u1, *u2, *u3;
    size_t l1, l2, l3;
    apply(NULL, 0, argc, argv, lens, &u1, &l1);
    if (u1) {
        apply(u1, l1, argc, argv, lens, &u2, &l2);
        char *noop[4] = {"raft.acl", "", "deluser", "no-such-user"};
        size_t noopl[4] = {8, 0, 7, 12};
        apply(u1, l1, 4, noop, noopl, &u3, &l3);
        if (!u3 || l3 != l1 || memcmp(u1, u3, l1)) {
            fprintf(stderr, "not a fixed point:\n%.*s\n---\n%.*s\n", (int)l1, u1, (int)l3,
                    u3 ? u3 : "");
            abort();
        }
        free(u2);
        free(u3);
    }
    free(u1);
    free(copy);
    return 0;
}
