/* test_reliability.c: retries (backoff, Retry-After, exhaustion), the rate
 * and per-host limits, stall and total timeouts, abort, shutdown with jobs
 * waiting aside, and the failures a real network brings (bad redirects,
 * endless bodies, broken servers, DNS, a server dying mid-run), all against
 * the loopback test server. */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "testutil.h"

#include "executor_private.h" /* queue counters, to see where a job waits */

/* ---- helpers ---- */

/* Host cooldowns (on by default) pause a host after a 429 or 503 with
 * Retry-After: tests of how retries wait turn them off, so the other jobs
 * to the same test server are not paused too. */
static bool no_cooldown;

static fp_executor *executor(size_t threads, double rate, size_t per_host, size_t capacity) {
  fp_executor_options opts;
  fp_executor_options_init(&opts);
  opts.no_host_cooldown = no_cooldown;
  opts.threads = threads;
  opts.rate = rate;
  opts.per_host = per_host;
  opts.queue_capacity = capacity;
  fp_error err = {0};
  fp_executor *ex = fp_executor_new(&opts, &err);
  if (!ex)
    fail_msg("fp_executor_new: %s", err.text);
  return ex;
}

static fp_request *retrying(fp_request *req, unsigned max, double base, double max_wait) {
  assert_int_equal(fp_request_set_retries(req, max, base, max_wait), FP_OK);
  return req;
}

static void assert_error(fp_future *f, int code) {
  const fp_response *resp = tu_result(f);
  if (fp_response_error(resp) != code)
    fail_msg("error %s (%s), want %s", fp_code_name(fp_response_error(resp)),
             fp_response_error_message(resp), fp_code_name(code));
}

/* The record's error code ("ok" for none), attempts and ok flag. */
static void assert_record(fp_future *f, const char *code, long attempts, bool ok) {
  json_t *rec = fp_future_record(f, 0);
  assert_non_null(rec);
  json_t *err = json_object_get(rec, "error");
  const char *got = json_is_null(err) ? "ok" : json_string_value(json_object_get(err, "code"));
  assert_non_null(got);
  assert_string_equal(got, code);
  assert_int_equal(json_integer_value(json_object_get(rec, "attempts")), attempts);
  assert_int_equal(json_is_true(json_object_get(rec, "ok")), ok);
  json_decref(rec);
}

/* GET path on the suite's server with a throwaway request; its body as a
 * number (for /flaky-count and /concurrency-max). */
