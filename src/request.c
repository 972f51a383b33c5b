/* request.c: the request model, its setters, and parsing a JSON job object. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "fetchpool.h"
#include "model.h"
#include "error.h"

static char *dup_n(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (d) {
    memcpy(d, s, n);
    d[n] = '\0';
  }
  return d;
}

static char *dup_str(const char *s) { return s ? dup_n(s, strlen(s)) : NULL; }

/* RFC 9110 token characters, for header names and methods. */
static bool is_token(const char *s, size_t n) {
  if (n == 0)
    return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c <= 32 || c >= 127 || strchr("\"(),/:;<=>?@[\\]{}", c))
      return false;
  }
  return true;
}

/* A header value may hold any byte but CR, LF and NUL (no header
 * injection through input). */
static bool is_header_value(const char *s) { return strpbrk(s, "\r\n") == NULL; }

fp_request *fp_request_new(const char *url) {
  if (!url)
    return NULL;
  fp_request *req = calloc(1, sizeof *req);
  if (!req)
    return NULL;
  atomic_init(&req->refcount, 1);
  req->url = dup_str(url);
  req->method = dup_str("GET");
  if (!req->url || !req->method) {
    fp_request_decref(req);
    return NULL;
  }
  req->max_body = FP_DEFAULT_MAX_BODY;
  req->retry_base = FP_DEFAULT_RETRY_BASE;
  req->retry_max_wait = FP_DEFAULT_RETRY_MAX_WAIT;
  static const int retried[] = FP_DEFAULT_RETRY_STATUSES;
  fp_request_set_retry_statuses(req, retried, sizeof retried / sizeof retried[0]);
  req->follow_redirects = true;
  req->max_redirs = FP_DEFAULT_MAX_REDIRS;
  return req;
}

fp_request *fp_request_incref(fp_request *req) {
  if (req)
    atomic_fetch_add_explicit(&req->refcount, 1, memory_order_relaxed);
  return req;
}

static void free_headers(fp__header *h, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(h[i].name);
    free(h[i].value);
  }
  free(h);
}

/* Free a secret, first overwriting it, so it lingers in no free heap
 * block (a core dump, a later allocation's garbage). */
static void wipe_free(char *s) {
  if (s)
    explicit_bzero(s, strlen(s));
  free(s);
}

static void free_part(fp__form_part *p) {
  free(p->name);
  free(p->data);
  free(p->path);
  free(p->type);
  free(p->filename);
}

static void free_parts(fp__form_part *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    free_part(&p[i]);
  free(p);
}

void fp_request_decref(fp_request *req) {
  if (!req || atomic_fetch_sub_explicit(&req->refcount, 1, memory_order_acq_rel) != 1)
    return;
  free(req->url);
  free(req->method);
  free_headers(req->headers, req->nheaders);
  free(req->hindex);
  free(req->body);
  free(req->user_agent);
  free(req->cacert);
  fp__net_free(req->net);
  wipe_free(req->username);
  wipe_free(req->password);
  wipe_free(req->bearer);
  free(req->netrc_file);
  free(req->referer);
  free(req->request_target);
  free_parts(req->parts, req->nparts);
  json_decref(req->id);
  free(req);
}

