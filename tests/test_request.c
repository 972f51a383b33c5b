/* test_request.c: the request model (src/request.c): defaults, setters and
 * their errors, deep copies, JSON job objects, and the error codes and
 * fp_error of src/error.c. What a request sends is checked on the wire
 * through the test server's /echo. */
#include <math.h>
#include <strings.h>

#include "model.h" /* only to read defaults that take minutes to observe */
#include "testutil.h"

/* ---- helpers ---- */

static char *echo_url(void) { return tu_url("/echo"); }

/* Send req (BORROWED) to /echo on a 1-thread executor and return what the
 * server saw, as a JSON object (NEW). */
static json_t *echo_of(fp_request *req) {
  fp_executor *ex = tu_executor(1, 0, NULL);
  fp_error err = {0};
  const fp_response *resp;
  json_error_t jerr;
  size_t len;
  fp_future *f = fp_executor_submit(ex, req, &err);
  if (!f)
    fail_msg("submit: %s", err.text);
  assert_int_equal(fp_future_result(f, 60, &resp), FP_OK);
  assert_int_equal(fp_response_error(resp), FP_OK);
  assert_int_equal(fp_response_status(resp), 200);
  const char *body = fp_response_body(resp, &len);
  json_t *echo = json_loadb(body, len, JSON_ALLOW_NUL, &jerr);
  fp_future_decref(f);
  fp_executor_free(ex);
  if (!json_is_object(echo))
    fail_msg("echo is not a JSON object: %s", jerr.text);
  return echo;
}

static const char *echo_str(const json_t *echo, const char *key) {
  const char *s = json_string_value(json_object_get(echo, key));
  if (!s)
    fail_msg("echo has no string '%s'", key);
  return s;
}

/* Header of /echo's "headers" found case-insensitively (NULL if absent);
 * *count is set to how many names matched. */
static const char *echo_header_n(const json_t *echo, const char *name, int *count) {
  json_t *h = json_object_get(echo, "headers"), *v;
  const char *key, *found = NULL;
  *count = 0;
  assert_true(json_is_object(h));
  json_object_foreach(h, key, v) {
    if (strcasecmp(key, name) == 0) {
      found = json_string_value(v);
      (*count)++;
    }
  }
  return found;
}

/* The header's value, which must have been sent exactly once. */
static const char *echo_header(const json_t *echo, const char *name) {
  int n;
  const char *v = echo_header_n(echo, name, &n);
  if (n != 1)
    fail_msg("header '%s' sent %d times", name, n);
  return v;
}

static void assert_absent(const json_t *echo, const char *name) {
  int n;
  echo_header_n(echo, name, &n);
  if (n != 0)
    fail_msg("header '%s' was sent", name);
}

/* Parse a JSON text into a job; returns the request or NULL with *err. */
static fp_request *from_text(const char *text, const fp_request *base, fp_error *err) {
  json_error_t jerr;
  json_t *obj = json_loads(text, 0, &jerr);
  if (!obj)
    fail_msg("bad test JSON '%s': %s", text, jerr.text);
  fp_error_clear(err);
  fp_request *req = fp_request_from_json(obj, base, err);
  json_decref(obj);
  return req;
}

/* A job that must fail with code, and a text that names field. */
static void assert_job_error(const char *text, int code, const char *field) {
  fp_error err;
  fp_request *req = from_text(text, NULL, &err);
  if (req) {
    fp_request_decref(req);
    fail_msg("'%s' was accepted", text);
  }
  if (err.code != code)
    fail_msg("'%s' gave %s (%s), expected %s", text, fp_code_name(err.code), err.text,
             fp_code_name(code));
  if (!strstr(err.text, field))
    fail_msg("'%s': error text '%s' does not name '%s'", text, err.text, field);
  /* and without an fp_error, the same refusal */
  json_t *obj = json_loads(text, 0, NULL);
  assert_null(fp_request_from_json(obj, NULL, NULL));
  json_decref(obj);
}

/* ---- defaults and getters ---- */

static void test_defaults_and_getters(void **state) {
  assert_null(fp_request_new(NULL));
  fp_request *req = fp_request_new("http://127.0.0.1:1/x");
  assert_non_null(req);
  uint64_t index = 77;
  assert_string_equal(fp_request_url(req), "http://127.0.0.1:1/x");
  assert_string_equal(fp_request_method(req), "GET");
  assert_null(fp_request_id(req));
  assert_false(fp_request_index(req, &index));
  assert_int_equal(index, 77); /* untouched when unset */
  assert_null(fp_request_userdata(req));
  /* documented defaults (observing them on the wire takes minutes) */
  assert_true(req->timeout == 0);
  assert_true(req->connect_timeout == 0);
  assert_int_equal(req->max_body, FP_DEFAULT_MAX_BODY);
  assert_int_equal(FP_DEFAULT_MAX_BODY, 64 * 1024 * 1024);
  assert_true(req->follow_redirects);
  assert_int_equal(req->max_redirs, 10);
  assert_false(req->keep_headers);
  assert_false(req->insecure);
  assert_null(req->user_agent);
  assert_int_equal(req->nheaders, 0);
  assert_false(req->has_body);
  assert_null(req->sink);

  int token;
  fp_request_set_userdata(req, &token);
  assert_ptr_equal(fp_request_userdata(req), &token);
  assert_int_equal(fp_request_set_index(req, 0), FP_OK);
  assert_true(fp_request_index(req, &index));
  assert_int_equal(index, 0);
  assert_int_equal(fp_request_set_index(req, UINT64_MAX), FP_OK);
  assert_true(fp_request_index(req, NULL));
  assert_true(fp_request_index(req, &index));
  assert_true(index == UINT64_MAX);

  json_t *id = json_pack("{s:i}", "n", 1);
  assert_int_equal(fp_request_set_id(req, id), FP_OK);
  json_decref(id); /* the request holds its own reference */
  assert_int_equal(json_integer_value(json_object_get(fp_request_id(req), "n")), 1);
  assert_int_equal(fp_request_set_id(req, NULL), FP_OK);
  assert_null(fp_request_id(req));

  assert_int_equal(fp_request_set_url(req, "http://127.0.0.1:2/y"), FP_OK);
  assert_string_equal(fp_request_url(req), "http://127.0.0.1:2/y");
  /* reference counting: incref returns the same request */
  assert_ptr_equal(fp_request_incref(req), req);
  fp_request_decref(req);
  assert_string_equal(fp_request_url(req), "http://127.0.0.1:2/y");
  fp_request_decref(req);
  fp_request_decref(NULL);

  /* getters accept NULL */
  assert_null(fp_request_url(NULL));
  assert_null(fp_request_method(NULL));
  assert_null(fp_request_id(NULL));
  assert_null(fp_request_userdata(NULL));
  assert_false(fp_request_index(NULL, &index));
}

