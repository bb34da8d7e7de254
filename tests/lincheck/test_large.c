/* test_large.c -- generated histories of 100,000 operations: a valid one
 * must be found linearizable and a corrupted one not, within a deadline.
 * Prints the time taken: a measurement, asserted only against the budget.
 * info-register is the shape of a fault run's register with many timed-out
 * writers: one key, 10 clients, get and put only, 3% :info (at 5,000 ops,
 * about 65 :info puts); seed 2 at 5,000 ops ran out of a 120 s budget
 * before unread :info puts were left out (README "Pruning").
 *
 * info-bursts is a fault run's r-key (checked APPEND lengths and DEL
 * counts) with :info writes in bursts; at 5,000 ops it was "unknown" after
 * 120 s (7.1M states) before interchangeable :info ops were tried once.
 *
 *   test_large valid|hotkey|corrupt-value|corrupt-stale|info-register|
 *              info-register-stale|info-bursts|set|set-corrupt [ops] [seconds]
 *
 * Prints "N passed, N failed" and exits non-zero on failure. */
#include "lc_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_large MODE [ops] [s] (see the source)\n");
        return 2;
    }
    const char *mode = argv[1];
    lc_gen_options o;
    lc_gen_defaults(&o);
    o.ops = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 100000;
    double budget = argc > 3 ? strtod(argv[3], NULL) : 50;
    o.seed = 42;
    lc_verdict want = LC_LINEARIZABLE;
    if (strcmp(mode, "valid") == 0) {
        o.clients = 10;
        o.keys = 5;
        o.info_rate = 0.01;
    } else if (strcmp(mode, "hotkey") == 0) {
        o.clients = 10;
        o.keys = 1;
        o.info_rate = 0;
    } else if (strncmp(mode, "info-register", 13) == 0) {
        o.seed = 2;
        o.clients = 10;
        o.keys = 1;
        o.info_rate = 0.03;
        o.shape = LC_GEN_REGISTER;
        if (strcmp(mode + 13, "-stale") == 0) {
            o.corrupt = LC_CORRUPT_STALE;
            want = LC_NOT_LINEARIZABLE;
        } else if (mode[13]) {
            fprintf(stderr, "unknown mode %s\n", mode);
            return 2;
        }
    } else if (strcmp(mode, "info-bursts") == 0) {
        /* A fault run's r-key: get/put/append/del with checked lengths and
         * counts, :info writes in 7 bursts (about 40), 10 clients. */
        o.seed = 1;
        o.clients = 10;
        o.keys = 1;
        o.bursts = 7;
        o.info_rate = 0.9;
    } else if (strncmp(mode, "set", 3) == 0) {
        o.clients = 10;
        o.keys = 4;
        o.shape = LC_GEN_SET;
        o.info_rate = 0.01;
        if (strcmp(mode + 3, "-corrupt") == 0) {
            o.info_rate = 0; /* as for corrupt-: a late violation under :info is costly */
            o.corrupt = LC_CORRUPT_VALUE;
            want = LC_NOT_LINEARIZABLE;
        } else if (mode[3]) {
            fprintf(stderr, "unknown mode %s\n", mode);
            return 2;
        }
    } else if (strncmp(mode, "corrupt-", 8) == 0) {
        /* :info operations make a violation near the end costly to
         * prove (see the README): these have none. */
        o.clients = 10;
        o.keys = 5;
        o.info_rate = 0;
        o.corrupt = strcmp(mode + 8, "stale") == 0 ? LC_CORRUPT_STALE : LC_CORRUPT_VALUE;
        want = LC_NOT_LINEARIZABLE;
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f || lc_gen(&o, f) != 0) {
        fprintf(stderr, "cannot generate\n");
        return 2;
    }
    fclose(f);
    double t0 = lc_now();
    lc_history *h;
    char err[256];
    if (lc_history_parse(text, len, &h, err, sizeof err) != 0) {
        fprintf(stderr, "parse: %s\n", err);
        return 2;
    }
    double t1 = lc_now();
    lc_options opt = {budget, 0, 0, 0, 0};
    lc_report *r;
    lc_verdict v = lc_check(h, &opt, &r);
    double t2 = lc_now();
    printf("%s: %zu ops, %zu keys, %zu bytes: parse %.3f s, check %.3f s: %s (want %s)\n", mode,
           lc_history_ops(h), lc_history_keys(h), len, t1 - t0, t2 - t1, lc_verdict_str(v),
           lc_verdict_str(want));
    if (r && v != want) lc_report_print(r, mode, stdout);
    int ok = v == want && t2 - t1 < budget;
    printf("%d passed, %d failed\n", ok, !ok);
    lc_report_free(r);
    lc_history_free(h);
    free(text);
    return ok ? 0 : 1;
}
