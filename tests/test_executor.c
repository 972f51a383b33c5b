/* test_executor.c: executor lifecycle: threads, names, initializer, signal
 * mask, submit (concurrent, FIFO, bounded queue, timeouts), shutdown in
 * every mode, and load: many jobs, connection reuse, real concurrency. */
#include <dlfcn.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "testutil.h"

/* ---- a name only this test binary resolves ----
 * libcurl resolves names with getaddrinfo; this definition in the program
 * comes before libc's, so "fp-dns-test.invalid" resolves to 127.0.0.1 here,
 * and every lookup of it is counted. Other names go to the real one. */
#define TEST_NAME "fp-dns-test.invalid"
static atomic_int test_name_lookups;

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res) {
  typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *,
                        struct addrinfo **);
  static _Atomic(gai_fn) real;
  gai_fn next = atomic_load(&real);
  if (!next) {
    next = (gai_fn)dlsym(RTLD_NEXT, "getaddrinfo");
    atomic_store(&real, next);
  }
  if (node && strcmp(node, TEST_NAME) == 0) {
    atomic_fetch_add(&test_name_lookups, 1);
    struct addrinfo h = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM,
                         .ai_flags = AI_NUMERICHOST};
    if (hints)
      h.ai_protocol = hints->ai_protocol;
    return next("127.0.0.1", service, &h, res);
  }
  return next(node, service, hints, res);
}

static void wait_running(fp_future *f) {
  double end = tu_now() + 10.0;
  while (fp_future_state(f) == FP_PENDING) {
    assert_true(tu_now() < end);
    usleep(1000);
  }
}

static void assert_body(fp_future *f, const char *want) {
  const fp_response *resp = NULL;
  assert_int_equal(fp_future_result(f, FP_FOREVER, &resp), FP_OK);
  assert_int_equal(fp_response_error(resp), FP_OK);
  assert_int_equal(fp_response_status(resp), 200);
  const char *body = fp_response_body(resp, NULL);
  assert_non_null(body);
  assert_string_equal(body, want);
}

/* ---- first use, idling ---- */

static pthread_barrier_t first_barrier;

static void *first_executor(void *arg) {
  (void)arg;
  pthread_barrier_wait(&first_barrier);
  fp_executor *ex = tu_executor(2, 0, NULL);
  fp_request *req = tu_request("%s", "/hello");
  fp_future *f = fp_executor_submit(ex, req, NULL);
  fp_request_decref(req);
  assert_non_null(f);
  assert_body(f, "hello");
  fp_future_decref(f);
  fp_executor_free(ex);
  return NULL;
}

static void test_first_executors_at_once(void **state) {
  /* the first test of this process: 8 threads make the first executors at
   * the same moment, so libcurl's global init races unless it runs once
   * under pthread_once (ThreadSanitizer checks this run) */
  enum { N = 8 };
  pthread_t t[N];
  assert_int_equal(pthread_barrier_init(&first_barrier, NULL, N), 0);
  for (int i = 0; i < N; i++)
    assert_int_equal(pthread_create(&t[i], NULL, first_executor, NULL), 0);
  for (int i = 0; i < N; i++)
    pthread_join(t[i], NULL);
  pthread_barrier_destroy(&first_barrier);
}

static double cpu_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_idle_workers_sleep(void **state) {
  /* workers with nothing to do wait on a condition variable (the event
   * loop in curl_multi_poll): an idle second costs next to no CPU, where
   * one busy-waiting worker would cost a whole second of it */
  static const fp_engine engines[] = {FP_ENGINE_THREADS, FP_ENGINE_MULTI};
  for (size_t e = 0; e < 2; e++) {
    fp_executor_options opts;
    fp_executor_options_init(&opts);
    opts.threads = 16;
    opts.engine = engines[e];
    fp_executor *ex = fp_executor_new(&opts, NULL);
    assert_non_null(ex);
    fp_request *req = tu_request("%s", "/hello");
  fp_future *f = fp_executor_submit(ex, req, NULL);
  fp_request_decref(req);
    assert_body(f, "hello"); /* every worker is up */
    fp_future_decref(f);
    double cpu0 = cpu_seconds(), t0 = tu_now();
    usleep(1000000);
    double cpu = cpu_seconds() - cpu0, wall = tu_now() - t0;
    print_message("engine %zu: %.1f ms of CPU in %.2f s idle\n", e, cpu * 1e3, wall);
    if (cpu > 0.05 * tu_time_scale())
      fail_msg("16 idle workers used %.3f s of CPU in %.2f s", cpu, wall);
    fp_executor_free(ex);
  }
}

/* ---- threads, names, initializer ---- */

/* fp_executor_options is allocated by callers, so its size is part of the
 * ABI: a new option takes a reserved_ slot instead of growing it (or the
 * soname changes). 232 bytes on LP64 since 0.3.0 (soname 1). */
static void test_options_size_is_fixed(void **state) {
  (void)state;
#if defined(__LP64__)
  assert_int_equal(sizeof(fp_executor_options), 232);
#endif
  fp_executor_options opts;
  memset(&opts, 0xAB, sizeof opts);
  fp_executor_options_init(&opts);
  for (size_t i = 0; i < sizeof opts.reserved_ / sizeof opts.reserved_[0]; i++)
    assert_null(opts.reserved_[i]);
}

static void test_default_threads(void **state) {
  (void)state;
  fp_executor_options opts;
  memset(&opts, 0xff, sizeof opts);
  fp_executor_options_init(&opts);
  assert_int_equal(opts.threads, 0);
  assert_int_equal(opts.queue_capacity, 0);
  assert_null(opts.thread_name_prefix);
  assert_null(opts.initializer);
  assert_null(opts.initializer_arg);
  assert_true(opts.share_dns);

  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  size_t want = (size_t)(cpus > 0 ? cpus : 1) + 4;
  if (want > 32)
    want = 32;
  fp_executor *ex = fp_executor_new(NULL, NULL);
  assert_non_null(ex);
  assert_int_equal(fp_executor_threads(ex), want);
  fp_executor_free(ex);
  ex = fp_executor_new(&opts, NULL); /* threads 0 means the same */
  assert_non_null(ex);
  assert_int_equal(fp_executor_threads(ex), want);
  fp_executor_free(ex);
  assert_int_equal(fp_executor_threads(NULL), 0);
}

#define MAX_WORKERS_DNS 8

/* Lookups of TEST_NAME made by a pool of `threads` workers, each running
 * one job to that name after a first job has resolved it. */