fp_request *fp_request_copy(const fp_request *src) {
  if (!src)
    return NULL;
  fp_request *req = fp_request_new(src->url);
  if (!req)
    return NULL;
  if (fp_request_set_method(req, src->method) ||
      fp_request_set_user_agent(req, src->user_agent) ||
      fp_request_set_cacert(req, src->cacert) ||
      (src->has_body && fp_request_set_body(req, src->body, src->body_len)) ||
      (src->username && fp_request_set_credentials(req, src->username, src->password)) ||
      fp_request_set_bearer(req, src->bearer) ||
      fp_request_set_netrc(req, src->netrc, src->netrc_file) ||
      fp_request_set_referer(req, src->referer, src->auto_referer) ||
      fp_request_set_request_target(req, src->request_target))
    goto fail;
  for (size_t i = 0; i < src->nparts; i++) {
    const fp__form_part *p = &src->parts[i];
    if (fp_request_add_form_part(req, p->name, p->data, p->len, p->path, p->type, p->filename))
      goto fail;
  }
  req->auth = src->auth;
  req->path_as_is = src->path_as_is;
  req->identity = src->identity;
  req->limit_rate = src->limit_rate;
  req->body_as_query = src->body_as_query;
  for (size_t i = 0; i < src->nheaders; i++)
    if (fp_request_add_header(req, src->headers[i].name, src->headers[i].value))
      goto fail;
  req->timeout = src->timeout;
  req->attempt_timeout = src->attempt_timeout;
  req->connect_timeout = src->connect_timeout;
  req->max_body = src->max_body;
  req->max_filesize = src->max_filesize;
  req->follow_redirects = src->follow_redirects;
  req->max_redirs = src->max_redirs;
  req->keep_headers = src->keep_headers;
  req->insecure = src->insecure;
  req->stall_timeout = src->stall_timeout;
  req->max_retries = src->max_retries;
  req->retry_base = src->retry_base;
  req->retry_max_wait = src->retry_max_wait;
  memcpy(req->retry_statuses, src->retry_statuses, sizeof req->retry_statuses);
  req->sink = src->sink;
  req->sink_userdata = src->sink_userdata;
  req->id = src->id ? json_deep_copy(src->id) : NULL; /* see fp_request_set_id */
  req->has_index = src->has_index;
  req->index = src->index;
  req->userdata = src->userdata;
  if (fp__net_copy(&req->net, src->net))
    goto fail;
  return req;
fail:
  fp_request_decref(req);
  return NULL;
}

static int replace_str(char **field, const char *value) {
  char *copy = NULL;
  if (value && !(copy = dup_str(value)))
    return FP_ERR_NOMEM;
  free(*field);
  *field = copy;
  return FP_OK;
}

int fp_request_set_url(fp_request *req, const char *url) {
  if (!req || !url)
    return FP_ERR_INVALID_ARG;
  return replace_str(&req->url, url);
}

int fp_request_set_method(fp_request *req, const char *method) {
  if (!req || !method || !is_token(method, strlen(method)))
    return FP_ERR_INVALID_ARG;
  return replace_str(&req->method, method);
}

/* FNV-1a of the ASCII-lowercased name: header names compare
 * case-insensitively. */
static size_t name_hash(const char *name, size_t nlen) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < nlen; i++) {
    unsigned char c = (unsigned char)name[i];
    h = (h ^ (c >= 'A' && c <= 'Z' ? c + 32 : c)) * 0x100000001b3ull;
  }
  return (size_t)h;
}

/* The index bucket for name: the one holding it, or the empty one where it
 * would go. hindex_cap must be non-zero. */
static size_t find_bucket(const fp_request *req, const char *name, size_t nlen) {
  size_t mask = req->hindex_cap - 1, i = name_hash(name, nlen) & mask;
  while (req->hindex[i]) {
    const char *have = req->headers[req->hindex[i] - 1].name;
    if (strlen(have) == nlen && strncasecmp(have, name, nlen) == 0)
      break;
    i = (i + 1) & mask;
  }
  return i;
}

/* Keep the index at most half full, so a lookup is O(1) on average and
 * adding n headers costs O(n), not O(n^2) as a scan of the list would. */
static int grow_index(fp_request *req) {
  if (2 * (req->nheaders + 1) <= req->hindex_cap)
    return FP_OK;
  size_t cap = req->hindex_cap ? 2 * req->hindex_cap : 16;
  size_t *index = calloc(cap, sizeof *index);
  if (!index)
    return FP_ERR_NOMEM;
  free(req->hindex);
  req->hindex = index;
  req->hindex_cap = cap;
  for (size_t k = 0; k < req->nheaders; k++) {
    const char *name = req->headers[k].name;
    req->hindex[find_bucket(req, name, strlen(name))] = k + 1;
  }
  return FP_OK;
}

static size_t ua_len(const fp_request *req) {
  return req->user_agent ? strlen(req->user_agent) : 0;
}

