/* resume.c: --resume: read an earlier output file and remember which jobs
 * it finished, so that this run skips them and appends the rest.
 *
 * The set of done indices is a paged bitmap: one bit per index, in pages
 * of 64 Ki indices (8 KiB) allocated on first use, behind a directory of
 * page pointers sized by the highest index. Ten million done jobs take
 * about 1.2 MiB; indices are capped at CLI_MAX_INDEX, so even a corrupt
 * line cannot make the directory exceed 8 MiB. The file is read once,
 * front to back, through one line buffer as long as its longest line. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define PAGE_SHIFT 16
#define PAGE_WORDS ((size_t)1 << (PAGE_SHIFT - 6))

struct cli_done {
  uint64_t **pages;
  size_t npages; /* directory length */
};

cli_done *cli_done_new(void) { return calloc(1, sizeof(cli_done)); }

void cli_done_free(cli_done *d) {
  if (!d)
    return;
  for (size_t i = 0; i < d->npages; i++)
    free(d->pages[i]);
  free(d->pages);
  free(d);
}

bool cli_done_has(const cli_done *d, uint64_t index) {
  uint64_t p = index >> PAGE_SHIFT;
  if (!d || p >= d->npages || !d->pages[p])
    return false;
  uint64_t bit = index & (((uint64_t)1 << PAGE_SHIFT) - 1);
  return d->pages[p][bit / 64] >> (bit % 64) & 1;
}

int cli_done_add(cli_done *d, uint64_t index) {
  if (index > CLI_MAX_INDEX)
    return -1;
  size_t p = (size_t)(index >> PAGE_SHIFT);
  if (p >= d->npages) {
    size_t n = d->npages ? d->npages : 16;
    while (n <= p)
      n *= 2;
    uint64_t **grown = realloc(d->pages, n * sizeof *grown);
    if (!grown)
      return -1;
    memset(grown + d->npages, 0, (n - d->npages) * sizeof *grown);
    d->pages = grown;
    d->npages = n;
  }
  if (!d->pages[p] && !(d->pages[p] = calloc(PAGE_WORDS, sizeof(uint64_t))))
    return -1;
  uint64_t bit = index & (((uint64_t)1 << PAGE_SHIFT) - 1);
  d->pages[p][bit / 64] |= (uint64_t)1 << (bit % 64);
  return 0;
}

uint64_t cli_done_count_below(const cli_done *d, uint64_t n) {
  uint64_t count = 0;
  for (size_t p = 0; d && p < d->npages && ((uint64_t)p << PAGE_SHIFT) < n; p++) {
    if (!d->pages[p])
      continue;
    for (size_t w = 0; w < PAGE_WORDS; w++) {
      uint64_t first = ((uint64_t)p << PAGE_SHIFT) + 64 * w, word = d->pages[p][w];
      if (first >= n)
        break;
      if (n - first < 64)
        word &= ((uint64_t)1 << (n - first)) - 1;
      count += (uint64_t)__builtin_popcountll(word);
    }
  }
  return count;
}

/* Reading state: the current line so far, and what was found. */
typedef struct scan {
  char *line;
  size_t len, cap;
  bool retry_failed;
  cli_done *done;
  cli_resume_info *info;
  uint64_t whole_lines; /* not blank */
} scan;

static int take_line(scan *s) {
  size_t len = s->len;
  while (len && (s->line[len - 1] == '\r' || s->line[len - 1] == ' '))
    len--;
  if (!len)
    return 0;
  s->whole_lines++;
  uint64_t index;
  bool final, ok;
  if (cli_parse_resume_line(s->line, len, &index, &final, &ok)) {
    s->info->foreign++;
    return 0;
  }
  s->info->records++;
  if (final && (ok || !s->retry_failed))
    return cli_done_add(s->done, index);
  return 0;
}

static int append(scan *s, const char *p, size_t n) {
  if (n == 0)
    return 0;
  if (s->len + n > s->cap) {
    size_t cap = s->cap ? s->cap : 4096;
    while (cap < s->len + n)
      cap *= 2;
    char *grown = realloc(s->line, cap);
    if (!grown)
      return -1;
    s->line = grown;
    s->cap = cap;
  }
  memcpy(s->line + s->len, p, n);
  s->len += n;
  return 0;
}

/* Whether p[0..n), a last line without its newline, can be a record
 * that a kill cut short: records are written compact, "index" first, so
 * such a line starts with (a prefix of) RECORD_START. */
#define RECORD_START "{\"index\":"
static bool torn_record(const char *p, size_t n) {
  size_t m = n < sizeof RECORD_START - 1 ? n : sizeof RECORD_START - 1;
  return memcmp(p, RECORD_START, m) == 0;
}

/* Read fd from the start; *end_of_lines gets the offset just after the
 * last newline. 0, or an errno value. */
