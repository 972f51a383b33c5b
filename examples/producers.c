/* producers.c: 4 producer threads submit COUNT requests in all to one
 * executor; a done callback counts the results.  Usage: producers URL COUNT */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <fetchpool.h>

enum { PRODUCERS = 4 };
static fp_executor *ex;
static const char *url;
static long per_producer;
static atomic_long ok_count;

static void on_done(fp_future *f, void *userdata) {
  (void)userdata;
  if (fp_response_ok(fp_future_response(f))) /* NULL when cancelled */
    atomic_fetch_add(&ok_count, 1);
}

static void *produce(void *arg) {
  (void)arg;
  for (long i = 0; i < per_producer; i++) {
    fp_future *f = fp_executor_submit_url(ex, url, NULL);
    if (f) {
      fp_future_add_done_callback(f, on_done, NULL);
      fp_future_decref(f); /* the pool keeps its own reference */
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 3)
    return fprintf(stderr, "usage: producers URL COUNT\n"), 2;
  url = argv[1];
  per_producer = atol(argv[2]) / PRODUCERS;
  fp_executor_options opts;
  fp_executor_options_init(&opts);
  opts.threads = 16;
  opts.queue_capacity = 64; /* producers block instead of piling up jobs */
  ex = fp_executor_new(&opts, NULL);
  if (!ex)
    return 1;
  pthread_t t[PRODUCERS];
  for (int i = 0; i < PRODUCERS; i++)
    pthread_create(&t[i], NULL, produce, NULL);
  for (int i = 0; i < PRODUCERS; i++)
    pthread_join(t[i], NULL);
  fp_executor_shutdown(ex, true, false); /* wait for every job */
  fp_executor_free(ex);
  long expected = per_producer * PRODUCERS;
  printf("%ld of %ld requests ok\n", atomic_load(&ok_count), expected);
  return atomic_load(&ok_count) == expected ? 0 : 1;
}
