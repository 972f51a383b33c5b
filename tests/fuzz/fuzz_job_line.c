/* fuzz_job_line.c: one input line as the fetchpool program reads it (see
 * src/cli/job_line.c): a line starting with '{' is a JSON job object, parsed
 * with json_loadb and turned into a request by fp_request_from_json, once
 * with no base and once on a base request like the one command-line
 * options build; any other line is a URL. Whatever the line, it must give
 * exactly one record that dumps as one line of JSON with the documented
 * keys: fp_record_error for a line that cannot become a request, else
 * fp_record_new of the request with a response made up from the line
 * (body, headers, effective URL and error code taken from the input, so
 * text that is not UTF-8 reaches every field a server could fill). */
#include <math.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "model.h"

static void show_record(void);
#define FUZZ_ON_FAIL() show_record()
#include "fuzz.h"

/* As the CLI prints records (src/cli/cli.h CLI_JSON_FLAGS). */
#define RECORD_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15))

/* Every transfer error a response can carry, and FP_OK. */
static const int response_codes[] = {
    FP_OK, FP_ERR_INVALID_URL, FP_ERR_UNSUPPORTED_PROTOCOL, FP_ERR_DNS,
    FP_ERR_CONNECT, FP_ERR_CONNECT_TIMEOUT, FP_ERR_TIMEOUT, FP_ERR_STALL_TIMEOUT,
    FP_ERR_TLS, FP_ERR_TOO_MANY_REDIRECTS, FP_ERR_BODY_TOO_LARGE,
    FP_ERR_HEADERS_TOO_LARGE, FP_ERR_NETWORK, FP_ERR_PROTOCOL, FP_ERR_SINK_ABORTED,
    FP_ERR_CANCELLED, FP_ERR_NOMEM, FP_ERR_INTERNAL, -63 /* unknown */};

/* What command-line options make of every job: a method, headers, a body,
 * timeouts, a redirect limit and a user agent (built once, kept). */
static fp_request *base_request(void) {
  static fp_request *base;
  if (!base) {
    base = fp_request_new("");
    FUZZ_CHECK(base);
    FUZZ_CHECK(fp_request_set_method(base, "POST") == FP_OK);
    FUZZ_CHECK(fp_request_add_header_line(base, "X-Base: 1") == FP_OK);
    FUZZ_CHECK(fp_request_add_header_line(base, "Accept:\t*/*") == FP_OK);
    FUZZ_CHECK(fp_request_set_body(base, "base\0body", 9) == FP_OK);
    FUZZ_CHECK(fp_request_set_timeouts(base, 2.5, 1) == FP_OK);
    FUZZ_CHECK(fp_request_set_redirects(base, true, 3) == FP_OK);
    FUZZ_CHECK(fp_request_set_user_agent(base, "fuzz/1") == FP_OK);
  }
  return base;
}

static bool is_tchar(unsigned char c) {
  return c > 32 && c < 127 && !strchr("\"(),/:;<=>?@[\\]{}", c);
}

static bool is_token(const char *s) {
  if (!*s)
    return false;
  for (; *s; s++)
    if (!is_tchar((unsigned char)*s))
      return false;
  return true;
}

/* A JSON string with a NUL, CR or LF: no header may come of it. */
static bool unsafe_string(const json_t *v) {
  const char *s = json_string_value(v);
  size_t n = json_string_length(v);
  return memchr(s, '\0', n) || memchr(s, '\r', n) || memchr(s, '\n', n);
}

/* The request contract: whatever the input, the headers it carries are
 * safe to send (token names, no CR, LF or NUL in values). */
static void check_request_headers(const fp_request *req) {
  for (size_t i = 0; i < req->nheaders; i++) {
    FUZZ_CHECK(is_token(req->headers[i].name));
    FUZZ_CHECK(!strpbrk(req->headers[i].value, "\r\n"));
    for (size_t j = 0; j < i; j++) /* one entry per name */
      FUZZ_CHECK(strcasecmp(req->headers[i].name, req->headers[j].name) != 0);
  }
}

