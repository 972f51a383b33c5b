/* future.c: futures: state machine, reference count, waits, cancel, done
 * callbacks and the waiters that fp_wait / fp_as_completed install.
 *
 * States move PENDING -> RUNNING -> FINISHED or PENDING -> CANCELLED, each
 * change under the future's own mutex. Callbacks run after the mutex is
 * released; waiters are notified under it (lock order: future, then
 * waiter). */
#include <errno.h>
#include <stdlib.h>

#include "fetchpool.h"
#include "future_private.h"
#include "clock.h"
#include "error.h"
#include "job.h"
#include "model.h"

typedef struct callback {
  fp_done_fn fn;
  void *userdata;
  struct callback *next;
} callback;

typedef struct waiter_link {
  fp__waiter *waiter;
  struct waiter_link *next;
} waiter_link;

struct fp_future {
  atomic_long refcount;
  pthread_mutex_t mu;
  pthread_cond_t done_cond;
  fp_state state;
  fp_request *req;
  fp_response *resp;
  callback *callbacks, *callbacks_tail;
  bool callbacks_ran;         /* done, and the callbacks due then have returned */
  pthread_t callbacks_thread; /* the thread running them, until they have */
  waiter_link *waiters;
  fp_future *next; /* queue link, owned by queue.c */
  fp__job job;     /* the engine's per-job state */
};

fp_future **fp__future_next(fp_future *f) { return &f->next; }
fp__job *fp__future_job(fp_future *f) { return &f->job; }

/* Per thread, never shared: see fp__thread_may_block. */
static _Thread_local bool thread_is_worker;
static _Thread_local unsigned thread_callback_depth;

void fp__thread_mark_worker(void) { thread_is_worker = true; }

bool fp__thread_may_block(void) { return !thread_is_worker && thread_callback_depth == 0; }

static void call_back(fp_done_fn fn, fp_future *f, void *userdata) {
  thread_callback_depth++;
  fn(f, userdata);
  thread_callback_depth--;
}

fp_future *fp__future_new(fp_request *req) {
  fp_future *f = calloc(1, sizeof *f);
  if (!f)
    return NULL;
  if (pthread_mutex_init(&f->mu, NULL)) {
    free(f);
    return NULL;
  }
  if (fp__cond_init(&f->done_cond)) {
    pthread_mutex_destroy(&f->mu);
    free(f);
    return NULL;
  }
  atomic_init(&f->refcount, 1);
  f->state = FP_PENDING;
  f->req = fp_request_incref(req);
  return f;
}

fp_future *fp_future_incref(fp_future *f) {
  if (f)
    atomic_fetch_add_explicit(&f->refcount, 1, memory_order_relaxed);
  return f;
}

void fp_future_decref(fp_future *f) {
  if (!f || atomic_fetch_sub_explicit(&f->refcount, 1, memory_order_acq_rel) != 1)
    return;
  /* Only reachable once done or never queued, so no waiters remain; a
   * callback list remains only for a future that never completed. */
  for (callback *c = f->callbacks, *next; c; c = next) {
    next = c->next;
    free(c);
  }
  for (waiter_link *l = f->waiters, *next; l; l = next) {
    next = l->next;
    free(l);
  }
  fp__response_free(f->resp);
  fp__response_free(f->job.last);
  free(f->job.host_key);
  fp_request_decref(f->req);
  pthread_cond_destroy(&f->done_cond);
  pthread_mutex_destroy(&f->mu);
  free(f);
}

static bool is_done(const fp_future *f) {
  return f->state == FP_FINISHED || f->state == FP_CANCELLED;
}

fp_state fp_future_state(fp_future *f) {
  pthread_mutex_lock(&f->mu);
  fp_state s = f->state;
  pthread_mutex_unlock(&f->mu);
  return s;
}

bool fp_future_done(fp_future *f) {
  fp_state s = fp_future_state(f);
  return s == FP_FINISHED || s == FP_CANCELLED;
}

bool fp_future_running(fp_future *f) { return fp_future_state(f) == FP_RUNNING; }
bool fp_future_cancelled(fp_future *f) { return fp_future_state(f) == FP_CANCELLED; }

fp_request *fp_future_request(fp_future *f) { return f ? f->req : NULL; }

bool fp__future_is_exception(fp_future *f) {
  return f->state == FP_FINISHED && (!f->resp || f->resp->error != FP_OK);
}

/* ---- waiters ---- */

