/* test_map.c: fp_executor_map: input order, the in-flight window, early
 * free, timeouts and shutdown. */
#include <math.h>

#include "testutil.h"

/* n requests for the test server; path_fmt gets the index i and, when it
 * takes a second %d, arg(i). */
static fp_request **make_requests(size_t n, const char *path_fmt, int (*arg)(size_t)) {
  fp_request **reqs = calloc(n, sizeof *reqs);
  assert_non_null(reqs);
  for (size_t i = 0; i < n; i++) {
    char *url = arg ? tu_url(path_fmt, arg(i)) : tu_url(path_fmt, (int)i);
    reqs[i] = fp_request_new(url);
    free(url);
    assert_non_null(reqs[i]);
  }
  return reqs;
}

static void free_requests(fp_request **reqs, size_t n) {
  for (size_t i = 0; i < n; i++)
    fp_request_decref(reqs[i]);
  free(reqs);
}

/* Bounded poll for the server's request count to reach want (/delay/N is
 * counted when it arrives, before its sleep). */
static void await_requests(unsigned long base, unsigned long want) {
  double end = tu_now() + 10.0;
  while (ts_requests(tu_server) - base < want) {
    assert_true(tu_now() < end);
    usleep(1000);
  }
}

static int descending_delay(size_t i) { return (int)(5 - i) * 80; }

static void test_input_order(void **state) {
  (void)state;
  fp_executor *ex = tu_executor(5, 0, NULL);
  /* later ones finish first: 400, 320, 240, 160, 80 ms */
  fp_request **reqs = make_requests(5, "/delay/%d", descending_delay);
  fp_error err = {0};
  fp_map *m = fp_executor_map(ex, reqs, 5, 5, &err);
  assert_non_null(m);
  free_requests(reqs, 5); /* the map keeps its own references */
  for (size_t i = 0; i < 5; i++) {
    fp_future *f = NULL;
    size_t index = 99;
    assert_int_equal(fp_map_next(m, FP_FOREVER, &f, &index), FP_OK);
    assert_int_equal(index, i);
    assert_non_null(f);
    assert_int_equal(fp_future_state(f), FP_FINISHED);
    char want[32];
    snprintf(want, sizeof want, "delayed %d", descending_delay(i));
    assert_string_equal(tu_body(f), want);
  }
  fp_future *f = (fp_future *)1;
  assert_int_equal(fp_map_next(m, 0, &f, NULL), FP_ERR_EXHAUSTED);
  assert_null(f);
  assert_int_equal(fp_map_next(m, 0, NULL, NULL), FP_ERR_EXHAUSTED);
  fp_map_free(m);
  fp_executor_free(ex);
}

static void test_in_flight_bound(void **state) {
  (void)state;
  enum { N = 12, WINDOW = 3 };
  fp_executor *ex = tu_executor(8, 0, NULL);
  fp_request **reqs = make_requests(N, "/delay/100", NULL);
  unsigned long base = ts_requests(tu_server);
  double t0 = tu_now();
  fp_map *m = fp_executor_map(ex, reqs, N, WINDOW, NULL);
  assert_non_null(m);
  /* the first window is submitted before map returns; nothing more is
   * submitted until a result is consumed, though 5 workers sit idle */
  await_requests(base, WINDOW);
  usleep(250 * 1000); /* well past the 100 ms jobs: they are done */
  assert_int_equal(ts_requests(tu_server) - base, WINDOW);
  unsigned long max_ahead = 0;
  for (size_t i = 0; i < N; i++) {
    fp_future *f = NULL;
    size_t index;
    assert_int_equal(fp_map_next(m, FP_FOREVER, &f, &index), FP_OK);
    assert_int_equal(index, i);
    assert_string_equal(tu_body(f), "delayed 100");
    /* only this thread submits, inside fp_map_next: started requests never
     * run more than the window ahead of what was consumed */
    unsigned long seen = ts_requests(tu_server) - base;
    assert_true(seen <= i + 1 + WINDOW);
    if (seen - (i + 1) > max_ahead)
      max_ahead = seen - (i + 1);
  }
  assert_int_equal(fp_map_next(m, 0, NULL, NULL), FP_ERR_EXHAUSTED);
  fp_map_free(m);
  assert_int_equal(ts_requests(tu_server) - base, N);
  /* 12 jobs of 100 ms, 3 at a time: at least 4 rounds */
  assert_true(tu_now() - t0 >= 0.39);
  assert_true(max_ahead <= WINDOW);
  free_requests(reqs, N);
  fp_executor_free(ex);
}