/* A request made from obj: what it must hold. */
static void check_from_json(const json_t *obj, const fp_request *base,
                            const fp_request *req) {
  const json_t *url = json_object_get(obj, "url");
  FUZZ_CHECK(json_is_string(url));
  FUZZ_CHECK(strcmp(fp_request_url(req), json_string_value(url)) == 0);
  const json_t *method = json_object_get(obj, "method");
  const char *want_method = method ? json_string_value(method)
                            : base ? fp_request_method(base) : "GET";
  FUZZ_CHECK(want_method && strcmp(fp_request_method(req), want_method) == 0);
  FUZZ_CHECK(is_token(fp_request_method(req)));
  check_request_headers(req);

  /* a header value with CR, LF or NUL must have failed the whole job */
  const json_t *headers = json_object_get(obj, "headers");
  const char *key;
  size_t i;
  json_t *v;
  if (json_is_object(headers)) {
    json_object_foreach((json_t *)headers, key, v) {
      FUZZ_CHECK(json_is_string(v) && !unsafe_string(v));
    }
  } else if (json_is_array(headers)) {
    json_array_foreach(headers, i, v) {
      FUZZ_CHECK(json_is_string(v) && !unsafe_string(v));
    }
  }
  /* the body is kept byte for byte, NUL bytes included */
  const json_t *body = json_object_get(obj, "body");
  if (json_is_string(body)) {
    FUZZ_CHECK(req->has_body && req->body_len == json_string_length(body));
    FUZZ_CHECK(memcmp(req->body, json_string_value(body), req->body_len) == 0);
  } else if (!body || json_is_null(body)) {
    FUZZ_CHECK(req->has_body == (base && base->has_body));
  }
  FUZZ_CHECK(req->timeout >= 0 && isfinite(req->timeout));
  FUZZ_CHECK(req->connect_timeout >= 0 && isfinite(req->connect_timeout));
  FUZZ_CHECK(req->stall_timeout >= 0 && isfinite(req->stall_timeout));
  FUZZ_CHECK(req->max_redirs >= 0);
  json_t *id = json_object_get(obj, "id");
  FUZZ_CHECK(id ? json_equal(fp_request_id(req), id) : fp_request_id(req) == NULL);
}

/* The record being checked, printed when a check fails. */
static const char *current_record;

static void show_record(void) {
  if (current_record)
    fprintf(stderr, "record: %s\n", current_record);
}

/* The record contract: one line of JSON, an object with the documented
 * keys, whatever bytes went in. */
