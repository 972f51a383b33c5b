/* results_array.c: fill a thread-safe result array from the workers, slot
 * i for URL i, and read it while the jobs run and once they are all done.
 * Usage: results_array URL...  (build: make examples) */
#include <stdio.h>

#include <fetchpool.h>

int main(int argc, char **argv) {
  size_t n = (size_t)(argc - 1);
  fp_executor *ex = fp_executor_new(NULL, NULL);
  fp_results *r = fp_results_new(n);
  if (!ex || !r)
    return 2;
  for (size_t i = 0; i < n; i++) {
    fp_request *req = fp_request_new(argv[i + 1]);
    /* slot i is filled by the future's done callback, on a worker */
    if (!req || fp_results_submit(r, i, ex, req, NULL) != FP_OK)
      return 2;
    fp_request_decref(req);
  }
  /* returns once the callbacks have filled every slot (not just once the
   * futures are done: see fp_future_wait on callback ordering) */
  fp_results_wait(r, n, FP_FOREVER);
  size_t ok = 0;
  for (size_t i = 0; i < n; i++) {
    const fp_response *resp = fp_future_response(fp_results_get(r, i));
    printf("%zu %s %ld\n", i, argv[i + 1], fp_response_status(resp));
    ok += fp_response_ok(resp);
  }
  printf("%zu of %zu ok\n", ok, fp_results_done(r));
  fp_executor_free(ex);
  fp_results_free(r);
  return ok == n ? 0 : 1;
}
