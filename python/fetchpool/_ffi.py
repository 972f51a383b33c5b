"""_ffi.py: the C declarations fetchpool uses from include/fetchpool.h, and
the loading of libfetchpool.so.1 (cffi ABI mode: no compiler needed)."""

from __future__ import annotations

import os
from typing import Any

import cffi

# Copied from include/fetchpool.h (the public header, never src/*.h): the
# declarations this package calls, written out because ABI mode does not
# run a C preprocessor on the header. tests/test_ffi.py checks each one
# against the header, so a change there cannot go unnoticed.
CDEF = r"""
typedef struct json_t json_t;

typedef struct fp_error { int code; char text[192]; } fp_error;
const char *fp_strerror(int code);
const char *fp_code_name(int code);

typedef struct fp_request fp_request;
fp_request *fp_request_new(const char *url);
fp_request *fp_request_copy(const fp_request *req);
void fp_request_decref(fp_request *req);
int fp_request_set_url(fp_request *req, const char *url);
int fp_request_set_method(fp_request *req, const char *method);
int fp_request_add_header(fp_request *req, const char *name, const char *value);
int fp_request_set_body(fp_request *req, const void *data, size_t len);
int fp_request_set_timeouts(fp_request *req, double total_s, double connect_s);
int fp_request_set_max_body(fp_request *req, size_t max_bytes);
int fp_request_set_redirects(fp_request *req, bool follow, long max_redirs);
int fp_request_set_keep_headers(fp_request *req, bool keep);
int fp_request_set_user_agent(fp_request *req, const char *ua);
int fp_request_set_insecure(fp_request *req, bool insecure);
int fp_request_set_stall_timeout(fp_request *req, double seconds);
int fp_request_set_attempt_timeout(fp_request *req, double seconds);
int fp_request_set_cacert(fp_request *req, const char *path);
int fp_request_set_retries(fp_request *req, unsigned max_retries, double base, double max_wait);
int fp_request_set_retry_statuses(fp_request *req, const int *statuses, size_t n);
typedef enum fp_http_version {
  FP_HTTP_DEFAULT = 0, FP_HTTP_1_0 = 1, FP_HTTP_1_1 = 2, FP_HTTP_2 = 3,
  FP_HTTP_2_PRIOR_KNOWLEDGE = 4
} fp_http_version;
int fp_request_set_http_version(fp_request *req, fp_http_version v);

typedef struct fp_response fp_response;
int fp_response_error(const fp_response *resp);
const char *fp_response_error_message(const fp_response *resp);
long fp_response_status(const fp_response *resp);
bool fp_response_ok(const fp_response *resp);
const char *fp_response_effective_url(const fp_response *resp);
const char *fp_response_body(const fp_response *resp, size_t *len);
size_t fp_response_header_count(const fp_response *resp);
int fp_response_header_at(const fp_response *resp, size_t i, const char **name, const char **value);
double fp_response_elapsed(const fp_response *resp);
unsigned fp_response_attempts(const fp_response *resp);
const char *fp_response_http_version(const fp_response *resp);

typedef struct fp_executor fp_executor;
typedef struct fp_future fp_future;
typedef int (*fp_initializer_fn)(void *arg, size_t worker_index);
typedef enum fp_engine {
  FP_ENGINE_THREADS = 0, FP_ENGINE_MULTI = 1, FP_ENGINE_HYBRID = 2
} fp_engine;
typedef struct fp_executor_options {
  size_t threads;
  fp_engine engine;
  size_t loops;
  size_t queue_capacity;
  const char *thread_name_prefix;
  fp_initializer_fn initializer;
  void *initializer_arg;
  bool share_dns;
  double rate;
  size_t per_host;
  bool cookies;
  const char *cookie_file;
  bool junk_session_cookies;
  bool threads_auto;
  bool no_host_cooldown;
  size_t max_threads;
  double per_host_rate;
  size_t max_parked;
  void *reserved_[13];
} fp_executor_options;
void fp_executor_options_init(fp_executor_options *opts);
fp_executor *fp_executor_new(const fp_executor_options *opts, fp_error *err);
size_t fp_executor_threads(const fp_executor *ex);
typedef struct fp_host_info {
  char host[256];
  size_t limit;
  size_t active;
  size_t parked;
  double cooldown_left;
  double cooldown_total;
  uint64_t overloads;
  uint64_t done;
} fp_host_info;
size_t fp_executor_hosts(fp_executor *ex, fp_host_info *out, size_t n);
fp_future *fp_executor_submit_timeout(fp_executor *ex, fp_request *req, double timeout, fp_error *err);
size_t fp_executor_submit_many(fp_executor *ex, fp_request *const *reqs, size_t n, double timeout, fp_future **futures_out, fp_error *err);
int fp_executor_shutdown(fp_executor *ex, bool wait, bool cancel_futures);
void fp_executor_abort(fp_executor *ex);
int fp_executor_free(fp_executor *ex);

void fp_future_decref(fp_future *f);
bool fp_future_running(fp_future *f);
bool fp_future_cancelled(fp_future *f);
bool fp_future_cancel(fp_future *f);
int fp_future_result(fp_future *f, double timeout, const fp_response **resp);
const fp_response *fp_future_response(fp_future *f);

typedef struct fp_completions fp_completions;
fp_completions *fp_completions_new(void);
int fp_completions_watch(fp_completions *q, fp_future *f, uint64_t tag);
int fp_completions_pop(fp_completions *q, double timeout, uint64_t *tags, size_t max, size_t *n);
void fp_completions_close(fp_completions *q);
void fp_completions_free(fp_completions *q);
"""

# fp_code values the package tests for (stable, see the header)
FP_OK = 0
FP_ERR_INVALID_ARG = -1
FP_ERR_NOMEM = -2
FP_ERR_SHUTDOWN = -3
FP_ERR_WAIT_TIMEOUT = -4
FP_ERR_WOULD_BLOCK = -5
FP_ERR_CANCELLED = -6
FP_FOREVER = -1.0

LIBRARY_NAME = "libfetchpool.so.1"

ffi = cffi.FFI()
ffi.cdef(CDEF)


def find_library() -> str:
    """Where libfetchpool is loaded from: $FETCHPOOL_LIBRARY, else the copy
    next to this package (``make python`` puts it there), else the bare
    name, which the system's loader looks up (ld.so.conf, LD_LIBRARY_PATH)."""
    env = os.environ.get("FETCHPOOL_LIBRARY")
    if env:
        return env
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), LIBRARY_NAME)
    if os.path.exists(here):
        return here
    return LIBRARY_NAME


def _load() -> Any:
    path = find_library()
    try:
        lib = ffi.dlopen(path)
    except OSError as e:
        raise ImportError(
            f"fetchpool: cannot load {path}: {e}. Build it with `make python` "
            f"(which copies it next to the package), set FETCHPOOL_LIBRARY to "
            f"its path, or install it (`make install`)") from e
    try:
        lib.fp_completions_new  # the newest function this package needs
    except AttributeError as e:
        raise ImportError(
            f"fetchpool: {path} is too old for this package "
            f"(no fp_completions_new); rebuild it") from e
    return lib


lib = _load()


def code_name(code: int) -> str:
    """The stable snake_case name of an fp_code ("timeout", "http", ...)."""
    return ffi.string(lib.fp_code_name(code)).decode("ascii")


def strerror(code: int) -> str:
    """The library's text for an fp_code."""
    return ffi.string(lib.fp_strerror(code)).decode("utf-8", "replace")
