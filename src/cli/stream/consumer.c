/* consumer.c: the `fetchpool worker` command, one consumer of a Redis
 * stream's group: runs the group's jobs
 * on the pool until stopped (or, --until-empty, until the group is
 * done). This is the command's loop; the jobs held and the records owed
 * are the outbox's (outbox.c), the Redis commands the protocol's
 * (protocol.c).
 *
 * One thread, this one, owns the Redis connection: it reads jobs into the
 * outbox (twice the transfers at once, so the pool never waits for a
 * read), starts them on the pool, and writes what the pool's threads hand
 * back. When Redis goes away the transfers go on, records wait in the
 * outbox, and the connection is made again with backoff; on SIGINT,
 * SIGTERM or SIGHUP the worker takes no more jobs, gives those in flight --grace
 * seconds, and hands back the unfinished ones; if Redis cannot be reached
 * by the end of the grace period it gives up (the jobs it holds stay
 * pending for others to take after --claim-idle).
 *
 * DESIGN: the loop sleeps in cli_outbox_wait, on a condition variable on
 * the monotonic clock, until the earliest of: a record handed back by the
 * pool, a stop, the next heartbeat, the next claim scan, the end of a
 * reconnect backoff, the end of the grace period, and the next read. A
 * blocking XREADGROUP cannot be woken by a condition variable, so:
 *   - with no job held (and no --until-empty), the loop blocks in
 *     XREADGROUP BLOCK 250: nothing else can happen but a new job or a
 *     stop, and a new job ends the BLOCK at once;
 *   - with jobs held and room for more, it asks without blocking right
 *     after each write of records (a finished job frees room), and
 *     otherwise when a read is due: 50 ms after a read that found
 *     something, doubling after each that found nothing, up to 400 ms.
 * A second connection with a reading thread would pick new jobs up at
 * once while others run, but doubles the connections, the reconnects and
 * the shutdown paths (a thread blocked in a read must be woken by closing
 * its socket) for a latency that only matters when the pool has idle
 * threads; the doubling read keeps an almost idle worker's load on Redis
 * low (measured: see the commit that made this loop). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/clock.h"
#include "outbox.h"
#include "protocol.h"

#define IDLE_BLOCK_MS 250     /* XREADGROUP BLOCK with no job held */
#define READ_EVERY_MIN 0.05   /* jobs held: next read after one that found jobs */
#define READ_EVERY_MAX 0.4    /* ... doubling up to this after empty ones */
#define BACKOFF_MIN 0.1       /* reconnect waits double from this */
#define AUTO_MIN_HELD 32      /* -t auto: jobs held at least (hosts new to the limit) */
#define AUTO_HOSTS_SEEN 64    /* -t auto: hosts summed; more: hold to capacity */
#define BACKOFF_MAX 5.0

typedef struct consumer {
  const cli_options *o;
  cli_redis *redis;
  fp_executor *ex;
  cli_stats *stats;
  cli_jobs jobs;
  cli_outbox *outbox;
  cli_stream stream;
  char consumer[256];
  char results[512];
  bool fatal; /* an error that ends the worker: exit 2 */
} consumer;

/* ---- the pool's side ---- */

/* A job's record is ready: on the thread that finished it (or this one,
 * for an entry that is no job). */
static void deliver(void *arg, uint64_t seq, uint64_t index, json_t *rec, const cli_result *r) {
  consumer *w = arg;
  char *text = NULL;
  if (rec && r->code != FP_ERR_CANCELLED) {
    json_object_set_new(rec, "job_id", json_string(cli_outbox_id(w->outbox, (size_t)seq)));
    json_object_set_new(rec, "consumer", json_string(w->consumer));
    text = json_dumps(rec, CLI_JSON_FLAGS);
  }
  json_decref(rec);
  if (text)
    cli_stats_add(w->stats, r);
  cli_outbox_put(w->outbox, (size_t)seq, text); /* NULL: hand the job back */
}

/* The protocol read stream entry job: run it, or record that it is none. */
static void start(void *arg, size_t job, uint64_t index, const char *line, size_t len) {
  consumer *w = arg;
  if (!line) {
    cli_result r = {.code = FP_ERR_INVALID_REQUEST};
    deliver(w, job, index,
            fp_record_error(index, NULL, NULL, FP_ERR_INVALID_REQUEST,
                            "the stream entry has no \"job\" field"),
            &r);
    return;
  }
  cli_job_start(&w->jobs, job, index, line, len, NULL);
}

/* Signal thread, first signal: take no more jobs, cancel the queued. */
static void stop(void *arg) {
  consumer *w = arg;
  cli_outbox_stop(w->outbox);
  fp_executor_shutdown(w->ex, false, true);
}

/* Grace over, or a second signal: end the transfers in flight. */
static void abort_transfers(void *arg) {
  consumer *w = arg;
  fp_executor_abort(w->ex);
}

static void set_fatal(consumer *w) {
  w->fatal = true;
  cli_outbox_stop(w->outbox);
  fp_executor_shutdown(w->ex, false, true);
}

/* ---- the loop ---- */

