/* test_policy_limit.c: the adaptive per-host limit (src/policy_limit.c)
 * alone: synthetic sequences of outcomes, then the simulator of
 * tests/sim_limit.h (hosts that queue or shed beyond a capacity, a closed
 * loop of requests, a synthetic clock). No network, no clock; the whole
 * suite runs in well under a second. */
#include "testutil.h"
#include "sim_limit.h"

#define S_50MS 0.05

/* ---- synthetic sequences ---- */

/* Feed l rounds of OK answers of latency lat, as a closed loop at its
 * limit does: each round, limit answers that started one latency ago.
 * Returns the time after the last round. */
static double feed_ok(fp__limit *l, double now, double lat, int rounds) {
  for (int r = 0; r < rounds; r++) {
    now += lat;
    unsigned n = fp__limit_get(l);
    for (unsigned k = 0; k < n; k++)
      fp__limit_on_done(l, now + k * 1e-6, lat, FP__OUTCOME_OK, n);
    now += n * 1e-6;
  }
  return now;
}

static void test_starts_small_within_bounds(void **state) {
  (void)state;
  fp__limit l;
  fp__limit_init(&l, 256);
  assert_true(fp__limit_get(&l) >= 1 && fp__limit_get(&l) <= 2);
  fp__limit_init(&l, 1);
  assert_int_equal(fp__limit_get(&l), 1);
  fp__limit_init(&l, 0); /* read as 1 */
  assert_int_equal(fp__limit_get(&l), 1);
  feed_ok(&l, 0, S_50MS, 20);
  assert_int_equal(fp__limit_get(&l), 1);
}

/* Slow start: doubling each round trip while latency holds. */
static void test_grows_fast_while_latency_holds(void **state) {
  (void)state;
  fp__limit l;
  fp__limit_init(&l, 64);
  unsigned prev = fp__limit_get(&l);
  double now = 0;
  for (int r = 0; r < 5; r++) {
    now = feed_ok(&l, now, S_50MS, 1);
    unsigned got = fp__limit_get(&l);
    assert_int_equal(got, 2 * prev);
    prev = got;
  }
  feed_ok(&l, now, S_50MS, 10);
  assert_int_equal(fp__limit_get(&l), 64); /* and stays at max */
}

/* A host that never uses its limit (the work is not there) gives no reason
 * to raise it. */
static void test_no_growth_when_unused(void **state) {
  (void)state;
  fp__limit l;
  fp__limit_init(&l, 256);
  double now = feed_ok(&l, 0, S_50MS, 4);
  unsigned before = 0;
  for (int i = 0; i < 100; i++) {
    now += S_50MS;
    fp__limit_on_done(&l, now, S_50MS, FP__OUTCOME_OK, 1);
    if (i == 1) /* the round that was under way has ended */
      before = fp__limit_get(&l);
  }
  assert_true(before >= 16);
  assert_int_equal(fp__limit_get(&l), before);
}

/* Each overload signal cuts the limit; a burst of them (answers that were
 * all in flight together) cuts it once. */
static void check_overload_kind(fp__outcome o) {
  fp__limit l;
  fp__limit_init(&l, 64);
  double now = feed_ok(&l, 0, S_50MS, 10);
  assert_int_equal(fp__limit_get(&l), 64);
  /* 40 answers sent together at now - 0.01, all overload */
  now += 0.01;
  fp__limit_on_done(&l, now, 0.01, o, 64);
  unsigned after_one = fp__limit_get(&l);
  assert_true(after_one < 64);
  for (int i = 1; i < 40; i++)
    fp__limit_on_done(&l, now + i * 1e-4, 0.01 + i * 1e-4, o, (unsigned)(64 - i));
  assert_int_equal(fp__limit_get(&l), after_one);
  /* sent after the cut, still refused: cut again */
  fp__limit_on_done(&l, now + 0.02, 0.001, o, after_one);
  assert_true(fp__limit_get(&l) < after_one);
}

