/* error.c: error codes, their text and stable names, and fp_error filling. */
#include <stdarg.h>
#include <stdio.h>

#include "fetchpool.h"
#include "error.h"

typedef struct code_info {
  int code;
  const char *name;
  const char *text;
} code_info;

static const code_info codes[] = {
    {FP_OK, "ok", "success"},
    {FP_ERR_INVALID_ARG, "invalid_argument", "invalid argument"},
    {FP_ERR_NOMEM, "out_of_memory", "out of memory"},
    {FP_ERR_SHUTDOWN, "shutdown", "executor is shut down"},
    {FP_ERR_WAIT_TIMEOUT, "wait_timeout", "wait timed out"},
    {FP_ERR_WOULD_BLOCK, "would_block", "queue is full"},
    {FP_ERR_CANCELLED, "cancelled", "job was cancelled"},
    {FP_ERR_EXHAUSTED, "exhausted", "no more futures"},
    {FP_ERR_INITIALIZER, "initializer", "worker initializer failed"},
    {FP_ERR_SYSTEM, "system", "system call failed"},
    {FP_ERR_WORKER_THREAD, "worker_thread", "not allowed from a worker thread"},
    {FP_ERR_INVALID_URL, "invalid_url", "invalid URL"},
    {FP_ERR_INVALID_JSON, "invalid_json", "invalid JSON"},
    {FP_ERR_INVALID_HEADER, "invalid_header", "invalid header"},
    {FP_ERR_INVALID_REQUEST, "invalid_request", "invalid request"},
    {FP_ERR_UNSUPPORTED_PROTOCOL, "unsupported_protocol", "unsupported protocol"},
    {FP_ERR_DNS, "dns", "could not resolve host"},
    {FP_ERR_CONNECT, "connect", "could not connect"},
    {FP_ERR_CONNECT_TIMEOUT, "connect_timeout", "connect timed out"},
    {FP_ERR_TIMEOUT, "timeout", "transfer timed out"},
    {FP_ERR_STALL_TIMEOUT, "stall_timeout", "transfer stalled"},
    {FP_ERR_TLS, "tls", "TLS error"},
    {FP_ERR_TOO_MANY_REDIRECTS, "too_many_redirects", "too many redirects"},
    {FP_ERR_BODY_TOO_LARGE, "body_too_large", "response body too large"},
    {FP_ERR_HEADERS_TOO_LARGE, "headers_too_large", "response headers too large"},
    {FP_ERR_NETWORK, "network", "network error"},
    {FP_ERR_PROTOCOL, "protocol", "HTTP protocol error"},
    {FP_ERR_SINK_ABORTED, "aborted", "aborted by the body sink"},
    {FP_ERR_HTTP, "http", "HTTP error status"},
    {FP_ERR_INTERNAL, "internal", "internal error"},
};

static const code_info *find_code(int code) {
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
    if (codes[i].code == code)
      return &codes[i];
  return NULL;
}

const char *fp_strerror(int code) {
  const code_info *c = find_code(code);
  return c ? c->text : "unknown error";
}

const char *fp_code_name(int code) {
  const code_info *c = find_code(code);
  return c ? c->name : "unknown";
}

void fp_error_clear(fp_error *err) {
  if (err) {
    err->code = FP_OK;
    err->text[0] = '\0';
  }
}

int fp__fail(fp_error *err, int code, const char *fmt, ...) {
  if (!err || err->code != FP_OK)
    return code; /* first error wins */
  va_list ap;
  va_start(ap, fmt);
  err->code = code;
  /* clang-tidy 14 reports ap as uninitialized here although va_start ran
   * two lines above: a false positive of its analyzer. */
  vsnprintf(err->text, sizeof err->text, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
  va_end(ap);
  return code;
}