static int lookups_with_share(bool share_dns, size_t threads) {
  fp_executor_options opts;
  fp_executor_options_init(&opts);
  opts.threads = threads;
  opts.share_dns = share_dns;
  fp_executor *ex = fp_executor_new(&opts, NULL);
  assert_non_null(ex);
  char url[128];
  snprintf(url, sizeof url, "http://" TEST_NAME ":%u/hello", (unsigned)ts_port(tu_server));
  int before = atomic_load(&test_name_lookups);
  fp_future *first = fp_executor_submit_url(ex, url, NULL);
  assert_body(first, "hello");
  fp_future_decref(first);
  /* one job for every worker at once, each holding its worker long enough
   * that no worker comes for a second one */
  unsigned ms = (unsigned)(200 * tu_time_scale());
  snprintf(url, sizeof url, "http://" TEST_NAME ":%u/delay/%u", (unsigned)ts_port(tu_server), ms);
  char want[32];
  snprintf(want, sizeof want, "delayed %u", ms);
  fp_future *fs[MAX_WORKERS_DNS];
  for (size_t i = 0; i < threads; i++)
    assert_non_null(fs[i] = fp_executor_submit_url(ex, url, NULL));
  for (size_t i = 0; i < threads; i++) {
    assert_body(fs[i], want);
    fp_future_decref(fs[i]);
  }
  fp_executor_free(ex);
  return atomic_load(&test_name_lookups) - before;
}

static void test_share_dns(void **state) {
  /* with share_dns (the default) the workers share one DNS cache: the name
   * is looked up once for the whole pool; without it each worker that
   * meets the name looks it up itself */
  (void)state;
  enum { THREADS = 4 };
  int shared = lookups_with_share(true, THREADS);
  int own = lookups_with_share(false, THREADS);
  print_message("lookups: %d with a shared cache, %d without\n", shared, own);
  assert_int_equal(shared, 1);
  assert_int_equal(own, THREADS);
}

#define MAX_WORKERS 8

typedef struct init_log {
  pthread_mutex_t mu;
  int calls[MAX_WORKERS];
  int total;
  char names[MAX_WORKERS][16];
  bool signals_blocked[MAX_WORKERS];
  pthread_t threads[MAX_WORKERS];
  size_t fail_index; /* index whose initializer fails; MAX_WORKERS: none */
} init_log;

static void init_log_init(init_log *log, size_t fail_index) {
  memset(log, 0, sizeof *log);
  pthread_mutex_init(&log->mu, NULL);
  log->fail_index = fail_index;
}

static int record_init(void *arg, size_t index) {
  init_log *log = arg;
  sigset_t set;
  sigemptyset(&set);
  pthread_sigmask(SIG_BLOCK, NULL, &set);
  pthread_mutex_lock(&log->mu);
  log->total++;
  if (index < MAX_WORKERS) {
    log->calls[index]++;
    if (pthread_getname_np(pthread_self(), log->names[index], 16))
      log->names[index][0] = '\0';
    log->signals_blocked[index] = sigismember(&set, SIGINT) == 1 &&
                                  sigismember(&set, SIGTERM) == 1 &&
                                  sigismember(&set, SIGPIPE) == 1;
    log->threads[index] = pthread_self();
  }
  pthread_mutex_unlock(&log->mu);
  return index == log->fail_index ? -1 : 0;
}

static void test_names_initializer_signals(void **state) {
  (void)state;
  init_log log;
  init_log_init(&log, MAX_WORKERS);
  sigset_t before, after;
  pthread_sigmask(SIG_BLOCK, NULL, &before);
  fp_executor_options opts;
  fp_executor_options_init(&opts);
  opts.threads = 4;
  opts.thread_name_prefix = "xpool";
  opts.initializer = record_init;
  opts.initializer_arg = &log;
  fp_executor *ex = fp_executor_new(&opts, NULL);
  assert_non_null(ex);
  assert_int_equal(fp_executor_threads(ex), 4);
  /* every initializer ran before fp_executor_new returned */
  pthread_mutex_lock(&log.mu);
  assert_int_equal(log.total, 4);
  for (size_t i = 0; i < 4; i++) {
    char want[16];
    snprintf(want, sizeof want, "xpool-%zu", i);
    assert_int_equal(log.calls[i], 1);
    assert_string_equal(log.names[i], want);
    assert_true(log.signals_blocked[i]);
    assert_false(pthread_equal(log.threads[i], pthread_self()));
    for (size_t j = 0; j < i; j++)
      assert_false(pthread_equal(log.threads[i], log.threads[j]));
  }
  pthread_mutex_unlock(&log.mu);
  /* the caller's own mask is left as it was */
  pthread_sigmask(SIG_BLOCK, NULL, &after);
  assert_int_equal(sigismember(&after, SIGINT), sigismember(&before, SIGINT));
  assert_int_equal(sigismember(&after, SIGTERM), sigismember(&before, SIGTERM));
  assert_int_equal(sigismember(&after, SIGPIPE), sigismember(&before, SIGPIPE));
  fp_executor_free(ex);
  assert_int_equal(log.total, 4); /* never again */
  pthread_mutex_destroy(&log.mu);
}

static void test_name_prefix_default_and_cut(void **state) {
  (void)state;
  init_log log;
  init_log_init(&log, MAX_WORKERS);
  fp_executor_options opts;
  fp_executor_options_init(&opts);
  opts.threads = 2;
  opts.initializer = record_init;
  opts.initializer_arg = &log;
  fp_executor *ex = fp_executor_new(&opts, NULL);
  assert_non_null(ex);
  assert_string_equal(log.names[0], "fp-0");
  assert_string_equal(log.names[1], "fp-1");
  fp_executor_free(ex);

  /* a prefix the caller frees right away, longer than Linux allows */
  char *prefix = strdup("averyveryverylongprefix");
  init_log_init(&log, MAX_WORKERS);
  opts.thread_name_prefix = prefix;
  ex = fp_executor_new(&opts, NULL);
  free(prefix);
  assert_non_null(ex);
  assert_string_equal(log.names[0], "averyveryverylo"); /* cut to 15 bytes */
  fp_executor_free(ex);
  pthread_mutex_destroy(&log.mu);
}

static void test_initializer_failure(void **state) {
  (void)state;
  init_log log;
  init_log_init(&log, 2);
  fp_executor_options opts;
  fp_executor_options_init(&opts);
  opts.threads = 4;
  opts.initializer = record_init;
  opts.initializer_arg = &log;
  fp_error err = {0};
  assert_null(fp_executor_new(&opts, &err));
  assert_int_equal(err.code, FP_ERR_INITIALIZER);
  assert_true(err.text[0] != '\0');
  assert_int_equal(log.calls[2], 1);
  pthread_mutex_destroy(&log.mu);
  /* and without an fp_error */
  init_log_init(&log, 0);
  assert_null(fp_executor_new(&opts, NULL));
  pthread_mutex_destroy(&log.mu);
}

