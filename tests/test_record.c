/* test_record.c: records, a finished job as a JSON object (src/record.c):
 * the schema and its key order, error objects, bodies as text or base64,
 * bad input lines, cancelled jobs, and text that is not UTF-8. */
#include "testutil.h"

/* ---- helpers ---- */

/* Run req (BORROWED) and return its future once done (NEW). */
static fp_future *run(fp_executor *ex, fp_request *req) {
  fp_error err = {0};
  fp_future *f = fp_executor_submit(ex, req, &err);
  if (!f)
    fail_msg("submit: %s (%s)", err.text, fp_code_name(err.code));
  assert_int_equal(fp_future_wait(f, 60), FP_OK);
  return f;
}

/* The record of req run on ex with flags (NEW); both fp_record_new and
 * fp_future_record must give the same object. Steals req. */
static json_t *record_of(fp_executor *ex, fp_request *req, unsigned flags) {
  fp_future *f = run(ex, req);
  const fp_response *resp = fp_future_response(f);
  assert_non_null(resp);
  json_t *rec = fp_record_new(req, resp, flags);
  json_t *frec = fp_future_record(f, flags);
  assert_non_null(rec);
  assert_non_null(frec);
  assert_true(json_equal(rec, frec));
  /* every record serializes */
  char *text = json_dumps(rec, JSON_COMPACT);
  assert_non_null(text);
  free(text);
  json_decref(frec);
  fp_future_decref(f);
  fp_request_decref(req);
  return rec;
}

/* Assert that obj has exactly the keys of the NULL-terminated list, in
 * that order. */
static void assert_keys(const json_t *obj, const char *const *keys) {
  size_t i = 0;
  const char *key;
  json_t *v;
  assert_true(json_is_object(obj));
  json_object_foreach((json_t *)obj, key, v) {
    if (!keys[i])
      fail_msg("unexpected key '%s' at position %zu", key, i);
    if (strcmp(key, keys[i]) != 0)
      fail_msg("key %zu is '%s', expected '%s'", i, key, keys[i]);
    i++;
  }
  if (keys[i])
    fail_msg("missing key '%s' at position %zu", keys[i], i);
}

static const char *str_of(const json_t *rec, const char *key) {
  const char *s = json_string_value(json_object_get(rec, key));
  if (!s)
    fail_msg("'%s' is not a string", key);
  return s;
}

static long long int_of(const json_t *rec, const char *key) {
  json_t *v = json_object_get(rec, key);
  if (!json_is_integer(v))
    fail_msg("'%s' is not an integer", key);
  return json_integer_value(v);
}

/* "error" must be {"code": code, "message": a non-empty string}. */
static void assert_error_obj(const json_t *rec, const char *code) {
  static const char *const keys[] = {"code", "message", NULL};
  json_t *e = json_object_get(rec, "error");
  if (!json_is_object(e))
    fail_msg("error is not an object");
  assert_keys(e, keys);
  assert_string_equal(str_of(e, "code"), code);
  assert_true(strlen(str_of(e, "message")) > 0);
}

static const char *const base_keys[] = {"url",          "status",     "ok",    "error",
                                        "effective_url", "elapsed_ms", "bytes", "attempts", "http_version",
                                        NULL};

/* ---- schema ---- */

