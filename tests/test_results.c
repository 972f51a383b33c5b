/* test_results.c: the result array: slots filled as jobs finish, readable
 * while they run, waits on the done count, JSON, and misuse. */
#include <pthread.h>

#include "testutil.h"

static const char *slot_body(fp_results *r, size_t i) {
  fp_future *f = fp_results_get(r, i);
  assert_non_null(f);
  const fp_response *resp = fp_future_response(f);
  assert_non_null(resp);
  const char *body = fp_response_body(resp, NULL);
  assert_non_null(body);
  return body;
}

static void test_slots_fill_as_jobs_finish(void **state) {
  (void)state;
  enum { N = 6 };
  fp_executor *ex = tu_executor(N, 0, NULL);
  fp_results *r = fp_results_new(N);
  assert_non_null(r);
  assert_int_equal(fp_results_size(r), N);
  assert_int_equal(fp_results_done(r), 0);
  /* job i fetches /text/job-i; later jobs are quicker (500 ms .. 0) */
  for (int i = 0; i < N; i++) {
    fp_request *req = tu_request("/text/job-%d?delay=%d", i, (N - 1 - i) * 100);
    fp_error err = {0};
    assert_int_equal(fp_results_submit(r, (size_t)i, ex, req, &err), FP_OK);
    assert_int_equal(err.code, FP_OK);
    fp_request_decref(req);
  }
  /* a quick slot fills while the slowest (500 ms) is still empty, and
   * each filled slot holds its own job */
  assert_int_equal(fp_results_wait(r, 1, FP_FOREVER), FP_OK);
  assert_null(fp_results_get(r, 0));
  assert_true(fp_results_done(r) < N);
  size_t early = 0;
  for (int i = 1; i < N; i++) {
    if (!fp_results_get(r, (size_t)i))
      continue;
    char want[16];
    snprintf(want, sizeof want, "job-%d", i);
    assert_string_equal(slot_body(r, (size_t)i), want);
    early++;
  }
  assert_true(early >= 1);

  /* the done count only grows, and each wait(k) sees at least k */
  size_t last = fp_results_done(r);
  for (size_t k = 2; k <= N; k++) {
    assert_int_equal(fp_results_wait(r, k, 20.0), FP_OK);
    size_t now = fp_results_done(r);
    assert_true(now >= k);
    assert_true(now >= last);
    last = now;
    size_t filled = 0;
    for (size_t i = 0; i < N; i++)
      filled += fp_results_get(r, i) != NULL;
    assert_true(filled >= k);
  }
  assert_int_equal(fp_results_done(r), N);
  for (int i = 0; i < N; i++) {
    char want[16];
    snprintf(want, sizeof want, "job-%d", i);
    assert_string_equal(slot_body(r, (size_t)i), want);
    assert_int_equal(fp_future_state(fp_results_get(r, (size_t)i)), FP_FINISHED);
  }
  assert_null(fp_results_get(r, N)); /* out of range */
  fp_executor_free(ex);
  fp_results_free(r);
}

static void test_wait_timeout(void **state) {
  (void)state;
  fp_executor *ex = tu_executor(1, 0, NULL);
  fp_results *r = fp_results_new(2);
  assert_non_null(r);
  assert_int_equal(fp_results_wait(r, 0, 0), FP_OK); /* nothing to wait for */
  fp_request *req = tu_request("/delay/%d", 500);
  assert_int_equal(fp_results_submit(r, 1, ex, req, NULL), FP_OK);
  fp_request_decref(req);
  double t0 = tu_now();
  assert_int_equal(fp_results_wait(r, 1, 0.1), FP_ERR_WAIT_TIMEOUT);
  double took = tu_now() - t0;
  assert_true(took >= 0.09);
  assert_int_equal(fp_results_wait(r, 1, 0), FP_ERR_WAIT_TIMEOUT);
  assert_int_equal(fp_results_done(r), 0);
  assert_null(fp_results_get(r, 1));
  assert_int_equal(fp_results_wait(r, 1, FP_FOREVER), FP_OK);
  assert_int_equal(fp_results_done(r), 1);
  assert_string_equal(slot_body(r, 1), "delayed 500");
  /* slot 0 never filled: waiting for both times out */
  assert_int_equal(fp_results_wait(r, 2, 0.05), FP_ERR_WAIT_TIMEOUT);
  fp_executor_free(ex);
  fp_results_free(r);
}

