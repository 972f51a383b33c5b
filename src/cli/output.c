/* output.c: the writer thread. Records arrive from worker threads (done
 * callbacks) as compact JSON; the writer sends each line with one write()
 * so no line is ever torn (on a file opened with O_APPEND even a kill -9
 * leaves whole lines, at most the last one cut short), counts it into the
 * statistics and drops it.
 *
 * Jobs are numbered here by seq, the order they started in. At most
 * `window` jobs are reserved and not yet written: that bounds memory
 * whatever the input size, since the reader blocks in cli_output_reserve
 * when the window is full. Unordered, lines leave in the order they
 * arrive; ordered, job seq waits in slot seq % window until every job
 * before it is written (a reserved seq is always below written + window,
 * so its slot is free).
 *
 * After writing a batch the writer lingers LINGER_S for more before it
 * sleeps, and a record wakes it only while it sleeps: while records flow
 * it wakes once per LINGER_S, not once per record (two context switches
 * a record on tiny responses). A record waits at most that much longer.
 *
 * A failed write (a full disk, /dev/full, a closed pipe) ends the run:
 * every later record would be lost too, so the writer refuses further
 * reservations, tells the owner once (on_fail: stop the reader and the
 * jobs, no grace), and from then on only counts the records it drops as
 * not written, never as done.
 *
 * A render function (format.c) may turn each record into CSV, TSV or a
 * --write-out line, or drop it (a filter): a dropped record is counted as
 * filtered and its side line, if any, goes to the side file (--resume),
 * with one write() as well. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"

#define LINGER_S 0.001

typedef struct item {
  struct item *next;
  char *line; /* the record and '\n'; malloc'd, or oom below */
  size_t len;
  bool filled;
  bool filtered; /* dropped by a filter: line (if any) goes to side_fd */
  cli_result r;
  char oom[224]; /* the record when memory for the real one ran out */
} item;

struct cli_output {
  int fd;
  bool ordered;
  size_t window;
  cli_stats *stats;
  cli_output_fail_fn on_fail;
  void *fail_arg;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t room;  /* the reader waits for the window to move */
  pthread_cond_t ready; /* the writer waits for lines (monotonic clock) */
  bool writer_asleep;   /* in its untimed wait: a record must wake it */
  item *items;          /* window slots */
  item *free_list;      /* unordered: slots not in use */
  item *head, *tail;    /* unordered: lines to write, in arrival order */
  uint64_t written;     /* records written (or dropped after an error) */
  uint64_t total;       /* valid once closed */
  bool closed;
  bool stopped;         /* reserve refuses: the run was interrupted */
  int error;            /* errno of the first failed write */
  cli_render_fn render; /* NULL: compact JSON lines */
  void *render_arg;
  int side_fd;          /* filtered records' side lines, -1: none */
};

/* Write p[0..len) to fd, looping on a partial write, EINTR, and EAGAIN (a
 * standard output shared with a process that made it non-blocking waits
 * in poll() until the reader makes room). *done gets the bytes written,
 * also on an error. Returns 0 or the errno. */
static int write_fully(int fd, const char *p, size_t len, size_t *done) {
  *done = 0;
  while (*done < len) {
    ssize_t n = write(fd, p + *done, len - *done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      struct pollfd pfd = {.fd = fd, .events = POLLOUT};
      if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
        return errno;
      continue;
    }
    if (n < 0)
      return errno;
    if (n == 0)
      return EIO; /* no progress and no reason: do not spin */
    *done += (size_t)n;
  }
  return 0;
}

int cli_write_all(int fd, const char *p, size_t len) {
  size_t done;
  return write_fully(fd, p, len, &done);
}

/* Write one record line. When the disk filled up part way through it, cut
 * the part that went out off a regular file again, so that the file holds
 * whole records only; but only while the file ends where the part ends
 * (another writer sharing the file appended nothing after it). */
static int write_record(int fd, const char *p, size_t len) {
  size_t done;
  int err = write_fully(fd, p, len, &done);
  struct stat st;
  off_t end;
  if (err && done && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
      (end = lseek(fd, 0, SEEK_CUR)) == st.st_size && end >= (off_t)done)
    (void)!ftruncate(fd, end - (off_t)done);
  return err;
}

