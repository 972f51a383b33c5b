/* testserver.c: the loopback HTTP test server (libmicrohttpd) and its raw-socket fault port. */
#include "testserver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define MAX_DELAY_MS 30000u                 /* any single sleep */
#define MAX_BYTES ((uint64_t)1 << 30)       /* /bytes, /binary, /drip, /close-mid-body */
#define MAX_GZIP ((uint64_t)256 << 20)      /* uncompressed size of /gzip */
#define MAX_UPLOAD ((size_t)16 << 20)       /* /echo body; 413 beyond */
/* MHD's per-connection pool must hold a whole reply head, but MHD zeroes all
 * of it on every keep-alive reset, so its size is paid on every request:
 * 384 KiB lets /headers exceed libcurl's own 300 KiB limit and no more. */
#define POOL_SIZE ((size_t)384 << 10)
#define MAX_FILL_HEADERS ((size_t)360 << 10) /* /headers total; fewer headers beyond */
#define BLOCK_SIZE 65536                    /* content-reader block */
#define PAT_LEN 66560                       /* multiple of both 26 and 256 */
#define RAW_MAX_REQ 65536                   /* raw port: request head bound */
#define RAW_RECV_MS 10000                   /* raw port: time allowed for the request head */
#define MAX_KEYS 4096                       /* /flaky and /concurrency names, each table */
#define MAX_KEY_LEN 127
#define MAX_TLS_FILE ((long)1 << 20)        /* a PEM certificate or key file */
#define MAX_CAP_NAMES 256                   /* /cap names per server */
#define CAP_SECONDS 600                     /* /cap-stats "starts": seconds counted */
#define CAP_STEPS 16                        /* /cap sched= steps */
#define CAP_MAX ((uint64_t)100000)          /* /cap capacities */
#define CAP_QUEUE_MS MAX_DELAY_MS           /* longest wait in a /cap queue, then 503 */
#define CAP_SLICE_MS 50                     /* a queued request looks again this often */
#define COOL_MAX_SECS ((uint64_t)86400)     /* /cooldown secs= */

/* One named counter of /flaky (n: requests seen) or /concurrency (cur: in
 * flight now, max: most in flight at once). */
/* The head of every named entry of the server's fixed tables (counters,
 * /cap and /cooldown resources), found by slot_get. */
struct slot {
  bool used;
  char name[MAX_KEY_LEN + 1];
};

struct counter {
  struct slot id;
  unsigned long n, cur, max;
  long long first_ms, last_ms;              /* /flaky: when the first and the latest request came */
};

/* A request waiting in a /cap queue (on its handler's stack). */
struct cap_waiter {
  pthread_cond_t cv;
  bool granted;                             /* given a slot (counted in flight) */
  struct cap_waiter *next;
};

struct cap_step {
  long long at_ms;                          /* from the resource's first request */
  unsigned long c;
};

/* One /cap resource: serves at most its capacity at once, the capacity of
 * its latest request's c= and sched= (steps timed from its first request). */
struct cap {
  struct slot id;
  bool started;
  unsigned long c;                          /* capacity before the first step */
  unsigned nsteps;
  struct cap_step steps[CAP_STEPS];         /* at_ms increasing */
  unsigned long inflight, served, shed, max_inflight;
  long long first_ms;                       /* its first request (since the reset) */
  struct cap_waiter *head, *tail;           /* queue mode: FIFO of waiting requests */
  unsigned nstarts;                         /* starts[0..nstarts-1] are reported */
  uint32_t starts[CAP_SECONDS];             /* request arrivals per second from first_ms */
};

/* One /cooldown resource: K oks, then one window of 429s, then oks. */
struct cooldown {
  struct slot id;
  bool opened;
  unsigned long ok, rejected, in_window;
  long long end_ms;                         /* the window ends (monotonic) */
  bool date;                                /* the window's Retry-After is an HTTP-date */
  time_t end_date;                          /* then: its end, wall clock */
};

struct raw_conn {
  pthread_t tid;
  int fd;
  ts_server *s;
  atomic_bool done;                         /* thread finished: accept thread may join it */
  struct raw_conn *next;
};

struct ts_server {
  struct MHD_Daemon *mhd;
  unsigned latency_ms;
  char host[64];                            /* host part of ts_url() */
  uint16_t port, raw_port;
  atomic_ulong connections, requests;
  atomic_long open_connections;             /* accepted minus closed, HTTP port */
  atomic_ullong streamed;                   /* body bytes handed to MHD by streamed routes */
  /* written once by ts_stop and never drained: it stays readable, so every
   * sleeper (delays, drip, raw connections) polling it sees the stop */
  int raw_fd, stop_pipe[2];
  pthread_t raw_thread;
  bool raw_started;
  struct raw_conn *raw_conns;               /* touched by the accept thread only until it is joined */
  pthread_mutex_t ctr_mu;                   /* guards the counter, /cap and /cooldown tables */
  bool ctr_mu_init;
  struct counter *flaky, *conc;             /* MAX_KEYS each, open addressing */
  struct cap *caps;                         /* MAX_CAP_NAMES, open addressing */
  struct cooldown *cools;                   /* MAX_KEYS, open addressing */
  pthread_condattr_t cond_attr;             /* CLOCK_MONOTONIC, for the /cap waiters */
  bool cond_attr_init;
  atomic_bool stopping;                     /* set by ts_stop: /cap waiters give up */
  char *tls_cert, *tls_key;                 /* PEM contents; NULL for plain HTTP */
  char az[PAT_LEN + 26];                    /* 'a' + i % 26 */
  char bin[PAT_LEN + 256];                  /* (i * 7 + 3) & 0xff */
  char digest_random[32];                   /* /digest-auth nonce key */
};

/* ---------------------------------------------------------------- helpers */

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleep up to ms (capped); false when the server is stopping. Polls the
 * stop pipe, so ts_stop wakes every sleeper at once without a shared lock. */
static bool ts_sleep(ts_server *s, unsigned ms) {
  struct pollfd p = {.fd = s->stop_pipe[0], .events = POLLIN};
  long long end;
  int rc;
  if (ms > MAX_DELAY_MS)
    ms = MAX_DELAY_MS;
  end = now_ms() + ms;
  for (;;) {
    long long left = end - now_ms();
    rc = poll(&p, 1, left > 0 ? (int)left : 0);
    if (rc != 0 && !(rc < 0 && errno == EINTR))
      return false;
    if (rc == 0 && left <= 0)
      return true;
  }
}

/* Strict decimal parse: digits only, no sign, no overflow. */
static bool parse_u64(const char *str, uint64_t *out) {
  uint64_t v = 0;
  if (!str || !*str)
    return false;
  for (; *str; str++) {
    if (*str < '0' || *str > '9' || v > (UINT64_MAX - 9) / 10)
      return false;
    v = v * 10 + (uint64_t)(*str - '0');
  }
  *out = v;
  return true;
}

/* Query parameter as a number: missing or malformed gives def; capped at max. */
static uint64_t qnum(struct MHD_Connection *c, const char *name, uint64_t def, uint64_t max) {
  uint64_t v;
  if (!parse_u64(MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name), &v))
    v = def;
  return v > max ? max : v;
}

static void fill(char *dst, const char *pat, unsigned period, uint64_t pos, size_t n) {
  while (n) {
    size_t chunk = n < PAT_LEN ? n : PAT_LEN;
    memcpy(dst, pat + pos % period, chunk);
    dst += chunk;
    pos += chunk;
    n -= chunk;
  }
}

static enum MHD_Result queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *r) {
  enum MHD_Result ret;
  if (!r)
    return MHD_NO;
  ret = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype,
                             const char *body, size_t len) {
  struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
  if (r && ctype)
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
  return queue(c, status, r);
}

__attribute__((format(printf, 3, 4)))
static enum MHD_Result replyf(struct MHD_Connection *c, unsigned status, const char *fmt, ...) {
  char buf[256];
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0)
    return MHD_NO;
  return reply(c, status, "text/plain", buf, strlen(buf));
}

static const char *after(const char *url, const char *prefix) {
  size_t n = strlen(prefix);
  return strncmp(url, prefix, n) == 0 ? url + n : NULL;
}

/* ------------------------------------------------------- streamed bodies */

enum stream_kind { ST_AZ, ST_BIN, ST_DRIP, ST_CUT };

