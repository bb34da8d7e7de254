/* report.c -- checks every key of a history and tells the result. */
#include "lc_internal.h"

#include <stdlib.h>
#include <string.h>

struct lc_report {
    lc_verdict verdict;
    size_t nops, nkeys;
    double seconds;
    lc_key_result *res; /* per key, in the history's key order */
    char **names;       /* quoted, for printing */
    char **raw;         /* as they are ("nil" for the nil key), for JSON */
    size_t *rawlen;
    char *failed_key; /* raw name of the first failed key (borrowed) */
    long failed;      /* its index, or -1 */
    const char *why;  /* for an unknown verdict */
};

const char *lc_verdict_str(lc_verdict v)
{
    switch (v) {
    case LC_LINEARIZABLE:
        return "linearizable";
    case LC_NOT_LINEARIZABLE:
        return "not linearizable";
    case LC_UNKNOWN:
        return "unknown";
    case LC_BAD_INPUT:
        return "bad input";
    }
    return "?";
}

static const lc_history *sort_h;

static int by_size(const void *a, const void *b)
{
    size_t x = sort_h->keys[*(const uint32_t *)a].nops, y = sort_h->keys[*(const uint32_t *)b].nops;
    if (x != y) return x < y ? -1 : 1;
    return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

void lc_report_free(lc_report *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->nkeys; i++) {
        if (r->res) lc_free(r->res[i].detail.p);
        if (r->names) lc_free(r->names[i]);
        if (r->raw) lc_free(r->raw[i]);
    }
    lc_free(r->res);
    lc_free(r->names);
    lc_free(r->raw);
    lc_free(r->rawlen);
    lc_free(r);
}

lc_verdict lc_check(const lc_history *h, const lc_options *opt, lc_report **out)
{
    lc_options none = {0, 0, 0, 0, 0};
    if (!opt) opt = &none;
    if (out) *out = NULL;
    double t0 = lc_now();
    double deadline = opt->timeout_sec > 0 ? t0 + opt->timeout_sec : 0;
    lc_verdict v = LC_UNKNOWN;
    uint32_t *order = NULL;
    lc_report *r = lc_malloc(sizeof *r);
    if (!r) return LC_UNKNOWN;
    memset(r, 0, sizeof *r);
    r->failed = -1;
    r->nops = h->nops;
    r->nkeys = h->nkeys;
    r->res = lc_malloc((h->nkeys + 1) * sizeof *r->res);
    r->names = lc_malloc((h->nkeys + 1) * sizeof *r->names);
    r->raw = lc_malloc((h->nkeys + 1) * sizeof *r->raw);
    r->rawlen = lc_malloc((h->nkeys + 1) * sizeof *r->rawlen);
    order = lc_malloc((h->nkeys + 1) * sizeof *order);
    /* zeroed first, so that lc_report_free can run after any failure */
    if (r->res) memset(r->res, 0, (h->nkeys + 1) * sizeof *r->res);
    if (r->names) memset(r->names, 0, (h->nkeys + 1) * sizeof *r->names);
    if (r->raw) memset(r->raw, 0, (h->nkeys + 1) * sizeof *r->raw);
    if (!r->res || !r->names || !r->raw || !r->rawlen || !order) goto oom;
    for (size_t i = 0; i < h->nkeys; i++) {
        const lc_key *k = &h->keys[i];
        size_t cap = (size_t)k->len * 6 + 8;
        if (!(r->names[i] = lc_malloc(cap))) goto oom;
        if (k->name)
            lc_quote(r->names[i], cap, k->name, k->len, 0);
        else
            snprintf(r->names[i], cap, "nil");
        r->rawlen[i] = k->name ? k->len : 3;
        if (!(r->raw[i] = lc_malloc(r->rawlen[i] + 1))) goto oom;
        memcpy(r->raw[i], k->name ? k->name : "nil", r->rawlen[i]);
        r->raw[i][r->rawlen[i]] = 0;
        order[i] = (uint32_t)i;
    }
    sort_h = h;
    qsort(order, h->nkeys, sizeof *order, by_size);
    bool unknown = false;
    for (size_t x = 0; x < h->nkeys; x++) {
        uint32_t i = order[x];
        lc_key_result *kr = &r->res[i];
        if (r->failed >= 0 && !opt->all_keys) {
            kr->verdict = LC_UNKNOWN;
            kr->why = "not checked";
            continue;
        }
        lc_check_key(h, i, deadline, opt->max_memory, opt->verbose, !opt->no_prune, kr);
        if (opt->verbose)
            fprintf(stderr,
                    "lincheck: key %s: %zu ops (%zu unread :info puts left out, %zu :info "
                    "ops with a twin), %s%s%s, %zu states, %.3f s\n",
                    r->names[i], h->keys[i].nops, kr->pruned, kr->twins,
                    lc_verdict_str(kr->verdict), kr->why ? ": " : "", kr->why ? kr->why : "",
                    kr->states, kr->seconds);
        if (kr->detail.oom) goto oom;
        if (kr->verdict == LC_UNKNOWN) {
            unknown = true;
            if (!r->why) r->why = kr->why;
        }
        if (kr->verdict == LC_NOT_LINEARIZABLE && r->failed < 0) r->failed = i;
    }
    if (r->failed >= 0) {
        r->failed_key = r->raw[r->failed];
        v = LC_NOT_LINEARIZABLE;
    } else {
        v = unknown ? LC_UNKNOWN : LC_LINEARIZABLE;
    }
    r->verdict = v;
    r->seconds = lc_now() - t0;
    lc_free(order);
    if (out)
        *out = r;
    else
        lc_report_free(r);
    return v;
oom:
    lc_free(order);
    lc_report_free(r);
    return LC_UNKNOWN;
}

