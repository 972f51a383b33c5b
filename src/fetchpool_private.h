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
/* The timeout of one wait that must also end by the absolute time at
 * (fp__now() seconds; < 0: no such limit): the smaller of the two, never
 * below 0. A timeout < 0 means none. */
double fp__timeout_until(double timeout, double at);
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
  size_t headers_cap;
  size_t header_bytes; /* names and values, for FP_MAX_REQUEST_HEADER_BYTES */
  /* open-addressing index of headers by case-insensitive name: slot holds
   * position + 1, 0 when empty; hindex_cap is 0 or a power of two */
  size_t *hindex;
  size_t hindex_cap;
  char *body;
  size_t body_len;
  bool has_body;
  double timeout;         /* seconds for the whole job (every attempt and
                             retry wait), 0 = none */
  double attempt_timeout; /* seconds for one attempt, 0 = none */
  double connect_timeout; /* seconds, 0 = default */
  size_t max_body;
  bool follow_redirects;
  long max_redirs;
  bool keep_headers;
  bool insecure;
  char *user_agent; /* NULL = default */
  double stall_timeout; /* seconds below 1 byte/s, 0 = off */
  char *cacert;         /* NULL = system store */
  unsigned max_retries;
  double retry_base;     /* seconds */
  double retry_max_wait; /* seconds */
  uint64_t retry_statuses[10]; /* bit s set: status s is retried (s < 640) */
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
  double retry_after; /* the server's Retry-After in seconds, < 0 if none */
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
/* How a finished job ended, as its record says: FP_OK, FP_ERR_HTTP for a
 * status >= 400, the transfer error, or FP_ERR_NOMEM for no response.
 * *msg gets the record's error.message ("" for FP_OK): BORROWED from resp,
 * a static string, or buf (the HTTP status's text). */
int fp__response_outcome(const fp_response *resp, const char **msg, char *buf, size_t size);

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

/* Intrusive link used by the queue and the host list (whoever holds the
 * job owns it). */
fp_future **fp__future_next(fp_future *f);

/* Engine-side state of a job across its attempts. Only the worker that
 * holds the job (or the thread that took it from the queue) touches it. */
typedef struct fp__job {
  unsigned attempts;  /* attempts started */
  double started;     /* monotonic time the first attempt started */
  double due;         /* a retry's due time, while in the timer heap */
  fp_response *last;  /* the previous attempt's response, while retrying */
  char *host_key;     /* per-host limit key, computed on first use */
  bool holds_host;    /* owns a per-host slot */
} fp__job;

fp__job *fp__future_job(fp_future *f);
/* Finish a job that may be PENDING or RUNNING (a retry) as cancelled,
 * keeping the attempts made. Runs callbacks. */
void fp__future_finish_cancelled(fp_future *f);

/* ---- who may block (future.c) ----
 * A blocking call from a worker thread or from inside a done callback can
 * wait for the very thread it runs on. Each thread knows (thread-local, so
 * no state is shared) whether it is a worker and how deep in callbacks it
 * is; the blocking calls refuse with FP_ERR_WORKER_THREAD. */

/* The calling thread is an executor's worker from now on. */
void fp__thread_mark_worker(void);
/* False on a worker thread or inside a done callback. */
bool fp__thread_may_block(void);

/* ---- queue (queue.c) ---- */

typedef struct fp__queue {
  pthread_mutex_t mu;
  pthread_cond_t not_empty;
  pthread_cond_t not_full;
  fp_future *head, *tail;
  size_t len;
  size_t held; /* parked by the per-host limit, counted against cap */
  size_t cap;  /* 0 = unbounded */
  bool closed;
  bool flushing; /* abort: hand out retries now, whatever their due time */
  bool cancelled; /* shutdown with cancel: no new retries */
  fp_future **delayed; /* min-heap of retries by due time */
  size_t ndelayed, delayed_cap;
  struct {
    void (*fn)(void *);
    void *arg;
  } wakes[64]; /* FP__QUEUE_MAX_WAKES */
  size_t nwakes;
} fp__queue;

int fp__queue_init(fp__queue *q, size_t cap);
void fp__queue_destroy(fp__queue *q);
/* Append f (the queue steals the caller's reference on success). Blocks
 * while full until deadline (NULL = forever). FP_OK, FP_ERR_SHUTDOWN,
 * FP_ERR_WOULD_BLOCK. */
int fp__queue_push(fp__queue *q, fp_future *f, const struct timespec *deadline);
/* Append fs[0..n-1] in order under one lock, waiting for room while full
 * until deadline (NULL = forever); the queue steals the reference of each
 * one appended. Returns how many were (a prefix: all n, or fewer with
 * *rc FP_ERR_WOULD_BLOCK or FP_ERR_SHUTDOWN). */
