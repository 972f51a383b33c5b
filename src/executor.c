/* executor.c: executor lifecycle: start workers, submit, shutdown, join.
 *
 * DESIGN
 * All workers are created up front, with every asynchronous signal blocked
 * (they inherit the mask), so SIGINT/SIGTERM/SIGPIPE go to the
 * application's threads. fp_executor_new returns only once each worker has
 * set up its curl handle and run the initializer; one failure fails the
 * whole executor. Shutdown closes the queue: workers drain what is queued
 * (unless cancel_futures took it away) and exit when it is empty; waiting
 * shutdown sleeps until the live-worker count reaches zero, and free joins
 * the threads. Each worker is handed its engine's whole context before
 * its thread starts (fp__worker: a copy of the job life's context with
 * its own retry jitter, the DNS share); the engine reports back only
 * through fp__worker_ready and fp__worker_exit. Shutdown with cancel
 * finishes what is queued and parked through the job room
 * (fp__job_cancel_list), which hands host permits on as a finished attempt
 * does; abort finishes the parked jobs so. The host table (policy_host.c)
 * exists whenever a per-host option is on, and the cooldown is on by
 * default. Nothing here holds two locks at once, except abort: the
 * executor's lock, then each worker's transfer socket lock. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fetchpool.h"
#include "executor_private.h"
#include "clock.h"
#include "engine.h"
#include "error.h"
#include "future_private.h"
#include "job.h"
#include "policy.h"
#include "queue.h"
#include "transfer.h"

/* Enough for libcurl, OpenSSL and user callbacks, and small enough that
 * 10,000 workers do not reserve 80 GB of address space with 8 MiB stacks. */
#define WORKER_STACK_SIZE ((size_t)1024 * 1024)

/* Defaults of the per-host options (fetchpool.h). */
#define DEFAULT_MAX_PARKED 100000
#define DEFAULT_MAX_THREADS 256
/* Workers a threads_auto thread pool starts with: two hosts' first limits */
#define GROW_START 4

/* The options struct is part of the ABI: new options take their room
 * from reserved_, never the size (232 bytes on LP64 since 1.0). */
_Static_assert(sizeof(void *) != 8 || sizeof(fp_executor_options) == 232,
               "fp_executor_options changed size: take the room from reserved_");

struct fp_executor {
  fp_executor_options opts;
  char name_prefix[16];
  fp__queue queue;
  fp__share *share;
  fp__rate *rate;   /* NULL: no rate limit */
  fp__hosts *hosts; /* NULL: no host table (no per-host option on) */
  atomic_bool abort;
  atomic_bool stopped; /* shutdown(cancel_futures): no attempt starts now */
  fp__jobctx jobs;     /* the job life's context; each worker gets a copy */
  fp__worker *workers;
  size_t nworkers; /* engine threads created */
  pthread_mutex_t mu;
  pthread_cond_t cond;
  size_t ready;     /* workers that reported setup done */
  bool setup_failed;
  size_t live;      /* workers not yet exited */
  /* threads engine with threads_auto: workers start as the hosts' limits
   * first need them (as ThreadPoolExecutor starts its threads on demand),
   * up to opts.threads; busy counts those running a transfer. */
  bool grow;
  atomic_size_t busy;
};

void fp_executor_options_init(fp_executor_options *opts) {
  memset(opts, 0, sizeof *opts);
  opts->share_dns = true;
}

static size_t default_threads(void) {
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  size_t n = (cpus > 0 ? (size_t)cpus : 1) + 4;
  return n < 32 ? n : 32;
}

fp__queue *fp__executor_queue(fp_executor *ex) { return &ex->queue; }

bool fp__worker_ready(fp__worker *w, bool ok) {
  fp_executor *ex = w->ex;
  if (ok && ex->opts.initializer)
    ok = ex->opts.initializer(ex->opts.initializer_arg, w->index) == 0;
  pthread_mutex_lock(&ex->mu);
  ex->ready++;
  if (!ok)
    ex->setup_failed = true;
  pthread_cond_broadcast(&ex->cond);
  pthread_mutex_unlock(&ex->mu);
  return ok;
}

