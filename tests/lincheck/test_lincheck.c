/* test_lincheck.c -- the checker on histories made by hand, the reference
 * histories, bad input, budgets and allocation failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lc_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EV(p, t, f, k, v)                                                                          \
    "{:process " #p ", :type :" #t ", :f :" #f ", :key \"" k "\", :value " v "}\n"
#define INV(p, f, k, v) EV(p, invoke, f, k, v)
#define OK(p, f, k, v) EV(p, ok, f, k, v)
#define INFO(p, f, k, v) EV(p, info, f, k, v)
#define FAIL(p, f, k, v) EV(p, fail, f, k, v)
/* A whole operation, called and returned before the next. */
#define SEQ(p, f, k, in, out) INV(p, f, k, in) OK(p, f, k, out)

static lc_verdict check(const char *text)
{
    lc_history *h;
    char err[256];
    int rc = lc_history_parse(text, strlen(text), &h, err, sizeof err);
    if (rc != 0) fail_msg("parse: %s", err);
    lc_options opt = {10, 0, 0, 1, 0};
    lc_report *r;
    lc_verdict v = lc_check(h, &opt, &r);
    assert_non_null(r);
    assert_int_equal(lc_report_verdict(r), v);
    lc_report_free(r);
    /* Leaving out unread :info puts never changes a verdict. */
    opt.no_prune = 1;
    assert_int_equal(lc_check(h, &opt, NULL), v);
    lc_history_free(h);
    return v;
}

/* :info puts of key 0 that the search leaves out. */
static size_t pruned(const char *text)
{
    lc_history *h;
    char err[256];
    if (lc_history_parse(text, strlen(text), &h, err, sizeof err) != 0) fail_msg("parse: %s", err);
    lc_key_result r;
    lc_check_key(h, 0, 0, 0, 0, 1, &r);
    lc_free(r.detail.p);
    lc_history_free(h);
    return r.pruned;
}

static int parse_error(const char *text, char *err, size_t errlen)
{
    lc_history *h = NULL;
    int rc = lc_history_parse(text, strlen(text), &h, err, errlen);
    assert_null(rc ? h : NULL);
    lc_history_free(h);
    return rc;
}

static void sequential_write_then_read_is_linearizable(void **s)
{
    (void)s;
    assert_int_equal(check(SEQ(0, put, "k", "\"a\"", "\"a\"") SEQ(1, get, "k", "nil", "\"a\"")),
                     LC_LINEARIZABLE);
}

static void stale_read_is_not_linearizable(void **s)
{
    (void)s;
    assert_int_equal(check(SEQ(0, put, "k", "\"a\"", "\"OK\"") SEQ(0, put, "k", "\"b\"", "\"OK\"")
                               SEQ(1, get, "k", "nil", "\"a\"")),
                     LC_NOT_LINEARIZABLE);
}

static void lost_append_is_not_linearizable(void **s)
{
    (void)s;
    assert_int_equal(check(SEQ(0, append, "k", "\"x\"", "1") SEQ(1, append, "k", "\"y\"", "2")
                               SEQ(2, get, "k", "nil", "\"x\"")),
                     LC_NOT_LINEARIZABLE);
}

static void read_of_a_value_never_written_is_not_linearizable(void **s)
{
    (void)s;
    assert_int_equal(check(SEQ(0, put, "k", "\"a\"", "\"OK\"") SEQ(1, get, "k", "nil", "\"zz\"")),
                     LC_NOT_LINEARIZABLE);
}

static void info_write_seen_later_is_linearizable(void **s)
{
    (void)s;
    assert_int_equal(check(INV(0, put, "k", "\"a\"") INFO(0, put, "k", "\"a\"")
                               SEQ(1, get, "k", "nil", "nil") SEQ(1, get, "k", "nil", "\"a\"")),
                     LC_LINEARIZABLE);
}

static void info_write_never_seen_is_linearizable(void **s)
{
    (void)s;
    assert_int_equal(check(INV(0, put, "k", "\"a\"") INFO(0, put, "k", "\"a\"")
                               SEQ(1, get, "k", "nil", "nil") SEQ(1, get, "k", "nil", "nil")),
                     LC_LINEARIZABLE);
}

static void invoke_never_completed_counts_as_info(void **s)
{
    (void)s;
    assert_int_equal(check(INV(0, append, "k", "\"a\"") SEQ(1, get, "k", "nil", "\"a\"")
                               SEQ(2, get, "k", "nil", "\"a\"")),
                     LC_LINEARIZABLE);
}

static void info_write_cannot_take_effect_before_its_call(void **s)
{
    (void)s;
    assert_int_equal(check(SEQ(1, get, "k", "nil", "\"a\"") INV(0, put, "k", "\"a\"")
                               INFO(0, put, "k", "\"a\"")),
                     LC_NOT_LINEARIZABLE);
}

static void info_write_seen_then_unseen_is_not_linearizable(void **s)
{
    (void)s;
    assert_int_equal(check(SEQ(0, put, "k", "\"a\"", "\"OK\"") INV(2, append, "k", "\"b\"")
                               SEQ(1, get, "k", "nil", "\"ab\"") SEQ(1, get, "k", "nil", "\"a\"")),
                     LC_NOT_LINEARIZABLE);
}

