/* test_policy.c: the policies on their own, without transfers: Retry-After
 * parsing, the retry schedule (which outcomes, how long), the host key and
 * the host table (slots, cooldown, per-host rate, with synthetic times),
 * and the rate token bucket. */
#include <locale.h>
#include <math.h>
#include <pthread.h>

#include "testutil.h"

#include "future_private.h"
#include "model.h"
#include "policy.h"

/* ---- Retry-After ---- */

/* 1994-11-06 08:49:30 UTC: seven seconds before the RFC's example date. */
static time_t example_now(void) {
  struct tm tm = {.tm_year = 94, .tm_mon = 10, .tm_mday = 6, .tm_hour = 8, .tm_min = 49, .tm_sec = 30};
  return timegm(&tm);
}

/* The instant y-mon-d h:m:s UTC (mon 1..12). */
static time_t utc(int y, int mon, int d, int h, int m, int s) {
  struct tm tm = {.tm_year = y - 1900, .tm_mon = mon - 1, .tm_mday = d,
                  .tm_hour = h, .tm_min = m, .tm_sec = s};
  return timegm(&tm);
}

static void assert_retry_after(const char *value, time_t now, double want) {
  double got = -99;
  int rc = fp__parse_retry_after(value, now, &got);
  if (rc != FP_OK)
    fail_msg("'%s' was refused (%d)", value, rc);
  if (fabs(got - want) > 1e-9)
    fail_msg("'%s' gave %.6f, want %.6f", value, got, want);
}

static void assert_retry_after_invalid_at(const char *value, time_t now) {
  double got = -99;
  int rc = fp__parse_retry_after(value, now, &got);
  if (rc != FP_ERR_INVALID_ARG)
    fail_msg("'%s' gave rc %d (%.3f), want FP_ERR_INVALID_ARG", value, rc, got);
  assert_true(got == -99); /* untouched */
}

static void assert_retry_after_invalid(const char *value) {
  assert_retry_after_invalid_at(value, example_now());
}

static void test_retry_after_seconds(void **state) {
  (void)state;
  time_t now = example_now();
  assert_retry_after("120", now, 120);
  assert_retry_after("0", now, 0);
  assert_retry_after("1", now, 1);
  assert_retry_after("007", now, 7);
  assert_retry_after("  5", now, 5);
  assert_retry_after("5  ", now, 5);
  assert_retry_after("\t 30 \t", now, 30);
  /* delay-seconds is 1*DIGIT; a decimal fraction is read as meant */
  assert_retry_after("1.5", now, 1.5);
  assert_retry_after("0.25", now, 0.25);
  /* far beyond any max_wait still parses (the caller caps it) */
  assert_retry_after("99999999999", now, 99999999999.0);
  /* seconds do not depend on now */
  assert_retry_after("3", 0, 3);
}

static void test_retry_after_dates(void **state) {
  (void)state;
  time_t now = example_now();
  /* the three HTTP-date forms of RFC 9110 5.6.7, all the same instant */
  assert_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now, 7);  /* IMF-fixdate */
  assert_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now, 7); /* RFC 850 */
  assert_retry_after("Sun Nov  6 08:49:37 1994", now, 7);       /* asctime */
  assert_retry_after("  Sun, 06 Nov 1994 08:49:37 GMT  ", now, 7);
  /* a day and a bit later, across a month end */
  assert_retry_after("Mon, 07 Nov 1994 08:49:30 GMT", now, 86400);
  assert_retry_after("Thu, 01 Dec 1994 00:00:00 GMT", now, 2128230); /* 24d 15h 10m 30s */
  /* the date now, and dates in the past, mean "at once" */
  assert_retry_after("Sun, 06 Nov 1994 08:49:30 GMT", now, 0);
  assert_retry_after("Sun, 06 Nov 1994 08:49:29 GMT", now, 0);
  assert_retry_after("Sat, 01 Jan 1994 00:00:00 GMT", now, 0);
  assert_retry_after("Sunday, 06-Nov-94 08:00:00 GMT", now, 0);
  assert_retry_after("Sun Nov  6 08:00:00 1994", now, 0);
}

