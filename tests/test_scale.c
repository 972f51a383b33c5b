/* Scale-out through Redis Streams: fetchpool enqueue, worker, status and
 * results against a real redis-server this suite starts on a loopback
 * port (append-only file, fsync always, so a restart keeps every entry),
 * and the test HTTP server. Workers are real fetchpool processes, killed
 * and restarted as a crash or an operator would. */
#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <spawn.h>

#include "cli_harness.h"

#define REDIS_SERVER "/usr/bin/redis-server"

static pid_t redis_pid;
static unsigned redis_port;
static char redis_url[64];
static char *redis_dir;

/* ------------------------------------------------------------- redis */

static redisContext *redis_connect(void) {
  struct timeval tv = {2, 0};
  redisContext *c = redisConnectWithTimeout("127.0.0.1", (int)redis_port, tv);
  if (c && c->err) {
    redisFree(c);
    return NULL;
  }
  return c;
}

/* One command on a fresh connection; the test fails on an error reply. */
static redisReply *rcmd(const char *fmt, ...) {
  redisContext *c = redis_connect();
  assert_non_null(c);
  va_list ap;
  va_start(ap, fmt);
  redisReply *r = redisvCommand(c, fmt, ap);
  va_end(ap);
  assert_non_null(r);
  if (r->type == REDIS_REPLY_ERROR)
    fail_msg("redis: %s", r->str);
  redisFree(c);
  return r;
}

static long long rint_cmd(const char *fmt, const char *a, const char *b) {
  redisReply *r = rcmd(fmt, a, b);
  assert_int_equal(r->type, REDIS_REPLY_INTEGER);
  long long v = r->integer;
  freeReplyObject(r);
  return v;
}

/* Jobs delivered and not acknowledged; 0 before a worker made the group. */
static long long pending_total(const char *stream, const char *group) {
  redisContext *c = redis_connect();
  assert_non_null(c);
  redisReply *r = redisCommand(c, "XPENDING %s %s", stream, group);
  assert_non_null(r);
  long long v = 0;
  if (r->type == REDIS_REPLY_ARRAY)
    v = r->element[0]->integer;
  else if (r->type != REDIS_REPLY_ERROR || strncmp(r->str, "NOGROUP", 7))
    fail_msg("XPENDING: unexpected reply");
  freeReplyObject(r);
  redisFree(c);
  return v;
}

/* A PING on a fresh connection: 1 for PONG, 0 for a BUSY reply (a script
 * holds the server), -1 for anything else (no server yet). */
static int ping(void) {
  redisContext *c = redis_connect();
  redisReply *r = c ? redisCommand(c, "PING") : NULL;
  int got = !r ? -1
            : r->type == REDIS_REPLY_STATUS                                     ? 1
            : r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "BUSY", 4) ? 0
                                                                             : -1;
  freeReplyObject(r);
  redisFree(c);
  return got;
}

static void redis_start(void) {
  char port[16], *log = NULL;
  snprintf(port, sizeof port, "%u", redis_port);
  assert_true(asprintf(&log, "%s/redis.log", redis_dir) > 0);
  const char *argv[] = {REDIS_SERVER, "--port", port, "--bind", "127.0.0.1", "--save", "",
                        "--appendonly", "yes", "--appendfsync", "always", "--dir", redis_dir,
                        "--logfile", log, "--daemonize", "no", NULL};
  int rc = posix_spawn(&redis_pid, REDIS_SERVER, NULL, NULL, (char *const *)argv, environ);
  free(log);
  if (rc)
    fail_msg("cannot start %s (apt-get install redis-server): %s", REDIS_SERVER, strerror(rc));
  for (int i = 0; i < 100; i++) { /* up to 5 s */
    if (ping() == 1)
      return;
    usleep(50000);
  }
  fail_msg("redis-server did not answer on port %u", redis_port);
}

static void redis_stop(void) {
  if (redis_pid <= 0)
    return;
  kill(redis_pid, SIGTERM);
  int st;
  for (int i = 0; i < 200 && waitpid(redis_pid, &st, WNOHANG) == 0; i++)
    usleep(25000);
  if (waitpid(redis_pid, &st, WNOHANG) == 0) {
    kill(redis_pid, SIGKILL);
    waitpid(redis_pid, &st, 0);
  }
  redis_pid = 0;
}

static int setup(void **state) {
  if (setup_suite(state))
    return -1;
  assert_true(asprintf(&redis_dir, "%s/redis", tmpdir) > 0);
  mkdir(redis_dir, 0700);
  redis_port = closed_port();
  snprintf(redis_url, sizeof redis_url, "redis://127.0.0.1:%u", redis_port);
  redis_start();
  return 0;
}

static int teardown(void **state) {
  redis_stop();
  free(redis_dir);
  return teardown_suite(state);
}

static int clean(void **state) {
  freeReplyObject(rcmd("FLUSHALL"));
  return tu_setup_test(state);
}

#define SCALE_TEST(fn) cmocka_unit_test_setup_teardown(fn, clean, tu_teardown_test)

/* ---------------------------------------------------------- children */

typedef struct child {
  pid_t pid;
  char *log; /* its stdout and stderr */
} child;

/* Start fetchpool with args (NULL-terminated) in the background. */
static child spawn(const char *const *args, const char *name) {
  const char *argv[40];
  size_t argc = 0;
  argv[argc++] = program();
  for (; *args; args++)
    argv[argc++] = *args;
  argv[argc] = NULL;
  child c = {0};
  c.log = tmp_path(name);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, c.log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawnattr_t attr;
  sigset_t dfl;
  posix_spawnattr_init(&attr);
  sigemptyset(&dfl);
  sigaddset(&dfl, SIGPIPE);
  sigaddset(&dfl, SIGINT);
  sigaddset(&dfl, SIGTERM);
  sigaddset(&dfl, SIGHUP);
  posix_spawnattr_setsigdefault(&attr, &dfl);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
  int rc = posix_spawn(&c.pid, argv[0], &fa, &attr, (char *const *)argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc)
    fail_msg("cannot run %s: %s", argv[0], strerror(rc));
  return c;
}

#define SPAWN(name, ...) spawn(ARGS(__VA_ARGS__), name)

/* Wait up to seconds (stretched under sanitizers) for c to exit; kill it
 * and fail past that. Returns its exit status (128 + signal). */