/* ---- setters and their errors ---- */

static void test_method_setter(void **state) {
  static const char *bad[] = {"", "GET ", " GET", "G ET", "GE:T", "GET\r\n", "G(T)", "G\"T", "GÉT"};
  fp_request *req = fp_request_new("http://127.0.0.1/");
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    if (fp_request_set_method(req, bad[i]) != FP_ERR_INVALID_ARG)
      fail_msg("method '%s' was not refused", bad[i]);
    assert_string_equal(fp_request_method(req), "GET"); /* unchanged */
  }
  assert_int_equal(fp_request_set_method(req, NULL), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_set_method(NULL, "GET"), FP_ERR_INVALID_ARG);
  static const char *good[] = {"POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "PURGE",
                               "M-SEARCH", "x.y_z~!"};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    assert_int_equal(fp_request_set_method(req, good[i]), FP_OK);
    assert_string_equal(fp_request_method(req), good[i]);
  }
  fp_request_decref(req);
}

static void test_header_setter_errors(void **state) {
  static const struct {
    const char *name, *value;
  } bad[] = {
      {"", "v"},           {"X Name", "v"},    {"X:Name", "v"},         {"X-Name:", "v"},
      {" X", "v"},         {"X\r\nY", "v"},    {"X\t", "v"},            {"(X)", "v"},
      {"X-A", "a\r\nB: c"}, {"X-A", "a\rb"},   {"X-A", "a\nb"},         {"X-A", "\r\n"},
  };
  fp_request *req = fp_request_new("http://127.0.0.1/");
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int rc = fp_request_add_header(req, bad[i].name, bad[i].value);
    if (rc != FP_ERR_INVALID_HEADER)
      fail_msg("header '%s: %s' gave %d", bad[i].name, bad[i].value, rc);
  }
  static const char *bad_lines[] = {"NoColon", ": value", "X Y: v", "X : v", "X-A: a\r\nB: c",
                                    "X-A: a\n", "", ":"};
  for (size_t i = 0; i < sizeof bad_lines / sizeof bad_lines[0]; i++) {
    int rc = fp_request_add_header_line(req, bad_lines[i]);
    if (rc != FP_ERR_INVALID_HEADER)
      fail_msg("header line '%s' gave %d", bad_lines[i], rc);
  }
  assert_int_equal(req->nheaders, 0); /* nothing was added by a refused call */
  assert_int_equal(fp_request_add_header(req, NULL, "v"), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_add_header(req, "X", NULL), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_add_header(NULL, "X", "v"), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_add_header_line(req, NULL), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_add_header_line(NULL, "X: v"), FP_ERR_INVALID_ARG);
  /* a CR or LF in the user agent is a header injection too */
  assert_int_equal(fp_request_set_user_agent(req, "ua\r\nX-Injected: 1"), FP_ERR_INVALID_HEADER);
  assert_int_equal(fp_request_set_user_agent(req, "ua\n"), FP_ERR_INVALID_HEADER);
  assert_null(req->user_agent);
  fp_request_decref(req);
}

static void test_other_setter_errors(void **state) {
  fp_request *req = fp_request_new("http://127.0.0.1/");
  /* timeouts */
  assert_int_equal(fp_request_set_timeouts(req, -1, 0), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_set_timeouts(req, 0, -0.5), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_set_timeouts(req, -0.001, -1), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_set_timeouts(req, NAN, 0), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_set_timeouts(req, 0, NAN), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_set_timeouts(req, INFINITY, 0), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_set_timeouts(NULL, 1, 1), FP_ERR_INVALID_ARG);
  assert_true(req->timeout == 0 && req->connect_timeout == 0); /* unchanged */
  assert_int_equal(fp_request_set_timeouts(req, 2.5, 0.5), FP_OK);
  assert_true(req->timeout == 2.5 && req->connect_timeout == 0.5);
  assert_int_equal(fp_request_set_timeouts(req, 0, 0), FP_OK);
  /* redirects */
  assert_int_equal(fp_request_set_redirects(req, true, -1), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_set_redirects(NULL, true, 1), FP_ERR_INVALID_ARG);
  assert_int_equal(req->max_redirs, 10);
  /* body */
  assert_int_equal(fp_request_set_body(req, NULL, 3), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_set_body(NULL, "x", 1), FP_ERR_INVALID_ARG);
  assert_false(req->has_body);
  assert_int_equal(fp_request_set_body(req, "x", 1), FP_OK);
  assert_true(req->has_body);
  assert_int_equal(fp_request_set_body(req, NULL, 0), FP_OK); /* clears */
  assert_false(req->has_body);
  /* max body: 0 restores the default */
  assert_int_equal(fp_request_set_max_body(req, 5), FP_OK);
  assert_int_equal(req->max_body, 5);
  assert_int_equal(fp_request_set_max_body(req, 0), FP_OK);
  assert_int_equal(req->max_body, FP_DEFAULT_MAX_BODY);
  /* everything else refuses NULL */
  assert_int_equal(fp_request_set_url(req, NULL), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_set_url(NULL, "http://x/"), FP_ERR_INVALID_ARG);
  assert_string_equal(fp_request_url(req), "http://127.0.0.1/");
  assert_int_equal(fp_request_set_max_body(NULL, 1), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_set_keep_headers(NULL, true), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_set_user_agent(NULL, "x"), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_set_insecure(NULL, true), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_set_sink(NULL, NULL, NULL), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_set_id(NULL, NULL), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_set_index(NULL, 1), FP_ERR_INVALID_ARG);
  fp_request_set_userdata(NULL, req); /* ignored */
  fp_request_decref(req);
}

