/* test_hosts.c: per-host politeness against the loopback test server, on
 * every engine: a slow host's parked jobs never hold the others back
 * (the reader goes on), a 429 with Retry-After pauses only its host,
 * the per-host rate paces each host on its own, parked jobs have their
 * own budget (submit blocks past it), abort and shutdown end parked and
 * cooling jobs at once, and fp_executor_hosts reports it all. Distinct
 * hosts are names resolved to 127.0.0.1 (curl's --resolve). */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>

#include "testutil.h"

static const fp_engine engines[] = {FP_ENGINE_THREADS, FP_ENGINE_MULTI, FP_ENGINE_HYBRID};
static const char *const engine_names[] = {"threads", "multi", "hybrid"};

typedef struct opts {
  size_t threads, per_host, capacity, max_parked, max_threads;
  double per_host_rate;
  fp_engine engine;
  bool threads_auto;
  const char *prefix; /* worker threads' names */
} opts;

static fp_executor *executor(opts o) {
  fp_executor_options eo;
  fp_executor_options_init(&eo);
  eo.threads = o.threads;
  eo.per_host = o.per_host;
  eo.queue_capacity = o.capacity;
  eo.max_parked = o.max_parked;
  eo.per_host_rate = o.per_host_rate;
  eo.engine = o.engine;
  eo.loops = 2;
  eo.threads_auto = o.threads_auto;
  eo.max_threads = o.max_threads;
  eo.thread_name_prefix = o.prefix;
  fp_error err = {0};
  fp_executor *ex = fp_executor_new(&eo, &err);
  if (!ex)
    fail_msg("fp_executor_new: %s", err.text);
  return ex;
}

/* A GET of path on host NAME (resolved to the test server). NEW. */
static fp_request *on_host(const char *name, const char *path) {
  char url[512], resolve[128];
  unsigned port = ts_port(tu_server);
  snprintf(url, sizeof url, "http://%s:%u%s", name, port, path);
  snprintf(resolve, sizeof resolve, "%s:%u:127.0.0.1", name, port);
  fp_request *req = fp_request_new(url);
  assert_non_null(req);
  assert_int_equal(fp_request_add_resolve(req, resolve), FP_OK);
  return req;
}

/* The state of host "NAME:PORT" (the test fails when unknown). */
static fp_host_info host_info(fp_executor *ex, const char *name) {
  fp_host_info all[16];
  char key[128];
  snprintf(key, sizeof key, "%s:%u", name, (unsigned)ts_port(tu_server));
  size_t n = fp_executor_hosts(ex, all, 16);
  for (size_t i = 0; i < n && i < 16; i++)
    if (strcmp(all[i].host, key) == 0)
      return all[i];
  fail_msg("host %s unknown", key);
  return all[0];
}

static void wait_parked(fp_executor *ex, const char *name, size_t n) {
  double end = tu_now() + 10.0 * tu_time_scale();
  while (host_info(ex, name).parked != n) {
    if (tu_now() > end)
      fail_msg("%zu jobs never parked for %s", n, name);
    usleep(2000);
  }
}

static size_t count_done(fp_future *const *fs, size_t n) {
  size_t done = 0;
  for (size_t i = 0; i < n; i++)
    done += fp_future_done(fs[i]);
  return done;
}

/* Issue 18, problem 1: 8 jobs to a slow host limited to 2 at once, then
 * 40 to a fast host, through a queue of 2. The slow host's parked jobs
 * must not stop the submitter: the fast jobs are all done before the
 * second round of slow ones (they would wait for the slow ones to drain
 * if parked jobs filled the queue), and the slow host stays at 2. */
