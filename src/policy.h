/* policy.h: the policies (policy_retry.c, policy_rate.c,
 * policy_host.c, policy_limit.c): retry schedule, rate token bucket,
 * per-host limit, the adaptive per-host limit. They know no curl. */
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

/* What one attempt says about its host's load. */
typedef enum fp__outcome {
  FP__OUTCOME_OK,       /* a response that says nothing of overload (any status but 429 and 503) */
  FP__OUTCOME_OVERLOAD, /* 429 or 503 */
  FP__OUTCOME_TIMEOUT,  /* the attempt timed out (CURLE_OPERATION_TIMEDOUT) */
  FP__OUTCOME_REFUSED,  /* connection refused or reset (CURLE_COULDNT_CONNECT, CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING) */
  FP__OUTCOME_OTHER     /* any other error (bad URL, DNS, TLS...): no load signal */
} fp__outcome;

/* The adaptive in-flight limit of one host (--threads auto), a pure
 * policy: no clock, no locks, no memory of its own; the caller serializes
 * the calls. See policy_limit.c and docs/politeness.md. */
typedef struct fp__limit { /* fields are policy_limit.c's own; callers only embed it */
  double limit;        /* the limit now, fractional (fp__limit_get rounds) */
  double max;          /* the upper bound, >= 1 */
  double ceiling;      /* the limit the last decrease found right; 0: none yet */
  double probe;        /* the next step above the ceiling (doubles) */
  double last_cut;     /* when the limit last went down; -inf: never */
  double round_start;  /* when the current round began (one round trip) */
  double round_limit;  /* the limit when it began */
  double lat_sum;      /* this round's OK latencies, their count, */
  double inflight_sum; /* the in-flight counts they reported, */
  double inflight_max; /* and the highest of those */
  unsigned n;
  unsigned plateau;    /* rounds spent at the ceiling */
  double blk_sum;      /* the baseline's current block of OK latencies */
  unsigned blk_n;
  double blk_inflight;
  double win_min[2];   /* lowest block mean of the two alternating windows */
  double win_start;    /* when the current window (win_min[0]) began */
  bool slow_start;     /* no decrease yet: double each round */
  bool drain;          /* the round after a cut: measured, not acted on */
  bool started;        /* a first sample came */
} fp__limit;
/* Start a host's limit: small (slow start), between 1 and max. */
void fp__limit_init(fp__limit *l, unsigned max);
/* The in-flight limit now (1..max). */
unsigned fp__limit_get(const fp__limit *l);
/* One attempt to the host ended at monotonic time now after latency seconds, with outcome o,
 * while inflight attempts (including this one) were running to the host. */
void fp__limit_on_done(fp__limit *l, double now, double latency, fp__outcome o, unsigned inflight);

#endif /* FP_POLICY_H */