/* ---- submitting ---- */

#define SUBMITTERS 8
#define PER_SUBMITTER 40

typedef struct submitter {
  fp_executor *ex;
  pthread_barrier_t *start; /* all submitters begin together */
  int id;
  fp_future *fs[PER_SUBMITTER];
  int failures;
} submitter;

static void *submit_main(void *arg) {
  submitter *s = arg;
  pthread_barrier_wait(s->start);
  for (int i = 0; i < PER_SUBMITTER; i++) {
    char *url = tu_url("/text/s%d-%d", s->id, i);
    s->fs[i] = fp_executor_submit_url(s->ex, url, NULL);
    free(url);
    if (!s->fs[i])
      s->failures++;
  }
  return NULL;
}

static void test_submit_from_many_threads(void **state) {
  (void)state;
  fp_executor *ex = tu_executor(4, 0, NULL);
  unsigned long base = ts_requests(tu_server);
  submitter *subs = calloc(SUBMITTERS, sizeof *subs);
  assert_non_null(subs);
  pthread_t t[SUBMITTERS];
  pthread_barrier_t start;
  assert_int_equal(pthread_barrier_init(&start, NULL, SUBMITTERS), 0);
  for (int i = 0; i < SUBMITTERS; i++) {
    subs[i].ex = ex;
    subs[i].start = &start;
    subs[i].id = i;
    assert_int_equal(pthread_create(&t[i], NULL, submit_main, &subs[i]), 0);
  }
  for (int i = 0; i < SUBMITTERS; i++)
    pthread_join(t[i], NULL);
  pthread_barrier_destroy(&start);
  for (int i = 0; i < SUBMITTERS; i++) {
    assert_int_equal(subs[i].failures, 0);
    for (int j = 0; j < PER_SUBMITTER; j++) {
      char want[32];
      snprintf(want, sizeof want, "s%d-%d", i, j);
      assert_body(subs[i].fs[j], want);
      fp_future_decref(subs[i].fs[j]);
    }
  }
  assert_int_equal(ts_requests(tu_server) - base, SUBMITTERS * PER_SUBMITTER);
  free(subs);
  fp_executor_free(ex);
}

typedef struct order_log {
  pthread_mutex_t mu;
  int seq[32];
  int n;
} order_log;

typedef struct order_arg {
  order_log *log;
  int id;
} order_arg;

static void order_cb(fp_future *f, void *userdata) {
  (void)f;
  order_arg *a = userdata;
  pthread_mutex_lock(&a->log->mu);
  if (a->log->n < 32)
    a->log->seq[a->log->n] = a->id;
  a->log->n++;
  pthread_mutex_unlock(&a->log->mu);
}

static void test_fifo_one_thread(void **state) {
  (void)state;
  enum { N = 20 };
  fp_executor *ex = tu_executor(1, 0, NULL);
  fp_future *blocker = tu_submit(ex, "/delay/150"); /* let the rest pile up */
  order_log log = {.mu = PTHREAD_MUTEX_INITIALIZER};
  order_arg args[N];
  fp_future *fs[N];
  for (int i = 0; i < N; i++) {
    char path[32];
    snprintf(path, sizeof path, "/text/%d", i);
    fs[i] = tu_submit(ex, "%s", path);
    args[i] = (order_arg){&log, i};
    assert_int_equal(fp_future_add_done_callback(fs[i], order_cb, &args[i]), FP_OK);
  }
  assert_int_equal(fp_executor_shutdown(ex, true, false), FP_OK);
  assert_int_equal(log.n, N);
  for (int i = 0; i < N; i++) {
    assert_int_equal(log.seq[i], i);
    fp_future_decref(fs[i]);
  }
  fp_future_decref(blocker);
  fp_executor_free(ex);
}

typedef struct blocked_submit {
  fp_executor *ex;
  fp_request *req;
  fp_future *watch; /* sampled when the submit returns */
  atomic_bool returned;
  fp_future *f;
  fp_error err;
  bool watch_done_on_return;
  double took;
} blocked_submit;

static void *blocked_submit_main(void *arg) {
  blocked_submit *b = arg;
  double t0 = tu_now();
  b->f = fp_executor_submit(b->ex, b->req, &b->err);
  b->took = tu_now() - t0;
  b->watch_done_on_return = fp_future_done(b->watch);
  atomic_store(&b->returned, true);
  return NULL;
}

static void test_queue_capacity_blocks(void **state) {
  (void)state;
  fp_executor *ex = tu_executor(1, 2, NULL);
  fp_future *a = tu_submit(ex, "/delay/400");
  wait_running(a);
  fp_future *b = tu_submit(ex, "/text/b"); /* the queue holds b and c: full */
  fp_future *c = tu_submit(ex, "/text/c");
  blocked_submit d = {.ex = ex, .req = tu_request("%s", "/text/d"), .watch = a};
  atomic_init(&d.returned, false);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, blocked_submit_main, &d), 0);
  usleep(100 * 1000); /* let it block */
  assert_false(atomic_load(&d.returned));
  assert_int_equal(fp_future_state(a), FP_RUNNING);
  assert_int_equal(fp_future_state(b), FP_PENDING);
  assert_int_equal(fp_future_state(c), FP_PENDING);
  pthread_join(t, NULL);
  /* it went on only once the worker finished a and took b off the queue */
  assert_non_null(d.f);
  assert_int_equal(d.err.code, FP_OK);
  assert_true(d.watch_done_on_return);
  assert_true(d.took >= 0.1);
  assert_body(d.f, "d");
  assert_body(b, "b");
  assert_body(c, "c");
  fp_future *all[4] = {a, b, c, d.f};
  for (int i = 0; i < 4; i++)
    fp_future_decref(all[i]);
  fp_request_decref(d.req);
  fp_executor_free(ex);
}

