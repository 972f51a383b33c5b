/* fetchpool_private.h: internals shared between the library's files (fp__). */
#ifndef FETCHPOOL_PRIVATE_H
#define FETCHPOOL_PRIVATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "fetchpool.h"

/* ---- errors (error.c) ---- */

/* Fill err (if not NULL and still clear) with code and a printf message.
 * Returns code, so callers can `return fp__fail(err, FP_ERR_X, ...)`. */
int fp__fail(fp_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- time (clock.c) ---- */

/* A deadline on CLOCK_MONOTONIC; timeout < 0 means none (NULL is used). */
void fp__deadline(double timeout, struct timespec *ts);
/* Seconds on CLOCK_MONOTONIC. */
double fp__now(void);
/* pthread_cond_init on CLOCK_MONOTONIC. Returns 0 or an errno value. */
int fp__cond_init(pthread_cond_t *cond);
/* Wait on cond until deadline (NULL = forever). Returns 0 or ETIMEDOUT. */
int fp__cond_wait(pthread_cond_t *cond, pthread_mutex_t *mu,
                  const struct timespec *deadline);
/* Turn a user timeout into a deadline pointer: NULL when forever. */
const struct timespec *fp__deadline_ptr(double timeout, struct timespec *ts);

/* ---- requests (request.c) ---- */

typedef struct fp__header {
  char *name;
  char *value;
} fp__header;

struct fp_request {
  atomic_long refcount;
  char *url;
  char *method;
  fp__header *headers;
  size_t nheaders;
  char *body;
  size_t body_len;
  bool has_body;
  double timeout;         /* total seconds, 0 = none */
  double connect_timeout; /* seconds, 0 = default */
  size_t max_body;
  bool follow_redirects;
  long max_redirs;
  bool keep_headers;
  bool insecure;
  char *user_agent; /* NULL = default */
  fp_sink_fn sink;
  void *sink_userdata;
  json_t *id;
  bool has_index;
  uint64_t index;
  void *userdata;
};

/* ---- responses (response.c) ---- */

struct fp_response {
  int error;
  char *error_message;
  long status;
  char *effective_url;
  char *body; /* NUL-terminated, body_len bytes */
  size_t body_len;
  size_t body_cap;
  uint64_t bytes;
  fp__header *headers;
  size_t nheaders;
  size_t headers_cap;
  fp_timings timings;
  double elapsed; /* wall seconds of the whole job */
  unsigned attempts;
};

fp_response *fp__response_new(void);
void fp__response_free(fp_response *resp);
/* Set the error code and copy message (NULL for none). */
void fp__response_set_error(fp_response *resp, int code, const char *message);
/* Append len body bytes; returns FP_OK or FP_ERR_NOMEM. */
int fp__response_append_body(fp_response *resp, const char *data, size_t len);
/* Add a header (copies); FP_OK or FP_ERR_NOMEM. */
int fp__response_add_header(fp_response *resp, const char *name, size_t nlen,
                            const char *value, size_t vlen);
/* Drop kept headers (a new response in a redirect chain starts). */
void fp__response_clear_headers(fp_response *resp);

/* ---- futures (future.c) ---- */

/* A waiter installed on futures by fp_wait and fp_as_completed (as CPython
 * does): each future that becomes done calls fp__waiter_notify. Lock order:
 * a future's lock, then a waiter's lock; never the other way round. */
typedef struct fp__waiter {
  pthread_mutex_t mu;
  pthread_cond_t cond;
  size_t done;       /* futures done since installed */
  size_t exceptions; /* of those, finished with a transfer error */
  /* as_completed only: ring of futures that became done (cap slots) */
  fp_future **ready;
  size_t ready_head, ready_len, ready_cap;
} fp__waiter;

int fp__waiter_init(fp__waiter *w, size_t ready_cap);
void fp__waiter_destroy(fp__waiter *w);

/* Install w on f unless f is done. Returns 1 if installed, 0 if f was
 * already done (w not installed), or FP_ERR_NOMEM. */
int fp__future_add_waiter(fp_future *f, fp__waiter *w);
/* Remove w from f if installed. */
void fp__future_remove_waiter(fp_future *f, fp__waiter *w);
/* True when f finished with a transfer error (FIRST_EXCEPTION). */
bool fp__future_is_exception(fp_future *f);

/* New pending future for req (takes a reference to req). refcount 1. */
fp_future *fp__future_new(fp_request *req);
/* Worker side: PENDING -> RUNNING. Returns false if it was cancelled. */
bool fp__future_start(fp_future *f);
/* Worker side: RUNNING -> FINISHED with resp (stolen); runs callbacks and
 * wakes waiters, with no lock held while callbacks run. */
void fp__future_finish(fp_future *f, fp_response *resp);

/* Intrusive link used by the queue (only the queue touches it). */
fp_future **fp__future_next(fp_future *f);

/* ---- queue (queue.c) ---- */

typedef struct fp__queue {
  pthread_mutex_t mu;
  pthread_cond_t not_empty;
  pthread_cond_t not_full;
  fp_future *head, *tail;
  size_t len;
  size_t cap; /* 0 = unbounded */
  bool closed;
} fp__queue;

int fp__queue_init(fp__queue *q, size_t cap);
void fp__queue_destroy(fp__queue *q);
/* Append f (the queue steals the caller's reference on success). Blocks
 * while full until deadline (NULL = forever). FP_OK, FP_ERR_SHUTDOWN,
 * FP_ERR_WOULD_BLOCK. */
int fp__queue_push(fp__queue *q, fp_future *f, const struct timespec *deadline);
/* Take the oldest future (caller gets the queue's reference). Blocks while
 * empty; returns NULL once closed and empty. */
fp_future *fp__queue_pop(fp__queue *q);
/* Refuse further pushes, wake every waiter. Idempotent. */
void fp__queue_close(fp__queue *q);
/* Detach every queued future; returns the list head (linked through
 * fp__future_next) and leaves the queue empty. */
fp_future *fp__queue_take_all(fp__queue *q);

/* ---- transfer (transfer.c): the only file that includes curl ---- */

typedef struct fp__share fp__share;
typedef struct fp__transfer fp__transfer;

/* curl_global_init exactly once per process, thread-safely. FP_OK or
 * FP_ERR_INTERNAL. */
int fp__transfer_global_init(void);
/* A share handle for the DNS cache, one mutex per shared data kind. */
fp__share *fp__share_new(fp_error *err);
void fp__share_free(fp__share *share);
/* One easy handle, reused for every job of one worker. share may be NULL. */
fp__transfer *fp__transfer_new(fp__share *share, fp_error *err);
void fp__transfer_free(fp__transfer *t);
/* Run req to completion on t's handle (blocking). Always returns a
 * response (its error says how the transfer went), NULL only when memory
 * ran out. */
fp_response *fp__transfer_run(fp__transfer *t, const fp_request *req);

/* ---- engine (engine_threads.c) ---- */

/* One worker thread of an executor. */
typedef struct fp__worker {
  fp_executor *ex;
  size_t index;
  pthread_t thread;
} fp__worker;

/* The worker loop: pop, start, transfer, finish, until the queue closes.
 * Started by the executor with every asynchronous signal blocked. */
void *fp__engine_threads_main(void *worker);

/* ---- executor (executor.c), as seen by an engine ---- */

fp__queue *fp__executor_queue(fp_executor *ex);
fp__share *fp__executor_share(fp_executor *ex);
const fp_executor_options *fp__executor_options(fp_executor *ex);
/* A worker reports that it is ready (ok) or that its setup failed. */
void fp__executor_worker_ready(fp_executor *ex, bool ok);
/* A worker reports that it is about to exit. */
void fp__executor_worker_exit(fp_executor *ex);

#endif /* FETCHPOOL_PRIVATE_H */
