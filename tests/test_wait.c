/* test_wait.c: fp_wait (FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED,
 * timeouts) and the as_completed iterator. */
#include <math.h>
#include <pthread.h>

#include "testutil.h"

/* Nothing listens on port 1 of loopback: a quick connect error. */
#define REFUSED_URL "http://127.0.0.1:1/"

static fp_future *submit_refused(fp_executor *ex) {
  fp_future *f = fp_executor_submit_url(ex, REFUSED_URL, NULL);
  assert_non_null(f);
  return f;
}

/* ---- fp_wait ---- */

static void test_first_completed(void **state) {
  (void)state;
  fp_executor *ex = tu_executor(3, 0, NULL);
  fp_future *fs[3] = {tu_submit(ex, "/delay/800"), tu_submit(ex, "/text/fast"),
                      tu_submit(ex, "/delay/800")};
  bool done[3] = {true, false, true};
  assert_int_equal(fp_wait(fs, 3, FP_FOREVER, FP_FIRST_COMPLETED, done), FP_OK);
  assert_false(done[0]);
  assert_true(done[1]);
  assert_false(done[2]);
  assert_string_equal(tu_body(fs[1]), "fast");
  assert_false(fp_future_done(fs[0]));
  /* already satisfied: returns at once, even with timeout 0 */
  assert_int_equal(fp_wait(fs, 3, 0, FP_FIRST_COMPLETED, NULL), FP_OK);
  tu_decref_all(fs, 3);
  fp_executor_free(ex);
}

static void test_all_completed(void **state) {
  (void)state;
  fp_executor *ex = tu_executor(3, 0, NULL);
  fp_future *fs[3] = {tu_submit(ex, "/delay/300"), tu_submit(ex, "/delay/100"),
                      tu_submit(ex, "/delay/200")};
  bool done[3] = {false, false, false};
  double t0 = tu_now();
  assert_int_equal(fp_wait(fs, 3, FP_FOREVER, FP_ALL_COMPLETED, done), FP_OK);
  assert_true(tu_now() - t0 >= 0.29);
  for (int i = 0; i < 3; i++) {
    assert_true(done[i]);
    assert_int_equal(fp_future_state(fs[i]), FP_FINISHED);
  }
  assert_string_equal(tu_body(fs[0]), "delayed 300");
  tu_decref_all(fs, 3);
  fp_executor_free(ex);
}

static void test_first_exception(void **state) {
  (void)state;
  fp_executor *ex = tu_executor(3, 0, NULL);
  fp_future *fs[3] = {tu_submit(ex, "/delay/800"), tu_submit(ex, "/delay/800"),
                      submit_refused(ex)};
  bool done[3];
  assert_int_equal(fp_wait(fs, 3, FP_FOREVER, FP_FIRST_EXCEPTION, done), FP_OK);
  assert_false(done[0]);
  assert_false(done[1]);
  assert_true(done[2]);
  assert_int_equal(fp_response_error(fp_future_response(fs[2])), FP_ERR_CONNECT);
  /* an exception already there: holds at once */
  assert_int_equal(fp_wait(fs, 3, 0, FP_FIRST_EXCEPTION, NULL), FP_OK);
  tu_decref_all(fs, 3);
  fp_executor_free(ex);
}

static void test_first_exception_none_waits_all(void **state) {
  (void)state;
  fp_executor *ex = tu_executor(3, 0, NULL);
  /* an HTTP 500 is a finished transfer, not an exception */
  fp_future *fs[3] = {tu_submit(ex, "/status/500"), tu_submit(ex, "/delay/300"),
                      tu_submit(ex, "/delay/100")};
  bool done[3] = {false, false, false};
  double t0 = tu_now();
  assert_int_equal(fp_wait(fs, 3, FP_FOREVER, FP_FIRST_EXCEPTION, done), FP_OK);
  assert_true(tu_now() - t0 >= 0.29);
  for (int i = 0; i < 3; i++)
    assert_true(done[i]);
  assert_int_equal(fp_response_status(fp_future_response(fs[0])), 500);
  tu_decref_all(fs, 3);
  fp_executor_free(ex);
}