size_t fp__queue_push_many(fp__queue *q, fp_future *const *fs, size_t n,
                           const struct timespec *deadline, int *rc);
/* Take the oldest future (caller gets the queue's reference). Blocks while
 * empty; returns NULL once closed and empty. */
fp_future *fp__queue_pop(fp__queue *q);
/* The same without blocking: NULL when nothing is ready, with *next_due
 * the monotonic time of the earliest retry (INFINITY if none) and
 * *finished true once pop would return NULL for good. */
fp_future *fp__queue_try_pop(fp__queue *q, double *next_due, bool *finished);
/* Call fn(arg), with the queue's lock held, after every change that may
 * give a consumer work (push, retry, unpark, close, flush): event loops
 * cannot sleep on not_empty. Up to FP__QUEUE_MAX_WAKES hooks; remove by
 * arg before arg goes away. */
#define FP__QUEUE_MAX_WAKES 64
int fp__queue_add_wake(fp__queue *q, void (*fn)(void *), void *arg);
void fp__queue_remove_wake(fp__queue *q, void *arg);
/* Add a retry due at monotonic time due (never blocks; not counted
 * against the capacity). FP_OK, FP_ERR_NOMEM, or FP_ERR_SHUTDOWN after
 * fp__queue_take_all (the job is then finished as cancelled). */
int fp__queue_push_delayed(fp__queue *q, fp_future *f, double due);
/* Count one job parked elsewhere (per-host limit) against the capacity,
 * and release n of those counts. A job is held before it becomes visible
 * where it is parked, so whoever takes it from there may release it. */
void fp__queue_hold(fp__queue *q);
void fp__queue_unhold(fp__queue *q, size_t n);
/* Put a parked job back at the front (releases its hold). */
void fp__queue_push_front_held(fp__queue *q, fp_future *f);
/* From now on pop hands out retries without waiting for them (abort). */
void fp__queue_flush_delayed(fp__queue *q);
/* Refuse further pushes, wake every waiter. Idempotent. Pop returns NULL
 * only once nothing is queued, delayed or held. */
void fp__queue_close(fp__queue *q);
/* Detach every queued future and every retry; returns the list head
 * (linked through fp__future_next) and leaves the queue empty. Retries
 * are refused from then on (shutdown with cancel). */
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
/* One easy handle, reused for every job of one worker. share may be NULL.
 * When *abort becomes true, the transfer in flight stops with
 * FP_ERR_CANCELLED (unless its response had all arrived: then it ends as
 * it would have) the next time libcurl calls back, at least once a
 * second. With track_sockets, the handle's sockets are also kept in a
 * list so that fp__transfer_interrupt can wake a blocking transfer at
 * once (only for a handle that owns its connections: the thread engine;
 * the multi engine's connections outlive its handles). */
fp__transfer *fp__transfer_new(fp__share *share, const atomic_bool *abort,
                               bool track_sockets, fp_error *err);
/* Wake a transfer blocked in fp__transfer_run after *abort became true:
 * shut its sockets down, so its wait ends now rather than at libcurl's
 * next once-a-second tick, and it ends as FP_ERR_CANCELLED (or as it
 * would have, if its response had all arrived). From any thread; t must
 * stay alive meanwhile (the executor's lock sees to that). */
void fp__transfer_interrupt(fp__transfer *t);
void fp__transfer_free(fp__transfer *t);
/* Run req to completion on t's handle (blocking). Always returns a
 * response (its error says how the transfer went), NULL only when memory
 * ran out. */
/* limit is this attempt's time limit in seconds (0: none), from
 * fp__job_attempt_limit. */
fp_response *fp__transfer_run(fp__transfer *t, const fp_request *req, double limit);
/* The same in two halves, for an event loop: begin configures the handle
 * for req and returns true (then drive fp__transfer_easy(t) and call
 * fp__transfer_end with its CURLcode), or false with *out the finished
 * response (a bad URL, out of memory: *out may be NULL). */
bool fp__transfer_begin(fp__transfer *t, const fp_request *req, double limit,
                        fp_response **out);
fp_response *fp__transfer_end(fp__transfer *t, int curl_code);
/* The CURL easy handle, for the multi engine (a void * so that only the
 * files that drive curl include it). */
void *fp__transfer_easy(fp__transfer *t);

/* ---- policies (policy_*.c): they know no curl ---- */

/* True when resp's outcome is one req retries (transient error, status). */
bool fp__retry_wanted(const fp_request *req, const fp_response *resp);
/* Seconds to wait before the next attempt after attempts tries, or < 0
 * for no retry. rng is the caller's jitter state. */
