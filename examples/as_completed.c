/* as_completed.c: fetch URLs in parallel and handle each as soon as it is
 * done, whatever the order: Python's
 *     for f in as_completed(pool.submit(get, u) for u in urls)
 * Usage: as_completed URL...  (build: make examples) */
#include <stdio.h>

#include <fetchpool.h>

int main(int argc, char **argv) {
  size_t n = (size_t)(argc - 1);
  fp_future *fs[n ? n : 1];
  fp_executor *ex = fp_executor_new(NULL, NULL);
  if (!ex)
    return 2;
  for (size_t i = 0; i < n; i++)
    fs[i] = fp_executor_submit_url(ex, argv[i + 1], NULL);

  fp_as_completed *it = fp_as_completed_new(fs, n, NULL);
  fp_as_completed_set_timeout(it, 30.0); /* as_completed(fs, timeout=30) */
  int failed = 0;
  fp_future *f;
  while (fp_as_completed_next(it, FP_FOREVER, &f) == FP_OK) {
    fp_error why;
    const char *url = fp_request_url(fp_future_request(f));
    if (fp_future_outcome(f, 0, &why) == FP_OK) {
      printf("%s %ld\n", url, fp_response_status(fp_future_response(f)));
    } else { /* the record's code: "http" for a 404, "connect", "timeout"... */
      printf("%s failed: %s\n", url, fp_code_name(why.code));
      failed++;
    }
  }
  fp_as_completed_free(it);
  for (size_t i = 0; i < n; i++)
    fp_future_decref(fs[i]);
  fp_executor_free(ex);
  return failed ? 1 : 0;
}
