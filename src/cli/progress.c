/* progress.c: the progress line on standard error: done/total, ok and
 * failed, rate and ETA, the hosts' total limit and how many cool down
 * (hosts.c), redrawn by its own thread at most 10 times a
 * second. The thread sleeps on a condition variable with a timeout, so it
 * costs nothing between redraws and stops at once when told. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"

#define REDRAW_S 0.1 /* 10 redraws a second at most */
#define BAR_WIDTH 24

struct cli_progress {
  cli_stats *stats;
  int64_t total; /* < 0: unknown */
  int fd;
  double start;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t wake;
  bool stop;
};

static int format_eta(char *buf, size_t size, double s) {
  long t = (long)(s + 0.5);
  if (t >= 3600)
    return snprintf(buf, size, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  return snprintf(buf, size, "%ld:%02ld", t / 60, t % 60);
}

static void draw(cli_progress *p) {
  cli_counts c = cli_stats_counts(p->stats);
  double elapsed = cli_now() - p->start;
  double rate = elapsed > 0 ? (double)c.done / elapsed : 0;
  char line[256];
  int n = snprintf(line, sizeof line, "\r");
  if (p->total >= 0) {
    uint64_t total = (uint64_t)p->total;
    size_t fill = total ? (size_t)(BAR_WIDTH * (c.done < total ? c.done : total) / total)
                        : BAR_WIDTH;
    char bar[BAR_WIDTH + 1];
    memset(bar, '#', fill);
    memset(bar + fill, '.', BAR_WIDTH - fill);
    bar[BAR_WIDTH] = '\0';
    n += snprintf(line + n, sizeof line - (size_t)n, "[%s] %llu/%llu", bar,
                  (unsigned long long)c.done, (unsigned long long)total);
  } else {
    n += snprintf(line + n, sizeof line - (size_t)n, "%llu done", (unsigned long long)c.done);
  }
  n += snprintf(line + n, sizeof line - (size_t)n, "  ok %llu  failed %llu  %.1f/s",
                (unsigned long long)c.ok, (unsigned long long)c.failed, rate);
  if (p->total >= 0 && rate > 0 && c.done < (uint64_t)p->total) {
    n += snprintf(line + n, sizeof line - (size_t)n, "  ETA ");
    n += format_eta(line + n, sizeof line - (size_t)n,
                    (double)((uint64_t)p->total - c.done) / rate);
  }
  if ((size_t)n < sizeof line)
    n += cli_stats_hosts_line(p->stats, line + n, sizeof line - (size_t)n);
  if ((size_t)n < sizeof line)
    n += snprintf(line + n, sizeof line - (size_t)n, "\033[K");
  (void)cli_write_all(p->fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static void *progress_main(void *arg) {
  cli_progress *p = arg;
  pthread_mutex_lock(&p->mu);
  while (!p->stop) {
    pthread_mutex_unlock(&p->mu);
    draw(p);
    pthread_mutex_lock(&p->mu);
    struct timespec deadline;
    cli_deadline(REDRAW_S, &deadline);
    while (!p->stop && pthread_cond_timedwait(&p->wake, &p->mu, &deadline) != ETIMEDOUT) {
    }
  }
  pthread_mutex_unlock(&p->mu);
  (void)cli_write_all(p->fd, "\r\033[K", 4);
  return NULL;
}

cli_progress *cli_progress_start(cli_stats *stats, int64_t total, int fd) {
  cli_progress *p = calloc(1, sizeof *p);
  if (!p)
    return NULL;
  p->stats = stats;
  p->total = total;
  p->fd = fd;
  p->start = cli_now();
  pthread_mutex_init(&p->mu, NULL);
  cli_cond_init(&p->wake);
  if (pthread_create(&p->thread, NULL, progress_main, p)) {
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    free(p);
    return NULL;
  }
  return p;
}

void cli_progress_stop(cli_progress *p) {
  if (!p)
    return;
  pthread_mutex_lock(&p->mu);
  p->stop = true;
  pthread_cond_signal(&p->wake);
  pthread_mutex_unlock(&p->mu);
  pthread_join(p->thread, NULL);
  pthread_cond_destroy(&p->wake);
  pthread_mutex_destroy(&p->mu);
  free(p);
}
