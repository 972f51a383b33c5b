/* fuzz_retry_after.c: fp__parse_retry_after on arbitrary header values
 * (the input up to its first NUL), at a fixed "now" and at a "now" taken
 * from the input. The contract: FP_OK with a finite delay >= 0, or
 * FP_ERR_INVALID_ARG with *seconds untouched; the same value parses the
 * same way whatever blanks surround it; an HTTP-date's delay shrinks as
 * now grows (never below 0) and delay-seconds do not depend on now. An
 * RFC 850 date's two-digit year is read relative to now (RFC 9110 5.6.7:
 * never more than 50 years ahead): its delay is at most 50 years, and
 * its century, and with it whether a 29-Feb exists, depends on now. */
#include <math.h>
#include <string.h>

#include "policy.h"
#include "fuzz.h"

#define UNTOUCHED (-12345.0)

static int parse(const char *value, time_t now, double *seconds) {
  *seconds = UNTOUCHED;
  int rc = fp__parse_retry_after(value, now, seconds);
  FUZZ_CHECK(rc == FP_OK || rc == FP_ERR_INVALID_ARG);
  if (rc == FP_OK)
    FUZZ_CHECK(isfinite(*seconds) && *seconds >= 0);
  else
    FUZZ_CHECK(*seconds == UNTOUCHED);
  return rc;
}

/* s starts as an RFC 850 date would: a long day name and a comma. */
static bool rfc850_form(const char *s) {
  static const char *const days[] = {"Sunday,",   "Monday,", "Tuesday,", "Wednesday,",
                                     "Thursday,", "Friday,", "Saturday,"};
  for (size_t i = 0; i < sizeof days / sizeof days[0]; i++)
    if (strncmp(s, days[i], strlen(days[i])) == 0)
      return true;
  return false;
}

int FUZZ_ENTRY(const uint8_t *data, size_t size) {
  char *s = fuzz_cstr(data, size);
  FUZZ_CHECK(s);
  const time_t fixed = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */
  double a, b, c;
  int rc = parse(s, fixed, &a);

  /* "now" from the last 4 bytes: any time from 1970 to 2106 */
  uint32_t t = 0;
  for (size_t i = size >= 4 ? size - 4 : 0; i < size; i++)
    t = t << 8 | data[i];
  int rc2 = parse(s, (time_t)t, &b);
  const char *first = s + strspn(s, " \t\n\v\f\r");
  if (rfc850_form(first)) {
    FUZZ_CHECK(rc2 == rc || strstr(first, "29-Feb-"));
    const double fifty_years = 50 * 366 * 86400.0 + 1; /* + a leap second */
    FUZZ_CHECK(rc != FP_OK || a <= fifty_years);
    FUZZ_CHECK(rc2 != FP_OK || b <= fifty_years);
  } else {
    FUZZ_CHECK(rc2 == rc);
    if (rc == FP_OK && *first >= '0' && *first <= '9')
      FUZZ_CHECK(b == a); /* delay-seconds */
    else if (rc == FP_OK && (time_t)t >= fixed)
      FUZZ_CHECK(b <= a); /* HTTP-date */
  }

  /* surrounding blanks change nothing */
  size_t n = strlen(s);
  char *padded = malloc(n + 5);
  FUZZ_CHECK(padded);
  memcpy(padded, " \t", 2);
  memcpy(padded + 2, s, n);
  memcpy(padded + 2 + n, " \t", 3);
  FUZZ_CHECK(parse(padded, fixed, &c) == rc);
  if (rc == FP_OK)
    FUZZ_CHECK(c == a);
  free(padded);
  free(s);
  return 0;
}