static void test_default_window_is_thread_count(void **state) {
  (void)state;
  enum { N = 6 };
  fp_executor *ex = tu_executor(2, 0, NULL);
  fp_request **reqs = make_requests(N, "/delay/100", NULL);
  unsigned long base = ts_requests(tu_server);
  fp_map *m = fp_executor_map(ex, reqs, N, 0, NULL);
  assert_non_null(m);
  await_requests(base, 2);
  usleep(250 * 1000);
  assert_int_equal(ts_requests(tu_server) - base, 2);
  for (size_t i = 0; i < N; i++)
    assert_int_equal(fp_map_next(m, FP_FOREVER, NULL, NULL), FP_OK);
  assert_int_equal(fp_map_next(m, FP_FOREVER, NULL, NULL), FP_ERR_EXHAUSTED);
  fp_map_free(m);
  assert_int_equal(ts_requests(tu_server) - base, N);
  free_requests(reqs, N);
  fp_executor_free(ex);
}

static void test_free_midway_cancels_rest(void **state) {
  (void)state;
  enum { N = 8 };
  fp_executor *ex = tu_executor(1, 0, NULL);
  fp_request **reqs = make_requests(N, "/delay/150", NULL);
  unsigned long base = ts_requests(tu_server);
  fp_map *m = fp_executor_map(ex, reqs, N, 4, NULL);
  assert_non_null(m);
  fp_future *f = NULL;
  size_t index;
  assert_int_equal(fp_map_next(m, FP_FOREVER, &f, &index), FP_OK);
  assert_int_equal(index, 0);
  /* jobs 1..4 are submitted; 1 is running (or about to), 2..4 pending */
  fp_map_free(m);
  assert_int_equal(fp_executor_shutdown(ex, true, false), FP_OK);
  unsigned long ran = ts_requests(tu_server) - base;
  assert_true(ran >= 1);
  assert_true(ran <= 2);
  free_requests(reqs, N);
  fp_executor_free(ex);
}

static void test_free_before_next(void **state) {
  (void)state;
  enum { N = 5 };
  fp_executor *ex = tu_executor(1, 0, NULL);
  fp_request **reqs = make_requests(N, "/text/%d", NULL);
  unsigned long base = ts_requests(tu_server);
  fp_map *m = fp_executor_map(ex, reqs, N, 5, NULL);
  assert_non_null(m);
  fp_map_free(m);
  assert_int_equal(fp_executor_shutdown(ex, true, false), FP_OK);
  /* at most the one a worker took before the free */
  assert_true(ts_requests(tu_server) - base <= 1);
  free_requests(reqs, N);
  fp_executor_free(ex);
  fp_map_free(NULL);
}

static void test_next_timeout(void **state) {
  (void)state;
  fp_executor *ex = tu_executor(2, 0, NULL);
  fp_request **reqs = make_requests(2, "/delay/%d", descending_delay); /* 400, 320 */
  fp_map *m = fp_executor_map(ex, reqs, 2, 2, NULL);
  assert_non_null(m);
  fp_future *f = (fp_future *)1;
  double t0 = tu_now();
  assert_int_equal(fp_map_next(m, 0.1, &f, NULL), FP_ERR_WAIT_TIMEOUT);
  double took = tu_now() - t0;
  assert_null(f);
  assert_true(took >= 0.09);
  /* the same future is waited for again */
  size_t index = 99;
  assert_int_equal(fp_map_next(m, FP_FOREVER, &f, &index), FP_OK);
  assert_int_equal(index, 0);
  assert_string_equal(tu_body(f), "delayed 400");
  assert_int_equal(fp_map_next(m, FP_FOREVER, &f, &index), FP_OK);
  assert_int_equal(index, 1);
  assert_int_equal(fp_map_next(m, FP_FOREVER, &f, &index), FP_ERR_EXHAUSTED);
  fp_map_free(m);
  free_requests(reqs, 2);
  fp_executor_free(ex);
}

static void test_map_after_shutdown(void **state) {
  (void)state;
  fp_executor *ex = tu_executor(1, 0, NULL);
  fp_request **reqs = make_requests(3, "/text/%d", NULL);
  assert_int_equal(fp_executor_shutdown(ex, true, false), FP_OK);
  fp_error err = {0};
  assert_null(fp_executor_map(ex, reqs, 3, 2, &err));
  assert_int_equal(err.code, FP_ERR_SHUTDOWN);
  free_requests(reqs, 3);
  fp_executor_free(ex);
}

