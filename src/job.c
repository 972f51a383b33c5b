/* job.c: a job's life across attempts, shared by both engines: host permit
 * (or park the job aside: its host busy, cooling down or ahead of its
 * rate), start, attempt bookkeeping, then give the permit back with what
 * the attempt said of the host, and finish or schedule the retry in the
 * queue's timer heap. Engines only decide who runs the transfer. The host
 * table is pure: the clock is read here (fp__now) and the jobs it lets go
 * are put back in the queue here (apply_wake). */
#include <math.h>

#include "job.h"
#include "clock.h"
#include "future_private.h"
#include "model.h"
#include "policy.h"
#include "queue.h"

/* The monotonic time by which the job must be done: its total timeout
 * counts from the start of its first attempt and spans every attempt and
 * every wait between them. INFINITY when it has none. */
static double job_deadline(const fp__job *job, const fp_request *req) {
  return req->timeout > 0 ? job->started + req->timeout : INFINITY;
}

void fp__jobctx_seed(fp__jobctx *c, uint64_t seed) {
  c->rng = (seed + 1) * 0x9E3779B97F4A7C15ull ^ (uint64_t)(fp__now() * 1e9);
}

/* Release f's count in the queue's held jobs, if it has one. */
static void unhold(fp__jobctx *c, fp__job *job) {
  if (job->held) {
    job->held = false;
    fp__queue_unhold(c->queue, 1);
  }
}

/* Do what the host table let go: jobs that got a permit go to the queue's
 * front (oldest first, their holds released); a timer waits in the timer
 * heap, still held, and comes back to take_host_permit as one. */
static void apply_wake(fp__jobctx *c, fp__host_wake *w) {
  for (fp_future *f = w->run, *next; f; f = next) { /* newest first */
    next = *fp__future_next(f);
    *fp__future_next(f) = NULL;
    fp__job *job = fp__future_job(f);
    job->holds_permit = true;
    job->held = false;
    fp__queue_push_front_held(c->queue, f);
  }
  if (!w->timer)
    return;
  fp_future *f = w->timer;
  int rc = fp__queue_push_delayed(c->queue, f, w->due);
  if (rc == FP_ERR_SHUTDOWN) { /* shutdown(cancel) took the heap: cancelled too */
    fp__future_finish_cancelled(f);
    unhold(c, fp__future_job(f));
    fp_future_decref(f);
  } else if (rc) {
    /* No memory for the heap: back to the front, still the host's timer,
     * so it is claimed (and parked) again rather than lost. */
    fp__queue_push_front(c->queue, f);
  }
}

/* Take a host permit for f. False when f was parked (the host list, or
 * the timer heap, now holds the queue's reference). */
static bool take_host_permit(fp__jobctx *c, fp_future *f) {
  fp__job *job = fp__future_job(f);
  if (!c->hosts || job->holds_permit)
    return true;
  if (atomic_load(c->abort) || atomic_load(c->stopped)) {
    unhold(c, job); /* the attempt is cancelled before it starts */
    return true;
  }
  if (!job->host_key && !(job->host_key = fp__host_key(fp_request_url(fp_future_request(f))))) {
    unhold(c, job);
    return true; /* out of memory: run unlimited rather than lose the job */
  }
  fp__host_wake w = {0};
  double now = fp__now();
  bool timer = job->held; /* a held job out of the queue is its host's timer */
  int rc = fp__hosts_acquire(c->hosts, f, job->host_key, now, timer, timer, &w);
  if (rc == FP__HOST_WOULD_PARK) {
    /* Counted as held before the host list can hand it to anybody (a
     * permit passing to it, abort, shutdown), so the count never runs
     * below zero; the fast path (a permit at once) never touches it. */
    job->held = true;
    fp__queue_hold(c->queue);
    rc = fp__hosts_acquire(c->hosts, f, job->host_key, now, false, true, &w);
  }
  if (rc != FP__HOST_PARKED) { /* f is still ours alone */
    job->holds_permit = rc == FP__HOST_GRANTED; /* else out of memory: unlimited */
    unhold(c, job);
  }
  apply_wake(c, &w);
  return rc != FP__HOST_PARKED;
}

/* Give f's permit back; a is what its attempt said (NULL: none ran). */
static void give_permit(fp__jobctx *c, fp_future *f, const fp__attempt *a) {
  fp__job *job = fp__future_job(f);
  if (!job->holds_permit)
    return;
  job->holds_permit = false;
  fp__host_wake w = {0};
  fp__hosts_release(c->hosts, job->host_key, fp__now(), a, &w);
  apply_wake(c, &w);
}

void fp__job_give_permit(fp__jobctx *c, fp_future *f) { give_permit(c, f, NULL); }

/* What an attempt's response says of its host's load (contract of issue
 * 18; the transfer room maps curl's codes to ours: CURLE_COULDNT_CONNECT
 * is FP_ERR_CONNECT, CURLE_SEND_ERROR, CURLE_RECV_ERROR and
 * CURLE_GOT_NOTHING are FP_ERR_NETWORK). */
