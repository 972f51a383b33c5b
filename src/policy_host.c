/* policy_host.c: the host table: for each host (host:port) its in-flight
 * limit (fixed per_host, or the adaptive fp__limit), its cooldown after a
 * 429 or 503 with Retry-After, its request rate (GCRA, depth 1: evenly
 * paced, no burst at the start), its counters, and the jobs parked for it.
 *
 * A job that may not start now (the host is at its limit, cooling down,
 * or ahead of its rate) is parked on the host's list, holding no worker,
 * so jobs for other hosts go on. Parked jobs leave the list in FIFO order
 * ("pump"): when a permit comes back, or when the host's timer comes
 * back. The timer is the host's first parked job, handed to the caller to
 * wait in the queue's timer heap until the host is ready again: one timer
 * per host, and none while a transfer to the host runs (its end pumps).
 *
 * Pure: no curl, no clock of its own (every call takes now), one mutex.
 * Idle hosts (nothing active, parked or out as a timer) stay known, for
 * their cooldown, rate and counters, on an LRU list: beyond MAX_IDLE the
 * least recently used is forgotten, so the table is bounded by the busy
 * hosts (each has a job in flight or parked) plus MAX_IDLE. */
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "future_private.h"

#define MAX_IDLE 4096

typedef struct host {
  char *key;
  size_t active;                        /* permits out */
  fp_future *parked_head, *parked_tail; /* linked through fp__future_next */
  size_t nparked;                       /* on the list, and the timer when out */
  bool timer_out;                       /* its first parked job waits in the timer heap */
  double cooldown_until;                /* monotonic; no new start before it */
  double cooldown_total;                /* seconds of cooldown windows, merged */
  double next_due;                      /* per-host rate: the next token's time */
  uint64_t overloads, done;
  fp__limit limit;                      /* threads_auto */
  bool idle;                            /* on the idle list */
  struct host *idle_prev, *idle_next;   /* LRU: head is the oldest */
  struct host *next;                    /* hash chain */
} host;

struct fp__hosts {
  pthread_mutex_t mu;
  fp__hosts_options o;
  double interval; /* per_host_rate: seconds between starts, 0: none */
  bool flushing;   /* take_parked: permits only, no cooldown, rate or timer */
  host **buckets;
  size_t nbuckets;
  size_t nhosts, nidle, nparked;
  host *idle_head, *idle_tail;
};

fp__hosts *fp__hosts_new(const fp__hosts_options *o) {
  fp__hosts *h = calloc(1, sizeof *h);
  if (!h)
    return NULL;
  h->nbuckets = 1024;
  if (!(h->buckets = calloc(h->nbuckets, sizeof *h->buckets)) ||
      pthread_mutex_init(&h->mu, NULL)) {
    free(h->buckets);
    free(h);
    return NULL;
  }
  h->o = *o;
  h->interval = o->per_host_rate > 0 ? 1.0 / o->per_host_rate : 0;
  return h;
}

void fp__hosts_free(fp__hosts *h) {
  if (!h)
    return;
  for (size_t i = 0; i < h->nbuckets; i++) {
    for (host *e = h->buckets[i], *next; e; e = next) {
      next = e->next;
      free(e->key);
      free(e);
    }
  }
  pthread_mutex_destroy(&h->mu);
  free(h->buckets);
  free(h);
}

char *fp__host_key(const char *url) {
  const char *p = strstr(url, "://");
  if (!p)
    return strdup("");
  size_t scheme_len = (size_t)(p - url);
  p += 3;
  size_t n = strcspn(p, "/?#");
  const char *at = memchr(p, '@', n); /* drop user:password@ */
  while (at) {
    n -= (size_t)(at + 1 - p);
    p = at + 1;
    at = memchr(p, '@', n);
  }
  /* host:port, lowercased, with the scheme's port made explicit so that
   * http://h and http://h:80 share a limit. */
  bool has_port = n && memchr(p, ':', n) && !(p[0] == '[' && p[n - 1] == ']');
  const char *port = has_port ? "" : (scheme_len == 5 && strncasecmp(url, "https", 5) == 0) ? ":443" : ":80";
  char *key = malloc(n + strlen(port) + 1);
  if (!key)
    return NULL;
  for (size_t i = 0; i < n; i++)
    key[i] = (char)tolower((unsigned char)p[i]);
  strcpy(key + n, port);
  return key;
}