static void test_retry_after_invalid(void **state) {
  (void)state;
  static const char *bad[] = {
      "", "   ", "soon", "-1", "-0", "+5", "5s", "5 5", "1e3", "0x10", "1.", ".5",
      "1.5.2", "1,5", "inf", "nan", "Sun, 06 Nov 1994", "Sun, 06 Nov 1994 08:49:37",
      "Sun, 06 Nov 1994 08:49:37 PST", "Sun, 06 Nov 1994 08:49:37 GMT x",
      "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
      "Sun, 06 Nov 1994 25:49:37 GMT", "06 Nov 1994 08:49:37 GMT",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_retry_after_invalid(bad[i]);
}

static void test_retry_after_date_fields(void **state) {
  (void)state;
  const time_t y2025 = utc(2025, 1, 1, 0, 0, 0);
  /* every month name, in each form, against timegm */
  static const char *months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (int m = 0; m < 12; m++) {
    char imf[64], rfc850[64], asc[64];
    snprintf(imf, sizeof imf, "Mon, 28 %s 2030 12:34:56 GMT", months[m]);
    snprintf(rfc850, sizeof rfc850, "Monday, 28-%s-30 12:34:56 GMT", months[m]);
    snprintf(asc, sizeof asc, "Mon %s 28 12:34:56 2030", months[m]);
    double want = (double)(utc(2030, m + 1, 28, 12, 34, 56) - y2025);
    assert_retry_after(imf, y2025, want);
    assert_retry_after(rfc850, y2025, want);
    assert_retry_after(asc, y2025, want);
  }
  /* every day name; it need not be the date's (strptime did not care
   * either, and RFC 9110 asks no recipient to check) */
  static const char *days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char *long_days[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                    "Thursday", "Friday", "Saturday"};
  time_t now = example_now();
  for (int d = 0; d < 7; d++) {
    char imf[64], rfc850[64], asc[64];
    snprintf(imf, sizeof imf, "%s, 06 Nov 1994 08:49:37 GMT", days[d]);
    snprintf(rfc850, sizeof rfc850, "%s, 06-Nov-94 08:49:37 GMT", long_days[d]);
    snprintf(asc, sizeof asc, "%s Nov  6 08:49:37 1994", days[d]);
    assert_retry_after(imf, now, 7);
    assert_retry_after(rfc850, now, 7);
    assert_retry_after(asc, now, 7);
  }
  /* the ends of each field's range */
  assert_retry_after("Sun, 06 Nov 1994 00:00:00 GMT", 0, (double)utc(1994, 11, 6, 0, 0, 0));
  assert_retry_after("Sun, 06 Nov 1994 23:59:59 GMT", 0, (double)utc(1994, 11, 6, 23, 59, 59));
  assert_retry_after("Sun, 06 Nov 1994 08:49:60 GMT", now, 30); /* a leap second */
  assert_retry_after("Tue, 01 Jan 2030 00:00:00 GMT", 0, (double)utc(2030, 1, 1, 0, 0, 0));
  assert_retry_after("Tue, 31 Dec 2030 00:00:00 GMT", 0, (double)utc(2030, 12, 31, 0, 0, 0));
  assert_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", 0, (double)utc(9999, 12, 31, 23, 59, 59));
  assert_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", 0, 0);
  assert_retry_after("Wed, 31 Dec 1969 23:59:59 GMT", 0, 0); /* timegm's -1, yet valid */
  assert_retry_after("Sat, 30 Apr 2033 00:00:00 GMT", 0, (double)utc(2033, 4, 30, 0, 0, 0));
  /* leap days: every fourth year, not centuries, but every fourth century */
  assert_retry_after("Thu, 29 Feb 2024 00:00:00 GMT", 0, (double)utc(2024, 2, 29, 0, 0, 0));
  assert_retry_after("Tue, 29 Feb 2000 00:00:00 GMT", 0, (double)utc(2000, 2, 29, 0, 0, 0));
  assert_retry_after("Tue, 29 Feb 2400 00:00:00 GMT", 0, (double)utc(2400, 2, 29, 0, 0, 0));
  assert_retry_after_invalid("Sat, 29 Feb 2025 00:00:00 GMT");
  assert_retry_after_invalid("Mon, 29 Feb 2100 00:00:00 GMT");
  assert_retry_after_invalid("Thu, 30 Feb 2024 00:00:00 GMT");
  assert_retry_after_invalid("Sat, 31 Apr 2033 00:00:00 GMT");
  assert_retry_after_invalid("Sat, 31 Jun 2033 00:00:00 GMT");
  assert_retry_after_invalid("Sat, 31 Sep 2033 00:00:00 GMT");
  assert_retry_after_invalid("Sat, 31 Nov 2033 00:00:00 GMT");
  assert_retry_after_invalid("Thu Feb 29 00:00:00 2025");
  /* asctime: the day is 2DIGIT or SP DIGIT */
  assert_retry_after("Wed Nov 16 08:49:30 1994", now, 10 * 86400);
  assert_retry_after("Sun Nov 06 08:49:37 1994", now, 7);
}

static void test_retry_after_two_digit_year(void **state) {
  (void)state;
  /* RFC 9110 5.6.7: a two-digit year more than 50 years ahead of now is
   * the latest such year in the past. now: 2025-06-01 12:00:00 */
  time_t now = utc(2025, 6, 1, 12, 0, 0);
  assert_retry_after("Monday, 01-Jan-30 00:00:00 GMT", now,
                     (double)(utc(2030, 1, 1, 0, 0, 0) - now));
  assert_retry_after("Wednesday, 01-Jun-50 00:00:00 GMT", now,
                     (double)(utc(2050, 6, 1, 0, 0, 0) - now));
  assert_retry_after("Saturday, 01-Jun-75 12:00:00 GMT", now,
                     (double)(utc(2075, 6, 1, 12, 0, 0) - now)); /* exactly 50 years */
  assert_retry_after("Saturday, 01-Jun-75 12:00:01 GMT", now, 0); /* 1975 */
  assert_retry_after("Sunday, 01-Dec-75 00:00:00 GMT", now, 0);   /* 1975 */
  assert_retry_after("Friday, 31-Dec-99 23:59:59 GMT", now, 0);   /* 1999 */
  assert_retry_after("Saturday, 01-Jan-00 00:00:00 GMT", now, 0); /* 2000 */
  /* around the example date, 1994: 44 is 2044, 45 is 1945 */
  time_t ex = example_now();
  assert_retry_after("Sunday, 06-Nov-44 08:49:30 GMT", ex,
                     (double)(utc(2044, 11, 6, 8, 49, 30) - ex));
  assert_retry_after("Sunday, 06-Nov-44 08:49:31 GMT", ex, 0);
  assert_retry_after("Sunday, 06-Nov-45 00:00:00 GMT", ex, 0);
  assert_retry_after("Sunday, 01-Jan-95 00:00:00 GMT", ex,
                     (double)(utc(1995, 1, 1, 0, 0, 0) - ex));
  /* the century decides a leap day: 29-Feb-00 is 2000 (leap) seen from
   * 1994, 2100 (not leap) seen from 2060 */
  assert_retry_after("Tuesday, 29-Feb-00 00:00:00 GMT", ex,
                     (double)(utc(2000, 2, 29, 0, 0, 0) - ex));
  assert_retry_after_invalid_at("Monday, 29-Feb-00 00:00:00 GMT", utc(2060, 1, 1, 0, 0, 0));
  assert_retry_after_invalid("Sunday, 29-Feb-95 00:00:00 GMT");
}

static void test_retry_after_date_invalid(void **state) {
  (void)state;
  static const char *bad[] = {
      /* names are English and case-sensitive */
      "Sun, 06 nov 1994 08:49:37 GMT", "Sun, 06 NOV 1994 08:49:37 GMT",
      "sun, 06 Nov 1994 08:49:37 GMT", "SUN, 06 Nov 1994 08:49:37 GMT",
      "Sun, 06 Nov 1994 08:49:37 gmt", "sun, 06 nov 1994 08:49:37 gmt",
      "Sun, 06 Noe 1994 08:49:37 GMT", "Sun, 06 Novem 1994 08:49:37 GMT",
      "Sun, 06 November 1994 08:49:37 GMT", "Sun, 06 11 1994 08:49:37 GMT",
      "Sun, 06 Okt 1994 08:49:37 GMT", "Sun, 06 Mär 1994 08:49:37 GMT",
      "So, 06 Nov 1994 08:49:37 GMT", "dim., 06 nov. 1994 08:49:37 GMT",
      "Son, 06 Nov 1994 08:49:37 GMT", "Sunday, 06 Nov 1994 08:49:37 GMT",
      "Sun, 06-Nov-94 08:49:37 GMT", "sunday, 06-Nov-94 08:49:37 GMT",
      "Sunday, 06-nov-94 08:49:37 GMT", "Sun nov  6 08:49:37 1994",
      "Sunday Nov  6 08:49:37 1994", "Sun Dez  6 08:49:37 1994",
      "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 06 Nov 1994 08:49:37 +0000",
      "Sunday, 06-Nov-94 08:49:37 UTC",
      /* out of range */
      "Sun, 00 Nov 1994 08:49:37 GMT", "Sun, 32 Nov 1994 08:49:37 GMT",
      "Sun, 31 Nov 1994 08:49:37 GMT", "Sun, 99 Nov 1994 08:49:37 GMT",
      "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 1994 08:60:37 GMT",
      "Sun, 06 Nov 1994 08:49:61 GMT", "Sun, 06 Nov 1994 99:99:99 GMT",
      "Sunday, 00-Nov-94 08:49:37 GMT", "Sunday, 32-Nov-94 08:49:37 GMT",
      "Sunday, 06-Nov-94 24:49:37 GMT", "Sunday, 06-Nov-94 08:60:37 GMT",
      "Sunday, 06-Nov-94 08:49:61 GMT", "Sun Nov 32 08:49:37 1994",
      "Sun Nov  0 08:49:37 1994", "Sun Nov 00 08:49:37 1994",
      "Sun Nov  6 24:49:37 1994", "Sun Nov  6 08:60:37 1994",
      "Sun Nov  6 08:49:61 1994", "Sun Apr 31 08:49:37 1994",
      /* each number has exactly its digits, each separator is one SP */
      "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 006 Nov 1994 08:49:37 GMT",
      "Sun, 06 Nov 94 08:49:37 GMT", "Sun, 06 Nov 01994 08:49:37 GMT",
      "Sun, 06 Nov 1994 8:49:37 GMT", "Sun, 06 Nov 1994 08:9:37 GMT",
      "Sun, 06 Nov 1994 08:49:7 GMT", "Sun, 06 Nov 1994 08:49 GMT",
      "Sun,06 Nov 1994 08:49:37 GMT", "Sun,  06 Nov 1994 08:49:37 GMT",
      "Sun, 06  Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994  08:49:37 GMT",
      "Sun, 06 Nov 1994 08:49:37  GMT", "Sun, 06\tNov 1994 08:49:37 GMT",
      "Sun, 06 Nov 1994 08.49.37 GMT", "Sun, -6 Nov 1994 08:49:37 GMT",
      "Sun, +6 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-1994 08:49:37 GMT",
      "Sunday, 6-Nov-94 08:49:37 GMT", "Sunday, 06-Nov-4 08:49:37 GMT",
      "Sunday, 06 Nov 94 08:49:37 GMT", "Sun Nov 6 08:49:37 1994",
      "Sun Nov   6 08:49:37 1994", "Sun Nov  06 08:49:37 1994",
      "Sun Nov  6 08:49:37 94", "Sun Nov  6 08:49:37 01994",
      "Sun  Nov  6 08:49:37 1994", "Sun, Nov  6 08:49:37 1994",
      /* cut short */
      "Sun", "Sun,", "Sun, 06", "Sun, 06 Nov", "Sun, 06 Nov 1994 08:49:37 G",
      "Sunday, 06-Nov-94", "Sunday, 06-Nov-94 08:49:37", "Sun Nov  6",
      "Sun Nov  6 08:49:37", "Sun Nov  6 08:49:37 199",
      /* trailing garbage (blanks are fine, anything else is not) */
      "Sun, 06 Nov 1994 08:49:37 GMTx", "Sun, 06 Nov 1994 08:49:37 GMT;",
      "Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT",
      "Sunday, 06-Nov-94 08:49:37 GMT x", "Sun Nov  6 08:49:37 1994 GMT",
      "Sun Nov  6 08:49:37 19945", "Sun, 06 Nov 1994 08:49:37 GMT 5",
      /* blanks are the C locale's: no byte of another charset */
      "\xa0Sun, 06 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 GMT\xa0",
      "Sun,\xa0" "06 Nov 1994 08:49:37 GMT",
      /* empty, or blanks only */
      "", " ", "\t\r\n",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_retry_after_invalid(bad[i]);
}

/* The C-locale cases again, under whatever locale is set. */
static void assert_dates_in_current_locale(void) {
  time_t now = example_now();
  assert_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now, 7);
  assert_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now, 7);
  assert_retry_after("Sun Nov  6 08:49:37 1994", now, 7);
  assert_retry_after("  Thu, 01 Dec 1994 00:00:00 GMT\t", now, 2128230);
  assert_retry_after("Wed, 01 Mar 1995 00:00:00 GMT", now,
                     (double)(utc(1995, 3, 1, 0, 0, 0) - now));
  assert_retry_after("Tuesday, 01-Oct-96 00:00:00 GMT", now,
                     (double)(utc(1996, 10, 1, 0, 0, 0) - now));
  assert_retry_after("Wed May 17 00:00:00 1995", now,
                     (double)(utc(1995, 5, 17, 0, 0, 0) - now));
  assert_retry_after("1.5", now, 1.5); /* not the locale's decimal comma */
  assert_retry_after_invalid("1,5");
  assert_retry_after_invalid("sun, 06 nov 1994 08:49:37 gmt");
}