static void test_first_exception_ignores_cancelled(void **state) {
  (void)state;
  fp_executor *ex = tu_executor(1, 0, NULL);
  fp_future *fs[2] = {tu_submit(ex, "/delay/300"), tu_submit(ex, "/text/cancel-me")};
  assert_true(fp_future_cancel(fs[1]));
  bool done[2] = {true, true};
  /* a cancelled future is done but not an exception: still waits for fs[0] */
  assert_int_equal(fp_wait(fs, 2, 0.1, FP_FIRST_EXCEPTION, done), FP_ERR_WAIT_TIMEOUT);
  assert_false(done[0]);
  assert_true(done[1]);
  assert_int_equal(fp_wait(fs, 2, FP_FOREVER, FP_FIRST_EXCEPTION, done), FP_OK);
  assert_true(done[0]);
  assert_true(done[1]);
  tu_decref_all(fs, 2);
  fp_executor_free(ex);
}

static void test_wait_timeouts(void **state) {
  (void)state;
  fp_executor *ex = tu_executor(3, 0, NULL);
  fp_future *fs[3] = {tu_submit(ex, "/text/quick"), tu_submit(ex, "/delay/700"),
                      tu_submit(ex, "/delay/700")};
  assert_int_equal(fp_future_wait(fs[0], FP_FOREVER), FP_OK);

  bool done[3] = {false, false, false};
  double t0 = tu_now();
  assert_int_equal(fp_wait(fs, 3, 0.2, FP_ALL_COMPLETED, done), FP_ERR_WAIT_TIMEOUT);
  double took = tu_now() - t0;
  assert_true(took >= 0.19);
  assert_true(done[0]);
  assert_false(done[1]);
  assert_false(done[2]);

  /* the slow pair alone: nothing completes within the timeout */
  done[1] = done[2] = true;
  t0 = tu_now();
  assert_int_equal(fp_wait(fs + 1, 2, 0.1, FP_FIRST_COMPLETED, done + 1), FP_ERR_WAIT_TIMEOUT);
  took = tu_now() - t0;
  assert_true(took >= 0.09);
  assert_false(done[1]);
  assert_false(done[2]);
  assert_int_equal(fp_wait(fs + 1, 2, 0.1, FP_FIRST_EXCEPTION, NULL), FP_ERR_WAIT_TIMEOUT);

  /* timeout 0 polls */
  t0 = tu_now();
  assert_int_equal(fp_wait(fs + 1, 2, 0, FP_ALL_COMPLETED, NULL), FP_ERR_WAIT_TIMEOUT);
  assert_true(tu_now() - t0 < 0.5); /* at once (generous: loaded CI, valgrind) */

  /* then the same wait succeeds once they are done */
  assert_int_equal(fp_wait(fs, 3, 10.0, FP_ALL_COMPLETED, done), FP_OK);
  for (int i = 0; i < 3; i++)
    assert_true(done[i]);
  tu_decref_all(fs, 3);
  fp_executor_free(ex);
}

static void test_wait_empty_and_invalid(void **state) {
  (void)state;
  bool flag = true;
  assert_int_equal(fp_wait(NULL, 0, 0, FP_FIRST_COMPLETED, NULL), FP_OK);
  assert_int_equal(fp_wait(NULL, 0, 0, FP_FIRST_EXCEPTION, NULL), FP_OK);
  assert_int_equal(fp_wait(NULL, 0, FP_FOREVER, FP_ALL_COMPLETED, &flag), FP_OK);
  assert_true(flag); /* n == 0: no flag written */
  assert_int_equal(fp_wait(NULL, 2, 0, FP_ALL_COMPLETED, NULL), FP_ERR_INVALID_ARG);
  fp_future *fs[2] = {NULL, NULL};
  assert_int_equal(fp_wait(fs, 2, 0, FP_ALL_COMPLETED, NULL), FP_ERR_INVALID_ARG);

  fp_executor *ex = tu_executor(1, 0, NULL);
  fs[0] = tu_submit(ex, "/text/a");
  assert_int_equal(fp_wait(fs, 1, 0, (fp_return_when)7, NULL), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_future_wait(fs[0], FP_FOREVER), FP_OK);
  fp_future_decref(fs[0]);
  fp_executor_free(ex);
}

/* Two threads wait on the same futures at once: each gets its own waiter. */
typedef struct waiter_arg {
  fp_future **fs;
  size_t n;
  int rc;
  bool done[4];
} waiter_arg;

