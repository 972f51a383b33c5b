/* first_completed.c: ask several mirrors for the same thing and keep the
 * first answer, cancelling the others that have not started: Python's
 *     done, pending = wait(fs, return_when=FIRST_COMPLETED)
 * Usage: first_completed URL...  (build: make examples) */
#include <stdbool.h>
#include <stdio.h>

#include <fetchpool.h>

int main(int argc, char **argv) {
  size_t n = (size_t)(argc - 1);
  if (n == 0)
    return 2;
  fp_future *fs[n];
  bool done[n];
  fp_executor_options opts;
  fp_executor_options_init(&opts);
  opts.threads = n;
  fp_executor *ex = fp_executor_new(&opts, NULL);
  if (!ex)
    return 2;
  for (size_t i = 0; i < n; i++)
    fs[i] = fp_executor_submit_url(ex, argv[i + 1], NULL);

  int rc = fp_wait(fs, n, 10.0, FP_FIRST_COMPLETED, done);
  for (size_t i = 0; rc == FP_OK && i < n; i++) {
    if (done[i]) {
      printf("first: %s\n", argv[i + 1]);
      break;
    }
  }
  /* the rest are not needed: those still queued never run */
  fp_executor_shutdown(ex, false, true);
  fp_executor_free(ex);
  for (size_t i = 0; i < n; i++)
    fp_future_decref(fs[i]);
  return rc == FP_OK ? 0 : 1;
}
