/* format.c: what the output holds: record filters
 * (--only-failed, --match-status, --filter-status, --match-error) and the
 * output formats (JSON Lines, CSV, TSV, a --write-out template), applied
 * to each record on the thread that puts it, so the writer still sends
 * each rendered line with one write(). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

/* ---------------------------------------------------------------- filters */

static void set_bit(uint64_t *bits, int i) { bits[i / 64] |= (uint64_t)1 << (i % 64); }
static bool has_bit(const uint64_t *bits, long i) {
  return i >= 100 && i <= 599 && (bits[i / 64] >> (i % 64) & 1);
}

/* One status, three digits from 100 to 599, from s[0..n). */
static int status_of(const char *s, size_t n, int *out) {
  if (n != 3 || strspn(s, "0123456789") < 3)
    return -1;
  int v = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
  if (v < 100 || v > 599)
    return -1;
  *out = v;
  return 0;
}

int cli_parse_status_ranges(const char *s, uint64_t bits[10]) {
  uint64_t got[10] = {0};
  if (!*s)
    return -1;
  for (;;) {
    size_t n = strcspn(s, ",");
    const char *dash = memchr(s, '-', n);
    int lo, hi;
    if (dash ? status_of(s, (size_t)(dash - s), &lo) ||
                   status_of(dash + 1, n - (size_t)(dash + 1 - s), &hi) || hi < lo
             : status_of(s, n, &lo))
      return -1;
    if (!dash)
      hi = lo;
    for (int i = lo; i <= hi; i++)
      set_bit(got, i);
    if (!s[n])
      break;
    s += n + 1;
  }
  memcpy(bits, got, sizeof got);
  return 0;
}

/* The error code named name ("http", "timeout", ...), or 1 when none. */
static int code_named(const char *name, size_t n) {
  for (int code = -1; code > -64; code--) {
    const char *known = fp_code_name(code);
    if (strcmp(known, "unknown") != 0 && strlen(known) == n && !strncmp(known, name, n))
      return code;
  }
  return 1;
}

int cli_parse_error_codes(const char *s, int *codes, size_t max, size_t *n, char *bad,
                          size_t badsize) {
  size_t count = 0;
  for (;;) {
    size_t len = strcspn(s, ",");
    int code = code_named(s, len);
    if (code > 0 || count == max) {
      snprintf(bad, badsize, "%.*s", (int)(len < 60 ? len : 60), s);
      return -1;
    }
    codes[count++] = code;
    if (!s[len])
      break;
    s += len + 1;
  }
  *n = count;
  return 0;
}

bool cli_filter_keeps(const cli_filter *f, const cli_result *r) {
  if (f->only_failed && r->code == FP_OK)
    return false;
  if (f->match_status && !has_bit(f->match, r->status))
    return false;
  if (f->filter_status && has_bit(f->drop, r->status))
    return false;
  if (f->ncodes) {
    bool named = false;
    for (size_t i = 0; i < f->ncodes; i++)
      named = named || f->codes[i] == r->code;
    if (!named)
      return false;
  }
  return true;
}

bool cli_filter_active(const cli_filter *f) {
  return f->only_failed || f->match_status || f->filter_status || f->ncodes;
}

/* ------------------------------------------------------------ a growing line */


/* v as text: a string as it is, a number as JSON writes it, true/false,
 * null or missing as nothing, an array or object as compact JSON. */
static void put_value(cli_strbuf *b, const json_t *v) {
  char num[64];
  if (!v)
    return;
  switch (json_typeof(v)) {
  case JSON_STRING:
    cli_strbuf_add(b, json_string_value(v), json_string_length(v));
    break;
  case JSON_INTEGER:
    snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    cli_strbuf_adds(b, num);
    break;
  case JSON_REAL:
    snprintf(num, sizeof num, "%.15g", json_real_value(v));
    cli_strbuf_adds(b, num);
    break;
  case JSON_TRUE:
    cli_strbuf_adds(b, "true");
    break;
  case JSON_FALSE:
    cli_strbuf_adds(b, "false");
    break;
  case JSON_OBJECT:
  case JSON_ARRAY: {
    char *text = json_dumps(v, CLI_JSON_FLAGS | JSON_ENCODE_ANY);
    if (!text)
      b->oom = true;
    else
      cli_strbuf_adds(b, text);
    free(text);
    break;
  }
  default: /* null */
    break;
  }
}