static void test_overload_cuts_once_per_burst(void **state) {
  (void)state;
  check_overload_kind(FP__OUTCOME_OVERLOAD);
}

static void test_timeout_and_refused_are_overload(void **state) {
  (void)state;
  check_overload_kind(FP__OUTCOME_TIMEOUT);
  check_overload_kind(FP__OUTCOME_REFUSED);
}

/* OTHER (a bad URL, DNS, TLS) says nothing of load: no field changes. */
static void test_other_changes_nothing(void **state) {
  (void)state;
  fp__limit l;
  fp__limit_init(&l, 64);
  double now = feed_ok(&l, 0, S_50MS, 3);
  fp__limit_on_done(&l, now + 0.01, 0.001, FP__OUTCOME_OVERLOAD, 8);
  fp__limit before = l;
  for (int i = 0; i < 1000; i++)
    fp__limit_on_done(&l, now + 0.02 + i * 0.01, i % 2 ? 30.0 : 0.0, FP__OUTCOME_OTHER,
                      (unsigned)i % 70);
  assert_memory_equal(&l, &before, sizeof l);
}

/* Latency rising above the baseline with no 429 (a queueing API): the
 * limit goes down to about what the host serves at its baseline. */
static void test_backs_off_on_rising_latency(void **state) {
  (void)state;
  fp__limit l;
  fp__limit_init(&l, 256);
  double now = feed_ok(&l, 0, S_50MS, 4); /* 32, latency 50 ms */
  assert_int_equal(fp__limit_get(&l), 32);
  /* 32 in flight, latency x4: serves 8 (a round to see it; the next one
   * drains the queue and changes nothing) */
  now = feed_ok(&l, now, S_50MS * 4, 2);
  unsigned got = fp__limit_get(&l);
  assert_true(got >= 6 && got <= 10);
  /* a few percent above the baseline is no queue */
  fp__limit_init(&l, 256);
  now = feed_ok(&l, 0, S_50MS, 4);
  feed_ok(&l, now, S_50MS * 1.05, 3);
  assert_true(fp__limit_get(&l) >= 32);
}

/* Whatever comes, the limit stays within 1..max. */
static void test_stays_within_bounds(void **state) {
  (void)state;
  fp__limit l;
  fp__limit_init(&l, 10);
  double now = 0;
  uint64_t x = 88172645463325252u;
  for (int i = 0; i < 100000; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    now += (double)(x % 1000) * 1e-5;
    double lat = (double)(x >> 20 & 0xffff) * 1e-5;
    fp__outcome o = (fp__outcome)((x >> 40) % 5);
    if ((x >> 50) % 4)
      o = FP__OUTCOME_OK;
    fp__limit_on_done(&l, now, lat, o, (unsigned)(x >> 8) % 40);
    unsigned got = fp__limit_get(&l);
    assert_true(got >= 1 && got <= 10);
  }
  for (int i = 0; i < 1000; i++)
    fp__limit_on_done(&l, now + i, 0.001, FP__OUTCOME_OVERLOAD, 10);
  assert_int_equal(fp__limit_get(&l), 1);
}

/* ---- the simulator ---- */

static sim S;

/* A host (freed by the caller) and a policy for it. */
static sim_host *host(sim_mode mode, unsigned cap, long jobs, fp__limit *l, unsigned max) {
  sim_host *h = calloc(1, sizeof *h);
  assert_non_null(h);
  h->lat = calloc(SIM_LATS, sizeof *h->lat);
  assert_non_null(h->lat);
  h->mode = mode;
  h->service = S_50MS;
  h->reject = 0.001;
  h->cap[0] = cap;
  h->ncap = 1;
  h->jobs = jobs;
  fp__limit_init(l, max);
  h->pol = sim_limit_policy(l);
  return h;
}

static void host_free(sim_host *h) {
  free(h->lat);
  free(h);
}

