/* acl.c -- ACL users, rules, checks, ACL commands and the RAFT.ACL apply
 * hook (server/acl.h). The rule language, its errors and the way ACL LIST
 * describes a user follow Redis 7.0's acl.c; the users are state applied
 * from the log. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include "server/acl.h"
#include "server/log.h"
#include "server/server.h"
#include "storage/kvcmd.h"

#define NBITS 1024 /* command bits; the last one is "future commands" (+@all) */
#define NWORDS (NBITS / 64)
#define FUTURE_BIT (NBITS - 1)
_Static_assert(NBITS > 400, "room for every Redis 7.0 command and subcommand");

enum { SEL_ALLKEYS = 1, SEL_ALLCHANNELS = 2, SEL_ALLCOMMANDS = 4, SEL_ROOT = 8 };
enum { U_ON = 1, U_OFF = 2, U_NOPASS = 4, U_SKIP_SANITIZE = 8, U_SANITIZE = 16 };
enum { DENIED_OK = 0, DENIED_CMD = 1, DENIED_KEY = 2, DENIED_AUTH = 3, DENIED_CHANNEL = 4 };

/* Rule errors: Redis's errno values, named. */
enum { E_OK = 0, E_INVAL, E_NOENT, E_EXIST, E_ISDIR, E_NODEV, E_BADMSG, E_CHILD };

typedef struct keypat {
    char *pat;
    int flags;  /* ACL_KEY_R | ACL_KEY_W */
    size_t len; /* strlen(pat) */
    long lit;   /* "<literal>*" (no other glob character): the literal's length, else -1 */
} keypat;

/* A pattern's fields beside its text: checks match the common
 * "prefix:*" with one memcmp instead of the glob matcher. */
static void keypat_fill(keypat *k)
{
    k->len = strlen(k->pat);
    k->lit = -1;
    if (k->len && k->pat[k->len - 1] == '*' && !strpbrk(k->pat, "?[\\") &&
        !memchr(k->pat, '*', k->len - 1))
        k->lit = (long)k->len - 1;
}

static int keypat_match(const keypat *k, const char *key, size_t n)
{
    if (k->lit >= 0) return n >= (size_t)k->lit && !memcmp(k->pat, key, (size_t)k->lit);
    return kv_stringmatchlen(k->pat, k->len, key, n, 0);
}

/* A command allowed with given first arguments only (Redis's
 * allowed_firstargs, "+select|0"): kept in the order they were added. */
typedef struct firstargs {
    int id;
    char **args;
    int n;
} firstargs;

typedef struct selector {
    int flags;
    uint64_t allowed[NWORDS];
    firstargs *fa; /* by id, ascending */
    int nfa;
    keypat *pats;
    int npats;
    char **chans;
    int nchans;
} selector;

struct acl_user {
    char *name;
    int flags;
    char (*pass)[65];
    int npass;
    selector *sel; /* sel[0] is the root selector */
    int nsel;
    int unrestricted;
};

typedef struct userset {
    acl_user **u; /* sorted by name (bytes), as Redis's rax */
    int n;
} userset;

static const char *categories[] = {
    "keyspace", "read",   "write",       "set",       "sortedset",  "list",        "hash",
    "string",   "bitmap", "hyperloglog", "geo",       "stream",     "pubsub",      "admin",
    "fast",     "slow",   "blocking",    "dangerous", "connection", "transaction", "scripting"};
#define NCATS ((int)(sizeof(categories) / sizeof(categories[0])))

static int *parent;                     /* per command id: its container's id, or -1 */
static int auth_id = -1, hello_id = -1; /* no_auth: every user may run them */
static userset users;
static acl_user nobody_user = {"", U_OFF, NULL, 0, NULL, 0, 0};
static selector nobody_sel = {SEL_ROOT, {0}, NULL, 0, NULL, 0, NULL, 0};

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        serverLog(LL_WARNING, "Out of memory in ACL");
        exit(1);
    }
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) {
        serverLog(LL_WARNING, "Out of memory in ACL");
        exit(1);
    }
    return p;
}

