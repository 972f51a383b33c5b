/* hosts.c: the host view: what fp_executor_hosts says, sampled once a
 * second by a thread of its own (asleep on a condition variable between
 * samples, stopped at once when told), for the progress line (total
 * in-flight limit, hosts cooling down), the summary (the busiest hosts:
 * final limit, 429/503 answers, time cooling down) and --stats-json
 * ("hosts", with each tracked host's limit once a second).
 *
 * Bounded: a sample reads at most SAMPLE_HOSTS hosts (the busiest; the
 * progress line's figures are theirs), --stats-json tracks the
 * TRACK_HOSTS busiest it meets, for at most MAX_SAMPLES seconds. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clock.h"

#define SAMPLE_S 1.0
#define SAMPLE_HOSTS 1024
#define TRACK_HOSTS 32
#define MAX_SAMPLES 86400 /* a day of seconds */
#define SUMMARY_HOSTS 5
#define NO_SAMPLE UINT32_MAX

typedef struct tracked {
  fp_host_info last;
  uint32_t *limits; /* one a second from the start; NO_SAMPLE: not known then */
} tracked;

struct cli_hosts {
  fp_executor *ex; /* NULL once stopped */
  bool samples;    /* keep limits for --stats-json */
  pthread_t thread;
  bool started;
  pthread_mutex_t mu;
  pthread_cond_t wake;
  bool stop;
  fp_host_info *buf; /* the last sample, busiest first */
  size_t nbuf, known;
  size_t limit_total, cooling;
  tracked track[TRACK_HOSTS];
  size_t ntrack;
  size_t ticks; /* samples kept so far (each tracked host has ticks limits) */
};

static tracked *find_tracked(cli_hosts *h, const char *host) {
  for (size_t i = 0; i < h->ntrack; i++)
    if (strcmp(h->track[i].last.host, host) == 0)
      return &h->track[i];
  return NULL;
}

/* Add a tracked host (the samples before it came: none). NULL when full
 * or out of memory. */
static tracked *add_tracked(cli_hosts *h, const fp_host_info *info) {
  if (h->ntrack == TRACK_HOSTS || !h->samples)
    return NULL;
  tracked *t = &h->track[h->ntrack];
  if (!(t->limits = malloc(MAX_SAMPLES * sizeof *t->limits)))
    return NULL;
  for (size_t i = 0; i < h->ticks; i++)
    t->limits[i] = NO_SAMPLE;
  t->last = *info;
  h->ntrack++;
  return t;
}

/* One sample: read the hosts, then record them under the lock. */
static void sample(cli_hosts *h, fp_executor *ex, bool keep_limits) {
  fp_host_info *buf = malloc(SAMPLE_HOSTS * sizeof *buf);
  if (!buf)
    return;
  size_t known = fp_executor_hosts(ex, buf, SAMPLE_HOSTS);
  size_t n = known < SAMPLE_HOSTS ? known : SAMPLE_HOSTS;
  size_t total = 0, cooling = 0;
  for (size_t i = 0; i < n; i++) {
    total += buf[i].limit;
    cooling += buf[i].cooldown_left > 0;
  }
  pthread_mutex_lock(&h->mu);
  free(h->buf);
  h->buf = buf;
  h->nbuf = n;
  h->known = known;
  h->limit_total = total;
  h->cooling = cooling;
  bool tick = keep_limits && h->samples && h->ticks < MAX_SAMPLES;
  for (size_t i = 0; i < h->ntrack; i++)
    if (tick)
      h->track[i].limits[h->ticks] = NO_SAMPLE;
  for (size_t i = 0; i < n; i++) {
    tracked *t = find_tracked(h, buf[i].host);
    if (!t && buf[i].done && !(t = add_tracked(h, &buf[i])))
      continue;
    if (!t)
      continue;
    t->last = buf[i];
    if (tick)
      t->limits[h->ticks] = buf[i].limit < NO_SAMPLE ? (uint32_t)buf[i].limit : NO_SAMPLE - 1;
  }
  if (tick)
    h->ticks++;
  pthread_mutex_unlock(&h->mu);
}

static void *sampler_main(void *arg) {
  cli_hosts *h = arg;
  fp_executor *ex = h->ex;
  pthread_mutex_lock(&h->mu);
  while (!h->stop) {
    struct timespec deadline;
    cli_deadline(SAMPLE_S, &deadline);
    while (!h->stop && pthread_cond_timedwait(&h->wake, &h->mu, &deadline) != ETIMEDOUT) {
    }
    if (h->stop)
      break;
    pthread_mutex_unlock(&h->mu);
    sample(h, ex, true);
    pthread_mutex_lock(&h->mu);
  }
  pthread_mutex_unlock(&h->mu);
  return NULL;
}

