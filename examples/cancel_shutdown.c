/* cancel_shutdown.c: submit COUNT jobs to a small pool, cancel one while
 * it is still queued, then stop early: shutdown(cancel_futures=true) runs
 * what has started and cancels what is queued, as Python's
 * Executor.shutdown(wait=True, cancel_futures=True).
 * Usage: cancel_shutdown URL COUNT  (build: make examples) */
#include <stdio.h>
#include <stdlib.h>

#include <fetchpool.h>

int main(int argc, char **argv) {
  if (argc != 3)
    return 2;
  long count = atol(argv[2]);
  if (count < 3)
    return 2;
  fp_executor_options opts;
  fp_executor_options_init(&opts);
  opts.threads = 2;
  fp_executor *ex = fp_executor_new(&opts, NULL);
  fp_future **fs = calloc((size_t)count, sizeof *fs);
  if (!ex || !fs)
    return 2;
  for (long i = 0; i < count; i++)
    fs[i] = fp_executor_submit_url(ex, argv[1], NULL);

  /* the last one is surely still queued behind the two workers */
  printf("cancel last: %s\n", fp_future_cancel(fs[count - 1]) ? "yes" : "no");
  fp_executor_shutdown(ex, true, true);

  long finished = 0, cancelled = 0;
  for (long i = 0; i < count; i++) {
    if (fp_future_cancelled(fs[i]))
      cancelled++;
    else if (fp_future_state(fs[i]) == FP_FINISHED)
      finished++;
    fp_future_decref(fs[i]);
  }
  printf("%ld finished, %ld cancelled, %ld in all\n", finished, cancelled, count);
  free(fs);
  fp_executor_free(ex);
  return finished + cancelled == count ? 0 : 1;
}
