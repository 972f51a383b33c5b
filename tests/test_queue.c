/* test_queue.c: the bounded FIFO job queue (src/queue.c) through its
 * private API: order, capacity with deadlines, close, take_all, and many
 * producers and consumers at once. */
#include <pthread.h>
#include <stdatomic.h>

#include "testutil.h"
#include "clock.h"
#include "future_private.h"
#include "queue.h"

/* A fresh pending future (refcount 1) for the queue tests. */
static fp_future *new_future(void) {
  fp_request *req = fp_request_new("http://127.0.0.1:9/");
  assert_non_null(req);
  fp_future *f = fp__future_new(req);
  fp_request_decref(req);
  assert_non_null(f);
  return f;
}

static size_t queue_len(fp__queue *q) {
  pthread_mutex_lock(&q->mu);
  size_t n = q->len;
  pthread_mutex_unlock(&q->mu);
  return n;
}

static void test_fifo_order(void **state) {
  (void)state;
  fp__queue q;
  assert_int_equal(fp__queue_init(&q, 0), FP_OK);
  fp_future *fs[8];
  for (size_t i = 0; i < 8; i++) {
    fs[i] = new_future();
    assert_int_equal(fp__queue_push(&q, fs[i], NULL), FP_OK);
  }
  assert_int_equal(queue_len(&q), 8);
  for (size_t i = 0; i < 8; i++) {
    fp_future *f = fp__queue_pop(&q);
    assert_ptr_equal(f, fs[i]);
    assert_null(*fp__future_next(f)); /* unlinked on the way out */
    fp_future_decref(f);
  }
  assert_int_equal(queue_len(&q), 0);
  /* interleaved pushes and pops keep the order too */
  fp_future *a = new_future(), *b = new_future(), *c = new_future();
  assert_int_equal(fp__queue_push(&q, a, NULL), FP_OK);
  assert_int_equal(fp__queue_push(&q, b, NULL), FP_OK);
  fp_future *got = fp__queue_pop(&q);
  assert_ptr_equal(got, a);
  fp_future_decref(got);
  assert_int_equal(fp__queue_push(&q, c, NULL), FP_OK);
  got = fp__queue_pop(&q);
  assert_ptr_equal(got, b);
  fp_future_decref(got);
  got = fp__queue_pop(&q);
  assert_ptr_equal(got, c);
  fp_future_decref(got);
  fp__queue_destroy(&q);
}

typedef struct pusher {
  fp__queue *q;
  fp_future *f;
  double timeout; /* < 0: forever */
  atomic_bool returned;
  int rc;
  double took;
} pusher;

static void *push_main(void *arg) {
  pusher *p = arg;
  struct timespec ts;
  double t0 = tu_now();
  p->rc = fp__queue_push(p->q, p->f, fp__deadline_ptr(p->timeout, &ts));
  p->took = tu_now() - t0;
  atomic_store(&p->returned, true);
  return NULL;
}

static void test_capacity_deadline(void **state) {
  (void)state;
  fp__queue q;
  assert_int_equal(fp__queue_init(&q, 2), FP_OK);
  fp_future *a = new_future(), *b = new_future(), *c = new_future();
  assert_int_equal(fp__queue_push(&q, a, NULL), FP_OK);
  assert_int_equal(fp__queue_push(&q, b, NULL), FP_OK);

  /* full: a deadline already passed fails at once */
  struct timespec ts;
  double t0 = tu_now();
  assert_int_equal(fp__queue_push(&q, c, fp__deadline_ptr(0, &ts)), FP_ERR_WOULD_BLOCK);
  assert_true(tu_now() - t0 < 0.5); /* at once (generous: loaded CI, valgrind) */
  /* a 0.2 s deadline waits that long, then fails */
  t0 = tu_now();
  assert_int_equal(fp__queue_push(&q, c, fp__deadline_ptr(0.2, &ts)), FP_ERR_WOULD_BLOCK);
  double took = tu_now() - t0;
  assert_true(took >= 0.19);
  assert_true(took < 1.5);
  assert_int_equal(queue_len(&q), 2);

  /* a push without deadline blocks until a pop frees a slot */
  pusher p = {.q = &q, .f = c, .timeout = FP_FOREVER};
  atomic_init(&p.returned, false);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, push_main, &p), 0);
  usleep(100 * 1000); /* give it time to block */
  assert_false(atomic_load(&p.returned));
  assert_int_equal(queue_len(&q), 2);
  fp_future *got = fp__queue_pop(&q);
  assert_ptr_equal(got, a);
  fp_future_decref(got);
  pthread_join(t, NULL);
  assert_true(atomic_load(&p.returned));
  assert_int_equal(p.rc, FP_OK);
  assert_int_equal(queue_len(&q), 2);
  /* the blocked push went to the tail */
  got = fp__queue_pop(&q);
  assert_ptr_equal(got, b);
  fp_future_decref(got);
  got = fp__queue_pop(&q);
  assert_ptr_equal(got, c);
  fp_future_decref(got);
  fp__queue_destroy(&q);
}

