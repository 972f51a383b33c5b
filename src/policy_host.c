/* policy_host.c: the per-host concurrency limit. A job whose host is at
 * its limit is parked on that host's list, holding no worker; when a
 * transfer to the host ends, its permit passes straight to the oldest parked
 * job, which goes back to the front of the queue. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "future_private.h"

typedef struct host {
  char *key;
  size_t active;
  fp_future *parked_head, *parked_tail; /* linked through fp__future_next */
  struct host *next;                    /* hash chain */
} host;

struct fp__hosts {
  pthread_mutex_t mu;
  size_t limit;
  host **buckets;
  size_t nbuckets;
};

fp__hosts *fp__hosts_new(size_t limit) {
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
  h->limit = limit;
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

int fp__hosts_acquire(fp__hosts *h, fp_future *f, const char *key) {
  int rc = 1;
  pthread_mutex_lock(&h->mu);
  host **link = find_link(h, key);
  host *e = *link;
  if (!e) {
    if (!(e = calloc(1, sizeof *e)) || !(e->key = strdup(key))) {
      free(e);
      pthread_mutex_unlock(&h->mu);
      return FP_ERR_NOMEM;
    }
    *link = e;
  }
  if (e->active < h->limit) {
    e->active++;
  } else {
    *fp__future_next(f) = NULL;
    if (e->parked_tail)
      *fp__future_next(e->parked_tail) = f;
    else
      e->parked_head = f;
    e->parked_tail = f;
    rc = 0;
  }
  pthread_mutex_unlock(&h->mu);
  return rc;
}

fp_future *fp__hosts_release(fp__hosts *h, const char *key) {
  pthread_mutex_lock(&h->mu);
  host **link = find_link(h, key);
  host *e = *link;
  fp_future *next = NULL;
  if (e && e->parked_head) { /* the permit passes on; active stays */
    next = e->parked_head;
    e->parked_head = *fp__future_next(next);
    if (!e->parked_head)
      e->parked_tail = NULL;
    *fp__future_next(next) = NULL;
  } else if (e && --e->active == 0) { /* idle host: forget it (bounded memory) */
    *link = e->next;
    free(e->key);
    free(e);
  }
  pthread_mutex_unlock(&h->mu);
  return next;
}

fp_future *fp__hosts_take_parked(fp__hosts *h) {
  fp_future *all = NULL;
  pthread_mutex_lock(&h->mu);
  for (size_t i = 0; i < h->nbuckets; i++) {
    for (host *e = h->buckets[i]; e; e = e->next) {
      if (e->parked_tail) {
        *fp__future_next(e->parked_tail) = all;
        all = e->parked_head;
        e->parked_head = e->parked_tail = NULL;
      }
    }
  }
  pthread_mutex_unlock(&h->mu);
  return all;
}
