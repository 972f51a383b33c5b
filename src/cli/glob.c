/* glob.c: curl-style URL globbing, expanded lazily: {a,b,c} sets and
 * [1-100], [001-100], [a-z], [0-100:5] ranges, several in one URL, in
 * odometer order (the last one turns fastest, as curl does). Only the
 * pattern is kept, never the expansions, so 10^9 combinations cost no
 * more memory than 1. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* More patterns than this in one URL is surely a mistake (curl: 100). */
#define MAX_PATTERNS 100
/* Numbers in ranges stay below this, so values and counts fit in 64 bits. */
#define MAX_NUMBER UINT64_C(999999999999999999)

typedef enum { SEG_TEXT, SEG_SET, SEG_NUM, SEG_ALPHA } seg_kind;

typedef struct segment {
  seg_kind kind;
  char *text;       /* SEG_TEXT */
  char **items;     /* SEG_SET */
  size_t nitems;
  uint64_t lo, step, n; /* SEG_NUM, SEG_ALPHA: values lo + k * step, k < n */
  int width;        /* SEG_NUM: zero-padded to this many digits */
  uint64_t at;      /* the odometer's digit */
} segment;

struct cli_glob {
  segment *segs;
  size_t nsegs, npatterns;
  uint64_t count, done;
  char *url;        /* the current expansion */
  size_t url_cap;
};

void cli_glob_free(cli_glob *g) {
  if (!g)
    return;
  for (size_t i = 0; i < g->nsegs; i++) {
    free(g->segs[i].text);
    for (size_t k = 0; k < g->segs[i].nitems; k++)
      free(g->segs[i].items[k]);
    free(g->segs[i].items);
  }
  free(g->segs);
  free(g->url);
  free(g);
}

/* Append c to the growing string *s (length *n). 0 or -1. */
static int put(char **s, size_t *n, char c) {
  char *grown = realloc(*s, *n + 2);
  if (!grown)
    return -1;
  grown[(*n)++] = c;
  grown[*n] = '\0';
  *s = grown;
  return 0;
}

static segment *new_seg(cli_glob *g, seg_kind kind) {
  segment *grown = realloc(g->segs, (g->nsegs + 1) * sizeof *grown);
  if (!grown)
    return NULL;
  g->segs = grown;
  segment *s = &g->segs[g->nsegs++];
  memset(s, 0, sizeof *s);
  s->kind = kind;
  return s;
}

/* An IPv6 address in brackets ("[::1]", "[fe80::1%25eth0]"): the URL's
 * host, not a range. */
static bool ipv6_literal(const char *p, size_t len) {
  if (!memchr(p, ':', len))
    return false;
  for (size_t i = 0; i < len; i++)
    if (!strchr("0123456789abcdefABCDEF:.%", p[i]) &&
        !(p[i] >= 'a' && p[i] <= 'z') && !(p[i] >= 'A' && p[i] <= 'Z'))
      return false;
  return true;
}

static bool all_digits(const char *p, size_t len) {
  if (!len || len > 18)
    return false;
  for (size_t i = 0; i < len; i++)
    if (p[i] < '0' || p[i] > '9')
      return false;
  return true;
}

static uint64_t number(const char *p, size_t len) {
  uint64_t v = 0;
  for (size_t i = 0; i < len; i++)
    v = v * 10 + (uint64_t)(p[i] - '0');
  return v;
}