static void test_slow_host_holds_nobody_back(void **state) {
  (void)state;
  enum { SLOW = 8, FAST = 40 };
  double scale = tu_time_scale();
  int ms = (int)(500 * scale);
  for (size_t e = 0; e < 3; e++) {
    char name[64], path[128];
    snprintf(name, sizeof name, "/concurrency-reset/hol-%s", engine_names[e]);
    tu_server_number("%s", name);
    fp_executor *ex =
        executor((opts){.threads = 8, .per_host = 2, .capacity = 2, .engine = engines[e]});
    fp_future *slow[SLOW], *fast[FAST];
    snprintf(path, sizeof path, "/concurrency/hol-%s?ms=%d", engine_names[e], ms);
    double t0 = tu_now();
    for (int i = 0; i < SLOW; i++)
      slow[i] = tu_submit_req(ex, on_host("slow.test", path));
    for (int i = 0; i < FAST; i++)
      fast[i] = tu_submit_req(ex, on_host("fast.test", "/hello"));
    assert_int_equal(fp_wait(fast, FAST, 60.0, FP_ALL_COMPLETED, NULL), FP_OK);
    double took = tu_now() - t0;
    size_t slow_done = count_done(slow, SLOW);
    print_message("%s: 40 fast jobs done in %.3f s, %zu of 8 slow ones done by then\n",
                  engine_names[e], took, slow_done);
    assert_true(slow_done <= 2);
    for (int i = 0; i < FAST; i++) {
      assert_int_equal(fp_response_status(tu_result(fast[i])), 200);
      fp_future_decref(fast[i]);
    }
    assert_int_equal(fp_wait(slow, SLOW, 60.0, FP_ALL_COMPLETED, NULL), FP_OK);
    for (int i = 0; i < SLOW; i++) {
      assert_int_equal(fp_response_status(tu_result(slow[i])), 200);
      fp_future_decref(slow[i]);
    }
    snprintf(name, sizeof name, "/concurrency-max/hol-%s", engine_names[e]);
    assert_int_equal(tu_server_number("%s", name), 2);
    fp_host_info s = host_info(ex, "slow.test"), f = host_info(ex, "fast.test");
    assert_int_equal(s.limit, 2);
    assert_int_equal(s.done, SLOW);
    assert_int_equal(s.active + s.parked, 0);
    assert_int_equal(f.done, FAST);
    /* busiest first */
    fp_host_info top[1];
    assert_int_equal(fp_executor_hosts(ex, top, 1), 2);
    assert_string_equal(top[0].host, f.host);
    fp_executor_free(ex);
  }
}

/* A 429 with Retry-After: 1 pauses new requests to its host for a second
 * (its jobs park; no request reaches it meanwhile), another host goes on
 * at once, and the host's counters say so. */
static void test_cooldown_pauses_only_its_host(void **state) {
  (void)state;
  for (size_t e = 0; e < 2; e++) {
    char path[128], stat[128];
    fp_executor *ex = executor((opts){.threads = 4, .engine = engines[e]});
    snprintf(path, sizeof path, "/flaky/cool-%s?fail=1&status=429&retry_after=1",
             engine_names[e]);
    fp_future *first = tu_submit_req(ex, on_host("cool.test", path));
    assert_int_equal(fp_response_status(tu_result(first)), 429);
    double t429 = tu_now();
    fp_future_decref(first);
    fp_future *a[3], *b[3];
    for (int i = 0; i < 3; i++)
      a[i] = tu_submit_req(ex, on_host("cool.test", path));
    wait_parked(ex, "cool.test", 3); /* holding no worker */
    for (int i = 0; i < 3; i++)
      b[i] = tu_submit_req(ex, on_host("other.test", "/hello"));
    assert_int_equal(fp_wait(b, 3, 60.0, FP_ALL_COMPLETED, NULL), FP_OK);
    double b_done = tu_now();
    fp_host_info c = host_info(ex, "cool.test");
    if (b_done - t429 < 0.9) { /* still cooling: its jobs still wait */
      assert_int_equal(count_done(a, 3), 0);
      assert_int_equal(c.active, 0);
      assert_int_equal(c.parked, 3);
      assert_true(c.cooldown_left > 0);
    }
    assert_int_equal(fp_wait(a, 3, 60.0, FP_ALL_COMPLETED, NULL), FP_OK);
    double a_done = tu_now() - t429;
    print_message("%s: other host done %.3f s after the 429, the cooling one %.3f s\n",
                  engine_names[e], b_done - t429, a_done);
    assert_true(a_done >= 0.95);
    for (int i = 0; i < 3; i++) {
      assert_int_equal(fp_response_status(tu_result(a[i])), 200);
      assert_int_equal(fp_response_status(tu_result(b[i])), 200);
      fp_future_decref(a[i]);
      fp_future_decref(b[i]);
    }
    /* exactly the 429 and the 3 after it reached the host, the 3 a
     * second or more after the first */
    snprintf(stat, sizeof stat, "/flaky-count/cool-%s", engine_names[e]);
    assert_int_equal(tu_server_number("%s", stat), 4);
    snprintf(stat, sizeof stat, "/flaky-gap/cool-%s", engine_names[e]);
    assert_true(tu_server_number("%s", stat) >= 950);
    c = host_info(ex, "cool.test");
    assert_int_equal(c.overloads, 1);
    assert_int_equal(c.done, 4);
    assert_int_equal(c.limit, 0);
    assert_true(c.cooldown_left == 0);
    assert_true(c.cooldown_total > 0.95 && c.cooldown_total < 1.05);
    fp_host_info o = host_info(ex, "other.test");
    assert_int_equal(o.overloads, 0);
    assert_true(o.cooldown_total == 0);
    fp_executor_free(ex);
  }
}