static char *xstrndup(const char *s, size_t n)
{
    char *d = xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* ------------------------------------------------------------ strings */

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/* ------------------------------------------------------------ commands */

static int cmd_cmp(const void *a, const void *b)
{
    return strcmp(((const acl_cmdinfo *)a)->name, ((const acl_cmdinfo *)b)->name);
}

int acl_command_id(const char *name, size_t len)
{
    char low[128];
    if (len == 0 || len >= sizeof(low)) return -1;
    for (size_t i = 0; i < len; i++)
        low[i] = (char)tolower((unsigned char)name[i]);
    low[len] = '\0';
    acl_cmdinfo key = {low, 0, 0, 0, NULL};
    const acl_cmdinfo *f =
        bsearch(&key, acl_commands, (size_t)acl_ncommands, sizeof(acl_commands[0]), cmd_cmp);
    return f ? (int)(f - acl_commands) : -1;
}

static int has_subcommands(int id)
{
    return id + 1 < acl_ncommands && parent[id + 1] == id;
}

int acl_subcommand_id(int container, const char *sub, size_t len)
{
    char full[160];
    /* most commands have none: no name to build (every checked call asks) */
    if (container < 0 || len > 100 || !has_subcommands(container)) return -1;
    int n = snprintf(full, sizeof(full), "%s|%.*s", acl_commands[container].name, (int)len, sub);
    return acl_command_id(full, (size_t)n);
}

static void fa_reset(selector *s, int id)
{
    for (int i = 0; i < s->nfa; i++)
        if (id < 0 || s->fa[i].id == id) {
            for (int j = 0; j < s->fa[i].n; j++)
                free(s->fa[i].args[j]);
            free(s->fa[i].args);
            s->fa[i].args = NULL;
            s->fa[i].n = 0;
        }
    int k = 0;
    for (int i = 0; i < s->nfa; i++)
        if (s->fa[i].n) s->fa[k++] = s->fa[i];
    s->nfa = k;
    if (!k) {
        free(s->fa);
        s->fa = NULL;
    }
}

static const firstargs *fa_get(const selector *s, int id)
{
    for (int i = 0; i < s->nfa; i++)
        if (s->fa[i].id == id) return &s->fa[i];
    return NULL;
}

/* Redis's ACLAddAllowedFirstArg(). */
static void fa_add(selector *s, int id, const char *arg, size_t len)
{
    int at = 0;
    while (at < s->nfa && s->fa[at].id < id)
        at++;
    if (at == s->nfa || s->fa[at].id != id) {
        s->fa = xrealloc(s->fa, sizeof(firstargs) * (size_t)(s->nfa + 1));
        memmove(s->fa + at + 1, s->fa + at, sizeof(firstargs) * (size_t)(s->nfa - at));
        s->fa[at].id = id;
        s->fa[at].args = NULL;
        s->fa[at].n = 0;
        s->nfa++;
    }
    firstargs *f = &s->fa[at];
    for (int j = 0; j < f->n; j++)
        if (strlen(f->args[j]) == len && !strncasecmp(f->args[j], arg, len)) return;
    f->args = xrealloc(f->args, sizeof(char *) * (size_t)(f->n + 1));
    f->args[f->n++] = xstrndup(arg, len);
}

static int getbit(const selector *s, int id)
{
    return (s->allowed[id / 64] >> (id % 64)) & 1;
}

static void setbit_(selector *s, int id, int v)
{
    if (v) {
        s->allowed[id / 64] |= 1ULL << (id % 64);
    } else {
        s->allowed[id / 64] &= ~(1ULL << (id % 64));
        s->flags &= ~SEL_ALLCOMMANDS;
    }
}

/* Redis's ACLChangeSelectorPerm: a container takes its subcommands along. */
static void change_perm(selector *s, int id, int allow)
{
    setbit_(s, id, allow);
    if (s->nfa) fa_reset(s, id);
    for (int j = id + 1; j < acl_ncommands && parent[j] == id; j++) {
        setbit_(s, j, allow);
        if (s->nfa) fa_reset(s, j);
    }
}

static int category_index(const char *name)
{
    for (int i = 0; i < NCATS; i++)
        if (!strcasecmp(name, categories[i])) return i;
    return -1;
}

static void set_category(selector *s, int cat, int v)
{
    uint32_t f = ACL_CAT(cat);
    for (int id = 0; id < acl_ncommands; id++) {
        if (parent[id] >= 0) continue;
        if (acl_commands[id].cats & f) change_perm(s, id, v);
        for (int j = id + 1; j < acl_ncommands && parent[j] == id; j++)
            if (acl_commands[j].cats & f) change_perm(s, j, v);
    }
}

static void count_category(const selector *s, int cat, unsigned long *on, unsigned long *off)
{
    uint32_t f = ACL_CAT(cat);
    *on = *off = 0;
    for (int id = 0; id < acl_ncommands; id++)
        if (acl_commands[id].cats & f) {
            if (getbit(s, id))
                (*on)++;
            else
                (*off)++;
        }
}

/* ------------------------------------------------------------ selectors */

static void sel_free(selector *s)
{
    fa_reset(s, -1);
    for (int i = 0; i < s->npats; i++)
        free(s->pats[i].pat);
    free(s->pats);
    for (int i = 0; i < s->nchans; i++)
        free(s->chans[i]);
    free(s->chans);
    memset(s, 0, sizeof(*s));
}

static void sel_copy(selector *d, const selector *s)
{
    *d = *s;
    d->pats = xmalloc(sizeof(keypat) * (size_t)s->npats);
    for (int i = 0; i < s->npats; i++) {
        d->pats[i].pat = xstrndup(s->pats[i].pat, strlen(s->pats[i].pat));
        keypat_fill(&d->pats[i]);
        d->pats[i].flags = s->pats[i].flags;
    }
    d->chans = xmalloc(sizeof(char *) * (size_t)s->nchans);
    for (int i = 0; i < s->nchans; i++)
        d->chans[i] = xstrndup(s->chans[i], strlen(s->chans[i]));
    d->fa = NULL;
    d->nfa = 0;
    for (int i = 0; i < s->nfa; i++)
        for (int j = 0; j < s->fa[i].n; j++)
            fa_add(d, s->fa[i].id, s->fa[i].args[j], strlen(s->fa[i].args[j]));
}

static void sel_reset_keys(selector *s)
{
    for (int i = 0; i < s->npats; i++)
        free(s->pats[i].pat);
    s->npats = 0;
}

static void sel_reset_chans(selector *s)
{
    for (int i = 0; i < s->nchans; i++)
        free(s->chans[i]);
    s->nchans = 0;
}

static int has_spaces(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (isspace((unsigned char)s[i]) || s[i] == 0) return 1;
    return 0;
}

/* Redis's ACLSetSelector(). */
static int sel_op(selector *s, const char *op, size_t oplen)
{
    if (!strcasecmp(op, "allkeys") || !strcasecmp(op, "~*")) {
        s->flags |= SEL_ALLKEYS;
        sel_reset_keys(s);
    } else if (!strcasecmp(op, "resetkeys")) {
        s->flags &= ~SEL_ALLKEYS;
        sel_reset_keys(s);
    } else if (!strcasecmp(op, "allchannels") || !strcasecmp(op, "&*")) {
        s->flags |= SEL_ALLCHANNELS;
        sel_reset_chans(s);
    } else if (!strcasecmp(op, "resetchannels")) {
        s->flags &= ~SEL_ALLCHANNELS;
        sel_reset_chans(s);
    } else if (!strcasecmp(op, "allcommands") || !strcasecmp(op, "+@all")) {
        memset(s->allowed, 255, sizeof(s->allowed));
        s->flags |= SEL_ALLCOMMANDS;
        fa_reset(s, -1);
    } else if (!strcasecmp(op, "nocommands") || !strcasecmp(op, "-@all")) {
        memset(s->allowed, 0, sizeof(s->allowed));
        s->flags &= ~SEL_ALLCOMMANDS;
        fa_reset(s, -1);
    } else if (op[0] == '~' || op[0] == '%') {
        if (s->flags & SEL_ALLKEYS) return E_EXIST;
        int flags = 0;
        size_t off = 1;
        if (op[0] == '%') {
            for (; off < oplen; off++) {
                if (toupper((unsigned char)op[off]) == 'R' && !(flags & ACL_KEY_R)) {
                    flags |= ACL_KEY_R;
                } else if (toupper((unsigned char)op[off]) == 'W' && !(flags & ACL_KEY_W)) {
                    flags |= ACL_KEY_W;
                } else if (op[off] == '~') {
                    off++;
                    break;
                } else {
                    return E_INVAL;
                }
            }
        } else {
            flags = ACL_KEY_R | ACL_KEY_W;
        }
        if (off > oplen || has_spaces(op + off, oplen - off)) return E_INVAL;
        size_t plen = oplen - off;
        for (int i = 0; i < s->npats; i++)
            if (strlen(s->pats[i].pat) == plen && !memcmp(s->pats[i].pat, op + off, plen)) {
                s->pats[i].flags |= flags;
                s->flags &= ~SEL_ALLKEYS;
                return E_OK;
            }
        s->pats = xrealloc(s->pats, sizeof(keypat) * (size_t)(s->npats + 1));
        s->pats[s->npats].pat = xstrndup(op + off, plen);
        keypat_fill(&s->pats[s->npats]);
        s->pats[s->npats++].flags = flags;
        s->flags &= ~SEL_ALLKEYS;
    } else if (op[0] == '&') {
        if (s->flags & SEL_ALLCHANNELS) return E_ISDIR;
        if (has_spaces(op + 1, oplen - 1)) return E_INVAL;
        for (int i = 0; i < s->nchans; i++)
            if (strlen(s->chans[i]) == oplen - 1 && !memcmp(s->chans[i], op + 1, oplen - 1)) {
                s->flags &= ~SEL_ALLCHANNELS;
                return E_OK;
            }
        s->chans = xrealloc(s->chans, sizeof(char *) * (size_t)(s->nchans + 1));
        s->chans[s->nchans++] = xstrndup(op + 1, oplen - 1);
        s->flags &= ~SEL_ALLCHANNELS;
    } else if (op[0] == '+' && op[1] != '@') {
        const char *bar = strrchr(op, '|');
        if (!bar) {
            int id = acl_command_id(op + 1, strlen(op + 1));
            if (id < 0) return E_NOENT;
            change_perm(s, id, 1);
        } else {
            int cid = acl_command_id(op + 1, (size_t)(bar - op - 1));
            if (cid < 0) return E_NOENT;
            if (parent[cid] >= 0) return E_CHILD;
            if (!bar[1]) return E_INVAL;
            if (!has_subcommands(cid)) {
                /* "+select|0": the command with that first argument only
                 * (nothing to add when the command is allowed whole). */
                if (has_spaces(bar + 1, strlen(bar + 1))) return E_INVAL;
                if (!getbit(s, cid)) fa_add(s, cid, bar + 1, strlen(bar + 1));
                return E_OK;
            }
            int id = acl_command_id(op + 1, strlen(op + 1));
            if (id < 0) return E_NOENT;
            change_perm(s, id, 1);
        }
    } else if (op[0] == '-' && op[1] != '@') {
        int id = acl_command_id(op + 1, strlen(op + 1));
        if (id < 0) return E_NOENT;
        change_perm(s, id, 0);
    } else if ((op[0] == '+' || op[0] == '-') && op[1] == '@') {
        int cat = category_index(op + 2);
        if (cat < 0) return E_NOENT;
        set_category(s, cat, op[0] == '+');
    } else {
        return E_INVAL;
    }
    return E_OK;
}

/* Redis's sdssplitargs() for a selector's body, without its quoting (no
 * rule holds a space). */
static int split_words(const char *s, size_t n, char ***out)
{
    char **w = NULL;
    int k = 0;
    size_t i = 0;
    while (i < n) {
        while (i < n && isspace((unsigned char)s[i]))
            i++;
        if (i >= n) break;
        size_t st = i;
        while (i < n && !isspace((unsigned char)s[i]))
            i++;
        w = xrealloc(w, sizeof(char *) * (size_t)(k + 1));
        w[k++] = xstrndup(s + st, i - st);
    }
    *out = w;
    return k;
}

static void free_words(char **w, int k)
{
    for (int i = 0; i < k; i++)
        free(w[i]);
    free(w);
}

/* ------------------------------------------------------------ users */

static void user_free(acl_user *u)
{
    if (!u) return;
    free(u->name);
    free(u->pass);
    for (int i = 0; i < u->nsel; i++)
        sel_free(&u->sel[i]);
    free(u->sel);
    free(u);
}

static acl_user *user_new(const char *name, size_t n)
{
    acl_user *u = xmalloc(sizeof(*u));
    memset(u, 0, sizeof(*u));
    u->name = xstrndup(name, n);
    u->flags = U_OFF;
    u->sel = xmalloc(sizeof(selector));
    memset(u->sel, 0, sizeof(selector));
    u->sel[0].flags = SEL_ROOT; /* acl-pubsub-default resetchannels, Redis 7.0's default */
    u->nsel = 1;
    return u;
}

static acl_user *user_copy(const acl_user *s, const char *name, size_t n)
{
    acl_user *u = xmalloc(sizeof(*u));
    *u = *s;
    u->name = xstrndup(name, n);
    u->pass = xmalloc(sizeof(*u->pass) * (size_t)s->npass);
    if (s->npass) memcpy(u->pass, s->pass, sizeof(*u->pass) * (size_t)s->npass);
    u->sel = xmalloc(sizeof(selector) * (size_t)s->nsel);
    for (int i = 0; i < s->nsel; i++)
        sel_copy(&u->sel[i], &s->sel[i]);
    return u;
}

static void hash_hex(const char *p, size_t n, char out[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)p, n, md);
    for (int i = 0; i < 32; i++) {
        out[2 * i] = "0123456789abcdef"[md[i] >> 4];
        out[2 * i + 1] = "0123456789abcdef"[md[i] & 15];
    }
    out[64] = '\0';
}

static int valid_hash(const char *h, size_t n)
{
    if (n != 64) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((h[i] >= 'a' && h[i] <= 'f') || (h[i] >= '0' && h[i] <= '9'))) return 0;
    return 1;
}

static void update_unrestricted(acl_user *u)
{
    const selector *r = &u->sel[0];
    u->unrestricted = (r->flags & SEL_ALLKEYS) && (r->flags & SEL_ALLCHANNELS);
    for (int i = 0; u->unrestricted && i < NWORDS; i++)
        if (r->allowed[i] != UINT64_MAX) u->unrestricted = 0;
}

static int user_op(acl_user *u, const char *op, size_t oplen)
{
    if (oplen == 0) return E_OK;
    if (!strcasecmp(op, "on")) {
        u->flags = (u->flags | U_ON) & ~U_OFF;
    } else if (!strcasecmp(op, "off")) {
        u->flags = (u->flags | U_OFF) & ~U_ON;
    } else if (!strcasecmp(op, "skip-sanitize-payload")) {
        u->flags = (u->flags | U_SKIP_SANITIZE) & ~U_SANITIZE;
    } else if (!strcasecmp(op, "sanitize-payload")) {
        u->flags = (u->flags | U_SANITIZE) & ~U_SKIP_SANITIZE;
    } else if (!strcasecmp(op, "nopass")) {
        u->flags |= U_NOPASS;
        u->npass = 0;
    } else if (!strcasecmp(op, "resetpass")) {
        u->flags &= ~U_NOPASS;
        u->npass = 0;
    } else if (op[0] == '>' || op[0] == '#' || op[0] == '<' || op[0] == '!') {
        char h[65];
        if (op[0] == '>' || op[0] == '<') {
            hash_hex(op + 1, oplen - 1, h);
        } else {
            if (!valid_hash(op + 1, oplen - 1)) return E_BADMSG;
            memcpy(h, op + 1, 64);
            h[64] = '\0';
        }
        int at = -1;
        for (int i = 0; i < u->npass; i++)
            if (!memcmp(u->pass[i], h, 64)) at = i;
        if (op[0] == '>' || op[0] == '#') {
            if (at < 0) {
                u->pass = xrealloc(u->pass, sizeof(*u->pass) * (size_t)(u->npass + 1));
                memcpy(u->pass[u->npass++], h, 65);
            }
            u->flags &= ~U_NOPASS;
        } else {
            if (at < 0) return E_NODEV;
            memmove(u->pass[at], u->pass[at + 1], sizeof(*u->pass) * (size_t)(u->npass - at - 1));
            u->npass--;
        }
    } else if (op[0] == '(' && op[oplen - 1] == ')') {
        selector s;
        memset(&s, 0, sizeof(s));
        char **w;
        int k = split_words(op + 1, oplen - 2, &w);
        for (int i = 0; i < k; i++) {
            /* A rule ending in ')' inside a selector would end it when the
             * users are read back (ACL LIST, the replicated users text), so
             * a second reading would differ: refused. */
            size_t wl = strlen(w[i]);
            int rc = wl && w[i][wl - 1] == ')' ? E_INVAL : sel_op(&s, w[i], wl);
            if (rc) {
                free_words(w, k);
                sel_free(&s);
                return rc;
            }
        }
        free_words(w, k);
        u->sel = xrealloc(u->sel, sizeof(selector) * (size_t)(u->nsel + 1));
        u->sel[u->nsel++] = s;
    } else if (!strcasecmp(op, "clearselectors")) {
        for (int i = 1; i < u->nsel; i++)
            sel_free(&u->sel[i]);
        u->nsel = 1;
    } else if (!strcasecmp(op, "reset")) {
        user_op(u, "resetpass", 9);
        user_op(u, "resetkeys", 9);
        user_op(u, "resetchannels", 13);
        user_op(u, "off", 3);
        user_op(u, "sanitize-payload", 16);
        user_op(u, "clearselectors", 14);
        user_op(u, "-@all", 5);
    } else {
        int rc = sel_op(&u->sel[0], op, oplen);
        if (rc) return rc;
    }
    update_unrestricted(u);
    return E_OK;
}

