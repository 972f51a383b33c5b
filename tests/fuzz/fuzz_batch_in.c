/* fuzz_batch_in.c: the batch-input parsers of the fetchpool program on
 * arbitrary bytes: URL globs (src/cli/glob.c), CSV and TSV rows and
 * template filling (src/cli/template.c). The first byte picks one; the
 * rest is the input (up to its first NUL for the C-string parsers).
 *   - a glob either fails with a message or expands to exactly
 *     cli_glob_count URLs (checked for counts up to 1,000), each with one
 *     variable per range or set; literal, it is one URL, the input itself;
 *   - a row split into fields and written back with every field quoted
 *     (quotes doubled) splits into the same fields; a TSV row has one
 *     field more than it has tabs;
 *   - a template filled from an object that has every name filled
 *     percent-encoded holds only unreserved characters and %XX outside the
 *     template's own text, and JSON-escaped it never holds a control byte. */
#include <string.h>

#include "cli.h"
#include "fuzz.h"

static void fuzz_glob(const char *s) {
  char msg[256] = "";
  cli_glob *g = cli_glob_new(s, false, msg, sizeof msg);
  if (!g) {
    FUZZ_CHECK(msg[0] != '\0');
    return;
  }
  uint64_t count = cli_glob_count(g), made = 0;
  FUZZ_CHECK(count >= 1);
  const char *url;
  json_t *vars;
  int rc;
  while (made <= 1000 && (rc = cli_glob_next(g, &url, &vars)) == 1) {
    FUZZ_CHECK(url != NULL);
    if (vars)
      FUZZ_CHECK(json_object_size(vars) >= 1);
    json_decref(vars);
    made++;
  }
  if (count <= 1000)
    FUZZ_CHECK(made == count && cli_glob_next(g, &url, &vars) == 0);
  cli_glob_free(g);
  /* literal: the input itself, once */
  g = cli_glob_new(s, true, msg, sizeof msg);
  FUZZ_CHECK(g && cli_glob_count(g) == 1);
  FUZZ_CHECK(cli_glob_next(g, &url, &vars) == 1 && strcmp(url, s) == 0 && !vars);
  FUZZ_CHECK(cli_glob_next(g, &url, &vars) == 0);
  cli_glob_free(g);
}

static void fuzz_row(const uint8_t *data, size_t size, bool tsv) {
  json_t *fields = json_array();
  const char *why = NULL;
  FUZZ_CHECK(fields);
  if (cli_split_row((const char *)data, size, tsv, fields, &why)) {
    FUZZ_CHECK(why != NULL);
    json_decref(fields);
    return;
  }
  FUZZ_CHECK(json_array_size(fields) >= 1);
  if (tsv) {
    size_t tabs = 0;
    for (size_t i = 0; i < size; i++)
      tabs += data[i] == '\t';
    FUZZ_CHECK(json_array_size(fields) == tabs + 1);
    json_decref(fields);
    return;
  }
  /* written back, every field quoted: the same fields */
  size_t cap = 3 * size + 3 * json_array_size(fields) + 1, n = 0;
  char *out = malloc(cap);
  FUZZ_CHECK(out);
  for (size_t i = 0; i < json_array_size(fields); i++) {
    json_t *f = json_array_get(fields, i);
    if (i)
      out[n++] = ',';
    out[n++] = '"';
    for (size_t k = 0; k < json_string_length(f); k++) {
      char c = json_string_value(f)[k];
      if (c == '"')
        out[n++] = '"';
      out[n++] = c;
    }
    out[n++] = '"';
  }
  json_t *again = json_array();
  FUZZ_CHECK(again && cli_split_row(out, n, false, again, &why) == 0);
  FUZZ_CHECK(json_equal(fields, again));
  json_decref(again);
  json_decref(fields);
  free(out);
}

/* Every {NAME} of t gets value: percent-encoded, only unreserved bytes and
 * %XX come from it; JSON-escaped, no control byte. */
static void fuzz_template(const char *t) {
  json_t *vars = json_object();
  const char *value = "a b/\"\\\x01\xc3\xa9{}%";
  for (const char *p = t; (p = strchr(p, '{')); p++) {
    size_t n = 0;
    while (p[1 + n] && strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.",
                              p[1 + n]))
      n++;
    if (n && p[1 + n] == '}') {
      char *name = strndup(p + 1, n);
      json_object_set_new(vars, name, json_string(value));
      free(name);
    }
  }
  char why[160];
  char *url = cli_template_fill(t, vars, CLI_ESCAPE_URL, why, sizeof why);
  FUZZ_CHECK(url != NULL);
  /* the filled value never brings a byte the template lacks, but '%',
   * hex digits and unreserved characters */
  for (const char *p = url; *p; p++)
    FUZZ_CHECK(strchr(t, *p) || strchr("%0123456789ABCDEFab-._~", *p));
  char *json = cli_template_fill(t, vars, CLI_ESCAPE_JSON, why, sizeof why);
  FUZZ_CHECK(json != NULL);
  for (const char *p = json; *p; p++)
    FUZZ_CHECK((unsigned char)*p >= 0x20 || strchr(t, *p));
  /* a field missing: NULL, naming it */
  if (cli_template_has_fields(t)) {
    json_t *none = json_object();
    FUZZ_CHECK(!cli_template_fill(t, none, CLI_ESCAPE_NONE, why, sizeof why));
    FUZZ_CHECK(strstr(why, "no field"));
    json_decref(none);
  }
  free(url);
  free(json);
  json_decref(vars);
}

int FUZZ_ENTRY(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  char *s = fuzz_cstr(data + 1, size - 1);
  FUZZ_CHECK(s);
  switch (data[0] % 4) {
  case 0:
    fuzz_glob(s);
    break;
  case 1:
    fuzz_row(data + 1, size - 1, false);
    break;
  case 2:
    fuzz_row(data + 1, size - 1, true);
    break;
  default:
    fuzz_template(s);
  }
  free(s);
  return 0;
}