static void test_schema_200(void **state) {
  fp_executor *ex = tu_executor(1, 0, NULL);
  char *url = tu_url("/hello");
  json_t *rec = record_of(ex, fp_request_new(url), 0);
  assert_keys(rec, base_keys);
  assert_string_equal(str_of(rec, "url"), url);
  assert_int_equal(int_of(rec, "status"), 200);
  assert_true(json_is_true(json_object_get(rec, "ok")));
  assert_true(json_is_null(json_object_get(rec, "error")));
  assert_string_equal(str_of(rec, "effective_url"), url);
  assert_true(json_is_real(json_object_get(rec, "elapsed_ms")));
  assert_true(json_real_value(json_object_get(rec, "elapsed_ms")) > 0);
  assert_true(json_real_value(json_object_get(rec, "elapsed_ms")) < 60000);
  assert_int_equal(int_of(rec, "bytes"), 5);
  assert_int_equal(int_of(rec, "attempts"), 1);
  json_decref(rec);

  /* index and id, every flag: the full key order */
  static const char *const full_keys[] = {
      "index",      "url",   "id",       "status",  "ok",      "error", "effective_url",
      "elapsed_ms", "bytes", "attempts", "http_version", "timings", "headers", "body",  NULL};
  static const char *const timing_keys[] = {"dns_ms", "connect_ms", "tls_ms", "first_byte_ms",
                                            "total_ms", NULL};
  fp_request *req = fp_request_new(url);
  json_t *id = json_pack("{s:[i,s]}", "job", 7, "x");
  assert_int_equal(fp_request_set_index(req, 12), FP_OK);
  assert_int_equal(fp_request_set_id(req, id), FP_OK);
  assert_int_equal(fp_request_set_keep_headers(req, true), FP_OK);
  rec = record_of(ex, req, FP_RECORD_BODY | FP_RECORD_HEADERS | FP_RECORD_TIMINGS);
  assert_keys(rec, full_keys);
  assert_int_equal(int_of(rec, "index"), 12);
  assert_true(json_equal(json_object_get(rec, "id"), id));
  assert_string_equal(str_of(rec, "body"), "hello");
  json_t *t = json_object_get(rec, "timings");
  assert_keys(t, timing_keys);
  double prev = 0;
  for (size_t i = 0; timing_keys[i]; i++) {
    json_t *v = json_object_get(t, timing_keys[i]);
    assert_true(json_is_number(v));
    assert_true(json_number_value(v) >= 0);
    if (strcmp(timing_keys[i], "tls_ms") == 0) {
      assert_true(json_number_value(v) == 0); /* plain http */
      continue;
    }
    assert_true(json_number_value(v) >= prev); /* dns <= connect <= first byte <= total */
    prev = json_number_value(v);
  }
  assert_true(json_number_value(json_object_get(t, "total_ms")) > 0);
  json_t *h = json_object_get(rec, "headers");
  assert_true(json_is_object(h));
  assert_string_equal(str_of(h, "Content-Length"), "5");
  assert_string_equal(str_of(h, "Content-Type"), "text/plain");
  json_decref(id);
  json_decref(rec);

  /* one flag at a time adds only its key */
  static const char *const body_keys[] = {"url",          "status",     "ok",    "error",
                                          "effective_url", "elapsed_ms", "bytes", "attempts", "http_version",
                                          "body",          NULL};
  rec = record_of(ex, fp_request_new(url), FP_RECORD_BODY);
  assert_keys(rec, body_keys);
  json_decref(rec);
  /* headers not kept by the request: an empty object */
  static const char *const hdr_keys[] = {"url",          "status",     "ok",    "error",
                                         "effective_url", "elapsed_ms", "bytes", "attempts", "http_version",
                                         "headers",       NULL};
  rec = record_of(ex, fp_request_new(url), FP_RECORD_HEADERS);
  assert_keys(rec, hdr_keys);
  assert_int_equal(json_object_size(json_object_get(rec, "headers")), 0);
  json_decref(rec);
  assert_null(fp_record_new(NULL, NULL, 0));
  free(url);
  fp_executor_free(ex);
}

static void test_http_error_statuses(void **state) {
  static const long codes[] = {400, 404, 500, 503};
  fp_executor *ex = tu_executor(2, 0, NULL);
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    char path[32], msg[32];
    snprintf(path, sizeof path, "/status/%ld", codes[i]);
    json_t *rec = record_of(ex, tu_request("%s", path), 0);
    assert_keys(rec, base_keys);
    assert_int_equal(int_of(rec, "status"), codes[i]);
    assert_true(json_is_false(json_object_get(rec, "ok")));
    assert_error_obj(rec, "http");
    snprintf(msg, sizeof msg, "HTTP status %ld", codes[i]);
    assert_string_equal(str_of(json_object_get(rec, "error"), "message"), msg);
    json_decref(rec);
  }
  fp_executor_free(ex);
}