static void *wait_main(void *arg) {
  waiter_arg *a = arg;
  a->rc = fp_wait(a->fs, a->n, 20.0, FP_ALL_COMPLETED, a->done);
  return NULL;
}

static void test_concurrent_waits(void **state) {
  (void)state;
  fp_executor *ex = tu_executor(4, 0, NULL);
  fp_future *fs[4] = {tu_submit(ex, "/delay/200"), tu_submit(ex, "/delay/100"),
                      tu_submit(ex, "/delay/150"), tu_submit(ex, "/text/x")};
  waiter_arg args[3];
  pthread_t t[3];
  for (int i = 0; i < 3; i++) {
    args[i] = (waiter_arg){.fs = fs, .n = 4, .rc = -99};
    assert_int_equal(pthread_create(&t[i], NULL, wait_main, &args[i]), 0);
  }
  for (int i = 0; i < 3; i++) {
    pthread_join(t[i], NULL);
    assert_int_equal(args[i].rc, FP_OK);
    for (int j = 0; j < 4; j++)
      assert_true(args[i].done[j]);
  }
  tu_decref_all(fs, 4);
  fp_executor_free(ex);
}

/* ---- as_completed ---- */

static void test_as_completed_order(void **state) {
  (void)state;
  fp_executor *ex = tu_executor(3, 0, NULL);
  fp_future *fs[3] = {tu_submit(ex, "/delay/300"), tu_submit(ex, "/delay/100"),
                      tu_submit(ex, "/delay/200")};
  fp_error err = {0};
  fp_as_completed *it = fp_as_completed_new(fs, 3, &err);
  assert_non_null(it);
  const char *want[3] = {"delayed 100", "delayed 200", "delayed 300"};
  fp_future *expect[3] = {fs[1], fs[2], fs[0]};
  for (int i = 0; i < 3; i++) {
    fp_future *f = NULL;
    assert_int_equal(fp_as_completed_next(it, 10.0, &f), FP_OK);
    assert_ptr_equal(f, expect[i]);
    assert_true(fp_future_done(f));
    assert_string_equal(tu_body(f), want[i]);
  }
  fp_future *f = (fp_future *)1;
  assert_int_equal(fp_as_completed_next(it, 0, &f), FP_ERR_EXHAUSTED);
  assert_null(f);
  assert_int_equal(fp_as_completed_next(it, FP_FOREVER, &f), FP_ERR_EXHAUSTED);
  fp_as_completed_free(it);
  tu_decref_all(fs, 3);
  fp_executor_free(ex);
}

static void test_as_completed_done_first(void **state) {
  (void)state;
  fp_executor *ex = tu_executor(2, 0, NULL);
  fp_future *slow = tu_submit(ex, "/delay/300");
  fp_future *quick = tu_submit(ex, "/text/quick");
  fp_future *cancelled = tu_submit(ex, "/text/unused");
  assert_int_equal(fp_future_wait(quick, FP_FOREVER), FP_OK);
  /* cancelled may have run already if a worker was free: cancel only
   * succeeds while it is pending, which makes either outcome done */
  fp_future_cancel(cancelled);
  assert_int_equal(fp_future_wait(cancelled, FP_FOREVER), FP_OK);
  assert_false(fp_future_done(slow));
  fp_future *fs[3] = {slow, quick, cancelled};
  fp_as_completed *it = fp_as_completed_new(fs, 3, NULL);
  assert_non_null(it);
  /* the two done ones come at once, in input order, before the slow one */
  fp_future *f = NULL;
  assert_int_equal(fp_as_completed_next(it, 0, &f), FP_OK);
  assert_ptr_equal(f, quick);
  assert_int_equal(fp_as_completed_next(it, 0, &f), FP_OK);
  assert_ptr_equal(f, cancelled);
  assert_int_equal(fp_as_completed_next(it, FP_FOREVER, &f), FP_OK);
  assert_ptr_equal(f, slow);
  assert_int_equal(fp_as_completed_next(it, 0, &f), FP_ERR_EXHAUSTED);
  fp_as_completed_free(it);
  tu_decref_all(fs, 3);
  fp_executor_free(ex);
}

