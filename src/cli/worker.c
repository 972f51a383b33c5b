/* worker.c: fetchpool worker: runs the jobs of a Redis stream's consumer
 * group on the pool, at least once: a job is acknowledged (XACK) only
 * after its record is in the results stream, so a worker that dies leaves
 * its jobs pending, and live workers take them over (XAUTOCLAIM) once they
 * have been idle --claim-idle seconds.
 *
 * One thread, this one, owns the Redis connection: it reads jobs into a
 * fixed set of slots (twice the transfers at once, so the pool never
 * waits for a read), and writes what the pool's threads hand back. Slots
 * bound memory and the jobs held. While it holds jobs it marks them alive
 * every claim_idle / 3 (XCLAIM JUSTID resets their idle time), so only a
 * dead or stuck worker's jobs are taken over. When Redis goes away the
 * transfers go on, records wait in the slots, and the connection is made
 * again with backoff; on SIGINT, SIGTERM or SIGHUP the unfinished jobs
 * are handed back (made idle at once, so others take them now). */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define ID_SIZE 48            /* "<ms>-<seq>", both 64-bit decimals */
#define HEARTBEAT_IDS 1000    /* ids per XCLAIM */
#define IDLE_BLOCK_MS 250     /* XREADGROUP BLOCK with nothing in flight */
#define POLL_WAIT 0.05        /* with jobs in flight: wait for records this long
                                 between reads that found nothing new */
#define BACKOFF_MIN 0.1
#define BACKOFF_MAX 5.0
#define STOP_REDIS_WAIT 5.0   /* after a stop, how long to wait for Redis */

typedef struct slot {
  char id[ID_SIZE]; /* the job's stream entry id */
  bool busy;
} slot;

/* What the pool hands back for a slot: its record line, or a job to give
 * back to the group (cancelled by a stop, or no memory for the record). */
typedef struct finished {
  size_t slot;
  char *record; /* NEW JSON text, NULL when released */
} finished;

typedef struct worker {
  const cli_options *o;
  cli_redis *redis;
  fp_executor *ex;
  cli_stats *stats;
  cli_jobs jobs;
  char consumer[256];
  char results[512];
  slot *slots;
  size_t nslots, busy;
  size_t *free_slots; /* stack of free slot numbers */
  size_t nfree;
  finished *outbox;   /* taken from done, waiting to be written */
  size_t noutbox;
  double claim_ms;
  bool own_pending_done; /* our own earlier pending jobs were read again */
  char own_cursor[ID_SIZE];
  char claim_cursor[ID_SIZE];
  uint64_t released;
  /* shared with the pool's threads and the signal thread */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  finished *done;
  size_t ndone;
  bool stopping;
  int fatal; /* an error that ends the worker: exit 2 */
} worker;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A notice on stderr, unless --quiet (printf format and arguments). */
#define say(w, ...)                                                            \
  do {                                                                         \
    if (!(w)->o->quiet) {                                                      \
      fputs("fetchpool worker: ", stderr);                                     \
      fprintf(stderr, __VA_ARGS__);                                            \
      fputc('\n', stderr);                                                     \
    }                                                                          \
  } while (0)

/* ---- the pool's side ---- */

/* A job's record is ready: on the thread that finished it (or this one,
 * for an entry that is no job). */
static void deliver(void *arg, uint64_t seq, uint64_t index, json_t *rec, const cli_result *r) {
  worker *w = arg;
  finished f = {.slot = (size_t)seq};
  if (rec && r->code != FP_ERR_CANCELLED) {
    json_object_set_new(rec, "job_id", json_string(w->slots[seq].id));
    json_object_set_new(rec, "consumer", json_string(w->consumer));
    f.record = json_dumps(rec, CLI_JSON_FLAGS);
  }
  json_decref(rec);
  if (f.record)
    cli_stats_add(w->stats, r);
  pthread_mutex_lock(&w->mu);
  w->done[w->ndone++] = f; /* room for every slot: never full */
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

/* Signal thread, first signal: take no more jobs, cancel the queued. */
static void stop(void *arg) {
  worker *w = arg;
  pthread_mutex_lock(&w->mu);
  w->stopping = true;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
  fp_executor_shutdown(w->ex, false, true);
}

/* Grace over, or a second signal: end the transfers in flight. */
static void abort_transfers(void *arg) {
  worker *w = arg;
  fp_executor_abort(w->ex);
}

/* Move what the pool finished to the outbox; wait up to seconds for
 * something when there is nothing. Returns whether a stop was asked. */
static bool take_finished(worker *w, double seconds) {
  pthread_mutex_lock(&w->mu);
  /* waits while stopping too (bounded, and a finished job ends them), or
   * the stop branch of serve would spin through the grace period */
  if (!w->ndone && seconds > 0) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double at = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + seconds;
    ts.tv_sec = (time_t)at;
    ts.tv_nsec = (long)((at - floor(at)) * 1e9);
    pthread_cond_timedwait(&w->cv, &w->mu, &ts);
  }
  memcpy(w->outbox + w->noutbox, w->done, w->ndone * sizeof *w->done);
  w->noutbox += w->ndone;
  w->ndone = 0;
  bool stopping = w->stopping;
  pthread_mutex_unlock(&w->mu);
  return stopping;
}