struct stream {
  ts_server *s;
  enum stream_kind kind;
  uint64_t total;                           /* bytes produced before end (or error for ST_CUT) */
  unsigned interval_ms;
};

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
  struct stream *st = cls;
  size_t n;
  if (pos >= st->total)
    return st->kind == ST_CUT ? MHD_CONTENT_READER_END_WITH_ERROR : MHD_CONTENT_READER_END_OF_STREAM;
  n = st->total - pos < max ? (size_t)(st->total - pos) : max;
  switch (st->kind) {
  case ST_AZ:
  case ST_CUT:
    fill(buf, st->s->az, 26, pos, n);
    break;
  case ST_BIN:
    fill(buf, st->s->bin, 256, pos, n);
    break;
  case ST_DRIP:
    if (!ts_sleep(st->s, st->interval_ms))
      return MHD_CONTENT_READER_END_WITH_ERROR;
    buf[0] = st->s->az[pos % 26];
    n = 1;
    break;
  }
  atomic_fetch_add(&st->s->streamed, n);
  return (ssize_t)n;
}

static enum MHD_Result reply_stream(struct MHD_Connection *c, ts_server *s, enum stream_kind kind,
                                    uint64_t total, uint64_t length, const char *ctype,
                                    unsigned interval_ms) {
  struct MHD_Response *r;
  struct stream *st = malloc(sizeof *st);
  if (!st)
    return MHD_NO;
  *st = (struct stream){.s = s, .kind = kind, .total = total, .interval_ms = interval_ms};
  r = MHD_create_response_from_callback(length, BLOCK_SIZE, stream_read, st, free);
  if (!r) {
    free(st);
    return MHD_NO;
  }
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
  return queue(c, MHD_HTTP_OK, r);
}

/* ------------------------------------------------------------------ /gzip */

/* Gzip of n bytes of 'x', fed in slices so n is never allocated. */
static unsigned char *gzip_x(uint64_t n, size_t *out_len) {
  unsigned char in[16384];
  unsigned char *out = NULL, *grown;
  size_t cap = 65536, len = 0, room;
  z_stream z;
  int flush, rc;
  memset(&z, 0, sizeof z);
  memset(in, 'x', sizeof in);
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return NULL;
  if (!(out = malloc(cap)))
    goto fail;
  do {
    z.next_in = in;
    z.avail_in = n > sizeof in ? (unsigned)sizeof in : (unsigned)n;
    n -= z.avail_in;
    flush = n ? Z_NO_FLUSH : Z_FINISH;
    do {
      if (len == cap) {
        if (!(grown = realloc(out, cap * 2)))
          goto fail;
        out = grown;
        cap *= 2;
      }
      room = cap - len;
      z.next_out = out + len;
      z.avail_out = (unsigned)room;
      rc = deflate(&z, flush);
      if (rc == Z_STREAM_ERROR)
        goto fail;
      len += room - z.avail_out;
    } while (z.avail_out == 0);
  } while (flush != Z_FINISH);
  deflateEnd(&z);
  *out_len = len;
  return out;
fail:
  deflateEnd(&z);
  free(out);
  return NULL;
}

static enum MHD_Result route_gzip(struct MHD_Connection *c) {
  size_t len;
  struct MHD_Response *r;
  unsigned char *gz = gzip_x(qnum(c, "bytes", 1024, MAX_GZIP), &len);
  if (!gz)
    return replyf(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "gzip failed");
  r = MHD_create_response_from_buffer(len, gz, MHD_RESPMEM_MUST_FREE);
  if (!r) {
    free(gz);
    return MHD_NO;
  }
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
  return queue(c, MHD_HTTP_OK, r);
}

/* ------------------------------------------------------------------ /echo */

struct req {
  char *body;
  size_t len, cap;
  bool too_big;
};

static bool req_append(struct req *rq, const char *data, size_t n) {
  size_t cap = rq->cap ? rq->cap : 4096;
  char *grown;
  if (rq->too_big || n > MAX_UPLOAD - rq->len) {
    rq->too_big = true;
    return false;
  }
  while (cap - rq->len < n)
    cap *= 2;
  if (cap != rq->cap || !rq->body) {
    if (!(grown = realloc(rq->body, cap)))
      return false;
    rq->body = grown;
    rq->cap = cap;
  }
  memcpy(rq->body + rq->len, data, n);
  rq->len += n;
  return true;
}

/* JSON string of arbitrary bytes: UTF-8 as is, otherwise read as Latin-1. */
static json_t *json_bytes(const char *p, size_t n) {
  json_t *j = json_stringn(p, n);
  char *u;
  size_t k = 0;
  if (j)
    return j;
  if (!(u = malloc(n * 2 + 1)))
    return NULL;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)p[i];
    if (ch < 0x80) {
      u[k++] = (char)ch;
    } else {
      u[k++] = (char)(0xc0 | (ch >> 6));
      u[k++] = (char)(0x80 | (ch & 0x3f));
    }
  }
  j = json_stringn(u, k);
  free(u);
  return j;
}

/* Duplicate names are joined with ", " as HTTP allows. */
static enum MHD_Result add_value(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value) {
  json_t *obj = cls, *old, *v;
  char *joined;
  if (!key)
    return MHD_YES;
  if (!value)
    value = "";
  old = json_object_get(obj, key);
  if (old && json_is_string(old)) {
    size_t a = json_string_length(old), b = strlen(value);
    if (!(joined = malloc(a + b + 2)))
      return MHD_YES;
    memcpy(joined, json_string_value(old), a);
    memcpy(joined + a, ", ", 2);
    memcpy(joined + a + 2, value, b);
    v = json_bytes(joined, a + b + 2);
    free(joined);
  } else {
    v = json_bytes(value, strlen(value));
  }
  if (v)
    json_object_set_new(obj, key, v); /* drops v if key is not UTF-8 */
  return MHD_YES;
}

static enum MHD_Result route_echo(struct MHD_Connection *c, const char *url, const char *method,
                                  const struct req *rq) {
  json_t *o = NULL, *q = NULL, *h = NULL;
  char *txt = NULL;
  size_t n;
  struct MHD_Response *r;
  if (rq->too_big)
    return replyf(c, 413, "request body over %zu bytes", MAX_UPLOAD);
  if (!(o = json_object()) || !(q = json_object()) || !(h = json_object()))
    goto fail;
  MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_value, q);
  MHD_get_connection_values(c, MHD_HEADER_KIND, add_value, h);
  json_object_set_new(o, "method", json_bytes(method, strlen(method)));
  json_object_set_new(o, "path", json_bytes(url, strlen(url)));
  json_object_set_new(o, "query", q);
  q = NULL;
  json_object_set_new(o, "headers", h);
  h = NULL;
  json_object_set_new(o, "body", json_bytes(rq->body ? rq->body : "", rq->len));
  json_object_set_new(o, "body_length", json_integer((json_int_t)rq->len));
  /* dumpb into our own malloc: MHD frees it with free() */
  if (!(n = json_dumpb(o, NULL, 0, JSON_COMPACT)) || !(txt = malloc(n)) ||
      json_dumpb(o, txt, n, JSON_COMPACT) != n)
    goto fail;
  json_decref(o);
  if (!(r = MHD_create_response_from_buffer(n, txt, MHD_RESPMEM_MUST_FREE))) {
    free(txt);
    return MHD_NO;
  }
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
  return queue(c, MHD_HTTP_OK, r);
fail:
  free(txt);
  json_decref(o);
  json_decref(q);
  json_decref(h);
  return replyf(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "echo failed");
}

/* ------------------------------------------------------------- auth */

#define AUTH_REALM "fetchpool-test"

/* USER/PASS of /basic-auth/USER/PASS (each 1..63 bytes, no '/'), or false. */
static bool split_creds(const char *rest, char *user, char *pass) {
  const char *slash = strchr(rest, '/');
  size_t ulen = slash ? (size_t)(slash - rest) : 0, plen = slash ? strlen(slash + 1) : 0;
  if (!slash || !ulen || ulen > 63 || !plen || plen > 63 || strchr(slash + 1, '/'))
    return false;
  memcpy(user, rest, ulen);
  user[ulen] = '\0';
  memcpy(pass, slash + 1, plen + 1);
  return true;
}

/* 200 {"user": U} when Basic credentials are USER and PASS; else 401 with
 * a Basic challenge. */