static void read_is_ok_only_if_info_op_took_effect_before_it(void **s)
{
    (void)s;
    assert_int_equal(check(SEQ(0, put, "k", "\"a\"", "\"OK\"") INV(2, append, "k", "\"b\"")
                               INFO(2, append, "k", "\"b\"") SEQ(1, get, "k", "nil", "\"ab\"")
                                   SEQ(1, get, "k", "nil", "\"ab\"")),
                     LC_LINEARIZABLE);
}

static void failed_write_seen_is_not_linearizable(void **s)
{
    (void)s;
    assert_int_equal(check(INV(0, put, "k", "\"a\"") FAIL(0, put, "k", "\"a\"")
                               SEQ(1, get, "k", "nil", "\"a\"")),
                     LC_NOT_LINEARIZABLE);
}

static void concurrent_writes_may_take_effect_in_either_order(void **s)
{
    (void)s;
#define BOTH                                                                                       \
    INV(0, put, "k", "\"a\"")                                                                      \
    INV(1, put, "k", "\"b\"") OK(0, put, "k", "\"OK\"") OK(1, put, "k", "\"OK\"")
    assert_int_equal(check(BOTH SEQ(2, get, "k", "nil", "\"a\"")), LC_LINEARIZABLE);
    assert_int_equal(check(BOTH SEQ(2, get, "k", "nil", "\"b\"")), LC_LINEARIZABLE);
    assert_int_equal(check(BOTH SEQ(2, get, "k", "nil", "\"a\"") SEQ(2, get, "k", "nil", "\"b\"")),
                     LC_NOT_LINEARIZABLE);
#undef BOTH
}

static void concurrent_read_sees_old_or_new_value(void **s)
{
    (void)s;
    const char *pre = SEQ(0, put, "k", "\"a\"", "\"OK\"");
    char buf[1024];
    snprintf(buf, sizeof buf, "%s%s", pre,
             INV(0, put, "k", "\"b\"") INV(1, get, "k", "nil") OK(1, get, "k", "\"a\"")
                 INV(2, get, "k", "nil") OK(2, get, "k", "\"b\"") OK(0, put, "k", "\"OK\""));
    assert_int_equal(check(buf), LC_LINEARIZABLE);
    /* but not new then old, when the reads do not overlap */
    snprintf(buf, sizeof buf, "%s%s", pre,
             INV(0, put, "k", "\"b\"") SEQ(2, get, "k", "nil", "\"b\"")
                 SEQ(1, get, "k", "nil", "\"a\"") OK(0, put, "k", "\"OK\""));
    assert_int_equal(check(buf), LC_NOT_LINEARIZABLE);
}

/* A Lua compare-and-set: 1 when the value was old (and is now new). */
#define CAS(p, k, old, new, out)                                                                   \
    "{:process " #p ", :type :invoke, :f :cas, :key \"" k "\", :old \"" old                        \
    "\", :value \"" new "\"}\n{:process " #p ", :type :ok, :f :cas, :key \"" k "\", :value " #out  \
                        "}\n"

static void cas_swaps_only_from_the_value_expected(void **s)
{
    (void)s;
    assert_int_equal(check(SEQ(0, put, "r", "\"a\"", "\"OK\"") CAS(1, "r", "a", "b", 1)
                               CAS(2, "r", "a", "c", 0) SEQ(0, get, "r", "nil", "\"b\"")),
                     LC_LINEARIZABLE);
    /* two swaps from the same value cannot both succeed */
    assert_int_equal(check(SEQ(0, put, "r", "\"a\"", "\"OK\"") CAS(1, "r", "a", "b", 1)
                               CAS(2, "r", "a", "c", 1)),
                     LC_NOT_LINEARIZABLE);
    /* a failed swap changes nothing */
    assert_int_equal(check(SEQ(0, put, "r", "\"a\"", "\"OK\"") CAS(1, "r", "x", "b", 0)
                               SEQ(0, get, "r", "nil", "\"b\"")),
                     LC_NOT_LINEARIZABLE);
    /* a missing key matches nothing, not even "" */
    assert_int_equal(check(CAS(1, "r", "", "b", 1)), LC_NOT_LINEARIZABLE);
    assert_int_equal(check(CAS(1, "r", "", "b", 0) SEQ(0, get, "r", "nil", "nil")),
                     LC_LINEARIZABLE);
    /* a swap reported failed while the value was the one expected */
    assert_int_equal(check(SEQ(0, put, "r", "\"a\"", "\"OK\"") CAS(1, "r", "a", "b", 0)),
                     LC_NOT_LINEARIZABLE);
    /* an :info swap may have happened: the read decides */
    assert_int_equal(
        check(SEQ(0, put, "r", "\"a\"",
                  "\"OK\"") "{:process 1, :type :invoke, :f :cas, :key \"r\", :old \"a\", "
                            ":value \"b\"}\n" INFO(1, cas, "r", "nil")
                                SEQ(0, get, "r", "nil", "\"b\"") SEQ(0, get, "r", "nil", "\"b\"")),
        LC_LINEARIZABLE);
    /* an :info put that only a cas observed is not left out */
    assert_int_equal(check(SEQ(0, put, "r", "\"a\"", "\"OK\"") INV(2, put, "r", "\"x\"")
                               INFO(2, put, "r", "nil") CAS(1, "r", "x", "b", 1)
                                   SEQ(0, get, "r", "nil", "\"b\"")),
                     LC_LINEARIZABLE);
}