static void test_headers_on_the_wire(void **state) {
  char *url = echo_url();
  fp_request *req = fp_request_new(url);
  assert_int_equal(fp_request_add_header(req, "X-Token", "first"), FP_OK);
  assert_int_equal(fp_request_add_header(req, "Accept", "text/plain"), FP_OK);
  assert_int_equal(fp_request_add_header(req, "x-TOKEN", "second"), FP_OK); /* replaces */
  assert_int_equal(fp_request_add_header_line(req, "X-Line:\tvalue: with colon"), FP_OK);
  assert_int_equal(fp_request_add_header_line(req, "accept: application/json"), FP_OK);
  assert_int_equal(fp_request_add_header(req, "X-Empty", ""), FP_OK);
  assert_int_equal(req->nheaders, 4);
  json_t *echo = echo_of(req);
  assert_string_equal(echo_header(echo, "X-Token"), "second");
  assert_string_equal(echo_header(echo, "Accept"), "application/json");
  assert_string_equal(echo_header(echo, "X-Line"), "value: with colon");
  assert_string_equal(echo_header(echo, "X-Empty"), "");
  json_decref(echo);
  fp_request_decref(req);
  free(url);
}

/* ---- copies ---- */

static int dummy_sink(void *userdata, const void *data, size_t len) { return 0; }

static void test_copy_is_deep(void **state) {
  assert_null(fp_request_copy(NULL));
  char *url = echo_url();
  int token;
  fp_request *orig = fp_request_new(url);
  json_t *id = json_pack("{s:[i,i]}", "k", 1, 2);
  assert_int_equal(fp_request_set_method(orig, "PUT"), FP_OK);
  assert_int_equal(fp_request_add_header(orig, "X-A", "a"), FP_OK);
  assert_int_equal(fp_request_add_header(orig, "X-B", "b"), FP_OK);
  assert_int_equal(fp_request_set_body(orig, "bo\0dy", 5), FP_OK);
  assert_int_equal(fp_request_set_user_agent(orig, "copy-agent/1"), FP_OK);
  assert_int_equal(fp_request_set_timeouts(orig, 30, 3), FP_OK);
  assert_int_equal(fp_request_set_max_body(orig, 12345), FP_OK);
  assert_int_equal(fp_request_set_redirects(orig, false, 4), FP_OK);
  assert_int_equal(fp_request_set_keep_headers(orig, true), FP_OK);
  assert_int_equal(fp_request_set_insecure(orig, true), FP_OK);
  assert_int_equal(fp_request_set_sink(orig, dummy_sink, &token), FP_OK);
  assert_int_equal(fp_request_set_id(orig, id), FP_OK);
  assert_int_equal(fp_request_set_index(orig, 42), FP_OK);
  fp_request_set_userdata(orig, &token);

  fp_request *copy = fp_request_copy(orig);
  assert_non_null(copy);
  assert_ptr_not_equal(copy, orig);
  assert_ptr_not_equal(fp_request_url(copy), fp_request_url(orig));
  assert_ptr_not_equal(copy->headers, orig->headers);
  assert_ptr_not_equal(copy->body, orig->body);

  /* change and drop the original: the copy keeps what it had */
  assert_int_equal(fp_request_set_url(orig, "http://127.0.0.1:1/changed"), FP_OK);
  assert_int_equal(fp_request_set_method(orig, "DELETE"), FP_OK);
  assert_int_equal(fp_request_add_header(orig, "x-a", "changed"), FP_OK);
  assert_int_equal(fp_request_add_header(orig, "X-C", "new"), FP_OK);
  assert_int_equal(fp_request_set_body(orig, "other", 5), FP_OK);
  assert_int_equal(fp_request_set_user_agent(orig, NULL), FP_OK);
  assert_int_equal(fp_request_set_timeouts(orig, 0, 0), FP_OK);
  assert_int_equal(fp_request_set_index(orig, 1), FP_OK);
  assert_int_equal(fp_request_set_id(orig, NULL), FP_OK);
  fp_request_decref(orig);

  uint64_t index = 0;
  assert_string_equal(fp_request_url(copy), url);
  assert_string_equal(fp_request_method(copy), "PUT");
  assert_true(fp_request_index(copy, &index));
  assert_int_equal(index, 42);
  assert_ptr_equal(fp_request_userdata(copy), &token);
  assert_true(json_equal(fp_request_id(copy), id));
  assert_true(copy->timeout == 30 && copy->connect_timeout == 3);
  assert_int_equal(copy->max_body, 12345);
  assert_false(copy->follow_redirects);
  assert_int_equal(copy->max_redirs, 4);
  assert_true(copy->keep_headers);
  assert_true(copy->insecure);
  assert_ptr_equal(copy->sink, dummy_sink);
  assert_ptr_equal(copy->sink_userdata, &token);
  json_decref(id);

  /* on the wire (no sink, so /echo's reply is kept) */
  assert_int_equal(fp_request_set_sink(copy, NULL, NULL), FP_OK);
  json_t *echo = echo_of(copy);
  assert_string_equal(echo_str(echo, "method"), "PUT");
  assert_int_equal(json_integer_value(json_object_get(echo, "body_length")), 5);
  assert_memory_equal(echo_str(echo, "body"), "bo\0dy", 5);
  assert_string_equal(echo_header(echo, "X-A"), "a");
  assert_string_equal(echo_header(echo, "X-B"), "b");
  assert_absent(echo, "X-C");
  assert_string_equal(echo_header(echo, "User-Agent"), "copy-agent/1");
  json_decref(echo);
  fp_request_decref(copy);
  free(url);
}

/* ---- JSON job objects ---- */