cli_hosts *cli_hosts_start(fp_executor *ex, bool samples) {
  cli_hosts *h = calloc(1, sizeof *h);
  if (!h)
    return NULL;
  h->ex = ex;
  h->samples = samples;
  pthread_mutex_init(&h->mu, NULL);
  cli_cond_init(&h->wake);
  if (pthread_create(&h->thread, NULL, sampler_main, h)) {
    pthread_cond_destroy(&h->wake);
    pthread_mutex_destroy(&h->mu);
    free(h);
    return NULL;
  }
  h->started = true;
  return h;
}

void cli_hosts_stop(cli_hosts *h) {
  if (!h || !h->started)
    return;
  pthread_mutex_lock(&h->mu);
  h->stop = true;
  pthread_cond_signal(&h->wake);
  pthread_mutex_unlock(&h->mu);
  pthread_join(h->thread, NULL);
  h->started = false;
  sample(h, h->ex, false); /* the final figures, for the summary */
  h->ex = NULL;
}

void cli_hosts_free(cli_hosts *h) {
  if (!h)
    return;
  cli_hosts_stop(h);
  for (size_t i = 0; i < h->ntrack; i++)
    free(h->track[i].limits);
  free(h->buf);
  pthread_cond_destroy(&h->wake);
  pthread_mutex_destroy(&h->mu);
  free(h);
}

int cli_hosts_progress(cli_hosts *h, char *buf, size_t size) {
  int n = 0;
  if (!h || !size)
    return 0;
  buf[0] = '\0';
  pthread_mutex_lock(&h->mu);
  if (h->limit_total)
    n += snprintf(buf + n, size - (size_t)n, "  limit %zu", h->limit_total);
  if (h->cooling && (size_t)n < size)
    n += snprintf(buf + n, size - (size_t)n, "  %zu cooling", h->cooling);
  pthread_mutex_unlock(&h->mu);
  return n < (int)size ? n : (int)size - 1;
}

/* Whether there is anything to tell: a host limit, or an overload. */
static bool worth_telling(const cli_hosts *h) {
  for (size_t i = 0; i < h->nbuf; i++)
    if (h->buf[i].limit || h->buf[i].overloads)
      return true;
  return false;
}

void cli_hosts_print(cli_hosts *h, FILE *out) {
  if (!h)
    return;
  pthread_mutex_lock(&h->mu);
  if (worth_telling(h)) {
    fprintf(out, "  hosts:   %zu, the busiest:\n", h->known);
    for (size_t i = 0; i < h->nbuf && i < SUMMARY_HOSTS; i++) {
      const fp_host_info *e = &h->buf[i];
      fprintf(out, "    %s  done %llu  limit ", e->host, (unsigned long long)e->done);
      if (e->limit)
        fprintf(out, "%zu", e->limit);
      else
        fputs("none", out);
      fprintf(out, "  429/503 %llu  cooling %.1f s\n", (unsigned long long)e->overloads,
              e->cooldown_total);
    }
  }
  pthread_mutex_unlock(&h->mu);
}

json_t *cli_hosts_json(cli_hosts *h) {
  json_t *arr = json_array();
  if (!h || !arr)
    return arr;
  pthread_mutex_lock(&h->mu);
  /* the final sample's order: busiest first; then tracked hosts it lacks */
  bool listed[TRACK_HOSTS] = {false};
  for (size_t pass = 0; pass < 2; pass++) {
    for (size_t i = 0; i < (pass ? h->ntrack : h->nbuf); i++) {
      tracked *t = pass ? &h->track[i] : find_tracked(h, h->buf[i].host);
      if (!t || listed[t - h->track])
        continue;
      listed[t - h->track] = true;
      json_t *samples = json_array();
      for (size_t k = 0; samples && k < h->ticks; k++)
        json_array_append_new(samples, t->limits[k] == NO_SAMPLE
                                           ? json_null()
                                           : json_integer((json_int_t)t->limits[k]));
      json_array_append_new(
          arr, json_pack("{s:s, s:o*, s:I, s:f, s:I}", "host", t->last.host, "limit_samples",
                         samples, "overloads", (json_int_t)t->last.overloads, "cooldown_s",
                         t->last.cooldown_total, "done", (json_int_t)t->last.done));
    }
  }
  pthread_mutex_unlock(&h->mu);
  return arr;
}
