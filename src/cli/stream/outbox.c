/* outbox.c: the jobs a stream worker holds and what it owes Redis for
 * them: a record to add and a job to acknowledge, or a job to hand back.
 *
 * A fixed set of places bounds the jobs held (and so the memory and what
 * a dead worker leaves pending). The loop's thread takes a place for each
 * job it reads (cli_outbox_hold) and frees it once what the job came to
 * is in Redis (cli_outbox_written). The pool's threads hand back what
 * they finished (cli_outbox_put) through the done list, the one thing
 * they share with the loop, under one mutex; cli_outbox_wait sleeps on
 * its condition variable (CLOCK_MONOTONIC) until something is put, a stop
 * is asked, or the loop's next due time. Every list has room for every
 * place, so a put never waits and never fails. */
#include "outbox.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cli/clock.h"

typedef struct place {
  char id[CLI_JOB_ID_SIZE]; /* the job's stream entry id */
  bool held;
} place;

struct cli_outbox {
  /* the loop's thread only */
  size_t capacity;
  size_t limit; /* soft: at most this many held (<= capacity) */
  place *places;
  size_t *free_places; /* stack of free place numbers */
  size_t nfree;
  const char **ids;         /* cli_outbox_ids' answer */
  cli_outbox_entry *todo;   /* taken from done, to be written */
  size_t ntodo;
  bool stop_seen; /* a wait returned after the stop */
  /* shared with the pool's threads and the signal thread */
  pthread_mutex_t mu;
  pthread_cond_t cv; /* something put, or the stop */
  cli_outbox_entry *done;
  size_t ndone;
  bool stopping;
};

cli_outbox *cli_outbox_new(size_t capacity) {
  cli_outbox *ob = calloc(1, sizeof *ob);
  if (!ob)
    return NULL;
  ob->capacity = ob->limit = capacity;
  ob->places = calloc(capacity, sizeof *ob->places);
  ob->free_places = calloc(capacity, sizeof *ob->free_places);
  ob->ids = calloc(capacity, sizeof *ob->ids);
  ob->todo = calloc(capacity, sizeof *ob->todo);
  ob->done = calloc(capacity, sizeof *ob->done);
  if (!ob->places || !ob->free_places || !ob->ids || !ob->todo || !ob->done ||
      pthread_mutex_init(&ob->mu, NULL)) {
    goto fail;
  }
  if (cli_cond_init(&ob->cv)) {
    pthread_mutex_destroy(&ob->mu);
    goto fail;
  }
  /* taken from the top: place 0 first */
  for (size_t i = 0; i < capacity; i++)
    ob->free_places[ob->nfree++] = capacity - 1 - i;
  return ob;
fail:
  free(ob->places);
  free(ob->free_places);
  free(ob->ids);
  free(ob->todo);
  free(ob->done);
  free(ob);
  return NULL;
}

void cli_outbox_free(cli_outbox *ob) {
  if (!ob)
    return;
  for (size_t k = 0; k < ob->ndone; k++)
    free(ob->done[k].record);
  for (size_t k = 0; k < ob->ntodo; k++)
    free(ob->todo[k].record);
  free(ob->places);
  free(ob->free_places);
  free(ob->ids);
  free(ob->todo);
  free(ob->done);
  pthread_mutex_destroy(&ob->mu);
  pthread_cond_destroy(&ob->cv);
  free(ob);
}

size_t cli_outbox_room(const cli_outbox *ob) {
  size_t held = ob->capacity - ob->nfree;
  return held < ob->limit ? ob->limit - held : 0;
}

void cli_outbox_set_limit(cli_outbox *ob, size_t limit) {
  ob->limit = limit && limit < ob->capacity ? limit : ob->capacity;
}

size_t cli_outbox_held(const cli_outbox *ob) { return ob->capacity - ob->nfree; }

bool cli_outbox_holds(const cli_outbox *ob, const char *id) {
  for (size_t i = 0; i < ob->capacity; i++)
    if (ob->places[i].held && strcmp(ob->places[i].id, id) == 0)
      return true;
  return false;
}

size_t cli_outbox_hold(cli_outbox *ob, const char *id, size_t len) {
  assert(ob->nfree > 0 && len > 0 && len < CLI_JOB_ID_SIZE);
  size_t i = ob->free_places[--ob->nfree];
  memcpy(ob->places[i].id, id, len);
  ob->places[i].id[len] = '\0';
  ob->places[i].held = true;
  return i;
}

const char *cli_outbox_id(const cli_outbox *ob, size_t job) { return ob->places[job].id; }

size_t cli_outbox_ids(cli_outbox *ob, const char *const **ids) {
  size_t n = 0;
  for (size_t i = 0; i < ob->capacity; i++)
    if (ob->places[i].held)
      ob->ids[n++] = ob->places[i].id;
  *ids = ob->ids;
  return n;
}

void cli_outbox_put(cli_outbox *ob, size_t job, char *record) {
  pthread_mutex_lock(&ob->mu);
  ob->done[ob->ndone++] = (cli_outbox_entry){.job = job, .record = record};
  pthread_cond_signal(&ob->cv);
  pthread_mutex_unlock(&ob->mu);
}

void cli_outbox_stop(cli_outbox *ob) {
  pthread_mutex_lock(&ob->mu);
  ob->stopping = true;
  pthread_cond_signal(&ob->cv);
  pthread_mutex_unlock(&ob->mu);
}

bool cli_outbox_wait(cli_outbox *ob, double until) {
  struct timespec deadline;
  bool timed = until != INFINITY; /* NaN or -INFINITY: do not wait */
  if (timed)
    cli_deadline(until - cli_now(), &deadline);
  pthread_mutex_lock(&ob->mu);
  /* waits while stopping too, for the records of the jobs still held;
   * only the stop itself wakes it once */
  while (!ob->ndone && !(ob->stopping && !ob->stop_seen)) {
    int rc = timed ? pthread_cond_timedwait(&ob->cv, &ob->mu, &deadline)
                   : pthread_cond_wait(&ob->cv, &ob->mu);
    if (rc) /* ETIMEDOUT; EINVAL cannot be, the deadline is valid */
      break;
  }
  memcpy(ob->todo + ob->ntodo, ob->done, ob->ndone * sizeof *ob->done);
  ob->ntodo += ob->ndone;
  ob->ndone = 0;
  bool stopping = ob->stopping;
  pthread_mutex_unlock(&ob->mu);
  ob->stop_seen = stopping;
  return stopping;
}

size_t cli_outbox_pending(const cli_outbox *ob, const cli_outbox_entry **entries) {
  *entries = ob->todo;
  return ob->ntodo;
}

void cli_outbox_written(cli_outbox *ob) {
  for (size_t k = 0; k < ob->ntodo; k++) {
    size_t i = ob->todo[k].job;
    free(ob->todo[k].record);
    ob->places[i].held = false;
    ob->free_places[ob->nfree++] = i;
  }
  ob->ntodo = 0;
}