static int add_header_n(fp_request *req, const char *name, size_t nlen,
                        const char *value) {
  if (!is_token(name, nlen) || !is_header_value(value))
    return FP_ERR_INVALID_HEADER;
  if (grow_index(req))
    return FP_ERR_NOMEM;
  size_t b = find_bucket(req, name, nlen), vlen = strlen(value);
  fp__header *old = req->hindex[b] ? &req->headers[req->hindex[b] - 1] : NULL;
  size_t bytes = req->header_bytes + nlen + vlen;
  if (old)
    bytes -= strlen(old->name) + strlen(old->value);
  /* Caps, so that input cannot make a request libcurl refuses (its
   * request head must fit in 1 MiB) or that costs without bound. */
  if ((!old && req->nheaders >= FP_MAX_REQUEST_HEADERS) ||
      bytes + ua_len(req) > FP_MAX_REQUEST_HEADER_BYTES)
    return FP_ERR_INVALID_REQUEST;
  char *n = dup_n(name, nlen), *v = dup_n(value, vlen);
  if (!n || !v)
    goto nomem;
  if (old) {
    free(old->name);
    free(old->value);
    old->name = n;
    old->value = v;
    req->header_bytes = bytes;
    return FP_OK;
  }
  if (req->nheaders == req->headers_cap) {
    size_t cap = req->headers_cap ? 2 * req->headers_cap : 8;
    fp__header *grown = realloc(req->headers, cap * sizeof *grown);
    if (!grown)
      goto nomem;
    req->headers = grown;
    req->headers_cap = cap;
  }
  req->headers[req->nheaders].name = n;
  req->headers[req->nheaders].value = v;
  req->nheaders++;
  req->hindex[b] = req->nheaders;
  req->header_bytes = bytes;
  return FP_OK;
nomem:
  free(n);
  free(v);
  return FP_ERR_NOMEM;
}

int fp_request_add_header(fp_request *req, const char *name, const char *value) {
  if (!req || !name || !value)
    return FP_ERR_INVALID_ARG;
  return add_header_n(req, name, strlen(name), value);
}

int fp_request_add_header_line(fp_request *req, const char *line) {
  if (!req || !line)
    return FP_ERR_INVALID_ARG;
  const char *colon = strchr(line, ':');
  if (!colon)
    return FP_ERR_INVALID_HEADER;
  const char *value = colon + 1;
  while (*value == ' ' || *value == '\t')
    value++;
  return add_header_n(req, line, (size_t)(colon - line), value);
}

int fp_request_set_body(fp_request *req, const void *data, size_t len) {
  if (!req || (!data && len))
    return FP_ERR_INVALID_ARG;
  char *copy = NULL;
  if (data && !(copy = dup_n(data, len)))
    return FP_ERR_NOMEM;
  free(req->body);
  req->body = copy;
  req->body_len = data ? len : 0;
  req->has_body = data != NULL;
  return FP_OK;
}

int fp_request_set_timeouts(fp_request *req, double total_s, double connect_s) {
  if (!req || !(total_s >= 0) || !(connect_s >= 0) || isinf(total_s) || isinf(connect_s))
    return FP_ERR_INVALID_ARG;
  req->timeout = total_s;
  req->connect_timeout = connect_s;
  return FP_OK;
}

int fp_request_set_attempt_timeout(fp_request *req, double seconds) {
  if (!req || !(seconds >= 0) || isinf(seconds))
    return FP_ERR_INVALID_ARG;
  req->attempt_timeout = seconds;
  return FP_OK;
}

int fp_request_set_max_body(fp_request *req, size_t max_bytes) {
  if (!req)
    return FP_ERR_INVALID_ARG;
  req->max_body = max_bytes ? max_bytes : FP_DEFAULT_MAX_BODY;
  return FP_OK;
}

int fp_request_set_max_filesize(fp_request *req, uint64_t max_bytes) {
  if (!req)
    return FP_ERR_INVALID_ARG;
  req->max_filesize = max_bytes;
  return FP_OK;
}

int fp_request_set_redirects(fp_request *req, bool follow, long max_redirs) {
  if (!req || max_redirs < 0)
    return FP_ERR_INVALID_ARG;
  req->follow_redirects = follow;
  req->max_redirs = max_redirs;
  return FP_OK;
}

