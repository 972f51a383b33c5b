/* record.c: a finished job as the JSON object the CLI prints, one per line. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "fetchpool.h"
#include "model.h"

static char *base64(const char *data, size_t len) {
  static const char tbl[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char *out = malloc(4 * ((len + 2) / 3) + 1), *p = out;
  if (!out)
    return NULL;
  const unsigned char *s = (const unsigned char *)data;
  size_t i = 0;
  for (; i + 2 < len; i += 3) {
    *p++ = tbl[s[i] >> 2];
    *p++ = tbl[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
    *p++ = tbl[((s[i + 1] & 15) << 2) | (s[i + 2] >> 6)];
    *p++ = tbl[s[i + 2] & 63];
  }
  if (i < len) {
    *p++ = tbl[s[i] >> 2];
    if (i + 1 < len) {
      *p++ = tbl[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
      *p++ = tbl[(s[i + 1] & 15) << 2];
    } else {
      *p++ = tbl[(s[i] & 3) << 4];
      *p++ = '=';
    }
    *p++ = '=';
  }
  *p = '\0';
  return out;
}

/* A JSON string of s; text that is not valid UTF-8 (a URL or header as
 * received) gets each byte >= 0x80 written as "\xHH" so no record is lost. */
static json_t *json_text(const char *s) {
  json_t *v = json_string(s);
  if (v || !s)
    return v;
  size_t n = strlen(s);
  char *esc = malloc(4 * n + 1), *p = esc;
  if (!esc)
    return NULL;
  for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
    if (*c < 0x80)
      *p++ = (char)*c;
    else
      p += sprintf(p, "\\x%02X", *c);
  }
  *p = '\0';
  v = json_string(esc);
  free(esc);
  return v;
}

/* A URL for a record: its userinfo ("user:password@" or "token@"),
 * when it has one, replaced by "***", so no credential reaches an output
 * (a bare user name may be a token). The authority is what follows
 * "://" up to the first '/', '?' or '#'; its userinfo ends at its last
 * '@'. Anything else is kept as is, even a URL curl would refuse. */
static json_t *json_url(const char *url) {
  const char *sep = strstr(url, "://");
  if (!sep)
    return json_text(url);
  const char *auth = sep + 3, *end = auth + strcspn(auth, "/?#"), *at = NULL;
  for (const char *c = auth; c < end; c++)
    if (*c == '@')
      at = c;
  if (!at)
    return json_text(url);
  int head = (int)(auth - url);
  size_t size = (size_t)head + 3 + strlen(at) + 1;
  char *shown = malloc(size);
  if (!shown)
    return NULL;
  snprintf(shown, size, "%.*s***%s", head, url, at);
  json_t *v = json_text(shown);
  free(shown);
  return v;
}

static double ms(double seconds) { return round(seconds * 1e6) / 1e3; }

/* The fields every record has, in a fixed order. */
static json_t *record_base(bool has_index, uint64_t index, const char *url,
                           json_t *id) {
  json_t *rec = json_object();
  if (!rec)
    return NULL;
  if (has_index)
    json_object_set_new(rec, "index", json_integer((json_int_t)index));
  json_object_set_new(rec, "url", url ? json_url(url) : json_null());
  if (id) /* the record's own copy: records and requests may die in other threads */
    json_object_set_new(rec, "id", json_deep_copy(id));
  return rec;
}

/* The message may quote the input or curl's view of it (a URL or host
 * that is not UTF-8), so it goes through json_text like the URL does. */
static json_t *error_object(int code, const char *message) {
  json_t *text = json_text(message && *message ? message : fp_strerror(code));
  return json_pack("{s:s, s:o}", "code", fp_code_name(code), "message", text);
}

static int add_body(json_t *rec, const fp_response *resp) {
  if (!resp->body) {
    json_object_set_new(rec, "body", json_string(""));
    return FP_OK;
  }
  json_t *text = json_stringn(resp->body, resp->body_len); /* NULL: not UTF-8 */
  if (text)
    return json_object_set_new(rec, "body", text) ? FP_ERR_NOMEM : FP_OK;
  char *b64 = base64(resp->body, resp->body_len);
  if (!b64)
    return FP_ERR_NOMEM;
  int rc = json_object_set_new(rec, "body_base64", json_string(b64));
  free(b64);
  return rc ? FP_ERR_NOMEM : FP_OK;
}

/* Whether a Content-Type names JSON: application/json, or any type
 * whose subtype ends in +json (application/problem+json), in any case,
 * parameters (; charset=...) ignored. */