static void test_submit_timeout(void **state) {
  (void)state;
  fp_executor *ex = tu_executor(1, 1, NULL);
  fp_future *a = tu_submit(ex, "/delay/1000");
  wait_running(a);
  fp_future *b = tu_submit(ex, "/text/b"); /* full */
  fp_request *req = tu_request("%s", "/text/c");

  fp_error err = {0};
  double t0 = tu_now();
  assert_null(fp_executor_submit_timeout(ex, req, 0.2, &err));
  double took = tu_now() - t0;
  assert_int_equal(err.code, FP_ERR_WOULD_BLOCK);
  assert_true(took >= 0.19);

  fp_error_clear(&err);
  t0 = tu_now();
  assert_null(fp_executor_submit_timeout(ex, req, 0, &err));
  assert_int_equal(err.code, FP_ERR_WOULD_BLOCK);
  assert_true(tu_now() - t0 < 0.5); /* at once (generous: loaded CI, valgrind) */
  assert_false(fp_future_done(a)); /* the queue really was full all along */

  /* with time enough it goes in once a slot frees */
  fp_error_clear(&err);
  fp_future *c = fp_executor_submit_timeout(ex, req, 20.0, &err);
  assert_non_null(c);
  assert_int_equal(err.code, FP_OK);
  assert_true(fp_future_done(a));
  assert_body(c, "c");
  assert_body(b, "b");
  /* with room, timeout 0 goes in at once */
  fp_future *d = fp_executor_submit_timeout(ex, req, 0, NULL);
  assert_non_null(d);
  assert_body(d, "c");
  fp_future_decref(a);
  fp_future_decref(b);
  fp_future_decref(c);
  fp_future_decref(d);
  fp_request_decref(req);
  fp_executor_free(ex);
}

/* ---- batch submit ---- */

/* 1,000 jobs through a queue of 16 in one call: all accepted, in order,
 * each with its own body; the call blocked for room as single submits do. */
static void test_submit_many(void **state) {
  (void)state;
  enum { N = 1000 };
  fp_executor *ex = tu_executor(4, 16, NULL);
  fp_request **reqs = calloc(N, sizeof *reqs);
  fp_future **fs = calloc(N, sizeof *fs);
  for (int i = 0; i < N; i++) {
    char path[32];
    snprintf(path, sizeof path, "/text/%d", i);
    reqs[i] = tu_request("%s", path);
  }
  fp_error err = {0};
  assert_int_equal(fp_executor_submit_many(ex, reqs, N, FP_FOREVER, fs, &err), N);
  assert_int_equal(err.code, FP_OK);
  for (int i = 0; i < N; i++) {
    char want[32];
    snprintf(want, sizeof want, "%d", i);
    assert_body(fs[i], want);
    assert_ptr_equal(fp_future_request(fs[i]), reqs[i]); /* the caller's, referenced */
  }
  tu_decref_all(fs, N);
  for (int i = 0; i < N; i++)
    fp_request_decref(reqs[i]);
  /* n == 0 accepts nothing and is no error */
  assert_int_equal(fp_executor_submit_many(ex, NULL, 0, 0, NULL, &err), 0);
  assert_int_equal(err.code, FP_OK);
  free(reqs);
  free(fs);
  fp_executor_free(ex);
}

/* Under backpressure a timeout accepts a prefix and says why. */
static void test_submit_many_prefix(void **state) {
  (void)state;
  fp_executor *ex = tu_executor(1, 3, NULL);
  fp_future *a = tu_submit(ex, "/delay/600");
  wait_running(a);
  fp_request *reqs[5];
  fp_future *fs[5] = {0};
  for (int i = 0; i < 5; i++)
    reqs[i] = tu_request("%s", "/text/p");
  fp_error err = {0};
  assert_int_equal(fp_executor_submit_many(ex, reqs, 5, 0, fs, &err), 3);
  assert_int_equal(err.code, FP_ERR_WOULD_BLOCK);
  assert_null(fs[3]);
  assert_null(fs[4]);
  /* a timed batch waits for room, then takes the rest */
  fp_error_clear(&err);
  double t0 = tu_now();
  assert_int_equal(fp_executor_submit_many(ex, reqs + 3, 2, 0.1, fs + 3, &err), 0);
  assert_int_equal(err.code, FP_ERR_WOULD_BLOCK);
  assert_true(tu_now() - t0 >= 0.09);
  fp_error_clear(&err);
  assert_int_equal(fp_executor_submit_many(ex, reqs + 3, 2, 20.0, fs + 3, &err), 2);
  assert_int_equal(err.code, FP_OK);
  assert_true(fp_future_done(a));
  for (int i = 0; i < 5; i++)
    assert_body(fs[i], "p");
  /* after shutdown: nothing accepted */
  fp_future *more[2] = {0};
  assert_int_equal(fp_executor_shutdown(ex, true, false), FP_OK);
  fp_error_clear(&err);
  assert_int_equal(fp_executor_submit_many(ex, reqs, 2, 0, more, &err), 0);
  assert_int_equal(err.code, FP_ERR_SHUTDOWN);
  assert_null(more[0]);
  /* a NULL request accepts none */
  fp_executor *ex2 = tu_executor(1, 0, NULL);
  fp_request *with_null[3] = {reqs[0], NULL, reqs[1]};
  fp_error_clear(&err);
  assert_int_equal(fp_executor_submit_many(ex2, with_null, 3, 0, more, &err), 0);
  assert_int_equal(err.code, FP_ERR_INVALID_ARG);
  assert_int_equal(fp_executor_submit_many(NULL, reqs, 1, 0, more, NULL), 0);
  assert_int_equal(fp_executor_submit_many(ex2, reqs, 1, 0, NULL, NULL), 0);
  fp_executor_free(ex2);
  tu_decref_all(fs, 5);
  fp_future_decref(a);
  for (int i = 0; i < 5; i++)
    fp_request_decref(reqs[i]);
  fp_executor_free(ex);
}

/* ---- shutdown ---- */

typedef struct cb_count {
  atomic_int calls;
  pthread_t thread;
} cb_count;

static void count_cb(fp_future *f, void *userdata) {
  (void)f;
  cb_count *c = userdata;
  c->thread = pthread_self();
  atomic_fetch_add(&c->calls, 1);
}

static void test_shutdown_runs_queued(void **state) {
  (void)state;
  enum { N = 6 };
  fp_executor *ex = tu_executor(1, 0, NULL);
  unsigned long base = ts_requests(tu_server);
  fp_future *blocker = tu_submit(ex, "/delay/150");
  fp_future *fs[N];
  for (int i = 0; i < N; i++) {
    char path[32];
    snprintf(path, sizeof path, "/text/q%d", i);
    fs[i] = tu_submit(ex, "%s", path);
  }
  assert_int_equal(fp_executor_shutdown(ex, true, false), FP_OK);
  /* every queued job ran before the waiting shutdown returned */
  assert_int_equal(fp_future_state(blocker), FP_FINISHED);
  for (int i = 0; i < N; i++) {
    assert_int_equal(fp_future_state(fs[i]), FP_FINISHED);
    char want[16];
    snprintf(want, sizeof want, "q%d", i);
    assert_body(fs[i], want);
    fp_future_decref(fs[i]);
  }
  assert_int_equal(ts_requests(tu_server) - base, N + 1);
  fp_future_decref(blocker);
  fp_executor_free(ex);
}