static const char *op_error(int e)
{
    switch (e) {
    case E_NOENT:
        return "Unknown command or category name in ACL";
    case E_INVAL:
        return "Syntax error";
    case E_EXIST:
        return "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does "
               "not have any effect. Try 'resetkeys' to start with an empty list of patterns";
    case E_ISDIR:
        return "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and "
               "does not have any effect. Try 'resetchannels' to start with an empty list of "
               "channels";
    case E_NODEV:
        return "The password you are trying to remove from the user does not exist";
    case E_BADMSG:
        return "The password hash must be exactly 64 characters and contain only lowercase "
               "hexadecimal characters";
    case E_CHILD:
        return "Allowing first-arg of a subcommand is not supported";
    default:
        return "Wrong format";
    }
}

/* Redis's ACLMergeSelectorArguments(): a selector may come spread over
 * several arguments. Returns the merged count, or -1 with *bad the index of
 * the unmatched '(' argument. */
static int merge_args(int argc, char **argv, size_t *lens, char ***out, size_t **outlens, int *bad)
{
    char **a = xmalloc(sizeof(char *) * (size_t)(argc ? argc : 1));
    size_t *al = xmalloc(sizeof(size_t) * (size_t)(argc ? argc : 1));
    int n = 0, open = -1;
    sbuf sel = {0};
    for (int j = 0; j < argc; j++) {
        const char *op = argv[j];
        size_t l = lens[j];
        if (open < 0 && l && op[0] == '(' && op[l - 1] != ')') {
            sel.len = 0;
            sb_add(&sel, op, l);
            open = j;
            continue;
        }
        if (open >= 0) {
            sb_add(&sel, " ", 1);
            sb_add(&sel, op, l);
            if (l && op[l - 1] == ')') {
                open = -1;
                a[n] = xstrndup(sel.p, sel.len);
                al[n++] = sel.len;
            }
            continue;
        }
        a[n] = xstrndup(op, l);
        al[n++] = l;
    }
    free(sel.p);
    if (open >= 0) {
        for (int i = 0; i < n; i++)
            free(a[i]);
        free(a);
        free(al);
        *bad = open;
        return -1;
    }
    *out = a;
    *outlens = al;
    return n;
}

static void free_args(char **a, size_t *al, int n)
{
    for (int i = 0; i < n; i++)
        free(a[i]);
    free(a);
    free(al);
}

/* ------------------------------------------------------------ describing */

static void describe_commands(const selector *s, sbuf *b)
{
    selector fake, temp;
    memset(&fake, 0, sizeof(fake));
    memset(&temp, 0, sizeof(temp));
    int additive = !getbit(s, FUTURE_BIT);
    if (!additive) {
        sb_str(b, "+@all ");
        sel_op(&fake, "+@all", 5);
    } else {
        sb_str(b, "-@all ");
        sel_op(&fake, "-@all", 5);
    }
    /* Redis's best fit: the category with the fewest differences that has
     * more in common than not, again and again. */
    char applied[NCATS];
    memset(applied, 0, sizeof(applied));
    memcpy(temp.allowed, s->allowed, sizeof(s->allowed));
    for (;;) {
        int best = -1;
        unsigned long mindiff = INT_MAX, maxsame = 0;
        for (int j = 0; j < NCATS; j++) {
            if (applied[j]) continue;
            unsigned long on, off;
            count_category(&temp, j, &on, &off);
            unsigned long diff = additive ? off : on, same = additive ? on : off;
            if (same > diff && (diff < mindiff || (diff == mindiff && same > maxsame))) {
                best = j;
                mindiff = diff;
                maxsame = same;
            }
        }
        if (best < 0) break;
        set_category(&fake, best, additive);
        set_category(&temp, best, !additive);
        sb_str(b, additive ? "+@" : "-@");
        sb_str(b, categories[best]);
        sb_str(b, " ");
        applied[best] = 1;
    }
    /* Then single commands, containers before their subcommands. */
    for (int id = 0; id < acl_ncommands; id++) {
        if (parent[id] >= 0) continue;
        for (int j = id; j < acl_ncommands && (j == id || parent[j] == id); j++) {
            int ub = getbit(s, j), fb = getbit(&fake, j);
            if (ub != fb) {
                sb_str(b, ub ? "+" : "-");
                sb_str(b, acl_commands[j].name);
                sb_str(b, " ");
                change_perm(&fake, j, ub);
            }
            const firstargs *f = s->nfa ? fa_get(s, j) : NULL;
            for (int k = 0; f && k < f->n; k++) {
                sb_str(b, "+");
                sb_str(b, acl_commands[j].name);
                sb_str(b, "|");
                sb_str(b, f->args[k]);
                sb_str(b, " ");
            }
        }
    }
    b->len--; /* the last space */
    b->p[b->len] = '\0';
}

static void describe_keys(const selector *s, sbuf *b, const char *sep)
{
    if (s->flags & SEL_ALLKEYS) {
        sb_str(b, "~*");
        sb_str(b, sep);
        return;
    }
    for (int i = 0; i < s->npats; i++) {
        if (i && !*sep) sb_str(b, " ");
        int f = s->pats[i].flags;
        sb_str(b, f == (ACL_KEY_R | ACL_KEY_W) ? "~" : f == ACL_KEY_R ? "%R~" : "%W~");
        sb_str(b, s->pats[i].pat);
        sb_str(b, sep);
    }
}

static void describe_selector(const selector *s, sbuf *b)
{
    describe_keys(s, b, " ");
    if (s->flags & SEL_ALLCHANNELS) {
        sb_str(b, "&* ");
    } else {
        sb_str(b, "resetchannels ");
        for (int i = 0; i < s->nchans; i++) {
            sb_str(b, "&");
            sb_str(b, s->chans[i]);
            sb_str(b, " ");
        }
    }
    describe_commands(s, b);
}

static const struct {
    const char *name;
    int flag;
} user_flags[] = {{"on", U_ON},
                  {"off", U_OFF},
                  {"nopass", U_NOPASS},
                  {"skip-sanitize-payload", U_SKIP_SANITIZE},
                  {"sanitize-payload", U_SANITIZE}};
#define NUFLAGS ((int)(sizeof(user_flags) / sizeof(user_flags[0])))

/* Redis's ACLDescribeUser(). */
static void describe_user(const acl_user *u, sbuf *b)
{
    for (int j = 0; j < NUFLAGS; j++)
        if (u->flags & user_flags[j].flag) {
            sb_str(b, user_flags[j].name);
            sb_str(b, " ");
        }
    for (int i = 0; i < u->npass; i++) {
        sb_str(b, "#");
        sb_add(b, u->pass[i], 64);
        sb_str(b, " ");
    }
    for (int i = 0; i < u->nsel; i++) {
        if (i) sb_str(b, " (");
        describe_selector(&u->sel[i], b);
        if (i) sb_str(b, ")");
    }
}

/* ------------------------------------------------------------ user sets */

static int name_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al < bl ? -1 : al > bl);
}