static void test_from_json_full(void **state) {
  char *url = echo_url();
  char text[1024];
  fp_error err;
  snprintf(text, sizeof text,
           "{\"url\": \"%s\", \"method\": \"PATCH\", "
           "\"headers\": {\"X-A\": \"1\", \"X-Empty\": \"\", \"x-a\": \"2\"}, "
           "\"body\": \"json body\", \"timeout\": 5.5, \"connect_timeout\": 2, "
           "\"stall_timeout\": 0.25, \"attempt_timeout\": 1.5, \"max_redirs\": 3, \"id\": {\"k\": [1, \"two\"]}, \"unknown\": [1]}",
           url);
  fp_request *req = from_text(text, NULL, &err);
  if (!req)
    fail_msg("refused: %s", err.text);
  assert_int_equal(err.code, FP_OK);
  assert_string_equal(fp_request_url(req), url);
  assert_string_equal(fp_request_method(req), "PATCH");
  json_t *want_id = json_loads("{\"k\": [1, \"two\"]}", 0, NULL);
  assert_true(json_equal(fp_request_id(req), want_id));
  json_decref(want_id);
  assert_true(req->timeout == 5.5);
  assert_true(req->connect_timeout == 2);
  assert_true(req->stall_timeout == 0.25);
  assert_true(req->attempt_timeout == 1.5);
  assert_int_equal(req->max_redirs, 3);
  assert_true(req->follow_redirects);
  assert_false(fp_request_index(req, NULL)); /* index is the caller's, not the job's */
  json_t *echo = echo_of(req);
  assert_string_equal(echo_str(echo, "method"), "PATCH");
  assert_string_equal(echo_str(echo, "body"), "json body");
  assert_string_equal(echo_header(echo, "X-A"), "2"); /* same name, last wins */
  assert_string_equal(echo_header(echo, "X-Empty"), "");
  json_decref(echo);
  fp_request_decref(req);

  /* only a url: the library defaults */
  snprintf(text, sizeof text, "{\"url\": \"%s\"}", url);
  req = from_text(text, NULL, &err);
  assert_non_null(req);
  assert_string_equal(fp_request_method(req), "GET");
  assert_null(fp_request_id(req));
  assert_int_equal(req->max_redirs, 10);
  assert_true(req->follow_redirects);
  assert_false(req->has_body);
  assert_true(req->timeout == 0);
  fp_request_decref(req);

  /* null fields are absent fields */
  snprintf(text, sizeof text,
           "{\"url\": \"%s\", \"headers\": null, \"body\": null, \"timeout\": null, "
           "\"max_redirs\": null}",
           url);
  req = from_text(text, NULL, &err);
  assert_non_null(req);
  assert_false(req->has_body);
  assert_int_equal(req->max_redirs, 10);
  fp_request_decref(req);

  /* max_redirs 0: redirects are not followed */
  snprintf(text, sizeof text, "{\"url\": \"%s\", \"max_redirs\": 0}", url);
  req = from_text(text, NULL, &err);
  assert_non_null(req);
  assert_false(req->follow_redirects);
  fp_request_decref(req);
  free(url);
}

static void test_from_json_header_array(void **state) {
  char *url = echo_url();
  char text[512];
  fp_error err;
  snprintf(text, sizeof text,
           "{\"url\": \"%s\", \"headers\": [\"X-A: 1\", \"X-B:2\", \"X-C:\", "
           "\"X-D: \\t  spaced\"]}",
           url);
  fp_request *req = from_text(text, NULL, &err);
  if (!req)
    fail_msg("refused: %s", err.text);
  json_t *echo = echo_of(req);
  assert_string_equal(echo_header(echo, "X-A"), "1");
  assert_string_equal(echo_header(echo, "X-B"), "2");
  assert_string_equal(echo_header(echo, "X-C"), "");
  assert_string_equal(echo_header(echo, "X-D"), "spaced"); /* leading blanks dropped */
  json_decref(echo);
  fp_request_decref(req);
  free(url);
}

static void test_from_json_base(void **state) {
  char *url = echo_url();
  char text[512];
  fp_error err;
  fp_request *base = fp_request_new("http://127.0.0.1:1/base");
  json_t *base_id = json_string("base-id");
  assert_int_equal(fp_request_set_method(base, "POST"), FP_OK);
  assert_int_equal(fp_request_add_header(base, "X-Token", "old"), FP_OK);
  assert_int_equal(fp_request_add_header(base, "Accept", "text/plain"), FP_OK);
  assert_int_equal(fp_request_set_body(base, "base body", 9), FP_OK);
  assert_int_equal(fp_request_set_user_agent(base, "base-agent/1"), FP_OK);
  assert_int_equal(fp_request_set_id(base, base_id), FP_OK);
  json_decref(base_id);

  snprintf(text, sizeof text,
           "{\"url\": \"%s\", \"headers\": {\"x-token\": \"new\", \"X-More\": \"m\"}}", url);
  fp_request *req = from_text(text, base, &err);
  if (!req)
    fail_msg("refused: %s", err.text);
  assert_string_equal(fp_request_url(req), url);
  assert_string_equal(json_string_value(fp_request_id(req)), "base-id");
  json_t *echo = echo_of(req);
  assert_string_equal(echo_str(echo, "method"), "POST");
  assert_string_equal(echo_str(echo, "body"), "base body");
  assert_string_equal(echo_header(echo, "X-Token"), "new");
  assert_string_equal(echo_header(echo, "Accept"), "text/plain");
  assert_string_equal(echo_header(echo, "X-More"), "m");
  assert_string_equal(echo_header(echo, "User-Agent"), "base-agent/1");
  json_decref(echo);
  fp_request_decref(req);

  /* the job's own fields win over the base's */
  snprintf(text, sizeof text,
           "{\"url\": \"%s\", \"method\": \"PUT\", \"body\": \"mine\", \"id\": 5, "
           "\"headers\": [\"ACCEPT: */*\"]}",
           url);
  req = from_text(text, base, &err);
  assert_non_null(req);
  assert_int_equal(json_integer_value(fp_request_id(req)), 5);
  echo = echo_of(req);
  assert_string_equal(echo_str(echo, "method"), "PUT");
  assert_string_equal(echo_str(echo, "body"), "mine");
  assert_string_equal(echo_header(echo, "Accept"), "*/*");
  assert_string_equal(echo_header(echo, "X-Token"), "old");
  json_decref(echo);
  fp_request_decref(req);

  /* the base is untouched */
  assert_string_equal(fp_request_url(base), "http://127.0.0.1:1/base");
  assert_string_equal(fp_request_method(base), "POST");
  assert_string_equal(json_string_value(fp_request_id(base)), "base-id");
  assert_int_equal(base->nheaders, 2);
  assert_string_equal(base->headers[0].value, "old");
  fp_request_decref(base);
  free(url);
}