int fp_request_set_keep_headers(fp_request *req, bool keep) {
  if (!req)
    return FP_ERR_INVALID_ARG;
  req->keep_headers = keep;
  return FP_OK;
}

int fp_request_set_user_agent(fp_request *req, const char *ua) {
  if (!req)
    return FP_ERR_INVALID_ARG;
  /* The user agent is sent as a header: same rules as any header. */
  if (ua && !is_header_value(ua))
    return FP_ERR_INVALID_HEADER;
  if (ua && req->header_bytes + strlen(ua) > FP_MAX_REQUEST_HEADER_BYTES)
    return FP_ERR_INVALID_REQUEST;
  return replace_str(&req->user_agent, ua);
}

int fp_request_set_insecure(fp_request *req, bool insecure) {
  if (!req)
    return FP_ERR_INVALID_ARG;
  req->insecure = insecure;
  return FP_OK;
}

int fp_request_set_stall_timeout(fp_request *req, double seconds) {
  if (!req || !(seconds >= 0) || isinf(seconds))
    return FP_ERR_INVALID_ARG;
  req->stall_timeout = seconds;
  return FP_OK;
}

int fp_request_set_cacert(fp_request *req, const char *path) {
  if (!req)
    return FP_ERR_INVALID_ARG;
  return replace_str(&req->cacert, path);
}

/* ---- curl-style options ---- */

/* Replace a secret field: the old value is wiped. */
static int replace_secret(char **field, const char *value) {
  char *copy = NULL;
  if (value && !(copy = dup_str(value)))
    return FP_ERR_NOMEM;
  wipe_free(*field);
  *field = copy;
  return FP_OK;
}

int fp_request_set_credentials(fp_request *req, const char *user, const char *password) {
  if (!req)
    return FP_ERR_INVALID_ARG;
  if (replace_secret(&req->username, user) ||
      replace_secret(&req->password, user ? (password ? password : "") : NULL))
    return FP_ERR_NOMEM;
  return FP_OK;
}

int fp_request_set_auth(fp_request *req, unsigned methods) {
  if (!req || (methods & ~FP_AUTH_ANY))
    return FP_ERR_INVALID_ARG;
  req->auth = methods;
  return FP_OK;
}

int fp_request_set_bearer(fp_request *req, const char *token) {
  if (!req)
    return FP_ERR_INVALID_ARG;
  if (token && !is_header_value(token))
    return FP_ERR_INVALID_HEADER;
  return replace_secret(&req->bearer, token);
}

int fp_request_set_netrc(fp_request *req, fp_netrc mode, const char *file) {
  if (!req || (mode != FP_NETRC_IGNORED && mode != FP_NETRC_OPTIONAL &&
               mode != FP_NETRC_REQUIRED))
    return FP_ERR_INVALID_ARG;
  if (replace_str(&req->netrc_file, file))
    return FP_ERR_NOMEM;
  req->netrc = mode;
  return FP_OK;
}

int fp_request_set_referer(fp_request *req, const char *referer, bool auto_referer) {
  if (!req)
    return FP_ERR_INVALID_ARG;
  if (referer && !is_header_value(referer))
    return FP_ERR_INVALID_HEADER;
  if (replace_str(&req->referer, referer && *referer ? referer : NULL))
    return FP_ERR_NOMEM;
  req->auto_referer = auto_referer;
  return FP_OK;
}

int fp_request_set_path_as_is(fp_request *req, bool as_is) {
  if (!req)
    return FP_ERR_INVALID_ARG;
  req->path_as_is = as_is;
  return FP_OK;
}

int fp_request_set_request_target(fp_request *req, const char *target) {
  if (!req)
    return FP_ERR_INVALID_ARG;
  /* it goes in the request line as is: no space, no control byte */
  for (const char *c = target; c && *c; c++)
    if ((unsigned char)*c <= 0x20 || *c == 0x7f)
      return FP_ERR_INVALID_ARG;
  if (target && !*target)
    return FP_ERR_INVALID_ARG;
  return replace_str(&req->request_target, target);
}