static void test_to_json(void **state) {
  (void)state;
  fp_executor *ex = tu_executor(1, 0, NULL);
  fp_results *r = fp_results_new(4);
  assert_non_null(r);
  fp_request *with_index = tu_request("/text/job-%d", 0);
  assert_int_equal(fp_request_set_index(with_index, 42), FP_OK);
  fp_request *without = tu_request("/text/job-%d", 1);
  assert_int_equal(fp_results_submit(r, 0, ex, with_index, NULL), FP_OK);
  assert_int_equal(fp_results_submit(r, 1, ex, without, NULL), FP_OK);
  assert_int_equal(fp_results_wait(r, 2, FP_FOREVER), FP_OK);

  /* slot 2: a cancelled job; slot 3: never attached */
  fp_request *slow = tu_request("/delay/%d", 300);
  fp_future *blocker = fp_executor_submit(ex, slow, NULL);
  fp_future *cancelled = fp_executor_submit(ex, without, NULL);
  assert_non_null(blocker);
  assert_non_null(cancelled);
  assert_true(fp_future_cancel(cancelled));
  assert_int_equal(fp_results_attach(r, 2, cancelled), FP_OK);
  assert_int_equal(fp_results_done(r), 3); /* done already: filled at once */
  fp_future_decref(cancelled);

  json_t *arr = fp_results_to_json(r, FP_RECORD_BODY);
  assert_non_null(arr);
  assert_true(json_is_array(arr));
  assert_int_equal(json_array_size(arr), 4);
  json_t *rec0 = json_array_get(arr, 0), *rec1 = json_array_get(arr, 1);
  json_t *rec2 = json_array_get(arr, 2);
  assert_true(json_is_object(rec0));
  assert_int_equal(json_integer_value(json_object_get(rec0, "index")), 42);
  assert_int_equal(json_integer_value(json_object_get(rec0, "status")), 200);
  assert_true(json_is_true(json_object_get(rec0, "ok")));
  assert_string_equal(json_string_value(json_object_get(rec0, "body")), "job-0");
  assert_string_equal(json_string_value(json_object_get(rec0, "url")),
                      fp_request_url(with_index));
  assert_true(json_is_object(rec1));
  assert_null(json_object_get(rec1, "index"));
  assert_string_equal(json_string_value(json_object_get(rec1, "body")), "job-1");
  assert_true(json_is_object(rec2));
  assert_true(json_is_null(json_object_get(rec2, "status")));
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(rec2, "error"), "code")), "cancelled");
  assert_true(json_is_null(json_array_get(arr, 3)));
  json_decref(arr);

  /* without flags: no body */
  arr = fp_results_to_json(r, 0);
  assert_non_null(arr);
  assert_null(json_object_get(json_array_get(arr, 0), "body"));
  json_decref(arr);
  assert_null(fp_results_to_json(NULL, 0));

  fp_request_decref(with_index);
  fp_request_decref(without);
  fp_request_decref(slow);
  fp_future_decref(blocker);
  fp_executor_free(ex);
  fp_results_free(r);
}

static void test_json_while_running(void **state) {
  (void)state;
  fp_executor *ex = tu_executor(2, 0, NULL);
  fp_results *r = fp_results_new(2);
  assert_non_null(r);
  fp_request *quick = tu_request("/text/q");
  fp_request *slow = tu_request("/delay/%d", 400);
  assert_int_equal(fp_results_submit(r, 0, ex, slow, NULL), FP_OK);
  assert_int_equal(fp_results_submit(r, 1, ex, quick, NULL), FP_OK);
  assert_int_equal(fp_results_wait(r, 1, FP_FOREVER), FP_OK);
  json_t *arr = fp_results_to_json(r, 0);
  assert_non_null(arr);
  assert_int_equal(json_array_size(arr), 2);
  assert_true(json_is_null(json_array_get(arr, 0))); /* still running */
  assert_true(json_is_object(json_array_get(arr, 1)));
  json_decref(arr);
  fp_request_decref(quick);
  fp_request_decref(slow);
  fp_executor_free(ex);
  fp_results_free(r);
}