static void incr_counts_from_a_missing_key(void **s)
{
    (void)s;
    assert_int_equal(check(SEQ(0, incr, "c", "nil", "1") SEQ(1, incr, "c", "nil", "2")
                               SEQ(2, get, "c", "nil", "\"2\"") SEQ(2, get, "c", "nil", "2")),
                     LC_LINEARIZABLE);
    assert_int_equal(check(SEQ(0, incr, "c", "nil", "1") SEQ(1, incr, "c", "nil", "1")),
                     LC_NOT_LINEARIZABLE);
    assert_int_equal(check(SEQ(0, put, "c", "\"41\"", "\"OK\"") SEQ(1, incr, "c", "nil", "42")
                               SEQ(1, incr, "c", "5", "47")),
                     LC_LINEARIZABLE);
}

static void ok_incr_of_a_non_integer_is_impossible(void **s)
{
    (void)s;
    assert_int_equal(check(SEQ(0, put, "c", "\"x\"", "\"OK\"") SEQ(1, incr, "c", "nil", "nil")),
                     LC_NOT_LINEARIZABLE);
    assert_int_equal(check(SEQ(0, put, "c", "\"007\"", "\"OK\"") SEQ(1, incr, "c", "nil", "8")),
                     LC_NOT_LINEARIZABLE);
    /* an info one may have failed: no effect */
    assert_int_equal(check(SEQ(0, put, "c", "\"x\"", "\"OK\"") INV(1, incr, "c", "nil")
                               INFO(1, incr, "c", "nil") SEQ(2, get, "c", "nil", "\"x\"")),
                     LC_LINEARIZABLE);
    /* overflow */
    assert_int_equal(check(SEQ(0, put, "c", "\"9223372036854775807\"", "\"OK\"")
                               SEQ(1, incr, "c", "nil", "nil")),
                     LC_NOT_LINEARIZABLE);
}

static void del_reports_whether_the_key_existed(void **s)
{
    (void)s;
    assert_int_equal(check(SEQ(0, put, "k", "\"a\"", "\"OK\"") SEQ(1, del, "k", "nil", "1")
                               SEQ(1, del, "k", "nil", "0") SEQ(2, get, "k", "nil", "nil")),
                     LC_LINEARIZABLE);
    assert_int_equal(check(SEQ(1, del, "k", "nil", "1")), LC_NOT_LINEARIZABLE);
    assert_int_equal(check(SEQ(0, put, "k", "\"a\"", "\"OK\"") SEQ(1, del, "k", "nil", "1")
                               SEQ(2, get, "k", "nil", "\"a\"")),
                     LC_NOT_LINEARIZABLE);
}

static void missing_reads_as_nil_or_empty_string(void **s)
{
    (void)s;
    assert_int_equal(check(SEQ(0, get, "k", "nil", "\"\"") SEQ(0, get, "k", "nil", "nil")),
                     LC_LINEARIZABLE);
    /* an empty string exists: nil is wrong, "" is right, DEL counts it */
    assert_int_equal(check(SEQ(0, put, "k", "\"\"", "\"OK\"") SEQ(1, get, "k", "nil", "nil")),
                     LC_NOT_LINEARIZABLE);
    assert_int_equal(check(SEQ(0, append, "k", "\"\"", "0") SEQ(1, get, "k", "nil", "\"\"")
                               SEQ(1, del, "k", "nil", "1")),
                     LC_LINEARIZABLE);
}

static void append_length_is_checked(void **s)
{
    (void)s;
    assert_int_equal(check(SEQ(0, append, "k", "\"ab\"", "2") SEQ(0, append, "k", "\"c\"", "3")),
                     LC_LINEARIZABLE);
    assert_int_equal(check(SEQ(0, append, "k", "\"ab\"", "2") SEQ(0, append, "k", "\"c\"", "2")),
                     LC_NOT_LINEARIZABLE);
}

static void escapes_and_integer_values_are_read(void **s)
{
    (void)s;
    assert_int_equal(check(SEQ(0, put, "k", "\"a\\\"b\\\\c\\n\"", "\"OK\"")
                               SEQ(1, get, "k", "nil", "\"a\\\"b\\\\c\\u000a\"")),
                     LC_LINEARIZABLE);
    assert_int_equal(check(SEQ(0, put, "k", "12", "\"OK\"") SEQ(1, get, "k", "nil", "\"12\"")),
                     LC_LINEARIZABLE);
}