static void set_fatal(worker *w) {
  pthread_mutex_lock(&w->mu);
  w->fatal = 1;
  w->stopping = true;
  pthread_mutex_unlock(&w->mu);
  fp_executor_shutdown(w->ex, false, true);
}

/* ---- slots ---- */

static bool holds(const worker *w, const char *id) {
  for (size_t i = 0; i < w->nslots; i++)
    if (w->slots[i].busy && strcmp(w->slots[i].id, id) == 0)
      return true;
  return false;
}

static void free_slot(worker *w, size_t i) {
  w->slots[i].busy = false;
  w->free_slots[w->nfree++] = i;
  w->busy--;
}

/* ---- Redis commands ---- */

static bool is_id(const redisReply *r) {
  return r && r->type == REDIS_REPLY_STRING && r->len > 0 && r->len < ID_SIZE;
}

/* An error reply to a command that must work: say so; the connection is
 * dropped and made again, so a passing problem (a restart, OOM) heals. */
static int reply_failed(worker *w, redisReply *reply, const char *what) {
  if (!reply)
    return -1; /* lost: reconnect() says so */
  if (reply->type == REDIS_REPLY_ERROR) {
    say(w, "%s: %s", what, reply->str);
    cli_redis_close(w->redis);
    freeReplyObject(reply);
    return -1;
  }
  return 0;
}

/* A reply of a server that cannot serve yet (loading its data after a
 * restart): drop the connection and let reconnect try again (frees
 * reply). */
static bool not_ready(worker *w, redisReply *reply) {
  if (!cli_redis_is_transient(reply))
    return false;
  cli_redis_drop(w->redis, reply->str);
  freeReplyObject(reply);
  return true;
}

/* Create the group (and the stream) when missing; check that the results
 * key is free or a stream. -1 for a connection error, 1 for one that will
 * not heal (fatal). */
static int prepare_group(worker *w) {
  redisReply *reply =
      cli_redis_call(w->redis, "XGROUP", "CREATE", w->o->stream, w->o->group, "0", "MKSTREAM");
  if (!reply || not_ready(w, reply))
    return -1;
  if (reply->type == REDIS_REPLY_ERROR && !cli_redis_is_error(reply, "BUSYGROUP")) {
    fprintf(stderr, "fetchpool worker: cannot create group %s of stream %s: %s\n", w->o->group,
            w->o->stream, reply->str);
    freeReplyObject(reply);
    return 1;
  }
  freeReplyObject(reply);
  if (!(reply = cli_redis_call(w->redis, "TYPE", w->results)) || not_ready(w, reply))
    return -1;
  bool ok = reply->type == REDIS_REPLY_STATUS &&
            (!strcmp(reply->str, "none") || !strcmp(reply->str, "stream"));
  if (!ok)
    fprintf(stderr, "fetchpool worker: results key %s holds a %s, not a stream\n", w->results,
            reply->type == REDIS_REPLY_STATUS ? reply->str : "value");
  freeReplyObject(reply);
  return ok ? 0 : 1;
}

/* Start the job of one stream entry [id, [field, value, ...]] in a free
 * slot. check: the entry may be one we hold (a re-read, a claim). Returns
 * whether it took a slot (a job we hold already, or an entry deleted from
 * the stream, does not). */
