/* queue.c: the bounded FIFO job queue between submitters and workers, with
 * a timer heap for jobs waiting to be retried.
 *
 * One mutex and two condition variables (not_empty for workers, not_full
 * for blocked submitters). Every wait sits in a predicate loop, a push
 * signals one worker, and close wakes everybody. Blocked submitters are
 * woken once the queue is down to half its capacity, all at once: a
 * producer that keeps the queue full (the CLI's reader) then wakes once
 * per cap/2 jobs, not once per job, which costs two context switches a
 * job on tiny responses. A submitter past its deadline still takes any
 * free room, since it rechecks when its wait ends. FIFO entries are futures linked through their own
 * next pointer, so a push never allocates. A worker with nothing due sleeps
 * until the earliest retry is due (pthread_cond_timedwait on the monotonic
 * clock), never polls. Signals are sent after the unlock, so the woken
 * thread does not run only to block on the mutex we still hold, and the
 * mutex is adaptive (spins briefly before sleeping): with 64 workers on
 * tiny responses the two cut context switches per request from 4.8 to
 * 3.4 (BENCHMARKS.md, "Why the thread engine costs more CPU").
 * Capacity counts queued jobs only. Jobs parked for their host ("held":
 * busy, cooling down, ahead of its rate) have their own budget, max_held,
 * so a slow host's parked jobs never stop the reader while other hosts
 * could go on; past that budget submit blocks too, so memory stays
 * bounded (a bounded queue's: an unbounded one bounds nothing). Retries
 * are not counted, since they were accepted already and
 * a worker must never block re-queueing one. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "queue.h"
#include "clock.h"
#include "future_private.h"
#include "job.h"

int fp__queue_init(fp__queue *q, size_t cap) {
  q->head = q->tail = NULL;
  q->len = q->held = 0;
  q->max_held = SIZE_MAX;
  q->cap = cap;
  q->closed = q->flushing = q->cancelled = false;
  q->delayed = NULL;
  q->ndelayed = q->delayed_cap = 0;
  q->nwakes = 0;
  pthread_mutexattr_t ma;
  pthread_mutexattr_init(&ma);
  pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
  int mrc = pthread_mutex_init(&q->mu, &ma);
  pthread_mutexattr_destroy(&ma);
  if (mrc)
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
  free(q->delayed);
  pthread_cond_destroy(&q->not_full);
  pthread_cond_destroy(&q->not_empty);
  pthread_mutex_destroy(&q->mu);
}

static void wake_loops(fp__queue *q);

/* An unbounded queue (cap 0) bounds nothing, parked jobs included: a
 * done callback may always submit to it (the crawler pattern). */
static bool full(const fp__queue *q) {
  return q->cap && (q->len >= q->cap || q->held >= q->max_held);
}

/* Whether a pop (or an unhold) that left the queue like this wakes
 * blocked submitters: a free room, and the queued jobs down to half the
 * capacity. */
static bool low_water(const fp__queue *q) {
  return q->cap && !full(q) && q->len <= q->cap / 2;
}