static void liberal_syntax_is_accepted(void **s)
{
    (void)s;
    const char *text =
        "; a Jepsen-style history\n"
        "[\n"
        "{:type :invoke, :value \"v\", :time 1, :f :write, :process 0, :key 7}\n"
        "\n"
        "{:process :nemesis, :type :info, :f :start, :value [:isolate #{1 2}]}\n"
        "{:process 0 :type :ok :f :write :key 7 :value \"v\" :index 2 :extra {:a [1 2.5]}}\n"
        "  ,,  #_{:process 9 :type :invoke}\n"
        "{\"process\" 1, \"type\" \"invoke\", \"f\" \"read\", \"key\" \"7\"}\n"
        "{:process 1, :type :ok, :value \"v\"}\n"
        "]\n";
    assert_int_equal(check(text), LC_LINEARIZABLE);
}

static void keys_are_independent(void **s)
{
    (void)s;
    assert_int_equal(check(SEQ(0, put, "a", "\"1\"", "\"OK\"") SEQ(0, put, "b", "\"2\"", "\"OK\"")
                               SEQ(1, get, "a", "nil", "\"1\"") SEQ(1, get, "b", "nil", "\"2\"")),
                     LC_LINEARIZABLE);
}

static void long_appended_values_are_compared_exactly(void **s)
{
    (void)s;
    size_t n = 3000, cap = n * 256 + 8192;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(buf + o, cap - o,
                              INV(0, append, "k", "\"xy\"") OK(0, append, "k", "%zu"), 2 * (i + 1));
    o += (size_t)snprintf(buf + o, cap - o, "%s", INV(1, get, "k", "nil"));
    o += (size_t)snprintf(buf + o, cap - o,
                          "{:process 1, :type :ok, :f :get, :key \"k\", :value \"");
    for (size_t i = 0; i < n; i++)
        buf[o++] = 'x', buf[o++] = 'y';
    memcpy(buf + o, "\"}\n", 4);
    assert_int_equal(check(buf), LC_LINEARIZABLE);
    buf[o - 1] = 'z'; /* the last byte differs */
    assert_int_equal(check(buf), LC_NOT_LINEARIZABLE);
    free(buf);
}

static void violation_report_names_the_key_and_window(void **s)
{
    (void)s;
    const char *text = SEQ(0, put, "x", "\"1\"", "\"OK\"") SEQ(0, put, "k", "\"a\"", "\"OK\"")
        SEQ(0, put, "k", "\"b\"", "\"OK\"") SEQ(1, get, "k", "nil", "\"a\"");
    lc_history *h;
    assert_int_equal(lc_history_parse(text, strlen(text), &h, NULL, 0), 0);
    lc_report *r;
    assert_int_equal(lc_check(h, NULL, &r), LC_NOT_LINEARIZABLE);
    assert_string_equal(lc_report_failed_key(r), "k");
    uint32_t a, b;
    assert_true(lc_report_window(r, &a, &b));
    assert_int_equal(a, 7);
    assert_int_equal(b, 8);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    lc_report_print(r, "t", f);
    fclose(f);
    assert_non_null(strstr(out, "t: not linearizable"));
    assert_non_null(strstr(out, "line 7-8  p1 get -> \"a\""));
    free(out);
    lc_report_free(r);
    lc_history_free(h);
}

static void bad_input_is_reported_with_its_line(void **s)
{
    (void)s;
    char err[256];
    assert_int_equal(parse_error("\n" OK(0, get, "k", "nil"), err, sizeof err), LC_BAD_INPUT);
    assert_non_null(strstr(err, "line 2"));
    assert_int_equal(parse_error(INV(0, swap, "k", "nil"), err, sizeof err), LC_BAD_INPUT);
    /* a cas without the value it expects */
    assert_int_equal(parse_error(INV(0, cas, "k", "\"b\""), err, sizeof err), LC_BAD_INPUT);
    assert_int_equal(parse_error("{:process 0 :type :invoke :f :cas :key \"k\" :old \"a\" "
                                 ":value \"b\"}\n{:process 0 :type :ok :f :cas :key \"k\" "
                                 ":value 2}\n",
                                 err, sizeof err),
                     LC_BAD_INPUT);
    assert_int_equal(parse_error("{:process 0, :type :invoke, :f :get, :key \"k", err, sizeof err),
                     LC_BAD_INPUT);
    assert_int_equal(
        parse_error("{:process 0, :type :invoke, :f :put, :value \"\\q\"}", err, sizeof err),
        LC_BAD_INPUT);
    assert_int_equal(parse_error("{:type :invoke, :f :get}", err, sizeof err), LC_BAD_INPUT);
    assert_int_equal(parse_error(INV(0, put, "k", "nil") OK(0, put, "k", "nil"), err, sizeof err),
                     LC_BAD_INPUT);
    assert_int_equal(parse_error(INV(0, get, "k", "nil") OK(0, put, "k", "nil"), err, sizeof err),
                     LC_BAD_INPUT);
    assert_int_equal(parse_error(SEQ(0, del, "k", "nil", "2"), err, sizeof err), LC_BAD_INPUT);
    assert_int_equal(parse_error("(1 2)", err, sizeof err), LC_BAD_INPUT);
    assert_int_equal(parse_error("{:process 0, :type :invoke, :process 1}", err, sizeof err),
                     LC_BAD_INPUT);
}

/* ---------------------------------------------------------- pruning */

