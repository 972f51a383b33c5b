/* fuzz_header.c: request headers from arbitrary bytes, as -H lines and
 * JSON jobs give them: fp_request_add_header_line on the input (cut at its
 * first NUL, as a C string is), and fp_request_add_header with the input
 * split at its first NUL into name and value. The contract: a header is
 * kept only with a token name and a value free of CR and LF (no header
 * injection), a refused one gives FP_ERR_INVALID_HEADER and leaves the
 * request as it was, and adding a name again replaces the first. */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "model.h"
#include "fuzz.h"

/* The oracle, written from RFC 9110 section 5.6.2 and not from the code
 * under test: token = 1*tchar, tchar = "!" / "#" / "$" / "%" / "&" / "'"
 * / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA. */
static bool is_tchar(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool is_token(const char *s, size_t n) {
  if (n == 0)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!is_tchar((unsigned char)s[i]))
      return false;
  return true;
}

static void check_headers(const fp_request *req) {
  for (size_t i = 0; i < req->nheaders; i++) {
    FUZZ_CHECK(is_token(req->headers[i].name, strlen(req->headers[i].name)));
    FUZZ_CHECK(!strpbrk(req->headers[i].value, "\r\n"));
    for (size_t j = 0; j < i; j++)
      FUZZ_CHECK(strcasecmp(req->headers[i].name, req->headers[j].name) != 0);
  }
}

static const char *find_header(const fp_request *req, const char *name) {
  for (size_t i = 0; i < req->nheaders; i++)
    if (strcasecmp(req->headers[i].name, name) == 0)
      return req->headers[i].value;
  return NULL;
}

/* "Name: value": the name is what comes before the first colon, the value
 * what follows it, less leading blanks. */
static void add_line(fp_request *req, const char *line) {
  size_t before = req->nheaders;
  int rc = fp_request_add_header_line(req, line);
  const char *colon = strchr(line, ':');
  if (rc != FP_OK) {
    FUZZ_CHECK(rc == FP_ERR_INVALID_HEADER);
    FUZZ_CHECK(req->nheaders == before);
    /* refused only for a reason the contract names */
    FUZZ_CHECK(!colon || !is_token(line, (size_t)(colon - line)) ||
               strpbrk(colon, "\r\n"));
    return;
  }
  FUZZ_CHECK(colon && is_token(line, (size_t)(colon - line)));
  char *name = strndup(line, (size_t)(colon - line));
  FUZZ_CHECK(name);
  const char *value = colon + 1 + strspn(colon + 1, " \t");
  const char *kept = find_header(req, name);
  FUZZ_CHECK(kept && strcmp(kept, value) == 0);
  FUZZ_CHECK(req->nheaders == before || req->nheaders == before + 1);
  free(name);
  check_headers(req);
}

static void add_pair(fp_request *req, const char *name, const char *value) {
  size_t before = req->nheaders;
  int rc = fp_request_add_header(req, name, value);
  bool valid = is_token(name, strlen(name)) && !strpbrk(value, "\r\n");
  FUZZ_CHECK(rc == (valid ? FP_OK : FP_ERR_INVALID_HEADER));
  if (!valid) {
    FUZZ_CHECK(req->nheaders == before);
    return;
  }
  const char *kept = find_header(req, name);
  FUZZ_CHECK(kept && strcmp(kept, value) == 0);
  /* the same name again, in other case, replaces it */
  char *upper = strdup(name);
  FUZZ_CHECK(upper);
  for (char *p = upper; *p; p++)
    if (*p >= 'a' && *p <= 'z')
      *p = (char)(*p - 'a' + 'A');
  size_t n = req->nheaders;
  FUZZ_CHECK(fp_request_add_header(req, upper, "v") == FP_OK);
  FUZZ_CHECK(req->nheaders == n);
  FUZZ_CHECK(strcmp(find_header(req, name), "v") == 0);
  free(upper);
  check_headers(req);
}

int FUZZ_ENTRY(const uint8_t *data, size_t size) {
  char *s = fuzz_cstr(data, size);
  FUZZ_CHECK(s);
  fp_request *req = fp_request_new("http://127.0.0.1/");
  FUZZ_CHECK(req);
  FUZZ_CHECK(fp_request_add_header(req, "Accept", "*/*") == FP_OK);

  add_line(req, s);
  /* every line of the input on its own, as several -H options */
  char *save = NULL, *copy = strdup(s);
  FUZZ_CHECK(copy);
  for (char *t = strtok_r(copy, "\n", &save); t; t = strtok_r(NULL, "\n", &save))
    add_line(req, t);
  free(copy);

  /* name NUL value */
  const char *value = s + strlen(s) + (strlen(s) < size ? 1 : 0);
  add_pair(req, s, value);

  /* what was kept survives a copy */
  fp_request *dup = fp_request_copy(req);
  FUZZ_CHECK(dup && dup->nheaders == req->nheaders);
  for (size_t i = 0; i < req->nheaders; i++) {
    FUZZ_CHECK(strcmp(dup->headers[i].name, req->headers[i].name) == 0);
    FUZZ_CHECK(strcmp(dup->headers[i].value, req->headers[i].value) == 0);
  }
  fp_request_decref(dup);
  fp_request_decref(req);
  free(s);
  return 0;
}