static void test_shutdown_cancels_queued(void **state) {
  (void)state;
  enum { N = 4 };
  fp_executor *ex = tu_executor(1, 0, NULL);
  unsigned long base = ts_requests(tu_server);
  fp_future *running = tu_submit(ex, "/delay/300");
  wait_running(running);
  fp_future *fs[N];
  cb_count counts[N];
  for (int i = 0; i < N; i++) {
    fs[i] = tu_submit(ex, "/text/never");
    atomic_init(&counts[i].calls, 0);
    assert_int_equal(fp_future_add_done_callback(fs[i], count_cb, &counts[i]), FP_OK);
  }
  assert_int_equal(fp_executor_shutdown(ex, true, true), FP_OK);
  assert_int_equal(fp_future_state(running), FP_FINISHED); /* it was let finish */
  assert_body(running, "delayed 300");
  for (int i = 0; i < N; i++) {
    assert_int_equal(fp_future_state(fs[i]), FP_CANCELLED);
    assert_int_equal(atomic_load(&counts[i].calls), 1);
    assert_true(pthread_equal(counts[i].thread, pthread_self())); /* the cancelling thread */
    assert_int_equal(fp_future_result(fs[i], 0, NULL), FP_ERR_CANCELLED);
    fp_future_decref(fs[i]);
  }
  assert_int_equal(ts_requests(tu_server) - base, 1);
  fp_future_decref(running);
  fp_executor_free(ex);
}

/* shutdown(cancel_futures) while idle workers race to drain the queue: a
 * job no transfer was started for ends cancelled (FP_CANCELLED, as one
 * still queued), never "finished" with a cancelled error. Jobs to a
 * refused port end at once, so the 8 workers pop as fast as they can
 * while shutdown sets its flag and then takes the queue. */
static void test_shutdown_cancel_races_workers(void **state) {
  (void)state;
  enum { N = 3000, ROUNDS = 5 };
  unsigned port;
  int filler;
  int lfd = tu_full_listener(&port, &filler);
  close(filler);
  close(lfd); /* now nothing listens there: connections are refused */
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%u/", port);
  fp_future **fs = calloc(N, sizeof *fs);
  assert_non_null(fs);
  for (int round = 0; round < ROUNDS; round++) {
    fp_executor *ex = tu_executor(8, 0, NULL);
    for (int i = 0; i < N; i++)
      fs[i] = tu_submit_url(ex, strdup(url));
    usleep(2000);
    assert_int_equal(fp_executor_shutdown(ex, true, true), FP_OK);
    size_t cancelled = 0, refused = 0;
    for (int i = 0; i < N; i++) {
      fp_state st = fp_future_state(fs[i]);
      if (st == FP_CANCELLED) {
        cancelled++;
      } else {
        assert_int_equal(st, FP_FINISHED);
        const fp_response *resp = fp_future_response(fs[i]);
        assert_non_null(resp);
        if (fp_response_error(resp) != FP_ERR_CONNECT)
          fail_msg("job %d finished with %s, want connect or cancelled", i,
                   fp_code_name(fp_response_error(resp)));
        refused++;
      }
      fp_future_decref(fs[i]);
    }
    assert_int_equal(cancelled + refused, N);
    fp_executor_free(ex);
  }
  free(fs);
}

static void test_shutdown_nowait(void **state) {
  (void)state;
  fp_executor *ex = tu_executor(1, 0, NULL);
  fp_future *a = tu_submit(ex, "/delay/800");
  fp_future *b = tu_submit(ex, "/text/b");
  wait_running(a);
  double t0 = tu_now();
  assert_int_equal(fp_executor_shutdown(ex, false, false), FP_OK);
  assert_true(tu_now() - t0 < 0.5); /* at once: a has 800 ms to go */
  assert_int_equal(fp_future_state(a), FP_RUNNING);
  assert_int_equal(fp_future_state(b), FP_PENDING); /* not cancelled */
  fp_error err = {0};
  assert_null(fp_executor_submit_url(ex, "http://127.0.0.1:1/", &err));
  assert_int_equal(err.code, FP_ERR_SHUTDOWN);
  /* free joins the workers, which drain the queue first */
  fp_executor_free(ex);
  assert_true(tu_now() - t0 >= 0.2);
  assert_int_equal(fp_future_state(a), FP_FINISHED);
  assert_body(b, "b");
  fp_future_decref(a);
  fp_future_decref(b);
}

static void test_shutdown_nowait_cancel(void **state) {
  /* shutdown(wait=false, cancel_futures=true) on a busy pool: returns at
   * once, the queued jobs are cancelled before it returns and never reach
   * the server, the running one finishes, and free joins it */
  (void)state;
  enum { QUEUED = 6 };
  fp_executor *ex = tu_executor(1, 0, NULL);
  unsigned long base = ts_requests(tu_server);
  fp_future *running = tu_submit(ex, "/delay/1000");
  wait_running(running);
  fp_future *queued[QUEUED];
  for (int i = 0; i < QUEUED; i++)
    queued[i] = tu_submit(ex, "/text/never");
  double t0 = tu_now();
  assert_int_equal(fp_executor_shutdown(ex, false, true), FP_OK);
  assert_true(tu_now() - t0 < 0.4 * tu_time_scale()); /* running has 1 s to go */
  for (int i = 0; i < QUEUED; i++) {
    assert_int_equal(fp_future_state(queued[i]), FP_CANCELLED);
    assert_int_equal(fp_future_result(queued[i], 0, NULL), FP_ERR_CANCELLED);
  }
  assert_int_equal(fp_future_state(running), FP_RUNNING);
  fp_error err = {0};
  assert_null(fp_executor_submit_url(ex, "http://127.0.0.1:1/", &err));
  assert_int_equal(err.code, FP_ERR_SHUTDOWN);
  fp_executor_free(ex);
  assert_int_equal(fp_future_state(running), FP_FINISHED);
  assert_body(running, "delayed 1000");
  assert_int_equal(ts_requests(tu_server) - base, 1);
  for (int i = 0; i < QUEUED; i++)
    fp_future_decref(queued[i]);
  fp_future_decref(running);
}

