/* test_stream_outbox.c: the stream worker's outbox (src/cli/stream/
 * outbox.c), driven directly, no Redis: held jobs and their places, the
 * records and hand-backs owed in the order the pool put them, waits that
 * wake on a put or a stop and time out on the monotonic clock, many
 * threads putting at once, and freeing what was never written. */
#include <math.h>
#include <pthread.h>

#include "testutil.h"

#include "cli/clock.h"
#include "cli/stream/outbox.h"

static size_t hold(cli_outbox *ob, const char *id) {
  size_t room = cli_outbox_room(ob);
  size_t job = cli_outbox_hold(ob, id, strlen(id));
  assert_int_equal(cli_outbox_room(ob), room - 1);
  assert_string_equal(cli_outbox_id(ob, job), id);
  return job;
}

static char *text(const char *s) {
  char *t = strdup(s);
  assert_non_null(t);
  return t;
}

static void test_hold_and_write(void **state) {
  cli_outbox *ob = cli_outbox_new(4);
  assert_non_null(ob);
  assert_int_equal(cli_outbox_room(ob), 4);
  assert_int_equal(cli_outbox_held(ob), 0);
  size_t job[4];
  job[0] = hold(ob, "1-0");
  job[1] = hold(ob, "1-1");
  job[2] = hold(ob, "2-0");
  job[3] = hold(ob, "18446744073709551615-18446744073709551615"); /* the longest id */
  assert_int_equal(cli_outbox_room(ob), 0);
  assert_int_equal(cli_outbox_held(ob), 4);
  for (size_t i = 0; i < 4; i++) {
    assert_true(job[i] < 4);
    for (size_t k = 0; k < i; k++)
      assert_int_not_equal(job[i], job[k]);
  }
  assert_true(cli_outbox_holds(ob, "1-1"));
  assert_false(cli_outbox_holds(ob, "1-2"));
  assert_false(cli_outbox_holds(ob, "1"));
  const char *const *ids;
  assert_int_equal(cli_outbox_ids(ob, &ids), 4);

  /* owed in the order put; a record and a hand-back */
  cli_outbox_put(ob, job[2], text("{\"index\":2}"));
  cli_outbox_put(ob, job[0], NULL);
  const cli_outbox_entry *out;
  assert_int_equal(cli_outbox_pending(ob, &out), 0); /* not taken before a wait */
  assert_false(cli_outbox_wait(ob, 0));
  assert_int_equal(cli_outbox_pending(ob, &out), 2);
  assert_int_equal(out[0].job, job[2]);
  assert_string_equal(out[0].record, "{\"index\":2}");
  assert_int_equal(out[1].job, job[0]);
  assert_null(out[1].record);
  /* still held until written: a failed write keeps them for the next */
  assert_int_equal(cli_outbox_room(ob), 0);
  assert_true(cli_outbox_holds(ob, "2-0"));
  cli_outbox_put(ob, job[1], text("{\"index\":1}"));
  assert_false(cli_outbox_wait(ob, 0));
  assert_int_equal(cli_outbox_pending(ob, &out), 3);
  assert_int_equal(out[2].job, job[1]);

  cli_outbox_written(ob);
  assert_int_equal(cli_outbox_pending(ob, &out), 0);
  assert_int_equal(cli_outbox_room(ob), 3);
  assert_int_equal(cli_outbox_held(ob), 1);
  assert_false(cli_outbox_holds(ob, "1-0"));
  assert_false(cli_outbox_holds(ob, "2-0"));
  assert_int_equal(cli_outbox_ids(ob, &ids), 1);
  assert_string_equal(ids[0], "18446744073709551615-18446744073709551615");
  /* freed places are taken again */
  size_t again = hold(ob, "3-0");
  assert_true(again == job[0] || again == job[1] || again == job[2]);
  cli_outbox_free(ob);
}

/* The soft limit (-t auto's read-ahead): room counts to it, not to the
 * capacity; lowered under what is held, no room until below it; 0 or
 * above capacity means capacity. */