static bool start_entry(worker *w, const redisReply *entry, bool check) {
  if (entry->type != REDIS_REPLY_ARRAY || entry->elements < 2 || !is_id(entry->element[0]))
    return false;
  const redisReply *idr = entry->element[0], *fields = entry->element[1];
  if (check && holds(w, idr->str))
    return false;
  if (fields->type != REDIS_REPLY_ARRAY) {
    /* deleted from the stream while pending: nothing to run */
    freeReplyObject(cli_redis_call(w->redis, "XACK", w->o->stream, w->o->group, idr->str));
    return false;
  }
  size_t i = w->free_slots[--w->nfree];
  slot *s = &w->slots[i];
  memcpy(s->id, idr->str, idr->len + 1);
  s->busy = true;
  w->busy++;
  uint64_t index = 0;
  const redisReply *ix = cli_redis_field(fields, "index");
  if (ix && ix->type == REDIS_REPLY_STRING)
    cli_parse_count(ix->str, 0, CLI_MAX_INDEX, &index);
  const redisReply *job = cli_redis_field(fields, "job");
  if (!job || job->type != REDIS_REPLY_STRING) {
    cli_result r = {.code = FP_ERR_INVALID_REQUEST};
    deliver(w, i, index,
            fp_record_error(index, NULL, NULL, FP_ERR_INVALID_REQUEST,
                            "the stream entry has no \"job\" field"),
            &r);
    return true;
  }
  cli_job_start(&w->jobs, i, index, job->len ? job->str : "", job->len);
  return true;
}

/* The entries of an XREADGROUP reply [[stream, [entry, ...]]]. Returns
 * how many there were. */
static size_t start_read(worker *w, const redisReply *reply, bool check) {
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1)
    return 0;
  const redisReply *s = reply->element[0];
  if (s->type != REDIS_REPLY_ARRAY || s->elements < 2 || s->element[1]->type != REDIS_REPLY_ARRAY)
    return 0;
  const redisReply *entries = s->element[1];
  for (size_t i = 0; i < entries->elements && w->nfree; i++) {
    start_entry(w, entries->element[i], check);
    if (check && i + 1 == entries->elements && is_id(entries->element[i]->element[0]))
      memcpy(w->own_cursor, entries->element[i]->element[0]->str,
             entries->element[i]->element[0]->len + 1);
  }
  return entries->elements;
}

/* XREADGROUP: the jobs this consumer held before it (re)started (cursor:
 * id 0 and on) until there are none, then new ones (">"), waiting up to
 * block_ms for some (< 0: not at all). Returns the number of entries, or
 * -1. */
static int read_jobs(worker *w, int block_ms) {
  char count[24], block[24];
  snprintf(count, sizeof count, "%zu", w->nfree);
  snprintf(block, sizeof block, "%d", block_ms);
  bool own = !w->own_pending_done;
  const char *argv[] = {"XREADGROUP", "GROUP", w->o->group, w->consumer, "COUNT", count,
                        "STREAMS", w->o->stream, own ? w->own_cursor : ">", NULL, NULL};
  if (block_ms >= 0 && !own) { /* BLOCK goes before STREAMS */
    memmove(argv + 8, argv + 6, 3 * sizeof *argv);
    argv[6] = "BLOCK";
    argv[7] = block;
  }
  redisReply *reply = cli_redis_argv(w->redis, block_ms >= 0 && !own ? 11 : 9, argv, NULL);
  if (reply_failed(w, reply, "XREADGROUP"))
    return -1;
  size_t n = reply->type == REDIS_REPLY_NIL ? 0 : start_read(w, reply, own);
  freeReplyObject(reply);
  if (own && n == 0)
    w->own_pending_done = true;
  return (int)n;
}

/* XAUTOCLAIM: take over jobs idle past claim_idle (their worker died),
 * as many as there are free slots, scanning the pending list from the
 * cursor. -1 on a connection error. */
static int claim_idle_jobs(worker *w) {
  char min_idle[32], count[24];
  snprintf(min_idle, sizeof min_idle, "%.0f", w->claim_ms);
  snprintf(count, sizeof count, "%zu", w->nfree);
  redisReply *reply = cli_redis_call(w->redis, "XAUTOCLAIM", w->o->stream, w->o->group,
                                     w->consumer, min_idle, w->claim_cursor, "COUNT", count);
  if (reply_failed(w, reply, "XAUTOCLAIM"))
    return -1;
  size_t claimed = 0;
  if (reply->type == REDIS_REPLY_ARRAY && reply->elements >= 2 && is_id(reply->element[0])) {
    memcpy(w->claim_cursor, reply->element[0]->str, reply->element[0]->len + 1);
    const redisReply *entries = reply->element[1];
    /* our own jobs come back too when they went idle (a Redis outage
     * longer than --claim-idle stopped the heartbeat): not taken over */
    for (size_t i = 0; entries->type == REDIS_REPLY_ARRAY && i < entries->elements && w->nfree;
         i++)
      claimed += start_entry(w, entries->element[i], true);
  }
  freeReplyObject(reply);
  if (claimed)
    say(w, "took over %zu jobs idle for %g s or more", claimed, w->o->claim_idle);
  return 0;
}

