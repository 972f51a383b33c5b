/* future_private.h: futures as the pool sees them: the worker side of
 * a future, its waiters, and who may block (future.c). */
#ifndef FP_FUTURE_PRIVATE_H
#define FP_FUTURE_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include "fetchpool.h"

/* A waiter installed on futures by fp_wait and fp_as_completed (as CPython
 * does): each future that becomes done calls fp__waiter_notify. Lock order:
 * a future's lock, then a waiter's lock; never the other way round. */
typedef struct fp__waiter {
  pthread_mutex_t mu;
  pthread_cond_t cond;
  size_t done;       /* futures done since installed */
  size_t exceptions; /* of those, finished with a transfer error */
  /* as_completed only: ring of futures that became done (ready_cap entries) */
  fp_future **ready;
  size_t ready_head, ready_len, ready_cap;
} fp__waiter;

int fp__waiter_init(fp__waiter *w, size_t ready_cap);
void fp__waiter_destroy(fp__waiter *w);

/* Install w on f unless f is done. Returns 1 if installed, 0 if f was
 * already done (w not installed), or FP_ERR_NOMEM. */
int fp__future_add_waiter(fp_future *f, fp__waiter *w);
/* Remove w from f if installed. */
void fp__future_remove_waiter(fp_future *f, fp__waiter *w);
/* True when f finished with a transfer error (FIRST_EXCEPTION). */
bool fp__future_is_exception(fp_future *f);

/* New pending future for req (takes a reference to req). refcount 1. */
fp_future *fp__future_new(fp_request *req);
/* Worker side: PENDING -> RUNNING. Returns false if it was cancelled. */
bool fp__future_start(fp_future *f);
/* Worker side: RUNNING -> FINISHED with resp (stolen); runs callbacks and
 * wakes waiters, with no lock held while callbacks run. */
void fp__future_finish(fp_future *f, fp_response *resp);

/* Intrusive link used by the queue and the host list (whoever holds the
 * job owns it). */
fp_future **fp__future_next(fp_future *f);

/* The engine's state of the job, kept inside the future (job.h). */
typedef struct fp__job fp__job;
fp__job *fp__future_job(fp_future *f);
/* Finish a job that may be PENDING or RUNNING (a retry) as cancelled,
 * keeping the attempts made. Runs callbacks. */
void fp__future_finish_cancelled(fp_future *f);

/* ---- who may block (future.c) ----
 * A blocking call from a worker thread or from inside a done callback can
 * wait for the very thread it runs on. Each thread knows (thread-local, so
 * no state is shared) whether it is a worker and how deep in callbacks it
 * is; the blocking calls refuse with FP_ERR_WORKER_THREAD. */

/* The calling thread is an executor's worker from now on. */
void fp__thread_mark_worker(void);
/* False on a worker thread or inside a done callback. */
bool fp__thread_may_block(void);

#endif /* FP_FUTURE_PRIVATE_H */
