/* test_cli_rooms.c: the program's rooms tested directly, without the
 * binary: the latency histogram, the run's statistics (the summary text
 * and its --stats-json object), the input reader, the record writer, the
 * --resume reader and the signal thread. Linked with the CLI's objects. */
#include "testutil.h"

#include <math.h>
#include <stdatomic.h>
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <sys/stat.h>

#include "cli.h"
#include "model.h"

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
  cli_stats_set_interrupted(s, SIGTERM, "jobs not started are left for --resume");
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
  assert_non_null(strstr(text, "  interrupted by SIGTERM: jobs not started are left for --resume\n"));
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
  cli_stats_set_interrupted(s, SIGINT, "left");
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

/* ---- scratch files ---- */

/* A new file holding len bytes of data; returns its malloc'd path. */
static char *scratch_file(const char *data, size_t len) {
  char *path = strdup("/tmp/fp-rooms-XXXXXX");
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, data, len), (ssize_t)len);
  close(fd);
  return path;
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  char *buf = calloc(1, 1 << 20);
  *len = fread(buf, 1, (1 << 20) - 1, f);
  fclose(f);
  return buf;
}

/* ---- input.c ---- */

static void test_input_lines(void **state) {
  (void)state;
  /* a BOM at the start of each file only, CRLF, blanks, comments,
   * surrounding blanks, a last line without newline */
  static const char a[] = "\xEF\xBB\xBFhttp://a/1\r\n\n  # note\n  http://a/2  \n"
                          "\xEF\xBB\xBFhttp://a/3";
  static const char b[] = "\xEF\xBB\xBF{\"url\":\"http://b/1\"}\n#x\n";
  char *pa = scratch_file(a, sizeof a - 1), *pb = scratch_file(b, sizeof b - 1);
  char *names[] = {pa, pb};
  char msg[256];
  cli_input *in = cli_input_open(names, 2, msg, sizeof msg);
  assert_non_null(in);
  assert_int_equal(cli_input_count(in), 4);
  static const char *want[] = {"http://a/1", "http://a/2", "\xEF\xBB\xBFhttp://a/3",
                               "{\"url\":\"http://b/1\"}"};
  const char *line;
  size_t len;
  bool read_error = false;
  for (size_t i = 0; i < 4; i++) {
    assert_int_equal(cli_input_next(in, &line, &len, &read_error, msg, sizeof msg), 1);
    assert_int_equal(len, strlen(want[i]));
    assert_memory_equal(line, want[i], len);
  }
  assert_int_equal(cli_input_next(in, &line, &len, &read_error, msg, sizeof msg), 0);
  assert_false(read_error);
  cli_input_close(in);
  /* a missing file is reported at open, naming it */
  char *missing[] = {"/nonexistent/fp-input"};
  assert_null(cli_input_open(missing, 1, msg, sizeof msg));
  assert_non_null(strstr(msg, "/nonexistent/fp-input"));
  unlink(pa), unlink(pb);
  free(pa), free(pb);
}

/* stop wakes a reader waiting on a pipe that gives nothing */
typedef struct stopper {
  cli_input *in;
} stopper;

static void *stop_later(void *arg) {
  usleep(100 * 1000);
  cli_input_stop(((stopper *)arg)->in);
  return NULL;
}

static void test_input_stop_wakes_reader(void **state) {
  (void)state;
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  int saved = dup(STDIN_FILENO);
  dup2(fds[0], STDIN_FILENO);
  char *names[] = {"-"};
  char msg[256];
  cli_input *in = cli_input_open(names, 1, msg, sizeof msg);
  assert_non_null(in);
  assert_int_equal(cli_input_count(in), -1); /* not a regular file */
  stopper s = {in};
  pthread_t t;
  pthread_create(&t, NULL, stop_later, &s);
  const char *line;
  size_t len;
  bool read_error = false;
  double t0 = tu_now();
  assert_int_equal(cli_input_next(in, &line, &len, &read_error, msg, sizeof msg), 0);
  assert_true(tu_now() - t0 < 5.0 * tu_time_scale());
  pthread_join(t, NULL);
  cli_input_close(in);
  dup2(saved, STDIN_FILENO);
  close(saved), close(fds[0]), close(fds[1]);
}

/* ---- output.c ---- */

static json_t *record(uint64_t index) {
  return json_pack("{s:I, s:b}", "index", (json_int_t)index, "ok", 1);
}

