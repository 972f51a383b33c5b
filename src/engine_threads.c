/* engine_threads.c: the thread engine: each worker blocks in its own
 * reused curl easy handle, one attempt at a time.
 *
 * Per job: per-host slot (or park the job aside), start, rate token,
 * attempt, then either finish or schedule the retry in the queue's timer
 * heap; the worker never sleeps on a retry or on a busy host. */
#include <stdio.h>
#include <string.h>

#include "fetchpool_private.h"

typedef struct worker_ctx {
  fp_executor *ex;
  fp__queue *queue;
  fp__hosts *hosts; /* NULL: no per-host limit */
  fp__rate *rate;   /* NULL: no rate limit */
  const atomic_bool *abort;
  fp__transfer *transfer;
  uint64_t rng; /* retry jitter */
} worker_ctx;

static void name_thread(const fp__worker *w) {
  const char *prefix = fp__executor_options(w->ex)->thread_name_prefix;
  char name[16]; /* Linux limit: 15 bytes and the NUL */
  snprintf(name, sizeof name, "%s-%zu", prefix ? prefix : "fp", w->index);
  pthread_setname_np(pthread_self(), name);
}

/* Take a per-host slot for f. False when f was parked (the host list now
 * holds the queue's reference). */
static bool take_host_slot(worker_ctx *c, fp_future *f) {
  fp__job *job = fp__future_job(f);
  if (!c->hosts || job->holds_host)
    return true;
  if (!job->host_key && !(job->host_key = fp__host_key(fp_request_url(fp_future_request(f)))))
    return true; /* out of memory: run unlimited rather than lose the job */
  /* Counted as held before the host list can hand it to anybody (shutdown,
   * or a slot passing to it), so the count never runs below zero. */
  fp__queue_hold(c->queue);
  int rc = fp__hosts_acquire(c->hosts, f, job->host_key);
  if (rc == 0)
    return false;
  fp__queue_unhold(c->queue, 1);
  job->holds_host = rc == 1;
  return true;
}

static void give_host_slot(worker_ctx *c, fp_future *f) {
  fp__job *job = fp__future_job(f);
  if (!job->holds_host)
    return;
  job->holds_host = false;
  fp_future *next = fp__hosts_release(c->hosts, job->host_key);
  if (next) { /* the slot passed to the oldest parked job */
    fp__future_job(next)->holds_host = true;
    fp__queue_push_front_held(c->queue, next);
  }
}

/* One attempt of a started job; finishes it or schedules its retry.
 * Consumes the caller's (queue's) reference either way. */
static void attempt(worker_ctx *c, fp_future *f) {
  fp__job *job = fp__future_job(f);
  const fp_request *req = fp_future_request(f);
  if (c->rate)
    fp__rate_acquire(c->rate);
  if (atomic_load(c->abort)) {
    give_host_slot(c, f);
    fp__future_finish_cancelled(f);
    fp_future_decref(f);
    return;
  }
  double now = fp__now();
  if (job->attempts++ == 0)
    job->started = now;
  fp_response *resp = fp__transfer_run(c->transfer, req);
  give_host_slot(c, f);
  if (resp && !atomic_load(c->abort)) {
    double delay = fp__retry_delay(req, resp, job->attempts, &c->rng);
    if (delay >= 0) {
      fp__response_free(job->last);
      job->last = resp;
      int rc = fp__queue_push_delayed(c->queue, f, fp__now() + delay);
      if (rc == FP_OK)
        return; /* the heap holds the reference now */
      job->last = NULL;
      if (rc == FP_ERR_SHUTDOWN) { /* shutdown(cancel): no more retries */
        fp__response_free(resp);
        fp__future_finish_cancelled(f);
        fp_future_decref(f);
        return;
      }
      /* no memory for the heap: this attempt is final */
    }
  }
  /* NULL (out of memory) still finishes the future, so nobody waits
   * forever; its result is then FP_ERR_NOMEM. */
  if (resp) {
    resp->elapsed = fp__now() - job->started;
    resp->attempts = job->attempts;
  }
  fp__future_finish(f, resp);
  fp_future_decref(f);
}

void *fp__engine_threads_main(void *arg) {
  fp__worker *w = arg;
  fp_executor *ex = w->ex;
  const fp_executor_options *opts = fp__executor_options(ex);
  name_thread(w);
  worker_ctx c = {
      .ex = ex,
      .queue = fp__executor_queue(ex),
      .hosts = fp__executor_hosts(ex),
      .rate = fp__executor_rate(ex),
      .abort = fp__executor_abort_flag(ex),
      .rng = ((uint64_t)w->index + 1) * 0x9E3779B97F4A7C15ull ^ (uint64_t)(fp__now() * 1e9),
  };
  c.transfer = fp__transfer_new(fp__executor_share(ex), c.abort, NULL);
  bool ok = c.transfer != NULL;
  if (ok && opts->initializer)
    ok = opts->initializer(opts->initializer_arg, w->index) == 0;
  fp__executor_worker_ready(ex, ok);
  fp_future *f;
  while (ok && (f = fp__queue_pop(c.queue))) {
    if (!take_host_slot(&c, f))
      continue; /* parked until a transfer to its host ends */
    /* A retry is already running; a new job starts unless cancelled. */
    if (fp__future_job(f)->attempts == 0 && !fp__future_start(f)) {
      give_host_slot(&c, f);
      fp_future_decref(f);
      continue;
    }
    attempt(&c, f);
  }
  fp__transfer_free(c.transfer);
  fp__executor_worker_exit(ex);
  return NULL;
}
