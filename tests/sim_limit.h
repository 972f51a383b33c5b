/* sim_limit.h: a discrete-event model of hosts with a capacity, and of a
 * client keeping each host's adaptive limit of requests in flight, on a
 * synthetic clock (tests/test_policy_limit.c; docs/politeness.md).
 *
 * A host serves at most cap requests at once, each taking service seconds
 * (times 1 +- noise, uniform). Beyond cap, in SIM_QUEUE mode a request
 * waits in FIFO for a slot (its latency grows); in SIM_SHED mode it is
 * answered 429 after reject seconds. The capacity may change at set times.
 * The client keeps min(limit, jobs left) requests in flight to each host; a
 * rejected job is sent again at once (the worst case: no retry wait).
 * Everything is static arrays and a fixed-seed generator: a run is
 * deterministic. */
#ifndef FP_SIM_LIMIT_H
#define FP_SIM_LIMIT_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "policy.h"

#define SIM_HOSTS 4
#define SIM_EVENTS 8192
#define SIM_LATS 200000
#define SIM_TICK 0.01 /* the limit is sampled every 10 ms */
#define SIM_TICKS 4096

typedef enum { SIM_QUEUE, SIM_SHED } sim_mode;

/* The policy under test: fp__limit, or a candidate (the comparison). */
typedef struct sim_policy {
  void *state;
  unsigned (*get)(const void *state);
  void (*done)(void *state, double now, double latency, fp__outcome o, unsigned inflight);
} sim_policy;

typedef struct sim_host {
  /* the model (set before sim_run) */
  sim_mode mode;
  double service, noise, reject;
  unsigned cap[4];    /* cap[0] from the start, cap[i] from cap_at[i] */
  double cap_at[4];
  unsigned ncap;      /* entries of cap; 0 or 1: constant */
  double latency_x2_at; /* from this time on service is doubled (0: never) */
  long jobs;          /* jobs to complete; < 0: unlimited */
  sim_policy pol;
  /* the run */
  unsigned busy, inflight;
  double waiting[SIM_EVENTS]; /* queue mode: start times, FIFO ring */
  unsigned wait_head, wait_len;
  long done;                  /* jobs completed */
  unsigned long ok, rejected, sent;
  double last_done;           /* when the last job completed */
  double *lat;                /* OK latencies (SIM_LATS) */
  size_t nlat;
  double lat_from;            /* only OK answers ending after this count */
  unsigned limit_at[SIM_TICKS]; /* the limit every SIM_TICK */
  unsigned max_limit_seen, min_limit_seen;
} sim_host;

typedef struct sim_event {
  double at, start;
  int host;
  bool ok;
} sim_event;

typedef struct sim {
  sim_host *hosts[SIM_HOSTS];
  int nhosts;
  sim_event heap[SIM_EVENTS];
  size_t nheap;
  double now;
  uint64_t rng;
} sim;

static inline double sim_uniform(sim *s) {
  s->rng ^= s->rng << 13;
  s->rng ^= s->rng >> 7;
  s->rng ^= s->rng << 17;
  return (double)(s->rng >> 11) / 9007199254740992.0;
}

static inline void sim_push(sim *s, sim_event e) {
  assert_true(s->nheap < SIM_EVENTS);
  size_t i = s->nheap++;
  while (i > 0 && s->heap[(i - 1) / 2].at > e.at) {
    s->heap[i] = s->heap[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  s->heap[i] = e;
}

static inline sim_event sim_pop(sim *s) {
  sim_event top = s->heap[0], last = s->heap[--s->nheap];
  size_t i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= s->nheap)
      break;
    if (c + 1 < s->nheap && s->heap[c + 1].at < s->heap[c].at)
      c++;
    if (s->heap[c].at >= last.at)
      break;
    s->heap[i] = s->heap[c];
    i = c;
  }
  s->heap[i] = last;
  return top;
}

static inline unsigned sim_cap(const sim_host *h, double t) {
  unsigned c = h->cap[0];
  for (unsigned i = 1; i < h->ncap; i++)
    if (t >= h->cap_at[i])
      c = h->cap[i];
  return c;
}

static inline double sim_service(sim *s, const sim_host *h) {
  double x = h->latency_x2_at > 0 && s->now >= h->latency_x2_at ? 2 : 1;
  return h->service * x * (1 + h->noise * (2 * sim_uniform(s) - 1));
}

