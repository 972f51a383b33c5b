/* test_testserver.c: the test server's own capacity and cooldown routes
 * (/cap, /cap-stats, /cap-reset, /cooldown, /cooldown-stats: issue 18),
 * which the politeness tests and the benchmark rely on. Requests go out
 * through libcurl's multi interface, not through fetchpool, so that no
 * policy of the library (per-host limits, host cooldowns) shapes what the
 * server sees. */
#include <curl/curl.h>
#include <pthread.h>
#include <strings.h>

#include "testutil.h"

#define MAX_GETS 16

/* What one GET got. */
struct got {
  long status;          /* 0: no response */
  char body[1024];      /* cut to fit */
  char retry_after[96]; /* "" when absent */
  int order;            /* 0-based place among the transfers that ended */
};

static size_t on_body(char *data, size_t size, size_t n, void *arg) {
  struct got *g = arg;
  size_t have = strlen(g->body), len = size * n;
  size_t room = sizeof g->body - 1 - have;
  memcpy(g->body + have, data, len < room ? len : room);
  g->body[have + (len < room ? len : room)] = '\0';
  return len;
}

static size_t on_header(char *line, size_t size, size_t n, void *arg) {
  struct got *g = arg;
  size_t len = size * n;
  if (len > 12 && !strncasecmp(line, "Retry-After:", 12)) {
    const char *v = line + 12;
    size_t vlen = len - 12;
    while (vlen && (*v == ' ' || *v == '\t'))
      v++, vlen--;
    while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
      vlen--;
    if (vlen >= sizeof g->retry_after)
      vlen = sizeof g->retry_after - 1;
    memcpy(g->retry_after, v, vlen);
    g->retry_after[vlen] = '\0';
  }
  return len;
}

/* GET the n paths on the test server, each on its own connection, the
 * i-th started gap_s * i seconds after the first; fills got[i]. Bounded:
 * every transfer has a 60 s limit (scaled). */