/* Set LC_TIME (and LC_CTYPE, LC_NUMERIC, as setlocale(LC_ALL, "") would)
 * to name and check that English dates still parse and the locale's own
 * spelling does not; then restore the saved locale. 0 when name cannot be
 * set, else 1. */
static size_t check_dates_in_locale(const char *name, const char *saved_time,
                                    const char *saved_ctype, const char *saved_numeric) {
  if (!setlocale(LC_TIME, name))
    return 0;
  setlocale(LC_CTYPE, name); /* these two may be missing alone */
  setlocale(LC_NUMERIC, name);
  /* the example date in the locale's own words: refused, unless the
   * locale happens to spell it the English way */
  struct tm tm;
  time_t when = example_now() + 7;
  assert_non_null(gmtime_r(&when, &tm));
  char local[128];
  assert_true(strftime(local, sizeof local, "%a, %d %b %Y %H:%M:%S GMT", &tm) > 0);
  print_message("LC_TIME=%s: the example date reads '%s'\n", name, local);
  if (strcmp(local, "Sun, 06 Nov 1994 08:49:37 GMT") != 0)
    assert_retry_after_invalid(local);
  assert_dates_in_current_locale();
  setlocale(LC_TIME, saved_time);
  setlocale(LC_CTYPE, saved_ctype);
  setlocale(LC_NUMERIC, saved_numeric);
  return 1;
}

/* An application that called setlocale(LC_ALL, "") under, say, de_DE
 * must still read English dates; the locale's own names are no HTTP-date. */
static void test_retry_after_locale(void **state) {
  (void)state;
  static const char *const locales[] = {
      "de_DE.UTF-8", "de_DE.utf8", "de_DE", "fr_FR.UTF-8", "fr_FR.utf8", "fr_FR",
      "es_ES.UTF-8", "es_ES.utf8", "it_IT.UTF-8", "it_IT.utf8", "nl_NL.UTF-8",
      "pt_BR.UTF-8", "pl_PL.UTF-8", "sv_SE.UTF-8", "tr_TR.UTF-8", "tr_TR.utf8",
      "ru_RU.UTF-8", "ru_RU.utf8", "ja_JP.UTF-8", "ja_JP.utf8", "de_DE.ISO-8859-1",
      "fr_FR.ISO-8859-1", "German", "French",
  };
  char *saved_time = strdup(setlocale(LC_TIME, NULL));
  char *saved_ctype = strdup(setlocale(LC_CTYPE, NULL));
  char *saved_numeric = strdup(setlocale(LC_NUMERIC, NULL));
  assert_non_null(saved_time);
  assert_non_null(saved_ctype);
  assert_non_null(saved_numeric);

  assert_dates_in_current_locale(); /* in C, always */

  size_t tried = 0;
  for (size_t i = 0; i < sizeof locales / sizeof locales[0]; i++)
    tried += check_dates_in_locale(locales[i], saved_time, saved_ctype, saved_numeric);
  if (!tried) {
    /* none installed (a fresh machine has only C and POSIX): compile one
     * from the locales package's sources into a scratch LOCPATH */
    char dir[] = "/tmp/fp-locale-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[256];
    snprintf(cmd, sizeof cmd, "localedef -i de_DE -f UTF-8 %s/de_DE.UTF-8 2>/dev/null", dir);
    int rc = system(cmd);
    setenv("LOCPATH", dir, 1);
    tried = check_dates_in_locale("de_DE.UTF-8", saved_time, saved_ctype, saved_numeric);
    unsetenv("LOCPATH");
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    (void)!system(cmd);
    if (!tried)
      fail_msg("no non-English locale could be set, nor built with localedef (exit %d): "
               "apt-get install locales", rc);
  }
  assert_string_equal(setlocale(LC_TIME, NULL), saved_time);
  free(saved_time);
  free(saved_ctype);
  free(saved_numeric);
}

