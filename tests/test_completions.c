/* test_completions.c: the completion queue: every watched future's tag
 * arrives once (finished, cancelled or already done), in batches of at
 * most max, waits time out, close wakes a waiting consumer, and misuse. */
#include <pthread.h>

#include "testutil.h"

enum { N = 40 };

/* Pop until want tags arrived (or 20 s pass), counting each tag in seen;
 * returns the number of pops that gave tags. */
static size_t pop_all(fp_completions *q, size_t want, unsigned *seen, size_t max) {
  uint64_t tags[N];
  size_t got = 0, pops = 0;
  double end = tu_now() + 20 * tu_time_scale();
  assert_true(max <= N);
  while (got < want && tu_now() < end) {
    size_t n = 99;
    int rc = fp_completions_pop(q, 0.5, tags, max, &n);
    if (rc == FP_ERR_WAIT_TIMEOUT) {
      assert_int_equal(n, 0);
      continue;
    }
    assert_int_equal(rc, FP_OK);
    assert_true(n >= 1 && n <= max);
    for (size_t i = 0; i < n; i++) {
      assert_true(tags[i] >= 1000 && tags[i] < 1000 + N);
      seen[tags[i] - 1000]++;
    }
    got += n;
    pops++;
  }
  assert_int_equal(got, want);
  return pops;
}

static void test_every_tag_once(void **state) {
  (void)state;
  fp_executor *ex = tu_executor(8, 0, NULL);
  fp_completions *q = fp_completions_new();
  assert_non_null(q);
  fp_future *fs[N];
  for (int i = 0; i < N; i++) {
    fs[i] = tu_submit(ex, "/text/t%d?delay=%d", i, (i % 4) * 20);
    assert_int_equal(fp_completions_watch(q, fs[i], 1000 + (uint64_t)i), FP_OK);
  }
  unsigned seen[N] = {0};
  pop_all(q, N, seen, 7);
  for (int i = 0; i < N; i++) {
    assert_int_equal(seen[i], 1);
    /* a tag comes only once its future is done */
    assert_true(fp_future_done(fs[i]));
  }
  /* nothing more comes */
  uint64_t tag;
  size_t n = 1;
  assert_int_equal(fp_completions_pop(q, 0, &tag, 1, &n), FP_ERR_WAIT_TIMEOUT);
  assert_int_equal(n, 0);
  fp_executor_free(ex);
  tu_decref_all(fs, N);
  fp_completions_free(q);
}

/* A future done before the watch (finished, or cancelled while queued
 * behind a busy worker) gives its tag at once, and a burst of tags is
 * taken in one pop. */
static void test_done_and_cancelled(void **state) {
  (void)state;
  fp_executor *ex = tu_executor(1, 0, NULL);
  fp_completions *q = fp_completions_new();
  assert_non_null(q);
  fp_future *first = tu_submit(ex, "/text/first");
  assert_int_equal(fp_future_wait(first, 20), FP_OK);
  assert_int_equal(fp_completions_watch(q, first, 1000), FP_OK);

  fp_future *busy = tu_submit(ex, "/delay/300");
  fp_future *queued[3];
  for (int i = 0; i < 3; i++) {
    queued[i] = tu_submit(ex, "/text/q%d", i);
    assert_int_equal(fp_completions_watch(q, queued[i], 1001 + (uint64_t)i), FP_OK);
  }
  for (int i = 0; i < 3; i++)
    assert_true(fp_future_cancel(queued[i]));
  /* all four are in q already: one pop with room takes them together */
  uint64_t tags[8];
  size_t n = 0;
  assert_int_equal(fp_completions_pop(q, 0, tags, 8, &n), FP_OK);
  assert_int_equal(n, 4);
  for (size_t i = 0; i < n; i++)
    assert_int_equal(tags[i], 1000 + i); /* oldest first */

  fp_executor_free(ex);
  fp_future_decref(first);
  fp_future_decref(busy);
  tu_decref_all(queued, 3);
  fp_completions_free(q);
}