/* XCLAIM ids... [IDLE ms] JUSTID, in chunks: mark our jobs alive
 * (idle 0), or, with idle_ms, hand them back (idle at once). */
static int touch(worker *w, const char **ids, size_t n, const char *idle_ms) {
  const char *argv[HEARTBEAT_IDS + 10];
  for (size_t done = 0; done < n;) {
    int argc = 0;
    argv[argc++] = "XCLAIM";
    argv[argc++] = w->o->stream;
    argv[argc++] = w->o->group;
    argv[argc++] = w->consumer;
    argv[argc++] = "0";
    for (size_t k = 0; k < HEARTBEAT_IDS && done < n; k++)
      argv[argc++] = ids[done++];
    if (idle_ms) {
      argv[argc++] = "IDLE";
      argv[argc++] = idle_ms;
    }
    argv[argc++] = "JUSTID";
    redisReply *reply = cli_redis_argv(w->redis, argc, argv, NULL);
    if (reply_failed(w, reply, "XCLAIM"))
      return -1;
    freeReplyObject(reply);
  }
  return 0;
}

static int heartbeat(worker *w) {
  const char **ids = malloc(w->nslots * sizeof *ids);
  size_t n = 0;
  if (!ids)
    return 0; /* next time */
  for (size_t i = 0; i < w->nslots; i++)
    if (w->slots[i].busy)
      ids[n++] = w->slots[i].id;
  int rc = touch(w, ids, n, NULL);
  free(ids);
  return rc;
}

/* Read n pipelined replies; -1 at the first that failed. */
static int read_replies(worker *w, size_t n, const char *what) {
  for (; n; n--) {
    redisReply *reply = cli_redis_next_reply(w->redis);
    if (reply_failed(w, reply, what))
      return -1;
    freeReplyObject(reply);
  }
  return 0;
}

/* Write the outbox: every record to the results stream, pipelined, and
 * only once Redis has taken them all, the XACKs of their jobs: an XADD
 * refused (OOM, a read-only replica) must not let its XACK through, or
 * the job would be acked with no record. Jobs to hand back are made idle.
 * All or nothing: after any failure the whole outbox is written again (a
 * record may be there twice; records carry job_id for that). 0 or -1. */
static int flush(worker *w) {
  size_t nrecords = 0, nrelease = 0;
  const char **release = malloc((w->noutbox + 1) * sizeof *release);
  if (!release)
    return -1;
  for (size_t k = 0; k < w->noutbox; k++) {
    finished *f = &w->outbox[k];
    const char *id = w->slots[f->slot].id;
    if (!f->record) {
      release[nrelease++] = id;
      continue;
    }
    const char *add[] = {"XADD", w->results, "*", "job_id", id, "record", f->record};
    if (cli_redis_append(w->redis, 7, add, NULL))
      goto lost;
    nrecords++;
  }
  if (read_replies(w, nrecords, "writing records"))
    goto lost;
  for (size_t k = 0; k < w->noutbox; k++) {
    const char *ack[] = {"XACK", w->o->stream, w->o->group, w->slots[w->outbox[k].slot].id};
    if (w->outbox[k].record && cli_redis_append(w->redis, 4, ack, NULL))
      goto lost;
  }
  if (read_replies(w, nrecords, "acknowledging jobs"))
    goto lost;
  if (nrelease) {
    char idle[32];
    snprintf(idle, sizeof idle, "%.0f", w->claim_ms + 1000);
    if (touch(w, release, nrelease, idle))
      goto lost;
    w->released += nrelease;
  }
  free(release);
  for (size_t k = 0; k < w->noutbox; k++) {
    free(w->outbox[k].record);
    free_slot(w, w->outbox[k].slot);
  }
  w->noutbox = 0;
  return 0;
lost:
  free(release);
  /* replies still queued belong to a connection that is gone */
  cli_redis_close(w->redis);
  return -1;
}