int fp_request_set_compressed(fp_request *req, bool compressed) {
  if (!req)
    return FP_ERR_INVALID_ARG;
  req->identity = !compressed;
  return FP_OK;
}

int fp_request_set_limit_rate(fp_request *req, uint64_t bytes_per_s) {
  if (!req || bytes_per_s > (uint64_t)INT64_MAX)
    return FP_ERR_INVALID_ARG;
  req->limit_rate = bytes_per_s;
  return FP_OK;
}

int fp_request_set_body_as_query(fp_request *req, bool as_query) {
  if (!req)
    return FP_ERR_INVALID_ARG;
  req->body_as_query = as_query;
  return FP_OK;
}

int fp_request_add_form_part(fp_request *req, const char *name, const void *data,
                             size_t len, const char *path, const char *type,
                             const char *filename) {
  if (!req || !name || (!data && !path) || (data && path) || (!data && len))
    return FP_ERR_INVALID_ARG;
  fp__form_part *grown = realloc(req->parts, (req->nparts + 1) * sizeof *grown);
  if (!grown)
    return FP_ERR_NOMEM;
  req->parts = grown;
  fp__form_part *p = &req->parts[req->nparts];
  memset(p, 0, sizeof *p);
  p->name = dup_str(name);
  p->data = data ? dup_n(data, len) : NULL;
  p->len = data ? len : 0;
  p->path = dup_str(path);
  p->type = dup_str(type);
  p->filename = dup_str(filename);
  if (!p->name || (data && !p->data) || (path && !p->path) || (type && !p->type) ||
      (filename && !p->filename)) {
    free_part(p);
    return FP_ERR_NOMEM;
  }
  req->nparts++;
  return FP_OK;
}

int fp_request_set_retries(fp_request *req, unsigned max_retries, double base,
                           double max_wait) {
  if (!req || !(base >= 0) || !(max_wait >= 0) || isinf(base) || isinf(max_wait))
    return FP_ERR_INVALID_ARG;
  req->max_retries = max_retries;
  req->retry_base = base > 0 ? base : FP_DEFAULT_RETRY_BASE;
  req->retry_max_wait = max_wait > 0 ? max_wait : FP_DEFAULT_RETRY_MAX_WAIT;
  return FP_OK;
}

int fp_request_set_retry_statuses(fp_request *req, const int *statuses, size_t n) {
  if (!req || (!statuses && n))
    return FP_ERR_INVALID_ARG;
  for (size_t i = 0; i < n; i++)
    if (statuses[i] < 100 || statuses[i] > 599)
      return FP_ERR_INVALID_ARG;
  memset(req->retry_statuses, 0, sizeof req->retry_statuses);
  for (size_t i = 0; i < n; i++)
    req->retry_statuses[statuses[i] / 64] |= (uint64_t)1 << (statuses[i] % 64);
  return FP_OK;
}

int fp_request_set_sink(fp_request *req, fp_sink_fn sink, void *userdata) {
  if (!req)
    return FP_ERR_INVALID_ARG;
  req->sink = sink;
  req->sink_userdata = userdata;
  return FP_OK;
}

int fp_request_set_id(fp_request *req, json_t *id) {
  if (!req)
    return FP_ERR_INVALID_ARG;
  /* a deep copy, not a reference: jansson's refcount check in json_decref
   * reads the count without an atomic, so one json_t dropped by the
   * caller and a worker at once is a data race (ThreadSanitizer) */
  json_t *copy = id ? json_deep_copy(id) : NULL;
  if (id && !copy)
    return FP_ERR_NOMEM;
  json_decref(req->id);
  req->id = copy;
  return FP_OK;
}

int fp_request_set_index(fp_request *req, uint64_t index) {
  if (!req)
    return FP_ERR_INVALID_ARG;
  req->has_index = true;
  req->index = index;
  return FP_OK;
}

void fp_request_set_userdata(fp_request *req, void *userdata) {
  if (req)
    req->userdata = userdata;
}

const char *fp_request_url(const fp_request *req) { return req ? req->url : NULL; }
const char *fp_request_method(const fp_request *req) { return req ? req->method : NULL; }
json_t *fp_request_id(const fp_request *req) { return req ? req->id : NULL; }
void *fp_request_userdata(const fp_request *req) { return req ? req->userdata : NULL; }