int fp__waiter_init(fp__waiter *w, size_t ready_cap) {
  w->done = w->exceptions = 0;
  w->ready = NULL;
  w->ready_head = w->ready_len = 0;
  w->ready_cap = ready_cap;
  if (ready_cap && !(w->ready = calloc(ready_cap, sizeof *w->ready)))
    return FP_ERR_NOMEM;
  if (pthread_mutex_init(&w->mu, NULL))
    goto fail;
  if (fp__cond_init(&w->cond)) {
    pthread_mutex_destroy(&w->mu);
    goto fail;
  }
  return FP_OK;
fail:
  free(w->ready);
  return FP_ERR_SYSTEM;
}

void fp__waiter_destroy(fp__waiter *w) {
  pthread_cond_destroy(&w->cond);
  pthread_mutex_destroy(&w->mu);
  free(w->ready);
}

/* Called with f->mu held, after f became done. */
static void notify_waiter(fp__waiter *w, fp_future *f) {
  pthread_mutex_lock(&w->mu);
  w->done++;
  if (fp__future_is_exception(f))
    w->exceptions++;
  if (w->ready && w->ready_len < w->ready_cap) {
    w->ready[(w->ready_head + w->ready_len) % w->ready_cap] = f;
    w->ready_len++;
  }
  pthread_cond_broadcast(&w->cond);
  pthread_mutex_unlock(&w->mu);
}

int fp__future_add_waiter(fp_future *f, fp__waiter *w) {
  waiter_link *link = malloc(sizeof *link);
  if (!link)
    return FP_ERR_NOMEM;
  pthread_mutex_lock(&f->mu);
  if (is_done(f)) {
    pthread_mutex_unlock(&f->mu);
    free(link);
    return 0;
  }
  link->waiter = w;
  link->next = f->waiters;
  f->waiters = link;
  pthread_mutex_unlock(&f->mu);
  return 1;
}

void fp__future_remove_waiter(fp_future *f, fp__waiter *w) {
  pthread_mutex_lock(&f->mu);
  for (waiter_link **p = &f->waiters; *p; p = &(*p)->next) {
    if ((*p)->waiter == w) {
      waiter_link *dead = *p;
      *p = dead->next;
      free(dead);
      break;
    }
  }
  pthread_mutex_unlock(&f->mu);
}

/* ---- completion ---- */

/* Move f to a done state; returns the callbacks to run (caller runs them
 * with no lock held) or sets *moved false if f was already done. Called
 * with f->mu held. */
static callback *complete_locked(fp_future *f, fp_state state, fp_response *resp) {
  f->state = state;
  f->resp = resp;
  callback *todo = f->callbacks;
  f->callbacks = f->callbacks_tail = NULL;
  for (waiter_link *l = f->waiters, *next; l; l = next) {
    next = l->next;
    notify_waiter(l->waiter, f);
    free(l);
  }
  f->waiters = NULL;
  /* with callbacks due, fp_future_wait_callbacks waits until they ran */
  f->callbacks_ran = !todo;
  f->callbacks_thread = pthread_self();
  pthread_cond_broadcast(&f->done_cond);
  return todo;
}

static void run_callbacks(fp_future *f, callback *todo) {
  if (!todo)
    return;
  while (todo) {
    callback *next = todo->next;
    call_back(todo->fn, f, todo->userdata);
    free(todo);
    todo = next;
  }
  pthread_mutex_lock(&f->mu);
  f->callbacks_ran = true;
  pthread_cond_broadcast(&f->done_cond);
  pthread_mutex_unlock(&f->mu);
}

bool fp__future_start(fp_future *f) {
  pthread_mutex_lock(&f->mu);
  bool started = f->state == FP_PENDING;
  if (started)
    f->state = FP_RUNNING;
  pthread_mutex_unlock(&f->mu);
  return started;
}

void fp__future_finish(fp_future *f, fp_response *resp) {
  pthread_mutex_lock(&f->mu);
  callback *todo = complete_locked(f, FP_FINISHED, resp);
  pthread_mutex_unlock(&f->mu);
  run_callbacks(f, todo);
}

void fp__future_finish_cancelled(fp_future *f) {
  if (fp_future_cancel(f))
    return; /* it was still pending */
  /* A retry in waiting: it ran, so it finishes with what it has. */
  fp_response *resp = fp__response_new();
  if (resp) {
    fp__response_set_error(resp, FP_ERR_CANCELLED, "cancelled while waiting to retry");
    resp->attempts = f->job.attempts;
    resp->elapsed = f->job.attempts ? fp__now() - f->job.started : 0;
    resp->retry_after = -1;
  }
  fp__future_finish(f, resp);
}

