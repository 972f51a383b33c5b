/* clock.c: the program's monotonic clock and deadlines (see clock.h). */
#include "clock.h"

#include <math.h>

double cli_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_deadline(double timeout, struct timespec *ts) {
  clock_gettime(CLOCK_MONOTONIC, ts);
  /* NaN as 0: cast to time_t it would make an invalid timespec, and a
   * timed wait would fail with EINVAL at once, forever */
  if (!(timeout >= 0))
    timeout = 0;
  if (timeout > 1e9)
    timeout = 1e9;
  double whole = floor(timeout);
  ts->tv_sec += (time_t)whole;
  ts->tv_nsec += (long)((timeout - whole) * 1e9);
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec += 1;
    ts->tv_nsec -= 1000000000L;
  }
}

int cli_cond_init(pthread_cond_t *cond) {
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