void fp__worker_exit(fp__worker *w) {
  fp_executor *ex = w->ex;
  pthread_mutex_lock(&ex->mu);
  ex->live--;
  pthread_cond_broadcast(&ex->cond);
  pthread_mutex_unlock(&ex->mu);
}

void fp__worker_set_transfer(fp__worker *w, fp__transfer *t) {
  pthread_mutex_lock(&w->ex->mu);
  w->transfer = t;
  pthread_mutex_unlock(&w->ex->mu);
}

size_t fp_executor_threads(const fp_executor *ex) { return ex ? ex->opts.threads : 0; }

/* Engine threads: one per worker, or event loops sharing the transfers. */
static size_t engine_threads(const fp_executor_options *o) {
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  size_t loops = o->engine == FP_ENGINE_THREADS ? o->threads
                 : o->engine == FP_ENGINE_MULTI ? 1
                 : o->loops ? o->loops
                            : (cpus > 0 ? (size_t)cpus : 1);
  return loops < o->threads ? loops : o->threads;
}

/* Name the calling thread "<prefix>-<index>". */
static void name_thread(const fp__worker *w) {
  char name[16]; /* Linux limit: 15 bytes and the NUL */
  snprintf(name, sizeof name, "%s-%zu", w->ex->opts.thread_name_prefix, w->index);
  pthread_setname_np(pthread_self(), name);
}

/* A worker thread: marked as one (it must never block waiting for the
 * pool it serves), named, then the engine's loop. */
static void *worker_main(void *arg) {
  fp__worker *w = arg;
  fp__thread_mark_worker();
  name_thread(w);
  return w->ex->opts.engine == FP_ENGINE_THREADS ? fp__engine_threads_main(w)
                                                  : fp__engine_multi_main(w);
}

/* Start worker i (ex->workers[i] is zeroed room) with every asynchronous
 * signal blocked, so that it inherits that mask. Caller holds ex->mu. */
