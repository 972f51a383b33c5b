/* policy_rate.c: the global rate limit, a token bucket of depth 1 kept as
 * the time the next token is due (GCRA), so the long-run rate is exact. */
#include <errno.h>
#include <stdlib.h>

#include "policy.h"
#include "clock.h"

struct fp__rate {
  pthread_mutex_t mu;
  pthread_cond_t wake; /* broadcast by fp__rate_interrupt */
  double interval;     /* seconds between tokens */
  double next_due;     /* monotonic time of the next free token */
  bool interrupted;
};

fp__rate *fp__rate_new(double per_second) {
  fp__rate *r = calloc(1, sizeof *r);
  if (!r)
    return NULL;
  if (pthread_mutex_init(&r->mu, NULL)) {
    free(r);
    return NULL;
  }
  if (fp__cond_init(&r->wake)) {
    pthread_mutex_destroy(&r->mu);
    free(r);
    return NULL;
  }
  r->interval = 1.0 / per_second;
  return r;
}

void fp__rate_free(fp__rate *r) {
  if (!r)
    return;
  pthread_cond_destroy(&r->wake);
  pthread_mutex_destroy(&r->mu);
  free(r);
}

/* Called with r->mu held. */
static double reserve_locked(fp__rate *r, double now) {
  if (r->interrupted)
    return now;
  /* An idle spell does not bank tokens: depth 1 means no burst. */
  double due = r->next_due > now ? r->next_due : now;
  r->next_due = due + r->interval;
  return due;
}

double fp__rate_reserve(fp__rate *r) {
  pthread_mutex_lock(&r->mu);
  double due = reserve_locked(r, fp__now());
  pthread_mutex_unlock(&r->mu);
  return due;
}

void fp__rate_acquire(fp__rate *r) {
  pthread_mutex_lock(&r->mu);
  double now = fp__now();
  double due = reserve_locked(r, now);
  struct timespec ts;
  fp__deadline(due - now, &ts);
  while (!r->interrupted && fp__cond_wait(&r->wake, &r->mu, &ts) != ETIMEDOUT)
    ;
  pthread_mutex_unlock(&r->mu);
}

void fp__rate_interrupt(fp__rate *r) {
  pthread_mutex_lock(&r->mu);
  r->interrupted = true;
  pthread_cond_broadcast(&r->wake);
  pthread_mutex_unlock(&r->mu);
}