/* ---- retry schedule ---- */

static fp_request *retry_request(unsigned max, double base, double max_wait) {
  fp_request *req = fp_request_new("http://127.0.0.1:1/");
  assert_non_null(req);
  assert_int_equal(fp_request_set_retries(req, max, base, max_wait), FP_OK);
  return req;
}

static fp_response *status_response(long status) {
  fp_response *resp = fp__response_new();
  assert_non_null(resp);
  resp->status = status;
  return resp;
}

static fp_response *error_response(int code) {
  fp_response *resp = fp__response_new();
  assert_non_null(resp);
  fp__response_set_error(resp, code, "test");
  return resp;
}

static void test_retry_off_by_default(void **state) {
  (void)state;
  fp_request *req = fp_request_new("http://127.0.0.1:1/");
  fp_response *resp = status_response(503);
  uint64_t rng = 1;
  assert_true(fp__retry_wanted(req, resp)); /* a retryable outcome... */
  assert_true(fp__retry_delay(req, resp, 1, &rng) < 0); /* ...but no retries */
  fp__response_free(resp);
  resp = error_response(FP_ERR_CONNECT);
  assert_true(fp__retry_delay(req, resp, 1, &rng) < 0);
  fp__response_free(resp);
  fp_request_decref(req);
}

static void test_retry_max_retries(void **state) {
  (void)state;
  fp_request *req = retry_request(3, 0.1, 10);
  fp_response *resp = status_response(503);
  uint64_t rng = 42;
  /* attempts made so far: 1..3 may retry, the 4th attempt is the last */
  for (unsigned k = 1; k <= 3; k++)
    assert_true(fp__retry_delay(req, resp, k, &rng) >= 0);
  assert_true(fp__retry_delay(req, resp, 4, &rng) < 0);
  assert_true(fp__retry_delay(req, resp, 100, &rng) < 0);
  fp__response_free(resp);
  fp_request_decref(req);
}

static void test_retry_default_statuses(void **state) {
  (void)state;
  fp_request *req = retry_request(1, 0.1, 1);
  uint64_t rng = 7;
  for (long s = 100; s <= 599; s++) {
    fp_response *resp = status_response(s);
    bool want = s == 429 || s == 502 || s == 503 || s == 504;
    if (fp__retry_wanted(req, resp) != want)
      fail_msg("status %ld: retry_wanted %d, want %d", s, !want, want);
    assert_int_equal(fp__retry_delay(req, resp, 1, &rng) >= 0, want);
    fp__response_free(resp);
  }
  fp_request_decref(req);
}

static void test_retry_custom_statuses(void **state) {
  (void)state;
  fp_request *req = retry_request(1, 0.1, 1);
  static const int mine[] = {500, 418, 599, 100};
  assert_int_equal(fp_request_set_retry_statuses(req, mine, 4), FP_OK);
  for (long s = 100; s <= 599; s++) {
    fp_response *resp = status_response(s);
    bool want = s == 500 || s == 418 || s == 599 || s == 100;
    assert_int_equal(fp__retry_wanted(req, resp), want);
    fp__response_free(resp);
  }
  /* n == 0: no status at all, transport errors still */
  assert_int_equal(fp_request_set_retry_statuses(req, NULL, 0), FP_OK);
  fp_response *resp = status_response(503);
  assert_false(fp__retry_wanted(req, resp));
  fp__response_free(resp);
  resp = error_response(FP_ERR_NETWORK);
  assert_true(fp__retry_wanted(req, resp));
  fp__response_free(resp);
  /* out of range is refused and leaves the set as it was */
  static const int bad1[] = {503, 99};
  static const int bad2[] = {600};
  assert_int_equal(fp_request_set_retry_statuses(req, bad1, 2), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_set_retry_statuses(req, bad2, 1), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_set_retry_statuses(req, NULL, 1), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_set_retry_statuses(NULL, mine, 1), FP_ERR_INVALID_ARG);
  resp = status_response(503);
  assert_false(fp__retry_wanted(req, resp));
  fp__response_free(resp);
  /* the set survives a copy */
  assert_int_equal(fp_request_set_retry_statuses(req, mine, 1), FP_OK);
  fp_request *copy = fp_request_copy(req);
  resp = status_response(500);
  assert_true(fp__retry_wanted(copy, resp));
  fp__response_free(resp);
  fp_request_decref(copy);
  fp_request_decref(req);
}

static void test_retry_transient_errors(void **state) {
  (void)state;
  fp_request *req = retry_request(2, 0.1, 1);
  static const int transient[] = {FP_ERR_CONNECT, FP_ERR_CONNECT_TIMEOUT, FP_ERR_TIMEOUT,
                                  FP_ERR_STALL_TIMEOUT, FP_ERR_NETWORK};
  static const int final[] = {FP_ERR_DNS, FP_ERR_TLS, FP_ERR_INVALID_URL,
                              FP_ERR_UNSUPPORTED_PROTOCOL, FP_ERR_PROTOCOL,
                              FP_ERR_TOO_MANY_REDIRECTS, FP_ERR_BODY_TOO_LARGE,
                              FP_ERR_HEADERS_TOO_LARGE, FP_ERR_SINK_ABORTED, FP_ERR_CANCELLED,
                              FP_ERR_NOMEM, FP_ERR_INTERNAL};
  uint64_t rng = 3;
  for (size_t i = 0; i < sizeof transient / sizeof transient[0]; i++) {
    fp_response *resp = error_response(transient[i]);
    resp->status = 503; /* the error decides, not a status seen before it */
    if (!(fp__retry_delay(req, resp, 1, &rng) >= 0))
      fail_msg("%s is not retried", fp_code_name(transient[i]));
    fp__response_free(resp);
  }
  for (size_t i = 0; i < sizeof final / sizeof final[0]; i++) {
    fp_response *resp = error_response(final[i]);
    resp->status = 503;
    if (fp__retry_delay(req, resp, 1, &rng) >= 0)
      fail_msg("%s is retried", fp_code_name(final[i]));
    fp__response_free(resp);
  }
  fp_request_decref(req);
}

