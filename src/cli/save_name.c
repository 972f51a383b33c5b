/* save_name.c: --save-name TEMPLATE: the file name a saved
 * body gets in DIR, from the job ({index}, {id}, #1...), its URL ({name},
 * {host}) and the response (a Content-Disposition file name for {name}
 * and {ext}). Every value is sanitised into one plain name: '/', '\' and
 * control bytes become '_', a leading '.' becomes '_' (so never "." or
 * ".." and never a hidden file), and the name is cut to NAME_MAX_BYTES;
 * the template's own text may hold no '/' at all. Subdirectories are
 * therefore never made: a name is always a file directly in DIR. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

/* Room under the usual 255-byte NAME_MAX for a ".N" collision suffix
 * and the private ".PID-N.part" of the file being written. */
#define NAME_MAX_BYTES 200

/* A value as part of a name: '/', '\' and control bytes become '_'. */
static void add_clean(cli_strbuf *b, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char ch = c < 0x20 || c == 0x7f || c == '/' || c == '\\' ? '_' : (char)c;
    cli_strbuf_add(b, &ch, 1);
  }
}

static int hexval(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* s[0..n) percent-decoded, then cleaned, into b. */
static void add_decoded(cli_strbuf *b, const char *s, size_t n) {
  cli_strbuf raw = {0};
  for (size_t i = 0; i < n; i++) {
    int hi, lo;
    if (s[i] == '%' && i + 2 < n &&
        (hi = hexval(s[i + 1])) >= 0 && (lo = hexval(s[i + 2])) >= 0) {
      char c = (char)(hi * 16 + lo);
      cli_strbuf_add(&raw, &c, 1);
      i += 2;
    } else {
      cli_strbuf_add(&raw, s + i, 1);
    }
  }
  b->oom = b->oom || raw.oom;
  if (raw.p)
    add_clean(b, raw.p, raw.len);
  free(raw.p);
}

/* The file name of a Content-Disposition value: filename*=UTF-8''... (RFC
 * 6266/5987, percent-encoded) first, else filename="..." or filename=x;
 * its last path segment, as a client must (RFC 6266 4.3). */
static bool disposition_name(const char *cd, cli_strbuf *out) {
  const char *star = NULL, *plain = NULL;
  for (const char *p = cd; p && *p; p = strchr(p, ';'), p = p ? p + 1 : NULL) {
    while (*p == ' ' || *p == '\t')
      p++;
    if (!strncasecmp(p, "filename*=", 10))
      star = p + 10;
    else if (!strncasecmp(p, "filename=", 9))
      plain = p + 9;
  }
  cli_strbuf raw = {0};
  bool encoded = false;
  if (star) {
    const char *q = strstr(star, "''"); /* charset'language'value */
    if (q && (size_t)(q - star) <= 20 && strcspn(star, ";") > (size_t)(q - star)) {
      cli_strbuf_add(&raw, q + 2, strcspn(q + 2, "; \t"));
      encoded = true;
    }
  }
  if (!encoded && plain) {
    if (*plain == '"') {
      for (const char *p = plain + 1; *p && *p != '"'; p++) {
        if (*p == '\\' && p[1])
          p++;
        cli_strbuf_add(&raw, p, 1);
      }
    } else {
      cli_strbuf_add(&raw, plain, strcspn(plain, "; \t"));
    }
  }
  bool found = raw.len > 0 && !raw.oom;
  if (found) {
    const char *base = raw.p;
    for (const char *p = raw.p; *p; p++)
      if (*p == '/' || *p == '\\')
        base = p + 1;
    found = *base != '\0';
    if (encoded)
      add_decoded(out, base, strlen(base));
    else
      add_clean(out, base, strlen(base));
  }
  free(raw.p);
  return found;
}

/* The last path segment of url, percent-decoded (no query or fragment). */
static void url_name(const char *url, cli_strbuf *out) {
  const char *p = strstr(url, "://");
  p = p ? p + 3 : url;
  p += strcspn(p, "/?#");
  size_t n = strcspn(p, "?#");
  const char *seg = p;
  for (size_t i = 0; i < n; i++)
    if (p[i] == '/')
      seg = p + i + 1;
  add_decoded(out, seg, (size_t)(p + n - seg));
}

static void url_host(const char *url, cli_strbuf *out) {
  const char *p = strstr(url, "://");
  p = p ? p + 3 : url;
  size_t n = strcspn(p, "/?#");
  const char *at = memchr(p, '@', n); /* user:password@ stays out */
  if (at) {
    n -= (size_t)(at + 1 - p);
    p = at + 1;
  }
  size_t h = *p == '[' ? strcspn(p, "]") + 1 : strcspn(p, ":");
  add_clean(out, p, h < n ? h : n);
}

/* {name}: the Content-Disposition file name, else the URL's last
 * segment, else INDEX.body. */
static void name_of(const cli_save_info *in, cli_strbuf *out) {
  size_t start = out->len;
  if (in->disposition && disposition_name(in->disposition, out) && out->len > start)
    return;
  out->len = start;
  if (out->p)
    out->p[start] = '\0';
  url_name(in->url ? in->url : "", out);
  if (out->len == start) {
    char def[32];
    snprintf(def, sizeof def, "%llu.body", (unsigned long long)in->index);
    cli_strbuf_add(out, def, strlen(def));
  }
}

int cli_save_name_check(const char *tpl, char *why, size_t whysize) {
  if (!*tpl) {
    snprintf(why, whysize, "it is empty");
    return -1;
  }
  for (const char *p = tpl; *p; p++) {
    if (*p == '/' || (unsigned char)*p < 0x20 || *p == 0x7f) {
      snprintf(why, whysize, "'/' and control characters are not allowed: names are "
                             "always files directly in DIR");
      return -1;
    }
    if (*p == '{') {
      size_t n = strcspn(p + 1, "}");
      static const char *const known[] = {"index", "id", "name", "host", "ext"};
      bool ok = false;
      for (size_t i = 0; p[1 + n] && i < sizeof known / sizeof known[0]; i++)
        ok = ok || (strlen(known[i]) == n && !strncmp(known[i], p + 1, n));
      if (!ok) {
        snprintf(why, whysize, "unknown field '{%.*s}' (known: {index} {id} {name} {host} "
                 "{ext} #1 #2 ...)", (int)(n < 40 ? n : 40), p + 1);
        return -1;
      }
      p += n + 1;
    }
  }
  return 0;
}

bool cli_save_name_uses_response(const char *tpl) {
  return tpl && (strstr(tpl, "{name}") || strstr(tpl, "{ext}"));
}

/* A JSON value as name text: a string as it is, a number in decimal,
 * anything else as compact JSON. */
static void add_value(cli_strbuf *b, const json_t *v) {
  if (json_is_string(v)) {
    add_clean(b, json_string_value(v), json_string_length(v));
    return;
  }
  char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  if (!text) {
    b->oom = true;
    return;
  }
  add_clean(b, text, strlen(text));
  free(text);
}

char *cli_save_name(const char *tpl, const cli_save_info *in, char *why, size_t whysize) {
  cli_strbuf b = {0};
  for (const char *p = tpl; *p && !b.oom;) {
    if (*p == '{') {
      size_t n = strcspn(p + 1, "}");
      if (n == 5 && !strncmp(p + 1, "index", 5)) {
        char num[32];
        snprintf(num, sizeof num, "%llu", (unsigned long long)in->index);
        cli_strbuf_add(&b, num, strlen(num));
      } else if (n == 2 && !strncmp(p + 1, "id", 2)) {
        if (!in->id || json_is_null(in->id)) {
          snprintf(why, whysize, "--save-name uses {id}, and the job has no \"id\"");
          goto fail;
        }
        add_value(&b, in->id);
      } else if (n == 4 && !strncmp(p + 1, "name", 4)) {
        name_of(in, &b);
      } else if (n == 4 && !strncmp(p + 1, "host", 4)) {
        url_host(in->url ? in->url : "", &b);
      } else { /* ext: the extension of {name}, with its dot, or nothing */
        cli_strbuf name = {0};
        name_of(in, &name);
        const char *dot = name.p ? strrchr(name.p, '.') : NULL;
        if (dot && dot != name.p && dot[1])
          cli_strbuf_add(&b, dot, strlen(dot));
        b.oom = b.oom || name.oom;
        free(name.p);
      }
      p += n + 2;
    } else if (*p == '#' && p[1] >= '1' && p[1] <= '9') {
      size_t n = strspn(p + 1, "0123456789");
      char key[24];
      snprintf(key, sizeof key, "%.*s", (int)(n < 20 ? n : 20), p + 1);
      const json_t *v = in->vars ? json_object_get(in->vars, key) : NULL;
      if (!v) {
        snprintf(why, whysize, "--save-name uses #%s, and the job has no value #%s (a "
                 "URL glob gives #1 for its first range or set)", key, key);
        goto fail;
      }
      add_value(&b, v);
      p += n + 1;
    } else {
      cli_strbuf_add(&b, p, 1);
      p++;
    }
  }
  if (!b.len)
    cli_strbuf_add(&b, "_", 1);
  if (b.oom) {
    snprintf(why, whysize, "out of memory");
    goto fail;
  }
  if (b.p[0] == '.')
    b.p[0] = '_';
  if (b.len > NAME_MAX_BYTES) { /* cut on a UTF-8 character boundary */
    size_t n = NAME_MAX_BYTES;
    while (n && ((unsigned char)b.p[n] & 0xc0) == 0x80)
      n--;
    b.p[n] = '\0';
  }
  return b.p;
fail:
  free(b.p);
  return NULL;
}

char *cli_save_name_suffixed(const char *name, unsigned n) {
  char *out = NULL;
  const char *dot = strrchr(name, '.');
  if (!dot || dot == name)
    dot = name + strlen(name);
  if (asprintf(&out, "%.*s.%u%s", (int)(dot - name), name, n, dot) < 0)
    return NULL;
  return out;
}