static enum MHD_Result route_basic_auth(struct MHD_Connection *c, const char *rest) {
  char user[64], pass[64], *got_pass = NULL;
  if (!split_creds(rest, user, pass))
    return replyf(c, MHD_HTTP_BAD_REQUEST, "bad credentials path");
  char *got = MHD_basic_auth_get_username_password(c, &got_pass);
  bool ok = got && got_pass && !strcmp(got, user) && !strcmp(got_pass, pass);
  MHD_free(got);
  MHD_free(got_pass);
  if (ok)
    return replyf(c, MHD_HTTP_OK, "{\"user\":\"%s\"}", user);
  struct MHD_Response *r = MHD_create_response_from_buffer(12, (void *)"unauthorized",
                                                           MHD_RESPMEM_PERSISTENT);
  if (!r)
    return MHD_NO;
  enum MHD_Result rc = MHD_queue_basic_auth_fail_response(c, AUTH_REALM, r);
  MHD_destroy_response(r);
  return rc;
}

/* 200 {"user": U} when the Digest (MD5) response checks for USER and PASS;
 * else 401 with a Digest challenge. */
static enum MHD_Result route_digest_auth(struct MHD_Connection *c, const char *rest) {
  char user[64], pass[64];
  if (!split_creds(rest, user, pass))
    return replyf(c, MHD_HTTP_BAD_REQUEST, "bad credentials path");
  char *got = MHD_digest_auth_get_username(c);
  int check = got ? MHD_digest_auth_check2(c, AUTH_REALM, user, pass, 300, MHD_DIGEST_ALG_MD5)
                  : MHD_NO;
  MHD_free(got);
  if (check == MHD_YES)
    return replyf(c, MHD_HTTP_OK, "{\"user\":\"%s\"}", user);
  struct MHD_Response *r = MHD_create_response_from_buffer(12, (void *)"unauthorized",
                                                           MHD_RESPMEM_PERSISTENT);
  if (!r)
    return MHD_NO;
  enum MHD_Result rc = MHD_queue_auth_fail_response2(c, AUTH_REALM, "0paque", r,
                                                     check == MHD_INVALID_NONCE ? MHD_YES : MHD_NO,
                                                     MHD_DIGEST_ALG_MD5);
  MHD_destroy_response(r);
  return rc;
}

/* 200 when the request carries "Authorization: Bearer TOKEN"; else 401
 * with a Bearer challenge. */
static enum MHD_Result route_bearer(struct MHD_Connection *c, const char *token) {
  const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
  if (auth && !strncmp(auth, "Bearer ", 7) && !strcmp(auth + 7, token))
    return replyf(c, MHD_HTTP_OK, "{\"token\":\"ok\"}");
  struct MHD_Response *r = MHD_create_response_from_buffer(12, (void *)"unauthorized",
                                                           MHD_RESPMEM_PERSISTENT);
  if (!r)
    return MHD_NO;
  MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"" AUTH_REALM "\"");
  return queue(c, MHD_HTTP_UNAUTHORIZED, r);
}

/* ------------------------------------------------------- other routes */

static enum MHD_Result route_headers(struct MHD_Connection *c) {
  uint64_t count = qnum(c, "count", 0, 1000000), size = qnum(c, "size", 10, MAX_FILL_HEADERS);
  struct MHD_Response *r;
  char name[32], *value;
  /* past what the pool holds MHD would drop the connection; fewer headers
   * still overflow any client limit below libcurl's own 300 KiB */
  if (count * (size + 24) > MAX_FILL_HEADERS)
    count = MAX_FILL_HEADERS / (size + 24);
  if (!(value = malloc(size + 1)))
    return MHD_NO;
  memset(value, 'h', size);
  value[size] = '\0';
  r = MHD_create_response_from_buffer(2, (void *)"ok", MHD_RESPMEM_PERSISTENT);
  for (uint64_t i = 0; r && i < count; i++) {
    snprintf(name, sizeof name, "X-Fill-%llu", (unsigned long long)i);
    if (MHD_add_response_header(r, name, value) != MHD_YES) {
      MHD_destroy_response(r);
      r = NULL;
    }
  }
  free(value);
  if (r)
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
  return queue(c, MHD_HTTP_OK, r);
}

static enum MHD_Result route_set_header(struct MHD_Connection *c) {
  const char *name = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "name");
  const char *value = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "value");
  struct MHD_Response *r;
  if (!name || !*name)
    return replyf(c, MHD_HTTP_BAD_REQUEST, "missing name");
  if (!(r = MHD_create_response_from_buffer(2, (void *)"ok", MHD_RESPMEM_PERSISTENT)))
    return MHD_NO;
  if (MHD_add_response_header(r, name, value ? value : "") != MHD_YES) {
    MHD_destroy_response(r);
    return replyf(c, MHD_HTTP_BAD_REQUEST, "header refused");
  }
  return queue(c, MHD_HTTP_OK, r);
}

static enum MHD_Result redirect(struct MHD_Connection *c, const char *location) {
  struct MHD_Response *r = MHD_create_response_from_buffer(8, (void *)"redirect", MHD_RESPMEM_PERSISTENT);
  if (!r)
    return MHD_NO;
  if (MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, location) != MHD_YES) {
    MHD_destroy_response(r);
    return replyf(c, MHD_HTTP_BAD_REQUEST, "bad location");
  }
  return queue(c, MHD_HTTP_FOUND, r);
}

/* ------------------------------------------- /flaky and /concurrency */

/* The entry named name in table (n entries of size bytes, each starting
 * with its struct slot; open addressing on an FNV-1a hash), created on
 * first use when create; NULL when the table is full (or, without create,
 * when unknown). Called with ctr_mu held. */
static void *slot_get(void *table, size_t n, size_t size, const char *name, bool create) {
  size_t h = 1469598103934665603ull;
  for (const char *p = name; *p; p++)
    h = (h ^ (unsigned char)*p) * 1099511628211ull;
  for (size_t i = 0; i < n; i++) {
    struct slot *e = (struct slot *)((char *)table + (h + i) % n * size);
    if (!e->used) {
      if (!create)
        return NULL;
      e->used = true;
      snprintf(e->name, sizeof e->name, "%s", name);
      return e;
    }
    if (!strcmp(e->name, name))
      return e;
  }
  return NULL;
}

/* The counter named key in table t, created on first use; NULL when the
 * table is full. Called with ctr_mu held. */
static struct counter *counter_get(struct counter *t, const char *key) {
  return slot_get(t, MAX_KEYS, sizeof *t, key, true);
}

static bool valid_key(const char *key) {
  return *key && strlen(key) <= MAX_KEY_LEN && !strchr(key, '/');
}

/* Copy t (or now + seconds) as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"),
 * written by hand so the process locale cannot change the names. */