typedef struct popper {
  fp__queue *q;
  atomic_bool returned;
  fp_future *got;
} popper;

static void *pop_main(void *arg) {
  popper *p = arg;
  p->got = fp__queue_pop(p->q);
  atomic_store(&p->returned, true);
  return NULL;
}

static void test_close_wakes_pop(void **state) {
  (void)state;
  fp__queue q;
  assert_int_equal(fp__queue_init(&q, 0), FP_OK);
  popper p[2] = {{.q = &q}, {.q = &q}};
  pthread_t t[2];
  for (int i = 0; i < 2; i++) {
    atomic_init(&p[i].returned, false);
    assert_int_equal(pthread_create(&t[i], NULL, pop_main, &p[i]), 0);
  }
  usleep(100 * 1000); /* let both block on the empty queue */
  assert_false(atomic_load(&p[0].returned));
  assert_false(atomic_load(&p[1].returned));
  fp__queue_close(&q);
  for (int i = 0; i < 2; i++) {
    pthread_join(t[i], NULL);
    assert_null(p[i].got);
  }
  fp__queue_close(&q); /* idempotent */
  fp__queue_destroy(&q);
}

static void test_close_drains_then_refuses(void **state) {
  (void)state;
  fp__queue q;
  assert_int_equal(fp__queue_init(&q, 0), FP_OK);
  fp_future *a = new_future(), *b = new_future();
  assert_int_equal(fp__queue_push(&q, a, NULL), FP_OK);
  fp__queue_close(&q);
  /* refused: the caller keeps its reference */
  assert_int_equal(fp__queue_push(&q, b, NULL), FP_ERR_SHUTDOWN);
  fp_future_decref(b);
  /* what was queued before the close is still handed out, then NULL */
  fp_future *got = fp__queue_pop(&q);
  assert_ptr_equal(got, a);
  fp_future_decref(got);
  assert_null(fp__queue_pop(&q));
  assert_null(fp__queue_pop(&q));
  fp__queue_destroy(&q);
}

static void test_close_wakes_push(void **state) {
  (void)state;
  fp__queue q;
  assert_int_equal(fp__queue_init(&q, 1), FP_OK);
  fp_future *a = new_future(), *b = new_future(), *c = new_future();
  assert_int_equal(fp__queue_push(&q, a, NULL), FP_OK);
  pusher p[2] = {{.q = &q, .f = b, .timeout = FP_FOREVER},
                 {.q = &q, .f = c, .timeout = 30.0}};
  pthread_t t[2];
  for (int i = 0; i < 2; i++) {
    atomic_init(&p[i].returned, false);
    assert_int_equal(pthread_create(&t[i], NULL, push_main, &p[i]), 0);
  }
  usleep(100 * 1000); /* let both block on the full queue */
  assert_false(atomic_load(&p[0].returned));
  assert_false(atomic_load(&p[1].returned));
  double t0 = tu_now();
  fp__queue_close(&q);
  for (int i = 0; i < 2; i++) {
    pthread_join(t[i], NULL);
    assert_int_equal(p[i].rc, FP_ERR_SHUTDOWN);
  }
  assert_true(tu_now() - t0 < 5.0); /* woken, not timed out */
  fp_future_decref(b);
  fp_future_decref(c);
  assert_int_equal(queue_len(&q), 1);
  fp_future *got = fp__queue_pop(&q);
  assert_ptr_equal(got, a);
  fp_future_decref(got);
  fp__queue_destroy(&q);
}

static void count_wake(void *arg) { atomic_fetch_add((atomic_int *)arg, 1); }

typedef struct many_pusher {
  fp__queue *q;
  fp_future **fs;
  size_t n, pushed;
  int rc;
} many_pusher;

static void *push_many_main(void *arg) {
  many_pusher *m = arg;
  m->pushed = fp__queue_push_many(m->q, m->fs, m->n, NULL, &m->rc);
  return NULL;
}