bool fp_request_index(const fp_request *req, uint64_t *index) {
  if (!req || !req->has_index)
    return false;
  if (index)
    *index = req->index;
  return true;
}

size_t fp_request_header_count(const fp_request *req) { return req ? req->nheaders : 0; }

int fp_request_header_at(const fp_request *req, size_t i, const char **name,
                         const char **value) {
  if (!req || i >= req->nheaders)
    return FP_ERR_INVALID_ARG;
  if (name)
    *name = req->headers[i].name;
  if (value)
    *value = req->headers[i].value;
  return FP_OK;
}

const char *fp_request_header(const fp_request *req, const char *name) {
  if (!req || !name || !req->hindex_cap)
    return NULL;
  size_t b = find_bucket(req, name, strlen(name));
  return req->hindex[b] ? req->headers[req->hindex[b] - 1].value : NULL;
}

const void *fp_request_body(const fp_request *req, size_t *len) {
  bool has = req && req->has_body;
  if (len)
    *len = has ? req->body_len : 0;
  return has ? req->body : NULL;
}

/* ---- JSON job objects ---- */


/* A JSON string may hold NUL bytes, which a C string would silently cut:
 * refuse them as the header rules say. */
static bool has_nul(const json_t *str) {
  return strlen(json_string_value(str)) != json_string_length(str);
}

/* Which header cap a refused header hit. */
static int cap_error(const fp_request *req, fp_error *err) {
  if (req->nheaders >= FP_MAX_REQUEST_HEADERS)
    return fp__fail(err, FP_ERR_INVALID_REQUEST,
                    "field 'headers': more than %d headers (the limit)", FP_MAX_REQUEST_HEADERS);
  return fp__fail(err, FP_ERR_INVALID_REQUEST,
                  "field 'headers': header names and values over %zu bytes in all (the limit)",
                  FP_MAX_REQUEST_HEADER_BYTES);
}

static int json_headers(fp_request *req, const json_t *headers, fp_error *err) {
  if (json_is_object(headers)) {
    const char *name;
    json_t *value;
    json_object_foreach((json_t *)headers, name, value) {
      if (!json_is_string(value))
        return fp__fail(err, FP_ERR_INVALID_REQUEST,
                        "field 'headers': value of '%.40s' must be a string", name);
      int rc = has_nul(value) ? FP_ERR_INVALID_HEADER
                              : fp_request_add_header(req, name, json_string_value(value));
      if (rc == FP_ERR_INVALID_HEADER)
        return fp__fail(err, rc, "field 'headers': header '%.40s' has a bad name "
                                 "or a CR, LF or NUL in its value", name);
      if (rc == FP_ERR_INVALID_REQUEST)
        return cap_error(req, err);
      if (rc)
        return fp__fail(err, rc, "field 'headers': %s", fp_strerror(rc));
    }
    return FP_OK;
  }
  if (json_is_array(headers)) {
    size_t i;
    json_t *line;
    json_array_foreach(headers, i, line) {
      if (!json_is_string(line))
        return fp__fail(err, FP_ERR_INVALID_REQUEST,
                        "field 'headers': item %zu must be a \"Name: value\" string", i);
      int rc = has_nul(line) ? FP_ERR_INVALID_HEADER
                             : fp_request_add_header_line(req, json_string_value(line));
      if (rc == FP_ERR_INVALID_HEADER)
        return fp__fail(err, rc, "field 'headers': item %zu is not a valid "
                                 "\"Name: value\" line", i);
      if (rc == FP_ERR_INVALID_REQUEST)
        return cap_error(req, err);
      if (rc)
        return fp__fail(err, rc, "field 'headers': %s", fp_strerror(rc));
    }
    return FP_OK;
  }
  return fp__fail(err, FP_ERR_INVALID_REQUEST,
                  "field 'headers': must be an object or an array of strings");
}

/* A "json" value, or a "body" object or array: sent serialized, and
 * labelled JSON unless the job (or base) already says what it is. */