static void test_wait_times_out(void **state) {
  (void)state;
  fp_completions *q = fp_completions_new();
  assert_non_null(q);
  uint64_t tag = 7;
  size_t n = 5;
  double t0 = tu_now();
  assert_int_equal(fp_completions_pop(q, 0.2, &tag, 1, &n), FP_ERR_WAIT_TIMEOUT);
  double took = tu_now() - t0;
  assert_true(took >= 0.19);
  assert_true(took < 5 * tu_time_scale());
  assert_int_equal(n, 0);
  assert_int_equal(tag, 7);
  fp_completions_free(q);
}

typedef struct popper {
  fp_completions *q;
  int rc;
  size_t n;
} popper;

static void *pop_forever(void *arg) {
  popper *p = arg;
  uint64_t tag;
  p->rc = fp_completions_pop(p->q, FP_FOREVER, &tag, 1, &p->n);
  return NULL;
}

/* close wakes a consumer waiting without limit; tags left are still
 * handed out after close, then FP_ERR_SHUTDOWN comes at once. */
static void test_close(void **state) {
  (void)state;
  fp_completions *q = fp_completions_new();
  assert_non_null(q);
  popper p = {q, 1, 9};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, pop_forever, &p), 0);
  usleep(100 * 1000); /* let it wait (if not yet, it sees closed at once) */
  fp_completions_close(q);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_int_equal(p.rc, FP_ERR_SHUTDOWN);
  assert_int_equal(p.n, 0);

  fp_executor *ex = tu_executor(1, 0, NULL);
  fp_future *f = tu_submit(ex, "/text/late");
  assert_int_equal(fp_future_wait(f, 20), FP_OK);
  assert_int_equal(fp_completions_watch(q, f, 42), FP_OK);
  fp_completions_close(q); /* idempotent */
  uint64_t tag = 0;
  size_t n = 0;
  assert_int_equal(fp_completions_pop(q, FP_FOREVER, &tag, 1, &n), FP_OK);
  assert_int_equal(n, 1);
  assert_int_equal(tag, 42);
  assert_int_equal(fp_completions_pop(q, FP_FOREVER, &tag, 1, &n), FP_ERR_SHUTDOWN);
  assert_int_equal(n, 0);
  fp_executor_free(ex);
  fp_future_decref(f);
  fp_completions_free(q);
}

/* Tags never popped are freed with the queue (ASan / valgrind check it). */
static void test_free_with_tags_left(void **state) {
  (void)state;
  fp_executor *ex = tu_executor(2, 0, NULL);
  fp_completions *q = fp_completions_new();
  assert_non_null(q);
  fp_future *fs[4];
  for (int i = 0; i < 4; i++) {
    fs[i] = tu_submit(ex, "/text/left%d", i);
    assert_int_equal(fp_completions_watch(q, fs[i], (uint64_t)i), FP_OK);
  }
  fp_executor_shutdown(ex, true, false);
  /* done, and (callbacks run before the worker takes its next job, and
   * shutdown waits for the workers) every tag is in q */
  fp_completions_free(q);
  fp_executor_free(ex);
  tu_decref_all(fs, 4);
}

static void test_misuse(void **state) {
  (void)state;
  fp_completions *q = fp_completions_new();
  assert_non_null(q);
  uint64_t tag;
  size_t n = 3;
  assert_int_equal(fp_completions_watch(NULL, NULL, 1), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_completions_watch(q, NULL, 1), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_completions_pop(NULL, 0, &tag, 1, &n), FP_ERR_INVALID_ARG);
  assert_int_equal(n, 0);
  assert_int_equal(fp_completions_pop(q, 0, NULL, 1, &n), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_completions_pop(q, 0, &tag, 0, &n), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_completions_pop(q, 0, &tag, 1, NULL), FP_ERR_INVALID_ARG);
  fp_completions_close(NULL);
  fp_completions_free(NULL);
  fp_completions_free(q);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      TU_TEST(test_every_tag_once),
      TU_TEST(test_done_and_cancelled),
      TU_TEST(test_wait_times_out),
      TU_TEST(test_close),
      TU_TEST(test_free_with_tags_left),
      TU_TEST(test_misuse),
  };
  return cmocka_run_group_tests_name("completions", tests, tu_setup_server, tu_teardown_server);
}
