/* test_engine_multi.c: the event-loop engines (multi, hybrid) behind the
 * same API: bodies, keep-alive, concurrency, retries, limits, abort and
 * shutdown behave as on the thread engine. */
#include <pthread.h>
#include <stdatomic.h>

#include "testutil.h"

static atomic_int init_calls;
static atomic_int init_index_mask;

static int count_init(void *arg, size_t index) {
  (void)arg;
  atomic_fetch_add(&init_calls, 1);
  atomic_fetch_or(&init_index_mask, 1 << index);
  return 0;
}

static fp_executor *engine_executor(fp_engine engine, size_t slots, size_t loops,
                                    double rate, size_t per_host) {
  fp_executor_options opts;
  fp_executor_options_init(&opts);
  opts.engine = engine;
  opts.threads = slots;
  opts.loops = loops;
  opts.rate = rate;
  opts.per_host = per_host;
  /* the retry tests run other jobs to the same host beside a 503 with
   * Retry-After: no host cooldown, so only the retry waits */
  opts.no_host_cooldown = true;
  opts.initializer = count_init;
  fp_error err = {0};
  fp_executor *ex = fp_executor_new(&opts, &err);
  if (!ex)
    fail_msg("fp_executor_new: %s", err.text);
  return ex;
}

static const fp_response *result(fp_future *f) {
  const fp_response *resp = NULL;
  assert_int_equal(fp_future_result(f, 30 * tu_time_scale(), &resp), FP_OK);
  return resp;
}

/* A batch submit wakes the event loops as single submits do (multi and
 * hybrid, with a bounded queue so the batch waits for room). */
static void test_multi_submit_many(void **state) {
  (void)state;
  enum { N = 600 };
  fp_engine engines[] = {FP_ENGINE_MULTI, FP_ENGINE_HYBRID};
  for (size_t e = 0; e < 2; e++) {
    fp_executor_options opts;
    fp_executor_options_init(&opts);
    opts.engine = engines[e];
    opts.threads = 16;
    opts.loops = 2;
    opts.queue_capacity = 32;
    fp_executor *ex = fp_executor_new(&opts, NULL);
    assert_non_null(ex);
    fp_request **reqs = calloc(N, sizeof *reqs);
    fp_future **fs = calloc(N, sizeof *fs);
    for (int i = 0; i < N; i++) {
      char *url = tu_url("/text/batch-%d", i);
      reqs[i] = fp_request_new(url);
      free(url);
    }
    fp_error err = {0};
    assert_int_equal(fp_executor_submit_many(ex, reqs, N, FP_FOREVER, fs, &err), N);
    for (int i = 0; i < N; i++) {
      const fp_response *resp = result(fs[i]);
      char want[32];
      snprintf(want, sizeof want, "batch-%d", i);
      assert_int_equal(fp_response_status(resp), 200);
      assert_string_equal(fp_response_body(resp, NULL), want);
      fp_future_decref(fs[i]);
      fp_request_decref(reqs[i]);
    }
    free(fs);
    free(reqs);
    fp_executor_free(ex);
  }
}

/* 2,000 jobs on 64 slots of one loop: each gets its own body. */
static void test_multi_bodies(void **state) {
  (void)state;
  enum { N = 2000 };
  atomic_store(&init_calls, 0);
  fp_executor *ex = engine_executor(FP_ENGINE_MULTI, 64, 0, 0, 0);
  assert_int_equal(atomic_load(&init_calls), 1); /* one loop thread */
  assert_int_equal(fp_executor_threads(ex), 64);
  fp_future **fs = calloc(N, sizeof *fs);
  for (int i = 0; i < N; i++)
    fs[i] = tu_submit(ex, "/text/multi-%d", i);
  for (int i = 0; i < N; i++) {
    const fp_response *resp = result(fs[i]);
    char want[32];
    snprintf(want, sizeof want, "multi-%d", i);
    assert_int_equal(fp_response_error(resp), FP_OK);
    assert_int_equal(fp_response_status(resp), 200);
    assert_string_equal(fp_response_body(resp, NULL), want);
    assert_int_equal(fp_response_attempts(resp), 1);
    fp_future_decref(fs[i]);
  }
  free(fs);
  fp_executor_free(ex);
}