static void test_success_statuses(void **state) {
  fp_executor *ex = tu_executor(1, 0, NULL);
  /* 200, 204, a 301 that is the result, and a 302 not followed */
  json_t *rec = record_of(ex, tu_request("/status/204"), 0);
  assert_int_equal(int_of(rec, "status"), 204);
  assert_true(json_is_true(json_object_get(rec, "ok")));
  assert_true(json_is_null(json_object_get(rec, "error")));
  assert_int_equal(int_of(rec, "bytes"), 0);
  json_decref(rec);

  rec = record_of(ex, tu_request("/status/301"), 0);
  assert_int_equal(int_of(rec, "status"), 301);
  assert_true(json_is_true(json_object_get(rec, "ok")));
  assert_true(json_is_null(json_object_get(rec, "error")));
  json_decref(rec);

  fp_request *req = tu_request("/redirect/2");
  assert_int_equal(fp_request_set_redirects(req, false, 0), FP_OK);
  rec = record_of(ex, req, 0);
  assert_int_equal(int_of(rec, "status"), 302);
  assert_true(json_is_true(json_object_get(rec, "ok")));
  assert_true(json_is_null(json_object_get(rec, "error")));
  json_decref(rec);

  /* followed: effective_url is where it ended */
  rec = record_of(ex, tu_request("/redirect/2"), FP_RECORD_BODY);
  char *last = tu_url("/redirect/0");
  assert_int_equal(int_of(rec, "status"), 200);
  assert_string_equal(str_of(rec, "effective_url"), last);
  assert_string_equal(str_of(rec, "body"), "redirected");
  free(last);
  json_decref(rec);
  fp_executor_free(ex);
}

static void test_transfer_error_record(void **state) {
  fp_executor *ex = tu_executor(1, 0, NULL);
  /* no response at all: status null */
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%u/hang", (unsigned)ts_raw_port(tu_server));
  fp_request *req = fp_request_new(url);
  assert_int_equal(fp_request_set_timeouts(req, 0.2, 0), FP_OK);
  json_t *rec = record_of(ex, req, FP_RECORD_BODY);
  assert_true(json_is_null(json_object_get(rec, "status")));
  assert_true(json_is_false(json_object_get(rec, "ok")));
  assert_error_obj(rec, "timeout");
  assert_int_equal(int_of(rec, "bytes"), 0);
  assert_int_equal(int_of(rec, "attempts"), 1);
  assert_string_equal(str_of(rec, "body"), "");
  json_decref(rec);

  /* a transfer error after a 200 status line keeps the status */
  req = tu_request("/bytes/5000");
  assert_int_equal(fp_request_set_max_body(req, 100), FP_OK);
  rec = record_of(ex, req, 0);
  assert_int_equal(int_of(rec, "status"), 200);
  assert_true(json_is_false(json_object_get(rec, "ok")));
  assert_error_obj(rec, "body_too_large");
  json_decref(rec);

  /* a URL refused before any transfer */
  req = fp_request_new("ftp://127.0.0.1/file");
  assert_int_equal(fp_request_set_index(req, 3), FP_OK);
  rec = record_of(ex, req, 0);
  assert_int_equal(int_of(rec, "index"), 3);
  assert_string_equal(str_of(rec, "url"), "ftp://127.0.0.1/file");
  assert_true(json_is_null(json_object_get(rec, "status")));
  assert_error_obj(rec, "unsupported_protocol");
  assert_true(json_is_null(json_object_get(rec, "effective_url")));
  json_decref(rec);
  fp_executor_free(ex);
}