static void test_attach_misuse(void **state) {
  (void)state;
  fp_executor *ex = tu_executor(1, 0, NULL);
  fp_results *r = fp_results_new(2);
  assert_non_null(r);
  fp_request *req = tu_request("/text/once");
  fp_future *f = fp_executor_submit(ex, req, NULL);
  fp_future *g = fp_executor_submit(ex, req, NULL);
  assert_non_null(f);
  assert_non_null(g);
  assert_int_equal(fp_results_attach(r, 0, f), FP_OK);
  assert_int_equal(fp_results_attach(r, 0, g), FP_ERR_INVALID_ARG); /* double attach */
  assert_int_equal(fp_results_attach(r, 0, f), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_results_attach(r, 2, g), FP_ERR_INVALID_ARG); /* out of range */
  assert_int_equal(fp_results_attach(r, 1, NULL), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_results_attach(NULL, 1, g), FP_ERR_INVALID_ARG);
  fp_error err = {0};
  assert_int_equal(fp_results_submit(r, 0, ex, req, &err), FP_ERR_INVALID_ARG);
  assert_int_equal(err.code, FP_ERR_INVALID_ARG);
  fp_error_clear(&err);
  assert_int_equal(fp_results_submit(r, 5, ex, req, &err), FP_ERR_INVALID_ARG);
  assert_int_equal(err.code, FP_ERR_INVALID_ARG);
  /* the submit error is returned as is, with or without an fp_error */
  assert_int_equal(fp_results_submit(r, 1, ex, NULL, NULL), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_results_submit(r, 1, NULL, req, NULL), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_results_wait(r, 1, FP_FOREVER), FP_OK);
  assert_int_equal(fp_results_done(r), 1);
  assert_ptr_equal(fp_results_get(r, 0), f);
  assert_null(fp_results_get(r, 1)); /* no failed attach left anything behind */

  assert_int_equal(fp_executor_shutdown(ex, true, false), FP_OK);
  fp_error_clear(&err);
  assert_int_equal(fp_results_submit(r, 1, ex, req, &err), FP_ERR_SHUTDOWN);
  assert_int_equal(err.code, FP_ERR_SHUTDOWN);
  assert_int_equal(fp_results_submit(r, 1, ex, req, NULL), FP_ERR_SHUTDOWN);
  /* a caller's fp_error already holding an error does not change the code */
  err.code = FP_ERR_NOMEM;
  assert_int_equal(fp_results_submit(r, 1, ex, req, &err), FP_ERR_SHUTDOWN);
  assert_int_equal(err.code, FP_ERR_NOMEM); /* first error wins */

  fp_future_decref(f);
  fp_future_decref(g);
  fp_request_decref(req);
  fp_executor_free(ex);
  fp_results_free(r);
  fp_results_free(NULL);
  assert_int_equal(fp_results_size(NULL), 0);
  assert_int_equal(fp_results_done(NULL), 0);
  assert_null(fp_results_get(NULL, 0));
  assert_int_equal(fp_results_wait(NULL, 0, 0), FP_ERR_INVALID_ARG);
}

static void slow_cb(fp_future *f, void *userdata) {
  (void)f;
  (void)userdata;
  usleep(100 * 1000);
}

/* A future is done (its waiters woken) before its callbacks run. Freeing
 * the array once the futures are done, as documented, must not leave the
 * slot's publish to run on freed memory (ASan and valgrind see it). */
static void test_free_after_futures_done(void **state) {
  (void)state;
  fp_executor *ex = tu_executor(2, 0, NULL);
  fp_results *r = fp_results_new(2);
  assert_non_null(r);
  fp_request *req = tu_request("/text/x");
  fp_future *fs[2];
  for (int i = 0; i < 2; i++) {
    fs[i] = fp_executor_submit(ex, req, NULL);
    assert_non_null(fs[i]);
    /* an earlier callback delays the slot's own */
    assert_int_equal(fp_future_add_done_callback(fs[i], slow_cb, NULL), FP_OK);
    assert_int_equal(fp_results_attach(r, (size_t)i, fs[i]), FP_OK);
  }
  assert_int_equal(fp_wait(fs, 2, FP_FOREVER, FP_ALL_COMPLETED, NULL), FP_OK);
  fp_results_free(r);
  fp_future_decref(fs[0]);
  fp_future_decref(fs[1]);
  fp_request_decref(req);
  fp_executor_free(ex);
}

/* Several threads submit into distinct slots of one array at once. */
typedef struct filler {
  fp_results *r;
  fp_executor *ex;
  int first, count;
  int failures;
} filler;

static void *fill_main(void *arg) {
  filler *a = arg;
  for (int i = a->first; i < a->first + a->count; i++) {
    char *url = tu_url("/text/s%d", i);
    fp_request *req = fp_request_new(url);
    free(url);
    if (!req || fp_results_submit(a->r, (size_t)i, a->ex, req, NULL) != FP_OK)
      a->failures++;
    fp_request_decref(req);
  }
  return NULL;
}

static void test_concurrent_submitters(void **state) {
  (void)state;
  enum { THREADS = 4, PER = 10, N = THREADS * PER };
  fp_executor *ex = tu_executor(4, 0, NULL);
  fp_results *r = fp_results_new(N);
  assert_non_null(r);
  filler args[THREADS];
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; i++) {
    args[i] = (filler){.r = r, .ex = ex, .first = i * PER, .count = PER};
    assert_int_equal(pthread_create(&t[i], NULL, fill_main, &args[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) {
    pthread_join(t[i], NULL);
    assert_int_equal(args[i].failures, 0);
  }
  assert_int_equal(fp_results_wait(r, N, 30.0), FP_OK);
  for (int i = 0; i < N; i++) {
    char want[16];
    snprintf(want, sizeof want, "s%d", i);
    assert_string_equal(slot_body(r, (size_t)i), want);
  }
  fp_executor_free(ex);
  fp_results_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      TU_TEST(test_slots_fill_as_jobs_finish),
      TU_TEST(test_wait_timeout),
      TU_TEST(test_to_json),
      TU_TEST(test_json_while_running),
      TU_TEST(test_attach_misuse),
      TU_TEST(test_free_after_futures_done),
      TU_TEST(test_concurrent_submitters),
  };
  return cmocka_run_group_tests_name("results", tests, tu_setup_server, tu_teardown_server);
}
