/* results.c: the thread-safe result array: slot i is published once, when
 * the future attached to it is done; readers see only published slots. */
#include <errno.h>
#include <stdlib.h>

#include "fetchpool.h"
#include "clock.h"
#include "error.h"
#include "future_private.h"

typedef struct slot {
  fp_results *owner;
  fp_future *future; /* our reference, set on attach */
  bool attached;
  bool published;
} slot;

struct fp_results {
  pthread_mutex_t mu;
  pthread_cond_t cond;
  slot *slots;
  size_t n;
  size_t done;
};

fp_results *fp_results_new(size_t n) {
  fp_results *r = calloc(1, sizeof *r);
  if (!r)
    return NULL;
  if (!(r->slots = calloc(n ? n : 1, sizeof *r->slots)))
    goto fail;
  if (pthread_mutex_init(&r->mu, NULL))
    goto fail;
  if (fp__cond_init(&r->cond)) {
    pthread_mutex_destroy(&r->mu);
    goto fail;
  }
  r->n = n;
  for (size_t i = 0; i < n; i++)
    r->slots[i].owner = r;
  return r;
fail:
  free(r->slots);
  free(r);
  return NULL;
}

size_t fp_results_size(const fp_results *r) { return r ? r->n : 0; }

static void publish(fp_future *f, void *userdata) {
  slot *s = userdata;
  fp_results *r = s->owner;
  pthread_mutex_lock(&r->mu);
  s->published = true;
  r->done++;
  pthread_cond_broadcast(&r->cond);
  pthread_mutex_unlock(&r->mu);
}

int fp_results_attach(fp_results *r, size_t i, fp_future *f) {
  if (!r || !f || i >= r->n)
    return FP_ERR_INVALID_ARG;
  pthread_mutex_lock(&r->mu);
  if (r->slots[i].attached) {
    pthread_mutex_unlock(&r->mu);
    return FP_ERR_INVALID_ARG;
  }
  r->slots[i].attached = true;
  r->slots[i].future = fp_future_incref(f);
  pthread_mutex_unlock(&r->mu);
  int rc = fp_future_add_done_callback(f, publish, &r->slots[i]);
  if (rc) {
    pthread_mutex_lock(&r->mu);
    r->slots[i].attached = false;
    r->slots[i].future = NULL;
    pthread_mutex_unlock(&r->mu);
    fp_future_decref(f);
  }
  return rc;
}

int fp_results_submit(fp_results *r, size_t i, fp_executor *ex, fp_request *req,
                      fp_error *err) {
  if (!r || i >= r->n)
    return fp__fail(err, FP_ERR_INVALID_ARG, "slot %zu is out of range", i);
  /* A local error, so the code returned is this submit's own even when
   * err is NULL or already holds an earlier error (first error wins). */
  fp_error local = {0};
  fp_future *f = fp_executor_submit(ex, req, &local);
  if (!f)
    return fp__fail(err, local.code, "%s", local.text);
  int rc = fp_results_attach(r, i, f);
  if (rc) {
    fp_future_cancel(f);
    fp__fail(err, rc, "slot %zu is already attached", i);
  }
  fp_future_decref(f);
  return rc;
}

size_t fp_results_done(fp_results *r) {
  if (!r)
    return 0;
  pthread_mutex_lock(&r->mu);
  size_t done = r->done;
  pthread_mutex_unlock(&r->mu);
  return done;
}

fp_future *fp_results_get(fp_results *r, size_t i) {
  if (!r || i >= r->n)
    return NULL;
  pthread_mutex_lock(&r->mu);
  fp_future *f = r->slots[i].published ? r->slots[i].future : NULL;
  pthread_mutex_unlock(&r->mu);
  return f;
}

int fp_results_wait(fp_results *r, size_t count, double timeout) {
  if (!r)
    return FP_ERR_INVALID_ARG;
  struct timespec ts;
  const struct timespec *deadline = fp__deadline_ptr(timeout, &ts);
  int rc = FP_OK;
  pthread_mutex_lock(&r->mu);
  while (r->done < count) {
    if (timeout != 0 && !fp__thread_may_block()) {
      rc = FP_ERR_WORKER_THREAD;
      break;
    }
    if (fp__cond_wait(&r->cond, &r->mu, deadline) == ETIMEDOUT && r->done < count) {
      rc = FP_ERR_WAIT_TIMEOUT;
      break;
    }
  }
  pthread_mutex_unlock(&r->mu);
  return rc;
}

/* A future is done (its waiters woken) before its done callbacks run, so a
 * caller that waited on the futures themselves can free the array while
 * publish() is still due for some slot. Wait for those: they run at once in
 * the completing thread. The future's state is read with r->mu released,
 * so the two locks are never nested. */
static void await_due_publishes(fp_results *r) {
  for (size_t i = 0; i < r->n; i++) {
    slot *s = &r->slots[i];
    pthread_mutex_lock(&r->mu);
    fp_future *f = s->attached && !s->published ? s->future : NULL;
    pthread_mutex_unlock(&r->mu);
    if (!f || !fp_future_done(f))
      continue;
    pthread_mutex_lock(&r->mu);
    while (!s->published)
      pthread_cond_wait(&r->cond, &r->mu);
    pthread_mutex_unlock(&r->mu);
  }
}

void fp_results_free(fp_results *r) {
  if (!r)
    return;
  await_due_publishes(r);
  for (size_t i = 0; i < r->n; i++)
    fp_future_decref(r->slots[i].future);
  pthread_cond_destroy(&r->cond);
  pthread_mutex_destroy(&r->mu);
  free(r->slots);
  free(r);
}
