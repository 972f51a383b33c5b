/* stats.c: what a run came to: job counts, failures by error code and by
 * status class, bytes, wall time and a latency histogram; printed as the
 * summary and as the --stats-json object. */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "cli.h"
#include "clock.h"

#define NCODES 64 /* fp_code values are 0 .. -63 */

struct cli_stats {
  pthread_mutex_t mu; /* the writer adds while the progress thread reads */
  uint64_t done, ok, failed, bytes;
  uint64_t unwritten;        /* records lost to a write error */
  uint64_t filtered;         /* (batch-out) counted, but dropped by a filter */
  uint64_t by_code[NCODES];  /* failed jobs per -code */
  uint64_t by_class[4];      /* 2xx, 3xx, 4xx, 5xx */
  cli_histogram *latency;    /* microseconds, jobs that ran */
  double start, wall;        /* wall < 0 while running */
  bool resumed;              /* --resume: skipped is meaningful */
  uint64_t skipped;          /* jobs done by an earlier run */
  int signal;                /* the interrupting signal, or 0 */
  const char *after_signal;  /* what became of the jobs not run, for the summary */
  cli_hosts *hosts;          /* the host view, or NULL */
};

cli_stats *cli_stats_new(void) {
  cli_stats *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  if (!(s->latency = cli_histogram_new()) || pthread_mutex_init(&s->mu, NULL)) {
    cli_histogram_free(s->latency);
    free(s);
    return NULL;
  }
  s->start = cli_now();
  s->wall = -1;
  return s;
}

void cli_stats_free(cli_stats *s) {
  if (!s)
    return;
  cli_histogram_free(s->latency);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

void cli_stats_add(cli_stats *s, const cli_result *r) {
  pthread_mutex_lock(&s->mu);
  s->done++;
  if (r->code == FP_OK) {
    s->ok++;
  } else {
    s->failed++;
    int i = -r->code;
    s->by_code[i > 0 && i < NCODES ? i : 0]++;
  }
  if (r->status >= 200 && r->status < 600)
    s->by_class[r->status / 100 - 2]++;
  s->bytes += r->bytes;
  if (r->ran)
    cli_histogram_add(s->latency, (uint64_t)(r->elapsed_s * 1e6 + 0.5));
  pthread_mutex_unlock(&s->mu);
}

void cli_stats_add_filtered(cli_stats *s, const cli_result *r) {
  cli_stats_add(s, r);
  pthread_mutex_lock(&s->mu);
  s->filtered++;
  pthread_mutex_unlock(&s->mu);
}

void cli_stats_add_unwritten(cli_stats *s) {
  pthread_mutex_lock(&s->mu);
  s->unwritten++;
  pthread_mutex_unlock(&s->mu);
}

cli_counts cli_stats_counts(cli_stats *s) {
  pthread_mutex_lock(&s->mu);
  cli_counts c = {s->done, s->ok, s->failed, s->unwritten};
  pthread_mutex_unlock(&s->mu);
  return c;
}

void cli_stats_set_skipped(cli_stats *s, uint64_t skipped) {
  pthread_mutex_lock(&s->mu);
  s->resumed = true;
  s->skipped = skipped;
  pthread_mutex_unlock(&s->mu);
}

void cli_stats_set_interrupted(cli_stats *s, int sig, const char *jobs_left) {
  pthread_mutex_lock(&s->mu);
  s->signal = sig;
  s->after_signal = jobs_left;
  pthread_mutex_unlock(&s->mu);
}

/* The signal's name, or NULL when not interrupted. */
static const char *signal_name(int sig) { return sig ? cli_signal_name(sig) : NULL; }

void cli_stats_set_hosts(cli_stats *s, cli_hosts *h) {
  pthread_mutex_lock(&s->mu);
  s->hosts = h;
  pthread_mutex_unlock(&s->mu);
}

int cli_stats_hosts_line(cli_stats *s, char *buf, size_t size) {
  pthread_mutex_lock(&s->mu); /* lock order: stats, then the host view */
  int n = s->hosts ? cli_hosts_progress(s->hosts, buf, size) : 0;
  pthread_mutex_unlock(&s->mu);
  if (!n && size)
    buf[0] = '\0';
  return n;
}

void cli_stats_stop(cli_stats *s) {
  pthread_mutex_lock(&s->mu);
  s->wall = cli_now() - s->start;
  pthread_mutex_unlock(&s->mu);
}

static double wall_of(const cli_stats *s) { return s->wall >= 0 ? s->wall : cli_now() - s->start; }

static double rate_of(const cli_stats *s) {
  double wall = wall_of(s);
  return wall > 0 ? (double)s->done / wall : 0;
}

/* The failure name of bucket i (0 gathers codes out of range). */
static const char *code_name(int i) { return i ? fp_code_name(-i) : "unknown"; }

static const struct {
  const char *label, *key;
  double q;
} quantiles[] = {{"min", "min", 0},      {"p50", "p50", 0.5},     {"p90", "p90", 0.9},
                 {"p99", "p99", 0.99},   {"p99.9", "p99_9", 0.999}, {"max", "max", 1}};

static void print_bytes(FILE *out, uint64_t b) {
  static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = (double)b;
  size_t u = 0;
  while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
    v /= 1024;
    u++;
  }
  if (u == 0)
    fprintf(out, "%llu B", (unsigned long long)b);
  else
    fprintf(out, "%.1f %s", v, units[u]);
}