static void test_submit_after_shutdown(void **state) {
  (void)state;
  fp_executor *ex = tu_executor(2, 4, NULL);
  assert_int_equal(fp_executor_shutdown(ex, true, false), FP_OK);
  fp_request *req = tu_request("%s", "/text/late");
  fp_error err = {0};
  assert_null(fp_executor_submit(ex, req, &err));
  assert_int_equal(err.code, FP_ERR_SHUTDOWN);
  fp_error_clear(&err);
  assert_null(fp_executor_submit_timeout(ex, req, 0, &err));
  assert_int_equal(err.code, FP_ERR_SHUTDOWN);
  fp_error_clear(&err);
  assert_null(fp_executor_submit_timeout(ex, req, 1.0, &err));
  assert_int_equal(err.code, FP_ERR_SHUTDOWN);
  fp_error_clear(&err);
  char *url = tu_url("/text/late");
  assert_null(fp_executor_submit_url(ex, url, &err));
  assert_int_equal(err.code, FP_ERR_SHUTDOWN);
  free(url);
  fp_request_decref(req);
  fp_executor_free(ex);
}

typedef struct shutdown_arg {
  fp_executor *ex;
  fp_future *watch[2];
  int rc;
  bool all_done_on_return;
} shutdown_arg;

static void *shutdown_main(void *arg) {
  shutdown_arg *s = arg;
  s->rc = fp_executor_shutdown(s->ex, true, false);
  s->all_done_on_return = fp_future_done(s->watch[0]) && fp_future_done(s->watch[1]);
  return NULL;
}