static void test_retry_full_jitter(void **state) {
  (void)state;
  enum { DRAWS = 4000 };
  const double base = 0.1, max_wait = 1.0;
  fp_request *req = retry_request(10, base, max_wait);
  fp_response *resp = status_response(502);
  uint64_t rng = 0x1234;
  for (unsigned k = 1; k <= 8; k++) {
    double cap = fmin(max_wait, base * ldexp(1.0, (int)k - 1));
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    size_t in_low_tenth = 0, in_high_tenth = 0;
    for (int i = 0; i < DRAWS; i++) {
      double d = fp__retry_delay(req, resp, k, &rng);
      if (!(d >= 0 && d <= cap))
        fail_msg("retry %u: delay %.6f outside [0, %.3f]", k, d, cap);
      lo = fmin(lo, d);
      hi = fmax(hi, d);
      sum += d;
      in_low_tenth += d < cap * 0.1;
      in_high_tenth += d > cap * 0.9;
    }
    /* uniform over the whole range: both ends reached, mean in the middle,
     * each tenth holding about a tenth of the draws */
    assert_true(lo < cap * 0.01);
    assert_true(hi > cap * 0.99);
    assert_true(fabs(sum / DRAWS - cap / 2) < cap * 0.05);
    assert_true(in_low_tenth > DRAWS / 20 && in_low_tenth < DRAWS * 3 / 20);
    assert_true(in_high_tenth > DRAWS / 20 && in_high_tenth < DRAWS * 3 / 20);
  }
  /* two states give different sequences */
  uint64_t a = 1, b = 2;
  assert_true(fp__retry_delay(req, resp, 3, &a) != fp__retry_delay(req, resp, 3, &b));
  /* a zero state still yields jitter, not a constant */
  uint64_t z = 0;
  double first = fp__retry_delay(req, resp, 4, &z);
  bool varied = false;
  for (int i = 0; i < 10 && !varied; i++)
    varied = fp__retry_delay(req, resp, 4, &z) != first;
  assert_true(varied);
  fp__response_free(resp);
  fp_request_decref(req);
}

static void test_retry_defaults_for_zero(void **state) {
  (void)state;
  fp_request *req = retry_request(5, 0, 0);
  fp_response *resp = status_response(503);
  uint64_t rng = 9;
  /* base FP_DEFAULT_RETRY_BASE: retry 1 waits at most 0.5 s, retry 7 at
   * most min(30, 0.5 * 64) = 30 s */
  for (int i = 0; i < 1000; i++) {
    assert_true(fp__retry_delay(req, resp, 1, &rng) <= FP_DEFAULT_RETRY_BASE);
    assert_true(fp__retry_delay(req, resp, 5, &rng) <= FP_DEFAULT_RETRY_MAX_WAIT);
  }
  resp->retry_after = 1000;
  assert_true(fp__retry_delay(req, resp, 1, &rng) == FP_DEFAULT_RETRY_MAX_WAIT);
  fp__response_free(resp);
  /* bad numbers are refused */
  assert_int_equal(fp_request_set_retries(req, 1, -1, 1), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_set_retries(req, 1, 1, -1), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_set_retries(req, 1, NAN, 1), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_set_retries(req, 1, 1, INFINITY), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_set_retries(NULL, 1, 1, 1), FP_ERR_INVALID_ARG);
  fp_request_decref(req);
}

static void test_retry_after_wins_capped(void **state) {
  (void)state;
  fp_request *req = retry_request(3, 0.1, 5);
  fp_response *resp = status_response(429);
  uint64_t rng = 5;
  resp->retry_after = 3;
  for (unsigned k = 1; k <= 3; k++)
    assert_true(fp__retry_delay(req, resp, k, &rng) == 3.0); /* no jitter */
  resp->retry_after = 0;
  assert_true(fp__retry_delay(req, resp, 2, &rng) == 0.0);
  resp->retry_after = 3600;
  assert_true(fp__retry_delay(req, resp, 1, &rng) == 5.0); /* capped by max_wait */
  /* still only for a retried outcome, and not past max_retries */
  assert_true(fp__retry_delay(req, resp, 4, &rng) < 0);
  resp->status = 200;
  assert_true(fp__retry_delay(req, resp, 1, &rng) < 0);
  fp__response_free(resp);
  fp_request_decref(req);
}

/* ---- per-host key and slots ---- */

static void assert_host_key(const char *url, const char *want) {
  char *key = fp__host_key(url);
  assert_non_null(key);
  if (strcmp(key, want) != 0)
    fail_msg("host key of '%s' is '%s', want '%s'", url, key, want);
  free(key);
}

static void test_host_key(void **state) {
  (void)state;
  assert_host_key("http://example.com/a/b?c#d", "example.com:80");
  assert_host_key("http://Example.COM/", "example.com:80");
  assert_host_key("HTTP://EXAMPLE.com", "example.com:80");
  assert_host_key("https://example.com/", "example.com:443");
  assert_host_key("HTTPS://example.com", "example.com:443");
  /* the default port made explicit, so both spellings share a limit */
  assert_host_key("http://example.com:80/", "example.com:80");
  assert_host_key("https://example.com:443/", "example.com:443");
  assert_host_key("http://example.com:8080/x", "example.com:8080");
  assert_host_key("https://example.com:80/", "example.com:80");
  assert_host_key("http://127.0.0.1:5000/delay/1", "127.0.0.1:5000");
  assert_host_key("http://localhost?x=1", "localhost:80");
  assert_host_key("http://localhost#frag", "localhost:80");
  /* userinfo is not part of the host */
  assert_host_key("http://user:secret@example.com/", "example.com:80");
  assert_host_key("http://user@Example.com:81/", "example.com:81");
  assert_host_key("http://a@b:c@example.com/", "example.com:80");
  /* IPv6 literals: the colons inside brackets are not a port */
  assert_host_key("http://[::1]/", "[::1]:80");
  assert_host_key("https://[::1]/", "[::1]:443");
  assert_host_key("http://[::1]:8080/", "[::1]:8080");
  assert_host_key("http://[2001:DB8::1]:81", "[2001:db8::1]:81");
  assert_host_key("http://u:p@[::1]:9/", "[::1]:9");
  /* no scheme: no host */
  assert_host_key("example.com/path", "");
  assert_host_key("", "");
}

static fp_future *dummy_future(void) {
  fp_request *req = fp_request_new("http://127.0.0.1:1/");
  fp_future *f = fp__future_new(req);
  fp_request_decref(req);
  assert_non_null(f);
  return f;
}

static fp__hosts *hosts_new(size_t per_host, double rate, bool cooldown) {
  fp__hosts_options o = {.per_host = per_host, .per_host_rate = rate, .cooldown = cooldown};
  fp__hosts *h = fp__hosts_new(&o);
  assert_non_null(h);
  return h;
}

/* Acquire for a job straight from the queue (not a timer) at now. */
static int acquire(fp__hosts *h, fp_future *f, const char *key, double now, fp__host_wake *w) {
  *w = (fp__host_wake){0};
  return fp__hosts_acquire(h, f, key, now, false, true, w);
}

/* The host's timer coming back from the heap at now. */
static int acquire_timer(fp__hosts *h, fp_future *f, const char *key, double now,
                         fp__host_wake *w) {
  *w = (fp__host_wake){0};
  return fp__hosts_acquire(h, f, key, now, true, true, w);
}