static int set_find(const userset *s, const char *name, size_t n, int *at)
{
    int lo = 0, hi = s->n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        int c = name_cmp(s->u[mid]->name, strlen(s->u[mid]->name), name, n);
        if (c == 0) {
            *at = mid;
            return 1;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *at = lo;
    return 0;
}

static acl_user *set_get(const userset *s, const char *name, size_t n)
{
    int at;
    return set_find(s, name, n, &at) ? s->u[at] : NULL;
}

/* Puts u in s, replacing (and freeing) a user of the same name. */
static void set_put(userset *s, acl_user *u)
{
    int at;
    if (set_find(s, u->name, strlen(u->name), &at)) {
        user_free(s->u[at]);
        s->u[at] = u;
        return;
    }
    s->u = xrealloc(s->u, sizeof(acl_user *) * (size_t)(s->n + 1));
    memmove(s->u + at + 1, s->u + at, sizeof(acl_user *) * (size_t)(s->n - at));
    s->u[at] = u;
    s->n++;
}

static int set_del(userset *s, const char *name, size_t n)
{
    int at;
    if (!set_find(s, name, n, &at)) return 0;
    user_free(s->u[at]);
    memmove(s->u + at, s->u + at + 1, sizeof(acl_user *) * (size_t)(s->n - at - 1));
    s->n--;
    return 1;
}

static void set_free(userset *s)
{
    for (int i = 0; i < s->n; i++)
        user_free(s->u[i]);
    free(s->u);
    s->u = NULL;
    s->n = 0;
}

/* The state's form: one ACL LIST line a user, in name order. */
static void set_serialize(const userset *s, sbuf *b)
{
    for (int i = 0; i < s->n; i++) {
        sb_str(b, "user ");
        sb_str(b, s->u[i]->name);
        sb_str(b, " ");
        describe_user(s->u[i], b);
        sb_str(b, "\n");
    }
}

/* Applies rules (merged selectors) to a copy of base (or a new user). */
static int user_apply(const acl_user *base, const char *name, size_t nlen, int argc, char **argv,
                      size_t *lens, acl_user **out, int *bad)
{
    acl_user *u = base ? user_copy(base, name, nlen) : user_new(name, nlen);
    for (int j = 0; j < argc; j++) {
        int rc = user_op(u, argv[j], lens[j]);
        if (rc) {
            user_free(u);
            *bad = j;
            return rc;
        }
    }
    update_unrestricted(u);
    *out = u;
    return E_OK;
}

static acl_user *default_user_new(void)
{
    acl_user *u = user_new("default", 7);
    user_op(u, "+@all", 5);
    user_op(u, "~*", 2);
    user_op(u, "&*", 2);
    user_op(u, "on", 2);
    user_op(u, "nopass", 6);
    return u;
}

/* Parses "user <name> <rules...>" into a user; NULL with an error. */
static acl_user *parse_line(const char *line, size_t n, char *err, size_t errlen)
{
    char **w;
    int k = split_words(line, n, &w);
    acl_user *u = NULL;
    if (k < 2 || strcmp(w[0], "user")) {
        snprintf(err, errlen, "!");
        goto done;
    }
    size_t *wl = xmalloc(sizeof(size_t) * (size_t)k);
    for (int i = 0; i < k; i++)
        wl[i] = strlen(w[i]);
    char **m;
    size_t *ml;
    int bad = 0;
    int nm = merge_args(k - 2, w + 2, wl + 2, &m, &ml, &bad);
    if (nm < 0) {
        snprintf(err, errlen, "Unmatched parenthesis in acl selector starting at '%s'.",
                 w[2 + bad]);
    } else {
        int rc = user_apply(NULL, w[1], wl[1], nm, m, ml, &u, &bad);
        if (rc) snprintf(err, errlen, "Error in applying operation '%s': %s", m[bad], op_error(rc));
        free_args(m, ml, nm);
    }
    free(wl);
done:
    free_words(w, k);
    return u;
}

/* Parses users from text (ACL LIST lines or an ACL file). 0 or -1 with err. */
static int parse_users(const char *text, size_t len, const char *path, userset *out, char *err,
                       size_t errlen)
{
    size_t i = 0;
    int lineno = 0;
    memset(out, 0, sizeof(*out));
    while (i < len) {
        size_t e = i;
        while (e < len && text[e] != '\n')
            e++;
        lineno++;
        size_t a = i, z = e;
        while (a < z && isspace((unsigned char)text[a]))
            a++;
        while (z > a && isspace((unsigned char)text[z - 1]))
            z--;
        i = e + 1;
        if (a == z || text[a] == '#') continue;
        char why[512];
        acl_user *u = parse_line(text + a, z - a, why, sizeof(why));
        if (!u) {
            if (!strcmp(why, "!"))
                snprintf(err, errlen,
                         "%s:%d should start with user keyword followed by the username. ", path,
                         lineno);
            else
                snprintf(err, errlen, "%s:%d: %s. ", path, lineno, why);
            set_free(out);
            return -1;
        }
        if (set_get(out, u->name, strlen(u->name))) {
            snprintf(err, errlen, "WARNING: Duplicate user '%s' found on line %d. ", u->name,
                     lineno);
            user_free(u);
            set_free(out);
            return -1;
        }
        set_put(out, u);
    }
    if (!set_get(out, "default", 7)) set_put(out, default_user_new());
    return 0;
}

/* ------------------------------------------------------------ the live table */

static acl_user *the_default;

static int chan_ok(const selector *s, const char *ch, size_t n, int literal);

/* Redis's ACLKillPubsubClientsIfNeeded(): 1 when nu's channels may no
 * longer cover what o's did (nu has no allchannels selector, and o had
 * allchannels or a channel pattern nu lacks). */
static int chans_shrunk(const acl_user *o, const acl_user *nu)
{
    for (int i = 0; i < nu->nsel; i++)
        if (nu->sel[i].flags & SEL_ALLCHANNELS) return 0;
    for (int i = 0; i < o->nsel; i++) {
        const selector *os = &o->sel[i];
        if (os->flags & SEL_ALLCHANNELS) return 1;
        for (int j = 0; j < os->nchans; j++) {
            int found = 0;
            for (int k = 0; k < nu->nsel && !found; k++)
                for (int m = 0; m < nu->sel[k].nchans && !found; m++)
                    found = !strcmp(nu->sel[k].chans[m], os->chans[j]);
            if (!found) return 1;
        }
    }
    return 0;
}

/* pubsub_each's callback: 1 when a subscription is not allowed by the
 * union of the user's selectors' channels (patterns literally, channels by
 * glob, as Redis's ACLCheckChannelAgainstList). */
static int sub_denied(void *arg, int kind, const char *name, size_t len)
{
    const acl_user *u = arg;
    for (int i = 0; i < u->nsel; i++)
        if (chan_ok(&u->sel[i], name, len, kind == PUBSUB_PATTERN)) return 0;
    return 1;
}

static void kill_client(client *c)
{
    c->user = &nobody_user;
    c->authenticated = 0;
    c->flags |= CF_CLOSE_AFTER_REPLY;
    client_mark_dirty(c);
}

/* Makes s the live users: every client follows its user by name. A client
 * whose user is gone is disconnected (Redis's ACL DELUSER), and so is one
 * whose subscriptions its user's new channels no longer allow (Redis's
 * ACL SETUSER); load: every client of a user other than default is (Redis's
 * ACL LOAD replaces them all). Every node does it at the same entry. */
static void install(userset *s, int load)
{
    for (client *c = srv.clients; c; c = c->next) {
        if (!c->user || c->user == &nobody_user || c->as_user) continue; /* as_user: proxy_end */
        const char *name = c->user->name;
        acl_user *nu = set_get(s, name, strlen(name));
        if (!nu || (load && strcmp(name, "default"))) {
            kill_client(c);
        } else if (!c->peer_id && pubsub_count(c) && chans_shrunk(c->user, nu) &&
                   pubsub_each(c, sub_denied, nu)) {
            kill_client(c);
        } else {
            c->user = nu;
        }
    }
    set_free(&users);
    users = *s;
    the_default = set_get(&users, "default", 7);
}

void acl_init(void)
{
    parent = xmalloc(sizeof(int) * (size_t)acl_ncommands);
    for (int i = 0; i < acl_ncommands; i++) {
        const char *bar = strchr(acl_commands[i].name, '|');
        parent[i] =
            bar ? acl_command_id(acl_commands[i].name, (size_t)(bar - acl_commands[i].name)) : -1;
    }
    if (acl_ncommands >= FUTURE_BIT) {
        serverLog(LL_WARNING, "ACL: too many commands for the command bitmap");
        exit(1);
    }
    auth_id = acl_command_id("auth", 4);
    hello_id = acl_command_id("hello", 5);
    nobody_user.sel = &nobody_sel;
    nobody_user.nsel = 1;
    userset s = {0};
    acl_user *d = default_user_new();
    if (cfg.requirepass[0]) {
        char op[1024];
        int n = snprintf(op, sizeof(op), ">%s", cfg.requirepass);
        user_op(d, "resetpass", 9);
        user_op(d, op, (size_t)n);
    }
    set_put(&s, d);
    install(&s, 0);
}

void acl_state_loaded(const char *blob, size_t len)
{
    if (!blob) return; /* none applied yet: the default user of requirepass */
    userset s;
    char err[600];
    if (parse_users(blob, len, "state", &s, err, sizeof(err))) {
        serverLog(LL_WARNING, "The state's ACL users do not parse (%s). Stopping.", err);
        exit(1);
    }
    install(&s, 0);
}

acl_user *acl_default_user(void)
{
    return the_default;
}

int acl_users_besides_default(void)
{
    for (int i = 0; i < users.n; i++)
        if (strcmp(users.u[i]->name, "default")) return 1;
    return 0;
}

int acl_user_autoauth(const acl_user *u)
{
    return u && (u->flags & U_NOPASS) && !(u->flags & U_OFF);
}

int acl_default_nopass(void)
{
    return acl_user_autoauth(the_default);
}

int acl_user_unrestricted(const acl_user *u)
{
    return u->unrestricted;
}

const char *acl_user_name(const acl_user *u)
{
    return u->name;
}

void acl_client_gone(client *c)
{
    (void)c;
}

/* ------------------------------------------------------------ ACL LOG */

#define LOG_MAX 128
#define LOG_GROUP_MS 60000
typedef struct logentry {
    uint64_t count;
    int reason, context;
    char *object, *username, *cinfo;
    int64_t ctime;
} logentry;
static logentry *acllog[LOG_MAX];
static int nlog;

static void log_free(logentry *e)
{
    free(e->object);
    free(e->username);
    free(e->cinfo);
    free(e);
}

static void log_add(client *c, int reason, const char *obj, size_t objlen, const char *uname,
                    int multi)
{
    logentry *e = xmalloc(sizeof(*e));
    e->count = 1;
    e->reason = reason;
    e->context = multi || (c->flags & CF_MULTI) ? 1 : 0;
    e->object = xstrndup(obj, objlen);
    e->username = xstrndup(uname, strlen(uname));
    e->ctime = mstime();
    char line[1200];
    client_info_line(c, line, sizeof(line));
    size_t ll = strlen(line);
    if (ll && line[ll - 1] == '\n') line[--ll] = '\0';
    e->cinfo = xstrndup(line, ll);
    for (int i = 0; i < nlog && i < 10; i++) {
        logentry *m = acllog[i];
        int64_t d = m->ctime - e->ctime;
        if (m->reason == e->reason && m->context == e->context &&
            (d < 0 ? -d : d) <= LOG_GROUP_MS && !strcmp(m->object, e->object) &&
            !strcmp(m->username, e->username)) {
            free(m->cinfo);
            m->cinfo = e->cinfo;
            e->cinfo = NULL;
            m->ctime = e->ctime;
            m->count++;
            log_free(e);
            memmove(acllog + 1, acllog, sizeof(acllog[0]) * (size_t)i);
            acllog[0] = m;
            return;
        }
    }
    if (nlog == LOG_MAX) log_free(acllog[--nlog]);
    memmove(acllog + 1, acllog, sizeof(acllog[0]) * (size_t)nlog);
    acllog[0] = e;
    nlog++;
}

/* ------------------------------------------------------------ checks */

acl_user *acl_authenticate(client *c, const char *name, size_t nlen, const char *pass, size_t plen)
{
    acl_user *u = set_get(&users, name, nlen);
    int ok = 0;
    if (u && !(u->flags & U_OFF)) {
        if (u->flags & U_NOPASS) {
            ok = 1;
        } else {
            char h[65];
            hash_hex(pass, plen, h);
            for (int i = 0; i < u->npass; i++) {
                unsigned d = 0;
                for (int j = 0; j < 64; j++)
                    d |= (unsigned)(h[j] ^ u->pass[i][j]);
                ok |= d == 0;
            }
        }
    }
    if (ok) return u;
    char *n = xstrndup(name, nlen);
    log_add(c, DENIED_AUTH, "AUTH", 4, n, 0);
    free(n);
    return NULL;
}

/* A user a follower named that this node does not have: may run nothing,
 * and its name is the one the denials are logged with. */
static acl_user ghost_user = {NULL, U_OFF, NULL, 0, NULL, 0, 0};

acl_user *acl_proxied_user(const char *name, size_t len)
{
    acl_user *u = set_get(&users, name, len);
    if (u) return u;
    free(ghost_user.name);
    ghost_user.name = xstrndup(name, len);
    ghost_user.sel = &nobody_sel;
    ghost_user.nsel = 1;
    return &ghost_user;
}

static int is_channel_cmd(int id, int *pattern, int *all)
{
    const char *n = acl_commands[id].name;
    *pattern = 0;
    *all = 1;
    if (!strcmp(n, "publish") || !strcmp(n, "spublish")) {
        *all = 0;
        return 1;
    }
    if (!strcmp(n, "subscribe") || !strcmp(n, "ssubscribe")) return 1;
    if (!strcmp(n, "psubscribe")) {
        *pattern = 1;
        return 1;
    }
    return 0;
}

static int chan_ok(const selector *s, const char *ch, size_t n, int literal)
{
    for (int i = 0; i < s->nchans; i++) {
        size_t pl = strlen(s->chans[i]);
        if (literal ? (pl == n && !memcmp(s->chans[i], ch, n))
                    : kv_stringmatchlen(s->chans[i], pl, ch, n, 0))
            return 1;
    }
    return 0;
}

/* A key of a call and what the call does to it (ACL_KEY_R | ACL_KEY_W). */
typedef struct keyref {
    int pos, flags;
} keyref;
#define MAX_KEYREFS 256

/* Redis's getKeysUsingKeySpecs(): the keys the command's key specs find,
 * each with its spec's flags, in spec order; -1 when a spec cannot say
 * (unknown search, an impossible range), where Redis asks the command's
 * getkeys function instead. */
static int spec_keys(const acl_cmdinfo *ci, int argc, char **argv, size_t *lens, keyref *out)
{
    int n = 0;
    for (int j = 0; j < ci->nspecs; j++) {
        const acl_keyspec *sp = &ci->specs[j];
        if (sp->flags & ACL_KS_NOTKEY) continue;
        int first = 0, last, step;
        if (sp->bs == 1) {
            first = sp->bs_arg;
        } else if (sp->bs == 2) {
            int start = sp->bs_arg > 0 ? sp->bs_arg : argc + sp->bs_arg;
            int end = sp->bs_arg > 0 ? argc - 1 : 1;
            for (int i = start; i != end; i = start <= end ? i + 1 : i - 1) {
                if (i >= argc || i < 1) break;
                if (!strcasecmp(argv[i], sp->keyword)) {
                    first = i + 1;
                    break;
                }
            }
            if (!first) continue; /* keyword not given */
        } else {
            return -1;
        }
        if (sp->fk == 1) {
            step = sp->b;
            if (sp->a >= 0)
                last = first + sp->a;
            else if (!sp->c)
                last = argc + sp->a;
            else
                last = first + ((argc - first) / sp->c + sp->a);
        } else if (sp->fk == 2) {
            step = sp->c;
            long long nk;
            if (sp->a >= argc || first + sp->a >= argc || first + sp->a < 0) return -1;
            if (!kv_string2ll(argv[first + sp->a], lens[first + sp->a], &nk) || nk < 0 ||
                nk > INT_MAX / 2)
                return -1;
            first += sp->b;
            last = first + (int)nk - 1;
        } else {
            return -1;
        }
        if (last >= argc || last < first || first >= argc || first < 1 || step < 1) return -1;
        for (int i = first; i <= last && n < MAX_KEYREFS; i += step) {
            out[n].pos = i;
            out[n++].flags = sp->flags & (ACL_KEY_R | ACL_KEY_W);
        }
    }
    return n;
}

/* The keys of a call with what it does to each, as Redis's
 * getKeysFromCommandWithSpecs() decides: the key specs when they are
 * reliable, else the command's own rule (SET's GET, BITFIELD's
 * subcommands, SORT's STORE), else every key the server found (keypos)
 * with the union of the command's flags. */
static int call_keys(int id, int argc, char **argv, size_t *lens, const int *keypos, int nkeys,
                     keyref *out)
{
    const acl_cmdinfo *ci = &acl_commands[id];
    int varflags = 0;
    for (int j = 0; j < ci->nspecs; j++)
        varflags |= ci->specs[j].flags & ACL_KS_VARFLAGS;
    if (ci->nspecs && !varflags) {
        int n = spec_keys(ci, argc, argv, lens, out);
        if (n >= 0) return n;
    }
    const char *name = ci->name;
    if (!strcmp(name, "set") && argc >= 2) { /* setGetKeys */
        out[0].pos = 1;
        out[0].flags = ACL_KEY_W;
        for (int i = 3; i < argc; i++)
            if (!strcasecmp(argv[i], "get")) out[0].flags = ACL_KEY_R | ACL_KEY_W;
        return 1;
    }
    if (!strcmp(name, "bitfield") && argc >= 2) { /* bitfieldGetKeys */
        int ro = 1;
        for (int i = 2; i < argc; i++) {
            int rem = argc - i - 1;
            if (!strcasecmp(argv[i], "get") && rem >= 2) {
                i += 2;
            } else if (!strcasecmp(argv[i], "overflow") && rem >= 1) {
                i += 1;
            } else {
                ro = 0;
                break;
            }
        }
        out[0].pos = 1;
        out[0].flags = ro ? ACL_KEY_R : ACL_KEY_R | ACL_KEY_W;
        return 1;
    }
    if (!strcmp(name, "sort") && argc >= 2) { /* sortGetKeys */
        int n = 1;
        out[0].pos = 1;
        out[0].flags = ACL_KEY_R;
        for (int i = 2; i < argc; i++) {
            if (!strcasecmp(argv[i], "limit")) {
                i += 2;
            } else if (!strcasecmp(argv[i], "get") || !strcasecmp(argv[i], "by")) {
                i += 1;
            } else if (!strcasecmp(argv[i], "store") && i + 1 < argc) {
                out[1].pos = i + 1; /* the last STORE, as SORT */
                out[1].flags = ACL_KEY_W;
                n = 2;
            }
        }
        return n;
    }
    int n = nkeys < MAX_KEYREFS ? nkeys : MAX_KEYREFS;
    for (int j = 0; j < n; j++) {
        out[j].pos = keypos[j];
        out[j].flags = ci->keyflags;
    }
    return n;
}

/* Redis's ACLSelectorCheckCmd(). */
static int sel_check(const selector *s, int id, int argc, char **argv, size_t *lens,
                     const keyref *keys, int nkeys, int *errpos)
{
    if (!(s->flags & SEL_ALLCOMMANDS) && id != auth_id && id != hello_id && !getbit(s, id)) {
        /* AUTH and HELLO (no_auth) pass whatever the rules, as in Redis;
         * allowed with some first arguments only? (Redis checks argv[2]
         * of a subcommand, which never has any) */
        const firstargs *f = argc >= 2 && s->nfa ? fa_get(s, id) : NULL;
        int idx = parent[id] >= 0 ? 2 : 1, ok = 0;
        for (int j = 0; f && idx < argc && j < f->n && !ok; j++)
            ok = strlen(f->args[j]) == lens[idx] && !strncasecmp(f->args[j], argv[idx], lens[idx]);
        if (!ok) return DENIED_CMD;
    }
    if (!(s->flags & SEL_ALLKEYS) && nkeys > 0) {
        for (int j = 0; j < nkeys; j++) {
            int p = keys[j].pos, need = keys[j].flags, ok = 0;
            for (int i = 0; i < s->npats && !ok; i++)
                ok = (s->pats[i].flags & need) == need &&
                     keypat_match(&s->pats[i], argv[p], lens[p]);
            if (!ok) {
                *errpos = p;
                return DENIED_KEY;
            }
        }
    }
    int pattern, all;
    if (!(s->flags & SEL_ALLCHANNELS) && is_channel_cmd(id, &pattern, &all)) {
        int end = all ? argc : (argc > 1 ? 2 : 1);
        for (int j = 1; j < end; j++)
            if (!chan_ok(s, argv[j], lens[j], pattern)) {
                *errpos = j;
                return DENIED_CHANNEL;
            }
    }
    return DENIED_OK;
}

static int user_check(const acl_user *u, int id, int argc, char **argv, size_t *lens,
                      const int *keypos, int nkeys, int *errpos)
{
    int relevant = DENIED_CMD, last = 0;
    keyref keys[MAX_KEYREFS];
    int nk = -1; /* found once, when a selector first needs them */
    for (int i = 0; i < u->nsel; i++) {
        int pos = 0;
        const selector *sel = &u->sel[i];
        if (nk < 0 && !(sel->flags & SEL_ALLKEYS))
            nk = call_keys(id, argc, argv, lens, keypos, nkeys, keys);
        int r = sel_check(sel, id, argc, argv, lens, keys, nk < 0 ? 0 : nk, &pos);
        if (r == DENIED_OK) return DENIED_OK;
        if (r > relevant || (r == relevant && pos > last)) {
            relevant = r;
            last = pos;
        }
    }
    *errpos = last;
    return relevant;
}

int acl_check_queued(client *c, int id, int argc, char **argv, size_t *lens, const int *keypos,
                     int nkeys, char *err, size_t errlen)
{
    const acl_user *u = c->user;
    if (!u || id < 0 || u->unrestricted) return 0;
    int pos = 0;
    int r = user_check(u, id, argc, argv, lens, keypos, nkeys, &pos);
    if (r == DENIED_OK) return 0;
    const char *why = r == DENIED_CMD   ? "no permission to execute the command or subcommand"
                      : r == DENIED_KEY ? "no permission to touch the specified keys"
                                        : "no permission to access one of the channels used as "
                                          "arguments";
    if (r == DENIED_CMD)
        log_add(c, r, acl_commands[id].name, strlen(acl_commands[id].name), u->name, 1);
    else
        log_add(c, r, argv[pos], lens[pos], u->name, 1);
    snprintf(err, errlen,
             "NOPERM ACLs rules changed between the moment the transaction was accumulated and "
             "the EXEC call. This command is no longer allowed for the following reason: %s",
             why);
    return -1;
}

int acl_check(client *c, int id, int argc, char **argv, size_t *lens, const int *keypos, int nkeys,
              char *err, size_t errlen)
{
    const acl_user *u = c->user;
    if (!u || id < 0) return 0;
    int pos = 0;
    int r = user_check(u, id, argc, argv, lens, keypos, nkeys, &pos);
    if (r == DENIED_OK) return 0;
    const char *name = acl_commands[id].name;
    if (r == DENIED_CMD) {
        log_add(c, r, name, strlen(name), u->name, 0);
        snprintf(err, errlen, "NOPERM this user has no permissions to run the '%s' command", name);
    } else {
        log_add(c, r, argv[pos], lens[pos], u->name, 0);
        snprintf(err, errlen,
                 "NOPERM this user has no permissions to access one of the %s used as "
                 "arguments",
                 r == DENIED_KEY ? "keys" : "channels");
    }
    return -1;
}

/* ------------------------------------------------------------ RAFT.ACL */

static void getuser_reply(resp_buf *b, const acl_user *u);
static void users_reply(resp_buf *b, const userset *s, int names);
static void cat_reply(resp_buf *b, const char *cat_name);
static void help_reply(resp_buf *b);
static void dryrun_reply(resp_buf *b, const userset *us, int argc, char **argv, size_t *lens);

/* RAFT.ACL <base> SETUSER <name> <rule>... | DELUSER <name>... | LOAD <text>
 * base: the proposer's default user (its ACL LIST rules), the start when
 * the state holds no users yet. */
int acl_apply(void *ctx, const char *cur, size_t curlen, int argc, char **argv, size_t *argvlen,
              resp_buf *reply, char **out, size_t *outlen)
{
    (void)ctx;
    userset s;
    char err[700];
    if (argc < 3) {
        resp_add_error(reply, "ERR malformed RAFT.ACL");
        return 0;
    }
    if (cur) {
        if (parse_users(cur, curlen, "state", &s, err, sizeof(err))) {
            serverLog(LL_WARNING, "The state's ACL users do not parse (%s). Stopping.", err);
            exit(1);
        }
    } else {
        sbuf l = {0};
        sb_str(&l, "user default ");
        sb_add(&l, argv[1], argvlen[1]);
        if (parse_users(l.p, l.len, "state", &s, err,
                        sizeof(err))) { /* a bad base: the plain default */
            memset(&s, 0, sizeof(s));
            set_put(&s, default_user_new());
        }
        free(l.p);
    }
    const char *op = argv[2];
    /* Read forms, queued in a MULTI (acl_multi_argv): answered from the
     * state's users, nothing changes. */
    if (!strcasecmp(op, "whoami") && argc == 4) {
        resp_add_bulk(reply, argv[3], argvlen[3]);
        set_free(&s);
        return 0;
    } else if ((!strcasecmp(op, "list") || !strcasecmp(op, "users")) && argc == 3) {
        users_reply(reply, &s, !strcasecmp(op, "users"));
        set_free(&s);
        return 0;
    } else if (!strcasecmp(op, "cat") && (argc == 3 || argc == 4)) {
        cat_reply(reply, argc == 4 ? argv[3] : NULL);
        set_free(&s);
        return 0;
    } else if (!strcasecmp(op, "help") && argc == 3) {
        help_reply(reply);
        set_free(&s);
        return 0;
    } else if (!strcasecmp(op, "dryrun") && argc >= 5) {
        dryrun_reply(reply, &s, argc - 3, argv + 3, argvlen + 3);
        set_free(&s);
        return 0;
    } else if ((!strcasecmp(op, "genpass") || !strcasecmp(op, "log") || !strcasecmp(op, "save")) &&
               argc == 4) {
        /* This node's own subcommands in a MULTI: answered by the node that
         * ran EXEC (acl_resolve_queued), the answer (one RESP reply, never
         * empty) carried here. */
        if (argvlen[3])
            resp_add_raw(reply, argv[3], argvlen[3]);
        else
            resp_add_error(reply, "ERR malformed RAFT.ACL");
        set_free(&s);
        return 0;
    } else if (!strcasecmp(op, "getuser") && argc == 4) {
        acl_user *u = set_get(&s, argv[3], argvlen[3]);
        if (u)
            getuser_reply(reply, u);
        else
            resp_add_null(reply);
        set_free(&s);
        return 0;
    }
    if (!strcasecmp(op, "setuser") && argc >= 4 &&
        (!argvlen[3] || has_spaces(argv[3], argvlen[3]))) {
        resp_add_error(reply, "ERR Usernames can't contain spaces or null characters");
        set_free(&s);
        return 0;
    } else if (!strcasecmp(op, "setuser") && argc >= 4) {
        char **m;
        size_t *ml;
        int bad = 0;
        int nm = merge_args(argc - 4, argv + 4, argvlen + 4, &m, &ml, &bad);
        if (nm < 0) {
            resp_add_errorf(reply, "ERR Unmatched parenthesis in acl selector starting at '%s'.",
                            argv[4 + bad]);
            set_free(&s);
            return 0;
        }
        acl_user *u = NULL;
        int rc =
            user_apply(set_get(&s, argv[3], argvlen[3]), argv[3], argvlen[3], nm, m, ml, &u, &bad);
        if (rc) {
            resp_add_errorf(reply, "ERR Error in ACL SETUSER modifier '%s': %s", m[bad],
                            op_error(rc));
            free_args(m, ml, nm);
            set_free(&s);
            return 0;
        }
        free_args(m, ml, nm);
        set_put(&s, u);
        resp_add_ok(reply);
    } else if (!strcasecmp(op, "deluser")) {
        for (int j = 3; j < argc; j++)
            if (argvlen[j] == 7 && !memcmp(argv[j], "default", 7)) {
                resp_add_error(reply, "ERR The 'default' user cannot be removed");
                set_free(&s);
                return 0;
            }
        int deleted = 0;
        for (int j = 3; j < argc; j++)
            if (!(argvlen[j] == 7 && !memcmp(argv[j], "default", 7)))
                deleted += set_del(&s, argv[j], argvlen[j]);
        resp_add_int(reply, deleted);
    } else if (!strcasecmp(op, "loadinit") && argc == 4 && cur) {
        /* The aclfile of a node that started a new cluster: the cluster
         * has users already (another node's file came first, or they were
         * made since), which stay. */
        resp_add_ok(reply);
        set_free(&s);
        return 0;
    } else if ((!strcasecmp(op, "load") || !strcasecmp(op, "loadinit")) && argc == 4) {
        userset n;
        if (parse_users(argv[3], argvlen[3], "RAFT.ACL", &n, err, sizeof(err))) {
            resp_add_errorf(reply, "ERR %s", err);
            set_free(&s);
            return 0;
        }
        set_free(&s);
        s = n;
        resp_add_ok(reply);
    } else {
        resp_add_error(reply, "ERR malformed RAFT.ACL");
        set_free(&s);
        return 0;
    }
    sbuf b = {0};
    set_serialize(&s, &b);
    if (!b.p) sb_add(&b, "", 0);
    /* What the state keeps must parse back (every later apply starts from
     * it): checked here rather than trusted, so no entry can make a node
     * stop. */
    userset check;
    if (parse_users(b.p, b.len, "state", &check, err, sizeof(err))) {
        serverLog(LL_WARNING, "RAFT.ACL: users that would not parse back refused (%s)", err);
        resp_add_error(reply, "ERR these ACL rules cannot be stored");
        free(b.p);
        set_free(&s);
        return 0;
    }
    set_free(&check);
    *out = b.p;
    *outlen = b.len;
    install(&s, !strcasecmp(op, "load"));
    return 1;
}

/* ------------------------------------------------------------ aclfile at start */

static int read_file(const char *path, char **out, size_t *len);
static void add_argv(char ***av, size_t **al, int *n, const char *s, size_t len);
static void begin_argv(char ***av, size_t **al, int *n, const char *op);

static char *startup_text; /* the file's users as ACL LIST lines, until the cluster has users */
static size_t startup_len;

int acl_load_file_at_start(char *err, size_t errlen)
{
    if (!cfg.aclfile[0]) return 0;
    char *text;
    size_t len;
    if (read_file(cfg.aclfile, &text, &len)) {
        snprintf(err, errlen, "Error loading ACLs, opening file '%s': %s", cfg.aclfile,
                 strerror(errno));
        return -1;
    }
    userset s;
    char why[700];
    if (parse_users(text, len, cfg.aclfile, &s, why, sizeof(why))) {
        snprintf(err, errlen, "%sAborting RaftKV startup because of ACL errors", why);
        free(text);
        return -1;
    }
    free(text);
    sbuf t = {0};
    set_serialize(&s, &t);
    set_free(&s);
    startup_text = t.p ? t.p : xstrndup("", 0);
    startup_len = t.len;
    return 0;
}

int acl_startup_argv(int have_users, char ***av, size_t **al, int *n)
{
    if (!startup_text) return 0;
    if (have_users) { /* the log's users: the file is for ACL LOAD only */
        free(startup_text);
        startup_text = NULL;
        return 0;
    }
    begin_argv(av, al, n, "loadinit");
    add_argv(av, al, n, startup_text, startup_len);
    return 1;
}

/* ------------------------------------------------------------ ACL command */

static void add_argv(char ***av, size_t **al, int *n, const char *s, size_t len)
{
    *av = xrealloc(*av, sizeof(char *) * (size_t)(*n + 1));
    *al = xrealloc(*al, sizeof(size_t) * (size_t)(*n + 1));
    (*av)[*n] = xstrndup(s, len);
    (*al)[*n] = len;
    (*n)++;
}

static void begin_argv(char ***av, size_t **al, int *n, const char *op)
{
    *av = NULL;
    *al = NULL;
    *n = 0;
    add_argv(av, al, n, "raft.acl", 8);
    sbuf d = {0};
    describe_user(the_default, &d);
    add_argv(av, al, n, d.p, d.len);
    free(d.p);
    add_argv(av, al, n, op, strlen(op));
}

void acl_free_argv(char **av, size_t *al, int n)
{
    free_args(av, al, n);
}

int acl_requirepass_argv(const char *pass, size_t plen, char ***av, size_t **al, int *n)
{
    begin_argv(av, al, n, "setuser");
    add_argv(av, al, n, "default", 7);
    if (!plen) {
        add_argv(av, al, n, "nopass", 6);
    } else {
        char op[66];
        op[0] = '#';
        hash_hex(pass, plen, op + 1);
        add_argv(av, al, n, "resetpass", 9);
        add_argv(av, al, n, op, 65);
    }
    return 1;
}

static void reply_selector(resp_buf *b, const selector *s)
{
    sbuf t = {0};
    resp_add_bulk_str(b, "commands");
    describe_commands(s, &t);
    resp_add_bulk(b, t.p, t.len);
    t.len = 0;
    resp_add_bulk_str(b, "keys");
    describe_keys(s, &t, "");
    resp_add_bulk(b, t.p ? t.p : "", t.len);
    t.len = 0;
    resp_add_bulk_str(b, "channels");
    if (s->flags & SEL_ALLCHANNELS) {
        sb_str(&t, "&*");
    } else {
        for (int i = 0; i < s->nchans; i++) {
            if (i) sb_str(&t, " ");
            sb_str(&t, "&");
            sb_str(&t, s->chans[i]);
        }
    }
    resp_add_bulk(b, t.p ? t.p : "", t.len);
    free(t.p);
}

static void getuser_reply(resp_buf *b, const acl_user *u)
{
    resp_add_map(b, 6);
    resp_add_bulk_str(b, "flags");
    int nf = 0;
    for (int j = 0; j < NUFLAGS; j++)
        nf += (u->flags & user_flags[j].flag) != 0;
    resp_add_set(b, nf);
    for (int j = 0; j < NUFLAGS; j++)
        if (u->flags & user_flags[j].flag) resp_add_bulk_str(b, user_flags[j].name);
    resp_add_bulk_str(b, "passwords");
    resp_add_array(b, u->npass);
    for (int i = 0; i < u->npass; i++)
        resp_add_bulk(b, u->pass[i], 64);
    reply_selector(b, &u->sel[0]);
    resp_add_bulk_str(b, "selectors");
    resp_add_array(b, u->nsel - 1);
    for (int i = 1; i < u->nsel; i++) {
        resp_add_map(b, 3);
        reply_selector(b, &u->sel[i]);
    }
}

/* ACL USERS (names) or ACL LIST. */
static void users_reply(resp_buf *b, const userset *s, int names)
{
    resp_add_array(b, s->n);
    for (int i = 0; i < s->n; i++) {
        if (names) {
            resp_add_bulk_str(b, s->u[i]->name);
            continue;
        }
        sbuf t = {0};
        sb_str(&t, "user ");
        sb_str(&t, s->u[i]->name);
        sb_str(&t, " ");
        describe_user(s->u[i], &t);
        resp_add_bulk(b, t.p, t.len);
        free(t.p);
    }
}

static void log_reply(resp_buf *b, long count)
{
    static const char *reasons[] = {"unknown", "command", "key", "auth", "channel"};
    if (count > nlog) count = nlog;
    resp_add_array(b, count);
    int64_t now = mstime();
    for (long i = 0; i < count; i++) {
        logentry *e = acllog[i];
        resp_add_map(b, 7);
        resp_add_bulk_str(b, "count");
        resp_add_int(b, (int64_t)e->count);
        resp_add_bulk_str(b, "reason");
        resp_add_bulk_str(b, reasons[e->reason]);
        resp_add_bulk_str(b, "context");
        resp_add_bulk_str(b, e->context ? "multi" : "toplevel");
        resp_add_bulk_str(b, "object");
        resp_add_bulk_str(b, e->object);
        resp_add_bulk_str(b, "username");
        resp_add_bulk_str(b, e->username);
        resp_add_bulk_str(b, "age-seconds");
        resp_add_double(b, (double)(now - e->ctime) / 1000);
        resp_add_bulk_str(b, "client-info");
        resp_add_bulk_str(b, e->cinfo);
    }
}

static const char *help_lines[] = {
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
    "HELP",
    "    Prints this help.",
};

/* ACL CAT [category]: cat NULL for the categories. */
static void cat_reply(resp_buf *b, const char *cat_name)
{
    if (!cat_name) {
        resp_add_array(b, NCATS);
        for (int i = 0; i < NCATS; i++)
            resp_add_bulk_str(b, categories[i]);
        return;
    }
    int cat = category_index(cat_name);
    if (cat < 0) {
        resp_add_errorf(b, "ERR Unknown category '%.128s'", cat_name);
        return;
    }
    size_t mark = resp_add_deferred(b);
    int64_t k = 0;
    for (int id = 0; id < acl_ncommands; id++)
        if (acl_commands[id].cats & ACL_CAT(cat)) {
            resp_add_bulk_str(b, acl_commands[id].name);
            k++;
        }
    resp_set_deferred_array(b, mark, k);
}

static void help_reply(resp_buf *b)
{
    int k = (int)(sizeof(help_lines) / sizeof(help_lines[0]));
    resp_add_array(b, k);
    for (int i = 0; i < k; i++)
        resp_add_simple(b, help_lines[i]);
}

/* ACL DRYRUN: argv[0] the user's name, then the call (argc >= 2), checked
 * against the users us. */
static void dryrun_reply(resp_buf *b, const userset *us, int argc, char **argv, size_t *lens)
{
    acl_user *u = set_get(us, argv[0], lens[0]);
    if (!u) {
        resp_add_errorf(b, "ERR User '%s' not found", argv[0]);
        return;
    }
    int id = acl_command_id(argv[1], lens[1]);
    if (id >= 0 && has_subcommands(id) && argc >= 3) {
        int sid = acl_subcommand_id(id, argv[2], lens[2]);
        id = sid; /* an unknown subcommand: not found, as Redis's lookupCommand */
    }
    if (id < 0) {
        resp_add_errorf(b, "ERR Command '%s' not found", argv[1]);
        return;
    }
    int keypos[256];
    int nkeys = command_key_positions(argc - 1, argv + 1, lens + 1, keypos, 256);
    int pos = 0;
    int r = user_check(u, id, argc - 1, argv + 1, lens + 1, keypos, nkeys, &pos);
    if (r == DENIED_CMD) {
        char msg[300];
        int l = snprintf(msg, sizeof(msg), "This user has no permissions to run the '%s' command",
                         acl_commands[id].name);
        resp_add_bulk(b, msg, (size_t)l);
    } else if (r == DENIED_KEY || r == DENIED_CHANNEL) {
        sbuf t = {0};
        sb_str(&t, "This user has no permissions to access the '");
        sb_add(&t, argv[1 + pos], lens[1 + pos]);
        sb_str(&t, r == DENIED_KEY ? "' key" : "' channel");
        resp_add_bulk(b, t.p, t.len);
        free(t.p);
    } else {
        resp_add_ok(b);
    }
}

static int parse_long(const char *s, size_t n, long *v)
{
    long long x;
    if (!kv_string2ll(s, n, &x) || x < LONG_MIN || x > LONG_MAX) return 0;
    *v = (long)x;
    return 1;
}

static int read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    sbuf b = {0};
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        sb_add(&b, buf, n);
    fclose(f);
    if (!b.p) sb_add(&b, "", 0);
    *out = b.p;
    *len = b.len;
    return 0;
}

