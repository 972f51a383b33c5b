/* job.h: a job's life across attempts (job.c), shared by the
 * engines and the executor's shutdown; the job's state, which the future
 * keeps and the queue orders retries by. */
#ifndef FP_JOB_H
#define FP_JOB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "fetchpool.h"

/* The rooms a job's life calls on (queue.h, policy.h), named only. */
typedef struct fp__queue fp__queue;
typedef struct fp__hosts fp__hosts;
typedef struct fp__rate fp__rate;

/* Engine-side state of a job across its attempts. Only the worker that
 * holds the job (or the thread that took it from the queue) touches it. */
typedef struct fp__job {
  unsigned attempts;  /* attempts started */
  double started;     /* monotonic time the first attempt started */
  double due;         /* a retry's due time, while in the timer heap */
  fp_response *last;  /* the previous attempt's response, while retrying */
  double attempt_started; /* monotonic time the current attempt began */
  char *host_key;     /* host table key, computed on first use */
  bool holds_permit;  /* owns a host permit */
  bool held;          /* counted in the queue's held: parked, or out as its
                         host's timer (in the timer heap) */
} fp__job;

typedef struct fp__jobctx {
  fp__queue *queue;
  fp__hosts *hosts; /* NULL: no host table */
  fp__rate *rate;   /* NULL: no rate limit */
  const atomic_bool *abort;
  const atomic_bool *stopped; /* shutdown(cancel_futures) */
  uint64_t rng; /* retry jitter */
} fp__jobctx;

/* Seed c's retry jitter, distinct for each worker (seed: its index). */
void fp__jobctx_seed(fp__jobctx *c, uint64_t seed);
/* A popped job: take its host permit. False when it was parked (its host
 * busy, cooling down or ahead of its rate), dropped (cancelled while
 * queued) or cancelled by shutdown(cancel_futures); either way the caller
 * is done. */
bool fp__job_claim(fp__jobctx *c, fp_future *f);
/* Just before a transfer: starts a new job (its future runs from here).
 * False when the executor aborts or was shut down with cancel_futures
 * (a new job is cancelled, a retry finished as cancelled), when the
 * caller cancelled the job meanwhile, or when a
 * retry comes after the job's deadline (its total timeout: the job was
 * finished with its last attempt's outcome); else counts the attempt. */
bool fp__job_begin_attempt(fp__jobctx *c, fp_future *f);
/* Time limit of the attempt just begun, in seconds (0: none): what is
 * left of the job's total timeout, or its attempt timeout if shorter. */
double fp__job_attempt_limit(fp_future *f);
/* Give f's host permit back, if it holds one, with no attempt run: the
 * permit passes to the oldest job parked on that host, which goes back to
 * the queue's front. */
void fp__job_give_permit(fp__jobctx *c, fp_future *f);
/* Finish every job of a detached list (linked through fp__future_next) as
 * cancelled, giving back any host permit each holds and releasing its
 * hold on the queue (parked jobs, timers); consumes the list's references.
 * Returns how many (shutdown with cancel_futures, abort). */
size_t fp__job_cancel_list(fp__jobctx *c, fp_future *f);
/* After a transfer: give the host permit back with what resp says of the
 * host's load (429 and 503, Retry-After, timeouts, refused connections,
 * latency), then finish the job with resp (STOLEN) or schedule its retry.
 * Consumes the job's reference. */
void fp__job_end_attempt(fp__jobctx *c, fp_future *f, fp_response *resp);

#endif /* FP_JOB_H */