lc_verdict lc_report_verdict(const lc_report *r)
{
    return r->verdict;
}

const char *lc_report_failed_key(const lc_report *r)
{
    return r->failed_key;
}

int lc_report_window(const lc_report *r, uint32_t *first, uint32_t *last)
{
    if (r->failed < 0) return 0;
    *first = r->res[r->failed].win_first;
    *last = r->res[r->failed].win_last;
    return 1;
}

double lc_report_seconds(const lc_report *r)
{
    return r->seconds;
}

void lc_report_print(const lc_report *r, const char *name, FILE *f)
{
    fprintf(f, "%s: %s", name, lc_verdict_str(r->verdict));
    if (r->verdict == LC_UNKNOWN) fprintf(f, ": %s", r->why ? r->why : "budget exceeded");
    fprintf(f, " (%zu ops, %zu keys, %.3f s)\n", r->nops, r->nkeys, r->seconds);
    size_t unchecked = 0;
    for (size_t i = 0; i < r->nkeys; i++) {
        const lc_key_result *kr = &r->res[i];
        if (kr->verdict == LC_NOT_LINEARIZABLE && kr->detail.p)
            fputs(kr->detail.p, f);
        else if (kr->verdict == LC_UNKNOWN && kr->why && strcmp(kr->why, "not checked") == 0)
            unchecked++;
        else if (kr->verdict == LC_UNKNOWN) {
            fprintf(f, "  key %s: unknown: %s (%zu states, %.3f s)\n", r->names[i],
                    kr->why ? kr->why : "budget exceeded", kr->states, kr->seconds);
            if (kr->detail.p) /* -v -v: the deepest point reached */
                fputs(kr->detail.p, f);
        }
    }
    if (unchecked)
        fprintf(f, "  %zu more keys not checked after the first violation (--all-keys)\n",
                unchecked);
}

static void json_str(FILE *f, const char *p, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c < 32)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

void lc_report_print_json(const lc_report *r, const char *name, FILE *f)
{
    fputs("{\"file\":", f);
    json_str(f, name, strlen(name));
    fprintf(f, ",\"verdict\":\"%s\",\"ops\":%zu,\"keys\":%zu,\"seconds\":%.6f",
            lc_verdict_str(r->verdict), r->nops, r->nkeys, r->seconds);
    if (r->verdict == LC_UNKNOWN) {
        fputs(",\"why\":", f);
        const char *w = r->why ? r->why : "budget exceeded";
        json_str(f, w, strlen(w));
    }
    fputs(",\"problems\":[", f);
    bool first = true;
    for (size_t i = 0; i < r->nkeys; i++) {
        const lc_key_result *kr = &r->res[i];
        if (kr->verdict == LC_LINEARIZABLE) continue;
        fprintf(f, "%s{\"key\":", first ? "" : ",");
        first = false;
        json_str(f, r->raw[i], r->rawlen[i]);
        fprintf(f, ",\"verdict\":\"%s\",\"states\":%zu,\"seconds\":%.6f",
                lc_verdict_str(kr->verdict), kr->states, kr->seconds);
        if (kr->why) {
            fputs(",\"why\":", f);
            json_str(f, kr->why, strlen(kr->why));
        }
        if (kr->verdict == LC_NOT_LINEARIZABLE) {
            fprintf(f, ",\"lines\":[%u,%u]", kr->win_first, kr->win_last);
            if (kr->detail.p) {
                fputs(",\"detail\":", f);
                json_str(f, kr->detail.p, kr->detail.len);
            }
        }
        fputc('}', f);
    }
    fputs("]}\n", f);
}