static int save_file(const char *path)
{
    sbuf b = {0};
    set_serialize(&users, &b);
    char tmp[1100];
    snprintf(tmp, sizeof(tmp), "%s.tmp-%d-%lld", path, (int)getpid(), (long long)mstime());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int ok = fd >= 0 && (!b.len || write(fd, b.p, b.len) == (ssize_t)b.len);
    if (fd >= 0 && close(fd) != 0) ok = 0;
    if (ok && rename(tmp, path) != 0) ok = 0;
    if (!ok) {
        serverLog(LL_WARNING, "ACL SAVE to %s: %s", path, strerror(errno));
        unlink(tmp);
    }
    free(b.p);
    return ok ? 0 : -1;
}

/* ACL's subcommands and their arities (Redis's command table): dispatch's
 * checks of a container's subcommand. */
static const struct {
    const char *name;
    int arity;
} subs[] = {{"cat", -2},     {"deluser", -3}, {"dryrun", -4}, {"genpass", -2}, {"getuser", 3},
            {"help", 2},     {"list", 2},     {"load", 2},    {"log", -2},     {"save", 2},
            {"setuser", -3}, {"users", 2},    {"whoami", 2}};

/* The subcommand's name and arity, as dispatch checks them: 0, or -1 with
 * Redis's error in err. */
