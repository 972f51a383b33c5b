/* engine_threads.c: the thread engine: each worker blocks in its own
 * reused curl easy handle, one attempt at a time. */
#include "engine.h"
#include "policy.h"
#include "queue.h"
#include "transfer.h"

void *fp__engine_threads_main(void *arg) {
  fp__worker *w = arg;
  fp__jobctx *c = &w->ctx;
  fp__transfer *transfer = fp__transfer_new(w->share, c->abort, true, NULL);
  if (transfer) /* before ready: an abort from then on reaches this worker */
    fp__worker_set_transfer(w, transfer);
  bool ok = fp__worker_ready(w, transfer != NULL);
  fp_future *f;
  while (ok && (f = fp__queue_pop(c->queue))) {
    if (!fp__job_claim(c, f))
      continue;
    if (c->rate)
      fp__rate_acquire(c->rate);
    if (!fp__job_begin_attempt(c, f))
      continue;
    fp__worker_transfer_begins(w);
    fp_response *resp = fp__transfer_run(transfer, fp_future_request(f), fp__job_attempt_limit(f));
    fp__worker_transfer_ends(w);
    fp__job_end_attempt(c, f, resp);
  }
  if (transfer)
    fp__worker_set_transfer(w, NULL);
  fp__transfer_free(transfer);
  fp__worker_exit(w);
  return NULL;
}