bool fp_future_cancel(fp_future *f) {
  if (!f)
    return false;
  pthread_mutex_lock(&f->mu);
  if (f->state == FP_CANCELLED) {
    pthread_mutex_unlock(&f->mu);
    return true;
  }
  if (f->state != FP_PENDING) {
    pthread_mutex_unlock(&f->mu);
    return false;
  }
  callback *todo = complete_locked(f, FP_CANCELLED, NULL);
  pthread_mutex_unlock(&f->mu);
  run_callbacks(f, todo);
  return true;
}

/* ---- waiting ---- */

/* Whether f is done, and with callbacks, whether the callbacks due when it
 * became done have returned. Called with f->mu held. */
static bool reached(const fp_future *f, bool callbacks) {
  return is_done(f) && (!callbacks || f->callbacks_ran);
}

/* The one wait of a future: until it is done (and its callbacks ran, with
 * callbacks), timeout, or a wait that could be for the waiting thread
 * itself (a worker, a done callback, or one of f's own callbacks). */
static int wait_for(fp_future *f, double timeout, bool callbacks) {
  if (!f)
    return FP_ERR_INVALID_ARG;
  struct timespec ts;
  const struct timespec *deadline = fp__deadline_ptr(timeout, &ts);
  int rc = FP_OK;
  pthread_mutex_lock(&f->mu);
  while (!reached(f, callbacks)) {
    if ((callbacks && is_done(f) && pthread_equal(f->callbacks_thread, pthread_self())) ||
        (timeout != 0 && !fp__thread_may_block())) {
      rc = FP_ERR_WORKER_THREAD;
      break;
    }
    if (fp__cond_wait(&f->done_cond, &f->mu, deadline) == ETIMEDOUT && !reached(f, callbacks)) {
      rc = FP_ERR_WAIT_TIMEOUT;
      break;
    }
  }
  pthread_mutex_unlock(&f->mu);
  return rc;
}

int fp_future_wait(fp_future *f, double timeout) { return wait_for(f, timeout, false); }

int fp_future_wait_callbacks(fp_future *f, double timeout) { return wait_for(f, timeout, true); }

int fp_future_result(fp_future *f, double timeout, const fp_response **resp) {
  if (resp)
    *resp = NULL;
  int rc = fp_future_wait(f, timeout);
  if (rc)
    return rc;
  pthread_mutex_lock(&f->mu);
  rc = f->state == FP_CANCELLED ? FP_ERR_CANCELLED : f->resp ? FP_OK : FP_ERR_NOMEM;
  if (resp && rc == FP_OK)
    *resp = f->resp;
  pthread_mutex_unlock(&f->mu);
  return rc;
}

const fp_response *fp_future_response(fp_future *f) {
  if (!f)
    return NULL;
  pthread_mutex_lock(&f->mu);
  const fp_response *resp = f->state == FP_FINISHED ? f->resp : NULL;
  pthread_mutex_unlock(&f->mu);
  return resp;
}

int fp_future_outcome(fp_future *f, double timeout, fp_error *err) {
  fp_error_clear(err);
  if (!f)
    return fp__fail(err, FP_ERR_INVALID_ARG, "future is NULL");
  const fp_response *resp;
  int rc = fp_future_result(f, timeout, &resp);
  if (rc == FP_ERR_WAIT_TIMEOUT)
    return fp__fail(err, rc, "not done within %g s", timeout);
  if (rc != FP_OK) /* cancelled, or finished without a response */
    return fp__fail(err, rc, "%s", fp_strerror(rc));
  char buf[32];
  const char *msg;
  int code = fp__response_outcome(resp, &msg, buf, sizeof buf);
  return code == FP_OK ? FP_OK : fp__fail(err, code, "%s", msg);
}

int fp_future_add_done_callback(fp_future *f, fp_done_fn cb, void *userdata) {
  if (!f || !cb)
    return FP_ERR_INVALID_ARG;
  callback *c = malloc(sizeof *c);
  if (!c)
    return FP_ERR_NOMEM;
  c->fn = cb;
  c->userdata = userdata;
  c->next = NULL;
  pthread_mutex_lock(&f->mu);
  if (!is_done(f)) {
    if (f->callbacks_tail)
      f->callbacks_tail->next = c;
    else
      f->callbacks = c;
    f->callbacks_tail = c;
    pthread_mutex_unlock(&f->mu);
    return FP_OK;
  }
  pthread_mutex_unlock(&f->mu);
  free(c);
  call_back(cb, f, userdata);
  return FP_OK;
}

