/* fuzz_cli_parse.c: the option-value parsers of the fetchpool program
 * (src/cli/parse.c) on arbitrary strings (the input up to its first NUL):
 * cli_parse_count, cli_parse_size, cli_parse_seconds and
 * cli_parse_statuses. Counts, sizes and status lists are checked against
 * small reference parsers written from the contracts in src/cli/cli.h;
 * seconds against the properties of a plain decimal (only digits, '.',
 * exponent; finite, 0 to CLI_MAX_SECONDS; what strtod reads; printing and
 * parsing it again gives it back). Every parser must leave its outputs
 * untouched when it fails. */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "cli.h"
#include "fuzz.h"

#define SENTINEL_U64 UINT64_C(0xDEADBEEFCAFEF00D)

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* ---- counts ---- */

/* Digits only, value in [min, max]. */
static bool ref_count(const char *s, uint64_t min, uint64_t max, uint64_t *out) {
  unsigned __int128 v = 0;
  if (!*s)
    return false;
  for (; *s; s++) {
    if (!is_digit(*s))
      return false;
    v = v * 10 + (unsigned)(*s - '0');
    if (v > max)
      return false;
  }
  if (v < min)
    return false;
  *out = (uint64_t)v;
  return true;
}

static void check_count(const char *s, uint64_t min, uint64_t max) {
  uint64_t got = SENTINEL_U64, want = 0;
  int rc = cli_parse_count(s, min, max, &got);
  bool ok = ref_count(s, min, max, &want);
  FUZZ_CHECK(rc == (ok ? 0 : -1));
  FUZZ_CHECK(ok ? got == want : got == SENTINEL_U64);
}

/* ---- sizes ---- */

/* Digits, then an optional K, M or G (either case), nothing after; the
 * value times 1024^k must fit in 64 bits. */
static bool ref_size(const char *s, uint64_t *out) {
  unsigned __int128 v = 0;
  const char *p = s;
  for (; is_digit(*p); p++) {
    v = v * 10 + (unsigned)(*p - '0');
    if (v > UINT64_MAX)
      return false;
  }
  if (p == s)
    return false;
  unsigned shift = 0;
  if (*p == 'k' || *p == 'K')
    shift = 10;
  else if (*p == 'm' || *p == 'M')
    shift = 20;
  else if (*p == 'g' || *p == 'G')
    shift = 30;
  if (shift)
    p++;
  if (*p)
    return false;
  v <<= shift;
  if (v > UINT64_MAX)
    return false;
  *out = (uint64_t)v;
  return true;
}

static void check_size(const char *s) {
  uint64_t got = SENTINEL_U64, want = 0;
  int rc = cli_parse_size(s, &got);
  bool ok = ref_size(s, &want);
  FUZZ_CHECK(rc == (ok ? 0 : -1));
  FUZZ_CHECK(ok ? got == want : got == SENTINEL_U64);
}

/* ---- seconds ---- */

static void check_seconds(const char *s) {
  double got = -7.0;
  int rc = cli_parse_seconds(s, &got);
  FUZZ_CHECK(rc == 0 || rc == -1);
  bool plain = is_digit(s[0]) || s[0] == '.';
  for (const char *p = s; *p; p++)
    plain = plain && (is_digit(*p) || strchr(".eE+-", *p));
  if (rc != 0) {
    FUZZ_CHECK(got == -7.0);
    return;
  }
  FUZZ_CHECK(plain);
  FUZZ_CHECK(isfinite(got) && got >= 0 && got <= CLI_MAX_SECONDS);
  char *end;
  FUZZ_CHECK(strtod(s, &end) == got && *end == '\0');
  /* what is printed back parses back to the same value */
  char text[64];
  double again = -7.0;
  snprintf(text, sizeof text, "%.17g", got);
  FUZZ_CHECK(cli_parse_seconds(text, &again) == 0 && again == got);
}

/* ---- status lists ---- */

/* Items split at commas; each, less surrounding spaces, is exactly three
 * digits from 100 to 599; an empty or all-space string is the empty list. */
static bool ref_statuses(const char *s, int *out, size_t max, size_t *n) {
  if (s[strspn(s, " ")] == '\0') {
    *n = 0;
    return true;
  }
  size_t count = 0;
  for (const char *item = s;;) {
    const char *comma = strchr(item, ',');
    const char *end = comma ? comma : item + strlen(item);
    while (item < end && *item == ' ')
      item++;
    while (end > item && end[-1] == ' ')
      end--;
    if (end - item != 3 || !is_digit(item[0]) || !is_digit(item[1]) || !is_digit(item[2]))
      return false;
    int v = (item[0] - '0') * 100 + (item[1] - '0') * 10 + (item[2] - '0');
    if (v < 100 || v > 599 || count == max)
      return false;
    out[count++] = v;
    if (!comma)
      break;
    item = comma + 1;
  }
  *n = count;
  return true;
}

static void check_statuses(const char *s, size_t max) {
  int got[16], want[16];
  size_t ngot = 12345, nwant = 0;
  for (size_t i = 0; i < 16; i++)
    got[i] = -1;
  int rc = cli_parse_statuses(s, max ? got : NULL, max, &ngot);
  bool ok = ref_statuses(s, want, max, &nwant);
  FUZZ_CHECK(rc == (ok ? 0 : -1));
  if (!ok) {
    FUZZ_CHECK(ngot == 12345);
    return;
  }
  FUZZ_CHECK(ngot == nwant && ngot <= max);
  for (size_t i = 0; i < ngot; i++)
    FUZZ_CHECK(got[i] == want[i]);
  for (size_t i = ngot; i < 16; i++)
    FUZZ_CHECK(got[i] == -1); /* nothing written past the items */
  /* what the CLI accepts, the library accepts */
  if (ngot) {
    fp_request *req = fp_request_new("http://127.0.0.1/");
    FUZZ_CHECK(req && fp_request_set_retry_statuses(req, got, ngot) == FP_OK);
    fp_request_decref(req);
  }
}

int FUZZ_ENTRY(const uint8_t *data, size_t size) {
  char *s = fuzz_cstr(data, size);
  FUZZ_CHECK(s);
  static const struct {
    uint64_t min, max;
  } ranges[] = {{1, 10000}, {0, 1000}, {0, UINT64_MAX}, {7, 7}, {0, 0}, {10, 99}};
  for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
    check_count(s, ranges[i].min, ranges[i].max);
  check_size(s);
  check_seconds(s);
  /* the list bound from the input's length, so every bound gets tried */
  check_statuses(s, size % 13);
  check_statuses(s, 16);
  free(s);
  return 0;
}