static void test_from_json_id_types(void **state) {
  static const char *ids[] = {"\"abc\"", "0", "-12", "1.5", "true", "false", "null",
                              "[1, [2], {}]", "{\"a\": {\"b\": null}}", "\"\""};
  for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
    char text[256];
    fp_error err;
    snprintf(text, sizeof text, "{\"url\": \"http://127.0.0.1/\", \"id\": %s}", ids[i]);
    fp_request *req = from_text(text, NULL, &err);
    if (!req)
      fail_msg("id %s refused: %s", ids[i], err.text);
    json_t *want = json_loads(ids[i], JSON_DECODE_ANY, NULL);
    assert_non_null(want);
    assert_non_null(fp_request_id(req));
    if (!json_equal(fp_request_id(req), want))
      fail_msg("id %s not kept", ids[i]);
    json_decref(want);
    fp_request_decref(req);
  }
}

static void test_from_json_errors(void **state) {
  /* url */
  assert_job_error("{}", FP_ERR_INVALID_URL, "'url'");
  assert_job_error("{\"method\": \"GET\"}", FP_ERR_INVALID_URL, "'url'");
  assert_job_error("{\"url\": 42}", FP_ERR_INVALID_URL, "'url'");
  assert_job_error("{\"url\": null}", FP_ERR_INVALID_URL, "'url'");
  assert_job_error("{\"url\": [\"http://x/\"]}", FP_ERR_INVALID_URL, "'url'");
  /* method */
  assert_job_error("{\"url\": \"http://x/\", \"method\": 5}", FP_ERR_INVALID_REQUEST, "'method'");
  assert_job_error("{\"url\": \"http://x/\", \"method\": \"GE T\"}", FP_ERR_INVALID_REQUEST,
                   "'method'");
  assert_job_error("{\"url\": \"http://x/\", \"method\": \"\"}", FP_ERR_INVALID_REQUEST,
                   "'method'");
  /* headers */
  assert_job_error("{\"url\": \"http://x/\", \"headers\": \"X-A: 1\"}", FP_ERR_INVALID_REQUEST,
                   "'headers'");
  assert_job_error("{\"url\": \"http://x/\", \"headers\": 5}", FP_ERR_INVALID_REQUEST,
                   "'headers'");
  assert_job_error("{\"url\": \"http://x/\", \"headers\": {\"X-A\": 5}}", FP_ERR_INVALID_REQUEST,
                   "X-A");
  assert_job_error("{\"url\": \"http://x/\", \"headers\": {\"X-A\": null}}",
                   FP_ERR_INVALID_REQUEST, "'headers'");
  assert_job_error("{\"url\": \"http://x/\", \"headers\": {\"X-A\": \"a\\r\\nX-Injected: 1\"}}",
                   FP_ERR_INVALID_HEADER, "'headers'");
  assert_job_error("{\"url\": \"http://x/\", \"headers\": {\"X-A\": \"a\\nb\"}}",
                   FP_ERR_INVALID_HEADER, "X-A");
  assert_job_error("{\"url\": \"http://x/\", \"headers\": {\"Bad Name\": \"v\"}}",
                   FP_ERR_INVALID_HEADER, "'headers'");
  assert_job_error("{\"url\": \"http://x/\", \"headers\": {\"\": \"v\"}}", FP_ERR_INVALID_HEADER,
                   "'headers'");
  assert_job_error("{\"url\": \"http://x/\", \"headers\": [\"NoColon\"]}", FP_ERR_INVALID_HEADER,
                   "'headers'");
  assert_job_error("{\"url\": \"http://x/\", \"headers\": [\"X-A: a\\r\\nB: c\"]}",
                   FP_ERR_INVALID_HEADER, "'headers'");
  assert_job_error("{\"url\": \"http://x/\", \"headers\": [\"X-A: 1\", 5]}",
                   FP_ERR_INVALID_REQUEST, "'headers'");
  /* body */
  assert_job_error("{\"url\": \"http://x/\", \"body\": 5}", FP_ERR_INVALID_REQUEST, "'body'");
  /* an object or array body is JSON now (test_from_json_json_bodies); a number is not */
  assert_job_error("{\"url\": \"http://x/\", \"body\": 1}", FP_ERR_INVALID_REQUEST,
                   "body");
  /* timeouts */
  assert_job_error("{\"url\": \"http://x/\", \"timeout\": -1}", FP_ERR_INVALID_REQUEST,
                   "'timeout'");
  assert_job_error("{\"url\": \"http://x/\", \"timeout\": -0.5}", FP_ERR_INVALID_REQUEST,
                   "'timeout'");
  assert_job_error("{\"url\": \"http://x/\", \"timeout\": \"5\"}", FP_ERR_INVALID_REQUEST,
                   "'timeout'");
  assert_job_error("{\"url\": \"http://x/\", \"timeout\": true}", FP_ERR_INVALID_REQUEST,
                   "'timeout'");
  assert_job_error("{\"url\": \"http://x/\", \"connect_timeout\": -2}", FP_ERR_INVALID_REQUEST,
                   "'connect_timeout'");
  assert_job_error("{\"url\": \"http://x/\", \"connect_timeout\": \"1\"}",
                   FP_ERR_INVALID_REQUEST, "'connect_timeout'");
  assert_job_error("{\"url\": \"http://x/\", \"stall_timeout\": -1}", FP_ERR_INVALID_REQUEST,
                   "'stall_timeout'");
  assert_job_error("{\"url\": \"http://x/\", \"attempt_timeout\": -1}", FP_ERR_INVALID_REQUEST,
                   "'attempt_timeout'");
  /* max_redirs */
  assert_job_error("{\"url\": \"http://x/\", \"max_redirs\": -1}", FP_ERR_INVALID_REQUEST,
                   "'max_redirs'");
  assert_job_error("{\"url\": \"http://x/\", \"max_redirs\": 1.5}", FP_ERR_INVALID_REQUEST,
                   "'max_redirs'");
  assert_job_error("{\"url\": \"http://x/\", \"max_redirs\": \"3\"}", FP_ERR_INVALID_REQUEST,
                   "'max_redirs'");

  /* not an object at all */
  fp_error err = {0};
  json_t *arr = json_pack("[s]", "http://x/");
  assert_null(fp_request_from_json(arr, NULL, &err));
  assert_int_equal(err.code, FP_ERR_INVALID_REQUEST);
  json_decref(arr);
  fp_error_clear(&err);
  assert_null(fp_request_from_json(NULL, NULL, &err));
  assert_int_equal(err.code, FP_ERR_INVALID_REQUEST);

  /* a NUL inside a header value (possible in a jansson string) is refused,
   * not silently cut */
  json_t *obj = json_pack("{s:s, s:{s:s%}}", "url", "http://x/", "headers", "X-A", "a\0b",
                          (size_t)3);
  assert_non_null(obj);
  fp_error_clear(&err);
  fp_request *req = fp_request_from_json(obj, NULL, &err);
  if (req) {
    fp_request_decref(req);
    fail_msg("a NUL in a header value was accepted");
  }
  assert_int_equal(err.code, FP_ERR_INVALID_HEADER);
  assert_non_null(strstr(err.text, "'headers'"));
  json_decref(obj);
}