static int json_body(fp_request *req, const json_t *value, fp_error *err) {
  char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
  if (!text)
    return fp__fail(err, FP_ERR_NOMEM, "out of memory");
  int rc = fp_request_set_body(req, text, strlen(text));
  free(text);
  if (!rc && !fp_request_header(req, "Content-Type"))
    rc = fp_request_add_header(req, "Content-Type", "application/json");
  if (rc == FP_ERR_INVALID_REQUEST)
    return cap_error(req, err);
  return rc ? fp__fail(err, rc, "%s", fp_strerror(rc)) : FP_OK;
}

static int json_seconds(const json_t *obj, const char *key, double *out, fp_error *err) {
  json_t *v = json_object_get(obj, key);
  if (!v || json_is_null(v))
    return FP_OK;
  if (!json_is_number(v) || !(json_number_value(v) >= 0) || isinf(json_number_value(v)))
    return fp__fail(err, FP_ERR_INVALID_REQUEST,
                    "field '%s': must be a non-negative number of seconds", key);
  *out = json_number_value(v);
  return FP_OK;
}

/* A string field without NUL bytes, or NULL when absent or null; -1
 * (err set) when it is something else. */
static int json_str(const json_t *obj, const char *key, const char **out, fp_error *err) {
  json_t *v = json_object_get(obj, key);
  *out = NULL;
  if (!v || json_is_null(v))
    return FP_OK;
  if (!json_is_string(v) || has_nul(v))
    return fp__fail(err, FP_ERR_INVALID_REQUEST, "field '%s': must be a string", key);
  *out = json_string_value(v);
  return FP_OK;
}

/* The per-job curl-style keys: user, auth, oauth2_bearer, referer,
 * request_target, path_as_is, limit_rate. Error messages name the field,
 * never its value (a credential). */
static int json_curl_options(fp_request *req, const json_t *obj, fp_error *err) {
  const char *s;
  json_t *v;
  if (json_str(obj, "user", &s, err))
    return -1;
  if (s) {
    const char *colon = strchr(s, ':');
    char *user = colon ? dup_n(s, (size_t)(colon - s)) : NULL;
    int rc = colon && !user ? FP_ERR_NOMEM
                            : fp_request_set_credentials(req, colon ? user : s,
                                                         colon ? colon + 1 : "");
    wipe_free(user);
    if (rc)
      return fp__fail(err, rc, "field 'user': %s", fp_strerror(rc));
  }
  if (json_str(obj, "auth", &s, err))
    return -1;
  if (s) {
    unsigned m = !strcmp(s, "basic") ? FP_AUTH_BASIC : !strcmp(s, "digest") ? FP_AUTH_DIGEST
                 : !strcmp(s, "ntlm") ? FP_AUTH_NTLM : !strcmp(s, "any") ? FP_AUTH_ANY : 0;
    if (!m)
      return fp__fail(err, FP_ERR_INVALID_REQUEST,
                      "field 'auth': must be \"basic\", \"digest\", \"ntlm\" or \"any\"");
    req->auth = m;
  }
  if (json_str(obj, "oauth2_bearer", &s, err))
    return -1;
  if (s && fp_request_set_bearer(req, s))
    return fp__fail(err, FP_ERR_INVALID_HEADER, "field 'oauth2_bearer': CR or LF in the token");
  if (json_str(obj, "referer", &s, err))
    return -1;
  if (s && fp_request_set_referer(req, s, req->auto_referer))
    return fp__fail(err, FP_ERR_INVALID_HEADER, "field 'referer': CR or LF in it");
  if (json_str(obj, "request_target", &s, err))
    return -1;
  if (s && fp_request_set_request_target(req, s))
    return fp__fail(err, FP_ERR_INVALID_REQUEST,
                    "field 'request_target': must be non-empty, without spaces or control bytes");
  if ((v = json_object_get(obj, "path_as_is")) && !json_is_null(v)) {
    if (!json_is_boolean(v))
      return fp__fail(err, FP_ERR_INVALID_REQUEST, "field 'path_as_is': must be true or false");
    req->path_as_is = json_is_true(v);
  }
  if ((v = json_object_get(obj, "limit_rate")) && !json_is_null(v)) {
    if (!json_is_integer(v) || json_integer_value(v) < 0)
      return fp__fail(err, FP_ERR_INVALID_REQUEST,
                      "field 'limit_rate': must be an integer >= 0 (bytes a second)");
    req->limit_rate = (uint64_t)json_integer_value(v);
  }
  return FP_OK;
}

