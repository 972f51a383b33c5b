/* clock.c: monotonic deadlines and timed condition-variable waits. */
#include <errno.h>
#include <math.h>

#include "clock.h"

double fp__now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double fp__timeout_until(double timeout, double at) {
  if (at < 0)
    return timeout;
  double left = at - fp__now();
  if (left < 0)
    left = 0;
  return timeout < 0 || left < timeout ? left : timeout;
}

void fp__deadline(double timeout, struct timespec *ts) {
  clock_gettime(CLOCK_MONOTONIC, ts);
  /* NaN polls like 0: cast to time_t it would give an invalid timespec,
   * and pthread_cond_timedwait would fail at once with EINVAL without ever
   * releasing the mutex, so a predicate loop would hold it forever. */
  if (!(timeout >= 0))
    timeout = 0;
  if (timeout > 1e9) /* keep tv_sec in range: ~31 years is forever enough */
    timeout = 1e9;
  double whole = floor(timeout);
  ts->tv_sec += (time_t)whole;
  ts->tv_nsec += (long)((timeout - whole) * 1e9);
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec += 1;
    ts->tv_nsec -= 1000000000L;
  }
}

const struct timespec *fp__deadline_ptr(double timeout, struct timespec *ts) {
  if (timeout < 0)
    return NULL;
  fp__deadline(timeout, ts);
  return ts;
}

int fp__cond_init(pthread_cond_t *cond) {
  pthread_condattr_t attr;
  int rc = pthread_condattr_init(&attr);
  if (rc)
    return rc;
  rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  if (!rc)
    rc = pthread_cond_init(cond, &attr);
  pthread_condattr_destroy(&attr);
  return rc;
}

int fp__cond_wait(pthread_cond_t *cond, pthread_mutex_t *mu,
                  const struct timespec *deadline) {
  if (!deadline)
    return pthread_cond_wait(cond, mu);
  int rc = pthread_cond_timedwait(cond, mu, deadline);
  return rc == ETIMEDOUT ? ETIMEDOUT : 0;
}