static int start_worker(fp_executor *ex, size_t i, size_t n, fp_error *err) {
  pthread_attr_t attr;
  sigset_t all, old;
  if (pthread_attr_init(&attr))
    return fp__fail(err, FP_ERR_SYSTEM, "pthread_attr_init failed");
  pthread_attr_setstacksize(&attr, WORKER_STACK_SIZE);
  fp__worker *w = &ex->workers[i];
  w->ex = ex;
  w->index = i;
  w->ctx = ex->jobs;
  fp__jobctx_seed(&w->ctx, i);
  w->share = ex->share;
  /* Transfers split as evenly as they go: the first loops take one more. */
  w->capacity = ex->opts.threads / n + (i < ex->opts.threads % n);
  int rc = FP_OK;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  if (pthread_create(&w->thread, &attr, worker_main, w)) {
    rc = fp__fail(err, FP_ERR_SYSTEM, "could not create worker thread %zu of %zu", i + 1, n);
  } else {
    ex->live++;
    ex->nworkers++;
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  return rc;
}

static int start_workers(fp_executor *ex, size_t first, size_t n, fp_error *err) {
  int rc = FP_OK;
  pthread_mutex_lock(&ex->mu);
  for (size_t i = 0; i < first && rc == FP_OK; i++)
    rc = start_worker(ex, i, n, err);
  pthread_mutex_unlock(&ex->mu);
  return rc;
}

void fp__worker_transfer_begins(fp__worker *w) {
  fp_executor *ex = w->ex;
  if (!ex->grow)
    return;
  size_t busy = atomic_fetch_add(&ex->busy, 1) + 1;
  pthread_mutex_lock(&ex->mu);
  /* every worker busy: one more for the next job, unless full or stopped */
  if (busy >= ex->nworkers && ex->nworkers < ex->opts.threads &&
      !atomic_load(&ex->stopped))
    start_worker(ex, ex->nworkers, ex->opts.threads, NULL); /* if not, fewer workers */
  pthread_mutex_unlock(&ex->mu);
}

void fp__worker_transfer_ends(fp__worker *w) {
  if (w->ex->grow)
    atomic_fetch_sub(&w->ex->busy, 1);
}

fp_executor *fp_executor_new(const fp_executor_options *opts, fp_error *err) {
  if (fp__transfer_global_init()) {
    fp__fail(err, FP_ERR_INTERNAL, "curl_global_init failed");
    return NULL;
  }
  fp_executor *ex = calloc(1, sizeof *ex);
  if (!ex) {
    fp__fail(err, FP_ERR_NOMEM, "out of memory");
    return NULL;
  }
  if (opts)
    ex->opts = *opts;
  else
    fp_executor_options_init(&ex->opts);
  /* Keep a copy of the prefix: the caller's string may not outlive us. */
  snprintf(ex->name_prefix, sizeof ex->name_prefix, "%s",
           ex->opts.thread_name_prefix ? ex->opts.thread_name_prefix : "fp");
  ex->opts.thread_name_prefix = ex->name_prefix;
  if (!ex->opts.max_threads)
    ex->opts.max_threads = DEFAULT_MAX_THREADS;
  /* threads_auto: the hosts' limits decide, up to max_threads at once */
  size_t n = ex->opts.threads_auto ? ex->opts.max_threads
             : ex->opts.threads    ? ex->opts.threads
                                   : default_threads();
  ex->opts.threads = n;
  if (pthread_mutex_init(&ex->mu, NULL)) {
    free(ex);
    fp__fail(err, FP_ERR_SYSTEM, "pthread_mutex_init failed");
    return NULL;
  }
  if (fp__cond_init(&ex->cond)) {
    pthread_mutex_destroy(&ex->mu);
    free(ex);
    fp__fail(err, FP_ERR_SYSTEM, "pthread_cond_init failed");
    return NULL;
  }
  if (fp__queue_init(&ex->queue, ex->opts.queue_capacity)) {
    pthread_cond_destroy(&ex->cond);
    pthread_mutex_destroy(&ex->mu);
    free(ex);
    fp__fail(err, FP_ERR_SYSTEM, "queue init failed");
    return NULL;
  }
  /* From here on fp_executor_free can undo whatever was set up. */
  atomic_init(&ex->abort, false);
  /* always a share: TLS sessions are shared whatever share_dns says */
  bool cookies = ex->opts.cookies || ex->opts.cookie_file;
  if (!(ex->share = fp__share_new(ex->opts.share_dns, cookies, err)))
    goto fail;
  if (ex->opts.cookie_file &&
      fp__share_load_cookies(ex->share, ex->opts.cookie_file, ex->opts.junk_session_cookies,
                             err))
    goto fail;
  ex->opts.cookie_file = NULL; /* the caller's string: not kept */
  if (!(ex->opts.rate >= 0) || isinf(ex->opts.rate)) {
    fp__fail(err, FP_ERR_INVALID_ARG, "rate must be a finite number >= 0");
    goto fail;
  }
  if (!(ex->opts.per_host_rate >= 0) || isinf(ex->opts.per_host_rate)) {
    fp__fail(err, FP_ERR_INVALID_ARG, "per_host_rate must be a finite number >= 0");
    goto fail;
  }
  if (!ex->opts.max_parked)
    ex->opts.max_parked = DEFAULT_MAX_PARKED;
  fp__queue_set_max_held(&ex->queue, ex->opts.max_parked);
  fp__hosts_options ho = {.per_host = ex->opts.per_host,
                          .threads_auto = ex->opts.threads_auto,
                          .max_threads = ex->opts.max_threads,
                          .cooldown = !ex->opts.no_host_cooldown,
                          .per_host_rate = ex->opts.per_host_rate};
  bool want_hosts = ho.per_host || ho.threads_auto || ho.cooldown || ho.per_host_rate > 0;
  if ((ex->opts.rate > 0 && !(ex->rate = fp__rate_new(ex->opts.rate))) ||
      (want_hosts && !(ex->hosts = fp__hosts_new(&ho)))) {
    fp__fail(err, FP_ERR_NOMEM, "out of memory");
    goto fail;
  }
  ex->jobs = (fp__jobctx){.queue = &ex->queue, .hosts = ex->hosts, .rate = ex->rate,
                          .abort = &ex->abort, .stopped = &ex->stopped};
  if (ex->opts.engine > FP_ENGINE_HYBRID) {
    fp__fail(err, FP_ERR_INVALID_ARG, "unknown engine %d", (int)ex->opts.engine);
    goto fail;
  }
  n = engine_threads(&ex->opts);
  if (!(ex->workers = calloc(n, sizeof *ex->workers))) {
    fp__fail(err, FP_ERR_NOMEM, "out of memory for %zu workers", n);
    goto fail;
  }
  ex->grow = ex->opts.threads_auto && ex->opts.engine == FP_ENGINE_THREADS;
  atomic_init(&ex->busy, 0);
  if (start_workers(ex, ex->grow && n > GROW_START ? GROW_START : n, n, err))
    goto fail;
  pthread_mutex_lock(&ex->mu);
  while (ex->ready < ex->nworkers)
    pthread_cond_wait(&ex->cond, &ex->mu);
  bool failed = ex->setup_failed;
  pthread_mutex_unlock(&ex->mu);
  if (failed) {
    fp__fail(err, FP_ERR_INITIALIZER, "a worker's initializer or curl setup failed");
    goto fail;
  }
  return ex;
fail:
  fp_executor_free(ex);
  return NULL;
}

fp_future *fp_executor_submit_timeout(fp_executor *ex, fp_request *req,
                                      double timeout, fp_error *err) {
  if (!ex || !fp_request_url(req)) {
    fp__fail(err, FP_ERR_INVALID_ARG, "executor and request must not be NULL");
    return NULL;
  }
  fp_future *f = fp__future_new(req);
  if (!f) {
    fp__fail(err, FP_ERR_NOMEM, "out of memory");
    return NULL;
  }
  struct timespec ts;
  fp_future_incref(f); /* the queue's reference */
  int rc = fp__queue_push(&ex->queue, f, fp__deadline_ptr(timeout, &ts));
  if (rc) {
    fp_future_decref(f);
    fp_future_decref(f);
    fp__fail(err, rc, rc == FP_ERR_SHUTDOWN ? "executor is shut down"
                                             : "queue stayed full for %.3f s", timeout);
    return NULL;
  }
  return f;
}

/* Futures made per lock round trip: enough to amortise the lock, few
 * enough that a blocked batch holds little memory beyond the queue. */
#define SUBMIT_CHUNK 256

size_t fp_executor_submit_many(fp_executor *ex, fp_request *const *reqs, size_t n,
                               double timeout, fp_future **futures_out, fp_error *err) {
  if (!ex || (n && (!reqs || !futures_out))) {
    fp__fail(err, FP_ERR_INVALID_ARG, "executor, requests and futures must not be NULL");
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    if (!fp_request_url(reqs[i])) {
      fp__fail(err, FP_ERR_INVALID_ARG, "requests[%zu] is NULL", i);
      return 0;
    }
  }
  struct timespec ts;
  const struct timespec *deadline = fp__deadline_ptr(timeout, &ts);
  size_t accepted = 0;
  while (accepted < n) {
    size_t chunk = n - accepted < SUBMIT_CHUNK ? n - accepted : SUBMIT_CHUNK, made = 0;
    fp_future **fs = futures_out + accepted;
    for (; made < chunk; made++) {
      if (!(fs[made] = fp__future_new(reqs[accepted + made])))
        break;
      fp_future_incref(fs[made]); /* the queue's reference */
    }
    int rc = FP_OK;
    size_t pushed = fp__queue_push_many(&ex->queue, fs, made, deadline, &rc);
    for (size_t i = pushed; i < made; i++) { /* both references */
      fp_future_decref(fs[i]);
      fp_future_decref(fs[i]);
      fs[i] = NULL;
    }
    accepted += pushed;
    if (rc == FP_OK && made < chunk)
      rc = FP_ERR_NOMEM;
    if (rc) {
      fp__fail(err, rc, rc == FP_ERR_SHUTDOWN      ? "executor is shut down"
                        : rc == FP_ERR_NOMEM        ? "out of memory"
                                                    : "queue stayed full for %.3f s", timeout);
      break;
    }
  }
  return accepted;
}

fp_future *fp_executor_submit(fp_executor *ex, fp_request *req, fp_error *err) {
  return fp_executor_submit_timeout(ex, req, FP_FOREVER, err);
}

fp_future *fp_executor_submit_url(fp_executor *ex, const char *url, fp_error *err) {
  fp_request *req = fp_request_new(url);
  if (!req) {
    fp__fail(err, url ? FP_ERR_NOMEM : FP_ERR_INVALID_ARG, "could not create request");
    return NULL;
  }
  fp_future *f = fp_executor_submit(ex, req, err);
  fp_request_decref(req);
  return f;
}

static bool on_worker_thread(const fp_executor *ex) {
  pthread_t self = pthread_self();
  for (size_t i = 0; ex->workers && i < ex->nworkers; i++)
    if (pthread_equal(self, ex->workers[i].thread))
      return true;
  return false;
}

void fp_executor_abort(fp_executor *ex) {
  if (!ex)
    return;
  atomic_store(&ex->abort, true);
  if (ex->rate)
    fp__rate_interrupt(ex->rate);
  fp__queue_flush_delayed(&ex->queue);
  /* Jobs parked for their host would wait for its permits, cooldown or
   * rate: they end now. (A job parking after this, past the abort check,
   * waits only for a permit: the host table ignores times from here on.) */
  if (ex->hosts)
    fp__job_cancel_list(&ex->jobs, fp__hosts_take_parked(ex->hosts));
  /* A thread-engine worker blocked in a transfer would see the flag only
   * at libcurl's next progress call, up to a second away when the
   * transfer is idle: wake each one now. The event loops were woken by
   * the flush. Lock order: ex->mu, then a transfer's socket lock. */
  pthread_mutex_lock(&ex->mu);
  for (size_t i = 0; ex->workers && i < ex->nworkers; i++)
    if (ex->workers[i].transfer)
      fp__transfer_interrupt(ex->workers[i].transfer);
  pthread_mutex_unlock(&ex->mu);
}

int fp_executor_shutdown(fp_executor *ex, bool wait, bool cancel_futures) {
  if (!ex)
    return FP_ERR_INVALID_ARG;
  if (wait && (on_worker_thread(ex) || !fp__thread_may_block()))
    return FP_ERR_WORKER_THREAD;
  if (cancel_futures) /* before the close wakes the engines, so they see it */
    atomic_store(&ex->stopped, true);
  fp__queue_close(&ex->queue);
  if (cancel_futures) {
    if (ex->rate) /* jobs waiting for a token get it now, and are cancelled */
      fp__rate_interrupt(ex->rate);
    /* Parked jobs first, so that permits given back below find nobody
     * waiting to be handed them. */
    fp_future *parked = ex->hosts ? fp__hosts_take_parked(ex->hosts) : NULL;
    fp__job_cancel_list(&ex->jobs, fp__queue_take_all(&ex->queue));
    fp__job_cancel_list(&ex->jobs, parked); /* releases their holds */
  }
  if (wait) {
    pthread_mutex_lock(&ex->mu);
    while (ex->live > 0)
      pthread_cond_wait(&ex->cond, &ex->mu);
    pthread_mutex_unlock(&ex->mu);
  }
  return FP_OK;
}

int fp_executor_free(fp_executor *ex) {
  if (!ex)
    return FP_OK;
  if (!fp__thread_may_block()) /* it would join, or free under, itself */
    return FP_ERR_WORKER_THREAD;
  fp_executor_shutdown(ex, true, false);
  for (size_t i = 0; ex->workers && i < ex->nworkers; i++)
    pthread_join(ex->workers[i].thread, NULL);
  free(ex->workers);
  fp__share_free(ex->share);
  fp__rate_free(ex->rate);
  fp__hosts_free(ex->hosts);
  fp__queue_destroy(&ex->queue);
  pthread_cond_destroy(&ex->cond);
  pthread_mutex_destroy(&ex->mu);
  free(ex);
  return FP_OK;
}

size_t fp_executor_hosts(fp_executor *ex, fp_host_info *out, size_t n) {
  if (!ex || !ex->hosts)
    return 0;
  return fp__hosts_info(ex->hosts, fp__now(), out, out ? n : 0);
}

int fp_executor_save_cookies(fp_executor *ex, const char *path, fp_error *err) {
  if (!ex)
    return fp__fail(err, FP_ERR_INVALID_ARG, "executor is NULL");
  return fp__share_save_cookies(ex->share, path, err);
}