/* ---- error codes ---- */

static void test_code_names(void **state) {
  static const struct {
    int code;
    int value;
    const char *name;
  } codes[] = {
      {FP_OK, 0, "ok"},
      {FP_ERR_INVALID_ARG, -1, "invalid_argument"},
      {FP_ERR_NOMEM, -2, "out_of_memory"},
      {FP_ERR_SHUTDOWN, -3, "shutdown"},
      {FP_ERR_WAIT_TIMEOUT, -4, "wait_timeout"},
      {FP_ERR_WOULD_BLOCK, -5, "would_block"},
      {FP_ERR_CANCELLED, -6, "cancelled"},
      {FP_ERR_EXHAUSTED, -7, "exhausted"},
      {FP_ERR_INITIALIZER, -8, "initializer"},
      {FP_ERR_SYSTEM, -9, "system"},
      {FP_ERR_WORKER_THREAD, -10, "worker_thread"},
      {FP_ERR_INVALID_URL, -20, "invalid_url"},
      {FP_ERR_INVALID_JSON, -21, "invalid_json"},
      {FP_ERR_INVALID_HEADER, -22, "invalid_header"},
      {FP_ERR_INVALID_REQUEST, -23, "invalid_request"},
      {FP_ERR_UNSUPPORTED_PROTOCOL, -30, "unsupported_protocol"},
      {FP_ERR_DNS, -31, "dns"},
      {FP_ERR_CONNECT, -32, "connect"},
      {FP_ERR_CONNECT_TIMEOUT, -33, "connect_timeout"},
      {FP_ERR_TIMEOUT, -34, "timeout"},
      {FP_ERR_STALL_TIMEOUT, -35, "stall_timeout"},
      {FP_ERR_TLS, -36, "tls"},
      {FP_ERR_TOO_MANY_REDIRECTS, -37, "too_many_redirects"},
      {FP_ERR_BODY_TOO_LARGE, -38, "body_too_large"},
      {FP_ERR_HEADERS_TOO_LARGE, -39, "headers_too_large"},
      {FP_ERR_NETWORK, -40, "network"},
      {FP_ERR_PROTOCOL, -41, "protocol"},
      {FP_ERR_SINK_ABORTED, -42, "aborted"},
      {FP_ERR_HTTP, -43, "http"},
      {FP_ERR_INTERNAL, -44, "internal"},
  };
  size_t n = sizeof codes / sizeof codes[0];
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(codes[i].code, codes[i].value); /* values are stable */
    if (codes[i].code == FP_ERR_SINK_ABORTED) /* its deprecated old name */
      assert_int_equal(FP_ERR_ABORTED, FP_ERR_SINK_ABORTED);
    assert_string_equal(fp_code_name(codes[i].code), codes[i].name);
    const char *text = fp_strerror(codes[i].code);
    assert_non_null(text);
    assert_true(strlen(text) > 0);
    assert_string_not_equal(text, "unknown error");
    for (size_t j = 0; j < i; j++) /* every code has its own text */
      if (strcmp(text, fp_strerror(codes[j].code)) == 0)
        fail_msg("%s and %s share the text '%s'", codes[i].name, codes[j].name, text);
  }
  /* every value from -44 to 0 that is not a code is unknown */
  for (int c = -50; c <= 5; c++) {
    bool known = false;
    for (size_t i = 0; i < n; i++)
      known |= codes[i].code == c;
    if (!known) {
      assert_string_equal(fp_code_name(c), "unknown");
      assert_string_equal(fp_strerror(c), "unknown error");
    }
  }
  assert_string_equal(fp_strerror(FP_OK), "success");
  assert_string_equal(fp_code_name(1000), "unknown");
  assert_string_equal(fp_strerror(-1000), "unknown error");
}

static void test_error_first_wins(void **state) {
  fp_error err;
  memset(&err, 'x', sizeof err);
  fp_error_clear(&err);
  assert_int_equal(err.code, FP_OK);
  assert_string_equal(err.text, "");
  fp_error_clear(NULL);

  /* the first failure fills it ... */
  json_t *bad_url = json_pack("{s:i}", "url", 1);
  json_t *bad_body = json_pack("{s:s, s:i}", "url", "http://x/", "body", 1);
  assert_null(fp_request_from_json(bad_url, NULL, &err));
  assert_int_equal(err.code, FP_ERR_INVALID_URL);
  char first[sizeof err.text];
  memcpy(first, err.text, sizeof first);
  /* ... and a second one does not overwrite it */
  assert_null(fp_request_from_json(bad_body, NULL, &err));
  assert_int_equal(err.code, FP_ERR_INVALID_URL);
  assert_string_equal(err.text, first);
  /* once cleared, the next failure is recorded */
  fp_error_clear(&err);
  assert_null(fp_request_from_json(bad_body, NULL, &err));
  assert_int_equal(err.code, FP_ERR_INVALID_REQUEST);
  assert_non_null(strstr(err.text, "'body'"));
  /* success leaves it alone */
  json_t *good = json_pack("{s:s}", "url", "http://x/");
  fp_request *req = fp_request_from_json(good, NULL, &err);
  assert_non_null(req);
  assert_int_equal(err.code, FP_ERR_INVALID_REQUEST);
  fp_request_decref(req);

  /* a long field name is cut, and the text stays NUL-terminated */
  char name[400];
  memset(name, 'N', sizeof name - 1);
  name[sizeof name - 1] = '\0';
  json_t *long_name = json_pack("{s:s, s:{s:i}}", "url", "http://x/", "headers", name, 1);
  fp_error_clear(&err);
  assert_null(fp_request_from_json(long_name, NULL, &err));
  assert_int_equal(err.code, FP_ERR_INVALID_REQUEST);
  assert_true(strlen(err.text) < sizeof err.text);
  json_decref(long_name);
  json_decref(good);
  json_decref(bad_body);
  json_decref(bad_url);
}