/* Connections stay in the multi handle's cache between jobs. */
static void test_multi_keepalive(void **state) {
  (void)state;
  fp_executor *ex = engine_executor(FP_ENGINE_MULTI, 8, 0, 0, 0);
  unsigned long conns = ts_connections(tu_server);
  fp_future *fs[400];
  for (int i = 0; i < 400; i++)
    fs[i] = tu_submit(ex, "/text/k%d", i);
  for (int i = 0; i < 400; i++) {
    assert_int_equal(fp_response_status(result(fs[i])), 200);
    fp_future_decref(fs[i]);
  }
  unsigned long used = ts_connections(tu_server) - conns;
  if (used > 16)
    fail_msg("400 requests on 8 slots opened %lu connections", used);
  fp_executor_free(ex);
}

/* 100 jobs of 200 ms on 50 slots overlap: well under 100 x 200 ms. */
static void test_multi_concurrency(void **state) {
  (void)state;
  fp_executor *ex = engine_executor(FP_ENGINE_MULTI, 50, 0, 0, 0);
  fp_future *fs[100];
  double t0 = tu_now();
  for (int i = 0; i < 100; i++)
    fs[i] = tu_submit(ex, "/delay/%d", 200);
  for (int i = 0; i < 100; i++) {
    assert_int_equal(fp_response_status(result(fs[i])), 200);
    fp_future_decref(fs[i]);
  }
  double took = tu_now() - t0;
  if (took >= 2.0 * tu_time_scale())
    fail_msg("100 x 200 ms on 50 slots took %.2f s", took);
  fp_executor_free(ex);
}

/* A retry waits in the timer heap, not in the loop: with one slot, a job
 * submitted after a flaky one finishes long before the retry. */
static void test_multi_retry_holds_no_slot(void **state) {
  (void)state;
  fp_executor *ex = engine_executor(FP_ENGINE_MULTI, 1, 0, 0, 0);
  char *url = tu_url("/flaky/multi-retry?fail=1&retry_after=1");
  fp_request *req = fp_request_new(url);
  free(url);
  assert_int_equal(fp_request_set_retries(req, 2, 0.1, 5), FP_OK);
  double t0 = tu_now();
  fp_future *flaky = fp_executor_submit(ex, req, NULL);
  fp_future *quick = tu_submit(ex, "/text/quick%d", 1);
  assert_string_equal(fp_response_body(result(quick), NULL), "quick1");
  double quick_at = tu_now() - t0;
  const fp_response *resp = result(flaky);
  double flaky_at = tu_now() - t0;
  assert_int_equal(fp_response_status(resp), 200);
  assert_int_equal(fp_response_attempts(resp), 2);
  assert_true(flaky_at >= 0.95);
  if (quick_at >= 0.8)
    fail_msg("the quick job waited %.2f s behind a waiting retry", quick_at);
  fp_future_decref(flaky);
  fp_future_decref(quick);
  fp_request_decref(req);
  fp_executor_free(ex);
}

/* The rate limit holds on the loop too: 21 jobs at 20/s take ~1 s. */
static void test_multi_rate(void **state) {
  (void)state;
  fp_executor *ex = engine_executor(FP_ENGINE_MULTI, 16, 0, 20.0, 0);
  fp_future *fs[21];
  double t0 = tu_now();
  for (int i = 0; i < 21; i++)
    fs[i] = tu_submit(ex, "/text/r%d", i);
  for (int i = 0; i < 21; i++) {
    assert_int_equal(fp_response_status(result(fs[i])), 200);
    fp_future_decref(fs[i]);
  }
  double took = tu_now() - t0;
  if (took < 0.95 || took > 1.25 * tu_time_scale())
    fail_msg("21 jobs at 20/s took %.3f s (want ~1.0 s)", took);
  fp_executor_free(ex);
}

/* shutdown(cancel_futures) stops dispatching on the loop too: jobs waiting
 * for a token start no transfer and are cancelled at once. */
