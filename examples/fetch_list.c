/* fetch_list.c: fetch a list of URLs in parallel and print status and size
 * in input order.  Usage: fetch_list URL...  (build: make examples) */
#include <stdio.h>

#include <fetchpool.h>

int main(int argc, char **argv) {
  fp_error err = {0};
  fp_executor *ex = fp_executor_new(NULL, &err); /* default thread count */
  if (!ex) {
    fprintf(stderr, "fetch_list: %s\n", err.text);
    return 1;
  }
  size_t n = (size_t)(argc - 1);
  fp_request *reqs[n ? n : 1];
  for (size_t i = 0; i < n; i++)
    reqs[i] = fp_request_new(argv[i + 1]);

  /* map keeps at most 16 requests in flight and yields them in order. */
  fp_map *m = fp_executor_map(ex, reqs, n, 16, &err);
  int failed = 0;
  fp_future *f;
  size_t i;
  while (m && fp_map_next(m, FP_FOREVER, &f, &i) == FP_OK) {
    const fp_response *resp = NULL;
    int rc = fp_future_result(f, FP_FOREVER, &resp);
    if (rc != FP_OK) { /* FP_ERR_CANCELLED: it never ran, so there is no response */
      printf("%s %s\n", argv[i + 1], fp_code_name(rc));
      failed++;
    } else if (fp_response_error(resp) != FP_OK) {
      printf("%s error %s: %s\n", argv[i + 1], fp_code_name(fp_response_error(resp)),
             fp_response_error_message(resp));
      failed++;
    } else {
      printf("%s %ld %llu bytes\n", argv[i + 1], fp_response_status(resp),
             (unsigned long long)fp_response_bytes(resp));
    }
  }
  fp_map_free(m);
  for (size_t k = 0; k < n; k++)
    fp_request_decref(reqs[k]);
  fp_executor_free(ex);
  return failed ? 1 : 0;
}
