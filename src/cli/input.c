/* input.c: the lazy reader of job lines: every input is opened up front
 * (a bad name is a usage error before anything runs), then read one line
 * at a time through one growing buffer, so a line may be of any length and
 * memory does not grow with the number of lines.
 *
 * The reader reads file descriptors itself rather than through stdio so
 * that it can be stopped: before reading a pipe or a terminal it polls
 * both the input and a wake-up pipe, and cli_input_stop (an interruption)
 * writes to the latter. Regular files never block, so they are just
 * read.
 *
 * A UTF-8 byte order mark (EF BB BF, as some Windows editors write) at
 * the very start of an input is not part of its first line: it is
 * skipped, there only. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define READ_CHUNK 65536

#define BOM "\xEF\xBB\xBF"
#define BOM_LEN 3

typedef struct source {
  const char *name; /* as given, "-" for standard input */
  int fd;           /* -1 when not open */
  bool regular;     /* a regular file: its jobs can be counted ahead */
  off_t start;      /* offset where reading began */
} source;

struct cli_input {
  source *sources;
  size_t n, cur;
  char *buf;        /* unread bytes are buf[head, tail) */
  size_t cap, head, tail;
  bool eof;         /* the current source gave all it has */
  bool first_line;  /* the next raw line is the current source's first */
  bool stdin_eof;   /* a second "-" reads nothing */
  int wake[2];      /* cli_input_stop writes to wake[1] */
  atomic_bool stopped;
  bool raw;         /* batch-in: CSV/TSV rows: lines as they are */
  size_t max_line;  /* batch-in: 0, or the longest line read (raw) */
};

static const char *display(const source *s) {
  return strcmp(s->name, "-") == 0 ? "standard input" : s->name;
}

static int open_source(source *s, const char *name, char *msg, size_t msgsize) {
  struct stat st;
  s->name = name;
  if (strcmp(name, "-") == 0) {
    s->fd = STDIN_FILENO;
  } else if ((s->fd = open(name, O_RDONLY | O_CLOEXEC)) < 0) {
    snprintf(msg, msgsize, "cannot open input '%s': %s", name, strerror(errno));
    return -1;
  }
  int err = fstat(s->fd, &st) ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
  if (err) {
    snprintf(msg, msgsize, "cannot read input '%s': %s", display(s), strerror(err));
    return -1;
  }
  s->regular = S_ISREG(st.st_mode);
  if (s->regular && (s->start = lseek(s->fd, 0, SEEK_CUR)) < 0)
    s->regular = false;
  return 0;
}

void cli_input_close(cli_input *in) {
  if (!in)
    return;
  for (size_t i = 0; i < in->n; i++)
    if (in->sources[i].fd > STDIN_FILENO)
      close(in->sources[i].fd);
  if (in->wake[0] >= 0)
    close(in->wake[0]);
  if (in->wake[1] >= 0)
    close(in->wake[1]);
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
  in->first_line = true;
  in->wake[0] = in->wake[1] = -1;
  atomic_init(&in->stopped, false);
  for (size_t i = 0; i < n; i++)
    in->sources[i].fd = -1;
  if (pipe2(in->wake, O_CLOEXEC | O_NONBLOCK)) {
    snprintf(msg, msgsize, "cannot create a pipe: %s", strerror(errno));
    in->wake[0] = in->wake[1] = -1;
    cli_input_close(in);
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    if (open_source(&in->sources[i], names[i], msg, msgsize)) {
      cli_input_close(in);
      return NULL;
    }
  }
  return in;
}

void cli_input_stop(cli_input *in) {
  atomic_store(&in->stopped, true);
  (void)!write(in->wake[1], "", 1); /* full pipe: a byte is there already */
}

static bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Wait until fd can be read (0) or the reader is stopped (-1). */
static int wait_readable(cli_input *in, int fd) {
  for (;;) {
    struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = in->wake[0], .events = POLLIN}};
    int n = poll(p, 2, -1);
    if (n < 0 && errno != EINTR)
      return 0; /* let read() report it */
    if (atomic_load(&in->stopped))
      return -1;
    if (n > 0 && p[0].revents)
      return 0;
  }
}

/* Read more of the current source into the buffer. 1 when bytes came,
 * 0 at its end (in->eof set), -1 when stopped, -2 on a read error (msg
 * filled). */
