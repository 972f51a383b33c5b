/* wait.c: waiting on many futures: fp_wait and the as_completed iterator.
 *
 * Both install one waiter on every future not yet done (as CPython does),
 * so a wait costs nothing while it sleeps and never polls. */
#include <errno.h>
#include <stdlib.h>

#include "fetchpool.h"
#include "future_private.h"
#include "clock.h"
#include "error.h"

static bool condition_holds(const fp__waiter *w, size_t n, fp_return_when when) {
  switch (when) {
  case FP_FIRST_COMPLETED:
    return w->done >= 1 || n == 0;
  case FP_FIRST_EXCEPTION:
    return w->exceptions >= 1 || w->done == n;
  case FP_ALL_COMPLETED:
  default:
    return w->done == n;
  }
}

int fp_wait(fp_future *const *fs, size_t n, double timeout,
            fp_return_when return_when, bool *done_flags) {
  if ((!fs && n) || return_when > FP_ALL_COMPLETED)
    return FP_ERR_INVALID_ARG;
  for (size_t i = 0; i < n; i++)
    if (!fs[i])
      return FP_ERR_INVALID_ARG;
  struct timespec ts;
  const struct timespec *deadline = fp__deadline_ptr(timeout, &ts);
  fp__waiter w;
  int rc = fp__waiter_init(&w, 0);
  if (rc)
    return rc;
  /* Futures already done are counted here; the rest notify the waiter. */
  size_t installed = 0;
  for (; installed < n; installed++) {
    int added = fp__future_add_waiter(fs[installed], &w);
    if (added < 0) {
      rc = added;
      break;
    }
    if (added == 0) {
      pthread_mutex_lock(&w.mu);
      w.done++;
      if (fp__future_is_exception(fs[installed]))
        w.exceptions++;
      pthread_mutex_unlock(&w.mu);
    }
  }
  if (rc == FP_OK) {
    pthread_mutex_lock(&w.mu);
    while (!condition_holds(&w, n, return_when)) {
      if (timeout != 0 && !fp__thread_may_block()) {
        rc = FP_ERR_WORKER_THREAD;
        break;
      }
      if (fp__cond_wait(&w.cond, &w.mu, deadline) == ETIMEDOUT &&
          !condition_holds(&w, n, return_when)) {
        rc = FP_ERR_WAIT_TIMEOUT;
        break;
      }
    }
    pthread_mutex_unlock(&w.mu);
  }
  for (size_t i = 0; i < installed; i++)
    fp__future_remove_waiter(fs[i], &w);
  fp__waiter_destroy(&w);
  if (done_flags)
    for (size_t i = 0; i < n; i++)
      done_flags[i] = fp_future_done(fs[i]);
  return rc;
}

struct fp_as_completed {
  fp_future **fs;
  size_t n;
  size_t yielded;
  double deadline; /* fp__now() seconds the whole iteration ends by, < 0: none */
  fp__waiter waiter;
};

fp_as_completed *fp_as_completed_new(fp_future *const *fs, size_t n,
                                     fp_error *err) {
  if (!fs && n) {
    fp__fail(err, FP_ERR_INVALID_ARG, "futures array is NULL");
    return NULL;
  }
  fp_as_completed *it = calloc(1, sizeof *it);
  if (!it || (n && !(it->fs = calloc(n, sizeof *it->fs))))
    goto nomem;
  it->deadline = -1;
  if (fp__waiter_init(&it->waiter, n ? n : 1)) {
    free(it->fs);
    goto nomem;
  }
  for (size_t i = 0; i < n; i++) {
    if (!fs[i]) {
      fp__fail(err, FP_ERR_INVALID_ARG, "futures[%zu] is NULL", i);
      goto fail;
    }
    it->fs[it->n++] = fp_future_incref(fs[i]);
    int added = fp__future_add_waiter(fs[i], &it->waiter);
    if (added < 0) {
      fp__fail(err, added, "out of memory");
      goto fail;
    }
    if (added == 0) { /* already done: yield it first */
      pthread_mutex_lock(&it->waiter.mu);
      fp__waiter *w = &it->waiter;
      w->ready[(w->ready_head + w->ready_len) % w->ready_cap] = fs[i];
      w->ready_len++;
      w->done++;
      pthread_mutex_unlock(&it->waiter.mu);
    }
  }
  return it;
nomem:
  free(it);
  fp__fail(err, FP_ERR_NOMEM, "out of memory");
  return NULL;
fail:
  fp_as_completed_free(it);
  return NULL;
}

int fp_as_completed_next(fp_as_completed *it, double timeout, fp_future **out) {
  if (out)
    *out = NULL;
  if (!it)
    return FP_ERR_INVALID_ARG;
  if (it->yielded == it->n)
    return FP_ERR_EXHAUSTED;
  struct timespec ts;
  double wait_for = fp__timeout_until(timeout, it->deadline);
  const struct timespec *deadline = fp__deadline_ptr(wait_for, &ts);
  fp__waiter *w = &it->waiter;
  int rc = FP_OK;
  pthread_mutex_lock(&w->mu);
  while (w->ready_len == 0) {
    if (wait_for != 0 && !fp__thread_may_block()) {
      rc = FP_ERR_WORKER_THREAD;
      break;
    }
    if (fp__cond_wait(&w->cond, &w->mu, deadline) == ETIMEDOUT && w->ready_len == 0) {
      rc = FP_ERR_WAIT_TIMEOUT;
      break;
    }
  }
  if (rc == FP_OK) {
    fp_future *f = w->ready[w->ready_head];
    w->ready_head = (w->ready_head + 1) % w->ready_cap;
    w->ready_len--;
    it->yielded++;
    if (out)
      *out = f;
  }
  pthread_mutex_unlock(&w->mu);
  return rc;
}

int fp_as_completed_set_timeout(fp_as_completed *it, double timeout) {
  if (!it || timeout != timeout) /* NaN */
    return FP_ERR_INVALID_ARG;
  it->deadline = timeout < 0 ? -1 : fp__now() + timeout;
  return FP_OK;
}

void fp_as_completed_free(fp_as_completed *it) {
  if (!it)
    return;
  for (size_t i = 0; i < it->n; i++) {
    fp__future_remove_waiter(it->fs[i], &it->waiter);
    fp_future_decref(it->fs[i]);
  }
  fp__waiter_destroy(&it->waiter);
  free(it->fs);
  free(it);
}