static void test_shutdown_idempotent_concurrent(void **state) {
  (void)state;
  fp_executor *ex = tu_executor(2, 0, NULL);
  fp_future *a = tu_submit(ex, "/delay/300"), *b = tu_submit(ex, "/delay/200");
  shutdown_arg args[4];
  pthread_t t[4];
  for (int i = 0; i < 4; i++) {
    args[i] = (shutdown_arg){.ex = ex, .watch = {a, b}, .rc = -99};
    assert_int_equal(pthread_create(&t[i], NULL, shutdown_main, &args[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    assert_int_equal(args[i].rc, FP_OK);
    assert_true(args[i].all_done_on_return); /* every caller waited */
  }
  assert_int_equal(fp_executor_shutdown(ex, true, false), FP_OK);
  assert_int_equal(fp_executor_shutdown(ex, false, true), FP_OK);
  assert_int_equal(fp_executor_shutdown(ex, true, true), FP_OK);
  assert_int_equal(fp_executor_shutdown(NULL, true, false), FP_ERR_INVALID_ARG);
  assert_body(a, "delayed 300");
  fp_future_decref(a);
  fp_future_decref(b);
  fp_executor_free(ex);
}

typedef struct from_cb {
  fp_executor *ex;
  int rc_wait;
  int rc_nowait;
  atomic_int calls;
} from_cb;

static void shutdown_cb(fp_future *f, void *userdata) {
  (void)f;
  from_cb *c = userdata;
  c->rc_wait = fp_executor_shutdown(c->ex, true, false);
  c->rc_nowait = fp_executor_shutdown(c->ex, false, false);
  atomic_fetch_add(&c->calls, 1);
}

static void test_shutdown_from_callback(void **state) {
  (void)state;
  fp_executor *ex = tu_executor(2, 0, NULL);
  from_cb c = {.ex = ex, .rc_wait = -99, .rc_nowait = -99};
  atomic_init(&c.calls, 0);
  fp_future *f = tu_submit(ex, "/delay/100");
  assert_int_equal(fp_future_add_done_callback(f, shutdown_cb, &c), FP_OK);
  assert_int_equal(fp_future_wait(f, FP_FOREVER), FP_OK);
  /* waits for the workers, so the callback has returned */
  assert_int_equal(fp_executor_shutdown(ex, true, false), FP_OK);
  assert_int_equal(atomic_load(&c.calls), 1);
  assert_int_equal(c.rc_wait, FP_ERR_WORKER_THREAD);
  assert_int_equal(c.rc_nowait, FP_OK);
  fp_error err = {0};
  assert_null(fp_executor_submit_url(ex, "http://127.0.0.1:1/", &err));
  assert_int_equal(err.code, FP_ERR_SHUTDOWN);
  fp_future_decref(f);
  fp_executor_free(ex);
}

/* ---- misuse from a worker or a done callback: an error, not a deadlock ---- */

enum { MISUSE_CALLS = 13 };

typedef struct misuse {
  fp_executor *ex, *full_ex; /* full_ex: a bounded queue kept full */
  fp_future *slow;           /* not done while the callback runs */
  fp_map *map;               /* its head is slow */
  fp_results *results;       /* never filled */
  fp_request *req;
  int rc[MISUSE_CALLS];
  int poll_rc[3];
  atomic_int calls;
} misuse;

static void misuse_cb(fp_future *f, void *userdata) {
  (void)f;
  misuse *m = userdata;
  fp_future *out = NULL;
  const fp_response *resp = NULL;
  fp_error err = {0};
  int k = 0;
  m->rc[k++] = fp_future_wait(m->slow, FP_FOREVER);
  m->rc[k++] = fp_future_wait(m->slow, 5.0);
  m->rc[k++] = fp_future_result(m->slow, FP_FOREVER, &resp);
  m->rc[k++] = fp_future_outcome(m->slow, FP_FOREVER, NULL);
  m->rc[k++] = fp_future_wait_callbacks(m->slow, FP_FOREVER);
  m->rc[k++] = fp_wait(&m->slow, 1, FP_FOREVER, FP_ALL_COMPLETED, NULL);
  fp_as_completed *it = fp_as_completed_new(&m->slow, 1, NULL);
  m->rc[k++] = fp_as_completed_next(it, FP_FOREVER, &out);
  fp_as_completed_free(it);
  m->rc[k++] = fp_map_next(m->map, FP_FOREVER, &out, NULL);
  m->rc[k++] = fp_results_wait(m->results, 1, FP_FOREVER);
  fp_future *g = fp_executor_submit(m->full_ex, m->req, &err);
  m->rc[k++] = g ? FP_OK : err.code;
  fp_future_decref(g);
  m->rc[k++] = fp_executor_shutdown(m->ex, true, false);
  m->rc[k++] = fp_executor_free(m->ex);
  m->rc[k++] = fp_executor_free(m->full_ex);
  /* polls are allowed */
  m->poll_rc[0] = fp_future_wait(m->slow, 0);
  m->poll_rc[1] = fp_wait(&m->slow, 1, 0, FP_ALL_COMPLETED, NULL);
  fp_error poll_err = {0};
  fp_future *h = fp_executor_submit_timeout(m->full_ex, m->req, 0, &poll_err);
  m->poll_rc[2] = h ? FP_OK : poll_err.code;
  fp_future_decref(h);
  atomic_fetch_add(&m->calls, 1);
}

static void check_misuse(const misuse *m) {
  assert_int_equal(atomic_load(&m->calls), 1);
  for (int k = 0; k < MISUSE_CALLS; k++) {
    if (m->rc[k] != FP_ERR_WORKER_THREAD)
      fail_msg("call %d returned %d (%s), not worker_thread", k, m->rc[k], fp_code_name(m->rc[k]));
  }
  assert_int_equal(m->poll_rc[0], FP_ERR_WAIT_TIMEOUT);
  assert_int_equal(m->poll_rc[1], FP_ERR_WAIT_TIMEOUT);
  assert_int_equal(m->poll_rc[2], FP_ERR_WOULD_BLOCK);
}

static void misuse_setup(misuse *m) {
  memset(m, 0, sizeof *m);
  atomic_init(&m->calls, 0);
  m->ex = tu_executor(3, 0, NULL); /* slow, the map's head, and the trigger */
  m->full_ex = tu_executor(1, 1, NULL);
  m->req = tu_request("%s", "/text/m");
  /* slow enough to outlast the setup and the callback under valgrind */
  int slow_ms = (int)(800 * tu_time_scale());
  m->slow = tu_submit(m->ex, "/delay/%d", slow_ms);
  char slow_path[32];
  snprintf(slow_path, sizeof slow_path, "/delay/%d", slow_ms);
  fp_request *slow_req = tu_request("%s", slow_path);
  m->map = fp_executor_map(m->ex, &slow_req, 1, 1, NULL);
  fp_request_decref(slow_req);
  assert_non_null(m->map);
  m->results = fp_results_new(1);
  /* full_ex: one running, one queued: full */
  fp_future *a = tu_submit(m->full_ex, "/delay/%d", slow_ms);
  wait_running(a);
  fp_future_decref(a);
  fp_future_decref(tu_submit(m->full_ex, "/text/queued"));
}

static void misuse_teardown(misuse *m) {
  fp_map_free(m->map);
  fp_future_decref(m->slow);
  fp_request_decref(m->req);
  fp_executor_free(m->full_ex);
  fp_executor_free(m->ex);
  fp_results_free(m->results);
}

/* From a done callback on a worker thread: every blocking call refuses
 * (before 0.2.0, fp_executor_free there joined its own thread forever). */
static void test_misuse_from_worker_callback(void **state) {
  (void)state;
  misuse m;
  misuse_setup(&m);
  fp_future *f = tu_submit(m.ex, "/text/trigger");
  assert_int_equal(fp_future_add_done_callback(f, misuse_cb, &m), FP_OK);
  /* the callback has run once the workers are done (shutdown waits) */
  assert_int_equal(fp_future_wait(f, FP_FOREVER), FP_OK);
  assert_int_equal(fp_future_wait_callbacks(f, FP_FOREVER), FP_OK);
  check_misuse(&m);
  fp_future_decref(f);
  misuse_teardown(&m);
}

/* From a done callback in a non-worker thread (a cancel runs it): the
 * same refusals, since the caller of cancel may be inside a library
 * call (shutdown's cancel) that the callback would pull out from under. */
static void test_misuse_from_cancel_callback(void **state) {
  (void)state;
  misuse m;
  misuse_setup(&m);
  fp_executor *one = tu_executor(1, 0, NULL);
  fp_future *blocker = tu_submit(one, "/delay/300");
  fp_future *queued = tu_submit(one, "/text/never");
  assert_int_equal(fp_future_add_done_callback(queued, misuse_cb, &m), FP_OK);
  assert_true(fp_future_cancel(queued)); /* runs misuse_cb here, at once */
  check_misuse(&m);
  fp_future_decref(blocker);
  fp_future_decref(queued);
  fp_executor_free(one);
  misuse_teardown(&m);
}

/* From a worker initializer (a worker thread, no callback). */
static int free_other_init(void *arg, size_t index) {
  (void)index;
  misuse *m = arg;
  m->rc[0] = fp_executor_free(m->ex);
  m->rc[1] = fp_future_wait(m->slow, FP_FOREVER);
  return 0;
}

static void test_misuse_from_initializer(void **state) {
  (void)state;
  misuse m = {0};
  m.ex = tu_executor(1, 0, NULL);
  m.slow = tu_submit(m.ex, "/delay/300");
  fp_executor_options opts;
  fp_executor_options_init(&opts);
  opts.threads = 1;
  opts.initializer = free_other_init;
  opts.initializer_arg = &m;
  fp_executor *ex = fp_executor_new(&opts, NULL);
  assert_non_null(ex);
  assert_int_equal(m.rc[0], FP_ERR_WORKER_THREAD);
  assert_int_equal(m.rc[1], FP_ERR_WORKER_THREAD);
  assert_int_equal(fp_executor_free(ex), FP_OK);
  fp_future_decref(m.slow);
  assert_int_equal(fp_executor_free(m.ex), FP_OK); /* it was not freed */
}

/* The crawler pattern: a callback submits follow-ups to an unbounded
 * queue, which never blocks, so it is allowed. */
typedef struct crawl {
  fp_executor *ex;
  fp_request *next;
  atomic_int depth;
  fp_future *children[4];
} crawl;

static void crawl_cb(fp_future *f, void *userdata) {
  (void)f;
  crawl *c = userdata;
  int d = atomic_fetch_add(&c->depth, 1);
  if (d >= 4)
    return;
  fp_future *child = fp_executor_submit(c->ex, c->next, NULL);
  assert_non_null(child);
  c->children[d] = child;
  fp_future_add_done_callback(child, crawl_cb, c);
}

static void test_submit_from_callback_unbounded(void **state) {
  (void)state;
  crawl c = {.ex = tu_executor(2, 0, NULL), .next = tu_request("%s", "/text/child")};
  atomic_init(&c.depth, 0);
  fp_future *root = tu_submit(c.ex, "/text/root");
  assert_int_equal(fp_future_add_done_callback(root, crawl_cb, &c), FP_OK);
  double end = tu_now() + 10 * tu_time_scale();
  while (atomic_load(&c.depth) < 5 && tu_now() < end)
    usleep(1000);
  assert_int_equal(atomic_load(&c.depth), 5);
  assert_int_equal(fp_executor_shutdown(c.ex, true, false), FP_OK);
  for (int i = 0; i < 4; i++) {
    assert_body(c.children[i], "child");
    fp_future_decref(c.children[i]);
  }
  fp_future_decref(root);
  fp_request_decref(c.next);
  fp_executor_free(c.ex);
}

static void test_shutdown_releases_blocked_submitter(void **state) {
  (void)state;
  fp_executor *ex = tu_executor(1, 1, NULL);
  fp_future *a = tu_submit(ex, "/delay/800");
  wait_running(a);
  fp_future *b = tu_submit(ex, "/text/b"); /* full */
  blocked_submit c = {.ex = ex, .req = tu_request("%s", "/text/c"), .watch = a};
  atomic_init(&c.returned, false);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, blocked_submit_main, &c), 0);
  usleep(100 * 1000);
  assert_false(atomic_load(&c.returned));
  assert_int_equal(fp_executor_shutdown(ex, false, false), FP_OK);
  pthread_join(t, NULL);
  assert_null(c.f);
  assert_int_equal(c.err.code, FP_ERR_SHUTDOWN);
  assert_false(c.watch_done_on_return); /* released by the shutdown, not a slot */
  fp_executor_free(ex);
  assert_body(b, "b");
  fp_future_decref(a);
  fp_future_decref(b);
  fp_request_decref(c.req);
}

static void test_invalid_args(void **state) {
  (void)state;
  fp_executor *ex = tu_executor(1, 0, NULL);
  fp_error err = {0};
  assert_null(fp_executor_submit(ex, NULL, &err));
  assert_int_equal(err.code, FP_ERR_INVALID_ARG);
  fp_error_clear(&err);
  assert_null(fp_executor_submit_url(ex, NULL, &err));
  assert_int_equal(err.code, FP_ERR_INVALID_ARG);
  fp_request *req = tu_request("%s", "/text/x");
  fp_error_clear(&err);
  assert_null(fp_executor_submit(NULL, req, &err));
  assert_int_equal(err.code, FP_ERR_INVALID_ARG);
  fp_request_decref(req);
  fp_executor_free(ex);
  fp_executor_free(NULL);
}

/* ---- load ---- */

static void test_2000_jobs_64_threads(void **state) {
  (void)state;
  enum { N = 2000 };
  fp_executor *ex = tu_executor(64, 0, NULL);
  unsigned long base = ts_requests(tu_server);
  fp_future **fs = calloc(N, sizeof *fs);
  assert_non_null(fs);
  for (int i = 0; i < N; i++) {
    char path[32];
    snprintf(path, sizeof path, "/text/%d", i);
    fs[i] = tu_submit(ex, "%s", path);
  }
  for (int i = 0; i < N; i++) {
    char want[16];
    snprintf(want, sizeof want, "%d", i);
    assert_body(fs[i], want);
    fp_future_decref(fs[i]);
  }
  assert_int_equal(ts_requests(tu_server) - base, N);
  free(fs);
  fp_executor_free(ex);
}

static void test_connection_reuse(void **state) {
  (void)state;
  enum { N = 400, THREADS = 8 };
  fp_executor *ex = tu_executor(THREADS, 0, NULL);
  unsigned long conns = ts_connections(tu_server);
  fp_future **fs = calloc(N, sizeof *fs);
  assert_non_null(fs);
  for (int i = 0; i < N; i++)
    fs[i] = tu_submit(ex, "/hello");
  for (int i = 0; i < N; i++) {
    assert_body(fs[i], "hello");
    fp_future_decref(fs[i]);
  }
  unsigned long used = ts_connections(tu_server) - conns;
  print_message("connection reuse: %lu connections for %d requests\n", used, N);
  assert_true(used >= 1);
  assert_true(used <= THREADS + 2);
  free(fs);
  fp_executor_free(ex);
}

static void test_jobs_run_concurrently(void **state) {
  (void)state;
  enum { N = 100, THREADS = 50 };
  fp_executor *ex = tu_executor(THREADS, 0, NULL);
  fp_future **fs = calloc(N, sizeof *fs);
  assert_non_null(fs);
  double t0 = tu_now();
  for (int i = 0; i < N; i++)
    fs[i] = tu_submit(ex, "/delay/200");
  assert_int_equal(fp_wait(fs, N, 30.0, FP_ALL_COMPLETED, NULL), FP_OK);
  double took = tu_now() - t0;
  print_message("100 x 200 ms on 50 threads: %.3f s\n", took);
  /* one at a time would take 20 s; 50 at a time 0.4 s */
  assert_true(took >= 0.39);
  assert_true(took < 2.0 * tu_time_scale()); /* stretched under valgrind and sanitizers */
  for (int i = 0; i < N; i++) {
    assert_body(fs[i], "delayed 200");
    fp_future_decref(fs[i]);
  }
  free(fs);
  fp_executor_free(ex);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      TU_TEST(test_first_executors_at_once), /* first: the process's first curl use */
      TU_TEST(test_idle_workers_sleep),
      TU_TEST(test_options_size_is_fixed),
      TU_TEST(test_default_threads),
      TU_TEST(test_share_dns),
      TU_TEST(test_names_initializer_signals),
      TU_TEST(test_name_prefix_default_and_cut),
      TU_TEST(test_initializer_failure),
      TU_TEST(test_submit_from_many_threads),
      TU_TEST(test_fifo_one_thread),
      TU_TEST(test_queue_capacity_blocks),
      TU_TEST(test_submit_timeout),
      TU_TEST(test_submit_many),
      TU_TEST(test_submit_many_prefix),
      TU_TEST(test_shutdown_runs_queued),
      TU_TEST(test_shutdown_cancels_queued),
      TU_TEST(test_shutdown_cancel_races_workers),
      TU_TEST(test_shutdown_nowait),
      TU_TEST(test_shutdown_nowait_cancel),
      TU_TEST(test_submit_after_shutdown),
      TU_TEST(test_shutdown_idempotent_concurrent),
      TU_TEST(test_shutdown_from_callback),
      TU_TEST(test_shutdown_releases_blocked_submitter),
      TU_TEST(test_misuse_from_worker_callback),
      TU_TEST(test_misuse_from_cancel_callback),
      TU_TEST(test_misuse_from_initializer),
      TU_TEST(test_submit_from_callback_unbounded),
      TU_TEST(test_invalid_args),
      TU_TEST(test_2000_jobs_64_threads),
      TU_TEST(test_connection_reuse),
      TU_TEST(test_jobs_run_concurrently),
  };
  return cmocka_run_group_tests_name("executor", tests, tu_setup_server, tu_teardown_server);
}