static void check_record(json_t *rec, uint64_t index) {
  FUZZ_CHECK(json_is_object(rec));
  char *text = json_dumps(rec, RECORD_FLAGS);
  FUZZ_CHECK(text);
  FUZZ_CHECK(!strchr(text, '\n'));
  current_record = text; /* shown if a check below fails */
  json_error_t jerr;
  /* a body may hold NUL bytes: "\u0000" is valid JSON */
  json_t *back = json_loads(text, JSON_ALLOW_NUL, &jerr);
  if (!back)
    fprintf(stderr, "reload: %s at column %d\n", jerr.text, jerr.column);
  FUZZ_CHECK(json_is_object(back));
  static const char *const keys[] = {"index", "url", "status", "ok", "error",
                                     "effective_url", "elapsed_ms", "bytes",
                                     "attempts"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    FUZZ_CHECK(json_object_get(back, keys[i]));
  FUZZ_CHECK(json_integer_value(json_object_get(back, "index")) == (json_int_t)index);
  json_t *ok = json_object_get(back, "ok"), *error = json_object_get(back, "error");
  FUZZ_CHECK(json_is_boolean(ok));
  if (json_is_true(ok)) {
    FUZZ_CHECK(json_is_null(error));
  } else {
    FUZZ_CHECK(json_is_string(json_object_get(error, "code")));
    FUZZ_CHECK(json_is_string(json_object_get(error, "message")));
    FUZZ_CHECK(strcmp(json_string_value(json_object_get(error, "code")), "ok") != 0);
  }
  json_decref(back);
  current_record = NULL;
  free(text);
}

/* A response such as a server and libcurl could have produced, its
 * contents taken from the input. */
static fp_response *made_up_response(const fp_request *req, const uint8_t *data,
                                     size_t size) {
  fp_response *resp = fp__response_new();
  FUZZ_CHECK(resp);
  uint32_t h = 2166136261u; /* FNV-1a of the input picks code and status */
  for (size_t i = 0; i < size; i++)
    h = (h ^ data[i]) * 16777619u;
  int code = response_codes[h % (sizeof response_codes / sizeof response_codes[0])];
  if (code != FP_OK) /* curl's message may quote the URL */
    fp__response_set_error(resp, code, (h >> 8) & 1 ? fp_request_url(req) : NULL);
  /* a completed transfer has a final status; a failed one may have none */
  static const long statuses[] = {200, 204, 301, 304, 404, 429, 500, 599, 999, 0};
  size_t nstatus = sizeof statuses / sizeof statuses[0] - (code == FP_OK);
  resp->status = statuses[(h >> 9) % nstatus];
  FUZZ_CHECK(fp__response_append_body(resp, (const char *)data, size) == FP_OK);
  resp->bytes = size;
  resp->effective_url = strdup(fp_request_url(req));
  FUZZ_CHECK(resp->effective_url);
  for (size_t i = 0; i < req->nheaders; i++)
    FUZZ_CHECK(fp__response_add_header(resp, req->headers[i].name,
                                       strlen(req->headers[i].name),
                                       req->headers[i].value,
                                       strlen(req->headers[i].value)) == FP_OK);
  /* raw header bytes as received: halves of the line as name and value */
  FUZZ_CHECK(fp__response_add_header(resp, (const char *)data, size / 2,
                                     (const char *)data + size / 2,
                                     size - size / 2) == FP_OK);
  resp->timings = (fp_timings){0.001, 0.002, 0, 0.003, 0.004};
  resp->elapsed = (double)(h % 100000) / 1000.0;
  resp->attempts = 1 + (h >> 20) % 3;
  return resp;
}

/* The record of a request, with every flag and with none. */
static void record_request(const fp_request *req, const uint8_t *data, size_t size,
                           uint64_t index) {
  fp_request *copy = fp_request_copy(req);
  FUZZ_CHECK(copy);
  FUZZ_CHECK(fp_request_set_index(copy, index) == FP_OK);
  FUZZ_CHECK(strcmp(fp_request_url(copy), fp_request_url(req)) == 0);
  FUZZ_CHECK(copy->nheaders == req->nheaders && copy->body_len == req->body_len);
  fp_response *resp = made_up_response(copy, data, size);
  static const unsigned flag_sets[] = {0, FP_RECORD_BODY | FP_RECORD_HEADERS |
                                              FP_RECORD_TIMINGS};
  for (size_t i = 0; i < sizeof flag_sets / sizeof flag_sets[0]; i++) {
    json_t *rec = fp_record_new(copy, resp, flag_sets[i]);
    check_record(rec, index);
    json_decref(rec);
  }
  fp__response_free(resp);
  fp_request_decref(copy);
}

/* A JSON job line, as from_json_line in src/cli/job_line.c. */
static void json_line(const uint8_t *data, size_t size, uint64_t index) {
  json_error_t jerr;
  json_t *obj = json_loadb((const char *)data, size, 0, &jerr);
  if (!obj) {
    char msg[256];
    snprintf(msg, sizeof msg, "invalid JSON at column %d: %s", jerr.column, jerr.text);
    json_t *rec = fp_record_error(index, NULL, NULL, FP_ERR_INVALID_JSON, msg);
    check_record(rec, index);
    json_decref(rec);
    return;
  }
  const fp_request *bases[] = {NULL, base_request()};
  for (size_t b = 0; b < 2; b++) {
    fp_error err = {0};
    fp_request *req = fp_request_from_json(obj, bases[b], &err);
    if (!req) {
      FUZZ_CHECK(err.code != FP_OK && err.text[0]);
      json_t *rec = fp_record_error(index, json_string_value(json_object_get(obj, "url")),
                                    json_object_get(obj, "id"), err.code, err.text);
      check_record(rec, index);
      json_decref(rec);
      continue;
    }
    FUZZ_CHECK(err.code == FP_OK);
    check_from_json(obj, bases[b], req);
    record_request(req, data, size, index);
    fp_request_decref(req);
  }
  json_decref(obj);
}

/* A URL line, as from_url_line in src/cli/job_line.c. */
static void url_line(const uint8_t *data, size_t size, uint64_t index) {
  if (memchr(data, '\0', size)) {
    json_t *rec = fp_record_error(index, NULL, NULL, FP_ERR_INVALID_URL,
                                  "the line holds a NUL byte");
    check_record(rec, index);
    json_decref(rec);
    return;
  }
  char *line = fuzz_cstr(data, size);
  FUZZ_CHECK(line);
  fp_request *req = fp_request_copy(base_request());
  FUZZ_CHECK(req && fp_request_set_url(req, line) == FP_OK);
  FUZZ_CHECK(strcmp(fp_request_url(req), line) == 0);
  check_request_headers(req);
  record_request(req, data, size, index);
  fp_request_decref(req);
  free(line);
}

int FUZZ_ENTRY(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0; /* the reader never hands out an empty line */
  uint64_t index = size * 2654435761u;
  if (data[0] == '{')
    json_line(data, size, index);
  else
    url_line(data, size, index);
  return 0;
}