/* ---- bodies ---- */

static void test_body_utf8_and_base64(void **state) {
  fp_executor *ex = tu_executor(1, 0, NULL);
  json_t *rec = record_of(ex, tu_request("/utf8"), FP_RECORD_BODY);
  assert_string_equal(str_of(rec, "body"), "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93");
  assert_null(json_object_get(rec, "body_base64"));
  assert_int_equal(int_of(rec, "bytes"), 17);
  json_decref(rec);

  /* bytes 3, 10, 17, 24, 31: control characters, but valid UTF-8 */
  rec = record_of(ex, tu_request("/binary/5"), FP_RECORD_BODY);
  json_t *body = json_object_get(rec, "body");
  assert_int_equal(json_string_length(body), 5);
  assert_memory_equal(json_string_value(body), "\x03\x0a\x11\x18\x1f", 5);
  json_decref(rec);

  /* from byte 18 on (0x81, 0x88, 0x8f) it is not UTF-8: base64, with
   * each padding length */
  static const struct {
    const char *path, *b64;
  } bins[] = {
      {"/binary/19", "AwoRGB8mLTQ7QklQV15lbHN6gQ=="},
      {"/binary/20", "AwoRGB8mLTQ7QklQV15lbHN6gYg="},
      {"/binary/21", "AwoRGB8mLTQ7QklQV15lbHN6gYiP"},
  };
  static const char *const b64_keys[] = {"url",          "status",     "ok",    "error",
                                         "effective_url", "elapsed_ms", "bytes", "attempts", "http_version",
                                         "body_base64",   NULL};
  for (size_t i = 0; i < sizeof bins / sizeof bins[0]; i++) {
    rec = record_of(ex, tu_request("%s", bins[i].path), FP_RECORD_BODY);
    assert_keys(rec, b64_keys);
    assert_string_equal(str_of(rec, "body_base64"), bins[i].b64);
    json_decref(rec);
  }

  /* a HEAD has no body: "" */
  fp_request *req = tu_request("/hello");
  assert_int_equal(fp_request_set_method(req, "HEAD"), FP_OK);
  rec = record_of(ex, req, FP_RECORD_BODY);
  assert_string_equal(str_of(rec, "body"), "");
  json_decref(rec);
  fp_executor_free(ex);
}

/* ---- records without a response ---- */

static void test_record_error(void **state) {
  json_t *id = json_string("job-9");
  json_t *rec = fp_record_error(7, "http://x/", id, FP_ERR_INVALID_JSON, "bad line");
  json_decref(id);
  assert_non_null(rec);
  char *text = json_dumps(rec, JSON_COMPACT);
  assert_string_equal(text, "{\"index\":7,\"url\":\"http://x/\",\"id\":\"job-9\",\"status\":null,"
                            "\"ok\":false,\"error\":{\"code\":\"invalid_json\",\"message\":"
                            "\"bad line\"},\"effective_url\":null,\"elapsed_ms\":0.0,"
                            "\"bytes\":0,\"attempts\":0,\"http_version\":null}");
  free(text);
  json_decref(rec);

  /* no url, no id, no message: url null, no "id", the code's own text */
  rec = fp_record_error(0, NULL, NULL, FP_ERR_INVALID_REQUEST, NULL);
  assert_non_null(rec);
  static const char *const keys[] = {"index",         "url",        "status", "ok",       "error",
                                     "effective_url", "elapsed_ms", "bytes",  "attempts", "http_version", NULL};
  assert_keys(rec, keys);
  assert_int_equal(int_of(rec, "index"), 0);
  assert_true(json_is_null(json_object_get(rec, "url")));
  assert_error_obj(rec, "invalid_request");
  assert_string_equal(str_of(json_object_get(rec, "error"), "message"),
                      fp_strerror(FP_ERR_INVALID_REQUEST));
  json_decref(rec);

  /* an input line that is not UTF-8 still gives a record that serializes */
  rec = fp_record_error(1, "http://x/\xff\xfe", NULL, FP_ERR_INVALID_URL, "bad \xc3 byte");
  assert_non_null(rec);
  text = json_dumps(rec, JSON_COMPACT);
  assert_non_null(text);
  free(text);
  assert_error_obj(rec, "invalid_url");
  assert_string_equal(str_of(rec, "url"), "http://x/\\xFF\\xFE");
  json_decref(rec);
}