/* A range's inside, p[0..len): "1-10", "001-100", "a-z", with ":STEP". */
static int parse_range(segment *s, const char *p, size_t len, char *msg, size_t msgsize) {
  const char *colon = memchr(p, ':', len);
  size_t rlen = colon ? (size_t)(colon - p) : len;
  uint64_t step = 1;
  if (colon) {
    size_t slen = len - rlen - 1;
    if (!all_digits(colon + 1, slen) || (step = number(colon + 1, slen)) == 0) {
      snprintf(msg, msgsize, "bad step in range [%.*s]: expected a whole number from 1",
               (int)len, p);
      return -1;
    }
  }
  const char *dash = memchr(p, '-', rlen);
  if (!dash) {
    snprintf(msg, msgsize, "bad range [%.*s]: expected [FIRST-LAST] such as [1-10] or "
             "[a-z] (use -g to turn globbing off)", (int)len, p);
    return -1;
  }
  size_t alen = (size_t)(dash - p), blen = rlen - alen - 1;
  const char *b = dash + 1;
  uint64_t lo, hi;
  if (alen == 1 && blen == 1 &&
      ((p[0] >= 'a' && p[0] <= 'z' && b[0] >= 'a' && b[0] <= 'z') ||
       (p[0] >= 'A' && p[0] <= 'Z' && b[0] >= 'A' && b[0] <= 'Z'))) {
    s->kind = SEG_ALPHA;
    lo = (unsigned char)p[0];
    hi = (unsigned char)b[0];
  } else if (all_digits(p, alen) && all_digits(b, blen)) {
    s->kind = SEG_NUM;
    lo = number(p, alen);
    hi = number(b, blen);
    s->width = p[0] == '0' && alen > 1 ? (int)alen : 0;
  } else {
    snprintf(msg, msgsize, "bad range [%.*s]: expected numbers such as [1-10] or [001-100], "
             "or letters such as [a-z] (use -g to turn globbing off)", (int)len, p);
    return -1;
  }
  if (lo > hi || hi > MAX_NUMBER) {
    snprintf(msg, msgsize, "bad range [%.*s]: %s", (int)len, p,
             lo > hi ? "the first value is after the last" : "numbers too large");
    return -1;
  }
  s->lo = lo;
  s->step = step;
  s->n = (hi - lo) / step + 1;
  return 0;
}

cli_glob *cli_glob_new(const char *pattern, bool literal, char *msg, size_t msgsize) {
  cli_glob *g = calloc(1, sizeof *g);
  char *text = NULL;
  size_t tn = 0;
  if (!g)
    goto nomem;
  g->count = 1;
  for (const char *p = pattern; *p;) {
    char c = *p;
    if (literal || (c != '[' && c != '{' && c != ']' && c != '}' && c != '\\')) {
      if (put(&text, &tn, c))
        goto nomem;
      p++;
      continue;
    }
    if (c == '\\') { /* \[ \] \{ \} \, are the characters themselves */
      if (p[1] && strchr("[]{},\\", p[1])) {
        if (put(&text, &tn, p[1]))
          goto nomem;
        p += 2;
      } else {
        if (put(&text, &tn, c))
          goto nomem;
        p++;
      }
      continue;
    }
    if (c == ']' || c == '}') {
      snprintf(msg, msgsize, "unmatched '%c' at position %zu of the URL (write \\%c for the "
               "character, or use -g)", c, (size_t)(p - pattern) + 1, c);
      goto fail;
    }
    const char *close = strchr(p, c == '[' ? ']' : '}');
    if (c == '[' && close && ipv6_literal(p + 1, (size_t)(close - p - 1))) {
      for (; p <= close; p++)
        if (put(&text, &tn, *p))
          goto nomem;
      continue;
    }
    if (!close) {
      snprintf(msg, msgsize, "unmatched '%c' at position %zu of the URL (write \\%c for the "
               "character, or use -g)", c, (size_t)(p - pattern) + 1, c);
      goto fail;
    }
    if (g->npatterns == MAX_PATTERNS) {
      snprintf(msg, msgsize, "more than %d ranges and sets in one URL", MAX_PATTERNS);
      goto fail;
    }
    if (text) {
      segment *t = new_seg(g, SEG_TEXT);
      if (!t)
        goto nomem;
      t->text = text;
      text = NULL;
      tn = 0;
    }
    segment *s = new_seg(g, c == '[' ? SEG_NUM : SEG_SET);
    if (!s)
      goto nomem;
    if (c == '[') {
      if (parse_range(s, p + 1, (size_t)(close - p - 1), msg, msgsize))
        goto fail;
      p = close + 1;
    } else {
      /* items up to the closing brace, split at commas; \ escapes */
      char *item = NULL;
      size_t in = 0;
      for (p++;; p++) {
        if (*p == '\\' && p[1] && strchr("[]{},\\", p[1])) {
          if (put(&item, &in, *++p))
            goto nomem_item;
          continue;
        }
        if (!*p || *p == '{' || *p == '[') {
          free(item);
          snprintf(msg, msgsize, "%s in a {set} of the URL", *p ? "nested '{' or '['"
                                                                 : "unmatched '{'");
          goto fail;
        }
        if (*p == ',' || *p == '}') {
          char **grown = realloc(s->items, (s->nitems + 1) * sizeof *grown);
          if (!grown)
            goto nomem_item;
          s->items = grown;
          if (!item && !(item = strdup("")))
            goto nomem_item;
          /* its value becomes a JSON string (the job's #N) */
          json_t *probe = json_string(item);
          if (!probe) {
            free(item);
            snprintf(msg, msgsize, "a {set} item of the URL is not valid UTF-8");
            goto fail;
          }
          json_decref(probe);
          s->items[s->nitems++] = item;
          item = NULL;
          in = 0;
          if (*p == '}')
            break;
          continue;
        }
        if (put(&item, &in, *p))
          goto nomem_item;
        continue;
      nomem_item:
        free(item);
        goto nomem;
      }
      p++;
      s->n = s->nitems;
    }
    g->npatterns++;
    if (s->n > UINT64_MAX / g->count) {
      snprintf(msg, msgsize, "the URL's ranges and sets make more combinations than "
               "fit in 64 bits");
      goto fail;
    }
    g->count *= s->n;
  }
  if (text || g->nsegs == 0) {
    segment *t = new_seg(g, SEG_TEXT);
    if (!t || (!text && !(text = strdup(""))))
      goto nomem;
    t->text = text;
    text = NULL;
  }
  return g;
nomem:
  snprintf(msg, msgsize, "out of memory");
fail:
  free(text);
  cli_glob_free(g);
  return NULL;
}