static int sub_ok(int argc, char **argv, char *err, size_t errlen)
{
    const char *sub = argv[1];
    int known = -1;
    for (int i = 0; i < (int)(sizeof(subs) / sizeof(subs[0])); i++)
        if (!strcasecmp(sub, subs[i].name)) known = i;
    if (known < 0) {
        snprintf(err, errlen, "ERR unknown subcommand '%.128s'. Try ACL HELP.", sub);
        return -1;
    }
    int ar = subs[known].arity;
    if ((ar > 0 && argc != ar) || (ar < 0 && argc < -ar)) {
        snprintf(err, errlen, "ERR wrong number of arguments for 'acl|%s' command",
                 subs[known].name);
        return -1;
    }
    return 0;
}

int acl_multi_argv(client *c, int argc, char **argv, size_t *lens, char ***av, size_t **al, int *n,
                   char *err, size_t errlen)
{
    if (sub_ok(argc, argv, err, errlen)) return -1;
    const char *sub = argv[1];
    if (!strcasecmp(sub, "setuser")) {
        /* The rules are checked at apply, so a wrong one is an error in
         * EXEC's reply, as in Redis; passwords travel hashed. */
        begin_argv(av, al, n, "setuser");
        for (int i = 2; i < argc; i++) {
            if (i > 2 && lens[i] && (argv[i][0] == '>' || argv[i][0] == '<')) {
                char op[66];
                op[0] = argv[i][0] == '>' ? '#' : '!';
                hash_hex(argv[i] + 1, lens[i] - 1, op + 1);
                add_argv(av, al, n, op, 65);
            } else {
                add_argv(av, al, n, argv[i], lens[i]);
            }
        }
    } else if (!strcasecmp(sub, "deluser")) {
        begin_argv(av, al, n, "deluser");
        for (int i = 2; i < argc; i++)
            add_argv(av, al, n, argv[i], lens[i]);
    } else if (!strcasecmp(sub, "whoami")) {
        begin_argv(av, al, n, "whoami");
        add_argv(av, al, n, c->user->name, strlen(c->user->name));
    } else if (!strcasecmp(sub, "list") || !strcasecmp(sub, "users")) {
        begin_argv(av, al, n, !strcasecmp(sub, "list") ? "list" : "users");
    } else if (!strcasecmp(sub, "getuser")) {
        begin_argv(av, al, n, "getuser");
        add_argv(av, al, n, argv[2], lens[2]);
    } else if (!strcasecmp(sub, "cat") || !strcasecmp(sub, "help") || !strcasecmp(sub, "dryrun")) {
        char low[8];
        snprintf(low, sizeof(low), "%s",
                 !strcasecmp(sub, "cat")    ? "cat"
                 : !strcasecmp(sub, "help") ? "help"
                                            : "dryrun");
        begin_argv(av, al, n, low);
        for (int i = 2; i < argc; i++)
            add_argv(av, al, n, argv[i], lens[i]);
    } else {
        /* GENPASS, LOG, LOAD, SAVE: queued as given; EXEC runs them on
         * this node (acl_resolve_queued). */
        *av = NULL;
        *al = NULL;
        *n = 0;
        for (int i = 0; i < argc; i++)
            add_argv(av, al, n, argv[i], lens[i]);
    }
    return 0;
}

