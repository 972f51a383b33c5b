/* completions.c: the completion queue: tags of done futures, handed to one
 * consumer thread in batches.
 *
 * For a caller that must not run its own code in the thread that completes
 * a future (a language binding that needs a global interpreter lock to run
 * anything, an event loop): the done callback only links a node that
 * fp_completions_watch allocated into a list and signals a waiter, so it
 * cannot fail and never calls back into the caller; the consumer takes
 * every tag that arrived at once, so a burst of completions costs it one
 * wake-up. */
#include <errno.h>
#include <stdlib.h>

#include "fetchpool.h"
#include "clock.h"

typedef struct node {
  fp_completions *owner;
  uint64_t tag;
  struct node *next;
} node;

struct fp_completions {
  pthread_mutex_t mu;
  pthread_cond_t cond;
  node *head, *tail; /* done, not yet popped: oldest first */
  size_t waiters;    /* threads in fp_completions_pop's wait */
  bool closed;
};

fp_completions *fp_completions_new(void) {
  fp_completions *q = calloc(1, sizeof *q);
  if (!q)
    return NULL;
  if (pthread_mutex_init(&q->mu, NULL)) {
    free(q);
    return NULL;
  }
  if (fp__cond_init(&q->cond)) {
    pthread_mutex_destroy(&q->mu);
    free(q);
    return NULL;
  }
  return q;
}

/* The done callback: runs in the completing thread, with no fetchpool
 * lock held. Wakes one waiter only when one waits, so a consumer busy with
 * the last batch costs the workers no system call. */
static void push(fp_future *f, void *userdata) {
  (void)f;
  node *n = userdata;
  fp_completions *q = n->owner;
  pthread_mutex_lock(&q->mu);
  if (q->tail)
    q->tail->next = n;
  else
    q->head = n;
  q->tail = n;
  if (q->waiters)
    pthread_cond_signal(&q->cond);
  pthread_mutex_unlock(&q->mu);
}

int fp_completions_watch(fp_completions *q, fp_future *f, uint64_t tag) {
  if (!q || !f)
    return FP_ERR_INVALID_ARG;
  node *n = calloc(1, sizeof *n);
  if (!n)
    return FP_ERR_NOMEM;
  n->owner = q;
  n->tag = tag;
  int rc = fp_future_add_done_callback(f, push, n);
  if (rc)
    free(n);
  return rc;
}

int fp_completions_pop(fp_completions *q, double timeout, uint64_t *tags,
                       size_t max, size_t *n) {
  if (n)
    *n = 0;
  if (!q || !tags || !max || !n)
    return FP_ERR_INVALID_ARG;
  struct timespec ts;
  const struct timespec *deadline = fp__deadline_ptr(timeout, &ts);
  int rc = FP_OK;
  node *taken = NULL;
  pthread_mutex_lock(&q->mu);
  while (!q->head && !q->closed) {
    q->waiters++;
    int timed_out = fp__cond_wait(&q->cond, &q->mu, deadline) == ETIMEDOUT;
    q->waiters--;
    if (timed_out && !q->head)
      break;
  }
  if (q->head) {
    /* detach up to max nodes under the lock, free them outside it */
    taken = q->head;
    node *last = taken;
    size_t k = 1;
    while (k < max && last->next) {
      last = last->next;
      k++;
    }
    q->head = last->next;
    if (!q->head)
      q->tail = NULL;
    last->next = NULL;
    *n = k;
  } else {
    rc = q->closed ? FP_ERR_SHUTDOWN : FP_ERR_WAIT_TIMEOUT;
  }
  pthread_mutex_unlock(&q->mu);
  for (size_t i = 0; taken; i++) {
    node *next = taken->next;
    tags[i] = taken->tag;
    free(taken);
    taken = next;
  }
  return rc;
}

void fp_completions_close(fp_completions *q) {
  if (!q)
    return;
  pthread_mutex_lock(&q->mu);
  q->closed = true;
  pthread_cond_broadcast(&q->cond);
  pthread_mutex_unlock(&q->mu);
}

void fp_completions_free(fp_completions *q) {
  if (!q)
    return;
  for (node *n = q->head, *next; n; n = next) {
    next = n->next;
    free(n);
  }
  pthread_cond_destroy(&q->cond);
  pthread_mutex_destroy(&q->mu);
  free(q);
}