/* Ordered: records put in reverse leave in seq order, one line each. */
static void test_output_ordered(void **state) {
  (void)state;
  char *path = scratch_file("", 0);
  int fd = open(path, O_WRONLY | O_APPEND);
  cli_stats *stats = cli_stats_new();
  char msg[256];
  cli_output *o = cli_output_new(fd, true, 8, stats, NULL, NULL, msg, sizeof msg);
  assert_non_null(o);
  for (uint64_t seq = 0; seq < 5; seq++)
    assert_true(cli_output_reserve(o, seq));
  cli_result ok = {.code = FP_OK, .status = 200, .ran = true, .elapsed_s = 0.001};
  for (uint64_t seq = 5; seq-- > 0;)
    cli_output_put(o, seq, seq + 10, record(seq + 10), &ok);
  assert_int_equal(cli_output_finish(o, 5), 0);
  cli_output_free(o);
  close(fd);
  size_t len;
  char *text = slurp(path, &len);
  assert_string_equal(text, "{\"index\":10,\"ok\":true}\n{\"index\":11,\"ok\":true}\n"
                            "{\"index\":12,\"ok\":true}\n{\"index\":13,\"ok\":true}\n"
                            "{\"index\":14,\"ok\":true}\n");
  assert_int_equal(cli_stats_counts(stats).done, 5);
  free(text);
  cli_stats_free(stats);
  unlink(path);
  free(path);
}

typedef struct fail_seen {
  atomic_int calls;
  int err;
} fail_seen;

static void on_fail(void *arg, int err) {
  fail_seen *f = arg;
  f->err = err;
  atomic_fetch_add(&f->calls, 1);
}

/* A failed write: finish says why, on_fail runs once, reservations are
 * refused from then on, and the records are counted as not written. */
static void test_output_write_error(void **state) {
  (void)state;
  int fd = open("/dev/full", O_WRONLY);
  assert_true(fd >= 0);
  cli_stats *stats = cli_stats_new();
  fail_seen seen = {.err = 0};
  atomic_init(&seen.calls, 0);
  char msg[256];
  cli_output *o = cli_output_new(fd, false, 4, stats, on_fail, &seen, msg, sizeof msg);
  assert_non_null(o);
  cli_result ok = {.code = FP_OK, .status = 200, .ran = true};
  assert_true(cli_output_reserve(o, 0));
  assert_true(cli_output_reserve(o, 1));
  cli_output_put(o, 0, 0, record(0), &ok);
  double end = tu_now() + 10 * tu_time_scale();
  while (atomic_load(&seen.calls) == 0 && tu_now() < end)
    usleep(1000);
  assert_int_equal(atomic_load(&seen.calls), 1);
  assert_int_equal(seen.err, ENOSPC);
  assert_false(cli_output_reserve(o, 2));
  cli_output_put(o, 1, 1, record(1), &ok);
  assert_int_equal(cli_output_finish(o, 2), ENOSPC);
  assert_int_equal(atomic_load(&seen.calls), 1);
  assert_int_equal(cli_stats_counts(stats).done, 0); /* nothing was written */
  json_t *sj = cli_stats_json(stats);
  assert_int_equal(json_integer_value(json_object_get(sj, "not_written")), 2);
  json_decref(sj);
  cli_output_free(o);
  cli_stats_free(stats);
  close(fd);
}

/* ---- resume.c ---- */

static void test_resume_reads_records(void **state) {
  (void)state;
  static const char text[] =
      "{\"index\":0,\"ok\":true,\"error\":null}\n"
      "not a record\n"
      "{\"index\":2,\"ok\":false,\"error\":{\"code\":\"http\"}}\n"
      "{\"index\":3,\"ok\":false,\"error\":{\"code\":\"cancelled\"}}\n"
      "{\"index\":4,\"ok\":tr";
  char *path = scratch_file(text, sizeof text - 1);
  int fd = -1;
  cli_resume_info info;
  char msg[256];
  cli_done *d = cli_resume_open(path, false, &fd, &info, msg, sizeof msg);
  assert_non_null(d);
  assert_int_equal(info.records, 3);
  assert_int_equal(info.foreign, 1);
  assert_int_equal(info.torn_bytes, strlen("{\"index\":4,\"ok\":tr"));
  assert_true(cli_done_has(d, 0));
  assert_false(cli_done_has(d, 1));
  assert_true(cli_done_has(d, 2));  /* failed is final... */
  assert_false(cli_done_has(d, 3)); /* ...cancelled is not */
  assert_false(cli_done_has(d, 4)); /* torn: cut off */
  assert_int_equal(cli_done_count_below(d, 10), 2);
  close(fd);
  cli_done_free(d);
  /* the torn tail was cut, and only it */
  size_t len;
  char *now = slurp(path, &len);
  assert_int_equal(len, sizeof text - 1 - strlen("{\"index\":4,\"ok\":tr"));
  free(now);
  /* --resume-failed: the failed one runs again */
  d = cli_resume_open(path, true, &fd, &info, msg, sizeof msg);
  assert_non_null(d);
  assert_false(cli_done_has(d, 2));
  close(fd);
  cli_done_free(d);
  unlink(path);
  free(path);
}