static fp__outcome outcome_of(const fp_response *resp) {
  if (!resp)
    return FP__OUTCOME_OTHER;
  switch (resp->error) {
  case FP_OK:
    return resp->status == 429 || resp->status == 503 ? FP__OUTCOME_OVERLOAD
                                                       : FP__OUTCOME_OK;
  case FP_ERR_TIMEOUT:
  case FP_ERR_CONNECT_TIMEOUT:
    return FP__OUTCOME_TIMEOUT;
  case FP_ERR_CONNECT:
  case FP_ERR_NETWORK:
    return FP__OUTCOME_REFUSED;
  default:
    return FP__OUTCOME_OTHER;
  }
}

/* Queued jobs are pending; retries in waiting already ran. A job parked
 * after shutdown took the parked ones may be handed a permit given back
 * here: it goes to the queue's front and runs (or is cancelled there). */
size_t fp__job_cancel_list(fp__jobctx *c, fp_future *f) {
  size_t n = 0;
  while (f) {
    fp_future *next = *fp__future_next(f);
    *fp__future_next(f) = NULL;
    fp__job_give_permit(c, f);
    fp__future_finish_cancelled(f);
    unhold(c, fp__future_job(f));
    fp_future_decref(f);
    f = next;
    n++;
  }
  return n;
}

/* A job not started yet that shutdown(cancel_futures) caught between the
 * queue and its transfer: it was queued when shutdown was called, so it
 * ends cancelled, as the ones shutdown takes from the queue do. */
static bool cancel_unstarted(fp__jobctx *c, fp_future *f) {
  if (fp__future_job(f)->attempts > 0 || !atomic_load(c->stopped) || atomic_load(c->abort))
    return false;
  *fp__future_next(f) = NULL;
  fp__job_cancel_list(c, f);
  return true;
}

bool fp__job_claim(fp__jobctx *c, fp_future *f) {
  if (fp__future_job(f)->attempts == 0 && fp_future_cancelled(f)) {
    fp_future_decref(f); /* cancelled while queued: nothing to run */
    return false;
  }
  if (cancel_unstarted(c, f))
    return false;
  return take_host_permit(c, f); /* false: parked until its host may take it */
}

bool fp__job_begin_attempt(fp__jobctx *c, fp_future *f) {
  /* A new job starts here, not when claimed: until now (a rate token, a
   * host permit) it was waiting, and shutdown(cancel_futures) cancels it.
   * Checked before the start, so a job is either cancelled or runs. */
  if (cancel_unstarted(c, f))
    return false;
  if (fp__future_job(f)->attempts == 0 && !fp__future_start(f)) {
    fp__job_give_permit(c, f); /* the caller cancelled it meanwhile */
    fp_future_decref(f);
    return false;
  }
  /* abort stops everything; shutdown(cancel_futures) stops retries only:
   * a job that started before it (just above) runs its first attempt */
  if (atomic_load(c->abort) || (atomic_load(c->stopped) && fp__future_job(f)->attempts > 0)) {
    fp__job_give_permit(c, f);
    fp__future_finish_cancelled(f);
    fp_future_decref(f);
    return false;
  }
  fp__job *job = fp__future_job(f);
  if (job->attempts > 0 && fp__now() >= job_deadline(job, fp_future_request(f))) {
    /* A retry that a busy queue or a rate token held past the job's
     * deadline: no attempt starts, and the job ends as its last attempt
     * did (as when a retry's wait would pass the deadline). */
    fp__job_give_permit(c, f);
    fp_response *resp = job->last;
    job->last = NULL;
    if (resp) {
      resp->elapsed = fp__now() - job->started;
      resp->attempts = job->attempts;
    }
    fp__future_finish(f, resp);
    fp_future_decref(f);
    return false;
  }
  job->attempt_started = fp__now();
  if (job->attempts++ == 0)
    job->started = job->attempt_started;
  return true;
}

double fp__job_attempt_limit(fp_future *f) {
  const fp__job *job = fp__future_job(f);
  const fp_request *req = fp_future_request(f);
  double limit = req->attempt_timeout;
  double left = job_deadline(job, req) - fp__now();
  if (left < INFINITY) {
    if (left < 0.001) /* 0 would mean no limit */
      left = 0.001;
    if (limit <= 0 || left < limit)
      limit = left;
  }
  return limit;
}

/* The seconds an attempt that began at started spent with the host, less
 * its connection set-up: a new connection's TCP and TLS handshakes say
 * nothing of the host's queue, and -t auto opens new connections exactly
 * when it grows, so counting them would read growth as queueing. */
static double service_seconds(double started, const fp_response *resp) {
  double wall = fp__now() - started;
  fp_timings t = fp_response_timings(resp);
  double setup = t.tls > t.connect ? t.tls : t.connect;
  return setup > 0 && setup < wall ? wall - setup : wall;
}

void fp__job_end_attempt(fp__jobctx *c, fp_future *f, fp_response *resp) {
  fp__job *job = fp__future_job(f);
  const fp_request *req = fp_future_request(f);
  if (job->holds_permit) {
    fp__attempt a = {.outcome = outcome_of(resp), .latency = service_seconds(job->attempt_started, resp),
                     .retry_after = fp__host_wait(req, resp)};
    give_permit(c, f, &a);
  }
  if (resp && !atomic_load(c->abort)) {
    double delay = fp__retry_delay(req, resp, job->attempts, &c->rng);
    /* A retry whose wait ends at or past the deadline could not run:
     * the job ends now with this attempt's outcome, not later. */
    if (delay >= 0 && fp__now() + delay >= job_deadline(job, req))
      delay = -1;
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
