/* sink_to_file.c: stream a large body to a file as it arrives, instead of
 * keeping it in memory.  Usage: sink_to_file URL FILE  (build: make examples) */
#include <stdio.h>

#include <fetchpool.h>

/* On a worker thread, once per piece of the body. Every attempt starts
 * with data NULL: a retry's body replaces what an earlier attempt sent. */
static int to_file(void *userdata, const void *data, size_t len) {
  FILE *out = userdata;
  if (!data)
    return fseek(out, 0, SEEK_SET) != 0; /* non-zero: abort the transfer */
  return fwrite(data, 1, len, out) != len;
}

int main(int argc, char **argv) {
  if (argc != 3)
    return 2;
  FILE *out = fopen(argv[2], "wb");
  fp_executor *ex = fp_executor_new(NULL, NULL);
  fp_request *req = fp_request_new(argv[1]);
  if (!out || !ex || !req)
    return 2;
  fp_request_set_sink(req, to_file, out);
  /* streamed: --max-body's memory cap does not apply, this bounds the file */
  fp_request_set_max_filesize(req, (uint64_t)1 << 40);
  fp_future *f = fp_executor_submit(ex, req, NULL);
  fp_error why;
  int rc = fp_future_outcome(f, FP_FOREVER, &why);
  const fp_response *resp = fp_future_response(f);
  if (rc == FP_OK)
    printf("%ld: %llu bytes to %s\n", fp_response_status(resp),
           (unsigned long long)fp_response_bytes(resp), argv[2]);
  else
    printf("failed: %s: %s\n", fp_code_name(why.code), why.text);
  fp_future_decref(f);
  fp_request_decref(req);
  fp_executor_free(ex);
  return fclose(out) == 0 && rc == FP_OK ? 0 : 1;
}