/* ---- header caps, and linear cost ---- */

/* A JSON job with n headers "X-H<i>: v<i>" (as an object, or an array of
 * lines), each value padded to vlen bytes. NEW text (free). */
static char *job_with_headers(size_t n, size_t vlen, bool as_array) {
  size_t cap = 256 + n * (vlen + 40);
  char *text = malloc(cap), *p = text;
  assert_non_null(text);
  char *url = echo_url();
  p += sprintf(p, "{\"url\": \"%s\", \"headers\": %c", url, as_array ? '[' : '{');
  for (size_t i = 0; i < n; i++) {
    p += sprintf(p, as_array ? "%s\"X-H%zu: " : "%s\"X-H%zu\": \"", i ? ", " : "", i);
    memset(p, 'v', vlen);
    p += vlen;
    *p++ = '"';
  }
  p += sprintf(p, "%c}", as_array ? ']' : '}');
  free(url);
  return text;
}

static void test_header_caps(void **state) {
  double scale = tu_time_scale();
  for (int as_array = 0; as_array < 2; as_array++) {
    /* at the cap: accepted, and every header is sent */
    char *text = job_with_headers(FP_MAX_REQUEST_HEADERS, 8, as_array);
    fp_error err;
    double t0 = tu_now();
    fp_request *req = from_text(text, NULL, &err);
    free(text);
    if (!req)
      fail_msg("%d headers refused: %s", FP_MAX_REQUEST_HEADERS, err.text);
    json_t *echo = echo_of(req);
    print_message("%d headers parsed and sent in %.3f s\n", FP_MAX_REQUEST_HEADERS, tu_now() - t0);
    assert_true(tu_now() - t0 < 2.0 * scale);
    assert_string_equal(echo_header(echo, "X-H0"), "vvvvvvvv");
    assert_string_equal(echo_header(echo, "X-H999"), "vvvvvvvv");
    json_decref(echo);
    fp_request_decref(req);
    /* one more: invalid_request, saying which limit */
    text = job_with_headers(FP_MAX_REQUEST_HEADERS + 1, 8, as_array);
    req = from_text(text, NULL, &err);
    assert_null(req);
    assert_int_equal(err.code, FP_ERR_INVALID_REQUEST);
    assert_non_null(strstr(err.text, "more than 1000 headers"));
    free(text);
    /* under the count cap but over the bytes cap */
    text = job_with_headers(3, 100 * 1024, as_array);
    req = from_text(text, NULL, &err);
    assert_null(req);
    assert_int_equal(err.code, FP_ERR_INVALID_REQUEST);
    assert_non_null(strstr(err.text, "262144 bytes"));
    free(text);
  }
  /* 100,000 headers are refused at once, not parsed for seconds and then
   * failed as out_of_memory */
  char *text = job_with_headers(100000, 1, false);
  fp_error err;
  double t0 = tu_now();
  assert_null(from_text(text, NULL, &err));
  print_message("100000 headers refused in %.3f s\n", tu_now() - t0);
  assert_int_equal(err.code, FP_ERR_INVALID_REQUEST);
  assert_true(tu_now() - t0 < 2.0 * scale);
  free(text);

  /* the API: replacing a header at the cap is fine, a new one is not, and
   * the User-Agent counts toward the bytes */
  fp_request *req = fp_request_new("http://127.0.0.1/");
  char name[32];
  for (int i = 0; i < FP_MAX_REQUEST_HEADERS; i++) {
    snprintf(name, sizeof name, "X-N%d", i);
    assert_int_equal(fp_request_add_header(req, name, "1"), FP_OK);
  }
  assert_int_equal(fp_request_add_header(req, "x-n7", "replaced"), FP_OK);
  assert_int_equal(fp_request_add_header(req, "X-New", "1"), FP_ERR_INVALID_REQUEST);
  fp_request *copy = fp_request_copy(req); /* a copy at the cap is whole */
  assert_non_null(copy);
  fp_request_decref(copy);
  fp_request_decref(req);
  req = fp_request_new("http://127.0.0.1/");
  char *big = malloc(200 * 1024 + 1);
  assert_non_null(big);
  memset(big, 'u', 200 * 1024);
  big[200 * 1024] = '\0';
  assert_int_equal(fp_request_add_header(req, "X-Big", big), FP_OK);
  assert_int_equal(fp_request_set_user_agent(req, big), FP_ERR_INVALID_REQUEST);
  free(big);
  fp_request_decref(req);
}

/* ---- batch-in: JSON bodies and reading a request back ---- */

/* The body of req as a NUL-terminated string (NEW). */
static char *body_of(const fp_request *req) {
  size_t len;
  const char *b = fp_request_body(req, &len);
  assert_non_null(b);
  return strndup(b, len);
}