/* ------------------------------------------------------------ CSV and TSV */

/* The columns of --format csv and tsv, in order (documented in
 * fetchpool(1); error_code and error_message come from "error"). */
static const char *const columns[] = {"index", "url", "id", "status", "ok", "error_code",
                                      "error_message", "effective_url", "elapsed_ms",
                                      "bytes", "attempts", "saved"};
#define NCOLUMNS (sizeof columns / sizeof columns[0])

static const json_t *column(const json_t *rec, size_t i) {
  const json_t *err = json_object_get(rec, "error");
  if (!strcmp(columns[i], "error_code"))
    return json_object_get(err, "code");
  if (!strcmp(columns[i], "error_message"))
    return json_object_get(err, "message");
  return json_object_get(rec, columns[i]);
}

/* RFC 4180: a field holding a comma, a quote, CR or LF is quoted, with
 * each quote doubled. */
static void put_csv(cli_strbuf *b, const char *s, size_t n) {
  if (strcspn(s, ",\"\r\n") >= n) {
    cli_strbuf_add(b, s, n);
    return;
  }
  cli_strbuf_add(b, "\"", 1);
  for (size_t i = 0; i < n; i++)
    cli_strbuf_add(b, s[i] == '"' ? "\"\"" : s + i, s[i] == '"' ? 2 : 1);
  cli_strbuf_add(b, "\"", 1);
}

/* TSV: tab, LF, CR and backslash written as \t \n \r \\ (the escapes of
 * PostgreSQL's and MySQL's text format), so a field never splits. */
static void put_tsv(cli_strbuf *b, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const char *esc = s[i] == '\t' ? "\\t" : s[i] == '\n' ? "\\n" : s[i] == '\r' ? "\\r"
                      : s[i] == '\\' ? "\\\\" : NULL;
    if (esc)
      cli_strbuf_add(b, esc, 2);
    else
      cli_strbuf_add(b, s + i, 1);
  }
}

static void put_row(cli_strbuf *b, cli_format_kind kind, const char *const *cells, const size_t *lens,
                    size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (i)
      cli_strbuf_add(b, kind == CLI_FORMAT_CSV ? "," : "\t", 1);
    if (kind == CLI_FORMAT_CSV)
      put_csv(b, cells[i], lens[i]);
    else
      put_tsv(b, cells[i], lens[i]);
  }
  cli_strbuf_add(b, "\n", 1);
}

static int table_line(cli_format_kind kind, const json_t *rec, cli_strbuf *out) {
  cli_strbuf cell[NCOLUMNS];
  const char *cells[NCOLUMNS];
  size_t lens[NCOLUMNS];
  memset(cell, 0, sizeof cell);
  for (size_t i = 0; i < NCOLUMNS; i++) {
    put_value(&cell[i], column(rec, i));
    cli_strbuf_add(&cell[i], "", 0);
    cells[i] = cell[i].p ? cell[i].p : "";
    lens[i] = cell[i].len;
    out->oom = out->oom || cell[i].oom;
  }
  put_row(out, kind, cells, lens, NCOLUMNS);
  for (size_t i = 0; i < NCOLUMNS; i++)
    free(cell[i].p);
  return out->oom ? -1 : 0;
}

/* ------------------------------------------------------------ --write-out */

typedef enum part_kind { PART_TEXT, PART_FIELD, PART_HEADER, PART_JSON } part_kind;

typedef struct part {
  part_kind kind;
  char *text; /* PART_TEXT: the text; else the field, header name or path */
  size_t len;
} part;

struct cli_template {
  part *parts;
  size_t n;
  unsigned needs; /* FP_RECORD_* the fields need */
};

/* The record fields %{NAME} may name (the rest are header.NAME and
 * json.PATH). */