static void release(fp__hosts *h, const char *key, double now, fp__outcome o,
                    double retry_after, fp__host_wake *w) {
  fp__attempt a = {.outcome = o, .latency = 0.01, .retry_after = retry_after};
  *w = (fp__host_wake){0};
  fp__hosts_release(h, key, now, &a, w);
}

static fp_host_info host_info(fp__hosts *h, const char *key, double now) {
  fp_host_info all[8];
  size_t n = fp__hosts_info(h, now, all, 8);
  for (size_t i = 0; i < n && i < 8; i++)
    if (strcmp(all[i].host, key) == 0)
      return all[i];
  fail_msg("host %s unknown", key);
  return all[0];
}

static void assert_no_wake(const fp__host_wake *w) {
  assert_null(w->run);
  assert_null(w->timer);
}

static void test_host_slots(void **state) {
  (void)state;
  fp__hosts *h = hosts_new(2, 0, true);
  fp__host_wake w;
  fp_future *f[5];
  for (int i = 0; i < 5; i++)
    f[i] = dummy_future();
  assert_int_equal(acquire(h, f[0], "a:80", 1, &w), FP__HOST_GRANTED);
  assert_int_equal(acquire(h, f[1], "a:80", 1, &w), FP__HOST_GRANTED);
  /* a caller that has not counted the job as parked is told first */
  w = (fp__host_wake){0};
  assert_int_equal(fp__hosts_acquire(h, f[2], "a:80", 1, false, false, &w),
                   FP__HOST_WOULD_PARK);
  assert_int_equal(fp__hosts_parked(h), 0);
  assert_int_equal(acquire(h, f[2], "a:80", 1, &w), FP__HOST_PARKED);
  assert_no_wake(&w); /* a transfer of the host's will end: no timer */
  assert_int_equal(acquire(h, f[3], "a:80", 1, &w), FP__HOST_PARKED);
  assert_int_equal(acquire(h, f[4], "b:80", 1, &w), FP__HOST_GRANTED); /* another host goes on */
  assert_int_equal(fp__hosts_parked(h), 2);
  /* each release hands the permit to the oldest parked job, FIFO */
  release(h, "a:80", 2, FP__OUTCOME_OK, -1, &w);
  assert_ptr_equal(w.run, f[2]);
  assert_null(*fp__future_next(f[2]));
  assert_null(w.timer);
  release(h, "a:80", 2, FP__OUTCOME_OK, -1, &w);
  assert_ptr_equal(w.run, f[3]);
  release(h, "a:80", 3, FP__OUTCOME_OK, -1, &w);
  assert_no_wake(&w);
  release(h, "a:80", 3, FP__OUTCOME_OK, -1, &w);
  assert_no_wake(&w);
  release(h, "a:80", 3, FP__OUTCOME_OK, -1, &w); /* none out: ignored */
  release(h, "b:80", 3, FP__OUTCOME_OK, -1, &w);
  fp_host_info a = host_info(h, "a:80", 3);
  assert_int_equal(a.limit, 2);
  assert_int_equal(a.active, 0);
  assert_int_equal(a.done, 4);
  /* busiest first: a (4 done) before b (1) */
  fp_host_info top[1];
  assert_int_equal(fp__hosts_info(h, 3, top, 1), 2);
  assert_string_equal(top[0].host, "a:80");
  /* all idle: the limit starts over */
  assert_int_equal(acquire(h, f[0], "a:80", 4, &w), FP__HOST_GRANTED);
  assert_int_equal(acquire(h, f[1], "a:80", 4, &w), FP__HOST_GRANTED);
  assert_int_equal(acquire(h, f[2], "a:80", 4, &w), FP__HOST_PARKED);
  assert_int_equal(acquire(h, f[4], "b:80", 4, &w), FP__HOST_GRANTED);
  assert_int_equal(acquire(h, f[3], "b:80", 4, &w), FP__HOST_GRANTED);
  /* shutdown takes whatever is parked; releases then find nobody */
  fp_future *parked = fp__hosts_take_parked(h);
  assert_ptr_equal(parked, f[2]);
  assert_null(*fp__future_next(parked));
  assert_null(fp__hosts_take_parked(h));
  assert_int_equal(fp__hosts_parked(h), 0);
  release(h, "a:80", 5, FP__OUTCOME_OK, -1, &w);
  assert_no_wake(&w);
  fp__hosts_free(h); /* with hosts still active: frees them */
  for (int i = 0; i < 5; i++)
    fp_future_decref(f[i]);
}

/* A 429 with Retry-After pauses new requests to its host until then (the
 * one in flight finishes); its jobs park, the first as the host's timer
 * due at the cooldown's end; other hosts go on. */
static void test_host_cooldown(void **state) {
  (void)state;
  fp__hosts *h = hosts_new(0, 0, true);
  fp__host_wake w;
  fp_future *f[5];
  for (int i = 0; i < 5; i++)
    f[i] = dummy_future();
  assert_int_equal(acquire(h, f[0], "a:80", 100, &w), FP__HOST_GRANTED);
  assert_int_equal(acquire(h, f[1], "a:80", 100, &w), FP__HOST_GRANTED);
  release(h, "a:80", 100.5, FP__OUTCOME_OVERLOAD, 2, &w); /* until 102.5 */
  assert_no_wake(&w);
  assert_int_equal(acquire(h, f[2], "a:80", 101, &w), FP__HOST_PARKED);
  assert_ptr_equal(w.timer, f[2]); /* nothing in flight will end to wake it */
  assert_true(w.due == 102.5);
  assert_null(w.run);
  assert_int_equal(acquire(h, f[3], "a:80", 101, &w), FP__HOST_PARKED);
  assert_no_wake(&w); /* one timer per host */
  assert_int_equal(acquire(h, f[4], "b:80", 101, &w), FP__HOST_GRANTED);
  release(h, "a:80", 101.2, FP__OUTCOME_OK, -1, &w); /* the one in flight ends */
  assert_no_wake(&w);
  fp_host_info a = host_info(h, "a:80", 101.5);
  assert_int_equal(a.limit, 0);
  assert_int_equal(a.active, 0);
  assert_int_equal(a.parked, 2);
  assert_true(fabs(a.cooldown_left - 1.0) < 1e-5);
  assert_true(fabs(a.cooldown_total - 1.0) < 1e-5); /* so far */
  assert_int_equal(a.overloads, 1);
  assert_int_equal(a.done, 2);
  /* a timer back early (a cooldown lengthened meanwhile) parks at the head
   * and goes out again */
  assert_int_equal(acquire_timer(h, f[2], "a:80", 102, &w), FP__HOST_PARKED);
  assert_ptr_equal(w.timer, f[2]);
  assert_true(w.due == 102.5);
  /* on time: it goes, and the one behind it too (no limit) */
  assert_int_equal(acquire_timer(h, f[2], "a:80", 102.5, &w), FP__HOST_GRANTED);
  assert_ptr_equal(w.run, f[3]);
  assert_null(w.timer);
  a = host_info(h, "a:80", 103);
  assert_true(a.cooldown_left == 0);
  assert_true(fabs(a.cooldown_total - 2.0) < 1e-5);
  assert_int_equal(a.parked, 0);
  /* windows merge: a 429 asking for 1 s inside a longer one adds nothing,
   * one reaching past it adds the difference */
  assert_int_equal(acquire(h, f[0], "a:80", 103, &w), FP__HOST_GRANTED);
  assert_int_equal(acquire(h, f[1], "a:80", 103, &w), FP__HOST_GRANTED); /* 4 in flight */
  release(h, "a:80", 103, FP__OUTCOME_OVERLOAD, 3, &w);   /* to 106 */
  release(h, "a:80", 104, FP__OUTCOME_OVERLOAD, 1, &w);   /* inside */
  release(h, "a:80", 104, FP__OUTCOME_OVERLOAD, 2.5, &w); /* to 106.5 */
  a = host_info(h, "a:80", 107);
  assert_true(fabs(a.cooldown_total - 5.5) < 1e-5);
  assert_int_equal(a.overloads, 4);
  /* 503 without Retry-After, timeouts: counted as attempts, no pause */
  release(h, "b:80", 107, FP__OUTCOME_OVERLOAD, -1, &w);
  assert_int_equal(acquire(h, f[1], "b:80", 107, &w), FP__HOST_GRANTED);
  release(h, "b:80", 107, FP__OUTCOME_TIMEOUT, -1, &w);
  fp_host_info b = host_info(h, "b:80", 107);
  assert_true(b.cooldown_left == 0);
  assert_int_equal(b.overloads, 1);
  assert_int_equal(b.done, 2);
  fp__hosts_free(h);
  for (int i = 0; i < 5; i++)
    fp_future_decref(f[i]);
}