static void imf_date(time_t t, char *buf, size_t size) {
  static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  struct tm tm;
  gmtime_r(&t, &tm);
  snprintf(buf, size, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
           months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void imf_fixdate(long long seconds, char *buf, size_t size) {
  imf_date(time(NULL) + (time_t)seconds, buf, size);
}

static enum MHD_Result route_flaky(ts_server *s, struct MHD_Connection *c, const char *key) {
  uint64_t fail = qnum(c, "fail", 1, UINT32_MAX), status = 503;
  const char *st = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "status");
  const char *ra = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "retry_after");
  struct counter *e;
  unsigned long n = 0;
  struct MHD_Response *r;
  char body[64], date[64];
  uint64_t k;
  if (!valid_key(key))
    return replyf(c, MHD_HTTP_BAD_REQUEST, "bad key");
  if (st && (!parse_u64(st, &status) || status < 100 || status > 599))
    return replyf(c, MHD_HTTP_BAD_REQUEST, "bad status");
  pthread_mutex_lock(&s->ctr_mu);
  if ((e = counter_get(s->flaky, key))) {
    n = ++e->n;
    e->last_ms = now_ms();
    if (n == 1)
      e->first_ms = e->last_ms;
  }
  pthread_mutex_unlock(&s->ctr_mu);
  if (!e)
    return replyf(c, 507, "too many keys");
  if (n > fail)
    return replyf(c, MHD_HTTP_OK, "ok after %llu", (unsigned long long)fail);
  snprintf(body, sizeof body, "fail %lu", n);
  r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
  if (r && ra) {
    if (!strncmp(ra, "date+", 5) && parse_u64(ra + 5, &k) && k <= 1000000000) {
      imf_fixdate((long long)k, date, sizeof date);
      ra = date;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
  }
  if (r)
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
  return queue(c, (unsigned)status, r);
}

/* /flaky-count/KEY (gap false) or /flaky-gap/KEY (gap true) */
static enum MHD_Result route_flaky_count(ts_server *s, struct MHD_Connection *c, const char *key,
                                         bool gap) {
  struct counter *e;
  long long v = 0;
  if (!valid_key(key))
    return replyf(c, MHD_HTTP_BAD_REQUEST, "bad key");
  pthread_mutex_lock(&s->ctr_mu);
  if ((e = counter_get(s->flaky, key)))
    v = gap ? e->last_ms - e->first_ms : (long long)e->n;
  pthread_mutex_unlock(&s->ctr_mu);
  return e ? replyf(c, MHD_HTTP_OK, "%lld", v) : replyf(c, 507, "too many keys");
}

/* The count drops before the reply is queued, so a client that has its
 * reply never sees its own request still counted. */
static enum MHD_Result route_concurrency(ts_server *s, struct MHD_Connection *c, const char *name) {
  unsigned ms = (unsigned)qnum(c, "ms", 0, MAX_DELAY_MS);
  struct counter *e;
  bool ok;
  if (!valid_key(name))
    return replyf(c, MHD_HTTP_BAD_REQUEST, "bad name");
  pthread_mutex_lock(&s->ctr_mu);
  if ((e = counter_get(s->conc, name)) && ++e->cur > e->max)
    e->max = e->cur;
  pthread_mutex_unlock(&s->ctr_mu);
  if (!e)
    return replyf(c, 507, "too many keys");
  ok = ts_sleep(s, ms);
  pthread_mutex_lock(&s->ctr_mu);
  e->cur--;
  pthread_mutex_unlock(&s->ctr_mu);
  return ok ? replyf(c, MHD_HTTP_OK, "held %u", ms) : MHD_NO;
}

static enum MHD_Result route_concurrency_get(ts_server *s, struct MHD_Connection *c,
                                             const char *name, bool reset) {
  struct counter *e;
  unsigned long max = 0;
  if (!valid_key(name))
    return replyf(c, MHD_HTTP_BAD_REQUEST, "bad name");
  pthread_mutex_lock(&s->ctr_mu);
  if ((e = counter_get(s->conc, name))) {
    if (reset)
      e->max = e->cur; /* 0 when idle */
    max = e->max;
  }
  pthread_mutex_unlock(&s->ctr_mu);
  return e ? replyf(c, MHD_HTTP_OK, "%lu", max) : replyf(c, 507, "too many keys");
}

/* ------------------------------------------------- /cap and /cooldown */

/* The /cap resource name, created on first use when create; NULL when the
 * table is full (or, without create, when unknown). ctr_mu held. */
static struct cap *cap_get(ts_server *s, const char *name, bool create) {
  return slot_get(s->caps, MAX_CAP_NAMES, sizeof *s->caps, name, create);
}

/* The same for /cooldown. */
static struct cooldown *cool_get(ts_server *s, const char *name, bool create) {
  return slot_get(s->cools, MAX_KEYS, sizeof *s->cools, name, create);
}

/* sched=T1:C1,T2:C2,... (T seconds, up to 3 decimals, increasing; C a
 * capacity) into steps; false when malformed. */
static bool parse_sched(const char *str, struct cap_step *steps, unsigned *n) {
  *n = 0;
  while (*str) {
    uint64_t sec = 0, frac = 0, c = 0;
    unsigned digits = 0, fdigits = 0;
    if (*n == CAP_STEPS)
      return false;
    for (; *str >= '0' && *str <= '9' && digits < 6; str++, digits++)
      sec = sec * 10 + (uint64_t)(*str - '0');
    if (!digits)
      return false;
    if (*str == '.') {
      for (str++; *str >= '0' && *str <= '9' && fdigits < 3; str++, fdigits++)
        frac = frac * 10 + (uint64_t)(*str - '0');
      if (!fdigits)
        return false;
      for (; fdigits < 3; fdigits++)
        frac *= 10;
    }
    if (*str++ != ':')
      return false;
    for (digits = 0; *str >= '0' && *str <= '9' && digits < 7; str++, digits++)
      c = c * 10 + (uint64_t)(*str - '0');
    if (!digits || c > CAP_MAX || (*str && *str != ','))
      return false;
    if (*str == ',' && !*++str)
      return false;
    steps[*n].at_ms = (long long)(sec * 1000 + frac);
    steps[*n].c = (unsigned long)c;
    if (*n && steps[*n].at_ms <= steps[*n - 1].at_ms)
      return false;
    (*n)++;
  }
  return true;
}

/* The capacity of e at monotonic time now. ctr_mu held. */
static unsigned long cap_limit(const struct cap *e, long long now) {
  unsigned long c = e->c;
  for (unsigned i = 0; i < e->nsteps && now - e->first_ms >= e->steps[i].at_ms; i++)
    c = e->steps[i].c;
  return c;
}

static void cap_enter(struct cap *e) {
  if (++e->inflight > e->max_inflight)
    e->max_inflight = e->inflight;
}

/* Give free slots to the queue's head, in order. ctr_mu held. */
static void cap_grant(struct cap *e, long long now) {
  unsigned long limit = cap_limit(e, now);
  while (e->head && e->inflight < limit) {
    struct cap_waiter *w = e->head;
    if (!(e->head = w->next))
      e->tail = NULL;
    w->next = NULL;
    w->granted = true;
    cap_enter(e);
    pthread_cond_signal(&w->cv);
  }
}

/* Take w out of e's queue (it gave up). ctr_mu held. */
static void cap_unqueue(struct cap *e, struct cap_waiter *w) {
  struct cap_waiter **pp = &e->head, *prev = NULL;
  while (*pp && *pp != w) {
    prev = *pp;
    pp = &(*pp)->next;
  }
  if (!*pp)
    return;
  *pp = w->next;
  if (e->tail == w)
    e->tail = prev;
}

/* Wait in e's queue for a slot: true once granted, false after
 * CAP_QUEUE_MS or when the server stops. ctr_mu held (the wait releases it). */
static bool cap_wait(ts_server *s, struct cap *e) {
  struct cap_waiter w = {.granted = false, .next = NULL};
  long long deadline = now_ms() + CAP_QUEUE_MS;
  if (pthread_cond_init(&w.cv, &s->cond_attr) != 0)
    return false;
  /* w is on this stack only while queued: it leaves the queue (granted,
   * or cap_unqueue below) before this returns */
  if (e->tail) {
    e->tail->next = &w;
  } else {
    // cppcheck-suppress autoVariables
    e->head = &w;
  }
  // cppcheck-suppress autoVariables
  e->tail = &w;
  while (!w.granted) {
    long long now = now_ms(), left = deadline - now;
    struct timespec ts;
    if (left <= 0 || atomic_load(&s->stopping))
      break;
    if (left > CAP_SLICE_MS)
      left = CAP_SLICE_MS;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += left / 1000;
    ts.tv_nsec += (left % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&w.cv, &s->ctr_mu, &ts);
    if (!w.granted) /* a sched= step may have raised the capacity */
      cap_grant(e, now_ms());
  }
  if (!w.granted)
    cap_unqueue(e, &w);
  pthread_cond_destroy(&w.cv);
  return w.granted;
}

/* A reply of status with "Retry-After: ra" when ra is not NULL ("date+K":
 * the IMF-fixdate of now + K seconds, as /flaky). */
static enum MHD_Result reply_retry_after(struct MHD_Connection *c, unsigned status,
                                         const char *body, const char *ra) {
  struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body,
                                                           MHD_RESPMEM_MUST_COPY);
  char date[64];
  uint64_t k;
  if (r && ra) {
    if (!strncmp(ra, "date+", 5) && parse_u64(ra + 5, &k) && k <= 1000000000) {
      imf_fixdate((long long)k, date, sizeof date);
      ra = date;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
  }
  if (r)
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
  return queue(c, status, r);
}

/* /cap/NAME?c=C&ms=MS&mode=queue|shed&sched=T:C,...&ra=S */
static enum MHD_Result route_cap(ts_server *s, struct MHD_Connection *c, const char *name) {
  unsigned ms = (unsigned)qnum(c, "ms", 0, MAX_DELAY_MS);
  unsigned long cap = (unsigned long)qnum(c, "c", 1, CAP_MAX);
  const char *mode = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "mode");
  const char *sched = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "sched");
  const char *ra = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "ra");
  struct cap_step steps[CAP_STEPS] = {{0, 0}};
  unsigned nsteps = 0;
  bool shed_mode, admitted;
  struct cap *e;
  long long now;
  if (!valid_key(name))
    return replyf(c, MHD_HTTP_BAD_REQUEST, "bad name");
  if (mode && strcmp(mode, "queue") && strcmp(mode, "shed"))
    return replyf(c, MHD_HTTP_BAD_REQUEST, "bad mode");
  shed_mode = mode && !strcmp(mode, "shed");
  if (sched && !parse_sched(sched, steps, &nsteps))
    return replyf(c, MHD_HTTP_BAD_REQUEST, "bad sched");
  pthread_mutex_lock(&s->ctr_mu);
  if (!(e = cap_get(s, name, true))) {
    pthread_mutex_unlock(&s->ctr_mu);
    return replyf(c, 507, "too many names");
  }
  now = now_ms();
  if (!e->started) {
    e->started = true;
    e->first_ms = now;
  }
  e->c = cap;
  e->nsteps = nsteps;
  memcpy(e->steps, steps, nsteps * sizeof steps[0]);
  long long sec = (now - e->first_ms) / 1000;
  if (sec < CAP_SECONDS) {
    e->starts[sec]++;
    if ((unsigned)sec >= e->nstarts)
      e->nstarts = (unsigned)sec + 1;
  }
  cap_grant(e, now); /* a raised capacity first serves those waiting */
  if (!e->head && e->inflight < cap_limit(e, now)) {
    cap_enter(e);
    admitted = true;
  } else {
    admitted = !shed_mode && cap_wait(s, e);
    if (!admitted)
      e->shed++;
  }
  pthread_mutex_unlock(&s->ctr_mu);
  if (!admitted) {
    if (shed_mode)
      return reply_retry_after(c, MHD_HTTP_TOO_MANY_REQUESTS, "busy", ra);
    return atomic_load(&s->stopping) ? MHD_NO
                                     : replyf(c, MHD_HTTP_SERVICE_UNAVAILABLE, "queue timeout");
  }
  bool ok = ts_sleep(s, ms);
  /* out of flight before the reply is queued, as /concurrency */
  pthread_mutex_lock(&s->ctr_mu);
  e->inflight--;
  if (ok)
    e->served++;
  cap_grant(e, now_ms());
  pthread_mutex_unlock(&s->ctr_mu);
  return ok ? reply(c, MHD_HTTP_OK, "text/plain", "ok", 2) : MHD_NO;
}