void cli_stats_print(cli_stats *s, FILE *out) {
  pthread_mutex_lock(&s->mu);
  fprintf(out, "%llu jobs: %llu ok, %llu failed in %.3f s (%.1f requests/s), ",
          (unsigned long long)s->done, (unsigned long long)s->ok,
          (unsigned long long)s->failed, wall_of(s), rate_of(s));
  print_bytes(out, s->bytes);
  fprintf(out, " received\n  status:  2xx %llu  3xx %llu  4xx %llu  5xx %llu\n",
          (unsigned long long)s->by_class[0], (unsigned long long)s->by_class[1],
          (unsigned long long)s->by_class[2], (unsigned long long)s->by_class[3]);
  if (s->failed) {
    fputs("  failed: ", out);
    for (int i = 1; i <= NCODES; i++) /* 0 (unknown) last */
      if (s->by_code[i % NCODES])
        fprintf(out, " %s %llu", code_name(i % NCODES),
                (unsigned long long)s->by_code[i % NCODES]);
    fputc('\n', out);
  }
  if (s->resumed)
    fprintf(out, "  resumed: %llu jobs done by an earlier run skipped\n",
            (unsigned long long)s->skipped);
  if (s->signal)
    fprintf(out, "  interrupted by %s: %s\n", signal_name(s->signal), s->after_signal);
  if (s->filtered)
    fprintf(out, "  filtered: %llu records not written (counted above)\n",
            (unsigned long long)s->filtered);
  if (s->unwritten)
    fprintf(out, "  not written: %llu records lost to a write error (not counted above)\n",
            (unsigned long long)s->unwritten);
  if (cli_histogram_count(s->latency)) {
    fputs("  latency:", out);
    for (size_t i = 0; i < sizeof quantiles / sizeof quantiles[0]; i++)
      fprintf(out, " %s %.1f", quantiles[i].label,
              (double)cli_histogram_quantile(s->latency, quantiles[i].q) / 1e3);
    fputs(" ms\n", out);
  }
  cli_hosts_print(s->hosts, out);
  pthread_mutex_unlock(&s->mu);
}

static json_t *ms_or_null(const cli_histogram *h, double q) {
  if (!cli_histogram_count(h))
    return json_null();
  return json_real((double)cli_histogram_quantile(h, q) / 1e3);
}

json_t *cli_stats_json(cli_stats *s) {
  pthread_mutex_lock(&s->mu);
  json_t *errors = json_object(), *latency = json_object();
  for (int i = 1; i <= NCODES; i++)
    if (s->by_code[i % NCODES])
      json_object_set_new(errors, code_name(i % NCODES),
                          json_integer((json_int_t)s->by_code[i % NCODES]));
  json_object_set_new(latency, "count", json_integer((json_int_t)cli_histogram_count(s->latency)));
  for (size_t i = 0; i < sizeof quantiles / sizeof quantiles[0]; i++)
    json_object_set_new(latency, quantiles[i].key, ms_or_null(s->latency, quantiles[i].q));
  json_t *obj = json_pack(
      "{s:I, s:I, s:I, s:o, s:{s:I, s:I, s:I, s:I}, s:f, s:f, s:I, s:o}",
      "jobs", (json_int_t)s->done, "ok", (json_int_t)s->ok, "failed",
      (json_int_t)s->failed, "errors", errors, "status", "2xx",
      (json_int_t)s->by_class[0], "3xx", (json_int_t)s->by_class[1], "4xx",
      (json_int_t)s->by_class[2], "5xx", (json_int_t)s->by_class[3], "wall_s",
      wall_of(s), "requests_per_s", rate_of(s), "bytes", (json_int_t)s->bytes,
      "latency_ms", latency);
  json_object_set_new(obj, "skipped", json_integer((json_int_t)s->skipped));
  const char *sig = signal_name(s->signal);
  json_object_set_new(obj, "interrupted", sig ? json_string(sig) : json_null());
  json_object_set_new(obj, "not_written", json_integer((json_int_t)s->unwritten));
  json_object_set_new(obj, "filtered", json_integer((json_int_t)s->filtered));
  json_object_set_new(obj, "hosts", s->hosts ? cli_hosts_json(s->hosts) : json_array());
  pthread_mutex_unlock(&s->mu);
  return obj;
}