static void get_all(const char *const *paths, size_t n, double gap_s, struct got *got) {
  CURLM *m = curl_multi_init();
  CURL *easy[MAX_GETS] = {0};
  char url[512];
  size_t added = 0, ended = 0;
  double t0 = tu_now(), limit = 60 * tu_time_scale();
  assert_true(n <= MAX_GETS);
  assert_non_null(m);
  for (size_t i = 0; i < n; i++) {
    memset(&got[i], 0, sizeof got[i]);
    got[i].order = -1;
    assert_non_null(easy[i] = curl_easy_init());
    ts_url(tu_server, paths[i], url, sizeof url);
    curl_easy_setopt(easy[i], CURLOPT_URL, url);
    curl_easy_setopt(easy[i], CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(easy[i], CURLOPT_WRITEDATA, &got[i]);
    curl_easy_setopt(easy[i], CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(easy[i], CURLOPT_HEADERDATA, &got[i]);
    curl_easy_setopt(easy[i], CURLOPT_TIMEOUT_MS, (long)(limit * 1000));
    curl_easy_setopt(easy[i], CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(easy[i], CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(easy[i], CURLOPT_PRIVATE, &got[i]);
  }
  while (ended < n) {
    int running, left;
    CURLMsg *msg;
    double now = tu_now(), next = 0.1;
    if (now - t0 > limit + 5)
      fail_msg("get_all: transfers still running after %.0f s", now - t0);
    while (added < n && now - t0 >= gap_s * (double)added)
      curl_multi_add_handle(m, easy[added++]);
    if (added < n && t0 + gap_s * (double)added - now < next)
      next = t0 + gap_s * (double)added - now;
    curl_multi_perform(m, &running);
    while ((msg = curl_multi_info_read(m, &left))) {
      struct got *g;
      char *priv = NULL;
      if (msg->msg != CURLMSG_DONE)
        continue;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
      g = (struct got *)(void *)priv;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &g->status);
      g->order = (int)ended++;
    }
    if (ended < n)
      curl_multi_poll(m, NULL, 0, next > 0.001 ? (int)(next * 1000) : 1, NULL);
  }
  for (size_t i = 0; i < n; i++) {
    curl_multi_remove_handle(m, easy[i]);
    curl_easy_cleanup(easy[i]);
  }
  curl_multi_cleanup(m);
}

/* One GET of the printf-formatted path; its status, body into g. */
__attribute__((format(printf, 2, 3)))
static long get1(struct got *g, const char *fmt, ...) {
  char path[512];
  const char *p = path;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(path, sizeof path, fmt, ap);
  va_end(ap);
  get_all(&p, 1, 0, g);
  return g->status;
}

/* n copies of one path, at once; counts the statuses 200 and 429. */
static void get_same(const char *path, size_t n, struct got *got, int *n200, int *n429) {
  const char *paths[MAX_GETS];
  for (size_t i = 0; i < n; i++)
    paths[i] = path;
  get_all(paths, n, 0, got);
  *n200 = *n429 = 0;
  for (size_t i = 0; i < n; i++) {
    if (got[i].status == 200) {
      ++*n200;
      assert_string_equal(got[i].body, "ok");
    } else if (got[i].status == 429) {
      ++*n429;
    } else {
      fail_msg("status %ld (%s)", got[i].status, got[i].body);
    }
  }
}

/* Sleep until tu_now() reaches t. */
static void sleep_until(double t) {
  double left = t - tu_now();
  if (left > 0)
    usleep((useconds_t)(left * 1e6));
}

/* ---- /cap ---- */

/* Queue mode: 2C at once, C served at a time, the others wait their turn
 * (all ok, none shed), and the stats say so exactly. */
static void test_cap_queue_holds_capacity(void **state) {
  struct got got[6], st;
  int n200, n429;
  double t0 = tu_now();
  get_same("/cap/q1?c=3&ms=200", 6, got, &n200, &n429);
  assert_int_equal(n200, 6);
  assert_int_equal(n429, 0);
  assert_true(tu_now() - t0 >= 0.39); /* the second three waited for the first */
  get1(&st, "/cap-stats/q1");
  assert_int_equal(st.status, 200);
  assert_string_equal(st.body, "{\"served\":6,\"shed\":0,\"max_inflight\":3,\"starts\":[6]}");
}

/* Queue mode is first come, first served: with c=1, requests sent 40 ms
 * apart end in the order they came. */
static void test_cap_queue_fifo(void **state) {
  const char *p = "/cap/q2?c=1&ms=60";
  const char *paths[5] = {p, p, p, p, p};
  struct got got[5], st;
  get_all(paths, 5, 0.04 * tu_time_scale(), got);
  for (int i = 0; i < 5; i++) {
    assert_int_equal(got[i].status, 200);
    assert_int_equal(got[i].order, i);
  }
  get1(&st, "/cap-stats/q2");
  assert_string_equal(st.body, "{\"served\":5,\"shed\":0,\"max_inflight\":1,\"starts\":[5]}");
}

/* Shed mode: beyond C, 429 at once with the Retry-After of ra= (none
 * without ra=). */
static void test_cap_shed(void **state) {
  struct got got[5], st;
  char path[128];
  int n200, n429;
  snprintf(path, sizeof path, "/cap/s1?c=2&ms=%d&mode=shed&ra=3", (int)(300 * tu_time_scale()));
  get_same(path, 5, got, &n200, &n429);
  assert_int_equal(n200, 2);
  assert_int_equal(n429, 3);
  for (int i = 0; i < 5; i++) {
    if (got[i].status == 429) {
      assert_string_equal(got[i].retry_after, "3");
      assert_string_equal(got[i].body, "busy");
      assert_true(got[i].order < 3); /* answered before the served ones */
    } else {
      assert_string_equal(got[i].retry_after, "");
    }
  }
  get1(&st, "/cap-stats/s1");
  assert_string_equal(st.body, "{\"served\":2,\"shed\":3,\"max_inflight\":2,\"starts\":[5]}");

  get_same("/cap/s2?c=1&ms=300&mode=shed", 3, got, &n200, &n429);
  assert_int_equal(n200, 1);
  assert_int_equal(n429, 2);
  for (int i = 0; i < 3; i++)
    assert_string_equal(got[i].retry_after, "");
}

/* sched= changes the capacity at its times, counted from the first
 * request: shed mode 1 then 3; queue mode 1 then 4, the waiting ones let
 * in when it rises (not only when a slot frees). */
static void test_cap_schedule(void **state) {
  double scale = tu_time_scale(), t0 = tu_now();
  char path[128];
  struct got got[4], st;
  int n200, n429;
  json_t *j;

  assert_int_equal(get1(&st, "/cap/s3?c=1&mode=shed&sched=%.3f:3", 0.5 * scale), 200);
  snprintf(path, sizeof path, "/cap/s3?c=1&ms=%d&mode=shed&sched=%.3f:3", (int)(150 * scale),
           0.5 * scale);
  get_same(path, 3, got, &n200, &n429); /* before 0.5 s: capacity 1 */
  if (tu_now() - t0 < 0.45 * scale) {   /* (a stalled machine may be late) */
    assert_int_equal(n200, 1);
    assert_int_equal(n429, 2);
  }
  sleep_until(t0 + 0.6 * scale);
  get_same(path, 3, got, &n200, &n429); /* after: capacity 3 */
  assert_int_equal(n200, 3);
  assert_int_equal(n429, 0);
  get1(&st, "/cap-stats/s3");
  assert_non_null(j = json_loads(st.body, 0, NULL));
  assert_int_equal(json_integer_value(json_object_get(j, "served")) +
                       json_integer_value(json_object_get(j, "shed")), 7);
  assert_int_equal(json_integer_value(json_object_get(j, "max_inflight")), 3);
  json_decref(j);

  /* queue mode: the first holds 600 ms; at 0.2 s the capacity becomes 4
   * and the three waiting get in while it still runs */
  snprintf(path, sizeof path, "/cap/q3?c=1&ms=%d&sched=%.3f:4", (int)(600 * scale), 0.2 * scale);
  get_same(path, 4, got, &n200, &n429);
  assert_int_equal(n200, 4);
  get1(&st, "/cap-stats/q3");
  assert_string_equal(st.body, "{\"served\":4,\"shed\":0,\"max_inflight\":4,\"starts\":[4]}");
}

/* starts: arrivals per second from the first request; /cap-reset clears
 * the counts. */
static void test_cap_starts_and_reset(void **state) {
  struct got st;
  double t0 = tu_now();
  for (int i = 0; i < 3; i++)
    assert_int_equal(get1(&st, "/cap/r1?c=5"), 200);
  sleep_until(t0 + 1.2);
  assert_int_equal(get1(&st, "/cap/r1?c=5"), 200);
  get1(&st, "/cap-stats/r1");
  assert_string_equal(st.body, "{\"served\":4,\"shed\":0,\"max_inflight\":1,\"starts\":[3,1]}");
  assert_int_equal(get1(&st, "/cap-reset/r1"), 200);
  assert_string_equal(st.body, "reset");
  get1(&st, "/cap-stats/r1");
  assert_string_equal(st.body, "{\"served\":0,\"shed\":0,\"max_inflight\":0,\"starts\":[]}");
  assert_int_equal(get1(&st, "/cap/r1?c=5"), 200); /* counted from second 0 again */
  get1(&st, "/cap-stats/r1");
  assert_string_equal(st.body, "{\"served\":1,\"shed\":0,\"max_inflight\":1,\"starts\":[1]}");
  /* a name never used has empty stats */
  get1(&st, "/cap-stats/never");
  assert_string_equal(st.body, "{\"served\":0,\"shed\":0,\"max_inflight\":0,\"starts\":[]}");
}

static void test_cap_bad_parameters(void **state) {
  struct got st;
  assert_int_equal(get1(&st, "/cap/b1?mode=drop"), 400);
  assert_int_equal(get1(&st, "/cap/b1?sched=2:4,1:8"), 400);  /* not increasing */
  assert_int_equal(get1(&st, "/cap/b1?sched=1:4,"), 400);
  assert_int_equal(get1(&st, "/cap/b1?sched=x:4"), 400);
  assert_int_equal(get1(&st, "/cap/b1?sched=1.5"), 400);
  assert_int_equal(get1(&st, "/cap/b1?c=2&sched=0.25:1,3:8"), 200);
}

/* A server stopping with requests queued and held returns promptly. */
struct stop_arg {
  ts_server *s;
  long status[2];
};

static void *get_held(void *arg) {
  struct stop_arg *a = arg;
  char url[256];
  CURLM *m = curl_multi_init();
  CURL *e[2];
  int running = 1;
  ts_url(a->s, "/cap/held?c=1&ms=20000", url, sizeof url);
  for (int i = 0; i < 2; i++) {
    e[i] = curl_easy_init();
    curl_easy_setopt(e[i], CURLOPT_URL, url);
    curl_easy_setopt(e[i], CURLOPT_TIMEOUT, 60L);
    curl_multi_add_handle(m, e[i]);
  }
  for (int i = 0; running && i < 6000; i++) {
    curl_multi_perform(m, &running);
    if (running)
      curl_multi_poll(m, NULL, 0, 10, NULL);
  }
  for (int i = 0; i < 2; i++) {
    curl_easy_getinfo(e[i], CURLINFO_RESPONSE_CODE, &a->status[i]);
    curl_multi_remove_handle(m, e[i]);
    curl_easy_cleanup(e[i]);
  }
  curl_multi_cleanup(m);
  return NULL;
}

static void test_cap_stop_with_waiters(void **state) {
  struct stop_arg a = {.s = ts_start(NULL)};
  pthread_t t;
  double t0;
  assert_non_null(a.s);
  assert_int_equal(pthread_create(&t, NULL, get_held, &a), 0);
  usleep(300000); /* one held, one queued */
  t0 = tu_now();
  ts_stop(a.s);
  assert_true(tu_now() - t0 < 5 * tu_time_scale());
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_int_equal(a.status[0], 0); /* no answer: both cut */
  assert_int_equal(a.status[1], 0);
}

/* ---- /cooldown ---- */

/* K oks, then 429 with Retry-After: S, 429s while the window lasts (the
 * rest of it in Retry-After), then 200 again. */
static void test_cooldown_seconds(void **state) {
  struct got g;
  double t1;
  for (int i = 0; i < 2; i++) {
    assert_int_equal(get1(&g, "/cooldown/c1?after=2&secs=1"), 200);
    assert_string_equal(g.body, "ok");
  }
  assert_int_equal(get1(&g, "/cooldown/c1?after=2&secs=1"), 429);
  t1 = tu_now();
  assert_string_equal(g.retry_after, "1");
  assert_string_equal(g.body, "cooling down");
  assert_int_equal(get1(&g, "/cooldown/c1?after=2&secs=1"), 429);
  assert_string_equal(g.retry_after, "1");
  get1(&g, "/cooldown-stats/c1");
  assert_string_equal(g.body, "{\"ok\":2,\"rejected\":2,\"in_window\":1}");
  sleep_until(t1 + 1.05);
  assert_int_equal(get1(&g, "/cooldown/c1?after=2&secs=1"), 200);
  assert_string_equal(g.retry_after, "");
  assert_int_equal(get1(&g, "/cooldown/c1?after=2&secs=1"), 200); /* one window only */
  get1(&g, "/cooldown-stats/c1");
  assert_string_equal(g.body, "{\"ok\":4,\"rejected\":2,\"in_window\":1}");
  /* reset: the window can open again */
  assert_int_equal(get1(&g, "/cooldown-reset/c1"), 200);
  get1(&g, "/cooldown-stats/c1");
  assert_string_equal(g.body, "{\"ok\":0,\"rejected\":0,\"in_window\":0}");
  assert_int_equal(get1(&g, "/cooldown/c1?after=0&secs=1"), 429);
  get1(&g, "/cooldown-stats/never");
  assert_string_equal(g.body, "{\"ok\":0,\"rejected\":0,\"in_window\":0}");
}

/* date=1: Retry-After is the HTTP-date S seconds ahead (the same date
 * inside the window), and the window ends at that date. */
static void test_cooldown_date(void **state) {
  struct got g;
  char date[96];
  time_t before = time(NULL), at;
  assert_int_equal(get1(&g, "/cooldown/c2?secs=2&date=1"), 429);
  snprintf(date, sizeof date, "%s", g.retry_after);
  assert_true(strlen(date) == 29 && !strcmp(date + 25, " GMT")); /* IMF-fixdate */
  at = curl_getdate(date, NULL);
  assert_true(at >= before + 2 && at <= time(NULL) + 2);
  assert_int_equal(get1(&g, "/cooldown/c2?secs=2&date=1"), 429);
  assert_string_equal(g.retry_after, date);
  for (int i = 0; i < 400 && time(NULL) < at; i++) /* at most 4 s */
    usleep(10000);
  usleep(20000);
  assert_int_equal(get1(&g, "/cooldown/c2?secs=2&date=1"), 200);
  get1(&g, "/cooldown-stats/c2");
  assert_string_equal(g.body, "{\"ok\":1,\"rejected\":2,\"in_window\":1}");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      TU_TEST(test_cap_queue_holds_capacity),
      TU_TEST(test_cap_queue_fifo),
      TU_TEST(test_cap_shed),
      TU_TEST(test_cap_schedule),
      TU_TEST(test_cap_starts_and_reset),
      TU_TEST(test_cap_bad_parameters),
      TU_TEST(test_cap_stop_with_waiters),
      TU_TEST(test_cooldown_seconds),
      TU_TEST(test_cooldown_date),
  };
  curl_global_init(CURL_GLOBAL_ALL);
  int rc = cmocka_run_group_tests_name("testserver", tests, tu_setup_server, tu_teardown_server);
  curl_global_cleanup();
  return rc;
}
