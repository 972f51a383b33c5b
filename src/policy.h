/* policy.h: the policies (policy_retry.c, policy_rate.c,
 * policy_host.c): retry schedule, rate token bucket, per-host limit.
 * They know no curl. */
#ifndef FP_POLICY_H
#define FP_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "fetchpool.h"

/* True when resp's outcome is one req retries (transient error, status). */
bool fp__retry_wanted(const fp_request *req, const fp_response *resp);
/* Seconds to wait before the next attempt after attempts tries, or < 0
 * for no retry. rng is the caller's jitter state. */
double fp__retry_delay(const fp_request *req, const fp_response *resp,
                       unsigned attempts, uint64_t *rng);
/* Parse a Retry-After value (delay-seconds or HTTP-date) into seconds from
 * now (wall clock now). FP_OK or FP_ERR_INVALID_ARG. */
int fp__parse_retry_after(const char *value, time_t now, double *seconds);

typedef struct fp__rate fp__rate;
fp__rate *fp__rate_new(double per_second);
void fp__rate_free(fp__rate *r);
/* Wait for the next token (returns early once interrupted). */
void fp__rate_acquire(fp__rate *r);
/* Take the next token without waiting: returns the monotonic time it is
 * due (now or later; now once interrupted). */
double fp__rate_reserve(fp__rate *r);
/* Make every current and future acquire return at once. */
void fp__rate_interrupt(fp__rate *r);

typedef struct fp__hosts fp__hosts;
fp__hosts *fp__hosts_new(size_t limit);
void fp__hosts_free(fp__hosts *h);
/* "host:port" of url, lowercased ("" when it has none). NEW (free). */
char *fp__host_key(const char *url);
/* Take a permit for key: 1 taken, 0 parked (the list now holds f and the
 * caller's reference), FP_ERR_NOMEM. */
int fp__hosts_acquire(fp__hosts *h, fp_future *f, const char *key);
/* Give a permit back. Returns the parked job the permit passed to (it
 * now holds the permit; the caller re-queues it), or NULL. */
fp_future *fp__hosts_release(fp__hosts *h, const char *key);
/* Detach every parked job (shutdown with cancel). */
fp_future *fp__hosts_take_parked(fp__hosts *h);

#endif /* FP_POLICY_H */