/* A file none of whose lines is a record is refused and left as it was. */
static void test_resume_refuses_foreign_file(void **state) {
  (void)state;
  static const char text[] = "http://a/1\nhttp://a/2";
  char *path = scratch_file(text, sizeof text - 1);
  int fd = -1;
  cli_resume_info info;
  char msg[256] = "";
  assert_null(cli_resume_open(path, false, &fd, &info, msg, sizeof msg));
  assert_true(msg[0] != '\0');
  size_t len;
  char *now = slurp(path, &len);
  assert_int_equal(len, sizeof text - 1);
  assert_memory_equal(now, text, len);
  free(now);
  unlink(path);
  free(path);
}

/* ---- signals.c ---- */

typedef struct interrupt_log {
  atomic_int stops, aborts;
  double stop_at, abort_at;
} interrupt_log;

static void on_stop(void *arg) {
  interrupt_log *l = arg;
  l->stop_at = tu_now();
  atomic_fetch_add(&l->stops, 1);
}

static void on_abort(void *arg) {
  interrupt_log *l = arg;
  l->abort_at = tu_now();
  atomic_fetch_add(&l->aborts, 1);
}

/* SIGTERM: stop at once, abort when the grace period ends, and finish
 * names the signal; the signal never kills the process. */
static void test_signals_grace(void **state) {
  (void)state;
  interrupt_log log = {0};
  atomic_init(&log.stops, 0);
  atomic_init(&log.aborts, 0);
  assert_int_equal(cli_signals_install(), 0);
  cli_interrupt ops = {.stop = on_stop, .abort = on_abort, .arg = &log, .grace = 0.3,
                       .quiet = true};
  assert_int_equal(cli_signals_start(&ops), 0);
  double t0 = tu_now();
  kill(getpid(), SIGTERM);
  double end = t0 + 10 * tu_time_scale();
  while (atomic_load(&log.aborts) == 0 && tu_now() < end)
    usleep(1000);
  assert_int_equal(atomic_load(&log.stops), 1);
  assert_int_equal(atomic_load(&log.aborts), 1);
  assert_true(log.abort_at - log.stop_at >= 0.25);
  assert_int_equal(cli_signals_finish(), SIGTERM);
  assert_string_equal(cli_signal_name(SIGTERM), "SIGTERM");
  assert_string_equal(cli_signal_name(SIGHUP), "SIGHUP");
  assert_string_equal(cli_signal_name(SIGUSR1), "signal");
}

/* ---- options.c ---- */

/* The retry backoff base: 0.5 s by default, 0.1 s with -t auto (the
 * host's limit keeps a 429ing host's load down), and --retry-base, when
 * given, wins either way (0 too). */
static double retry_base_of(int argc, char **argv) {
  cli_options o;
  optind = 0; /* getopt starts afresh: the program parses once, this test often */
  assert_int_equal(cli_parse_options(CLI_RUN, argc, argv, &o), -1);
  double base = o.base->retry_base;
  cli_options_free(&o);
  return base;
}

static void test_retry_base_default_follows_auto(void **state) {
  (void)state;
  char *fixed[] = {"fetchpool", "-t", "8", "in.txt"};
  char *autos[] = {"fetchpool", "-t", "auto", "in.txt"};
  char *given[] = {"fetchpool", "-t", "auto", "--retry-base", "2", "in.txt"};
  char *zero[] = {"fetchpool", "--retry-base", "0", "--threads", "auto", "in.txt"};
  char *worker[] = {"worker", "-t", "auto"};
  assert_true(fabs(retry_base_of(4, fixed) - 0.5) < 1e-9);
  assert_true(fabs(retry_base_of(4, autos) - 0.1) < 1e-9);
  assert_true(fabs(retry_base_of(6, given) - 2.0) < 1e-9);
  assert_true(retry_base_of(6, zero) < 1e-6); /* "at once" */
  cli_options o;
  optind = 0;
  assert_int_equal(cli_parse_options(CLI_WORKER, 3, worker, &o), -1);
  assert_true(fabs(o.base->retry_base - 0.1) < 1e-9);
  cli_options_free(&o);
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
      cmocka_unit_test(test_input_lines),
      cmocka_unit_test(test_input_stop_wakes_reader),
      cmocka_unit_test(test_output_ordered),
      cmocka_unit_test(test_output_write_error),
      cmocka_unit_test(test_resume_reads_records),
      cmocka_unit_test(test_resume_refuses_foreign_file),
      cmocka_unit_test(test_signals_grace),
      cmocka_unit_test(test_retry_base_default_follows_auto),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