static void test_cancelled_future_record(void **state) {
  fp_executor *ex = tu_executor(1, 0, NULL);
  fp_error err = {0};
  fp_request *busy = tu_request("/delay/300");
  fp_request *queued = tu_request("/hello");
  assert_int_equal(fp_request_set_index(queued, 5), FP_OK);
  fp_future *f1 = fp_executor_submit(ex, busy, &err);
  fp_future *f2 = fp_executor_submit(ex, queued, &err);
  assert_non_null(f1);
  assert_non_null(f2);
  /* not done: no record */
  assert_null(fp_future_record(f2, 0));
  assert_true(fp_future_cancel(f2));
  json_t *rec = fp_future_record(f2, FP_RECORD_BODY | FP_RECORD_HEADERS | FP_RECORD_TIMINGS);
  assert_non_null(rec);
  char *text = json_dumps(rec, 0);
  assert_non_null(text);
  free(text);
  assert_int_equal(int_of(rec, "index"), 5);
  assert_true(json_is_null(json_object_get(rec, "status")));
  assert_true(json_is_false(json_object_get(rec, "ok")));
  assert_error_obj(rec, "cancelled");
  assert_int_equal(int_of(rec, "attempts"), 0);
  assert_int_equal(int_of(rec, "bytes"), 0);
  json_decref(rec);
  /* the job in front still runs to completion */
  assert_int_equal(fp_future_wait(f1, 60), FP_OK);
  rec = fp_future_record(f1, 0);
  assert_int_equal(int_of(rec, "status"), 200);
  json_decref(rec);
  assert_null(fp_future_record(NULL, 0));
  fp_future_decref(f2);
  fp_future_decref(f1);
  fp_request_decref(queued);
  fp_request_decref(busy);
  fp_executor_free(ex);
}

/* ---- text that is not UTF-8 ---- */