/* /cap-stats/NAME (JSON) or /cap-reset/NAME */
static enum MHD_Result route_cap_get(ts_server *s, struct MHD_Connection *c, const char *name,
                                     bool reset) {
  char buf[128 + CAP_SECONDS * 11];
  size_t len = 0;
  struct cap *e;
  if (!valid_key(name))
    return replyf(c, MHD_HTTP_BAD_REQUEST, "bad name");
  pthread_mutex_lock(&s->ctr_mu);
  e = cap_get(s, name, false);
  if (reset) {
    if (e) { /* those in flight or queued stay so */
      e->served = e->shed = 0;
      e->max_inflight = e->inflight;
      e->started = false;
      e->nstarts = 0;
      memset(e->starts, 0, sizeof e->starts);
    }
    pthread_mutex_unlock(&s->ctr_mu);
    return replyf(c, MHD_HTTP_OK, "reset");
  }
  len += (size_t)snprintf(buf, sizeof buf, "{\"served\":%lu,\"shed\":%lu,\"max_inflight\":%lu,\"starts\":[",
                          e ? e->served : 0, e ? e->shed : 0, e ? e->max_inflight : 0);
  for (unsigned i = 0; e && i < e->nstarts; i++)
    len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%lu", i ? "," : "",
                            (unsigned long)e->starts[i]);
  pthread_mutex_unlock(&s->ctr_mu);
  len += (size_t)snprintf(buf + len, sizeof buf - len, "]}");
  return reply(c, MHD_HTTP_OK, "application/json", buf, len);
}

/* /cooldown/NAME?after=K&secs=S&date=1&ms=MS */
static enum MHD_Result route_cooldown(ts_server *s, struct MHD_Connection *c, const char *name) {
  uint64_t after_k = qnum(c, "after", 0, UINT32_MAX), secs = qnum(c, "secs", 1, COOL_MAX_SECS);
  bool date = qnum(c, "date", 0, 1) == 1;
  struct cooldown *e;
  char ra[64] = "";
  bool ok;
  if (!valid_key(name))
    return replyf(c, MHD_HTTP_BAD_REQUEST, "bad name");
  /* held first, so the answer is decided when it is sent */
  if (!ts_sleep(s, (unsigned)qnum(c, "ms", 0, MAX_DELAY_MS)))
    return MHD_NO;
  pthread_mutex_lock(&s->ctr_mu);
  if (!(e = cool_get(s, name, true))) {
    pthread_mutex_unlock(&s->ctr_mu);
    return replyf(c, 507, "too many names");
  }
  long long now = now_ms();
  if (!e->opened && e->ok >= after_k) {
    /* the (K+1)th: open the window; an HTTP-date names a whole second,
     * so the window ends at that second, not S s from now */
    e->opened = true;
    e->date = date;
    if (date) {
      struct timespec rt;
      clock_gettime(CLOCK_REALTIME, &rt);
      e->end_date = rt.tv_sec + (time_t)secs;
      e->end_ms = now + (long long)secs * 1000 - rt.tv_nsec / 1000000;
    } else {
      e->end_ms = now + (long long)secs * 1000;
    }
    e->rejected++;
    ok = false;
  } else if (e->opened && now < e->end_ms) {
    e->rejected++;
    e->in_window++;
    ok = false;
  } else {
    e->ok++;
    ok = true;
  }
  if (!ok) { /* the window's end: its date, or the whole seconds left */
    if (e->date)
      imf_date(e->end_date, ra, sizeof ra);
    else
      snprintf(ra, sizeof ra, "%lld", (e->end_ms - now + 999) / 1000);
  }
  pthread_mutex_unlock(&s->ctr_mu);
  if (ok)
    return reply(c, MHD_HTTP_OK, "text/plain", "ok", 2);
  return reply_retry_after(c, MHD_HTTP_TOO_MANY_REQUESTS, "cooling down", ra);
}

/* /cooldown-stats/NAME (JSON) or /cooldown-reset/NAME */
static enum MHD_Result route_cooldown_get(ts_server *s, struct MHD_Connection *c,
                                          const char *name, bool reset) {
  struct cooldown *e;
  unsigned long ok = 0, rejected = 0, in_window = 0;
  if (!valid_key(name))
    return replyf(c, MHD_HTTP_BAD_REQUEST, "bad name");
  pthread_mutex_lock(&s->ctr_mu);
  if ((e = cool_get(s, name, false))) {
    if (reset) {
      e->opened = false;
      e->ok = e->rejected = e->in_window = 0;
    }
    ok = e->ok, rejected = e->rejected, in_window = e->in_window;
  }
  pthread_mutex_unlock(&s->ctr_mu);
  if (reset)
    return replyf(c, MHD_HTTP_OK, "reset");
  char buf[128];
  int len = snprintf(buf, sizeof buf, "{\"ok\":%lu,\"rejected\":%lu,\"in_window\":%lu}", ok,
                     rejected, in_window);
  return reply(c, MHD_HTTP_OK, "application/json", buf, (size_t)len);
}

