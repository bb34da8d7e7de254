/* gen_main.c -- lincheck-gen: writes a random history (see lc_gen). */
#include "lincheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fputs("usage: lincheck-gen [--seed N] [--ops N] [--clients N] [--keys N]\n"
          "                    [--info-rate F] [--fail-rate F] [--corrupt none|value|stale]\n"
          "                    [--shape mixed|register|set] [--bursts N]\n"
          "Writes to standard output a random history of a simulated linearizable\n"
          "store; --corrupt makes one late read impossible.\n",
          f);
}

int main(int argc, char **argv)
{
    lc_gen_options o;
    lc_gen_defaults(&o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *e = NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (!v) goto bad;
        i++;
        if (strcmp(a, "--seed") == 0)
            o.seed = strtoull(v, &e, 10);
        else if (strcmp(a, "--ops") == 0)
            o.ops = (uint32_t)strtoul(v, &e, 10);
        else if (strcmp(a, "--clients") == 0)
            o.clients = (uint32_t)strtoul(v, &e, 10);
        else if (strcmp(a, "--keys") == 0)
            o.keys = (uint32_t)strtoul(v, &e, 10);
        else if (strcmp(a, "--info-rate") == 0)
            o.info_rate = strtod(v, &e);
        else if (strcmp(a, "--bursts") == 0)
            o.bursts = (uint32_t)strtoul(v, &e, 10);
        else if (strcmp(a, "--fail-rate") == 0)
            o.fail_rate = strtod(v, &e);
        else if (strcmp(a, "--corrupt") == 0) {
            if (strcmp(v, "none") == 0)
                o.corrupt = LC_CORRUPT_NONE;
            else if (strcmp(v, "value") == 0)
                o.corrupt = LC_CORRUPT_VALUE;
            else if (strcmp(v, "stale") == 0)
                o.corrupt = LC_CORRUPT_STALE;
            else
                goto bad;
            continue;
        } else if (strcmp(a, "--shape") == 0) {
            if (strcmp(v, "mixed") == 0)
                o.shape = LC_GEN_MIXED;
            else if (strcmp(v, "register") == 0)
                o.shape = LC_GEN_REGISTER;
            else if (strcmp(v, "set") == 0)
                o.shape = LC_GEN_SET;
            else
                goto bad;
            continue;
        } else
            goto bad;
        if (!e || *e) goto bad;
    }
    if (o.keys == 0 || o.clients == 0) goto bad;
    return lc_gen(&o, stdout) == 0 ? 0 : 1;
bad:
    usage(stderr);
    return 2;
}
