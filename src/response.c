/* response.c: the response model: status, body, headers, timings, error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "fetchpool.h"
#include "model.h"

fp_response *fp__response_new(void) {
  fp_response *resp = calloc(1, sizeof *resp);
  if (resp)
    resp->retry_after = -1;
  return resp;
}

void fp__response_clear_headers(fp_response *resp) {
  for (size_t i = 0; i < resp->nheaders; i++) {
    free(resp->headers[i].name);
    free(resp->headers[i].value);
  }
  resp->nheaders = 0;
}

void fp__response_free(fp_response *resp) {
  if (!resp)
    return;
  fp__response_clear_headers(resp);
  free(resp->headers);
  free(resp->error_message);
  free(resp->effective_url);
  free(resp->content_type);
  free(resp->body);
  free(resp);
}

void fp__response_set_error(fp_response *resp, int code, const char *message) {
  resp->error = code;
  free(resp->error_message);
  resp->error_message = message && *message ? strdup(message) : NULL;
}

int fp__response_append_body(fp_response *resp, const char *data, size_t len) {
  if (resp->body_len + len + 1 > resp->body_cap) {
    size_t cap = resp->body_cap ? resp->body_cap : 4096;
    while (cap < resp->body_len + len + 1)
      cap *= 2;
    char *grown = realloc(resp->body, cap);
    if (!grown)
      return FP_ERR_NOMEM;
    resp->body = grown;
    resp->body_cap = cap;
  }
  memcpy(resp->body + resp->body_len, data, len);
  resp->body_len += len;
  resp->body[resp->body_len] = '\0';
  return FP_OK;
}

int fp__response_add_header(fp_response *resp, const char *name, size_t nlen,
                            const char *value, size_t vlen) {
  if (resp->nheaders == resp->headers_cap) {
    size_t cap = resp->headers_cap ? resp->headers_cap * 2 : 16;
    fp__header *grown = realloc(resp->headers, cap * sizeof *grown);
    if (!grown)
      return FP_ERR_NOMEM;
    resp->headers = grown;
    resp->headers_cap = cap;
  }
  char *n = strndup(name, nlen), *v = strndup(value, vlen);
  if (!n || !v) {
    free(n);
    free(v);
    return FP_ERR_NOMEM;
  }
  resp->headers[resp->nheaders].name = n;
  resp->headers[resp->nheaders].value = v;
  resp->nheaders++;
  return FP_OK;
}

int fp_response_error(const fp_response *resp) {
  return resp ? resp->error : FP_ERR_INVALID_ARG;
}

const char *fp_response_error_message(const fp_response *resp) {
  return resp && resp->error_message ? resp->error_message : "";
}

long fp_response_status(const fp_response *resp) { return resp ? resp->status : 0; }

int fp__response_outcome(const fp_response *resp, const char **msg, char *buf, size_t size) {
  int code = !resp                 ? FP_ERR_NOMEM
             : resp->error != FP_OK ? resp->error
             : resp->status >= 400  ? FP_ERR_HTTP
                                    : FP_OK;
  if (code == FP_OK) {
    *msg = "";
  } else if (code == FP_ERR_HTTP) {
    snprintf(buf, size, "HTTP status %ld", resp->status);
    *msg = buf;
  } else {
    *msg = resp && resp->error_message && *resp->error_message ? resp->error_message
                                                               : fp_strerror(code);
  }
  return code;
}

bool fp_response_ok(const fp_response *resp) {
  return resp && resp->error == FP_OK && resp->status > 0 && resp->status < 400;
}

const char *fp_response_effective_url(const fp_response *resp) {
  return resp && resp->effective_url ? resp->effective_url : "";
}

const char *fp_response_content_type(const fp_response *resp) {
  return resp ? resp->content_type : NULL;
}

const char *fp_response_body(const fp_response *resp, size_t *len) {
  if (len)
    *len = resp && resp->body ? resp->body_len : 0;
  return resp ? resp->body : NULL;
}

uint64_t fp_response_bytes(const fp_response *resp) { return resp ? resp->bytes : 0; }

size_t fp_response_header_count(const fp_response *resp) {
  return resp ? resp->nheaders : 0;
}

int fp_response_header_at(const fp_response *resp, size_t i, const char **name,
                          const char **value) {
  if (!resp || i >= resp->nheaders)
    return FP_ERR_INVALID_ARG;
  if (name)
    *name = resp->headers[i].name;
  if (value)
    *value = resp->headers[i].value;
  return FP_OK;
}

const char *fp_response_header(const fp_response *resp, const char *name) {
  if (!resp || !name)
    return NULL;
  for (size_t i = 0; i < resp->nheaders; i++)
    if (strcasecmp(resp->headers[i].name, name) == 0)
      return resp->headers[i].value;
  return NULL;
}

fp_timings fp_response_timings(const fp_response *resp) {
  fp_timings none = {0};
  return resp ? resp->timings : none;
}

double fp_response_elapsed(const fp_response *resp) { return resp ? resp->elapsed : 0; }

unsigned fp_response_attempts(const fp_response *resp) {
  return resp ? resp->attempts : 0;
}

const char *fp_response_http_version(const fp_response *resp) {
  return resp ? resp->http_version : NULL;
}
