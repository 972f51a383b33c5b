/* engine_threads.c: the thread engine: each worker blocks in its own
 * reused curl easy handle, one job at a time. */
#include <stdio.h>
#include <string.h>

#include "fetchpool_private.h"

static void name_thread(const fp__worker *w) {
  const char *prefix = fp__executor_options(w->ex)->thread_name_prefix;
  char name[16]; /* Linux limit: 15 bytes and the NUL */
  snprintf(name, sizeof name, "%s-%zu", prefix ? prefix : "fp", w->index);
  pthread_setname_np(pthread_self(), name);
}

/* Run one started job and publish its response. */
static void run_job(fp__transfer *transfer, fp_future *f) {
  double start = fp__now();
  fp_response *resp = fp__transfer_run(transfer, fp_future_request(f));
  /* NULL (out of memory) still finishes the future, so nobody waits
   * forever; its result is then FP_ERR_NOMEM. */
  if (resp) {
    resp->elapsed = fp__now() - start;
    resp->attempts = 1;
  }
  fp__future_finish(f, resp);
}

void *fp__engine_threads_main(void *arg) {
  fp__worker *w = arg;
  fp_executor *ex = w->ex;
  const fp_executor_options *opts = fp__executor_options(ex);
  name_thread(w);
  fp__transfer *transfer = fp__transfer_new(fp__executor_share(ex), NULL);
  bool ok = transfer != NULL;
  if (ok && opts->initializer)
    ok = opts->initializer(opts->initializer_arg, w->index) == 0;
  fp__executor_worker_ready(ex, ok);
  fp__queue *q = fp__executor_queue(ex);
  fp_future *f;
  while (ok && (f = fp__queue_pop(q))) {
    if (fp__future_start(f)) /* false: cancelled while queued, drop it */
      run_job(transfer, f);
    fp_future_decref(f);
  }
  fp__transfer_free(transfer);
  fp__executor_worker_exit(ex);
  return NULL;
}