/* ACL LOAD's reading of the file: 0 with the users' ACL LIST lines in *out
 * (hashed passwords only; free it), or -1 with Redis's error in b. */
static int load_text(resp_buf *b, sbuf *out)
{
    char *text;
    size_t len;
    if (read_file(cfg.aclfile, &text, &len)) {
        resp_add_errorf(b, "ERR Error loading ACLs, opening file '%s': %s", cfg.aclfile,
                        strerror(errno));
        return -1;
    }
    userset s;
    char err[700];
    if (parse_users(text, len, cfg.aclfile, &s, err, sizeof(err))) {
        resp_add_errorf(b,
                        "ERR %sWARNING: ACL errors detected, no change to the "
                        "previously active ACL rules was performed",
                        err);
        free(text);
        return -1;
    }
    memset(out, 0, sizeof(*out));
    set_serialize(&s, out);
    set_free(&s);
    free(text);
    return 0;
}

/* ACL GENPASS, LOG and SAVE (and LOAD or SAVE without an aclfile): this
 * node's own, answered in b; 0 for any other subcommand. */
static int local_reply(resp_buf *b, int argc, char **argv, size_t *lens)
{
    const char *sub = argv[1];
    if (!cfg.aclfile[0] && (!strcasecmp(sub, "load") || !strcasecmp(sub, "save"))) {
        resp_add_error(b, "ERR This Redis instance is not configured to use an ACL file. You may "
                          "want to specify users via the ACL SETUSER command and then issue a "
                          "CONFIG REWRITE (assuming you have a Redis configuration file set) in "
                          "order to store users in the Redis configuration.");
    } else if (!strcasecmp(sub, "save") && argc == 2) {
        if (save_file(cfg.aclfile))
            resp_add_error(b, "ERR There was an error trying to save the ACLs. Please check the "
                              "server logs for more information");
        else
            resp_add_ok(b);
    } else if (!strcasecmp(sub, "genpass") && (argc == 2 || argc == 3)) {
        long bits = 256;
        if (argc == 3 && !parse_long(argv[2], lens[2], &bits)) {
            resp_add_error(b, "ERR value is not an integer or out of range");
            return 1;
        }
        if (bits <= 0 || bits > 4096) {
            resp_add_error(b, "ERR ACL GENPASS argument must be the number of bits for the output "
                              "password, a positive number up to 4096");
            return 1;
        }
        unsigned char raw[512];
        char hex[1024];
        long chars = (bits + 3) / 4;
        size_t got = 0;
        while (got < (size_t)(chars + 1) / 2) {
            ssize_t r = getrandom(raw + got, (size_t)(chars + 1) / 2 - got, 0);
            if (r <= 0) {
                resp_add_error(b, "ERR no random source");
                return 1;
            }
            got += (size_t)r;
        }
        for (long i = 0; i < chars; i++)
            hex[i] = "0123456789abcdef"[(raw[i / 2] >> ((i & 1) ? 0 : 4)) & 15];
        resp_add_bulk(b, hex, (size_t)chars);
    } else if (!strcasecmp(sub, "log") && (argc == 2 || argc == 3)) {
        long count = 10;
        if (argc == 3) {
            if (!strcasecmp(argv[2], "reset")) {
                for (int i = 0; i < nlog; i++)
                    log_free(acllog[i]);
                nlog = 0;
                resp_add_ok(b);
                return 1;
            }
            if (!parse_long(argv[2], lens[2], &count)) {
                resp_add_error(b, "ERR value is not an integer or out of range");
                return 1;
            }
            if (count < 0) count = 0;
        }
        log_reply(b, count);
    } else {
        return 0;
    }
    return 1;
}