uint64_t cli_glob_count(const cli_glob *g) { return g->count; }

/* Segment s's current value into buf (for ranges) or as a pointer. */
static const char *value_of(const segment *s, char *buf, size_t size) {
  switch (s->kind) {
  case SEG_TEXT:
    return s->text;
  case SEG_SET:
    return s->items[s->at];
  case SEG_ALPHA:
    buf[0] = (char)(s->lo + s->at * s->step);
    buf[1] = '\0';
    return buf;
  default:
    {
      uint64_t v = s->lo + s->at * s->step;
      snprintf(buf, size, "%0*llu", s->width, (unsigned long long)v);
      return buf;
    }
  }
}

int cli_glob_next(cli_glob *g, const char **url, json_t **vars) {
  if (g->done == g->count)
    return 0;
  if (g->done++) { /* turn the odometer: the last pattern fastest */
    for (size_t i = g->nsegs; i-- > 0;) {
      segment *s = &g->segs[i];
      if (s->kind == SEG_TEXT)
        continue;
      if (++s->at < s->n)
        break;
      s->at = 0;
    }
  }
  *vars = NULL;
  if (g->npatterns && !(*vars = json_object()))
    return -1;
  size_t n = 0, k = 0;
  for (size_t i = 0; i < g->nsegs; i++) {
    char buf[32];
    const char *v = value_of(&g->segs[i], buf, sizeof buf);
    size_t vl = strlen(v);
    if (n + vl + 1 > g->url_cap) {
      size_t cap = (n + vl + 1) * 2;
      char *grown = realloc(g->url, cap);
      if (!grown)
        goto nomem;
      g->url = grown;
      g->url_cap = cap;
    }
    memcpy(g->url + n, v, vl);
    n += vl;
    if (g->segs[i].kind != SEG_TEXT) {
      char key[16];
      snprintf(key, sizeof key, "%zu", ++k);
      if (json_object_set_new(*vars, key, json_string(v)))
        goto nomem;
    }
  }
  g->url[n] = '\0';
  *url = g->url;
  return 1;
nomem:
  json_decref(*vars);
  *vars = NULL;
  return -1;
}