static const char *const fields[] = {"index", "url", "id", "status", "ok", "error",
                                     "error_message", "effective_url", "elapsed_ms",
                                     "bytes", "attempts", "saved"};

void cli_template_free(cli_template *t) {
  if (!t)
    return;
  for (size_t i = 0; i < t->n; i++)
    free(t->parts[i].text);
  free(t->parts);
  free(t);
}

static int add_part(cli_template *t, part_kind kind, const char *s, size_t n) {
  if (kind == PART_TEXT && !n)
    return 0;
  if (kind == PART_TEXT && t->n && t->parts[t->n - 1].kind == PART_TEXT) {
    part *last = &t->parts[t->n - 1];
    char *grown = realloc(last->text, last->len + n + 1);
    if (!grown)
      return -1;
    memcpy(grown + last->len, s, n);
    last->len += n;
    grown[last->len] = '\0';
    last->text = grown;
    return 0;
  }
  part *grown = realloc(t->parts, (t->n + 1) * sizeof *grown);
  if (!grown)
    return -1;
  t->parts = grown;
  if (!(grown[t->n].text = strndup(s, n)))
    return -1;
  grown[t->n].kind = kind;
  grown[t->n++].len = n;
  return 0;
}

cli_template *cli_template_parse(const char *s, char *msg, size_t msgsize) {
  cli_template *t = calloc(1, sizeof *t);
  if (!t)
    goto nomem;
  while (*s) {
    int rc = 0;
    if (s[0] == '%' && s[1] == '%') {
      rc = add_part(t, PART_TEXT, "%", 1);
      s += 2;
    } else if (s[0] == '%' && s[1] == '{') {
      const char *end = strchr(s + 2, '}');
      if (!end) {
        snprintf(msg, msgsize, "'%%{' without its '}'");
        goto fail;
      }
      const char *name = s + 2;
      size_t n = (size_t)(end - name);
      if (n > 7 && !strncmp(name, "header.", 7)) {
        rc = add_part(t, PART_HEADER, name + 7, n - 7);
        t->needs |= FP_RECORD_HEADERS;
      } else if (n > 5 && !strncmp(name, "json.", 5)) {
        rc = add_part(t, PART_JSON, name + 5, n - 5);
        t->needs |= FP_RECORD_JSON;
      } else {
        size_t i = 0;
        while (i < sizeof fields / sizeof fields[0] &&
               (strlen(fields[i]) != n || strncmp(fields[i], name, n) != 0))
          i++;
        if (i == sizeof fields / sizeof fields[0]) {
          snprintf(msg, msgsize, "unknown field '%%{%.*s}'", (int)(n < 60 ? n : 60), name);
          goto fail;
        }
        rc = add_part(t, PART_FIELD, name, n);
      }
      s = end + 1;
    } else if (s[0] == '\\' && (s[1] == 'n' || s[1] == 't' || s[1] == 'r' || s[1] == '\\')) {
      rc = add_part(t, PART_TEXT, s[1] == 'n' ? "\n" : s[1] == 't' ? "\t"
                                  : s[1] == 'r' ? "\r" : "\\", 1);
      s += 2;
    } else {
      rc = add_part(t, PART_TEXT, s, 1);
      s++;
    }
    if (rc)
      goto nomem;
  }
  return t;
nomem:
  snprintf(msg, msgsize, "out of memory");
fail:
  cli_template_free(t);
  return NULL;
}

unsigned cli_template_needs(const cli_template *t) { return t ? t->needs : 0; }

/* A header's value in rec's "headers", by name in any case (Set-Cookie's
 * array joined with ", "). */
static void put_header(cli_strbuf *b, const json_t *rec, const char *name) {
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)json_object_get(rec, "headers"), key, v) {
    if (strcasecmp(key, name) != 0)
      continue;
    if (json_is_array(v)) {
      for (size_t i = 0; i < json_array_size(v); i++) {
        if (i)
          cli_strbuf_adds(b, ", ");
        put_value(b, json_array_get(v, i));
      }
    } else {
      put_value(b, v);
    }
    return;
  }
}