static void start(int n, ...) {
  va_list ap;
  memset(&S, 0, sizeof S);
  S.nhosts = n;
  va_start(ap, n);
  for (int i = 0; i < n; i++)
    S.hosts[i] = va_arg(ap, sim_host *);
  va_end(ap);
}

/* Every sample of h's limit from t0 to t1 seconds is within lo..hi. */
static void assert_limit_between(const sim_host *h, double t0, double t1, unsigned lo, unsigned hi) {
  for (size_t k = (size_t)llround(t0 / SIM_TICK); k <= (size_t)llround(t1 / SIM_TICK); k++)
    if (h->limit_at[k] < lo || h->limit_at[k] > hi)
      fail_msg("limit %u at %.2f s, want %u..%u", h->limit_at[k], k * SIM_TICK, lo, hi);
}

/* Queueing API, capacity 16, 50 ms: converges near 16 and keeps the
 * latency near the no-load one. */
static void test_sim_queue_converges(void **state) {
  (void)state;
  fp__limit l;
  sim_host *h = host(SIM_QUEUE, 16, -1, &l, 256);
  start(1, h);
  sim_run(&S, 4);
  assert_limit_between(h, 2, 4, 12, 24);
  double med = sim_median(h);
  if (med > 1.5 * S_50MS)
    fail_msg("median latency %.1f ms", med * 1000);
  host_free(h);
}

/* Shedding API (429 beyond 16), 2,000 jobs, each 429 sent again at once:
 * few 429s, and every job done about as fast as 16 at once would. */
static void test_sim_shed_converges(void **state) {
  (void)state;
  fp__limit l;
  sim_host *h = host(SIM_SHED, 16, 2000, &l, 256);
  start(1, h);
  sim_run(&S, 60);
  assert_int_equal(h->done, 2000);
  if (h->rejected > h->sent / 20)
    fail_msg("%lu 429s of %lu requests", h->rejected, h->sent);
  assert_limit_between(h, 2, h->last_done - 0.1, 12, 24);
  /* 2,000 jobs at 16 x 50 ms take 6.25 s */
  if (h->last_done > 1.25 * 6.25)
    fail_msg("2,000 jobs took %.2f s", h->last_done);
  host_free(h);
}

/* Capacity 32 -> 8 -> 32 at 3 s and 6 s: the limit is within 25% of the
 * new capacity 1 s after each change, on both kinds of host. */
static void check_recovers(sim_mode mode, double noise) {
  fp__limit l;
  sim_host *h = host(mode, 32, 4000, &l, 256);
  h->noise = noise;
  h->ncap = 3;
  h->cap[1] = 8, h->cap_at[1] = 3;
  h->cap[2] = 32, h->cap_at[2] = 6;
  start(1, h);
  sim_run(&S, 60);
  assert_int_equal(h->done, 4000);
  assert_limit_between(h, 4, 4, 6, 10);
  assert_limit_between(h, 7, 7, 24, 40);
  if (mode == SIM_SHED && h->rejected > h->sent / 10)
    fail_msg("%lu 429s of %lu requests", h->rejected, h->sent);
  /* ideal: 1,920 jobs by 3 s, 480 more by 6 s, 1,600 at 640/s: 8.5 s */
  if (h->last_done > 1.25 * 8.5)
    fail_msg("4,000 jobs took %.2f s", h->last_done);
  host_free(h);
}

static void test_sim_recovers_shed(void **state) {
  (void)state;
  check_recovers(SIM_SHED, 0);
}

static void test_sim_recovers_queue(void **state) {
  (void)state;
  check_recovers(SIM_QUEUE, 0);
}