#define SADD(p, m, r) SEQ(p, sadd, "s", "\"" m "\"", r)
#define SREM(p, m, r) SEQ(p, srem, "s", "\"" m "\"", r)
#define SMEMBERS(p, v) SEQ(p, smembers, "s", "nil", v)

static void unread_info_put_is_left_out(void **s)
{
    (void)s;
    const char *t = INV(0, put, "k", "\"a\"") INFO(0, put, "k", "\"a\"")
        SEQ(1, put, "k", "\"b\"", "\"OK\"") SEQ(1, get, "k", "nil", "\"b\"");
    assert_int_equal(pruned(t), 1);
    assert_int_equal(check(t), LC_LINEARIZABLE);
}

static void info_put_read_before_its_call_is_left_out(void **s)
{
    (void)s;
    /* The only read of "a" returned before the :info put of "a" began. */
    const char *t = SEQ(1, put, "k", "\"a\"", "\"OK\"") SEQ(1, get, "k", "nil", "\"a\"")
        INV(0, put, "k", "\"a\"") INFO(0, put, "k", "\"a\"") SEQ(1, put, "k", "\"b\"", "\"OK\"")
            SEQ(1, get, "k", "nil", "\"b\"");
    assert_int_equal(pruned(t), 1);
    assert_int_equal(check(t), LC_LINEARIZABLE);
}

static void info_put_that_was_read_is_kept(void **s)
{
    (void)s;
    const char *t = INV(0, put, "k", "\"a\"") SEQ(1, get, "k", "nil", "\"a\"");
    assert_int_equal(pruned(t), 0);
    assert_int_equal(check(t), LC_LINEARIZABLE);
}

static void info_put_read_through_an_append_is_kept(void **s)
{
    (void)s;
    const char *t = INV(0, put, "k", "\"x\"") SEQ(1, append, "k", "\"y\"", "\"OK\"")
        SEQ(1, get, "k", "nil", "\"xy\"");
    assert_int_equal(pruned(t), 0);
    assert_int_equal(check(t), LC_LINEARIZABLE);
}

static void info_put_a_checked_del_or_append_needs_is_kept(void **s)
{
    (void)s;
    /* Only the :info put explains DEL's 1 and APPEND's length 4. */
    const char *del = INV(0, put, "k", "\"abc\"") SEQ(1, del, "k", "nil", "1");
    const char *app = INV(0, put, "k", "\"abc\"") SEQ(1, append, "k", "\"d\"", "4");
    assert_int_equal(pruned(del), 0);
    assert_int_equal(pruned(app), 0);
    assert_int_equal(check(del), LC_LINEARIZABLE);
    assert_int_equal(check(app), LC_LINEARIZABLE);
}

static void info_put_on_a_counter_is_kept(void **s)
{
    (void)s;
    const char *t = INV(0, put, "c", "\"5\"") SEQ(1, incr, "c", "nil", "6");
    assert_int_equal(pruned(t), 0);
    assert_int_equal(check(t), LC_LINEARIZABLE);
}

static void interchangeable_info_ops_keep_what_tells_them_apart(void **s)
{
    (void)s;
    /* Unread :info puts of different lengths: only "de" explains the
     * APPEND's length 3. */
    assert_int_equal(check(INV(0, put, "k", "\"abc\"") INV(1, put, "k", "\"de\"")
                               SEQ(2, append, "k", "\"x\"", "3")),
                     LC_LINEARIZABLE);
    assert_int_equal(check(INV(0, put, "k", "\"abc\"") INV(1, put, "k", "\"de\"")
                               SEQ(2, append, "k", "\"x\"", "5")),
                     LC_NOT_LINEARIZABLE);
    /* Unread :info appends of different lengths, either one needed alone */
    assert_int_equal(check(INV(0, append, "k", "\"ab\"") INV(1, append, "k", "\"cde\"")
                               SEQ(2, append, "k", "\"x\"", "4")),
                     LC_LINEARIZABLE);
    assert_int_equal(check(INV(0, append, "k", "\"abc\"") INV(1, append, "k", "\"de\"")
                               SEQ(2, append, "k", "\"x\"", "3")),
                     LC_LINEARIZABLE);
    /* Same length, different values: on a counter an INCR tells them apart. */
    assert_int_equal(
        check(INV(0, put, "c", "\"5\"") INV(1, put, "c", "\"6\"") SEQ(2, incr, "c", "nil", "7")),
        LC_LINEARIZABLE);
    assert_int_equal(check(INV(0, append, "c", "\"5\"") INV(1, append, "c", "\"6\"")
                               SEQ(2, incr, "c", "nil", "7")),
                     LC_LINEARIZABLE);
    /* Twins may both take effect: an :info SADD, an SREM, the other SADD. */
    assert_int_equal(check(INV(0, sadd, "s", "\"a\"") INV(1, sadd, "s", "\"a\"")
                               SMEMBERS(3, "\"a\"") SREM(3, "a", "1") SMEMBERS(3, "\"a\"")),
                     LC_LINEARIZABLE);
    assert_int_equal(check(INV(0, del, "k", "nil") INV(1, del, "k", "nil") SEQ(
                         2, put, "k", "\"a\"", "\"OK\"") SEQ(3, get, "k", "nil", "nil")
                               SEQ(3, put, "k", "\"b\"", "\"OK\"") SEQ(3, get, "k", "nil", "nil")),
                     LC_LINEARIZABLE);
    /* Same member, different ops */
    assert_int_equal(check(SADD(0, "a", "1") INV(1, sadd, "s", "\"a\"") INV(2, srem, "s", "\"a\"")
                               SMEMBERS(3, "nil") SMEMBERS(3, "nil")),
                     LC_LINEARIZABLE);
    /* Many :info SADDs of one member: one taking effect explains the read,
     * none can explain its going away. */
    assert_int_equal(check(INV(0, sadd, "s", "\"a\"") INV(1, sadd, "s", "\"a\"")
                               INV(2, sadd, "s", "\"a\"") INV(4, sadd, "s", "\"b\"")
                                   SMEMBERS(3, "\"a\"") SMEMBERS(3, "\"a b\"")),
                     LC_LINEARIZABLE);
    assert_int_equal(check(INV(0, sadd, "s", "\"a\"") INV(1, sadd, "s", "\"a\"")
                               INV(2, sadd, "s", "\"a\"") SMEMBERS(3, "\"a\"") SMEMBERS(3, "nil")),
                     LC_NOT_LINEARIZABLE);
}

