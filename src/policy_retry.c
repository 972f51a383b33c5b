/* policy_retry.c: when to retry a failed attempt and how long to wait:
 * exponential backoff with full jitter, or the server's Retry-After. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fetchpool_private.h"

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

/* HTTP-date (RFC 9110 5.6.7): IMF-fixdate, and the obsolete RFC 850 and
 * asctime forms that recipients must still accept. */
static bool parse_http_date(const char *s, time_t *out) {
  static const char *formats[] = {
      "%a, %d %b %Y %H:%M:%S GMT", /* Sun, 06 Nov 1994 08:49:37 GMT */
      "%A, %d-%b-%y %H:%M:%S GMT", /* Sunday, 06-Nov-94 08:49:37 GMT */
      "%a %b %e %H:%M:%S %Y",      /* Sun Nov  6 08:49:37 1994 */
  };
  for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(s, formats[i], &tm);
    if (!end)
      continue;
    while (isspace((unsigned char)*end))
      end++;
    if (*end)
      continue;
    *out = timegm(&tm);
    return *out != (time_t)-1;
  }
  return false;
}

/* delay-seconds is 1*DIGIT; a decimal fraction is taken as meant. Not
 * strtod: it would also take "1e3", "0x10" and the locale's comma. */
static bool parse_delay_seconds(const char *s, double *out) {
  double v = 0, unit = 1;
  if (!isdigit((unsigned char)*s))
    return false;
  for (; isdigit((unsigned char)*s); s++)
    v = v * 10 + (*s - '0');
  if (*s == '.') {
    if (!isdigit((unsigned char)*++s))
      return false;
    for (; isdigit((unsigned char)*s); s++)
      v += (*s - '0') * (unit /= 10);
  }
  while (isspace((unsigned char)*s))
    s++;
  if (*s || isinf(v))
    return false;
  *out = v;
  return true;
}

int fp__parse_retry_after(const char *value, time_t now, double *seconds) {
  while (isspace((unsigned char)*value))
    value++;
  if (isdigit((unsigned char)*value))
    return parse_delay_seconds(value, seconds) ? FP_OK : FP_ERR_INVALID_ARG;
  time_t when;
  if (!parse_http_date(value, &when))
    return FP_ERR_INVALID_ARG;
  *seconds = when > now ? (double)(when - now) : 0.0;
  return FP_OK;
}
