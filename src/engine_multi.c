/* engine_multi.c: the event-loop engine: one thread drives up to N
 * transfers at once on a curl multi handle, pulling jobs from the same
 * queue as the thread engine and sharing the same job life (job.c).
 *
 * The loop never blocks on the queue: it takes what is ready with
 * try_pop and sleeps in curl_multi_poll, which the queue's wake hook
 * interrupts (curl_multi_wakeup) when work arrives. A job that must wait
 * for a rate-limit token waits in a small list of the loop, not in a
 * running transfer of curl. Connections live in the multi handle's cache,
 * used by this one thread only. */
#include <curl/curl.h>
#include <math.h>
#include <stdlib.h>

#include "engine.h"
#include "clock.h"
#include "policy.h"
#include "queue.h"
#include "transfer.h"

#define PARKS_PER_FILL 256

typedef struct pending {
  fp_future *f;
  double due; /* its rate token's time */
} pending;

typedef struct loop {
  fp__worker *w;
  CURLM *multi;
  fp__jobctx *ctx; /* the worker's */
  size_t *idle; /* stack of free transfer numbers */
  size_t nidle;
  fp__transfer **all;
  fp_future **running_job; /* job of each transfer, by its number */
  size_t ntransfers;
  pending *waiting; /* jobs claimed, waiting for their rate token */
  size_t nwaiting;
  size_t running;
  bool registered; /* our wake hook is on the queue */
} loop;

static void wake(void *arg) { curl_multi_wakeup(((loop *)arg)->multi); }

/* Start the transfer of a claimed job now, on a free transfer. */
static void start(loop *l, fp_future *f) {
  if (!fp__job_begin_attempt(l->ctx, f))
    return; /* aborting: finished as cancelled */
  size_t n = l->idle[--l->nidle];
  fp__transfer *t = l->all[n];
  fp_response *resp;
  if (!fp__transfer_begin(t, fp_future_request(f), fp__job_attempt_limit(f), &resp)) {
    l->idle[l->nidle++] = n; /* a bad URL: done without the network */
    fp__job_end_attempt(l->ctx, f, resp);
    return;
  }
  CURL *easy = fp__transfer_easy(t);
  l->running_job[n] = f;
  /* Its entry in running_job identifies the transfer when it ends. */
  curl_easy_setopt(easy, CURLOPT_PRIVATE, (void *)&l->running_job[n]);
  /* Transfers to one host wait for its HTTP/2 connection and multiplex
   * on it rather than each opening its own (the thread engine cannot:
   * each worker's handle owns its connection). */
  curl_easy_setopt(easy, CURLOPT_PIPEWAIT, 1L);
  if (curl_multi_add_handle(l->multi, easy) != CURLM_OK) {
    l->running_job[n] = NULL;
    l->idle[l->nidle++] = n;
    fp__job_end_attempt(l->ctx, f, fp__transfer_end(t, CURLE_OUT_OF_MEMORY));
    return;
  }
  l->running++;
}

/* Take ready jobs while a transfer (counting rate-waiting jobs) is free.
 * Returns the earliest time something becomes due (a retry or a token). */