static void test_push_many_wakes_loops_before_blocking(void **state) {
  /* an event loop (the multi engine) hears of new jobs only through the
   * queue's wake hook: a batch that fills the queue must call it before
   * its submitter sleeps, or the loop sits out its poll timeout (measured:
   * about 180 ms a job with the CLI's reader at -t 1 --engine multi) */
  (void)state;
  fp__queue q;
  assert_int_equal(fp__queue_init(&q, 2), FP_OK);
  atomic_int wakes;
  atomic_init(&wakes, 0);
  assert_int_equal(fp__queue_add_wake(&q, count_wake, &wakes), FP_OK);
  fp_future *fs[3] = {new_future(), new_future(), new_future()};
  many_pusher m = {.q = &q, .fs = fs, .n = 3};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, push_many_main, &m), 0);
  /* bounded: the pusher blocks on the third job, nobody pops yet */
  double end = tu_now() + 5.0 * tu_time_scale();
  while (atomic_load(&wakes) == 0 && tu_now() < end)
    usleep(1000);
  int seen = atomic_load(&wakes);
  size_t queued = queue_len(&q);
  fp_future *got = fp__queue_pop(&q); /* room: the pusher goes on */
  fp_future_decref(got);
  pthread_join(t, NULL);
  assert_true(seen > 0);
  assert_int_equal(queued, 2);
  assert_int_equal(m.pushed, 3);
  assert_int_equal(m.rc, FP_OK);
  for (int i = 0; i < 2; i++)
    fp_future_decref(fp__queue_pop(&q));
  fp__queue_remove_wake(&q, &wakes);
  fp__queue_destroy(&q);
}

static void test_take_all(void **state) {
  (void)state;
  fp__queue q;
  assert_int_equal(fp__queue_init(&q, 3), FP_OK);
  assert_null(fp__queue_take_all(&q)); /* empty */
  fp_future *fs[3];
  for (int i = 0; i < 3; i++) {
    fs[i] = new_future();
    assert_int_equal(fp__queue_push(&q, fs[i], NULL), FP_OK);
  }
  /* a pusher blocked on the full queue is released by take_all */
  fp_future *extra = new_future();
  pusher p = {.q = &q, .f = extra, .timeout = FP_FOREVER};
  atomic_init(&p.returned, false);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, push_main, &p), 0);
  usleep(100 * 1000);
  assert_false(atomic_load(&p.returned));

  fp_future *all = fp__queue_take_all(&q);
  size_t n = 0;
  for (fp_future *f = all, *next; f; f = next, n++) {
    next = *fp__future_next(f);
    assert_true(n < 3);
    assert_ptr_equal(f, fs[n]); /* in queue order */
    *fp__future_next(f) = NULL;
    fp_future_decref(f);
  }
  assert_int_equal(n, 3);
  pthread_join(t, NULL);
  assert_int_equal(p.rc, FP_OK);
  assert_int_equal(queue_len(&q), 1);
  fp_future *got = fp__queue_pop(&q);
  assert_ptr_equal(got, extra);
  fp_future_decref(got);
  assert_int_equal(queue_len(&q), 0);
  fp__queue_destroy(&q);
}

static void test_parked_jobs_have_their_own_budget(void **state) {
  /* capacity 2, at most 3 parked (held): parked jobs do not fill the
   * queue, so the reader goes on past them (a slow host holds nobody
   * back); only once 3 are parked does a submit block, and one leaving
   * wakes it */
  (void)state;
  fp__queue q;
  assert_int_equal(fp__queue_init(&q, 2), FP_OK);
  fp__queue_set_max_held(&q, 3);
  fp_future *fs[6];
  for (int i = 0; i < 6; i++)
    fs[i] = new_future();
  struct timespec now;
  for (int i = 0; i < 3; i++) { /* pushed, popped, then parked by its host */
    assert_int_equal(fp__queue_push(&q, fs[i], fp__deadline_ptr(0, &now)), FP_OK);
    fp_future *got = fp__queue_pop(&q);
    assert_ptr_equal(got, fs[i]);
    fp__queue_hold(&q);
    fp_future_decref(got);
  }
  /* 3 parked, none queued: the budget is spent, the queue is not */
  assert_int_equal(fp__queue_push(&q, fs[3], fp__deadline_ptr(0, &now)), FP_ERR_WOULD_BLOCK);
  pusher p = {.q = &q, .f = fs[3], .timeout = FP_FOREVER};
  atomic_init(&p.returned, false);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, push_main, &p), 0);
  usleep(50 * 1000);
  assert_false(atomic_load(&p.returned));
  fp__queue_unhold(&q, 1); /* one parked job went on */
  double end = tu_now() + 2.0 * tu_time_scale();
  while (!atomic_load(&p.returned) && tu_now() < end)
    usleep(1000);
  if (!atomic_load(&p.returned)) {
    fp__queue_unhold(&q, 2); /* let it go, so the test ends */
    pthread_join(t, NULL);
    fail_msg("a parked job leaving did not wake the submitter blocked on the budget");
  }
  pthread_join(t, NULL);
  assert_int_equal(p.rc, FP_OK);
  /* 2 parked, 1 queued: one more fits the capacity, then it is full */
  assert_int_equal(fp__queue_push(&q, fs[4], fp__deadline_ptr(0, &now)), FP_OK);
  assert_int_equal(fp__queue_push(&q, fs[5], fp__deadline_ptr(0, &now)), FP_ERR_WOULD_BLOCK);
  fp_future_decref(fs[5]);
  for (int i = 3; i < 5; i++) {
    fp_future *got = fp__queue_pop(&q);
    assert_ptr_equal(got, fs[i]);
    fp_future_decref(got);
  }
  /* closed, nothing queued: pop waits for the parked ones */
  fp__queue_close(&q);
  fp__queue_unhold(&q, 2);
  assert_null(fp__queue_pop(&q));
  fp__queue_destroy(&q);
}