/* no_host_cooldown: the host is asked again at once. */
static void test_cooldown_off(void **state) {
  (void)state;
  fp_executor_options eo;
  fp_executor_options_init(&eo);
  eo.threads = 2;
  eo.per_host = 8; /* a host table to read (without one no host is known) */
  eo.no_host_cooldown = true;
  fp_executor *ex = fp_executor_new(&eo, NULL);
  assert_non_null(ex);
  fp_future *first =
      tu_submit_req(ex, on_host("nocool.test", "/flaky/nocool?fail=1&status=429&retry_after=5"));
  assert_int_equal(fp_response_status(tu_result(first)), 429);
  double t0 = tu_now();
  fp_future *next = tu_submit_req(ex, on_host("nocool.test", "/flaky/nocool"));
  assert_int_equal(fp_response_status(tu_result(next)), 200);
  assert_true(tu_now() - t0 < 4.0);
  fp_host_info c = host_info(ex, "nocool.test");
  assert_int_equal(c.overloads, 1);
  assert_true(c.cooldown_total == 0);
  fp_future_decref(first);
  fp_future_decref(next);
  fp_executor_free(ex);
}

/* per_host_rate 20: each host's 8 starts come 50 ms apart at least (7
 * gaps: 350 ms from the first to the last at the server), and the two
 * hosts go side by side, not one after the other. */
static void test_per_host_rate_paces_each_host(void **state) {
  (void)state;
  enum { N = 8 };
  double scale = tu_time_scale();
  for (size_t e = 0; e < 2; e++) {
    fp_executor *ex = executor((opts){.threads = 8, .per_host_rate = 20, .engine = engines[e]});
    fp_future *fs[2 * N];
    char path[128];
    double t0 = tu_now();
    for (int i = 0; i < 2 * N; i++) {
      snprintf(path, sizeof path, "/flaky/rate-%s-%d?fail=0", engine_names[e], i / N);
      fs[i] = tu_submit_req(ex, on_host(i < N ? "ra.test" : "rb.test", path));
    }
    assert_int_equal(fp_wait(fs, 2 * N, 60.0, FP_ALL_COMPLETED, NULL), FP_OK);
    double took = tu_now() - t0;
    for (int i = 0; i < 2 * N; i++) {
      assert_int_equal(fp_response_status(tu_result(fs[i])), 200);
      fp_future_decref(fs[i]);
    }
    for (int h = 0; h < 2; h++) {
      snprintf(path, sizeof path, "/flaky-count/rate-%s-%d", engine_names[e], h);
      assert_int_equal(tu_server_number("%s", path), N);
      snprintf(path, sizeof path, "/flaky-gap/rate-%s-%d", engine_names[e], h);
      long gap = tu_server_number("%s", path);
      print_message("%s: host %d's 8 starts spread over %ld ms (all: %.3f s)\n",
                    engine_names[e], h, gap, took);
      assert_true(gap >= 330);
    }
    /* one after the other would take 750 ms */
    assert_true(took < 0.35 + 0.3 * scale);
    fp_executor_free(ex);
  }
}

/* max_parked 3: with 3 jobs parked for a busy host, submit blocks though
 * the queue has room (memory stays bounded); below it, it goes on. */
static void test_max_parked_blocks_submit(void **state) {
  (void)state;
  fp_executor *ex = executor((opts){.threads = 2, .per_host = 1, .capacity = 1, .max_parked = 3});
  fp_future *fs[4];
  for (int i = 0; i < 4; i++)
    fs[i] = tu_submit_req(ex, on_host("busy.test", "/delay/300"));
  wait_parked(ex, "busy.test", 3);
  fp_error err = {0};
  fp_request *other = on_host("idle.test", "/hello");
  assert_null(fp_executor_submit_timeout(ex, other, 0.05, &err));
  assert_int_equal(err.code, FP_ERR_WOULD_BLOCK);
  /* the first ends, one parked job runs: room for one again */
  fp_future *of = fp_executor_submit_timeout(ex, other, 30.0, &err);
  assert_non_null(of);
  fp_request_decref(other);
  assert_int_equal(fp_response_status(tu_result(of)), 200);
  fp_future_decref(of);
  assert_int_equal(fp_wait(fs, 4, 60.0, FP_ALL_COMPLETED, NULL), FP_OK);
  for (int i = 0; i < 4; i++) {
    assert_int_equal(fp_response_status(tu_result(fs[i])), 200);
    fp_future_decref(fs[i]);
  }
  fp_executor_free(ex);
}

/* Cancelled while pending, or (taken from the queue as the abort came)
 * finished with the error cancelled. */
static bool ended_cancelled(fp_future *f) {
  const fp_response *resp = NULL;
  if (fp_future_cancelled(f))
    return true;
  return fp_future_result(f, 0, &resp) == FP_OK && fp_response_error(resp) == FP_ERR_CANCELLED;
}