static void test_from_json_json_bodies(void **state) {
  fp_error err;
  /* "json": any value is sent serialized, labelled JSON */
  fp_request *req = from_text("{\"url\":\"http://h/\",\"json\":{\"a\":[1,\"x\"]}}", NULL, &err);
  assert_non_null(req);
  char *b = body_of(req);
  assert_string_equal(b, "{\"a\":[1,\"x\"]}");
  assert_string_equal(fp_request_header(req, "content-type"), "application/json");
  free(b);
  fp_request_decref(req);
  req = from_text("{\"url\":\"http://h/\",\"json\":42}", NULL, &err);
  assert_non_null(req);
  b = body_of(req);
  assert_string_equal(b, "42");
  free(b);
  fp_request_decref(req);
  /* a "body" object or array is the same */
  req = from_text("{\"url\":\"http://h/\",\"body\":[true,null]}", NULL, &err);
  assert_non_null(req);
  b = body_of(req);
  assert_string_equal(b, "[true,null]");
  assert_string_equal(fp_request_header(req, "Content-Type"), "application/json");
  free(b);
  fp_request_decref(req);
  /* the job's own Content-Type stays */
  req = from_text("{\"url\":\"http://h/\",\"headers\":{\"content-type\":\"application/x+json\"},"
                  "\"json\":{}}", NULL, &err);
  assert_non_null(req);
  assert_string_equal(fp_request_header(req, "Content-Type"), "application/x+json");
  assert_int_equal(fp_request_header_count(req), 1);
  fp_request_decref(req);
  /* so does base's */
  fp_request *base = fp_request_new("");
  assert_int_equal(fp_request_add_header(base, "Content-Type", "text/plain"), FP_OK);
  req = from_text("{\"url\":\"http://h/\",\"json\":\"s\"}", base, &err);
  assert_non_null(req);
  assert_string_equal(fp_request_header(req, "content-TYPE"), "text/plain");
  b = body_of(req);
  assert_string_equal(b, "\"s\"");
  free(b);
  fp_request_decref(req);
  fp_request_decref(base);
  /* a string body is sent as it is, with no Content-Type added */
  req = from_text("{\"url\":\"http://h/\",\"body\":\"{}\"}", NULL, &err);
  assert_non_null(req);
  assert_null(fp_request_header(req, "Content-Type"));
  fp_request_decref(req);
  assert_job_error("{\"url\":\"http://h/\",\"json\":1,\"body\":\"x\"}", FP_ERR_INVALID_REQUEST,
                   "json");
  assert_job_error("{\"url\":\"http://h/\",\"body\":5}", FP_ERR_INVALID_REQUEST, "body");
}

static void test_header_and_body_getters(void **state) {
  fp_request *req = fp_request_new("http://h/");
  size_t len = 99;
  const char *name, *value;
  assert_null(fp_request_body(req, &len));
  assert_int_equal(len, 0);
  assert_int_equal(fp_request_header_count(req), 0);
  assert_null(fp_request_header(req, "X"));
  assert_int_equal(fp_request_header_at(req, 0, &name, &value), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_add_header(req, "A", "1"), FP_OK);
  assert_int_equal(fp_request_add_header_line(req, "B: 2"), FP_OK);
  assert_int_equal(fp_request_add_header(req, "a", "3"), FP_OK); /* replaces A */
  assert_int_equal(fp_request_header_count(req), 2);
  assert_int_equal(fp_request_header_at(req, 0, &name, &value), FP_OK);
  assert_string_equal(name, "a");
  assert_string_equal(value, "3");
  assert_int_equal(fp_request_header_at(req, 1, &name, &value), FP_OK);
  assert_string_equal(name, "B");
  assert_string_equal(fp_request_header(req, "b"), "2");
  assert_int_equal(fp_request_set_body(req, "a\0b", 3), FP_OK);
  assert_memory_equal(fp_request_body(req, &len), "a\0b", 3);
  assert_int_equal(len, 3);
  assert_int_equal(fp_request_header_count(NULL), 0);
  assert_null(fp_request_body(NULL, &len));
  fp_request_decref(req);
}

/* The curl-style setters refuse what they cannot send, and JSON job keys
 * are checked with messages that name the field, never a credential. */
static void test_curl_style_setters(void **state) {
  fp_request *req = fp_request_new("http://x/");
  assert_int_equal(fp_request_set_auth(req, 0x100), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_set_auth(req, FP_AUTH_DIGEST | FP_AUTH_NTLM), FP_OK);
  assert_int_equal(fp_request_set_bearer(req, "a\r\nX: y"), FP_ERR_INVALID_HEADER);
  assert_int_equal(fp_request_set_referer(req, "r\n", false), FP_ERR_INVALID_HEADER);
  assert_int_equal(fp_request_set_request_target(req, "/a b"), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_set_request_target(req, ""), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_set_request_target(req, "*"), FP_OK);
  assert_int_equal(fp_request_set_netrc(req, (fp_netrc)7, NULL), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_add_form_part(req, "n", NULL, 0, NULL, NULL, NULL),
                   FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_add_form_part(req, "n", "v", 1, "/f", NULL, NULL),
                   FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_add_form_part(req, "n", "v", 1, NULL, "text/plain", NULL), FP_OK);
  assert_int_equal(fp_request_set_credentials(req, "u", NULL), FP_OK);
  fp_request *copy = fp_request_copy(req);
  assert_non_null(copy);
  fp_request_decref(copy);
  fp_request_decref(req);

  static const struct {
    const char *json, *field;
  } bad[] = {
      {"{\"url\":\"http://x/\",\"user\":5}", "'user'"},
      {"{\"url\":\"http://x/\",\"auth\":\"kerberos\"}", "'auth'"},
      {"{\"url\":\"http://x/\",\"oauth2_bearer\":\"s3cret\\n\"}", "'oauth2_bearer'"},
      {"{\"url\":\"http://x/\",\"request_target\":\"a b\"}", "'request_target'"},
      {"{\"url\":\"http://x/\",\"path_as_is\":1}", "'path_as_is'"},
      {"{\"url\":\"http://x/\",\"limit_rate\":-1}", "'limit_rate'"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    json_t *obj = json_loads(bad[i].json, 0, NULL);
    assert_non_null(obj);
    fp_error err = {0};
    assert_null(fp_request_from_json(obj, NULL, &err));
    if (!strstr(err.text, bad[i].field) || strstr(err.text, "s3cret"))
      fail_msg("%s: '%s'", bad[i].json, err.text);
    json_decref(obj);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      TU_TEST(test_defaults_and_getters),
      TU_TEST(test_method_setter),
      TU_TEST(test_header_setter_errors),
      TU_TEST(test_other_setter_errors),
      TU_TEST(test_curl_style_setters),
      TU_TEST(test_headers_on_the_wire),
      TU_TEST(test_copy_is_deep),
      TU_TEST(test_from_json_full),
      TU_TEST(test_from_json_header_array),
      TU_TEST(test_from_json_base),
      TU_TEST(test_from_json_id_types),
      TU_TEST(test_from_json_errors),
      TU_TEST(test_code_names),
      TU_TEST(test_error_first_wins),
      TU_TEST(test_header_caps),
      TU_TEST(test_from_json_json_bodies),
      TU_TEST(test_header_and_body_getters),
  };
  return cmocka_run_group_tests_name("request", tests, tu_setup_server, tu_teardown_server);
}
