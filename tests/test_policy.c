/* test_policy.c: the policies on their own, without transfers: Retry-After
 * parsing, the retry schedule (which outcomes, how long), the per-host key
 * and slots, and the rate token bucket. */
#include <math.h>
#include <pthread.h>

#include "testutil.h"

#include "fetchpool_private.h"

/* ---- Retry-After ---- */

/* 1994-11-06 08:49:30 UTC: seven seconds before the RFC's example date. */
static time_t example_now(void) {
  struct tm tm = {.tm_year = 94, .tm_mon = 10, .tm_mday = 6, .tm_hour = 8, .tm_min = 49, .tm_sec = 30};
  return timegm(&tm);
}

static void assert_retry_after(const char *value, time_t now, double want) {
  double got = -99;
  int rc = fp__parse_retry_after(value, now, &got);
  if (rc != FP_OK)
    fail_msg("'%s' was refused (%d)", value, rc);
  if (fabs(got - want) > 1e-9)
    fail_msg("'%s' gave %.6f, want %.6f", value, got, want);
}

static void assert_retry_after_invalid(const char *value) {
  double got = -99;
  int rc = fp__parse_retry_after(value, example_now(), &got);
  if (rc != FP_ERR_INVALID_ARG)
    fail_msg("'%s' gave rc %d (%.3f), want FP_ERR_INVALID_ARG", value, rc, got);
  assert_true(got == -99); /* untouched */
}

static void test_retry_after_seconds(void **state) {
  (void)state;
  time_t now = example_now();
  assert_retry_after("120", now, 120);
  assert_retry_after("0", now, 0);
  assert_retry_after("1", now, 1);
  assert_retry_after("007", now, 7);
  assert_retry_after("  5", now, 5);
  assert_retry_after("5  ", now, 5);
  assert_retry_after("\t 30 \t", now, 30);
  /* delay-seconds is 1*DIGIT; a decimal fraction is read as meant */
  assert_retry_after("1.5", now, 1.5);
  assert_retry_after("0.25", now, 0.25);
  /* far beyond any max_wait still parses (the caller caps it) */
  assert_retry_after("99999999999", now, 99999999999.0);
  /* seconds do not depend on now */
  assert_retry_after("3", 0, 3);
}

static void test_retry_after_dates(void **state) {
  (void)state;
  time_t now = example_now();
  /* the three HTTP-date forms of RFC 9110 5.6.7, all the same instant */
  assert_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now, 7);  /* IMF-fixdate */
  assert_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now, 7); /* RFC 850 */
  assert_retry_after("Sun Nov  6 08:49:37 1994", now, 7);       /* asctime */
  assert_retry_after("  Sun, 06 Nov 1994 08:49:37 GMT  ", now, 7);
  /* a day and a bit later, across a month end */
  assert_retry_after("Mon, 07 Nov 1994 08:49:30 GMT", now, 86400);
  assert_retry_after("Thu, 01 Dec 1994 00:00:00 GMT", now, 2128230); /* 24d 15h 10m 30s */
  /* the date now, and dates in the past, mean "at once" */
  assert_retry_after("Sun, 06 Nov 1994 08:49:30 GMT", now, 0);
  assert_retry_after("Sun, 06 Nov 1994 08:49:29 GMT", now, 0);
  assert_retry_after("Sat, 01 Jan 1994 00:00:00 GMT", now, 0);
  assert_retry_after("Sunday, 06-Nov-94 08:00:00 GMT", now, 0);
  assert_retry_after("Sun Nov  6 08:00:00 1994", now, 0);
}