/* A fast host (32) and a slow one (4) in one run: each its own limit. */
static void test_sim_two_hosts_independent(void **state) {
  (void)state;
  fp__limit lf, ls;
  sim_host *fast = host(SIM_QUEUE, 32, -1, &lf, 256), *slow = host(SIM_QUEUE, 4, -1, &ls, 256);
  start(2, fast, slow);
  sim_run(&S, 4);
  assert_limit_between(fast, 2, 4, 24, 48);
  assert_limit_between(slow, 2, 4, 3, 6);
  if (sim_median(fast) > 1.5 * S_50MS || sim_median(slow) > 1.5 * S_50MS)
    fail_msg("median latency %.1f ms (fast), %.1f ms (slow)", sim_median(fast) * 1000,
             sim_median(slow) * 1000);
  host_free(fast);
  host_free(slow);
  /* the same shedding (429), with noise: few 429s on either */
  fast = host(SIM_SHED, 32, -1, &lf, 256), slow = host(SIM_SHED, 4, -1, &ls, 256);
  fast->noise = slow->noise = 0.2;
  start(2, fast, slow);
  sim_run(&S, 4);
  assert_limit_between(fast, 2, 4, 24, 40);
  assert_limit_between(slow, 2, 4, 3, 5);
  if (fast->rejected > fast->sent / 20 || slow->rejected > slow->sent / 20)
    fail_msg("429s: %lu of %lu (fast), %lu of %lu (slow)", fast->rejected, fast->sent,
             slow->rejected, slow->sent);
  host_free(fast);
  host_free(slow);
}

/* Nothing to find: no capacity, constant latency: max within log2(max)
 * round trips and a few more. */
static void test_sim_reaches_max_quickly(void **state) {
  (void)state;
  fp__limit l;
  sim_host *h = host(SIM_QUEUE, 1000000, -1, &l, 256);
  start(1, h);
  sim_run(&S, 2);
  size_t k = 0;
  while (k < SIM_TICKS && h->limit_at[k] < 256)
    k++;
  if (k * SIM_TICK > (8 + 3) * S_50MS)
    fail_msg("max reached at %.2f s", k * SIM_TICK);
  assert_limit_between(h, k * SIM_TICK, 1.9, 256, 256);
  host_free(h);
}

/* Service times 20% either way, uniform: the same bounds hold (the
 * baseline is a mean of blocks, the hold band wider than the noise). */
static void test_sim_noisy_latency(void **state) {
  (void)state;
  fp__limit l;
  sim_host *h = host(SIM_QUEUE, 16, -1, &l, 256);
  h->noise = 0.2;
  start(1, h);
  sim_run(&S, 4);
  assert_limit_between(h, 2, 4, 12, 24);
  if (sim_median(h) > 1.5 * S_50MS)
    fail_msg("median latency %.1f ms", sim_median(h) * 1000);
  host_free(h);
  h = host(SIM_QUEUE, 1000000, -1, &l, 256);
  h->noise = 0.2;
  start(1, h);
  sim_run(&S, 2);
  assert_limit_between(h, 1, 1.9, 256, 256);
  host_free(h);
  check_recovers(SIM_SHED, 0.2);
  check_recovers(SIM_QUEUE, 0.2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_starts_small_within_bounds),
      cmocka_unit_test(test_grows_fast_while_latency_holds),
      cmocka_unit_test(test_no_growth_when_unused),
      cmocka_unit_test(test_overload_cuts_once_per_burst),
      cmocka_unit_test(test_timeout_and_refused_are_overload),
      cmocka_unit_test(test_other_changes_nothing),
      cmocka_unit_test(test_backs_off_on_rising_latency),
      cmocka_unit_test(test_stays_within_bounds),
      cmocka_unit_test(test_sim_queue_converges),
      cmocka_unit_test(test_sim_shed_converges),
      cmocka_unit_test(test_sim_recovers_shed),
      cmocka_unit_test(test_sim_recovers_queue),
      cmocka_unit_test(test_sim_two_hosts_independent),
      cmocka_unit_test(test_sim_reaches_max_quickly),
      cmocka_unit_test(test_sim_noisy_latency),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