static int wait_child(child *c, double seconds) {
  int st = 0;
  double end = tu_now() + seconds * tu_time_scale();
  while (waitpid(c->pid, &st, WNOHANG) == 0) {
    if (tu_now() > end) {
      kill(c->pid, SIGKILL);
      waitpid(c->pid, &st, 0);
      size_t len = 0;
      char *log = read_file(c->log, &len);
      fail_msg("%s still running after %.0f s; its output:\n%.3000s", c->log, seconds,
               log ? log : "");
    }
    usleep(20000);
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static char *child_log(const child *c) {
  size_t len = 0;
  char *log = read_file(c->log, &len);
  assert_non_null(log);
  return log;
}

static void child_free(child *c) { free(c->log); }

/* Wait for c (bounded) and fail, showing its output, unless it exits with
 * status want. */
static void assert_exit(child *c, double seconds, int want) {
  int got = wait_child(c, seconds);
  if (got != want) {
    char *log = child_log(c);
    fail_msg("%s exited %d, not %d; its output:\n%.3000s", c->log, got, want, log);
  }
}

/* Wait (bounded) until the results stream holds at least n records. */
static void wait_results(const char *results, long long n, double seconds) {
  double end = tu_now() + seconds * tu_time_scale();
  while (rint_cmd("XLEN %s", results, NULL) < n) {
    if (tu_now() > end)
      fail_msg("fewer than %lld records in %s after %.0f s", n, results, seconds);
    usleep(20000);
  }
}

/* Write n job lines for path (each URL distinct) and enqueue them. */
static void enqueue_jobs(const char *stream, const char *path, size_t n) {
  size_t cap = n * 128 + 1, len = 0;
  char *lines = malloc(cap);
  for (size_t i = 0; i < n; i++) {
    char *url = tu_url("%s%sjob=%zu", path, strchr(path, '?') ? "&" : "?", i);
    len += (size_t)snprintf(lines + len, cap - len, "%s\n", url);
    free(url);
  }
  char *file = write_tmp("jobs.txt", lines, len);
  run r;
  RUN(&r, NULL, "enqueue", "--redis", redis_url, "--stream", stream, file);
  assert_int_equal(r.status, 0);
  char expect[128];
  snprintf(expect, sizeof expect, "enqueued %zu jobs to stream %s\n", n, stream);
  assert_string_equal(r.out, expect);
  run_free(&r);
  free(lines);
  free(file);
}

/* fetchpool results: its records, every job_id once. */
static json_t *results_of(const char *stream) {
  run r;
  RUN(&r, NULL, "results", "--redis", redis_url, "--stream", stream);
  assert_int_equal(r.status, 0);
  json_t *recs = records(&r);
  run_free(&r);
  return recs;
}

static int cmp_json_str(const void *a, const void *b) {
  return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

/* Every record names a distinct job of the stream, and every job has one:
 * the job_ids of recs are exactly the stream's entry ids. */
static void assert_one_record_per_job(json_t *recs, const char *stream, size_t n) {
  assert_int_equal(json_array_size(recs), n);
  json_t **ids = calloc(n, sizeof *ids);
  size_t i;
  json_t *rec;
  json_array_foreach(recs, i, rec) {
    ids[i] = json_object_get(rec, "job_id");
    assert_true(json_is_string(ids[i]));
  }
  qsort(ids, n, sizeof *ids, cmp_json_str);
  redisReply *all = rcmd("XRANGE %s - +", stream);
  assert_int_equal(all->elements, n);
  const char **entry_ids = calloc(n, sizeof *entry_ids);
  for (i = 0; i < n; i++)
    entry_ids[i] = all->element[i]->element[0]->str;
  qsort(entry_ids, n, sizeof *entry_ids, cmp_str);
  for (i = 0; i < n; i++)
    assert_string_equal(json_string_value(ids[i]), entry_ids[i]);
  freeReplyObject(all);
  free(entry_ids);
  free(ids);
}


/* Redis's clock in milliseconds (the clock of stream entry ids). */
static long long redis_ms(void) {
  redisReply *t = rcmd("TIME");
  assert_int_equal(t->elements, 2);
  long long ms = atoll(t->element[0]->str) * 1000 + atoll(t->element[1]->str) / 1000;
  freeReplyObject(t);
  return ms;
}

/* The value of field name in a stream entry's [field, value, ...]. */
static const char *entry_field(const redisReply *fields, const char *name) {
  for (size_t k = 0; k + 1 < fields->elements; k += 2)
    if (!strcmp(fields->element[k]->str, name))
      return fields->element[k + 1]->str;
  fail_msg("no field %s in the entry", name);
  return NULL;
}

/* Wait (bounded) until the group holds at least n pending jobs. */
static void wait_pending(const char *stream, long long n, double seconds) {
  double end = tu_now() + seconds * tu_time_scale();
  while (pending_total(stream, "fetchpool") < n) {
    if (tu_now() > end)
      fail_msg("fewer than %lld jobs of %s pending after %.0f s", n, stream, seconds);
    usleep(10000);
  }
}

/* fetchpool status --json with the extra args (NULL-terminated). */
static json_t *status_of(const char *stream, const char *const *extra) {
  const char *args[16] = {"status", "--redis", redis_url, "--stream", stream, "--json"};
  size_t n = 6;
  for (; extra && *extra; extra++) {
    assert_true(n < 15);
    args[n++] = *extra;
  }
  args[n] = NULL;
  run r;
  run_cli(&r, NULL, 0, args);
  if (r.status != 0)
    fail_msg("status exited %d: %s", r.status, r.err);
  json_t *st = json_loads(r.out, 0, NULL);
  assert_non_null(st);
  run_free(&r);
  return st;
}

/* The job counts of a `status --json` object. */
typedef struct status_counts {
  json_int_t jobs, delivered, pending, acked, undelivered, results;
} status_counts;

static void assert_status_counts(json_t *st, status_counts want) {
  assert_int_equal(num(st, "jobs"), want.jobs);
  assert_int_equal(num(st, "delivered"), want.delivered);
  assert_int_equal(num(st, "pending"), want.pending);
  assert_int_equal(num(st, "acked"), want.acked);
  assert_int_equal(num(st, "undelivered"), want.undelivered);
  assert_int_equal(num(st, "results"), want.results);
}

static bool sanitized(void) {
  const char *build = getenv("FP_TEST_BUILD");
  return build && strstr(build, "san");
}

/* ------------------------------------------------------------- tests */

static void test_usage(void **state) {
  run r;
  RUN(&r, NULL, "worker", "--help");
  assert_int_equal(r.status, 0);
  assert_true(contains(r.out, "--claim-idle") && contains(r.out, "--until-empty"));
  run_free(&r);
  RUN(&r, NULL, "--help");
  assert_true(contains(r.out, "fetchpool worker"));
  run_free(&r);
  static const struct {
    const char *args[6];
    const char *expect;
  } bad[] = {
      {{"worker", "--redis", "http://127.0.0.1/"}, "invalid Redis URL"},
      {{"worker", "--redis", "redis://127.0.0.1:99999"}, "port"},
      /* the password is not shown */
      {{"worker", "--redis", "redis://:s3cret@127.0.0.1:99999"}, "'redis://***@127.0.0.1:99999'"},
      {{"worker", "--ordered"}, "option '--ordered' does not apply to fetchpool worker"},
      {{"worker", "urls.txt"}, "takes no FILE"},
      {{"status", "-t", "4"}, "option '-t' does not apply to fetchpool status"},
      {{"enqueue", "--group", "g"}, "does not apply to fetchpool enqueue"},
      {{"--redis", "redis://127.0.0.1"}, "option '--redis' does not apply to fetchpool"},
      {{"worker", "--claim-idle", "0"}, "invalid --claim-idle"},
      {{"worker", "--stream", ""}, "invalid --stream"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    run_cli(&r, NULL, 0, bad[i].args);
    if (r.status != 2 || !contains(r.err, bad[i].expect) || contains(r.err, "s3cret"))
      fail_msg("case %zu: status %d, stderr: %s", i, r.status, r.err);
    assert_int_equal(r.out_len, 0);
    run_free(&r);
  }
  /* a server that is not there: one line, exit 2 */
  char url[64];
  snprintf(url, sizeof url, "redis://127.0.0.1:%u", closed_port());
  RUN(&r, NULL, "status", "--redis", url);
  assert_int_equal(r.status, 2);
  assert_true(contains(r.err, "cannot connect to Redis"));
  run_free(&r);
}

static void test_enqueue_work_status_results(void **state) {
  enqueue_jobs("s1", "/hello", 300);
  run r;
  RUN(&r, NULL, "status", "--redis", redis_url, "--stream", "s1", "--json");
  assert_int_equal(r.status, 0);
  json_t *st = json_loads(r.out, 0, NULL);
  assert_non_null(st);
  assert_int_equal(num(st, "jobs"), 300);
  assert_true(json_is_false(json_object_get(st, "group_exists")));
  json_decref(st);
  run_free(&r);

  RUN(&r, NULL, "worker", "--redis", redis_url, "--stream", "s1", "--consumer", "only", "-t",
      "8", "--until-empty", "--body");
  assert_int_equal(r.status, 0);
  assert_true(contains(r.err, "300 jobs: 300 ok"));
  run_free(&r);

  json_t *recs = results_of("s1");
  assert_one_record_per_job(recs, "s1", 300);
  size_t i;
  json_t *rec;
  json_array_foreach(recs, i, rec) {
    assert_true(json_is_true(json_object_get(rec, "ok")));
    assert_int_equal(num(rec, "status"), 200);
    assert_string_equal(str(rec, "body"), "hello");
    assert_string_equal(str(rec, "consumer"), "only");
  }
  /* the index is the line's number in the enqueued input */
  json_t *seen = json_object();
  json_array_foreach(recs, i, rec) {
    char key[24];
    snprintf(key, sizeof key, "%lld", (long long)num(rec, "index"));
    json_object_set_new(seen, key, json_true());
  }
  assert_int_equal(json_object_size(seen), 300);
  assert_non_null(json_object_get(seen, "0"));
  assert_non_null(json_object_get(seen, "299"));
  json_decref(seen);
  json_decref(recs);

  st = status_of("s1", NULL);
  assert_status_counts(st, (status_counts){.jobs = 300, .delivered = 300, .pending = 0,
                                           .acked = 300, .undelivered = 0, .results = 300});
  json_t *cons = json_object_get(st, "consumers");
  assert_int_equal(json_array_size(cons), 1);
  assert_string_equal(str(json_array_get(cons, 0), "name"), "only");
  assert_int_equal(num(json_array_get(cons, 0), "pending"), 0);
  json_decref(st);
  RUN(&r, NULL, "status", "--redis", redis_url, "--stream", "s1");
  assert_true(contains(r.out, "stream s1: 300 jobs"));
  assert_true(contains(r.out, "consumer only: 0 pending"));
  assert_true(contains(r.out, "results s1:results: 300 records"));
  run_free(&r);
}

static void test_bad_entries_are_records(void **state) {
  char *good = tu_url("/hello");
  freeReplyObject(rcmd("XADD bad * other field"));
  freeReplyObject(rcmd("XADD bad * job %s index 1", "{\"url\": "));
  freeReplyObject(rcmd("XADD bad * job %s index 2", "{\"method\": \"GET\"}"));
  freeReplyObject(rcmd("XADD bad * job %s index 3", "ftp://127.0.0.1/file"));
  freeReplyObject(rcmd("XADD bad * job %s index 4", good));
  run r;
  RUN(&r, NULL, "worker", "--redis", redis_url, "--stream", "bad", "--until-empty");
  assert_int_equal(r.status, 0); /* failed jobs are records: the group is done */
  assert_true(contains(r.err, "5 jobs: 1 ok, 4 failed"));
  run_free(&r);
  assert_int_equal(pending_total("bad", "fetchpool"), 0); /* all acked: no poison pill */
  json_t *recs = results_of("bad");
  assert_one_record_per_job(recs, "bad", 5);
  const char *expect[] = {"invalid_request", "invalid_json", "invalid_url",
                          "unsupported_protocol", NULL};
  size_t i;
  json_t *rec;
  json_array_foreach(recs, i, rec) {
    json_int_t index = num(rec, "index");
    assert_true(index >= 0 && index <= 4);
    if (expect[index])
      assert_string_equal(error_code(rec), expect[index]);
    else
      assert_true(json_is_true(json_object_get(rec, "ok")));
  }
  json_decref(recs);
  free(good);

  /* a results key that is no stream will not heal: say so, exit 2 */
  freeReplyObject(rcmd("SET notastream x"));
  RUN(&r, NULL, "worker", "--redis", redis_url, "--stream", "bad", "--results-stream",
      "notastream", "--until-empty");
  assert_int_equal(r.status, 2);
  assert_true(contains(r.err, "results key notastream holds a string, not a stream"));
  run_free(&r);
}

static void test_enqueue_constant_memory(void **state) {
  /* 200,000 lines (8 MiB of input) are enqueued in pipelined batches:
   * the enqueuer's memory does not grow with the input */
  const size_t n = 200000;
  char *one = tu_url("/hello?job=0000000");
  size_t len = strlen(one) + 1;
  char *lines = malloc(len * n);
  for (size_t i = 0; i < n; i++) {
    memcpy(lines + i * len, one, len - 1);
    lines[i * len + len - 1] = '\n';
  }
  char *file = write_tmp("many.txt", lines, len * n);
  run r;
  RUN_MEASURED(&r, NULL, "enqueue", "--redis", redis_url, "--stream", "many", file);
  assert_int_equal(r.status, 0);
  assert_string_equal(r.out, "enqueued 200000 jobs to stream many\n");
  assert_int_equal(rint_cmd("XLEN %s", "many", NULL), (long long)n);
  /* sanitizers add shadow memory: the bound is for a plain build */
  if (!sanitized() && r.maxrss_kb > 16 * 1024)
    fail_msg("enqueue of %zu lines peaked at %ld KiB", n, r.maxrss_kb);
  run_free(&r);
  /* an input that cannot be read: one line, exit 2, nothing added */
  RUN(&r, NULL, "enqueue", "--redis", redis_url, "--stream", "none", "/nonexistent/jobs.txt");
  assert_int_equal(r.status, 2);
  assert_true(contains(r.err, "/nonexistent/jobs.txt"));
  assert_int_equal(rint_cmd("EXISTS %s", "none", NULL), 0);
  run_free(&r);
  free(one), free(lines), free(file);
}

/* Record counts per job_id of the raw results stream (duplicates kept). */
static json_t *raw_counts(const char *results) {
  json_t *counts = json_object();
  redisReply *all = rcmd("XRANGE %s - +", results);
  for (size_t i = 0; i < all->elements; i++) {
    redisReply *fields = all->element[i]->element[1];
    for (size_t k = 0; k + 1 < fields->elements; k += 2)
      if (!strcmp(fields->element[k]->str, "job_id")) {
        const char *id = fields->element[k + 1]->str;
        json_object_set_new(counts, id,
                            json_integer(json_integer_value(json_object_get(counts, id)) + 1));
      }
  }
  freeReplyObject(all);
  return counts;
}

static void test_kill9_one_of_three(void **state) {
  /* 20,000 jobs of 10 ms on three workers; one is killed mid-run. Its
   * jobs are taken over after --claim-idle; only those it held may have
   * two records, and results prints each job once. */
  const size_t n = sanitized() ? 4000 : 20000;
  enqueue_jobs("big", "/delay/10", n);
  child w[3];
  const char *names[3] = {"w0", "w1", "w2"};
  for (int i = 0; i < 3; i++)
    w[i] = spawn(ARGS("worker", "--redis", redis_url, "--stream", "big", "--consumer",
                      names[i], "-t", "32", "--claim-idle", "1", "--until-empty"),
                 names[i]);
  wait_results("big:results", (long long)n / 4, 60);
  kill(w[2].pid, SIGKILL);
  assert_int_equal(wait_child(&w[2], 10), 128 + SIGKILL);
  /* what the dead worker held: the only jobs that may run twice */
  redisReply *held = rcmd("XPENDING big fetchpool - + 100000 w2");
  json_t *held_ids = json_object();
  for (size_t i = 0; i < held->elements; i++)
    json_object_set_new(held_ids, held->element[i]->element[0]->str, json_true());
  freeReplyObject(held);
  assert_true(json_object_size(held_ids) > 0);

  assert_int_equal(wait_child(&w[0], 120), 0);
  assert_int_equal(wait_child(&w[1], 120), 0);
  char *log = child_log(&w[0]);
  char *log1 = child_log(&w[1]);
  assert_true(contains(log, "took over") || contains(log1, "took over"));
  free(log), free(log1);
  assert_int_equal(pending_total("big", "fetchpool"), 0);

  json_t *counts = raw_counts("big:results");
  assert_int_equal(json_object_size(counts), n);
  const char *id;
  json_t *c;
  size_t dups = 0;
  json_object_foreach(counts, id, c) {
    if (json_integer_value(c) > 1) {
      dups++;
      if (json_integer_value(c) != 2 || !json_object_get(held_ids, id))
        fail_msg("job %s has %lld records and was %s by the killed worker", id,
                 (long long)json_integer_value(c),
                 json_object_get(held_ids, id) ? "held" : "not held");
    }
  }
  assert_true(dups <= json_object_size(held_ids));
  json_decref(counts);
  json_decref(held_ids);

  json_t *recs = results_of("big");
  assert_one_record_per_job(recs, "big", n);
  size_t i;
  json_t *rec;
  json_array_foreach(recs, i, rec) {
    if (!json_is_true(json_object_get(rec, "ok")))
      fail_msg("record %zu not ok: %s", i, json_dumps(rec, 0));
  }
  json_decref(recs);
  for (int k = 0; k < 3; k++)
    child_free(&w[k]);
}

static void test_restart_resumes_own_jobs(void **state) {
  /* A worker that holds 20 jobs is killed; started again under the same
   * name, it runs them first. No one else may take them (claim after an
   * hour), so without that it would wait for them forever. */
  enqueue_jobs("own", "/delay/400", 40);
  child w = SPAWN("own1", "worker", "--redis", redis_url, "--stream", "own", "--consumer", "me",
                  "-t", "10", "--claim-idle", "3600");
  double end = tu_now() + 10 * tu_time_scale();
  while (pending_total("own", "fetchpool") < 20) {
    if (tu_now() > end)
      fail_msg("the worker took no jobs");
    usleep(10000);
  }
  kill(w.pid, SIGKILL);
  assert_int_equal(wait_child(&w, 10), 128 + SIGKILL);
  long long held = pending_total("own", "fetchpool");
  assert_true(held >= 20);
  child_free(&w);

  double start = tu_now();
  w = SPAWN("own2", "worker", "--redis", redis_url, "--stream", "own", "--consumer", "me", "-t",
            "10", "--claim-idle", "3600", "--until-empty");
  assert_int_equal(wait_child(&w, 30), 0);
  /* 40 jobs of 0.4 s, 10 at a time: 1.6 s; an hour if the held waited */
  assert_true(tu_now() - start < 20 * tu_time_scale());
  child_free(&w);
  assert_int_equal(pending_total("own", "fetchpool"), 0);
  json_t *recs = results_of("own");
  assert_one_record_per_job(recs, "own", 40);
  json_decref(recs);
}

static void test_redis_restart(void **state) {
  /* Redis goes away mid-run and comes back on the same port with its
   * append-only file: the workers reconnect and finish the run. */
  const size_t n = 600;
  enqueue_jobs("rr", "/delay/20", n);
  child w[2] = {
      SPAWN("rr0", "worker", "--redis", redis_url, "--stream", "rr", "-t", "10",
            "--claim-idle", "30", "--until-empty"),
      SPAWN("rr1", "worker", "--redis", redis_url, "--stream", "rr", "-t", "10",
            "--claim-idle", "30", "--until-empty"),
  };
  wait_results("rr:results", 100, 30);
  redis_stop();
  usleep(1000000);
  redis_start();
  assert_exit(&w[0], 60, 0);
  assert_exit(&w[1], 60, 0);
  char *log = child_log(&w[0]);
  assert_true(contains(log, "trying again"));
  assert_true(contains(log, "connected to Redis again"));
  free(log);
  assert_int_equal(pending_total("rr", "fetchpool"), 0);
  json_t *recs = results_of("rr");
  assert_one_record_per_job(recs, "rr", n);
  json_decref(recs);
  child_free(&w[0]);
  child_free(&w[1]);
}

/* A "Redis" that takes each connection and hangs up at once, counting
 * them: what a worker meets while a server restarts behind a proxy. */
typedef struct hangup_server {
  int fd;
  unsigned port;
  atomic_bool stop;
  atomic_int accepted;
  double times[64]; /* when the first connections came, tu_now() */
  pthread_t thread;
} hangup_server;

static void *hangup_main(void *arg) {
  hangup_server *h = arg;
  while (!atomic_load(&h->stop)) {
    struct pollfd p = {.fd = h->fd, .events = POLLIN};
    if (poll(&p, 1, 50) <= 0)
      continue;
    int c = accept(h->fd, NULL, NULL);
    if (c < 0)
      continue;
    int n = atomic_load(&h->accepted);
    if (n < 64)
      h->times[n] = tu_now();
    atomic_store(&h->accepted, n + 1);
    close(c);
  }
  return NULL;
}

static void test_reconnect_backs_off(void **state) {
  /* while Redis cannot serve, a worker tries again after waits that double
   * from 0.1 s (each drawn in [w/2, w]) up to 5 s: about 6 tries in the
   * first 3 s, not a tight loop, and growing gaps */
  hangup_server h = {.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof sa;
  assert_true(h.fd >= 0);
  assert_int_equal(bind(h.fd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(listen(h.fd, 16), 0);
  assert_int_equal(getsockname(h.fd, (struct sockaddr *)&sa, &len), 0);
  h.port = ntohs(sa.sin_port);
  atomic_init(&h.stop, false);
  atomic_init(&h.accepted, 0);
  assert_int_equal(pthread_create(&h.thread, NULL, hangup_main, &h), 0);
  char url[64];
  snprintf(url, sizeof url, "redis://127.0.0.1:%u", h.port);
  double t0 = tu_now();
  child w = SPAWN("backoff", "worker", "--redis", url, "--stream", "bo", "--grace", "0.1");
  usleep(3000000);
  int tries = atomic_load(&h.accepted);
  kill(w.pid, SIGTERM);
  /* holding no job, a stopped worker has nothing to hand back: it exits
   * at once */
  int st = wait_child(&w, 15);
  atomic_store(&h.stop, true);
  pthread_join(h.thread, NULL);
  close(h.fd);
  char *log = child_log(&w);
  print_message("%d tries in the first 3 s; first at %.3f s\n", tries,
                tries ? h.times[0] - t0 : -1.0);
  assert_true(contains(log, "trying again"));
  assert_int_equal(st, 143);
  assert_true(tries >= 3);
  assert_true(tries <= 10);
  /* the gaps grow: the 4th is longer than the 1st, the 5th than the 2nd */
  if (tries >= 5) {
    assert_true(h.times[4] - h.times[3] > h.times[1] - h.times[0]);
    assert_true(h.times[4] - h.times[3] >= 0.4 - 0.02);
  }
  free(log);
  child_free(&w);
}

static void test_busy_server_is_waited_for(void **state) {
  /* A server that cannot serve yet (here busy in a script; after a
   * restart, loading its data) answers with an error that passes: the
   * worker waits and retries instead of giving up with exit 2. */
  enqueue_jobs("busy", "/hello", 50);
  freeReplyObject(rcmd("CONFIG SET lua-time-limit 100"));
  redisContext *script = redis_connect();
  assert_non_null(script);
  assert_int_equal(redisAppendCommand(script, "EVAL %s 0", "while true do end"), REDIS_OK);
  int written = 0;
  while (!written)
    assert_int_equal(redisBufferWrite(script, &written), REDIS_OK);
  /* bounded: the script makes every client wait for -BUSY past 100 ms */
  bool busy = false;
  for (int i = 0; i < 50 && !busy; i++) {
    usleep(50000);
    busy = ping() == 0;
  }
  child w = SPAWN("busy1", "worker", "--redis", redis_url, "--stream", "busy", "-t", "4",
                  "--until-empty");
  usleep(1000000);
  int st;
  bool still_running = waitpid(w.pid, &st, WNOHANG) == 0;
  freeReplyObject(rcmd("SCRIPT KILL"));
  redisFree(script);
  /* the script ends at its next check: wait (bounded) for the server */
  bool served = ping() == 1;
  for (int i = 0; i < 100 && !served; i++) {
    usleep(20000);
    served = ping() == 1;
  }
  assert_true(busy && served);
  if (!still_running) {
    char *log = child_log(&w);
    fail_msg("the worker gave up on a busy server: status %d; its output:\n%.3000s",
             WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), log);
  }
  assert_exit(&w, 30, 0);
  char *log = child_log(&w);
  assert_true(contains(log, "BUSY"));
  assert_true(contains(log, "trying again"));
  free(log);
  child_free(&w);
  assert_int_equal(pending_total("busy", "fetchpool"), 0);
  json_t *recs = results_of("busy");
  assert_one_record_per_job(recs, "busy", 50);
  json_decref(recs);
}

static void test_refused_record_is_not_acked(void **state) {
  /* Redis out of memory refuses XADD but not XACK: a job whose record was
   * refused must stay pending, never acked without a record, and the run
   * completes once memory is back. */
  enqueue_jobs("oom", "/delay/300", 20);
  child w = SPAWN("oom1", "worker", "--redis", redis_url, "--stream", "oom", "-t", "10",
                  "--until-empty");
  double end = tu_now() + 10 * tu_time_scale();
  while (pending_total("oom", "fetchpool") < 10) {
    if (tu_now() > end)
      fail_msg("the worker took no jobs");
    usleep(10000);
  }
  freeReplyObject(rcmd("CONFIG SET maxmemory 1"));
  long long taken = pending_total("oom", "fetchpool");
  usleep(1500000); /* the jobs taken finish and their records are refused */
  long long records = rint_cmd("XLEN %s", "oom:results", NULL);
  long long pending = pending_total("oom", "fetchpool");
  freeReplyObject(rcmd("CONFIG SET maxmemory 0"));
  /* no record got in, so every job taken is still pending */
  assert_int_equal(records, 0);
  assert_true(pending >= taken);
  assert_exit(&w, 60, 0);
  char *log = child_log(&w);
  assert_true(contains(log, "OOM"));
  free(log);
  child_free(&w);
  assert_int_equal(pending_total("oom", "fetchpool"), 0);
  json_t *recs = results_of("oom");
  assert_one_record_per_job(recs, "oom", 20);
  json_decref(recs);
}

static void test_worker_waits_for_new_jobs(void **state) {
  /* without --until-empty a worker waits on an empty stream for jobs
   * that come later, and the request options (here --retries) apply */
  child w = SPAWN("live1", "worker", "--redis", redis_url, "--stream", "live", "-t", "4",
                  "--retries", "2", "--retry-base", "0.01");
  usleep(500000);
  int st;
  assert_int_equal(waitpid(w.pid, &st, WNOHANG), 0); /* still waiting */
  /* the server fails the first request of the ten, once */
  enqueue_jobs("live", "/flaky/live?fail=1", 10);
  wait_results("live:results", 10, 30);
  kill(w.pid, SIGTERM);
  assert_exit(&w, 30, 143);
  child_free(&w);
  assert_int_equal(pending_total("live", "fetchpool"), 0);
  json_t *recs = results_of("live");
  assert_one_record_per_job(recs, "live", 10);
  json_int_t attempts = 0;
  for (size_t i = 0; i < json_array_size(recs); i++) {
    json_t *rec = json_array_get(recs, i);
    assert_true(json_is_true(json_object_get(rec, "ok")));
    attempts += num(rec, "attempts");
  }
  assert_int_equal(attempts, 11);
  json_decref(recs);
}

static void test_sigterm_hands_jobs_back(void **state) {
  /* SIGTERM with jobs held: the worker exits 143 at once (grace 0.2 s),
   * and what it held is handed back, so another worker takes it now, not
   * after --claim-idle (a minute here). */
  enqueue_jobs("term", "/delay/3000", 20);
  child w = SPAWN("term1", "worker", "--redis", redis_url, "--stream", "term", "-t", "5",
                  "--grace", "0.2", "--claim-idle", "60");
  double end = tu_now() + 10 * tu_time_scale();
  while (pending_total("term", "fetchpool") < 10) {
    if (tu_now() > end)
      fail_msg("the worker took no jobs");
    usleep(10000);
  }
  double sent = tu_now();
  kill(w.pid, SIGTERM);
  assert_int_equal(wait_child(&w, 10), 143);
  assert_true(tu_now() - sent < 2 * tu_time_scale());
  char *log = child_log(&w);
  assert_true(contains(log, "handed back 10 unfinished jobs"));
  /* a worker has no --resume: its summary says where the jobs went */
  assert_true(contains(log, "interrupted by SIGTERM: jobs not finished stay in the group"));
  assert_false(contains(log, "--resume"));
  free(log);
  child_free(&w);
  assert_int_equal(rint_cmd("XLEN %s", "term:results", NULL), 0);
  assert_int_equal(pending_total("term", "fetchpool"), 10);

  double start = tu_now();
  w = SPAWN("term2", "worker", "--redis", redis_url, "--stream", "term", "-t", "20",
            "--claim-idle", "60", "--until-empty");
  assert_int_equal(wait_child(&w, 30), 0);
  assert_true(tu_now() - start < 15 * tu_time_scale()); /* not 60 s */
  child_free(&w);
  json_t *recs = results_of("term");
  assert_one_record_per_job(recs, "term", 20);
  json_decref(recs);
}

static void test_sigterm_with_redis_down_honours_grace(void **state) {
  /* Redis goes away while a worker holds jobs, then SIGTERM: the worker
   * exits 143 within --grace (1 s) and a margin, not grace + 5 s of
   * reconnects later; what it held stays pending (no record, no ack),
   * and another worker takes it over and finishes the run. */
  enqueue_jobs("down", "/delay/3000", 12);
  child w = SPAWN("down1", "worker", "--redis", redis_url, "--stream", "down", "-t", "4",
                  "--grace", "1", "--claim-idle", "60");
  wait_pending("down", 8, 10); /* 2 x -t: 4 running, 4 queued */
  redis_stop();
  double sent = tu_now();
  kill(w.pid, SIGTERM);
  int st = wait_child(&w, 30);
  double took = tu_now() - sent;
  redis_start();
  print_message("exit %.2f s after SIGTERM\n", took);
  char *log = child_log(&w);
  if (st != 143 || took > (1 + 2.5) * tu_time_scale())
    fail_msg("exit %d after %.2f s with --grace 1; its output:\n%.3000s", st, took, log);
  assert_true(contains(log, "giving up on Redis with 8 jobs held"));
  free(log);
  child_free(&w);
  assert_int_equal(rint_cmd("XLEN %s", "down:results", NULL), 0);
  assert_int_equal(pending_total("down", "fetchpool"), 8);

  w = SPAWN("down2", "worker", "--redis", redis_url, "--stream", "down", "-t", "12",
            "--claim-idle", "0.5", "--until-empty");
  assert_exit(&w, 30, 0);
  child_free(&w);
  assert_int_equal(pending_total("down", "fetchpool"), 0);
  json_t *recs = results_of("down");
  assert_one_record_per_job(recs, "down", 12);
  json_decref(recs);
}

static void test_results_dedup(void **state) {
  /* A job whose worker died after writing its record and before the XACK
   * runs again: its job_id has two records. results prints the first one
   * only, in the order written, also when the copy is on a later XRANGE
   * page (1,000 entries each), and says how many it left out. */
  const size_t n = 1010;
  enqueue_jobs("dup", "/hello", n);
  run r;
  RUN(&r, NULL, "worker", "--redis", redis_url, "--stream", "dup", "--consumer", "first", "-t",
      "16", "--until-empty");
  assert_int_equal(r.status, 0);
  run_free(&r);
  RUN(&r, NULL, "results", "--redis", redis_url, "--stream", "dup");
  assert_int_equal(r.status, 0);
  assert_int_equal(r.err_len, 0); /* no duplicates yet: nothing to say */
  char *before = strdup(r.out);
  json_t *recs = records(&r);
  assert_one_record_per_job(recs, "dup", n);
  json_decref(recs);
  run_free(&r);

  /* entry 0 copied as it is (lands past the first page), entry 5 copied
   * as it is and as a run on another consumer would write it */
  redisReply *head = rcmd("XRANGE dup:results - + COUNT 6");
  assert_int_equal(head->elements, 6);
  for (size_t k = 0; k < 6; k += 5) {
    const redisReply *fields = head->element[k]->element[1];
    const char *id = entry_field(fields, "job_id"), *rec = entry_field(fields, "record");
    freeReplyObject(rcmd("XADD dup:results * job_id %s record %s", id, rec));
    if (k == 5) {
      json_t *again = json_loads(rec, 0, NULL);
      assert_non_null(again);
      json_object_set_new(again, "consumer", json_string("second"));
      char *text = json_dumps(again, JSON_COMPACT);
      freeReplyObject(rcmd("XADD dup:results * job_id %s record %s", id, text));
      free(text);
      json_decref(again);
    }
  }
  freeReplyObject(head);
  assert_int_equal(rint_cmd("XLEN %s", "dup:results", NULL), (long long)n + 3);

  RUN(&r, NULL, "results", "--redis", redis_url, "--stream", "dup");
  assert_int_equal(r.status, 0);
  assert_string_equal(r.out, before); /* the same lines, in the same order */
  assert_string_equal(r.err, "fetchpool results: 1010 jobs, 3 duplicate records left out\n");
  run_free(&r);
  RUN(&r, NULL, "results", "--redis", redis_url, "--stream", "dup", "-q");
  assert_int_equal(r.status, 0);
  assert_string_equal(r.out, before);
  assert_int_equal(r.err_len, 0);
  run_free(&r);
  free(before);
}

static void test_until_empty_waits_for_other_consumers(void **state) {
  /* --until-empty is about the whole group: while another consumer still
   * holds jobs (not yet claimable), the worker stays; once they are acked
   * it exits 0 */
  enqueue_jobs("ue", "/hello", 6);
  freeReplyObject(rcmd("XGROUP CREATE ue fetchpool 0"));
  redisReply *held = rcmd("XREADGROUP GROUP fetchpool holder COUNT 2 STREAMS ue >");
  const redisReply *entries = held->element[0]->element[1];
  assert_int_equal(entries->elements, 2);
  child w = SPAWN("ue1", "worker", "--redis", redis_url, "--stream", "ue", "-t", "4",
                  "--claim-idle", "60", "--until-empty");
  wait_results("ue:results", 4, 10);
  usleep(1000000);
  int st;
  assert_int_equal(waitpid(w.pid, &st, WNOHANG), 0); /* still there */
  assert_int_equal(rint_cmd("XLEN %s", "ue:results", NULL), 4);
  for (size_t i = 0; i < entries->elements; i++)
    freeReplyObject(rcmd("XACK ue fetchpool %s", entries->element[i]->element[0]->str));
  freeReplyObject(held);
  assert_exit(&w, 10, 0);
  assert_int_equal(rint_cmd("XLEN %s", "ue:results", NULL), 4);
  assert_int_equal(pending_total("ue", "fetchpool"), 0);
  child_free(&w);
}

static void test_claim_waits_for_idle(void **state) {
  /* A consumer that died holding 4 jobs: a live worker takes them over
   * only once they have been idle --claim-idle (2 s), not before. */
  const double idle = 2.0;
  enqueue_jobs("ci", "/hello", 10);
  freeReplyObject(rcmd("XGROUP CREATE ci fetchpool 0"));
  double local0 = tu_now();
  long long redis0 = redis_ms();
  redisReply *held = rcmd("XREADGROUP GROUP fetchpool dead COUNT 4 STREAMS ci >");
  json_t *held_ids = json_object();
  const redisReply *entries = held->element[0]->element[1];
  for (size_t i = 0; i < entries->elements; i++)
    json_object_set_new(held_ids, entries->element[i]->element[0]->str, json_true());
  freeReplyObject(held);
  assert_int_equal(json_object_size(held_ids), 4);

  child w = SPAWN("ci1", "worker", "--redis", redis_url, "--stream", "ci", "--consumer", "live",
                  "-t", "4", "--claim-idle", "2", "--until-empty");
  wait_results("ci:results", 6, 10); /* the 6 jobs nobody held */
  /* at 1.4 s, after the scans at the start and (every 1 s) one more */
  double wake = local0 + 1.4 - tu_now();
  if (wake > 0)
    usleep((useconds_t)(wake * 1e6));
  redisReply *still = rcmd("XPENDING ci fetchpool - + 100 dead");
  long long records = rint_cmd("XLEN %s", "ci:results", NULL);
  /* seen before the jobs could be idle 2 s (a loaded machine may be
   * later; the record times below hold in any case) */
  if (tu_now() - local0 < idle - 0.2) {
    assert_int_equal(still->elements, 4);
    assert_int_equal(records, 6);
  } else {
    print_message("too late to see the held jobs before --claim-idle\n");
  }
  freeReplyObject(still);

  assert_exit(&w, 20, 0);
  double took = tu_now() - local0;
  /* the held jobs' records were written (entry id: Redis's clock) no
   * sooner than 2 s after they were delivered to the dead consumer */
  redisReply *all = rcmd("XRANGE ci:results - +");
  assert_int_equal(all->elements, 10); /* one record per job, none twice */
  size_t late = 0;
  for (size_t i = 0; i < all->elements; i++) {
    const char *job = entry_field(all->element[i]->element[1], "job_id");
    if (!json_object_get(held_ids, job))
      continue;
    long long at = atoll(all->element[i]->element[0]->str);
    if (at < redis0 + (long long)(idle * 1000))
      fail_msg("job %s was taken over %lld ms after it was delivered", job, at - redis0);
    late++;
  }
  assert_int_equal(late, 4);
  freeReplyObject(all);
  json_decref(held_ids);
  assert_true(took >= idle - 0.05);
  char *log = child_log(&w);
  assert_true(contains(log, "took over 4 jobs idle for 2 s or more"));
  free(log);
  child_free(&w);
  json_t *recs = results_of("ci");
  assert_one_record_per_job(recs, "ci", 10);
  for (size_t i = 0; i < json_array_size(recs); i++)
    assert_string_equal(str(json_array_get(recs, i), "consumer"), "live");
  json_decref(recs);
  assert_int_equal(pending_total("ci", "fetchpool"), 0);
}

static void test_live_jobs_are_not_taken_over(void **state) {
  /* Jobs held longer than --claim-idle by a live worker stay its own (it
   * marks them alive every claim_idle / 3): a second worker scanning for
   * idle jobs takes none, and every job has exactly one record. Worker a
   * holds all it can (2 x -t: 2 running, 2 waiting), so it makes no scan
   * of its own that would mark them too. */
  double scale = tu_time_scale();
  char idle[32], path[64];
  snprintf(idle, sizeof idle, "%g", 1.0 * scale);
  snprintf(path, sizeof path, "/delay/%.0f", 1500 * scale);
  enqueue_jobs("long", path, 4);
  child a = SPAWN("longa", "worker", "--redis", redis_url, "--stream", "long", "--consumer", "a",
                  "-t", "2", "--claim-idle", idle, "--until-empty");
  wait_pending("long", 4, 10);
  child b = SPAWN("longb", "worker", "--redis", redis_url, "--stream", "long", "--consumer", "b",
                  "-t", "4", "--claim-idle", idle, "--until-empty");
  assert_exit(&a, 30, 0); /* 2 rounds of 1.5 s */
  assert_exit(&b, 30, 0); /* exits once a's jobs are done */
  char *log = child_log(&b);
  if (contains(log, "took over"))
    fail_msg("worker b took over a live worker's jobs:\n%.3000s", log);
  free(log);
  child_free(&a);
  child_free(&b);
  assert_int_equal(rint_cmd("XLEN %s", "long:results", NULL), 4);
  json_t *recs = results_of("long");
  assert_one_record_per_job(recs, "long", 4);
  for (size_t i = 0; i < json_array_size(recs); i++) {
    json_t *rec = json_array_get(recs, i);
    assert_string_equal(str(rec, "consumer"), "a");
    assert_true(json_is_true(json_object_get(rec, "ok")));
  }
  json_decref(recs);
  assert_int_equal(pending_total("long", "fetchpool"), 0);
}

static void test_sigint_finishes_in_flight(void **state) {
  /* SIGINT with 4 transfers in flight and --grace 30: the worker waits
   * for them (about 1 s, not 30), writes their records, acks them, hands
   * nothing back and exits 130. */
  double scale = tu_time_scale();
  char path[64];
  snprintf(path, sizeof path, "/concurrency/sigint?ms=%.0f", 1000 * scale);
  enqueue_jobs("int", path, 4);
  child w = SPAWN("int1", "worker", "--redis", redis_url, "--stream", "int", "--consumer", "c",
                  "-t", "4", "--grace", "30");
  double end = tu_now() + 10 * scale;
  while (tu_server_number("/concurrency-max/sigint") < 4) {
    if (tu_now() > end)
      fail_msg("the 4 jobs were never in flight at once");
    usleep(10000);
  }
  double sent = tu_now();
  kill(w.pid, SIGINT);
  assert_exit(&w, 20, 130);
  assert_true(tu_now() - sent < 10 * scale);
  char *log = child_log(&w);
  assert_true(contains(log, "SIGINT"));
  assert_true(contains(log, "4 jobs: 4 ok"));
  assert_false(contains(log, "handed back"));
  assert_false(contains(log, "grace period over"));
  free(log);
  child_free(&w);
  redisReply *mine = rcmd("XPENDING int fetchpool - + 100 c");
  assert_int_equal(mine->elements, 0);
  freeReplyObject(mine);
  assert_int_equal(pending_total("int", "fetchpool"), 0);
  json_t *recs = results_of("int");
  assert_one_record_per_job(recs, "int", 4);
  for (size_t i = 0; i < json_array_size(recs); i++) {
    json_t *rec = json_array_get(recs, i);
    assert_true(json_is_true(json_object_get(rec, "ok")));
    assert_int_equal(num(rec, "status"), 200);
    assert_string_equal(str(rec, "consumer"), "c");
  }
  json_decref(recs);
}

static void test_status_mid_run(void **state) {
  /* While a worker holds jobs, status shows them pending, on it; once it
   * is gone (kill -9) they stay pending on it and its idle time grows. */
  double scale = tu_time_scale();
  char path[64];
  snprintf(path, sizeof path, "/delay/%.0f", 3000 * scale);
  enqueue_jobs("mid", path, 10);
  double spawned = tu_now();
  child w = SPAWN("mid1", "worker", "--redis", redis_url, "--stream", "mid", "--consumer",
                  "holder", "-t", "2"); /* holds 2 x 2 jobs */
  wait_pending("mid", 4, 10);
  json_t *st = status_of("mid", NULL);
  double seen = tu_now();
  assert_true(json_is_true(json_object_get(st, "group_exists")));
  assert_status_counts(st, (status_counts){.jobs = 10, .delivered = 4, .pending = 4,
                                           .acked = 0, .undelivered = 6, .results = 0});
  json_t *cons = json_object_get(st, "consumers");
  assert_int_equal(json_array_size(cons), 1);
  json_t *c = json_array_get(cons, 0);
  assert_string_equal(str(c, "name"), "holder");
  assert_int_equal(num(c, "pending"), 4);
  json_int_t idle_ms = num(c, "idle_ms");
  assert_true(idle_ms >= 0 && idle_ms <= (json_int_t)((seen - spawned) * 1000) + 100);
  json_decref(st);

  kill(w.pid, SIGKILL);
  assert_int_equal(wait_child(&w, 10), 128 + SIGKILL);
  child_free(&w);
  usleep(1200000);
  run r;
  RUN(&r, NULL, "status", "--redis", redis_url, "--stream", "mid");
  assert_int_equal(r.status, 0);
  assert_true(contains(r.out, "stream mid: 10 jobs\n"));
  assert_true(contains(r.out, "  pending      4\n"));
  assert_true(contains(r.out, "  acked        0\n"));
  assert_true(contains(r.out, "  undelivered  6\n"));
  const char *line = strstr(r.out, "consumer holder: ");
  assert_non_null(line);
  int pending = -1;
  double idle = -1;
  assert_int_equal(sscanf(line, "consumer holder: %d pending, idle %lf s", &pending, &idle), 2);
  assert_int_equal(pending, 4);
  assert_true(idle >= 1.1); /* dead for 1.2 s at least */
  run_free(&r);
}

static void test_auto_worker_holds_what_it_can_run(void **state) {
  /* -t auto: a worker holds twice what its hosts' limits let run (at
   * least 32), not 2 x --max-threads, so that other workers of the group
   * get the rest. One host whose jobs take 3 s: its limit stays at its
   * first 2 until one ends, so the worker holds 32 of 100 (not 100). */
  char path[64];
  snprintf(path, sizeof path, "/delay/%.0f", 3000 * tu_time_scale());
  enqueue_jobs("auto", path, 100);
  child w = SPAWN("auto1", "worker", "--redis", redis_url, "--stream", "auto", "--consumer",
                  "auto", "-t", "auto");
  wait_pending("auto", 32, 10);
  usleep(500000); /* ten more reads: still 32 */
  json_t *st = status_of("auto", NULL);
  assert_status_counts(st, (status_counts){.jobs = 100, .delivered = 32, .pending = 32,
                                           .acked = 0, .undelivered = 68, .results = 0});
  json_decref(st);
  kill(w.pid, SIGKILL);
  assert_int_equal(wait_child(&w, 10), 128 + SIGKILL);
  child_free(&w);
  (void)state;
}

static void test_group_and_results_stream(void **state) {
  /* --group and --results-stream other than the defaults: the worker
   * joins that group and writes there, status and results read there,
   * and the default names are left alone. A second group runs the same
   * jobs on its own. */
  enqueue_jobs("gs", "/hello", 10);
  run r;
  RUN(&r, NULL, "worker", "--redis", redis_url, "--stream", "gs", "--group", "crawlers",
      "--results-stream", "out:gs", "--consumer", "g1", "--until-empty");
  assert_int_equal(r.status, 0);
  assert_true(contains(r.err, "group crawlers"));
  assert_true(contains(r.err, "10 jobs: 10 ok"));
  run_free(&r);
  assert_int_equal(rint_cmd("EXISTS %s", "gs:results", NULL), 0);
  assert_int_equal(rint_cmd("XLEN %s", "out:gs", NULL), 10);
  redisReply *groups = rcmd("XINFO GROUPS gs");
  assert_int_equal(groups->elements, 1); /* no default group made */
  freeReplyObject(groups);
  assert_int_equal(pending_total("gs", "crawlers"), 0);

  json_t *st = status_of("gs", ARGS("--group", "crawlers", "--results-stream", "out:gs"));
  assert_string_equal(str(st, "group"), "crawlers");
  assert_true(json_is_true(json_object_get(st, "group_exists")));
  assert_status_counts(st, (status_counts){.jobs = 10, .delivered = 10, .pending = 0,
                                           .acked = 10, .undelivered = 0, .results = 10});
  assert_string_equal(str(st, "results_stream"), "out:gs");
  json_t *cons = json_object_get(st, "consumers");
  assert_int_equal(json_array_size(cons), 1);
  assert_string_equal(str(json_array_get(cons, 0), "name"), "g1");
  json_decref(st);
  st = status_of("gs", NULL); /* the default group and results: untouched */
  assert_true(json_is_false(json_object_get(st, "group_exists")));
  assert_int_equal(num(st, "undelivered"), 10);
  assert_int_equal(num(st, "results"), 0);
  json_decref(st);

  RUN(&r, NULL, "results", "--redis", redis_url, "--stream", "gs", "--results-stream", "out:gs");
  assert_int_equal(r.status, 0);
  json_t *recs = records(&r);
  assert_one_record_per_job(recs, "gs", 10);
  for (size_t i = 0; i < json_array_size(recs); i++)
    assert_string_equal(str(json_array_get(recs, i), "consumer"), "g1");
  json_decref(recs);
  run_free(&r);
  RUN(&r, NULL, "results", "--redis", redis_url, "--stream", "gs");
  assert_int_equal(r.status, 0);
  assert_int_equal(r.out_len, 0);
  run_free(&r);

  /* another group gets every job again, and the first is unchanged */
  RUN(&r, NULL, "worker", "--redis", redis_url, "--stream", "gs", "--group", "audit",
      "--results-stream", "out2:gs", "--until-empty");
  assert_int_equal(r.status, 0);
  assert_true(contains(r.err, "10 jobs: 10 ok"));
  run_free(&r);
  assert_int_equal(rint_cmd("XLEN %s", "out2:gs", NULL), 10);
  st = status_of("gs", ARGS("--group", "crawlers", "--results-stream", "out:gs"));
  assert_int_equal(num(st, "acked"), 10);
  assert_int_equal(num(st, "results"), 10);
  json_decref(st);
}

static void test_worker_limits(void **state) {
  /* --per-host 2 with 8 threads: never more than 2 requests at once to
   * the one host, so 12 jobs of 300 ms take 6 rounds */
  enqueue_jobs("ph", "/concurrency/wph?ms=300", 12);
  run r;
  RUN(&r, NULL, "worker", "--redis", redis_url, "--stream", "ph", "-t", "8", "--per-host", "2",
      "--until-empty");
  assert_int_equal(r.status, 0);
  assert_true(contains(r.err, "12 jobs: 12 ok"));
  assert_int_equal(tu_server_number("/concurrency-max/wph"), 2);
  if (r.secs < 1.75)
    fail_msg("12 jobs of 300 ms, 2 at a time, took %.3f s", r.secs);
  run_free(&r);

  /* --rate 10, no burst: 11 jobs start over 10 intervals of 100 ms */
  enqueue_jobs("rate", "/hello", 11);
  RUN(&r, NULL, "worker", "--redis", redis_url, "--stream", "rate", "-t", "8", "--rate", "10",
      "--until-empty");
  assert_int_equal(r.status, 0);
  assert_true(contains(r.err, "11 jobs: 11 ok"));
  if (r.secs < 0.95 || r.secs > 4 * tu_time_scale())
    fail_msg("11 jobs at --rate 10 took %.3f s, expected about 1 s", r.secs);
  run_free(&r);
}

static void test_worker_fits_open_files(void **state) {
  /* a hard limit of 200 open files: 100 thread-engine workers need 3 each,
   * so the worker says so once and runs as many as fit; every job gets
   * an ok record, none fails to connect */
  static const char *const limited[] = {"/usr/bin/prlimit", "--nofile=200:200", "--", NULL};
  char path[64];
  snprintf(path, sizeof path, "/concurrency/wfit?ms=%u", (unsigned)(200 * tu_time_scale()));
  enqueue_jobs("fit", path, 100);
  run r;
  run_cli_wrapped(&r, limited, NULL, 0,
                  ARGS("worker", "--redis", redis_url, "--stream", "fit", "-t", "100",
                       "--until-empty"),
                  NULL, 0, false);
  if (r.status != 0)
    fail_msg("worker exited %d: %s", r.status, r.err);
  if (!contains(r.err, "100 jobs: 100 ok"))
    fail_msg("not every job ok: %s", r.err);
  const char *w = strstr(r.err, "fetchpool worker: warning: -t 100 needs ");
  assert_non_null(w);
  assert_null(strstr(w + 27, "warning")); /* once */
  unsigned long long need, own;
  size_t fit;
  assert_int_equal(sscanf(w, "fetchpool worker: warning: -t 100 needs %llu open files (3 per "
                             "transfer at once + %llu for the run's own), but the limit is 200; "
                             "running %zu transfers at once instead",
                          &need, &own, &fit),
                   3);
  assert_int_equal(need, 300 + own);
  assert_int_equal(fit, (200 - own) / 3);
  run_free(&r);
  assert_true(tu_server_number("/concurrency-max/wfit") <= (long)fit);
  json_t *recs = results_of("fit");
  assert_one_record_per_job(recs, "fit", 100);
  for (size_t i = 0; i < json_array_size(recs); i++)
    assert_true(json_is_true(json_object_get(json_array_get(recs, i), "ok")));
  json_decref(recs);
}

static void test_sighup_hands_jobs_back(void **state) {
  /* SIGHUP (the session went away) stops a worker as SIGTERM does: its
   * summary, the jobs it held handed back, exit 129 */
  enqueue_jobs("hup", "/delay/3000", 10);
  child w = SPAWN("hup1", "worker", "--redis", redis_url, "--stream", "hup", "-t", "5",
                  "--grace", "0.2", "--claim-idle", "60");
  double end = tu_now() + 10 * tu_time_scale();
  while (pending_total("hup", "fetchpool") < 10) {
    if (tu_now() > end)
      fail_msg("the worker took no jobs");
    usleep(10000);
  }
  kill(w.pid, SIGHUP);
  assert_exit(&w, 10, 129);
  char *log = child_log(&w);
  assert_true(contains(log, "interrupted by SIGHUP"));
  assert_true(contains(log, "handed back 10 unfinished jobs"));
  /* a worker has no --resume: its summary says where the jobs went */
  assert_true(contains(log, "interrupted by SIGHUP: jobs not finished stay in the group"));
  assert_false(contains(log, "--resume"));
  free(log);
  child_free(&w);
  assert_int_equal(rint_cmd("XLEN %s", "hup:results", NULL), 0);
  assert_int_equal(pending_total("hup", "fetchpool"), 10);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      SCALE_TEST(test_usage),
      SCALE_TEST(test_enqueue_work_status_results),
      SCALE_TEST(test_bad_entries_are_records),
      SCALE_TEST(test_enqueue_constant_memory),
      SCALE_TEST(test_kill9_one_of_three),
      SCALE_TEST(test_restart_resumes_own_jobs),
      SCALE_TEST(test_redis_restart),
      SCALE_TEST(test_reconnect_backs_off),
      SCALE_TEST(test_busy_server_is_waited_for),
      SCALE_TEST(test_refused_record_is_not_acked),
      SCALE_TEST(test_worker_waits_for_new_jobs),
      SCALE_TEST(test_sigterm_hands_jobs_back),
      SCALE_TEST(test_sigterm_with_redis_down_honours_grace),
      SCALE_TEST(test_results_dedup),
      SCALE_TEST(test_until_empty_waits_for_other_consumers),
      SCALE_TEST(test_claim_waits_for_idle),
      SCALE_TEST(test_live_jobs_are_not_taken_over),
      SCALE_TEST(test_sigint_finishes_in_flight),
      SCALE_TEST(test_status_mid_run),
      SCALE_TEST(test_auto_worker_holds_what_it_can_run),
      SCALE_TEST(test_group_and_results_stream),
      SCALE_TEST(test_worker_limits),
      SCALE_TEST(test_worker_fits_open_files),
      SCALE_TEST(test_sighup_hands_jobs_back),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