/* Start serving the oldest waiting request of host i while there is room. */
static inline void sim_serve_waiting(sim *s, int i) {
  sim_host *h = s->hosts[i];
  while (h->wait_len && h->busy < sim_cap(h, s->now)) {
    double start = h->waiting[h->wait_head];
    h->wait_head = (h->wait_head + 1) % SIM_EVENTS;
    h->wait_len--;
    h->busy++;
    sim_push(s, (sim_event){.at = s->now + sim_service(s, h), .start = start, .host = i, .ok = true});
  }
}

/* The client: fill host i up to its limit. */
static inline void sim_top_up(sim *s, int i) {
  sim_host *h = s->hosts[i];
  while (h->inflight < h->pol.get(h->pol.state) &&
         (h->jobs < 0 || h->done + (long)h->inflight < h->jobs)) {
    h->inflight++;
    h->sent++;
    if (h->busy < sim_cap(h, s->now)) {
      h->busy++;
      sim_push(s, (sim_event){.at = s->now + sim_service(s, h), .start = s->now, .host = i, .ok = true});
    } else if (h->mode == SIM_SHED) {
      sim_push(s, (sim_event){.at = s->now + h->reject, .start = s->now, .host = i, .ok = false});
    } else {
      assert_true(h->wait_len < SIM_EVENTS);
      h->waiting[(h->wait_head + h->wait_len++) % SIM_EVENTS] = s->now;
    }
  }
}

static inline void sim_sample(sim *s, double t) {
  size_t k = (size_t)llround(t / SIM_TICK);
  for (int i = 0; i < s->nhosts; i++) {
    sim_host *h = s->hosts[i];
    unsigned v = h->pol.get(h->pol.state);
    if (k < SIM_TICKS)
      h->limit_at[k] = v;
    if (v > h->max_limit_seen)
      h->max_limit_seen = v;
    if (v < h->min_limit_seen)
      h->min_limit_seen = v;
  }
}

/* Run until every host's jobs are done or until seconds. */
static inline void sim_run(sim *s, double seconds) {
  s->now = 0;
  s->nheap = 0;
  if (!s->rng)
    s->rng = 0x9e3779b97f4a7c15u;
  for (int i = 0; i < s->nhosts; i++) {
    sim_host *h = s->hosts[i];
    h->min_limit_seen = ~0u;
    sim_top_up(s, i);
  }
  double next_tick = 0;
  unsigned ncap_events = 0;
  while (s->nheap) {
    sim_event e = s->heap[0];
    /* capacity changes and samples due before the next event */
    double next_cap = INFINITY;
    for (int i = 0; i < s->nhosts; i++)
      for (unsigned c = 1; c < s->hosts[i]->ncap; c++)
        if (s->hosts[i]->cap_at[c] > s->now && s->hosts[i]->cap_at[c] < next_cap)
          next_cap = s->hosts[i]->cap_at[c];
    if (next_tick <= e.at && next_tick <= next_cap) {
      if (next_tick > seconds)
        break;
      s->now = next_tick;
      sim_sample(s, next_tick);
      next_tick += SIM_TICK;
      continue;
    }
    if (next_cap <= e.at) {
      s->now = next_cap;
      assert_true(++ncap_events < 64);
      for (int i = 0; i < s->nhosts; i++)
        sim_serve_waiting(s, i);
      continue;
    }
    if (e.at > seconds)
      break;
    sim_pop(s);
    s->now = e.at;
    sim_host *h = s->hosts[e.host];
    unsigned inflight = h->inflight--;
    if (e.ok) {
      h->busy--;
      sim_serve_waiting(s, e.host);
      h->ok++;
      h->done++;
      h->last_done = s->now;
      if (h->lat && h->nlat < SIM_LATS && s->now >= h->lat_from)
        h->lat[h->nlat++] = s->now - e.start;
    } else {
      h->rejected++;
    }
    h->pol.done(h->pol.state, s->now, s->now - e.start,
                e.ok ? FP__OUTCOME_OK : FP__OUTCOME_OVERLOAD, inflight);
    sim_top_up(s, e.host);
  }
}

static int sim_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* The median OK latency of host h (sorts its latencies). */
static inline double sim_median(sim_host *h) {
  if (!h->nlat)
    return 0;
  qsort(h->lat, h->nlat, sizeof *h->lat, sim_cmp_double);
  return h->lat[h->nlat / 2];
}

/* fp__limit as a sim_policy. */
static unsigned sim_limit_get(const void *st) { return fp__limit_get(st); }
static void sim_limit_done(void *st, double now, double latency, fp__outcome o, unsigned inflight) {
  fp__limit_on_done(st, now, latency, o, inflight);
}
static inline sim_policy sim_limit_policy(fp__limit *l) {
  return (sim_policy){.state = l, .get = sim_limit_get, .done = sim_limit_done};
}

#endif /* FP_SIM_LIMIT_H */