static void test_multi_shutdown_cancel_rate_wait(void **state) {
  (void)state;
  double scale = tu_time_scale();
  fp_executor *ex = engine_executor(FP_ENGINE_MULTI, 4, 0, 0.2, 0); /* a token per 5 s */
  fp_future *fs[3];
  for (int i = 0; i < 3; i++)
    fs[i] = tu_submit(ex, "/text/rw%d", i);
  assert_int_equal(fp_response_status(result(fs[0])), 200);
  unsigned long before = ts_requests(tu_server);
  double t0 = tu_now();
  assert_int_equal(fp_executor_shutdown(ex, true, true), FP_OK);
  assert_true(tu_now() - t0 < 1.0 * scale);
  assert_int_equal(ts_requests(tu_server), before);
  for (int i = 1; i < 3; i++) {
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

/* The number a server path answers with (its counters). */
static long number_at(const char *path) {
  fp_executor *ex = engine_executor(FP_ENGINE_THREADS, 1, 0, 0, 0);
  char *url = tu_url("%s", path);
  fp_future *f = fp_executor_submit_url(ex, url, NULL);
  free(url);
  assert_non_null(f);
  long v = atol(fp_response_body(result(f), NULL));
  fp_future_decref(f);
  fp_executor_free(ex);
  return v;
}

/* Per-host cap: never more than 2 at once to one host. */
static void test_multi_per_host(void **state) {
  (void)state;
  fp_executor *ex = engine_executor(FP_ENGINE_MULTI, 16, 0, 0, 2);
  fp_future *fs[10];
  for (int i = 0; i < 10; i++)
    fs[i] = tu_submit(ex, "/concurrency/multi-host?ms=%d", 100);
  for (int i = 0; i < 10; i++) {
    assert_int_equal(fp_response_status(result(fs[i])), 200);
    fp_future_decref(fs[i]);
  }
  fp_executor_free(ex);
  assert_int_equal(number_at("/concurrency-max/multi-host"), 2);
}

/* Abort stops transfers in flight at once, recorded as cancelled. */
static void test_multi_abort(void **state) {
  (void)state;
  fp_executor *ex = engine_executor(FP_ENGINE_MULTI, 4, 0, 0, 0);
  fp_future *fs[4];
  for (int i = 0; i < 4; i++)
    fs[i] = tu_submit(ex, "/delay/%d", 5000);
  double end = tu_now() + 5.0;
  while (ts_requests(tu_server) == 0 && tu_now() < end)
    usleep(10000);
  usleep(200000); /* let the four transfers get under way */
  double t0 = tu_now();
  fp_executor_abort(ex);
  for (int i = 0; i < 4; i++) {
    const fp_response *resp = result(fs[i]);
    assert_int_equal(fp_response_error(resp), FP_ERR_CANCELLED);
    json_t *rec = fp_future_record(fs[i], 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(rec, "error"), "code")),
                        "cancelled");
    json_decref(rec);
    fp_future_decref(fs[i]);
  }
  if (tu_now() - t0 > 1.5 * tu_time_scale())
    fail_msg("abort took %.2f s", tu_now() - t0);
  fp_executor_free(ex);
}

/* shutdown(cancel) cancels what is queued while the running job ends. */
static void test_multi_shutdown_cancel(void **state) {
  (void)state;
  fp_executor *ex = engine_executor(FP_ENGINE_MULTI, 1, 0, 0, 0);
  fp_future *running = tu_submit(ex, "/delay/%d", 300);
  fp_future *queued[5];
  for (int i = 0; i < 5; i++)
    queued[i] = tu_submit(ex, "/text/never%d", i);
  double end = tu_now() + 5.0;
  while (!fp_future_running(running) && tu_now() < end)
    usleep(5000);
  assert_int_equal(fp_executor_shutdown(ex, true, true), FP_OK);
  assert_int_equal(fp_response_status(result(running)), 200);
  for (int i = 0; i < 5; i++) {
    assert_true(fp_future_cancelled(queued[i]));
    fp_future_decref(queued[i]);
  }
  fp_future_decref(running);
  assert_null(fp_executor_submit_url(ex, "http://127.0.0.1:1/", NULL));
  fp_executor_free(ex);
}

