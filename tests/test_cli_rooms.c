/* test_cli_rooms.c: the program's rooms tested directly, without the
 * binary: the latency histogram and the run's statistics (the summary
 * text and its --stats-json object). Linked with the CLI's objects. */
#include "testutil.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>

#include "cli.h"

/* ---- histogram.c ---- */

static void test_histogram_empty(void **state) {
  (void)state;
  cli_histogram *h = cli_histogram_new();
  assert_non_null(h);
  assert_int_equal(cli_histogram_count(h), 0);
  assert_int_equal(cli_histogram_quantile(h, 0), 0);
  assert_int_equal(cli_histogram_quantile(h, 0.5), 0);
  assert_int_equal(cli_histogram_quantile(h, 1), 0);
  cli_histogram_free(h);
}

/* Below 256 every value has its own bucket: quantiles are exact. */
static void test_histogram_exact_below_256(void **state) {
  (void)state;
  cli_histogram *h = cli_histogram_new();
  for (uint64_t v = 1; v <= 200; v++)
    cli_histogram_add(h, v);
  assert_int_equal(cli_histogram_count(h), 200);
  assert_int_equal(cli_histogram_quantile(h, 0), 1);
  assert_int_equal(cli_histogram_quantile(h, 0.5), 100);
  assert_int_equal(cli_histogram_quantile(h, 0.9), 180);
  assert_int_equal(cli_histogram_quantile(h, 0.99), 198);
  assert_int_equal(cli_histogram_quantile(h, 1), 200);
  cli_histogram_free(h);
}

/* Above, a value is known within 1/128 of itself; min and max exactly. */
static void test_histogram_relative_precision(void **state) {
  (void)state;
  static const uint64_t values[] = {256, 1000, 12345, 999999, 123456789,
                                    UINT64_C(1) << 40, UINT64_MAX};
  for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
    cli_histogram *h = cli_histogram_new();
    cli_histogram_add(h, 1);
    cli_histogram_add(h, values[i]);
    cli_histogram_add(h, values[i]);
    cli_histogram_add(h, UINT64_MAX);
    uint64_t p50 = cli_histogram_quantile(h, 0.5);
    double err = fabs((double)p50 - (double)values[i]) / (double)values[i];
    assert_true(err <= 1.0 / 128);
    assert_int_equal(cli_histogram_quantile(h, 0), 1);
    assert_true(cli_histogram_quantile(h, 1) == UINT64_MAX);
    cli_histogram_free(h);
  }
}

/* A million samples in constant memory: p50 and p99 of a uniform 1..1e6 us. */
static void test_histogram_many(void **state) {
  (void)state;
  cli_histogram *h = cli_histogram_new();
  for (uint64_t v = 1; v <= 1000000; v++)
    cli_histogram_add(h, v);
  assert_int_equal(cli_histogram_count(h), 1000000);
  double p50 = (double)cli_histogram_quantile(h, 0.5);
  double p99 = (double)cli_histogram_quantile(h, 0.99);
  assert_true(fabs(p50 - 500000) / 500000 <= 1.0 / 128);
  assert_true(fabs(p99 - 990000) / 990000 <= 1.0 / 128);
  cli_histogram_free(h);
}

/* ---- stats.c ---- */

static cli_result result(int code, long status, double elapsed_s, uint64_t bytes) {
  return (cli_result){.code = code, .status = status, .ran = code != FP_ERR_INVALID_URL,
                      .elapsed_s = elapsed_s, .bytes = bytes};
}

static cli_stats *sample_stats(void) {
  cli_stats *s = cli_stats_new();
  assert_non_null(s);
  cli_result rs[] = {result(FP_OK, 200, 0.010, 1000), result(FP_OK, 204, 0.020, 0),
                     result(FP_ERR_HTTP, 404, 0.030, 10), result(FP_ERR_HTTP, 503, 0.040, 20),
                     result(FP_ERR_TIMEOUT, 0, 1.0, 0), result(FP_ERR_INVALID_URL, 0, 0, 0)};
  for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++)
    cli_stats_add(s, &rs[i]);
  return s;
}

static void test_stats_counts(void **state) {
  (void)state;
  cli_stats *s = sample_stats();
  cli_counts c = cli_stats_counts(s);
  assert_int_equal(c.done, 6);
  assert_int_equal(c.ok, 2);
  assert_int_equal(c.failed, 4);
  cli_stats_free(s);
}

static char *summary_of(cli_stats *s) {
  char *text = NULL;
  size_t size = 0;
  FILE *f = open_memstream(&text, &size);
  assert_non_null(f);
  cli_stats_print(s, f);
  fclose(f);
  return text;
}

