/* queue.h: the job queue (queue.c): FIFO, capacity, delayed retries,
 * holds (the count of jobs parked for their host), close. */
#ifndef FP_QUEUE_H
#define FP_QUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include "fetchpool.h"

typedef struct fp__queue {
  pthread_mutex_t mu;
  pthread_cond_t not_empty;
  pthread_cond_t not_full;
  fp_future *head, *tail;
  size_t len;
  size_t held;     /* parked for their host (host table, or its timer) */
  size_t max_held; /* submit blocks while held reaches it (SIZE_MAX: never) */
  size_t cap;      /* queued jobs; 0 = unbounded */
  bool closed;
  bool flushing; /* abort: hand out retries now, whatever their due time */
  bool cancelled; /* shutdown with cancel: no new retries */
  fp_future **delayed; /* min-heap of retries by due time */
  size_t ndelayed, delayed_cap;
  struct {
    void (*fn)(void *);
    void *arg;
  } wakes[64]; /* FP__QUEUE_MAX_WAKES */
  size_t nwakes;
} fp__queue;

int fp__queue_init(fp__queue *q, size_t cap);
void fp__queue_destroy(fp__queue *q);
/* Append f (the queue steals the caller's reference on success). Blocks
 * while full until deadline (NULL = forever). FP_OK, FP_ERR_SHUTDOWN,
 * FP_ERR_WOULD_BLOCK. */
int fp__queue_push(fp__queue *q, fp_future *f, const struct timespec *deadline);
/* Append fs[0..n-1] in order under one lock, waiting for room while full
 * until deadline (NULL = forever); the queue steals the reference of each
 * one appended. Returns how many were (a prefix: all n, or fewer with
 * *rc FP_ERR_WOULD_BLOCK or FP_ERR_SHUTDOWN). */
size_t fp__queue_push_many(fp__queue *q, fp_future *const *fs, size_t n,
                           const struct timespec *deadline, int *rc);
/* Take the oldest future (caller gets the queue's reference). Blocks while
 * empty; returns NULL once closed and empty. */
fp_future *fp__queue_pop(fp__queue *q);
/* The same without blocking: NULL when nothing is ready, with *next_due
 * the monotonic time of the earliest retry (INFINITY if none) and
 * *finished true once pop would return NULL for good. */
fp_future *fp__queue_try_pop(fp__queue *q, double *next_due, bool *finished);
/* Call fn(arg), with the queue's lock held, after every change that may
 * give a consumer work (push, retry, unpark, close, flush): event loops
 * cannot sleep on not_empty. Up to FP__QUEUE_MAX_WAKES hooks; remove by
 * arg before arg goes away. */
#define FP__QUEUE_MAX_WAKES 64
int fp__queue_add_wake(fp__queue *q, void (*fn)(void *), void *arg);
void fp__queue_remove_wake(fp__queue *q, void *arg);
/* Add a retry due at monotonic time due (never blocks; not counted
 * against the capacity). FP_OK, FP_ERR_NOMEM, or FP_ERR_SHUTDOWN after
 * fp__queue_take_all (the job is then finished as cancelled). */
int fp__queue_push_delayed(fp__queue *q, fp_future *f, double due);
/* Parked jobs (held) have their own budget, not the capacity: a bounded
 * queue's submit blocks while max_held of them wait (SIZE_MAX, the
 * default: never). */
void fp__queue_set_max_held(fp__queue *q, size_t max_held);
/* Count one job parked elsewhere (the host table), and release n of
 * those counts. A job is held before it becomes visible where it is
 * parked, so whoever takes it from there may release it. Pop returns NULL
 * only once nothing is held. */
void fp__queue_hold(fp__queue *q);
void fp__queue_unhold(fp__queue *q, size_t n);
/* Put a parked job back at the front (releases its hold). */
void fp__queue_push_front_held(fp__queue *q, fp_future *f);
/* Put a job at the front, counts unchanged (never blocks). */
void fp__queue_push_front(fp__queue *q, fp_future *f);
/* From now on pop hands out retries without waiting for them (abort). */
void fp__queue_flush_delayed(fp__queue *q);
/* Refuse further pushes, wake every waiter. Idempotent. Pop returns NULL
 * only once nothing is queued, delayed or held. */
void fp__queue_close(fp__queue *q);
/* Detach every queued future and every retry; returns the list head
 * (linked through fp__future_next) and leaves the queue empty. Retries
 * are refused from then on (shutdown with cancel). */
fp_future *fp__queue_take_all(fp__queue *q);

#endif /* FP_QUEUE_H */