void acl_resolve_queued(client *c)
{
    for (int i = 0; i < c->mq_len; i++) {
        mcmd *m = &c->mq[i];
        if (m->argc < 2 || strcasecmp(m->argv[0], "acl")) continue;
        char sub[8];
        snprintf(sub, sizeof(sub), "%s",
                 !strcasecmp(m->argv[1], "genpass") ? "genpass"
                 : !strcasecmp(m->argv[1], "log")   ? "log"
                 : !strcasecmp(m->argv[1], "save")  ? "save"
                 : !strcasecmp(m->argv[1], "load")  ? "load"
                                                    : "");
        resp_buf b;
        resp_buf_init(&b, c->proto);
        char **av = NULL;
        size_t *al = NULL;
        int n = 0;
        sbuf t = {0};
        if (!strcmp(sub, "load") && cfg.aclfile[0] && !load_text(&b, &t)) {
            begin_argv(&av, &al, &n, "load");
            add_argv(&av, &al, &n, t.p ? t.p : "", t.len);
        } else if (sub[0] && strcmp(sub, "load")) {
            if (!local_reply(&b, m->argc, m->argv, m->argvlen)) /* an error reply too */
                resp_add_errorf(&b,
                                "ERR unknown subcommand or wrong number of arguments for "
                                "'%.128s'. Try ACL HELP.",
                                m->argv[1]);
            begin_argv(&av, &al, &n, sub);
            add_argv(&av, &al, &n, b.p, b.len);
        } else {
            /* An error answered in its place, as EXEC's re-check does: a
             * file that does not load, no aclfile, or (from a peer) an
             * ACL subcommand no MULTI queues. */
            if (!sub[0])
                resp_add_error(&b, "ERR Command not allowed inside a transaction");
            else if (!cfg.aclfile[0])
                local_reply(&b, m->argc, m->argv, m->argvlen);
            size_t len = b.len >= 3 ? b.len - 3 : 0; /* '-' <text> CRLF */
            add_argv(&av, &al, &n, "raft.noperm", 11);
            add_argv(&av, &al, &n, len ? b.p + 1 : "", len);
        }
        free(t.p);
        resp_buf_free(&b);
        free(m->argv);
        m->argc = n;
        m->argv = argv_copy(n, av, al, &m->argvlen);
        free_args(av, al, n);
    }
}

int acl_command(client *c, int argc, char **argv, size_t *lens, char ***av, size_t **al, int *n)
{
    resp_buf *b = client_reply_buf(c);
    const char *sub = argv[1];
    char err[300];
    if (sub_ok(argc, argv, err, sizeof(err))) {
        resp_add_error(b, err);
        return 0;
    }
    if (!strcasecmp(sub, "setuser") && argc >= 3) {
        if (!lens[2] || has_spaces(argv[2], lens[2])) { /* RaftKV: an empty name too */
            resp_add_error(b, "ERR Usernames can't contain spaces or null characters");
            return 0;
        }
        char **m;
        size_t *ml;
        int bad = 0;
        int nm = merge_args(argc - 3, argv + 3, lens + 3, &m, &ml, &bad);
        if (nm < 0) {
            resp_add_errorf(b, "ERR Unmatched parenthesis in acl selector starting at '%s'.",
                            argv[3 + bad]);
            return 0;
        }
        /* Rules are checked against this node's users first, so a wrong one
         * is answered at once with its text; the entry carries passwords
         * hashed only. */
        acl_user *u = NULL;
        int rc =
            user_apply(set_get(&users, argv[2], lens[2]), argv[2], lens[2], nm, m, ml, &u, &bad);
        if (rc) {
            resp_add_errorf(b, "ERR Error in ACL SETUSER modifier '%s': %s", m[bad], op_error(rc));
            free_args(m, ml, nm);
            return 0;
        }
        user_free(u);
        begin_argv(av, al, n, "setuser");
        add_argv(av, al, n, argv[2], lens[2]);
        for (int i = 0; i < nm; i++) {
            if (ml[i] && (m[i][0] == '>' || m[i][0] == '<')) {
                char op[66];
                op[0] = m[i][0] == '>' ? '#' : '!';
                hash_hex(m[i] + 1, ml[i] - 1, op + 1);
                add_argv(av, al, n, op, 65);
            } else {
                add_argv(av, al, n, m[i], ml[i]);
            }
        }
        free_args(m, ml, nm);
        return 1;
    } else if (!strcasecmp(sub, "deluser") && argc >= 3) {
        for (int j = 2; j < argc; j++)
            if (lens[j] == 7 && !memcmp(argv[j], "default", 7)) {
                resp_add_error(b, "ERR The 'default' user cannot be removed");
                return 0;
            }
        begin_argv(av, al, n, "deluser");
        for (int j = 2; j < argc; j++)
            add_argv(av, al, n, argv[j], lens[j]);
        return 1;
    } else if (!strcasecmp(sub, "getuser") && argc == 3) {
        acl_user *u = set_get(&users, argv[2], lens[2]);
        if (!u) {
            resp_add_null(b);
            return 0;
        }
        getuser_reply(b, u);
    } else if ((!strcasecmp(sub, "list") || !strcasecmp(sub, "users")) && argc == 2) {
        users_reply(b, &users, !strcasecmp(sub, "users"));
    } else if (!strcasecmp(sub, "whoami") && argc == 2) {
        if (c->user)
            resp_add_bulk_str(b, c->user->name);
        else
            resp_add_null(b);
    } else if (!strcasecmp(sub, "load") && argc == 2 && cfg.aclfile[0]) {
        /* Proposed as the users' ACL LIST lines: what the entry carries has
         * hashed passwords only. */
        sbuf t;
        if (load_text(b, &t)) return 0;
        begin_argv(av, al, n, "load");
        add_argv(av, al, n, t.p ? t.p : "", t.len);
        free(t.p);
        return 1;
    } else if (!strcasecmp(sub, "cat") && (argc == 2 || argc == 3)) {
        cat_reply(b, argc == 3 ? argv[2] : NULL);
    } else if (local_reply(b, argc, argv, lens)) {
        /* GENPASS, LOG, SAVE: this node's own */
    } else if (!strcasecmp(sub, "dryrun") && argc >= 4) {
        dryrun_reply(b, &users, argc - 2, argv + 2, lens + 2);
    } else if (!strcasecmp(sub, "help") && argc == 2) {
        help_reply(b);
    } else {
        resp_add_errorf(b,
                        "ERR unknown subcommand or wrong number of arguments for '%.128s'. Try "
                        "ACL HELP.",
                        sub);
    }
    return 0;
}