double fp__retry_delay(const fp_request *req, const fp_response *resp,
                       unsigned attempts, uint64_t *rng);
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

typedef struct fp__hosts fp__hosts;
fp__hosts *fp__hosts_new(size_t limit);
void fp__hosts_free(fp__hosts *h);
/* "host:port" of url, lowercased ("" when it has none). NEW (free). */
char *fp__host_key(const char *url);
/* Take a slot for key: 1 taken, 0 parked (the list now holds f and the
 * caller's reference), FP_ERR_NOMEM. */
int fp__hosts_acquire(fp__hosts *h, fp_future *f, const char *key);
/* Give a slot back. Returns the parked job the slot passed to (it now
 * holds the slot; the caller re-queues it), or NULL. */
fp_future *fp__hosts_release(fp__hosts *h, const char *key);
/* Detach every parked job (shutdown with cancel). */
fp_future *fp__hosts_take_parked(fp__hosts *h);

/* ---- a job's life across attempts (job.c), shared by the engines ---- */

typedef struct fp__jobctx {
  fp__queue *queue;
  fp__hosts *hosts; /* NULL: no per-host limit */
  fp__rate *rate;   /* NULL: no rate limit */
  const atomic_bool *abort;
  const atomic_bool *stopped; /* shutdown(cancel_futures) */
  uint64_t rng; /* retry jitter */
} fp__jobctx;

/* Seed c's retry jitter, distinct for each worker (seed: its index). */
void fp__jobctx_seed(fp__jobctx *c, uint64_t seed);
/* A popped job: take its host slot and start it. False when it was parked
 * or dropped (cancelled while queued); either way the caller is done. */
bool fp__job_claim(fp__jobctx *c, fp_future *f);
/* Just before a transfer: false when the executor aborts or was shut
 * down with cancel_futures (the job was finished as cancelled), or when a
 * retry comes after the job's deadline (its total timeout: the job was
 * finished with its last attempt's outcome); else counts the attempt. */
bool fp__job_begin_attempt(fp__jobctx *c, fp_future *f);
/* Time limit of the attempt just begun, in seconds (0: none): what is
 * left of the job's total timeout, or its attempt timeout if shorter. */
double fp__job_attempt_limit(fp_future *f);
/* Give f's host slot back, if it holds one: the slot passes to the
 * oldest job parked on that host, which goes back to the queue's front. */
void fp__job_give_host(fp__jobctx *c, fp_future *f);
/* Finish every job of a detached list (linked through fp__future_next) as
 * cancelled, giving back any host slot each holds; consumes the list's
 * references. Returns how many (shutdown with cancel_futures). */
size_t fp__job_cancel_list(fp__jobctx *c, fp_future *f);
/* After a transfer: give the host slot back, then finish the job with
 * resp (STOLEN) or schedule its retry. Consumes the job's reference. */
void fp__job_end_attempt(fp__jobctx *c, fp_future *f, fp_response *resp);

/* ---- engines (engine_threads.c, engine_multi.c) ---- */

/* One engine thread of an executor: a worker (threads engine) or an event
 * loop running up to slots transfers (multi engine). The executor fills
 * it in before the thread starts; the engine reads it and owns ctx. */
typedef struct fp__worker {
  fp_executor *ex;
  size_t index;
  size_t slots;
  fp__jobctx ctx;   /* the job life's context, this worker's own copy */
  fp__share *share; /* NULL: no shared DNS cache */
  pthread_t thread;
  /* the thread engine's transfer, while it may block in one: abort
   * interrupts it (under the executor's lock) */
  fp__transfer *transfer;
} fp__worker;

/* The worker loop: pop, claim, transfer, finish, until the queue closes.
 * Started by the executor with every asynchronous signal blocked. */
void *fp__engine_threads_main(void *worker);
/* The event loop: keep up to w->slots transfers running on one curl multi
 * handle, pulling jobs from the same queue, until it closes. */
void *fp__engine_multi_main(void *worker);

/* ---- executor (executor.c), as seen by an engine ---- */

/* A worker reports that its setup went (ok) or failed; when it went, the
 * user's initializer runs first, on the calling thread. Returns whether
 * the worker may go on (setup and initializer both went). */
bool fp__worker_ready(fp__worker *w, bool ok);
/* A worker reports that it is about to exit. */
void fp__worker_exit(fp__worker *w);
/* A thread-engine worker publishes its transfer (or NULL before freeing
 * it), for fp_executor_abort to interrupt. */
void fp__worker_set_transfer(fp__worker *w, fp__transfer *t);
/* The executor's queue: for tests that watch where a job waits. */
fp__queue *fp__executor_queue(fp_executor *ex);

#endif /* FETCHPOOL_PRIVATE_H */
