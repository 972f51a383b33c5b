/* policy_limit.c: the adaptive in-flight limit of one host (-t auto), Vegas plus a ceiling. */
#include <math.h>

#include "policy.h"

/* Why these numbers: docs/politeness.md (measured on the simulator of
 * tests/test_policy_limit.c). */
#define START 2.0          /* the first limit: small, as TCP's slow start */
#define TOL_GROW 0.15      /* grow while a round's latency is within 15% of the baseline */
#define TOL_CUT 0.30       /* cut once it is over 30% above (between: hold) */
#define LATENCY_FLOOR 2e-3 /* below 2 ms, latency says nothing of load */
#define BETA 0.7           /* a second overload within a round trip of a cut */
#define BLOCK 8            /* OK latencies (at least those in flight) per baseline sample */
#define WINDOW 10.0        /* seconds each of the baseline's two windows lasts */
#define PLATEAU 4          /* rounds held at the ceiling before probing above */
#define PROBE_PART 4       /* a probing step is at most a quarter of the limit */
#define ROUND_PART 1       /* a round ends once as many as were in flight came back */

void fp__limit_init(fp__limit *l, unsigned max) {
  *l = (fp__limit){0};
  l->max = max >= 1 ? max : 1;
  l->limit = START < l->max ? START : l->max;
  l->probe = 1;
  l->last_cut = -INFINITY;
  l->round_start = -INFINITY; /* the first OK answer ends the first round */
  l->round_limit = l->limit;
  l->win_min[0] = l->win_min[1] = INFINITY;
  l->slow_start = true;
}

unsigned fp__limit_get(const fp__limit *l) {
  double v = floor(l->limit);
  return v < 1 ? 1 : v > l->max ? (unsigned)l->max : (unsigned)v;
}

/* The host's latency with nothing queued: the lowest block mean of the two
 * windows, or the mean so far before the first block; 0: none yet. */
static double baseline(const fp__limit *l) {
  double b = fmin(l->win_min[0], l->win_min[1]);
  if (isfinite(b))
    return b;
  return l->blk_n ? l->blk_sum / l->blk_n : 0;
}

static void new_round(fp__limit *l, double now) {
  l->round_start = now;
  l->round_limit = l->limit;
  l->lat_sum = l->inflight_sum = l->inflight_max = 0;
  l->n = 0;
}

/* Lower the limit to next (never raise it, never below 1), remember it as
 * the ceiling to come back to, and start counting from now. */
static void cut(fp__limit *l, double now, double next) {
  if (next < 1)
    next = 1;
  if (next < l->limit)
    l->limit = next;
  l->ceiling = l->limit;
  l->probe = 1;
  l->plateau = 0;
  l->slow_start = false;
  l->last_cut = now;
  l->drain = true;
  new_round(l, now);
}

/* A round without overload, latency near the baseline, the limit used:
 * double in slow start; else climb half the way back to the ceiling, hold
 * there a few rounds, then probe above it in doubling steps (each at most
 * half the limit), so a capacity that grew is found in a few rounds. */
static void grow(fp__limit *l) {
  double next;
  if (l->slow_start) {
    next = 2 * l->limit;
  } else if (l->limit < l->ceiling - 0.5) {
    next = l->limit + fmax(1, (l->ceiling - l->limit) / 2);
    if (next > l->ceiling)
      next = l->ceiling;
  } else if (l->limit < l->ceiling + 0.5 && l->plateau < PLATEAU) {
    l->plateau++;
    next = l->limit;
  } else {
    next = l->limit + fmin(l->probe, fmax(1, l->limit / PROBE_PART));
    l->probe *= 2;
  }
  l->limit = next < l->max ? next : l->max;
}

/* One round trip's OK answers are in: compare their mean latency with
 * the baseline (Vegas). Well above it the host is queueing: it serves at
 * the baseline latency about used * base / mean at once (Little's law), so
 * go there in one step. */
static void end_round(fp__limit *l, double now) {
  double mean = l->lat_sum / l->n, used = l->inflight_sum / l->n;
  double base = baseline(l);
  if (base <= 0 || base > mean)
    base = mean;
  base = fmax(base, LATENCY_FLOOR);
  double ratio = mean / base;
  if (l->drain) { /* the queue of before the cut still drains: wait a round */
    l->drain = false;
    new_round(l, now);
    return;
  }
  if (ratio > 1 + TOL_CUT) {
    cut(l, now, used / ratio);
    return;
  }
  if (ratio < 1 + TOL_GROW) {
    if (l->inflight_max >= l->round_limit / 2) /* not limited by the work there is */
      grow(l);
  } else if (l->slow_start) { /* the queue begins: stop doubling, hold */
    l->slow_start = false;
    l->ceiling = l->limit;
    l->probe = 1;
  }
  new_round(l, now);
}

/* Feed the baseline a block of BLOCK OK latencies (a mean, so that noise
 * does not drag the minimum down). Two alternating windows: the minimum
 * follows a host that really got slower within two windows. A block taken
 * with one request in flight is the no-load latency by definition. */
static void add_sample(fp__limit *l, double now, double latency, unsigned inflight) {
  l->blk_sum += latency;
  l->blk_inflight += inflight;
  if (++l->blk_n < BLOCK || l->blk_n < inflight)
    return;
  double mean = l->blk_sum / l->blk_n;
  bool alone = l->blk_inflight <= l->blk_n;
  l->blk_sum = l->blk_inflight = 0;
  l->blk_n = 0;
  if (now - l->win_start >= WINDOW) {
    l->win_min[1] = l->win_min[0];
    l->win_min[0] = INFINITY;
    l->win_start = now;
  }
  if (alone)
    l->win_min[0] = l->win_min[1] = mean;
  else if (mean < l->win_min[0])
    l->win_min[0] = mean;
}

void fp__limit_on_done(fp__limit *l, double now, double latency, fp__outcome o, unsigned inflight) {
  if (o == FP__OUTCOME_OTHER)
    return;
  if (!(latency >= 0)) /* NaN too */
    latency = 0;
  if (inflight < 1)
    inflight = 1;
  double start = now - latency;
  if (!l->started) {
    l->started = true;
    l->win_start = now;
  }
  if (o != FP__OUTCOME_OK) {
    /* in flight when the limit was last cut: that cut answered it (a
     * burst of 429s is one signal) */
    if (start < l->last_cut)
      return;
    /* a 429 or 503: the host served at most the others in flight; slow
     * start went past the last limit that was fine, half this one. A
     * timeout or refusal (a host in trouble, not counting), or a second
     * signal within a round trip of a cut (it was too small): x BETA. */
    double next = fmin(l->limit - 1, inflight - 1.0);
    if (l->slow_start)
      next = fmin(next, l->limit / 2);
    if (o != FP__OUTCOME_OVERLOAD || now - l->last_cut < baseline(l))
      next = fmin(next, l->limit * BETA);
    cut(l, now, next);
    return;
  }
  add_sample(l, now, latency, inflight);
  /* a round measures only what was sent at its limit (after it began) */
  if (start < l->round_start)
    return;
  l->lat_sum += latency;
  l->inflight_sum += inflight;
  if (inflight > l->inflight_max)
    l->inflight_max = inflight;
  if (++l->n >= fmax(1, l->inflight_max / ROUND_PART))
    end_round(l, now);
}
