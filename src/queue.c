/* queue.c: the bounded FIFO job queue between submitters and workers.
 *
 * One mutex and two condition variables (not_empty for workers, not_full
 * for blocked submitters). Every wait sits in a predicate loop, a push
 * signals one worker and a pop one submitter (no thundering herd), and
 * close wakes everybody. Entries are futures linked through their own
 * next pointer, so a push never allocates. */
#include <errno.h>

#include "fetchpool_private.h"

int fp__queue_init(fp__queue *q, size_t cap) {
  q->head = q->tail = NULL;
  q->len = 0;
  q->cap = cap;
  q->closed = false;
  if (pthread_mutex_init(&q->mu, NULL))
    return FP_ERR_SYSTEM;
  if (fp__cond_init(&q->not_empty))
    goto fail_mu;
  if (fp__cond_init(&q->not_full))
    goto fail_cond;
  return FP_OK;
fail_cond:
  pthread_cond_destroy(&q->not_empty);
fail_mu:
  pthread_mutex_destroy(&q->mu);
  return FP_ERR_SYSTEM;
}

void fp__queue_destroy(fp__queue *q) {
  pthread_cond_destroy(&q->not_full);
  pthread_cond_destroy(&q->not_empty);
  pthread_mutex_destroy(&q->mu);
}

int fp__queue_push(fp__queue *q, fp_future *f, const struct timespec *deadline) {
  int rc = FP_OK;
  pthread_mutex_lock(&q->mu);
  while (!q->closed && q->cap && q->len >= q->cap) {
    if (fp__cond_wait(&q->not_full, &q->mu, deadline) == ETIMEDOUT &&
        q->len >= q->cap && !q->closed) {
      rc = FP_ERR_WOULD_BLOCK;
      goto out;
    }
  }
  if (q->closed) {
    rc = FP_ERR_SHUTDOWN;
    goto out;
  }
  *fp__future_next(f) = NULL;
  if (q->tail)
    *fp__future_next(q->tail) = f;
  else
    q->head = f;
  q->tail = f;
  q->len++;
  pthread_cond_signal(&q->not_empty);
out:
  pthread_mutex_unlock(&q->mu);
  return rc;
}

fp_future *fp__queue_pop(fp__queue *q) {
  pthread_mutex_lock(&q->mu);
  while (!q->head && !q->closed)
    pthread_cond_wait(&q->not_empty, &q->mu);
  fp_future *f = q->head;
  if (f) {
    q->head = *fp__future_next(f);
    if (!q->head)
      q->tail = NULL;
    *fp__future_next(f) = NULL;
    q->len--;
    pthread_cond_signal(&q->not_full);
  }
  pthread_mutex_unlock(&q->mu);
  return f;
}

void fp__queue_close(fp__queue *q) {
  pthread_mutex_lock(&q->mu);
  q->closed = true;
  pthread_cond_broadcast(&q->not_empty);
  pthread_cond_broadcast(&q->not_full);
  pthread_mutex_unlock(&q->mu);
}

fp_future *fp__queue_take_all(fp__queue *q) {
  pthread_mutex_lock(&q->mu);
  fp_future *all = q->head;
  q->head = q->tail = NULL;
  q->len = 0;
  pthread_cond_broadcast(&q->not_full);
  pthread_mutex_unlock(&q->mu);
  return all;
}
