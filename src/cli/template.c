/* template.c: --template, --body-template and -H templates filled from a
 * row's fields, and the CSV and TSV row parsers that make those rows.
 *
 * A placeholder is {NAME}, NAME made of letters, digits, '_', '-' and '.';
 * "{{" is a literal '{'; any other brace is itself (so a JSON body such as
 * {"name": "{name}"} needs no escaping). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '_' || c == '-' || c == '.';
}

/* The length of the placeholder's name at p (just after a '{'), or 0 when
 * p does not start one. */
static size_t placeholder(const char *p) {
  size_t n = 0;
  while (name_char(p[n]))
    n++;
  return n && p[n] == '}' ? n : 0;
}

bool cli_template_has_fields(const char *t) {
  for (const char *p = t; (p = strchr(p, '{')); p++) {
    if (p[1] == '{') {
      p++;
      continue;
    }
    if (placeholder(p + 1))
      return true;
  }
  return false;
}

/* value as text for escaping mode esc into b. */
static void add_value(cli_strbuf *b, const char *v, size_t n, cli_escape esc) {
  static const char hex[] = "0123456789ABCDEF";
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)v[i];
    char out[8];
    if (esc == CLI_ESCAPE_URL && !name_char((char)c) && c != '~') {
      out[0] = '%', out[1] = hex[c >> 4], out[2] = hex[c & 15];
      cli_strbuf_add(b, out, 3);
    } else if (esc == CLI_ESCAPE_JSON && (c == '"' || c == '\\')) {
      out[0] = '\\', out[1] = (char)c;
      cli_strbuf_add(b, out, 2);
    } else if (esc == CLI_ESCAPE_JSON && c < 0x20) {
      snprintf(out, sizeof out, "\\u%04x", c);
      cli_strbuf_add(b, out, 6);
    } else {
      cli_strbuf_add(b, (const char *)&v[i], 1);
    }
  }
}

char *cli_template_fill(const char *t, const json_t *vars, cli_escape esc, char *why,
                        size_t whysize) {
  cli_strbuf b = {0};
  why[0] = '\0';
  cli_strbuf_add(&b, "", 0);
  for (const char *p = t; *p;) {
    const char *brace = strchr(p, '{');
    if (!brace) {
      cli_strbuf_add(&b, p, strlen(p));
      break;
    }
    cli_strbuf_add(&b, p, (size_t)(brace - p));
    if (brace[1] == '{') {
      cli_strbuf_add(&b, "{", 1);
      p = brace + 2;
      continue;
    }
    size_t n = placeholder(brace + 1);
    if (!n) {
      cli_strbuf_add(&b, "{", 1);
      p = brace + 1;
      continue;
    }
    char *name = strndup(brace + 1, n);
    json_t *v = name ? json_object_get(vars, name) : NULL;
    if (name && !v)
      snprintf(why, whysize, "the row has no field '%s'", name);
    /* unescaped, a NUL byte would cut the text short */
    bool nul = v && json_is_string(v) && esc == CLI_ESCAPE_NONE &&
               memchr(json_string_value(v), '\0', json_string_length(v));
    if (nul)
      snprintf(why, whysize, "the row's field '%s' holds a NUL byte", name);
    free(name);
    if (!v || nul) {
      free(b.p);
      return NULL;
    }
    if (json_is_string(v)) {
      add_value(&b, json_string_value(v), json_string_length(v), esc);
    } else if (!json_is_null(v)) { /* numbers, booleans, objects: their JSON text */
      char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
      if (!text) {
        b.oom = true;
      } else {
        add_value(&b, text, strlen(text), esc);
        free(text);
      }
    }
    p = brace + 1 + n + 1;
  }
  if (b.oom) {
    free(b.p);
    return NULL;
  }
  return b.p;
}

int cli_split_row(const char *rec, size_t len, bool tsv, json_t *fields, const char **error) {
  cli_strbuf f = {0};
  const char *p = rec, *end = rec + len;
  *error = NULL;
  for (;;) {
    f.len = 0;
    cli_strbuf_add(&f, "", 0);
    if (tsv) {
      const char *tab = memchr(p, '\t', (size_t)(end - p));
      const char *stop = tab ? tab : end;
      cli_strbuf_add(&f, p, (size_t)(stop - p));
      p = stop;
    } else if (p < end && *p == '"') {
      for (p++;; p++) {
        if (p == end) {
          *error = "a quoted field is not closed";
          goto fail;
        }
        if (*p == '"') {
          if (p + 1 < end && p[1] == '"') {
            cli_strbuf_add(&f, "\"", 1);
            p++;
            continue;
          }
          p++;
          break;
        }
        cli_strbuf_add(&f, p, 1);
      }
      if (p < end && *p != ',') {
        *error = "text after a quoted field's closing quote (a quote inside a field is "
                 "written \"\")";
        goto fail;
      }
    } else {
      const char *comma = memchr(p, ',', (size_t)(end - p));
      const char *stop = comma ? comma : end;
      if (memchr(p, '"', (size_t)(stop - p))) {
        *error = "a quote inside an unquoted field (quote the field, and write a quote "
                 "inside it as \"\")";
        goto fail;
      }
      cli_strbuf_add(&f, p, (size_t)(stop - p));
      p = stop;
    }
    if (f.oom || json_array_append_new(fields, json_stringn(f.p, f.len))) {
      *error = f.oom ? "out of memory" : "a field is not valid UTF-8";
      goto fail;
    }
    if (p == end)
      break;
    p++; /* the separator */
  }
  free(f.p);
  return 0;
fail:
  free(f.p);
  return -1;
}