/* Take what can be written now; called with mu held. */
static item *take_ready(cli_output *o, size_t *n) {
  *n = 0;
  if (!o->ordered) {
    item *batch = o->head;
    o->head = o->tail = NULL;
    for (item *it = batch; it; it = it->next)
      (*n)++;
    return batch;
  }
  item *batch = NULL, **link = &batch;
  for (uint64_t i = o->written; i < o->written + o->window; i++) {
    item *it = &o->items[i % o->window];
    if (!it->filled)
      break;
    *link = it;
    link = &it->next;
    it->next = NULL;
    (*n)++;
  }
  return batch;
}

static void *writer_main(void *arg) {
  cli_output *o = arg;
  bool linger = false; /* a batch was just written: more may be coming */
  pthread_mutex_lock(&o->mu);
  for (;;) {
    size_t n;
    item *batch = take_ready(o, &n);
    if (!batch) {
      if (o->closed && o->written == o->total)
        break;
      if (linger) {
        linger = false;
        struct timespec until;
        cli_deadline(LINGER_S, &until);
        pthread_cond_timedwait(&o->ready, &o->mu, &until);
        continue;
      }
      o->writer_asleep = true;
      pthread_cond_wait(&o->ready, &o->mu);
      o->writer_asleep = false;
      continue;
    }
    linger = true;
    int error = o->error;
    pthread_mutex_unlock(&o->mu);
    bool failed_now = false;
    for (item *it = batch; it; it = it->next) {
      if (!error && (!it->filtered || (it->line && o->side_fd >= 0))) {
        error = write_record(it->filtered ? o->side_fd : o->fd, it->line, it->len);
        failed_now = error != 0;
      }
      if (error)
        cli_stats_add_unwritten(o->stats);
      else if (it->filtered)
        cli_stats_add_filtered(o->stats, &it->r);
      else
        cli_stats_add(o->stats, &it->r);
      if (it->line && it->line != it->oom)
        free(it->line);
      it->line = NULL;
    }
    if (failed_now) {
      /* refuse new jobs first, then let the owner stop the rest; unlocked,
       * since stopping cancels jobs whose records come back through
       * cli_output_put on this thread */
      pthread_mutex_lock(&o->mu);
      o->error = error;
      o->stopped = true;
      pthread_cond_broadcast(&o->room);
      pthread_mutex_unlock(&o->mu);
      if (o->on_fail)
        o->on_fail(o->fail_arg, error);
    }
    pthread_mutex_lock(&o->mu);
    o->error = error;
    for (item *it = batch, *next; it; it = next) {
      next = it->next;
      it->filled = false;
      if (!o->ordered) {
        it->next = o->free_list;
        o->free_list = it;
      }
    }
    o->written += n;
    pthread_cond_signal(&o->room);
  }
  pthread_mutex_unlock(&o->mu);
  return NULL;
}

cli_output *cli_output_new(int fd, bool ordered, size_t window, cli_stats *stats,
                           cli_output_fail_fn on_fail, void *fail_arg, char *msg,
                           size_t msgsize) {
  cli_output *o = calloc(1, sizeof *o);
  if (!o || !(o->items = calloc(window, sizeof *o->items))) {
    free(o);
    snprintf(msg, msgsize, "out of memory for a window of %zu records", window);
    return NULL;
  }
  o->fd = fd;
  o->ordered = ordered;
  o->window = window;
  o->stats = stats;
  o->on_fail = on_fail;
  o->fail_arg = fail_arg;
  o->side_fd = -1;
  for (size_t i = window; i-- > 0;) {
    o->items[i].next = o->free_list;
    o->free_list = &o->items[i];
  }
  pthread_mutex_init(&o->mu, NULL);
  pthread_cond_init(&o->room, NULL);
  cli_cond_init(&o->ready);
  int rc = pthread_create(&o->thread, NULL, writer_main, o);
  if (rc) {
    snprintf(msg, msgsize, "cannot start the writer thread: %s", strerror(rc));
    pthread_cond_destroy(&o->ready);
    pthread_cond_destroy(&o->room);
    pthread_mutex_destroy(&o->mu);
    free(o->items);
    free(o);
    return NULL;
  }
  return o;
}

