/* test_examples.c: every program in examples/ (one per idiom of the API:
 * map in input order, as_completed, wait(FIRST_COMPLETED), the result
 * array, a streaming sink, cancel and shutdown(cancel_futures), producer
 * threads with callbacks) run as a child against the loopback server,
 * with its exact output and exit status checked, so the examples a
 * newcomer copies keep working. */
#include <sys/stat.h>
#include <sys/wait.h>

#include "testutil.h"

/* Run "$FP_TEST_BUILD/examples/NAME ARGS" and return its stdout (malloc'd);
 * *status gets its exit status. */
static char *run_example(int *status, const char *name, const char *args) {
  const char *build = getenv("FP_TEST_BUILD");
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "%s/examples/%s %s", build && *build ? build : "build", name, args);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  size_t cap = 1 << 16, len = 0;
  char *out = calloc(1, cap);
  assert_non_null(out);
  size_t got;
  while (len + 1 < cap && (got = fread(out + len, 1, cap - 1 - len, p)) > 0)
    len += got;
  int rc = pclose(p);
  assert_true(WIFEXITED(rc));
  *status = WEXITSTATUS(rc);
  return out;
}

/* The server's root URL, ending in "/". */
static char *base(void) { return tu_url("/"); }

static void test_fetch_list_in_order(void **state) {
  (void)state;
  char *b = base(), args[1024], want[1024];
  snprintf(args, sizeof args, "%sdelay/300 %shello %sstatus/404", b, b, b);
  int status;
  char *out = run_example(&status, "fetch_list", args);
  snprintf(want, sizeof want, "%sdelay/300 200 11 bytes\n%shello 200 5 bytes\n"
           "%sstatus/404 404 10 bytes\n", b, b, b);
  assert_string_equal(out, want);
  assert_int_equal(status, 0);
  free(out);
  free(b);
}

static void test_as_completed_order(void **state) {
  (void)state;
  char *b = base(), args[1024], want[1024];
  /* done in the order 404 (at once), 150 ms, 400 ms */
  snprintf(args, sizeof args, "%sdelay/400 %sdelay/150 %sstatus/404", b, b, b);
  int status;
  char *out = run_example(&status, "as_completed", args);
  snprintf(want, sizeof want, "%sstatus/404 failed: http\n%sdelay/150 200\n%sdelay/400 200\n",
           b, b, b);
  assert_string_equal(out, want);
  assert_int_equal(status, 1);
  free(out);
  free(b);
}

static void test_first_completed(void **state) {
  (void)state;
  char *b = base(), args[1024], want[1024];
  snprintf(args, sizeof args, "%sdelay/700 %sdelay/20 %sdelay/600", b, b, b);
  int status;
  char *out = run_example(&status, "first_completed", args);
  snprintf(want, sizeof want, "first: %sdelay/20\n", b);
  assert_string_equal(out, want);
  assert_int_equal(status, 0);
  free(out);
  free(b);
}

static void test_results_array(void **state) {
  (void)state;
  char *b = base(), args[1024], want[1024];
  snprintf(args, sizeof args, "%sdelay/200 %shello %sstatus/500", b, b, b);
  int status;
  char *out = run_example(&status, "results_array", args);
  snprintf(want, sizeof want, "0 %sdelay/200 200\n1 %shello 200\n2 %sstatus/500 500\n"
           "2 of 3 ok\n", b, b, b);
  assert_string_equal(out, want);
  assert_int_equal(status, 1);
  free(out);
  free(b);
}

/* 5 MB streamed to a file: every byte there, the program stays small. */
static void test_sink_to_file(void **state) {
  (void)state;
  char *b = base(), args[1024], want[1024], path[] = "/tmp/fp-sink-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  snprintf(args, sizeof args, "%sbytes/5000000 %s", b, path);
  int status;
  char *out = run_example(&status, "sink_to_file", args);
  snprintf(want, sizeof want, "200: 5000000 bytes to %s\n", path);
  assert_string_equal(out, want);
  assert_int_equal(status, 0);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_size, 5000000);
  free(out);
  /* a transfer error is reported with the record's code */
  snprintf(args, sizeof args, "http://127.0.0.1:1/ %s", path);
  out = run_example(&status, "sink_to_file", args);
  assert_int_equal(strncmp(out, "failed: connect: ", 17), 0);
  assert_int_equal(status, 1);
  free(out);
  unlink(path);
  free(b);
}

/* 2 workers, 20 jobs of 1 s: what started finishes (one or two jobs,
 * depending on how far the workers got), the rest is cancelled, and
 * nothing is lost. The jobs are long so that a main thread descheduled
 * on a loaded machine (a sanitizer run in CI once stalled past 300 ms)
 * still calls shutdown before a worker takes a third job. */
static void test_cancel_shutdown(void **state) {
  (void)state;
  char *b = base(), args[1024];
  snprintf(args, sizeof args, "%sdelay/1000 20", b);
  int status;
  char *out = run_example(&status, "cancel_shutdown", args);
  print_message("%s", out);
  long finished = -1, cancelled = -1, all = -1;
  assert_int_equal(strncmp(out, "cancel last: yes\n", 17), 0);
  assert_int_equal(sscanf(out + 17, "%ld finished, %ld cancelled, %ld in all", &finished,
                          &cancelled, &all), 3);
  assert_int_equal(all, 20);
  assert_true(finished >= 0 && finished <= 2);
  assert_int_equal(finished + cancelled, 20);
  assert_int_equal(status, 0);
  free(out);
  free(b);
}

static void test_producers(void **state) {
  (void)state;
  char *b = base(), args[1024];
  snprintf(args, sizeof args, "%shello 400", b);
  int status;
  char *out = run_example(&status, "producers", args);
  assert_non_null(strstr(out, "400 of 400 requests ok"));
  assert_int_equal(status, 0);
  free(out);
  free(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      TU_TEST(test_fetch_list_in_order), TU_TEST(test_as_completed_order),
      TU_TEST(test_first_completed),     TU_TEST(test_results_array),
      TU_TEST(test_sink_to_file),        TU_TEST(test_cancel_shutdown),
      TU_TEST(test_producers),
  };
  return cmocka_run_group_tests_name("examples", tests, tu_setup_server, tu_teardown_server);
}