static size_t hash(const char *s) {
  size_t h = 1469598103934665603ull; /* FNV-1a */
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static host **find_link(fp__hosts *h, const char *key) {
  host **link = &h->buckets[hash(key) % h->nbuckets];
  while (*link && strcmp((*link)->key, key) != 0)
    link = &(*link)->next;
  return link;
}

/* ---- the idle list (LRU) ---- */

static void idle_unlink(fp__hosts *h, host *e) {
  if (!e->idle)
    return;
  if (e->idle_prev)
    e->idle_prev->idle_next = e->idle_next;
  else
    h->idle_head = e->idle_next;
  if (e->idle_next)
    e->idle_next->idle_prev = e->idle_prev;
  else
    h->idle_tail = e->idle_prev;
  e->idle_prev = e->idle_next = NULL;
  e->idle = false;
  h->nidle--;
}

/* After a change to e: on the idle list when it is idle, off it when not. */
static void settle(fp__hosts *h, host *e) {
  bool idle = e->active == 0 && e->nparked == 0;
  if (idle == e->idle)
    return;
  if (!idle) {
    idle_unlink(h, e);
    return;
  }
  e->idle = true;
  e->idle_prev = h->idle_tail;
  e->idle_next = NULL;
  if (h->idle_tail)
    h->idle_tail->idle_next = e;
  else
    h->idle_head = e;
  h->idle_tail = e;
  h->nidle++;
}

/* Forget the least recently used idle hosts beyond MAX_IDLE. */
static void trim(fp__hosts *h) {
  while (h->nidle > MAX_IDLE && h->idle_head) {
    host *old = h->idle_head; /* on the list, so idle: unlink it there */
    h->idle_head = old->idle_next;
    if (h->idle_head)
      h->idle_head->idle_prev = NULL;
    else
      h->idle_tail = NULL;
    h->nidle--;
    *find_link(h, old->key) = old->next;
    h->nhosts--;
    free(old->key);
    free(old);
  }
}

/* ---- one host's gates ---- */

static size_t limit_of(const fp__hosts *h, const host *e) {
  size_t lim = h->o.per_host ? h->o.per_host : SIZE_MAX;
  if (h->o.threads_auto) {
    size_t a = fp__limit_get(&e->limit);
    if (a < lim)
      lim = a;
  }
  return lim;
}

/* The monotonic time from which the host may be asked again. */
static double ready_at(const fp__hosts *h, const host *e) {
  if (h->flushing)
    return -INFINITY;
  double t = e->cooldown_until;
  if (h->interval > 0 && e->next_due > t)
    t = e->next_due;
  return t;
}

/* Hand out a permit (and the rate token: the next one is due an interval
 * after this one, or after now when the host was idle longer). */
static void grant(fp__hosts *h, host *e, double now) {
  e->active++;
  if (h->interval > 0 && !h->flushing)
    e->next_due = (e->next_due > now ? e->next_due : now) + h->interval;
}

static fp_future *unpark_head(host *e) {
  fp_future *f = e->parked_head;
  e->parked_head = *fp__future_next(f);
  if (!e->parked_head)
    e->parked_tail = NULL;
  *fp__future_next(f) = NULL;
  return f;
}

static void park(fp__hosts *h, host *e, fp_future *f, bool at_head) {
  if (at_head) {
    *fp__future_next(f) = e->parked_head;
    e->parked_head = f;
    if (!e->parked_tail)
      e->parked_tail = f;
  } else {
    *fp__future_next(f) = NULL;
    if (e->parked_tail)
      *fp__future_next(e->parked_tail) = f;
    else
      e->parked_head = f;
    e->parked_tail = f;
  }
  e->nparked++;
  h->nparked++;
}

/* Let parked jobs go while the host may take them; then, when some still
 * wait for a time (cooldown, rate) and no transfer of the host's will end
 * to wake them, send the first out as the host's timer. */
static void pump(fp__hosts *h, host *e, double now, fp__host_wake *w) {
  size_t lim = limit_of(h, e);
  while (e->parked_head && e->active < lim && ready_at(h, e) <= now) {
    fp_future *f = unpark_head(e);
    e->nparked--;
    h->nparked--;
    grant(h, e, now);
    *fp__future_next(f) = w->run; /* newest first: see fp__host_wake */
    w->run = f;
  }
  if (e->parked_head && e->active < lim && !e->timer_out && !h->flushing && !w->timer) {
    w->timer = unpark_head(e); /* still counted in nparked */
    w->due = ready_at(h, e);
    e->timer_out = true;
  }
}

static host *new_host(fp__hosts *h, host **link, const char *key) {
  host *e = calloc(1, sizeof *e);
  if (!e || !(e->key = strdup(key))) {
    free(e);
    return NULL;
  }
  if (h->o.threads_auto) {
    size_t max = h->o.max_threads;
    if (h->o.per_host && h->o.per_host < max)
      max = h->o.per_host;
    fp__limit_init(&e->limit, max < UINT32_MAX ? (unsigned)max : UINT32_MAX);
  }
  *link = e;
  h->nhosts++;
  return e;
}

int fp__hosts_acquire(fp__hosts *h, fp_future *f, const char *key, double now, bool is_timer,
                      bool may_park, fp__host_wake *wake) {
  int rc;
  pthread_mutex_lock(&h->mu);
  host **link = find_link(h, key);
  host *e = *link;
  if (!e && !(e = new_host(h, link, key))) {
    pthread_mutex_unlock(&h->mu);
    return FP_ERR_NOMEM;
  }
  if (is_timer && e->timer_out) { /* back from the heap: parked no more */
    e->timer_out = false;
    e->nparked--;
    h->nparked--;
  }
  bool first = is_timer || !e->parked_head; /* FIFO: nobody waits before it */
  if (first && e->active < limit_of(h, e) && ready_at(h, e) <= now) {
    grant(h, e, now);
    rc = FP__HOST_GRANTED;
  } else if (!may_park && !is_timer) {
    pthread_mutex_unlock(&h->mu);
    return FP__HOST_WOULD_PARK;
  } else {
    park(h, e, f, is_timer);
    rc = FP__HOST_PARKED;
  }
  pump(h, e, now, wake);
  settle(h, e);
  trim(h);
  pthread_mutex_unlock(&h->mu);
  return rc;
}

void fp__hosts_release(fp__hosts *h, const char *key, double now, const fp__attempt *a,
                       fp__host_wake *wake) {
  pthread_mutex_lock(&h->mu);
  host *e = *find_link(h, key);
  if (!e || !e->active) { /* not ours: nothing to give back */
    pthread_mutex_unlock(&h->mu);
    return;
  }
  size_t inflight = e->active--;
  if (a) {
    e->done++;
    if (a->outcome == FP__OUTCOME_OVERLOAD) {
      e->overloads++;
      if (h->o.cooldown && a->retry_after > 0) {
        double until = now + a->retry_after;
        if (until > e->cooldown_until) { /* windows merge, never shrink */
          e->cooldown_total += until - (e->cooldown_until > now ? e->cooldown_until : now);
          e->cooldown_until = until;
        }
      }
    }
    if (h->o.threads_auto)
      fp__limit_on_done(&e->limit, now, a->latency, a->outcome,
                        inflight < UINT32_MAX ? (unsigned)inflight : UINT32_MAX);
  }
  pump(h, e, now, wake);
  settle(h, e);
  trim(h);
  pthread_mutex_unlock(&h->mu);
}

fp_future *fp__hosts_take_parked(fp__hosts *h) {
  fp_future *all = NULL;
  pthread_mutex_lock(&h->mu);
  h->flushing = true;
  for (size_t i = 0; i < h->nbuckets; i++) {
    for (host *e = h->buckets[i]; e; e = e->next) {
      if (e->parked_tail) {
        *fp__future_next(e->parked_tail) = all;
        all = e->parked_head;
        e->parked_head = e->parked_tail = NULL;
      }
      /* a timer out is the heap's now: it comes back as a plain job */
      h->nparked -= e->nparked;
      e->nparked = 0;
      e->timer_out = false;
      settle(h, e); /* trim waits for the next call: we walk the chains */
    }
  }
  pthread_mutex_unlock(&h->mu);
  return all;
}

size_t fp__hosts_parked(fp__hosts *h) {
  pthread_mutex_lock(&h->mu);
  size_t n = h->nparked;
  pthread_mutex_unlock(&h->mu);
  return n;
}

/* Busier first: more attempts done, then by name. */
static bool busier(const fp_host_info *a, const fp_host_info *b) {
  if (a->done != b->done)
    return a->done > b->done;
  return strcmp(a->host, b->host) < 0;
}

static void fill_info(const fp__hosts *h, const host *e, double now, fp_host_info *out) {
  snprintf(out->host, sizeof out->host, "%s", e->key);
  size_t lim = limit_of(h, e);
  out->limit = lim == SIZE_MAX ? 0 : lim;
  out->active = e->active;
  out->parked = e->nparked;
  double left = e->cooldown_until - now;
  out->cooldown_left = left > 0 ? left : 0;
  out->cooldown_total = e->cooldown_total - out->cooldown_left;
  out->overloads = e->overloads;
  out->done = e->done;
}

static int by_busier(const void *a, const void *b) {
  return busier(a, b) ? -1 : busier(b, a) ? 1 : 0;
}

/* out[0..kept) is a min-heap with the least busy at its root. */
static void sift_down(fp_host_info *out, size_t kept, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, min = i;
    if (l < kept && busier(&out[min], &out[l]))
      min = l;
    if (r < kept && busier(&out[min], &out[r]))
      min = r;
    if (min == i)
      return;
    fp_host_info t = out[i];
    out[i] = out[min];
    out[min] = t;
    i = min;
  }
}

size_t fp__hosts_info(fp__hosts *h, double now, fp_host_info *out, size_t n) {
  size_t kept = 0;
  pthread_mutex_lock(&h->mu);
  size_t total = h->nhosts;
  for (size_t i = 0; n && i < h->nbuckets; i++) {
    for (const host *e = h->buckets[i]; e; e = e->next) {
      /* keep the n busiest: a heap of them, least busy on top */
      if (kept < n) {
        fill_info(h, e, now, &out[kept]);
        for (size_t j = kept++; j > 0 && busier(&out[(j - 1) / 2], &out[j]); j = (j - 1) / 2) {
          fp_host_info t = out[j];
          out[j] = out[(j - 1) / 2];
          out[(j - 1) / 2] = t;
        }
      } else {
        fp_host_info cur;
        memset(&cur, 0, sizeof cur);
        fill_info(h, e, now, &cur);
        if (busier(&cur, &out[0])) {
          out[0] = cur;
          sift_down(out, kept, 0);
        }
      }
    }
  }
  pthread_mutex_unlock(&h->mu);
  qsort(out, kept, sizeof *out, by_busier);
  return total;
}