static enum MHD_Result route(ts_server *s, struct MHD_Connection *c, const char *url,
                             const char *method, const struct req *rq) {
  static const char utf8[] = "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93"; /* héllo wörld ✓ */
  const char *rest;
  uint64_t n;
  char loc[64];

  if (!strcmp(url, "/") || !strcmp(url, "/hello"))
    return reply(c, MHD_HTTP_OK, "text/plain", "hello", 5);
  if ((rest = after(url, "/delay/"))) {
    if (!parse_u64(rest, &n))
      return replyf(c, MHD_HTTP_BAD_REQUEST, "bad delay");
    if (n > MAX_DELAY_MS)
      n = MAX_DELAY_MS;
    if (!ts_sleep(s, (unsigned)n))
      return MHD_NO;
    return replyf(c, MHD_HTTP_OK, "delayed %llu", (unsigned long long)n);
  }
  if ((rest = after(url, "/status/"))) {
    if (!parse_u64(rest, &n) || n < 100 || n > 599)
      return replyf(c, MHD_HTTP_BAD_REQUEST, "bad status");
    return replyf(c, (unsigned)n, "status %llu", (unsigned long long)n);
  }
  if ((rest = after(url, "/bytes/")) || (rest = after(url, "/binary/"))) {
    bool az = url[1] == 'b' && url[2] == 'y';
    const char *chunked = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "chunked");
    if (!parse_u64(rest, &n))
      return replyf(c, MHD_HTTP_BAD_REQUEST, "bad size");
    if (n > MAX_BYTES)
      n = MAX_BYTES;
    return reply_stream(c, s, az ? ST_AZ : ST_BIN, n,
                        chunked && !strcmp(chunked, "1") ? MHD_SIZE_UNKNOWN : n,
                        az ? "text/plain" : "application/octet-stream", 0);
  }
  if (!strcmp(url, "/utf8"))
    return reply(c, MHD_HTTP_OK, "text/plain; charset=utf-8", utf8, sizeof utf8 - 1);
  if ((rest = after(url, "/text/")))
    return reply(c, MHD_HTTP_OK, "text/plain", rest, strlen(rest));
  if ((rest = after(url, "/redirect/"))) {
    if (!parse_u64(rest, &n))
      return replyf(c, MHD_HTTP_BAD_REQUEST, "bad count");
    if (n == 0)
      return reply(c, MHD_HTTP_OK, "text/plain", "redirected", 10);
    snprintf(loc, sizeof loc, "/redirect/%llu", (unsigned long long)(n - 1));
    return redirect(c, loc);
  }
  if (!strcmp(url, "/redirect-loop"))
    return redirect(c, "/redirect-loop");
  if (!strcmp(url, "/redirect-to")) {
    const char *to = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "url");
    if (!to || !*to)
      return replyf(c, MHD_HTTP_BAD_REQUEST, "missing url");
    return redirect(c, to);
  }
  if (!strcmp(url, "/echo") || after(url, "/echo/"))
    return route_echo(c, url, method, rq);
  /* auth routes (curl-req) */
  if ((rest = after(url, "/basic-auth/")))
    return route_basic_auth(c, rest);
  if ((rest = after(url, "/digest-auth/")))
    return route_digest_auth(c, rest);
  if ((rest = after(url, "/bearer/")))
    return route_bearer(c, rest);
  if (!strcmp(url, "/drip")) {
    n = qnum(c, "bytes", 10, MAX_BYTES);
    return reply_stream(c, s, ST_DRIP, n, n, "text/plain",
                        (unsigned)qnum(c, "interval_ms", 100, MAX_DELAY_MS));
  }
  if (!strcmp(url, "/gzip"))
    return route_gzip(c);
  if (!strcmp(url, "/headers"))
    return route_headers(c);
  if (!strcmp(url, "/set-header"))
    return route_set_header(c);
  if (!strcmp(url, "/close-mid-body")) {
    n = qnum(c, "bytes", 1000, MAX_BYTES);
    return reply_stream(c, s, ST_CUT, n, n * 2, "text/plain", 0);
  }
  if (!strcmp(url, "/count"))
    return replyf(c, MHD_HTTP_OK, "%lu", atomic_load(&s->requests));
  if ((rest = after(url, "/flaky/")))
    return route_flaky(s, c, rest);
  if ((rest = after(url, "/flaky-count/")))
    return route_flaky_count(s, c, rest, false);
  if ((rest = after(url, "/flaky-gap/")))
    return route_flaky_count(s, c, rest, true);
  if ((rest = after(url, "/concurrency/")))
    return route_concurrency(s, c, rest);
  if ((rest = after(url, "/concurrency-max/")))
    return route_concurrency_get(s, c, rest, false);
  if ((rest = after(url, "/concurrency-reset/")))
    return route_concurrency_get(s, c, rest, true);
  if ((rest = after(url, "/cap/")))
    return route_cap(s, c, rest);
  if ((rest = after(url, "/cap-stats/")))
    return route_cap_get(s, c, rest, false);
  if ((rest = after(url, "/cap-reset/")))
    return route_cap_get(s, c, rest, true);
  if ((rest = after(url, "/cooldown/")))
    return route_cooldown(s, c, rest);
  if ((rest = after(url, "/cooldown-stats/")))
    return route_cooldown_get(s, c, rest, false);
  if ((rest = after(url, "/cooldown-reset/")))
    return route_cooldown_get(s, c, rest, true);
  /* batch-out: typed bodies (JSON values, saved names) */
  if ((rest = after(url, "/json/"))) {
    char body[192];
    if (!parse_u64(rest, &n))
      return replyf(c, MHD_HTTP_BAD_REQUEST, "bad number");
    int len = snprintf(body, sizeof body,
                       "{\"id\":%llu,\"name\":\"item %llu\",\"tags\":[\"a\",\"b\"],"
                       "\"price\":{\"amount\":%llu.5,\"currency\":\"EUR\"}}",
                       (unsigned long long)n, (unsigned long long)n, (unsigned long long)n);
    return reply(c, n % 7 == 6 ? MHD_HTTP_NOT_FOUND : MHD_HTTP_OK, "application/json", body,
                 (size_t)len);
  }
  if (!strcmp(url, "/typed") || (rest = after(url, "/typed/"))) {
    const char *type = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "type");
    const char *body = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "body");
    const char *disp = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "disposition");
    struct MHD_Response *r = MHD_create_response_from_buffer(
        body ? strlen(body) : 0, (void *)(body ? body : ""), MHD_RESPMEM_MUST_COPY);
    if (r && type)
      MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (r && disp)
      MHD_add_response_header(r, "Content-Disposition", disp);
    return queue(c, (unsigned)qnum(c, "status", 200, 599), r);
  }
  return reply(c, MHD_HTTP_NOT_FOUND, "text/plain", "not found", 9);
}

/* ------------------------------------------------------- MHD callbacks */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls) {
  ts_server *s = cls;
  struct req *rq = *req_cls;
  if (!rq) {                                /* first call: headers only */
    if (!(rq = calloc(1, sizeof *rq)))
      return MHD_NO;
    *req_cls = rq;
    return MHD_YES;
  }
  if (*upload_data_size) {                  /* body slice: keep it for /echo, drop otherwise */
    if (!strcmp(url, "/echo") || after(url, "/echo/"))
      req_append(rq, upload_data, *upload_data_size);
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (!ts_sleep(s, s->latency_ms) ||
      !ts_sleep(s, (unsigned)qnum(c, "delay", 0, MAX_DELAY_MS)))
    return MHD_NO;
  atomic_fetch_add(&s->requests, 1);
  if (!strcmp(url, "/version"))             /* the request line's version, as sent */
    return replyf(c, MHD_HTTP_OK, "%s", version);
  return route(s, c, url, method, rq);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe) {
  struct req *rq = *req_cls;
  if (rq) {
    free(rq->body);
    free(rq);
    *req_cls = NULL;
  }
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
  ts_server *s = cls;
  if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
    atomic_fetch_add(&s->connections, 1);
    atomic_fetch_add(&s->open_connections, 1);
  } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
    atomic_fetch_sub(&s->open_connections, 1);
  }
}

/* --------------------------------------------------------- raw fault port */

/* 1: fd readable (or hung up), 0: timeout, -1: server stopping */
static int raw_wait(ts_server *s, int fd, long long ms) {
  struct pollfd p[2] = {{.fd = s->stop_pipe[0], .events = POLLIN}, {.fd = fd, .events = POLLIN}};
  int rc;
  if (ms < 0)
    ms = 0;
  do {
    rc = poll(p, 2, (int)ms);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0 || p[0].revents)
    return -1;
  return rc > 0 ? 1 : 0;
}

static bool send_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    p += n;
    len -= (size_t)n;
  }
  return true;
}

/* Wait up to ms for the peer to close or the server to stop; false if either happened. */
static bool raw_idle(ts_server *s, int fd, long long ms) {
  long long end = now_ms() + ms;
  char sink[4096];
  for (;;) {
    long long left = end - now_ms();
    int w;
    ssize_t n;
    if (left <= 0)
      return true;
    if ((w = raw_wait(s, fd, left)) < 0)
      return false;
    if (w == 0)
      return true;
    n = recv(fd, sink, sizeof sink, 0);
    if (n == 0 || (n < 0 && errno != EINTR))
      return false;
  }
}