/* Small generated histories (mixed, registers, sets) with many :info ops,
 * valid and corrupted: the verdict is the same with and without the
 * reductions (unread :info puts left out, interchangeable :info ops tried
 * once). */
static void pruning_never_changes_a_verdict(void **s)
{
    (void)s;
    int decided[2] = {0, 0};
    for (uint64_t seed = 1; seed <= 180; seed++) {
        lc_gen_options o;
        lc_gen_defaults(&o);
        o.seed = seed;
        o.ops = 60;
        o.clients = 4;
        o.keys = 2;
        o.info_rate = 0.3;
        o.shape = (lc_gen_shape)(seed % 3);
        o.corrupt = (lc_corruption)(seed / 3 % 3);
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        assert_int_equal(lc_gen(&o, f), 0);
        fclose(f);
        lc_history *h;
        assert_int_equal(lc_history_parse(text, len, &h, NULL, 0), 0);
        lc_options opt = {5, 0, 0, 1, 0};
        lc_verdict a = lc_check(h, &opt, NULL);
        opt.no_prune = 1;
        lc_verdict b = lc_check(h, &opt, NULL);
        if (a != b)
            fail_msg("seed %llu: %s pruned, %s not", (unsigned long long)seed, lc_verdict_str(a),
                     lc_verdict_str(b));
        assert_true(a == LC_LINEARIZABLE || a == LC_NOT_LINEARIZABLE);
        decided[a]++;
        lc_history_free(h);
        free(text);
    }
    print_message("%d linearizable, %d not\n", decided[0], decided[1]);
    assert_true(decided[0] > 10 && decided[1] > 10);
}

/* ---------------------------------------------------------- sets */

static void set_ops_in_sequence_are_linearizable(void **s)
{
    (void)s;
    assert_int_equal(check(SMEMBERS(0, "nil") SADD(0, "a", "1") SADD(0, "a", "0") SADD(1, "b", "1")
                               SADD(1, "0", "1") SMEMBERS(0, "\"0 a b\"") SMEMBERS(1, "\"b a  0\"")
                                   SREM(0, "a", "1") SREM(0, "a", "0") SMEMBERS(1, "\"0 b\"")
                                       SREM(1, "0", "1") SREM(1, "b", "1") SMEMBERS(0, "nil")
                                           SMEMBERS(0, "\"\"") SADD(0, "z", "nil")
                                               SMEMBERS(0, "\"z\"")),
                     LC_LINEARIZABLE);
}

static void set_results_are_checked(void **s)
{
    (void)s;
    assert_int_equal(check(SADD(0, "a", "1") SADD(1, "a", "1")), LC_NOT_LINEARIZABLE);
    assert_int_equal(check(SREM(0, "a", "1")), LC_NOT_LINEARIZABLE);
    assert_int_equal(check(SADD(0, "a", "1") SREM(1, "a", "0")), LC_NOT_LINEARIZABLE);
    assert_int_equal(check(SADD(0, "a", "1") SMEMBERS(1, "nil")), LC_NOT_LINEARIZABLE);
    assert_int_equal(check(SADD(0, "a", "1") SMEMBERS(1, "\"a b\"")), LC_NOT_LINEARIZABLE);
    /* stale: the member was removed before the read began */
    assert_int_equal(check(SADD(0, "a", "1") SREM(0, "a", "1") SMEMBERS(1, "\"a\"")),
                     LC_NOT_LINEARIZABLE);
}

static void concurrent_sadds_of_one_member_add_it_once(void **s)
{
    (void)s;
    assert_int_equal(check(INV(0, sadd, "s", "\"a\"") INV(1, sadd, "s", "\"a\"")
                               OK(1, sadd, "s", "0") OK(0, sadd, "s", "1")),
                     LC_LINEARIZABLE);
    assert_int_equal(check(INV(0, sadd, "s", "\"a\"") INV(1, sadd, "s", "\"a\"")
                               OK(1, sadd, "s", "1") OK(0, sadd, "s", "1")),
                     LC_NOT_LINEARIZABLE);
}