static void test_as_completed_timeout(void **state) {
  (void)state;
  fp_executor *ex = tu_executor(1, 0, NULL);
  fp_future *f0 = tu_submit(ex, "/delay/500");
  fp_as_completed *it = fp_as_completed_new(&f0, 1, NULL);
  assert_non_null(it);
  fp_future_decref(f0); /* the iterator holds its own reference */
  fp_future *f = (fp_future *)1;
  double t0 = tu_now();
  assert_int_equal(fp_as_completed_next(it, 0.1, &f), FP_ERR_WAIT_TIMEOUT);
  double took = tu_now() - t0;
  assert_null(f);
  assert_true(took >= 0.09);
  assert_int_equal(fp_as_completed_next(it, 0, &f), FP_ERR_WAIT_TIMEOUT);
  assert_int_equal(fp_as_completed_next(it, FP_FOREVER, &f), FP_OK);
  assert_non_null(f);
  assert_string_equal(tu_body(f), "delayed 500");
  assert_int_equal(fp_as_completed_next(it, FP_FOREVER, &f), FP_ERR_EXHAUSTED);
  fp_as_completed_free(it);
  fp_executor_free(ex);
}

/* as_completed(fs, timeout): the deadline covers the whole iteration,
 * not each call. */
static void test_as_completed_overall_timeout(void **state) {
  (void)state;
  double scale = tu_time_scale();
  fp_executor *ex = tu_executor(3, 0, NULL);
  fp_future *fs[3] = {tu_submit(ex, "/delay/50"), tu_submit(ex, "/delay/1200"),
                      tu_submit(ex, "/delay/1200")};
  fp_as_completed *it = fp_as_completed_new(fs, 3, NULL);
  assert_non_null(it);
  double t0 = tu_now();
  assert_int_equal(fp_as_completed_set_timeout(it, 0.4), FP_OK);
  fp_future *f = NULL;
  assert_int_equal(fp_as_completed_next(it, FP_FOREVER, &f), FP_OK);
  assert_ptr_equal(f, fs[0]);
  /* the second call ends at the overall deadline, not its own */
  assert_int_equal(fp_as_completed_next(it, FP_FOREVER, &f), FP_ERR_WAIT_TIMEOUT);
  double took = tu_now() - t0;
  assert_null(f);
  assert_true(took >= 0.39);
  assert_true(took < 1.0 * scale);
  /* past it, a call with nothing done returns at once */
  double t1 = tu_now();
  assert_int_equal(fp_as_completed_next(it, 5.0, &f), FP_ERR_WAIT_TIMEOUT);
  assert_true(tu_now() - t1 < 0.1 * scale);
  /* and a future done since is still yielded */
  assert_int_equal(fp_future_wait(fs[1], FP_FOREVER), FP_OK);
  assert_int_equal(fp_future_wait(fs[2], FP_FOREVER), FP_OK);
  assert_int_equal(fp_as_completed_next(it, 0, &f), FP_OK);
  assert_int_equal(fp_as_completed_next(it, 0, &f), FP_OK);
  assert_int_equal(fp_as_completed_next(it, 0, &f), FP_ERR_EXHAUSTED);
  /* -1 removes the limit; NaN and NULL are refused */
  assert_int_equal(fp_as_completed_set_timeout(it, -1), FP_OK);
  assert_int_equal(fp_as_completed_set_timeout(it, NAN), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_as_completed_set_timeout(NULL, 1), FP_ERR_INVALID_ARG);
  fp_as_completed_free(it);
  tu_decref_all(fs, 3);
  fp_executor_free(ex);
}

/* The per-call timeout still works under a later overall deadline. */
static void test_as_completed_call_timeout_first(void **state) {
  (void)state;
  fp_executor *ex = tu_executor(1, 0, NULL);
  fp_future *f0 = tu_submit(ex, "/delay/300");
  fp_as_completed *it = fp_as_completed_new(&f0, 1, NULL);
  assert_int_equal(fp_as_completed_set_timeout(it, 30), FP_OK);
  fp_future *f = NULL;
  double t0 = tu_now();
  assert_int_equal(fp_as_completed_next(it, 0.05, &f), FP_ERR_WAIT_TIMEOUT);
  assert_true(tu_now() - t0 >= 0.045);
  assert_int_equal(fp_as_completed_next(it, FP_FOREVER, &f), FP_OK);
  assert_ptr_equal(f, f0);
  fp_as_completed_free(it);
  fp_future_decref(f0);
  fp_executor_free(ex);
}

