/* main.c -- the lincheck command. See usage() and lincheck.h. */
#include "lincheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fputs("usage: lincheck [--timeout SEC] [--max-memory MB] [--all-keys] [--json] [--no-prune]\n"
          "                [-v] FILE...\n"
          "Checks that each history (Jepsen EDN events, one map a line; \"-\" is stdin)\n"
          "is linearizable for a Redis key space: string keys (get put append del incr)\n"
          "and set keys (sadd srem smembers).\n"
          "  --timeout SEC     budget per file (default 60; 0 = none)\n"
          "  --max-memory MB   budget of search state per file (default 4096; 0 = none)\n"
          "  --all-keys        go on checking keys after one is not linearizable\n"
          "  --json            one JSON object per file instead of text\n"
          "  --no-prune        keep the :info puts no read can have seen (slower; for\n"
          "                    cross-checking the reduction)\n"
          "  -v, -v -v         progress per key on stderr; whole values; -v -v also shows\n"
          "                    the deepest point reached in an undecided key\n"
          "Exit status: 0 linearizable, 1 not linearizable, 2 unknown (budget exceeded),\n"
          "3 bad input or usage; with several files, the first of 3, 1, 2, 0 that occurs.\n",
          f);
}

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 32)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static int worse(int a, int b)
{
    static const int rank[] = {0, 2, 1, 3}; /* by exit code: 0, 1, 2, 3 */
    return rank[b] > rank[a] ? b : a;
}

int main(int argc, char **argv)
{
    lc_options opt = {60, (size_t)4096 << 20, 0, 0, 0};
    int json = 0, status = 0, nfiles = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--timeout") == 0 && i + 1 < argc) {
            char *e;
            opt.timeout_sec = strtod(argv[++i], &e);
            if (*e || opt.timeout_sec < 0) {
                fprintf(stderr, "lincheck: bad --timeout %s\n", argv[i]);
                return LC_BAD_INPUT;
            }
        } else if (strcmp(a, "--max-memory") == 0 && i + 1 < argc) {
            char *e;
            unsigned long long mb = strtoull(argv[++i], &e, 10);
            if (*e) {
                fprintf(stderr, "lincheck: bad --max-memory %s\n", argv[i]);
                return LC_BAD_INPUT;
            }
            opt.max_memory = (size_t)mb << 20;
        } else if (strcmp(a, "--all-keys") == 0) {
            opt.all_keys = 1;
        } else if (strcmp(a, "--no-prune") == 0) {
            opt.no_prune = 1;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            opt.verbose++;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "lincheck: unknown option %s\n", a);
            usage(stderr);
            return LC_BAD_INPUT;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--timeout") == 0 || strcmp(a, "--max-memory") == 0) {
            i++;
            continue;
        }
        if (a[0] == '-' && a[1]) continue;
        nfiles++;
        char err[512];
        lc_history *h;
        int rc = lc_history_load(a, &h, err, sizeof err);
        if (rc != 0) {
            if (json) {
                fputs("{\"file\":", stdout);
                json_str(a);
                printf(",\"verdict\":\"%s\",\"why\":", lc_verdict_str((lc_verdict)rc));
                json_str(err);
                puts("}");
            } else
                printf("%s: %s: %s\n", a, lc_verdict_str((lc_verdict)rc), err);
            status = worse(status, rc);
            continue;
        }
        lc_report *r;
        lc_verdict v = lc_check(h, &opt, &r);
        if (!r) {
            printf("%s: unknown: out of memory\n", a);
        } else if (json) {
            lc_report_print_json(r, a, stdout);
        } else {
            lc_report_print(r, a, stdout);
        }
        status = worse(status, (int)v);
        lc_report_free(r);
        lc_history_free(h);
    }
    if (nfiles == 0) {
        usage(stderr);
        return LC_BAD_INPUT;
    }
    return status;
}
