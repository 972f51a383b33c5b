/* input.c: the lazy reader of job lines: every input is opened up front
 * (a bad name is a usage error before anything runs), then read one line
 * at a time with getline, so a line may be of any length and memory does
 * not grow with the number of lines. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

typedef struct source {
  const char *name; /* as given, "-" for standard input */
  FILE *fp;
  bool regular;     /* a regular file: its jobs can be counted ahead */
  off_t start;      /* offset where reading began */
} source;

struct cli_input {
  source *sources;
  size_t n, cur;
  char *buf; /* getline's buffer, reused */
  size_t cap;
};

static const char *display(const source *s) {
  return strcmp(s->name, "-") == 0 ? "standard input" : s->name;
}

static int open_source(source *s, const char *name, char *msg, size_t msgsize) {
  struct stat st;
  s->name = name;
  if (strcmp(name, "-") == 0) {
    s->fp = stdin;
  } else if (!(s->fp = fopen(name, "re"))) {
    snprintf(msg, msgsize, "cannot open input '%s': %s", name, strerror(errno));
    return -1;
  }
  int err = fstat(fileno(s->fp), &st) ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
  if (err) {
    snprintf(msg, msgsize, "cannot read input '%s': %s", display(s), strerror(err));
    return -1;
  }
  s->regular = S_ISREG(st.st_mode);
  if (s->regular && (s->start = lseek(fileno(s->fp), 0, SEEK_CUR)) < 0)
    s->regular = false;
  return 0;
}

void cli_input_close(cli_input *in) {
  if (!in)
    return;
  for (size_t i = 0; i < in->n; i++)
    if (in->sources[i].fp && in->sources[i].fp != stdin)
      fclose(in->sources[i].fp);
  free(in->sources);
  free(in->buf);
  free(in);
}

cli_input *cli_input_open(char *const *names, size_t n, char *msg, size_t msgsize) {
  static char *const dash[] = {"-"};
  if (n == 0) {
    names = dash;
    n = 1;
  }
  cli_input *in = calloc(1, sizeof *in);
  if (!in || !(in->sources = calloc(n, sizeof *in->sources))) {
    snprintf(msg, msgsize, "out of memory");
    free(in);
    return NULL;
  }
  in->n = n;
  for (size_t i = 0; i < n; i++) {
    if (open_source(&in->sources[i], names[i], msg, msgsize)) {
      cli_input_close(in);
      return NULL;
    }
  }
  return in;
}

static bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

int cli_input_next(cli_input *in, const char **line, size_t *len, bool *read_error,
                   char *msg, size_t msgsize) {
  while (in->cur < in->n) {
    source *s = &in->sources[in->cur];
    errno = 0;
    ssize_t got = getline(&in->buf, &in->cap, s->fp);
    if (got < 0) {
      if (ferror(s->fp)) {
        snprintf(msg, msgsize, "error reading '%s': %s", display(s),
                 strerror(errno ? errno : EIO));
        *read_error = true;
      }
      in->cur++;
      continue;
    }
    char *p = in->buf, *end = in->buf + got;
    while (p < end && is_space(*p))
      p++;
    while (end > p && is_space(end[-1]))
      end--;
    if (p == end || *p == '#')
      continue;
    *end = '\0';
    *line = p;
    *len = (size_t)(end - p);
    return 1;
  }
  return 0;
}

/* Jobs in one regular file from offset start, by the reader's rules. */
static int64_t count_jobs(int fd, off_t start) {
  char buf[65536];
  int64_t jobs = 0;
  bool at_start = true; /* only whitespace seen on this line so far */
  for (off_t off = start;;) {
    ssize_t n = pread(fd, buf, sizeof buf, off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -1;
    if (n == 0)
      return jobs;
    off += n;
    for (ssize_t i = 0; i < n; i++) {
      char c = buf[i];
      if (c == '\n') {
        at_start = true;
      } else if (at_start && !is_space(c)) {
        at_start = false;
        if (c != '#')
          jobs++;
      }
    }
  }
}

int64_t cli_input_count(const cli_input *in) {
  int64_t total = 0;
  bool stdin_seen = false;
  for (size_t i = 0; i < in->n; i++) {
    const source *s = &in->sources[i];
    if (s->fp == stdin && stdin_seen)
      continue; /* a second "-" reads nothing */
    stdin_seen |= s->fp == stdin;
    int64_t n = s->regular ? count_jobs(fileno(s->fp), s->start) : -1;
    if (n < 0)
      return -1;
    total += n;
  }
  return total;
}
