/* parse.c: the small pure parsers of the fetchpool program: option values
 * (counts, sizes, seconds, status lists) and one line of an earlier output
 * file for --resume. No state, no I/O, no allocation that outlives a call,
 * so each can be fuzzed on its own (tests/fuzz/). Every parser returns 0
 * on success and -1 on error, and writes its outputs only on success. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

int cli_parse_count(const char *s, uint64_t min, uint64_t max, uint64_t *out) {
  uint64_t v = 0;
  if (!s || !*s)
    return -1;
  for (; *s; s++) {
    if (!is_digit(*s))
      return -1;
    uint64_t digit = (uint64_t)(*s - '0');
    if (digit > max || v > (max - digit) / 10)
      return -1;
    v = v * 10 + digit;
  }
  if (v < min)
    return -1;
  *out = v;
  return 0;
}

int cli_parse_size(const char *s, uint64_t *out) {
  uint64_t v = 0;
  const char *p = s;
  if (!s)
    return -1;
  for (; is_digit(*p); p++) {
    uint64_t digit = (uint64_t)(*p - '0');
    if (v > (UINT64_MAX - digit) / 10)
      return -1;
    v = v * 10 + digit;
  }
  if (p == s)
    return -1;
  unsigned shift = 0;
  switch (*p) {
  case '\0':
    break;
  case 'k': case 'K': shift = 10; p++; break;
  case 'm': case 'M': shift = 20; p++; break;
  case 'g': case 'G': shift = 30; p++; break;
  default:
    return -1;
  }
  if (*p || v > (UINT64_MAX >> shift))
    return -1;
  *out = v << shift;
  return 0;
}

int cli_parse_seconds(const char *s, double *out) {
  if (!s || !(is_digit(*s) || *s == '.'))
    return -1;
  /* strtod also reads hex, inf and nan; only plain decimals get through */
  for (const char *p = s; *p; p++)
    if (!is_digit(*p) && *p != '.' && *p != 'e' && *p != 'E' && *p != '+' && *p != '-')
      return -1;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end || errno || !isfinite(v) || v < 0 || v > CLI_MAX_SECONDS)
    return -1;
  *out = v;
  return 0;
}

int cli_parse_statuses(const char *s, int *out, size_t max, size_t *n) {
  size_t count = 0;
  if (!s || !n || (max && !out))
    return -1;
  const char *p = s;
  while (*p == ' ')
    p++;
  if (!*p) { /* an empty list: no status is retried */
    *n = 0;
    return 0;
  }
  for (;;) {
    int v = 0, digits = 0;
    while (*p == ' ')
      p++;
    for (; is_digit(*p) && digits < 4; p++, digits++)
      v = v * 10 + (*p - '0');
    if (digits != 3 || v < 100 || v > 599 || count == max)
      return -1;
    out[count++] = v;
    while (*p == ' ')
      p++;
    if (!*p)
      break;
    if (*p++ != ',')
      return -1;
  }
  *n = count;
  return 0;
}

int cli_parse_resume_line(const char *line, size_t len, uint64_t *index, bool *final,
                          bool *ok) {
  if (!line || len == 0 || line[0] != '{' || line[len - 1] != '}')
    return -1; /* cheap refusal of torn and foreign lines before parsing */
  json_error_t jerr;
  json_t *rec = json_loadb(line, len, JSON_ALLOW_NUL, &jerr);
  int rc = -1;
  if (!json_is_object(rec))
    goto done;
  json_t *ix = json_object_get(rec, "index"), *okv = json_object_get(rec, "ok"),
         *err = json_object_get(rec, "error");
  if (!json_is_integer(ix) || json_integer_value(ix) < 0 ||
      (uint64_t)json_integer_value(ix) > CLI_MAX_INDEX || !json_is_boolean(okv))
    goto done;
  const char *code = NULL;
  if (json_is_object(err)) {
    if (!(code = json_string_value(json_object_get(err, "code"))))
      goto done;
  } else if (!json_is_null(err)) {
    goto done;
  }
  *index = (uint64_t)json_integer_value(ix);
  *ok = json_is_true(okv);
  *final = !(code && strcmp(code, "cancelled") == 0);
  rc = 0;
done:
  json_decref(rec);
  return rc;
}
