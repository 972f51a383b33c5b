/* engine.h: the engine seam: a worker as the executor hands it to
 * an engine (engine_threads.c, engine_multi.c), and what an engine
 * reports back. */
#ifndef FP_ENGINE_H
#define FP_ENGINE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include "job.h"

typedef struct fp__share fp__share;
typedef struct fp__transfer fp__transfer;

/* One engine thread of an executor: a worker (threads engine) or an event
 * loop running up to capacity transfers (multi engine). The executor fills
 * it in before the thread starts; the engine reads it and owns ctx. */
typedef struct fp__worker {
  fp_executor *ex;
  size_t index;
  size_t capacity; /* transfers at once: the multi engine's share */
  fp__jobctx ctx;   /* the job life's context, this worker's own copy */
  fp__share *share; /* NULL: no shared DNS cache */
  pthread_t thread;
  /* the thread engine's transfer, while it may block in one: abort
   * interrupts it (under the executor's lock) */
  fp__transfer *transfer;
} fp__worker;

/* The worker loop: pop, claim, transfer, finish, until the queue closes.
 * Started by the executor with every asynchronous signal blocked. */
void *fp__engine_threads_main(void *worker);
/* The event loop: keep up to w->capacity transfers running on one curl multi
 * handle, pulling jobs from the same queue, until it closes. */
void *fp__engine_multi_main(void *worker);

/* The executor (executor.c), as an engine reports to it. */

/* A worker reports that its setup went (ok) or failed; when it went, the
 * user's initializer runs first, on the calling thread. Returns whether
 * the worker may go on (setup and initializer both went). */
bool fp__worker_ready(fp__worker *w, bool ok);
/* A worker reports that it is about to exit. */
void fp__worker_exit(fp__worker *w);
/* A thread-engine worker is about to run a transfer, and has ended it:
 * with threads_auto the pool starts another worker when every one is busy
 * (up to max_threads). */
void fp__worker_transfer_begins(fp__worker *w);
void fp__worker_transfer_ends(fp__worker *w);
/* A thread-engine worker publishes its transfer (or NULL before freeing
 * it), for fp_executor_abort to interrupt. */
void fp__worker_set_transfer(fp__worker *w, fp__transfer *t);

#endif /* FP_ENGINE_H */
