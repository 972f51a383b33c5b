/* engine_threads.c: the thread engine: each worker blocks in its own
 * reused curl easy handle, one attempt at a time. */
#include <stdio.h>

#include "fetchpool_private.h"

void fp__name_thread(const fp__worker *w) {
  const char *prefix = fp__executor_options(w->ex)->thread_name_prefix;
  char name[16]; /* Linux limit: 15 bytes and the NUL */
  snprintf(name, sizeof name, "%s-%zu", prefix ? prefix : "fp", w->index);
  pthread_setname_np(pthread_self(), name);
}

void *fp__engine_threads_main(void *arg) {
  fp__worker *w = arg;
  fp_executor *ex = w->ex;
  const fp_executor_options *opts = fp__executor_options(ex);
  fp__name_thread(w);
  fp__jobctx c;
  fp__jobctx_init(&c, ex, w->index);
  fp__transfer *transfer = fp__transfer_new(fp__executor_share(ex), c.abort, true, NULL);
  bool ok = transfer != NULL;
  if (ok) /* before ready: an abort from then on reaches this worker */
    fp__executor_set_transfer(ex, w, transfer);
  if (ok && opts->initializer)
    ok = opts->initializer(opts->initializer_arg, w->index) == 0;
  fp__executor_worker_ready(ex, ok);
  fp_future *f;
  while (ok && (f = fp__queue_pop(c.queue))) {
    if (!fp__job_claim(&c, f))
      continue;
    if (c.rate)
      fp__rate_acquire(c.rate);
    if (!fp__job_begin_attempt(&c, f))
      continue;
    fp__job_end_attempt(&c, f, fp__transfer_run(transfer, fp_future_request(f),
                                                fp__job_attempt_limit(f)));
  }
  if (transfer)
    fp__executor_set_transfer(ex, w, NULL);
  fp__transfer_free(transfer);
  fp__executor_worker_exit(ex);
  return NULL;
}