static void raw_serve(ts_server *s, int fd, const char *path) {
  static const char slow[] = "X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
  static const char not_found[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  if (!strcmp(path, "/reset")) {
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n";
    char body[1000];
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    memset(body, 'r', sizeof body);
    if (send_all(fd, head, sizeof head - 1))
      send_all(fd, body, sizeof body);
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg); /* close() now sends RST */
  } else if (!strcmp(path, "/close")) {
    /* nothing: the caller closes */
  } else if (!strcmp(path, "/status-lines")) {
    /* a head of 400 KB made of header lines that start as status lines
     * do, so a client that resets its header count on each never stops */
    static const char status[] = "HTTP/1.1 200 OK\r\n";
    char line[100];
    memset(line, 'h', sizeof line);
    memcpy(line, "HTTP/1.1: ", 10); /* a colon, so it is a header line */
    line[sizeof line - 2] = '\r', line[sizeof line - 1] = '\n';
    if (!send_all(fd, status, sizeof status - 1))
      return;
    for (int i = 0; i < 4000; i++)
      if (!send_all(fd, line, sizeof line))
        return;
    static const char end[] = "Content-Length: 0\r\nConnection: close\r\n\r\n";
    send_all(fd, end, sizeof end - 1);
  } else if (!strcmp(path, "/redirect-body-drip")) {
    /* a 302 with a 4 KiB body, to a drip of 10 bytes 5 a second on the
     * HTTP port: a stall check that takes the second request's fresh byte
     * count for a drop sees a stall */
    char head[256], body[4096];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:%u/drip?bytes=10&"
                     "interval_ms=200\r\nContent-Length: %zu\r\n\r\n",
                     (unsigned)s->port, sizeof body);
    memset(body, 'b', sizeof body);
    if (send_all(fd, head, (size_t)n))
      send_all(fd, body, sizeof body);
  } else if (!strcmp(path, "/repeated-headers")) {
    /* names sent twice, in two cases, and a name that is not UTF-8 */
    static const char head[] = "HTTP/1.1 200 OK\r\nSet-Cookie: a=1; Path=/\r\n"
                               "Vary: Accept\r\nset-cookie: b=2\r\nVARY: Origin\r\n"
                               "X-Latin1-\xe9: caf\xe9\r\nContent-Length: 2\r\n"
                               "Connection: close\r\n\r\nok";
    send_all(fd, head, sizeof head - 1);
  } else if (!strcmp(path, "/garbage")) {
    static const char junk[] = "this is not http\r\n\r\n";
    send_all(fd, junk, sizeof junk - 1);
  } else if (!strcmp(path, "/hang")) {
    raw_idle(s, fd, MAX_DELAY_MS);
  } else if (!strcmp(path, "/slow-headers")) {
    static const char status[] = "HTTP/1.1 200 OK\r\n";
    if (!send_all(fd, status, sizeof status - 1))
      return;
    for (unsigned i = 0; i < MAX_DELAY_MS / 100; i++) {
      if (!raw_idle(s, fd, 100) || !send_all(fd, &slow[i % (sizeof slow - 1)], 1))
        return;
    }
  } else if (!strcmp(path, "/one-name-repeated")) {
    /* 30,000 lines of one header name (240 KB, under a 256 KiB cap): a
     * client that joins repeated values by copying the growing string
     * once per line does 30,000 copies of up to 90 KB */
    static const char status[] = "HTTP/1.1 200 OK\r\n";
    static const char end[] = "Content-Length: 2\r\nConnection: close\r\n\r\nok";
    char lines[8 * 1000];
    for (size_t i = 0; i < sizeof lines; i += 8)
      memcpy(lines + i, "X-A: v\r\n", 8);
    if (!send_all(fd, status, sizeof status - 1))
      return;
    for (int i = 0; i < 30; i++)
      if (!send_all(fd, lines, sizeof lines))
        return;
    send_all(fd, end, sizeof end - 1);
  } else {
    send_all(fd, not_found, sizeof not_found - 1);
  }
}

static void *raw_conn_main(void *arg) {
  struct raw_conn *rc = arg;
  ts_server *s = rc->s;
  long long end = now_ms() + RAW_RECV_MS;
  char *req = malloc(RAW_MAX_REQ + 1), *path, *stop;
  size_t len = 0;
  if (!req)
    goto done;
  /* read the request head: up to the blank line, RAW_MAX_REQ or RAW_RECV_MS */
  while (len < RAW_MAX_REQ) {
    ssize_t n;
    if (raw_wait(s, rc->fd, end - now_ms()) <= 0)
      goto done;
    n = recv(rc->fd, req + len, RAW_MAX_REQ - len, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      goto done;
    len += (size_t)n;
    if (memmem(req, len, "\r\n\r\n", 4) || memmem(req, len, "\n\n", 2))
      break;
  }
  req[len] = '\0';
  /* "METHOD /path?query HTTP/x.y" */
  if (!(path = memchr(req, ' ', len)))
    goto done;
  path++;
  stop = path + strcspn(path, " ?\r\n");
  *stop = '\0';
  raw_serve(s, rc->fd, path);
done:
  free(req);
  close(rc->fd);
  atomic_store(&rc->done, true);
  return NULL;
}

/* Join finished connection threads (all of them when stopping). */
static void raw_reap(ts_server *s, bool all) {
  struct raw_conn **pp = &s->raw_conns;
  while (*pp) {
    struct raw_conn *rc = *pp;
    if (all || atomic_load(&rc->done)) {
      pthread_join(rc->tid, NULL);
      *pp = rc->next;
      free(rc);
    } else {
      pp = &rc->next;
    }
  }
}

static void *raw_accept_main(void *arg) {
  ts_server *s = arg;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  for (;;) {
    struct pollfd p[2] = {{.fd = s->stop_pipe[0], .events = POLLIN}, {.fd = s->raw_fd, .events = POLLIN}};
    struct raw_conn *rc;
    int n = poll(p, 2, 1000), fd;
    raw_reap(s, false);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 || p[0].revents)
      break;
    if (!(p[1].revents & POLLIN))
      continue;
    if ((fd = accept4(s->raw_fd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
      if (errno != EINTR && errno != ECONNABORTED && errno != EAGAIN)
        poll(NULL, 0, 10); /* EMFILE and friends: do not spin */
      continue;
    }
    if (!(rc = calloc(1, sizeof *rc))) {
      close(fd);
      continue;
    }
    rc->fd = fd;
    rc->s = s;
    atomic_init(&rc->done, false);
    if (pthread_create(&rc->tid, &attr, raw_conn_main, rc) != 0) {
      close(fd);
      free(rc);
      continue;
    }
    rc->next = s->raw_conns;
    s->raw_conns = rc;
  }
  pthread_attr_destroy(&attr);
  return NULL;
}

/* ------------------------------------------------------------- lifecycle */

/* Many concurrent connections need many fds; raise the soft limit if allowed. */
static void raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 16384 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max < 16384 ? rl.rlim_max : 16384;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

static int raw_listen(ts_server *s, const struct sockaddr *sa, socklen_t sl) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  int one = 1;
  memcpy(&ss, sa, sl);
  if (ss.ss_family == AF_INET)
    ((struct sockaddr_in *)&ss)->sin_port = 0;
  else
    ((struct sockaddr_in6 *)&ss)->sin6_port = 0;
  if ((s->raw_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
    return -1;
  setsockopt(s->raw_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (ss.ss_family == AF_INET6)
    setsockopt(s->raw_fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (bind(s->raw_fd, (struct sockaddr *)&ss, sl) < 0 || listen(s->raw_fd, 1024) < 0 ||
      getsockname(s->raw_fd, (struct sockaddr *)&ss, &len) < 0)
    return -1;
  s->raw_port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                              : ((struct sockaddr_in6 *)&ss)->sin6_port);
  return 0;
}

/* Whole file at path as a NUL-terminated string (for MHD's PEM options). */
static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  long len;
  if (!f)
    return NULL;
  if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && len <= MAX_TLS_FILE &&
      fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)len + 1))) {
    if (fread(buf, 1, (size_t)len, f) == (size_t)len) {
      buf[len] = '\0';
    } else {
      free(buf);
      buf = NULL;
    }
  }
  fclose(f);
  return buf;
}