static long server_number(fp_executor *ex, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static long server_number(fp_executor *ex, const char *fmt, ...) {
  char path[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(path, sizeof path, fmt, ap);
  va_end(ap);
  fp_future *f = tu_submit_req(ex, tu_request("%s", path));
  const fp_response *resp = tu_result(f);
  assert_int_equal(fp_response_error(resp), FP_OK);
  assert_int_equal(fp_response_status(resp), 200);
  long n = atol(fp_response_body(resp, NULL));
  fp_future_decref(f);
  return n;
}

/* A port on 127.0.0.1 that refuses connections: bound, never listening,
 * and kept bound (close *fd after) so nobody else can take it meanwhile. */
static unsigned refusing_port(int *fd) {
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof sa;
  *fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(*fd >= 0);
  assert_int_equal(bind(*fd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(getsockname(*fd, (struct sockaddr *)&sa, &len), 0);
  return ntohs(sa.sin_port);
}

/* Wait (bounded) until pred(ex) holds. */
static void wait_until(bool (*pred)(fp_executor *, size_t), fp_executor *ex, size_t n) {
  double end = tu_now() + 10.0 * tu_time_scale();
  while (!pred(ex, n)) {
    if (tu_now() > end)
      fail_msg("condition not reached in time");
    usleep(2000);
  }
}

static bool retries_waiting(fp_executor *ex, size_t n) {
  fp__queue *q = fp__executor_queue(ex);
  pthread_mutex_lock(&q->mu);
  bool ok = q->ndelayed == n;
  pthread_mutex_unlock(&q->mu);
  return ok;
}

static bool jobs_queued_at_most(fp_executor *ex, size_t n) {
  fp__queue *q = fp__executor_queue(ex);
  pthread_mutex_lock(&q->mu);
  bool ok = q->len <= n;
  pthread_mutex_unlock(&q->mu);
  return ok;
}

static bool jobs_parked(fp_executor *ex, size_t n) {
  fp__queue *q = fp__executor_queue(ex);
  pthread_mutex_lock(&q->mu);
  bool ok = q->held == n;
  pthread_mutex_unlock(&q->mu);
  return ok;
}

static void wait_state(fp_future *f, fp_state state) {
  double end = tu_now() + 10.0 * tu_time_scale();
  while (fp_future_state(f) != state) {
    if (tu_now() > end)
      fail_msg("future never reached state %d", state);
    usleep(1000);
  }
}

/* Start just after a wall-clock second begins, so that an HTTP-date made
 * by the server (whole seconds) and the client's reading of it fall in the
 * same second. */
static void wait_fresh_second(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  usleep((useconds_t)((1000000000L - ts.tv_nsec) / 1000 + 20000));
}

static void count_callback(fp_future *f, void *userdata) {
  (void)f;
  atomic_fetch_add((atomic_int *)userdata, 1);
}

/* ---- retries ---- */

static void test_retry_then_ok(void **state) {
  (void)state;
  fp_executor *ex = executor(2, 0, 0, 0);
  fp_future *f = tu_submit_req(ex, retrying(tu_request("/flaky/ok1?fail=1"), 3, 0.05, 1));
  const fp_response *resp = tu_result(f);
  assert_int_equal(fp_response_error(resp), FP_OK);
  assert_int_equal(fp_response_status(resp), 200);
  assert_string_equal(fp_response_body(resp, NULL), "ok after 1");
  assert_int_equal(fp_response_attempts(resp), 2);
  assert_true(fp_response_ok(resp));
  assert_record(f, "ok", 2, true);
  assert_int_equal(server_number(ex, "/flaky-count/ok1"), 2);
  fp_future_decref(f);

  /* three failures, three retries: the fourth attempt succeeds */
  f = tu_submit_req(ex, retrying(tu_request("/flaky/ok3?fail=3&status=502"), 3, 0.02, 0.1));
  resp = tu_result(f);
  assert_int_equal(fp_response_status(resp), 200);
  assert_string_equal(fp_response_body(resp, NULL), "ok after 3");
  assert_int_equal(fp_response_attempts(resp), 4);
  assert_int_equal(server_number(ex, "/flaky-count/ok3"), 4);
  fp_future_decref(f);
  fp_executor_free(ex);
}

static void test_retry_after_seconds(void **state) {
  (void)state;
  double scale = tu_time_scale();
  fp_executor *ex = executor(2, 0, 0, 0);
  double t0 = tu_now();
  fp_future *f = tu_submit_req(ex, retrying(tu_request("/flaky/ra1?fail=1&retry_after=1"), 1, 0.01, 30));
  const fp_response *resp = tu_result(f);
  double took = tu_now() - t0;
  print_message("Retry-After: 1 took %.3f s (elapsed %.3f s)\n", took, fp_response_elapsed(resp));
  assert_int_equal(fp_response_status(resp), 200);
  assert_int_equal(fp_response_attempts(resp), 2);
  /* the server's wait, not the 10 ms backoff */
  assert_true(fp_response_elapsed(resp) >= 0.95);
  assert_true(took >= 0.95);
  assert_true(took < 1.0 + 0.5 * scale);
  fp_future_decref(f);
  fp_executor_free(ex);
}

static void test_retry_after_capped(void **state) {
  (void)state;
  double scale = tu_time_scale();
  fp_executor *ex = executor(2, 0, 0, 0);
  double t0 = tu_now();
  fp_future *f = tu_submit_req(ex, retrying(tu_request("/flaky/ra2?fail=1&retry_after=5"), 1, 0.01, 0.2));
  const fp_response *resp = tu_result(f);
  double took = tu_now() - t0;
  print_message("Retry-After: 5 with max_wait 0.2 took %.3f s\n", took);
  assert_int_equal(fp_response_status(resp), 200);
  assert_int_equal(fp_response_attempts(resp), 2);
  assert_true(fp_response_elapsed(resp) >= 0.19); /* waited the cap... */
  assert_true(took < 0.8 * scale);                /* ...and no more */
  fp_future_decref(f);
  fp_executor_free(ex);
}

static void test_retry_after_http_date(void **state) {
  (void)state;
  double scale = tu_time_scale();
  fp_executor *ex = executor(2, 0, 0, 0);
  wait_fresh_second();
  double t0 = tu_now();
  fp_future *f = tu_submit_req(
      ex, retrying(tu_request("/flaky/ra3?fail=1&status=429&retry_after=date%%2B1"), 1, 0.01, 30));
  const fp_response *resp = tu_result(f);
  double took = tu_now() - t0;
  print_message("Retry-After: <now + 1 s as HTTP-date> took %.3f s\n", took);
  assert_int_equal(fp_response_status(resp), 200);
  assert_string_equal(fp_response_body(resp, NULL), "ok after 1");
  assert_int_equal(fp_response_attempts(resp), 2);
  assert_true(took >= 0.95);
  assert_true(took < 1.0 + 0.5 * scale);
  fp_future_decref(f);
  fp_executor_free(ex);
}

static void test_retries_exhausted(void **state) {
  (void)state;
  fp_executor *ex = executor(2, 0, 0, 0);
  fp_future *f = tu_submit_req(ex, retrying(tu_request("/flaky/ex1?fail=10"), 2, 0.01, 0.05));
  const fp_response *resp = tu_result(f);
  /* the last attempt's response is the result */
  assert_int_equal(fp_response_error(resp), FP_OK);
  assert_int_equal(fp_response_status(resp), 503);
  assert_string_equal(fp_response_body(resp, NULL), "fail 3");
  assert_int_equal(fp_response_attempts(resp), 3);
  assert_false(fp_response_ok(resp));
  assert_record(f, "http", 3, false);
  assert_int_equal(server_number(ex, "/flaky-count/ex1"), 3);
  fp_future_decref(f);

  /* a status outside the retried set is final at once */
  f = tu_submit_req(ex, retrying(tu_request("/flaky/ex2?fail=1&status=500"), 5, 0.01, 0.05));
  resp = tu_result(f);
  assert_int_equal(fp_response_status(resp), 500);
  assert_int_equal(fp_response_attempts(resp), 1);
  assert_int_equal(server_number(ex, "/flaky-count/ex2"), 1);
  fp_future_decref(f);
  fp_executor_free(ex);
}

static void test_no_retry_by_default(void **state) {
  (void)state;
  fp_executor *ex = executor(2, 0, 0, 0);
  fp_future *f = tu_submit_req(ex, tu_request("/flaky/nr1?fail=1&retry_after=0"));
  const fp_response *resp = tu_result(f);
  assert_int_equal(fp_response_status(resp), 503);
  assert_string_equal(fp_response_body(resp, NULL), "fail 1");
  assert_int_equal(fp_response_attempts(resp), 1);
  assert_record(f, "http", 1, false);
  assert_int_equal(server_number(ex, "/flaky-count/nr1"), 1);
  fp_future_decref(f);
  fp_executor_free(ex);
}

static void test_connect_refused_retried(void **state) {
  (void)state;
  int fd;
  unsigned port = refusing_port(&fd);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%u/", port);
  fp_executor *ex = executor(2, 0, 0, 0);
  fp_request *req = fp_request_new(url);
  fp_future *f = tu_submit_req(ex, retrying(req, 2, 0.01, 0.05));
  assert_error(f, FP_ERR_CONNECT);
  assert_int_equal(fp_response_attempts(tu_result(f)), 3);
  assert_int_equal(fp_response_status(tu_result(f)), 0);
  assert_record(f, "connect", 3, false);
  fp_future_decref(f);
  fp_executor_free(ex);
  close(fd);
}

static void test_waiting_retry_holds_no_worker(void **state) {
  (void)state;
  no_cooldown = true; /* other jobs to the same host */
  double scale = tu_time_scale();
  fp_executor *ex = executor(1, 0, 0, 0);
  no_cooldown = false;
  double t0 = tu_now();
  fp_future *a = tu_submit_req(ex, retrying(tu_request("/flaky/hw1?fail=1&retry_after=1"), 1, 0.01, 30));
  fp_future *b = tu_submit_req(ex, tu_request("/hello"));
  /* the only worker is free while A waits for its retry, so B runs now */
  assert_int_equal(fp_future_wait(b, 0.5 * scale), FP_OK);
  double b_done = tu_now() - t0;
  assert_false(fp_future_done(a));
  const fp_response *resp = tu_result(a);
  double a_done = tu_now() - t0;
  print_message("B done after %.3f s, A after %.3f s\n", b_done, a_done);
  assert_int_equal(fp_response_status(tu_result(b)), 200);
  assert_int_equal(fp_response_status(resp), 200);
  assert_int_equal(fp_response_attempts(resp), 2);
  assert_true(b_done < 0.5 * scale);
  assert_true(a_done >= 0.95);
  fp_future_decref(a);
  fp_future_decref(b);
  fp_executor_free(ex);
}

static void test_waiting_retry_holds_no_host_slot(void **state) {
  (void)state;
  no_cooldown = true; /* other jobs to the same host */
  double scale = tu_time_scale();
  fp_executor *ex = executor(2, 0, 1, 0); /* one transfer per host */
  no_cooldown = false;
  double t0 = tu_now();
  fp_future *a = tu_submit_req(ex, retrying(tu_request("/flaky/hs1?fail=1&retry_after=1"), 1, 0.01, 30));
  wait_until(retries_waiting, ex, 1);
  fp_future *b = tu_submit_req(ex, tu_request("/hello")); /* same host */
  assert_int_equal(fp_future_wait(b, 0.5 * scale), FP_OK);
  assert_false(fp_future_done(a));
  assert_int_equal(fp_response_status(tu_result(b)), 200);
  assert_int_equal(fp_response_status(tu_result(a)), 200);
  assert_true(tu_now() - t0 >= 0.95);
  fp_future_decref(a);
  fp_future_decref(b);
  fp_executor_free(ex);
}

typedef struct order_log {
  pthread_mutex_t mu;
  int n;
  char order[8];
} order_log;

typedef struct order_entry {
  order_log *log;
  char name;
} order_entry;

static void log_order(fp_future *f, void *userdata) {
  (void)f;
  order_entry *e = userdata;
  pthread_mutex_lock(&e->log->mu);
  if (e->log->n < (int)sizeof e->log->order - 1)
    e->log->order[e->log->n++] = e->name;
  pthread_mutex_unlock(&e->log->mu);
}

static void test_retries_run_in_due_order(void **state) {
  (void)state;
  no_cooldown = true; /* other jobs to the same host */
  fp_executor *ex = executor(1, 0, 0, 0);
  no_cooldown = false;
  order_log log = {.n = 0};
  pthread_mutex_init(&log.mu, NULL);
  /* submitted A, B, C; their retries are due at 0.6, 0.2 and 0.4 s */
  static const char *const paths[3] = {"/flaky/do-a?fail=1&retry_after=0.6",
                                       "/flaky/do-b?fail=1&retry_after=0.2",
                                       "/flaky/do-c?fail=1&retry_after=0.4"};
  order_entry entries[3];
  fp_future *fs[3];
  for (int i = 0; i < 3; i++) {
    entries[i] = (order_entry){.log = &log, .name = (char)('A' + i)};
    fs[i] = tu_submit_req(ex, retrying(tu_request("%s", paths[i]), 1, 0.01, 30));
    assert_int_equal(fp_future_add_done_callback(fs[i], log_order, &entries[i]), FP_OK);
  }
  assert_int_equal(fp_wait(fs, 3, 30.0, FP_ALL_COMPLETED, NULL), FP_OK);
  /* callbacks run just after a future is seen done: joining the workers
   * makes sure the last one has run */
  fp_executor_free(ex);
  assert_string_equal(log.order, "BCA");
  for (int i = 0; i < 3; i++) {
    assert_int_equal(fp_response_status(tu_result(fs[i])), 200);
    assert_int_equal(fp_response_attempts(tu_result(fs[i])), 2);
    fp_future_decref(fs[i]);
  }
  pthread_mutex_destroy(&log.mu);
}

static void test_network_error_retried(void **state) {
  (void)state;
  fp_executor *ex = executor(2, 0, 0, 0);
  /* the body is cut off halfway, every time */
  fp_future *f = tu_submit_req(ex, retrying(tu_request("/close-mid-body?bytes=1000"), 2, 0.01, 0.05));
  assert_error(f, FP_ERR_NETWORK);
  assert_int_equal(fp_response_attempts(tu_result(f)), 3);
  assert_record(f, "network", 3, false);
  fp_future_decref(f);
  fp_executor_free(ex);
}

/* ---- rate limit ---- */

static void test_rate_limit_100_jobs(void **state) {
  (void)state;
  enum { N = 100 };
  double scale = tu_time_scale();
  fp_executor *ex = executor(8, 20, 0, 0);
  fp_future *fs[N];
  atomic_int done;
  atomic_init(&done, 0);
  double t0 = tu_now();
  for (int i = 0; i < N; i++) {
    fs[i] = tu_submit_req(ex, tu_request("/hello"));
    assert_int_equal(fp_future_add_done_callback(fs[i], count_callback, &done), FP_OK);
  }
  /* tokens at 0, 50, ..., 1000 ms: never more than 21 by the 1 s mark */
  usleep((useconds_t)((t0 + 0.99 - tu_now()) * 1e6));
  int by_1s = atomic_load(&done);
  assert_int_equal(fp_wait(fs, N, 60.0, FP_ALL_COMPLETED, NULL), FP_OK);
  double took = tu_now() - t0;
  print_message("100 jobs at 20/s: %.3f s (%d done by 1 s)\n", took, by_1s);
  assert_true(by_1s <= 21);
  /* 99 intervals of 50 ms: 4.95 s, within 5 % */
  assert_true(took >= 4.95 * 0.95);
  assert_true(took <= 4.95 * 1.05 + 0.25 * (scale - 1));
  for (int i = 0; i < N; i++) {
    assert_int_equal(fp_response_status(tu_result(fs[i])), 200);
    fp_future_decref(fs[i]);
  }
  fp_executor_free(ex);
}

static void test_rate_limit_slow(void **state) {
  (void)state;
  double scale = tu_time_scale();
  fp_executor *ex = executor(4, 0.5, 0, 0); /* one attempt every 2 s */
  fp_future *fs[3];
  double t0 = tu_now();
  for (int i = 0; i < 3; i++)
    fs[i] = tu_submit_req(ex, tu_request("/hello"));
  /* one goes at once (which one is up to the workers that popped them
   * together), the next only 2 s later */
  bool done[3];
  assert_int_equal(fp_wait(fs, 3, 1.0 * scale, FP_FIRST_COMPLETED, done), FP_OK);
  assert_true(tu_now() - t0 < 1.0 * scale);
  assert_int_equal(done[0] + done[1] + done[2], 1);
  assert_int_equal(fp_wait(fs, 3, 30.0, FP_ALL_COMPLETED, NULL), FP_OK);
  double took = tu_now() - t0;
  print_message("3 jobs at 0.5/s: %.3f s\n", took);
  assert_true(took >= 3.95);
  assert_true(took < 4.0 + 0.3 * scale);
  for (int i = 0; i < 3; i++)
    fp_future_decref(fs[i]);
  fp_executor_free(ex);
}

/* ---- per-host limit ---- */

static void test_per_host_limit(void **state) {
  (void)state;
  enum { N = 12 };
  double scale = tu_time_scale();
  fp_executor *ex = executor(8, 0, 2, 0);
  fp_executor *probe = executor(1, 0, 0, 0);
  server_number(probe, "/concurrency-reset/pha");
  server_number(probe, "/concurrency-reset/phb");
  fp_future *fs[2 * N];
  double t0 = tu_now();
  /* all of host a first: its parked jobs must not hold up host b */
  for (int i = 0; i < N; i++)
    fs[i] = tu_submit_req(ex, tu_request("/concurrency/pha?ms=200"));
  for (int i = 0; i < N; i++) {
    char url[128];
    snprintf(url, sizeof url, "http://localhost:%u/concurrency/phb?ms=200",
             (unsigned)ts_port(tu_server));
    fp_request *req = fp_request_new(url);
    assert_non_null(req);
    fs[N + i] = tu_submit_req(ex, req);
  }
  assert_int_equal(fp_wait(fs, 2 * N, 60.0, FP_ALL_COMPLETED, NULL), FP_OK);
  double took = tu_now() - t0;
  long max_a = server_number(probe, "/concurrency-max/pha");
  long max_b = server_number(probe, "/concurrency-max/phb");
  print_message("2 hosts x 12 jobs x 200 ms, 2 per host: %.3f s, max in flight %ld and %ld\n",
                took, max_a, max_b);
  assert_int_equal(max_a, 2);
  assert_int_equal(max_b, 2);
  /* each host runs 6 rounds of 200 ms side by side: 1.2 s, not 2.4 s */
  assert_true(took >= 1.2 - 0.01);
  assert_true(took < 1.2 + 0.6 * scale);
  for (int i = 0; i < 2 * N; i++) {
    const fp_response *resp = tu_result(fs[i]);
    assert_int_equal(fp_response_error(resp), FP_OK);
    assert_string_equal(fp_response_body(resp, NULL), "held 200");
    fp_future_decref(fs[i]);
  }
  fp_executor_free(ex);
  fp_executor_free(probe);
}

static void test_parked_jobs_capacity_and_cancel(void **state) {
  (void)state;
  double scale = tu_time_scale();
  /* one per host, capacity 2, a spare worker */
  fp_executor *ex = executor(2, 0, 1, 2);
  atomic_int calls[3];
  fp_future *fs[3];
  for (int i = 0; i < 3; i++) {
    atomic_init(&calls[i], 0);
    fs[i] = tu_submit_req(ex, tu_request("/delay/%d", i == 0 ? 500 : 10));
    assert_int_equal(fp_future_add_done_callback(fs[i], count_callback, &calls[i]), FP_OK);
    if (i == 0)
      wait_state(fs[0], FP_RUNNING);
  }
  /* the spare worker parked both others: they hold no worker... */
  wait_until(jobs_parked, ex, 2);
  assert_int_equal(fp_future_state(fs[1]), FP_PENDING);
  assert_int_equal(fp_future_state(fs[2]), FP_PENDING);
  /* ...and do not count against the capacity: another host's job is
   * taken and runs at once (issue 18: the reader never stops for them) */
  char url[128];
  snprintf(url, sizeof url, "http://localhost:%u/hello", (unsigned)ts_port(tu_server));
  fp_request *other = fp_request_new(url);
  fp_error err = {0};
  fp_future *of = fp_executor_submit_timeout(ex, other, 0.1, &err);
  assert_non_null(of);
  fp_request_decref(other);
  assert_int_equal(fp_response_status(tu_result(of)), 200);
  assert_int_equal(fp_future_state(fs[1]), FP_PENDING);
  fp_future_decref(of);
  /* shutdown(cancel) cancels the parked jobs and waits for the running one */
  double t0 = tu_now();
  assert_int_equal(fp_executor_shutdown(ex, true, true), FP_OK);
  assert_true(tu_now() - t0 < 1.0 * scale);
  assert_int_equal(fp_response_status(tu_result(fs[0])), 200);
  assert_record(fs[0], "ok", 1, true);
  for (int i = 1; i < 3; i++) {
    assert_true(fp_future_cancelled(fs[i]));
    assert_int_equal(fp_future_result(fs[i], 0, NULL), FP_ERR_CANCELLED);
    assert_record(fs[i], "cancelled", 0, false);
  }
  for (int i = 0; i < 3; i++) {
    assert_int_equal(atomic_load(&calls[i]), 1);
    fp_future_decref(fs[i]);
  }
  assert_true(jobs_parked(ex, 0));
  fp_executor_free(ex);
}

/* ---- timeouts ---- */

static void test_stall_timeout(void **state) {
  (void)state;
  fp_executor *ex = executor(2, 0, 0, 0);
  /* one byte every 3 s is below 1 byte/s: stalled after about 1 s */
  fp_request *req = tu_request("/drip?bytes=10&interval_ms=3000");
  assert_int_equal(fp_request_set_stall_timeout(req, 1), FP_OK);
  double t0 = tu_now();
  fp_future *slow = tu_submit_req(ex, req);
  /* four bytes a second is above it: the whole body arrives, even when
   * the transfer starts late in a second of the monotonic clock (libcurl's
   * own low-speed check samples once per whole second and took this for
   * a stall) */
  struct timespec mono;
  clock_gettime(CLOCK_MONOTONIC, &mono);
  usleep((useconds_t)((1850000000L - mono.tv_nsec) % 1000000000L / 1000));
  req = tu_request("/drip?bytes=4&interval_ms=250");
  assert_int_equal(fp_request_set_stall_timeout(req, 1), FP_OK);
  fp_future *ok = tu_submit_req(ex, req);
  assert_error(slow, FP_ERR_STALL_TIMEOUT);
  double took = tu_now() - t0;
  print_message("stalled after %.3f s\n", took);
  assert_true(took >= 0.9);
  assert_true(took < 2.9); /* before the first byte would have come */
  assert_record(slow, "stall_timeout", 1, false);
  const fp_response *resp = tu_result(ok);
  if (fp_response_error(resp) != FP_OK)
    fail_msg("4 bytes/s with a 1 s stall limit: %s (%s)", fp_code_name(fp_response_error(resp)),
             fp_response_error_message(resp));
  assert_string_equal(fp_response_body(resp, NULL), "abcd");
  fp_future_decref(slow);
  fp_future_decref(ok);

  /* a trickle under 1 byte/s stalls too, though no gap is as long as the
   * limit: a byte every 1.3 s against 2.5 s (8 bytes would take 10 s) */
  req = tu_request("/drip?bytes=8&interval_ms=1300");
  assert_int_equal(fp_request_set_stall_timeout(req, 2.5), FP_OK);
  t0 = tu_now();
  fp_future *trickle = tu_submit_req(ex, req);
  assert_error(trickle, FP_ERR_STALL_TIMEOUT);
  took = tu_now() - t0;
  print_message("trickle: stalled after %.3f s\n", took);
  assert_true(took >= 2.5);
  assert_true(took < 6.0 * tu_time_scale());
  fp_future_decref(trickle);

  /* bytes counted across a redirect: after a 302 with a 4 KiB body, a
   * drip of 5 bytes a second is no stall */
  char redir[128];
  snprintf(redir, sizeof redir, "http://127.0.0.1:%u/redirect-body-drip",
           (unsigned)ts_raw_port(tu_server));
  req = fp_request_new(redir);
  assert_int_equal(fp_request_set_stall_timeout(req, 1.0), FP_OK);
  fp_future *redirected = tu_submit_req(ex, req);
  resp = tu_result(redirected);
  if (fp_response_error(resp) != FP_OK)
    fail_msg("5 bytes/s after a redirect with a body: %s (%s)",
             fp_code_name(fp_response_error(resp)), fp_response_error_message(resp));
  assert_string_equal(fp_response_body(resp, NULL), "abcdefghij");
  fp_future_decref(redirected);

  /* a server that takes the request and never answers stalls too, and a
   * limit below a second works */
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%u/hang", (unsigned)ts_raw_port(tu_server));
  req = fp_request_new(url);
  assert_int_equal(fp_request_set_stall_timeout(req, 0.5), FP_OK);
  t0 = tu_now();
  fp_future *hang = tu_submit_req(ex, req);
  assert_error(hang, FP_ERR_STALL_TIMEOUT);
  took = tu_now() - t0;
  print_message("silent server: stalled after %.3f s\n", took);
  assert_true(took >= 0.5);
  assert_true(took < 1.6 * tu_time_scale());
  fp_future_decref(hang);
  fp_executor_free(ex);
}

static void test_timeout_codes_distinct(void **state) {
  (void)state;
  double scale = tu_time_scale();
  int fd;
  unsigned port = refusing_port(&fd);
  fp_executor *ex = executor(2, 0, 0, 0);
  fp_request *req = tu_request("/delay/3000");
  assert_int_equal(fp_request_set_timeouts(req, 0.3, 0), FP_OK);
  double t0 = tu_now();
  fp_future *total = tu_submit_req(ex, req);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%u/", port);
  fp_future *refused = tu_submit_req(ex, fp_request_new(url));
  assert_error(total, FP_ERR_TIMEOUT);
  assert_true(tu_now() - t0 < 0.3 + 0.5 * scale);
  assert_error(refused, FP_ERR_CONNECT);
  assert_record(total, "timeout", 1, false);
  assert_record(refused, "connect", 1, false);
  fp_future_decref(total);
  fp_future_decref(refused);
  fp_executor_free(ex);
  close(fd);
}

/* An executor of the given engine. */
static fp_executor *engine_executor(size_t threads, fp_engine engine) {
  fp_executor_options opts;
  fp_executor_options_init(&opts);
  opts.threads = threads;
  opts.engine = engine;
  fp_error err = {0};
  fp_executor *ex = fp_executor_new(&opts, &err);
  if (!ex)
    fail_msg("fp_executor_new: %s", err.text);
  return ex;
}

static const fp_engine engines[] = {FP_ENGINE_THREADS, FP_ENGINE_MULTI};

/* The total timeout is the job's: a server that never answers, with
 * retries, ends at the timeout with "timeout", not after each attempt
 * had the whole of it. */
static void test_timeout_spans_retries(void **state) {
  (void)state;
  double scale = tu_time_scale();
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%u/hang", (unsigned)ts_raw_port(tu_server));
  for (size_t e = 0; e < sizeof engines / sizeof engines[0]; e++) {
    fp_executor *ex = engine_executor(2, engines[e]);
    fp_request *req = retrying(fp_request_new(url), 3, 0.01, 0.05);
    assert_int_equal(fp_request_set_timeouts(req, 0.6, 0), FP_OK);
    double t0 = tu_now();
    fp_future *f = tu_submit_req(ex, req);
    assert_error(f, FP_ERR_TIMEOUT);
    double took = tu_now() - t0;
    print_message("engine %d: timeout 0.6 with 3 retries ended after %.3f s\n", (int)engines[e],
                  took);
    assert_true(took >= 0.55);
    assert_true(took < 0.6 + 0.5 * scale); /* before: 4 x 0.6 s */
    assert_record(f, "timeout", 1, false);
    fp_future_decref(f);
    fp_executor_free(ex);
  }
}

/* A retry whose wait would end past the job's deadline is not made: the
 * job ends at once with the last attempt's outcome. */
static void test_retry_wait_past_deadline(void **state) {
  (void)state;
  double scale = tu_time_scale();
  fp_executor *ex = executor(2, 0, 0, 0);
  fp_request *req = retrying(tu_request("/flaky/dl1?fail=3&retry_after=5"), 3, 0.01, 30);
  assert_int_equal(fp_request_set_timeouts(req, 1.0, 0), FP_OK);
  double t0 = tu_now();
  fp_future *f = tu_submit_req(ex, req);
  const fp_response *resp = tu_result(f);
  double took = tu_now() - t0;
  print_message("Retry-After: 5 past a 1 s timeout: done after %.3f s\n", took);
  assert_int_equal(fp_response_status(resp), 503);
  assert_true(took < 0.5 * scale); /* before: 5 s, then a second attempt */
  assert_record(f, "http", 1, false);
  fp_future_decref(f);
  assert_int_equal(server_number(ex, "/flaky-count/dl1"), 1);
  fp_executor_free(ex);
}

/* The last attempt gets only what is left of the job's time: 503s that
 * each take 0.4 s, with a 1 s timeout, end at about 1 s with "timeout". */
static void test_last_attempt_gets_time_left(void **state) {
  (void)state;
  double scale = tu_time_scale();
  for (size_t e = 0; e < sizeof engines / sizeof engines[0]; e++) {
    fp_executor *ex = engine_executor(2, engines[e]);
    fp_request *req = retrying(tu_request("/status/503?delay=400"), 5, 0.01, 0.02);
    assert_int_equal(fp_request_set_timeouts(req, 1.0, 0), FP_OK);
    double t0 = tu_now();
    fp_future *f = tu_submit_req(ex, req);
    assert_error(f, FP_ERR_TIMEOUT);
    double took = tu_now() - t0;
    unsigned attempts = fp_response_attempts(tu_result(f));
    print_message("engine %d: 0.4 s 503s under a 1 s timeout: %u attempts, %.3f s\n",
                  (int)engines[e], attempts, took);
    assert_true(took >= 0.95);
    assert_true(took < 1.0 + 0.4 * scale); /* before: 6 x 0.4 s, ending 503 */
    assert_true(attempts >= 2 && attempts <= 3);
    fp_future_decref(f);
    fp_executor_free(ex);
  }
}

/* The attempt timeout limits each attempt on its own; a timed-out attempt
 * is retried. */
static void test_attempt_timeout(void **state) {
  (void)state;
  double scale = tu_time_scale();
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%u/hang", (unsigned)ts_raw_port(tu_server));
  fp_executor *ex = executor(2, 0, 0, 0);
  fp_request *req = retrying(fp_request_new(url), 2, 0.01, 0.02);
  assert_int_equal(fp_request_set_attempt_timeout(req, 0.3), FP_OK);
  assert_int_equal(fp_request_set_attempt_timeout(req, -1), FP_ERR_INVALID_ARG);
  double t0 = tu_now();
  fp_future *f = tu_submit_req(ex, req);
  assert_error(f, FP_ERR_TIMEOUT);
  double took = tu_now() - t0;
  print_message("3 attempts of 0.3 s: %.3f s\n", took);
  assert_record(f, "timeout", 3, false);
  assert_true(took >= 0.85);
  assert_true(took < 0.9 + 0.6 * scale);
  fp_future_decref(f);

  /* under a shorter total timeout, the total wins */
  req = retrying(fp_request_new(url), 2, 0.01, 0.02);
  assert_int_equal(fp_request_set_attempt_timeout(req, 0.3), FP_OK);
  assert_int_equal(fp_request_set_timeouts(req, 0.45, 0), FP_OK);
  t0 = tu_now();
  f = tu_submit_req(ex, req);
  assert_error(f, FP_ERR_TIMEOUT);
  took = tu_now() - t0;
  assert_record(f, "timeout", 2, false);
  assert_true(took < 0.45 + 0.4 * scale);
  fp_future_decref(f);
  fp_executor_free(ex);
}

/* ---- abort and shutdown ---- */

static void test_abort_in_flight(void **state) {
  (void)state;
  double scale = tu_time_scale();
  fp_executor *ex = executor(4, 0, 0, 0);
  fp_future *fs[4];
  unsigned long before = ts_requests(tu_server);
  for (int i = 0; i < 4; i++)
    fs[i] = tu_submit_req(ex, tu_request("/delay/5000"));
  double end = tu_now() + 10.0 * scale;
  while (ts_requests(tu_server) < before + 4 && tu_now() < end)
    usleep(2000);
  double t0 = tu_now();
  fp_executor_abort(ex);
  assert_int_equal(fp_wait(fs, 4, 1.5 * scale, FP_ALL_COMPLETED, NULL), FP_OK);
  print_message("4 transfers aborted in %.3f s\n", tu_now() - t0);
  for (int i = 0; i < 4; i++) {
    assert_error(fs[i], FP_ERR_CANCELLED);
    assert_record(fs[i], "cancelled", 1, false);
    fp_future_decref(fs[i]);
  }
  /* not shut down, but whatever comes now is cancelled too */
  fp_future *late = tu_submit_req(ex, tu_request("/hello"));
  assert_int_equal(fp_future_wait(late, 5.0 * scale), FP_OK);
  assert_record(late, "cancelled", 0, false);
  fp_future_decref(late);
  fp_executor_free(ex);
}

/* The thread engine stops idle transfers at once on abort, not at
 * libcurl's next once-a-second progress call: 40 workers each waiting on
 * a silent server all end within a fraction of that second. */
static void test_abort_wakes_idle_workers(void **state) {
  (void)state;
  enum { N = 40 };
  double scale = tu_time_scale();
  fp_executor *ex = engine_executor(N, FP_ENGINE_THREADS);
  fp_future *fs[N];
  unsigned long before = ts_requests(tu_server);
  for (int i = 0; i < N; i++)
    fs[i] = tu_submit_req(ex, tu_request("/delay/10000"));
  double end = tu_now() + 10.0 * scale;
  while (ts_requests(tu_server) < before + N && tu_now() < end)
    usleep(2000);
  assert_true(ts_requests(tu_server) >= before + N);
  /* past libcurl's early timers (its happy-eyeballs timeout fires 200 ms
   * after connecting): every worker now waits in poll() for up to 1 s */
  usleep(400000);
  double t0 = tu_now();
  fp_executor_abort(ex);
  assert_int_equal(fp_wait(fs, N, 0.5 * scale, FP_ALL_COMPLETED, NULL), FP_OK);
  print_message("%d idle transfers aborted in %.3f s\n", N, tu_now() - t0);
  for (int i = 0; i < N; i++) {
    assert_record(fs[i], "cancelled", 1, false);
    fp_future_decref(fs[i]);
  }
  fp_executor_free(ex);
}

typedef struct abort_at_end {
  fp_executor *ex;
  size_t want, got;
} abort_at_end;

/* A sink that aborts the executor as the last byte of the body arrives. */
static int abort_on_last_byte(void *userdata, const void *data, size_t len) {
  abort_at_end *a = userdata;
  if (!data) {
    a->got = 0;
    return 0;
  }
  a->got += len;
  if (a->got == a->want)
    fp_executor_abort(a->ex);
  return 0;
}

/* A transfer whose response has all arrived when the abort comes ends as
 * it was (200), not "cancelled": libcurl calls the progress callback once
 * more after the last byte. */
static void test_abort_keeps_completed_response(void **state) {
  (void)state;
  for (size_t e = 0; e < sizeof engines / sizeof engines[0]; e++) {
    fp_executor *ex = engine_executor(2, engines[e]);
    abort_at_end a = {.ex = ex, .want = 100000};
    fp_request *req = tu_request("/bytes/100000");
    assert_int_equal(fp_request_set_sink(req, abort_on_last_byte, &a), FP_OK);
    fp_future *f = tu_submit_req(ex, req);
    const fp_response *resp = tu_result(f);
    if (fp_response_error(resp) != FP_OK)
      fail_msg("engine %d: %s (%s)", (int)engines[e], fp_code_name(fp_response_error(resp)),
               fp_response_error_message(resp));
    assert_int_equal(fp_response_status(resp), 200);
    assert_int_equal(fp_response_bytes(resp), 100000);
    assert_record(f, "ok", 1, true);
    fp_future_decref(f);
    /* the abort did happen: what comes next is cancelled */
    fp_future *late = tu_submit_req(ex, tu_request("/hello"));
    assert_int_equal(fp_future_wait(late, 5.0 * tu_time_scale()), FP_OK);
    assert_record(late, "cancelled", 0, false);
    fp_future_decref(late);
    fp_executor_free(ex);
  }
}

static void test_abort_waiting_retry(void **state) {
  (void)state;
  double scale = tu_time_scale();
  fp_executor *ex = executor(2, 0, 0, 0);
  atomic_int calls;
  atomic_init(&calls, 0);
  fp_future *f = tu_submit_req(ex, retrying(tu_request("/flaky/ab1?fail=1&retry_after=10"), 1, 0.01, 30));
  assert_int_equal(fp_future_add_done_callback(f, count_callback, &calls), FP_OK);
  wait_until(retries_waiting, ex, 1);
  double t0 = tu_now();
  fp_executor_abort(ex);
  assert_int_equal(fp_future_wait(f, 0.5 * scale), FP_OK);
  print_message("waiting retry aborted in %.3f s\n", tu_now() - t0);
  assert_error(f, FP_ERR_CANCELLED);
  assert_int_equal(fp_response_attempts(tu_result(f)), 1);
  assert_record(f, "cancelled", 1, false);
  fp_future_decref(f);
  fp_executor_free(ex); /* the worker ran the callback before it exited */
  assert_int_equal(atomic_load(&calls), 1);
  /* the retry never reached the server */
  fp_executor *probe = executor(1, 0, 0, 0);
  assert_int_equal(server_number(probe, "/flaky-count/ab1"), 1);
  fp_executor_free(probe);
}

/* Three jobs on 2 workers at one token a minute: returns the index of the
 * one that got the first token and ran (the others' workers race for it:
 * any of the first two may win), once the other worker holds a second job
 * in the token wait (or about to enter it: the rate's stop is sticky) and
 * the third is queued or held the same way. */
static int rate_wait_setup(fp_executor *ex, fp_future **fs) {
  double scale = tu_time_scale();
  for (int i = 0; i < 3; i++)
    fs[i] = tu_submit_req(ex, tu_request("/hello"));
  bool done[3] = {false};
  assert_int_equal(fp_wait(fs, 3, 5.0 * scale, FP_FIRST_COMPLETED, done), FP_OK);
  int ran = done[0] ? 0 : done[1] ? 1 : 2;
  wait_until(jobs_queued_at_most, ex, 1);
  for (int i = 0; i < 3; i++)
    if (i != ran) /* not started before its token */
      assert_int_equal(fp_future_state(fs[i]), FP_PENDING);
  return ran;
}

static void test_abort_interrupts_rate_wait(void **state) {
  (void)state;
  double scale = tu_time_scale();
  /* one token a minute: a second job waits for its token however slow
   * the first transfer is (valgrind) */
  fp_executor *ex = executor(2, 1.0 / 60, 0, 0);
  fp_future *fs[3];
  int ran = rate_wait_setup(ex, fs);
  double t0 = tu_now();
  fp_executor_abort(ex);
  /* the next token is a minute away: ending within 5 s proves the abort
   * cut the wait short */
  assert_int_equal(fp_wait(fs, 3, 5.0 * scale, FP_ALL_COMPLETED, NULL), FP_OK);
  print_message("rate wait aborted in %.3f s\n", tu_now() - t0);
  assert_true(tu_now() - t0 < 5.0 * scale);
  assert_int_equal(fp_response_status(tu_result(fs[ran])), 200);
  for (int i = 0; i < 3; i++) {
    if (i == ran)
      continue;
    json_t *rec = fp_future_record(fs[i], 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(rec, "error"), "code")),
                        "cancelled");
    assert_int_equal(json_integer_value(json_object_get(rec, "attempts")), 0);
    json_decref(rec);
  }
  for (int i = 0; i < 3; i++)
    fp_future_decref(fs[i]);
  fp_executor_free(ex);
}

static void test_shutdown_cancel_interrupts_rate_wait(void **state) {
  /* shutdown(cancel_futures) stops dispatching: jobs that hold a worker
   * while they wait for a token have not started: they start no transfer
   * and are cancelled now, as the queued ones */
  (void)state;
  double scale = tu_time_scale();
  fp_executor *ex = executor(2, 1.0 / 60, 0, 0);
  fp_future *fs[3];
  int ran = rate_wait_setup(ex, fs);
  unsigned long before = ts_requests(tu_server);
  double t0 = tu_now();
  assert_int_equal(fp_executor_shutdown(ex, true, true), FP_OK);
  assert_true(tu_now() - t0 < 1.0 * scale);
  assert_int_equal(ts_requests(tu_server), before);
  assert_int_equal(fp_response_status(tu_result(fs[ran])), 200);
  /* one waiting for its token, the other too or queued: both cancelled,
   * no response, a cancelled record */
  for (int i = 0; i < 3; i++) {
    if (i == ran)
      continue;
    assert_int_equal(fp_future_state(fs[i]), FP_CANCELLED);
    assert_record(fs[i], "cancelled", 0, false);
  }
  for (int i = 0; i < 3; i++)
    fp_future_decref(fs[i]);
  fp_executor_free(ex);
}

static void test_shutdown_cancel_waiting_retry(void **state) {
  (void)state;
  double scale = tu_time_scale();
  fp_executor *ex = executor(2, 0, 0, 0);
  atomic_int calls;
  atomic_init(&calls, 0);
  fp_future *f = tu_submit_req(ex, retrying(tu_request("/flaky/sd1?fail=1&retry_after=10"), 1, 0.01, 30));
  assert_int_equal(fp_future_add_done_callback(f, count_callback, &calls), FP_OK);
  wait_until(retries_waiting, ex, 1);
  double t0 = tu_now();
  assert_int_equal(fp_executor_shutdown(ex, true, true), FP_OK);
  assert_true(tu_now() - t0 < 0.5 * scale);
  assert_true(fp_future_done(f));
  assert_error(f, FP_ERR_CANCELLED);
  assert_int_equal(fp_response_attempts(tu_result(f)), 1);
  assert_record(f, "cancelled", 1, false);
  assert_int_equal(atomic_load(&calls), 1);
  assert_true(retries_waiting(ex, 0));
  fp_future_decref(f);
  fp_executor_free(ex);
}

static void test_shutdown_wait_runs_waiting_retry(void **state) {
  (void)state;
  double scale = tu_time_scale();
  fp_executor *ex = executor(2, 0, 0, 0);
  fp_future *f = tu_submit_req(ex, retrying(tu_request("/flaky/sd2?fail=1&retry_after=1"), 1, 0.01, 30));
  wait_until(retries_waiting, ex, 1);
  double t0 = tu_now();
  /* without cancel, a waiting retry is work still to do */
  assert_int_equal(fp_executor_shutdown(ex, true, false), FP_OK);
  double took = tu_now() - t0;
  assert_true(took >= 0.5);
  assert_true(took < 1.0 + 0.5 * scale);
  assert_int_equal(fp_response_status(tu_result(f)), 200);
  assert_int_equal(fp_response_attempts(tu_result(f)), 2);
  fp_future_decref(f);
  fp_executor_free(ex);
}

static void test_shutdown_cancel_during_attempt(void **state) {
  (void)state;
  double scale = tu_time_scale();
  fp_executor *ex = executor(2, 0, 0, 0);
  atomic_int calls;
  atomic_init(&calls, 0);
  /* in flight for 300 ms, then a 503 asking for a retry in 10 s */
  fp_future *f = tu_submit_req(
      ex, retrying(tu_request("/flaky/sd3?fail=1&retry_after=10&delay=300"), 1, 0.01, 30));
  assert_int_equal(fp_future_add_done_callback(f, count_callback, &calls), FP_OK);
  wait_state(f, FP_RUNNING);
  double t0 = tu_now();
  /* the running attempt ends; the retry it asks for comes after the
   * cancel and is cancelled too, not waited for */
  assert_int_equal(fp_executor_shutdown(ex, true, true), FP_OK);
  double took = tu_now() - t0;
  print_message("shutdown(cancel) with an attempt in flight: %.3f s\n", took);
  assert_true(took < 0.3 + 0.5 * scale);
  assert_error(f, FP_ERR_CANCELLED);
  assert_int_equal(fp_response_attempts(tu_result(f)), 1);
  assert_record(f, "cancelled", 1, false);
  assert_int_equal(atomic_load(&calls), 1);
  fp_future_decref(f);
  fp_executor_free(ex);
}

/* ---- what a real network brings ---- */

static void test_hostile_responses(void **state) {
  (void)state;
  double scale = tu_time_scale();
  fp_executor *ex = executor(4, 0, 0, 0);
  fp_future *file = tu_submit_req(ex, tu_request("/redirect-to?url=file%%3A%%2F%%2F%%2Fetc%%2Fpasswd"));
  fp_future *loop = tu_submit_req(ex, tu_request("/redirect-loop"));
  fp_request *req = tu_request("/bytes/1000000000?chunked=1");
  assert_int_equal(fp_request_set_max_body(req, 1 << 20), FP_OK);
  unsigned long long streamed0 = ts_bytes_streamed(tu_server);
  double t0 = tu_now();
  fp_future *endless = tu_submit_req(ex, req);
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%u/garbage", (unsigned)ts_raw_port(tu_server));
  fp_future *garbage = tu_submit_req(ex, fp_request_new(url));

  assert_error(endless, FP_ERR_BODY_TOO_LARGE);
  double took = tu_now() - t0;
  print_message("endless body stopped after %.3f s\n", took);
  assert_true(took < 2.0 * scale);
  assert_true(fp_response_bytes(tu_result(endless)) <= (1 << 20));
  /* stopped at the cap, not after reading on: the server produced little
   * more than the cap and what the loopback socket buffers hold (a few
   * MiB), not the 1 GB it was asked for */
  usleep(100000); /* the server notices the closed socket */
  unsigned long long streamed = ts_bytes_streamed(tu_server) - streamed0;
  print_message("server produced %llu bytes of the endless body\n", streamed);
  assert_true(streamed < 48ull << 20);
  assert_record(endless, "body_too_large", 1, false);
  assert_error(file, FP_ERR_UNSUPPORTED_PROTOCOL);
  assert_record(file, "unsupported_protocol", 1, false);
  assert_error(loop, FP_ERR_TOO_MANY_REDIRECTS);
  assert_record(loop, "too_many_redirects", 1, false);
  assert_error(garbage, FP_ERR_PROTOCOL);
  assert_record(garbage, "protocol", 1, false);
  fp_future_decref(file);
  fp_future_decref(loop);
  fp_future_decref(endless);
  fp_future_decref(garbage);
  fp_executor_free(ex);
}

static void test_dns_failure(void **state) {
  (void)state;
  /* A 64-byte label cannot go into a DNS query (63 at most), so the
   * resolver fails before sending one: a .invalid name that is known not
   * to resolve without any packet leaving loopback. */
  char url[128];
  snprintf(url, sizeof url, "http://%.64s.invalid/",
           "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
  fp_executor *ex = executor(1, 0, 0, 0);
  fp_request *req = fp_request_new(url);
  fp_future *f = tu_submit_req(ex, retrying(req, 3, 0.01, 0.05)); /* not a transient error */
  assert_error(f, FP_ERR_DNS);
  assert_int_equal(fp_response_attempts(tu_result(f)), 1);
  assert_record(f, "dns", 1, false);
  fp_future_decref(f);
  fp_executor_free(ex);
}

static void test_server_dies_mid_run(void **state) {
  (void)state;
  enum { N = 20, THREADS = 8 };
  double scale = tu_time_scale();
  ts_server *srv = ts_start(NULL);
  assert_non_null(srv);
  fp_executor *ex = executor(THREADS, 0, 0, 0);
  fp_future *fs[N];
  for (int i = 0; i < N; i++) {
    char url[128];
    ts_url(srv, "/delay/300", url, sizeof url);
    fs[i] = tu_submit_req(ex, fp_request_new(url));
  }
  /* stop it once every worker is in a transfer on it */
  double end = tu_now() + 10.0 * scale;
  while (ts_requests(srv) < THREADS && tu_now() < end)
    usleep(2000);
  assert_true(ts_requests(srv) >= THREADS);
  double t0 = tu_now();
  ts_stop(srv);
  assert_int_equal(fp_wait(fs, N, 5.0 * scale, FP_ALL_COMPLETED, NULL), FP_OK);
  print_message("all %d jobs done %.3f s after the server stopped\n", N, tu_now() - t0);
  int network = 0, connect = 0;
  for (int i = 0; i < N; i++) {
    assert_int_equal(fp_future_state(fs[i]), FP_FINISHED);
    int code = fp_response_error(tu_result(fs[i]));
    if (code != FP_ERR_NETWORK && code != FP_ERR_CONNECT)
      fail_msg("job %d: %s (%s)", i, fp_code_name(code), fp_response_error_message(tu_result(fs[i])));
    network += code == FP_ERR_NETWORK;
    connect += code == FP_ERR_CONNECT;
    fp_future_decref(fs[i]);
  }
  print_message("%d network, %d connect errors\n", network, connect);
  assert_true(network >= 1); /* those in flight lost their connection */
  fp_executor_free(ex);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      TU_TEST(test_retry_then_ok),
      TU_TEST(test_retry_after_seconds),
      TU_TEST(test_retry_after_capped),
      TU_TEST(test_retry_after_http_date),
      TU_TEST(test_retries_exhausted),
      TU_TEST(test_no_retry_by_default),
      TU_TEST(test_connect_refused_retried),
      TU_TEST(test_network_error_retried),
      TU_TEST(test_retries_run_in_due_order),
      TU_TEST(test_waiting_retry_holds_no_worker),
      TU_TEST(test_waiting_retry_holds_no_host_slot),
      TU_TEST(test_rate_limit_100_jobs),
      TU_TEST(test_rate_limit_slow),
      TU_TEST(test_per_host_limit),
      TU_TEST(test_parked_jobs_capacity_and_cancel),
      TU_TEST(test_stall_timeout),
      TU_TEST(test_timeout_codes_distinct),
      TU_TEST(test_timeout_spans_retries),
      TU_TEST(test_retry_wait_past_deadline),
      TU_TEST(test_last_attempt_gets_time_left),
      TU_TEST(test_attempt_timeout),
      TU_TEST(test_abort_in_flight),
      TU_TEST(test_abort_wakes_idle_workers),
      TU_TEST(test_abort_keeps_completed_response),
      TU_TEST(test_abort_waiting_retry),
      TU_TEST(test_abort_interrupts_rate_wait),
      TU_TEST(test_shutdown_cancel_interrupts_rate_wait),
      TU_TEST(test_shutdown_cancel_waiting_retry),
      TU_TEST(test_shutdown_wait_runs_waiting_retry),
      TU_TEST(test_shutdown_cancel_during_attempt),
      TU_TEST(test_hostile_responses),
      TU_TEST(test_dns_failure),
      TU_TEST(test_server_dies_mid_run),
  };
  return cmocka_run_group_tests_name("reliability", tests, tu_setup_server, tu_teardown_server);
}