/* --until-empty: nothing is pending in the whole group (and the last read
 * found nothing new). 1 empty, 0 not, -1 connection error. */
static int group_drained(worker *w) {
  redisReply *reply = cli_redis_call(w->redis, "XPENDING", w->o->stream, w->o->group);
  if (reply_failed(w, reply, "XPENDING"))
    return -1;
  int drained = reply->type == REDIS_REPLY_ARRAY && reply->elements >= 1 &&
                reply->element[0]->type == REDIS_REPLY_INTEGER &&
                reply->element[0]->integer == 0;
  freeReplyObject(reply);
  return drained;
}

/* Connect and prepare, with backoff between failures. Returns 0 when
 * connected, -1 after a failed attempt and its wait. */
static int reconnect(worker *w, double *backoff, bool *announced) {
  if (cli_redis_connect(w->redis) == 0) {
    int rc = prepare_group(w);
    if (rc > 0) {
      set_fatal(w);
      return -1;
    }
    if (rc == 0) {
      if (*announced)
        say(w, "connected to Redis again");
      *announced = false;
      return 0; /* the backoff resets once a flush works, see serve */
    }
  }
  if (!*announced)
    say(w, "%s; trying again", cli_redis_error(w->redis));
  *announced = true;
  /* full jitter: workers that lost the same server do not return at once */
  take_finished(w, *backoff * (0.5 + 0.5 * (double)rand() / RAND_MAX));
  *backoff = fmin(*backoff * 2, BACKOFF_MAX);
  return -1;
}

/* The worker's loop; returns when stopped, or drained (--until-empty). */
static void serve(worker *w) {
  double backoff = BACKOFF_MIN, next_beat = 0, next_claim = 0, stopped_at = 0;
  double beat_every = w->o->claim_idle / 3, claim_every = fmax(w->o->claim_idle / 2, 0.05);
  bool announced = false;
  for (;;) {
    bool stopping = take_finished(w, 0);
    if (stopping && !stopped_at)
      stopped_at = now_s();
    if (!cli_redis_connected(w->redis)) {
      if (w->fatal || (stopping && now_s() - stopped_at > w->o->grace + STOP_REDIS_WAIT)) {
        if (w->busy)
          fprintf(stderr, "fetchpool worker: giving up on Redis with %zu jobs held; they stay "
                          "pending and another worker will take them\n", w->busy);
        return;
      }
      if (reconnect(w, &backoff, &announced))
        continue;
    }
    if (w->noutbox) {
      if (flush(w)) {
        /* a server that takes connections but refuses writes (OOM) is
         * not retried in a tight loop */
        take_finished(w, backoff * (0.5 + 0.5 * (double)rand() / RAND_MAX));
        backoff = fmin(backoff * 2, BACKOFF_MAX);
        continue;
      }
      backoff = BACKOFF_MIN;
    }
    if (stopping) {
      if (!w->busy)
        return;
      take_finished(w, 0.1);
      continue;
    }
    double now = now_s();
    if (w->busy && now >= next_beat) {
      if (heartbeat(w))
        continue;
      next_beat = now + beat_every;
    }
    if (!w->nfree) {
      take_finished(w, 0.1);
      continue;
    }
    if (!w->own_pending_done) {
      read_jobs(w, -1);
      continue;
    }
    if (now >= next_claim) {
      if (claim_idle_jobs(w))
        continue;
      next_claim = now + claim_every;
      if (!w->nfree)
        continue;
    }
    /* Redis times a BLOCK out only on its 100 ms clock tick: with jobs
     * in flight, or when the group may be done, ask without blocking and
     * wait here for records instead */
    bool poll = w->busy || w->o->until_empty;
    int n = read_jobs(w, poll ? -1 : IDLE_BLOCK_MS);
    if (n >= 0) /* Redis serves again: the next outage starts from the shortest wait */
      backoff = BACKOFF_MIN;
    if (n != 0)
      continue;
    if (!w->busy && w->o->until_empty) {
      int drained = group_drained(w);
      if (drained == 1)
        return;
      if (drained < 0)
        continue;
    }
    if (poll)
      take_finished(w, POLL_WAIT);
  }
}