/* Connect and prepare. 0 when connected, -1 after a failed attempt (or
 * one that will not heal: w->fatal). */
static int reconnect(consumer *w, bool *announced) {
  if (cli_redis_connect(w->redis) == 0) {
    int rc = cli_stream_prepare(&w->stream);
    if (rc > 0) {
      set_fatal(w);
      return -1;
    }
    if (rc == 0) {
      if (*announced)
        cli_stream_say(&w->stream, "connected to Redis again");
      *announced = false;
      return 0; /* the backoff resets once Redis serves, see serve */
    }
  }
  if (!*announced)
    cli_stream_say(&w->stream, "%s; trying again", cli_redis_error(w->redis));
  *announced = true;
  return -1;
}

/* -t auto: jobs worth holding now, twice what the hosts' limits let run
 * (at least AUTO_MIN_HELD), so that a worker whose hosts take few at once
 * does not take (up to 2 x --max-threads) jobs that other workers of the
 * group could run. Many hosts: the whole capacity. */
static size_t auto_read_ahead(consumer *w) {
  fp_host_info hosts[AUTO_HOSTS_SEEN];
  size_t n = fp_executor_hosts(w->ex, hosts, AUTO_HOSTS_SEEN), sum = 0;
  if (n > AUTO_HOSTS_SEEN)
    return 0; /* capacity */
  for (size_t i = 0; i < n; i++)
    sum += hosts[i].limit;
  return 2 * sum > AUTO_MIN_HELD ? 2 * sum : AUTO_MIN_HELD;
}

/* When to try Redis again after a failure, doubling *backoff: full
 * jitter, so workers that lost the same server do not return at once. */
static double retry_time(double *backoff) {
  double at = cli_now() + *backoff * (0.5 + 0.5 * (double)rand() / RAND_MAX);
  *backoff = fmin(*backoff * 2, BACKOFF_MAX);
  return at;
}

/* The worker's loop; returns when stopped, given up, or drained
 * (--until-empty). Each pass does what is due, then sets wake to the
 * earliest time something falls due (0: pass again at once). */
static void serve(consumer *w) {
  const cli_options *o = w->o;
  cli_stream *s = &w->stream;
  double backoff = BACKOFF_MIN, retry_at = 0, next_beat = 0, next_claim = 0, next_read = 0;
  double read_every = READ_EVERY_MIN, stop_by = INFINITY, wake = 0;
  double beat_every = o->claim_idle / 3, claim_every = fmax(o->claim_idle / 2, 0.05);
  bool announced = false;
  for (;;) {
    bool stopping = cli_outbox_wait(w->outbox, wake);
    double now = cli_now();
    wake = 0;
    if (stopping && isinf(stop_by))
      stop_by = now + o->grace;
    if (stopping && !cli_outbox_held(w->outbox))
      return; /* nothing to write or hand back */
    if (!cli_redis_connected(w->redis)) {
      if (w->fatal || (stopping && now >= stop_by)) {
        fprintf(stderr, "fetchpool worker: giving up on Redis with %zu jobs held; they stay "
                        "pending and another worker will take them\n",
                cli_outbox_held(w->outbox));
        return;
      }
      if (now < retry_at) {
        wake = stopping ? fmin(retry_at, stop_by) : retry_at;
        continue;
      }
      if (reconnect(w, &announced)) {
        if (!w->fatal)
          retry_at = retry_time(&backoff);
        continue;
      }
    }
    const cli_outbox_entry *out;
    if (cli_outbox_pending(w->outbox, &out)) {
      if (cli_stream_flush(s)) {
        /* a server that takes connections but refuses writes (OOM) is
         * not retried in a tight loop */
        retry_at = retry_time(&backoff);
        continue;
      }
      backoff = BACKOFF_MIN;
      next_read = now; /* room was freed: fill it */
    }
    if (stopping && !cli_outbox_held(w->outbox))
      return; /* all written */
    /* while stopping too: a long grace must not let others take over
     * jobs still running here */
    if (now >= next_beat && cli_outbox_held(w->outbox)) {
      if (cli_stream_heartbeat(s))
        continue;
      next_beat = now + beat_every;
    }
    if (o->threads_auto)
      cli_outbox_set_limit(w->outbox, auto_read_ahead(w));
    if (stopping || !cli_outbox_room(w->outbox)) {
      wake = next_beat; /* and records, which wake the wait */
      continue;
    }
    if (!s->own_done) {
      cli_stream_read(s, -1);
      continue;
    }
    if (now >= next_claim) {
      if (cli_stream_claim(s))
        continue;
      next_claim = now + claim_every;
      if (!cli_outbox_room(w->outbox))
        continue;
    }
    bool held = cli_outbox_held(w->outbox) > 0;
    /* Redis times a BLOCK out only on its 100 ms clock tick: with jobs
     * held, or when the group may be done, ask without blocking and wait
     * here instead, where records wake the loop */
    bool block = !held && !o->until_empty;
    if (!block && now < next_read) {
      wake = fmin(next_read, next_claim);
      if (held)
        wake = fmin(wake, next_beat);
      continue;
    }
    int n = cli_stream_read(s, block ? IDLE_BLOCK_MS : -1);
    if (n < 0)
      continue;
    backoff = BACKOFF_MIN; /* Redis serves again: the next outage starts from the shortest wait */
    if (n > 0) {
      read_every = READ_EVERY_MIN;
      continue;
    }
    if (!held && o->until_empty) {
      int drained = cli_stream_drained(s);
      if (drained == 1)
        return;
      if (drained < 0)
        continue;
    }
    if (block)
      continue; /* the BLOCK was the wait */
    next_read = cli_now() + read_every;
    read_every = fmin(read_every * 2, READ_EVERY_MAX);
    wake = fmin(next_read, next_claim);
    if (held)
      wake = fmin(wake, next_beat);
  }
}