static void test_stats_summary(void **state) {
  (void)state;
  cli_stats *s = sample_stats();
  cli_stats_set_skipped(s, 7);
  cli_stats_set_interrupted(s, SIGTERM);
  cli_stats_stop(s);
  char *text = summary_of(s);
  assert_non_null(strstr(text, "6 jobs: 2 ok, 4 failed in "));
  assert_non_null(strstr(text, "1.0 KiB received\n"));
  assert_non_null(strstr(text, "  status:  2xx 2  3xx 0  4xx 1  5xx 1\n"));
  assert_non_null(strstr(text, "  failed: "));
  assert_non_null(strstr(text, " http 2"));
  assert_non_null(strstr(text, " timeout 1"));
  assert_non_null(strstr(text, " invalid_url 1"));
  assert_non_null(strstr(text, "  resumed: 7 jobs done by an earlier run skipped\n"));
  assert_non_null(strstr(text, "  interrupted by SIGTERM:"));
  assert_non_null(strstr(text, "  latency: min "));
  free(text);
  cli_stats_free(s);
}

/* A run with nothing failed and nothing timed prints no failed or latency
 * line. */
static void test_stats_summary_quiet_parts(void **state) {
  (void)state;
  cli_stats *s = cli_stats_new();
  cli_result skipped_line = {.code = FP_OK, .status = 200, .ran = false};
  cli_stats_add(s, &skipped_line);
  cli_stats_stop(s);
  char *text = summary_of(s);
  assert_non_null(strstr(text, "1 jobs: 1 ok, 0 failed"));
  assert_null(strstr(text, "failed: "));
  assert_null(strstr(text, "latency"));
  assert_null(strstr(text, "resumed"));
  assert_null(strstr(text, "interrupted"));
  free(text);
  cli_stats_free(s);
}

static void test_stats_json(void **state) {
  (void)state;
  cli_stats *s = sample_stats();
  cli_stats_set_interrupted(s, SIGINT);
  cli_stats_stop(s);
  json_t *obj = cli_stats_json(s);
  assert_non_null(obj);
  assert_int_equal(json_integer_value(json_object_get(obj, "jobs")), 6);
  assert_int_equal(json_integer_value(json_object_get(obj, "ok")), 2);
  assert_int_equal(json_integer_value(json_object_get(obj, "failed")), 4);
  assert_int_equal(json_integer_value(json_object_get(obj, "bytes")), 1030);
  json_t *errors = json_object_get(obj, "errors");
  assert_int_equal(json_object_size(errors), 3);
  assert_int_equal(json_integer_value(json_object_get(errors, "http")), 2);
  assert_int_equal(json_integer_value(json_object_get(errors, "timeout")), 1);
  assert_int_equal(json_integer_value(json_object_get(errors, "invalid_url")), 1);
  json_t *status = json_object_get(obj, "status");
  assert_int_equal(json_integer_value(json_object_get(status, "2xx")), 2);
  assert_int_equal(json_integer_value(json_object_get(status, "4xx")), 1);
  assert_int_equal(json_integer_value(json_object_get(status, "5xx")), 1);
  json_t *lat = json_object_get(obj, "latency_ms");
  assert_int_equal(json_integer_value(json_object_get(lat, "count")), 5);
  assert_true(fabs(json_real_value(json_object_get(lat, "max")) - 1000.0) < 1e-6);
  assert_true(fabs(json_real_value(json_object_get(lat, "min")) - 10.0) < 1e-6);
  assert_string_equal(json_string_value(json_object_get(obj, "interrupted")), "SIGINT");
  assert_int_equal(json_integer_value(json_object_get(obj, "skipped")), 0);
  json_decref(obj);
  cli_stats_free(s);
}

/* The progress thread reads while the writer adds: counts stay exact. */
typedef struct {
  cli_stats *s;
  int n;
} adder_arg;

static void *adder(void *p) {
  adder_arg *a = p;
  cli_result r = result(FP_OK, 200, 0.001, 1);
  for (int i = 0; i < a->n; i++)
    cli_stats_add(a->s, &r);
  return NULL;
}

static void test_stats_threads(void **state) {
  (void)state;
  cli_stats *s = cli_stats_new();
  pthread_t t[4];
  adder_arg a = {s, 10000};
  for (int i = 0; i < 4; i++)
    assert_int_equal(pthread_create(&t[i], NULL, adder, &a), 0);
  for (int i = 0; i < 200; i++) /* a reader while they add */
    assert_true(cli_stats_counts(s).done <= 40000);
  for (int i = 0; i < 4; i++)
    pthread_join(t[i], NULL);
  cli_counts c = cli_stats_counts(s);
  assert_int_equal(c.done, 40000);
  assert_int_equal(c.ok, 40000);
  cli_stats_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_histogram_empty),
      cmocka_unit_test(test_histogram_exact_below_256),
      cmocka_unit_test(test_histogram_relative_precision),
      cmocka_unit_test(test_histogram_many),
      cmocka_unit_test(test_stats_counts),
      cmocka_unit_test(test_stats_summary),
      cmocka_unit_test(test_stats_summary_quiet_parts),
      cmocka_unit_test(test_stats_json),
      cmocka_unit_test(test_stats_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