fp_request *fp_request_from_json(const json_t *obj, const fp_request *base,
                                 fp_error *err) {
  if (!json_is_object(obj)) {
    fp__fail(err, FP_ERR_INVALID_REQUEST, "job must be a JSON object");
    return NULL;
  }
  json_t *url = json_object_get(obj, "url");
  if (!json_is_string(url)) {
    fp__fail(err, FP_ERR_INVALID_URL,
             url ? "field 'url': must be a string" : "field 'url': missing");
    return NULL;
  }
  if (has_nul(url)) { /* a C string would silently cut it */
    fp__fail(err, FP_ERR_INVALID_URL, "field 'url': contains a NUL byte");
    return NULL;
  }
  fp_request *req = base ? fp_request_copy(base) : fp_request_new(json_string_value(url));
  if (!req || fp_request_set_url(req, json_string_value(url))) {
    fp__fail(err, FP_ERR_NOMEM, "out of memory");
    goto fail;
  }
  json_t *v;
  if ((v = json_object_get(obj, "method"))) {
    if (!json_is_string(v) || has_nul(v) || fp_request_set_method(req, json_string_value(v))) {
      fp__fail(err, FP_ERR_INVALID_REQUEST, "field 'method': must be an HTTP method token");
      goto fail;
    }
  }
  if ((v = json_object_get(obj, "headers")) && !json_is_null(v) &&
      json_headers(req, v, err))
    goto fail;
  json_t *js = json_object_get(obj, "json");
  if (js && (v = json_object_get(obj, "body")) && !json_is_null(v)) {
    fp__fail(err, FP_ERR_INVALID_REQUEST, "fields 'json' and 'body': give only one");
    goto fail;
  }
  if (js && json_body(req, js, err))
    goto fail;
  if ((v = json_object_get(obj, "body")) && !json_is_null(v)) {
    if (json_is_object(v) || json_is_array(v)) {
      if (json_body(req, v, err))
        goto fail;
    } else if (!json_is_string(v)) {
      fp__fail(err, FP_ERR_INVALID_REQUEST,
               "field 'body': must be a string, an object or an array");
      goto fail;
    } else if (fp_request_set_body(req, json_string_value(v), json_string_length(v))) {
      fp__fail(err, FP_ERR_NOMEM, "out of memory");
      goto fail;
    }
  }
  if (json_seconds(obj, "timeout", &req->timeout, err) ||
      json_seconds(obj, "attempt_timeout", &req->attempt_timeout, err) ||
      json_seconds(obj, "connect_timeout", &req->connect_timeout, err) ||
      json_seconds(obj, "stall_timeout", &req->stall_timeout, err))
    goto fail;
  if ((v = json_object_get(obj, "max_redirs")) && !json_is_null(v)) {
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
      fp__fail(err, FP_ERR_INVALID_REQUEST, "field 'max_redirs': must be an integer >= 0");
      goto fail;
    }
    req->max_redirs = (long)json_integer_value(v);
    req->follow_redirects = req->max_redirs > 0;
  }
  if (json_curl_options(req, obj, err))
    goto fail;
  if ((v = json_object_get(obj, "id")))
    fp_request_set_id(req, v);
  if ((v = json_object_get(obj, "proxy")) && !json_is_null(v)) {
    if (!json_is_string(v) || has_nul(v)) {
      fp__fail(err, FP_ERR_INVALID_REQUEST, "field 'proxy': must be a proxy URL string");
      goto fail;
    }
    if (fp_request_set_net(req, FP_NET_PROXY, json_string_value(v))) {
      /* the value is not quoted: it may hold the proxy's password */
      fp__fail(err, FP_ERR_INVALID_REQUEST, "field 'proxy': must not hold CR or LF");
      goto fail;
    }
  }
  return req;
fail:
  fp_request_decref(req);
  return NULL;
}
