/* test_commands.c -- the data commands against redis-server's own replies:
 * cases.expected holds, for every command of cases.txt, the exact bytes a
 * real redis-server 7.0 answered (gen_cases.py). Each is run here through
 * the check, the entry codec and kvstate_apply (writes) or kvstate_read
 * (reads), and the bytes must be equal. A write whose check fails must be
 * answered with the same error by the apply path (it re-validates). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "kvtest.h"

static const char *cases_path;
static int proto = 2;

static size_t unesc(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 3 < n + 1 && s[i + 1] == 'x') {
            unsigned v;
            sscanf(s + i + 2, "%2x", &v);
            out[o++] = (char)v;
            i += 3;
        } else {
            out[o++] = s[i];
        }
    }
    return o;
}

static void dump(const char *what, const char *p, size_t n)
{
    fprintf(stderr, "  %s: ", what);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch >= 0x20 && ch < 0x7f)
            fputc(ch, stderr);
        else
            fprintf(stderr, "\\x%02x", ch);
    }
    fputc('\n', stderr);
}

/* A flat array (RESP3: also a set, or a map taken as its flat fields and
 * values) of bulk strings, elements sorted (KEYS order is the hash table's
 * in Redis and the hash's here). */
static int cmp_elem(const void *a, const void *b)
{
    const char *const *x = a, *const *y = b;
    return strcmp(*x, *y);
}

static char *sort_array(const char *p, size_t n, size_t *outlen)
{
    char *copy = malloc(n + 1), *out = malloc(n + 1);
    memcpy(copy, p, n);
    copy[n] = 0;
    if (copy[0] != '*' && copy[0] != '%' && copy[0] != '~') {
        memcpy(out, p, n);
        *outlen = n;
        free(copy);
        return out;
    }
    char *save = NULL;
    char *hdr = strtok_r(copy, "\n", &save);
    int cnt = atoi(hdr + 1) * (hdr[0] == '%' ? 2 : 1); /* a map: its pairs, flat */
    char **el = calloc((size_t)cnt + 1, sizeof(char *));
    for (int i = 0; i < cnt; i++) {
        char *a = strtok_r(NULL, "\n", &save);
        char *b = strtok_r(NULL, "\n", &save);
        assert_true(a && b && a[0] == '$'); /* only bulk strings: no nested arrays */
        el[i] = malloc(strlen(a) + strlen(b) + 3);
        sprintf(el[i], "%s\n%s\n", a, b);
    }
    qsort(el, (size_t)cnt, sizeof(char *), cmp_elem);
    size_t o = (size_t)sprintf(out, "%s\n", hdr);
    for (int i = 0; i < cnt; i++) {
        o += (size_t)sprintf(out + o, "%s", el[i]);
        free(el[i]);
    }
    free(el);
    free(copy);
    *outlen = o;
    return out;
}

static void differential_replies_match_redis(void **state)
{
    (void)state;
    FILE *f = fopen(cases_path, "r");
    assert_non_null(f);
    char *dir = kvt_mkdtemp();
    kvstate *s = kvt_open_state(dir);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int failures = 0, cases = 0, sorted = 0;
    char *argv[128];
    size_t argvlen[128];
    int argc = 0;
    resp_buf got;
    resp_buf_init(&got, proto);
    char *cmdline = NULL;

    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] == '\n') line[--n] = 0;
        if (line[0] == '#' || n == 0) continue;
        if (line[0] == 'G') {
            /* A fresh database for each group, as gen_cases.py's FLUSHALL. */
            char *fa[] = {"flushall"};
            size_t fl[] = {8};
            resp_buf_reset(&got);
            assert_int_equal(kvt_run(s, kvt_now_ms(), kvt_now_ms(), 1, fa, fl, &got), 0);
            continue;
        }
        if (line[0] == 'C' || line[0] == 'S') {
            for (int i = 0; i < argc; i++)
                free(argv[i]);
            free(cmdline);
            cmdline = strdup(line + 2);
            sorted = line[0] == 'S';
            argc = 0;
            char *p = line + 2;
            for (;;) {
                char *t = strchr(p, '\t');
                size_t len = t ? (size_t)(t - p) : strlen(p);
                argv[argc] = malloc(len + 1);
                argvlen[argc] = unesc(p, len, argv[argc]);
                argv[argc][argvlen[argc]] = 0;
                argc++;
                if (!t) break;
                p = t + 1;
            }
            continue;
        }
        /* 'R': the expected reply; run the command now. */
        char *want = malloc((size_t)n);
        size_t wantlen = unesc(line + 2, (size_t)n - 2, want);
        int64_t now = kvt_now_ms();
        resp_buf_reset(&got);
        const kv_command *cmd = kv_command_lookup(argv[0], argvlen[0]);
        resp_buf chk;
        resp_buf_init(&chk, proto);
        int checked_out = 0;
        if (cmd && cmd->check && (cmd->flags & KV_CMD_WRITE) &&
            (cmd->arity > 0 ? argc == cmd->arity : argc >= -cmd->arity))
            checked_out = cmd->check(argc, argv, argvlen, &chk) != 0;
        int run_rc = kvt_run(s, now, now, argc, argv, argvlen, &got);
        if (run_rc != 0) fprintf(stderr, "storage error %d: %s\n", run_rc, cmdline);
        assert_int_equal(run_rc, 0);
        if (checked_out && (chk.len != got.len || memcmp(chk.p, got.p, got.len) != 0)) {
            fprintf(stderr, "check and apply disagree: %s\n", cmdline);
            dump("check", chk.p, chk.len);
            dump("apply", got.p, got.len);
            failures++;
        }
        resp_buf_free(&chk);
        char *g = got.p;
        size_t glen = got.len;
        char *w = want, *gs = NULL, *ws = NULL;
        if (sorted) {
            gs = sort_array(got.p, got.len, &glen);
            ws = sort_array(want, wantlen, &wantlen);
            g = gs;
            w = ws;
        }
        cases++;
        if (glen != wantlen || memcmp(g, w, glen) != 0) {
            fprintf(stderr, "MISMATCH: %s\n", cmdline);
            dump("redis", w, wantlen);
            dump("ours ", g, glen);
            failures++;
        }
        free(gs);
        free(ws);
        free(want);
    }
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    free(cmdline);
    free(line);
    fclose(f);
    resp_buf_free(&got);
    kvstate_close(s);
    kvt_rmrf(dir);
    fprintf(stderr, "%d cases, %d failures\n", cases, failures);
    assert_int_equal(failures, 0);
}

int main(int argc, char **argv)
{
    cases_path = argc > 1 ? argv[1] : "cases.expected";
    proto = argc > 2 ? atoi(argv[2]) : 2;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(differential_replies_match_redis),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