/* The value at a dotted path in rec's "json": each segment a key of an
 * object, or a decimal index of an array. NULL when there is none. */
static const json_t *at_path(const json_t *rec, const char *path) {
  const json_t *v = json_object_get(rec, "json");
  while (v && *path) {
    size_t n = strcspn(path, ".");
    if (json_is_array(v)) {
      char *end;
      unsigned long i = strtoul(path, &end, 10);
      v = n && strspn(path, "0123456789") == n ? json_array_get(v, i) : NULL;
    } else if (json_is_object(v)) {
      char key[256];
      if (n >= sizeof key)
        return NULL;
      memcpy(key, path, n);
      key[n] = '\0';
      v = json_object_get(v, key);
    } else {
      return NULL;
    }
    path += n + (path[n] == '.');
  }
  return v;
}

static int template_line(const cli_template *t, const json_t *rec, cli_strbuf *out) {
  for (size_t i = 0; i < t->n; i++) {
    const part *p = &t->parts[i];
    if (p->kind == PART_TEXT)
      cli_strbuf_add(out, p->text, p->len);
    else if (p->kind == PART_HEADER)
      put_header(out, rec, p->text);
    else if (p->kind == PART_JSON)
      put_value(out, at_path(rec, p->text));
    else if (!strcmp(p->text, "error"))
      put_value(out, json_object_get(json_object_get(rec, "error"), "code"));
    else if (!strcmp(p->text, "error_message"))
      put_value(out, json_object_get(json_object_get(rec, "error"), "message"));
    else
      put_value(out, json_object_get(rec, p->text));
  }
  cli_strbuf_add(out, "", 0);
  return out->oom ? -1 : 0;
}

/* ------------------------------------------------------------ rendering */

char *cli_format_header(cli_format_kind kind, size_t *len) {
  size_t lens[NCOLUMNS];
  cli_strbuf b = {0};
  if (kind != CLI_FORMAT_CSV && kind != CLI_FORMAT_TSV)
    return NULL;
  for (size_t i = 0; i < NCOLUMNS; i++)
    lens[i] = strlen(columns[i]);
  put_row(&b, kind, columns, lens, NCOLUMNS);
  if (b.oom) {
    free(b.p);
    return NULL;
  }
  *len = b.len;
  return b.p;
}

/* The side line of a filtered record: what --resume needs to know it is
 * done, {"index", "ok", "error": null or {"code"}}. */
static char *side_line(const json_t *rec, size_t *len) {
  const json_t *err = json_object_get(rec, "error");
  json_t *code = json_object_get(err, "code");
  json_t *side = json_pack("{s:O, s:O, s:o, s:b}", "index", json_object_get(rec, "index"),
                           "ok", json_object_get(rec, "ok"),
                           "error", code ? json_pack("{s:O}", "code", code) : json_null(),
                           "filtered", 1);
  return cli_json_line(side, len);
}

int cli_render_record(void *arg, json_t *rec, const cli_result *r, char **line, size_t *len) {
  const cli_render *how = arg;
  *line = NULL;
  if (!cli_filter_keeps(&how->filter, r)) {
    if (how->side && !(*line = side_line(rec, len)))
      return -1;
    return 1;
  }
  cli_strbuf b = {0};
  int rc;
  if (how->tpl) {
    rc = template_line(how->tpl, rec, &b);
  } else if (how->kind == CLI_FORMAT_CSV || how->kind == CLI_FORMAT_TSV) {
    rc = table_line(how->kind, rec, &b);
  } else {
    char *text = json_dumps(rec, CLI_JSON_FLAGS);
    rc = text ? 0 : -1;
    if (text)
      cli_strbuf_adds(&b, text), cli_strbuf_add(&b, "\n", 1);
    free(text);
    rc = rc || b.oom ? -1 : 0;
  }
  if (rc) {
    free(b.p);
    return -1;
  }
  if (!b.p) { /* an empty template line: nothing to write, but not lost */
    b.p = calloc(1, 1);
    if (!b.p)
      return -1;
  }
  *line = b.p;
  *len = b.len;
  return 0;
}