static void test_retry_after_invalid(void **state) {
  (void)state;
  static const char *bad[] = {
      "", "   ", "soon", "-1", "-0", "+5", "5s", "5 5", "1e3", "0x10", "1.", ".5",
      "1.5.2", "1,5", "inf", "nan", "Sun, 06 Nov 1994", "Sun, 06 Nov 1994 08:49:37",
      "Sun, 06 Nov 1994 08:49:37 PST", "Sun, 06 Nov 1994 08:49:37 GMT x",
      "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
      "Sun, 06 Nov 1994 25:49:37 GMT", "06 Nov 1994 08:49:37 GMT",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_retry_after_invalid(bad[i]);
}

/* ---- retry schedule ---- */

static fp_request *retry_request(unsigned max, double base, double max_wait) {
  fp_request *req = fp_request_new("http://127.0.0.1:1/");
  assert_non_null(req);
  assert_int_equal(fp_request_set_retries(req, max, base, max_wait), FP_OK);
  return req;
}

static fp_response *status_response(long status) {
  fp_response *resp = fp__response_new();
  assert_non_null(resp);
  resp->status = status;
  return resp;
}

static fp_response *error_response(int code) {
  fp_response *resp = fp__response_new();
  assert_non_null(resp);
  fp__response_set_error(resp, code, "test");
  return resp;
}

static void test_retry_off_by_default(void **state) {
  (void)state;
  fp_request *req = fp_request_new("http://127.0.0.1:1/");
  fp_response *resp = status_response(503);
  uint64_t rng = 1;
  assert_true(fp__retry_wanted(req, resp)); /* a retryable outcome... */
  assert_true(fp__retry_delay(req, resp, 1, &rng) < 0); /* ...but no retries */
  fp__response_free(resp);
  resp = error_response(FP_ERR_CONNECT);
  assert_true(fp__retry_delay(req, resp, 1, &rng) < 0);
  fp__response_free(resp);
  fp_request_decref(req);
}

static void test_retry_max_retries(void **state) {
  (void)state;
  fp_request *req = retry_request(3, 0.1, 10);
  fp_response *resp = status_response(503);
  uint64_t rng = 42;
  /* attempts made so far: 1..3 may retry, the 4th attempt is the last */
  for (unsigned k = 1; k <= 3; k++)
    assert_true(fp__retry_delay(req, resp, k, &rng) >= 0);
  assert_true(fp__retry_delay(req, resp, 4, &rng) < 0);
  assert_true(fp__retry_delay(req, resp, 100, &rng) < 0);
  fp__response_free(resp);
  fp_request_decref(req);
}

static void test_retry_default_statuses(void **state) {
  (void)state;
  fp_request *req = retry_request(1, 0.1, 1);
  uint64_t rng = 7;
  for (long s = 100; s <= 599; s++) {
    fp_response *resp = status_response(s);
    bool want = s == 429 || s == 502 || s == 503 || s == 504;
    if (fp__retry_wanted(req, resp) != want)
      fail_msg("status %ld: retry_wanted %d, want %d", s, !want, want);
    assert_int_equal(fp__retry_delay(req, resp, 1, &rng) >= 0, want);
    fp__response_free(resp);
  }
  fp_request_decref(req);
}

static void test_retry_custom_statuses(void **state) {
  (void)state;
  fp_request *req = retry_request(1, 0.1, 1);
  static const int mine[] = {500, 418, 599, 100};
  assert_int_equal(fp_request_set_retry_statuses(req, mine, 4), FP_OK);
  for (long s = 100; s <= 599; s++) {
    fp_response *resp = status_response(s);
    bool want = s == 500 || s == 418 || s == 599 || s == 100;
    assert_int_equal(fp__retry_wanted(req, resp), want);
    fp__response_free(resp);
  }
  /* n == 0: no status at all, transport errors still */
  assert_int_equal(fp_request_set_retry_statuses(req, NULL, 0), FP_OK);
  fp_response *resp = status_response(503);
  assert_false(fp__retry_wanted(req, resp));
  fp__response_free(resp);
  resp = error_response(FP_ERR_NETWORK);
  assert_true(fp__retry_wanted(req, resp));
  fp__response_free(resp);
  /* out of range is refused and leaves the set as it was */
  static const int bad1[] = {503, 99};
  static const int bad2[] = {600};
  assert_int_equal(fp_request_set_retry_statuses(req, bad1, 2), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_set_retry_statuses(req, bad2, 1), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_set_retry_statuses(req, NULL, 1), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_set_retry_statuses(NULL, mine, 1), FP_ERR_INVALID_ARG);
  resp = status_response(503);
  assert_false(fp__retry_wanted(req, resp));
  fp__response_free(resp);
  /* the set survives a copy */
  assert_int_equal(fp_request_set_retry_statuses(req, mine, 1), FP_OK);
  fp_request *copy = fp_request_copy(req);
  resp = status_response(500);
  assert_true(fp__retry_wanted(copy, resp));
  fp__response_free(resp);
  fp_request_decref(copy);
  fp_request_decref(req);
}

static void test_retry_transient_errors(void **state) {
  (void)state;
  fp_request *req = retry_request(2, 0.1, 1);
  static const int transient[] = {FP_ERR_CONNECT, FP_ERR_CONNECT_TIMEOUT, FP_ERR_TIMEOUT,
                                  FP_ERR_STALL_TIMEOUT, FP_ERR_NETWORK};
  static const int final[] = {FP_ERR_DNS, FP_ERR_TLS, FP_ERR_INVALID_URL,
                              FP_ERR_UNSUPPORTED_PROTOCOL, FP_ERR_PROTOCOL,
                              FP_ERR_TOO_MANY_REDIRECTS, FP_ERR_BODY_TOO_LARGE,
                              FP_ERR_HEADERS_TOO_LARGE, FP_ERR_ABORTED, FP_ERR_CANCELLED,
                              FP_ERR_NOMEM, FP_ERR_INTERNAL};
  uint64_t rng = 3;
  for (size_t i = 0; i < sizeof transient / sizeof transient[0]; i++) {
    fp_response *resp = error_response(transient[i]);
    resp->status = 503; /* the error decides, not a status seen before it */
    if (!(fp__retry_delay(req, resp, 1, &rng) >= 0))
      fail_msg("%s is not retried", fp_code_name(transient[i]));
    fp__response_free(resp);
  }
  for (size_t i = 0; i < sizeof final / sizeof final[0]; i++) {
    fp_response *resp = error_response(final[i]);
    resp->status = 503;
    if (fp__retry_delay(req, resp, 1, &rng) >= 0)
      fail_msg("%s is retried", fp_code_name(final[i]));
    fp__response_free(resp);
  }
  fp_request_decref(req);
}

static void test_retry_full_jitter(void **state) {
  (void)state;
  enum { DRAWS = 4000 };
  const double base = 0.1, max_wait = 1.0;
  fp_request *req = retry_request(10, base, max_wait);
  fp_response *resp = status_response(502);
  uint64_t rng = 0x1234;
  for (unsigned k = 1; k <= 8; k++) {
    double cap = fmin(max_wait, base * ldexp(1.0, (int)k - 1));
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    size_t in_low_tenth = 0, in_high_tenth = 0;
    for (int i = 0; i < DRAWS; i++) {
      double d = fp__retry_delay(req, resp, k, &rng);
      if (!(d >= 0 && d <= cap))
        fail_msg("retry %u: delay %.6f outside [0, %.3f]", k, d, cap);
      lo = fmin(lo, d);
      hi = fmax(hi, d);
      sum += d;
      in_low_tenth += d < cap * 0.1;
      in_high_tenth += d > cap * 0.9;
    }
    /* uniform over the whole range: both ends reached, mean in the middle,
     * each tenth holding about a tenth of the draws */
    assert_true(lo < cap * 0.01);
    assert_true(hi > cap * 0.99);
    assert_true(fabs(sum / DRAWS - cap / 2) < cap * 0.05);
    assert_true(in_low_tenth > DRAWS / 20 && in_low_tenth < DRAWS * 3 / 20);
    assert_true(in_high_tenth > DRAWS / 20 && in_high_tenth < DRAWS * 3 / 20);
  }
  /* two states give different sequences */
  uint64_t a = 1, b = 2;
  assert_true(fp__retry_delay(req, resp, 3, &a) != fp__retry_delay(req, resp, 3, &b));
  /* a zero state still yields jitter, not a constant */
  uint64_t z = 0;
  double first = fp__retry_delay(req, resp, 4, &z);
  bool varied = false;
  for (int i = 0; i < 10 && !varied; i++)
    varied = fp__retry_delay(req, resp, 4, &z) != first;
  assert_true(varied);
  fp__response_free(resp);
  fp_request_decref(req);
}

static void test_retry_defaults_for_zero(void **state) {
  (void)state;
  fp_request *req = retry_request(5, 0, 0);
  fp_response *resp = status_response(503);
  uint64_t rng = 9;
  /* base FP_DEFAULT_RETRY_BASE: retry 1 waits at most 0.5 s, retry 7 at
   * most min(30, 0.5 * 64) = 30 s */
  for (int i = 0; i < 1000; i++) {
    assert_true(fp__retry_delay(req, resp, 1, &rng) <= FP_DEFAULT_RETRY_BASE);
    assert_true(fp__retry_delay(req, resp, 5, &rng) <= FP_DEFAULT_RETRY_MAX_WAIT);
  }
  resp->retry_after = 1000;
  assert_true(fp__retry_delay(req, resp, 1, &rng) == FP_DEFAULT_RETRY_MAX_WAIT);
  fp__response_free(resp);
  /* bad numbers are refused */
  assert_int_equal(fp_request_set_retries(req, 1, -1, 1), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_set_retries(req, 1, 1, -1), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_set_retries(req, 1, NAN, 1), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_set_retries(req, 1, 1, INFINITY), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_set_retries(NULL, 1, 1, 1), FP_ERR_INVALID_ARG);
  fp_request_decref(req);
}

static void test_retry_after_wins_capped(void **state) {
  (void)state;
  fp_request *req = retry_request(3, 0.1, 5);
  fp_response *resp = status_response(429);
  uint64_t rng = 5;
  resp->retry_after = 3;
  for (unsigned k = 1; k <= 3; k++)
    assert_true(fp__retry_delay(req, resp, k, &rng) == 3.0); /* no jitter */
  resp->retry_after = 0;
  assert_true(fp__retry_delay(req, resp, 2, &rng) == 0.0);
  resp->retry_after = 3600;
  assert_true(fp__retry_delay(req, resp, 1, &rng) == 5.0); /* capped by max_wait */
  /* still only for a retried outcome, and not past max_retries */
  assert_true(fp__retry_delay(req, resp, 4, &rng) < 0);
  resp->status = 200;
  assert_true(fp__retry_delay(req, resp, 1, &rng) < 0);
  fp__response_free(resp);
  fp_request_decref(req);
}

/* ---- per-host key and slots ---- */

static void assert_host_key(const char *url, const char *want) {
  char *key = fp__host_key(url);
  assert_non_null(key);
  if (strcmp(key, want) != 0)
    fail_msg("host key of '%s' is '%s', want '%s'", url, key, want);
  free(key);
}

static void test_host_key(void **state) {
  (void)state;
  assert_host_key("http://example.com/a/b?c#d", "example.com:80");
  assert_host_key("http://Example.COM/", "example.com:80");
  assert_host_key("HTTP://EXAMPLE.com", "example.com:80");
  assert_host_key("https://example.com/", "example.com:443");
  assert_host_key("HTTPS://example.com", "example.com:443");
  /* the default port made explicit, so both spellings share a limit */
  assert_host_key("http://example.com:80/", "example.com:80");
  assert_host_key("https://example.com:443/", "example.com:443");
  assert_host_key("http://example.com:8080/x", "example.com:8080");
  assert_host_key("https://example.com:80/", "example.com:80");
  assert_host_key("http://127.0.0.1:5000/delay/1", "127.0.0.1:5000");
  assert_host_key("http://localhost?x=1", "localhost:80");
  assert_host_key("http://localhost#frag", "localhost:80");
  /* userinfo is not part of the host */
  assert_host_key("http://user:secret@example.com/", "example.com:80");
  assert_host_key("http://user@Example.com:81/", "example.com:81");
  assert_host_key("http://a@b:c@example.com/", "example.com:80");
  /* IPv6 literals: the colons inside brackets are not a port */
  assert_host_key("http://[::1]/", "[::1]:80");
  assert_host_key("https://[::1]/", "[::1]:443");
  assert_host_key("http://[::1]:8080/", "[::1]:8080");
  assert_host_key("http://[2001:DB8::1]:81", "[2001:db8::1]:81");
  assert_host_key("http://u:p@[::1]:9/", "[::1]:9");
  /* no scheme: no host */
  assert_host_key("example.com/path", "");
  assert_host_key("", "");
}

static fp_future *dummy_future(void) {
  fp_request *req = fp_request_new("http://127.0.0.1:1/");
  fp_future *f = fp__future_new(req);
  fp_request_decref(req);
  assert_non_null(f);
  return f;
}

static void test_host_slots(void **state) {
  (void)state;
  fp__hosts *h = fp__hosts_new(2);
  assert_non_null(h);
  fp_future *f[5];
  for (int i = 0; i < 5; i++)
    f[i] = dummy_future();
  assert_int_equal(fp__hosts_acquire(h, f[0], "a:80"), 1);
  assert_int_equal(fp__hosts_acquire(h, f[1], "a:80"), 1);
  assert_int_equal(fp__hosts_acquire(h, f[2], "a:80"), 0); /* parked */
  assert_int_equal(fp__hosts_acquire(h, f[3], "a:80"), 0); /* parked */
  assert_int_equal(fp__hosts_acquire(h, f[4], "b:80"), 1); /* another host goes on */
  /* each release hands the slot to the oldest parked job, FIFO */
  assert_ptr_equal(fp__hosts_release(h, "a:80"), f[2]);
  assert_ptr_equal(fp__hosts_release(h, "a:80"), f[3]);
  assert_null(fp__hosts_release(h, "a:80"));
  assert_null(fp__hosts_release(h, "a:80"));
  assert_null(fp__hosts_release(h, "b:80"));
  /* all idle: the limit starts over */
  assert_int_equal(fp__hosts_acquire(h, f[0], "a:80"), 1);
  assert_int_equal(fp__hosts_acquire(h, f[1], "a:80"), 1);
  assert_int_equal(fp__hosts_acquire(h, f[2], "a:80"), 0);
  assert_int_equal(fp__hosts_acquire(h, f[4], "b:80"), 1);
  assert_int_equal(fp__hosts_acquire(h, f[3], "b:80"), 1);
  /* shutdown takes whatever is parked; releases then find nobody */
  fp_future *parked = fp__hosts_take_parked(h);
  assert_ptr_equal(parked, f[2]);
  assert_null(*fp__future_next(parked));
  assert_null(fp__hosts_take_parked(h));
  assert_null(fp__hosts_release(h, "a:80"));
  fp__hosts_free(h); /* with hosts still active: frees them */
  for (int i = 0; i < 5; i++)
    fp_future_decref(f[i]);
}

/* ---- rate token bucket ---- */

static void test_rate_bucket(void **state) {
  (void)state;
  double scale = tu_time_scale();
  fp__rate *r = fp__rate_new(50);
  assert_non_null(r);
  double t0 = tu_now();
  fp__rate_acquire(r); /* the first token is free */
  assert_true(tu_now() - t0 < 0.05 * scale);
  for (int i = 1; i < 20; i++)
    fp__rate_acquire(r);
  double took = tu_now() - t0;
  print_message("20 tokens at 50/s: %.3f s\n", took);
  /* 19 intervals of 20 ms; never sooner, a little later at most */
  assert_true(took >= 0.38 - 0.002);
  assert_true(took < 0.38 + 0.1 * scale);
  fp__rate_free(r);

  /* an idle spell banks no burst */
  r = fp__rate_new(10);
  fp__rate_acquire(r);
  usleep(300 * 1000);
  t0 = tu_now();
  fp__rate_acquire(r); /* due long ago: at once */
  fp__rate_acquire(r); /* then a full interval */
  took = tu_now() - t0;
  assert_true(took >= 0.1 - 0.002);
  assert_true(took < 0.1 + 0.1 * scale);
  fp__rate_free(r);
}

typedef struct acquirer {
  fp__rate *rate;
  int count;
  double done_at;
} acquirer;

static void *acquire_thread(void *arg) {
  acquirer *a = arg;
  for (int i = 0; i < a->count; i++)
    fp__rate_acquire(a->rate);
  a->done_at = tu_now();
  return NULL;
}

static void test_rate_shared_by_threads(void **state) {
  (void)state;
  enum { THREADS = 4, EACH = 10 };
  fp__rate *r = fp__rate_new(100);
  assert_non_null(r);
  pthread_t th[THREADS];
  acquirer a[THREADS];
  double t0 = tu_now();
  for (int i = 0; i < THREADS; i++) {
    a[i] = (acquirer){.rate = r, .count = EACH};
    assert_int_equal(pthread_create(&th[i], NULL, acquire_thread, &a[i]), 0);
  }
  double last = 0;
  for (int i = 0; i < THREADS; i++) {
    pthread_join(th[i], NULL);
    last = fmax(last, a[i].done_at);
  }
  double took = last - t0;
  print_message("40 tokens at 100/s on 4 threads: %.3f s\n", took);
  assert_true(took >= 0.39 - 0.002); /* the rate is global, not per thread */
  assert_true(took < 0.39 + 0.15 * tu_time_scale());
  fp__rate_free(r);
}

static void *interrupt_later(void *arg) {
  usleep(100 * 1000);
  fp__rate_interrupt(arg);
  return NULL;
}

static void test_rate_interrupt(void **state) {
  (void)state;
  double scale = tu_time_scale();
  fp__rate *r = fp__rate_new(0.1); /* one token per 10 s */
  assert_non_null(r);
  fp__rate_acquire(r);
  pthread_t th;
  double t0 = tu_now();
  assert_int_equal(pthread_create(&th, NULL, interrupt_later, r), 0);
  fp__rate_acquire(r); /* would wait 10 s: the interrupt ends it */
  double took = tu_now() - t0;
  pthread_join(th, NULL);
  assert_true(took >= 0.09);
  assert_true(took < 0.1 + 0.3 * scale);
  /* from now on every acquire returns at once */
  t0 = tu_now();
  for (int i = 0; i < 100; i++)
    fp__rate_acquire(r);
  assert_true(tu_now() - t0 < 0.1 * scale);
  fp__rate_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      TU_TEST(test_retry_after_seconds),
      TU_TEST(test_retry_after_dates),
      TU_TEST(test_retry_after_invalid),
      TU_TEST(test_retry_off_by_default),
      TU_TEST(test_retry_max_retries),
      TU_TEST(test_retry_default_statuses),
      TU_TEST(test_retry_custom_statuses),
      TU_TEST(test_retry_transient_errors),
      TU_TEST(test_retry_full_jitter),
      TU_TEST(test_retry_defaults_for_zero),
      TU_TEST(test_retry_after_wins_capped),
      TU_TEST(test_host_key),
      TU_TEST(test_host_slots),
      TU_TEST(test_rate_bucket),
      TU_TEST(test_rate_shared_by_threads),
      TU_TEST(test_rate_interrupt),
  };
  return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