static void test_soft_limit(void **state) {
  cli_outbox *ob = cli_outbox_new(8);
  assert_non_null(ob);
  cli_outbox_set_limit(ob, 3);
  assert_int_equal(cli_outbox_room(ob), 3);
  size_t a = hold(ob, "1-0");
  hold(ob, "1-1");
  assert_int_equal(cli_outbox_room(ob), 1);
  cli_outbox_set_limit(ob, 1);
  assert_int_equal(cli_outbox_room(ob), 0);
  cli_outbox_put(ob, a, NULL);
  assert_false(cli_outbox_wait(ob, 0));
  const cli_outbox_entry *out;
  assert_int_equal(cli_outbox_pending(ob, &out), 1);
  cli_outbox_written(ob);
  assert_int_equal(cli_outbox_held(ob), 1);
  assert_int_equal(cli_outbox_room(ob), 0); /* 1 held, limit 1 */
  cli_outbox_set_limit(ob, 0);
  assert_int_equal(cli_outbox_room(ob), 7);
  cli_outbox_set_limit(ob, 100);
  assert_int_equal(cli_outbox_room(ob), 7);
  cli_outbox_free(ob);
  (void)state;
}

static void test_wait_times_out(void **state) {
  cli_outbox *ob = cli_outbox_new(2);
  assert_non_null(ob);
  /* a time now or past, NaN and -INFINITY do not wait */
  double t0 = cli_now();
  assert_false(cli_outbox_wait(ob, 0));
  assert_false(cli_outbox_wait(ob, t0 - 1));
  assert_false(cli_outbox_wait(ob, NAN));
  assert_false(cli_outbox_wait(ob, -INFINITY));
  assert_true(cli_now() - t0 < 1 * tu_time_scale());
  /* nothing put: waits until the time given, on the monotonic clock */
  t0 = cli_now();
  assert_false(cli_outbox_wait(ob, t0 + 0.1));
  double took = cli_now() - t0;
  assert_true(took >= 0.1 - 0.005);
  assert_true(took < 5 * tu_time_scale());
  const cli_outbox_entry *out;
  assert_int_equal(cli_outbox_pending(ob, &out), 0);
  cli_outbox_free(ob);
}

typedef struct later {
  cli_outbox *ob;
  size_t job;   /* put this job ... */
  bool stop;    /* ... or stop */
  useconds_t after;
} later;

static void *do_later(void *arg) {
  later *l = arg;
  usleep(l->after);
  if (l->stop)
    cli_outbox_stop(l->ob);
  else
    cli_outbox_put(l->ob, l->job, text("{}"));
  return NULL;
}

static void test_put_wakes_wait(void **state) {
  cli_outbox *ob = cli_outbox_new(2);
  assert_non_null(ob);
  later l = {.ob = ob, .job = hold(ob, "5-0"), .after = 50000};
  pthread_t t;
  double t0 = cli_now();
  assert_int_equal(pthread_create(&t, NULL, do_later, &l), 0);
  /* woken by the put, long before the time given */
  assert_false(cli_outbox_wait(ob, t0 + 30));
  assert_true(cli_now() - t0 < 10 * tu_time_scale());
  pthread_join(t, NULL);
  const cli_outbox_entry *out;
  assert_int_equal(cli_outbox_pending(ob, &out), 1);
  assert_int_equal(out[0].job, l.job);
  cli_outbox_written(ob);
  cli_outbox_free(ob);
}

static void test_stop_wakes_once(void **state) {
  cli_outbox *ob = cli_outbox_new(2);
  assert_non_null(ob);
  size_t job = hold(ob, "6-0");
  later l = {.ob = ob, .stop = true, .after = 50000};
  pthread_t t;
  double t0 = cli_now();
  assert_int_equal(pthread_create(&t, NULL, do_later, &l), 0);
  assert_true(cli_outbox_wait(ob, INFINITY)); /* woken by the stop */
  assert_true(cli_now() - t0 < 10 * tu_time_scale());
  pthread_join(t, NULL);
  /* stopping, later waits still wait: for records, or the time given */
  t0 = cli_now();
  assert_true(cli_outbox_wait(ob, t0 + 0.1));
  assert_true(cli_now() - t0 >= 0.1 - 0.005);
  l = (later){.ob = ob, .job = job, .after = 50000};
  t0 = cli_now();
  assert_int_equal(pthread_create(&t, NULL, do_later, &l), 0);
  assert_true(cli_outbox_wait(ob, t0 + 30));
  assert_true(cli_now() - t0 < 10 * tu_time_scale());
  pthread_join(t, NULL);
  const cli_outbox_entry *out;
  assert_int_equal(cli_outbox_pending(ob, &out), 1);
  cli_outbox_written(ob);
  assert_int_equal(cli_outbox_held(ob), 0);
  cli_outbox_free(ob);
}