static void test_shutdown_during_map(void **state) {
  (void)state;
  enum { N = 6 };
  fp_executor *ex = tu_executor(2, 0, NULL);
  fp_request **reqs = make_requests(N, "/text/m%d", NULL);
  fp_map *m = fp_executor_map(ex, reqs, N, 2, NULL);
  assert_non_null(m);
  /* the first window was accepted before the shutdown and still runs */
  assert_int_equal(fp_executor_shutdown(ex, true, false), FP_OK);
  fp_future *f = NULL;
  size_t index;
  assert_int_equal(fp_map_next(m, FP_FOREVER, &f, &index), FP_OK);
  assert_int_equal(index, 0);
  assert_string_equal(tu_body(f), "m0");
  assert_int_equal(fp_map_next(m, FP_FOREVER, &f, &index), FP_OK);
  assert_int_equal(index, 1);
  assert_string_equal(tu_body(f), "m1");
  assert_int_equal(fp_map_next(m, FP_FOREVER, &f, &index), FP_ERR_SHUTDOWN);
  assert_null(f);
  assert_int_equal(fp_map_next(m, 0, &f, &index), FP_ERR_SHUTDOWN);
  fp_map_free(m);
  free_requests(reqs, N);
  fp_executor_free(ex);
}

static int slow_first(size_t i) { return i == 0 ? 1200 : 10; }

/* map(timeout=): the deadline covers the whole iteration. */
static void test_map_overall_timeout(void **state) {
  (void)state;
  double scale = tu_time_scale();
  fp_executor *ex = tu_executor(4, 0, NULL);
  fp_request **reqs = make_requests(4, "/delay/%d", slow_first);
  fp_map *m = fp_executor_map(ex, reqs, 4, 4, NULL);
  assert_non_null(m);
  double t0 = tu_now();
  assert_int_equal(fp_map_set_timeout(m, 0.3), FP_OK);
  fp_future *f = NULL;
  size_t index = 99;
  assert_int_equal(fp_map_next(m, FP_FOREVER, &f, &index), FP_ERR_WAIT_TIMEOUT);
  double took = tu_now() - t0;
  assert_true(took >= 0.29);
  assert_true(took < 1.0 * scale);
  assert_null(f);
  /* past the deadline: at once while the head is not done... */
  double t1 = tu_now();
  assert_int_equal(fp_map_next(m, 5.0, &f, &index), FP_ERR_WAIT_TIMEOUT);
  assert_true(tu_now() - t1 < 0.1 * scale);
  /* ...and lifting the limit lets the same map go on in input order */
  assert_int_equal(fp_map_set_timeout(m, -1), FP_OK);
  for (size_t i = 0; i < 4; i++) {
    assert_int_equal(fp_map_next(m, FP_FOREVER, &f, &index), FP_OK);
    assert_int_equal(index, i);
  }
  assert_int_equal(fp_map_next(m, FP_FOREVER, &f, &index), FP_ERR_EXHAUSTED);
  assert_int_equal(fp_map_set_timeout(m, NAN), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_map_set_timeout(NULL, 1), FP_ERR_INVALID_ARG);
  fp_map_free(m);
  free_requests(reqs, 4);
  fp_executor_free(ex);
}

static void test_map_invalid(void **state) {
  (void)state;
  fp_executor *ex = tu_executor(1, 0, NULL);
  fp_error err = {0};
  assert_null(fp_executor_map(NULL, NULL, 0, 0, &err));
  assert_int_equal(err.code, FP_ERR_INVALID_ARG);
  fp_error_clear(&err);
  assert_null(fp_executor_map(ex, NULL, 2, 0, &err));
  assert_int_equal(err.code, FP_ERR_INVALID_ARG);
  fp_request *reqs[2] = {fp_request_new("http://127.0.0.1:1/"), NULL};
  fp_error_clear(&err);
  assert_null(fp_executor_map(ex, reqs, 2, 0, &err));
  assert_int_equal(err.code, FP_ERR_INVALID_ARG);
  fp_request_decref(reqs[0]);
  /* an empty map is exhausted at once */
  fp_map *m = fp_executor_map(ex, NULL, 0, 0, NULL);
  assert_non_null(m);
  assert_int_equal(fp_map_next(m, 0, NULL, NULL), FP_ERR_EXHAUSTED);
  fp_map_free(m);
  assert_int_equal(fp_map_next(NULL, 0, NULL, NULL), FP_ERR_INVALID_ARG);
  fp_executor_free(ex);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      TU_TEST(test_input_order),
      TU_TEST(test_in_flight_bound),
      TU_TEST(test_default_window_is_thread_count),
      TU_TEST(test_free_midway_cancels_rest),
      TU_TEST(test_free_before_next),
      TU_TEST(test_next_timeout),
      TU_TEST(test_map_after_shutdown),
      TU_TEST(test_shutdown_during_map),
      TU_TEST(test_map_overall_timeout),
      TU_TEST(test_map_invalid),
  };
  return cmocka_run_group_tests_name("map", tests, tu_setup_server, tu_teardown_server);
}