static int worker_init(consumer *w, const cli_options *o) {
  char host[200] = "host";
  memset(w, 0, sizeof *w);
  w->o = o;
  if (o->consumer) {
    snprintf(w->consumer, sizeof w->consumer, "%s", o->consumer);
  } else {
    gethostname(host, sizeof host - 1);
    snprintf(w->consumer, sizeof w->consumer, "%s-%ld", host, (long)getpid());
  }
  snprintf(w->results, sizeof w->results, "%s%s", o->results_stream ? o->results_stream : o->stream,
           o->results_stream ? "" : ":results");
  if (!(w->outbox = cli_outbox_new(2 * o->threads)))
    return -1;
  w->stream = (cli_stream){.outbox = w->outbox, .stream = o->stream, .group = o->group,
                           .consumer = w->consumer, .results = w->results,
                           .claim_idle = o->claim_idle, .quiet = o->quiet, .start = start,
                           .start_arg = w};
  cli_stream_init(&w->stream);
  return 0;
}

static void worker_free(consumer *w) {
  fp_executor_free(w->ex); /* joins the pool: no deliver runs after this */
  cli_outbox_free(w->outbox);
  cli_stats_free(w->stats);
  cli_redis_free(w->redis);
}

int cli_worker(const cli_options *o) {
  consumer w;
  char msg[512];
  int status = CLI_EXIT_USAGE;
  if (worker_init(&w, o)) {
    fprintf(stderr, "fetchpool worker: out of memory\n");
    goto done;
  }
  if (!(w.redis = cli_redis_new(o->redis, msg, sizeof msg))) {
    cli_usage_error(CLI_WORKER, "%s", msg);
    goto done;
  }
  w.stream.redis = w.redis;
  if (cli_signals_install()) {
    fprintf(stderr, "fetchpool worker: cannot set up signal handling: %s\n", strerror(errno));
    goto done;
  }
  fp_executor_options eo;
  fp_executor_options_init(&eo);
  eo.threads = o->threads;
  eo.engine = o->engine;
  eo.loops = o->loops;
  eo.queue_capacity = 2 * o->threads; /* every held job fits: a submit never blocks */
  eo.thread_name_prefix = "fetch";
  eo.rate = o->rate;
  eo.per_host = o->per_host;
  eo.per_host_rate = o->per_host_rate;
  eo.max_parked = o->max_parked;
  eo.no_host_cooldown = o->no_host_cooldown;
  eo.threads_auto = o->threads_auto; /* -t auto: o->threads is --max-threads */
  eo.max_threads = o->threads_auto ? o->max_threads : 0;
  fp_error err = {0};
  if (!(w.stats = cli_stats_new()) || !(w.ex = fp_executor_new(&eo, &err))) {
    fprintf(stderr, "fetchpool worker: cannot start %zu threads: %s\n", o->threads,
            w.stats ? err.text : "out of memory");
    goto done;
  }
  w.jobs = (cli_jobs){.ex = w.ex, .deliver = deliver, .deliver_arg = &w, .base = o->base,
                      .record_flags = o->record_flags};
  cli_interrupt ops = {.stop = stop, .abort = abort_transfers, .arg = &w, .grace = o->grace,
                       .quiet = o->quiet};
  int rc = cli_signals_start(&ops);
  if (rc) {
    fprintf(stderr, "fetchpool worker: cannot start the signal thread: %s\n", strerror(rc));
    goto done;
  }
  cli_stream_say(&w.stream, "consumer %s of group %s on stream %s, %zu at once", w.consumer,
                 o->group, o->stream, o->threads);
  serve(&w);
  fp_executor_shutdown(w.ex, true, true); /* a give-up left some running */
  int sig = cli_signals_finish();
  cli_stats_stop(w.stats);
  if (sig)
    cli_stats_set_interrupted(w.stats, sig,
                              "jobs not finished stay in the group for another worker");
  if (!o->quiet) {
    cli_stats_print(w.stats, stderr);
    if (w.stream.released)
      fprintf(stderr, "fetchpool worker: handed back %llu unfinished jobs\n",
              (unsigned long long)w.stream.released);
  }
  /* a job that failed is a record like any other: the worker did its job */
  status = w.fatal ? CLI_EXIT_USAGE : sig ? 128 + sig : CLI_EXIT_OK;
done:
  cli_signals_finish();
  worker_free(&w);
  return status;
}
