/* strbuf.c: a growing NUL-terminated string that remembers running out
 * of memory, so a caller builds a whole line and checks once at the end. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void cli_strbuf_add(cli_strbuf *b, const void *s, size_t n) {
  if (b->oom)
    return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *grown = realloc(b->p, cap);
    if (!grown) {
      b->oom = true;
      return;
    }
    b->p = grown;
    b->cap = cap;
  }
  if (!b->p) /* cannot happen once cap > 0; says so to the analyzer */
    return;
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

void cli_strbuf_adds(cli_strbuf *b, const char *s) { cli_strbuf_add(b, s, strlen(s)); }
