/* policy.h: the policies (policy_retry.c, policy_rate.c, policy_limit.c,
 * policy_host.c): retry schedule, rate token bucket, adaptive limit, host table.
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
/* How long a host asked to be left alone: resp's Retry-After in seconds
 * (delay-seconds, or an HTTP-date made relative when it arrived) on a 429
 * or 503, capped by req's retry_max_wait as the retry's own wait is; < 0
 * when it asked nothing (host cooldown). */
double fp__host_wait(const fp_request *req, const fp_response *resp);
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

/* ---- the host table (policy_host.c): each host's in-flight limit,
 * cooldown, rate and parked jobs. Pure as the others: every call takes
 * the monotonic time now from its caller. ---- */
typedef struct fp__hosts fp__hosts;

typedef struct fp__hosts_options {
  size_t per_host;      /* in-flight limit per host; 0: none */
  bool threads_auto;    /* adapt each host's limit (fp__limit), capped by per_host */
  size_t max_threads;   /* threads_auto: the adaptive limit's top */
  bool cooldown;        /* a 429 or 503 with Retry-After pauses the host */
  double per_host_rate; /* request starts a second per host; 0: none */
} fp__hosts_options;

/* What one finished attempt tells its host. */
typedef struct fp__attempt {
  fp__outcome outcome;
  double latency;     /* seconds the attempt took, less connection set-up */
  double retry_after; /* seconds the host asked to wait (capped); < 0: none */
} fp__attempt;

/* Jobs a host call lets go. run (linked through fp__future_next, newest
 * first: put each at the queue's front in list order and the oldest runs
 * first) now hold a permit. timer, when not NULL, is the host's first
 * parked job, to wait in the queue's timer heap until due and then come
 * back to fp__hosts_acquire as the host's timer (is_timer): the host is
 * cooling down or ahead of its rate, and no transfer of its will end to
 * wake it. A host has at most one timer out. */
typedef struct fp__host_wake {
  fp_future *run;
  fp_future *timer;
  double due;
} fp__host_wake;

enum { FP__HOST_PARKED = 0, FP__HOST_GRANTED = 1, FP__HOST_WOULD_PARK = 2 };

fp__hosts *fp__hosts_new(const fp__hosts_options *o);
void fp__hosts_free(fp__hosts *h);
/* "host:port" of url, lowercased ("" when it has none). NEW (free). */
char *fp__host_key(const char *url);
/* Take a permit for f at monotonic time now. FP__HOST_GRANTED: f holds
 * one (and, when it needed it, a rate token). Otherwise f must wait:
 * with may_park false nothing changed and FP__HOST_WOULD_PARK comes
 * back; with may_park, FP__HOST_PARKED: the host list holds f and the
 * caller's reference (it may already be in *wake). is_timer: f is the
 * host's timer coming back (it goes before the parked ones, and parks
 * at their head; implies may_park). *wake (zeroed by the caller) gets
 * whatever else may go now. FP_ERR_NOMEM: nothing changed. */
int fp__hosts_acquire(fp__hosts *h, fp_future *f, const char *key, double now, bool is_timer,
                      bool may_park, fp__host_wake *wake);
/* Give a permit of key back at now; a (NULL: no attempt ran) is what the
 * attempt said (counted, may start a cooldown, feeds the adaptive limit).
 * *wake (zeroed by the caller) gets the jobs that may go now. */
void fp__hosts_release(fp__hosts *h, const char *key, double now, const fp__attempt *a,
                       fp__host_wake *wake);
/* Detach every parked job (abort, shutdown with cancel), linked through
 * fp__future_next; from then on cooldowns and rates are ignored (jobs
 * only wait for a free permit) and no timer goes out. Timers already out
 * are the caller's to find (the queue's timer heap). */
fp_future *fp__hosts_take_parked(fp__hosts *h);
/* Parked jobs in all (timers out included). */
size_t fp__hosts_parked(fp__hosts *h);
/* fp_executor_hosts: fill out[0..n-1], busiest first; returns how many hosts. */
size_t fp__hosts_info(fp__hosts *h, double now, fp_host_info *out, size_t n);

#endif /* FP_POLICY_H */