static int worker_init(worker *w, const cli_options *o) {
  char host[200] = "host";
  memset(w, 0, sizeof *w);
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  w->o = o;
  w->claim_ms = o->claim_idle * 1000;
  strcpy(w->own_cursor, "0");
  strcpy(w->claim_cursor, "0-0");
  if (o->consumer) {
    snprintf(w->consumer, sizeof w->consumer, "%s", o->consumer);
  } else {
    gethostname(host, sizeof host - 1);
    snprintf(w->consumer, sizeof w->consumer, "%s-%ld", host, (long)getpid());
  }
  snprintf(w->results, sizeof w->results, "%s%s", o->results_stream ? o->results_stream : o->stream,
           o->results_stream ? "" : ":results");
  w->nslots = 2 * o->threads;
  w->slots = calloc(w->nslots, sizeof *w->slots);
  w->free_slots = calloc(w->nslots, sizeof *w->free_slots);
  w->outbox = calloc(w->nslots, sizeof *w->outbox);
  w->done = calloc(w->nslots, sizeof *w->done);
  if (!w->slots || !w->free_slots || !w->outbox || !w->done)
    return -1;
  for (size_t i = 0; i < w->nslots; i++)
    w->free_slots[w->nfree++] = w->nslots - 1 - i;
  return 0;
}

static void worker_free(worker *w) {
  fp_executor_free(w->ex); /* joins the pool: no deliver runs after this */
  for (size_t k = 0; k < w->ndone; k++)
    free(w->done[k].record);
  for (size_t k = 0; k < w->noutbox; k++)
    free(w->outbox[k].record);
  free(w->slots);
  free(w->free_slots);
  free(w->outbox);
  free(w->done);
  cli_stats_free(w->stats);
  cli_redis_free(w->redis);
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->cv);
}

int cli_worker(const cli_options *o) {
  worker w;
  char msg[512];
  int status = CLI_EXIT_USAGE;
  if (worker_init(&w, o)) {
    fprintf(stderr, "fetchpool worker: out of memory\n");
    goto done;
  }
  if (!(w.redis = cli_redis_new(o->redis, msg, sizeof msg))) {
    cli_usage_error(CLI_WORKER, "%s", msg);
    goto done;
  }
  if (cli_signals_install()) {
    fprintf(stderr, "fetchpool worker: cannot set up signal handling: %s\n", strerror(errno));
    goto done;
  }
  fp_executor_options eo;
  fp_executor_options_init(&eo);
  eo.threads = o->threads;
  eo.engine = o->engine;
  eo.loops = o->loops;
  eo.queue_capacity = w.nslots; /* every slot fits: a submit never blocks */
  eo.thread_name_prefix = "fetch";
  eo.rate = o->rate;
  eo.per_host = o->per_host;
  fp_error err = {0};
  if (!(w.stats = cli_stats_new()) || !(w.ex = fp_executor_new(&eo, &err))) {
    fprintf(stderr, "fetchpool worker: cannot start %zu threads: %s\n", o->threads,
            w.stats ? err.text : "out of memory");
    goto done;
  }
  w.jobs = (cli_jobs){.ex = w.ex, .deliver = deliver, .deliver_arg = &w, .base = o->base,
                      .record_flags = o->record_flags};
  cli_interrupt ops = {.stop = stop, .abort = abort_transfers, .arg = &w, .grace = o->grace,
                       .quiet = o->quiet};
  int rc = cli_signals_start(&ops);
  if (rc) {
    fprintf(stderr, "fetchpool worker: cannot start the signal thread: %s\n", strerror(rc));
    goto done;
  }
  say(&w, "consumer %s of group %s on stream %s, %zu at once", w.consumer, o->group, o->stream,
      o->threads);
  serve(&w);
  fp_executor_shutdown(w.ex, true, true); /* a give-up left some running */
  int sig = cli_signals_finish();
  cli_stats_stop(w.stats);
  if (sig)
    cli_stats_set_interrupted(w.stats, sig);
  if (!o->quiet) {
    cli_stats_print(w.stats, stderr);
    if (w.released)
      fprintf(stderr, "fetchpool worker: handed back %llu unfinished jobs\n",
              (unsigned long long)w.released);
  }
  /* a job that failed is a record like any other: the worker did its job */
  status = w.fatal ? CLI_EXIT_USAGE : sig ? 128 + sig : CLI_EXIT_OK;
done:
  cli_signals_finish();
  worker_free(&w);
  return status;
}