/* no_host_cooldown: the 429 is counted, the host is not paused. */
static void test_host_cooldown_off(void **state) {
  (void)state;
  fp__hosts *h = hosts_new(0, 0, false);
  fp__host_wake w;
  fp_future *f = dummy_future();
  assert_int_equal(acquire(h, f, "a:80", 10, &w), FP__HOST_GRANTED);
  release(h, "a:80", 10, FP__OUTCOME_OVERLOAD, 30, &w);
  assert_int_equal(acquire(h, f, "a:80", 10, &w), FP__HOST_GRANTED);
  fp_host_info a = host_info(h, "a:80", 10);
  assert_int_equal(a.overloads, 1);
  assert_true(a.cooldown_left == 0 && a.cooldown_total == 0);
  fp__hosts_free(h);
  fp_future_decref(f);
}

/* What the cooldown waits: Retry-After in seconds or as an HTTP-date (made
 * relative to the wall clock when it arrived), only on 429 and 503, capped
 * by retry_max_wait. */
static void test_host_wait_capped(void **state) {
  (void)state;
  fp_request *req = fp_request_new("http://a/");
  assert_int_equal(fp_request_set_retries(req, 0, 0.5, 3), FP_OK); /* max wait 3 s */
  fp_response resp = {.status = 429, .retry_after = -1};
  assert_true(fp__host_wait(req, &resp) < 0); /* none asked */
  assert_int_equal(fp__parse_retry_after("2", example_now(), &resp.retry_after), FP_OK);
  assert_true(fp__host_wait(req, &resp) == 2);
  /* the RFC's date, 7 s after example_now: capped to 3 */
  assert_int_equal(fp__parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", example_now(),
                                         &resp.retry_after),
                   FP_OK);
  assert_true(resp.retry_after == 7);
  assert_true(fp__host_wait(req, &resp) == 3);
  resp.status = 503;
  assert_true(fp__host_wait(req, &resp) == 3);
  resp.status = 500; /* not an overload answer */
  assert_true(fp__host_wait(req, &resp) < 0);
  assert_true(fp__host_wait(req, NULL) < 0);
  /* and the host table takes it as it is: 3 s from the release */
  fp__hosts *h = hosts_new(0, 0, true);
  fp__host_wake w;
  fp_future *f = dummy_future();
  assert_int_equal(acquire(h, f, "a:80", 10, &w), FP__HOST_GRANTED);
  resp.status = 429;
  release(h, "a:80", 10, FP__OUTCOME_OVERLOAD, fp__host_wait(req, &resp), &w);
  assert_true(fabs(host_info(h, "a:80", 10).cooldown_left - 3) < 1e-5);
  assert_int_equal(acquire(h, f, "a:80", 12.9, &w), FP__HOST_PARKED);
  assert_ptr_equal(w.timer, f);
  assert_true(w.due == 13);
  assert_int_equal(acquire_timer(h, f, "a:80", 13, &w), FP__HOST_GRANTED);
  fp__hosts_free(h);
  fp_future_decref(f);
  fp_request_decref(req);
}

/* per_host_rate 10: starts 0.1 s apart to each host, the first at once,
 * no burst after an idle spell; hosts independent. */
static void test_host_rate_paced(void **state) {
  (void)state;
  fp__hosts *h = hosts_new(0, 10, true);
  fp__host_wake w;
  fp_future *f[5], *g[2];
  for (int i = 0; i < 5; i++)
    f[i] = dummy_future();
  for (int i = 0; i < 2; i++)
    g[i] = dummy_future();
  assert_int_equal(acquire(h, f[0], "a:80", 50, &w), FP__HOST_GRANTED);
  assert_int_equal(acquire(h, f[1], "a:80", 50, &w), FP__HOST_PARKED);
  assert_ptr_equal(w.timer, f[1]);
  assert_true(fabs(w.due - 50.1) < 1e-5);
  assert_int_equal(acquire(h, f[2], "a:80", 50, &w), FP__HOST_PARKED);
  assert_no_wake(&w);
  /* another host: its own pace */
  assert_int_equal(acquire(h, g[0], "b:80", 50.01, &w), FP__HOST_GRANTED);
  assert_int_equal(acquire(h, g[1], "b:80", 50.01, &w), FP__HOST_PARKED);
  assert_ptr_equal(w.timer, g[1]);
  assert_true(fabs(w.due - 50.11) < 1e-5);
  /* a's transfer ends: the permit is free, the token is not (no run) */
  release(h, "a:80", 50.05, FP__OUTCOME_OK, -1, &w);
  assert_no_wake(&w);
  /* the timer at its due time: it goes, and the next goes out as timer */
  assert_int_equal(acquire_timer(h, f[1], "a:80", 50.1 + 1e-6, &w), FP__HOST_GRANTED);
  assert_null(w.run);
  assert_ptr_equal(w.timer, f[2]);
  assert_true(fabs(w.due - 50.2) < 1e-5);
  /* a job arriving meanwhile waits behind it (FIFO) */
  assert_int_equal(acquire(h, f[3], "a:80", 50.15, &w), FP__HOST_PARKED);
  assert_no_wake(&w);
  assert_int_equal(acquire_timer(h, f[2], "a:80", 50.2 + 1e-6, &w), FP__HOST_GRANTED);
  assert_ptr_equal(w.timer, f[3]);
  assert_true(fabs(w.due - 50.3) < 1e-5);
  assert_int_equal(acquire_timer(h, f[3], "a:80", 50.3 + 1e-5, &w), FP__HOST_GRANTED);
  assert_no_wake(&w);
  /* idle for a minute: one start at once, the next a full interval later */
  assert_int_equal(acquire(h, f[4], "a:80", 110, &w), FP__HOST_GRANTED);
  assert_int_equal(acquire(h, f[0], "a:80", 110, &w), FP__HOST_PARKED);
  assert_true(fabs(w.due - 110.1) < 1e-5);
  assert_int_equal(acquire_timer(h, g[1], "b:80", 50.11, &w), FP__HOST_GRANTED);
  fp__hosts_free(h);
  for (int i = 0; i < 5; i++)
    fp_future_decref(f[i]);
  for (int i = 0; i < 2; i++)
    fp_future_decref(g[i]);
}