static void test_as_completed_free_early(void **state) {
  (void)state;
  fp_executor *ex = tu_executor(3, 0, NULL);
  fp_future *fs[3] = {tu_submit(ex, "/delay/100"), tu_submit(ex, "/delay/250"),
                      tu_submit(ex, "/delay/250")};
  /* freed before anything completes: no waiter may be left behind */
  fp_as_completed *it = fp_as_completed_new(fs, 3, NULL);
  assert_non_null(it);
  fp_as_completed_free(it);
  /* freed after one of three was yielded */
  it = fp_as_completed_new(fs, 3, NULL);
  assert_non_null(it);
  fp_future *f = NULL;
  assert_int_equal(fp_as_completed_next(it, FP_FOREVER, &f), FP_OK);
  assert_ptr_equal(f, fs[0]);
  fp_as_completed_free(it);
  tu_decref_all(fs, 3);
  /* the others complete into no iterator */
  assert_int_equal(fp_executor_shutdown(ex, true, false), FP_OK);
  fp_executor_free(ex);
  fp_as_completed_free(NULL);
}

/* Futures completing while the iterator installs its waiter: each one is
 * yielded exactly once, whether it was done before or after. */
static void test_as_completed_many(void **state) {
  (void)state;
  enum { N = 200 };
  fp_executor *ex = tu_executor(8, 0, NULL);
  fp_future *fs[N];
  for (int i = 0; i < N; i++) {
    char path[32];
    snprintf(path, sizeof path, "/text/%d", i);
    fs[i] = tu_submit(ex, "%s", path);
  }
  fp_as_completed *it = fp_as_completed_new(fs, N, NULL);
  assert_non_null(it);
  int seen[N] = {0};
  for (int k = 0; k < N; k++) {
    fp_future *f = NULL;
    assert_int_equal(fp_as_completed_next(it, 30.0, &f), FP_OK);
    int i = atoi(tu_body(f));
    assert_true(i >= 0 && i < N);
    assert_ptr_equal(f, fs[i]);
    seen[i]++;
  }
  assert_int_equal(fp_as_completed_next(it, 0, NULL), FP_ERR_EXHAUSTED);
  for (int i = 0; i < N; i++)
    assert_int_equal(seen[i], 1);
  fp_as_completed_free(it);
  bool done[N];
  assert_int_equal(fp_wait(fs, N, 0, FP_ALL_COMPLETED, done), FP_OK);
  for (int i = 0; i < N; i++)
    assert_true(done[i]);
  tu_decref_all(fs, N);
  fp_executor_free(ex);
}

static void test_as_completed_empty_and_invalid(void **state) {
  (void)state;
  fp_as_completed *it = fp_as_completed_new(NULL, 0, NULL);
  assert_non_null(it);
  fp_future *f = NULL;
  assert_int_equal(fp_as_completed_next(it, 0, &f), FP_ERR_EXHAUSTED);
  fp_as_completed_free(it);
  fp_error err = {0};
  assert_null(fp_as_completed_new(NULL, 3, &err));
  assert_int_equal(err.code, FP_ERR_INVALID_ARG);
  fp_future *fs[2] = {NULL, NULL};
  fp_error_clear(&err);
  assert_null(fp_as_completed_new(fs, 2, &err));
  assert_int_equal(err.code, FP_ERR_INVALID_ARG);
  assert_int_equal(fp_as_completed_next(NULL, 0, &f), FP_ERR_INVALID_ARG);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      TU_TEST(test_first_completed),
      TU_TEST(test_all_completed),
      TU_TEST(test_first_exception),
      TU_TEST(test_first_exception_none_waits_all),
      TU_TEST(test_first_exception_ignores_cancelled),
      TU_TEST(test_wait_timeouts),
      TU_TEST(test_wait_empty_and_invalid),
      TU_TEST(test_concurrent_waits),
      TU_TEST(test_as_completed_order),
      TU_TEST(test_as_completed_done_first),
      TU_TEST(test_as_completed_timeout),
      TU_TEST(test_as_completed_overall_timeout),
      TU_TEST(test_as_completed_call_timeout_first),
      TU_TEST(test_as_completed_free_early),
      TU_TEST(test_as_completed_many),
      TU_TEST(test_as_completed_empty_and_invalid),
  };
  return cmocka_run_group_tests_name("wait", tests, tu_setup_server, tu_teardown_server);
}
