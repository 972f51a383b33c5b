/* map.c: Executor.map with a bounded window: results in input order while
 * at most max_in_flight jobs are submitted and not yet consumed. */
#include <stdlib.h>

#include "fetchpool.h"
#include "clock.h"
#include "error.h"

struct fp_map {
  fp_executor *ex;
  fp_request **reqs; /* our references, dropped once submitted */
  fp_future **futures; /* ring of window entries, indexed by input % window */
  size_t n;
  size_t window;
  size_t next_submit; /* first request not yet submitted */
  size_t next_yield;  /* first request not yet yielded */
  fp_future *current; /* last yielded, released on the next call */
  int submit_error;   /* why submitting stopped early, FP_OK if it did not */
  double deadline;    /* fp__now() seconds the whole map ends by, < 0: none */
};

/* Fill the window: submit until window futures are outstanding. */
static int fill_window(fp_map *m, fp_error *err) {
  while (!m->submit_error && m->next_submit < m->n &&
         m->next_submit - m->next_yield < m->window) {
    size_t i = m->next_submit;
    fp_error local = {0};
    fp_future *f = fp_executor_submit(m->ex, m->reqs[i], &local);
    if (!f) {
      m->submit_error = local.code;
      return fp__fail(err, local.code, "%s", local.text);
    }
    fp_request_decref(m->reqs[i]);
    m->reqs[i] = NULL;
    m->futures[i % m->window] = f;
    m->next_submit++;
  }
  return FP_OK;
}

fp_map *fp_executor_map(fp_executor *ex, fp_request *const *reqs, size_t n,
                        size_t max_in_flight, fp_error *err) {
  if (!ex || (!reqs && n)) {
    fp__fail(err, FP_ERR_INVALID_ARG, "executor and requests must not be NULL");
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    if (!reqs[i]) {
      fp__fail(err, FP_ERR_INVALID_ARG, "requests[%zu] is NULL", i);
      return NULL;
    }
  }
  fp_map *m = calloc(1, sizeof *m);
  size_t window = max_in_flight ? max_in_flight : fp_executor_threads(ex);
  if (window == 0)
    window = 1;
  if (!m || !(m->reqs = calloc(n ? n : 1, sizeof *m->reqs)) ||
      !(m->futures = calloc(window, sizeof *m->futures))) {
    if (m)
      free(m->reqs);
    free(m);
    fp__fail(err, FP_ERR_NOMEM, "out of memory");
    return NULL;
  }
  m->ex = ex;
  m->n = n;
  m->deadline = -1;
  m->window = window;
  for (size_t i = 0; i < n; i++)
    m->reqs[i] = fp_request_incref(reqs[i]);
  if (fill_window(m, err) && m->next_submit == 0) {
    fp_map_free(m);
    return NULL;
  }
  return m;
}

int fp_map_next(fp_map *m, double timeout, fp_future **out, size_t *index) {
  if (out)
    *out = NULL;
  if (!m)
    return FP_ERR_INVALID_ARG;
  fp_future_decref(m->current);
  m->current = NULL;
  if (m->next_yield == m->n)
    return FP_ERR_EXHAUSTED;
  if (m->next_yield == m->next_submit) /* nothing outstanding: submit failed */
    return m->submit_error ? m->submit_error : FP_ERR_SHUTDOWN;
  size_t at = m->next_yield % m->window;
  int rc = fp_future_wait(m->futures[at], fp__timeout_until(timeout, m->deadline));
  if (rc)
    return rc;
  m->current = m->futures[at];
  m->futures[at] = NULL;
  if (index)
    *index = m->next_yield;
  if (out)
    *out = m->current;
  m->next_yield++;
  fill_window(m, NULL); /* an error shows when the yield reaches it */
  return FP_OK;
}

int fp_map_set_timeout(fp_map *m, double timeout) {
  if (!m || timeout != timeout) /* NaN */
    return FP_ERR_INVALID_ARG;
  m->deadline = timeout < 0 ? -1 : fp__now() + timeout;
  return FP_OK;
}

void fp_map_free(fp_map *m) {
  if (!m)
    return;
  fp_future_decref(m->current);
  for (size_t i = m->next_yield; i < m->next_submit; i++) {
    fp_future *f = m->futures[i % m->window];
    fp_future_cancel(f);
    fp_future_decref(f);
  }
  for (size_t i = m->next_submit; i < m->n; i++)
    fp_request_decref(m->reqs[i]);
  free(m->futures);
  free(m->reqs);
  free(m);
}