static int scan_file(int fd, scan *s, off_t *end_of_lines) {
  char buf[65536];
  off_t off = 0;
  *end_of_lines = 0;
  for (;;) {
    ssize_t n = pread(fd, buf, sizeof buf, off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return errno;
    if (n == 0)
      return 0;
    const char *p = buf, *end = buf + n;
    while (p < end) {
      const char *nl = memchr(p, '\n', (size_t)(end - p));
      if (append(s, p, (size_t)((nl ? nl : end) - p)))
        return ENOMEM;
      if (!nl)
        break;
      if (take_line(s))
        return ENOMEM;
      s->len = 0;
      *end_of_lines = off + (nl - buf) + 1;
      p = nl + 1;
    }
    off += n;
  }
}

cli_done *cli_resume_open(const char *path, bool retry_failed, int *fdp,
                          cli_resume_info *info, char *msg, size_t msgsize) {
  struct stat st;
  off_t end_of_lines;
  scan s = {.retry_failed = retry_failed, .info = info};
  memset(info, 0, sizeof *info);
  /* a FIFO or a device is refused before it is opened: opening one may
   * block, or do something (a tape rewinds) */
  if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
    snprintf(msg, msgsize, "cannot resume from '%s': not a regular file", path);
    return NULL;
  }
  int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0666),
      err;
  if (fd < 0) {
    snprintf(msg, msgsize, "cannot open resume file '%s': %s", path, strerror(errno));
    return NULL;
  }
  if (fstat(fd, &st)) {
    snprintf(msg, msgsize, "cannot resume from '%s': %s", path, strerror(errno));
    goto fail;
  }
  if (!S_ISREG(st.st_mode)) { /* it was replaced since the stat above */
    snprintf(msg, msgsize, "cannot resume from '%s': not a regular file", path);
    goto fail;
  }
  fcntl(fd, F_SETFL, O_APPEND); /* O_NONBLOCK was for the open only */
  if (flock(fd, LOCK_EX | LOCK_NB)) {
    snprintf(msg, msgsize, "cannot resume from '%s': %s", path,
             errno == EWOULDBLOCK ? "another fetchpool is writing to it" : strerror(errno));
    goto fail;
  }
  if (!(s.done = cli_done_new())) {
    snprintf(msg, msgsize, "out of memory");
    goto fail;
  }
  if ((err = scan_file(fd, &s, &end_of_lines))) {
    snprintf(msg, msgsize, "cannot read resume file '%s': %s", path, strerror(err));
    goto fail;
  }
  /* s.line[0..s.len) is what follows the last newline. Nothing is cut
   * or appended unless the file holds at least one record: a file of
   * other lines, or of one line without a newline (a URL list, a binary
   * file), is not fetchpool output. */
  if ((s.whole_lines || s.len) && !info->records) {
    snprintf(msg, msgsize,
             "cannot resume from '%s': it holds no fetchpool records (is it the output "
             "of an earlier run?); it was left as it was", path);
    goto fail;
  }
  if (s.len && !torn_record(s.line, s.len)) {
    snprintf(msg, msgsize,
             "cannot resume from '%s': its last line has no newline and is not the "
             "start of a record, so it is not cut; it was left as it was", path);
    goto fail;
  }
  /* the torn tail of a killed run goes, so the next record starts a line */
  if (st.st_size > end_of_lines) {
    if (ftruncate(fd, end_of_lines)) {
      snprintf(msg, msgsize, "cannot cut the torn last line of '%s': %s", path,
               strerror(errno));
      goto fail;
    }
    info->torn_bytes = (uint64_t)(st.st_size - end_of_lines);
  }
  free(s.line);
  *fdp = fd;
  return s.done;
fail:
  free(s.line);
  cli_done_free(s.done);
  close(fd);
  return NULL;
}

int cli_resume_side(cli_done *d, const char *path, bool retry_failed, bool create, int *fdp,
                    char *msg, size_t msgsize) {
  cli_resume_info info;
  scan s = {.retry_failed = retry_failed, .info = &info, .done = d};
  struct stat st;
  off_t end_of_lines;
  int err;
  memset(&info, 0, sizeof info);
  *fdp = -1;
  /* O_NOFOLLOW and O_NONBLOCK: a symlink planted there, or a FIFO, is
   * refused rather than followed or waited on */
  int fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK |
                      (create ? O_CREAT : 0), 0666);
  if (fd < 0 && errno == ENOENT && !create)
    return 0;
  if (fd < 0) {
    snprintf(msg, msgsize, "cannot open the filtered-jobs file '%s': %s", path,
             strerror(errno));
    return -1;
  }
  if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
    snprintf(msg, msgsize, "cannot use the filtered-jobs file '%s': not a regular file", path);
    goto fail;
  }
  fcntl(fd, F_SETFL, O_APPEND);
  if ((err = scan_file(fd, &s, &end_of_lines))) {
    snprintf(msg, msgsize, "cannot read the filtered-jobs file '%s': %s", path, strerror(err));
    goto fail;
  }
  if (st.st_size > end_of_lines && ftruncate(fd, end_of_lines)) {
    snprintf(msg, msgsize, "cannot cut the torn last line of '%s': %s", path, strerror(errno));
    goto fail;
  }
  free(s.line);
  if (create)
    *fdp = fd;
  else
    close(fd);
  return 0;
fail:
  free(s.line);
  close(fd);
  return -1;
}
