/* testutil.h: helpers shared by the cmocka suites: a per-test watchdog, a
 * loopback test server fixture and URL building. */
#ifndef FP_TESTUTIL_H
#define FP_TESTUTIL_H

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <jansson.h>

#include "fetchpool.h"
#include "testserver.h"

/* Every test is bounded in time: a hung test kills its suite with a
 * message instead of hanging CI. Sanitizers and valgrind slow tests down,
 * so the bound is generous. */
#define TEST_WATCHDOG_SECONDS 120

static void tu_watchdog_fired(int sig) {
  (void)sig;
  static const char msg[] = "\nwatchdog: test exceeded its time bound\n";
  (void)!write(2, msg, sizeof msg - 1);
  _exit(98);
}

static inline void tu_watchdog(unsigned seconds) {
  signal(SIGALRM, tu_watchdog_fired);
  alarm(seconds);
}

/* Seconds on the monotonic clock. */
static inline double tu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Factor for the generous time bounds a few tests assert (concurrency
 * checks): 1 in a plain build; run-tests.sh sets FP_TEST_TIME_SCALE under
 * sanitizers and valgrind, which slow the in-process server down too. */
static inline double tu_time_scale(void) {
  const char *s = getenv("FP_TEST_TIME_SCALE");
  double v = s ? atof(s) : 1.0;
  return v >= 1.0 ? v : 1.0;
}

/* The per-suite server, started by tu_setup_server (group setup). */
static ts_server *tu_server;

static inline int tu_setup_server(void **state) {
  (void)state;
  tu_server = ts_start(NULL);
  return tu_server ? 0 : -1;
}

static inline int tu_teardown_server(void **state) {
  (void)state;
  ts_stop(tu_server);
  tu_server = NULL;
  return 0;
}

/* Per-test setup: arm the watchdog. */
static inline int tu_setup_test(void **state) {
  (void)state;
  tu_watchdog(TEST_WATCHDOG_SECONDS);
  return 0;
}

static inline int tu_teardown_test(void **state) {
  (void)state;
  alarm(0);
  return 0;
}

/* printf-style URL on the test server, as a malloc'd string the caller
 * frees. */