/* Errors come out with the same codes as on the thread engine. */
static void test_multi_errors(void **state) {
  (void)state;
  fp_executor *ex = engine_executor(FP_ENGINE_MULTI, 4, 0, 0, 0);
  fp_future *bad = fp_executor_submit_url(ex, "no scheme here", NULL);
  fp_future *ftp = fp_executor_submit_url(ex, "ftp://127.0.0.1/", NULL);
  fp_future *refused = fp_executor_submit_url(ex, "http://127.0.0.1:1/", NULL);
  char *url = tu_url("/bytes/100000");
  fp_request *big = fp_request_new(url);
  free(url);
  fp_request_set_max_body(big, 1000);
  fp_future *toobig = fp_executor_submit(ex, big, NULL);
  url = tu_url("/delay/3000");
  fp_request *slow = fp_request_new(url);
  free(url);
  fp_request_set_timeouts(slow, 0.2, 0);
  fp_future *timeout = fp_executor_submit(ex, slow, NULL);
  assert_int_equal(fp_response_error(result(bad)), FP_ERR_INVALID_URL);
  assert_int_equal(fp_response_error(result(ftp)), FP_ERR_UNSUPPORTED_PROTOCOL);
  assert_int_equal(fp_response_error(result(refused)), FP_ERR_CONNECT);
  assert_int_equal(fp_response_error(result(toobig)), FP_ERR_BODY_TOO_LARGE);
  assert_int_equal(fp_response_error(result(timeout)), FP_ERR_TIMEOUT);
  fp_future *all[] = {bad, ftp, refused, toobig, timeout};
  for (size_t i = 0; i < 5; i++)
    fp_future_decref(all[i]);
  fp_request_decref(big);
  fp_request_decref(slow);
  fp_executor_free(ex);
}

typedef struct producer {
  fp_executor *ex;
  int base;
  fp_future *fs[100];
} producer;

static void *produce(void *arg) {
  producer *p = arg;
  for (int i = 0; i < 100; i++)
    p->fs[i] = tu_submit(p->ex, "/text/p%d", p->base + i);
  return NULL;
}

/* Hybrid: two loops share the slots; submitters on 4 threads wake them. */
static void test_hybrid_producers(void **state) {
  (void)state;
  atomic_store(&init_calls, 0);
  atomic_store(&init_index_mask, 0);
  fp_executor *ex = engine_executor(FP_ENGINE_HYBRID, 8, 2, 0, 0);
  assert_int_equal(atomic_load(&init_calls), 2);
  assert_int_equal(atomic_load(&init_index_mask), 3); /* loops 0 and 1 */
  producer ps[4];
  pthread_t t[4];
  for (int i = 0; i < 4; i++) {
    ps[i].ex = ex;
    ps[i].base = i * 100;
    pthread_create(&t[i], NULL, produce, &ps[i]);
  }
  for (int i = 0; i < 4; i++)
    pthread_join(t[i], NULL);
  for (int i = 0; i < 4; i++) {
    for (int j = 0; j < 100; j++) {
      char want[16];
      snprintf(want, sizeof want, "p%d", i * 100 + j);
      assert_string_equal(fp_response_body(result(ps[i].fs[j]), NULL), want);
      fp_future_decref(ps[i].fs[j]);
    }
  }
  fp_executor_free(ex);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      TU_TEST(test_multi_bodies),          TU_TEST(test_multi_keepalive),
      TU_TEST(test_multi_concurrency),     TU_TEST(test_multi_retry_holds_no_slot),
      TU_TEST(test_multi_rate),            TU_TEST(test_multi_per_host),
      TU_TEST(test_multi_abort),           TU_TEST(test_multi_shutdown_cancel),
      TU_TEST(test_multi_shutdown_cancel_rate_wait),
      TU_TEST(test_multi_errors),          TU_TEST(test_hybrid_producers),
      TU_TEST(test_multi_submit_many),
  };
  return cmocka_run_group_tests_name("engine_multi", tests, tu_setup_server,
                                     tu_teardown_server);
}