static int fill(cli_input *in, char *msg, size_t msgsize) {
  source *s = &in->sources[in->cur];
  if (in->head > 0) {
    memmove(in->buf, in->buf + in->head, in->tail - in->head);
    in->tail -= in->head;
    in->head = 0;
  }
  if (in->max_line && in->tail > in->max_line) {
    snprintf(msg, msgsize, "error reading '%s': a line over %zu bytes (the limit)",
             display(s), in->max_line);
    return -2;
  }
  if (in->cap - in->tail < READ_CHUNK / 4) {
    size_t cap = in->cap ? in->cap * 2 : READ_CHUNK;
    char *grown = realloc(in->buf, cap);
    if (!grown) {
      snprintf(msg, msgsize, "error reading '%s': out of memory for a line of %zu bytes",
               display(s), in->tail);
      return -2;
    }
    in->buf = grown;
    in->cap = cap;
  }
  for (;;) {
    if (!s->regular && wait_readable(in, s->fd))
      return -1;
    ssize_t got = read(s->fd, in->buf + in->tail, in->cap - in->tail);
    if (got < 0 && (errno == EINTR || errno == EAGAIN))
      continue;
    if (got < 0) {
      snprintf(msg, msgsize, "error reading '%s': %s", display(s), strerror(errno));
      return -2;
    }
    if (got == 0) {
      in->eof = true;
      if (s->fd == STDIN_FILENO)
        in->stdin_eof = true;
      return 0;
    }
    in->tail += (size_t)got;
    return 1;
  }
}

/* The next raw line of the current source, without its newline, NUL
 * terminated in place: 1, or 0 when the source is done, -1 when stopped,
 * -2 on a read error. */
static int raw_line(cli_input *in, char **line, size_t *len, char *msg, size_t msgsize) {
  size_t scanned = in->head; /* bytes before this had no newline */
  for (;;) {
    char *nl = in->tail > scanned ? memchr(in->buf + scanned, '\n', in->tail - scanned) : NULL;
    if (nl) {
      *line = in->buf + in->head;
      *len = (size_t)(nl - *line);
      *nl = '\0';
      in->head = (size_t)(nl - in->buf) + 1;
      return 1;
    }
    if (in->eof) {
      if (in->head == in->tail)
        return 0;
      /* a last line without a newline; fill() left room for the NUL */
      *line = in->buf + in->head;
      *len = in->tail - in->head;
      in->buf[in->tail] = '\0';
      in->head = in->tail;
      return 1;
    }
    scanned = in->tail - in->head; /* offsets move when fill() compacts */
    int rc = fill(in, msg, msgsize);
    if (rc < 0)
      return rc;
    scanned += in->head;
  }
}

bool cli_input_buffered(const cli_input *in) {
  return in->tail > in->head &&
         (in->eof || memchr(in->buf + in->head, '\n', in->tail - in->head) != NULL);
}

int cli_input_next(cli_input *in, const char **line, size_t *len, bool *read_error,
                   char *msg, size_t msgsize) {
  while (in->cur < in->n && !atomic_load(&in->stopped)) {
    source *s = &in->sources[in->cur];
    char *raw;
    size_t n;
    int rc = s->fd == STDIN_FILENO && in->stdin_eof && !in->eof
                 ? 0
                 : raw_line(in, &raw, &n, msg, msgsize);
    if (rc == -1)
      return 0;
    if (rc <= 0) {
      if (rc == -2)
        *read_error = true;
      in->cur++;
      in->head = in->tail = 0;
      in->eof = false;
      in->first_line = true;
      continue;
    }
    char *p = raw, *end = raw + n;
    if (in->first_line && n >= BOM_LEN && memcmp(p, BOM, BOM_LEN) == 0)
      p += BOM_LEN;
    in->first_line = false;
    if (in->raw) {
      *line = p;
      *len = (size_t)(end - p);
      return 1;
    }
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
    /* the reader skips a byte order mark at the start */
    ssize_t i = off == start && n >= BOM_LEN && memcmp(buf, BOM, BOM_LEN) == 0 ? BOM_LEN : 0;
    off += n;
    for (; i < n; i++) {
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
    if (s->fd == STDIN_FILENO && stdin_seen)
      continue; /* a second "-" reads nothing */
    stdin_seen |= s->fd == STDIN_FILENO;
    int64_t n = s->regular ? count_jobs(s->fd, s->start) : -1;
    if (n < 0)
      return -1;
    total += n;
  }
  return total;
}

void cli_input_set_raw(cli_input *in, size_t max_line) {
  in->raw = true;
  in->max_line = max_line;
}

size_t cli_input_source(const cli_input *in) { return in->cur; }