#define PUTTERS 8
#define EACH 16

typedef struct putter {
  cli_outbox *ob;
  size_t jobs[EACH];
} putter;

static void *put_all(void *arg) {
  putter *p = arg;
  for (size_t k = 0; k < EACH; k++) {
    char rec[32];
    snprintf(rec, sizeof rec, "%zu", p->jobs[k]);
    cli_outbox_put(p->ob, p->jobs[k], text(rec));
  }
  return NULL;
}

static void test_many_threads_put(void **state) {
  /* every job put from eight threads at once comes out once, with its
   * record; the loop waits meanwhile, bounded in count and time */
  cli_outbox *ob = cli_outbox_new(PUTTERS * EACH);
  assert_non_null(ob);
  putter p[PUTTERS];
  pthread_t t[PUTTERS];
  for (size_t i = 0; i < PUTTERS; i++) {
    p[i].ob = ob;
    for (size_t k = 0; k < EACH; k++) {
      char id[32];
      snprintf(id, sizeof id, "%zu-%zu", i, k);
      p[i].jobs[k] = hold(ob, id);
    }
  }
  assert_int_equal(cli_outbox_room(ob), 0);
  for (size_t i = 0; i < PUTTERS; i++)
    assert_int_equal(pthread_create(&t[i], NULL, put_all, &p[i]), 0);
  const cli_outbox_entry *out = NULL;
  size_t n = 0;
  double end = cli_now() + 30 * tu_time_scale();
  for (int rounds = 0; rounds < 100000 && n < PUTTERS * EACH && cli_now() < end; rounds++) {
    cli_outbox_wait(ob, cli_now() + 1);
    n = cli_outbox_pending(ob, &out);
  }
  for (size_t i = 0; i < PUTTERS; i++)
    pthread_join(t[i], NULL);
  assert_int_equal(n, PUTTERS * EACH);
  bool seen[PUTTERS * EACH] = {false};
  for (size_t k = 0; k < n; k++) {
    assert_true(out[k].job < PUTTERS * EACH);
    assert_false(seen[out[k].job]);
    seen[out[k].job] = true;
    char rec[32];
    snprintf(rec, sizeof rec, "%zu", out[k].job);
    assert_string_equal(out[k].record, rec);
  }
  cli_outbox_written(ob);
  assert_int_equal(cli_outbox_room(ob), PUTTERS * EACH);
  cli_outbox_free(ob);
}

static void test_free_owed(void **state) {
  /* records taken by a wait and records not yet taken are freed with the
   * outbox (valgrind and ASan check), as when a worker gives up on Redis */
  cli_outbox *ob = cli_outbox_new(3);
  assert_non_null(ob);
  size_t a = hold(ob, "7-0"), b = hold(ob, "7-1");
  hold(ob, "7-2"); /* still running: nothing owed */
  cli_outbox_put(ob, a, text("{\"taken\":true}"));
  assert_false(cli_outbox_wait(ob, 0));
  cli_outbox_put(ob, b, text("{\"taken\":false}"));
  cli_outbox_free(ob);
  cli_outbox_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      TU_TEST(test_hold_and_write),
      TU_TEST(test_soft_limit),
      TU_TEST(test_wait_times_out),
      TU_TEST(test_put_wakes_wait),
      TU_TEST(test_stop_wakes_once),
      TU_TEST(test_many_threads_put),
      TU_TEST(test_free_owed),
  };
  return cmocka_run_group_tests_name("stream_outbox", tests, NULL, NULL);
}