/* A deadline already past: the caller asked not to wait (timeout 0). */
static bool deadline_is_now(const struct timespec *deadline) {
  struct timespec now;
  if (!deadline)
    return false;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return now.tv_sec > deadline->tv_sec ||
         (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

static void link_tail(fp__queue *q, fp_future *f) {
  *fp__future_next(f) = NULL;
  if (q->tail)
    *fp__future_next(q->tail) = f;
  else
    q->head = f;
  q->tail = f;
  q->len++;
}

int fp__queue_push(fp__queue *q, fp_future *f, const struct timespec *deadline) {
  int rc = FP_OK;
  pthread_mutex_lock(&q->mu);
  while (!q->closed && full(q)) {
    if (deadline_is_now(deadline)) {
      rc = FP_ERR_WOULD_BLOCK;
      goto out;
    }
    if (!fp__thread_may_block()) {
      rc = FP_ERR_WORKER_THREAD;
      goto out;
    }
    if (fp__cond_wait(&q->not_full, &q->mu, deadline) == ETIMEDOUT && full(q) &&
        !q->closed) {
      rc = FP_ERR_WOULD_BLOCK;
      goto out;
    }
  }
  if (q->closed) {
    rc = FP_ERR_SHUTDOWN;
    goto out;
  }
  link_tail(q, f);
out:
  if (rc == FP_OK)
    wake_loops(q);
  pthread_mutex_unlock(&q->mu);
  if (rc == FP_OK)
    pthread_cond_signal(&q->not_empty);
  return rc;
}

size_t fp__queue_push_many(fp__queue *q, fp_future *const *fs, size_t n,
                           const struct timespec *deadline, int *rc) {
  size_t pushed = 0, unsignalled = 0;
  *rc = FP_OK;
  pthread_mutex_lock(&q->mu);
  while (pushed < n) {
    if (q->closed) {
      *rc = FP_ERR_SHUTDOWN;
      break;
    }
    if (full(q)) {
      if (deadline_is_now(deadline) || !fp__thread_may_block()) {
        *rc = deadline_is_now(deadline) ? FP_ERR_WOULD_BLOCK : FP_ERR_WORKER_THREAD;
        break;
      }
      /* the workers and event loops must hear of what is queued before we
       * sleep on them: a loop sits in curl_multi_poll until its timeout */
      if (unsignalled)
        wake_loops(q);
      for (; unsignalled; unsignalled--)
        pthread_cond_signal(&q->not_empty);
      if (fp__cond_wait(&q->not_full, &q->mu, deadline) == ETIMEDOUT && full(q) &&
          !q->closed) {
        *rc = FP_ERR_WOULD_BLOCK;
        break;
      }
      continue;
    }
    link_tail(q, fs[pushed++]);
    unsignalled++;
  }
  if (unsignalled)
    wake_loops(q);
  pthread_mutex_unlock(&q->mu);
  /* one worker per job, as single pushes do: no thundering herd */
  for (; unsignalled; unsignalled--)
    pthread_cond_signal(&q->not_empty);
  return pushed;
}

/* ---- timer heap of retries, ordered by due time ---- */

static double due_of(fp_future *f) { return fp__future_job(f)->due; }

static void heap_swap(fp__queue *q, size_t a, size_t b) {
  fp_future *t = q->delayed[a];
  q->delayed[a] = q->delayed[b];
  q->delayed[b] = t;
}

static fp_future *heap_pop(fp__queue *q) {
  fp_future *top = q->delayed[0];
  q->delayed[0] = q->delayed[--q->ndelayed];
  for (size_t i = 0;;) {
    size_t l = 2 * i + 1, r = l + 1, min = i;
    if (l < q->ndelayed && due_of(q->delayed[l]) < due_of(q->delayed[min]))
      min = l;
    if (r < q->ndelayed && due_of(q->delayed[r]) < due_of(q->delayed[min]))
      min = r;
    if (min == i)
      break;
    heap_swap(q, i, min);
    i = min;
  }
  return top;
}

int fp__queue_push_delayed(fp__queue *q, fp_future *f, double due) {
  pthread_mutex_lock(&q->mu);
  if (q->cancelled) { /* it would be waiting, so it is cancelled too */
    pthread_mutex_unlock(&q->mu);
    return FP_ERR_SHUTDOWN;
  }
  if (q->ndelayed == q->delayed_cap) {
    size_t cap = q->delayed_cap ? q->delayed_cap * 2 : 64;
    fp_future **grown = realloc(q->delayed, cap * sizeof *grown);
    if (!grown) {
      pthread_mutex_unlock(&q->mu);
      return FP_ERR_NOMEM;
    }
    q->delayed = grown;
    q->delayed_cap = cap;
  }
  fp__future_job(f)->due = due;
  size_t i = q->ndelayed++;
  q->delayed[i] = f;
  while (i > 0 && due_of(q->delayed[(i - 1) / 2]) > due) {
    heap_swap(q, i, (i - 1) / 2);
    i = (i - 1) / 2;
  }
  /* A sleeping worker may be waiting for a later due time (or forever). */
  pthread_cond_signal(&q->not_empty);
  wake_loops(q);
  pthread_mutex_unlock(&q->mu);
  return FP_OK;
}

/* The next job ready to run, or NULL. Called with q->mu held. */
static fp_future *take_ready(fp__queue *q) {
  /* Retries that are due go first: they are the oldest jobs. */
  if (q->ndelayed && (q->flushing || due_of(q->delayed[0]) <= fp__now()))
    return heap_pop(q);
  fp_future *f = q->head;
  if (f) {
    q->head = *fp__future_next(f);
    if (!q->head)
      q->tail = NULL;
    *fp__future_next(f) = NULL;
    q->len--;
  }
  return f;
}

static bool drained(const fp__queue *q) {
  return q->closed && !q->head && !q->ndelayed && !q->held;
}

fp_future *fp__queue_pop(fp__queue *q) {
  fp_future *f = NULL;
  pthread_mutex_lock(&q->mu);
  while (!(f = take_ready(q)) && !drained(q)) {
    if (q->ndelayed) {
      struct timespec ts;
      fp__deadline(due_of(q->delayed[0]) - fp__now(), &ts);
      fp__cond_wait(&q->not_empty, &q->mu, &ts);
    } else {
      pthread_cond_wait(&q->not_empty, &q->mu);
    }
  }
  /* More may be ready (a due retry beside a queued job): pass the baton. */
  bool more = f && (q->head || q->ndelayed), room = f && low_water(q);
  pthread_mutex_unlock(&q->mu);
  if (room)
    pthread_cond_broadcast(&q->not_full);
  if (more)
    pthread_cond_signal(&q->not_empty);
  return f;
}

fp_future *fp__queue_try_pop(fp__queue *q, double *next_due, bool *finished) {
  pthread_mutex_lock(&q->mu);
  fp_future *f = take_ready(q);
  *next_due = q->ndelayed ? due_of(q->delayed[0]) : INFINITY;
  *finished = !f && drained(q);
  bool room = f && low_water(q);
  pthread_mutex_unlock(&q->mu);
  if (room)
    pthread_cond_broadcast(&q->not_full);
  return f;
}

int fp__queue_add_wake(fp__queue *q, void (*fn)(void *), void *arg) {
  int rc = FP_OK;
  pthread_mutex_lock(&q->mu);
  if (q->nwakes == FP__QUEUE_MAX_WAKES) {
    rc = FP_ERR_INVALID_ARG;
  } else {
    q->wakes[q->nwakes].fn = fn;
    q->wakes[q->nwakes].arg = arg;
    q->nwakes++;
  }
  pthread_mutex_unlock(&q->mu);
  return rc;
}

void fp__queue_remove_wake(fp__queue *q, void *arg) {
  pthread_mutex_lock(&q->mu);
  for (size_t i = 0; i < q->nwakes; i++) {
    if (q->wakes[i].arg == arg) {
      q->wakes[i] = q->wakes[--q->nwakes];
      break;
    }
  }
  pthread_mutex_unlock(&q->mu);
}

/* Tell event loops that something changed; they re-check with try_pop.
 * Called with q->mu held: a hook must be quick and take no lock of ours
 * (curl_multi_wakeup writes one byte to a socket). */
static void wake_loops(fp__queue *q) {
  for (size_t i = 0; i < q->nwakes; i++)
    q->wakes[i].fn(q->wakes[i].arg);
}

void fp__queue_set_max_held(fp__queue *q, size_t max_held) {
  pthread_mutex_lock(&q->mu);
  q->max_held = max_held ? max_held : 1;
  pthread_mutex_unlock(&q->mu);
  pthread_cond_broadcast(&q->not_full);
}

void fp__queue_hold(fp__queue *q) {
  pthread_mutex_lock(&q->mu);
  q->held++;
  pthread_mutex_unlock(&q->mu);
}

void fp__queue_unhold(fp__queue *q, size_t n) {
  pthread_mutex_lock(&q->mu);
  q->held -= n;
  /* as a pop does: parked jobs leaving can be what brings the queue down
   * to half (cheap when nobody waits) */
  if (low_water(q))
    pthread_cond_broadcast(&q->not_full);
  if (q->closed && !q->held)
    pthread_cond_broadcast(&q->not_empty); /* pop may be waiting for held == 0 */
  wake_loops(q);
  pthread_mutex_unlock(&q->mu);
}

/* Put f at the front, releasing one hold when held, and wake a consumer. */
static void push_front(fp__queue *q, fp_future *f, bool held) {
  pthread_mutex_lock(&q->mu);
  if (held)
    q->held--;
  *fp__future_next(f) = q->head;
  q->head = f;
  if (!q->tail)
    q->tail = f;
  q->len++;
  pthread_cond_signal(&q->not_empty);
  wake_loops(q);
  pthread_mutex_unlock(&q->mu);
}

void fp__queue_push_front_held(fp__queue *q, fp_future *f) { push_front(q, f, true); }

void fp__queue_push_front(fp__queue *q, fp_future *f) { push_front(q, f, false); }

void fp__queue_close(fp__queue *q) {
  pthread_mutex_lock(&q->mu);
  q->closed = true;
  pthread_cond_broadcast(&q->not_empty);
  pthread_cond_broadcast(&q->not_full);
  wake_loops(q);
  pthread_mutex_unlock(&q->mu);
}

void fp__queue_flush_delayed(fp__queue *q) {
  pthread_mutex_lock(&q->mu);
  q->flushing = true;
  pthread_cond_broadcast(&q->not_empty);
  wake_loops(q);
  pthread_mutex_unlock(&q->mu);
}

fp_future *fp__queue_take_all(fp__queue *q) {
  pthread_mutex_lock(&q->mu);
  q->cancelled = true;
  fp_future *all = q->head;
  q->head = q->tail = NULL;
  q->len = 0;
  while (q->ndelayed) { /* retries too, prepended */
    fp_future *f = heap_pop(q);
    *fp__future_next(f) = all;
    all = f;
  }
  pthread_cond_broadcast(&q->not_full);
  /* Workers may sleep until a retry's due time: that retry is gone, and
   * once closed they must see that nothing is left. */
  pthread_cond_broadcast(&q->not_empty);
  wake_loops(q);
  pthread_mutex_unlock(&q->mu);
  return all;
}
