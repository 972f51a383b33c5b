/* test_cli_limit.c: the program's -t auto / --threads auto and
 * --max-threads (issue 18), run as a child process against the in-process
 * loopback server: the values refused, runs that finish with every job ok,
 * the pool and the open-files check sized to --max-threads. */
#include "testutil.h"
#include "cli_harness.h"

static void assert_all_ok(const run *r, size_t n) {
  json_t *recs = records(r);
  assert_int_equal(json_array_size(recs), n);
  for (size_t i = 0; i < n; i++)
    if (!json_is_true(json_object_get(json_array_get(recs, i), "ok")))
      fail_msg("job %zu failed: %s", i, json_dumps(json_array_get(recs, i), 0));
  json_decref(recs);
}

static void test_help_documents_auto(void **state) {
  (void)state;
  run r;
  RUN(&r, NULL, "--help");
  assert_int_equal(r.status, 0);
  assert_true(contains(r.out, "--threads auto"));
  assert_true(contains(r.out, "--max-threads N"));
  assert_true(contains(r.out, "(default 256)"));
  run_free(&r);
}

static void test_usage_errors(void **state) {
  (void)state;
  static const usage_case bad[] = {
      {"-t", "Auto", "--threads"},          {"-t", "automatic", "--threads"},
      {"--threads", "", "--threads"},       {"-t", "0", "--threads"},
      {"--max-threads", "0", "--max-threads"}, {"--max-threads", "10001", "--max-threads"},
      {"--max-threads", "x", "--max-threads"}, {"--max-threads", "-1", "--max-threads"},
      {"--max-threads", "", "--max-threads"},
      /* without -t auto it means nothing: refused, not ignored */
      {"--max-threads", "8", "--threads auto"},
  };
  assert_usage_errors(bad, sizeof bad / sizeof *bad);
  /* the message says auto is a value */
  run r;
  RUN(&r, NULL, "-t", "many");
  assert_int_equal(r.status, 2);
  assert_true(contains(r.err, "or auto"));
  run_free(&r);
  /* the last -t wins: a fixed N after auto drops auto */
  unsigned long before = ts_requests(tu_server);
  char *url = tu_url("/hello");
  RUN(&r, url, "-t", "auto", "-t", "4", "--max-threads", "8");
  assert_int_equal(r.status, 2);
  assert_true(contains(r.err, "--max-threads needs --threads auto"));
  run_free(&r);
  assert_int_equal(ts_requests(tu_server), before);
  free(url);
}

/* -t auto runs a job list to the end, every job ok; with or without
 * --max-threads, in either order, on every engine. */
static void test_auto_runs_every_job(void **state) {
  (void)state;
  char *input = url_lines("/hello", 40);
  static const char *const engines[] = {"threads", "multi", "hybrid"};
  for (size_t e = 0; e < 3; e++) {
    run r;
    RUN(&r, input, "-q", "-t", "auto", "--engine", engines[e]);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.err_len, 0);
    assert_all_ok(&r, 40);
    run_free(&r);
    RUN(&r, input, "-q", "--max-threads", "3", "--threads", "auto", "--engine", engines[e]);
    assert_int_equal(r.status, 0);
    assert_all_ok(&r, 40);
    run_free(&r);
  }
  free(input);
}

/* --max-threads bounds the transfers at once, all hosts together. */
static void test_max_threads_bounds_transfers(void **state) {
  (void)state;
  char path[64];
  snprintf(path, sizeof path, "/concurrency/auto-max?ms=%u", (unsigned)(50 * tu_time_scale()));
  char *input = url_lines(path, 24);
  run r;
  RUN(&r, input, "-q", "-t", "auto", "--max-threads", "4");
  assert_int_equal(r.status, 0);
  assert_all_ok(&r, 24);
  run_free(&r);
  long most = tu_server_number("/concurrency-max/auto-max");
  assert_true(most >= 1 && most <= 4);
  free(input);
}

/* The open-files check counts --max-threads: with a hard limit of 200,
 * 100 thread-engine transfers do not fit; a warning names --max-threads
 * and the run still ends with every job ok, within what fits. */
static void test_open_files_checked_for_max_threads(void **state) {
  (void)state;
  static const char *const limited[] = {"/usr/bin/prlimit", "--nofile=200:200", "--", NULL};
  char path[64];
  snprintf(path, sizeof path, "/concurrency/auto-fit?ms=%u", (unsigned)(100 * tu_time_scale()));
  char *input = url_lines(path, 60);
  run r;
  run_cli_wrapped(&r, limited, input, strlen(input),
                  ARGS("-q", "-t", "auto", "--max-threads", "100"), NULL, 0, false);
  assert_int_equal(r.status, 0);
  assert_int_equal(count_lines(r.err), 1);
  unsigned long long need, each, own, lim;
  size_t fit;
  if (sscanf(r.err,
             "fetchpool: warning: --max-threads 100 needs %llu open files (%llu per transfer at "
             "once + %llu for the run's own), but the limit is %llu; running %zu transfers",
             &need, &each, &own, &lim, &fit) != 5)
    fail_msg("unexpected warning: %s", r.err);
  assert_int_equal(each, 3);
  assert_int_equal(lim, 200);
  assert_true(fit >= 1 && fit < 100);
  assert_all_ok(&r, 60);
  run_free(&r);
  assert_true(tu_server_number("/concurrency-max/auto-fit") <= (long)fit);
  free(input);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      TU_TEST(test_help_documents_auto),
      TU_TEST(test_usage_errors),
      TU_TEST(test_auto_runs_every_job),
      TU_TEST(test_max_threads_bounds_transfers),
      TU_TEST(test_open_files_checked_for_max_threads),
  };
  return cmocka_run_group_tests(tests, setup_suite, teardown_suite);
}