bool cli_output_reserve(cli_output *o, uint64_t seq) {
  pthread_mutex_lock(&o->mu);
  while (!o->stopped && seq >= o->written + o->window)
    pthread_cond_wait(&o->room, &o->mu);
  bool ok = !o->stopped;
  pthread_mutex_unlock(&o->mu);
  return ok;
}

bool cli_output_try_reserve(cli_output *o, uint64_t seq) {
  pthread_mutex_lock(&o->mu);
  bool ok = !o->stopped && seq < o->written + o->window;
  pthread_mutex_unlock(&o->mu);
  return ok;
}

void cli_output_stop(cli_output *o) {
  pthread_mutex_lock(&o->mu);
  o->stopped = true;
  pthread_cond_broadcast(&o->room);
  pthread_mutex_unlock(&o->mu);
}

char *cli_json_line(json_t *rec, size_t *len) {
  char *text = rec ? json_dumps(rec, CLI_JSON_FLAGS) : NULL;
  json_decref(rec);
  if (!text)
    return NULL;
  size_t n = strlen(text);
  char *line = realloc(text, n + 2);
  if (!line) {
    free(text);
    return NULL;
  }
  line[n] = '\n';
  line[n + 1] = '\0';
  *len = n + 1;
  return line;
}

/* The record of job index when memory for the real one ran out: the same
 * schema, in the item's own buffer. */
static void oom_line(item *it, uint64_t index) {
  int n = snprintf(it->oom, sizeof it->oom,
                   "{\"index\":%llu,\"url\":null,\"status\":null,\"ok\":false,"
                   "\"error\":{\"code\":\"out_of_memory\",\"message\":\"out of memory\"},"
                   "\"effective_url\":null,\"elapsed_ms\":0.0,\"bytes\":0,\"attempts\":0}\n",
                   (unsigned long long)index);
  it->line = it->oom;
  it->len = (size_t)n;
  it->r.code = FP_ERR_NOMEM;
}

void cli_output_set_render(cli_output *o, cli_render_fn fn, void *arg, int side_fd) {
  o->render = fn;
  o->render_arg = arg;
  o->side_fd = side_fd;
}

void cli_output_put(cli_output *o, uint64_t seq, uint64_t index, json_t *rec,
                    const cli_result *r) {
  size_t len = 0;
  char *line = NULL;
  int filtered = 0;
  if (o->render && rec) { /* serialise outside the lock */
    filtered = o->render(o->render_arg, rec, r, &line, &len);
    json_decref(rec);
    if (filtered < 0) {
      filtered = 0;
      line = NULL;
    }
  } else {
    line = cli_json_line(rec, &len);
  }
  pthread_mutex_lock(&o->mu);
  item *it;
  if (o->ordered) {
    it = &o->items[seq % o->window];
  } else {
    it = o->free_list; /* never NULL: at most window jobs are reserved */
    o->free_list = it->next;
    it->next = NULL;
    if (o->tail)
      o->tail->next = it;
    else
      o->head = it;
    o->tail = it;
  }
  it->r = *r;
  it->filtered = filtered == 1;
  if (line || it->filtered) {
    it->line = line;
    it->len = len;
  } else {
    oom_line(it, index);
  }
  it->filled = true;
  bool wake = o->writer_asleep;
  pthread_mutex_unlock(&o->mu);
  if (wake)
    pthread_cond_signal(&o->ready);
}

int cli_output_finish(cli_output *o, uint64_t count) {
  pthread_mutex_lock(&o->mu);
  o->closed = true;
  o->total = count;
  pthread_cond_signal(&o->ready);
  pthread_mutex_unlock(&o->mu);
  pthread_join(o->thread, NULL);
  return o->error;
}

void cli_output_free(cli_output *o) {
  if (!o)
    return;
  pthread_cond_destroy(&o->ready);
  pthread_cond_destroy(&o->room);
  pthread_mutex_destroy(&o->mu);
  free(o->items);
  free(o);
}