static void test_invalid_utf8_serializes(void **state) {
  fp_executor *ex = tu_executor(1, 0, NULL);
  char url[160];
  /* a path with raw bytes >= 0x80 that are not UTF-8 */
  snprintf(url, sizeof url, "http://127.0.0.1:%u/text/\xff\xfe", (unsigned)ts_port(tu_server));
  json_t *rec = record_of(ex, fp_request_new(url), FP_RECORD_BODY);
  assert_true(json_is_string(json_object_get(rec, "url")));
  assert_non_null(strstr(str_of(rec, "url"), "/text/\\xFF\\xFE"));
  assert_true(json_is_string(json_object_get(rec, "effective_url")));
  json_decref(rec);

  /* a host that is not UTF-8: curl's error message quotes it */
  /* (its 64-byte label keeps the resolver from sending any query) */
  rec = record_of(ex, fp_request_new("http://\xff\xfe.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                     "aaaaaaaaaaaaaaaa.invalid/"), 0);
  assert_true(json_is_null(json_object_get(rec, "status")));
  assert_true(json_is_false(json_object_get(rec, "ok")));
  json_t *e = json_object_get(rec, "error");
  assert_true(json_is_object(e));
  assert_true(json_is_string(json_object_get(e, "code")));
  assert_true(json_is_string(json_object_get(e, "message")));
  json_decref(rec);

  /* a response header value that is not UTF-8 */
  fp_request *req = tu_request("%s", "/set-header?name=X-Bin&value=a%FFb");
  assert_int_equal(fp_request_set_keep_headers(req, true), FP_OK);
  rec = record_of(ex, req, FP_RECORD_HEADERS);
  assert_string_equal(str_of(json_object_get(rec, "headers"), "X-Bin"), "a\\xFFb");
  json_decref(rec);
  fp_executor_free(ex);
}

static void test_repeated_headers_kept(void **state) {
  /* a name sent twice keeps both values: joined with ", " (RFC 9110 5.3),
   * Set-Cookie as an array (it cannot be joined), names matched in any
   * case and spelt as first sent; a name that is not UTF-8 is escaped */
  fp_executor *ex = tu_executor(1, 0, NULL);
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%u/repeated-headers",
           (unsigned)ts_raw_port(tu_server));
  fp_request *req = fp_request_new(url);
  assert_non_null(req);
  assert_int_equal(fp_request_set_keep_headers(req, true), FP_OK);
  json_t *rec = record_of(ex, req, FP_RECORD_HEADERS);
  json_t *h = json_object_get(rec, "headers");
  json_t *cookies = json_object_get(h, "Set-Cookie");
  assert_true(json_is_array(cookies));
  assert_int_equal(json_array_size(cookies), 2);
  assert_string_equal(json_string_value(json_array_get(cookies, 0)), "a=1; Path=/");
  assert_string_equal(json_string_value(json_array_get(cookies, 1)), "b=2");
  assert_null(json_object_get(h, "set-cookie"));
  assert_string_equal(str_of(h, "Vary"), "Accept, Origin");
  assert_null(json_object_get(h, "VARY"));
  assert_string_equal(str_of(h, "X-Latin1-\\xE9"), "caf\\xE9");
  assert_string_equal(str_of(h, "Content-Length"), "2");
  assert_int_equal(json_object_size(h), 5);
  json_decref(rec);
  fp_executor_free(ex);
}

/* A head that repeats one name 30,000 times is joined in linear time
 * (it used to copy the growing value once per repeat). */
static void test_repeated_header_joined_linear(void **state) {
  fp_executor *ex = tu_executor(1, 0, NULL);
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%u/one-name-repeated",
           (unsigned)ts_raw_port(tu_server));
  fp_request *req = fp_request_new(url);
  assert_non_null(req);
  assert_int_equal(fp_request_set_keep_headers(req, true), FP_OK);
  const fp_response *resp;
  fp_future *f = tu_run(ex, req, &resp);
  assert_int_equal(fp_response_error(resp), FP_OK);
  double t0 = tu_now();
  json_t *rec = fp_future_record(f, FP_RECORD_HEADERS);
  double took = tu_now() - t0;
  print_message("30000 repeats joined in %.3f s\n", took);
  assert_non_null(rec);
  const char *v = str_of(json_object_get(rec, "headers"), "X-A");
  assert_int_equal(strlen(v), 30000 * 3 - 2); /* "v, v, ..., v" */
  assert_true(took < 0.3 * tu_time_scale());
  json_decref(rec);
  fp_future_decref(f);
  fp_executor_free(ex);
}

/* ---- FP_RECORD_JSON (batch-out) ---- */