/* Limit and rate together: the rate's timer goes out only while a permit
 * is free; a release then pumps. Idle hosts are kept (LRU) for their
 * counters. */
static void test_host_rate_with_limit(void **state) {
  (void)state;
  fp__hosts *h = hosts_new(1, 10, true);
  fp__host_wake w;
  fp_future *f[3];
  for (int i = 0; i < 3; i++)
    f[i] = dummy_future();
  assert_int_equal(acquire(h, f[0], "a:80", 1, &w), FP__HOST_GRANTED);
  assert_int_equal(acquire(h, f[1], "a:80", 1, &w), FP__HOST_PARKED);
  assert_no_wake(&w); /* the transfer in flight will wake it */
  release(h, "a:80", 1.05, FP__OUTCOME_OK, -1, &w);
  assert_null(w.run);
  assert_ptr_equal(w.timer, f[1]); /* free permit, token at 1.1 */
  assert_true(fabs(w.due - 1.1) < 1e-5);
  release(h, "a:80", 1.5, FP__OUTCOME_OK, -1, &w); /* not held: ignored */
  assert_int_equal(acquire_timer(h, f[1], "a:80", 1.5, &w), FP__HOST_GRANTED);
  release(h, "a:80", 2, FP__OUTCOME_OK, -1, &w);
  assert_no_wake(&w);
  fp_host_info a = host_info(h, "a:80", 2);
  assert_int_equal(a.active, 0);
  assert_int_equal(a.parked, 0);
  assert_int_equal(a.done, 2);
  fp__hosts_free(h);
  for (int i = 0; i < 3; i++)
    fp_future_decref(f[i]);
}

/* ---- rate token bucket ---- */

static void test_rate_bucket(void **state) {
  (void)state;
  double scale = tu_time_scale();
  fp__rate *r = fp__rate_new(50);
  assert_non_null(r);
  double t0 = tu_now();
  fp__rate_acquire(r); /* the first token is free */
  assert_true(tu_now() - t0 < 0.05 * scale);
  for (int i = 1; i < 20; i++)
    fp__rate_acquire(r);
  double took = tu_now() - t0;
  print_message("20 tokens at 50/s: %.3f s\n", took);
  /* 19 intervals of 20 ms; never sooner, a little later at most */
  assert_true(took >= 0.38 - 0.002);
  assert_true(took < 0.38 + 0.1 * scale);
  fp__rate_free(r);

  /* an idle spell banks no burst */
  r = fp__rate_new(10);
  fp__rate_acquire(r);
  usleep(300 * 1000);
  t0 = tu_now();
  fp__rate_acquire(r); /* due long ago: at once */
  fp__rate_acquire(r); /* then a full interval */
  took = tu_now() - t0;
  assert_true(took >= 0.1 - 0.002);
  assert_true(took < 0.1 + 0.1 * scale);
  fp__rate_free(r);
}

typedef struct acquirer {
  fp__rate *rate;
  int count;
  double done_at;
} acquirer;

static void *acquire_thread(void *arg) {
  acquirer *a = arg;
  for (int i = 0; i < a->count; i++)
    fp__rate_acquire(a->rate);
  a->done_at = tu_now();
  return NULL;
}

static void test_rate_shared_by_threads(void **state) {
  (void)state;
  enum { THREADS = 4, EACH = 10 };
  fp__rate *r = fp__rate_new(100);
  assert_non_null(r);
  pthread_t th[THREADS];
  acquirer a[THREADS];
  double t0 = tu_now();
  for (int i = 0; i < THREADS; i++) {
    a[i] = (acquirer){.rate = r, .count = EACH};
    assert_int_equal(pthread_create(&th[i], NULL, acquire_thread, &a[i]), 0);
  }
  double last = 0;
  for (int i = 0; i < THREADS; i++) {
    pthread_join(th[i], NULL);
    last = fmax(last, a[i].done_at);
  }
  double took = last - t0;
  print_message("40 tokens at 100/s on 4 threads: %.3f s\n", took);
  assert_true(took >= 0.39 - 0.002); /* the rate is global, not per thread */
  assert_true(took < 0.39 + 0.15 * tu_time_scale());
  fp__rate_free(r);
}

static void *interrupt_later(void *arg) {
  usleep(100 * 1000);
  fp__rate_interrupt(arg);
  return NULL;
}

static void test_rate_interrupt(void **state) {
  (void)state;
  double scale = tu_time_scale();
  fp__rate *r = fp__rate_new(0.1); /* one token per 10 s */
  assert_non_null(r);
  fp__rate_acquire(r);
  pthread_t th;
  double t0 = tu_now();
  assert_int_equal(pthread_create(&th, NULL, interrupt_later, r), 0);
  fp__rate_acquire(r); /* would wait 10 s: the interrupt ends it */
  double took = tu_now() - t0;
  pthread_join(th, NULL);
  assert_true(took >= 0.09);
  assert_true(took < 0.1 + 0.3 * scale);
  /* from now on every acquire returns at once */
  t0 = tu_now();
  for (int i = 0; i < 100; i++)
    fp__rate_acquire(r);
  assert_true(tu_now() - t0 < 0.1 * scale);
  fp__rate_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      TU_TEST(test_retry_after_seconds),
      TU_TEST(test_retry_after_dates),
      TU_TEST(test_retry_after_invalid),
      TU_TEST(test_retry_after_date_fields),
      TU_TEST(test_retry_after_two_digit_year),
      TU_TEST(test_retry_after_date_invalid),
      TU_TEST(test_retry_after_locale),
      TU_TEST(test_retry_off_by_default),
      TU_TEST(test_retry_max_retries),
      TU_TEST(test_retry_default_statuses),
      TU_TEST(test_retry_custom_statuses),
      TU_TEST(test_retry_transient_errors),
      TU_TEST(test_retry_full_jitter),
      TU_TEST(test_retry_defaults_for_zero),
      TU_TEST(test_retry_after_wins_capped),
      TU_TEST(test_host_key),
      TU_TEST(test_host_slots),
      TU_TEST(test_host_cooldown),
      TU_TEST(test_host_cooldown_off),
      TU_TEST(test_host_wait_capped),
      TU_TEST(test_host_rate_paced),
      TU_TEST(test_host_rate_with_limit),
      TU_TEST(test_rate_bucket),
      TU_TEST(test_rate_shared_by_threads),
      TU_TEST(test_rate_interrupt),
  };
  return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