/* Many producers and consumers on a small queue: every item comes out
 * exactly once, each producer's items in the order it pushed them. */
#define MP_PRODUCERS 4
#define MP_CONSUMERS 4
#define MP_PER_PRODUCER 100

typedef struct mp_shared {
  fp__queue q;
  fp_future *items[MP_PRODUCERS][MP_PER_PRODUCER];
  atomic_int seen[MP_PRODUCERS][MP_PER_PRODUCER];
  atomic_int consumed;
} mp_shared;

typedef struct mp_arg {
  mp_shared *s;
  int id;
  int last[MP_PRODUCERS]; /* consumer: last sequence seen per producer */
  bool in_order;
} mp_arg;

static void *mp_producer(void *arg) {
  mp_arg *a = arg;
  for (int i = 0; i < MP_PER_PRODUCER; i++)
    if (fp__queue_push(&a->s->q, a->s->items[a->id][i], NULL) != FP_OK)
      return NULL;
  return NULL;
}

static void *mp_consumer(void *arg) {
  mp_arg *a = arg;
  fp_future *f;
  a->in_order = true;
  for (int p = 0; p < MP_PRODUCERS; p++)
    a->last[p] = -1;
  while ((f = fp__queue_pop(&a->s->q))) {
    fp_request *req = fp_future_request(f);
    intptr_t tag = (intptr_t)fp_request_userdata(req);
    int p = (int)(tag >> 16), i = (int)(tag & 0xffff);
    atomic_fetch_add(&a->s->seen[p][i], 1);
    if (i <= a->last[p])
      a->in_order = false;
    a->last[p] = i;
    atomic_fetch_add(&a->s->consumed, 1);
    fp_future_decref(f);
  }
  return NULL;
}

static void test_many_producers_consumers(void **state) {
  (void)state;
  mp_shared *s = calloc(1, sizeof *s);
  assert_non_null(s);
  assert_int_equal(fp__queue_init(&s->q, 4), FP_OK);
  for (int p = 0; p < MP_PRODUCERS; p++) {
    for (int i = 0; i < MP_PER_PRODUCER; i++) {
      s->items[p][i] = new_future();
      fp_request_set_userdata(fp_future_request(s->items[p][i]),
                              (void *)(((intptr_t)p << 16) | i));
      atomic_init(&s->seen[p][i], 0);
    }
  }
  mp_arg prod[MP_PRODUCERS], cons[MP_CONSUMERS];
  pthread_t pt[MP_PRODUCERS], ct[MP_CONSUMERS];
  for (int c = 0; c < MP_CONSUMERS; c++) {
    cons[c] = (mp_arg){.s = s, .id = c};
    assert_int_equal(pthread_create(&ct[c], NULL, mp_consumer, &cons[c]), 0);
  }
  for (int p = 0; p < MP_PRODUCERS; p++) {
    prod[p] = (mp_arg){.s = s, .id = p};
    assert_int_equal(pthread_create(&pt[p], NULL, mp_producer, &prod[p]), 0);
  }
  for (int p = 0; p < MP_PRODUCERS; p++)
    pthread_join(pt[p], NULL);
  /* close hands out what is still queued, then stops the consumers */
  fp__queue_close(&s->q);
  for (int c = 0; c < MP_CONSUMERS; c++) {
    pthread_join(ct[c], NULL);
    assert_true(cons[c].in_order);
  }
  assert_int_equal(atomic_load(&s->consumed), MP_PRODUCERS * MP_PER_PRODUCER);
  for (int p = 0; p < MP_PRODUCERS; p++)
    for (int i = 0; i < MP_PER_PRODUCER; i++)
      assert_int_equal(atomic_load(&s->seen[p][i]), 1);
  assert_int_equal(queue_len(&s->q), 0);
  fp__queue_destroy(&s->q);
  free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      TU_TEST(test_fifo_order),
      TU_TEST(test_capacity_deadline),
      TU_TEST(test_close_wakes_pop),
      TU_TEST(test_close_drains_then_refuses),
      TU_TEST(test_close_wakes_push),
      TU_TEST(test_push_many_wakes_loops_before_blocking),
      TU_TEST(test_take_all),
      TU_TEST(test_parked_jobs_have_their_own_budget),
      TU_TEST(test_many_producers_consumers),
  };
  return cmocka_run_group_tests_name("queue", tests, tu_setup_server, tu_teardown_server);
}