__attribute__((format(printf, 1, 2)))
static inline char *tu_url(const char *fmt, ...) {
  char path[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(path, sizeof path, fmt, ap);
  va_end(ap);
  char *buf = malloc(2048);
  ts_url(tu_server, path, buf, 2048);
  return buf;
}

/* An executor with threads workers (0: the default), a queue of capacity
 * jobs (0: unbounded) and thread names prefix (NULL: "fp"); the test
 * fails if it cannot start. */
static inline fp_executor *tu_executor(size_t threads, size_t capacity,
                                       const char *prefix) {
  fp_executor_options opts;
  fp_executor_options_init(&opts);
  opts.threads = threads;
  opts.queue_capacity = capacity;
  opts.thread_name_prefix = prefix;
  fp_error err = {0};
  fp_executor *ex = fp_executor_new(&opts, &err);
  if (!ex)
    fail_msg("fp_executor_new: %s (%s)", err.text, fp_code_name(err.code));
  return ex;
}

/* A GET request for url (STEALS the malloc'd string). NEW. */
static inline fp_request *tu_request_url(char *url) {
  fp_request *req = fp_request_new(url);
  free(url);
  assert_non_null(req);
  return req;
}

/* Submit a GET of url (STEALS the malloc'd string). NEW future. */
static inline fp_future *tu_submit_url(fp_executor *ex, char *url) {
  fp_error err = {0};
  fp_future *f = fp_executor_submit_url(ex, url, &err);
  free(url);
  assert_non_null(f);
  assert_int_equal(err.code, FP_OK);
  return f;
}

/* The same for a printf-style path on the test server. */
#define tu_request(...) tu_request_url(tu_url(__VA_ARGS__))
#define tu_submit(ex, ...) tu_submit_url((ex), tu_url(__VA_ARGS__))

/* Submit req (STEALS the caller's reference); the test fails if submit
 * does. NEW future. */
static inline fp_future *tu_submit_req(fp_executor *ex, fp_request *req) {
  fp_error err = {0};
  fp_future *f = fp_executor_submit(ex, req, &err);
  fp_request_decref(req);
  if (!f)
    fail_msg("submit: %s (%s)", err.text, fp_code_name(err.code));
  return f;
}

/* The response of future f once it is done (waits up to 60 s; the test
 * fails past it). BORROWED from f. */
static inline const fp_response *tu_result(fp_future *f) {
  const fp_response *resp = NULL;
  assert_int_equal(fp_future_result(f, 60.0, &resp), FP_OK);
  assert_non_null(resp);
  return resp;
}

/* Submit req (STEALS the caller's reference), wait for it and return its
 * future (NEW); *resp is BORROWED from the future. */
static inline fp_future *tu_run(fp_executor *ex, fp_request *req,
                                const fp_response **resp) {
  fp_future *f = tu_submit_req(ex, req);
  *resp = tu_result(f);
  return f;
}

/* The number the shared server answers, with status 200, at the
 * printf-formatted path (its counter routes: /flaky-count/KEY,
 * /concurrency-max/NAME, ...). */
static inline long tu_server_number(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline long tu_server_number(const char *fmt, ...) {
  char path[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(path, sizeof path, fmt, ap);
  va_end(ap);
  fp_executor *ex = tu_executor(1, 0, NULL);
  const fp_response *resp;
  fp_future *f = tu_run(ex, tu_request("%s", path), &resp);
  assert_int_equal(fp_response_status(resp), 200);
  const char *body = fp_response_body(resp, NULL);
  long v = atol(body ? body : "");
  fp_future_decref(f);
  fp_executor_free(ex);
  return v;
}

/* Body of a finished future (BORROWED); the test fails if it has none. */
static inline const char *tu_body(fp_future *f) {
  const fp_response *resp = fp_future_response(f);
  assert_non_null(resp);
  const char *body = fp_response_body(resp, NULL);
  assert_non_null(body);
  return body;
}

static inline void tu_decref_all(fp_future **fs, size_t n) {
  for (size_t i = 0; i < n; i++)
    fp_future_decref(fs[i]);
}

#define TU_TEST(fn) cmocka_unit_test_setup_teardown(fn, tu_setup_test, tu_teardown_test)

/* A listener whose accept queue is full: Linux drops further SYNs, so a
 * connect to it hangs (a loopback stand-in for a blackhole address).
 * Returns the listening fd; *filler is the connection filling the queue. */
static inline int tu_full_listener(unsigned *port, int *filler) {
  struct sockaddr_in sa = {.sin_family = AF_INET};
  socklen_t len = sizeof sa;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(listen(fd, 0), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
  *port = ntohs(sa.sin_port);
  *filler = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(*filler >= 0);
  assert_int_equal(connect(*filler, (struct sockaddr *)&sa, sizeof sa), 0);
  return fd;
}

/* A self-signed certificate for 127.0.0.1 and localhost (EC P-256, valid
 * until 2126), for the test HTTPS servers (test_cacert, the stress run's
 * TLS faults). Test data only. */
static const char tu_test_cert[] __attribute__((unused)) =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBmzCCAUGgAwIBAgIUX8CRhCEkRSw3XwM9CbF0bmztdGcwCgYIKoZIzj0EAwIw\n"
    "FDESMBAGA1UEAwwJMTI3LjAuMC4xMCAXDTI2MTEyMjAzMzYzMloYDzIxMjYxMDI5\n"
    "MDMzNjMyWjAUMRIwEAYDVQQDDAkxMjcuMC4wLjEwWTATBgcqhkjOPQIBBggqhkjO\n"
    "PQMBBwNCAASqKb8F5m7bUhhoKFcLhjY+oMihA8IvYXHaP9m6Pu3CwiKUgNayLXoe\n"
    "IXAr6hpwdQX0WINZ5SSD/sa5cPy63d5io28wbTAdBgNVHQ4EFgQU4GhROb1yf+Jy\n"
    "iGQxNRMlU20OCYMwHwYDVR0jBBgwFoAU4GhROb1yf+JyiGQxNRMlU20OCYMwDwYD\n"
    "VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARhwR/AAABgglsb2NhbGhvc3QwCgYIKoZI\n"
    "zj0EAwIDSAAwRQIhAKkclDLnDZYFWl/bITZHd9uk5pDDWgGGIsFaFWOwtqODAiBr\n"
    "+QO6VECAzMjxjaQmDsfJ6G67feEonhANP/TCQ9bHmw==\n"
    "-----END CERTIFICATE-----\n";
static const char tu_test_key[] __attribute__((unused)) =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgTRNgBqNqGTR0Q/4i\n"
    "3XMXZYalV8aVStPfFJ9gzqRv71mhRANCAASqKb8F5m7bUhhoKFcLhjY+oMihA8Iv\n"
    "YXHaP9m6Pu3CwiKUgNayLXoeIXAr6hpwdQX0WINZ5SSD/sa5cPy63d5i\n"
    "-----END PRIVATE KEY-----\n";

#endif /* FP_TESTUTIL_H */
