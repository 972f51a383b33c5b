/* model.h: the model's insides: the request and response structs
 * (request.c, response.c, record.c), for the files that build or read them. */
#ifndef FP_MODEL_H
#define FP_MODEL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "fetchpool.h"

/* A header line, as requests and responses keep them. */
typedef struct fp__header {
  char *name;
  char *value;
} fp__header;

/* A request's network options (request_net.c): proxies, TLS, names and
 * addresses, HTTP version. All zero is libcurl's defaults; a request
 * that sets none has none allocated (it costs a pointer). */
#define FP__NET_MAX_ENTRIES 64
typedef struct fp__net {
  char *str[FP_NET__COUNT]; /* fp_net_option -> value, NULL = unset */
  char **resolve;           /* at most FP__NET_MAX_ENTRIES */
  size_t nresolve;
  char **connect_to;
  size_t nconnect_to;
  bool proxy_insecure;
  int ip_version;      /* 0, 4 or 6 */
  unsigned local_port, local_port_last;
  fp_http_version http_version;
  fp_tls_version tls_min, tls_max;
} fp__net;

/* A NEW deep copy of src (NULL gives NULL with FP_OK), in *out; FP_OK
 * or FP_ERR_NOMEM. */
int fp__net_copy(fp__net **out, const fp__net *src);
void fp__net_free(fp__net *net); /* NULL is ignored */
/* One part of a multipart/form-data body: data (len bytes) or a file. */
typedef struct fp__form_part {
  char *name, *data, *path, *type, *filename;
  size_t len;
} fp__form_part;

struct fp_request {
  atomic_long refcount;
  char *url;
  char *method;
  fp__header *headers;
  size_t nheaders;
  size_t headers_cap;
  size_t header_bytes; /* names and values, for FP_MAX_REQUEST_HEADER_BYTES */
  /* open-addressing index of headers by case-insensitive name: each bucket
   * holds position + 1, 0 when empty; hindex_cap is 0 or a power of two */
  size_t *hindex;
  size_t hindex_cap;
  char *body;
  size_t body_len;
  bool has_body;
  double timeout;         /* seconds for the whole job (every attempt and
                             retry wait), 0 = none */
  double attempt_timeout; /* seconds for one attempt, 0 = none */
  double connect_timeout; /* seconds, 0 = default */
  size_t max_body;
  uint64_t max_filesize; /* body bytes, kept or sunk; 0 = no limit */
  bool follow_redirects;
  long max_redirs;
  bool keep_headers;
  bool insecure;
  char *user_agent; /* NULL = default */
  double stall_timeout; /* seconds below 1 byte/s, 0 = off */
  char *cacert;         /* NULL = system store */
  unsigned max_retries;
  double retry_base;     /* seconds */
  double retry_max_wait; /* seconds */
  uint64_t retry_statuses[10]; /* bit s set: status s is retried (s < 640) */
  /* curl-style options (auth, data, misc) */
  char *username, *password; /* NULL: none; wiped when freed */
  unsigned auth;             /* FP_AUTH_* bits, 0: basic */
  char *bearer;
  fp_netrc netrc;
  char *netrc_file;
  char *referer;
  bool auto_referer;
  bool path_as_is;
  char *request_target;
  bool identity; /* no Accept-Encoding (curl --no-compressed) */
  uint64_t limit_rate; /* bytes a second each way, 0: none */
  bool body_as_query;
  fp__form_part *parts;
  size_t nparts;
  fp_sink_fn sink;
  void *sink_userdata;
  json_t *id;
  bool has_index;
  uint64_t index;
  void *userdata;
  fp__net *net; /* curl-net options, NULL = none set */
};

struct fp_response {
  int error;
  char *error_message;
  long status;
  char *effective_url;
  char *content_type; /* the final response's Content-Type, NULL if none */
  char *body; /* NUL-terminated, body_len bytes */
  size_t body_len;
  size_t body_cap;
  uint64_t bytes;
  fp__header *headers;
  size_t nheaders;
  size_t headers_cap;
  fp_timings timings;
  double elapsed; /* wall seconds of the whole job */
  double retry_after; /* the server's Retry-After in seconds, < 0 if none */
  unsigned attempts;
  const char *http_version; /* static "1.1", "2"...; NULL = no response */
};

fp_response *fp__response_new(void);
void fp__response_free(fp_response *resp);
/* Set the error code and copy message (NULL for none). */
void fp__response_set_error(fp_response *resp, int code, const char *message);
/* Append len body bytes; returns FP_OK or FP_ERR_NOMEM. */
int fp__response_append_body(fp_response *resp, const char *data, size_t len);
/* Add a header (copies); FP_OK or FP_ERR_NOMEM. */
int fp__response_add_header(fp_response *resp, const char *name, size_t nlen,
                            const char *value, size_t vlen);
/* Drop kept headers (a new response in a redirect chain starts). */
void fp__response_clear_headers(fp_response *resp);
/* How a finished job ended, as its record says: FP_OK, FP_ERR_HTTP for a
 * status >= 400, the transfer error, or FP_ERR_NOMEM for no response.
 * *msg gets the record's error.message ("" for FP_OK): BORROWED from resp,
 * a static string, or buf (the HTTP status's text). */
int fp__response_outcome(const fp_response *resp, const char **msg, char *buf, size_t size);

#endif /* FP_MODEL_H */