static bool json_content_type(const char *ctype) {
  if (!ctype)
    return false;
  while (*ctype == ' ' || *ctype == '\t')
    ctype++;
  size_t n = strcspn(ctype, "; \t");
  if (n == 16 && !strncasecmp(ctype, "application/json", 16))
    return true;
  return n > 5 && memchr(ctype, '/', n) && !strncasecmp(ctype + n - 5, "+json", 5);
}

/* FP_RECORD_JSON: a JSON-typed body that parses becomes "json"; one that
 * does not is added as text plus "json_error" saying why. */
static int add_json_body(json_t *rec, const fp_response *resp) {
  if (!json_content_type(resp->content_type))
    return add_body(rec, resp);
  json_error_t jerr;
  json_t *v = json_loadb(resp->body ? resp->body : "", resp->body ? resp->body_len : 0,
                         JSON_DECODE_ANY, &jerr);
  if (v)
    return json_object_set_new(rec, "json", v) ? FP_ERR_NOMEM : FP_OK;
  int rc = add_body(rec, resp);
  if (rc)
    return rc;
  char why[256];
  snprintf(why, sizeof why, "line %d, column %d: %s", jerr.line, jerr.column, jerr.text);
  return json_object_set_new(rec, "json_error", json_text(why)) ? FP_ERR_NOMEM : FP_OK;
}

/* s in ASCII lower case (NEW, free), or NULL out of memory. */
static char *ascii_lower(const char *s) {
  size_t n = strlen(s);
  char *out = malloc(n + 1);
  if (!out)
    return NULL;
  for (size_t i = 0; i <= n; i++)
    out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
  return out;
}

/* Add one header to h. spelt maps each name in lower case to its first
 * spelling, the key it has in h: a hash, so a head of many headers costs
 * linear time, not quadratic. Each key holds the array of its values
 * until join_values. 0, or -1 out of memory. */
static int add_header(json_t *h, json_t *spelt, json_t *name, json_t *value) {
  char *lower = ascii_lower(json_string_value(name));
  if (!lower)
    return -1;
  json_t *first = json_object_get(spelt, lower);
  int rc = first ? 0 : json_object_set(spelt, lower, name);
  free(lower);
  if (rc)
    return -1;
  const char *key = json_string_value(first ? first : name);
  json_t *values = first ? json_object_get(h, key) : NULL;
  if (!values && (!(values = json_array()) || json_object_set_new(h, key, values)))
    return -1;
  return json_array_append(values, value) ? -1 : 0;
}

/* Replace each array of values by the values joined with ", " in one
 * pass (joining as they come would copy the growing string once per
 * repeat: quadratic in a head that repeats one name), except Set-Cookie,
 * which stays an array. 0, or -1 out of memory. */
static int join_values(json_t *h) {
  for (void *it = json_object_iter(h); it; it = json_object_iter_next(h, it)) {
    json_t *values = json_object_iter_value(it);
    size_t n = json_array_size(values), len = 0;
    if (!strcasecmp(json_object_iter_key(it), "set-cookie"))
      continue;
    if (n == 1) {
      if (json_object_iter_set(h, it, json_array_get(values, 0)))
        return -1;
      continue;
    }
    for (size_t i = 0; i < n; i++)
      len += json_string_length(json_array_get(values, i)) + 2;
    char *both = malloc(len + 1), *p = both;
    if (!both)
      return -1;
    for (size_t i = 0; i < n; i++) {
      json_t *v = json_array_get(values, i);
      if (i) {
        memcpy(p, ", ", 2);
        p += 2;
      }
      memcpy(p, json_string_value(v), json_string_length(v));
      p += json_string_length(v);
    }
    int rc = json_object_iter_set_new(h, it, json_stringn(both, (size_t)(p - both)));
    free(both);
    if (rc)
      return -1;
  }
  return 0;
}

/* headers: name -> value, names as the first one was spelt. A name sent
 * again (in any case) has its values joined with ", " (RFC 9110 5.3), but
 * Set-Cookie, which cannot be joined (RFC 6265), is always an array of
 * its values. Nothing is dropped: a name that is not UTF-8 is escaped as
 * values are. 0, or -1 out of memory. */