/* Jobs parked for a cooling host (one of them out as its timer) end at
 * once, cancelled, on abort and on shutdown with cancel, on every engine. */
static void test_abort_and_cancel_end_cooling_jobs(void **state) {
  (void)state;
  double scale = tu_time_scale();
  for (size_t e = 0; e < 3; e++) {
    for (int how = 0; how < 2; how++) {
      fp_executor *ex = executor((opts){.threads = 2, .engine = engines[e]});
      char path[128];
      snprintf(path, sizeof path, "/flaky/end-%s-%d?fail=1&status=503&retry_after=20",
               engine_names[e], how);
      fp_future *first = tu_submit_req(ex, on_host("end.test", path));
      assert_int_equal(fp_response_status(tu_result(first)), 503);
      fp_future_decref(first);
      fp_future *fs[3];
      for (int i = 0; i < 3; i++)
        fs[i] = tu_submit_req(ex, on_host("end.test", path));
      wait_parked(ex, "end.test", 3);
      double t0 = tu_now();
      if (how == 0)
        fp_executor_abort(ex);
      else
        assert_int_equal(fp_executor_shutdown(ex, true, true), FP_OK);
      assert_int_equal(fp_wait(fs, 3, 10.0, FP_ALL_COMPLETED, NULL), FP_OK);
      assert_true(tu_now() - t0 < 1.0 * scale);
      for (int i = 0; i < 3; i++) {
        assert_true(ended_cancelled(fs[i]));
        fp_future_decref(fs[i]);
      }
      assert_int_equal(host_info(ex, "end.test").parked, 0);
      t0 = tu_now();
      fp_executor_free(ex);
      assert_true(tu_now() - t0 < 1.0 * scale);
    }
  }
}

/* Threads of this process whose name is "PREFIX-<n>". */
static size_t named_threads(const char *prefix) {
  DIR *d = opendir("/proc/self/task");
  assert_non_null(d);
  size_t n = 0, len = strlen(prefix);
  struct dirent *e;
  while ((e = readdir(d))) {
    char path[300], name[32] = "";
    snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
    FILE *f = e->d_name[0] != '.' ? fopen(path, "r") : NULL;
    if (!f)
      continue;
    if (fgets(name, sizeof name, f) && strncmp(name, prefix, len) == 0 && name[len] == '-')
      n++;
    fclose(f);
  }
  closedir(d);
  return n;
}

/* -t auto on the thread engine: the pool of max_threads workers starts
 * small and grows only as far as the hosts' limits use it. One host held
 * to 2 at once keeps it at its first few workers; three hosts at up to 8
 * each grow it past them, never past 3 x 8 + 1. */
static void test_auto_pool_grows_on_demand(void **state) {
  (void)state;
  enum { ONE = 12, EACH = 16 };
  fp_executor *ex = executor((opts){.threads_auto = true, .max_threads = 64, .per_host = 2,
                                    .prefix = "grow1"});
  assert_int_equal(fp_executor_threads(ex), 64);
  fp_future *fs[3 * EACH];
  for (int i = 0; i < ONE; i++)
    fs[i] = tu_submit_req(ex, on_host("one.test", "/delay/100"));
  for (int i = 0; i < ONE; i++) {
    assert_int_equal(fp_response_status(tu_result(fs[i])), 200);
    fp_future_decref(fs[i]);
  }
  size_t few = named_threads("grow1");
  print_message("one host at 2: %zu workers of 64\n", few);
  assert_true(few >= 2 && few <= 4);
  fp_executor_free(ex);

  ex = executor((opts){.threads_auto = true, .max_threads = 64, .per_host = 8,
                       .prefix = "grow3"});
  static const char *const names[] = {"a.test", "b.test", "c.test"};
  for (int i = 0; i < 3 * EACH; i++)
    fs[i] = tu_submit_req(ex, on_host(names[i % 3], "/delay/200"));
  for (int i = 0; i < 3 * EACH; i++) {
    assert_int_equal(fp_response_status(tu_result(fs[i])), 200);
    fp_future_decref(fs[i]);
  }
  size_t more = named_threads("grow3");
  print_message("three hosts at up to 8: %zu workers of 64\n", more);
  assert_true(more > 4 && more <= 3 * 8 + 1);
  fp_executor_free(ex);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      TU_TEST(test_slow_host_holds_nobody_back),
      TU_TEST(test_cooldown_pauses_only_its_host),
      TU_TEST(test_cooldown_off),
      TU_TEST(test_per_host_rate_paces_each_host),
      TU_TEST(test_max_parked_blocks_submit),
      TU_TEST(test_abort_and_cancel_end_cooling_jobs),
      TU_TEST(test_auto_pool_grows_on_demand),
  };
  return cmocka_run_group_tests_name("hosts", tests, tu_setup_server, tu_teardown_server);
}
