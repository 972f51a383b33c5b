/* clock.h: monotonic time, deadlines and condition waits (clock.c). */
#ifndef FP_CLOCK_H
#define FP_CLOCK_H

#include <pthread.h>
#include <time.h>

/* A deadline on CLOCK_MONOTONIC; timeout < 0 means none (NULL is used). */
void fp__deadline(double timeout, struct timespec *ts);
/* Seconds on CLOCK_MONOTONIC. */
double fp__now(void);
/* The timeout of one wait that must also end by the absolute time at
 * (fp__now() seconds; < 0: no such limit): the smaller of the two, never
 * below 0. A timeout < 0 means none. */
double fp__timeout_until(double timeout, double at);
/* pthread_cond_init on CLOCK_MONOTONIC. Returns 0 or an errno value. */
int fp__cond_init(pthread_cond_t *cond);
/* Wait on cond until deadline (NULL = forever). Returns 0 or ETIMEDOUT. */
int fp__cond_wait(pthread_cond_t *cond, pthread_mutex_t *mu,
                  const struct timespec *deadline);
/* Turn a user timeout into a deadline pointer: NULL when forever. */
const struct timespec *fp__deadline_ptr(double timeout, struct timespec *ts);

#endif /* FP_CLOCK_H */