static void info_sadd_and_srem_may_happen_later_or_never(void **s)
{
    (void)s;
    /* seen later */
    assert_int_equal(check(INV(0, sadd, "s", "\"a\"") INFO(0, sadd, "s", "\"a\"") SMEMBERS(1, "nil")
                               SMEMBERS(1, "\"a\"") SADD(1, "a", "0")),
                     LC_LINEARIZABLE);
    /* never seen */
    assert_int_equal(
        check(INV(0, sadd, "s", "\"a\"") SMEMBERS(1, "nil") SADD(1, "b", "1") SMEMBERS(1, "\"b\"")),
        LC_LINEARIZABLE);
    /* seen, then gone with no SREM */
    assert_int_equal(check(INV(0, sadd, "s", "\"a\"") INFO(0, sadd, "s", "\"a\"")
                               SMEMBERS(1, "\"a\"") SMEMBERS(1, "nil")),
                     LC_NOT_LINEARIZABLE);
    /* an :info SREM explains one disappearance, not a return */
    assert_int_equal(
        check(SADD(0, "a", "1") INV(1, srem, "s", "\"a\"") SMEMBERS(2, "\"a\"") SMEMBERS(2, "nil")),
        LC_LINEARIZABLE);
    assert_int_equal(
        check(SADD(0, "a", "1") INV(1, srem, "s", "\"a\"") SMEMBERS(2, "nil") SMEMBERS(2, "\"a\"")),
        LC_NOT_LINEARIZABLE);
    /* an :info SADD cannot take effect before its call */
    assert_int_equal(check(SMEMBERS(1, "\"a\"") INV(0, sadd, "s", "\"a\"")), LC_NOT_LINEARIZABLE);
}

static void set_bad_input_is_reported(void **s)
{
    (void)s;
    char err[256];
    assert_int_equal(parse_error(SEQ(0, put, "k", "\"a\"", "\"OK\"")
                                     SEQ(0, sadd, "k", "\"a\"", "1"),
                                 err, sizeof err),
                     LC_BAD_INPUT);
    assert_non_null(strstr(err, "line 3"));
    assert_non_null(strstr(err, "one family"));
    assert_int_equal(parse_error(SEQ(0, sadd, "s", "\"a b\"", "1"), err, sizeof err), LC_BAD_INPUT);
    assert_int_equal(parse_error(SEQ(0, sadd, "s", "\"\"", "1"), err, sizeof err), LC_BAD_INPUT);
    assert_int_equal(parse_error(SEQ(0, sadd, "s", "nil", "1"), err, sizeof err), LC_BAD_INPUT);
    assert_int_equal(parse_error(SEQ(0, srem, "s", "\"a\"", "2"), err, sizeof err), LC_BAD_INPUT);
    assert_int_equal(parse_error(SMEMBERS(0, "\"a b a\""), err, sizeof err), LC_BAD_INPUT);
    assert_non_null(strstr(err, "twice"));
    assert_int_equal(parse_error(SMEMBERS(0, "3"), err, sizeof err), LC_BAD_INPUT);
}

static void set_violation_report_shows_the_members(void **s)
{
    (void)s;
    const char *t = SADD(0, "a", "1") SADD(0, "b", "1") SREM(0, "a", "1") SMEMBERS(1, "\"a b\"");
    lc_history *h;
    assert_int_equal(lc_history_parse(t, strlen(t), &h, NULL, 0), 0);
    lc_report *r;
    assert_int_equal(lc_check(h, NULL, &r), LC_NOT_LINEARIZABLE);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    lc_report_print(r, "t", f);
    fclose(f);
    assert_non_null(strstr(out, "smembers -> \"a b\""));
    assert_non_null(strstr(out, "srem \"a\""));
    free(out);
    lc_report_free(r);
    lc_history_free(h);
}

#ifndef LC_HISTORY_DIR
#define LC_HISTORY_DIR "histories"
#endif

static void reference_histories_get_porcupines_verdicts(void **s)
{
    (void)s;
    static const char *const names[] = {"c01", "c10", "c50"};
    for (int i = 0; i < 3; i++) {
        for (int bad = 0; bad < 2; bad++) {
            char path[512], err[256];
            snprintf(path, sizeof path, "%s/%s-%s.txt", LC_HISTORY_DIR, names[i],
                     bad ? "bad" : "ok");
            lc_history *h;
            if (lc_history_load(path, &h, err, sizeof err) != 0) fail_msg("%s: %s", path, err);
            lc_options opt = {20, 0, 0, 0, 0};
            lc_verdict v = lc_check(h, &opt, NULL);
            print_message("%s: %s\n", path, lc_verdict_str(v));
            assert_int_equal(v, bad ? LC_NOT_LINEARIZABLE : LC_LINEARIZABLE);
            lc_history_free(h);
        }
    }
}

