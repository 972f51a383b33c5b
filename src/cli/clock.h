/* clock.h: the program's monotonic clock: now, deadlines for timed waits,
 * and condition variables that wait on it (as src/clock.c does for the
 * library, whose private src/clock.h the program does not see). */
#ifndef FP_CLI_CLOCK_H
#define FP_CLI_CLOCK_H

#include <pthread.h>
#include <time.h>

/* Seconds on CLOCK_MONOTONIC: not moved by changes to the wall clock. */
double cli_now(void);
/* The CLOCK_MONOTONIC time timeout seconds from now, for
 * pthread_cond_timedwait on a condition variable made by cli_cond_init.
 * A timeout below 0 (or NaN) is 0; one above 1e9 s is 1e9 s. */
void cli_deadline(double timeout, struct timespec *ts);
/* pthread_cond_init with CLOCK_MONOTONIC for its timed waits. 0 or an
 * errno value. */
int cli_cond_init(pthread_cond_t *cond);

#endif /* FP_CLI_CLOCK_H */
