/* policy_retry.c: when to retry a failed attempt and how long to wait:
 * exponential backoff with full jitter, or the server's Retry-After. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy.h"
#include "model.h"

/* Transfer errors worth another try: the server or the path may recover.
 * DNS, TLS, protocol and limit errors would fail the same way again. */
static bool transient(int code) {
  switch (code) {
  case FP_ERR_CONNECT:
  case FP_ERR_CONNECT_TIMEOUT:
  case FP_ERR_TIMEOUT:
  case FP_ERR_STALL_TIMEOUT:
  case FP_ERR_NETWORK:
    return true;
  default:
    return false;
  }
}

bool fp__retry_wanted(const fp_request *req, const fp_response *resp) {
  if (resp->error != FP_OK)
    return transient(resp->error);
  long s = resp->status;
  return s >= 100 && s < 640 && (req->retry_statuses[s / 64] >> (s % 64) & 1);
}

/* xorshift64*: jitter needs speed and independence between workers, not
 * cryptographic quality. */
static double uniform01(uint64_t *state) {
  uint64_t x = *state ? *state : 0x9E3779B97F4A7C15ull;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *state = x;
  return (double)((x * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0;
}

double fp__retry_delay(const fp_request *req, const fp_response *resp,
                       unsigned attempts, uint64_t *rng) {
  if (attempts > req->max_retries || !fp__retry_wanted(req, resp))
    return -1;
  if (resp->retry_after >= 0)
    return fmin(resp->retry_after, req->retry_max_wait);
  double cap = req->retry_base * ldexp(1.0, attempts > 60 ? 60 : (int)attempts - 1);
  return uniform01(rng) * fmin(cap, req->retry_max_wait);
}

double fp__host_wait(const fp_request *req, const fp_response *resp) {
  if (!resp || resp->retry_after < 0 || (resp->status != 429 && resp->status != 503))
    return -1;
  return fmin(resp->retry_after, req->retry_max_wait);
}

/* The C locale's digits and blanks, whatever LC_CTYPE the application set
 * (isspace may take more bytes in another locale). */
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_blank(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* HTTP-date (RFC 9110 5.6.7) by hand, not with strptime: its %a and %b
 * follow LC_TIME, so an application that called setlocale(LC_ALL, "")
 * under a German or French locale would refuse every date. Names are
 * English and case-sensitive, numbers have exactly the digits the grammar
 * gives, and every field is range-checked. The day name must be a day
 * name, but it need not match the date (no recipient needs that). */
typedef struct http_date {
  int year; /* 0..9999, or 0..99 when two_digit_year */
  int mon;  /* 0..11 */
  int mday; /* 1..31; checked against the month once the year is known */
  int hour, min, sec; /* sec 60 is a leap second */
  bool two_digit_year;
} http_date;

static const char *const day_names[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const long_day_names[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                              "Thursday", "Friday", "Saturday"};
static const char *const month_names[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Each take_ takes what it matches off the front of *s and returns true,
 * or returns false (with *s wherever it stopped: the caller gives up). */
static bool take_literal(const char **s, const char *lit) {
  size_t n = strlen(lit);
  if (strncmp(*s, lit, n) != 0)
    return false;
  *s += n;
  return true;
}

/* Exactly n digits, as a number in [lo, hi]. */
static bool take_number(const char **s, int n, int lo, int hi, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (!is_digit((*s)[i]))
      return false;
    v = v * 10 + ((*s)[i] - '0');
  }
  if (v < lo || v > hi)
    return false;
  *s += n;
  *out = v;
  return true;
}

/* One of the n names, exactly as spelt; its index in *out. */
static bool take_name(const char **s, const char *const *names, int n, int *out) {
  for (int i = 0; i < n; i++)
    if (take_literal(s, names[i])) {
      *out = i;
      return true;
    }
  return false;
}

/* time-of-day = hour ":" minute ":" second, 00:00:00 to 23:59:60. */
static bool take_time_of_day(const char **s, http_date *d) {
  return take_number(s, 2, 0, 23, &d->hour) && take_literal(s, ":") &&
         take_number(s, 2, 0, 59, &d->min) && take_literal(s, ":") &&
         take_number(s, 2, 0, 60, &d->sec);
}

/* The three forms: each returns the end of the date at the start of p,
 * with *d filled, or NULL. */

/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT". */
static const char *imf_fixdate(const char *p, http_date *d) {
  int wday;
  d->two_digit_year = false;
  return take_name(&p, day_names, 7, &wday) && take_literal(&p, ", ") &&
         take_number(&p, 2, 1, 31, &d->mday) && take_literal(&p, " ") &&
         take_name(&p, month_names, 12, &d->mon) && take_literal(&p, " ") &&
         take_number(&p, 4, 0, 9999, &d->year) && take_literal(&p, " ") &&
         take_time_of_day(&p, d) && take_literal(&p, " GMT")
             ? p
             : NULL;
}

/* Obsolete RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT". */
static const char *rfc850_date(const char *p, http_date *d) {
  int wday;
  d->two_digit_year = true;
  return take_name(&p, long_day_names, 7, &wday) && take_literal(&p, ", ") &&
         take_number(&p, 2, 1, 31, &d->mday) && take_literal(&p, "-") &&
         take_name(&p, month_names, 12, &d->mon) && take_literal(&p, "-") &&
         take_number(&p, 2, 0, 99, &d->year) && take_literal(&p, " ") &&
         take_time_of_day(&p, d) && take_literal(&p, " GMT")
             ? p
             : NULL;
}

/* Obsolete asctime: "Sun Nov  6 08:49:37 1994" (day 2DIGIT or SP DIGIT). */
static const char *asctime_date(const char *p, http_date *d) {
  int wday;
  d->two_digit_year = false;
  if (!(take_name(&p, day_names, 7, &wday) && take_literal(&p, " ") &&
        take_name(&p, month_names, 12, &d->mon) && take_literal(&p, " ")))
    return NULL;
  bool day = take_literal(&p, " ") ? take_number(&p, 1, 1, 9, &d->mday)
                                   : take_number(&p, 2, 1, 31, &d->mday);
  return day && take_literal(&p, " ") && take_time_of_day(&p, d) && take_literal(&p, " ") &&
                 take_number(&p, 4, 0, 9999, &d->year)
             ? p
             : NULL;
}

static int days_in_month(int year, int mon) {
  static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
  return mon == 1 && leap ? 29 : days[mon];
}

/* The full year of an RFC 850 date, per RFC 9110 5.6.7: a two-digit year
 * that would put the date more than 50 years after now means the most
 * recent year in the past with those digits. False if now is beyond
 * gmtime. */
static bool full_year(const http_date *d, time_t now, int *year) {
  struct tm n;
  if (!gmtime_r(&now, &n))
    return false;
  int limit = n.tm_year + 1900 + 50;
  /* the latest year up to limit that ends in the two digits... */
  int y = limit - ((limit - d->year) % 100 + 100) % 100;
  /* ...unless, in the limit year itself, the date falls after now's */
  if (y == limit) {
    const int date[5] = {d->mon, d->mday, d->hour, d->min, d->sec};
    const int at[5] = {n.tm_mon, n.tm_mday, n.tm_hour, n.tm_min, n.tm_sec};
    int i = 0;
    while (i < 4 && date[i] == at[i])
      i++;
    if (date[i] > at[i])
      y -= 100;
  }
  *year = y;
  return true;
}

/* s, without leading blanks, as an HTTP-date in one of the three forms
 * (RFC 9110 5.6.7), trailing blanks allowed. True with *out set, or false
 * for anything else, a day past the month's end, or a date time_t cannot
 * hold. now is only for the century of an RFC 850 date. */
static bool parse_http_date(const char *s, time_t now, time_t *out) {
  http_date d;
  const char *p = imf_fixdate(s, &d);
  if (!p)
    p = rfc850_date(s, &d);
  if (!p)
    p = asctime_date(s, &d);
  if (!p)
    return false;
  while (is_blank(*p))
    p++;
  if (*p)
    return false;
  int year = d.year;
  if (d.two_digit_year && !full_year(&d, now, &year))
    return false;
  if (d.mday > days_in_month(year, d.mon))
    return false;
  struct tm tm = {.tm_year = year - 1900, .tm_mon = d.mon, .tm_mday = d.mday,
                  .tm_hour = d.hour, .tm_min = d.min, .tm_sec = d.sec,
                  .tm_wday = -1}; /* timegm sets it only on success */
  time_t t = timegm(&tm);
  if (tm.tm_wday < 0)
    return false;
  *out = t;
  return true;
}

/* delay-seconds is 1*DIGIT; a decimal fraction is taken as meant. Not
 * strtod: it would also take "1e3", "0x10" and the locale's comma. */
static bool parse_delay_seconds(const char *s, double *out) {
  double v = 0, unit = 1;
  if (!is_digit(*s))
    return false;
  for (; is_digit(*s); s++)
    v = v * 10 + (*s - '0');
  if (*s == '.') {
    if (!is_digit(*++s))
      return false;
    for (; is_digit(*s); s++)
      v += (*s - '0') * (unit /= 10);
  }
  while (is_blank(*s))
    s++;
  if (*s || isinf(v))
    return false;
  *out = v;
  return true;
}

int fp__parse_retry_after(const char *value, time_t now, double *seconds) {
  while (is_blank(*value))
    value++;
  if (is_digit(*value))
    return parse_delay_seconds(value, seconds) ? FP_OK : FP_ERR_INVALID_ARG;
  time_t when;
  if (!parse_http_date(value, now, &when))
    return FP_ERR_INVALID_ARG;
  *seconds = when > now ? (double)(when - now) : 0.0;
  return FP_OK;
}