static int add_headers(json_t *rec, const fp_response *resp) {
  json_t *h = json_object(), *spelt = json_object();
  int rc = !h || !spelt || json_object_set(rec, "headers", h) ? -1 : 0;
  for (size_t i = 0; !rc && i < resp->nheaders; i++) {
    json_t *name = json_text(resp->headers[i].name), *value = json_text(resp->headers[i].value);
    rc = name && value ? add_header(h, spelt, name, value) : -1;
    json_decref(name);
    json_decref(value);
  }
  if (!rc)
    rc = join_values(h);
  json_decref(h);
  json_decref(spelt);
  return rc;
}

static void add_timings(json_t *rec, const fp_response *resp) {
  const fp_timings *t = &resp->timings;
  json_object_set_new(rec, "timings",
                      json_pack("{s:f, s:f, s:f, s:f, s:f}", "dns_ms", ms(t->dns),
                                "connect_ms", ms(t->connect), "tls_ms", ms(t->tls),
                                "first_byte_ms", ms(t->first_byte), "total_ms",
                                ms(t->total)));
}

json_t *fp_record_new(const fp_request *req, const fp_response *resp,
                      unsigned flags) {
  if (!req || !resp)
    return NULL;
  json_t *rec = record_base(req->has_index, req->index, req->url, req->id);
  if (!rec)
    return NULL;
  json_object_set_new(rec, "status", resp->status ? json_integer(resp->status) : json_null());
  json_object_set_new(rec, "ok", json_boolean(fp_response_ok(resp)));
  char buf[32];
  const char *msg;
  int code = fp__response_outcome(resp, &msg, buf, sizeof buf);
  json_object_set_new(rec, "error", code == FP_OK ? json_null() : error_object(code, msg));
  json_object_set_new(rec, "effective_url",
                      resp->effective_url ? json_url(resp->effective_url) : json_null());
  json_object_set_new(rec, "elapsed_ms", json_real(ms(resp->elapsed)));
  json_object_set_new(rec, "bytes", json_integer((json_int_t)resp->bytes));
  json_object_set_new(rec, "attempts", json_integer(resp->attempts));
  json_object_set_new(rec, "http_version",
                      resp->http_version ? json_string(resp->http_version) : json_null());
  if (flags & FP_RECORD_TIMINGS)
    add_timings(rec, resp);
  if (((flags & FP_RECORD_HEADERS) && add_headers(rec, resp)) ||
      ((flags & FP_RECORD_JSON) && add_json_body(rec, resp)) ||
      ((flags & (FP_RECORD_BODY | FP_RECORD_JSON)) == FP_RECORD_BODY && add_body(rec, resp))) {
    json_decref(rec);
    return NULL;
  }
  return rec;
}

json_t *fp_record_error(uint64_t index, const char *url, json_t *id, int code,
                        const char *message) {
  json_t *rec = record_base(true, index, url, id);
  if (!rec)
    return NULL;
  json_object_set_new(rec, "status", json_null());
  json_object_set_new(rec, "ok", json_false());
  json_object_set_new(rec, "error", error_object(code, message));
  json_object_set_new(rec, "effective_url", json_null());
  json_object_set_new(rec, "elapsed_ms", json_real(0));
  json_object_set_new(rec, "bytes", json_integer(0));
  json_object_set_new(rec, "attempts", json_integer(0));
  json_object_set_new(rec, "http_version", json_null());
  return rec;
}

/* A done future's record. Read through the future's public accessors:
 * once finished or cancelled, its state and response no longer change. */
json_t *fp_future_record(fp_future *f, unsigned flags) {
  if (!f)
    return NULL;
  fp_state state = fp_future_state(f);
  if (state == FP_PENDING || state == FP_RUNNING)
    return NULL;
  const fp_response *resp = state == FP_FINISHED ? fp_future_response(f) : NULL;
  if (resp)
    return fp_record_new(fp_future_request(f), resp, flags);
  /* cancelled, or finished without a response (out of memory) */
  fp_response stand_in = {.error = state == FP_CANCELLED ? FP_ERR_CANCELLED : FP_ERR_NOMEM};
  return fp_record_new(fp_future_request(f), &stand_in, flags);
}

json_t *fp_results_to_json(fp_results *r, unsigned flags) {
  if (!r)
    return NULL;
  json_t *arr = json_array();
  size_t n = fp_results_size(r);
  for (size_t i = 0; arr && i < n; i++) {
    fp_future *f = fp_results_get(r, i);
    json_t *rec = f ? fp_future_record(f, flags) : json_null();
    if (!rec || json_array_append_new(arr, rec)) {
      json_decref(arr);
      return NULL;
    }
  }
  return arr;
}