ts_server *ts_start(const ts_options *opts) {
  const char *bind_addr = opts && opts->bind && strcmp(opts->bind, "localhost") ? opts->bind : "127.0.0.1";
  uint16_t port = opts ? opts->port : 0;
  struct sockaddr_storage ss;
  struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
  socklen_t sl;
  unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;
  const union MHD_DaemonInfo *info;
  ts_server *s = calloc(1, sizeof *s);

  if (!s) {
    fprintf(stderr, "ts_start: out of memory\n");
    return NULL;
  }
  s->raw_fd = s->stop_pipe[0] = s->stop_pipe[1] = -1;
  s->latency_ms = opts ? opts->latency_ms : 0;
  if (pthread_mutex_init(&s->ctr_mu, NULL) != 0) {
    fprintf(stderr, "ts_start: pthread_mutex_init failed\n");
    goto fail;
  }
  s->ctr_mu_init = true;
  if (pthread_condattr_init(&s->cond_attr) != 0) {
    fprintf(stderr, "ts_start: pthread_condattr_init failed\n");
    goto fail;
  }
  s->cond_attr_init = true;
  pthread_condattr_setclock(&s->cond_attr, CLOCK_MONOTONIC);
  atomic_init(&s->stopping, false);
  if (!(s->flaky = calloc(MAX_KEYS, sizeof *s->flaky)) ||
      !(s->conc = calloc(MAX_KEYS, sizeof *s->conc)) ||
      !(s->caps = calloc(MAX_CAP_NAMES, sizeof *s->caps)) ||
      !(s->cools = calloc(MAX_KEYS, sizeof *s->cools))) {
    fprintf(stderr, "ts_start: out of memory\n");
    goto fail;
  }
  if (opts && (opts->tls_cert_file || opts->tls_key_file)) {
    if (!opts->tls_cert_file || !opts->tls_key_file) {
      fprintf(stderr, "ts_start: TLS needs both a certificate and a key file\n");
      goto fail;
    }
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
      fprintf(stderr, "ts_start: libmicrohttpd was built without TLS\n");
      goto fail;
    }
    if (!(s->tls_cert = read_file(opts->tls_cert_file)) ||
        !(s->tls_key = read_file(opts->tls_key_file))) {
      fprintf(stderr, "ts_start: cannot read %s\n",
              s->tls_cert ? opts->tls_key_file : opts->tls_cert_file);
      goto fail;
    }
    flags |= MHD_USE_TLS;
  }
  atomic_init(&s->connections, 0);
  atomic_init(&s->open_connections, 0);
  atomic_init(&s->streamed, 0);
  atomic_init(&s->requests, 0);
  for (size_t i = 0; i < sizeof s->az; i++)
    s->az[i] = (char)('a' + i % 26);
  for (size_t i = 0; i < sizeof s->bin; i++)
    s->bin[i] = (char)((i * 7 + 3) & 0xff);
  /* a test server's nonces need no secrecy, only to differ per run */
  for (size_t i = 0; i < sizeof s->digest_random; i++)
    s->digest_random[i] = (char)((now_ms() >> (i % 8)) ^ (long long)i * 31);

  memset(&ss, 0, sizeof ss);
  if (inet_pton(AF_INET, bind_addr, &sin->sin_addr) == 1) {
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    sl = sizeof *sin;
    snprintf(s->host, sizeof s->host, "%s",
             sin->sin_addr.s_addr == htonl(INADDR_ANY) ? "127.0.0.1" : bind_addr);
  } else if (inet_pton(AF_INET6, bind_addr, &sin6->sin6_addr) == 1) {
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    sl = sizeof *sin6;
    flags |= MHD_USE_IPv6;
    snprintf(s->host, sizeof s->host, "[%s]",
             IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr) ? "::1" : bind_addr);
  } else {
    fprintf(stderr, "ts_start: bind address '%s' is not a numeric IPv4/IPv6 address\n", bind_addr);
    goto fail;
  }
  /* poll(), not select(): fds above FD_SETSIZE under many connections */
  if (MHD_is_feature_supported(MHD_FEATURE_POLL) == MHD_YES)
    flags |= MHD_USE_POLL;

  raise_nofile();

  if (pipe2(s->stop_pipe, O_CLOEXEC) < 0 || raw_listen(s, (struct sockaddr *)&ss, sl) < 0) {
    fprintf(stderr, "ts_start: raw fault port on %s: %s\n", bind_addr, strerror(errno));
    goto fail;
  }

  /* MHD reads the PEM strings at start; they stay ours until ts_stop */
  struct MHD_OptionItem tls_opts[] = {
    {MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert},
    {MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key},
    {MHD_OPTION_END, 0, NULL},
  };
  errno = 0;
  s->mhd = MHD_start_daemon(flags, port, NULL, NULL, on_request, s,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)4096,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, POOL_SIZE,
                            MHD_OPTION_THREAD_STACK_SIZE, (size_t)1 << 20,
                            MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
                            MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            /* /digest-auth: nonces signed with this */
                            MHD_OPTION_DIGEST_AUTH_RANDOM, sizeof s->digest_random, s->digest_random,
                            MHD_OPTION_NONCE_NC_SIZE, (unsigned)1024,
                            MHD_OPTION_ARRAY, s->tls_cert ? tls_opts : tls_opts + 2,
                            MHD_OPTION_END);
  if (!s->mhd) {
    fprintf(stderr, "ts_start: cannot start HTTP server on %s port %u: %s\n", bind_addr,
            (unsigned)port, errno ? strerror(errno) : "MHD_start_daemon failed");
    goto fail;
  }
  if (!(info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT)) || !info->port) {
    fprintf(stderr, "ts_start: cannot read the bound port\n");
    goto fail;
  }
  s->port = info->port;

  if (pthread_create(&s->raw_thread, NULL, raw_accept_main, s) != 0) {
    fprintf(stderr, "ts_start: cannot start the raw accept thread\n");
    goto fail;
  }
  s->raw_started = true;
  return s;
fail:
  ts_stop(s);
  return NULL;
}

void ts_stop(ts_server *s) {
  if (!s)
    return;
  /* wake every sleeper first so MHD can join its connection threads (the
   * /cap waiters look at stopping every CAP_SLICE_MS) */
  atomic_store(&s->stopping, true);
  if (s->stop_pipe[1] >= 0) {
    while (write(s->stop_pipe[1], "x", 1) < 0 && errno == EINTR) {
    }
  }
  if (s->mhd)
    MHD_stop_daemon(s->mhd);
  if (s->raw_started)
    pthread_join(s->raw_thread, NULL);
  raw_reap(s, true);
  if (s->raw_fd >= 0)
    close(s->raw_fd);
  if (s->stop_pipe[0] >= 0) {
    close(s->stop_pipe[0]);
    close(s->stop_pipe[1]);
  }
  if (s->ctr_mu_init)
    pthread_mutex_destroy(&s->ctr_mu);
  if (s->cond_attr_init)
    pthread_condattr_destroy(&s->cond_attr);
  free(s->flaky);
  free(s->conc);
  free(s->caps);
  free(s->cools);
  free(s->tls_cert);
  free(s->tls_key);
  free(s);
}

uint16_t ts_port(const ts_server *s) {
  return s->port;
}

uint16_t ts_raw_port(const ts_server *s) {
  return s->raw_port;
}

unsigned long ts_connections(const ts_server *s) {
  return atomic_load(&((ts_server *)s)->connections);
}

long ts_open_connections(const ts_server *s) {
  return atomic_load(&((ts_server *)s)->open_connections);
}

unsigned long long ts_bytes_streamed(const ts_server *s) {
  return atomic_load(&((ts_server *)s)->streamed);
}

unsigned long ts_requests(const ts_server *s) {
  return atomic_load(&((ts_server *)s)->requests);
}

void ts_reset_counters(ts_server *s) {
  atomic_store(&s->connections, 0);
  atomic_store(&s->requests, 0);
}

char *ts_url(const ts_server *s, const char *path, char *buf, size_t size) {
  snprintf(buf, size, "%s://%s:%u%s", s->tls_cert ? "https" : "http", s->host,
           (unsigned)s->port, path ? path : "");
  return buf;
}