static void check_respects_its_time_budget(void **s)
{
    (void)s;
    /* A corrupted history with :info operations: hard for this search. */
    lc_gen_options o;
    lc_gen_defaults(&o);
    o.ops = 20000;
    o.seed = 7;
    o.info_rate = 0.02;
    o.corrupt = LC_CORRUPT_STALE;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_int_equal(lc_gen(&o, f), 0);
    fclose(f);
    lc_history *h;
    assert_int_equal(lc_history_parse(text, len, &h, NULL, 0), 0);
    lc_options opt = {0.5, 0, 0, 0, 0};
    double t0 = lc_now();
    lc_verdict v = lc_check(h, &opt, NULL);
    double dt = lc_now() - t0;
    print_message("verdict %s in %.3f s\n", lc_verdict_str(v), dt);
    assert_true(v == LC_UNKNOWN || v == LC_NOT_LINEARIZABLE);
    assert_true(dt < 3.0);
    lc_history_free(h);
    free(text);
}

static void allocation_failure_gives_unknown_never_a_verdict(void **s)
{
    (void)s;
    const char *text = SEQ(0, put, "k", "\"a\"", "\"OK\"") INV(1, append, "k", "\"b\"")
        SEQ(2, get, "k", "nil", "\"ab\"") SEQ(2, incr, "c", "nil", "1")
            SEQ(2, get, "k", "nil", "\"a\"");
    int done = 0;
    for (long n = 0; n < 100000 && !done; n++) {
        lc_fail_alloc_after(n);
        lc_history *h;
        int rc = lc_history_parse(text, strlen(text), &h, NULL, 0);
        if (rc != 0) {
            lc_fail_alloc_after(-1);
            assert_int_equal(rc, LC_UNKNOWN);
            continue;
        }
        lc_report *r;
        lc_verdict v = lc_check(h, NULL, &r);
        lc_fail_alloc_after(-1);
        assert_true(v == LC_UNKNOWN || v == LC_NOT_LINEARIZABLE);
        if (r && v == LC_NOT_LINEARIZABLE) done = 1;
        lc_report_free(r);
        lc_history_free(h);
    }
    assert_true(done);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sequential_write_then_read_is_linearizable),
        cmocka_unit_test(stale_read_is_not_linearizable),
        cmocka_unit_test(lost_append_is_not_linearizable),
        cmocka_unit_test(read_of_a_value_never_written_is_not_linearizable),
        cmocka_unit_test(info_write_seen_later_is_linearizable),
        cmocka_unit_test(info_write_never_seen_is_linearizable),
        cmocka_unit_test(invoke_never_completed_counts_as_info),
        cmocka_unit_test(info_write_cannot_take_effect_before_its_call),
        cmocka_unit_test(info_write_seen_then_unseen_is_not_linearizable),
        cmocka_unit_test(read_is_ok_only_if_info_op_took_effect_before_it),
        cmocka_unit_test(failed_write_seen_is_not_linearizable),
        cmocka_unit_test(concurrent_writes_may_take_effect_in_either_order),
        cmocka_unit_test(concurrent_read_sees_old_or_new_value),
        cmocka_unit_test(incr_counts_from_a_missing_key),
        cmocka_unit_test(cas_swaps_only_from_the_value_expected),
        cmocka_unit_test(ok_incr_of_a_non_integer_is_impossible),
        cmocka_unit_test(del_reports_whether_the_key_existed),
        cmocka_unit_test(missing_reads_as_nil_or_empty_string),
        cmocka_unit_test(append_length_is_checked),
        cmocka_unit_test(escapes_and_integer_values_are_read),
        cmocka_unit_test(liberal_syntax_is_accepted),
        cmocka_unit_test(keys_are_independent),
        cmocka_unit_test(long_appended_values_are_compared_exactly),
        cmocka_unit_test(violation_report_names_the_key_and_window),
        cmocka_unit_test(bad_input_is_reported_with_its_line),
        cmocka_unit_test(unread_info_put_is_left_out),
        cmocka_unit_test(info_put_read_before_its_call_is_left_out),
        cmocka_unit_test(info_put_that_was_read_is_kept),
        cmocka_unit_test(info_put_read_through_an_append_is_kept),
        cmocka_unit_test(info_put_a_checked_del_or_append_needs_is_kept),
        cmocka_unit_test(info_put_on_a_counter_is_kept),
        cmocka_unit_test(interchangeable_info_ops_keep_what_tells_them_apart),
        cmocka_unit_test(pruning_never_changes_a_verdict),
        cmocka_unit_test(set_ops_in_sequence_are_linearizable),
        cmocka_unit_test(set_results_are_checked),
        cmocka_unit_test(concurrent_sadds_of_one_member_add_it_once),
        cmocka_unit_test(info_sadd_and_srem_may_happen_later_or_never),
        cmocka_unit_test(set_bad_input_is_reported),
        cmocka_unit_test(set_violation_report_shows_the_members),
        cmocka_unit_test(reference_histories_get_porcupines_verdicts),
        cmocka_unit_test(check_respects_its_time_budget),
        cmocka_unit_test(allocation_failure_gives_unknown_never_a_verdict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