static double fill(loop *l, bool *finished) {
  double next_due = INFINITY, now = fp__now();
  /* Jobs whose token is due go first. */
  for (size_t i = 0; i < l->nwaiting;) {
    if (l->waiting[i].due <= now || atomic_load(l->ctx->abort) || atomic_load(l->ctx->stopped)) {
      fp_future *f = l->waiting[i].f;
      l->waiting[i] = l->waiting[--l->nwaiting];
      start(l, f);
    } else {
      next_due = fmin(next_due, l->waiting[i].due);
      i++;
    }
  }
  *finished = false;
  /* Jobs parked for their host free no transfer, so a queue full of them
   * could keep this loop from curl for long: after so many, serve curl
   * (poll without sleeping) and come back. */
  size_t parks_left = PARKS_PER_FILL;
  while (l->nidle > l->nwaiting) {
    double retry_due;
    fp_future *f = fp__queue_try_pop(l->ctx->queue, &retry_due, finished);
    if (!f) {
      next_due = fmin(next_due, retry_due);
      break;
    }
    if (!fp__job_claim(l->ctx, f)) {
      if (--parks_left == 0) {
        next_due = now;
        break;
      }
      continue;
    }
    double due = l->ctx->rate ? fp__rate_reserve(l->ctx->rate) : now;
    if (due <= fp__now()) {
      start(l, f);
    } else {
      l->waiting[l->nwaiting].f = f;
      l->waiting[l->nwaiting].due = due;
      l->nwaiting++;
      next_due = fmin(next_due, due);
    }
  }
  return next_due;
}

/* Finish every transfer curl reports done. */
static void reap(loop *l) {
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(l->multi, &left))) {
    if (msg->msg != CURLMSG_DONE)
      continue;
    CURL *easy = msg->easy_handle;
    CURLcode result = msg->data.result;
    fp_future **entry = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&entry);
    size_t n = (size_t)(entry - l->running_job);
    curl_multi_remove_handle(l->multi, easy);
    fp_future *f = l->running_job[n];
    l->running_job[n] = NULL;
    l->running--;
    fp_response *resp = fp__transfer_end(l->all[n], result);
    l->idle[l->nidle++] = n;
    fp__job_end_attempt(l->ctx, f, resp);
  }
}

static void run(loop *l) {
  for (;;) {
    bool finished;
    double next_due = fill(l, &finished);
    if (finished && l->running == 0 && l->nwaiting == 0)
      return;
    /* Sleep until curl has work, a retry or token is due, or the queue's
     * wake hook fires; at most a second, so nothing can be missed long. */
    double wait_s = fmin(1.0, fmax(0.0, next_due - fp__now()));
    int running;
    curl_multi_poll(l->multi, NULL, 0, (int)ceil(wait_s * 1000), NULL);
    curl_multi_perform(l->multi, &running);
    reap(l);
  }
}

static bool setup(loop *l, fp__worker *w) {
  l->w = w;
  l->ctx = &w->ctx;
  l->ntransfers = w->capacity ? w->capacity : 1;
  if (!(l->multi = curl_multi_init()) ||
      !(l->all = calloc(l->ntransfers, sizeof *l->all)) ||
      !(l->idle = calloc(l->ntransfers, sizeof *l->idle)) ||
      !(l->running_job = calloc(l->ntransfers, sizeof *l->running_job)) ||
      !(l->waiting = calloc(l->ntransfers, sizeof *l->waiting)))
    return false;
  /* Keep a connection per transfer alive between jobs (keep-alive). */
  curl_multi_setopt(l->multi, CURLMOPT_MAXCONNECTS, (long)l->ntransfers);
  for (size_t i = 0; i < l->ntransfers; i++) {
    if (!(l->all[i] = fp__transfer_new(w->share, l->ctx->abort, false, NULL)))
      return false;
    l->idle[l->nidle++] = i;
  }
  if (fp__queue_add_wake(l->ctx->queue, wake, l) != FP_OK)
    return false;
  l->registered = true;
  return true;
}

static void teardown(loop *l) {
  if (l->registered)
    fp__queue_remove_wake(l->ctx->queue, l);
  for (size_t i = 0; l->all && i < l->ntransfers; i++)
    fp__transfer_free(l->all[i]);
  if (l->multi)
    curl_multi_cleanup(l->multi);
  free(l->all);
  free(l->idle);
  free(l->running_job);
  free(l->waiting);
}

void *fp__engine_multi_main(void *arg) {
  fp__worker *w = arg;
  loop l = {0};
  if (fp__worker_ready(w, setup(&l, w)))
    run(&l);
  fp__worker_exit(w);
  teardown(&l);
  return NULL;
}