static void test_record_json(void **state) {
  fp_executor *ex = tu_executor(1, 0, NULL);
  /* application/json that parses: "json", no "body"; the content type is
   * known without keeping headers */
  fp_request *req = tu_request("/json/2");
  fp_future *f = run(ex, req);
  assert_string_equal(fp_response_content_type(fp_future_response(f)), "application/json");
  fp_future_decref(f);
  json_t *rec = record_of(ex, req, FP_RECORD_JSON);
  assert_int_equal(json_integer_value(json_object_get(json_object_get(rec, "json"), "id")), 2);
  assert_null(json_object_get(rec, "body"));
  json_decref(rec);
  /* FP_RECORD_BODY alone keeps the text, as before */
  rec = record_of(ex, tu_request("/json/2"), FP_RECORD_BODY);
  assert_null(json_object_get(rec, "json"));
  assert_non_null(json_object_get(rec, "body"));
  json_decref(rec);
  /* +json, with parameters, in any case; a scalar value */
  rec = record_of(ex, tu_request("/typed?type=Application/Vnd.X%%2BJSON;%%20q=1&body=true"),
                  FP_RECORD_JSON | FP_RECORD_BODY);
  assert_true(json_is_true(json_object_get(rec, "json")));
  json_decref(rec);
  /* JSON-typed but not JSON: the text and why */
  rec = record_of(ex, tu_request("/typed?type=application/json&body=%%5B1,"), FP_RECORD_JSON);
  assert_string_equal(str_of(rec, "body"), "[1,");
  assert_non_null(strstr(str_of(rec, "json_error"), "column"));
  json_decref(rec);
  /* an empty JSON body does not parse either */
  rec = record_of(ex, tu_request("/typed?type=application/json"), FP_RECORD_JSON);
  assert_string_equal(str_of(rec, "body"), "");
  assert_non_null(json_object_get(rec, "json_error"));
  json_decref(rec);
  /* not JSON-typed ("application/jsonx", text): the text only */
  rec = record_of(ex, tu_request("/typed?type=application/jsonx&body=1"), FP_RECORD_JSON);
  assert_string_equal(str_of(rec, "body"), "1");
  assert_null(json_object_get(rec, "json_error"));
  json_decref(rec);
  fp_executor_free(ex);
}

/* A URL's userinfo is "***" in records: the password, and a bare user
 * name too (it may be a token); the rest of the URL as it was. */
static void test_url_userinfo_redacted(void **state) {
  static const char *const cases[][2] = {
      {"http://alice:s3cret@h:8080/p?q=1#f", "http://***@h:8080/p?q=1#f"},
      {"https://t0ken@h/", "https://***@h/"},
      {"http://a:b@c@h/x@y", "http://***@h/x@y"}, /* userinfo ends at the last '@' */
      {"http://h/p?u=a@b", "http://h/p?u=a@b"},   /* an '@' past the host is data */
      {"http://h@", "http://***@"},
      {"not a url @ all", "not a url @ all"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    json_t *rec = fp_record_error(0, cases[i][0], NULL, FP_ERR_INVALID_URL, NULL);
    assert_non_null(rec);
    assert_string_equal(str_of(rec, "url"), cases[i][1]);
    json_decref(rec);
  }
  /* a finished request: url and effective_url both */
  char url[128];
  snprintf(url, sizeof url, "http://alice:s3cret@127.0.0.1:%u/hello", ts_port(tu_server));
  fp_executor *ex = tu_executor(1, 0, NULL);
  const fp_response *resp;
  fp_future *f = tu_run(ex, fp_request_new(url), &resp);
  assert_int_equal(fp_response_status(resp), 200);
  json_t *rec = fp_future_record(f, 0);
  char *text = json_dumps(rec, JSON_COMPACT);
  assert_null(strstr(text, "s3cret"));
  assert_null(strstr(text, "alice"));
  assert_non_null(strstr(text, "\"effective_url\":\"http://***@127.0.0.1:"));
  free(text);
  json_decref(rec);
  fp_future_decref(f);
  fp_executor_free(ex);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      TU_TEST(test_schema_200),
      TU_TEST(test_http_error_statuses),
      TU_TEST(test_success_statuses),
      TU_TEST(test_transfer_error_record),
      TU_TEST(test_body_utf8_and_base64),
      TU_TEST(test_record_error),
      TU_TEST(test_cancelled_future_record),
      TU_TEST(test_invalid_utf8_serializes),
      TU_TEST(test_repeated_headers_kept),
      TU_TEST(test_repeated_header_joined_linear),
      TU_TEST(test_record_json),
      TU_TEST(test_url_userinfo_redacted),
  };
  return cmocka_run_group_tests_name("record", tests, tu_setup_server, tu_teardown_server);
}
